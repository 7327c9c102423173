//! Signature sets: loading, classifying and indexing every kind of
//! signature into one immutable [`SignatureSet`].
//!
//! A set is built once and then only read, so it is shared by `Arc` between
//! all scanning threads (and, in the service, swapped whole on reload).
//! Loading is tolerant: a bad line or a bad rule file becomes a
//! [`SigIssue`] naming file, line and reason, and everything else loads;
//! `strict` turns any issue into a [`LoadError`].

pub mod builtin;
pub mod hashes;
pub mod intel;
pub mod names;
pub mod yara;

use hashes::{HashIndex, HashIndexBuilder};
use names::NameIndex;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Index of a signature file in [`SignatureSet::sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceId(pub u32);

/// A problem with a signature file: it, one of its lines or one of its
/// YARA rules did not load.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigIssue {
    /// The signature file.
    pub file: String,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// The YARA rule skipped, when the problem is one rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why.
    pub message: String,
    /// The entry is valid but needs what this build does not have (a YARA
    /// module yara-x lacks): unsupported rather than invalid.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsupported: bool,
    /// Not a fault of the source: an indicator revoked, expired or marked
    /// not for detection by its producer. Listed by `sigs check`, counted
    /// by `scan`, never fatal under `--strict`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notice: bool,
    /// For an unsupported ClamAV line or database: the kind of construct
    /// (`PCRE subsignatures ...`, `bytecode signatures`), by which a scan
    /// summarises them ([`SignatureSet::unsupported_constructs`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub construct: Option<String>,
}

impl SigIssue {
    fn line(file: &str, line: usize, message: impl Into<String>) -> SigIssue {
        SigIssue {
            file: file.to_string(),
            line: Some(line),
            message: message.into(),
            ..Default::default()
        }
    }

    fn file(file: &str, message: impl Into<String>) -> SigIssue {
        SigIssue {
            file: file.to_string(),
            message: message.into(),
            ..Default::default()
        }
    }
}

impl std::fmt::Display for SigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", crate::sanitize::for_terminal(&self.file))?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(rule) = &self.rule {
            // STIX objects (`indicator--<uuid>`) and MISP attributes (a
            // bare UUID) are objects, not YARA rules.
            let what =
                if rule.contains("--") || (rule.len() == 36 && rule.matches('-').count() == 4) {
                    "object"
                } else {
                    "rule"
                };
            write!(f, ": {what} `{}`", crate::sanitize::for_terminal(rule))?;
        }
        write!(f, ": {}", self.message)
    }
}

/// One kind of unsupported construct over a signature set.
#[derive(Clone, Debug)]
pub struct ConstructSummary<'a> {
    /// What kind (`PCRE subsignatures the regex engine cannot express`).
    pub construct: &'a str,
    /// Signatures skipped for it.
    pub signatures: usize,
    /// Issues folded into this summary (a database skipped whole is one).
    pub issues: usize,
    /// The first of them, for its file and line.
    pub first: &'a SigIssue,
}

impl std::fmt::Display for ConstructSummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unsupported ClamAV {}: {} skipped, first at {}",
            self.construct,
            match self.signatures {
                1 => "1 signature".to_string(),
                n => format!("{n} signatures"),
            },
            crate::sanitize::for_terminal(&self.first.file)
        )?;
        if let Some(l) = self.first.line {
            write!(f, ":{l}")?;
        }
        Ok(())
    }
}

/// What a signature file holds, decided from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// `.yar`, `.yara`.
    Yara,
    /// Loki `*hash*` file.
    LokiHashes,
    /// ClamAV `.hdb` (`.hdu`).
    ClamavMd5,
    /// ClamAV `.hsb` (`.hsu`).
    ClamavSha,
    /// Loki `*filename*` file.
    LokiNames,
    /// ClamAV `.fp` allow-list (MD5).
    AllowMd5,
    /// ClamAV `.sfp` allow-list (SHA-1/SHA-256).
    AllowSha,
    /// Loki `*falsepositive*hash*` allow-list.
    AllowLoki,
    /// ClamAV `.ndb` (`.ndu`) body signatures.
    ClamavNdb,
    /// ClamAV `.ldb` (`.ldu`) logical signatures.
    ClamavLdb,
    /// ClamAV `.mdb`/`.msb` (`.mdu`/`.msu`) PE section hashes.
    ClamavSections,
    /// ClamAV `.ign2` (and old `.ign`) lists of signature names to ignore.
    ClamavIgnore,
    /// ClamAV `.cvd`/`.cld`/`.cud` container; its members are listed as
    /// sources of their own (`daily.cvd:daily.ndb`).
    ClamavContainer,
    /// A STIX 2.1 bundle (`.json`, recognised by content).
    Stix,
    /// A MISP event, a list of events or a REST answer (`.json`,
    /// recognised by content).
    Misp,
    /// A MISP feed directory (`manifest.json` and `<uuid>.json` events).
    MispFeed,
}

impl SourceKind {
    /// Classifies a signature file by its name, as Loki and ClamAV do;
    /// `None` for files that are none of ours (README, LICENSE, ...).
    pub fn classify(path: &Path) -> Option<SourceKind> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "yar" | "yara" => return Some(SourceKind::Yara),
            "hdb" | "hdu" => return Some(SourceKind::ClamavMd5),
            "hsb" | "hsu" => return Some(SourceKind::ClamavSha),
            "fp" => return Some(SourceKind::AllowMd5),
            "sfp" => return Some(SourceKind::AllowSha),
            "ndb" | "ndu" => return Some(SourceKind::ClamavNdb),
            "ldb" | "ldu" => return Some(SourceKind::ClamavLdb),
            "mdb" | "mdu" | "msb" | "msu" => return Some(SourceKind::ClamavSections),
            "ign2" | "ign" => return Some(SourceKind::ClamavIgnore),
            "cvd" | "cld" | "cud" => return Some(SourceKind::ClamavContainer),
            _ => {}
        }
        // Loki's IOC files are `.txt` (or have no extension); a rule
        // repository's `dumping_hashes.toml` or `icedid_hashes.csv` is not
        // one, and reading it as one reports every line as bad.
        if !matches!(ext.as_str(), "" | "txt") {
            return None;
        }
        let falsepositive = ["falsepositive", "false-positive", "false_positive"]
            .iter()
            .any(|w| name.contains(w));
        if name.contains("hash") {
            return Some(if falsepositive {
                SourceKind::AllowLoki
            } else {
                SourceKind::LokiHashes
            });
        }
        if name.contains("filename") && !falsepositive {
            return Some(SourceKind::LokiNames);
        }
        None
    }

    /// The kind as in JSON output (`loki-hashes`, `stix`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Classifies a `.json` file by its content: a STIX 2.1 bundle or a
    /// MISP event; `None` for other JSON (and for anything unreadable,
    /// which loading then reports).
    pub fn sniff(path: &Path) -> Option<SourceKind> {
        use std::io::Read;
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        if ext != "json" {
            return None;
        }
        let (file, _) = open_signature_file(path).ok()?;
        let mut prefix = Vec::with_capacity(SNIFF_LEN);
        file.take(SNIFF_LEN as u64).read_to_end(&mut prefix).ok()?;
        match takedown_intel::json::sniff(&prefix)? {
            takedown_intel::json::Format::Stix => Some(SourceKind::Stix),
            takedown_intel::json::Format::Misp => Some(SourceKind::Misp),
        }
    }

    /// The ClamAV crate's kind for a ClamAV database (`name` gives the
    /// container flavour and tells `.ign` from `.ign2`).
    fn clamav(self, name: &str) -> Option<takedown_clamav::Kind> {
        use takedown_clamav::Kind;
        let from_name = Kind::from_name(name);
        match self {
            SourceKind::ClamavNdb => Some(Kind::Ndb),
            SourceKind::ClamavLdb => Some(Kind::Ldb),
            SourceKind::ClamavSections => from_name.filter(|k| matches!(k, Kind::Mdb | Kind::Msb)),
            SourceKind::ClamavIgnore => from_name.filter(|k| matches!(k, Kind::Ign | Kind::Ign2)),
            SourceKind::ClamavContainer => from_name.filter(|k| matches!(k, Kind::Container(_))),
            _ => None,
        }
    }
}

/// One loaded signature file.
#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo {
    /// Path, or `builtin:...`.
    pub path: String,
    /// Its kind.
    pub kind: SourceKind,
    /// Rules or IOCs loaded from it.
    pub entries: usize,
    /// Valid signatures it holds that this engine does not support, skipped
    /// (ClamAV databases; each is also an issue).
    pub unsupported: usize,
    /// For STIX and MISP sources: indicators per kind, skipped per class,
    /// objects kept out per type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intel: Option<intel::IntelCounts>,
}

/// What to load.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Files and directories given with `-s`.
    pub paths: Vec<PathBuf>,
    /// Include the built-in pack.
    pub builtin: bool,
    /// Any issue is fatal.
    pub strict: bool,
    /// Where compiled YARA rules are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Run every YARA rule on every copy of the same content, instead of
    /// reusing the results of rules that read only content (see
    /// [`crate::copies`]).
    pub rescan_copies: bool,
}

/// Why a set could not be built at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path given explicitly does not exist or cannot be read.
    #[error("cannot read signatures {}: {reason}", crate::sanitize::path_for_terminal(.path))]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `strict` and at least one issue.
    #[error("{} signature problem(s) and --strict is set; first: {}", .0.len(), .0[0])]
    Strict(Vec<SigIssue>),
    /// Nothing loaded at all; the issues say why (they are what a user
    /// needs most then, so they travel with the error).
    #[error("no signatures loaded (all sources empty or invalid, and the built-in pack is off)")]
    Empty(Vec<SigIssue>),
}

/// Every loaded signature, immutable and shared by all scanning threads.
pub struct SignatureSet {
    /// Compiled YARA rules, if any.
    pub yara: Option<yara::YaraRules>,
    /// Hash IOCs.
    pub hashes: HashIndex,
    /// File-name IOCs.
    pub names: NameIndex,
    /// Allow-listed digests: a file matching one is never reported.
    pub allow: HashIndex,
    /// ClamAV body, logical and section-hash signatures, and `.ign2` names
    /// (which also silence hash IOCs of those names); `None` when no
    /// ClamAV database was loaded.
    pub clamav: Option<takedown_clamav::Signatures>,
    /// Loaded files, indexed by [`SourceId`].
    pub sources: Vec<SourceInfo>,
    /// Everything that did not load.
    pub issues: Vec<SigIssue>,
    /// Indicators from STIX and MISP sources: the network side, and what
    /// detections from them say about their origin.
    pub intel: intel::IntelIndex,
    /// Files found in the directories given that are no signature files
    /// (README, LICENSE, formats not loaded), in the order found.
    pub ignored: Vec<String>,
    /// How long loading took.
    pub load_time: std::time::Duration,
}

impl SignatureSet {
    /// Loads everything `opts` names; with `strict`, any issue is an error,
    /// and a set with no signatures at all is one.
    pub fn load(opts: &LoadOptions) -> Result<SignatureSet, LoadError> {
        let set = SignatureSet::load_all(opts)?;
        if opts.strict && set.issues.iter().any(|i| !i.notice) {
            return Err(LoadError::Strict(
                set.issues.into_iter().filter(|i| !i.notice).collect(),
            ));
        }
        if set.is_empty() {
            return Err(LoadError::Empty(set.issues));
        }
        Ok(set)
    }

    /// Loads everything `opts` names, whatever the issues (`strict` is not
    /// applied) and even when nothing loads: what `takedown sigs check`
    /// reports. Fails only on a path that cannot be read.
    pub fn load_all(opts: &LoadOptions) -> Result<SignatureSet, LoadError> {
        let started = std::time::Instant::now();
        let mut files: Vec<(PathBuf, SourceKind)> = Vec::new();
        let mut issues = Vec::new();
        let mut ignored = Vec::new();
        for root in &opts.paths {
            collect(root, &mut files, &mut ignored, &mut issues)?;
        }
        let mut set = SignatureSet {
            yara: None,
            hashes: HashIndex::default(),
            names: NameIndex::default(),
            allow: HashIndex::default(),
            clamav: None,
            sources: Vec::new(),
            issues: Vec::new(),
            intel: intel::IntelIndex::default(),
            ignored,
            load_time: Default::default(),
        };
        let mut yara_sources = Vec::new();
        let mut ld = Loading::default();
        if opts.builtin {
            let id = set.add_source(builtin::YARA_ORIGIN.to_string(), SourceKind::Yara);
            yara_sources.push(yara::YaraSource {
                id,
                origin: builtin::YARA_ORIGIN.to_string(),
                code: builtin::YARA.as_bytes().to_vec(),
            });
            set.load_list(
                builtin::HSB_ORIGIN,
                builtin::HSB.as_bytes(),
                SourceKind::ClamavSha,
                &mut ld,
                &mut issues,
            );
        }
        // Canonical paths of the files to load, built on the first
        // `include`: an included file already on the list is not loaded
        // twice, and include cycles end.
        let mut known: Option<std::collections::HashSet<PathBuf>> = None;
        let mut next = 0;
        while let Some((path, kind)) = files.get(next).cloned() {
            next += 1;
            let origin = path.to_string_lossy().into_owned();
            if matches!(
                kind,
                SourceKind::Stix | SourceKind::Misp | SourceKind::MispFeed
            ) {
                set.load_intel(
                    &path,
                    &origin,
                    kind,
                    &mut ld,
                    &mut yara_sources,
                    &mut issues,
                );
                continue;
            }
            if kind.is_hash_list() {
                // Hash lists can be hundreds of MB (millions of IOCs): parsed
                // as they are read, never held whole.
                match open_limited(&path) {
                    Ok(r) => set.load_list(&origin, r, kind, &mut ld, &mut issues),
                    Err(e) => issues.push(SigIssue::file(&origin, format!("cannot read: {e}"))),
                }
                continue;
            }
            let bytes = match read_limited(&path) {
                Ok(b) => b,
                Err(e) => {
                    issues.push(SigIssue::file(&origin, format!("cannot read: {e}")));
                    continue;
                }
            };
            if kind == SourceKind::Yara {
                let (code, includes) = yara::prepare(bytes);
                for inc in includes {
                    let known = known.get_or_insert_with(|| {
                        files
                            .iter()
                            .filter_map(|(p, _)| p.canonicalize().ok())
                            .collect()
                    });
                    match yara::resolve_include(&path, &inc.target) {
                        Ok(target) => {
                            if known.insert(target.clone()) {
                                files.push((target, SourceKind::Yara));
                            }
                        }
                        Err(reason) => issues.push(SigIssue::line(
                            &origin,
                            inc.line,
                            format!(
                                "include \"{}\" not followed: {reason}",
                                crate::sanitize::for_terminal(&inc.target)
                            ),
                        )),
                    }
                }
                if let Some((line, _)) = yara::too_deep(&code) {
                    // Compiling it could overflow the stack: a crash, not
                    // an error, so it never reaches yara-x.
                    issues.push(SigIssue::line(
                        &origin,
                        line,
                        format!(
                            "nested more than {} levels deep: file refused, since compiling it could exhaust the stack",
                            yara::MAX_NESTING
                        ),
                    ));
                    continue;
                }
                let id = set.add_source(origin.clone(), kind);
                yara_sources.push(yara::YaraSource { id, origin, code });
                continue;
            }
            if let Some(ck) = kind.clamav(&origin) {
                set.load_clamav(&origin, ck, &bytes, &mut ld, &mut issues);
                continue;
            }
            set.load_list(&origin, &bytes[..], kind, &mut ld, &mut issues);
        }
        let phase = std::time::Instant::now();
        set.hashes = ld.hashes.finish();
        set.allow = ld.allow.finish();
        tracing::info!(
            "hash IOCs indexed in {:.3}s ({} MB)",
            phase.elapsed().as_secs_f64(),
            (set.hashes.heap_bytes() + set.allow.heap_bytes()) >> 20
        );
        if let Some(db) = ld.clamav.take() {
            let phase = std::time::Instant::now();
            let sigs = db.finish();
            let st = sigs.stats();
            tracing::info!(
                "ClamAV signatures compiled in {:.3}s: {} body, {} logical, {} section hashes, {} ignored; {} anchored, {} at a fixed offset, {} slow",
                phase.elapsed().as_secs_f64(),
                st.body,
                st.logical,
                st.section_hashes,
                st.ignored,
                st.anchored,
                st.direct,
                st.slow
            );
            set.clamav = Some(sigs);
        }
        tracing::info!(
            "read {} signature files in {:.3}s",
            set.sources.len(),
            started.elapsed().as_secs_f64()
        );
        let phase = std::time::Instant::now();
        set.yara = yara::compile(&yara_sources, opts.cache_dir.as_deref(), &mut issues);
        if let Some(y) = set.yara.as_mut() {
            y.prepare(
                &yara_sources,
                opts.cache_dir.as_deref(),
                !opts.rescan_copies,
            );
        }
        tracing::info!(
            "YARA rules ready in {:.3}s{}",
            phase.elapsed().as_secs_f64(),
            if set.yara.as_ref().is_some_and(|y| y.from_cache) {
                " (from cache)"
            } else {
                ""
            }
        );
        let phase = std::time::Instant::now();
        if let Some(y) = &set.yara {
            for (id, count) in y.namespaces.iter().zip(&y.rule_counts) {
                set.sources[id.0 as usize].entries = *count;
            }
        }
        let finished = set.names.finish();
        tracing::info!(
            "name IOCs compiled in {:.3}s",
            phase.elapsed().as_secs_f64()
        );
        if let Err(reason) = finished {
            issues.push(SigIssue::file("name IOCs", reason));
            set.names = NameIndex::default();
        }
        set.issues = issues;
        set.load_time = started.elapsed();
        Ok(set)
    }

    /// The loaded files as a run's summary names them.
    pub fn source_refs(&self) -> Vec<crate::finding::SourceRef> {
        self.sources
            .iter()
            .map(|s| crate::finding::SourceRef {
                path: s.path.clone(),
                kind: s.kind.name(),
                entries: s.entries as u64,
            })
            .collect()
    }

    /// The issues that are problems of the set: every issue but the
    /// notices (revoked, expired, not-for-detection indicators).
    pub fn problems(&self) -> impl Iterator<Item = &SigIssue> {
        self.issues.iter().filter(|i| !i.notice)
    }

    /// The unsupported constructs of ClamAV databases, one entry per kind
    /// in the order first met: a real database holds hundreds of lines
    /// this engine skips, which say more as a count per kind than one
    /// warning each. The issues themselves stay in [`Self::issues`].
    pub fn unsupported_constructs(&self) -> Vec<ConstructSummary<'_>> {
        let mut out: Vec<ConstructSummary<'_>> = Vec::new();
        for issue in self.problems() {
            let Some(construct) = issue.construct.as_deref() else {
                continue;
            };
            // A database skipped whole counts its signatures.
            let signatures = match issue.line {
                Some(_) => 1,
                None => self
                    .sources
                    .iter()
                    .find(|s| s.path == issue.file)
                    .map_or(1, |s| s.unsupported.max(1)),
            };
            match out.iter_mut().find(|s| s.construct == construct) {
                Some(s) => {
                    s.signatures += signatures;
                    s.issues += 1;
                }
                None => out.push(ConstructSummary {
                    construct,
                    signatures,
                    issues: 1,
                    first: issue,
                }),
            }
        }
        out
    }

    /// Number of notices: indicators not used by their producer's word
    /// or because they expired.
    pub fn notices(&self) -> usize {
        self.issues.iter().filter(|i| i.notice).count()
    }

    /// True when no signature at all loaded.
    pub fn is_empty(&self) -> bool {
        self.yara_rule_count() == 0
            && self.hashes.is_empty()
            && self.names.is_empty()
            && self.clamav_signatures().is_none()
            && self.intel.network.is_empty()
    }

    fn add_source(&mut self, path: String, kind: SourceKind) -> SourceId {
        self.sources.push(SourceInfo {
            path,
            kind,
            entries: 0,
            unsupported: 0,
            intel: None,
        });
        SourceId(self.sources.len() as u32 - 1)
    }

    /// Loads a hash list or a name-IOC file, read line by line.
    fn load_list(
        &mut self,
        origin: &str,
        reader: impl std::io::BufRead,
        kind: SourceKind,
        ld: &mut Loading,
        issues: &mut Vec<SigIssue>,
    ) {
        let id = self.add_source(origin.to_string(), kind);
        let n = match kind {
            SourceKind::LokiHashes => {
                hashes::parse_loki(reader, id, origin, &mut ld.hashes, issues)
            }
            SourceKind::ClamavMd5 => {
                hashes::parse_clamav(reader, id, origin, &mut ld.hashes, issues)
            }
            SourceKind::ClamavSha => {
                hashes::parse_clamav(reader, id, origin, &mut ld.hashes, issues)
            }
            SourceKind::LokiNames => {
                // Name IOC files are small; IOC files are text, and stray
                // invalid bytes cost one line, not the whole feed.
                let mut bytes = Vec::new();
                let mut reader = reader;
                if let Err(e) = reader.read_to_end(&mut bytes) {
                    issues.push(SigIssue::file(origin, format!("cannot read: {e}")));
                }
                let text = String::from_utf8_lossy(&bytes);
                names::parse_loki(&text, id, origin, &mut self.names, issues)
            }
            SourceKind::AllowMd5 => hashes::parse_clamav(reader, id, origin, &mut ld.allow, issues),
            SourceKind::AllowSha => hashes::parse_clamav(reader, id, origin, &mut ld.allow, issues),
            SourceKind::AllowLoki => hashes::parse_loki(reader, id, origin, &mut ld.allow, issues),
            SourceKind::Yara
            | SourceKind::ClamavNdb
            | SourceKind::ClamavLdb
            | SourceKind::ClamavSections
            | SourceKind::ClamavIgnore
            | SourceKind::ClamavContainer
            | SourceKind::Stix
            | SourceKind::Misp
            | SourceKind::MispFeed => {
                unreachable!("YARA, ClamAV databases, STIX and MISP are not line lists")
            }
        };
        self.sources[id.0 as usize].entries = n;
    }

    /// Loads a ClamAV database; a container's members each become a source
    /// (hash lists among them go to the hash index).
    fn load_clamav(
        &mut self,
        origin: &str,
        kind: takedown_clamav::Kind,
        bytes: &[u8],
        ld: &mut Loading,
        issues: &mut Vec<SigIssue>,
    ) {
        use takedown_clamav::Kind;
        let Kind::Container(flavour) = kind else {
            let report = ld.clamav.get_or_insert_default().load(origin, kind, bytes);
            let source_kind =
                SourceKind::classify(Path::new(origin)).unwrap_or(SourceKind::ClamavNdb);
            let id = self.add_source(origin.to_string(), source_kind);
            self.clamav_report(id, origin, &report, issues);
            return;
        };
        let container = match takedown_clamav::cvd::unpack(bytes, flavour) {
            Ok(c) => c,
            Err(e) => {
                issues.push(SigIssue::file(origin, format!("not loaded: {e}")));
                return;
            }
        };
        tracing::info!(
            "{}: version {}, {:?}",
            crate::sanitize::for_terminal(origin),
            container.header.version,
            container.integrity
        );
        for (member, data) in &container.members {
            let name = format!("{origin}:{member}");
            match SourceKind::classify(Path::new(member)) {
                Some(
                    k @ (SourceKind::ClamavMd5
                    | SourceKind::ClamavSha
                    | SourceKind::AllowMd5
                    | SourceKind::AllowSha),
                ) => self.load_list(&name, &data[..], k, ld, issues),
                Some(SourceKind::ClamavContainer) => issues.push(SigIssue::file(
                    &name,
                    "a container inside a container; not loaded",
                )),
                Some(k) if k.clamav(member).is_some() => {
                    if let Some(ck) = k.clamav(member) {
                        let report = ld.clamav.get_or_insert_default().load(&name, ck, data);
                        let id = self.add_source(name.clone(), k);
                        self.clamav_report(id, &name, &report, issues);
                    }
                }
                // The member list (checked by unpack) and engine settings.
                _ if member.ends_with(".info") || member.ends_with(".cfg") => {}
                _ => {
                    // A database kind this engine does not read (phishing
                    // URLs, icons, certificates, ...): counted, not silent.
                    // A bytecode member is one signature over many lines.
                    let lines = if member.to_ascii_lowercase().ends_with(".cbc") {
                        1
                    } else {
                        data.split(|b| *b == b'\n')
                            .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
                            .count()
                    };
                    let id = self.add_source(name.clone(), SourceKind::ClamavContainer);
                    self.sources[id.0 as usize].unsupported = lines;
                    issues.push(SigIssue {
                        construct: Some(
                            takedown_clamav::unsupported::database_construct(member).to_string(),
                        ),
                        ..SigIssue::file(
                            &name,
                            format!(
                                "unsupported: database kind not supported; {lines} signatures skipped"
                            ),
                        )
                    });
                }
            }
        }
    }

    /// Loads a STIX bundle, a MISP event file or a MISP feed directory.
    fn load_intel(
        &mut self,
        path: &Path,
        origin: &str,
        kind: SourceKind,
        ld: &mut Loading,
        yara_sources: &mut Vec<yara::YaraSource>,
        issues: &mut Vec<SigIssue>,
    ) {
        let opts = takedown_intel::ReadOptions::new(origin);
        let read = match kind {
            SourceKind::MispFeed => takedown_intel::misp::feed::read_feed(path, &opts),
            _ => open_limited(path)
                .map_err(takedown_intel::ReadError::Io)
                .and_then(|r| takedown_intel::json::read(r, &opts).map(|(_, l)| l)),
        };
        let id = self.add_source(origin.to_string(), kind);
        let loaded = match read {
            Ok(l) => l,
            Err(e) => {
                issues.push(SigIssue::file(origin, format!("not loaded: {e}")));
                return;
            }
        };
        /// Where the indicators of the source go.
        struct Target<'a> {
            set: &'a mut SignatureSet,
            hashes: &'a mut HashIndexBuilder,
            yara: &'a mut Vec<yara::YaraSource>,
        }
        impl intel::Sink for Target<'_> {
            fn hash(
                &mut self,
                ind: &takedown_intel::Indicator,
                source: SourceId,
            ) -> Result<(), String> {
                self.hashes
                    .insert_hex(&ind.value, ind.label(), ind.score, ind.size, source)
            }
            fn name(
                &mut self,
                ind: &takedown_intel::Indicator,
                source: SourceId,
            ) -> Result<(), String> {
                self.set
                    .names
                    .add_regex(&ind.value, ind.label(), ind.score, source)
            }
            fn yara(&mut self, ind: &takedown_intel::Indicator, origin: String) -> SourceId {
                let id = self.set.add_source(origin.clone(), SourceKind::Yara);
                self.yara.push(yara::YaraSource {
                    id,
                    origin,
                    code: ind.value.as_bytes().to_vec(),
                });
                id
            }
        }
        let mut intel_index = std::mem::take(&mut self.intel);
        let (counts, used) = intel::place(
            loaded,
            origin,
            id,
            &mut intel_index,
            &mut Target {
                set: self,
                hashes: &mut ld.hashes,
                yara: yara_sources,
            },
            issues,
        );
        self.intel = intel_index;
        let info = &mut self.sources[id.0 as usize];
        info.entries = used;
        info.unsupported = counts
            .skipped
            .get(takedown_intel::SkipClass::Unsupported.as_str())
            .copied()
            .unwrap_or(0);
        info.intel = Some(counts);
    }

    /// Records what loading one ClamAV database did.
    fn clamav_report(
        &mut self,
        id: SourceId,
        origin: &str,
        report: &takedown_clamav::LoadReport,
        issues: &mut Vec<SigIssue>,
    ) {
        let info = &mut self.sources[id.0 as usize];
        info.entries = report.loaded;
        info.unsupported = report.unsupported;
        if let Some(e) = &report.error {
            issues.push(SigIssue::file(origin, format!("not loaded: {e}")));
        }
        for i in &report.issues {
            issues.push(SigIssue {
                file: origin.to_string(),
                line: (i.line > 0).then_some(i.line),
                message: i.reason.clone(),
                unsupported: i.unsupported,
                construct: i
                    .unsupported
                    .then(|| takedown_clamav::unsupported::construct(&i.reason))
                    .flatten()
                    .map(str::to_string),
                ..Default::default()
            });
        }
        let unlisted = (report.unsupported + report.malformed).saturating_sub(report.issues.len());
        if unlisted > 0 {
            issues.push(SigIssue::file(
                origin,
                format!("{unlisted} more lines not loaded (not listed one by one)"),
            ));
        }
    }

    /// Display name of a source.
    pub fn source_name(&self, id: SourceId) -> &str {
        &self.sources[id.0 as usize].path
    }

    /// Number of YARA rules loaded.
    pub fn yara_rule_count(&self) -> usize {
        self.yara.as_ref().map_or(0, |y| y.rule_counts.iter().sum())
    }

    /// The ClamAV signatures, when there are any to match.
    pub fn clamav_signatures(&self) -> Option<&takedown_clamav::Signatures> {
        self.clamav.as_ref().filter(|c| !c.is_empty())
    }

    /// True when a hash IOC named `name` is silenced by a ClamAV `.ign2`
    /// entry (as ClamAV applies them to its hash databases too).
    pub fn ignored_by_name(&self, name: &str) -> bool {
        self.clamav
            .as_ref()
            .is_some_and(|c| c.ignored_names().contains(name))
    }

    /// True when content must be read for every file: YARA rules, or ClamAV
    /// body or logical signatures (which may match anywhere in anything).
    pub fn needs_content(&self) -> bool {
        self.yara_rule_count() > 0
            || self
                .clamav_signatures()
                .is_some_and(|c| c.stats().body + c.stats().logical > 0)
    }

    /// True when executables (PE, ELF) must be read whole: ClamAV section
    /// hashes need their sections.
    pub fn needs_executables(&self) -> bool {
        self.clamav_signatures()
            .is_some_and(|c| c.stats().section_hashes > 0)
    }

    /// One line on what was loaded, for logs and `--version`-like output.
    pub fn describe(&self) -> String {
        // ClamAV counts only when some ClamAV database was given, so the
        // line stays as it was for sets without one.
        let clamav = self.clamav.as_ref().map(|c| {
            let st = c.stats();
            let unsupported: usize = self.sources.iter().map(|s| s.unsupported).sum();
            format!(
                "{} ClamAV signatures{}, ",
                st.body + st.logical + st.section_hashes,
                match unsupported {
                    0 => String::new(),
                    n => format!(" ({n} unsupported, skipped)"),
                }
            )
        });
        // Network indicators only when some STIX or MISP source gave any.
        let network = match self.intel.network.len() {
            0 => String::new(),
            n => format!(", {n} network indicators"),
        };
        format!(
            "{} YARA rules, {}{} hash IOCs, {} name IOCs{network}, {} allow-listed hashes from {} files{}",
            self.yara_rule_count(),
            clamav.unwrap_or_default(),
            self.hashes.len(),
            self.names.len(),
            self.allow.len(),
            self.sources.len(),
            if self.yara.as_ref().is_some_and(|y| y.from_cache) {
                " (YARA from cache)"
            } else {
                ""
            }
        )
    }
}

/// What is being built while loading.
#[derive(Default)]
struct Loading {
    hashes: HashIndexBuilder,
    allow: HashIndexBuilder,
    clamav: Option<takedown_clamav::Database>,
}

impl SourceKind {
    fn is_hash_list(self) -> bool {
        matches!(
            self,
            SourceKind::LokiHashes
                | SourceKind::ClamavMd5
                | SourceKind::ClamavSha
                | SourceKind::AllowMd5
                | SourceKind::AllowSha
                | SourceKind::AllowLoki
        )
    }
}

/// Opens a signature file for reading line by line (at most
/// [`MAX_SIGNATURE_FILE`] bytes of it).
/// Opens a signature file: a regular file no larger than
/// [`MAX_SIGNATURE_FILE`]. A FIFO put where a file was expected cannot hang
/// the load waiting for a writer (see [`crate::platform::open_regular`]); it
/// is then refused as not a regular file.
fn open_signature_file(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    let file = crate::platform::open_regular(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_SIGNATURE_FILE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_SIGNATURE_FILE} bytes"
        )));
    }
    Ok((file, meta.len()))
}

/// How much of a `.json` file is read to tell STIX from MISP from other
/// JSON.
const SNIFF_LEN: usize = 64 << 10;

/// The UTF-8 byte order mark some Windows editors put first: not part of
/// the first line (it would cost that line's IOC or rule).
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn open_limited(path: &Path) -> std::io::Result<impl std::io::BufRead> {
    use std::io::{BufRead, Read};
    let (file, _) = open_signature_file(path)?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file.take(MAX_SIGNATURE_FILE));
    if r.fill_buf()?.starts_with(BOM) {
        r.consume(BOM.len());
    }
    Ok(r)
}

/// Largest signature file read: bigger files are almost certainly not
/// signatures (a wrong `-s`), and reading them whole would cost memory.
const MAX_SIGNATURE_FILE: u64 = 1 << 30;

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let (file, len) = open_signature_file(path)?;
    let mut out = Vec::with_capacity(len as usize);
    file.take(MAX_SIGNATURE_FILE).read_to_end(&mut out)?;
    if out.starts_with(BOM) {
        out.drain(..BOM.len());
    }
    Ok(out)
}

/// Adds the signature files at `root` (a file, or a directory read
/// recursively in name order, hidden entries skipped) to `files`.
fn collect(
    root: &Path,
    files: &mut Vec<(PathBuf, SourceKind)>,
    ignored: &mut Vec<String>,
    issues: &mut Vec<SigIssue>,
) -> Result<(), LoadError> {
    let meta = std::fs::metadata(root).map_err(|e| LoadError::Unreadable {
        path: root.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        match SourceKind::classify(root).or_else(|| SourceKind::sniff(root)) {
            Some(kind) => files.push((root.to_path_buf(), kind)),
            None => issues.push(SigIssue::file(
                &root.to_string_lossy(),
                "not a signature file: expected .yar/.yara, .hdb/.hsb, .fp/.sfp, a ClamAV .ndb/.ldb/.mdb/.msb/.ign2/.cvd/.cld/.cud, a Loki IOC file whose name contains 'hash' or 'filename', or a STIX 2.1 bundle or MISP event (.json)",
            )),
        }
        return Ok(());
    }
    if takedown_intel::misp::feed::is_feed_dir(root) {
        files.push((root.to_path_buf(), SourceKind::MispFeed));
        return Ok(());
    }
    // MISP feeds met on the way: loaded whole, their files not one by one.
    let mut feeds: Vec<PathBuf> = Vec::new();
    let walk = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(true)
        .follow_links(true)
        .sort_by_file_name(|a, b| a.cmp(b))
        .build();
    for entry in walk {
        match entry {
            Ok(e) if feeds.iter().any(|f| e.path().starts_with(f)) => {}
            Ok(e)
                if e.depth() > 0
                    && e.file_type().is_some_and(|t| t.is_dir())
                    && takedown_intel::misp::feed::is_feed_dir(e.path()) =>
            {
                feeds.push(e.path().to_path_buf());
                files.push((e.into_path(), SourceKind::MispFeed));
            }
            Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => {
                if let Some(kind) =
                    SourceKind::classify(e.path()).or_else(|| SourceKind::sniff(e.path()))
                {
                    files.push((e.into_path(), kind));
                } else {
                    tracing::debug!("not a signature file, skipped: {}", e.path().display());
                    ignored.push(e.path().to_string_lossy().into_owned());
                }
            }
            Ok(_) => {}
            Err(e) => issues.push(SigIssue::file(&root.to_string_lossy(), e.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_loki_and_clamav_names() {
        let c = |p: &str| SourceKind::classify(Path::new(p));
        assert_eq!(c("x/rules.YAR"), Some(SourceKind::Yara));
        assert_eq!(c("main.hdb"), Some(SourceKind::ClamavMd5));
        assert_eq!(c("daily.hsb"), Some(SourceKind::ClamavSha));
        assert_eq!(c("local.fp"), Some(SourceKind::AllowMd5));
        assert_eq!(c("local.sfp"), Some(SourceKind::AllowSha));
        assert_eq!(c("iocs/hash-iocs.txt"), Some(SourceKind::LokiHashes));
        assert_eq!(
            c("iocs/falsepositive-hashes.txt"),
            Some(SourceKind::AllowLoki)
        );
        assert_eq!(c("iocs/filename-iocs.txt"), Some(SourceKind::LokiNames));
        assert_eq!(c("daily.NDB"), Some(SourceKind::ClamavNdb));
        assert_eq!(c("local.ndu"), Some(SourceKind::ClamavNdb));
        assert_eq!(c("main.ldb"), Some(SourceKind::ClamavLdb));
        assert_eq!(c("x.ldu"), Some(SourceKind::ClamavLdb));
        for s in ["a.mdb", "a.mdu", "a.msb", "a.msu"] {
            assert_eq!(c(s), Some(SourceKind::ClamavSections), "{s}");
        }
        assert_eq!(c("local.ign2"), Some(SourceKind::ClamavIgnore));
        for s in ["main.cvd", "daily.cld", "local.cud"] {
            assert_eq!(c(s), Some(SourceKind::ClamavContainer), "{s}");
        }
        assert_eq!(c("iocs/c2-iocs.txt"), None);
        assert_eq!(c("iocs/hashes"), Some(SourceKind::LokiHashes));
        assert_eq!(c("rules/dumping_account_hashes.toml"), None);
        assert_eq!(c("icedid/icedid_hashes.csv"), None);
        assert_eq!(c("plist_filename.toml"), None);
        assert_eq!(c("README.md"), None);
    }

    /// ClamAV tells the digest by the hash's length in every hash database
    /// (its own test `clamav.hdb` holds a SHA-256 line): so does takedown,
    /// for IOCs (`.hdb`, `.hdu`, `.hsb`, `.hsu`) and allow-lists (`.fp`,
    /// `.sfp`) alike, with a number or `*` as the size.
    #[test]
    fn clamav_hash_databases_take_every_digest_length() {
        use crate::digest::{Algorithms, Digests};
        let data = b"the ClamAV hash database test";
        let d = Digests::of(data, Algorithms::ALL);
        let hexes = [
            ("md5", hex::encode(d.md5.unwrap())),
            ("sha1", hex::encode(d.sha1.unwrap())),
            ("sha256", hex::encode(d.sha256.unwrap())),
        ];
        for ext in ["hdb", "hdu", "hsb", "hsu", "fp", "sfp"] {
            for (algo, hex) in &hexes {
                for size in [data.len().to_string(), "*".to_string()] {
                    let dir = tempfile::tempdir().unwrap();
                    let line = format!("{hex}:{size}:Test.{algo}:73\n");
                    std::fs::write(dir.path().join(format!("t.{ext}")), line).unwrap();
                    let set = SignatureSet::load_all(&LoadOptions {
                        paths: vec![dir.path().to_path_buf()],
                        ..Default::default()
                    })
                    .unwrap();
                    assert!(set.issues.is_empty(), "{ext} {algo}: {:?}", set.issues);
                    let index = if ext.ends_with("fp") {
                        &set.allow
                    } else {
                        &set.hashes
                    };
                    let hits = index.lookup(&d, data.len() as u64);
                    assert_eq!(hits.len(), 1, "{ext} {algo} {size}");
                    assert_eq!(hits[0].algorithm, *algo);
                    assert_eq!(hits[0].name, format!("Test.{algo}"));
                    let other = Digests::of(b"other", Algorithms::ALL);
                    assert!(index.lookup(&other, data.len() as u64).is_empty());
                    // A wrong size never matches a sized line.
                    let wrong = index.lookup(&d, data.len() as u64 + 1).len();
                    assert_eq!(wrong, usize::from(size == "*"), "{ext} {algo} {size}");
                }
            }
        }
    }

    #[test]
    fn builtin_pack_loads_clean() {
        let set = SignatureSet::load(&LoadOptions {
            builtin: true,
            ..Default::default()
        })
        .unwrap();
        assert!(set.issues.is_empty(), "{:?}", set.issues);
        assert_eq!(set.yara_rule_count(), 1);
        assert_eq!(set.hashes.len(), 1);
    }

    #[test]
    fn nothing_loaded_is_an_error() {
        assert!(matches!(
            SignatureSet::load(&LoadOptions::default()),
            Err(LoadError::Empty(_))
        ));
    }

    #[test]
    fn directory_mixes_formats_and_tolerates_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(
            p.join("good.yar"),
            "rule good { strings: $a = \"x\" condition: $a }",
        )
        .unwrap();
        std::fs::write(p.join("bad.yar"), "rule bad { condition: ").unwrap();
        std::fs::create_dir(p.join("iocs")).unwrap();
        std::fs::write(
            p.join("iocs/hash-iocs.txt"),
            "d41d8cd98f00b204e9800998ecf8427e;empty\n",
        )
        .unwrap();
        std::fs::write(p.join("iocs/filename-iocs.txt"), "evil\\.exe;70\n").unwrap();
        std::fs::write(p.join("README.md"), "not signatures").unwrap();
        std::fs::create_dir(p.join(".git")).unwrap();
        std::fs::write(p.join(".git/hash-objects"), "junk").unwrap();
        let set = SignatureSet::load(&LoadOptions {
            paths: vec![p.to_path_buf()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(set.yara_rule_count(), 1);
        assert_eq!(set.hashes.len(), 1);
        assert_eq!(set.names.len(), 1);
        assert_eq!(set.issues.len(), 1, "{:?}", set.issues);
        assert!(set.issues[0].file.ends_with("bad.yar"));
        let strict = SignatureSet::load(&LoadOptions {
            paths: vec![p.to_path_buf()],
            strict: true,
            ..Default::default()
        });
        assert!(matches!(strict, Err(LoadError::Strict(_))));
    }

    #[test]
    fn includes_load_once_each_and_only_rule_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("rules/sub")).unwrap();
        std::fs::create_dir_all(p.join("outside")).unwrap();
        std::fs::write(
            p.join("rules/index.yar"),
            "include \"./sub/a.yar\"\ninclude \"../outside/b.yar\"\ninclude \"/etc/passwd\"\ninclude \"index.yar\"\n",
        )
        .unwrap();
        std::fs::write(p.join("rules/sub/a.yar"), "rule a { condition: true }").unwrap();
        std::fs::write(
            p.join("outside/b.yar"),
            "include \"../rules/sub/a.yar\"\nrule b { condition: true }",
        )
        .unwrap();
        let set = SignatureSet::load(&LoadOptions {
            paths: vec![p.join("rules")],
            ..Default::default()
        })
        .unwrap();
        // a.yar once (listed and included twice), b.yar followed, the
        // include cycle ended, /etc/passwd refused.
        assert_eq!(set.yara_rule_count(), 2, "{:?}", set.issues);
        let loaded: Vec<_> = set.sources.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(loaded.len(), 3, "{loaded:?}");
        assert!(loaded[2].ends_with("outside/b.yar"), "{loaded:?}");
        assert_eq!(set.issues.len(), 1, "{:?}", set.issues);
        assert_eq!(set.issues[0].line, Some(3));
        assert!(set.issues[0].message.contains("/etc/passwd"));
    }

    #[test]
    fn load_all_reports_even_when_nothing_loads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yar"), "rule bad { condition: ").unwrap();
        std::fs::write(dir.path().join("README"), "x").unwrap();
        let opts = LoadOptions {
            paths: vec![dir.path().to_path_buf()],
            ..Default::default()
        };
        assert!(matches!(SignatureSet::load(&opts), Err(LoadError::Empty(i)) if i.len() == 1));
        let set = SignatureSet::load_all(&opts).unwrap();
        assert!(set.is_empty());
        assert_eq!(set.issues.len(), 1);
        assert_eq!(set.ignored.len(), 1);
    }

    #[test]
    fn missing_path_is_a_clear_error() {
        let err = SignatureSet::load(&LoadOptions {
            paths: vec!["/nonexistent/sigs".into()],
            builtin: true,
            ..Default::default()
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("/nonexistent/sigs"), "{err}");
    }
}
