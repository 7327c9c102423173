//! The Unix side of [`crate::platform`].

use super::{OpenError, OpenFileId};
use std::fs::File;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Opens a file to scan. With `nofollow`, a symlink in the last component
/// is refused ([`OpenError::IsLink`]).
pub fn open_for_scan(path: &Path, nofollow: bool) -> Result<File, OpenError> {
    // O_NONBLOCK: if a FIFO was swapped in after the walker looked,
    // open must not hang waiting for a writer. O_NOCTTY: never become
    // the controlling terminal by opening a tty.
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) && nofollow {
                OpenError::IsLink
            } else {
                OpenError::Io(e)
            }
        })
}

/// Opens a file that must be a regular file (a signature file).
/// `O_NONBLOCK` so that a FIFO put where a file was expected cannot hang
/// the open waiting for a writer (the caller then refuses it as not a
/// regular file); on a regular file the flag does nothing.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// The identity and owner of an open file, from its metadata.
pub fn file_id(_file: &File, meta: &std::fs::Metadata) -> std::io::Result<OpenFileId> {
    Ok(OpenFileId {
        dev: meta.dev(),
        ino: meta.ino(),
        mtime_sec: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
        uid: Some(meta.uid()),
    })
}

/// The user name of `uid`, or its number when it has no name.
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}

/// Reads at `offset` without moving the file position.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    file.read_at(buf, offset)
}

/// What a special file is (FIFO, socket, device), if it is one.
pub fn special_kind(ft: std::fs::FileType) -> Option<&'static str> {
    if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else {
        None
    }
}

/// The path on line `_number` of a `--file-list`: its bytes exactly.
pub fn path_from_line(line: &[u8], _number: u64) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    Ok(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(line)))
}
