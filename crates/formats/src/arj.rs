//! ARJ archives: stored members (method 0), the LZ77 + static Huffman
//! methods 1 to 3 (one decoder; they differ only in how hard the packer
//! searched) and the "fast" method 4 (LZ77 with unary-prefixed lengths and
//! distances, no Huffman codes).
//!
//! An archive is a chain of headers, each `0x60 0xEA`, a basic header of
//! at most 2600 bytes with its CRC-32, then extended headers (skipped),
//! then the member's packed data. The first header describes the archive
//! (file type 2); a basic header size of 0 ends it. Every header's CRC is
//! checked, and every member's CRC after expansion: a mismatch is a
//! corrupt member, handed out with what was expanded.
//!
//! Not unpacked, each reported on its member: garbled (password-
//! encrypted) members, members that continue on another volume of a
//! multi-volume set, unknown methods. Self-extracting archives (an
//! executable with the archive further in) are not searched for.

use std::cell::Cell;
use std::io::Read;

use crate::{Ctx, Entry, Flow, Issue, Sink};

const MAGIC: [u8; 2] = [0x60, 0xEA];
/// Largest basic header ARJ writes.
const MAX_HEADER: usize = 2600;
/// Fixed part of a basic header, up to and including the host data.
const FIXED: usize = 30;

const FLAG_GARBLED: u8 = 0x01;
const FLAG_VOLUME: u8 = 0x04;
const FLAG_EXTFILE: u8 = 0x08;

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// One header: the basic header's bytes and where what follows it starts.
struct Header<'a> {
    basic: &'a [u8],
    /// Offset of the packed data (past the extended headers).
    data_at: usize,
}

/// Reads the header at `at`: `Ok(None)` at the end-of-archive header.
fn header(data: &[u8], at: usize) -> Result<Option<Header<'_>>, Issue> {
    let corrupt = |what: &str| Issue::corrupt(format!("arj: header at offset {at}: {what}"));
    if data.get(at..at + 2) != Some(&MAGIC[..]) {
        return Err(corrupt("no header signature (truncated or corrupt)"));
    }
    let size = usize::from(u16_at(data, at + 2).ok_or_else(|| corrupt("truncated"))?);
    if size == 0 {
        return Ok(None);
    }
    if !(FIXED..=MAX_HEADER).contains(&size) {
        return Err(corrupt(&format!(
            "basic header size {size} is out of range"
        )));
    }
    let basic = data
        .get(at + 4..at + 4 + size)
        .ok_or_else(|| corrupt("truncated"))?;
    let crc = u32_at(data, at + 4 + size).ok_or_else(|| corrupt("truncated"))?;
    if crc32fast::hash(basic) != crc {
        return Err(corrupt("header CRC mismatch"));
    }
    // Extended headers: a size, that many bytes and a CRC, until size 0.
    let mut p = at + 8 + size;
    loop {
        let ext = usize::from(u16_at(data, p).ok_or_else(|| corrupt("truncated"))?);
        p += 2;
        if ext == 0 {
            break;
        }
        p = p
            .checked_add(ext + 4)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| corrupt("extended header truncated"))?;
    }
    Ok(Some(Header { basic, data_at: p }))
}

pub(crate) fn detect(data: &[u8]) -> bool {
    // The archive's own header, with a valid CRC and file type 2.
    matches!(header(data, 0), Ok(Some(h)) if h.basic.get(6) == Some(&2))
}

/// The NUL-terminated string at `at` in `b`.
fn cstr(b: &[u8], at: usize) -> (&[u8], usize) {
    let rest = b.get(at..).unwrap_or(&[]);
    let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
    (&rest[..end], at + end + 1)
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let Some(main) = header(data, 0)? else {
        return Ok(());
    };
    let mut at = main.data_at;
    let mut n = 0u64;
    loop {
        ctx.check_time()?;
        let Some(h) = header(data, at)? else {
            return Ok(());
        };
        n += 1;
        let b = h.basic;
        let first = usize::from(b[0]).clamp(FIXED, b.len());
        let flags = b[4];
        let method = b[5];
        let file_type = b[6];
        let packed_len = u32_at(b, 12).unwrap_or(0);
        let original = u32_at(b, 16).unwrap_or(0);
        let crc = u32_at(b, 20).unwrap_or(0);
        let (raw_name, _) = cstr(b, first);
        let name = if raw_name.is_empty() {
            format!("member-{n}")
        } else {
            String::from_utf8_lossy(raw_name).replace('\\', "/")
        };
        let end = h.data_at.checked_add(packed_len as usize);
        let packed = end.and_then(|e| data.get(h.data_at..e));
        // Directories and volume labels hold no data.
        if file_type == 3 || file_type == 4 {
            at = end.unwrap_or(usize::MAX);
            continue;
        }
        let Some(packed) = packed else {
            let issue = Issue::corrupt(format!(
                "arj: {name} declares {packed_len} packed bytes, more than the file holds"
            ));
            sink(ctx, Entry::failed(name, issue));
            return Err(Issue::corrupt("arj: the archive is truncated"));
        };
        at = h.data_at + packed.len();
        let refused = if flags & FLAG_GARBLED != 0 {
            Some(Issue::encrypted(format!(
                "arj: {name} is garbled (password-encrypted); not unpacked"
            )))
        } else if flags & (FLAG_VOLUME | FLAG_EXTFILE) != 0 {
            Some(Issue::unsupported(format!(
                "arj: {name} is split across volumes of a multi-volume archive; not unpacked"
            )))
        } else if method > 4 {
            Some(Issue::unsupported(format!(
                "arj: {name} uses an unknown method {method}"
            )))
        } else {
            None
        };
        let entry = match refused {
            Some(issue) => Entry::failed(name, issue),
            None if method == 0 => {
                let mut e = Entry::new(name.clone(), packed);
                if original != packed_len {
                    e.issue = Some(Issue::corrupt(format!(
                        "arj: stored {name} is {packed_len} bytes, its header says {original}"
                    )));
                } else if crc32fast::hash(packed) != crc {
                    e.issue = Some(crc_issue(&name));
                }
                e
            }
            None => {
                let count = Cell::new(0u64);
                let mut dec = Decoder::new(packed, method, u64::from(original), &count);
                let mut expanded = ctx.expand(&mut dec, &count);
                if expanded.cut.is_none() {
                    if let Some(e) = dec.error.take() {
                        expanded.cut = Some(Issue::corrupt(format!("arj: {name}: {e}")));
                    } else if crc32fast::hash(&expanded.data) != crc {
                        expanded.cut = Some(crc_issue(&name));
                    }
                }
                Entry::expanded(name, expanded)
            }
        };
        if sink(ctx, entry) == Flow::Stop {
            return Ok(());
        }
    }
}

fn crc_issue(name: &str) -> Issue {
    Issue::corrupt(format!(
        "arj: {name}: CRC mismatch (corrupt data or a wrong header)"
    ))
}

// ---- decoding ---------------------------------------------------------

/// Ring buffer size: a power of two above every distance either method
/// can express (method 4: 15871, methods 1-3: 65535).
const RING: usize = 1 << 16;
/// Literal/length symbols of methods 1-3: 256 bytes and lengths 3-256.
const NC: usize = 510;
/// Symbols of the code-length code.
const NT: usize = 19;
/// Distance symbols: 0, then bit lengths 1-16.
const NP: usize = 17;

/// MSB-first bits over a slice; reading past the end is an error. Up to
/// 64 bits are held at once, so that a Huffman code can be looked up in a
/// table from the next bits before its length is known.
struct Bits<'a, 'c> {
    data: &'a [u8],
    pos: usize,
    /// The next `have` bits of the input, in the low bits, MSB first.
    acc: u64,
    have: u32,
    packed: &'c Cell<u64>,
}

impl Bits<'_, '_> {
    /// Loads whole bytes while they fit; the count of packed bytes read
    /// runs ahead of the bits used by at most 7 bytes.
    fn refill(&mut self) {
        while self.have <= 56 {
            let Some(&b) = self.data.get(self.pos) else {
                return;
            };
            self.pos += 1;
            self.packed.set(self.packed.get() + 1);
            self.acc = (self.acc << 8) | u64::from(b);
            self.have += 8;
        }
    }

    fn bits(&mut self, n: u32) -> Result<u32, &'static str> {
        debug_assert!(n <= 16);
        if self.have < n {
            self.refill();
            if self.have < n {
                return Err("the packed data ends early");
            }
        }
        self.have -= n;
        Ok(((self.acc >> self.have) & ((1u64 << n) - 1)) as u32)
    }

    fn bit(&mut self) -> Result<bool, &'static str> {
        Ok(self.bits(1)? == 1)
    }

    /// The next `n` bits without using them, zeros past the end of the
    /// input (a code found there is refused by [`Bits::skip`]).
    fn peek(&mut self, n: u32) -> u32 {
        debug_assert!(n <= 16);
        if self.have < n {
            self.refill();
        }
        let v = if self.have >= n {
            self.acc >> (self.have - n)
        } else {
            self.acc << (n - self.have)
        };
        (v & ((1u64 << n) - 1)) as u32
    }

    fn skip(&mut self, n: u32) -> Result<(), &'static str> {
        if self.have < n {
            return Err("the packed data ends early");
        }
        self.have -= n;
        Ok(())
    }
}

/// Bits looked up at once when decoding a Huffman code: most codes are
/// this short; a longer one is decoded a bit at a time past the table.
const TABLE_BITS: u32 = 10;

/// A canonical Huffman code as ARJ builds it (codes assigned by length,
/// then by symbol); or a single symbol that takes no bits (a table "of
/// one").
enum Code {
    Fixed(u16),
    Canonical {
        /// Codes per length 1-16.
        count: [u16; 17],
        /// Symbols sorted by (length, symbol).
        symbols: Vec<u16>,
        /// For every value of the next [`TABLE_BITS`] bits: the symbol
        /// and code length (`symbol << 8 | length`) of a code of at most
        /// that many bits starting there, else 0.
        table: Vec<u32>,
    },
}

impl Code {
    fn build(lengths: &[u8]) -> Result<Code, &'static str> {
        let mut count = [0u16; 17];
        for &l in lengths {
            if l > 16 {
                return Err("a code length over 16");
            }
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        // The code must fill the code space exactly, as ARJ requires.
        let space: u32 = (1..=16).map(|l| u32::from(count[l]) << (16 - l)).sum();
        if space != 1 << 16 {
            return Err("a Huffman table that is not complete");
        }
        let mut symbols = Vec::with_capacity(lengths.len());
        for l in 1..=16u8 {
            for (s, &len) in lengths.iter().enumerate() {
                if len == l {
                    symbols.push(s as u16);
                }
            }
        }
        // Canonical codes in (length, symbol) order: each length's first
        // code follows the last of the length before, shifted.
        let mut table = vec![0u32; 1 << TABLE_BITS];
        let (mut code, mut index) = (0u32, 0usize);
        for len in 1..=TABLE_BITS {
            for _ in 0..count[len as usize] {
                let Some(&sym) = symbols.get(index) else {
                    return Err("a bad Huffman table");
                };
                let shift = TABLE_BITS - len;
                let start = (code << shift) as usize;
                let entry = (u32::from(sym) << 8) | len;
                if let Some(slots) = table.get_mut(start..start + (1 << shift)) {
                    slots.fill(entry);
                }
                code += 1;
                index += 1;
            }
            code <<= 1;
        }
        Ok(Code::Canonical {
            count,
            symbols,
            table,
        })
    }

    fn decode(&self, bits: &mut Bits) -> Result<u16, &'static str> {
        let (count, symbols, table) = match self {
            Code::Fixed(s) => return Ok(*s),
            Code::Canonical {
                count,
                symbols,
                table,
            } => (count, symbols, table),
        };
        let entry = table
            .get(bits.peek(TABLE_BITS) as usize)
            .copied()
            .unwrap_or(0);
        if entry != 0 {
            bits.skip(entry & 0xff)?;
            return Ok((entry >> 8) as u16);
        }
        let mut code = 0u32;
        let mut first = 0u32;
        let mut index = 0usize;
        for &n in &count[1..] {
            code |= bits.bits(1)?;
            let n = u32::from(n);
            if code < first + n {
                return symbols
                    .get(index + (code - first) as usize)
                    .copied()
                    .ok_or("a bad Huffman code");
            }
            index += n as usize;
            first = (first + n) << 1;
            code <<= 1;
        }
        Err("a bad Huffman code")
    }
}

/// Methods 1-3's code-length tables: `n` lengths in unary-extended
/// 3-bit form; after the `special`-th, a 2-bit run of zero lengths.
fn read_pt(
    bits: &mut Bits,
    nn: usize,
    nbit: u32,
    special: Option<usize>,
) -> Result<Code, &'static str> {
    let n = bits.bits(nbit)? as usize;
    if n == 0 {
        let c = bits.bits(nbit)? as u16;
        return Ok(Code::Fixed(c));
    }
    if n > nn {
        return Err("too many code lengths");
    }
    let mut len = vec![0u8; nn];
    let mut i = 0;
    while i < n {
        let mut c = bits.bits(3)?;
        if c == 7 {
            while bits.bit()? {
                c += 1;
                if c > 16 {
                    return Err("a code length over 16");
                }
            }
        }
        len[i] = c as u8;
        i += 1;
        if Some(i) == special {
            let zeros = bits.bits(2)? as usize;
            if i + zeros > nn {
                return Err("a run of zero lengths past the table");
            }
            i += zeros;
        }
    }
    Code::build(&len)
}

/// Methods 1-3's literal/length code lengths, coded with `pt`.
fn read_c(bits: &mut Bits, pt: &Code) -> Result<Code, &'static str> {
    let n = bits.bits(9)? as usize;
    if n == 0 {
        let c = bits.bits(9)? as u16;
        return Ok(Code::Fixed(c));
    }
    if n > NC {
        return Err("too many literal/length code lengths");
    }
    let mut len = vec![0u8; NC];
    let mut i = 0;
    while i < n {
        let c = pt.decode(bits)?;
        if c <= 2 {
            let zeros = match c {
                0 => 1,
                1 => bits.bits(4)? as usize + 3,
                _ => bits.bits(9)? as usize + 20,
            };
            if i + zeros > NC {
                return Err("a run of zero lengths past the table");
            }
            i += zeros;
        } else {
            len[i] = (c - 2) as u8;
            i += 1;
        }
    }
    Code::build(&len)
}

struct Block {
    left: u32,
    c: Code,
    p: Code,
}

/// Expands one member, on demand, into a fixed ring buffer; stops after
/// `original` bytes, at the end of its input, or at an error (kept in
/// `error`).
struct Decoder<'a, 'c> {
    bits: Bits<'a, 'c>,
    method: u8,
    ring: Vec<u8>,
    wpos: usize,
    produced: u64,
    original: u64,
    copy: Option<(usize, usize)>,
    block: Option<Block>,
    error: Option<&'static str>,
}

impl<'a, 'c> Decoder<'a, 'c> {
    fn new(data: &'a [u8], method: u8, original: u64, packed: &'c Cell<u64>) -> Self {
        Decoder {
            bits: Bits {
                data,
                pos: 0,
                acc: 0,
                have: 0,
                packed,
            },
            method,
            ring: vec![0; RING],
            wpos: 0,
            produced: 0,
            original,
            copy: None,
            block: None,
            error: None,
        }
    }

    fn put(&mut self, b: u8) -> u8 {
        self.ring[self.wpos] = b;
        self.wpos = (self.wpos + 1) % RING;
        self.produced += 1;
        b
    }

    /// Starts a copy of `len` bytes from `dist + 1` back.
    fn start_copy(&mut self, dist: usize, len: usize) -> Result<(), &'static str> {
        if dist as u64 >= self.produced {
            return Err("a match reaches before the start of the data");
        }
        self.copy = Some(((self.wpos + RING - dist - 1) % RING, len));
        Ok(())
    }

    /// Decodes the next literal or match (method 1-3).
    fn step_huffman(&mut self) -> Result<Option<u8>, &'static str> {
        let need_block = self.block.as_ref().is_none_or(|b| b.left == 0);
        if need_block {
            let size = self.bits.bits(16)?;
            let pt = read_pt(&mut self.bits, NT, 5, Some(3))?;
            let c = read_c(&mut self.bits, &pt)?;
            let p = read_pt(&mut self.bits, NP, 5, None)?;
            // A block of 0 symbols is 65536 to ARJ's 16-bit counter.
            let left = if size == 0 { 1 << 16 } else { size };
            self.block = Some(Block { left, c, p });
        }
        let Some(block) = self.block.as_mut() else {
            return Err("no block");
        };
        block.left -= 1;
        let c = usize::from(block.c.decode(&mut self.bits)?);
        if c < 256 {
            return Ok(Some(c as u8));
        }
        if c >= NC {
            return Err("a literal/length symbol out of range");
        }
        let len = c - 253;
        let j = u32::from(block.p.decode(&mut self.bits)?);
        if j as usize >= NP {
            return Err("a distance symbol out of range");
        }
        let dist = if j == 0 {
            0
        } else {
            (1usize << (j - 1)) + self.bits.bits(j - 1)? as usize
        };
        self.start_copy(dist, len)?;
        Ok(None)
    }

    /// Decodes the next literal or match (method 4).
    fn step_fast(&mut self) -> Result<Option<u8>, &'static str> {
        // Length: up to 7 one-bits, each doubling the range, then that
        // many bits.
        let (mut plus, mut pwr, mut width) = (0u32, 1u32, 0u32);
        while width < 7 && self.bits.bit()? {
            plus += pwr;
            pwr <<= 1;
            width += 1;
        }
        let c = plus + if width > 0 { self.bits.bits(width)? } else { 0 };
        if c == 0 {
            return Ok(Some(self.bits.bits(8)? as u8));
        }
        let len = c as usize + 2;
        let (mut plus, mut pwr, mut width) = (0u32, 1u32 << 9, 9u32);
        while width < 13 && self.bits.bit()? {
            plus += pwr;
            pwr <<= 1;
            width += 1;
        }
        let dist = (plus + self.bits.bits(width)?) as usize;
        self.start_copy(dist, len)?;
        Ok(None)
    }

    fn next_byte(&mut self) -> Option<u8> {
        loop {
            if self.produced >= self.original || self.error.is_some() {
                return None;
            }
            if let Some((from, left)) = self.copy {
                let b = self.ring[from];
                self.copy = (left > 1).then_some(((from + 1) % RING, left - 1));
                return Some(self.put(b));
            }
            let step = if self.method == 4 {
                self.step_fast()
            } else {
                self.step_huffman()
            };
            match step {
                Ok(Some(b)) => return Some(self.put(b)),
                Ok(None) => {}
                Err(e) => self.error = Some(e),
            }
        }
    }
}

impl Read for Decoder<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            // A match is copied as a run, not a byte per call.
            if let Some((from, left)) = self.copy {
                let room = (self.original.saturating_sub(self.produced)).min((buf.len() - n) as u64)
                    as usize;
                if room == 0 || self.error.is_some() {
                    break;
                }
                let k = left.min(room);
                let mut from = from;
                for slot in buf.iter_mut().skip(n).take(k) {
                    let b = self.ring.get(from).copied().unwrap_or(0);
                    from = (from + 1) % RING;
                    *slot = self.put(b);
                }
                n += k;
                self.copy = (left > k).then_some((from, left - k));
                continue;
            }
            match self.next_byte() {
                Some(b) => {
                    if let Some(slot) = buf.get_mut(n) {
                        *slot = b;
                    }
                    n += 1;
                }
                None => break,
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IssueKind;
    use crate::testutil::{EICAR, walk};

    /// A basic header with its CRC and no extended header.
    fn header_bytes(
        file_type: u8,
        flags: u8,
        method: u8,
        name: &str,
        packed: &[u8],
        original: &[u8],
    ) -> Vec<u8> {
        let mut b = vec![FIXED as u8, 11, 1, 2, flags, method, file_type, 0];
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        b.extend_from_slice(&(original.len() as u32).to_le_bytes());
        b.extend_from_slice(&crc32fast::hash(original).to_le_bytes());
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        b.push(0);
        let mut h = MAGIC.to_vec();
        h.extend_from_slice(&(b.len() as u16).to_le_bytes());
        h.extend_from_slice(&b);
        h.extend_from_slice(&crc32fast::hash(&b).to_le_bytes());
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(packed);
        h
    }

    /// A test member: name, flags, method, packed bytes, original bytes.
    type Member<'a> = (&'a str, u8, u8, &'a [u8], &'a [u8]);

    /// An archive of `members`.
    fn archive(members: &[Member]) -> Vec<u8> {
        let mut a = header_bytes(2, 0, 0, "test.arj", &[], &[]);
        for (name, flags, method, packed, original) in members {
            a.extend(header_bytes(0, *flags, *method, name, packed, original));
        }
        a.extend_from_slice(&MAGIC);
        a.extend_from_slice(&[0, 0]);
        a
    }

    /// Method 4 of literals only: a 0 bit then the byte, MSB first.
    fn fast_literals(data: &[u8]) -> Vec<u8> {
        let mut bits = Vec::new();
        for &b in data {
            bits.push(false);
            for i in (0..8).rev() {
                bits.push(b >> i & 1 == 1);
            }
        }
        bits.chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << (7 - i)))
            })
            .collect()
    }

    #[test]
    fn stored_and_fast_members() {
        let a = archive(&[
            ("dir\\eicar.com", 0, 0, EICAR, EICAR),
            ("fast.com", 0, 4, &fast_literals(EICAR), EICAR),
        ]);
        assert!(detect(&a));
        let w = walk(&a, "t.arj");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.chains(), ["dir/eicar.com", "fast.com"]);
        assert!(w.found.iter().all(|f| f.data == EICAR && f.issue.is_none()));
    }

    #[test]
    fn garbled_volume_and_unknown_methods_are_reported() {
        let a = archive(&[
            ("secret", FLAG_GARBLED, 1, b"xxxx", b"yyyy"),
            ("split", FLAG_VOLUME, 0, b"abc", b"abc"),
            ("odd", 0, 9, b"abc", b"abc"),
            ("ok", 0, 0, EICAR, EICAR),
        ]);
        let w = walk(&a, "t.arj");
        let kinds: Vec<_> = w
            .found
            .iter()
            .map(|f| f.issue.as_ref().map(|i| i.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                Some(IssueKind::Encrypted),
                Some(IssueKind::Unsupported),
                Some(IssueKind::Unsupported),
                None
            ]
        );
        assert_eq!(w.containing(EICAR).unwrap().chain, "ok");
    }

    #[test]
    fn crc_and_short_data_are_corrupt() {
        let mut packed = fast_literals(EICAR);
        let a = archive(&[("x", 0, 4, &packed, EICAR)]);
        // Flip a bit of the packed data (not the header): the CRC catches it.
        let at = a.len() - 4 - packed.len() + 3;
        let mut b = a.clone();
        b[at] ^= 0x10;
        let w = walk(&b, "t.arj");
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        // Packed data shorter than the output: what there is, corrupt.
        packed.truncate(20);
        let a = archive(&[("x", 0, 4, &packed, EICAR)]);
        let w = walk(&a, "t.arj");
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert!(EICAR.starts_with(&w.found[0].data));
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        let full = archive(&[
            ("a", 0, 0, EICAR, EICAR),
            ("b", 0, 4, &fast_literals(EICAR), EICAR),
        ]);
        for len in 0..full.len() {
            let w = walk(&full[..len], "t");
            if len < full.len() - 4 {
                assert!(w.formats.is_empty() || !w.issues.is_empty(), "{len}");
            }
        }
        for i in 0..full.len() {
            for bit in [0x01, 0x20, 0x80] {
                let mut m = full.clone();
                m[i] ^= bit;
                let _ = walk(&m, "t");
            }
        }
    }

    #[test]
    fn hostile_huffman_streams_end_cleanly() {
        // Random-looking bytes as a method 1 member that claims 1 MiB:
        // an error or the data's end, never a panic or a hang.
        let mut x = 0x1234_5678u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for method in 1..=4u8 {
            let count = Cell::new(0);
            let mut d = Decoder::new(&noise, method, 1 << 20, &count);
            let mut out = Vec::new();
            d.read_to_end(&mut out).unwrap();
            assert!(out.len() < 1 << 20 || d.error.is_none());
        }
    }

    /// Debian's `arj` as the writer, every method, over 400 KB of mixed
    /// content (text, an executable, noise, runs): long enough for many
    /// Huffman blocks, codes longer than the lookup table, matches across
    /// the ring's wrap. The member must come back byte for byte, its CRC
    /// checked.
    #[test]
    fn debian_arj_round_trips_every_method() {
        use std::process::Command;
        if Command::new("arj").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "CI must install arj");
            eprintln!("skipped: arj not installed");
            return;
        }
        let mut content = Vec::new();
        for i in 0..3000u32 {
            content.extend_from_slice(
                format!("line {i}: the quick brown fox {}\n", i * 7919 % 1000).as_bytes(),
            );
        }
        content.extend_from_slice(&std::fs::read("/bin/sh").unwrap_or_default());
        let mut x = 0x1234_5678u32;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            content.push((x >> 24) as u8);
        }
        content.extend_from_slice(&[0u8; 70_000]);
        content.extend_from_slice(EICAR);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mixed.bin"), &content).unwrap();
        for m in 1..=4 {
            let name = format!("m{m}.arj");
            let out = Command::new("arj")
                .args(["a", "-y", "-i", &format!("-m{m}"), &name, "mixed.bin"])
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "arj -m{m}: {out:?}");
            let a = std::fs::read(dir.path().join(&name)).unwrap();
            let w = walk(&a, &name);
            assert!(w.issues.is_empty(), "-m{m}: {:?}", w.issues);
            let got = w.found.iter().find(|f| f.chain == "mixed.bin").unwrap();
            assert!(got.issue.is_none(), "-m{m}: {:?}", got.issue);
            assert!(
                got.data == content,
                "-m{m}: {} bytes back, {} expected",
                got.data.len(),
                content.len()
            );
        }
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"\x60\xEA"));
        assert!(!detect(b"\x60\xEA\x00\x00"));
        assert!(!detect(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0"));
        let mut a = archive(&[]);
        a[10] ^= 1;
        assert!(!detect(&a));
    }
}
