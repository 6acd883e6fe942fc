//! EC2's query protocol: `POST /` with a form body `Action=...&Version=2016-11-15&...`;
//! answers in EC2's XML, errors as `<Response><Errors><Error><Code>` (throttling is
//! RequestLimitExceeded, HTTP 503). Security groups, their rules and network interfaces.

use std::collections::BTreeMap;

use emulator_kit::paging::{indexed, page};
use emulator_kit::{AwsError, Protocol, Request, Route, xml_escape as escape};

use super::{Direction, Peer, Rule, SecurityGroup, State, UnknownRule};
use crate::{ACCOUNT_ID, REGION};

pub(super) fn route(request: &Request) -> Route {
    Route::new(request.form().remove("Action").unwrap_or_default(), "ec2", Protocol::Ec2Query)
}

fn error(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(code, message)
}

fn group_not_found(id: &str) -> AwsError {
    error("InvalidGroup.NotFound", format!("The security group '{id}' does not exist"))
}

pub(super) fn call(state: &mut State, route: &Route, request: &Request) -> Result<String, AwsError> {
    let params = Params(request.form());
    match route.operation.as_str() {
        "DescribeSecurityGroups" => describe_security_groups(state, &params),
        "RevokeSecurityGroupIngress" => revoke(state, &params, Direction::Ingress),
        "RevokeSecurityGroupEgress" => revoke(state, &params, Direction::Egress),
        "DeleteSecurityGroup" => delete_security_group(state, &params),
        "DescribeNetworkInterfaces" => describe_network_interfaces(state, &params),
        "" => Err(error("MissingAction", "The request must contain the parameter Action")),
        action => Err(error("InvalidAction", format!("The action {action} is not valid for this web service."))),
    }
}

/// The decoded form of an EC2 query request.
struct Params(BTreeMap<String, String>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `prefix.1`, `prefix.2`, ... (EC2 lists are flattened and 1-based) while present.
    fn list(&self, prefix: &str) -> Vec<&str> {
        (1..).map_while(|i| self.get(&format!("{prefix}.{i}"))).collect()
    }

    /// Whether any member of the structure `prefix.i` is present.
    fn has_member(&self, prefix: &str) -> bool {
        let scope = format!("{prefix}.");
        self.0.range(scope.clone()..).next().is_some_and(|(k, _)| k.starts_with(&scope))
    }

    fn int(&self, key: &str) -> Result<Option<i64>, AwsError> {
        self.get(key).map(|v| v.parse().map_err(|_| error("InvalidParameterValue", format!("Invalid value '{v}' for {key}")))).transpose()
    }
}

/// EC2 filter values: `*` matches any run of characters, `?` one character.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    fn matches(p: &[char], v: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('*', rest)) => (0..=v.len()).any(|i| matches(rest, &v[i..])),
            Some(('?', rest)) => !v.is_empty() && matches(rest, &v[1..]),
            Some((c, rest)) => v.first() == Some(c) && matches(rest, &v[1..]),
        }
    }
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    matches(&p, &v)
}

fn describe_security_groups(state: &mut State, params: &Params) -> Result<String, AwsError> {
    let ids = params.list("GroupId");
    let names = params.list("GroupName");
    for id in &ids {
        if !state.groups.contains_key(*id) {
            return Err(group_not_found(id));
        }
    }
    for name in &names {
        if !state.groups.values().any(|g| g.name == *name) {
            return Err(error("InvalidGroup.NotFound", format!("The security group '{name}' does not exist in default VPC")));
        }
    }
    let filters = filters(params, &["group-name", "vpc-id", "group-id", "description"])?;
    let max = max_results(state, params)?;
    let selected: Vec<&SecurityGroup> = state
        .groups
        .values()
        .filter(|g| ids.is_empty() || ids.contains(&g.id.as_str()))
        .filter(|g| names.is_empty() || names.contains(&g.name.as_str()))
        .filter(|g| {
            filters.iter().all(|(name, values)| {
                let field = match *name {
                    "group-name" => &g.name,
                    "vpc-id" => &g.vpc_id,
                    "group-id" => &g.id,
                    _ => &g.description,
                };
                values.iter().any(|v| wildcard_match(v, field))
            })
        })
        .collect();
    let items: Vec<String> = selected.iter().map(|g| group_xml(g)).collect();
    let (items, next) = paged_xml(&items, params, max)?;
    Ok(format!("<securityGroupInfo>{items}</securityGroupInfo>{next}"))
}

/// The filters `Filter.N.Name` / `Filter.N.Value.M`, each name checked against `allowed`.
fn filters<'p>(params: &'p Params, allowed: &[&str]) -> Result<Vec<(&'p str, Vec<&'p str>)>, AwsError> {
    let mut filters = Vec::new();
    for i in 1.. {
        let prefix = format!("Filter.{i}");
        if !params.has_member(&prefix) {
            break;
        }
        let name = params.get(&format!("{prefix}.Name")).unwrap_or_default();
        if !allowed.contains(&name) {
            return Err(error("InvalidParameterValue", format!("The filter '{name}' is invalid")));
        }
        filters.push((name, params.list(&format!("{prefix}.Value"))));
    }
    Ok(filters)
}

/// MaxResults (5 to 1000 for EC2's Describe* calls), bounded by the page size.
fn max_results(state: &State, params: &Params) -> Result<usize, AwsError> {
    match params.int("MaxResults")? {
        None => Ok(state.page_size),
        Some(n) if (5..=1000).contains(&n) => Ok((n as usize).min(state.page_size)),
        Some(n) => Err(error("InvalidParameterValue", format!("Value ( {n} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000."))),
    }
}

/// The page of `items` a request asks for, with its nextToken element.
fn paged_xml(items: &[String], params: &Params, max: usize) -> Result<(String, String), AwsError> {
    let (items, next) = page(indexed(items.iter().cloned()), params.get("NextToken"), max).map_err(|m| error("InvalidParameterValue", m))?;
    Ok((items.concat(), next.map(|t| format!("<nextToken>{t}</nextToken>")).unwrap_or_default()))
}

/// With filters group-id, subnet-id and network-interface-id: enough to say what uses a group.
fn describe_network_interfaces(state: &mut State, params: &Params) -> Result<String, AwsError> {
    let filters = filters(params, &["group-id", "subnet-id", "network-interface-id"])?;
    let max = max_results(state, params)?;
    let items: Vec<String> = state
        .interfaces
        .iter()
        .filter(|(id, i)| {
            filters.iter().all(|(name, values)| match *name {
                "group-id" => i.groups.iter().any(|g| values.iter().any(|v| wildcard_match(v, g))),
                "subnet-id" => values.iter().any(|v| wildcard_match(v, &i.subnet_id)),
                _ => values.iter().any(|v| wildcard_match(v, id)),
            })
        })
        .map(|(id, i)| {
            let groups: String = i
                .groups
                .iter()
                .map(|g| {
                    let name = state.groups.get(g).map(|g| escape(&g.name)).unwrap_or_default();
                    format!("<item><groupId>{g}</groupId><groupName>{name}</groupName></item>")
                })
                .collect();
            format!(
                "<item><networkInterfaceId>{id}</networkInterfaceId><subnetId>{}</subnetId><description>{}</description><ownerId>{ACCOUNT_ID}</ownerId><requesterManaged>true</requesterManaged><status>in-use</status><interfaceType>interface</interfaceType><groupSet>{groups}</groupSet></item>",
                i.subnet_id,
                escape(&i.description)
            )
        })
        .collect();
    let (items, next) = paged_xml(&items, params, max)?;
    Ok(format!("<networkInterfaceSet>{items}</networkInterfaceSet>{next}"))
}

/// One `<item>` of ipPermissions: EC2 lists a rule's peer under `groups` or `ipRanges`.
fn permission_xml(rule: &Rule) -> String {
    let (groups, ranges) = match &rule.peer {
        Peer::Group(id) => (format!("<item><userId>{ACCOUNT_ID}</userId><groupId>{id}</groupId></item>"), String::new()),
        Peer::Cidr(cidr) => (String::new(), format!("<item><cidrIp>{cidr}</cidrIp></item>")),
    };
    let ports = if rule.protocol == "-1" { String::new() } else { format!("<fromPort>{}</fromPort><toPort>{}</toPort>", rule.from_port, rule.to_port) };
    format!("<item><ipProtocol>{}</ipProtocol>{ports}<groups>{groups}</groups><ipRanges>{ranges}</ipRanges><ipv6Ranges/><prefixListIds/></item>", rule.protocol)
}

fn group_xml(g: &SecurityGroup) -> String {
    let ingress: String = g.ingress.iter().map(permission_xml).collect();
    let egress: String = g.egress.iter().map(permission_xml).collect();
    format!(
        "<item><ownerId>{ACCOUNT_ID}</ownerId><groupId>{}</groupId><groupName>{}</groupName><groupDescription>{}</groupDescription><vpcId>{}</vpcId><securityGroupArn>arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/{}</securityGroupArn><ipPermissions>{ingress}</ipPermissions><ipPermissionsEgress>{egress}</ipPermissionsEgress></item>",
        g.id,
        escape(&g.name),
        escape(&g.description),
        g.vpc_id,
        g.id
    )
}

/// Protocols are named or numbered ("tcp" = "6"); "-1" stands for all.
fn normalize_protocol(protocol: &str) -> String {
    match protocol.to_ascii_lowercase().as_str() {
        "6" | "tcp" => "tcp".into(),
        "17" | "udp" => "udp".into(),
        "1" | "icmp" => "icmp".into(),
        "-1" | "all" => "-1".into(),
        other => other.to_string(),
    }
}

/// The rules named by `IpPermissions.N` (one per group or CIDR of each permission).
fn requested_rules(params: &Params) -> Result<Vec<Rule>, AwsError> {
    let mut rules = Vec::new();
    for i in 1.. {
        let prefix = format!("IpPermissions.{i}");
        if !params.has_member(&prefix) {
            break;
        }
        let protocol = params
            .get(&format!("{prefix}.IpProtocol"))
            .map(normalize_protocol)
            .ok_or_else(|| error("MissingParameter", format!("The request must contain the parameter {prefix}.IpProtocol")))?;
        let all = protocol == "-1";
        let from_port = if all { -1 } else { params.int(&format!("{prefix}.FromPort"))?.unwrap_or(-1) };
        let to_port = if all { -1 } else { params.int(&format!("{prefix}.ToPort"))?.unwrap_or(-1) };
        let groups = (1..).map_while(|j| params.get(&format!("{prefix}.Groups.{j}.GroupId"))).map(|g| Peer::Group(g.to_string()));
        let ranges = (1..).map_while(|j| params.get(&format!("{prefix}.IpRanges.{j}.CidrIp"))).map(|c| Peer::Cidr(c.to_string()));
        for peer in groups.chain(ranges) {
            rules.push(Rule { id: String::new(), protocol: protocol.clone(), from_port, to_port, peer });
        }
    }
    Ok(rules)
}

fn same_rule(a: &Rule, b: &Rule) -> bool {
    a.protocol == b.protocol && a.peer == b.peer && (a.protocol == "-1" || (a.from_port == b.from_port && a.to_port == b.to_port))
}

fn revoke(state: &mut State, params: &Params, direction: Direction) -> Result<String, AwsError> {
    let group_id = params.get("GroupId").ok_or_else(|| error("MissingParameter", "The request must contain the parameter groupId"))?;
    let requested = requested_rules(params)?;
    let rule_ids = params.list("SecurityGroupRuleId");
    if requested.is_empty() && rule_ids.is_empty() {
        return Err(error("MissingParameter", "The request must contain the parameter ipPermissions or securityGroupRuleIds"));
    }
    let unknown_rule = state.unknown_rule;
    let group = state.groups.get_mut(group_id).ok_or_else(|| group_not_found(group_id))?;
    let rules = match direction {
        Direction::Ingress => &mut group.ingress,
        Direction::Egress => &mut group.egress,
    };
    for id in &rule_ids {
        if !rules.iter().any(|r| r.id == *id) {
            return Err(error("InvalidSecurityGroupRuleId.NotFound", format!("The security group rule ID '{id}' does not exist")));
        }
    }
    let unknown: Vec<&Rule> = requested.iter().filter(|want| !rules.iter().any(|r| same_rule(r, want))).collect();
    if !unknown.is_empty() && unknown_rule == UnknownRule::Error {
        return Err(error("InvalidPermission.NotFound", "The specified rule does not exist in this security group."));
    }
    let mut revoked = Vec::new();
    rules.retain(|r| {
        let hit = rule_ids.contains(&r.id.as_str()) || requested.iter().any(|want| same_rule(r, want));
        if hit {
            revoked.push(r.clone());
        }
        !hit
    });
    let egress = direction == Direction::Egress;
    let revoked_xml: String = revoked
        .iter()
        .map(|r| {
            let peer = match &r.peer {
                Peer::Group(id) => format!("<referencedGroupId>{id}</referencedGroupId>"),
                Peer::Cidr(cidr) => format!("<cidrIpv4>{cidr}</cidrIpv4>"),
            };
            format!(
                "<item><securityGroupRuleId>{}</securityGroupRuleId><groupId>{group_id}</groupId><isEgress>{egress}</isEgress><ipProtocol>{}</ipProtocol><fromPort>{}</fromPort><toPort>{}</toPort>{peer}</item>",
                r.id, r.protocol, r.from_port, r.to_port
            )
        })
        .collect();
    let unknown_xml: String = unknown.into_iter().map(permission_xml).collect();
    let unknown_xml = if unknown_xml.is_empty() { String::new() } else { format!("<unknownIpPermissionSet>{unknown_xml}</unknownIpPermissionSet>") };
    Ok(format!("<return>true</return>{unknown_xml}<revokedSecurityGroupRuleSet>{revoked_xml}</revokedSecurityGroupRuleSet>"))
}

fn delete_security_group(state: &mut State, params: &Params) -> Result<String, AwsError> {
    let group_id = match (params.get("GroupId"), params.get("GroupName")) {
        (Some(id), _) => id.to_string(),
        // GroupName only works in the default VPC, which this emulator has none of.
        (None, Some(name)) => return Err(error("InvalidGroup.NotFound", format!("The security group '{name}' does not exist in default VPC"))),
        (None, None) => return Err(error("MissingParameter", "The request must contain the parameter groupName or groupId")),
    };
    if !state.groups.contains_key(&group_id) {
        return Err(group_not_found(&group_id));
    }
    let dependency = || error("DependencyViolation", format!("resource {group_id} has a dependent object"));
    let referenced =
        state.groups.values().filter(|g| g.id != group_id).flat_map(|g| g.ingress.iter().chain(&g.egress)).any(|r| r.peer == Peer::Group(group_id.clone()));
    let in_use = state.interfaces.values().any(|i| i.groups.contains(&group_id));
    if referenced || in_use {
        return Err(dependency());
    }
    state.groups.remove(&group_id);
    Ok(format!("<return>true</return><groupId>{group_id}</groupId>"))
}
