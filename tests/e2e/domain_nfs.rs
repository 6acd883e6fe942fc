//! studio-domain Delete and the NFS security groups SageMaker leaves in the VPC (issue 18): the
//! real binary under the Lambda emulator, against the SageMaker emulator whose CreateDomain
//! makes the home EFS, its mount targets and the two groups in the EC2/EFS emulator.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use local_cloud::cloud::{LocalCloud, nfs_security_group_names};
use local_cloud::cloudformation::{Response, Status};
use local_cloud::network::Direction;
use sagemaker_emulator::Options;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use studio::ec2::Ec2Client;

const FUNCTION: &str = "studio-domain";
const LOGICAL_ID: &str = "StudioDomain";
const VPC: &str = "vpc-0a1b2c3d";

async fn cloud() -> LocalCloud {
    let cloud = LocalCloud::start_with(Options { transition_delay: Duration::from_millis(100), ..Options::default() }).await.expect("local cloud");
    cloud.deploy_with(FUNCTION, Duration::from_secs(900), &[]).await.expect("deploy studio-domain");
    cloud
}

fn properties(name: &str, retention: &str) -> Value {
    json!({
        "DomainName": name,
        "AuthMode": "IAM",
        "VpcId": VPC,
        "SubnetIds": ["subnet-0a", "subnet-0b"],
        "AppNetworkAccessType": "VpcOnly",
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/studio-execution", "SecurityGroups": ["sg-0studio"]},
        "RetentionPolicy": {"HomeEfsFileSystem": retention}
    })
}

fn succeeded(response: &Response) -> String {
    assert_eq!(response.status, Status::Success, "{:?}", response.reason);
    response.reason.clone().unwrap_or_default()
}

/// A domain; returns its id and home EFS id.
async fn create(cloud: &LocalCloud, props: &Value) -> (String, String) {
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, props.clone()).await.expect("create response");
    succeeded(&r);
    let efs = r.data.get("HomeEfsFileSystemId").cloned().expect("HomeEfsFileSystemId");
    (r.physical_resource_id, efs)
}

async fn delete(cloud: &LocalCloud, id: &str, props: Value) -> String {
    let r = cloud.cfn.delete(FUNCTION, LOGICAL_ID, id, props).await.expect("delete response");
    succeeded(&r)
}

/// The ids of the domain's two groups that are still there.
fn nfs_groups(cloud: &LocalCloud, domain_id: &str) -> Vec<String> {
    nfs_security_group_names(domain_id).iter().filter_map(|name| cloud.network.security_group_named(VPC, name)).collect()
}

/// A pair like SageMaker's, for a domain that is not this one.
fn decoy_pair(cloud: &LocalCloud) -> Vec<String> {
    let [inbound_name, outbound_name] = nfs_security_group_names("d-other");
    let inbound = cloud.network.create_security_group(VPC, &inbound_name, "someone else's");
    let outbound = cloud.network.create_security_group(VPC, &outbound_name, "someone else's");
    cloud.network.authorize_group(&inbound, Direction::Ingress, 2049, &outbound).expect("rule");
    cloud.network.authorize_group(&outbound, Direction::Egress, 2049, &inbound).expect("rule");
    vec![inbound, outbound]
}

fn position(calls: &[String], operation: &str) -> usize {
    calls.iter().position(|c| c == operation).unwrap_or_else(|| panic!("no {operation} in {calls:?}"))
}

#[tokio::test]
async fn delete_with_retention_delete_removes_both_groups_after_the_efs_and_nothing_else() {
    let cloud = cloud().await;
    cloud.network.set_efs_delete_delay(Duration::from_secs(1));
    let props = properties("nfs-delete", "Delete");
    let (id, efs) = create(&cloud, &props).await;
    assert_eq!(nfs_groups(&cloud, &id).len(), 2);
    let decoy = decoy_pair(&cloud);
    // The same name in another VPC is not the domain's either.
    let elsewhere = cloud.network.create_security_group("vpc-elsewhere", &nfs_security_group_names(&id)[0], "another VPC");

    let reason = delete(&cloud, &id, props).await;
    assert!(nfs_groups(&cloud, &id).is_empty(), "{reason}");
    assert!(reason.contains("NFS security groups") && reason.contains("were deleted"), "{reason}");
    assert_eq!(cloud.network.file_system_state(&efs), None, "the home EFS is gone");
    for group in decoy.iter().chain([&elsewhere]) {
        let kept = cloud.network.security_group(group).expect("untouched group stays");
        assert!(kept.name.contains("d-other") || kept.vpc_id == "vpc-elsewhere");
    }
    assert_eq!(cloud.network.security_group(&decoy[0]).map(|g| g.ingress.len()), Some(1), "the decoy's rules stay");
    let calls = cloud.network.calls();
    // Waited for the EFS (gone after two 1 s steps) instead of running into DependencyViolation.
    assert!(position(&calls, "DescribeFileSystems") < position(&calls, "DeleteSecurityGroup"), "{calls:?}");
    assert_eq!(cloud.network.call_count("DeleteSecurityGroup"), 2, "{calls:?}");
    assert!(cloud.network.call_count("DescribeFileSystems") >= 2, "the EFS deletion was waited for: {calls:?}");
}

#[tokio::test]
async fn with_retain_or_delete_nfs_security_groups_false_the_groups_stay_and_the_reason_says_why() {
    let cloud = cloud().await;
    let retained = properties("nfs-retain", "Retain");
    let (id, efs) = create(&cloud, &retained).await;
    let reason = delete(&cloud, &id, retained).await;
    assert_eq!(nfs_groups(&cloud, &id).len(), 2);
    assert!(reason.contains(&format!("{efs} was retained")), "{reason}");
    assert!(reason.contains("security-group-for-inbound-nfs-") && reason.contains("retained home EFS file system uses them"), "{reason}");
    assert!(reason.contains("deleting it later frees them"), "{reason}");

    let mut off = properties("nfs-off", "Delete");
    off["DeleteNfsSecurityGroups"] = json!("false");
    let (id, _) = create(&cloud, &off).await;
    let reason = delete(&cloud, &id, off).await;
    assert_eq!(nfs_groups(&cloud, &id).len(), 2);
    assert!(reason.contains("DeleteNfsSecurityGroups is false"), "{reason}");
    for operation in ["DescribeSecurityGroups", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress", "DeleteSecurityGroup"] {
        assert_eq!(cloud.network.call_count(operation), 0, "{operation}");
    }
}

#[tokio::test]
async fn groups_already_gone_are_fine() {
    let cloud = cloud().await;
    cloud.network.set_efs_delete_delay(Duration::from_millis(50));
    let props = properties("nfs-gone", "Delete");
    let (id, efs) = create(&cloud, &props).await;
    // Someone removed the home EFS and then the groups by hand meanwhile.
    cloud.network.delete_file_system_later(&efs);
    while cloud.network.file_system_state(&efs).is_some() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ec2 = test_client(&cloud);
    let [inbound, outbound] = nfs_security_group_names(&id);
    let groups = ec2.describe_security_groups(VPC, &[&inbound, &outbound]).await.expect("describe");
    for group in &groups {
        ec2.revoke_ingress(&group.id, &group.ingress).await.expect("revoke");
        ec2.revoke_egress(&group.id, &group.egress).await.expect("revoke");
    }
    for group in &groups {
        ec2.delete_security_group(&group.id).await.expect("delete by hand");
    }
    assert!(nfs_groups(&cloud, &id).is_empty());
    let by_hand = cloud.network.call_count("DeleteSecurityGroup");
    let reason = delete(&cloud, &id, props).await;
    assert!(reason.contains("were deleted (or were gone already)"), "{reason}");
    assert_eq!(cloud.network.call_count("DeleteSecurityGroup"), by_hand, "nothing left to delete");
    assert!(cloud.network.call_count("DescribeSecurityGroups") > 1, "the function looked");
}

#[tokio::test]
async fn a_group_still_in_use_ends_in_success_naming_it_before_service_timeout() {
    let cloud = cloud().await;
    cloud.network.set_efs_delete_delay(Duration::from_millis(50));
    let mut props = properties("nfs-in-use", "Delete");
    let (id, _) = create(&cloud, &props).await;
    let outbound = cloud.network.security_group_named(VPC, &nfs_security_group_names(&id)[1]).expect("outbound group");
    let notebook = cloud.network.create_network_interface("subnet-0a", "someone's notebook instance", std::slice::from_ref(&outbound));

    props["ServiceTimeout"] = json!("30");
    let started = Instant::now();
    let reason = delete(&cloud, &id, props).await;
    assert!(started.elapsed() < Duration::from_secs(30), "answered within ServiceTimeout: {:?}", started.elapsed());
    assert!(started.elapsed() > Duration::from_secs(8), "waited for the group to become deletable: {:?}", started.elapsed());
    assert!(reason.contains(&format!("security-group-for-outbound-nfs-{id} ({outbound}) is still in use")), "{reason}");
    assert!(reason.contains(&notebook) && reason.contains("someone's notebook instance"), "{reason}");
    assert_eq!(nfs_groups(&cloud, &id), vec![outbound.clone()], "the inbound group went, the used one stayed");
    assert!(cloud.network.call_count("DeleteSecurityGroup") > 2, "retried while in use");
}

#[tokio::test]
async fn throttled_ec2_and_efs_calls_are_retried() {
    let cloud = cloud().await;
    cloud.network.set_efs_delete_delay(Duration::from_millis(200));
    let props = properties("nfs-throttled", "Delete");
    let (id, _) = create(&cloud, &props).await;
    let decoy = decoy_pair(&cloud);
    cloud.network.set_throttle_rate(0.4);
    let reason = delete(&cloud, &id, props).await;
    cloud.network.set_throttle_rate(0.0);
    assert!(reason.contains("were deleted"), "{reason}");
    assert!(nfs_groups(&cloud, &id).is_empty());
    assert!(decoy.iter().all(|g| cloud.network.security_group(g).is_some()));
}

#[tokio::test]
async fn a_refused_ec2_call_ends_in_success_naming_it() {
    let cloud = cloud().await;
    cloud.network.set_efs_delete_delay(Duration::from_millis(50));
    let props = properties("nfs-denied", "Delete");
    let (id, _) = create(&cloud, &props).await;
    cloud.network.set_denied("DeleteSecurityGroup", true);
    let reason = delete(&cloud, &id, props).await;
    assert!(reason.contains("were left in the VPC") && reason.contains("UnauthorizedOperation"), "{reason}");
    assert_eq!(nfs_groups(&cloud, &id).len(), 2);
}

fn test_client(cloud: &LocalCloud) -> Ec2Client {
    let credentials = Credentials::new("AKIDLOCAL", "secret", None, None, "test");
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    Ec2Client::new(&config).expect("client").with_endpoint(cloud.network.endpoint())
}
