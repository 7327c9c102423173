//! AutoIt v3 compiled scripts (`EA05`: AutoIt 3.0 to 3.2.5, `EA06`: 3.2.6
//! and later).
//!
//! A compiled script is the AutoIt interpreter (a PE) carrying an "AU3"
//! block: appended to the executable (older versions) or as its `SCRIPT`
//! resource (newer ones), or alone in an `.a3x` file. The block starts
//! with a 16-byte GUID, `AU3!` and the version (`EA05` or `EA06`), then
//! 16 bytes (a digest of the script's passphrase), then one record per
//! file:
//!
//! | field | EA05 | EA06 |
//! | --- | --- | --- |
//! | `FILE` | MT keystream, seed 0x16FA | RanRot keystream, seed 0x18EE |
//! | name length (u32) | xor 0x29BC | xor 0xADBC |
//! | name (bytes; EA06: UTF-16 units) | MT, 0xA25E + length | RanRot, 0xB33F + length |
//! | path length (u32) | xor 0x29AC | xor 0xF820 |
//! | path | MT, 0xF25E + length | RanRot, 0xF479 + length |
//! | compressed (u8) | clear | clear |
//! | packed size (u32) | xor 0x45AA | xor 0x87BC |
//! | expanded size (u32) | xor 0x45AA | xor 0x87BC |
//! | Adler-32 of the packed data | xor 0xC3D2 | xor 0xA685 |
//! | creation and write times (2 FILETIMEs) | clear | clear |
//! | data | MT, 0x22AF + byte sum of the digest | RanRot, 0x2477 |
//!
//! The name is the script's marker (`>>>AUTOIT SCRIPT<<<`,
//! `>AUTOIT UNICODE SCRIPT<`) or, for a file the script installs with
//! `FileInstall`, the path the file had when the script was compiled; the
//! path is where the compiler read it from. Members are named by the name
//! field. The records end at anything that does not decrypt to `FILE`
//! (the block ends with `AU3!` and the version again).
//!
//! The MT keystream is MT19937 seeded with the seed, one byte per output:
//! bits 1 to 8 of each (`>> 1`). The RanRot keystream is Agner Fog's
//! RANROT generator type B (17 words, rotations 9 and 13) as AutoIt
//! seeds and reads it: see [`RanRot`].
//!
//! Compressed data starts with `EA05` or `EA06`, the expanded size as a
//! big-endian u32, then an LZSS bit stream (most significant bit first):
//! a flag bit (1 for a literal in EA06, 0 in EA05), then either 8 bits of
//! literal or a 15-bit distance and a length coded in 2, 3, 5 and 8-bit
//! steps (see [`Lz::length`]).
//!
//! EA06 scripts are stored tokenised (the interpreter's byte code); they
//! are handed out as stored, not turned back into source text. Older
//! formats (AutoIt 2's `EA03`/`EA04`, `JB01` compression) are not read.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Read;

use crate::packers::{le32, parse_pe, pe_extent};
use crate::{Ctx, Entry, Flow, Issue, Sink};

/// The GUID every AU3 block starts with, then `AU3!`.
const MARKER: [u8; 20] = [
    0xA3, 0x48, 0x4B, 0xBE, 0x98, 0x6C, 0x4A, 0xA9, 0x99, 0x4C, 0x53, 0x0A, 0x86, 0xD6, 0x48, 0x7D,
    b'A', b'U', b'3', b'!',
];
/// Marker, version and the passphrase digest: the first record follows.
const BLOCK_HEADER: usize = 40;
/// An appended block sits right after the executable; the window allows
/// for padding and a signature before it without reading all of a large
/// overlay.
const OVERLAY_WINDOW: usize = 1 << 20;
/// Longest name or path, in characters (Windows' longest path).
const MAX_NAME: u32 = 32_767;
/// Longest match distance of the LZSS stream (15 bits), as a ring size.
const WINDOW: usize = 1 << 15;

/// The two formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    Ea05,
    Ea06,
}

/// The keys of one format's record fields (see the module's table).
struct Keys {
    file: u32,
    name_len: u32,
    name: u32,
    path_len: u32,
    path: u32,
    size: u32,
    crc: u32,
}

impl Version {
    fn name(self) -> &'static str {
        match self {
            Version::Ea05 => "EA05",
            Version::Ea06 => "EA06",
        }
    }

    fn keys(self) -> Keys {
        match self {
            Version::Ea05 => Keys {
                file: 0x16FA,
                name_len: 0x29BC,
                name: 0xA25E,
                path_len: 0x29AC,
                path: 0xF25E,
                size: 0x45AA,
                crc: 0xC3D2,
            },
            Version::Ea06 => Keys {
                file: 0x18EE,
                name_len: 0xADBC,
                name: 0xB33F,
                path_len: 0xF820,
                path: 0xF479,
                size: 0x87BC,
                crc: 0xA685,
            },
        }
    }

    /// Bytes per character of names and paths.
    fn unit(self) -> usize {
        match self {
            Version::Ea05 => 1,
            Version::Ea06 => 2,
        }
    }
}

/// The version of the block at `at`, if one starts there.
fn block_at(data: &[u8], at: usize) -> Option<Version> {
    let h = data.get(at..at.checked_add(BLOCK_HEADER)?)?;
    if h.get(..20)? != MARKER {
        return None;
    }
    match h.get(20..24)? {
        b"EA05" => Some(Version::Ea05),
        b"EA06" => Some(Version::Ea06),
        _ => None,
    }
}

/// The first block in `region` (a slice of `data` starting at `base`).
fn search(data: &[u8], base: usize, region: &[u8]) -> Option<(usize, Version)> {
    memchr::memmem::find_iter(region, &MARKER)
        .map(|at| base + at)
        .find_map(|at| block_at(data, at).map(|v| (at, v)))
}

/// The file range of the section holding the resource directory.
fn resource_section(data: &[u8], pe: &crate::packers::Pe) -> Option<(usize, usize)> {
    let opt = pe.lfanew + 24;
    let dirs = match crate::packers::le16(data, opt)? {
        0x20B => opt + 112,
        _ => opt + 96,
    };
    let rva = le32(data, dirs + 16)?;
    let size = le32(data, dirs + 20)?;
    if rva == 0 || size == 0 {
        return None;
    }
    let s = pe
        .sections
        .iter()
        .find(|s| rva >= s.va && rva - s.va < s.raw_size)?;
    let start = s.raw_ptr as usize;
    let end = start.saturating_add(s.raw_size as usize).min(data.len());
    (start < end).then_some((start, end))
}

/// Where the AU3 block is: at the start of an `.a3x` file, or in a PE's
/// resources or after its sections.
fn find(data: &[u8]) -> Option<(usize, Version)> {
    if let Some(v) = block_at(data, 0) {
        return Some((0, v));
    }
    let pe = parse_pe(data)?;
    if let Some((start, end)) = resource_section(data, &pe)
        && let Some(found) = search(data, start, data.get(start..end)?)
    {
        return Some(found);
    }
    let start = pe_extent(data, &pe);
    let end = start.saturating_add(OVERLAY_WINDOW).min(data.len());
    search(data, start, data.get(start..end)?)
}

pub(crate) fn detect(data: &[u8]) -> bool {
    find(data).is_some()
}

/// AutoIt's RanRot generator (the EA06 keystream): Agner Fog's RANROT
/// type B, 17 words, each step adding the word at `a` rotated left by 9 to
/// the word at `b` rotated left by 13 and storing the sum at `a`, both
/// positions moving down (wrapping from 0 to 16). Seeding fills the words
/// with `seed = 1 - seed * 0x53A9B4FB`, puts `a` at 0 and `b` at 10 and
/// runs 9 steps.
///
/// AutoIt reads a step as a double in [0, 1): the sum in the mantissa
/// below the exponent of 1.0, less 1.0, which is exactly `sum / 2^32`.
/// Each keystream byte discards one step and takes the next one's
/// value times 256, truncated: exactly the sum's top byte.
struct RanRot {
    words: [u32; 17],
    a: usize,
    b: usize,
}

impl RanRot {
    fn new(mut seed: u32) -> RanRot {
        let mut words = [0u32; 17];
        for w in &mut words {
            seed = 1u32.wrapping_sub(seed.wrapping_mul(0x53A9_B4FB));
            *w = seed;
        }
        let mut r = RanRot { words, a: 0, b: 10 };
        for _ in 0..9 {
            r.step();
        }
        r
    }

    fn step(&mut self) -> u32 {
        let (x, y) = (self.words[self.a], self.words[self.b]);
        let sum = x.rotate_left(9).wrapping_add(y.rotate_left(13));
        self.words[self.a] = sum;
        self.a = (self.a + 16) % 17;
        self.b = (self.b + 16) % 17;
        sum
    }

    fn byte(&mut self) -> u8 {
        self.step();
        (self.step() >> 24) as u8
    }
}

/// XORs `bytes` with the keystream of `version` seeded with `seed`.
fn crypt(version: Version, seed: u32, bytes: &mut [u8]) {
    match version {
        Version::Ea05 => {
            let mut mt = rand_mt::Mt::new(seed);
            for b in bytes {
                *b ^= (mt.next_u32() >> 1) as u8;
            }
        }
        Version::Ea06 => {
            let mut r = RanRot::new(seed);
            for b in bytes {
                *b ^= r.byte();
            }
        }
    }
}

fn decrypted(version: Version, seed: u32, bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    crypt(version, seed, &mut v);
    v
}

/// One record's header.
#[derive(Debug)]
struct Record {
    name: String,
    compressed: bool,
    /// Offset of the packed data in the block's file.
    data_at: usize,
    packed_len: u32,
    expanded_len: u32,
    adler: u32,
}

/// A cursor over the block.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Issue> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(Issue::corrupt(format!(
                "autoit: truncated: a record header at offset {} is cut short",
                self.at
            )));
        };
        let b = &self.data[self.at..end];
        self.at = end;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, Issue> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length-prefixed encrypted string: its length xor `len_key`, then
    /// its characters encrypted with `key + length`.
    fn string(&mut self, v: Version, len_key: u32, key: u32) -> Result<String, Issue> {
        let chars = self.u32()? ^ len_key;
        if chars > MAX_NAME {
            return Err(Issue::corrupt(format!(
                "autoit: a record at offset {} claims a name of {chars} characters",
                self.at
            )));
        }
        let raw = self.take(chars as usize * v.unit())?;
        let plain = decrypted(v, key.wrapping_add(chars), raw);
        Ok(match v {
            Version::Ea05 => String::from_utf8_lossy(&plain).into_owned(),
            Version::Ea06 => {
                let units: Vec<u16> = plain
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16_lossy(&units)
            }
        })
    }
}

/// The record at `cur`, `None` where the records end (`AU3!` or the end
/// of the data), or why it cannot be read.
fn record(cur: &mut Cursor<'_>, v: Version) -> Result<Option<Record>, Issue> {
    let k = v.keys();
    let start = cur.at;
    let rest = cur.data.get(start..).unwrap_or_default();
    // The compiler closes the block with `AU3!` and the version; a block
    // kept as a resource may be followed by the section's zero padding.
    if rest.is_empty() || rest.starts_with(b"AU3!") || rest.get(..4) == Some(&[0; 4]) {
        return Ok(None);
    }
    let tag = cur.take(4)?;
    if decrypted(v, k.file, tag) != b"FILE" {
        return Err(Issue::corrupt(format!(
            "autoit: no file record at offset {start}; the rest was not unpacked"
        )));
    }
    let name = cur.string(v, k.name_len, k.name)?;
    cur.string(v, k.path_len, k.path)?;
    let compressed = cur.take(1)?.first().is_some_and(|&c| c != 0);
    let packed_len = cur.u32()? ^ k.size;
    let expanded_len = cur.u32()? ^ k.size;
    let adler = cur.u32()? ^ k.crc;
    cur.take(16)?;
    Ok(Some(Record {
        name,
        compressed,
        data_at: cur.at,
        packed_len,
        expanded_len,
        adler,
    }))
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let Some((at, v)) = find(data) else {
        return Err(Issue::corrupt("autoit: no AU3 block found"));
    };
    let digest = data.get(at + 24..at + BLOCK_HEADER).unwrap_or_default();
    let data_key = match v {
        Version::Ea05 => digest
            .iter()
            .fold(0x22AFu32, |s, &b| s.wrapping_add(u32::from(b))),
        Version::Ea06 => 0x2477,
    };
    let mut cur = Cursor {
        data,
        at: at + BLOCK_HEADER,
    };
    let mut index = 0usize;
    loop {
        ctx.check_time()?;
        let Some(r) = record(&mut cur, v)? else {
            return Ok(());
        };
        index += 1;
        let name = if r.name.is_empty() {
            format!("autoit-{index}")
        } else {
            r.name.clone()
        };
        let avail = data.len().saturating_sub(r.data_at);
        let truncated = r.packed_len as usize > avail;
        let packed = data
            .get(r.data_at..r.data_at + (r.packed_len as usize).min(avail))
            .unwrap_or_default();
        let plain = decrypted(v, data_key, packed);
        let mut entry = if r.compressed {
            expand(ctx, v, &plain, &r, &name)
        } else {
            Entry::new(name.clone(), Cow::Owned(plain.clone()))
        };
        let ended = truncated.then(|| {
            Issue::corrupt(format!(
                "autoit: truncated: {name} needs {} bytes, the file holds {avail}",
                r.packed_len
            ))
        });
        if entry.issue.is_none() {
            entry.issue = ended.clone().or_else(|| {
                (adler2::adler32_slice(&plain) != r.adler)
                    .then(|| Issue::corrupt(format!("autoit: {name}: the checksum does not match")))
            });
        }
        if sink(ctx, entry) == Flow::Stop {
            return ended.map_or(Ok(()), Err);
        }
        if let Some(issue) = ended {
            return Err(issue);
        }
        cur.at = r.data_at + packed.len();
    }
}

/// Expands a record's decrypted data within the limits.
fn expand<'a>(ctx: &mut Ctx, v: Version, plain: &[u8], r: &Record, name: &str) -> Entry<'a> {
    let literal = match plain.get(..4) {
        Some(b"EA05") => 0,
        Some(b"EA06") => 1,
        _ => {
            return Entry::failed(
                name,
                Issue::unsupported(format!(
                    "autoit: {name}: not compressed the {} way; not unpacked",
                    v.name()
                )),
            );
        }
    };
    let declared = plain
        .get(4..8)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    if declared != r.expanded_len {
        return Entry::failed(
            name,
            Issue::corrupt(format!(
                "autoit: {name}: the record says {} bytes, the compressed data {declared}",
                r.expanded_len
            )),
        );
    }
    let count = Cell::new(8);
    let mut lz = Lz::new(
        plain.get(8..).unwrap_or_default(),
        literal,
        declared,
        &count,
    );
    Entry::expanded(name, ctx.expand(&mut lz, &count))
}

/// AutoIt's LZSS decoder, as a reader of the expanded bytes.
struct Lz<'a> {
    src: &'a [u8],
    /// Bits read from `src`.
    bit: usize,
    /// The flag bit's value that means "literal".
    literal: u32,
    /// Bytes still to produce (the declared size).
    left: u32,
    ring: Vec<u8>,
    /// Bytes produced so far.
    produced: usize,
    /// The match being copied: distance and bytes left.
    distance: usize,
    copy: u64,
    failed: Option<&'static str>,
    count: &'a Cell<u64>,
}

impl<'a> Lz<'a> {
    fn new(src: &'a [u8], literal: u32, left: u32, count: &'a Cell<u64>) -> Lz<'a> {
        Lz {
            src,
            bit: 0,
            literal,
            left,
            ring: vec![0; WINDOW],
            produced: 0,
            distance: 0,
            copy: 0,
            failed: None,
            count,
        }
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.src.get(self.bit / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.bit % 8)) & 1);
            self.bit += 1;
        }
        Some(v)
    }

    /// A match length: 2 bits; all ones adds 3 more; all ones again adds
    /// 5, then 8, then as many 8-bit groups as are all ones; plus 3.
    fn length(&mut self) -> Option<u64> {
        let mut len = u64::from(self.bits(2)?);
        if len == 3 {
            len += u64::from(self.bits(3)?);
            if len == 10 {
                len += u64::from(self.bits(5)?);
                if len == 41 {
                    len += u64::from(self.bits(8)?);
                    if len == 296 {
                        loop {
                            let more = self.bits(8)?;
                            len += u64::from(more);
                            if more != 255 {
                                break;
                            }
                        }
                    }
                }
            }
        }
        Some(len + 3)
    }

    fn emit(&mut self, b: u8, buf: &mut [u8], n: &mut usize) {
        if let Some(slot) = self.ring.get_mut(self.produced % WINDOW) {
            *slot = b;
        }
        if let Some(out) = buf.get_mut(*n) {
            *out = b;
        }
        *n += 1;
        self.produced += 1;
        self.left -= 1;
    }

    /// The next item: a literal is produced, a match is set up.
    fn item(&mut self, buf: &mut [u8], n: &mut usize) -> Result<(), &'static str> {
        const CUT: &str = "the compressed data ends early";
        let flag = self.bits(1).ok_or(CUT)?;
        if flag == self.literal {
            let b = self.bits(8).ok_or(CUT)? as u8;
            self.emit(b, buf, n);
        } else {
            let distance = self.bits(15).ok_or(CUT)? as usize;
            let len = self.length().ok_or(CUT)?;
            if distance == 0 || distance > self.produced {
                return Err("a match reaches before the start of the data");
            }
            self.distance = distance;
            self.copy = len;
        }
        Ok(())
    }
}

impl Read for Lz<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.left > 0 && self.failed.is_none() {
            if self.copy > 0 {
                let from = (self.produced + WINDOW - self.distance) % WINDOW;
                let b = self.ring.get(from).copied().unwrap_or(0);
                self.emit(b, buf, &mut n);
                self.copy -= 1;
            } else if let Err(e) = self.item(buf, &mut n) {
                self.failed = Some(e);
            }
        }
        self.count.set(8 + self.bit.div_ceil(8) as u64);
        match self.failed {
            Some(e) if n == 0 => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            _ => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packers::testpe;
    use crate::testutil::{EICAR, each_byte_flipped, random_bytes, random_flips, walk, walk_with};
    use crate::{Format, IssueKind, Limits, identify};

    /// The passphrase digest of the hand-built blocks (any 16 bytes: EA05
    /// keys its data with their sum).
    const DIGEST: &[u8; 16] = b"takedown-digest!";

    /// MSB-first bit writer.
    struct BitWriter {
        out: Vec<u8>,
        bits: usize,
    }

    impl BitWriter {
        fn put(&mut self, value: u64, n: u32) {
            for i in (0..n).rev() {
                if self.bits.is_multiple_of(8) {
                    self.out.push(0);
                }
                if (value >> i) & 1 == 1 {
                    *self.out.last_mut().unwrap() |= 0x80 >> (self.bits % 8);
                }
                self.bits += 1;
            }
        }

        /// A match length, the inverse of [`Lz::length`].
        fn length(&mut self, len: u64) {
            let mut rest = len - 3;
            for (bits, max) in [(2, 3), (3, 7), (5, 31), (8, 255)] {
                if rest < max {
                    self.put(rest, bits);
                    return;
                }
                self.put(max, bits);
                rest -= max;
            }
            loop {
                let x = rest.min(255);
                self.put(x, 8);
                rest -= x;
                if x != 255 {
                    return;
                }
            }
        }
    }

    /// AutoIt's compression as the module describes it, greedy: the
    /// longest earlier match of at least 3 bytes within the 15-bit
    /// distance, else a literal.
    fn compress(v: Version, data: &[u8]) -> Vec<u8> {
        let literal = u64::from(v == Version::Ea06);
        let mut w = BitWriter {
            out: Vec::new(),
            bits: 0,
        };
        let mut i = 0;
        while i < data.len() {
            let (mut best, mut best_len) = (0, 0);
            for d in 1..=i.min(WINDOW - 1) {
                let len = (0..data.len() - i)
                    .take_while(|&k| data[i + k] == data[i + k - d])
                    .count();
                if len > best_len {
                    (best, best_len) = (d, len);
                }
            }
            if best_len >= 3 {
                w.put(literal ^ 1, 1);
                w.put(best as u64, 15);
                w.length(best_len as u64);
                i += best_len;
            } else {
                w.put(literal, 1);
                w.put(u64::from(data[i]), 8);
                i += 1;
            }
        }
        let mut out = v.name().as_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(&w.out);
        out
    }

    fn encrypted_string(v: Version, s: &str, len_key: u32, key: u32) -> Vec<u8> {
        let (chars, mut bytes) = match v {
            Version::Ea05 => (s.len() as u32, s.as_bytes().to_vec()),
            Version::Ea06 => {
                let units: Vec<u16> = s.encode_utf16().collect();
                let bytes = units.iter().flat_map(|u| u.to_le_bytes()).collect();
                (units.len() as u32, bytes)
            }
        };
        crypt(v, key.wrapping_add(chars), &mut bytes);
        let mut out = (chars ^ len_key).to_le_bytes().to_vec();
        out.extend_from_slice(&bytes);
        out
    }

    /// An AU3 block as AutoIt writes it (see the module's table), built
    /// from the same description the reader follows: `files` are (name,
    /// content, compressed).
    fn block(v: Version, files: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let k = v.keys();
        let mut out = MARKER.to_vec();
        out.extend_from_slice(v.name().as_bytes());
        out.extend_from_slice(DIGEST);
        let data_key = match v {
            Version::Ea05 => DIGEST.iter().fold(0x22AFu32, |s, &b| s + u32::from(b)),
            Version::Ea06 => 0x2477,
        };
        for &(name, content, compressed) in files {
            let mut tag = b"FILE".to_vec();
            crypt(v, k.file, &mut tag);
            out.extend_from_slice(&tag);
            out.extend(encrypted_string(v, name, k.name_len, k.name));
            let path = format!("C:\\build\\{}", name.len());
            out.extend(encrypted_string(v, &path, k.path_len, k.path));
            out.push(u8::from(compressed));
            let mut packed = if compressed {
                compress(v, content)
            } else {
                content.to_vec()
            };
            out.extend_from_slice(&(packed.len() as u32 ^ k.size).to_le_bytes());
            out.extend_from_slice(&(content.len() as u32 ^ k.size).to_le_bytes());
            out.extend_from_slice(&(adler2::adler32_slice(&packed) ^ k.crc).to_le_bytes());
            out.extend_from_slice(&[0x11; 16]);
            crypt(v, data_key, &mut packed);
            out.extend_from_slice(&packed);
        }
        out.extend_from_slice(b"AU3!");
        out.extend_from_slice(v.name().as_bytes());
        out
    }

    /// A script with repeats (so that matches, also long ones, are used)
    /// and EICAR installed by it.
    fn sample_files() -> (Vec<u8>, Vec<(&'static str, Vec<u8>)>) {
        let mut script =
            b"FileInstall(\"C:\\payload\\eicar.com\", @TempDir & \"\\e.com\")\r\n".to_vec();
        script.extend_from_slice(&b"; padding padding padding\r\n".repeat(40));
        script.extend_from_slice(&[b'='; 700]);
        (
            script.clone(),
            vec![
                (">>>AUTOIT SCRIPT<<<", script),
                ("C:\\payload\\eicar.com", EICAR.to_vec()),
            ],
        )
    }

    fn sample_block(v: Version, compressed: bool) -> Vec<u8> {
        let (_, files) = sample_files();
        let files: Vec<(&str, &[u8], bool)> = files
            .iter()
            .map(|(n, d)| (*n, d.as_slice(), compressed))
            .collect();
        block(v, &files)
    }

    /// The block appended to a small PE, and in its resource section.
    fn in_pe(block: &[u8]) -> [Vec<u8>; 2] {
        let mut appended = testpe::pe(&[(b".text", 0x1000, &[0xC3; 16])], (0x1000, 0x1000));
        appended.extend_from_slice(block);
        let mut rsrc = vec![0u8; 0x40];
        rsrc.extend_from_slice(block);
        let mut resource = testpe::pe(
            &[(b".text", 0x1000, &[0xC3; 16]), (b".rsrc", 0x2000, &rsrc)],
            (0x1000, 0x1000),
        );
        let dir = 0x98 + 112;
        resource[dir..dir + 4].copy_from_slice(&0x2000u32.to_le_bytes());
        resource[dir + 4..dir + 8].copy_from_slice(&(rsrc.len() as u32).to_le_bytes());
        [appended, resource]
    }

    #[test]
    fn hand_built_blocks_hide_eicar() {
        let (script, _) = sample_files();
        for v in [Version::Ea05, Version::Ea06] {
            for compressed in [true, false] {
                let b = sample_block(v, compressed);
                assert!(!b.windows(EICAR.len()).any(|w| w == EICAR));
                let [appended, resource] = in_pe(&b);
                for (what, file) in [
                    ("a3x", b.clone()),
                    ("appended", appended),
                    ("resource", resource),
                ] {
                    assert_eq!(identify(&file), Some(Format::AutoIt), "{v:?} {what}");
                    let w = walk(&file, "t.exe");
                    assert_eq!(
                        w.chains(),
                        [">>>AUTOIT SCRIPT<<<", "C:\\payload\\eicar.com"],
                        "{v:?} {compressed} {what}"
                    );
                    assert_eq!(w.found[0].data, script, "{v:?} {compressed} {what}");
                    assert_eq!(w.found[1].data, EICAR, "{v:?} {compressed} {what}");
                    assert!(
                        w.found.iter().all(|f| f.issue.is_none()) && w.issues.is_empty(),
                        "{v:?} {compressed} {what}: {w:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn long_matches_and_every_length_step() {
        for v in [Version::Ea05, Version::Ea06] {
            for run in [3usize, 5, 12, 44, 298, 299, 555, 70_000] {
                let mut data = b"abc".to_vec();
                data.extend(std::iter::repeat_n(b'x', run));
                data.extend_from_slice(b"tail");
                let b = block(v, &[("f", &data, true)]);
                let w = walk(&b, "t.a3x");
                assert_eq!(w.found.len(), 1, "{v:?} {run}");
                assert_eq!(w.found[0].data, data, "{v:?} {run}");
                assert!(w.found[0].issue.is_none(), "{v:?} {run}");
            }
        }
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        for v in [Version::Ea05, Version::Ea06] {
            let full = block(v, &[("a", EICAR, true), ("b", b"xyz", false)]);
            // Where the first record ends: a cut there looks like a
            // block of one record.
            let first = block(v, &[("a", EICAR, true)]).len() - 8;
            for len in 0..full.len() {
                let w = walk(&full[..len], "t");
                // Cut anywhere else past the block's header (and before
                // its end marker), something says so.
                if len > BLOCK_HEADER && len != first && len < full.len() - 8 {
                    assert!(
                        w.found.iter().any(|f| f.issue.is_some()) || !w.issues.is_empty(),
                        "{v:?} {len}: {w:?}"
                    );
                }
            }
            each_byte_flipped(&full, &[0x01, 0x80], |m| {
                let _ = walk(m, "t");
            });
            random_flips(&sample_block(v, true), 7, 300, 4, |m| {
                let _ = walk(m, "t");
            });
        }
    }

    #[test]
    fn damage_is_reported() {
        for v in [Version::Ea05, Version::Ea06] {
            let good = block(v, &[("a", EICAR, false)]);
            // The last data byte: the checksum no longer matches.
            let mut bad = good.clone();
            let at = bad.len() - 9;
            bad[at] ^= 1;
            let w = walk(&bad, "t");
            let issue = w.found[0].issue.as_ref().unwrap();
            assert_eq!(issue.kind, IssueKind::Corrupt, "{v:?}");
            assert!(issue.message.contains("checksum"), "{issue:?}");
            // Compressed data that is not AutoIt's.
            let mut other = compress(v, EICAR);
            other[..4].copy_from_slice(b"JB01");
            let k = v.keys();
            let mut b = block(v, &[("a", EICAR, true)]);
            let data_at = b.len() - 8 - other.len();
            let data_key = match v {
                Version::Ea05 => DIGEST.iter().fold(0x22AFu32, |s, &x| s + u32::from(x)),
                Version::Ea06 => 0x2477,
            };
            let mut enc = other.clone();
            crypt(v, data_key, &mut enc);
            b[data_at..data_at + enc.len()].copy_from_slice(&enc);
            let crc_at = data_at - 16 - 4;
            b[crc_at..crc_at + 4]
                .copy_from_slice(&(adler2::adler32_slice(&other) ^ k.crc).to_le_bytes());
            let w = walk(&b, "t");
            let issue = w.found[0].issue.as_ref().unwrap();
            assert_eq!(issue.kind, IssueKind::Unsupported, "{v:?}: {issue:?}");
            // Garbage where the next record should be.
            let mut g = good.clone();
            let end = g.len() - 8;
            g[end..end + 4].copy_from_slice(b"junk");
            let w = walk(&g, "t");
            assert_eq!(w.found.len(), 1);
            assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt, "{v:?}");
        }
    }

    #[test]
    fn limits_hold() {
        let big = vec![b'A'; 1 << 20];
        for v in [Version::Ea05, Version::Ea06] {
            let b = block(v, &[("big", &big, true), ("small", b"s", false)]);
            let limits = Limits {
                max_member_size: 1000,
                ..Limits::default()
            };
            let w = walk_with(&b, "t", &limits);
            assert_eq!(w.found[0].data.len(), 1000);
            assert_eq!(
                w.found[0].issue.as_ref().unwrap().kind,
                IssueKind::Limit("max-filesize")
            );
            assert_eq!(w.found[1].data, b"s");
            let limits = Limits {
                max_entries: 1,
                ..Limits::default()
            };
            let w = walk_with(&b, "t", &limits);
            assert_eq!(w.found.len(), 1);
            assert_eq!(w.issues[0].1.kind, IssueKind::Limit("max-entries"));
            // A record that claims 4 GiB expanded from a few bytes: the
            // declared size is only a bound, the stream ends it.
            let mut lie = compress(v, b"abc");
            lie[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
            let mut b = block(v, &[("a", b"abc", true)]);
            let k = v.keys();
            let data_at = b.len() - 8 - lie.len();
            let data_key = match v {
                Version::Ea05 => DIGEST.iter().fold(0x22AFu32, |s, &x| s + u32::from(x)),
                Version::Ea06 => 0x2477,
            };
            let size_at = data_at - 16 - 4 - 4;
            b[size_at..size_at + 4].copy_from_slice(&(u32::MAX ^ k.size).to_le_bytes());
            let mut enc = lie.clone();
            crypt(v, data_key, &mut enc);
            b[data_at..data_at + enc.len()].copy_from_slice(&enc);
            let w = walk(&b, "t");
            assert_eq!(w.found[0].data, b"abc");
            assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        }
    }

    /// Writes the fuzz seeds of `fmt_autoit` (hand-built blocks of both
    /// versions with harmless "hello" text, compressed and stored, bare
    /// and appended to a small PE) into the directory named by
    /// `TAKEDOWN_SEED_DIR` (a tool, not a check: run with `--ignored`).
    #[test]
    #[ignore = "writes the fuzz seeds"]
    fn write_fuzz_seeds() {
        let dir = std::path::PathBuf::from(std::env::var_os("TAKEDOWN_SEED_DIR").unwrap());
        let hello = b"hello hello hello\r\n".repeat(4);
        for v in [Version::Ea05, Version::Ea06] {
            let b = block(
                v,
                &[
                    (">>>AUTOIT SCRIPT<<<", &hello, true),
                    ("C:\\hello.txt", b"hello\n", false),
                ],
            );
            let [appended, _] = in_pe(&b);
            let name = v.name().to_ascii_lowercase();
            std::fs::write(dir.join(format!("{name}.a3x")), &b).unwrap();
            std::fs::write(dir.join(format!("{name}-appended.exe")), &appended).unwrap();
        }
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b""));
        assert!(!detect(&[0; 64]));
        assert!(!detect(&random_bytes(1 << 16, 3)));
        let pe = testpe::pe(&[(b".text", 0x1000, &[0xC3; 16])], (0x1000, 0x1000));
        assert!(!detect(&pe));
        // The GUID with another version, or cut before the digest.
        let mut b = block(Version::Ea06, &[("a", b"x", false)]);
        assert!(detect(&b));
        assert!(!detect(&b[..BLOCK_HEADER - 1]));
        b[23] = b'9';
        assert!(!detect(&b));
    }

    /// A Debian `clamav-testfiles` file, or `None` (skipped; under CI that
    /// fails).
    fn clamav_testfile(name: &str) -> Option<Vec<u8>> {
        let path = std::path::Path::new("/usr/share/clamav-testfiles").join(name);
        match std::fs::read(&path) {
            Ok(d) => Some(d),
            Err(_) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI must install clamav-testfiles"
                );
                eprintln!("skipped: {} not found", path.display());
                None
            }
        }
    }

    /// The test files as AutoIt-Ripper 1.2.0 (PyPI `autoit-ripper`) sees
    /// them, run as `autoit-ripper -v clam.ea0N.exe out`: the script
    /// (UTF-16 for EA05, tokenised for EA06) and `C:\clam.exe`, 544 bytes.
    #[test]
    fn clamav_test_files() {
        let Some(clam) = clamav_testfile("clam.exe") else {
            return;
        };
        for (file, script, script_len) in [
            ("clam.ea05.exe", ">AUTOIT UNICODE SCRIPT<", 22502),
            ("clam.ea06.exe", ">>>AUTOIT SCRIPT<<<", 19921),
        ] {
            let Some(data) = clamav_testfile(file) else {
                return;
            };
            let w = walk(&data, file);
            let chains = w.chains();
            let script_chain = format!("upx!{script}");
            assert!(
                chains.contains(&script_chain.as_str()),
                "{file}: {chains:?}"
            );
            assert!(chains.contains(&"upx!C:\\clam.exe"), "{file}: {chains:?}");
            for f in &w.found {
                if f.chain == script_chain {
                    assert_eq!(f.data.len(), script_len, "{file}");
                    assert!(f.issue.is_none(), "{file}: {:?}", f.issue);
                }
                if f.chain == "upx!C:\\clam.exe" {
                    assert!(f.data == clam, "{file}");
                    assert!(f.issue.is_none(), "{file}: {:?}", f.issue);
                }
            }
        }
    }
}
