//! An EC2 + EFS emulator for what a Studio domain leaves in a VPC: security groups and their
//! rules, network interfaces, EFS file systems and their mount targets, in one state (a mount
//! target's network interface uses security groups).
//!
//! EC2: the query protocol, `POST /` with a form body `Action=...&Version=2016-11-15&...`;
//! answers in EC2's XML, errors as `<Response><Errors><Error><Code>` (HTTP 400; throttling
//! is RequestLimitExceeded, HTTP 503). EFS: restJson, `GET /2015-02-01/file-systems` and
//! `/2015-02-01/mount-targets`; errors carry `x-amzn-ErrorType` and `{"ErrorCode", "Message"}`.
//! Both are served on one endpoint (the paths do not overlap). Signatures are not checked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use crate::api_calls::{CallLog, Fault, access_key_id, epoch_seconds, page, random_hex};
use crate::httpd::{self, Body, ServerHandle};
use crate::{ACCOUNT_ID, REGION, lock, uuid_v4};

/// What a revoke of a rule the group does not have answers. AWS documents success with the
/// rule listed in `UnknownIpPermissions`; users report InvalidPermission.NotFound too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownRule {
    Report,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

/// The other end of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Group(String),
    Cidr(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    /// "tcp", "udp", "icmp" or "-1" (all).
    pub protocol: String,
    pub from_port: i64,
    pub to_port: i64,
    pub peer: Peer,
}

#[derive(Debug, Clone)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    /// (key, value), as CreateTags sets them (SageMaker tags its NFS groups with the domain ARN).
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct NetworkInterface {
    subnet_id: String,
    description: String,
    groups: Vec<String>,
}

#[derive(Debug, Clone)]
struct FileSystem {
    id: String,
    creation_token: String,
    name: Option<String>,
    tags: Vec<(String, String)>,
    created: f64,
    /// When its deletion (mount targets first) started.
    deleting_since: Option<Instant>,
}

#[derive(Debug, Clone)]
struct MountTarget {
    id: String,
    file_system_id: String,
    subnet_id: String,
    vpc_id: String,
    interface_id: String,
    ip: String,
    zone: usize,
}

struct State {
    groups: BTreeMap<String, SecurityGroup>,
    interfaces: BTreeMap<String, NetworkInterface>,
    file_systems: Vec<FileSystem>,
    mount_targets: Vec<MountTarget>,
    /// How long each of the two steps of an EFS deletion takes (mount targets, then the file system).
    efs_delete_delay: Duration,
    unknown_rule: UnknownRule,
    page_size: usize,
    calls: CallLog,
    /// The Authorization and X-Amz-Security-Token headers of the last request (signatures are
    /// not checked, but a test can see that a request was signed for this service).
    last_signature: (Option<String>, Option<String>),
}

/// A running EC2 + EFS emulator; clones share it. The server stops with the last clone.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    state: Arc<Mutex<State>>,
    _server: ServerHandle,
}

/// An error answer: HTTP status, code, message.
#[derive(Debug)]
struct ApiError {
    status: u16,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn ec2(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    fn group_not_found(id: &str) -> Self {
        Self::ec2("InvalidGroup.NotFound", format!("The security group '{id}' does not exist"))
    }
}

impl Network {
    pub async fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(State {
            groups: BTreeMap::new(),
            interfaces: BTreeMap::new(),
            file_systems: Vec::new(),
            mount_targets: Vec::new(),
            efs_delete_delay: Duration::from_millis(200),
            unknown_rule: UnknownRule::Report,
            page_size: 5,
            calls: CallLog::default(),
            last_signature: (None, None),
        }));
        let listener = httpd::bind_loopback().await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let handler_state = state.clone();
        let server = httpd::serve(listener, move |req| handle(handler_state.clone(), req));
        Ok(Self { inner: Arc::new(Inner { endpoint, state, _server: server }) })
    }

    /// "http://127.0.0.1:PORT", for AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_EFS.
    pub fn endpoint(&self) -> String {
        self.inner.endpoint.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        let mut state = lock(&self.inner.state);
        state.advance();
        state
    }

    /// A group with EC2's default rule (all egress to 0.0.0.0/0); returns its id.
    pub fn create_security_group(&self, vpc_id: &str, name: &str, description: &str) -> String {
        let id = format!("sg-{}", random_hex(17));
        let default_egress = Rule { id: rule_id(), protocol: "-1".into(), from_port: -1, to_port: -1, peer: Peer::Cidr("0.0.0.0/0".into()) };
        let group = SecurityGroup {
            id: id.clone(),
            name: name.to_string(),
            description: description.to_string(),
            vpc_id: vpc_id.to_string(),
            ingress: Vec::new(),
            egress: vec![default_egress],
            tags: Vec::new(),
        };
        self.state().groups.insert(id.clone(), group);
        id
    }

    /// Sets a tag on a group (CreateTags: an existing key gets the new value).
    pub fn tag_security_group(&self, group_id: &str, key: &str, value: &str) {
        if let Some(group) = self.state().groups.get_mut(group_id) {
            group.tags.retain(|(k, _)| k != key);
            group.tags.push((key.to_string(), value.to_string()));
        }
    }

    /// Adds a TCP rule on `port` between `group_id` and the group `peer_id`; returns the rule id.
    pub fn authorize_group(&self, group_id: &str, direction: Direction, port: i64, peer_id: &str) -> Option<String> {
        let rule = Rule { id: rule_id(), protocol: "tcp".into(), from_port: port, to_port: port, peer: Peer::Group(peer_id.to_string()) };
        let id = rule.id.clone();
        let mut state = self.state();
        let group = state.groups.get_mut(group_id)?;
        match direction {
            Direction::Ingress => group.ingress.push(rule),
            Direction::Egress => group.egress.push(rule),
        }
        Some(id)
    }

    /// Removes a group's rules in one direction (as CreateSecurityGroup callers do with the
    /// default egress rule).
    pub fn clear_rules(&self, group_id: &str, direction: Direction) {
        if let Some(group) = self.state().groups.get_mut(group_id) {
            match direction {
                Direction::Ingress => group.ingress.clear(),
                Direction::Egress => group.egress.clear(),
            }
        }
    }

    /// A network interface using `groups` (an app's ENI, a mount target's ...); returns its id.
    pub fn create_network_interface(&self, subnet_id: &str, description: &str, groups: &[String]) -> String {
        let id = format!("eni-{}", random_hex(17));
        let interface = NetworkInterface { subnet_id: subnet_id.to_string(), description: description.to_string(), groups: groups.to_vec() };
        self.state().interfaces.insert(id.clone(), interface);
        id
    }

    pub fn delete_network_interface(&self, id: &str) {
        self.state().interfaces.remove(id);
    }

    /// Groups as DescribeSecurityGroups shows them.
    pub fn security_groups(&self) -> Vec<SecurityGroup> {
        self.state().groups.values().cloned().collect()
    }

    pub fn security_group(&self, id: &str) -> Option<SecurityGroup> {
        self.state().groups.get(id).cloned()
    }

    /// The id of the group with this name in this VPC.
    pub fn security_group_named(&self, vpc_id: &str, name: &str) -> Option<String> {
        self.state().groups.values().find(|g| g.vpc_id == vpc_id && g.name == name).map(|g| g.id.clone())
    }

    /// The subnets of the network interfaces that use a group.
    pub fn interfaces_using(&self, group_id: &str) -> Vec<String> {
        let state = self.state();
        state.interfaces.iter().filter(|(_, i)| i.groups.iter().any(|g| g == group_id)).map(|(id, i)| format!("{id} ({})", i.subnet_id)).collect()
    }

    /// An available file system; returns its id.
    pub fn create_file_system(&self, creation_token: &str, name: Option<&str>, tags: &[(&str, &str)]) -> String {
        let id = format!("fs-{}", random_hex(17));
        let file_system = FileSystem {
            id: id.clone(),
            creation_token: creation_token.to_string(),
            name: name.map(str::to_string),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            created: epoch_seconds(),
            deleting_since: None,
        };
        self.state().file_systems.push(file_system);
        id
    }

    /// An available mount target of `file_system_id` in `subnet_id`, with a network interface
    /// using `groups`; returns its id (None when there is no such file system).
    pub fn create_mount_target(&self, file_system_id: &str, vpc_id: &str, subnet_id: &str, groups: &[String]) -> Option<String> {
        if !self.state().file_systems.iter().any(|f| f.id == file_system_id) {
            return None;
        }
        let id = format!("fsmt-{}", random_hex(17));
        // As EFS describes the interfaces it makes.
        let interface_id = self.create_network_interface(subnet_id, &format!("EFS mount target for {file_system_id} ({id})"), groups);
        let mut state = self.state();
        let zone = state.mount_targets.iter().filter(|m| m.file_system_id == file_system_id).count();
        state.mount_targets.push(MountTarget {
            id: id.clone(),
            file_system_id: file_system_id.to_string(),
            subnet_id: subnet_id.to_string(),
            vpc_id: vpc_id.to_string(),
            interface_id,
            ip: format!("10.0.{}.{}", zone, fastrand::u8(4..250)),
            zone,
        });
        Some(id)
    }

    /// Starts deleting a file system: its mount targets (and their network interfaces) go after
    /// one EFS delete delay, the file system after a second one.
    pub fn delete_file_system_later(&self, file_system_id: &str) {
        let mut state = self.state();
        if let Some(fs) = state.file_systems.iter_mut().find(|f| f.id == file_system_id) {
            fs.deleting_since.get_or_insert_with(Instant::now);
        }
    }

    /// The file system's LifeCycleState, None once it is gone.
    pub fn file_system_state(&self, file_system_id: &str) -> Option<&'static str> {
        let state = self.state();
        let fs = state.file_systems.iter().find(|f| f.id == file_system_id)?;
        Some(state.file_system_life(fs))
    }

    /// Ids of the mount targets of a file system.
    pub fn mount_targets(&self, file_system_id: &str) -> Vec<String> {
        self.state().mount_targets.iter().filter(|m| m.file_system_id == file_system_id).map(|m| m.id.clone()).collect()
    }

    /// How long each step of an EFS deletion takes; applies to deletions in progress too.
    pub fn set_efs_delete_delay(&self, delay: Duration) {
        self.state().efs_delete_delay = delay;
    }

    pub fn set_unknown_rule(&self, behaviour: UnknownRule) {
        self.state().unknown_rule = behaviour;
    }

    /// The most items a Describe* page holds (less when MaxResults / MaxItems asks for less).
    pub fn set_page_size(&self, size: usize) {
        self.state().page_size = size.max(1);
    }

    /// Fraction (0..=1) of calls answered as throttled, before they have any effect.
    pub fn set_throttle_rate(&self, rate: f64) {
        self.state().calls.set_throttle_rate(rate);
    }

    /// The next `count` calls (EC2 or EFS) are answered as throttled.
    pub fn throttle_next(&self, count: usize) {
        self.state().calls.throttle_next(count);
    }

    /// Every call of `operation` (e.g. "DeleteSecurityGroup") is refused as unauthorized.
    pub fn set_denied(&self, operation: &str, denied: bool) {
        self.state().calls.set_denied(operation, denied);
    }

    /// The next call of `operation` fails with `code` and `message` before any effect. EC2 codes:
    /// DependencyViolation or (anything else) InvalidParameterValue; EFS calls answer BadRequest.
    pub fn refuse_next(&self, operation: &str, code: &str, message: &str) {
        self.state().calls.refuse_next(operation, code, message);
    }

    /// How many calls of `operation` were received, refused ones included.
    pub fn call_count(&self, operation: &str) -> usize {
        self.state().calls.count(operation)
    }

    /// The Authorization and X-Amz-Security-Token headers of the last request.
    pub fn last_signature(&self) -> (Option<String>, Option<String>) {
        self.state().last_signature.clone()
    }

    /// Operation names of all calls received, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.all()
    }

    /// (access key id, IAM action such as "ec2:DeleteSecurityGroup") of each signed call, in order.
    pub fn signed_actions(&self) -> Vec<(String, String)> {
        self.state().calls.signed()
    }
}

fn rule_id() -> String {
    format!("sgr-{}", random_hex(17))
}

impl State {
    /// Applies the EFS deletions that are due: mount targets after one delay, the file system
    /// after two.
    fn advance(&mut self) {
        let (now, delay) = (Instant::now(), self.efs_delete_delay);
        let elapsed = |fs: &FileSystem| fs.deleting_since.map(|since| now.saturating_duration_since(since));
        let mounts_gone: Vec<String> = self.file_systems.iter().filter(|fs| elapsed(fs).is_some_and(|e| e >= delay)).map(|fs| fs.id.clone()).collect();
        let interfaces = &mut self.interfaces;
        self.mount_targets.retain(|m| {
            let gone = mounts_gone.contains(&m.file_system_id);
            if gone {
                interfaces.remove(&m.interface_id);
            }
            !gone
        });
        self.file_systems.retain(|fs| elapsed(fs).is_none_or(|e| e < delay * 2));
    }

    fn file_system_life(&self, fs: &FileSystem) -> &'static str {
        let mounted = self.mount_targets.iter().any(|m| m.file_system_id == fs.id);
        match fs.deleting_since {
            None => "available",
            // AWS deletes a file system only once it has no mount targets.
            Some(_) if mounted => "available",
            Some(_) => "deleting",
        }
    }
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Response<Body>, hyper::Error> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let signature = (header("authorization"), header("x-amz-security-token"));
    let body = req.into_body().collect().await?.to_bytes();
    let mut state = lock(&state);
    let signer = access_key_id(signature.0.as_deref());
    state.last_signature = signature;
    state.advance();
    let request_id = uuid_v4();
    if let Some(resource) = path.strip_prefix("/2015-02-01/") {
        let result = efs_call(&mut state, signer, &method, resource, &query);
        let (status, body, error_type) = match result {
            Ok(value) => (200, value, None),
            Err(e) => (e.status, json!({ "ErrorCode": e.code, "Message": e.message }), Some(e.code)),
        };
        let mut headers = vec![("content-type", "application/json"), ("x-amzn-requestid", request_id.as_str())];
        if let Some(code) = error_type {
            headers.push(("x-amzn-errortype", code));
        }
        return Ok(httpd::response(status, &headers, body.to_string()));
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let params = Params(params.into_iter().collect());
    let action = params.get("Action").unwrap_or_default().to_string();
    let (status, xml) = match ec2_call(&mut state, signer, &action, &params) {
        Ok(inner) => (
            200,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>{request_id}</requestId>{inner}</{action}Response>"
            ),
        ),
        Err(e) => (
            e.status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
                e.code,
                escape(&e.message)
            ),
        ),
    };
    Ok(httpd::response(status, &[("content-type", "text/xml;charset=UTF-8")], xml))
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

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key).map(|v| v.parse().map_err(|_| ApiError::ec2("InvalidParameterValue", format!("Invalid value '{v}' for {key}")))).transpose()
    }
}

fn ec2_call(state: &mut State, signer: Option<String>, action: &str, params: &Params) -> Result<String, ApiError> {
    match state.calls.record(&format!("ec2:{action}"), signer) {
        Some(Fault::Throttled) => return Err(ApiError::new(503, "RequestLimitExceeded", "Request limit exceeded.")),
        Some(Fault::AccessDenied) => {
            return Err(ApiError::ec2(
                "UnauthorizedOperation",
                format!("You are not authorized to perform this operation. User is not authorized to perform: ec2:{action}"),
            ));
        }
        Some(Fault::Refused(code, message)) => {
            let code = if code == "DependencyViolation" { "DependencyViolation" } else { "InvalidParameterValue" };
            return Err(ApiError::ec2(code, message));
        }
        None => {}
    }
    match action {
        "DescribeSecurityGroups" => describe_security_groups(state, params),
        "RevokeSecurityGroupIngress" => revoke(state, params, Direction::Ingress),
        "RevokeSecurityGroupEgress" => revoke(state, params, Direction::Egress),
        "DeleteSecurityGroup" => delete_security_group(state, params),
        "DescribeNetworkInterfaces" => describe_network_interfaces(state, params),
        "" => Err(ApiError::ec2("MissingAction", "The request must contain the parameter Action")),
        _ => Err(ApiError::ec2("InvalidAction", format!("The action {action} is not valid for this web service."))),
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

fn describe_security_groups(state: &mut State, params: &Params) -> Result<String, ApiError> {
    let ids = params.list("GroupId");
    let names = params.list("GroupName");
    for id in &ids {
        if !state.groups.contains_key(*id) {
            return Err(ApiError::group_not_found(id));
        }
    }
    for name in &names {
        if !state.groups.values().any(|g| g.name == *name) {
            return Err(ApiError::ec2("InvalidGroup.NotFound", format!("The security group '{name}' does not exist in default VPC")));
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
fn filters<'p>(params: &'p Params, allowed: &[&str]) -> Result<Vec<(&'p str, Vec<&'p str>)>, ApiError> {
    let mut filters = Vec::new();
    for i in 1.. {
        let prefix = format!("Filter.{i}");
        if !params.has_member(&prefix) {
            break;
        }
        let name = params.get(&format!("{prefix}.Name")).unwrap_or_default();
        if !allowed.contains(&name) {
            return Err(ApiError::ec2("InvalidParameterValue", format!("The filter '{name}' is invalid")));
        }
        filters.push((name, params.list(&format!("{prefix}.Value"))));
    }
    Ok(filters)
}

/// MaxResults (5 to 1000 for EC2's Describe* calls), bounded by the page size.
fn max_results(state: &State, params: &Params) -> Result<usize, ApiError> {
    match params.int("MaxResults")? {
        None => Ok(state.page_size),
        Some(n) if (5..=1000).contains(&n) => Ok((n as usize).min(state.page_size)),
        Some(n) => {
            Err(ApiError::ec2("InvalidParameterValue", format!("Value ( {n} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.")))
        }
    }
}

/// The page of `items` a request asks for, with its nextToken element.
fn paged_xml(items: &[String], params: &Params, max: usize) -> Result<(String, String), ApiError> {
    let (items, next) = page(items, params.get("NextToken"), max).map_err(|m| ApiError::ec2("InvalidParameterValue", m))?;
    Ok((items.concat(), next.map(|t| format!("<nextToken>{t}</nextToken>")).unwrap_or_default()))
}

/// With filters group-id, subnet-id and network-interface-id: enough to say what uses a group.
fn describe_network_interfaces(state: &mut State, params: &Params) -> Result<String, ApiError> {
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
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
    let tags: String = g.tags.iter().map(|(k, v)| format!("<item><key>{}</key><value>{}</value></item>", escape(k), escape(v))).collect();
    format!(
        "<item><ownerId>{ACCOUNT_ID}</ownerId><groupId>{}</groupId><groupName>{}</groupName><groupDescription>{}</groupDescription><vpcId>{}</vpcId><securityGroupArn>arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/{}</securityGroupArn><ipPermissions>{ingress}</ipPermissions><ipPermissionsEgress>{egress}</ipPermissionsEgress><tagSet>{tags}</tagSet></item>",
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
fn requested_rules(params: &Params) -> Result<Vec<Rule>, ApiError> {
    let mut rules = Vec::new();
    for i in 1.. {
        let prefix = format!("IpPermissions.{i}");
        if !params.has_member(&prefix) {
            break;
        }
        let protocol = params
            .get(&format!("{prefix}.IpProtocol"))
            .map(normalize_protocol)
            .ok_or_else(|| ApiError::ec2("MissingParameter", format!("The request must contain the parameter {prefix}.IpProtocol")))?;
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

fn revoke(state: &mut State, params: &Params, direction: Direction) -> Result<String, ApiError> {
    let group_id = params.get("GroupId").ok_or_else(|| ApiError::ec2("MissingParameter", "The request must contain the parameter groupId"))?;
    let requested = requested_rules(params)?;
    let rule_ids = params.list("SecurityGroupRuleId");
    if requested.is_empty() && rule_ids.is_empty() {
        return Err(ApiError::ec2("MissingParameter", "The request must contain the parameter ipPermissions or securityGroupRuleIds"));
    }
    let unknown_rule = state.unknown_rule;
    let group = state.groups.get_mut(group_id).ok_or_else(|| ApiError::group_not_found(group_id))?;
    let rules = match direction {
        Direction::Ingress => &mut group.ingress,
        Direction::Egress => &mut group.egress,
    };
    for id in &rule_ids {
        if !rules.iter().any(|r| r.id == *id) {
            return Err(ApiError::ec2("InvalidSecurityGroupRuleId.NotFound", format!("The security group rule ID '{id}' does not exist")));
        }
    }
    let unknown: Vec<&Rule> = requested.iter().filter(|want| !rules.iter().any(|r| same_rule(r, want))).collect();
    if !unknown.is_empty() && unknown_rule == UnknownRule::Error {
        return Err(ApiError::ec2("InvalidPermission.NotFound", "The specified rule does not exist in this security group."));
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

fn delete_security_group(state: &mut State, params: &Params) -> Result<String, ApiError> {
    let group_id = match (params.get("GroupId"), params.get("GroupName")) {
        (Some(id), _) => id.to_string(),
        // GroupName only works in the default VPC, which this emulator has none of.
        (None, Some(name)) => return Err(ApiError::ec2("InvalidGroup.NotFound", format!("The security group '{name}' does not exist in default VPC"))),
        (None, None) => return Err(ApiError::ec2("MissingParameter", "The request must contain the parameter groupName or groupId")),
    };
    if !state.groups.contains_key(&group_id) {
        return Err(ApiError::group_not_found(&group_id));
    }
    let dependency = || ApiError::ec2("DependencyViolation", format!("resource {group_id} has a dependent object"));
    let referenced =
        state.groups.values().filter(|g| g.id != group_id).flat_map(|g| g.ingress.iter().chain(&g.egress)).any(|r| r.peer == Peer::Group(group_id.clone()));
    let in_use = state.interfaces.values().any(|i| i.groups.contains(&group_id));
    if referenced || in_use {
        return Err(dependency());
    }
    state.groups.remove(&group_id);
    Ok(format!("<return>true</return><groupId>{group_id}</groupId>"))
}

fn efs_call(state: &mut State, signer: Option<String>, method: &Method, resource: &str, query: &str) -> Result<Value, ApiError> {
    let operation = match (method, resource) {
        (&Method::GET, "file-systems") => "DescribeFileSystems",
        (&Method::GET, "mount-targets") => "DescribeMountTargets",
        _ => return Err(ApiError::new(404, "UnknownOperationException", format!("No EFS operation {method} /2015-02-01/{resource} here"))),
    };
    match state.calls.record(&format!("elasticfilesystem:{operation}"), signer) {
        Some(Fault::Throttled) => return Err(ApiError::new(429, "ThrottlingException", "Rate exceeded")),
        Some(Fault::AccessDenied) => {
            return Err(ApiError::new(403, "AccessDeniedException", format!("User is not authorized to perform: elasticfilesystem:{operation}")));
        }
        Some(Fault::Refused(_, message)) => return Err(ApiError::new(400, "BadRequest", message)),
        None => {}
    }
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |key: &str| params.get(key).map(String::as_str);
    let max = match get("MaxItems").map(str::parse::<usize>) {
        None => state.page_size,
        Some(Ok(n)) if n >= 1 => n.min(state.page_size),
        Some(_) => return Err(ApiError::new(400, "BadRequest", "MaxItems must be a positive integer")),
    };
    let fs_not_found = |id: &str| ApiError::new(404, "FileSystemNotFound", format!("File system '{id}' does not exist."));
    let (list_key, items) = if operation == "DescribeFileSystems" {
        if let Some(id) = get("FileSystemId")
            && !state.file_systems.iter().any(|f| f.id == id)
        {
            return Err(fs_not_found(id));
        }
        let items: Vec<Value> = state
            .file_systems
            .iter()
            .filter(|f| get("FileSystemId").is_none_or(|id| f.id == id))
            .filter(|f| get("CreationToken").is_none_or(|t| f.creation_token == t))
            .map(|f| file_system_json(state, f))
            .collect();
        ("FileSystems", items)
    } else {
        let selectors = ["FileSystemId", "MountTargetId", "AccessPointId"].iter().filter(|k| get(k).is_some()).count();
        if selectors != 1 {
            return Err(ApiError::new(400, "BadRequest", "Specify exactly one of FileSystemId, MountTargetId or AccessPointId"));
        }
        if let Some(id) = get("FileSystemId")
            && !state.file_systems.iter().any(|f| f.id == id)
        {
            return Err(fs_not_found(id));
        }
        if let Some(id) = get("MountTargetId")
            && !state.mount_targets.iter().any(|m| m.id == id)
        {
            return Err(ApiError::new(404, "MountTargetNotFound", format!("Mount target '{id}' does not exist.")));
        }
        if let Some(id) = get("AccessPointId") {
            return Err(ApiError::new(404, "AccessPointNotFound", format!("Access point '{id}' does not exist.")));
        }
        let items: Vec<Value> = state
            .mount_targets
            .iter()
            .filter(|m| get("FileSystemId").is_none_or(|id| m.file_system_id == id))
            .filter(|m| get("MountTargetId").is_none_or(|id| m.id == id))
            .map(|m| mount_target_json(state, m))
            .collect();
        ("MountTargets", items)
    };
    let (items, next) = page(&items, get("Marker"), max).map_err(|m| ApiError::new(400, "BadRequest", m))?;
    let mut out = json!({ list_key: items });
    if let Some(marker) = get("Marker") {
        out["Marker"] = json!(marker);
    }
    if let Some(next) = next {
        out["NextMarker"] = json!(next);
    }
    Ok(out)
}

fn file_system_json(state: &State, f: &FileSystem) -> Value {
    let mounts = state.mount_targets.iter().filter(|m| m.file_system_id == f.id).count();
    let tags: Vec<Value> = f.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
    let mut out = json!({
        "OwnerId": ACCOUNT_ID,
        "CreationToken": f.creation_token,
        "FileSystemId": f.id,
        "FileSystemArn": format!("arn:aws:elasticfilesystem:{REGION}:{ACCOUNT_ID}:file-system/{}", f.id),
        "CreationTime": f.created,
        "LifeCycleState": state.file_system_life(f),
        "NumberOfMountTargets": mounts,
        "SizeInBytes": { "Value": 6144 },
        "PerformanceMode": "generalPurpose",
        "Encrypted": false,
        "ThroughputMode": "bursting",
        "Tags": tags,
    });
    if let Some(name) = &f.name {
        out["Name"] = json!(name);
    }
    out
}

fn mount_target_json(state: &State, m: &MountTarget) -> Value {
    let deleting = state.file_systems.iter().any(|f| f.id == m.file_system_id && f.deleting_since.is_some());
    let zone = char::from(b'a' + (m.zone % 6) as u8);
    json!({
        "OwnerId": ACCOUNT_ID,
        "MountTargetId": m.id,
        "FileSystemId": m.file_system_id,
        "SubnetId": m.subnet_id,
        "LifeCycleState": if deleting { "deleting" } else { "available" },
        "IpAddress": m.ip,
        "NetworkInterfaceId": m.interface_id,
        "AvailabilityZoneId": format!("use1-az{}", m.zone % 6 + 1),
        "AvailabilityZoneName": format!("{REGION}{zone}"),
        "VpcId": m.vpc_id,
    })
}
