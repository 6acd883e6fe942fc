//! The core's test resource (`custom_resource::testing::Probe`: its properties choose its
//! behaviour) as a real Lambda function: tests/e2e/core_protocol.rs runs it as a process to
//! play one test of each protocol rule family; shared/custom-resource/tests/protocol.rs plays
//! every rule in-process.

#[tokio::main]
async fn main() -> Result<(), custom_resource::BoxError> {
    custom_resource::run(|_config| async {
        // Stands for a bad configuration found at start-up.
        match std::env::var("PROBE_INIT_ERROR") {
            Ok(e) => Err(e),
            Err(_) => Ok(custom_resource::testing::Probe::default()),
        }
    })
    .await
}
