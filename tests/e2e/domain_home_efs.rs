//! HomeEfsFileSystemCreation (issue 24), end to end: a domain without a home EFS (teams whose
//! home directories live on their own EFS/FSx, or nowhere), turned on in place, never off. The
//! SageMaker emulator does as the service does: a Disabled domain gets no EFS and no NFS security
//! groups (DescribeDomain names no HomeEfsFileSystemId), UpdateDomain Disabled -> Enabled makes
//! them, Enabled -> Disabled is refused.

use crate::domain::{cloud, domain, failed, succeeded, with};
use local_cloud::cloud::nfs_security_group_names;
use serde_json::{Value, json};

const FUNCTION: &str = "studio-domain";
const LOGICAL_ID: &str = "StudioDomain";
const VPC: &str = "vpc-0a1b2c3d";

fn properties(name: &str, creation: Option<&str>) -> Value {
    let mut props = json!({
        "DomainName": name,
        "AuthMode": "IAM",
        "VpcId": VPC,
        "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/studio-execution"},
    });
    if let Some(creation) = creation {
        props["HomeEfsFileSystemCreation"] = json!(creation);
    }
    props
}

#[tokio::test]
async fn a_domain_without_a_home_efs_is_created_then_given_one_in_place() {
    let cloud = cloud().await;
    let disabled = properties("no-home", Some("Disabled"));
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, disabled.clone()).await.unwrap();
    succeeded(&r);
    let id = r.physical_resource_id.clone();
    assert_eq!(domain(&cloud, &id).unwrap()["HomeEfsFileSystemCreation"], "Disabled", "CreateDomain carried it");
    assert!(!r.data.contains_key("HomeEfsFileSystemId"), "no home EFS, no attribute: {:?}", r.data);

    let enabled = properties("no-home", Some("Enabled"));
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, enabled, disabled).await.unwrap();
    succeeded(&r);
    assert_eq!(r.physical_resource_id, id, "in place");
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 1);
    let updated = domain(&cloud, &id).unwrap();
    assert_eq!(updated["HomeEfsFileSystemCreation"], "Enabled");
    let efs = r.data.get("HomeEfsFileSystemId").cloned().unwrap_or_default();
    assert!(efs.starts_with("fs-") && updated["HomeEfsFileSystemId"] == efs.as_str(), "Data names the new home EFS: {:?}", r.data);
}

#[tokio::test]
async fn turning_the_home_efs_off_fails_before_any_call_unless_a_new_domain_is_allowed() {
    let cloud = cloud().await;
    let on = properties("homes", None);
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, on.clone()).await.unwrap();
    succeeded(&r);
    let id = r.physical_resource_id.clone();

    let calls = cloud.sagemaker.total_calls();
    let off = properties("homes", Some("Disabled"));
    let reason = failed(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, off.clone(), on.clone()).await.unwrap());
    for expected in ["changing HomeEfsFileSystemCreation needs a new domain", "AllowReplacement: true"] {
        assert!(reason.contains(expected), "{expected:?} in {reason}");
    }
    assert_eq!(cloud.sagemaker.total_calls(), calls, "no call: {:?}", &cloud.sagemaker.calls()[calls..]);

    // Allowed, under the same DomainName: both domains would exist until the cleanup.
    let reason = failed(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, with(off.clone(), "AllowReplacement", json!(true)), on.clone()).await.unwrap());
    assert!(reason.contains("DomainName") && reason.contains("new DomainName"), "{reason}");
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), 1);

    // Allowed, with a new name: a new domain without a home EFS replaces it.
    let replacing = with(with(properties("homes-v2", Some("Disabled")), "AllowReplacement", json!(true)), "ForceDelete", json!(false));
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, replacing, on).await.unwrap();
    succeeded(&r);
    assert_ne!(r.physical_resource_id, id, "replaced");
    assert_eq!(domain(&cloud, &r.physical_resource_id).unwrap()["HomeEfsFileSystemCreation"], "Disabled");
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 0);
}

#[tokio::test]
async fn a_domain_without_a_home_efs_is_deleted_without_looking_for_one() {
    let cloud = cloud().await;
    let props = with(properties("no-home", Some("Disabled")), "RetentionPolicy", json!({"HomeEfsFileSystem": "Delete"}));
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, props.clone()).await.unwrap();
    succeeded(&r);
    let id = r.physical_resource_id;
    assert!(nfs_security_group_names(&id).iter().all(|name| cloud.network.security_group_named(VPC, name).is_none()), "SageMaker made none");
    let network_calls = cloud.network.calls().len();

    let reason = succeeded(&cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, props).await.unwrap());
    assert!(domain(&cloud, &id).is_none());
    assert!(reason.contains("it had no home EFS file system (HomeEfsFileSystemCreation: Disabled)"), "{reason}");
    assert_eq!(cloud.network.calls()[network_calls..], [] as [String; 0], "no EFS waited for, no NFS security group looked for");
}

/// The emulator refuses what SageMaker refuses: a home EFS turned off.
#[tokio::test]
async fn sagemaker_refuses_turning_a_home_efs_off() {
    let cloud = cloud().await;
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, properties("homes", None)).await.unwrap();
    succeeded(&r);
    let e = cloud
        .sagemaker_client()
        .update_domain()
        .domain_id(&r.physical_resource_id)
        .home_efs_file_system_creation(aws_sdk_sagemaker::types::HomeEfsFileSystemCreation::Disabled)
        .send()
        .await
        .expect_err("refused");
    let e = e.into_service_error();
    assert_eq!(aws_sdk_sagemaker::error::ProvideErrorMetadata::code(&e), Some("ValidationException"), "{e:?}");
    assert_eq!(domain(&cloud, &r.physical_resource_id).unwrap()["HomeEfsFileSystemCreation"], json!(null), "unchanged: {e:?}");
}
