//! Loading databases ([`Database`]) and matching them ([`Signatures`]).
//!
//! Loading parses each line and keeps what parsed; `finish` applies the
//! `.ign2` entries and compiles everything into an immutable
//! [`Signatures`] (`Send + Sync`, shared by all scanning threads).
//!
//! Compilation: every body pattern (an `.ndb` body, or an `.ldb`
//! subsignature in each of its ASCII / wide forms) gets an *anchor*: the
//! most selective run of fixed bytes in it (at least [`MIN_ANCHOR`] long,
//! at most [`MAX_ANCHOR`]). Exact anchors are found through gram tables
//! (a bitmap over 2-, 3- or 4-byte values in front of a map to the
//! patterns); case-insensitive ones through an Aho-Corasick automaton.
//! Each hit is verified around the anchor by [`crate::pattern`], then the
//! offset is checked. A pattern without an anchor is tried directly at
//! its offset when it has one ("direct"), else at every position with a
//! larger work budget ("slow"); both kinds are counted in [`Stats`].
//!
//! Target types 3 (HTML) and 7 (ASCII) are matched on a lower-cased copy
//! of the data, ClamAV's normalisation reduced to its case folding.

use crate::cvd::{self, Flavour, Integrity};
use crate::exe::{self, ExeInfo};
use crate::expr::Expr;
use crate::hexsig::{self, Elem};
use crate::offset::Offset;
use crate::pattern::{self, Budget, MAX_STEPS_PER_HIT};
use crate::sigs::{self, Algo, Ignore, LineError, SubSig, Tdb};
use crate::target::TargetType;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use md5::{Digest, Md5};
use regex::bytes::Regex;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Shortest anchor literal (ClamAV requires two fixed bytes per part).
pub const MIN_ANCHOR: usize = 2;
/// Longest anchor literal: longer ones cost more to compare for little gain.
pub const MAX_ANCHOR: usize = 16;
/// Issues kept per loaded file; the rest are only counted.
pub const MAX_ISSUES: usize = 1000;
/// Work budget of a "slow" pattern (no anchor, any offset) per scan.
pub const SLOW_BUDGET_HITS: u32 = 64;
/// Verification steps per scanned byte, over all candidates of one scan
/// (plus [`SCAN_BUDGET_BASE`]): bounds the total work on a file crafted to
/// hit anchors everywhere. Past it, candidates are dropped and counted.
pub const SCAN_BUDGET_PER_BYTE: u64 = 32;
/// Fixed part of the per-scan budget.
pub const SCAN_BUDGET_BASE: u64 = 1 << 20;
/// Matches of one PCRE subsignature counted per scan.
pub const MAX_PCRE_MATCHES: u32 = 1000;
/// Compiled size limit of one PCRE (the regex crate's NFA), in bytes.
pub const MAX_PCRE_SIZE: usize = 2 << 20;

/// Kind of database file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.ndb`, `.ndu`: extended body signatures.
    Ndb,
    /// `.ldb`, `.ldu`: logical signatures.
    Ldb,
    /// `.mdb`, `.mdu`: PE section hashes.
    Mdb,
    /// `.msb`, `.msu`: PE section hashes (SHA).
    Msb,
    /// `.ign2`: ignore by signature name.
    Ign2,
    /// `.ign`: old ignore list (`db:line:name`).
    Ign,
    /// `.cvd`, `.cld`, `.cud` containers.
    Container(Flavour),
}

impl Kind {
    /// The kind for a file name, or `None` when this crate does not load it.
    pub fn from_name(name: &str) -> Option<Kind> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "ndb" | "ndu" => Kind::Ndb,
            "ldb" | "ldu" => Kind::Ldb,
            "mdb" | "mdu" => Kind::Mdb,
            "msb" | "msu" => Kind::Msb,
            "ign2" => Kind::Ign2,
            "ign" => Kind::Ign,
            "cvd" => Kind::Container(Flavour::Cvd),
            "cld" => Kind::Container(Flavour::Cld),
            "cud" => Kind::Container(Flavour::Cud),
            _ => return None,
        })
    }
}

/// One problem found while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Member of a container it was found in.
    pub member: Option<String>,
    /// Line number (1-based); 0 for the file as a whole.
    pub line: usize,
    /// `true` for valid syntax this crate does not support, `false` for
    /// malformed input.
    pub unsupported: bool,
    /// Why.
    pub reason: String,
}

/// What loading one file did.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// The name given to [`Database::load`].
    pub source: String,
    /// Signatures (or ignore entries) loaded.
    pub loaded: usize,
    /// Lines with unsupported constructs, skipped.
    pub unsupported: usize,
    /// Malformed lines, skipped.
    pub malformed: usize,
    /// The first [`MAX_ISSUES`] problems.
    pub issues: Vec<Issue>,
    /// The whole file was refused (bad container, not text...).
    pub error: Option<String>,
    /// For containers: what was verified.
    pub integrity: Option<Integrity>,
    /// For containers: members this crate does not load (hash databases,
    /// `.info`, ...), for the caller to handle.
    pub passed_over: Vec<String>,
}

impl LoadReport {
    fn issue(&mut self, member: Option<&str>, line: usize, e: LineError) {
        let (unsupported, reason) = match e {
            LineError::Unsupported(r) => {
                self.unsupported += 1;
                (true, format!("unsupported: {r}"))
            }
            LineError::Malformed(r) => {
                self.malformed += 1;
                (false, r)
            }
        };
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(Issue {
                member: member.map(str::to_string),
                line,
                unsupported,
                reason,
            });
        }
    }
}

struct Meta {
    name: Box<str>,
    source: u32,
    line_md5: [u8; 16],
}

/// Signatures being loaded.
#[derive(Default)]
pub struct Database {
    sources: Vec<Arc<str>>,
    ndb: Vec<(Meta, sigs::Ndb)>,
    /// With their PCREs, compiled once at load (compiling is what finds
    /// the unsupported ones, and it is the costly part of loading).
    ldb: Vec<(Meta, sigs::Ldb, Vec<CompiledPcre>)>,
    sections: Vec<(Meta, sigs::SectionHash)>,
    ignores: Vec<Ignore>,
}

/// Which kind of signature matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigKind {
    /// `.ndb` body signature.
    Body,
    /// `.ldb` logical signature.
    Logical,
    /// `.mdb`/`.msb` section hash.
    SectionHash,
}

/// One detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Signature name.
    pub name: String,
    /// The database it came from (the name given to `load`, with the
    /// container member as `daily.cvd:daily.ndb`).
    pub source: Arc<str>,
    /// Kind of signature.
    pub kind: SigKind,
    /// Start of the match (body signatures) or of the section.
    pub offset: Option<u64>,
}

/// What to scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanInput<'a> {
    /// The object's bytes.
    pub data: &'a [u8],
    /// Its target type, when the caller knows it; sniffed otherwise.
    pub target: Option<TargetType>,
}

/// Result of one scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanResult {
    /// Detections, each signature at most once.
    pub matches: Vec<Match>,
    /// Candidates dropped because verifying them hit a work limit.
    pub limits_hit: u32,
}

/// Counts of what was compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// `.ndb` signatures.
    pub body: usize,
    /// `.ldb` signatures.
    pub logical: usize,
    /// `.mdb`/`.msb` entries.
    pub section_hashes: usize,
    /// Signatures removed by `.ign2`/`.ign` entries.
    pub ignored: usize,
    /// Body patterns found through their anchor (gram tables or automaton).
    pub anchored: usize,
    /// Body patterns without an anchor, tried at their fixed offset.
    pub direct: usize,
    /// Body patterns without an anchor or offset, tried everywhere.
    pub slow: usize,
    /// Distinct anchor literals.
    pub literals: usize,
}

#[derive(Clone, Copy)]
enum Owner {
    Ndb(u32),
    Ldb { sig: u32, sub: u8 },
}

struct Pat {
    owner: Owner,
    target: TargetType,
    offset: Offset,
    elems: Box<[Elem]>,
    nocase: bool,
    fullword: bool,
    /// Element range of the anchor literal.
    anchor: Option<(usize, usize)>,
    /// Widths of the parts before and after the anchor when both are
    /// fixed: the match is then checked in place, without position sets.
    fixed: Option<(u32, u32)>,
}

struct CompiledPcre {
    offset: Option<Offset>,
    trigger: Expr,
    re: Regex,
    global: bool,
    rolling: bool,
    encompass: bool,
    anchored: bool,
}

enum Sub {
    Body,
    Pcre(Box<CompiledPcre>),
}

struct LdbC {
    name: Box<str>,
    source: u32,
    tdb: Tdb,
    expr: Expr,
    subs: Vec<Sub>,
    cap: u32,
}

struct NdbC {
    name: Box<str>,
    source: u32,
}

/// One automaton with, for each of its literals, the patterns anchored on it.
struct Automaton {
    ac: AhoCorasick,
    start: Vec<u32>,
    pats: Vec<u32>,
}

/// Exact anchors of one width: a bitmap over the gram values (exact for 2
/// and 3 bytes, hashed for 4) in front of a map to the patterns.
struct GramTable {
    width: usize,
    shift: u32,
    bits: Vec<u64>,
    /// Gram value -> range of `entries`.
    index: FastMap<u32, (u32, u32)>,
    /// (anchor literal id, offset of the gram in it).
    entries: Vec<(u32, u8)>,
    /// Distinct anchor literal id -> range of `pids` (the literal's bytes
    /// are the anchor of its first pattern). A literal is compared once
    /// per hit, however many patterns share it (thousands share
    /// "GetProcAddress").
    lit_start: Vec<u32>,
    pids: Vec<u32>,
}

/// Hasher for the small integer keys of the hot tables (gram values,
/// pattern and signature ids): FxHash-style mixing with a final multiply.
/// Every bitmap hit and every candidate costs a lookup, and SipHash
/// dominated the profile; the keys come from the signatures and from
/// our own ids, so the scanned data cannot choose collisions among them.
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        let x = self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^ (x >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u8(*b);
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.0 = self.0.rotate_left(5) ^ u64::from(v);
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = self.0.rotate_left(5) ^ u64::from(v);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = self.0.rotate_left(5) ^ v;
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Multiplier of the 4-byte gram hash (Knuth's, odd, high bits used).
const GRAM_MUL: u32 = 0x9e37_79b1;

impl GramTable {
    fn new(width: usize, by_lit: LitMap) -> Self {
        let mut map: GramMap = HashMap::new();
        let mut lit_start = Vec::with_capacity(by_lit.len() + 1);
        let mut pids = Vec::new();
        for (lit, v) in by_lit {
            let (key, off, _) = gram_of(&lit);
            map.entry(key)
                .or_default()
                .push((lit_start.len() as u32, off as u8));
            lit_start.push(pids.len() as u32);
            pids.extend(v);
        }
        lit_start.push(pids.len() as u32);
        // 2 bytes: one bit per value (8 KiB). 3 and 4 bytes: a hash into
        // at least 64 bits per gram (false hits under 2%), 2^12..2^28 bits,
        // so that small sets keep the bitmap, tested at every position, in
        // the CPU caches.
        let bits_log = match width {
            2 => 16,
            _ => (map.len().max(1) * 64)
                .next_power_of_two()
                .trailing_zeros()
                .clamp(12, 28),
        };
        let mut t = GramTable {
            width,
            shift: 32 - bits_log,
            bits: vec![0u64; 1usize << (bits_log - 6)],
            index: FastMap::with_capacity_and_hasher(map.len(), BuildHasherDefault::default()),
            entries: Vec::new(),
            lit_start,
            pids,
        };
        for (key, v) in map {
            let h = t.slot(key);
            t.bits[h >> 6] |= 1 << (h & 63);
            let start = t.entries.len() as u32;
            t.entries.extend(v);
            t.index.insert(key, (start, t.entries.len() as u32));
        }
        t
    }

    #[inline]
    fn slot(&self, key: u32) -> usize {
        if self.width > 2 {
            (key.wrapping_mul(GRAM_MUL) >> self.shift) as usize
        } else {
            key as usize
        }
    }
}

#[derive(Default)]
struct Group {
    /// Exact anchors of 2, 3 and 4+ bytes.
    grams: [Option<GramTable>; 3],
    nocase: Option<Automaton>,
    direct: Vec<u32>,
    slow: Vec<u32>,
}

#[derive(Default)]
struct SectionIndex {
    by_digest: HashMap<Vec<u8>, Vec<(Option<u64>, u32)>>,
    sizes: HashSet<u64>,
    any_size: bool,
}

/// Compiled signatures: immutable, shared by scanning threads.
pub struct Signatures {
    sources: Vec<Arc<str>>,
    ndb: Vec<NdbC>,
    ldb: Vec<LdbC>,
    pats: Vec<Pat>,
    /// One group per target type (index = ClamAV's number, 0..=12): a file
    /// of type T is matched against groups 0 and T only, as ClamAV does.
    /// Groups 3 and 7 hold lower-cased patterns, run on lower-cased text.
    groups: Vec<Group>,
    sections: [SectionIndex; 3],
    section_names: Vec<(Box<str>, u32)>,
    ignored_names: HashSet<String>,
    needs_exe: bool,
    stats: Stats,
}

fn split_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            (!l.is_empty() && !l.starts_with(b"#")).then_some((i + 1, l))
        })
}

impl Database {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads one database file of `kind`, named `name` in reports and matches.
    /// Problems are reported, never fatal to the rest.
    pub fn load(&mut self, name: &str, kind: Kind, bytes: &[u8]) -> LoadReport {
        let mut report = LoadReport {
            source: name.to_string(),
            ..LoadReport::default()
        };
        match kind {
            Kind::Container(fl) => self.load_container(name, fl, bytes, &mut report),
            _ => self.load_text(name, None, kind, bytes, &mut report),
        }
        report
    }

    fn load_container(&mut self, name: &str, fl: Flavour, bytes: &[u8], report: &mut LoadReport) {
        let c = match cvd::unpack(bytes, fl) {
            Ok(c) => c,
            Err(e) => {
                report.error = Some(e.to_string());
                return;
            }
        };
        report.integrity = Some(c.integrity);
        for (member, data) in &c.members {
            match Kind::from_name(member) {
                Some(Kind::Container(_)) | None => report.passed_over.push(member.clone()),
                Some(k) => {
                    let src = format!("{name}:{member}");
                    self.load_text(&src, Some(member), k, data, report);
                }
            }
        }
    }

    fn load_text(
        &mut self,
        name: &str,
        member: Option<&str>,
        kind: Kind,
        bytes: &[u8],
        report: &mut LoadReport,
    ) {
        let source = self.sources.len() as u32;
        self.sources.push(Arc::from(name));
        for (no, raw) in split_lines(bytes) {
            if raw.len() > sigs::MAX_LINE {
                report.issue(
                    member,
                    no,
                    LineError::Malformed(format!("line longer than {} bytes", sigs::MAX_LINE)),
                );
                continue;
            }
            let Ok(line) = std::str::from_utf8(raw) else {
                report.issue(member, no, LineError::Malformed("not UTF-8 text".into()));
                continue;
            };
            let meta = |n: &mut String| Meta {
                name: std::mem::take(n).into_boxed_str(),
                source,
                line_md5: Md5::digest(raw).into(),
            };
            let r = match kind {
                Kind::Ndb => {
                    sigs::parse_ndb(line).map(|mut s| self.ndb.push((meta(&mut s.name), s)))
                }
                Kind::Ldb => sigs::parse_ldb(line).and_then(|mut s| {
                    let pcres = compile_pcres(&s)?;
                    self.ldb.push((meta(&mut s.name), s, pcres));
                    Ok(())
                }),
                Kind::Mdb | Kind::Msb => sigs::parse_section_hash(line)
                    .map(|mut s| self.sections.push((meta(&mut s.name), s))),
                Kind::Ign2 => sigs::parse_ignore(line, false).map(|i| self.ignores.push(i)),
                Kind::Ign => sigs::parse_ignore(line, true).map(|i| self.ignores.push(i)),
                Kind::Container(_) => {
                    Err(LineError::Malformed("container inside a container".into()))
                }
            };
            match r {
                Ok(()) => report.loaded += 1,
                Err(e) => report.issue(member, no, e),
            }
        }
    }

    /// Applies ignore entries and compiles the matcher.
    pub fn finish(self) -> Signatures {
        let Database {
            sources,
            ndb: ndb_in,
            ldb: ldb_in,
            sections: sections_in,
            ignores,
        } = self;
        let mut ign: HashMap<&str, Vec<Option<[u8; 16]>>> = HashMap::new();
        for i in &ignores {
            ign.entry(i.name.as_str()).or_default().push(i.md5);
        }
        let ignored = |m: &Meta| {
            ign.get(&*m.name)
                .is_some_and(|v| v.iter().any(|md5| md5.is_none_or(|d| d == m.line_md5)))
        };
        let mut stats = Stats::default();
        let mut pats = Vec::new();
        let mut ndb = Vec::new();
        for (m, s) in ndb_in {
            if ignored(&m) {
                stats.ignored += 1;
                continue;
            }
            let id = ndb.len() as u32;
            ndb.push(NdbC {
                name: m.name,
                source: m.source,
            });
            add_body(&mut pats, Owner::Ndb(id), s.target, s.body);
        }
        let mut ldb = Vec::new();
        for (m, s, pcres) in ldb_in {
            let mut pcres = pcres.into_iter();
            if ignored(&m) {
                stats.ignored += 1;
                continue;
            }
            let id = ldb.len() as u32;
            let target = s.tdb.target.unwrap_or(TargetType::Any);
            let mut subs = Vec::with_capacity(s.subsigs.len());
            let cap = s
                .subsigs
                .iter()
                .filter_map(|x| match x {
                    SubSig::Pcre(p) => Some(p.trigger.count_cap()),
                    SubSig::Body(_) => None,
                })
                .fold(s.expr.count_cap(), u32::max);
            for (i, sub) in s.subsigs.into_iter().enumerate() {
                match sub {
                    SubSig::Body(b) => {
                        add_body(
                            &mut pats,
                            Owner::Ldb {
                                sig: id,
                                sub: i as u8,
                            },
                            target,
                            b,
                        );
                        subs.push(Sub::Body);
                    }
                    // One compiled PCRE per PCRE subsignature, in order.
                    SubSig::Pcre(_) => match pcres.next() {
                        Some(c) => subs.push(Sub::Pcre(Box::new(c))),
                        None => subs.push(Sub::Body),
                    },
                }
            }
            ldb.push(LdbC {
                name: m.name,
                source: m.source,
                tdb: s.tdb,
                expr: s.expr,
                subs,
                cap,
            });
        }
        let mut sections: [SectionIndex; 3] = Default::default();
        let mut section_names = Vec::new();
        for (m, s) in sections_in {
            if ignored(&m) {
                stats.ignored += 1;
                continue;
            }
            let idx = &mut sections[algo_index(s.algo)];
            let id = section_names.len() as u32;
            section_names.push((m.name, m.source));
            match s.size {
                Some(n) => {
                    idx.sizes.insert(n);
                }
                None => idx.any_size = true,
            }
            idx.by_digest
                .entry(s.digest)
                .or_default()
                .push((s.size, id));
        }
        let needs_exe = pats.iter().any(|p| p.offset.needs_exe())
            || ldb
                .iter()
                .any(|l| l.tdb.entry_point.is_some() || l.tdb.sections.is_some());
        let groups = build_groups(&pats, &mut stats);
        drop(ign);
        let ignored_names = ignores.into_iter().map(|i| i.name).collect();
        stats.body = ndb.len();
        stats.logical = ldb.len();
        stats.section_hashes = section_names.len();
        Signatures {
            sources,
            ndb,
            ldb,
            pats,
            groups,
            sections,
            section_names,
            ignored_names,
            needs_exe,
            stats,
        }
    }
}

fn algo_index(a: Algo) -> usize {
    match a {
        Algo::Md5 => 0,
        Algo::Sha1 => 1,
        Algo::Sha256 => 2,
    }
}

fn compile_pcre(p: &sigs::Pcre) -> Result<CompiledPcre, LineError> {
    let f = p.flags;
    let re = regex::bytes::RegexBuilder::new(&p.pattern)
        .unicode(false)
        .case_insensitive(f.caseless)
        .dot_matches_new_line(f.dotall)
        .multi_line(f.multiline)
        .ignore_whitespace(f.extended)
        .swap_greed(f.ungreedy)
        .size_limit(MAX_PCRE_SIZE)
        .dfa_size_limit(MAX_PCRE_SIZE)
        .nest_limit(64)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            let first = msg
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .unwrap_or("not expressible");
            LineError::Unsupported(format!("PCRE /{}/ {first}", p.pattern))
        })?;
    Ok(CompiledPcre {
        offset: p.offset,
        trigger: p.trigger.clone(),
        re,
        global: f.global,
        rolling: f.rolling,
        encompass: f.encompass,
        anchored: f.anchored,
    })
}

fn compile_pcres(l: &sigs::Ldb) -> Result<Vec<CompiledPcre>, LineError> {
    l.subsigs
        .iter()
        .filter_map(|s| match s {
            SubSig::Pcre(p) => Some(compile_pcre(p)),
            SubSig::Body(_) => None,
        })
        .collect()
}

fn add_body(pats: &mut Vec<Pat>, owner: Owner, target: TargetType, b: sigs::Body) {
    let mut forms = Vec::new();
    if b.wide {
        forms.push(hexsig::widen(&b.elems));
        if b.ascii {
            forms.push(b.elems);
        }
    } else {
        forms.push(b.elems);
    }
    for elems in forms {
        let elems = if target.normalised() {
            // Normalised text is lower-cased: so must the pattern be.
            elems.into_iter().map(lower_elem).collect()
        } else {
            elems
        };
        let (elems, anchor) = isolate_anchor(elems);
        let fixed = anchor.and_then(|(a, b)| {
            let w = |e: &[Elem]| -> Option<u32> {
                let mut n = 0usize;
                for x in e {
                    n = n.checked_add(x.width()?)?;
                }
                u32::try_from(n).ok()
            };
            Some((w(&elems[..a])?, w(&elems[b..])?))
        });
        pats.push(Pat {
            owner,
            target,
            offset: b.offset,
            elems: elems.into_boxed_slice(),
            nocase: b.nocase,
            fullword: b.fullword,
            anchor,
            fixed,
        });
    }
}

fn lower_elem(e: Elem) -> Elem {
    match e {
        Elem::Byte(b) => Elem::Byte(b.to_ascii_lowercase()),
        Elem::Lit(l) => Elem::Lit(l.to_ascii_lowercase().into()),
        Elem::Alt(a) => Elem::Alt(Box::new(
            a.into_iter()
                .map(|v| v.into_iter().map(lower_elem).collect())
                .collect(),
        )),
        other => other,
    }
}

/// How common a byte is in files; anchors avoid common bytes.
fn commonness(b: u8) -> u32 {
    match b {
        0x00 | 0xff => 4,
        0x20 | 0x90 | 0xcc | 0x01 => 2,
        _ => 0,
    }
}

/// The most selective run of fixed bytes: the longest (up to
/// [`MAX_ANCHOR`]), ties settled by fewer common bytes. Returns the
/// element index, and the byte range inside that `Lit`.
fn choose_anchor(elems: &[Elem]) -> Option<(usize, usize, usize)> {
    let mut best: Option<(usize, usize, usize, (usize, i64))> = None;
    for (i, e) in elems.iter().enumerate() {
        let Elem::Lit(run) = e else { continue };
        let len = run.len().min(MAX_ANCHOR);
        // Long literals: a bounded number of windows is enough.
        for w in (0..=(run.len() - len)).take(MAX_ANCHOR * 8) {
            let common: u32 = run[w..w + len].iter().map(|b| commonness(*b)).sum();
            let score = (len, -i64::from(common));
            if len >= MIN_ANCHOR && best.as_ref().is_none_or(|b| score > b.3) {
                best = Some((i, w, w + len, score));
            }
        }
    }
    best.map(|(i, a, b, _)| (i, a, b))
}

/// Splits the `Lit` holding the anchor so that the anchor is an element
/// of its own; returns the new elements and the anchor's element range.
fn isolate_anchor(elems: Vec<Elem>) -> (Vec<Elem>, Option<(usize, usize)>) {
    let Some((i, a, b)) = choose_anchor(&elems) else {
        return (elems, None);
    };
    let Elem::Lit(run) = &elems[i] else {
        return (elems, None);
    };
    let (before, anchor, after) = (&run[..a], &run[a..b], &run[b..]);
    let mut out = Vec::with_capacity(elems.len() + 2);
    out.extend_from_slice(&elems[..i]);
    out.extend(hexsig::lit(before));
    let at = out.len();
    out.extend(hexsig::lit(anchor));
    out.extend(hexsig::lit(after));
    out.extend_from_slice(&elems[i + 1..]);
    (out, Some((at, at + 1)))
}

/// The 2-, 3- or 4-byte key of a literal: its least common 4-byte window
/// (the whole literal when shorter), and where it starts in the literal.
fn gram_of(lit: &[u8]) -> (u32, usize, usize) {
    if lit.len() < 4 {
        let mut k = 0u32;
        for (i, b) in lit.iter().enumerate() {
            k |= u32::from(*b) << (8 * i);
        }
        return (k, 0, lit.len());
    }
    let mut best = (u32::MAX, 0usize);
    for w in 0..=lit.len() - 4 {
        let c: u32 = lit[w..w + 4].iter().map(|b| commonness(*b)).sum();
        if c < best.0 {
            best = (c, w);
        }
    }
    let w = best.1;
    (
        u32::from_le_bytes([lit[w], lit[w + 1], lit[w + 2], lit[w + 3]]),
        w,
        4,
    )
}

/// Gram value -> (anchor literal id, offset of the gram in it).
type GramMap = HashMap<u32, Vec<(u32, u8)>>;
/// Anchor literal -> the patterns anchored on it.
type LitMap = HashMap<Box<[u8]>, Vec<u32>>;

/// Number of target type slots (ClamAV's numbers 0..=12).
const TARGETS: usize = 13;

fn build_groups(pats: &[Pat], stats: &mut Stats) -> Vec<Group> {
    let mut groups: Vec<Group> = (0..TARGETS).map(|_| Group::default()).collect();
    // Exact anchors by gram width (2, 3, 4): gram -> (pattern, offset of
    // the gram in the anchor); case-insensitive anchors: literal -> patterns.
    let mut grams: Vec<[LitMap; 3]> = (0..TARGETS).map(|_| Default::default()).collect();
    let mut nocase: Vec<HashMap<Vec<u8>, Vec<u32>>> =
        (0..TARGETS).map(|_| HashMap::new()).collect();
    for (id, p) in pats.iter().enumerate() {
        let g = p.target.number() as usize;
        let lit = match p.anchor.map(|(a, _)| &p.elems[a]) {
            Some(Elem::Lit(l)) => l,
            _ if matches!(p.offset, Offset::Any) => {
                groups[g].slow.push(id as u32);
                stats.slow += 1;
                continue;
            }
            _ => {
                groups[g].direct.push(id as u32);
                stats.direct += 1;
                continue;
            }
        };
        stats.anchored += 1;
        if p.nocase {
            nocase[g]
                .entry(lit.to_ascii_lowercase())
                .or_default()
                .push(id as u32);
        } else {
            let width = lit.len().min(4);
            grams[g][width - 2]
                .entry(lit.clone())
                .or_default()
                .push(id as u32);
        }
    }
    for (g, group) in groups.iter_mut().enumerate() {
        for (w, by_lit) in std::mem::take(&mut grams[g]).into_iter().enumerate() {
            if !by_lit.is_empty() {
                stats.literals += by_lit.len();
                group.grams[w] = Some(GramTable::new(w + 2, by_lit));
            }
        }
        let map = std::mem::take(&mut nocase[g]);
        if map.is_empty() {
            continue;
        }
        stats.literals += map.len();
        let mut literals = Vec::with_capacity(map.len());
        let mut start = Vec::with_capacity(map.len() + 1);
        let mut ids = Vec::new();
        for (lit, v) in map {
            start.push(ids.len() as u32);
            ids.extend(v);
            literals.push(lit);
        }
        start.push(ids.len() as u32);
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .kind(Some(pick_kind(literals.len())))
            .build(&literals);
        // Building fails only past the automaton's size limits, which
        // literal counts in the millions would need; such a set is
        // refused whole rather than half-matched.
        if let Ok(ac) = ac {
            group.nocase = Some(Automaton {
                ac,
                start,
                pats: ids,
            });
        }
    }
    groups
}

/// A DFA is fastest but costs memory per state; past a few thousand
/// literals the contiguous NFA keeps the footprint small.
fn pick_kind(literals: usize) -> AhoCorasickKind {
    if literals <= 2000 {
        AhoCorasickKind::DFA
    } else {
        AhoCorasickKind::ContiguousNFA
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

struct State<'a> {
    data: &'a [u8],
    file: TargetType,
    exe: Option<ExeInfo>,
    ndb_hits: FastMap<u32, u64>,
    counts: FastMap<(u32, u8), u32>,
    limits: u32,
    /// Steps left for this scan.
    left: u64,
    /// Patterns that need no more matching in this scan (their `.ndb`
    /// signature matched, or their subsignature reached its count cap);
    /// allocated on the first match.
    done: Vec<u64>,
}

impl State<'_> {
    fn is_done(&self, pid: u32) -> bool {
        let i = pid as usize;
        self.done
            .get(i >> 6)
            .is_some_and(|w| w & (1 << (i & 63)) != 0)
    }
    fn set_done(&mut self, pid: u32, patterns: usize) {
        if self.done.is_empty() {
            self.done = vec![0; patterns.div_ceil(64)];
        }
        let i = pid as usize;
        if let Some(w) = self.done.get_mut(i >> 6) {
            *w |= 1 << (i & 63);
        }
    }

    /// A budget for one candidate, from what is left of the scan's; `None`
    /// (and one more limit counted) when the scan's budget is spent.
    fn budget(&mut self, steps: u32) -> Option<Budget> {
        if self.left == 0 {
            self.limits = self.limits.saturating_add(1);
            return None;
        }
        let n = u64::from(steps).min(self.left);
        Some(Budget::with_steps(u32::try_from(n).unwrap_or(u32::MAX)))
    }
    fn spend(&mut self, given: u32, b: &Budget) {
        self.left = self.left.saturating_sub(u64::from(given - b.left()) + 1);
        if b.exhausted {
            self.limits = self.limits.saturating_add(1);
        }
    }
}

impl Signatures {
    /// Counts of what was compiled.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Names listed in `.ign2`/`.ign` entries, for signatures held
    /// elsewhere (hash databases).
    pub fn ignored_names(&self) -> &HashSet<String> {
        &self.ignored_names
    }

    /// Whether there is anything to match.
    pub fn is_empty(&self) -> bool {
        self.ndb.is_empty() && self.ldb.is_empty() && self.section_names.is_empty()
    }

    /// Scans one object.
    pub fn scan(&self, input: &ScanInput) -> ScanResult {
        let data = input.data;
        let file = input.target.unwrap_or_else(|| TargetType::detect(data));
        let want_exe = self.needs_exe || !self.section_names.is_empty();
        let exe = match file {
            TargetType::Pe if want_exe => exe::parse_pe(data),
            TargetType::Elf if want_exe => exe::parse_elf(data),
            _ => None,
        };
        if !file.normalised() {
            let (mut matches, limits, exe) =
                self.scan_pass(data, file, exe, &self.groups_for(file));
            self.section_hashes(data, file, exe.as_ref(), &mut matches);
            return ScanResult {
                matches,
                limits_hit: limits,
            };
        }
        // Text and HTML: as ClamAV, every signature also sees the
        // normalised (here: lower-cased) text, each buffer on its own
        // (logical signature counts are not summed across the two), and
        // target 3 / 7 signatures see only the normalised text.
        if !data.iter().any(u8::is_ascii_uppercase) {
            let (matches, limits, _) = self.scan_pass(data, file, exe, &self.groups_for(file));
            return ScanResult {
                matches,
                limits_hit: limits,
            };
        }
        let (mut matches, mut limits, _) =
            self.scan_pass(data, file, exe, &self.groups_for(TargetType::Any));
        let lower = data.to_ascii_lowercase();
        let (more, l2, _) = self.scan_pass(&lower, file, None, &self.groups_for(file));
        limits = limits.saturating_add(l2);
        for m in more {
            if !matches
                .iter()
                .any(|x| x.name == m.name && x.kind == m.kind && x.source == m.source)
            {
                matches.push(m);
            }
        }
        ScanResult {
            matches,
            limits_hit: limits,
        }
    }

    /// The groups a file of type `file` is matched against.
    fn groups_for(&self, file: TargetType) -> Vec<&Group> {
        let mut v = vec![&self.groups[0]];
        let t = file.number() as usize;
        if t != 0
            && let Some(g) = self.groups.get(t)
        {
            v.push(g);
        }
        v
    }

    /// Runs `groups` over one buffer: body and logical matches, limits hit.
    fn scan_pass(
        &self,
        data: &[u8],
        file: TargetType,
        exe: Option<ExeInfo>,
        groups: &[&Group],
    ) -> (Vec<Match>, u32, Option<ExeInfo>) {
        let mut st = State {
            data,
            file,
            exe,
            ndb_hits: FastMap::default(),
            counts: FastMap::default(),
            limits: 0,
            left: (data.len() as u64)
                .saturating_mul(SCAN_BUDGET_PER_BYTE)
                .saturating_add(SCAN_BUDGET_BASE),
            done: Vec::new(),
        };
        for g in groups {
            self.run_group(g, &mut st);
        }
        let mut matches: Vec<Match> = Vec::new();
        let mut hits: Vec<(u32, u64)> = st.ndb_hits.iter().map(|(k, v)| (*k, *v)).collect();
        hits.sort_unstable();
        for (id, off) in hits {
            let s = &self.ndb[id as usize];
            matches.push(Match {
                name: s.name.to_string(),
                source: self.sources[s.source as usize].clone(),
                kind: SigKind::Body,
                offset: Some(off),
            });
        }
        self.eval_ldbs(&mut st, &mut matches);
        (matches, st.limits, st.exe)
    }

    fn run_group(&self, g: &Group, st: &mut State) {
        for t in g.grams.iter().flatten() {
            self.run_grams(t, st);
        }
        if let Some(a) = &g.nocase {
            for m in a.ac.find_overlapping_iter(st.data) {
                let lit = m.pattern().as_usize();
                let (s, e) = (a.start[lit] as usize, a.start[lit + 1] as usize);
                for &pid in &a.pats[s..e] {
                    self.candidate(pid, m.start(), false, st);
                }
            }
        }
        for &pid in &g.direct {
            let p = &self.pats[pid as usize];
            if !self.wanted(pid, p, st) {
                continue;
            }
            let Some((lo, hi)) = p.offset.resolve(st.data.len(), st.exe.as_ref()) else {
                continue;
            };
            let Some(mut budget) = st.budget(MAX_STEPS_PER_HIT) else {
                return;
            };
            let given = budget.left();
            self.verify_from(p, pid, vec![(lo, hi + 1)], &mut budget, st);
            st.spend(given, &budget);
        }
        for &pid in &g.slow {
            let p = &self.pats[pid as usize];
            if !self.wanted(pid, p, st) {
                continue;
            }
            let Some(mut budget) = st.budget(MAX_STEPS_PER_HIT.saturating_mul(SLOW_BUDGET_HITS))
            else {
                return;
            };
            let given = budget.left();
            self.verify_from(p, pid, vec![(0, st.data.len() + 1)], &mut budget, st);
            st.spend(given, &budget);
        }
    }

    /// Looks every position of the data up in one gram table.
    fn run_grams(&self, t: &GramTable, st: &mut State) {
        let data = st.data;
        let w = t.width;
        if data.len() < w {
            return;
        }
        let hit = |p: usize, key: u32, st: &mut State| {
            let Some(&(s, e)) = t.index.get(&key) else {
                return;
            };
            for &(lit, off) in &t.entries[s as usize..e as usize] {
                let Some(at) = p.checked_sub(usize::from(off)) else {
                    continue;
                };
                let lit = lit as usize;
                let (a, b) = (t.lit_start[lit] as usize, t.lit_start[lit + 1] as usize);
                let Some(first) = t.pids.get(a).map(|p| &self.pats[*p as usize]) else {
                    continue;
                };
                let Some((ai, _)) = first.anchor else {
                    continue;
                };
                let Elem::Lit(bytes) = &first.elems[ai] else {
                    continue;
                };
                if st.data.get(at..at + bytes.len()) != Some(&bytes[..]) {
                    continue;
                }
                for &pid in &t.pids[a..b] {
                    self.candidate(pid, at, true, st);
                }
            }
        };
        match w {
            2 => {
                for (p, c) in data.windows(2).enumerate() {
                    let key = u32::from(c[0]) | u32::from(c[1]) << 8;
                    if t.bits[(key >> 6) as usize] & (1 << (key & 63)) != 0 {
                        hit(p, key, st);
                    }
                }
            }
            3 => {
                for (p, c) in data.windows(3).enumerate() {
                    let key = u32::from(c[0]) | u32::from(c[1]) << 8 | u32::from(c[2]) << 16;
                    let h = t.slot(key);
                    if t.bits[h >> 6] & (1 << (h & 63)) != 0 {
                        hit(p, key, st);
                    }
                }
            }
            _ => {
                for (p, c) in data.windows(4).enumerate() {
                    let key = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    let h = t.slot(key);
                    if t.bits[h >> 6] & (1 << (h & 63)) != 0 {
                        hit(p, key, st);
                    }
                }
            }
        }
    }

    /// Whether pattern `p` applies to this file and still matters.
    fn wanted(&self, pid: u32, p: &Pat, st: &State) -> bool {
        p.target.applies_to(st.file) && !st.is_done(pid)
    }

    /// Verifies a pattern from a set of start positions (no anchor).
    fn verify_from(
        &self,
        p: &Pat,
        pid: u32,
        starts: pattern::Set,
        budget: &mut Budget,
        st: &mut State,
    ) {
        let data = st.data;
        let mut starts = starts;
        if p.fullword {
            starts = filter(&starts, |s| s == 0 || !is_word(data[s - 1]));
        }
        let ends = pattern::forward(&p.elems, data, starts.clone(), p.nocase, budget);
        let ends_ok = if p.fullword {
            pattern::any(&ends, |e| e >= data.len() || !is_word(data[e]))
        } else {
            !ends.is_empty()
        };
        if ends_ok {
            // The start of the match: the first start that reaches an end.
            let first = starts.first().map_or(0, |s| s.0);
            self.record(p, pid, first, st);
        }
    }

    fn candidate(&self, pid: u32, at: usize, anchor_checked: bool, st: &mut State) {
        let p = &self.pats[pid as usize];
        if !self.wanted(pid, p, st) {
            return;
        }
        let Some((a, b)) = p.anchor else { return };
        let Some((lo, hi)) = p.offset.resolve(st.data.len(), st.exe.as_ref()) else {
            return;
        };
        if let Some((lw, rw)) = p.fixed {
            // Everything at a known distance from the anchor: compare in
            // place (work bounded by the pattern's length).
            let data = st.data;
            let Some(start) = at.checked_sub(lw as usize) else {
                return;
            };
            let aw = p.elems[a].width().unwrap_or(0);
            let end = at + aw + rw as usize;
            if start < lo
                || start > hi
                || end > data.len()
                || (!anchor_checked && !pattern::fixed_ok(&p.elems[a], data, at, p.nocase))
                || !pattern::fixed_match(&p.elems[..a], data, start, p.nocase)
                || !pattern::fixed_match(&p.elems[b..], data, at + aw, p.nocase)
                || (p.fullword
                    && ((start > 0 && is_word(data[start - 1]))
                        || data.get(end).is_some_and(|c| is_word(*c))))
            {
                return;
            }
            self.record(p, pid, start, st);
            return;
        }
        let Some(mut budget) = st.budget(MAX_STEPS_PER_HIT) else {
            return;
        };
        let given = budget.left();
        let start = self.verify_anchored(p, at, a, b, lo, hi, st.data, &mut budget);
        st.spend(given, &budget);
        if let Some(start) = start {
            self.record(p, pid, start, st);
        }
    }

    /// Verifies pattern `p` whose anchor (elements `a..b`) was found at
    /// `at`; returns the start of the match.
    #[allow(clippy::too_many_arguments)]
    fn verify_anchored(
        &self,
        p: &Pat,
        at: usize,
        a: usize,
        b: usize,
        lo: usize,
        hi: usize,
        data: &[u8],
        budget: &mut Budget,
    ) -> Option<usize> {
        // Gram tables match only part of the anchor: check all of it.
        if !pattern::fixed_ok(&p.elems[a], data, at, p.nocase) {
            return None;
        }
        let mut starts =
            pattern::backward(&p.elems[..a], data, vec![(at, at + 1)], p.nocase, budget);
        starts = pattern::clamp(&starts, lo, hi);
        if p.fullword {
            starts = filter(&starts, |s| s == 0 || !is_word(data[s - 1]));
        }
        let first = starts.first()?.0;
        let lit_end = at + p.elems[a].width().unwrap_or(0);
        let ends = pattern::forward(
            &p.elems[b..],
            data,
            vec![(lit_end, lit_end + 1)],
            p.nocase,
            budget,
        );
        let ok = if p.fullword {
            pattern::any(&ends, |e| e >= data.len() || !is_word(data[e]))
        } else {
            !ends.is_empty()
        };
        ok.then_some(first)
    }

    fn record(&self, p: &Pat, pid: u32, start: usize, st: &mut State) {
        match p.owner {
            Owner::Ndb(id) => {
                st.ndb_hits.entry(id).or_insert(start as u64);
                st.set_done(pid, self.pats.len());
            }
            Owner::Ldb { sig, sub } => {
                let cap = self.ldb[sig as usize].cap;
                let c = st.counts.entry((sig, sub)).or_insert(0);
                // Counts past the cap change no comparison: stop there.
                if *c < cap {
                    *c += 1;
                }
                if *c >= cap {
                    st.set_done(pid, self.pats.len());
                }
            }
        }
    }

    fn eval_ldbs(&self, st: &mut State, out: &mut Vec<Match>) {
        let mut touched: Vec<u32> = st.counts.keys().map(|k| k.0).collect();
        touched.sort_unstable();
        touched.dedup();
        for id in touched {
            let l = &self.ldb[id as usize];
            if !tdb_ok(&l.tdb, st) {
                continue;
            }
            for (i, s) in l.subs.iter().enumerate() {
                let Sub::Pcre(p) = s else { continue };
                let fired = {
                    let counts = &st.counts;
                    p.trigger
                        .eval(&|n| counts.get(&(id, n as u8)).copied().unwrap_or(0))
                };
                if !fired {
                    continue;
                }
                let n = run_pcre(p, st);
                if n > 0 {
                    st.counts.insert((id, i as u8), n);
                }
            }
            let counts = &st.counts;
            if l.expr
                .eval(&|n| counts.get(&(id, n as u8)).copied().unwrap_or(0))
            {
                out.push(Match {
                    name: l.name.to_string(),
                    source: self.sources[l.source as usize].clone(),
                    kind: SigKind::Logical,
                    offset: None,
                });
            }
        }
    }

    fn section_hashes(
        &self,
        data: &[u8],
        file: TargetType,
        exe: Option<&ExeInfo>,
        out: &mut Vec<Match>,
    ) {
        if self.section_names.is_empty() || file != TargetType::Pe {
            return;
        }
        let Some(exe) = exe else { return };
        let mut seen = HashSet::new();
        for s in &exe.sections {
            let (Ok(off), Ok(size)) = (usize::try_from(s.raw_offset), usize::try_from(s.raw_size))
            else {
                continue;
            };
            let Some(bytes) = off.checked_add(size).and_then(|end| data.get(off..end)) else {
                continue;
            };
            if size == 0 {
                continue;
            }
            for (ai, idx) in self.sections.iter().enumerate() {
                if idx.by_digest.is_empty() || !(idx.any_size || idx.sizes.contains(&s.raw_size)) {
                    continue;
                }
                let digest: Vec<u8> = match ai {
                    0 => Md5::digest(bytes).to_vec(),
                    1 => sha1::Sha1::digest(bytes).to_vec(),
                    _ => sha2::Sha256::digest(bytes).to_vec(),
                };
                let Some(list) = idx.by_digest.get(&digest) else {
                    continue;
                };
                for &(want, id) in list {
                    if want.is_none_or(|w| w == s.raw_size) && seen.insert(id) {
                        let (name, source) = &self.section_names[id as usize];
                        out.push(Match {
                            name: name.to_string(),
                            source: self.sources[*source as usize].clone(),
                            kind: SigKind::SectionHash,
                            offset: Some(s.raw_offset),
                        });
                    }
                }
            }
        }
    }
}

fn filter(set: &pattern::Set, f: impl Fn(usize) -> bool) -> pattern::Set {
    let mut out: pattern::Set = Vec::new();
    let mut n = 0u32;
    for &(a, b) in set {
        for p in a..b {
            n += 1;
            if n > MAX_STEPS_PER_HIT {
                return out;
            }
            if f(p) {
                match out.last_mut() {
                    Some(l) if l.1 == p => l.1 = p + 1,
                    _ => out.push((p, p + 1)),
                }
            }
        }
    }
    out
}

fn in_range(v: u64, r: Option<(u64, u64)>) -> bool {
    r.is_none_or(|(a, b)| a <= v && v <= b)
}

fn tdb_ok(t: &Tdb, st: &State) -> bool {
    if !t.target.unwrap_or(TargetType::Any).applies_to(st.file)
        || !in_range(st.data.len() as u64, t.file_size)
    {
        return false;
    }
    if t.entry_point.is_some() || t.sections.is_some() {
        let Some(exe) = &st.exe else { return false };
        if t.entry_point.is_some() && !exe.entry.is_some_and(|e| in_range(e, t.entry_point)) {
            return false;
        }
        if !in_range(exe.sections.len() as u64, t.sections) {
            return false;
        }
    }
    true
}

/// Runs a triggered PCRE; returns its match count (1 at most without `g`).
fn run_pcre(p: &CompiledPcre, st: &State) -> u32 {
    let data = st.data;
    let (lo, hi) = match p.offset {
        None | Some(Offset::Any) => (0, data.len()),
        Some(o) => match o.resolve(data.len(), st.exe.as_ref()) {
            Some(r) => r,
            None => return 0,
        },
    };
    // Without `r`, a PCRE with an offset is anchored to that offset (or
    // its maxshift window); `e` confines the whole match to the window.
    let floating = matches!(p.offset, None | Some(Offset::Any)) || p.rolling;
    let hay = if p.encompass {
        &data[..hi.min(data.len())]
    } else {
        data
    };
    let mut at = lo;
    let mut n = 0u32;
    while at <= hay.len() {
        let Some(m) = p.re.find_at(hay, at) else {
            break;
        };
        if (p.anchored && m.start() != lo) || (!floating && m.start() > hi) {
            break;
        }
        n += 1;
        if !p.global || n >= MAX_PCRE_MATCHES {
            break;
        }
        at = if m.end() > m.start() {
            m.end()
        } else {
            m.end() + 1
        };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_names() {
        assert_eq!(Kind::from_name("daily.ndb"), Some(Kind::Ndb));
        assert_eq!(Kind::from_name("x.LDB"), Some(Kind::Ldb));
        assert_eq!(
            Kind::from_name("main.cvd"),
            Some(Kind::Container(Flavour::Cvd))
        );
        assert_eq!(Kind::from_name("local.ign2"), Some(Kind::Ign2));
        assert_eq!(Kind::from_name("x.hdb"), None);
        assert_eq!(Kind::from_name("ndb"), None);
    }

    #[test]
    fn anchor_prefers_long_and_rare() {
        let e = hexsig::parse_body("0000??41424344??0000").unwrap();
        assert_eq!(choose_anchor(&e), Some((2, 0, 4)));
        let body = format!("{}4142434445464748494a4b4c4d4e4f5000", "00".repeat(20));
        let e = hexsig::parse_body(&body).unwrap();
        let (e, a) = isolate_anchor(e);
        assert_eq!(a, Some((1, 2)));
        assert_eq!(e.len(), 3);
        assert_eq!(hexsig::Display(&e).to_string(), body);
        assert_eq!(gram_of(b"\0\0ABCDE"), (u32::from_le_bytes(*b"ABCD"), 2, 4));
        let e = hexsig::parse_body("41??42").unwrap();
        assert_eq!(choose_anchor(&e), None);
    }

    #[test]
    fn cvd_errors_are_reported() {
        let mut db = Database::new();
        let r = db.load("bad.cvd", Kind::Container(Flavour::Cvd), b"junk");
        assert!(r.error.is_some());
    }
}
