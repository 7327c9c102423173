//! Putting a file back, and removing an item for good.
//!
//! Restore writes the content into an unguessable temporary name in the
//! target directory (created with `O_EXCL`, through a handle opened
//! without following links), verifies size and SHA-256, sets owner, mode
//! and times, makes it durable, and only then renames it into place with
//! `RENAME_NOREPLACE` (or over the old file when asked). So the name never
//! shows a partial or unverified file, and an existing file is never
//! replaced by accident. The item stays in the vault, with the restore
//! recorded, until it is deleted.
//!
//! An item of kind [`item::Kind::Replaced`] restored to its own path goes
//! back over the file takedown wrote, and only over that: the file there
//! must hash to [`item::Meta::replaced_sha256`] (and still be the same
//! inode, unchanged, when the rename comes), or the restore is refused
//! unless `overwrite` is given. A file that already holds the original is
//! left as it is; a file that is gone is written back.

use crate::fsops::{self, Identity, reason};
use crate::item::{self, RestoreRecord};
use crate::journal::Record;
use crate::recover::COMMANDS_LOG;
use crate::{Error, LogEntry, Vault, b64, fault};
use std::ffi::OsStr;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// How a restore went.
#[derive(Clone, Debug)]
pub struct Restored {
    /// Where the file is now.
    pub path: PathBuf,
    /// Its verified SHA-256.
    pub sha256: String,
    /// Things not put back as they were (owner when not root).
    pub notes: Vec<String>,
    /// False when nothing had to be written: a replaced item whose file
    /// already holds the original content.
    pub written: bool,
}

impl Vault {
    /// Restores item `id` to its original path, or to `to`. An existing
    /// file there is refused unless `overwrite`.
    pub fn restore(
        &mut self,
        id: &str,
        to: Option<&Path>,
        overwrite: bool,
    ) -> Result<Restored, Error> {
        let meta = self.meta(id)?;
        let target = match to {
            Some(p) => p.to_path_buf(),
            None => crate::path_of_b64(&meta.original_path_base64)
                .ok_or_else(|| Error::Damaged(format!("item {id}: unreadable original path")))?,
        };
        let shown = target.display().to_string();
        let loc = fsops::locate(&target)
            .map_err(|e| Error::io(format!("cannot restore to {shown}"), &e))?;
        let dir = &*loc.dir;
        let in_place = meta.kind == item::Kind::Replaced && to.is_none();
        let mut put = if overwrite { Put::Over } else { Put::New };
        match fsops::stat_at(dir, &loc.name) {
            Ok(None) => put = Put::New,
            Ok(Some(st)) if in_place && st.is_regular() => {
                match self.over_replaced(&meta, &loc, &shown, overwrite)? {
                    Some(p) => put = p,
                    None => {
                        let notes = vec![
                            "it already holds the original content; nothing was written".into(),
                        ];
                        let mut entry = LogEntry::new("restore", "skipped");
                        entry.path = Some(loc.path().to_string_lossy().into_owned());
                        entry.vault_id = Some(id.to_string());
                        entry.sha256 = Some(meta.sha256.clone());
                        entry.reason = Some(notes.join("; "));
                        let _ = self.append_log(COMMANDS_LOG, &[entry]);
                        return Ok(Restored {
                            path: loc.path(),
                            sha256: meta.sha256,
                            notes,
                            written: false,
                        });
                    }
                }
            }
            Ok(Some(st)) if in_place && !overwrite => {
                let what = if st.is_dir() {
                    "a directory"
                } else {
                    "something that is not a regular file"
                };
                return Err(Error::Refused(format!(
                    "{shown}: {what} is there now, not the file takedown wrote; not overwritten (use --overwrite, or --to another path)"
                )));
            }
            Ok(Some(st)) if !overwrite => {
                let what = if st.is_regular() {
                    "a file"
                } else {
                    "something"
                };
                return Err(Error::Refused(format!(
                    "{shown}: {what} already exists there; not overwritten (use --overwrite, or --to another path)"
                )));
            }
            Ok(Some(st)) if st.is_dir() => {
                return Err(Error::Refused(format!(
                    "{shown} is a directory; not overwritten"
                )));
            }
            Ok(Some(_)) => {}
            Err(e) => return Err(Error::io(format!("cannot restore to {shown}"), &e)),
        }
        let _lock = self.lock()?;
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).map_err(|e| Error::Io {
            what: "restore".into(),
            reason: e.to_string(),
        })?;
        let tmp_name = format!(".takedown-restore-{}", hex::encode(rnd));
        let tmp = OsStr::new(&tmp_name);
        let seq = self.journal.seq();
        self.journal
            .append(&[Record::Restore {
                seq,
                id: id.to_string(),
                dir: b64(&fsops::os_bytes(loc.dir_path.as_os_str())),
                tmp: b64(&fsops::os_bytes(tmp)),
            }])
            .map_err(|e| Error::io("cannot write the vault journal", &e))?;
        fault::point("restore:journaled");

        let result = self.write_restored(id, &meta, dir, tmp, &shown);
        let notes = match result {
            Ok(notes) => notes,
            Err(e) => {
                let _ = fsops::unlink_at(dir, tmp);
                self.finish_step(seq);
                return Err(e);
            }
        };
        fault::point("restore:written");
        if let Put::OverChecked(before) = &put
            && let Err(why) = unchanged_since(dir, &loc.name, before)
        {
            let _ = fsops::unlink_at(dir, tmp);
            self.finish_step(seq);
            return Err(Error::Refused(format!(
                "{shown}: {why} since it was checked; not overwritten"
            )));
        }
        let noreplace = matches!(put, Put::New);
        if let Err(e) = fsops::rename_at(dir, tmp, dir, &loc.name, noreplace) {
            let _ = fsops::unlink_at(dir, tmp);
            self.finish_step(seq);
            return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Refused(format!(
                    "{shown}: a file appeared there meanwhile; not overwritten"
                ))
            } else {
                Error::io(format!("cannot restore to {shown}"), &e)
            });
        }
        let _ = fsops::fsync_dir(dir);
        fault::point("restore:renamed");

        // Record the restore beside the item (the item file itself is
        // never rewritten).
        let record = RestoreRecord {
            to: loc.path().to_string_lossy().into_owned(),
            at: item::now_rfc3339(),
        };
        if let Err(e) = self.record_restore(id, &record) {
            tracing::warn!("item {id}: cannot record the restore: {}", reason(&e));
        }
        self.finish_step(seq);
        fault::point("restore:done");
        let mut entry = LogEntry::new("restore", "done");
        entry.path = Some(loc.path().to_string_lossy().into_owned());
        entry.vault_id = Some(id.to_string());
        entry.sha256 = Some(meta.sha256.clone());
        entry.reason = (!notes.is_empty()).then(|| notes.join("; "));
        let _ = self.append_log(COMMANDS_LOG, &[entry]);
        Ok(Restored {
            path: loc.path(),
            sha256: meta.sha256,
            notes,
            written: true,
        })
    }

    /// For a replaced item restored in place over a regular file: what is
    /// there must be the content takedown wrote (then `OverChecked`), or
    /// `overwrite` given (`Over`); `None` when it already holds the
    /// original.
    fn over_replaced(
        &self,
        meta: &item::Meta,
        loc: &fsops::Located,
        shown: &str,
        overwrite: bool,
    ) -> Result<Option<Put>, Error> {
        let (file, st) = fsops::open_file_nofollow_stat(&loc.dir, &loc.name)
            .map_err(|e| Error::io(format!("cannot check {shown}"), &e))?;
        let now = crate::recover::sha256_of(&file)
            .map_err(|e| Error::io(format!("cannot check {shown}"), &e))?;
        if now == meta.sha256 {
            return Ok(None);
        }
        if meta.replaced_sha256.as_deref() == Some(now.as_str()) {
            return Ok(Some(Put::OverChecked(Checked::of(&st))));
        }
        if overwrite {
            return Ok(Some(Put::Over));
        }
        let wrote = meta.replaced_sha256.as_deref().unwrap_or("(not recorded)");
        Err(Error::Refused(format!(
            "{shown} was changed since takedown replaced its content (SHA-256 {now} now, takedown wrote {wrote}); not overwritten (use --overwrite to put the original back anyway)"
        )))
    }

    fn write_restored(
        &self,
        id: &str,
        meta: &item::Meta,
        dir: &fsops::Dir,
        tmp: &OsStr,
        shown: &str,
    ) -> Result<Vec<String>, Error> {
        let file = fsops::create_excl(dir, tmp)
            .map_err(|e| Error::io(format!("cannot restore to {shown}"), &e))?;
        let mut w = BufWriter::with_capacity(256 << 10, file);
        self.read_item(id, &mut w)?;
        w.flush()
            .map_err(|e| Error::io(format!("cannot restore to {shown}"), &e))?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io(format!("cannot restore to {shown}"), e.error()))?;
        let mut notes = Vec::new();
        if let Some(r) = &meta.removal_at_reboot {
            notes.push(format!(
                "the file was in use when it was quarantined and its removal from {} was scheduled for the next boot (on {}); a file restored there before that boot is removed by it",
                r.path, r.at
            ));
        }
        // Owner ids exist on Unix only (Windows records none).
        let owner = match (fsops::user_id(), meta.uid, meta.gid) {
            (Some(0), Some(uid), Some(gid)) => Some((uid, gid)),
            (Some(me), Some(uid), _) => {
                if uid != me {
                    notes.push(format!(
                        "owner not restored (uid {uid} needs root); the file belongs to you"
                    ));
                }
                None
            }
            _ => None,
        };
        let attrs = fsops::Attrs {
            owner,
            mode: meta.mode,
            atime: Some(meta.atime.time()),
            mtime: Some(meta.mtime.time()),
            btime: meta.btime.map(|t| t.time()),
            attributes: meta.attributes,
        };
        fsops::set_attributes(&file, &attrs)
            .map_err(|e| Error::io(format!("cannot set owner, mode or times on {shown}"), &e))?;
        file.sync_all()
            .map_err(|e| Error::io(format!("cannot restore to {shown}"), &e))?;
        Ok(notes)
    }

    fn record_restore(&self, id: &str, record: &RestoreRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let how = fsops::OpenHow {
            read: false,
            write: true,
            create: true,
            append: true,
        };
        let mut f = fsops::open_at(&self.items_fd, OsStr::new(&format!("{id}.restored")), how)?;
        f.write_all(&line)?;
        f.sync_data()
    }

    fn finish_step(&mut self, seq: u64) {
        let r = self
            .journal
            .append(&[Record::Done { seq }])
            .and_then(|_| self.journal.clear());
        if let Err(e) = r {
            tracing::warn!("cannot write the vault journal: {}", reason(&e));
        }
    }

    /// Removes item `id` from the vault for good (for a replaced item: its
    /// original content; the file keeps the content takedown wrote).
    pub fn purge(&mut self, id: &str) -> Result<(), Error> {
        let meta = self.meta(id)?;
        let _lock = self.lock()?;
        let seq = self.journal.seq();
        self.journal
            .append(&[Record::Purge {
                seq,
                id: id.to_string(),
            }])
            .map_err(|e| Error::io("cannot write the vault journal", &e))?;
        fault::point("purge:journaled");
        if let Err(e) = self.discard_item(id) {
            self.finish_step(seq);
            return Err(Error::io(format!("cannot remove item {id}"), &e));
        }
        fault::point("purge:removed");
        self.finish_step(seq);
        let mut entry = LogEntry::new("purge", "done");
        entry.path = Some(meta.original_path);
        entry.vault_id = Some(id.to_string());
        entry.sha256 = Some(meta.sha256);
        let _ = self.append_log(COMMANDS_LOG, &[entry]);
        Ok(())
    }
}

/// How the restored file takes its name.
enum Put {
    /// The name is free: nothing that appears there meanwhile is replaced.
    New,
    /// Over whatever is there (asked for).
    Over,
    /// Over the file checked, only if it is still that file, unchanged.
    OverChecked(Checked),
}

/// A file as it was checked.
struct Checked {
    identity: Identity,
    ctime: (i64, i64),
}

impl Checked {
    fn of(st: &fsops::Stat) -> Checked {
        Checked {
            identity: Identity::of(st),
            ctime: st.ctime,
        }
    }
}

/// The name still points to the file checked, unchanged (the status
/// change time moves on any write, chmod or link); else what differs.
fn unchanged_since(dir: &fsops::Dir, name: &OsStr, before: &Checked) -> Result<(), String> {
    match fsops::stat_at(dir, name) {
        Ok(Some(st)) => {
            if let Some(d) = Identity::of(&st).differs(&before.identity) {
                return Err(d);
            }
            if st.ctime != before.ctime {
                return Err("it was changed (its status change time moved)".into());
            }
            Ok(())
        }
        Ok(None) => Err("it is gone".into()),
        Err(e) => Err(format!("it cannot be checked ({})", reason(&e))),
    }
}
