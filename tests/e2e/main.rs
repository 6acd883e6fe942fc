//! The end-to-end tests: the real function binaries under the local cloud (Lambda Runtime API,
//! CloudFormation, SageMaker, IAM Identity Center, EC2/EFS, KMS and S3 emulators), one module
//! per function plus the protocol, the local cloud's own emulators and the deploy path. One
//! binary, so the AWS SDKs are linked once.

mod core_protocol;
mod demo;
mod deployment_zips;
mod domain;
mod domain_adoption;
mod domain_home_efs;
mod domain_nfs;
mod domain_records;
mod domain_resources;
mod ec2_nfs_client;
mod forged_events;
mod iam;
mod identity_center;
mod kms;
mod lifecycle_config;
mod local_cloud;
mod moto;
mod network;
mod refusals;
mod signin_url;
mod space;
mod sso;
mod user_profile;
