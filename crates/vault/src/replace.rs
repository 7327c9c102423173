//! Replacing a file's content restorably: how an autostart entry is
//! disabled in place (a registry hive with a value removed, a crontab with
//! a line commented out). The original content becomes a vault item of
//! kind [`item::Kind::Replaced`] before the new content takes the file's
//! name, and [`Vault::restore`] puts it back over that content only.
//!
//! One batch runs under the vault lock through these steps (each a named
//! [`fault`] point, `replace:<step>`):
//!
//! 1. `start`, then the checks: as quarantine's ([`remove::prepare`]):
//!    the file is opened through its directory handle without following
//!    links, must be a regular file with the identity the caller read,
//!    of the user running takedown (unless root), on a writable file
//!    system in a directory takedown may write. New content equal to the
//!    old is refused: recovery tells the two apart by their SHA-256.
//! 2. `journaled`: a [`Record::Replace`] per file, durably, naming the
//!    item, both SHA-256 and the temporary name.
//! 3. `written`, `synced`, `renamed`, `committed`, `commits-synced`: the
//!    original is stored as quarantine stores a file (encrypted while it
//!    is hashed; it must hash to [`Replacement::sha256`] and not change
//!    meanwhile); after `renamed` its item exists, whole.
//! 4. `staged`: the new content is written to `.takedown-replace-<random>`
//!    in the file's directory (created with `O_EXCL`), given the
//!    original's mode, owner (as root; its group when permitted) and
//!    access and modification times, and `fsync`ed.
//! 5. `swapped`: the name must still point to the inode that was read,
//!    unchanged (size, modification and status change times); then the
//!    temporary is renamed over it (atomic: the name shows the old or the
//!    new content, whole) and the directory is `fsync`ed.
//! 6. `done`: the journal is emptied.
//!
//! A failure after step 3 (the temporary cannot be written, the file
//! changed) removes the temporary and the item again: nothing was replaced.
//!
//! Recovery of a step without `done` (see `recover.rs`) never writes a
//! file outside the vault: it removes the temporary, then keeps the item
//! if the file holds the new content (the replacement happened), removes
//! the item if the file still holds the original (nothing was replaced:
//! the change is rolled back, not finished; the next run decides again),
//! and keeps the item if the file holds anything else or is gone (the
//! original stays restorable). So after any kill the file holds the
//! original with no item, or the new content with a whole item.

use crate::fsops::{self, Identity, reason};
use crate::item;
use crate::journal::Record;
use crate::remove::{self, DirCache, Outcome, Prepared, Request};
use crate::{Error, LogEntry, Run, Vault, b64, fault};
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A file whose content is to be replaced, as the caller read it.
#[derive(Clone, Debug)]
pub struct Replacement {
    /// The file to replace.
    pub path: PathBuf,
    /// What `fstat` said when its content was read.
    pub identity: Identity,
    /// SHA-256 of the content that was read (the original).
    pub sha256: String,
    /// The new content.
    pub content: Vec<u8>,
    /// What was disabled and why (kept in the item's metadata).
    pub detections: serde_json::Value,
    /// Names for the run log.
    pub names: Vec<String>,
    /// The vault ID of the item this change goes with (the detected
    /// program), if any.
    pub linked: Option<String>,
}

impl Replacement {
    /// The original's part, as quarantine takes it.
    fn request(&self) -> Request {
        Request {
            path: self.path.clone(),
            identity: self.identity,
            sha256: self.sha256.clone(),
            detections: self.detections.clone(),
            names: self.names.clone(),
            linked: self.linked.clone(),
        }
    }
}

/// Prefix of the temporary that holds the new content.
pub(crate) const TEMP_PREFIX: &str = ".takedown-replace-";

/// A fresh unguessable temporary name.
fn temp_name() -> io::Result<String> {
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(format!("{TEMP_PREFIX}{}", hex::encode(rnd)))
}

impl Vault {
    /// Replaces the content of each requested file, keeping the original
    /// as a vault item (of kind [`item::Kind::Replaced`]). Every request
    /// gets an outcome ([`Outcome::Done`] names the item holding the
    /// original); the run log records them all.
    pub fn replace(&mut self, run: &Run, reqs: &[Replacement]) -> Vec<Outcome> {
        let mut out: Vec<Option<Outcome>> = vec![None; reqs.len()];
        let result = self.replace_locked(run, reqs, &mut out);
        let out: Vec<Outcome> = out
            .into_iter()
            .map(|o| match (o, &result) {
                (Some(o), _) => o,
                (None, Err(e)) => Outcome::Failed(format!("{e}; left unchanged")),
                (None, Ok(())) => Outcome::Failed("not processed; left unchanged".into()),
            })
            .collect();
        let entries: Vec<LogEntry> = reqs
            .iter()
            .zip(&out)
            .map(|(r, o)| {
                let (status, vault_id, reason) = match o {
                    Outcome::Done { vault_id, note } => ("done", vault_id.clone(), note.clone()),
                    Outcome::Refused(why) => ("refused", None, Some(why.clone())),
                    Outcome::Failed(why) => ("failed", None, Some(why.clone())),
                };
                LogEntry {
                    path: Some(r.path.to_string_lossy().into_owned()),
                    vault_id,
                    sha256: Some(r.sha256.clone()),
                    detections: r.names.clone(),
                    reason,
                    ..LogEntry::new("replace", status)
                }
            })
            .collect();
        if let Err(e) = self.append_log(&run.id, &entries) {
            tracing::warn!("{e}");
        }
        out
    }

    fn replace_locked(
        &mut self,
        run: &Run,
        reqs: &[Replacement],
        out: &mut [Option<Outcome>],
    ) -> Result<(), Error> {
        let _lock = self.lock()?;
        fault::point("replace:start");
        // 1. Check.
        let requests: Vec<Request> = reqs.iter().map(Replacement::request).collect();
        let mut batch: Vec<Prepared> = Vec::new();
        let mut dirs = DirCache::new();
        for (idx, r) in reqs.iter().enumerate() {
            let new = hex::encode(Sha256::digest(&r.content));
            if new == r.sha256 {
                out[idx] = Some(Outcome::Refused(
                    "the new content is the same as the old: nothing to replace".into(),
                ));
                continue;
            }
            match remove::prepare(&requests[idx], &mut dirs) {
                Ok((loc, file, st)) => batch.push(Prepared {
                    idx,
                    loc,
                    file,
                    st,
                    id: item::new_id(),
                    seq: 0,
                    committed: false,
                    replaced: Some(new),
                }),
                Err(o) => out[idx] = Some(o),
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        // 2. Journal.
        let mut temps = Vec::with_capacity(batch.len());
        let mut records = Vec::with_capacity(batch.len());
        for p in &mut batch {
            p.seq = self.journal.seq();
            let tmp = temp_name().map_err(|e| Error::io("cannot name a temporary file", &e))?;
            let r = &reqs[p.idx];
            records.push(Record::Replace {
                seq: p.seq,
                run: run.id.clone(),
                id: p.id.clone(),
                dir: b64(p.loc.dir_path.as_os_str().as_bytes()),
                name: b64(p.loc.name.as_bytes()),
                identity: r.identity,
                sha256: r.sha256.clone(),
                new_sha256: p.replaced.clone().unwrap_or_default(),
                tmp: b64(tmp.as_bytes()),
            });
            temps.push(tmp);
        }
        self.journal
            .append(&records)
            .map_err(|e| Error::io("cannot write the vault journal", &e))?;
        fault::point("replace:journaled");

        // 3. Store the originals.
        self.store_batch("replace", &requests, run, &mut batch, out);

        // 4-5. Stage and swap, file by file.
        let euid = fsops::euid();
        for (p, tmp) in batch.iter().zip(&temps) {
            if out[p.idx].is_some() {
                continue;
            }
            if !p.committed {
                out[p.idx] = Some(Outcome::Failed(
                    "its original could not be stored in the vault; left unchanged".into(),
                ));
                continue;
            }
            let outcome = match swap(p, &reqs[p.idx], OsStr::new(tmp), euid) {
                Ok(note) => Outcome::Done {
                    vault_id: Some(p.id.clone()),
                    note,
                },
                Err(o) => {
                    // Nothing was replaced: the item would be a copy of a
                    // file that is still there.
                    if let Err(e) = self.discard_item(&p.id) {
                        tracing::warn!("cannot remove vault item {}: {}", p.id, reason(&e));
                    }
                    o
                }
            };
            out[p.idx] = Some(outcome);
        }

        // 6. Done.
        self.journal
            .clear()
            .map_err(|e| Error::io("cannot write the vault journal", &e))?;
        fault::point("replace:done");
        Ok(())
    }
}

/// Steps 4 and 5 for one file whose original is stored: the new content
/// under the temporary name `tmp`, then renamed over the file. On an
/// error the temporary is removed and the file is unchanged.
fn swap(p: &Prepared, r: &Replacement, tmp: &OsStr, euid: u32) -> Result<Option<String>, Outcome> {
    let dir = p.loc.dir.as_raw_fd();
    let result = stage(p, r, tmp, euid).and_then(|notes| {
        fault::point("replace:staged");
        let links = still_the_same(p, r)?;
        fsops::rename_at(dir, tmp, dir, &p.loc.name, false).map_err(|e| {
            Outcome::Failed(format!(
                "cannot put its new content in place: {}; left unchanged",
                reason(&e)
            ))
        })?;
        Ok((notes, links))
    });
    let (mut notes, links) = match result {
        Ok(x) => x,
        Err(o) => {
            let _ = fsops::unlink_at(dir, tmp);
            return Err(o);
        }
    };
    if let Err(e) = fsops::fsync(dir) {
        // Replaced all the same; a power loss now may bring the old
        // content back, which recovery then takes as nothing replaced.
        tracing::warn!(
            "cannot sync the directory {}: {}",
            p.loc.dir_path.display(),
            reason(&e)
        );
    }
    fault::point("replace:swapped");
    if links > 1 {
        notes.push(format!(
            "{} other hard link(s) to the file keep the old content",
            links - 1
        ));
    }
    Ok((!notes.is_empty()).then(|| notes.join("; ")))
}

/// Step 4: the new content in `tmp`, with the original's attributes,
/// durably. Returns notes on what could not be kept.
fn stage(p: &Prepared, r: &Replacement, tmp: &OsStr, euid: u32) -> Result<Vec<String>, Outcome> {
    let fail = |e: &io::Error| {
        Outcome::Failed(format!(
            "cannot write its new content beside it: {}; left unchanged",
            reason(e)
        ))
    };
    let mut file = fsops::create_excl(p.loc.dir.as_raw_fd(), tmp).map_err(|e| fail(&e))?;
    file.write_all(&r.content).map_err(|e| fail(&e))?;
    let notes = keep_attributes(&file, &p.st, euid).map_err(|e| {
        Outcome::Failed(format!(
            "cannot give its new content the file's mode and times: {}; left unchanged",
            reason(&e)
        ))
    })?;
    file.sync_all().map_err(|e| fail(&e))?;
    Ok(notes)
}

/// The original's owner (as root), group (when the caller may give it),
/// mode and access and modification times, on the new content.
fn keep_attributes(file: &File, st: &libc::stat, euid: u32) -> io::Result<Vec<String>> {
    let fd = file.as_raw_fd();
    let mut notes = Vec::new();
    let atime = (st.st_atime, st.st_atime_nsec);
    let mtime = (st.st_mtime, st.st_mtime_nsec);
    if euid == 0 {
        fsops::set_attributes(fd, Some((st.st_uid, st.st_gid)), st.st_mode, atime, mtime)?;
        return Ok(notes);
    }
    // Not root: the file is ours (checked), and its group is kept if it
    // is one of ours.
    // SAFETY: plain syscall on a descriptor we hold; -1 keeps the owner.
    let r = unsafe { libc::fchown(fd, libc::uid_t::MAX, st.st_gid) };
    if r != 0 {
        notes.push(format!(
            "its group (gid {}) could not be kept ({}); the new content has your group",
            st.st_gid,
            reason(&io::Error::last_os_error())
        ));
    }
    fsops::set_attributes(fd, None, st.st_mode, atime, mtime)?;
    Ok(notes)
}

/// Step 5's check: the name still points to the inode that was read, and
/// that inode has not changed since (size, modification time, and status
/// change time, which any write, chmod or link moves). Returns its link
/// count.
fn still_the_same(p: &Prepared, r: &Replacement) -> Result<libc::nlink_t, Outcome> {
    let now = match fsops::lstat_at(p.loc.dir.as_raw_fd(), &p.loc.name) {
        Ok(Some(now)) => now,
        Ok(None) => {
            return Err(Outcome::Refused(
                "it is gone since it was read; nothing was replaced".into(),
            ));
        }
        Err(e) => {
            return Err(Outcome::Failed(format!(
                "cannot stat it: {}; left unchanged",
                reason(&e)
            )));
        }
    };
    if (now.st_dev, now.st_ino) != (p.st.st_dev, p.st.st_ino) {
        return Err(Outcome::Refused(
            "its name was swapped for another file; nothing was replaced".into(),
        ));
    }
    if let Some(d) = Identity::of(&now).differs(&r.identity) {
        return Err(Outcome::Refused(format!(
            "{d} while it was being replaced; nothing was replaced"
        )));
    }
    if (now.st_ctime, now.st_ctime_nsec) != (p.st.st_ctime, p.st.st_ctime_nsec) {
        return Err(Outcome::Refused(
            "it was changed while it was being replaced (its status change time moved); nothing was replaced"
                .into(),
        ));
    }
    Ok(now.st_nlink)
}
