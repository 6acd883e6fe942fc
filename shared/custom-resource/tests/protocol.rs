//! The protocol rules, in-process: the core's test resource ([`Probe`]) on the core with in-memory ports and a
//! simulated clock ([`custom_resource::testing::Simulation`]). Each test is GIVEN (the state
//! CloudFormation shows, the ports' behaviour) / WHEN (an event or payload is delivered) /
//! THEN (the one response, and what was or was not done). tests/e2e/core_protocol.rs and
//! tests/e2e/forged_events.rs play one test of each rule family through real processes.

use custom_resource::Patience;
use custom_resource::testing::{Probe, Simulation, tampered, unsealed};
use serde_json::{Value, json};
use std::time::Duration;

const LOGICAL_ID: &str = "Probe";

fn sim() -> (Simulation<Probe>, Probe) {
    let probe = Probe::default();
    (Simulation::new(Ok(probe.clone())), probe)
}

fn request_id(event: &Value) -> String {
    event["RequestId"].as_str().unwrap().to_string()
}

/// The one response delivered for `event`'s request (the test fails on none or several).
fn the_response(sim: &Simulation<Probe>, event: &Value) -> Value {
    let delivered = sim.responses.delivered_to(&request_id(event));
    assert_eq!(delivered.len(), 1, "exactly one response: {delivered:?}");
    let body = delivered[0].clone();
    assert!(body.to_string().len() <= custom_resource::MAX_BODY_BYTES, "{} bytes", body.to_string().len());
    body
}

fn reason(body: &Value) -> &str {
    body["Reason"].as_str().unwrap_or_default()
}

fn assert_failed_with(body: &Value, needle: &str) {
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(reason(body).contains(needle), "{needle:?} not in {:?}", reason(body));
}

// ---- properties ----

#[tokio::test]
async fn stringified_numbers_and_booleans_parse_into_typed_properties() {
    let (sim, _) = sim();
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "n", "Settings": {"IdleTimeoutInMinutes": "30", "Enabled": "true"}}), None);
    sim.sends(event.clone()).await;
    let body = the_response(&sim, &event);
    assert_eq!(
        (body["Status"].as_str(), body["Data"]["DoubledIdleTimeout"].as_str(), body["Data"]["IdleEnabled"].as_str()),
        (Some("SUCCESS"), Some("60"), Some("true"))
    );
}

#[tokio::test]
async fn property_errors_name_the_full_path_and_fail_before_any_step() {
    let (sim, probe) = sim();
    for (properties, needle) in [
        (
            json!({"Name": "x", "Settings": {"IdleTimeoutInMinutes": "sixty", "Enabled": true}}),
            r#"Settings.IdleTimeoutInMinutes: expected an integer, got "sixty""#,
        ),
        (json!({"Name": "x", "Colour": "red"}), "Colour: unknown property"),
        (json!({"Name": "x", "ServiceTimeout": "5000"}), "ServiceTimeout: expected an integer from 1 to 3600"),
    ] {
        let event = sim.event("Create", LOGICAL_ID, None, properties, None);
        sim.sends(event.clone()).await;
        let body = the_response(&sim, &event);
        assert_failed_with(&body, needle);
        // A failed Create reports the recognisable marker.
        assert_eq!(body["PhysicalResourceId"], format!("create-failed:{}", request_id(&event)));
    }
    assert!(probe.steps().is_empty(), "{:?}", probe.steps());
}

// ---- responding ----

#[tokio::test]
async fn a_response_is_retried_through_server_errors_and_connection_errors() {
    let (sim, _) = sim();
    sim.responses.answer_next([Ok(500), Err("connection error".into()), Ok(503)]);
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "retry"}), None);
    sim.sends(event.clone()).await;
    assert_eq!(the_response(&sim, &event)["Status"], "SUCCESS");
    assert_eq!(sim.responses.puts().len(), 4, "three failed attempts, then the one that arrived");
}

#[tokio::test]
async fn a_refused_put_is_not_retried_and_retries_stop_at_the_deadline() {
    let (sim, _) = sim();
    sim.responses.answer_next([Ok(403)]);
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "refused"}), None);
    let results = sim.sends(event).await;
    assert!(results[0].as_ref().is_err_and(|e| e.contains("refused with HTTP 403")), "{results:?}");
    assert_eq!(sim.responses.puts().len(), 1);

    // Connection errors until the invocation's deadline: fewer attempts than allowed, then an error.
    let (mut sim, _) = self::sim();
    sim.invocation_timeout = Duration::from_secs(2);
    sim.responses.answer_next((0..10).map(|_| Err("connection error".to_string())));
    let results = sim.sends(sim.event("Create", LOGICAL_ID, None, json!({"Name": "late"}), None)).await;
    let attempts = sim.responses.puts().len();
    assert!((2..6).contains(&attempts), "{attempts} attempts within a 2 s invocation");
    assert!(results[0].as_ref().is_err_and(|e| e.contains("failed after")), "{results:?}");
}

#[tokio::test]
async fn a_panic_becomes_failed() {
    let (sim, _) = sim();
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "boom", "Behavior": "Panic"}), None);
    sim.sends(event.clone()).await;
    assert_failed_with(&the_response(&sim, &event), "panicked: probe boom panicked as asked");
}

#[tokio::test]
async fn oversized_data_and_long_reasons_stay_within_4096_bytes() {
    let (sim, _) = sim();
    let data: serde_json::Map<String, Value> = (0..10).map(|i| (format!("Attr{i}"), json!("x".repeat(500)))).collect();
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "big", "Data": data}), None);
    sim.sends(event.clone()).await;
    let body = the_response(&sim, &event);
    assert_failed_with(&body, "4096-byte limit");
    assert!(reason(&body).contains("Attr9"));
    // The resource was made, so the FAILED response still names it for the cleanup Delete.
    assert_eq!(body["PhysicalResourceId"], "probe-big");

    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "long", "Behavior": "LongReason"}), None);
    sim.sends(event.clone()).await;
    let body = the_response(&sim, &event);
    assert!(reason(&body).ends_with("(truncated)") && body.to_string().len() > 3900, "{}", body.to_string().len());
}

#[tokio::test]
async fn an_initialisation_failure_answers_failed_with_the_reason() {
    let sim = Simulation::<Probe>::new(Err("the asset bucket setting is missing".into()));
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "x"}), None);
    sim.sends(event.clone()).await;
    assert_eq!(reason(&the_response(&sim, &event)), "the function failed to initialise: the asset bucket setting is missing");
}

#[tokio::test]
async fn malformed_events_are_answered_failed() {
    let (sim, probe) = sim();
    let mut event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "x"}), None);
    event["ResourceProperties"] = json!("not an object");
    sim.sends(event.clone()).await;
    assert_failed_with(&the_response(&sim, &event), "ResourceProperties must be an object");
    let mut event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "x"}), None);
    event["RequestType"] = json!("Upsert");
    sim.invoke(event.clone()).await;
    assert_failed_with(&the_response(&sim, &event), "malformed CloudFormation event");
    assert!(probe.steps().is_empty());
}

// ---- request kinds ----

#[tokio::test]
async fn update_and_delete_echo_the_physical_id_and_a_failed_update_keeps_it() {
    let (sim, _) = sim();
    let event = sim.event("Update", LOGICAL_ID, Some("probe-u"), json!({"Name": "u", "Data": {"K": "v"}}), Some(json!({"Name": "u"})));
    sim.sends(event.clone()).await;
    let body = the_response(&sim, &event);
    assert_eq!((body["PhysicalResourceId"].as_str(), body["Data"]["K"].as_str()), (Some("probe-u"), Some("v")));
    let event = sim.event("Update", LOGICAL_ID, Some("probe-u"), json!({"Name": "u", "Behavior": "Fail"}), Some(json!({"Name": "u"})));
    sim.sends(event.clone()).await;
    let body = the_response(&sim, &event);
    assert_eq!((body["Status"].as_str(), body["PhysicalResourceId"].as_str()), (Some("FAILED"), Some("probe-u")));
    let event = sim.event("Delete", LOGICAL_ID, Some("probe-u"), json!({"Name": "u"}), None);
    sim.sends(event.clone()).await;
    assert_eq!(the_response(&sim, &event)["PhysicalResourceId"], "probe-u");
}

#[tokio::test]
async fn a_delete_of_an_id_this_function_did_not_make_succeeds_without_asking_anyone() {
    let (sim, probe) = sim();
    for id in ["create-failed:0000", "some-id-cloudformation-made-up"] {
        let event = sim.event("Delete", LOGICAL_ID, Some(id), json!({"Name": "x", "Behavior": "Fail", "ServiceTimeout": "soon"}), None);
        sim.sends(event.clone()).await;
        let body = the_response(&sim, &event);
        assert_eq!((body["Status"].as_str(), body["PhysicalResourceId"].as_str()), (Some("SUCCESS"), Some(id)));
        assert!(reason(&body).contains("nothing to delete"));
    }
    assert_eq!((sim.stacks.calls(), probe.steps().len()), (0, 0));
}

#[tokio::test]
async fn after_a_failed_create_an_update_of_the_marker_creates() {
    let (sim, probe) = sim();
    let event = sim.event("Update", LOGICAL_ID, Some("create-failed:1"), json!({"Name": "late"}), Some(json!({"Name": "late", "ServiceTimeout": "soon"})));
    sim.sends(event.clone()).await;
    assert_eq!(the_response(&sim, &event)["PhysicalResourceId"], "probe-late");
    assert_eq!(probe.steps(), ["create late"]);
}

// ---- time: continuations, ServiceTimeout, server errors ----

#[tokio::test]
async fn a_near_deadline_continues_in_sealed_invocations_until_done() {
    let (mut sim, probe) = sim();
    sim.invocation_timeout = Duration::from_secs(3);
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "slow", "Behavior": "Wait", "WaitSeconds": 20}), None);
    let results = sim.sends(event.clone()).await;
    assert_eq!(the_response(&sim, &event)["Status"], "SUCCESS");
    let continuations = sim.invocations.all();
    assert!(continuations.len() >= 3, "{} continuations", continuations.len());
    assert!(results.iter().filter(|r| r.as_ref().is_ok_and(|v| v.get("Continued").is_some())).count() >= 3, "{results:?}");
    // Each continuation is sealed and verified: one GenerateMac and one VerifyMac apiece.
    let calls = sim.signer.calls();
    assert_eq!(calls.iter().filter(|c| **c == "GenerateMac").count(), continuations.len());
    assert_eq!(calls.iter().filter(|c| **c == "VerifyMac").count(), continuations.len());
    assert!(probe.steps().len() >= 20, "polled about once a second of the wait");
    // The envelope carries no readable progress: only the MACed text.
    assert_eq!(unsealed(&continuations[0])["Attempt"], 1);
}

#[tokio::test]
async fn the_whole_operation_is_bounded_by_service_timeout() {
    let (mut sim, _) = sim();
    sim.invocation_timeout = Duration::from_secs(3);
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "forever", "Behavior": "Wait", "WaitSeconds": 600, "ServiceTimeout": 5}), None);
    sim.sends(event.clone()).await;
    let body = the_response(&sim, &event);
    assert!(reason(&body).starts_with("timed out after") && reason(&body).contains("waiting for probe forever to finish waiting"), "{body}");
    // What was made so far is reported, so that CloudFormation's Delete can clean it up.
    assert_eq!(body["PhysicalResourceId"], "probe-forever");
}

#[tokio::test]
async fn a_step_retried_until_service_timeout_reports_what_it_named() {
    let (mut sim, _) = sim();
    sim.invocation_timeout = Duration::from_secs(3);
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "held", "Behavior": "Busy", "ServiceTimeout": 5}), None);
    sim.sends(event.clone()).await;
    let body = the_response(&sim, &event);
    assert_failed_with(&body, "probe held is busy");
    assert_eq!(body["PhysicalResourceId"], "probe-held", "the rollback's Delete must find it");
}

#[tokio::test]
async fn a_continuation_that_cannot_be_invoked_or_signed_answers_failed() {
    let (mut sim, _) = sim();
    sim.invocation_timeout = Duration::from_secs(3);
    sim.invocations.refuse(Some("Lambda Invoke: TooManyRequestsException: Rate exceeded"));
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "stuck", "Behavior": "Wait", "WaitSeconds": 30}), None);
    sim.sends(event.clone()).await;
    assert_failed_with(&the_response(&sim, &event), "could not continue waiting for probe stuck");

    // Without CONTINUATION_KMS_KEY_ID nothing is sealed, so nothing continues unsigned.
    let mut sim = Simulation::with(Ok(Probe::default()), custom_resource::testing::MemorySigner::without_key(), Patience::default());
    sim.invocation_timeout = Duration::from_secs(3);
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "unsigned", "Behavior": "Wait", "WaitSeconds": 30}), None);
    sim.sends(event.clone()).await;
    assert_failed_with(&the_response(&sim, &event), "CONTINUATION_KMS_KEY_ID is not set");
    assert!(sim.invocations.all().is_empty());
}

#[tokio::test]
async fn a_server_error_that_persists_fails_within_its_patience() {
    let (mut sim, _) = sim();
    sim.invocation_timeout = Duration::from_secs(60);
    let started = sim.now_ms();
    let event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "flaky", "Behavior": "ServerError"}), None);
    sim.sends(event.clone()).await;
    let body = the_response(&sim, &event);
    assert_failed_with(&body, "DescribeProbe: InternalFailure: try later (server errors persisted for");
    let took = Duration::from_millis(sim.now_ms() - started);
    let patience = Patience::default().server_errors;
    assert!(took <= patience + Duration::from_secs(1) && took + Duration::from_secs(15) >= patience, "failed after {took:?}");
    assert!(!sim.invocations.all().is_empty(), "the patience spans continuations");
}

#[tokio::test]
async fn a_replacement_left_by_a_failed_update_is_deleted_by_a_sealed_cleanup_that_answers_nobody() {
    let (mut sim, probe) = sim();
    sim.invocation_timeout = Duration::from_secs(3);
    // A new Name stands for a replacement: it takes 6 s, its Delete too; the Update may wait 4 s.
    let props = json!({"Name": "new", "Behavior": "Wait", "WaitSeconds": 6, "ServiceTimeout": 4});
    let event = sim.event("Update", LOGICAL_ID, Some("probe-old"), props, Some(json!({"Name": "old"})));
    sim.begin(&event);
    let first = sim.once(event.clone()).await;
    assert!(first.is_ok(), "{first:?}");
    // The Update's continuations until it fails; CloudFormation then rolls back.
    let cleanup = sim.until_cleanup().await;
    let body = the_response(&sim, &event);
    assert_eq!((body["Status"].as_str(), body["PhysicalResourceId"].as_str()), (Some("FAILED"), Some("probe-old")));
    assert!(reason(&body).ends_with("(the replacement probe-new made during this update is being deleted)"), "{body}");
    let cleanup = cleanup.expect("a cleanup continuation");
    assert_eq!(
        (unsealed(&cleanup)["Event"]["RequestType"].as_str(), unsealed(&cleanup)["Event"]["PhysicalResourceId"].as_str()),
        (Some("Delete"), Some("probe-new"))
    );
    // It may still finish after the rollback completed.
    sim.stacks.set_stack_status(custom_resource::testing::STACK_ID, "UPDATE_ROLLBACK_COMPLETE");
    sim.stacks.set_resource(custom_resource::testing::STACK_ID, LOGICAL_ID, "UPDATE_COMPLETE", Some("probe-old"), "Custom::Probe");
    sim.invoke(cleanup).await;
    assert!(probe.steps().iter().any(|s| s == "delete probe-new"), "{:?}", probe.steps());
    assert_eq!(sim.responses.puts().len(), 1, "the cleanup answers nobody");
}

// ---- acting only on CloudFormation's own requests ----

#[tokio::test]
async fn events_cloudformation_is_not_sending_are_refused_before_any_step() {
    let (sim, probe) = sim();
    // The resource exists and nothing is happening to it.
    sim.stacks.set_stack_status(custom_resource::testing::STACK_ID, "UPDATE_COMPLETE");
    sim.stacks.set_resource(custom_resource::testing::STACK_ID, LOGICAL_ID, "UPDATE_COMPLETE", Some("probe-live"), "Custom::Probe");
    for event in [
        sim.event("Create", LOGICAL_ID, None, json!({"Name": "second"}), None),
        sim.event("Update", LOGICAL_ID, Some("probe-live"), json!({"Name": "live"}), Some(json!({"Name": "live"}))),
        sim.event("Delete", LOGICAL_ID, Some("probe-live"), json!({"Name": "live"}), None),
    ] {
        sim.invoke(event.clone()).await;
        assert_failed_with(&the_response(&sim, &event), "refused: ");
    }
    assert!(probe.steps().is_empty(), "{:?}", probe.steps());
}

#[tokio::test]
async fn the_id_a_stack_keeps_is_deleted_only_by_its_own_delete() {
    let (sim, probe) = sim();
    let stack = custom_resource::testing::STACK_ID;
    for status in ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "DELETE_IN_PROGRESS"] {
        sim.stacks.set_stack_status(stack, status);
        sim.stacks.set_resource(stack, LOGICAL_ID, "UPDATE_COMPLETE", Some("probe-kept"), "Custom::Probe");
        let kept = sim.event("Delete", LOGICAL_ID, Some("probe-kept"), json!({"Name": "kept"}), None);
        sim.invoke(kept.clone()).await;
        assert_failed_with(&the_response(&sim, &kept), "is the id the stack keeps");
        // A replaced id in the same window is CloudFormation's cleanup.
        let replaced = sim.event("Delete", LOGICAL_ID, Some("probe-replaced"), json!({"Name": "replaced"}), None);
        sim.invoke(replaced.clone()).await;
        assert_eq!(the_response(&sim, &replaced)["Status"], "SUCCESS", "{status}");
    }
    // A stable status opens no window at all.
    sim.stacks.set_stack_status(stack, "UPDATE_ROLLBACK_COMPLETE");
    let replaced = sim.event("Delete", LOGICAL_ID, Some("probe-replaced"), json!({"Name": "replaced"}), None);
    sim.invoke(replaced.clone()).await;
    assert_failed_with(&the_response(&sim, &replaced), "refused: ");
    assert_eq!(probe.steps().iter().filter(|s| *s == "delete probe-kept").count(), 0);
}

/// GIVEN a Delete the function is continuing legitimately; WHEN its continuation is re-aimed
/// (another id, the cleanup flag, other progress), re-sealed without the key or sent unsealed;
/// THEN nothing runs, CloudFormation is not even asked, and the embedded event gets FAILED.
#[tokio::test]
async fn continuations_are_accepted_only_as_this_function_sealed_them() {
    let (mut sim, probe) = sim();
    sim.invocation_timeout = Duration::from_secs(3);
    let event = sim.event("Delete", LOGICAL_ID, Some("probe-mine"), json!({"Name": "mine", "Behavior": "Wait", "WaitSeconds": 30}), None);
    sim.begin(&event);
    sim.once(event.clone()).await.unwrap();
    let genuine = sim.next_continuation().expect("a continuation");
    let (steps, checks) = (probe.steps().len(), sim.stacks.calls());

    let forgeries = [
        tampered(&genuine, |c| c["Event"]["PhysicalResourceId"] = json!("probe-victim")),
        tampered(&genuine, |c| c["Cleanup"] = json!(true)),
        tampered(&genuine, |c| c["Progress"] = json!({"started_ms": 0})),
        tampered(&genuine, |c| c["Attempt"] = json!(2)),
        json!({"StudioContinuation": {"Event": unsealed(&genuine)["Event"], "Progress": null, "Attempt": 1}}),
    ];
    for forged in forgeries {
        let result = sim.once(forged).await;
        assert!(result.is_ok(), "answered: {result:?}");
    }
    assert_eq!((probe.steps().len(), sim.stacks.calls()), (steps, checks), "nothing ran and CloudFormation was not asked");
    let refusals = sim.responses.delivered_to(&request_id(&event));
    assert_eq!(refusals.len(), 5);
    assert!(refusals.iter().all(|r| r["Status"] == "FAILED" && reason(r).starts_with("refused: ")), "{refusals:?}");

    // The genuine continuation, in its window, still carries on.
    sim.invoke(genuine).await;
    assert!(probe.steps().len() > steps);
}

#[tokio::test]
async fn a_sealed_continuation_is_still_bounded_in_time() {
    let (mut sim, _) = sim();
    sim.invocation_timeout = Duration::from_secs(3);
    let event =
        sim.event("Delete", LOGICAL_ID, Some("probe-slow"), json!({"Name": "slow", "Behavior": "Wait", "WaitSeconds": 3000, "ServiceTimeout": "60"}), None);
    sim.begin(&event);
    sim.once(event.clone()).await.unwrap();
    let continuation = sim.next_continuation().unwrap();
    // Held back and delivered after its ServiceTimeout: refused, whoever sealed it.
    sim.clock.advance(Duration::from_secs(120));
    sim.once(continuation).await.unwrap();
    assert_failed_with(&the_response(&sim, &event), "longer than its ServiceTimeout of 60 s allows");
}

#[tokio::test]
async fn a_replacement_cleanup_never_deletes_the_kept_id_and_is_only_a_delete() {
    let (mut sim, probe) = sim();
    sim.invocation_timeout = Duration::from_secs(3);
    let stack = custom_resource::testing::STACK_ID;
    // A genuine cleanup continuation of probe-new...
    let props = json!({"Name": "new", "Behavior": "Wait", "WaitSeconds": 6, "ServiceTimeout": 2});
    let event = sim.event("Update", LOGICAL_ID, Some("probe-old"), props, Some(json!({"Name": "old"})));
    sim.begin(&event);
    sim.once(event).await.unwrap();
    let cleanup = sim.until_cleanup().await.expect("a cleanup");
    // ...arriving once CloudFormation shows probe-new as the id it keeps (say the stack moved on).
    sim.stacks.set_stack_status(stack, "UPDATE_ROLLBACK_COMPLETE");
    sim.stacks.set_resource(stack, LOGICAL_ID, "UPDATE_COMPLETE", Some("probe-new"), "Custom::Probe");
    let steps = probe.steps().len();
    sim.invoke(cleanup).await;
    assert_eq!(probe.steps().len(), steps, "the kept id was not deleted: {:?}", probe.steps());
}

#[tokio::test]
async fn a_response_url_off_the_allowlist_gets_no_connection_and_no_action() {
    let (sim, probe) = sim();
    for url in [
        "https://cfn-responses.test.evil.example/x",
        "https://evil.example/x",
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.example/x",
    ] {
        let mut event = sim.event("Create", LOGICAL_ID, None, json!({"Name": "ssrf"}), None);
        event["ResponseURL"] = json!(url);
        let results = sim.sends(event).await;
        assert!(results[0].is_err(), "{url}: the invocation fails");
    }
    assert!(sim.responses.puts().is_empty());
    assert_eq!((sim.stacks.calls(), probe.steps().len()), (0, 0));
}
