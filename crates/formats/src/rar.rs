//! RAR archives, versions 4 (1.5 to 4.x) and 5: the member list, and the
//! content of stored (uncompressed) members as slices of the archive.
//!
//! There is no RAR decompressor here: compressed members are listed (their
//! names reach name signatures) and reported as unsupported; encrypted
//! members and archives with encrypted headers are reported as encrypted.

use std::borrow::Cow;

use crate::{Ctx, Entry, Flow, Issue, Sink};

const SIG4: &[u8] = b"Rar!\x1a\x07\x00";
const SIG5: &[u8] = b"Rar!\x1a\x07\x01\x00";

pub(crate) fn detect(data: &[u8]) -> bool {
    data.starts_with(SIG4) || data.starts_with(SIG5)
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    if data.starts_with(SIG5) {
        v5(data, ctx, sink)
    } else {
        v4(data, ctx, sink)
    }
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// One member, as the header describes it.
struct Member {
    name: String,
    /// Where its packed data starts and how long the header says it is.
    start: usize,
    packed: u64,
    stored: bool,
    method: u64,
    encrypted: bool,
    split: bool,
}

/// Hands out one member.
fn member(data: &[u8], m: Member, ctx: &mut Ctx, sink: &mut Sink<'_>) -> Flow {
    let entry = if m.encrypted {
        Entry::failed(
            m.name.clone(),
            Issue::encrypted(format!(
                "rar: member '{}' is encrypted; RAR decryption is not supported",
                m.name
            )),
        )
    } else if !m.stored {
        Entry::failed(
            m.name.clone(),
            Issue::unsupported(format!(
                "rar: member '{}' is compressed (method {}); only stored members are unpacked",
                m.name, m.method
            )),
        )
    } else {
        let end = (m.start as u64).saturating_add(m.packed);
        let s = m.start.min(data.len());
        let e = end.min(data.len() as u64) as usize;
        let issue = if end > data.len() as u64 {
            Some(Issue::corrupt(format!(
                "rar: member '{}' runs past the end of the archive; only what is there was scanned",
                m.name
            )))
        } else if m.split {
            Some(Issue::unsupported(format!(
                "rar: member '{}' spans several volumes; only this volume's part was scanned",
                m.name
            )))
        } else {
            None
        };
        Entry {
            name: m.name,
            data: Cow::Borrowed(&data[s..e]),
            issue,
        }
    };
    sink(ctx, entry)
}

fn v4(data: &[u8], ctx: &mut Ctx, sink: &mut Sink<'_>) -> Result<(), Issue> {
    let mut at = SIG4.len();
    while at < data.len() {
        ctx.check_time()?;
        let (Some(kind), Some(flags), Some(size)) =
            (data.get(at + 2), u16_at(data, at + 3), u16_at(data, at + 5))
        else {
            return Err(Issue::corrupt(format!(
                "rar: truncated block header at offset {at}"
            )));
        };
        let size = size as usize;
        if size < 7 {
            return Err(Issue::corrupt(format!(
                "rar: block header at offset {at} is {size} bytes long"
            )));
        }
        let Some(head) = data.get(at..at + size) else {
            return Err(Issue::corrupt(format!(
                "rar: truncated block header at offset {at}"
            )));
        };
        let mut add = if flags & 0x8000 != 0 {
            u32_at(head, 7).unwrap_or(0) as u64
        } else {
            0
        };
        match kind {
            0x73 if flags & 0x0080 != 0 => {
                return Err(Issue::encrypted(
                    "rar: the headers (member list) are encrypted; RAR decryption is not supported",
                ));
            }
            0x74 => {
                let (Some(packed), Some(method), Some(name_len)) =
                    (u32_at(head, 7), head.get(25), u16_at(head, 26))
                else {
                    return Err(Issue::corrupt(format!(
                        "rar: truncated file header at offset {at}"
                    )));
                };
                let mut packed = packed as u64;
                let mut name_at = 32;
                if flags & 0x100 != 0 {
                    let high = u32_at(head, 32).unwrap_or(0) as u64;
                    packed |= high << 32;
                    name_at = 40;
                }
                add = packed;
                let Some(raw) = head.get(name_at..name_at + name_len as usize) else {
                    return Err(Issue::corrupt(format!(
                        "rar: file name at offset {at} runs past its header"
                    )));
                };
                // Unicode names: the plain name comes first, up to a NUL.
                let raw = if flags & 0x200 != 0 {
                    raw.split(|&b| b == 0).next().unwrap_or(raw)
                } else {
                    raw
                };
                let dir = flags & 0xE0 == 0xE0;
                if !dir {
                    let m = Member {
                        name: String::from_utf8_lossy(raw).into_owned(),
                        start: at + size,
                        packed,
                        stored: *method == 0x30,
                        method: *method as u64,
                        encrypted: flags & 0x04 != 0,
                        split: flags & 0x03 != 0,
                    };
                    if member(data, m, ctx, sink) == Flow::Stop {
                        return Ok(());
                    }
                }
            }
            0x7B => return Ok(()),
            _ => {}
        }
        let next = (at as u64).saturating_add(size as u64).saturating_add(add);
        if next > data.len() as u64 {
            // A member's data running past the end was said with it.
            return if *kind == 0x74 {
                Ok(())
            } else {
                Err(Issue::corrupt(format!(
                    "rar: block at offset {at} runs past the end of the archive"
                )))
            };
        }
        at = next as usize;
    }
    Ok(())
}

/// A RAR5 variable-length integer at `*at`, moving `*at` past it.
fn vint(d: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *d.get(*at)?;
        *at += 1;
        v |= ((b & 0x7F) as u64).checked_shl(7 * i)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn v5(data: &[u8], ctx: &mut Ctx, sink: &mut Sink<'_>) -> Result<(), Issue> {
    let mut at = SIG5.len();
    while at < data.len() {
        ctx.check_time()?;
        let trunc = || Issue::corrupt(format!("rar: truncated block header at offset {at}"));
        let mut p = at + 4;
        let size = vint(data, &mut p).ok_or_else(trunc)?;
        let body = p;
        let end = (body as u64).saturating_add(size);
        if size < 2 || end > data.len() as u64 {
            return Err(trunc());
        }
        let end = end as usize;
        let head = &data[..end];
        let kind = vint(head, &mut p).ok_or_else(trunc)?;
        let flags = vint(head, &mut p).ok_or_else(trunc)?;
        let extra = if flags & 1 != 0 {
            vint(head, &mut p).ok_or_else(trunc)?
        } else {
            0
        };
        let dsize = if flags & 2 != 0 {
            vint(head, &mut p).ok_or_else(trunc)?
        } else {
            0
        };
        match kind {
            4 => {
                return Err(Issue::encrypted(
                    "rar: the headers (member list) are encrypted; RAR decryption is not supported",
                ));
            }
            2 => {
                let ff = vint(head, &mut p).ok_or_else(trunc)?;
                let _unpacked = vint(head, &mut p).ok_or_else(trunc)?;
                let _attr = vint(head, &mut p).ok_or_else(trunc)?;
                if ff & 2 != 0 {
                    p += 4;
                }
                if ff & 4 != 0 {
                    p += 4;
                }
                let comp = vint(head, &mut p).ok_or_else(trunc)?;
                let _os = vint(head, &mut p).ok_or_else(trunc)?;
                let nlen = vint(head, &mut p).ok_or_else(trunc)?;
                let name_end = (p as u64).saturating_add(nlen);
                if name_end > end as u64 {
                    return Err(Issue::corrupt(format!(
                        "rar: file name at offset {at} runs past its header"
                    )));
                }
                let name = String::from_utf8_lossy(&head[p..name_end as usize]).into_owned();
                // The extra area sits at the end of the header.
                let extra_at = (end as u64).saturating_sub(extra) as usize;
                let encrypted = extra > 0 && extra_records(head.get(extra_at..).unwrap_or(&[]));
                let method = (comp >> 7) & 7;
                if ff & 1 == 0 {
                    let m = Member {
                        name,
                        start: end,
                        packed: dsize,
                        stored: method == 0,
                        method,
                        encrypted,
                        split: flags & 0x18 != 0,
                    };
                    if member(data, m, ctx, sink) == Flow::Stop {
                        return Ok(());
                    }
                }
            }
            5 => return Ok(()),
            _ => {}
        }
        let next = (end as u64).saturating_add(dsize);
        if next > data.len() as u64 {
            return if kind == 2 {
                Ok(())
            } else {
                Err(Issue::corrupt(format!(
                    "rar: block at offset {at} runs past the end of the archive"
                )))
            };
        }
        at = next as usize;
    }
    Ok(())
}

/// True when the extra area holds a file encryption record (type 1).
fn extra_records(mut area: &[u8]) -> bool {
    for _ in 0..64 {
        let mut p = 0;
        let Some(size) = vint(area, &mut p) else {
            return false;
        };
        let start = p;
        let Some(kind) = vint(area, &mut p) else {
            return false;
        };
        if kind == 1 {
            return true;
        }
        let next = (start as u64).saturating_add(size);
        if size == 0 || next > area.len() as u64 {
            return false;
        }
        area = &area[next as usize..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IssueKind;
    use crate::testutil::{EICAR, walk};

    /// A RAR4 block: CRC16 of the rest, then the rest.
    fn block4(kind: u8, flags: u16, fields: &[u8]) -> Vec<u8> {
        let mut rest = vec![kind];
        rest.extend_from_slice(&flags.to_le_bytes());
        rest.extend_from_slice(&((7 + fields.len()) as u16).to_le_bytes());
        rest.extend_from_slice(fields);
        let mut b = (crc32fast::hash(&rest) as u16).to_le_bytes().to_vec();
        b.extend(rest);
        b
    }

    /// A RAR4 archive of `(name, data, method, flags)`.
    fn rar4(files: &[(&[u8], &[u8], u8, u16)]) -> Vec<u8> {
        let mut out = SIG4.to_vec();
        out.extend(block4(0x73, 0, &[0; 6]));
        for (name, data, method, flags) in files {
            let mut f = Vec::new();
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.push(2);
            f.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
            f.extend_from_slice(&0u32.to_le_bytes());
            f.push(29);
            f.push(*method);
            f.extend_from_slice(&(name.len() as u16).to_le_bytes());
            f.extend_from_slice(&0x20u32.to_le_bytes());
            f.extend_from_slice(name);
            out.extend(block4(0x74, 0x8000 | flags, &f));
            out.extend_from_slice(data);
        }
        out.extend(block4(0x7B, 0x4000, &[]));
        out
    }

    fn v(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7F) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A RAR5 block: CRC32, size, then `body` (type onwards).
    fn block5(body: &[u8]) -> Vec<u8> {
        let mut sized = Vec::new();
        v(body.len() as u64, &mut sized);
        sized.extend_from_slice(body);
        let mut b = crc32fast::hash(&sized).to_le_bytes().to_vec();
        b.extend(sized);
        b
    }

    /// A RAR5 archive of `(name, data, method, encrypted)`.
    fn rar5(files: &[(&[u8], &[u8], u64, bool)]) -> Vec<u8> {
        let mut out = SIG5.to_vec();
        out.extend(block5(&[1, 0, 0]));
        for (name, data, method, enc) in files {
            let mut extra = Vec::new();
            if *enc {
                let rec = [1u8, 0, 0, 0, 0];
                v(rec.len() as u64, &mut extra);
                extra.extend_from_slice(&rec);
            }
            let mut b = vec![2u8];
            b.push(if *enc { 3 } else { 2 });
            if *enc {
                v(extra.len() as u64, &mut b);
            }
            v(data.len() as u64, &mut b);
            b.push(4);
            v(data.len() as u64, &mut b);
            b.push(0x20);
            b.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
            v(method << 7, &mut b);
            b.push(0);
            v(name.len() as u64, &mut b);
            b.extend_from_slice(name);
            b.extend_from_slice(&extra);
            out.extend(block5(&b));
            out.extend_from_slice(data);
        }
        out.extend(block5(&[5, 0, 0]));
        out
    }

    #[test]
    fn nested_rar5_rar4_finds_eicar() {
        let inner = rar4(&[
            (b"readme.txt", b"hello", 0x30, 0),
            (b"eicar.com", EICAR, 0x30, 0),
        ]);
        let outer = rar5(&[(b"dir/inner.rar", &inner, 0, false)]);
        assert!(detect(&outer) && detect(&inner));
        let w = walk(&outer, "outer.rar");
        let found = w.found.iter().find(|f| f.data == EICAR).unwrap();
        assert_eq!(found.chain, "dir/inner.rar!eicar.com");
        assert_eq!(
            w.chains(),
            [
                "dir/inner.rar",
                "dir/inner.rar!readme.txt",
                "dir/inner.rar!eicar.com"
            ]
        );
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        // And the other way round.
        let inner = rar5(&[(b"eicar.com", EICAR, 0, false)]);
        let outer = rar4(&[(b"inner.rar", &inner, 0x30, 0)]);
        let w = walk(&outer, "outer.rar");
        let found = w.found.iter().find(|f| f.data == EICAR).unwrap();
        assert_eq!(found.chain, "inner.rar!eicar.com");
    }

    #[test]
    fn compressed_and_encrypted_members_are_listed() {
        let data = rar4(&[
            (b"packed.exe", b"xxxx", 0x33, 0),
            (b"secret.exe", b"yyyy", 0x30, 0x04),
            (b"plain.txt", b"zz", 0x30, 0),
        ]);
        let w = walk(&data, "a.rar");
        assert_eq!(w.chains(), ["packed.exe", "secret.exe", "plain.txt"]);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Unsupported
        );
        assert_eq!(
            w.found[1].issue.as_ref().unwrap().kind,
            IssueKind::Encrypted
        );
        assert_eq!(w.found[2].data, b"zz");

        let data = rar5(&[
            (b"packed.exe", b"xxxx", 3, false),
            (b"secret.exe", b"yyyy", 0, true),
            (b"plain.txt", b"zz", 0, false),
        ]);
        let w = walk(&data, "a.rar");
        assert_eq!(w.chains(), ["packed.exe", "secret.exe", "plain.txt"]);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Unsupported
        );
        assert_eq!(
            w.found[1].issue.as_ref().unwrap().kind,
            IssueKind::Encrypted
        );
        assert_eq!(w.found[2].data, b"zz");
    }

    #[test]
    fn encrypted_headers() {
        let mut data = SIG5.to_vec();
        data.extend(block5(&[4, 0, 0, 0]));
        let w = walk(&data, "h.rar");
        assert_eq!(w.issues[0].1.kind, IssueKind::Encrypted);
        let mut data = SIG4.to_vec();
        data.extend(block4(0x73, 0x80, &[0; 6]));
        let w = walk(&data, "h.rar");
        assert_eq!(w.issues[0].1.kind, IssueKind::Encrypted);
    }

    #[test]
    fn odd_names_and_huge_sizes() {
        let data = rar5(&[(b"../../etc/\xff\x1b[0m", EICAR, 0, false)]);
        let w = walk(&data, "n.rar");
        assert_eq!(w.chains(), ["../../etc/\u{fffd}\x1b[0m"]);
        let data = rar4(&[(b"/abs\\..\\x", EICAR, 0x30, 0)]);
        let w = walk(&data, "n.rar");
        assert_eq!(w.chains(), ["/abs\\..\\x"]);

        // A RAR4 member claiming 2^63 bytes (large-file flag) is cut at the
        // end of the archive.
        let mut data = rar4(&[(b"big", EICAR, 0x30, 0)]);
        let fh = SIG4.len() + 13;
        let mut fields = data[fh + 7..fh + 32 + 3].to_vec();
        fields.splice(25..25, u64::MAX.to_le_bytes());
        let mut big = SIG4.to_vec();
        big.extend(block4(0x73, 0, &[0; 6]));
        big.extend(block4(0x74, 0x8100, &fields));
        big.extend_from_slice(EICAR);
        let w = walk(&big, "b.rar");
        assert_eq!(w.chains(), ["big"]);
        assert_eq!(w.found[0].data, EICAR);
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        data.truncate(data.len() - 20);
        let w = walk(&data, "b.rar");
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        let inner = rar4(&[(b"eicar.com", EICAR, 0x30, 0), (b"c", b"cc", 0x33, 0)]);
        let data = rar5(&[(b"inner.rar", &inner, 0, false), (b"x", b"y", 0, true)]);
        for d in [&inner, &data] {
            for cut in 0..d.len() {
                let w = walk(&d[..cut], "t.rar");
                assert!(w.found.len() <= 4);
            }
        }
        let mut rng = 0x1b87_3593u32;
        for _ in 0..5000 {
            let mut d = data.clone();
            for _ in 0..3 {
                rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let at = (rng as usize >> 3) % d.len();
                d[at] ^= 1 << (rng % 8);
            }
            let _ = walk(&d, "f.rar");
        }
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"hello world, this is plain text and nothing more"));
        assert!(!detect(b"\x7fELF\x02\x01\x01\x00"));
        assert!(!detect(b"Rar!"));
    }
}
