//! File-system primitives that act through directory handles, never
//! through a path the kernel would resolve again.
//!
//! A cleaner runs as root (or administrator) over directories an attacker
//! may write to. Every path is therefore resolved once, component by
//! component, refusing a link (a symbolic link; on Windows any reparse
//! point, junctions included) anywhere on the way, and every later step
//! (status, open, remove, rename) is relative to the directory handle
//! obtained then. A directory swapped after that does not redirect
//! anything: the handle still names the directory that was checked.
//!
//! This module is the one API the vault uses; `unix` implements it with
//! `openat` and friends, `windows` with `NtCreateFile` relative to a
//! directory handle.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;

pub use sys::{
    Dir, LockGuard, check_vault_dir, create_excl, create_private_dir, default_vault_dir, die_here,
    dir_writable, fsync_dir, group_name, is_link_refusal, is_write_error, lock_exclusive, mkdir_at,
    open_at, open_dir_nofollow, open_file_nofollow, open_file_nofollow_stat, open_log, open_subdir,
    os_bytes, os_from_bytes, private_file, privileged, raise_open_files_limit, read_exact_at,
    read_only_fs, reason, remove_open, rename_at, set_attributes, set_owner, stat_at, stat_file,
    sync_fs, unlink_at, user_id, user_name, write_all_at, zero_range,
};

/// The raw Unix calls behind the portable API, with descriptors and
/// `libc::stat`, for Unix-only callers (evidence acquisition).
#[cfg(unix)]
pub use unix::{fstat, is_regular, lstat_at, openat, syncfs};

/// Seconds and nanoseconds since the Unix epoch.
pub type Time = (i64, i64);

/// What kind of file a name holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link (on Windows: any reparse point, junctions
    /// included).
    Link,
    /// Anything else (a FIFO, a device, a socket).
    Other,
}

/// What the file system says about a file: the fields the vault checks
/// and records. A field the platform does not have is `None` (Windows has
/// no uid, gid or mode bits; Unix has no file attributes or creation time
/// it lets anyone set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Device (Windows: the volume serial number).
    pub dev: u64,
    /// Inode (Windows: the file index).
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// What it is.
    pub kind: FileKind,
    /// Permission bits, with set-uid, set-gid and sticky.
    pub mode: Option<u32>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Last access.
    pub atime: Time,
    /// Last modification.
    pub mtime: Time,
    /// Last status change (moves on any write, permission change or link).
    pub ctime: Time,
    /// Creation time, where it can be restored (Windows).
    pub btime: Option<Time>,
    /// File attributes (Windows: hidden, system, read-only, ...).
    pub attributes: Option<u32>,
}

impl Stat {
    /// True for a regular file.
    pub fn is_regular(&self) -> bool {
        self.kind == FileKind::Regular
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Directory
    }
}

/// What is set on a file by [`set_attributes`]. A `None` field is left
/// as it is (a time: set to now).
#[derive(Clone, Copy, Debug, Default)]
pub struct Attrs {
    /// Owner and group, set first (on Unix `fchown` clears the set-id
    /// bits, which the mode then restores).
    pub owner: Option<(u32, u32)>,
    /// Permission bits.
    pub mode: Option<u32>,
    /// Last access; `None`: now.
    pub atime: Option<Time>,
    /// Last modification; `None`: now.
    pub mtime: Option<Time>,
    /// Creation time (Windows only).
    pub btime: Option<Time>,
    /// File attributes (Windows only).
    pub attributes: Option<u32>,
}

/// How a file is opened by [`open_at`] (never through a link; a created
/// file is private to its owner).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenHow {
    /// For reading.
    pub read: bool,
    /// For writing.
    pub write: bool,
    /// Created when missing.
    pub create: bool,
    /// Every write goes to the end.
    pub append: bool,
}

impl OpenHow {
    /// Read only.
    pub const READ: OpenHow = OpenHow {
        read: true,
        write: false,
        create: false,
        append: false,
    };
    /// Read and write, existing file.
    pub const READ_WRITE: OpenHow = OpenHow {
        read: true,
        write: true,
        create: false,
        append: false,
    };
}

/// How a file was removed by [`remove_open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// Its name is gone now.
    Now,
    /// It is in use and cannot be removed while it is: its removal is
    /// scheduled for the next boot (Windows).
    AtReboot,
}

/// What `fstat` says about a file, as far as identity goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// Device (Windows: volume serial number).
    pub dev: u64,
    /// Inode (Windows: file index).
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime_sec: i64,
    /// Nanoseconds of the modification time.
    pub mtime_nsec: i64,
}

/// What a file's identity can be read from: a [`Stat`], and on Unix a
/// raw `libc::stat`.
pub trait HasIdentity {
    /// The identity it holds.
    fn identity(&self) -> Identity;
}

impl HasIdentity for Stat {
    fn identity(&self) -> Identity {
        Identity {
            dev: self.dev,
            ino: self.ino,
            size: self.size,
            mtime_sec: self.mtime.0,
            mtime_nsec: self.mtime.1,
        }
    }
}

impl Identity {
    /// The identity part of a [`Stat`] (or, on Unix, of a `stat`).
    pub fn of(st: &impl HasIdentity) -> Identity {
        st.identity()
    }

    /// Says what differs from `other`, or `None` when they are the same.
    pub fn differs(&self, other: &Identity) -> Option<String> {
        if self.dev != other.dev || self.ino != other.ino {
            Some("it is another file now (device or inode changed)".into())
        } else if self.size != other.size {
            Some(format!(
                "its size changed ({} bytes when scanned, {} now)",
                other.size, self.size
            ))
        } else if (self.mtime_sec, self.mtime_nsec) != (other.mtime_sec, other.mtime_nsec) {
            Some("it was modified after it was scanned".into())
        } else {
            None
        }
    }
}

/// A file named by a directory handle and a name in it.
pub struct Located {
    /// The directory, opened without following links (shared by the files
    /// of one batch in the same directory).
    pub dir: Arc<Dir>,
    /// The directory's path as given (for messages and the journal).
    pub dir_path: PathBuf,
    /// The last component.
    pub name: OsString,
}

impl Located {
    /// The full path, for messages.
    pub fn path(&self) -> PathBuf {
        self.dir_path.join(&self.name)
    }
}

/// Splits `path` into its directory, opened without following links, and
/// its last component.
pub fn locate(path: &Path) -> io::Result<Located> {
    let abs = std::path::absolute(path)?;
    let (Some(parent), Some(Component::Normal(name))) =
        (abs.parent(), abs.components().next_back())
    else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        ));
    };
    Ok(Located {
        dir: Arc::new(open_dir_nofollow(parent)?),
        dir_path: parent.to_path_buf(),
        name: name.to_os_string(),
    })
}

/// [`locate`], reusing directory handles already opened in `cache` (one
/// walk from the root per directory instead of per file).
pub fn locate_cached(path: &Path, cache: &mut HashMap<PathBuf, Arc<Dir>>) -> io::Result<Located> {
    let abs = std::path::absolute(path)?;
    if let (Some(parent), Some(Component::Normal(name))) =
        (abs.parent(), abs.components().next_back())
        && let Some(dir) = cache.get(parent)
    {
        return Ok(Located {
            dir: dir.clone(),
            dir_path: parent.to_path_buf(),
            name: name.to_os_string(),
        });
    }
    let loc = locate(&abs)?;
    cache.insert(loc.dir_path.clone(), loc.dir.clone());
    Ok(loc)
}

/// Re-locates a file from a directory path and name stored in the journal.
pub fn relocate(dir_path: &Path, name: &OsStr) -> io::Result<Located> {
    Ok(Located {
        dir: Arc::new(open_dir_nofollow(dir_path)?),
        dir_path: dir_path.to_path_buf(),
        name: name.to_os_string(),
    })
}
