//! studio-user-profile: a CloudFormation custom resource for a SageMaker Studio user profile,
//! in IAM and IAM Identity Center (SSO) domains.

mod cleanup;
mod properties;
mod resource;

// One thread: the work is waiting on SageMaker, and Lambda gives small functions under one vCPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::BoxError> {
    shared::run(|clients: shared::Clients| async move { Ok::<_, String>(resource::UserProfile::new(clients.sagemaker)) }).await
}
