//! The outbox transport: each message written as `<dir>/<id>.eml`, for a
//! mail system (or a person) to pick up.
//!
//! A file appears whole or not at all: written to a temporary file in the
//! same directory, fsynced, linked to its name (a link, unlike a rename,
//! never replaces a file already there), the directory fsynced. Then an
//! empty marker `<dir>/.delivered/<id>` is made (and that directory
//! fsynced) before the notice counts as sent.
//!
//! Redoing a notice after a kill (it is still `Sending`) finds its file
//! with the same bytes and counts it as done; or finds no file but the
//! marker, because a mail system already took the file away, and counts
//! it as done too instead of writing it a second time. A file of that
//! name with other bytes is never overwritten (a temporary failure
//! naming it: someone must look).
//!
//! So a mail system picking up the outbox may move or delete `<id>.eml`
//! files (once whole: they appear by a link, never half-written), but
//! must leave `.delivered/` alone; its markers are what keeps a notice
//! from being written twice. Only a kill between the link and the marker
//! (a few system calls), with the file taken away before the rerun, can
//! still make a second copy.

use super::{SendError, Transport};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Temporary files older than this, left by a killed run, are removed
/// when an outbox is opened (younger ones may be another run's).
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The directory of the markers of written notices, inside the outbox.
const DELIVERED: &str = ".delivered";

/// An outbox directory (see the module documentation).
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// Opens (creating it when missing) the outbox directory and its
    /// `.delivered` directory of markers, and removes the stale temporary
    /// files of killed runs.
    pub fn new(dir: &Path) -> Result<Outbox, io::Error> {
        fs::create_dir_all(dir)?;
        if !fs::metadata(dir)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ));
        }
        let delivered = dir.join(DELIVERED);
        match fs::create_dir(&delivered) {
            Ok(()) => sync_dir(dir)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        // Not a link to elsewhere: markers are made inside the outbox.
        if !fs::symlink_metadata(&delivered)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", delivered.display()),
            ));
        }
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = name.starts_with('.') && name.ends_with(".tmp") && name.contains(".eml.");
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMP);
            if ours && stale {
                // Best effort: a file another process just removed is gone
                // either way.
                let _ = fs::remove_file(entry.path());
            }
        }
        // Absolute, so that `via` says where the file went whatever the
        // working directory of whoever reads the journal.
        Ok(Outbox {
            dir: fs::canonicalize(dir)?,
        })
    }

    /// The file a notice is written to.
    pub fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.eml"))
    }

    /// The marker that says a notice's file was written whole.
    fn marker_of(&self, id: &str) -> PathBuf {
        self.dir.join(DELIVERED).join(id)
    }

    /// Makes the marker of a written notice, durably.
    fn mark(&self, id: &str) -> Result<(), SendError> {
        let marker = self.marker_of(id);
        let failed = |what: &str, path: &Path, e: io::Error| {
            SendError::Temporary(format!("{what} {}: {e}", path.display()))
        };
        match File::options().write(true).create_new(true).open(&marker) {
            Ok(f) => f.sync_all().map_err(|e| failed("syncing", &marker, e))?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(failed("creating", &marker, e)),
        }
        let dir = self.dir.join(DELIVERED);
        sync_dir(&dir).map_err(|e| failed("syncing", &dir, e))
    }

    fn write(&self, id: &str, message: &[u8]) -> Result<(), SendError> {
        let target = self.path_of(id);
        let temp = self
            .dir
            .join(format!(".{id}.eml.{}.{}.tmp", std::process::id(), {
                static N: AtomicU64 = AtomicU64::new(0);
                N.fetch_add(1, Ordering::Relaxed)
            }));
        let failed = |what: &str, path: &Path, e: io::Error| {
            SendError::Temporary(format!("{what} {}: {e}", path.display()))
        };
        let result = (|| {
            let mut f = File::options()
                .write(true)
                .create_new(true)
                .open(&temp)
                .map_err(|e| failed("creating", &temp, e))?;
            f.write_all(message)
                .and_then(|_| f.sync_all())
                .map_err(|e| failed("writing", &temp, e))?;
            drop(f);
            match fs::hard_link(&temp, &target) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                // A file system without hard links: a rename, after the
                // check above found no file of that name (the run lock
                // keeps other runs out meanwhile).
                Err(_) => fs::rename(&temp, &target)
                    .map(|_| true)
                    .map_err(|e| failed("renaming to", &target, e)),
            }
        })();
        let _ = fs::remove_file(&temp);
        match result? {
            true => sync_dir(&self.dir).map_err(|e| failed("syncing", &self.dir, e)),
            // Appeared meanwhile: the same bytes are as good as ours.
            false => match same_file(&target, message)? {
                true => Ok(()),
                false => Err(differs(&target)),
            },
        }
    }
}

impl Transport for Outbox {
    fn name(&self) -> String {
        format!("outbox:{}", self.dir.display())
    }

    fn send(&mut self, id: &str, _to: &str, message: &[u8]) -> Result<String, SendError> {
        if id.is_empty()
            || id.len() > 128
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(SendError::Permanent(format!(
                "notice id {id:?} cannot name a file"
            )));
        }
        let target = self.path_of(id);
        if fs::symlink_metadata(&target).is_ok() {
            // Redone after a kill: already written, or someone else's.
            return match same_file(&target, message)? {
                true => self.mark(id).map(|()| String::new()),
                false => Err(differs(&target)),
            };
        }
        if fs::symlink_metadata(self.marker_of(id)).is_ok() {
            // Written by a killed run, then taken by the mail system:
            // done, not written twice.
            return Ok("written before, since picked up".into());
        }
        self.write(id, message)?;
        self.mark(id)?;
        Ok(String::new())
    }

    fn idempotent(&self) -> bool {
        true
    }
}

fn differs(path: &Path) -> SendError {
    SendError::Temporary(format!(
        "{} exists with other content; not overwritten (move it away to deliver this notice)",
        path.display()
    ))
}

/// Whether the regular file at `path` holds exactly `message` (reading at
/// most one byte more than it).
fn same_file(path: &Path, message: &[u8]) -> Result<bool, SendError> {
    let fail = |e: io::Error| SendError::Temporary(format!("reading {}: {e}", path.display()));
    let meta = fs::symlink_metadata(path).map_err(fail)?;
    if !meta.is_file() {
        return Err(SendError::Temporary(format!(
            "{} exists and is not a regular file; not overwritten",
            path.display()
        )));
    }
    if meta.len() != message.len() as u64 {
        return Ok(false);
    }
    let mut have = Vec::with_capacity(message.len());
    File::open(path)
        .and_then(|f| f.take(message.len() as u64 + 1).read_to_end(&mut have))
        .map_err(fail)?;
    Ok(have == message)
}

/// Makes the directory's entries (a new name) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_once_redone_harmlessly_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::new(&dir.path().join("out")).unwrap();
        assert!(o.idempotent());
        o.send("abc", "a@example.net", b"one\r\n").unwrap();
        let file = dir.path().join("out/abc.eml");
        assert_eq!(fs::read(&file).unwrap(), b"one\r\n");
        o.send("abc", "a@example.net", b"one\r\n").unwrap();
        let err = o.send("abc", "a@example.net", b"two\r\n").unwrap_err();
        assert!(
            matches!(&err, SendError::Temporary(e) if e.contains("abc.eml") && e.contains("not overwritten")),
            "{err:?}"
        );
        assert_eq!(fs::read(&file).unwrap(), b"one\r\n");
        // Only the one file and its marker: no temporary left behind.
        let mut names: Vec<_> = fs::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, [".delivered", "abc.eml"]);
        let marker = dir.path().join("out/.delivered/abc");
        assert_eq!(fs::read(marker).unwrap(), b"");
    }

    /// A mail system took the file away after a run wrote it and was
    /// killed before the journal said Sent: the redo does not write it a
    /// second time.
    #[test]
    fn a_file_picked_up_is_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::new(dir.path()).unwrap();
        o.send("abc", "a@example.net", b"one\r\n").unwrap();
        fs::remove_file(dir.path().join("abc.eml")).unwrap();
        let detail = o.send("abc", "a@example.net", b"one\r\n").unwrap();
        assert!(detail.contains("picked up"), "{detail}");
        assert!(!dir.path().join("abc.eml").exists());
        // Another notice is written as usual, and so is this one once its
        // marker is gone.
        o.send("abd", "a@example.net", b"two\r\n").unwrap();
        assert!(dir.path().join("abd.eml").exists());
        fs::remove_file(dir.path().join(".delivered/abc")).unwrap();
        o.send("abc", "a@example.net", b"one\r\n").unwrap();
        assert_eq!(fs::read(dir.path().join("abc.eml")).unwrap(), b"one\r\n");
        // A file left by a run killed before its marker: marked on redo.
        fs::write(dir.path().join("abe.eml"), b"three\r\n").unwrap();
        o.send("abe", "a@example.net", b"three\r\n").unwrap();
        assert!(dir.path().join(".delivered/abe").exists());
    }

    #[test]
    fn a_marker_directory_that_is_not_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(".delivered")).unwrap();
        let err = Outbox::new(dir.path()).unwrap_err();
        assert!(err.to_string().contains(".delivered"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".delivered"), b"").unwrap();
        assert!(Outbox::new(dir.path()).is_err());
    }

    #[test]
    fn ids_that_are_not_file_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::new(dir.path()).unwrap();
        for id in ["../evil", "", "a/b", ".hidden"] {
            assert!(matches!(
                o.send(id, "a@b", b"x"),
                Err(SendError::Permanent(_))
            ));
        }
    }

    #[test]
    fn a_link_in_the_way_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::write(&target, b"x").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("abc.eml")).unwrap();
        let mut o = Outbox::new(dir.path()).unwrap();
        assert!(o.send("abc", "a@b", b"x").is_err());
        assert_eq!(fs::read(&target).unwrap(), b"x");
    }

    #[test]
    fn stale_temporaries_are_removed_young_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(".abc.eml.1.0.tmp");
        let young = dir.path().join(".abd.eml.1.0.tmp");
        let other = dir.path().join(".keep.tmp");
        for p in [&old, &young, &other] {
            fs::write(p, b"x").unwrap();
        }
        let hours_ago = SystemTime::now() - Duration::from_secs(7200);
        for p in [&old, &other] {
            File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(hours_ago)
                .unwrap();
        }
        Outbox::new(dir.path()).unwrap();
        assert!(!old.exists());
        assert!(young.exists() && other.exists());
    }
}
