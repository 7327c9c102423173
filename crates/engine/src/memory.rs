//! Process memory scanned with the YARA rules.
//!
//! A process's memory is many regions at scattered addresses, some of
//! them gigabytes, and it can only be copied out piece by piece. So it is
//! scanned with yara-x's block scanner ([`yara_x::blocks::Scanner`]): each
//! piece is handed over at its real address, the matches of all the
//! pieces of one process are gathered, and the rules' conditions are
//! evaluated once at the end, over the whole process (a rule whose
//! strings sit in the heap and in the stack matches, as with `yara PID`).
//! A match address is then an address in the process.
//!
//! What a block scan cannot do: modules (`pe`, `elf`, `hash`, ...),
//! `filesize` and the `uint*`/`int*` functions are undefined there, so a
//! condition that needs them is false (a rule written `uint16(0) ==
//! 0x5a4d and ...` never matches memory). The set built without the rules
//! that need content beginning with `MZ` (see
//! [`crate::sigs::yara::YaraRules::without_mz`]) is therefore used when
//! there is one: its results on memory are the same, and it searches for
//! fewer patterns. Everything else runs as it is.
//!
//! Memory bound: one buffer of [`CHUNK`] bytes per scanner, whatever the
//! size of the process; the pieces of a region overlap by [`OVERLAP`]
//! bytes (copied from the previous piece, never read again, so the two
//! sides agree even while the process writes), so that a match of up to
//! that length across two pieces is still found. The matches are kept
//! until the end of the process, at most [`MAX_MATCHES_PER_PATTERN`] per
//! pattern.
//!
//! Reading is the caller's ([`Memory`]): this module knows nothing of
//! `/proc`.

use crate::finding::{Detection, Problem};
use crate::scan::ScanOptions;
use crate::sigs::SignatureSet;
use crate::sigs::yara::YaraRules;
use rustc_hash::FxHashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Bytes read and handed to the scanner at a time: large enough that the
/// per-piece cost (a system call, the scanner's set-up) is nothing beside
/// scanning it, small enough that a worker never holds much.
pub const CHUNK: usize = 8 << 20;

/// Bytes each piece repeats of the one before it in the same region: a
/// string up to this long that straddles two pieces is still matched
/// whole (the block scanner never matches across pieces). 64 KiB is far
/// beyond any literal or hex string of public rule sets, and costs under
/// 1% of a piece.
pub const OVERLAP: usize = 64 << 10;

/// Matches kept per pattern in one process. The block scanner keeps every
/// match (and its bytes) until the process is done, and a short pattern
/// may occur millions of times in gigabytes of memory; no rule counts that
/// high (`#a > 10000` would be false past this).
pub const MAX_MATCHES_PER_PATTERN: usize = 10_000;

/// A read of memory that failed part way.
#[derive(Debug)]
pub struct ReadFailure {
    /// Bytes read (into the start of the buffer) before the error.
    pub read: usize,
    /// The error.
    pub error: std::io::Error,
}

/// The memory of one process, read by address.
pub trait Memory {
    /// Reads from `address` into `buf`: the bytes read, fewer than asked
    /// only when the memory ends there (0: nothing more, e.g. the process
    /// exited).
    fn read_at(&mut self, address: u64, buf: &mut [u8]) -> Result<usize, ReadFailure>;
}

/// What the YARA externals are set to for a process: its executable (as
/// `filename`, `filepath`, `extension`, as Loki sets them for a file) and
/// its owner (`owner`); `filetype` is empty (memory is no file type).
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// The executable's path.
    pub exe: Option<&'a Path>,
    /// The owner's user ID.
    pub uid: Option<u32>,
}

/// A region, or the rest of one, that could not be read.
#[derive(Debug)]
pub struct Unread {
    /// Index of the region in the list scanned.
    pub region: usize,
    /// Where reading stopped.
    pub address: u64,
    /// Why: an error, or `None` when the memory ended early (the read
    /// returned nothing: the process exited, or the region was unmapped).
    pub error: Option<std::io::Error>,
}

/// The result of scanning one process's memory.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The rules that matched, in the order of the signature files.
    pub detections: Vec<Detection>,
    /// The lowest address any matching rule matched at, and the index of
    /// its region; `None` without detections, or when the rules that
    /// matched did so without a string (a condition alone).
    pub first_match: Option<(usize, u64)>,
    /// Bytes scanned (each byte once, overlaps not counted again).
    pub scanned: u64,
    /// Bytes not scanned because the budget was spent.
    pub over_budget: u64,
    /// What could not be read, at most one entry per region.
    pub unread: Vec<Unread>,
    /// The scan itself failed or ran out of time (results then partial).
    pub problems: Vec<Problem>,
    /// `stop` was raised: the scan ended early.
    pub stopped: bool,
}

/// Scans process memory; one per thread (a yara-x scanner cannot move
/// between threads), reused from process to process.
pub struct MemoryScanner<'s> {
    sigs: &'s SignatureSet,
    yara: Option<(&'s YaraRules, yara_x::blocks::Scanner<'s>)>,
    timeout: Duration,
    buf: Vec<u8>,
    chunk: usize,
    overlap: usize,
    owners: FxHashMap<u32, String>,
}

/// The rules memory is scanned with (see the module's documentation), and
/// how many rules of the whole set are left out of them.
pub fn rules_for_memory(sigs: &SignatureSet) -> Option<(&yara_x::Rules, usize)> {
    let y = sigs.yara.as_ref().filter(|_| sigs.yara_rule_count() > 0)?;
    Some(match &y.without_mz {
        Some(smaller) => {
            let left_out = y.rules.iter().len().saturating_sub(smaller.iter().len());
            (smaller, left_out)
        }
        None => (&y.rules, 0),
    })
}

impl<'s> MemoryScanner<'s> {
    /// A scanner over the YARA rules of `sigs`, with the per-object YARA
    /// time budget of `opts` as the budget of one process.
    pub fn new(sigs: &'s SignatureSet, opts: &ScanOptions) -> MemoryScanner<'s> {
        let yara = sigs.yara.as_ref().and_then(|y| {
            let (rules, _) = rules_for_memory(sigs)?;
            let mut s = yara_x::blocks::Scanner::new(rules);
            s.set_timeout(opts.yara_timeout);
            s.max_matches_per_pattern(MAX_MATCHES_PER_PATTERN);
            Some((y, s))
        });
        MemoryScanner {
            sigs,
            yara,
            timeout: opts.yara_timeout,
            buf: Vec::new(),
            chunk: CHUNK,
            overlap: OVERLAP,
            owners: FxHashMap::default(),
        }
    }

    /// False when there are no YARA rules: memory has nothing to be
    /// matched against (hash and name IOCs are about files).
    pub fn has_rules(&self) -> bool {
        self.yara.is_some()
    }

    /// Scans `regions` of `mem`, in the order given, reading at most
    /// `budget` bytes; stops early when `stop` is raised.
    pub fn scan(
        &mut self,
        mem: &mut dyn Memory,
        regions: &[Range<u64>],
        budget: u64,
        cx: &Context<'_>,
        stop: &AtomicBool,
    ) -> Outcome {
        let mut out = Outcome::default();
        if self.yara.is_none() {
            return out;
        }
        self.set_globals(cx);
        if self.buf.len() != self.chunk {
            self.buf = vec![0; self.chunk];
        }
        let Some((yara, scanner)) = self.yara.as_mut() else {
            return out;
        };
        let yara: &YaraRules = yara;
        let mut fed = false;
        let mut failed = false;
        'regions: for (i, region) in regions.iter().enumerate() {
            let mut address = region.start;
            // Bytes at the start of `buf` repeated from the previous piece.
            let mut keep = 0usize;
            while address < region.end {
                if stop.load(Ordering::Relaxed) {
                    out.stopped = true;
                    break 'regions;
                }
                let left = budget.saturating_sub(out.scanned);
                if left == 0 {
                    out.over_budget = regions
                        .get(i..)
                        .unwrap_or_default()
                        .iter()
                        .map(|r| r.end.saturating_sub(r.start))
                        .sum::<u64>()
                        .saturating_sub(address.saturating_sub(region.start));
                    break 'regions;
                }
                let room = self.chunk.saturating_sub(keep) as u64;
                let want = room.min(region.end - address).min(left) as usize;
                let Some(piece) = self.buf.get_mut(keep..keep + want) else {
                    break 'regions;
                };
                let (n, error) = match mem.read_at(address, piece) {
                    Ok(n) => (n.min(want), None),
                    Err(f) => (f.read.min(want), Some(f.error)),
                };
                let base = address - keep as u64;
                if n > 0 {
                    let block = self.buf.get(..keep + n).unwrap_or_default();
                    let Ok(base_usize) = usize::try_from(base) else {
                        out.unread.push(Unread {
                            region: i,
                            address,
                            error: Some(std::io::Error::other(
                                "address beyond what this platform can scan",
                            )),
                        });
                        continue 'regions;
                    };
                    fed = true;
                    if let Err(e) = scanner.scan(base_usize, block) {
                        out.problems.push(scan_problem(&e, self.timeout));
                        failed = true;
                        break 'regions;
                    }
                    out.scanned += n as u64;
                    address += n as u64;
                }
                if error.is_some() || n < want {
                    out.unread.push(Unread {
                        region: i,
                        address,
                        error,
                    });
                    continue 'regions;
                }
                // The end of this piece is repeated at the start of the
                // next one; never more than half a piece, so that each
                // piece brings new bytes.
                let end = keep + n;
                keep = self.overlap.min(end).min(self.chunk / 2);
                self.buf.copy_within(end - keep..end, 0);
            }
        }
        if !fed {
            // Nothing was handed over: no condition is evaluated (a rule
            // such as `not $a` would match memory never seen).
            return out;
        }
        // finish() also re-arms the scanner for the next process, so it
        // runs even after a failure; its results are used only then.
        let sigs = self.sigs;
        match scanner.finish() {
            Ok(results) if !failed => {
                let mut found: Vec<(usize, Detection)> = Vec::new();
                let mut first: Option<u64> = None;
                for rule in results.matching_rules() {
                    for p in rule.patterns() {
                        for m in p.matches() {
                            let at = m.range().start as u64;
                            first = Some(first.map_or(at, |f| f.min(at)));
                        }
                    }
                    found.push(crate::scan::yara_detection(sigs, yara, &rule));
                }
                found.sort_by_key(|(ns, _)| *ns);
                out.detections = found.into_iter().map(|(_, d)| d).collect();
                out.first_match = first.and_then(|at| {
                    regions
                        .iter()
                        .position(|r| r.start <= at && at < r.end)
                        .map(|i| (i, at))
                });
            }
            Ok(_) => {}
            Err(e) => out.problems.push(scan_problem(&e, self.timeout)),
        }
        out
    }

    fn set_globals(&mut self, cx: &Context<'_>) {
        let owner = match cx.uid {
            Some(uid) => self
                .owners
                .entry(uid)
                .or_insert_with(|| crate::platform::user_name(uid))
                .clone(),
            None => String::new(),
        };
        let Some((_, scanner)) = self.yara.as_mut() else {
            return;
        };
        let path = cx.exe.map(|p| p.to_string_lossy().into_owned());
        let filename = cx
            .exe
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned());
        // Loki's convention: the extension with its dot, lowercase.
        let extension = cx
            .exe
            .and_then(Path::extension)
            .map(|e| format!(".{}", e.to_string_lossy().to_ascii_lowercase()));
        for (name, value) in [
            ("filename", filename.as_deref().unwrap_or("")),
            ("filepath", path.as_deref().unwrap_or("")),
            ("extension", extension.as_deref().unwrap_or("")),
            ("filetype", ""),
            ("owner", owner.as_str()),
        ] {
            // Defined as strings when the rules were compiled: cannot fail;
            // ignored rather than a panic should that ever change.
            let _ = scanner.set_global(name, value);
        }
    }
}

fn scan_problem(e: &yara_x::errors::ScanError, timeout: Duration) -> Problem {
    match e {
        yara_x::errors::ScanError::Timeout => Problem::timeout(format!(
            "YARA scan of the process's memory exceeded {}s; YARA results incomplete",
            timeout.as_secs_f64()
        )),
        other => Problem::error(format!("YARA scan failed: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigs::LoadOptions;

    /// Memory made of regions of bytes at addresses; reads in `step`s to
    /// be short on purpose, and can fail from an address on.
    struct Fake {
        regions: Vec<(u64, Vec<u8>)>,
        fail_at: Option<(u64, i32)>,
        reads: usize,
    }

    impl Memory for Fake {
        fn read_at(&mut self, address: u64, buf: &mut [u8]) -> Result<usize, ReadFailure> {
            self.reads += 1;
            let Some((start, data)) = self
                .regions
                .iter()
                .find(|(s, d)| *s <= address && address < s + d.len() as u64)
            else {
                return Ok(0);
            };
            let off = (address - start) as usize;
            let mut n = buf.len().min(data.len() - off);
            if let Some((at, errno)) = self.fail_at
                && address <= at
                && at < address + n as u64
            {
                n = (at - address) as usize;
                buf[..n].copy_from_slice(&data[off..off + n]);
                return Err(ReadFailure {
                    read: n,
                    error: std::io::Error::from_raw_os_error(errno),
                });
            }
            buf[..n].copy_from_slice(&data[off..off + n]);
            Ok(n)
        }
    }

    const EICAR: &str = concat!(
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    );

    fn sigs(rules: &str) -> (tempfile::TempDir, SignatureSet) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.yar"), rules).unwrap();
        let sigs = SignatureSet::load(&LoadOptions {
            paths: vec![dir.path().join("r.yar")],
            ..Default::default()
        })
        .unwrap();
        (dir, sigs)
    }

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn eicar_rule() -> String {
        format!(
            "rule Eicar_Anywhere {{ meta: score = 90 strings: $e = \"{}\" condition: $e }}\n",
            EICAR.replace('\\', "\\\\")
        )
    }

    fn ranges(f: &Fake) -> Vec<Range<u64>> {
        f.regions
            .iter()
            .map(|(s, d)| *s..*s + d.len() as u64)
            .collect()
    }

    #[test]
    fn a_string_across_pieces_is_found_at_its_real_address() {
        let (_d, sigs) = sigs(&eicar_rule());
        let mut s = MemoryScanner::new(&sigs, &ScanOptions::default());
        s.chunk = 4096;
        s.overlap = 256;
        let mut heap = noise(40_000, 7);
        // Straddles the boundary of the first two pieces.
        let at = 4096 - 20;
        heap[at..at + EICAR.len()].copy_from_slice(EICAR.as_bytes());
        let mut mem = Fake {
            regions: vec![(0x1000, noise(5000, 3)), (0x7f00_0000_0000, heap)],
            fail_at: None,
            reads: 0,
        };
        let regions = ranges(&mem);
        let stop = AtomicBool::new(false);
        let out = s.scan(&mut mem, &regions, u64::MAX, &Context::default(), &stop);
        assert_eq!(out.detections.len(), 1, "{out:?}");
        assert_eq!(out.detections[0].name, "Eicar_Anywhere");
        assert_eq!(out.detections[0].score, 90);
        assert_eq!(out.first_match, Some((1, 0x7f00_0000_0000 + at as u64)));
        assert_eq!(out.scanned, 45_000);
        assert!(out.unread.is_empty() && out.problems.is_empty());
        // The scanner is reused: a clean process after it has nothing.
        let mut clean = Fake {
            regions: vec![(0x2000, noise(10_000, 9))],
            fail_at: None,
            reads: 0,
        };
        let regions = ranges(&clean);
        let out = s.scan(&mut clean, &regions, u64::MAX, &Context::default(), &stop);
        assert!(out.detections.is_empty() && out.first_match.is_none());
        assert_eq!(out.scanned, 10_000);
    }

    #[test]
    fn conditions_see_the_whole_process_and_whole_file_features_are_false() {
        let (_d, sigs) = sigs(
            "rule Two { strings: $a = \"first-half-marker\" $b = \"second-half-marker\" condition: $a and $b }\n\
             rule Size { strings: $a = \"first-half-marker\" condition: $a and filesize < 100MB }\n\
             rule Pe { strings: $a = \"first-half-marker\" condition: uint16(0) == 0x5a4d and $a }\n\
             rule Exe { strings: $a = \"first-half-marker\" condition: $a and filename == \"evil.bin\" and owner != \"\" }\n",
        );
        let (rules, left_out) = rules_for_memory(&sigs).unwrap();
        assert_eq!(left_out, 1, "the MZ rule is left out");
        assert_eq!(rules.iter().len(), 3);
        let mut s = MemoryScanner::new(&sigs, &ScanOptions::default());
        let mut a = noise(3000, 1);
        a[100..117].copy_from_slice(b"first-half-marker");
        let mut b = noise(3000, 2);
        b[2000..2018].copy_from_slice(b"second-half-marker");
        let mut mem = Fake {
            regions: vec![(0x10000, a), (0x90000, b)],
            fail_at: None,
            reads: 0,
        };
        let regions = ranges(&mem);
        let cx = Context {
            exe: Some(Path::new("/tmp/evil.bin")),
            uid: Some(0),
        };
        let out = s.scan(&mut mem, &regions, u64::MAX, &cx, &AtomicBool::new(false));
        let names: Vec<&str> = out.detections.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["Two", "Exe"]);
        assert_eq!(out.first_match, Some((0, 0x10000 + 100)));
        // Regions in any order (the caller reads memory-only ones first):
        // the same matches, the lowest address first.
        let reversed: Vec<Range<u64>> = regions.iter().rev().cloned().collect();
        let out = s.scan(&mut mem, &reversed, u64::MAX, &cx, &AtomicBool::new(false));
        let names: Vec<&str> = out.detections.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["Two", "Exe"]);
        assert_eq!(out.first_match, Some((1, 0x10000 + 100)));
    }

    #[test]
    fn budget_errors_and_early_ends_are_reported_per_region() {
        let (_d, sigs) = sigs(&eicar_rule());
        let mut s = MemoryScanner::new(&sigs, &ScanOptions::default());
        s.chunk = 1024;
        s.overlap = 100;
        let mut tail = noise(3000, 4);
        tail[2500..2500 + EICAR.len()].copy_from_slice(EICAR.as_bytes());
        let mut mem = Fake {
            regions: vec![(0x1000, noise(3000, 5)), (0x9000, tail)],
            fail_at: Some((0x1000 + 1500, 5)), // EIO in the first region
            reads: 0,
        };
        // The map says the second region is longer than what is there:
        // it ends early.
        let regions = vec![0x1000..0x1000 + 3000, 0x9000..0x9000 + 4000];
        let stop = AtomicBool::new(false);
        let out = s.scan(&mut mem, &regions, u64::MAX, &Context::default(), &stop);
        assert_eq!(out.scanned, 1500 + 3000);
        assert_eq!(out.unread.len(), 2);
        assert_eq!(out.unread[0].region, 0);
        assert_eq!(out.unread[0].address, 0x1000 + 1500);
        assert_eq!(
            out.unread[0].error.as_ref().unwrap().raw_os_error(),
            Some(5)
        );
        assert_eq!(out.unread[1].region, 1);
        assert_eq!(out.unread[1].address, 0x9000 + 3000);
        assert!(out.unread[1].error.is_none());
        assert_eq!(out.first_match, Some((1, 0x9000 + 2500)));

        // A budget: the first 2,000 bytes, the rest counted.
        mem.fail_at = None;
        let regions = ranges(&mem);
        let out = s.scan(&mut mem, &regions, 2000, &Context::default(), &stop);
        assert_eq!(out.scanned, 2000);
        assert_eq!(out.over_budget, 4000);
        assert!(out.detections.is_empty());

        // Stopped before anything: nothing read, nothing evaluated.
        stop.store(true, Ordering::Relaxed);
        mem.reads = 0;
        let out = s.scan(&mut mem, &regions, u64::MAX, &Context::default(), &stop);
        assert!(out.stopped && out.scanned == 0 && mem.reads == 0);
    }

    #[test]
    fn without_rules_nothing_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("x.hsb"),
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:68:Eicar\n",
        )
        .unwrap();
        let sigs = SignatureSet::load(&LoadOptions {
            paths: vec![dir.path().join("x.hsb")],
            ..Default::default()
        })
        .unwrap();
        let mut s = MemoryScanner::new(&sigs, &ScanOptions::default());
        assert!(!s.has_rules());
        let mut mem = Fake {
            regions: vec![(0x1000, EICAR.as_bytes().to_vec())],
            fail_at: None,
            reads: 0,
        };
        let regions = ranges(&mem);
        let out = s.scan(
            &mut mem,
            &regions,
            u64::MAX,
            &Context::default(),
            &AtomicBool::new(false),
        );
        assert_eq!((out.scanned, mem.reads), (0, 0));
    }
}
