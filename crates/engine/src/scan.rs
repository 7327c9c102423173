//! Scanning one object (a file or a byte stream) with every signature.
//!
//! One [`ObjectScanner`] lives on each worker thread: it owns a yara-x
//! scanner and a read buffer that are reused from file to file, and borrows
//! the shared [`SignatureSet`].
//!
//! Files are read, never memory-mapped: a file truncated by another process
//! while mapped raises SIGBUS and kills the scanner, and files on a victim's
//! machine are exactly the ones malware (or its cleanup) rewrites. Reading
//! costs one copy from the page cache, small beside the matching itself.
//!
//! Content is read only when something needs it: YARA rules are loaded, or
//! a hash IOC exists for this file's size. With hash IOCs alone and no size
//! match, a file costs one `fstat`.

use crate::digest::{Algorithms, Digests};
use crate::finding::{Detection, EngineKind, Finding, Problem};
use crate::sigs::SignatureSet;
use rustc_hash::FxHashMap;
use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

/// Default `--max-filesize`: ClamAV's default is 100 MiB for scanning and
/// Loki's 5 MB; 256 MiB covers large droppers and memory dumps while
/// bounding the per-thread buffer.
pub const DEFAULT_MAX_FILESIZE: u64 = 256 << 20;

/// Default per-file YARA time budget.
pub const DEFAULT_YARA_TIMEOUT: Duration = Duration::from_secs(60);

/// Score of a YARA rule without a `score` meta: Loki's default.
pub const DEFAULT_YARA_SCORE: u32 = 75;

/// A buffer that grew past this for one big file is given back afterwards,
/// so one 200 MB file does not pin 200 MB per thread for the rest of a run.
const KEEP_BUFFER: usize = 32 << 20;

/// Options for scanning objects.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Larger objects are skipped (and reported as a `max-filesize` limit).
    pub max_filesize: u64,
    /// Time budget of the YARA scan of one object.
    pub yara_timeout: Duration,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_filesize: DEFAULT_MAX_FILESIZE,
            yara_timeout: DEFAULT_YARA_TIMEOUT,
        }
    }
}

/// How a scan of one object ended, for the run's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Scanned (possibly with a timeout problem); size and bytes read.
    Scanned {
        /// Size of the object.
        size: u64,
        /// Bytes actually read from it.
        read: u64,
    },
    /// Skipped on purpose (limit, not a regular file).
    Skipped,
    /// Could not be scanned.
    Failed,
}

/// The result of scanning one object.
#[derive(Debug)]
pub struct Outcome {
    /// What to report (only reported when notable).
    pub finding: Finding,
    /// For the counters.
    pub status: Status,
}

/// Scans objects one at a time; one per thread.
pub struct ObjectScanner<'s> {
    sigs: &'s SignatureSet,
    yara: Option<yara_x::Scanner<'s>>,
    opts: ScanOptions,
    buf: Vec<u8>,
    owners: FxHashMap<u32, String>,
}

impl<'s> ObjectScanner<'s> {
    /// A scanner over `sigs`.
    pub fn new(sigs: &'s SignatureSet, opts: ScanOptions) -> ObjectScanner<'s> {
        let yara = sigs
            .yara
            .as_ref()
            .filter(|_| sigs.needs_content())
            .map(|y| {
                let mut s = yara_x::Scanner::new(&y.rules);
                s.set_timeout(opts.yara_timeout);
                s
            });
        ObjectScanner {
            sigs,
            yara,
            opts,
            buf: Vec::new(),
            owners: FxHashMap::default(),
        }
    }

    /// Scans the file at `path`. With `nofollow`, a symlink in the last
    /// component is refused (the walker saw a regular file there; a link now
    /// means it was swapped).
    pub fn scan_path(&mut self, path: &Path, nofollow: bool) -> Outcome {
        let mut finding = Finding::new(path);
        self.match_names(&mut finding);
        // O_NONBLOCK: if a FIFO was swapped in after the walker looked,
        // open must not hang waiting for a writer. O_NOCTTY: never become
        // the controlling terminal by opening a tty.
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        if nofollow {
            flags |= libc::O_NOFOLLOW;
        }
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
        {
            Ok(f) => f,
            Err(e) => {
                let msg = if e.raw_os_error() == Some(libc::ELOOP) && nofollow {
                    "is now a symbolic link (not followed)".to_string()
                } else {
                    format!("cannot open: {}", io_reason(&e))
                };
                finding.problems.push(Problem::error(msg));
                return Outcome {
                    status: Status::Failed,
                    finding,
                };
            }
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                finding
                    .problems
                    .push(Problem::error(format!("cannot stat: {}", io_reason(&e))));
                return Outcome {
                    status: Status::Failed,
                    finding,
                };
            }
        };
        if !meta.is_file() {
            // Never read FIFOs, sockets or devices: they block, never end,
            // or have side effects.
            return Outcome {
                status: Status::Skipped,
                finding,
            };
        }
        let size = meta.len();
        finding.size = Some(size);
        if size > self.opts.max_filesize {
            finding.problems.push(Problem::limit(
                "max-filesize",
                format!(
                    "{size} bytes is over the --max-filesize limit of {} bytes; not scanned",
                    self.opts.max_filesize
                ),
            ));
            return Outcome {
                status: Status::Skipped,
                finding,
            };
        }
        let owner = self.owner(meta.uid());
        self.scan_open_file(finding, file, size, &owner)
    }

    /// Scans a stream (standard input) named `name`, read whole up to
    /// `--max-filesize`.
    pub fn scan_reader(&mut self, name: &str, reader: &mut dyn Read) -> Outcome {
        let mut finding = Finding::named(name);
        self.match_names(&mut finding);
        self.buf.clear();
        match read_capped(reader, &mut self.buf, self.opts.max_filesize) {
            Ok(n) if n > self.opts.max_filesize => {
                finding.problems.push(Problem::limit(
                    "max-filesize",
                    format!(
                        "stream is over the --max-filesize limit of {} bytes; not scanned",
                        self.opts.max_filesize
                    ),
                ));
                self.shrink();
                return Outcome {
                    status: Status::Skipped,
                    finding,
                };
            }
            Ok(_) => {}
            Err(e) => {
                finding
                    .problems
                    .push(Problem::error(format!("cannot read: {}", io_reason(&e))));
                return Outcome {
                    status: Status::Failed,
                    finding,
                };
            }
        }
        let size = self.buf.len() as u64;
        finding.size = Some(size);
        let mut digests = Digests::default();
        let need = self.sigs.hashes.needed(size);
        let buf = std::mem::take(&mut self.buf);
        digests.add(&buf, need);
        self.match_hashes(&mut finding, &digests, size);
        self.match_yara(&mut finding, &buf, name, "");
        let finding = self.finalize(finding, &mut digests, Some(&buf), None, size);
        self.buf = buf;
        self.shrink();
        Outcome {
            status: Status::Scanned { size, read: size },
            finding,
        }
    }

    fn scan_open_file(
        &mut self,
        mut finding: Finding,
        mut file: File,
        size: u64,
        owner: &str,
    ) -> Outcome {
        let mut digests = Digests::default();
        let path = finding.path.clone();
        if self.yara.is_some() {
            self.buf.clear();
            // Size the buffer once from fstat (+1 to see growth) instead of
            // letting it double: a 200 MB file would briefly need 256 MB.
            self.buf
                .reserve_exact(size.min(self.opts.max_filesize).saturating_add(1) as usize);
            // One read serves hashing and YARA alike.
            let read = match read_capped(&mut file, &mut self.buf, self.opts.max_filesize) {
                Ok(n) => n,
                Err(e) => {
                    finding
                        .problems
                        .push(Problem::error(format!("cannot read: {}", io_reason(&e))));
                    self.shrink();
                    return Outcome {
                        status: Status::Failed,
                        finding,
                    };
                }
            };
            if read > self.opts.max_filesize {
                finding.problems.push(Problem::limit("max-filesize", format!("grew over the --max-filesize limit of {} bytes while being read; not scanned", self.opts.max_filesize)));
                self.shrink();
                return Outcome {
                    status: Status::Skipped,
                    finding,
                };
            }
            // The file may have been truncated or extended since fstat:
            // what was read is what was scanned.
            let size = read;
            finding.size = Some(size);
            let buf = std::mem::take(&mut self.buf);
            let need = self.sigs.hashes.needed(size);
            digests.add(&buf, need);
            self.match_hashes(&mut finding, &digests, size);
            self.match_yara(&mut finding, &buf, &path, owner);
            let finding = self.finalize(finding, &mut digests, Some(&buf), None, size);
            self.buf = buf;
            self.shrink();
            return Outcome {
                status: Status::Scanned { size, read },
                finding,
            };
        }
        let need = self.sigs.hashes.needed(size);
        let mut read = 0;
        if !need.is_empty() {
            // Hash IOCs only: stream, no buffer of the whole file. If a
            // name IOC already matched, take the SHA-256 in the same pass.
            let algs = if finding.detections.is_empty() {
                need
            } else {
                need.union(Algorithms::SHA256)
                    .union(self.sigs.allow.needed(size))
            };
            match digests.add_from_reader(&mut file, algs, self.opts.max_filesize + 1) {
                Ok(n) => read = n,
                Err(e) => {
                    finding
                        .problems
                        .push(Problem::error(format!("cannot read: {}", io_reason(&e))));
                    return Outcome {
                        status: Status::Failed,
                        finding,
                    };
                }
            }
            // Hash what was read; a size change since fstat means the IOC's
            // size check must use what the digest covers.
            self.match_hashes(&mut finding, &digests, read);
        }
        let finding = self.finalize(finding, &mut digests, None, Some(&mut file), size);
        Outcome {
            status: Status::Scanned { size, read },
            finding,
        }
    }

    fn match_names(&self, finding: &mut Finding) {
        if self.sigs.names.is_empty() {
            return;
        }
        for e in self
            .sigs
            .names
            .matches(finding.fs_path.as_os_str().as_bytes())
        {
            let mut metadata = serde_json::Map::new();
            metadata.insert("regex".into(), e.regex.clone().into());
            finding.detections.push(Detection {
                engine: EngineKind::Name,
                name: e.name.clone(),
                score: e.score,
                tags: Vec::new(),
                metadata,
                source: self.sigs.source_name(e.source).to_string(),
            });
        }
    }

    fn match_hashes(&self, finding: &mut Finding, digests: &Digests, size: u64) {
        for (alg, hex, e) in self.sigs.hashes.lookup(digests, size) {
            let mut metadata = serde_json::Map::new();
            metadata.insert(alg.into(), hex.into());
            finding.detections.push(Detection {
                engine: EngineKind::Hash,
                name: e.name.to_string(),
                score: e.score,
                tags: Vec::new(),
                metadata,
                source: self.sigs.source_name(e.source).to_string(),
            });
        }
    }

    fn match_yara(&mut self, finding: &mut Finding, data: &[u8], path: &str, owner: &str) {
        let Some(scanner) = self.yara.as_mut() else {
            return;
        };
        let yara = self.sigs.yara.as_ref().expect("scanner implies rules");
        let p = Path::new(path);
        let filename = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Loki's convention: the extension with its dot, lowercase.
        let extension = p
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy().to_ascii_lowercase()))
            .unwrap_or_default();
        let filetype = crate::filetype::detect(&data[..data.len().min(512)]);
        for (name, value) in [
            ("filename", filename.as_str()),
            ("filepath", path),
            ("extension", extension.as_str()),
            ("filetype", filetype),
            ("owner", owner),
        ] {
            // Defined at compile time with a string type, so this cannot
            // fail; ignore rather than panic should that ever change.
            let _ = scanner.set_global(name, value);
        }
        match scanner.scan(data) {
            Ok(results) => {
                for rule in results.matching_rules() {
                    let mut metadata = serde_json::Map::new();
                    let mut score = None;
                    for (key, value) in rule.metadata() {
                        let v = meta_json(&value);
                        if key == "score" {
                            score = match &value {
                                yara_x::MetaValue::Integer(i) => u32::try_from(*i).ok(),
                                yara_x::MetaValue::String(s) => s.trim().parse().ok(),
                                _ => None,
                            };
                        }
                        metadata.insert(key.to_string(), v);
                    }
                    let source = yara
                        .source_of(rule.namespace())
                        .map(|id| self.sigs.source_name(id).to_string())
                        .unwrap_or_default();
                    finding.detections.push(Detection {
                        engine: EngineKind::Yara,
                        name: rule.identifier().to_string(),
                        score: score.unwrap_or(DEFAULT_YARA_SCORE),
                        tags: rule.tags().map(|t| t.identifier().to_string()).collect(),
                        metadata,
                        source,
                    });
                }
            }
            Err(yara_x::errors::ScanError::Timeout) => {
                finding.problems.push(Problem::timeout(format!(
                    "YARA scan exceeded {}s; YARA results incomplete",
                    self.opts.yara_timeout.as_secs_f64()
                )));
            }
            Err(e) => finding
                .problems
                .push(Problem::error(format!("YARA scan failed: {e}"))),
        }
    }

    /// Adds the SHA-256 of a detected object and applies the allow-list.
    /// Content comes from `buf`, or else is read again from `file`.
    fn finalize(
        &self,
        mut finding: Finding,
        digests: &mut Digests,
        buf: Option<&[u8]>,
        file: Option<&mut File>,
        size: u64,
    ) -> Finding {
        if finding.detections.is_empty() {
            return finding;
        }
        let want = Algorithms::SHA256.union(self.sigs.allow.needed(size));
        if !want.missing_from(digests).is_empty() {
            match (buf, file) {
                (Some(b), _) => digests.add(b, want),
                (None, Some(f)) => {
                    let result = f
                        .rewind()
                        .and_then(|_| digests.add_from_reader(f, want, self.opts.max_filesize + 1));
                    if let Err(e) = result {
                        finding.problems.push(Problem::error(format!(
                            "cannot read for SHA-256: {}",
                            io_reason(&e)
                        )));
                    }
                }
                (None, None) => {}
            }
        }
        if !self.sigs.allow.is_empty() && !self.sigs.allow.lookup(digests, size).is_empty() {
            tracing::debug!("allow-listed, not reported: {}", finding.path);
            finding.detections.clear();
            finding.problems.clear();
            return finding;
        }
        finding.sha256 = digests.sha256_hex();
        finding
    }

    fn shrink(&mut self) {
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
    }

    fn owner(&mut self, uid: u32) -> String {
        self.owners
            .entry(uid)
            .or_insert_with(
                || match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
                    Ok(Some(u)) => u.name,
                    _ => uid.to_string(),
                },
            )
            .clone()
    }
}

/// Reads `reader` into `buf` up to `limit + 1` bytes and returns the count,
/// so that a count over `limit` tells "too big" without reading it all.
fn read_capped(reader: &mut dyn Read, buf: &mut Vec<u8>, limit: u64) -> std::io::Result<u64> {
    let mut take = reader.take(limit.saturating_add(1));
    loop {
        match take.read_to_end(buf) {
            Ok(_) => return Ok(buf.len() as u64),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

fn meta_json(v: &yara_x::MetaValue) -> serde_json::Value {
    match v {
        yara_x::MetaValue::Integer(i) => (*i).into(),
        yara_x::MetaValue::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        yara_x::MetaValue::Bool(b) => (*b).into(),
        yara_x::MetaValue::String(s) => crate::sanitize::for_terminal(s).into(),
        yara_x::MetaValue::Bytes(b) => crate::sanitize::bytes_for_terminal(b.as_ref()).into(),
    }
}

/// The reason of an I/O error without the noisy "(os error N)".
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigs::{LoadOptions, SignatureSet};

    const EICAR: &str = concat!(
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    );

    fn builtin() -> SignatureSet {
        SignatureSet::load(&LoadOptions {
            builtin: true,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn eicar_in_memory_is_detected_with_sha256() {
        let sigs = builtin();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let out = s.scan_reader("stdin", &mut EICAR.as_bytes());
        assert_eq!(out.finding.detections.len(), 1);
        assert_eq!(out.finding.detections[0].name, "EICAR_Test_File");
        assert_eq!(out.finding.detections[0].score, 100);
        assert_eq!(
            out.finding.sha256.as_deref(),
            Some("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")
        );
        let clean = s.scan_reader("stdin", &mut &b"hello"[..]);
        assert!(!clean.finding.is_notable());
    }

    #[test]
    fn eicar_with_trailing_whitespace_still_matches_but_not_embedded() {
        let sigs = builtin();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let padded = format!("{EICAR}\r\n   ");
        assert_eq!(
            s.scan_reader("x", &mut padded.as_bytes())
                .finding
                .detections
                .len(),
            1
        );
        let embedded = format!("prefix {EICAR}");
        assert!(
            s.scan_reader("x", &mut embedded.as_bytes())
                .finding
                .detections
                .is_empty()
        );
    }

    #[test]
    fn stream_over_limit_is_a_limit_problem() {
        let sigs = builtin();
        let mut s = ObjectScanner::new(
            &sigs,
            ScanOptions {
                max_filesize: 4,
                ..Default::default()
            },
        );
        let out = s.scan_reader("x", &mut &b"12345"[..]);
        assert_eq!(out.status, Status::Skipped);
        assert_eq!(
            out.finding.problems[0].limit.as_deref(),
            Some("max-filesize")
        );
    }

    #[test]
    fn hash_only_sets_read_nothing_without_size_match() {
        let dir = tempfile::tempdir().unwrap();
        let iocs = dir.path().join("x.hsb");
        std::fs::write(
            &iocs,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad:3:Abc.Test\n",
        )
        .unwrap();
        let sigs = SignatureSet::load(&LoadOptions {
            paths: vec![iocs],
            ..Default::default()
        })
        .unwrap();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let hit = dir.path().join("abc");
        std::fs::write(&hit, "abc").unwrap();
        let miss = dir.path().join("abcd");
        std::fs::write(&miss, "abcd").unwrap();
        let out = s.scan_path(&hit, true);
        assert_eq!(out.status, Status::Scanned { size: 3, read: 3 });
        assert_eq!(out.finding.detections[0].name, "Abc.Test");
        assert_eq!(
            out.finding.detections[0].metadata["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let out = s.scan_path(&miss, true);
        assert_eq!(out.status, Status::Scanned { size: 4, read: 0 });
    }

    #[test]
    fn allow_list_suppresses_detection() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("x.sfp"),
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:68:Eicar.Allowed\n",
        )
        .unwrap();
        let sigs = SignatureSet::load(&LoadOptions {
            paths: vec![dir.path().to_path_buf()],
            builtin: true,
            ..Default::default()
        })
        .unwrap();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        assert!(
            !s.scan_reader("x", &mut EICAR.as_bytes())
                .finding
                .is_notable()
        );
    }

    #[test]
    fn symlink_is_refused_with_nofollow() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("target"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("target"), dir.path().join("link")).unwrap();
        let sigs = builtin();
        let mut s = ObjectScanner::new(&sigs, ScanOptions::default());
        let out = s.scan_path(&dir.path().join("link"), true);
        assert_eq!(out.status, Status::Failed);
        assert!(out.finding.problems[0].message.contains("symbolic link"));
    }
}
