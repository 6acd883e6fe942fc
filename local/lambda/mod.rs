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
//!
//! Layers, each using only those below it: [`LambdaService`] (this file) over `process`
//! (supervision of instances) over `runtime_api` (one instance's Runtime API) over
//! `invoke_api` (the Invoke API) over `state` (deployed functions) and `types` (public values);
//! `function_url` turns requests into Function URL events and outcomes into HTTP responses.

mod function_url;
mod http;
mod invoke_api;
mod process;
mod runtime_api;
mod state;
mod types;

pub use function_url::{FunctionUrlResponse, signed_request_event};
pub use types::{
    EVENT_PAYLOAD_LIMIT, Error, FunctionConfig, FunctionError, InvocationRecord, InvocationSource, Outcome, ProcessRecord, SYNC_PAYLOAD_LIMIT, function_arn,
};

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::{httpd, lock};
use invoke_api::invoke_api;
use process::{Instance, supervise};
use state::{Function, FunctionState, Inner};
use types::{json_size, outcome_result};

/// The Lambda service. Cheap to clone; when the last clone is dropped, every function
/// process is killed.
#[derive(Clone)]
pub struct LambdaService {
    inner: Arc<Inner>,
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
            Inner { endpoint, functions: Mutex::new(HashMap::new()), signed: Mutex::new(Vec::new()), supervisors: Mutex::new(Vec::new()), _server: server }
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

    /// Invokes as a Function URL does for a request: `event` is the payload 2.0 event (e.g.
    /// [`signed_request_event`]); the answer is the HTTP response the URL returns.
    pub async fn invoke_url(&self, name: &str, event: Value) -> Result<FunctionUrlResponse, Error> {
        let size = json_size(&event);
        let reply = self.inner.submit(name, event, size, InvocationSource::FunctionUrl, true)?;
        let reply = reply.ok_or_else(|| Error::Stopped(name.to_string()))?;
        let outcome = reply.await.map_err(|_| Error::Stopped(name.to_string()))?;
        Ok(function_url::http_response(outcome))
    }

    /// (access key id, "Invoke") of every signed Invoke API call, in order.
    pub fn signed_calls(&self) -> Vec<(String, String)> {
        lock(&self.inner.signed).clone()
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
