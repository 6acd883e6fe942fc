//! Locating the workspace's function binaries (and examples) for tests and the demo.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The Lambda functions of the workspace (the binaries template.yaml deploys).
pub const FUNCTIONS: [&str; 5] = ["studio-domain", "studio-user-profile", "studio-space", "studio-lifecycle-config", "studio-signin-url"];

/// Set once the demo has built the functions itself: no further build per process.
static FUNCTIONS_BUILT: OnceLock<()> = OnceLock::new();

/// The demo's build: only the five functions, with cargo's progress on the terminal. The
/// local-cloud package is named too so that cargo resolves the same features as `cargo run`
/// did (local-cloud depends on the functions' libraries for that, see Cargo.toml): no crate is
/// compiled a second time, and no test-only crate (aws-sdk-ec2, the examples) at all.
pub fn build_functions() -> Result<(), String> {
    if std::env::var_os("LOCAL_CLOUD_BIN_DIR").is_some() {
        return Ok(());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace_root()).args(["build", "--bins", "-p", "local-cloud"]);
    for function in FUNCTIONS {
        command.args(["-p", function]);
    }
    if release_profile() {
        command.arg("--release");
    }
    let status = command.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the functions failed ({status})"));
    }
    let _ = FUNCTIONS_BUILT.set(());
    Ok(())
}

/// The path of a workspace binary or example named `name`.
///
/// With LOCAL_CLOUD_BIN_DIR set, binaries are taken from that directory as they are. After
/// [`build_functions`], from the profile's directory as built. Otherwise the workspace's
/// binaries and examples are built once per process, in the profile of the running executable,
/// so that tests always run the current code. If the whole build fails (someone else's crate is
/// broken mid-edit), only the target asked for is built.
///
/// Panics if the build fails (with cargo's output) or the binary does not exist.
pub fn function_binary(name: &str) -> PathBuf {
    let dir = match std::env::var_os("LOCAL_CLOUD_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None if FUNCTIONS_BUILT.get().is_some() => profile_dir(),
        None => {
            let profile_dir = profile_dir();
            if let Err(workspace_failure) = build_workspace()
                && let Err(single_failure) = build_single(name)
            {
                panic!("building {name} failed:\n{single_failure}\nbuilding the workspace failed:\n{workspace_failure}");
            }
            profile_dir
        }
    };
    let candidates = [dir.join(name), dir.join("examples").join(name)];
    match candidates.iter().find(|path| path.is_file()) {
        Some(path) => path.clone(),
        None => panic!("no binary or example named {name:?} in {}", dir.display()),
    }
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn release_profile() -> bool {
    std::env::current_exe().is_ok_and(|exe| exe.to_string_lossy().contains("/release/"))
}

/// target/<profile> (CARGO_TARGET_DIR honoured).
fn profile_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir), // join keeps an absolute dir as it is
        None => workspace_root().join("target"),
    };
    target.join(if release_profile() { "release" } else { "debug" })
}

/// `cargo build --workspace --bins --examples`, once per process.
fn build_workspace() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT.get_or_init(|| cargo_build(&["--bins", "--examples"])).clone()
}

/// Builds only the binary or example `name`, once per process and name.
fn build_single(name: &str) -> Result<(), String> {
    static RESULTS: Mutex<Option<HashMap<String, Result<(), String>>>> = Mutex::new(None);
    let mut results = RESULTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let results = results.get_or_insert_with(HashMap::new);
    results
        .entry(name.to_string())
        .or_insert_with(|| {
            eprintln!("building the whole workspace failed; building only {name}");
            cargo_build(&["--bin", name])
                .or_else(|bin_failure| cargo_build(&["--example", name]).map_err(|example_failure| format!("{bin_failure}\n{example_failure}")))
        })
        .clone()
}

fn cargo_build(selection: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace_root()).args(["build", "--workspace"]).args(selection);
    if release_profile() {
        command.arg("--release");
    }
    let output = command.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo build --workspace {} ({}):\n{}{}",
            selection.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
