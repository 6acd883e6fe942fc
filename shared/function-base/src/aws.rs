//! The AWS configuration from the standard environment, and Reasons built from AWS errors' metadata.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::time::Duration;

/// The SDK's default of 3 attempts gives up under sustained throttling.
const MAX_ATTEMPTS: u32 = 10;

/// Honours AWS_REGION, credentials, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>;
/// standard retries, 10 attempts (AWS_MAX_ATTEMPTS, the SDKs' standard variable, sets another
/// number: the local cloud's tests of the functions' own patience set it low). Every client
/// made from it shares one HTTP client ([`crate::http`]), whose TLS roots
/// the warm-up thread reads ([`crate::warm_up`]).
pub async fn load_config() -> SdkConfig {
    let attempts = std::env::var("AWS_MAX_ATTEMPTS").ok().and_then(|v| v.parse::<u32>().ok()).filter(|n| *n >= 1).unwrap_or(MAX_ATTEMPTS);
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(crate::http::sdk_client()).retry_config(
        RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(100)).with_max_backoff(Duration::from_secs(10)),
    );
    // Lambda gives the region and the role's credentials in the environment, where the default
    // chains look first. Naming them skips building the rest of each chain at every cold start
    // (profile files, web identity with its STS client, the container and IMDS clients); the
    // chains stay for wherever the environment does not hold them.
    if let Some(region) = set("AWS_REGION") {
        loader = loader.region(Region::new(region));
    }
    if set("AWS_ACCESS_KEY_ID").is_some() && set("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

/// A variable's value, unless it is unset or empty.
fn set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<service> overrides the service's endpoint.
pub fn endpoint_override_for(service: &str) -> bool {
    set("AWS_ENDPOINT_URL").is_some() || set(&format!("AWS_ENDPOINT_URL_{service}")).is_some()
}

/// "Operation: Code: message" from the error's metadata; `to_string()` would say only
/// "unhandled error (ValidationException)" for errors the API model does not list.
pub fn describe<E, R>(operation: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let metadata = match err {
        SdkError::ServiceError(e) => Some((e.err().code(), e.err().message())),
        _ => None,
    };
    match metadata {
        Some((Some(code), Some(message))) => format!("{operation}: {code}: {message}"),
        Some((Some(code), None)) => format!("{operation}: {code}"),
        _ => format!("{operation}: {}", DisplayErrorContext(err)),
    }
}
