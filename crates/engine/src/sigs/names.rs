//! File-name IOCs in the Loki format: `regex;score;false-positive-regex`.
//!
//! All regexes are matched at once as one [`RegexSet`] against the full
//! path, case-insensitively, as Loki does. Paths are matched as bytes (a
//! Unix path need not be UTF-8) with ASCII case folding, which is what
//! Windows path IOCs need and keeps the automaton small. The IOCs are written for Windows
//! (`\\Windows\\Temp\\...`, `%APPDATA%`), so, like Loki on Unix, escaped
//! backslashes become `/` and drive letters are dropped; unlike Loki, the
//! common `%VAR%` folders become patterns, so a mounted Windows disk scanned
//! from Linux is still covered. A `#` comment line describes the IOCs that
//! follow it and becomes their detection name.

use super::{SigIssue, SourceId};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// Score of an IOC line that gives none.
pub const DEFAULT_NAME_SCORE: u32 = 60;

/// Compiled size limit per regex and for the set; hostile or huge IOC feeds
/// fail to load (reported) instead of exhausting memory.
const REGEX_SIZE_LIMIT: usize = 64 << 20;
const SET_SIZE_LIMIT: usize = 512 << 20;

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
}

/// The loaded name IOCs.
#[derive(Debug, Default)]
pub struct NameIndex {
    set: Option<RegexSet>,
    entries: Vec<NameEntry>,
    pending: Vec<String>,
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
    /// does not.
    pub fn matches<'a>(&'a self, path: &'a [u8]) -> impl Iterator<Item = &'a NameEntry> + 'a {
        let hits = match &self.set {
            Some(set) => set.matches(path).into_iter().collect::<Vec<_>>(),
            None => Vec::new(),
        };
        hits.into_iter()
            .map(move |i| &self.entries[i])
            .filter(move |e| {
                !e.false_positive
                    .as_ref()
                    .is_some_and(|fp| fp.is_match(path))
            })
    }

    /// Compiles the set; called once after all files are parsed.
    pub fn finish(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let set = RegexSetBuilder::new(&self.pending)
            .case_insensitive(true)
            .unicode(false)
            .size_limit(SET_SIZE_LIMIT)
            .dfa_size_limit(SET_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("name IOCs do not fit in one regex set: {e}"))?;
        self.set = Some(set);
        self.pending = Vec::new();
        Ok(())
    }

    fn push(&mut self, pattern: String, entry: NameEntry) {
        self.pending.push(pattern);
        self.entries.push(entry);
    }
}

/// Checks that `pattern` parses as the set will parse it, without
/// compiling it: compiling thousands of IOCs one by one costs seconds at
/// every start, parsing costs milliseconds.
fn validate(pattern: &str) -> Result<(), String> {
    regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map(drop)
        .map_err(|e| not_supported(pattern, &e.to_string()))
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
        if let Err(reason) = validate(&pattern) {
            issues.push(SigIssue::line(file, n + 1, reason));
            continue;
        }
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
            NameEntry {
                name,
                score,
                regex: regex_text,
                false_positive,
                source,
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
        let hit: Vec<_> = idx.matches(b"/mnt/c/Windows/TEMP/abcdefgh.exe").collect();
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].name, "Nymaim dropper");
        assert_eq!(hit[0].score, 80);
        assert_eq!(
            idx.matches(b"/mnt/c/Windows/Temp/safeabcd.exe").count(),
            0,
            "false positive regex applies"
        );
        let other: Vec<_> = idx.matches(b"/home/u/xyz.bin").collect();
        assert_eq!(other[0].score, DEFAULT_NAME_SCORE);
        assert_eq!(other[0].name, "Other");
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
