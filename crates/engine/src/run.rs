//! A whole scan run: walk the targets in parallel, scan each object on a
//! pool of workers, hand findings to the caller in one thread.
//!
//! ```text
//! walker threads --(bounded jobs)--> N workers --(bounded results)--> caller
//! ```
//!
//! The walker (the `ignore` crate's parallel walker, with every ignore-file
//! rule off) prunes excluded directories before descending and sends only
//! regular files. Each worker owns an [`ObjectScanner`] (a yara-x scanner
//! cannot move between threads). The bounded channels give back-pressure:
//! a slow output or slow disk never makes memory grow. A shared stop flag
//! (Ctrl-C, or a closed output) ends everything promptly with a partial
//! summary.

use crate::finding::{Finding, Problem, SCHEMA_VERSION, Summary};
use crate::scan::{ObjectScanner, ScanOptions, Status};
use crate::sigs::SignatureSet;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Directories never descended into by default on Linux: virtual file
/// systems whose "files" are endless, blocking, or have side effects.
pub const DEFAULT_EXCLUDES: &[&str] = &["/proc", "/sys", "/dev", "/run"];

/// What to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A file or directory.
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

/// How to walk and scan.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Scanning threads.
    pub threads: usize,
    /// Glob patterns of paths not to scan (matched on the full path and on
    /// the file name).
    pub excludes: Vec<String>,
    /// Add [`DEFAULT_EXCLUDES`].
    pub default_excludes: bool,
    /// Stay on the file system of each target.
    pub one_file_system: bool,
    /// Follow symbolic links (loops are detected and reported).
    pub follow_symlinks: bool,
    /// Per-object options.
    pub scan: ScanOptions,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            excludes: Vec::new(),
            default_excludes: true,
            one_file_system: false,
            follow_symlinks: false,
            scan: ScanOptions::default(),
        }
    }
}

/// Live counters for a progress display; updated by the workers.
#[derive(Debug, Default)]
pub struct Progress {
    /// Objects scanned so far.
    pub files: AtomicU64,
    /// Bytes of those objects.
    pub bytes: AtomicU64,
    /// The path a worker started last.
    pub current: Mutex<String>,
}

enum Job {
    /// A file to scan; with `follow`, a symlink in its last component is
    /// followed (a path the user named, or any with --follow-symlinks).
    File {
        path: PathBuf,
        follow: bool,
    },
    Stdin,
    Finding(Box<Finding>, Kind),
}

#[derive(Clone, Copy)]
enum Kind {
    Skipped,
    Failed,
}

/// Compiles the exclude patterns; an invalid pattern is an error naming it.
pub fn build_excludes(opts: &RunOptions) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    let defaults = if opts.default_excludes && cfg!(target_os = "linux") {
        DEFAULT_EXCLUDES
    } else {
        &[]
    };
    for pat in defaults
        .iter()
        .copied()
        .chain(opts.excludes.iter().map(String::as_str))
    {
        let anchored = anchor(pat);
        let glob =
            Glob::new(&anchored).map_err(|e| format!("invalid --exclude pattern '{pat}': {e}"))?;
        b.add(glob);
    }
    b.build().map_err(|e| e.to_string())
}

/// Paths are matched absolute, so a relative pattern naming a directory
/// (`build/cache`, `./tmp/`) would never match: it is taken from the
/// current directory, as the paths to scan are. A bare name (`*.iso`,
/// `node_modules`) still matches a file name anywhere.
fn anchor(pat: &str) -> String {
    let trimmed = pat.trim_end_matches('/');
    if trimmed.is_empty() {
        return pat.to_string();
    }
    if trimmed.starts_with(['/', '*']) || !trimmed.contains('/') {
        return trimmed.to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) => {
            let rel = trimmed.trim_start_matches("./");
            let cwd = globset::escape(&cwd.to_string_lossy());
            format!("{}/{rel}", cwd.trim_end_matches('/'))
        }
        Err(_) => trimmed.to_string(),
    }
}

/// The findings of one top-level object: its own, and those of objects
/// inside it (containers), depth first. Handed out when any is notable; the
/// top-level `finding` may itself have nothing to say when only a member
/// was detected (an action then acts on the top-level file).
#[derive(Debug)]
pub struct Report {
    /// The top-level object.
    pub finding: Finding,
    /// Notable findings of objects inside it.
    pub inner: Vec<Finding>,
}

impl Report {
    /// The notable findings, the top-level one first.
    pub fn notable(&self) -> impl Iterator<Item = &Finding> {
        std::iter::once(&self.finding)
            .chain(&self.inner)
            .filter(|f| f.is_notable())
    }

    /// True when the object or anything inside it was detected.
    pub fn detected(&self) -> bool {
        !self.finding.detections.is_empty() || self.inner.iter().any(|f| !f.detections.is_empty())
    }

    /// Highest score of any detection in the object or inside it.
    pub fn max_score(&self) -> u32 {
        std::iter::once(&self.finding)
            .chain(&self.inner)
            .map(Finding::max_score)
            .max()
            .unwrap_or(0)
    }
}

/// Runs a scan over `targets`, calling `on_report` (in the calling thread)
/// for every object with a notable finding; it returns `false` to stop the
/// run. Returns the summary, partial when `stop` was raised.
pub fn run(
    sigs: &SignatureSet,
    targets: &[Target],
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &Progress,
    mut on_report: impl FnMut(Report) -> bool,
) -> Result<Summary, String> {
    let started = Instant::now();
    let excludes = build_excludes(opts)?;
    let threads = opts.threads.max(1);
    let (job_tx, job_rx) = crossbeam_channel::bounded::<Job>(1024);
    let (out_tx, out_rx) = crossbeam_channel::bounded::<crate::scan::Outcome>(256);
    let mut summary = Summary {
        version: SCHEMA_VERSION,
        ..Default::default()
    };

    std::thread::scope(|scope| {
        // Walker: one coordinating thread, plus the walker's own threads.
        {
            let job_tx = job_tx.clone();
            let excludes = &excludes;
            scope.spawn(move || walk(targets, opts, excludes, stop, &job_tx));
        }
        drop(job_tx);
        for _ in 0..threads {
            let job_rx = job_rx.clone();
            let out_tx = out_tx.clone();
            let scan_opts = opts.scan.clone();
            scope.spawn(move || {
                let mut scanner = ObjectScanner::new(sigs, scan_opts);
                for job in job_rx {
                    if stop.load(Ordering::Relaxed) {
                        continue; // drain so the walker never blocks
                    }
                    let outcome = match job {
                        Job::File { path, follow } => {
                            if let Ok(mut cur) = progress.current.try_lock() {
                                cur.clear();
                                cur.push_str(&crate::sanitize::path_for_terminal(&path));
                            }
                            scanner.scan_path(&path, !follow)
                        }
                        Job::Stdin => scanner.scan_reader("-", &mut std::io::stdin().lock()),
                        Job::Finding(f, kind) => {
                            let status = match kind {
                                Kind::Skipped => Status::Skipped,
                                Kind::Failed => Status::Failed,
                            };
                            crate::scan::Outcome {
                                finding: *f,
                                status,
                                inner: Vec::new(),
                                members: 0,
                            }
                        }
                    };
                    if let Status::Scanned { size, .. } = outcome.status {
                        progress.files.fetch_add(1, Ordering::Relaxed);
                        progress.bytes.fetch_add(size, Ordering::Relaxed);
                    }
                    if out_tx.send(outcome).is_err() {
                        break;
                    }
                }
            });
        }
        drop(out_tx);
        drop(job_rx);

        // Collector: this thread.
        let mut keep = true;
        for outcome in out_rx {
            let finding = outcome.finding;
            match outcome.status {
                Status::Scanned { size, read } => {
                    summary.files_scanned += 1;
                    summary.bytes_scanned += size;
                    summary.bytes_read += read;
                    if finding
                        .problems
                        .iter()
                        .any(|p| p.kind == crate::finding::ProblemKind::Timeout)
                    {
                        summary.errors += 1;
                    }
                }
                Status::Skipped => summary.skipped += 1,
                Status::Failed => summary.errors += 1,
            }
            summary.members_scanned += outcome.members;
            let detections = finding.detections.len()
                + outcome
                    .inner
                    .iter()
                    .map(|f| f.detections.len())
                    .sum::<usize>();
            if detections > 0 {
                summary.files_detected += 1;
                summary.detections += detections as u64;
            }
            let report = Report {
                finding,
                inner: outcome.inner,
            };
            if keep && report.notable().next().is_some() && !on_report(report) {
                keep = false;
                stop.store(true, Ordering::Relaxed);
            }
        }
    });
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    summary.interrupted = stop.load(Ordering::Relaxed);
    if let Some(c) = sigs.yara.as_ref().and_then(|y| y.copies.as_ref()) {
        let (n, bytes) = c.seen.hits();
        tracing::info!(
            "{n} copies of content scanned before ({:.1} MB): YARA reran only the rules reading paths on them",
            bytes as f64 / 1e6
        );
    }
    Ok(summary)
}

fn walk(
    targets: &[Target],
    opts: &RunOptions,
    excludes: &GlobSet,
    stop: &AtomicBool,
    tx: &crossbeam_channel::Sender<Job>,
) {
    for target in targets {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let root = match target {
            Target::Stdin => {
                let _ = tx.send(Job::Stdin);
                continue;
            }
            Target::Path(p) => std::path::absolute(p).unwrap_or_else(|_| p.clone()),
        };
        // A target named by the user is followed even if it is a link: they
        // asked for it. Everything below it follows --follow-symlinks.
        let meta = match std::fs::metadata(&root) {
            Ok(m) => m,
            Err(e) => {
                let mut f = Finding::new(&root);
                f.problems.push(Problem::error(format!(
                    "cannot access: {}",
                    crate::scan::io_reason(&e)
                )));
                let _ = tx.send(Job::Finding(Box::new(f), Kind::Failed));
                continue;
            }
        };
        if meta.is_file() {
            let _ = tx.send(Job::File {
                path: root,
                follow: true,
            });
            continue;
        }
        if !meta.is_dir() {
            // Named by the user, so said why it is not scanned (FIFOs and
            // devices met while walking are passed over like `find -type f`
            // does, and only counted).
            let mut f = Finding::new(&root);
            f.problems
                .push(crate::scan::not_a_regular_file(meta.file_type()));
            let _ = tx.send(Job::Finding(Box::new(f), Kind::Skipped));
            continue;
        }
        walk_dir(&root, opts, excludes, stop, tx);
    }
}

fn walk_dir(
    root: &Path,
    opts: &RunOptions,
    excludes: &GlobSet,
    stop: &AtomicBool,
    tx: &crossbeam_channel::Sender<Job>,
) {
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .hidden(false)
        .follow_links(opts.follow_symlinks)
        .same_file_system(opts.one_file_system)
        // Directory reading is cheap next to scanning; two walker threads
        // keep the workers fed even on slow, deep trees.
        .threads(opts.threads.clamp(1, 2));
    if !excludes.is_empty() {
        let excludes = excludes.clone();
        builder.filter_entry(move |e| e.depth() == 0 || !is_excluded(&excludes, e.path()));
    }
    builder.build_parallel().run(|| {
        let tx = tx.clone();
        Box::new(move |entry| {
            if stop.load(Ordering::Relaxed) {
                return ignore::WalkState::Quit;
            }
            let job = match entry {
                Ok(e) => match e.file_type() {
                    Some(t) if t.is_file() => Job::File {
                        path: e.into_path(),
                        follow: opts.follow_symlinks,
                    },
                    Some(t) if t.is_dir() || t.is_symlink() => return ignore::WalkState::Continue,
                    // FIFOs, sockets, devices: never opened, counted.
                    _ => Job::Finding(Box::new(Finding::new(e.path())), Kind::Skipped),
                },
                Err(err) => {
                    let (path, reason) = walk_error(&err);
                    let path = path.unwrap_or_else(|| root.to_path_buf());
                    let mut f = Finding::new(&path);
                    if is_dangling_link(&path) {
                        // Only met with --follow-symlinks: nothing to scan,
                        // and no failure either.
                        f.problems.push(Problem::skipped(
                            "a symbolic link to nothing (its target does not exist); not scanned",
                        ));
                        Job::Finding(Box::new(f), Kind::Skipped)
                    } else {
                        f.problems.push(Problem::error(reason));
                        Job::Finding(Box::new(f), Kind::Failed)
                    }
                }
            };
            if tx.send(job).is_err() {
                return ignore::WalkState::Quit;
            }
            ignore::WalkState::Continue
        })
    });
}

fn is_dangling_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

fn is_excluded(excludes: &GlobSet, path: &Path) -> bool {
    excludes.is_match(path) || path.file_name().is_some_and(|n| excludes.is_match(n))
}

/// The path and a plain reason from a walker error.
fn walk_error(err: &ignore::Error) -> (Option<PathBuf>, String) {
    match err {
        ignore::Error::WithPath { path, err } => {
            let (_, reason) = walk_error(err);
            (Some(path.clone()), reason)
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error(err)
        }
        ignore::Error::Loop { ancestor, child } => (
            Some(child.clone()),
            format!(
                "symbolic link loop: points back to {}",
                crate::sanitize::path_for_terminal(ancestor)
            ),
        ),
        ignore::Error::Io(e) => (
            None,
            format!("cannot read directory: {}", crate::scan::io_reason(e)),
        ),
        other => (None, other.to_string()),
    }
}

/// Reads a list of paths, one per line (`--file-list`); empty lines are
/// skipped. On Unix bytes are kept exactly (no UTF-8 needed); on Windows,
/// where paths are UTF-16, each line must be UTF-8 and one that is not is
/// an error naming its line number.
pub fn read_file_list(reader: &mut dyn std::io::BufRead) -> std::io::Result<Vec<Target>> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    let mut number: u64 = 0;
    loop {
        number += 1;
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let l = line.strip_suffix(b"\n").unwrap_or(&line);
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if !l.is_empty() {
            out.push(Target::Path(crate::platform::path_from_line(l, number)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_match_path_or_name() {
        let opts = RunOptions {
            excludes: vec!["*.log".into(), "node_modules".into()],
            ..Default::default()
        };
        let g = build_excludes(&opts).unwrap();
        assert!(is_excluded(&g, Path::new("/proc")));
        assert!(is_excluded(&g, Path::new("/var/x/app.log")));
        assert!(is_excluded(&g, Path::new("/src/node_modules")));
        assert!(!is_excluded(&g, Path::new("/procfs/x")));
        assert!(!is_excluded(&g, Path::new("/home/u/file")));
        let bad = RunOptions {
            excludes: vec!["a[".into()],
            ..Default::default()
        };
        assert!(build_excludes(&bad).unwrap_err().contains("a["));
    }

    #[test]
    fn relative_excludes_are_taken_from_the_current_directory() {
        let cwd = std::env::current_dir().unwrap();
        let opts = RunOptions {
            excludes: vec!["build/cache/".into(), "./tmp".into(), "/abs/x/".into()],
            ..Default::default()
        };
        let g = build_excludes(&opts).unwrap();
        assert!(is_excluded(&g, &cwd.join("build/cache")));
        assert!(is_excluded(&g, &cwd.join("tmp")));
        assert!(is_excluded(&g, Path::new("/abs/x")));
        assert!(!is_excluded(&g, Path::new("/elsewhere/build/cache/y")));
        assert_eq!(anchor("*.iso"), "*.iso");
        assert_eq!(anchor("name"), "name");
        assert_eq!(anchor("/"), "/");
    }

    #[test]
    fn file_list_keeps_bytes() {
        let list = b"/a/b\n\n/c d\r\n/e\xff\n";
        let t = read_file_list(&mut &list[..]).unwrap();
        assert_eq!(t.len(), 3);
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(
            t[2],
            Target::Path(PathBuf::from(std::ffi::OsStr::from_bytes(b"/e\xff")))
        );
    }
}
