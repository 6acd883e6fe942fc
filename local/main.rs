//! `cargo run` plays the demo stack on the local cloud (see local/demo.rs).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match local_cloud::demo::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
