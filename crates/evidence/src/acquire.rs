//! Acquisition: copies what is to be preserved into a staging directory
//! while hashing it (MD5, SHA-1 and SHA-256 in the same pass), and records
//! where each item came from and what the file system said about it.
//!
//! Sources are opened as the vault opens them: every directory on the way
//! without following links, the file itself without following a link, and
//! read without touching its access time where the system allows. A
//! symbolic link is preserved as what it is (a small item holding its
//! target), never followed; FIFOs, sockets and devices are listed as
//! skipped, never opened. Nothing here writes to a source.
//!
//! The staging directory is the case's `.takedown/staging/<seq>`; the
//! caller ([`crate::case`]) moves it into `data/<seq>` in one rename once
//! everything is copied and durable.

use crate::contents::Hasher;
use crate::sys::{self, Dir, Names};
use crate::{Digests, ItemKind, ItemRecord, SourceMeta};
use base64::Engine as _;
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use takedown_vault::Identity;

/// What a name in a directory is, without following it (each platform's
/// `sys` module tells).
pub(crate) enum Node {
    /// A regular file, and its size.
    File(u64),
    /// A directory.
    Dir,
    /// A symbolic link (on Windows: any reparse point).
    Symlink,
    /// Anything else (a FIFO, socket or device): never opened (a FIFO
    /// would block, a device has no end).
    Special(&'static str),
}

/// Directory depth followed below a source: deeper trees are skipped with
/// a note rather than exhausting memory on a hostile nesting.
const MAX_DEPTH: usize = 4096;

/// What to preserve.
#[derive(Clone, Debug)]
pub enum Request {
    /// A path given by the examiner: a file, a directory (recursively) or
    /// a link (kept as a link).
    Path {
        /// The path as given.
        path: PathBuf,
        /// What it is, when the examiner says; else recognised by content.
        kind: Option<ItemKind>,
    },
    /// A file a scan detected: preserved only if it is still exactly what
    /// was scanned (device, inode, size, mtime and SHA-256).
    Scanned {
        /// Its path.
        path: PathBuf,
        /// What `fstat` said when it was scanned.
        identity: Identity,
        /// SHA-256 of what was scanned.
        sha256: String,
        /// The detections, kept with the item.
        detections: serde_json::Value,
    },
    /// An item of the takedown vault, decrypted into the case.
    Vault {
        /// The vault directory.
        vault: PathBuf,
        /// The item's ID.
        id: String,
    },
}

/// Acquisition settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Copying threads.
    pub threads: usize,
    /// The case directory (device, inode, and its canonical path): never
    /// preserved into itself, whether named or met inside a directory.
    pub case: Option<(u64, u64, PathBuf)>,
}

/// Something below a request that was not preserved, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The request it belongs to (index).
    pub request: usize,
    /// The path, lossy.
    pub source: String,
    /// Why.
    pub reason: String,
}

/// What an acquisition produced.
#[derive(Debug, Default)]
pub struct Acquired {
    /// One record per preserved item, with its bag path under `prefix`.
    pub records: Vec<ItemRecord>,
    /// For each request: the indices of its records, or why nothing of it
    /// was preserved.
    pub outcomes: Vec<Result<Vec<usize>, String>>,
    /// Parts of requests that were skipped (a FIFO in a directory, an
    /// unreadable file) while the rest was preserved.
    pub skipped: Vec<Skipped>,
}

enum From {
    File { dir: Dir, name: OsString },
    Vault { vault: PathBuf, id: String },
}

struct Job {
    /// The size seen when planned (to start the biggest files first).
    size: u64,
    request: usize,
    /// Path relative to the staging directory (`/`-separated).
    rel: String,
    source: PathBuf,
    from: From,
    kind: Option<ItemKind>,
    expect: Option<(Identity, String)>,
    detections: Option<serde_json::Value>,
}

/// Copies `requests` into `staging`, naming items `prefix/<rel>` in their
/// records (`prefix` is the bag path of the staging directory once moved,
/// e.g. `data/000002`). The caller makes the copies durable (one sync of the staging directory's
/// file system) before it commits them.
pub fn acquire(requests: &[Request], staging: &Path, prefix: &str, opts: &Options) -> Acquired {
    let started = std::time::Instant::now();
    let mut out = Acquired {
        outcomes: vec![Ok(Vec::new()); requests.len()],
        ..Acquired::default()
    };
    let mut names = Names::default();
    let mut taken = HashSet::new();
    let mut jobs = Vec::new();
    let mut links = Vec::new();
    for (i, req) in requests.iter().enumerate() {
        if let Err(reason) = plan(i, req, opts, &mut taken, &mut jobs, &mut links, &mut out) {
            out.outcomes[i] = Err(reason);
        }
    }
    // Links are tiny: written here, in order.
    for (request, rel, source, target, mut meta) in links {
        names.fill(&mut meta);
        match write_link(staging, &rel, &target) {
            Ok(digests) => push(
                &mut out,
                request,
                ItemRecord {
                    path: format!("{prefix}/{rel}"),
                    kind: ItemKind::Symlink,
                    source: source.to_string_lossy().into_owned(),
                    source_base64: b64(sys::path_bytes(&source)),
                    digests,
                    meta: Some(meta),
                    link_target: Some(String::from_utf8_lossy(&target).into_owned()),
                    vault: None,
                    detections: None,
                },
            ),
            Err(e) => skip(&mut out, request, &source, reason(&e)),
        }
    }
    tracing::debug!(
        "acquire: {} files planned in {:.2}s",
        jobs.len(),
        started.elapsed().as_secs_f64()
    );
    let results = copy_all(&jobs, staging, opts.threads.max(1));
    tracing::debug!(
        "acquire: copied and hashed in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    for (job, result) in jobs.into_iter().zip(results) {
        match result {
            Ok(mut copied) => {
                if let Some(m) = copied.meta.as_mut() {
                    names.fill(m);
                }
                let kind = job.kind.unwrap_or(copied.sniffed);
                push(
                    &mut out,
                    job.request,
                    ItemRecord {
                        path: format!("{prefix}/{}", job.rel),
                        kind,
                        source: job.source.to_string_lossy().into_owned(),
                        source_base64: b64(sys::path_bytes(&job.source)),
                        digests: copied.digests,
                        meta: copied.meta,
                        link_target: None,
                        vault: copied.vault,
                        detections: job.detections,
                    },
                );
            }
            Err(reason) => {
                let _ = std::fs::remove_file(staging.join(&job.rel));
                skip(&mut out, job.request, &job.source, reason);
            }
        }
    }
    // A request that ends up with nothing preserved (every file of a
    // directory skipped) is a failure with the first reason.
    for (i, o) in out.outcomes.iter_mut().enumerate() {
        if let Ok(v) = o
            && v.is_empty()
            && let Some(s) = out.skipped.iter().find(|s| s.request == i)
            && !matches!(requests[i], Request::Path { .. })
        {
            *o = Err(s.reason.clone());
        }
    }
    out
}

type Link = (usize, String, PathBuf, Vec<u8>, SourceMeta);

fn plan(
    i: usize,
    req: &Request,
    opts: &Options,
    taken: &mut HashSet<String>,
    jobs: &mut Vec<Job>,
    links: &mut Vec<Link>,
    out: &mut Acquired,
) -> Result<(), String> {
    match req {
        Request::Vault { vault, id } => {
            let rel = unique(taken, format!("vault/{}", encode_component(id.as_bytes())));
            jobs.push(Job {
                size: 0,
                request: i,
                rel,
                source: PathBuf::from(format!("vault:{id}")),
                from: From::Vault {
                    vault: vault.clone(),
                    id: id.clone(),
                },
                kind: Some(ItemKind::VaultItem),
                expect: None,
                detections: None,
            });
            Ok(())
        }
        Request::Scanned {
            path,
            identity,
            sha256,
            detections,
        } => {
            let (dir, name) = sys::locate(path).map_err(|e| reason(&e))?;
            let rel = unique(taken, bag_rel(path));
            jobs.push(Job {
                size: identity.size,
                request: i,
                rel,
                source: path.clone(),
                from: From::File { dir, name },
                kind: Some(ItemKind::File),
                expect: Some((*identity, sha256.clone())),
                detections: Some(detections.clone()),
            });
            Ok(())
        }
        Request::Path { path, kind } => {
            if let Some((_, _, case)) = &opts.case
                && std::fs::canonicalize(path).is_ok_and(|p| p.starts_with(case))
            {
                return Err("is inside the evidence case itself".into());
            }
            let (dir, name) = sys::locate(path).map_err(|e| reason(&e))?;
            let root = bag_rel(path);
            let mut stack = vec![(dir, name, path.clone(), root, 0usize)];
            let mut any = false;
            while let Some((dir, name, source, rel, depth)) = stack.pop() {
                let node = match sys::node_at(&dir, &name) {
                    Ok(Some(n)) => n,
                    Ok(None) => {
                        skip(out, i, &source, "no such file or directory".into());
                        continue;
                    }
                    Err(e) => {
                        skip(out, i, &source, reason(&e));
                        continue;
                    }
                };
                match node {
                    (Node::File(size), _) => {
                        any = true;
                        jobs.push(Job {
                            size,
                            request: i,
                            rel: unique(taken, rel),
                            source,
                            from: From::File { dir, name },
                            kind: *kind,
                            expect: None,
                            detections: None,
                        });
                    }
                    (Node::Symlink, meta) => match sys::read_link(&dir, &name) {
                        Ok(target) => {
                            any = true;
                            links.push((i, unique(taken, rel), source, target, meta));
                        }
                        Err(e) => skip(out, i, &source, reason(&e)),
                    },
                    (Node::Dir, meta)
                        if opts
                            .case
                            .as_ref()
                            .is_some_and(|(dev, ino, _)| (meta.dev, meta.ino) == (*dev, *ino)) =>
                    {
                        skip(
                            out,
                            i,
                            &source,
                            "is the evidence case itself; not preserved into itself".into(),
                        )
                    }
                    (Node::Dir, _) if depth >= MAX_DEPTH => skip(
                        out,
                        i,
                        &source,
                        format!("deeper than {MAX_DEPTH} directories; not followed"),
                    ),
                    (Node::Dir, _) => {
                        let sub = match sys::open_dir(&dir, &name) {
                            Ok(d) => d,
                            Err(e) => {
                                skip(out, i, &source, reason(&e));
                                continue;
                            }
                        };
                        let entries = match sys::list(&sub) {
                            Ok(v) => v,
                            Err(e) => {
                                skip(out, i, &source, reason(&e));
                                continue;
                            }
                        };
                        any = true;
                        // Reversed, so that the stack pops them in order.
                        for entry in entries.into_iter().rev() {
                            let child_rel = format!("{rel}/{}", encode_component(os_bytes(&entry)));
                            stack.push((
                                sub.clone(),
                                entry.clone(),
                                source.join(&entry),
                                child_rel,
                                depth + 1,
                            ));
                        }
                    }
                    (Node::Special(what), _) => {
                        skip(out, i, &source, format!("is {what}; not opened"))
                    }
                }
            }
            if any {
                Ok(())
            } else {
                Err(out
                    .skipped
                    .iter()
                    .rev()
                    .find(|s| s.request == i)
                    .map(|s| s.reason.clone())
                    .unwrap_or_else(|| "nothing to preserve".into()))
            }
        }
    }
}

struct Copied {
    digests: Digests,
    meta: Option<SourceMeta>,
    vault: Option<serde_json::Value>,
    sniffed: ItemKind,
}

/// Copies every job on `threads` threads; results in job order.
fn copy_all(jobs: &[Job], staging: &Path, threads: usize) -> Vec<Result<Copied, String>> {
    // Directories first, on one thread: creating them concurrently would
    // race on shared parents.
    let mut made = HashSet::new();
    for job in jobs {
        if let Some((parent, _)) = job.rel.rsplit_once('/')
            && made.insert(parent.to_string())
            && let Err(e) = std::fs::create_dir_all(staging.join(parent))
        {
            tracing::warn!("{}: {}", staging.join(parent).display(), reason(&e));
        }
    }
    // The biggest files first: a big file started last would keep one
    // thread busy alone while the others have nothing left.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs.get(i).map_or(0, |j| j.size)));
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<Copied, String>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    let md5 = md5_many::Md5Many::new();
    let store = |i: usize, r: Result<Copied, String>| {
        if let Some(Ok(mut slot)) = results.get(i).map(Mutex::lock) {
            *slot = Some(r);
        }
    };
    std::thread::scope(|s| {
        for _ in 0..threads.min(jobs.len()).max(1) {
            s.spawn(|| {
                let take = || {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let i = *order.get(k)?;
                    Some((i, jobs.get(i)?))
                };
                copy_lanes(take, &store, staging, md5);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err("not copied".into()))
        })
        .collect()
}

/// Files one thread copies at once. MD5 is the slowest of the three
/// digests (about 600 MB/s) and one stream cannot be split, but
/// independent streams hash side by side in the lanes of one vector
/// register (16 with AVX-512, 8 with AVX2): each thread keeps this many
/// copies open and hashes their chunks' MD5 together, round by round.
/// SHA-1 and SHA-256 run per file (on the CPU's SHA extensions).
const LANES: usize = 16;
/// Bytes read per file and round (so `LANES` of these per thread).
const LANE_CHUNK: usize = 256 * 1024;

/// A copy in progress in one lane.
struct Lane<'a> {
    index: usize,
    job: &'a Job,
    name: &'a OsStr,
    src: File,
    dst: File,
    meta: SourceMeta,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    size: u64,
    head: Vec<u8>,
    buf: Vec<u8>,
    /// Bytes of `buf` read this round.
    filled: usize,
    /// `Some` once the copy is over: `Ok` at the end of the source.
    over: Option<Result<(), String>>,
}

/// One thread's share: takes jobs with `take` until there are none, keeps
/// up to [`LANES`] file copies going, and hands each result to `store`.
fn copy_lanes<'a>(
    mut take: impl FnMut() -> Option<(usize, &'a Job)>,
    store: &impl Fn(usize, Result<Copied, String>),
    staging: &Path,
    md5: md5_many::Md5Many,
) {
    use sha1::Digest as _;
    let mut lanes: Vec<Lane<'a>> = Vec::with_capacity(LANES);
    // MD5 states apart from the lanes: the batch hasher takes a slice.
    let mut states: Vec<md5_many::Md5State> = Vec::with_capacity(LANES);
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut inputs_done = false;
    loop {
        while !inputs_done && lanes.len() < LANES {
            let Some((index, job)) = take() else {
                inputs_done = true;
                break;
            };
            let buf = spare.pop().unwrap_or_else(|| vec![0u8; LANE_CHUNK]);
            match open_lane(index, job, staging, buf) {
                Start::Lane(lane) => {
                    lanes.push(lane);
                    states.push(md5_many::Md5State::new());
                }
                Start::Settled(r, buf) => {
                    spare.extend(buf);
                    store(index, r);
                }
            }
        }
        if lanes.is_empty() {
            return;
        }
        for lane in lanes.iter_mut() {
            lane.filled = 0;
            match read_some(&mut lane.src, &mut lane.buf) {
                Ok(0) => lane.over = Some(Ok(())),
                Ok(n) => {
                    let chunk = lane.buf.get(..n).unwrap_or_default();
                    if let Err(e) = lane.dst.write_all(chunk) {
                        lane.over = Some(Err(format!(
                            "cannot write the copy in the case: {}",
                            reason(&e)
                        )));
                        continue;
                    }
                    lane.filled = n;
                    lane.sha1.update(chunk);
                    lane.sha256.update(chunk);
                    lane.size += n as u64;
                    if lane.head.len() < SNIFF {
                        let more = n.min(SNIFF - lane.head.len());
                        lane.head
                            .extend_from_slice(chunk.get(..more).unwrap_or_default());
                    }
                }
                Err(e) => lane.over = Some(Err(format!("cannot read: {}", reason(&e)))),
            }
        }
        let inputs: Vec<&[u8]> = lanes
            .iter()
            .map(|l| l.buf.get(..l.filled).unwrap_or_default())
            .collect();
        md5.update_many(&mut states, &inputs);
        // Finished lanes leave (from the back, so that indices hold).
        for k in (0..lanes.len()).rev() {
            if lanes.get(k).is_some_and(|l| l.over.is_some()) {
                let lane = lanes.swap_remove(k);
                let state = states.swap_remove(k);
                let (index, r, buf) = close_lane(lane, &state);
                spare.push(buf);
                store(index, r);
            }
        }
    }
}

/// Reads what `src` has next into `buf` (0 at its end).
fn read_some(src: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match src.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// What starting a job gives.
// One lives for a moment per file started; boxing the lane would cost an
// allocation per file for no gain (its size differs by platform).
#[allow(clippy::large_enum_variant)]
enum Start<'a> {
    /// A copy now going on in a lane.
    Lane(Lane<'a>),
    /// A job settled without a lane: its result, and the buffer back if
    /// there still is one.
    Settled(Result<Copied, String>, Option<Vec<u8>>),
}

/// Starts copying `job` into a lane; a vault item (which the vault
/// decrypts and pushes) is copied at once and its result returned.
fn open_lane<'a>(index: usize, job: &'a Job, staging: &Path, buf: Vec<u8>) -> Start<'a> {
    let dst_path = staging.join(&job.rel);
    let (dir, name) = match &job.from {
        From::Vault { vault, id } => {
            return Start::Settled(copy_vault(&dst_path, vault, id), Some(buf));
        }
        From::File { dir, name } => (dir, name),
    };
    let (src, meta) = match sys::open_file(dir, name) {
        Ok(v) => v,
        Err(e) => return Start::Settled(Err(reason(&e)), Some(buf)),
    };
    if let Some((identity, _)) = &job.expect {
        let now = Identity {
            dev: meta.dev,
            ino: meta.ino,
            size: file_size(&src),
            mtime_sec: meta.mtime.sec,
            mtime_nsec: meta.mtime.nsec,
        };
        if let Some(why) = now.differs(identity) {
            return Start::Settled(Err(format!("not preserved: {why}")), Some(buf));
        }
    }
    let dst = match create_copy(&dst_path) {
        Ok(f) => f,
        Err(e) => {
            let why = format!("cannot write the copy in the case: {}", reason(&e));
            return Start::Settled(Err(why), Some(buf));
        }
    };
    Start::Lane(Lane {
        index,
        job,
        name,
        src,
        dst,
        meta,
        sha1: Default::default(),
        sha256: Default::default(),
        size: 0,
        head: Vec::new(),
        buf,
        filled: 0,
        over: None,
    })
}

/// The result of a lane whose copy is over, and its buffer back.
fn close_lane(
    lane: Lane<'_>,
    md5: &md5_many::Md5State,
) -> (usize, Result<Copied, String>, Vec<u8>) {
    use sha1::Digest as _;
    let Lane {
        index,
        job,
        name,
        meta,
        sha1,
        sha256,
        size,
        head,
        buf,
        over,
        ..
    } = lane;
    let r = match over {
        Some(Err(e)) => Err(e),
        _ => {
            let digests = Digests {
                size,
                md5: hex::encode(md5.finalize()),
                sha1: hex::encode(sha1.finalize()),
                sha256: hex::encode(sha256.finalize()),
            };
            check_expected(job, &digests).map(|()| Copied {
                digests,
                meta: Some(meta),
                vault: None,
                sniffed: sniff(name, &head),
            })
        }
    };
    (index, r, buf)
}

/// A scanned file is preserved only if it is still what was scanned.
fn check_expected(job: &Job, digests: &Digests) -> Result<(), String> {
    if let Some((identity, sha256)) = &job.expect {
        if !digests.sha256.eq_ignore_ascii_case(sha256) {
            return Err(format!(
                "not preserved: its content changed since the scan (SHA-256 {} now, {} when scanned)",
                digests.sha256, sha256
            ));
        }
        if digests.size != identity.size {
            return Err("not preserved: its size changed since the scan".into());
        }
    }
    Ok(())
}

/// Decrypts a vault item into the case, hashing it on the way.
fn copy_vault(dst_path: &Path, vault: &Path, id: &str) -> Result<Copied, String> {
    let mut dst = create_copy(dst_path)
        .map_err(|e| format!("cannot write the copy in the case: {}", reason(&e)))?;
    let v = takedown_vault::Vault::open(vault, false).map_err(|e| e.to_string())?;
    let mut w = HashingWriter {
        inner: &mut dst,
        hasher: Hasher::new(),
    };
    let meta = v.read_item(id, &mut w).map_err(|e| e.to_string())?;
    let digests = w.hasher.finish();
    Ok(Copied {
        digests,
        meta: None,
        vault: serde_json::to_value(&meta).ok(),
        sniffed: ItemKind::VaultItem,
    })
}

/// Bytes looked at to recognise a findings file, a log or an export.
const SNIFF: usize = 4096;

/// Recognises what the examiner added by its content (and, for logs, its
/// name): the custody log then says what kind of evidence it is.
fn sniff(name: &OsStr, head: &[u8]) -> ItemKind {
    // On bytes: every marker is ASCII, and a binary head (most items)
    // must cost no conversion.
    let has = |hay: &[u8], needle: &[u8]| memchr::memmem::find(hay, needle).is_some();
    let line_end = memchr::memchr(b'\n', head).unwrap_or(head.len());
    let first = head.get(..line_end).unwrap_or_default().trim_ascii_start();
    let json = first.starts_with(b"{");
    if json && has(first, br#""type""#) && has(first, br#""bundle""#) {
        return ItemKind::Export;
    }
    if json && (has(first, br#""Event""#) || has(first, br#""response""#)) {
        return ItemKind::Export;
    }
    if has(head, br#"<meta name="generator" content="takedown"#) {
        return ItemKind::Export;
    }
    if json && (has(first, br#""type":"finding""#) || has(first, br#""type":"summary""#)) {
        return ItemKind::Findings;
    }
    let printable = !head.is_empty()
        && head
            .iter()
            .all(|&b| b >= 0x20 || matches!(b, b'\n' | b'\r' | b'\t'));
    if printable {
        let lower = name.to_string_lossy().to_ascii_lowercase();
        if lower.ends_with(".log")
            || lower.contains(".log.")
            || lower == "syslog"
            || lower == "messages"
            || lower == "auth.log"
        {
            return ItemKind::Log;
        }
    }
    ItemKind::File
}

fn file_size(f: &File) -> u64 {
    f.metadata().map(|m| m.len()).unwrap_or(0)
}

/// Writes a link's target as a small item.
fn write_link(staging: &Path, rel: &str, target: &[u8]) -> io::Result<Digests> {
    let path = staging.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = create_copy(&path)?;
    f.write_all(target)?;
    let mut h = Hasher::new();
    h.update(target);
    Ok(h.finish())
}

/// Creates a copy in the case: never over an existing file, and readable
/// by the case's owner alone (the sources may be other users' secrets).
fn create_copy(path: &Path) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Hashes what the vault decrypts on its way into the case.
struct HashingWriter<'a> {
    inner: &'a mut File,
    hasher: Hasher,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn push(out: &mut Acquired, request: usize, record: ItemRecord) {
    let idx = out.records.len();
    out.records.push(record);
    if let Some(Ok(v)) = out.outcomes.get_mut(request) {
        v.push(idx);
    }
}

fn skip(out: &mut Acquired, request: usize, source: &Path, reason: String) {
    out.skipped.push(Skipped {
        request,
        source: source.to_string_lossy().into_owned(),
        reason,
    });
}

fn reason(e: &io::Error) -> String {
    takedown_vault::fsops::reason(e)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn os_bytes(s: &OsStr) -> &[u8] {
    sys::path_bytes(Path::new(s))
}

/// A path's place in the bag: its absolute form, lexically normalised
/// (`.` dropped, `..` taking back a component: only a name, never
/// resolved), each component encoded by [`encode_component`]. So the bag
/// shows where each item was, and no name can climb out of it.
pub fn bag_rel(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut parts: Vec<String> = Vec::new();
    for comp in abs.components() {
        match comp {
            Component::Prefix(p) => parts.push(encode_component(
                p.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(':')
                    .as_bytes(),
            )),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(n) => parts.push(encode_component(os_bytes(n))),
        }
    }
    if parts.is_empty() {
        parts.push("root".into());
    }
    parts.join("/")
}

/// One path component as a portable, printable file name: bytes that are
/// not valid UTF-8, control characters, `%`, `^`, `$`, a trailing space,
/// and the characters
/// Windows refuses in names (`\ : * ? " < > |`) become `^XX` (hex); the
/// exact original bytes are kept in the item's record anyway. `^` rather
/// than `%`: a bag path then never needs the percent-encoding of RFC 8493
/// manifests, which not every BagIt tool decodes (bagit.py 1.8 does not),
/// so every tool finds every file. Never empty, never `.` or `..`.
pub fn encode_component(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control()
                || matches!(
                    c,
                    '%' | '^' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|'
                )
            {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    out.push_str(&format!("^{byte:02X}"));
                }
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("^{byte:02X}"));
        }
    }
    // bagit.py expands `$VAR` in paths and strips trailing white space:
    // such names would be missing to it.
    let out = out.replace('$', "^24");
    let out = match out.strip_suffix(' ') {
        Some(rest) => format!("{rest}^20"),
        None => out,
    };
    match out.as_str() {
        "" => "^00".into(),
        "." => "^2E".into(),
        ".." => "^2E^2E".into(),
        _ => out,
    }
}

/// `rel`, or `rel~2`, `rel~3`... when two sources land on the same name
/// (the same file given twice is preserved twice: each was acquired).
fn unique(taken: &mut HashSet<String>, rel: String) -> String {
    if taken.insert(rel.clone()) {
        return rel;
    }
    let mut n = 2u64;
    loop {
        let cand = format!("{rel}~{n}");
        if taken.insert(cand.clone()) {
            return cand;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lanes' digests are RustCrypto's: sizes around the MD5 block
    /// and the lane chunk, more files than lanes (lanes refilled while
    /// others run), on one thread and on three.
    #[test]
    fn lane_digests_match_single_stream_hashing() {
        use sha2::Digest as _;
        let src = tempfile::tempdir().unwrap();
        let sizes = [
            0usize,
            1,
            55,
            56,
            63,
            64,
            65,
            127,
            128,
            1000,
            4095,
            4096,
            65_537,
            LANE_CHUNK - 1,
            LANE_CHUNK,
            LANE_CHUNK + 1,
            3 * LANE_CHUNK + 7,
        ];
        let mut want = std::collections::HashMap::new();
        let mut seed = 0x9e37_79b9u32;
        for (i, &n) in sizes.iter().cycle().take(sizes.len() * 3).enumerate() {
            let data: Vec<u8> = (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let name = format!("f{i:03}");
            std::fs::write(src.path().join(&name), &data).unwrap();
            let d = (
                hex::encode(md5::Md5::digest(&data)),
                hex::encode(sha1::Sha1::digest(&data)),
                hex::encode(sha2::Sha256::digest(&data)),
                n as u64,
            );
            want.insert(name, d);
        }
        for threads in [1, 3] {
            let staging = tempfile::tempdir().unwrap();
            let opts = Options {
                threads,
                case: None,
            };
            let req = [Request::Path {
                path: src.path().to_path_buf(),
                kind: None,
            }];
            let got = acquire(&req, staging.path(), "data/000002", &opts);
            assert!(got.skipped.is_empty(), "{:?}", got.skipped.len());
            assert_eq!(got.records.len(), want.len());
            for r in &got.records {
                let name = r.path.rsplit('/').next().unwrap();
                let (md5, sha1, sha256, size) = &want[name];
                assert_eq!(&r.digests.md5, md5, "{name}");
                assert_eq!(&r.digests.sha1, sha1, "{name}");
                assert_eq!(&r.digests.sha256, sha256, "{name}");
                assert_eq!(r.digests.size, *size, "{name}");
                let rel = r.path.strip_prefix("data/000002/").unwrap();
                let copy = std::fs::read(staging.path().join(rel)).unwrap();
                assert_eq!(hex::encode(sha2::Sha256::digest(&copy)), *sha256);
            }
        }
    }

    #[test]
    fn components_are_printable_and_reversible() {
        assert_eq!(encode_component(b"a b.exe"), "a b.exe");
        assert_eq!(encode_component(b"100%"), "100^25");
        assert_eq!(encode_component(b"a^b"), "a^5Eb");
        assert_eq!(encode_component(b"$HOME"), "^24HOME");
        assert_eq!(encode_component(b"trailing "), "trailing^20");
        assert_eq!(encode_component(b"a\nb"), "a^0Ab");
        assert_eq!(encode_component(b"x\xffy"), "x^FFy");
        assert_eq!(encode_component(b"c:d"), "c^3Ad");
        assert_eq!(encode_component(b".."), "^2E^2E");
        assert_eq!(encode_component(b""), "^00");
        assert_eq!(encode_component("é".as_bytes()), "é");
    }

    #[test]
    fn bag_paths_never_climb_out() {
        assert_eq!(bag_rel(Path::new("/home/a/../b/./x")), "home/b/x");
        assert_eq!(bag_rel(Path::new("/../../etc/passwd")), "etc/passwd");
        assert_eq!(bag_rel(Path::new("/")), "root");
    }

    #[test]
    fn duplicates_get_a_suffix() {
        let mut t = HashSet::new();
        assert_eq!(unique(&mut t, "a".into()), "a");
        assert_eq!(unique(&mut t, "a".into()), "a~2");
        assert_eq!(unique(&mut t, "a".into()), "a~3");
    }

    #[test]
    fn kinds_are_recognised() {
        let n = OsStr::new("x.json");
        assert_eq!(
            sniff(n, br#"{"type": "bundle", "id": "bundle--1"}"#),
            ItemKind::Export
        );
        assert_eq!(
            sniff(n, br#"{"type":"finding","path":"/x","detections":[]}"#),
            ItemKind::Findings
        );
        assert_eq!(
            sniff(OsStr::new("auth.log"), b"Dec  6 sshd\n"),
            ItemKind::Log
        );
        assert_eq!(sniff(OsStr::new("a.exe"), b"MZ\x90\x00"), ItemKind::File);
        assert_eq!(
            sniff(n, b"  {\"response\": [{\"Event\": {}}]}\r\n"),
            ItemKind::Export
        );
        assert_eq!(
            sniff(
                n,
                b"\xff\xfe<html><meta name=\"generator\" content=\"takedown 1\">"
            ),
            ItemKind::Export
        );
        assert_eq!(sniff(n, b"{\"type\":\"summary\"}"), ItemKind::Findings);
        // The markers count on the first line only.
        assert_eq!(sniff(n, b"{}\n{\"type\":\"finding\"}"), ItemKind::File);
        // A log is printable: a binary file named .log is a file.
        assert_eq!(sniff(OsStr::new("x.log"), b"\x00\x01"), ItemKind::File);
    }
}
