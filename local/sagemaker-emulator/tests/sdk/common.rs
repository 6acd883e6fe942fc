//! Shared set-up: an emulator with short transitions and a real SDK client pointed at it.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::config::{Credentials, Region};
use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::operation::create_domain::builders::CreateDomainFluentBuilder;
use aws_sdk_sagemaker::operation::create_space::builders::CreateSpaceFluentBuilder;
use aws_sdk_sagemaker::types::{AuthMode, OwnershipSettings, SharingType, SpaceSharingSettings, UserSettings};
use sagemaker_emulator::{Options, SageMakerEmulator};
use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/SageMakerExecution";

pub struct Env {
    pub emulator: SageMakerEmulator,
    pub client: Client,
}

/// Emulator with 50 ms transitions (pages of 2) and a client that never retries.
pub async fn env() -> Env {
    let emulator = SageMakerEmulator::start(Options { transition_delay: Duration::from_millis(50), ..Options::default() }).await.expect("emulator starts");
    let client = client(&emulator.endpoint(), RetryConfig::disabled()).await;
    Env { emulator, client }
}

pub async fn client(endpoint: &str, retry: RetryConfig) -> Client {
    signed_client(endpoint, retry, "test").await
}

/// A client that never retries, signing with `access_key`.
pub async fn client_as(endpoint: &str, access_key: &str) -> Client {
    signed_client(endpoint, RetryConfig::disabled(), access_key).await
}

async fn signed_client(endpoint: &str, retry: RetryConfig, access_key: &str) -> Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(access_key, "test", None, None, "test"))
        .retry_config(retry)
        .load()
        .await;
    Client::new(&config)
}

/// The error code and message of a failed call; panics if the call succeeded.
pub fn error<T: Debug, E: ProvideErrorMetadata + Debug, R: Debug>(result: Result<T, SdkError<E, R>>) -> (String, String) {
    let err = result.expect_err("the call should fail");
    let service = err.as_service_error().unwrap_or_else(|| panic!("not a service error: {err:?}"));
    (service.code().unwrap_or_default().to_string(), service.message().unwrap_or_default().to_string())
}

/// Polls `probe` until it returns Some, for at most 5 s.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The domain's status, or None once DescribeDomain says ResourceNotFound.
pub async fn domain_status(client: &Client, id: &str) -> Option<String> {
    match client.describe_domain().domain_id(id).send().await {
        Ok(out) => Some(out.status().map(|s| s.as_str().to_string()).unwrap_or_default()),
        Err(err) if err.code() == Some("ResourceNotFound") => None,
        Err(err) => panic!("DescribeDomain failed: {err:?}"),
    }
}

pub async fn wait_domain(client: &Client, id: &str, status: &str) {
    eventually(&format!("domain {id} {status}"), || async { (domain_status(client, id).await.as_deref() == Some(status)).then_some(()) }).await
}

/// A CreateDomain of an IAM domain in vpc-0abc, for a test to add members to.
pub fn create_domain(client: &Client, name: &str) -> CreateDomainFluentBuilder {
    client
        .create_domain()
        .domain_name(name)
        .auth_mode(AuthMode::Iam)
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .subnet_ids("subnet-0abc")
        .vpc_id("vpc-0abc")
}

/// Creates a domain and waits until it is InService; returns its id.
pub async fn domain(client: &Client, name: &str, auth: AuthMode) -> String {
    let out = create_domain(client, name).auth_mode(auth).send().await.expect("CreateDomain");
    let id = out.domain_id().expect("DomainId").to_string();
    wait_domain(client, &id, "InService").await;
    id
}

pub async fn profile_status(client: &Client, domain: &str, name: &str) -> Option<String> {
    match client.describe_user_profile().domain_id(domain).user_profile_name(name).send().await {
        Ok(out) => Some(out.status().map(|s| s.as_str().to_string()).unwrap_or_default()),
        Err(err) if err.code() == Some("ResourceNotFound") => None,
        Err(err) => panic!("DescribeUserProfile failed: {err:?}"),
    }
}

/// Creates a user profile in an IAM domain and waits until it is InService.
pub async fn profile(client: &Client, domain: &str, name: &str) {
    client.create_user_profile().domain_id(domain).user_profile_name(name).send().await.expect("CreateUserProfile");
    eventually(&format!("profile {name} InService"), || async { (profile_status(client, domain, name).await.as_deref() == Some("InService")).then_some(()) })
        .await
}

/// Holds every transition, in progress or new, in its transitional status (Pending, Updating,
/// Deleting), so tests can observe it however slow the machine is.
pub fn hold(emulator: &SageMakerEmulator) {
    emulator.set_transition_delay(Duration::from_secs(3600));
}

/// Lets every transition finish at the next read.
pub fn release(emulator: &SageMakerEmulator) {
    emulator.set_transition_delay(Duration::ZERO);
}

/// A CreateSpace owned by `owner`, shared or private.
pub fn create_space(client: &Client, domain: &str, name: &str, owner: &str, sharing: SharingType) -> CreateSpaceFluentBuilder {
    client
        .create_space()
        .domain_id(domain)
        .space_name(name)
        .ownership_settings(OwnershipSettings::builder().owner_user_profile_name(owner).build())
        .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(sharing).build())
}

/// Waits until a space is InService.
pub async fn space_in_service(client: &Client, domain: &str, name: &str) {
    eventually(&format!("space {name} InService"), || async {
        let out = client.describe_space().domain_id(domain).space_name(name).send().await.ok()?;
        (out.status().map(|s| s.as_str()) == Some("InService")).then_some(())
    })
    .await
}
