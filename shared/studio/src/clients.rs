//! The SageMaker, S3 and IAM Identity Center clients, from the AWS configuration the core loaded.

use aws_config::SdkConfig;

#[derive(Clone, Debug)]
pub struct Clients {
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub s3: aws_sdk_s3::Client,
    pub identity_center: crate::IdentityCenter,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        // S3-compatible servers behind an endpoint override rarely do virtual-hosted buckets.
        let path_style = function_base::aws::endpoint_override_for("S3");
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build();
        Self { sagemaker: aws_sdk_sagemaker::Client::new(config), s3: aws_sdk_s3::Client::from_conf(s3), identity_center: crate::IdentityCenter::new(config) }
    }
}
