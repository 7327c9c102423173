//! File-name IOCs in the Loki format: `regex;score;false-positive-regex`.
//!
//! Each regex is searched anywhere in the full path, case-insensitively, as
//! Loki does. Paths are matched as bytes (a Unix path need not be UTF-8)
//! with ASCII case folding, which is what Windows path IOCs need.
//!
//! The IOCs are written for Windows (`\\Windows\\Temp\\...`, `%APPDATA%`),
//! so, like Loki on Unix, escaped backslashes become `/` and drive letters
//! are dropped; unlike Loki, the common `%VAR%` folders become patterns, so
//! a mounted Windows disk scanned from Linux is still covered. A `#` comment
//! line describes the IOCs that follow it and becomes their detection name.
//!
//! # Matching thousands of regexes against every path
//!
//! One `RegexSet` over signature-base's ~3,800 IOCs costs ~40 MB to build
//! and ~60 µs per path (its lazy DFA thrashes on so many unanchored
//! patterns). Nearly every IOC has a literal that any match must start or
//! end with (`/windows/temp/sam_`, `.rdp`), so instead each IOC's best
//! prefix or suffix literal goes into one case-insensitive Aho-Corasick
//! automaton; a path is searched once for all literals, and only the IOCs
//! whose literal occurs are run, each compiled on first use. IOCs with no
//! usable literal are run on every path.

use super::{SigIssue, SourceId};
use aho_corasick::AhoCorasick;
use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use rustc_hash::FxHashMap;
use std::sync::OnceLock;

/// Score of an IOC line that gives none.
pub const DEFAULT_NAME_SCORE: u32 = 60;

/// Compiled size limit per regex: a hostile or huge IOC fails (and is
/// reported once) instead of exhausting memory.
const REGEX_SIZE_LIMIT: usize = 16 << 20;

/// Shortest literal worth prefiltering on: shorter ones occur in most
/// paths and would only add work.
const MIN_LITERAL: usize = 3;

/// One name IOC.
#[derive(Debug)]
pub struct NameEntry {
    /// Description (the comment above it) or the regex itself.
    pub name: String,
    /// Score.
    pub score: u32,
    /// The regex as written in the file.
    pub regex: String,
    /// Paths matching this are false positives.
    pub false_positive: Option<Regex>,
    /// Source file.
    pub source: SourceId,
    /// The regex rewritten for Unix paths.
    pattern: String,
    /// Compiled on first use; `None` if it does not compile.
    compiled: OnceLock<Option<Regex>>,
}

impl NameEntry {
    fn is_match(&self, path: &[u8]) -> bool {
        let re = self.compiled.get_or_init(|| match compile(&self.pattern) {
            Ok(r) => Some(r),
            Err(reason) => {
                tracing::warn!(
                    "name IOC '{}' disabled: {reason}",
                    crate::sanitize::for_terminal(&self.name)
                );
                None
            }
        });
        re.as_ref().is_some_and(|r| r.is_match(path))
            && !self
                .false_positive
                .as_ref()
                .is_some_and(|fp| fp.is_match(path))
    }
}

/// The loaded name IOCs.
#[derive(Debug, Default)]
pub struct NameIndex {
    entries: Vec<NameEntry>,
    /// Literal -> its id, while loading.
    literal_ids: FxHashMap<Vec<u8>, usize>,
    /// Literal id -> the entries that need it.
    owners: Vec<Vec<u32>>,
    /// Entries without a usable literal: tried on every path.
    always: Vec<u32>,
    prefilter: Option<AhoCorasick>,
}

impl NameIndex {
    /// Number of IOCs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries whose regex matches `path` and whose false-positive regex
    /// does not, in load order.
    pub fn matches<'a>(&'a self, path: &[u8]) -> Vec<&'a NameEntry> {
        let mut candidates: Vec<u32> = self.always.clone();
        if let Some(ac) = &self.prefilter {
            for m in ac.find_overlapping_iter(path) {
                candidates.extend_from_slice(&self.owners[m.pattern().as_usize()]);
            }
        }
        if candidates.is_empty() {
            return Vec::new();
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|i| &self.entries[i as usize])
            .filter(|e| e.is_match(path))
            .collect()
    }

    /// What [`NameIndex::matches`] must return, by running every regex:
    /// the oracle for tests and fuzzing of the prefilter.
    #[doc(hidden)]
    pub fn matches_brute_force<'a>(&'a self, path: &[u8]) -> Vec<&'a NameEntry> {
        self.entries.iter().filter(|e| e.is_match(path)).collect()
    }

    /// Builds the prefilter; called once after all files are parsed.
    pub fn finish(&mut self) -> Result<(), String> {
        let mut literals = vec![Vec::new(); self.literal_ids.len()];
        for (lit, id) in std::mem::take(&mut self.literal_ids) {
            literals[id] = lit;
        }
        if literals.is_empty() {
            return Ok(());
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&literals)
            .map_err(|e| format!("name IOC literals do not fit in one automaton: {e}"))?;
        self.prefilter = Some(ac);
        Ok(())
    }

    fn push(&mut self, pattern: String, literals: Option<Vec<Vec<u8>>>, entry: NameEntry) {
        let idx = self.entries.len() as u32;
        match literals {
            Some(lits) => {
                for lit in lits {
                    let next = self.literal_ids.len();
                    let id = *self.literal_ids.entry(lit).or_insert(next);
                    if id == self.owners.len() {
                        self.owners.push(Vec::new());
                    }
                    self.owners[id].push(idx);
                }
            }
            None => self.always.push(idx),
        }
        self.entries.push(NameEntry { pattern, ..entry });
    }
}

impl NameIndex {
    /// Adds one regex from an indicator (STIX `file:name`, a MISP
    /// `filename`): searched in the full path, case-insensitively, as a
    /// Loki IOC is, but without Loki's Windows rewriting (indicators give
    /// plain names, and their regexes already accept both separators).
    pub fn add_regex(
        &mut self,
        regex: &str,
        name: &str,
        score: u32,
        source: SourceId,
    ) -> Result<(), String> {
        let literals = analyse(regex)?;
        self.push(
            regex.to_string(),
            literals,
            NameEntry {
                name: name.to_string(),
                score,
                regex: regex.to_string(),
                false_positive: None,
                source,
                pattern: String::new(),
                compiled: OnceLock::new(),
            },
        );
        Ok(())
    }
}

/// Parses `pattern` (checking it is valid, without compiling it: compiling
/// thousands of IOCs at every start costs seconds) and returns the
/// literals one of which every match must contain, lowercased, or `None`
/// when there is no usable set.
fn analyse(pattern: &str) -> Result<Option<Vec<Vec<u8>>>, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| not_supported(pattern, &e.to_string()))?;
    if hir.properties().minimum_len() == Some(0) {
        // Searched unanchored, a regex that can match nothing at all (an
        // empty field, `.*`, `(a|)`) flags every path on the machine.
        return Err(format!(
            "regex '{}' can match the empty string, so it would flag every path",
            crate::sanitize::for_terminal(pattern)
        ));
    }
    let best = [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .filter_map(|kind| {
            let seq = Extractor::new().kind(kind).extract(&hir);
            let lits = seq.literals()?;
            let min = lits.iter().map(|l| l.as_bytes().len()).min()?;
            (min >= MIN_LITERAL).then(|| {
                (
                    min,
                    lits.iter()
                        .map(|l| l.as_bytes().to_ascii_lowercase())
                        .collect::<Vec<_>>(),
                )
            })
        })
        .max_by_key(|(min, lits)| (*min, std::cmp::Reverse(lits.len())));
    Ok(best.map(|(_, mut lits)| {
        lits.sort();
        lits.dedup();
        lits
    }))
}

fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| not_supported(pattern, &e.to_string()))
}

fn not_supported(pattern: &str, msg: &str) -> String {
    // The regex crates' messages span several lines with a caret; the
    // last line is the reason.
    let reason = msg
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid regex")
        .trim()
        .trim_start_matches("error: ");
    format!(
        "regex '{}' is not supported: {reason}",
        crate::sanitize::for_terminal(pattern)
    )
}

/// Windows folders named by environment variables, as patterns over a
/// path with `/` separators.
const ENV_FOLDERS: &[(&str, &str)] = &[
    ("%windir%", "/windows"),
    ("%systemroot%", "/windows"),
    ("%systemdrive%", ""),
    ("%appdata%", "/users/[^/]+/appdata/roaming"),
    ("%localappdata%", "/users/[^/]+/appdata/local"),
    ("%temp%", "/(?:users/[^/]+/appdata/local/|windows/)?temp"),
    ("%tmp%", "/(?:users/[^/]+/appdata/local/|windows/)?temp"),
    ("%userprofile%", "/users/[^/]+"),
    ("%public%", "/users/public"),
    ("%programdata%", "/programdata"),
    ("%allusersprofile%", "/programdata"),
    ("%programfiles%", "/program files(?: \\(x86\\))?"),
    ("%programfiles(x86)%", "/program files \\(x86\\)"),
    (
        "%commonprogramfiles%",
        "/program files(?: \\(x86\\))?/common files",
    ),
];

/// Rewrites a Loki (Windows) path regex for paths with `/` separators.
pub fn transform_windows(pattern: &str) -> String {
    let mut p = pattern.to_string();
    // Environment variables are case-insensitive on Windows.
    for (var, folder) in ENV_FOLDERS {
        while let Some(pos) = p.to_ascii_lowercase().find(var) {
            p.replace_range(pos..pos + var.len(), folder);
        }
    }
    // `\\` (an escaped backslash) is a path separator; `C:` a drive.
    p = p.replace(r"\\", "/");
    for drive in ["C:", "c:"] {
        p = p.replace(drive, "");
    }
    p
}

/// Parses a Loki file-name IOC file. Bad lines become issues and are
/// skipped; the rest load.
pub fn parse_loki(
    text: &str,
    source: SourceId,
    file: &str,
    index: &mut NameIndex,
    issues: &mut Vec<SigIssue>,
) -> usize {
    let mut added = 0;
    let mut last_comment = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.trim_start().strip_prefix('#') {
            last_comment = comment.trim().to_string();
            continue;
        }
        let mut fields = line.splitn(3, ';');
        let regex_text = fields.next().unwrap_or("").to_string();
        let score = match fields.next().map(str::trim) {
            None | Some("") => DEFAULT_NAME_SCORE,
            Some(s) => match s.parse::<u32>() {
                Ok(v) => v,
                Err(_) => {
                    issues.push(SigIssue::line(
                        file,
                        n + 1,
                        format!(
                            "score '{}' is not a number",
                            crate::sanitize::for_terminal(s)
                        ),
                    ));
                    continue;
                }
            },
        };
        let fp_text = fields.next().map(str::trim).filter(|s| !s.is_empty());
        let pattern = transform_windows(&regex_text);
        // Validate alone first, so one bad regex (Python-only syntax such
        // as look-arounds) costs one line, not the whole set.
        let literals = match analyse(&pattern) {
            Ok(l) => l,
            Err(reason) => {
                issues.push(SigIssue::line(file, n + 1, reason));
                continue;
            }
        };
        let false_positive = match fp_text.map(|t| compile(&transform_windows(t))) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(reason)) => {
                issues.push(SigIssue::line(
                    file,
                    n + 1,
                    format!("false-positive {reason}"),
                ));
                continue;
            }
        };
        let name = if last_comment.is_empty() {
            regex_text.clone()
        } else {
            last_comment.clone()
        };
        index.push(
            pattern,
            literals,
            NameEntry {
                name,
                score,
                regex: regex_text,
                false_positive,
                source,
                pattern: String::new(),
                compiled: OnceLock::new(),
            },
        );
        added += 1;
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (NameIndex, Vec<SigIssue>) {
        let mut idx = NameIndex::default();
        let mut issues = Vec::new();
        parse_loki(
            text,
            SourceId(0),
            "filename-iocs.txt",
            &mut idx,
            &mut issues,
        );
        idx.finish().unwrap();
        (idx, issues)
    }

    #[test]
    fn regexes_matching_every_path_are_refused() {
        let (idx, issues) = load(";\n;;\n;50\n.*;60\n(a|);70\nevil\\.exe;80\n");
        assert_eq!(issues.len(), 5, "{issues:?}");
        assert!(
            issues.iter().all(|i| i.to_string().contains("every path")),
            "{issues:?}"
        );
        assert!(issues[0].to_string().contains(":1:"), "{}", issues[0]);
        assert!(idx.matches(b"/home/u/notes.txt").is_empty());
        assert_eq!(idx.matches(b"/tmp/evil.exe").len(), 1);
    }

    #[test]
    fn windows_paths_become_unix() {
        assert_eq!(
            transform_windows(r"C:\\Windows\\Temp\\evil\.exe"),
            r"/Windows/Temp/evil\.exe"
        );
        assert_eq!(
            transform_windows(r"%APPDATA%\\x\.dll"),
            r"/users/[^/]+/appdata/roaming/x\.dll"
        );
    }

    #[test]
    fn matches_with_description_score_and_false_positive() {
        let (idx, issues) =
            load("# Nymaim dropper\n\\\\Temp\\\\[a-z]{8}\\.exe;80;safe\n# Other\nxyz\\.bin\n");
        assert!(issues.is_empty(), "{issues:?}");
        let hit = idx.matches(b"/mnt/c/Windows/TEMP/abcdefgh.exe");
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].name, "Nymaim dropper");
        assert_eq!(hit[0].score, 80);
        assert_eq!(
            idx.matches(b"/mnt/c/Windows/Temp/safeabcd.exe").len(),
            0,
            "false positive regex applies"
        );
        let other = idx.matches(b"/home/u/xyz.bin");
        assert_eq!(other[0].score, DEFAULT_NAME_SCORE);
        assert_eq!(other[0].name, "Other");
    }

    #[test]
    fn prefilter_agrees_with_running_every_regex() {
        let iocs = [
            r"\\Windows\\Temp\\sam_(mic|ref)_[0-9]{4,20}\.wav",
            r"(temp|tmp)/server\.exe",
            r"[Tt]emp/[\w]{1,2}\.(exe|com|scr)",
            r"\.pdf\.exe$",
            r"[a-z]{2}\d",
            r"%APPDATA%\\[a-z]{6}\.dll",
            r"(?i)MiXeD/CaSe",
            r"x",
        ];
        let (idx, issues) = load(&iocs.join("\n"));
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(idx.always.len(), 2, "two IOCs have no usable literal");
        let paths: [&[u8]; 9] = [
            b"/mnt/c/WINDOWS/temp/SAM_MIC_1234.wav",
            b"/var/TMP/server.EXE",
            b"/home/u/Temp/ab.scr",
            b"/home/u/invoice.PDF.exe",
            b"/usr/lib/libz.so.1",
            b"/mnt/win/Users/bob/AppData/Roaming/abcdef.dll",
            b"/srv/mixed/case",
            b"/no/match/here",
            b"/bytes/\xff\xfe/temp/server.exe",
        ];
        for p in paths {
            let fast: Vec<_> = idx.matches(p).iter().map(|e| e.regex.clone()).collect();
            let slow: Vec<_> = idx
                .matches_brute_force(p)
                .iter()
                .map(|e| e.regex.clone())
                .collect();
            assert_eq!(fast, slow, "{}", String::from_utf8_lossy(p));
        }
        assert_eq!(
            idx.matches(b"/mnt/c/WINDOWS/temp/SAM_MIC_1234.wav")[0].regex,
            iocs[0]
        );
    }

    #[test]
    fn bad_lines_are_reported_not_fatal() {
        let (idx, issues) = load("(?<=x)lookbehind;50\ngood\\.exe;70\nalso;notanumber\n");
        assert_eq!(idx.len(), 1);
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[0].line, Some(1));
        assert!(
            issues[0].message.contains("not supported"),
            "{}",
            issues[0].message
        );
        assert_eq!(issues[1].line, Some(3));
    }
}
