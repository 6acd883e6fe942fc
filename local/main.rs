//! `cargo run` plays the demo stack on the local cloud (see local/demo.rs).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    println!("building the five functions (cargo's progress below), then playing the demo stack");
    if let Err(e) = tokio::task::spawn_blocking(local_cloud::binaries::build_functions).await.unwrap_or_else(|e| Err(e.to_string())) {
        eprintln!("demo failed: {e}");
        return std::process::ExitCode::FAILURE;
    }
    match local_cloud::demo::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
