//! studio-user-profile end to end: the real binary under the Lambda emulator, driven by the
//! CloudFormation driver, against the SageMaker emulator. Domains, apps and spaces are seeded
//! with the SDK, as a user (or another stack) would have made them.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{AppStatus, AppType, AuthMode, SharingType};
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{Response, Status};
use local_cloud::lambda::InvocationSource;
use local_cloud::seed::{app, domain, eventually, play_sample, space, space_exists, tags};
use sagemaker_emulator::{Phase, ResourceKind};
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

fn assert_success(r: &Response) {
    assert_eq!(r.status, Status::Success, "{}", reason(r));
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
    assert_success(&created);
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
    assert_success(&updated);
    assert_eq!(updated.physical_resource_id, arn, "an update of settings and tags is in place");
    let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("alice").send().await.unwrap();
    assert_eq!(idle(&profile), Some(120));
    assert_eq!(tags(&client, &arn).await.get("cost-center").map(String::as_str), Some("cc-42"));

    let deleted = play_sample(&cloud, FUNCTION, "user-profile-delete.json", &domain).await;
    assert_success(&deleted);
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
    assert_success(&r);
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
    assert_success(&r);
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
    assert_success(&d);
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
    assert_success(&first);
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
    assert_success(&first);
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
    assert_success(&d);
    // Even a Delete naming its ARN leaves it alone: its ownership tags are not this stack's.
    let d = cloud.cfn.delete(FUNCTION, "Grace", &profile_arn(&domain, "grace"), properties(&domain, "grace")).await.unwrap();
    assert_success(&d);
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
    assert_success(&created);
    let arn = created.physical_resource_id.clone();

    // Tags only: no UpdateUserProfile, no new profile.
    let mut retagged = old.clone();
    retagged["Tags"] = json!([{"Key": "team", "Value": "research"}, {"Key": "owner", "Value": "heidi"}]);
    let r = cloud.cfn.update(FUNCTION, "Heidi", &arn, retagged.clone(), old.clone()).await.unwrap();
    assert_success(&r);
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
    assert_success(&r);
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
    assert_success(&created);
    let arn = created.physical_resource_id.clone();
    let outside = [("cost-center", "42"), ("sagemaker:user-profile-arn", "set by SageMaker")];
    let added = outside.iter().map(|(k, v)| aws_sdk_sagemaker::types::Tag::builder().key(*k).value(*v).build()).collect();
    client.add_tags().resource_arn(&arn).set_tags(Some(added)).send().await.expect("AddTags");

    let mut retagged = old.clone();
    retagged["Tags"] = json!([{"Key": "team", "Value": "research"}]);
    let r = cloud.cfn.update(FUNCTION, "Olga", &arn, retagged, old).await.unwrap();
    assert_success(&r);
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
    assert_success(&created);
    cloud.sagemaker.set_transition_delay(Duration::from_secs(2));
    client.create_app().domain_id(&domain).user_profile_name("pia").app_type(AppType::JupyterServer).app_name("default").send().await.unwrap();

    let d = cloud.cfn.delete(FUNCTION, "Pia", &created.physical_resource_id, props).await.unwrap();
    assert_success(&d);
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
    assert_success(&created);

    cloud.sagemaker.fail_next(ResourceKind::UserProfile, Phase::Update, "The execution role cannot be assumed by SageMaker");
    let mut new = old.clone();
    new["UserSettings"] = json!({"ExecutionRole": OTHER_ROLE});
    let r = cloud.cfn.update(FUNCTION, "Ivan", &created.physical_resource_id, new.clone(), old.clone()).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).contains("failed to update: The execution role cannot be assumed by SageMaker"), "{}", reason(&r));
    assert_eq!(r.physical_resource_id, created.physical_resource_id);

    // CloudFormation then rolls back to the old properties, which works.
    let back = cloud.cfn.update(FUNCTION, "Ivan", &created.physical_resource_id, old, new).await.unwrap();
    assert_success(&back);
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
    assert_success(&created);

    let renamed = properties(&first, "judith");
    let r = cloud.cfn.update(FUNCTION, "Judy", &created.physical_resource_id, renamed.clone(), old.clone()).await.unwrap();
    assert_success(&r);
    assert_eq!(r.physical_resource_id, profile_arn(&first, "judith"));
    assert_eq!(r.data["UserProfileName"], "judith");
    // The old one stays until CloudFormation's cleanup Delete.
    assert_eq!(profile_status(&client, &first, "judy").await.as_deref(), Some("InService"));
    let d = cloud.cfn.delete(FUNCTION, "Judy", &created.physical_resource_id, old).await.unwrap();
    assert_success(&d);
    assert_eq!(profile_status(&client, &first, "judy").await, None);
    assert_eq!(profile_status(&client, &first, "judith").await.as_deref(), Some("InService"));

    let moved = properties(&second, "judith");
    let r2 = cloud.cfn.update(FUNCTION, "Judy", &r.physical_resource_id, moved, renamed).await.unwrap();
    assert_success(&r2);
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
    assert_success(&created);

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
    assert_success(&created);

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
    assert_success(&r);
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
    assert_success(&created);
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
    assert_success(&d);
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
    assert_success(&created);
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

    let mut forced = props;
    forced["ForceDelete"] = json!(true);
    let d = cloud.cfn.delete(FUNCTION, "Mia", &created.physical_resource_id, forced).await.unwrap();
    assert_success(&d);
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
    assert_success(&created);
    client.delete_user_profile().domain_id(&domain).user_profile_name("nina").send().await.unwrap();
    eventually("nina gone", || async { profile_status(&client, &domain, "nina").await.is_none().then_some(()) }).await;

    let d = cloud.cfn.delete(FUNCTION, "Nina", &created.physical_resource_id, props).await.unwrap();
    assert_success(&d);
    assert_eq!(d.physical_resource_id, created.physical_resource_id);
}

#[tokio::test]
async fn a_failed_delete_is_reported_with_its_reason() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "delete-fails", AuthMode::Iam).await;
    let props = properties(&domain, "olga");
    let created = cloud.cfn.create(FUNCTION, "Olga", props.clone()).await.unwrap();
    assert_success(&created);
    cloud.sagemaker.fail_next(ResourceKind::UserProfile, Phase::Delete, "The home directory is busy");

    let d = cloud.cfn.delete(FUNCTION, "Olga", &created.physical_resource_id, props.clone()).await.unwrap();
    assert_eq!(d.status, Status::Failed);
    assert!(reason(&d).contains("could not be deleted: The home directory is busy"), "{}", reason(&d));

    // A retried stack delete tries again, and now succeeds.
    let d = cloud.cfn.delete(FUNCTION, "Olga", &created.physical_resource_id, props).await.unwrap();
    assert_success(&d);
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
    assert_success(&created);
    let d = cloud.cfn.delete(FUNCTION, "Pat", &created.physical_resource_id, props).await.unwrap();
    assert_success(&d);
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
    assert_success(&created);
    assert_eq!(created.data["UserProfileName"], "quinn");

    let creating_app = client.create_app().domain_id(&domain).user_profile_name("quinn").app_type(AppType::JupyterServer).app_name("default");
    creating_app.send().await.unwrap();
    let d = cloud.cfn.delete(FUNCTION, "Quinn", &created.physical_resource_id, props).await.unwrap();
    assert_success(&d);
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
    assert_success(&r);
    assert_eq!(r.physical_resource_id, profile_arn(&domain, "alice"));
    assert_eq!(profile_status(&client, &domain, "alice").await.as_deref(), Some("InService"));
}

/// Issue 12: a DeleteUserProfile refused as in use after the profile's apps and spaces are gone
/// (something SageMaker does not list) fails within minutes, not at ServiceTimeout.
#[tokio::test]
async fn a_profile_that_stays_in_use_after_its_spaces_are_gone_fails_within_minutes() {
    let mut cloud = cloud().await;
    cloud.cfn.set_timeout(Duration::from_secs(330));
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "stuck", AuthMode::Iam).await;
    let mut props = properties(&domain, "nora");
    props["ForceDelete"] = json!(true);
    let created = cloud.cfn.create(FUNCTION, "Nora", props.clone()).await.unwrap();
    assert_success(&created);
    space(&client, &domain, "nora-notebooks", Some("nora"), SharingType::Private).await;
    cloud.sagemaker.fail_operation("DeleteUserProfile", sagemaker_emulator::Outage::refusal("ResourceInUse", "The resource is in use by another resource."));

    let started = Instant::now();
    let d = cloud.cfn.delete(FUNCTION, "Nora", &created.physical_resource_id, props).await.unwrap();
    assert_eq!(d.status, Status::Failed, "{}", reason(&d));
    assert!(started.elapsed() < Duration::from_secs(300), "answered after {:?}", started.elapsed());
    for expected in ["user profile nora", "still in use", "DeleteUserProfile: ResourceInUse", "spaces it owns were deleted"] {
        assert!(reason(&d).contains(expected), "{expected:?} in {}", reason(&d));
    }
    assert!(!space_exists(&client, &domain, "nora-notebooks").await, "the dependants were deleted first");
    assert_eq!(profile_status(&client, &domain, "nora").await.as_deref(), Some("InService"), "the profile is left in place");
}
