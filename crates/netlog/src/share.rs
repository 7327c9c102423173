//! Shared log hunting: the hunt of [`crate::hunt`] cut into batches that
//! other machines read, and their partial states merged back.
//!
//! The publisher reads the logs exactly as [`crate::hunt::run`] does, but
//! its chunks of whole lines become **batches** ([`Job::batches`] hands
//! them to the caller, who puts them on a work queue) instead of going to
//! local threads. A batch carries whatever its lines need to be read
//! alone: the input's index, the number of its first line, the format in
//! effect, the forced format, the year of syslog-style time stamps and
//! the Zeek header directives in effect (replayed on the worker, never a
//! parsed structure taken from the network). A worker ([`hunt_batch`])
//! reads one batch with the same code a local thread runs and returns its
//! **partial state** (sightings, counts, unreadable lines), serialized
//! ([`encode_partial`]) and cut into parts that fit a message. The
//! publisher merges each batch's parts once ([`Aggregator`]), keyed by the
//! batch id, so a batch read twice (a worker killed after publishing and
//! before acknowledging) is never counted twice; the merged state is the
//! one the local threads would have made, because every aggregation of
//! the hunt is order-independent.
//!
//! **By path** ([`Job::by_path`]): when the workers see the logs at the
//! same path (shared storage), a batch of a plain file carries only the
//! path, the byte range and the range's BLAKE3 digest; the worker reads
//! the range itself ([`Batch::load`], only below the directories it was
//! told to read, `--read-root`) and checks the digest. A worker that
//! cannot read a range says so ([`encode_unread`]) and the publisher
//! sends that batch again with its lines ([`Job::content`]), so the
//! result never depends on which worker took which batch.
//!
//! What cannot travel is read by the publisher itself: captures (read
//! packet by packet), a line longer than a message, a Zeek header too
//! long to send. Fast-flux and DGA-suspect features are not shared (their
//! states are not serialized): [`Job::new`] refuses them.
//!
//! Everything read from the network is hostile: a batch or a part is
//! checked field by field ([`Batch::decode`], [`Aggregator::add`]) and
//! refused with the reason, never trusted to index anything.

use crate::event::{Format, LineCtx};
use crate::hunt::{Chunk, Counts, EXAMPLES, Example, Input, Options, Report, Tally, Worker};
use crate::matcher::Matcher;
use crate::sighting::SightingsWire;
use crate::zeek;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Version of the batch and part records.
pub const VERSION: u32 = 1;
/// Version of a batch sent by path with the BLAKE3 digest of its range
/// (what publishers before version 3 send; still read).
const VERSION_BY_PATH: u32 = 2;
/// Version of a batch sent by path with the stamp of its file (size,
/// modification time, file id) instead of a digest: the publisher no
/// longer hashes what it does not send. A worker of version 1 or 2
/// refuses it by its version, saying why, instead of misreading it.
const VERSION_BY_STAMP: u32 = 3;
/// Longest byte range a batch sent by path may name: what a worker holds
/// in memory for one batch (this bounds what a forged one makes it read).
pub const MAX_RANGE: u64 = 64 << 20;
/// Default longest range of a batch sent by path: each batch costs the
/// server a few messages and the worker a partial state, whatever its
/// size, so ranges are far larger than a message of lines.
pub const DEFAULT_RANGE_BYTES: usize = 16 << 20;
/// Near the end of a file, a range is at most this fraction of what is
/// left of it (and at least the batch size): the last batches are small,
/// so that workers finish together rather than one of them hunting a
/// whole large range while the others wait.
const TAIL_FRACTION: u64 = 8;
/// Longest reason an unread batch's notice carries.
const MAX_REASON: usize = 512;
/// Largest JSON head of a batch (its fields and Zeek header lines).
pub const MAX_BATCH_HEAD: usize = 512 * 1024;
/// Most parts one batch's partial state is cut into.
pub const MAX_PARTS: u32 = 4096;
/// Most lines of a Zeek header a batch carries (as the publisher keeps).
const MAX_ZEEK_LINES: usize = 256;
/// Largest count a part may carry for one thing: a batch holds at most a
/// message of lines, so anything larger is a forged part (and the sums
/// of many parts stay far from overflowing).
const MAX_COUNT: u64 = 1 << 40;
/// Shortest and longest `--max-line` a batch may ask for.
const MIN_MAX_LINE: usize = 1024;
const MAX_MAX_LINE: usize = 64 << 20;
/// The bytes a batch message adds to its lines, besides the Zeek header:
/// room kept below the message bound.
const BATCH_OVERHEAD: usize = 16 * 1024;
/// Magic at the start of a batch message.
const MAGIC: &[u8; 6] = b"TDLB1\n";

/// Why a batch or a part was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refused(s: impl Into<String>) -> Refused {
    Refused(s.into())
}

/// A token of ids: 1 to 64 ASCII letters, digits, `-`, `_`.
fn check_token(what: &str, s: &str) -> Result<(), Refused> {
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(refused(format!(
            "{what} is not 1 to 64 letters, digits, '-' or '_'"
        )));
    }
    Ok(())
}

/// The digest of an indicator set: workers read a batch only with the
/// very indicators (same ids, same origins) the publisher has, since a
/// partial state names indicators by id.
pub fn fingerprint(m: &Matcher) -> String {
    let mut h = Sha256::new();
    h.update(b"takedown-netlog indicators v1\0");
    for o in m.origins() {
        h.update(format!("{o:?}").as_bytes());
        h.update(b"\0");
    }
    for i in m.indicators() {
        h.update(i.kind.as_str().as_bytes());
        h.update(b"\0");
        h.update(i.value.as_bytes());
        h.update(b"\0");
        h.update(i.origin.to_le_bytes());
        h.update(i.first.to_le_bytes());
        h.update(i.last.to_le_bytes());
    }
    hex(&h.finalize()[..16])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One shared hunt, as the publisher runs it.
#[derive(Clone, Debug)]
pub struct Job {
    /// The job's id (a token; unique per run, so that the batch ids of
    /// a second run over the same logs are not taken for duplicates).
    pub id: String,
    /// [`fingerprint`] of the indicators.
    pub fingerprint: String,
    /// The key distinct matched values are counted under (random per
    /// job: logs cannot aim at collisions; the same on every worker so
    /// that their counts merge).
    pub key: (u64, u64),
    /// `--max-line`.
    pub max_line: usize,
    /// Per input: the file its batches are sent by (its path absolute,
    /// as the workers must see it), when it is shared by path.
    paths: Vec<Option<SharedFile>>,
}

impl Job {
    /// A job for `m` with these options; refuses what cannot be shared.
    pub fn new(id: &str, m: &Matcher, opts: &Options, key: (u64, u64)) -> Result<Job, Refused> {
        check_token("the job id", id)?;
        if opts.flux.is_some() || opts.suspects {
            return Err(refused(
                "fast-flux and DGA-suspect features are not shared over NATS (run them with `takedown hunt` alone)",
            ));
        }
        if opts.follow.is_some() {
            return Err(refused("--follow is not shared over NATS"));
        }
        if !(MIN_MAX_LINE..=MAX_MAX_LINE).contains(&opts.max_line) {
            return Err(refused(format!(
                "--max-line {} is outside {MIN_MAX_LINE}..={MAX_MAX_LINE} for a shared hunt",
                opts.max_line
            )));
        }
        Ok(Job {
            id: id.to_string(),
            fingerprint: fingerprint(m),
            key,
            max_line: opts.max_line,
            paths: Vec::new(),
        })
    }

    /// Sends the batches of `inputs` by path where possible: a regular
    /// file named by a UTF-8 path, read as it is (not compressed; that
    /// is found out while reading, and such an input's batches carry
    /// their lines). Its stamp (size, modification time, file id) is
    /// taken now, before it is read: a worker reads a range only from a
    /// file with this very stamp. Returns, per input that cannot be
    /// shared by path, its name and why.
    pub fn by_path(&mut self, inputs: &[Input]) -> Vec<(String, String)> {
        let mut not = Vec::new();
        self.paths = inputs
            .iter()
            .map(|input| {
                let Input::Path(p) = input else {
                    not.push((input.name(), "standard input".to_string()));
                    return None;
                };
                let shared = std::fs::canonicalize(p)
                    .map_err(|e| format!("cannot resolve its path: {e}"))
                    .and_then(|c| {
                        let meta = std::fs::metadata(&c)
                            .map_err(|e| format!("cannot read its metadata: {e}"))?;
                        if !meta.is_file() {
                            return Err("not a regular file".to_string());
                        }
                        let stamp = Stamp::of(&meta)?;
                        c.to_str()
                            .map(|path| SharedFile {
                                path: path.to_string(),
                                stamp,
                            })
                            .ok_or_else(|| "its path is not UTF-8".to_string())
                    });
                match shared {
                    Ok(c) => Some(c),
                    Err(why) => {
                        not.push((input.name(), why));
                        None
                    }
                }
            })
            .collect();
        not
    }

    /// Reads `inputs` and hands each batch to `sink`; what cannot travel
    /// is read here. A batch with its lines is at most `max_message`
    /// bytes, with at most `batch_bytes` of lines unless a single line
    /// is longer; a batch sent by path names a range of whole lines of
    /// at most `range_bytes` (less near the end of its file, not less
    /// than `batch_bytes`). Stops handing out batches (and stops
    /// reading, through `opts.stop`) when `sink` returns false. The
    /// result is merged with the workers' parts by an [`Aggregator`].
    #[allow(clippy::too_many_arguments)]
    pub fn batches<'m>(
        &self,
        inputs: &[Input],
        m: &'m Matcher,
        opts: &Options,
        max_message: usize,
        batch_bytes: usize,
        range_bytes: usize,
        sink: &mut (dyn FnMut(OutBatch) -> bool + Send),
    ) -> Published<'m> {
        let sources: Vec<String> = inputs.iter().map(Input::name).collect();
        let mut offsets: HashMap<u32, u64> = HashMap::new();
        let mut open = true;
        let stop = Arc::clone(&opts.stop);
        let range_bytes = range_bytes.clamp(1, MAX_RANGE as usize);
        let mut ranges = Ranges {
            pending: None,
            len: 0,
            limit: 0,
        };
        let mut hand = |b: OutBatch, open: &mut bool| {
            if *open && !sink(b) {
                *open = false;
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        };
        let mut forward = |ch: Chunk, w: &mut Worker<'m>| {
            if !open {
                return;
            }
            // The lines' room in a message: what the head (its Zeek
            // header above all) leaves. Without the header in the budget
            // every full piece would overflow the message and be read
            // here, by the publisher.
            let zeek_bytes = ch.zeek_src.as_deref().map_or(0, |z| zeek_wire_len(z));
            let file = self.paths.get(ch.source as usize).and_then(Option::as_ref);
            if let (Some(file), Some(offset), Some(_)) = (file, ch.offset, &ch.zeek_src)
                && zeek_bytes + BATCH_OVERHEAD <= max_message
            {
                // By path: whole chunks of the reader joined into ranges
                // (no byte of them is copied, hashed or sent).
                let limit = range_limit(file.stamp.size, offset, batch_bytes, range_bytes);
                for piece in split(ch, limit) {
                    let full = ranges.add(piece, |start| {
                        range_limit(file.stamp.size, start, batch_bytes, range_bytes)
                    });
                    // The range finished may be of the input before.
                    if let Some((ch, len)) = full
                        && let Some(of) =
                            self.paths.get(ch.source as usize).and_then(Option::as_ref)
                    {
                        let b = self.range_batch(&sources, ch, len, of);
                        hand(b, &mut open);
                    }
                }
                return;
            }
            if let Some((ch, len)) = ranges.take()
                && let Some(file) = self.paths.get(ch.source as usize).and_then(Option::as_ref)
            {
                let b = self.range_batch(&sources, ch, len, file);
                hand(b, &mut open);
            }
            let budget = max_message
                .saturating_sub(BATCH_OVERHEAD + zeek_bytes)
                .min(batch_bytes)
                .max(1);
            for piece in split(ch, budget) {
                if !open {
                    return;
                }
                let off = offsets.entry(piece.source).or_insert(0);
                let start = *off;
                *off = off.saturating_add(piece.data.len() as u64);
                if piece.zeek_src.is_none()
                    || piece.data.len() + zeek_bytes + BATCH_OVERHEAD > max_message
                {
                    // A line longer than a message, or a header too long
                    // to send: read here.
                    w.chunk(&piece);
                    continue;
                }
                let name = sources
                    .get(piece.source as usize)
                    .map_or("", String::as_str);
                let id = self.batch_id(b'l', piece.source, name, start, piece.data.len());
                let payload = encode_batch(self, &id, &piece, None);
                hand(
                    OutBatch {
                        id,
                        payload,
                        reread: None,
                    },
                    &mut open,
                );
            }
        };
        let read = crate::hunt::read_all(inputs, m, opts, Some(self.key), Some(&mut forward));
        if let Some((ch, len)) = ranges.take()
            && let Some(file) = self.paths.get(ch.source as usize).and_then(Option::as_ref)
        {
            let b = self.range_batch(&sources, ch, len, file);
            hand(b, &mut open);
        }
        Published { read }
    }

    /// The batch of a range of `file` (the lines of `ch`, `len` bytes,
    /// without its data), sent by path.
    fn range_batch(&self, sources: &[String], ch: Chunk, len: u64, file: &SharedFile) -> OutBatch {
        let offset = ch.offset.unwrap_or(0);
        let name = sources.get(ch.source as usize).map_or("", String::as_str);
        let id = self.batch_id(b'r', ch.source, name, offset, len as usize);
        let range = FileRange {
            path: file.path.clone(),
            offset,
            len,
            blake3: None,
            stamp: Some(file.stamp.clone()),
        };
        let payload = encode_batch(self, &id, &ch, Some(&range));
        OutBatch {
            id: id.clone(),
            payload,
            reread: Some(Reread {
                id,
                file: range,
                chunk: ch,
            }),
        }
    }

    /// The id of a batch: its job, its kind (`l`ines or `r`ange of a
    /// file), and the input and byte range it holds (the same batch
    /// always gets the same id).
    fn batch_id(&self, kind: u8, source: u32, name: &str, start: u64, len: usize) -> String {
        let mut h = Sha256::new();
        h.update(self.id.as_bytes());
        h.update(b"\0");
        h.update([kind]);
        h.update(source.to_le_bytes());
        h.update(name.as_bytes());
        h.update(b"\0");
        h.update(start.to_le_bytes());
        h.update((len as u64).to_le_bytes());
        hex(&h.finalize()[..16])
    }
}

/// The longest range of a batch sent by path starting at `offset` of a
/// file of `size` bytes: `range_bytes`, or an eighth of what is left
/// near the end of the file, never less than `batch_bytes`.
fn range_limit(size: u64, offset: u64, batch_bytes: usize, range_bytes: usize) -> usize {
    let left = usize::try_from(size.saturating_sub(offset) / TAIL_FRACTION).unwrap_or(usize::MAX);
    left.min(range_bytes)
        .max(batch_bytes.min(range_bytes))
        .max(1)
}

/// The range being joined from the reader's chunks: its first chunk
/// (without its lines), its length, its bound.
struct Ranges {
    pending: Option<Chunk>,
    len: u64,
    limit: usize,
}

impl Ranges {
    /// Adds the lines of `ch` (a plain file's: `ch.offset` is set) to
    /// the range, or starts a new one with `limit(offset)` as its bound.
    /// Returns the range finished, if any: the new chunk does not follow
    /// it, reads with another context or does not fit.
    fn add(&mut self, ch: Chunk, limit: impl Fn(u64) -> usize) -> Option<(Chunk, u64)> {
        let len = ch.data.len() as u64;
        if let Some(p) = &mut self.pending {
            let follows = p.source == ch.source
                && p.offset.map(|o| o.saturating_add(self.len)) == ch.offset
                && p.format == ch.format
                && p.forced == ch.forced
                && p.ctx.year == ch.ctx.year
                && p.zeek_src == ch.zeek_src
                && self.len.saturating_add(len) <= self.limit as u64;
            if follows {
                p.header_lines.extend_from_slice(&ch.header_lines);
                self.len += len;
                return None;
            }
        }
        let done = self.take();
        self.limit = limit(ch.offset.unwrap_or(0));
        self.len = len;
        self.pending = Some(ch.clone_meta());
        done
    }

    /// The range begun, if any.
    fn take(&mut self) -> Option<(Chunk, u64)> {
        let len = std::mem::take(&mut self.len);
        self.pending.take().map(|ch| (ch, len))
    }
}

/// A file shared by path: its resolved path and its stamp.
#[derive(Clone, Debug)]
struct SharedFile {
    path: String,
    stamp: Stamp,
}

/// What tells a file changed without reading it: its size, modification
/// time and, on Unix, its inode and status-change time (which no one can
/// set back, unlike the modification time). Taken by the publisher
/// before it reads the file; a worker reads a range only while the file
/// it opened has the same stamp, before and after reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stamp {
    size: u64,
    /// Seconds and nanoseconds since the epoch (seconds negative before).
    mtime: (i64, u32),
    /// Inode, status change seconds and nanoseconds (Unix only: a file
    /// stamped elsewhere never matches one stamped on Unix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unix: Option<(u64, i64, i64)>,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Result<Stamp, String> {
        let t = meta
            .modified()
            .map_err(|e| format!("cannot read its modification time: {e}"))?;
        let mtime = match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => (
                i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
                e.duration().subsec_nanos(),
            ),
        };
        Ok(Stamp {
            size: meta.len(),
            mtime,
            unix: stamp_os::unix(meta),
        })
    }
}

/// The part of a [`Stamp`] only one kind of system has.
mod stamp_os {
    #[cfg(unix)]
    pub(super) fn unix(meta: &std::fs::Metadata) -> Option<(u64, i64, i64)> {
        use std::os::unix::fs::MetadataExt;
        Some((meta.ino(), meta.ctime(), meta.ctime_nsec()))
    }

    #[cfg(not(unix))]
    pub(super) fn unix(_: &std::fs::Metadata) -> Option<(u64, i64, i64)> {
        None
    }
}

/// A batch ready for the work queue.
pub struct OutBatch {
    /// Its id (its message id).
    pub id: String,
    /// The message.
    pub payload: Vec<u8>,
    /// For a batch sent by path: what it takes to send it again with its
    /// lines ([`Job::content`]) should no worker be able to read it.
    pub reread: Option<Reread>,
}

/// A batch sent by path, as the publisher keeps it: its head without
/// its lines (a few hundred bytes; the Zeek header is shared).
pub struct Reread {
    id: String,
    file: FileRange,
    chunk: Chunk,
}

impl Reread {
    /// The input it is of.
    pub fn source(&self) -> u32 {
        self.chunk.source
    }

    /// Its byte range, for messages: `PATH bytes A..B`.
    pub fn range(&self) -> String {
        format!(
            "{} bytes {}..{}",
            self.file.path,
            self.file.offset,
            self.file.offset.saturating_add(self.file.len)
        )
    }
}

/// Where a batch sent by path has its lines.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRange {
    /// The file, absolute and resolved on the publisher.
    path: String,
    offset: u64,
    len: u64,
    /// BLAKE3 of the range, hex (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blake3: Option<String>,
    /// The file's stamp when the publisher read it (version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stamp: Option<Stamp>,
}

/// Reads `f`'s range and checks it is what the publisher read: the file
/// has the publisher's stamp before and after the read (version 3), or
/// the range has its digest (version 2). With `roots`, only a file whose
/// resolved path is below one of them (a worker reads nothing else,
/// whatever a batch names); `None` is the publisher reading its own
/// input.
fn read_range(f: &FileRange, roots: Option<&[std::path::PathBuf]>) -> Result<Vec<u8>, String> {
    use std::io::{Read, Seek, SeekFrom};
    let path = std::path::Path::new(&f.path);
    if !path.is_absolute() {
        return Err(format!("{}: not an absolute path", f.path));
    }
    if f.len > MAX_RANGE {
        return Err(format!(
            "{}: a range of {} bytes (at most {MAX_RANGE})",
            f.path, f.len
        ));
    }
    if roots.is_some_and(<[_]>::is_empty) {
        return Err("this worker reads no batch by path (no --read-root)".into());
    }
    let real = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", f.path))?;
    if let Some(roots) = roots
        && !roots.iter().any(|r| real.starts_with(r))
    {
        return Err(format!(
            "{}: not below a directory this worker reads (--read-root)",
            f.path
        ));
    }
    let mut file = std::fs::File::open(&real).map_err(|e| format!("{}: {e}", f.path))?;
    let meta = file.metadata().map_err(|e| format!("{}: {e}", f.path))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", f.path));
    }
    let changed = |when: &str| {
        format!(
            "{}: the file changed {when} (its size, modification time or file id is not the publisher's): bytes {}..{} are not those the publisher read",
            f.path,
            f.offset,
            f.offset.saturating_add(f.len)
        )
    };
    let check_stamp = |meta: &std::fs::Metadata, when: &str| match &f.stamp {
        Some(want) if Stamp::of(meta).as_ref() != Ok(want) => Err(changed(when)),
        _ => Ok(()),
    };
    check_stamp(&meta, "since the publisher read it")?;
    let end = f.offset.checked_add(f.len).filter(|&e| e <= meta.len());
    if end.is_none() {
        return Err(format!(
            "{}: {} bytes, shorter than the range {}..{}",
            f.path,
            meta.len(),
            f.offset,
            f.offset.saturating_add(f.len)
        ));
    }
    file.seek(SeekFrom::Start(f.offset))
        .map_err(|e| format!("{}: {e}", f.path))?;
    let mut data = Vec::new();
    data.try_reserve_exact(f.len as usize)
        .map_err(|e| format!("{}: {e}", f.path))?;
    (&mut file)
        .take(f.len)
        .read_to_end(&mut data)
        .map_err(|e| format!("{}: {e}", f.path))?;
    if data.len() as u64 != f.len {
        return Err(format!("{}: cut short while reading", f.path));
    }
    let after = file.metadata().map_err(|e| format!("{}: {e}", f.path))?;
    check_stamp(&after, "while this range was read")?;
    if let Some(digest) = &f.blake3
        && blake3::hash(&data).to_hex().as_str() != digest
    {
        return Err(format!(
            "{}: bytes {}..{} are not those the publisher read (the file changed, or another file has this path here)",
            f.path,
            f.offset,
            f.offset + f.len
        ));
    }
    if f.blake3.is_none() && f.stamp.is_none() {
        return Err(format!("{}: a range with neither stamp nor digest", f.path));
    }
    Ok(data)
}

/// Bytes the Zeek header lines take in a batch head at most (JSON arrays
/// of byte values: up to 4 bytes a byte, with brackets and a comma).
fn zeek_wire_len(z: &[Vec<u8>]) -> usize {
    z.iter().map(|l| l.len().saturating_mul(4) + 3).sum()
}

/// Cuts a chunk into pieces of at most `budget` bytes on line ends (a
/// single longer line is a piece of its own, read locally). The pieces
/// are of about the same size: a chunk a little over the budget gives
/// two halves, not a full piece and a sliver (every batch costs a few
/// round trips whatever its size).
fn split(ch: Chunk, budget: usize) -> Vec<Chunk> {
    if ch.data.len() <= budget {
        return vec![ch];
    }
    let target = ch
        .data
        .len()
        .div_ceil(ch.data.len().div_ceil(budget).max(1));
    let target = target.clamp(1, budget);
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut line = ch.first_line;
    let data = &ch.data;
    while start < data.len() {
        let rest = &data[start..];
        let end = if rest.len() <= budget {
            rest.len()
        } else {
            match memchr::memrchr(b'\n', &rest[..target])
                .or_else(|| memchr::memrchr(b'\n', &rest[..budget]))
            {
                Some(i) => i + 1,
                // One line longer than the budget: up to its end.
                None => memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1),
            }
        };
        let piece = &rest[..end];
        let lines = memchr::memchr_iter(b'\n', piece).count() as u64
            + u64::from(piece.last().is_some_and(|&b| b != b'\n'));
        let header_lines: Vec<u64> = ch
            .header_lines
            .iter()
            .copied()
            .filter(|&l| l >= line && l < line + lines)
            .collect();
        out.push(Chunk {
            source: ch.source,
            first_line: line,
            format: ch.format,
            forced: ch.forced,
            ctx: ch.ctx.clone(),
            header_lines,
            zeek_src: ch.zeek_src.clone(),
            offset: ch.offset.map(|o| o.saturating_add(start as u64)),
            data: piece.to_vec(),
        });
        line += lines;
        start += end;
    }
    out
}

/// The head of a batch message (its lines follow it).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchHead {
    v: u32,
    job: String,
    id: String,
    fingerprint: String,
    key: (u64, u64),
    max_line: usize,
    source: u32,
    first_line: u64,
    format: Option<String>,
    forced: Option<String>,
    year: i32,
    zeek: Vec<Vec<u8>>,
    header_lines: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<FileRange>,
}

/// A batch message: its head, then its lines, or with `file` the head
/// alone (the lines are read there).
fn encode_batch(job: &Job, id: &str, ch: &Chunk, file: Option<&FileRange>) -> Vec<u8> {
    let head = BatchHead {
        v: match file {
            Some(f) if f.stamp.is_some() => VERSION_BY_STAMP,
            Some(_) => VERSION_BY_PATH,
            None => VERSION,
        },
        job: job.id.clone(),
        id: id.to_string(),
        fingerprint: job.fingerprint.clone(),
        key: job.key,
        max_line: job.max_line,
        source: ch.source,
        first_line: ch.first_line,
        format: ch.format.map(|f| f.as_str().to_string()),
        forced: ch.forced.map(|f| f.as_str().to_string()),
        year: ch.ctx.year,
        zeek: ch.zeek_src.as_ref().map_or(Vec::new(), |z| z.to_vec()),
        header_lines: ch.header_lines.clone(),
        file: file.cloned(),
    };
    let json = serde_json::to_vec(&head).unwrap_or_default();
    let data: &[u8] = if file.is_some() { &[] } else { &ch.data };
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + json.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(data);
    out
}

/// A batch as a worker reads it.
#[derive(Debug)]
pub struct Batch {
    /// The job it belongs to.
    pub job: String,
    /// Its id.
    pub id: String,
    /// The [`fingerprint`] of the publisher's indicators.
    pub fingerprint: String,
    key: (u64, u64),
    max_line: usize,
    source: u32,
    first_line: u64,
    format: Option<Format>,
    forced: Option<Format>,
    year: i32,
    zeek: Vec<Vec<u8>>,
    header_lines: Vec<u64>,
    /// Where its lines are, for a batch sent by path not yet loaded.
    file: Option<FileRange>,
    data: Vec<u8>,
}

fn parse_format(what: &str, s: &Option<String>) -> Result<Option<Format>, Refused> {
    match s {
        None => Ok(None),
        Some(n) => Format::parse(n)
            .filter(|f| !f.is_capture())
            .map(Some)
            .ok_or_else(|| refused(format!("{what} is not a log format"))),
    }
}

impl Batch {
    /// Reads a batch message, checking every field.
    pub fn decode(payload: &[u8]) -> Result<Batch, Refused> {
        let rest = payload
            .strip_prefix(&MAGIC[..])
            .ok_or_else(|| refused("not a takedown log batch (no magic)"))?;
        let (len, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| refused("a batch cut short in its head"))?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > MAX_BATCH_HEAD || len > rest.len() {
            return Err(refused(format!(
                "a batch head of {len} bytes (at most {MAX_BATCH_HEAD}, and within the message)"
            )));
        }
        let (json, data) = rest.split_at(len);
        let h: BatchHead = serde_json::from_slice(json)
            .map_err(|e| refused(format!("a batch head that is not valid: {e}")))?;
        match (h.v, &h.file) {
            (VERSION, None) => {}
            (v @ (VERSION_BY_PATH | VERSION_BY_STAMP), Some(f)) => {
                // Version 2 checks a digest, version 3 a stamp: one of
                // them, the one of its version.
                let checks = match (&f.blake3, &f.stamp) {
                    (Some(d), None) if v == VERSION_BY_PATH => {
                        d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())
                    }
                    (None, Some(_)) => v == VERSION_BY_STAMP,
                    _ => false,
                };
                if !checks {
                    return Err(refused(format!(
                        "a batch of version {v} without its check (a digest in version {VERSION_BY_PATH}, a stamp in {VERSION_BY_STAMP})"
                    )));
                }
                if !data.is_empty() {
                    return Err(refused("a batch sent by path that also holds lines"));
                }
                if f.path.is_empty() || f.path.len() > 4096 || f.path.contains('\0') {
                    return Err(refused("a batch's path that is empty, too long or has NUL"));
                }
                if f.len == 0 || f.len > MAX_RANGE || f.offset.checked_add(f.len).is_none() {
                    return Err(refused(format!(
                        "a batch's range of {} bytes at {} (1 to {MAX_RANGE} bytes)",
                        f.len, f.offset
                    )));
                }
            }
            (v, _) => {
                return Err(refused(format!(
                    "batch version {v} (this takedown reads {VERSION}, and {VERSION_BY_PATH} and {VERSION_BY_STAMP} with a path)"
                )));
            }
        }
        check_token("the job id", &h.job)?;
        check_token("the batch id", &h.id)?;
        check_token("the fingerprint", &h.fingerprint)?;
        if !(MIN_MAX_LINE..=MAX_MAX_LINE).contains(&h.max_line) {
            return Err(refused(format!("max_line {} out of bounds", h.max_line)));
        }
        if h.first_line == 0 || h.first_line > MAX_COUNT {
            return Err(refused("first line out of bounds"));
        }
        let format = parse_format("the format", &h.format)?;
        let forced = parse_format("the forced format", &h.forced)?;
        let zeek_bytes: usize = h.zeek.iter().map(Vec::len).sum();
        if h.zeek.len() > MAX_ZEEK_LINES
            || zeek_bytes > MAX_BATCH_HEAD
            || h.zeek.iter().any(|l| l.first() != Some(&b'#'))
        {
            return Err(refused("a Zeek header that is too long or not a header"));
        }
        if h.file.is_none() {
            check_header_lines(&h.header_lines, h.first_line, data)?;
        }
        Ok(Batch {
            job: h.job,
            id: h.id,
            fingerprint: h.fingerprint,
            key: h.key,
            max_line: h.max_line,
            source: h.source,
            first_line: h.first_line,
            format,
            forced,
            year: h.year,
            zeek: h.zeek,
            header_lines: h.header_lines,
            file: h.file,
            data: data.to_vec(),
        })
    }

    /// True for a batch sent by path (its lines to be [`Batch::load`]ed).
    pub fn by_path(&self) -> bool {
        self.file.is_some()
    }

    /// Reads the lines of a batch sent by path, from a file below one of
    /// `roots` (resolved directories), checking their digest; nothing to
    /// do for a batch that carries its lines. The error says why the
    /// range cannot be read here.
    pub fn load(&mut self, roots: &[std::path::PathBuf]) -> Result<(), String> {
        let Some(f) = &self.file else {
            return Ok(());
        };
        let data = read_range(f, Some(roots))?;
        check_header_lines(&self.header_lines, self.first_line, &data).map_err(|e| e.0)?;
        self.data = data;
        self.file = None;
        Ok(())
    }

    /// Bytes of log lines it holds.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when it holds no byte of log.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// The Zeek header lines of a batch lie among its lines, in order.
fn check_header_lines(header_lines: &[u64], first_line: u64, data: &[u8]) -> Result<(), Refused> {
    let lines = memchr::memchr_iter(b'\n', data).count() as u64 + 1;
    if !header_lines.windows(2).all(|p| p[0] < p[1])
        || header_lines
            .iter()
            .any(|&l| l < first_line || l - first_line >= lines)
    {
        return Err(refused("header line numbers outside the batch or unsorted"));
    }
    Ok(())
}

/// Reads one batch as a local hunt thread would, with `m` and the
/// worker's `opts` (its sighting bounds; the line bound is the batch's).
/// `fingerprint` is `m`'s [`fingerprint`], computed once by the caller:
/// hashing a large indicator set costs more than hunting a batch.
pub fn hunt_batch(
    b: Batch,
    m: &Matcher,
    fingerprint: &str,
    opts: &Options,
) -> Result<State, Refused> {
    if fingerprint != b.fingerprint {
        return Err(refused(
            "the batch was cut for another indicator set (give the worker the publisher's -s and --dga options)",
        ));
    }
    if b.file.is_some() {
        return Err(refused("a batch sent by path whose lines were not read"));
    }
    let mut opts = opts.clone();
    opts.max_line = b.max_line;
    let mut ctx = LineCtx::new(b.year);
    if !b.zeek.is_empty() {
        let mut h = zeek::Header::default();
        for l in &b.zeek {
            h.apply(l);
        }
        ctx.zeek = h.ready().then(|| Arc::new(h));
    }
    let ch = Chunk {
        source: b.source,
        first_line: b.first_line,
        format: b.format,
        forced: b.forced,
        ctx,
        header_lines: b.header_lines,
        zeek_src: None,
        offset: None,
        data: b.data,
    };
    let mut w = Worker::new_keyed(m, &opts, Some(b.key));
    w.chunk(&ch);
    Ok(State::of(&w))
}

/// A worker's partial state, as it is sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    sightings: SightingsWire,
    ignored: Vec<TallyWire>,
    bad: Vec<TallyWire>,
    counts: Vec<CountsWire>,
    events_by_format: Vec<(String, u64)>,
    matched_events: u64,
    format_changes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TallyWire {
    format: String,
    reason: String,
    count: u64,
    examples: Vec<(u32, u64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountsWire {
    source: u32,
    lines: u64,
    events: u64,
    ignored: u64,
    bad: u64,
    formats: u32,
}

impl State {
    fn of(w: &Worker<'_>) -> State {
        let tallies = |t: &[Tally]| {
            t.iter()
                .map(|t| TallyWire {
                    format: t.format.to_string(),
                    reason: t.reason.to_string(),
                    count: t.count,
                    examples: t.examples.iter().map(|e| (e.source, e.line)).collect(),
                })
                .collect()
        };
        State {
            sightings: w.sightings.to_wire(),
            ignored: tallies(&w.ignored.0),
            bad: tallies(&w.bad.0),
            counts: w
                .counts
                .iter()
                .map(|(&source, c)| CountsWire {
                    source,
                    lines: c.lines,
                    events: c.events,
                    ignored: c.ignored,
                    bad: c.bad,
                    formats: c.formats,
                })
                .collect(),
            events_by_format: Format::ALL
                .iter()
                .zip(w.events_by_format)
                .filter(|(_, n)| *n > 0)
                .map(|(f, n)| (f.as_str().to_string(), n))
                .collect(),
            matched_events: w.matched_events,
            format_changes: w.format_changes,
        }
    }

    /// Sightings it holds.
    pub fn sightings(&self) -> usize {
        self.sightings.len()
    }
}

/// One part of a batch's partial state, as published.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartWire {
    v: u32,
    job: String,
    batch: String,
    part: u32,
    parts: u32,
    state: State,
    /// Set (with an empty state) when the worker could not read a batch
    /// sent by path: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unread: Option<String>,
}

/// The parts of `state` (of batch `batch` of job `job`), each at most
/// `max_message` bytes, with their message ids (the batch id for the
/// first, `BATCH-N` for the others).
pub fn encode_partial(
    job: &str,
    batch: &str,
    state: State,
    max_message: usize,
) -> Result<Vec<(String, Vec<u8>)>, Refused> {
    let mut n: usize = 1;
    loop {
        if n > MAX_PARTS as usize {
            return Err(refused(format!(
                "the partial state of batch {batch} does not fit in {MAX_PARTS} messages of {max_message} bytes"
            )));
        }
        let pieces = state.sightings.clone().split(n);
        let mut out = Vec::with_capacity(n);
        let mut fits = true;
        for (i, s) in pieces.into_iter().enumerate() {
            let first = i == 0;
            let part = PartWire {
                v: VERSION,
                job: job.to_string(),
                batch: batch.to_string(),
                part: i as u32,
                parts: n as u32,
                state: State {
                    sightings: s,
                    ignored: if first {
                        state.ignored.clone()
                    } else {
                        Vec::new()
                    },
                    bad: if first { state.bad.clone() } else { Vec::new() },
                    counts: if first {
                        state.counts.clone()
                    } else {
                        Vec::new()
                    },
                    events_by_format: if first {
                        state.events_by_format.clone()
                    } else {
                        Vec::new()
                    },
                    matched_events: if first { state.matched_events } else { 0 },
                    format_changes: if first { state.format_changes } else { 0 },
                },
                unread: None,
            };
            let bytes = serde_json::to_vec(&part)
                .map_err(|e| refused(format!("cannot serialize a partial state: {e}")))?;
            if bytes.len() > max_message {
                fits = false;
                break;
            }
            let id = if first {
                batch.to_string()
            } else {
                format!("{batch}-{i}")
            };
            out.push((id, bytes));
        }
        if fits {
            return Ok(out);
        }
        n = n.saturating_mul(2);
    }
}

/// The notice that a worker could not read batch `batch` (sent by path)
/// and why, with its message id (not a part's: the part published once
/// the publisher sent the lines must not be taken for a duplicate).
pub fn encode_unread(job: &str, batch: &str, why: &str) -> Result<(String, Vec<u8>), Refused> {
    let mut why = why.to_string();
    if why.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !why.is_char_boundary(end) {
            end -= 1;
        }
        why.truncate(end);
    }
    let part = PartWire {
        v: VERSION,
        job: job.to_string(),
        batch: batch.to_string(),
        part: 0,
        parts: 1,
        state: State::default(),
        unread: Some(why),
    };
    let bytes = serde_json::to_vec(&part)
        .map_err(|e| refused(format!("cannot serialize a notice: {e}")))?;
    Ok((format!("{batch}-unread"), bytes))
}

/// The publisher's side, read to its end; [`Aggregator::finish`] makes
/// the report.
pub struct Published<'m> {
    read: crate::hunt::ReadAll<'m>,
}

impl Published<'_> {
    /// How many inputs the hunt has.
    pub fn sources(&self) -> u32 {
        self.read.sources.len() as u32
    }
}

/// What [`Aggregator::add`] did with a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// The last part of its batch: the batch is merged.
    Merged(String),
    /// Kept until the batch's other parts come.
    Kept,
    /// A part already taken (a redelivered batch read again, or a
    /// message published twice): dropped.
    Duplicate,
    /// A worker could not read this batch sent by path (the reason): the
    /// publisher is to send it with its lines. Said once per batch.
    Unread(String, String),
}

/// Merges the workers' parts, each batch once.
pub struct Aggregator<'m> {
    job: Job,
    m: &'m Matcher,
    opts: Options,
    sources: u32,
    acc: Worker<'m>,
    expected: HashSet<String>,
    merged: HashSet<String>,
    pending: HashMap<String, Vec<Option<Worker<'m>>>>,
    duplicates: u64,
    /// Batches sent by path that a worker could not read.
    unread: HashSet<String>,
    /// Batches given up (their lines could be read by nobody), by input.
    abandoned: Vec<(u32, String)>,
    /// Batches sent by path and sent again as batches of lines.
    replaced: usize,
}

impl<'m> Aggregator<'m> {
    /// An aggregator for `job`'s parts, over `sources` inputs.
    pub fn new(job: &Job, m: &'m Matcher, opts: &Options, sources: u32) -> Aggregator<'m> {
        Aggregator {
            job: job.clone(),
            m,
            opts: opts.clone(),
            sources,
            acc: Worker::new_keyed(m, opts, Some(job.key)),
            expected: HashSet::new(),
            merged: HashSet::new(),
            pending: HashMap::new(),
            duplicates: 0,
            unread: HashSet::new(),
            abandoned: Vec::new(),
            replaced: 0,
        }
    }

    /// Gives batch `batch` of input `source` up: nobody could read its
    /// lines (`why`). It counts as done, and the input's report says so.
    pub fn abandon(&mut self, batch: &str, source: u32, why: String) {
        if self.merged.insert(batch.to_string()) {
            self.pending.remove(batch);
            self.abandoned.push((source, why));
        }
    }

    /// Batch `r` (sent by path, which no worker could read) again with
    /// its lines read here: the range cut on line ends into batches that
    /// fit a message (at most `batch_bytes` of lines each; a line longer
    /// than a message is hunted here). Returns the new batches (ids and
    /// messages) to publish; from now on `r`'s own parts are dropped as
    /// duplicates and the batch is done once all of them are merged.
    /// Fails, changing nothing, when the file is no longer what the
    /// publisher read.
    pub fn resend(
        &mut self,
        r: &Reread,
        max_message: usize,
        batch_bytes: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        let data = read_range(&r.file, None)?;
        let mut ch = r.chunk.clone_meta();
        ch.data = data;
        let zeek_bytes = ch.zeek_src.as_deref().map_or(0, |z| zeek_wire_len(z));
        let budget = max_message
            .saturating_sub(BATCH_OVERHEAD + zeek_bytes)
            .min(batch_bytes)
            .max(1);
        let mut out = Vec::new();
        for (k, piece) in split(ch, budget).into_iter().enumerate() {
            if piece.data.len() + zeek_bytes + BATCH_OVERHEAD > max_message {
                self.acc.chunk(&piece);
                continue;
            }
            // Not `ID-N`: the message ids of a batch's parts are.
            let id = format!("{}p{k}", r.id);
            out.push((id.clone(), encode_batch(&self.job, &id, &piece, None)));
        }
        self.pending.remove(&r.id);
        if self.merged.insert(r.id.clone()) {
            self.replaced += 1;
        }
        for (id, _) in &out {
            self.expected.insert(id.clone());
        }
        Ok(out)
    }

    /// Takes note of a batch published (parts of batches not published
    /// are refused).
    pub fn expect(&mut self, batch: &str) {
        self.expected.insert(batch.to_string());
    }

    /// Batches published and batches merged (a range sent again with
    /// its lines counts as the batches it was cut into).
    pub fn progress(&self) -> (usize, usize) {
        (
            self.expected.len().saturating_sub(self.replaced),
            self.merged.len().saturating_sub(self.replaced),
        )
    }

    /// True when every batch published is merged.
    pub fn done(&self) -> bool {
        self.merged.len() == self.expected.len()
    }

    /// Parts dropped as duplicates.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Takes one part message. A part is checked whole before anything
    /// of it is kept; a refused one changes nothing.
    pub fn add(&mut self, payload: &[u8]) -> Result<Added, Refused> {
        let p: PartWire = serde_json::from_slice(payload)
            .map_err(|e| refused(format!("a part that is not valid: {e}")))?;
        if p.v != VERSION {
            return Err(refused(format!("part version {}", p.v)));
        }
        if p.job != self.job.id {
            return Err(refused("a part of another job"));
        }
        check_token("the batch id", &p.batch)?;
        if p.parts == 0 || p.parts > MAX_PARTS || p.part >= p.parts {
            return Err(refused(format!(
                "part {} of {} of batch {}",
                p.part, p.parts, p.batch
            )));
        }
        if self.merged.contains(&p.batch) {
            self.duplicates += 1;
            return Ok(Added::Duplicate);
        }
        if !self.expected.contains(&p.batch) {
            return Err(refused(format!(
                "a part of batch {}, which this job did not publish",
                p.batch
            )));
        }
        if let Some(why) = p.unread {
            if p.parts != 1 || why.len() > MAX_REASON {
                return Err(refused(format!(
                    "a notice of batch {} out of bounds",
                    p.batch
                )));
            }
            if !self.unread.insert(p.batch.clone()) {
                self.duplicates += 1;
                return Ok(Added::Duplicate);
            }
            return Ok(Added::Unread(p.batch, why));
        }
        if let Some(slots) = self.pending.get(&p.batch) {
            if slots.len() != p.parts as usize {
                return Err(refused(format!(
                    "batch {} in {} parts and in {}",
                    p.batch,
                    slots.len(),
                    p.parts
                )));
            }
            if slots.get(p.part as usize).is_some_and(Option::is_some) {
                self.duplicates += 1;
                return Ok(Added::Duplicate);
            }
        }
        let w = self
            .worker_of(p.state)
            .map_err(|e| refused(format!("batch {}: {}", p.batch, e.0)))?;
        let slots = self
            .pending
            .entry(p.batch.clone())
            .or_insert_with(|| (0..p.parts).map(|_| None).collect());
        if let Some(slot) = slots.get_mut(p.part as usize) {
            *slot = Some(w);
        }
        if !slots.iter().all(Option::is_some) {
            return Ok(Added::Kept);
        }
        if let Some(slots) = self.pending.remove(&p.batch) {
            for w in slots.into_iter().flatten() {
                self.acc.merge(w);
            }
        }
        self.merged.insert(p.batch.clone());
        Ok(Added::Merged(p.batch))
    }

    /// A worker's state read back, every field checked.
    fn worker_of(&self, s: State) -> Result<Worker<'m>, Refused> {
        let mut w = Worker::new_keyed(self.m, &self.opts, Some(self.job.key));
        let big = |n: u64| n > MAX_COUNT;
        if big(s.sightings.dropped) || big(s.sightings.uncounted) {
            return Err(refused("counts out of bounds"));
        }
        if s.sightings.entries.iter().any(|e| big(e.count())) {
            return Err(refused("a sighting's count out of bounds"));
        }
        w.sightings
            .merge_wire(s.sightings, self.m, self.sources)
            .map_err(Refused)?;
        for (wire, into) in [(s.ignored, &mut w.ignored), (s.bad, &mut w.bad)] {
            let mut seen = BTreeSet::new();
            for t in wire {
                let format = if t.format == "unrecognised" {
                    "unrecognised"
                } else {
                    Format::parse(&t.format)
                        .ok_or_else(|| refused("a tally of an unknown format"))?
                        .as_str()
                };
                let reason = intern(&t.reason)?;
                if !seen.insert((format, reason)) {
                    return Err(refused("the same tally twice"));
                }
                if big(t.count)
                    || t.examples.len() > EXAMPLES
                    || t.examples.len() as u64 > t.count
                    || t.examples.iter().any(|e| e.0 >= self.sources)
                {
                    return Err(refused("a tally out of bounds"));
                }
                let mut examples: Vec<Example> = t
                    .examples
                    .into_iter()
                    .map(|(source, line)| Example {
                        source,
                        file: String::new(),
                        line,
                    })
                    .collect();
                examples.sort();
                into.0.push(Tally {
                    format,
                    reason,
                    count: t.count,
                    examples,
                });
            }
        }
        for c in s.counts {
            if c.source >= self.sources
                || [c.lines, c.events, c.ignored, c.bad].into_iter().any(big)
                || c.formats >> Format::ALL.len() != 0
            {
                return Err(refused("per-input counts out of bounds"));
            }
            if w.counts.contains_key(&c.source) {
                return Err(refused("an input's counts twice"));
            }
            w.counts.insert(
                c.source,
                Counts {
                    lines: c.lines,
                    events: c.events,
                    ignored: c.ignored,
                    bad: c.bad,
                    formats: c.formats,
                },
            );
        }
        let mut by_format: BTreeMap<usize, u64> = BTreeMap::new();
        for (name, n) in s.events_by_format {
            let i = Format::parse(&name)
                .and_then(|f| Format::ALL.iter().position(|&x| x == f))
                .ok_or_else(|| refused("events of an unknown format"))?;
            if big(n) || by_format.insert(i, n).is_some() {
                return Err(refused("events per format out of bounds"));
            }
        }
        for (i, n) in by_format {
            if let Some(slot) = w.events_by_format.get_mut(i) {
                *slot = n;
            }
        }
        if big(s.matched_events) || big(s.format_changes) {
            return Err(refused("counts out of bounds"));
        }
        w.matched_events = s.matched_events;
        w.format_changes = s.format_changes;
        Ok(w)
    }

    /// The report: the publisher's own reading and every batch merged.
    pub fn finish(self, published: Published<'m>) -> Report {
        let mut read = published.read;
        read.main.merge(self.acc);
        for (source, why) in self.abandoned {
            if let Some(st) = read.input_stats.get_mut(source as usize) {
                st.error = Some(match st.error.take() {
                    Some(e) => format!("{e}; {why}"),
                    None => why,
                });
            }
        }
        crate::hunt::finish(read)
    }
}

/// The reasons of tallies read from parts, as the `&'static str` a
/// [`Tally`] holds: every reason is one of the readers' constants, so a
/// handful of strings is leaked once each; a sender inventing reasons is
/// stopped at a bound.
fn intern(s: &str) -> Result<&'static str, Refused> {
    const MOST: usize = 1024;
    const LONGEST: usize = 256;
    static SET: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    if s.len() > LONGEST {
        return Err(refused("a tally reason that is too long"));
    }
    let mut set = SET.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&r) = set.get(s) {
        return Ok(r);
    }
    if set.len() >= MOST {
        return Err(refused("too many distinct tally reasons"));
    }
    let r: &'static str = Box::leak(s.to_string().into_boxed_str());
    set.insert(r);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(path: &std::path::Path, offset: u64, data: &[u8]) -> FileRange {
        FileRange {
            path: path.to_str().unwrap().to_string(),
            offset,
            len: data.len() as u64,
            blake3: Some(blake3::hash(data).to_hex().to_string()),
            stamp: None,
        }
    }

    #[test]
    fn a_range_is_read_below_a_root_and_checked() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir(root.join("logs")).unwrap();
        let log = root.join("logs/dns.log");
        std::fs::write(&log, b"line one\nline two\nline three\n").unwrap();
        let f = range(&log, 9, b"line two\n");
        let roots = [root.join("logs")];
        assert_eq!(read_range(&f, Some(&roots)).unwrap(), b"line two\n");
        // The publisher itself (no roots).
        assert_eq!(read_range(&f, None).unwrap(), b"line two\n");

        // Another directory than the worker's.
        let other = [root.join("elsewhere")];
        let e = read_range(&f, Some(&other)).unwrap_err();
        assert!(e.contains("--read-root"), "{e}");

        // Past the end of the file.
        let mut long = f.clone();
        long.len = 100;
        let e = read_range(&long, Some(&roots)).unwrap_err();
        assert!(e.contains("shorter than the range"), "{e}");

        // The bytes changed since the publisher read them.
        std::fs::write(&log, b"line one\nline 2!!\nline three\n").unwrap();
        let e = read_range(&f, Some(&roots)).unwrap_err();
        assert!(e.contains("not those the publisher read"), "{e}");

        // Relative paths, missing files.
        let mut rel = f.clone();
        rel.path = "logs/dns.log".into();
        assert!(read_range(&rel, None).unwrap_err().contains("absolute"));
        let mut gone = f.clone();
        gone.path = root.join("logs/none.log").to_str().unwrap().into();
        assert!(read_range(&gone, Some(&roots)).is_err());

        // A directory is not a log.
        let mut dir = f;
        dir.path = root.join("logs").to_str().unwrap().into();
        assert!(read_range(&dir, None).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_below_the_root_to_a_file_outside_is_not_read() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir(root.join("logs")).unwrap();
        std::fs::write(root.join("secret"), b"not a log\n").unwrap();
        std::os::unix::fs::symlink(root.join("secret"), root.join("logs/dns.log")).unwrap();
        let f = range(&root.join("logs/dns.log"), 0, b"not a log\n");
        let e = read_range(&f, Some(&[root.join("logs")])).unwrap_err();
        assert!(e.contains("--read-root"), "{e}");
    }

    /// A batch message with `head` as its JSON head and `data` after it.
    fn message(head: &serde_json::Value, data: &[u8]) -> Vec<u8> {
        let json = serde_json::to_vec(head).unwrap();
        let mut m = MAGIC.to_vec();
        m.extend_from_slice(&(json.len() as u32).to_le_bytes());
        m.extend_from_slice(&json);
        m.extend_from_slice(data);
        m
    }

    fn head(v: u32, file: Option<serde_json::Value>) -> serde_json::Value {
        let mut h = serde_json::json!({
            "v": v, "job": "job1", "id": "b1", "fingerprint": "f1", "key": [1, 2],
            "max_line": 65536, "source": 0, "first_line": 1, "format": null,
            "forced": null, "year": 2016, "zeek": [], "header_lines": [],
        });
        if let Some(f) = file {
            h["file"] = f;
        }
        h
    }

    #[test]
    fn batches_sent_by_path_are_checked_field_by_field() {
        let digest = "0".repeat(64);
        let file = |path: &str, offset: u64, len: u64, d: &str| {
            Some(serde_json::json!({"path": path, "offset": offset, "len": len, "blake3": d}))
        };
        let stamp = serde_json::json!({"size": 10, "mtime": [1, 2]});
        let stamped = |v: &serde_json::Value| {
            Some(serde_json::json!({"path": "/logs/a", "offset": 0, "len": 10, "stamp": v}))
        };
        let v3 = Batch::decode(&message(&head(3, stamped(&stamp)), b"")).unwrap();
        assert!(v3.by_path());
        let ok = Batch::decode(&message(&head(2, file("/logs/a", 0, 10, &digest)), b"")).unwrap();
        assert!(ok.by_path());
        let both = serde_json::json!({"path": "/logs/a", "offset": 0, "len": 10, "blake3": digest, "stamp": stamp});
        let bad = [
            // A stamp in version 2, a digest in version 3, both, neither.
            message(&head(2, stamped(&stamp)), b""),
            message(&head(3, file("/logs/a", 0, 10, &digest)), b""),
            message(&head(3, Some(both)), b""),
            message(
                &head(
                    3,
                    Some(serde_json::json!({"path": "/logs/a", "offset": 0, "len": 10})),
                ),
                b"",
            ),
            // Version 3 without a path, or with a stamp of unknown fields.
            message(&head(3, None), b""),
            message(
                &head(
                    3,
                    stamped(&serde_json::json!({"size": 1, "mtime": [1, 2], "x": 1})),
                ),
                b"",
            ),
            // Version 2 without a path, version 1 with one.
            message(&head(2, None), b""),
            message(&head(1, file("/logs/a", 0, 10, &digest)), b""),
            // A path and lines.
            message(&head(2, file("/logs/a", 0, 10, &digest)), b"x\n"),
            // Empty range, too long a range, a range past 2^64.
            message(&head(2, file("/logs/a", 0, 0, &digest)), b""),
            message(&head(2, file("/logs/a", 0, MAX_RANGE + 1, &digest)), b""),
            message(&head(2, file("/logs/a", u64::MAX, 10, &digest)), b""),
            // Not a digest; an empty path.
            message(&head(2, file("/logs/a", 0, 10, "zz")), b""),
            message(&head(2, file("", 0, 10, &digest)), b""),
        ];
        for m in bad {
            assert!(
                Batch::decode(&m).is_err(),
                "{}",
                String::from_utf8_lossy(&m)
            );
        }
        // Not loaded: never hunted as an empty batch.
        let m = Matcher::build(takedown_blocklist::Builder::new().into_parts());
        let e = hunt_batch(ok, &m, "f1", &Options::default()).unwrap_err();
        assert!(e.0.contains("not read"), "{e}");
    }

    #[test]
    fn a_loaded_batch_checks_its_header_lines_against_its_lines() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        let log = root.join("dns.log");
        std::fs::write(&log, b"a\nb\n").unwrap();
        let f = range(&log, 0, b"a\nb\n");
        let mut h = head(2, Some(serde_json::to_value(&f).unwrap()));
        h["header_lines"] = serde_json::json!([7]);
        let mut b = Batch::decode(&message(&h, b"")).unwrap();
        assert!(b.load(std::slice::from_ref(&root)).is_err());
        h["header_lines"] = serde_json::json!([2]);
        let mut b = Batch::decode(&message(&h, b"")).unwrap();
        b.load(&[root]).unwrap();
        assert!(!b.by_path());
        assert_eq!(b.len(), 4);
    }

    /// The Zeek header of a DNS log, with `query` and `id.orig_h` in the
    /// order given (a log read with another block's header would take
    /// names for clients).
    fn zeek_header(query_first: bool) -> String {
        let (a, b) = if query_first {
            ("query", "id.orig_h")
        } else {
            ("id.orig_h", "query")
        };
        format!(
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n\
             #fields\tts\tuid\t{a}\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\t{b}\tqtype_name\trcode_name\tanswers\n\
             #types\ttime\tstring\tstring\tport\taddr\tport\tenum\tcount\tstring\tstring\tstring\tvector[string]\n"
        )
    }

    fn zeek_line(i: u64, query_first: bool) -> String {
        let name = if i % 5 == 2 {
            format!("x{}.evil.example", i % 3)
        } else {
            format!("d{i}.benign.example")
        };
        let client = format!("10.0.{}.{}", i % 3, i % 7 + 1);
        let (a, b) = if query_first {
            (name.as_str(), client.as_str())
        } else {
            (client.as_str(), name.as_str())
        };
        format!(
            "{}.{:06}\tC{i}\t{a}\t5353\t10.0.0.53\t53\tudp\t{i}\t{b}\tA\tNOERROR\t192.0.2.{}\n",
            1_480_464_000 + i,
            i * 7 % 1_000_000,
            i % 200 + 1
        )
    }

    /// Logs with what cutting must get right: Zeek header blocks inside
    /// (concatenated logs, the second with other columns, `#close`
    /// lines), CRLF line ends, blank lines, no final newline, an empty
    /// file, and a syslog-style log.
    fn cutting_logs(dir: &std::path::Path) -> Vec<Input> {
        let mut concat = zeek_header(false);
        for i in 0..40 {
            concat += &zeek_line(i, false);
        }
        concat += "#close\t2016-11-30-01-00-00\n";
        concat += &zeek_header(true);
        for i in 40..90 {
            concat += &zeek_line(i, true);
            if i % 17 == 0 {
                concat += "\n";
            }
        }
        concat += "#close\t2016-11-30-02-00-00\n";
        concat += &zeek_header(false);
        for i in 90..120 {
            concat += &zeek_line(i, false);
        }
        let crlf = concat.replace('\n', "\r\n");
        let mut unterminated = zeek_header(false);
        for i in 0..30 {
            unterminated += &zeek_line(i, false);
        }
        unterminated.pop();
        let mut syslog = String::new();
        for i in 0..60u64 {
            let name = if i % 9 == 4 {
                "x1.evil.example".to_string()
            } else {
                format!("d{i}.benign.example")
            };
            syslog += &format!(
                "Nov 30 12:00:{:02} dnsmasq[123]: query[A] {name} from 10.3.0.{}\n",
                i % 60,
                i % 5 + 1
            );
        }
        let files = [
            ("concat.log", concat),
            ("crlf.log", crlf),
            ("unterminated.log", unterminated),
            ("empty.log", String::new()),
            ("dnsmasq.log", syslog),
        ];
        files
            .iter()
            .map(|(name, text)| {
                let p = dir.join(name);
                std::fs::write(&p, text).unwrap();
                Input::Path(p)
            })
            .collect()
    }

    fn cutting_matcher() -> Matcher {
        let mut b = takedown_blocklist::Builder::new();
        takedown_blocklist::input::read_list_from(
            &mut b,
            &b"evil.example\n"[..],
            "iocs.txt",
            &mut |d| panic!("{d}"),
        )
        .unwrap();
        Matcher::build(b.into_parts())
    }

    /// One batch as a worker does it: read (by path below `roots`),
    /// hunted, its parts handed to `agg`; a batch it cannot read is sent
    /// back and its lines come again as batches of lines, done likewise.
    fn work_on(
        agg: &mut Aggregator<'_>,
        job: &Job,
        m: &Matcher,
        b: OutBatch,
        roots: &[std::path::PathBuf],
        batch_bytes: usize,
    ) -> u64 {
        let opts = Options::default();
        let mut batch = Batch::decode(&b.payload).unwrap();
        let mut unread = 0;
        match batch.load(roots) {
            Ok(()) => {
                let st = hunt_batch(batch, m, &job.fingerprint, &opts).unwrap();
                for (_, part) in encode_partial(&job.id, &b.id, st, 1 << 20).unwrap() {
                    assert!(!matches!(agg.add(&part).unwrap(), Added::Duplicate));
                }
            }
            Err(why) => {
                unread += 1;
                let (_, notice) = encode_unread(&job.id, &b.id, &why).unwrap();
                assert!(matches!(agg.add(&notice).unwrap(), Added::Unread(..)));
                let r = b.reread.as_ref().unwrap();
                for (id, payload) in agg.resend(r, 1 << 20, batch_bytes).unwrap() {
                    let again = OutBatch {
                        id,
                        payload,
                        reread: None,
                    };
                    unread += work_on(agg, job, m, again, roots, batch_bytes);
                }
            }
        }
        unread
    }

    /// A shared hunt of `inputs` by path, the workers reading below
    /// `roots`: its report, the batches published and the batches sent
    /// back.
    fn shared(
        inputs: &[Input],
        m: &Matcher,
        roots: &[std::path::PathBuf],
        batch_bytes: usize,
        range_bytes: usize,
    ) -> (Report, usize, u64) {
        let opts = Options::default();
        let mut job = Job::new("job1", m, &opts, (7, 9)).unwrap();
        assert!(job.by_path(inputs).is_empty());
        let mut out = Vec::new();
        let published = job.batches(
            inputs,
            m,
            &opts,
            1 << 20,
            batch_bytes,
            range_bytes,
            &mut |b| {
                out.push(b);
                true
            },
        );
        let mut agg = Aggregator::new(&job, m, &opts, published.sources());
        for b in &out {
            agg.expect(&b.id);
        }
        let n = out.len();
        let mut unread = 0;
        for b in out {
            assert!(b.reread.is_some(), "every batch goes by path");
            unread += work_on(&mut agg, &job, m, b, roots, batch_bytes);
        }
        assert!(agg.done());
        (agg.finish(published), n, unread)
    }

    /// What a report says, all of it.
    fn said(r: &Report, m: &Matcher) -> String {
        let recs = r.sightings.records(m, &r.sources);
        format!(
            "{}\n{:?}\n{}",
            serde_json::to_string_pretty(&recs).unwrap(),
            r.stats,
            r.interrupted
        )
    }

    /// Ranges of whole lines, from one line each to whole files, read by
    /// path or sent back and sent again with their lines: the report is
    /// the one of a hunt on one machine, line numbers, Zeek headers,
    /// unused lines and all.
    #[test]
    fn ranges_of_every_size_give_the_hunt_alone() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        let inputs = cutting_logs(&root);
        let m = cutting_matcher();
        let alone = said(&crate::hunt::run(&inputs, &m, &Options::default()), &m);
        assert!(alone.contains("x1.evil.example"), "{alone}");
        assert!(alone.contains("Zeek header"), "{alone}");
        let total: u64 = inputs
            .iter()
            .map(|i| match i {
                Input::Path(p) => std::fs::metadata(p).unwrap().len(),
                Input::Stdin => 0,
            })
            .sum();
        let elsewhere = root.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let directives = inputs
            .iter()
            .map(|i| match i {
                Input::Path(p) => std::fs::read(p)
                    .unwrap()
                    .split(|&b| b == b'\n')
                    .filter(|l| l.starts_with(b"#"))
                    .count(),
                Input::Stdin => 0,
            })
            .sum::<usize>();
        for (batch_bytes, range_bytes) in [
            (1, 1),
            (1, 97),
            (40, 300),
            (4096, 4096),
            (1, 1 << 20),
            (1 << 20, 1 << 20),
        ] {
            let (r, n, unread) = shared(
                &inputs,
                &m,
                std::slice::from_ref(&root),
                batch_bytes,
                range_bytes,
            );
            assert_eq!(
                said(&r, &m),
                alone,
                "ranges of {batch_bytes}..{range_bytes} bytes"
            );
            assert_eq!(unread, 0);
            if range_bytes == 1 {
                // One line a batch (blank lines are lines).
                let lines: u64 = r.stats.inputs.iter().map(|i| i.lines).sum();
                assert!(n as u64 >= lines, "{n} batches, {lines} lines");
            }
            if batch_bytes >= total as usize {
                // Whole files but for the Zeek directives, each of which
                // ends a range (the lines after it read with a new
                // header).
                assert!(
                    n <= directives + inputs.len(),
                    "{n} batches, {directives} directives"
                );
            }
            // No worker sees the files: every range comes back and is
            // sent again with its lines, cut to the batch size.
            let (r, n, unread) = shared(
                &inputs,
                &m,
                std::slice::from_ref(&elsewhere),
                batch_bytes,
                range_bytes,
            );
            assert_eq!(
                said(&r, &m),
                alone,
                "lines of {batch_bytes}..{range_bytes} bytes"
            );
            assert_eq!(unread, n as u64);
        }
    }

    /// Near the end of a file the ranges shrink, to an eighth of what is
    /// left, never below the batch size.
    #[test]
    fn ranges_shrink_near_the_end_of_a_file() {
        let mib = 1 << 20;
        assert_eq!(range_limit(1000 * mib as u64, 0, mib, 16 * mib), 16 * mib);
        assert_eq!(range_limit(64 * mib as u64, 0, mib, 16 * mib), 8 * mib);
        assert_eq!(
            range_limit(64 * mib as u64, 60 * mib as u64, mib, 16 * mib),
            mib
        );
        assert_eq!(range_limit(10, 20, 4096, 16 * mib), 4096);
        // A batch size above the range bound: the range bound.
        assert_eq!(range_limit(10, 0, 32 * mib, 16 * mib), 16 * mib);
        assert_eq!(range_limit(0, 0, 0, 0), 1);
    }

    /// A file changed between the publisher's reading and a worker's:
    /// the worker does not read it (it would hunt lines the publisher
    /// did not cut), and neither does the publisher when asked to send
    /// the lines; the same content at the same size is still a change
    /// when the file was written again.
    #[test]
    fn a_file_changed_after_publishing_is_not_read() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        let log = root.join("dns.log");
        let text = "a.example from 10.0.0.1\n".repeat(100);
        std::fs::write(&log, &text).unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&log).unwrap()).unwrap();
        let f = FileRange {
            path: log.to_str().unwrap().to_string(),
            offset: 24,
            len: 48,
            blake3: None,
            stamp: Some(stamp),
        };
        let roots = [root.clone()];
        assert_eq!(
            read_range(&f, Some(&roots)).unwrap(),
            &text.as_bytes()[24..72]
        );
        let changes: [&dyn Fn(); 4] = [
            // Other bytes, the same size.
            &|| std::fs::write(&log, text.replace("10.0.0.1", "10.0.0.2")).unwrap(),
            // Lines added at the end.
            &|| std::fs::write(&log, format!("{text}b.example from 10.0.0.3\n")).unwrap(),
            // The same bytes, written again.
            &|| std::fs::write(&log, &text).unwrap(),
            // Another file moved over it, with the old time stamp.
            &|| {
                let other = root.join("other.log");
                std::fs::write(&other, &text).unwrap();
                let old = std::fs::metadata(&log).unwrap().modified().unwrap();
                std::fs::File::options()
                    .write(true)
                    .open(&other)
                    .unwrap()
                    .set_modified(old)
                    .unwrap();
                std::fs::rename(&other, &log).unwrap();
            },
        ];
        for (i, change) in changes.iter().enumerate() {
            std::fs::write(&log, &text).unwrap();
            let mut f = f.clone();
            f.stamp = Some(Stamp::of(&std::fs::metadata(&log).unwrap()).unwrap());
            assert!(read_range(&f, Some(&roots)).is_ok());
            // Past the file system's clock tick: a change within it
            // keeps the time stamp (docs/hunt-share.md says so).
            std::thread::sleep(std::time::Duration::from_millis(30));
            change();
            let e = read_range(&f, Some(&roots)).unwrap_err();
            assert!(
                e.contains("not those the publisher read"),
                "change {i}: {e}"
            );
            assert!(read_range(&f, None).is_err(), "change {i}");
        }
    }

    #[test]
    fn an_unread_notice_is_bounded_and_not_a_parts_id() {
        let (id, bytes) = encode_unread("job1", "b1", &"é".repeat(600)).unwrap();
        assert_eq!(id, "b1-unread");
        let p: PartWire = serde_json::from_slice(&bytes).unwrap();
        assert!(p.unread.unwrap().len() <= MAX_REASON);
    }
}
