//! Structured JSON logs; each invocation's lines carry the request's identity.

use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Whatever RUST_LOG says, these stay at most this verbose: at trace level they log payloads,
/// URIs and response bodies, which hold the ResponseURL's signature and presigned sign-in URLs.
/// (Release builds go further: tracing's `release_max_level_debug`, in Cargo.toml, compiles
/// every trace-level event out.)
const CREDENTIAL_SAFE: [(&str, Level); 6] = [
    ("lambda_runtime", Level::INFO),
    ("lambda_runtime_api_client", Level::INFO),
    ("aws_smithy_runtime", Level::DEBUG),
    ("reqwest", Level::INFO),
    ("hyper", Level::INFO),
    ("hyper_util", Level::INFO),
];

/// JSON lines on stdout (CloudWatch Logs), level from RUST_LOG, default info.
pub fn init() {
    let lines = tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false).with_target(false).without_time();
    let _ = tracing_subscriber::registry().with(level(std::env::var("RUST_LOG").ok().as_deref())).with(caps()).with(lines).try_init();
}

/// What RUST_LOG asks for; info if it is unset or not understood.
///
/// Its directives are comma-separated `level`, `target=level` or `target` (all of that target):
/// env_logger's syntax as `tracing`'s EnvFilter reads it, less the span and field filters,
/// whose regex engine and Unicode tables cost every cold start (#27).
fn level(rust_log: Option<&str>) -> Targets {
    rust_log.and_then(directives).unwrap_or_else(|| Targets::new().with_default(Level::INFO))
}

fn directives(spec: &str) -> Option<Targets> {
    let mut directives = spec.split(',').map(str::trim).filter(|d| !d.is_empty()).peekable();
    directives.peek()?;
    directives.try_fold(Targets::new(), |targets, directive| match directive.split_once('=') {
        Some((target, level)) if is_target(target.trim()) => Some(targets.with_target(target.trim(), level.trim().parse::<LevelFilter>().ok()?)),
        Some(_) => None,
        None => match directive.parse::<LevelFilter>() {
            Ok(level) => Some(targets.with_default(level)),
            Err(_) if is_target(directive) => Some(targets.with_target(directive, LevelFilter::TRACE)),
            Err(_) => None,
        },
    })
}

/// A module path such as `aws_smithy_runtime::client`.
fn is_target(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '-')
}

/// A second filter every line must also pass: it caps the credential-safe targets and lets
/// everything else through, so it can quiet a target but never make one chattier.
fn caps() -> Targets {
    CREDENTIAL_SAFE.into_iter().fold(Targets::new().with_default(Level::TRACE), |caps, (target, cap)| caps.with_target(target, cap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// "target LEVEL" of each test event that passes the filters for `rust_log`.
    fn passing(rust_log: Option<&str>) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Seen(Arc<Mutex<Vec<String>>>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
            fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
                let meta = event.metadata();
                self.0.lock().unwrap().push(format!("{} {}", meta.target(), meta.level()));
            }
        }
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry().with(level(rust_log)).with(caps()).with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "x");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "x");
            tracing::info!(target: "aws_smithy_runtime::client::orchestrator", "x");
            tracing::debug!(target: "lambda_runtime", "x");
            tracing::info!(target: "lambda_runtime", "x");
            tracing::debug!(target: "shared", "x");
            tracing::info!(target: "shared", "x");
        });
        seen.0.lock().unwrap().clone()
    }

    #[test]
    fn the_default_level_is_info_for_every_target() {
        let info = ["aws_smithy_runtime::client::orchestrator INFO", "lambda_runtime INFO", "shared INFO"];
        assert_eq!(passing(None), info);
        assert_eq!(passing(Some("info")), info);
        assert_eq!(passing(Some("not a [valid filter")), info);
    }

    #[test]
    fn caps_quiet_verbose_targets() {
        let trace = [
            "aws_smithy_runtime::client::orchestrator DEBUG",
            "aws_smithy_runtime::client::orchestrator INFO",
            "lambda_runtime INFO",
            "shared DEBUG",
            "shared INFO",
        ];
        assert_eq!(passing(Some("trace")), trace);
    }

    #[test]
    fn caps_never_make_a_target_chattier_than_rust_log() {
        assert_eq!(passing(Some("info,shared=debug")), ["aws_smithy_runtime::client::orchestrator INFO", "lambda_runtime INFO", "shared DEBUG", "shared INFO"]);
        assert_eq!(passing(Some("warn")), Vec::<String>::new());
    }

    #[test]
    fn rust_log_takes_levels_and_targets_and_falls_back_to_info_on_anything_else() {
        let info = ["aws_smithy_runtime::client::orchestrator INFO", "lambda_runtime INFO", "shared INFO"];
        assert_eq!(passing(Some(" warn , shared = debug ")), ["shared DEBUG", "shared INFO"]);
        assert_eq!(passing(Some("shared")), ["shared DEBUG", "shared INFO"]);
        assert_eq!(
            passing(Some("DEBUG,lambda_runtime=off")),
            ["aws_smithy_runtime::client::orchestrator DEBUG", "aws_smithy_runtime::client::orchestrator INFO", "shared DEBUG", "shared INFO"]
        );
        for unknown in ["", " , ", "shared=loud", "shared[span]=debug", "a=b=c", "=info"] {
            assert_eq!(passing(Some(unknown)), info, "{unknown:?}");
        }
    }
}
