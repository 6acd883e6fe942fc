//! A moment carried in a step's progress, so that later invocations know how long something
//! has lasted (a resource not visible yet, a refusal that persists).

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Since(pub u64);

impl Since {
    pub fn now() -> Self {
        Self(now_secs())
    }

    /// Whether less than `window` has passed. A time in the future (a forged or skewed
    /// progress) counts as long ago, so nobody can make a wait last forever.
    pub fn within(&self, window: Duration) -> bool {
        let now = now_secs();
        self.0 <= now && now - self.0 < window.as_secs()
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_bounded_and_future_times_do_not_extend_them() {
        let minute = Duration::from_secs(60);
        assert!(Since::now().within(minute));
        assert!(!Since(now_secs() - 60).within(minute));
        assert!(!Since(now_secs() + 3600).within(minute));
    }
}
