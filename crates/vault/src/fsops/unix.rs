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

//! The Unix side of [`super`]: `openat`, `fstatat`, `unlinkat`,
//! `renameat2` with `O_NOFOLLOW`, relative to directory descriptors.

use super::{Attrs, FileKind, OpenHow, Removed, Stat};
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// A directory opened without following links. (A plain descriptor:
/// Unix-only callers use it with the raw calls below.)
pub type Dir = OwnedFd;

impl super::HasIdentity for libc::stat {
    fn identity(&self) -> super::Identity {
        super::Identity {
            dev: self.st_dev,
            ino: self.st_ino,
            size: u64::try_from(self.st_size).unwrap_or(0),
            mtime_sec: self.st_mtime,
            mtime_nsec: self.st_mtime_nsec,
        }
    }
}

/// The vault's [`Stat`] of a `stat`.
fn stat_of(st: &libc::stat) -> Stat {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => FileKind::Regular,
        libc::S_IFDIR => FileKind::Directory,
        libc::S_IFLNK => FileKind::Link,
        _ => FileKind::Other,
    };
    Stat {
        dev: st.st_dev,
        ino: st.st_ino,
        size: u64::try_from(st.st_size).unwrap_or(0),
        nlink: st.st_nlink,
        kind,
        mode: Some(st.st_mode & 0o7777),
        uid: Some(st.st_uid),
        gid: Some(st.st_gid),
        atime: (st.st_atime, st.st_atime_nsec),
        mtime: (st.st_mtime, st.st_mtime_nsec),
        ctime: (st.st_ctime, st.st_ctime_nsec),
        btime: None,
        attributes: None,
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
pub fn open_dir_nofollow(path: &Path) -> io::Result<Dir> {
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

/// Opens the directory `name` in `dir` without following a link.
pub fn open_subdir(dir: &Dir, name: &OsStr) -> io::Result<Dir> {
    openat(dir.as_raw_fd(), name, DIR_FLAGS, 0)
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

/// `fstat` of an open descriptor.
pub fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out pointer; on success it is initialized.
    retry(|| unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    Ok(unsafe { st.assume_init() })
}

/// The [`Stat`] of an open file.
pub fn stat_file(file: &File) -> io::Result<Stat> {
    fstat(file.as_raw_fd()).map(|st| stat_of(&st))
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

/// The [`Stat`] of `name` in `dir`, not following a link in it;
/// `Ok(None)` when there is no such name.
pub fn stat_at(dir: &Dir, name: &OsStr) -> io::Result<Option<Stat>> {
    lstat_at(dir.as_raw_fd(), name).map(|st| st.map(|st| stat_of(&st)))
}

/// True for a regular file's mode.
pub fn is_regular(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// Opens the regular file `name` in `dir` for reading, refusing links,
/// FIFOs and devices (O_NONBLOCK so a FIFO swapped in cannot hang us).
pub fn open_file_nofollow(dir: &Dir, name: &OsStr) -> io::Result<File> {
    open_file_nofollow_stat(dir, name).map(|(f, _)| f)
}

/// [`open_file_nofollow`], also returning the `fstat` it made.
pub fn open_file_nofollow_stat(dir: &Dir, name: &OsStr) -> io::Result<(File, Stat)> {
    let fd = openat(
        dir.as_raw_fd(),
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
    Ok((File::from(fd), stat_of(&st)))
}

/// Opens `name` in `dir` as `how` says, never through a link; a file
/// created gets mode 0600.
pub fn open_at(dir: &Dir, name: &OsStr, how: OpenHow) -> io::Result<File> {
    let mut flags = match (how.read, how.write) {
        (_, false) => libc::O_RDONLY,
        (false, true) => libc::O_WRONLY,
        (true, true) => libc::O_RDWR,
    };
    if how.create {
        flags |= libc::O_CREAT;
    }
    if how.append {
        flags |= libc::O_APPEND;
    }
    let mode = if how.create { 0o600 } else { 0 };
    openat(dir.as_raw_fd(), name, flags | libc::O_NOFOLLOW, mode).map(File::from)
}

/// Creates `name` in `dir` exclusively (never through a link), mode 0600.
pub fn create_excl(dir: &Dir, name: &OsStr) -> io::Result<File> {
    let fd = openat(
        dir.as_raw_fd(),
        name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        0o600,
    )?;
    Ok(File::from(fd))
}

/// Reads exactly `buf.len()` bytes at `offset`.
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

/// Writes all of `buf` at `offset`.
pub fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(buf, offset)
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
pub fn unlink_at(dir: &Dir, name: &OsStr) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: valid C string.
    retry(|| unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) }).map(|_| ())
}

/// Removes the file open as `file` under `name` in `dir`. Unix can only
/// remove a name, not an open file: `unlinkat` of the name (the caller
/// has just checked that it still names `file`).
pub fn remove_open(dir: &Dir, name: &OsStr, file: &File) -> io::Result<Removed> {
    let _ = file;
    unlink_at(dir, name).map(|()| Removed::Now)
}

/// Renames within or across directory handles. With `noreplace`, an
/// existing destination is an error (`EEXIST`) instead of being replaced.
pub fn rename_at(
    from_dir: &Dir,
    from: &OsStr,
    to_dir: &Dir,
    to: &OsStr,
    noreplace: bool,
) -> io::Result<()> {
    let (from_dir, to_dir) = (from_dir.as_raw_fd(), to_dir.as_raw_fd());
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
            // SAFETY: valid C string.
            retry(|| unsafe { libc::unlinkat(from_dir, f.as_ptr(), 0) }).map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// `mkdirat`, mode 0700.
pub fn mkdir_at(dir: &Dir, name: &OsStr) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: valid C string.
    retry(|| unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o700) }).map(|_| ())
}

/// `fsync` of a directory.
pub fn fsync_dir(dir: &Dir) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we hold.
    retry(|| unsafe { libc::fsync(dir.as_raw_fd()) }).map(|_| ())
}

/// `syncfs`: flushes data and metadata of the whole file system holding
/// `fd`. One call makes a whole batch durable (group commit), where one
/// `fsync` per file would cost a journal commit each.
pub fn syncfs(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we hold.
    retry(|| unsafe { libc::syncfs(fd) }).map(|_| ())
}

/// [`syncfs`] of the file system holding `dir`.
pub fn sync_fs(dir: &Dir) -> io::Result<()> {
    syncfs(dir.as_raw_fd())
}

/// Sets owner and group (`None` keeps one) on an open file.
pub fn set_owner(file: &File, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we hold; -1 keeps the id.
    let r = unsafe {
        libc::fchown(
            file.as_raw_fd(),
            uid.unwrap_or(libc::uid_t::MAX),
            gid.unwrap_or(libc::gid_t::MAX),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets owner, mode and times on an open file. The owner is set first:
/// `fchown` clears set-uid/set-gid bits, which `fchmod` then restores.
pub fn set_attributes(file: &File, a: &Attrs) -> io::Result<()> {
    let fd = file.as_raw_fd();
    if let Some((uid, gid)) = a.owner {
        // SAFETY: plain syscall.
        retry(|| unsafe { libc::fchown(fd, uid, gid) })?;
    }
    if let Some(mode) = a.mode {
        // SAFETY: plain syscall.
        retry(|| unsafe { libc::fchmod(fd, mode & 0o7777) })?;
    }
    let now = (0, libc::UTIME_NOW);
    let (atime, mtime) = (a.atime.unwrap_or(now), a.mtime.unwrap_or(now));
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

/// True when the file system holding `dir` is mounted read-only.
pub fn read_only_fs(dir: &Dir) -> bool {
    let mut sv = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: valid out pointer.
    let r = unsafe { libc::fstatvfs(dir.as_raw_fd(), sv.as_mut_ptr()) };
    r == 0 && unsafe { sv.assume_init() }.f_flag & libc::ST_RDONLY != 0
}

/// True when the caller may write (create and remove names) in `dir`.
pub fn dir_writable(dir: &Dir) -> bool {
    let dot = c".";
    // SAFETY: valid C string; AT_EACCESS checks with the effective ids.
    unsafe {
        libc::faccessat(
            dir.as_raw_fd(),
            dot.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        ) == 0
    }
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

fn euid() -> u32 {
    // SAFETY: always succeeds.
    unsafe { libc::geteuid() }
}

/// The effective user id.
pub fn user_id() -> Option<u32> {
    Some(euid())
}

/// True when running as root.
pub fn privileged() -> bool {
    user_id() == Some(0)
}

/// Holds an exclusive `flock` until dropped.
/// (A raw descriptor, not a borrow: the vault stays usable meanwhile; the
/// lock file lives as long as the vault.)
pub struct LockGuard(RawFd);

impl Drop for LockGuard {
    fn drop(&mut self) {
        // SAFETY: plain syscall on a descriptor the vault holds.
        unsafe {
            libc::flock(self.0, libc::LOCK_UN);
        }
    }
}

/// Takes an exclusive lock on `file`, waiting for it; `file` must outlive
/// the guard.
pub fn lock_exclusive(file: &File) -> io::Result<LockGuard> {
    let fd = file.as_raw_fd();
    // SAFETY: plain syscall on a descriptor we hold.
    retry(|| unsafe { libc::flock(fd, libc::LOCK_EX) })?;
    Ok(LockGuard(fd))
}

/// The default vault: `/var/lib/takedown/quarantine` for root, else
/// `$XDG_DATA_HOME/takedown/quarantine` or
/// `~/.local/share/takedown/quarantine`.
pub fn default_vault_dir() -> Option<PathBuf> {
    if privileged() {
        return Some(PathBuf::from(crate::SYSTEM_VAULT));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("takedown").join("quarantine"))
}

/// Creates the vault directory with mode 0700 (an existing one is fine).
pub fn create_private_dir(root: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(root)
        .or_else(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    // The umask may have taken bits away, never added: still set it
    // exactly.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
}

/// A vault must be a real directory of the user running takedown that
/// nobody else can write to, in a parent nobody else can swap it in;
/// `Err` says why not.
pub fn check_vault_dir(root: &Path, m: &std::fs::Metadata) -> Result<(), String> {
    let shown = root.display();
    let me = euid();
    if m.uid() != me {
        return Err(format!(
            "vault {shown} belongs to uid {}, not to the user running takedown (uid {me}); refusing to use it",
            m.uid()
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Err(format!(
            "vault {shown} is writable by others (mode {:o}); refusing to use it (chmod 700 it)",
            m.mode() & 0o7777
        ));
    }
    if let Some(parent) = root.parent()
        && let Ok(p) = std::fs::symlink_metadata(parent)
        && p.mode() & 0o022 != 0
        && p.mode() & 0o1000 == 0
    {
        return Err(format!(
            "the vault's parent {} is writable by others without the sticky bit: the vault could be swapped; refusing to use it",
            parent.display()
        ));
    }
    Ok(())
}

/// True when a key file is a regular file of the user running takedown
/// that nobody else can read or write (mode 600).
pub fn private_file(st: &Stat) -> bool {
    st.uid == user_id() && st.mode.is_some_and(|m| m & 0o077 == 0) && st.is_regular()
}

/// Opens a run log by path without following a link in its last
/// component, for appending (created 0600 when `create`).
pub fn open_log(path: &Path, create: bool) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.append(true);
    if create {
        o.create(true).mode(0o600);
    }
    o.custom_flags(libc::O_NOFOLLOW).open(path)
}

/// The exact bytes of a path, for the journal and metadata.
pub fn os_bytes(s: &OsStr) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A path back from [`os_bytes`].
pub fn os_from_bytes(b: &[u8]) -> Option<OsString> {
    Some(OsStr::from_bytes(b).to_os_string())
}

/// Ends the process here as `kill -9` would (SIGKILL), or stops it
/// (SIGSTOP) when `stop`: the fault injection of the crash tests.
pub fn die_here(stop: bool) {
    let signal = if stop { libc::SIGSTOP } else { libc::SIGKILL };
    // SAFETY: raising a signal on ourselves.
    unsafe {
        libc::raise(signal);
    }
}

/// True when `e` is the refusal of a symbolic link in the last component.
pub fn is_link_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// Writing errors are the vault's fault; reading errors are the file's.
pub fn is_write_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG | libc::EROFS)
    )
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
