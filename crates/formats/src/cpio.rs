//! cpio archives: newc (070701), crc (070702), odc (070707) and the old
//! binary format in either byte order. Members are stored raw, so every
//! member is a slice of the input.

use crate::{Ctx, Entry, Flow, Issue, Sink};

const TRAILER: &[u8] = b"TRAILER!!!";
/// Longest member name taken (PATH_MAX is 4096; more is garbage).
const MAX_NAME: usize = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// newc and crc: 110-byte hex header, 4-byte alignment.
    Newc,
    /// odc: 76-byte octal header, no alignment.
    Odc,
    /// Old binary, 26-byte header, 2-byte alignment; little endian or not.
    Binary { le: bool },
}

fn kind(h: &[u8]) -> Option<Kind> {
    if h.starts_with(b"070701") || h.starts_with(b"070702") {
        Some(Kind::Newc)
    } else if h.starts_with(b"070707") {
        Some(Kind::Odc)
    } else if h.starts_with(&[0xC7, 0x71]) {
        Some(Kind::Binary { le: true })
    } else if h.starts_with(&[0x71, 0xC7]) {
        Some(Kind::Binary { le: false })
    } else {
        None
    }
}

fn radix(field: &[u8], radix: u32) -> Option<u64> {
    if field.is_empty() {
        return None;
    }
    let mut v = 0u64;
    for &b in field {
        let d = char::from(b).to_digit(radix)?;
        v = v.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// One parsed header: mode, name size (with its NUL), data size, header size
/// and alignment.
struct Header {
    mode: u64,
    name_size: usize,
    file_size: u64,
    header_len: usize,
    align: usize,
}

fn header(d: &[u8], kind: Kind) -> Option<Header> {
    match kind {
        Kind::Newc => {
            let h = d.get(..110)?;
            let f = |i: usize| radix(&h[6 + 8 * i..14 + 8 * i], 16);
            Some(Header {
                mode: f(1)?,
                file_size: f(6)?,
                name_size: usize::try_from(f(11)?).ok()?,
                header_len: 110,
                align: 4,
            })
        }
        Kind::Odc => {
            let h = d.get(..76)?;
            Some(Header {
                mode: radix(&h[18..24], 8)?,
                name_size: usize::try_from(radix(&h[59..65], 8)?).ok()?,
                file_size: radix(&h[65..76], 8)?,
                header_len: 76,
                align: 1,
            })
        }
        Kind::Binary { le } => {
            let h = d.get(..26)?;
            let w = |i: usize| {
                let b = [h[2 * i], h[2 * i + 1]];
                u64::from(if le {
                    u16::from_le_bytes(b)
                } else {
                    u16::from_be_bytes(b)
                })
            };
            Some(Header {
                mode: w(3),
                name_size: w(10) as usize,
                // The 32-bit size is stored most significant half first.
                file_size: (w(11) << 16) | w(12),
                header_len: 26,
                align: 2,
            })
        }
    }
}

fn align(n: usize, to: usize) -> Option<usize> {
    n.checked_next_multiple_of(to)
}

/// The name of the member at `d`, if its header parses and the name is
/// NUL-terminated where its size says.
fn name_of<'a>(d: &'a [u8], h: &Header) -> Option<&'a [u8]> {
    if h.name_size == 0 || h.name_size > MAX_NAME {
        return None;
    }
    let name = d.get(h.header_len..h.header_len + h.name_size)?;
    let (last, name) = name.split_last()?;
    (*last == 0).then_some(name)
}

pub(crate) fn detect(data: &[u8]) -> bool {
    let Some(kind) = kind(data) else {
        return false;
    };
    // The binary magic is two bytes: the name must check out too.
    header(data, kind)
        .and_then(|h| name_of(data, &h).map(|n| !n.contains(&0)))
        .unwrap_or(false)
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut pos = 0usize;
    loop {
        ctx.check_time()?;
        let rest = data.get(pos..).unwrap_or(&[]);
        if rest.is_empty() {
            return Err(Issue::corrupt(
                "cpio: archive ends without a TRAILER!!! member",
            ));
        }
        let Some(kind) = kind(rest) else {
            return Err(Issue::corrupt(format!(
                "cpio: no header magic at offset {pos}"
            )));
        };
        let Some(h) = header(rest, kind) else {
            return Err(Issue::corrupt(format!("cpio: bad header at offset {pos}")));
        };
        let Some(name) = name_of(rest, &h) else {
            return Err(Issue::corrupt(format!(
                "cpio: bad member name at offset {pos}"
            )));
        };
        if name == TRAILER {
            return Ok(());
        }
        let Some(start) = align(h.header_len + h.name_size, h.align) else {
            return Err(Issue::corrupt("cpio: header offset overflows"));
        };
        let size = usize::try_from(h.file_size).unwrap_or(usize::MAX);
        let avail = rest.len().saturating_sub(start);
        let cut = size > avail;
        let body = rest
            .get(start.min(rest.len())..start.min(rest.len()) + size.min(avail))
            .unwrap_or(&[]);
        let file_type = h.mode & 0o170000;
        // Directories, links, devices and fifos hold no data worth a scan
        // (a symlink's data is its target); anything else with data is
        // handed out.
        let skip = matches!(file_type, 0o040000 | 0o120000) || body.is_empty();
        if !skip {
            let mut entry = Entry::new(String::from_utf8_lossy(name).into_owned(), body);
            if cut {
                entry.issue = Some(Issue::corrupt(
                    "cpio: member is cut short by the end of the archive",
                ));
            }
            if sink(ctx, entry) == Flow::Stop {
                return Ok(());
            }
        }
        if cut {
            return Err(Issue::corrupt(format!(
                "cpio: archive ends inside the member at offset {pos}"
            )));
        }
        let Some(next) = start
            .checked_add(size)
            .and_then(|e| align(e, h.align))
            .and_then(|e| pos.checked_add(e))
        else {
            return Err(Issue::corrupt("cpio: member size overflows"));
        };
        pos = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, each_byte_flipped, walk};
    use crate::{Format, IssueKind, identify};

    #[derive(Clone, Copy)]
    enum W {
        Newc,
        Crc,
        Odc,
        Bin(bool),
    }

    fn add(a: &mut Vec<u8>, w: W, name: &[u8], mode: u32, data: &[u8]) {
        let namesize = name.len() + 1;
        match w {
            W::Newc | W::Crc => {
                let magic = if matches!(w, W::Newc) {
                    "070701"
                } else {
                    "070702"
                };
                let f = [
                    0,
                    mode as usize,
                    0,
                    0,
                    1,
                    0,
                    data.len(),
                    0,
                    0,
                    0,
                    0,
                    namesize,
                    0,
                ];
                a.extend_from_slice(magic.as_bytes());
                for v in f {
                    a.extend_from_slice(format!("{v:08X}").as_bytes());
                }
                a.extend_from_slice(name);
                a.push(0);
                a.resize(a.len().next_multiple_of(4), 0);
                a.extend_from_slice(data);
                a.resize(a.len().next_multiple_of(4), 0);
            }
            W::Odc => {
                a.extend_from_slice(b"070707");
                for (v, width) in [
                    (0, 6),
                    (0, 6),
                    (mode as usize, 6),
                    (0, 6),
                    (0, 6),
                    (1, 6),
                    (0, 6),
                    (0, 11),
                    (namesize, 6),
                    (data.len(), 11),
                ] {
                    a.extend_from_slice(format!("{v:0width$o}").as_bytes());
                }
                a.extend_from_slice(name);
                a.push(0);
                a.extend_from_slice(data);
            }
            W::Bin(le) => {
                let size = data.len() as u32;
                let words = [
                    0x71C7u16,
                    0,
                    0,
                    mode as u16,
                    0,
                    0,
                    1,
                    0,
                    0,
                    0,
                    namesize as u16,
                    (size >> 16) as u16,
                    size as u16,
                ];
                for v in words {
                    a.extend_from_slice(&if le { v.to_le_bytes() } else { v.to_be_bytes() });
                }
                a.extend_from_slice(name);
                a.push(0);
                a.resize(a.len().next_multiple_of(2), 0);
                a.extend_from_slice(data);
                a.resize(a.len().next_multiple_of(2), 0);
            }
        }
    }

    fn archive(w: W, members: &[(&[u8], u32, &[u8])]) -> Vec<u8> {
        let mut a = Vec::new();
        for (n, mode, d) in members {
            add(&mut a, w, n, *mode, d);
        }
        add(&mut a, w, TRAILER, 0, b"");
        a
    }

    const ALL: [W; 5] = [W::Newc, W::Crc, W::Odc, W::Bin(true), W::Bin(false)];

    #[test]
    fn nested_every_variant() {
        for w in ALL {
            let inner = archive(w, &[(b"eicar.com", 0o100644, EICAR)]);
            let outer = archive(
                w,
                &[
                    (b"dir", 0o040755, b""),
                    (b"link", 0o120777, b"target"),
                    (b"inner.cpio", 0o100644, &inner),
                ],
            );
            assert_eq!(identify(&outer), Some(Format::Cpio));
            let w = walk(&outer, "outer.cpio");
            assert_eq!(w.chains(), ["inner.cpio", "inner.cpio!eicar.com"]);
            assert_eq!(w.found[1].data, EICAR);
            assert!(w.issues.is_empty(), "{:?}", w.issues);
        }
    }

    #[test]
    fn names_as_they_are() {
        let names: [&[u8]; 3] = [b"../../x", b"/abs/\xFF", b"\x1b]0;title\x07"];
        let a = archive(W::Newc, &names.map(|n| (n, 0o100644, &b"data"[..])));
        let w = walk(&a, "a.cpio");
        assert_eq!(w.chains(), ["../../x", "/abs/\u{FFFD}", "\x1b]0;title\x07"]);
    }

    #[test]
    fn truncated_and_bit_flipped() {
        for w in ALL {
            let a = archive(
                w,
                &[
                    (b"a", 0o100644, b"hello world"),
                    (b"eicar.com", 0o100644, EICAR),
                ],
            );
            for n in 0..a.len() {
                let w = walk(&a[..n], "a.cpio");
                if n > 0 && n + 40 <= a.len() && identify(&a[..n]) == Some(Format::Cpio) {
                    assert!(!w.issues.is_empty());
                }
            }
            each_byte_flipped(&a, &[0x08], |f| {
                let _ = walk(f, "a.cpio");
            });
            // A member cut by the end of the archive is flagged.
            let at = memchr::memmem::find(&a, EICAR).unwrap();
            let cut = &a[..at + 30];
            let w = walk(cut, "a.cpio");
            let last = w.found.last().unwrap();
            assert_eq!(last.issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        }
    }

    #[test]
    fn no_false_positives() {
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(4096, 0);
        let text = b"070701 is a number in this text, not an archive.".repeat(4);
        for d in [
            &elf[..],
            &text,
            b"\xC7\x71 just two bytes of magic",
            &[0u8; 512],
            b"",
        ] {
            assert!(!detect(d));
        }
    }
}
