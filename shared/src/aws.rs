//! AWS clients from the standard environment, and Reasons built from AWS errors.

use crate::resource::Error;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sagemaker::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// The SDK's default of 3 attempts gives up under sustained throttling.
const MAX_ATTEMPTS: u32 = 10;

#[derive(Clone, Debug)]
pub struct Clients {
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
    /// For checking that an event is CloudFormation's own (verification.rs).
    pub cloudformation: aws_sdk_cloudformation::Client,
}

impl Clients {
    /// Honours AWS_REGION, credentials, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
    pub async fn from_env() -> Self {
        let config = load_config().await;
        let s3_config = aws_sdk_s3::config::Builder::from(&config).force_path_style(endpoint_override_for("S3"));
        Self {
            sagemaker: aws_sdk_sagemaker::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config.build()),
            lambda: aws_sdk_lambda::Client::new(&config),
            cloudformation: aws_sdk_cloudformation::Client::new(&config),
        }
    }
}

pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS).with_initial_backoff(Duration::from_millis(200)).with_max_backoff(Duration::from_secs(10)),
        )
        .load()
        .await
}

/// S3-compatible servers behind an endpoint override rarely do virtual-hosted buckets.
fn endpoint_override_for(service: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    set("AWS_ENDPOINT_URL") || set(&format!("AWS_ENDPOINT_URL_{service}"))
}

/// Error codes that mean "slow down and try again".
const THROTTLING_CODES: [&str; 6] =
    ["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "ProvisionedThroughputExceededException"];

/// The AWS error code, if the service answered with one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

pub fn error_message<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().message(),
        _ => None,
    }
}

/// "Operation: Code: message" from the error's metadata; `to_string()` would say only
/// "unhandled error (ValidationException)" for errors the API model does not list.
pub fn describe<E, R>(operation: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (error_code(err), error_message(err)) {
        (Some(code), Some(message)) => format!("{operation}: {code}: {message}"),
        (Some(code), None) => format!("{operation}: {code}"),
        _ => format!("{operation}: {}", DisplayErrorContext(err)),
    }
}

impl Error {
    /// A failed AWS call; throttling and transport failures are marked retryable.
    pub fn aws<E, R>(operation: &str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let retryable = match err {
            SdkError::ServiceError(_) => error_code(err).is_some_and(|c| THROTTLING_CODES.contains(&c)),
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
            _ => false,
        };
        Error { reason: describe(operation, err), physical_resource_id: None, retryable }
    }
}
