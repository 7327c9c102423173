//! A case: created, added to, handed over, sealed, always through a custody
//! entry, and crash-safe at every step.
//!
//! Every command that changes a case holds `.takedown/lock` and announces
//! itself in `.takedown/journal.json` (the operation and the custody entry
//! it will write) before it changes anything. `add` then runs these steps,
//! each a fault point `evidence-add:<step>` for the kill tests:
//!
//! 1. `journaled`: the journal is durable.
//! 2. `copied`: every item copied and hashed into `.takedown/staging/<seq>`,
//!    and made durable (one sync of the file system).
//! 3. `items-written`: `items/<seq>.jsonl`, the items' records, written
//!    atomically.
//! 4. `in-place`: the staging directory renamed to `data/<seq>` (one
//!    rename: the items appear together).
//! 5. `logged`: the custody entry written (signature first, then the entry
//!    by one rename). **This is the commit point.**
//! 6. `manifests`: payload manifests, `hashdeep.txt`, `bag-info.txt` and
//!    tag manifests derived again from the log.
//! 7. `stamped`: the RFC 3161 timestamp over the tag manifest (when the
//!    case has a TSA), and the tag manifests again.
//! 8. `done`: the journal is removed.
//!
//! The next command that opens the case finds the journal and finishes the
//! operation if its entry is in the log (steps 6-8 again), or rolls it back
//! if not (the staging copies, `data/<seq>` and `items/<seq>.jsonl`
//! removed): a kill leaves the case without the items, or with them whole
//! and logged, never with a half copy counted as evidence. Nothing is
//! rolled back without a journal: files the log does not explain are for
//! `verify` to report, never for takedown to delete.

use crate::acquire::{self, Acquired, Request};
use crate::bagit::{self, BagInfo};
use crate::custody::{self, Draft, Entry, Event};
use crate::keys::Signer;
use crate::{
    DATA_DIR, Digests, Error, ITEMS_DIR, ItemRecord, STATE_DIR, TIMESTAMPS_DIR, seq_name,
    write_atomic,
};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;
use takedown_vault::fault;

/// Format of `.takedown/case.json`.
const SETTINGS_FORMAT: &str = "takedown-case/1";
/// How long a TSA may take to answer.
const TSA_TIMEOUT: Duration = Duration::from_secs(30);
/// Skipped paths named in a custody entry, at most (all of them go to the
/// command's output).
const SKIPPED_IN_ENTRY: usize = 100;

/// A case's settings, kept in `.takedown/case.json` (what `bag-info.txt`
/// says, and where timestamps come from).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    /// [`SETTINGS_FORMAT`].
    pub format: String,
    /// The case identifier.
    pub case_id: String,
    /// Who opened the case.
    pub examiner: String,
    /// Their organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// A description of the case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the case was opened (RFC 3339).
    pub created: String,
    /// The time-stamping authority, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsa: Option<String>,
    /// Whether the case is sealed (no more items).
    #[serde(default)]
    pub sealed: bool,
}

/// What `init` needs.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// The case identifier.
    pub case_id: String,
    /// The examiner's name.
    pub examiner: String,
    /// Their organisation.
    pub organisation: Option<String>,
    /// A description of the case.
    pub description: Option<String>,
    /// The TSA's URL and its CA certificate file (PEM).
    pub tsa: Option<(String, PathBuf)>,
    /// Why the case is opened.
    pub reason: Option<String>,
}

/// The journal: what a command is about to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Journal {
    op: String,
    seq: u64,
    started: String,
}

/// An open case, locked for this process.
pub struct Case {
    dir: PathBuf,
    settings: Settings,
    _lock: File,
    recovered: Vec<String>,
}

/// What an `add` did.
#[derive(Debug, Default)]
pub struct AddReport {
    /// The custody entry, when anything was preserved.
    pub entry: Option<Entry>,
    /// The acquisition: records, per-request outcomes, skipped parts.
    pub acquired: Acquired,
    /// A timestamp that could not be obtained, and why.
    pub stamp_error: Option<String>,
}

impl Case {
    /// Creates a case directory (which must not exist, or be empty) and
    /// writes its first custody entry. The case appears whole under its
    /// name or not at all: it is built beside it and renamed.
    pub fn init(dir: &Path, signer: &Signer, opts: &InitOptions) -> Result<Case, Error> {
        if opts.case_id.trim().is_empty() || opts.examiner.trim().is_empty() {
            return Err(Error::Refused(
                "a case needs an id (--case-id) and an examiner (--examiner)".into(),
            ));
        }
        match std::fs::read_dir(dir) {
            Ok(mut it) => {
                if it.next().is_some() {
                    return Err(Error::Refused(format!(
                        "{} exists and is not empty; a case is created in a new directory",
                        dir.display()
                    )));
                }
                std::fs::remove_dir(dir)
                    .map_err(|e| Error::io(format!("cannot replace {}", dir.display()), &e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("cannot use {}", dir.display()), &e)),
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dir
            .file_name()
            .ok_or_else(|| Error::Refused(format!("{} does not name a directory", dir.display())))?
            .to_string_lossy()
            .into_owned();
        let tmp = parent.join(format!(".{name}.init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        // The case holds copies of other users' files (a 0600 key, a 0640
        // log): only its owner may enter it.
        create_private_dir(&tmp)?;
        let result = Self::init_in(&tmp, signer, opts);
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, dir).map_err(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            Error::io(format!("cannot create {}", dir.display()), &e)
        })?;
        let _ = crate::sync_dir(&parent);
        Case::open(dir)
    }

    fn init_in(tmp: &Path, signer: &Signer, opts: &InitOptions) -> Result<(), Error> {
        let mkdir = |p: &Path| {
            std::fs::create_dir_all(p)
                .map_err(|e| Error::io(format!("cannot create {}", p.display()), &e))
        };
        for sub in [STATE_DIR, DATA_DIR, crate::CUSTODY_DIR, ITEMS_DIR] {
            mkdir(&tmp.join(sub))?;
        }
        let settings = Settings {
            format: SETTINGS_FORMAT.into(),
            case_id: opts.case_id.clone(),
            examiner: opts.examiner.clone(),
            organisation: opts.organisation.clone(),
            description: opts.description.clone(),
            created: crate::now_rfc3339(),
            tsa: opts.tsa.as_ref().map(|(url, _)| url.clone()),
            sealed: false,
        };
        if let Some((_, ca)) = &opts.tsa {
            let pem = std::fs::read(ca).map_err(|e| {
                Error::io(format!("cannot read the TSA CA file {}", ca.display()), &e)
            })?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(Error::Invalid(format!(
                    "{}: not a PEM certificate file",
                    ca.display()
                )));
            }
            mkdir(&tmp.join(TIMESTAMPS_DIR))?;
            write_atomic(&tmp.join(TIMESTAMPS_DIR).join("tsa-ca.pem"), &pem)?;
        }
        write_settings(tmp, &settings)?;
        bagit::write_bagit_txt(tmp)?;
        let draft = Draft {
            event: Event::Init,
            actor: opts.examiner.clone(),
            what: serde_json::json!({
                "case_id": opts.case_id,
                "examiner": opts.examiner,
                "organisation": opts.organisation,
                "description": opts.description,
                "key_fingerprint": signer.fingerprint(),
                "tsa": settings.tsa.as_deref().map(crate::tsa::redact),
            }),
            why: opts.reason.clone(),
        };
        custody::append(tmp, signer, &opts.case_id, draft)?;
        derive(tmp, &settings)?;
        if let Some(url) = &settings.tsa {
            stamp(tmp, 1, url)?;
            bagit::write_tag_manifests(tmp)?;
        }
        Ok(())
    }

    /// Opens a case for changes: takes its lock (waiting for another
    /// takedown working on it), and finishes or rolls back whatever a
    /// killed command left (see [`Case::recovered`]).
    pub fn open(dir: &Path) -> Result<Case, Error> {
        let settings = read_settings(dir)?;
        let lock_path = dir.join(STATE_DIR).join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(format!("cannot open {}", lock_path.display()), &e))?;
        lock.lock()
            .map_err(|e| Error::io(format!("cannot lock {}", lock_path.display()), &e))?;
        let mut case = Case {
            dir: dir.to_path_buf(),
            settings,
            _lock: lock,
            recovered: Vec::new(),
        };
        case.recover()?;
        Ok(case)
    }

    /// What opening the case found and repaired, in plain words.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    /// The case directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The case's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether a kill left something to repair in `dir` (read-only check,
    /// for `verify`, which never changes a case).
    pub fn interrupted(dir: &Path) -> Option<String> {
        let j = std::fs::read(dir.join(STATE_DIR).join("journal.json")).ok()?;
        let j: Journal = serde_json::from_slice(&j).ok()?;
        Some(format!(
            "an interrupted {} (entry {}, started {}) awaits recovery; any evidence command that changes the case (e.g. `takedown evidence log`) finishes or rolls it back",
            j.op,
            seq_name(j.seq),
            j.started
        ))
    }

    fn recover(&mut self) -> Result<(), Error> {
        let jpath = self.dir.join(STATE_DIR).join("journal.json");
        let mut notes = custody::recover(&self.dir)?;
        let staging_root = self.dir.join(STATE_DIR).join("staging");
        let journal = match std::fs::read(&jpath) {
            Ok(b) => Some(serde_json::from_slice::<Journal>(&b).map_err(|e| {
                Error::Invalid(format!("{}: unreadable journal: {e}", jpath.display()))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(format!("cannot read {}", jpath.display()), &e)),
        };
        if let Some(j) = journal {
            let logged = custody::last(&self.dir)?.is_some_and(|(e, _)| e.seq >= j.seq);
            let name = seq_name(j.seq);
            if logged {
                if j.op == "seal" && !self.settings.sealed {
                    // The seal entry is in the log: the case is closed, even
                    // though its archive may never have been written.
                    self.settings.sealed = true;
                    write_settings(&self.dir, &self.settings)?;
                    notes.push(format!(
                        "the interrupted seal (entry {name}) closed the case; its archive may be missing or incomplete: write another with `takedown evidence export`"
                    ));
                }
                derive(&self.dir, &self.settings)?;
                let mut note = format!(
                    "an interrupted {} (entry {name}) had been logged; its manifests were finished",
                    j.op
                );
                if let Some(url) = self.settings.tsa.clone()
                    && !self
                        .dir
                        .join(TIMESTAMPS_DIR)
                        .join(format!("{name}.tsr"))
                        .exists()
                {
                    match stamp(&self.dir, j.seq, &url) {
                        Ok(()) => note.push_str(" and timestamped"),
                        Err(e) => note.push_str(&format!(" (no timestamp: {e})")),
                    }
                    bagit::write_tag_manifests(&self.dir)?;
                }
                notes.push(note);
            } else {
                let mut removed = 0usize;
                for p in [
                    self.dir.join(DATA_DIR).join(&name),
                    staging_root.join(&name),
                ] {
                    if p.exists() {
                        removed += count_files(&p);
                        std::fs::remove_dir_all(&p)
                            .map_err(|e| Error::io(format!("cannot remove {}", p.display()), &e))?;
                    }
                }
                let items = self.dir.join(ITEMS_DIR).join(format!("{name}.jsonl"));
                if items.exists() {
                    std::fs::remove_file(&items)
                        .map_err(|e| Error::io(format!("cannot remove {}", items.display()), &e))?;
                }
                derive(&self.dir, &self.settings)?;
                notes.push(format!(
                    "an interrupted {} (entry {name}) had not been logged and was rolled back ({removed} partial copies removed; the sources were never changed)",
                    j.op
                ));
            }
            std::fs::remove_file(&jpath)
                .map_err(|e| Error::io(format!("cannot remove {}", jpath.display()), &e))?;
            let _ = crate::sync_dir(&self.dir.join(STATE_DIR));
        }
        // Staging left without a journal (killed before it was written, or
        // after it was removed): never evidence.
        if let Ok(rd) = std::fs::read_dir(&staging_root) {
            for e in rd.flatten() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        self.recovered = notes;
        Ok(())
    }

    fn begin(&self, op: &str, seq: u64) -> Result<(), Error> {
        let j = Journal {
            op: op.into(),
            seq,
            started: crate::now_rfc3339(),
        };
        let bytes = serde_json::to_vec(&j).map_err(|e| Error::Invalid(e.to_string()))?;
        write_atomic(&self.dir.join(STATE_DIR).join("journal.json"), &bytes)
    }

    fn end(&self) -> Result<(), Error> {
        let p = self.dir.join(STATE_DIR).join("journal.json");
        std::fs::remove_file(&p)
            .map_err(|e| Error::io(format!("cannot remove {}", p.display()), &e))?;
        let _ = crate::sync_dir(&self.dir.join(STATE_DIR));
        Ok(())
    }

    fn next_seq(&self) -> Result<u64, Error> {
        Ok(custody::last(&self.dir)?.map_or(1, |(e, _)| e.seq + 1))
    }

    /// Preserves `requests` as one custody entry. Parts that cannot be
    /// preserved are reported in the result (and named in the entry); an
    /// add that preserves nothing writes no entry.
    pub fn add(
        &mut self,
        signer: &Signer,
        requests: &[Request],
        reason: Option<String>,
        threads: usize,
    ) -> Result<AddReport, Error> {
        if self.settings.sealed {
            return Err(Error::Refused(format!(
                "case {} is sealed; nothing more can be added (open a new case)",
                self.settings.case_id
            )));
        }
        check_holder(&self.dir, signer)?;
        let seq = self.next_seq()?;
        fault::point("evidence-add:start");
        self.begin("add", seq)?;
        let result = self.add_journaled(signer, requests, reason, threads, seq);
        self.settle(result)
    }

    /// `add` once the journal is written.
    fn add_journaled(
        &mut self,
        signer: &Signer,
        requests: &[Request],
        reason: Option<String>,
        threads: usize,
        seq: u64,
    ) -> Result<AddReport, Error> {
        let name = seq_name(seq);
        fault::point("evidence-add:journaled");
        let staging = self.dir.join(STATE_DIR).join("staging").join(&name);
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging)
            .map_err(|e| Error::io(format!("cannot create {}", staging.display()), &e))?;
        let prefix = format!("{DATA_DIR}/{name}");
        let opts = acquire::Options {
            threads,
            case: case_identity(&self.dir),
        };
        let acquired = while_flushing(&staging, || {
            acquire::acquire(requests, &staging, &prefix, &opts)
        });
        if acquired.records.is_empty() {
            let _ = std::fs::remove_dir_all(&staging);
            self.end()?;
            return Ok(AddReport {
                acquired,
                ..AddReport::default()
            });
        }
        let synced = std::time::Instant::now();
        sync_tree(&staging)?;
        tracing::debug!(
            "add: copies synced in {:.2}s",
            synced.elapsed().as_secs_f64()
        );
        fault::point("evidence-add:copied");
        let items_rel = format!("{ITEMS_DIR}/{name}.jsonl");
        let lines = items_jsonl(&acquired.records)?;
        write_atomic(&self.dir.join(&items_rel), &lines)?;
        fault::point("evidence-add:items-written");
        let dest = self.dir.join(DATA_DIR).join(&name);
        std::fs::rename(&staging, &dest).map_err(|e| {
            Error::io(
                format!("cannot move the copies into {}", dest.display()),
                &e,
            )
        })?;
        let _ = crate::sync_dir(&self.dir.join(DATA_DIR));
        fault::point("evidence-add:in-place");
        let bytes: u64 = acquired.records.iter().map(|r| r.digests.size).sum();
        let skipped: Vec<serde_json::Value> = acquired
            .skipped
            .iter()
            .take(SKIPPED_IN_ENTRY)
            .map(|s| serde_json::json!({"source": s.source, "reason": s.reason}))
            .collect();
        let mut kinds = std::collections::BTreeMap::<String, u64>::new();
        for r in &acquired.records {
            let k = serde_json::to_value(r.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            *kinds.entry(k).or_default() += 1;
        }
        let draft = Draft {
            event: Event::Add,
            actor: self.settings_actor(signer),
            what: serde_json::json!({
                "items": acquired.records.len(),
                "bytes": bytes,
                "kinds": kinds,
                "items_file": items_rel,
                "items_sha256": custody::sha256_hex(&lines),
                "payload": prefix,
                "skipped": acquired.skipped.len(),
                "skipped_first": skipped,
                "tsa": self.settings.tsa.as_deref().map(crate::tsa::redact),
            }),
            why: reason,
        };
        let entry = custody::append(&self.dir, signer, &self.settings.case_id, draft)?;
        fault::point("evidence-add:logged");
        let stamp_error = self.finish(seq, "evidence-add")?;
        Ok(AddReport {
            entry: Some(entry),
            acquired,
            stamp_error,
        })
    }

    /// What a command that wrote the journal returns: on an error, the
    /// operation is finished or rolled back at once (as the next command
    /// would), so that the case goes on (a scan's next batch) instead of
    /// tripping over the leftovers; what that found is kept for
    /// [`Case::recovered`].
    fn settle<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        if result.is_err() {
            let before = std::mem::take(&mut self.recovered);
            match self.recover() {
                Ok(()) => {
                    let mut notes = before;
                    notes.append(&mut self.recovered);
                    self.recovered = notes;
                }
                Err(e) => tracing::warn!("{}: cannot recover: {e}", self.dir.display()),
            }
        }
        result
    }

    /// The actor of an entry: the holder's name as the log knows it.
    fn settings_actor(&self, _signer: &Signer) -> String {
        custody::read_log(&self.dir)
            .ok()
            .and_then(|log| custody::holder(&log))
            .map(|h| h.name)
            .unwrap_or_else(|| self.settings.examiner.clone())
    }

    /// Steps 6-8 of every change: derived files, timestamp, journal gone.
    fn finish(&self, seq: u64, op: &str) -> Result<Option<String>, Error> {
        let derived = std::time::Instant::now();
        derive(&self.dir, &self.settings)?;
        tracing::debug!(
            "{op}: manifests derived in {:.2}s",
            derived.elapsed().as_secs_f64()
        );
        fault::point(&format!("{op}:manifests"));
        let mut stamp_error = None;
        if let Some(url) = &self.settings.tsa {
            if let Err(e) = stamp(&self.dir, seq, url) {
                stamp_error = Some(e.to_string());
            }
            bagit::write_tag_manifests(&self.dir)?;
        }
        fault::point(&format!("{op}:stamped"));
        self.end()?;
        fault::point(&format!("{op}:done"));
        Ok(stamp_error)
    }

    /// Records a hand-over of the case to `to` (and, with `to_key`, the
    /// key that signs from now on).
    pub fn transfer(
        &mut self,
        signer: &Signer,
        to: &str,
        to_key: Option<String>,
        reason: Option<String>,
    ) -> Result<(Entry, Option<String>), Error> {
        if to.trim().is_empty() {
            return Err(Error::Refused(
                "a transfer names its recipient (--to)".into(),
            ));
        }
        if let Some(k) = &to_key {
            crate::keys::fingerprint_of(k)
                .map_err(|e| Error::Invalid(format!("the recipient's key: {e}")))?;
        }
        self.simple_entry(
            signer,
            "transfer",
            Event::Transfer,
            serde_json::json!({"to": to, "to_key": to_key, "tsa": self.settings.tsa.as_deref().map(crate::tsa::redact)}),
            reason,
        )
    }

    /// Records a verification of the case and its result.
    pub fn record_verify(
        &mut self,
        signer: &Signer,
        result: serde_json::Value,
        reason: Option<String>,
    ) -> Result<(Entry, Option<String>), Error> {
        self.simple_entry(signer, "verify", Event::Verify, result, reason)
    }

    fn simple_entry(
        &mut self,
        signer: &Signer,
        op: &str,
        event: Event,
        what: serde_json::Value,
        why: Option<String>,
    ) -> Result<(Entry, Option<String>), Error> {
        check_holder(&self.dir, signer)?;
        let seq = self.next_seq()?;
        self.begin(op, seq)?;
        let draft = Draft {
            event,
            actor: self.settings_actor(signer),
            what,
            why,
        };
        let result =
            custody::append(&self.dir, signer, &self.settings.case_id, draft).and_then(|entry| {
                fault::point(&format!("evidence-{op}:logged"));
                let stamp_error = self.finish(seq, &format!("evidence-{op}"))?;
                Ok((entry, stamp_error))
            });
        self.settle(result)
    }

    /// Writes the case as one archive (`seal`: and closes it to new
    /// items; `export`: an interim copy). The entry is written first, so
    /// the archive holds the entry that describes it; its SHA-256 is
    /// printed for the examiner's own records (it cannot be inside itself).
    pub fn write_package(
        &mut self,
        signer: &Signer,
        out: &Path,
        recipients: &[String],
        seal: bool,
        reason: Option<String>,
    ) -> Result<PackageReport, Error> {
        check_holder(&self.dir, signer)?;
        let (op, event) = if seal {
            ("seal", Event::Seal)
        } else {
            ("export", Event::Export)
        };
        // Everything that can be refused is refused before the journal
        // and the entry: a mistyped recipient or a missing directory must
        // not leave a logged seal without its archive.
        crate::seal::parse_recipients(recipients)?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let parent = std::fs::canonicalize(&parent)
            .map_err(|e| Error::io(format!("cannot write {}", out.display()), &e))?;
        if let Ok(case) = std::fs::canonicalize(&self.dir)
            && parent.starts_with(&case)
        {
            return Err(Error::Refused(format!(
                "{} is inside the case; write the archive elsewhere",
                out.display()
            )));
        }
        let seq = self.next_seq()?;
        self.begin(op, seq)?;
        let result = self.package_journaled(signer, out, recipients, seal, reason, seq, op, event);
        self.settle(result)
    }

    /// `write_package` once the journal is written.
    #[allow(clippy::too_many_arguments)]
    fn package_journaled(
        &mut self,
        signer: &Signer,
        out: &Path,
        recipients: &[String],
        seal: bool,
        reason: Option<String>,
        seq: u64,
        op: &str,
        event: Event,
    ) -> Result<PackageReport, Error> {
        let bag_name = bag_name(&self.settings.case_id);
        let draft = Draft {
            event,
            actor: self.settings_actor(signer),
            what: serde_json::json!({
                "archive": out.file_name().map(|n| n.to_string_lossy().into_owned()),
                "bag": bag_name,
                "encrypted_to": recipients,
                "tsa": self.settings.tsa.as_deref().map(crate::tsa::redact),
            }),
            why: reason,
        };
        let entry = custody::append(&self.dir, signer, &self.settings.case_id, draft)?;
        fault::point(&format!("evidence-{op}:logged"));
        if seal {
            self.settings.sealed = true;
            write_settings(&self.dir, &self.settings)?;
        }
        derive(&self.dir, &self.settings)?;
        let mut stamp_error = None;
        if let Some(url) = &self.settings.tsa
            && let Err(e) = stamp(&self.dir, seq, url)
        {
            stamp_error = Some(e.to_string());
        }
        // VERIFY.txt is a tag file: written before the tag manifests that
        // cover it.
        let log = custody::read_log(&self.dir)?;
        let info = crate::seal::VerifyInfo {
            case_id: self.settings.case_id.clone(),
            bag_name: bag_name.clone(),
            principals: custody::authorised(&log)
                .into_iter()
                .filter_map(|a| a.principals.into_iter().next())
                .collect(),
            entries: log.iter().map(|e| seq_name(e.seq)).collect(),
            stamps: stamps_present(&self.dir),
            encrypted: !recipients.is_empty(),
            key_fingerprints: custody::authorised(&log)
                .iter()
                .filter_map(|a| crate::keys::fingerprint_of(&a.key).ok())
                .collect(),
        };
        write_atomic(
            &self.dir.join("VERIFY.txt"),
            crate::seal::verify_txt(&info).as_bytes(),
        )?;
        bagit::write_tag_manifests(&self.dir)?;
        let archive = crate::seal::write_archive(&self.dir, &bag_name, out, recipients)?;
        fault::point(&format!("evidence-{op}:written"));
        self.end()?;
        Ok(PackageReport {
            entry,
            archive,
            stamp_error,
        })
    }
}

/// What `seal` or `export` did.
#[derive(Debug)]
pub struct PackageReport {
    /// The custody entry.
    pub entry: Entry,
    /// The archive written.
    pub archive: crate::seal::ArchiveInfo,
    /// A timestamp that could not be obtained, and why.
    pub stamp_error: Option<String>,
}

/// The directory name of the bag inside an archive: the case id made safe
/// for a file name.
pub fn bag_name(case_id: &str) -> String {
    let s: String = case_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.trim_matches('.') {
        "" => "case".into(),
        t => t.to_string(),
    }
}

/// Refuses, before anything is copied, a key that is not the holder's:
/// the custody entry would be refused at the end anyway.
fn check_holder(dir: &Path, signer: &Signer) -> Result<(), Error> {
    let log = custody::read_log(dir)?;
    match custody::holder(&log) {
        Some(h) if crate::keys::same_key(&h.key, &signer.public_openssh()) => Ok(()),
        Some(h) => Err(Error::Refused(format!(
            "the key {} is not the key of the case's holder {} ({}); only the holder signs custody entries (a transfer with --to-key hands the case over)",
            signer.fingerprint(),
            h.name,
            crate::keys::fingerprint_of(&h.key).unwrap_or_default()
        ))),
        None => Err(Error::Invalid(format!(
            "{}: the custody log does not begin with an init entry",
            dir.display()
        ))),
    }
}

/// Creates `dir` readable by its owner alone.
fn create_private_dir(dir: &Path) -> Result<(), Error> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), &e))
}

/// The case directory's device, inode and canonical path.
fn case_identity(dir: &Path) -> Option<(u64, u64, PathBuf)> {
    let canonical = std::fs::canonicalize(dir).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&canonical).ok()?;
        Some((m.dev(), m.ino(), canonical))
    }
    #[cfg(not(unix))]
    {
        // The volume serial number and file index, as the acquisition's
        // walk records them for each directory.
        use takedown_vault::fsops;
        let loc = fsops::locate(&canonical).ok()?;
        let st = fsops::stat_at(&loc.dir, &loc.name).ok()??;
        Some((st.dev, st.ino, canonical))
    }
}

/// Reads a case's settings.
pub fn read_settings(dir: &Path) -> Result<Settings, Error> {
    let p = dir.join(STATE_DIR).join("case.json");
    let bytes = std::fs::read(&p).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Refused(format!(
                "{} is not a takedown case (no {STATE_DIR}/case.json); create one with `takedown evidence init`",
                dir.display()
            ))
        } else {
            Error::io(format!("cannot read {}", p.display()), &e)
        }
    })?;
    let s: Settings = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
    if s.format != SETTINGS_FORMAT {
        return Err(Error::Invalid(format!(
            "{}: format {:?}, expected {SETTINGS_FORMAT:?}",
            p.display(),
            s.format
        )));
    }
    Ok(s)
}

fn write_settings(dir: &Path, s: &Settings) -> Result<(), Error> {
    let bytes = serde_json::to_vec_pretty(s).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(&dir.join(STATE_DIR).join("case.json"), &bytes)
}

/// Every item the log accounts for: the records of `items/<seq>.jsonl` of
/// every add entry, in log order.
pub fn logged_items(dir: &Path) -> Result<Vec<ItemRecord>, Error> {
    let mut out = Vec::new();
    for entry in custody::read_log(dir)? {
        if entry.event != Event::Add {
            continue;
        }
        let p = dir
            .join(ITEMS_DIR)
            .join(format!("{}.jsonl", seq_name(entry.seq)));
        let bytes =
            std::fs::read(&p).map_err(|e| Error::io(format!("cannot read {}", p.display()), &e))?;
        out.extend(parse_items(&p, &bytes)?);
    }
    Ok(out)
}

/// Item records per piece of work when they are written or read side by
/// side (a large acquisition has tens of thousands).
const RECORDS_PER_PIECE: usize = 1024;

/// The item records of an add as `items/<seq>.jsonl` holds them: one JSON
/// object a line.
fn items_jsonl(records: &[ItemRecord]) -> Result<Vec<u8>, Error> {
    let pieces: Vec<&[ItemRecord]> = records.chunks(RECORDS_PER_PIECE).collect();
    let mut out = Vec::new();
    for piece in crate::par_map(&pieces, |piece| {
        let mut lines = Vec::new();
        for r in *piece {
            serde_json::to_writer(&mut lines, r).map_err(|e| Error::Invalid(e.to_string()))?;
            lines.push(b'\n');
        }
        Ok::<_, Error>(lines)
    }) {
        out.extend_from_slice(&piece?);
    }
    Ok(out)
}

/// The records of `items/<seq>.jsonl` (read from `p`), in order.
fn parse_items(p: &Path, bytes: &[u8]) -> Result<Vec<ItemRecord>, Error> {
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .collect();
    let pieces: Vec<&[(usize, &[u8])]> = lines.chunks(RECORDS_PER_PIECE).collect();
    let mut out = Vec::with_capacity(lines.len());
    for piece in crate::par_map(&pieces, |piece| {
        piece
            .iter()
            .map(|(n, line)| {
                serde_json::from_slice::<ItemRecord>(line)
                    .map_err(|e| Error::Invalid(format!("{} line {}: {e}", p.display(), n + 1)))
            })
            .collect::<Result<Vec<_>, Error>>()
    }) {
        out.extend(piece?);
    }
    Ok(out)
}

/// Derives the payload manifests, `hashdeep.txt`, `bag-info.txt` and the
/// tag manifests from the log.
fn derive(dir: &Path, settings: &Settings) -> Result<(), Error> {
    let items = logged_items(dir)?;
    let payload: Vec<(String, Digests)> = items
        .iter()
        .map(|r| (r.path.clone(), r.digests.clone()))
        .collect();
    let bytes = payload.iter().map(|(_, d)| d.size).sum();
    bagit::write_payload_manifests(dir, &payload)?;
    let info = BagInfo {
        case_id: settings.case_id.clone(),
        examiner: settings.examiner.clone(),
        organisation: settings.organisation.clone(),
        description: settings.description.clone(),
        created: settings.created.clone(),
        extra: if settings.sealed {
            vec![("Case-Status".into(), "sealed".into())]
        } else {
            Vec::new()
        },
    };
    bagit::write_bag_info(dir, &info, bytes, payload.len() as u64)?;
    bagit::write_tag_manifests(dir)
}

/// Gets a timestamp over the current tag manifest for entry `seq`.
fn stamp(dir: &Path, seq: u64, url: &str) -> Result<(), Error> {
    let name = seq_name(seq);
    let tm = dir.join("tagmanifest-sha256.txt");
    let data =
        std::fs::read(&tm).map_err(|e| Error::io(format!("cannot read {}", tm.display()), &e))?;
    let tsr = crate::tsa::request(url, &data, TSA_TIMEOUT)?;
    let ts = dir.join(TIMESTAMPS_DIR);
    std::fs::create_dir_all(&ts)
        .map_err(|e| Error::io(format!("cannot create {}", ts.display()), &e))?;
    // The covered copy first: a token never exists without what it covers.
    write_atomic(&ts.join(format!("{name}.tagmanifest-sha256.txt")), &data)?;
    write_atomic(&ts.join(format!("{name}.tsr")), &tsr)?;
    if let Ok(pem) = crate::tsa::certificates_pem(&tsr)
        && !pem.is_empty()
    {
        write_atomic(&ts.join("tsa-chain.pem"), pem.as_bytes())?;
    }
    Ok(())
}

fn stamps_present(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join(TIMESTAMPS_DIR))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".tsr"))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// How often [`while_flushing`] syncs.
#[cfg(unix)]
const FLUSH_PERIOD: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `f` (the copying) while another thread writes what it copies to
/// disk, so that the disk works while the CPUs copy and hash, and the sync
/// that makes the copies durable afterwards has little left to do: the
/// loop syncs the file system (waiting for its writes, which costs no CPU)
/// until `f` returns. Measured on the bench corpus, this takes the final
/// sync from about 0.6 s to nothing, and costs the copying less than
/// starting the writeback of each file from the copying threads did.
/// Every sync also commits the file system's journal, during which the
/// copying threads' file creations wait: a sync every 250 ms made `add`
/// about 7% faster there than one every 20 ms (and than none until the
/// end, which leaves the disk idle while the CPUs work).
fn while_flushing<T>(dir: &Path, f: impl FnOnce() -> T) -> T {
    #[cfg(unix)]
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    // Errors are the final sync's to report.
                    let _ = sync_tree(dir);
                    std::thread::sleep(FLUSH_PERIOD);
                }
            });
            // Set on the way out even if `f` panics: the scope joins the
            // loop before it returns, and would otherwise wait forever.
            struct Stop<'a>(&'a AtomicBool);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Relaxed);
                }
            }
            let _stop = Stop(&done);
            f()
        })
    }
    #[cfg(not(unix))]
    {
        // Without syncfs, a sync walks every file: once, at the end.
        let _ = dir;
        f()
    }
}

/// Makes everything under `dir` durable.
fn sync_tree(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        crate::sys::sync_all_under(dir)
            .map_err(|e| Error::io(format!("cannot sync {}", dir.display()), &e))
    }
    #[cfg(not(unix))]
    {
        fn walk(p: &Path) -> std::io::Result<()> {
            for e in std::fs::read_dir(p)? {
                let e = e?;
                if e.file_type()?.is_dir() {
                    walk(&e.path())?;
                } else {
                    File::open(e.path())?.sync_all()?;
                }
            }
            Ok(())
        }
        walk(dir).map_err(|e| Error::io(format!("cannot sync {}", dir.display()), &e))
    }
}

fn count_files(p: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}
