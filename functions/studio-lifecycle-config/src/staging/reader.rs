//! Streaming the entries' data: a forward reader over windows of ranged GETs (the next
//! window prefetched while the current one is consumed), and an entry reader that checks the
//! local header, inflates, and verifies size and CRC-32 as the data goes by.

use super::store::RangeSource;
use super::zip_index::{Entry, LOCAL_HEADER_LEN, Method};
use super::{ArchiveError, StagingError};
use bytes::{Buf, Bytes};
use flate2::{Crc, Decompress, FlushDecompress, Status};
use std::sync::Arc;
use tokio::task::JoinHandle;

type Fetch = JoinHandle<Result<Bytes, shared::Error>>;

/// Reads `start..end` of an object front to back, one window per ranged GET. Holds at most
/// two windows: the one being consumed and the prefetched next one.
pub struct SequentialReader<S> {
    source: Arc<S>,
    window: u64,
    /// Absolute position of `buf[0]`.
    pos: u64,
    end: u64,
    buf: Bytes,
    prefetch: Option<(u64, Fetch)>,
}

impl<S: RangeSource> SequentialReader<S> {
    pub fn new(source: Arc<S>, start: u64, end: u64, window: u64) -> Self {
        Self { source, window: window.max(1), pos: start, end, buf: Bytes::new(), prefetch: None }
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Moves to `pos`, keeping the buffered window when `pos` falls inside it.
    pub fn seek(&mut self, pos: u64) {
        if pos >= self.pos && pos - self.pos <= self.buf.len() as u64 {
            self.buf.advance((pos - self.pos) as usize);
        } else {
            self.buf = Bytes::new();
        }
        self.pos = pos;
    }

    fn fetch(&self, start: u64) -> Fetch {
        let source = self.source.clone();
        let end = self.end.min(start.saturating_add(self.window));
        tokio::spawn(async move { source.read(start, end).await })
    }

    /// The bytes available at the current position; empty only at the end of the range.
    pub async fn fill(&mut self) -> Result<&[u8], StagingError> {
        if self.buf.is_empty() && self.pos < self.end {
            let task = match self.prefetch.take() {
                Some((at, task)) if at == self.pos => task,
                stale => {
                    if let Some((_, task)) = stale {
                        task.abort();
                    }
                    self.fetch(self.pos)
                }
            };
            let expected = self.end.min(self.pos.saturating_add(self.window)) - self.pos;
            let bytes = task.await.map_err(|e| shared::Error::new(format!("reading the zip: {e}")))??;
            if bytes.len() as u64 != expected {
                return Err(shared::Error::new(format!(
                    "reading the zip: asked for {expected} bytes at offset {}, got {}",
                    self.pos,
                    bytes.len()
                ))
                .into());
            }
            self.buf = bytes;
            let next = self.pos + expected;
            if next < self.end {
                self.prefetch = Some((next, self.fetch(next)));
            }
        }
        Ok(&self.buf)
    }

    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.advance(n);
        self.pos += n as u64;
    }

    /// Exactly `n` bytes (headers); the range ending first means the zip is truncated.
    pub async fn read_exact(&mut self, n: usize, entry: &str) -> Result<Vec<u8>, StagingError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let available = self.fill().await?;
            if available.is_empty() {
                return Err(ArchiveError::entry(entry, "not a valid zip: the archive ends inside this entry").into());
            }
            let take = available.len().min(n - out.len());
            out.extend_from_slice(&available[..take]);
            self.consume(take);
        }
        Ok(out)
    }
}

impl<S> Drop for SequentialReader<S> {
    fn drop(&mut self) {
        if let Some((_, task)) = self.prefetch.take() {
            task.abort();
        }
    }
}

const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;

/// The data of one entry, produced in chunks of a chosen size and verified on the way.
pub struct EntryData<'r, S> {
    reader: &'r mut SequentialReader<S>,
    entry: &'r Entry,
    inflater: Option<Decompress>,
    compressed_left: u64,
    produced: u64,
    crc: Crc,
}

impl<'r, S: RangeSource> EntryData<'r, S> {
    /// Reads the local header at the reader's position (the entry's header offset) and checks
    /// that it agrees with the central directory.
    pub async fn open(reader: &'r mut SequentialReader<S>, entry: &'r Entry) -> Result<Self, StagingError> {
        let bad = |message: &str| -> StagingError { ArchiveError::entry(entry.name.clone(), format!("not a valid zip: {message}")).into() };
        let header = reader.read_exact(LOCAL_HEADER_LEN as usize, &entry.name).await?;
        let u16_at = |i: usize| u16::from_le_bytes([header[i], header[i + 1]]);
        if u32::from_le_bytes([header[0], header[1], header[2], header[3]]) != LOCAL_HEADER_SIGNATURE {
            return Err(bad("no local header where the central directory points"));
        }
        let method = u16_at(8);
        let (name_len, extra_len) = (u16_at(26) as usize, u16_at(28) as u64);
        let expected_method = match entry.method {
            Method::Stored => 0,
            Method::Deflated => 8,
        };
        if method != expected_method {
            return Err(bad("the local header's compression method differs from the central directory's"));
        }
        // A different local name is a trick to slip a path past tools that read only one.
        let name = reader.read_exact(name_len, &entry.name).await?;
        if name != entry.name.as_bytes() {
            return Err(bad("the local header names a different file than the central directory"));
        }
        let data_start = reader.position() + extra_len;
        if data_start.checked_add(entry.compressed_size).is_none_or(|end| end > entry.next_offset) {
            return Err(bad("the entry's data overlaps the next entry"));
        }
        reader.seek(data_start);
        let inflater = (entry.method == Method::Deflated).then(|| Decompress::new(false));
        Ok(Self { reader, entry, inflater, compressed_left: entry.compressed_size, produced: 0, crc: Crc::new() })
    }

    /// Bytes produced so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    fn error(&self, message: impl Into<String>) -> StagingError {
        ArchiveError::entry(self.entry.name.clone(), message).into()
    }

    /// The next `min(max, remaining)` bytes of the file. With the last chunk, the end of the
    /// compressed stream and the CRC-32 are verified: a corrupt file is never completed.
    pub async fn read_chunk(&mut self, max: usize) -> Result<Bytes, StagingError> {
        let want = (self.entry.size - self.produced).min(max as u64) as usize;
        let mut out = vec![0u8; want];
        let mut filled = 0;
        let mut ended = false;
        while filled < want {
            let (written, end) = self.step(&mut out[filled..]).await?;
            filled += written;
            ended = end;
            if ended && filled < want {
                return Err(self.error(format!("not a valid zip: the data is shorter than its declared {} bytes", self.entry.size)));
            }
        }
        self.produced += want as u64;
        self.crc.update(&out);
        if self.produced == self.entry.size {
            if !ended {
                self.expect_end().await?;
            }
            if self.crc.sum() != self.entry.crc32 {
                return Err(self.error("not a valid zip: CRC-32 mismatch (the data is corrupt)"));
            }
        }
        Ok(Bytes::from(out))
    }

    /// Moves data from the reader into `out`: (bytes written, whether the stream ended).
    async fn step(&mut self, out: &mut [u8]) -> Result<(usize, bool), StagingError> {
        let left = usize::try_from(self.compressed_left).unwrap_or(usize::MAX);
        let input = self.reader.fill().await?;
        let input = &input[..input.len().min(left)];
        let input_empty = input.is_empty();
        let (consumed, written, ended) = match self.inflater.as_mut() {
            None => {
                let take = input.len().min(out.len());
                out[..take].copy_from_slice(&input[..take]);
                (take, take, input_empty)
            }
            Some(inflater) => {
                let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
                let status = inflater.decompress(input, out, FlushDecompress::None).map_err(|e| {
                    ArchiveError::entry(self.entry.name.clone(), format!("not a valid zip: bad deflate data ({e})"))
                })?;
                let consumed = (inflater.total_in() - in_before) as usize;
                let written = (inflater.total_out() - out_before) as usize;
                if status != Status::StreamEnd && consumed == 0 && written == 0 && input_empty {
                    return Err(self.error("not a valid zip: the compressed data ends before the file does"));
                }
                (consumed, written, status == Status::StreamEnd)
            }
        };
        self.reader.consume(consumed);
        self.compressed_left -= consumed as u64;
        Ok((written, ended))
    }

    /// After the declared size: the deflate stream must end here, without another byte.
    async fn expect_end(&mut self) -> Result<(), StagingError> {
        if self.inflater.is_none() {
            return Ok(());
        }
        loop {
            let mut probe = [0u8; 1];
            let (written, ended) = self.step(&mut probe).await?;
            if written > 0 {
                return Err(self.error(format!(
                    "not a valid zip: the data inflates beyond its declared {} bytes",
                    self.entry.size
                )));
            }
            if ended {
                return Ok(());
            }
        }
    }
}
