//! What the scanner asks of the operating system: opening a file to scan
//! without following a link, the identity and owner of an open file,
//! positioned reads and the kinds of special files. One API over a Unix and
//! a Windows module, so that the scanner itself has no platform code.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

/// Why a file to scan could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Opening without following links found a link (a symbolic link on
    /// Unix, a reparse point on Windows) where the walker saw a file.
    IsLink,
    /// Any other failure.
    Io(std::io::Error),
}

/// Which file an open handle refers to, as the system names it.
#[derive(Clone, Copy, Debug)]
pub struct OpenFileId {
    /// Device (Unix) or volume serial number (Windows).
    pub dev: u64,
    /// Inode (Unix) or file index (Windows).
    pub ino: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime_sec: i64,
    /// Nanoseconds of the modification time.
    pub mtime_nsec: i64,
    /// Owner's uid; `None` where owners are not uids (Windows: a SID).
    pub uid: Option<u32>,
}
