//! studio-user-profile: a CloudFormation custom resource for a SageMaker Studio user profile,
//! in IAM and IAM Identity Center (SSO) domains.

mod cleanup;
mod properties;
mod resource;

#[tokio::main]
async fn main() -> Result<(), shared::BoxError> {
    shared::run(|clients: shared::Clients| async move { Ok::<_, String>(resource::UserProfile::new(clients.sagemaker)) }).await
}
