//! tar archives: v7, ustar, GNU (long names, sparse files as stored) and
//! pax (path and size overrides). Members are stored raw, so every member
//! is a slice of the input.

use crate::{Ctx, Entry, Flow, Issue, Sink};

const BLOCK: usize = 512;
/// Longest name taken from a GNU long-name member or a pax record.
const MAX_NAME: usize = 64 << 10;

/// Parses an octal field (spaces and NULs around it allowed) or a GNU
/// base-256 number (high bit of the first byte set).
fn number(field: &[u8]) -> Option<u64> {
    if let Some(&first) = field.first()
        && first & 0x80 != 0
    {
        // Base-256: negative values (0xFF lead) are nonsense here.
        if first == 0xFF {
            return None;
        }
        let mut v = u64::from(first & 0x7F);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let s = field
        .iter()
        .position(|&b| b != b' ' && b != 0)
        .map_or(&[][..], |i| &field[i..]);
    let end = s
        .iter()
        .position(|&b| b == b' ' || b == 0)
        .unwrap_or(s.len());
    let (digits, rest) = s.split_at(end);
    if digits.is_empty() || rest.iter().any(|&b| b != b' ' && b != 0) {
        return None;
    }
    let mut v = 0u64;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// True when the header block's checksum matches (unsigned or, as some
/// old writers did, signed byte sums).
fn checksum_ok(h: &[u8]) -> bool {
    let Some(stored) = h.get(148..156).and_then(number) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in h.iter().take(BLOCK).enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed)
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn is_ustar(h: &[u8]) -> bool {
    h.get(257..262) == Some(b"ustar")
}

pub(crate) fn detect(data: &[u8]) -> bool {
    let Some(h) = data.get(..BLOCK) else {
        return false;
    };
    if !checksum_ok(h) {
        return false;
    }
    if is_ustar(h) {
        return true;
    }
    // v7: no magic, so the rest must look right too: a name, a known type,
    // octal numeric fields, and nothing in the magic area.
    !cstr(&h[..100]).is_empty()
        && matches!(h[156], 0 | b'0'..=b'7')
        && h[257..263].iter().all(|&b| b == 0)
        && [100..108, 108..116, 116..124, 124..136, 136..148]
            .into_iter()
            .all(|r| number(&h[r]).is_some())
}

/// The value of `key` in a pax extended header body.
fn pax_records(body: &[u8], mut each: impl FnMut(&[u8], &[u8])) {
    let mut rest = body;
    while !rest.is_empty() {
        // "<len> <key>=<value>\n", len counting the whole record.
        let Some(sp) = rest.iter().take(20).position(|&b| b == b' ') else {
            return;
        };
        let Some(len) = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            return;
        };
        if len <= sp + 1 || len > rest.len() {
            return;
        }
        let record = &rest[sp + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|&b| b == b'=') {
            each(&record[..eq], &record[eq + 1..]);
        }
        rest = &rest[len..];
    }
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut pos = 0usize;
    let mut long_name: Option<Vec<u8>> = None;
    let mut pax_path: Option<Vec<u8>> = None;
    let mut pax_size: Option<u64> = None;
    loop {
        ctx.check_time()?;
        let Some(h) = data.get(pos..pos + BLOCK) else {
            if pos >= data.len() {
                return Ok(()); // no end-of-archive blocks: tolerated
            }
            return Err(Issue::corrupt(format!(
                "tar: archive ends inside the header at offset {pos}"
            )));
        };
        if h.iter().all(|&b| b == 0) {
            // Two zero blocks end the archive; a lone one is skipped.
            let next = data.get(pos + BLOCK..pos + 2 * BLOCK);
            if next.is_none_or(|n| n.iter().all(|&b| b == 0)) {
                return Ok(());
            }
            pos += BLOCK;
            continue;
        }
        if !checksum_ok(h) {
            return Err(Issue::corrupt(format!(
                "tar: bad header checksum at offset {pos}"
            )));
        }
        let Some(header_size) = number(&h[124..136]) else {
            return Err(Issue::corrupt(format!(
                "tar: bad size field in the header at offset {pos}"
            )));
        };
        let kind = h[156];
        let size = match kind {
            b'x' | b'g' | b'L' | b'K' => header_size,
            _ => pax_size.take().unwrap_or(header_size),
        };
        let mut start = pos + BLOCK;
        // GNU sparse headers may continue in extension blocks.
        if kind == b'S' && h[482] != 0 {
            loop {
                ctx.check_time()?;
                let Some(ext) = data.get(start..start + BLOCK) else {
                    return Err(Issue::corrupt(format!(
                        "tar: archive ends inside the sparse map of the member at offset {pos}"
                    )));
                };
                start += BLOCK;
                if ext[504] == 0 {
                    break;
                }
            }
        }
        let avail = data.len() - start.min(data.len());
        let size_usize = usize::try_from(size).unwrap_or(usize::MAX);
        let end = start + size_usize.min(avail);
        let body = &data[start.min(data.len())..end];
        let cut = size_usize > avail;
        let next = start.saturating_add(
            size_usize
                .checked_next_multiple_of(BLOCK)
                .unwrap_or(usize::MAX),
        );
        match kind {
            b'L' => long_name = Some(cstr(&body[..body.len().min(MAX_NAME)]).to_vec()),
            b'K' => {}
            b'x' => pax_records(body, |k, v| match k {
                b"path" => pax_path = Some(v[..v.len().min(MAX_NAME)].to_vec()),
                b"size" => {
                    pax_size = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
                }
                _ => {}
            }),
            b'g' => {}
            _ => {
                let name = pax_path
                    .take()
                    .or_else(|| long_name.take())
                    .unwrap_or_else(|| {
                        let name = cstr(&h[..100]);
                        let prefix = cstr(&h[345..500]);
                        // The prefix field exists in POSIX ustar only (GNU
                        // headers keep times there).
                        if h.get(257..265) == Some(b"ustar\x0000") && !prefix.is_empty() {
                            [prefix, b"/", name].concat()
                        } else {
                            name.to_vec()
                        }
                    });
                let name = String::from_utf8_lossy(&name).into_owned();
                let special = matches!(kind, b'1'..=b'6');
                let dir = kind == b'5' || (kind == 0 && name.ends_with('/'));
                // Links, devices, fifos and directories hold no data;
                // should one claim some anyway, it is handed out.
                if !((special || dir) && body.is_empty()) {
                    let mut entry = Entry::new(name, body);
                    if cut {
                        entry.issue = Some(Issue::corrupt(
                            "tar: member is cut short by the end of the archive",
                        ));
                    }
                    if sink(ctx, entry) == Flow::Stop {
                        return Ok(());
                    }
                }
            }
        }
        if cut {
            return Err(Issue::corrupt(format!(
                "tar: archive ends inside the member at offset {pos}"
            )));
        }
        pos = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, each_byte_flipped, random_bytes, walk};
    use crate::{Format, IssueKind, identify};

    /// A header block: `magic` is `ustar\0` + `00` (POSIX), `ustar ` + ` \0`
    /// (GNU) or nothing (v7).
    fn header(name: &[u8], size: usize, kind: u8, magic: &[u8; 8], prefix: &[u8]) -> Vec<u8> {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name);
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = kind;
        h[257..265].copy_from_slice(magic);
        h[345..345 + prefix.len()].copy_from_slice(prefix);
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h.to_vec()
    }

    const USTAR: &[u8; 8] = b"ustar\x0000";
    const GNU: &[u8; 8] = b"ustar  \0";
    const V7: &[u8; 8] = &[0; 8];

    fn member(t: &mut Vec<u8>, name: &[u8], data: &[u8], kind: u8, magic: &[u8; 8]) {
        t.extend_from_slice(&header(name, data.len(), kind, magic, b""));
        t.extend_from_slice(data);
        t.resize(t.len().next_multiple_of(512), 0);
    }

    fn end(t: &mut Vec<u8>) {
        t.extend_from_slice(&[0u8; 1024]);
    }

    fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
        let body = [b" ", key.as_bytes(), b"=", value, b"\n"].concat();
        let mut len = body.len() + 1;
        if (len + len.to_string().len() - 1).to_string().len() > 1 {
            len = body.len() + (body.len() + 2).to_string().len();
        }
        [len.to_string().as_bytes(), &body].concat()
    }

    #[test]
    fn nested_tar() {
        let mut inner = Vec::new();
        member(&mut inner, b"eicar.com", EICAR, b'0', USTAR);
        end(&mut inner);
        let mut outer = Vec::new();
        member(&mut outer, b"dir/", b"", b'5', USTAR);
        member(&mut outer, b"inner.tar", &inner, b'0', USTAR);
        end(&mut outer);
        assert_eq!(identify(&outer), Some(Format::Tar));
        let w = walk(&outer, "outer.tar");
        let f = w.found.iter().find(|f| f.data == EICAR).unwrap();
        assert_eq!(f.chain, "inner.tar!eicar.com");
        assert_eq!(w.chains(), ["inner.tar", "inner.tar!eicar.com"]);
        assert!(w.issues.is_empty(), "{:?}", w.issues);
    }

    #[test]
    fn variants_and_names() {
        let long = "d/".repeat(80) + "eicar.com";
        let mut t = Vec::new();
        // v7 first, so that detection by checksum alone is exercised.
        member(&mut t, b"v7.txt", b"seven", 0, V7);
        // GNU long name.
        member(
            &mut t,
            b"././@LongLink",
            format!("{long}\0").as_bytes(),
            b'L',
            GNU,
        );
        member(&mut t, &long.as_bytes()[..100], EICAR, b'0', GNU);
        // POSIX prefix.
        t.extend_from_slice(&header(b"file", 2, b'0', USTAR, b"pre/fix"));
        t.extend_from_slice(b"hi");
        t.resize(t.len().next_multiple_of(512), 0);
        // pax path override, with a name that a path must never be.
        let pax = pax_record("path", b"../../etc/\xFFbad\x1b[2J");
        member(&mut t, b"PaxHeader", &pax, b'x', USTAR);
        member(&mut t, b"short", b"pax data", b'0', USTAR);
        member(&mut t, b"/etc/passwd", b"root", b'0', USTAR);
        member(&mut t, b"link", b"", b'2', USTAR);
        end(&mut t);
        assert!(detect(&t));
        let w = walk(&t, "t.tar");
        assert_eq!(
            w.chains(),
            [
                "v7.txt",
                long.as_str(),
                "pre/fix/file",
                "../../etc/\u{FFFD}bad\x1b[2J",
                "/etc/passwd"
            ]
        );
        assert_eq!(w.found[1].data, EICAR);
        assert!(w.issues.is_empty(), "{:?}", w.issues);
    }

    #[test]
    fn pax_size_overrides_header() {
        let mut t = Vec::new();
        let pax = pax_record("size", b"68");
        member(&mut t, b"PaxHeader", &pax, b'x', USTAR);
        t.extend_from_slice(&header(b"eicar.com", 0, b'0', USTAR, b""));
        t.extend_from_slice(EICAR);
        t.resize(t.len().next_multiple_of(512), 0);
        end(&mut t);
        let w = walk(&t, "t.tar");
        assert_eq!(w.found[0].data, EICAR);
    }

    #[test]
    fn members_are_borrowed() {
        let mut t = Vec::new();
        member(&mut t, b"eicar.com", EICAR, b'0', USTAR);
        end(&mut t);
        let limits = crate::Limits::default();
        let mut ctx = Ctx::new(&limits, None);
        let mut ok = false;
        crate::extract(Format::Tar, &t, "t", &mut ctx, &mut |_, e| {
            ok = matches!(e.data, std::borrow::Cow::Borrowed(d) if d == EICAR);
            Flow::Continue
        })
        .unwrap();
        assert!(ok);
    }

    #[test]
    fn truncated_and_bit_flipped() {
        let mut t = Vec::new();
        member(&mut t, b"a.txt", &b"text ".repeat(300), b'0', USTAR);
        member(&mut t, b"eicar.com", EICAR, b'0', GNU);
        end(&mut t);
        for n in 0..t.len() {
            let _ = walk(&t[..n], "t.tar");
        }
        // Cut inside the first member: a partial member and an issue.
        let w = walk(&t[..800], "t.tar");
        assert_eq!(w.found.len(), 1);
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
        each_byte_flipped(&t, &[0x04], |f| {
            let _ = walk(f, "t.tar");
        });
        // A huge size (base-256) does not wrap or allocate.
        let mut h = header(b"big", 0, b'0', USTAR, b"");
        h[124] = 0x80;
        h[125..136].fill(0xFF);
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let w = walk(&h, "t.tar");
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
    }

    #[test]
    fn no_false_positives() {
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(4096, 0);
        let text = b"Just some text that is long enough to fill a block. ".repeat(20);
        let random = random_bytes(8192, 0x2545_F491);
        for d in [&elf[..], &text, &random, &[0u8; 1024], b""] {
            assert!(!detect(d));
        }
    }
}
