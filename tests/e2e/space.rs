//! studio-space end to end: the real binary under the Lambda emulator, driven by the
//! CloudFormation driver, against the SageMaker emulator. Domains, profiles and apps are
//! seeded with the SDK, as a user (or another stack) would have made them.

use crate::user_profile::{calls_by, owned_by_stack, status_in};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_space::DescribeSpaceOutput;
use aws_sdk_sagemaker::types::{AppType, AuthMode, SharingType};
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{RequestType, Response, Status};
use local_cloud::seed::{app, domain, eventually, play_sample, space, space_exists, tags, user_profile};
use sagemaker_emulator::{Outage, Phase, ResourceKind};
use serde_json::{Value, json};
use std::time::Duration;

const FUNCTION: &str = "studio-space";

async fn cloud() -> LocalCloud {
    let cloud = LocalCloud::start().await.expect("local cloud");
    cloud.deploy(FUNCTION).await.expect("deploy");
    cloud
}

async fn described(client: &Client, domain: &str, name: &str) -> Option<DescribeSpaceOutput> {
    client.describe_space().domain_id(domain).space_name(name).send().await.ok()
}

fn shared(domain: &str, name: &str) -> Value {
    json!({"DomainId": domain, "SpaceName": name, "SpaceSharingSettings": {"SharingType": "Shared"},
        "SpaceSettings": {"AppType": "JupyterLab", "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": "20"}}}})
}

fn private(domain: &str, name: &str, owner: &str) -> Value {
    json!({"DomainId": domain, "SpaceName": name, "SpaceSharingSettings": {"SharingType": "Private"},
        "OwnershipSettings": {"OwnerUserProfileName": owner}, "SpaceSettings": {"AppType": "CodeEditor"}})
}

fn reason(r: &Response) -> &str {
    r.reason.as_deref().unwrap_or_default()
}

fn space_arn(domain: &str, name: &str) -> String {
    format!("arn:aws:sagemaker:us-east-1:123456789012:space/{domain}/{name}")
}

fn ebs(space: &DescribeSpaceOutput) -> Option<i32> {
    space.space_settings()?.space_storage_settings()?.ebs_storage_settings()?.ebs_volume_size_in_gb()
}

fn idle(space: &DescribeSpaceOutput) -> Option<i32> {
    space.space_settings()?.jupyter_lab_app_settings()?.app_lifecycle_management()?.idle_settings()?.idle_timeout_in_minutes()
}

/// The Data every space reports, checked against what SageMaker describes.
fn assert_data(r: &Response, space: &DescribeSpaceOutput) {
    assert_eq!(r.physical_resource_id, space.space_arn().unwrap_or_default());
    assert_eq!(r.data["SpaceArn"], space.space_arn().unwrap_or_default());
    assert_eq!(r.data["SpaceName"], space.space_name().unwrap_or_default());
    assert_eq!(r.data["DomainId"], space.domain_id().unwrap_or_default());
    assert_eq!(r.data["Url"], space.url().expect("the emulator reports a Url"));
    assert_eq!(r.data["HomeEfsFileSystemUid"], space.home_efs_file_system_uid().expect("the emulator reports a uid"));
}

#[tokio::test]
async fn sample_events_create_update_in_place_and_delete_a_shared_space() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "samples", AuthMode::Iam).await;

    let created = play_sample(&cloud, FUNCTION, "space-create.json", &domain).await;
    created.expect_success();
    let arn = space_arn(&domain, "forecasting-team");
    assert_eq!(created.physical_resource_id, arn);
    let space = described(&client, &domain, "forecasting-team").await.expect("the space");
    assert_data(&created, &space);
    // "20" and "60" in the template arrived as numbers.
    assert_eq!((ebs(&space), idle(&space)), (Some(20), Some(60)));
    assert_eq!(space.space_sharing_settings().and_then(|s| s.sharing_type()).map(|s| s.as_str()), Some("Shared"));
    let on_space = tags(&client, &arn).await;
    assert_eq!(on_space.get("team").map(String::as_str), Some("forecasting"));
    assert_eq!(on_space.get("studio-cfn:stack-id").map(String::as_str), Some(cloud.cfn.stack_id()));

    let updated = play_sample(&cloud, FUNCTION, "space-update.json", &domain).await;
    updated.expect_success();
    assert_eq!(updated.physical_resource_id, arn, "settings, display name and tags change in place");
    let space = described(&client, &domain, "forecasting-team").await.expect("the space");
    assert_eq!((ebs(&space), idle(&space)), (Some(50), Some(120)));
    assert_eq!(space.space_display_name(), Some("Forecasting team (GPU)"));
    assert_eq!(tags(&client, &arn).await.get("cost-center").map(String::as_str), Some("cc-42"));
    assert_eq!(cloud.sagemaker.call_count("UpdateSpace"), 1);
    assert_eq!(cloud.sagemaker.call_count("CreateSpace"), 1);

    let deleted = play_sample(&cloud, FUNCTION, "space-delete.json", &domain).await;
    deleted.expect_success();
    assert!(!space_exists(&client, &domain, "forecasting-team").await);
}

#[tokio::test]
async fn a_private_space_needs_an_existing_owner_checked_before_calling() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "private", AuthMode::Iam).await;

    let r = cloud.cfn.create(FUNCTION, "AliceSpace", private(&domain, "alice-space", "alice")).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("Invalid property OwnershipSettings.OwnerUserProfileName: user profile alice does not exist"), "{}", reason(&r));
    assert_eq!(cloud.sagemaker.call_count("CreateSpace"), 0, "checked before calling");

    let mut ownerless = private(&domain, "alice-space", "alice");
    ownerless.as_object_mut().unwrap().remove("OwnershipSettings");
    let r = cloud.cfn.create(FUNCTION, "AliceSpace", ownerless).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("Invalid property OwnershipSettings.OwnerUserProfileName: required"), "{}", reason(&r));

    user_profile(&client, &domain, "alice").await;
    let r = cloud.cfn.create(FUNCTION, "AliceSpace", private(&domain, "alice-space", "alice")).await.unwrap();
    r.expect_success();
    let space = described(&client, &domain, "alice-space").await.expect("the space");
    assert_data(&r, &space);
    assert_eq!(space.ownership_settings().and_then(|o| o.owner_user_profile_name()), Some("alice"));
    assert_eq!(space.space_sharing_settings().and_then(|s| s.sharing_type()).map(|s| s.as_str()), Some("Private"));
    assert_eq!(cloud.sagemaker.call_count("CreateSpace"), 1);
}

#[tokio::test]
async fn an_ebs_shrink_is_refused_before_any_call_that_changes_something() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "ebs", AuthMode::Iam).await;
    let old = shared(&domain, "team");
    let created = cloud.cfn.create(FUNCTION, "Team", old.clone()).await.unwrap();
    created.expect_success();

    let mut smaller = old.clone();
    smaller["SpaceSettings"]["SpaceStorageSettings"]["EbsStorageSettings"]["EbsVolumeSizeInGb"] = json!(10);
    smaller["SpaceDisplayName"] = json!("Smaller");
    let r = cloud.cfn.update(FUNCTION, "Team", &created.physical_resource_id, smaller, old.clone()).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    let why = reason(&r);
    assert!(why.starts_with("Invalid property SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb: 10 GB is below the 20 GB"), "{why}");
    assert_eq!(cloud.sagemaker.call_count("UpdateSpace"), 0, "{:?}", cloud.sagemaker.calls());
    let space = described(&client, &domain, "team").await.expect("the space");
    assert_eq!((ebs(&space), space.space_display_name()), (Some(20), None));
}

#[tokio::test]
async fn a_sharing_change_replaces_the_space_under_a_new_name() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "replace", AuthMode::Iam).await;
    user_profile(&client, &domain, "bob").await;
    let old = shared(&domain, "bob-team");
    let created = cloud.cfn.create(FUNCTION, "BobSpace", old.clone()).await.unwrap();
    created.expect_success();

    let same_name = private(&domain, "bob-team", "bob");
    let r = cloud.cfn.update(FUNCTION, "BobSpace", &created.physical_resource_id, same_name, old.clone()).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).contains("OwnershipSettings cannot change in place") && reason(&r).contains("change SpaceName"), "{}", reason(&r));
    assert_eq!(cloud.sagemaker.call_count("CreateSpace"), 1);

    let mut sharing_only = old.clone();
    sharing_only["SpaceName"] = json!("bob-team-2");
    sharing_only["SpaceSharingSettings"] = json!({"SharingType": "Private"});
    sharing_only["OwnershipSettings"] = json!({"OwnerUserProfileName": "bob"});
    let r = cloud.cfn.update(FUNCTION, "BobSpace", &created.physical_resource_id, sharing_only.clone(), old.clone()).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, space_arn(&domain, "bob-team-2"), "a new space");
    let new = described(&client, &domain, "bob-team-2").await.expect("the new space");
    assert_data(&r, &new);
    assert_eq!(new.space_sharing_settings().and_then(|s| s.sharing_type()).map(|s| s.as_str()), Some("Private"));
    assert!(space_exists(&client, &domain, "bob-team").await, "CloudFormation deletes the old one, not the update");

    let d = cloud.cfn.delete(FUNCTION, "BobSpace", &created.physical_resource_id, old).await.unwrap();
    d.expect_success();
    assert!(!space_exists(&client, &domain, "bob-team").await);
    assert!(space_exists(&client, &domain, "bob-team-2").await);
}

#[tokio::test]
async fn a_delete_removes_running_apps_and_waits_for_pending_ones() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "apps", AuthMode::Iam).await;
    let props = shared(&domain, "lab");
    let created = cloud.cfn.create(FUNCTION, "Lab", props.clone()).await.unwrap();
    created.expect_success();
    app(&client, &domain, None, Some("lab"), AppType::JupyterLab, "default").await;
    // A second app still Pending when the Delete starts: waited for, then deleted.
    cloud.sagemaker.set_transition_delay(Duration::from_secs(2));
    client.create_app().domain_id(&domain).space_name("lab").app_type(AppType::CodeEditor).app_name("ide").send().await.expect("CreateApp");

    let d = cloud.cfn.delete(FUNCTION, "Lab", &created.physical_resource_id, props).await.unwrap();
    d.expect_success();
    assert!(!space_exists(&client, &domain, "lab").await);
    assert_eq!(cloud.sagemaker.call_count("DeleteApp"), 2, "each app once, when InService: {:?}", cloud.sagemaker.calls());
    assert_eq!(cloud.sagemaker.call_count("DeleteSpace"), 1);
}

#[tokio::test]
async fn deletes_of_a_space_not_ours_already_gone_or_never_created_do_no_harm() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "harmless", AuthMode::Iam).await;
    client.create_space().domain_id(&domain).space_name("theirs").send().await.expect("CreateSpace");
    eventually("theirs InService", || async { (described(&client, &domain, "theirs").await?.status()?.as_str() == "InService").then_some(()) }).await;

    // Not ours: neither adopted by a Create nor deleted by a Delete naming its ARN.
    let r = cloud.cfn.create(FUNCTION, "Theirs", shared(&domain, "theirs")).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("Invalid property SpaceName: space theirs already exists"), "{}", reason(&r));
    let d = cloud.cfn.delete(FUNCTION, "Theirs", &space_arn(&domain, "theirs"), shared(&domain, "theirs")).await.unwrap();
    d.expect_success();
    assert!(reason(&d).starts_with("retained"), "{}", reason(&d));
    assert!(space_exists(&client, &domain, "theirs").await);

    // Already gone.
    let d = cloud.cfn.delete(FUNCTION, "Gone", &space_arn(&domain, "gone"), shared(&domain, "gone")).await.unwrap();
    d.expect_success();
    assert!(reason(&d).contains("already gone"), "{}", reason(&d));

    // A Create that failed: the failed space is removed, and the Delete after it is harmless.
    cloud.sagemaker.fail_next(ResourceKind::Space, Phase::Create, "The EBS volume could not be created");
    let r = cloud.cfn.create(FUNCTION, "Failing", shared(&domain, "failing")).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).contains("The EBS volume could not be created") && reason(&r).contains("deleted"), "{}", reason(&r));
    assert!(!space_exists(&client, &domain, "failing").await, "the failed space is removed");
    let d = cloud.cfn.delete(FUNCTION, "Failing", &r.physical_resource_id, shared(&domain, "failing")).await.unwrap();
    d.expect_success();
    assert_eq!(cloud.sagemaker.call_count("DeleteSpace"), 1, "only the failed space: {:?}", cloud.sagemaker.calls());
}

#[tokio::test]
async fn throttled_calls_are_retried_until_done() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "throttled", AuthMode::Iam).await;
    user_profile(&client, &domain, "pat").await;
    cloud.sagemaker.set_throttle_rate(0.3);
    let old = private(&domain, "pat-space", "pat");
    let created = cloud.cfn.create(FUNCTION, "Pat", old.clone()).await.unwrap();
    created.expect_success();
    let mut new = old.clone();
    new["SpaceDisplayName"] = json!("Pat's space");
    let updated = cloud.cfn.update(FUNCTION, "Pat", &created.physical_resource_id, new.clone(), old).await.unwrap();
    updated.expect_success();
    let d = cloud.cfn.delete(FUNCTION, "Pat", &created.physical_resource_id, new).await.unwrap();
    d.expect_success();
    cloud.sagemaker.set_throttle_rate(0.0);
    assert!(!space_exists(&client, &domain, "pat-space").await);
}

#[tokio::test]
async fn property_errors_name_their_paths() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "errors", AuthMode::Iam).await;
    let cases = [
        ("SpaceName", json!("team_a"), "SpaceName: "),
        ("SpaceSettings", json!({"JupyterLabAppSettings": {"Colour": "red"}}), "SpaceSettings.JupyterLabAppSettings.Colour"),
        (
            "SpaceSettings",
            json!({"SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": "big"}}}),
            "SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb: ",
        ),
        ("SpaceSettings", json!({"AppType": "Notebook"}), "SpaceSettings.AppType: "),
        ("SpaceSharingSettings", json!({"SharingType": "Everyone"}), "SpaceSharingSettings.SharingType: "),
        ("Tags", json!([{"Key": "studio-cfn:stack-id", "Value": "x"}]), "Tags[0].Key: "),
        ("Owner", json!("alice"), "Owner"),
    ];
    for (key, value, expected) in cases {
        let mut props = shared(&domain, "team");
        props[key] = value;
        let r = cloud.cfn.create(FUNCTION, "Team", props).await.unwrap();
        assert_eq!(r.status, Status::Failed, "{key}");
        assert!(reason(&r).starts_with(&format!("Invalid property {expected}")), "{expected}: {}", reason(&r));
    }
    assert_eq!(cloud.sagemaker.call_count("CreateSpace"), 0);
}

#[tokio::test]
async fn two_deliveries_of_the_create_at_once_make_one_space() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "twice", AuthMode::Iam).await;
    // A second instance of the same function, as Lambda runs concurrent deliveries.
    let twin = cloud.deploy_twin(FUNCTION).await.unwrap();

    let event = cloud.cfn.event(local_cloud::cloudformation::RequestType::Create, FUNCTION, "Team", None, shared(&domain, "team"), None).await.unwrap();
    let request_id = event["RequestId"].as_str().unwrap().to_string();
    // The same event, answered to a second URL so that both answers can be read.
    let mut again = event.clone();
    again["ResponseURL"] = json!(cloud.cfn.response_url("Team", &format!("{request_id}-again")).await.unwrap());
    cloud.lambda.invoke_async(&twin, again).await.unwrap();
    let first = cloud.cfn.send(FUNCTION, event).await.unwrap();
    first.expect_success();
    assert!(cloud.lambda.wait_idle(&twin, Duration::from_secs(60)).await);

    let second = cloud.s3.recorded_puts("/cfn-responses/").into_iter().find(|p| p.path.ends_with("-again")).expect("second answer");
    let second: Value = serde_json::from_slice(second.body.as_deref().unwrap()).unwrap();
    assert_eq!(second["Status"], "SUCCESS", "{second}");
    assert_eq!(second["PhysicalResourceId"], first.physical_resource_id);
    let spaces = client.list_spaces().domain_id_equals(&domain).send().await.unwrap();
    assert_eq!(spaces.spaces().len(), 1);
    assert_eq!(cloud.sagemaker.call_count("DeleteSpace"), 0);
}

/// Issue 12: right after CreateSpace, SageMaker may not find the space yet.
#[tokio::test]
async fn a_space_not_visible_right_after_create_is_waited_for() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "lagging", AuthMode::Iam).await;
    cloud.sagemaker.set_visibility_lag(Duration::from_secs(3));
    let r = cloud.cfn.create(FUNCTION, "Team", shared(&domain, "team")).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, space_arn(&domain, "team"));
    let space = described(&client, &domain, "team").await.expect("the space");
    assert_eq!(space.status().map(|s| s.as_str()), Some("InService"));
}

fn instance_type(space: &DescribeSpaceOutput) -> Option<&str> {
    space.space_settings()?.jupyter_lab_app_settings()?.default_resource_spec()?.instance_type().map(|t| t.as_str())
}

/// Issue 23: a stack may put a space only into its own domains, those it did not make, and
/// those whose stack lists it in AllowedChildStacks; refused before CreateSpace.
#[tokio::test]
async fn a_space_goes_into_another_stack_s_domain_only_when_its_allowed_child_stacks_match() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "platform", AuthMode::Iam).await;
    owned_by_stack(&client, &domain, "platform", &[]).await;

    let r = cloud.cfn.create(FUNCTION, "Team", shared(&domain, "team")).await.unwrap();
    assert_eq!(r.status, Status::Failed, "{:?}", r.data);
    assert!(
        reason(&r).starts_with(&format!("Invalid property DomainId: domain {domain} belongs to stack platform and its AllowedChildStacks (none)")),
        "{}",
        reason(&r)
    );
    assert!(reason(&r).contains("this stack (local-stack)"), "{}", reason(&r));
    assert_eq!(cloud.sagemaker.call_count("CreateSpace"), 0);
    assert!(!space_exists(&client, &domain, "team").await);

    // A wildcard pattern of the domain's stack that matches this one lets it in.
    owned_by_stack(&client, &domain, "platform", &["local-*"]).await;
    let r = cloud.cfn.create(FUNCTION, "Team", shared(&domain, "team")).await.unwrap();
    r.expect_success();
    assert!(space_exists(&client, &domain, "team").await);
}

/// Issue 24: SageMaker refuses SpaceSettings.AppType in UpdateSpace, even unchanged: the EBS
/// size and instance type change in place with an UpdateSpace that never carries it.
#[tokio::test]
async fn ebs_size_and_instance_type_change_in_place_without_app_type() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "in-place", AuthMode::Iam).await;
    let mut old = shared(&domain, "lab");
    old["SpaceSettings"]["JupyterLabAppSettings"] = json!({"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}});
    let created = cloud.cfn.create(FUNCTION, "Lab", old.clone()).await.unwrap();
    created.expect_success();

    let mut new = old.clone();
    new["SpaceSettings"]["SpaceStorageSettings"]["EbsStorageSettings"]["EbsVolumeSizeInGb"] = json!(50);
    new["SpaceSettings"]["JupyterLabAppSettings"]["DefaultResourceSpec"]["InstanceType"] = json!("ml.m5.large");
    let r = cloud.cfn.update(FUNCTION, "Lab", &created.physical_resource_id, new, old).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, created.physical_resource_id, "in place");
    let space = described(&client, &domain, "lab").await.expect("the space");
    assert_eq!((ebs(&space), instance_type(&space)), (Some(50), Some("ml.m5.large")));
    assert_eq!(space.space_settings().and_then(|s| s.app_type()).map(|t| t.as_str()), Some("JupyterLab"));
    let sent = cloud.sagemaker.requests("UpdateSpace");
    assert_eq!(sent.len(), 1);
    let settings = &sent[0]["SpaceSettings"];
    assert_eq!(settings.get("AppType"), None, "UpdateSpace never carries AppType: {settings}");
    assert_eq!(settings["SpaceStorageSettings"]["EbsStorageSettings"]["EbsVolumeSizeInGb"], 50);
    assert_eq!(settings["JupyterLabAppSettings"]["DefaultResourceSpec"]["InstanceType"], "ml.m5.large");
}

/// Issue 24: a space's AppType is fixed when it is made: a change needs a new space (a new
/// SpaceName); under the same name it fails before any call, naming AppType.
#[tokio::test]
async fn an_app_type_change_needs_a_new_space() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "app-type", AuthMode::Iam).await;
    let old = shared(&domain, "ide");
    let created = cloud.cfn.create(FUNCTION, "Ide", old.clone()).await.unwrap();
    created.expect_success();

    let mut same_name = old.clone();
    same_name["SpaceSettings"]["AppType"] = json!("CodeEditor");
    let r = cloud.cfn.update(FUNCTION, "Ide", &created.physical_resource_id, same_name.clone(), old.clone()).await.unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(reason(&r).starts_with("SpaceSettings.AppType cannot change in place"), "{}", reason(&r));
    assert!(reason(&r).contains("change SpaceName as well") && reason(&r).contains("(JupyterLab)"), "{}", reason(&r));
    assert_eq!(cloud.sagemaker.call_count("UpdateSpace"), 0, "{:?}", cloud.sagemaker.calls());
    assert_eq!(cloud.sagemaker.call_count("CreateSpace"), 1);

    // CloudFormation's rollback to the old properties: nothing to do.
    let back = cloud.cfn.update(FUNCTION, "Ide", &created.physical_resource_id, old.clone(), same_name.clone()).await.unwrap();
    back.expect_success();
    assert_eq!(cloud.sagemaker.call_count("UpdateSpace"), 0, "the rollback calls nothing");

    let mut renamed = same_name;
    renamed["SpaceName"] = json!("ide-code");
    let r = cloud.cfn.update(FUNCTION, "Ide", &created.physical_resource_id, renamed, old).await.unwrap();
    r.expect_success();
    assert_eq!(r.physical_resource_id, space_arn(&domain, "ide-code"), "a new space");
    let new = described(&client, &domain, "ide-code").await.expect("the new space");
    assert_eq!(new.space_settings().and_then(|s| s.app_type()).map(|t| t.as_str()), Some("CodeEditor"));
    assert_eq!(cloud.sagemaker.call_count("UpdateSpace"), 0);
}

/// Issue 24: a setting changed outside the stack is put back by the next Update.
#[tokio::test]
async fn a_settings_change_made_outside_the_stack_is_put_back_by_the_next_update() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "drift", AuthMode::Iam).await;
    let mut old = shared(&domain, "lab");
    old["SpaceDisplayName"] = json!("Lab");
    let created = cloud.cfn.create(FUNCTION, "Lab", old.clone()).await.unwrap();
    created.expect_success();
    client
        .update_space()
        .domain_id(&domain)
        .space_name("lab")
        .space_display_name("Someone's lab")
        .space_settings(
            aws_sdk_sagemaker::types::SpaceSettings::builder()
                .space_storage_settings(
                    aws_sdk_sagemaker::types::SpaceStorageSettings::builder()
                        .ebs_storage_settings(aws_sdk_sagemaker::types::EbsStorageSettings::builder().ebs_volume_size_in_gb(30).build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("UpdateSpace");
    eventually("lab InService", || async { (described(&client, &domain, "lab").await?.status()?.as_str() == "InService").then_some(()) }).await;

    // The template grows the volume beyond what it was changed to, and renames nothing.
    let mut new = old.clone();
    new["SpaceSettings"]["SpaceStorageSettings"]["EbsStorageSettings"]["EbsVolumeSizeInGb"] = json!(40);
    let r = cloud.cfn.update(FUNCTION, "Lab", &created.physical_resource_id, new, old).await.unwrap();
    r.expect_success();
    let space = described(&client, &domain, "lab").await.expect("the space");
    assert_eq!((ebs(&space), space.space_display_name()), (Some(40), Some("Lab")), "the display name is put back");
    let sent = cloud.sagemaker.requests("UpdateSpace");
    let ours = sent.last().expect("the function's UpdateSpace");
    assert_eq!(ours["SpaceDisplayName"], "Lab");
    assert_eq!(ours["SpaceSettings"], json!({"SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 40}}}), "{ours}");
}

/// Issue 23: a space planted by a forged Create inside the victim's create window is not
/// taken over by the real Create.
#[tokio::test]
async fn a_space_planted_by_a_forged_create_in_the_victim_s_window_is_not_adopted() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "victim", AuthMode::Iam).await;
    let real = cloud.cfn.event(RequestType::Create, FUNCTION, "Team", None, shared(&domain, "team"), None).await.unwrap();
    let mut planted = shared(&domain, "team");
    planted["SpaceSettings"]["AppType"] = json!("CodeEditor");
    let forged = cloud.cfn.event(RequestType::Create, FUNCTION, "Team", None, planted, None).await.unwrap();
    let forged_id = forged["RequestId"].as_str().unwrap().to_string();
    cloud.lambda.invoke_async(FUNCTION, forged).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(cloud.lambda.wait_idle(FUNCTION, Duration::from_secs(60)).await);
    assert!(cloud.cfn.puts_for(&forged_id).iter().any(|p| p.succeeded()), "the forged Create answered");

    let r = cloud.cfn.send(FUNCTION, real).await.unwrap();
    assert_eq!(r.status, Status::Failed, "{:?}", r.data);
    assert!(
        reason(&r).starts_with("Invalid property SpaceName: space team already exists") && reason(&r).contains("not made by this request"),
        "{}",
        reason(&r)
    );
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id));
    let space = described(&client, &domain, "team").await.expect("the planted space");
    assert_eq!(space.space_settings().and_then(|s| s.app_type()).map(|t| t.as_str()), Some("CodeEditor"), "left as it is");
    assert_eq!(tags(&client, &space_arn(&domain, "team")).await["studio-cfn:request-id"], forged_id);
    assert_eq!(cloud.sagemaker.call_count("UpdateSpace") + cloud.sagemaker.call_count("DeleteSpace"), 0);
}

/// Issue 22: every step of a Delete checks the space is still this stack resource's.
#[tokio::test]
async fn a_delete_that_meets_a_space_someone_else_made_under_its_name_leaves_it() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "replaced", AuthMode::Iam).await;
    let props = shared(&domain, "lab");
    let created = cloud.cfn.create(FUNCTION, "Lab", props.clone()).await.unwrap();
    created.expect_success();
    app(&client, &domain, None, Some("lab"), AppType::JupyterLab, "default").await;
    cloud.sagemaker.set_transition_delay(Duration::from_millis(600));

    let sagemaker = &cloud.sagemaker;
    let meanwhile = async {
        eventually("the app being deleted", || async { (calls_by(sagemaker, FUNCTION, "DeleteApp") == 1).then_some(()) }).await;
        sagemaker.fail_operation("ListSpaces", Outage::InternalFailure);
        eventually("the app deleted", || async {
            let snapshot = sagemaker.snapshot();
            snapshot["apps"].as_array()?.iter().all(|a| a["Status"] == "Deleted").then_some(())
        })
        .await;
        client.delete_space().domain_id(&domain).space_name("lab").send().await.expect("DeleteSpace");
        eventually("lab gone", || async { status_in(sagemaker, "spaces", "SpaceName", "lab").is_none().then_some(()) }).await;
        client.create_space().domain_id(&domain).space_name("lab").send().await.expect("CreateSpace");
        eventually("the new lab InService", || async { (status_in(sagemaker, "spaces", "SpaceName", "lab").as_deref() == Some("InService")).then_some(()) })
            .await;
        sagemaker.clear_outage("ListSpaces");
    };
    let (d, ()) = tokio::join!(cloud.cfn.delete(FUNCTION, "Lab", &created.physical_resource_id, props), meanwhile);
    let d = d.unwrap();
    d.expect_success();
    assert!(reason(&d).starts_with("retained: space lab in domain"), "{}", reason(&d));
    assert!(space_exists(&client, &domain, "lab").await, "the other space is left alone");
    assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, "DeleteSpace"), 0, "{:?}", cloud.sagemaker.signed_calls());
}

// ---------------------------------------------------------------------------------------------
// Issue 26: AdoptExisting and DeleteAdopted on spaces.

/// A template adopting the shared space `name` (made with the SDK: no SpaceSettings).
fn adopting_shared(domain: &str, name: &str) -> Value {
    json!({"DomainId": domain, "SpaceName": name, "SpaceSharingSettings": {"SharingType": "Shared"}, "AdoptExisting": true})
}

/// `space` tagged with `tags` (e.g. its owner's consent), with the SDK.
async fn tag_space(client: &Client, domain: &str, space: &str, tags: &[(&str, &str)]) {
    let tags = tags.iter().map(|(k, v)| aws_sdk_sagemaker::types::Tag::builder().key(*k).value(*v).build()).collect();
    client.add_tags().resource_arn(space_arn(domain, space)).set_tags(Some(tags)).send().await.expect("AddTags");
}

/// A shared space made with the SDK, tagged adoptable by the stack, is adopted (no CreateSpace;
/// its settings brought to the template's), updated (the Reason says what was sent) and released
/// by its Delete (still there, its apps running, our tags gone); one whose owner or sharing
/// differs from the template's is refused, nothing changed.
#[tokio::test]
async fn a_space_made_elsewhere_is_adopted_updated_and_released() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "adopting", AuthMode::Iam).await;
    user_profile(&client, &domain, "kim").await;
    space(&client, &domain, "lab", None, SharingType::Shared).await;
    tag_space(&client, &domain, "lab", &[("studio-cfn:adoptable-by", "local-stack")]).await;
    app(&client, &domain, None, Some("lab"), AppType::JupyterLab, "default").await;
    space(&client, &domain, "kims", Some("kim"), SharingType::Private).await;
    tag_space(&client, &domain, "kims", &[("studio-cfn:adoptable-by", "local-stack")]).await;

    // Owner and sharing are fixed at creation: a template that differs is refused, naming both.
    let r = cloud.cfn.create(FUNCTION, "Kims", adopting_shared(&domain, "kims")).await.unwrap();
    r.expect_failed_naming(&["OwnershipSettings: the space has kim, the template none", "SpaceSharingSettings: the space has Private, the template Shared"]);
    assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id));
    for operation in ["CreateSpace", "UpdateSpace", "AddTags", "DeleteTags"] {
        assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, operation), 0, "{operation}");
    }

    let mut props = adopting_shared(&domain, "lab");
    props["SpaceDisplayName"] = json!("Team lab");
    props["Tags"] = json!([{"Key": "team", "Value": "ml"}]);
    let created = cloud.cfn.create(FUNCTION, "Lab", props.clone()).await.unwrap();
    created.expect_success();
    let arn = space_arn(&domain, "lab");
    assert_eq!(created.physical_resource_id, arn);
    assert_eq!(reason(&created), format!("adopted space lab in domain {domain}: sent: SpaceDisplayName ((unset) -> Team lab); tags set: team=ml"));
    assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, "CreateSpace"), 0);
    let adopted = tags(&client, &arn).await;
    assert_eq!((adopted["studio-cfn:adopted"].as_str(), adopted["studio-cfn:delete-options"].as_str()), ("true", "DeleteAdopted=false"));
    assert!(!adopted.contains_key("studio-cfn:adoptable-by"));

    let mut renamed = props.clone();
    renamed["SpaceDisplayName"] = json!("ML lab");
    let r = cloud.cfn.update(FUNCTION, "Lab", &arn, renamed.clone(), props).await.unwrap();
    r.expect_success();
    assert_eq!(reason(&r), format!("updated space lab in domain {domain}: sent: SpaceDisplayName (Team lab -> ML lab)"));

    let d = cloud.cfn.delete(FUNCTION, "Lab", &arn, renamed).await.unwrap();
    d.expect_success();
    assert_eq!(reason(&d), format!("released space lab in domain {domain} (ownership tags removed; nothing was deleted)"));
    let lab = described(&client, &domain, "lab").await.expect("still there");
    assert_eq!((lab.status().map(|s| s.as_str()), lab.space_display_name()), (Some("InService"), Some("ML lab")));
    let released = tags(&client, &arn).await;
    assert!(released.keys().all(|k| !k.starts_with("studio-cfn:")), "{released:?}");
    assert_eq!(released.get("team").map(String::as_str), Some("ml"));
    for operation in ["DeleteSpace", "DeleteApp"] {
        assert_eq!(calls_by(&cloud.sagemaker, FUNCTION, operation), 0, "{operation}");
    }
}

/// DeleteAdopted: true deletes the space with its apps once an Update recorded it (the adopting
/// Create records the conservative value: a Delete right after it releases).
#[tokio::test]
async fn an_adopted_space_with_delete_adopted_is_deleted() {
    let cloud = cloud().await;
    let client = cloud.sagemaker_client();
    let domain = domain(&client, "leaving", AuthMode::Iam).await;
    space(&client, &domain, "old-lab", None, SharingType::Shared).await;
    tag_space(&client, &domain, "old-lab", &[("studio-cfn:adoptable-by", "local-stack")]).await;
    let mut props = adopting_shared(&domain, "old-lab");
    props["DeleteAdopted"] = json!("true");
    let created = cloud.cfn.create(FUNCTION, "OldLab", props.clone()).await.unwrap();
    assert_eq!(reason(created.expect_success()), format!("adopted space old-lab in domain {domain}: it had the template's settings and tags already"));
    cloud.cfn.update(FUNCTION, "OldLab", &created.physical_resource_id, props.clone(), props.clone()).await.unwrap().expect_success();
    let d = cloud.cfn.delete(FUNCTION, "OldLab", &created.physical_resource_id, props).await.unwrap();
    d.expect_success();
    assert_eq!(reason(&d), format!("deleted space old-lab in domain {domain}"));
    assert!(!space_exists(&client, &domain, "old-lab").await);
}
