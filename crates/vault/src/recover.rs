//! Finishing or rolling back what an interrupted process left in the
//! journal. Each rule keeps the invariant: a file is in place, or whole in
//! the vault, or both; never gone, never half-stored.

use crate::fsops::{self, Identity};
use crate::journal::Record;
use crate::{Error, LogEntry, Vault, path_of_b64, unb64};
use sha2::{Digest, Sha256};
use std::io::Read;

/// Where restore/purge/export record what they did.
pub(crate) const COMMANDS_LOG: &str = "vault-commands";

impl Vault {
    /// Recovers every step the journal announced and did not finish.
    pub(crate) fn recover(&mut self) -> Result<Vec<LogEntry>, Error> {
        if self
            .journal
            .is_empty()
            .map_err(|e| Error::io("cannot read the vault journal", &e))?
        {
            return Ok(Vec::new());
        }
        let _lock = self.lock()?;
        let pending = self
            .journal
            .pending()
            .map_err(|e| Error::io("cannot read the vault journal", &e))?;
        // Which items exist whole: those in a pack in items/ (a pack there
        // was made durable before it was renamed in).
        let live: std::collections::HashSet<String> = self
            .records()?
            .into_iter()
            .flatten()
            .filter(|(_, r)| r.state == crate::item::LIVE)
            .map(|(_, r)| r.id)
            .collect();
        let mut entries: Vec<(String, LogEntry)> = Vec::new();
        for rec in pending {
            let (run, entry) = match rec {
                Record::Quarantine {
                    run,
                    id,
                    dir,
                    name,
                    identity,
                    sha256,
                    ..
                } => (
                    run,
                    recover_quarantine(live.contains(&id), &id, &dir, &name, &identity, &sha256),
                ),
                Record::Delete {
                    run,
                    dir,
                    name,
                    identity,
                    sha256,
                    ..
                } => (run, recover_delete(&dir, &name, &identity, &sha256)),
                Record::Replace {
                    run,
                    id,
                    dir,
                    name,
                    sha256,
                    new_sha256,
                    tmp,
                    ..
                } => {
                    let stored = live.contains(&id);
                    let entry =
                        self.recover_replace(stored, &id, &dir, &name, &sha256, &new_sha256, &tmp);
                    (run, entry)
                }
                Record::Restore { id, dir, tmp, .. } => {
                    (COMMANDS_LOG.to_string(), recover_restore(&id, &dir, &tmp))
                }
                Record::Purge { id, .. } => {
                    let mut e = LogEntry::new("purge", "finished");
                    // Also zeroes a record marked purged whose bytes were
                    // not zeroed yet.
                    if let Err(err) = self.discard_item(&id) {
                        e.status = "failed".into();
                        e.reason = Some(format!("cannot remove the item: {}", fsops::reason(&err)));
                    }
                    e.vault_id = Some(id);
                    if e.reason.is_none() {
                        e.reason =
                            Some("interrupted; the removal from the vault was completed".into());
                    }
                    (COMMANDS_LOG.to_string(), e)
                }
                Record::Done { .. } => continue,
            };
            tracing::warn!(
                "vault: recovered an interrupted {} ({}): {}",
                entry.action,
                entry.status,
                entry.reason.as_deref().unwrap_or("")
            );
            entries.push((run, entry));
        }
        // Under the lock nobody is mid-step: whatever is in tmp/ (packs
        // never committed) belongs to the interrupted process, and so do
        // temporary files in items/ (and trash/ of older vaults).
        for sub in ["tmp", "trash"] {
            if let Ok(rd) = std::fs::read_dir(self.sub(sub)) {
                for e in rd.flatten() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.sub("items")) {
            for e in rd.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        if let Err(e) = fsops::sync_fs(self.dir_handle()) {
            return Err(Error::io("cannot sync the vault", &e));
        }
        self.journal
            .clear()
            .map_err(|e| Error::io("cannot write the vault journal", &e))?;
        for (run, e) in &entries {
            if crate::item::valid_id(run) || run == COMMANDS_LOG {
                let _ = self.append_log(run, std::slice::from_ref(e));
            }
        }
        Ok(entries.into_iter().map(|(_, e)| e).collect())
    }
}

enum Same {
    /// The name is gone.
    Gone,
    /// Still the very file, same content.
    Yes(fsops::Located),
    /// Something else is there now, or it cannot be checked.
    No(String),
}

/// Is the file at `dir`/`name` still the one announced?
fn same_file(dir: &str, name: &str, identity: &Identity, sha256: &str) -> Same {
    let (Some(dir), Some(name)) = (path_of_b64(dir), unb64(name)) else {
        return Same::No("the journal entry is unreadable".into());
    };
    let Some(name) = fsops::os_from_bytes(&name) else {
        return Same::No("the journal entry is unreadable".into());
    };
    let loc = match fsops::relocate(&dir, &name) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Same::Gone,
        Err(e) => return Same::No(fsops::reason(&e)),
    };
    match fsops::stat_at(&loc.dir, &loc.name) {
        Ok(None) => return Same::Gone,
        Ok(Some(_)) => {}
        Err(e) => return Same::No(fsops::reason(&e)),
    }
    let file = match fsops::open_file_nofollow(&loc.dir, &loc.name) {
        Ok(f) => f,
        Err(e) => return Same::No(fsops::reason(&e)),
    };
    let Ok(st) = fsops::stat_file(&file) else {
        return Same::No("cannot stat it".into());
    };
    if let Some(d) = Identity::of(&st).differs(identity) {
        return Same::No(d);
    }
    match sha256_of(&file) {
        Ok(sum) if sum == sha256 => Same::Yes(loc),
        Ok(_) => Same::No("its content changed".into()),
        Err(e) => Same::No(fsops::reason(&e)),
    }
}

/// SHA-256 of what `file` holds from where it stands, read to the end.
pub(crate) fn sha256_of(file: &std::fs::File) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut f = file;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// What the file at `dir`/`name` (from the journal) holds: its SHA-256,
/// `None` when the name is gone, or why it cannot be told.
fn content_at(dir: &str, name: &str) -> Result<Option<String>, String> {
    let (Some(dir), Some(name)) = (path_of_b64(dir), unb64(name)) else {
        return Err("the journal entry is unreadable".into());
    };
    let Some(name) = fsops::os_from_bytes(&name) else {
        return Err("the journal entry is unreadable".into());
    };
    let loc = match fsops::relocate(&dir, &name) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fsops::reason(&e)),
    };
    match fsops::stat_at(&loc.dir, &loc.name) {
        Ok(None) => return Ok(None),
        Ok(Some(_)) => {}
        Err(e) => return Err(fsops::reason(&e)),
    }
    let file = fsops::open_file_nofollow(&loc.dir, &loc.name).map_err(|e| {
        format!(
            "it is not a regular file we can read ({})",
            fsops::reason(&e)
        )
    })?;
    sha256_of(&file).map(Some).map_err(|e| fsops::reason(&e))
}

/// Removes a temporary file a step created under an unguessable name
/// (with `O_EXCL`) in `dir`, if it is there.
fn remove_temp(dir: &str, tmp: &str) {
    if let (Some(dir), Some(tmp)) = (path_of_b64(dir), unb64(tmp))
        && let Some(tmp) = fsops::os_from_bytes(&tmp)
        && let Ok(loc) = fsops::relocate(&dir, &tmp)
        && let Ok(Some(st)) = fsops::stat_at(&loc.dir, &loc.name)
        && st.is_regular()
    {
        // Our own temporary file; unlink never follows links anyway.
        let _ = fsops::unlink_at(&loc.dir, &loc.name);
        let _ = fsops::fsync_dir(&loc.dir);
    }
}

fn recover_delete(dir: &str, name: &str, identity: &Identity, sha256: &str) -> LogEntry {
    let mut e = LogEntry::new("delete", "rolled-back");
    e.path = path_of_b64(dir)
        .zip(unb64(name).and_then(|n| fsops::os_from_bytes(&n)))
        .map(|(d, n)| d.join(&n).to_string_lossy().into_owned());
    e.sha256 = Some(sha256.to_string());
    match same_file(dir, name, identity, sha256) {
        Same::Gone => {
            e.status = "finished".into();
            e.reason = Some("interrupted after the file was deleted".into());
        }
        // A delete is not redone unasked: the next scan will find it again.
        Same::Yes(_) | Same::No(_) => {
            e.reason = Some("interrupted before the file was deleted; it was left in place".into());
        }
    }
    e
}

fn recover_restore(id: &str, dir: &str, tmp: &str) -> LogEntry {
    let mut e = LogEntry::new("restore", "recovered");
    e.vault_id = Some(id.to_string());
    e.reason = Some(
        "interrupted; a partial temporary file was removed if there was one, the item stays in the vault"
            .into(),
    );
    remove_temp(dir, tmp);
    e
}

impl Vault {
    /// An interrupted replacement. Recovery never writes a file outside
    /// the vault (it may run long after, from any command): a replacement
    /// the process did not finish is rolled back, not finished.
    #[allow(clippy::too_many_arguments)]
    fn recover_replace(
        &self,
        stored: bool,
        id: &str,
        dir: &str,
        name: &str,
        sha256: &str,
        new_sha256: &str,
        tmp: &str,
    ) -> LogEntry {
        let mut e = LogEntry::new("replace", "rolled-back");
        e.path = path_of_b64(dir)
            .zip(unb64(name).and_then(|n| fsops::os_from_bytes(&n)))
            .map(|(d, n)| d.join(&n).to_string_lossy().into_owned());
        e.sha256 = Some(sha256.to_string());
        // The new content is renamed into place only after the item is
        // committed: whatever the state, a temporary left is not needed.
        remove_temp(dir, tmp);
        if !stored {
            // Finishes the removal of an item whose replacement failed, if
            // that removal was cut short after the item was marked purged.
            if let Err(err) = self.discard_item(id) {
                tracing::warn!("cannot remove vault item {id}: {}", fsops::reason(&err));
            }
            e.reason = Some(
                "interrupted before the vault copy of the original was complete; the file was left unchanged"
                    .into(),
            );
            return e;
        }
        e.vault_id = Some(id.to_string());
        let now = content_at(dir, name);
        match now {
            Ok(Some(sum)) if sum == new_sha256 => {
                e.status = "finished".into();
                e.reason = Some(
                    "interrupted after the file's content was replaced; the vault keeps the original"
                        .into(),
                );
            }
            Ok(Some(sum)) if sum == sha256 => match self.discard_item(id) {
                Ok(()) => {
                    e.vault_id = None;
                    e.reason = Some(
                        "interrupted before the file's content was replaced; it was left unchanged and its vault copy removed"
                            .into(),
                    );
                }
                Err(err) => {
                    e.status = "failed".into();
                    e.reason = Some(format!(
                        "interrupted before the file's content was replaced; it was left unchanged, but its vault copy could not be removed ({})",
                        fsops::reason(&err)
                    ));
                }
            },
            Ok(None) => {
                e.status = "finished".into();
                e.reason = Some(
                    "interrupted; the file is gone, and the vault keeps its original content"
                        .into(),
                );
            }
            Ok(Some(_)) => {
                e.status = "finished".into();
                e.reason = Some(
                    "interrupted; the file was changed by someone else and left as it is, and the vault keeps its original content"
                        .into(),
                );
            }
            Err(why) => {
                e.status = "finished".into();
                e.reason = Some(format!(
                    "interrupted; the file could not be checked ({why}) and was left as it is, and the vault keeps its original content"
                ));
            }
        }
        e
    }
}

fn recover_quarantine(
    stored: bool,
    id: &str,
    dir: &str,
    name: &str,
    identity: &Identity,
    sha256: &str,
) -> LogEntry {
    let path = path_of_b64(dir)
        .zip(unb64(name).and_then(|n| fsops::os_from_bytes(&n)))
        .map(|(d, n)| d.join(&n));
    let mut e = LogEntry::new("quarantine", "rolled-back");
    e.path = path.as_ref().map(|p| p.to_string_lossy().into_owned());
    e.sha256 = Some(sha256.to_string());
    if !stored {
        e.reason = Some(
            "interrupted before the vault copy was complete; the file was left in place".into(),
        );
        return e;
    }
    e.vault_id = Some(id.to_string());
    e.status = "finished".into();
    e.reason = Some(match same_file(dir, name, identity, sha256) {
        Same::Gone => "interrupted after the file was removed; completed".into(),
        Same::Yes(loc) => match fsops::unlink_at(&loc.dir, &loc.name) {
            Ok(()) => {
                let _ = fsops::fsync_dir(&loc.dir);
                "interrupted after the vault copy was complete; the file was removed".into()
            }
            Err(err) => format!(
                "interrupted; the vault copy is complete but the file could not be removed ({}); it is in both places",
                fsops::reason(&err)
            ),
        },
        Same::No(why) => format!(
            "interrupted; the vault copy is complete and kept, and the file at the path was left in place ({why})"
        ),
    });
    e
}
