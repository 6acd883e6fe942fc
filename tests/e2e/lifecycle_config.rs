//! studio-lifecycle-config end to end: the real binary under the Lambda emulator, assets in
//! the local S3 server, configs in the SageMaker emulator. The generated scripts are run with
//! bash against a stand-in `aws` that reads the local S3 server's files, as a Studio app would.

use base64::Engine;
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{Response, Status};
use sagemaker_emulator::Options;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Cursor, Write};
use std::path::Path;
use std::time::Duration;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

const FUNCTION: &str = "studio-lifecycle-config";
const SOURCES: &str = "asset-sources";
const STAGING: &str = "lifecycle-staging";

struct Env {
    cloud: LocalCloud,
    s3: aws_sdk_s3::Client,
    sagemaker: aws_sdk_sagemaker::Client,
}

async fn env() -> Env {
    env_with(&[]).await
}

async fn env_with(function_env: &[(&str, &str)]) -> Env {
    let options = Options { transition_delay: Duration::from_millis(50), ..Options::default() };
    let cloud = LocalCloud::start_with(options).await.expect("local cloud");
    cloud.deploy_with(FUNCTION, Duration::from_secs(900), function_env).await.expect("deploy");
    for bucket in [SOURCES, STAGING] {
        cloud.s3.create_bucket(bucket).await.expect("bucket");
    }
    let s3 = cloud.s3.client().await;
    let sagemaker = cloud.sagemaker_client();
    Env { cloud, s3, sagemaker }
}

impl Env {
    async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.s3.put_object().bucket(bucket).key(key).body(bytes.into()).send().await.expect("put");
    }

    async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let object = self.s3.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("get {key}: {e:?}"));
        object.body.collect().await.expect("body").into_bytes().to_vec()
    }

    /// Keys under `prefix`, relative to it, sorted.
    async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self.s3.list_objects_v2().bucket(bucket).prefix(prefix).set_continuation_token(token).send().await.expect("list");
            keys.extend(page.contents().iter().filter_map(|o| o.key()).map(|k| k[prefix.len()..].to_string()));
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                keys.sort();
                return keys;
            }
        }
    }

    async fn create(&self, logical_id: &str, properties: Value) -> Response {
        self.cloud.cfn.create(FUNCTION, logical_id, properties).await.expect("a valid response")
    }

    async fn update(&self, logical_id: &str, physical_id: &str, properties: Value, old: Value) -> Response {
        self.cloud.cfn.update(FUNCTION, logical_id, physical_id, properties, old).await.expect("a valid response")
    }

    async fn delete(&self, logical_id: &str, physical_id: &str, properties: Value) -> Response {
        self.cloud.cfn.delete(FUNCTION, logical_id, physical_id, properties).await.expect("a valid response")
    }

    /// The config's script, decoded; None if there is no such config.
    async fn script(&self, name: &str) -> Option<String> {
        let config = self.sagemaker.describe_studio_lifecycle_config().studio_lifecycle_config_name(name).send().await.ok()?;
        let content = config.studio_lifecycle_config_content().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD.decode(content).expect("base64 content");
        Some(String::from_utf8(bytes).expect("UTF-8 script"))
    }

    async fn tags(&self, arn: &str) -> Vec<(String, String)> {
        // Every page: SageMaker pages ListTags.
        let tags: Vec<_> = self.sagemaker.list_tags().resource_arn(arn).into_paginator().items().send().collect().await;
        tags.into_iter().map(|t| t.expect("ListTags")).map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect()
    }

    /// Runs a generated script as a Studio app would: bash, with `aws` standing in for the
    /// CLI over the local S3 server's files. Returns (success, stdout + stderr, $OUT dir).
    fn run(&self, script: &str) -> (bool, String, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let stub = bin.join("aws");
        std::fs::write(&stub, AWS_STUB).expect("stub");
        std::process::Command::new("chmod").arg("+x").arg(&stub).status().expect("chmod");
        let out = tempfile::tempdir().expect("out");
        std::fs::write(dir.path().join("script.sh"), script).expect("script");
        let output = std::process::Command::new("bash")
            .arg(dir.path().join("script.sh"))
            .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
            .env("LOCAL_S3_ROOT", self.cloud.s3.root())
            .env("OUT", out.path())
            .output()
            .expect("bash");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text, out)
    }
}

/// `aws s3 cp [--recursive] SRC DEST` over the local S3 server's directory (s3s-fs keeps
/// s3://bucket/key at $LOCAL_S3_ROOT/bucket/key); anything else fails loudly.
const AWS_STUB: &str = r#"#!/bin/bash
set -euo pipefail
recursive=0; args=()
for arg in "$@"; do
  case "$arg" in
    --recursive) recursive=1 ;;
    --only-show-errors) ;;
    --*) echo "aws stub: unexpected option $arg" >&2; exit 2 ;;
    *) args+=("$arg") ;;
  esac
done
if [ "${#args[@]}" -ne 4 ] || [ "${args[0]}" != s3 ] || [ "${args[1]}" != cp ]; then echo "aws stub: unsupported: $*" >&2; exit 2; fi
src="$LOCAL_S3_ROOT/${args[2]#s3://}"
if [ "$recursive" = 1 ]; then mkdir -p "${args[3]}"; cp -R "$src/." "${args[3]}"; else cp "$src" "${args[3]}"; fi
"#;

/// Builds a zip as CDK or `aws cloudformation package` would leave it.
struct Zip(zip::ZipWriter<Cursor<Vec<u8>>>);

impl Zip {
    fn new() -> Self {
        Zip(zip::ZipWriter::new(Cursor::new(Vec::new())))
    }
    fn with(mut self, name: &str, data: &[u8], method: CompressionMethod) -> Self {
        self.0.start_file(name, SimpleFileOptions::default().compression_method(method).unix_permissions(0o644)).expect("zip entry");
        self.0.write_all(data).expect("zip data");
        self
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.with(name, data, CompressionMethod::Deflated)
    }
    fn stored(self, name: &str, data: &[u8]) -> Self {
        self.with(name, data, CompressionMethod::Stored)
    }
    fn symlink(mut self, name: &str, target: &str) -> Self {
        self.0.add_symlink(name, target, SimpleFileOptions::default()).expect("symlink");
        self
    }
    fn finish(self) -> Vec<u8> {
        self.0.finish().expect("zip").into_inner()
    }
}

/// Deterministic bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// "s3://bucket/prefix/" -> (bucket, prefix)
fn split_uri(uri: &str) -> (String, String) {
    let rest = uri.strip_prefix("s3://").unwrap_or_else(|| panic!("not an S3 URI: {uri}"));
    let (bucket, prefix) = rest.split_once('/').expect("bucket/prefix");
    (bucket.to_string(), prefix.to_string())
}

fn tools_zip() -> (Vec<u8>, Vec<(&'static str, Vec<u8>)>) {
    let kept = vec![
        ("requirements.txt", b"jupyterlab-git==0.50.0\n".to_vec()),
        ("bin/setup.sh", b"#!/bin/bash\necho setting up\n".to_vec()),
        ("pkg/model.py", b"def train():\n    return 42\n".repeat(500)),
        // Three full 8 MiB parts and a short one: multipart, with part buffers used again.
        ("data/weights.bin", noise(28 << 20, 7)),
        ("empty.txt", Vec::new()),
    ];
    let mut zip = Zip::new();
    for (name, data) in &kept {
        zip = if name.ends_with(".bin") { zip.stored(name, data) } else { zip.file(name, data) };
    }
    let zip = zip.file("pkg/model.pyc", b"\x00compiled").file("pkg/__pycache__/model.cpython-311.pyc", b"cache").finish();
    (zip, kept)
}

fn tools_props(base: &str, commands: Value) -> Value {
    json!({
        "StudioLifecycleConfigName": base,
        "StudioLifecycleConfigAppType": "JupyterLab",
        "Commands": commands,
        "Assets": [{"Name": "tools", "SourceBucket": SOURCES, "SourceKey": "tools.zip", "Exclude": ["*.pyc", "__pycache__"]}],
        "AssetBucket": STAGING,
        "Tags": [{"Key": "team", "Value": "ml"}]
    })
}

#[tokio::test]
async fn assets_are_staged_byte_identical_without_the_excluded_files_and_the_script_copies_them_first() {
    let env = env().await;
    let (zip, kept) = tools_zip();
    env.put(SOURCES, "tools.zip", zip).await;
    let commands = json!([
        "echo first >> \"$OUT/order\"",
        "cp \"$ASSETS_DIR/tools/requirements.txt\" \"$OUT/requirements.txt\"",
        "(cd \"$ASSETS_DIR\" && find . -type f | sort) > \"$OUT/files\"",
        "echo second >> \"$OUT/order\""
    ]);
    let r = env.create("Lifecycle", tools_props("lab", commands)).await;
    r.expect_success();

    let sha = &r.data["ContentSha256"];
    let name = format!("lab-{}", &sha[..10]);
    assert_eq!(r.data["StudioLifecycleConfigName"], name);
    assert_eq!(r.data["StudioLifecycleConfigArn"], r.physical_resource_id);
    assert!(r.physical_resource_id.ends_with(&format!(":studio-lifecycle-config/{name}")), "{}", r.physical_resource_id);
    assert_eq!(r.data["AssetsS3Uri"], format!("s3://{STAGING}/lifecycle-assets/lab/{sha}/"));

    // Staged: exactly the kept files, byte for byte.
    let (bucket, prefix) = split_uri(&r.data["AssetsS3Uri"]);
    let mut expected: Vec<String> = kept.iter().map(|(name, _)| format!("tools/{name}")).collect();
    expected.sort();
    assert_eq!(env.keys(&bucket, &prefix).await, expected);
    for (file, data) in &kept {
        assert!(env.get(&bucket, &format!("{prefix}tools/{file}")).await == *data, "{file} differs");
    }
    // Pinned to this account: every staged PUT names the bucket owner it expects.
    let puts = env.cloud.s3.recorded_puts(&format!("/{STAGING}/"));
    assert!(!puts.is_empty());
    for put in &puts {
        assert_eq!(put.header("x-amz-expected-bucket-owner"), Some(local_cloud::ACCOUNT_ID), "{}", put.path);
    }

    // The script: shebang, strict mode, ASSETS_DIR, the copy, then the commands in order.
    let script = env.script(&name).await.expect("the config exists");
    assert!(script.starts_with("#!/bin/bash\n"), "{script}");
    let at = |needle: &str| script.find(needle).unwrap_or_else(|| panic!("{needle:?} not in:\n{script}"));
    assert!(at("set -euo pipefail") < at("export ASSETS_DIR="));
    assert!(at("export ASSETS_DIR=") < at(&format!("aws s3 cp --recursive --only-show-errors 's3://{STAGING}/lifecycle-assets/lab/{sha}/tools/'")));
    assert!(at("aws s3 cp") < at("echo first") && at("echo first") < at("echo second"));

    // And it works: run it as the app would.
    let (ok, output, out) = env.run(&script);
    let _ = std::fs::remove_dir_all(format!("/tmp/lifecycle-assets/{name}"));
    assert!(ok, "the script failed:\n{output}");
    assert_eq!(std::fs::read_to_string(out.path().join("order")).unwrap(), "first\nsecond\n");
    assert_eq!(std::fs::read(out.path().join("requirements.txt")).unwrap(), kept[0].1);
    let files = std::fs::read_to_string(out.path().join("files")).unwrap();
    assert_eq!(files.lines().count(), kept.len(), "{files}");
    assert!(!files.contains(".pyc"), "{files}");
}

#[tokio::test]
async fn the_same_input_gives_the_same_name_and_new_content_a_new_config() {
    let env = env().await;
    let files: [(&str, &[u8]); 2] = [("a.txt", b"alpha"), ("dir/b.txt", b"beta")];
    env.put(SOURCES, "tools.zip", Zip::new().file(files[0].0, files[0].1).file(files[1].0, files[1].1).finish()).await;
    let props = tools_props("same", json!(["echo hello"]));
    let first = env.create("Lifecycle", props.clone()).await;
    first.expect_success();
    let r = env.delete("Lifecycle", &first.physical_resource_id, props.clone()).await;
    r.expect_success();
    assert_eq!(env.script(&first.data["StudioLifecycleConfigName"]).await, None, "deleted");

    // The same files zipped again, in another order and compression: the same config.
    env.put(SOURCES, "tools.zip", Zip::new().stored(files[1].0, files[1].1).file(files[0].0, files[0].1).finish()).await;
    let again = env.create("Lifecycle", props.clone()).await;
    again.expect_success();
    assert_eq!(again.physical_resource_id, first.physical_resource_id);
    assert_eq!(again.data, first.data);

    // A tag edit changes the config in place.
    let mut retagged = props.clone();
    retagged["Tags"] = json!([{"Key": "team", "Value": "research"}]);
    let r = env.update("Lifecycle", &again.physical_resource_id, retagged.clone(), props.clone()).await;
    r.expect_success();
    assert_eq!(r.physical_resource_id, again.physical_resource_id);
    assert!(env.tags(&r.physical_resource_id).await.contains(&("team".to_string(), "research".to_string())));

    // New commands: a new config with a new name; the old one stays until CloudFormation's cleanup.
    let changed = tools_props("same", json!(["echo hello", "echo again"]));
    let mut changed = changed;
    changed["Tags"] = retagged["Tags"].clone();
    let replaced = env.update("Lifecycle", &again.physical_resource_id, changed.clone(), retagged.clone()).await;
    replaced.expect_success();
    assert_ne!(replaced.physical_resource_id, again.physical_resource_id);
    assert_ne!(replaced.data["StudioLifecycleConfigName"], again.data["StudioLifecycleConfigName"]);
    assert!(env.script(&again.data["StudioLifecycleConfigName"]).await.is_some());

    let cleanup = env.delete("Lifecycle", &again.physical_resource_id, retagged).await;
    cleanup.expect_success();
    assert_eq!(env.script(&again.data["StudioLifecycleConfigName"]).await, None);
    let (bucket, old_prefix) = split_uri(&again.data["AssetsS3Uri"]);
    assert!(env.keys(&bucket, &old_prefix).await.is_empty(), "the old config's assets are removed");
    let (_, new_prefix) = split_uri(&replaced.data["AssetsS3Uri"]);
    assert_eq!(env.keys(&bucket, &new_prefix).await, ["tools/a.txt", "tools/dir/b.txt"], "the new config's assets stay");
}

/// The one tag policy: a tags-only Update removes only keys the old template had.
#[tokio::test]
async fn a_tag_set_outside_the_template_survives_a_tags_only_update() {
    let env = env().await;
    env.put(SOURCES, "tools.zip", Zip::new().file("a.txt", b"alpha").finish()).await;
    let mut props = tools_props("outside", json!(["echo hello"]));
    props["Tags"] = json!([{"Key": "team", "Value": "ml"}, {"Key": "stage", "Value": "dev"}]);
    let created = env.create("Lifecycle", props.clone()).await;
    created.expect_success();
    let arn = created.physical_resource_id.clone();
    let outside = aws_sdk_sagemaker::types::Tag::builder().key("cost-center").value("42").build();
    env.sagemaker.add_tags().resource_arn(&arn).tags(outside).send().await.expect("AddTags");

    let mut retagged = props.clone();
    retagged["Tags"] = json!([{"Key": "team", "Value": "research"}]);
    let name = created.data["StudioLifecycleConfigName"].clone();
    assert_eq!(created.reason.as_deref(), Some(format!("created lifecycle config {name}").as_str()));
    let r = env.update("Lifecycle", &arn, retagged, props).await;
    r.expect_success();
    assert_eq!(r.physical_resource_id, arn);
    assert_eq!(r.reason.as_deref(), Some(format!("updated lifecycle config {name}: tags set: team=research; tags removed: stage").as_str()));
    let tags = env.tags(&arn).await;
    assert!(tags.contains(&("team".to_string(), "research".to_string())), "{tags:?}");
    assert!(!tags.iter().any(|(k, _)| k == "stage"), "the old template's tag is removed: {tags:?}");
    assert!(tags.contains(&("cost-center".to_string(), "42".to_string())), "not the template's: it stays: {tags:?}");
}

#[tokio::test]
async fn an_oversize_script_is_staged_and_run_by_a_verifying_bootstrap() {
    let env = env().await;
    let mut commands: Vec<String> = (0..400).map(|i| format!("echo \"line {i:03} of a long lifecycle script\" >> \"$OUT/lines\"")).collect();
    commands.push("echo done > \"$OUT/done\"".into());
    let props = json!({
        "StudioLifecycleConfigName": "big",
        "StudioLifecycleConfigAppType": "CodeEditor",
        "Commands": commands,
        "AssetBucket": STAGING,
        "AssetPrefix": "team/scripts/"
    });

    // Without a bucket to stage it to, the Reason says what to do; nothing is cut.
    let mut no_bucket = props.clone();
    no_bucket.as_object_mut().unwrap().remove("AssetBucket");
    let r = env.create("Lifecycle", no_bucket).await;
    assert_eq!(r.status, Status::Failed);
    let reason = r.reason.unwrap_or_default();
    assert!(reason.starts_with("Invalid property Commands: the lifecycle script is") && reason.contains("set AssetBucket"), "{reason}");

    let r = env.create("Lifecycle", props).await;
    r.expect_success();
    let sha = &r.data["ContentSha256"];
    let script_uri = format!("s3://{STAGING}/team/scripts/big/{sha}/lifecycle-script.sh");
    assert_eq!(r.data["AssetsS3Uri"], format!("s3://{STAGING}/team/scripts/big/{sha}/"));
    let bootstrap = env.script(&r.data["StudioLifecycleConfigName"]).await.expect("config");
    assert!(bootstrap.len() < 1024 && bootstrap.contains(&script_uri), "{bootstrap}");
    let full = env.get(STAGING, &format!("team/scripts/big/{sha}/lifecycle-script.sh")).await;
    assert!(full.len() > 16384 / 4 * 3, "the full script is staged: {} bytes", full.len());
    assert!(bootstrap.contains(&hex::encode(Sha256::digest(&full))));

    let (ok, output, out) = env.run(&bootstrap);
    assert!(ok, "the bootstrap failed:\n{output}");
    assert_eq!(std::fs::read_to_string(out.path().join("lines")).unwrap().lines().count(), 400);
    assert_eq!(std::fs::read_to_string(out.path().join("done")).unwrap(), "done\n");

    // A staged script that was tampered with is not run.
    let mut tampered = full.clone();
    tampered.extend_from_slice(b"echo injected > \"$OUT/injected\"\n");
    env.put(STAGING, &format!("team/scripts/big/{sha}/lifecycle-script.sh"), tampered).await;
    let (ok, output, out) = env.run(&bootstrap);
    assert!(!ok && output.contains("does not match sha256"), "{output}");
    assert!(!out.path().join("injected").exists());
}

#[tokio::test]
async fn unsafe_archives_are_refused_before_anything_is_staged() {
    let env = env().await;
    let mut truncated = Zip::new().file("a.txt", b"fine").finish();
    truncated.truncate(truncated.len() - 8);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "slip.zip",
            Zip::new().file("ok.txt", b"ok").file("../../home/sagemaker-user/.bashrc", b"evil").finish(),
            "entry \"../../home/sagemaker-user/.bashrc\": `..` in the path",
        ),
        ("absolute.zip", Zip::new().file("/etc/profile.d/evil.sh", b"evil").finish(), "entry \"/etc/profile.d/evil.sh\": absolute path"),
        (
            "symlink.zip",
            Zip::new().file("ok.txt", b"ok").symlink("credentials", "/root/.aws/credentials").finish(),
            "entry \"credentials\": symbolic links are not allowed",
        ),
        ("bomb.zip", Zip::new().file("zeros.bin", &vec![0u8; 64 << 20]).finish(), "compression ratio"),
        ("truncated.zip", truncated, "not a valid zip: no end of central directory record"),
        ("text.zip", b"just some text, not an archive".to_vec(), "not a valid zip"),
    ];
    for (key, zip, problem) in cases {
        env.put(SOURCES, key, zip).await;
        let mut props = tools_props("unsafe", json!(["echo hi"]));
        props["Assets"][0]["SourceKey"] = json!(key);
        let r = env.create("Lifecycle", props).await;
        assert_eq!(r.status, Status::Failed, "{key}");
        let reason = r.reason.unwrap_or_default();
        assert!(reason.starts_with(&format!("Assets[0] (tools, s3://{SOURCES}/{key}) refused: ")), "{key}: {reason}");
        assert!(reason.contains(problem), "{key}: {reason}");
        assert_eq!(r.physical_resource_id, format!("create-failed:{}", r.request_id));
    }
    // A corrupt file found mid-way: what was staged before it is removed again.
    let mut corrupt = Zip::new().stored("a.bin", &noise(300_000, 1)).stored("b.bin", &noise(300_000, 2)).finish();
    corrupt[300_100] ^= 0xFF; // inside b.bin's data
    env.put(SOURCES, "corrupt.zip", corrupt).await;
    let mut props = tools_props("unsafe", json!(["echo hi"]));
    props["Assets"][0]["SourceKey"] = json!("corrupt.zip");
    let r = env.create("Lifecycle", props).await;
    assert!(r.reason.as_deref().unwrap_or_default().contains("entry \"b.bin\": not a valid zip: CRC-32 mismatch"), "{:?}", r.reason);

    assert!(env.keys(STAGING, "").await.is_empty(), "nothing staged is left");
    assert_eq!(env.cloud.sagemaker.call_count("CreateStudioLifecycleConfig"), 0);
}

/// A one-entry stored zip written byte by byte: the zip crate refuses names this long.
fn stored_zip(name: &str, data: &[u8], crc32: u32) -> Vec<u8> {
    let (n, len) = (name.len() as u16, data.len() as u32);
    let mut zip = Vec::new();
    zip.extend(0x0403_4b50u32.to_le_bytes());
    zip.extend([20u16, 0, 0, 0, 0].iter().flat_map(|v| v.to_le_bytes()));
    zip.extend([crc32, len, len].iter().flat_map(|v| v.to_le_bytes()));
    zip.extend([n, 0].iter().flat_map(|v| v.to_le_bytes()));
    zip.extend(name.as_bytes());
    zip.extend(data);
    let directory = zip.len() as u32;
    zip.extend(0x0201_4b50u32.to_le_bytes());
    zip.extend([20u16, 20, 0, 0, 0, 0].iter().flat_map(|v| v.to_le_bytes()));
    zip.extend([crc32, len, len].iter().flat_map(|v| v.to_le_bytes()));
    zip.extend([n, 0, 0, 0, 0].iter().flat_map(|v| v.to_le_bytes()));
    zip.extend([0u32, 0].iter().flat_map(|v| v.to_le_bytes()));
    zip.extend(name.as_bytes());
    let directory_len = zip.len() as u32 - directory;
    zip.extend(0x0605_4b50u32.to_le_bytes());
    zip.extend([0u16, 0, 1, 1].iter().flat_map(|v| v.to_le_bytes()));
    zip.extend([directory_len, directory].iter().flat_map(|v| v.to_le_bytes()));
    zip.extend(0u16.to_le_bytes());
    zip
}

#[tokio::test]
async fn a_deep_path_zip_is_refused_with_the_process_alive_and_small() {
    let env = env().await;
    // 131 KB: one entry whose path is 65,535 bytes of a/a/a/... (it once made the index
    // allocate about 1 GB and the process abort, answering nothing).
    let deep = stored_zip(&("a/".repeat(32_767) + "a"), b"x", 0x8CDC_1683);
    assert!(deep.len() > 131_000 && deep.len() < 132_000, "{}", deep.len());
    env.put(SOURCES, "deep.zip", deep).await;
    let mut props = tools_props("deep", json!(["echo hi"]));
    props["Assets"][0]["SourceKey"] = json!("deep.zip");
    let r = env.create("Lifecycle", props).await;
    assert_eq!(r.status, Status::Failed);
    let reason = r.reason.unwrap_or_default();
    assert!(reason.starts_with(&format!("Assets[0] (tools, s3://{SOURCES}/deep.zip) refused: ")), "{reason}");
    assert!(reason.contains("the path is 65535 bytes; at most 1024"), "{reason}");

    let processes = env.cloud.lambda.processes(FUNCTION);
    assert_eq!(processes.len(), 1, "the same process served it and lives on");
    let pid = processes[0].pid.expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process is alive");
    let peak_kb: u64 =
        status.lines().find_map(|line| line.strip_prefix("VmHWM:")).and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok()).expect("VmHWM");
    assert!(peak_kb < 100 * 1024, "peak RSS {peak_kb} kB");
}

/// The function's peak RSS so far (VmHWM, kB), reading /proc: the process must be alive.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process is alive");
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")).and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok()).expect("VmHWM")
}

/// A zip of `entries` one-byte files whose names are `name_len` bytes each.
fn long_names_zip(entries: usize, name_len: usize, tag: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored).unix_permissions(0o644);
    for n in 0..entries {
        // <dir of name_len - 11 bytes>/<tag><5 digits>.txt, e.g. xxx...x/a00042.txt
        let name = format!("{}/{tag}{n:05}.txt", "x".repeat(name_len - 11 - tag.len() + 1));
        assert_eq!(name.len(), name_len);
        zip.start_file(name, options).expect("entry");
        zip.write_all(b"x").expect("data");
    }
    zip.finish().expect("zip").into_inner()
}

#[tokio::test]
async fn entry_names_over_the_cap_across_assets_are_refused_naming_it_with_the_process_alive() {
    let env = env().await;
    // Two zips of 4,300 names of 1,000 bytes: each alone is under the 8 MiB cap, together over.
    for (key, tag) in [("names-a.zip", "a"), ("names-b.zip", "b")] {
        env.put(SOURCES, key, long_names_zip(4_300, 1_000, tag)).await;
    }
    let mut props = tools_props("names", json!(["echo hi"]));
    props["Assets"] = json!([
        {"Name": "first", "SourceBucket": SOURCES, "SourceKey": "names-a.zip"},
        {"Name": "second", "SourceBucket": SOURCES, "SourceKey": "names-b.zip"},
    ]);
    let r = env.create("Names", props).await;
    assert_eq!(r.status, Status::Failed, "{:?}", r.reason);
    let reason = r.reason.unwrap_or_default();
    assert!(reason.starts_with(&format!("Assets[1] (second, s3://{SOURCES}/names-b.zip) refused: ")), "{reason}");
    assert!(reason.contains("the entry names of all Assets add up to more than 8388608 bytes (8 MiB), the limit"), "{reason}");
    assert!(env.keys(STAGING, "").await.is_empty(), "nothing staged");
    assert_eq!(env.cloud.sagemaker.call_count("CreateStudioLifecycleConfig"), 0);

    // One of them alone is fine, served by the same process: it lived through the refusal.
    let processes = env.cloud.lambda.processes(FUNCTION);
    assert_eq!(processes.len(), 1, "the same process served it and lives on");
    let pid = processes[0].pid.expect("pid");
    let mut props = tools_props("names", json!(["echo hi"]));
    props["Assets"] = json!([{"Name": "first", "SourceBucket": SOURCES, "SourceKey": "names-a.zip", "Exclude": ["*.txt"]}]);
    let r = env.create("NamesAlone", props).await;
    r.expect_success();
    assert_eq!(env.cloud.lambda.processes(FUNCTION).len(), 1, "no new process");
    assert!(peak_rss_kb(pid) < 100 * 1024, "peak RSS {} kB", peak_rss_kb(pid));
}

#[tokio::test]
async fn delete_while_in_use_retains_the_config_and_its_assets() {
    let env = env().await;
    env.put(SOURCES, "tools.zip", Zip::new().file("a.txt", b"alpha").finish()).await;
    let props = tools_props("in-use", json!(["echo hi"]));
    let r = env.create("Lifecycle", props.clone()).await;
    r.expect_success();
    let arn = r.physical_resource_id.clone();
    let name = r.data["StudioLifecycleConfigName"].clone();
    let (bucket, prefix) = split_uri(&r.data["AssetsS3Uri"]);

    use aws_sdk_sagemaker::types::{AuthMode, JupyterLabAppSettings, UserSettings};
    let settings = UserSettings::builder()
        .execution_role("arn:aws:iam::123456789012:role/studio")
        .jupyter_lab_app_settings(JupyterLabAppSettings::builder().lifecycle_config_arns(&arn).build())
        .build();
    let domain = env
        .sagemaker
        .create_domain()
        .domain_name("uses-config")
        .auth_mode(AuthMode::Iam)
        .default_user_settings(settings)
        .subnet_ids("subnet-0a1b2c3d")
        .vpc_id("vpc-0a1b2c3d")
        .send()
        .await
        .expect("domain");

    let r = env.delete("Lifecycle", &arn, props.clone()).await;
    r.expect_success();
    let reason = r.reason.unwrap_or_default();
    assert!(reason.starts_with("retained: in use") && reason.contains("kept so that it keeps working"), "{reason}");
    assert!(env.script(&name).await.is_some(), "the config is retained");
    assert_eq!(env.keys(&bucket, &prefix).await, ["tools/a.txt"], "its assets are kept");

    // Once nothing uses it, a delete removes both.
    let domain_id = domain.domain_arn().and_then(|a| a.rsplit('/').next()).expect("domain id").to_string();
    env.sagemaker.delete_domain().domain_id(&domain_id).send().await.expect("delete domain");
    for _ in 0..100 {
        match env.sagemaker.describe_domain().domain_id(&domain_id).send().await {
            Err(e) if e.as_service_error().and_then(|e| e.meta().code()) == Some("ResourceNotFound") => break,
            Err(e) => panic!("DescribeDomain: {}", aws_sdk_sagemaker::error::DisplayErrorContext(e)),
            Ok(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = env.delete("Lifecycle", &arn, props).await;
    r.expect_success();
    assert_eq!(env.script(&name).await, None);
    assert!(env.keys(&bucket, &prefix).await.is_empty());
}

#[tokio::test]
async fn retain_assets_keeps_the_staged_files_when_the_config_is_deleted() {
    let env = env().await;
    env.put(SOURCES, "tools.zip", Zip::new().file("a.txt", b"alpha").finish()).await;
    let mut props = tools_props("retained", json!(["echo hi"]));
    props["RetainAssets"] = json!(true);
    let r = env.create("Lifecycle", props.clone()).await;
    r.expect_success();
    let (bucket, prefix) = split_uri(&r.data["AssetsS3Uri"]);
    let d = env.delete("Lifecycle", &r.physical_resource_id, props).await;
    d.expect_success();
    assert!(d.reason.unwrap_or_default().contains("RetainAssets"));
    assert_eq!(env.script(&r.data["StudioLifecycleConfigName"]).await, None, "the config is deleted");
    assert_eq!(env.keys(&bucket, &prefix).await, ["tools/a.txt"], "its assets are kept");
}

#[tokio::test]
async fn delete_leaves_configs_this_stack_did_not_create_and_succeeds_when_gone() {
    let env = env().await;
    let content = base64::engine::general_purpose::STANDARD.encode("#!/bin/bash\necho theirs\n");
    let theirs = env
        .sagemaker
        .create_studio_lifecycle_config()
        .studio_lifecycle_config_name("theirs-0123456789")
        .studio_lifecycle_config_content(content)
        .studio_lifecycle_config_app_type(aws_sdk_sagemaker::types::StudioLifecycleConfigAppType::JupyterLab)
        .send()
        .await
        .expect("config");
    let arn = theirs.studio_lifecycle_config_arn().expect("arn").to_string();
    let props = json!({"StudioLifecycleConfigName": "theirs", "StudioLifecycleConfigAppType": "JupyterLab", "Commands": ["echo"], "AssetBucket": STAGING});
    let r = env.delete("Lifecycle", &arn, props.clone()).await;
    r.expect_success();
    let reason = r.reason.unwrap_or_default();
    assert!(reason.starts_with("retained: lifecycle config theirs-0123456789 is not ours"), "{reason}");
    assert!(env.script("theirs-0123456789").await.is_some(), "left as it is");

    let gone = arn.replace("theirs-0123456789", "gone-abcdef0123");
    let r = env.delete("Lifecycle", &gone, props).await;
    r.expect_success();
    assert_eq!(env.cloud.sagemaker.call_count("DeleteStudioLifecycleConfig"), 0);
}

#[tokio::test]
async fn a_duplicate_delivery_of_the_create_makes_one_config() {
    let env = env().await;
    env.put(SOURCES, "tools.zip", Zip::new().file("a.txt", b"alpha").finish()).await;
    let event = env
        .cloud
        .cfn
        .event(local_cloud::cloudformation::RequestType::Create, FUNCTION, "Lifecycle", None, tools_props("twice", json!(["echo"])), None)
        .await
        .expect("event");
    let request_id = event["RequestId"].as_str().expect("id").to_string();
    for _ in 0..2 {
        env.cloud.lambda.invoke(FUNCTION, event.clone()).await.expect("invoke");
    }
    let bodies: Vec<Value> =
        env.cloud.cfn.puts_for(&request_id).iter().map(|p| serde_json::from_slice(p.body.as_deref().unwrap_or_default()).expect("json")).collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies.iter().all(|b| b["Status"] == "SUCCESS"), "{bodies:?}");
    assert_eq!(bodies[0]["PhysicalResourceId"], bodies[1]["PhysicalResourceId"]);
    assert_eq!(env.cloud.sagemaker.call_count("CreateStudioLifecycleConfig"), 1);
}

#[tokio::test]
async fn staging_resumes_across_steps_when_the_slice_is_short() {
    let env = env_with(&[("STAGING_SLICE_SECONDS", "0")]).await;
    let files: Vec<(String, Vec<u8>)> = (0..6).map(|i| (format!("f{i}.bin"), noise(50_000 + i * 1000, i as u64))).collect();
    let mut zip = Zip::new();
    for (name, data) in &files {
        zip = zip.file(name, data);
    }
    env.put(SOURCES, "tools.zip", zip.finish()).await;
    env.put(SOURCES, "more.zip", Zip::new().file("c.txt", b"charlie").finish()).await;
    let mut props = tools_props("sliced", json!(["echo"]));
    props["Assets"] = json!([
        {"Name": "tools", "SourceBucket": SOURCES, "SourceKey": "tools.zip"},
        {"Name": "more", "SourceBucket": SOURCES, "SourceKey": "more.zip"}
    ]);
    let r = env.create("Lifecycle", props).await;
    r.expect_success();
    let (bucket, prefix) = split_uri(&r.data["AssetsS3Uri"]);
    let keys = env.keys(&bucket, &prefix).await;
    assert_eq!(keys.len(), 7, "{keys:?}");
    for (name, data) in &files {
        assert!(env.get(&bucket, &format!("{prefix}tools/{name}")).await == *data, "{name}");
    }
    let steps = env.cloud.lambda.logs(FUNCTION).matches("\"staged\"").count();
    assert!(steps >= 7, "one file per step: {steps} staging steps");
}

/// The sample events in events/, played in order: create, update (a replacement), the old
/// config's cleanup delete, then the delete of the new one.
#[tokio::test]
async fn the_sample_events_play_through() {
    let env = env().await;
    let read = |file: &str| -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("events").join(file);
        serde_json::from_str(&std::fs::read_to_string(&path).expect("event file")).expect("event JSON")
    };
    let create = read("lifecycle-config-create.json");
    let asset = &create["ResourceProperties"]["Assets"][0];
    let (source_bucket, source_key) = (asset["SourceBucket"].as_str().unwrap(), asset["SourceKey"].as_str().unwrap());
    env.cloud.s3.create_bucket(source_bucket).await.unwrap();
    env.cloud.s3.create_bucket(create["ResourceProperties"]["AssetBucket"].as_str().unwrap()).await.unwrap();
    let zip = Zip::new().file("requirements.txt", b"pandas\n").file("bin/setup.sh", b"echo setup\n").file("bin/setup.pyc", b"x").finish();
    env.put(source_bucket, source_key, zip).await;

    let play = |mut event: Value, physical_id: Option<String>| {
        let env = &env;
        async move {
            let request_id = local_cloud::uuid_v4();
            let logical_id = event["LogicalResourceId"].as_str().unwrap().to_string();
            event["RequestId"] = json!(request_id);
            event["ResponseURL"] = json!(env.cloud.cfn.response_url(&logical_id, &request_id).await.unwrap());
            if let Some(id) = physical_id {
                event["PhysicalResourceId"] = json!(id);
            }
            let r = env.cloud.cfn.send(FUNCTION, event).await.expect("a valid response");
            r.expect_success();
            r
        }
    };
    let created = play(create.clone(), None).await;
    let updated = play(read("lifecycle-config-update.json"), Some(created.physical_resource_id.clone())).await;
    assert_ne!(updated.physical_resource_id, created.physical_resource_id, "new commands: a new config");
    let mut cleanup = read("lifecycle-config-delete.json");
    cleanup["ResourceProperties"] = create["ResourceProperties"].clone();
    play(cleanup, Some(created.physical_resource_id.clone())).await;
    play(read("lifecycle-config-delete.json"), Some(updated.physical_resource_id.clone())).await;
    for r in [&created, &updated] {
        assert_eq!(env.script(&r.data["StudioLifecycleConfigName"]).await, None);
        let (bucket, prefix) = split_uri(&r.data["AssetsS3Uri"]);
        assert!(env.keys(&bucket, &prefix).await.is_empty());
    }
}

/// A config made with RetainAssets, then deleted: its staged files stay (something else may
/// use them). Returns the Create's response.
async fn retained_config(env: &Env, base: &str) -> Response {
    env.put(SOURCES, "tools.zip", Zip::new().file("a.txt", b"alpha").finish()).await;
    let mut props = tools_props(base, json!(["echo hi"]));
    props["RetainAssets"] = json!(true);
    let created = env.create("Lifecycle", props.clone()).await;
    created.expect_success();
    let deleted = env.delete("Lifecycle", &created.physical_resource_id, props).await;
    deleted.expect_success();
    let (bucket, prefix) = split_uri(&created.data["AssetsS3Uri"]);
    assert_eq!(env.keys(&bucket, &prefix).await, ["tools/a.txt"]);
    created
}

/// Issue 22: RetainAssets counts as the template's last completed Create or Update recorded it
/// on the config: a Delete whose properties say otherwise (forged inside the stack's own
/// Delete) keeps the files; an Update that turns it off is what lets them go.
#[tokio::test]
async fn a_delete_keeps_the_assets_the_template_asked_to_retain() {
    let env = env().await;
    env.put(SOURCES, "tools.zip", Zip::new().file("a.txt", b"alpha").finish()).await;
    let mut props = tools_props("kept", json!(["echo hi"]));
    props["RetainAssets"] = json!(true);
    let created = env.create("Lifecycle", props.clone()).await;
    created.expect_success();
    let arn = created.physical_resource_id.clone();
    assert!(env.tags(&arn).await.contains(&("studio-cfn:delete-options".to_string(), "RetainAssets=true".to_string())));
    let (bucket, prefix) = split_uri(&created.data["AssetsS3Uri"]);

    let mut forged = props.clone();
    forged["RetainAssets"] = json!(false);
    let d = env.delete("Lifecycle", &arn, forged.clone()).await;
    d.expect_success();
    let reason = d.reason.unwrap_or_default();
    assert!(reason.contains("are kept (RetainAssets false ignored: the template's last completed Create or Update set RetainAssets to true)"), "{reason}");
    assert_eq!(env.script(&created.data["StudioLifecycleConfigName"]).await, None, "the config is deleted");
    assert_eq!(env.keys(&bucket, &prefix).await, ["tools/a.txt"], "its assets are kept");

    // An Update that turns RetainAssets off (content unchanged: in place) records it.
    let again = env.create("Lifecycle", props.clone()).await;
    again.expect_success();
    let u = env.update("Lifecycle", &again.physical_resource_id, forged.clone(), props).await;
    u.expect_success();
    assert_eq!(u.physical_resource_id, again.physical_resource_id);
    assert!(env.tags(&u.physical_resource_id).await.contains(&("studio-cfn:delete-options".to_string(), "RetainAssets=false".to_string())));
    let d = env.delete("Lifecycle", &u.physical_resource_id, forged).await;
    d.expect_success();
    assert!(env.keys(&bucket, &prefix).await.is_empty(), "removed once the template said so");
}

/// Issue 22: a Delete's properties (AssetBucket, AssetPrefix, the base name) and the config its
/// PhysicalResourceId names are its sender's: inside the sender's own stack's Delete, a Delete
/// naming another stack's config, gone but with its files retained, removes nothing.
#[tokio::test]
async fn a_delete_never_removes_files_another_stack_resource_staged() {
    let env = env().await;
    let victim = retained_config(&env, "shared-tools").await;
    let (bucket, prefix) = split_uri(&victim.data["AssetsS3Uri"]);

    let attacker = env.cloud.stack("attacker");
    let mut forged = tools_props("shared-tools", json!(["echo hi"]));
    forged["RetainAssets"] = json!(false);
    let d = attacker.delete(FUNCTION, "Lifecycle", &victim.physical_resource_id, forged).await.expect("a valid response");
    d.expect_success();
    assert!(d.reason.as_deref().unwrap_or_default().contains("are kept"), "{:?}", d.reason);
    assert_eq!(env.keys(&bucket, &prefix).await, ["tools/a.txt"], "the other stack's files stay");
}

/// Issue 22: identical content under the same AssetBucket, AssetPrefix and base name stages to
/// the same prefix: another stack resource's Create never stages into a prefix this one staged,
/// nor removes it when it fails.
#[tokio::test]
async fn a_create_never_stages_into_nor_removes_a_prefix_another_stack_resource_staged() {
    let env = env().await;
    let victim = retained_config(&env, "shared-tools").await;
    let (bucket, prefix) = split_uri(&victim.data["AssetsS3Uri"]);
    let staged_puts = env.cloud.s3.recorded_puts(&format!("/{STAGING}/")).len();

    // A copy of the victim's properties in another stack, whose config SageMaker then refuses.
    env.cloud.sagemaker.refuse_next("CreateStudioLifecycleConfig", "ValidationException", "Tags are not acceptable");
    let attacker = env.cloud.stack("attacker");
    let r = attacker.create(FUNCTION, "Copy", tools_props("shared-tools", json!(["echo hi"]))).await.expect("a valid response");
    assert_eq!(r.status, Status::Failed);
    let reason = r.reason.unwrap_or_default();
    assert!(reason.contains(&format!("would be staged at s3://{bucket}/{prefix}, which stack local-stack's Lifecycle staged")), "{reason}");
    assert!(reason.contains("give this resource another StudioLifecycleConfigName or AssetPrefix"), "{reason}");
    assert_eq!(env.keys(&bucket, &prefix).await, ["tools/a.txt"], "the victim's files stay");
    assert_eq!(env.cloud.s3.recorded_puts(&format!("/{STAGING}/")).len(), staged_puts, "nothing was written");
}
