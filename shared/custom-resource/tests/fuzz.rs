//! Fuzzing the way in: generated events, continuations and plain JSON, each delivered to the
//! core (in-process, on in-memory ports, with the core's test resource behind it). Whatever arrives:
//! no panic; exactly one well-formed response (at most 4096 bytes) when the payload names an
//! allowed ResponseURL, none otherwise; and for a continuation whose MAC is not valid, no
//! call at all (no step, no CloudFormation check, no invocation).
//!
//! 10,000 cases in a plain `cargo test`; .ci/run runs 100,000 (`FUZZ_CASES=100000`); set more for
//! a longer run, e.g. `FUZZ_CASES=1000000 cargo test -p custom-resource --test fuzz --release` (README).

use custom_resource::Patience;
use custom_resource::testing::{MemorySigner, Probe, RESPONSE_HOST, STACK_ID, Simulation, tampered};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use std::time::Duration;

fn simulation(probe: &Probe) -> Simulation<Probe> {
    let patience = Patience { server_errors: Duration::from_secs(5), ..Patience::default() };
    let mut sim = Simulation::with(Ok(probe.clone()), MemorySigner::new(b"the functions' own key"), patience);
    sim.invocation_timeout = Duration::from_secs(3);
    sim
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[A-Za-z]{0,10}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn probe_properties() -> impl Strategy<Value = Value> {
    (
        "[a-z]{1,8}",
        prop_oneof![Just("Succeed"), Just("Fail"), Just("Wait"), Just("ServerError"), Just("LongReason"), Just("Explode")],
        prop::option::of((0u64..10).prop_map(|s| s.to_string())),
        prop::option::of(prop::collection::btree_map("[A-Za-z]{1,8}", ".{0,700}", 0..8)),
        prop::option::of(prop_oneof![Just(json!("0")), Just(json!("5")), Just(json!("3600")), Just(json!("soon")), ".{0,5}".prop_map(Value::from)]),
    )
        .prop_map(|(name, behavior, wait, data, timeout)| {
            let mut p = json!({"Name": name, "Behavior": behavior});
            if let Some(w) = wait {
                p["WaitSeconds"] = json!(w);
            }
            if let Some(d) = data {
                p["Data"] = json!(d);
            }
            if let Some(t) = timeout {
                p["ServiceTimeout"] = t;
            }
            p
        })
}

/// Where a payload's response may go.
#[derive(Debug, Clone, Copy)]
enum Url {
    Allowed,
    OtherHost,
    Http,
    Garbage,
    Missing,
}

fn url(kind: Url, request_id: &str) -> Option<Value> {
    match kind {
        Url::Allowed => Some(json!(format!("https://{RESPONSE_HOST}/r/{request_id}?X-Amz-Signature=s"))),
        Url::OtherHost => Some(json!("https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/r")),
        Url::Http => Some(json!("file:///etc/passwd")),
        Url::Garbage => Some(json!(42)),
        Url::Missing => None,
    }
}

fn event() -> impl Strategy<Value = (Value, Url, bool)> {
    (
        prop_oneof![Just("Create".to_string()), Just("Update".to_string()), Just("Delete".to_string()), ".{0,8}"],
        prop_oneof![Just(Url::Allowed), Just(Url::Allowed), Just(Url::OtherHost), Just(Url::Http), Just(Url::Garbage), Just(Url::Missing)],
        "[0-9a-f-]{0,36}",
        "[A-Za-z0-9]{0,12}",
        prop::option::of(prop_oneof!["probe-[a-z]{1,8}", "create-failed:.{0,8}", ".{0,40}"]),
        prop_oneof![probe_properties(), json_value()],
        prop::option::of(prop_oneof![probe_properties(), json_value()]),
        prop_oneof![Just(STACK_ID.to_string()), ".{0,20}"],
        any::<bool>(),
    )
        .prop_map(|(request_type, url_kind, request_id, logical_id, physical_id, properties, old, stack_id, in_window)| {
            let mut event = Map::new();
            event.insert("RequestType".into(), json!(request_type));
            event.insert("ServiceToken".into(), json!("arn:aws:lambda:us-east-1:123456789012:function:sim-function"));
            if let Some(u) = url(url_kind, &request_id) {
                event.insert("ResponseURL".into(), u);
            }
            event.insert("StackId".into(), json!(stack_id));
            event.insert("RequestId".into(), json!(request_id));
            event.insert("LogicalResourceId".into(), json!(logical_id));
            event.insert("ResourceType".into(), json!("Custom::Probe"));
            event.insert("ResourceProperties".into(), properties);
            if let Some(id) = physical_id {
                event.insert("PhysicalResourceId".into(), json!(id));
            }
            if let Some(old) = old {
                event.insert("OldResourceProperties".into(), old);
            }
            (Value::Object(event), url_kind, in_window)
        })
}

/// What a delivered payload is.
#[derive(Debug, Clone)]
enum Case {
    /// An event, which CloudFormation may (`in_window`) or may not be sending.
    Event { event: Value, url: Url, in_window: bool },
    /// A genuine continuation with one member changed (so its MAC no longer holds).
    Tampered { member: &'static str, value: Value },
    /// A continuation envelope with any text and any MAC.
    Sealed { payload: String, mac: String },
    /// The envelope key over anything else.
    Envelope(Value),
    /// Any JSON at all.
    Json(Value),
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        6 => event().prop_map(|(event, url, in_window)| Case::Event { event, url, in_window }),
        2 => (prop_oneof![Just("Event"), Just("Progress"), Just("Attempt"), Just("StartedAtMs"), Just("PhysicalResourceId"), Just("Cleanup"), Just("WaitingFor")], json_value())
            .prop_map(|(member, value)| Case::Tampered { member, value }),
        1 => (".{0,200}", "[A-Za-z0-9+/=]{0,64}").prop_map(|(payload, mac)| Case::Sealed { payload, mac }),
        1 => json_value().prop_map(Case::Envelope),
        1 => json_value().prop_map(Case::Json),
    ]
}

/// A genuine continuation of a Delete in progress, and its event.
async fn genuine(sim: &Simulation<Probe>) -> (Value, Value) {
    let event = sim.event("Delete", "Probe", Some("probe-slow"), json!({"Name": "slow", "Behavior": "Wait", "WaitSeconds": "10"}), None);
    sim.begin(&event);
    sim.once(event.clone()).await.expect("the first invocation");
    (sim.next_continuation().expect("a continuation"), event)
}

/// Checks one delivered payload against the properties; Err says which broke.
async fn check(case: Case) -> Result<(), String> {
    let probe = Probe::default();
    let sim = simulation(&probe);
    let (payload, answerable, forged) = match case {
        Case::Event { event, url, in_window } => {
            if in_window {
                sim.begin(&event);
            }
            (event, matches!(url, Url::Allowed), false)
        }
        Case::Tampered { member, value } => {
            let (genuine, _) = genuine(&sim).await;
            let forged = tampered(&genuine, |c| c[member] = value);
            let answerable = member != "Event" && member != "Cleanup";
            (forged, answerable, true)
        }
        Case::Sealed { payload, mac } => (json!({"StudioContinuation": {"Payload": payload, "Mac": mac}}), false, true),
        Case::Envelope(inner) => (json!({"StudioContinuation": inner}), false, true),
        Case::Json(value) => (value, false, false),
    };
    let (steps, checks, invocations, puts) = (probe.steps().len(), sim.stacks.calls(), sim.invocations.all().len(), sim.responses.puts().len());
    let results = sim.invoke(payload).await;
    let new_puts: Vec<_> = sim.responses.puts().into_iter().skip(puts).collect();
    if forged {
        let after = (probe.steps().len(), sim.stacks.calls(), sim.invocations.all().len());
        if after != (steps, checks, invocations) {
            return Err(format!("a forged continuation caused calls: steps/checks/invocations {:?} -> {after:?}", (steps, checks, invocations)));
        }
    }
    if answerable || !new_puts.is_empty() {
        let delivered: Vec<_> = new_puts.iter().filter(|p| p.delivered()).collect();
        if answerable && delivered.len() != 1 {
            return Err(format!("{} responses delivered for an allowed ResponseURL: {results:?}", delivered.len()));
        }
        for put in &delivered {
            if !put.url.starts_with(&format!("https://{RESPONSE_HOST}/")) {
                return Err(format!("a PUT went to {}", put.url));
            }
            well_formed(&put.body)?;
        }
    }
    Ok(())
}

fn well_formed(body: &[u8]) -> Result<(), String> {
    if body.len() > custom_resource::MAX_BODY_BYTES {
        return Err(format!("a {}-byte response", body.len()));
    }
    let body: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let status = body["Status"].as_str().unwrap_or_default();
    let id = body["PhysicalResourceId"].as_str().unwrap_or_default();
    let reason = body["Reason"].as_str();
    let data_ok = body.get("Data").is_none_or(|d| d.as_object().is_some_and(|m| m.values().all(Value::is_string)));
    let ok = matches!(status, "SUCCESS" | "FAILED")
        && !id.is_empty()
        && id.len() <= 1024
        && (status == "SUCCESS" || reason.is_some_and(|r| !r.is_empty()))
        && data_ok
        && body["StackId"].is_string()
        && body["RequestId"].is_string()
        && body["LogicalResourceId"].is_string();
    if ok { Ok(()) } else { Err(format!("malformed response: {body}")) }
}

#[test]
fn whatever_arrives_gets_at_most_one_well_formed_answer_and_forged_continuations_no_call() {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&case(), |case| {
        let shown = format!("{case:?}");
        runtime.block_on(check(case)).map_err(|e| TestCaseError::fail(format!("{e}\ncase: {shown}")))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
