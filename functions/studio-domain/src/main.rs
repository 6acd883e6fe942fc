//! studio-domain: a CloudFormation custom resource for a SageMaker Studio domain.
//!
//! Properties are CreateDomain's members (an AWS::SageMaker::Domain template works by changing
//! Type and adding ServiceToken), plus RetentionPolicy, ForceDelete, AllowReplacement,
//! DeleteNfsSecurityGroups, AllowedChildStacks, SingleSignOnUsers and SingleSignOnGroups.
//! PhysicalResourceId is the DomainId.

mod domain;
#[cfg(test)]
mod guard_tests;
mod properties;
mod settings;
mod sso;
mod teardown;

// One thread: the work is waiting on SageMaker, and Lambda gives small functions under one vCPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), custom_resource::BoxError> {
    custom_resource::run(|config| async move {
        let nfs = studio::nfs_security_groups::NfsSecurityGroups::new(&config).map_err(|e| format!("the EC2 client: {e}"))?;
        Ok(domain::StudioDomain::new(&studio::Clients::new(&config), nfs))
    })
    .await
}
