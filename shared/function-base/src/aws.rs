//! The AWS configuration from the standard environment, and Reasons built from AWS errors' metadata.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::time::Duration;

/// The SDK's default of 3 attempts gives up under sustained throttling.
const MAX_ATTEMPTS: u32 = 10;

/// Honours AWS_REGION, credentials, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>;
/// standard retries, 10 attempts (AWS_MAX_ATTEMPTS, the SDKs' standard variable, sets another
/// number: the local cloud's tests of the functions' own patience set it low). Every client
/// made from it shares one HTTP client ([`crate::http`]); the TLS roots are read meanwhile.
pub async fn load_config() -> SdkConfig {
    crate::http::warm_up_roots();
    let attempts = std::env::var("AWS_MAX_ATTEMPTS").ok().and_then(|v| v.parse::<u32>().ok()).filter(|n| *n >= 1).unwrap_or(MAX_ATTEMPTS);
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::http::sdk_client())
        .retry_config(
            RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(100)).with_max_backoff(Duration::from_secs(10)),
        )
        .load()
        .await
}

/// Whether AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<service> overrides the service's endpoint.
pub fn endpoint_override_for(service: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    set("AWS_ENDPOINT_URL") || set(&format!("AWS_ENDPOINT_URL_{service}"))
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
