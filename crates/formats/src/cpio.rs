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
            return Err(Issue::corrupt("cpio: archive ends without a TRAILER!!! member"));
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
