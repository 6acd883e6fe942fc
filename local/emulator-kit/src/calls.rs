//! The calls an emulator received, and the faults armed for the next ones.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

/// One call as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The operation, e.g. "CreateDomain".
    pub operation: String,
    /// The IAM action it needs, e.g. "sagemaker:CreateDomain".
    pub action: String,
    /// The access key id of its SigV4 signature (each deployed function signs with its name).
    pub access_key: Option<String>,
}

/// A persistent failure of one operation, until cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outage {
    /// HTTP 500 with the protocol's internal-error code (InternalFailure; EC2: InternalError).
    InternalFailure,
    /// HTTP 503 (ServiceUnavailable; EC2: Unavailable).
    ServiceUnavailable,
    /// What moto's server answers for an action it does not implement: HTTP 500 with an HTML
    /// page and no error code.
    NotImplemented,
    /// An error answer with this code and message (e.g. SageMaker's ResourceInUse, which users
    /// report for DeleteUserProfile after its spaces were gone).
    Refusal { code: String, message: String },
}

impl Outage {
    pub fn refusal(code: &str, message: &str) -> Self {
        Outage::Refusal { code: code.to_string(), message: message.to_string() }
    }
}

/// What happens to one call instead of its effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Outage(Outage),
    Throttled,
    /// The caller's policy lacks the action.
    Denied,
    /// An armed error: code and message.
    Refused {
        code: String,
        message: String,
    },
}

/// Calls received and faults armed; one per emulator, behind its own lock.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    pub calls: Vec<Call>,
    /// The Authorization and X-Amz-Security-Token headers of the last call.
    pub last_signature: (Option<String>, Option<String>),
    pub outages: HashMap<String, Outage>,
    pub throttle_next: usize,
    pub throttle_rate: f64,
    pub denied: HashSet<String>,
    pub refusals: HashMap<String, VecDeque<(String, String)>>,
    pub latency: Duration,
    pub operation_latency: HashMap<String, Duration>,
}

impl CallLog {
    /// Records a call and decides what stops it, in the order AWS would: an outage first, then
    /// throttling, then authorization, then an armed refusal. Returns the fault and how long to
    /// wait before answering.
    pub fn record(&mut self, call: Call, signature: (Option<String>, Option<String>)) -> (Option<Fault>, Duration) {
        let operation = call.operation.clone();
        self.calls.push(call);
        self.last_signature = signature;
        let delay = self.operation_latency.get(&operation).copied().unwrap_or(self.latency);
        (self.fault(&operation), delay)
    }

    fn fault(&mut self, operation: &str) -> Option<Fault> {
        if let Some(outage) = self.outages.get(operation) {
            return Some(Fault::Outage(outage.clone()));
        }
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            return Some(Fault::Throttled);
        }
        if self.throttle_rate > 0.0 && fastrand::f64() < self.throttle_rate {
            return Some(Fault::Throttled);
        }
        if self.denied.contains(operation) {
            return Some(Fault::Denied);
        }
        let (code, message) = self.refusals.get_mut(operation)?.pop_front()?;
        Some(Fault::Refused { code, message })
    }
}
