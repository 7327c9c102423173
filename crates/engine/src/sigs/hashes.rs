//! Hash IOCs and hash allow-lists: Loki text files and ClamAV `.hdb`/`.hsb`
//! (IOCs) and `.fp`/`.sfp` (allow-lists).
//!
//! The index is keyed by digest and also remembers every size an IOC was
//! given with, so that the scanner hashes a file only when some IOC could
//! match it (see [`HashIndex::needed`]). Loki IOCs carry no size and so make
//! their algorithm "wildcard": every file must then be hashed with it.

use super::{SigIssue, SourceId};
use crate::digest::{Algorithms, Digests};
use rustc_hash::{FxHashMap, FxHashSet};

/// Default score of a hash IOC that does not state one: a known-bad hash is
/// as certain as a detection gets.
pub const DEFAULT_HASH_SCORE: u32 = 100;

/// One hash IOC (or allow-list entry).
#[derive(Clone, Debug)]
pub struct HashEntry {
    /// Description or signature name.
    pub name: Box<str>,
    /// Score given in the file, or [`DEFAULT_HASH_SCORE`].
    pub score: u32,
    /// Size the IOC was published with; `None` matches any size.
    pub size: Option<u64>,
    /// Which signature file it came from.
    pub source: SourceId,
}

#[derive(Default)]
struct Table<const N: usize> {
    /// The first entry of each digest: almost every digest has one.
    by_digest: FxHashMap<[u8; N], HashEntry>,
    /// Further entries for a digest already present (the same hash in
    /// another feed, or published with another size); kept apart so the
    /// common case costs no `Vec` per digest.
    more: FxHashMap<[u8; N], Vec<HashEntry>>,
    sizes: FxHashSet<u64>,
    any_size: bool,
}

impl<const N: usize> Table<N> {
    fn insert(&mut self, digest: [u8; N], entry: HashEntry) -> bool {
        match entry.size {
            Some(s) => {
                self.sizes.insert(s);
            }
            None => self.any_size = true,
        }
        let Some(first) = self.by_digest.get(&digest) else {
            self.by_digest.insert(digest, entry);
            return true;
        };
        // The same line twice (same source, size and name) is one IOC; the
        // same hash from another feed is reported with each of its names.
        let same = |e: &HashEntry| {
            e.source == entry.source && e.size == entry.size && e.name == entry.name
        };
        let more = self.more.entry(digest).or_default();
        if same(first) || more.iter().any(same) {
            return false;
        }
        more.push(entry);
        true
    }

    fn wants(&self, size: u64) -> bool {
        !self.by_digest.is_empty() && (self.any_size || self.sizes.contains(&size))
    }

    fn get<'a>(&'a self, digest: &[u8; N], size: u64, out: &mut Vec<&'a HashEntry>) {
        let fits = |e: &&HashEntry| e.size.is_none_or(|s| s == size);
        if let Some(first) = self.by_digest.get(digest) {
            out.extend(std::iter::once(first).filter(fits));
            if let Some(more) = self.more.get(digest) {
                out.extend(more.iter().filter(fits));
            }
        }
    }
}

/// Digests to look up, indexed by algorithm and size.
#[derive(Default)]
pub struct HashIndex {
    md5: Table<16>,
    sha1: Table<20>,
    sha256: Table<32>,
    duplicates: usize,
}

impl HashIndex {
    /// Number of distinct digests (a digest listed by several feeds counts
    /// once).
    pub fn len(&self) -> usize {
        self.md5.by_digest.len() + self.sha1.by_digest.len() + self.sha256.by_digest.len()
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

    /// The algorithms worth computing for a file of `size` bytes: only those
    /// for which some entry has exactly this size, or any size.
    pub fn needed(&self, size: u64) -> Algorithms {
        Algorithms {
            md5: self.md5.wants(size),
            sha1: self.sha1.wants(size),
            sha256: self.sha256.wants(size),
        }
    }

    /// Every entry matching the computed digests of a file of `size` bytes,
    /// with the algorithm name and hex digest that matched.
    pub fn lookup(&self, digests: &Digests, size: u64) -> Vec<(&'static str, String, &HashEntry)> {
        let mut hits = Vec::new();
        let mut found = Vec::new();
        if let Some(d) = &digests.md5 {
            self.md5.get(d, size, &mut found);
            hits.extend(found.drain(..).map(|e| ("md5", hex::encode(d), e)));
        }
        if let Some(d) = &digests.sha1 {
            self.sha1.get(d, size, &mut found);
            hits.extend(found.drain(..).map(|e| ("sha1", hex::encode(d), e)));
        }
        if let Some(d) = &digests.sha256 {
            self.sha256.get(d, size, &mut found);
            hits.extend(found.drain(..).map(|e| ("sha256", hex::encode(d), e)));
        }
        hits
    }

    /// Adds one digest given in hex; the algorithm follows from its length.
    pub fn insert_hex(&mut self, hex_digest: &str, entry: HashEntry) -> Result<(), String> {
        let inserted = match hex_digest.len() {
            32 => self.md5.insert(decode(hex_digest)?, entry),
            40 => self.sha1.insert(decode(hex_digest)?, entry),
            64 => self.sha256.insert(decode(hex_digest)?, entry),
            n => {
                return Err(format!(
                    "'{}' is not an MD5, SHA-1 or SHA-256 ({n} characters)",
                    shorten(hex_digest)
                ));
            }
        };
        if !inserted {
            self.duplicates += 1;
        }
        Ok(())
    }
}

fn decode<const N: usize>(s: &str) -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out)
        .map_err(|_| format!("'{}' is not hexadecimal", shorten(s)))?;
    Ok(out)
}

fn shorten(s: &str) -> String {
    let mut t: String = s.chars().take(70).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    crate::sanitize::for_terminal(&t)
}

/// Parses a Loki hash file: `hash;description` or `hash;score;description`,
/// `#` comments and blank lines ignored. Bad lines become issues; the rest
/// load.
pub fn parse_loki(
    text: &str,
    source: SourceId,
    file: &str,
    index: &mut HashIndex,
    issues: &mut Vec<SigIssue>,
) -> usize {
    let mut added = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.splitn(3, ';').collect();
        let (hash, score, desc) = match fields.as_slice() {
            [h] => (*h, DEFAULT_HASH_SCORE, ""),
            [h, d] => (*h, DEFAULT_HASH_SCORE, *d),
            [h, s, d] => match s.trim().parse::<u32>() {
                Ok(score) => (*h, score, *d),
                // `hash;description;with;semicolons` is the two-field form.
                Err(_) => (*h, DEFAULT_HASH_SCORE, &line[h.len() + 1..]),
            },
            _ => unreachable!("splitn(3) yields 1 to 3 fields"),
        };
        let hash = hash.trim().to_ascii_lowercase();
        let name = if desc.trim().is_empty() {
            format!("Hash IOC {hash}")
        } else {
            desc.trim().to_string()
        };
        let entry = HashEntry {
            name: name.into(),
            score,
            size: None,
            source,
        };
        match index.insert_hex(&hash, entry) {
            Ok(()) => added += 1,
            Err(reason) => issues.push(SigIssue::line(file, n + 1, reason)),
        }
    }
    added
}

/// Which ClamAV hash database a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClamKind {
    /// `.hdb`/`.hdu`/`.fp`: MD5 only.
    Md5,
    /// `.hsb`/`.hsu`/`.sfp`: SHA-1 or SHA-256.
    Sha,
}

/// Parses a ClamAV hash database: `hash:size:name[:min-flevel[:max-flevel]]`
/// with `size` a number or `*` (any size).
pub fn parse_clamav(
    text: &str,
    kind: ClamKind,
    source: SourceId,
    file: &str,
    index: &mut HashIndex,
    issues: &mut Vec<SigIssue>,
) -> usize {
    let mut added = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_clamav_line(line, kind) {
            Ok((hash, size, name)) => {
                let entry = HashEntry {
                    name: name.into(),
                    score: DEFAULT_HASH_SCORE,
                    size,
                    source,
                };
                match index.insert_hex(&hash, entry) {
                    Ok(()) => added += 1,
                    Err(reason) => issues.push(SigIssue::line(file, n + 1, reason)),
                }
            }
            Err(reason) => issues.push(SigIssue::line(file, n + 1, reason)),
        }
    }
    added
}

fn parse_clamav_line(line: &str, kind: ClamKind) -> Result<(String, Option<u64>, String), String> {
    let mut fields = line.split(':');
    let (Some(hash), Some(size), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
        return Err("expected hash:size:name".to_string());
    };
    let hash = hash.trim().to_ascii_lowercase();
    let ok_len = match kind {
        ClamKind::Md5 => hash.len() == 32,
        ClamKind::Sha => hash.len() == 40 || hash.len() == 64,
    };
    if !ok_len {
        let want = if kind == ClamKind::Md5 {
            "an MD5 (32 hex digits)"
        } else {
            "a SHA-1 or SHA-256 (40 or 64 hex digits)"
        };
        return Err(format!("'{}' is not {want}", shorten(&hash)));
    }
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
    Ok((hash, size, name.to_string()))
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
        let mut idx = HashIndex::default();
        let mut issues = Vec::new();
        let n = parse_loki(&text, SourceId(0), "hash-iocs.txt", &mut idx, &mut issues);
        assert_eq!(n, 3);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].line, Some(5));
        assert!(
            issues[0].message.contains("not an MD5"),
            "{}",
            issues[0].message
        );
        let hits = idx.lookup(&digests_of(b""), 0);
        let names: Vec<_> = hits.iter().map(|h| &*h.2.name).collect();
        assert_eq!(names, ["Empty file", "desc;with;semicolons"]);
        let abc = idx.lookup(&digests_of(b"abc"), 3);
        assert_eq!(abc[0].2.score, 80);
        // Loki IOCs have no size: every size needs hashing.
        assert_eq!(idx.needed(12345), Algorithms::ALL);
    }

    #[test]
    fn clamav_sizes_gate_hashing() {
        let text = format!(
            "{EMPTY_SHA256}:0:Empty.File\n{}:*:Any.Size\nnothex:1:x\n{EMPTY_MD5}:0:Wrong.Kind\n",
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let mut idx = HashIndex::default();
        let mut issues = Vec::new();
        let n = parse_clamav(
            &text,
            ClamKind::Sha,
            SourceId(0),
            "x.hsb",
            &mut idx,
            &mut issues,
        );
        assert_eq!(n, 2);
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[1].line, Some(4));
        // SHA-1 has a wildcard entry, SHA-256 only size 0.
        assert_eq!(
            idx.needed(0),
            Algorithms {
                md5: false,
                sha1: true,
                sha256: true
            }
        );
        assert_eq!(
            idx.needed(7),
            Algorithms {
                md5: false,
                sha1: true,
                sha256: false
            }
        );
        assert_eq!(idx.lookup(&digests_of(b""), 0).len(), 1);
        // Right digest, wrong size: no hit.
        assert!(idx.lookup(&digests_of(b""), 1).is_empty());
    }

    #[test]
    fn hdb_requires_md5_and_numeric_size() {
        let mut idx = HashIndex::default();
        let mut issues = Vec::new();
        parse_clamav(
            &format!("{EMPTY_MD5}:zero:X\n{EMPTY_MD5}:0\n"),
            ClamKind::Md5,
            SourceId(0),
            "x.hdb",
            &mut idx,
            &mut issues,
        );
        assert!(idx.is_empty());
        assert_eq!(issues.len(), 2);
        assert!(issues[0].message.contains("size"));
        assert!(issues[1].message.contains("hash:size:name"));
    }

    #[test]
    fn same_hash_in_two_feeds_reports_both_but_repeats_count_once() {
        let mut idx = HashIndex::default();
        let mut issues = Vec::new();
        let loki = format!("{EMPTY_MD5};a\n{EMPTY_MD5};a\n{EMPTY_MD5};b\n");
        parse_loki(&loki, SourceId(0), "h", &mut idx, &mut issues);
        let hdb = format!("{EMPTY_MD5}:0:C\n{EMPTY_MD5}:5:Other.Size\n");
        parse_clamav(
            &hdb,
            ClamKind::Md5,
            SourceId(1),
            "x.hdb",
            &mut idx,
            &mut issues,
        );
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.duplicates(), 1);
        let hits = idx.lookup(&digests_of(b""), 0);
        let names: Vec<_> = hits.iter().map(|h| h.2.name.to_string()).collect();
        assert_eq!(names, ["a", "b", "C"]);
    }
}
