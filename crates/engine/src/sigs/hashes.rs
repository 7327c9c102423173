//! Hash IOCs and hash allow-lists: Loki text files and ClamAV `.hdb`/`.hsb`
//! (IOCs) and `.fp`/`.sfp` (allow-lists).
//!
//! Built to hold millions of IOCs in little memory (a ClamAV feed of four
//! million SHA-256 lines is a normal case): files are parsed line by line
//! from a reader without a per-line allocation, each IOC is one fixed-size
//! record (digest, size, offset of its name) in a vector per algorithm,
//! names live back to back in one byte arena, and what many IOCs share
//! (source file, score, an unusual size) is interned once as a "class".
//! [`HashIndexBuilder::finish`] sorts the records once; a lookup is a
//! binary search. A SHA-256 IOC costs its 40-byte record plus its name.
//!
//! The index also remembers every size an IOC was given with, so that the
//! scanner hashes a file only when some IOC could match it (see
//! [`HashIndex::needed`]). Loki IOCs carry no size and so make their
//! algorithm "wildcard": every file must then be hashed with it.

use super::{SigIssue, SourceId};
use crate::digest::{Algorithms, Digests};
use rustc_hash::FxHashMap;
use std::io::BufRead;

/// Default score of a hash IOC that does not state one: a known-bad hash is
/// as certain as a detection gets.
pub const DEFAULT_HASH_SCORE: u32 = 100;

/// Longest line read from an IOC file: real lines are well under 1 KiB,
/// and a longer one must not make the loader buffer an arbitrary amount.
pub const MAX_LINE: usize = 64 << 10;

/// Longest name kept for one IOC; longer descriptions are cut (at a
/// character boundary). Keeps one hostile line from bloating the arena.
pub const MAX_NAME: usize = 1024;

/// `Rec::size` when the size is not stored in the record (any size, or one
/// of 4 GiB or more): the record's class has it.
const SIZE_IN_CLASS: u32 = u32::MAX;

/// What many IOCs share, stored once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Class {
    source: SourceId,
    score: u32,
    size: SizeKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SizeKind {
    /// The size is in the record.
    InRecord,
    /// Any size matches.
    Any,
    /// This size, too large for the record.
    Wide(u64),
}

/// One IOC: the digest, its size (or [`SIZE_IN_CLASS`]) and the offset of
/// its name record in the arena. No padding: 40 bytes for a SHA-256.
#[derive(Clone, Copy)]
#[repr(C)]
struct Rec<const N: usize> {
    digest: [u8; N],
    size: u32,
    name: u32,
}

/// One IOC found by [`HashIndex::lookup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashHit<'a> {
    /// `md5`, `sha1` or `sha256`.
    pub algorithm: &'static str,
    /// The digest that matched, in lowercase hex.
    pub digest: String,
    /// Description or signature name.
    pub name: &'a str,
    /// Score given in the file, or [`DEFAULT_HASH_SCORE`].
    pub score: u32,
    /// Size the IOC was published with; `None` matches any size.
    pub size: Option<u64>,
    /// Which signature file it came from.
    pub source: SourceId,
}

/// Names and classes, shared by the three tables.
#[derive(Default)]
struct Arena {
    /// Name records back to back: class id and name length as LEB128
    /// varints, then the name's bytes.
    bytes: Vec<u8>,
    classes: Vec<Class>,
    class_ids: FxHashMap<Class, u32>,
}

impl Arena {
    fn class(&mut self, c: Class) -> u32 {
        if let Some(id) = self.class_ids.get(&c) {
            return *id;
        }
        let id = self.classes.len() as u32;
        self.classes.push(c);
        self.class_ids.insert(c, id);
        id
    }

    /// Appends a name record; `None` when the arena is full (4 GiB of names).
    fn push(&mut self, class: u32, name: &str) -> Option<u32> {
        let at = u32::try_from(self.bytes.len()).ok()?;
        let room = (u32::MAX as usize).saturating_sub(self.bytes.len());
        if name.len() + 10 > room {
            return None;
        }
        put_varint(&mut self.bytes, class as usize);
        put_varint(&mut self.bytes, name.len());
        self.bytes.extend_from_slice(name.as_bytes());
        Some(at)
    }

    /// The class and name of the record at `at` (always one written by
    /// `push`, so well-formed).
    fn get(&self, at: u32) -> (Class, &str) {
        let mut pos = at as usize;
        let class = get_varint(&self.bytes, &mut pos);
        let len = get_varint(&self.bytes, &mut pos);
        let name = self
            .bytes
            .get(pos..pos.saturating_add(len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("");
        let class = self.classes.get(class).copied().unwrap_or(Class {
            source: SourceId(0),
            score: DEFAULT_HASH_SCORE,
            size: SizeKind::Any,
        });
        (class, name)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], pos: &mut usize) -> usize {
    let mut v = 0usize;
    let mut shift = 0;
    while let Some(&b) = bytes.get(*pos) {
        *pos += 1;
        if shift < usize::BITS {
            v |= usize::from(b & 0x7f) << shift;
        }
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    v
}

struct Table<const N: usize> {
    /// Sorted by digest, then by name offset (load order) once finished.
    recs: Vec<Rec<N>>,
    /// Sizes that fit a record, sorted and distinct once finished.
    sizes: Vec<u32>,
    /// Sizes of 4 GiB or more.
    wide_sizes: Vec<u64>,
    any_size: bool,
    distinct: usize,
}

impl<const N: usize> Default for Table<N> {
    fn default() -> Self {
        Table {
            recs: Vec::new(),
            sizes: Vec::new(),
            wide_sizes: Vec::new(),
            any_size: false,
            distinct: 0,
        }
    }
}

impl<const N: usize> Table<N> {
    /// Sorts, drops repeated lines (same digest, source, size and name:
    /// one IOC) and indexes sizes. Returns the number dropped.
    fn finish(&mut self, arena: &Arena) -> usize {
        // The name offset grows with load order, so ties keep the order
        // the feeds were given in without a stable sort's extra buffer.
        self.recs
            .sort_unstable_by(|a, b| a.digest.cmp(&b.digest).then(a.name.cmp(&b.name)));
        let mut kept = 0;
        let mut run_start = 0;
        let mut dropped = 0;
        for i in 0..self.recs.len() {
            let r = self.recs[i];
            if kept == 0 || self.recs[kept - 1].digest != r.digest {
                run_start = kept;
                self.distinct += 1;
            } else {
                let (class, name) = arena.get(r.name);
                let same = self.recs[run_start..kept].iter().any(|k| {
                    let (kc, kn) = arena.get(k.name);
                    k.size == r.size && kc == class && kn == name
                });
                if same {
                    dropped += 1;
                    continue;
                }
            }
            self.recs[kept] = r;
            kept += 1;
        }
        self.recs.truncate(kept);
        self.recs.shrink_to_fit();
        self.sizes.sort_unstable();
        self.sizes.dedup();
        self.sizes.shrink_to_fit();
        self.wide_sizes.sort_unstable();
        self.wide_sizes.dedup();
        dropped
    }

    fn wants(&self, size: u64) -> bool {
        !self.recs.is_empty()
            && (self.any_size
                || match u32::try_from(size) {
                    Ok(s) if s != SIZE_IN_CLASS => self.sizes.binary_search(&s).is_ok(),
                    _ => self.wide_sizes.binary_search(&size).is_ok(),
                })
    }

    fn get<'a>(
        &self,
        arena: &'a Arena,
        algorithm: &'static str,
        digest: &[u8; N],
        size: u64,
        out: &mut Vec<HashHit<'a>>,
    ) {
        let start = self.recs.partition_point(|r| r.digest < *digest);
        for r in self.recs[start..]
            .iter()
            .take_while(|r| r.digest == *digest)
        {
            let (class, name) = arena.get(r.name);
            let ioc_size = match class.size {
                SizeKind::InRecord => Some(u64::from(r.size)),
                SizeKind::Any => None,
                SizeKind::Wide(s) => Some(s),
            };
            if ioc_size.is_none_or(|s| s == size) {
                out.push(HashHit {
                    algorithm,
                    digest: hex::encode(digest),
                    name,
                    score: class.score,
                    size: ioc_size,
                    source: class.source,
                });
            }
        }
    }
}

/// Hash IOCs being loaded; [`finish`](Self::finish) makes the index.
#[derive(Default)]
pub struct HashIndexBuilder {
    index: HashIndex,
    full: bool,
}

impl HashIndexBuilder {
    /// Adds one digest given in hex (either case); the algorithm follows
    /// from its length.
    pub fn insert_hex(
        &mut self,
        hex_digest: &str,
        name: &str,
        score: u32,
        size: Option<u64>,
        source: SourceId,
    ) -> Result<(), String> {
        let ix = &mut self.index;
        let (size_kind, rec_size) = match size {
            None => (SizeKind::Any, SIZE_IN_CLASS),
            Some(s) => match u32::try_from(s) {
                Ok(v) if v != SIZE_IN_CLASS => (SizeKind::InRecord, v),
                _ => (SizeKind::Wide(s), SIZE_IN_CLASS),
            },
        };
        let name = cut(name, MAX_NAME);
        // Decode before touching the arena: a bad digest adds nothing.
        let mut digest = [0u8; 32];
        let n = match hex_digest.len() {
            32 | 40 | 64 => hex_digest.len() / 2,
            n => {
                return Err(format!(
                    "'{}' is not an MD5, SHA-1 or SHA-256 ({n} characters)",
                    shorten(hex_digest)
                ));
            }
        };
        if !decode_hex(hex_digest.as_bytes(), &mut digest[..n]) {
            return Err(format!("'{}' is not hexadecimal", shorten(hex_digest)));
        }
        let class = ix.arena.class(Class {
            source,
            score,
            size: size_kind,
        });
        let Some(at) = ix.arena.push(class, name) else {
            if !self.full {
                self.full = true;
                tracing::warn!("hash IOC names exceed 4 GiB; further IOCs are dropped");
            }
            return Err("too many hash IOCs: 4 GiB of names already loaded".to_string());
        };
        fn add<const N: usize>(t: &mut Table<N>, d: &[u8], size: u32, kind: SizeKind, at: u32) {
            let mut digest = [0u8; N];
            digest.copy_from_slice(&d[..N]);
            match kind {
                SizeKind::InRecord => t.sizes.push(size),
                SizeKind::Any => t.any_size = true,
                SizeKind::Wide(s) => t.wide_sizes.push(s),
            }
            t.recs.push(Rec {
                digest,
                size,
                name: at,
            });
        }
        match n {
            16 => add(&mut ix.md5, &digest, rec_size, size_kind, at),
            20 => add(&mut ix.sha1, &digest, rec_size, size_kind, at),
            _ => add(&mut ix.sha256, &digest, rec_size, size_kind, at),
        }
        Ok(())
    }

    /// Sorts and indexes what was loaded.
    pub fn finish(mut self) -> HashIndex {
        let ix = &mut self.index;
        let mut dropped = ix.md5.finish(&ix.arena);
        dropped += ix.sha1.finish(&ix.arena);
        dropped += ix.sha256.finish(&ix.arena);
        ix.duplicates = dropped;
        ix.arena.bytes.shrink_to_fit();
        ix.arena.class_ids = FxHashMap::default();
        self.index
    }
}

/// Digests to look up, indexed by algorithm and size; immutable.
#[derive(Default)]
pub struct HashIndex {
    md5: Table<16>,
    sha1: Table<20>,
    sha256: Table<32>,
    arena: Arena,
    duplicates: usize,
}

impl HashIndex {
    /// Number of distinct digests (a digest listed by several feeds counts
    /// once).
    pub fn len(&self) -> usize {
        self.md5.distinct + self.sha1.distinct + self.sha256.distinct
    }

    /// True when the index holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lines dropped because the same IOC (digest, size, name, file) was
    /// already loaded.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// Bytes of memory the index holds (records, size lists, names).
    pub fn heap_bytes(&self) -> usize {
        fn t<const N: usize>(t: &Table<N>) -> usize {
            t.recs.capacity() * std::mem::size_of::<Rec<N>>()
                + t.sizes.capacity() * 4
                + t.wide_sizes.capacity() * 8
        }
        t(&self.md5) + t(&self.sha1) + t(&self.sha256) + self.arena.bytes.capacity()
    }

    /// The algorithms worth computing for a file of `size` bytes: only those
    /// for which some entry has exactly this size, or any size.
    pub fn needed(&self, size: u64) -> Algorithms {
        Algorithms {
            md5: self.md5.wants(size),
            sha1: self.sha1.wants(size),
            sha256: self.sha256.wants(size),
        }
    }

    /// Every entry matching the computed digests of a file of `size` bytes.
    pub fn lookup(&self, digests: &Digests, size: u64) -> Vec<HashHit<'_>> {
        let mut hits = Vec::new();
        if let Some(d) = &digests.md5 {
            self.md5.get(&self.arena, "md5", d, size, &mut hits);
        }
        if let Some(d) = &digests.sha1 {
            self.sha1.get(&self.arena, "sha1", d, size, &mut hits);
        }
        if let Some(d) = &digests.sha256 {
            self.sha256.get(&self.arena, "sha256", d, size, &mut hits);
        }
        hits
    }
}

/// Value of each byte as a hex digit (either case), or 0xff.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes `hex` (exactly twice as long as `out`) into `out`; false when a
/// character is not a hex digit. A table lookup per digit: with millions
/// of IOCs, decoding was the largest part of loading with `hex`'s decoder.
fn decode_hex(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != out.len() * 2 {
        return false;
    }
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let hi = HEX_VALUE[usize::from(pair[0])];
        let lo = HEX_VALUE[usize::from(pair[1])];
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    bad < 0x10
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn shorten(s: &str) -> String {
    let mut t: String = s.chars().take(70).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    crate::sanitize::for_terminal(&t)
}

/// Calls `f` with each line of `reader` (1-based number, text without its
/// line ending; invalid UTF-8 replaced, so one bad byte costs at most its
/// line). A line over [`MAX_LINE`] bytes is skipped as an issue; a read
/// error ends the file as an issue.
pub fn for_each_line(
    mut reader: impl BufRead,
    file: &str,
    issues: &mut Vec<SigIssue>,
    mut f: impl FnMut(usize, &str, &mut Vec<SigIssue>),
) {
    let mut buf = Vec::with_capacity(256);
    let mut no = 0usize;
    loop {
        buf.clear();
        no += 1;
        let limit = MAX_LINE as u64 + 1;
        match std::io::Read::take(&mut reader, limit).read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                issues.push(SigIssue::line(file, no, format!("cannot read: {e}")));
                return;
            }
        }
        if buf.len() > MAX_LINE {
            issues.push(SigIssue::line(
                file,
                no,
                format!("line longer than {MAX_LINE} bytes; skipped"),
            ));
            if buf.last() != Some(&b'\n')
                && let Err(e) = reader.skip_until(b'\n')
            {
                issues.push(SigIssue::line(file, no, format!("cannot read: {e}")));
                return;
            }
            continue;
        }
        let line = String::from_utf8_lossy(&buf);
        f(no, line.trim_end_matches(['\n', '\r']), issues);
    }
}

/// Parses a Loki hash file: `hash;description` or `hash;score;description`,
/// `#` comments and blank lines ignored. Bad lines become issues; the rest
/// load.
pub fn parse_loki(
    reader: impl BufRead,
    source: SourceId,
    file: &str,
    index: &mut HashIndexBuilder,
    issues: &mut Vec<SigIssue>,
) -> usize {
    let mut added = 0;
    for_each_line(reader, file, issues, |n, line, issues| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        let mut fields = line.splitn(3, ';');
        let hash = fields.next().unwrap_or("");
        let (score, desc) = match (fields.next(), fields.next()) {
            (None, _) => (DEFAULT_HASH_SCORE, ""),
            (Some(d), None) => (DEFAULT_HASH_SCORE, d),
            (Some(s), Some(d)) => match s.trim().parse::<u32>() {
                Ok(score) => (score, d),
                // `hash;description;with;semicolons` is the two-field form.
                Err(_) => (DEFAULT_HASH_SCORE, &line[hash.len() + 1..]),
            },
        };
        let hash = hash.trim();
        let fallback;
        let name = if desc.trim().is_empty() {
            fallback = format!("Hash IOC {}", hash.to_ascii_lowercase());
            fallback.as_str()
        } else {
            desc.trim()
        };
        match index.insert_hex(hash, name, score, None, source) {
            Ok(()) => added += 1,
            Err(reason) => issues.push(SigIssue::line(file, n, reason)),
        }
    });
    added
}

/// Parses a ClamAV hash database: `hash:size:name[:min-flevel[:max-flevel]]`
/// with `size` a number or `*` (any size). As in ClamAV, the digest is
/// told by the length of the hash (32 hex digits MD5, 40 SHA-1, 64
/// SHA-256) in every hash database alike: `.hdb`/`.hdu`, `.hsb`/`.hsu`
/// and the `.fp`/`.sfp` allow-lists (ClamAV's own test `clamav.hdb`
/// holds a SHA-256 line).
pub fn parse_clamav(
    reader: impl BufRead,
    source: SourceId,
    file: &str,
    index: &mut HashIndexBuilder,
    issues: &mut Vec<SigIssue>,
) -> usize {
    let mut added = 0;
    for_each_line(reader, file, issues, |n, line, issues| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        let r = parse_clamav_line(line).and_then(|(hash, size, name)| {
            index.insert_hex(hash, name, DEFAULT_HASH_SCORE, size, source)
        });
        match r {
            Ok(()) => added += 1,
            Err(reason) => issues.push(SigIssue::line(file, n, reason)),
        }
    });
    added
}

fn parse_clamav_line(line: &str) -> Result<(&str, Option<u64>, &str), String> {
    let mut fields = line.split(':');
    let (Some(hash), Some(size), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
        return Err("expected hash:size:name".to_string());
    };
    let hash = hash.trim();
    let size = match size.trim() {
        "*" => None,
        s => Some(
            s.parse::<u64>()
                .map_err(|_| format!("size '{}' is neither a number nor '*'", shorten(s)))?,
        ),
    };
    let name = name.trim();
    if name.is_empty() {
        return Err("empty signature name".to_string());
    }
    Ok((hash, size, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digests;

    const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn digests_of(data: &[u8]) -> Digests {
        Digests::of(data, Algorithms::ALL)
    }

    #[test]
    fn loki_formats_and_comments() {
        let text = format!(
            "# comment\n\n{EMPTY_MD5};Empty file\n{};80;Abc file\nzz;bad\n{EMPTY_SHA256};desc;with;semicolons\n",
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let mut idx = HashIndexBuilder::default();
        let mut issues = Vec::new();
        let n = parse_loki(
            text.as_bytes(),
            SourceId(0),
            "hash-iocs.txt",
            &mut idx,
            &mut issues,
        );
        assert_eq!(n, 3);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].line, Some(5));
        assert!(
            issues[0].message.contains("not an MD5"),
            "{}",
            issues[0].message
        );
        let idx = idx.finish();
        let hits = idx.lookup(&digests_of(b""), 0);
        let names: Vec<_> = hits.iter().map(|h| h.name).collect();
        assert_eq!(names, ["Empty file", "desc;with;semicolons"]);
        let abc = idx.lookup(&digests_of(b"abc"), 3);
        assert_eq!(abc[0].score, 80);
        // Loki IOCs have no size: every size needs hashing.
        assert_eq!(idx.needed(12345), Algorithms::ALL);
    }

    #[test]
    fn clamav_sizes_gate_hashing() {
        let text = format!(
            "{EMPTY_SHA256}:0:Empty.File\n{}:*:Any.Size\nnothex:1:x\n{EMPTY_MD5}:0:Md5.In.Hsb\n{}:0:Too.Short\n",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            &EMPTY_MD5[..30]
        );
        let mut idx = HashIndexBuilder::default();
        let mut issues = Vec::new();
        let n = parse_clamav(text.as_bytes(), SourceId(0), "x.hsb", &mut idx, &mut issues);
        // As in ClamAV, an MD5 in a .hsb is an MD5 (the length decides).
        assert_eq!(n, 3);
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert_eq!(issues[1].line, Some(5));
        assert!(issues[1].message.contains("not an MD5, SHA-1 or SHA-256"));
        let idx = idx.finish();
        // SHA-1 has a wildcard entry, SHA-256 only size 0.
        assert_eq!(idx.needed(0), Algorithms::ALL);
        assert_eq!(
            idx.needed(7),
            Algorithms {
                md5: false,
                sha1: true,
                sha256: false
            }
        );
        assert_eq!(idx.lookup(&digests_of(b""), 0).len(), 2);
        // Right digest, wrong size: no hit.
        assert!(idx.lookup(&digests_of(b""), 1).is_empty());
    }

    #[test]
    fn hdb_requires_md5_and_numeric_size() {
        let mut idx = HashIndexBuilder::default();
        let mut issues = Vec::new();
        parse_clamav(
            format!("{EMPTY_MD5}:zero:X\n{EMPTY_MD5}:0\n").as_bytes(),
            SourceId(0),
            "x.hdb",
            &mut idx,
            &mut issues,
        );
        let idx = idx.finish();
        assert!(idx.is_empty());
        assert_eq!(issues.len(), 2);
        assert!(issues[0].message.contains("size"));
        assert!(issues[1].message.contains("hash:size:name"));
    }

    #[test]
    fn same_hash_in_two_feeds_reports_both_but_repeats_count_once() {
        let mut idx = HashIndexBuilder::default();
        let mut issues = Vec::new();
        let loki = format!("{EMPTY_MD5};a\n{EMPTY_MD5};a\n{EMPTY_MD5};b\n");
        parse_loki(loki.as_bytes(), SourceId(0), "h", &mut idx, &mut issues);
        let hdb = format!("{EMPTY_MD5}:0:C\n{EMPTY_MD5}:5:Other.Size\n");
        parse_clamav(hdb.as_bytes(), SourceId(1), "x.hdb", &mut idx, &mut issues);
        let idx = idx.finish();
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.duplicates(), 1);
        let hits = idx.lookup(&digests_of(b""), 0);
        let names: Vec<_> = hits.iter().map(|h| h.name.to_string()).collect();
        assert_eq!(names, ["a", "b", "C"]);
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;
    use crate::digest::Digests;

    #[test]
    fn hex_decoding_agrees_with_the_hex_crate() {
        let mut out = [0u8; 4];
        assert!(!decode_hex(b"00fFa9Z0", &mut out));
        assert!(decode_hex(b"00fFa910", &mut out));
        assert_eq!(out, [0x00, 0xff, 0xa9, 0x10]);
        assert!(!decode_hex(b"00fFa91", &mut out));
        assert!(!decode_hex(b"00fFa91g", &mut out));
        for b in 0..=255u8 {
            for s in [[b, b'0'], [b'f', b]] {
                let mut one = [0u8; 1];
                let ours = decode_hex(&s, &mut one).then_some(one[0]);
                let theirs = hex::decode(s).ok().map(|v| v[0]);
                assert_eq!(ours, theirs, "{s:?}");
            }
        }
    }

    #[test]
    fn records_are_compact() {
        assert_eq!(std::mem::size_of::<Rec<32>>(), 40);
        assert_eq!(std::mem::size_of::<Rec<16>>(), 24);
    }

    #[test]
    fn large_and_wildcard_sizes_and_many_entries() {
        let mut b = HashIndexBuilder::default();
        let mut text = String::new();
        // Digests of the data "0".."999", each with its true size, in
        // reverse order so that the sort has work to do.
        for i in (0..1000u32).rev() {
            let data = i.to_string();
            let d = Digests::of(data.as_bytes(), Algorithms::SHA256);
            text.push_str(&format!(
                "{}:{}:Sig.{i}\n",
                hex::encode_upper(d.sha256.unwrap()),
                data.len()
            ));
        }
        let big = Digests::of(b"big", Algorithms::SHA256);
        text.push_str(&format!(
            "{}:5000000000:Big\n",
            hex::encode(big.sha256.unwrap())
        ));
        let mut issues = Vec::new();
        let n = parse_clamav(text.as_bytes(), SourceId(3), "x.hsb", &mut b, &mut issues);
        assert_eq!((n, issues.len()), (1001, 0));
        let idx = b.finish();
        assert_eq!(idx.len(), 1001);
        for i in [0u32, 1, 499, 999] {
            let data = i.to_string();
            let hits = idx.lookup(
                &Digests::of(data.as_bytes(), Algorithms::SHA256),
                data.len() as u64,
            );
            assert_eq!(hits.len(), 1);
            assert_eq!(hits[0].name, format!("Sig.{i}"));
            assert_eq!(hits[0].source, SourceId(3));
            assert_eq!(hits[0].size, Some(data.len() as u64));
        }
        assert!(idx.needed(5_000_000_000).sha256);
        assert!(!idx.needed(5_000_000_001).sha256);
        assert!(!idx.needed(u64::from(u32::MAX)).sha256);
        assert!(idx.needed(3).sha256 && !idx.needed(4).sha256);
        let hit = idx.lookup(&big, 5_000_000_000);
        assert_eq!(hit[0].name, "Big");
        assert!(idx.lookup(&big, 3).is_empty());
    }

    #[test]
    fn overlong_lines_and_names_are_bounded() {
        let mut b = HashIndexBuilder::default();
        let mut issues = Vec::new();
        let e = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let text = format!(
            "{}\n{e}:0:{}\n{e}:*:ok\n",
            "x".repeat(MAX_LINE + 10),
            "n".repeat(MAX_NAME * 2)
        );
        let n = parse_clamav(text.as_bytes(), SourceId(0), "x.hsb", &mut b, &mut issues);
        assert_eq!(n, 2);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].line, Some(1));
        let idx = b.finish();
        let hits = idx.lookup(&Digests::of(b"", Algorithms::SHA256), 0);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].name.len(), MAX_NAME);
        assert_eq!(hits[1].name, "ok");
    }
}
