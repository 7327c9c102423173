//! MS-DOS `COMPRESS.EXE` / `EXPAND.EXE` files: SZDD, and its successor KWAJ.
//!
//! SZDD (`SZDD\x88\xf0\x27\x33`) is a 14-byte header (magic, mode `A`,
//! the file name's missing last character, the expanded length) and one
//! LZSS stream: a 4096-byte window filled with spaces, writing from 4080;
//! a flag byte says, bit by bit from the lowest, whether the next item is
//! a literal byte (1) or a match (0) of two bytes: a 12-bit window
//! position and a 4-bit length plus 3.
//!
//! KWAJ (`KWAJ\x88\xf0\x27\xd1`) has a method, the data offset and flags
//! for optional header fields (length, name, extension, text). Methods 0
//! (stored), 1 (every byte XOR 0xFF) and 2 (the SZDD LZSS) are expanded;
//! 3 (LZ with Huffman codes) and 4 (MS-ZIP blocks) are reported as
//! unsupported.
//!
//! The one member is named after the stored name where KWAJ has one, else
//! after the container: a trailing `_` is put back to the stored missing
//! character (`SETUP.EX_` holds `SETUP.EXE`), a `.szdd`/`.kwaj` suffix is
//! dropped, and anything else gets `.out`.

use std::cell::Cell;
use std::io::Read;

use crate::{Ctx, Entry, Issue, Sink};

const SZDD_MAGIC: &[u8; 8] = b"SZDD\x88\xf0\x27\x33";
const KWAJ_MAGIC: &[u8; 8] = b"KWAJ\x88\xf0\x27\xd1";
const WINDOW: usize = 4096;

pub(crate) fn detect(data: &[u8]) -> bool {
    (data.starts_with(SZDD_MAGIC) && data.len() >= 14)
        || (data.starts_with(KWAJ_MAGIC) && data.len() >= 14)
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// The member's name from the container's `name` and the missing last
/// character SZDD stores (0 when unknown).
fn member_name(name: &str, missing: u8) -> String {
    if let Some(stem) = name.strip_suffix('_')
        && missing.is_ascii_graphic()
        && !stem.is_empty()
    {
        // Names on the disks were upper case; the character follows the
        // case of the name's last letter.
        let lower = stem.chars().last().is_some_and(|c| c.is_ascii_lowercase());
        let c = if lower {
            missing.to_ascii_lowercase()
        } else {
            missing.to_ascii_uppercase()
        };
        return format!("{stem}{}", c as char);
    }
    // `mscompress` stores no missing character: drop the `_` it added.
    if let Some(stem) = name.strip_suffix('_')
        && !stem.is_empty()
        && !stem.ends_with('.')
    {
        return stem.to_string();
    }
    for suffix in [".szdd", ".kwaj", "._"] {
        let (n, s) = (name.len(), suffix.len());
        if n > s && name.is_char_boundary(n - s) && name[n - s..].eq_ignore_ascii_case(suffix) {
            return name[..n - s].to_string();
        }
    }
    if name.is_empty() {
        "expanded.out".to_string()
    } else {
        format!("{name}.out")
    }
}

/// The LZSS decoder of SZDD and KWAJ method 2, producing bytes on demand
/// (no buffer but the fixed window). Stops at the end of its input or
/// after `limit` bytes (the length the header declares, when it does).
struct Lzss<'a, 'c> {
    data: &'a [u8],
    pos: usize,
    window: [u8; WINDOW],
    wpos: usize,
    flags: u32,
    /// A match being copied: window position and bytes left.
    copy: Option<(usize, usize)>,
    produced: u64,
    limit: u64,
    packed: &'c Cell<u64>,
}

impl<'a, 'c> Lzss<'a, 'c> {
    fn new(data: &'a [u8], limit: u64, packed: &'c Cell<u64>) -> Self {
        Lzss {
            data,
            pos: 0,
            window: [b' '; WINDOW],
            wpos: WINDOW - 16,
            flags: 0,
            copy: None,
            produced: 0,
            limit,
            packed,
        }
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        self.packed.set(self.packed.get() + 1);
        Some(b)
    }

    fn put(&mut self, b: u8) -> u8 {
        self.window[self.wpos] = b;
        self.wpos = (self.wpos + 1) % WINDOW;
        self.produced += 1;
        b
    }

    /// The next expanded byte, or `None` at the end.
    fn next_byte(&mut self) -> Option<u8> {
        if self.produced >= self.limit {
            return None;
        }
        if let Some((from, left)) = self.copy {
            let b = self.window[from % WINDOW];
            self.copy = (left > 1).then_some(((from + 1) % WINDOW, left - 1));
            return Some(self.put(b));
        }
        // The flag bits ride in the upper bits: 0x100 marks "reload".
        if self.flags <= 1 {
            self.flags = u32::from(self.byte()?) | 0x100;
        }
        let literal = self.flags & 1 == 1;
        self.flags >>= 1;
        if literal {
            let b = self.byte()?;
            return Some(self.put(b));
        }
        let lo = usize::from(self.byte()?);
        let hi = usize::from(self.byte()?);
        let from = lo | ((hi & 0xF0) << 4);
        let len = (hi & 0x0F) + 3;
        self.copy = Some((from, len));
        self.next_byte()
    }
}

impl Read for Lzss<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            match self.next_byte() {
                Some(b) => *slot = b,
                None => break,
            }
            n += 1;
        }
        Ok(n)
    }
}

/// Stored or XOR-ed bytes, counted as they are read.
struct Plain<'a, 'c> {
    data: &'a [u8],
    xor: u8,
    packed: &'c Cell<u64>,
}

impl Read for Plain<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.data.len());
        for (o, i) in buf.iter_mut().zip(&self.data[..n]) {
            *o = i ^ self.xor;
        }
        self.data = &self.data[n..];
        self.packed.set(self.packed.get() + n as u64);
        Ok(n)
    }
}

pub(crate) fn extract(
    data: &[u8],
    name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    if data.starts_with(SZDD_MAGIC) {
        extract_szdd(data, name, ctx, sink)
    } else {
        extract_kwaj(data, name, ctx, sink)
    }
}

fn extract_szdd(data: &[u8], name: &str, ctx: &mut Ctx, sink: &mut Sink<'_>) -> Result<(), Issue> {
    let (Some(&mode), Some(&missing), Some(declared)) =
        (data.get(8), data.get(9), u32_at(data, 10))
    else {
        return Err(Issue::corrupt("szdd: the header is truncated"));
    };
    let member = member_name(name, missing);
    if mode != b'A' {
        let issue = Issue::unsupported(format!(
            "szdd: compression mode {mode:#04x} (only 'A', LZSS, is known)"
        ));
        sink(ctx, Entry::failed(member, issue.clone()));
        return Err(issue);
    }
    let packed = Cell::new(0);
    let mut lzss = Lzss::new(data.get(14..).unwrap_or(&[]), u64::from(declared), &packed);
    let mut expanded = ctx.expand(&mut lzss, &packed);
    let got = expanded.data.len() as u64;
    let short = expanded.cut.is_none() && got < u64::from(declared);
    if short {
        expanded.cut = Some(Issue::corrupt(format!(
            "szdd: the stream ends after {got} of the {declared} bytes its header declares"
        )));
    }
    sink(ctx, Entry::expanded(member, expanded));
    if short {
        return Err(Issue::corrupt("szdd: the compressed stream is truncated"));
    }
    Ok(())
}

/// KWAJ header flags: which optional fields follow the fixed header.
const KWAJ_LENGTH: u16 = 1;
const KWAJ_UNKNOWN: u16 = 2;
const KWAJ_DATA: u16 = 4;
const KWAJ_NAME: u16 = 8;
const KWAJ_EXT: u16 = 16;
const KWAJ_TEXT: u16 = 32;

/// A NUL-terminated name field of at most `max` characters (plus the NUL).
fn kwaj_str(data: &[u8], at: usize, max: usize) -> Option<(String, usize)> {
    let field = data.get(at..)?;
    let window = &field[..field.len().min(max + 1)];
    let end = window.iter().position(|&b| b == 0);
    let len = end.unwrap_or(window.len());
    let next = at + len + usize::from(end.is_some());
    Some((String::from_utf8_lossy(&window[..len]).into_owned(), next))
}

fn extract_kwaj(data: &[u8], name: &str, ctx: &mut Ctx, sink: &mut Sink<'_>) -> Result<(), Issue> {
    let truncated = || Issue::corrupt("kwaj: the header is truncated");
    let method = u16_at(data, 8).ok_or_else(truncated)?;
    let offset = usize::from(u16_at(data, 10).ok_or_else(truncated)?);
    let flags = u16_at(data, 12).ok_or_else(truncated)?;
    let mut at = 14usize;
    let mut declared = None;
    if flags & KWAJ_LENGTH != 0 {
        declared = Some(u32_at(data, at).ok_or_else(truncated)?);
        at += 4;
    }
    if flags & KWAJ_UNKNOWN != 0 {
        at += 2;
    }
    if flags & KWAJ_DATA != 0 {
        at += 2 + usize::from(u16_at(data, at).ok_or_else(truncated)?);
    }
    let mut stored = String::new();
    if flags & KWAJ_NAME != 0 {
        let (n, next) = kwaj_str(data, at, 8).ok_or_else(truncated)?;
        stored = n;
        at = next;
    }
    if flags & KWAJ_EXT != 0 {
        let (e, next) = kwaj_str(data, at, 3).ok_or_else(truncated)?;
        if !e.is_empty() {
            stored = format!("{stored}.{e}");
        }
        at = next;
    }
    if flags & KWAJ_TEXT != 0 {
        at += 2 + usize::from(u16_at(data, at).ok_or_else(truncated)?);
    }
    if at > data.len() {
        return Err(truncated());
    }
    let member = if stored.is_empty() {
        member_name(name, 0)
    } else {
        stored
    };
    let Some(body) = data.get(offset..) else {
        let issue = Issue::corrupt(format!(
            "kwaj: the data offset {offset} is past the end of the file"
        ));
        sink(ctx, Entry::failed(member, issue.clone()));
        return Err(issue);
    };
    let packed = Cell::new(0);
    let limit = declared.map_or(u64::MAX, u64::from);
    let mut expanded = match method {
        0 | 1 => {
            let take = body.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
            let mut plain = Plain {
                data: &body[..take],
                xor: if method == 1 { 0xFF } else { 0 },
                packed: &packed,
            };
            ctx.expand(&mut plain, &packed)
        }
        2 => ctx.expand(&mut Lzss::new(body, limit, &packed), &packed),
        m => {
            let what = match m {
                3 => "LZ with Huffman codes",
                4 => "MS-ZIP",
                _ => "unknown",
            };
            let issue = Issue::unsupported(format!(
                "kwaj: compression method {m} ({what}) is not unpacked"
            ));
            sink(ctx, Entry::failed(member, issue.clone()));
            return Err(issue);
        }
    };
    let got = expanded.data.len() as u64;
    let short = expanded.cut.is_none() && declared.is_some_and(|d| got < u64::from(d));
    if short {
        expanded.cut = Some(Issue::corrupt(format!(
            "kwaj: the data ends after {got} of the {limit} bytes its header declares"
        )));
    }
    sink(ctx, Entry::expanded(member, expanded));
    if short {
        return Err(Issue::corrupt("kwaj: the compressed data is truncated"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testutil::{EICAR, walk, walk_with};
    use crate::{IssueKind, Limits};

    /// An LZSS stream of literals only, for tests: every flag byte 0xFF.
    pub(crate) fn lzss_literals(data: &[u8]) -> Vec<u8> {
        let mut o = Vec::new();
        for chunk in data.chunks(8) {
            o.push(0xFF);
            o.extend_from_slice(chunk);
        }
        o
    }

    fn szdd(stream: &[u8], declared: u32, missing: u8) -> Vec<u8> {
        let mut f = SZDD_MAGIC.to_vec();
        f.push(b'A');
        f.push(missing);
        f.extend_from_slice(&declared.to_le_bytes());
        f.extend_from_slice(stream);
        f
    }

    #[test]
    fn literals_and_matches() {
        // "ab" then a match of 6 bytes back at the start of the text
        // (window position 4080): "ababab", then a match into the spaces
        // the window starts with (position 0, 3 bytes).
        let stream = [0b0000_0011, b'a', b'b', 0xF0, 0xF3, 0x00, 0x00];
        let f = szdd(&stream, 11, b'T');
        assert!(detect(&f));
        let w = walk(&f, "README.TX_");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.found[0].chain, "README.TXT");
        assert_eq!(w.found[0].data, b"abababab   ");
    }

    #[test]
    fn eicar_inside_names_and_nesting() {
        let f = szdd(&lzss_literals(EICAR), EICAR.len() as u32, b'm');
        let w = walk(&f, "eicar.co_");
        let e = w.containing(EICAR).unwrap();
        assert_eq!(e.chain, "eicar.com");
        assert!(w.issues.is_empty());
        assert_eq!(walk(&f, "eicar.com.szdd").found[0].chain, "eicar.com");
        assert_eq!(walk(&f, "x").found[0].chain, "x.out");
        // An SZDD inside an SZDD.
        let outer = szdd(&lzss_literals(&f), f.len() as u32, b'_');
        let w = walk(&outer, "a.szdd");
        assert_eq!(w.containing(EICAR).unwrap().chain, "a!a.out");
    }

    #[test]
    fn declared_length_bounds_output_and_truncation_is_reported() {
        // Declared shorter than the stream: cut at the declared length.
        let f = szdd(&lzss_literals(EICAR), 10, 0);
        let w = walk(&f, "x.szdd");
        assert_eq!(w.found[0].data, &EICAR[..10]);
        assert!(w.issues.is_empty());
        // Declared longer: what there is, marked corrupt.
        let f = szdd(&lzss_literals(EICAR), u32::MAX, 0);
        let w = walk(&f, "x.szdd");
        assert_eq!(w.found[0].data, EICAR);
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
    }

    #[test]
    fn matches_only_stream_is_bounded_by_the_limits() {
        // Each match of 18 bytes costs 2.67 packed bytes: a bomb is cut
        // at the member limit.
        let mut stream = Vec::new();
        for _ in 0..20_000 {
            stream.extend_from_slice(&[0x00, 0, 0x0F, 0, 0x0F, 0, 0x0F, 0, 0x0F]);
            stream.extend_from_slice(&[0, 0x0F, 0, 0x0F, 0, 0x0F, 0, 0x0F]);
        }
        let f = szdd(&stream, u32::MAX, 0);
        let limits = Limits {
            max_member_size: 100_000,
            ..Limits::default()
        };
        let w = walk_with(&f, "x.szdd", &limits);
        assert_eq!(w.found[0].data.len(), 100_000);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-filesize")
        );
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        let f = szdd(&lzss_literals(EICAR), EICAR.len() as u32, b'm');
        let k = kwaj(
            2,
            &lzss_literals(EICAR),
            Some(EICAR.len() as u32),
            "EICAR",
            "COM",
        );
        for full in [f, k] {
            for len in 0..full.len() {
                let _ = walk(&full[..len], "t");
            }
            for i in 0..full.len() {
                for bit in [0x01, 0x10, 0x80] {
                    let mut m = full.clone();
                    m[i] ^= bit;
                    let _ = walk(&m, "t");
                }
            }
        }
    }

    fn kwaj(method: u16, body: &[u8], declared: Option<u32>, name: &str, ext: &str) -> Vec<u8> {
        let mut header = Vec::new();
        let mut flags = 0u16;
        if let Some(d) = declared {
            flags |= KWAJ_LENGTH;
            header.extend_from_slice(&d.to_le_bytes());
        }
        if !name.is_empty() {
            flags |= KWAJ_NAME;
            header.extend_from_slice(name.as_bytes());
            header.push(0);
        }
        if !ext.is_empty() {
            flags |= KWAJ_EXT;
            header.extend_from_slice(ext.as_bytes());
            header.push(0);
        }
        let mut f = KWAJ_MAGIC.to_vec();
        f.extend_from_slice(&method.to_le_bytes());
        f.extend_from_slice(&((14 + header.len()) as u16).to_le_bytes());
        f.extend_from_slice(&flags.to_le_bytes());
        f.extend_from_slice(&header);
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn kwaj_methods() {
        let xored: Vec<u8> = EICAR.iter().map(|b| b ^ 0xFF).collect();
        for (method, body) in [
            (0u16, EICAR.to_vec()),
            (1, xored),
            (2, lzss_literals(EICAR)),
        ] {
            let f = kwaj(method, &body, Some(EICAR.len() as u32), "EICAR", "COM");
            assert!(detect(&f));
            let w = walk(&f, "eicar.co_");
            assert!(w.issues.is_empty(), "{method}: {:?}", w.issues);
            assert_eq!(w.found[0].chain, "EICAR.COM");
            assert_eq!(w.found[0].data, EICAR, "{method}");
            // No stored name, no length.
            let f = kwaj(method, &body, None, "", "");
            let w = walk(&f, "eicar.co_");
            assert_eq!(w.found[0].data, EICAR, "{method}");
            assert_eq!(w.found[0].chain, "eicar.co");
        }
        for method in [3u16, 4, 9] {
            let f = kwaj(method, b"whatever", None, "A", "");
            let w = walk(&f, "x");
            assert_eq!(w.found[0].chain, "A");
            assert_eq!(
                w.found[0].issue.as_ref().unwrap().kind,
                IssueKind::Unsupported
            );
            assert_eq!(w.issues[0].1.kind, IssueKind::Unsupported);
        }
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"SZDD"));
        assert!(!detect(b"SZDD\x88\xf0\x27\x33A"));
        assert!(!detect(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0"));
        assert!(!detect(b"KWAJ is a radio station"));
    }
}
