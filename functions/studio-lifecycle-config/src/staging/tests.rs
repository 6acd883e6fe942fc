//! The engine on generated zips, against the in-memory store.

use super::memory::{MemoryBucket, MemoryObject};
use super::zip_index::Limits;
use super::*;
use std::io::{Cursor, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

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

/// Text that compresses a few times over, like source code.
fn text(len: usize) -> Vec<u8> {
    let words = ["import ", "numpy ", "as ", "np\n", "def ", "train(", "data", "):\n", "    return ", "model", ".fit(", "x, y", ")\n"];
    let mut out = Vec::with_capacity(len);
    let mut i = 7usize;
    while out.len() < len {
        i = (i * 31 + 17) % 1009;
        out.extend_from_slice(words[i % words.len()].as_bytes());
    }
    out.truncate(len);
    out
}

struct Zip(zip::ZipWriter<Cursor<Vec<u8>>>);

impl Zip {
    fn new() -> Self {
        Zip(zip::ZipWriter::new(Cursor::new(Vec::new())))
    }
    fn with(mut self, name: &str, data: &[u8], method: CompressionMethod) -> Self {
        let options = SimpleFileOptions::default().compression_method(method).unix_permissions(0o644);
        self.0.start_file(name, options).unwrap();
        self.0.write_all(data).unwrap();
        self
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.with(name, data, CompressionMethod::Deflated)
    }
    fn stored(self, name: &str, data: &[u8]) -> Self {
        self.with(name, data, CompressionMethod::Stored)
    }
    fn dir(mut self, name: &str) -> Self {
        self.0.add_directory(name, SimpleFileOptions::default()).unwrap();
        self
    }
    fn symlink(mut self, name: &str, target: &str) -> Self {
        self.0.add_symlink(name, target, SimpleFileOptions::default()).unwrap();
        self
    }
    fn finish(self) -> Vec<u8> {
        self.0.finish().unwrap().into_inner()
    }
}

/// The offset of the central directory header of `name`.
fn central_header(zip: &[u8], name: &str) -> usize {
    (0..zip.len() - 46)
        .find(|&i| {
            zip[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] && {
                let len = u16::from_le_bytes([zip[i + 28], zip[i + 29]]) as usize;
                zip.get(i + 46..i + 46 + len) == Some(name.as_bytes())
            }
        })
        .unwrap_or_else(|| panic!("no central header for {name}"))
}

fn patch_u16(zip: &mut [u8], at: usize, value: u16) {
    zip[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn patch_u32(zip: &mut [u8], at: usize, value: u32) {
    zip[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn small() -> Tuning {
    Tuning { window: 64 << 10, ahead: 2, part_size: 64 << 10, memory_budget: 256 << 10, concurrency: 4 }
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

async fn inspect_zip(zip: &[u8], exclude: &[&str]) -> Result<InspectedZip, StagingError> {
    let patterns: Vec<String> = exclude.iter().map(|p| p.to_string()).collect();
    let source = MemoryObject::new(zip.to_vec());
    inspect(&source, source.len(), &Exclude::new(&patterns).unwrap(), &Limits::default()).await
}

/// Stages the whole zip in one call; the bucket and what was inspected.
async fn stage_zip(zip: &[u8], exclude: &[&str], tuning: &Tuning) -> Result<(Arc<MemoryBucket>, InspectedZip), StagingError> {
    let inspected = inspect_zip(zip, exclude).await?;
    let bucket = Arc::new(MemoryBucket::default());
    let source = Arc::new(MemoryObject::new(zip.to_vec()));
    let staged = stage(source, bucket.clone(), &inspected, "dest/", 0, later(), tuning).await?;
    assert_eq!(staged.next, inspected.files.len());
    assert_eq!(staged.files, inspected.files.len());
    assert_eq!(staged.bytes, inspected.total_size);
    Ok((bucket, inspected))
}

fn refusal(result: Result<impl std::fmt::Debug, StagingError>) -> ArchiveError {
    match result {
        Err(StagingError::Archive(e)) => e,
        other => panic!("expected the archive to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn files_are_staged_byte_identical_with_excludes_left_out() {
    let big = noise(300 << 10, 1); // multipart: five parts of 64 KiB
    let source_code = text(200 << 10); // deflated, single window boundary crossings
    let zip = Zip::new()
        .file("setup.sh", b"#!/bin/bash\necho hi\n")
        .dir("pkg/")
        .file("pkg/model.py", &source_code)
        .file("pkg/model.pyc", b"\x00compiled")
        .file("pkg/__pycache__/model.cpython-311.pyc", b"cache")
        .stored("data/weights.bin", &big)
        .file("empty.txt", b"")
        .finish();
    let (bucket, inspected) = stage_zip(&zip, &["*.pyc", "__pycache__"], &small()).await.unwrap();
    assert_eq!(bucket.keys(), ["dest/data/weights.bin", "dest/empty.txt", "dest/pkg/model.py", "dest/setup.sh"]);
    assert_eq!(bucket.get("dest/data/weights.bin").unwrap(), big);
    assert_eq!(bucket.get("dest/pkg/model.py").unwrap(), source_code);
    assert_eq!(bucket.get("dest/setup.sh").unwrap(), &b"#!/bin/bash\necho hi\n"[..]);
    assert_eq!(bucket.get("dest/empty.txt").unwrap().len(), 0);
    assert_eq!(inspected.excluded, 2);
    assert_eq!(bucket.open_uploads(), 0);
}

#[tokio::test]
async fn part_buffers_used_again_carry_each_file_byte_identical() {
    // Parts of 64 KiB; sizes that end mid-part, stored and deflated, each file its own bytes:
    // a buffer given back too early, or old bytes left in a used one, would show here.
    let files: Vec<(String, Vec<u8>)> = (0..6).map(|i| (format!("f/{i}.bin"), noise(150_000 + i * 33_333, i as u64 + 10))).collect();
    let text_file = text(400 << 10);
    let mut zip = Zip::new();
    for (name, data) in &files {
        zip = zip.stored(name, data);
    }
    let zip = zip.file("f/text.txt", &text_file).finish();
    let inspected = inspect_zip(&zip, &[]).await.unwrap();
    let bucket = Arc::new(MemoryBucket::letting_go(Duration::from_millis(2)));
    let source = Arc::new(MemoryObject::new(zip));
    stage(source, bucket.clone(), &inspected, "d/", 0, later(), &small()).await.unwrap();
    for (name, data) in &files {
        assert_eq!(bucket.get(&format!("d/{name}")).unwrap(), data, "{name}");
    }
    assert_eq!(bucket.get("d/f/text.txt").unwrap(), text_file);
}

#[tokio::test]
async fn the_digest_depends_on_content_not_on_order_or_timestamps() {
    let a = Zip::new().file("a.txt", b"one").file("b/c.txt", b"two").finish();
    let reordered = Zip::new().stored("b/c.txt", b"two").file("a.txt", b"one").finish();
    let changed = Zip::new().file("a.txt", b"one").file("b/c.txt", b"tw0").finish();
    let digest = |zip: Vec<u8>| async move { inspect_zip(&zip, &[]).await.unwrap().digest };
    assert_eq!(digest(a.clone()).await, digest(reordered).await);
    assert_ne!(digest(a.clone()).await, digest(changed).await);
    // Excluding a file changes what is staged, hence the digest.
    assert_ne!(digest(a.clone()).await, inspect_zip(&a, &["c.txt"]).await.unwrap().digest);
}

#[tokio::test]
async fn staging_resumes_from_the_index_it_returned() {
    let files: Vec<(String, Vec<u8>)> = (0..12).map(|i| (format!("f/{i:02}.bin"), noise(20_000 + i * 7_000, i as u64))).collect();
    let mut zip = Zip::new();
    for (name, data) in &files {
        zip = zip.file(name, data);
    }
    let zip = zip.finish();
    let inspected = inspect_zip(&zip, &[]).await.unwrap();
    let source = Arc::new(MemoryObject::new(zip));
    let bucket = Arc::new(MemoryBucket::default());
    let (mut next, mut calls) = (0, 0);
    while next < inspected.files.len() {
        // A slice that is already over: each call still stages one file.
        let staged = stage(source.clone(), bucket.clone(), &inspected, "d/", next, Instant::now(), &small()).await.unwrap();
        assert_eq!(staged.next, next + 1);
        next = staged.next;
        calls += 1;
    }
    assert_eq!(calls, files.len());
    for (name, data) in &files {
        assert_eq!(bucket.get(&format!("d/{name}")).unwrap(), data, "{name}");
    }
}

#[tokio::test]
async fn memory_in_flight_stays_within_the_budget() {
    let mut zip = Zip::new();
    for i in 0..40 {
        zip = zip.stored(&format!("{i}.bin"), &noise(100 << 10, i));
    }
    let zip = zip.stored("large.bin", &noise(1 << 20, 99)).finish();
    let inspected = inspect_zip(&zip, &[]).await.unwrap();
    let source = Arc::new(MemoryObject::new(zip));
    let bucket = Arc::new(MemoryBucket::with_delay(Duration::from_millis(5)));
    let tuning = Tuning { window: 128 << 10, ahead: 1, part_size: 128 << 10, memory_budget: 512 << 10, concurrency: 32 };
    stage(source.clone(), bucket.clone(), &inspected, "", 0, later(), &tuning).await.unwrap();
    let peak = bucket.peak_in_flight.load(Ordering::SeqCst);
    assert!(peak <= tuning.memory_budget, "peak {peak} bytes in flight");
    assert!(peak > tuning.memory_budget / 2, "uploads ran concurrently: peak {peak}");
    assert!(source.largest_read.load(Ordering::Relaxed) <= tuning.window);
    assert_eq!(bucket.keys().len(), 41);
}

#[tokio::test]
async fn small_files_share_ranged_gets() {
    let mut zip = Zip::new();
    for i in 0..500 {
        zip = zip.file(&format!("small/{i}.txt"), &text(4096 + i));
    }
    let zip = zip.finish();
    let len = zip.len() as u64;
    let (bucket, _) = stage_zip(&zip, &[], &Tuning::default()).await.unwrap();
    assert_eq!(bucket.keys().len(), 500);
    let source = MemoryObject::new(zip);
    let inspected = inspect(&source, len, &Exclude::default(), &Limits::default()).await.unwrap();
    let reads_to_inspect = source.reads.load(Ordering::Relaxed);
    assert!(reads_to_inspect <= 2, "{reads_to_inspect} reads to inspect");
    let source = Arc::new(source);
    stage(source.clone(), Arc::new(MemoryBucket::default()), &inspected, "", 0, later(), &Tuning::default()).await.unwrap();
    let reads = source.reads.load(Ordering::Relaxed) - reads_to_inspect;
    assert!(reads <= (len / Tuning::default().window + 1) as usize, "{reads} ranged GETs for {len} bytes");
}

#[tokio::test]
async fn zip64_archives_are_read() {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().large_file(true);
    writer.start_file("big-format.txt", options).unwrap();
    writer.write_all(&text(100_000)).unwrap();
    let zip = writer.finish().unwrap().into_inner();
    let (bucket, _) = stage_zip(&zip, &[], &small()).await.unwrap();
    assert_eq!(bucket.get("dest/big-format.txt").unwrap(), text(100_000));
}

#[tokio::test]
async fn unsafe_paths_are_refused() {
    for (name, problem) in [
        ("../evil.sh", "`..`"),
        ("a/../../evil.sh", "`..`"),
        ("..\\evil.sh", "`..`"),
        ("/etc/cron.d/evil", "absolute path"),
        ("C:/Windows/evil.dll", "drive letter"),
    ] {
        let zip = Zip::new().file("ok.txt", b"fine").file(name, b"payload").finish();
        let e = refusal(inspect_zip(&zip, &[]).await);
        assert_eq!(e.entry.as_deref(), Some(name));
        assert!(e.message.contains(problem), "{name}: {e}");
    }
}

#[tokio::test]
async fn symlinks_are_refused() {
    let zip = Zip::new().file("ok.txt", b"fine").symlink("passwd", "/etc/passwd").finish();
    let e = refusal(inspect_zip(&zip, &[]).await);
    assert_eq!(e.entry.as_deref(), Some("passwd"));
    assert!(e.message.contains("symbolic link"), "{e}");
}

#[tokio::test]
async fn zip_bombs_are_refused() {
    // A high compression ratio: 50 MiB of zeros deflate to about 50 KiB.
    let zip = Zip::new().file("zeros.bin", &vec![0u8; 50 << 20]).finish();
    let e = refusal(inspect_zip(&zip, &[]).await);
    assert!(e.message.contains("compression ratio") && e.message.contains("zip bomb"), "{e}");

    // Small files of one repeated byte are fine.
    inspect_zip(&Zip::new().file("spaces.txt", &vec![b' '; 100_000]).finish(), &[]).await.unwrap();

    // Overlapping entries: the second points at the first one's data.
    let mut zip = Zip::new().file("a.bin", &text(10_000)).file("b.bin", &text(10_000)).finish();
    let b = central_header(&zip, "b.bin");
    patch_u32(&mut zip, b + 42, 0);
    let e = refusal(inspect_zip(&zip, &[]).await);
    assert!(e.message.contains("overlaps"), "{e}");

    // Declared sizes beyond the total limit.
    let mut zip = Zip::new().file("a.bin", &text(10_000)).finish();
    let a = central_header(&zip, "a.bin");
    patch_u32(&mut zip, a + 24, 0xFFFF_FFF0);
    let source = MemoryObject::new(zip);
    let limits = Limits { max_total_size: 1 << 30, ..Limits::default() };
    let e = refusal(inspect(&source, source.len(), &Exclude::default(), &limits).await);
    assert!(e.message.contains("add up to more than"), "{e}");
}

#[tokio::test]
async fn data_larger_than_declared_is_refused_while_streaming() {
    let mut zip = Zip::new().file("a.txt", &text(100_000)).finish();
    let a = central_header(&zip, "a.txt");
    patch_u32(&mut zip, a + 24, 50_000); // claims 50,000 bytes; inflates to 100,000
    let result = stage_zip(&zip, &[], &small()).await;
    let e = refusal(result);
    assert!(e.message.contains("beyond its declared"), "{e}");
}

#[tokio::test]
async fn corrupt_zips_are_refused() {
    let good = Zip::new().stored("a.bin", &noise(200_000, 3)).file("b.txt", &text(50_000)).finish();

    // Flipped data byte: CRC mismatch, and the multipart upload is aborted, not completed.
    let mut flipped = good.clone();
    flipped[1000] ^= 0xFF;
    let inspected = inspect_zip(&flipped, &[]).await.unwrap();
    let bucket = Arc::new(MemoryBucket::default());
    let source = Arc::new(MemoryObject::new(flipped));
    let e = refusal(stage(source, bucket.clone(), &inspected, "", 0, later(), &small()).await);
    assert!(e.message.contains("CRC-32 mismatch"), "{e}");
    assert!(bucket.get("a.bin").is_none());
    assert_eq!(bucket.open_uploads(), 0);
    assert_eq!(bucket.aborted.load(Ordering::SeqCst), 1);

    // Truncated: the end record is gone.
    let e = refusal(inspect_zip(&good[..good.len() - 10], &[]).await);
    assert!(e.message.contains("no end of central directory"), "{e}");

    // Not a zip at all.
    let e = refusal(inspect_zip(b"this is a text file, not an archive at all", &[]).await);
    assert!(e.message.starts_with("not a valid zip"), "{e}");

    // Encrypted, and compression methods other than store and deflate.
    let mut encrypted = good.clone();
    let b = central_header(&encrypted, "b.txt");
    patch_u16(&mut encrypted, b + 8, 1);
    assert!(refusal(inspect_zip(&encrypted, &[]).await).message.contains("encrypted"));
    let mut deflate64 = good.clone();
    patch_u16(&mut deflate64, b + 10, 9);
    assert!(refusal(inspect_zip(&deflate64, &[]).await).message.contains("deflate64"));

    // The local header naming another file than the central directory.
    let mut renamed = good.clone();
    let local_name = 30; // the first entry's name, right after its local header
    renamed[local_name] = b'x';
    let e = refusal(stage_zip(&renamed, &[], &small()).await);
    assert!(e.message.contains("different file"), "{e}");
}

#[tokio::test]
async fn duplicate_paths_and_file_directory_clashes_are_refused() {
    let zip = Zip::new().file("a/b.txt", b"1").file("a\\b.txt", b"2").finish();
    assert!(refusal(inspect_zip(&zip, &[]).await).message.contains("twice"));
    let zip = Zip::new().file("a", b"1").file("a/b.txt", b"2").finish();
    assert!(refusal(inspect_zip(&zip, &[]).await).message.contains("both a file and a directory"));
}

#[tokio::test]
async fn a_failed_upload_fails_the_staging_and_leaves_no_open_upload() {
    let zip = Zip::new().stored("big.bin", &noise(400 << 10, 5)).file("small.txt", b"hello").finish();
    let inspected = inspect_zip(&zip, &[]).await.unwrap();
    let bucket = Arc::new(MemoryBucket::default());
    *bucket.fail_on.lock().unwrap() = Some("big.bin".into());
    let source = Arc::new(MemoryObject::new(zip));
    let result = stage(source, bucket.clone(), &inspected, "", 0, later(), &small()).await;
    match result {
        Err(StagingError::Store(e)) => assert!(e.reason.contains("AccessDenied"), "{}", e.reason),
        other => panic!("expected a store error, got {other:?}"),
    }
    assert!(bucket.get("big.bin").is_none());
    assert_eq!(bucket.open_uploads(), 0);
}

#[tokio::test]
async fn an_empty_zip_stages_nothing() {
    let (bucket, inspected) = stage_zip(&Zip::new().finish(), &[], &small()).await.unwrap();
    assert!(inspected.files.is_empty());
    assert!(bucket.keys().is_empty());
}

#[tokio::test]
async fn excluded_large_files_are_skipped_without_being_read() {
    let big = noise(2 << 20, 11);
    let zip = Zip::new().file("a.txt", &text(30_000)).stored("skip/big.bin", &big).file("c.txt", &text(40_000)).finish();
    let inspected = inspect_zip(&zip, &["skip"]).await.unwrap();
    let source = Arc::new(MemoryObject::new(zip));
    let bucket = Arc::new(MemoryBucket::default());
    stage(source.clone(), bucket.clone(), &inspected, "", 0, later(), &small()).await.unwrap();
    assert_eq!(bucket.keys(), ["a.txt", "c.txt"]);
    assert_eq!(bucket.get("c.txt").unwrap(), text(40_000));
    let read = source.reads.load(Ordering::Relaxed) as u64 * small().window;
    assert!(read < 1 << 20, "about {read} bytes read for 2 MiB skipped");
}

#[tokio::test]
async fn a_file_under_a_file_is_refused_in_either_order_and_beside_it_is_fine() {
    let zip = Zip::new().file("a/b/c.txt", b"2").file("a/b", b"1").finish();
    assert!(refusal(inspect_zip(&zip, &[]).await).message.contains("both a file and a directory"));
    let zip = Zip::new().file("a", b"1").file("a!", b"2").file("a.b/c", b"3").file("ab/c", b"4").finish();
    assert_eq!(inspect_zip(&zip, &[]).await.unwrap().files.len(), 4);
}

#[tokio::test]
async fn long_and_deep_paths_are_refused_before_any_allocation_grows_with_them() {
    // (tests/e2e/lifecycle_config.rs plays the 65,535-byte path the zip crate cannot write.)
    let deep: String = "a/".repeat(1000) + "a";
    let zip = Zip::new().file(&deep, b"x").finish();
    let e = refusal(inspect_zip(&zip, &[]).await);
    assert!(e.message.contains("at most 1024"), "{e}");
    let nested = "d/".repeat(70) + "f";
    let e = refusal(inspect_zip(&Zip::new().file(&nested, b"x").finish(), &[]).await);
    assert!(e.message.contains("levels deep"), "{e}");
}

#[tokio::test]
async fn many_small_entries_that_compress_too_well_are_refused_as_a_whole() {
    // Each entry is under the per-entry threshold; together they are a bomb.
    let mut zip = Zip::new();
    for i in 0..8 {
        zip = zip.file(&format!("zeros-{i}.bin"), &vec![0u8; 1 << 20]);
    }
    let e = refusal(inspect_zip(&zip.finish(), &[]).await);
    assert!(e.message.contains("over the whole archive"), "{e}");
}

#[tokio::test]
async fn entry_names_are_counted_and_refused_over_the_cap_naming_it() {
    // 3 files of 100-byte names and the directory `dir/`: 304 name bytes in all.
    let name = |i: usize| format!("dir/{}{i}.txt", "n".repeat(91));
    let zip = (0..3).fold(Zip::new().dir("dir/"), |zip, i| zip.file(&name(i), b"x")).finish();
    assert_eq!(name(0).len(), 100);
    let inspected = inspect_zip(&zip, &["*0.txt"]).await.unwrap();
    assert_eq!(inspected.name_bytes, 304, "every entry counts, the directory and excluded files too");
    assert_eq!(inspected.files.len(), 2);

    let source = MemoryObject::new(zip.clone());
    let with_cap = |max_name_bytes: usize| Limits { max_name_bytes, ..Limits::default() };
    let exactly = inspect(&source, source.len(), &Exclude::default(), &with_cap(304)).await.unwrap();
    assert_eq!(exactly.name_bytes, 304, "at the cap: accepted");
    let e = refusal(inspect(&source, source.len(), &Exclude::default(), &with_cap(303)).await);
    assert_eq!(e, zip_index::name_bytes_refusal(303));
    assert!(e.message.starts_with("the entry names of all Assets add up to more than 303 bytes"), "{e}");
    assert!(e.entry.is_none(), "the whole set is refused, not an entry");
}

#[test]
fn the_name_cap_defaults_to_8_mib_and_its_refusal_says_so() {
    assert_eq!(Limits::default().max_name_bytes, 8 << 20);
    let e = zip_index::name_bytes_refusal(Limits::default().max_name_bytes);
    assert!(e.message.contains("more than 8388608 bytes (8 MiB), the limit"), "{e}");
}

#[tokio::test]
async fn tiny_files_wait_for_a_request_slot_before_they_become_tasks() {
    // The memory budget does not hold back 1-byte files: without this, every file of the zip
    // became a task (kilobytes each) while the first requests were in flight.
    let bucket = Arc::new(MemoryBucket::with_delay(Duration::from_millis(2)));
    let tuning = Tuning { concurrency: 4, ..small() };
    let mut uploader = upload::Uploader::new(bucket.clone(), &tuning);
    for i in 0..200 {
        let memory = uploader.reserve(1).await.unwrap();
        uploader.put(format!("f{i}"), Bytes::from_static(b"x"), 1, memory).await.unwrap();
        uploader.check().unwrap();
        assert!(uploader.tasks_alive() <= tuning.concurrency, "{} upload tasks after {i} files", uploader.tasks_alive());
    }
    assert_eq!(uploader.finish().await.unwrap(), (200, 200));
    assert_eq!(bucket.keys().len(), 200);
}
