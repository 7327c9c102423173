//! The finding: one result model for every front end.
//!
//! Everything takedown reports about a scanned object goes through these
//! types, whether it ends up as a text line, an NDJSON record, an HTTP answer
//! or (later) a quarantine record. The JSON form is versioned
//! ([`SCHEMA_VERSION`]) and documented in `docs/finding.schema.json`; a change
//! that breaks a consumer must bump the version.

use serde::Serialize;
use std::path::Path;

/// Version of the JSON form of [`Finding`] and [`Summary`].
pub const SCHEMA_VERSION: u32 = 1;

/// Which part of the engine produced a detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// A YARA rule matched the content.
    Yara,
    /// An MD5, SHA-1 or SHA-256 of the content is a known IOC.
    Hash,
    /// The path matched a file-name IOC.
    Name,
    /// A ClamAV body, logical or section-hash signature matched.
    Clamav,
    /// A heuristic: a container limit reached, reported as a detection
    /// with `--limits-as-detections` (ClamAV's `Heuristics.Limits.Exceeded`),
    /// or a structural oddity with `--heuristics` (an overlapping zip, a
    /// broken PE, nested packers).
    Heuristic,
}

impl EngineKind {
    /// The lowercase name used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Yara => "yara",
            EngineKind::Hash => "hash",
            EngineKind::Name => "name",
            EngineKind::Clamav => "clamav",
            EngineKind::Heuristic => "heuristic",
        }
    }
}

/// One signature that matched an object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// The engine that matched.
    pub engine: EngineKind,
    /// Rule name (YARA, qualified by namespace when not the default), IOC
    /// description (hash, name).
    pub name: String,
    /// Severity from 0 to 100+ (Loki/THOR convention: 40 notable, 60
    /// suspicious, 75+ malicious).
    pub score: u32,
    /// YARA tags; empty for IOCs.
    pub tags: Vec<String>,
    /// YARA metadata, or for IOCs the matched value (`md5`, `sha1`, `sha256`,
    /// `regex`).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The signature file the detection came from (`builtin:...` for the
    /// built-in pack).
    pub source: String,
}

/// Why an object was not (fully) scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemKind {
    /// The object could not be opened or read.
    Error,
    /// The YARA scan ran out of its time budget.
    Timeout,
    /// A configured limit (such as `--max-filesize`) kept it from being
    /// scanned.
    Limit,
    /// The object (a container member, or a whole container) is encrypted
    /// and none of the `--archive-password`s opened it.
    Encrypted,
    /// Named for scanning but not a regular file or a directory (a FIFO, a
    /// socket or a device): never opened, since reading one may block,
    /// never end or have side effects.
    Skipped,
}

/// Something that kept an object from being fully scanned.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// The class of problem.
    pub kind: ProblemKind,
    /// Which limit was hit, when `kind` is `limit` (e.g. `max-filesize`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// Human readable reason.
    pub message: String,
}

impl Problem {
    /// An I/O or format error.
    pub fn error(message: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::Error,
            limit: None,
            message: message.into(),
        }
    }

    /// A timeout.
    pub fn timeout(message: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::Timeout,
            limit: None,
            message: message.into(),
        }
    }

    /// Encrypted content that could not be opened.
    pub fn encrypted(message: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::Encrypted,
            limit: None,
            message: message.into(),
        }
    }

    /// Not a regular file: never opened.
    pub fn skipped(message: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::Skipped,
            limit: None,
            message: message.into(),
        }
    }

    /// A limit hit, named by `limit`.
    pub fn limit(limit: &str, message: impl Into<String>) -> Problem {
        Problem {
            kind: ProblemKind::Limit,
            limit: Some(limit.to_string()),
            message: message.into(),
        }
    }
}

/// Everything takedown knows about one scanned object that is worth saying:
/// emitted only when it has detections or problems.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Always `"finding"` in JSON, to tell it from the summary line.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// The path as given (lossy UTF-8: invalid bytes become U+FFFD).
    pub path: String,
    /// The exact path bytes, base64, present only when `path` is not valid
    /// UTF-8 (so a consumer can still act on the very file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_base64: Option<String>,
    /// The path exactly as on disk, for front ends that display it (with
    /// invalid UTF-8 escaped, not replaced) or act on it. Not serialized:
    /// `path` and `path_base64` carry it in JSON.
    #[serde(skip)]
    pub fs_path: std::path::PathBuf,
    /// Names of the objects inside containers, outermost first; empty for a
    /// plain file.
    pub chain: Vec<String>,
    /// Size in bytes, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SHA-256 of the content, present for every detected object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// What matched.
    pub detections: Vec<Detection>,
    /// What kept the object from being fully scanned.
    pub problems: Vec<Problem>,
    /// What was done about it (`--action quarantine|delete`); absent when
    /// only reporting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionReport>,
    /// Whether the file was preserved in an evidence case first (`scan
    /// --evidence CASE_DIR`); absent without `--evidence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceReport>,
    /// Which file was scanned (device, inode, size, mtime, owner), so that
    /// an action can check it still has the very same file. Not serialized.
    #[serde(skip)]
    pub identity: Option<FileIdentity>,
    /// The autostart entries that start this file (`scan --persistence`):
    /// a detected target names every entry that runs it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub autostarts: Vec<Autostart>,
    /// The process this object was read from (`scan --processes` or
    /// `--pid`): its memory, or its executable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessRef>,
}

/// An autostart entry that starts the object of a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Autostart {
    /// How it starts (`run-key`, `service`, `scheduled-task`, `cron`,
    /// `systemd-unit`, ...).
    pub mechanism: String,
    /// Where it is written: a registry key or a file under the root.
    pub location: String,
    /// Its name there (value, service, task, unit or file name).
    pub name: String,
    /// The user it runs as or belongs to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The command line as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The line of `location`, for entries in text files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// What `--action quarantine` did to the entry; absent when only
    /// reporting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionReport>,
}

/// The process an object was read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessRef {
    /// Process id.
    pub pid: u32,
    /// The executable's path (`/proc/PID/exe`), with ` (deleted)` when the
    /// file is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// The command line, arguments joined by spaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    /// For memory: the region (`7f3a1c000000-7f3a1c021000 rw-p [heap]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// For memory: the address of the first match (hexadecimal, `0x...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The identity of a scanned file as `fstat` saw it on the open descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
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

/// What an action did to the file of a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionReport {
    /// `quarantine` or `delete`.
    pub action: &'static str,
    /// `done`, `refused` (the file was not the one scanned, or a check
    /// failed before anything was changed), `failed` (an error; the file
    /// was left in place) or `skipped` (below `--min-score`, or declined).
    pub status: &'static str,
    /// The file acted on: the outer file when the detection is inside a
    /// container, else the finding's own path.
    pub target: String,
    /// Vault ID of the quarantined file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault_id: Option<String>,
    /// Why it was refused, failed or skipped; or a note on a done action
    /// (e.g. other hard links of the file remain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What `scan --evidence` did with the file of a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceReport {
    /// The case directory.
    pub case: String,
    /// `preserved`, or `failed` (and then no action touched the file).
    pub status: &'static str,
    /// The item's path in the case (`data/000002/...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The custody entry that records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Finding {
    /// A finding with no detections or problems yet.
    pub fn new(path: &Path) -> Finding {
        let path_buf = path;
        let (path, path_base64) = path_strings(path);
        Finding {
            kind: "finding",
            version: SCHEMA_VERSION,
            path,
            path_base64,
            fs_path: path_buf.to_path_buf(),
            chain: Vec::new(),
            size: None,
            sha256: None,
            detections: Vec::new(),
            problems: Vec::new(),
            action: None,
            evidence: None,
            identity: None,
            autostarts: Vec::new(),
            process: None,
        }
    }

    /// A finding for standard input or another unnamed stream.
    pub fn named(name: &str) -> Finding {
        Finding::new(Path::new(name))
    }

    /// True when the finding has anything to say.
    pub fn is_notable(&self) -> bool {
        !self.detections.is_empty() || !self.problems.is_empty()
    }

    /// Highest score among the detections (0 when none).
    pub fn max_score(&self) -> u32 {
        self.detections.iter().map(|d| d.score).max().unwrap_or(0)
    }
}

/// Returns the lossy UTF-8 form of a path and, when it was not valid UTF-8,
/// the base64 of its exact bytes.
pub fn path_strings(path: &Path) -> (String, Option<String>) {
    match path.to_str() {
        Some(s) => (s.to_string(), None),
        None => {
            // Unix: the path's bytes; Windows: its WTF-8 form (the only way
            // a Windows path is not UTF-8 is an unpaired surrogate).
            let bytes = path.as_os_str().as_encoded_bytes();
            (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(base64(bytes)),
            )
        }
    }
}

/// Standard base64 with padding (RFC 4648), enough for paths; not worth a
/// dependency.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Totals of one run, the last line of NDJSON output.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Always `"summary"` in JSON.
    #[serde(rename = "type")]
    pub kind: SummaryTag,
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// Regular files (and streams) scanned.
    pub files_scanned: u64,
    /// Bytes of those files.
    pub bytes_scanned: u64,
    /// Bytes actually read: less than `bytes_scanned` when files needed no
    /// content (no YARA rules, no hash IOC of their size).
    pub bytes_read: u64,
    /// Objects found inside containers (at any depth) and scanned.
    pub members_scanned: u64,
    /// Files (top-level objects) with at least one detection, on
    /// themselves or on anything inside them.
    pub files_detected: u64,
    /// Detections in all.
    pub detections: u64,
    /// Objects that could not be scanned because of an error or timeout.
    pub errors: u64,
    /// Objects skipped on purpose: over `--max-filesize`, or not regular
    /// files (FIFOs, sockets, devices).
    pub skipped: u64,
    /// Wall time of the run.
    pub elapsed_seconds: f64,
    /// True when the run was stopped early (Ctrl-C): the totals are partial.
    pub interrupted: bool,
    /// Files moved into the vault (`--action quarantine`).
    pub quarantined: u64,
    /// Files deleted (`--action delete`).
    pub deleted: u64,
    /// Actions refused: the file changed or was swapped since it was
    /// scanned, or a safety check failed; nothing was changed.
    pub refused: u64,
    /// Actions that failed on an error (disk full, read-only, permissions);
    /// the file was left in place.
    pub failed: u64,
    /// Autostart entries read (`--persistence`); absent without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autostarts: Option<u64>,
    /// Autostart entries disabled, their originals kept in the vault
    /// (`--persistence --action quarantine`).
    #[serde(skip_serializing_if = "is_zero")]
    pub autostarts_disabled: u64,
    /// Processes examined (`--processes`, `--pid`); absent without them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
    /// Processes with a detection in their memory or executable.
    #[serde(skip_serializing_if = "is_zero")]
    pub processes_detected: u64,
    /// Bytes of process memory scanned.
    #[serde(skip_serializing_if = "is_zero")]
    pub memory_scanned: u64,
    /// The machine scanned (its host name), so that findings gathered
    /// from many machines can be merged and told apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// When the run started (RFC 3339, UTC): with `elapsed_seconds`, the
    /// first and last time the run saw anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// The signature files the run loaded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<SourceRef>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A signature file a run loaded (in [`Summary::signatures`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SourceRef {
    /// Path, or `builtin:...`.
    pub path: String,
    /// Its kind (`yara`, `stix`, `misp`, `clamav-sha`, ...).
    pub kind: String,
    /// Rules, IOCs or indicators loaded from it.
    pub entries: u64,
}

/// Serializes as the constant `"summary"`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SummaryTag;

impl Serialize for SummaryTag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("summary")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn invalid_utf8_path_keeps_exact_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a\xffb"));
        let f = Finding::new(p);
        assert_eq!(f.path, "/tmp/a\u{FFFD}b");
        assert_eq!(f.path_base64.as_deref(), Some("L3RtcC9h/2I="));
        let ok = Finding::new(Path::new("/tmp/ok"));
        assert!(ok.path_base64.is_none());
    }

    #[test]
    fn summary_serializes_type_tag() {
        let s = Summary {
            version: SCHEMA_VERSION,
            ..Default::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["type"], "summary");
        assert_eq!(v["version"], 1);
    }
}
