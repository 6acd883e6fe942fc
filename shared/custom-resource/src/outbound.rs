//! Every outbound effect of the core, behind one seam (as CDK's provider framework keeps its
//! calls in `outbound.ts`): the response PUT, the continuation's self-invocation, its MAC, and
//! CloudFormation's state. The real adapters are in [`crate::adapters`]; [`crate::testing`]
//! has in-memory ones, with which the protocol rules are tested in-process.

use crate::clock::SharedClock;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The KMS HMAC key (KeySpec HMAC_256) that signs continuations.
pub const KEY_ENV: &str = "CONTINUATION_KMS_KEY_ID";

/// Sends one response attempt. The retries, backoff and deadline are the core's
/// ([`crate::responder`]): this is a single PUT.
#[async_trait]
pub trait ResponseTransport: Send + Sync {
    /// PUT `body` to `url` (already allowed) with an empty Content-Type, within `timeout`:
    /// the HTTP status, or why none came back (never naming the URL's query: a credential).
    async fn put(&self, url: &Url, body: &[u8], timeout: Duration) -> Result<u16, TransportError>;
}

/// Invokes this same function again, asynchronously (Lambda Invoke, InvocationType Event).
#[async_trait]
pub trait SelfInvoker: Send + Sync {
    async fn invoke_async(&self, payload: Vec<u8>) -> Result<(), InvokeError>;
}

/// MACs with a key only this project's functions may use (KMS GenerateMac / VerifyMac).
#[async_trait]
pub trait MacSigner: Send + Sync {
    async fn generate_mac(&self, message: &[u8]) -> Result<Vec<u8>, MacError>;
    /// Ok(()) only for a MAC this key made over `message`.
    async fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<(), MacError>;
}

/// What CloudFormation shows of a stack and its resources (DescribeStackResource, DescribeStacks).
#[async_trait]
pub trait StackState: Send + Sync {
    async fn resource(&self, stack_id: &str, logical_id: &str) -> Result<ResourceState, StackStateError>;
    async fn stack_status(&self, stack_id: &str) -> Result<String, StackStateError>;
}

/// The logical resource as DescribeStackResource shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceState {
    pub stack_id: String,
    pub status: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvokeError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StackStateError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    #[error("{KEY_ENV} is not set: continuations can be neither signed nor verified")]
    NoKey,
    #[error("the MAC is not valid for this payload and key")]
    Invalid,
    /// KMS could not be asked (an error code and message, or a connection failure).
    #[error("{0}")]
    Unavailable(String),
}

/// The core's outbound ports and its clock (the real ones: `Ports::from_config`, in
/// [`crate::adapters`]).
#[derive(Clone)]
pub struct Ports {
    pub clock: SharedClock,
    pub responses: Arc<dyn ResponseTransport>,
    pub invoker: Arc<dyn SelfInvoker>,
    pub signer: Arc<dyn MacSigner>,
    pub stacks: Arc<dyn StackState>,
}
