//! Opening a file of a disk that may be hostile: only a regular file,
//! never through a final symbolic link, never blocking. Shared by the
//! Linux and Windows readers.

use std::fs;
use std::path::Path;

/// Opens `path` for reading when it is a regular file: `Ok(None)` when
/// it does not exist, `Err` when it is anything else.
///
/// Why so careful: opening a FIFO blocks until a writer comes (forever,
/// on a victim's disk), a device may never end, and on a live root the
/// files of /proc and /sys look regular but block or change under the
/// reader. So the path is checked with `symlink_metadata` first, opened
/// without following a final link and (on Unix) without blocking, and
/// the opened handle is checked again: a file swapped after the first
/// check is caught on the handle. Reads of a regular file ignore
/// `O_NONBLOCK`, so the flag is left set.
pub fn open_regular(path: &Path) -> Result<Option<fs::File>, String> {
    let m = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read: {e}")),
    };
    if !m.is_file() {
        return Err("not a regular file".into());
    }
    let mut o = fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let f = o.open(path).map_err(|e| format!("cannot open: {e}"))?;
    let m = f.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !m.is_file() {
        return Err("not a regular file".into());
    }
    #[cfg(target_os = "linux")]
    if let Some(fs) = pseudo_fs(&f) {
        return Err(format!("on {fs}, not a disk: not read"));
    }
    Ok(Some(f))
}

/// The kernel file system `f` is on, when it is one whose files only look
/// regular (a live root's /proc, /sys and the like): their sizes lie and
/// some reads block.
#[cfg(target_os = "linux")]
fn pseudo_fs(f: &fs::File) -> Option<&'static str> {
    use std::os::fd::AsRawFd;
    // Magic numbers of <linux/magic.h>, kept here because libc does not
    // define them for every Linux target.
    const PSEUDO: [(u32, &str); 9] = [
        (0x9fa0, "procfs"),
        (0x6265_6572, "sysfs"),
        (0x6462_6720, "debugfs"),
        (0x7472_6163, "tracefs"),
        (0x7363_6673, "securityfs"),
        (0x0027_e0eb, "cgroupfs"),
        (0x6367_7270, "cgroup2fs"),
        (0x6265_6570, "configfs"),
        (0xcafe_4a11, "bpffs"),
    ];
    // SAFETY: `st` is a plain C struct that fstatfs fills; the descriptor
    // is open for the whole call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    // `f_type` is signed on some targets: compare its low 32 bits.
    #[allow(clippy::unnecessary_cast)]
    let t = (st.f_type as u64 & 0xffff_ffff) as u32;
    PSEUDO.iter().find(|(m, _)| *m == t).map(|(_, n)| *n)
}
