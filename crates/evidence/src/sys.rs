//! The Linux calls of acquisition, in one place (as the vault's `fsops`):
//! files and directories are opened through directory handles without
//! following links (the vault's `fsops`), read without touching their
//! access time where the system allows (`O_NOATIME`), and described by
//! `fstat`.

use crate::acquire::Node;
use crate::{FsTime, SourceMeta};
use std::collections::HashMap;
use std::ffi::{CStr, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use takedown_vault::fsops;

/// A directory opened without following links.
pub type Dir = Arc<OwnedFd>;

/// The directory holding `path` (every component opened without following
/// links) and the last component.
pub fn locate(path: &Path) -> io::Result<(Dir, OsString)> {
    let loc = fsops::locate(path)?;
    Ok((loc.dir, loc.name))
}

/// What `name` in `dir` is, and its metadata; `None` when it is gone.
pub fn node_at(dir: &Dir, name: &OsStr) -> io::Result<Option<(Node, SourceMeta)>> {
    let Some(st) = fsops::lstat_at(dir.as_raw_fd(), name)? else {
        return Ok(None);
    };
    let node = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Node::File(u64::try_from(st.st_size).unwrap_or(0)),
        libc::S_IFDIR => Node::Dir,
        libc::S_IFLNK => Node::Symlink,
        libc::S_IFIFO => Node::Special("a FIFO"),
        libc::S_IFSOCK => Node::Special("a socket"),
        libc::S_IFCHR => Node::Special("a character device"),
        libc::S_IFBLK => Node::Special("a block device"),
        _ => Node::Special("of an unknown type"),
    };
    Ok(Some((node, meta_of(&st))))
}

/// Opens the regular file `name` in `dir` for reading, without following a
/// link and, where the system allows (our own files, or root), without
/// updating its access time; returns it with the `fstat` made on the open
/// descriptor (the metadata of what is actually read).
pub fn open_file(dir: &Dir, name: &OsStr) -> io::Result<(File, SourceMeta)> {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let fd = match fsops::openat(dir.as_raw_fd(), name, flags | libc::O_NOATIME, 0) {
        // O_NOATIME is refused for files of other users without
        // CAP_FOWNER; reading them may then update the access time, which
        // the metadata recorded before the read still holds.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            fsops::openat(dir.as_raw_fd(), name, flags, 0)?
        }
        r => r?,
    };
    let st = fsops::fstat(fd.as_raw_fd())?;
    if !fsops::is_regular(&st) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (it changed while being read)",
        ));
    }
    Ok((File::from(fd), meta_of(&st)))
}

/// Opens the directory `name` in `dir` without following a link.
pub fn open_dir(dir: &Dir, name: &OsStr) -> io::Result<Dir> {
    let fd = fsops::openat(
        dir.as_raw_fd(),
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NOATIME,
        0,
    )
    .or_else(|e| {
        if e.raw_os_error() == Some(libc::EPERM) {
            fsops::openat(
                dir.as_raw_fd(),
                name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )
        } else {
            Err(e)
        }
    })?;
    Ok(Arc::new(fd))
}

/// The names in an open directory (not `.` and `..`), read through the
/// handle itself, so a directory swapped for another after it was opened
/// is never listed instead.
pub fn list(dir: &Dir) -> io::Result<Vec<OsString>> {
    // fdopendir takes ownership of the descriptor it is given: hand it a
    // duplicate, and closedir closes that one.
    let dup = dir.try_clone()?;
    // SAFETY: `dup` is a valid descriptor that we own; on success the DIR
    // stream owns it (into_raw_fd), on failure we take it back.
    let raw = std::os::fd::IntoRawFd::into_raw_fd(dup);
    let stream = unsafe { libc::fdopendir(raw) };
    if stream.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so the descriptor is still ours.
        drop(unsafe { OwnedFd::from_raw_fd(raw) });
        return Err(e);
    }
    // The descriptor may have been read before (a retry): start over.
    // SAFETY: `stream` is a valid DIR stream.
    unsafe { libc::rewinddir(stream) };
    let mut names = Vec::new();
    let result = loop {
        // readdir signals errors only through errno, with a NULL return.
        // SAFETY: errno is thread-local; resetting it is always allowed.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is valid until closedir below.
        let ent = unsafe { libc::readdir(stream) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            break if e.raw_os_error().unwrap_or(0) == 0 {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: d_name is a NUL-terminated array inside the entry.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        let bytes = name.to_bytes();
        if bytes != b"." && bytes != b".." {
            names.push(OsStr::from_bytes(bytes).to_os_string());
        }
    };
    // SAFETY: closes the stream and the duplicate it owns.
    unsafe { libc::closedir(stream) };
    result.map(|()| {
        names.sort();
        names
    })
}

/// The target of the symbolic link `name` in `dir`, as bytes.
pub fn read_link(dir: &Dir, name: &OsStr) -> io::Result<Vec<u8>> {
    let c = std::ffi::CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: valid C string and buffer of the given length.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            c.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
    buf.truncate(n);
    Ok(buf)
}

/// Makes everything written under `dir`'s file system durable at once
/// (group commit: one call instead of an `fsync` per copied file).
pub fn sync_all_under(dir: &Path) -> io::Result<()> {
    let fd = fsops::open_dir_nofollow(dir)?;
    fsops::syncfs(fd.as_raw_fd())
}

/// The exact bytes of a path.
pub fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// Names of owners and groups, looked up once each.
#[derive(Default)]
pub struct Names {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
}

impl Names {
    /// Fills in `meta`'s owner and group names.
    pub fn fill(&mut self, meta: &mut SourceMeta) {
        if let Some(uid) = meta.uid {
            meta.owner = self
                .users
                .entry(uid)
                .or_insert_with(|| fsops::user_name(uid))
                .clone();
        }
        if let Some(gid) = meta.gid {
            meta.group = self
                .groups
                .entry(gid)
                .or_insert_with(|| fsops::group_name(gid))
                .clone();
        }
    }
}

fn meta_of(st: &libc::stat) -> SourceMeta {
    SourceMeta {
        uid: Some(st.st_uid),
        gid: Some(st.st_gid),
        owner: None,
        group: None,
        mode: Some(st.st_mode),
        atime: FsTime {
            sec: st.st_atime,
            nsec: st.st_atime_nsec,
        },
        mtime: FsTime {
            sec: st.st_mtime,
            nsec: st.st_mtime_nsec,
        },
        ctime: FsTime {
            sec: st.st_ctime,
            nsec: st.st_ctime_nsec,
        },
        dev: st.st_dev,
        ino: st.st_ino,
        nlink: st.st_nlink,
    }
}
