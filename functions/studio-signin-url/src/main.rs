//! studio-signin-url: served through a Lambda Function URL with AuthType AWS_IAM, so that the
//! caller is the principal that signed the request. A POST with {DomainId, UserProfileName,
//! ExpiresInSeconds?, SessionExpirationDurationInSeconds?, LandingUri?, SpaceName?} gets
//! 200 {AuthorizedUrl, ExpiresAt} if the caller may sign in as that profile (see access.rs);
//! errors are {errorType, errorMessage} with 400, 403, 404, 405 or 502.

mod access;
mod http;
mod signin;

use access::{Access, Caller};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use signin::{Input, SigninError};
use std::sync::Arc;
use tracing::{Instrument, Span, error, info, warn};

// One thread: the work is waiting on SageMaker, and Lambda gives small functions under one vCPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    function_base::logging::init();
    // A setting it cannot work with stops the function before it serves anyone.
    let access = match Access::from_env() {
        Ok(access) => Arc::new(access),
        Err(e) => {
            error!(error = %e, "misconfigured; not starting");
            return Err(e.into());
        }
    };
    // Served anyway (trusted callers and the other roles work), but these grant nothing.
    for role in access.unpinned_self_service_roles() {
        warn!(
            role = %role,
            "self-service role whose callers choose their session names: its sessions are refused; use an IAM Identity Center permission-set role, or pin sts:RoleSessionName in its trust policy and list it in SIGNIN_PINNED_SESSION_ROLE_ARNS"
        );
    }
    // Built on the warm-up thread while init goes on (issue #27).
    let sagemaker = function_base::warm_up::prepare(|| async { studio::Clients::new(&function_base::aws::load_config().await).sagemaker });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (sagemaker, access) = (sagemaker.clone(), access.clone());
        async move {
            let sagemaker = sagemaker.get().await;
            Ok::<_, lambda_runtime::Error>(handle(sagemaker, &access, event).await)
        }
    }))
    .await
}

/// Always an HTTP response: a function error would reach the caller as a bare 502.
async fn handle(sagemaker: &aws_sdk_sagemaker::Client, access: &Access, event: LambdaEvent<Value>) -> Value {
    let empty = tracing::field::Empty;
    let span = tracing::info_span!("invocation", RequestId = %event.context.request_id, CallerArn = empty, SourceIp = empty, DomainId = empty, UserProfileName = empty);
    async {
        // Logged: who, for whom and until when, never the URL.
        match sign_in(sagemaker, access, &event.payload).await {
            Ok((output, session_seconds)) => {
                info!(ExpiresAt = %output.expires_at, SessionExpirationDurationInSeconds = session_seconds, "presigned domain URL created");
                http::response(200, &json!({"AuthorizedUrl": output.authorized_url, "ExpiresAt": output.expires_at}))
            }
            Err(e) => {
                let what = if e.status() == 403 { "refused" } else { "no URL" };
                warn!(errorType = e.error_type(), status = e.status(), error = %e, "{what}");
                http::response(e.status(), &e.body())
            }
        }
    }
    .instrument(span)
    .await
}

/// The checks in order: identity, caller, method, input, the caller's right to this profile;
/// only then SageMaker. Returns the URL and the session length asked for.
async fn sign_in(sagemaker: &aws_sdk_sagemaker::Client, access: &Access, event: &Value) -> Result<(signin::Output, i32), SigninError> {
    let span = Span::current();
    let Some(request) = http::Request::from_event(event) else {
        return Err(SigninError::Forbidden(
            "no caller identity: call this function through its Function URL (AuthType AWS_IAM) with a SigV4-signed POST; a direct invoke is refused".into(),
        ));
    };
    span.record("CallerArn", request.caller_arn.as_str()).record("SourceIp", request.source_ip.as_str());
    let caller = Caller::from_arn(&request.caller_arn);
    let grant = access.grant(&caller).map_err(SigninError::Forbidden)?;
    if request.method != "POST" {
        return Err(SigninError::MethodNotAllowed(format!("use POST (with a JSON body), not {}", request.method)));
    }
    let input = Input::parse(&request.body, access.max_session_seconds)?;
    span.record("DomainId", input.domain_id.as_str()).record("UserProfileName", input.user_profile_name.as_str());
    access.permit(&grant, &input.domain_id, &input.user_profile_name).map_err(SigninError::Forbidden)?;
    let session_seconds = input.session_seconds(access.max_session_seconds);
    let output = signin::sign_in(sagemaker, &input, session_seconds).await?;
    Ok((output, session_seconds))
}
