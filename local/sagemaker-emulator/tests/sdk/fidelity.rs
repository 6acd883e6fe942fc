//! How the real service behaves beyond the API reference (background.md): eventual
//! consistency, UpdateDomain's refusals while apps run, RecordNotFound, owned spaces blocking
//! a profile, DeleteApp only for InService apps, case-insensitive profile names, the domain
//! quota, domain-name uniqueness, persistent server errors, and who signed each call.

use crate::common::*;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::error::ProvideErrorMetadata;
use aws_sdk_sagemaker::types::{
    AppNetworkAccessType, AppStatus, AppType, AuthMode, DomainSettingsForUpdate, ExecutionRoleIdentityConfig, OwnershipSettings,
    RStudioServerProDomainSettingsForUpdate, SharingType, SpaceSharingSettings, UserSettings,
};
use sagemaker_emulator::{Outage, Phase, ResourceKind};
use std::time::Duration;

async fn app_status(client: &Client, domain: &str, profile: &str) -> Option<AppStatus> {
    let out = client.describe_app().domain_id(domain).user_profile_name(profile).app_type(AppType::JupyterLab).app_name("lab").send().await.ok()?;
    out.status().cloned()
}

/// Creates the JupyterLab app "lab" of a profile; waits for InService unless transitions are held.
async fn lab(client: &Client, domain: &str, profile: &str, wait: bool) {
    client.create_app().domain_id(domain).user_profile_name(profile).app_type(AppType::JupyterLab).app_name("lab").send().await.expect("CreateApp");
    if wait {
        eventually("app InService", || async { (app_status(client, domain, profile).await == Some(AppStatus::InService)).then_some(()) }).await;
    }
}

async fn delete_lab(client: &Client, domain: &str, profile: &str) {
    client.delete_app().domain_id(domain).user_profile_name(profile).app_type(AppType::JupyterLab).app_name("lab").send().await.expect("DeleteApp");
    eventually("app Deleted", || async { (app_status(client, domain, profile).await == Some(AppStatus::Deleted)).then_some(()) }).await;
}

async fn space(client: &Client, domain: &str, name: &str, owner: &str, sharing: SharingType) {
    client
        .create_space()
        .domain_id(domain)
        .space_name(name)
        .ownership_settings(OwnershipSettings::builder().owner_user_profile_name(owner).build())
        .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(sharing).build())
        .send()
        .await
        .expect("CreateSpace");
}

async fn create_domain(client: &Client, name: &str) -> Result<String, (String, String)> {
    client
        .create_domain()
        .domain_name(name)
        .auth_mode(AuthMode::Iam)
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .subnet_ids("subnet-0abc")
        .vpc_id("vpc-0abc")
        .send()
        .await
        .map(|out| out.domain_id().unwrap_or_default().to_string())
        .map_err(|err| (err.code().unwrap_or_default().to_string(), err.message().unwrap_or_default().to_string()))
}

#[tokio::test]
async fn new_domains_profiles_and_spaces_stay_invisible_for_the_lag() {
    let Env { client, emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "owner").await;
    emulator.set_visibility_lag(Duration::from_secs(3600));

    let hidden = create_domain(&client, "late").await.expect("CreateDomain");
    let (code, _) = error(client.describe_domain().domain_id(&hidden).send().await);
    assert_eq!(code, "ResourceNotFound", "a new domain is not visible at once");
    let listed = client.list_domains().send().await.expect("ListDomains");
    assert!(listed.domains().iter().all(|d| d.domain_id() != Some(hidden.as_str())), "ListDomains omits it too");
    assert_eq!(emulator.snapshot()["domains"].as_array().map(Vec::len), Some(2), "yet it exists");

    client.create_user_profile().domain_id(&domain).user_profile_name("late").send().await.expect("CreateUserProfile");
    assert_eq!(profile_status(&client, &domain, "late").await, None);
    let profiles = client.list_user_profiles().domain_id_equals(&domain).send().await.expect("ListUserProfiles");
    assert_eq!(profiles.user_profiles().len(), 1, "only the old profile is listed");

    space(&client, &domain, "late-space", "owner", SharingType::Shared).await;
    let (code, message) = error(client.describe_space().domain_id(&domain).space_name("late-space").send().await);
    assert_eq!((code.as_str(), message.contains("RecordNotFound")), ("ValidationException", true), "{message}");
    let spaces = client.list_spaces().domain_id_equals(&domain).send().await.expect("ListSpaces");
    assert!(spaces.spaces().is_empty());

    // Once the lag has passed, all three show.
    emulator.set_visibility_lag(Duration::ZERO);
    wait_domain(&client, &hidden, "InService").await;
    assert!(profile_status(&client, &domain, "late").await.is_some());
    client.describe_space().domain_id(&domain).space_name("late-space").send().await.expect("DescribeSpace after the lag");
    let spaces = client.list_spaces().domain_id_equals(&domain).send().await.expect("ListSpaces");
    assert_eq!(spaces.spaces().len(), 1);
}

#[tokio::test]
async fn describe_app_and_describe_space_answer_record_not_found() {
    let Env { client, emulator: _emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "alice").await;
    let (code, message) =
        error(client.describe_app().domain_id(&domain).user_profile_name("alice").app_type(AppType::JupyterLab).app_name("nothing").send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("RecordNotFound"), "{message}");
    let (code, message) = error(client.describe_space().domain_id(&domain).space_name("nothing").send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("RecordNotFound"), "{message}");
    // Profiles and domains keep ResourceNotFound.
    assert_eq!(profile_status(&client, &domain, "nobody").await, None);
}

#[tokio::test]
async fn update_domain_refuses_network_identity_and_rstudio_changes_while_apps_run() {
    let Env { client, emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "alice").await;

    // Switching to VpcOnly needs the network in the same request, apps or not.
    let (code, message) = error(client.update_domain().domain_id(&domain).app_network_access_type(AppNetworkAccessType::VpcOnly).send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("VpcId and SubnetIds"), "{message}");

    hold(&emulator);
    lab(&client, &domain, "alice", false).await; // Pending blocks as InService does
    let refused = [
        client
            .update_domain()
            .domain_id(&domain)
            .app_network_access_type(AppNetworkAccessType::VpcOnly)
            .vpc_id("vpc-0abc")
            .subnet_ids("subnet-0abc")
            .send()
            .await
            .map(|_| ()),
        client.update_domain().domain_id(&domain).subnet_ids("subnet-0def").send().await.map(|_| ()),
        client
            .update_domain()
            .domain_id(&domain)
            .domain_settings_for_update(DomainSettingsForUpdate::builder().execution_role_identity_config(ExecutionRoleIdentityConfig::UserProfileName).build())
            .send()
            .await
            .map(|_| ()),
        client
            .update_domain()
            .domain_id(&domain)
            .domain_settings_for_update(
                DomainSettingsForUpdate::builder()
                    .r_studio_server_pro_domain_settings_for_update(RStudioServerProDomainSettingsForUpdate::builder().domain_execution_role_arn(ROLE).build())
                    .build(),
            )
            .send()
            .await
            .map(|_| ()),
    ];
    for (result, change) in refused.into_iter().zip(["AppNetworkAccessType", "SubnetIds", "ExecutionRoleIdentityConfig", "RStudioServerProDomainSettings"]) {
        let (code, message) = error(result);
        assert_eq!(code, "ValidationException", "{change}: {message}");
        assert!(message.contains(change) && message.contains("alice/JupyterLab/lab"), "{message}");
    }
    // What does not touch the network passes, and so do unchanged values and added subnets.
    client
        .update_domain()
        .domain_id(&domain)
        .app_network_access_type(AppNetworkAccessType::PublicInternetOnly)
        .subnet_ids("subnet-0abc")
        .subnet_ids("subnet-0def")
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .send()
        .await
        .expect("UpdateDomain without a refused change");

    release(&emulator);
    wait_domain(&client, &domain, "InService").await;
    delete_lab(&client, &domain, "alice").await;
    client
        .update_domain()
        .domain_id(&domain)
        .subnet_ids("subnet-0def")
        .domain_settings_for_update(DomainSettingsForUpdate::builder().execution_role_identity_config(ExecutionRoleIdentityConfig::UserProfileName).build())
        .send()
        .await
        .expect("the same changes pass once no app runs");
}

#[tokio::test]
async fn every_owned_space_blocks_delete_user_profile_shared_ones_too() {
    let Env { client, emulator: _emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "alice").await;
    space(&client, &domain, "team", "alice", SharingType::Shared).await;
    let (code, message) = error(client.delete_user_profile().domain_id(&domain).user_profile_name("alice").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("team"), "{message}");
}

#[tokio::test]
async fn delete_app_refuses_apps_that_are_not_in_service() {
    let Env { client, emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "alice").await;
    hold(&emulator);
    lab(&client, &domain, "alice", false).await;
    let (code, message) = error(client.delete_app().domain_id(&domain).user_profile_name("alice").app_type(AppType::JupyterLab).app_name("lab").send().await);
    assert_eq!(code, "ValidationException", "{message}");
    assert!(message.contains("Pending") && message.contains("InService"), "{message}");
    release(&emulator);
    eventually("app InService", || async { (app_status(&client, &domain, "alice").await == Some(AppStatus::InService)).then_some(()) }).await;
    delete_lab(&client, &domain, "alice").await;
}

#[tokio::test]
async fn user_profile_names_are_unique_regardless_of_case() {
    let Env { client, emulator: _emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "alice").await;
    let (code, message) = error(client.create_user_profile().domain_id(&domain).user_profile_name("Alice").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("already exists"), "{message}");
}

#[tokio::test]
async fn the_domain_quota_counts_failed_domains_and_names_itself() {
    let Env { client, emulator } = env().await;
    emulator.set_domain_quota(Some(1));
    emulator.fail_next(ResourceKind::Domain, Phase::Create, "no EFS");
    let failed = create_domain(&client, "first").await.expect("CreateDomain");
    wait_domain(&client, &failed, "Failed").await;
    let (code, message) = create_domain(&client, "second").await.expect_err("over the quota");
    assert_eq!(code, "ResourceLimitExceeded");
    assert!(message.contains("'Total domains' is 1 Domains"), "{message}");
    emulator.set_domain_quota(None);
    create_domain(&client, "second").await.expect("no quota, no limit");
}

#[tokio::test]
async fn domain_names_can_be_made_non_unique() {
    let Env { client, emulator } = env().await;
    create_domain(&client, "twin").await.expect("CreateDomain");
    let (code, _) = create_domain(&client, "twin").await.expect_err("unique by default");
    assert_eq!(code, "ResourceInUse");
    emulator.set_unique_domain_names(false);
    let second = create_domain(&client, "twin").await.expect("a second domain of that name");
    let listed = client.list_domains().send().await.expect("ListDomains");
    let twins = listed.domains().iter().filter(|d| d.domain_name() == Some("twin")).count();
    assert_eq!(twins, 2, "both listed; the second is {second}");
}

#[tokio::test]
async fn an_outage_fails_every_call_of_its_operation_until_cleared() {
    let Env { client, emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    emulator.fail_operation("ListSpaces", Outage::InternalFailure);
    for _ in 0..3 {
        let err = client.list_spaces().domain_id_equals(&domain).send().await.expect_err("ListSpaces is down");
        assert_eq!(err.code(), Some("InternalFailure"));
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    }
    client.list_apps().send().await.expect("other operations work");

    emulator.fail_operation("ListSpaces", Outage::ServiceUnavailable);
    let err = client.list_spaces().send().await.expect_err("503");
    assert_eq!(err.code(), Some("ServiceUnavailable"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));

    // Like moto's missing actions: a 500 HTML page the SDK finds no code in.
    emulator.fail_operation("ListSpaces", Outage::NotImplemented);
    let err = client.list_spaces().send().await.expect_err("not implemented");
    assert_eq!(err.code(), None, "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));

    emulator.fail_operation("ListSpaces", Outage::refusal("ResourceInUse", "The resource is in use by another resource."));
    let err = client.list_spaces().send().await.expect_err("in use");
    assert_eq!(err.code(), Some("ResourceInUse"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));

    emulator.clear_outage("ListSpaces");
    client.list_spaces().send().await.expect("ListSpaces once cleared");
}

#[tokio::test]
async fn calls_are_recorded_with_the_access_key_that_signed_them() {
    let Env { client, emulator } = env().await;
    client.list_domains().send().await.expect("ListDomains");
    let other = crate::common::client_as(&emulator.endpoint(), "studio-domain").await;
    other.list_apps().send().await.expect("ListApps");
    assert_eq!(emulator.signed_calls(), vec![("test".to_string(), "ListDomains".to_string()), ("studio-domain".to_string(), "ListApps".to_string()),]);
}
