//! The NRV2B, NRV2D and NRV2E decompressors UPX uses (from the UCL
//! family), with each bit buffer UPX writes: one byte at a time (the
//! `_8` methods), 16-bit little-endian words (`_LE16`, for DOS formats) or
//! 32-bit little-endian words (`_LE32`, the usual ones for PE and ELF). Written from the published description of
//! the formats.
//!
//! A stream interleaves flag bits (read most significant first from the bit
//! buffer, which is refilled from the input when empty) with literal bytes
//! and the low bytes of match offsets. Literals are announced by a 1 bit;
//! a 0 bit starts a match: an offset given as an Elias-gamma-like number
//! (value 2 repeats the last offset) and a low byte, then a length. The
//! three variants differ in how offsets and lengths are coded; an offset of
//! all ones ends the stream.
//!
//! Output is bounded by a cap given by the caller (never by a size read
//! from the input): decoding stops when the next byte would pass it.

/// Which of the three codings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Nrv {
    /// NRV2B: offsets past 0xD00 get one more byte of length.
    B,
    /// NRV2D: the offset's low bit carries the first length bit.
    D,
    /// NRV2E: as NRV2D with a finer coding of short lengths.
    E,
}

/// The width of the bit buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bits {
    /// Refilled one byte at a time.
    Byte,
    /// Refilled 16 bits at a time, little-endian.
    Le16,
    /// Refilled 32 bits at a time, little-endian.
    Le32,
}

/// Why decoding stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The end marker, after `consumed` input bytes.
    End {
        /// Input bytes read, the end marker included.
        consumed: usize,
    },
    /// The output reached the cap before the end marker.
    Full,
    /// The stream is corrupt or cut short; what was decoded is kept.
    Corrupt(&'static str),
}

/// The decoded bytes and why decoding stopped.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// Bytes decoded (at most the cap).
    pub data: Vec<u8>,
    /// Why decoding stopped.
    pub stop: Stop,
}

/// Offsets (before the low byte) past this are corrupt: the end marker is
/// the largest value any encoder writes.
const GAMMA_MAX: u64 = 0x0100_0002;
/// Lengths past this are corrupt (no match is longer than its stream's
/// output, and no output here is 4 GiB).
const LEN_MAX: u64 = 1 << 32;

struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
    bits: Bits,
    word: u32,
    left: u32,
}

const TRUNCATED: &str = "the compressed stream is cut short";

impl Reader<'_> {
    fn bit(&mut self) -> Result<u64, &'static str> {
        if self.left == 0 {
            match self.bits {
                Bits::Byte => {
                    self.word = u32::from(*self.src.get(self.pos).ok_or(TRUNCATED)?);
                    self.pos += 1;
                    self.left = 8;
                }
                Bits::Le16 => {
                    let w = self.src.get(self.pos..self.pos + 2).ok_or(TRUNCATED)?;
                    self.word = u32::from(u16::from_le_bytes([w[0], w[1]]));
                    self.pos += 2;
                    self.left = 16;
                }
                Bits::Le32 => {
                    let w = self.src.get(self.pos..self.pos + 4).ok_or(TRUNCATED)?;
                    self.word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                    self.pos += 4;
                    self.left = 32;
                }
            }
        }
        self.left -= 1;
        Ok(u64::from((self.word >> self.left) & 1))
    }

    fn byte(&mut self) -> Result<u8, &'static str> {
        let b = *self.src.get(self.pos).ok_or(TRUNCATED)?;
        self.pos += 1;
        Ok(b)
    }

    /// The gamma code of NRV2B lengths and offsets: each data bit is
    /// followed by a bit that is 1 on the last one.
    fn gamma(&mut self, max: u64) -> Result<u64, &'static str> {
        let mut v = 1u64;
        loop {
            v = v * 2 + self.bit()?;
            if v > max {
                return Err("a number in the stream is out of range");
            }
            if self.bit()? == 1 {
                return Ok(v);
            }
        }
    }

    /// The offset code of NRV2D and NRV2E: as [`Reader::gamma`], but a
    /// continuation also takes one away and reads another data bit.
    fn gamma_de(&mut self) -> Result<u64, &'static str> {
        let mut v = 1u64;
        loop {
            v = v * 2 + self.bit()?;
            if v > GAMMA_MAX {
                return Err("a match offset is out of range");
            }
            if self.bit()? == 1 {
                return Ok(v);
            }
            v = (v - 1) * 2 + self.bit()?;
        }
    }
}

/// Decodes `src` as `nrv` with bit buffer `bits`, producing at most `cap`
/// bytes.
pub(crate) fn decompress(src: &[u8], nrv: Nrv, bits: Bits, cap: usize) -> Decoded {
    let mut out = Vec::with_capacity(cap.min(src.len().saturating_mul(8)).min(64 << 20));
    let stop = match run(src, nrv, bits, cap, &mut out) {
        Ok(stop) => stop,
        Err(why) => Stop::Corrupt(why),
    };
    Decoded { data: out, stop }
}

fn run(
    src: &[u8],
    nrv: Nrv,
    bits: Bits,
    cap: usize,
    out: &mut Vec<u8>,
) -> Result<Stop, &'static str> {
    let mut r = Reader {
        src,
        pos: 0,
        bits,
        word: 0,
        left: 0,
    };
    let mut last_off = 1u64;
    loop {
        while r.bit()? == 1 {
            let b = r.byte()?;
            if out.len() >= cap {
                return Ok(Stop::Full);
            }
            out.push(b);
        }
        // The match: its offset, then the first length bit(s) where the
        // variant folds them into the offset.
        let gamma = match nrv {
            Nrv::B => r.gamma(GAMMA_MAX)?,
            Nrv::D | Nrv::E => r.gamma_de()?,
        };
        let (off, mut len) = if gamma == 2 {
            let first = match nrv {
                Nrv::B => 0,
                Nrv::D | Nrv::E => r.bit()?,
            };
            (last_off, first)
        } else {
            let x = (gamma - 3) * 256 + u64::from(r.byte()?);
            if x == 0xFFFF_FFFF {
                return Ok(Stop::End { consumed: r.pos });
            }
            let (off, first) = match nrv {
                Nrv::B => (x + 1, 0),
                Nrv::D | Nrv::E => ((x >> 1) + 1, (x & 1) ^ 1),
            };
            last_off = off;
            (off, first)
        };
        let far;
        match nrv {
            Nrv::B => {
                len = r.bit()?;
                len = len * 2 + r.bit()?;
                if len == 0 {
                    len = r.gamma(LEN_MAX)? + 2;
                }
                far = off > 0xD00;
            }
            Nrv::D => {
                len = len * 2 + r.bit()?;
                if len == 0 {
                    len = r.gamma(LEN_MAX)? + 2;
                }
                far = off > 0x500;
            }
            Nrv::E => {
                if len == 1 {
                    len = 1 + r.bit()?;
                } else if r.bit()? == 1 {
                    len = 3 + r.bit()?;
                } else {
                    len = r.gamma(LEN_MAX)? + 3;
                }
                far = off > 0x500;
            }
        }
        // The copy is one byte longer than coded, one more for far offsets.
        let total = len + 1 + u64::from(far);
        let off = usize::try_from(off).map_err(|_| "a match offset is out of range")?;
        if off > out.len() {
            return Err("a match reaches back before the start of the output");
        }
        let room = (cap - out.len()) as u64;
        let n = total.min(room) as usize;
        let from = out.len() - off;
        if off >= n {
            out.extend_from_within(from..from + n);
        } else {
            // Overlapping: the copy repeats the last `off` bytes.
            for i in 0..n {
                let b = out.get(from + i).copied().unwrap_or(0);
                out.push(b);
            }
        }
        if total > room {
            return Ok(Stop::Full);
        }
    }
}

/// A greedy NRV encoder for tests: streams of every variant and bit buffer
/// from data of our own, to check the decoder against.
#[cfg(test)]
pub(crate) mod encode {
    use super::{Bits, Nrv};
    use std::collections::HashMap;

    struct Writer {
        out: Vec<u8>,
        bits: Bits,
        slot: usize,
        word: u32,
        used: u32,
    }

    impl Writer {
        fn width(&self) -> u32 {
            match self.bits {
                Bits::Byte => 8,
                Bits::Le16 => 16,
                Bits::Le32 => 32,
            }
        }

        fn bit(&mut self, b: u64) {
            if self.used == self.width() || self.used == 0 && self.slot == usize::MAX {
                self.flush();
                self.slot = self.out.len();
                self.out
                    .extend(std::iter::repeat_n(0, self.width() as usize / 8));
                self.used = 0;
                self.word = 0;
            }
            self.used += 1;
            self.word |= (b as u32 & 1) << (self.width() - self.used);
        }

        fn flush(&mut self) {
            if self.slot == usize::MAX {
                return;
            }
            match self.bits {
                Bits::Byte => self.out[self.slot] = self.word as u8,
                Bits::Le16 => self.out[self.slot..self.slot + 2]
                    .copy_from_slice(&(self.word as u16).to_le_bytes()),
                Bits::Le32 => {
                    self.out[self.slot..self.slot + 4].copy_from_slice(&self.word.to_le_bytes())
                }
            }
        }

        fn byte(&mut self, b: u8) {
            self.out.push(b);
        }

        /// NRV2B gamma of `v >= 2`.
        fn gamma(&mut self, v: u64) {
            let n = 63 - v.leading_zeros();
            for i in (0..n).rev() {
                self.bit((v >> i) & 1);
                self.bit(u64::from(i == 0));
            }
        }

        /// NRV2D/2E offset code of `v >= 2`.
        fn gamma_de(&mut self, v: u64) {
            self.core_de(v);
            self.bit(1);
        }

        fn core_de(&mut self, v: u64) {
            if v >> 1 == 1 {
                self.bit(v & 1);
            } else {
                self.core_de((v >> 2) + 1);
                self.bit(0);
                self.bit((v >> 1) & 1);
                self.bit(v & 1);
            }
        }
    }

    /// Compresses `data`: greedy matches found through a hash of three
    /// bytes, the last offset reused where it matches.
    pub(crate) fn compress(data: &[u8], nrv: Nrv, bits: Bits) -> Vec<u8> {
        let mut w = Writer {
            out: Vec::new(),
            bits,
            slot: usize::MAX,
            word: 0,
            used: 0,
        };
        let far_at = match nrv {
            Nrv::B => 0xD00,
            Nrv::D | Nrv::E => 0x500,
        };
        let mut heads: HashMap<[u8; 3], Vec<usize>> = HashMap::new();
        let mut last = 1usize;
        let mut i = 0;
        let mut first = true;
        while i < data.len() {
            let match_len = |off: usize| {
                let mut n = 0;
                while i + n < data.len() && data[i + n] == data[i + n - off] {
                    n += 1;
                }
                n
            };
            let mut best = (0usize, 0usize);
            if !first && last <= i {
                let n = match_len(last);
                if n >= 3 {
                    best = (n, last);
                }
            }
            if i + 3 <= data.len() {
                let key = [data[i], data[i + 1], data[i + 2]];
                if let Some(c) = heads.get(&key) {
                    for &p in c.iter().rev().take(32) {
                        let n = match_len(i - p);
                        if n > best.0 + 1 {
                            best = (n, i - p);
                        }
                    }
                }
            }
            let (len, off) = best;
            let min = 2 + usize::from(off > far_at);
            let step = if len >= min.max(3) {
                w.bit(0);
                let reuse = off == last && !first;
                let c = (len - 1 - usize::from(off > far_at)) as u64;
                match nrv {
                    Nrv::B => {
                        if reuse {
                            w.gamma(2);
                        } else {
                            let x = (off - 1) as u64;
                            w.gamma((x >> 8) + 3);
                            w.byte(x as u8);
                        }
                        if c <= 3 {
                            w.bit(c >> 1);
                            w.bit(c & 1);
                        } else {
                            w.bit(0);
                            w.bit(0);
                            w.gamma(c - 2);
                        }
                    }
                    Nrv::D | Nrv::E => {
                        // The first length bit: D codes c in 2 bits or
                        // gamma; E codes c-? as 1x, 01x or 00+gamma.
                        let (b1, rest): (u64, Vec<u64>) = match nrv {
                            Nrv::D if c <= 3 => (c >> 1, vec![c & 1]),
                            Nrv::D => (0, vec![0]),
                            _ if c <= 2 => (1, vec![c - 1]),
                            _ if c <= 4 => (0, vec![1, c - 3]),
                            _ => (0, vec![0]),
                        };
                        if reuse {
                            w.gamma_de(2);
                            w.bit(b1);
                        } else {
                            let x = (((off - 1) as u64) << 1) | (b1 ^ 1);
                            w.gamma_de((x >> 8) + 3);
                            w.byte(x as u8);
                        }
                        for b in &rest {
                            w.bit(*b);
                        }
                        match nrv {
                            Nrv::D if c > 3 => w.gamma(c - 2),
                            Nrv::E if c > 4 => w.gamma(c - 3),
                            _ => {}
                        }
                    }
                }
                last = off;
                first = false;
                len
            } else {
                w.bit(1);
                w.byte(data[i]);
                1
            };
            for k in i..i + step {
                if k + 3 <= data.len() {
                    heads
                        .entry([data[k], data[k + 1], data[k + 2]])
                        .or_default()
                        .push(k);
                }
            }
            i += step;
        }
        // End marker: the offset whose value is all ones.
        w.bit(0);
        match nrv {
            Nrv::B => w.gamma(0x0100_0002),
            Nrv::D | Nrv::E => w.gamma_de(0x0100_0002),
        }
        w.byte(0xFF);
        w.flush();
        w.out
    }
}

#[cfg(test)]
mod tests {
    use super::encode::compress;
    use super::*;
    use crate::testutil::{each_byte_flipped, random_bytes};

    const ALL: [(Nrv, Bits); 9] = [
        (Nrv::B, Bits::Le32),
        (Nrv::B, Bits::Le16),
        (Nrv::B, Bits::Byte),
        (Nrv::D, Bits::Le32),
        (Nrv::D, Bits::Le16),
        (Nrv::D, Bits::Byte),
        (Nrv::E, Bits::Le32),
        (Nrv::E, Bits::Le16),
        (Nrv::E, Bits::Byte),
    ];

    /// Text, runs, random bytes and far repeats: every kind of token.
    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..400 {
            v.extend_from_slice(
                format!("line {i} of the sample, repeated words words\n").as_bytes(),
            );
        }
        v.extend(std::iter::repeat_n(b'A', 5000));
        let noise = random_bytes(6000, 7);
        v.extend_from_slice(&noise);
        v.extend_from_slice(&[1, 2]);
        v.extend_from_slice(&noise[..3000]);
        v.extend_from_slice(&v.clone()[100..9000]);
        v
    }

    #[test]
    fn round_trips_every_variant() {
        let data = sample();
        for (nrv, bits) in ALL {
            for d in [&data[..], &[][..], &b"x"[..], &b"abcabcabcabcabc"[..]] {
                let packed = compress(d, nrv, bits);
                let got = decompress(&packed, nrv, bits, d.len());
                assert_eq!(
                    got.stop,
                    Stop::End {
                        consumed: packed.len()
                    },
                    "{nrv:?} {bits:?}"
                );
                assert!(got.data == d, "{nrv:?} {bits:?}");
            }
            assert!(compress(&data, nrv, bits).len() < data.len() / 2);
        }
    }

    #[test]
    fn stops_at_the_cap() {
        let data = sample();
        for (nrv, bits) in ALL {
            let packed = compress(&data, nrv, bits);
            for cap in [0, 1, 1000, 5001, data.len() - 1] {
                let got = decompress(&packed, nrv, bits, cap);
                assert_eq!(got.stop, Stop::Full);
                assert_eq!(got.data, &data[..cap]);
            }
        }
    }

    #[test]
    fn truncated_streams_are_corrupt_and_keep_their_start() {
        let data = sample();
        for (nrv, bits) in ALL {
            let packed = compress(&data, nrv, bits);
            for cut in [0, 1, 3, packed.len() / 2, packed.len() - 1] {
                let got = decompress(&packed[..cut], nrv, bits, data.len());
                assert!(matches!(got.stop, Stop::Corrupt(_)), "{cut}");
                assert!(data.starts_with(&got.data));
            }
        }
    }

    #[test]
    fn flipped_bits_never_panic_or_pass_the_cap() {
        let data = b"The quick brown fox jumps over the lazy dog; the quick brown fox again.";
        for (nrv, bits) in ALL {
            let packed = compress(data, nrv, bits);
            each_byte_flipped(&packed, &[0x01, 0x10, 0x80], |p| {
                let got = decompress(p, nrv, bits, 200);
                assert!(got.data.len() <= 200);
            });
        }
    }

    #[test]
    fn garbage_is_bounded() {
        for seed in 1..50 {
            let g = random_bytes(4096, seed);
            for (nrv, bits) in ALL {
                let got = decompress(&g, nrv, bits, 1 << 20);
                assert!(got.data.len() <= 1 << 20);
                assert_ne!(got.stop, Stop::End { consumed: 0 });
            }
        }
    }

    #[test]
    fn a_match_before_the_start_is_corrupt() {
        // A match first thing: nothing to copy from.
        let packed = [0x00, 0x00, 0x00, 0x40, 0x00];
        for (nrv, _) in ALL {
            let got = decompress(&packed, nrv, Bits::Byte, 100);
            assert!(matches!(got.stop, Stop::Corrupt(_)), "{nrv:?}");
        }
    }
}
