//! `scan --persistence --action quarantine|delete`: the autostart entries
//! that start a removed program are disabled with it, restorably.
//!
//! What changes is decided by `takedown_persist::disable` (per file: a
//! registry hive edited, a line commented out, a whole file removed); the
//! vault does the change and keeps the original, linked to the program's
//! own vault item so that `takedown quarantine restore` brings back the
//! program and its entries together. An entry is disabled only once its
//! program is gone: a program left in place keeps its entries, and an
//! edit that cannot be made safely (a dirty hive, a line that changed)
//! is refused with the reason, never forced.

use crate::persistence::ForScan;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use takedown_engine::digest::{Algorithms, Digests, Hasher};
use takedown_engine::finding::{ActionReport, Autostart};
use takedown_persist::disable::{self, Change};
use takedown_persist::{Disable, Entry};
use takedown_vault::remove::{Outcome, Request};
use takedown_vault::replace::Replacement;
use takedown_vault::{Identity, Run, Vault};

/// Bytes of a file read for an edit at most: the largest hive takedown
/// reads.
const MAX_EDIT_BYTES: u64 = takedown_persist::windows::hive::MAX_HIVE_BYTES;

/// The changes made so far in this run, so that an entry shared by two
/// programs, or two programs' entries in one file, are changed once.
#[derive(Default)]
pub struct Disabler {
    /// Files gone from their place in this run (programs, removed
    /// files), with their vault item ("" when deleted for good): an edit
    /// of one of them has nothing left to do.
    gone: HashMap<PathBuf, String>,
    /// Changes made (or refused), with their outcome.
    made: Vec<(Change, Result<String, String>)>,
}

/// How the entries of one program fared.
#[derive(Default)]
pub struct Tally {
    /// Entries disabled.
    pub done: u64,
    /// Entries left in place on purpose (a change was refused: a dirty
    /// hive, a line that changed).
    pub refused: u64,
    /// Entries left in place by an error.
    pub failed: u64,
}

impl Disabler {
    /// Disables the entries that start `program` (just quarantined as
    /// vault item `program_item`, or deleted): fills each shown
    /// `Autostart`'s action (in the order of `ForScan::entries`).
    ///
    /// All of the program's changes are planned together, one change
    /// per file: two entries in one file (a Run and a RunOnce value, two
    /// cron lines) make one edit and one vault item, so that a restore
    /// puts the file back in one step.
    #[allow(clippy::too_many_arguments)]
    pub fn disable(
        &mut self,
        vault: &mut Vault,
        run: &Run,
        autostarts: &ForScan,
        program: &Path,
        program_item: Option<&str>,
        shown: &mut [Autostart],
        action: &'static str,
    ) -> Tally {
        let mut tally = Tally::default();
        let Some(entries) = autostarts.entries.get(program) else {
            return tally;
        };
        // The program's own file is gone already: an entry written in
        // it (a start-up script that is itself detected) needs nothing
        // more.
        self.gone.insert(
            program.to_path_buf(),
            program_item.unwrap_or_default().to_string(),
        );
        // What each entry changes, and all of it planned as one.
        let wanted: Vec<Vec<&Disable>> =
            entries.iter().map(|e| disables_of(e, autostarts)).collect();
        let changes = disable::plan(wanted.iter().flatten().copied());
        let mut outcome: HashMap<PathBuf, Result<String, (bool, String)>> = HashMap::new();
        for change in &changes {
            let path = change.path().to_path_buf();
            let known = self.gone.get(&path).map(|id| Ok(id.clone())).or_else(|| {
                self.made
                    .iter()
                    .find(|(c, _)| c == change)
                    .map(|(_, o)| o.clone().map_err(|e| (false, e)))
            });
            let o = match known {
                Some(o) => o,
                None => {
                    let o = match self.change(vault, run, change, entries, program, program_item) {
                        Outcome::Done { vault_id, .. } => Ok(vault_id.unwrap_or_default()),
                        Outcome::Refused(r) => Err((false, r)),
                        Outcome::Failed(r) => Err((true, r)),
                    };
                    if let (Change::Remove { .. }, Ok(id)) = (change, &o) {
                        self.gone.insert(path.clone(), id.clone());
                    }
                    self.made
                        .push((change.clone(), o.clone().map_err(|(_, r)| r)));
                    o
                }
            };
            outcome.insert(path, o);
        }
        for (i, (entry, mine)) in entries.iter().zip(&wanted).enumerate() {
            let report = entry_report(entry, mine, &outcome, action);
            match report.status {
                "done" => tally.done += 1,
                "failed" => tally.failed += 1,
                "refused" => tally.refused += 1,
                _ => {}
            }
            if let Some(a) = shown.get_mut(i) {
                a.action = Some(report);
            }
        }
        tally
    }

    /// Makes one change through the vault.
    fn change(
        &mut self,
        vault: &mut Vault,
        run: &Run,
        change: &Change,
        entries: &[Entry],
        program: &Path,
        program_item: Option<&str>,
    ) -> Outcome {
        let path = change.path();
        let read = match read_file(path, matches!(change, Change::Edit { .. })) {
            Ok(r) => r,
            Err(e) => return Outcome::Refused(e),
        };
        let detections = serde_json::json!({
            "disabled": entries,
            "program": program.to_string_lossy(),
        });
        let names = entries
            .iter()
            .map(|e| format!("{} {} {}", e.mechanism, e.location, e.name))
            .collect();
        match change {
            Change::Remove { .. } => {
                let req = Request {
                    path: path.to_path_buf(),
                    identity: read.identity,
                    sha256: read.sha256,
                    detections,
                    names,
                    linked: program_item.map(str::to_string),
                };
                first(vault.quarantine(run, std::slice::from_ref(&req)))
            }
            Change::Edit { edits, .. } => {
                let content = match disable::apply(edits, &read.content) {
                    Ok(c) => c,
                    Err(e) => return Outcome::Refused(e),
                };
                let req = Replacement {
                    path: path.to_path_buf(),
                    identity: read.identity,
                    sha256: read.sha256,
                    content,
                    detections,
                    names,
                    linked: program_item.map(str::to_string),
                };
                first(vault.replace(run, std::slice::from_ref(&req)))
            }
        }
    }
}

fn first(mut v: Vec<Outcome>) -> Outcome {
    if v.is_empty() {
        Outcome::Failed("the vault gave no outcome".into())
    } else {
        v.swap_remove(0)
    }
}

/// What disabling `entry` changes. A scheduled task lives in two stores
/// (the XML file and the TaskCache keys): both go, whichever the entry
/// was read from, or the task comes back from the other.
fn disables_of<'a>(entry: &'a Entry, autostarts: &'a ForScan) -> Vec<&'a Disable> {
    let mut all: Vec<&Disable> = entry.disable.iter().collect();
    if entry.mechanism == "scheduled-task" {
        let key = task_key(&entry.name);
        for e in autostarts.all_entries() {
            if e.mechanism == "scheduled-task"
                && task_key(&e.name) == key
                && let Some(d) = &e.disable
                && !all.contains(&d)
            {
                all.push(d);
            }
        }
    }
    all
}

/// What happened to one entry: done when every file it changes was
/// changed (or was already gone).
fn entry_report(
    entry: &Entry,
    mine: &[&Disable],
    outcome: &HashMap<PathBuf, Result<String, (bool, String)>>,
    action: &'static str,
) -> ActionReport {
    let mut report = ActionReport {
        action,
        status: "done",
        target: entry.location.clone(),
        vault_id: None,
        reason: None,
    };
    if mine.is_empty() {
        report.status = "skipped";
        report.reason = Some(format!(
            "takedown does not disable {} entries of this form: remove it by hand",
            entry.mechanism
        ));
        return report;
    }
    let mut ids = Vec::new();
    let mut why = Vec::new();
    for change in disable::plan(mine.iter().copied()) {
        match outcome.get(change.path()) {
            Some(Ok(id)) if !id.is_empty() => ids.push(id.clone()),
            Some(Ok(_)) => {}
            Some(Err((failed, r))) => {
                if *failed {
                    report.status = "failed";
                } else if report.status != "failed" {
                    report.status = "refused";
                }
                why.push(format!("{}: {r}", change.path().display()));
            }
            None => {
                report.status = "failed";
                why.push(format!("{}: not changed", change.path().display()));
            }
        }
    }
    ids.dedup();
    let mut ids = ids.into_iter();
    report.vault_id = ids.next();
    let more: Vec<String> = ids.collect();
    if !more.is_empty() {
        why.push(format!("also vault item(s) {}", more.join(", ")));
    }
    if !why.is_empty() {
        report.reason = Some(why.join("; "));
    }
    report
}

/// A task's path as both stores name it (`\Vendor\Task`, any case),
/// without the notes the listing adds to a task's name.
fn task_key(name: &str) -> String {
    let mut n = name.trim();
    loop {
        let before = n;
        for note in [" (hidden)", " (disabled)"] {
            n = n.strip_suffix(note).unwrap_or(n);
        }
        if n == before {
            break;
        }
    }
    format!("\\{}", n.trim_start_matches('\\')).to_lowercase()
}

struct ReadFile {
    identity: Identity,
    sha256: String,
    /// The content, when it is to be edited.
    content: Vec<u8>,
}

/// Reads a file to change: its identity as the vault checks it, its
/// SHA-256 and (for an edit) its content, all through one descriptor
/// opened without following links.
fn read_file(path: &Path, keep: bool) -> Result<ReadFile, String> {
    let file =
        takedown_persist::open::open_regular(path)?.ok_or_else(|| "it is gone".to_string())?;
    let m = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if keep && m.len() > MAX_EDIT_BYTES {
        return Err(format!("larger than {MAX_EDIT_BYTES} bytes: not edited"));
    }
    let identity = identity_of(&file, &m)?;
    let mut hasher = Hasher::new(Algorithms::SHA256);
    let mut content = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut reader = (&file).take(m.len().saturating_add(1));
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("cannot read: {e}"))?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        if keep {
            content.extend_from_slice(chunk);
        }
    }
    let mut digests = Digests::default();
    hasher.finish_into(&mut digests);
    Ok(ReadFile {
        identity,
        sha256: digests.sha256_hex().unwrap_or_default(),
        content,
    })
}

#[cfg(unix)]
fn identity_of(_file: &std::fs::File, m: &std::fs::Metadata) -> Result<Identity, String> {
    use std::os::unix::fs::MetadataExt;
    Ok(Identity {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_sec: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

/// Windows: volume serial number and file index, as the vault reads them.
#[cfg(windows)]
fn identity_of(file: &std::fs::File, _m: &std::fs::Metadata) -> Result<Identity, String> {
    takedown_vault::fsops::stat_file(file)
        .map(|st| Identity::of(&st))
        .map_err(|e| format!("cannot read: {e}"))
}
