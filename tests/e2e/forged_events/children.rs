//! Issue 22 for the child functions: a continuation of the tester's own Create (its stack really
//! creating that resource), re-aimed at another stack's profile or staged assets, changes nothing.
//! Unsigned it is refused before any call; sealed with the functions' own key (as if the progress
//! the function wrote were wrong) the ownership re-checked by the step that would change
//! something stops it: progress is a hint, never proof.

use super::{continuation, mutating_calls, now_ms, unsigned_and_sealed};
use aws_sdk_sagemaker::types::AuthMode;
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{RequestType, Status};
use local_cloud::seed::domain;
use sagemaker_emulator::Options;
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

const PROFILE: &str = "studio-user-profile";
const LIFECYCLE: &str = "studio-lifecycle-config";
const ROLE: &str = "arn:aws:iam::123456789012:role/studio-execution";
const SOURCES: &str = "asset-sources";
const STAGING: &str = "lifecycle-staging";

async fn play(cloud: &LocalCloud, function: &str, payload: Value) {
    cloud.lambda.invoke_async(function, payload).await.expect("invoke");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(function, Duration::from_secs(60)).await);
}

/// Issue 22: the tester's own profile Create, its continuation re-aimed at another stack's
/// profile with the progress that deletes a failed profile (`RemovingFailed`), changes nothing.
#[tokio::test]
async fn a_removing_failed_profile_continuation_re_aimed_at_another_stack_s_profile_changes_nothing() {
    let cloud = LocalCloud::start_with(Options { transition_delay: Duration::from_millis(50), ..Options::default() }).await.expect("local cloud");
    cloud.deploy(PROFILE).await.expect("deploy");
    let client = cloud.sagemaker_client();
    let victim_domain = domain(&client, "victim", AuthMode::Iam).await;
    let victim_props = json!({"DomainId": victim_domain, "UserProfileName": "alice", "UserSettings": {"ExecutionRole": ROLE}});
    let victim = cloud.cfn.create(PROFILE, "Alice", victim_props.clone()).await.expect("create");
    assert_eq!(victim.status, Status::Success, "{:?}", victim.reason);

    // The attacker's stack is really creating a profile of its own: CloudFormation shows the
    // window open. Its continuation is re-aimed at the victim's profile.
    let attacker = cloud.stack("attacker");
    let event = attacker.event(RequestType::Create, PROFILE, "Alice", None, victim_props, None).await.unwrap();
    let progress = json!({"RemovingFailed": {"reason": "user profile alice failed: no capacity"}});
    let forged = continuation(&event, progress, now_ms(), &victim.physical_resource_id, false);
    let (unsigned, sealed) = unsigned_and_sealed(&cloud, PROFILE, &forged).await;
    let before = cloud.sagemaker.snapshot();
    let calls = cloud.sagemaker.total_calls();
    let mutating = mutating_calls(&cloud).len();

    play(&cloud, PROFILE, unsigned).await;
    assert_eq!(cloud.sagemaker.total_calls(), calls, "unsigned: refused before any call: {:?}", &cloud.sagemaker.calls()[calls..]);
    play(&cloud, PROFILE, sealed).await;
    assert_eq!(mutating_calls(&cloud)[mutating..], [] as [String; 0], "no call that changes anything");
    assert_eq!(cloud.sagemaker.snapshot(), before, "the victim's profile is as it was");
    let logs = cloud.lambda.logs(PROFILE);
    assert!(logs.contains("was not made by this request"), "{logs}");
}

fn zip_of(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(name, zip::write::SimpleFileOptions::default()).expect("zip entry");
    zip.write_all(bytes).expect("zip write");
    zip.finish().expect("zip").into_inner()
}

fn lifecycle_props(commands: Value) -> Value {
    json!({
        "StudioLifecycleConfigName": "shared-tools",
        "StudioLifecycleConfigAppType": "JupyterLab",
        "Commands": commands,
        "Assets": [{"Name": "tools", "SourceBucket": SOURCES, "SourceKey": "tools.zip"}],
        "AssetBucket": STAGING,
    })
}

/// Every key of the staging bucket, sorted.
async fn staged_keys(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let page = s3.list_objects_v2().bucket(STAGING).send().await.expect("list");
    let mut keys: Vec<String> = page.contents().iter().filter_map(|o| o.key()).map(str::to_string).collect();
    keys.sort();
    keys
}

/// Issue 22: the tester's own lifecycle-config Create, its staging continuation re-aimed at the
/// prefix another stack's config staged (the content hash in its progress is the victim's, so a
/// "content changed while staging" cleanup would remove that prefix), deletes no object of it.
#[tokio::test]
async fn a_staging_continuation_re_aimed_at_another_stack_s_prefix_deletes_nothing() {
    let cloud = LocalCloud::start_with(Options { transition_delay: Duration::from_millis(50), ..Options::default() }).await.expect("local cloud");
    cloud.deploy(LIFECYCLE).await.expect("deploy");
    for bucket in [SOURCES, STAGING] {
        cloud.s3.create_bucket(bucket).await.expect("bucket");
    }
    let s3 = cloud.s3.client().await;
    s3.put_object().bucket(SOURCES).key("tools.zip").body(zip_of("a.txt", b"alpha").into()).send().await.expect("put");
    let victim = cloud.cfn.create(LIFECYCLE, "Lifecycle", lifecycle_props(json!(["echo hi"]))).await.expect("create");
    assert_eq!(victim.status, Status::Success, "{:?}", victim.reason);
    let uri = &victim.data["AssetsS3Uri"];
    let victim_hash = uri.trim_end_matches('/').rsplit('/').next().expect("hash").to_string();
    let before = staged_keys(&s3).await;
    assert!(before.iter().any(|k| k.ends_with(&format!("{victim_hash}/tools/a.txt"))), "{before:?}");

    // The attacker's stack is really creating a config of its own, with other content under the
    // victim's names; its continuation says the victim's content was being staged.
    let attacker = cloud.stack("attacker");
    let event = attacker.event(RequestType::Create, LIFECYCLE, "Lifecycle", None, lifecycle_props(json!(["echo attacker"])), None).await.unwrap();
    let progress = json!({"content_sha256": victim_hash, "asset": 0, "file": 1});
    let mut forged = continuation(&event, progress, now_ms(), "", false);
    // Staging has no config yet: no PhysicalResourceId.
    forged["StudioContinuation"]["PhysicalResourceId"] = Value::Null;
    let (unsigned, sealed) = unsigned_and_sealed(&cloud, LIFECYCLE, &forged).await;
    let calls = cloud.sagemaker.total_calls();

    play(&cloud, LIFECYCLE, unsigned).await;
    assert_eq!(cloud.sagemaker.total_calls(), calls, "unsigned: refused before any call");
    assert_eq!(staged_keys(&s3).await, before);
    play(&cloud, LIFECYCLE, sealed).await;
    assert_eq!(staged_keys(&s3).await, before, "no object of the victim's prefix deleted, nothing written");
    let logs = cloud.lambda.logs(LIFECYCLE);
    assert!(logs.contains("were not staged by this request"), "{logs}");
}
