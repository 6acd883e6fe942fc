//! A CloudFormation driver: plays custom-resource events to a deployed function the way
//! CloudFormation does (asynchronous invoke, presigned S3 ResponseURL, properties as strings)
//! and checks the response against the protocol.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::lambda::{self, LambdaService, Outcome, function_arn};
use crate::s3::{RecordedPut, S3Server};
use crate::stacks::{Stack, StackResource, Stacks};
use crate::{ACCOUNT_ID, REGION, uuid_v4};

/// The bucket ResponseURLs point into.
pub const RESPONSE_BUCKET: &str = "cfn-responses";
/// CloudFormation's limit on a response body ("Response object is too long").
pub const RESPONSE_LIMIT: usize = 4096;
/// CloudFormation's limit on a physical resource id.
pub const PHYSICAL_ID_LIMIT: usize = 1024;
/// How long a ResponseURL stays valid, as CloudFormation's do.
const RESPONSE_URL_VALIDITY: Duration = Duration::from_secs(2 * 3600);
/// After the first response, how long to watch for a second one.
const DUPLICATE_WINDOW: Duration = Duration::from_millis(300);
/// How long the function may be idle without having responded before we stop waiting.
const IDLE_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed,
}

/// A response that passed every protocol check.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: Status,
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub data: BTreeMap<String, String>,
    pub no_echo: bool,
    /// The whole body as sent.
    pub body: Value,
    pub request_id: String,
    /// The PUT that carried it (headers: e.g. whether Content-Type was empty or absent).
    pub put: RecordedPut,
}

impl Response {
    /// Asserts SUCCESS (showing the Reason otherwise); returns the response for more checks.
    #[track_caller]
    pub fn expect_success(&self) -> &Self {
        assert_eq!(self.status, Status::Success, "expected SUCCESS, got FAILED: {}", self.reason.as_deref().unwrap_or_default());
        self
    }

    /// Asserts FAILED with a Reason naming each of `words`; returns the Reason.
    #[track_caller]
    pub fn expect_failed_naming(&self, words: &[&str]) -> &str {
        assert_eq!(self.status, Status::Failed, "expected FAILED, got SUCCESS {} {:?}", self.physical_resource_id, self.data);
        let reason = self.reason.as_deref().unwrap_or_default();
        for word in words {
            assert!(reason.contains(word), "the Reason names {word:?}: {reason}");
        }
        reason
    }
}

/// What is wrong with a response, in CloudFormation's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// The presigned URL requires an empty (or no) Content-Type; this one was set.
    ContentType(String),
    /// Content-Length missing or not the body's length in bytes.
    ContentLength {
        header: Option<u64>,
        body: usize,
    },
    /// Body over 4096 bytes.
    TooLong(usize),
    NotJson(String),
    NotObject,
    /// Status neither "SUCCESS" nor "FAILED".
    Status(Value),
    /// StackId, RequestId or LogicalResourceId not echoed from the event.
    NotEchoed {
        field: &'static str,
        expected: Value,
        got: Value,
    },
    /// Missing, empty, not a string or over 1024 bytes.
    PhysicalResourceId(Value),
    /// FAILED without a non-empty Reason, or a Reason that is not a string.
    Reason(Value),
    /// Data not an object of strings.
    Data(Value),
    /// NoEcho present but not a boolean.
    NoEcho(Value),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::ContentType(value) => write!(f, "Content-Type must be empty (or absent), was {value:?}"),
            Violation::ContentLength { header, body } => {
                write!(f, "Content-Length {header:?} but the body has {body} bytes")
            }
            Violation::TooLong(n) => write!(f, "response object is too long: {n} bytes > {RESPONSE_LIMIT}"),
            Violation::NotJson(e) => write!(f, "body is not JSON: {e}"),
            Violation::NotObject => write!(f, "body is not a JSON object"),
            Violation::Status(v) => write!(f, "Status must be SUCCESS or FAILED, was {v}"),
            Violation::NotEchoed { field, expected, got } => write!(f, "{field} must echo {expected}, was {got}"),
            Violation::PhysicalResourceId(v) => {
                write!(f, "PhysicalResourceId must be a non-empty string of at most {PHYSICAL_ID_LIMIT} bytes, was {v}")
            }
            Violation::Reason(v) => write!(f, "Reason must be a non-empty string on FAILED (and a string if present), was {v}"),
            Violation::Data(v) => write!(f, "Data must be an object whose values are strings, was {v}"),
            Violation::NoEcho(v) => write!(f, "NoEcho must be a boolean, was {v}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("bad event: {0}")]
    BadEvent(String),
    #[error("cannot invoke {function}: {source}")]
    Invoke { function: String, source: lambda::Error },
    #[error("cannot presign the ResponseURL: {0}")]
    Presign(String),
    #[error("no response to request {request_id} after {waited:?}\n{detail}")]
    NoResponse { request_id: String, waited: Duration, detail: String },
    #[error("response to request {request_id}: {violation}\nbody: {body}")]
    Violation { request_id: String, violation: Violation, body: String },
    #[error("{count} responses to request {request_id}: exactly one is allowed")]
    Duplicate { request_id: String, count: usize },
}

/// Plays events for one stack. Holds clones of the service handles.
pub struct CloudFormation {
    lambda: LambdaService,
    s3: S3Server,
    stack_id: String,
    timeout: Duration,
    bucket: tokio::sync::OnceCell<()>,
    /// CloudFormation's state, as the functions see it through DescribeStackResource.
    stacks: Stacks,
}

impl CloudFormation {
    /// `stack` is a stack ARN, or a stack name from which one is made
    /// ("arn:aws:cloudformation:us-east-1:123456789012:stack/<name>/<uuid>").
    pub fn new(lambda: &LambdaService, s3: &S3Server, stack: impl Into<String>) -> Self {
        Self::in_stacks(&Stacks::default(), lambda, s3, stack)
    }

    /// A driver whose state is part of `stacks` (which the local CloudFormation API serves).
    pub fn in_stacks(stacks: &Stacks, lambda: &LambdaService, s3: &S3Server, stack: impl Into<String>) -> Self {
        let stack = stack.into();
        let stack_id = if stack.starts_with("arn:") { stack } else { format!("arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack}/{}", uuid_v4()) };
        Self {
            lambda: lambda.clone(),
            s3: s3.clone(),
            stack_id,
            timeout: Duration::from_secs(120),
            bucket: tokio::sync::OnceCell::new(),
            stacks: stacks.clone(),
        }
    }

    /// The state of every stack this driver's functions can see.
    pub fn stacks(&self) -> &Stacks {
        &self.stacks
    }

    pub fn stack_id(&self) -> &str {
        &self.stack_id
    }

    /// How long to wait for a response (default 120 s). The wait ends sooner when the
    /// function goes idle without having responded.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub async fn create(&self, function: &str, logical_id: &str, properties: Value) -> Result<Response, ProtocolError> {
        let event = self.event(RequestType::Create, function, logical_id, None, properties, None).await?;
        self.send(function, event).await
    }

    pub async fn update(
        &self,
        function: &str,
        logical_id: &str,
        physical_id: &str,
        properties: Value,
        old_properties: Value,
    ) -> Result<Response, ProtocolError> {
        let event = self.event(RequestType::Update, function, logical_id, Some(physical_id), properties, Some(old_properties)).await?;
        self.send(function, event).await
    }

    pub async fn delete(&self, function: &str, logical_id: &str, physical_id: &str, properties: Value) -> Result<Response, ProtocolError> {
        let event = self.event(RequestType::Delete, function, logical_id, Some(physical_id), properties, None).await?;
        self.send(function, event).await
    }

    /// The event CloudFormation would send, with a fresh RequestId and ResponseURL; change it
    /// and pass it to [`send`](Self::send) to play a variation. From here on the stack shows
    /// the operation in progress (DescribeStackResource), as CloudFormation does once it sends it.
    pub async fn event(
        &self,
        request_type: RequestType,
        function: &str,
        logical_id: &str,
        physical_id: Option<&str>,
        properties: Value,
        old_properties: Option<Value>,
    ) -> Result<Value, ProtocolError> {
        let service_token = function_arn(function);
        let request_id = uuid_v4();
        let resource_type = format!("Custom::{}", logical_id.replace(|c: char| !c.is_ascii_alphanumeric(), ""));
        let mut event = json!({
            "RequestType": request_type.to_string(),
            "ServiceToken": service_token,
            "ResponseURL": self.response_url(logical_id, &request_id).await?,
            "StackId": self.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": resource_properties(properties, &service_token)?,
        });
        if let Some(physical_id) = physical_id {
            event["PhysicalResourceId"] = json!(physical_id);
        }
        if let Some(old) = old_properties {
            event["OldResourceProperties"] = resource_properties(old, &service_token)?;
        }
        self.begin(&event);
        Ok(event)
    }

    /// A presigned PUT URL (valid 2 h) for s3://cfn-responses/<url-encoded stack id>/<logical id>/<request id>.
    pub async fn response_url(&self, logical_id: &str, request_id: &str) -> Result<String, ProtocolError> {
        self.bucket.get_or_try_init(|| self.s3.create_bucket(RESPONSE_BUCKET)).await.map_err(|e| ProtocolError::Presign(e.to_string()))?;
        let stack: String = url::form_urlencoded::byte_serialize(self.stack_id.as_bytes()).collect();
        let presigning = aws_sdk_s3::presigning::PresigningConfig::expires_in(RESPONSE_URL_VALIDITY).map_err(|e| ProtocolError::Presign(e.to_string()))?;
        let request = self
            .s3
            .client()
            .await
            .put_object()
            .bucket(RESPONSE_BUCKET)
            .key(format!("{stack}/{logical_id}/{request_id}"))
            .presigned(presigning)
            .await
            .map_err(|e| ProtocolError::Presign(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
        Ok(request.uri().to_string())
    }

    /// Delivers a (possibly hostile) event asynchronously, waits for its response and checks it.
    /// The event must carry a RequestId; its ResponseURL should come from `response_url`.
    pub async fn send(&self, function: &str, event: Value) -> Result<Response, ProtocolError> {
        let request_id = event.get("RequestId").and_then(Value::as_str).ok_or_else(|| ProtocolError::BadEvent("no RequestId to wait for".into()))?.to_string();
        tracing::info!(function, %request_id, request_type = %event["RequestType"], "CloudFormation event");
        // Whatever the event says, CloudFormation is now doing it (its StackId may be another stack's).
        self.begin(&event);
        self.lambda.invoke_async(function, event.clone()).await.map_err(|source| ProtocolError::Invoke { function: function.to_string(), source })?;

        let first = self.wait_for_response(function, &request_id).await?;
        tokio::time::sleep(DUPLICATE_WINDOW).await;
        let body = first.body.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
        let response = check(&first, &event, &request_id).map_err(|violation| ProtocolError::Violation { request_id: request_id.clone(), violation, body })?;
        let count = self.responses_for(&request_id);
        if count > 1 {
            return Err(ProtocolError::Duplicate { request_id, count });
        }
        if let Some(stack_id) = event.get("StackId").and_then(Value::as_str) {
            self.stacks.update(stack_id, |stack| finish(stack, &event, &response));
        }
        tracing::info!(%request_id, status = ?response.status, physical_id = %response.physical_resource_id, "CloudFormation response");
        Ok(response)
    }

    /// Lambda delivers one asynchronous event twice, at once (at-least-once delivery): waits for
    /// both deliveries to finish and checks each answer. Both must answer: each delivery is an
    /// invocation CloudFormation may be waiting on.
    pub async fn deliver_twice(&self, function: &str, event: Value) -> Result<[Response; 2], ProtocolError> {
        let request_id = event.get("RequestId").and_then(Value::as_str).ok_or_else(|| ProtocolError::BadEvent("no RequestId to wait for".into()))?.to_string();
        self.begin(&event);
        for _ in 0..2 {
            self.lambda.invoke_async(function, event.clone()).await.map_err(|source| ProtocolError::Invoke { function: function.to_string(), source })?;
        }
        if !self.lambda.wait_idle(function, self.timeout).await {
            return Err(self.no_response(function, &request_id, self.timeout, "timed out waiting for both deliveries"));
        }
        let puts: Vec<RecordedPut> = self.puts_for(&request_id).into_iter().filter(RecordedPut::succeeded).collect();
        if puts.len() < 2 {
            return Err(self.no_response(function, &request_id, self.timeout, &format!("{} of the two deliveries answered", puts.len())));
        }
        if puts.len() > 2 {
            return Err(ProtocolError::Duplicate { request_id, count: puts.len() });
        }
        let mut checked = Vec::with_capacity(2);
        for put in &puts {
            let body = put.body.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
            checked.push(check(put, &event, &request_id).map_err(|violation| ProtocolError::Violation { request_id: request_id.clone(), violation, body })?);
        }
        let answers: [Response; 2] = checked.try_into().expect("two answers checked");
        if let Some(stack_id) = event.get("StackId").and_then(Value::as_str) {
            self.stacks.update(stack_id, |stack| finish(stack, &event, &answers[0]));
        }
        Ok(answers)
    }

    /// The stack shows the event's operation in progress, as once CloudFormation sends it.
    fn begin(&self, event: &Value) {
        let text = |name: &str| event.get(name).and_then(Value::as_str);
        let request_type = match text("RequestType") {
            Some("Create") => RequestType::Create,
            Some("Update") => RequestType::Update,
            Some("Delete") => RequestType::Delete,
            _ => return,
        };
        let (Some(stack_id), Some(logical_id)) = (text("StackId"), text("LogicalResourceId")) else { return };
        let resource_type = text("ResourceType").unwrap_or_default();
        let physical_id = text("PhysicalResourceId");
        self.stacks.update(stack_id, |stack| begin(stack, request_type, logical_id, physical_id, resource_type));
    }

    /// How many responses (PUTs that S3 accepted) arrived for the request.
    pub fn responses_for(&self, request_id: &str) -> usize {
        self.puts_for(request_id).iter().filter(|put| put.succeeded()).count()
    }

    /// Every PUT for the request, refused ones (e.g. injected faults) included.
    pub fn puts_for(&self, request_id: &str) -> Vec<RecordedPut> {
        self.s3.recorded_puts(&format!("/{RESPONSE_BUCKET}/")).into_iter().filter(|put| put.path.rsplit('/').next() == Some(request_id)).collect()
    }

    async fn wait_for_response(&self, function: &str, request_id: &str) -> Result<RecordedPut, ProtocolError> {
        let mut puts = self.s3.subscribe_puts();
        let started = Instant::now();
        let mut idle_since: Option<Instant> = None;
        loop {
            if let Some(put) = self.puts_for(request_id).into_iter().find(RecordedPut::succeeded) {
                return Ok(put);
            }
            // Responses are sent within an invocation: idle and silent means none will come.
            let now = Instant::now();
            if self.lambda.is_idle(function) {
                let since = *idle_since.get_or_insert(now);
                if now - since >= IDLE_GRACE {
                    return Err(self.no_response(function, request_id, started.elapsed(), "the function finished without responding"));
                }
            } else {
                idle_since = None;
            }
            if now - started >= self.timeout {
                return Err(self.no_response(function, request_id, started.elapsed(), "timed out waiting"));
            }
            tokio::select! {
                _ = puts.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Everything that helps to see why no response came.
    fn no_response(&self, function: &str, request_id: &str, waited: Duration, why: &str) -> ProtocolError {
        let mut detail = format!("{why}\n");
        for record in self.lambda.invocations(function) {
            if record.payload.get("RequestId").and_then(Value::as_str) == Some(request_id) {
                let outcome = match &record.outcome {
                    Outcome::Response(v) => format!("returned {v}"),
                    Outcome::Error(v) => format!("failed {v}"),
                    Outcome::TimedOut => "timed out".to_string(),
                };
                detail.push_str(&format!("invocation {} ({:?}): {outcome}\n", record.request_id, record.source));
            }
        }
        for put in self.puts_for(request_id) {
            detail.push_str(&format!(
                "refused PUT: status {} content-type {:?} content-length {:?} body {} bytes\n",
                put.status, put.content_type, put.content_length, put.body_len
            ));
        }
        let logs = self.lambda.logs(function);
        let tail: Vec<&str> = logs.lines().rev().take(40).collect();
        detail.push_str("function log (last lines):\n");
        for line in tail.into_iter().rev() {
            detail.push_str(line);
            detail.push('\n');
        }
        ProtocolError::NoResponse { request_id: request_id.to_string(), waited, detail }
    }
}

/// The stack and resource status CloudFormation shows once it sends the event.
fn begin(stack: &mut Stack, request_type: RequestType, logical_id: &str, physical_id: Option<&str>, resource_type: &str) {
    let in_progress =
        |status: &str| StackResource { resource_type: resource_type.to_string(), physical_id: physical_id.map(str::to_string), status: status.into() };
    let rolling_back = matches!(stack.status.as_str(), "ROLLBACK_IN_PROGRESS" | "UPDATE_ROLLBACK_IN_PROGRESS");
    match request_type {
        RequestType::Create => {
            stack.status =
                if matches!(stack.status.as_str(), "REVIEW_IN_PROGRESS" | "CREATE_IN_PROGRESS") { "CREATE_IN_PROGRESS" } else { "UPDATE_IN_PROGRESS" }.into();
            stack.resources.insert(logical_id.into(), in_progress("CREATE_IN_PROGRESS"));
        }
        RequestType::Update => {
            // An Update during a rollback is the rollback's (back to the old properties).
            if !rolling_back {
                stack.status = "UPDATE_IN_PROGRESS".into();
            }
            stack.resources.insert(logical_id.into(), in_progress("UPDATE_IN_PROGRESS"));
        }
        RequestType::Delete => match stack.resources.get(logical_id) {
            // An id the stack no longer keeps: a replaced one, deleted in the cleanup phase.
            Some(kept) if kept.physical_id.is_some() && kept.physical_id.as_deref() != physical_id => {
                let rolled_back = stack.status.starts_with("UPDATE_ROLLBACK");
                stack.status = if rolled_back { "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS" } else { "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" }.into();
            }
            _ => {
                if !rolling_back {
                    stack.status = "DELETE_IN_PROGRESS".into();
                }
                stack.resources.insert(logical_id.into(), in_progress("DELETE_IN_PROGRESS"));
            }
        },
    }
}

/// The statuses once CloudFormation has the response to `event`.
fn finish(stack: &mut Stack, event: &Value, response: &Response) {
    let text = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let logical_id = text("LogicalResourceId");
    let ok = response.status == Status::Success;
    let next = |stack_status: &str| -> Option<&'static str> {
        Some(match (stack_status, ok) {
            ("CREATE_IN_PROGRESS", true) => "CREATE_COMPLETE",
            ("CREATE_IN_PROGRESS", false) => "ROLLBACK_IN_PROGRESS",
            ("UPDATE_IN_PROGRESS", true) => "UPDATE_COMPLETE",
            ("UPDATE_IN_PROGRESS", false) => "UPDATE_ROLLBACK_IN_PROGRESS",
            ("UPDATE_ROLLBACK_IN_PROGRESS", true) => "UPDATE_ROLLBACK_COMPLETE",
            ("UPDATE_ROLLBACK_IN_PROGRESS", false) => "UPDATE_ROLLBACK_FAILED",
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", _) => "UPDATE_COMPLETE",
            ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", _) => "UPDATE_ROLLBACK_COMPLETE",
            _ => return None,
        })
    };
    let Some(resource) = stack.resources.get_mut(&logical_id) else { return };
    let (resource_status, physical_id) = match (text("RequestType").as_str(), ok) {
        ("Create", true) => ("CREATE_COMPLETE", Some(response.physical_resource_id.clone())),
        ("Create", false) => ("CREATE_FAILED", Some(response.physical_resource_id.clone())),
        ("Update", true) => ("UPDATE_COMPLETE", Some(response.physical_resource_id.clone())),
        // CloudFormation keeps the old id after a failed Update.
        ("Update", false) => ("UPDATE_FAILED", resource.physical_id.clone()),
        ("Delete", _) if resource.status != "DELETE_IN_PROGRESS" => {
            // The cleanup of a replaced id: the resource itself is untouched.
            if let Some(status) = next(&stack.status) {
                stack.status = status.into();
            }
            return;
        }
        ("Delete", true) => ("DELETE_COMPLETE", resource.physical_id.clone()),
        ("Delete", false) => ("DELETE_FAILED", resource.physical_id.clone()),
        _ => return,
    };
    resource.status = resource_status.into();
    resource.physical_id = physical_id;
    if text("RequestType") != "Delete"
        && let Some(status) = next(&stack.status)
    {
        stack.status = status.into();
    }
}

/// ResourceProperties as CloudFormation delivers them: numbers and booleans as strings, and
/// the ServiceToken added.
#[allow(clippy::result_large_err)] // rare, and goes straight to the caller
fn resource_properties(properties: Value, service_token: &str) -> Result<Value, ProtocolError> {
    let mut properties = match stringify_scalars(properties) {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        other => return Err(ProtocolError::BadEvent(format!("properties must be an object, got {other}"))),
    };
    properties.insert("ServiceToken".into(), json!(service_token));
    Ok(Value::Object(properties))
}

/// Converts every number and boolean to a string, recursively, as CloudFormation does.
pub fn stringify_scalars(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(items) => Value::Array(items.into_iter().map(stringify_scalars).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, stringify_scalars(v))).collect()),
        other => other,
    }
}

/// The protocol checks, in the order CloudFormation would trip over them.
fn check(put: &RecordedPut, event: &Value, request_id: &str) -> Result<Response, Violation> {
    if let Some(content_type) = &put.content_type
        && !content_type.is_empty()
    {
        return Err(Violation::ContentType(content_type.clone()));
    }
    if put.content_length != Some(put.body_len as u64) {
        return Err(Violation::ContentLength { header: put.content_length, body: put.body_len });
    }
    if put.body_len > RESPONSE_LIMIT {
        return Err(Violation::TooLong(put.body_len));
    }
    let bytes = put.body.as_deref().unwrap_or_default();
    let body: Value = serde_json::from_slice(bytes).map_err(|e| Violation::NotJson(e.to_string()))?;
    let object = body.as_object().ok_or(Violation::NotObject)?;
    let field = |name: &str| object.get(name).cloned().unwrap_or(Value::Null);

    let status = match object.get("Status").and_then(Value::as_str) {
        Some("SUCCESS") => Status::Success,
        Some("FAILED") => Status::Failed,
        _ => return Err(Violation::Status(field("Status"))),
    };
    for name in ["StackId", "RequestId", "LogicalResourceId"] {
        let expected = event.get(name).cloned().unwrap_or(Value::Null);
        if field(name) != expected {
            return Err(Violation::NotEchoed { field: name, expected, got: field(name) });
        }
    }
    let physical_resource_id = match object.get("PhysicalResourceId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.len() <= PHYSICAL_ID_LIMIT => id.to_string(),
        _ => return Err(Violation::PhysicalResourceId(field("PhysicalResourceId"))),
    };
    let reason = match object.get("Reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(reason)) => Some(reason.clone()),
        Some(other) => return Err(Violation::Reason(other.clone())),
    };
    if status == Status::Failed && reason.as_deref().is_none_or(str::is_empty) {
        return Err(Violation::Reason(field("Reason")));
    }
    let mut data = BTreeMap::new();
    match object.get("Data") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                let Value::String(value) = value else { return Err(Violation::Data(field("Data"))) };
                data.insert(key.clone(), value.clone());
            }
        }
        Some(other) => return Err(Violation::Data(other.clone())),
    }
    let no_echo = match object.get("NoEcho") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(Violation::NoEcho(other.clone())),
    };
    Ok(Response { status, reason, physical_resource_id, data, no_echo, request_id: request_id.to_string(), put: put.clone(), body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_become_strings_recursively() {
        let properties = json!({"A": 60, "B": true, "C": [1.5, {"D": false}], "E": "x", "F": null});
        assert_eq!(stringify_scalars(properties), json!({"A": "60", "B": "true", "C": ["1.5", {"D": "false"}], "E": "x", "F": null}));
    }
}
