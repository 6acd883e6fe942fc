//! The staging engine: copies the files of a zip object in S3 to an S3 prefix by streaming.
//!
//! Nothing is downloaded whole. [`zip_index`] reads the central directory with ranged GETs
//! and refuses unsafe or corrupt archives before any byte is written; [`reader`] streams the
//! entries' data through windows of ranged GETs, inflating and checking each entry's CRC-32;
//! [`upload`] writes the files with bounded concurrency and a bounded memory budget
//! (multipart for large files). Staging works in time slices and resumes from an entry index,
//! so any number of files fits in Lambda's 15 minutes per invocation.

mod buffers;
pub mod exclude;
pub mod reader;
pub mod s3;
pub mod store;
pub mod upload;
pub mod zip_index;

#[cfg(test)]
pub(crate) mod memory;

use buffers::PartBuffers;
use bytes::Bytes;
use reader::{EntryData, SequentialReader};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;
use store::{ObjectSink, RangeSource};
use upload::Uploader;
use zip_index::{Entry, Limits, ZipIndex};

pub use exclude::Exclude;

/// Why an archive is refused: unsafe or corrupt. `entry` names the zip entry at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", entry.as_ref().map(|e| format!("entry {e:?}: ")).unwrap_or_default())]
pub struct ArchiveError {
    pub entry: Option<String>,
    pub message: String,
}

impl ArchiveError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { entry: None, message: message.into() }
    }

    pub fn entry(entry: impl Into<String>, message: impl Into<String>) -> Self {
        Self { entry: Some(entry.into()), message: message.into() }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StagingError {
    #[error("{0}")]
    Archive(#[from] ArchiveError),
    /// An S3 call failed; the reason already reads "Operation: Code: message".
    #[error("{}", .0.reason)]
    Store(custom_resource::Error),
}

impl From<custom_resource::Error> for StagingError {
    fn from(e: custom_resource::Error) -> Self {
        StagingError::Store(e)
    }
}

/// Tuning of the engine. The defaults keep a 128 MB Lambda well inside its memory: at most
/// `memory_budget` of parts plus `(ahead + 2) * window` of zip being read are held (under
/// 64 MB of peak RSS for a 1 GiB file, issue #27), with as many parts in flight as it takes
/// to keep within 1.3x of a raw multipart PUT of the same bytes.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Bytes fetched per ranged GET ...
    pub window: u64,
    /// ... and how many windows are fetched ahead of the one being read, in parallel.
    pub ahead: usize,
    /// Files up to this size are one PUT; larger ones are multipart with parts of this size.
    pub part_size: usize,
    /// Bytes of file data held for uploads at once (the reader waits beyond it).
    pub memory_budget: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self { window: 2 << 20, ahead: 3, part_size: 8 << 20, memory_budget: 16 << 20, concurrency: 32 }
    }
}

/// A zip asset read and checked, ready to stage: the files to copy (excluded ones left out),
/// in the order they are stored, and a digest of exactly what will be staged.
#[derive(Debug, Clone)]
pub struct InspectedZip {
    pub files: Vec<Entry>,
    /// sha256 over the staged files' paths, sizes and CRC-32s, sorted by path: the same files
    /// give the same digest whatever the zip's order or timestamps.
    pub digest: String,
    pub total_size: u64,
    /// How many files the Exclude patterns left out.
    pub excluded: usize,
    /// The lengths of all the zip's entry names (counted against `Limits::max_name_bytes`).
    pub name_bytes: usize,
}

/// Reads the zip's index, refuses what is unsafe, and applies the Exclude patterns.
pub async fn inspect<S: RangeSource>(source: &S, len: u64, exclude: &Exclude, limits: &Limits) -> Result<InspectedZip, StagingError> {
    let ZipIndex { files, name_bytes } = zip_index::read(source, len, limits).await?;
    let total = files.len();
    let files: Vec<Entry> = files.into_iter().filter(|f| !exclude.matches(&f.path)).collect();
    Ok(InspectedZip { digest: digest(&files), total_size: files.iter().map(|f| f.size).sum(), excluded: total - files.len(), name_bytes, files })
}

fn digest(files: &[Entry]) -> String {
    let mut sorted: Vec<&Entry> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hash = Sha256::new();
    for f in sorted {
        hash.update(format!("{}\0{}\0{:08x}\n", f.path, f.size, f.crc32));
    }
    hex::encode(hash.finalize())
}

/// How far a call to [`stage`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// Index into `files` of the first file not yet staged (== files.len() when done).
    pub next: usize,
    pub files: usize,
    pub bytes: u64,
}

/// Copies `zip.files[from..]` to `dest_prefix + path`, starting no new file after `until`.
/// Every file started is finished (or the call fails) before it returns, so `next` is exact.
/// On failure, in-flight uploads are drained and unfinished multipart uploads aborted.
pub async fn stage<S: RangeSource, D: ObjectSink>(
    source: Arc<S>,
    sink: Arc<D>,
    zip: &InspectedZip,
    dest_prefix: &str,
    from: usize,
    until: Instant,
    tuning: &Tuning,
) -> Result<Staged, StagingError> {
    let files = zip.files.get(from..).unwrap_or_default();
    let Some(first) = files.first() else {
        return Ok(Staged { next: zip.files.len(), files: 0, bytes: 0 });
    };
    let end = files.iter().map(|f| f.next_offset).max().unwrap_or(first.next_offset);
    let mut reader = SequentialReader::new(source, first.header_offset, end, tuning.window, tuning.ahead);
    let mut uploader = Uploader::new(sink, tuning);
    let buffers = PartBuffers::new(tuning.part_size, tuning.memory_budget / tuning.part_size.max(1));
    let mut next = from;
    let mut result = Ok(());
    for file in files {
        if Instant::now() >= until && next > from {
            break;
        }
        if let Err(e) = uploader.check() {
            result = Err(e);
            break;
        }
        let key = format!("{dest_prefix}{}", file.path);
        if let Err(e) = stage_file(&mut reader, &mut uploader, &buffers, file, key, tuning.part_size).await {
            result = Err(e);
            break;
        }
        next += 1;
    }
    // Drain even after a failure: nothing is left running, no multipart upload left open.
    let drained = uploader.finish().await;
    result?;
    let (files, bytes) = drained?;
    Ok(Staged { next, files, bytes })
}

async fn stage_file<S: RangeSource, D: ObjectSink>(
    reader: &mut SequentialReader<S>,
    uploader: &mut Uploader<D>,
    buffers: &PartBuffers,
    file: &Entry,
    key: String,
    part_size: usize,
) -> Result<(), StagingError> {
    reader.seek(file.header_offset);
    let mut data = EntryData::open(reader, file).await?;
    if file.size <= part_size as u64 {
        let memory = uploader.reserve(file.size as usize).await?;
        let body = data.read_chunk(buffers, part_size).await?;
        return uploader.put(key, body, file.size, memory).await;
    }
    let mut upload = uploader.begin_multipart(key).await?;
    let parts = file.size.div_ceil(part_size as u64);
    for _ in 0..parts {
        let len = (file.size - data.produced()).min(part_size as u64) as usize;
        let memory = uploader.reserve(len).await?;
        let chunk: Result<Bytes, StagingError> = data.read_chunk(buffers, part_size).await;
        match chunk {
            Ok(chunk) => upload.part(chunk, memory),
            Err(e) => {
                upload.abort().await;
                return Err(e);
            }
        }
        if upload.failed() {
            break;
        }
    }
    uploader.complete(upload, file.size);
    Ok(())
}

#[cfg(test)]
mod tests;
