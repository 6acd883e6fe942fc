//! The refusals SageMaker documents for CreateDomain, UpdateDomain, CreateUserProfile,
//! UpdateUserProfile, CreateSpace and UpdateSpace (`Refusal`): each refused by default, each
//! accepted once its knob turns it off; and HomeEfsFileSystemCreation.

use crate::common::*;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{
    AmazonQSettings, AppNetworkAccessType, AppSecurityGroupManagement, AppType, AuthMode, AutoMountHomeEfs, DefaultSpaceSettings, DomainSettings,
    DomainSettingsForUpdate, EbsStorageSettings, FeatureStatus, HomeEfsFileSystemCreation, RStudioServerProDomainSettings, SharingType, SpaceSettings,
    SpaceSharingSettings, SpaceStorageSettings, StudioWebPortal, UserSettings,
};
use sagemaker_emulator::{DomainHooks, Options, Refusal, SageMakerEmulator};
use std::sync::Arc;
use std::time::Duration;

const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/OtherExecution";

/// Sends a CreateDomain and waits until the domain is InService; returns its id.
async fn created(builder: aws_sdk_sagemaker::operation::create_domain::builders::CreateDomainFluentBuilder, client: &Client) -> String {
    let id = builder.send().await.expect("CreateDomain").domain_id().expect("DomainId").to_string();
    wait_domain(client, &id, "InService").await;
    id
}

/// Asserts a ValidationException whose message holds `says`.
fn refused<T: std::fmt::Debug, E: aws_sdk_sagemaker::error::ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    result: Result<T, aws_sdk_sagemaker::error::SdkError<E, R>>,
    says: &str,
) {
    let (code, message) = error(result);
    assert_eq!(code, "ValidationException", "{message}");
    assert!(message.contains(says), "{says:?} in {message}");
}

async fn space(client: &Client, domain: &str, name: &str, settings: SpaceSettings, sharing: SharingType, owner: &str) {
    create_space(client, domain, name, owner, sharing).space_settings(settings).send().await.expect("CreateSpace");
    space_in_service(client, domain, name).await;
}

fn ebs(size: i32) -> SpaceStorageSettings {
    SpaceStorageSettings::builder().ebs_storage_settings(EbsStorageSettings::builder().ebs_volume_size_in_gb(size).build()).build()
}

#[tokio::test]
async fn update_space_refuses_any_app_type_an_unchanged_one_too() {
    let Env { client, emulator } = env().await;
    let domain = domain(&client, "studio", AuthMode::Iam).await;
    profile(&client, &domain, "alice").await;
    let lab = SpaceSettings::builder().app_type(AppType::JupyterLab).space_storage_settings(ebs(5)).build();
    space(&client, &domain, "lab", lab, SharingType::Private, "alice").await;

    for app_type in [AppType::JupyterLab, AppType::CodeEditor] {
        let settings = SpaceSettings::builder().app_type(app_type).space_storage_settings(ebs(10)).build();
        refused(
            client.update_space().domain_id(&domain).space_name("lab").space_settings(settings).send().await,
            "Updating AppType for Space is not supported.",
        );
    }
    // The same change without AppType goes through.
    client
        .update_space()
        .domain_id(&domain)
        .space_name("lab")
        .space_settings(SpaceSettings::builder().space_storage_settings(ebs(10)).build())
        .send()
        .await
        .expect("UpdateSpace");
    eventually("space updated", || async {
        let out = client.describe_space().domain_id(&domain).space_name("lab").send().await.ok()?;
        let size = out.space_settings()?.space_storage_settings()?.ebs_storage_settings()?.ebs_volume_size_in_gb();
        (out.status().map(|s| s.as_str()) == Some("InService") && size == Some(10)).then_some(())
    })
    .await;

    emulator.set_refusal(Refusal::UpdateSpaceAppType, false);
    let settings = SpaceSettings::builder().app_type(AppType::JupyterLab).build();
    client.update_space().domain_id(&domain).space_name("lab").space_settings(settings).send().await.expect("accepted with the refusal off");
}

#[tokio::test]
async fn home_efs_disabled_makes_no_file_system_until_enabled_and_never_goes_back() {
    let Env { client, emulator } = env().await;
    let id = created(create_domain(&client, "no-efs").home_efs_file_system_creation(HomeEfsFileSystemCreation::Disabled), &client).await;
    let described = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    assert_eq!(described.home_efs_file_system_id(), None);
    assert_eq!(described.home_efs_file_system_creation(), Some(&HomeEfsFileSystemCreation::Disabled));
    assert_eq!(emulator.snapshot()["efs"], serde_json::json!({}), "no file system");
    client.update_domain().domain_id(&id).home_efs_file_system_creation(HomeEfsFileSystemCreation::Disabled).send().await.expect("Disabled stays Disabled");
    wait_domain(&client, &id, "InService").await;

    // Disabled -> Enabled provisions the EFS.
    client.update_domain().domain_id(&id).home_efs_file_system_creation(HomeEfsFileSystemCreation::Enabled).send().await.expect("enable");
    wait_domain(&client, &id, "InService").await;
    let described = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    let efs = described.home_efs_file_system_id().expect("a home EFS now").to_string();
    assert_eq!(described.home_efs_file_system_creation(), Some(&HomeEfsFileSystemCreation::Enabled));
    assert_eq!(emulator.snapshot()["efs"][&efs], "Available");

    // Enabled -> Disabled is refused, for this domain as for one created with the default.
    refused(
        client.update_domain().domain_id(&id).home_efs_file_system_creation(HomeEfsFileSystemCreation::Disabled).send().await,
        "cannot be changed from Enabled to Disabled",
    );
    let default = created(create_domain(&client, "default-efs"), &client).await;
    refused(
        client.update_domain().domain_id(&default).home_efs_file_system_creation(HomeEfsFileSystemCreation::Disabled).send().await,
        "cannot be changed from Enabled to Disabled",
    );

    emulator.set_refusal(Refusal::DisableHomeEfs, false);
    client.update_domain().domain_id(&id).home_efs_file_system_creation(HomeEfsFileSystemCreation::Disabled).send().await.expect("off: accepted");
    wait_domain(&client, &id, "InService").await;
    let described = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    assert_eq!(described.home_efs_file_system_id(), Some(efs.as_str()), "the EFS stays");
}

#[tokio::test]
async fn update_domain_keeps_the_domains_vpc() {
    let Env { client, emulator } = env().await;
    let id = created(create_domain(&client, "studio"), &client).await;
    refused(client.update_domain().domain_id(&id).vpc_id("vpc-0def").send().await, "VpcId of domain");
    client.update_domain().domain_id(&id).vpc_id("vpc-0abc").send().await.expect("the same VpcId");
    wait_domain(&client, &id, "InService").await;
    emulator.set_refusal(Refusal::VpcIdFixed, false);
    client.update_domain().domain_id(&id).vpc_id("vpc-0def").send().await.expect("off: accepted");
}

#[tokio::test]
async fn rstudio_needs_service_security_groups_in_vpc_only_and_fixes_the_network() {
    let Env { client, emulator } = env().await;
    let rstudio = || {
        DomainSettings::builder().r_studio_server_pro_domain_settings(RStudioServerProDomainSettings::builder().domain_execution_role_arn(ROLE).build()).build()
    };
    let vpc_only = |name: &str| create_domain(&client, name).app_network_access_type(AppNetworkAccessType::VpcOnly).domain_settings(rstudio());
    refused(vpc_only("rstudio").send().await, "AppSecurityGroupManagement must be Service");
    refused(vpc_only("rstudio").app_security_group_management(AppSecurityGroupManagement::Customer).send().await, "must be Service");
    let id = created(vpc_only("rstudio").app_security_group_management(AppSecurityGroupManagement::Service), &client).await;
    // Without RStudio, or outside VpcOnly, any management is accepted.
    created(create_domain(&client, "public").domain_settings(rstudio()), &client).await;

    refused(
        client.update_domain().domain_id(&id).app_network_access_type(AppNetworkAccessType::PublicInternetOnly).send().await,
        "DomainExecutionRoleArn is set or provided",
    );
    emulator.set_refusal(Refusal::RStudioNetworkAccess, false);
    client.update_domain().domain_id(&id).app_network_access_type(AppNetworkAccessType::PublicInternetOnly).send().await.expect("off: accepted");
    emulator.set_refusal(Refusal::RStudioSecurityGroupManagement, false);
    created(vpc_only("rstudio-customer").app_security_group_management(AppSecurityGroupManagement::Customer), &client).await;
}

#[tokio::test]
async fn amazon_q_can_be_enabled_only_in_an_sso_domain() {
    let Env { client, emulator } = env().await;
    let q = |status: FeatureStatus| DomainSettings::builder().amazon_q_settings(AmazonQSettings::builder().status(status).build()).build();
    refused(create_domain(&client, "iam-q").domain_settings(q(FeatureStatus::Enabled)).send().await, "AuthMode is SSO");
    let iam = created(create_domain(&client, "iam-no-q").domain_settings(q(FeatureStatus::Disabled)), &client).await;
    created(create_domain(&client, "sso-q").auth_mode(AuthMode::Sso).domain_settings(q(FeatureStatus::Enabled)), &client).await;
    let enable = DomainSettingsForUpdate::builder().amazon_q_settings(AmazonQSettings::builder().status(FeatureStatus::Enabled).build()).build();
    refused(client.update_domain().domain_id(&iam).domain_settings_for_update(enable.clone()).send().await, "AuthMode is SSO");
    emulator.set_refusal(Refusal::AmazonQNeedsSso, false);
    client.update_domain().domain_id(&iam).domain_settings_for_update(enable).send().await.expect("off: accepted");
}

#[tokio::test]
async fn user_settings_keep_the_documented_combinations() {
    let Env { client, emulator } = env().await;
    let landing = |portal: StudioWebPortal| UserSettings::builder().execution_role(ROLE).default_landing_uri("studio::").studio_web_portal(portal).build();
    refused(create_domain(&client, "landing").default_user_settings(landing(StudioWebPortal::Disabled)).send().await, "studio:: can only be passed");
    let classic = UserSettings::builder().execution_role(ROLE).studio_web_portal(StudioWebPortal::Disabled).build();
    let id = created(create_domain(&client, "classic").default_user_settings(classic), &client).await;
    profile(&client, &id, "alice").await;
    // The profile falls back on the domain's StudioWebPortal DISABLED.
    let studio = UserSettings::builder().default_landing_uri("studio::").build();
    refused(client.update_user_profile().domain_id(&id).user_profile_name("alice").user_settings(studio.clone()).send().await, "studio::");
    client
        .update_user_profile()
        .domain_id(&id)
        .user_profile_name("alice")
        .user_settings(landing(StudioWebPortal::Enabled))
        .send()
        .await
        .expect("studio:: with StudioWebPortal ENABLED in the same settings");

    let mount = UserSettings::builder().execution_role(ROLE).auto_mount_home_efs(AutoMountHomeEfs::DefaultAsDomain).build();
    refused(create_domain(&client, "mount").default_user_settings(mount.clone()).send().await, "only supported for user profiles");
    client.create_user_profile().domain_id(&id).user_profile_name("bob").user_settings(mount.clone()).send().await.expect("a profile may use DefaultAsDomain");

    let groups = |n: usize| UserSettings::builder().set_security_groups(Some((0..n).map(|i| format!("sg-{i}")).collect())).build();
    refused(client.create_user_profile().domain_id(&id).user_profile_name("carol").user_settings(groups(5)).send().await, "at most 4");
    client.create_user_profile().domain_id(&id).user_profile_name("carol").user_settings(groups(4)).send().await.expect("4 groups");

    for refusal in [Refusal::StudioLandingNeedsWebPortal, Refusal::DefaultAsDomainOnlyForProfiles, Refusal::SecurityGroupsLeaveRoomForNfs] {
        emulator.set_refusal(refusal, false);
    }
    create_domain(&client, "landing").default_user_settings(landing(StudioWebPortal::Disabled)).send().await.expect("off: accepted");
    create_domain(&client, "mount").default_user_settings(mount).send().await.expect("off: accepted");
    client.create_user_profile().domain_id(&id).user_profile_name("dan").user_settings(groups(5)).send().await.expect("off: accepted");
}

#[tokio::test]
async fn default_execution_roles_change_only_while_no_app_of_theirs_runs() {
    let Env { client, emulator } = env().await;
    let id = created(create_domain(&client, "roles").default_space_settings(DefaultSpaceSettings::builder().execution_role(ROLE).build()), &client).await;
    profile(&client, &id, "alice").await;
    space(&client, &id, "mine", SpaceSettings::builder().app_type(AppType::JupyterLab).build(), SharingType::Private, "alice").await;
    space(&client, &id, "team", SpaceSettings::builder().app_type(AppType::CodeEditor).build(), SharingType::Shared, "alice").await;
    hold(&emulator);
    client.create_app().domain_id(&id).space_name("mine").app_type(AppType::JupyterLab).app_name("default").send().await.expect("CreateApp");

    // A private space's app blocks neither role; the role that stays the same blocks nothing.
    let new_user_role = UserSettings::builder().execution_role(OTHER_ROLE).build();
    client
        .update_domain()
        .domain_id(&id)
        .default_space_settings(DefaultSpaceSettings::builder().execution_role(OTHER_ROLE).build())
        .send()
        .await
        .expect("no shared space app runs");
    release(&emulator);
    wait_domain(&client, &id, "InService").await;
    hold(&emulator);
    client.create_app().domain_id(&id).user_profile_name("alice").app_type(AppType::JupyterServer).app_name("default").send().await.expect("CreateApp");
    client.create_app().domain_id(&id).space_name("team").app_type(AppType::CodeEditor).app_name("default").send().await.expect("CreateApp");
    refused(client.update_domain().domain_id(&id).default_user_settings(new_user_role.clone()).send().await, "alice/JupyterServer/default");
    refused(
        client.update_domain().domain_id(&id).default_space_settings(DefaultSpaceSettings::builder().execution_role(ROLE).build()).send().await,
        "team/CodeEditor/default",
    );
    client.update_domain().domain_id(&id).default_user_settings(UserSettings::builder().execution_role(ROLE).build()).send().await.expect("unchanged role");
    release(&emulator);
    wait_domain(&client, &id, "InService").await;

    emulator.set_refusal(Refusal::ExecutionRoleWhileAppsRun, false);
    client.update_domain().domain_id(&id).default_user_settings(new_user_role).send().await.expect("off: accepted");
}

/// A directory with one user, "ann".
struct Directory;

impl DomainHooks for Directory {
    fn create_sso_application(&self, domain_id: &str, _: &str) -> Result<String, String> {
        Ok(format!("arn:aws:sso::123456789012:application/ssoins-1/apl-{domain_id}"))
    }

    fn create_home_efs(&self, domain_id: &str, _: &str, _: &str, _: &[String]) -> String {
        format!("fs-{domain_id}")
    }

    fn domain_deleted(&self, _: Option<&str>, _: Option<&str>, _: bool) {}

    fn sso_user_exists(&self, user_name: &str) -> bool {
        user_name == "ann"
    }
}

#[tokio::test]
async fn an_sso_profile_names_a_user_of_the_directory() {
    let emulator = SageMakerEmulator::start(Options { transition_delay: Duration::from_millis(50), ..Options::default() }).await.expect("emulator starts");
    emulator.set_domain_hooks(Arc::new(Directory));
    let client = crate::common::client(&emulator.endpoint(), aws_config::retry::RetryConfig::disabled()).await;
    let domain = domain(&client, "sso", AuthMode::Sso).await;
    let sso_profile = |name: &str, user: &str| {
        client.create_user_profile().domain_id(&domain).user_profile_name(name).single_sign_on_user_identifier("UserName").single_sign_on_user_value(user)
    };
    refused(sso_profile("bob", "bob").send().await, "not a user name in the IAM Identity Center directory");
    sso_profile("ann", "ann").send().await.expect("a user of the directory");
    emulator.set_refusal(Refusal::SsoUserMustExist, false);
    sso_profile("bob", "bob").send().await.expect("off: accepted");
}

#[tokio::test]
async fn the_refusals_modelled_before_can_be_turned_off_too() {
    let emulator = SageMakerEmulator::start(Options {
        transition_delay: Duration::from_millis(50),
        relaxed: [
            Refusal::VpcOnlyNeedsNetwork,
            Refusal::PrivateSpaceNeedsOwner,
            Refusal::EbsOnlyGrows,
            Refusal::SsoIdentifiers,
            Refusal::VpcOnlyProfileSecurityGroups,
        ]
        .into(),
        ..Options::default()
    })
    .await
    .expect("emulator starts");
    let client = crate::common::client(&emulator.endpoint(), aws_config::retry::RetryConfig::disabled()).await;
    let id = created(create_domain(&client, "relaxed"), &client).await;
    client.update_domain().domain_id(&id).app_network_access_type(AppNetworkAccessType::VpcOnly).send().await.expect("VpcOnly without the network");
    wait_domain(&client, &id, "InService").await;
    client
        .create_space()
        .domain_id(&id)
        .space_name("nobodys")
        .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(SharingType::Private).build())
        .space_settings(SpaceSettings::builder().space_storage_settings(ebs(10)).build())
        .send()
        .await
        .expect("Private without an owner");
    space_in_service(&client, &id, "nobodys").await;
    let smaller = SpaceSettings::builder().space_storage_settings(ebs(5)).build();
    client.update_space().domain_id(&id).space_name("nobodys").space_settings(smaller).send().await.expect("a smaller EBS volume");
    client
        .create_user_profile()
        .domain_id(&id)
        .user_profile_name("x")
        .single_sign_on_user_value("x")
        .send()
        .await
        .expect("SSO members in an IAM domain, and no SecurityGroups in a VpcOnly one");
}
