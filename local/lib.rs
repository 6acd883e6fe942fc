//! The local cloud: emulators and drivers that run the Lambda functions as real processes
//! against local services on 127.0.0.1. The AWS API emulators are built on `emulator-kit`
//! (one serving style, call log and fault vocabulary).

pub mod binaries;
pub mod cloud;
pub mod cloudformation;
pub mod demo;
pub mod identity_center;
pub mod kms;
pub mod lambda;
pub mod network;
pub mod s3;
pub mod seed;
pub mod stacks;

pub use emulator_kit::ids::uuid_v4;
pub use emulator_kit::{Emulator, Outage};
pub(crate) use emulator_kit::{http as httpd, lock};

/// The account and region every local ARN uses.
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The one SDK configuration for a client of a local emulator: this Region, static test
/// credentials (`access_key`: emulators with key policies tell callers apart by it), and the
/// emulator's endpoint. Every SDK client takes it: `aws_sdk_x::Client::new(&sdk_config(..))`.
pub fn sdk_config_as(endpoint: &str, access_key: &str) -> aws_config::SdkConfig {
    use aws_config::{BehaviorVersion, Region};
    let credentials = aws_credential_types::Credentials::new(access_key, "test", None, None, "local-cloud");
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
        .build()
}

/// [`sdk_config_as`] with the access key `test`.
pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    sdk_config_as(endpoint, "test")
}
