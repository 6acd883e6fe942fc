//! The kit's serving style and fault vocabulary, through a tiny awsJson service over raw HTTP.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emulator_kit::http::post_raw;
use emulator_kit::{AwsError, Emulator, Outage, Output, Protocol, Request, Route, Service};
use serde_json::{Value, json};

/// Counts its effects: `Add` adds one.
#[derive(Default)]
struct Counter {
    count: u64,
}

impl Service for Counter {
    fn route(request: &Request) -> Route {
        let operation = request.target().map_or("", |(_, op)| op);
        Route::new(operation, "counter", Protocol::AwsJson { message_key: "message" })
    }

    fn call(&mut self, route: &Route, request: &Request) -> Result<Output, AwsError> {
        request.json_object()?;
        match route.operation.as_str() {
            "Add" => {
                self.count += 1;
                Ok(Output::Json(json!({ "Count": self.count })))
            }
            other => Err(AwsError::unknown_operation(other)),
        }
    }
}

/// POSTs an awsJson call signed as `key`; returns the status code, content type and body.
async fn post(endpoint: &str, operation: &str, key: &str) -> (u16, String, String) {
    let target = format!("Counter.{operation}");
    let authorization = format!("AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/counter/aws4_request, SignedHeaders=host, Signature=0");
    let response = post_raw(endpoint, &[("X-Amz-Target", &target), ("Authorization", &authorization)], "{}").await.expect("an HTTP answer");
    let content_type = response.header("content-type").unwrap_or_default().to_string();
    (response.status, content_type, response.body)
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).expect("JSON body")
}

async fn start() -> (Emulator, Arc<Mutex<Counter>>) {
    let counter = Arc::new(Mutex::new(Counter::default()));
    (Emulator::start(counter.clone()).await.expect("starts"), counter)
}

#[tokio::test]
async fn faults_answer_before_any_effect_in_the_protocols_shape() {
    let (emulator, counter) = start().await;
    let endpoint = emulator.endpoint();

    emulator.refuse_next("Add", "ConflictException", "busy");
    emulator.refuse_next("Add", "InternalFailure", "broken");
    let (status, _, body) = post(&endpoint, "Add", "alice").await;
    assert_eq!((status, json_of(&body)), (400, json!({"__type": "ConflictException", "message": "busy"})));
    let (status, _, body) = post(&endpoint, "Add", "alice").await;
    assert_eq!((status, json_of(&body)["__type"].clone()), (500, json!("InternalFailure")), "refusals queue up; server codes are 5xx");

    emulator.throttle_next(1);
    let (status, _, body) = post(&endpoint, "Add", "alice").await;
    assert_eq!((status, json_of(&body)["__type"].clone()), (400, json!("ThrottlingException")));

    emulator.set_denied("Add", true);
    let (_, _, body) = post(&endpoint, "Add", "alice").await;
    assert_eq!(json_of(&body), json!({"__type": "AccessDeniedException", "message": "User is not authorized to perform: counter:Add"}));
    emulator.set_denied("Add", false);

    emulator.fail_operation("Add", Outage::NotImplemented);
    let (status, content_type, body) = post(&endpoint, "Add", "alice").await;
    assert_eq!(status, 500);
    assert!(content_type.starts_with("text/html") && body.contains("Internal Server Error"), "{content_type}: {body}");
    emulator.fail_operation("Add", Outage::ServiceUnavailable);
    let (status, _, body) = post(&endpoint, "Add", "alice").await;
    assert_eq!((status, json_of(&body)["__type"].clone()), (503, json!("ServiceUnavailable")));
    emulator.clear_outage("Add");

    assert_eq!(counter.lock().unwrap().count, 0, "no fault had an effect");
    let (status, _, body) = post(&endpoint, "Add", "alice").await;
    assert_eq!((status, json_of(&body)), (200, json!({"Count": 1})));
}

#[tokio::test]
async fn every_call_is_recorded_with_its_signer_and_action() {
    let (emulator, _) = start().await;
    let endpoint = emulator.endpoint();
    emulator.throttle_next(1);
    post(&endpoint, "Add", "studio-domain").await;
    post(&endpoint, "Launch", "studio-space").await;
    assert_eq!(emulator.calls(), vec!["Add", "Launch"]);
    assert_eq!(emulator.call_count("Add"), 1, "a throttled call counts");
    assert_eq!(emulator.signed_calls(), vec![("studio-domain".to_string(), "Add".to_string()), ("studio-space".to_string(), "Launch".to_string())]);
    assert_eq!(emulator.signed_actions()[1], ("studio-space".to_string(), "counter:Launch".to_string()));
    let (authorization, _) = emulator.last_signature();
    assert!(authorization.is_some_and(|a| a.contains("Credential=studio-space/")));
}

#[tokio::test]
async fn latency_delays_the_answer_of_every_call_or_of_one_operation() {
    let (emulator, _) = start().await;
    let endpoint = emulator.endpoint();
    emulator.set_operation_latency("Add", Duration::from_millis(300));
    let started = Instant::now();
    let (status, _, _) = post(&endpoint, "Launch", "x").await;
    assert_eq!(status, 400);
    assert!(started.elapsed() < Duration::from_millis(300), "other operations answer at once");
    let started = Instant::now();
    let (status, _, _) = post(&endpoint, "Add", "x").await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());

    emulator.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    post(&endpoint, "Launch", "x").await;
    assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_shut_down_emulator_refuses_connections() {
    let (emulator, _) = start().await;
    let addr = emulator.endpoint().trim_start_matches("http://").to_string();
    emulator.shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
