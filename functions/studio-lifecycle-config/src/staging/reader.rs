//! Streaming the entries' data: a forward reader over windows of ranged GETs (the next few
//! fetched in parallel while the current one is consumed), and an entry reader that checks the
//! local header, inflates, and verifies size and CRC-32 as the data goes by.

use super::buffers::PartBuffers;
use super::store::RangeSource;
use super::zip_index::{Entry, LOCAL_HEADER_LEN, Method};
use super::{ArchiveError, StagingError};
use bytes::{Buf, Bytes};
use flate2::{Crc, Decompress, FlushDecompress, Status};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::task::JoinHandle;

type Fetch = JoinHandle<Result<Vec<Bytes>, custom_resource::Error>>;

/// Reads `start..end` of an object front to back, one window per ranged GET, with up to
/// `ahead` further windows fetched in parallel: at most `(ahead + 1) * window` bytes are held.
/// Windows are kept as the segments they arrived in, never copied into one buffer.
pub struct SequentialReader<S> {
    source: Arc<S>,
    window: u64,
    ahead: usize,
    /// Absolute position of the first byte of `segments`.
    pos: u64,
    end: u64,
    segments: VecDeque<Bytes>,
    /// Fetches of the windows that follow `segments`, in order: (start, length, task).
    fetches: VecDeque<(u64, u64, Fetch)>,
}

impl<S: RangeSource> SequentialReader<S> {
    pub fn new(source: Arc<S>, start: u64, end: u64, window: u64, ahead: usize) -> Self {
        Self { source, window: window.max(1), ahead, pos: start, end, segments: VecDeque::new(), fetches: VecDeque::new() }
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Moves to `pos`, keeping what is buffered or being fetched when `pos` falls inside it.
    pub fn seek(&mut self, pos: u64) {
        if pos < self.pos {
            self.reset(pos);
            return;
        }
        let mut skip = pos - self.pos;
        while skip > 0 {
            let Some(front) = self.segments.front_mut() else { break };
            let n = skip.min(front.len() as u64) as usize;
            front.advance(n);
            skip -= n as u64;
            self.pos += n as u64;
            if front.is_empty() {
                self.segments.pop_front();
            }
        }
        if skip > 0 {
            // Past the buffered data: keep the fetches that start exactly there or later.
            while self.fetches.front().is_some_and(|(start, _, _)| *start < pos) {
                if let Some((_, _, task)) = self.fetches.pop_front() {
                    task.abort();
                }
            }
            if self.fetches.front().is_some_and(|(start, _, _)| *start != pos) {
                self.reset(pos);
            }
            self.pos = pos;
        }
    }

    fn reset(&mut self, pos: u64) {
        self.segments.clear();
        for (_, _, task) in self.fetches.drain(..) {
            task.abort();
        }
        self.pos = pos;
    }

    /// Keeps `ahead + 1` windows fetching after the buffered data.
    fn top_up(&mut self) {
        let buffered: u64 = self.segments.iter().map(|s| s.len() as u64).sum();
        let mut next = self.fetches.back().map_or(self.pos + buffered, |(start, len, _)| start + len);
        while self.fetches.len() <= self.ahead && next < self.end {
            let len = (self.end - next).min(self.window);
            let source = self.source.clone();
            let start = next;
            self.fetches.push_back((start, len, tokio::spawn(async move { source.read(start, start + len).await })));
            next += len;
        }
    }

    /// The bytes available at the current position; empty only at the end of the range.
    pub async fn fill(&mut self) -> Result<&[u8], StagingError> {
        while self.segments.front().is_some_and(Bytes::is_empty) {
            self.segments.pop_front();
        }
        if self.segments.is_empty() && self.pos < self.end {
            self.top_up();
            let Some((start, len, task)) = self.fetches.pop_front() else {
                return Ok(&[]);
            };
            let segments = task.await.map_err(|e| custom_resource::Error::new(format!("reading the zip: {e}")))??;
            let got: u64 = segments.iter().map(|s| s.len() as u64).sum();
            if got != len || start != self.pos {
                return Err(custom_resource::Error::new(format!("reading the zip: asked for {len} bytes at offset {start}, got {got}")).into());
            }
            self.segments = segments.into_iter().filter(|s| !s.is_empty()).collect();
            self.top_up();
        }
        Ok(self.segments.front().map_or(&[][..], |s| &s[..]))
    }

    /// Moves past `n` bytes of what [`fill`](Self::fill) returned.
    pub fn consume(&mut self, n: usize) {
        if let Some(front) = self.segments.front_mut() {
            let n = n.min(front.len());
            front.advance(n);
            self.pos += n as u64;
        }
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
        for (_, _, task) in self.fetches.drain(..) {
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

    /// The next `min(max, remaining)` bytes of the file, in a buffer from `buffers`. With the
    /// last chunk, the end of the compressed stream and the CRC-32 are verified: a corrupt
    /// file is never completed.
    pub async fn read_chunk(&mut self, buffers: &PartBuffers, max: usize) -> Result<Bytes, StagingError> {
        let want = (self.entry.size - self.produced).min(max as u64) as usize;
        let mut out = buffers.take(want);
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
        Ok(buffers.share(out))
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
                let status = inflater
                    .decompress(input, out, FlushDecompress::None)
                    .map_err(|e| ArchiveError::entry(self.entry.name.clone(), format!("not a valid zip: bad deflate data ({e})")))?;
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
                return Err(self.error(format!("not a valid zip: the data inflates beyond its declared {} bytes", self.entry.size)));
            }
            if ended {
                return Ok(());
            }
        }
    }
}
