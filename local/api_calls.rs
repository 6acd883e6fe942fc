//! What the small AWS API emulators (Identity Center, EC2/EFS) share: the calls they received
//! and the knobs that make calls fail before they have any effect.

use std::collections::{HashMap, HashSet};

/// Calls received, and the faults armed for the next ones.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    /// IAM actions ("sso:ListInstances"), with the access key id that signed each call.
    calls: Vec<(String, Option<String>)>,
    throttle_rate: f64,
    throttle_next: usize,
    denied: HashSet<String>,
    /// Per operation: how many of its next calls fail (with the code and message given).
    refusals: HashMap<String, Vec<(String, String)>>,
}

/// A fault decided for one call.
#[derive(Debug, PartialEq)]
pub(crate) enum Fault {
    Throttled,
    AccessDenied,
    /// An armed error: code and message.
    Refused(String, String),
}

impl CallLog {
    /// Records a call (its IAM action, e.g. "ec2:DescribeSecurityGroups", and the access key id
    /// that signed it) and decides whether it fails before doing anything.
    pub fn record(&mut self, action: &str, access_key: Option<String>) -> Option<Fault> {
        self.calls.push((action.to_string(), access_key));
        let operation = operation_of(action);
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            return Some(Fault::Throttled);
        }
        if self.throttle_rate > 0.0 && fastrand::f64() < self.throttle_rate {
            return Some(Fault::Throttled);
        }
        if self.denied.contains(operation) {
            return Some(Fault::AccessDenied);
        }
        let refusals = self.refusals.get_mut(operation)?;
        (!refusals.is_empty()).then(|| {
            let (code, message) = refusals.remove(0);
            Fault::Refused(code, message)
        })
    }

    pub fn set_throttle_rate(&mut self, rate: f64) {
        self.throttle_rate = rate.clamp(0.0, 1.0);
    }

    pub fn throttle_next(&mut self, count: usize) {
        self.throttle_next = count;
    }

    /// Answers every later call of `operation` with AccessDenied (a policy missing an action),
    /// or lifts that again.
    pub fn set_denied(&mut self, operation: &str, denied: bool) {
        if denied {
            self.denied.insert(operation.to_string());
        } else {
            self.denied.remove(operation);
        }
    }

    /// The next call of `operation` fails with this error code and message; calls queue up.
    pub fn refuse_next(&mut self, operation: &str, code: &str, message: &str) {
        self.refusals.entry(operation.to_string()).or_default().push((code.to_string(), message.to_string()));
    }

    pub fn count(&self, operation: &str) -> usize {
        self.calls.iter().filter(|(action, _)| operation_of(action) == operation).count()
    }

    /// Operation names, in order.
    pub fn all(&self) -> Vec<String> {
        self.calls.iter().map(|(action, _)| operation_of(action).to_string()).collect()
    }

    /// (access key id, IAM action) of each signed call, in order.
    pub fn signed(&self) -> Vec<(String, String)> {
        self.calls.iter().filter_map(|(action, key)| Some((key.clone()?, action.clone()))).collect()
    }
}

fn operation_of(action: &str) -> &str {
    action.split_once(':').map_or(action, |(_, operation)| operation)
}

/// The access key id in a SigV4 Authorization header ("... Credential=AKID/date/...").
pub(crate) fn access_key_id(authorization: Option<&str>) -> Option<String> {
    sagemaker_emulator::access_key_id(authorization?)
}

/// One page of `items` from a token made by this function (the index of the first item).
/// Returns the page and the next token; a token that is not one of ours is an error message.
pub(crate) fn page<T: Clone>(items: &[T], token: Option<&str>, max: usize) -> Result<(Vec<T>, Option<String>), String> {
    let start = match token {
        None => 0,
        Some(token) => token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| format!("Invalid pagination token: {token}"))?,
    };
    let end = (start + max.max(1)).min(items.len());
    let next = (end < items.len()).then(|| format!("page-{end}"));
    Ok((items[start..end].to_vec(), next))
}

/// Seconds since the epoch, as AWS JSON protocols send timestamps.
pub(crate) fn epoch_seconds() -> f64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    since.as_millis() as f64 / 1000.0
}

/// `len` random lowercase hex digits, as AWS resource ids carry.
pub(crate) fn random_hex(len: usize) -> String {
    (0..len).map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)])).collect()
}
