//! Evidence cases: what a cleanup is about to destroy, preserved first, in
//! a package that police can verify with tools they already trust.
//!
//! A case directory **is** a BagIt bag (RFC 8493), so `bagit.py`,
//! `hashdeep`, `ssh-keygen -Y verify` and `openssl ts -verify` check it
//! without takedown:
//!
//! ```text
//! CASE_DIR/
//!   bagit.txt                   BagIt version and encoding
//!   bag-info.txt                case id, examiner, organisation, dates
//!   data/<seq>/...              the items acquired by custody entry <seq>
//!   manifest-{md5,sha1,sha256}.txt   every payload file's digests
//!   hashdeep.txt                the same as a hashdeep known-file list
//!   items/<seq>.jsonl           what entry <seq> acquired: source path
//!                               (exact bytes), size, owner, mode, MAC
//!                               times, inode, digests, kind
//!   custody/<seq>.json          the custody log, one signed entry a file,
//!   custody/<seq>.json.sig      each naming the SHA-256 of the one before
//!   custody/allowed_signers     the examiners' keys, for ssh-keygen
//!   timestamps/<seq>.tsr        RFC 3161 token over the tag manifest
//!   timestamps/<seq>.tagmanifest-sha256.txt   the tag manifest it covers
//!   timestamps/tsa-ca.pem       the TSA's CA (tsa-chain.pem: the token's certificates)
//!   tagmanifest-{md5,sha1,sha256}.txt   digests of all of the above
//!   .takedown/                  takedown's own state (lock, staging,
//!                               case settings); not part of the bag
//! ```
//!
//! The custody log is the source of truth: manifests, `hashdeep.txt` and
//! tag manifests are derived from it and rewritten after every entry, so a
//! crash between an entry and its manifests is repaired by deriving them
//! again ([`case`]).
#![deny(missing_docs)]

pub mod acquire;
pub mod bagit;
pub mod case;
pub mod contents;
pub mod custody;
pub mod keys;
pub mod seal;
#[cfg(unix)]
mod sys;
#[cfg(windows)]
#[path = "sys_windows.rs"]
mod sys;
pub mod tsa;
pub mod verify;

use serde::{Deserialize, Serialize};

/// Directory of the items in a bag.
pub const DATA_DIR: &str = "data";
/// Directory of the custody log.
pub const CUSTODY_DIR: &str = "custody";
/// Directory of the item records.
pub const ITEMS_DIR: &str = "items";
/// Directory of the RFC 3161 timestamps.
pub const TIMESTAMPS_DIR: &str = "timestamps";
/// takedown's own state in a case directory (never part of the bag).
pub const STATE_DIR: &str = ".takedown";
/// The SSHSIG namespace of custody signatures: a signature made for
/// anything else (a git commit, a file signed with `ssh-keygen -Y sign -n
/// file`) never verifies as a custody entry.
pub const SIG_NAMESPACE: &str = "takedown-custody@takedown";

/// The digests of one file, as hex.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digests {
    /// Size in bytes.
    pub size: u64,
    /// MD5.
    pub md5: String,
    /// SHA-1.
    pub sha1: String,
    /// SHA-256.
    pub sha256: String,
}

/// What kind of thing an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// A regular file.
    File,
    /// A symbolic link, kept as a small file holding its target.
    Symlink,
    /// A file taken back out of the takedown vault.
    VaultItem,
    /// A takedown findings NDJSON.
    Findings,
    /// A log file.
    Log,
    /// An export of the intel commands (STIX, MISP, HTML).
    Export,
}

/// A point in time as the file system keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsTime {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: i64,
}

/// What the file system said about an item's source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceMeta {
    /// Owner (absent on Windows, which has no uid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Group (absent on Windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// The owner's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The group's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Type and permission bits (`st_mode`; absent on Windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Last access (before the copy, which leaves it alone where it can).
    pub atime: FsTime,
    /// Last modification.
    pub mtime: FsTime,
    /// Last status change.
    pub ctime: FsTime,
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Hard links.
    pub nlink: u64,
}

/// One line of `items/<seq>.jsonl`: an item acquired by entry `<seq>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// Its path in the bag (`data/...`, `/`-separated, UTF-8).
    pub path: String,
    /// What it is.
    pub kind: ItemKind,
    /// Where it came from, lossy UTF-8 for people.
    pub source: String,
    /// The exact bytes of the source path, base64 (non-UTF-8 names too).
    pub source_base64: String,
    /// Digests and size of the copy (equal to the source's when read).
    #[serde(flatten)]
    pub digests: Digests,
    /// The source's metadata (absent for vault items, which carry theirs
    /// in `vault`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<SourceMeta>,
    /// A symbolic link's target, lossy UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// For a vault item: its ID and the vault's metadata of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<serde_json::Value>,
    /// For a file preserved by `scan --evidence`: the detections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detections: Option<serde_json::Value>,
}

/// How bad a problem found by `verify` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Something was altered, removed or added: the evidence is not intact.
    Altered,
    /// Something could not be checked (unreadable, malformed, no trust
    /// anchor): nothing is known to be altered, but it is not proven intact.
    Error,
}

/// One thing `verify` found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// How bad it is.
    pub severity: Severity,
    /// What it is about: a bag path (`data/000002/x.exe`,
    /// `custody/000003.json`), or `bag` for the whole.
    pub subject: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl Problem {
    /// Something altered, removed or added.
    pub fn altered(subject: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Altered,
            subject: subject.into(),
            message: message.into(),
        }
    }

    /// Something that could not be checked.
    pub fn error(subject: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Error,
            subject: subject.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

/// Why an evidence operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error, with what was being done.
    #[error("{what}: {reason}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// Refused on purpose; nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// The case, a key or a package is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The time-stamping authority failed.
    #[error("timestamp: {0}")]
    Tsa(String),
}

impl Error {
    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>, e: &std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            reason: takedown_vault::fsops::reason(e),
        }
    }
}

/// The sequence number of a custody entry as it appears in file names
/// (`000002`): fixed width, so that names sort in log order.
pub fn seq_name(seq: u64) -> String {
    format!("{seq:06}")
}

/// Now, RFC 3339 in UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&fmt).unwrap_or_default()
}

/// The tool and its version, as custody entries name it.
pub fn tool_version() -> String {
    format!("takedown {}", env!("CARGO_PKG_VERSION"))
}

/// Writes `path` whole or not at all: a temporary file (in the case's
/// `.takedown/` when `path` is in the case root or a tag directory, so that
/// a crash leaves nothing stray in the bag; else beside it), synced,
/// renamed over `path`,
/// and the directory synced, so that a crash leaves the old content or the
/// new, never a mix.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    replace(path, bytes, true)
}

/// [`write_atomic`] without its two syncs, for a set of files derived from
/// durable ones (the manifests): each is still old or new, never a mix,
/// and the set is made durable at once by [`sync_case`] (one sync of the
/// file system instead of two per file). A crash before that sync leaves
/// the operation's journal, and recovery derives them again. Where there
/// is no such sync (Windows), each file is synced as by [`write_atomic`].
pub fn write_derived(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    replace(path, bytes, !cfg!(unix))
}

/// Makes everything written in the case `dir` durable: after
/// [`write_derived`].
pub fn sync_case(dir: &std::path::Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        sys::sync_all_under(dir)
            .map_err(|e| Error::io(format!("cannot sync {}", dir.display()), &e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn replace(path: &std::path::Path, bytes: &[u8], sync: bool) -> Result<(), Error> {
    use std::io::Write as _;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The case root's `.takedown/`, for a file of the root or of one of
    // its tag directories (custody/, items/, timestamps/): a temporary file
    // left by a kill is then never in the bag, where it would be listed in
    // the tag manifests and found "added".
    let is_dir = |p: &std::path::Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let tmp_dir = [Some(parent), parent.parent()]
        .into_iter()
        .flatten()
        .map(|p| p.join(STATE_DIR))
        .find(|p| is_dir(p))
        .unwrap_or_else(|| parent.to_path_buf());
    let mut rnd = [0u8; 8];
    // A fixed name would do as the writers are serialised by the case
    // lock; randomness only keeps two stray writers from sharing one.
    let _ = getrandom::fill(&mut rnd);
    let tmp = tmp_dir.join(format!(".{name}.{}.tmp", hex::encode(rnd)));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        drop(f);
        std::fs::rename(&tmp, path)?;
        if sync { sync_dir(parent) } else { Ok(()) }
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(format!("writing {}", path.display()), &e));
    }
    Ok(())
}

/// Makes a directory's entries (a rename, a new file) durable. Windows has
/// no directory handles to sync; its renames are journaled by NTFS.
pub fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// `f` over every element of `items`, on up to as many threads as the
/// machine has cores (at most 4), results in `items`' order. For the
/// serial work at the end of an operation (writing item records, deriving
/// the manifests): each piece takes tens of milliseconds on a large case,
/// and side by side they take a fraction of that.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 4)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Some(Ok(mut slot)) = slots.get(i).map(Mutex::lock) {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    // Every slot was filled: a panic in `f` propagates out of the scope.
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
}

#[cfg(test)]
mod par_tests {
    #[test]
    fn par_map_keeps_order() {
        let v: Vec<u64> = (0..1000).collect();
        let got = super::par_map(&v, |x| x * 3);
        assert_eq!(got, v.iter().map(|x| x * 3).collect::<Vec<_>>());
        assert!(super::par_map(&[] as &[u64], |x| *x).is_empty());
    }
}
