//! Scanning one object (a file or a byte stream) with every signature.
//!
//! One [`ObjectScanner`] lives on each worker thread: it owns a yara-x
//! scanner and a read buffer that are reused from file to file, and borrows
//! the shared [`SignatureSet`].
//!
//! Files are read, never memory-mapped: a file truncated by another process
//! while mapped raises SIGBUS and kills the scanner, and files on a victim's
//! machine are exactly the ones malware (or its cleanup) rewrites. Reading
//! costs one copy from the page cache, small beside the matching itself.
//!
//! Content is read only when something needs it: YARA rules or ClamAV body
//! signatures are loaded, a hash IOC exists for this file's size, the file
//! may be a container, or ClamAV section hashes are loaded and the file is
//! an executable. With hash IOCs alone and no size match, a file costs one
//! `fstat`.

use crate::digest::{Algorithms, Digests};
use crate::finding::{Detection, EngineKind, FileIdentity, Finding, Problem, ProblemKind};
use crate::sigs::SignatureSet;
use rustc_hash::FxHashMap;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;
use std::time::{Duration, Instant};
use takedown_formats::{Ctx, Flow, Issue, IssueKind, Limits};

/// Default `--max-filesize`: ClamAV's default is 100 MiB for scanning and
/// Loki's 5 MB; 256 MiB covers large droppers and memory dumps while
/// bounding the per-thread buffer.
pub const DEFAULT_MAX_FILESIZE: u64 = 256 << 20;

/// Default per-file YARA time budget.
pub const DEFAULT_YARA_TIMEOUT: Duration = Duration::from_secs(60);

/// Score of a `--limits-as-detections` heuristic: notable, not malicious.
pub const LIMIT_SCORE: u32 = 40;

/// Score of a `--heuristics` detection (an overlapping zip, a broken PE,
/// nested packers): suspicious, not proof of malware.
pub const HEURISTIC_SCORE: u32 = 60;

/// Score of a YARA rule without a `score` meta: Loki's default.
pub const DEFAULT_YARA_SCORE: u32 = 75;

/// Score of a ClamAV detection: a signature in a ClamAV database names
/// malware, as certain as a hash IOC.
pub const CLAMAV_SCORE: u32 = 100;

/// Score of a ClamAV `PUA.` (potentially unwanted application) detection:
/// Loki's "suspicious".
pub const CLAMAV_PUA_SCORE: u32 = 60;

/// A buffer that grew past this for one big file is given back afterwards,
/// so one 200 MB file does not pin 200 MB per thread for the rest of a run.
const KEEP_BUFFER: usize = 32 << 20;

/// Default time limit for one top-level file, containers included.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(120);

/// Options for scanning objects.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Larger objects are skipped (and reported as a `max-filesize` limit);
    /// larger container members are cut at this size.
    pub max_filesize: u64,
    /// Time budget of the YARA scan of one object.
    pub yara_timeout: Duration,
    /// Look inside containers, within these limits (`max_member_size` is
    /// taken from `max_filesize`); `None` scans files only as they are.
    pub containers: Option<Limits>,
    /// Time budget of one top-level object and everything inside it.
    pub time_limit: Duration,
    /// Report every limit reached as a heuristic detection too.
    pub limits_as_detections: bool,
    /// Report the structural heuristics (`--heuristics`) as detections;
    /// `None` (the default) does not look for them.
    pub heuristics: Option<Heuristics>,
}

/// Settings of the structural heuristics (see
/// [`takedown_formats::heuristics`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heuristics {
    /// Executable packers in a row past which the next is reported
    /// (`--max-packers`).
    pub max_packers: u32,
}

impl Default for Heuristics {
    fn default() -> Self {
        Heuristics {
            max_packers: takedown_formats::heuristics::DEFAULT_MAX_PACKERS,
        }
    }
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_filesize: DEFAULT_MAX_FILESIZE,
            yara_timeout: DEFAULT_YARA_TIMEOUT,
            containers: Some(Limits::default()),
            time_limit: DEFAULT_TIME_LIMIT,
            limits_as_detections: false,
            heuristics: None,
        }
    }
}

/// How a scan of one object ended, for the run's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Scanned (possibly with a timeout problem); size and bytes read.
    Scanned {
        /// Size of the object.
        size: u64,
        /// Bytes actually read from it.
        read: u64,
    },
    /// Skipped on purpose (limit, not a regular file).
    Skipped,
    /// Could not be scanned.
    Failed,
}

/// The result of scanning one object.
#[derive(Debug)]
pub struct Outcome {
    /// What to report (only reported when notable).
    pub finding: Finding,
    /// For the counters.
    pub status: Status,
    /// Notable findings of objects inside it (containers), depth first,
    /// each container before its members.
    pub inner: Vec<Finding>,
    /// Objects found inside it and scanned.
    pub members: u64,
}

impl Outcome {
    fn new(status: Status, finding: Finding) -> Outcome {
        Outcome {
            finding,
            status,
            inner: Vec::new(),
            members: 0,
        }
    }
}

/// Which rules a YARA scan runs (see [`ObjectScanner::match_yara`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    Whole,
    Copy,
    Lite,
}

/// An object's content as [`crate::copies`] sees it.
#[derive(Default)]
struct Copy {
    /// Its name, when copies are recognised.
    key: Option<crate::copies::Key>,
    /// What was remembered of it, when it is a copy.
    seen: Option<crate::copies::Seen>,
    /// Its IOC digests (remembered, or computed).
    digests: Digests,
}

/// What the unpacking of one top-level object gathers.
#[derive(Default)]
struct Inner {
    findings: Vec<Finding>,
    members: u64,
}

/// Scans objects one at a time; one per thread.
pub struct ObjectScanner<'s> {
    sigs: &'s SignatureSet,
    yara: Option<yara_x::Scanner<'s>>,
    /// Over the rules that do not need content beginning with `MZ`, for
    /// content that does not.
    without_mz: Option<yara_x::Scanner<'s>>,
    /// Over the rules that read more than content, for the second
    /// occurrence of some content.
    copy_scanner: Option<yara_x::Scanner<'s>>,
    /// Over the same rules with their content parts taken as known, for
    /// later occurrences.
    lite_scanner: Option<yara_x::Scanner<'s>>,
    opts: ScanOptions,
    buf: Vec<u8>,
    owners: FxHashMap<u32, String>,
    /// The run of executable packers ending at the container being
    /// unpacked (for `--heuristics`' nested packers).
    packer_run: u32,
}

impl<'s> ObjectScanner<'s> {
    /// A scanner over `sigs`.
    pub fn new(sigs: &'s SignatureSet, opts: ScanOptions) -> ObjectScanner<'s> {
        let yara = sigs
            .yara
            .as_ref()
            .filter(|_| sigs.yara_rule_count() > 0)
            .map(|y| {
                let mut s = yara_x::Scanner::new(&y.rules);
                s.set_timeout(opts.yara_timeout);
                s
            });
        let without_mz = sigs
            .yara
            .as_ref()
            .and_then(|y| y.without_mz.as_ref())
            .filter(|_| yara.is_some())
            .map(|rules| {
                let mut s = yara_x::Scanner::new(rules);
                s.set_timeout(opts.yara_timeout);
                s
            });
        let copy_scanner = sigs
            .yara
            .as_ref()
            .and_then(|y| y.copies.as_ref())
            .filter(|_| yara.is_some())
            .map(|c| {
                let mut s = yara_x::Scanner::new(&c.rules);
                s.set_timeout(opts.yara_timeout);
                s
            });
        let lite_scanner = sigs
            .yara
            .as_ref()
            .and_then(|y| y.copies.as_ref())
            .and_then(|c| c.lite.as_ref())
            .filter(|_| copy_scanner.is_some())
            .map(|rules| {
                let mut s = yara_x::Scanner::new(rules);
                s.set_timeout(opts.yara_timeout);
                s
            });
        ObjectScanner {
            sigs,
            yara,
            without_mz,
            copy_scanner,
            lite_scanner,
            opts,
            buf: Vec::new(),
            owners: FxHashMap::default(),
            packer_run: 0,
        }
    }

    /// Scans the file at `path`. With `nofollow`, a symlink in the last
    /// component is refused (the walker saw a regular file there; a link now
    /// means it was swapped).
    pub fn scan_path(&mut self, path: &Path, nofollow: bool) -> Outcome {
        let mut finding = Finding::new(path);
        self.match_names(&mut finding);
        let file = match crate::platform::open_for_scan(path, nofollow) {
            Ok(f) => f,
            Err(crate::platform::OpenError::IsLink) => {
                finding.problems.push(Problem::error(
                    "is now a symbolic link (not followed)".to_string(),
                ));
                return Outcome::new(Status::Failed, finding);
            }
            Err(crate::platform::OpenError::Io(e)) => {
                finding
                    .problems
                    .push(Problem::error(format!("cannot open: {}", io_reason(&e))));
                return Outcome::new(Status::Failed, finding);
            }
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                finding
                    .problems
                    .push(Problem::error(format!("cannot stat: {}", io_reason(&e))));
                return Outcome::new(Status::Failed, finding);
            }
        };
        if !meta.is_file() {
            // Never read FIFOs, sockets or devices: they block, never end,
            // or have side effects.
            finding.problems.push(not_a_regular_file(meta.file_type()));
            return Outcome::new(Status::Skipped, finding);
        }
        let size = meta.len();
        finding.size = Some(size);
        let id = match crate::platform::file_id(&file, &meta) {
            Ok(id) => id,
            Err(e) => {
                finding
                    .problems
                    .push(Problem::error(format!("cannot stat: {}", io_reason(&e))));
                return Outcome::new(Status::Failed, finding);
            }
        };
        finding.identity = Some(FileIdentity {
            dev: id.dev,
            ino: id.ino,
            size,
            mtime_sec: id.mtime_sec,
            mtime_nsec: id.mtime_nsec,
        });
        if self.over_max_filesize(&mut finding, size) {
            return Outcome::new(Status::Skipped, finding);
        }
        // No uid (Windows, where owners are SIDs): YARA's `owner` is empty,
        // as for objects with no owner.
        let owner = id.uid.map(|uid| self.owner(uid)).unwrap_or_default();
        self.scan_open_file(finding, file, size, &owner)
    }

    /// Scans a stream (standard input) named `name`, read whole up to
    /// `--max-filesize`.
    pub fn scan_reader(&mut self, name: &str, reader: &mut dyn Read) -> Outcome {
        let mut finding = Finding::named(name);
        self.match_names(&mut finding);
        self.buf.clear();
        match read_capped(reader, &mut self.buf, self.opts.max_filesize) {
            Ok(n) if n > self.opts.max_filesize => {
                finding.problems.push(Problem::limit(
                    "max-filesize",
                    format!(
                        "stream is over the --max-filesize limit of {} bytes; not scanned",
                        self.opts.max_filesize
                    ),
                ));
                self.shrink();
                return Outcome::new(Status::Skipped, finding);
            }
            Ok(_) => {}
            Err(e) => {
                finding
                    .problems
                    .push(Problem::error(format!("cannot read: {}", io_reason(&e))));
                return Outcome::new(Status::Failed, finding);
            }
        }
        let size = self.buf.len() as u64;
        let buf = std::mem::take(&mut self.buf);
        let outcome = self.scan_buffer(finding, &buf, name, "", size);
        self.buf = buf;
        self.shrink();
        outcome
    }

    /// Scans `data`, an object already in memory (an upload), under the
    /// display name `name`, without copying it into the scanner's buffer.
    pub fn scan_bytes(&mut self, name: &str, data: &[u8]) -> Outcome {
        let mut finding = Finding::named(name);
        self.match_names(&mut finding);
        let size = data.len() as u64;
        if size > self.opts.max_filesize {
            finding.size = Some(size);
            finding.problems.push(Problem::limit(
                "max-filesize",
                format!(
                    "{size} bytes is over the --max-filesize limit of {} bytes; not scanned",
                    self.opts.max_filesize
                ),
            ));
            self.limit_detections(&mut finding);
            return Outcome::new(Status::Skipped, finding);
        }
        self.scan_buffer(finding, data, name, "", size)
    }

    /// Scans an already open file, such as an upload spooled to an unlinked
    /// temporary file, under the display name `name`. The name is only a
    /// label (and a subject for name IOCs): nothing is opened by it. Reads
    /// from the start of the file whatever its current position.
    pub fn scan_file(&mut self, name: &str, mut file: File) -> Outcome {
        let mut finding = Finding::named(name);
        self.match_names(&mut finding);
        let meta = match file.rewind().and_then(|_| file.metadata()) {
            Ok(m) => m,
            Err(e) => {
                finding
                    .problems
                    .push(Problem::error(format!("cannot stat: {}", io_reason(&e))));
                return Outcome::new(Status::Failed, finding);
            }
        };
        if !meta.is_file() {
            finding.problems.push(not_a_regular_file(meta.file_type()));
            return Outcome::new(Status::Skipped, finding);
        }
        let size = meta.len();
        finding.size = Some(size);
        if self.over_max_filesize(&mut finding, size) {
            return Outcome::new(Status::Skipped, finding);
        }
        self.scan_open_file(finding, file, size, "")
    }

    /// Reports a file too big to scan (and its heuristic detection when
    /// asked); true when it is.
    fn over_max_filesize(&self, finding: &mut Finding, size: u64) -> bool {
        if size <= self.opts.max_filesize {
            return false;
        }
        finding.problems.push(Problem::limit(
            "max-filesize",
            format!(
                "{size} bytes is over the --max-filesize limit of {} bytes; not scanned",
                self.opts.max_filesize
            ),
        ));
        self.limit_detections(finding);
        true
    }

    fn scan_open_file(
        &mut self,
        mut finding: Finding,
        mut file: File,
        size: u64,
        owner: &str,
    ) -> Outcome {
        let mut digests = Digests::default();
        let path = finding.path.clone();
        let mut probed = 0;
        let whole = self.sigs.needs_content() || {
            let (container, n) = self.may_need_content(&file, size);
            probed = n;
            container
        };
        if whole {
            self.buf.clear();
            // Size the buffer once from fstat (+1 to see growth) instead of
            // letting it double: a 200 MB file would briefly need 256 MB.
            self.buf
                .reserve_exact(size.min(self.opts.max_filesize).saturating_add(1) as usize);
            // One read serves hashing, YARA and unpacking alike.
            let read = match read_capped(&mut file, &mut self.buf, self.opts.max_filesize) {
                Ok(n) => n,
                Err(e) => {
                    finding
                        .problems
                        .push(Problem::error(format!("cannot read: {}", io_reason(&e))));
                    self.shrink();
                    return Outcome::new(Status::Failed, finding);
                }
            };
            if read > self.opts.max_filesize {
                finding.problems.push(Problem::limit("max-filesize", format!("grew over the --max-filesize limit of {} bytes while being read; not scanned", self.opts.max_filesize)));
                self.shrink();
                return Outcome::new(Status::Skipped, finding);
            }
            // The file may have been truncated or extended since fstat:
            // what was read is what was scanned.
            let buf = std::mem::take(&mut self.buf);
            let mut outcome = self.scan_buffer(finding, &buf, &path, owner, read);
            if let Status::Scanned { read: r, .. } = &mut outcome.status {
                *r += probed;
            }
            self.buf = buf;
            self.shrink();
            return outcome;
        }
        let need = self.sigs.hashes.needed(size);
        let mut read = probed;
        if !need.is_empty() {
            // Hash IOCs only: stream, no buffer of the whole file. If a
            // name IOC already matched, take the SHA-256 in the same pass.
            let algs = if finding.detections.is_empty() {
                need
            } else {
                need.union(Algorithms::SHA256)
                    .union(self.sigs.allow.needed(size))
            };
            match digests.add_from_reader(&mut file, algs, self.opts.max_filesize + 1) {
                Ok(n) => read += n,
                Err(e) => {
                    finding
                        .problems
                        .push(Problem::error(format!("cannot read: {}", io_reason(&e))));
                    return Outcome::new(Status::Failed, finding);
                }
            }
            // Hash what was read; a size change since fstat means the IOC's
            // size check must use what the digest covers.
            self.match_hashes(&mut finding, &digests, read - probed);
        }
        let mut finding = self.finalize(finding, &mut digests, None, Some(&mut file), size);
        self.limit_detections(&mut finding);
        Outcome::new(Status::Scanned { size, read }, finding)
    }

    /// Without YARA rules or ClamAV body signatures a file's content is
    /// read only when needed: with containers on, when the file is a
    /// container; with ClamAV section hashes, when it is an executable. A
    /// file of up to 64 KiB is simply read whole when containers are on. A
    /// larger one is probed: its first 64 KiB (every format's magic is
    /// there) and, for a self-extracting zip, its last 64 KiB for an
    /// end-of-central-directory record. Returns the verdict and the bytes
    /// the probe read.
    fn may_need_content(&self, file: &File, size: u64) -> (bool, u64) {
        let containers = self.opts.containers.is_some();
        let executables = self.sigs.needs_executables();
        let heuristics = self.opts.heuristics.is_some();
        if !(containers || executables || heuristics) || size == 0 {
            return (false, 0);
        }
        const PROBE: u64 = 64 << 10;
        if size <= PROBE && containers {
            // The probe would read it all: read it once, as a whole.
            return (true, 0);
        }
        let mut head = vec![0u8; size.min(PROBE) as usize];
        let Ok(n) = read_full_at(file, &mut head, 0) else {
            // Unreadable here means unreadable for the full read too, which
            // reports the error.
            return (true, 0);
        };
        head.truncate(n);
        let mut read = n as u64;
        // A PE's section table is checked against its whole length.
        if heuristics && head.starts_with(b"MZ") {
            return (true, read);
        }
        if executables
            && matches!(
                takedown_clamav::TargetType::detect(&head),
                takedown_clamav::TargetType::Pe | takedown_clamav::TargetType::Elf
            )
        {
            return (true, read);
        }
        if !containers {
            return (false, read);
        }
        if takedown_formats::identify(&head).is_some() {
            return (true, read);
        }
        let tail_len = PROBE + 22;
        let mut tail = vec![0u8; size.min(tail_len) as usize];
        let off = size.saturating_sub(tail_len);
        if let Ok(n) = read_full_at(file, &mut tail, off) {
            read += n as u64;
            if memchr::memmem::find(&tail[..n], b"PK\x05\x06").is_some() {
                return (true, read);
            }
        }
        (false, read)
    }

    /// Scans `buf`, the whole content of a top-level object, and whatever
    /// it contains.
    fn scan_buffer(
        &mut self,
        mut finding: Finding,
        buf: &[u8],
        path: &str,
        owner: &str,
        size: u64,
    ) -> Outcome {
        let started = Instant::now();
        finding.size = Some(size);
        let mut copy = self.copy_of(buf, size);
        self.match_hashes(&mut finding, &copy.digests, size);
        self.match_yara(&mut finding, buf, path, owner, &copy);
        let mut digests = std::mem::take(&mut copy.digests);
        self.match_clamav(&mut finding, buf);
        let mut inner = Inner::default();
        let mut format = None;
        if let Some(limits) = self.opts.containers.clone() {
            let limits = Limits {
                max_member_size: self.opts.max_filesize,
                ..limits
            };
            let deadline = started + self.opts.time_limit;
            let mut ctx = Ctx::new(&limits, Some(deadline));
            let name = Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.packer_run = 0;
            let (_, issue, found) = self.unpack(
                buf,
                &name,
                &[],
                &finding.fs_path,
                owner,
                &mut ctx,
                &mut inner,
            );
            format = found;
            if let Some(issue) = issue {
                finding.problems.push(problem_of(&issue));
            }
            self.restore_timeout();
        }
        self.heuristic_detections(&mut finding, buf, format);
        self.limit_detections(&mut finding);
        let mut finding = self.finalize(finding, &mut digests, Some(buf), None, size);
        if finding.sha256.is_none() && inner.findings.iter().any(|f| !f.detections.is_empty()) {
            // Something inside was detected: an action acts on this whole
            // file and checks it by this digest.
            digests.add(buf, Algorithms::SHA256);
            finding.sha256 = digests.sha256_hex();
        }
        Outcome {
            finding,
            status: Status::Scanned { size, read: size },
            inner: inner.findings,
            members: inner.members,
        }
    }

    /// Unpacks `data` if it is a container, scanning each member and
    /// recursing. Returns whether to go on, the container's own problem
    /// (corrupt, a limit) for the caller to attach to its finding, and
    /// its format.
    #[allow(clippy::too_many_arguments)]
    fn unpack(
        &mut self,
        data: &[u8],
        name: &str,
        chain: &[String],
        fs_path: &Path,
        owner: &str,
        ctx: &mut Ctx,
        inner: &mut Inner,
    ) -> (Flow, Option<Issue>, Option<takedown_formats::Format>) {
        let Some(format) = takedown_formats::identify(data) else {
            return (Flow::Continue, None, None);
        };
        let max_depth = ctx.limits().max_depth;
        if ctx.depth >= max_depth {
            return (
                Flow::Continue,
                Some(Issue::limit(
                    "max-depth",
                    format!(
                        "{} container nested deeper than the --max-depth limit of {max_depth}; not unpacked",
                        format.name()
                    ),
                )),
                Some(format),
            );
        }
        ctx.depth += 1;
        let parent_run = self.packer_run;
        self.packer_run = takedown_formats::heuristics::packer_run(parent_run, Some(format));
        let mut stop = false;
        let result = takedown_formats::extract(format, data, name, ctx, &mut |ctx, entry| {
            inner.members += 1;
            let mut member_chain = chain.to_vec();
            member_chain.push(entry.name.clone());
            let mut f = Finding::new(fs_path);
            f.chain = member_chain;
            let size = entry.data.len() as u64;
            f.size = Some(size);
            let mut digests = Digests::default();
            let global = entry.issue.as_ref().is_some_and(Issue::is_global);
            if let Some(issue) = &entry.issue {
                f.problems.push(problem_of(issue));
            }
            let scan_it = !(entry.data.is_empty() && entry.issue.is_some());
            if scan_it {
                self.match_names_on(&mut f, entry.name.as_bytes());
                let mut copy = self.copy_of(&entry.data, size);
                self.match_hashes(&mut f, &copy.digests, size);
                if self.yara.is_some() {
                    self.member_timeout(ctx);
                    self.match_yara(&mut f, &entry.data, &entry.name, owner, &copy);
                }
                digests = std::mem::take(&mut copy.digests);
                self.match_clamav(&mut f, &entry.data);
            }
            let at = inner.findings.len();
            let mut flow = Flow::Continue;
            let mut format = None;
            if global {
                flow = Flow::Stop;
            } else if scan_it {
                let (next, issue, found) = self.unpack(
                    &entry.data,
                    &entry.name,
                    &f.chain,
                    fs_path,
                    owner,
                    ctx,
                    inner,
                );
                flow = next;
                format = found;
                if let Some(issue) = issue {
                    f.problems.push(problem_of(&issue));
                }
            }
            // A member cut by a limit is not what its headers say.
            let cut = matches!(
                entry.issue,
                Some(Issue {
                    kind: IssueKind::Limit(_),
                    ..
                })
            );
            if scan_it && !cut {
                self.heuristic_detections(&mut f, &entry.data, format);
            }
            self.limit_detections(&mut f);
            let f = self.finalize(f, &mut digests, Some(&entry.data), None, size);
            if f.is_notable() {
                inner.findings.insert(at, f);
            }
            if flow == Flow::Stop {
                stop = true;
            }
            flow
        });
        ctx.depth -= 1;
        self.packer_run = parent_run;
        let issue = match result {
            Ok(()) => None,
            Err(issue) => {
                if issue.is_global() {
                    stop = true;
                }
                Some(issue)
            }
        };
        (
            if stop { Flow::Stop } else { Flow::Continue },
            issue,
            Some(format),
        )
    }

    /// Gives a member's YARA scan what is left of the top-level deadline,
    /// at most the per-object timeout.
    fn member_timeout(&mut self, ctx: &Ctx) {
        if let Some(left) = ctx.time_left() {
            let t = left
                .min(self.opts.yara_timeout)
                .max(Duration::from_millis(1));
            for scanner in self.scanners() {
                scanner.set_timeout(t);
            }
        }
    }

    fn restore_timeout(&mut self) {
        let t = self.opts.yara_timeout;
        for scanner in self.scanners() {
            scanner.set_timeout(t);
        }
    }

    fn scanners(&mut self) -> impl Iterator<Item = &mut yara_x::Scanner<'s>> {
        self.yara
            .iter_mut()
            .chain(self.without_mz.iter_mut())
            .chain(self.copy_scanner.iter_mut())
            .chain(self.lite_scanner.iter_mut())
    }

    /// With `--heuristics`, the structural heuristics over `data`, an
    /// object of container `format` (if any) found inside the container
    /// being unpacked (the top-level object when none is).
    fn heuristic_detections(
        &self,
        finding: &mut Finding,
        data: &[u8],
        format: Option<takedown_formats::Format>,
    ) {
        let Some(h) = &self.opts.heuristics else {
            return;
        };
        use takedown_formats::heuristics as heur;
        let run = heur::packer_run(self.packer_run, format);
        let max_entries = self
            .opts
            .containers
            .as_ref()
            .map_or(takedown_formats::DEFAULT_MAX_ENTRIES, |l| l.max_entries);
        let hits = [
            heur::broken_executable(data),
            format
                .filter(|&f| f == takedown_formats::Format::Zip)
                .and_then(|_| heur::zip_overlap(data, max_entries)),
            heur::nested_packers(run, h.max_packers, format),
        ];
        for hit in hits.into_iter().flatten() {
            let mut metadata = serde_json::Map::new();
            metadata.insert("message".into(), hit.message.into());
            finding.detections.push(Detection {
                engine: EngineKind::Heuristic,
                name: hit.name.to_string(),
                score: HEURISTIC_SCORE,
                tags: Vec::new(),
                metadata,
                source: "builtin:heuristics".into(),
            });
        }
    }

    /// With `--limits-as-detections`, turns every limit problem into a
    /// heuristic detection named as ClamAV names it.
    fn limit_detections(&self, finding: &mut Finding) {
        if !self.opts.limits_as_detections {
            return;
        }
        for p in &finding.problems {
            if p.kind != ProblemKind::Limit {
                continue;
            }
            let limit = p.limit.as_deref().unwrap_or("");
            let what = match limit {
                "max-filesize" => "MaxFileSize",
                "max-scansize" => "MaxScanSize",
                "max-entries" => "MaxFiles",
                "max-depth" => "MaxRecursion",
                "max-ratio" => "MaxRatio",
                "time" => "MaxScanTime",
                _ => "Other",
            };
            let mut metadata = serde_json::Map::new();
            metadata.insert("limit".into(), limit.into());
            metadata.insert("message".into(), p.message.clone().into());
            finding.detections.push(Detection {
                engine: EngineKind::Heuristic,
                name: format!("Heuristics.Limits.Exceeded.{what}"),
                score: LIMIT_SCORE,
                tags: Vec::new(),
                metadata,
                source: "builtin:limits".into(),
            });
        }
    }

    fn match_names(&self, finding: &mut Finding) {
        let path = finding.fs_path.clone();
        self.match_names_on(finding, path.as_os_str().as_encoded_bytes());
    }

    /// Name IOCs against `subject`: the path of a file, the name of a
    /// member inside its container.
    fn match_names_on(&self, finding: &mut Finding, subject: &[u8]) {
        if self.sigs.names.is_empty() {
            return;
        }
        for e in self.sigs.names.matches(subject) {
            let mut metadata = serde_json::Map::new();
            metadata.insert("regex".into(), e.regex.clone().into());
            if let Some(meta) = self.sigs.intel.meta(e.source, &e.regex) {
                meta.annotate(&mut metadata);
            }
            finding.detections.push(Detection {
                engine: EngineKind::Name,
                name: e.name.clone(),
                score: e.score,
                tags: Vec::new(),
                metadata,
                source: self.sigs.source_name(e.source).to_string(),
            });
        }
    }

    fn match_hashes(&self, finding: &mut Finding, digests: &Digests, size: u64) {
        for hit in self.sigs.hashes.lookup(digests, size) {
            if self.sigs.ignored_by_name(hit.name) {
                continue;
            }
            let mut metadata = serde_json::Map::new();
            if let Some(meta) = self.sigs.intel.meta(hit.source, &hit.digest) {
                meta.annotate(&mut metadata);
            }
            metadata.insert(hit.algorithm.into(), hit.digest.into());
            finding.detections.push(Detection {
                engine: EngineKind::Hash,
                name: hit.name.to_string(),
                score: hit.score,
                tags: Vec::new(),
                metadata,
                source: self.sigs.source_name(hit.source).to_string(),
            });
        }
    }

    /// ClamAV body, logical and section-hash signatures over `data`, the
    /// same buffer YARA and the digests saw.
    fn match_clamav(&self, finding: &mut Finding, data: &[u8]) {
        let Some(sigs) = self.sigs.clamav_signatures() else {
            return;
        };
        let result = sigs.scan(&takedown_clamav::ScanInput { data, target: None });
        for m in result.matches {
            let mut metadata = serde_json::Map::new();
            let kind = match m.kind {
                takedown_clamav::SigKind::Body => "body",
                takedown_clamav::SigKind::Logical => "logical",
                takedown_clamav::SigKind::SectionHash => "section-hash",
            };
            metadata.insert("kind".into(), kind.into());
            if let Some(offset) = m.offset {
                metadata.insert("offset".into(), offset.into());
            }
            finding.detections.push(Detection {
                engine: EngineKind::Clamav,
                score: clamav_score(&m.name),
                name: m.name,
                tags: Vec::new(),
                metadata,
                source: m.source.to_string(),
            });
        }
        if result.limits_hit > 0 {
            finding.problems.push(Problem::limit(
                "clamav-work",
                format!(
                    "{} ClamAV signature candidates dropped at the matcher's work limit; ClamAV results may be incomplete",
                    result.limits_hit
                ),
            ));
        }
    }

    /// Names `data` (when copies are recognised: YARA rules loaded, not
    /// `--rescan-copies`), looks it up, and computes the IOC digests it
    /// needs that were not remembered.
    fn copy_of(&self, data: &[u8], size: u64) -> Copy {
        let mut copy = Copy::default();
        if let Some(c) = self
            .sigs
            .yara
            .as_ref()
            .and_then(|y| y.copies.as_ref())
            .filter(|_| self.copy_scanner.is_some())
        {
            let key = crate::copies::key_of(data);
            copy.seen = c.seen.get(&key, size);
            if let Some(seen) = &copy.seen {
                copy.digests = seen.digests.clone();
            }
            copy.key = Some(key);
        }
        copy.digests.add(data, self.sigs.hashes.needed(size));
        copy
    }

    /// YARA over `data`. With its content named and scanned
    /// before, only the rules that read more than content run again (see
    /// [`crate::copies`]).
    fn match_yara(
        &mut self,
        finding: &mut Finding,
        data: &[u8],
        path: &str,
        owner: &str,
        copy: &Copy,
    ) {
        if self.yara.is_none() {
            return;
        }
        let sigs = self.sigs;
        let yara = sigs.yara.as_ref().expect("scanner implies rules");
        let copies = yara.copies.as_ref();
        // Which rules: all of them the first time some content is met; the
        // rules reading more than content on its second occurrence; their
        // lite form, with the content parts found then, on later ones.
        let content = copy.seen.as_ref().and_then(|s| s.content.as_deref());
        let (scanner, pass) = match (&copy.seen, copies) {
            // The rules needing MZ are false on anything else.
            (None, _) | (_, None) if !data.starts_with(b"MZ") && self.without_mz.is_some() => {
                (self.without_mz.as_mut(), Pass::Whole)
            }
            (None, _) | (_, None) => (self.yara.as_mut(), Pass::Whole),
            (Some(_), Some(c)) => match (content, self.lite_scanner.as_mut()) {
                (Some(held), Some(lite)) => {
                    for (k, s) in c.splits.iter().enumerate() {
                        let on = held.binary_search(&(k as u32)).is_ok();
                        // Defined as booleans when compiled: cannot fail.
                        let _ = lite.set_global(&s.global, on);
                    }
                    (Some(lite), Pass::Lite)
                }
                _ => (self.copy_scanner.as_mut(), Pass::Copy),
            },
        };
        let scanner = match scanner {
            Some(s) => s,
            None => self.yara.as_mut().expect("checked above"),
        };
        let p = Path::new(path);
        let filename = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Loki's convention: the extension with its dot, lowercase.
        let extension = p
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy().to_ascii_lowercase()))
            .unwrap_or_default();
        let filetype = crate::filetype::detect(&data[..data.len().min(512)]);
        for (name, value) in [
            ("filename", filename.as_str()),
            ("filepath", path),
            ("extension", extension.as_str()),
            ("filetype", filetype),
            ("owner", owner),
        ] {
            // Defined at compile time with a string type, so this cannot
            // fail; ignore rather than panic should that ever change.
            let _ = scanner.set_global(name, value);
        }
        let mut complete = false;
        let mut held: Vec<u32> = Vec::new();
        let mut found: Vec<(usize, Detection)> = match scanner.scan(data) {
            Ok(results) => {
                complete = true;
                results
                    .matching_rules()
                    .include_private(pass == Pass::Copy)
                    .filter_map(|rule| {
                        if rule.is_private() {
                            let key = crate::sigs::yara::namespace_index(rule.namespace())
                                .map(|ns| (ns, rule.identifier().to_string()));
                            if let Some(&k) = key.and_then(|k| copies?.content_rules.get(&k)) {
                                held.push(k);
                            }
                            return None;
                        }
                        let (ns, d) = yara_detection(sigs, yara, &rule);
                        // On a copy, a rule not run again gives what it
                        // gave the first time (below), whatever it gave now.
                        let rerun = copies.is_some_and(|c| c.rerun.contains(&(ns, d.name.clone())));
                        (pass == Pass::Whole || rerun).then_some((ns, d))
                    })
                    .collect()
            }
            Err(yara_x::errors::ScanError::Timeout) => {
                finding.problems.push(Problem::timeout(format!(
                    "YARA scan exceeded {}s; YARA results incomplete",
                    self.opts.yara_timeout.as_secs_f64()
                )));
                Vec::new()
            }
            Err(e) => {
                finding
                    .problems
                    .push(Problem::error(format!("YARA scan failed: {e}")));
                Vec::new()
            }
        };
        match (&copy.seen, copies, copy.key) {
            (Some(seen), Some(c), Some(key)) => {
                if pass == Pass::Copy && complete && c.lite.is_some() {
                    held.sort_unstable();
                    held.dedup();
                    c.seen.set_content(&key, held);
                }
                found.extend(seen.yara.iter().flat_map(|s| s.iter().cloned()));
            }
            (None, Some(c), Some(key)) if complete => c.seen.insert(
                key,
                copy.digests.clone(),
                found
                    .iter()
                    .filter(|(ns, d)| !c.rerun.contains(&(*ns, d.name.clone())))
                    .cloned()
                    .collect(),
            ),
            _ => {}
        }
        // The order of the whole set, however the results were gathered
        // (stable: within a namespace, rules keep yara-x's order).
        found.sort_by_key(|(ns, _)| *ns);
        finding.detections.extend(found.into_iter().map(|(_, d)| d));
    }

    /// Adds the SHA-256 of a detected object and applies the allow-list.
    /// Content comes from `buf`, or else is read again from `file`.
    fn finalize(
        &self,
        mut finding: Finding,
        digests: &mut Digests,
        buf: Option<&[u8]>,
        file: Option<&mut File>,
        size: u64,
    ) -> Finding {
        if finding.detections.is_empty() {
            return finding;
        }
        let want = Algorithms::SHA256.union(self.sigs.allow.needed(size));
        if !want.missing_from(digests).is_empty() {
            match (buf, file) {
                (Some(b), _) => digests.add(b, want),
                (None, Some(f)) => {
                    let result = f
                        .rewind()
                        .and_then(|_| digests.add_from_reader(f, want, self.opts.max_filesize + 1));
                    if let Err(e) = result {
                        finding.problems.push(Problem::error(format!(
                            "cannot read for SHA-256: {}",
                            io_reason(&e)
                        )));
                    }
                }
                (None, None) => {}
            }
        }
        if !self.sigs.allow.is_empty() && !self.sigs.allow.lookup(digests, size).is_empty() {
            tracing::debug!("allow-listed, not reported: {}", finding.path);
            finding.detections.clear();
            finding.problems.clear();
            return finding;
        }
        finding.sha256 = digests.sha256_hex();
        finding
    }

    fn shrink(&mut self) {
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
    }

    fn owner(&mut self, uid: u32) -> String {
        self.owners
            .entry(uid)
            .or_insert_with(|| crate::platform::user_name(uid))
            .clone()
    }
}

/// Score of a ClamAV detection: ClamAV's "potentially unwanted" (`PUA.`)
/// signatures are suspicious, every other signature names malware.
fn clamav_score(name: &str) -> u32 {
    if name.starts_with("PUA.") {
        CLAMAV_PUA_SCORE
    } else {
        CLAMAV_SCORE
    }
}

/// A YARA match as a detection, with the index of its rule's namespace.
pub(crate) fn yara_detection(
    sigs: &SignatureSet,
    yara: &crate::sigs::yara::YaraRules,
    rule: &yara_x::Rule<'_, '_>,
) -> (usize, Detection) {
    let mut metadata = serde_json::Map::new();
    let mut score = None;
    for (key, value) in rule.metadata() {
        let v = meta_json(&value);
        if key == "score" {
            score = match &value {
                yara_x::MetaValue::Integer(i) => u32::try_from(*i).ok(),
                yara_x::MetaValue::String(s) => s.trim().parse().ok(),
                _ => None,
            };
        }
        metadata.insert(key.to_string(), v);
    }
    let source_id = yara.source_of(rule.namespace());
    if let Some(meta) = source_id.and_then(|id| sigs.intel.meta(id, "")) {
        meta.annotate(&mut metadata);
    }
    let source = source_id
        .map(|id| sigs.source_name(id).to_string())
        .unwrap_or_default();
    let ns = crate::sigs::yara::namespace_index(rule.namespace()).unwrap_or(usize::MAX);
    (
        ns,
        Detection {
            engine: EngineKind::Yara,
            name: rule.identifier().to_string(),
            score: score.unwrap_or(DEFAULT_YARA_SCORE),
            tags: rule.tags().map(|t| t.identifier().to_string()).collect(),
            metadata,
            source,
        },
    )
}

/// `read_at` until `buf` is full or the end of the file.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match crate::platform::read_at(file, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The finding's form of an unpacking issue.
fn problem_of(issue: &Issue) -> Problem {
    match issue.kind {
        IssueKind::Limit(limit) => Problem::limit(limit, issue.message.clone()),
        IssueKind::Encrypted => Problem::encrypted(issue.message.clone()),
        IssueKind::Corrupt | IssueKind::Unsupported => Problem::error(issue.message.clone()),
    }
}

/// Reads `reader` into `buf` up to `limit + 1` bytes and returns the count,
/// so that a count over `limit` tells "too big" without reading it all.
fn read_capped(reader: &mut dyn Read, buf: &mut Vec<u8>, limit: u64) -> std::io::Result<u64> {
    let mut take = reader.take(limit.saturating_add(1));
    loop {
        match take.read_to_end(buf) {
            Ok(_) => return Ok(buf.len() as u64),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

fn meta_json(v: &yara_x::MetaValue) -> serde_json::Value {
    match v {
        yara_x::MetaValue::Integer(i) => (*i).into(),
        yara_x::MetaValue::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        yara_x::MetaValue::Bool(b) => (*b).into(),
        yara_x::MetaValue::String(s) => crate::sanitize::for_terminal(s).into(),
        yara_x::MetaValue::Bytes(b) => crate::sanitize::bytes_for_terminal(b.as_ref()).into(),
    }
}

/// Why an object that is neither a regular file nor a directory is not
/// read: a problem naming what it is, so that a path the user named is never
/// passed over in silence.
pub fn not_a_regular_file(ft: std::fs::FileType) -> Problem {
    let what = crate::platform::special_kind(ft).unwrap_or("not a regular file");
    Problem::skipped(format!(
        "{what}: never opened (reading one can block, never end or have side effects); not scanned"
    ))
}

/// The reason of an I/O error without the noisy "(os error N)".
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigs::{LoadOptions, SignatureSet};

    const EICAR: &str = concat!(
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    );

    fn builtin() -> SignatureSet {
        SignatureSet::load(&LoadOptions {
            builtin: true,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn eicar_in_memory_is_detected_with_sha256() {
        let sigs = builtin();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let out = s.scan_reader("stdin", &mut EICAR.as_bytes());
        assert_eq!(out.finding.detections.len(), 1);
        assert_eq!(out.finding.detections[0].name, "EICAR_Test_File");
        assert_eq!(out.finding.detections[0].score, 100);
        assert_eq!(
            out.finding.sha256.as_deref(),
            Some("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")
        );
        let clean = s.scan_reader("stdin", &mut &b"hello"[..]);
        assert!(!clean.finding.is_notable());
    }

    #[test]
    fn a_copy_gets_the_detections_and_digest_of_the_first() {
        let sigs = builtin();
        assert!(sigs.yara.as_ref().unwrap().copies.is_some());
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let first = s.scan_reader("a.com", &mut EICAR.as_bytes());
        let copy = s.scan_reader("b.txt", &mut EICAR.as_bytes());
        assert_eq!(first.finding.detections, copy.finding.detections);
        assert_eq!(first.finding.sha256, copy.finding.sha256);
        assert_eq!(copy.finding.path, "b.txt");
        let c = sigs.yara.as_ref().unwrap().copies.as_ref().unwrap();
        assert_eq!(c.seen.hits(), (1, EICAR.len() as u64));
        // Off: nothing is remembered.
        let off = SignatureSet::load(&LoadOptions {
            builtin: true,
            rescan_copies: true,
            ..Default::default()
        })
        .unwrap();
        assert!(off.yara.as_ref().unwrap().copies.is_none());
        let mut s = ObjectScanner::new(&off, ScanOptions::default());
        let again = s.scan_reader("c.com", &mut EICAR.as_bytes());
        assert_eq!(again.finding.detections, first.finding.detections);
    }

    #[test]
    fn later_copies_run_the_path_part_of_split_rules_with_the_content_part_known() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("r.yar");
        std::fs::write(
            &rules,
            "rule Renamed { meta: score = 70 strings: $d = \"driver\" \
             condition: $d and not filename matches /cpuz/ }\n\
             rule Content { strings: $e = \"driver\" condition: $e }\n",
        )
        .unwrap();
        let sigs = SignatureSet::load(&LoadOptions {
            paths: vec![rules],
            ..Default::default()
        })
        .unwrap();
        let c = sigs.yara.as_ref().unwrap().copies.as_ref().unwrap();
        assert!(c.lite.is_some());
        assert_eq!(c.splits.len(), 1);
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let mut names = |path: &str, data: &[u8]| -> Vec<String> {
            let mut d = data;
            let out = s.scan_reader(path, &mut d);
            out.finding.detections.into_iter().map(|d| d.name).collect()
        };
        let both = vec!["Renamed".to_string(), "Content".to_string()];
        // The whole set, then the copy form (content part found), then the
        // lite form with that part as an external.
        assert_eq!(names("a.sys", b"a driver"), both);
        assert_eq!(names("cpuz.sys", b"a driver"), ["Content"]);
        assert_eq!(names("b.sys", b"a driver"), both);
        assert_eq!(names("cpuz2.sys", b"a driver"), ["Content"]);
        // Content whose content part fails: never the split rule.
        assert!(names("cpuz.sys", b"nothing").is_empty());
        assert!(names("a.sys", b"nothing").is_empty());
        assert!(names("b.sys", b"nothing").is_empty());
        assert!(names("c.sys", b"nothing").is_empty());
        // The second occurrence recorded the content parts that held.
        let key = crate::copies::key_of(b"a driver");
        let seen = c.seen.get(&key, 0).unwrap();
        assert_eq!(seen.content.as_deref(), Some(&[0u32][..]));
        let key = crate::copies::key_of(b"nothing");
        let seen = c.seen.get(&key, 0).unwrap();
        assert_eq!(seen.content.as_deref(), Some(&[][..]));
    }

    #[test]
    fn content_not_beginning_with_mz_is_scanned_without_the_rules_needing_it() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("r.yar");
        // Pe_only needs MZ; Pe_helper too, but Both uses it, so it stays;
        // Any does not.
        std::fs::write(
            &rules,
            "rule Pe_only { strings: $a = \"evil\" condition: uint16(0) == 0x5a4d and $a }\n\
             private rule Pe_helper { condition: uint16(0) == 0x5a4d and filesize < 100 }\n\
             rule Both { strings: $b = \"evil\" condition: $b and not Pe_helper }\n\
             rule Any { strings: $c = \"evil\" condition: $c }\n",
        )
        .unwrap();
        for rescan_copies in [false, true] {
            let sigs = SignatureSet::load(&LoadOptions {
                paths: vec![rules.clone()],
                rescan_copies,
                ..Default::default()
            })
            .unwrap();
            let y = sigs.yara.as_ref().unwrap();
            let without: Vec<&str> = y
                .without_mz
                .as_ref()
                .expect("a set without Pe_only")
                .iter()
                .map(|r| r.identifier())
                .collect();
            assert_eq!(without, ["Pe_helper", "Both", "Any"]);
            let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
            let mut names = |path: &str, data: &[u8]| -> Vec<String> {
                let mut d = data;
                let out = s.scan_reader(path, &mut d);
                out.finding.detections.into_iter().map(|d| d.name).collect()
            };
            assert_eq!(names("a.exe", b"MZ evil"), ["Pe_only", "Any"]);
            assert_eq!(names("a.txt", b"ZM evil"), ["Both", "Any"]);
            assert_eq!(names("b.txt", b"M"), Vec::<String>::new());
            // A copy of MZ content under another name: the same rules.
            assert_eq!(names("b.exe", b"MZ evil"), ["Pe_only", "Any"]);
        }
    }

    #[test]
    fn eicar_with_trailing_whitespace_still_matches_but_not_embedded() {
        let sigs = builtin();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let padded = format!("{EICAR}\r\n   ");
        assert_eq!(
            s.scan_reader("x", &mut padded.as_bytes())
                .finding
                .detections
                .len(),
            1
        );
        let embedded = format!("prefix {EICAR}");
        assert!(
            s.scan_reader("x", &mut embedded.as_bytes())
                .finding
                .detections
                .is_empty()
        );
    }

    #[test]
    fn stream_over_limit_is_a_limit_problem() {
        let sigs = builtin();
        let mut s = ObjectScanner::new(
            &sigs,
            ScanOptions {
                max_filesize: 4,
                ..Default::default()
            },
        );
        let out = s.scan_reader("x", &mut &b"12345"[..]);
        assert_eq!(out.status, Status::Skipped);
        assert_eq!(
            out.finding.problems[0].limit.as_deref(),
            Some("max-filesize")
        );
    }

    #[test]
    fn hash_only_sets_read_nothing_without_size_match() {
        let dir = tempfile::tempdir().unwrap();
        let iocs = dir.path().join("x.hsb");
        std::fs::write(
            &iocs,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad:3:Abc.Test\n",
        )
        .unwrap();
        let sigs = SignatureSet::load(&LoadOptions {
            paths: vec![iocs],
            ..Default::default()
        })
        .unwrap();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let hit = dir.path().join("abc");
        std::fs::write(&hit, "abc").unwrap();
        let miss = dir.path().join("abcd");
        std::fs::write(&miss, "abcd").unwrap();
        let out = s.scan_path(&hit, true);
        assert_eq!(out.status, Status::Scanned { size: 3, read: 3 });
        assert_eq!(out.finding.detections[0].name, "Abc.Test");
        assert_eq!(
            out.finding.detections[0].metadata["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Containers on (the default): a small file is read once, whole,
        // to see whether it is one.
        let out = s.scan_path(&miss, true);
        assert_eq!(out.status, Status::Scanned { size: 4, read: 4 });
        // Containers off: a file without a size match is never read.
        let opts = ScanOptions {
            containers: None,
            ..ScanOptions::default()
        };
        let mut s = ObjectScanner::new(&sigs, opts);
        let out = s.scan_path(&miss, true);
        assert_eq!(out.status, Status::Scanned { size: 4, read: 0 });
        let out = s.scan_path(&hit, true);
        assert_eq!(out.status, Status::Scanned { size: 3, read: 3 });
    }

    #[test]
    fn allow_list_suppresses_detection() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("x.sfp"),
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:68:Eicar.Allowed\n",
        )
        .unwrap();
        let sigs = SignatureSet::load(&LoadOptions {
            paths: vec![dir.path().to_path_buf()],
            builtin: true,
            ..Default::default()
        })
        .unwrap();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        assert!(
            !s.scan_reader("x", &mut EICAR.as_bytes())
                .finding
                .is_notable()
        );
    }

    #[test]
    fn scan_file_reads_from_the_start_and_names_by_label() {
        use std::io::Write;
        let sigs = builtin();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(EICAR.as_bytes()).unwrap();
        // The position is at the end after writing: scan_file rewinds.
        let out = s.scan_file("upload.com", f);
        assert_eq!(out.finding.path, "upload.com");
        assert_eq!(out.finding.detections[0].name, "EICAR_Test_File");
        assert_eq!(out.status, Status::Scanned { size: 68, read: 68 });
        let mut small = ObjectScanner::new(
            &sigs,
            ScanOptions {
                max_filesize: 10,
                ..Default::default()
            },
        );
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(EICAR.as_bytes()).unwrap();
        let out = small.scan_file("big", f);
        assert_eq!(out.status, Status::Skipped);
        assert_eq!(
            out.finding.problems[0].limit.as_deref(),
            Some("max-filesize")
        );
        assert_eq!(
            small.scan_bytes("big", EICAR.as_bytes()).status,
            Status::Skipped
        );
        let out = s.scan_bytes("mem.com", EICAR.as_bytes());
        assert_eq!(out.finding.detections[0].name, "EICAR_Test_File");
        assert_eq!(out.finding.path, "mem.com");
    }

    /// A PE32 of one section whose data is `raw` bytes at 0x200, the file
    /// `len` bytes long.
    fn pe_of(raw: u32, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..2].copy_from_slice(b"MZ");
        f[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        f[0x40..0x44].copy_from_slice(b"PE\0\0");
        f[0x46..0x48].copy_from_slice(&1u16.to_le_bytes());
        f[0x54..0x56].copy_from_slice(&0xE0u16.to_le_bytes());
        f[0x58..0x5A].copy_from_slice(&0x10Bu16.to_le_bytes());
        let table = 0x58 + 0xE0;
        f[table..table + 5].copy_from_slice(b".text");
        f[table + 16..table + 20].copy_from_slice(&raw.to_le_bytes());
        f[table + 20..table + 24].copy_from_slice(&0x200u32.to_le_bytes());
        f
    }

    #[test]
    fn heuristics_only_when_asked() {
        let sigs = builtin();
        let broken = pe_of(0x200, 0x300);
        let whole = pe_of(0x200, 0x400);
        let mut off = ObjectScanner::new(&sigs, ScanOptions::default());
        assert!(
            off.scan_bytes("x.exe", &broken)
                .finding
                .detections
                .is_empty()
        );
        let mut on = ObjectScanner::new(
            &sigs,
            ScanOptions {
                heuristics: Some(Heuristics::default()),
                ..Default::default()
            },
        );
        let out = on.scan_bytes("x.exe", &broken);
        let d = &out.finding.detections;
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].name, "Heuristics.Broken.Executable");
        assert_eq!(d[0].engine, EngineKind::Heuristic);
        assert_eq!(d[0].score, HEURISTIC_SCORE);
        assert!(d[0].metadata["message"].as_str().unwrap().contains(".text"));
        assert!(out.finding.sha256.is_some());
        assert!(on.scan_bytes("x.exe", &whole).finding.detections.is_empty());
        // A PE over 64 KiB is probed, then read whole to be checked, even
        // with no signature that needs content.
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.exe");
        let mut data = pe_of(0x2_0000, 0x2_0000);
        data.resize(0x2_0000, 0x90);
        std::fs::write(&big, &data).unwrap();
        let hashes = dir.path().join("x.hsb");
        std::fs::write(&hashes, format!("{}:1:Other\n", "0".repeat(64))).unwrap();
        let only_hashes = SignatureSet::load(&LoadOptions {
            paths: vec![hashes],
            ..Default::default()
        })
        .unwrap();
        for (heuristics, found) in [(None, false), (Some(Heuristics::default()), true)] {
            let mut s = ObjectScanner::new(
                &only_hashes,
                ScanOptions {
                    heuristics,
                    ..Default::default()
                },
            );
            let out = s.scan_path(&big, true);
            assert_eq!(!out.finding.detections.is_empty(), found);
        }
    }

    #[test]
    fn symlink_is_refused_with_nofollow() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("target"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("target"), dir.path().join("link")).unwrap();
        let sigs = builtin();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let out = s.scan_path(&dir.path().join("link"), true);
        assert_eq!(out.status, Status::Failed);
        assert!(out.finding.problems[0].message.contains("symbolic link"));
    }
}
