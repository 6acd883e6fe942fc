//! Issue 13 end to end: made-up events and continuations, invoked directly as anyone with
//! lambda:InvokeFunction could, are refused (no SageMaker call, nothing changed), while what
//! CloudFormation really sends still works through the same check.

mod children;

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

pub(crate) fn properties(name: &str) -> Value {
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

/// Continuations as the function wrote them before they were sealed: progress past the ownership
/// check, a start in the future (never timing out), a cleanup of the id the stack keeps. None
/// carries the function's MAC, so each is refused before anything else (the time and window
/// rules of sealed ones are the protocol suite's, shared/custom-resource/tests/protocol.rs).
#[tokio::test]
async fn unsealed_continuations_are_refused_with_no_call() {
    let cloud = cloud(DOMAIN).await;
    let id = victim(&cloud).await;
    let calls = cloud.sagemaker.total_calls();
    let checks = cloud.cloudformation_api.call_count("DescribeStackResource");
    let mut destroy = properties("victim");
    destroy["ForceDelete"] = json!("true");

    let (event, request_id) = forged(&cloud, "Delete", Some(&id), destroy.clone()).await;
    let skip = continuation(&event, json!({"DeletingSpaces": {"requested": []}}), now_ms(), &id, false);
    let body = invoke(&cloud, DOMAIN, skip, &request_id).await;
    assert_refused(&body);
    assert!(body["Reason"].as_str().unwrap_or_default().contains("sealed"), "{body}");

    let event = cloud.cfn.event(RequestType::Delete, DOMAIN, LOGICAL_ID, Some(&id), destroy.clone(), None).await.unwrap();
    let request_id = event["RequestId"].as_str().unwrap().to_string();
    let future = continuation(&event, Value::Null, now_ms() + 3_600_000, &id, false);
    assert_refused(&invoke(&cloud, DOMAIN, future, &request_id).await);

    // A cleanup (Delete) of the id the stack keeps, with the stack in an update of that resource.
    let event = cloud.cfn.event(RequestType::Update, DOMAIN, LOGICAL_ID, Some(&id), properties("victim"), Some(properties("victim"))).await.unwrap();
    let mut cleanup = continuation(&event, Value::Null, now_ms(), &id, true);
    cleanup["StudioContinuation"]["Event"]["RequestType"] = json!("Delete");
    cloud.lambda.invoke_async(DOMAIN, cleanup).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(DOMAIN, Duration::from_secs(60)).await);

    assert_eq!(cloud.sagemaker.total_calls(), calls, "no SageMaker call: {:?}", cloud.sagemaker.calls());
    assert_eq!(cloud.cloudformation_api.call_count("DescribeStackResource"), checks, "not even a CloudFormation check");
    assert!(cloud.sagemaker.snapshot()["domains"].as_array().is_some_and(|d| d.len() == 1));
    assert!(!cloud.lambda.logs(DOMAIN).contains("DeletingSpaces"), "a refused payload is logged without its content");
}

/// Sealed with the functions' key (as only the functions can): the time bounds still refuse a
/// start in the future (it would never time out) and one older than the ServiceTimeout allows.
#[tokio::test]
async fn sealed_continuations_outside_their_time_bounds_are_refused() {
    let cloud = cloud(DOMAIN).await;
    let id = victim(&cloud).await;
    let calls = cloud.sagemaker.total_calls();
    let mut destroy = properties("victim");
    destroy["ForceDelete"] = json!("true");

    let event = cloud.cfn.event(RequestType::Delete, DOMAIN, LOGICAL_ID, Some(&id), destroy.clone(), None).await.unwrap();
    let request_id = event["RequestId"].as_str().unwrap().to_string();
    let future = unsigned_and_sealed(&cloud, DOMAIN, &continuation(&event, Value::Null, now_ms() + 3_600_000, &id, false)).await.1;
    let body = invoke(&cloud, DOMAIN, future, &request_id).await;
    assert_refused(&body);
    assert!(body["Reason"].as_str().unwrap().contains("future"), "{body}");

    // Older than the ServiceTimeout allows.
    let mut event = event;
    let request_id = local_cloud::uuid_v4();
    event["RequestId"] = json!(request_id);
    event["ResponseURL"] = json!(cloud.cfn.response_url(LOGICAL_ID, &request_id).await.unwrap());
    event["ResourceProperties"]["ServiceTimeout"] = json!("60");
    let stale = unsigned_and_sealed(&cloud, DOMAIN, &continuation(&event, Value::Null, now_ms() - 120_000, &id, false)).await.1;
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
    // Sealed with the functions' key, as a legitimate cleanup is: the window check alone refuses it.
    let cleanup = unsigned_and_sealed(&cloud, DOMAIN, &cleanup).await.1;
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

#[tokio::test]
async fn a_response_url_of_another_regions_response_bucket_is_neither_acted_on_nor_answered() {
    // The functions run in us-east-1 (AWS_REGION); the stack really is creating the resource.
    let cloud = cloud(DOMAIN).await;
    let request_id = local_cloud::uuid_v4();
    let mut event = cloud.cfn.event(RequestType::Create, DOMAIN, LOGICAL_ID, None, properties("elsewhere"), None).await.unwrap();
    event["RequestId"] = json!(request_id);
    for url in [
        // eu-west-1's response bucket, on its own endpoint and on the legacy global one.
        "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/arn%3Aaws%3Acloudformation/x?X-Amz-Signature=s",
        "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/arn%3Aaws%3Acloudformation/x?X-Amz-Signature=s",
    ] {
        event["ResponseURL"] = json!(url);
        let invocations = cloud.lambda.invocations(DOMAIN).len();
        cloud.lambda.invoke_async(DOMAIN, event.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(cloud.lambda.wait_idle(DOMAIN, Duration::from_secs(30)).await);
        let all = cloud.lambda.invocations(DOMAIN);
        assert_eq!(all.len(), invocations + 1, "{url}: one invocation");
        let last = all.last().expect("invoked");
        assert!(matches!(last.outcome, Outcome::Error(_)), "{url}: the invocation fails: {:?}", last.outcome);
    }
    assert_eq!(cloud.cloudformation_api.call_count("DescribeStackResource"), 0, "no CloudFormation check: nothing was acted on");
    assert_eq!(cloud.sagemaker.total_calls(), 0, "no SageMaker call: {:?}", cloud.sagemaker.calls());
    assert!(cloud.cfn.puts_for(&request_id).is_empty(), "no answer anywhere the local cloud sees");
    let logs = cloud.lambda.logs(DOMAIN);
    assert!(logs.contains("cloudformation-custom-resource-response-useast1"), "the log names the bucket that is allowed:\n{logs}");
    assert!(!logs.contains("X-Amz-Signature=s"), "the ResponseURL's signature stays out of the logs:\n{logs}");
}

/// The functions' continuation key, as only the functions hold it: a continuation sealed with it
/// opens, so what the function then does rests on its own checks alone (issue 22: progress is a
/// hint, ownership is re-checked on every step that changes something).
pub(crate) struct FunctionsKey<'a>(&'a LocalCloud);

#[async_trait::async_trait]
impl custom_resource::outbound::MacSigner for FunctionsKey<'_> {
    async fn generate_mac(&self, message: &[u8]) -> Result<Vec<u8>, custom_resource::outbound::MacError> {
        self.0.kms.mac(&self.0.continuation_key.arn, message).ok_or(custom_resource::outbound::MacError::NoKey)
    }

    async fn verify_mac(&self, _: &[u8], _: &[u8]) -> Result<(), custom_resource::outbound::MacError> {
        Err(custom_resource::outbound::MacError::Invalid)
    }
}

/// `continuation` as a forger can send it (a MAC it cannot make), and sealed with the functions' key.
pub(crate) async fn unsigned_and_sealed(cloud: &LocalCloud, function: &str, continuation: &Value) -> (Value, Value) {
    let inner = &continuation["StudioContinuation"];
    let unsigned = json!({"StudioContinuation": {"Payload": inner.to_string(), "Mac": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}});
    let sealed = custom_resource::testing::sealed_with_key(inner, function, &FunctionsKey(cloud)).await.expect("sealed");
    (unsigned, sealed)
}

/// Every call that changes something, in SageMaker, EC2/EFS and IAM Identity Center.
pub(crate) fn mutating_calls(cloud: &LocalCloud) -> Vec<String> {
    let reads = |op: &String| ["Describe", "List", "Get"].iter().any(|r| op.starts_with(r));
    [cloud.sagemaker.calls(), cloud.network.calls(), cloud.identity_center.calls()].into_iter().flatten().filter(|op| !reads(op)).collect()
}

/// The victim of the re-aimed continuations: a domain whose template allows everything a Delete
/// can do (so only ownership stands in the way), with a user profile and a running app.
async fn victim_with_a_user(cloud: &LocalCloud) -> (String, Value) {
    let mut template = properties("victim");
    template["ForceDelete"] = json!(true);
    template["RetentionPolicy"] = json!({"HomeEfsFileSystem": "Delete"});
    let r = cloud.cfn.create(DOMAIN, LOGICAL_ID, template).await.expect("create");
    assert_eq!(r.status, Status::Success, "{:?}", r.reason);
    let id = r.physical_resource_id;
    let sm = cloud.sagemaker_client();
    sm.create_user_profile().domain_id(&id).user_profile_name("alice").send().await.expect("CreateUserProfile");
    local_cloud::seed::settled(cloud).await;
    sm.create_app()
        .domain_id(&id)
        .user_profile_name("alice")
        .app_type(aws_sdk_sagemaker::types::AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect("CreateApp");
    local_cloud::seed::settled(cloud).await;
    let efs = r.data["HomeEfsFileSystemId"].clone();
    (id, json!(efs))
}

/// The attacker: a stack of its own with a domain its template lets a Delete destroy.
async fn attacker(cloud: &LocalCloud) -> (local_cloud::cloudformation::CloudFormation, String, Value) {
    let attacker = cloud.stack("attacker");
    let mut template = properties("attacker");
    template["ForceDelete"] = json!(true);
    template["RetentionPolicy"] = json!({"HomeEfsFileSystem": "Delete"});
    let r = attacker.create(DOMAIN, LOGICAL_ID, template.clone()).await.expect("create");
    assert_eq!(r.status, Status::Success, "{:?}", r.reason);
    (attacker, r.physical_resource_id, template)
}

/// The progress a domain Delete writes at each of its steps (the home EFS `efs` of the domain aimed at).
fn delete_progress(efs: &Value) -> Vec<Value> {
    let options = json!({"force_delete": true, "retention": "Delete", "delete_nfs_security_groups": true, "narrowed": []});
    vec![
        Value::Null,
        json!("Emptying"),
        json!({"DeletingDomain": {"home_efs_file_system_id": efs, "vpc_id": "vpc-0a1b2c3d", "described": true, "options": options}}),
        json!({"RemovingNfsSecurityGroups": {"home_efs_file_system_id": efs, "vpc_id": "vpc-0a1b2c3d", "since_ms": now_ms(), "narrowed": []}}),
    ]
}

/// Plays each of `payloads` and waits until the function is idle again.
async fn play_all(cloud: &LocalCloud, payloads: Vec<Value>) {
    for payload in payloads {
        cloud.lambda.invoke_async(DOMAIN, payload).await.expect("invoke");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(cloud.lambda.wait_idle(DOMAIN, Duration::from_secs(60)).await);
    }
}

fn assert_untouched(cloud: &LocalCloud, victim: &str, before: &Value, calls_before: usize) {
    assert_eq!(mutating_calls(cloud)[calls_before..], [] as [String; 0], "no call that changes anything (so none naming {victim})");
    assert_eq!(&cloud.sagemaker.snapshot(), before, "the victim's domain, profile and app are as they were");
}

/// Issue 22: the tester's own domain Delete (its stack really deleting it), its continuation
/// re-aimed at another stack's domain at every step the Delete has, changes nothing: unsigned it
/// is refused before any call; sealed with the functions' own key (as if the progress were wrong)
/// the ownership check of each step stops it.
#[tokio::test]
async fn a_delete_continuation_re_aimed_at_another_stack_s_domain_changes_nothing() {
    let cloud = cloud(DOMAIN).await;
    let (victim, efs) = victim_with_a_user(&cloud).await;
    let (attacker, own, template) = attacker(&cloud).await;
    // The attacker's stack deletes its own domain: CloudFormation shows a Delete in progress.
    let mut event = attacker.event(RequestType::Delete, DOMAIN, LOGICAL_ID, Some(&own), template, None).await.unwrap();
    assert_eq!(cloud.stacks.stack_status(attacker.stack_id()).as_deref(), Some("DELETE_IN_PROGRESS"));
    event["PhysicalResourceId"] = json!(victim);
    let before = cloud.sagemaker.snapshot();
    let calls = mutating_calls(&cloud).len();
    let sagemaker_calls = cloud.sagemaker.total_calls();

    let mut sealed = Vec::new();
    for progress in delete_progress(&efs) {
        let (unsigned, with_key) = unsigned_and_sealed(&cloud, DOMAIN, &continuation(&event, progress, now_ms(), &victim, false)).await;
        play_all(&cloud, vec![unsigned]).await;
        sealed.push(with_key);
    }
    assert_eq!(cloud.sagemaker.total_calls(), sagemaker_calls, "unsigned: refused before any call");
    play_all(&cloud, sealed).await;
    assert_untouched(&cloud, &victim, &before, calls);
    let logs = cloud.lambda.logs(DOMAIN);
    assert!(logs.contains("do not name this stack and logical id"), "{logs}");
}

/// Issue 22: the same with the cleanup flag (a failed Update's replacement), from a stack that
/// once rolled back an update and is now UPDATE_ROLLBACK_COMPLETE: nothing changes.
#[tokio::test]
async fn a_cleanup_continuation_re_aimed_from_a_rolled_back_stack_changes_nothing() {
    let cloud = cloud(DOMAIN).await;
    let (victim, efs) = victim_with_a_user(&cloud).await;
    let (attacker, own, template) = attacker(&cloud).await;
    cloud.stacks.update(attacker.stack_id(), |stack| stack.status = "UPDATE_ROLLBACK_COMPLETE".into());
    assert_eq!(cloud.stacks.resource(attacker.stack_id(), LOGICAL_ID).and_then(|r| r.physical_id), Some(own));
    let event = json!({
        "RequestType": "Delete", "ServiceToken": function_arn(DOMAIN), "ResponseURL": "",
        "StackId": attacker.stack_id(), "RequestId": local_cloud::uuid_v4(), "LogicalResourceId": LOGICAL_ID,
        "ResourceType": "Custom::StudioDomain", "ResourceProperties": template, "PhysicalResourceId": victim,
    });
    let before = cloud.sagemaker.snapshot();
    let calls = mutating_calls(&cloud).len();
    let sagemaker_calls = cloud.sagemaker.total_calls();

    let mut sealed = Vec::new();
    for progress in delete_progress(&efs) {
        let (unsigned, with_key) = unsigned_and_sealed(&cloud, DOMAIN, &continuation(&event, progress, now_ms(), &victim, true)).await;
        play_all(&cloud, vec![unsigned]).await;
        sealed.push(with_key);
    }
    assert_eq!(cloud.sagemaker.total_calls(), sagemaker_calls, "unsigned: refused before any call");
    play_all(&cloud, sealed).await;
    assert_untouched(&cloud, &victim, &before, calls);
}

/// Issue 22: while the victim's stack cleans up after an update (it replaced some other resource),
/// or after a rolled-back one, a Delete naming the domain the stack keeps changes nothing.
#[tokio::test]
async fn a_delete_of_the_kept_id_during_a_cleanup_changes_nothing() {
    let cloud = cloud(DOMAIN).await;
    let (victim, _) = victim_with_a_user(&cloud).await;
    let before = cloud.sagemaker.snapshot();
    let calls = cloud.sagemaker.total_calls();
    let mut destroy = properties("victim");
    destroy["ForceDelete"] = json!(true);
    destroy["RetentionPolicy"] = json!({"HomeEfsFileSystem": "Delete"});
    for status in ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"] {
        cloud.stacks.update(cloud.cfn.stack_id(), |stack| stack.status = status.into());
        let (event, request_id) = forged(&cloud, "Delete", Some(&victim), destroy.clone()).await;
        let body = invoke(&cloud, DOMAIN, event, &request_id).await;
        assert_refused(&body);
        assert!(body["Reason"].as_str().unwrap_or_default().contains("the id the stack keeps"), "{status}: {body}");
    }
    assert_eq!(cloud.sagemaker.total_calls(), calls, "no SageMaker call: {:?}", &cloud.sagemaker.calls()[calls..]);
    assert_eq!(cloud.sagemaker.snapshot(), before);
}
