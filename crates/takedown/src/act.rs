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
use takedown_engine::finding::{ActionReport, EvidenceReport, Finding, Summary};
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
    pub autostarts_disabled: u64,
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
        s.autostarts_disabled = self.autostarts_disabled;
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
    /// The vault and this run's log in it (`--action quarantine|delete`).
    pub vault: Option<(Vault, Run)>,
    /// The evidence case detected files are preserved into first
    /// (`--evidence`).
    pub evidence: Option<Evidence>,
    /// `--persistence`: the autostart entries of each program, disabled
    /// with the program they start.
    pub autostarts: Option<std::sync::Arc<crate::persistence::ForScan>>,
}

/// `--evidence CASE_DIR`: the open case and the examiner's key.
pub struct Evidence {
    pub case: takedown_evidence::case::Case,
    pub signer: takedown_evidence::keys::Signer,
    pub threads: usize,
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
        if let Some((vault, _)) = plan.vault.as_mut() {
            vault.set_close_queue(closing);
        }
        let handle = std::thread::spawn(move || {
            let mut w = Worker {
                plan,
                printer,
                counts: Counts::default(),
                pending: Vec::new(),
                batch,
                disabler: crate::disable::Disabler::default(),
            };
            w.serve(rx);
            if let Some((vault, run)) = &w.plan.vault
                && let Err(e) = vault.finish_run(run)
            {
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
    /// The autostart entries disabled so far (`--persistence`).
    disabler: crate::disable::Disabler,
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
        if action == Action::Report {
            // Only preserving (--evidence without --action).
            if r.finding.identity.is_none() {
                self.fail_evidence(&mut r, "not a file on disk (standard input)".into());
                self.print(&r, None);
                return None;
            }
            return Some(r);
        }
        let skip = if r.max_score() < self.plan.min_score {
            Some(format!(
                "highest score {} is below --min-score {}",
                r.max_score(),
                self.plan.min_score
            ))
        } else if r
            .finding
            .process
            .as_ref()
            .is_some_and(|p| p.region.is_some())
        {
            Some("in process memory: stop the process, then scan and quarantine its files".into())
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

    /// Marks a finding as not preserved.
    fn fail_evidence(&self, r: &mut Report, reason: String) {
        if let Some(ev) = &self.plan.evidence {
            let report = EvidenceReport {
                case: ev.case.dir().to_string_lossy().into_owned(),
                status: "failed",
                item: None,
                entry: None,
                reason: Some(reason),
            };
            annotate_evidence(r, &report);
        }
    }

    /// Preserves the batch's files into the case, as one custody entry;
    /// says for each whether it was preserved (an action may then touch
    /// it) or why not.
    fn preserve(&mut self, batch: &mut [Report]) -> Vec<Result<(), String>> {
        let Some(ev) = self.plan.evidence.as_mut() else {
            return vec![Ok(()); batch.len()];
        };
        let requests: Vec<takedown_evidence::acquire::Request> = batch
            .iter()
            .map(|r| {
                let q = request(r);
                takedown_evidence::acquire::Request::Scanned {
                    path: q.path,
                    identity: q.identity,
                    sha256: q.sha256,
                    detections: q.detections,
                }
            })
            .collect();
        let why = match self.plan.action {
            Action::Report => "detected by takedown scan".to_string(),
            Action::Quarantine => "detected by takedown scan; preserved before quarantine".into(),
            Action::Delete => "detected by takedown scan; preserved before deletion".into(),
        };
        let case_name = ev.case.dir().to_string_lossy().into_owned();
        let result = ev.case.add(&ev.signer, &requests, Some(why), ev.threads);
        let outcomes: Vec<Result<(String, Option<u64>), String>> = match result {
            Ok(rep) => {
                if let Some(e) = &rep.stamp_error {
                    tracing::warn!("evidence case {case_name}: no timestamp: {e}");
                }
                let entry = rep.entry.as_ref().map(|e| e.seq);
                rep.acquired
                    .outcomes
                    .iter()
                    .map(|o| match o {
                        Ok(idx) => idx
                            .first()
                            .and_then(|&i| rep.acquired.records.get(i))
                            .map(|rec| (rec.path.clone(), entry))
                            .ok_or_else(|| "nothing was preserved".to_string()),
                        Err(e) => Err(e.clone()),
                    })
                    .collect()
            }
            Err(e) => vec![Err(e.to_string()); batch.len()],
        };
        batch
            .iter_mut()
            .zip(outcomes)
            .map(|(r, o)| {
                let report = match &o {
                    Ok((item, entry)) => EvidenceReport {
                        case: case_name.clone(),
                        status: "preserved",
                        item: Some(item.clone()),
                        entry: *entry,
                        reason: None,
                    },
                    Err(why) => EvidenceReport {
                        case: case_name.clone(),
                        status: "failed",
                        item: None,
                        entry: None,
                        reason: Some(why.clone()),
                    },
                };
                annotate_evidence(r, &report);
                o.map(|_| ())
            })
            .collect()
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut all = std::mem::take(&mut self.pending);
        let preserved = self.preserve(&mut all);
        if self.plan.action == Action::Report {
            for r in &all {
                self.print(r, None);
            }
            return;
        }
        // A file whose preservation failed is left in place: cleanup never
        // destroys what could not be kept.
        let mut batch = Vec::with_capacity(all.len());
        for (mut r, ok) in all.into_iter().zip(preserved) {
            match ok {
                Ok(()) => batch.push(r),
                Err(why) => {
                    self.counts.failed += 1;
                    let report = self.report(
                        &r,
                        "failed",
                        None,
                        Some(format!(
                            "not preserved in the evidence case ({why}); left in place"
                        )),
                    );
                    annotate(&mut r, &report);
                    self.print(&r, Some(&report));
                }
            }
        }
        if batch.is_empty() {
            return;
        }
        let requests: Vec<Request> = batch.iter().map(request).collect();
        let Some((vault, run)) = self.plan.vault.as_mut() else {
            return;
        };
        let outcomes = match self.plan.action {
            Action::Delete => vault.delete(run, &requests),
            _ => vault.quarantine(run, &requests),
        };
        for (mut r, outcome) in batch.into_iter().zip(outcomes) {
            let report = match outcome {
                Outcome::Done { vault_id, note } => {
                    if self.plan.action == Action::Delete {
                        self.counts.deleted += 1;
                    } else {
                        self.counts.quarantined += 1;
                    }
                    // The program is gone: the entries that start it go
                    // too, or the system would try to start it at every
                    // boot (and a dropper left elsewhere would be run).
                    if let Some(autostarts) = &self.plan.autostarts
                        && let Some((vault, run)) = self.plan.vault.as_mut()
                    {
                        let action = match self.plan.action {
                            Action::Delete => "delete",
                            _ => "quarantine",
                        };
                        let tally = self.disabler.disable(
                            vault,
                            run,
                            autostarts,
                            &r.finding.fs_path,
                            vault_id.as_deref(),
                            &mut r.finding.autostarts,
                            action,
                        );
                        // An entry left in place while its program is gone
                        // is counted as a refused or failed action: the
                        // run did not finish the cleanup.
                        self.counts.autostarts_disabled += tally.done;
                        self.counts.refused += tally.refused;
                        self.counts.failed += tally.failed;
                        // The detected objects inside the program name its
                        // entries too: with what was done to them.
                        for f in &mut r.inner {
                            if !f.autostarts.is_empty() {
                                f.autostarts = r.finding.autostarts.clone();
                            }
                        }
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
        if let Some(e) = &r.finding.evidence {
            self.printer.evidence(e, &r.finding.fs_path);
        }
        if let Some(a) = action {
            self.printer.action(a, &r.finding.fs_path);
        }
    }
}

/// Every finding of the object says whether its file was preserved.
fn annotate_evidence(r: &mut Report, report: &EvidenceReport) {
    r.finding.evidence = Some(report.clone());
    for f in &mut r.inner {
        f.evidence = Some(report.clone());
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
        linked: None,
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
