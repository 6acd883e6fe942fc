//! Structured JSON logs; each invocation's lines carry the request's identity.

use tracing_subscriber::EnvFilter;

/// Whatever RUST_LOG says, these stay quiet: at trace level they log payloads, URIs and
/// response bodies, which hold the ResponseURL's signature and presigned sign-in URLs.
const CREDENTIAL_SAFE: [&str; 6] =
    ["lambda_runtime=info", "lambda_runtime_api_client=info", "aws_smithy_runtime=debug", "reqwest=info", "hyper=info", "hyper_util=info"];

/// JSON lines on stdout (CloudWatch Logs), level from RUST_LOG, default info.
pub fn init() {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for directive in CREDENTIAL_SAFE {
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
