//! `--action quarantine|delete`: the glue between the scan's reports and
//! the vault.
//!
//! Reports go through a channel to one acting thread, which gathers them
//! into batches (up to [`BATCH`] files, or whatever arrived within
//! [`LINGER`]) so that the vault makes a whole batch durable at once, then
//! prints each finding with what was done to its file. The scan never
//! waits on the disk syncs, and a detection is acted on within a fraction
//! of a second, while the file is most likely still the one scanned.

use crate::args::Action;
use crate::output::Printer;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};
use takedown_engine::finding::{ActionReport, Finding, Summary};
use takedown_engine::run::Report;
use takedown_vault::remove::{Outcome, Request};
use takedown_vault::{Identity, Run, Vault};

/// Files per batch, at most.
const BATCH: usize = 2048;
/// Descriptors kept free for everything else (scan threads, the vault,
/// the output) when the batch size is derived from the open-files limit.
const SPARE_FDS: u64 = 256;

/// Files per batch, and how many removed files may wait to be closed.
/// A batch holds each of its files open until it is removed, and the
/// directory of each (files spread over as many directories hold two
/// descriptors each); a removed file stays open until the vault's closing
/// threads get to it (closing is what frees it, and may wait for the
/// disk). All of it must fit in the open-files limit (raised to the hard
/// limit first), with room for everything else: a third for the batch's
/// files, a third for their directories, a third for files waiting to be
/// closed, so that the closes of one batch overlap the work on the next.
fn budget() -> (usize, usize) {
    let limit = takedown_vault::fsops::raise_open_files_limit();
    let third = usize::try_from(limit.saturating_sub(SPARE_FDS) / 3).unwrap_or(BATCH);
    let batch = third.clamp(32, BATCH);
    let closing = third
        .saturating_sub(takedown_vault::reaper::held(0))
        .clamp(16, BATCH);
    (batch, closing)
}
/// How long the first report of a batch waits for company.
const LINGER: Duration = Duration::from_millis(200);

/// Totals for the summary.
#[derive(Default)]
pub struct Counts {
    pub quarantined: u64,
    pub deleted: u64,
    pub refused: u64,
    pub failed: u64,
}

impl Counts {
    pub fn add_to(&self, s: &mut Summary) {
        s.quarantined = self.quarantined;
        s.deleted = self.deleted;
        s.refused = self.refused;
        s.failed = self.failed;
    }
}

/// The acting thread's handle.
pub struct Actor {
    tx: Sender<Report>,
    handle: std::thread::JoinHandle<(Printer, Counts)>,
}

/// What the acting thread needs.
pub struct Plan {
    pub action: Action,
    pub min_score: u32,
    pub yes: bool,
    pub vault: Vault,
    pub run: Run,
}

impl Actor {
    pub fn start(plan: Plan, printer: Printer) -> Actor {
        // Room for a few batches: the scan hands over and goes on instead
        // of spinning on a full channel (on a small machine that spinning
        // takes the CPU from the thread doing the work); still bounded, so
        // memory is too.
        let (batch, closing) = budget();
        let (tx, rx) = crossbeam_channel::bounded(4 * batch);
        let mut plan = plan;
        plan.vault.set_close_queue(closing);
        let handle = std::thread::spawn(move || {
            let mut w = Worker {
                plan,
                printer,
                counts: Counts::default(),
                pending: Vec::new(),
                batch,
            };
            w.serve(rx);
            if let Err(e) = w.plan.vault.finish_run(&w.plan.run) {
                tracing::warn!("{e}");
            }
            (w.printer, w.counts)
        });
        Actor { tx, handle }
    }

    /// Hands a report over; false when the acting thread is gone.
    pub fn send(&self, r: Report) -> bool {
        self.tx.send(r).is_ok()
    }

    /// Finishes every pending action and gives the printer back.
    pub fn finish(self) -> (Printer, Counts) {
        drop(self.tx);
        match self.handle.join() {
            Ok(x) => x,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

struct Worker {
    plan: Plan,
    printer: Printer,
    counts: Counts,
    pending: Vec<Report>,
    batch: usize,
}

impl Worker {
    fn serve(&mut self, rx: Receiver<Report>) {
        let mut first: Option<Instant> = None;
        loop {
            let got = match first {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(t) => rx.recv_timeout(LINGER.saturating_sub(t.elapsed())),
            };
            match got {
                Ok(report) => {
                    if let Some(r) = self.admit(report) {
                        self.pending.push(r);
                        first.get_or_insert_with(Instant::now);
                        if self.pending.len() >= self.batch {
                            self.flush();
                            first = None;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.flush();
                    first = None;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    return;
                }
            }
        }
    }

    /// Decides whether a report needs an action; prints it at once if not.
    fn admit(&mut self, mut r: Report) -> Option<Report> {
        if !r.detected() {
            self.print(&r, None);
            return None;
        }
        let action = self.plan.action;
        let skip = if r.max_score() < self.plan.min_score {
            Some(format!(
                "highest score {} is below --min-score {}",
                r.max_score(),
                self.plan.min_score
            ))
        } else if r.finding.identity.is_none() {
            Some("not a file on disk (standard input)".into())
        } else if action == Action::Delete && !self.plan.yes && !confirm(&r) {
            Some("not confirmed".into())
        } else {
            None
        };
        if let Some(reason) = skip {
            let report = self.report(&r, "skipped", None, Some(reason));
            annotate(&mut r, &report);
            self.print(&r, Some(&report));
            return None;
        }
        Some(r)
    }

    fn report(
        &self,
        r: &Report,
        status: &'static str,
        vault_id: Option<String>,
        reason: Option<String>,
    ) -> ActionReport {
        ActionReport {
            action: match self.plan.action {
                Action::Delete => "delete",
                _ => "quarantine",
            },
            status,
            target: r.finding.path.clone(),
            vault_id,
            reason,
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let requests: Vec<Request> = batch.iter().map(request).collect();
        let outcomes = match self.plan.action {
            Action::Delete => self.plan.vault.delete(&self.plan.run, &requests),
            _ => self.plan.vault.quarantine(&self.plan.run, &requests),
        };
        for (mut r, outcome) in batch.into_iter().zip(outcomes) {
            let report = match outcome {
                Outcome::Done { vault_id, note } => {
                    if self.plan.action == Action::Delete {
                        self.counts.deleted += 1;
                    } else {
                        self.counts.quarantined += 1;
                    }
                    self.report(&r, "done", vault_id, note)
                }
                Outcome::Refused(why) => {
                    self.counts.refused += 1;
                    self.report(&r, "refused", None, Some(why))
                }
                Outcome::Failed(why) => {
                    self.counts.failed += 1;
                    self.report(&r, "failed", None, Some(why))
                }
            };
            annotate(&mut r, &report);
            self.print(&r, Some(&report));
        }
    }

    fn print(&mut self, r: &Report, action: Option<&ActionReport>) {
        for f in r.notable() {
            self.printer.finding(f);
        }
        if let Some(a) = action {
            self.printer.action(a, &r.finding.fs_path);
        }
    }
}

/// Every finding of the object says what was done to the file it is in.
fn annotate(r: &mut Report, report: &ActionReport) {
    r.finding.action = Some(report.clone());
    for f in &mut r.inner {
        f.action = Some(report.clone());
    }
}

fn request(r: &Report) -> Request {
    let all: Vec<&Finding> = std::iter::once(&r.finding).chain(&r.inner).collect();
    let detections: Vec<serde_json::Value> = all
        .iter()
        .flat_map(|f| {
            f.detections.iter().map(|d| {
                let mut v = serde_json::to_value(d).unwrap_or_default();
                if !f.chain.is_empty() {
                    v["chain"] = serde_json::json!(f.chain);
                }
                v
            })
        })
        .collect();
    let id = r
        .finding
        .identity
        .unwrap_or_else(|| unreachable!("admit() checks"));
    Request {
        path: r.finding.fs_path.clone(),
        identity: Identity {
            dev: id.dev,
            ino: id.ino,
            size: id.size,
            mtime_sec: id.mtime_sec,
            mtime_nsec: id.mtime_nsec,
        },
        sha256: r.finding.sha256.clone().unwrap_or_default(),
        detections: serde_json::Value::Array(detections),
        names: all
            .iter()
            .flat_map(|f| f.detections.iter().map(|d| d.name.clone()))
            .collect(),
    }
}

/// Asks on the terminal whether to delete the file of `r`.
fn confirm(r: &Report) -> bool {
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return false;
    };
    let names: Vec<String> = std::iter::once(&r.finding)
        .chain(&r.inner)
        .flat_map(|f| f.detections.iter().map(|d| d.name.clone()))
        .collect();
    let mut w = &tty;
    let _ = write!(
        w,
        "Delete {} ({})? [y/N] ",
        takedown_engine::sanitize::path_for_terminal(&r.finding.fs_path),
        takedown_engine::sanitize::for_terminal(&names.join(", "))
    );
    let mut line = String::new();
    let _ = std::io::BufReader::new(&tty).read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}
