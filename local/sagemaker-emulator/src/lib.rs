//! A SageMaker control-plane emulator for the Studio resources (domains, user profiles, spaces,
//! apps, Studio lifecycle configs, tags), speaking the real wire protocol so the real
//! aws-sdk-sagemaker client can be pointed at it.
//!
//! Protocol: awsJson1_1, `POST /` with `X-Amz-Target: SageMaker.<Operation>` and a JSON body;
//! errors are HTTP 400 `{"__type": "<Code>", "message": "..."}`. Signatures are not checked,
//! but the access key id of each call's SigV4 Authorization header is recorded
//! (`signed_calls`, from the emulator kit), so tests can see who called what.
//!
//! Realistic behaviour is the default: eventual consistency ([`Options::visibility_lag`]) and
//! the account's domain quota ([`Options::domain_quota`]) are opt-in.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emulator = sagemaker_emulator::SageMakerEmulator::start(Default::default()).await?;
//! let endpoint = emulator.endpoint(); // give this to the SDK as endpoint_url
//! # Ok(()) }
//! ```

mod error;
mod ops;
mod store;
mod validate;

pub use emulator_kit::Outage;
use emulator_kit::{AwsError, Handle, Output, Protocol, Request, Route, Service};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;
use store::Store;

/// How the emulated service behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long Pending/Updating/Deleting last (see [`SageMakerEmulator::set_transition_delay`]).
    pub transition_delay: Duration,
    /// The most items a List* page holds (less when MaxResults asks for less).
    pub page_size: usize,
    pub region: String,
    pub account_id: String,
    /// How long a new domain, user profile or space stays invisible to Describe*/List* (and to
    /// every call naming it) after its Create answered: the eventual consistency AWS's own
    /// CloudFormation handlers wait out. Zero (the default) makes it visible at once.
    pub visibility_lag: Duration,
    /// How many domains the account may hold (every status counts, Failed and Deleting too):
    /// CreateDomain beyond it is refused with ResourceLimitExceeded. None: no limit.
    pub domain_quota: Option<usize>,
    /// Whether CreateDomain refuses a DomainName that an existing domain has (ResourceInUse).
    /// The API reference does not say; CreateDomain lists ResourceInUse among its errors, and
    /// with no parent resource a name clash is the one thing it can mean, so the default is
    /// true. Tests play the functions under both.
    pub unique_domain_names: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            transition_delay: Duration::from_millis(200),
            // Small pages make every client exercise pagination.
            page_size: 2,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            visibility_lag: Duration::ZERO,
            domain_quota: None,
            unique_domain_names: true,
        }
    }
}

/// The resources whose asynchronous operations can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Domain,
    UserProfile,
    Space,
    App,
}

/// Which asynchronous operation of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Create,
    Update,
    Delete,
}

/// What a domain makes and removes outside SageMaker (IAM Identity Center, EFS, EC2), for a local
/// cloud that runs those services too. Called while the emulator's lock is held: an
/// implementation must not call back into this emulator.
pub trait DomainHooks: Send + Sync {
    /// CreateDomain with AuthMode SSO: the domain's Identity Center application, as its ARN;
    /// `Err(message)` refuses the CreateDomain with a ValidationException (no Identity Center).
    fn create_sso_application(&self, domain_id: &str, domain_name: &str) -> Result<String, String>;
    /// CreateDomain: the home EFS, a mount target per subnet and the NFS security groups; returns
    /// the file system id.
    fn create_home_efs(&self, domain_id: &str, domain_arn: &str, vpc_id: &str, subnet_ids: &[String]) -> String;
    /// A domain's delete finished: its application goes, and its home EFS unless retained.
    fn domain_deleted(&self, sso_application_arn: Option<&str>, home_efs_id: &str, retain_efs: bool);
}

/// A running emulator. Clones share the server; it stops when the last clone is dropped or on
/// `shutdown`. Derefs to the kit's [`Emulator`](emulator_kit::Emulator): the endpoint, the call records and the faults
/// every emulator of the local cloud has (`refuse_next`, `set_throttle_rate`, `fail_operation` ...).
#[derive(Clone)]
pub struct SageMakerEmulator(Handle<Store>);

emulator_kit::deref_to_emulator!(SageMakerEmulator);

impl SageMakerEmulator {
    /// Binds 127.0.0.1 on a free port and serves in a tokio task.
    pub async fn start(options: Options) -> std::io::Result<Self> {
        Ok(Self(Handle::start(Store::new(options)).await?))
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.0.state()
    }

    /// How long Pending/Updating/Deleting last, counted from each transition's start; applies to
    /// transitions already in progress too (a long delay holds them, zero releases them).
    pub fn set_transition_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Connects domains to the other emulated services (see [`DomainHooks`]); without hooks a
    /// domain's application ARN and home EFS id are made up.
    pub fn set_domain_hooks(&self, hooks: Arc<dyn DomainHooks>) {
        self.lock().hooks = Some(hooks);
    }

    /// The next Create/Update/Delete of such a resource ends Failed / Update_Failed /
    /// Delete_Failed with `reason` as FailureReason (a failing app delete ends Failed).
    /// Calls queue up: each arms one more failure. Apps have no update, so (App, Update) never fires.
    pub fn fail_next(&self, kind: ResourceKind, phase: Phase, reason: &str) {
        self.lock().arm_fault(kind, phase, reason);
    }

    /// See [`Options::visibility_lag`]. A resource keeps the lag in force at its Create, unless
    /// a lower one is set later: a long lag holds new resources hidden, zero shows them all.
    pub fn set_visibility_lag(&self, lag: Duration) {
        self.lock().visibility_lag = lag;
    }

    /// See [`Options::domain_quota`].
    pub fn set_domain_quota(&self, quota: Option<usize>) {
        self.lock().domain_quota = quota;
    }

    /// See [`Options::unique_domain_names`].
    pub fn set_unique_domain_names(&self, unique: bool) {
        self.lock().unique_domain_names = unique;
    }

    /// All state, as the Describe* operations show it: `domains`, `profiles`, `spaces`, `apps`,
    /// `configs` (lists in creation order), `tags` ({arn: {key: value}}) and `efs`
    /// ({file system id: "Available" | "Retained" | "Deleted"}).
    pub fn snapshot(&self) -> serde_json::Value {
        let mut store = self.lock();
        store.advance();
        ops::snapshot(&store)
    }
}

/// SageMaker's wire protocol: awsJson1_1, `X-Amz-Target: SageMaker.<Operation>`.
const PROTOCOL: Protocol = Protocol::AwsJson { message_key: "message" };

impl Service for Store {
    fn route(request: &Request) -> Route {
        let target = request.header("x-amz-target").unwrap_or_default();
        Route::new(target.strip_prefix("SageMaker.").unwrap_or(target), "sagemaker", PROTOCOL)
    }

    /// Statuses move on first, so the call sees them as a Describe right now would.
    fn call(&mut self, route: &Route, request: &Request) -> Result<Output, AwsError> {
        let target = request.header("x-amz-target").unwrap_or_default();
        if !target.starts_with("SageMaker.") {
            return Err(AwsError::unknown_operation(target));
        }
        let body = request.json_object()?;
        self.advance();
        ops::dispatch(self, &route.operation, &body).map(Output::Json)
    }
}
