//! Eventual consistency right after a Create: SageMaker answers CreateDomain or
//! CreateUserProfile, yet Describe*/List* may not find the new resource for a while. Within
//! [`VISIBILITY_LAG`] of the Create, not-found means "not visible yet", never "gone".

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a created resource may stay invisible before not-found is believed.
pub const VISIBILITY_LAG: Duration = Duration::from_secs(120);

/// When the Create that made a resource answered (seconds since the Unix epoch), carried in
/// the step's progress so that later invocations know how long it has been.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedAt(pub u64);

impl CreatedAt {
    pub fn now() -> Self {
        Self(now_secs())
    }

    /// Whether a not-found may still be the lag. A time in the future (a forged or skewed
    /// progress) counts as long ago, so nobody can make the wait last forever.
    pub fn may_be_invisible(&self) -> bool {
        let now = now_secs();
        self.0 <= now && now - self.0 < VISIBILITY_LAG.as_secs()
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The Pending's "waiting for" text while a new resource is not visible yet.
pub fn not_visible_yet(what: &str) -> String {
    format!("{what} to become visible (SageMaker may not list a resource for a while after creating it)")
}

/// The FAILED Reason once the lag is over and the resource is still not found.
pub fn never_became_visible(what: &str) -> String {
    format!(
        "{what} was created but is still not found {} s later; it may appear later and is reported as this resource so that a Delete removes it",
        VISIBILITY_LAG.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_is_bounded_and_future_times_do_not_extend_it() {
        assert!(CreatedAt::now().may_be_invisible());
        assert!(!CreatedAt(now_secs() - VISIBILITY_LAG.as_secs()).may_be_invisible());
        assert!(!CreatedAt(now_secs() + 3600).may_be_invisible());
    }
}
