//! Reading files of a Linux root without ever leaving it.
//!
//! The root may be a victim's disk: any symbolic link on it may point
//! anywhere (`/etc/shadow` of the rescue system, `/dev/zero`, a FIFO that
//! blocks forever). So no path is handed to the OS with links still in
//! it: every component is checked with `symlink_metadata`, and a link's
//! target is resolved here, relative to the root, with a bounded number of
//! hops. Only regular files are opened, and only their first
//! [`MAX_FILE_BYTES`] are read.

use crate::open::open_regular;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Symbolic links followed while resolving one path (Linux allows 40): a
/// loop of links on the disk ends here.
pub(crate) const MAX_LINK_HOPS: usize = 40;
/// Bytes read from one file: autostart files are small; a huge file
/// planted to exhaust memory is read only this far (and reported).
pub(crate) const MAX_FILE_BYTES: u64 = 1 << 20;
/// Entries listed from one directory: a directory with millions of files
/// (made to slow the listing down) is cut here and reported.
pub(crate) const MAX_DIR_ENTRIES: usize = 10_000;

/// What a path is, after resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A device, FIFO, socket: never opened.
    Other,
}

/// A path resolved under the root.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    /// The path on this machine (the root's base joined with `logical`).
    pub host: PathBuf,
    /// The path from the root, links resolved (`/usr/bin/x`).
    pub logical: PathBuf,
}

/// A Linux root (`/` or a mounted disk).
#[derive(Clone, Debug)]
pub(crate) struct Root {
    base: PathBuf,
}

impl Root {
    /// The root at `base`.
    pub(crate) fn new(base: &Path) -> Root {
        Root {
            base: base.to_path_buf(),
        }
    }

    /// Resolves `logical` (a path from the root, `/etc/rc2.d/S01x`) with
    /// every symbolic link resolved under the root. A missing component
    /// ends nothing: the rest is appended as written (the caller checks
    /// existence). `..` never climbs above the root. A `..` after a
    /// missing component is an error ("no such file or directory").
    pub(crate) fn resolve(&self, logical: &Path) -> Result<Resolved, String> {
        self.walk(logical)?
            .ok_or_else(|| "no such file or directory".to_string())
    }

    /// [`Root::resolve`], with `Ok(None)` when a `..` follows a missing
    /// component.
    ///
    /// Why: the components after a missing one are not checked (they
    /// cannot exist), so a `..` there must not bring them back into play:
    /// `/nonexistent/../h/root` with `h -> /` on the disk would otherwise
    /// give `<base>/h/root`, and the OS would follow `h` to the rescue
    /// system's `/root`. Linux itself answers ENOENT for such a path.
    fn walk(&self, logical: &Path) -> Result<Option<Resolved>, String> {
        let mut todo: VecDeque<OsString> = parts(logical).collect();
        let mut done: Vec<OsString> = Vec::new();
        let mut hops = 0usize;
        let mut missing = false;
        while let Some(c) = todo.pop_front() {
            if c == ".." {
                if missing {
                    return Ok(None);
                }
                done.pop();
                continue;
            }
            done.push(c);
            if missing {
                continue;
            }
            let here = self.host_of(&done);
            match fs::symlink_metadata(&here) {
                Ok(m) if m.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(format!(
                            "more than {MAX_LINK_HOPS} symbolic links (a loop?)"
                        ));
                    }
                    let target = fs::read_link(&here)
                        .map_err(|e| format!("cannot read symbolic link: {e}"))?;
                    done.pop();
                    if is_absolute_linux(&target) {
                        done.clear();
                    }
                    for (i, p) in parts(&target).enumerate() {
                        todo.insert(i, p);
                    }
                }
                Ok(_) => {}
                Err(_) => missing = true,
            }
        }
        let mut logical = PathBuf::from("/");
        for c in &done {
            logical.push(c);
        }
        Ok(Some(Resolved {
            host: self.host_of(&done),
            logical,
        }))
    }

    fn host_of(&self, done: &[OsString]) -> PathBuf {
        let mut p = self.base.clone();
        for c in done {
            p.push(c);
        }
        p
    }

    /// What `logical` is, resolved; `None` when it does not exist or
    /// cannot be resolved.
    pub(crate) fn kind(&self, logical: &Path) -> Option<(Kind, Resolved)> {
        let r = self.walk(logical).ok()??;
        let m = fs::symlink_metadata(&r.host).ok()?;
        let k = if m.is_file() {
            Kind::File
        } else if m.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        };
        Some((k, r))
    }

    /// The first [`MAX_FILE_BYTES`] of the regular file `logical`:
    /// `Ok(None)` when it does not exist; `Err` when it is not a regular
    /// file or cannot be read. The flag tells whether the file was cut.
    pub(crate) fn read(&self, logical: &Path) -> Result<Option<(Vec<u8>, bool)>, String> {
        let Some(r) = self.walk(logical)? else {
            return Ok(None);
        };
        let Some(f) = open_regular(&r.host)? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        f.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read: {e}"))?;
        let cut = buf.len() as u64 > MAX_FILE_BYTES;
        buf.truncate(MAX_FILE_BYTES as usize);
        Ok(Some((buf, cut)))
    }

    /// The names in directory `logical`, sorted, at most
    /// [`MAX_DIR_ENTRIES`] (the flag tells whether some were left out):
    /// `Ok(None)` when it is missing or not a directory.
    pub(crate) fn list(&self, logical: &Path) -> Result<Option<(Vec<OsString>, bool)>, String> {
        let Some((Kind::Dir, r)) = self.kind(logical) else {
            return Ok(None);
        };
        let rd = fs::read_dir(&r.host).map_err(|e| format!("cannot list: {e}"))?;
        let mut names = Vec::new();
        let mut cut = false;
        for e in rd {
            let e = e.map_err(|e| format!("cannot list: {e}"))?;
            if names.len() >= MAX_DIR_ENTRIES {
                cut = true;
                break;
            }
            names.push(e.file_name());
        }
        names.sort();
        Ok(Some((names, cut)))
    }

    /// The literal target of `logical` when it (unresolved, itself) is a
    /// symbolic link; its parents are resolved under the root.
    pub(crate) fn link_target(&self, logical: &Path) -> Option<PathBuf> {
        let parent = logical.parent()?;
        let name = logical.file_name()?;
        let r = self.resolve(parent).ok()?;
        fs::read_link(r.host.join(name)).ok()
    }
}

/// The normal components of a Linux path (`..` kept, `.` and the root
/// dropped), whatever the host's separators.
fn parts(p: &Path) -> impl Iterator<Item = OsString> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(s) => Some(s.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    })
}

/// Whether a link target is absolute on the Linux root (starts at `/`).
fn is_absolute_linux(p: &Path) -> bool {
    p.has_root() || p.as_os_str().to_string_lossy().starts_with('/')
}

/// A path from the root as shown in entries: `/`-separated.
pub(crate) fn show(logical: &Path) -> String {
    let mut s = String::new();
    for c in parts(logical) {
        s.push('/');
        s.push_str(&c.to_string_lossy());
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_stays_in_root() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path());
        let r = root.resolve(Path::new("/../../etc/passwd")).unwrap();
        assert_eq!(r.host, t.path().join("etc").join("passwd"));
        assert_eq!(show(&r.logical), "/etc/passwd");
    }

    #[cfg(unix)]
    #[test]
    fn links_resolve_under_root() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("etc/init.d")).unwrap();
        fs::create_dir_all(t.path().join("etc/rc2.d")).unwrap();
        fs::write(t.path().join("etc/init.d/x"), "#!/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("../init.d/x", t.path().join("etc/rc2.d/S01x")).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", t.path().join("etc/s")).unwrap();
        std::os::unix::fs::symlink("loop", t.path().join("etc/loop")).unwrap();
        let root = Root::new(t.path());
        let r = root.resolve(Path::new("/etc/rc2.d/S01x")).unwrap();
        assert_eq!(show(&r.logical), "/etc/init.d/x");
        let r = root.resolve(Path::new("/etc/s")).unwrap();
        assert_eq!(r.host, t.path().join("etc/shadow"));
        assert!(root.read(Path::new("/etc/s")).unwrap().is_none());
        assert!(root.resolve(Path::new("/etc/loop")).is_err());
    }

    /// A `..` after a missing component is "not found", as on Linux: it
    /// must not bring back a link (`h -> /`) the OS would then follow
    /// out of the root.
    #[cfg(unix)]
    #[test]
    fn dotdot_after_missing_is_not_found() {
        let t = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", t.path().join("h")).unwrap();
        let root = Root::new(t.path());
        for p in [
            "/nonexistent/../h/root",
            "/x/../h/etc/shadow",
            "/x/y/../../h",
        ] {
            assert!(root.resolve(Path::new(p)).is_err(), "{p}");
            assert!(root.kind(Path::new(p)).is_none(), "{p}");
            assert!(root.read(Path::new(p)).unwrap().is_none(), "{p}");
        }
        // Through the link itself, the path stays under the root.
        let r = root.resolve(Path::new("/h/etc/shadow")).unwrap();
        assert_eq!(r.host, t.path().join("etc/shadow"));
    }

    /// Only regular files of a disk are opened: a FIFO would block, and
    /// a live root's /proc files look regular but are not.
    #[cfg(unix)]
    #[test]
    fn only_regular_files_on_a_disk_are_opened() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_regular(&fifo).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        std::os::unix::fs::symlink("fifo", t.path().join("l")).unwrap();
        assert!(open_regular(&t.path().join("l")).is_err());
        assert!(open_regular(&t.path().join("none")).unwrap().is_none());
        fs::write(t.path().join("f"), "x").unwrap();
        assert!(open_regular(&t.path().join("f")).unwrap().is_some());
        let root = Root::new(t.path());
        assert!(root.read(Path::new("/fifo")).is_err());
    }

    /// On a live root, /proc files are refused (their sizes lie, some
    /// reads block).
    #[cfg(target_os = "linux")]
    #[test]
    fn proc_is_not_read_on_a_live_root() {
        if !Path::new("/proc/self/status").exists() {
            eprintln!("skipped: no /proc");
            return;
        }
        let root = Root::new(Path::new("/"));
        let e = root.read(Path::new("/proc/self/status")).unwrap_err();
        assert!(e.contains("procfs"), "{e}");
    }
}
