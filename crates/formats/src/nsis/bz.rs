//! NSIS's bzip2: the bzip2 block format (Huffman-coded MTF/RLE2 symbols of
//! a Burrows-Wheeler transform, then RLE1) without what NSIS leaves out:
//! there is no `BZh` stream header (the block size is always 900,000), a
//! block starts with the single byte `0x31` instead of the 48-bit block
//! magic and carries neither a CRC nor the randomisation bit, and the
//! stream ends with the byte `0x17` instead of the 48-bit end magic and
//! combined CRC. Those markers are bit-aligned like bzip2's.
//!
//! The maintained bzip2 decoders all insist on the stream header and the
//! CRCs NSIS does not write, so the block decoding is done here. Every
//! count read from the stream is checked against bzip2's own bounds (at
//! most 900,000 symbols a block, 2 to 6 code tables, code lengths of 1
//! to 20 bits) before anything is sized from it; output is produced a
//! little at a time, as it is read.

use std::io::{self, Read};

/// Symbols of one block at most (block size 9 × 100,000).
const MAX_BLOCK: usize = 900_000;
/// Selectors bzip2 ever writes; more are read and ignored, as bzip2 does.
const MAX_SELECTORS: usize = 18_002;
/// Symbols a selector covers.
const GROUP: usize = 50;
const MAX_CODE_LEN: u32 = 20;
const BLOCK_MAGIC: u32 = 0x31;
const END_MAGIC: u32 = 0x17;

fn bad(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("NSIS bzip2: {message}"))
}

/// Reads bits most significant first.
struct Bits<R> {
    inner: R,
    buf: Box<[u8; 4096]>,
    at: usize,
    len: usize,
    acc: u64,
    live: u32,
}

impl<R: Read> Bits<R> {
    fn new(inner: R) -> Self {
        Bits {
            inner,
            buf: Box::new([0; 4096]),
            at: 0,
            len: 0,
            acc: 0,
            live: 0,
        }
    }

    fn byte(&mut self) -> io::Result<u8> {
        if self.at == self.len {
            self.at = 0;
            self.len = loop {
                match self.inner.read(&mut self.buf[..]) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "NSIS bzip2: the stream is cut short",
                        ));
                    }
                    Ok(n) => break n.min(self.buf.len()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
        }
        let b = self.buf.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        Ok(b)
    }

    /// The next `n` bits (`n` at most 32).
    fn bits(&mut self, n: u32) -> io::Result<u32> {
        while self.live < n {
            self.acc = (self.acc << 8) | u64::from(self.byte()?);
            self.live += 8;
        }
        self.live -= n;
        let v = (self.acc >> self.live) & ((1u64 << n) - 1);
        Ok(v as u32)
    }

    fn bit(&mut self) -> io::Result<bool> {
        Ok(self.bits(1)? == 1)
    }
}

/// One canonical Huffman code: symbols sorted by code length, and per
/// length the first code and where its symbols start.
struct Code {
    first: [u32; MAX_CODE_LEN as usize + 1],
    count: [u32; MAX_CODE_LEN as usize + 1],
    start: [u32; MAX_CODE_LEN as usize + 1],
    sorted: Vec<u16>,
    min_len: u32,
}

impl Code {
    /// Codes are handed out shortest first and, within a length, in
    /// symbol order, as bzip2's encoder does.
    fn new(lens: &[u8]) -> io::Result<Code> {
        let mut count = [0u32; MAX_CODE_LEN as usize + 1];
        for &l in lens {
            if let Some(c) = count.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        let mut first = [0u32; MAX_CODE_LEN as usize + 1];
        let mut start = [0u32; MAX_CODE_LEN as usize + 1];
        let mut code = 0u32;
        let mut index = 0u32;
        for len in 1..=MAX_CODE_LEN as usize {
            first[len] = code;
            start[len] = index;
            code = (code + count[len]) << 1;
            index += count[len];
        }
        let mut sorted = Vec::with_capacity(lens.len());
        for len in 1..=MAX_CODE_LEN as u8 {
            for (sym, &l) in lens.iter().enumerate() {
                if l == len {
                    sorted.push(sym as u16);
                }
            }
        }
        let min_len = (1..=MAX_CODE_LEN)
            .find(|&l| count[l as usize] > 0)
            .ok_or_else(|| bad("a code table is empty"))?;
        Ok(Code {
            first,
            count,
            start,
            sorted,
            min_len,
        })
    }

    fn decode<R: Read>(&self, bits: &mut Bits<R>) -> io::Result<u16> {
        let mut len = self.min_len;
        let mut code = bits.bits(len)?;
        loop {
            let l = len as usize;
            let rel = code.wrapping_sub(self.first[l]);
            if rel < self.count[l] {
                let i = (self.start[l] + rel) as usize;
                return self
                    .sorted
                    .get(i)
                    .copied()
                    .ok_or_else(|| bad("a code points past its table"));
            }
            len += 1;
            if len > MAX_CODE_LEN {
                return Err(bad("a code matches no symbol"));
            }
            code = (code << 1) | bits.bits(1)?;
        }
    }
}

/// The decoder: reads NSIS bzip2 from `R` and yields the expanded bytes.
pub(super) struct Decoder<R> {
    bits: Bits<R>,
    /// The inverse BWT vector of the current block: each entry holds the
    /// byte in its low 8 bits and the next position above them.
    tt: Vec<u32>,
    /// Position in `tt` of the next byte, and bytes of the block left.
    pos: u32,
    left: usize,
    /// RLE1 state: the last byte, how many times in a row it came (a
    /// fourth is followed by a repeat count), and copies still owed.
    last: u8,
    run: u32,
    owed: u32,
    ended: bool,
}

impl<R: Read> Decoder<R> {
    pub(super) fn new(inner: R) -> Self {
        Decoder {
            bits: Bits::new(inner),
            tt: Vec::new(),
            pos: 0,
            left: 0,
            last: 0,
            run: 0,
            owed: 0,
            ended: false,
        }
    }

    /// Reads the next block into `tt`; false at the end of the stream.
    fn block(&mut self) -> io::Result<bool> {
        let b = &mut self.bits;
        match b.bits(8)? {
            END_MAGIC => return Ok(false),
            BLOCK_MAGIC => {}
            _ => return Err(bad("a block does not start with its marker")),
        }
        let orig = b.bits(24)? as usize;

        // The bytes used in the block, from a two-level bitmap.
        let used16 = b.bits(16)?;
        let mut alphabet = Vec::with_capacity(256);
        for i in 0..16u32 {
            if used16 & (0x8000 >> i) != 0 {
                let used = b.bits(16)?;
                for j in 0..16u32 {
                    if used & (0x8000 >> j) != 0 {
                        alphabet.push((i * 16 + j) as u8);
                    }
                }
            }
        }
        if alphabet.is_empty() {
            return Err(bad("a block uses no byte"));
        }
        let alpha_size = alphabet.len() + 2;

        let groups = b.bits(3)? as usize;
        if !(2..=6).contains(&groups) {
            return Err(bad("a block has a bad number of code tables"));
        }
        let selectors_n = b.bits(15)? as usize;
        if selectors_n == 0 {
            return Err(bad("a block has no selector"));
        }
        let mut mtf_groups: Vec<u8> = (0..groups as u8).collect();
        let mut selectors = Vec::with_capacity(selectors_n.min(MAX_SELECTORS));
        for _ in 0..selectors_n {
            let mut j = 0usize;
            while b.bit()? {
                j += 1;
                if j >= groups {
                    return Err(bad("a selector names no code table"));
                }
            }
            let g = mtf_groups.remove(j);
            mtf_groups.insert(0, g);
            if selectors.len() < MAX_SELECTORS {
                selectors.push(g);
            }
        }

        let mut codes = Vec::with_capacity(groups);
        for _ in 0..groups {
            let mut len = b.bits(5)?;
            let mut lens = Vec::with_capacity(alpha_size);
            for _ in 0..alpha_size {
                loop {
                    if !(1..=MAX_CODE_LEN).contains(&len) {
                        return Err(bad("a code length is out of range"));
                    }
                    if !b.bit()? {
                        break;
                    }
                    if b.bit()? {
                        len -= 1;
                    } else {
                        len += 1;
                    }
                }
                lens.push(len as u8);
            }
            codes.push(Code::new(&lens)?);
        }

        // The MTF/RLE2 symbols, 50 to a selector.
        let eob = (alphabet.len() + 1) as u16;
        let mut mtf: Vec<u8> = (0..=255u8).collect();
        let mut counts = [0u32; 256];
        self.tt.clear();
        let tt = &mut self.tt;
        let mut selector = 0usize;
        let mut table = 0usize;
        let mut in_group = 0usize;
        let mut run = 0usize;
        let mut run_weight = 1usize;
        loop {
            if in_group == 0 {
                table = usize::from(
                    *selectors
                        .get(selector)
                        .ok_or_else(|| bad("a block runs past its selectors"))?,
                );
                selector += 1;
                in_group = GROUP;
            }
            in_group -= 1;
            let sym = codes
                .get(table)
                .ok_or_else(|| bad("a selector names no code table"))?
                .decode(b)?;
            if sym <= 1 {
                // RUNA / RUNB: a run of the front byte, in bijective base 2.
                run += run_weight << sym;
                run_weight <<= 1;
                if run > MAX_BLOCK {
                    return Err(bad("a run is longer than a block"));
                }
                continue;
            }
            if run > 0 {
                let byte = alphabet
                    .get(usize::from(mtf[0]))
                    .copied()
                    .ok_or_else(|| bad("a run of an unused byte"))?;
                if tt.len() + run > MAX_BLOCK {
                    return Err(bad("a block is larger than 900,000 bytes"));
                }
                counts[usize::from(byte)] += run as u32;
                tt.extend(std::iter::repeat_n(u32::from(byte), run));
                run = 0;
                run_weight = 1;
            }
            if sym == eob {
                break;
            }
            let n = usize::from(sym - 1);
            if n >= alphabet.len() {
                return Err(bad("a symbol is past the block's alphabet"));
            }
            let front = mtf.remove(n);
            mtf.insert(0, front);
            let byte = alphabet
                .get(usize::from(front))
                .copied()
                .ok_or_else(|| bad("a symbol is past the block's alphabet"))?;
            if tt.len() >= MAX_BLOCK {
                return Err(bad("a block is larger than 900,000 bytes"));
            }
            counts[usize::from(byte)] += 1;
            tt.push(u32::from(byte));
        }
        if orig >= tt.len() {
            return Err(bad("the block's BWT origin is past its end"));
        }

        // Inverse BWT: link each position to the next one.
        let mut next = [0u32; 256];
        let mut sum = 0u32;
        for (n, c) in next.iter_mut().zip(counts) {
            *n = sum;
            sum += c;
        }
        for i in 0..tt.len() {
            let byte = (tt[i] & 0xFF) as usize;
            let to = next[byte] as usize;
            next[byte] += 1;
            if let Some(slot) = tt.get_mut(to) {
                *slot |= (i as u32) << 8;
            }
        }
        self.pos = tt[orig] >> 8;
        self.left = tt.len();
        self.run = 0;
        Ok(true)
    }

    /// The next byte of the block before RLE1.
    fn next_symbol(&mut self) -> u8 {
        let v = self.tt.get(self.pos as usize).copied().unwrap_or(0);
        self.pos = v >> 8;
        self.left -= 1;
        v as u8
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            if self.owed > 0 {
                let k = (self.owed as usize).min(buf.len() - n);
                buf[n..n + k].fill(self.last);
                n += k;
                self.owed -= k as u32;
                continue;
            }
            if self.left == 0 {
                if self.ended || n > 0 {
                    break;
                }
                if !self.block()? {
                    self.ended = true;
                    break;
                }
                continue;
            }
            let ch = self.next_symbol();
            if self.run == 4 {
                self.owed = u32::from(ch);
                self.run = 0;
                continue;
            }
            if self.run > 0 && ch == self.last {
                self.run += 1;
            } else {
                self.run = 1;
                self.last = ch;
            }
            buf[n] = ch;
            n += 1;
        }
        Ok(n)
    }
}
