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
//!    original's mode and owner (as root; its group when permitted), with
//!    the times of the write (so that cron and the like see the change),
//!    and `fsync`ed.
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
                dir: b64(&fsops::os_bytes(p.loc.dir_path.as_os_str())),
                name: b64(&fsops::os_bytes(&p.loc.name)),
                identity: r.identity,
                sha256: r.sha256.clone(),
                new_sha256: p.replaced.clone().unwrap_or_default(),
                tmp: b64(&fsops::os_bytes(OsStr::new(&tmp))),
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
            let outcome = match swap(p, &reqs[p.idx], OsStr::new(tmp)) {
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
fn swap(p: &Prepared, r: &Replacement, tmp: &OsStr) -> Result<Option<String>, Outcome> {
    let dir = &*p.loc.dir;
    let result = stage(p, r, tmp).and_then(|notes| {
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
    if let Err(e) = fsops::fsync_dir(dir) {
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
fn stage(p: &Prepared, r: &Replacement, tmp: &OsStr) -> Result<Vec<String>, Outcome> {
    let fail = |e: &io::Error| {
        Outcome::Failed(format!(
            "cannot write its new content beside it: {}; left unchanged",
            reason(e)
        ))
    };
    let mut file = fsops::create_excl(&p.loc.dir, tmp).map_err(|e| fail(&e))?;
    file.write_all(&r.content).map_err(|e| fail(&e))?;
    let notes = keep_attributes(&file, &p.st).map_err(|e| {
        Outcome::Failed(format!(
            "cannot give its new content the file's mode and times: {}; left unchanged",
            reason(&e)
        ))
    })?;
    file.sync_all().map_err(|e| fail(&e))?;
    Ok(notes)
}

/// The original's owner (as root), group (when the caller may give it)
/// and mode on the new content. Its times are those of the write, not the
/// original's: the programs that read these files notice a change by the
/// modification time (cron re-reads `/etc/crontab` only when it moves),
/// so a disabled line kept under the old time would keep running until
/// they restart. A restore puts the original times back.
fn keep_attributes(file: &File, st: &fsops::Stat) -> io::Result<Vec<String>> {
    let mut notes = Vec::new();
    // Times: now (`None`). Windows: the attributes and creation time are
    // kept; it has no owner ids or mode bits.
    let mut attrs = fsops::Attrs {
        mode: st.mode,
        btime: st.btime,
        attributes: st.attributes,
        ..fsops::Attrs::default()
    };
    if fsops::privileged() {
        attrs.owner = st.uid.zip(st.gid);
        fsops::set_attributes(file, &attrs)?;
        return Ok(notes);
    }
    // Not root: the file is ours (checked), and its group is kept if it
    // is one of ours.
    if let Some(gid) = st.gid
        && let Err(e) = fsops::set_owner(file, None, Some(gid))
    {
        notes.push(format!(
            "its group (gid {gid}) could not be kept ({}); the new content has your group",
            reason(&e)
        ));
    }
    fsops::set_attributes(file, &attrs)?;
    Ok(notes)
}

/// Step 5's check: the name still points to the inode that was read, and
/// that inode has not changed since (size, modification time, and status
/// change time, which any write, chmod or link moves). Returns its link
/// count.
fn still_the_same(p: &Prepared, r: &Replacement) -> Result<u64, Outcome> {
    let now = match fsops::stat_at(&p.loc.dir, &p.loc.name) {
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
    if (now.dev, now.ino) != (p.st.dev, p.st.ino) {
        return Err(Outcome::Refused(
            "its name was swapped for another file; nothing was replaced".into(),
        ));
    }
    if let Some(d) = Identity::of(&now).differs(&r.identity) {
        return Err(Outcome::Refused(format!(
            "{d} while it was being replaced; nothing was replaced"
        )));
    }
    if now.ctime != p.st.ctime {
        return Err(Outcome::Refused(
            "it was changed while it was being replaced (its status change time moved); nothing was replaced"
                .into(),
        ));
    }
    Ok(now.nlink)
}

// Unix: these tests set modes, owners and times with Unix calls.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::item::Kind;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    const CRONTAB: &[u8] = b"SHELL=/bin/sh\n*/5 * * * * /tmp/.x/miner --quiet\n0 3 * * * backup\n";
    const DISABLED: &[u8] =
        b"SHELL=/bin/sh\n#*/5 * * * * /tmp/.x/miner --quiet\n0 3 * * * backup\n";

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    fn identity(p: &Path) -> Identity {
        let f = File::open(p).unwrap();
        Identity::of(&fsops::stat_file(&f).unwrap())
    }

    fn set_times(p: &Path, atime: i64, mtime: (i64, i64)) {
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
        let ts = [
            libc::timespec {
                tv_sec: atime,
                tv_nsec: 0,
            },
            libc::timespec {
                tv_sec: mtime.0,
                tv_nsec: mtime.1,
            },
        ];
        // SAFETY: valid C string and array of two timespecs.
        assert_eq!(
            unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), 0) },
            0
        );
    }

    struct Setup {
        _t: tempfile::TempDir,
        dir: PathBuf,
        vault: Vault,
        run: Run,
    }

    fn setup() -> Setup {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("etc");
        std::fs::create_dir(&dir).unwrap();
        let vault = Vault::open(&t.path().join("vault"), true).unwrap();
        let run = vault.start_run(&["test".into()]).unwrap();
        Setup {
            _t: t,
            dir,
            vault,
            run,
        }
    }

    fn replacement(path: &Path, content: &[u8], linked: Option<&str>) -> Replacement {
        let old = std::fs::read(path).unwrap();
        Replacement {
            path: path.to_path_buf(),
            identity: identity(path),
            sha256: sha(&old),
            content: content.to_vec(),
            detections: serde_json::json!({"disabled": "cron line 2"}),
            names: vec!["cron /etc/crontab line 2".into()],
            linked: linked.map(str::to_string),
        }
    }

    fn done_id(o: &Outcome) -> String {
        match o {
            Outcome::Done {
                vault_id: Some(id), ..
            } => id.clone(),
            other => panic!("not done: {other:?}"),
        }
    }

    fn original(v: &Vault, id: &str) -> Vec<u8> {
        let mut out = Vec::new();
        v.read_item(id, &mut out).unwrap();
        out
    }

    fn temps_in(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".takedown"))
            .collect()
    }

    #[test]
    fn replace_keeps_the_original_and_restore_puts_it_back() {
        let mut s = setup();
        let p = s.dir.join("crontab");
        std::fs::write(&p, CRONTAB).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        set_times(&p, 1_500_000_000, (1_600_000_000, 123_456_789));
        let req = replacement(&p, DISABLED, Some("20260101-000000-0011223344556677"));
        // Reading it moved the access time: set it again (the modification
        // time, part of the identity, stays).
        set_times(&p, 1_500_000_000, (1_600_000_000, 123_456_789));
        let before = std::fs::metadata(&p).unwrap();

        let out = s.vault.replace(&s.run, &[req]);
        let id = done_id(&out[0]);
        // (Before reading it: a read may move the access time.)
        let after = std::fs::metadata(&p).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), DISABLED);
        assert_ne!(after.ino(), before.ino(), "a new inode took the name");
        assert_eq!(after.mode() & 0o7777, 0o640);
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        // The times of the write: readers of the file see it changed.
        assert!(after.mtime() > 1_600_000_000, "{}", after.mtime());
        assert!(temps_in(&s.dir).is_empty());

        let m = s.vault.meta(&id).unwrap();
        assert_eq!(m.kind, Kind::Replaced);
        assert_eq!(m.sha256, sha(CRONTAB));
        assert_eq!(m.replaced_sha256.as_deref(), Some(sha(DISABLED).as_str()));
        assert_eq!(
            m.linked.as_deref(),
            Some("20260101-000000-0011223344556677")
        );
        assert_eq!(m.original_path, p.to_str().unwrap());
        assert_eq!(m.detections["disabled"], "cron line 2");
        assert_eq!(original(&s.vault, &id), CRONTAB);
        assert_eq!(
            s.vault.linked("20260101-000000-0011223344556677").unwrap(),
            vec![id.clone()]
        );

        // The run log says what was replaced.
        let log = std::fs::read_to_string(
            s.vault
                .root()
                .join("logs")
                .join(format!("{}.jsonl", s.run.id)),
        )
        .unwrap();
        let line: serde_json::Value = serde_json::from_str(log.lines().nth(1).unwrap()).unwrap();
        assert_eq!(line["action"], "replace");
        assert_eq!(line["status"], "done");
        assert_eq!(line["vault_id"], id.as_str());

        // Restore goes back over the content takedown wrote.
        let r = s.vault.restore(&id, None, false).unwrap();
        assert_eq!(r.path, p);
        assert!(r.written);
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert_eq!(std::fs::read(&p).unwrap(), CRONTAB);
        let back = std::fs::metadata(&p).unwrap();
        assert_eq!(back.mode() & 0o7777, 0o640);
        assert_eq!(
            (back.mtime(), back.mtime_nsec()),
            (1_600_000_000, 123_456_789)
        );
        assert!(temps_in(&s.dir).is_empty());
        assert_eq!(s.vault.meta(&id).unwrap().restores.len(), 1);
        // Again: the original is there already; nothing is written.
        let ino = back.ino();
        let r = s.vault.restore(&id, None, false).unwrap();
        assert!(!r.written);
        assert!(
            r.notes[0].contains("already holds the original"),
            "{:?}",
            r.notes
        );
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino);
        assert_eq!(s.vault.meta(&id).unwrap().restores.len(), 1);
    }

    #[test]
    fn restore_refuses_a_file_changed_since_unless_asked() {
        let mut s = setup();
        let p = s.dir.join("crontab");
        std::fs::write(&p, CRONTAB).unwrap();
        let id = done_id(&s.vault.replace(&s.run, &[replacement(&p, DISABLED, None)])[0]);
        // The administrator edited it since.
        std::fs::write(&p, b"0 4 * * * something-new\n").unwrap();
        let err = s.vault.restore(&id, None, false).unwrap_err().to_string();
        assert!(err.contains("was changed since takedown replaced"), "{err}");
        assert!(err.contains(&sha(DISABLED)), "{err}");
        assert!(err.contains("--overwrite"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"0 4 * * * something-new\n");
        assert!(temps_in(&s.dir).is_empty());
        // A link there is not followed, nor replaced unasked.
        let elsewhere = s.dir.join("elsewhere");
        std::fs::write(&elsewhere, b"keep").unwrap();
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &p).unwrap();
        let err = s.vault.restore(&id, None, false).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"keep");
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, b"changed\n").unwrap();
        s.vault.restore(&id, None, true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), CRONTAB);
        // Gone: written back.
        std::fs::remove_file(&p).unwrap();
        s.vault.restore(&id, None, false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), CRONTAB);
        // Elsewhere: a new file, as any item.
        let to = s.dir.join("copy");
        s.vault.restore(&id, Some(&to), false).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), CRONTAB);
        assert!(s.vault.restore(&id, Some(&to), false).is_err());
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"keep");
    }

    #[test]
    fn replace_refuses_what_it_should_not_change_and_leaves_nothing() {
        let mut s = setup();
        let p = s.dir.join("crontab");
        std::fs::write(&p, CRONTAB).unwrap();
        let mut reqs = Vec::new();
        // Read, then changed before the replacement.
        let stale = replacement(&p, DISABLED, None);
        // Same content as now.
        reqs.push(replacement(&p, CRONTAB, None));
        // A SHA-256 that is not the content's.
        let mut wrong = replacement(&p, DISABLED, None);
        wrong.sha256 = sha(b"other");
        reqs.push(wrong);
        // A link to the file.
        let link = s.dir.join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        let mut via_link = replacement(&p, DISABLED, None);
        via_link.path = link.clone();
        reqs.push(via_link);
        // A FIFO.
        let fifo = s.dir.join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let mut to_fifo = replacement(&p, DISABLED, None);
        to_fifo.path = fifo.clone();
        reqs.push(to_fifo);
        let out = s.vault.replace(&s.run, &reqs);
        assert!(
            matches!(&out[0], Outcome::Refused(w) if w.contains("same as the old")),
            "{:?}",
            out[0]
        );
        assert!(
            matches!(&out[1], Outcome::Refused(w) if w.contains("SHA-256")),
            "{:?}",
            out[1]
        );
        assert!(
            matches!(&out[2], Outcome::Refused(w) if w.contains("symbolic link")),
            "{:?}",
            out[2]
        );
        assert!(matches!(&out[3], Outcome::Refused(_)), "{:?}", out[3]);
        std::fs::write(&p, b"changed meanwhile\n").unwrap();
        let out = s.vault.replace(&s.run, &[stale]);
        assert!(matches!(&out[0], Outcome::Refused(_)), "{:?}", out[0]);
        assert_eq!(std::fs::read(&p).unwrap(), b"changed meanwhile\n");
        assert!(s.vault.list().unwrap().is_empty(), "no item left");
        assert!(temps_in(&s.dir).is_empty());
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn other_hard_links_are_noted_and_keep_the_old_content() {
        let mut s = setup();
        let p = s.dir.join("crontab");
        std::fs::write(&p, CRONTAB).unwrap();
        let other = s.dir.join("crontab.hardlink");
        std::fs::hard_link(&p, &other).unwrap();
        let out = s.vault.replace(&s.run, &[replacement(&p, DISABLED, None)]);
        match &out[0] {
            Outcome::Done { note: Some(n), .. } => assert!(n.contains("1 other hard link"), "{n}"),
            o => panic!("{o:?}"),
        }
        assert_eq!(std::fs::read(&p).unwrap(), DISABLED);
        assert_eq!(std::fs::read(&other).unwrap(), CRONTAB);
    }

    #[test]
    fn a_batch_links_each_change_to_its_program_oldest_first() {
        let mut s = setup();
        let program = s.dir.join("miner");
        std::fs::write(&program, b"\x7fELF not really").unwrap();
        let req = Request {
            path: program.clone(),
            identity: identity(&program),
            sha256: sha(b"\x7fELF not really"),
            detections: serde_json::json!([{"name": "Miner"}]),
            names: vec!["Miner".into()],
            linked: None,
        };
        let program_id = done_id(&s.vault.quarantine(&s.run, &[req])[0]);
        assert_eq!(s.vault.meta(&program_id).unwrap().kind, Kind::File);
        let (a, b) = (s.dir.join("a"), s.dir.join("b"));
        std::fs::write(&a, CRONTAB).unwrap();
        std::fs::write(&b, CRONTAB).unwrap();
        let first = s
            .vault
            .replace(&s.run, &[replacement(&a, DISABLED, Some(&program_id))]);
        let second = s
            .vault
            .replace(&s.run, &[replacement(&b, DISABLED, Some(&program_id))]);
        let (first, second) = (done_id(&first[0]), done_id(&second[0]));
        // An unrelated item is not linked.
        let c = s.dir.join("c");
        std::fs::write(&c, CRONTAB).unwrap();
        done_id(&s.vault.replace(&s.run, &[replacement(&c, DISABLED, None)])[0]);
        assert_eq!(
            s.vault.linked(&program_id).unwrap(),
            vec![first.clone(), second]
        );
        assert!(s.vault.linked(&first).unwrap().is_empty());
        assert!(s.vault.linked("../x").is_err());
        // Purging a replaced item keeps the file as takedown left it.
        s.vault.purge(&first).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), DISABLED);
        assert_eq!(s.vault.linked(&program_id).unwrap().len(), 1);
    }
}
