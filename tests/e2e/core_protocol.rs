//! The custom-resource core, end to end: the probe function (examples/probe.rs) runs
//! as a real process under the Lambda emulator and answers through a presigned S3 URL; the
//! CloudFormation driver checks every response against the protocol.

use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{RequestType, Status};
use local_cloud::lambda::InvocationSource;
use serde_json::{Value, json};
use std::time::Duration;

const PROBE: &str = "probe";

async fn cloud() -> LocalCloud {
    let cloud = LocalCloud::start().await.expect("local cloud");
    cloud.deploy(PROBE).await.expect("deploy probe");
    cloud
}

#[tokio::test]
async fn stringified_numbers_and_booleans_parse_into_typed_properties() {
    let cloud = cloud().await;
    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "numbers", "Settings": {"IdleTimeoutInMinutes": 30, "Enabled": true}})).await.unwrap();
    // The driver sent every number and boolean as a string, as CloudFormation does.
    assert_eq!(r.status, Status::Success, "{:?}", r.reason);
    assert_eq!(r.physical_resource_id, "probe-numbers");
    assert_eq!(r.data["DoubledIdleTimeout"], "60");
    assert_eq!(r.data["IdleEnabled"], "true");
}

#[tokio::test]
async fn property_errors_name_the_full_path_and_unknown_properties() {
    let cloud = cloud().await;
    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "bad", "Settings": {"IdleTimeoutInMinutes": "sixty", "Enabled": true}})).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    let reason = r.reason.unwrap();
    assert!(reason.contains(r#"Settings.IdleTimeoutInMinutes: expected an integer, got "sixty""#), "{reason}");
    // A failed Create reports the recognisable marker, never an empty or random id.
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id));

    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "x", "Colour": "red"})).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    let reason = r.reason.unwrap();
    assert!(reason.contains("Colour: unknown property") && reason.contains("`Name`"), "{reason}");

    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "x", "ServiceTimeout": 5000})).await.unwrap();
    assert!(r.reason.unwrap().contains("ServiceTimeout: expected an integer from 1 to 3600"));
}

#[tokio::test]
async fn response_arrives_although_the_first_three_puts_fail_with_500() {
    let cloud = cloud().await;
    cloud.s3.fail_puts("/cfn-responses/", 3, 500);
    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "retry"})).await.unwrap();
    assert_eq!(r.status, Status::Success);
    let puts = cloud.cfn.puts_for(&r.request_id);
    assert_eq!(puts.iter().filter(|p| p.status == 500).count(), 3, "{puts:?}");
    assert_eq!(cloud.cfn.responses_for(&r.request_id), 1);
}

#[tokio::test]
async fn a_panic_in_resource_code_becomes_failed() {
    let cloud = cloud().await;
    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "boom", "Behavior": "Panic"})).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(r.reason.unwrap().contains("panicked: probe boom panicked as asked"));
}

#[tokio::test]
async fn oversized_data_and_long_reasons_stay_within_4096_bytes() {
    let cloud = cloud().await;
    let data: serde_json::Map<String, Value> = (0..10).map(|i| (format!("Attr{i}"), json!("x".repeat(500)))).collect();
    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "big", "Data": data})).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    let reason = r.reason.unwrap();
    assert!(reason.contains("4096-byte limit") && reason.contains("Attr9"), "{reason}");
    assert!(r.put.body_len <= 4096);
    // The create made the resource, so the FAILED response still names it for the cleanup Delete.
    assert_eq!(r.physical_resource_id, "probe-big");

    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "long", "Behavior": "LongReason"})).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(r.put.body_len <= 4096 && r.put.body_len > 3900, "{}", r.put.body_len);
    assert!(r.reason.unwrap().ends_with("(truncated)"));
}

#[tokio::test]
async fn a_near_deadline_continues_in_a_new_invocation_until_done() {
    let cloud = LocalCloud::start().await.unwrap();
    cloud.deploy_with(PROBE, Duration::from_secs(3), &[]).await.unwrap();
    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "slow", "Behavior": "Wait", "WaitSeconds": 7})).await.unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.reason);
    let invocations = cloud.lambda.invocations(PROBE);
    let continuations = invocations.iter().filter(|i| i.source == InvocationSource::SelfInvoke).count();
    assert!(continuations >= 2, "expected continuations, got {invocations:#?}");
    assert!(invocations.iter().all(|i| !matches!(i.outcome, local_cloud::lambda::Outcome::TimedOut)), "an invocation ran into its deadline");
}

#[tokio::test]
async fn the_whole_operation_is_bounded_by_service_timeout() {
    let cloud = LocalCloud::start().await.unwrap();
    cloud.deploy_with(PROBE, Duration::from_secs(3), &[]).await.unwrap();
    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "forever", "Behavior": "Wait", "WaitSeconds": 600, "ServiceTimeout": 5})).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    let reason = r.reason.unwrap();
    assert!(reason.starts_with("timed out after") && reason.contains("waiting for probe forever to finish waiting"), "{reason}");
    // The resource made so far is reported, so CloudFormation's Delete can clean it up.
    assert_eq!(r.physical_resource_id, "probe-forever");
}

#[tokio::test]
async fn a_failed_continuation_invoke_answers_failed() {
    let cloud = LocalCloud::start().await.unwrap();
    cloud.deploy_with(PROBE, Duration::from_secs(3), &[("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")]).await.unwrap();
    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "stuck", "Behavior": "Wait", "WaitSeconds": 30})).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(r.reason.unwrap().contains("could not continue waiting for probe stuck"));
}

#[tokio::test]
async fn delete_of_an_id_this_function_did_not_make_succeeds_without_work() {
    let cloud = cloud().await;
    let failed = cloud.cfn.create(PROBE, "Probe", json!({"Name": "x", "Behavior": "Fail"})).await.unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.reason.as_deref(), Some("probe x failed as asked"));
    // Properties that would fail again do not matter: nothing is attempted.
    for id in [failed.physical_resource_id.as_str(), "some-id-cloudformation-made-up"] {
        let r = cloud.cfn.delete(PROBE, "Probe", id, json!({"Name": "x", "Behavior": "Fail"})).await.unwrap();
        assert_eq!(r.status, Status::Success, "{id}: {:?}", r.reason);
        assert_eq!(r.physical_resource_id, id);
        assert!(r.reason.unwrap().contains("nothing to delete"));
    }
}

#[tokio::test]
async fn an_initialisation_failure_answers_failed_with_the_reason() {
    let cloud = LocalCloud::start().await.unwrap();
    cloud.deploy_with(PROBE, Duration::from_secs(30), &[("PROBE_INIT_ERROR", "the asset bucket setting is missing")]).await.unwrap();
    let r = cloud.cfn.create(PROBE, "Probe", json!({"Name": "x"})).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.reason.as_deref(), Some("the function failed to initialise: the asset bucket setting is missing"));
}

#[tokio::test]
async fn malformed_events_are_answered_failed() {
    let cloud = cloud().await;
    let mut event = cloud.cfn.event(RequestType::Create, PROBE, "Probe", None, json!({"Name": "x"}), None).await.unwrap();
    event["ResourceProperties"] = json!("not an object");
    let r = cloud.cfn.send(PROBE, event).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(r.reason.unwrap().contains("ResourceProperties must be an object"));

    let mut event = cloud.cfn.event(RequestType::Create, PROBE, "Probe", None, json!({"Name": "x"}), None).await.unwrap();
    event["RequestType"] = json!("Upsert");
    let r = cloud.cfn.send(PROBE, event).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(r.reason.unwrap().contains("malformed CloudFormation event"));
}

#[tokio::test]
async fn logs_are_json_with_the_request_identity_and_never_the_url_signature() {
    let cloud = cloud().await;
    cloud.s3.fail_puts("/cfn-responses/", 1, 503);
    let event = cloud.cfn.event(RequestType::Create, PROBE, "Probe", None, json!({"Name": "logged"}), None).await.unwrap();
    let url = event["ResponseURL"].as_str().unwrap().to_string();
    let signature = url.split("X-Amz-Signature=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let r = cloud.cfn.send(PROBE, event).await.unwrap();
    assert_eq!(r.status, Status::Success);

    let logs = cloud.lambda.logs(PROBE);
    assert!(!logs.contains(&signature), "the ResponseURL signature leaked into the logs:\n{logs}");
    assert!(!logs.contains("X-Amz-Credential"), "{logs}");
    let lines: Vec<Value> = logs.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let delivered: Vec<&Value> = lines.iter().filter(|l| l["fields"]["message"] == "response delivered").collect();
    assert_eq!(delivered.len(), 1, "{logs}");
    let span = &delivered[0]["span"];
    assert_eq!(span["RequestType"], "Create");
    assert_eq!(span["RequestId"], r.request_id.as_str());
    assert_eq!(span["LogicalResourceId"], "Probe");
    assert_eq!(span["StackId"], cloud.cfn.stack_id());
    // The retried attempt was logged too.
    assert!(lines.iter().any(|l| l["fields"]["message"] == "response PUT failed, will retry" && l["fields"]["status"] == 503), "{logs}");
}

#[tokio::test]
async fn update_and_delete_echo_the_physical_id() {
    let cloud = cloud().await;
    let created = cloud.cfn.create(PROBE, "Probe", json!({"Name": "u"})).await.unwrap();
    let updated =
        cloud.cfn.update(PROBE, "Probe", &created.physical_resource_id, json!({"Name": "u", "Data": {"K": "v"}}), json!({"Name": "u"})).await.unwrap();
    assert_eq!(updated.status, Status::Success);
    assert_eq!(updated.physical_resource_id, "probe-u");
    assert_eq!(updated.data["K"], "v");
    let failed = cloud.cfn.update(PROBE, "Probe", "probe-u", json!({"Name": "u", "Behavior": "Fail"}), json!({"Name": "u"})).await.unwrap();
    // A failed Update keeps the resource's id (a different one would read as a replacement).
    assert_eq!((failed.status, failed.physical_resource_id.as_str()), (Status::Failed, "probe-u"));
    let deleted = cloud.cfn.delete(PROBE, "Probe", "probe-u", json!({"Name": "u"})).await.unwrap();
    assert_eq!((deleted.status, deleted.physical_resource_id.as_str()), (Status::Success, "probe-u"));
}

#[tokio::test]
async fn after_a_failed_create_update_creates_and_delete_ignores_bad_properties() {
    let cloud = cloud().await;
    let failed = cloud.cfn.create(PROBE, "Probe", json!({"Name": "late", "ServiceTimeout": "soon"})).await.unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert!(failed.reason.unwrap().contains("ServiceTimeout"));
    let marker = failed.physical_resource_id;

    // Rollback disabled, then a stack update with fixed properties: the resource is created.
    let updated = cloud.cfn.update(PROBE, "Probe", &marker, json!({"Name": "late"}), json!({"Name": "late", "ServiceTimeout": "soon"})).await.unwrap();
    assert_eq!((updated.status, updated.physical_resource_id.as_str()), (Status::Success, "probe-late"));

    // The cleanup Delete of the marker, still carrying the bad ServiceTimeout, succeeds untouched.
    let deleted = cloud.cfn.delete(PROBE, "Probe", &marker, json!({"Name": "late", "ServiceTimeout": "soon"})).await.unwrap();
    assert_eq!(deleted.status, Status::Success);
}

#[tokio::test]
async fn a_replacement_left_by_a_failed_update_is_deleted_in_a_new_invocation() {
    let cloud = LocalCloud::start().await.unwrap();
    cloud.deploy_with(PROBE, Duration::from_secs(3), &[]).await.unwrap();
    // The probe's pending steps report probe-<Name>: a new Name stands for a replacement. It
    // takes 6 s, its Delete too; the Update may wait 4 s.
    let props = json!({"Name": "new", "Behavior": "Wait", "WaitSeconds": 6, "ServiceTimeout": 4});
    let r = cloud.cfn.update(PROBE, "Probe", "probe-old", props, json!({"Name": "old"})).await.unwrap();
    assert_eq!((r.status, r.physical_resource_id.as_str()), (Status::Failed, "probe-old"));
    let reason = r.reason.unwrap();
    assert!(reason.starts_with("timed out after") && reason.ends_with("(the replacement probe-new made during this update is being deleted)"), "{reason}");

    // The Delete of probe-new outlives the spent ServiceTimeout and the 3 s invocations, and
    // answers nobody: the driver would have failed on a second response to the Update.
    assert!(cloud.lambda.wait_idle(PROBE, Duration::from_secs(60)).await);
    let cleanups: Vec<Value> = cloud
        .lambda
        .invocations(PROBE)
        .into_iter()
        .map(|i| custom_resource::testing::unsealed(&i.payload))
        .filter(|continuation| continuation["Cleanup"] == json!(true))
        .map(|continuation| continuation["Event"].clone())
        .collect();
    assert!(cleanups.len() >= 2, "the cleanup continues across invocations: {cleanups:?}");
    assert_eq!((cleanups[0]["RequestType"].as_str(), cleanups[0]["PhysicalResourceId"].as_str()), (Some("Delete"), Some("probe-new")));
    let logs = cloud.lambda.logs(PROBE);
    assert!(logs.contains("the replacement a failed update left behind is deleted"), "{logs}");
    assert_eq!(cloud.cfn.responses_for(&r.request_id), 1);
}

#[tokio::test]
async fn the_url_signature_stays_out_of_the_logs_even_at_trace_level() {
    let cloud = LocalCloud::start().await.unwrap();
    cloud.deploy_with(PROBE, Duration::from_secs(60), &[("RUST_LOG", "trace")]).await.unwrap();
    let event = cloud.cfn.event(RequestType::Create, PROBE, "Probe", None, json!({"Name": "traced"}), None).await.unwrap();
    let url = event["ResponseURL"].as_str().unwrap().to_string();
    let signature = url.split("X-Amz-Signature=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let r = cloud.cfn.send(PROBE, event).await.unwrap();
    assert_eq!(r.status, Status::Success);
    let logs = cloud.lambda.logs(PROBE);
    assert!(logs.lines().count() > 5, "trace logging is on:\n{logs}");
    assert!(!logs.contains(&signature), "the ResponseURL signature leaked at trace level:\n{logs}");
}
