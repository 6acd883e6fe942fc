//! What a function author writes: create / update / delete for one resource kind.
//!
//! Each call is one step. It either finishes ([`Done`]) or says what it is waiting for and
//! hands back its progress ([`Pending`]); the core calls again with that progress after a
//! pause, in this invocation or a continuation, until done, failed or out of time.

use crate::event::Request;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

pub trait CustomResource: Send + Sync + 'static {
    /// The typed ResourceProperties (see [`crate::properties`]).
    type Properties: DeserializeOwned + Send + Sync + 'static;
    /// What a pending step needs to resume; carried through continuations as JSON.
    type Progress: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// Whether `physical_id` could have been produced by this function (a DomainId, an ARN of
    /// the right kind). A Delete for any other id succeeds without touching AWS.
    fn recognizes(&self, physical_id: &str) -> bool;

    fn create(
        &self,
        request: &Request,
        properties: &Self::Properties,
        progress: Option<Self::Progress>,
    ) -> impl Future<Output = Result<Outcome<Self::Progress>, Error>> + Send;

    /// `old` is None when the old properties no longer parse (written for an older version).
    fn update(
        &self,
        request: &Request,
        physical_id: &str,
        properties: &Self::Properties,
        old: Option<&Self::Properties>,
        progress: Option<Self::Progress>,
    ) -> impl Future<Output = Result<Outcome<Self::Progress>, Error>> + Send;

    fn delete(
        &self,
        request: &Request,
        physical_id: &str,
        properties: &Self::Properties,
        progress: Option<Self::Progress>,
    ) -> impl Future<Output = Result<Outcome<Self::Progress>, Error>> + Send;
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

/// A step that failed: the Reason CloudFormation shows, and the resource it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct Error {
    pub reason: String,
    /// Reported as PhysicalResourceId (e.g. a created domain that then failed, so the
    /// following Delete removes it). Defaults to the event's id, or the create-failed marker.
    pub physical_resource_id: Option<String>,
    /// Throttling and similar: the core retries the same step after a pause.
    pub retryable: bool,
}

impl Error {
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), physical_resource_id: None, retryable: false }
    }

    pub fn for_resource(mut self, physical_resource_id: impl Into<String>) -> Self {
        self.physical_resource_id = Some(physical_resource_id.into());
        self
    }
}

impl From<crate::properties::PropertyError> for Error {
    fn from(e: crate::properties::PropertyError) -> Self {
        Error::new(format!("Invalid property {e}"))
    }
}
