//! The whole local cloud in one value: SageMaker, IAM Identity Center, EC2/EFS, KMS, S3, Lambda
//! and a CloudFormation driver, wired so that deployed functions reach the emulators through the
//! standard AWS env, and so that SageMaker's domains make and remove what AWS makes for them.

use crate::REGION;
use crate::binaries::function_binary;
use crate::cloudformation::CloudFormation;
use crate::identity_center::IdentityCenter;
use crate::kms::{KeyRef, Kms};
use crate::lambda::{FunctionConfig, LambdaService};
use crate::network::{Direction, Network};
use crate::s3::S3Server;
use crate::stacks::{CloudFormationApi, Stacks};
use aws_sdk_sagemaker::config::{BehaviorVersion, Credentials, Region};
use sagemaker_emulator::{DomainHooks, Options, SageMakerEmulator};
use std::sync::Arc;
use std::time::Duration;

pub struct LocalCloud {
    pub sagemaker: SageMakerEmulator,
    /// sso-admin and identitystore.
    pub identity_center: IdentityCenter,
    /// EC2 security groups and EFS file systems.
    pub network: Network,
    /// HMAC keys for signed continuations (GenerateMac / VerifyMac).
    pub kms: Kms,
    /// The HMAC_256 key the functions sign continuations with (CONTINUATION_KMS_KEY_ID), made at start.
    pub continuation_key: KeyRef,
    pub s3: S3Server,
    pub lambda: LambdaService,
    /// Plays events for one stack ("local-stack").
    pub cfn: CloudFormation,
    /// What CloudFormation shows of every stack (DescribeStackResource, DescribeStacks).
    pub stacks: Stacks,
    pub cloudformation_api: CloudFormationApi,
}

impl LocalCloud {
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> std::io::Result<Self> {
        let (sagemaker, identity_center, network, kms, s3, lambda) = tokio::try_join!(
            SageMakerEmulator::start(options),
            IdentityCenter::start(),
            Network::start(),
            Kms::start(),
            S3Server::start(),
            LambdaService::start()
        )?;
        let continuation_key = kms.create_hmac_key("continuations of the studio-cfn functions");
        sagemaker.set_domain_hooks(Arc::new(DomainResources { identity_center: identity_center.clone(), network: network.clone() }));
        let stacks = Stacks::default();
        let cloudformation_api = CloudFormationApi::start(stacks.clone()).await?;
        let cfn = CloudFormation::in_stacks(&stacks, &lambda, &s3, "local-stack");
        Ok(Self { sagemaker, identity_center, network, kms, continuation_key, s3, lambda, cfn, stacks, cloudformation_api })
    }

    /// A driver for another stack of this cloud (its state is served like local-stack's).
    pub fn stack(&self, name: &str) -> CloudFormation {
        CloudFormation::in_stacks(&self.stacks, &self.lambda, &self.s3, name)
    }

    /// The environment a deployed function gets on top of Lambda's own.
    pub fn function_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SAGEMAKER".into(), self.sagemaker.endpoint()),
            ("AWS_ENDPOINT_URL_S3".into(), self.s3.endpoint()),
            ("AWS_ENDPOINT_URL_SSO_ADMIN".into(), self.identity_center.endpoint()),
            ("AWS_ENDPOINT_URL_IDENTITYSTORE".into(), self.identity_center.endpoint()),
            ("AWS_ENDPOINT_URL_EC2".into(), self.network.endpoint()),
            ("AWS_ENDPOINT_URL_EFS".into(), self.network.endpoint()),
            ("AWS_ENDPOINT_URL_CLOUDFORMATION".into(), self.cloudformation_api.endpoint()),
            ("AWS_ENDPOINT_URL_KMS".into(), self.kms.endpoint()),
            // As the template passes its HMAC key to the functions.
            ("CONTINUATION_KMS_KEY_ID".into(), self.continuation_key.arn.clone()),
            // The ResponseURLs point at the local S3 server (never set in the template).
            ("CFN_RESPONSE_URL_ALLOWED_HOSTS".into(), self.s3.endpoint().trim_start_matches("http://").to_string()),
            // As the template sets it for the lifecycle-config function.
            ("EXPECTED_BUCKET_OWNER".into(), crate::ACCOUNT_ID.into()),
            ("RUST_LOG".into(), "info".into()),
        ]
    }

    /// Deploy a workspace binary (or example) under its own name, as Lambda would run it.
    pub async fn deploy(&self, function: &str) -> std::io::Result<()> {
        self.deploy_with(function, Duration::from_secs(900), &[]).await
    }

    /// Deploy with a Lambda timeout and extra environment (applied last, so it can override).
    /// Each function signs its calls with its own name as access key id, so the emulators'
    /// records (`signed_calls`) tell which function called what.
    pub async fn deploy_with(&self, function: &str, timeout: Duration, env: &[(&str, &str)]) -> std::io::Result<()> {
        self.deploy_as(function, function, timeout, env).await
    }

    /// A second instance of `function`, named `<function>-twin`, as Lambda runs two deliveries
    /// of one event side by side; it signs as `function`. Returns the twin's name.
    pub async fn deploy_twin(&self, function: &str) -> std::io::Result<String> {
        let twin = format!("{function}-twin");
        self.deploy_as(&twin, function, Duration::from_secs(900), &[]).await?;
        Ok(twin)
    }

    /// `function`'s binary deployed under the name `name`.
    async fn deploy_as(&self, name: &str, function: &str, timeout: Duration, env: &[(&str, &str)]) -> std::io::Result<()> {
        let binary = tokio::task::spawn_blocking({
            let function = function.to_string();
            move || function_binary(&function)
        })
        .await
        .map_err(std::io::Error::other)?;
        let mut config = FunctionConfig::new(name, binary).timeout(timeout);
        for (name, value) in self.function_env() {
            config = config.env(name, value);
        }
        config = config.env("AWS_ACCESS_KEY_ID", function);
        for (name, value) in env {
            config = config.env(*name, *value);
        }
        self.lambda.deploy(config).await
    }

    /// An SDK client on the SageMaker emulator, to seed or inspect state as a user would.
    pub fn sagemaker_client(&self) -> aws_sdk_sagemaker::Client {
        let config = aws_sdk_sagemaker::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.sagemaker.endpoint())
            .credentials_provider(Credentials::new("test", "test", None, None, "local-cloud"))
            .build();
        aws_sdk_sagemaker::Client::from_conf(config)
    }
}

/// The NFS security groups SageMaker makes for a domain's home EFS, by DomainId:
/// `security-group-for-inbound-nfs-<DomainId>`, `security-group-for-outbound-nfs-<DomainId>`.
pub fn nfs_security_group_names(domain_id: &str) -> [String; 2] {
    [format!("security-group-for-inbound-nfs-{domain_id}"), format!("security-group-for-outbound-nfs-{domain_id}")]
}

/// What SageMaker makes outside itself for a domain, in the emulators that stand in for those
/// services (see background.md: the NFS groups outlive the domain).
struct DomainResources {
    identity_center: IdentityCenter,
    network: Network,
}

impl DomainHooks for DomainResources {
    fn create_sso_application(&self, domain_id: &str, domain_name: &str) -> Result<String, String> {
        if !self.identity_center.instance_enabled() {
            return Err("AuthMode SSO needs an IAM Identity Center instance in this account and region; none is enabled".into());
        }
        let description = format!("SageMaker Studio domain {domain_name} ({domain_id})");
        Ok(self.identity_center.create_application(&format!("SageMakerStudioDomain-{domain_id}"), &description))
    }

    /// The inbound group takes NFS from the outbound one, the outbound group sends NFS only to
    /// the inbound one; the mount targets' interfaces use the inbound group (the Studio apps'
    /// interfaces would use the outbound one).
    fn create_home_efs(&self, domain_id: &str, domain_arn: &str, vpc_id: &str, subnet_ids: &[String]) -> String {
        let [inbound_name, outbound_name] = nfs_security_group_names(domain_id);
        let describe = |way: &str| format!("[DO NOT DELETE] Security Group that allows {way} NFS traffic for SageMaker Notebooks Domain [{domain_id}]");
        let inbound = self.network.create_security_group(vpc_id, &inbound_name, &describe("inbound"));
        let outbound = self.network.create_security_group(vpc_id, &outbound_name, &describe("outbound"));
        self.network.clear_rules(&outbound, Direction::Egress);
        self.network.authorize_group(&inbound, Direction::Ingress, 2049, &outbound);
        self.network.authorize_group(&outbound, Direction::Egress, 2049, &inbound);
        let file_system = self.network.create_file_system(domain_id, None, &[("ManagedByAmazonSageMakerResource", domain_arn)]);
        for subnet in subnet_ids {
            self.network.create_mount_target(&file_system, vpc_id, subnet, std::slice::from_ref(&inbound));
        }
        file_system
    }

    fn domain_deleted(&self, sso_application_arn: Option<&str>, home_efs_id: &str, retain_efs: bool) {
        if let Some(arn) = sso_application_arn {
            self.identity_center.delete_application(arn);
        }
        // A domain without a home EFS (HomeEfsFileSystemCreation Disabled) names none.
        if !retain_efs && !home_efs_id.is_empty() {
            self.network.delete_file_system_later(home_efs_id);
        }
    }
}
