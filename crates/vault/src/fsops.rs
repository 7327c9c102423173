//! File-system primitives that act through directory handles, never
//! through a path the kernel would resolve again.
//!
//! A cleaner runs as root over directories an attacker may write to. Every
//! path is therefore resolved once, component by component, with
//! `O_NOFOLLOW` (a symbolic link anywhere on the way is refused), and every
//! later step (`fstatat`, `openat`, `unlinkat`, `renameat2`) is relative to
//! the directory handle obtained then. A directory swapped after that does
//! not redirect anything: the handle still names the directory that was
//! checked.

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// What `fstat` says about a file, as far as identity goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime_sec: i64,
    /// Nanoseconds of the modification time.
    pub mtime_nsec: i64,
}

impl Identity {
    /// The identity part of a `stat`.
    pub fn of(st: &libc::stat) -> Identity {
        Identity {
            dev: st.st_dev,
            ino: st.st_ino,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime_sec: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec,
        }
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
    pub dir: Arc<OwnedFd>,
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

fn cstr(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Retries a call interrupted by a signal.
fn retry(mut f: impl FnMut() -> libc::c_int) -> io::Result<libc::c_int> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// `openat` returning an owned descriptor.
pub fn openat(
    dir: RawFd,
    name: &OsStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    let fd = retry(|| unsafe {
        // SAFETY: `c` is a valid NUL-terminated string for the call.
        libc::openat(
            dir,
            c.as_ptr(),
            flags | libc::O_CLOEXEC,
            libc::c_uint::from(mode),
        )
    })?;
    // SAFETY: `fd` was just returned by a successful openat and is ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;

/// Opens a directory path without following any symbolic link on the way.
pub fn open_dir_nofollow(path: &Path) -> io::Result<OwnedFd> {
    let path = std::path::absolute(path)?;
    let mut fd = openat(libc::AT_FDCWD, OsStr::new("/"), DIR_FLAGS, 0)?;
    for comp in path.components() {
        let name = match comp {
            Component::RootDir | Component::CurDir => continue,
            Component::Prefix(_) => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "path prefix"));
            }
            Component::ParentDir => OsStr::new(".."),
            Component::Normal(n) => n,
        };
        fd = match openat(fd.as_raw_fd(), name, DIR_FLAGS, 0) {
            Ok(next) => next,
            Err(e) => return Err(not_a_directory(e, fd.as_raw_fd(), &path, name)),
        };
    }
    Ok(fd)
}

/// ELOOP/ENOTDIR on a directory component means a link (or a file) where a
/// directory was: say which, plainly, as an error of kind `NotADirectory`
/// (callers treat it as a refusal, not a failure).
fn not_a_directory(e: io::Error, parent: RawFd, path: &Path, name: &OsStr) -> io::Error {
    if !matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) {
        return e;
    }
    let link = lstat_at(parent, name)
        .ok()
        .flatten()
        .is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK);
    let what = if link {
        "is a symbolic link; takedown does not act through links"
    } else {
        "is not a directory"
    };
    io::Error::new(
        io::ErrorKind::NotADirectory,
        format!(
            "'{}' on the path {} {what}",
            name.to_string_lossy(),
            path.display()
        ),
    )
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
pub fn locate_cached(
    path: &Path,
    cache: &mut HashMap<PathBuf, Arc<OwnedFd>>,
) -> io::Result<Located> {
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

/// `fstat` of an open descriptor.
pub fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out pointer; on success it is initialized.
    retry(|| unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    Ok(unsafe { st.assume_init() })
}

/// `fstatat` without following a link in the last component; `Ok(None)`
/// when there is no such name.
pub fn lstat_at(dir: RawFd, name: &OsStr) -> io::Result<Option<libc::stat>> {
    let c = cstr(name)?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: valid C string and out pointer.
    match retry(|| unsafe {
        libc::fstatat(dir, c.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW)
    }) {
        Ok(_) => Ok(Some(unsafe { st.assume_init() })),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// True for a regular file's mode.
pub fn is_regular(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// Opens the regular file `name` in `dir` for reading, refusing links,
/// FIFOs and devices (O_NONBLOCK so a FIFO swapped in cannot hang us).
pub fn open_file_nofollow(dir: RawFd, name: &OsStr) -> io::Result<File> {
    open_file_nofollow_stat(dir, name).map(|(f, _)| f)
}

/// [`open_file_nofollow`], also returning the `fstat` it made.
pub fn open_file_nofollow_stat(dir: RawFd, name: &OsStr) -> io::Result<(File, libc::stat)> {
    let fd = openat(
        dir,
        name,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY,
        0,
    )?;
    let st = fstat(fd.as_raw_fd())?;
    if !is_regular(&st) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    // O_NONBLOCK has no effect on a regular file's reads.
    Ok((File::from(fd), st))
}

/// Creates `name` in `dir` exclusively (never through a link), mode 0600.
pub fn create_excl(dir: RawFd, name: &OsStr) -> io::Result<File> {
    let fd = openat(
        dir,
        name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        0o600,
    )?;
    Ok(File::from(fd))
}

/// Zeroes `len` bytes of `file` from `offset`: a punched hole where the
/// file system can (the blocks are freed), else written zeros.
pub fn zero_range(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let (Ok(off), Ok(n)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    // SAFETY: plain syscall on a descriptor we hold.
    let punched = retry(|| unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off,
            n,
        )
    });
    if punched.is_ok() {
        return Ok(());
    }
    let zeros = vec![0u8; usize::try_from(len.min(1 << 20)).unwrap_or(1 << 20)];
    let mut done = 0u64;
    while done < len {
        let k = (len - done).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..k], offset + done)?;
        done += k as u64;
    }
    Ok(())
}

/// `unlinkat` (never follows a link: a link swapped in is what gets
/// removed, not its target).
pub fn unlink_at(dir: RawFd, name: &OsStr) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: valid C string.
    retry(|| unsafe { libc::unlinkat(dir, c.as_ptr(), 0) }).map(|_| ())
}

/// Renames within or across directory handles. With `noreplace`, an
/// existing destination is an error (`EEXIST`) instead of being replaced.
pub fn rename_at(
    from_dir: RawFd,
    from: &OsStr,
    to_dir: RawFd,
    to: &OsStr,
    noreplace: bool,
) -> io::Result<()> {
    let (f, t) = (cstr(from)?, cstr(to)?);
    if !noreplace {
        // SAFETY: valid C strings.
        return retry(|| unsafe { libc::renameat(from_dir, f.as_ptr(), to_dir, t.as_ptr()) })
            .map(|_| ());
    }
    // SAFETY: valid C strings.
    let r = retry(|| unsafe {
        libc::renameat2(
            from_dir,
            f.as_ptr(),
            to_dir,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    });
    match r {
        Ok(_) => Ok(()),
        // Some file systems lack RENAME_NOREPLACE: a hard link fails on an
        // existing name just the same, then the old name goes.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
            ) =>
        {
            // SAFETY: valid C strings.
            retry(|| unsafe { libc::linkat(from_dir, f.as_ptr(), to_dir, t.as_ptr(), 0) })?;
            unlink_at(from_dir, from)
        }
        Err(e) => Err(e),
    }
}

/// `mkdirat`.
pub fn mkdir_at(dir: RawFd, name: &OsStr, mode: libc::mode_t) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: valid C string.
    retry(|| unsafe { libc::mkdirat(dir, c.as_ptr(), mode) }).map(|_| ())
}

/// `fsync` of a descriptor (a file or a directory).
pub fn fsync(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we hold.
    retry(|| unsafe { libc::fsync(fd) }).map(|_| ())
}

/// `syncfs`: flushes data and metadata of the whole file system holding
/// `fd`. One call makes a whole batch durable (group commit), where one
/// `fsync` per file would cost a journal commit each.
pub fn syncfs(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we hold.
    retry(|| unsafe { libc::syncfs(fd) }).map(|_| ())
}

/// Sets owner, mode and times on an open file. The owner is set first:
/// `fchown` clears set-uid/set-gid bits, which `fchmod` then restores.
pub fn set_attributes(
    fd: RawFd,
    owner: Option<(u32, u32)>,
    mode: u32,
    atime: (i64, i64),
    mtime: (i64, i64),
) -> io::Result<()> {
    if let Some((uid, gid)) = owner {
        // SAFETY: plain syscall.
        retry(|| unsafe { libc::fchown(fd, uid, gid) })?;
    }
    // SAFETY: plain syscall.
    retry(|| unsafe { libc::fchmod(fd, mode & 0o7777) })?;
    let times = [
        libc::timespec {
            tv_sec: atime.0,
            tv_nsec: atime.1,
        },
        libc::timespec {
            tv_sec: mtime.0,
            tv_nsec: mtime.1,
        },
    ];
    // SAFETY: `times` is a valid array of two timespecs.
    retry(|| unsafe { libc::futimens(fd, times.as_ptr()) }).map(|_| ())
}

/// True when the file system holding `fd` is mounted read-only.
pub fn read_only_fs(fd: RawFd) -> bool {
    let mut sv = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: valid out pointer.
    let r = unsafe { libc::fstatvfs(fd, sv.as_mut_ptr()) };
    r == 0 && unsafe { sv.assume_init() }.f_flag & libc::ST_RDONLY != 0
}

/// True when the caller may write (create and remove names) in `dir`.
pub fn dir_writable(dir: RawFd) -> bool {
    let dot = c".";
    // SAFETY: valid C string; AT_EACCESS checks with the effective ids.
    unsafe { libc::faccessat(dir, dot.as_ptr(), libc::W_OK | libc::X_OK, libc::AT_EACCESS) == 0 }
}

/// Raises the soft limit on open files to the hard limit (a batch keeps
/// each of its files open from the check to the unlink, and the common
/// soft limit of 1024 is below a batch's size); returns the limit now in
/// force.
pub fn raise_open_files_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return 1024;
    }
    if rl.rlim_cur < rl.rlim_max {
        let want = libc::rlimit {
            rlim_cur: rl.rlim_max,
            rlim_max: rl.rlim_max,
        };
        // SAFETY: valid pointer; failure leaves the old limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            rl.rlim_cur = rl.rlim_max;
        }
    }
    rl.rlim_cur
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: always succeeds.
    unsafe { libc::geteuid() }
}

/// The name of a user or group id, if the system knows it.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: buffers are valid for the sizes given.
    let r =
        unsafe { libc::getpwuid_r(uid, pwd.as_mut_ptr(), buf.as_mut_ptr(), buf.len(), &mut out) };
    if r != 0 || out.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points into `buf`, NUL-terminated.
    let name = unsafe { CStr::from_ptr((*out).pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// The name of a group id, if the system knows it.
pub fn group_name(gid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut grp = std::mem::MaybeUninit::<libc::group>::uninit();
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: buffers are valid for the sizes given.
    let r =
        unsafe { libc::getgrgid_r(gid, grp.as_mut_ptr(), buf.as_mut_ptr(), buf.len(), &mut out) };
    if r != 0 || out.is_null() {
        return None;
    }
    // SAFETY: on success gr_name points into `buf`, NUL-terminated.
    let name = unsafe { CStr::from_ptr((*out).gr_name) };
    Some(name.to_string_lossy().into_owned())
}

/// Plain words for an I/O error, as the scan engine gives them.
pub fn reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => "no space left on the device".into(),
        Some(libc::EDQUOT) => "disk quota exceeded".into(),
        Some(libc::EROFS) => "read-only file system".into(),
        Some(libc::EACCES) | Some(libc::EPERM) => "permission denied".into(),
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(libc::ELOOP) => "is a symbolic link (not followed)".into(),
        Some(libc::EXDEV) => "crosses file systems".into(),
        _ => {
            let s = e.to_string();
            // Drop std's " (os error N)" tail.
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
