//! What the engine reads from and writes to: small traits with an S3 implementation
//! ([`super::s3`]) and an in-memory one for tests.

use bytes::Bytes;
use custom_resource::Error;
use std::future::Future;

/// A zip object: read any byte range of it.
pub trait RangeSource: Send + Sync + 'static {
    /// Bytes `start..end` exactly, in the segments they arrived in.
    fn read(&self, start: u64, end: u64) -> impl Future<Output = Result<Vec<Bytes>, Error>> + Send;
}

/// Segments as one buffer (for the small reads of the zip's index).
pub fn contiguous(segments: Vec<Bytes>) -> Bytes {
    match <[Bytes; 1]>::try_from(segments) {
        Ok([one]) => one,
        Err(segments) => segments.concat().into(),
    }
}

/// A part of a multipart upload, as CompleteMultipartUpload wants it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub number: i32,
    pub etag: String,
    pub checksum_crc32: Option<String>,
}

/// Where staged files go: a bucket, objects addressed by key.
pub trait ObjectSink: Send + Sync + 'static {
    fn put(&self, key: &str, body: Bytes) -> impl Future<Output = Result<(), Error>> + Send;
    /// Starts a multipart upload; returns its upload id.
    fn create_multipart(&self, key: &str) -> impl Future<Output = Result<String, Error>> + Send;
    fn upload_part(&self, key: &str, upload_id: &str, number: i32, body: Bytes) -> impl Future<Output = Result<Part, Error>> + Send;
    fn complete_multipart(&self, key: &str, upload_id: &str, parts: Vec<Part>) -> impl Future<Output = Result<(), Error>> + Send;
    fn abort_multipart(&self, key: &str, upload_id: &str) -> impl Future<Output = Result<(), Error>> + Send;
}
