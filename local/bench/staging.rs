//! Staging: the lifecycle-config function stages an asset zip from S3 to S3, against the peer
//! (bench/peer/stage.py: what CDK's BucketDeployment does: `aws s3 cp` the zip, unzip it to
//! disk, `aws s3 sync`), on the same local S3 server and the same zips, in the same run. Its
//! floor (issue #27): a raw multipart PUT of the same files, with the function's part size and
//! budgets, from memory.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{CloudFormation, RequestType};
use local_cloud::lambda::FunctionConfig;
use sagemaker_emulator::Options;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use crate::Settings;
use crate::report::Part;
use crate::util::{binary, format_duration, format_mb, format_ratio, median, peak_rss_mb, timed_send, wait_init};

const FUNCTION: &str = "studio-lifecycle-config";
const SOURCES: &str = "bench-sources";
const STAGING: &str = "bench-staging";
/// The function's staging budgets (functions/studio-lifecycle-config/src/staging/mod.rs,
/// `Tuning::default`), which the floor keeps to: part size, bytes and requests in flight.
const PART_SIZE: usize = 8 << 20;
const MEMORY_BUDGET: usize = 16 << 20;
const CONCURRENCY: usize = 32;

/// A data set: `files` files of `size` bytes in one zip.
struct Dataset {
    label: String,
    files: usize,
    size: usize,
    /// The target of issue #7 for this data set, as shown in the table.
    target: &'static str,
}

fn datasets(smoke: bool) -> Vec<Dataset> {
    let (small, large, huge) = if smoke { (20, (2, 1 << 20), 8 << 20) } else { (2000, (5, 200_000_000), 1 << 30) };
    vec![
        Dataset { label: format!("{} files of 4 KB", thousands(small)), files: small, size: 4096, target: "≥ 3x faster" },
        Dataset { label: format!("{} files of {} MB", large.0, large.1 / 1_000_000), files: large.0, size: large.1, target: "≤ 1.3x of floor" },
        Dataset {
            label: if huge >= 1 << 30 { format!("one-file zip of {} GiB", huge >> 30) } else { format!("one-file zip of {} MiB", huge >> 20) },
            files: 1,
            size: huge,
            target: "peak RSS < 64 MB",
        },
    ]
}

/// 2000 -> "2,000"
fn thousands(n: usize) -> String {
    if n >= 1000 { format!("{},{:03}", n / 1000, n % 1000) } else { n.to_string() }
}

#[derive(Default)]
struct Samples {
    seconds: Vec<f64>,
    peak_rss_mb: Vec<f64>,
    error: Option<String>,
}

impl Samples {
    fn medians(&self) -> Option<(f64, f64)> {
        (self.error.is_none() && !self.seconds.is_empty()).then(|| (median(&self.seconds), median(&self.peak_rss_mb)))
    }

    fn record(&mut self, result: Result<(f64, f64), String>, errors: &mut Vec<String>, what: &str) {
        match result {
            Ok((seconds, rss)) => {
                self.seconds.push(seconds);
                self.peak_rss_mb.push(rss);
            }
            Err(e) => {
                errors.push(format!("staging, {what}: {e}"));
                self.error = Some(e.lines().next().unwrap_or_default().to_string());
            }
        }
    }
}

pub async fn run(settings: &Settings) -> Part {
    let runs = settings.runs.min(3);
    let sets = datasets(settings.smoke);
    let mut ours: Vec<Samples> = sets.iter().map(|_| Samples::default()).collect();
    let mut peer: Vec<Samples> = sets.iter().map(|_| Samples::default()).collect();
    let mut floor: Vec<Samples> = sets.iter().map(|_| Samples::default()).collect();
    let mut errors = Vec::new();
    match prepare(&sets).await {
        Err(e) => errors.push(format!("staging: {e}")),
        Ok((cloud, cfn)) => {
            for run in 0..runs {
                for (i, set) in sets.iter().enumerate() {
                    let key = format!("set-{i}.zip");
                    if floor[i].error.is_none() {
                        let result = raw_put(&cloud, set, i, run).await.map(|seconds| (seconds, f64::NAN));
                        floor[i].record(result, &mut errors, &format!("raw PUT floor on {}", set.label));
                    }
                    // Alternate who goes first, so neither always gets the warmer caches.
                    for turn in 0..2 {
                        if (turn + run) % 2 == 0 {
                            if ours[i].error.is_none() {
                                let result = stage_with_function(&cloud, &cfn, &key, set, i, run).await;
                                ours[i].record(result, &mut errors, &format!("{FUNCTION} on {}", set.label));
                            }
                        } else if peer[i].error.is_none() {
                            let result = stage_with_peer(&cloud, settings, &key, set, i, run).await;
                            peer[i].record(result, &mut errors, &format!("peer on {}", set.label));
                        }
                    }
                }
            }
        }
    }
    report(runs, &sets, &ours, &peer, &floor, errors)
}

/// Starts the local cloud and uploads one zip per data set to the sources bucket.
async fn prepare(sets: &[Dataset]) -> Result<(LocalCloud, CloudFormation), String> {
    let cloud = LocalCloud::start_with(Options { transition_delay: Duration::ZERO, ..Options::default() })
        .await
        .map_err(|e| format!("cannot start the local cloud: {e}"))?;
    for bucket in [SOURCES, STAGING] {
        cloud.s3.create_bucket(bucket).await.map_err(|e| e.to_string())?;
    }
    let work = tempfile::Builder::new().prefix("bench-zips-").tempdir().map_err(|e| e.to_string())?;
    let client = cloud.s3.client().await;
    for (i, set) in sets.iter().enumerate() {
        let path = work.path().join(format!("set-{i}.zip"));
        let (files, size) = (set.files, set.size);
        let zip_path = path.clone();
        tokio::task::spawn_blocking(move || write_zip(&zip_path, files, size)).await.map_err(|e| e.to_string())??;
        upload(&client, &format!("set-{i}.zip"), &path).await.map_err(|e| format!("uploading {}: {e}", set.label))?;
        std::fs::remove_file(&path).map_err(|e| e.to_string())?;
    }
    // Its own driver: staging a GiB may take longer than the default wait.
    let mut cfn = cloud.stack("bench-staging");
    cfn.set_timeout(Duration::from_secs(900));
    Ok((cloud, cfn))
}

/// Uploads a file to the sources bucket in 64 MiB parts (the harness stays small in memory).
async fn upload(client: &aws_sdk_s3::Client, key: &str, path: &Path) -> Result<(), String> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use std::io::Read;
    let sdk = |e: &dyn std::fmt::Display| e.to_string();
    let upload = client.create_multipart_upload().bucket(SOURCES).key(key).send().await;
    let upload = upload.map_err(|e| sdk(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
    let id = upload.upload_id().ok_or("no UploadId")?;
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut parts = Vec::new();
    for number in 1.. {
        let mut chunk = Vec::with_capacity(64 << 20);
        (&mut file).take(64 << 20).read_to_end(&mut chunk).map_err(|e| e.to_string())?;
        if chunk.is_empty() && number > 1 {
            break;
        }
        let part = client.upload_part().bucket(SOURCES).key(key).upload_id(id).part_number(number).body(ByteStream::from(chunk)).send().await;
        let part = part.map_err(|e| sdk(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag().map(str::to_string))
                .set_checksum_crc32(part.checksum_crc32().map(str::to_string))
                .build(),
        );
    }
    let parts = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    let completed = client.complete_multipart_upload().bucket(SOURCES).key(key).upload_id(id).multipart_upload(parts).send().await;
    completed.map(drop).map_err(|e| sdk(&aws_sdk_s3::error::DisplayErrorContext(e)))
}

/// Writes `files` files of `size` bytes as a zip to `path`, streaming: small files are text-like
/// and deflated, files over 1 MiB incompressible and stored (as zip tools leave them).
fn write_zip(path: &Path, files: usize, size: usize) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let mut rng = fastrand::Rng::with_seed(6);
    let large = size > 1 << 20;
    let method = if large { CompressionMethod::Stored } else { CompressionMethod::Deflated };
    let options = SimpleFileOptions::default().compression_method(method).unix_permissions(0o644);
    let mut chunk = vec![0u8; size.min(1 << 20)];
    for n in 0..files {
        let name = if large { format!("data/part-{n}.bin") } else { format!("files/{:02}/file-{n:04}.txt", n % 50) };
        zip.start_file(name, options).map_err(|e| e.to_string())?;
        let mut written = 0;
        while written < size {
            let len = (size - written).min(chunk.len());
            if large {
                rng.fill(&mut chunk[..len]);
            } else {
                chunk[..len].iter_mut().for_each(|b| *b = if rng.u8(..16) == 0 { b'\n' } else { rng.u8(b'a'..=b'z') });
            }
            zip.write_all(&chunk[..len]).map_err(|e| e.to_string())?;
            written += len;
        }
    }
    zip.finish().map_err(|e| e.to_string())?;
    Ok(())
}

/// A zip in memory (for the cold-start fixture).
pub fn small_zip(files: &[(&str, &str)]) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        zip.start_file(*name, SimpleFileOptions::default().unix_permissions(0o644)).map_err(|e| e.to_string())?;
        zip.write_all(content.as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

/// One staging by the function: a fresh process (deployed, init done), then the Create event.
/// Returns (seconds until CloudFormation has the response, peak RSS MB).
async fn stage_with_function(cloud: &LocalCloud, cfn: &CloudFormation, key: &str, set: &Dataset, i: usize, run: usize) -> Result<(f64, f64), String> {
    let name = format!("{FUNCTION}-{i}-{run}");
    let mut config = FunctionConfig::new(&name, binary(FUNCTION)?);
    for (env, value) in cloud.function_env() {
        config = config.env(env, value);
    }
    cloud.lambda.deploy(config).await.map_err(|e| format!("deploy: {e}"))?;
    let process = wait_init(&cloud.lambda, &name, Duration::from_secs(60)).await?;
    let props = json!({
        "StudioLifecycleConfigName": format!("bench-{i}-{run}"),
        "StudioLifecycleConfigAppType": "JupyterLab",
        "Commands": ["ls \"$ASSETS_DIR/data\""],
        "Assets": [{"Name": "data", "SourceBucket": SOURCES, "SourceKey": key}],
        "AssetBucket": STAGING,
        "ServiceTimeout": 3600,
    });
    let event = cfn.event(RequestType::Create, &name, "Assets", None, props, None).await.map_err(|e| e.to_string())?;
    let (elapsed, response) = timed_send(cfn, &cloud.lambda, &name, event).await?;
    let rss = peak_rss_mb(process.pid)?;
    let uri = response.data.get("AssetsS3Uri").ok_or("no AssetsS3Uri in the response Data")?;
    let prefix = uri.strip_prefix(&format!("s3://{STAGING}/")).ok_or_else(|| format!("AssetsS3Uri {uri} not in {STAGING}"))?;
    check_and_remove(cloud, prefix, set.files).await?;
    Ok((elapsed.as_secs_f64(), rss))
}

/// One staging by the peer script. Returns (seconds from spawn to exit, peak RSS MB).
async fn stage_with_peer(cloud: &LocalCloud, settings: &Settings, key: &str, set: &Dataset, i: usize, run: usize) -> Result<(f64, f64), String> {
    let home = tempfile::Builder::new().prefix("bench-peer-home-").tempdir().map_err(|e| e.to_string())?;
    // Path-style addressing: the local S3 server is 127.0.0.1:PORT.
    let config = home.path().join("aws-config");
    std::fs::write(&config, "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n").map_err(|e| e.to_string())?;
    let prefix = format!("peer/{i}-{run}/");
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let started = Instant::now();
    let output = tokio::process::Command::new(settings.venv.join("bin/python"))
        .arg(settings.peer.join("stage.py"))
        .arg(format!("s3://{SOURCES}/{key}"))
        .arg(format!("s3://{STAGING}/{prefix}"))
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_ENDPOINT_URL_S3", cloud.s3.endpoint())
        .env("AWS_ACCESS_KEY_ID", local_cloud::s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", local_cloud::s3::SECRET_KEY)
        .env("AWS_DEFAULT_REGION", local_cloud::REGION)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run the peer: {e}"))?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("peer failed ({}): {}{}", output.status, stdout, String::from_utf8_lossy(&output.stderr)));
    }
    let report: Value = stdout.lines().last().and_then(|line| serde_json::from_str(line).ok()).ok_or_else(|| format!("no report from the peer: {stdout}"))?;
    let kb = report["peak_rss_kb"].as_f64().ok_or_else(|| format!("no peak_rss_kb in {report}"))?;
    check_and_remove(cloud, &prefix, set.files).await?;
    Ok((elapsed.as_secs_f64(), kb * 1024.0 / 1e6))
}

/// The floor of staging a data set (issue #27): the same files written to the same local S3
/// server by a plain multipart PUT from memory, with the function's part size, checksum and
/// budgets (requests in flight, bytes in flight): no GET, no unzip, no CRC check. Content does
/// not change the cost (MD5, CRC-32 and disk writes take any bytes alike), so one buffer of
/// random bytes is reused. Returns seconds from the first request to the last answer.
async fn raw_put(cloud: &LocalCloud, set: &Dataset, i: usize, run: usize) -> Result<f64, String> {
    use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
    let client = cloud.s3.client().await;
    let prefix = format!("floor/{i}-{run}/");
    let mut bytes = vec![0u8; set.size.min(PART_SIZE)];
    fastrand::Rng::with_seed(27).fill(&mut bytes);
    let bytes = bytes::Bytes::from(bytes);
    let requests = Arc::new(Semaphore::new(CONCURRENCY));
    let memory = Arc::new(Semaphore::new(MEMORY_BUDGET));
    let sdk = |e: &dyn std::fmt::Display| e.to_string();
    let started = Instant::now();
    let mut files = JoinSet::new();
    for n in 0..set.files {
        let key = format!("{prefix}file-{n}");
        let (client, requests, memory, bytes) = (client.clone(), requests.clone(), memory.clone(), bytes.clone());
        if set.size <= PART_SIZE {
            let permit =
                (memory.acquire_many_owned(set.size as u32).await.map_err(|e| e.to_string())?, requests.acquire_owned().await.map_err(|e| e.to_string())?);
            files.spawn(async move {
                let _permit = permit;
                let put = client.put_object().bucket(STAGING).key(key).body(ByteStream::from(bytes)).send().await;
                put.map(drop).map_err(|e| sdk(&aws_sdk_s3::error::DisplayErrorContext(e)))
            });
            continue;
        }
        let upload = client.create_multipart_upload().bucket(STAGING).key(&key).checksum_algorithm(ChecksumAlgorithm::Crc32).send().await;
        let id = upload.map_err(|e| sdk(&aws_sdk_s3::error::DisplayErrorContext(e)))?.upload_id().unwrap_or_default().to_string();
        let mut parts = Vec::new();
        for number in 1..=set.size.div_ceil(PART_SIZE) as i32 {
            let len = (set.size - (number as usize - 1) * PART_SIZE).min(PART_SIZE);
            let permit = (
                memory.clone().acquire_many_owned(len as u32).await.map_err(|e| e.to_string())?,
                requests.clone().acquire_owned().await.map_err(|e| e.to_string())?,
            );
            let (client, key, id, body) = (client.clone(), key.clone(), id.clone(), bytes.slice(..len));
            parts.push(tokio::spawn(async move {
                let _permit = permit;
                let part = client
                    .upload_part()
                    .bucket(STAGING)
                    .key(key)
                    .upload_id(id)
                    .part_number(number)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .body(ByteStream::from(body))
                    .send()
                    .await;
                let part = part.map_err(|e| sdk(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
                Ok::<_, String>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_string))
                        .set_checksum_crc32(part.checksum_crc32().map(str::to_string))
                        .build(),
                )
            }));
        }
        files.spawn(async move {
            let mut done = Vec::new();
            for part in parts {
                done.push(part.await.map_err(|e| e.to_string())??);
            }
            let parts = CompletedMultipartUpload::builder().set_parts(Some(done)).build();
            let completed = client.complete_multipart_upload().bucket(STAGING).key(key).upload_id(id).multipart_upload(parts).send().await;
            completed.map(drop).map_err(|e| sdk(&aws_sdk_s3::error::DisplayErrorContext(e)))
        });
    }
    while let Some(file) = files.join_next().await {
        file.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    check_and_remove(cloud, &prefix, set.files).await?;
    Ok(elapsed)
}

/// Checks that `files` objects were staged under the prefix, then removes them from the
/// server's directory (s3s-fs keeps s3://bucket/key at <root>/bucket/key), to save disk.
async fn check_and_remove(cloud: &LocalCloud, prefix: &str, files: usize) -> Result<(), String> {
    let client = cloud.s3.client().await;
    let mut pages = client.list_objects_v2().bucket(STAGING).prefix(prefix).into_paginator().send();
    let mut staged = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("ListObjectsV2: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        staged += page.contents().iter().filter(|o| o.key().is_some_and(|k| !k.ends_with(".sh"))).count();
    }
    if staged != files {
        return Err(format!("{staged} objects staged under s3://{STAGING}/{prefix}, expected {files}"));
    }
    let dir = cloud.s3.root().join(STAGING).join(prefix.trim_end_matches('/'));
    std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))
}

fn report(runs: usize, sets: &[Dataset], ours: &[Samples], peer: &[Samples], floor: &[Samples], errors: Vec<String>) -> Part {
    let mut md = format!(
        "### Staging\n\nThe asset zip staged from S3 to S3 on the local S3 server; median of {runs} run(s). \
         `{FUNCTION}`: from the Create event to the response (a fresh process, init done). Peer: \
         `aws s3 cp` the zip + Python `zipfile` extract to disk + `aws s3 sync` (CDK BucketDeployment's \
         way, AWS CLI v1 from PyPI), from start to exit. Floor: the same files PUT from memory by a \
         plain SDK client (parts of {} MiB, CRC-32, at most {} MiB and {CONCURRENCY} requests in \
         flight, as the function), no GET and no unzip. Peak RSS: the function's VmHWM; the peer's \
         largest process.\n\n\
         | data | target | `{FUNCTION}` | floor (raw PUT) | x of floor | peer | speed-up | `{FUNCTION}` peak RSS | peer peak RSS |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
        PART_SIZE >> 20,
        MEMORY_BUDGET >> 20
    );
    let mut rows = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let cell = |s: &Samples, f: &dyn Fn((f64, f64)) -> String| match s.medians() {
            Some(m) => f(m),
            None => format!("not measured: {}", s.error.clone().unwrap_or_else(|| "not run".into()).replace('|', "/")),
        };
        let over = |a: &Samples, b: &Samples| match (a.medians(), b.medians()) {
            (Some(a), Some(b)) => format_ratio(a.0 / b.0),
            _ => "n/a".into(),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            set.label,
            set.target,
            cell(&ours[i], &|m| format_duration(m.0)),
            cell(&floor[i], &|m| format_duration(m.0)),
            over(&ours[i], &floor[i]),
            cell(&peer[i], &|m| format_duration(m.0)),
            over(&peer[i], &ours[i]),
            cell(&ours[i], &|m| format_mb(m.1)),
            cell(&peer[i], &|m| format_mb(m.1)),
        ));
        let side = |s: &Samples| match s.medians() {
            Some((seconds, rss)) if rss.is_nan() => json!({"seconds": seconds}),
            Some((seconds, rss)) => json!({"seconds": seconds, "peak_rss_mb": rss}),
            None => json!({"error": s.error.clone().unwrap_or_else(|| "not run".into())}),
        };
        rows.push(json!({"data": set.label, "target": set.target, "files": set.files, "file_bytes": set.size, "ours": side(&ours[i]), "peer": side(&peer[i]), "floor": side(&floor[i])}));
    }
    Part { markdown: md, json: json!({"runs": runs, "rows": rows}), errors }
}
