//! A Lambda service emulator: runs function binaries as real child processes speaking the
//! Lambda Runtime API, and serves the Invoke API (so functions can re-invoke themselves).
//!
//! Each function has one instance (process) at a time and a queue; invocations are delivered
//! one at a time. A process that misses its deadline is killed and replaced, as Lambda does;
//! one that exits is replaced for the next invocation.
//!
//! Every process gets its own HTTP server, which serves both its Runtime API and the Invoke
//! API (its AWS_ENDPOINT_URL_LAMBDA). That is how an invocation is known to come from the
//! function itself ([`InvocationSource::SelfInvoke`]), and why killing a process also cuts
//! its pending long-poll.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::httpd::{self, ServerHandle};
use crate::{ACCOUNT_ID, REGION, lock, uuid_v4};

/// Lambda's limit on an asynchronous (Event) invocation payload.
pub const EVENT_PAYLOAD_LIMIT: usize = 256 * 1024;
/// Lambda's limit on a synchronous (RequestResponse) invocation payload.
pub const SYNC_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;
/// How long a new process may take to ask for its first invocation (Lambda's init limit).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";
const INVOKE_PREFIX: &str = "/2015-03-31/functions/";

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

    fn status(&self) -> u16 {
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

/// The Lambda service. Cheap to clone; when the last clone is dropped, every function
/// process is killed.
#[derive(Clone)]
pub struct LambdaService {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    functions: Mutex<HashMap<String, Arc<Function>>>,
    supervisors: Mutex<Vec<JoinHandle<()>>>,
    _server: ServerHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A supervisor owns its function's process (kill_on_drop): aborting it kills the process.
        for supervisor in lock(&self.supervisors).drain(..) {
            supervisor.abort();
        }
    }
}

struct Function {
    config: FunctionConfig,
    queue: mpsc::UnboundedSender<Queued>,
    state: Mutex<FunctionState>,
    /// Queued plus running invocations.
    busy: watch::Sender<usize>,
    logs: Mutex<String>,
}

#[derive(Default)]
struct FunctionState {
    records: Vec<InvocationRecord>,
    init_errors: Vec<Value>,
    processes: Vec<ProcessRecord>,
}

struct Queued {
    request_id: String,
    payload: Value,
    source: InvocationSource,
    reply: Option<oneshot::Sender<Outcome>>,
}

impl LambdaService {
    pub async fn start() -> std::io::Result<Self> {
        let listener = httpd::bind_loopback().await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let service = weak.clone();
            let server = httpd::serve(listener, move |req| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(invoke_api(&service, None, req).await) }
            });
            Inner { endpoint, functions: Mutex::new(HashMap::new()), supervisors: Mutex::new(Vec::new()), _server: server }
        });
        Ok(Self { inner })
    }

    /// "http://127.0.0.1:PORT": the Invoke API, for clients outside the functions.
    pub fn endpoint(&self) -> String {
        self.inner.endpoint.clone()
    }

    /// Starts the function's process (its first instance) and accepts invocations for it.
    /// Fails if the binary cannot be started or the name is taken.
    pub async fn deploy(&self, config: FunctionConfig) -> std::io::Result<()> {
        let (queue, queue_rx) = mpsc::unbounded_channel();
        let function =
            Arc::new(Function { config, queue, state: Mutex::new(FunctionState::default()), busy: watch::Sender::new(0), logs: Mutex::new(String::new()) });
        let service = Arc::downgrade(&self.inner);
        let instance = Instance::spawn(&function, &service).await?;
        let name = function.config.name.clone();
        {
            let mut functions = lock(&self.inner.functions);
            if functions.contains_key(&name) {
                return Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("function {name} is already deployed")));
            }
            functions.insert(name, function.clone());
        }
        let supervisor = tokio::spawn(supervise(function, service, Some(instance), queue_rx));
        lock(&self.inner.supervisors).push(supervisor);
        Ok(())
    }

    /// Queues an invocation like InvocationType=Event and returns at once.
    pub async fn invoke_async(&self, name: &str, payload: Value) -> Result<(), Error> {
        let size = json_size(&payload);
        self.inner.submit(name, payload, size, InvocationSource::Api, false).map(drop)
    }

    /// Invokes like InvocationType=RequestResponse: the function's response, or its error.
    pub async fn invoke(&self, name: &str, payload: Value) -> Result<Value, FunctionError> {
        let size = json_size(&payload);
        let reply = self.inner.submit(name, payload, size, InvocationSource::Api, true)?;
        match reply {
            Some(reply) => outcome_result(reply.await.map_err(|_| Error::Stopped(name.to_string()))?),
            None => Err(Error::Stopped(name.to_string()).into()),
        }
    }

    /// Every finished invocation of the function, oldest first.
    pub fn invocations(&self, name: &str) -> Vec<InvocationRecord> {
        self.inner.function(name).map(|f| lock(&f.state).records.clone()).unwrap_or_default()
    }

    /// What the function's processes wrote to stdout and stderr, with Lambda's START/END/REPORT
    /// lines around each invocation.
    pub fn logs(&self, name: &str) -> String {
        self.inner.function(name).map(|f| lock(&f.logs).clone()).unwrap_or_default()
    }

    /// Every process started for the function, oldest first (the current one last).
    pub fn processes(&self, name: &str) -> Vec<ProcessRecord> {
        self.inner.function(name).map(|f| lock(&f.state).processes.clone()).unwrap_or_default()
    }

    /// Documents the function's processes posted to /runtime/init/error.
    pub fn init_errors(&self, name: &str) -> Vec<Value> {
        self.inner.function(name).map(|f| lock(&f.state).init_errors.clone()).unwrap_or_default()
    }

    /// Waits until the function has no queued or running invocation (continuations included,
    /// since a function queues its continuation before its own invocation ends). False on
    /// timeout, or if no such function is deployed.
    pub async fn wait_idle(&self, name: &str, timeout: Duration) -> bool {
        let Some(function) = self.inner.function(name) else { return false };
        let mut busy = function.busy.subscribe();
        matches!(tokio::time::timeout(timeout, busy.wait_for(|n| *n == 0)).await, Ok(Ok(_)))
    }

    /// Whether the function has no queued or running invocation right now.
    pub fn is_idle(&self, name: &str) -> bool {
        self.inner.function(name).is_some_and(|f| *f.busy.borrow() == 0)
    }
}

impl Inner {
    fn function(&self, name: &str) -> Option<Arc<Function>> {
        lock(&self.functions).get(name).cloned()
    }

    /// Queues an invocation; with `want_reply`, returns where the outcome will arrive.
    fn submit(&self, name: &str, payload: Value, size: usize, source: InvocationSource, want_reply: bool) -> Result<Option<oneshot::Receiver<Outcome>>, Error> {
        let limit = if want_reply { SYNC_PAYLOAD_LIMIT } else { EVENT_PAYLOAD_LIMIT };
        if size > limit {
            return Err(Error::PayloadTooLarge { size, limit });
        }
        let function = self.function(name).ok_or_else(|| Error::FunctionNotFound(name.to_string()))?;
        let (reply, receiver) = if want_reply {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        function.busy.send_modify(|n| *n += 1);
        let queued = Queued { request_id: uuid_v4(), payload, source, reply };
        if function.queue.send(queued).is_err() {
            function.busy.send_modify(|n| *n = n.saturating_sub(1));
            return Err(Error::Stopped(name.to_string()));
        }
        Ok(receiver)
    }
}

impl Function {
    fn log(&self, line: impl AsRef<str>) {
        let mut logs = lock(&self.logs);
        logs.push_str(line.as_ref());
        logs.push('\n');
    }
}

fn json_size(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(0, |bytes| bytes.len())
}

fn outcome_result(outcome: Outcome) -> Result<Value, FunctionError> {
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

fn timed_out_document() -> Value {
    json!({"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"})
}

fn error_document(error_type: &str, message: impl Into<String>) -> Value {
    json!({"errorType": error_type, "errorMessage": message.into()})
}

// ---------------------------------------------------------------------------------------------
// The supervisor: one task per function, delivering its queue one invocation at a time.

async fn supervise(function: Arc<Function>, service: Weak<Inner>, mut instance: Option<Instance>, mut queue: mpsc::UnboundedReceiver<Queued>) {
    while let Some(queued) = queue.recv().await {
        let started = Instant::now();
        function.log(format!("START RequestId: {} Version: $LATEST", queued.request_id));
        let outcome = run_invocation(&function, &service, &mut instance, &queued).await;
        let duration = started.elapsed();
        function.log(format!("END RequestId: {}", queued.request_id));
        function.log(format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tMemory Size: {} MB",
            queued.request_id,
            duration.as_secs_f64() * 1000.0,
            function.config.memory_mb
        ));
        // Record before replying and before going idle, so that waiters see the record.
        lock(&function.state).records.push(InvocationRecord {
            request_id: queued.request_id,
            payload: queued.payload,
            source: queued.source,
            asynchronous: queued.reply.is_none(),
            outcome: outcome.clone(),
            duration,
        });
        if let Some(reply) = queued.reply {
            let _ = reply.send(outcome);
        }
        function.busy.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Delivers one invocation to the instance (starting one if needed) and waits for its outcome.
async fn run_invocation(function: &Arc<Function>, service: &Weak<Inner>, slot: &mut Option<Instance>, queued: &Queued) -> Outcome {
    if let Some(instance) = slot
        && let Ok(Some(status)) = instance.child.try_wait()
    {
        function.log(format!("process exited while idle ({status}); starting a new one"));
        *slot = None;
    }
    let instance = match slot {
        Some(instance) => instance,
        None => match Instance::spawn(function, service).await {
            Ok(instance) => slot.insert(instance),
            Err(error) => {
                function.log(format!("cannot start {}: {error}", function.config.binary.display()));
                return Outcome::Error(error_document("Runtime.StartError", error.to_string()));
            }
        },
    };

    let delivery = Delivery { request_id: queued.request_id.clone(), payload: queued.payload.clone() };
    if instance.next.send(delivery).await.is_err() {
        *slot = None;
        return Outcome::Error(error_document("Runtime.Unknown", "the runtime API of the process is gone"));
    }

    // Until the process picks the invocation up, it has the init limit; then the function timeout.
    let mut deadline = Instant::now() + INIT_TIMEOUT;
    let mut picked = false;
    let id = queued.request_id.as_str();
    let (outcome, discard) = loop {
        tokio::select! {
            event = instance.events.recv() => match event {
                Some(RuntimeEvent::Picked { request_id, deadline: d }) if request_id == id => {
                    picked = true;
                    deadline = d;
                }
                Some(RuntimeEvent::Response { request_id, body }) if request_id == id => {
                    break (Outcome::Response(body_value(&body)), false);
                }
                Some(RuntimeEvent::Error { request_id, body }) if request_id == id => {
                    break (Outcome::Error(body), false);
                }
                // Lambda resets the sandbox after an init error; the invocation fails with it.
                Some(RuntimeEvent::InitError(body)) => break (Outcome::Error(body), true),
                Some(_) => {} // about another request id: a confused runtime, ignored
                None => break (Outcome::Error(error_document("Runtime.Unknown", "runtime API closed")), true),
            },
            status = instance.child.wait() => {
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                let message = format!("RequestId: {id} Error: Runtime exited ({status})");
                function.log(&message);
                break (Outcome::Error(error_document("Runtime.ExitError", message)), true);
            }
            () = tokio::time::sleep_until(deadline) => {
                if picked {
                    function.log(format!(
                        "{id} Task timed out after {:.2} seconds",
                        function.config.timeout.as_secs_f64()
                    ));
                    break (Outcome::TimedOut, true);
                }
                let message = format!("the process did not ask for an invocation within {INIT_TIMEOUT:?}");
                function.log(&message);
                break (Outcome::Error(error_document("Runtime.InitTimeout", message)), true);
            }
        }
    };
    if discard && let Some(mut instance) = slot.take() {
        let _ = instance.child.kill().await;
    }
    outcome
}

fn body_value(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

// ---------------------------------------------------------------------------------------------
// An instance: one process and its Runtime API server.

struct Instance {
    child: Child,
    next: mpsc::Sender<Delivery>,
    events: mpsc::UnboundedReceiver<RuntimeEvent>,
    _server: ServerHandle,
}

struct Delivery {
    request_id: String,
    payload: Value,
}

enum RuntimeEvent {
    Picked { request_id: String, deadline: Instant },
    Response { request_id: String, body: Bytes },
    Error { request_id: String, body: Value },
    InitError(Value),
}

impl Instance {
    async fn spawn(function: &Arc<Function>, service: &Weak<Inner>) -> std::io::Result<Self> {
        let config = &function.config;
        let listener = httpd::bind_loopback().await?;
        let runtime_api = listener.local_addr()?.to_string();
        let (next, next_rx) = mpsc::channel(1);
        let (events_tx, events) = mpsc::unbounded_channel();
        let process = {
            let mut state = lock(&function.state);
            state.processes.push(ProcessRecord { pid: None, spawned: std::time::Instant::now(), first_next: None });
            state.processes.len() - 1
        };
        let api =
            Arc::new(RuntimeApi { function: function.clone(), process, next: tokio::sync::Mutex::new(next_rx), events: events_tx, service: service.clone() });
        let server = httpd::serve(listener, move |req| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.handle(req).await) }
        });

        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let mut command = Command::new(&config.binary);
        command
            .args(&config.args)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", &config.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", config.memory_mb.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream_name())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", config.name))
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", crate::s3::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", crate::s3::SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_LAMBDA", format!("http://{runtime_api}"))
            .env("PATH", path)
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        lock(&function.state).processes[process].spawned = std::time::Instant::now();
        let mut child = command.spawn().map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {}: {e}", config.binary.display())))?;
        lock(&function.state).processes[process].pid = child.id();
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(capture(stdout, function.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(capture(stderr, function.clone()));
        }
        Ok(Instance { child, next, events, _server: server })
    }
}

/// Appends the process's output to the function's logs, line by line.
async fn capture(stream: impl AsyncRead + Unpin, function: Arc<Function>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                tracing::debug!(target: "local_cloud::lambda", function = %function.config.name, "{text}");
                function.log(text);
            }
        }
    }
}

/// The Runtime API of one instance (plus the Invoke API, for the process's own calls).
struct RuntimeApi {
    function: Arc<Function>,
    /// This instance's index in the function's process records.
    process: usize,
    next: tokio::sync::Mutex<mpsc::Receiver<Delivery>>,
    events: mpsc::UnboundedSender<RuntimeEvent>,
    service: Weak<Inner>,
}

impl RuntimeApi {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        if path.starts_with(INVOKE_PREFIX) {
            return invoke_api(&self.service, Some(&self.function.config.name), req).await;
        }
        let Some(route) = path.strip_prefix(RUNTIME_PREFIX) else { return not_found() };
        let segments: Vec<&str> = route.split('/').collect();
        match (req.method().clone(), segments.as_slice()) {
            (Method::GET, ["invocation", "next"]) => self.next().await,
            (Method::POST, ["invocation", id, "response"]) => {
                let request_id = id.to_string();
                let Ok(body) = read_body(req).await else { return bad_request("unreadable body") };
                let _ = self.events.send(RuntimeEvent::Response { request_id, body });
                accepted()
            }
            (Method::POST, ["invocation", id, "error"]) => {
                let request_id = id.to_string();
                let error_type = header(&req, "lambda-runtime-function-error-type");
                let Ok(body) = read_body(req).await else { return bad_request("unreadable body") };
                let body = error_body(&body, error_type);
                let _ = self.events.send(RuntimeEvent::Error { request_id, body });
                accepted()
            }
            (Method::POST, ["init", "error"]) => {
                let error_type = header(&req, "lambda-runtime-function-error-type");
                let Ok(body) = read_body(req).await else { return bad_request("unreadable body") };
                let body = error_body(&body, error_type);
                self.function.log(format!("INIT_REPORT Status: error {body}"));
                lock(&self.function.state).init_errors.push(body.clone());
                let _ = self.events.send(RuntimeEvent::InitError(body));
                accepted()
            }
            _ => not_found(),
        }
    }

    /// The long-poll: blocks until the supervisor delivers an invocation.
    async fn next(&self) -> Response<Full<Bytes>> {
        if let Some(record) = lock(&self.function.state).processes.get_mut(self.process) {
            record.first_next.get_or_insert_with(std::time::Instant::now);
        }
        let delivery = self.next.lock().await.recv().await;
        let Some(delivery) = delivery else {
            return httpd::response(500, &[], "{\"errorMessage\":\"instance stopped\"}");
        };
        let timeout = self.function.config.timeout;
        let deadline_ms = (SystemTime::now() + timeout).duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()).to_string();
        let _ = self.events.send(RuntimeEvent::Picked { request_id: delivery.request_id.clone(), deadline: Instant::now() + timeout });
        let arn = function_arn(&self.function.config.name);
        let trace = format!(
            "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            fastrand::u128(..) >> 32,
            fastrand::u64(..)
        );
        let body = serde_json::to_vec(&delivery.payload).unwrap_or_default();
        httpd::response(
            200,
            &[
                ("content-type", "application/json"),
                ("lambda-runtime-aws-request-id", &delivery.request_id),
                ("lambda-runtime-deadline-ms", &deadline_ms),
                ("lambda-runtime-invoked-function-arn", &arn),
                ("lambda-runtime-trace-id", &trace),
            ],
            body,
        )
    }
}

/// The runtime's error document; the error type header fills a missing errorType.
fn error_body(body: &[u8], error_type: Option<String>) -> Value {
    let mut value = body_value(body);
    if !value.is_object() {
        value = json!({"errorMessage": value});
    }
    if let (Some(object), Some(error_type)) = (value.as_object_mut(), error_type) {
        object.entry("errorType").or_insert(Value::String(error_type));
    }
    value
}

// ---------------------------------------------------------------------------------------------
// The Invoke API: POST /2015-03-31/functions/{FunctionName}/invocations

async fn invoke_api(service: &Weak<Inner>, caller: Option<&str>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(inner) = service.upgrade() else {
        return aws_error(500, "ServiceException", "the Lambda emulator is shutting down");
    };
    let path = req.uri().path().to_string();
    let function_name = path
        .strip_prefix(INVOKE_PREFIX)
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .map(|name| percent_encoding::percent_decode_str(name).decode_utf8_lossy().into_owned());
    let (Some(function_name), true) = (function_name, req.method() == Method::POST) else {
        return aws_error(404, "UnknownOperationException", "unknown operation");
    };
    let name = name_from_function_name(&function_name);
    let invocation_type = header(&req, "x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".into());
    let Ok(body) = read_body(req).await else { return bad_request("unreadable body") };

    let asynchronous = match invocation_type.as_str() {
        "Event" => true,
        "RequestResponse" | "DryRun" => false,
        other => {
            return aws_error(400, "InvalidParameterValueException", &format!("bad InvocationType {other:?}"));
        }
    };
    let payload: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(payload) => payload,
            Err(e) => return aws_error(400, "InvalidRequestContentException", &format!("Could not parse request body into json: {e}")),
        }
    };
    if invocation_type == "DryRun" {
        return match inner.function(&name) {
            Some(_) => httpd::response(204, &[], Bytes::new()),
            None => service_error(&Error::FunctionNotFound(name)),
        };
    }
    let source = match caller {
        None => InvocationSource::Api,
        Some(caller) if caller == name => InvocationSource::SelfInvoke,
        Some(caller) => InvocationSource::Function(caller.to_string()),
    };
    let reply = match inner.submit(&name, payload, body.len(), source, !asynchronous) {
        Ok(reply) => reply,
        Err(error) => return service_error(&error),
    };
    drop(inner); // do not keep the service alive while waiting for the function
    let Some(reply) = reply else {
        return httpd::response(202, &[], Bytes::new());
    };
    let Ok(outcome) = reply.await else {
        return service_error(&Error::Stopped(name));
    };
    let version = ("x-amz-executed-version", "$LATEST");
    match outcome {
        Outcome::Response(value) => httpd::response(200, &[("content-type", "application/json"), version], serde_json::to_vec(&value).unwrap_or_default()),
        Outcome::Error(document) => function_error_response(&document),
        Outcome::TimedOut => function_error_response(&timed_out_document()),
    }
}

fn function_error_response(document: &Value) -> Response<Full<Bytes>> {
    httpd::response(
        200,
        &[("content-type", "application/json"), ("x-amz-executed-version", "$LATEST"), ("x-amz-function-error", "Unhandled")],
        serde_json::to_vec(document).unwrap_or_default(),
    )
}

/// FunctionName may be a name, "NAME:QUALIFIER", a partial ARN "ACCOUNT:function:NAME" or an ARN.
fn name_from_function_name(function_name: &str) -> String {
    let parts: Vec<&str> = function_name.split(':').collect();
    match parts.iter().position(|part| *part == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1].to_string(),
        _ => parts[0].to_string(),
    }
}

fn service_error(error: &Error) -> Response<Full<Bytes>> {
    aws_error(error.status(), error.code(), &error.to_string())
}

/// An error in the shape restJson1 clients parse: the code in x-amzn-ErrorType and __type.
fn aws_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({"__type": code, "Type": "User", "message": message});
    httpd::response(status, &[("content-type", "application/json"), ("x-amzn-errortype", code)], body.to_string())
}

// ---------------------------------------------------------------------------------------------
// Small HTTP helpers.

async fn read_body(req: Request<Incoming>) -> Result<Bytes, hyper::Error> {
    Ok(req.into_body().collect().await?.to_bytes())
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn accepted() -> Response<Full<Bytes>> {
    httpd::response(202, &[("content-type", "application/json")], "{\"status\":\"OK\"}")
}

fn not_found() -> Response<Full<Bytes>> {
    httpd::response(404, &[], "not found")
}

fn bad_request(message: &str) -> Response<Full<Bytes>> {
    httpd::response(400, &[], message.to_string())
}

/// "YYYY/MM/DD/[$LATEST]<32 hex>", as Lambda names log streams.
fn log_stream_name() -> String {
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!("{year:04}/{month:02}/{day:02}/[$LATEST]{:032x}", fastrand::u128(..))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_and_arns() {
        assert_eq!(name_from_function_name("f"), "f");
        assert_eq!(name_from_function_name("f:$LATEST"), "f");
        assert_eq!(name_from_function_name("123456789012:function:f"), "f");
        assert_eq!(name_from_function_name(&function_arn("f")), "f");
        assert_eq!(name_from_function_name("arn:aws:lambda:us-east-1:123456789012:function:f:alias"), "f");
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
