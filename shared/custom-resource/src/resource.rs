//! What a function author writes: create / update / delete for one resource kind.
//!
//! Each call is one step. It either finishes ([`Done`]) or says what it is waiting for and
//! hands back its progress ([`Pending`]); the core calls again with that progress after a
//! pause, in this invocation or a continuation, until done, failed or out of time.

use crate::clock::{SharedClock, until};
use crate::event::Request;
use crate::patience::Patience;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What a pending step needs to resume; carried through continuations as JSON.
pub trait Progress: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> Progress for T {}

/// The result of a step: finished, pending with progress `P`, or failed.
pub type StepResult<P> = Result<Outcome<P>, Error>;

/// Create, update and delete, each with its own progress type: a step can only be handed
/// progress of its own request kind.
pub trait CustomResource: Send + Sync + 'static {
    /// The typed ResourceProperties (see [`crate::properties`]).
    type Properties: DeserializeOwned + Send + Sync + 'static;
    type CreateProgress: Progress;
    type UpdateProgress: Progress;
    type DeleteProgress: Progress;

    /// Whether `physical_id` could have been produced by this function (a DomainId, an ARN of
    /// the right kind). A Delete for any other id succeeds without touching AWS.
    fn recognizes(&self, physical_id: &str) -> bool;

    fn create(
        &self,
        step: &Step,
        properties: &Self::Properties,
        progress: Option<Self::CreateProgress>,
    ) -> impl Future<Output = StepResult<Self::CreateProgress>> + Send;

    fn update(
        &self,
        step: &Step,
        change: Change<'_, Self::Properties>,
        progress: Option<Self::UpdateProgress>,
    ) -> impl Future<Output = StepResult<Self::UpdateProgress>> + Send;

    fn delete(
        &self,
        step: &Step,
        physical_id: &str,
        properties: &Self::Properties,
        progress: Option<Self::DeleteProgress>,
    ) -> impl Future<Output = StepResult<Self::DeleteProgress>> + Send;
}

/// What an Update changes: the resource, to its new properties from its old ones.
#[derive(Debug)]
pub struct Change<'a, P> {
    pub physical_id: &'a str,
    pub properties: &'a P,
    /// None when the old properties no longer parse (written for an older version).
    pub old: Option<&'a P>,
}

impl<P> Clone for Change<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Change<'_, P> {}

/// One step's context: the request, the step's own deadline, and the clock and patience the
/// function works with. Work that can be cut (staging files) stops by the deadline and
/// returns Pending; the core keeps the time it needs to continue or respond after it, so no
/// step has to guess what the core keeps back.
#[derive(Clone)]
pub struct Step {
    request: Arc<Request>,
    clock: SharedClock,
    patience: Patience,
    deadline: SystemTime,
    service_deadline: Option<SystemTime>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step").field("request", &self.request).field("deadline", &self.deadline).field("service_deadline", &self.service_deadline).finish()
    }
}

impl Step {
    pub fn new(request: Arc<Request>, clock: SharedClock, patience: Patience, deadline: SystemTime) -> Self {
        Self { request, clock, patience, deadline, service_deadline: None }
    }

    /// With the moment the whole request's ServiceTimeout runs out (across invocations).
    pub fn with_service_deadline(mut self, service_deadline: SystemTime) -> Self {
        self.service_deadline = Some(service_deadline);
        self
    }

    /// When the request's ServiceTimeout runs out: a wait that should end in SUCCESS rather than
    /// time out must give up before then.
    pub fn service_deadline(&self) -> Option<SystemTime> {
        self.service_deadline
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The time, from the function's clock (never read the system clock in resource logic).
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn patience(&self) -> &Patience {
        &self.patience
    }

    /// How long until this step must have returned.
    pub fn remaining(&self) -> Duration {
        until(self.now(), self.deadline)
    }

    /// The step's deadline as an `Instant`, for loops of real I/O (staging files).
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.remaining()
    }
}

impl std::ops::Deref for Step {
    type Target = Request;
    fn deref(&self) -> &Request {
        &self.request
    }
}

/// The result of one step.
#[derive(Debug)]
pub enum Outcome<P> {
    Done(Done),
    Pending(Pending<P>),
}

/// Finished: what CloudFormation is told on SUCCESS.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub physical_resource_id: String,
    /// Attributes for Fn::GetAtt.
    pub data: BTreeMap<String, String>,
    pub no_echo: bool,
    /// Shown in the stack events, e.g. why something was retained.
    pub reason: Option<String>,
}

impl Done {
    pub fn new(physical_resource_id: impl Into<String>) -> Self {
        Self { physical_resource_id: physical_resource_id.into(), data: BTreeMap::new(), no_echo: false, reason: None }
    }

    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn no_echo(mut self) -> Self {
        self.no_echo = true;
        self
    }
}

impl<P> Outcome<P> {
    /// The same outcome with its progress wrapped, e.g. a Create's progress inside an Update's.
    pub fn map_progress<Q>(self, f: impl FnOnce(P) -> Q) -> Outcome<Q> {
        match self {
            Outcome::Done(done) => Outcome::Done(done),
            Outcome::Pending(p) => Outcome::Pending(Pending {
                progress: f(p.progress),
                waiting_for: p.waiting_for,
                physical_resource_id: p.physical_resource_id,
                poll_after: p.poll_after,
            }),
        }
    }
}

impl<P> From<Done> for Outcome<P> {
    fn from(done: Done) -> Self {
        Outcome::Done(done)
    }
}

/// Not yet: call again with `progress`.
#[derive(Debug, Clone)]
pub struct Pending<P> {
    pub progress: P,
    /// Completes "timed out after N s waiting for ...".
    pub waiting_for: String,
    /// The resource this operation has made so far: a failure or time-out from here on
    /// reports it, so CloudFormation's Delete cleans it up.
    pub physical_resource_id: Option<String>,
    /// How long to pause before the next step; the core backs off by itself when unset.
    pub poll_after: Option<Duration>,
}

impl<P> Pending<P> {
    pub fn new(progress: P, waiting_for: impl Into<String>) -> Self {
        Self { progress, waiting_for: waiting_for.into(), physical_resource_id: None, poll_after: None }
    }

    pub fn resource(mut self, physical_resource_id: impl Into<String>) -> Self {
        self.physical_resource_id = Some(physical_resource_id.into());
        self
    }

    pub fn poll_after(mut self, pause: Duration) -> Self {
        self.poll_after = Some(pause);
        self
    }
}

impl<P> From<Pending<P>> for Outcome<P> {
    fn from(pending: Pending<P>) -> Self {
        Outcome::Pending(pending)
    }
}

/// How the core treats a failed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retry {
    /// The request fails with the Reason.
    #[default]
    No,
    /// Throttling, or a resource busy with another operation: the step runs again after a
    /// pause, within ServiceTimeout.
    Throttled,
    /// A server error (5xx, an answer that could not be read), or a state that should clear
    /// within minutes: the step runs again, but the request fails once such errors have
    /// persisted for the server-error patience ([`crate::Patience`]).
    ServerError,
}

/// A step that failed: the Reason CloudFormation shows, and the resource it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct Error {
    pub reason: String,
    /// Reported as PhysicalResourceId (e.g. a created domain that then failed, so the
    /// following Delete removes it). Defaults to the event's id, or the create-failed marker.
    pub physical_resource_id: Option<String>,
    pub retry: Retry,
}

impl Error {
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), physical_resource_id: None, retry: Retry::No }
    }

    pub fn for_resource(mut self, physical_resource_id: impl Into<String>) -> Self {
        self.physical_resource_id = Some(physical_resource_id.into());
        self
    }

    /// Try the step again later (within ServiceTimeout), e.g. a resource busy with another operation.
    pub fn retry_later(mut self) -> Self {
        self.retry = Retry::Throttled;
        self
    }

    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    pub fn is_retryable(&self) -> bool {
        self.retry != Retry::No
    }
}

impl From<crate::properties::PropertyError> for Error {
    fn from(e: crate::properties::PropertyError) -> Self {
        Error::new(format!("Invalid property {e}"))
    }
}
