//! The Studio layer's small EC2 client (SigV4 over reqwest) against the EC2 emulator: the calls that clean up a
//! domain's NFS security groups.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use local_cloud::network::{Direction, Network};
use studio::ec2::{Ec2Client, GroupRule};

fn client(network: &Network) -> Ec2Client {
    let credentials = Credentials::new("AKIDLOCAL", "secret", Some("session-token".into()), None, "test");
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    Ec2Client::new(&config).expect("client").with_endpoint(network.endpoint())
}

fn nfs_pair(network: &Network, vpc: &str, domain: &str) -> (String, String) {
    let inbound = network.create_security_group(vpc, &format!("security-group-for-inbound-nfs-{domain}"), "in");
    let outbound = network.create_security_group(vpc, &format!("security-group-for-outbound-nfs-{domain}"), "out");
    network.authorize_group(&inbound, Direction::Ingress, 2049, &outbound).expect("rule");
    network.authorize_group(&outbound, Direction::Egress, 2049, &inbound).expect("rule");
    (inbound, outbound)
}

#[tokio::test]
async fn finds_revokes_and_deletes_the_named_groups_and_nothing_else() {
    let network = Network::start().await.unwrap();
    network.set_page_size(1);
    let (inbound, outbound) = nfs_pair(&network, "vpc-1", "d-abc");
    let (decoy_in, decoy_out) = nfs_pair(&network, "vpc-1", "d-other");
    let other_vpc = network.create_security_group("vpc-2", "security-group-for-inbound-nfs-d-abc", "elsewhere");
    let ec2 = client(&network);

    let names = ["security-group-for-inbound-nfs-d-abc", "security-group-for-outbound-nfs-d-abc"];
    let mut groups = ec2.describe_security_groups("vpc-1", &names).await.expect("describe");
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), vec![inbound.as_str(), outbound.as_str()]);
    assert_eq!(network.call_count("DescribeSecurityGroups"), 2, "pages of one, followed");
    // Signed with SigV4 for EC2 in the region, the session token sent along.
    let (authorization, token) = network.last_signature();
    let authorization = authorization.expect("Authorization header");
    assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDLOCAL/"), "{authorization}");
    assert!(authorization.contains("/us-east-1/ec2/aws4_request"), "{authorization}");
    assert!(authorization.contains("SignedHeaders=") && authorization.contains("Signature="), "{authorization}");
    assert_eq!(token.as_deref(), Some("session-token"));
    let rule = GroupRule { protocol: "tcp".into(), from_port: Some(2049), to_port: Some(2049), group_id: outbound.clone() };
    assert_eq!(groups[0].ingress, vec![rule]);
    assert_eq!(groups[1].egress.len(), 1, "{:?}", groups[1]);
    assert_eq!(groups[1].egress[0].group_id, inbound);

    let err = ec2.delete_security_group(&inbound).await.expect_err("referenced");
    assert_eq!(err.code(), "DependencyViolation");
    assert!(err.message().contains(&inbound), "{err}");
    assert!(ec2.network_interfaces_using(&inbound).await.expect("interfaces").is_empty());

    for group in &groups {
        ec2.revoke_ingress(&group.id, &group.ingress).await.expect("revoke ingress");
        ec2.revoke_egress(&group.id, &group.egress).await.expect("revoke egress");
    }
    for group in &groups {
        ec2.delete_security_group(&group.id).await.expect("delete");
    }
    let left: Vec<String> = network.security_groups().into_iter().map(|g| g.id).collect();
    let mut expected = vec![decoy_in, decoy_out, other_vpc];
    expected.sort();
    let mut left_sorted = left.clone();
    left_sorted.sort();
    assert_eq!(left_sorted, expected);

    assert!(ec2.describe_security_groups("vpc-1", &names).await.expect("none left").is_empty());
    let err = ec2.delete_security_group(&inbound).await.expect_err("gone");
    assert_eq!(err.code(), "InvalidGroup.NotFound");
    let err = ec2.describe_security_groups("vpc-1", &["security-group-for-*"]).await.expect_err("wildcard");
    assert_eq!(err.code(), "InvalidParameterValue");
}

#[tokio::test]
async fn throttling_is_retried_and_other_errors_are_not() {
    let network = Network::start().await.unwrap();
    let ec2 = client(&network);
    network.throttle_next(3);
    ec2.describe_security_groups("vpc-1", &["g"]).await.expect("retried");
    assert_eq!(network.call_count("DescribeSecurityGroups"), 4);

    network.throttle_next(10);
    let err = ec2.describe_security_groups("vpc-1", &["g"]).await.expect_err("gives up");
    assert_eq!(err.code(), "RequestLimitExceeded");
    assert_eq!(network.call_count("DescribeSecurityGroups"), 9, "5 attempts");
    network.throttle_next(0);

    network.set_denied("DeleteSecurityGroup", true);
    let err = ec2.delete_security_group("sg-1").await.expect_err("denied");
    assert_eq!(err.code(), "UnauthorizedOperation");
    assert_eq!(network.call_count("DeleteSecurityGroup"), 1, "not retried");
}

#[tokio::test]
async fn names_the_network_interfaces_that_keep_a_group_in_use() {
    let network = Network::start().await.unwrap();
    let (inbound, _) = nfs_pair(&network, "vpc-1", "d-abc");
    let fs = network.create_file_system("d-abc", None, &[]);
    let mount = network.create_mount_target(&fs, "vpc-1", "subnet-1", std::slice::from_ref(&inbound)).expect("mount target");
    let interfaces = client(&network).network_interfaces_using(&inbound).await.expect("interfaces");
    let [interface] = interfaces.as_slice() else { panic!("{interfaces:?}") };
    assert!(interface.id.starts_with("eni-"));
    assert_eq!(interface.description, format!("EFS mount target for {fs} ({mount})"));
}
