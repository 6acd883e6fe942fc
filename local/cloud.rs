//! The whole local cloud in one value: SageMaker, S3, Lambda and a CloudFormation driver,
//! wired so that deployed functions reach the emulators through the standard AWS env.

use crate::REGION;
use crate::binaries::function_binary;
use crate::cloudformation::CloudFormation;
use crate::lambda::{FunctionConfig, LambdaService};
use crate::s3::S3Server;
use aws_sdk_sagemaker::config::{BehaviorVersion, Credentials, Region};
use sagemaker_emulator::{Options, SageMakerEmulator};
use std::time::Duration;

pub struct LocalCloud {
    pub sagemaker: SageMakerEmulator,
    pub s3: S3Server,
    pub lambda: LambdaService,
    /// Plays events for one stack ("local-stack").
    pub cfn: CloudFormation,
}

impl LocalCloud {
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> std::io::Result<Self> {
        let (sagemaker, s3, lambda) = tokio::try_join!(SageMakerEmulator::start(options), S3Server::start(), LambdaService::start())?;
        let cfn = CloudFormation::new(&lambda, &s3, "local-stack");
        Ok(Self { sagemaker, s3, lambda, cfn })
    }

    /// The environment a deployed function gets on top of Lambda's own.
    pub fn function_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SAGEMAKER".into(), self.sagemaker.endpoint()),
            ("AWS_ENDPOINT_URL_S3".into(), self.s3.endpoint()),
            ("RUST_LOG".into(), "info".into()),
        ]
    }

    /// Deploy a workspace binary (or example) under its own name, as Lambda would run it.
    pub async fn deploy(&self, function: &str) -> std::io::Result<()> {
        self.deploy_with(function, Duration::from_secs(900), &[]).await
    }

    /// Deploy with a Lambda timeout and extra environment (applied last, so it can override).
    pub async fn deploy_with(&self, function: &str, timeout: Duration, env: &[(&str, &str)]) -> std::io::Result<()> {
        let binary = tokio::task::spawn_blocking({
            let function = function.to_string();
            move || function_binary(&function)
        })
        .await
        .map_err(std::io::Error::other)?;
        let mut config = FunctionConfig::new(function, binary).timeout(timeout);
        for (name, value) in self.function_env() {
            config = config.env(name, value);
        }
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
