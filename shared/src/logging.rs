//! Structured JSON logs; each invocation's lines carry the request's identity.

use tracing_subscriber::EnvFilter;

/// JSON lines on stdout (CloudWatch Logs), level from RUST_LOG, default info.
pub fn init() {
    init_with(&[]);
}

/// Like [`init`], plus directives that apply whatever RUST_LOG says, e.g.
/// `aws_smithy_runtime=debug` to keep response bodies (which may hold secrets) out of the logs.
pub fn init_with(forced: &[&str]) {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for directive in forced {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
}

/// The span every line of an invocation is logged in (never the ResponseURL).
#[macro_export]
macro_rules! invocation_span {
    ($request:expr) => {
        tracing::info_span!(
            "invocation",
            RequestType = $request.request_type.as_str(),
            StackId = %$request.stack_id,
            LogicalResourceId = %$request.logical_resource_id,
            RequestId = %$request.request_id,
        )
    };
}
