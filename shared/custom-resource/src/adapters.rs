//! The real outbound adapters: reqwest for the response PUT, and Lambda, KMS and
//! CloudFormation through the AWS SDK (AWS_ENDPOINT_URL_<SERVICE> honoured).

use crate::clock::SystemClock;
use crate::outbound::{
    InvokeError, KEY_ENV, MacError, MacSigner, Ports, ResourceState, ResponseTransport, SelfInvoker, StackState, StackStateError, TransportError,
};
use crate::responder::redact;
use async_trait::async_trait;
use aws_sdk_kms::types::MacAlgorithmSpec;
use aws_sdk_lambda::primitives::Blob;
use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use function_base::aws::describe;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use url::Url;

impl Ports {
    /// The real adapters, from the AWS configuration of the standard environment.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self {
            clock: Arc::new(SystemClock),
            responses: Arc::new(HttpResponses::new()),
            invoker: Arc::new(LambdaInvoker::from_env(config)),
            signer: Arc::new(KmsSigner::from_env(config)),
            stacks: Arc::new(CloudFormationState::new(config)),
        }
    }
}

/// Lambda refuses asynchronous payloads over 256 KiB.
pub const MAX_INVOKE_PAYLOAD_BYTES: usize = 256 * 1024;

/// The SDK's HTTP stack ([`function_base::http`]) without proxies or redirects: a ResponseURL
/// is used exactly as allowed. The connector is built at the first response, when the TLS
/// roots are read already (building it at init would wait for them).
#[derive(Default)]
pub struct HttpResponses {
    connector: OnceLock<SharedHttpConnector>,
}

impl HttpResponses {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ResponseTransport for HttpResponses {
    async fn put(&self, url: &Url, body: &[u8], timeout: Duration) -> Result<u16, TransportError> {
        let connector = self.connector.get_or_init(|| function_base::http::connector(Duration::from_secs(5)));
        // The URL was signed without a Content-Type; Content-Length counts bytes.
        let request = http::Request::builder()
            .method(http::Method::PUT)
            .uri(url.as_str())
            .header(http::header::CONTENT_TYPE, "")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(SdkBody::from(body.to_vec()))
            .map_err(|e| TransportError(format!("request error: {}", redact(&e.to_string()))))?;
        let request = HttpRequest::try_from(request).map_err(|e| TransportError(format!("request error: {}", redact(&e.to_string()))))?;
        match tokio::time::timeout(timeout, connector.call(request)).await {
            Ok(Ok(response)) => Ok(response.status().as_u16()),
            Ok(Err(e)) => Err(TransportError(redact_error(&e))),
            Err(_) => Err(TransportError("timed out".into())),
        }
    }
}

/// Describes a transport error without the URL (whose signature it could hold).
fn redact_error(e: &ConnectorError) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_io() {
        "connection error"
    } else {
        "request error"
    };
    match std::error::Error::source(e) {
        Some(source) => format!("{kind}: {}", redact(&source.to_string())),
        None => kind.to_string(),
    }
}

/// An SDK client built on first use: continuations (Lambda, KMS) are rare, and each SDK
/// client built at init costs every cold start.
struct Lazy<C> {
    config: aws_config::SdkConfig,
    client: OnceLock<C>,
    new: fn(&aws_config::SdkConfig) -> C,
}

impl<C> Lazy<C> {
    fn new(config: &aws_config::SdkConfig, new: fn(&aws_config::SdkConfig) -> C) -> Self {
        Self { config: config.clone(), client: OnceLock::new(), new }
    }

    fn get(&self) -> &C {
        self.client.get_or_init(|| (self.new)(&self.config))
    }
}

/// This function, invoked again with InvocationType Event (AWS_LAMBDA_FUNCTION_NAME).
pub struct LambdaInvoker {
    lambda: Lazy<aws_sdk_lambda::Client>,
    function_name: Option<String>,
}

impl LambdaInvoker {
    pub fn from_env(config: &aws_config::SdkConfig) -> Self {
        Self { lambda: Lazy::new(config, aws_sdk_lambda::Client::new), function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().filter(|n| !n.is_empty()) }
    }
}

#[async_trait]
impl SelfInvoker for LambdaInvoker {
    async fn invoke_async(&self, payload: Vec<u8>) -> Result<(), InvokeError> {
        let Some(function_name) = &self.function_name else {
            return Err(InvokeError("AWS_LAMBDA_FUNCTION_NAME is not set".into()));
        };
        if payload.len() > MAX_INVOKE_PAYLOAD_BYTES {
            return Err(InvokeError(format!("continuation payload of {} bytes exceeds Lambda's {MAX_INVOKE_PAYLOAD_BYTES}-byte limit", payload.len())));
        }
        let invocation_type = aws_sdk_lambda::types::InvocationType::Event;
        match self.lambda.get().invoke().function_name(function_name).invocation_type(invocation_type).payload(Blob::new(payload)).send().await {
            Ok(out) if (200..300).contains(&out.status_code()) => Ok(()),
            Ok(out) => Err(InvokeError(format!("Lambda Invoke answered HTTP {}", out.status_code()))),
            Err(e) => Err(InvokeError(describe("Lambda Invoke", &e))),
        }
    }
}

/// KMS GenerateMac / VerifyMac (HMAC_SHA_256) with the key CONTINUATION_KMS_KEY_ID names;
/// without it, nothing is signed or verified.
pub struct KmsSigner {
    kms: Lazy<aws_sdk_kms::Client>,
    key_id: Option<String>,
}

impl KmsSigner {
    pub fn from_env(config: &aws_config::SdkConfig) -> Self {
        Self { kms: Lazy::new(config, aws_sdk_kms::Client::new), key_id: std::env::var(KEY_ENV).ok().map(|k| k.trim().to_string()).filter(|k| !k.is_empty()) }
    }
}

#[async_trait]
impl MacSigner for KmsSigner {
    async fn generate_mac(&self, message: &[u8]) -> Result<Vec<u8>, MacError> {
        let key_id = self.key_id.as_deref().ok_or(MacError::NoKey)?;
        let out = self
            .kms
            .get()
            .generate_mac()
            .key_id(key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .send()
            .await
            .map_err(|e| MacError::Unavailable(describe("KMS GenerateMac", &e)))?;
        out.mac.map(Blob::into_inner).ok_or_else(|| MacError::Unavailable("KMS GenerateMac answered no Mac".into()))
    }

    async fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<(), MacError> {
        let key_id = self.key_id.as_deref().ok_or(MacError::NoKey)?;
        let answer =
            self.kms.get().verify_mac().key_id(key_id).mac_algorithm(MacAlgorithmSpec::HmacSha256).message(Blob::new(message)).mac(Blob::new(mac)).send().await;
        match answer {
            Ok(out) if out.mac_valid => Ok(()),
            Ok(_) => Err(MacError::Invalid),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_kms_invalid_mac_exception()) => Err(MacError::Invalid),
            Err(e) => Err(MacError::Unavailable(describe("KMS VerifyMac", &e))),
        }
    }
}

/// DescribeStackResource and DescribeStacks.
pub struct CloudFormationState {
    cloudformation: aws_sdk_cloudformation::Client,
}

impl CloudFormationState {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self { cloudformation: aws_sdk_cloudformation::Client::new(config) }
    }
}

#[async_trait]
impl StackState for CloudFormationState {
    async fn resource(&self, stack_id: &str, logical_id: &str) -> Result<ResourceState, StackStateError> {
        let out = self
            .cloudformation
            .describe_stack_resource()
            .stack_name(stack_id)
            .logical_resource_id(logical_id)
            .send()
            .await
            .map_err(|e| StackStateError(describe("CloudFormation DescribeStackResource", &e)))?;
        let detail = out.stack_resource_detail().ok_or_else(|| StackStateError("CloudFormation DescribeStackResource answered no resource".into()))?;
        Ok(ResourceState {
            stack_id: detail.stack_id().unwrap_or_default().to_string(),
            status: detail.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            physical_id: detail.physical_resource_id().filter(|id| !id.is_empty()).map(str::to_string),
            resource_type: detail.resource_type().unwrap_or_default().to_string(),
        })
    }

    async fn stack_status(&self, stack_id: &str) -> Result<String, StackStateError> {
        let out = self
            .cloudformation
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| StackStateError(describe("CloudFormation DescribeStacks", &e)))?;
        out.stacks()
            .iter()
            .find(|s| s.stack_id() == Some(stack_id))
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_string())
            .ok_or_else(|| StackStateError(format!("CloudFormation DescribeStacks does not show the stack {stack_id:?}")))
    }
}
