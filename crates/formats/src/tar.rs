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
    if let Some(&first) = field.first() {
        if first & 0x80 != 0 {
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
        let next = start
            .checked_add(size_usize.checked_next_multiple_of(BLOCK).unwrap_or(usize::MAX))
            .unwrap_or(usize::MAX);
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
                let name = pax_path.take().or_else(|| long_name.take()).unwrap_or_else(|| {
                    let name = cstr(&h[..100]);
                    let prefix = cstr(&h[345..500]);
                    // The prefix field exists in POSIX ustar only (GNU
                    // headers keep times there).
                    if h.get(257..263) == Some(b"ustar\x0000") && !prefix.is_empty() {
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
