//! The Runtime API of one instance: GET next (the long-poll), POST response / error / init
//! error. The same server answers the process's own Invoke API calls (its continuations).

use std::sync::{Arc, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::http::{accepted, bad_request, header, not_found, read_body};
use super::invoke_api::{INVOKE_PREFIX, invoke_api};
use super::state::{Function, Inner};
use super::types::function_arn;
use crate::{httpd, lock};

const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";

pub(super) struct Delivery {
    pub(super) request_id: String,
    pub(super) payload: Value,
}

pub(super) enum RuntimeEvent {
    Picked { request_id: String, deadline: Instant },
    Response { request_id: String, body: Bytes },
    Error { request_id: String, body: Value },
    InitError(Value),
}

/// The Runtime API of one instance (plus the Invoke API, for the process's own calls).
pub(super) struct RuntimeApi {
    pub(super) function: Arc<Function>,
    /// This instance's index in the function's process records.
    pub(super) process: usize,
    pub(super) next: tokio::sync::Mutex<mpsc::Receiver<Delivery>>,
    pub(super) events: mpsc::UnboundedSender<RuntimeEvent>,
    pub(super) service: Weak<Inner>,
}

impl RuntimeApi {
    pub(super) async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
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

pub(super) fn body_value(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}
