//! BinHex 4.0 (`.hqx`): a Macintosh file (name, type, creator, data fork,
//! resource fork) as 6-bit text with run-length encoding and CRC-16s.
//!
//! The text is decoded to bytes directly (never longer than the text);
//! the run-length expansion goes through [`Ctx::expand`], since one
//! `0x90` run turns two bytes into 255.

use std::cell::Cell;
use std::io::Read;

use crate::{Counted, Ctx, Entry, Flow, Issue, Sink};

const MARKER: &[u8] = b"(This file must be converted with BinHex";
const ALPHABET: &[u8; 64] = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";
/// Leading white space tolerated before the marker.
const MAX_LEAD: usize = 1024;

/// The marker line at the start of the data (after white space only).
pub(crate) fn detect(data: &[u8]) -> bool {
    marker_at(data).is_some()
}

fn marker_at(data: &[u8]) -> Option<usize> {
    let lead = data
        .iter()
        .take(MAX_LEAD)
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    data.get(lead..)?.starts_with(MARKER).then_some(lead)
}

/// The 6-bit text between the colons, as bytes (still run-length
/// encoded), and whether it ended properly (closing colon, only alphabet
/// characters).
fn decode_text(text: &[u8]) -> (Vec<u8>, bool) {
    let mut table = [0xffu8; 256];
    for (i, &c) in ALPHABET.iter().enumerate() {
        table[usize::from(c)] = i as u8;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc = 0u32;
    let mut n = 0u8;
    let mut ok = false;
    for &c in text {
        if c == b':' {
            ok = true;
            break;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        let v = table[usize::from(c)];
        if v == 0xff {
            break;
        }
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    // A final partial group holds n*6 bits: whole bytes of it count.
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    (out, ok)
}

/// Run-length decoding: `0x90 n` repeats the previous byte to `n` copies
/// in all, `0x90 0` is a literal `0x90`.
struct Rle<R> {
    inner: R,
    buf: Box<[u8; 4096]>,
    pos: usize,
    len: usize,
    last: u8,
    repeat: usize,
}

impl<R: Read> Rle<R> {
    fn new(inner: R) -> Self {
        Rle {
            inner,
            buf: Box::new([0; 4096]),
            pos: 0,
            len: 0,
            last: 0,
            repeat: 0,
        }
    }

    fn next_in(&mut self) -> std::io::Result<Option<u8>> {
        if self.pos == self.len {
            self.len = self.inner.read(&mut self.buf[..])?;
            self.pos = 0;
            if self.len == 0 {
                return Ok(None);
            }
        }
        let b = self.buf.get(self.pos).copied();
        self.pos += 1;
        Ok(b)
    }
}

impl<R: Read> Read for Rle<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut i = 0;
        while i < out.len() {
            if self.repeat > 0 {
                let k = self.repeat.min(out.len() - i);
                out[i..i + k].fill(self.last);
                self.repeat -= k;
                i += k;
                continue;
            }
            let Some(b) = self.next_in()? else { break };
            if b == 0x90 {
                match self.next_in()? {
                    None => break,
                    Some(0) => {
                        self.last = 0x90;
                        out[i] = 0x90;
                        i += 1;
                    }
                    Some(n) => self.repeat = usize::from(n) - 1,
                }
            } else {
                self.last = b;
                out[i] = b;
                i += 1;
            }
        }
        Ok(i)
    }
}

/// CRC-16/XMODEM (polynomial 0x1021, initial 0), as BinHex uses it.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// Unpacks the data fork (named by the stored file name) and the resource
/// fork (`<name>.rsrc`); empty forks are left out. CRC mismatches are
/// reported after the forks were handed out.
pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let at = marker_at(data).ok_or_else(|| Issue::corrupt("binhex: no BinHex marker"))?;
    let after = &data[at + MARKER.len()..];
    let colon = memchr::memchr(b':', after)
        .ok_or_else(|| Issue::corrupt("binhex: no ':' opening the encoded data"))?;
    let (packed, closed) = decode_text(&after[colon + 1..]);
    let count = Cell::new(0);
    let mut rle = Rle::new(Counted::new(&packed[..], &count));
    let expanded = ctx.expand(&mut rle, &count);
    let d = &expanded.data;
    let mut problems: Vec<String> = Vec::new();
    if !closed {
        problems.push("the encoded data ends without its closing ':'".into());
    }

    let truncated = |what: &str| Issue::corrupt(format!("binhex: truncated in the {what}"));
    let n = usize::from(*d.first().ok_or_else(|| truncated("header"))?);
    let name_bytes = d.get(1..1 + n).ok_or_else(|| truncated("header"))?;
    let name = String::from_utf8_lossy(name_bytes).into_owned();
    let hdr_end = 1 + n + 1 + 4 + 4 + 2 + 4 + 4;
    let dlen = be32(d, 1 + n + 11).ok_or_else(|| truncated("header"))?;
    let rlen = be32(d, 1 + n + 15).ok_or_else(|| truncated("header"))?;
    let hcrc = be16(d, hdr_end).ok_or_else(|| truncated("header"))?;
    if crc16(&d[..hdr_end]) != hcrc {
        problems.push("header CRC mismatch".into());
    }

    let mut pos = hdr_end + 2;
    let forks = [
        (name.clone(), dlen, "data fork"),
        (format!("{name}.rsrc"), rlen, "resource fork"),
    ];
    for (fork_name, len, what) in forks {
        if len == 0 {
            pos = pos.saturating_add(2);
            continue;
        }
        let start = pos.min(d.len());
        let end = pos.saturating_add(len as usize).min(d.len());
        let body = &d[start..end];
        let complete = end - start == len as usize;
        let mut entry = Entry::new(fork_name, body);
        if !complete {
            entry.issue = Some(expanded.cut.clone().unwrap_or_else(|| {
                Issue::corrupt(format!(
                    "binhex: {what} holds {} of its {len} bytes (truncated)",
                    body.len()
                ))
            }));
        } else {
            match be16(d, end) {
                Some(crc) if crc == crc16(body) => {}
                Some(_) => problems.push(format!("{what} CRC mismatch")),
                None => problems.push(format!("{what} CRC missing (truncated)")),
            }
        }
        if sink(ctx, entry) == Flow::Stop {
            return Ok(());
        }
        if !complete {
            break;
        }
        pos = end.saturating_add(2);
    }
    if let Some(cut) = expanded.cut {
        return Err(cut);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Issue::corrupt(format!("binhex: {}", problems.join("; "))))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testutil::{EICAR, each_byte_flipped, walk, walk_with};
    use crate::{Format, IssueKind, Limits, identify};

    /// Run-length encodes (runs of 3 or more; 0x90 escaped).
    fn rle(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            let mut run = 1;
            while i + run < data.len() && data[i + run] == b && run < 255 {
                run += 1;
            }
            out.push(b);
            if b == 0x90 {
                out.push(0);
            }
            if run >= 3 {
                out.extend_from_slice(&[0x90, run as u8]);
                i += run;
            } else {
                i += 1;
            }
        }
        out
    }

    fn sixbit(data: &[u8]) -> String {
        let mut s = String::new();
        for (k, c) in data.chunks(3).enumerate() {
            let v = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            let chars = match c.len() {
                1 => 2,
                2 => 3,
                _ => 4,
            };
            for j in 0..chars {
                s.push(ALPHABET[(v >> (18 - 6 * j) & 63) as usize] as char);
            }
            if k % 16 == 15 {
                s.push('\n');
            }
        }
        s
    }

    /// A BinHex 4.0 file of `name` with the two forks.
    pub(crate) fn binhex(name: &[u8], dfork: &[u8], rfork: &[u8]) -> Vec<u8> {
        let mut raw = vec![name.len() as u8];
        raw.extend_from_slice(name);
        raw.push(0);
        raw.extend_from_slice(b"TEXTttxt\0\0");
        raw.extend_from_slice(&(dfork.len() as u32).to_be_bytes());
        raw.extend_from_slice(&(rfork.len() as u32).to_be_bytes());
        let c = crc16(&raw);
        raw.extend_from_slice(&c.to_be_bytes());
        for f in [dfork, rfork] {
            raw.extend_from_slice(f);
            raw.extend_from_slice(&crc16(f).to_be_bytes());
        }
        format!(
            "(This file must be converted with BinHex 4.0)\r\n\r\n:{}:\r\n",
            sixbit(&rle(&raw))
        )
        .into_bytes()
    }

    #[test]
    fn crc_is_xmodem() {
        assert_eq!(crc16(b"123456789"), 0x31c3);
    }

    #[test]
    fn eicar_in_data_fork_and_in_mail() {
        let mut dfork = EICAR.to_vec();
        dfork.extend_from_slice(&[0u8; 300]);
        dfork.extend_from_slice(&[0x90; 7]);
        let h = binhex(b"eicar.com", &dfork, b"resource\x90data");
        assert_eq!(identify(&h), Some(Format::BinHex));
        let w = walk(&h, "x.hqx");
        assert_eq!(w.chains(), ["eicar.com", "eicar.com.rsrc"]);
        assert_eq!(w.found[0].data, dfork);
        assert_eq!(w.found[1].data, b"resource\x90data");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        // Attached to a mail.
        let m = format!(
            "From: a@example.com\nSubject: hqx\nContent-Type: application/mac-binhex40; name=x.hqx\n\
             Content-Transfer-Encoding: base64\n\n{}\n",
            crate::mail::tests::b64(&h)
        );
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.containing(EICAR).unwrap().chain, "x.hqx!eicar.com");
    }

    #[test]
    fn crc_mismatch_still_hands_out() {
        let h = binhex(b"eicar.com", EICAR, b"rsrc");
        let text = String::from_utf8(h).unwrap();
        // Change the last data character before the closing colon: the
        // resource fork CRC breaks, the data fork stays.
        let close = text.rfind(':').unwrap();
        let mut b = text.into_bytes();
        let c = b[close - 1];
        b[close - 1] = if c == b'!' { b'"' } else { b'!' };
        let w = walk(&b, "x.hqx");
        assert_eq!(w.containing(EICAR).unwrap().chain, "eicar.com");
        assert_eq!(w.issues.len(), 1);
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
        assert!(w.issues[0].1.message.contains("CRC"));
    }

    #[test]
    fn hostile_names_and_truncation() {
        let h = binhex(b"\x1b]0;../x\x07\xff", EICAR, b"");
        let w = walk(&h, "x.hqx");
        assert_eq!(w.chains(), ["\x1b]0;../x\x07\u{fffd}"]);
        for cut in 0..h.len() {
            let _ = walk(&h[..cut], "x.hqx");
        }
        // Cut in the data fork: partial data, flagged.
        let w = walk(&h[..h.len() - 40], "x.hqx");
        assert!(!w.found.is_empty());
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        each_byte_flipped(&h, &[0x04], |v| {
            let _ = walk(v, "x.hqx");
        });
    }

    #[test]
    fn rle_bomb_is_bounded() {
        // Header claiming a 4 GiB data fork, then runs of 255 zeros.
        let mut raw = vec![1, b'z', 0];
        raw.extend_from_slice(b"TEXTttxt\0\0");
        raw.extend_from_slice(&u32::MAX.to_be_bytes());
        raw.extend_from_slice(&0u32.to_be_bytes());
        let c = crc16(&raw);
        raw.extend_from_slice(&c.to_be_bytes());
        raw.push(0);
        for _ in 0..200_000 {
            raw.extend_from_slice(&[0x90, 0xff]);
        }
        let h = format!(
            "(This file must be converted with BinHex 4.0)\n:{}:",
            sixbit(&raw)
        );
        let limits = Limits {
            max_member_size: 1 << 20,
            ..Limits::default()
        };
        let w = walk_with(h.as_bytes(), "b.hqx", &limits);
        assert_eq!(w.found.len(), 1);
        assert_eq!(w.found[0].data.len(), (1 << 20) - raw_header_len(1));
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-filesize")
        );
    }

    fn raw_header_len(n: usize) -> usize {
        n + 22
    }

    #[test]
    fn not_binhex() {
        assert!(!detect(
            b"hello (This file must be converted with BinHex 4.0)"
        ));
        assert!(!detect(b"\x7fELF\x02\x01\x01"));
        assert!(!detect(b""));
        assert!(detect(b"\r\n(This file must be converted with BinHex 4.0)"));
    }
}
