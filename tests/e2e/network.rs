//! The EC2 + EFS emulator, driven by the real SDK clients (EC2's query protocol and XML,
//! EFS's restJson).

use std::time::Duration;

use aws_sdk_ec2::error::ProvideErrorMetadata as _;
use aws_sdk_ec2::types::{Filter, IpPermission, UserIdGroupPair};
use local_cloud::network::{Direction, Network, UnknownRule};

fn ec2(network: &Network) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&local_cloud::sdk_config(&network.endpoint()))
}

fn efs(network: &Network) -> aws_sdk_efs::Client {
    aws_sdk_efs::Client::new(&local_cloud::sdk_config(&network.endpoint()))
}

fn filter(name: &str, values: &[&str]) -> Filter {
    values.iter().fold(Filter::builder().name(name), |f, v| f.values(*v)).build()
}

/// An NFS rule on port 2049 naming `peer`, as a revoke names it.
fn nfs_rule(peer: &str) -> IpPermission {
    IpPermission::builder().ip_protocol("tcp").from_port(2049).to_port(2049).user_id_group_pairs(UserIdGroupPair::builder().group_id(peer).build()).build()
}

/// Two groups referencing each other as SageMaker's NFS groups do: (inbound, outbound).
fn nfs_pair(network: &Network, vpc: &str, domain: &str) -> (String, String) {
    let inbound = network.create_security_group(vpc, &format!("security-group-for-inbound-nfs-{domain}"), "in");
    let outbound = network.create_security_group(vpc, &format!("security-group-for-outbound-nfs-{domain}"), "out");
    network.authorize_group(&inbound, Direction::Ingress, 2049, &outbound).expect("inbound rule");
    network.authorize_group(&outbound, Direction::Egress, 2049, &inbound).expect("outbound rule");
    (inbound, outbound)
}

#[tokio::test]
async fn describe_security_groups_filters_by_group_name_and_vpc_id() {
    let network = Network::start().await.unwrap();
    let (inbound, outbound) = nfs_pair(&network, "vpc-1", "d-abc");
    let decoy = network.create_security_group("vpc-1", "security-group-for-inbound-nfs-d-other", "decoy");
    let elsewhere = network.create_security_group("vpc-2", "security-group-for-inbound-nfs-d-abc", "other vpc");
    let client = ec2(&network);

    let names = ["security-group-for-inbound-nfs-d-abc", "security-group-for-outbound-nfs-d-abc"];
    let out = client
        .describe_security_groups()
        .filters(filter("vpc-id", &["vpc-1"]))
        .filters(filter("group-name", &names))
        .send()
        .await
        .expect("DescribeSecurityGroups");
    let mut found: Vec<&str> = out.security_groups().iter().filter_map(|g| g.group_id()).collect();
    found.sort();
    let mut expected = vec![inbound.as_str(), outbound.as_str()];
    expected.sort();
    assert_eq!(found, expected);
    let group = out.security_groups().iter().find(|g| g.group_id() == Some(inbound.as_str())).expect("inbound");
    assert_eq!(group.vpc_id(), Some("vpc-1"));
    assert_eq!(group.group_name(), Some(names[0]));
    // The references as the SDK parses them: inbound takes NFS from outbound, and back.
    let [permission] = group.ip_permissions() else { panic!("{group:?}") };
    assert_eq!((permission.ip_protocol(), permission.from_port(), permission.to_port()), (Some("tcp"), Some(2049), Some(2049)));
    let peers: Vec<Option<&str>> = permission.user_id_group_pairs().iter().map(|p| p.group_id()).collect();
    assert_eq!(peers, vec![Some(outbound.as_str())]);

    // EC2 filter values take wildcards: they catch the decoy too, never the other VPC's group.
    let out = client
        .describe_security_groups()
        .filters(filter("vpc-id", &["vpc-1"]))
        .filters(filter("group-name", &["security-group-for-*-nfs-*"]))
        .send()
        .await
        .expect("wildcards");
    let found: Vec<&str> = out.security_groups().iter().filter_map(|g| g.group_id()).collect();
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found.contains(&decoy.as_str()) && !found.contains(&elsewhere.as_str()));

    // Pages of 5 at most: the paginator follows NextToken.
    for i in 0..6 {
        network.create_security_group("vpc-3", &format!("g{i}"), "filler");
    }
    let pages: Vec<_> = client.describe_security_groups().filters(filter("vpc-id", &["vpc-3"])).into_paginator().send().collect::<Vec<_>>().await;
    assert_eq!(pages.len(), 2);
    let total: usize = pages.into_iter().map(|p| p.expect("page").security_groups().len()).sum();
    assert_eq!(total, 6);

    let err = client.describe_security_groups().group_ids("sg-0000").send().await.expect_err("unknown id");
    assert_eq!(err.code(), Some("InvalidGroup.NotFound"));
    let err = client.describe_security_groups().filters(filter("colour", &["red"])).send().await.expect_err("bad filter");
    assert_eq!(err.code(), Some("InvalidParameterValue"));
}

#[tokio::test]
async fn revoke_removes_exactly_the_referenced_rules() {
    let network = Network::start().await.unwrap();
    let (inbound, outbound) = nfs_pair(&network, "vpc-1", "d-abc");
    let client = ec2(&network);

    let out = client.revoke_security_group_ingress().group_id(&inbound).ip_permissions(nfs_rule(&outbound)).send().await.expect("revoke ingress");
    assert_eq!(out.r#return(), Some(true));
    assert!(out.unknown_ip_permissions().is_empty());
    let [revoked] = out.revoked_security_group_rules() else { panic!("{out:?}") };
    assert_eq!(revoked.referenced_group_id(), Some(outbound.as_str()));
    assert!(network.security_group(&inbound).expect("inbound").ingress.is_empty());
    // Its default egress rule is untouched.
    assert_eq!(network.security_group(&inbound).expect("inbound").egress.len(), 1);

    // A rule the group does not have: documented as success listing it, or an error if configured.
    let out = client.revoke_security_group_ingress().group_id(&inbound).ip_permissions(nfs_rule(&outbound)).send().await.expect("again");
    assert_eq!(out.unknown_ip_permissions().len(), 1);
    network.set_unknown_rule(UnknownRule::Error);
    let err = client.revoke_security_group_ingress().group_id(&inbound).ip_permissions(nfs_rule(&outbound)).send().await.expect_err("unknown rule");
    assert_eq!(err.code(), Some("InvalidPermission.NotFound"));

    // Egress by rule id: the NFS rule goes, the default rule stays.
    let egress = network.security_group(&outbound).expect("outbound").egress;
    let nfs = egress.iter().find(|r| r.from_port == 2049).expect("NFS egress rule").id.clone();
    let out = client.revoke_security_group_egress().group_id(&outbound).security_group_rule_ids(&nfs).send().await.expect("revoke egress");
    assert_eq!(out.revoked_security_group_rules().len(), 1);
    let left: Vec<String> = network.security_group(&outbound).expect("outbound").egress.into_iter().map(|r| r.id).collect();
    assert_eq!(left.len(), 1);
    assert!(!left.contains(&nfs));

    let err = client.revoke_security_group_egress().group_id("sg-0000").ip_permissions(nfs_rule(&inbound)).send().await.expect_err("no group");
    assert_eq!(err.code(), Some("InvalidGroup.NotFound"));
}

#[tokio::test]
async fn delete_security_group_is_a_dependency_violation_while_referenced_or_used() {
    let network = Network::start().await.unwrap();
    let (inbound, outbound) = nfs_pair(&network, "vpc-1", "d-abc");
    let client = ec2(&network);
    let delete = |id: &str| client.delete_security_group().group_id(id).send();

    for id in [&inbound, &outbound] {
        let err = delete(id).await.expect_err("referenced");
        assert_eq!(err.code(), Some("DependencyViolation"), "{id}");
        assert!(err.message().is_some_and(|m| m.contains(id.as_str())));
    }
    client.revoke_security_group_ingress().group_id(&inbound).ip_permissions(nfs_rule(&outbound)).send().await.expect("revoke");
    // Nothing references outbound now; inbound is still named by outbound's egress rule.
    let eni = network.create_network_interface("subnet-1", "a Studio app", std::slice::from_ref(&outbound));
    let err = delete(&outbound).await.expect_err("used by an interface");
    assert_eq!(err.code(), Some("DependencyViolation"));
    network.delete_network_interface(&eni);
    let out = delete(&outbound).await.expect("deletable");
    assert_eq!(out.group_id(), Some(outbound.as_str()));
    // Its own rules went with it: inbound is free too.
    delete(&inbound).await.expect("inbound deletable");
    assert!(network.security_groups().is_empty());
    let err = delete(&inbound).await.expect_err("gone");
    assert_eq!(err.code(), Some("InvalidGroup.NotFound"));
}

#[tokio::test]
async fn efs_describes_file_systems_and_mount_targets_and_deletes_mount_targets_first() {
    let network = Network::start().await.unwrap();
    let group = network.create_security_group("vpc-1", "security-group-for-inbound-nfs-d-abc", "in");
    let fs = network.create_file_system("d-abc", None, &[("ManagedByAmazonSageMakerResource", "arn:domain")]);
    let mounts: Vec<String> =
        ["subnet-1", "subnet-2"].iter().map(|s| network.create_mount_target(&fs, "vpc-1", s, std::slice::from_ref(&group)).expect("mount target")).collect();
    let client = efs(&network);

    let out = client.describe_file_systems().file_system_id(&fs).send().await.expect("DescribeFileSystems");
    let [described] = out.file_systems() else { panic!("{out:?}") };
    assert_eq!(described.life_cycle_state().as_str(), "available");
    assert_eq!(described.number_of_mount_targets(), 2);
    assert_eq!(described.tags()[0].value(), "arn:domain");
    let out = client.describe_mount_targets().file_system_id(&fs).send().await.expect("DescribeMountTargets");
    let described: Vec<&str> = out.mount_targets().iter().map(|m| m.mount_target_id()).collect();
    assert_eq!(described, mounts.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.mount_targets()[1].subnet_id(), "subnet-2");
    assert_eq!(out.mount_targets()[0].vpc_id(), Some("vpc-1"));
    // A mount target's interface uses the group.
    let err = ec2(&network).delete_security_group().group_id(&group).send().await.expect_err("in use");
    assert_eq!(err.code(), Some("DependencyViolation"));

    let err = client.describe_file_systems().file_system_id("fs-0000").send().await.expect_err("unknown");
    assert_eq!(err.code(), Some("FileSystemNotFound"));
    assert!(err.as_service_error().is_some_and(|e| e.is_file_system_not_found()));
    let err = client.describe_mount_targets().mount_target_id("fsmt-0000").send().await.expect_err("unknown");
    assert_eq!(err.code(), Some("MountTargetNotFound"));

    // Deletion: mount targets after one delay, then the file system after another.
    network.set_efs_delete_delay(Duration::from_secs(3600));
    network.delete_file_system_later(&fs);
    let out = client.describe_mount_targets().file_system_id(&fs).send().await.expect("deleting");
    assert!(out.mount_targets().iter().all(|m| m.life_cycle_state().as_str() == "deleting"), "{out:?}");
    assert_eq!(network.file_system_state(&fs), Some("available"), "mount targets go first");
    network.set_efs_delete_delay(Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(320)).await;
    let out = client.describe_mount_targets().file_system_id(&fs).send().await.expect("after one delay");
    assert!(out.mount_targets().is_empty());
    let out = client.describe_file_systems().file_system_id(&fs).send().await.expect("still there");
    assert_eq!(out.file_systems()[0].life_cycle_state().as_str(), "deleting");
    ec2(&network).delete_security_group().group_id(&group).send().await.expect("interfaces gone with the mount targets");
    tokio::time::sleep(Duration::from_millis(320)).await;
    let err = client.describe_file_systems().file_system_id(&fs).send().await.expect_err("gone");
    assert_eq!(err.code(), Some("FileSystemNotFound"));
    let out = client.describe_file_systems().send().await.expect("list all");
    assert!(out.file_systems().is_empty());
}

#[tokio::test]
async fn efs_listing_is_paged_with_markers() {
    let network = Network::start().await.unwrap();
    network.set_page_size(2);
    let created: Vec<String> = (0..3).map(|i| network.create_file_system(&format!("token-{i}"), Some("home"), &[])).collect();
    let pages: Vec<_> = efs(&network).describe_file_systems().into_paginator().send().collect::<Vec<_>>().await;
    assert_eq!(pages.len(), 2);
    let listed: Vec<String> = pages.into_iter().flat_map(|p| p.expect("page").file_systems().to_vec()).map(|f| f.file_system_id().to_string()).collect();
    assert_eq!(listed, created);
    let out = efs(&network).describe_file_systems().creation_token("token-1").send().await.expect("by token");
    assert_eq!(out.file_systems().len(), 1);
    assert_eq!(out.file_systems()[0].name(), Some("home"));
}

#[tokio::test]
async fn throttled_calls_are_retried_and_refusals_are_typed() {
    let network = Network::start().await.unwrap();
    let fs = network.create_file_system("t", None, &[]);

    // Three attempts by the SDK's standard retry: two throttled ones are retried away.
    network.throttle_next(2);
    ec2(&network).describe_security_groups().send().await.expect("EC2 retried");
    assert_eq!(network.call_count("DescribeSecurityGroups"), 3);
    network.throttle_next(2);
    efs(&network).describe_file_systems().file_system_id(&fs).send().await.expect("EFS retried");
    assert_eq!(network.call_count("DescribeFileSystems"), 3);

    network.throttle_next(3);
    let err = ec2(&network).describe_security_groups().send().await.expect_err("throttled");
    assert_eq!(err.code(), Some("RequestLimitExceeded"));
    network.throttle_next(3);
    let err = efs(&network).describe_mount_targets().file_system_id(&fs).send().await.expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"));

    let group = network.create_security_group("vpc-1", "g", "g");
    network.refuse_next("DeleteSecurityGroup", "DependencyViolation", "resource has a dependent object");
    let err = ec2(&network).delete_security_group().group_id(&group).send().await.expect_err("refused");
    assert_eq!(err.code(), Some("DependencyViolation"));
    network.refuse_next("DescribeFileSystems", "BadRequest", "no");
    let err = efs(&network).describe_file_systems().send().await.expect_err("refused");
    assert_eq!(err.code(), Some("BadRequest"));

    network.set_denied("DeleteSecurityGroup", true);
    let err = ec2(&network).delete_security_group().group_id(&group).send().await.expect_err("denied");
    assert_eq!(err.code(), Some("UnauthorizedOperation"));
    assert!(network.security_group(&group).is_some(), "a refused call has no effect");
}

#[tokio::test]
async fn describe_network_interfaces_says_what_uses_a_group() {
    let network = Network::start().await.unwrap();
    let (inbound, outbound) = nfs_pair(&network, "vpc-1", "d-abc");
    let fs = network.create_file_system("d-abc", None, &[]);
    let mount = network.create_mount_target(&fs, "vpc-1", "subnet-1", std::slice::from_ref(&inbound)).expect("mount target");
    let app = network.create_network_interface("subnet-2", "a Studio app", std::slice::from_ref(&outbound));
    let client = ec2(&network);

    let out = client.describe_network_interfaces().filters(filter("group-id", &[&inbound])).send().await.expect("DescribeNetworkInterfaces");
    let [interface] = out.network_interfaces() else { panic!("{out:?}") };
    assert_eq!(interface.description(), Some(format!("EFS mount target for {fs} ({mount})").as_str()));
    assert_eq!(interface.subnet_id(), Some("subnet-1"));
    let groups: Vec<Option<&str>> = interface.groups().iter().map(|g| g.group_name()).collect();
    assert_eq!(groups, vec![Some("security-group-for-inbound-nfs-d-abc")]);

    let out = client.describe_network_interfaces().filters(filter("group-id", &[&outbound])).send().await.expect("outbound");
    let ids: Vec<Option<&str>> = out.network_interfaces().iter().map(|i| i.network_interface_id()).collect();
    assert_eq!(ids, vec![Some(app.as_str())]);
    let out = client.describe_network_interfaces().filters(filter("group-id", &["sg-unused"])).send().await.expect("none");
    assert!(out.network_interfaces().is_empty());
    let err = client.describe_network_interfaces().filters(filter("colour", &["red"])).send().await.expect_err("bad filter");
    assert_eq!(err.code(), Some("InvalidParameterValue"));
}
