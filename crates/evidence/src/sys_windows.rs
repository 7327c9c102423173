//! The Windows calls of acquisition, with the same API as the Unix module
//! (`sys.rs`), over the vault's portable `fsops`: every directory on the
//! way and the file itself are opened relative to a directory handle
//! (`NtCreateFile` with a root directory) without following a reparse
//! point, and described from the open handle (volume serial number and
//! file index as device and inode).
//!
//! What differs from Unix, and why:
//! - A directory is listed through its path (`std::fs::read_dir`), not its
//!   handle; every name listed is then opened relative to the handle
//!   opened without following links, so a directory swapped after it was
//!   opened can at worst make names missing (skipped, with the reason),
//!   never send the copying elsewhere.
//! - A reparse point (symbolic link, junction) is recorded as skipped: its
//!   target is not read here yet, and it is never followed.
//! - Windows has no uid, gid or mode bits: they are recorded as absent.
//! - The access time may be updated by the read (there is no O_NOATIME);
//!   the metadata recorded is read before the copy.

use crate::acquire::Node;
use crate::{FsTime, SourceMeta};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use takedown_vault::fsops::{self, FileKind, Stat};

/// A directory opened without following links, and its path (for
/// listing and messages).
pub struct OpenDir {
    handle: Arc<fsops::Dir>,
    path: PathBuf,
}

/// A directory opened without following links.
pub type Dir = Arc<OpenDir>;

/// The directory holding `path` (every component opened without following
/// a reparse point) and the last component.
pub fn locate(path: &Path) -> io::Result<(Dir, OsString)> {
    let loc = fsops::locate(path)?;
    Ok((
        Arc::new(OpenDir {
            handle: loc.dir,
            path: loc.dir_path,
        }),
        loc.name,
    ))
}

/// What `name` in `dir` is, and its metadata; `None` when it is gone.
pub fn node_at(dir: &Dir, name: &OsStr) -> io::Result<Option<(Node, SourceMeta)>> {
    let Some(st) = fsops::stat_at(&dir.handle, name)? else {
        return Ok(None);
    };
    let node = match st.kind {
        FileKind::Regular => Node::File(st.size),
        FileKind::Directory => Node::Dir,
        FileKind::Link => Node::Symlink,
        FileKind::Other => Node::Special("neither a file nor a directory"),
    };
    Ok(Some((node, meta_of(&st))))
}

/// Opens the regular file `name` in `dir` for reading without following a
/// reparse point; returns it with the metadata read from the open handle.
pub fn open_file(dir: &Dir, name: &OsStr) -> io::Result<(File, SourceMeta)> {
    let (file, st) = fsops::open_file_nofollow_stat(&dir.handle, name)?;
    if !st.is_regular() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (it changed while being read)",
        ));
    }
    Ok((file, meta_of(&st)))
}

/// Opens the directory `name` in `dir` without following a reparse point.
pub fn open_dir(dir: &Dir, name: &OsStr) -> io::Result<Dir> {
    let sub = fsops::open_subdir(&dir.handle, name)?;
    Ok(Arc::new(OpenDir {
        handle: Arc::new(sub),
        path: dir.path.join(name),
    }))
}

/// The names in a directory (see the module's note: listed by path, each
/// then opened relative to the handle).
pub fn list(dir: &Dir) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir.path)? {
        names.push(entry?.file_name());
    }
    names.sort();
    Ok(names)
}

/// A reparse point's target is not read on Windows yet: the item is
/// skipped with this reason (it is never followed either way).
pub fn read_link(_dir: &Dir, _name: &OsStr) -> io::Result<Vec<u8>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "is a reparse point (symbolic link or junction): not followed, and its target is not recorded on Windows yet",
    ))
}

/// The bytes of a path as the records keep them (on Windows: the WTF-8
/// form of its UTF-16 name, which round-trips unpaired surrogates).
pub fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_encoded_bytes()
}

/// Owner names: Windows owners are security identifiers, not looked up
/// here; the records leave the names out.
#[derive(Default)]
pub struct Names {
    _none: (),
}

impl Names {
    /// Leaves `meta` as it is (no owner names on Windows yet).
    pub fn fill(&mut self, _meta: &mut SourceMeta) {}
}

fn time((sec, nsec): fsops::Time) -> FsTime {
    FsTime { sec, nsec }
}

fn meta_of(st: &Stat) -> SourceMeta {
    SourceMeta {
        uid: st.uid,
        gid: st.gid,
        owner: None,
        group: None,
        mode: st.mode,
        atime: time(st.atime),
        mtime: time(st.mtime),
        ctime: time(st.ctime),
        dev: st.dev,
        ino: st.ino,
        nlink: st.nlink,
    }
}
