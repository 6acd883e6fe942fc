//! The deployment zips that scripts/package builds, started as Lambda starts them: each zip is
//! unpacked with the file modes it carries, and its `bootstrap` runs under the Lambda emulator
//! for one event, which it must answer. A zip that would not start on Lambda fails here.
//!
//! Needs the zips, so it is ignored by a plain `cargo test`; .ci/run runs it after packaging:
//!
//! ```sh
//! scripts/package x86_64
//! DEPLOYMENT_ZIP_DIR=target/lambda/x86_64 cargo test --workspace --test e2e deployment_zips -- --ignored
//! ```

use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::Status;
use local_cloud::lambda::FunctionConfig;
use serde_json::{Value, json};
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Functions invoked directly (not by CloudFormation); every other function is a custom resource.
const DIRECT_INVOKE: &[&str] = &["studio-signin-url"];

/// The workspace's function binaries: every bin target of the packages under functions/ (the
/// rule scripts/package follows).
fn function_binaries() -> Vec<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
    let functions = Path::new(metadata["workspace_root"].as_str().expect("workspace_root")).join("functions");
    let mut binaries = Vec::new();
    for package in metadata["packages"].as_array().expect("packages") {
        if !Path::new(package["manifest_path"].as_str().expect("manifest_path")).starts_with(&functions) {
            continue;
        }
        for target in package["targets"].as_array().expect("targets") {
            if target["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin")) {
                binaries.push(target["name"].as_str().expect("target name").to_string());
            }
        }
    }
    binaries
}

/// Unpacks the zip into `dir` as Lambda does, keeping each file's mode from the zip (Lambda runs
/// `bootstrap` only if the zip marks it executable); returns the path of `bootstrap`.
fn unpack(zip_path: &Path, dir: &Path) -> PathBuf {
    let mut archive = zip::ZipArchive::new(File::open(zip_path).unwrap_or_else(|e| panic!("{}: {e}", zip_path.display())))
        .unwrap_or_else(|e| panic!("{} is not a zip: {e}", zip_path.display()));
    assert!(
        archive.index_for_name("bootstrap").is_some(),
        "{} has no `bootstrap` at its root: {:?}",
        zip_path.display(),
        archive.file_names().filter_map(Result::ok).collect::<Vec<_>>()
    );
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).expect("zip entry");
        let Some(relative) = entry.enclosed_name() else { panic!("{}: unsafe entry name {:?}", zip_path.display(), entry.name()) };
        let path = dir.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).expect("create dir");
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        let mut file = File::create(&path).expect("create file");
        std::io::copy(&mut entry, &mut file).expect("unzip");
        let mode = entry.unix_mode().unwrap_or(0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let bootstrap = dir.join("bootstrap");
    let mode = std::fs::metadata(&bootstrap).expect("bootstrap").permissions().mode();
    assert!(mode & 0o111 != 0, "{}: bootstrap is not executable in the zip (mode {mode:o})", zip_path.display());
    bootstrap
}

#[tokio::test]
#[ignore = "needs the zips of scripts/package in DEPLOYMENT_ZIP_DIR; run by .ci/run"]
async fn every_function_zip_starts_and_answers_one_event() {
    let zip_dir =
        PathBuf::from(std::env::var_os("DEPLOYMENT_ZIP_DIR").expect("DEPLOYMENT_ZIP_DIR: where scripts/package put the zips, e.g. target/lambda/x86_64"));
    let zip_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(zip_dir);
    let binaries = function_binaries();
    assert!(!binaries.is_empty(), "no function binaries under functions/");

    let cloud = LocalCloud::start().await.expect("local cloud");
    let unpacked = tempfile::tempdir().expect("temp dir");
    for name in &binaries {
        let zip_path = zip_dir.join(name).join("bootstrap.zip");
        assert!(zip_path.is_file(), "no deployment zip for {name}: {} (run scripts/package)", zip_path.display());
        let task = unpacked.path().join(name);
        let bootstrap = unpack(&zip_path, &task);

        let mut config = FunctionConfig::new(name.as_str(), bootstrap);
        for (variable, value) in cloud.function_env() {
            config = config.env(variable, value);
        }
        cloud.lambda.deploy(config).await.unwrap_or_else(|e| panic!("{name}: the bootstrap does not start: {e}"));

        if DIRECT_INVOKE.contains(&name.as_str()) {
            // An empty request: the function must answer it (with a response or its own error).
            let answer = cloud.lambda.invoke(name, json!({})).await;
            if let Err(error) = &answer {
                assert!(!error.error_type.starts_with("Runtime."), "{name}: no answer from the function: {error}");
            }
        } else {
            // A Delete of a resource this function did not make: answered SUCCESS without any AWS call.
            let response = cloud
                .cfn
                .delete(name, "DeploymentZip", "not-made-by-this-function", json!({}))
                .await
                .unwrap_or_else(|e| panic!("{name}: no valid CloudFormation response: {e}\n{}", cloud.lambda.logs(name)));
            assert_eq!(response.status, Status::Success, "{name}: {:?}\n{}", response.reason, cloud.lambda.logs(name));
            assert!(response.reason.as_deref().is_some_and(|r| r.contains("nothing to delete")), "{name}: {:?}", response.reason);
        }
        assert!(cloud.lambda.init_errors(name).is_empty(), "{name}: init errors {:?}", cloud.lambda.init_errors(name));
        let processes = cloud.lambda.processes(name);
        assert!(
            processes.first().is_some_and(|p| p.init_duration().is_some()),
            "{name}: the bootstrap never asked for an invocation\n{}",
            cloud.lambda.logs(name)
        );
        eprintln!("{name}: {} started (init {:?}) and answered", zip_path.display(), processes[0].init_duration());
    }
}
