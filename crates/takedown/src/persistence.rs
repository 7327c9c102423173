//! `takedown persistence` and `scan --persistence`: the autostart entries
//! of a root (takedown-persist), their programs' digests, and the link
//! between a detected program and the entries that start it.
//!
//! The listing hashes each distinct program once, on a few threads, and
//! never more than `--max-hash-size` of it: a disk may point a thousand
//! entries at one file, or one entry at a file of a terabyte. Files are
//! opened as the readers of takedown-persist open them (regular files
//! only, never through a final link, never blocking).

use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use takedown_engine::digest::{Algorithms, Digests};
use takedown_engine::finding::{Autostart, Summary, path_strings};
use takedown_engine::run::{Report, Target};
use takedown_engine::sanitize::{for_terminal, path_for_terminal};
use takedown_persist::{Disable, Entry, Inventory, Problem};

/// Version of the JSON records of `takedown persistence --format json`
/// (`docs/persistence.schema.json`); a change that breaks a consumer
/// bumps it.
pub const LISTING_VERSION: u32 = 1;

/// Bytes of one program hashed at most by default: a program is rarely
/// over a few tens of MiB, and a disk can name a huge file (or one that
/// never ends) as the program of an entry.
const DEFAULT_MAX_HASH_SIZE: &str = "256M";

/// `takedown persistence`.
#[derive(clap::Args, Debug)]
pub struct PersistenceArgs {
    /// The system to read: a mounted Windows volume (found by its
    /// Windows/System32/config) or a Linux root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// text: one block per entry, problems on stderr, a summary; json:
    /// NDJSON, one `autostart` record per entry, one `problem` record per
    /// problem, a `summary` record last (docs/persistence.md).
    #[arg(long, value_enum, default_value = "text")]
    pub format: ListFormat,

    /// Do not read the programs: no size and no MD5, SHA-1, SHA-256.
    #[arg(long)]
    pub no_digests: bool,

    /// A program larger than this is listed with its size and the limit,
    /// not hashed (`0`: no limit).
    #[arg(long, value_name = "SIZE", default_value = DEFAULT_MAX_HASH_SIZE)]
    pub max_hash_size: String,

    /// Threads hashing programs [default: number of cores].
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Output of `takedown persistence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// One block per entry, problems on stderr, a summary.
    Text,
    /// NDJSON: autostart records, problem records, a summary record.
    Json,
}

/// What hashing one program gave.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Hashed {
    /// Its size and digests.
    Done {
        size: u64,
        md5: String,
        sha1: String,
        sha256: String,
    },
    /// Larger than the limit: not hashed.
    TooLarge { size: u64, limit: u64 },
    /// It could not be read (the reason).
    Failed(String),
}

/// `takedown persistence`: lists the entries. Exit 0 when everything was
/// read, 2 when something could not be (the rest is listed).
pub fn run(a: PersistenceArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let limit = takedown_engine::size::parse(&a.max_hash_size)
        .map_err(|e| anyhow::anyhow!("--max-hash-size: {e}"))?;
    let limit = if limit == 0 { u64::MAX } else { limit };
    let threads = match a.threads {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    check_root(&a.root)?;
    let inv = takedown_persist::collect(&a.root);

    let targets = distinct_targets(&inv.entries);
    let hashed: HashMap<&Path, Hashed> = if a.no_digests {
        HashMap::new()
    } else {
        let results = hash_all(&targets, threads, limit);
        targets.iter().map(PathBuf::as_path).zip(results).collect()
    };
    // A program that cannot be read is a problem like a hive that cannot:
    // the listing is incomplete there.
    let mut problems = inv.problems.clone();
    for t in &targets {
        if let Some(Hashed::Failed(why)) = hashed.get(t.as_path()) {
            problems.push(Problem {
                location: t.to_string_lossy().into_owned(),
                reason: why.clone(),
            });
        }
    }

    let mut mechanisms: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &inv.entries {
        *mechanisms.entry(e.mechanism).or_default() += 1;
    }
    let summary = ListSummary {
        kind: "summary",
        version: LISTING_VERSION,
        root: a.root.to_string_lossy().into_owned(),
        entries: inv.entries.len() as u64,
        mechanisms,
        targets: targets.len() as u64,
        hashed: count(&hashed, |h| matches!(h, Hashed::Done { .. })),
        over_limit: count(&hashed, |h| matches!(h, Hashed::TooLarge { .. })),
        problems: problems.len() as u64,
        elapsed_seconds: 0.0,
    };

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    match a.format {
        ListFormat::Json => {
            for e in &inv.entries {
                let digests = e
                    .target
                    .as_deref()
                    .and_then(|t| hashed.get(t))
                    .map(DigestRecord::from);
                write_json(&mut out, &AutostartRecord::new(e, digests))?;
            }
            for p in &problems {
                write_json(
                    &mut out,
                    &ProblemRecord {
                        kind: "problem",
                        location: &p.location,
                        reason: &p.reason,
                    },
                )?;
            }
            let summary = ListSummary {
                elapsed_seconds: started.elapsed().as_secs_f64(),
                ..summary
            };
            write_json(&mut out, &summary)?;
        }
        ListFormat::Text => {
            for (i, e) in inv.entries.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                let h = e.target.as_deref().and_then(|t| hashed.get(t));
                write_text(&mut out, e, h, a.no_digests)?;
            }
            // Problems go to stderr, after what was listed (flushed first
            // so that a terminal shows the two in order).
            out.flush()?;
            for p in &problems {
                eprintln!(
                    "takedown: error: {}: {}",
                    for_terminal(&p.location),
                    for_terminal(&p.reason)
                );
            }
            let summary = ListSummary {
                elapsed_seconds: started.elapsed().as_secs_f64(),
                ..summary
            };
            write_text_summary(&mut out, &summary)?;
        }
    }
    out.flush()?;
    Ok(if problems.is_empty() { 0 } else { 2 })
}

fn count(hashed: &HashMap<&Path, Hashed>, f: impl Fn(&Hashed) -> bool) -> u64 {
    hashed.values().filter(|h| f(h)).count() as u64
}

/// Refuses a root that is neither system: an empty listing of the wrong
/// directory (`/mnt` instead of `/mnt/c`) must not read as "no
/// autostarts".
fn check_root(root: &Path) -> anyhow::Result<()> {
    let shown = path_for_terminal(root);
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => anyhow::bail!("--root {shown}: not a directory"),
        Err(e) => anyhow::bail!("--root {shown}: {e}"),
    }
    if !takedown_persist::windows::is_windows_root(root) && !root.join("etc").is_dir() {
        anyhow::bail!(
            "--root {shown}: neither a Windows volume (no Windows/System32/config) nor a Linux root (no etc): nothing to read"
        );
    }
    Ok(())
}

/// The targets of `entries`, each once, in the order first named.
fn distinct_targets(entries: &[Entry]) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    entries
        .iter()
        .filter_map(|e| e.target.as_ref())
        .filter(|t| seen.insert(t.as_path()))
        .cloned()
        .collect()
}

/// Hashes every path on `threads` threads; the results in the order of
/// `paths`.
fn hash_all(paths: &[PathBuf], threads: usize, limit: u64) -> Vec<Hashed> {
    let next = AtomicUsize::new(0);
    let threads = threads.clamp(1, paths.len().max(1));
    let mut parts: Vec<Vec<(usize, Hashed)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(p) = paths.get(i) else { break };
                        done.push((i, hash_file(p, limit, &mut buf)));
                    }
                    done
                })
            })
            .collect();
        // A thread that panicked leaves its paths "not hashed".
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut out: Vec<Hashed> = vec![Hashed::Failed("cannot hash: not hashed".into()); paths.len()];
    for (i, h) in parts.drain(..).flatten() {
        if let Some(slot) = out.get_mut(i) {
            *slot = h;
        }
    }
    out
}

/// Size and digests of one program, read through `buf`: a regular file
/// opened without following a final link, at most `limit` bytes.
fn hash_file(path: &Path, limit: u64, buf: &mut [u8]) -> Hashed {
    use std::io::Read;
    let file = match takedown_persist::open::open_regular(path) {
        Ok(Some(f)) => f,
        Ok(None) => return Hashed::Failed("cannot hash: no such file (gone since listed)".into()),
        Err(why) => return Hashed::Failed(format!("cannot hash: {why}")),
    };
    let size = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => return Hashed::Failed(format!("cannot hash: cannot read: {e}")),
    };
    if size > limit {
        return Hashed::TooLarge { size, limit };
    }
    let mut h = takedown_engine::digest::Hasher::new(Algorithms::ALL);
    // One byte over the limit tells a file that grew past it.
    let mut take = (&file).take(limit.saturating_add(1));
    let mut total = 0u64;
    loop {
        let n = match take.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Hashed::Failed(format!("cannot hash: cannot read: {e}")),
        };
        let Some(chunk) = buf.get(..n) else { break };
        h.update(chunk);
        total = total.saturating_add(n as u64);
    }
    if total > limit {
        return Hashed::TooLarge { size: total, limit };
    }
    let mut d = Digests::default();
    h.finish_into(&mut d);
    match (d.md5, d.sha1, d.sha256) {
        (Some(md5), Some(sha1), Some(sha256)) => Hashed::Done {
            size: total,
            md5: hex(&md5),
            sha1: hex(&sha1),
            sha256: hex(&sha256),
        },
        _ => Hashed::Failed("cannot hash: a digest was not computed".into()),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

// ---- JSON records ----

/// `{"type":"autostart",...}`: the entry as takedown-persist serializes
/// it, its target's exact bytes when they are not UTF-8, and the digests.
#[derive(Serialize)]
struct AutostartRecord {
    #[serde(rename = "type")]
    kind: &'static str,
    version: u32,
    #[serde(flatten)]
    entry: Entry,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    digests: Option<DigestRecord>,
}

impl AutostartRecord {
    fn new(e: &Entry, digests: Option<DigestRecord>) -> AutostartRecord {
        // serde refuses a path that is not UTF-8, and a victim's disk may
        // hold such names: paths are written lossy, the target's bytes in
        // base64 (as a finding's `path_base64`).
        let (target, target_base64) = match &e.target {
            Some(t) => {
                let (s, b) = path_strings(t);
                (Some(PathBuf::from(s)), b)
            }
            None => (None, None),
        };
        AutostartRecord {
            kind: "autostart",
            version: LISTING_VERSION,
            entry: Entry {
                target,
                disable: e.disable.as_ref().map(lossy_disable),
                ..e.clone()
            },
            target_base64,
            digests,
        }
    }
}

fn lossy(p: &Path) -> PathBuf {
    PathBuf::from(path_strings(p).0)
}

/// The same change with every path made valid UTF-8 (for JSON only).
fn lossy_disable(d: &Disable) -> Disable {
    match d {
        Disable::RegistryValue { hive, key, value } => Disable::RegistryValue {
            hive: lossy(hive),
            key: key.clone(),
            value: value.clone(),
        },
        Disable::RegistryKey { hive, key } => Disable::RegistryKey {
            hive: lossy(hive),
            key: key.clone(),
        },
        Disable::RegistryListItem {
            hive,
            key,
            value,
            item,
        } => Disable::RegistryListItem {
            hive: lossy(hive),
            key: key.clone(),
            value: value.clone(),
            item: item.clone(),
        },
        Disable::File { path } => Disable::File { path: lossy(path) },
        Disable::Line {
            path,
            line,
            text,
            continued,
        } => Disable::Line {
            path: lossy(path),
            line: *line,
            text: text.clone(),
            continued: *continued,
        },
        Disable::All(v) => Disable::All(v.iter().map(lossy_disable).collect()),
    }
}

/// `digests` of an autostart record: size and three digests; or the size
/// and the limit it is over; or why the program could not be read.
#[derive(Serialize)]
struct DigestRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<&Hashed> for DigestRecord {
    fn from(h: &Hashed) -> DigestRecord {
        let none = DigestRecord {
            size: None,
            md5: None,
            sha1: None,
            sha256: None,
            limit: None,
            error: None,
        };
        match h {
            Hashed::Done {
                size,
                md5,
                sha1,
                sha256,
            } => DigestRecord {
                size: Some(*size),
                md5: Some(md5.clone()),
                sha1: Some(sha1.clone()),
                sha256: Some(sha256.clone()),
                ..none
            },
            Hashed::TooLarge { size, limit } => DigestRecord {
                size: Some(*size),
                limit: Some(*limit),
                ..none
            },
            Hashed::Failed(why) => DigestRecord {
                error: Some(why.clone()),
                ..none
            },
        }
    }
}

#[derive(Serialize)]
struct ProblemRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    location: &'a str,
    reason: &'a str,
}

/// The last record: what was listed, and how long it took.
#[derive(Serialize)]
struct ListSummary<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    version: u32,
    root: String,
    entries: u64,
    mechanisms: BTreeMap<&'a str, u64>,
    /// Distinct programs named by the entries.
    targets: u64,
    /// Of those, hashed.
    hashed: u64,
    /// Of those, over `--max-hash-size`.
    over_limit: u64,
    problems: u64,
    elapsed_seconds: f64,
}

fn write_json(out: &mut impl Write, v: &impl Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, v).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

// ---- Text ----

/// One entry as a block: a heading (mechanism, location, name), then one
/// field per line. Every string comes from the disk: all are escaped.
fn write_text(
    out: &mut impl Write,
    e: &Entry,
    hashed: Option<&Hashed>,
    no_digests: bool,
) -> std::io::Result<()> {
    let at = match e.line {
        Some(n) => format!("{}:{n}", for_terminal(&e.location)),
        None => for_terminal(&e.location),
    };
    if e.name.is_empty() {
        writeln!(out, "{} {at}", e.mechanism)?;
    } else {
        writeln!(out, "{} {at}: {}", e.mechanism, for_terminal(&e.name))?;
    }
    if let Some(u) = &e.user {
        writeln!(out, "  user     {}", for_terminal(u))?;
    }
    if let Some(c) = &e.command {
        writeln!(out, "  command  {}", for_terminal(c))?;
    }
    let Some(t) = &e.target else {
        writeln!(out, "  target   (not found on the root)")?;
        return Ok(());
    };
    writeln!(out, "  target   {}", path_for_terminal(t))?;
    if no_digests {
        return Ok(());
    }
    match hashed {
        Some(Hashed::Done {
            size,
            md5,
            sha1,
            sha256,
        }) => {
            writeln!(out, "  size     {size}")?;
            writeln!(out, "  md5      {md5}")?;
            writeln!(out, "  sha1     {sha1}")?;
            writeln!(out, "  sha256   {sha256}")?;
        }
        Some(Hashed::TooLarge { size, limit }) => {
            writeln!(out, "  size     {size}")?;
            writeln!(
                out,
                "  digests  not computed: larger than --max-hash-size ({limit} bytes)"
            )?;
        }
        Some(Hashed::Failed(why)) => writeln!(out, "  digests  {}", for_terminal(why))?,
        None => {}
    }
    Ok(())
}

fn write_text_summary(out: &mut impl Write, s: &ListSummary) -> std::io::Result<()> {
    let per: Vec<String> = s
        .mechanisms
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    writeln!(out, "\n----------- AUTOSTARTS -----------")?;
    writeln!(out, "Root: {}", for_terminal(&s.root))?;
    if per.is_empty() {
        writeln!(out, "Entries: 0")?;
    } else {
        writeln!(out, "Entries: {} ({})", s.entries, per.join(", "))?;
    }
    writeln!(
        out,
        "Programs: {} ({} hashed, {} over --max-hash-size)",
        s.targets, s.hashed, s.over_limit
    )?;
    writeln!(out, "Problems: {}", s.problems)?;
    writeln!(out, "Time: {:.3} s", s.elapsed_seconds)
}

// ---- scan --persistence ----

/// The autostarts of a scan.
pub struct ForScan {
    /// Every distinct program and script to scan.
    pub targets: Vec<Target>,
    /// The entries that start each of them, keyed by the path the scan
    /// names the program by (its finding's `fs_path`), in the order read.
    pub entries: HashMap<PathBuf, Vec<takedown_persist::Entry>>,
    /// Every entry read, scanned program or not (a scheduled task read
    /// from one store names the same task in the other).
    pub all: Vec<takedown_persist::Entry>,
    /// What could not be read (each already said on stderr).
    pub problems: Vec<takedown_persist::Problem>,
}

/// Reads the autostarts of `root` for `scan --persistence`; says each
/// problem on stderr as a warning.
pub fn for_scan(root: &Path) -> anyhow::Result<ForScan> {
    check_root(root)?;
    // Absolute, so that the files an entry's removal changes are named as
    // the scan names the programs (a program that is also its entry's
    // file is then known to be gone already).
    let root = &std::path::absolute(root)
        .map_err(|e| anyhow::anyhow!("--root {}: {e}", root.display()))?;
    let inv = takedown_persist::collect(root);
    for p in &inv.problems {
        eprintln!(
            "takedown: warning: autostarts: {}: {}",
            for_terminal(&p.location),
            for_terminal(&p.reason)
        );
    }
    Ok(ForScan::from_inventory(inv))
}

/// The path the scan run names a program given as `Target::Path(p)` by:
/// `takedown_engine::run` makes every target absolute (without resolving
/// links) before it walks it, and that path becomes the finding's
/// `fs_path`.
fn scan_name(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

impl ForScan {
    /// The programs of `inv` to scan and the entries of each. Only regular
    /// files are scanned (a target that is gone, or is not a file, has
    /// nothing to scan). A script that runs as a whole (a shell start-up
    /// file, `rc.local`, an init script, a `cron.daily` script, a Startup
    /// folder's `.bat`) is already its entry's target, and so is the
    /// script an interpreter runs (`sh x.sh`, `rundll32 x.dll,...`,
    /// `wscript x.vbs`): takedown-persist resolves them so.
    fn from_inventory(inv: Inventory) -> ForScan {
        let mut targets = Vec::new();
        let mut entries: HashMap<PathBuf, Vec<Entry>> = HashMap::new();
        let mut regular: HashMap<PathBuf, bool> = HashMap::new();
        for e in &inv.entries {
            let Some(t) = &e.target else { continue };
            let is_file = *regular.entry(t.clone()).or_insert_with(|| {
                std::fs::symlink_metadata(t).is_ok_and(|m| m.file_type().is_file())
            });
            if !is_file {
                continue;
            }
            let key = scan_name(t);
            let list = entries.entry(key.clone()).or_default();
            if list.is_empty() {
                targets.push(Target::Path(key));
            }
            list.push(e.clone());
        }
        ForScan {
            targets,
            entries,
            all: inv.entries,
            problems: inv.problems,
        }
    }

    /// Every entry read.
    pub fn all_entries(&self) -> impl Iterator<Item = &takedown_persist::Entry> {
        self.all.iter()
    }

    /// Names the entries that start the program of a detected `report`:
    /// on its top-level finding (the file the entries start, the one an
    /// action removes; the list is in the order of `entries`), and on
    /// each detected finding inside it, so that a detection in a member
    /// of a started archive says what starts it too.
    pub fn attach(&self, report: &mut Report) {
        if !report.detected() {
            return;
        }
        let Some(list) = self.entries.get(&report.finding.fs_path) else {
            return;
        };
        let shown: Vec<Autostart> = list.iter().map(autostart).collect();
        for f in &mut report.inner {
            if !f.detections.is_empty() {
                f.autostarts = shown.clone();
            }
        }
        report.finding.autostarts = shown;
    }

    /// Adds the counts to the summary: the entries read, and each problem
    /// (a hive or file that could not be read) as an error, so that a run
    /// that found nothing but could not read everything exits 2.
    pub fn add_to(&self, summary: &mut Summary) {
        summary.autostarts = Some(self.all.len() as u64);
        summary.errors = summary.errors.saturating_add(self.problems.len() as u64);
    }
}

/// An entry as a finding names it.
fn autostart(e: &Entry) -> Autostart {
    Autostart {
        mechanism: e.mechanism.to_string(),
        location: e.location.clone(),
        name: e.name.clone(),
        user: e.user.clone(),
        command: e.command.clone(),
        line: e.line,
        action: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use takedown_engine::finding::{Detection, EngineKind, Finding};
    use takedown_persist::Os;

    fn entry(mechanism: &'static str, name: &str, target: Option<PathBuf>) -> Entry {
        Entry {
            os: Os::Linux,
            mechanism,
            location: "/etc/crontab".into(),
            name: name.into(),
            user: Some("root".into()),
            command: Some("/opt/x".into()),
            target,
            line: Some(3),
            disable: None,
        }
    }

    fn detection() -> Detection {
        Detection {
            engine: EngineKind::Yara,
            name: "R".into(),
            score: 100,
            tags: Vec::new(),
            metadata: Default::default(),
            source: "t".into(),
        }
    }

    #[test]
    fn hashes_known_vectors_and_respects_the_limit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let mut buf = vec![0u8; 2];
        assert_eq!(
            hash_file(&p, 3, &mut buf),
            Hashed::Done {
                size: 3,
                md5: "900150983cd24fb0d6963f7d28e17f72".into(),
                sha1: "a9993e364706816aba3e25717850c26c9cd0d89d".into(),
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            }
        );
        assert_eq!(
            hash_file(&p, 2, &mut buf),
            Hashed::TooLarge { size: 3, limit: 2 }
        );
        let Hashed::Failed(why) = hash_file(&d.path().join("none"), 9, &mut buf) else {
            panic!("a missing file is not hashed");
        };
        assert!(why.contains("no such file"), "{why}");
    }

    #[cfg(unix)]
    #[test]
    fn links_and_fifos_are_not_hashed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("f"), b"x").unwrap();
        std::os::unix::fs::symlink(d.path().join("f"), d.path().join("l")).unwrap();
        let fifo = d.path().join("p");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let paths = vec![d.path().join("l"), fifo, d.path().join("f")];
        let got = hash_all(&paths, 3, 1 << 20);
        assert!(matches!(&got[0], Hashed::Failed(w) if w.contains("not a regular file")));
        assert!(matches!(&got[1], Hashed::Failed(w) if w.contains("not a regular file")));
        assert!(matches!(&got[2], Hashed::Done { size: 1, .. }));
    }

    #[test]
    fn every_path_is_hashed_once_in_order_on_any_number_of_threads() {
        let d = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..50)
            .map(|i| {
                let p = d.path().join(format!("f{i}"));
                std::fs::write(&p, vec![b'a'; i]).unwrap();
                p
            })
            .collect();
        for threads in [1, 4, 100] {
            let got = hash_all(&paths, threads, u64::MAX);
            for (i, h) in got.iter().enumerate() {
                assert!(
                    matches!(h, Hashed::Done { size, .. } if *size == i as u64),
                    "{i}: {h:?}"
                );
            }
        }
        assert!(hash_all(&[], 4, 1).is_empty());
    }

    #[test]
    fn for_scan_keys_programs_as_the_scan_names_them() {
        let d = tempfile::tempdir().unwrap();
        let prog = d.path().join("prog");
        std::fs::write(&prog, b"x").unwrap();
        let inv = Inventory {
            entries: vec![
                entry("cron", "a", Some(prog.clone())),
                entry("systemd-unit", "b", Some(prog.clone())),
                entry("cron", "gone", Some(d.path().join("missing"))),
                entry("cron", "dir", Some(d.path().to_path_buf())),
                entry("cron", "none", None),
            ],
            problems: vec![Problem {
                location: "/etc/cron.d/x".into(),
                reason: "cannot read".into(),
            }],
        };
        let fs = ForScan::from_inventory(inv);
        assert_eq!(fs.targets, vec![Target::Path(prog.clone())]);
        assert_eq!(fs.entries.len(), 1);
        assert_eq!(fs.all_entries().count(), 5);

        // What the engine names the file by.
        let mut r = Report {
            finding: Finding::new(&scan_name(&prog)),
            inner: Vec::new(),
        };
        fs.attach(&mut r);
        assert!(r.finding.autostarts.is_empty(), "not detected: no names");
        r.inner.push(Finding::new(Path::new("member")));
        r.inner[0].detections.push(detection());
        r.inner.push(Finding::new(Path::new("clean member")));
        fs.attach(&mut r);
        let names: Vec<&str> = r
            .finding
            .autostarts
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"], "in the order of `entries`");
        assert_eq!(r.finding.autostarts[0].line, Some(3));
        assert_eq!(r.inner[0].autostarts.len(), 2);
        assert!(r.inner[1].autostarts.is_empty());

        let mut other = Report {
            finding: Finding::new(&d.path().join("other")),
            inner: Vec::new(),
        };
        other.finding.detections.push(detection());
        fs.attach(&mut other);
        assert!(other.finding.autostarts.is_empty());

        let mut s = Summary {
            errors: 4,
            ..Default::default()
        };
        fs.add_to(&mut s);
        assert_eq!((s.autostarts, s.errors), (Some(5), 5));
    }

    #[test]
    fn relative_roots_give_absolute_keys() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("p"), b"x").unwrap();
        let cwd = std::env::current_dir().unwrap();
        // A relative path to the same file, as `--root rel` gives.
        let rel = pathdiff(d.path(), &cwd).join("p");
        let fs = ForScan::from_inventory(Inventory {
            entries: vec![entry("cron", "a", Some(rel))],
            problems: Vec::new(),
        });
        let Target::Path(p) = &fs.targets[0] else {
            panic!("a path")
        };
        assert!(p.is_absolute(), "{}", p.display());
        assert!(fs.entries.contains_key(p));
    }

    /// `to` relative to `from` (both absolute), with `..` as needed.
    fn pathdiff(to: &Path, from: &Path) -> PathBuf {
        let to: Vec<_> = to.components().collect();
        let from: Vec<_> = from.components().collect();
        let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
        let mut p = PathBuf::new();
        for _ in common..from.len() {
            p.push("..");
        }
        for c in &to[common..] {
            p.push(c);
        }
        p
    }

    #[test]
    fn json_records_survive_names_that_are_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let bad = PathBuf::from(std::ffi::OsStr::from_bytes(b"/r/\xffx"));
        let mut e = entry("cron", "a", Some(bad.clone()));
        e.disable = Some(Disable::All(vec![Disable::Line {
            path: bad,
            line: 3,
            text: "x".into(),
            continued: false,
        }]));
        let v = serde_json::to_value(AutostartRecord::new(&e, None)).unwrap();
        assert_eq!(v["type"], "autostart");
        assert_eq!(v["target"], "/r/\u{fffd}x");
        assert_eq!(v["target_base64"], "L3Iv/3g=");
        assert_eq!(v["disable"]["kind"], "all");
        assert_eq!(v["disable"]["changes"][0]["kind"], "line");
        assert_eq!(v["disable"]["changes"][0]["path"], "/r/\u{fffd}x");
        assert_eq!(v["disable"]["changes"][0]["line"], 3);
        assert_eq!(v["line"], 3);
        assert!(v.get("digests").is_none());
    }

    #[test]
    fn text_blocks_escape_what_the_disk_says() {
        let mut e = entry("cron", "a\x1b[2Jb", Some(PathBuf::from("/r/x")));
        e.command = Some("/opt/x\n".into());
        let mut out = Vec::new();
        write_text(
            &mut out,
            &e,
            Some(&Hashed::TooLarge { size: 9, limit: 4 }),
            false,
        )
        .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "cron /etc/crontab:3: a\\u{1b}[2Jb\n  user     root\n  command  /opt/x\\n\n  \
             target   /r/x\n  size     9\n  digests  not computed: larger than \
             --max-hash-size (4 bytes)\n"
        );
    }
}
