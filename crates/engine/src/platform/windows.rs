//! The Windows side of [`crate::platform`].

use super::{OpenError, OpenFileId};
use std::fs::File;
use std::os::windows::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_OPEN_REPARSE_POINT,
    GetFileInformationByHandle,
};

/// 100 ns intervals from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
const FILETIME_UNIX_EPOCH: i64 = 116_444_736_000_000_000;

/// Opens a file to scan. With `nofollow`, the reparse point itself is
/// opened (FILE_FLAG_OPEN_REPARSE_POINT), and a reparse point (symbolic
/// link, junction, ...) is refused ([`OpenError::IsLink`]).
pub fn open_for_scan(path: &Path, nofollow: bool) -> Result<File, OpenError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    if nofollow {
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    let file = options.open(path).map_err(OpenError::Io)?;
    if nofollow {
        let meta = file.metadata().map_err(OpenError::Io)?;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(OpenError::IsLink);
        }
    }
    Ok(file)
}

/// Opens a file that must be a regular file (a signature file). Windows
/// has no FIFOs in the file system to block on: a plain open.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new().read(true).open(path)
}

/// The identity of an open file: volume serial number and file index
/// (GetFileInformationByHandle) and the last write time. No uid: Windows
/// owners are SIDs.
pub fn file_id(file: &File, _meta: &std::fs::Metadata) -> std::io::Result<OpenFileId> {
    // SAFETY: all-zero is a valid BY_HANDLE_FILE_INFORMATION (plain
    // integers), filled by the call below.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is open for the lifetime of `file`, and `info` is
    // a valid, writable structure of the expected type.
    let ok = unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let ticks = (i64::from(info.ftLastWriteTime.dwHighDateTime) << 32)
        | i64::from(info.ftLastWriteTime.dwLowDateTime);
    let since_epoch = ticks.saturating_sub(FILETIME_UNIX_EPOCH);
    Ok(OpenFileId {
        dev: u64::from(info.dwVolumeSerialNumber),
        ino: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        mtime_sec: since_epoch.div_euclid(10_000_000),
        mtime_nsec: since_epoch.rem_euclid(10_000_000) * 100,
        uid: None,
    })
}

/// The user name of `uid`: Windows has no uids (owners are SIDs), so a
/// uid, which only a Unix scan yields, is shown as its number.
pub fn user_name(uid: u32) -> String {
    uid.to_string()
}

/// Reads at `offset` and leaves the file position where it was, as Unix's
/// `pread` does: Windows' positioned read moves it, and the scanner reads
/// sequentially from the start after probing the head and tail.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::io::{Seek, SeekFrom};
    let mut handle = file;
    let position = handle.stream_position()?;
    let read = file.seek_read(buf, offset);
    handle.seek(SeekFrom::Start(position))?;
    read
}

/// What a special file is: the Windows file system has no FIFOs, sockets
/// or devices among the files a walk finds.
pub fn special_kind(_ft: std::fs::FileType) -> Option<&'static str> {
    None
}

/// The path on line `number` of a `--file-list`: Windows paths are UTF-16,
/// so the line must be UTF-8; one that is not is an error naming the line.
pub fn path_from_line(line: &[u8], number: u64) -> std::io::Result<std::path::PathBuf> {
    match std::str::from_utf8(line) {
        Ok(s) => Ok(std::path::PathBuf::from(s)),
        Err(e) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "line {number} is not UTF-8 (at byte {}): a path on Windows must be",
                e.valid_up_to()
            ),
        )),
    }
}
