//! Studio lifecycle configs: constraints, pagination, and delete refused while referenced.

use crate::common::*;
use aws_sdk_sagemaker::types::{AppType, AuthMode, JupyterLabAppSettings, ResourceSpec, StudioLifecycleConfigAppType, UserSettings};

async fn create_config(client: &aws_sdk_sagemaker::Client, name: &str) -> String {
    client
        .create_studio_lifecycle_config()
        .studio_lifecycle_config_name(name)
        .studio_lifecycle_config_content("IyEvYmluL2Jhc2gKZWNobyBoaQo=")
        .studio_lifecycle_config_app_type(StudioLifecycleConfigAppType::JupyterLab)
        .send()
        .await
        .expect("CreateStudioLifecycleConfig")
        .studio_lifecycle_config_arn()
        .expect("arn")
        .to_string()
}

#[tokio::test]
async fn config_referenced_by_domain_settings_cannot_be_deleted() {
    let Env { client, emulator: _emulator } = env().await;
    let arn = create_config(&client, "setup-abc").await;
    assert_eq!(arn, "arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/setup-abc");
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    client
        .update_domain()
        .domain_id(&domain)
        .default_user_settings(UserSettings::builder().jupyter_lab_app_settings(JupyterLabAppSettings::builder().lifecycle_config_arns(&arn).build()).build())
        .send()
        .await
        .expect("UpdateDomain");
    wait_domain(&client, &domain, "InService").await;

    let (code, message) = error(client.delete_studio_lifecycle_config().studio_lifecycle_config_name("setup-abc").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains(&format!("domain/{domain}")), "{message}");

    // An explicit empty list removes the reference.
    client
        .update_domain()
        .domain_id(&domain)
        .default_user_settings(
            UserSettings::builder().jupyter_lab_app_settings(JupyterLabAppSettings::builder().set_lifecycle_config_arns(Some(vec![])).build()).build(),
        )
        .send()
        .await
        .expect("UpdateDomain");
    client.delete_studio_lifecycle_config().studio_lifecycle_config_name("setup-abc").send().await.expect("Delete");
    let (code, _) = error(client.describe_studio_lifecycle_config().studio_lifecycle_config_name("setup-abc").send().await);
    assert_eq!(code, "ResourceNotFound");
}

#[tokio::test]
async fn config_used_by_a_profile_or_a_running_app_cannot_be_deleted() {
    let Env { client, emulator: _emulator } = env().await;
    let arn = create_config(&client, "by-profile").await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    client
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("ida")
        .user_settings(
            UserSettings::builder()
                .jupyter_lab_app_settings(
                    JupyterLabAppSettings::builder().default_resource_spec(ResourceSpec::builder().lifecycle_config_arn(&arn).build()).build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("CreateUserProfile");
    let (code, message) = error(client.delete_studio_lifecycle_config().studio_lifecycle_config_name("by-profile").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("user-profile/"), "{message}");

    let app_arn = create_config(&client, "by-app").await;
    eventually("profile InService", || async { (profile_status(&client, &domain, "ida").await.as_deref() == Some("InService")).then_some(()) }).await;
    client
        .create_app()
        .domain_id(&domain)
        .user_profile_name("ida")
        .app_type(AppType::JupyterLab)
        .app_name("lab")
        .resource_spec(ResourceSpec::builder().lifecycle_config_arn(&app_arn).build())
        .send()
        .await
        .expect("CreateApp");
    let (code, message) = error(client.delete_studio_lifecycle_config().studio_lifecycle_config_name("by-app").send().await);
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("app/"), "{message}");
}

#[tokio::test]
async fn configs_validate_name_content_and_app_type() {
    let Env { client, emulator: _emulator } = env().await;
    let (code, message) = error(
        client
            .create_studio_lifecycle_config()
            .studio_lifecycle_config_name("setup")
            .studio_lifecycle_config_content("a".repeat(16385))
            .studio_lifecycle_config_app_type(StudioLifecycleConfigAppType::JupyterLab)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.contains("'studioLifecycleConfigContent'") && message.contains("16384"), "{message}");

    let (code, message) = error(
        client
            .create_studio_lifecycle_config()
            .studio_lifecycle_config_name("bad_name")
            .studio_lifecycle_config_content("ZWNobw==")
            .studio_lifecycle_config_app_type("RStudio".into())
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.starts_with("2 validation errors detected"), "{message}");
    assert!(message.contains("'studioLifecycleConfigName'"), "{message}");
    assert!(message.contains("'studioLifecycleConfigAppType'") && message.contains("CodeEditor"), "{message}");

    create_config(&client, "dup").await;
    let (code, message) = error(
        client
            .create_studio_lifecycle_config()
            .studio_lifecycle_config_name("dup")
            .studio_lifecycle_config_content("ZWNobw==")
            .studio_lifecycle_config_app_type(StudioLifecycleConfigAppType::CodeEditor)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUse");
    assert!(message.contains("already exists"), "{message}");
}

#[tokio::test]
async fn list_configs_returns_all_across_pages_with_filters() {
    let Env { client, emulator } = env().await;
    for i in 0..5 {
        create_config(&client, &format!("cfg-{i}")).await;
    }
    create_config(&client, "other").await;
    let before = emulator.call_count("ListStudioLifecycleConfigs");
    let configs =
        client.list_studio_lifecycle_configs().name_contains("cfg-").into_paginator().items().send().try_collect().await.expect("ListStudioLifecycleConfigs");
    let names: Vec<&str> = configs.iter().filter_map(|c| c.studio_lifecycle_config_name()).collect();
    assert_eq!(names, ["cfg-0", "cfg-1", "cfg-2", "cfg-3", "cfg-4"]);
    assert_eq!(emulator.call_count("ListStudioLifecycleConfigs") - before, 3);

    let descending = client
        .list_studio_lifecycle_configs()
        .sort_by("Name".into())
        .sort_order("Descending".into())
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("ListStudioLifecycleConfigs");
    let names: Vec<&str> = descending.iter().filter_map(|c| c.studio_lifecycle_config_name()).collect();
    assert_eq!(names, ["other", "cfg-4", "cfg-3", "cfg-2", "cfg-1", "cfg-0"]);

    let first = client.list_studio_lifecycle_configs().max_results(1).send().await.expect("List");
    assert_eq!(first.studio_lifecycle_configs().len(), 1, "MaxResults below the page size wins");
    let (code, message) = error(client.list_studio_lifecycle_configs().next_token("garbage").send().await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("garbage"), "{message}");
}
