//! `takedown sigs ...`: signature files without scanning.
//!
//! `check` loads through the engine's own loader ([`SignatureSet::load_all`],
//! the code path of `scan -s`), so what it says loads is what a scan loads;
//! this module only groups the result by file and prints it.

use crate::args::{ReportFormat, SigsArgs, SigsCheckArgs, SigsCommand};
use std::io::Write;
use takedown_engine::sanitize::for_terminal;
use takedown_engine::sigs::{LoadOptions, SigIssue, SignatureSet, SourceInfo, SourceKind};

pub fn run(a: SigsArgs) -> anyhow::Result<u8> {
    match a.command {
        SigsCommand::Check(a) => check(a),
        SigsCommand::Keygen(a) => crate::bundle::keygen(a),
        SigsCommand::Bundle(a) => crate::bundle::bundle(a),
        SigsCommand::Verify(a) => crate::bundle::verify(a),
    }
}

/// Exit status of `sigs check`.
mod exit {
    /// Everything loaded.
    pub const LOADED: u8 = 0;
    /// Something was skipped.
    pub const SKIPPED: u8 = 1;
    /// Nothing loaded, or skipped under --strict (paths that cannot be
    /// read are errors, 2 too, from `main`).
    pub const ERROR: u8 = 2;
}

fn check(a: SigsCheckArgs) -> anyhow::Result<u8> {
    let cache_dir = if a.no_cache {
        None
    } else {
        a.cache_dir.or_else(crate::args::default_cache_dir)
    };
    let set = SignatureSet::load_all(&LoadOptions {
        paths: a.paths,
        builtin: false,
        strict: false,
        cache_dir,
        rescan_copies: true,
    })?;
    let report = Report::of(&set);
    let mut out = std::io::stdout().lock();
    match a.format {
        ReportFormat::Text => report.text(&mut out)?,
        ReportFormat::Json => {
            serde_json::to_writer(&mut out, &report.json())?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(if set.is_empty() {
        if a.format == ReportFormat::Text {
            eprintln!("takedown: error: no signatures loaded");
        }
        exit::ERROR
    } else if set.issues.iter().all(|i| i.notice) {
        // Revoked, expired and not-for-detection indicators are listed,
        // but they are not faults of the set.
        exit::LOADED
    } else if a.strict {
        exit::ERROR
    } else {
        exit::SKIPPED
    })
}

/// What loaded, grouped by file.
struct Report<'a> {
    set: &'a SignatureSet,
    /// Each source with its issues, in load order.
    sources: Vec<(&'a SourceInfo, Vec<&'a SigIssue>)>,
    /// Issues of files that did not load at all (unreadable) or of no file.
    others: Vec<&'a SigIssue>,
}

impl<'a> Report<'a> {
    fn of(set: &'a SignatureSet) -> Report<'a> {
        let mut sources: Vec<(&SourceInfo, Vec<&SigIssue>)> =
            set.sources.iter().map(|s| (s, Vec::new())).collect();
        let index: std::collections::HashMap<&str, usize> = set
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| (s.path.as_str(), i))
            .collect();
        let mut others = Vec::new();
        for issue in &set.issues {
            match index.get(issue.file.as_str()) {
                Some(&i) => sources[i].1.push(issue),
                None => others.push(issue),
            }
        }
        Report {
            set,
            sources,
            others,
        }
    }

    /// Entries loaded per class: YARA rules, hash IOCs, name IOCs,
    /// allow-listed hashes, ClamAV signatures, ClamAV ignore-list names,
    /// STIX/MISP indicators.
    fn totals(&self) -> [usize; 7] {
        let mut t = [0; 7];
        for (s, _) in &self.sources {
            t[class(s.kind)] += s.entries;
        }
        t
    }

    fn unsupported(&self) -> usize {
        self.set.issues.iter().filter(|i| i.unsupported).count()
    }

    /// Indicators not used that are no fault of the set: revoked,
    /// expired, not for detection.
    fn notices(&self) -> usize {
        self.set.issues.iter().filter(|i| i.notice).count()
    }

    /// Indicators loaded per kind over every STIX and MISP source.
    fn indicator_kinds(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let mut m = std::collections::BTreeMap::new();
        for (s, _) in &self.sources {
            for (k, n) in s.intel.iter().flat_map(|i| &i.loaded) {
                *m.entry(*k).or_default() += n;
            }
        }
        m
    }

    fn text(&self, out: &mut impl Write) -> std::io::Result<()> {
        for (source, issues) in &self.sources {
            write!(
                out,
                "{}: {}, {} loaded",
                for_terminal(&source.path),
                source.kind.name(),
                count(source.entries, noun(source.kind))
            )?;
            if let Some(intel) = source.intel.as_ref().filter(|i| !i.loaded.is_empty()) {
                write!(out, " ({})", list(&intel.loaded))?;
            }
            if !issues.is_empty() {
                write!(out, ", {} skipped", issues.len())?;
            }
            if let Some(intel) = &source.intel {
                if !intel.skipped.is_empty() {
                    write!(out, " ({})", list(&intel.skipped))?;
                }
                if !intel.ignored_objects.is_empty() {
                    let n: u64 = intel.ignored_objects.values().sum();
                    write!(
                        out,
                        "; {} without indicators kept out ({})",
                        count(n as usize, ("object", "objects")),
                        list(&intel.ignored_objects)
                    )?;
                }
            }
            writeln!(out)?;
            for issue in issues {
                write!(out, "  ")?;
                match issue.line {
                    Some(l) => write!(out, "line {l}: ")?,
                    None => write!(out, "file: ")?,
                }
                if let Some(rule) = &issue.rule {
                    let what = if is_intel(source.kind) {
                        "object"
                    } else {
                        "rule"
                    };
                    write!(out, "{what} `{}`: ", for_terminal(rule))?;
                }
                if issue.unsupported {
                    write!(out, "unsupported: ")?;
                }
                writeln!(out, "{}", issue.message)?;
            }
        }
        for issue in &self.others {
            writeln!(out, "not loaded: {issue}")?;
        }
        for path in &self.set.ignored {
            writeln!(out, "ignored, not a signature file: {}", for_terminal(path))?;
        }
        if !self.set.intel.network.is_empty() {
            // Kept for hunting, blocklists and notices; a scan of files
            // does not use them.
            writeln!(
                out,
                "\nnetwork indicators ({}), not used to scan files:",
                self.set.intel.network.len()
            )?;
            for i in &self.set.intel.network {
                write!(out, "  {} {}", i.kind, for_terminal(&i.value))?;
                if let Some(f) = &i.family {
                    write!(out, " family={}", for_terminal(f))?;
                }
                if let Some(t) = i.tlp {
                    write!(out, " {t}")?;
                }
                if let Some(id) = &i.provenance.object_id {
                    write!(out, " id={}", for_terminal(id))?;
                }
                writeln!(out, " ({})", for_terminal(&i.provenance.source))?;
            }
        }
        let [rules, hashes, names, allow, clamav, ignore, indicators] = self.totals();
        writeln!(out)?;
        writeln!(
            out,
            "files: {} loaded, {} not signature files",
            self.sources.len(),
            self.set.ignored.len()
        )?;
        write!(
            out,
            "loaded: {}, {}, {}, {}",
            count(rules, ("YARA rule", "YARA rules")),
            count(hashes, ("hash IOC", "hash IOCs")),
            count(names, ("name IOC", "name IOCs")),
            count(allow, ("allow-listed hash", "allow-listed hashes")),
        )?;
        // ClamAV counts only when ClamAV databases were given.
        if clamav + ignore > 0 {
            write!(
                out,
                ", {}, {}",
                count(clamav, ("ClamAV signature", "ClamAV signatures")),
                count(
                    ignore,
                    ("ignored signature name", "ignored signature names")
                ),
            )?;
        }
        // Indicators only when STIX or MISP sources were given.
        if indicators > 0 || self.sources.iter().any(|(s, _)| is_intel(s.kind)) {
            write!(
                out,
                ", {}",
                count(indicators, ("STIX/MISP indicator", "STIX/MISP indicators"))
            )?;
            let kinds = self.indicator_kinds();
            if !kinds.is_empty() {
                write!(out, " ({})", list(&kinds))?;
            }
        }
        writeln!(out)?;
        let notices = self.notices();
        write!(
            out,
            "skipped: {} ({} unsupported, {} invalid",
            self.set.issues.len(),
            self.unsupported(),
            self.set.issues.len() - self.unsupported() - notices
        )?;
        if notices > 0 {
            write!(out, ", {notices} revoked, expired or not for detection")?;
        }
        writeln!(out, ")")
    }

    fn json(&self) -> serde_json::Value {
        let [rules, hashes, names, allow, clamav, ignore, indicators] = self.totals();
        let mut v = serde_json::json!({
            "sources": self.sources.iter().map(|(s, issues)| {
                let mut o = serde_json::json!({
                    "path": s.path,
                    "kind": s.kind,
                    "entries": s.entries,
                    "issues": issues,
                });
                if let Some(intel) = &s.intel {
                    o["indicators"] = serde_json::json!(intel);
                }
                o
            }).collect::<Vec<_>>(),
            "not_loaded": self.others,
            "ignored": self.set.ignored,
            "totals": {
                "files": self.sources.len(),
                "ignored": self.set.ignored.len(),
                "yara_rules": rules,
                "hash_iocs": hashes,
                "name_iocs": names,
                "allow_listed": allow,
                "skipped": self.set.issues.len(),
                "unsupported": self.unsupported(),
            },
            "yara_from_cache": self.set.yara.as_ref().is_some_and(|y| y.from_cache),
        });
        if clamav + ignore > 0 {
            v["totals"]["clamav_signatures"] = clamav.into();
            v["totals"]["clamav_ignored_names"] = ignore.into();
        }
        if indicators > 0 || self.sources.iter().any(|(s, _)| is_intel(s.kind)) {
            v["totals"]["indicators"] = indicators.into();
            v["totals"]["indicator_kinds"] = serde_json::json!(self.indicator_kinds());
            v["totals"]["not_used_notices"] = self.notices().into();
            v["network"] = serde_json::json!(self.set.intel.network);
        }
        v
    }
}

/// Index into [`Report::totals`].
fn class(kind: SourceKind) -> usize {
    match kind {
        SourceKind::Yara => 0,
        SourceKind::LokiHashes | SourceKind::ClamavMd5 | SourceKind::ClamavSha => 1,
        SourceKind::LokiNames => 2,
        SourceKind::AllowMd5 | SourceKind::AllowSha | SourceKind::AllowLoki => 3,
        SourceKind::ClamavNdb
        | SourceKind::ClamavLdb
        | SourceKind::ClamavSections
        | SourceKind::ClamavContainer => 4,
        SourceKind::ClamavIgnore => 5,
        SourceKind::Stix | SourceKind::Misp | SourceKind::MispFeed => 6,
    }
}

fn is_intel(kind: SourceKind) -> bool {
    class(kind) == 6
}

/// `3 sha256, 2 domain`.
fn list<K: std::fmt::Display, V: std::fmt::Display>(
    m: &std::collections::BTreeMap<K, V>,
) -> String {
    m.iter()
        .map(|(k, v)| format!("{v} {}", for_terminal(&k.to_string())))
        .collect::<Vec<_>>()
        .join(", ")
}

fn noun(kind: SourceKind) -> (&'static str, &'static str) {
    match class(kind) {
        0 => ("rule", "rules"),
        1 => ("hash IOC", "hash IOCs"),
        2 => ("name IOC", "name IOCs"),
        3 => ("allow-listed hash", "allow-listed hashes"),
        4 => ("signature", "signatures"),
        5 => ("ignored name", "ignored names"),
        _ => ("indicator", "indicators"),
    }
}

fn count(n: usize, (one, many): (&str, &str)) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
