//! The zip's central directory, read with two or three ranged GETs, and every check that can
//! be made before a byte is staged: paths (`..`, absolute), symlinks and special files,
//! encryption and compression methods, declared sizes and ratios (zip bombs), overlapping or
//! out-of-bounds entries, duplicates. ZIP64 archives are supported.

use super::store::{RangeSource, contiguous};
use super::{ArchiveError, StagingError};

/// Bounds that keep a hostile archive from exhausting time, memory or the bucket.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_files: usize,
    /// Sum of the declared uncompressed sizes of all entries.
    pub max_total_size: u64,
    /// Largest accepted uncompressed/compressed ratio of an entry ...
    pub max_ratio: u64,
    /// ... applied to entries larger than this (small files of one repeated byte are fine).
    pub ratio_min_size: u64,
    pub max_central_directory: u64,
    /// Longest entry path in bytes: S3 keys are at most 1024 bytes, prefix included.
    pub max_path_len: usize,
    /// Most directory levels in a path.
    pub max_depth: usize,
    /// Most Assets of one config; `max_files`, `max_total_size` and `max_name_bytes` hold
    /// across all of them.
    pub max_assets: usize,
    /// Sum of the entry names' lengths (as stored, directories and excluded entries included):
    /// every name is held in memory, as the entry's name and path, until the config is made.
    pub max_name_bytes: usize,
}

/// The default `max_name_bytes`: 8 MiB of names (e.g. 100,000 entries of 83 bytes), which
/// `bench/run --only names` measures at its worst (see the README of this function).
pub const MAX_NAME_BYTES: usize = 8 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files: 100_000,
            max_total_size: 8 << 30,
            max_ratio: 100,
            ratio_min_size: 1 << 20,
            max_central_directory: 16 << 20,
            max_path_len: 1024,
            max_depth: 64,
            max_assets: 20,
            max_name_bytes: MAX_NAME_BYTES,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Stored,
    Deflated,
}

/// A file of the archive, as its central directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The relative path it is staged under: `/`-separated, no `.` or empty components.
    pub path: String,
    /// The name exactly as stored (the local header must repeat it).
    pub name: String,
    pub method: Method,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    pub header_offset: u64,
    /// Where the next entry, or the central directory, begins: this entry's data ends before.
    pub next_offset: u64,
}

/// The files of the archive in stored order (directories dropped: S3 has none).
#[derive(Debug, Clone)]
pub struct ZipIndex {
    pub files: Vec<Entry>,
    /// The lengths of all entry names, as stored (counted against `max_name_bytes`).
    pub name_bytes: usize,
}

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
const CENTRAL_HEADER_LEN: usize = 46;
/// The local header's fixed part; its name and extra field follow.
pub const LOCAL_HEADER_LEN: u64 = 30;
const MAX_COMMENT: usize = 0xFFFF;

fn corrupt(message: impl Into<String>) -> StagingError {
    ArchiveError::new(format!("not a valid zip: {}", message.into())).into()
}

/// Little-endian fields from a byte slice; None past the end.
struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(slice)
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        self.bytes(8).map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }
}

/// Where the central directory is.
struct Directory {
    offset: u64,
    size: u64,
    entries: u64,
    /// Where the end records begin: the central directory must end exactly here.
    end: u64,
}

/// Reads and checks the index of the zip object of `len` bytes.
pub async fn read<S: RangeSource>(source: &S, len: u64, limits: &Limits) -> Result<ZipIndex, StagingError> {
    if len < EOCD_LEN as u64 {
        return Err(corrupt(format!("the object is {len} bytes, too short to be a zip")));
    }
    let tail_len = len.min((EOCD_LEN + MAX_COMMENT + ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN) as u64);
    let tail_start = len - tail_len;
    let tail = contiguous(source.read(tail_start, len).await?);
    if tail.len() < EOCD_LEN {
        return Err(corrupt("the object ended early"));
    }
    let directory = find_directory(source, &tail, tail_start).await?;
    if directory.size > limits.max_central_directory {
        return Err(ArchiveError::new(format!(
            "the central directory is {} bytes; at most {} are accepted (about {} files)",
            directory.size, limits.max_central_directory, limits.max_files
        ))
        .into());
    }
    if directory.entries > limits.max_files as u64 {
        return Err(ArchiveError::new(format!("{} entries; at most {} are accepted", directory.entries, limits.max_files)).into());
    }
    let cd_end = directory.offset.checked_add(directory.size).ok_or_else(|| corrupt("central directory out of bounds"))?;
    if cd_end != directory.end {
        return Err(corrupt("the central directory is not where the end record says (data prepended or appended to the zip?)"));
    }
    let bytes = if directory.offset >= tail_start {
        let from = (directory.offset - tail_start) as usize;
        tail.slice(from..from + directory.size as usize)
    } else {
        contiguous(source.read(directory.offset, cd_end).await?)
    };
    let (entries, name_bytes) = parse_directory(&bytes, directory.entries, limits.max_name_bytes)?;
    // The entries hold what is needed: the directory's bytes (up to 16 MiB) go before the checks.
    drop((bytes, tail));
    let files = check_entries(entries, directory.offset, limits)?;
    Ok(ZipIndex { files, name_bytes })
}

async fn find_directory<S: RangeSource>(source: &S, tail: &[u8], tail_start: u64) -> Result<Directory, StagingError> {
    // The end record is followed only by its comment; scan back for a signature that fits.
    let eocd_at = (0..=tail.len() - EOCD_LEN)
        .rev()
        .find(|&at| {
            let mut f = Fields::new(&tail[at..]);
            f.u32() == Some(EOCD_SIGNATURE) && {
                f.bytes(16);
                f.u16().is_some_and(|comment| at + EOCD_LEN + comment as usize == tail.len())
            }
        })
        .ok_or_else(|| corrupt("no end of central directory record"))?;
    let mut f = Fields::new(&tail[eocd_at + 4..]);
    let (disk, cd_disk, _disk_entries, entries, size, offset) = (f.u16(), f.u16(), f.u16(), f.u16(), f.u32(), f.u32());
    let (Some(disk), Some(cd_disk), Some(entries), Some(size), Some(offset)) = (disk, cd_disk, entries, size, offset) else {
        return Err(corrupt("truncated end record"));
    };
    if disk != 0 || cd_disk != 0 {
        return Err(ArchiveError::new("split (multi-disk) archives are not supported").into());
    }
    let eocd_pos = tail_start + eocd_at as u64;
    let zip64 = entries == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF;
    let locator = eocd_at.checked_sub(ZIP64_LOCATOR_LEN).map(|at| &tail[at..eocd_at]);
    let locator = locator.filter(|l| Fields::new(l).u32() == Some(ZIP64_LOCATOR_SIGNATURE));
    let Some(locator) = locator else {
        if zip64 {
            return Err(corrupt("ZIP64 end record locator missing"));
        }
        return Ok(Directory { offset: offset.into(), size: size.into(), entries: entries.into(), end: eocd_pos });
    };
    let mut f = Fields::new(&locator[4..]);
    let (_disk, record_at) = (f.u32(), f.u64().ok_or_else(|| corrupt("truncated ZIP64 locator"))?);
    let locator_pos = eocd_pos - ZIP64_LOCATOR_LEN as u64;
    if record_at.checked_add(ZIP64_EOCD_LEN as u64).is_none_or(|end| end > locator_pos) {
        return Err(corrupt("ZIP64 end record out of bounds"));
    }
    let record = if record_at >= tail_start {
        let at = (record_at - tail_start) as usize;
        bytes::Bytes::copy_from_slice(&tail[at..at + ZIP64_EOCD_LEN])
    } else {
        contiguous(source.read(record_at, record_at + ZIP64_EOCD_LEN as u64).await?)
    };
    let mut f = Fields::new(&record);
    if f.u32() != Some(ZIP64_EOCD_SIGNATURE) {
        return Err(corrupt("bad ZIP64 end record signature"));
    }
    f.bytes(12); // record size, versions
    let (disk, cd_disk) = (f.u32(), f.u32());
    if disk != Some(0) || cd_disk != Some(0) {
        return Err(ArchiveError::new("split (multi-disk) archives are not supported").into());
    }
    f.u64(); // entries on this disk
    let (Some(entries), Some(size), Some(offset)) = (f.u64(), f.u64(), f.u64()) else {
        return Err(corrupt("truncated ZIP64 end record"));
    };
    Ok(Directory { offset, size, entries, end: record_at })
}

/// An entry before the checks that need all entries; directories included.
struct RawEntry {
    entry: Entry,
    is_dir: bool,
}

/// The entries and the sum of their names' lengths. Refused as soon as the names exceed
/// `max_name_bytes`, before they are copied.
fn parse_directory(bytes: &[u8], expected: u64, max_name_bytes: usize) -> Result<(Vec<RawEntry>, usize), StagingError> {
    let mut f = Fields::new(bytes);
    let mut entries = Vec::with_capacity(expected.min(100_000) as usize);
    let mut name_bytes = 0usize;
    while f.pos < bytes.len() {
        entries.push(parse_central_header(&mut f, &mut name_bytes, max_name_bytes)?);
    }
    if entries.len() as u64 != expected {
        return Err(corrupt(format!("the end record counts {expected} entries, the central directory has {}", entries.len())));
    }
    Ok((entries, name_bytes))
}

/// The limit on entry names, worded for the Reason: what was reached and why it exists.
pub fn name_bytes_refusal(max_name_bytes: usize) -> ArchiveError {
    let mib = if max_name_bytes >= 1 << 20 { format!(" ({} MiB)", max_name_bytes >> 20) } else { String::new() };
    ArchiveError::new(format!(
        "the entry names of all Assets add up to more than {max_name_bytes} bytes{mib}, the limit: the function holds every name \
         in memory while it checks and stages the archives (use fewer entries or shorter paths, e.g. zip a directory as one file, \
         or split the Assets over more than one lifecycle config)"
    ))
}

fn parse_central_header(f: &mut Fields<'_>, name_bytes: &mut usize, max_name_bytes: usize) -> Result<RawEntry, StagingError> {
    let truncated = || corrupt("truncated central directory");
    let fixed = f.bytes(CENTRAL_HEADER_LEN).ok_or_else(truncated)?;
    let mut h = Fields::new(fixed);
    let header = (|| {
        let signature = h.u32()?;
        let made_by = h.u16()?;
        let _needed = h.u16()?;
        let flags = h.u16()?;
        let method = h.u16()?;
        let _time_date = h.u32()?;
        let crc32 = h.u32()?;
        let compressed = h.u32()?;
        let size = h.u32()?;
        let name_len = h.u16()?;
        let extra_len = h.u16()?;
        let comment_len = h.u16()?;
        let _disk = h.u16()?;
        let _internal = h.u16()?;
        let external = h.u32()?;
        let offset = h.u32()?;
        Some((signature, made_by, flags, method, crc32, compressed, size, name_len, extra_len, comment_len, external, offset))
    })();
    let Some((signature, made_by, flags, method, crc32, compressed, size, name_len, extra_len, comment_len, external, offset)) = header else {
        return Err(truncated());
    };
    if signature != CENTRAL_HEADER_SIGNATURE {
        return Err(corrupt("bad central directory signature"));
    }
    *name_bytes = name_bytes.saturating_add(name_len.into());
    if *name_bytes > max_name_bytes {
        return Err(name_bytes_refusal(max_name_bytes).into());
    }
    let raw_name = f.bytes(name_len.into()).ok_or_else(truncated)?;
    let extra = f.bytes(extra_len.into()).ok_or_else(truncated)?;
    f.bytes(comment_len.into()).ok_or_else(truncated)?;

    let name = String::from_utf8(raw_name.to_vec()).map_err(|_| ArchiveError::entry(String::from_utf8_lossy(raw_name), "the name is not UTF-8"))?;
    let fail = |message: String| -> StagingError { ArchiveError::entry(name.clone(), message).into() };

    // ZIP64: each field at its maximum is in the 0x0001 extra field instead, in this order.
    let (mut size, mut compressed, mut offset) = (u64::from(size), u64::from(compressed), u64::from(offset));
    if size == 0xFFFF_FFFF || compressed == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        let zip64 = extra_field(extra, 0x0001).ok_or_else(|| fail("ZIP64 sizes missing from the extra field".into()))?;
        let mut z = Fields::new(zip64);
        let missing = || fail("truncated ZIP64 extra field".into());
        if size == 0xFFFF_FFFF {
            size = z.u64().ok_or_else(missing)?;
        }
        if compressed == 0xFFFF_FFFF {
            compressed = z.u64().ok_or_else(missing)?;
        }
        if offset == 0xFFFF_FFFF {
            offset = z.u64().ok_or_else(missing)?;
        }
    }

    if flags & 0x0001 != 0 || flags & 0x0040 != 0 {
        return Err(fail("encrypted entries are not supported".into()));
    }
    let unix_mode = (made_by >> 8 == 3).then_some(external >> 16).filter(|m| *m != 0);
    let file_type = unix_mode.map(|m| m & 0o170_000);
    match file_type {
        Some(0o120_000) => return Err(fail("symbolic links are not allowed (a link could point outside the asset)".into())),
        None | Some(0o100_000) | Some(0o040_000) => {}
        Some(other) => return Err(fail(format!("special files are not allowed (file type {other:o})"))),
    }
    let is_dir = name.ends_with('/') || name.ends_with('\\') || file_type == Some(0o040_000);
    let path = safe_path(&name).map_err(fail)?;
    let method = match method {
        0 => Method::Stored,
        8 => Method::Deflated,
        other => {
            return Err(fail(format!("compression method {other} ({}) is not supported; use deflate or store", method_name(other))));
        }
    };
    if method == Method::Stored && size != compressed && !is_dir {
        return Err(fail(format!("stored entry declares {size} bytes but holds {compressed}")));
    }
    if path.is_empty() && !is_dir {
        return Err(fail("empty file name".into()));
    }
    let entry = Entry { path, name, method, crc32, compressed_size: compressed, size, header_offset: offset, next_offset: 0 };
    Ok(RawEntry { entry, is_dir })
}

fn extra_field(mut extra: &[u8], id: u16) -> Option<&[u8]> {
    while extra.len() >= 4 {
        let header_id = u16::from_le_bytes([extra[0], extra[1]]);
        let len = u16::from_le_bytes([extra[2], extra[3]]) as usize;
        let data = extra.get(4..4 + len)?;
        if header_id == id {
            return Some(data);
        }
        extra = &extra[4 + len..];
    }
    None
}

fn method_name(method: u16) -> &'static str {
    match method {
        1..=6 => "a legacy method",
        9 => "deflate64, written by Windows Explorer for large files",
        12 => "bzip2",
        14 => "lzma",
        93 => "zstd",
        95 => "xz",
        99 => "AES encryption",
        _ => "unknown",
    }
}

/// The path an entry is staged under, or why it is unsafe. Backslashes count as separators
/// (some Windows tools write them), so `..\x` is caught like `../x`.
pub fn safe_path(name: &str) -> Result<String, String> {
    if name.contains('\0') || name.chars().any(char::is_control) {
        return Err("control characters in the name".into());
    }
    let name = name.replace('\\', "/");
    if name.starts_with('/') {
        return Err("absolute path".into());
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err("absolute path (drive letter)".into());
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` in the path (it could escape the asset directory)".into()),
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// The checks over all entries: bounds, overlaps, sizes, duplicates. Returns the files.
/// Nothing here copies a name: with 100,000 entries every per-entry copy costs megabytes.
fn check_entries(mut entries: Vec<RawEntry>, directory_offset: u64, limits: &Limits) -> Result<Vec<Entry>, StagingError> {
    entries.sort_by_key(|e| e.entry.header_offset);
    // Each entry's local header and data must end before the next one starts. Overlapping
    // entries are how the smallest zip bombs reuse one compressed stream many times.
    for i in 0..entries.len() {
        let next_offset = entries.get(i + 1).map_or(directory_offset, |n| n.entry.header_offset);
        let e = &mut entries[i].entry;
        let data_end = e.header_offset.checked_add(LOCAL_HEADER_LEN + e.name.len() as u64).and_then(|start| start.checked_add(e.compressed_size));
        if data_end.is_none_or(|end| end > next_offset) {
            let message = if next_offset == directory_offset { "data runs into the central directory" } else { "overlaps the next entry" };
            return Err(ArchiveError::entry(e.name.clone(), format!("{message} (a zip bomb, or a corrupt zip)")).into());
        }
        e.next_offset = next_offset;
    }

    let mut total: u64 = 0;
    let mut compressed: u64 = 0;
    for RawEntry { entry, is_dir } in &entries {
        if entry.path.len() > limits.max_path_len {
            let shown: String = entry.name.chars().take(64).collect();
            return Err(ArchiveError::entry(
                format!("{shown}..."),
                format!("the path is {} bytes; at most {} are accepted", entry.path.len(), limits.max_path_len),
            )
            .into());
        }
        let depth = entry.path.split('/').count();
        if depth > limits.max_depth {
            let shown: String = entry.name.chars().take(64).collect();
            return Err(
                ArchiveError::entry(format!("{shown}..."), format!("the path is {depth} levels deep; at most {} are accepted", limits.max_depth)).into()
            );
        }
        if *is_dir {
            continue;
        }
        compressed = compressed.saturating_add(entry.compressed_size);
        total = total.saturating_add(entry.size);
        if total > limits.max_total_size {
            return Err(
                ArchiveError::new(format!("the files add up to more than {} bytes uncompressed, the limit (a zip bomb?)", limits.max_total_size)).into()
            );
        }
        if entry.size > limits.ratio_min_size && entry.size / entry.compressed_size.max(1) > limits.max_ratio {
            return Err(ArchiveError::entry(
                entry.name.clone(),
                format!(
                    "compression ratio {}:1 ({} bytes from {}) exceeds {}:1 (a zip bomb?)",
                    entry.size / entry.compressed_size.max(1),
                    entry.size,
                    entry.compressed_size,
                    limits.max_ratio
                ),
            )
            .into());
        }
    }
    // Archive-wide: many entries each under the per-entry threshold add up to a bomb too.
    if total > limits.ratio_min_size && total / compressed.max(1) > limits.max_ratio {
        return Err(ArchiveError::new(format!(
            "compression ratio {}:1 over the whole archive ({total} bytes from {compressed}) exceeds {}:1 (a zip bomb?)",
            total / compressed.max(1),
            limits.max_ratio
        ))
        .into());
    }
    // Every path with its kind, borrowed: a file clashes with any path under it and with a
    // directory of its name, and a file path may appear once. Listing each entry's parent
    // directories instead costs the square of a path's depth.
    let mut all: Vec<(&str, bool)> = entries.iter().map(|e| (e.entry.path.as_str(), e.is_dir)).collect();
    if let Some(problem) = path_problem(&mut all) {
        let (path, message) = match problem {
            PathProblem::Twice(path) => (path, "the same path appears twice"),
            PathProblem::FileAndDirectory(path) => (path, "is both a file and a directory"),
        };
        let name = entries.iter().filter(|e| !e.is_dir).find(|e| e.entry.path == path).map_or(path.to_string(), |e| e.entry.name.clone());
        return Err(ArchiveError::entry(name, message).into());
    }
    drop(all);
    Ok(entries.into_iter().filter(|e| !e.is_dir).map(|e| e.entry).collect())
}

enum PathProblem<'a> {
    /// Two files of this path.
    Twice(&'a str),
    /// A file of this path, and a directory of it or a path under it.
    FileAndDirectory(&'a str),
}

/// Paths in the order where `/` is lowest, so that everything under `f/` directly follows
/// `f`; of equal paths, directories first. Compared in place, without a key per path.
fn path_order(a: &(&str, bool), b: &(&str, bool)) -> std::cmp::Ordering {
    let key = |byte: u8| if byte == b'/' { 0 } else { byte };
    a.0.bytes().map(key).cmp(b.0.bytes().map(key)).then((!a.1).cmp(&!b.1))
}

/// The first duplicate file path, or file path that is also a directory, once sorted.
fn path_problem<'a>(paths: &mut [(&'a str, bool)]) -> Option<PathProblem<'a>> {
    paths.sort_unstable_by(path_order);
    paths.windows(2).find_map(|pair| {
        let ((a, a_dir), (b, b_dir)) = (pair[0], pair[1]);
        let under = b.len() > a.len() && b.starts_with(a) && b.as_bytes()[a.len()] == b'/';
        if a == b && !a_dir && !b_dir {
            Some(PathProblem::Twice(a))
        } else if (!a_dir && under) || (a == b && a_dir != b_dir) {
            Some(PathProblem::FileAndDirectory(a))
        } else {
            None
        }
    })
}
