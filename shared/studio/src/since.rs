//! A moment carried in a step's progress, so that later invocations know how long something
//! has lasted (a resource not visible yet, a refusal that persists). Times come from the
//! step's clock ([`custom_resource::Step::now`]), never the system clock.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Since(pub u64);

impl Since {
    pub fn at(now: SystemTime) -> Self {
        Self(secs(now))
    }

    /// Whether less than `window` has passed by `now`. A time in the future (a forged or
    /// skewed progress) counts as long ago, so nobody can make a wait last forever.
    pub fn within(&self, now: SystemTime, window: Duration) -> bool {
        let now = secs(now);
        self.0 <= now && now - self.0 < window.as_secs()
    }

    /// How long it has lasted by `now` (zero for a time in the future).
    pub fn lasted(&self, now: SystemTime) -> Duration {
        Duration::from_secs(secs(now).saturating_sub(self.0))
    }
}

fn secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_bounded_and_future_times_do_not_extend_them() {
        let (now, minute) = (UNIX_EPOCH + Duration::from_secs(1_000_000), Duration::from_secs(60));
        assert!(Since::at(now).within(now, minute));
        assert!(!Since::at(now - minute).within(now, minute));
        assert!(!Since::at(now + Duration::from_secs(3600)).within(now, minute));
        assert_eq!(Since::at(now - minute).lasted(now), minute);
    }
}
