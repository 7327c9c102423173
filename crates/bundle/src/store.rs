//! The installed signature sets: where they live, how one is switched in
//! atomically, and how to go back.
//!
//! ```text
//! DIR/
//!   lock                  held (flock) by the update or rollback in progress
//!   current -> bundles/N  the active set: scan and serve load this
//!   previous -> bundles/M the set before it, for `update --rollback`
//!   bundles/N/            unpacked files, plus .bundle-info.json
//!   tmp/                  staging of the update in progress
//! ```
//!
//! An update unpacks into `tmp/`, syncs every file and directory, renames
//! the staged directory to `bundles/N`, asks the caller whether it loads,
//! then points `previous` at the old set and `current` at the new one,
//! each link made under a temporary name and renamed over the old one
//! (rename(2) is atomic), then syncs `DIR`. Whenever the process dies,
//! `current` names a whole, synced set: the old one or the new one.
//! Anything neither link names is removed by the next update.

use crate::format::{FileEntry, FileSink, Opened, Signer};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Installed sets of root.
pub const SYSTEM_DIR: &str = "/var/lib/takedown/signatures";
const CURRENT: &str = "current";
const PREVIOUS: &str = "previous";
const BUNDLES: &str = "bundles";
const TMP: &str = "tmp";
const LOCK: &str = "lock";
/// Written into each installed set; hidden, so the loader skips it.
pub const INFO_FILE: &str = ".bundle-info.json";
/// An info file is a few hundred bytes.
const MAX_INFO_FILE: u64 = 64 * 1024;

/// The default directory: [`SYSTEM_DIR`] for root, else
/// `$XDG_DATA_HOME/takedown/signatures` or
/// `~/.local/share/takedown/signatures` (next to the quarantine vault);
/// on Windows `%LOCALAPPDATA%\takedown\signatures`.
pub fn default_dir() -> Option<PathBuf> {
    if crate::os::is_admin() {
        return Some(PathBuf::from(SYSTEM_DIR));
    }
    let data = crate::os::user_data_dir()?;
    Some(data.join("takedown").join("signatures"))
}

/// What an installed set was made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// The bundle's version.
    pub version: u64,
    /// When the bundle was made (Unix seconds).
    pub created: u64,
    /// Who signed it; `None` for an unsigned bundle.
    pub key_id: Option<String>,
    /// Files in the set.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// When it was installed (Unix seconds).
    pub installed: u64,
    /// Where it came from (URL or path).
    pub source: String,
}

/// An installed set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// Its version (from its directory name).
    pub version: u64,
    /// Its directory, `DIR/bundles/N`.
    pub dir: PathBuf,
    /// What it was made from; `None` when the info file is unreadable.
    pub info: Option<Info>,
}

/// The installed sets in one directory.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `dir` (nothing is read or created yet).
    pub fn at(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The active set, if any. Reading only: no lock is taken.
    pub fn current(&self) -> Result<Option<Installed>> {
        self.link(CURRENT)
    }

    /// The set kept for a rollback, if any.
    pub fn previous(&self) -> Result<Option<Installed>> {
        self.link(PREVIOUS)
    }

    fn link(&self, name: &str) -> Result<Option<Installed>> {
        let path = self.dir.join(name);
        let target = match std::fs::read_link(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::io(
                    format!("cannot read the link {}", path.display()),
                    e,
                ));
            }
        };
        let version = version_of_target(&target).ok_or_else(|| {
            Error::Invalid(format!(
                "{} points to {}, not to a set this takedown installed",
                path.display(),
                target.display()
            ))
        })?;
        let dir = self.dir.join(BUNDLES).join(version.to_string());
        let info = read_info(&dir);
        Ok(Some(Installed { version, dir, info }))
    }

    /// Takes the update lock (creating the directory if needed), refusing
    /// a directory other users can write, and clears what an interrupted
    /// update left behind.
    pub fn lock(&self) -> Result<Locked<'_>> {
        crate::os::dir_builder()
            .recursive(true)
            .create(&self.dir)
            .map_err(|e| Error::io(format!("cannot create {}", self.dir.display()), e))?;
        let meta = std::fs::symlink_metadata(&self.dir)
            .map_err(|e| Error::io(format!("cannot read {}", self.dir.display()), e))?;
        crate::os::check_not_writable_by_others(&self.dir, &meta)
            .map_err(|e| Error::Invalid(format!("signatures directory: {e}")))?;
        let lock_path = self.dir.join(LOCK);
        let lock = crate::os::create_options(true, true)
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(format!("cannot open {}", lock_path.display()), e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Busy(format!(
                    "another update or rollback is running (it holds {})",
                    lock_path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("cannot lock {}", lock_path.display()), e));
            }
        }
        let locked = Locked {
            store: self,
            _lock: lock,
        };
        locked.collect_garbage()?;
        Ok(locked)
    }
}

fn version_of_target(target: &Path) -> Option<u64> {
    let mut parts = target.components();
    let first = parts.next()?;
    let second = parts.next()?;
    if parts.next().is_some() || first.as_os_str() != BUNDLES {
        return None;
    }
    let name = second.as_os_str().to_str()?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) || name.starts_with('0') {
        return None;
    }
    name.parse().ok()
}

fn read_info(dir: &Path) -> Option<Info> {
    let f = File::open(dir.join(INFO_FILE)).ok()?;
    let mut bytes = Vec::new();
    f.take(MAX_INFO_FILE).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("cannot sync {}", dir.display()), e))
}

fn mkdir(path: &Path) -> Result<()> {
    match crate::os::dir_builder().create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(format!("cannot create {}", path.display()), e)),
    }
}

fn remove_tree(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("cannot remove {}", path.display()), e)),
    }
}

/// The store with its lock held: the only way to change it.
pub struct Locked<'a> {
    store: &'a Store,
    _lock: File,
}

/// Where [`Locked::install`] unpacks: files created new below the staging
/// directory, each synced, directories synced at the end.
struct Unpack {
    root: PathBuf,
    dirs: Vec<PathBuf>,
    file: Option<File>,
}

impl FileSink for Unpack {
    fn start(&mut self, entry: &FileEntry) -> Result<()> {
        // The path was checked by the manifest rules: relative, plain
        // names only, so joining stays below `root`.
        let path = self.root.join(&entry.path);
        if let Some(parent) = path.parent() {
            let mut at = parent;
            let mut missing = Vec::new();
            while at != self.root && !at.is_dir() {
                missing.push(at.to_path_buf());
                at = match at.parent() {
                    Some(p) => p,
                    None => break,
                };
            }
            for d in missing.into_iter().rev() {
                mkdir(&d)?;
                self.dirs.push(d);
            }
        }
        let f = crate::os::create_options(true, true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        self.file = Some(f);
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.file {
            Some(f) => f
                .write_all(bytes)
                .map_err(|e| Error::io(format!("cannot write below {}", self.root.display()), e)),
            None => Ok(()),
        }
    }

    fn finish(&mut self, entry: &FileEntry) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| {
                Error::io(
                    format!("cannot sync {}", self.root.join(&entry.path).display()),
                    e,
                )
            })?;
        }
        Ok(())
    }
}

impl Locked<'_> {
    /// The active set.
    pub fn current(&self) -> Result<Option<Installed>> {
        self.store.current()
    }

    /// The set kept for a rollback.
    pub fn previous(&self) -> Result<Option<Installed>> {
        self.store.previous()
    }

    /// Refuses a version that is not newer than every installed set (the
    /// active one and the one kept for a rollback): the same version as
    /// the active one is [`Error::UpToDate`], anything else not newer is
    /// [`Error::NotNewer`].
    pub fn check_newer(&self, offered: u64) -> Result<()> {
        let current = self.current()?;
        let previous = self.previous()?;
        if let Some(c) = &current
            && c.version == offered
        {
            return Err(Error::UpToDate(offered));
        }
        let newest = current
            .iter()
            .chain(previous.iter())
            .max_by_key(|i| i.version);
        match newest {
            Some(n) if n.version >= offered => {
                let rolled_back = previous
                    .as_ref()
                    .zip(current.as_ref())
                    .is_some_and(|(p, c)| p.version > c.version);
                Err(Error::NotNewer(if rolled_back {
                    format!(
                        "refusing a downgrade: the bundle is version {offered}, and version {} is installed (kept after a rollback; `takedown update --rollback` switches back to it)",
                        n.version
                    )
                } else {
                    format!(
                        "refusing a downgrade: the bundle is version {offered}, and version {} is installed",
                        n.version
                    )
                }))
            }
            _ => Ok(()),
        }
    }

    /// Installs an opened bundle: checks its version, unpacks and checks
    /// every file, asks `check` whether the unpacked set loads (its error
    /// is the reason to refuse), then switches to it. On any error the
    /// active set is untouched.
    pub fn install<R: Read>(
        &self,
        bundle: Opened<R>,
        source: &str,
        check: impl FnOnce(&Path) -> std::result::Result<(), String>,
    ) -> Result<Installed> {
        self.check_newer(bundle.manifest().version)?;
        let result = self.unpack_check_switch(bundle, source, check);
        if result.is_err() {
            // Whatever was staged goes; the links were not touched (or the
            // error came after the switch, and the new set is whole).
            let _ = remove_tree(&self.store.dir.join(TMP));
        }
        result
    }

    fn unpack_check_switch<R: Read>(
        &self,
        bundle: Opened<R>,
        source: &str,
        check: impl FnOnce(&Path) -> std::result::Result<(), String>,
    ) -> Result<Installed> {
        let manifest = bundle.manifest().clone();
        let version = manifest.version;
        let dir = &self.store.dir;
        let tmp = dir.join(TMP);
        mkdir(&tmp)?;
        let stage = tmp.join(format!("stage-{version}"));
        remove_tree(&stage)?;
        mkdir(&stage)?;
        let info = Info {
            version,
            created: manifest.created,
            key_id: match bundle.signer() {
                Signer::Key(id) => Some(id.clone()),
                Signer::Unsigned => None,
            },
            files: manifest.files.len(),
            bytes: manifest.total_size(),
            installed: crate::now_unix(),
            source: source.to_string(),
        };
        let mut unpack = Unpack {
            root: stage.clone(),
            dirs: Vec::new(),
            file: None,
        };
        let unpacked = bundle.read_files(&mut unpack).and_then(|()| {
            let json = serde_json::to_vec_pretty(&info)
                .map_err(|e| Error::Invalid(format!("cannot encode {INFO_FILE}: {e}")))?;
            let info_path = stage.join(INFO_FILE);
            let mut f = crate::os::create_options(true, false)
                .write(true)
                .create_new(true)
                .open(&info_path)
                .map_err(|e| Error::io(format!("cannot create {}", info_path.display()), e))?;
            f.write_all(&json)
                .and_then(|()| f.sync_all())
                .map_err(|e| Error::io(format!("cannot write {}", info_path.display()), e))?;
            for d in unpack.dirs.iter().rev() {
                sync_dir(d)?;
            }
            sync_dir(&stage)
        });
        if let Err(e) = unpacked {
            let _ = remove_tree(&stage);
            return Err(e);
        }
        let bundles = dir.join(BUNDLES);
        mkdir(&bundles)?;
        let target = bundles.join(version.to_string());
        remove_tree(&target)?;
        std::fs::rename(&stage, &target).map_err(|e| {
            let _ = remove_tree(&stage);
            Error::io(
                format!("cannot move the new set to {}", target.display()),
                e,
            )
        })?;
        sync_dir(&bundles)?;
        sync_dir(&tmp)?;
        if let Err(why) = check(&target) {
            let _ = remove_tree(&target);
            let _ = sync_dir(&bundles);
            return Err(Error::Rejected(format!(
                "the signatures in the bundle do not load: {why}"
            )));
        }
        let old = self.current()?;
        if let Some(old) = &old {
            self.set_link(PREVIOUS, old.version)?;
        }
        self.set_link(CURRENT, version)?;
        self.collect_garbage()?;
        Ok(Installed {
            version,
            dir: target,
            info: Some(info),
        })
    }

    /// Makes the kept set active and keeps the active one in its place, so
    /// a second rollback switches back. Returns (was active, now active).
    pub fn rollback(&self) -> Result<(Installed, Installed)> {
        let (Some(current), Some(previous)) = (self.current()?, self.previous()?) else {
            return Err(Error::Invalid(
                "nothing to roll back to: no previous signature set is kept".into(),
            ));
        };
        if !previous.dir.is_dir() {
            return Err(Error::Invalid(format!(
                "the previous set {} is missing",
                previous.dir.display()
            )));
        }
        // `current` first: a crash between the two leaves both links on
        // the old set, whole, and the newer one unnamed (removed later).
        self.set_link(CURRENT, previous.version)?;
        self.set_link(PREVIOUS, current.version)?;
        Ok((current, previous))
    }

    /// Points `name` at `bundles/version`: a new link under a temporary
    /// name, renamed over the old one, then the directory synced.
    fn set_link(&self, name: &str, version: u64) -> Result<()> {
        let dir = &self.store.dir;
        let tmp = dir.join(format!(".{name}.new"));
        let _ = std::fs::remove_file(&tmp);
        let target = Path::new(BUNDLES).join(version.to_string());
        crate::os::dir_link(&target, &tmp)
            .map_err(|e| Error::io(format!("cannot create the link {}", tmp.display()), e))?;
        let path = dir.join(name);
        std::fs::rename(&tmp, &path)
            .map_err(|e| Error::io(format!("cannot replace {}", path.display()), e))?;
        sync_dir(dir)
    }

    /// Removes staging leftovers and every set neither link names.
    fn collect_garbage(&self) -> Result<()> {
        let dir = &self.store.dir;
        remove_tree(&dir.join(TMP))?;
        let keep: Vec<u64> = [self.current()?, self.previous()?]
            .into_iter()
            .flatten()
            .map(|i| i.version)
            .collect();
        let bundles = dir.join(BUNDLES);
        let entries = match std::fs::read_dir(&bundles) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("cannot read {}", bundles.display()), e)),
        };
        let mut removed = false;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let version = version_of_target(&Path::new(BUNDLES).join(&name));
            if version.is_some_and(|v| keep.contains(&v)) {
                continue;
            }
            let path = entry.path();
            tracing::debug!("removing the unused set {}", path.display());
            let result = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&path)
            } else {
                std::fs::remove_file(&path)
                    .map_err(|e| Error::io(format!("cannot remove {}", path.display()), e))
            };
            if let Err(e) = result {
                tracing::warn!("{e}");
            }
            removed = true;
        }
        if removed {
            sync_dir(&bundles)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{self, Trust};

    fn bundle(dir: &Path, version: u64, files: &[(&str, &str)]) -> Vec<u8> {
        let src = dir.join(format!("src-{version}"));
        for (rel, data) in files {
            let p = src.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        let out = dir.join(format!("b-{version}.tdsb"));
        let list = format::collect_dir(&src).unwrap();
        format::write(&out, &list, version, 0, None).unwrap();
        std::fs::read(out).unwrap()
    }

    fn allow() -> Trust {
        Trust {
            allow_unsigned: true,
            ..Trust::default()
        }
    }

    fn install(store: &Store, bytes: &[u8]) -> Result<Installed> {
        let opened = format::open(bytes, &allow())?;
        store.lock()?.install(opened, "test", |_| Ok(()))
    }

    #[test]
    fn install_update_rollback_and_downgrade() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::at(t.path().join("sigs"));
        assert_eq!(store.current().unwrap(), None);
        let b1 = bundle(t.path(), 1, &[("r/a.yar", "one")]);
        let b2 = bundle(t.path(), 2, &[("r/a.yar", "two"), ("b.yar", "b")]);
        let b3 = bundle(t.path(), 3, &[("c.yar", "three")]);

        let i1 = install(&store, &b1).unwrap();
        assert_eq!(i1.version, 1);
        let cur = store.current().unwrap().unwrap();
        assert_eq!(cur.version, 1);
        assert_eq!(
            std::fs::read_to_string(cur.dir.join("r/a.yar")).unwrap(),
            "one"
        );
        assert_eq!(cur.info.unwrap().source, "test");
        assert!(store.previous().unwrap().is_none());

        let e = install(&store, &b1).unwrap_err();
        assert!(matches!(e, Error::UpToDate(1)), "{e}");

        install(&store, &b2).unwrap();
        assert_eq!(store.current().unwrap().unwrap().version, 2);
        assert_eq!(store.previous().unwrap().unwrap().version, 1);

        let e = install(&store, &b1).unwrap_err().to_string();
        assert!(e.contains("version 1, and version 2 is installed"), "{e}");

        let (from, to) = store.lock().unwrap().rollback().unwrap();
        assert_eq!((from.version, to.version), (2, 1));
        assert_eq!(store.current().unwrap().unwrap().version, 1);
        // Version 2 is still kept: not reinstalled, and a second rollback
        // switches back to it.
        let e = install(&store, &b2).unwrap_err().to_string();
        assert!(e.contains("--rollback"), "{e}");
        store.lock().unwrap().rollback().unwrap();
        assert_eq!(store.current().unwrap().unwrap().version, 2);

        install(&store, &b3).unwrap();
        assert_eq!(store.previous().unwrap().unwrap().version, 2);
        // Version 1 is no longer named by either link: removed.
        let mut left: Vec<String> = std::fs::read_dir(store.dir().join(BUNDLES))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec!["2", "3"]);
    }

    #[test]
    fn a_refused_bundle_leaves_the_active_set_alone() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::at(t.path().join("sigs"));
        let b1 = bundle(t.path(), 1, &[("a.yar", "one")]);
        install(&store, &b1).unwrap();
        let before = std::fs::read_link(store.dir().join(CURRENT)).unwrap();

        // Does not load.
        let b2 = bundle(t.path(), 2, &[("a.yar", "broken")]);
        let e = store
            .lock()
            .unwrap()
            .install(format::open(b2.as_slice(), &allow()).unwrap(), "t", |dir| {
                Err(format!(
                    "{} has a syntax error",
                    dir.join("a.yar").display()
                ))
            })
            .unwrap_err();
        assert!(matches!(e, Error::Rejected(_)), "{e}");
        assert!(!store.dir().join("bundles/2").exists());

        // Truncated half-way through a file.
        let cut = &b2[..b2.len() - 2];
        let e = install(&store, cut).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        // Altered content.
        let mut bad = b2.clone();
        *bad.last_mut().unwrap() ^= 1;
        let e = install(&store, &bad).unwrap_err().to_string();
        assert!(e.contains("SHA-256"), "{e}");

        assert_eq!(
            std::fs::read_link(store.dir().join(CURRENT)).unwrap(),
            before
        );
        let cur = store.current().unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(cur.dir.join("a.yar")).unwrap(),
            "one"
        );
        assert!(!store.dir().join("bundles/2").exists());
        assert!(!store.dir().join("tmp/stage-2").exists());
        assert!(store.lock().unwrap().rollback().is_err());
    }

    #[test]
    fn one_update_at_a_time() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::at(t.path().join("sigs"));
        let held = store.lock().unwrap();
        let e = store.lock().err().unwrap().to_string();
        assert!(e.contains("another update or rollback is running"), "{e}");
        drop(held);
        store.lock().unwrap();
    }

    #[test]
    fn leftovers_of_a_crash_are_cleared() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::at(t.path().join("sigs"));
        install(&store, &bundle(t.path(), 1, &[("a.yar", "one")])).unwrap();
        // As if an update died after moving its set into place but before
        // switching: a stray set and a staging directory.
        std::fs::create_dir_all(store.dir().join("bundles/9")).unwrap();
        std::fs::create_dir_all(store.dir().join("tmp/stage-9/x")).unwrap();
        let locked = store.lock().unwrap();
        assert!(!store.dir().join("bundles/9").exists());
        assert!(!store.dir().join("tmp").exists());
        assert_eq!(locked.current().unwrap().unwrap().version, 1);
    }

    #[test]
    #[cfg(unix)] // Mode bits and symbolic links made by the test.
    fn links_not_made_here_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::at(t.path());
        std::os::unix::fs::symlink("/etc", t.path().join(CURRENT)).unwrap();
        let e = store.current().unwrap_err().to_string();
        assert!(e.contains("not to a set this takedown installed"), "{e}");
        for bad in [
            "bundles/01",
            "bundles/x",
            "bundles/1/2",
            "other/1",
            "bundles/",
        ] {
            assert_eq!(version_of_target(Path::new(bad)), None, "{bad}");
        }
        assert_eq!(version_of_target(Path::new("bundles/12")), Some(12));
    }

    #[test]
    #[cfg(unix)] // Mode bits and symbolic links made by the test.
    fn a_directory_others_can_write_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("sigs");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let e = Store::at(&dir).lock().err().unwrap().to_string();
        assert!(e.contains("writable by other users"), "{e}");
    }
}
