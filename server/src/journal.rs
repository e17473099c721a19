//! The data dir's journal: an append-only file of checksummed records, one per batch the
//! broker asks to store (docs/durability.md has the format and why it is not a database).
//!
//! The broker keeps its whole state in memory and reads the store only when it starts, so
//! what it needs from a disk is an ordered, atomic, checksummed log that it can replay: each
//! write is one `write` and one `fdatasync` for a whole group of changes. A record that did
//! not reach the disk whole (power lost mid-write) fails its length or checksum; it and
//! anything after it are skipped, reported, and cut off, and every record before it is kept.
//! When the file has grown to several times its size after the last compaction, it is read
//! back and rewritten as one record of the live entries, in a new file renamed over the
//! old, so it never grows without bound. Between compactions the journal keeps nothing in
//! memory: the broker already holds the state.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use broker_core::store::{Change, FORMAT_VERSION};

/// The first bytes of every journal.
const MAGIC: &[u8; 8] = b"BLJOURNL";
/// The layout of the journal's framing (header and records). The layout of keys and
/// values inside records is the core's `FORMAT_VERSION`, also in the header.
const JOURNAL_VERSION: u32 = 1;
const HEADER_LEN: usize = 16;
/// A record's frame: its body's length and CRC-32, little-endian.
const FRAME_LEN: usize = 8;
/// Compaction waits until the file is at least this large, and this many times its size
/// after the last compaction.
const COMPACT_MIN_BYTES: u64 = 32 * 1024 * 1024;
const COMPACT_FACTOR: u64 = 4;

/// The file grows in steps of this many zero bytes, written ahead of the records: syncing
/// a record written into blocks the file already has does not change its size, and costs
/// the file system about half as much (docs/durability.md). A frame of zeros is where the
/// records end.
const GROW_BYTES: u64 = 8 * 1024 * 1024;

const JOURNAL_FILE: &str = "journal";
const LOCK_FILE: &str = "lock";

/// What opening a data dir found.
#[derive(Debug)]
pub struct Opened {
    pub journal: Journal,
    /// Every live entry, for the broker to recover.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// Whole records read.
    pub records: u64,
    /// A damaged tail that was cut off: its offset and length in bytes, and why.
    pub torn: Option<Torn>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Torn {
    pub offset: u64,
    pub bytes: u64,
    pub why: &'static str,
}

/// An open journal, and the lock that keeps other servers out of its data dir.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    file: File,
    /// Where the records end.
    len: u64,
    /// The file's size: `len` and the zeros written ahead.
    allocated: u64,
    /// The size of what the journal holds, as of opening or the last compaction.
    compacted_len: u64,
    /// The least size at which it is compacted (`COMPACT_MIN_BYTES`; less in tests).
    compact_min: u64,
    _lock: File,
}

/// Opens (or creates) the data dir `dir`: takes its lock, reads the journal, cuts off a
/// damaged tail.
pub fn open(dir: &Path) -> Result<Opened> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    let lock = lock(dir)?;
    let path = dir.join(JOURNAL_FILE);
    let mut file = open_rw(&path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.is_empty() {
        file.write_all(&header())
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(dir))
            .with_context(|| format!("cannot write {}", path.display()))?;
        bytes = header().to_vec();
    }
    check_header(&bytes, &path)?;
    let mut live = HashMap::new();
    let (end, records, torn) = replay(&bytes, &mut live);
    let live_len = live
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum::<u64>();
    let entries = live
        .into_iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    let mut allocated = bytes.len() as u64;
    drop(bytes);
    if torn.is_some() {
        file.set_len(end)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot cut the damaged end off {}", path.display()))?;
        allocated = end;
    }
    Ok(Opened {
        journal: Journal {
            dir: dir.to_owned(),
            file,
            len: end,
            allocated,
            compacted_len: HEADER_LEN as u64 + live_len,
            compact_min: COMPACT_MIN_BYTES,
            _lock: lock,
        },
        entries,
        records,
        torn,
    })
}

impl Journal {
    /// Appends one record of `changes` and waits until it is on the disk.
    pub fn append(&mut self, changes: &[Change]) -> io::Result<()> {
        let record = record(changes.iter().map(|c| (&c.key[..], c.value.as_deref())));
        let end = self.len + record.len() as u64;
        if end > self.allocated {
            self.grow(end)?;
        }
        self.file.write_all_at(&record, self.len)?;
        self.file.sync_data()?;
        self.len += record.len() as u64;
        if self.len >= self.compact_min && self.len > COMPACT_FACTOR * self.compacted_len {
            self.compact()?;
        }
        Ok(())
    }

    /// The journal's size in bytes: where its records end.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Writes zeros ahead, so that the file reaches past `end` by up to `GROW_BYTES`. The
    /// sync of the record that follows makes them durable too.
    fn grow(&mut self, end: u64) -> io::Result<()> {
        const CHUNK: usize = 1024 * 1024;
        let zeros = vec![0u8; CHUNK];
        let target = end + GROW_BYTES;
        while self.allocated < target {
            let n = (target - self.allocated).min(CHUNK as u64) as usize;
            self.file.write_all_at(&zeros[..n], self.allocated)?;
            self.allocated += n as u64;
        }
        Ok(())
    }

    /// Rewrites the journal as one record of the entries it holds: read back, written to a new file,
    /// synced, then renamed over the old one, so that a crash at any point leaves one whole
    /// journal.
    fn compact(&mut self) -> io::Result<()> {
        let path = self.dir.join(JOURNAL_FILE);
        let fresh = self.dir.join(format!("{JOURNAL_FILE}.compacting"));
        let old = fs::read(&path)?;
        let mut live = HashMap::new();
        replay(&old, &mut live);
        let mut bytes = header().to_vec();
        bytes.extend(record(live.iter().map(|(k, v)| (*k, Some(*v)))));
        let mut file = File::create(&fresh)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&fresh, &path)?;
        sync_dir(&self.dir)?;
        self.file = OpenOptions::new().read(true).write(true).open(&path)?;
        self.len = bytes.len() as u64;
        self.allocated = self.len;
        self.compacted_len = self.len;
        tracing::debug!(bytes = self.len, entries = live.len(), "journal compacted");
        Ok(())
    }
}

/// Takes the data dir's lock, or says which server holds it.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut file = open_rw(&path)?;
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        bail!(
            "the data dir {} is in use by another brokerlab (process {}): one server per data dir",
            dir.display(),
            holder.trim()
        );
    }
    file.set_len(0)?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

/// Opens `path` to read and write, creating it empty if it does not exist.
fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

fn header() -> [u8; HEADER_LEN] {
    let mut h = [0; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&JOURNAL_VERSION.to_le_bytes());
    h[12..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

fn check_header(bytes: &[u8], path: &Path) -> Result<()> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        bail!(
            "{} is not a brokerlab journal: move it away or pick another --data-dir",
            path.display()
        );
    }
    let journal = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let format = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if journal > JOURNAL_VERSION || format > FORMAT_VERSION {
        bail!(
            "{} was written by a newer brokerlab (journal {journal}, format {format}; this one \
             reads up to journal {JOURNAL_VERSION}, format {FORMAT_VERSION}): upgrade brokerlab",
            path.display()
        );
    }
    Ok(())
}

/// The live entries of a journal, borrowed from its bytes.
type Live<'b> = HashMap<&'b [u8], &'b [u8]>;

/// Replays every whole record after the header into `live`. Returns where the whole
/// records end, how many there were, and what was wrong with the rest, if anything.
fn replay<'b>(bytes: &'b [u8], live: &mut Live<'b>) -> (u64, u64, Option<Torn>) {
    let mut at = HEADER_LEN;
    let mut records = 0;
    let why = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break None;
        }
        let Some((frame, rest)) = rest.split_first_chunk::<FRAME_LEN>() else {
            break Some("a record frame cut short");
        };
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        if len == 0 && crc == 0 {
            // The zeros written ahead: no record has an empty body.
            break None;
        }
        let Some(body) = rest.get(..len) else {
            break Some("a record cut short");
        };
        if crc32(body) != crc {
            break Some("a record whose checksum does not match");
        }
        let Some(changes) = parse_body(body) else {
            break Some("a record whose contents do not parse");
        };
        for (key, value) in changes {
            match value {
                Some(value) => live.insert(key, value),
                None => live.remove(key),
            };
        }
        records += 1;
        at += FRAME_LEN + len;
    };
    // The zeros written ahead are not counted among the bytes skipped.
    let damaged = bytes[at..]
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |p| p + 1);
    let torn = why.map(|why| Torn {
        offset: at as u64,
        bytes: damaged as u64,
        why,
    });
    (at as u64, records, torn)
}

/// One record: its frame (the body's length and CRC-32, little-endian), then the body: a
/// count, then each change as a tag (1 set, 0 delete), the key and, for a set, the value;
/// lengths are u32 little-endian.
fn record<'a>(changes: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>) -> Vec<u8> {
    let mut out = vec![0; FRAME_LEN + 4];
    let mut count: u32 = 0;
    for (key, value) in changes {
        count += 1;
        out.push(u8::from(value.is_some()));
        put(&mut out, key);
        if let Some(value) = value {
            put(&mut out, value);
        }
    }
    out[FRAME_LEN..FRAME_LEN + 4].copy_from_slice(&count.to_le_bytes());
    let len = (out.len() - FRAME_LEN) as u32;
    let crc = crc32(&out[FRAME_LEN..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..FRAME_LEN].copy_from_slice(&crc.to_le_bytes());
    out
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

type Changes<'b> = Vec<(&'b [u8], Option<&'b [u8]>)>;

fn parse_body(body: &[u8]) -> Option<Changes<'_>> {
    let mut r = body;
    let count = take_u32(&mut r)?;
    let mut changes = Vec::new();
    for _ in 0..count {
        let (&tag, rest) = r.split_first()?;
        r = rest;
        let key = take_bytes(&mut r)?;
        let value = match tag {
            0 => None,
            1 => Some(take_bytes(&mut r)?),
            _ => return None,
        };
        changes.push((key, value));
    }
    r.is_empty().then_some(changes)
}

fn take_u32(r: &mut &[u8]) -> Option<u32> {
    let (n, rest) = r.split_first_chunk::<4>()?;
    *r = rest;
    Some(u32::from_le_bytes(*n))
}

fn take_bytes<'b>(r: &mut &'b [u8]) -> Option<&'b [u8]> {
    let len = take_u32(r)? as usize;
    let (bytes, rest) = r.split_at_checked(len)?;
    *r = rest;
    Some(bytes)
}

fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Makes a file's creation or renaming in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
