//! What a SageMaker domain makes outside SageMaker in the local cloud: its Identity Center
//! application (SSO), its home EFS with mount targets, and the two NFS security groups.

use std::time::Duration;

use aws_sdk_ec2::error::ProvideErrorMetadata as _;
use aws_sdk_sagemaker::types::{AuthMode, HomeEfsFileSystemCreation, RetentionPolicy, RetentionType, UserSettings};
use local_cloud::cloud::{LocalCloud, nfs_security_group_names};
use sagemaker_emulator::Options;

const ROLE: &str = "arn:aws:iam::123456789012:role/studio";

async fn cloud() -> LocalCloud {
    let options = Options { transition_delay: Duration::ZERO, ..Options::default() };
    LocalCloud::start_with(options).await.unwrap()
}

fn sso_admin(cloud: &LocalCloud) -> aws_sdk_ssoadmin::Client {
    aws_sdk_ssoadmin::Client::new(&local_cloud::sdk_config(&cloud.identity_center.endpoint()))
}

fn ec2(cloud: &LocalCloud) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&local_cloud::sdk_config(&cloud.network.endpoint()))
}

/// A CreateDomain in vpc-1 with two subnets.
fn create_domain(cloud: &LocalCloud, name: &str, auth: AuthMode) -> aws_sdk_sagemaker::operation::create_domain::builders::CreateDomainFluentBuilder {
    cloud
        .sagemaker_client()
        .create_domain()
        .domain_name(name)
        .auth_mode(auth)
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .subnet_ids("subnet-1")
        .subnet_ids("subnet-2")
        .vpc_id("vpc-1")
}

/// Creates a domain in vpc-1 with two subnets; returns its id.
async fn domain(cloud: &LocalCloud, name: &str, auth: AuthMode) -> String {
    let out = create_domain(cloud, name, auth).send().await.expect("CreateDomain");
    out.domain_id().expect("DomainId").to_string()
}

async fn delete_domain(cloud: &LocalCloud, id: &str, retention: RetentionType) {
    let sagemaker = cloud.sagemaker_client();
    let policy = RetentionPolicy::builder().home_efs_file_system(retention).build();
    sagemaker.delete_domain().domain_id(id).retention_policy(policy).send().await.expect("DeleteDomain");
    // The emulator notices the finished delete on the next call.
    let err = sagemaker.describe_domain().domain_id(id).send().await.expect_err("gone");
    assert_eq!(aws_sdk_sagemaker::error::ProvideErrorMetadata::code(&err), Some("ResourceNotFound"));
}

#[tokio::test]
async fn an_sso_domain_names_an_application_of_the_identity_center_that_goes_with_it() {
    let cloud = cloud().await;
    let id = domain(&cloud, "sso", AuthMode::Sso).await;
    let described = cloud.sagemaker_client().describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    let application = described.single_sign_on_application_arn().expect("SingleSignOnApplicationArn").to_string();
    let out = sso_admin(&cloud).describe_application().application_arn(&application).send().await.expect("DescribeApplication");
    assert_eq!(out.instance_arn(), Some(cloud.identity_center.instance_arn().as_str()));

    let iam = domain(&cloud, "iam", AuthMode::Iam).await;
    let described = cloud.sagemaker_client().describe_domain().domain_id(&iam).send().await.expect("DescribeDomain");
    assert_eq!(described.single_sign_on_application_arn(), None);

    delete_domain(&cloud, &id, RetentionType::Retain).await;
    let err = sso_admin(&cloud).describe_application().application_arn(&application).send().await.expect_err("gone");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn without_an_identity_center_instance_sso_domains_are_refused() {
    let cloud = cloud().await;
    cloud.identity_center.set_instance_enabled(false);
    let out = sso_admin(&cloud).list_instances().send().await.expect("ListInstances");
    assert!(out.instances().is_empty());
    let err = cloud
        .sagemaker_client()
        .create_domain()
        .domain_name("sso")
        .auth_mode(AuthMode::Sso)
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .subnet_ids("subnet-1")
        .vpc_id("vpc-1")
        .send()
        .await
        .expect_err("no instance");
    assert_eq!(aws_sdk_sagemaker::error::ProvideErrorMetadata::code(&err), Some("ValidationException"));
    assert!(cloud.network.security_groups().is_empty(), "nothing made");
    assert_eq!(cloud.sagemaker.snapshot()["domains"].as_array().map(Vec::len), Some(0));
    domain(&cloud, "iam", AuthMode::Iam).await;
}

#[tokio::test]
async fn create_domain_makes_the_home_efs_a_mount_target_per_subnet_and_the_nfs_groups() {
    let cloud = cloud().await;
    let id = domain(&cloud, "studio", AuthMode::Iam).await;
    let described = cloud.sagemaker_client().describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    let fs = described.home_efs_file_system_id().expect("HomeEfsFileSystemId").to_string();
    assert_eq!(cloud.network.file_system_state(&fs), Some("available"));
    assert_eq!(cloud.network.mount_targets(&fs).len(), 2);

    let [inbound_name, outbound_name] = nfs_security_group_names(&id);
    let inbound = cloud.network.security_group_named("vpc-1", &inbound_name).expect("inbound group");
    let outbound = cloud.network.security_group_named("vpc-1", &outbound_name).expect("outbound group");
    let groups = ec2(&cloud).describe_security_groups().group_ids(&inbound).group_ids(&outbound).send().await.expect("DescribeSecurityGroups");
    let inbound_group = groups.security_groups().iter().find(|g| g.group_id() == Some(inbound.as_str())).expect("inbound");
    let outbound_group = groups.security_groups().iter().find(|g| g.group_id() == Some(outbound.as_str())).expect("outbound");
    let peers = |permissions: &[aws_sdk_ec2::types::IpPermission]| -> Vec<String> {
        permissions.iter().flat_map(|p| p.user_id_group_pairs()).filter_map(|p| p.group_id().map(str::to_string)).collect()
    };
    assert_eq!(peers(inbound_group.ip_permissions()), vec![outbound.clone()]);
    assert_eq!(peers(outbound_group.ip_permissions_egress()), vec![inbound.clone()]);
    assert_eq!(cloud.network.interfaces_using(&inbound).len(), 2, "one interface per mount target");
    // SageMaker tags both groups with the domain's ARN (template.yaml's NfsSecurityGroupsDelete
    // allows deleting only groups tagged so).
    let domain_arn = described.domain_arn().expect("DomainArn");
    for group in [inbound_group, outbound_group] {
        let tags: Vec<(&str, &str)> = group.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())).collect();
        assert_eq!(tags, vec![("ManagedByAmazonSageMakerResource", domain_arn)], "{:?}", group.group_name());
    }

    // Referencing each other and in use: neither can be deleted as they are.
    for group in [&inbound, &outbound] {
        let err = ec2(&cloud).delete_security_group().group_id(group).send().await.expect_err("dependent");
        assert_eq!(err.code(), Some("DependencyViolation"));
    }
}

#[tokio::test]
async fn a_domain_without_home_efs_has_no_file_system_nor_nfs_groups_until_it_is_enabled() {
    let cloud = cloud().await;
    let sagemaker = cloud.sagemaker_client();
    let disabled = create_domain(&cloud, "no-efs", AuthMode::Iam).home_efs_file_system_creation(HomeEfsFileSystemCreation::Disabled);
    let id = disabled.send().await.expect("CreateDomain").domain_id().expect("DomainId").to_string();
    let described = sagemaker.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    assert_eq!(described.home_efs_file_system_id(), None);
    assert!(cloud.network.security_groups().is_empty(), "no NFS security groups");
    assert_eq!(cloud.sagemaker.snapshot()["efs"], serde_json::json!({}), "no home EFS");

    sagemaker.update_domain().domain_id(&id).home_efs_file_system_creation(HomeEfsFileSystemCreation::Enabled).send().await.expect("UpdateDomain");
    let described = sagemaker.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
    let fs = described.home_efs_file_system_id().expect("the home EFS, made on demand").to_string();
    assert_eq!(cloud.network.file_system_state(&fs), Some("available"));
    assert_eq!(cloud.network.mount_targets(&fs).len(), 2, "a mount target per subnet");
    for name in nfs_security_group_names(&id) {
        assert!(cloud.network.security_group_named("vpc-1", &name).is_some(), "{name}");
    }
}

#[tokio::test]
async fn delete_domain_with_delete_removes_the_efs_after_the_delay_and_retain_keeps_it() {
    let cloud = cloud().await;
    let deleted = domain(&cloud, "deleted", AuthMode::Iam).await;
    let retained = domain(&cloud, "retained", AuthMode::Iam).await;
    let home = |id: &str| {
        let snapshot = cloud.sagemaker.snapshot();
        let domains = snapshot["domains"].as_array().cloned().unwrap_or_default();
        domains.iter().find(|d| d["DomainId"] == id).and_then(|d| d["HomeEfsFileSystemId"].as_str().map(str::to_string)).expect("home EFS")
    };
    let (deleted_fs, retained_fs) = (home(&deleted), home(&retained));
    cloud.network.set_efs_delete_delay(Duration::from_millis(400));

    delete_domain(&cloud, &deleted, RetentionType::Delete).await;
    delete_domain(&cloud, &retained, RetentionType::Retain).await;
    // Not yet: the mount targets go first, then the file system.
    assert_eq!(cloud.network.file_system_state(&deleted_fs), Some("available"));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(cloud.network.file_system_state(&deleted_fs), None);
    assert!(cloud.network.mount_targets(&deleted_fs).is_empty());
    assert_eq!(cloud.network.file_system_state(&retained_fs), Some("available"));
    assert_eq!(cloud.network.mount_targets(&retained_fs).len(), 2);

    // The groups stay either way: SageMaker leaves them behind.
    for id in [&deleted, &retained] {
        for name in nfs_security_group_names(id) {
            assert!(cloud.network.security_group_named("vpc-1", &name).is_some(), "{name}");
        }
    }
    let [inbound_name, _] = nfs_security_group_names(&deleted);
    let inbound = cloud.network.security_group_named("vpc-1", &inbound_name).expect("inbound");
    assert!(cloud.network.interfaces_using(&inbound).is_empty(), "the mount targets' interfaces are gone");
}

#[tokio::test]
async fn deployed_functions_get_the_identity_center_and_network_endpoints() {
    let cloud = cloud().await;
    let env = cloud.function_env();
    let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(get("AWS_ENDPOINT_URL_SSO_ADMIN"), Some(cloud.identity_center.endpoint()));
    assert_eq!(get("AWS_ENDPOINT_URL_IDENTITYSTORE"), Some(cloud.identity_center.endpoint()));
    assert_eq!(get("AWS_ENDPOINT_URL_EC2"), Some(cloud.network.endpoint()));
    assert_eq!(get("AWS_ENDPOINT_URL_EFS"), Some(cloud.network.endpoint()));
}
