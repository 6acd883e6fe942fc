//! The emulator's public values: what a function is deployed with, and what its invocations
//! and processes leave behind.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{ACCOUNT_ID, REGION};

/// Lambda's limit on an asynchronous (Event) invocation payload.
pub const EVENT_PAYLOAD_LIMIT: usize = 256 * 1024;
/// Lambda's limit on a synchronous (RequestResponse) invocation payload.
pub const SYNC_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// "arn:aws:lambda:us-east-1:123456789012:function:NAME"
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}")
}

/// A function to deploy.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    /// The program to run: a bootstrap binary, or an interpreter given `args`.
    pub binary: PathBuf,
    /// Arguments of `binary` (e.g. `-m awslambdaric handler.handler` for a Python runtime).
    pub args: Vec<String>,
    /// Set on top of the standard Lambda environment (e.g. AWS_ENDPOINT_URL_SAGEMAKER).
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub memory_mb: u32,
}

impl FunctionConfig {
    /// Lambda's defaults for the rest: 900 s timeout (the maximum), 128 MB.
    pub fn new(name: impl Into<String>, binary: impl Into<PathBuf>) -> Self {
        Self { name: name.into(), binary: binary.into(), args: Vec::new(), env: Vec::new(), timeout: Duration::from_secs(900), memory_mb: 128 }
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
}

/// One process started for a function (for benchmarks: init time, and the pid to read
/// /proc/<pid>/status while it waits for its next invocation).
#[derive(Debug, Clone)]
pub struct ProcessRecord {
    /// None if the process could not be started.
    pub pid: Option<u32>,
    /// Just before the process was spawned.
    pub spawned: std::time::Instant,
    /// When it first asked the Runtime API for an invocation (its init done).
    pub first_next: Option<std::time::Instant>,
}

impl ProcessRecord {
    /// From spawn to the first `next` call, once there was one.
    pub fn init_duration(&self) -> Option<Duration> {
        self.first_next.map(|first| first.duration_since(self.spawned))
    }
}

/// Who asked for an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationSource {
    /// The Rust API or the service endpoint (a test, the CloudFormation driver, a client).
    Api,
    /// A request to the function's URL ([`LambdaService::invoke_url`](super::LambdaService::invoke_url)).
    FunctionUrl,
    /// The function itself, through the Invoke API (a continuation).
    SelfInvoke,
    /// Another deployed function, through the Invoke API.
    Function(String),
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function's response (a body that is not JSON is kept as a JSON string).
    Response(Value),
    /// The error document: the function's {errorType, errorMessage, ...}, or one made by the
    /// emulator when the process crashed (Runtime.ExitError) or could not start.
    Error(Value),
    /// No answer by the deadline: the process was killed.
    TimedOut,
}

/// One finished invocation.
#[derive(Debug, Clone)]
pub struct InvocationRecord {
    pub request_id: String,
    pub payload: Value,
    pub source: InvocationSource,
    /// InvocationType=Event (true) or RequestResponse (false).
    pub asynchronous: bool,
    pub outcome: Outcome,
    /// From delivery to the process until the outcome (queueing time excluded).
    pub duration: Duration,
}

/// An error of the Lambda service itself (not of the function).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("Function not found: {}", function_arn(.0))]
    FunctionNotFound(String),
    #[error("Request must be smaller than {limit} bytes for the Invoke operation (got {size} bytes)")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("function {0} is no longer running in the emulator")]
    Stopped(String),
}

impl Error {
    /// The AWS error code, as an SDK's `.code()` reports it.
    pub fn code(&self) -> &'static str {
        match self {
            Error::FunctionNotFound(_) => "ResourceNotFoundException",
            Error::PayloadTooLarge { .. } => "RequestEntityTooLargeException",
            Error::Stopped(_) => "ServiceException",
        }
    }

    pub(super) fn status(&self) -> u16 {
        match self {
            Error::FunctionNotFound(_) => 404,
            Error::PayloadTooLarge { .. } => 413,
            Error::Stopped(_) => 500,
        }
    }
}

/// Why a synchronous invocation did not return a response: the function's error document,
/// a timeout, or a service error (then `error_type` is the AWS error code).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
    /// The whole error document.
    pub body: Value,
}

impl From<Error> for FunctionError {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        FunctionError { error_type: error.code().to_string(), body: json!({"errorType": error.code(), "errorMessage": message}), error_message: message }
    }
}

pub(super) fn json_size(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(0, |bytes| bytes.len())
}

pub(super) fn outcome_result(outcome: Outcome) -> Result<Value, FunctionError> {
    match outcome {
        Outcome::Response(value) => Ok(value),
        Outcome::Error(body) => {
            let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
            Err(FunctionError { error_type: field("errorType"), error_message: field("errorMessage"), body })
        }
        Outcome::TimedOut => {
            let body = timed_out_document();
            Err(FunctionError { error_type: "Sandbox.Timedout".into(), error_message: "Task timed out".into(), body })
        }
    }
}

pub(super) fn timed_out_document() -> Value {
    json!({"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"})
}

pub(super) fn error_document(error_type: &str, message: impl Into<String>) -> Value {
    json!({"errorType": error_type, "errorMessage": message.into()})
}
