//! User profiles, spaces and apps: what blocks a delete, deleted apps, SSO rules, sign-in URLs.

use crate::common::*;
use aws_sdk_sagemaker::types::{AppNetworkAccessType, AppStatus, AppType, AuthMode, OwnershipSettings, SharingType, SpaceSharingSettings, UserSettings};
use sagemaker_emulator::{Phase, ResourceKind};

async fn app_status(client: &aws_sdk_sagemaker::Client, domain: &str, profile: &str, name: &str) -> AppStatus {
    let out =
        client.describe_app().domain_id(domain).user_profile_name(profile).app_type(AppType::JupyterLab).app_name(name).send().await.expect("DescribeApp");
    out.status().cloned().expect("Status")
}

async fn wait_app(client: &aws_sdk_sagemaker::Client, domain: &str, profile: &str, name: &str, status: AppStatus) {
    eventually(&format!("app {name} {status:?}"), || async { (app_status(client, domain, profile, name).await == status).then_some(()) }).await
}

#[tokio::test]
async fn dependants_block_deletes_until_removed_in_order() {
    let Env { client, emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "alice").await;
    client
        .create_space()
        .domain_id(&domain)
        .space_name("alice-space")
        .ownership_settings(OwnershipSettings::builder().owner_user_profile_name("alice").build())
        .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(SharingType::Private).build())
        .send()
        .await
        .expect("CreateSpace");
    client.create_app().domain_id(&domain).user_profile_name("alice").app_type(AppType::JupyterLab).app_name("lab").send().await.expect("CreateApp");
    wait_app(&client, &domain, "alice", "lab", AppStatus::InService).await;

    let (code, message) = error(client.delete_domain().domain_id(&domain).send().await);
    assert_eq!(code, "ResourceInUse");
    for dependant in ["alice", "alice-space", "lab"] {
        assert!(message.contains(dependant), "{message} should name {dependant}");
    }
    let (code, message) = error(client.delete_user_profile().domain_id(&domain).user_profile_name("alice").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("lab") && message.contains("alice-space"), "{message}");

    // The app goes Deleting -> Deleted and stays listed.
    hold(&emulator);
    client.delete_app().domain_id(&domain).user_profile_name("alice").app_type(AppType::JupyterLab).app_name("lab").send().await.expect("DeleteApp");
    assert_eq!(app_status(&client, &domain, "alice", "lab").await, AppStatus::Deleting);
    release(&emulator);
    wait_app(&client, &domain, "alice", "lab", AppStatus::Deleted).await;
    let apps = client.list_apps().domain_id_equals(&domain).send().await.expect("ListApps");
    assert_eq!(apps.apps().len(), 1);
    assert_eq!(apps.apps()[0].status(), Some(&AppStatus::Deleted));
    assert_eq!(apps.apps()[0].user_profile_name(), Some("alice"));

    let (code, message) = error(client.delete_app().domain_id(&domain).user_profile_name("alice").app_type(AppType::JupyterLab).app_name("lab").send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("has already been deleted"), "{message}");

    // The private space still blocks the profile; then the profile blocks the domain.
    let (code, message) = error(client.delete_user_profile().domain_id(&domain).user_profile_name("alice").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("alice-space") && !message.contains("lab"), "{message}");
    client.delete_space().domain_id(&domain).space_name("alice-space").send().await.expect("DeleteSpace");
    eventually("space gone", || async { client.describe_space().domain_id(&domain).space_name("alice-space").send().await.is_err().then_some(()) }).await;
    hold(&emulator);
    client.delete_user_profile().domain_id(&domain).user_profile_name("alice").send().await.expect("DeleteUserProfile");
    assert_eq!(profile_status(&client, &domain, "alice").await.as_deref(), Some("Deleting"));
    let (code, message) = error(client.delete_domain().domain_id(&domain).send().await);
    assert_eq!(code, "ResourceInUse", "a profile still Deleting blocks the domain");
    assert!(message.contains("alice"), "{message}");
    release(&emulator);
    eventually("profile gone", || async { profile_status(&client, &domain, "alice").await.is_none().then_some(()) }).await;

    client.delete_domain().domain_id(&domain).send().await.expect("DeleteDomain once empty");
    eventually("domain gone", || async { domain_status(&client, &domain).await.is_none().then_some(()) }).await;
}

#[tokio::test]
async fn space_with_running_app_cannot_be_deleted() {
    let Env { client, emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    hold(&emulator);
    client.create_space().domain_id(&domain).space_name("team").send().await.expect("CreateSpace");
    let (code, message) = error(client.create_app().domain_id(&domain).space_name("team").app_type(AppType::CodeEditor).app_name("ide").send().await);
    assert_eq!(code, "ResourceInUse", "the space is still Pending");
    assert!(message.contains("Pending"), "{message}");
    release(&emulator);
    eventually("space InService", || async {
        let out = client.describe_space().domain_id(&domain).space_name("team").send().await.ok()?;
        (out.status().map(|s| s.as_str()) == Some("InService")).then_some(())
    })
    .await;
    client.create_app().domain_id(&domain).space_name("team").app_type(AppType::CodeEditor).app_name("ide").send().await.expect("CreateApp in space");
    let (code, message) = error(client.delete_space().domain_id(&domain).space_name("team").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("ide"), "{message}");
    let apps = client.list_apps().space_name_equals("team").send().await.expect("ListApps");
    assert_eq!(apps.apps().len(), 1);
    assert_eq!(apps.apps()[0].space_name(), Some("team"));
}

#[tokio::test]
async fn failed_app_cannot_be_deleted_and_blocks_nothing() {
    let Env { client, emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "bob").await;
    emulator.fail_next(ResourceKind::App, Phase::Create, "instance capacity");
    client.create_app().domain_id(&domain).user_profile_name("bob").app_type(AppType::JupyterLab).app_name("lab").send().await.expect("CreateApp");
    wait_app(&client, &domain, "bob", "lab", AppStatus::Failed).await;
    let (code, message) = error(client.delete_app().domain_id(&domain).user_profile_name("bob").app_type(AppType::JupyterLab).app_name("lab").send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("previously failed"), "{message}");
    client.delete_user_profile().domain_id(&domain).user_profile_name("bob").send().await.expect("a failed app does not block");
}

#[tokio::test]
async fn sso_domains_require_user_name_and_iam_domains_refuse_it() {
    let Env { client, emulator: _emulator } = env().await;
    let sso = domain(&client, "sso", AuthMode::Sso).await;
    let iam = domain(&client, "iam", AuthMode::Iam).await;

    let (code, message) = error(client.create_user_profile().domain_id(&sso).user_profile_name("carol").send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("SingleSignOnUserValue"), "{message}");
    let (code, _) = error(
        client
            .create_user_profile()
            .domain_id(&sso)
            .user_profile_name("carol")
            .single_sign_on_user_identifier("Email")
            .single_sign_on_user_value("carol")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException", "only UserName is a valid identifier");
    client
        .create_user_profile()
        .domain_id(&sso)
        .user_profile_name("carol")
        .single_sign_on_user_identifier("UserName")
        .single_sign_on_user_value("carol@example.com")
        .send()
        .await
        .expect("SSO profile");
    let out = client.describe_user_profile().domain_id(&sso).user_profile_name("carol").send().await.expect("Describe");
    assert_eq!(out.single_sign_on_user_value(), Some("carol@example.com"));
    assert_eq!(out.user_profile_arn(), Some(format!("arn:aws:sagemaker:us-east-1:123456789012:user-profile/{sso}/carol").as_str()));
    assert!(out.home_efs_file_system_uid().is_some());

    let (code, message) = error(
        client
            .create_user_profile()
            .domain_id(&iam)
            .user_profile_name("dave")
            .single_sign_on_user_identifier("UserName")
            .single_sign_on_user_value("dave")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.contains("SingleSignOnUserIdentifier"), "{message}");
}

#[tokio::test]
async fn presigned_urls_only_for_iam_domains_and_existing_profiles() {
    let Env { client, emulator: _emulator } = env().await;
    let iam = domain(&client, "iam", AuthMode::Iam).await;
    let sso = domain(&client, "sso", AuthMode::Sso).await;
    profile(&client, &iam, "erin").await;

    let out = client
        .create_presigned_domain_url()
        .domain_id(&iam)
        .user_profile_name("erin")
        .expires_in_seconds(60)
        .session_expiration_duration_in_seconds(1800)
        .send()
        .await
        .expect("CreatePresignedDomainUrl");
    let url = out.authorized_url().expect("AuthorizedUrl");
    assert!(url.starts_with(&format!("https://{iam}.studio.us-east-1.sagemaker.aws/auth?token=")), "{url}");

    let (code, message) = error(client.create_presigned_domain_url().domain_id(&iam).user_profile_name("nobody").send().await);
    assert_eq!(code, "ResourceNotFound");
    assert!(message.contains("nobody"), "{message}");
    let (code, message) = error(client.create_presigned_domain_url().domain_id(&sso).user_profile_name("erin").send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("IAM"), "{message}");
    let (code, message) = error(client.create_presigned_domain_url().domain_id(&iam).user_profile_name("erin").expires_in_seconds(301).send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("'expiresInSeconds'"), "{message}");
}

#[tokio::test]
async fn profiles_need_an_existing_in_service_domain_and_unique_names() {
    let Env { client, emulator } = env().await;
    let (code, _) = error(client.create_user_profile().domain_id("d-000000000000").user_profile_name("x").send().await);
    assert_eq!(code, "ResourceNotFound");

    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "frank").await;
    let (code, message) = error(client.create_user_profile().domain_id(&domain).user_profile_name("frank").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("already exists"), "{message}");

    hold(&emulator);
    client.update_domain().domain_id(&domain).subnet_ids("subnet-2").send().await.expect("UpdateDomain");
    let (code, message) = error(client.create_user_profile().domain_id(&domain).user_profile_name("gina").send().await);
    assert_eq!(code, "ResourceInUse", "the domain is Updating");
    assert!(message.contains("Updating"), "{message}");
}

#[tokio::test]
async fn list_user_profiles_filters_and_pages() {
    let Env { client, emulator: _emulator } = env().await;
    let a = domain(&client, "a", AuthMode::Iam).await;
    let b = domain(&client, "b", AuthMode::Iam).await;
    for name in ["ann", "andy", "anita", "bert"] {
        client.create_user_profile().domain_id(&a).user_profile_name(name).send().await.expect("CreateUserProfile");
    }
    client.create_user_profile().domain_id(&b).user_profile_name("annex").send().await.expect("CreateUserProfile");

    let profiles = client
        .list_user_profiles()
        .domain_id_equals(&a)
        .user_profile_name_contains("an")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("ListUserProfiles");
    let names: Vec<&str> = profiles.iter().filter_map(|p| p.user_profile_name()).collect();
    assert_eq!(names, ["ann", "andy", "anita"]);
    assert!(profiles.iter().all(|p| p.domain_id() == Some(a.as_str())));

    let all = client.list_user_profiles().into_paginator().send().try_collect().await.expect("ListUserProfiles");
    assert_eq!(all.len(), 3, "5 profiles in pages of 2");
    assert_eq!(all.iter().map(|page| page.user_profiles().len()).sum::<usize>(), 5);
}

#[tokio::test]
async fn vpc_only_profiles_need_security_groups_and_updates_merge() {
    let Env { client, emulator: _emulator } = env().await;
    let out = client
        .create_domain()
        .domain_name("private")
        .auth_mode(AuthMode::Iam)
        .app_network_access_type(AppNetworkAccessType::VpcOnly)
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .subnet_ids("subnet-1")
        .vpc_id("vpc-1")
        .send()
        .await
        .expect("CreateDomain");
    let domain = out.domain_id().expect("DomainId").to_string();
    wait_domain(&client, &domain, "InService").await;

    let (code, message) = error(client.create_user_profile().domain_id(&domain).user_profile_name("hal").send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("SecurityGroups"), "{message}");

    client
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("hal")
        .user_settings(UserSettings::builder().security_groups("sg-1").execution_role(ROLE).build())
        .send()
        .await
        .expect("CreateUserProfile");
    eventually("profile InService", || async { (profile_status(&client, &domain, "hal").await.as_deref() == Some("InService")).then_some(()) }).await;
    client
        .update_user_profile()
        .domain_id(&domain)
        .user_profile_name("hal")
        .user_settings(UserSettings::builder().security_groups("sg-2").build())
        .send()
        .await
        .expect("UpdateUserProfile");
    eventually("profile InService again", || async { (profile_status(&client, &domain, "hal").await.as_deref() == Some("InService")).then_some(()) }).await;
    let out = client.describe_user_profile().domain_id(&domain).user_profile_name("hal").send().await.expect("DescribeUserProfile");
    let settings = out.user_settings().expect("UserSettings");
    assert_eq!(settings.security_groups(), ["sg-2"], "a given list replaces");
    assert_eq!(settings.execution_role(), Some(ROLE), "members not given are kept");
}

#[tokio::test]
async fn a_space_volume_only_grows_and_the_space_has_the_domain_url() {
    use aws_sdk_sagemaker::types::{EbsStorageSettings, SpaceSettings, SpaceStorageSettings};
    let Env { client, emulator: _emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    let sized = |gb| {
        SpaceSettings::builder()
            .space_storage_settings(
                SpaceStorageSettings::builder().ebs_storage_settings(EbsStorageSettings::builder().ebs_volume_size_in_gb(gb).build()).build(),
            )
            .build()
    };
    client.create_space().domain_id(&domain).space_name("team").space_settings(sized(20)).send().await.expect("CreateSpace");
    let in_service = || async {
        let out = client.describe_space().domain_id(&domain).space_name("team").send().await.ok()?;
        (out.status().map(|s| s.as_str()) == Some("InService")).then_some(out)
    };
    let space = eventually("space InService", in_service).await;
    let domain_url = client.describe_domain().domain_id(&domain).send().await.expect("DescribeDomain").url().map(str::to_string);
    assert_eq!(space.url().map(str::to_string), domain_url);

    let (code, message) = error(client.update_space().domain_id(&domain).space_name("team").space_settings(sized(10)).send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("10") && message.contains("20"), "{message}");
    client.update_space().domain_id(&domain).space_name("team").space_settings(sized(30)).send().await.expect("a bigger volume");
    let space = eventually("space InService", in_service).await;
    let size = space.space_settings().and_then(|s| s.space_storage_settings()).and_then(|s| s.ebs_storage_settings()).and_then(|e| e.ebs_volume_size_in_gb());
    assert_eq!(size, Some(30));
}
