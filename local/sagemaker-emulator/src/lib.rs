//! A SageMaker control-plane emulator for the Studio resources (domains, user profiles, spaces,
//! apps, Studio lifecycle configs, tags), speaking the real wire protocol so the real
//! aws-sdk-sagemaker client can be pointed at it.
//!
//! Protocol: awsJson1_1, `POST /` with `X-Amz-Target: SageMaker.<Operation>` and a JSON body;
//! errors are HTTP 400 `{"__type": "<Code>", "message": "..."}`. Signatures are not checked.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emulator = sagemaker_emulator::SageMakerEmulator::start(Default::default()).await?;
//! let endpoint = emulator.endpoint(); // give this to the SDK as endpoint_url
//! # Ok(()) }
//! ```

mod error;
mod ops;
mod store;
mod validate;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use error::ApiError;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use store::Store;

/// How the emulated service behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long Pending/Updating/Deleting last (see [`SageMakerEmulator::set_transition_delay`]).
    pub transition_delay: Duration,
    /// The most items a List* page holds (less when MaxResults asks for less).
    pub page_size: usize,
    pub region: String,
    pub account_id: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            transition_delay: Duration::from_millis(200),
            // Small pages make every client exercise pagination.
            page_size: 2,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        }
    }
}

/// The resources whose asynchronous operations can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Domain,
    UserProfile,
    Space,
    App,
}

/// Which asynchronous operation of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Create,
    Update,
    Delete,
}

/// A running emulator. Clones share the server; it stops when the last clone is dropped or on
/// [`SageMakerEmulator::shutdown`].
#[derive(Clone)]
pub struct SageMakerEmulator {
    store: Arc<Mutex<Store>>,
    addr: SocketAddr,
    server: Arc<ServerTask>,
}

/// Aborts the server task when the last handle goes away.
struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SageMakerEmulator {
    /// Binds 127.0.0.1 on a free port and serves in a tokio task.
    pub async fn start(options: Options) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Mutex::new(Store::new(options)));
        let app = Router::new().fallback(handle).with_state(store.clone());
        let task = tokio::spawn(async move {
            // As AWS endpoints do: no Nagle delay between a response's head and body.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "SageMaker emulator stopped");
            }
        });
        Ok(Self { store, addr, server: Arc::new(ServerTask(task)) })
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving (for every clone of this handle).
    pub fn shutdown(&self) {
        self.server.0.abort();
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// How long Pending/Updating/Deleting last, counted from each transition's start; applies to
    /// transitions already in progress too (a long delay holds them, zero releases them).
    pub fn set_transition_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Fraction (0..=1) of calls answered with ThrottlingException, before they have any effect.
    pub fn set_throttle_rate(&self, rate: f64) {
        self.lock().throttle_rate = rate.clamp(0.0, 1.0);
    }

    /// The next Create/Update/Delete of such a resource ends Failed / Update_Failed /
    /// Delete_Failed with `reason` as FailureReason (a failing app delete ends Failed).
    /// Calls queue up: each arms one more failure. Apps have no update, so (App, Update) never fires.
    pub fn fail_next(&self, kind: ResourceKind, phase: Phase, reason: &str) {
        self.lock().arm_fault(kind, phase, reason);
    }

    /// The next call of `operation` (e.g. "CreateUserProfile") is refused with a
    /// ValidationException saying `message`, before it has any effect. Calls queue up.
    pub fn refuse_next(&self, operation: &str, message: &str) {
        self.lock().refusals.entry(operation.to_string()).or_default().push_back(message.to_string());
    }

    /// How many calls of `operation` (e.g. "CreateDomain") were received, throttled ones included.
    pub fn call_count(&self, operation: &str) -> usize {
        self.lock().calls.iter().filter(|c| *c == operation).count()
    }

    pub fn total_calls(&self) -> usize {
        self.lock().calls.len()
    }

    /// Operation names of all calls received, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// All state, as the Describe* operations show it: `domains`, `profiles`, `spaces`, `apps`,
    /// `configs` (lists in creation order), `tags` ({arn: {key: value}}) and `efs`
    /// ({file system id: "Available" | "Retained" | "Deleted"}).
    pub fn snapshot(&self) -> serde_json::Value {
        let mut store = self.lock();
        store.advance();
        store.snapshot()
    }
}

/// A panic while holding the lock must not take every later request down with it.
fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle(State(store): State<Arc<Mutex<Store>>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let result = call(&mut lock(&store), target, &body);
    let (status, body) = match result {
        Ok(value) => (StatusCode::OK, value),
        Err(err) => (err.status, err.body()),
    };
    let mut response = (status, body.to_string()).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        response_headers.insert("x-amzn-requestid", id);
    }
    response
}

/// One API call: recorded, maybe throttled, then dispatched on the parsed body.
fn call(store: &mut Store, target: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let operation = target.strip_prefix("SageMaker.");
    store.calls.push(operation.unwrap_or(target).to_string());
    let Some(operation) = operation else {
        return Err(ApiError::unknown_operation(target));
    };
    if store.throttle_rate > 0.0 && fastrand::f64() < store.throttle_rate {
        return Err(ApiError::throttling());
    }
    if let Some(message) = store.refusals.get_mut(operation).and_then(VecDeque::pop_front) {
        return Err(ApiError::validation(message));
    }
    store.advance();
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => {
                return Err(ApiError::serialization("The request body must be a JSON object"));
            }
            Err(err) => {
                return Err(ApiError::serialization(format!("The request body is not valid JSON: {err}")));
            }
        }
    };
    tracing::debug!(operation, "SageMaker emulator call");
    ops::dispatch(store, operation, &body)
}

fn request_id() -> String {
    let hex = store::random_hex(32);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
