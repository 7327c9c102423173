//! `scan --processes` and `--pid`: process memory and executables.
//!
//! Each process is read by `takedown-persist`'s `process` module (its
//! `/proc` directory opened once) and scanned by the engine: its memory,
//! region by region, with the YARA rules (`takedown_engine::memory`), and
//! its executable, through `/proc/PID/exe` (the very file, even deleted),
//! with every engine, as a file scan would. Processes are spread over one
//! worker per core; each worker holds one memory piece
//! (`takedown_engine::memory::CHUNK`) and, for an executable, what a file
//! scan holds.
//!
//! What is reported, per process: one finding for its memory (path
//! `/proc/PID/mem`, which no action acts on) when something matched or
//! could not be read, and one for its executable (the executable's real
//! path, so that `--action quarantine` acts on the real file after
//! checking it is the one scanned) when that was detected or could not be
//! read. Both carry the process (`pid`, `exe`, `cmdline`; the memory
//! finding also the region and address of the first match). An
//! executable run by many processes (`/usr/bin/bash`) is scanned once,
//! with the first of them.
//!
//! Skipped without a word: takedown itself, kernel threads, zombies, and
//! with `--processes`, processes that exit before they are read. Other
//! users' processes that the kernel does not let us read (not root, no
//! `CAP_SYS_PTRACE`) are counted in the summary's `skipped` and told in one
//! note at the end; with `--pid`, the process was asked for by name, so it
//! is a finding with the problem and an error. A process that exits while
//! it is being read, and regions that cannot be read, are problems on its
//! finding, never a failure of the run (and not counted as errors: a live
//! system's processes come and go).

use crate::args::ProcessSelection;
use rustc_hash::FxHashSet;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use takedown_engine::finding::{FileIdentity, Finding, Problem, ProcessRef, Summary};
use takedown_engine::memory::{Context, MemoryScanner, ReadFailure};
use takedown_engine::run::Report;
use takedown_engine::scan::{ObjectScanner, ScanOptions, Status};
use takedown_engine::sigs::SignatureSet;
use takedown_persist::process::{self, Process, Region};

/// Regions named in a problem at most; the rest are counted.
const MAX_REGIONS_NAMED: usize = 3;

/// PIDs named in the note on processes not read at most.
const MAX_PIDS_NAMED: usize = 10;

/// Scans the selected processes, handing every report to `sink` and
/// counting into `summary`.
pub fn scan(
    sigs: &SignatureSet,
    sel: &ProcessSelection,
    opts: &ScanOptions,
    stop: &AtomicBool,
    summary: &mut Summary,
    sink: &mut dyn FnMut(Report) -> bool,
) {
    summary.processes.get_or_insert(0);
    let mut jobs: Vec<(u32, bool)> = Vec::new();
    if sel.all {
        match process::pids() {
            Ok(pids) => jobs.extend(pids.into_iter().map(|p| (p, false))),
            Err(e) => {
                eprintln!("takedown: error: --processes: {e}");
                summary.errors += 1;
                return;
            }
        }
    }
    // A PID named with --pid is reported on whatever happens to it.
    let named: FxHashSet<u32> = sel.pids.iter().copied().collect();
    for job in &mut jobs {
        job.1 = named.contains(&job.0);
    }
    let listed: FxHashSet<u32> = jobs.iter().map(|j| j.0).collect();
    let mut extra: Vec<u32> = named.difference(&listed).copied().collect();
    extra.sort_unstable();
    jobs.extend(extra.into_iter().map(|p| (p, true)));
    if jobs.is_empty() {
        return;
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    let shared = Shared {
        sigs,
        opts,
        budget: sel.budget,
        stop,
        me: std::process::id(),
        exes: Mutex::new(FxHashSet::default()),
    };
    if let Some((_, left_out)) = takedown_engine::memory::rules_for_memory(sigs)
        && left_out > 0
    {
        tracing::info!(
            "{left_out} YARA rules need content beginning with MZ and are false on memory: left out of the memory scan"
        );
    }
    let (job_tx, job_rx) = crossbeam_channel::bounded::<(u32, bool)>(threads * 2);
    let (out_tx, out_rx) = crossbeam_channel::bounded::<Done>(threads * 2);
    let mut denied: Vec<u32> = Vec::new();
    // Each process's executable and whether its memory was detected, and
    // the executables detected: every process running a detected
    // executable counts as detected, though the executable is reported
    // once (with whichever process scanned it).
    let mut examined: Vec<(Option<(u64, u64)>, bool)> = Vec::new();
    let mut exe_detected: FxHashSet<(u64, u64)> = FxHashSet::default();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for job in jobs {
                if stop.load(Ordering::Relaxed) || job_tx.send(job).is_err() {
                    break;
                }
            }
        });
        for _ in 0..threads {
            let job_rx = job_rx.clone();
            let out_tx = out_tx.clone();
            let shared = &shared;
            scope.spawn(move || {
                let mut worker = Worker::new(shared);
                for (pid, named) in job_rx {
                    if stop.load(Ordering::Relaxed) {
                        continue; // drain, so the feeder never blocks
                    }
                    if out_tx.send(worker.process(pid, named)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(out_tx);
        drop(job_rx);
        let mut keep = true;
        for done in out_rx {
            match done {
                Done::Quiet => {}
                Done::Denied(pid) => {
                    denied.push(pid);
                    summary.skipped += 1;
                }
                Done::Examined(e) => {
                    *summary.processes.get_or_insert(0) += 1;
                    summary.memory_scanned += e.memory;
                    summary.errors += e.errors;
                    summary.skipped += e.skipped;
                    if let (Some(key), true) = (e.exe_key, e.exe_detected) {
                        exe_detected.insert(key);
                    }
                    examined.push((e.exe_key, e.memory_detected));
                    if let Some(f) = e.exe_file {
                        match f.status {
                            Status::Scanned { size, read } => {
                                summary.files_scanned += 1;
                                summary.bytes_scanned += size;
                                summary.bytes_read += read;
                            }
                            Status::Skipped => summary.skipped += 1,
                            Status::Failed => summary.errors += 1,
                        }
                        summary.members_scanned += f.members;
                        if f.detected {
                            summary.files_detected += 1;
                        }
                    }
                    for report in e.reports {
                        summary.detections += std::iter::once(&report.finding)
                            .chain(&report.inner)
                            .map(|f| f.detections.len() as u64)
                            .sum::<u64>();
                        if keep && !sink(report) {
                            keep = false;
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    });
    summary.processes_detected += examined
        .iter()
        .filter(|(exe, memory)| *memory || exe.is_some_and(|k| exe_detected.contains(&k)))
        .count() as u64;
    if !denied.is_empty() {
        denied.sort_unstable();
        let shown: Vec<String> = denied
            .iter()
            .take(MAX_PIDS_NAMED)
            .map(u32::to_string)
            .collect();
        let more = if denied.len() > MAX_PIDS_NAMED {
            ", ..."
        } else {
            ""
        };
        // As root the kernel refuses only a process caught changing
        // credentials or exiting, or when a security module says no.
        let why = if unsafe { libc::geteuid() } == 0 {
            "the kernel refused (a process changing its credentials or exiting, or a security module's decision)"
        } else {
            "reading another user's process needs root or CAP_SYS_PTRACE"
        };
        eprintln!(
            "takedown: note: {} processes not scanned (PID {}{more}): {why}",
            denied.len(),
            shown.join(", ")
        );
    }
    if stop.load(Ordering::Relaxed) {
        summary.interrupted = true;
    }
}

/// What the workers share.
struct Shared<'a> {
    sigs: &'a SignatureSet,
    opts: &'a ScanOptions,
    budget: u64,
    stop: &'a AtomicBool,
    me: u32,
    /// Executables (device, inode) claimed for scanning.
    exes: Mutex<FxHashSet<(u64, u64)>>,
}

/// What became of one process.
enum Done {
    /// Not for scanning (takedown, a kernel thread, exited), and not named.
    Quiet,
    /// Another user's, and the kernel said no (with `--processes`).
    Denied(u32),
    /// Looked at: what to report and count.
    Examined(Box<Examined>),
}

#[derive(Default)]
struct Examined {
    reports: Vec<Report>,
    memory: u64,
    memory_detected: bool,
    errors: u64,
    skipped: u64,
    /// The executable's (device, inode), when it could be opened.
    exe_key: Option<(u64, u64)>,
    exe_detected: bool,
    /// The scan of the executable, when this process scanned it.
    exe_file: Option<ExeScan>,
}

struct ExeScan {
    status: Status,
    members: u64,
    detected: bool,
}

/// `/proc/PID/mem` for the engine.
struct Mem(process::Memory);

impl takedown_engine::memory::Memory for Mem {
    fn read_at(&mut self, address: u64, buf: &mut [u8]) -> Result<usize, ReadFailure> {
        self.0.read_at(address, buf).map_err(|e| ReadFailure {
            read: e.read,
            error: e.error,
        })
    }
}

struct Worker<'a> {
    shared: &'a Shared<'a>,
    memory: MemoryScanner<'a>,
    files: ObjectScanner<'a>,
}

impl<'a> Worker<'a> {
    fn new(shared: &'a Shared<'a>) -> Worker<'a> {
        Worker {
            shared,
            memory: MemoryScanner::new(shared.sigs, shared.opts),
            files: ObjectScanner::new(shared.sigs, shared.opts.clone()),
        }
    }

    fn process(&mut self, pid: u32, named: bool) -> Done {
        let mem_path = PathBuf::from(format!("/proc/{pid}/mem"));
        // A named PID that cannot be read is a finding saying why.
        let refuse = |problem: Problem, error: bool| -> Done {
            let mut f = Finding::new(&mem_path);
            f.process = Some(ProcessRef {
                pid,
                exe: None,
                cmdline: None,
                region: None,
                address: None,
            });
            let skipped = problem.kind == takedown_engine::finding::ProblemKind::Skipped;
            f.problems.push(problem);
            Done::Examined(Box::new(Examined {
                reports: vec![Report {
                    finding: f,
                    inner: Vec::new(),
                }],
                errors: u64::from(error),
                skipped: u64::from(skipped),
                ..Default::default()
            }))
        };
        if pid == self.shared.me {
            return if named {
                refuse(
                    Problem::skipped("this is takedown itself: not scanned"),
                    false,
                )
            } else {
                Done::Quiet
            };
        }
        let proc = match Process::open(pid).and_then(|p| p.stat().map(|s| (p, s))) {
            Ok(p) => p,
            Err(e) if !named && e.is_gone() => return Done::Quiet,
            Err(e) if !named && e.is_denied() => return Done::Denied(pid),
            Err(e) => {
                return refuse(
                    Problem::error(format!("cannot read the process: {e}")),
                    true,
                );
            }
        };
        let (proc, stat) = proc;
        if stat.is_kernel_thread() || stat.has_exited() {
            let why = if stat.is_kernel_thread() {
                "a kernel thread: no memory or executable of its own; not scanned"
            } else {
                "has exited (a zombie): nothing left to scan"
            };
            return if named {
                refuse(Problem::skipped(why), false)
            } else {
                Done::Quiet
            };
        }
        let mut ex = Examined::default();
        let mut problems: Vec<Problem> = Vec::new();
        let cmdline = proc.cmdline().ok();
        let uid = proc.uid().ok();
        let link = match proc.exe_link() {
            Ok(l) => l,
            Err(e) if e.is_denied() && !named => return Done::Denied(pid),
            Err(e) => {
                problems.push(Problem::error(format!(
                    "cannot read the executable's path: {e}"
                )));
                None
            }
        };
        let exe_file = match &link {
            Some(_) => match proc.open_exe() {
                Ok(f) => Some(f),
                Err(e) if e.is_denied() && !named => return Done::Denied(pid),
                Err(e) => {
                    problems.push(Problem::error(format!("cannot open the executable: {e}")));
                    None
                }
            },
            None => None,
        };
        let exe_meta = exe_file.as_ref().and_then(|f| f.metadata().ok());
        // The file the process runs, on this machine's file system: the
        // link's path when that path still holds the very file.
        let exe_real = link.as_deref().map(|l| {
            process::exe_path(l, |p| {
                std::fs::metadata(p).is_ok_and(|m| {
                    exe_meta
                        .as_ref()
                        .is_some_and(|e| e.dev() == m.dev() && e.ino() == m.ino())
                })
            })
        });
        let pref = ProcessRef {
            pid,
            exe: link.as_ref().map(|l| l.to_string_lossy().into_owned()),
            cmdline: cmdline.clone(),
            region: None,
            address: None,
        };

        // Memory.
        let mut mem_finding = Finding::new(&mem_path);
        mem_finding.process = Some(pref.clone());
        match self.read_memory(&proc, exe_real.as_ref().map(|(p, _)| p.as_path()), uid) {
            Ok(m) => {
                ex.memory = m.scanned;
                mem_finding.size = Some(m.scanned);
                mem_finding.detections = m.detections;
                if let (Some(p), Some(region)) = (mem_finding.process.as_mut(), m.region) {
                    p.region = Some(region);
                    p.address = m.address;
                }
                problems.extend(m.problems);
                ex.errors += m.errors;
            }
            Err(e) if e.is_denied() && !named => return Done::Denied(pid),
            // Gone before any of its memory was read: with --processes,
            // one of the many short-lived processes of a live system (its
            // executable, already open, is still scanned below).
            Err(e) if e.is_gone() && !named => {}
            Err(e) if e.is_gone() => problems.push(Problem::error(format!(
                "the process exited before its memory could be read ({e})"
            ))),
            Err(e) => {
                problems.push(Problem::error(format!("cannot read the memory: {e}")));
                ex.errors += 1;
            }
        }
        ex.memory_detected = !mem_finding.detections.is_empty();
        mem_finding.problems = problems;
        if mem_finding.is_notable() {
            ex.reports.push(Report {
                finding: mem_finding,
                inner: Vec::new(),
            });
        }

        // The executable, once per file.
        if let (Some(file), Some(meta), Some((real, _))) = (exe_file, exe_meta, exe_real) {
            let key = (meta.dev(), meta.ino());
            ex.exe_key = Some(key);
            let first = self
                .shared
                .exes
                .lock()
                .map(|mut set| set.insert(key))
                .unwrap_or(false);
            if first && !self.shared.stop.load(Ordering::Relaxed) {
                let (report, scan) = self.scan_exe(file, &meta, &real, &pref);
                ex.exe_detected = scan.detected;
                ex.exe_file = Some(scan);
                if let Some(r) = report {
                    ex.reports.push(r);
                }
            }
        }
        Done::Examined(Box::new(ex))
    }

    /// Scans the memory of `proc`: its regions read first where only
    /// memory holds them (heap, stack, anonymous, deleted files), then
    /// the mapped files, so that a budget is spent where code not on
    /// disk lives.
    fn read_memory(
        &mut self,
        proc: &Process,
        exe: Option<&Path>,
        uid: Option<u32>,
    ) -> Result<MemoryRead, process::Error> {
        let maps = proc.maps()?;
        let mut regions: Vec<&Region> = maps
            .regions
            .iter()
            .filter(|r| r.skip().is_none() && !r.is_empty())
            .collect();
        regions.sort_by_key(|r| !r.only_in_memory());
        let mut out = MemoryRead::default();
        if maps.truncated {
            out.problems.push(Problem::limit(
                "maps-size",
                format!(
                    "the memory map is over {} bytes: regions past it are not scanned",
                    process::MAX_MAPS_BYTES
                ),
            ));
        }
        if !self.memory.has_rules() || regions.is_empty() {
            return Ok(out);
        }
        let mut mem = Mem(proc.memory()?);
        let ranges: Vec<Range<u64>> = regions.iter().map(|r| r.start..r.end).collect();
        let cx = Context { exe, uid };
        let m = self
            .memory
            .scan(&mut mem, &ranges, self.shared.budget, &cx, self.shared.stop);
        out.scanned = m.scanned;
        if let Some((i, at)) = m.first_match {
            out.region = regions.get(i).map(|r| r.label());
            out.address = Some(format!("{at:#x}"));
        } else if !m.detections.is_empty() {
            out.region = Some("all regions (the rules matched without a string)".into());
        }
        out.detections = m.detections;
        for p in &m.problems {
            if p.kind == takedown_engine::finding::ProblemKind::Timeout {
                out.errors += 1;
            }
        }
        out.problems.extend(m.problems);
        if m.over_budget > 0 {
            out.problems.push(Problem::limit(
                "process-budget",
                format!(
                    "{} bytes of memory over the --process-budget of {} bytes were not scanned",
                    m.over_budget, self.shared.budget
                ),
            ));
        }
        if !m.unread.is_empty() {
            if !proc.alive() {
                out.problems.push(Problem::error(format!(
                    "the process exited while its memory was being scanned: {} bytes were scanned",
                    m.scanned
                )));
            } else {
                out.problems.push(unread_problem(&m.unread, &regions));
            }
        }
        Ok(out)
    }

    /// Scans the executable (opened through `/proc/PID/exe`) as the file
    /// at `real`.
    fn scan_exe(
        &mut self,
        file: std::fs::File,
        meta: &std::fs::Metadata,
        real: &Path,
        pref: &ProcessRef,
    ) -> (Option<Report>, ExeScan) {
        let name = real.to_string_lossy();
        let outcome = self.files.scan_file(&name, file);
        let mut finding = outcome.finding;
        let (path, path_base64) = takedown_engine::finding::path_strings(real);
        finding.path = path;
        finding.path_base64 = path_base64;
        finding.fs_path = real.to_path_buf();
        // What an action checks the file at `real` against: the file the
        // process runs, as opened.
        finding.identity = Some(FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_sec: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        });
        finding.process = Some(pref.clone());
        let mut inner = outcome.inner;
        for f in &mut inner {
            f.fs_path = real.to_path_buf();
            let (path, path_base64) = takedown_engine::finding::path_strings(real);
            f.path = path;
            f.path_base64 = path_base64;
            f.process = Some(pref.clone());
        }
        let detected =
            !finding.detections.is_empty() || inner.iter().any(|f| !f.detections.is_empty());
        let scan = ExeScan {
            status: outcome.status,
            members: outcome.members,
            detected,
        };
        let report = Report { finding, inner };
        let notable = report.notable().next().is_some();
        (notable.then_some(report), scan)
    }
}

#[derive(Default)]
struct MemoryRead {
    scanned: u64,
    detections: Vec<takedown_engine::finding::Detection>,
    region: Option<String>,
    address: Option<String>,
    problems: Vec<Problem>,
    errors: u64,
}

/// One problem for the regions that could not be read, the first few
/// named.
fn unread_problem(unread: &[takedown_engine::memory::Unread], regions: &[&Region]) -> Problem {
    let named: Vec<String> = unread
        .iter()
        .take(MAX_REGIONS_NAMED)
        .map(|u| {
            let label = regions
                .get(u.region)
                .map_or_else(|| "?".to_string(), |r| r.label());
            let why = match &u.error {
                Some(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
                    format!(
                        "{}: needs root or CAP_SYS_PTRACE",
                        takedown_engine::scan::io_reason(e)
                    )
                }
                Some(e) => takedown_engine::scan::io_reason(e),
                None => "ended early (unmapped while being read)".to_string(),
            };
            format!("{label} at {:#x}: {why}", u.address)
        })
        .collect();
    let more = unread.len().saturating_sub(MAX_REGIONS_NAMED);
    Problem::error(format!(
        "{} memory region(s) could not be read in full: {}{}",
        unread.len(),
        named.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    ))
}
