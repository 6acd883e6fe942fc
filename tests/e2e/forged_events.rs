//! Issue 13 end to end: made-up events and continuations, invoked directly as anyone with
//! lambda:InvokeFunction could, are refused (no SageMaker call, nothing changed), while what
//! CloudFormation really sends still works through the same check.

use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{RequestType, Status};
use local_cloud::lambda::{Outcome, function_arn};
use sagemaker_emulator::Options;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DOMAIN: &str = "studio-domain";
const PROBE: &str = "probe";
const LOGICAL_ID: &str = "StudioDomain";

async fn cloud(function: &str) -> LocalCloud {
    let cloud = LocalCloud::start_with(Options { transition_delay: Duration::from_millis(50), ..Options::default() }).await.expect("local cloud");
    cloud.deploy(function).await.expect("deploy");
    cloud
}

fn properties(name: &str) -> Value {
    json!({
        "DomainName": name,
        "AuthMode": "IAM",
        "VpcId": "vpc-0a1b2c3d",
        "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/studio-execution"},
    })
}

/// The victim: a domain its stack created and is now doing nothing with.
async fn victim(cloud: &LocalCloud) -> String {
    let r = cloud.cfn.create(DOMAIN, LOGICAL_ID, properties("victim")).await.expect("create");
    assert_eq!(r.status, Status::Success, "{:?}", r.reason);
    assert_eq!(cloud.stacks.resource(cloud.cfn.stack_id(), LOGICAL_ID).map(|r| r.status).as_deref(), Some("CREATE_COMPLETE"));
    r.physical_resource_id
}

/// An event written by hand (the victim's StackId, LogicalResourceId and ids are all
/// readable from its tags), with a ResponseURL the local cloud accepts.
pub(crate) async fn forged(cloud: &LocalCloud, request_type: &str, physical_id: Option<&str>, properties: Value) -> (Value, String) {
    let request_id = local_cloud::uuid_v4();
    let mut event = json!({
        "RequestType": request_type,
        "ServiceToken": function_arn(DOMAIN),
        "ResponseURL": cloud.cfn.response_url(LOGICAL_ID, &request_id).await.expect("url"),
        "StackId": cloud.cfn.stack_id(),
        "RequestId": request_id,
        "LogicalResourceId": LOGICAL_ID,
        "ResourceType": "Custom::StudioDomain",
        "ResourceProperties": properties,
    });
    if let Some(id) = physical_id {
        event["PhysicalResourceId"] = json!(id);
    }
    (event, request_id)
}

/// Invokes the function directly and returns the one body PUT for the request.
pub(crate) async fn invoke(cloud: &LocalCloud, function: &str, payload: Value, request_id: &str) -> Value {
    cloud.lambda.invoke_async(function, payload).await.expect("invoke");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(function, Duration::from_secs(60)).await);
    let puts: Vec<_> = cloud.cfn.puts_for(request_id).into_iter().filter(|p| p.succeeded()).collect();
    assert_eq!(puts.len(), 1, "exactly one answer");
    serde_json::from_slice(puts[0].body.as_deref().unwrap_or_default()).expect("JSON body")
}

fn assert_refused(body: &Value) {
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(body["Reason"].as_str().unwrap_or_default().starts_with("refused: "), "{body}");
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

fn continuation(event: &Value, progress: Value, started_at_ms: u64, physical_id: &str, cleanup: bool) -> Value {
    json!({"StudioContinuation": {
        "Event": event, "Progress": progress, "Attempt": 1, "StartedAtMs": started_at_ms,
        "PhysicalResourceId": physical_id, "WaitingFor": "", "Cleanup": cleanup,
    }})
}

#[tokio::test]
async fn forged_create_update_and_delete_are_refused_with_no_sagemaker_call() {
    let cloud = cloud(DOMAIN).await;
    let id = victim(&cloud).await;
    let before = cloud.sagemaker.snapshot();
    let calls = cloud.sagemaker.total_calls();

    // Delete, with the victim's ownership tags copied and everything destroyed on the way.
    let mut destroy = properties("victim");
    destroy["ForceDelete"] = json!("true");
    destroy["RetentionPolicy"] = json!({"HomeEfsFileSystem": "Delete"});
    let (event, request_id) = forged(&cloud, "Delete", Some(&id), destroy).await;
    assert_refused(&invoke(&cloud, DOMAIN, event, &request_id).await);

    let mut retagged = properties("victim");
    retagged["Tags"] = json!([{"Key": "owner", "Value": "attacker"}]);
    let (mut event, request_id) = forged(&cloud, "Update", Some(&id), retagged).await;
    event["OldResourceProperties"] = properties("victim");
    assert_refused(&invoke(&cloud, DOMAIN, event, &request_id).await);

    let (event, request_id) = forged(&cloud, "Create", None, properties("second")).await;
    assert_refused(&invoke(&cloud, DOMAIN, event, &request_id).await);

    assert_eq!(cloud.sagemaker.total_calls(), calls, "no SageMaker call: {:?}", cloud.sagemaker.calls());
    assert_eq!(cloud.sagemaker.snapshot(), before, "nothing changed");
    assert!(cloud.lambda.logs(DOMAIN).contains("refused"), "the refusal is logged");
}

#[tokio::test]
async fn forged_continuations_are_refused() {
    let cloud = cloud(DOMAIN).await;
    let id = victim(&cloud).await;
    let calls = cloud.sagemaker.total_calls();
    let mut destroy = properties("victim");
    destroy["ForceDelete"] = json!("true");

    // Progress past the ownership check, for a stack that is not deleting anything.
    let (event, request_id) = forged(&cloud, "Delete", Some(&id), destroy.clone()).await;
    let skip = continuation(&event, json!({"DeletingSpaces": {"requested": []}}), now_ms(), &id, false);
    assert_refused(&invoke(&cloud, DOMAIN, skip, &request_id).await);

    // A StartedAtMs in the future would never time out: refused even while CloudFormation
    // really deletes the resource.
    let event = cloud.cfn.event(RequestType::Delete, DOMAIN, LOGICAL_ID, Some(&id), destroy.clone(), None).await.unwrap();
    let request_id = event["RequestId"].as_str().unwrap().to_string();
    let future = continuation(&event, Value::Null, now_ms() + 3_600_000, &id, false);
    let body = invoke(&cloud, DOMAIN, future, &request_id).await;
    assert_refused(&body);
    assert!(body["Reason"].as_str().unwrap().contains("future"), "{body}");

    // Older than the ServiceTimeout allows.
    let mut event = event;
    let request_id = local_cloud::uuid_v4();
    event["RequestId"] = json!(request_id);
    event["ResponseURL"] = json!(cloud.cfn.response_url(LOGICAL_ID, &request_id).await.unwrap());
    event["ResourceProperties"]["ServiceTimeout"] = json!("60");
    let stale = continuation(&event, Value::Null, now_ms() - 120_000, &id, false);
    let body = invoke(&cloud, DOMAIN, stale, &request_id).await;
    assert_refused(&body);
    assert!(body["Reason"].as_str().unwrap().contains("ServiceTimeout"), "{body}");

    assert_eq!(cloud.sagemaker.total_calls(), calls, "no SageMaker call: {:?}", cloud.sagemaker.calls());
    assert!(cloud.sagemaker.snapshot()["domains"].as_array().is_some_and(|d| d.len() == 1));
}

#[tokio::test]
async fn a_forged_replacement_cleanup_cannot_delete_the_resource_the_stack_keeps() {
    let cloud = cloud(DOMAIN).await;
    let id = victim(&cloud).await;
    let calls = cloud.sagemaker.total_calls();
    // Even with the stack in an update of that very resource.
    let event = cloud.cfn.event(RequestType::Update, DOMAIN, LOGICAL_ID, Some(&id), properties("victim"), Some(properties("victim"))).await.unwrap();
    let mut cleanup = continuation(&event, Value::Null, now_ms(), &id, true);
    cleanup["StudioContinuation"]["Event"]["RequestType"] = json!("Delete");
    cloud.lambda.invoke_async(DOMAIN, cleanup).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(DOMAIN, Duration::from_secs(60)).await);
    assert_eq!(cloud.sagemaker.total_calls(), calls, "no SageMaker call: {:?}", cloud.sagemaker.calls());
    assert!(cloud.lambda.logs(DOMAIN).contains("is the resource the stack keeps"), "{}", cloud.lambda.logs(DOMAIN));
    assert!(cloud.s3.recorded_puts("/cfn-responses/").iter().all(|p| !p.path.ends_with(event["RequestId"].as_str().unwrap())), "a cleanup answers nobody");
}

#[tokio::test]
async fn what_cloudformation_sends_is_checked_and_acted_on() {
    let cloud = cloud(DOMAIN).await;
    let id = victim(&cloud).await;
    let checks = cloud.cloudformation_api.call_count("DescribeStackResource");
    assert!(checks >= 1, "the Create was checked with CloudFormation");
    let r = cloud.cfn.delete(DOMAIN, LOGICAL_ID, &id, properties("victim")).await.unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.reason);
    assert!(cloud.cloudformation_api.call_count("DescribeStackResource") > checks, "the Delete was checked too");
    assert!(cloud.sagemaker.snapshot()["domains"].as_array().is_none_or(Vec::is_empty));
}

/// A listener that records whether anyone connected.
async fn listener() -> (u16, tokio::task::JoinHandle<bool>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = tokio::spawn(async move { tokio::time::timeout(Duration::from_secs(3), listener.accept()).await.is_ok() });
    (port, seen)
}

#[tokio::test]
async fn a_response_url_off_the_allowlist_gets_no_connection_and_no_action() {
    let cloud = cloud(PROBE).await;
    for (case, url) in [
        ("a loopback port not listed", "http://127.0.0.1:{port}/cfn-responses/x?X-Amz-Signature=s"),
        ("an unlisted host", "http://localhost:{port}/cfn-responses/x"),
        ("https to an unlisted host", "https://localhost:{port}/x"),
    ] {
        let (port, seen) = listener().await;
        let mut event = cloud.cfn.event(RequestType::Create, PROBE, "Probe", None, json!({"Name": "ssrf"}), None).await.unwrap();
        event["ResponseURL"] = json!(url.replace("{port}", &port.to_string()));
        cloud.lambda.invoke_async(PROBE, event).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(cloud.lambda.wait_idle(PROBE, Duration::from_secs(30)).await);
        assert!(!seen.await.unwrap(), "{case}: the listening socket saw a connection");
        let last = cloud.lambda.invocations(PROBE).pop().expect("invoked");
        assert!(matches!(last.outcome, Outcome::Error(_)), "{case}: the invocation fails: {:?}", last.outcome);
    }
    // An unparseable payload with such a URL gets no PUT either.
    let (port, seen) = listener().await;
    cloud.lambda.invoke_async(PROBE, json!({"ResponseURL": format!("http://127.0.0.1:{port}/x"), "RequestType": "Explode"})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(PROBE, Duration::from_secs(30)).await);
    assert!(!seen.await.unwrap(), "the listening socket saw a connection");
    assert_eq!(cloud.cloudformation_api.call_count("DescribeStackResource"), 0, "nothing was acted on");
}
