//! A SageMaker control-plane emulator for the Studio resources (domains, user profiles, spaces,
//! apps, Studio lifecycle configs, tags), speaking the real wire protocol so the real
//! aws-sdk-sagemaker client can be pointed at it.
//!
//! Protocol: awsJson1_1, `POST /` with `X-Amz-Target: SageMaker.<Operation>` and a JSON body;
//! errors are HTTP 400 `{"__type": "<Code>", "message": "..."}`. Signatures are not checked,
//! but the access key id of each call's SigV4 Authorization header is recorded
//! ([`SageMakerEmulator::signed_calls`]), so tests can see who called what.
//!
//! Realistic behaviour is the default: eventual consistency ([`Options::visibility_lag`]) and
//! the account's domain quota ([`Options::domain_quota`]) are opt-in.
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
use store::{Call, Store};

/// How the emulated service behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long Pending/Updating/Deleting last (see [`SageMakerEmulator::set_transition_delay`]).
    pub transition_delay: Duration,
    /// The most items a List* page holds (less when MaxResults asks for less).
    pub page_size: usize,
    pub region: String,
    pub account_id: String,
    /// How long a new domain, user profile or space stays invisible to Describe*/List* (and to
    /// every call naming it) after its Create answered: the eventual consistency AWS's own
    /// CloudFormation handlers wait out. Zero (the default) makes it visible at once.
    pub visibility_lag: Duration,
    /// How many domains the account may hold (every status counts, Failed and Deleting too):
    /// CreateDomain beyond it is refused with ResourceLimitExceeded. None: no limit.
    pub domain_quota: Option<usize>,
    /// Whether CreateDomain refuses a DomainName that an existing domain has (ResourceInUse).
    /// The API reference does not say; CreateDomain lists ResourceInUse among its errors, and
    /// with no parent resource a name clash is the one thing it can mean, so the default is
    /// true. Tests play the functions under both.
    pub unique_domain_names: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            transition_delay: Duration::from_millis(200),
            // Small pages make every client exercise pagination.
            page_size: 2,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            visibility_lag: Duration::ZERO,
            domain_quota: None,
            unique_domain_names: true,
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

/// What a domain makes and removes outside SageMaker (IAM Identity Center, EFS, EC2), for a local
/// cloud that runs those services too. Called while the emulator's lock is held: an
/// implementation must not call back into this emulator.
pub trait DomainHooks: Send + Sync {
    /// CreateDomain with AuthMode SSO: the domain's Identity Center application, as its ARN;
    /// `Err(message)` refuses the CreateDomain with a ValidationException (no Identity Center).
    fn create_sso_application(&self, domain_id: &str, domain_name: &str) -> Result<String, String>;
    /// CreateDomain: the home EFS, a mount target per subnet and the NFS security groups; returns
    /// the file system id.
    fn create_home_efs(&self, domain_id: &str, domain_arn: &str, vpc_id: &str, subnet_ids: &[String]) -> String;
    /// A domain's delete finished: its application goes, and its home EFS unless retained.
    fn domain_deleted(&self, sso_application_arn: Option<&str>, home_efs_id: &str, retain_efs: bool);
}

/// A persistent server-side failure of one operation (see [`SageMakerEmulator::fail_operation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// HTTP 500 `{"__type": "InternalFailure"}`, as SageMaker reports its own faults.
    InternalFailure,
    /// HTTP 503 `{"__type": "ServiceUnavailable"}`.
    ServiceUnavailable,
    /// What moto's server answers for a SageMaker action it does not implement: HTTP 500 with
    /// an HTML page and no error code.
    NotImplemented,
    /// HTTP 400 `ResourceInUse`: something the API does not show still uses the resource
    /// (users report DeleteUserProfile refused this way after its spaces were gone).
    ResourceInUse,
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

    /// Connects domains to the other emulated services (see [`DomainHooks`]); without hooks a
    /// domain's application ARN and home EFS id are made up.
    pub fn set_domain_hooks(&self, hooks: Arc<dyn DomainHooks>) {
        self.lock().hooks = Some(hooks);
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

    /// From now on every call of `operation` fails with `outage`, before it has any effect,
    /// until [`SageMakerEmulator::clear_outage`].
    pub fn fail_operation(&self, operation: &str, outage: Outage) {
        self.lock().outages.insert(operation.to_string(), outage);
    }

    pub fn clear_outage(&self, operation: &str) {
        self.lock().outages.remove(operation);
    }

    /// See [`Options::visibility_lag`]. A resource keeps the lag in force at its Create, unless
    /// a lower one is set later: a long lag holds new resources hidden, zero shows them all.
    pub fn set_visibility_lag(&self, lag: Duration) {
        self.lock().visibility_lag = lag;
    }

    /// See [`Options::domain_quota`].
    pub fn set_domain_quota(&self, quota: Option<usize>) {
        self.lock().domain_quota = quota;
    }

    /// See [`Options::unique_domain_names`].
    pub fn set_unique_domain_names(&self, unique: bool) {
        self.lock().unique_domain_names = unique;
    }

    /// How many calls of `operation` (e.g. "CreateDomain") were received, throttled ones included.
    pub fn call_count(&self, operation: &str) -> usize {
        self.lock().calls.iter().filter(|c| c.operation == operation).count()
    }

    pub fn total_calls(&self) -> usize {
        self.lock().calls.len()
    }

    /// Operation names of all calls received, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.iter().map(|c| c.operation.clone()).collect()
    }

    /// The request bodies of every call of `operation` received, in order (throttled and refused
    /// ones included), as JSON (`null` for a body that is not): what the caller sent.
    pub fn requests(&self, operation: &str) -> Vec<serde_json::Value> {
        self.lock().calls.iter().filter(|c| c.operation == operation).map(|c| serde_json::from_slice(&c.body).unwrap_or(serde_json::Value::Null)).collect()
    }

    /// (access key id, operation) of every call that carried a SigV4 Authorization header, in order.
    pub fn signed_calls(&self) -> Vec<(String, String)> {
        self.lock().calls.iter().filter_map(|c| Some((c.access_key.clone()?, c.operation.clone()))).collect()
    }

    /// All state, as the Describe* operations show it: `domains`, `profiles`, `spaces`, `apps`,
    /// `configs` (lists in creation order), `tags` ({arn: {key: value}}) and `efs`
    /// ({file system id: "Available" | "Retained" | "Deleted"}).
    pub fn snapshot(&self) -> serde_json::Value {
        let mut store = self.lock();
        store.advance();
        ops::snapshot(&store)
    }
}

/// A panic while holding the lock must not take every later request down with it.
fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle(State(store): State<Arc<Mutex<Store>>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let target = header("x-amz-target").unwrap_or_default();
    let access_key = header("authorization").and_then(access_key_id);
    let result = call(&mut lock(&store), target, access_key, &body);
    let (status, content_type, body) = match result {
        Ok(value) => (StatusCode::OK, "application/x-amz-json-1.1", value.to_string()),
        Err(Failure::Api(err)) => (err.status, "application/x-amz-json-1.1", err.body().to_string()),
        Err(Failure::Html(status)) => (status, "text/html; charset=utf-8", INTERNAL_ERROR_PAGE.to_string()),
    };
    let mut response = (status, body).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        response_headers.insert("x-amzn-requestid", id);
    }
    response
}

/// The page a Python web server (moto's) serves for an unhandled exception.
const INTERNAL_ERROR_PAGE: &str = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request.</p>\n";

/// Why a call did not succeed: an API error, or a bare HTML error page.
enum Failure {
    Api(ApiError),
    Html(StatusCode),
}

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Self {
        Failure::Api(err)
    }
}

/// "AKID" of `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sagemaker/aws4_request, ...`
/// (any service's SigV4 header: the local cloud's other services read it too).
pub fn access_key_id(authorization: &str) -> Option<String> {
    let credential = authorization.split("Credential=").nth(1)?;
    let key = credential.split('/').next()?;
    (!key.is_empty()).then(|| key.to_string())
}

/// One API call: recorded, maybe failed or throttled, then dispatched on the parsed body.
fn call(store: &mut Store, target: &str, access_key: Option<String>, body: &[u8]) -> Result<serde_json::Value, Failure> {
    let operation = target.strip_prefix("SageMaker.");
    store.calls.push(Call { operation: operation.unwrap_or(target).to_string(), access_key, body: body.to_vec() });
    let Some(operation) = operation else {
        return Err(ApiError::unknown_operation(target).into());
    };
    match store.outages.get(operation) {
        Some(Outage::InternalFailure) => return Err(ApiError::internal_failure().into()),
        Some(Outage::ServiceUnavailable) => return Err(ApiError::service_unavailable().into()),
        Some(Outage::NotImplemented) => return Err(Failure::Html(StatusCode::INTERNAL_SERVER_ERROR)),
        Some(Outage::ResourceInUse) => return Err(ApiError::in_use("The resource is in use by another resource.").into()),
        None => {}
    }
    if store.throttle_rate > 0.0 && fastrand::f64() < store.throttle_rate {
        return Err(ApiError::throttling().into());
    }
    if let Some(message) = store.refusals.get_mut(operation).and_then(VecDeque::pop_front) {
        return Err(ApiError::validation(message).into());
    }
    store.advance();
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => {
                return Err(ApiError::serialization("The request body must be a JSON object").into());
            }
            Err(err) => {
                return Err(ApiError::serialization(format!("The request body is not valid JSON: {err}")).into());
            }
        }
    };
    tracing::debug!(operation, "SageMaker emulator call");
    Ok(ops::dispatch(store, operation, &body)?)
}

fn request_id() -> String {
    let hex = store::random_hex(32);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
