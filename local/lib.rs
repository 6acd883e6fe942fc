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
