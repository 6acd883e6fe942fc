//! In-memory stand-ins for S3, for the engine's unit tests: they count reads and measure
//! the data in flight, and can be told to fail.

use super::store::{ObjectSink, Part, RangeSource};
use bytes::Bytes;
use custom_resource::Error;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

pub struct MemoryObject {
    data: Bytes,
    pub reads: AtomicUsize,
    pub largest_read: AtomicU64,
}

impl MemoryObject {
    pub fn new(data: Vec<u8>) -> Self {
        Self { data: data.into(), reads: AtomicUsize::new(0), largest_read: AtomicU64::new(0) }
    }

    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }
}

impl RangeSource for MemoryObject {
    /// In segments of 16 KiB at most, as a network body arrives.
    async fn read(&self, start: u64, end: u64) -> Result<Vec<Bytes>, Error> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.largest_read.fetch_max(end - start, Ordering::Relaxed);
        let (start, end) = (start as usize, end as usize);
        let range = self.data.get(start..end).map(|s| self.data.slice_ref(s)).ok_or_else(|| Error::new("InvalidRange"))?;
        Ok((0..range.len()).step_by(16 << 10).map(|at| range.slice(at..(at + (16 << 10)).min(range.len()))).collect())
    }
}

#[derive(Debug, Default)]
pub struct MemoryBucket {
    pub objects: Mutex<BTreeMap<String, Bytes>>,
    uploads: Mutex<HashMap<String, BTreeMap<i32, Bytes>>>,
    next_upload: AtomicUsize,
    pub aborted: AtomicUsize,
    in_flight: AtomicUsize,
    pub peak_in_flight: AtomicUsize,
    /// Writes of keys containing this fail (with a non-retryable error).
    pub fail_on: Mutex<Option<String>>,
    pub delay: Duration,
    /// Keeps a copy of each body and drops the body itself, as a request sent over the
    /// network does: part buffers then come back and are used again.
    pub let_go: bool,
}

impl MemoryBucket {
    pub fn with_delay(delay: Duration) -> Self {
        Self { delay, ..Default::default() }
    }

    pub fn letting_go(delay: Duration) -> Self {
        Self { delay, let_go: true, ..Default::default() }
    }

    /// What the bucket keeps of a body it received.
    fn keep(&self, body: Bytes) -> Bytes {
        if self.let_go { Bytes::copy_from_slice(&body) } else { body }
    }

    pub fn keys(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.objects.lock().unwrap().get(key).cloned()
    }

    pub fn open_uploads(&self) -> usize {
        self.uploads.lock().unwrap().len()
    }

    /// Holds `body` for the bucket's delay, as a request in flight would.
    async fn transfer(&self, key: &str, body: &Bytes) -> Result<(), Error> {
        let now = self.in_flight.fetch_add(body.len(), Ordering::SeqCst) + body.len();
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.in_flight.fetch_sub(body.len(), Ordering::SeqCst);
        match self.fail_on.lock().unwrap().as_deref() {
            Some(part) if key.contains(part) => Err(Error::new("PutObject: AccessDenied: injected")),
            _ => Ok(()),
        }
    }
}

impl ObjectSink for MemoryBucket {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), Error> {
        self.transfer(key, &body).await?;
        self.objects.lock().unwrap().insert(key.to_string(), self.keep(body));
        Ok(())
    }

    async fn create_multipart(&self, _key: &str) -> Result<String, Error> {
        let id = format!("upload-{}", self.next_upload.fetch_add(1, Ordering::SeqCst));
        self.uploads.lock().unwrap().insert(id.clone(), BTreeMap::new());
        Ok(id)
    }

    async fn upload_part(&self, key: &str, upload_id: &str, number: i32, body: Bytes) -> Result<Part, Error> {
        self.transfer(key, &body).await?;
        let mut uploads = self.uploads.lock().unwrap();
        let parts = uploads.get_mut(upload_id).ok_or_else(|| Error::new("NoSuchUpload"))?;
        parts.insert(number, self.keep(body));
        Ok(Part { number, etag: format!("etag-{number}"), checksum_crc32: None })
    }

    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: Vec<Part>) -> Result<(), Error> {
        let stored = self.uploads.lock().unwrap().remove(upload_id).ok_or_else(|| Error::new("NoSuchUpload"))?;
        let numbers: Vec<i32> = parts.iter().map(|p| p.number).collect();
        if numbers != stored.keys().copied().collect::<Vec<_>>() || numbers.iter().enumerate().any(|(i, n)| *n != i as i32 + 1) {
            return Err(Error::new(format!("InvalidPart: {numbers:?}")));
        }
        let mut whole = Vec::new();
        for body in stored.values() {
            whole.extend_from_slice(body);
        }
        self.objects.lock().unwrap().insert(key.to_string(), whole.into());
        Ok(())
    }

    async fn abort_multipart(&self, _key: &str, upload_id: &str) -> Result<(), Error> {
        self.uploads.lock().unwrap().remove(upload_id);
        self.aborted.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
