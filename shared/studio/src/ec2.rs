//! A small EC2 client for the calls that clean up a domain's NFS security groups
//! (DescribeSecurityGroups, RevokeSecurityGroupIngress/Egress, DeleteSecurityGroup, and
//! DescribeNetworkInterfaces to say what still uses a group): SigV4 with
//! `aws-sigv4` over reqwest, answers read with `aws-smithy-xml`. Instead of `aws-sdk-ec2`,
//! whose build (about 6 CPU-minutes and 8.7 GB of memory for a release build) is out of
//! proportion to four calls; every crate used here is already in the functions' dependency tree.
//!
//! Throttling (RequestLimitExceeded and friends) and 5xx answers are retried with jittered
//! exponential backoff, as the SDK does; what is left becomes an [`AwsError`] of its [`Kind`].

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};

use crate::error::{AwsError, Kind};

const VERSION: &str = "2016-11-15";
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// Error codes EC2 uses for throttling (the SDK's list, narrowed to EC2's).
const THROTTLING: &[&str] = &["RequestLimitExceeded", "Throttling", "ThrottlingException", "EC2ThrottledException", "RequestThrottled"];

/// An EC2 error: its code and message as EC2 sent them (and the HTTP status), or a
/// transport/credentials failure (code "RequestFailed", no status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Error {
    operation: &'static str,
    status: Option<u16>,
    code: String,
    message: String,
}

impl Ec2Error {
    fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { operation: "EC2", status: None, code: code.into(), message: message.into() }
    }

    fn answered(operation: &'static str, status: u16, error: Ec2Error) -> Self {
        Self { operation, status: Some(status), ..error }
    }

    /// What the error means: DependencyViolation is a group still in use, InvalidGroup.NotFound
    /// and InvalidPermission.NotFound are already gone; no answer at all is the service's side.
    pub fn kind(&self) -> Kind {
        match self.code.as_str() {
            c if THROTTLING.contains(&c) => Kind::Throttled,
            "DependencyViolation" => Kind::InUse,
            "InvalidGroup.NotFound" | "InvalidPermission.NotFound" => Kind::NotFound,
            "RequestFailed" if self.status.is_none() => Kind::ServerError,
            code => Kind::of(Some(code), self.status),
        }
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    fn is_retryable(&self, status: u16) -> bool {
        THROTTLING.contains(&self.code.as_str()) || status >= 500
    }
}

impl From<Ec2Error> for AwsError {
    fn from(e: Ec2Error) -> Self {
        AwsError { operation: e.operation, kind: e.kind(), code: Some(e.code), message: Some(e.message), detail: None }
    }
}

impl std::fmt::Display for Ec2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Ec2Error {}

/// A rule of a group that names another group (the only kind the NFS groups have between them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRule {
    pub protocol: String,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
    pub group_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub ingress: Vec<GroupRule>,
    pub egress: Vec<GroupRule>,
}

/// A network interface: what keeps a group in use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInterface {
    pub id: String,
    pub description: String,
}

pub struct Ec2Client {
    /// Built on first use: building one loads the root certificates, and only a domain's
    /// teardown calls EC2.
    http: std::sync::OnceLock<reqwest::Client>,
    endpoint: String,
    region: String,
    credentials: SharedCredentialsProvider,
    max_attempts: u32,
}

impl Ec2Client {
    /// The client for `config`'s region and credentials. Endpoint: AWS_ENDPOINT_URL_EC2, else
    /// AWS_ENDPOINT_URL, else the regional one, as the SDKs resolve it.
    pub fn new(config: &aws_config::SdkConfig) -> Result<Self, Ec2Error> {
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| Ec2Error::new("RequestFailed", "no AWS region configured"))?;
        let credentials = config.credentials_provider().ok_or_else(|| Ec2Error::new("RequestFailed", "no AWS credentials configured"))?;
        let endpoint = std::env::var("AWS_ENDPOINT_URL_EC2")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|_| format!("https://ec2.{region}.amazonaws.com"));
        Ok(Self { http: std::sync::OnceLock::new(), endpoint, region, credentials, max_attempts: 5 })
    }

    /// With an explicit endpoint (tests).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// The groups with one of `names` in `vpc_id` (exact names: EC2's wildcards are escaped by
    /// refusing names that hold them). Follows nextToken.
    pub async fn describe_security_groups(&self, vpc_id: &str, names: &[&str]) -> Result<Vec<SecurityGroup>, Ec2Error> {
        if let Some(name) = names.iter().find(|n| n.contains(['*', '?'])) {
            return Err(Ec2Error::new("InvalidParameterValue", format!("group name {name} holds a filter wildcard")));
        }
        let mut params = vec![("Filter.1.Name".to_string(), "vpc-id".to_string()), ("Filter.1.Value.1".into(), vpc_id.to_string())];
        params.push(("Filter.2.Name".into(), "group-name".into()));
        for (i, name) in names.iter().enumerate() {
            params.push((format!("Filter.2.Value.{}", i + 1), name.to_string()));
        }
        let mut groups = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut page = params.clone();
            if let Some(token) = &token {
                page.push(("NextToken".into(), token.clone()));
            }
            let xml = self.call("DescribeSecurityGroups", &page).await?;
            let (found, next) = parse_groups(&xml)?;
            groups.extend(found);
            match next {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                _ => return Ok(groups),
            }
        }
    }

    pub async fn revoke_ingress(&self, group_id: &str, rules: &[GroupRule]) -> Result<(), Ec2Error> {
        self.revoke("RevokeSecurityGroupIngress", group_id, rules).await
    }

    pub async fn revoke_egress(&self, group_id: &str, rules: &[GroupRule]) -> Result<(), Ec2Error> {
        self.revoke("RevokeSecurityGroupEgress", group_id, rules).await
    }

    async fn revoke(&self, action: &'static str, group_id: &str, rules: &[GroupRule]) -> Result<(), Ec2Error> {
        // EC2 refuses a revoke without rules (MissingParameter); nothing to do is success.
        if rules.is_empty() {
            return Ok(());
        }
        let mut params = vec![("GroupId".to_string(), group_id.to_string())];
        for (i, rule) in rules.iter().enumerate() {
            let prefix = format!("IpPermissions.{}", i + 1);
            params.push((format!("{prefix}.IpProtocol"), rule.protocol.clone()));
            if let Some(port) = rule.from_port {
                params.push((format!("{prefix}.FromPort"), port.to_string()));
            }
            if let Some(port) = rule.to_port {
                params.push((format!("{prefix}.ToPort"), port.to_string()));
            }
            params.push((format!("{prefix}.Groups.1.GroupId"), rule.group_id.clone()));
        }
        self.call(action, &params).await.map(drop)
    }

    /// The network interfaces that use a group (its first page: enough to name them).
    pub async fn network_interfaces_using(&self, group_id: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
        let params = [("Filter.1.Name".to_string(), "group-id".to_string()), ("Filter.1.Value.1".into(), group_id.to_string())];
        let xml = self.call("DescribeNetworkInterfaces", &params).await?;
        parse_interfaces(&xml)
    }

    pub async fn delete_security_group(&self, group_id: &str) -> Result<(), Ec2Error> {
        self.call("DeleteSecurityGroup", &[("GroupId".into(), group_id.to_string())]).await.map(drop)
    }

    /// One action, retried while throttled; the answer's XML on success.
    async fn call(&self, action: &'static str, params: &[(String, String)]) -> Result<String, Ec2Error> {
        let body = form_body(action, params);
        let mut attempt = 1;
        loop {
            let (status, text) = self.send(&body).await.map_err(|e| Ec2Error { operation: action, ..e })?;
            if (200..300).contains(&status) {
                return Ok(text);
            }
            let error = parse_error(status, &text);
            if attempt >= self.max_attempts || !error.is_retryable(status) {
                return Err(Ec2Error::answered(action, status, error));
            }
            // Full jitter on 50 ms * 2^attempt, at most 5 s (the SDK's standard strategy, roughly).
            let cap = Duration::from_millis(50 * (1 << attempt.min(7))).min(Duration::from_secs(5));
            tokio::time::sleep(cap.mul_f64(fastrand::f64())).await;
            attempt += 1;
        }
    }

    async fn send(&self, body: &str) -> Result<(u16, String), Ec2Error> {
        let failed = |what: &str, e: &dyn std::fmt::Display| Ec2Error::new("RequestFailed", format!("{what}: {e}"));
        let credentials = self.credentials.provide_credentials().await.map_err(|e| failed("credentials", &e))?;
        let identity = credentials.into();
        let settings = SigningSettings::default();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| failed("signing", &e))?
            .into();
        let url = format!("{}/", self.endpoint.trim_end_matches('/'));
        let headers = [("content-type", CONTENT_TYPE)];
        let signable = SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(body.as_bytes())).map_err(|e| failed("signing", &e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| failed("signing", &e))?.into_parts();
        let mut request = self.http.get_or_init(reqwest::Client::new).post(&url).header("content-type", CONTENT_TYPE).body(body.to_string());
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| failed("EC2 request", &e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| failed("EC2 response", &e))?;
        Ok((status, text))
    }
}

/// The form body. Its own function: the serializer is not Send, so it must not live across an await.
fn form_body(action: &str, params: &[(String, String)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action).append_pair("Version", VERSION);
    for (key, value) in params {
        form.append_pair(key, value);
    }
    form.finish()
}

fn xml_error(e: impl std::fmt::Display) -> Ec2Error {
    Ec2Error::new("RequestFailed", format!("unreadable EC2 answer: {e}"))
}

/// The text of the current element.
fn text(tag: &mut ScopedDecoder) -> Result<String, Ec2Error> {
    try_data(tag).map(|t| t.to_string()).map_err(xml_error)
}

/// `<Response><Errors><Error><Code/><Message/></Error></Errors>` (or whatever came instead).
fn parse_error(status: u16, xml: &str) -> Ec2Error {
    let fallback = || Ec2Error::new(format!("Http{status}"), xml.chars().take(200).collect::<String>());
    let Ok(mut doc) = Document::try_from(xml.as_bytes()) else { return fallback() };
    let Ok(mut root) = doc.root_element() else { return fallback() };
    while let Some(mut errors) = root.next_tag() {
        if !errors.start_el().matches("Errors") {
            continue;
        }
        while let Some(mut error) = errors.next_tag() {
            let (mut code, mut message) = (None, String::new());
            while let Some(mut field) = error.next_tag() {
                if field.start_el().matches("Code") {
                    code = text(&mut field).ok();
                } else if field.start_el().matches("Message") {
                    message = text(&mut field).unwrap_or_default();
                }
            }
            if let Some(code) = code {
                return Ec2Error::new(code, message);
            }
        }
    }
    fallback()
}

fn parse_groups(xml: &str) -> Result<(Vec<SecurityGroup>, Option<String>), Ec2Error> {
    let mut doc = Document::try_from(xml.as_bytes()).map_err(xml_error)?;
    let mut root = doc.root_element().map_err(xml_error)?;
    let (mut groups, mut next) = (Vec::new(), None);
    while let Some(mut tag) = root.next_tag() {
        if tag.start_el().matches("nextToken") {
            next = Some(text(&mut tag)?).filter(|t| !t.is_empty());
        } else if tag.start_el().matches("securityGroupInfo") {
            while let Some(mut item) = tag.next_tag() {
                groups.push(parse_group(&mut item)?);
            }
        }
    }
    Ok((groups, next))
}

fn parse_group(item: &mut ScopedDecoder) -> Result<SecurityGroup, Ec2Error> {
    let mut group = SecurityGroup::default();
    while let Some(mut field) = item.next_tag() {
        let name = field.start_el().local().to_string();
        match name.as_str() {
            "groupId" => group.id = text(&mut field)?,
            "groupName" => group.name = text(&mut field)?,
            "vpcId" => group.vpc_id = text(&mut field)?,
            "ipPermissions" => group.ingress = parse_permissions(&mut field)?,
            "ipPermissionsEgress" => group.egress = parse_permissions(&mut field)?,
            _ => {}
        }
    }
    Ok(group)
}

/// The group-referencing rules of an ipPermissions list, one per referenced group.
fn parse_permissions(list: &mut ScopedDecoder) -> Result<Vec<GroupRule>, Ec2Error> {
    let mut rules = Vec::new();
    while let Some(mut item) = list.next_tag() {
        let (mut protocol, mut from_port, mut to_port, mut peers) = (String::new(), None, None, Vec::new());
        while let Some(mut field) = item.next_tag() {
            let name = field.start_el().local().to_string();
            match name.as_str() {
                "ipProtocol" => protocol = text(&mut field)?,
                "fromPort" => from_port = text(&mut field)?.parse().ok(),
                "toPort" => to_port = text(&mut field)?.parse().ok(),
                "groups" => {
                    while let Some(mut pair) = field.next_tag() {
                        while let Some(mut member) = pair.next_tag() {
                            if member.start_el().matches("groupId") {
                                peers.push(text(&mut member)?);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        rules.extend(peers.into_iter().map(|group_id| GroupRule { protocol: protocol.clone(), from_port, to_port, group_id }));
    }
    Ok(rules)
}

fn parse_interfaces(xml: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
    let mut doc = Document::try_from(xml.as_bytes()).map_err(xml_error)?;
    let mut root = doc.root_element().map_err(xml_error)?;
    let mut interfaces = Vec::new();
    while let Some(mut tag) = root.next_tag() {
        if !tag.start_el().matches("networkInterfaceSet") {
            continue;
        }
        while let Some(mut item) = tag.next_tag() {
            let mut interface = NetworkInterface::default();
            while let Some(mut field) = item.next_tag() {
                if field.start_el().matches("networkInterfaceId") {
                    interface.id = text(&mut field)?;
                } else if field.start_el().matches("description") {
                    interface.description = text(&mut field)?;
                }
            }
            interfaces.push(interface);
        }
    }
    Ok(interfaces)
}
