//! The SageMaker, S3 and IAM Identity Center clients, from the AWS configuration the core loaded.

use aws_config::SdkConfig;

/// SageMaker, which every function calls, is built at once; the others when a function asks
/// for them (each SDK client costs init time, and most functions need neither).
#[derive(Clone, Debug)]
pub struct Clients {
    pub sagemaker: aws_sdk_sagemaker::Client,
    /// Its clients are built on first use.
    pub identity_center: crate::IdentityCenter,
    config: SdkConfig,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        Self { sagemaker: aws_sdk_sagemaker::Client::new(config), identity_center: crate::IdentityCenter::new(config), config: config.clone() }
    }

    /// A new S3 client.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        // S3-compatible servers behind an endpoint override rarely do virtual-hosted buckets.
        let path_style = function_base::aws::endpoint_override_for("S3");
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&self.config).force_path_style(path_style).build())
    }
}
