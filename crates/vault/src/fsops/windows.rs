//! The Windows side of [`super`]: `NtCreateFile` relative to a directory
//! handle (`OBJECT_ATTRIBUTES.RootDirectory`, the equivalent of
//! `openat`), `FILE_OPEN_REPARSE_POINT` on every open so that a reparse
//! point (symbolic link, junction, mount point) is opened itself and then
//! refused, never followed; removal and rename through an open handle
//! (`NtSetInformationFile`), identity from the volume serial number and
//! the file index.

use super::{Attrs, FileKind, OpenHow, Removed, Stat, Time};
use std::ffi::{OsStr, OsString, c_void};
use std::fs::File;
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::fs::{FileExt, OpenOptionsExt};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::{Component, Path, PathBuf, Prefix};
use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Wdk::Storage::FileSystem::{
    FILE_CREATE, FILE_DIRECTORY_FILE, FILE_DISPOSITION_DELETE, FILE_DISPOSITION_INFORMATION,
    FILE_DISPOSITION_INFORMATION_EX, FILE_DISPOSITION_POSIX_SEMANTICS, FILE_NON_DIRECTORY_FILE,
    FILE_OPEN, FILE_OPEN_FOR_BACKUP_INTENT, FILE_OPEN_IF, FILE_OPEN_REPARSE_POINT,
    FILE_RENAME_IGNORE_READONLY_ATTRIBUTE, FILE_RENAME_INFORMATION, FILE_RENAME_POSIX_SEMANTICS,
    FILE_RENAME_REPLACE_IF_EXISTS, FILE_SYNCHRONOUS_IO_NONALERT, FileDispositionInformation,
    FileDispositionInformationEx, FileRenameInformation, FileRenameInformationEx, NtCreateFile,
    NtSetInformationFile,
};
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, ERROR_DIRECTORY, ERROR_DISK_FULL, ERROR_DISK_QUOTA_EXCEEDED,
    ERROR_FILE_NOT_FOUND, ERROR_FILE_TOO_LARGE, ERROR_HANDLE_DISK_FULL, ERROR_NOT_SAME_DEVICE,
    ERROR_PATH_NOT_FOUND, ERROR_SHARING_VIOLATION, ERROR_STOPPED_ON_SYMLINK, ERROR_WRITE_PROTECT,
    HANDLE, NTSTATUS, OBJ_CASE_INSENSITIVE, RtlNtStatusToDosError, STATUS_ACCESS_DENIED,
    STATUS_CANNOT_DELETE, STATUS_INVALID_INFO_CLASS, STATUS_INVALID_PARAMETER,
    STATUS_NOT_IMPLEMENTED, STATUS_NOT_SUPPORTED, STATUS_SHARING_VIOLATION, UNICODE_STRING,
};
use windows_sys::Win32::Security::{
    GetTokenInformation, TOKEN_ELEVATION, TOKEN_QUERY, TokenElevation,
};
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, DELETE, FILE_ADD_FILE, FILE_ADD_SUBDIRECTORY, FILE_APPEND_DATA,
    FILE_ATTRIBUTE_ARCHIVE, FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_HIDDEN, FILE_ATTRIBUTE_NORMAL,
    FILE_ATTRIBUTE_NOT_CONTENT_INDEXED, FILE_ATTRIBUTE_READONLY, FILE_ATTRIBUTE_REPARSE_POINT,
    FILE_ATTRIBUTE_SYSTEM, FILE_ATTRIBUTE_TEMPORARY, FILE_BASIC_INFO, FILE_FLAG_OPEN_REPARSE_POINT,
    FILE_GENERIC_READ, FILE_GENERIC_WRITE, FILE_LIST_DIRECTORY, FILE_NAME_NORMALIZED,
    FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_TRAVERSE,
    FILE_WRITE_ATTRIBUTES, FileBasicInfo, FlushFileBuffers, GetFileInformationByHandle,
    GetFileInformationByHandleEx, GetFinalPathNameByHandleW, GetVolumeInformationByHandleW,
    LOCKFILE_EXCLUSIVE_LOCK, LockFileEx, MOVEFILE_DELAY_UNTIL_REBOOT, MoveFileExW, SYNCHRONIZE,
    SetFileInformationByHandle, UnlockFileEx, VOLUME_NAME_DOS,
};
use windows_sys::Win32::System::IO::{IO_STATUS_BLOCK, OVERLAPPED};
use windows_sys::Win32::System::SystemServices::FILE_READ_ONLY_VOLUME;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcessToken, TerminateProcess,
};

/// A directory opened without following reparse points.
#[derive(Debug)]
pub struct Dir {
    handle: OwnedHandle,
    /// Opened with the right to add files (needed to flush it; its
    /// absence means the caller may not create names in it).
    writable: bool,
}

impl Dir {
    fn raw(&self) -> HANDLE {
        self.handle.as_raw_handle()
    }
}

fn raw(file: &File) -> HANDLE {
    file.as_raw_handle()
}

/// The Win32 error of an NT status, as an `io::Error` (so that its kind
/// is std's: not found, already exists, permission denied).
fn nt_error(status: NTSTATUS) -> io::Error {
    // SAFETY: a pure conversion.
    let code = unsafe { RtlNtStatusToDosError(status) };
    io::Error::from_raw_os_error(code as i32)
}

fn win_error(code: u32) -> io::Error {
    io::Error::from_raw_os_error(code as i32)
}

fn check(ok: i32) -> io::Result<()> {
    if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// One path component as UTF-16. A separator inside would make the
/// kernel walk several components and follow reparse points on the way:
/// refused.
fn component(name: &OsStr) -> io::Result<Vec<u16>> {
    let wide: Vec<u16> = name.encode_wide().collect();
    let bad = wide.is_empty()
        || wide
            .iter()
            .any(|&c| c == 0 || c == u16::from(b'\\') || c == u16::from(b'/'));
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{}' is not a file name", name.to_string_lossy()),
        ));
    }
    Ok(wide)
}

/// `NtCreateFile` of `name` (UTF-16) relative to `root` (or an NT path
/// when `root` is null), never following a reparse point in it.
fn nt_create(
    root: HANDLE,
    name: &[u16],
    access: u32,
    disposition: u32,
    options: u32,
) -> io::Result<OwnedHandle> {
    let bytes = u16::try_from(name.len() * 2)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file name too long"))?;
    let us = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: name.as_ptr().cast_mut(),
    };
    let oa = OBJECT_ATTRIBUTES {
        Length: std::mem::size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: root,
        ObjectName: &us,
        Attributes: OBJ_CASE_INSENSITIVE,
        SecurityDescriptor: std::ptr::null(),
        SecurityQualityOfService: std::ptr::null(),
    };
    let mut handle: HANDLE = std::ptr::null_mut();
    // SAFETY: an all-zero IO_STATUS_BLOCK is a valid out value.
    let mut iosb: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
    // SAFETY: every pointer is valid for the call; `name` outlives it.
    let status = unsafe {
        NtCreateFile(
            &mut handle,
            access | SYNCHRONIZE,
            &oa,
            &mut iosb,
            std::ptr::null(),
            FILE_ATTRIBUTE_NORMAL,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            disposition,
            options | FILE_SYNCHRONOUS_IO_NONALERT | FILE_OPEN_REPARSE_POINT,
            std::ptr::null(),
            0,
        )
    };
    if status < 0 {
        return Err(nt_error(status));
    }
    // SAFETY: a handle just returned by a successful NtCreateFile, ours.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
}

fn open_in(
    dir: HANDLE,
    name: &OsStr,
    access: u32,
    disposition: u32,
    options: u32,
) -> io::Result<OwnedHandle> {
    nt_create(dir, &component(name)?, access, disposition, options)
}

const DIR_ACCESS: u32 = FILE_LIST_DIRECTORY | FILE_TRAVERSE | FILE_READ_ATTRIBUTES;
const DIR_WRITE: u32 = FILE_ADD_FILE | FILE_ADD_SUBDIRECTORY;
const DIR_OPTIONS: u32 = FILE_DIRECTORY_FILE | FILE_OPEN_FOR_BACKUP_INTENT;

/// Opens the directory `name` in `dir`: with the right to add files when
/// the caller has it, else read only.
fn open_dir_in(dir: HANDLE, name: &[u16]) -> io::Result<Dir> {
    match nt_create(dir, name, DIR_ACCESS | DIR_WRITE, FILE_OPEN, DIR_OPTIONS) {
        Ok(handle) => Ok(Dir {
            handle,
            writable: true,
        }),
        Err(e) if e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => {
            nt_create(dir, name, DIR_ACCESS, FILE_OPEN, DIR_OPTIONS).map(|handle| Dir {
                handle,
                writable: false,
            })
        }
        Err(e) => Err(e),
    }
}

/// The NT path of the root of a path's drive or share.
fn root_of(prefix: Prefix<'_>) -> io::Result<String> {
    match prefix {
        Prefix::Disk(l) | Prefix::VerbatimDisk(l) => Ok(format!("\\??\\{}:\\", char::from(l))),
        Prefix::UNC(server, share) | Prefix::VerbatimUNC(server, share) => Ok(format!(
            "\\??\\UNC\\{}\\{}\\",
            server.to_string_lossy(),
            share.to_string_lossy()
        )),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "only drive-letter and UNC paths are supported",
        )),
    }
}

/// Opens a directory path without following any reparse point on the
/// way: each component is opened relative to the one before with
/// `FILE_OPEN_REPARSE_POINT`, and one that is a reparse point (a symbolic
/// link, a junction, a mount point) is refused.
pub fn open_dir_nofollow(path: &Path) -> io::Result<Dir> {
    let path = std::path::absolute(path)?;
    let mut dir: Option<Dir> = None;
    for comp in path.components() {
        match comp {
            Component::Prefix(p) => {
                let root: Vec<u16> = root_of(p.kind())?.encode_utf16().collect();
                dir = Some(open_dir_in(std::ptr::null_mut(), &root)?);
            }
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("'..' in {}", path.display()),
                ));
            }
            Component::Normal(name) => {
                let Some(parent) = &dir else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{} has no drive or share", path.display()),
                    ));
                };
                let next = open_dir_in(parent.raw(), &component(name)?)
                    .map_err(|e| not_a_directory(e, &path, name))?;
                if info(next.raw())?.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
                    return Err(refused_link(&path, name));
                }
                dir = Some(next);
            }
        }
    }
    dir.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty path"))
}

fn refused_link(path: &Path, name: &OsStr) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotADirectory,
        format!(
            "'{}' on the path {} is a symbolic link or junction; takedown does not act through links",
            name.to_string_lossy(),
            path.display()
        ),
    )
}

/// A file where a directory was: said plainly, as an error of kind
/// `NotADirectory` (callers treat it as a refusal).
fn not_a_directory(e: io::Error, path: &Path, name: &OsStr) -> io::Error {
    if e.raw_os_error() != Some(ERROR_DIRECTORY as i32) {
        return e;
    }
    io::Error::new(
        io::ErrorKind::NotADirectory,
        format!(
            "'{}' on the path {} is not a directory",
            name.to_string_lossy(),
            path.display()
        ),
    )
}

/// Opens the directory `name` in `dir` without following a reparse
/// point.
pub fn open_subdir(dir: &Dir, name: &OsStr) -> io::Result<Dir> {
    let sub = open_dir_in(dir.raw(), &component(name)?)?;
    if info(sub.raw())?.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err(win_error(ERROR_STOPPED_ON_SYMLINK));
    }
    Ok(sub)
}

fn info(h: HANDLE) -> io::Result<BY_HANDLE_FILE_INFORMATION> {
    // SAFETY: all-zero is a valid value of this plain struct.
    let mut bi: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: valid handle and out pointer.
    check(unsafe { GetFileInformationByHandle(h, &mut bi) })?;
    Ok(bi)
}

fn basic_info(h: HANDLE) -> io::Result<FILE_BASIC_INFO> {
    // SAFETY: all-zero is a valid value of this plain struct.
    let mut b: FILE_BASIC_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: valid handle; the buffer is the size given.
    check(unsafe {
        GetFileInformationByHandleEx(
            h,
            FileBasicInfo,
            (&mut b as *mut FILE_BASIC_INFO).cast::<c_void>(),
            std::mem::size_of::<FILE_BASIC_INFO>() as u32,
        )
    })?;
    Ok(b)
}

/// 100 ns intervals between 1601-01-01 and 1970-01-01.
const EPOCH_TICKS: i64 = 116_444_736_000_000_000;

/// A Windows time (100 ns since 1601) as seconds and nanoseconds since
/// the Unix epoch.
fn from_ticks(t: i64) -> Time {
    let u = t.saturating_sub(EPOCH_TICKS);
    (u.div_euclid(10_000_000), u.rem_euclid(10_000_000) * 100)
}

/// The reverse of [`from_ticks`]; 0 (which Windows reads as "leave it")
/// for a time it cannot hold.
fn to_ticks((sec, nsec): Time) -> i64 {
    sec.checked_mul(10_000_000)
        .and_then(|t| t.checked_add(nsec / 100))
        .and_then(|t| t.checked_add(EPOCH_TICKS))
        .filter(|&t| t > 0)
        .unwrap_or(0)
}

fn stat_handle(h: HANDLE) -> io::Result<Stat> {
    let bi = info(h)?;
    let basic = basic_info(h)?;
    let attrs = bi.dwFileAttributes;
    let kind = if attrs & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        FileKind::Link
    } else if attrs & FILE_ATTRIBUTE_DIRECTORY != 0 {
        FileKind::Directory
    } else {
        FileKind::Regular
    };
    Ok(Stat {
        dev: u64::from(bi.dwVolumeSerialNumber),
        ino: (u64::from(bi.nFileIndexHigh) << 32) | u64::from(bi.nFileIndexLow),
        size: (u64::from(bi.nFileSizeHigh) << 32) | u64::from(bi.nFileSizeLow),
        nlink: u64::from(bi.nNumberOfLinks),
        kind,
        mode: None,
        uid: None,
        gid: None,
        atime: from_ticks(basic.LastAccessTime),
        mtime: from_ticks(basic.LastWriteTime),
        ctime: from_ticks(basic.ChangeTime),
        btime: Some(from_ticks(basic.CreationTime)),
        attributes: Some(attrs),
    })
}

/// The [`Stat`] of an open file.
pub fn stat_file(file: &File) -> io::Result<Stat> {
    stat_handle(raw(file))
}

/// The [`Stat`] of `name` in `dir`, not following a reparse point;
/// `Ok(None)` when there is no such name.
pub fn stat_at(dir: &Dir, name: &OsStr) -> io::Result<Option<Stat>> {
    match open_in(dir.raw(), name, FILE_READ_ATTRIBUTES, FILE_OPEN, 0) {
        Ok(h) => stat_handle(h.as_raw_handle()).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens the regular file `name` in `dir` for reading, refusing reparse
/// points and directories.
pub fn open_file_nofollow(dir: &Dir, name: &OsStr) -> io::Result<File> {
    open_file_nofollow_stat(dir, name).map(|(f, _)| f)
}

/// [`open_file_nofollow`], also returning the status it read from the
/// handle. The file is opened with the right to delete it (so that it can
/// be removed through this very handle); a file another program holds
/// open without sharing deletion is opened without that right (its
/// removal then waits for the next boot).
pub fn open_file_nofollow_stat(dir: &Dir, name: &OsStr) -> io::Result<(File, Stat)> {
    let wide = component(name)?;
    let read = FILE_GENERIC_READ;
    let h = match nt_create(
        dir.raw(),
        &wide,
        read | DELETE,
        FILE_OPEN,
        FILE_NON_DIRECTORY_FILE,
    ) {
        Err(e) if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION as i32) => {
            nt_create(dir.raw(), &wide, read, FILE_OPEN, FILE_NON_DIRECTORY_FILE)?
        }
        r => r?,
    };
    let st = stat_handle(h.as_raw_handle())?;
    if st.kind == FileKind::Link {
        return Err(win_error(ERROR_STOPPED_ON_SYMLINK));
    }
    if st.kind != FileKind::Regular {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok((File::from(h), st))
}

/// Opens `name` in `dir` as `how` says, never through a reparse point.
/// (Appending is the system's only for a write-only open; a caller that
/// also reads seeks to the end itself, as the journal does.)
pub fn open_at(dir: &Dir, name: &OsStr, how: OpenHow) -> io::Result<File> {
    let mut access = FILE_READ_ATTRIBUTES;
    if how.read {
        access |= FILE_GENERIC_READ;
    }
    if how.write {
        access |= if how.append && !how.read {
            FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES
        } else {
            FILE_GENERIC_WRITE
        };
    }
    let disposition = if how.create { FILE_OPEN_IF } else { FILE_OPEN };
    let h = open_in(
        dir.raw(),
        name,
        access,
        disposition,
        FILE_NON_DIRECTORY_FILE,
    )?;
    if info(h.as_raw_handle())?.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err(win_error(ERROR_STOPPED_ON_SYMLINK));
    }
    Ok(File::from(h))
}

/// Creates `name` in `dir` exclusively (never through a reparse point).
pub fn create_excl(dir: &Dir, name: &OsStr) -> io::Result<File> {
    open_in(
        dir.raw(),
        name,
        FILE_GENERIC_WRITE | FILE_READ_ATTRIBUTES | DELETE,
        FILE_CREATE,
        FILE_NON_DIRECTORY_FILE,
    )
    .map(File::from)
}

/// Reads exactly `buf.len()` bytes at `offset` (moves the file position).
pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `buf` at `offset` (moves the file position).
pub fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.seek_write(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Zeroes `len` bytes of `file` from `offset` with written zeros.
pub fn zero_range(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let zeros = vec![0u8; usize::try_from(len.min(1 << 20)).unwrap_or(1 << 20)];
    let mut done = 0u64;
    while done < len {
        let k = (len - done).min(zeros.len() as u64) as usize;
        write_all_at(file, &zeros[..k], offset + done)?;
        done += k as u64;
    }
    Ok(())
}

fn set_info(h: HANDLE, data: *const c_void, len: usize, class: i32) -> Result<(), NTSTATUS> {
    // SAFETY: all-zero is a valid out value.
    let mut iosb: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
    // SAFETY: `data` points to `len` valid bytes of the class's struct.
    let status = unsafe { NtSetInformationFile(h, &mut iosb, data, len as u32, class) };
    if status < 0 { Err(status) } else { Ok(()) }
}

/// Statuses that mean "this information class is not known here": an
/// older system (or file system) without POSIX semantics.
fn unsupported(status: NTSTATUS) -> bool {
    matches!(
        status,
        STATUS_INVALID_PARAMETER
            | STATUS_NOT_SUPPORTED
            | STATUS_INVALID_INFO_CLASS
            | STATUS_NOT_IMPLEMENTED
    )
}

/// Marks the open file `h` deleted: POSIX semantics (the name goes at
/// once, even while others hold it open) where the system has them, else
/// the classic delete-on-close.
fn delete_handle(h: HANDLE) -> Result<(), NTSTATUS> {
    let ex = FILE_DISPOSITION_INFORMATION_EX {
        Flags: FILE_DISPOSITION_DELETE | FILE_DISPOSITION_POSIX_SEMANTICS,
    };
    match set_info(
        h,
        (&ex as *const FILE_DISPOSITION_INFORMATION_EX).cast(),
        std::mem::size_of_val(&ex),
        FileDispositionInformationEx,
    ) {
        Err(s) if unsupported(s) => {
            let old = FILE_DISPOSITION_INFORMATION { DeleteFile: true };
            set_info(
                h,
                (&old as *const FILE_DISPOSITION_INFORMATION).cast(),
                std::mem::size_of_val(&old),
                FileDispositionInformation,
            )
        }
        r => r,
    }
}

/// Removes `name` from `dir` (a reparse point itself, never its target).
pub fn unlink_at(dir: &Dir, name: &OsStr) -> io::Result<()> {
    let h = open_in(dir.raw(), name, DELETE | FILE_READ_ATTRIBUTES, FILE_OPEN, 0)?;
    delete_handle(h.as_raw_handle()).map_err(nt_error)
}

/// Removes the file open as `file` (`name` in `dir`) through its handle.
/// A file in use that cannot be removed while it is (a running program,
/// a file another process holds without sharing deletion) has its removal
/// scheduled for the next boot instead (`MoveFileExW` with
/// `MOVEFILE_DELAY_UNTIL_REBOOT`, which needs administrator rights).
pub fn remove_open(dir: &Dir, name: &OsStr, file: &File) -> io::Result<Removed> {
    let in_use = match delete_handle(raw(file)) {
        Ok(()) => return Ok(Removed::Now),
        Err(STATUS_CANNOT_DELETE | STATUS_SHARING_VIOLATION) => true,
        // The handle has no right to delete: it was opened without it
        // because another program held the file. A new handle with that
        // right, checked to be the same file, tells whether that is still
        // so.
        Err(STATUS_ACCESS_DENIED) => {
            match open_in(dir.raw(), name, DELETE | FILE_READ_ATTRIBUTES, FILE_OPEN, 0) {
                Ok(h) => {
                    let (a, b) = (stat_handle(h.as_raw_handle())?, stat_file(file)?);
                    if (a.dev, a.ino) != (b.dev, b.ino) {
                        return Err(io::Error::other(
                            "its name was swapped for another file before removal",
                        ));
                    }
                    match delete_handle(h.as_raw_handle()) {
                        Ok(()) => return Ok(Removed::Now),
                        Err(STATUS_CANNOT_DELETE | STATUS_SHARING_VIOLATION) => true,
                        Err(s) => return Err(nt_error(s)),
                    }
                }
                Err(e) if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION as i32) => true,
                Err(e) => return Err(e),
            }
        }
        Err(s) => return Err(nt_error(s)),
    };
    debug_assert!(in_use);
    let path = final_path(file)?;
    // SAFETY: a NUL-terminated path; a null target means "delete".
    let ok = unsafe { MoveFileExW(path.as_ptr(), std::ptr::null(), MOVEFILE_DELAY_UNTIL_REBOOT) };
    if ok == 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "it is in use by another program, and scheduling its removal for the next boot failed ({}; it needs administrator rights)",
                reason(&e)
            ),
        ));
    }
    Ok(Removed::AtReboot)
}

/// The path the system knows an open file by (`\\?\C:\...`),
/// NUL-terminated.
fn final_path(file: &File) -> io::Result<Vec<u16>> {
    let mut buf = vec![0u16; 512];
    loop {
        let cap = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        // SAFETY: the buffer holds `cap` UTF-16 units.
        let n = unsafe {
            GetFinalPathNameByHandleW(
                raw(file),
                buf.as_mut_ptr(),
                cap,
                FILE_NAME_NORMALIZED | VOLUME_NAME_DOS,
            )
        };
        if n == 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n < buf.len() {
            buf.truncate(n);
            buf.push(0);
            return Ok(buf);
        }
        // Too small: `n` is the size needed. Paths are at most 32767
        // units; anything beyond is not a path.
        if n > 32_768 {
            return Err(io::Error::other("the file's path is too long"));
        }
        buf.resize(n + 1, 0);
    }
}

/// Renames within or across directory handles, through a handle to the
/// source (a reparse point is renamed itself). With `noreplace`, an
/// existing destination is an error (already exists).
pub fn rename_at(
    from_dir: &Dir,
    from: &OsStr,
    to_dir: &Dir,
    to: &OsStr,
    noreplace: bool,
) -> io::Result<()> {
    let h = open_in(
        from_dir.raw(),
        from,
        DELETE | FILE_READ_ATTRIBUTES,
        FILE_OPEN,
        0,
    )?;
    let target = component(to)?;
    let name_bytes = target.len() * 2;
    let offset = std::mem::offset_of!(FILE_RENAME_INFORMATION, FileName);
    let len = offset + name_bytes;
    // u64 storage: the struct's alignment (it holds a handle).
    let mut buf = vec![0u64; len.div_ceil(8) + 1];
    let size = std::mem::size_of::<FILE_RENAME_INFORMATION>().max(len);
    let attempt = |ex: bool, buf: &mut Vec<u64>| -> Result<(), NTSTATUS> {
        buf.iter_mut().for_each(|w| *w = 0);
        let info = buf.as_mut_ptr().cast::<FILE_RENAME_INFORMATION>();
        // SAFETY: `buf` is zeroed, aligned and large enough for the
        // header and `name_bytes` of name.
        unsafe {
            if ex {
                let mut flags = FILE_RENAME_POSIX_SEMANTICS;
                if !noreplace {
                    flags |= FILE_RENAME_REPLACE_IF_EXISTS | FILE_RENAME_IGNORE_READONLY_ATTRIBUTE;
                }
                (*info).Anonymous.Flags = flags;
            } else {
                (*info).Anonymous.ReplaceIfExists = !noreplace;
            }
            (*info).RootDirectory = to_dir.raw();
            (*info).FileNameLength = name_bytes as u32;
            std::ptr::copy_nonoverlapping(
                target.as_ptr(),
                buf.as_mut_ptr().cast::<u8>().add(offset).cast::<u16>(),
                target.len(),
            );
        }
        let class = if ex {
            FileRenameInformationEx
        } else {
            FileRenameInformation
        };
        set_info(h.as_raw_handle(), buf.as_ptr().cast(), size, class)
    };
    match attempt(true, &mut buf) {
        Err(s) if unsupported(s) => attempt(false, &mut buf),
        r => r,
    }
    .map_err(nt_error)
}

/// Creates the directory `name` in `dir`.
pub fn mkdir_at(dir: &Dir, name: &OsStr) -> io::Result<()> {
    open_in(
        dir.raw(),
        name,
        FILE_LIST_DIRECTORY,
        FILE_CREATE,
        FILE_DIRECTORY_FILE,
    )
    .map(drop)
}

/// Flushes a directory (its entries) to the disk.
pub fn fsync_dir(dir: &Dir) -> io::Result<()> {
    // SAFETY: a handle we hold.
    check(unsafe { FlushFileBuffers(dir.raw()) })
}

/// Makes the removals in `dir` durable. Flushing a whole volume needs a
/// volume handle and administrator rights; the directory's own flush
/// makes its entries durable, which is what a removal changed.
pub fn sync_fs(dir: &Dir) -> io::Result<()> {
    fsync_dir(dir)
}

/// Sets owner and group: Windows has no numeric ids (files have none
/// recorded), so only "keep both" is possible.
pub fn set_owner(file: &File, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let _ = file;
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Windows has no numeric user or group ids",
    ))
}

/// The attributes restore may set (not directory, reparse, compression
/// or encryption, which are not plain flags).
const SETTABLE: u32 = FILE_ATTRIBUTE_READONLY
    | FILE_ATTRIBUTE_HIDDEN
    | FILE_ATTRIBUTE_SYSTEM
    | FILE_ATTRIBUTE_ARCHIVE
    | FILE_ATTRIBUTE_TEMPORARY
    | FILE_ATTRIBUTE_NOT_CONTENT_INDEXED;

/// Sets times and attributes on an open file, by handle. Windows has no
/// owner ids or mode bits: `owner` must be `None`, `mode` is not used. A
/// time left `None` is left as the write made it (now).
pub fn set_attributes(file: &File, a: &Attrs) -> io::Result<()> {
    if a.owner.is_some() {
        return set_owner(file, a.owner.map(|o| o.0), a.owner.map(|o| o.1));
    }
    let attributes = a.attributes.map_or(0, |v| {
        let v = v & SETTABLE;
        if v == 0 { FILE_ATTRIBUTE_NORMAL } else { v }
    });
    let info = FILE_BASIC_INFO {
        CreationTime: a.btime.map_or(0, to_ticks),
        LastAccessTime: a.atime.map_or(0, to_ticks),
        LastWriteTime: a.mtime.map_or(0, to_ticks),
        ChangeTime: 0,
        FileAttributes: attributes,
    };
    // SAFETY: a valid handle and struct of the size given.
    check(unsafe {
        SetFileInformationByHandle(
            raw(file),
            FileBasicInfo,
            (&info as *const FILE_BASIC_INFO).cast(),
            std::mem::size_of::<FILE_BASIC_INFO>() as u32,
        )
    })
}

/// True when the volume holding `dir` is read-only.
pub fn read_only_fs(dir: &Dir) -> bool {
    let mut flags = 0u32;
    // SAFETY: only the flags are asked for; the other out pointers may be
    // null.
    let ok = unsafe {
        GetVolumeInformationByHandleW(
            dir.raw(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut flags,
            std::ptr::null_mut(),
            0,
        )
    };
    ok != 0 && flags & FILE_READ_ONLY_VOLUME != 0
}

/// True when the caller may create names in `dir` (it was opened with
/// that right).
pub fn dir_writable(dir: &Dir) -> bool {
    dir.writable
}

/// Windows has no per-process limit on open handles to raise (they are
/// bounded by memory, about 16 million per process): that bound.
pub fn raise_open_files_limit() -> u64 {
    1 << 24
}

/// Windows has no numeric user ids.
pub fn user_id() -> Option<u32> {
    None
}

/// True when the process runs elevated (as administrator).
pub fn privileged() -> bool {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo-handle of our process; valid out pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return false;
    }
    let mut elevation = TOKEN_ELEVATION { TokenIsElevated: 0 };
    let mut len = 0u32;
    // SAFETY: valid token, buffer of the size given.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenElevation,
            (&mut elevation as *mut TOKEN_ELEVATION).cast(),
            std::mem::size_of::<TOKEN_ELEVATION>() as u32,
            &mut len,
        )
    };
    // SAFETY: the token handle we opened.
    unsafe { CloseHandle(token) };
    ok != 0 && elevation.TokenIsElevated != 0
}

/// Windows has no numeric user ids, so no name for one.
pub fn user_name(_uid: u32) -> Option<String> {
    None
}

/// Windows has no numeric group ids, so no name for one.
pub fn group_name(_gid: u32) -> Option<String> {
    None
}

/// Holds an exclusive lock on a whole file until dropped.
pub struct LockGuard(HANDLE);

impl Drop for LockGuard {
    fn drop(&mut self) {
        // SAFETY: all-zero OVERLAPPED is offset 0.
        let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
        // SAFETY: the handle of the lock file, which outlives the guard.
        unsafe {
            UnlockFileEx(self.0, 0, u32::MAX, u32::MAX, &mut ov);
        }
    }
}

/// Takes an exclusive lock on `file`, waiting for it; `file` must outlive
/// the guard.
pub fn lock_exclusive(file: &File) -> io::Result<LockGuard> {
    // SAFETY: all-zero OVERLAPPED is offset 0.
    let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
    // SAFETY: a handle we hold; a synchronous handle waits for the lock.
    check(unsafe {
        LockFileEx(
            raw(file),
            LOCKFILE_EXCLUSIVE_LOCK,
            0,
            u32::MAX,
            u32::MAX,
            &mut ov,
        )
    })?;
    Ok(LockGuard(raw(file)))
}

/// The default vault: `%ProgramData%\takedown\quarantine` for an
/// administrator, else `%LOCALAPPDATA%\takedown\quarantine`.
pub fn default_vault_dir() -> Option<PathBuf> {
    let var = if privileged() {
        "ProgramData"
    } else {
        "LOCALAPPDATA"
    };
    let base = std::env::var_os(var).filter(|v| !v.is_empty())?;
    Some(PathBuf::from(base).join("takedown").join("quarantine"))
}

/// Creates the vault directory (an existing one is fine). It inherits the
/// access control list of its parent.
pub fn create_private_dir(root: &Path) -> io::Result<()> {
    match std::fs::create_dir(root) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        r => r,
    }
}

/// The vault directory's ownership and access list are not checked on
/// Windows (the link and directory checks are made by the caller).
pub fn check_vault_dir(root: &Path, m: &std::fs::Metadata) -> Result<(), String> {
    let _ = (root, m);
    Ok(())
}

/// A key file must be a regular file (its access list is not checked on
/// Windows).
pub fn private_file(st: &Stat) -> bool {
    st.is_regular()
}

/// Opens a run log by path for appending (created when `create`), and
/// refuses a reparse point in its last component.
pub fn open_log(path: &Path, create: bool) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.append(true);
    if create {
        o.create(true);
    }
    let f = o.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT).open(path)?;
    if info(raw(&f))?.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err(win_error(ERROR_STOPPED_ON_SYMLINK));
    }
    Ok(f)
}

/// The exact UTF-16 of a path as little-endian bytes, for the journal and
/// metadata (a name that is not valid Unicode is kept as it is).
pub fn os_bytes(s: &OsStr) -> Vec<u8> {
    s.encode_wide().flat_map(u16::to_le_bytes).collect()
}

/// A path back from [`os_bytes`]; `None` for an odd number of bytes.
pub fn os_from_bytes(b: &[u8]) -> Option<OsString> {
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let wide: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(OsString::from_wide(&wide))
}

/// Ends the process here as a kill would (`TerminateProcess`: no
/// destructor, no flush). Windows has no stop signal: a stop request ends
/// the process with exit code 2 and says so.
pub fn die_here(stop: bool) {
    if stop {
        eprintln!("fault-point: @stop is not available on Windows; exiting");
    }
    let code = if stop { 2 } else { 137 };
    // SAFETY: the pseudo-handle of our own process.
    unsafe {
        TerminateProcess(GetCurrentProcess(), code);
    }
}

/// True when `e` is the refusal of a reparse point in the last component.
pub fn is_link_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(ERROR_STOPPED_ON_SYMLINK as i32)
}

/// Writing errors are the vault's fault; reading errors are the file's.
pub fn is_write_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(|c| c as u32),
        Some(
            ERROR_DISK_FULL
                | ERROR_HANDLE_DISK_FULL
                | ERROR_DISK_QUOTA_EXCEEDED
                | ERROR_FILE_TOO_LARGE
                | ERROR_WRITE_PROTECT
        )
    )
}

/// Plain words for an I/O error.
pub fn reason(e: &io::Error) -> String {
    match e.raw_os_error().map(|c| c as u32) {
        Some(ERROR_DISK_FULL | ERROR_HANDLE_DISK_FULL) => "no space left on the device".into(),
        Some(ERROR_DISK_QUOTA_EXCEEDED) => "disk quota exceeded".into(),
        Some(ERROR_WRITE_PROTECT) => "read-only file system".into(),
        Some(ERROR_ACCESS_DENIED) => "permission denied".into(),
        Some(ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND) => "no such file or directory".into(),
        Some(ERROR_STOPPED_ON_SYMLINK) => "is a symbolic link or junction (not followed)".into(),
        Some(ERROR_SHARING_VIOLATION) => "in use by another program".into(),
        Some(ERROR_NOT_SAME_DEVICE) => "crosses file systems".into(),
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
