//! studio-signin-url: invoked directly (a portal backend, `aws lambda invoke`), not by
//! CloudFormation. Input {DomainId, UserProfileName, ExpiresInSeconds?,
//! SessionExpirationDurationInSeconds?, LandingUri?, SpaceName?}; output {AuthorizedUrl, ExpiresAt}.

mod signin;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tracing::{Instrument, info, warn};

// One thread: the work is waiting on SageMaker, and Lambda gives small functions under one vCPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    custom_resource::logging::init();
    let sagemaker = studio::Clients::new(&custom_resource::aws::load_config().await).sagemaker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let sagemaker = sagemaker.clone();
        async move { handle(&sagemaker, event).await }
    }))
    .await
}

async fn handle(sagemaker: &aws_sdk_sagemaker::Client, event: LambdaEvent<Value>) -> Result<signin::Output, signin::SigninError> {
    let text = |key: &str| event.payload.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let span =
        tracing::info_span!("invocation", RequestId = %event.context.request_id, DomainId = %text("DomainId"), UserProfileName = %text("UserProfileName"));
    async {
        // Logged: who and until when, never the URL.
        match signin::sign_in(sagemaker, &event.payload).await {
            Ok(output) => {
                info!(ExpiresAt = %output.expires_at, "presigned domain URL created");
                Ok(output)
            }
            Err(e) => {
                warn!(errorType = e.error_type(), error = %e, "no URL");
                Err(e)
            }
        }
    }
    .instrument(span)
    .await
}
