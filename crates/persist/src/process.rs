//! Live processes of this machine, from Linux's `/proc`: which processes
//! there are, what each runs (executable, command line, owner), its memory
//! map, and its memory, read in pieces the caller sizes.
//!
//! A process is opened once, as its directory `/proc/PID`, and every file
//! of it is opened relative to that handle (`openat`, `readlinkat`): if the
//! process exits and its PID is reused while it is being read, the old
//! handle fails (the process is reported gone) instead of silently reading
//! the newcomer.
//!
//! Nothing here stops or attaches to a process (no `ptrace`): memory is
//! read through `/proc/PID/mem`, which the kernel opens for root, for
//! holders of `CAP_SYS_PTRACE`, and for the same user when it would allow
//! that user to trace the process. The process runs on while it is read,
//! so its memory is a moving picture; stopping every process of a live
//! system (what `yara PID` does, with `PTRACE_ATTACH`) would be worse on
//! a machine that must keep serving.
//!
//! The text of `/proc` is parsed by portable functions ([`parse_maps`],
//! [`parse_stat`], [`parse_status_uid`], [`join_cmdline`]), tested on
//! every system. Reading is Linux-only: elsewhere every call fails with
//! [`Error::Unsupported`].

use std::io;
use std::path::{Path, PathBuf};

/// Bytes of `/proc/PID/maps` read at most. A process may hold up to
/// `vm.max_map_count` (65,530 by default) mappings, each named by a path of
/// up to 4 KiB: a hostile process can make its map hundreds of MB to
/// exhaust the scanner. Past this, the regions listed so far are kept
/// and the map is reported cut ([`Maps::truncated`]).
pub const MAX_MAPS_BYTES: u64 = 16 << 20;

/// Bytes of a command line kept: the kernel allows megabytes of
/// arguments; a finding needs the start of them.
pub const MAX_CMDLINE_BYTES: u64 = 64 << 10;

/// Bytes of `/proc/PID/stat` and `/proc/PID/status` read at most (they are
/// a few hundred bytes and a few KiB; the command name in them is at most
/// 64 bytes).
const MAX_STAT_BYTES: u64 = 64 << 10;

/// Length of the target of `/proc/PID/exe` read at most: a path (4 KiB,
/// `PATH_MAX`) and the ` (deleted)` the kernel may add.
#[cfg(target_os = "linux")]
const MAX_LINK_BYTES: usize = 8 << 10;

/// `PF_KTHREAD` of the flags in `/proc/PID/stat` (`include/linux/sched.h`):
/// a kernel thread, which has no user memory and no executable.
const PF_KTHREAD: u64 = 0x0020_0000;
/// `PF_EXITING`: the process is being torn down (its memory may already
/// be gone) but is not a zombie yet; reads of its memory end early.
const PF_EXITING: u64 = 0x0000_0004;

/// What the kernel appends to the path of a mapped or executed file that
/// was deleted (or replaced) since.
pub const DELETED_SUFFIX: &str = " (deleted)";

/// Why something of a process could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not Linux: there is no `/proc` to read processes from.
    #[error("reading processes is not supported on this system (it needs Linux's /proc)")]
    Unsupported,
    /// The process does not exist (any more): it exited.
    #[error("{what}: no such process (it exited)")]
    Gone {
        /// What was being read.
        what: &'static str,
    },
    /// The kernel refused: another user's process, or one made
    /// non-dumpable, and neither root nor `CAP_SYS_PTRACE`.
    #[error(
        "{what}: permission denied (reading another user's process needs root or CAP_SYS_PTRACE)"
    )]
    Denied {
        /// What was being read.
        what: &'static str,
    },
    /// Any other I/O error.
    #[error("{what}: {source}")]
    Io {
        /// What was being read.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The kernel's text was not what this reader understands.
    #[error("{what}: {reason}")]
    Invalid {
        /// What was being read.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Sorts an I/O error: a vanished process, a refusal, or other.
    pub fn from_io(what: &'static str, e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc_errno::ENOENT | libc_errno::ESRCH) => Error::Gone { what },
            Some(libc_errno::EACCES | libc_errno::EPERM) => Error::Denied { what },
            _ => Error::Io { what, source: e },
        }
    }

    /// True when the process is gone.
    pub fn is_gone(&self) -> bool {
        matches!(self, Error::Gone { .. })
    }

    /// True when the kernel refused for lack of privilege.
    pub fn is_denied(&self) -> bool {
        matches!(self, Error::Denied { .. })
    }
}

/// The error numbers this module tells apart; the same on every Linux
/// architecture (and on the BSDs), spelled out so that the portable parts
/// build without `libc`.
mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const ESRCH: i32 = 3;
    pub const EACCES: i32 = 13;
}

/// Every process of this machine (the numeric entries of `/proc`), by
/// increasing PID. Threads other than each process's main thread are not
/// listed: they share its memory and executable.
pub fn pids() -> Result<Vec<u32>, Error> {
    #[cfg(target_os = "linux")]
    {
        let dir = std::fs::read_dir("/proc").map_err(|e| Error::Io {
            what: "/proc",
            source: e,
        })?;
        let mut out = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| Error::Io {
                what: "/proc",
                source: e,
            })?;
            if let Some(pid) = entry.file_name().to_str().and_then(parse_pid) {
                out.push(pid);
            }
        }
        out.sort_unstable();
        Ok(out)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(Error::Unsupported)
    }
}

/// A PID as `/proc` names it: decimal digits only, not 0.
// Used by the Linux listing (and tested everywhere).
#[cfg(any(target_os = "linux", test))]
fn parse_pid(name: &str) -> Option<u32> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok().filter(|&p| p > 0)
}

/// What `/proc/PID/stat` says that matters here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The command name (at most 15 bytes as the kernel keeps it; any
    /// bytes: a process names itself).
    pub comm: String,
    /// The state letter: `R`, `S`, `D`, `Z` (zombie: exited, not yet
    /// reaped), `X` (dead), ...
    pub state: char,
    /// The kernel's flags (`PF_*`).
    pub flags: u64,
    /// Start time, in clock ticks after boot: with the PID, names the
    /// process uniquely.
    pub start_time: u64,
}

impl Stat {
    /// A kernel thread: no user memory, no executable.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }

    /// Exited (a zombie waiting to be reaped, or dead) or exiting:
    /// nothing (more) to read.
    pub fn has_exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x') || self.flags & PF_EXITING != 0
    }
}

/// Parses `/proc/PID/stat`: `pid (comm) state ppid ... flags ... starttime
/// ...`. The command name may hold spaces and parentheses, so the fields
/// are counted from the last `)`.
pub fn parse_stat(text: &[u8]) -> Result<Stat, String> {
    let open = text
        .iter()
        .position(|&b| b == b'(')
        .ok_or("no '(' before the command name")?;
    let close = text
        .iter()
        .rposition(|&b| b == b')')
        .filter(|&c| c > open)
        .ok_or("no ')' after the command name")?;
    let comm = String::from_utf8_lossy(text.get(open + 1..close).unwrap_or_default()).into_owned();
    let rest = std::str::from_utf8(text.get(close + 1..).unwrap_or_default())
        .map_err(|_| "fields after the command name are not text")?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // Fields 3.. of proc(5): state is field 3, flags field 9, starttime
    // field 22; here counted from 0 at field 3.
    let field = |i: usize, name: &str| -> Result<&str, String> {
        fields
            .get(i)
            .copied()
            .ok_or_else(|| format!("no {name} field"))
    };
    let state = field(0, "state")?;
    let mut chars = state.chars();
    let state = match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => return Err(format!("state {state:?} is not one letter")),
    };
    let flags = field(6, "flags")?
        .parse::<u64>()
        .map_err(|e| format!("flags: {e}"))?;
    let start_time = field(19, "starttime")?
        .parse::<u64>()
        .map_err(|e| format!("starttime: {e}"))?;
    Ok(Stat {
        comm,
        state,
        flags,
        start_time,
    })
}

/// The real user ID from `/proc/PID/status` (its `Uid:` line: real,
/// effective, saved, file-system).
pub fn parse_status_uid(text: &[u8]) -> Option<u32> {
    text.split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"Uid:"))
        .and_then(|rest| std::str::from_utf8(rest).ok())
        .and_then(|rest| rest.split_ascii_whitespace().next())
        .and_then(|uid| uid.parse().ok())
}

/// A command line from `/proc/PID/cmdline` (arguments ended by NUL bytes),
/// its arguments joined by spaces, invalid UTF-8 replaced; `truncated`
/// adds `...` to say it was cut. Empty for kernel threads and zombies.
pub fn join_cmdline(raw: &[u8], truncated: bool) -> String {
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    let mut s = raw
        .split(|&b| b == 0)
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    if truncated {
        s.push_str("...");
    }
    s
}

/// One mapping of a process, a line of `/proc/PID/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Permissions as the kernel prints them (`rw-p`, `r-xs`).
    pub perms: [u8; 4],
    /// Offset in the mapped file.
    pub offset: u64,
    /// Device of the mapped file (`major:minor`, hexadecimal).
    pub dev: String,
    /// Inode of the mapped file; 0 for anonymous memory.
    pub inode: u64,
    /// The mapped file, or a name the kernel gives (`[heap]`, `[stack]`,
    /// `[vdso]`, `[anon:NAME]`); `None` for anonymous memory. Bytes as
    /// printed: a newline in a path appears as `\012`.
    pub path: Option<Vec<u8>>,
}

/// Why a region is not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not readable (`---p` guard pages, `-w-` and the like): the kernel
    /// would refuse, and nothing runs from it.
    NotReadable,
    /// `[vvar]`, `[vvar_vclock]`, `[vsyscall]`: the kernel's clock pages
    /// and the legacy system-call page; reading them fails or returns
    /// kernel data, never the program's.
    Kernel,
    /// A device mapped into memory (`/dev/...`, `/sys/...` PCI resources):
    /// reading one may read device registers, which can have side effects.
    Device,
}

impl Region {
    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True when it spans no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Readable (`r` first in the permissions).
    pub fn readable(&self) -> bool {
        self.perms[0] == b'r'
    }

    /// Anonymous memory or a special area (heap, stack, `[anon:...]`), or a
    /// file deleted since it was mapped: what exists only in memory.
    pub fn only_in_memory(&self) -> bool {
        match &self.path {
            None => true,
            Some(p) => p.starts_with(b"[") || p.ends_with(DELETED_SUFFIX.as_bytes()),
        }
    }

    /// Why it is not to be read, when it is not.
    pub fn skip(&self) -> Option<Skip> {
        if !self.readable() {
            return Some(Skip::NotReadable);
        }
        let path = self.path.as_deref().unwrap_or_default();
        if matches!(path, b"[vvar]" | b"[vvar_vclock]" | b"[vsyscall]") {
            return Some(Skip::Kernel);
        }
        if is_device_path(path) && !is_regular_file(path) {
            return Some(Skip::Device);
        }
        None
    }

    /// The region as `/proc/PID/maps` shows it, short: range, permissions
    /// and the file or name (`[anon]` for anonymous memory), invalid UTF-8
    /// replaced: `7f3a1c000000-7f3a1c021000 rw-p [heap]`.
    pub fn label(&self) -> String {
        let path = match &self.path {
            Some(p) => String::from_utf8_lossy(p).into_owned(),
            None => "[anon]".to_string(),
        };
        format!(
            "{:x}-{:x} {} {path}",
            self.start,
            self.end,
            String::from_utf8_lossy(&self.perms)
        )
    }
}

/// A mapping of a device rather than of memory or of a file's content:
/// under `/dev` (except the places that hold memory: `/dev/zero`, shared
/// memory in `/dev/shm`, huge pages in `/dev/hugepages`) or `/sys` (PCI
/// resource files). Decided by the path, since the maps line does not
/// say what the inode is; a device node made elsewhere and mapped is not
/// recognised (reading it fails with EIO unless its driver lets memory
/// accesses through).
fn is_device_path(path: &[u8]) -> bool {
    if path.starts_with(b"/sys/") {
        return true;
    }
    let Some(rest) = path.strip_prefix(b"/dev/") else {
        return false;
    };
    let rest = rest.strip_suffix(DELETED_SUFFIX.as_bytes()).unwrap_or(rest);
    !(rest == b"zero" || rest.starts_with(b"shm/") || rest.starts_with(b"hugepages/"))
}

/// Whether `path` (as the maps line prints it) names a regular file now:
/// a file hidden under `/dev` (devtmpfs and `/dev/shm` take regular
/// files) is memory like any other, and skipping it by its path alone
/// would hide what a malicious process maps from there. Devices, and
/// paths that cannot be looked at, stay skipped.
fn is_regular_file(path: &[u8]) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
        std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// The regions of a process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maps {
    /// In the kernel's order (by address).
    pub regions: Vec<Region>,
    /// The map was over [`MAX_MAPS_BYTES`]: regions past it are missing.
    pub truncated: bool,
}

/// Parses `/proc/PID/maps`: `start-end perms offset major:minor inode
/// [path]` per line, hexadecimal numbers but the decimal inode, the path
/// after padding spaces (it may hold spaces itself). A line that does not
/// parse is an error naming it: the kernel writes this file, so a bad
/// line means a format this reader does not know.
pub fn parse_maps(text: &[u8]) -> Result<Vec<Region>, String> {
    let mut out = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        out.push(parse_maps_line(line).map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    Ok(out)
}

fn parse_maps_line(line: &[u8]) -> Result<Region, String> {
    let mut rest = line;
    let mut field = || -> Result<&[u8], String> {
        let start = rest
            .iter()
            .position(|&b| b != b' ')
            .ok_or("too few fields")?;
        let tail = rest.get(start..).unwrap_or_default();
        let len = tail.iter().position(|&b| b == b' ').unwrap_or(tail.len());
        let (f, after) = tail.split_at(len);
        rest = after;
        Ok(f)
    };
    let range = field()?;
    let perms = field()?;
    let offset = field()?;
    let dev = field()?;
    let inode = field()?;
    let (start, end) = text_of(range)?
        .split_once('-')
        .ok_or("no '-' in the address range")?;
    let start = hex(start, "start address")?;
    let end = hex(end, "end address")?;
    if end < start {
        return Err(format!("range {start:x}-{end:x} ends before it starts"));
    }
    let perms: [u8; 4] = perms
        .try_into()
        .map_err(|_| format!("permissions {:?} are not 4 letters", text_of(perms)))?;
    let offset = hex(text_of(offset)?, "offset")?;
    let dev = text_of(dev)?;
    if !dev.contains(':') {
        return Err(format!("device {dev:?} is not major:minor"));
    }
    let inode = text_of(inode)?
        .parse::<u64>()
        .map_err(|e| format!("inode: {e}"))?;
    // After the inode: padding spaces, then the path (which may begin
    // with or hold spaces of its own; the padding is at least one).
    let path = rest.strip_prefix(b" ").unwrap_or(rest);
    let first = path.iter().position(|&b| b != b' ');
    let path = first.and_then(|i| path.get(i..)).map(<[u8]>::to_vec);
    Ok(Region {
        start,
        end,
        perms,
        offset,
        dev: dev.to_string(),
        inode,
        path,
    })
}

fn text_of(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|_| "a field is not text".to_string())
}

fn hex(s: &str, what: &str) -> Result<u64, String> {
    u64::from_str_radix(s, 16).map_err(|e| format!("{what} {s:?}: {e}"))
}

/// The file an executable link names, and whether it is gone: the kernel
/// appends ` (deleted)` to the target of `/proc/PID/exe` when the file was
/// deleted or replaced. `same` says whether a path still holds the very
/// file the process runs (compared by identity by the caller), so that a
/// file really named `x (deleted)` is not taken for a deleted `x`.
pub fn exe_path(link: &Path, same: impl Fn(&Path) -> bool) -> (PathBuf, bool) {
    let bytes = link.as_os_str().as_encoded_bytes();
    match bytes.strip_suffix(DELETED_SUFFIX.as_bytes()) {
        Some(stripped) if !same(link) => {
            // SAFETY: `stripped` is the encoded bytes of an OsStr cut just
            // before an ASCII suffix, a boundary the encoding allows.
            let stripped =
                Path::new(unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(stripped) });
            (stripped.to_path_buf(), !same(stripped))
        }
        _ => (link.to_path_buf(), false),
    }
}

/// One process, opened as its `/proc/PID` directory.
#[derive(Debug)]
pub struct Process {
    pid: u32,
    #[cfg(target_os = "linux")]
    dir: std::fs::File,
}

impl Process {
    /// Opens process `pid`.
    pub fn open(pid: u32) -> Result<Process, Error> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let dir = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(format!("/proc/{pid}"))
                .map_err(|e| Error::from_io("/proc/PID", e))?;
            Ok(Process { pid, dir })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = pid;
            Err(Error::Unsupported)
        }
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its `stat`: state, flags (kernel thread or not), start time.
    pub fn stat(&self) -> Result<Stat, Error> {
        let (raw, _) = self.read_file(c"stat", "stat", MAX_STAT_BYTES)?;
        parse_stat(&raw).map_err(|reason| Error::Invalid {
            what: "stat",
            reason,
        })
    }

    /// Its real user ID.
    pub fn uid(&self) -> Result<u32, Error> {
        let (raw, _) = self.read_file(c"status", "status", MAX_STAT_BYTES)?;
        parse_status_uid(&raw).ok_or_else(|| Error::Invalid {
            what: "status",
            reason: "no Uid: line".into(),
        })
    }

    /// Its command line, arguments joined by spaces (see [`join_cmdline`]).
    pub fn cmdline(&self) -> Result<String, Error> {
        let (raw, truncated) = self.read_file(c"cmdline", "cmdline", MAX_CMDLINE_BYTES)?;
        Ok(join_cmdline(&raw, truncated))
    }

    /// Where `/proc/PID/exe` points, as the kernel says it (with
    /// ` (deleted)` when the file is gone); `None` when the process has no
    /// executable (a kernel thread, or one that exited).
    pub fn exe_link(&self) -> Result<Option<PathBuf>, Error> {
        #[cfg(target_os = "linux")]
        {
            use std::ffi::OsString;
            use std::os::fd::AsRawFd;
            use std::os::unix::ffi::OsStringExt;
            let mut buf = vec![0u8; MAX_LINK_BYTES];
            // SAFETY: the buffer is valid for its length; the directory
            // descriptor is open for the whole call.
            let n = unsafe {
                libc::readlinkat(
                    self.dir.as_raw_fd(),
                    c"exe".as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::ENOENT) => Ok(None),
                    _ => Err(Error::from_io("exe", e)),
                };
            }
            let n = usize::try_from(n).unwrap_or(0);
            if n >= buf.len() {
                return Err(Error::Invalid {
                    what: "exe",
                    reason: format!("the executable's path is over {MAX_LINK_BYTES} bytes"),
                });
            }
            buf.truncate(n);
            Ok(Some(PathBuf::from(OsString::from_vec(buf))))
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(Error::Unsupported)
        }
    }

    /// Opens the executable the process runs, through `/proc/PID/exe`:
    /// the very file, even when it was deleted or replaced on disk since.
    pub fn open_exe(&self) -> Result<std::fs::File, Error> {
        #[cfg(target_os = "linux")]
        {
            // O_NONBLOCK | O_NOCTTY: the executable is a regular file, but
            // nothing opened on a hostile machine may block or become a
            // controlling terminal should that ever not hold.
            self.open_at(
                c"exe",
                "exe",
                libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY,
            )
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(Error::Unsupported)
        }
    }

    /// Its memory map.
    pub fn maps(&self) -> Result<Maps, Error> {
        let (mut raw, truncated) = self.read_file(c"maps", "maps", MAX_MAPS_BYTES)?;
        if truncated {
            // Keep whole lines only.
            let end = raw.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            raw.truncate(end);
        }
        let regions = parse_maps(&raw).map_err(|reason| Error::Invalid {
            what: "maps",
            reason,
        })?;
        Ok(Maps { regions, truncated })
    }

    /// Opens its memory for reading.
    pub fn memory(&self) -> Result<Memory, Error> {
        #[cfg(target_os = "linux")]
        {
            let file = self.open_at(c"mem", "mem", libc::O_RDONLY | libc::O_CLOEXEC)?;
            Ok(Memory { file })
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(Error::Unsupported)
        }
    }

    /// True while the process has not exited.
    pub fn alive(&self) -> bool {
        self.stat().is_ok_and(|s| !s.has_exited())
    }

    #[cfg(target_os = "linux")]
    fn open_at(
        &self,
        name: &std::ffi::CStr,
        what: &'static str,
        flags: libc::c_int,
    ) -> Result<std::fs::File, Error> {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: a valid C string and an open directory descriptor; the
        // returned descriptor, when valid, is owned by the File alone.
        let fd = unsafe { libc::openat(self.dir.as_raw_fd(), name.as_ptr(), flags) };
        if fd < 0 {
            return Err(Error::from_io(what, io::Error::last_os_error()));
        }
        Ok(unsafe { std::fs::File::from_raw_fd(fd) })
    }

    /// Reads the file `name` of the process up to `limit` bytes; true when
    /// there was more.
    fn read_file(
        &self,
        name: &std::ffi::CStr,
        what: &'static str,
        limit: u64,
    ) -> Result<(Vec<u8>, bool), Error> {
        #[cfg(target_os = "linux")]
        {
            use std::io::Read;
            let file = self.open_at(name, what, libc::O_RDONLY | libc::O_CLOEXEC)?;
            let mut out = Vec::new();
            let mut take = file.take(limit.saturating_add(1));
            loop {
                match take.read_to_end(&mut out) {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::from_io(what, e)),
                }
            }
            let truncated = out.len() as u64 > limit;
            out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok((out, truncated))
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (name, what, limit);
            Err(Error::Unsupported)
        }
    }
}

/// The memory of a process, open for reading (`/proc/PID/mem`).
#[derive(Debug)]
pub struct Memory {
    #[cfg(target_os = "linux")]
    file: std::fs::File,
}

impl Memory {
    /// Reads from `address` into `buf` until it is full, the region ends
    /// (the count is short) or an error; the bytes read before an error
    /// are counted in it. `Ok(0)` at the start of a mapped region means
    /// the process is gone (its memory no longer exists).
    pub fn read_at(&self, address: u64, buf: &mut [u8]) -> Result<usize, ReadError> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::FileExt;
            let mut done = 0usize;
            while done < buf.len() {
                let Some(at) = address.checked_add(done as u64) else {
                    break;
                };
                let Some(rest) = buf.get_mut(done..) else {
                    break;
                };
                match self.file.read_at(rest, at) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(ReadError { read: done, error }),
                }
            }
            Ok(done)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (address, buf);
            Err(ReadError {
                read: 0,
                error: io::Error::new(io::ErrorKind::Unsupported, Error::Unsupported),
            })
        }
    }
}

/// A read of memory that failed part way.
#[derive(Debug)]
pub struct ReadError {
    /// Bytes read (into the start of the buffer) before the error.
    pub read: usize,
    /// The error: EIO for memory that cannot be read (a file mapping
    /// past the end of its file, a device), ESRCH or EPERM for a process
    /// that went away or changed credentials.
    pub error: io::Error,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (after {} bytes)", self.error, self.read)
    }
}

impl std::error::Error for ReadError {}

#[cfg(test)]
mod tests {

    #[cfg(unix)]
    #[test]
    fn a_device_is_skipped_and_a_regular_file_under_dev_would_not_be() {
        assert!(!is_regular_file(b"/dev/null"));
        assert!(!is_regular_file(b"/dev/no-such-file-here"));
        let f = std::env::temp_dir().join(format!("takedown-maps-{}", std::process::id()));
        std::fs::write(&f, b"x").unwrap();
        use std::os::unix::ffi::OsStrExt;
        assert!(is_regular_file(f.as_os_str().as_bytes()));
        std::fs::remove_file(&f).unwrap();
    }

    use super::*;

    const MAPS: &[u8] = b"\
55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1835106                    /usr/bin/cat
55d0c1c9b000-55d0c1cbc000 rw-p 00000000 00:00 0                          [heap]
7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0 
7f3a1d000000-7f3a1d001000 ---p 00000000 00:00 0 
7f3a1e000000-7f3a1e100000 rw-s 00000000 00:05 1043                       /dev/dri/renderD128
7f3a1f000000-7f3a1f001000 rw-s 00000000 00:01 4096                       /dev/zero (deleted)
7f3a20000000-7f3a20001000 r-xp 00000000 08:01 77                         /tmp/a dir/ with  spaces (deleted)
7ffd5a1e0000-7ffd5a201000 rw-p 00000000 00:00 0                          [stack]
7ffd5a3f2000-7ffd5a3f6000 r--p 00000000 00:00 0                          [vvar]
7ffd5a3f6000-7ffd5a3f8000 r-xp 00000000 00:00 0                          [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

    #[test]
    fn maps_lines_parse_with_paths_holding_spaces() {
        let r = parse_maps(MAPS).unwrap();
        assert_eq!(r.len(), 11);
        assert_eq!(r[0].start, 0x55d0_c0a0_0000);
        assert_eq!(r[0].end, 0x55d0_c0a0_2000);
        assert_eq!(&r[0].perms, b"r--p");
        assert_eq!(r[0].dev, "fd:01");
        assert_eq!(r[0].inode, 1_835_106);
        assert_eq!(r[0].path.as_deref(), Some(&b"/usr/bin/cat"[..]));
        assert_eq!(r[1].label(), "55d0c1c9b000-55d0c1cbc000 rw-p [heap]");
        assert_eq!(r[2].path, None);
        assert_eq!(r[2].label(), "7f3a1c000000-7f3a1c021000 rw-p [anon]");
        assert_eq!(
            r[6].path.as_deref(),
            Some(&b"/tmp/a dir/ with  spaces (deleted)"[..])
        );
        assert_eq!(r[10].start, 0xffff_ffff_ff60_0000);
    }

    #[test]
    fn what_is_skipped_and_why() {
        let r = parse_maps(MAPS).unwrap();
        let skips: Vec<Option<Skip>> = r.iter().map(Region::skip).collect();
        assert_eq!(
            skips,
            [
                None,
                None,
                None,
                Some(Skip::NotReadable),
                Some(Skip::Device),
                None, // shared anonymous memory (/dev/zero)
                None,
                None,
                Some(Skip::Kernel),
                None,
                Some(Skip::NotReadable), // [vsyscall] is --x
            ]
        );
        let vsyscall = Region {
            perms: *b"r-xp",
            ..r[10].clone()
        };
        assert_eq!(vsyscall.skip(), Some(Skip::Kernel));
        assert!(is_device_path(
            b"/sys/bus/pci/devices/0000:00:02.0/resource0"
        ));
        assert!(is_device_path(b"/dev/mem"));
        assert!(!is_device_path(b"/dev/shm/x (deleted)"));
        assert!(!is_device_path(b"/dev/hugepages/x"));
        assert!(!is_device_path(b"/devices/x"));
        assert!(r[1].only_in_memory() && r[2].only_in_memory() && r[6].only_in_memory());
        assert!(!r[0].only_in_memory());
    }

    #[test]
    fn bad_maps_lines_are_errors_naming_the_line() {
        for (bad, want) in [
            (&b"zz-10 r--p 0 00:00 0\n"[..], "start address"),
            (b"10-0 r--p 0 00:00 0\n", "ends before it starts"),
            (b"0-10 r--p\n", "too few fields"),
            (b"0-10 rw 0 00:00 0\n", "not 4 letters"),
            (b"0-10 rw-p 0 0000 0\n", "major:minor"),
            (b"0-10 rw-p 0 00:00 x\n", "inode"),
            (b"0-10\n", "too few fields"),
            (b"010 rw-p 0 00:00 0\n", "no '-'"),
        ] {
            let text = [b"0-1000 r--p 0 00:00 0\n", bad].concat();
            let e = parse_maps(&text).unwrap_err();
            assert!(e.starts_with("line 2: ") && e.contains(want), "{e}");
        }
        assert_eq!(parse_maps(b"").unwrap(), Vec::new());
    }

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let text = b"1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 98765 1000 200 \n";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.flags, 4_194_560);
        assert_eq!(s.start_time, 98765);
        assert!(!s.is_kernel_thread());
        let kthread = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0\n";
        assert!(parse_stat(kthread).unwrap().is_kernel_thread());
        let zombie = b"9 (z) Z 1 9 9 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 50 0 0\n";
        assert!(parse_stat(zombie).unwrap().has_exited());
        // Still running, but being torn down (PF_EXITING).
        let exiting = b"9 (z) R 1 9 9 0 -1 4194564 0 0 0 0 0 0 0 0 20 0 1 0 50 0 0\n";
        assert!(parse_stat(exiting).unwrap().has_exited());
        assert!(parse_stat(b"1 (x S 1").is_err());
        assert!(parse_stat(b"1 (x) S 1 2").unwrap_err().contains("flags"));
        assert!(
            parse_stat(b"1 (x) SS 1 2 3 4 5 6")
                .unwrap_err()
                .contains("state")
        );
    }

    #[test]
    fn uid_and_cmdline() {
        assert_eq!(
            parse_status_uid(b"Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t5\n"),
            Some(1000)
        );
        assert_eq!(parse_status_uid(b"Name:\tx\n"), None);
        assert_eq!(join_cmdline(b"sleep\x0010\x00", false), "sleep 10");
        assert_eq!(join_cmdline(b"a\xff\x00b", true), "a\u{fffd} b...");
        assert_eq!(join_cmdline(b"", false), "");
    }

    #[test]
    fn pids_are_decimal_and_not_zero() {
        assert_eq!(parse_pid("1234"), Some(1234));
        for bad in ["", "0", "self", "12a", "+1", "99999999999"] {
            assert_eq!(parse_pid(bad), None, "{bad}");
        }
    }

    #[test]
    fn deleted_executables_are_told_from_files_named_so() {
        let (p, gone) = exe_path(Path::new("/usr/bin/x (deleted)"), |_| false);
        assert_eq!((p.as_path(), gone), (Path::new("/usr/bin/x"), true));
        // Replaced: the path holds another file.
        let (p, gone) = exe_path(Path::new("/usr/bin/x (deleted)"), |p| {
            p == Path::new("/nothing")
        });
        assert_eq!((p.as_path(), gone), (Path::new("/usr/bin/x"), true));
        // A file really named so, still the one running.
        let (p, gone) = exe_path(Path::new("/tmp/x (deleted)"), |p| {
            p == Path::new("/tmp/x (deleted)")
        });
        assert_eq!((p.as_path(), gone), (Path::new("/tmp/x (deleted)"), false));
        let (p, gone) = exe_path(Path::new("/usr/bin/cat"), |_| true);
        assert_eq!((p.as_path(), gone), (Path::new("/usr/bin/cat"), false));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_itself() {
        let me = Process::open(std::process::id()).unwrap();
        let stat = me.stat().unwrap();
        assert!(!stat.is_kernel_thread() && !stat.has_exited());
        assert!(me.alive());
        assert_eq!(me.uid().unwrap(), unsafe { libc::getuid() });
        assert!(!me.cmdline().unwrap().is_empty());
        let link = me.exe_link().unwrap().unwrap();
        assert_eq!(link, std::env::current_exe().unwrap());
        let exe = me.open_exe().unwrap();
        assert!(exe.metadata().unwrap().is_file());
        // A buffer of this process, found in its map and read back.
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let maps = me.maps().unwrap();
        assert!(!maps.truncated);
        let addr = data.as_ptr() as u64;
        let region = maps
            .regions
            .iter()
            .find(|r| r.start <= addr && addr + data.len() as u64 <= r.end)
            .expect("the buffer is mapped");
        assert!(region.skip().is_none());
        let mem = me.memory().unwrap();
        let mut back = vec![0u8; data.len()];
        assert_eq!(mem.read_at(addr, &mut back).unwrap(), data.len());
        assert_eq!(back, data);
        // Guard pages are not readable: skipped (the kernel would let a
        // privileged reader through them, but nothing lives there).
        if let Some(guard) = maps.regions.iter().find(|r| !r.readable() && !r.is_empty()) {
            assert_eq!(guard.skip(), Some(Skip::NotReadable));
        }
        assert!(pids().unwrap().contains(&std::process::id()));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn kernel_threads_and_missing_processes() {
        // PID 2 is kthreadd when this runs in the initial PID namespace.
        if let Ok(p) = Process::open(2)
            && let Ok(stat) = p.stat()
            && stat.comm == "kthreadd"
        {
            assert!(stat.is_kernel_thread());
            assert_eq!(p.cmdline().unwrap(), "");
            assert!(matches!(p.exe_link(), Ok(None) | Err(Error::Denied { .. })));
        }
        // A PID above the kernel's maximum (2^22) never exists.
        let e = Process::open(4_194_304 + 17).unwrap_err();
        assert!(e.is_gone(), "{e}");
        assert!(e.to_string().contains("no such process"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_exited_child_is_gone_on_its_old_handle() {
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let p = Process::open(child.id()).unwrap();
        assert!(p.alive());
        let mem = p.memory().unwrap();
        let maps = p.maps().unwrap();
        let stack = maps
            .regions
            .iter()
            .find(|r| r.path.as_deref() == Some(&b"[stack]"[..]))
            .unwrap()
            .clone();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!p.alive());
        assert!(p.maps().unwrap_err().is_gone());
        // The memory handle opened before reads nothing now.
        let mut b = [0u8; 64];
        assert_eq!(mem.read_at(stack.start, &mut b).unwrap_or(0), 0);
    }
}
