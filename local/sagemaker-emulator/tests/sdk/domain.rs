//! Domains: statuses over time, settings, deletion with retention, faults.

use crate::common::*;
use aws_sdk_sagemaker::types::{AuthMode, DomainStatus, JupyterServerAppSettings, ResourceSpec, RetentionPolicy, RetentionType, Tag, UserSettings};
use sagemaker_emulator::{Phase, ResourceKind};

#[tokio::test]
async fn create_domain_goes_pending_then_in_service_with_real_looking_ids() {
    let Env { client, emulator } = env().await;
    hold(&emulator);
    let out = client
        .create_domain()
        .domain_name("studio")
        .auth_mode(AuthMode::Iam)
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .subnet_ids("subnet-1")
        .subnet_ids("subnet-2")
        .vpc_id("vpc-1")
        .send()
        .await
        .expect("CreateDomain");
    let id = out.domain_id().expect("DomainId").to_string();
    assert!(id.starts_with("d-") && id.len() == 14, "{id}");
    assert!(id[2..].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{id}");
    assert_eq!(out.domain_arn(), Some(format!("arn:aws:sagemaker:us-east-1:123456789012:domain/{id}").as_str()));
    assert_eq!(out.url(), Some(format!("https://{id}.studio.us-east-1.sagemaker.aws").as_str()));

    let pending = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    assert_eq!(pending.status(), Some(&DomainStatus::Pending));
    release(&emulator);

    wait_domain(&client, &id, "InService").await;
    let d = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    assert_eq!(d.domain_name(), Some("studio"));
    assert_eq!(d.auth_mode(), Some(&AuthMode::Iam));
    assert_eq!(d.subnet_ids(), ["subnet-1", "subnet-2"]);
    assert_eq!(d.vpc_id(), Some("vpc-1"));
    assert!(d.home_efs_file_system_id().is_some_and(|fs| fs.starts_with("fs-")));
    assert!(d.security_group_id_for_domain_boundary().is_some_and(|sg| sg.starts_with("sg-")));
    assert_eq!(d.default_user_settings().and_then(|s| s.execution_role()), Some(ROLE));
    assert_eq!(d.app_network_access_type().map(|t| t.as_str()), Some("PublicInternetOnly"));
    assert!(d.creation_time().is_some_and(|t| t.secs() > 1_600_000_000));
    assert!(d.single_sign_on_application_arn().is_none());
}

#[tokio::test]
async fn sso_domains_get_identity_center_application() {
    let Env { client, emulator: _emulator } = env().await;
    let id = domain(&client, "sso-studio", AuthMode::Sso).await;
    let d = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    assert!(d.single_sign_on_application_arn().is_some_and(|arn| arn.starts_with("arn:aws:sso::123456789012:application/")));
    assert!(d.single_sign_on_managed_application_instance_id().is_some());
}

#[tokio::test]
async fn update_domain_merges_settings_and_passes_through_updating() {
    let Env { client, emulator } = env().await;
    hold(&emulator);
    let lcc = "arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/setup";
    let out = client
        .create_domain()
        .domain_name("studio")
        .auth_mode(AuthMode::Iam)
        .default_user_settings(
            UserSettings::builder()
                .execution_role(ROLE)
                .jupyter_server_app_settings(
                    JupyterServerAppSettings::builder()
                        .default_resource_spec(ResourceSpec::builder().instance_type("system".into()).build())
                        .lifecycle_config_arns(lcc)
                        .build(),
                )
                .build(),
        )
        .subnet_ids("subnet-1")
        .vpc_id("vpc-1")
        .send()
        .await
        .expect("CreateDomain");
    let id = out.domain_id().expect("DomainId").to_string();

    // The service refuses to update a domain it is still creating.
    let (code, message) = error(client.update_domain().domain_id(&id).subnet_ids("subnet-2").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("Pending"), "{message}");
    release(&emulator);
    wait_domain(&client, &id, "InService").await;

    // An explicit empty list clears the lifecycle configs; members not given are kept.
    hold(&emulator);
    client
        .update_domain()
        .domain_id(&id)
        .default_user_settings(
            UserSettings::builder().jupyter_server_app_settings(JupyterServerAppSettings::builder().set_lifecycle_config_arns(Some(vec![])).build()).build(),
        )
        .send()
        .await
        .expect("UpdateDomain");
    assert_eq!(domain_status(&client, &id).await.as_deref(), Some("Updating"));
    let (code, _) = error(client.update_domain().domain_id(&id).subnet_ids("subnet-2").send().await);
    assert_eq!(code, "ResourceInUse", "a second update while Updating is refused");
    release(&emulator);
    wait_domain(&client, &id, "InService").await;

    let d = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    let settings = d.default_user_settings().expect("DefaultUserSettings");
    assert_eq!(settings.execution_role(), Some(ROLE));
    let jupyter = settings.jupyter_server_app_settings().expect("JupyterServerAppSettings");
    assert!(jupyter.lifecycle_config_arns().is_empty());
    assert_eq!(jupyter.default_resource_spec().and_then(|s| s.instance_type()).map(|t| t.as_str()), Some("system"));
}

#[tokio::test]
async fn delete_domain_goes_deleting_then_not_found_and_honours_retention() {
    let Env { client, emulator } = env().await;
    let kept = domain(&client, "kept", AuthMode::Iam).await;
    let dropped = domain(&client, "dropped", AuthMode::Iam).await;
    let efs_of = |id: &str| {
        let snapshot = emulator.snapshot();
        let domains = snapshot["domains"].as_array().cloned().unwrap_or_default();
        let d = domains.iter().find(|d| d["DomainId"] == id).cloned().expect("domain in snapshot");
        d["HomeEfsFileSystemId"].as_str().expect("efs id").to_string()
    };
    let (kept_efs, dropped_efs) = (efs_of(&kept), efs_of(&dropped));

    hold(&emulator);
    client.delete_domain().domain_id(&kept).send().await.expect("DeleteDomain");
    client
        .delete_domain()
        .domain_id(&dropped)
        .retention_policy(RetentionPolicy::builder().home_efs_file_system(RetentionType::Delete).build())
        .send()
        .await
        .expect("DeleteDomain");
    assert_eq!(domain_status(&client, &kept).await.as_deref(), Some("Deleting"));
    let (code, _) = error(client.delete_domain().domain_id(&kept).send().await);
    assert_eq!(code, "ResourceInUse", "deleting twice while Deleting is refused");
    release(&emulator);

    eventually("both domains gone", || async {
        (domain_status(&client, &kept).await.is_none() && domain_status(&client, &dropped).await.is_none()).then_some(())
    })
    .await;
    let (code, message) = error(client.describe_domain().domain_id(&kept).send().await);
    assert_eq!(code, "ResourceNotFound");
    assert!(message.contains(&kept), "{message}");
    let efs = emulator.snapshot()["efs"].clone();
    assert_eq!(efs[&kept_efs], "Retained");
    assert_eq!(efs[&dropped_efs], "Deleted");
}

#[tokio::test]
async fn delete_of_a_pending_domain_is_refused() {
    let Env { client, emulator } = env().await;
    hold(&emulator);
    let out = client
        .create_domain()
        .domain_name("young")
        .auth_mode(AuthMode::Iam)
        .default_user_settings(UserSettings::builder().build())
        .subnet_ids("subnet-1")
        .vpc_id("vpc-1")
        .send()
        .await
        .expect("CreateDomain");
    let (code, message) = error(client.delete_domain().domain_id(out.domain_id().unwrap_or_default()).send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("Pending"), "{message}");
}

#[tokio::test]
async fn duplicate_domain_name_is_in_use() {
    let Env { client, emulator: _emulator } = env().await;
    domain(&client, "twin", AuthMode::Iam).await;
    let (code, message) = error(
        client
            .create_domain()
            .domain_name("twin")
            .auth_mode(AuthMode::Iam)
            .default_user_settings(UserSettings::builder().build())
            .subnet_ids("subnet-1")
            .vpc_id("vpc-1")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("already exists"), "{message}");
}

#[tokio::test]
async fn fail_next_makes_the_domain_end_failed_with_the_reason() {
    let Env { client, emulator } = env().await;
    emulator.fail_next(ResourceKind::Domain, Phase::Create, "EFS quota exceeded");
    let out = client
        .create_domain()
        .domain_name("doomed")
        .auth_mode(AuthMode::Iam)
        .default_user_settings(UserSettings::builder().build())
        .subnet_ids("subnet-1")
        .vpc_id("vpc-1")
        .send()
        .await
        .expect("CreateDomain is accepted; the failure comes later");
    let id = out.domain_id().unwrap_or_default().to_string();
    wait_domain(&client, &id, "Failed").await;
    let d = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    assert_eq!(d.failure_reason(), Some("EFS quota exceeded"));

    // The fault was used up: a failed domain can be deleted, and the next one succeeds.
    client.delete_domain().domain_id(&id).send().await.expect("a Failed domain can be deleted");
    let ok = domain(&client, "fine", AuthMode::Iam).await;
    assert_eq!(domain_status(&client, &ok).await.as_deref(), Some("InService"));
}

#[tokio::test]
async fn failed_update_ends_update_failed_and_keeps_old_settings() {
    let Env { client, emulator } = env().await;
    let id = domain(&client, "studio", AuthMode::Iam).await;
    emulator.fail_next(ResourceKind::Domain, Phase::Update, "subnet not in VPC");
    client.update_domain().domain_id(&id).subnet_ids("subnet-9").send().await.expect("UpdateDomain");
    wait_domain(&client, &id, "Update_Failed").await;
    let d = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    assert_eq!(d.failure_reason(), Some("subnet not in VPC"));
    assert_eq!(d.subnet_ids(), ["subnet-0abc"]);

    emulator.fail_next(ResourceKind::Domain, Phase::Delete, "security group in use");
    client.delete_domain().domain_id(&id).send().await.expect("DeleteDomain");
    wait_domain(&client, &id, "Delete_Failed").await;
    let d = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    assert_eq!(d.failure_reason(), Some("security group in use"));
}

#[tokio::test]
async fn create_tags_are_listed_by_arn_across_pages() {
    let Env { client, emulator: _emulator } = env().await;
    let out = client
        .create_domain()
        .domain_name("tagged")
        .auth_mode(AuthMode::Iam)
        .default_user_settings(UserSettings::builder().build())
        .subnet_ids("subnet-1")
        .vpc_id("vpc-1")
        .tags(Tag::builder().key("a").value("1").build())
        .tags(Tag::builder().key("b").value("2").build())
        .tags(Tag::builder().key("c").value("3").build())
        .send()
        .await
        .expect("CreateDomain");
    let arn = out.domain_arn().expect("DomainArn").to_string();

    let first = client.list_tags().resource_arn(&arn).send().await.expect("ListTags");
    assert_eq!(first.tags().len(), 2, "pages hold 2 items");
    assert!(first.next_token().is_some());
    let tags = client.list_tags().resource_arn(&arn).into_paginator().items().send().try_collect().await.expect("ListTags");
    let keys: Vec<&str> = tags.iter().filter_map(|t| t.key()).collect();
    assert_eq!(keys, ["a", "b", "c"]);

    client.add_tags().resource_arn(&arn).tags(Tag::builder().key("b").value("two").build()).send().await.expect("AddTags");
    client.delete_tags().resource_arn(&arn).tag_keys("a").send().await.expect("DeleteTags");
    let tags = client.list_tags().resource_arn(&arn).into_paginator().items().send().try_collect().await.expect("ListTags");
    let pairs: Vec<(&str, &str)> = tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())).collect();
    assert_eq!(pairs, [("b", "two"), ("c", "3")]);

    let (code, message) = error(
        client
            .add_tags()
            .resource_arn("arn:aws:sagemaker:us-east-1:123456789012:domain/d-nothere00000")
            .tags(Tag::builder().key("k").value("v").build())
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.contains("does not exist"), "{message}");
}

#[tokio::test]
async fn list_domains_returns_every_domain_across_pages() {
    let Env { client, emulator } = env().await;
    for name in ["one", "two", "three", "four", "five"] {
        domain(&client, name, AuthMode::Iam).await;
    }
    let before = emulator.call_count("ListDomains");
    let domains = client.list_domains().into_paginator().items().send().try_collect().await.expect("ListDomains");
    let mut names: Vec<&str> = domains.iter().filter_map(|d| d.domain_name()).collect();
    names.sort();
    assert_eq!(names, ["five", "four", "one", "three", "two"]);
    assert_eq!(emulator.call_count("ListDomains") - before, 3, "5 domains in pages of 2");
}
