//! studio-space: a CloudFormation custom resource for a SageMaker Studio space, shared or private.

mod properties;
mod resource;

// One thread: the work is waiting on SageMaker, and Lambda gives small functions under one vCPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), custom_resource::BoxError> {
    custom_resource::run(|config| async move { Ok::<_, String>(resource::Space::new(studio::Clients::new(&config).sagemaker)) }).await
}
