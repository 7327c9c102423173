//! A bag's contents as `verify` needs them, read from a case directory or
//! streamed from a sealed archive: every tag file's bytes, and every
//! payload file's digests. All checks (BagIt, custody, timestamps) work on
//! this one view, so a directory and a package are verified alike.

use crate::{Digests, Error, Problem};
use std::collections::BTreeMap;

/// What is in a bag.
#[derive(Clone, Debug, Default)]
pub struct BagContents {
    /// Tag files (everything outside `data/`), by bag path (`/`-separated),
    /// with their bytes.
    pub tags: BTreeMap<String, Vec<u8>>,
    /// Payload files (under `data/`), by bag path, with their digests.
    pub payload: BTreeMap<String, Digests>,
    /// What could not be read while gathering this (an unreadable file, an
    /// unsafe name or a link in an archive, a tag file over the limit).
    pub problems: Vec<Problem>,
}

/// The three digests of one stream, computed in one pass: acquisition
/// hashes while it copies, `verify` while it reads, with this one core so
/// both agree byte for byte.
#[derive(Clone)]
pub struct Hasher {
    /// `None` for a SHA-256-only hasher ([`Hasher::sha256_only`]).
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: sha2::Sha256,
    size: u64,
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher::new()
    }
}

impl Hasher {
    /// A hasher of all three digests that has seen nothing.
    pub fn new() -> Hasher {
        Hasher {
            md5: Some(Default::default()),
            sha1: Some(Default::default()),
            sha256: Default::default(),
            size: 0,
        }
    }

    /// A hasher of SHA-256 alone (`verify` without `--all-digests`): the
    /// MD5 and SHA-1 of [`Hasher::finish`] are then empty.
    pub fn sha256_only() -> Hasher {
        Hasher {
            md5: None,
            sha1: None,
            ..Hasher::new()
        }
    }

    /// Feeds the next bytes of the stream.
    pub fn update(&mut self, buf: &[u8]) {
        use md5::Digest as _;
        if let Some(h) = self.md5.as_mut() {
            h.update(buf);
        }
        if let Some(h) = self.sha1.as_mut() {
            h.update(buf);
        }
        self.sha256.update(buf);
        self.size = self.size.saturating_add(buf.len() as u64);
    }

    /// The digests of everything fed so far.
    pub fn finish(self) -> Digests {
        use md5::Digest as _;
        Digests {
            size: self.size,
            md5: self
                .md5
                .map(|h| hex::encode(h.finalize()))
                .unwrap_or_default(),
            sha1: self
                .sha1
                .map(|h| hex::encode(h.finalize()))
                .unwrap_or_default(),
            sha256: hex::encode(self.sha256.finalize()),
        }
    }
}

/// Bytes read at a time while hashing: large enough that system calls
/// cost nothing next to the hashing, small enough to stay in cache.
pub const HASH_BUF: usize = 256 * 1024;

/// The digests of everything `r` yields, in one pass.
pub fn hash_reader(r: impl std::io::Read) -> std::io::Result<Digests> {
    let mut h = Hasher::new();
    feed(r, &mut vec![0u8; HASH_BUF], &mut h)?;
    Ok(h.finish())
}

/// Feeds everything `r` yields to `h`, through `buf`.
fn feed(mut r: impl std::io::Read, buf: &mut [u8], h: &mut Hasher) -> std::io::Result<()> {
    loop {
        let n = match r.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(buf.get(..n).unwrap_or_default());
    }
}

/// Largest tag file read into memory: tag files are small text (the
/// largest is an item list of a big acquisition); a bigger one in a
/// package is a memory bomb, not evidence metadata.
pub const MAX_TAG_FILE: u64 = 64 * 1024 * 1024;
/// Largest total of all tag files held in memory, for the same reason.
pub const MAX_TAG_TOTAL: u64 = 512 * 1024 * 1024;
/// Most files (payload and tag) in one bag: each costs a few hundred
/// bytes of memory, so a package of millions of empty members cannot
/// exhaust it.
pub const MAX_FILES: usize = 2_000_000;
/// Longest bag path accepted from an archive (PATH_MAX on Linux): longer
/// names only exist to exhaust memory or confuse extraction tools.
pub const MAX_PATH_BYTES: usize = 4096;
/// Most bytes of member names kept from one archive (each name is held
/// twice, in the duplicate check and in the contents): two million names
/// of 4 KiB would otherwise hold gigabytes. A real bag of two million
/// files has names of a few dozen bytes.
pub const MAX_NAME_TOTAL: usize = 256 * 1024 * 1024;
/// Bytes read at a time while hashing payload files in [`BagContents::from_dir`].
const READ_BUF: usize = 1024 * 1024;

/// Opens a file for reading without following a symbolic link in its
/// last component, and refuses anything but a regular file.
pub fn open_nofollow(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // O_NONBLOCK: a FIFO swapped in after the walk must not block the
        // open; it is refused just below.
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let f = opts.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(f)
}

/// What the walk of a bag directory found.
struct Walk {
    tags: Vec<(String, std::path::PathBuf, u64)>,
    payload: Vec<(String, std::path::PathBuf, u64)>,
    problems: Vec<Problem>,
}

impl BagContents {
    /// Reads the bag in the directory `dir`: every tag file's bytes, every
    /// payload file hashed (MD5, SHA-1 and SHA-256 in one read each) by
    /// `threads` worker threads. Links are never followed: a symbolic link
    /// or special file anywhere in the bag is an Altered problem (takedown
    /// stores links as files), as is a name that is not UTF-8. `.takedown/`
    /// is not part of the bag and is skipped. Fails only when `dir` itself
    /// cannot be read.
    pub fn from_dir(dir: &std::path::Path, threads: usize) -> Result<BagContents, Error> {
        BagContents::from_dir_with(dir, threads, true)
    }

    /// [`BagContents::from_dir`], hashing the payload with SHA-256 alone
    /// unless `all_digests`: the payload's MD5 and SHA-1 are then left
    /// empty, and `verify` checks the MD5 and SHA-1 manifests against the
    /// signed acquisition records of the same bytes instead (MD5 is two
    /// thirds of the hashing time).
    pub fn from_dir_with(
        dir: &std::path::Path,
        threads: usize,
        all_digests: bool,
    ) -> Result<BagContents, Error> {
        let meta = std::fs::metadata(dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), &e))?;
        if !meta.is_dir() {
            return Err(Error::Invalid(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let mut walk = Walk {
            tags: Vec::new(),
            payload: Vec::new(),
            problems: Vec::new(),
        };
        walk_dir(dir, "", &mut walk)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), &e))?;
        let mut out = BagContents {
            problems: std::mem::take(&mut walk.problems),
            ..BagContents::default()
        };
        let mut total = 0u64;
        for (rel, path, size) in walk.tags {
            if size > MAX_TAG_FILE {
                out.problems.push(Problem::error(
                    &rel,
                    format!(
                        "{size} bytes: over the {MAX_TAG_FILE}-byte limit of a tag file, not read"
                    ),
                ));
                continue;
            }
            match read_limited(&path, MAX_TAG_FILE) {
                Ok(Some(bytes)) => {
                    total = total.saturating_add(bytes.len() as u64);
                    if total > MAX_TAG_TOTAL {
                        out.problems.push(Problem::error(
                            &rel,
                            format!("over the {MAX_TAG_TOTAL}-byte limit of all tag files together, not read"),
                        ));
                        continue;
                    }
                    out.tags.insert(rel, bytes);
                }
                Ok(None) => out.problems.push(Problem::error(
                    &rel,
                    format!("grew over the {MAX_TAG_FILE}-byte limit of a tag file while read"),
                )),
                Err(e) => out.problems.push(Problem::error(
                    &rel,
                    format!("cannot be read: {}", takedown_vault::fsops::reason(&e)),
                )),
            }
        }
        let results = hash_files(&walk.payload, threads, all_digests);
        for ((rel, _, _), r) in walk.payload.into_iter().zip(results) {
            match r {
                Ok(d) => {
                    out.payload.insert(rel, d);
                }
                Err(e) => out.problems.push(Problem::error(
                    &rel,
                    format!("cannot be read: {}", takedown_vault::fsops::reason(&e)),
                )),
            }
        }
        Ok(out)
    }

    /// Reads a bag from a tar stream (ustar, pax or GNU) without writing
    /// anything to disk: the archive's top directory (the bag's name) is
    /// stripped, tag files are kept in memory within the same limits as
    /// [`BagContents::from_dir`], payload files are hashed as they stream
    /// by. An absolute name, a `..`, a name outside the top directory, a
    /// link, a device or a name given twice is an Altered problem; a read
    /// error partway (a truncated or corrupted archive) is an Error problem
    /// and ends the reading.
    pub fn from_archive(r: impl std::io::Read) -> Result<BagContents, Error> {
        let mut out = BagContents::default();
        let mut archive = tar::Archive::new(r);
        let entries = archive
            .entries()
            .map_err(|e| Error::io("reading the archive", &e))?;
        let mut top: Option<String> = None;
        let mut seen = std::collections::BTreeSet::new();
        let mut names = 0usize;
        let mut total = 0u64;
        let mut buf = vec![0u8; HASH_BUF];
        let mut count = 0usize;
        for (i, entry) in entries.enumerate() {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    out.problems.push(Problem::error(
                        "archive",
                        format!("unreadable after {i} members: {e}"),
                    ));
                    break;
                }
            };
            count += 1;
            if count > MAX_FILES {
                out.problems.push(Problem::error(
                    "archive",
                    format!("more than {MAX_FILES} members; the rest is not read"),
                ));
                break;
            }
            let raw = entry.path_bytes().into_owned();
            let kind = entry.header().entry_type();
            if kind.is_pax_global_extensions() {
                continue;
            }
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let Some(name) = archive_name(&raw) else {
                out.problems.push(Problem::altered(
                    &shown,
                    "member name is absolute, holds \"..\", is not UTF-8 or is too long (unsafe to extract)",
                ));
                continue;
            };
            let (first, rest) = match name.split_once('/') {
                Some((f, r)) => (f.to_string(), r.to_string()),
                None => (name.clone(), String::new()),
            };
            match &top {
                None => top = Some(first.clone()),
                Some(t) if *t == first => {}
                Some(t) => {
                    out.problems.push(Problem::altered(
                        &name,
                        format!("outside the bag's directory {t}/ in the archive"),
                    ));
                    continue;
                }
            }
            if kind.is_dir() {
                continue;
            }
            if rest.is_empty() {
                out.problems.push(Problem::altered(
                    &name,
                    "not a directory, though it is the bag's directory in the archive",
                ));
                continue;
            }
            if !(kind.is_file() || kind == tar::EntryType::Continuous) {
                out.problems.push(Problem::altered(
                    &rest,
                    format!(
                        "is a {} in the archive; a bag holds only files",
                        kind_name(kind)
                    ),
                ));
                continue;
            }
            if rest == crate::STATE_DIR || rest.starts_with(&format!("{}/", crate::STATE_DIR)) {
                out.problems.push(Problem::altered(
                    &rest,
                    "takedown's private state is never sealed into a package (added)",
                ));
                continue;
            }
            names = names.saturating_add(rest.len());
            if names > MAX_NAME_TOTAL {
                out.problems.push(Problem::error(
                    "archive",
                    format!(
                        "member names over {MAX_NAME_TOTAL} bytes in all; the rest is not read"
                    ),
                ));
                break;
            }
            if !seen.insert(rest.clone()) {
                out.problems
                    .push(Problem::altered(&rest, "appears twice in the archive"));
                out.tags.remove(&rest);
                out.payload.remove(&rest);
                continue;
            }
            let size = entry.header().size().unwrap_or(u64::MAX);
            if rest.starts_with("data/") {
                let mut h = Hasher::new();
                let r = (|| loop {
                    let n = match std::io::Read::read(&mut entry, &mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    h.update(buf.get(..n).unwrap_or_default());
                })();
                if let Err(e) = r {
                    out.problems.push(Problem::error(
                        "archive",
                        format!("unreadable in {rest}: {e}"),
                    ));
                    break;
                }
                out.payload.insert(rest, h.finish());
            } else {
                if size > MAX_TAG_FILE {
                    out.problems.push(Problem::error(
                        &rest,
                        format!("{size} bytes: over the {MAX_TAG_FILE}-byte limit of a tag file, not read"),
                    ));
                    continue;
                }
                total = total.saturating_add(size);
                if total > MAX_TAG_TOTAL {
                    out.problems.push(Problem::error(
                        &rest,
                        format!("over the {MAX_TAG_TOTAL}-byte limit of all tag files together, not read"),
                    ));
                    continue;
                }
                let mut bytes = Vec::new();
                let r = std::io::Read::read_to_end(
                    &mut std::io::Read::take(&mut entry, MAX_TAG_FILE),
                    &mut bytes,
                );
                if let Err(e) = r {
                    out.problems.push(Problem::error(
                        "archive",
                        format!("unreadable in {rest}: {e}"),
                    ));
                    break;
                }
                out.tags.insert(rest, bytes);
            }
        }
        Ok(out)
    }
}

/// A member's name as a `/`-separated relative path, `./` prefixes and a
/// trailing `/` dropped; `None` when it is absolute, holds `..` or an
/// empty component, is not UTF-8, or is over [`MAX_PATH_BYTES`].
fn archive_name(raw: &[u8]) -> Option<String> {
    if raw.len() > MAX_PATH_BYTES {
        return None;
    }
    let s = std::str::from_utf8(raw).ok()?;
    if s.starts_with('/') || s.contains(['\\', '\0']) {
        return None;
    }
    let mut parts = Vec::new();
    for c in s.trim_end_matches('/').split('/') {
        match c {
            "." if parts.is_empty() => continue,
            "" | "." | ".." => return None,
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// A tar member type in plain words.
fn kind_name(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Fifo => "FIFO",
        tar::EntryType::GNUSparse => "sparse file",
        _ => "special member",
    }
}

/// Walks `dir` (the bag path `rel`) without following links, sorting what
/// it finds into tag and payload files.
fn walk_dir(dir: &std::path::Path, rel: &str, w: &mut Walk) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let os_name = entry.file_name();
        let Some(name) = os_name.to_str() else {
            let shown = format!("{rel}/{}", os_name.to_string_lossy());
            w.problems.push(Problem::altered(
                shown.trim_start_matches('/'),
                "a name that is not UTF-8, which no manifest can list (added)",
            ));
            continue;
        };
        if rel.is_empty() && name == crate::STATE_DIR {
            continue;
        }
        let path = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let ft = match entry.file_type() {
            Ok(ft) => ft,
            Err(e) => {
                w.problems.push(Problem::error(
                    &path,
                    format!("cannot be read: {}", takedown_vault::fsops::reason(&e)),
                ));
                continue;
            }
        };
        if ft.is_dir() {
            if let Err(e) = walk_dir(&entry.path(), &path, w) {
                w.problems.push(Problem::error(
                    &path,
                    format!("cannot be read: {}", takedown_vault::fsops::reason(&e)),
                ));
            }
        } else if ft.is_file() {
            if w.tags.len() + w.payload.len() >= MAX_FILES {
                w.problems.push(Problem::error(
                    &path,
                    format!("more than {MAX_FILES} files in the bag; the rest is not read"),
                ));
                return Ok(());
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if path.starts_with("data/") {
                w.payload.push((path, entry.path(), size));
            } else {
                w.tags.push((path, entry.path(), size));
            }
        } else {
            let what = if ft.is_symlink() {
                "a symbolic link"
            } else {
                "a special file"
            };
            w.problems.push(Problem::altered(
                &path,
                format!("is {what}; evidence holds only files (links are stored as files)"),
            ));
        }
    }
    Ok(())
}

/// Reads a whole file (not following links) if it is at most `limit`
/// bytes; `None` if it is longer.
fn read_limited(path: &std::path::Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let f = open_nofollow(path)?;
    let mut bytes = Vec::new();
    f.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Hashes `files` on `threads` threads, biggest first so that a large
/// file does not start last and hold up the end; results in `files`'
/// order.
fn hash_files(
    files: &[(String, std::path::PathBuf, u64)],
    threads: usize,
    all_digests: bool,
) -> Vec<std::io::Result<Digests>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(files.get(i).map_or(0, |f| f.2)));
    let next = AtomicUsize::new(0);
    let split = threads > 1;
    let threads = threads.clamp(1, files.len().max(1));
    let mut results: Vec<Option<std::io::Result<Digests>>> = Vec::new();
    results.resize_with(files.len(), || None);
    let done: Vec<Vec<(usize, std::io::Result<Digests>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    let mut buf = vec![0u8; READ_BUF];
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&i) = order.get(k) else { break };
                        let Some((_, path, _)) = files.get(i) else {
                            break;
                        };
                        mine.push((i, hash_file(path, &mut buf, split, all_digests)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    // A hashing thread cannot panic on file contents; if
                    // it did anyway, its files are reported unreadable.
                    Vec::new()
                })
            })
            .collect()
    });
    for (i, r) in done.into_iter().flatten() {
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(r);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(std::io::Error::other("the hashing thread failed"))))
        .collect()
}

/// Files at least this big are hashed by two threads when `from_dir` has
/// more than one: MD5 (the slowest of the three, about 500 MB/s) on one,
/// SHA-1 and SHA-256 (SHA-NI, over 1 GB/s each) on the reading thread, so
/// a lone disk image is not held to one core's MD5 speed.
const SPLIT_MIN: u64 = 32 * 1024 * 1024;
/// Buffers in flight between the reading thread and the MD5 thread.
const SPLIT_BUFFERS: usize = 3;

/// Hashes one file through `buf`; with `split`, a big file's MD5 runs on a
/// thread of its own.
fn hash_file(
    path: &std::path::Path,
    buf: &mut [u8],
    split: bool,
    all_digests: bool,
) -> std::io::Result<Digests> {
    let mut f = open_nofollow(path)?;
    if all_digests && split && f.metadata()?.len() >= SPLIT_MIN {
        return hash_split(f);
    }
    let mut h = if all_digests {
        Hasher::new()
    } else {
        Hasher::sha256_only()
    };
    feed(&mut f, buf, &mut h)?;
    Ok(h.finish())
}

/// [`Hasher`]'s work on two threads: this one reads and computes SHA-1 and
/// SHA-256, then hands each buffer to a helper computing MD5, which hands
/// it back; the two overlap on consecutive buffers.
fn hash_split(mut f: std::fs::File) -> std::io::Result<Digests> {
    use md5::Digest as _;
    use std::io::Read as _;
    use std::sync::mpsc::sync_channel;
    let (to_md5, md5_rx) = sync_channel::<(Vec<u8>, usize)>(SPLIT_BUFFERS);
    let (back_tx, back_rx) = sync_channel::<Vec<u8>>(SPLIT_BUFFERS);
    std::thread::scope(|s| {
        let helper = s.spawn(move || {
            let mut md5 = md5::Md5::new();
            for (buf, n) in md5_rx {
                md5.update(buf.get(..n).unwrap_or_default());
                // The reader may be gone (a read error): nothing to return.
                let _ = back_tx.send(buf);
            }
            hex::encode(md5.finalize())
        });
        let mut sha1 = sha1::Sha1::new();
        let mut sha256 = sha2::Sha256::new();
        let mut size = 0u64;
        let mut fresh = SPLIT_BUFFERS;
        let result = loop {
            let mut buf = if fresh > 0 {
                fresh -= 1;
                vec![0u8; READ_BUF]
            } else {
                match back_rx.recv() {
                    Ok(b) => b,
                    Err(_) => break Err(std::io::Error::other("the MD5 thread stopped")),
                }
            };
            let n = match f.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    fresh += 1;
                    continue;
                }
                Err(e) => break Err(e),
            };
            let data = buf.get(..n).unwrap_or_default();
            sha1.update(data);
            sha256.update(data);
            size = size.saturating_add(n as u64);
            if to_md5.send((buf, n)).is_err() {
                break Err(std::io::Error::other("the MD5 thread stopped"));
            }
        };
        drop(to_md5);
        let md5 = helper
            .join()
            .map_err(|_| std::io::Error::other("the MD5 thread failed"))?;
        result?;
        Ok(Digests {
            size,
            md5,
            sha1: hex::encode(sha1.finalize()),
            sha256: hex::encode(sha256.finalize()),
        })
    })
}
