//! studio-domain end to end: the real binary under the Lambda emulator, against the SageMaker
//! emulator, driven by CloudFormation events (properties as strings, as CloudFormation sends them).

use aws_sdk_sagemaker::types::{
    AppType, AuthMode, DockerSettings, DomainSettingsForUpdate, FeatureStatus, OwnershipSettings, SharingType, SpaceSharingSettings, UserSettings,
};
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{RequestType, Response, Status};
use local_cloud::lambda::InvocationSource;
use sagemaker_emulator::{Options, Phase, ResourceKind};
use serde_json::{Value, json};
use std::time::Duration;

const FUNCTION: &str = "studio-domain";
const LOGICAL_ID: &str = "StudioDomain";

pub(crate) async fn cloud() -> LocalCloud {
    cloud_with(Options { transition_delay: Duration::from_millis(100), ..Options::default() }, Duration::from_secs(900)).await
}

async fn cloud_with(options: Options, lambda_timeout: Duration) -> LocalCloud {
    cloud_with_env(options, lambda_timeout, &[]).await
}

/// `env`: e.g. shorter patience (PATIENCE_*_SECONDS), so that a rule of minutes takes seconds.
async fn cloud_with_env(options: Options, lambda_timeout: Duration, env: &[(&str, &str)]) -> LocalCloud {
    let cloud = LocalCloud::start_with(options).await.expect("local cloud");
    cloud.deploy_with(FUNCTION, lambda_timeout, env).await.expect("deploy studio-domain");
    cloud
}

/// A VpcOnly IAM domain, as a platform team writes it.
fn properties(name: &str) -> Value {
    json!({
        "DomainName": name,
        "AuthMode": "IAM",
        "VpcId": "vpc-0a1b2c3d",
        "SubnetIds": ["subnet-0a", "subnet-0b"],
        "AppNetworkAccessType": "VpcOnly",
        "DefaultUserSettings": {
            "ExecutionRole": "arn:aws:iam::123456789012:role/studio-execution",
            "SecurityGroups": ["sg-0studio"],
            "JupyterLabAppSettings": {
                "LifecycleConfigArns": ["arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/setup-0123456789"],
                "AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 120}}
            }
        },
        "Tags": [{"Key": "team", "Value": "research"}]
    })
}

pub(crate) fn with(mut value: Value, member: &str, member_value: Value) -> Value {
    value[member] = member_value;
    value
}

/// Asserts SUCCESS; the Reason (what the function says it did).
pub(crate) fn succeeded(response: &Response) -> String {
    response.expect_success().reason.clone().unwrap_or_default()
}

pub(crate) fn failed(response: &Response) -> String {
    assert_eq!(response.status, Status::Failed, "expected FAILED, got SUCCESS {:?}", response.data);
    response.reason.clone().unwrap_or_default()
}

async fn create(cloud: &LocalCloud, props: Value) -> String {
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, props).await.expect("create response");
    succeeded(&r);
    r.physical_resource_id
}

/// A sample event from events/, with a ResponseURL the driver can watch.
async fn play(cloud: &LocalCloud, file: &str, physical_id: Option<&str>) -> Response {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("sample event")).expect("sample event JSON");
    let request_id = event["RequestId"].as_str().expect("RequestId").to_string();
    event["ResponseURL"] = json!(cloud.cfn.response_url(LOGICAL_ID, &request_id).await.expect("response URL"));
    if let Some(id) = physical_id {
        event["PhysicalResourceId"] = json!(id);
    }
    cloud.cfn.send(FUNCTION, event).await.expect("response")
}

/// Lambda delivers one asynchronous Create event twice, at once, to two execution environments
/// (`twin`: a second instance of the function; one instance runs one invocation at a time):
/// each delivery must answer SUCCESS with the same DomainId, which is returned.
async fn delivered_twice(cloud: &LocalCloud, twin: &str, logical_id: &str, props: Value) -> String {
    let event = cloud.cfn.event(RequestType::Create, FUNCTION, logical_id, None, props, None).await.unwrap();
    let request_id = event["RequestId"].as_str().unwrap().to_string();
    let (first, second) = tokio::join!(cloud.lambda.invoke_async(FUNCTION, event.clone()), cloud.lambda.invoke_async(twin, event));
    first.unwrap();
    second.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(FUNCTION, Duration::from_secs(120)).await);
    assert!(cloud.lambda.wait_idle(twin, Duration::from_secs(120)).await);
    let bodies: Vec<Value> = cloud
        .cfn
        .puts_for(&request_id)
        .iter()
        .filter(|put| put.succeeded())
        .map(|put| serde_json::from_slice(put.body.as_deref().unwrap_or_default()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "each delivery answers");
    assert!(bodies.iter().all(|b| b["Status"] == "SUCCESS"), "{:?}", bodies.iter().map(|b| (&b["Status"], &b["Reason"])).collect::<Vec<_>>());
    assert_eq!(bodies[0]["PhysicalResourceId"], bodies[1]["PhysicalResourceId"]);
    bodies[0]["PhysicalResourceId"].as_str().unwrap_or_default().to_string()
}

fn domains(cloud: &LocalCloud) -> Vec<Value> {
    cloud.sagemaker.snapshot()["domains"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn domain(cloud: &LocalCloud, id: &str) -> Option<Value> {
    domains(cloud).into_iter().find(|d| d["DomainId"] == id)
}

pub(crate) fn tags(cloud: &LocalCloud, id: &str) -> Value {
    let arn = domain(cloud, id).map(|d| d["DomainArn"].clone()).unwrap_or_default();
    cloud.sagemaker.snapshot()["tags"][arn.as_str().unwrap_or_default()].clone()
}

/// What users leave in a domain: user profile alice with a JupyterServer app, her private
/// space with a running JupyterLab app, and a shared space.
pub(crate) async fn seed_users(cloud: &LocalCloud, domain_id: &str) {
    let sm = cloud.sagemaker_client();
    sm.create_user_profile()
        .domain_id(domain_id)
        .user_profile_name("alice")
        .user_settings(UserSettings::builder().build())
        .send()
        .await
        .expect("CreateUserProfile");
    local_cloud::seed::settled(cloud).await;
    sm.create_space()
        .domain_id(domain_id)
        .space_name("alice-notebooks")
        .ownership_settings(OwnershipSettings::builder().owner_user_profile_name("alice").build())
        .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(SharingType::Private).build())
        .send()
        .await
        .expect("CreateSpace");
    sm.create_space().domain_id(domain_id).space_name("team-shared").send().await.expect("CreateSpace");
    local_cloud::seed::settled(cloud).await;
    sm.create_app().domain_id(domain_id).user_profile_name("alice").app_type(AppType::JupyterServer).app_name("default").send().await.expect("CreateApp");
    sm.create_app().domain_id(domain_id).space_name("alice-notebooks").app_type(AppType::JupyterLab).app_name("default").send().await.expect("CreateApp");
    local_cloud::seed::settled(cloud).await;
}

fn app_statuses(cloud: &LocalCloud) -> Vec<String> {
    let snapshot = cloud.sagemaker.snapshot();
    snapshot["apps"].as_array().into_iter().flatten().map(|a| a["Status"].as_str().unwrap_or_default().to_string()).collect()
}

fn position(calls: &[String], operation: &str, last: bool) -> usize {
    let found = if last { calls.iter().rposition(|c| c == operation) } else { calls.iter().position(|c| c == operation) };
    found.unwrap_or_else(|| panic!("no {operation} call in {calls:?}"))
}

#[tokio::test]
async fn the_sample_events_create_update_and_delete_a_domain() {
    let cloud = cloud().await;

    let r = play(&cloud, "domain-create.json", None).await;
    succeeded(&r);
    let id = r.physical_resource_id.clone();
    assert!(id.starts_with("d-"), "{id}");
    let created = domain(&cloud, &id).expect("domain exists");
    assert_eq!(created["Status"], "InService");
    for (key, member) in [("DomainId", "DomainId"), ("DomainArn", "DomainArn"), ("Url", "Url"), ("HomeEfsFileSystemId", "HomeEfsFileSystemId")] {
        assert_eq!(r.data[key], created[member].as_str().unwrap_or_default(), "{key}");
    }
    assert!(r.data["SecurityGroupIdForDomainBoundary"].starts_with("sg-"), "{:?}", r.data);
    assert!(!r.data.contains_key("SingleSignOnApplicationArn"), "IAM domain: {:?}", r.data);
    // Stringified numbers reached SageMaker as numbers.
    let idle = &created["DefaultUserSettings"]["JupyterLabAppSettings"]["AppLifecycleManagement"]["IdleSettings"];
    assert_eq!(idle["IdleTimeoutInMinutes"], 120);
    let tags = tags(&cloud, &id);
    assert_eq!(tags["team"], "ml-platform");
    assert_eq!(tags["studio-cfn:logical-id"], LOGICAL_ID);
    assert!(tags["studio-cfn:stack-id"].as_str().unwrap_or_default().contains("stack/ml-platform/"), "{tags}");

    // The update removes the lifecycle config, raises the idle timeout and changes tags.
    let r = play(&cloud, "domain-update.json", Some(&id)).await;
    succeeded(&r);
    assert_eq!(r.physical_resource_id, id, "updated in place");
    let updated = domain(&cloud, &id).expect("domain exists");
    let jupyter_lab = &updated["DefaultUserSettings"]["JupyterLabAppSettings"];
    assert_eq!(jupyter_lab["LifecycleConfigArns"], json!([]), "the removed lifecycle config was cleared");
    assert_eq!(jupyter_lab["AppLifecycleManagement"]["IdleSettings"]["IdleTimeoutInMinutes"], 240);
    assert_eq!(jupyter_lab["DefaultResourceSpec"]["InstanceType"], "ml.m5.large");
    let tags = self::tags(&cloud, &id);
    assert_eq!(tags["team"], "ml-platform-research");
    assert!(tags.get("cost-center").is_none(), "removed tag stays: {tags}");
    assert_eq!(tags["studio-cfn:logical-id"], LOGICAL_ID, "ownership tags are kept");
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), 1);
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 1);

    let r = play(&cloud, "domain-delete.json", Some(&id)).await;
    succeeded(&r);
    assert!(domain(&cloud, &id).is_none(), "domain deleted");
    let efs = created["HomeEfsFileSystemId"].as_str().unwrap_or_default();
    assert_eq!(cloud.sagemaker.snapshot()["efs"][efs], "Retained", "RetentionPolicy Retain keeps the home EFS");
    assert!(r.reason.unwrap_or_default().contains(&format!("{efs} was retained")));
}

#[tokio::test]
async fn sso_domains_report_their_identity_center_application() {
    let cloud = cloud().await;
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, with(properties("sso"), "AuthMode", json!("SSO"))).await.unwrap();
    succeeded(&r);
    assert!(r.data["SingleSignOnApplicationArn"].starts_with("arn:aws:sso::"), "{:?}", r.data);
    assert!(r.data["SingleSignOnManagedApplicationInstanceId"].starts_with("ins-"), "{:?}", r.data);
}

#[tokio::test]
async fn a_second_delivery_of_the_same_create_reports_the_same_domain() {
    let cloud = cloud().await;
    let twin = cloud.deploy_twin(FUNCTION).await.unwrap();
    let id = delivered_twice(&cloud, &twin, LOGICAL_ID, properties("twice")).await;
    assert_eq!(domain(&cloud, &id).unwrap()["DomainName"], "twice");
    // Both deliveries may call CreateDomain before either can list the other's domain: the
    // second is refused the name (ResourceInUse) and settles on the first's. One domain stays.
    assert!(cloud.sagemaker.call_count("CreateDomain") <= 2, "{:?}", cloud.sagemaker.calls());
    assert_eq!(domains(&cloud).len(), 1);
}

#[tokio::test]
async fn a_domain_that_ends_failed_is_reported_and_removed() {
    let cloud = cloud().await;
    cloud.sagemaker.fail_next(ResourceKind::Domain, Phase::Create, "Subnet subnet-0a is in an unsupported Availability Zone");
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, properties("doomed")).await.unwrap();
    let reason = failed(&r);
    assert!(reason.contains("Subnet subnet-0a is in an unsupported Availability Zone"), "{reason}");
    let id = r.physical_resource_id.clone();
    assert!(id.starts_with("d-"), "the failed domain is reported so that the Delete can finish removing it: {id}");
    assert_eq!(cloud.sagemaker.call_count("DeleteDomain"), 1, "the failed domain must not count against the quota");

    // CloudFormation's rollback deletes what the Create reported.
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, properties("doomed")).await.unwrap();
    succeeded(&r);
    assert!(domains(&cloud).is_empty(), "{:?}", domains(&cloud));
    let efs = cloud.sagemaker.snapshot()["efs"].clone();
    assert!(efs.as_object().unwrap().values().all(|state| state == "Deleted"), "a failed domain's empty EFS goes too: {efs}");
}

#[tokio::test]
async fn delete_after_a_create_that_failed_validation_calls_nothing() {
    let cloud = cloud().await;
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, with(properties("bad"), "SubnetIds", json!([]))).await.unwrap();
    failed(&r);
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &r.physical_resource_id, with(properties("bad"), "SubnetIds", json!([]))).await.unwrap();
    succeeded(&r);
    assert_eq!(cloud.sagemaker.total_calls(), 0, "{:?}", cloud.sagemaker.calls());
}

#[tokio::test]
async fn property_errors_name_their_paths_before_any_call() {
    let cloud = cloud().await;
    let mut bad_idle = properties("bad");
    bad_idle["DefaultUserSettings"]["JupyterLabAppSettings"]["AppLifecycleManagement"]["IdleSettings"]["IdleTimeoutInMinutes"] = json!(5);
    let mut no_security_groups = properties("bad");
    no_security_groups["DefaultUserSettings"].as_object_mut().unwrap().remove("SecurityGroups");
    let mut missing = properties("bad");
    missing.as_object_mut().unwrap().remove("VpcId");
    let cases = [
        (with(properties("bad"), "DomainName", json!("-research")), "DomainName"),
        (with(properties("bad"), "AuthMode", json!("OIDC")), "AuthMode: expected one of IAM, SSO"),
        (with(properties("bad"), "SubnetIds", json!((0..17).map(|i| format!("subnet-{i}")).collect::<Vec<_>>())), "SubnetIds: expected 1 to 16"),
        (with(properties("bad"), "Tags", json!([{"Key": "aws:owner", "Value": "me"}])), "Tags[0].Key"),
        (with(properties("bad"), "RetentionPolicy", json!({"HomeEfsFileSystem": "Keep"})), "RetentionPolicy.HomeEfsFileSystem"),
        (bad_idle, "DefaultUserSettings.JupyterLabAppSettings.AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes: expected 60 to 525600"),
        (no_security_groups, "DefaultUserSettings.SecurityGroups: required when AppNetworkAccessType is VpcOnly"),
        (missing, "VpcId: required property is missing"),
        (with(properties("bad"), "HomeEfsFileSystemSize", json!(5)), "HomeEfsFileSystemSize: unknown property"),
    ];
    for (props, expected) in cases {
        let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, props).await.unwrap();
        let reason = failed(&r);
        assert!(reason.starts_with("Invalid property ") && reason.contains(expected), "expected {expected:?} in {reason:?}");
    }
    assert_eq!(cloud.sagemaker.total_calls(), 0, "{:?}", cloud.sagemaker.calls());
}

#[tokio::test]
async fn a_tag_only_update_keeps_the_domain_and_uses_the_tagging_api() {
    let cloud = cloud().await;
    let old = properties("tagged");
    let id = create(&cloud, old.clone()).await;
    let new = with(old.clone(), "Tags", json!([{"Key": "owner", "Value": "platform"}]));
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, new, old).await.unwrap();
    succeeded(&r);
    assert_eq!(r.physical_resource_id, id);
    let tags = tags(&cloud, &id);
    assert_eq!(tags["owner"], "platform");
    assert!(tags.get("team").is_none(), "{tags}");
    assert_eq!(tags["studio-cfn:logical-id"], LOGICAL_ID);
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 0);
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), 1);
    assert_eq!((cloud.sagemaker.call_count("AddTags"), cloud.sagemaker.call_count("DeleteTags")), (1, 1));
}

#[tokio::test]
async fn an_update_that_ends_update_failed_is_reported() {
    let cloud = cloud().await;
    let old = properties("upd");
    let id = create(&cloud, old.clone()).await;
    cloud.sagemaker.fail_next(ResourceKind::Domain, Phase::Update, "The execution role cannot be assumed by SageMaker");
    let mut new = old.clone();
    new["DefaultUserSettings"]["ExecutionRole"] = json!("arn:aws:iam::123456789012:role/other");
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, new, old.clone()).await.unwrap();
    let reason = failed(&r);
    assert!(reason.contains("The execution role cannot be assumed by SageMaker"), "{reason}");
    assert_eq!(r.physical_resource_id, id);

    // CloudFormation's rollback: an Update back to the old properties.
    let mut failed_new = old.clone();
    failed_new["DefaultUserSettings"]["ExecutionRole"] = json!("arn:aws:iam::123456789012:role/other");
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, old, failed_new).await.unwrap();
    succeeded(&r);
    assert_eq!(domain(&cloud, &id).unwrap()["Status"], "InService");
    // The domain kept its settings, yet only an UpdateDomain ends Update_Failed.
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 2);
}

#[tokio::test]
async fn a_change_that_needs_a_new_domain_is_refused_without_allow_replacement() {
    let cloud = cloud().await;
    let old = properties("research");
    let id = create(&cloud, old.clone()).await;
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, with(old.clone(), "VpcId", json!("vpc-0other")), old).await.unwrap();
    let reason = failed(&r);
    for expected in ["VpcId", "new, empty home EFS", "AllowReplacement: true"] {
        assert!(reason.contains(expected), "{expected:?} in {reason}");
    }
    assert_eq!(r.physical_resource_id, id);
    assert_eq!(domains(&cloud).len(), 1);
    assert_eq!(domain(&cloud, &id).unwrap()["VpcId"], "vpc-0a1b2c3d");
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 0);
}

#[tokio::test]
async fn allow_replacement_creates_a_new_domain_and_the_cleanup_deletes_the_old_one() {
    let cloud = cloud().await;
    let old = properties("research");
    let old_id = create(&cloud, old.clone()).await;
    let new = with(with(with(old.clone(), "DomainName", json!("research-v2")), "VpcId", json!("vpc-0other")), "AllowReplacement", json!(true));
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &old_id, new, old.clone()).await.unwrap();
    succeeded(&r);
    let new_id = r.physical_resource_id.clone();
    assert_ne!(new_id, old_id, "a new PhysicalResourceId tells CloudFormation it was replaced");
    assert_eq!(domain(&cloud, &new_id).unwrap()["VpcId"], "vpc-0other");
    assert_eq!(r.data["DomainId"], new_id);

    // CloudFormation's cleanup phase: Delete of the old domain with the old properties.
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &old_id, old).await.unwrap();
    succeeded(&r);
    let left: Vec<Value> = domains(&cloud).iter().map(|d| d["DomainId"].clone()).collect();
    assert_eq!(left, vec![json!(new_id)]);
}

#[tokio::test]
async fn delete_with_running_apps_deletes_them_and_skips_finished_ones() {
    let cloud = cloud().await;
    let props = with(properties("apps"), "ForceDelete", json!(true));
    let id = create(&cloud, props.clone()).await;
    seed_users(&cloud, &id).await;
    let sm = cloud.sagemaker_client();
    // One app already Deleted, one Failed: DeleteApp would refuse both.
    sm.create_app().domain_id(&id).space_name("team-shared").app_type(AppType::CodeEditor).app_name("default").send().await.unwrap();
    local_cloud::seed::settled(&cloud).await;
    sm.delete_app().domain_id(&id).space_name("team-shared").app_type(AppType::CodeEditor).app_name("default").send().await.unwrap();
    cloud.sagemaker.fail_next(ResourceKind::App, Phase::Create, "Insufficient capacity for ml.g5.xlarge");
    sm.create_app().domain_id(&id).user_profile_name("alice").app_type(AppType::KernelGateway).app_name("gpu").send().await.unwrap();
    local_cloud::seed::settled(&cloud).await;
    let mut statuses = app_statuses(&cloud);
    statuses.sort();
    assert_eq!(statuses, ["Deleted", "Failed", "InService", "InService"]);
    let deletes_before = cloud.sagemaker.call_count("DeleteApp");

    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, props).await.unwrap();
    succeeded(&r);
    assert_eq!(cloud.sagemaker.call_count("DeleteApp") - deletes_before, 2, "only the running apps are deleted");
    assert!(domain(&cloud, &id).is_none());
}

#[tokio::test]
async fn spaces_and_user_profiles_block_the_delete_without_force_delete() {
    let cloud = cloud().await;
    let props = properties("occupied");
    let id = create(&cloud, props.clone()).await;
    seed_users(&cloud, &id).await;

    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, props.clone()).await.unwrap();
    let reason = failed(&r);
    for expected in ["2 spaces (alice-notebooks, team-shared)", "1 user profile (alice)", "ForceDelete: true"] {
        assert!(reason.contains(expected), "{expected:?} in {reason}");
    }
    // Nothing touched: users keep their running apps, spaces (EBS volumes) and home directories.
    assert_eq!(domain(&cloud, &id).unwrap()["Status"], "InService");
    assert_eq!(app_statuses(&cloud), ["InService", "InService"]);
    for operation in ["DeleteApp", "DeleteSpace", "DeleteUserProfile", "DeleteDomain"] {
        assert_eq!(cloud.sagemaker.call_count(operation), 0, "{operation}");
    }
}

#[tokio::test]
async fn force_delete_removes_each_space_after_its_apps_and_each_profile_after_its_spaces_then_the_domain() {
    let cloud = cloud().await;
    let props = with(with(properties("forced"), "ForceDelete", json!(true)), "RetentionPolicy", json!({"HomeEfsFileSystem": "Delete"}));
    let id = create(&cloud, props.clone()).await;
    let efs = domain(&cloud, &id).unwrap()["HomeEfsFileSystemId"].as_str().unwrap().to_string();
    seed_users(&cloud, &id).await;

    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, props).await.unwrap();
    let reason = succeeded(&r);
    // The stack's events say whose data went.
    assert!(reason.contains("ForceDelete removed 1 user profile (alice) and 2 spaces (alice-notebooks, team-shared)"), "{reason}");
    let snapshot = cloud.sagemaker.snapshot();
    assert!(domain(&cloud, &id).is_none());
    assert_eq!(snapshot["spaces"], json!([]));
    assert_eq!(snapshot["profiles"], json!([]));
    assert_eq!(snapshot["efs"][&efs], "Deleted", "RetentionPolicy Delete");
    let calls = cloud.sagemaker.calls();
    assert_eq!(cloud.sagemaker.call_count("DeleteSpace"), 2);
    // Along dependency chains, not phase by phase: a space without apps may go first, but the
    // last space waits for its apps, and the profile for the spaces it owns.
    assert!(position(&calls, "DeleteApp", false) < position(&calls, "DeleteSpace", true), "{calls:?}");
    assert!(position(&calls, "DeleteSpace", true) < position(&calls, "DeleteUserProfile", false), "{calls:?}");
    assert!(position(&calls, "DeleteUserProfile", true) < position(&calls, "DeleteDomain", false), "{calls:?}");
}

#[tokio::test]
async fn a_space_that_fails_to_delete_fails_the_delete_with_its_reason() {
    let cloud = cloud().await;
    let props = with(properties("stuck"), "ForceDelete", json!(true));
    let id = create(&cloud, props.clone()).await;
    seed_users(&cloud, &id).await;
    cloud.sagemaker.fail_next(ResourceKind::Space, Phase::Delete, "EBS volume vol-0abc is still attached");
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, props).await.unwrap();
    let reason = failed(&r);
    assert!(reason.contains("EBS volume vol-0abc is still attached"), "{reason}");
    assert!(domain(&cloud, &id).is_some(), "the domain stays while a space is left");
}

#[tokio::test]
async fn a_domain_that_ends_delete_failed_fails_the_delete_with_its_reason() {
    let cloud = cloud().await;
    let props = properties("undeletable");
    let id = create(&cloud, props.clone()).await;
    cloud.sagemaker.fail_next(ResourceKind::Domain, Phase::Delete, "EFS mount targets are still in use");
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, props.clone()).await.unwrap();
    let reason = failed(&r);
    assert!(reason.contains("EFS mount targets are still in use"), "{reason}");
    assert_eq!(domain(&cloud, &id).unwrap()["Status"], "Delete_Failed");

    // Deleting the stack again retries.
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, props).await.unwrap();
    succeeded(&r);
    assert!(domain(&cloud, &id).is_none());
}

#[tokio::test]
async fn a_domain_that_is_not_ours_is_left_untouched() {
    let cloud = cloud().await;
    // Made elsewhere (the console, another stack): no ownership tags naming this stack's resource.
    let id = create(&cloud, properties("theirs")).await;
    let r = cloud.cfn.delete(FUNCTION, "SomeOtherDomain", &id, properties("theirs")).await.unwrap();
    succeeded(&r);
    assert!(r.reason.unwrap_or_default().contains("not ours"));
    assert_eq!(domain(&cloud, &id).unwrap()["Status"], "InService");

    let sm = cloud.sagemaker_client();
    let untagged = sm
        .create_domain()
        .domain_name("console-made")
        .auth_mode(aws_sdk_sagemaker::types::AuthMode::Iam)
        .default_user_settings(UserSettings::builder().execution_role("arn:aws:iam::123456789012:role/studio-execution").build())
        .subnet_ids("subnet-0a")
        .vpc_id("vpc-0a1b2c3d")
        .send()
        .await
        .unwrap();
    local_cloud::seed::settled(&cloud).await;
    let untagged_id = untagged.domain_id().unwrap();
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, untagged_id, properties("console-made")).await.unwrap();
    succeeded(&r);
    assert!(r.reason.unwrap_or_default().contains("not ours"));
    assert!(domain(&cloud, untagged_id).is_some());
    assert_eq!(cloud.sagemaker.call_count("DeleteDomain"), 0);
}

#[tokio::test]
async fn deleting_a_domain_that_is_already_gone_succeeds() {
    let cloud = cloud().await;
    let id = create(&cloud, properties("gone")).await;
    cloud.sagemaker_client().delete_domain().domain_id(&id).send().await.unwrap();
    local_cloud::seed::settled(&cloud).await;
    assert!(domain(&cloud, &id).is_none());
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, properties("gone")).await.unwrap();
    succeeded(&r);
    assert_eq!(r.physical_resource_id, id);
}

#[tokio::test]
async fn slow_transitions_continue_in_new_invocations() {
    // A 4 s Lambda timeout and 6 s transitions: every wait outlives an invocation.
    let mut cloud = cloud_with(Options { transition_delay: Duration::from_millis(100), ..Options::default() }, Duration::from_secs(4)).await;
    cloud.cfn.set_timeout(Duration::from_secs(120));
    cloud.sagemaker.set_transition_delay(Duration::from_secs(6));
    let props = with(properties("slow"), "ForceDelete", json!(true));
    let id = create(&cloud, props.clone()).await;
    let continuations = |cloud: &LocalCloud| cloud.lambda.invocations(FUNCTION).iter().filter(|r| r.source == InvocationSource::SelfInvoke).count();
    let after_create = continuations(&cloud);
    assert!(after_create >= 1, "the create continued in a new invocation");

    cloud.sagemaker.set_transition_delay(Duration::from_millis(50));
    seed_users(&cloud, &id).await;
    cloud.sagemaker.set_transition_delay(Duration::from_secs(6));
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, props).await.unwrap();
    let reason = succeeded(&r);
    assert!(domain(&cloud, &id).is_none());
    assert!(continuations(&cloud) >= after_create + 3, "apps, spaces, profiles and the domain each outlived an invocation");
    // What the first invocation removed is still named at the end, continuations later.
    assert!(reason.contains("ForceDelete removed 1 user profile (alice) and 2 spaces (alice-notebooks, team-shared)"), "{reason}");
}

#[tokio::test]
async fn everything_works_when_30_percent_of_calls_are_throttled() {
    let cloud = cloud().await;
    let old = with(properties("throttled"), "ForceDelete", json!(true));
    cloud.sagemaker.set_throttle_rate(0.3);
    let id = create(&cloud, old.clone()).await;

    let mut new = with(old.clone(), "Tags", json!([{"Key": "team", "Value": "platform"}]));
    new["DefaultUserSettings"]["JupyterLabAppSettings"]["AppLifecycleManagement"]["IdleSettings"]["IdleTimeoutInMinutes"] = json!(60);
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, new.clone(), old).await.unwrap();
    succeeded(&r);
    assert_eq!(r.physical_resource_id, id);

    cloud.sagemaker.set_throttle_rate(0.0);
    seed_users(&cloud, &id).await;
    cloud.sagemaker.set_throttle_rate(0.3);
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, new).await.unwrap();
    succeeded(&r);
    cloud.sagemaker.set_throttle_rate(0.0);
    assert!(domain(&cloud, &id).is_none());
    // One home EFS ever made: one domain, however many CreateDomain calls were throttled.
    let efs = cloud.sagemaker.snapshot()["efs"].clone();
    assert_eq!(efs.as_object().map_or(0, |m| m.len()), 1, "{efs}");
}

// Issue 12: the real service's eventual consistency, name clashes and duplicate deliveries.

#[tokio::test]
async fn a_domain_not_visible_right_after_create_is_waited_for() {
    let options = Options { transition_delay: Duration::from_millis(100), visibility_lag: Duration::from_secs(3), ..Options::default() };
    let cloud = cloud_with(options, Duration::from_secs(900)).await;
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, properties("lagging")).await.unwrap();
    succeeded(&r);
    assert_eq!(domains(&cloud).len(), 1);
    assert_eq!(domain(&cloud, &r.physical_resource_id).unwrap()["DomainName"], "lagging");
}

#[tokio::test]
async fn an_error_after_create_reports_the_domain_so_the_rollback_deletes_it() {
    let cloud = cloud().await;
    cloud.sagemaker.refuse_next("DescribeDomain", "ValidationException", "injected refusal after CreateDomain");
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, properties("reported")).await.unwrap();
    let reason = failed(&r);
    assert!(reason.contains("injected refusal"), "{reason}");
    let ids: Vec<Value> = domains(&cloud).iter().map(|d| d["DomainId"].clone()).collect();
    assert_eq!(ids, vec![json!(r.physical_resource_id)], "the FAILED response names the domain CreateDomain made");
    // CloudFormation's rollback deletes what the response named.
    local_cloud::seed::settled(&cloud).await;
    succeeded(&cloud.cfn.delete(FUNCTION, LOGICAL_ID, &r.physical_resource_id, properties("reported")).await.unwrap());
    local_cloud::seed::settled(&cloud).await;
    assert!(domains(&cloud).is_empty());
}

#[tokio::test]
async fn a_replacement_that_keeps_the_domain_name_fails_before_anything_is_made() {
    let cloud = cloud().await;
    let old = properties("research");
    let id = create(&cloud, old.clone()).await;
    let new = with(with(old.clone(), "VpcId", json!("vpc-0other")), "AllowReplacement", json!(true));
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, new, old).await.unwrap();
    let reason = failed(&r);
    for expected in ["DomainName", "new DomainName", "quota"] {
        assert!(reason.contains(expected), "{expected:?} in {reason}");
    }
    assert_eq!(r.physical_resource_id, id);
    assert_eq!(domains(&cloud).len(), 1);
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), 1);
}

/// Two deliveries of one Create at the same moment, in two execution environments: the lag
/// hides each one's domain from the other's ListDomains, so both call CreateDomain. One in three
/// calls is throttled (the SDK's retries then pause for up to a second), which spreads the two
/// deliveries' calls out, so that one of them lists the duplicate the other is deleting, and
/// meets it gone (ListTags: ValidationException, DescribeDomain: not found) a moment later.
/// Played `ROUNDS` times (each a new Create of its own stack resource): the race is a race.
async fn concurrent_deliveries_leave_one_domain(unique_domain_names: bool) {
    const ROUNDS: usize = 4;
    let options = Options { transition_delay: Duration::from_millis(100), visibility_lag: Duration::from_secs(2), unique_domain_names, ..Options::default() };
    let cloud = cloud_with(options, Duration::from_secs(900)).await;
    let twin = cloud.deploy_twin(FUNCTION).await.unwrap();
    cloud.sagemaker.set_throttle_rate(0.3);
    for round in 0..ROUNDS {
        let name = format!("twice-{round}");
        let id = delivered_twice(&cloud, &twin, &format!("Domain{round}"), properties(&name)).await;
        local_cloud::seed::settled(&cloud).await;
        let ids: Vec<Value> = domains(&cloud).iter().filter(|d| d["DomainName"] == name.as_str()).map(|d| d["DomainId"].clone()).collect();
        assert_eq!(ids, vec![json!(id)], "round {round}: calls: {:?}", cloud.sagemaker.calls());
    }
}

/// The race above, made certain: a duplicate (as the other delivery made it) that is listed, then
/// deleted before its tags are read, is gone, not an error.
#[tokio::test]
async fn a_duplicate_deleted_while_it_is_listed_is_treated_as_gone() {
    let options = Options { transition_delay: Duration::from_millis(500), unique_domain_names: false, ..Options::default() };
    let cloud = cloud_with(options, Duration::from_secs(900)).await;
    let event = cloud.cfn.event(RequestType::Create, FUNCTION, LOGICAL_ID, None, properties("raced"), None).await.unwrap();
    let request_id = event["RequestId"].as_str().unwrap().to_string();
    let owner = [("studio-cfn:stack-id", cloud.cfn.stack_id()), ("studio-cfn:logical-id", LOGICAL_ID), ("studio-cfn:request-id", request_id.as_str())];
    let race = async {
        // The function's CreateDomain, then the other delivery's, later (a duplicate).
        let mine = wait_for(|| domains(&cloud).first().map(|d| d["DomainId"].as_str().unwrap_or_default().to_string())).await;
        let sm = cloud.sagemaker_client();
        let duplicate = sm
            .create_domain()
            .domain_name("raced")
            .auth_mode(AuthMode::Iam)
            .default_user_settings(UserSettings::builder().execution_role("arn:aws:iam::123456789012:role/studio-execution").build())
            .subnet_ids("subnet-0a")
            .vpc_id("vpc-0a1b2c3d")
            .set_tags(Some(owner.iter().map(|(k, v)| aws_sdk_sagemaker::types::Tag::builder().key(*k).value(*v).build()).collect()))
            .send()
            .await
            .unwrap()
            .domain_id()
            .unwrap()
            .to_string();
        // Once InService, the function lists the domains of the name (both), then reads their
        // tags: hold it there (ListTags fails for a while, the SDK retries).
        cloud.sagemaker.fail_operation("ListTags", sagemaker_emulator::Outage::InternalFailure);
        wait_for(|| (cloud.sagemaker.call_count("ListTags") > 0).then_some(())).await;
        assert!(cloud.sagemaker.calls().iter().rev().find(|c| *c != "ListTags").is_some_and(|c| c == "ListDomains"), "held after listing");
        // Meanwhile the other delivery deletes its duplicate, which is gone at once.
        cloud.sagemaker.set_transition_delay(Duration::ZERO);
        sm.delete_domain().domain_id(&duplicate).send().await.unwrap();
        assert!(domain(&cloud, &duplicate).is_none());
        cloud.sagemaker.clear_outage("ListTags");
        mine
    };
    let (r, mine) = tokio::join!(cloud.cfn.send(FUNCTION, event), race);
    let r = r.unwrap();
    succeeded(&r);
    assert_eq!(r.physical_resource_id, mine);
    let ids: Vec<Value> = domains(&cloud).iter().map(|d| d["DomainId"].clone()).collect();
    assert_eq!(ids, vec![json!(mine)]);
}

/// Polls `found` every 10 ms for up to 30 s.
async fn wait_for<T>(found: impl Fn() -> Option<T>) -> T {
    for _ in 0..3000 {
        if let Some(value) = found() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting");
}

#[tokio::test]
async fn concurrent_deliveries_leave_one_domain_when_names_are_unique() {
    concurrent_deliveries_leave_one_domain(true).await;
}

#[tokio::test]
async fn concurrent_deliveries_leave_one_domain_when_names_may_repeat() {
    concurrent_deliveries_leave_one_domain(false).await;
}

// Issue 12, rule 5: errors that last end in FAILED, saying what to do.

#[tokio::test]
async fn a_server_error_that_persists_fails_once_the_patience_is_spent_naming_operation_and_code() {
    // Two minutes of patience in production (shared/custom-resource/src/patience.rs, and the
    // protocol suite with a simulated clock); three seconds here, and two attempts per SDK call
    // (its own retries of a 500 take up to half a minute).
    let options = Options { transition_delay: Duration::from_millis(100), ..Options::default() };
    let env = [("PATIENCE_SERVER_ERROR_SECONDS", "3"), ("AWS_MAX_ATTEMPTS", "2")];
    let mut cloud = cloud_with_env(options, Duration::from_secs(900), &env).await;
    cloud.cfn.set_timeout(Duration::from_secs(60));
    cloud.sagemaker.fail_operation("CreateDomain", sagemaker_emulator::Outage::InternalFailure);
    let started = std::time::Instant::now();
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, properties("unlucky")).await.unwrap();
    let reason = failed(&r);
    assert!(started.elapsed() < Duration::from_secs(30), "answered after {:?}", started.elapsed());
    assert!(reason.contains("CreateDomain: InternalFailure"), "{reason}");
    assert!(cloud.sagemaker.call_count("CreateDomain") > 1, "a server error is retried for a while first");
    assert!(domains(&cloud).is_empty());
}

#[tokio::test]
async fn a_domain_quota_refusal_names_the_quota() {
    let options = Options { transition_delay: Duration::from_millis(100), domain_quota: Some(1), ..Options::default() };
    let cloud = cloud_with(options, Duration::from_secs(900)).await;
    create(&cloud, properties("first")).await;
    let r = cloud.cfn.create(FUNCTION, "SecondDomain", properties("second")).await.unwrap();
    let reason = failed(&r);
    for expected in ["CreateDomain: ResourceLimitExceeded", "quota of SageMaker domains per Region", "Service Quotas"] {
        assert!(reason.contains(expected), "{expected:?} in {reason}");
    }
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), 2, "a quota is not retried");
    assert_eq!(domains(&cloud).len(), 1);
}

// Issue 12, rule 2: Update sends what the live domain (DescribeDomain) lacks, not the template diff.

/// A VpcOnly domain with RStudio, whose settings SageMaker refuses while apps run, and Docker access.
fn rstudio_properties(name: &str, docker: &str) -> Value {
    let mut props = with(properties(name), "AppSecurityGroupManagement", json!("Service"));
    props["DomainSettings"] = json!({
        "DockerSettings": {"EnableDockerAccess": docker},
        "RStudioServerProDomainSettings": {"DomainExecutionRoleArn": "arn:aws:iam::123456789012:role/rstudio"}
    });
    props
}

fn domain_settings(cloud: &LocalCloud, id: &str) -> Value {
    domain(cloud, id).map(|d| d["DomainSettings"].clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_domain_settings_change_while_apps_run_sends_only_the_changed_member() {
    let cloud = cloud().await;
    let old = rstudio_properties("docker", "DISABLED");
    let id = create(&cloud, old.clone()).await;
    seed_users(&cloud, &id).await;

    // SageMaker refuses any RStudio settings while apps run: they must not be re-sent.
    let new = rstudio_properties("docker", "ENABLED");
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, new, old).await.unwrap();
    succeeded(&r);
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 1);
    let settings = domain_settings(&cloud, &id);
    assert_eq!(settings["DockerSettings"]["EnableDockerAccess"], "ENABLED", "{settings}");
    assert_eq!(settings["RStudioServerProDomainSettings"]["DomainExecutionRoleArn"], "arn:aws:iam::123456789012:role/rstudio");
    assert_eq!(app_statuses(&cloud), ["InService", "InService"], "the users' apps kept running");
}

#[tokio::test]
async fn an_update_to_vpc_only_sends_the_vpc_and_its_subnets() {
    let cloud = cloud().await;
    let mut old = properties("private");
    old.as_object_mut().unwrap().remove("AppNetworkAccessType");
    let id = create(&cloud, old.clone()).await;
    assert_eq!(domain(&cloud, &id).unwrap()["AppNetworkAccessType"], "PublicInternetOnly");

    // Only AppNetworkAccessType changes in the template; UpdateDomain refuses VpcOnly without the network.
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, properties("private"), old).await.unwrap();
    succeeded(&r);
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 1);
    let updated = domain(&cloud, &id).unwrap();
    assert_eq!(updated["AppNetworkAccessType"], "VpcOnly");
    assert_eq!(updated["VpcId"], "vpc-0a1b2c3d");
    assert_eq!(updated["SubnetIds"], json!(["subnet-0a", "subnet-0b"]));
}

#[tokio::test]
async fn a_network_change_while_apps_run_fails_before_any_call_naming_the_apps() {
    let cloud = cloud().await;
    let old = properties("busy");
    let id = create(&cloud, old.clone()).await;
    seed_users(&cloud, &id).await;
    let (tags_added, tags_deleted) = (cloud.sagemaker.call_count("AddTags"), cloud.sagemaker.call_count("DeleteTags"));

    let new = with(with(old.clone(), "AppNetworkAccessType", json!("PublicInternetOnly")), "Tags", json!([{"Key": "team", "Value": "platform"}]));
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, new.clone(), old.clone()).await.unwrap();
    let reason = failed(&r);
    for expected in [
        "AppNetworkAccessType",
        "app JupyterServer/default of profile alice is InService",
        "app JupyterLab/default of space alice-notebooks is InService",
        "delete these apps first",
    ] {
        assert!(reason.contains(expected), "{expected:?} in {reason}");
    }
    assert_eq!(r.physical_resource_id, id);
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 0, "{:?}", cloud.sagemaker.calls());
    assert_eq!((cloud.sagemaker.call_count("AddTags"), cloud.sagemaker.call_count("DeleteTags")), (tags_added, tags_deleted), "nothing changed");
    assert_eq!(domain(&cloud, &id).unwrap()["AppNetworkAccessType"], "VpcOnly");
    assert_eq!(tags(&cloud, &id)["team"], "research");

    // Once the apps are deleted (Deleted apps stay listed a while), the same Update goes through.
    let sm = cloud.sagemaker_client();
    sm.delete_app().domain_id(&id).user_profile_name("alice").app_type(AppType::JupyterServer).app_name("default").send().await.unwrap();
    sm.delete_app().domain_id(&id).space_name("alice-notebooks").app_type(AppType::JupyterLab).app_name("default").send().await.unwrap();
    local_cloud::seed::settled(&cloud).await;
    succeeded(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, new, old).await.unwrap());
    assert_eq!(domain(&cloud, &id).unwrap()["AppNetworkAccessType"], "PublicInternetOnly");
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 1);
}

#[tokio::test]
async fn a_rollback_to_what_the_domain_already_is_calls_no_update_domain() {
    let cloud = cloud().await;
    let (a, b) = (rstudio_properties("rollback", "DISABLED"), rstudio_properties("rollback", "ENABLED"));
    let id = create(&cloud, a.clone()).await;

    seed_users(&cloud, &id).await;
    // SageMaker refuses the Update to B; the domain keeps A's settings, and CloudFormation's
    // rollback (back to A) must not be refused in turn: users' apps run, RStudio settings are set.
    cloud.sagemaker.refuse_next("UpdateDomain", "ValidationException", "The domain execution role cannot be assumed");
    failed(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, b.clone(), a.clone()).await.unwrap());
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 1);
    succeeded(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, a.clone(), b.clone()).await.unwrap());
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 1, "{:?}", cloud.sagemaker.calls());

    // Changed to B, then back to A's settings outside the stack: an Update to A has nothing to send.
    succeeded(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, b.clone(), a.clone()).await.unwrap());
    assert_eq!(domain_settings(&cloud, &id)["DockerSettings"]["EnableDockerAccess"], "ENABLED");
    let docker = DockerSettings::builder().enable_docker_access(FeatureStatus::Disabled).build();
    cloud
        .sagemaker_client()
        .update_domain()
        .domain_id(&id)
        .domain_settings_for_update(DomainSettingsForUpdate::builder().docker_settings(docker).build())
        .send()
        .await
        .unwrap();
    local_cloud::seed::settled(&cloud).await;
    let updates = cloud.sagemaker.call_count("UpdateDomain");
    succeeded(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, a, b).await.unwrap());
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), updates, "{:?}", cloud.sagemaker.calls());
    assert_eq!(domain_settings(&cloud, &id)["DockerSettings"]["EnableDockerAccess"], "DISABLED");
}

#[tokio::test]
async fn a_name_taken_by_a_domain_that_never_shows_fails_once_the_patience_is_spent() {
    let options = Options { transition_delay: Duration::from_millis(100), visibility_lag: Duration::from_secs(600), ..Options::default() };
    // Looked for as long as a server error persists: two minutes in production, five seconds here.
    let mut cloud = cloud_with_env(options, Duration::from_secs(900), &[("PATIENCE_SERVER_ERROR_SECONDS", "5"), ("AWS_MAX_ATTEMPTS", "2")]).await;
    cloud.cfn.set_timeout(Duration::from_secs(60));
    // Someone else's domain of that name, which ListDomains does not show for 10 minutes.
    let client = cloud.sagemaker_client();
    let role = UserSettings::builder().execution_role("arn:aws:iam::123456789012:role/x").build();
    client
        .create_domain()
        .domain_name("taken")
        .auth_mode(AuthMode::Iam)
        .default_user_settings(role)
        .subnet_ids("subnet-0a")
        .vpc_id("vpc-0a")
        .send()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, properties("taken")).await.unwrap();
    let reason = failed(&r);
    assert!(started.elapsed() < Duration::from_secs(30), "answered after {:?}", started.elapsed());
    for expected in ["DomainName \"taken\" is taken (ResourceInUse)", "choose another DomainName"] {
        assert!(reason.contains(expected), "{expected:?} in {reason}");
    }
    assert!(cloud.sagemaker.call_count("CreateDomain") > 2, "tried again while the lag may last");
}
