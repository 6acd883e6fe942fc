//! `bench`: the benchmarks of issue #6 on the local cloud. bench/run builds the binaries, runs
//! this with LOCAL_CLOUD_BIN_DIR set, and draws the chart from results.json.
//!
//! usage: bench [--smoke] [--runs N] [--only cold,staging,names,teardown,sizes]
//!              [--out DIR] [--venv DIR] [--peer DIR]
//! Writes DIR/results.md and DIR/results.json and prints the markdown. Exits 1 when anything
//! could not be measured (what could is still written).

#[path = "bench/cold_start.rs"]
mod cold_start;
#[path = "bench/names.rs"]
mod names;
#[path = "bench/report.rs"]
mod report;
#[path = "bench/sizes.rs"]
mod sizes;
#[path = "bench/staging.rs"]
mod staging;
#[path = "bench/teardown.rs"]
mod teardown;
#[path = "bench/util.rs"]
mod util;

use std::path::PathBuf;
use std::process::ExitCode;

use report::Part;
use serde_json::json;

const PARTS: [&str; 5] = ["cold", "staging", "names", "teardown", "sizes"];

pub struct Settings {
    /// Tiny sizes, one run: proves the benchmark still works (CI).
    pub smoke: bool,
    pub runs: usize,
    pub only: Vec<String>,
    pub out: PathBuf,
    /// The Python venv with awslambdaric, crhelper, boto3 and the AWS CLI.
    pub venv: PathBuf,
    /// bench/peer: the Python peers.
    pub peer: PathBuf,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Settings, String> {
    let mut settings = Settings {
        smoke: false,
        runs: 0,
        only: PARTS.iter().map(|p| p.to_string()).collect(),
        out: PathBuf::from("bench/out"),
        venv: PathBuf::from("target/bench-venv"),
        peer: PathBuf::from("bench/peer"),
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--smoke" => settings.smoke = true,
            "--runs" => settings.runs = value()?.parse().map_err(|_| "--runs needs a number".to_string())?,
            "--only" => settings.only = value()?.split(',').map(str::to_string).collect(),
            "--out" => settings.out = value()?.into(),
            "--venv" => settings.venv = value()?.into(),
            "--peer" => settings.peer = value()?.into(),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(unknown) = settings.only.iter().find(|p| !PARTS.contains(&p.as_str())) {
        return Err(format!("--only: unknown part {unknown:?} (parts: {})", PARTS.join(",")));
    }
    if settings.runs == 0 {
        settings.runs = if settings.smoke { 1 } else { 5 };
    }
    // Absolute: the peers run with their own working directory and environment.
    for path in [&mut settings.venv, &mut settings.peer] {
        *path = std::path::absolute(&*path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(settings)
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match parse(std::env::args().skip(1)) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(2);
        }
    };
    let wanted = |part: &str| settings.only.iter().any(|p| p == part);
    let mut parts: Vec<(&str, Part)> = Vec::new();
    if wanted("cold") {
        eprintln!("bench: cold start ({} run(s))", settings.runs);
        parts.push(("cold_start", cold_start::run(&settings).await));
    }
    if wanted("staging") {
        eprintln!("bench: staging");
        parts.push(("staging", staging::run(&settings).await));
    }
    if wanted("names") {
        eprintln!("bench: entry names");
        parts.push(("names", names::run(&settings).await));
    }
    if wanted("teardown") {
        eprintln!("bench: teardown");
        parts.push(("teardown", teardown::run(&settings).await));
    }
    if wanted("sizes") {
        parts.push(("sizes", sizes::run()));
    }

    let mode = if settings.smoke { "smoke run (tiny sizes, not figures to quote)" } else { "full run" };
    let bin_dir = std::env::var("LOCAL_CLOUD_BIN_DIR").unwrap_or_else(|_| "(built by cargo)".into());
    let mut markdown = format!("## Benchmark results\n\n{mode}; binaries from `{bin_dir}`; {} CPU core(s).\n", cores());
    let mut json = json!({"mode": if settings.smoke { "smoke" } else { "full" }, "runs": settings.runs});
    let mut errors = Vec::new();
    for (name, part) in parts {
        markdown.push('\n');
        markdown.push_str(&part.markdown);
        json[name] = part.json;
        errors.extend(part.errors);
    }
    if !errors.is_empty() {
        markdown.push_str("\n### Not measured\n\n");
        for error in &errors {
            markdown.push_str(&format!("- {}\n", error.lines().next().unwrap_or_default()));
        }
    }
    println!("{markdown}");
    let written = std::fs::create_dir_all(&settings.out)
        .and_then(|()| std::fs::write(settings.out.join("results.md"), &markdown))
        .and_then(|()| std::fs::write(settings.out.join("results.json"), serde_json::to_string_pretty(&json).unwrap_or_default()));
    if let Err(e) = written {
        eprintln!("bench: cannot write to {}: {e}", settings.out.display());
        return ExitCode::FAILURE;
    }
    for error in &errors {
        eprintln!("bench: not measured: {error}");
    }
    if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
