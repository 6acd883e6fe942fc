//! Uploads with bounded concurrency and bounded memory. The reader reserves memory for a
//! file or part before producing it, so the data in flight never exceeds the budget however
//! large the files; requests in flight are bounded separately.

use super::store::{ObjectSink, Part};
use super::{StagingError, Tuning};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tracing::warn;

/// Bytes of one uploaded file, for the totals.
type Uploaded = Result<u64, StagingError>;

pub struct Uploader<D> {
    sink: Arc<D>,
    memory: Arc<Semaphore>,
    budget: usize,
    requests: Arc<Semaphore>,
    tasks: JoinSet<Uploaded>,
    files: usize,
    bytes: u64,
}

impl<D: ObjectSink> Uploader<D> {
    pub fn new(sink: Arc<D>, tuning: &Tuning) -> Self {
        Self {
            sink,
            memory: Arc::new(Semaphore::new(tuning.memory_budget)),
            budget: tuning.memory_budget,
            requests: Arc::new(Semaphore::new(tuning.concurrency.max(1))),
            tasks: JoinSet::new(),
            files: 0,
            bytes: 0,
        }
    }

    /// Waits until `len` more bytes fit in the budget; released when the permit drops.
    pub async fn reserve(&self, len: usize) -> Result<OwnedSemaphorePermit, StagingError> {
        let len = u32::try_from(len.min(self.budget)).unwrap_or(u32::MAX);
        self.memory.clone().acquire_many_owned(len).await.map_err(|_| custom_resource::Error::new("internal error: the upload budget was closed").into())
    }

    /// Uploads one whole file in the background, once a request slot is free. The slot is
    /// taken before the task exists: a task is as large as its request's future (kilobytes
    /// with the S3 client), and the memory budget does not bound how many tiny files wait, so
    /// tasks spawned ahead of their slot grew with the number of files (1 GB for 100,000).
    pub async fn put(&mut self, key: String, body: Bytes, size: u64, memory: OwnedSemaphorePermit) -> Result<(), StagingError> {
        let request = self.requests.clone().acquire_owned().await.map_err(|_| custom_resource::Error::new("internal error: the request slots were closed"))?;
        let sink = self.sink.clone();
        self.tasks.spawn(async move {
            let _request = request;
            sink.put(&key, body).await?;
            drop(memory);
            Ok(size)
        });
        Ok(())
    }

    pub async fn begin_multipart(&self, key: String) -> Result<Multipart<D>, StagingError> {
        let upload_id = self.sink.create_multipart(&key).await?;
        Ok(Multipart { sink: self.sink.clone(), requests: self.requests.clone(), key, upload_id, parts: Vec::new(), failed: Arc::default() })
    }

    /// Completes the upload in the background once its parts are in (aborts it if one failed).
    pub fn complete(&mut self, upload: Multipart<D>, size: u64) {
        self.tasks.spawn(async move {
            let Multipart { sink, key, upload_id, parts, .. } = upload;
            let mut done = Vec::with_capacity(parts.len());
            let mut failure = None;
            for part in parts {
                match part.await {
                    Ok(Ok(part)) => done.push(part),
                    Ok(Err(e)) => failure = failure.or(Some(e)),
                    Err(e) => failure = failure.or(Some(custom_resource::Error::new(format!("UploadPart: {e}")))),
                }
            }
            if let Some(e) = failure {
                abort(&*sink, &key, &upload_id).await;
                return Err(e.into());
            }
            if let Err(e) = sink.complete_multipart(&key, &upload_id, done).await {
                abort(&*sink, &key, &upload_id).await;
                return Err(e.into());
            }
            Ok(size)
        });
    }

    /// Upload tasks not yet joined (running, or finished since the last `check`).
    #[cfg(test)]
    pub fn tasks_alive(&self) -> usize {
        self.tasks.len()
    }

    /// The first failure among the uploads finished so far, without waiting.
    pub fn check(&mut self) -> Result<(), StagingError> {
        while let Some(joined) = self.tasks.try_join_next() {
            self.record(joined)?;
        }
        Ok(())
    }

    fn record(&mut self, joined: Result<Uploaded, tokio::task::JoinError>) -> Result<(), StagingError> {
        match joined {
            Ok(Ok(bytes)) => {
                self.files += 1;
                self.bytes += bytes;
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(e) => Err(custom_resource::Error::new(format!("an upload task failed: {e}")).into()),
        }
    }

    /// Waits for every upload; (files, bytes) uploaded, or the first failure.
    pub async fn finish(mut self) -> Result<(usize, u64), StagingError> {
        let mut first = None;
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(e) = self.record(joined) {
                first = first.or(Some(e));
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok((self.files, self.bytes)),
        }
    }
}

async fn abort<D: ObjectSink>(sink: &D, key: &str, upload_id: &str) {
    if let Err(e) = sink.abort_multipart(key, upload_id).await {
        warn!(key, error = %e.reason, "could not abort a multipart upload; a bucket lifecycle rule removes it");
    }
}

/// A multipart upload being fed part by part.
pub struct Multipart<D> {
    sink: Arc<D>,
    requests: Arc<Semaphore>,
    key: String,
    upload_id: String,
    parts: Vec<JoinHandle<Result<Part, custom_resource::Error>>>,
    failed: Arc<AtomicBool>,
}

impl<D: ObjectSink> Multipart<D> {
    /// Uploads the next part in the background.
    pub fn part(&mut self, body: Bytes, memory: OwnedSemaphorePermit) {
        let number = self.parts.len() as i32 + 1;
        let (sink, requests, key, upload_id) = (self.sink.clone(), self.requests.clone(), self.key.clone(), self.upload_id.clone());
        let failed = self.failed.clone();
        self.parts.push(tokio::spawn(async move {
            let _request = requests.acquire_owned().await;
            let part = sink.upload_part(&key, &upload_id, number, body).await;
            drop(memory);
            if part.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            part
        }));
    }

    /// Whether a part already failed (no point reading more).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Gives up: waits for the parts in flight, then aborts the upload.
    pub async fn abort(self) {
        for part in self.parts {
            let _ = part.await;
        }
        abort(&*self.sink, &self.key, &self.upload_id).await;
    }
}
