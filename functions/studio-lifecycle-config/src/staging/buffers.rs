//! Part buffers used again. Every full part of a multipart upload is the same size, and a
//! fresh buffer for each costs its size in page faults and kernel zeroing (buffers of a
//! megabyte or more are mapped on their own, main.rs): a tenth of the function's CPU while it
//! stages. A buffer comes back when the last holder of its bytes (the upload request) lets go.

use bytes::Bytes;
use std::sync::{Arc, Mutex, Weak};

type FreeList = Mutex<Vec<Vec<u8>>>;

pub struct PartBuffers {
    size: usize,
    /// Buffers kept for the next parts; more than the memory budget holds are freed.
    keep: usize,
    free: Arc<FreeList>,
}

impl PartBuffers {
    pub fn new(size: usize, keep: usize) -> Self {
        Self { size, keep, free: Arc::default() }
    }

    /// A buffer of `len` bytes. Its contents are unspecified (a used buffer keeps its old
    /// bytes): the caller overwrites all of them.
    pub fn take(&self, len: usize) -> Vec<u8> {
        if len == self.size
            && let Some(buffer) = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop()
        {
            return buffer;
        }
        vec![0; len]
    }

    /// `buffer` as bytes that give it back here once they are dropped (only a full part's
    /// buffer is kept, and only while this staging runs).
    pub fn share(&self, buffer: Vec<u8>) -> Bytes {
        if buffer.len() != self.size {
            return Bytes::from(buffer);
        }
        Bytes::from_owner(Returned { buffer, free: Arc::downgrade(&self.free), keep: self.keep })
    }
}

struct Returned {
    buffer: Vec<u8>,
    free: Weak<FreeList>,
    keep: usize,
}

impl AsRef<[u8]> for Returned {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Returned {
    fn drop(&mut self) {
        let Some(free) = self.free.upgrade() else { return };
        let mut free = free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.keep {
            free.push(std::mem::take(&mut self.buffer));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_part_buffer_comes_back_once_its_bytes_are_dropped() {
        let buffers = PartBuffers::new(1024, 2);
        let buffer = buffers.take(1024);
        let address = buffer.as_ptr();
        let bytes = buffers.share(buffer);
        let clone = bytes.clone();
        drop(bytes);
        let other = buffers.take(1024);
        assert_ne!(other.as_ptr(), address, "still held by a clone: a new buffer");
        drop(clone);
        let again = buffers.take(1024);
        assert_eq!(again.as_ptr(), address, "given back: used again");
    }

    #[test]
    fn only_full_parts_are_kept_and_no_more_than_the_budget_holds() {
        let buffers = PartBuffers::new(1024, 1);
        drop(buffers.share(vec![0; 100]));
        assert!(buffers.free.lock().unwrap().is_empty(), "a last, shorter part is freed");
        let (a, b) = (buffers.share(buffers.take(1024)), buffers.share(buffers.take(1024)));
        drop((a, b));
        assert_eq!(buffers.free.lock().unwrap().len(), 1);
        assert_eq!(buffers.take(100).len(), 100, "a shorter part gets a buffer of its own size");
    }

    #[test]
    fn buffers_are_freed_once_the_staging_is_over() {
        let buffers = PartBuffers::new(1024, 2);
        let bytes = buffers.share(buffers.take(1024));
        let free = Arc::downgrade(&buffers.free);
        drop(buffers);
        drop(bytes);
        assert!(free.upgrade().is_none());
    }
}
