//! Entry names (issue 23): the lifecycle-config function holds every entry name of every Asset
//! in memory (as the entry's name and path) from the inspection of the archives until the config
//! is made, so their total is capped (`MAX_NAME_BYTES`, 8 MiB). This measures the peak RSS of
//! the worst combinations the cap still accepts, staged to the end (the most entries: 100,000
//! in one archive, or spread over the most Assets, 20; the longest paths that still fit an S3
//! key under the staging prefix), and of a set just over the cap, which must be refused with
//! the process alive. Goal: peak RSS well under 128 MB.

use std::io::{Cursor, Write};
use std::time::Duration;

use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{CloudFormation, RequestType, Status};
use local_cloud::lambda::FunctionConfig;
use sagemaker_emulator::Options;
use serde_json::{Value, json};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use crate::Settings;
use crate::report::Part;
use crate::util::{binary, format_duration, format_mb, peak_rss_mb, timed_send, wait_init};

const FUNCTION: &str = "studio-lifecycle-config";
const SOURCES: &str = "names-sources";
/// Each case stages into a bucket of its own, `names-staging-<case>`.
const STAGING: &str = "names-staging";
/// The function's cap on the entry names of all Assets (`staging::zip_index::MAX_NAME_BYTES`).
const MAX_NAME_BYTES: usize = 8 << 20;
/// The function's limits on Assets and on entries across them.
const MAX_ASSETS: usize = 20;
const MAX_FILES: usize = 100_000;
/// The goal for the peak RSS, in MB.
const GOAL_MB: f64 = 128.0;

/// A set of Assets: `assets` zips of `entries` one-byte files each, names of `name_len` bytes.
struct Case {
    label: String,
    assets: usize,
    entries: usize,
    name_len: usize,
    /// Over the cap: the function must refuse it (FAILED naming the cap), not stage it.
    refused: bool,
}

impl Case {
    fn name_bytes(&self) -> usize {
        self.assets * self.entries * self.name_len
    }
}

fn cases(smoke: bool) -> Vec<Case> {
    let case =
        |label: &str, assets: usize, entries: usize, name_len: usize, refused: bool| Case { label: label.to_string(), assets, entries, name_len, refused };
    if smoke {
        // The same shapes, tiny: the harness and the function's code paths, not figures.
        return vec![case("2 Assets of 100 entries, 83-byte names", 2, 100, 83, false), case("1 Asset of 50 entries, 900-byte names", 1, 50, 900, false)];
    }
    // 8 MiB / 100,000 = 83.9: the longest names with which the most entries fit the cap.
    let short = MAX_NAME_BYTES / MAX_FILES;
    // Paths that still fit a 1,024-byte S3 key under `lifecycle-assets/<base>/<64 hex>/<asset>/`.
    let long = 900;
    vec![
        case(&format!("1 Asset of {MAX_FILES} entries, {short}-byte names"), 1, MAX_FILES, short, false),
        case(&format!("{MAX_ASSETS} Assets of {} entries, {short}-byte names", MAX_FILES / MAX_ASSETS), MAX_ASSETS, MAX_FILES / MAX_ASSETS, short, false),
        case(
            &format!("{MAX_ASSETS} Assets of {} entries, {long}-byte names", MAX_NAME_BYTES / long / MAX_ASSETS),
            MAX_ASSETS,
            MAX_NAME_BYTES / long / MAX_ASSETS,
            long,
            false,
        ),
        // The first case with names one byte longer: over the cap by 100,000 bytes.
        case(&format!("1 Asset of {} entries, {short}-byte names (over the cap)", MAX_FILES), 1, MAX_FILES, short + 1, true),
    ]
}

/// A name of exactly `len` bytes, unique by `n`, in directories of at most 100 bytes (a file
/// system's name limit is 255, and the local S3 server keeps keys as files).
fn entry_name(n: usize, len: usize) -> String {
    let file = format!("f{n:06}.txt");
    let mut name = String::with_capacity(len);
    while name.len() + file.len() < len {
        let room = len - file.len() - name.len();
        // A directory and its `/`; never leave a 1-byte gap that cannot hold one.
        let dir = if room > 101 {
            100
        } else if room >= 2 {
            room - 1
        } else {
            0
        };
        if dir == 0 {
            break;
        }
        name.push_str(&"d".repeat(dir));
        name.push('/');
    }
    name.push_str(&file);
    if name.len() < len {
        // One byte short (a gap of 1): widen the file name instead.
        name.insert(name.len() - file.len(), 'x');
    }
    name
}

/// A zip of `entries` stored one-byte files with names of `name_len` bytes.
fn names_zip(entries: usize, name_len: usize) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored).unix_permissions(0o644);
    for n in 0..entries {
        let name = entry_name(n, name_len);
        debug_assert_eq!(name.len(), name_len);
        zip.start_file(name, options).map_err(|e| e.to_string())?;
        zip.write_all(b"x").map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

struct Measured {
    seconds: f64,
    peak_rss_mb: f64,
    /// The Reason of a refused set.
    reason: Option<String>,
}

pub async fn run(settings: &Settings) -> Part {
    let cases = cases(settings.smoke);
    let mut results: Vec<Result<Measured, String>> = Vec::new();
    match prepare().await {
        Err(e) => results.extend(cases.iter().map(|_| Err(e.clone()))),
        Ok((cloud, cfn)) => {
            for (i, case) in cases.iter().enumerate() {
                results.push(measure(&cloud, &cfn, case, i).await);
            }
        }
    }
    report(&cases, results)
}

async fn prepare() -> Result<(LocalCloud, CloudFormation), String> {
    let cloud = LocalCloud::start_with(Options { transition_delay: Duration::ZERO, ..Options::default() })
        .await
        .map_err(|e| format!("cannot start the local cloud: {e}"))?;
    cloud.s3.create_bucket(SOURCES).await.map_err(|e| e.to_string())?;
    let mut cfn = cloud.stack("bench-names");
    cfn.set_timeout(Duration::from_secs(900));
    Ok((cloud, cfn))
}

/// Uploads the case's zips, plays a Create in a fresh process, and reads its peak RSS (the
/// highest of its processes, should a continuation have started another).
async fn measure(cloud: &LocalCloud, cfn: &CloudFormation, case: &Case, i: usize) -> Result<Measured, String> {
    let client = cloud.s3.client().await;
    cloud.s3.create_bucket(&format!("{STAGING}-{i}")).await.map_err(|e| e.to_string())?;
    let zip = names_zip(case.entries, case.name_len)?;
    let mut assets = Vec::new();
    for a in 0..case.assets {
        // The same zip under each key: one is enough in the harness's memory.
        let key = format!("case-{i}/asset-{a}.zip");
        let put = client.put_object().bucket(SOURCES).key(&key).body(zip.clone().into()).send().await;
        put.map_err(|e| format!("uploading {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        assets.push(json!({"Name": format!("a{a}"), "SourceBucket": SOURCES, "SourceKey": key}));
    }
    drop(zip);

    let name = format!("{FUNCTION}-names-{i}");
    let mut config = FunctionConfig::new(&name, binary(FUNCTION)?);
    for (env, value) in cloud.function_env() {
        config = config.env(env, value);
    }
    cloud.lambda.deploy(config).await.map_err(|e| format!("deploy: {e}"))?;
    wait_init(&cloud.lambda, &name, Duration::from_secs(60)).await?;
    let props: Value = json!({
        "StudioLifecycleConfigName": format!("names-{i}"),
        "StudioLifecycleConfigAppType": "JupyterLab",
        "Commands": ["echo staged"],
        "Assets": assets,
        "AssetBucket": format!("{STAGING}-{i}"),
        "ServiceTimeout": 3600,
    });
    let event = cfn.event(RequestType::Create, &name, "Names", None, props, None).await.map_err(|e| e.to_string())?;
    let (seconds, reason) = if case.refused {
        let started = std::time::Instant::now();
        let response = cfn.send(&name, event).await.map_err(|e| e.to_string())?;
        let reason = response.reason.clone().unwrap_or_default();
        if response.status != Status::Failed || !reason.contains(&format!("more than {MAX_NAME_BYTES} bytes")) {
            return Err(format!("expected FAILED naming the cap, got {:?}: {reason}", response.status));
        }
        (started.elapsed().as_secs_f64(), Some(reason))
    } else {
        let (elapsed, _) = timed_send(cfn, &cloud.lambda, &name, event).await?;
        (elapsed.as_secs_f64(), None)
    };
    let processes = cloud.lambda.processes(&name);
    if case.refused && processes.len() != 1 {
        return Err(format!("{} processes: the one that refused did not live on", processes.len()));
    }
    let mut peak: f64 = 0.0;
    for process in processes {
        peak = peak.max(peak_rss_mb(process.pid)?);
    }
    // The sources take the local S3 server's disk (up to 20 zips of 13 MB); the staged files
    // (each case stages into a bucket of its own) go with the server's directory at the end.
    let sources = cloud.s3.root().join(SOURCES).join(format!("case-{i}"));
    std::fs::remove_dir_all(&sources).map_err(|e| format!("{}: {e}", sources.display()))?;
    Ok(Measured { seconds, peak_rss_mb: peak, reason })
}

fn report(cases: &[Case], results: Vec<Result<Measured, String>>) -> Part {
    let mut md = format!(
        "### Entry names\n\n`{FUNCTION}` on sets of Assets whose entry names add up to the cap \
         ({} MiB across all Assets) in the shapes that cost it most memory, staged to the end \
         (from the Create event to the response, a fresh process), and a set just over the cap, \
         refused (FAILED naming the cap) by a process that lives on. Peak RSS: VmHWM. Goal: \
         under {GOAL_MB:.0} MB.\n\n\
         | Assets × entries, name length | names | outcome | time | peak RSS |\n|---|---:|---|---:|---:|\n",
        MAX_NAME_BYTES >> 20
    );
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (case, result) in cases.iter().zip(results) {
        let names = format!("{:.2} MiB", case.name_bytes() as f64 / f64::from(1 << 20));
        match result {
            Ok(m) => {
                let outcome = if m.reason.is_some() { "refused, process alive" } else { "staged" };
                md.push_str(&format!("| {} | {names} | {outcome} | {} | {} |\n", case.label, format_duration(m.seconds), format_mb(m.peak_rss_mb)));
                if m.peak_rss_mb >= GOAL_MB {
                    errors.push(format!("names, {}: peak RSS {} is not under {GOAL_MB:.0} MB", case.label, format_mb(m.peak_rss_mb)));
                }
                rows.push(json!({"case": case.label, "assets": case.assets, "entries": case.entries, "name_len": case.name_len,
                    "name_bytes": case.name_bytes(), "refused": case.refused, "seconds": m.seconds, "peak_rss_mb": m.peak_rss_mb}));
            }
            Err(e) => {
                md.push_str(&format!("| {} | {names} | not measured: {} | | |\n", case.label, e.lines().next().unwrap_or_default().replace('|', "/")));
                errors.push(format!("names, {}: {e}", case.label));
                rows.push(json!({"case": case.label, "error": e}));
            }
        }
    }
    Part { markdown: md, json: json!({"cap_bytes": MAX_NAME_BYTES, "goal_mb": GOAL_MB, "rows": rows}), errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_have_the_length_asked_and_short_directories() {
        for len in [12, 13, 83, 84, 100, 111, 112, 113, 900, 1000] {
            for n in [0, 7, 99_999] {
                let name = entry_name(n, len);
                assert_eq!(name.len(), len, "{name}");
                assert!(name.split('/').all(|part| !part.is_empty() && part.len() <= 101), "{name}");
            }
        }
        assert_ne!(entry_name(1, 83), entry_name(2, 83));
    }

    #[test]
    fn the_accepted_cases_are_at_the_cap_and_within_the_other_limits() {
        for case in cases(false) {
            assert!(case.assets <= MAX_ASSETS && case.assets * case.entries <= MAX_FILES, "{}", case.label);
            assert_eq!(case.name_bytes() > MAX_NAME_BYTES, case.refused, "{}: {} name bytes", case.label, case.name_bytes());
            if !case.refused {
                assert!(case.name_bytes() > MAX_NAME_BYTES * 9 / 10, "{}: near the cap", case.label);
            }
        }
    }
}
