//! The takedown vault: removal that never destroys what it should not.
//!
//! A quarantined file is stored defanged (encrypted with the vault's key,
//! see [`crypt`]) with everything needed to put it back exactly: path,
//! owner, group, mode, timestamps, size, SHA-256, the detections, when and
//! by which version. Three properties hold by construction:
//!
//! - **Race-safe**: a file is acted on only through a directory handle
//!   opened without following links, only if device, inode, size and mtime
//!   are those the scan saw, and only if its content hashes again to the
//!   scanned SHA-256 ([`fsops`]).
//! - **Crash-safe**: every step is announced in a write-ahead journal
//!   ([`journal`]) before it acts, and a file is unlinked only after its
//!   vault copy is durable. A process killed at any moment leaves each file
//!   in place or fully in the vault; the next open finishes or rolls back.
//! - **Restorable**: [`Vault::restore`] verifies the SHA-256 before the file
//!   appears under its name, never overwrites unless asked, and puts back
//!   mode, owner and times.
//!
//! Besides removing files, the vault replaces a file's content restorably
//! ([`Vault::replace`], how an autostart entry is disabled in place): the
//! original becomes an item of kind [`item::Kind::Replaced`], and restore
//! puts it back only over the content takedown wrote. An item may name
//! the item it goes with ([`item::Meta::linked`]: an entry's change goes
//! with the program it started), so that both come back together
//! ([`Vault::linked`]).
//!
//! Layout of a vault directory (0700, owned by its user):
//!
//! ```text
//! VAULT              format marker
//! key                the vault key (0600)
//! lock               flock'ed while a step runs
//! journal            write-ahead journal; empty when idle
//! items/<id>.pack    one pack per batch: a record per item (header,
//!                    encrypted content, metadata JSON); a pack appears
//!                    by one rename, so its items are there whole or not
//!                    at all; a purged record keeps its header only
//! items/<id>.restored  restores of an item, one JSON line each
//! items/<id>.reboot    (Windows) the file was in use: its removal waits
//!                      for the next boot
//! tmp/               packs being written (never valid on their own)
//! logs/<run>.jsonl   what each acting run (and each vault command) did
//! ```
#![deny(missing_docs)]

pub mod crypt;
pub mod export;
pub mod fault;
pub mod fsops;
pub mod item;
pub mod journal;
pub mod reaper;
mod recover;
pub mod remove;
pub mod replace;
pub mod restore;

use base64::Engine as _;
use crypt::Key;
use fsops::reason;
use fsops::{Dir, OpenHow};
use item::Meta;
use journal::Journal;
use serde::Serialize;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

pub use fsops::Identity;
pub use replace::Replacement;

/// The vault of root when none is given.
#[cfg(unix)]
pub const SYSTEM_VAULT: &str = "/var/lib/takedown/quarantine";

const MARKER: &str = "takedown vault 1\n";

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The vault directory is not safe to use.
    #[error("{0}")]
    Unsafe(String),
    /// An I/O error, with what was being done.
    #[error("{what}: {reason}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// Refused on purpose; nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// No such item.
    #[error("no item {0} in the vault")]
    NoItem(String),
    /// The stored item does not verify.
    #[error("{0}")]
    Damaged(String),
}

impl Error {
    fn io(what: impl Into<String>, e: &io::Error) -> Error {
        Error::Io {
            what: what.into(),
            reason: reason(e),
        }
    }
}

/// The default vault: [`SYSTEM_VAULT`] for root, else
/// `$XDG_DATA_HOME/takedown/quarantine` or
/// `~/.local/share/takedown/quarantine`.
/// (On Windows: `%ProgramData%\\takedown\\quarantine` for an
/// administrator, else `%LOCALAPPDATA%\\takedown\\quarantine`.)
pub fn default_dir() -> Option<PathBuf> {
    fsops::default_vault_dir()
}

/// Bytes of a path for the journal and metadata (exact, base64).
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The bytes back from [`b64`].
pub(crate) fn unb64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

pub(crate) fn path_of_b64(s: &str) -> Option<PathBuf> {
    Some(PathBuf::from(fsops::os_from_bytes(&unb64(s)?)?))
}

/// A record with the name of its pack, or why it could not be read.
pub(crate) type PackRecord = Result<(String, item::Record), Error>;

/// An open vault.
pub struct Vault {
    root: PathBuf,
    dir: Dir,
    items_fd: Dir,
    tmp_fd: Dir,
    key: Key,
    lock: File,
    journal: Journal,
    recovered: Vec<LogEntry>,
    /// Closes removed files off the acting thread; started by the first
    /// removal.
    reaper: Option<reaper::Reaper>,
    /// Removed files that may wait to be closed, at most.
    close_queue: usize,
}

/// Holds the vault lock until dropped.
pub(crate) type Locked = fsops::LockGuard;

/// One line of a run log.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct LogEntry {
    /// When (RFC 3339).
    pub time: String,
    /// `quarantine`, `delete`, `replace`, `restore`, `purge`, `export`,
    /// `recover`.
    pub action: String,
    /// `done`, `refused`, `failed`, `skipped`, `rolled-back`, `finished`.
    pub status: String,
    /// The file acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Vault item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_id: Option<String>,
    /// SHA-256 of the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Detection names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detections: Vec<String>,
    /// Why, for anything but a plain success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl LogEntry {
    /// A new entry stamped now.
    pub fn new(action: &str, status: &str) -> LogEntry {
        LogEntry {
            time: item::now_rfc3339(),
            action: action.into(),
            status: status.into(),
            path: None,
            vault_id: None,
            sha256: None,
            detections: Vec::new(),
            reason: None,
        }
    }
}

/// A run's log in the vault (`logs/<run>.jsonl`).
#[derive(Clone, Debug)]
pub struct Run {
    /// The run's ID.
    pub id: String,
}

impl Vault {
    /// Opens the vault at `dir`, creating it (0700) when `create` is set,
    /// checking that nobody else can write to it, and finishing or rolling
    /// back whatever an interrupted process left in its journal.
    pub fn open(dir: &Path, create: bool) -> Result<Vault, Error> {
        let root = std::path::absolute(dir)
            .map_err(|e| Error::io(format!("vault {}", dir.display()), &e))?;
        let shown = root.display().to_string();
        match std::fs::symlink_metadata(&root) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                if let Some(parent) = root.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        Error::io(
                            format!("cannot create the vault's parent {}", parent.display()),
                            &e,
                        )
                    })?;
                }
                fsops::create_private_dir(&root)
                    .map_err(|e| Error::io(format!("cannot create the vault {shown}"), &e))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::Io {
                    what: format!("vault {shown}"),
                    reason: "does not exist (it is created by the first quarantine)".into(),
                });
            }
            Err(e) => return Err(Error::io(format!("vault {shown}"), &e)),
        }
        check_safe(&root)?;
        let dir =
            fsops::open_dir_nofollow(&root).map_err(|e| Error::io(format!("vault {shown}"), &e))?;
        for sub in ["items", "tmp", "logs"] {
            match fsops::mkdir_at(&dir, OsStr::new(sub)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::io(
                        format!("vault {shown}: cannot create {sub}/"),
                        &e,
                    ));
                }
            }
        }
        let marker = root.join("VAULT");
        if !marker.exists() {
            write_durably(&dir, "VAULT", MARKER.as_bytes())
                .map_err(|e| Error::io(format!("vault {shown}: cannot write VAULT"), &e))?;
        }
        let key = load_or_create_key(&dir, &root)?;
        let open_rw = |name: &str, append: bool| -> Result<File, Error> {
            let how = OpenHow {
                read: true,
                write: true,
                create: true,
                append,
            };
            fsops::open_at(&dir, OsStr::new(name), how)
                .map_err(|e| Error::io(format!("vault {shown}: cannot open {name}"), &e))
        };
        let open_sub = |name: &str| -> Result<Dir, Error> {
            fsops::open_subdir(&dir, OsStr::new(name))
                .map_err(|e| Error::io(format!("vault {shown}: cannot open {name}/"), &e))
        };
        let (items_fd, tmp_fd) = (open_sub("items")?, open_sub("tmp")?);
        let lock = open_rw("lock", false)?;
        let journal = Journal::new(open_rw("journal", true)?);
        let mut vault = Vault {
            root,
            dir,
            items_fd,
            tmp_fd,
            key,
            lock,
            journal,
            recovered: Vec::new(),
            reaper: None,
            close_queue: reaper::DEFAULT_QUEUE,
        };
        vault.recovered = vault.recover()?;
        Ok(vault)
    }

    /// Opens the vault at `dir` only if it exists and its journal shows an
    /// interrupted step, to finish or roll it back; the cheap check every
    /// command makes at start. Returns what was recovered.
    pub fn recover_if_needed(dir: &Path) -> Result<Vec<LogEntry>, Error> {
        let journal = dir.join("journal");
        match std::fs::symlink_metadata(&journal) {
            Ok(m) if m.len() > 0 => {}
            _ => return Ok(Vec::new()),
        }
        let mut v = Vault::open(dir, false)?;
        Ok(v.take_recovered())
    }

    /// What the open finished or rolled back of an interrupted process.
    pub fn take_recovered(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.recovered)
    }

    /// How many removed files may wait to be closed, at most (each holds a
    /// descriptor; see [`reaper`]). Set before the first removal; the
    /// pool then holds at most [`reaper::held`]`(n)` descriptors.
    pub fn set_close_queue(&mut self, n: usize) {
        self.close_queue = n;
    }

    /// The vault directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn lock(&self) -> Result<Locked, Error> {
        fsops::lock_exclusive(&self.lock).map_err(|e| Error::io("cannot lock the vault", &e))
    }

    pub(crate) fn dir_handle(&self) -> &Dir {
        &self.dir
    }

    pub(crate) fn sub(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// `items/<id>.<ext>`.
    pub(crate) fn item_path(&self, id: &str, ext: &str) -> PathBuf {
        self.root.join("items").join(format!("{id}.{ext}"))
    }

    /// Starts the log of an acting run.
    pub fn start_run(&self, command: &[String]) -> Result<Run, Error> {
        let run = Run { id: item::new_id() };
        let head = serde_json::json!({
            "run": run.id,
            "started": item::now_rfc3339(),
            "by": by(),
            "user": fsops::user_id(),
            "command": command,
        });
        self.append_log(&run.id, &[head])?;
        Ok(run)
    }

    /// Appends lines to `logs/<run>.jsonl` and makes them durable.
    pub(crate) fn append_log<T: Serialize>(&self, run: &str, lines: &[T]) -> Result<(), Error> {
        self.append_log_with(run, lines, true)
    }

    /// Makes a run's log durable: an acting scan appends to it batch by
    /// batch without a sync each time (the journal, not the log, is what
    /// recovery relies on) and syncs it once at the end.
    pub fn finish_run(&self, run: &Run) -> Result<(), Error> {
        let path = self.sub("logs").join(format!("{}.jsonl", run.id));
        let what = || format!("cannot write the run log {}", path.display());
        let f = fsops::open_log(&path, false).map_err(|e| Error::io(what(), &e))?;
        f.sync_data().map_err(|e| Error::io(what(), &e))
    }

    pub(crate) fn append_log_with<T: Serialize>(
        &self,
        run: &str,
        lines: &[T],
        sync: bool,
    ) -> Result<(), Error> {
        if lines.is_empty() {
            return Ok(());
        }
        let path = self.sub("logs").join(format!("{run}.jsonl"));
        let mut buf = Vec::new();
        for l in lines {
            serde_json::to_writer(&mut buf, l).map_err(|e| Error::Io {
                what: "run log".into(),
                reason: e.to_string(),
            })?;
            buf.push(b'\n');
        }
        let what = || format!("cannot write the run log {}", path.display());
        let mut f = fsops::open_log(&path, true).map_err(|e| Error::io(what(), &e))?;
        f.write_all(&buf).map_err(|e| Error::io(what(), &e))?;
        if sync {
            f.sync_data().map_err(|e| Error::io(what(), &e))?;
        }
        Ok(())
    }

    /// The pack files in `items/`, oldest first.
    fn packs(&self) -> Result<Vec<String>, Error> {
        let items = self.sub("items");
        let mut packs: Vec<String> = std::fs::read_dir(&items)
            .map_err(|e| Error::io(format!("cannot list {}", items.display()), &e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.strip_suffix(".pack").is_some_and(item::valid_id))
            .collect();
        packs.sort();
        Ok(packs)
    }

    /// Opens `items/<name>` without following links.
    pub(crate) fn open_pack(&self, name: &str, write: bool) -> io::Result<File> {
        let how = if write {
            OpenHow::READ_WRITE
        } else {
            OpenHow::READ
        };
        fsops::open_at(&self.items_fd, OsStr::new(name), how)
    }

    /// The records of every pack (live and purged), each with its pack's
    /// name; a damaged pack or record is an error naming it.
    pub(crate) fn records(&self) -> Result<Vec<PackRecord>, Error> {
        let mut out = Vec::new();
        for name in self.packs()? {
            let shown = || self.sub("items").join(&name).display().to_string();
            let recs = self
                .open_pack(&name, false)
                .map_err(|e| e.to_string())
                .and_then(|f| item::read_records(&f));
            match recs {
                Ok(recs) => out.extend(recs.into_iter().map(|r| {
                    r.map(|r| (name.clone(), r))
                        .map_err(|e| Error::Damaged(format!("{}: {e}", shown())))
                })),
                Err(e) => out.push(Err(Error::Damaged(format!("{}: {e}", shown())))),
            }
        }
        Ok(out)
    }

    /// The pack and record of item `id` (live, or also purged when
    /// `purged` is set).
    pub(crate) fn find(
        &self,
        id: &str,
        purged: bool,
    ) -> Result<Option<(String, item::Record)>, Error> {
        if !item::valid_id(id) {
            return Ok(None);
        }
        Ok(self
            .records()?
            .into_iter()
            .flatten()
            .find(|(_, r)| r.id == id && (purged || r.state == item::LIVE)))
    }

    /// Every item, oldest first. An item whose metadata cannot be read is
    /// returned as an error naming it (the others still list).
    pub fn list(&self) -> Result<Vec<Result<Meta, Error>>, Error> {
        let mut out = Vec::new();
        let mut open: Option<(String, File)> = None;
        for rec in self.records()? {
            let (pack, r) = match rec {
                Ok(x) => x,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            if r.state != item::LIVE {
                continue;
            }
            if open.as_ref().is_none_or(|(n, _)| *n != pack) {
                match self.open_pack(&pack, false) {
                    Ok(f) => open = Some((pack.clone(), f)),
                    Err(e) => {
                        out.push(Err(Error::io(format!("cannot read pack {pack}"), &e)));
                        continue;
                    }
                }
            }
            let Some((_, file)) = &open else { continue };
            out.push(self.meta_of(file, &pack, &r));
        }
        Ok(out)
    }

    fn meta_of(&self, file: &File, pack: &str, r: &item::Record) -> Result<Meta, Error> {
        let mut meta = item::read_meta(file, r)
            .map_err(|e| Error::Damaged(format!("item {} in pack {pack}: {e}", r.id)))?;
        if meta.id != r.id {
            return Err(Error::Damaged(format!(
                "item {} in pack {pack}: its metadata names another item",
                r.id
            )));
        }
        if let Ok(text) = std::fs::read(self.item_path(&r.id, "restored")) {
            meta.restores.extend(
                text.split(|&b| b == b'\n')
                    .filter_map(|l| serde_json::from_slice::<item::RestoreRecord>(l).ok()),
            );
        }
        // Only Windows schedules removals for the next boot.
        if cfg!(windows) {
            meta.removal_at_reboot = item::read_reboot_removal(&self.items_fd, &r.id);
        }
        Ok(meta)
    }

    fn open_item(&self, id: &str) -> Result<(File, String, item::Record), Error> {
        let (pack, r) = self
            .find(id, false)?
            .ok_or_else(|| Error::NoItem(id.to_string()))?;
        let file = self
            .open_pack(&pack, false)
            .map_err(|e| Error::io(format!("cannot read pack {pack}"), &e))?;
        Ok((file, pack, r))
    }

    /// The metadata of item `id`.
    pub fn meta(&self, id: &str) -> Result<Meta, Error> {
        let (file, pack, r) = self.open_item(id)?;
        self.meta_of(&file, &pack, &r)
    }

    /// The items that go with item `id` (whose [`Meta::linked`] names it),
    /// oldest first: what restoring `id` brings back with it. An item whose
    /// metadata cannot be read is left out (it could not be restored
    /// either; [`Vault::list`] names it).
    pub fn linked(&self, id: &str) -> Result<Vec<String>, Error> {
        if !item::valid_id(id) {
            return Err(Error::NoItem(id.to_string()));
        }
        let mut linked: Vec<Meta> = self
            .list()?
            .into_iter()
            .flatten()
            .filter(|m| m.linked.as_deref() == Some(id))
            .collect();
        // Packs sort by the second they were made in; within a second,
        // when each item was stored decides (a stable sort keeps the
        // list's order for an unreadable time).
        linked.sort_by_key(|m| item::parse_rfc3339(&m.quarantined_at));
        Ok(linked.into_iter().map(|m| m.id).collect())
    }

    /// The run logs, oldest first: (run ID, path).
    pub fn runs(&self) -> Result<Vec<(String, PathBuf)>, Error> {
        let logs = self.sub("logs");
        let mut runs: Vec<(String, PathBuf)> = std::fs::read_dir(&logs)
            .map_err(|e| Error::io(format!("cannot list {}", logs.display()), &e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_str()?.strip_suffix(".jsonl")?.to_string();
                Some((name, e.path()))
            })
            .collect();
        runs.sort();
        Ok(runs)
    }

    /// The content of item `id`, decrypted and verified, into `dst`.
    pub fn read_item(&self, id: &str, dst: &mut dyn Write) -> Result<Meta, Error> {
        let (file, pack, r) = self.open_item(id)?;
        let meta = self.meta_of(&file, &pack, &r)?;
        let mut f = &file;
        f.seek(io::SeekFrom::Start(r.content.0))
            .map_err(|e| Error::io(format!("cannot read pack {pack}"), &e))?;
        let mut src = io::BufReader::with_capacity(256 << 10, f.take(r.content.1));
        let mut h = <sha2::Sha256 as sha2::Digest>::new();
        let n = crypt::decrypt(&self.key, id, &mut src, dst, &mut h).map_err(|e| match e {
            crypt::DecryptError::Io(e) => Error::io(format!("item {id}"), &e),
            crypt::DecryptError::Damaged => Error::Damaged(format!("item {id}: {e}")),
        })?;
        let sum = hex::encode(sha2::Digest::finalize(h));
        if n != meta.size || sum != meta.sha256 {
            return Err(Error::Damaged(format!(
                "item {id}: content does not match its metadata (SHA-256 {sum}, expected {})",
                meta.sha256
            )));
        }
        Ok(meta)
    }
}

/// "takedown X.Y.Z": who did it, for metadata and logs.
pub fn by() -> String {
    format!("takedown {}", env!("CARGO_PKG_VERSION"))
}

/// A vault must be a real directory of the user running takedown that
/// nobody else can write to, in a parent nobody else can swap it in.
fn check_safe(root: &Path) -> Result<(), Error> {
    let shown = root.display();
    let m = std::fs::symlink_metadata(root).map_err(|e| Error::io(format!("vault {shown}"), &e))?;
    if m.file_type().is_symlink() {
        return Err(Error::Unsafe(format!(
            "vault {shown} is a symbolic link; refusing to use it (give its real path)"
        )));
    }
    if !m.is_dir() {
        return Err(Error::Unsafe(format!("vault {shown} is not a directory")));
    }
    fsops::check_vault_dir(root, &m).map_err(Error::Unsafe)
}

/// Writes a small file in `dir` through a temporary name, durably.
pub(crate) fn write_durably(dir: &Dir, name: &str, data: &[u8]) -> io::Result<()> {
    let tmp = format!("{name}.tmp");
    let _ = fsops::unlink_at(dir, OsStr::new(&tmp));
    let mut f = fsops::create_excl(dir, OsStr::new(&tmp))?;
    f.write_all(data)?;
    f.sync_all()?;
    // Closed before the rename: Windows renames only a file nobody holds
    // open without sharing deletion.
    drop(f);
    fsops::rename_at(dir, OsStr::new(&tmp), dir, OsStr::new(name), false)?;
    fsops::fsync_dir(dir)
}

fn load_or_create_key(dir: &Dir, root: &Path) -> Result<Key, Error> {
    let shown = root.join("key");
    let what = || format!("vault key {}", shown.display());
    match fsops::open_at(dir, OsStr::new("key"), OpenHow::READ) {
        Ok(fd) => {
            let st = fsops::stat_file(&fd).map_err(|e| Error::io(what(), &e))?;
            if !fsops::private_file(&st) {
                return Err(Error::Unsafe(format!(
                    "{} must be a file of yours with mode 600; refusing to use the vault",
                    shown.display()
                )));
            }
            let mut b = Vec::new();
            fd.take(64)
                .read_to_end(&mut b)
                .map_err(|e| Error::io(what(), &e))?;
            Key::from_bytes(&b)
                .ok_or_else(|| Error::Damaged(format!("{}: not a vault key", shown.display())))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = Key::generate().map_err(|e| Error::io(what(), &e))?;
            write_durably(dir, "key", key.bytes()).map_err(|e| Error::io(what(), &e))?;
            Ok(key)
        }
        Err(e) => Err(Error::io(what(), &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn vault_is_created_private_and_refused_when_others_can_write() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("v");
        assert!(
            Vault::open(&dir, false).is_err(),
            "not created without asking"
        );
        let v = Vault::open(&dir, true).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let key_mode = std::fs::metadata(dir.join("key")).unwrap().mode() & 0o777;
        assert_eq!(key_mode, 0o600);
        drop(v);
        // Reopen: same key.
        let k1 = std::fs::read(dir.join("key")).unwrap();
        Vault::open(&dir, false).unwrap();
        assert_eq!(std::fs::read(dir.join("key")).unwrap(), k1);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = Vault::open(&dir, false).err().unwrap().to_string();
        assert!(err.contains("writable by others"), "{err}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        // A link to a vault is refused.
        std::os::unix::fs::symlink(&dir, t.path().join("link")).unwrap();
        let err = Vault::open(&t.path().join("link"), false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("symbolic link"), "{err}");
        // A key readable by others is refused.
        std::fs::set_permissions(dir.join("key"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Vault::open(&dir, false).err().unwrap().to_string();
        assert!(err.contains("mode 600"), "{err}");
    }

    #[test]
    fn ids_do_not_collide_within_a_second() {
        let ids: std::collections::HashSet<String> = (0..50_000).map(|_| item::new_id()).collect();
        assert_eq!(ids.len(), 50_000);
    }

    #[test]
    fn ids_are_checked_before_they_name_paths() {
        assert!(item::valid_id(&item::new_id()));
        for bad in ["", "../x", "a/b", ".", "..", "x y"] {
            assert!(!item::valid_id(bad), "{bad}");
        }
    }
}
