//! One serving style: a request read whole, recorded, stopped by an armed fault or answered by
//! the [`Service`] under its lock, and written in its protocol.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Response};
use serde_json::{Map, Value};

use crate::calls::{Call, CallLog, Fault, Outage};
use crate::error::{AwsError, INTERNAL_ERROR_PAGE, Output, Protocol};
use crate::http::{self, Body, ServerHandle};
use crate::{access_key_id, ids, lock};

/// One request as the emulators see it: read whole.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `(service, operation)` of an awsJson `X-Amz-Target: <Service>.<Operation>`.
    pub fn target(&self) -> Option<(&str, &str)> {
        self.header("x-amz-target")?.split_once('.')
    }

    /// The body as a JSON object (awsJson and restJson requests); an empty body is `{}`.
    pub fn json_object(&self) -> Result<Map<String, Value>, AwsError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(AwsError::serialization("The request body must be a JSON object")),
            Err(err) => Err(AwsError::serialization(format!("The request body is not valid JSON: {err}"))),
        }
    }

    /// The form-encoded body of a query-protocol request.
    pub fn form(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// The URL's query string, decoded.
    pub fn query_params(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(self.query.as_bytes()).into_owned().collect()
    }
}

/// What a request calls, known before anything else happens to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The operation, as calls are counted and faults armed ("CreateDomain").
    pub operation: String,
    /// The IAM service prefix: the call needs the action `<iam_prefix>:<operation>`.
    pub iam_prefix: &'static str,
    pub protocol: Protocol,
}

impl Route {
    pub fn new(operation: impl Into<String>, iam_prefix: &'static str, protocol: Protocol) -> Self {
        Self { operation: operation.into(), iam_prefix, protocol }
    }

    pub fn action(&self) -> String {
        format!("{}:{}", self.iam_prefix, self.operation)
    }
}

/// An emulated AWS API: its state, answering one call at a time under its lock.
pub trait Service: Send + 'static {
    /// Names what a request calls (from its target header, Action parameter or path).
    fn route(request: &Request) -> Route;

    /// Answers a call no fault stopped.
    fn call(&mut self, route: &Route, request: &Request) -> Result<Output, AwsError>;

    /// The error a fault answers with; the protocol's own by default.
    fn fault_error(route: &Route, fault: &Fault) -> AwsError {
        route.protocol.fault_error(&route.action(), fault)
    }
}

/// An emulator's handle: its state, and the [`Emulator`] serving it (deref). An emulator of the
/// local cloud is a newtype of this, with [`deref_to_emulator!`](crate::deref_to_emulator).
pub struct Handle<S> {
    state: Arc<Mutex<S>>,
    api: Emulator,
}

impl<S> Clone for Handle<S> {
    fn clone(&self) -> Self {
        Self { state: self.state.clone(), api: self.api.clone() }
    }
}

impl<S: Service> Handle<S> {
    /// Serves `service` on a free loopback port.
    pub async fn start(service: S) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(service));
        let api = Emulator::start(state.clone()).await?;
        Ok(Self { state, api })
    }
}

impl<S> Handle<S> {
    /// The state, for the emulator's own methods (seeding, knobs, inspection).
    pub fn state(&self) -> std::sync::MutexGuard<'_, S> {
        lock(&self.state)
    }
}

impl<S> std::ops::Deref for Handle<S> {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.api
    }
}

/// A running emulator on 127.0.0.1: its address, the calls it received and the faults armed
/// for the next ones. Clones share the server; it stops when the last clone is dropped or on
/// [`Emulator::shutdown`].
#[derive(Clone)]
pub struct Emulator {
    endpoint: String,
    log: Arc<Mutex<CallLog>>,
    server: Arc<ServerHandle>,
}

impl Emulator {
    /// Binds a free loopback port and serves `service` there.
    pub async fn start<S: Service>(service: Arc<Mutex<S>>) -> std::io::Result<Self> {
        let listener = http::bind_loopback().await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let log = Arc::new(Mutex::new(CallLog::default()));
        let handler_log = log.clone();
        let server = http::serve(listener, move |req| handle(service.clone(), handler_log.clone(), req));
        Ok(Self { endpoint, log, server: Arc::new(server) })
    }

    /// `http://127.0.0.1:PORT`, for the SDK's endpoint_url or an `AWS_ENDPOINT_URL_<SERVICE>`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Stops serving (for every clone of this handle).
    pub fn shutdown(&self) {
        self.server.abort();
    }

    fn log(&self) -> std::sync::MutexGuard<'_, CallLog> {
        lock(&self.log)
    }

    /// The next call of `operation` fails with `code` and `message` before it has any effect
    /// (HTTP 400; 500 or 503 for the server-error codes). Calls queue up.
    pub fn refuse_next(&self, operation: &str, code: &str, message: &str) {
        self.log().refusals.entry(operation.to_string()).or_default().push_back((code.to_string(), message.to_string()));
    }

    /// The next `count` calls, of any operation, are throttled before they have any effect.
    pub fn throttle_next(&self, count: usize) {
        self.log().throttle_next = count;
    }

    /// Fraction (0..=1) of calls throttled before they have any effect.
    pub fn set_throttle_rate(&self, rate: f64) {
        self.log().throttle_rate = rate.clamp(0.0, 1.0);
    }

    /// Every later call of `operation` is refused as unauthorized (a policy missing the
    /// action), or allowed again.
    pub fn set_denied(&self, operation: &str, denied: bool) {
        let mut log = self.log();
        if denied {
            log.denied.insert(operation.to_string());
        } else {
            log.denied.remove(operation);
        }
    }

    /// From now on every call of `operation` fails with `outage`, before it has any effect,
    /// until [`Emulator::clear_outage`].
    pub fn fail_operation(&self, operation: &str, outage: Outage) {
        self.log().outages.insert(operation.to_string(), outage);
    }

    pub fn clear_outage(&self, operation: &str) {
        self.log().outages.remove(operation);
    }

    /// Every call is answered only after `delay` (a slow network or a slow service).
    pub fn set_latency(&self, delay: Duration) {
        self.log().latency = delay;
    }

    /// Calls of `operation` are answered after `delay` (instead of the latency of all calls).
    pub fn set_operation_latency(&self, operation: &str, delay: Duration) {
        self.log().operation_latency.insert(operation.to_string(), delay);
    }

    /// How many calls of `operation` were received, faulted ones included.
    pub fn call_count(&self, operation: &str) -> usize {
        self.log().calls.iter().filter(|c| c.operation == operation).count()
    }

    pub fn total_calls(&self) -> usize {
        self.log().calls.len()
    }

    /// Operation names of all calls received, in order.
    pub fn calls(&self) -> Vec<String> {
        self.log().calls.iter().map(|c| c.operation.clone()).collect()
    }

    /// Every call received, in order.
    pub fn call_records(&self) -> Vec<Call> {
        self.log().calls.clone()
    }

    /// (access key id, operation) of every signed call, in order.
    pub fn signed_calls(&self) -> Vec<(String, String)> {
        self.log().calls.iter().filter_map(|c| Some((c.access_key.clone()?, c.operation.clone()))).collect()
    }

    /// (access key id, IAM action such as "ec2:DeleteSecurityGroup") of every signed call, in order.
    pub fn signed_actions(&self) -> Vec<(String, String)> {
        self.log().calls.iter().filter_map(|c| Some((c.access_key.clone()?, c.action.clone()))).collect()
    }

    /// The Authorization and X-Amz-Security-Token headers of the last call (signatures are not
    /// checked, but a test can see that a call was signed for this service).
    pub fn last_signature(&self) -> (Option<String>, Option<String>) {
        self.log().last_signature.clone()
    }
}

async fn handle<S: Service>(service: Arc<Mutex<S>>, log: Arc<Mutex<CallLog>>, req: hyper::Request<Incoming>) -> Result<Response<Body>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
        body: body.collect().await?.to_bytes(),
    };
    let route = S::route(&request);
    let authorization = request.header("authorization").map(str::to_string);
    let signature = (authorization.clone(), request.header("x-amz-security-token").map(str::to_string));
    let call = Call { operation: route.operation.clone(), action: route.action(), access_key: authorization.as_deref().and_then(access_key_id) };
    let (fault, delay) = lock(&log).record(call, signature);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let result = match fault {
        Some(Fault::Outage(Outage::NotImplemented)) => return Ok(http::response(500, &[("content-type", "text/html; charset=utf-8")], INTERNAL_ERROR_PAGE)),
        Some(fault) => Err(S::fault_error(&route, &fault)),
        None => {
            tracing::debug!(operation = route.operation, "emulator call");
            lock(&service).call(&route, &request)
        }
    };
    Ok(route.protocol.render(&route.operation, &ids::uuid_v4(), result))
}
