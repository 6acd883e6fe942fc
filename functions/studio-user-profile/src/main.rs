//! studio-user-profile: a CloudFormation custom resource for a SageMaker Studio user profile,
//! in IAM and IAM Identity Center (SSO) domains.

mod properties;
mod resource;

// One thread: the work is waiting on SageMaker, and Lambda gives small functions under one vCPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), custom_resource::BoxError> {
    custom_resource::run(|config| async move { Ok::<_, String>(resource::UserProfile::new(&studio::Clients::new(&config))) }).await
}
