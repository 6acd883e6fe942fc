//! How long a function waits for what should clear by itself before it gives up and answers
//! FAILED (or, for the NFS security groups, SUCCESS naming what was left). Production values
//! are the defaults; the local cloud shortens them through the environment so that the
//! end-to-end tests of each rule take seconds. A value may only shorten its default, so a
//! misconfigured function still answers within the contract's bounds.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    /// A server error (5xx, an unreadable answer) that persists: FAILED within 5 minutes of the
    /// first one, after the last step's own SDK retries.
    pub server_errors: Duration,
    /// A resource refused as in use with nothing left that uses it (SageMaker noticing late).
    pub in_use: Duration,
    /// Right after a Create, not-found means "not visible yet" for this long (eventual consistency).
    pub visibility: Duration,
    /// A deleted domain's NFS security groups becoming deletable.
    pub nfs: Duration,
}

impl Default for Patience {
    fn default() -> Self {
        Self { server_errors: Duration::from_secs(120), in_use: Duration::from_secs(180), visibility: Duration::from_secs(120), nfs: Duration::from_secs(300) }
    }
}

/// The environment variables that shorten each patience (seconds, fractions allowed).
pub const ENV: [&str; 4] = ["PATIENCE_SERVER_ERROR_SECONDS", "PATIENCE_IN_USE_SECONDS", "PATIENCE_VISIBILITY_SECONDS", "PATIENCE_NFS_SECONDS"];

impl Patience {
    /// The defaults, shortened by whichever of [`ENV`] are set. Unreadable values are errors,
    /// so that a typo is not silently the production value.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let defaults = Self::default();
        let read = |name: &str, default: Duration| -> Result<Duration, String> {
            let Some(text) = lookup(name) else { return Ok(default) };
            let seconds: f64 = text.trim().parse().map_err(|_| format!("{name} must be a number of seconds, got {text:?}"))?;
            if !(0.0..=default.as_secs_f64()).contains(&seconds) {
                return Err(format!("{name} must be from 0 to {} seconds (it may only shorten the default), got {text:?}", default.as_secs()));
            }
            Ok(Duration::from_secs_f64(seconds))
        };
        Ok(Self {
            server_errors: read(ENV[0], defaults.server_errors)?,
            in_use: read(ENV[1], defaults.in_use)?,
            visibility: read(ENV[2], defaults.visibility)?,
            nfs: read(ENV[3], defaults.nfs)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_may_only_shorten_the_defaults() {
        let env = |pairs: &'static [(&'static str, &'static str)]| move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        assert_eq!(Patience::from_lookup(env(&[])).unwrap(), Patience::default());
        let short = Patience::from_lookup(env(&[("PATIENCE_IN_USE_SECONDS", "1.5"), ("PATIENCE_NFS_SECONDS", "0")])).unwrap();
        assert_eq!((short.in_use, short.nfs, short.visibility), (Duration::from_millis(1500), Duration::ZERO, Duration::from_secs(120)));
        assert!(Patience::from_lookup(env(&[("PATIENCE_VISIBILITY_SECONDS", "121")])).unwrap_err().contains("only shorten"));
        assert!(Patience::from_lookup(env(&[("PATIENCE_SERVER_ERROR_SECONDS", "soon")])).unwrap_err().contains("PATIENCE_SERVER_ERROR_SECONDS"));
    }
}
