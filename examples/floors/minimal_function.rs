//! The init floor (issue #27): a Rust Lambda function that does nothing but start
//! `lambda_runtime` on a one-thread runtime and echo its payload. Whatever a custom-resource
//! function spends at init beyond this is ours to justify.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) })).await
}
