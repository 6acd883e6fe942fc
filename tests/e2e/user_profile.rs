//! studio-user-profile end to end: the real binary under the Lambda emulator, driven by the
//! CloudFormation driver, against the SageMaker emulator. Domains, apps and spaces are seeded
//! with the SDK, as a user (or another stack) would have made them.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{AppStatus, AppType, AuthMode, SharingType, Tag, UserSettings};
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{RequestType, Response, Status};
use local_cloud::lambda::InvocationSource;
use local_cloud::seed::{app, domain, eventually, play_sample, space, space_exists, tags};
use sagemaker_emulator::{Outage, Phase, ResourceKind, SageMakerEmulator};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const FUNCTION: &str = "studio-user-profile";
const ROLE: &str = "arn:aws:iam::123456789012:role/StudioExecution";
const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/StudioExecutionV2";

async fn cloud() -> LocalCloud {
    let cloud = LocalCloud::start().await.expect("local cloud");
    cloud.deploy(FUNCTION).await.expect("deploy");
    cloud
}

/// The profile's status, or None once it is gone (only ResourceNotFound counts as gone).
async fn profile_status(client: &Client, domain: &str, name: &str) -> Option<String> {
    match client.describe_user_profile().domain_id(domain).user_profile_name(name).send().await {
        Ok(profile) => profile.status().map(|s| s.as_str().to_string()),
        Err(e) if e.as_service_error().and_then(|e| e.meta().code()) == Some("ResourceNotFound") => None,
        Err(e) => panic!("DescribeUserProfile: {}", aws_sdk_sagemaker::error::DisplayErrorContext(e)),
    }
}

fn properties(domain: &str, name: &str) -> Value {
    json!({"DomainId": domain, "UserProfileName": name, "UserSettings": {"ExecutionRole": ROLE}})
}

fn reason(r: &Response) -> &str {
    r.reason.as_deref().unwrap_or_default()
}

fn profile_arn(domain: &str, name: &str) -> String {
    format!("arn:aws:sagemaker:us-east-1:123456789012:user-profile/{domain}/{name}")
}

#[tokio::test]
async fn sample_events_create_update_and_delete_a_profile() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "samples", AuthMode::Iam).await;

    let created = play_sample(&cloud, FUNCTION, "user-profile-create.json", &domain).await;
    created.expect_success();
    let arn = profile_arn(&domain, "alice");
    assert_eq!(created.physical_resource_id, arn);
    assert_eq!(created.data["UserProfileArn"], arn);
    assert_eq!(created.data["UserProfileName"], "alice");
    assert_eq!(created.data["DomainId"], domain);
    assert!(!created.data["HomeEfsFileSystemUid"].is_empty());
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("alice").send().await.unwrap();
    let idle = |p: &aws_sdk_sagemaker::operation::describe_user_profile::DescribeUserProfileOutput| {
        p.user_settings()
            .and_then(|s| s.jupyter_lab_app_settings())
            .and_then(|j| j.app_lifecycle_management())
            .and_then(|a| a.idle_settings())
            .and_then(|i| i.idle_timeout_in_minutes())
    };
    // "60" in the template arrived as a number.
    assert_eq!(idle(&profile), Some(60));
    assert_eq!(tags(&client, &arn).await.get("team").map(String::as_str), Some("forecasting"));

    let updated = play_sample(&cloud, FUNCTION, "user-profile-update.json", &domain).await;
    updated.expect_success();
    assert_eq!(updated.physical_resource_id, arn, "an update of settings and tags is in place");
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("alice").send().await.unwrap();
    assert_eq!(idle(&profile), Some(120));
    assert_eq!(tags(&client, &arn).await.get("cost-center").map(String::as_str), Some("cc-42"));

    let deleted = play_sample(&cloud, FUNCTION, "user-profile-delete.json", &domain).await;
    deleted.expect_success();
    assert_eq!(profile_status(&client, &domain, "alice").await, None);
}

#[tokio::test]
async fn an_iam_profile_is_created_with_ownership_tags_and_attributes() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "iam", AuthMode::Iam).await;
    let mut props = properties(&domain, "bob");
    props["Tags"] = json!([{"Key": "team", "Value": "ml"}]);

    let r = cloud.cfn.create(FUNCTION, "Bob", props).await.unwrap();
    r.expect_success();
    let arn = profile_arn(&domain, "bob");
    assert_eq!(r.physical_resource_id, arn);
    assert_eq!(r.data["UserProfileArn"], arn);
    assert_eq!(profile_status(&client, &domain, "bob").await.as_deref(), Some("InService"));
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("bob").send().await.unwrap();
    assert_eq!(r.data["HomeEfsFileSystemUid"], profile.home_efs_file_system_uid().unwrap());
    assert_eq!(profile.user_settings().and_then(|s| s.execution_role()), Some(ROLE));
    assert_eq!(profile.single_sign_on_user_value(), None);

    let tags = tags(&client, &arn).await;
    assert_eq!(tags["team"], "ml");
    assert_eq!(tags["studio-cfn:stack-id"], cloud.cfn.stack_id());
    assert_eq!(tags["studio-cfn:logical-id"], "Bob");
    assert_eq!(tags["studio-cfn:request-id"], r.request_id);
}

#[tokio::test]
async fn sso_domains_need_the_identity_center_user_and_iam_domains_refuse_it() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let sso = domain(&client, "sso", AuthMode::Sso).await;
    let iam = domain(&client, "iam", AuthMode::Iam).await;
    cloud.identity_center.add_user("carol@example.com");

    let r = cloud.cfn.create(FUNCTION, "Carol", properties(&sso, "carol")).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("Invalid property SingleSignOnUserIdentifier: required"), "{}", reason(&r));
    assert!(reason(&r).contains("IAM Identity Center"), "{}", reason(&r));

    let mut half = properties(&sso, "carol");
    half["SingleSignOnUserIdentifier"] = json!("UserName");
    let r = cloud.cfn.create(FUNCTION, "Carol", half).await.unwrap();
    assert!(reason(&r).starts_with("Invalid property SingleSignOnUserValue: required"), "{}", reason(&r));

    let mut wrong = properties(&sso, "carol");
    wrong["SingleSignOnUserIdentifier"] = json!("Email");
    wrong["SingleSignOnUserValue"] = json!("carol@example.com");
    let r = cloud.cfn.create(FUNCTION, "Carol", wrong).await.unwrap();
    assert!(reason(&r).starts_with("Invalid property SingleSignOnUserIdentifier: must be \"UserName\""), "{}", reason(&r));

    let mut in_iam = properties(&iam, "carol");
    in_iam["SingleSignOnUserIdentifier"] = json!("UserName");
    in_iam["SingleSignOnUserValue"] = json!("carol");
    let r = cloud.cfn.create(FUNCTION, "Carol", in_iam).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).contains("SingleSignOnUserIdentifier: not allowed") && reason(&r).contains("AuthMode IAM"), "{}", reason(&r));
    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 0, "refused before calling CreateUserProfile");

    let mut good = properties(&sso, "carol");
    good["SingleSignOnUserIdentifier"] = json!("UserName");
    good["SingleSignOnUserValue"] = json!("carol@example.com");
    let r = cloud.cfn.create(FUNCTION, "Carol", good).await.unwrap();
    r.expect_success();
    let profile = client.describe_user_profile().domain_id(&sso).user_profile_name("carol").send().await.unwrap();
    assert_eq!(profile.single_sign_on_user_identifier(), Some("UserName"));
    assert_eq!(profile.single_sign_on_user_value(), Some("carol@example.com"));
}

#[tokio::test]
async fn bad_names_and_unknown_domains_fail_naming_the_property() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "names", AuthMode::Iam).await;

    let r = cloud.cfn.create(FUNCTION, "Dave", properties(&domain, "dave_smith")).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("Invalid property UserProfileName: must be 1 to 63 letters"), "{}", reason(&r));
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id));

    let r = cloud.cfn.create(FUNCTION, "Dave", properties(&domain, &"d".repeat(64))).await.unwrap();
    assert!(reason(&r).starts_with("Invalid property UserProfileName"), "{}", reason(&r));

    let r = cloud.cfn.create(FUNCTION, "Dave", properties("d-doesnotexist1", "dave")).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("Invalid property DomainId: domain d-doesnotexist1 does not exist"), "{}", reason(&r));

    let mut props = properties(&domain, "dave");
    props["UserSettings"] = json!({"ExecutionRole": ROLE, "JupyterLabAppSettings": {"Colour": "red"}});
    let r = cloud.cfn.create(FUNCTION, "Dave", props).await.unwrap();
    assert!(reason(&r).contains("UserSettings.JupyterLabAppSettings.Colour: unknown property"), "{}", reason(&r));

    let mut props = properties(&domain, "dave");
    props["Tags"] = json!([{"Key": "studio-cfn:stack-id", "Value": "forged"}]);
    let r = cloud.cfn.create(FUNCTION, "Dave", props).await.unwrap();
    assert!(reason(&r).starts_with("Invalid property Tags[0].Key"), "{}", reason(&r));

    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 0, "refused before calling CreateUserProfile");
}

#[tokio::test]
async fn a_profile_that_fails_is_reported_with_its_reason_and_removed() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "failing", AuthMode::Iam).await;
    cloud.sagemaker.fail_next(ResourceKind::UserProfile, Phase::Create, "The home directory could not be created on EFS");

    let r = cloud.cfn.create(FUNCTION, "Erin", properties(&domain, "erin")).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).contains("The home directory could not be created on EFS"), "{}", reason(&r));
    assert!(reason(&r).contains("deleted"), "{}", reason(&r));
    assert_eq!(profile_status(&client, &domain, "erin").await, None, "the failed profile is removed");

    // CloudFormation's Delete after the failed Create is harmless.
    let d = cloud.cfn.delete(FUNCTION, "Erin", &r.physical_resource_id, properties(&domain, "erin")).await.unwrap();
    d.expect_success();
}

#[tokio::test]
async fn a_second_delivery_of_the_create_makes_nothing_twice() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "twice", AuthMode::Iam).await;
    // A second instance of the same function, as Lambda runs concurrent deliveries.
    let twin = cloud.deploy_twin(FUNCTION).await.unwrap();

    let event = cloud.cfn.event(local_cloud::cloudformation::RequestType::Create, FUNCTION, "Frank", None, properties(&domain, "frank"), None).await.unwrap();
    let request_id = event["RequestId"].as_str().unwrap().to_string();
    // The same event, answered to a second URL so that both answers can be read.
    let mut again = event.clone();
    again["ResponseURL"] = json!(cloud.cfn.response_url("Frank", &format!("{request_id}-again")).await.unwrap());
    cloud.lambda.invoke_async(&twin, again.clone()).await.unwrap();
    let first = cloud.cfn.send(FUNCTION, event).await.unwrap();
    first.expect_success();
    assert!(cloud.lambda.wait_idle(&twin, Duration::from_secs(60)).await);

    let second = cloud.s3.recorded_puts("/cfn-responses/").into_iter().find(|p| p.path.ends_with("-again")).expect("second answer");
    let second: Value = serde_json::from_slice(second.body.as_deref().unwrap()).unwrap();
    assert_eq!(second["Status"], "SUCCESS", "{second}");
    assert_eq!(second["PhysicalResourceId"], first.physical_resource_id);
    let profiles = client.list_user_profiles().domain_id_equals(&domain).send().await.unwrap();
    assert_eq!(profiles.user_profiles().len(), 1);

    // A late redelivery, once CloudFormation has the answer and waits no more: refused
    // (it no longer shows the profile CREATE_IN_PROGRESS), and nothing is made or removed.
    again["ResponseURL"] = json!(cloud.cfn.response_url("Frank", &format!("{request_id}-late")).await.unwrap());
    cloud.lambda.invoke_async(&twin, again).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(&twin, Duration::from_secs(60)).await);
    let late = cloud.s3.recorded_puts("/cfn-responses/").into_iter().find(|p| p.path.ends_with("-late")).expect("late answer");
    let late: Value = serde_json::from_slice(late.body.as_deref().unwrap()).unwrap();
    assert_eq!(late["Status"], "FAILED", "{late}");
    assert!(late["Reason"].as_str().unwrap_or_default().starts_with("refused: "), "{late}");
    let profiles = client.list_user_profiles().domain_id_equals(&domain).send().await.unwrap();
    assert_eq!(profiles.user_profiles().len(), 1);
    assert_eq!(cloud.sagemaker.call_count("DeleteUserProfile"), 0, "the redelivery left the profile alone");
}

#[tokio::test]
async fn a_redelivery_is_recognised_whatever_error_reports_the_taken_name() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "refusals", AuthMode::Iam).await;
    let event = cloud.cfn.event(local_cloud::cloudformation::RequestType::Create, FUNCTION, "Gus", None, properties(&domain, "gus"), None).await.unwrap();
    let first = cloud.cfn.send(FUNCTION, event.clone()).await.unwrap();
    first.expect_success();
    // The redelivery arrives while CloudFormation still waits (before it read the answer).
    cloud.cfn.stacks().update(cloud.cfn.stack_id(), |stack| {
        if let Some(gus) = stack.resources.get_mut("Gus") {
            gus.status = "CREATE_IN_PROGRESS".into();
        }
    });

    // A SageMaker that says ValidationException, not ResourceInUse, for a taken name.
    cloud.sagemaker.refuse_next("CreateUserProfile", "ValidationException", "User profile gus already exists");
    let mut again = event;
    let request_id = again["RequestId"].as_str().unwrap().to_string();
    again["ResponseURL"] = json!(cloud.cfn.response_url("Gus", &format!("{request_id}-again")).await.unwrap());
    cloud.lambda.invoke_async(FUNCTION, again).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(FUNCTION, Duration::from_secs(60)).await);
    let second = cloud.s3.recorded_puts("/cfn-responses/").into_iter().find(|p| p.path.ends_with("-again")).expect("second answer");
    let second: Value = serde_json::from_slice(second.body.as_deref().unwrap()).unwrap();
    assert_eq!(second["Status"], "SUCCESS", "{second}");
    assert_eq!(second["PhysicalResourceId"], first.physical_resource_id);

    // A refusal with no profile of that name stands.
    cloud.sagemaker.refuse_next("CreateUserProfile", "ValidationException", "UserSettings are not acceptable");
    let r = cloud.cfn.create(FUNCTION, "Hal", properties(&domain, "hal")).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("CreateUserProfile: ValidationException: UserSettings are not acceptable"), "{}", reason(&r));
}

#[tokio::test]
async fn a_profile_owned_by_someone_else_is_neither_adopted_nor_deleted() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "shared", AuthMode::Iam).await;
    client.create_user_profile().domain_id(&domain).user_profile_name("grace").send().await.unwrap();
    eventually("grace InService", || async { (profile_status(&client, &domain, "grace").await.as_deref() == Some("InService")).then_some(()) }).await;

    let r = cloud.cfn.create(FUNCTION, "Grace", properties(&domain, "grace")).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).contains("UserProfileName: user profile grace already exists"), "{}", reason(&r));
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id), "never the other profile's ARN");

    let d = cloud.cfn.delete(FUNCTION, "Grace", &r.physical_resource_id, properties(&domain, "grace")).await.unwrap();
    d.expect_success();
    // Even a Delete naming its ARN leaves it alone: its ownership tags are not this stack's.
    let d = cloud.cfn.delete(FUNCTION, "Grace", &profile_arn(&domain, "grace"), properties(&domain, "grace")).await.unwrap();
    d.expect_success();
    assert!(reason(&d).starts_with("retained"), "{}", reason(&d));
    assert_eq!(profile_status(&client, &domain, "grace").await.as_deref(), Some("InService"));
    assert_eq!(cloud.sagemaker.call_count("DeleteUserProfile"), 0);
}

#[tokio::test]
async fn settings_and_tags_change_in_place() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "updates", AuthMode::Iam).await;
    let mut old = properties(&domain, "heidi");
    old["Tags"] = json!([{"Key": "team", "Value": "ml"}, {"Key": "stage", "Value": "dev"}]);
    let created = cloud.cfn.create(FUNCTION, "Heidi", old.clone()).await.unwrap();
    created.expect_success();
    let arn = created.physical_resource_id.clone();

    // Tags only: no UpdateUserProfile, no new profile.
    let mut retagged = old.clone();
    retagged["Tags"] = json!([{"Key": "team", "Value": "research"}, {"Key": "owner", "Value": "heidi"}]);
    let r = cloud.cfn.update(FUNCTION, "Heidi", &arn, retagged.clone(), old.clone()).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, arn);
    let tags = tags(&client, &arn).await;
    assert_eq!(tags.get("team").map(String::as_str), Some("research"));
    assert_eq!(tags.get("owner").map(String::as_str), Some("heidi"));
    assert_eq!(tags.get("stage"), None, "a removed tag is removed");
    assert_eq!(tags.get("studio-cfn:request-id"), Some(&created.request_id), "ownership tags stay");
    assert_eq!(cloud.sagemaker.call_count("UpdateUserProfile"), 0);

    // Settings: UpdateUserProfile, waited for.
    let mut resettled = retagged.clone();
    resettled["UserSettings"] = json!({"ExecutionRole": OTHER_ROLE, "JupyterLabAppSettings": {"AppLifecycleManagement":
        {"IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 90}}}});
    let r = cloud.cfn.update(FUNCTION, "Heidi", &arn, resettled, retagged).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, arn);
    assert_eq!(r.data["UserProfileArn"], arn);
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("heidi").send().await.unwrap();
    assert_eq!(profile.status().map(|s| s.as_str()), Some("InService"));
    assert_eq!(profile.user_settings().and_then(|s| s.execution_role()), Some(OTHER_ROLE));
    assert_eq!(cloud.sagemaker.call_count("UpdateUserProfile"), 1);
    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 1);
}

/// The one tag policy: a tags-only Update removes only keys the old template had.
#[tokio::test]
async fn a_tag_set_outside_the_template_survives_a_tags_only_update() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "outside", AuthMode::Iam).await;
    let mut old = properties(&domain, "olga");
    old["Tags"] = json!([{"Key": "team", "Value": "ml"}, {"Key": "stage", "Value": "dev"}]);
    let created = cloud.cfn.create(FUNCTION, "Olga", old.clone()).await.unwrap();
    created.expect_success();
    let arn = created.physical_resource_id.clone();
    let outside = [("cost-center", "42"), ("sagemaker:user-profile-arn", "set by SageMaker")];
    let added = outside.iter().map(|(k, v)| aws_sdk_sagemaker::types::Tag::builder().key(*k).value(*v).build()).collect();
    client.add_tags().resource_arn(&arn).set_tags(Some(added)).send().await.expect("AddTags");

    let mut retagged = old.clone();
    retagged["Tags"] = json!([{"Key": "team", "Value": "research"}]);
    let r = cloud.cfn.update(FUNCTION, "Olga", &arn, retagged, old).await.unwrap();
    r.expect_success();
    let tags = tags(&client, &arn).await;
    assert_eq!(tags.get("team").map(String::as_str), Some("research"));
    assert_eq!(tags.get("stage"), None, "the old template's tag is removed");
    for (key, value) in outside {
        assert_eq!(tags.get(key).map(String::as_str), Some(value), "{key} was not the template's: it stays");
    }
}

/// The real service deletes only InService apps: a Pending one is waited for, never DeleteApp'd.
#[tokio::test]
async fn a_delete_with_a_pending_app_waits_for_it() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "pending", AuthMode::Iam).await;
    let props = properties(&domain, "pia");
    let created = cloud.cfn.create(FUNCTION, "Pia", props.clone()).await.unwrap();
    created.expect_success();
    cloud.sagemaker.set_transition_delay(Duration::from_secs(2));
    client.create_app().domain_id(&domain).user_profile_name("pia").app_type(AppType::JupyterServer).app_name("default").send().await.unwrap();

    let d = cloud.cfn.delete(FUNCTION, "Pia", &created.physical_resource_id, props).await.unwrap();
    d.expect_success();
    assert_eq!(profile_status(&client, &domain, "pia").await, None);
    assert_eq!(cloud.sagemaker.call_count("DeleteApp"), 1, "once, when the app was InService: {:?}", cloud.sagemaker.calls());
}

#[tokio::test]
async fn a_failed_settings_update_is_reported_with_its_reason() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "update-fails", AuthMode::Iam).await;
    let old = properties(&domain, "ivan");
    let created = cloud.cfn.create(FUNCTION, "Ivan", old.clone()).await.unwrap();
    created.expect_success();

    cloud.sagemaker.fail_next(ResourceKind::UserProfile, Phase::Update, "The execution role cannot be assumed by SageMaker");
    let mut new = old.clone();
    new["UserSettings"] = json!({"ExecutionRole": OTHER_ROLE});
    let r = cloud.cfn.update(FUNCTION, "Ivan", &created.physical_resource_id, new.clone(), old.clone()).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).contains("failed to update: The execution role cannot be assumed by SageMaker"), "{}", reason(&r));
    assert_eq!(r.physical_resource_id, created.physical_resource_id);

    // CloudFormation then rolls back to the old properties, which works.
    let back = cloud.cfn.update(FUNCTION, "Ivan", &created.physical_resource_id, old, new).await.unwrap();
    back.expect_success();
    assert_eq!(profile_status(&client, &domain, "ivan").await.as_deref(), Some("InService"));
}

#[tokio::test]
async fn a_new_name_or_domain_replaces_the_profile() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let first = domain(&client, "first", AuthMode::Iam).await;
    let second = domain(&client, "second", AuthMode::Iam).await;
    let old = properties(&first, "judy");
    let created = cloud.cfn.create(FUNCTION, "Judy", old.clone()).await.unwrap();
    created.expect_success();

    let renamed = properties(&first, "judith");
    let r = cloud.cfn.update(FUNCTION, "Judy", &created.physical_resource_id, renamed.clone(), old.clone()).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, profile_arn(&first, "judith"));
    assert_eq!(r.data["UserProfileName"], "judith");
    // The old one stays until CloudFormation's cleanup Delete.
    assert_eq!(profile_status(&client, &first, "judy").await.as_deref(), Some("InService"));
    let d = cloud.cfn.delete(FUNCTION, "Judy", &created.physical_resource_id, old).await.unwrap();
    d.expect_success();
    assert_eq!(profile_status(&client, &first, "judy").await, None);
    assert_eq!(profile_status(&client, &first, "judith").await.as_deref(), Some("InService"));

    let moved = properties(&second, "judith");
    let r2 = cloud.cfn.update(FUNCTION, "Judy", &r.physical_resource_id, moved, renamed).await.unwrap();
    r2.expect_success();
    assert_eq!(r2.physical_resource_id, profile_arn(&second, "judith"));
    assert_eq!(r2.data["DomainId"], second);
    assert_eq!(profile_status(&client, &second, "judith").await.as_deref(), Some("InService"));
}

#[tokio::test]
async fn a_replacement_that_outlives_the_service_timeout_is_deleted() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "late", AuthMode::Iam).await;
    let old = properties(&domain, "kim");
    let created = cloud.cfn.create(FUNCTION, "Kim", old.clone()).await.unwrap();
    created.expect_success();

    // The new profile takes 2 s to become InService; the Update may wait 1 s.
    cloud.sagemaker.set_transition_delay(Duration::from_secs(2));
    let mut renamed = properties(&domain, "kimberly");
    renamed["ServiceTimeout"] = json!(1);
    let r = cloud.cfn.update(FUNCTION, "Kim", &created.physical_resource_id, renamed, old).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.physical_resource_id, created.physical_resource_id, "a failed Update keeps the old id");
    assert!(reason(&r).contains(&format!("the replacement {} made during this update is being deleted", profile_arn(&domain, "kimberly"))), "{}", reason(&r));

    eventually("the replacement deleted", || async { profile_status(&client, &domain, "kimberly").await.is_none().then_some(()) }).await;
    assert_eq!(profile_status(&client, &domain, "kim").await.as_deref(), Some("InService"), "the old profile is untouched");
}

#[tokio::test]
async fn a_new_identity_center_user_needs_a_new_profile_name() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "sso-replace", AuthMode::Sso).await;
    cloud.identity_center.add_user("kim@example.com");
    cloud.identity_center.add_user("kim.lee@example.com");
    let mut old = properties(&domain, "kim");
    old["SingleSignOnUserIdentifier"] = json!("UserName");
    old["SingleSignOnUserValue"] = json!("kim@example.com");
    let created = cloud.cfn.create(FUNCTION, "Kim", old.clone()).await.unwrap();
    created.expect_success();

    let mut same_name = old.clone();
    same_name["SingleSignOnUserValue"] = json!("kim.lee@example.com");
    let r = cloud.cfn.update(FUNCTION, "Kim", &created.physical_resource_id, same_name, old.clone()).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("SingleSignOnUserValue: the IAM Identity Center user of a profile cannot change in place"), "{}", reason(&r));
    assert!(reason(&r).contains("change UserProfileName"), "{}", reason(&r));

    let mut new_name = old.clone();
    new_name["UserProfileName"] = json!("kim-lee");
    new_name["SingleSignOnUserValue"] = json!("kim.lee@example.com");
    let r = cloud.cfn.update(FUNCTION, "Kim", &created.physical_resource_id, new_name, old).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, profile_arn(&domain, "kim-lee"));
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("kim-lee").send().await.unwrap();
    assert_eq!(profile.single_sign_on_user_value(), Some("kim.lee@example.com"));
}

#[tokio::test]
async fn delete_removes_the_apps_first_then_the_profile() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "apps", AuthMode::Iam).await;
    let props = properties(&domain, "leo");
    let created = cloud.cfn.create(FUNCTION, "Leo", props.clone()).await.unwrap();
    created.expect_success();
    app(&client, &domain, Some("leo"), None, AppType::JupyterServer, "default").await;
    app(&client, &domain, Some("leo"), None, AppType::KernelGateway, "datascience-1").await;
    app(&client, &domain, Some("leo"), None, AppType::KernelGateway, "datascience-2").await;
    // A failed app is finished: it is skipped, not deleted.
    cloud.sagemaker.fail_next(ResourceKind::App, Phase::Create, "insufficient capacity");
    client.create_app().domain_id(&domain).user_profile_name("leo").app_type(AppType::KernelGateway).app_name("broken").send().await.unwrap();
    eventually("app broken Failed", || async {
        let app = client.describe_app().domain_id(&domain).user_profile_name("leo").app_type(AppType::KernelGateway).app_name("broken").send().await.ok()?;
        (app.status() == Some(&AppStatus::Failed)).then_some(())
    })
    .await;

    let d = cloud.cfn.delete(FUNCTION, "Leo", &created.physical_resource_id, props).await.unwrap();
    d.expect_success();
    assert_eq!(profile_status(&client, &domain, "leo").await, None);
    assert_eq!(cloud.sagemaker.call_count("DeleteApp"), 3, "the three running apps, not the failed one");
    let calls = cloud.sagemaker.calls();
    let last_app_delete = calls.iter().rposition(|c| c == "DeleteApp").unwrap();
    let profile_delete = calls.iter().position(|c| c == "DeleteUserProfile").unwrap();
    assert!(last_app_delete < profile_delete, "apps before the profile: {calls:?}");
}

#[tokio::test]
async fn owned_spaces_private_or_shared_block_the_delete_unless_force_delete() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "spaces", AuthMode::Iam).await;
    let props = properties(&domain, "mia");
    let created = cloud.cfn.create(FUNCTION, "Mia", props.clone()).await.unwrap();
    created.expect_success();
    app(&client, &domain, Some("mia"), None, AppType::JupyterServer, "default").await;
    space(&client, &domain, "mia-notebooks", Some("mia"), SharingType::Private).await;
    // A shared space its owner made blocks DeleteUserProfile just as a private one does.
    space(&client, &domain, "mia-scratch", Some("mia"), SharingType::Shared).await;
    app(&client, &domain, None, Some("mia-notebooks"), AppType::JupyterLab, "default").await;
    app(&client, &domain, None, Some("mia-scratch"), AppType::JupyterLab, "default").await;
    space(&client, &domain, "team-space", None, SharingType::Shared).await;

    let d = cloud.cfn.delete(FUNCTION, "Mia", &created.physical_resource_id, props.clone()).await.unwrap();
    assert_eq!(d.status, Status::Failed);
    assert!(reason(&d).contains("owns spaces [mia-notebooks, mia-scratch]"), "{}", reason(&d));
    assert!(reason(&d).contains("ForceDelete"), "{}", reason(&d));
    // Refused before touching anything.
    assert_eq!(cloud.sagemaker.call_count("DeleteApp"), 0);
    assert_eq!(profile_status(&client, &domain, "mia").await.as_deref(), Some("InService"));

    // ForceDelete counts once the template's Update that sets it has completed (issue 22).
    let mut forced = props.clone();
    forced["ForceDelete"] = json!(true);
    let u = cloud.cfn.update(FUNCTION, "Mia", &created.physical_resource_id, forced.clone(), props).await.unwrap();
    u.expect_success();
    let d = cloud.cfn.delete(FUNCTION, "Mia", &created.physical_resource_id, forced).await.unwrap();
    d.expect_success();
    assert_eq!(profile_status(&client, &domain, "mia").await, None);
    assert!(!space_exists(&client, &domain, "mia-notebooks").await);
    assert!(!space_exists(&client, &domain, "mia-scratch").await);
    assert!(space_exists(&client, &domain, "team-space").await, "a shared space nobody owns is not the profile's");
    let calls = cloud.sagemaker.calls();
    let last_app_delete = calls.iter().rposition(|c| c == "DeleteApp").unwrap();
    let first_space_delete = calls.iter().position(|c| c == "DeleteSpace").unwrap();
    assert!(last_app_delete < first_space_delete, "the spaces' apps before the spaces: {calls:?}");
}

#[tokio::test]
async fn delete_of_a_profile_already_gone_succeeds() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "gone", AuthMode::Iam).await;
    let props = properties(&domain, "nina");
    let created = cloud.cfn.create(FUNCTION, "Nina", props.clone()).await.unwrap();
    created.expect_success();
    client.delete_user_profile().domain_id(&domain).user_profile_name("nina").send().await.unwrap();
    eventually("nina gone", || async { profile_status(&client, &domain, "nina").await.is_none().then_some(()) }).await;

    let d = cloud.cfn.delete(FUNCTION, "Nina", &created.physical_resource_id, props).await.unwrap();
    d.expect_success();
    assert_eq!(d.physical_resource_id, created.physical_resource_id);
}

#[tokio::test]
async fn a_failed_delete_is_reported_with_its_reason() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "delete-fails", AuthMode::Iam).await;
    let props = properties(&domain, "olga");
    let created = cloud.cfn.create(FUNCTION, "Olga", props.clone()).await.unwrap();
    created.expect_success();
    cloud.sagemaker.fail_next(ResourceKind::UserProfile, Phase::Delete, "The home directory is busy");

    let d = cloud.cfn.delete(FUNCTION, "Olga", &created.physical_resource_id, props.clone()).await.unwrap();
    assert_eq!(d.status, Status::Failed);
    assert!(reason(&d).contains("could not be deleted: The home directory is busy"), "{}", reason(&d));

    // A retried stack delete tries again, and now succeeds.
    let d = cloud.cfn.delete(FUNCTION, "Olga", &created.physical_resource_id, props).await.unwrap();
    d.expect_success();
    assert_eq!(profile_status(&client, &domain, "olga").await, None);
}

#[tokio::test]
async fn throttled_calls_are_retried_until_done() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "throttled", AuthMode::Iam).await;
    cloud.sagemaker.set_throttle_rate(0.4);
    let props = properties(&domain, "pat");
    let created = cloud.cfn.create(FUNCTION, "Pat", props.clone()).await.unwrap();
    created.expect_success();
    let d = cloud.cfn.delete(FUNCTION, "Pat", &created.physical_resource_id, props).await.unwrap();
    d.expect_success();
    cloud.sagemaker.set_throttle_rate(0.0);
    assert_eq!(profile_status(&client, &domain, "pat").await, None);
}

#[tokio::test]
async fn slow_operations_continue_in_new_invocations() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    // A 3 s Lambda timeout against 4 s transitions: every wait outlives an invocation.
    cloud.deploy_with(FUNCTION, Duration::from_secs(3), &[]).await.expect("deploy");
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "slow", AuthMode::Iam).await;
    cloud.sagemaker.set_transition_delay(Duration::from_secs(4));

    let props = properties(&domain, "quinn");
    let created = cloud.cfn.create(FUNCTION, "Quinn", props.clone()).await.unwrap();
    created.expect_success();
    assert_eq!(created.data["UserProfileName"], "quinn");

    let creating_app = client.create_app().domain_id(&domain).user_profile_name("quinn").app_type(AppType::JupyterServer).app_name("default");
    creating_app.send().await.unwrap();
    let d = cloud.cfn.delete(FUNCTION, "Quinn", &created.physical_resource_id, props).await.unwrap();
    d.expect_success();
    assert_eq!(profile_status(&client, &domain, "quinn").await, None);

    let continuations = cloud.lambda.invocations(FUNCTION).iter().filter(|i| i.source == InvocationSource::SelfInvoke).count();
    assert!(continuations >= 2, "expected continuations, got {continuations}");
}

/// Issue 12: right after CreateUserProfile, SageMaker may not find the profile yet.
#[tokio::test]
async fn a_profile_not_visible_right_after_create_is_waited_for() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "lagging", AuthMode::Iam).await;
    cloud.sagemaker.set_visibility_lag(Duration::from_secs(3));
    let r = cloud.cfn.create(FUNCTION, "Alice", properties(&domain, "alice")).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, profile_arn(&domain, "alice"));
    assert_eq!(profile_status(&client, &domain, "alice").await.as_deref(), Some("InService"));
}

/// Issue 12: a DeleteUserProfile refused as in use after the profile's apps and spaces are gone
/// (something SageMaker does not list) fails within minutes, not at ServiceTimeout.
#[tokio::test]
async fn a_profile_that_stays_in_use_after_its_spaces_are_gone_fails_once_the_patience_is_spent() {
    // Three minutes of in-use patience in production; three seconds here.
    let mut cloud = LocalCloud::start().await.expect("local cloud");
    cloud.deploy_with(FUNCTION, Duration::from_secs(900), &[("PATIENCE_IN_USE_SECONDS", "3")]).await.expect("deploy");
    cloud.cfn.set_timeout(Duration::from_secs(60));
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "stuck", AuthMode::Iam).await;
    let mut props = properties(&domain, "nora");
    props["ForceDelete"] = json!(true);
    let created = cloud.cfn.create(FUNCTION, "Nora", props.clone()).await.unwrap();
    created.expect_success();
    space(&client, &domain, "nora-notebooks", Some("nora"), SharingType::Private).await;
    cloud.sagemaker.fail_operation("DeleteUserProfile", sagemaker_emulator::Outage::refusal("ResourceInUse", "The resource is in use by another resource."));

    let started = Instant::now();
    let d = cloud.cfn.delete(FUNCTION, "Nora", &created.physical_resource_id, props).await.unwrap();
    assert_eq!(d.status, Status::Failed, "{}", reason(&d));
    assert!(started.elapsed() < Duration::from_secs(30), "answered after {:?}", started.elapsed());
    for expected in ["user profile nora", "still in use", "DeleteUserProfile: ResourceInUse", "spaces it owns were deleted"] {
        assert!(reason(&d).contains(expected), "{expected:?} in {}", reason(&d));
    }
    assert!(!space_exists(&client, &domain, "nora-notebooks").await, "the dependants were deleted first");
    assert_eq!(profile_status(&client, &domain, "nora").await.as_deref(), Some("InService"), "the profile is left in place");
}

/// Tags `domain` as the domain function tags a domain it made for `owner_stack` (a stack name):
/// its ownership tags and the AllowedChildStacks it records. Until the domain function writes
/// them itself (branch domain-fn), tests seed them this way.
pub(crate) async fn owned_by_stack(client: &Client, domain: &str, owner_stack: &str, allowed_child_stacks: &[&str]) {
    let arn = client.describe_domain().domain_id(domain).send().await.expect("DescribeDomain").domain_arn().expect("DomainArn").to_string();
    let owner = format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{owner_stack}/6f1c2a10-0000-4000-8000-000000000001");
    let mut tags = vec![(studio::ownership::STACK_ID.to_string(), owner), (studio::ownership::LOGICAL_ID.to_string(), "StudioDomain".to_string())];
    let patterns: Vec<String> = allowed_child_stacks.iter().map(|p| p.to_string()).collect();
    tags.push(studio::child_stacks::record(&patterns).expect("patterns fit a tag"));
    let tags = tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    client.add_tags().resource_arn(arn).set_tags(Some(tags)).send().await.expect("AddTags");
}

/// How many calls of `operation` the deployed function `function` made (it signs with its name),
/// leaving out the test's own SDK calls.
pub(crate) fn calls_by(sagemaker: &SageMakerEmulator, function: &str, operation: &str) -> usize {
    sagemaker.signed_calls().iter().filter(|(key, op)| key == function && op == operation).count()
}

/// A resource's status in the emulator's state, read without an API call (so while an
/// operation is made to fail): `kind` is "profiles" or "spaces"; None when absent.
pub(crate) fn status_in(sagemaker: &SageMakerEmulator, kind: &str, name_member: &str, name: &str) -> Option<String> {
    let snapshot = sagemaker.snapshot();
    let item = snapshot[kind].as_array()?.iter().find(|item| item[name_member] == name)?.clone();
    item["Status"].as_str().map(str::to_string)
}

/// Issue 23: a stack may put a profile only into its own domains, those it did not make, and
/// those whose stack lists it in AllowedChildStacks; refused before any call that changes
/// anything, the identity store included.
#[tokio::test]
async fn a_profile_goes_into_another_stack_s_domain_only_when_its_allowed_child_stacks_match() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "platform", AuthMode::Sso).await;
    owned_by_stack(&client, &domain, "platform", &["ml-*"]).await;
    cloud.identity_center.add_user("alice@example.com");
    let mut props = properties(&domain, "alice");
    props["SingleSignOnUserIdentifier"] = json!("UserName");
    props["SingleSignOnUserValue"] = json!("alice@example.com");
    let identity_center_calls = cloud.identity_center.calls().len();

    let r = cloud.cfn.create(FUNCTION, "Alice", props.clone()).await.unwrap();
    assert_eq!(r.status, Status::Failed, "{:?}", r.data);
    for expected in [
        format!("Invalid property DomainId: domain {domain} belongs to stack platform"),
        "AllowedChildStacks (ml-*)".to_string(),
        "this stack (local-stack)".to_string(),
    ] {
        assert!(reason(&r).contains(&expected), "{expected:?} in {}", reason(&r));
    }
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id));
    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 0);
    assert_eq!(cloud.identity_center.calls().len(), identity_center_calls, "no Identity Center call: {:?}", cloud.identity_center.calls());
    assert_eq!(profile_status(&client, &domain, "alice").await, None);

    // Listed by the domain's stack: the same stack gets in.
    owned_by_stack(&client, &domain, "platform", &["ml-*", "local-stack"]).await;
    let r = cloud.cfn.create(FUNCTION, "Alice", props).await.unwrap();
    r.expect_success();
    assert_eq!(profile_status(&client, &domain, "alice").await.as_deref(), Some("InService"));
}

/// Issue 23: an Update that moves a profile (a new DomainId: a replacement) into a domain
/// another stack made, which does not list this stack, fails before CreateUserProfile; a
/// domain no stack of ours made admits anyone.
#[tokio::test]
async fn a_profile_moves_only_into_a_domain_that_admits_its_stack() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let home = domain(&client, "home", AuthMode::Iam).await;
    let foreign = domain(&client, "platform", AuthMode::Iam).await;
    owned_by_stack(&client, &foreign, "platform", &["team-b-*"]).await;
    let old = properties(&home, "bea");
    let created = cloud.cfn.create(FUNCTION, "Bea", old.clone()).await.unwrap();
    created.expect_success();

    let moved = properties(&foreign, "bea");
    let r = cloud.cfn.update(FUNCTION, "Bea", &created.physical_resource_id, moved, old.clone()).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(
        reason(&r).starts_with(&format!("Invalid property DomainId: domain {foreign} belongs to stack platform and its AllowedChildStacks (team-b-*)")),
        "{}",
        reason(&r)
    );
    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 1, "only the first Create: {:?}", cloud.sagemaker.calls());
    assert_eq!(profile_status(&client, &foreign, "bea").await, None);

    // A domain made elsewhere (no ownership tags) is not restricted.
    let open = domain(&client, "open", AuthMode::Iam).await;
    let r = cloud.cfn.update(FUNCTION, "Bea", &created.physical_resource_id, properties(&open, "bea"), old).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, profile_arn(&open, "bea"));
}

/// Issue 23: a Create that meets "already exists" takes the profile over only when this very
/// request made it (a redelivery), never when another request planted it in its window.
#[tokio::test]
async fn a_profile_planted_by_a_forged_create_in_the_victim_s_window_is_not_adopted() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "victim", AuthMode::Iam).await;
    // The victim's stack starts creating its profile: the window is open.
    let real = cloud.cfn.event(RequestType::Create, FUNCTION, "Alice", None, properties(&domain, "alice"), None).await.unwrap();
    // Inside it, an attacker's forged Create: same StackId and LogicalResourceId, another
    // RequestId, the attacker's execution role.
    let mut planted = properties(&domain, "alice");
    planted["UserSettings"] = json!({"ExecutionRole": OTHER_ROLE});
    let forged = cloud.cfn.event(RequestType::Create, FUNCTION, "Alice", None, planted, None).await.unwrap();
    let forged_id = forged["RequestId"].as_str().unwrap().to_string();
    cloud.lambda.invoke_async(FUNCTION, forged).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(FUNCTION, Duration::from_secs(60)).await);
    let answer = cloud.cfn.puts_for(&forged_id).into_iter().find(|p| p.succeeded()).expect("the forged Create's answer");
    let answer: Value = serde_json::from_slice(answer.body.as_deref().unwrap()).unwrap();
    assert_eq!(answer["Status"], "SUCCESS", "the forged Create made the profile: {answer}");

    let r = cloud.cfn.send(FUNCTION, real).await.unwrap();
    assert_eq!(r.status, Status::Failed, "{:?}", r.data);
    assert!(reason(&r).starts_with("Invalid property UserProfileName: user profile alice already exists"), "{}", reason(&r));
    assert!(reason(&r).contains("was not made by this request"), "{}", reason(&r));
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id), "never the planted profile's ARN");
    // The planted profile is left as it is.
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("alice").send().await.unwrap();
    assert_eq!(profile.user_settings().and_then(|s| s.execution_role()), Some(OTHER_ROLE));
    assert_eq!(tags(&client, &profile_arn(&domain, "alice")).await["studio-cfn:request-id"], forged_id);
    for operation in ["UpdateUserProfile", "DeleteUserProfile", "AddTags", "DeleteTags"] {
        assert_eq!(cloud.sagemaker.call_count(operation), 0, "{operation}");
    }
}

/// Issue 22: a Delete asking for ForceDelete gets it only when the template's last completed
/// Create or Update recorded it: a forged Delete inside the stack's own Delete cannot take the
/// user's spaces with it.
#[tokio::test]
async fn a_delete_forces_only_what_the_template_recorded() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "forced", AuthMode::Iam).await;
    let props = properties(&domain, "rita");
    let created = cloud.cfn.create(FUNCTION, "Rita", props.clone()).await.unwrap();
    created.expect_success();
    space(&client, &domain, "rita-notebooks", Some("rita"), SharingType::Private).await;

    let mut forced = props.clone();
    forced["ForceDelete"] = json!(true);
    let d = cloud.cfn.delete(FUNCTION, "Rita", &created.physical_resource_id, forced.clone()).await.unwrap();
    assert_eq!(d.status, Status::Failed);
    assert!(reason(&d).contains("owns spaces [rita-notebooks]"), "{}", reason(&d));
    assert!(reason(&d).contains("ForceDelete true ignored: the template's last completed Create or Update set ForceDelete to false"), "{}", reason(&d));
    assert!(reason(&d).contains("set it by a stack update before deleting"), "{}", reason(&d));
    assert!(space_exists(&client, &domain, "rita-notebooks").await);
    assert_eq!(cloud.sagemaker.call_count("DeleteSpace"), 0);
    assert_eq!(profile_status(&client, &domain, "rita").await.as_deref(), Some("InService"));

    // The record is written by the Update that completes with it, next to the user's tags.
    let u = cloud.cfn.update(FUNCTION, "Rita", &created.physical_resource_id, forced.clone(), props).await.unwrap();
    u.expect_success();
    assert_eq!(
        tags(&client, &created.physical_resource_id).await.get("studio-cfn:delete-options").map(String::as_str),
        Some("ForceDelete=true DeleteAdopted=false")
    );
    let d = cloud.cfn.delete(FUNCTION, "Rita", &created.physical_resource_id, forced).await.unwrap();
    d.expect_success();
    assert!(!space_exists(&client, &domain, "rita-notebooks").await);
    assert_eq!(profile_status(&client, &domain, "rita").await, None);
}

/// Issue 24: an Update is a difference from the live profile, not from the old template: a
/// rollback to what the profile already is calls nothing (so it cannot be refused again).
#[tokio::test]
async fn a_rollback_to_what_the_profile_already_is_calls_no_update_user_profile() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "rollback", AuthMode::Iam).await;
    let old = properties(&domain, "sam");
    let created = cloud.cfn.create(FUNCTION, "Sam", old.clone()).await.unwrap();
    created.expect_success();

    cloud.sagemaker.refuse_next("UpdateUserProfile", "ValidationException", "The execution role cannot be assumed by SageMaker");
    let mut new = old.clone();
    new["UserSettings"] = json!({"ExecutionRole": OTHER_ROLE});
    let r = cloud.cfn.update(FUNCTION, "Sam", &created.physical_resource_id, new.clone(), old.clone()).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert_eq!(cloud.sagemaker.call_count("UpdateUserProfile"), 1);

    // CloudFormation's rollback: back to the old properties, which the profile still has.
    let back = cloud.cfn.update(FUNCTION, "Sam", &created.physical_resource_id, old, new).await.unwrap();
    back.expect_success();
    assert_eq!(back.physical_resource_id, created.physical_resource_id);
    assert_eq!(cloud.sagemaker.call_count("UpdateUserProfile"), 1, "the rollback called no UpdateUserProfile: {:?}", cloud.sagemaker.calls());
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("sam").send().await.unwrap();
    assert_eq!(profile.user_settings().and_then(|s| s.execution_role()), Some(ROLE));
}

/// Issue 24: a setting changed outside the stack (console, SDK) is put back by the next Update,
/// which sends only the member the live profile lacks.
#[tokio::test]
async fn a_settings_change_made_outside_the_stack_is_put_back_by_the_next_update() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "drift", AuthMode::Iam).await;
    let mut old = properties(&domain, "tom");
    old["UserSettings"]["JupyterLabAppSettings"] = json!({"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}});
    let created = cloud.cfn.create(FUNCTION, "Tom", old.clone()).await.unwrap();
    created.expect_success();
    // Someone changes the execution role with the SDK.
    client
        .update_user_profile()
        .domain_id(&domain)
        .user_profile_name("tom")
        .user_settings(UserSettings::builder().execution_role(OTHER_ROLE).build())
        .send()
        .await
        .expect("UpdateUserProfile");
    eventually("tom InService", || async { (profile_status(&client, &domain, "tom").await.as_deref() == Some("InService")).then_some(()) }).await;

    // The next Update changes only a tag in the template.
    let mut new = old.clone();
    new["Tags"] = json!([{"Key": "team", "Value": "ml"}]);
    let r = cloud.cfn.update(FUNCTION, "Tom", &created.physical_resource_id, new, old).await.unwrap();
    r.expect_success();
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("tom").send().await.unwrap();
    assert_eq!(profile.user_settings().and_then(|s| s.execution_role()), Some(ROLE), "put back");
    let sent = cloud.sagemaker.requests("UpdateUserProfile");
    let ours = sent.last().expect("the function's UpdateUserProfile");
    assert_eq!(ours["UserSettings"], json!({"ExecutionRole": ROLE}), "only what the live profile lacks: {ours}");
    assert_eq!(tags(&client, &created.physical_resource_id).await.get("team").map(String::as_str), Some("ml"));
}

/// Issue 22: a Create's later step deletes a failed profile only if it is still the one this
/// request made: a profile someone made under the name meanwhile is left alone.
#[tokio::test]
async fn a_profile_made_under_the_name_of_a_failed_one_being_removed_is_left_alone() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "stale", AuthMode::Iam).await;
    cloud.sagemaker.set_transition_delay(Duration::from_millis(600));
    cloud.sagemaker.fail_next(ResourceKind::UserProfile, Phase::Create, "The home directory could not be created on EFS");

    let sagemaker = &cloud.sagemaker;
    let meanwhile = async {
        // The function deletes its failed profile and waits; its looks fail for a while (an outage)...
        eventually("the failed profile being deleted", || async { (calls_by(sagemaker, FUNCTION, "DeleteUserProfile") == 1).then_some(()) }).await;
        sagemaker.fail_operation("DescribeUserProfile", Outage::InternalFailure);
        eventually("the failed profile gone", || async { status_in(sagemaker, "profiles", "UserProfileName", "erin").is_none().then_some(()) }).await;
        // ...and meanwhile someone else makes a profile of that name.
        client.create_user_profile().domain_id(&domain).user_profile_name("erin").send().await.expect("CreateUserProfile");
        eventually("the new erin InService", || async {
            (status_in(sagemaker, "profiles", "UserProfileName", "erin").as_deref() == Some("InService")).then_some(())
        })
        .await;
        sagemaker.clear_outage("DescribeUserProfile");
    };
    let (r, ()) = tokio::join!(cloud.cfn.create(FUNCTION, "Erin", properties(&domain, "erin")), meanwhile);
    let r = r.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("user profile erin failed: The home directory could not be created on EFS"), "{}", reason(&r));
    assert!(reason(&r).contains("was not made by this request"), "{}", reason(&r));
    assert_eq!(profile_status(&client, &domain, "erin").await.as_deref(), Some("InService"), "the other profile is left alone");
    assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, "DeleteUserProfile"), 1, "only the failed one: {:?}", cloud.sagemaker.signed_calls());
}

/// Issue 22: every step of a Delete checks the profile is still this stack resource's: one
/// someone made under the name while the Delete waited for the apps is left alone.
#[tokio::test]
async fn a_delete_that_meets_a_profile_someone_else_made_under_its_name_leaves_it() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "replaced", AuthMode::Iam).await;
    let props = properties(&domain, "ivy");
    let created = cloud.cfn.create(FUNCTION, "Ivy", props.clone()).await.unwrap();
    created.expect_success();
    app(&client, &domain, Some("ivy"), None, AppType::JupyterServer, "default").await;
    cloud.sagemaker.set_transition_delay(Duration::from_millis(600));

    let sagemaker = &cloud.sagemaker;
    let meanwhile = async {
        eventually("the app being deleted", || async { (calls_by(sagemaker, FUNCTION, "DeleteApp") == 1).then_some(()) }).await;
        sagemaker.fail_operation("DescribeUserProfile", Outage::InternalFailure);
        eventually("the app deleted", || async {
            let snapshot = sagemaker.snapshot();
            snapshot["apps"].as_array()?.iter().all(|a| a["Status"] == "Deleted").then_some(())
        })
        .await;
        // The profile is deleted outside the stack, and someone makes another of that name.
        client.delete_user_profile().domain_id(&domain).user_profile_name("ivy").send().await.expect("DeleteUserProfile");
        eventually("ivy gone", || async { status_in(sagemaker, "profiles", "UserProfileName", "ivy").is_none().then_some(()) }).await;
        client.create_user_profile().domain_id(&domain).user_profile_name("ivy").send().await.expect("CreateUserProfile");
        eventually("the new ivy InService", || async {
            (status_in(sagemaker, "profiles", "UserProfileName", "ivy").as_deref() == Some("InService")).then_some(())
        })
        .await;
        sagemaker.clear_outage("DescribeUserProfile");
    };
    let (d, ()) = tokio::join!(cloud.cfn.delete(FUNCTION, "Ivy", &created.physical_resource_id, props), meanwhile);
    let d = d.unwrap();
    d.expect_success();
    assert!(reason(&d).starts_with("retained: user profile ivy in domain"), "{}", reason(&d));
    assert_eq!(profile_status(&client, &domain, "ivy").await.as_deref(), Some("InService"), "the other profile is left alone");
    assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, "DeleteUserProfile"), 0, "{:?}", cloud.sagemaker.signed_calls());
}

/// Issue 23 through both real functions: the domain function records AllowedChildStacks on the
/// domain it makes for stack `platform`; the profile function then lets in that stack and the
/// stacks the patterns match, and refuses any other before any call that changes anything.
#[tokio::test]
async fn the_domain_function_s_allowed_child_stacks_decide_which_stacks_put_profiles_in_it() {
    let cloud =
        LocalCloud::start_with(sagemaker_emulator::Options { transition_delay: Duration::from_millis(100), ..Default::default() }).await.expect("local cloud");
    for function in ["studio-domain", FUNCTION] {
        cloud.deploy(function).await.expect("deploy");
    }
    let stack = |name: &str| local_cloud::cloudformation::CloudFormation::in_stacks(&cloud.stacks, &cloud.lambda, &cloud.s3, name);
    let (platform, team_b, team_c) = (stack("platform"), stack("team-b-ml"), stack("team-c"));
    let domain_props = json!({
        "DomainName": "shared", "AuthMode": "IAM", "VpcId": "vpc-0a", "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": ROLE}, "AllowedChildStacks": ["team-b-*"]
    });
    let domain = platform.create("studio-domain", "StudioDomain", domain_props).await.expect("Create response");
    let domain = domain.expect_success().physical_resource_id.clone();

    let refused = team_c.create(FUNCTION, "Alice", properties(&domain, "alice")).await.expect("Create response");
    refused.expect_failed_naming(&[&domain, "platform", "AllowedChildStacks (team-b-*)", "team-c"]);
    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 0, "refused before any call that changes anything");

    team_b.create(FUNCTION, "Bob", properties(&domain, "bob")).await.expect("Create response").expect_success();
    platform.create(FUNCTION, "Carol", properties(&domain, "carol")).await.expect("Create response").expect_success();
    let client = cloud.sagemaker_client();
    assert_eq!(profile_status(&client, &domain, "alice").await, None);
    for admitted in ["bob", "carol"] {
        assert_eq!(profile_status(&client, &domain, admitted).await.as_deref(), Some("InService"), "{admitted}");
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 26: AdoptExisting and DeleteAdopted, and what every SUCCESS says it did.

const ADOPTABLE_BY: &str = "studio-cfn:adoptable-by";

/// A profile as SageMaker makes it at an SSO user's first sign-in (with the SDK, not by a
/// function), with `tags` (e.g. the consent of its owner); waited until InService.
async fn signed_in_profile(client: &Client, domain: &str, name: &str, user: &str, tags: &[(&str, &str)]) -> String {
    let tags = tags.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build()).collect();
    client
        .create_user_profile()
        .domain_id(domain)
        .user_profile_name(name)
        .single_sign_on_user_identifier("UserName")
        .single_sign_on_user_value(user)
        .user_settings(UserSettings::builder().execution_role(OTHER_ROLE).build())
        .set_tags(Some(tags))
        .send()
        .await
        .expect("CreateUserProfile");
    eventually(&format!("{name} InService"), || async { (profile_status(client, domain, name).await.as_deref() == Some("InService")).then_some(()) }).await;
    profile_arn(domain, name)
}

/// The template adopting `name` for the SSO user `user`, with the stack's execution role and a tag.
fn adopting(domain: &str, name: &str, user: &str) -> Value {
    let mut props = properties(domain, name);
    props["SingleSignOnUserIdentifier"] = json!("UserName");
    props["SingleSignOnUserValue"] = json!(user);
    props["AdoptExisting"] = json!(true);
    props["Tags"] = json!([{"Key": "team", "Value": "ml"}]);
    props
}

fn ours(tags: &std::collections::BTreeMap<String, String>) -> Vec<&str> {
    tags.keys().map(String::as_str).filter(|k| k.starts_with("studio-cfn:")).collect()
}

/// What a refused adoption must not have done.
fn assert_nothing_changed(cloud: &LocalCloud) {
    for operation in ["CreateUserProfile", "UpdateUserProfile", "DeleteUserProfile", "AddTags", "DeleteTags"] {
        assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, operation), 0, "{operation}: {:?}", cloud.sagemaker.signed_calls());
    }
}

/// The whole life of an adopted profile: adopted (no CreateUserProfile; its settings brought to
/// the template's; ownership tags added, the consent used up), updated (the Reason names what
/// changed, and a setting changed with the SDK between two deployments as drift corrected),
/// released by its Delete (still there, InService, our tags gone, its SSO assignment kept).
#[tokio::test]
async fn a_profile_sagemaker_made_at_sign_in_is_adopted_updated_and_released() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "console", AuthMode::Sso).await;
    cloud.identity_center.add_user("amy@example.com");
    let arn = signed_in_profile(&client, &domain, "amy", "amy@example.com", &[("cost-center", "cc-1"), (ADOPTABLE_BY, "other-stack local-stack")]).await;

    let props = adopting(&domain, "amy", "amy@example.com");
    let created = cloud.cfn.create(FUNCTION, "Amy", props.clone()).await.unwrap();
    created.expect_success();
    assert_eq!(created.physical_resource_id, arn);
    assert_eq!((created.data["UserProfileArn"].as_str(), created.data["DomainId"].as_str()), (arn.as_str(), domain.as_str()));
    assert_eq!(
        reason(&created),
        format!("adopted user profile amy in domain {domain}: sent: UserSettings.ExecutionRole ({OTHER_ROLE} -> {ROLE}); tags set: team=ml")
    );
    assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, "CreateUserProfile"), 0, "adopted, not created");
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("amy").send().await.unwrap();
    assert_eq!(profile.user_settings().and_then(|s| s.execution_role()), Some(ROLE), "brought to the template's");
    let adopted = tags(&client, &arn).await;
    assert_eq!(adopted["studio-cfn:stack-id"], cloud.cfn.stack_id());
    assert_eq!(adopted["studio-cfn:logical-id"], "Amy");
    assert_eq!(adopted["studio-cfn:adopted"], "true");
    assert_eq!(adopted["studio-cfn:delete-options"], "ForceDelete=false DeleteAdopted=false");
    assert_eq!((adopted["team"].as_str(), adopted["cost-center"].as_str()), ("ml", "cc-1"));
    assert!(!adopted.contains_key(ADOPTABLE_BY), "the consent is used up: {adopted:?}");

    // An Update names what it sent.
    let mut bigger = props.clone();
    bigger["UserSettings"]["JupyterLabAppSettings"] = json!({"DefaultResourceSpec": {"InstanceType": "ml.m5.large"}});
    let r = cloud.cfn.update(FUNCTION, "Amy", &arn, bigger.clone(), props.clone()).await.unwrap();
    r.expect_success();
    assert_eq!(
        reason(&r),
        format!(
            "updated user profile amy in domain {domain}: sent: UserSettings.JupyterLabAppSettings.DefaultResourceSpec.InstanceType ((unset) -> ml.m5.large)"
        )
    );

    // Between two deployments someone changes the execution role with the SDK: put back, and said.
    client
        .update_user_profile()
        .domain_id(&domain)
        .user_profile_name("amy")
        .user_settings(UserSettings::builder().execution_role(OTHER_ROLE).build())
        .send()
        .await
        .expect("UpdateUserProfile");
    eventually("amy InService", || async { (profile_status(&client, &domain, "amy").await.as_deref() == Some("InService")).then_some(()) }).await;
    let mut retagged = bigger.clone();
    retagged["Tags"] = json!([{"Key": "team", "Value": "ml"}, {"Key": "stage", "Value": "prod"}]);
    let r = cloud.cfn.update(FUNCTION, "Amy", &arn, retagged.clone(), bigger).await.unwrap();
    r.expect_success();
    assert_eq!(
        reason(&r),
        format!(
            "updated user profile amy in domain {domain}: sent: UserSettings.ExecutionRole ({OTHER_ROLE} -> {ROLE}); \
             drift corrected: UserSettings.ExecutionRole; tags set: stage=prod"
        )
    );
    let r = cloud.cfn.update(FUNCTION, "Amy", &arn, retagged.clone(), retagged.clone()).await.unwrap();
    assert_eq!(r.expect_success().reason.as_deref(), Some(format!("updated user profile amy in domain {domain}: no change").as_str()));

    // The Delete releases it: nothing deleted, our tags gone, the others kept.
    let assignments = cloud.identity_center.call_count("DeleteApplicationAssignment");
    let d = cloud.cfn.delete(FUNCTION, "Amy", &arn, retagged).await.unwrap();
    d.expect_success();
    assert_eq!(reason(&d), format!("released user profile amy in domain {domain} (ownership tags removed; nothing was deleted)"));
    assert_eq!(profile_status(&client, &domain, "amy").await.as_deref(), Some("InService"));
    let released = tags(&client, &arn).await;
    assert_eq!(ours(&released), Vec::<&str>::new(), "{released:?}");
    assert_eq!((released["team"].as_str(), released["cost-center"].as_str()), ("ml", "cc-1"));
    assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, "DeleteUserProfile"), 0);
    assert_eq!(cloud.identity_center.call_count("DeleteApplicationAssignment"), assignments, "the SSO assignment is untouched");
}

/// Adoption needs the owner's consent, never takes another stack's profile, and the profile's
/// IAM Identity Center user must be the template's: else FAILED, nothing changed, and the
/// answer does not name the profile (CloudFormation's Delete must not touch it).
#[tokio::test]
async fn an_adoption_without_consent_of_another_stack_s_profile_or_of_another_user_changes_nothing() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "guarded", AuthMode::Sso).await;
    for user in ["ben@example.com", "cy@example.com", "dee@example.com"] {
        cloud.identity_center.add_user(user);
    }

    // No consent tag (one naming another stack does not count).
    let ben = signed_in_profile(&client, &domain, "ben", "ben@example.com", &[(ADOPTABLE_BY, "local-stack-2")]).await;
    let r = cloud.cfn.create(FUNCTION, "Ben", adopting(&domain, "ben", "ben@example.com")).await.unwrap();
    r.expect_failed_naming(&["AdoptExisting", ADOPTABLE_BY, "this stack (local-stack)", &format!("aws sagemaker add-tags --resource-arn {ben}")]);
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id));

    // Another stack's resource, even with the consent.
    let other_stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/team-b/6f1c2a10-0000-4000-8000-000000000002";
    signed_in_profile(
        &client,
        &domain,
        "cy",
        "cy@example.com",
        &[(ADOPTABLE_BY, "local-stack"), ("studio-cfn:stack-id", other_stack), ("studio-cfn:logical-id", "Cy")],
    )
    .await;
    let r = cloud.cfn.create(FUNCTION, "Cy", adopting(&domain, "cy", "cy@example.com")).await.unwrap();
    r.expect_failed_naming(&["belongs to stack team-b's resource Cy", "never taken from another stack"]);
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id));

    // Consent, but the template names another user.
    signed_in_profile(&client, &domain, "dee", "dee@example.com", &[(ADOPTABLE_BY, "local-stack")]).await;
    let r = cloud.cfn.create(FUNCTION, "Dee", adopting(&domain, "dee", "ben@example.com")).await.unwrap();
    r.expect_failed_naming(&["SingleSignOnUserValue: the profile has dee@example.com, the template ben@example.com", "nothing was changed"]);
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id));

    assert_nothing_changed(&cloud);
    assert_eq!(tags(&client, &ben).await.get(ADOPTABLE_BY).map(String::as_str), Some("local-stack-2"));
    let dee = client.describe_user_profile().domain_id(&domain).user_profile_name("dee").send().await.unwrap();
    assert_eq!(dee.user_settings().and_then(|s| s.execution_role()), Some(OTHER_ROLE));

    // Without AdoptExisting nothing changes either: the name is taken.
    let mut plain = adopting(&domain, "dee", "dee@example.com");
    plain["AdoptExisting"] = json!(false);
    let r = cloud.cfn.create(FUNCTION, "Dee", plain).await.unwrap();
    r.expect_failed_naming(&["UserProfileName: user profile dee already exists"]);
    assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, "UpdateUserProfile") + calls_by(&cloud.sagemaker, FUNCTION, "AddTags"), 0);
}

/// A profile needs no consent tag of its own when its domain is the adopting stack's, or lists
/// it in AllowedChildStacks; a domain that does not admit the stack refuses it as for a Create.
#[tokio::test]
async fn the_domain_s_stack_and_its_allowed_child_stacks_consent_to_adopting_its_profiles() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "platform", AuthMode::Sso).await;
    for user in ["eve@example.com", "fay@example.com"] {
        cloud.identity_center.add_user(user);
    }
    signed_in_profile(&client, &domain, "eve", "eve@example.com", &[]).await;
    signed_in_profile(&client, &domain, "fay", "fay@example.com", &[]).await;

    // A domain no stack of ours owns grants nothing.
    let r = cloud.cfn.create(FUNCTION, "Eve", adopting(&domain, "eve", "eve@example.com")).await.unwrap();
    r.expect_failed_naming(&[ADOPTABLE_BY]);
    // Another stack's domain that does not list this stack: refused as a Create would be.
    owned_by_stack(&client, &domain, "platform", &["team-b-*"]).await;
    let r = cloud.cfn.create(FUNCTION, "Eve", adopting(&domain, "eve", "eve@example.com")).await.unwrap();
    r.expect_failed_naming(&["Invalid property DomainId", "AllowedChildStacks (team-b-*)"]);
    assert_nothing_changed(&cloud);

    owned_by_stack(&client, &domain, "platform", &["local-*"]).await;
    let r = cloud.cfn.create(FUNCTION, "Eve", adopting(&domain, "eve", "eve@example.com")).await.unwrap();
    assert!(r.expect_success().reason.as_deref().unwrap_or_default().starts_with("adopted user profile eve"), "{}", reason(&r));
    // The domain this very stack made (its stack id, as the domain function tags it).
    let domain_arn = client.describe_domain().domain_id(&domain).send().await.unwrap().domain_arn().unwrap().to_string();
    let own = Tag::builder().key("studio-cfn:stack-id").value(cloud.cfn.stack_id()).build();
    client.add_tags().resource_arn(&domain_arn).tags(own).send().await.expect("AddTags");
    client.delete_tags().resource_arn(&domain_arn).tag_keys("studio-cfn:allowed-child-stacks").send().await.expect("DeleteTags");
    let r = cloud.cfn.create(FUNCTION, "Fay", adopting(&domain, "fay", "fay@example.com")).await.unwrap();
    r.expect_success();
    assert_eq!(tags(&client, &profile_arn(&domain, "fay")).await["studio-cfn:logical-id"], "Fay");
}

/// DeleteAdopted: true, as the template recorded it, deletes an adopted profile by the usual
/// rules; asked only by the Delete event, it is ignored (released, saying why).
#[tokio::test]
async fn delete_adopted_deletes_only_as_the_template_recorded_it() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "leaving", AuthMode::Sso).await;
    for user in ["gil@example.com", "hal@example.com"] {
        cloud.identity_center.add_user(user);
    }
    signed_in_profile(&client, &domain, "gil", "gil@example.com", &[(ADOPTABLE_BY, "local-stack")]).await;
    signed_in_profile(&client, &domain, "hal", "hal@example.com", &[(ADOPTABLE_BY, "local-stack")]).await;

    let mut gil = adopting(&domain, "gil", "gil@example.com");
    gil["DeleteAdopted"] = json!(true);
    let created = cloud.cfn.create(FUNCTION, "Gil", gil.clone()).await.unwrap();
    created.expect_success();
    // The adopting Create records the conservative options (a forged Create in its window must
    // not arm a Delete); the template's count once an Update recorded them.
    let arn = created.physical_resource_id.clone();
    assert_eq!(tags(&client, &arn).await.get("studio-cfn:delete-options").map(String::as_str), Some("ForceDelete=false DeleteAdopted=false"));
    cloud.cfn.update(FUNCTION, "Gil", &arn, gil.clone(), gil.clone()).await.unwrap().expect_success();
    assert_eq!(tags(&client, &arn).await.get("studio-cfn:delete-options").map(String::as_str), Some("ForceDelete=false DeleteAdopted=true"));
    let d = cloud.cfn.delete(FUNCTION, "Gil", &created.physical_resource_id, gil).await.unwrap();
    d.expect_success();
    assert_eq!(reason(&d), format!("deleted user profile gil in domain {domain}"));
    assert_eq!(profile_status(&client, &domain, "gil").await, None);

    let hal = adopting(&domain, "hal", "hal@example.com");
    let created = cloud.cfn.create(FUNCTION, "Hal", hal.clone()).await.unwrap();
    created.expect_success();
    let mut forged = hal;
    forged["DeleteAdopted"] = json!(true);
    let d = cloud.cfn.delete(FUNCTION, "Hal", &created.physical_resource_id, forged).await.unwrap();
    d.expect_success();
    assert!(reason(&d).starts_with(&format!("released user profile hal in domain {domain}")), "{}", reason(&d));
    assert!(reason(&d).contains("DeleteAdopted true ignored: the template's last completed Create or Update set DeleteAdopted to false"), "{}", reason(&d));
    assert_eq!(profile_status(&client, &domain, "hal").await.as_deref(), Some("InService"));
}

/// An adoption that fails once the profile carries our tags names it, so that CloudFormation's
/// rollback Delete releases it (the delete options are recorded only at the end: none yet); a
/// redelivered adopting Create carries on with what the first delivery took.
#[tokio::test]
async fn a_failed_adoption_is_released_by_the_rollback_and_a_redelivery_carries_on() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "rollback", AuthMode::Sso).await;
    for user in ["ida@example.com", "jo@example.com"] {
        cloud.identity_center.add_user(user);
    }
    let ida = signed_in_profile(&client, &domain, "ida", "ida@example.com", &[(ADOPTABLE_BY, "local-stack")]).await;
    cloud.sagemaker.refuse_next("UpdateUserProfile", "ValidationException", "The execution role cannot be assumed by SageMaker");
    let props = adopting(&domain, "ida", "ida@example.com");
    let r = cloud.cfn.create(FUNCTION, "Ida", props.clone()).await.unwrap();
    r.expect_failed_naming(&["UpdateUserProfile: ValidationException"]);
    assert_eq!(r.physical_resource_id, ida, "named, so that the rollback releases it");
    assert!(!tags(&client, &ida).await.contains_key("studio-cfn:delete-options"));
    let d = cloud.cfn.delete(FUNCTION, "Ida", &ida, props).await.unwrap();
    assert!(d.expect_success().reason.as_deref().unwrap_or_default().starts_with("released user profile ida"), "{}", reason(&d));
    assert_eq!(ours(&tags(&client, &ida).await), Vec::<&str>::new());
    assert_eq!(profile_status(&client, &domain, "ida").await.as_deref(), Some("InService"));

    let jo = signed_in_profile(&client, &domain, "jo", "jo@example.com", &[(ADOPTABLE_BY, "local-stack")]).await;
    let event = cloud.cfn.event(RequestType::Create, FUNCTION, "Jo", None, adopting(&domain, "jo", "jo@example.com"), None).await.unwrap();
    let answers = cloud.cfn.deliver_twice(FUNCTION, event).await.unwrap();
    for answer in &answers {
        answer.expect_success();
        assert_eq!(answer.physical_resource_id, jo);
        assert!(reason(answer).starts_with("adopted user profile jo"), "{}", reason(answer));
    }
    assert_eq!(tags(&client, &jo).await["studio-cfn:adopted"], "true");
}
