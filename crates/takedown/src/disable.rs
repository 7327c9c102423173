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
use takedown_persist::Entry;
use takedown_persist::disable::{self, Change};
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

impl Disabler {
    /// Disables the entries that start `program` (just quarantined as
    /// vault item `program_item`, or deleted): fills each shown
    /// `Autostart`'s action; returns how many entries were disabled.
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
    ) -> u64 {
        let Some(entries) = autostarts.entries.get(program) else {
            return 0;
        };
        // The program's own file is gone already: an entry written in
        // it (a start-up script that is itself detected) needs nothing
        // more.
        self.gone.insert(
            program.to_path_buf(),
            program_item.unwrap_or_default().to_string(),
        );
        let mut disabled = 0;
        for (i, entry) in entries.iter().enumerate() {
            let report = self.disable_entry(vault, run, autostarts, entry, program, program_item);
            let report = ActionReport { action, ..report };
            if report.status == "done" {
                disabled += 1;
            }
            if let Some(a) = shown.get_mut(i) {
                a.action = Some(report);
            }
        }
        disabled
    }

    fn disable_entry(
        &mut self,
        vault: &mut Vault,
        run: &Run,
        autostarts: &ForScan,
        entry: &Entry,
        program: &Path,
        program_item: Option<&str>,
    ) -> ActionReport {
        let target = entry.location.clone();
        let report =
            |status: &'static str, vault_id: Option<String>, reason: Option<String>| ActionReport {
                action: "quarantine",
                status,
                target: target.clone(),
                vault_id,
                reason,
            };
        let Some(how) = &entry.disable else {
            return report(
                "skipped",
                None,
                Some(format!(
                    "takedown does not disable {} entries of this form: remove it by hand",
                    entry.mechanism
                )),
            );
        };
        // A scheduled task lives in two stores (the XML file and the
        // TaskCache keys): both go, whichever the entry was read from,
        // or the task comes back from the other.
        let mut all = vec![how];
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
        let changes = disable::plan(all);
        let mut ids = Vec::new();
        let mut why = Vec::new();
        let mut refused = false;
        let mut failed = false;
        for change in &changes {
            let path = change.path().to_path_buf();
            let known = self.gone.get(&path).map(|id| Ok(id.clone())).or_else(|| {
                self.made
                    .iter()
                    .find(|(c, _)| c == change)
                    .map(|(_, o)| o.clone())
            });
            let outcome = match known {
                Some(o) => o,
                None => {
                    let o = match self.change(vault, run, change, entry, program, program_item) {
                        Outcome::Done { vault_id, .. } => Ok(vault_id.unwrap_or_default()),
                        Outcome::Refused(r) => {
                            refused = true;
                            Err(r)
                        }
                        Outcome::Failed(r) => {
                            failed = true;
                            Err(r)
                        }
                    };
                    if let (Change::Remove { .. }, Ok(id)) = (change, &o) {
                        self.gone.insert(path.clone(), id.clone());
                    }
                    self.made.push((change.clone(), o.clone()));
                    o
                }
            };
            match outcome {
                Ok(id) if !id.is_empty() => ids.push(id),
                Ok(_) => {}
                Err(r) => why.push(format!("{}: {r}", path.display())),
            }
        }
        let vault_id = (!ids.is_empty()).then(|| ids.join(","));
        if why.is_empty() {
            report("done", vault_id, None)
        } else if failed {
            report("failed", vault_id, Some(why.join("; ")))
        } else {
            let _ = refused;
            report("refused", vault_id, Some(why.join("; ")))
        }
    }

    /// Makes one change through the vault.
    fn change(
        &mut self,
        vault: &mut Vault,
        run: &Run,
        change: &Change,
        entry: &Entry,
        program: &Path,
        program_item: Option<&str>,
    ) -> Outcome {
        let path = change.path();
        let read = match read_file(path, matches!(change, Change::Edit { .. })) {
            Ok(r) => r,
            Err(e) => return Outcome::Refused(e),
        };
        let detections = serde_json::json!({
            "disabled": entry,
            "program": program.to_string_lossy(),
        });
        let names = vec![format!(
            "{} {} {}",
            entry.mechanism, entry.location, entry.name
        )];
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

/// A task's path as both stores name it (`\Vendor\Task`, any case).
fn task_key(name: &str) -> String {
    format!("\\{}", name.trim_start_matches('\\')).to_lowercase()
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
    let identity = identity_of(&m);
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
fn identity_of(m: &std::fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    Identity {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_sec: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    }
}
