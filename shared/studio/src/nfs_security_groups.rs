//! The two security groups SageMaker makes for a domain's home EFS and leaves behind when the
//! domain is deleted (`security-group-for-inbound-nfs-<DomainId>`,
//! `security-group-for-outbound-nfs-<DomainId>`). Their rules name each other, so neither can
//! simply be deleted, and they keep the VPC from being deleted.
//!
//! Only groups with exactly these names in the domain's VPC are touched, and of their rules
//! only those naming the other group of the pair are revoked.

use aws_config::SdkConfig;
use aws_sdk_efs::types::LifeCycleState;
use std::sync::OnceLock;

use crate::ec2::{Ec2Client, Ec2Error, GroupRule, NetworkInterface, SecurityGroup};
use crate::error::{AwsError, AwsResult, Kind};
use tracing::info;

/// `[inbound, outbound]` group names of a domain.
pub fn names(domain_id: &str) -> [String; 2] {
    [format!("security-group-for-inbound-nfs-{domain_id}"), format!("security-group-for-outbound-nfs-{domain_id}")]
}

/// A group that could not be deleted because something still uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InUse {
    pub id: String,
    pub name: String,
    /// EC2's DependencyViolation message.
    pub message: String,
}

pub struct NfsSecurityGroups {
    ec2: Ec2Client,
    /// Built on first use (only a domain's teardown asks EFS).
    efs: OnceLock<aws_sdk_efs::Client>,
    config: SdkConfig,
}

impl NfsSecurityGroups {
    pub fn new(config: &SdkConfig) -> Result<Self, Ec2Error> {
        Ok(Self { ec2: Ec2Client::new(config)?, efs: OnceLock::new(), config: config.clone() })
    }

    fn efs(&self) -> &aws_sdk_efs::Client {
        self.efs.get_or_init(|| aws_sdk_efs::Client::new(&self.config))
    }

    /// What is left of a file system (it, or its mount targets, which EFS deletes first):
    /// None once it is gone.
    pub async fn file_system_left(&self, file_system_id: &str) -> Result<Option<String>, AwsError> {
        let described = self.efs().describe_file_systems().file_system_id(file_system_id).send().await.aws("DescribeFileSystems");
        let file_system = match described {
            Ok(out) => out.file_systems().first().cloned(),
            Err(e) if e.code() == Some("FileSystemNotFound") => None,
            Err(e) => return Err(e),
        };
        let Some(file_system) = file_system.filter(|f| f.life_cycle_state() != &LifeCycleState::Deleted) else {
            return Ok(None);
        };
        let targets = match self.efs().describe_mount_targets().file_system_id(file_system_id).send().await.aws("DescribeMountTargets") {
            Ok(out) => out.mount_targets().len(),
            Err(e) if e.code() == Some("FileSystemNotFound") => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(format!("home EFS file system {file_system_id} ({}, {targets} mount target(s))", file_system.life_cycle_state().as_str())))
    }

    /// One attempt: revoke the rules between the domain's two groups in `vpc_id`, then delete
    /// both. Groups already gone are fine; the groups still in use are returned.
    pub async fn remove(&self, vpc_id: &str, domain_id: &str) -> Result<Vec<InUse>, AwsError> {
        let names = names(domain_id);
        let groups: Vec<SecurityGroup> = self
            .ec2
            .describe_security_groups(vpc_id, &[&names[0], &names[1]])
            .await?
            .into_iter()
            // The filters already say so; a group outside them is never touched.
            .filter(|g| g.vpc_id == vpc_id && names.contains(&g.name))
            .collect();
        let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        let between = |rules: &[GroupRule]| -> Vec<GroupRule> { rules.iter().filter(|r| ids.contains(&r.group_id.as_str())).cloned().collect() };
        for group in &groups {
            gone_is_fine(self.ec2.revoke_ingress(&group.id, &between(&group.ingress)).await)?;
            gone_is_fine(self.ec2.revoke_egress(&group.id, &between(&group.egress)).await)?;
        }
        let mut in_use = Vec::new();
        for group in &groups {
            match self.ec2.delete_security_group(&group.id).await {
                Ok(()) => info!(GroupId = %group.id, GroupName = %group.name, "deleted the NFS security group"),
                Err(e) if e.kind() == Kind::NotFound => {}
                Err(e) if e.kind() == Kind::InUse => in_use.push(InUse { id: group.id.clone(), name: group.name.clone(), message: e.message().to_string() }),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(in_use)
    }

    /// The network interfaces that use a group: what keeps it in use.
    pub async fn users(&self, group_id: &str) -> Result<Vec<NetworkInterface>, AwsError> {
        Ok(self.ec2.network_interfaces_using(group_id).await?)
    }
}

fn gone_is_fine(result: Result<(), Ec2Error>) -> Result<(), AwsError> {
    match result {
        Err(e) if e.kind() != Kind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}
