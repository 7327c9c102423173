//! PKZIP archives: plain, zip64, self-extracting (a zip appended to an
//! executable) and split single-segment archives.
//!
//! The central directory is parsed here, entry by entry, so that duplicate
//! names, overlapping entries and archive offsets are under our control.
//! Stored members are handed out as slices of the input. Every other member
//! is decoded by the `zip` crate, which gets a virtual one-member archive:
//! the input from the member's local header on, followed by a central
//! directory of that one member built here. That costs a few dozen bytes per
//! member and no copy of the data, and it lets the `zip` crate handle the
//! local header, ZipCrypto, AES and every compression method.
//!
//! Without a usable end record or central directory (a truncated
//! download, an unpacker that overwrote the end), members are read from
//! their local headers alone, each leading to the next by its sizes or its
//! data descriptor, and the archive is reported as corrupt. An executable
//! whose appended zip lost its end is still taken for a self-extracting
//! archive when a plausible local header in its last 64 KiB leads to
//! another zip structure.

use std::cell::Cell;
use std::io::{Read, Seek, SeekFrom};

use memchr::memmem;
use zip::ZipArchive;
use zip::ZipReadOptions;
use zip::read::{ArchiveOffset, Config};
use zip::result::ZipError;

use crate::{Ctx, Entry, Flow, Issue, Sink};

const LFH: &[u8; 4] = b"PK\x03\x04";
const CDH: &[u8; 4] = b"PK\x01\x02";
const EOCD: &[u8; 4] = b"PK\x05\x06";
const EOCD64: &[u8; 4] = b"PK\x06\x06";
const LOC64: &[u8; 4] = b"PK\x06\x07";
const DESCRIPTOR: &[u8; 4] = b"PK\x07\x08";
/// End-of-central-directory record without its comment.
const EOCD_LEN: usize = 22;
/// Largest archive comment, so the farthest the EOCD record can sit from
/// the end.
const MAX_COMMENT: usize = 0xFFFF;

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    let b = d.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// Magic numbers of other containers at offset 0: a file that starts with
/// one of them is that container, even if a zip happens to end it.
fn other_container(data: &[u8]) -> bool {
    const MAGICS: &[&[u8]] = &[
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", // OLE2
        b"%PDF",
        b"7z\xBC\xAF\x27\x1C",
        b"Rar!\x1A\x07",
        b"MSCF",
        b"\x1F\x8B",
        b"BZh",
        b"\xFD7zXZ\x00",
        b"\x28\xB5\x2F\xFD", // zstd
        b"070701",
        b"070702",
        b"070707",
        b"{\\rtf",
        b"\xE4\x52\x5C\x7B\x8C\xD8\xA7\x4D", // OneNote
    ];
    MAGICS.iter().any(|m| data.starts_with(m))
        || data.get(257..262) == Some(b"ustar")
        || data.get(0x8001..0x8006) == Some(b"CD001")
}

pub(crate) fn detect(data: &[u8]) -> bool {
    if data.starts_with(LFH) {
        return true;
    }
    // Split archive of one segment: a spanning marker, then a local header.
    if (data.starts_with(DESCRIPTOR) || data.starts_with(b"PK00")) && data.get(4..8) == Some(LFH) {
        return true;
    }
    // An empty archive: only the end record.
    if data.starts_with(EOCD) {
        return u16_at(data, 20).is_some_and(|c| EOCD_LEN + usize::from(c) == data.len());
    }
    // Self-extracting: a zip appended to something else.
    if other_container(data) {
        return false;
    }
    if find_eocd(data).is_some_and(|e| e.cd_start < e.cd_end) {
        return true;
    }
    // A self-extracting executable whose end record was cut off or
    // damaged (a truncated download; an unpacker that overwrote it): its
    // last members' local headers still sit where the end record would.
    data.starts_with(b"MZ")
        && find_linked_header(data, tail_start(data), &mut Scan::new(data)).is_some()
}

/// Where the end record of a zip ending `data` would be searched: the
/// last 64 KiB + 22 bytes.
fn tail_start(data: &[u8]) -> usize {
    data.len().saturating_sub(EOCD_LEN + MAX_COMMENT)
}

/// Where the central directory is, as found from the end record.
#[derive(Debug)]
struct Directory {
    /// Where the central directory starts and ends in `data`.
    cd_start: usize,
    cd_end: usize,
    /// Entries the end record announces.
    entries: u64,
    /// What to add to offsets stored in the archive to get offsets in
    /// `data`: the size of the stub of a self-extracting archive.
    shift: u64,
}

/// Finds and checks the end-of-central-directory record in the last
/// 64 KiB + 22 bytes, newest candidate first; the candidate must point at
/// a central directory that starts with a central header (or is empty).
fn find_eocd(data: &[u8]) -> Option<Directory> {
    let from = data.len().saturating_sub(EOCD_LEN + MAX_COMMENT);
    let tail = data.get(from..)?;
    let mut tries = 0;
    for rel in memmem::rfind_iter(tail, EOCD) {
        tries += 1;
        if tries > 64 {
            break;
        }
        let p = from + rel;
        if let Some(d) = check_eocd(data, p) {
            return Some(d);
        }
    }
    None
}

fn check_eocd(data: &[u8], p: usize) -> Option<Directory> {
    let disk = u16_at(data, p + 4)?;
    let cd_disk = u16_at(data, p + 6)?;
    let mut entries = u64::from(u16_at(data, p + 10)?);
    let mut cd_size = u64::from(u32_at(data, p + 12)?);
    let mut cd_offset = u64::from(u32_at(data, p + 16)?);
    let comment = usize::from(u16_at(data, p + 20)?);
    if p.checked_add(EOCD_LEN)?.checked_add(comment)? > data.len() {
        return None;
    }
    let mut cd_end = p;
    let zip64 = entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF;
    if zip64 || (p >= 20 && data.get(p - 20..p - 16) == Some(LOC64)) {
        match zip64_end(data, p) {
            Some((pos, e, s, o)) => {
                cd_end = pos;
                entries = e;
                cd_size = s;
                cd_offset = o;
            }
            // A count of 0xFFFF alone may just be a full 16-bit field.
            None if cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF => return None,
            None => {}
        }
    } else if disk != 0 || cd_disk != 0 {
        return None;
    }
    let cd_start = cd_end.checked_sub(usize::try_from(cd_size).ok()?)?;
    let shift = (cd_start as u64).checked_sub(cd_offset)?;
    if entries == 0 {
        return (cd_size == 0).then_some(Directory {
            cd_start,
            cd_end: cd_start,
            entries,
            shift,
        });
    }
    if data.get(cd_start..cd_start + 4) != Some(CDH) {
        return None;
    }
    Some(Directory {
        cd_start,
        cd_end,
        entries,
        shift,
    })
}

/// The zip64 end record located from the locator before the end record at
/// `p`: (its position, entries, directory size, directory offset).
fn zip64_end(data: &[u8], p: usize) -> Option<(usize, u64, u64, u64)> {
    let loc = p.checked_sub(20)?;
    if data.get(loc..loc + 4) != Some(LOC64) {
        return None;
    }
    let declared = u64_at(data, loc + 8)?;
    // Usually the record sits right before the locator; a stub shifts the
    // declared offset, so try that place too.
    let candidates = [usize::try_from(declared).ok(), loc.checked_sub(56)];
    for pos in candidates.into_iter().flatten() {
        if pos < loc && data.get(pos..pos + 4) == Some(EOCD64) {
            let entries = u64_at(data, pos + 32)?;
            let size = u64_at(data, pos + 40)?;
            let offset = u64_at(data, pos + 48)?;
            return Some((pos, entries, size, offset));
        }
    }
    None
}

/// One member as the central directory (or a local header) describes it.
#[derive(Debug, Clone)]
struct Member {
    name: Vec<u8>,
    version_made: u16,
    version_needed: u16,
    flags: u16,
    method: u16,
    time: u16,
    date: u16,
    crc: u32,
    packed: u64,
    size: u64,
    /// Offset of the local header in `data`.
    local: u64,
    /// The AES extra field (0x9901), whole, if present.
    aes: Option<Vec<u8>>,
    /// Sizes unknown until the data is read (a local header with a data
    /// descriptor and no central directory).
    size_unknown: bool,
}

impl Member {
    fn encrypted(&self) -> bool {
        self.flags & 1 != 0
    }

    fn is_dir(&self) -> bool {
        (self.name.ends_with(b"/") || self.name.ends_with(b"\\")) && self.size == 0
    }

    fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// Reads the extra fields: zip64 sizes and offset, and the AES field.
fn read_extra(extra: &[u8], m: &mut Member, local_offset: Option<&mut u64>) {
    let mut at = 0usize;
    let mut local_offset = local_offset;
    while let (Some(id), Some(len)) = (u16_at(extra, at), u16_at(extra, at + 2)) {
        let start = at + 4;
        let end = start + usize::from(len);
        let Some(body) = extra.get(start..end) else {
            break;
        };
        match id {
            0x0001 => {
                let mut i = 0;
                if m.size == 0xFFFF_FFFF
                    && let Some(v) = u64_at(body, i)
                {
                    m.size = v;
                    i += 8;
                }
                if m.packed == 0xFFFF_FFFF
                    && let Some(v) = u64_at(body, i)
                {
                    m.packed = v;
                    i += 8;
                }
                if let Some(off) = local_offset.as_deref_mut()
                    && *off == 0xFFFF_FFFF
                    && let Some(v) = u64_at(body, i)
                {
                    *off = v;
                }
            }
            0x9901 => m.aes = extra.get(at..end).map(<[u8]>::to_vec),
            _ => {}
        }
        at = end;
    }
}

/// Parses the central header at `p`; returns the member and where the next
/// header starts.
fn central_header(data: &[u8], p: usize, shift: u64) -> Option<(Member, usize)> {
    if data.get(p..p + 4)? != CDH {
        return None;
    }
    let name_len = usize::from(u16_at(data, p + 28)?);
    let extra_len = usize::from(u16_at(data, p + 30)?);
    let comment_len = usize::from(u16_at(data, p + 32)?);
    let name_at = p + 46;
    let extra_at = name_at + name_len;
    let next = extra_at + extra_len + comment_len;
    if next > data.len() {
        return None;
    }
    let mut m = Member {
        name: data[name_at..extra_at].to_vec(),
        version_made: u16_at(data, p + 4)?,
        version_needed: u16_at(data, p + 6)?,
        flags: u16_at(data, p + 8)?,
        method: u16_at(data, p + 10)?,
        time: u16_at(data, p + 12)?,
        date: u16_at(data, p + 14)?,
        crc: u32_at(data, p + 16)?,
        packed: u64::from(u32_at(data, p + 20)?),
        size: u64::from(u32_at(data, p + 24)?),
        local: 0,
        aes: None,
        size_unknown: false,
    };
    let mut local = u64::from(u32_at(data, p + 42)?);
    read_extra(
        &data[extra_at..extra_at + extra_len],
        &mut m,
        Some(&mut local),
    );
    m.local = local.saturating_add(shift);
    Some((m, next))
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let Some(dir) = find_eocd(data) else {
        let start = first_local_header(data, 0);
        return walk_local_headers(
            data,
            start,
            &[],
            "no valid end of central directory record",
            ctx,
            sink,
        );
    };
    let mut p = dir.cd_start;
    let mut seen = 0u64;
    // Local headers of the members handed out, so that a walk of the local
    // headers after a damaged directory does not hand them out again.
    let mut done = Vec::new();
    let damage = loop {
        if p >= dir.cd_end {
            if seen < dir.entries && (dir.entries <= 0xFFFF || seen > 0xFFFF) {
                // Writers that do not use zip64 store the count modulo
                // 65536: only a shortfall below that is a truncated
                // directory.
                break format!(
                    "the central directory holds {seen} of the {} entries announced",
                    dir.entries
                );
            }
            return Ok(());
        }
        ctx.check_time()?;
        ctx.check_budget()?;
        let Some((m, next)) = central_header(data, p, dir.shift) else {
            break format!(
                "bad central directory header at offset {p} (entry {} of {})",
                seen + 1,
                dir.entries
            );
        };
        seen += 1;
        p = next;
        if m.is_dir() {
            continue;
        }
        done.push(m.local);
        if member(data, &m, ctx, sink) == Flow::Stop {
            return Ok(());
        }
    };
    // The members the directory no longer lists may still have their
    // local headers: walk them from the start of the archive.
    done.sort_unstable();
    let start = usize::try_from(dir.shift).unwrap_or(usize::MAX);
    let start = if local_header(data, start).is_some() {
        Some(start)
    } else {
        first_local_header(data, 0)
    };
    walk_local_headers(data, start, &done, &damage, ctx, sink)
}

/// The number of bytes a walk of the local headers may search for
/// signatures, as a multiple of the input's size: keeps a hostile input
/// (data descriptors that never match, thousands of signatures) linear.
const SCAN_FACTOR: usize = 8;
/// Signature candidates tried in one search before giving up.
const MAX_CANDIDATES: usize = 256;

/// Searches of one input for signatures, charged against a budget of
/// bytes so that the searches of one walk stay linear in its size.
struct Scan {
    left: usize,
}

impl Scan {
    fn new(data: &[u8]) -> Scan {
        Scan {
            left: data
                .len()
                .saturating_mul(SCAN_FACTOR)
                .saturating_add(1 << 16),
        }
    }

    /// The first `sig` at or after `from`; `None` past the end or once the
    /// budget is spent.
    fn find(&mut self, data: &[u8], from: usize, sig: &[u8]) -> Option<usize> {
        let rest = data.get(from..)?;
        let window = rest.get(..self.left.min(rest.len()))?;
        match memmem::find(window, sig) {
            Some(r) => {
                self.left -= r + 1;
                Some(from + r)
            }
            None => {
                self.left -= window.len();
                None
            }
        }
    }

    fn spent(&self) -> bool {
        self.left == 0
    }
}

/// Compression methods of APPNOTE.TXT 4.4.5 (and WinZip's AES, 99): a
/// local header with another one is not taken for a member when looking
/// for a zip without its end record.
const KNOWN_METHODS: &[u16] = &[
    0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 14, 16, 18, 19, 20, 93, 94, 95, 96, 97, 98, 99,
];

/// A local header that looks written by a zip writer: a version up to
/// 6.3, a known method, a name of 1 to 4096 bytes without NUL.
fn plausible(m: &Member) -> bool {
    m.version_needed & 0xFF <= 63
        && KNOWN_METHODS.contains(&m.method)
        && (1..=4096).contains(&m.name.len())
        && !m.name.contains(&0)
}

/// Where one member found by its local header ends.
struct Extent {
    /// The end of its packed data (cut at the end of the input).
    data_end: usize,
    /// Where the next local header should start: after the data and the
    /// data descriptor, if any.
    next: usize,
    /// CRC and sizes from the data descriptor, when it was found.
    descriptor: Option<(u32, u64, u64)>,
}

/// Finds the end of the member whose local header `m` has its data at
/// `data_start`: by the sizes in the header, or, for a member written as
/// a stream (sizes only in the data descriptor after the data), by the
/// first data descriptor whose size is the distance from the data,
/// else by the next zip signature.
fn extent(data: &[u8], m: &Member, data_start: usize, scan: &mut Scan) -> Extent {
    let len = data.len();
    if !m.size_unknown {
        let data_end = usize::try_from(m.packed)
            .ok()
            .and_then(|n| data_start.checked_add(n))
            .map_or(len, |e| e.min(len));
        let mut next = data_end;
        if m.flags & 0x0008 != 0 {
            // A descriptor follows even when the header has the sizes:
            // 12 bytes, 16 with its signature, 24 with zip64 sizes.
            let signed = data.get(data_end..data_end + 4) == Some(DESCRIPTOR);
            let lens: &[usize] = if signed { &[16, 24] } else { &[12, 20] };
            next = lens
                .iter()
                .map(|l| data_end.saturating_add(*l))
                .find(|&n| is_signature(data, n))
                .unwrap_or_else(|| data_end.saturating_add(lens[0]));
        }
        return Extent {
            data_end,
            next: next.min(len),
            descriptor: None,
        };
    }
    let mut from = data_start;
    for _ in 0..MAX_CANDIDATES {
        let Some(c) = scan.find(data, from, DESCRIPTOR) else {
            break;
        };
        let packed = (c - data_start) as u64;
        let crc = u32_at(data, c + 4);
        let short = u32_at(data, c + 8).map(u64::from) == Some(packed);
        let long = u64_at(data, c + 8) == Some(packed);
        if let Some(crc) = crc
            && (short || long)
        {
            // Zip64 sizes (8 bytes each) when the 4-byte reading does not
            // fit, or when a zip structure follows the longer descriptor.
            let long = long && (!short || is_signature(data, c + 24) || c + 24 == len);
            let (next, size) = if long {
                (c + 24, u64_at(data, c + 16).unwrap_or(0))
            } else {
                (c + 16, u32_at(data, c + 12).map_or(0, u64::from))
            };
            return Extent {
                data_end: c,
                next: next.min(len),
                descriptor: Some((crc, packed, size)),
            };
        }
        from = c + 1;
    }
    // No descriptor with a signature: the data ends where the next header
    // starts, before a descriptor without a signature if one fits.
    let end = [LFH, CDH]
        .iter()
        .filter_map(|s| scan.find(data, data_start, *s))
        .min()
        .unwrap_or(len);
    if let Some(d) = end.checked_sub(12).filter(|&d| d >= data_start)
        && let (Some(crc), Some(packed), Some(size)) =
            (u32_at(data, d), u32_at(data, d + 4), u32_at(data, d + 8))
        && u64::from(packed) == (d - data_start) as u64
    {
        return Extent {
            data_end: d,
            next: end,
            descriptor: Some((crc, u64::from(packed), u64::from(size))),
        };
    }
    Extent {
        data_end: end,
        next: end,
        descriptor: None,
    }
}

/// A signature that may follow a member's data.
fn is_signature(data: &[u8], at: usize) -> bool {
    matches!(
        data.get(at..at.saturating_add(4)),
        Some(s) if s == LFH || s == CDH || s == EOCD || s == EOCD64
    )
}

/// A plausible local header at or after `from` whose member ends where
/// another zip structure starts (the next local header, the central
/// directory, the end record, a data descriptor of the right size, or the
/// end of the data):
/// two structures that agree, which bytes that merely contain `PK\3\4`
/// do not. At most [`MAX_CANDIDATES`] candidates are tried.
fn find_linked_header(data: &[u8], from: usize, scan: &mut Scan) -> Option<usize> {
    let mut at = from;
    for _ in 0..MAX_CANDIDATES {
        let p = scan.find(data, at, LFH)?;
        at = p + 1;
        let Some((m, data_start)) = local_header(data, p) else {
            continue;
        };
        if !plausible(&m) {
            continue;
        }
        let e = extent(data, &m, data_start, scan);
        let linked = if m.size_unknown {
            e.descriptor.is_some()
        } else {
            // The last member of a zip cut right after it ends exactly
            // at the end of the data.
            is_signature(data, e.next)
                || (m.flags & 0x0008 == 0
                    && usize::try_from(m.packed)
                        .ok()
                        .and_then(|n| data_start.checked_add(n))
                        == Some(data.len()))
                || (m.flags & 0x0008 != 0
                    && data.get(e.data_end..e.data_end + 4) == Some(DESCRIPTOR))
        };
        if linked {
            return Some(p);
        }
    }
    None
}

/// Where to start walking local headers: the local header at `from` if
/// there is one, else the first plausible one that is linked to the next
/// structure.
fn first_local_header(data: &[u8], from: usize) -> Option<usize> {
    if local_header(data, from).is_some() {
        return Some(from);
    }
    // A split archive of one segment starts with a spanning marker.
    if (data.starts_with(DESCRIPTOR) || data.starts_with(b"PK00"))
        && local_header(data, 4).is_some()
    {
        return Some(4);
    }
    find_linked_header(data, from, &mut Scan::new(data))
}

/// Reads the members of an archive whose central directory is missing or
/// damaged (`why`) from their local headers alone, as each one leads to
/// the next: from `start`, each member's sizes (or its data descriptor)
/// give where the next header starts; the walk stops at the first place
/// that holds no local header. Members whose local header is in `done`
/// (sorted) were handed out already. Ends with a corrupt issue that says
/// so, after the members.
fn walk_local_headers(
    data: &[u8],
    start: Option<usize>,
    done: &[u64],
    why: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let Some(start) = start else {
        return Err(Issue::corrupt(format!(
            "zip: {why}, and no local file header was found"
        )));
    };
    let mut scan = Scan::new(data);
    let mut pos = start;
    let mut read = 0u64;
    let stop = loop {
        ctx.check_time()?;
        ctx.check_budget()?;
        let Some((mut m, data_start)) = local_header(data, pos) else {
            break match data.get(pos..pos.saturating_add(4)) {
                None | Some([]) => "at the end of the data".to_string(),
                Some(s) if s == CDH => format!("up to the central directory at offset {pos}"),
                Some(s) if s == EOCD || s == EOCD64 => {
                    format!("up to the end record at offset {pos}")
                }
                Some(_) => format!("up to offset {pos}, where no local header follows"),
            };
        };
        if scan.spent() {
            break format!("up to offset {pos}: gave up searching for the end of its data");
        }
        let e = extent(data, &m, data_start, &mut scan);
        if let Some((crc, packed, size)) = e.descriptor {
            (m.crc, m.packed, m.size, m.size_unknown) = (crc, packed, size, false);
        } else if m.size_unknown {
            m.packed = (e.data_end - data_start) as u64;
        }
        let here = pos as u64;
        // Past the header at least, so that the walk always moves on.
        pos = e.next.max(data_start).max(pos + 4);
        if m.is_dir() && m.packed == 0 || done.binary_search(&here).is_ok() {
            continue;
        }
        read += 1;
        // A stored member whose end nothing confirmed may be cut short or
        // run into what follows it: say so on the member.
        let unsure = m.size_unknown && m.method == 0;
        let mut tagged = |ctx: &mut Ctx, mut e: Entry<'_>| {
            if unsure && e.issue.is_none() {
                e.issue = Some(Issue::corrupt(
                    "zip: stored member without sizes whose data descriptor was not found: its data is taken up to the next zip header or the end of the input",
                ));
            }
            sink(ctx, e)
        };
        if member(data, &m, ctx, &mut tagged) == Flow::Stop {
            return Ok(());
        }
    };
    let entries = if read == 1 {
        "entry was"
    } else {
        "entries were"
    };
    Err(Issue::corrupt(format!(
        "zip: {why} (a truncated or damaged archive); {read} {entries} read from the local headers from offset {start} on, {stop}"
    )))
}

/// Parses the local header at `p`: the member and where its data starts.
fn local_header(data: &[u8], p: usize) -> Option<(Member, usize)> {
    if data.get(p..p + 4)? != LFH {
        return None;
    }
    let name_len = usize::from(u16_at(data, p + 26)?);
    let extra_len = usize::from(u16_at(data, p + 28)?);
    let name_at = p + 30;
    let extra_at = name_at + name_len;
    let data_start = extra_at + extra_len;
    if data_start > data.len() {
        return None;
    }
    let version_needed = u16_at(data, p + 4)?;
    let flags = u16_at(data, p + 6)?;
    let mut m = Member {
        name: data[name_at..extra_at].to_vec(),
        version_made: version_needed,
        version_needed,
        flags,
        method: u16_at(data, p + 8)?,
        time: u16_at(data, p + 10)?,
        date: u16_at(data, p + 12)?,
        crc: u32_at(data, p + 14)?,
        packed: u64::from(u32_at(data, p + 18)?),
        size: u64::from(u32_at(data, p + 22)?),
        local: p as u64,
        aes: None,
        size_unknown: false,
    };
    read_extra(&data[extra_at..data_start], &mut m, None);
    if flags & 0x0008 != 0 && m.packed == 0 {
        m.size_unknown = true;
    }
    Some((m, data_start))
}

/// Hands out one member.
fn member(data: &[u8], m: &Member, ctx: &mut Ctx, sink: &mut Sink<'_>) -> Flow {
    let name = m.display_name();
    let lh = usize::try_from(m.local).unwrap_or(usize::MAX);
    let Some((_, data_start)) = local_header(data, lh) else {
        return sink(
            ctx,
            Entry::failed(
                name,
                Issue::corrupt(format!(
                    "zip: no local header at offset {} for this member",
                    m.local
                )),
            ),
        );
    };
    if m.method == 0 && !m.encrypted() {
        let want = usize::try_from(m.packed).unwrap_or(usize::MAX);
        let end = data_start.saturating_add(want);
        let mut entry = Entry::new(name, &data[data_start..end.min(data.len())]);
        if end > data.len() {
            entry.issue = Some(Issue::corrupt(
                "zip: stored member is cut short by the end of the archive",
            ));
        }
        return sink(ctx, entry);
    }
    // The virtual archive ends with the member's data, so that the zip
    // crate's search for the end record never reads more than the member.
    let end = usize::try_from(m.packed)
        .ok()
        .and_then(|n| data_start.checked_add(n))
        .map_or(data.len(), |e| e.min(data.len()));
    let entry = decode(&data[lh..end], m, ctx, &name);
    sink(ctx, entry)
}

/// The input from a local header on, followed by a made-up central
/// directory of that one member; counts the bytes read.
struct Virtual<'a> {
    head: &'a [u8],
    tail: Vec<u8>,
    pos: u64,
    count: &'a Cell<u64>,
}

impl Read for Virtual<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let head = self.head.len() as u64;
        let (src, at) = if self.pos < head {
            (self.head, self.pos)
        } else {
            (&self.tail[..], self.pos - head)
        };
        let at = usize::try_from(at).unwrap_or(usize::MAX);
        let avail = src.get(at..).unwrap_or(&[]);
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n as u64;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl Seek for Virtual<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let len = (self.head.len() + self.tail.len()) as u64;
        let new = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek out of range",
            )),
        }
    }
}

/// A central directory of `m` alone, its local header at offset 0, placed
/// at `cd_offset`, and the end record.
fn one_member_directory(m: &Member, cd_offset: u32) -> Vec<u8> {
    let big = m.packed >= 0xFFFF_FFFF || m.size >= 0xFFFF_FFFF;
    let mut extra = Vec::new();
    if big {
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&16u16.to_le_bytes());
        extra.extend_from_slice(&m.size.to_le_bytes());
        extra.extend_from_slice(&m.packed.to_le_bytes());
    }
    if let Some(aes) = &m.aes {
        extra.extend_from_slice(aes);
    }
    let name = b"m";
    let mut cd = Vec::with_capacity(46 + name.len() + extra.len() + EOCD_LEN);
    cd.extend_from_slice(CDH);
    cd.extend_from_slice(&m.version_made.to_le_bytes());
    cd.extend_from_slice(&m.version_needed.to_le_bytes());
    // Bit 11 (UTF-8 name) off: the name here is plain ASCII.
    cd.extend_from_slice(&(m.flags & !0x0800).to_le_bytes());
    cd.extend_from_slice(&m.method.to_le_bytes());
    cd.extend_from_slice(&m.time.to_le_bytes());
    cd.extend_from_slice(&m.date.to_le_bytes());
    cd.extend_from_slice(&m.crc.to_le_bytes());
    let (packed, size) = if big {
        (0xFFFF_FFFFu32, 0xFFFF_FFFFu32)
    } else {
        (m.packed as u32, m.size as u32)
    };
    cd.extend_from_slice(&packed.to_le_bytes());
    cd.extend_from_slice(&size.to_le_bytes());
    cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
    cd.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    cd.extend_from_slice(&[0u8; 10]); // comment length, disk, attributes
    cd.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    cd.extend_from_slice(name);
    cd.extend_from_slice(&extra);
    let cd_size = cd.len() as u32;
    cd.extend_from_slice(EOCD);
    cd.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    cd.extend_from_slice(&cd_size.to_le_bytes());
    cd.extend_from_slice(&cd_offset.to_le_bytes());
    cd.extend_from_slice(&0u16.to_le_bytes());
    cd
}

/// Decodes (and decrypts) a member through the `zip` crate.
fn decode<'a>(head: &[u8], m: &Member, ctx: &mut Ctx, name: &str) -> Entry<'a> {
    let Ok(cd_offset) = u32::try_from(head.len()) else {
        return Entry::failed(
            name,
            Issue::unsupported("zip: compressed members of 4 GiB or more are not unpacked"),
        );
    };
    let mut m = m.clone();
    if m.size_unknown {
        // The zip crate stops at the declared size; the limits bound it instead.
        m.size = u64::MAX >> 1;
    }
    let tail = one_member_directory(&m, cd_offset);
    let packed = Cell::new(0u64);
    let reader = Virtual {
        head,
        tail,
        pos: 0,
        count: &packed,
    };
    let config = Config {
        archive_offset: ArchiveOffset::Known(0),
    };
    let mut archive = match ZipArchive::with_config(config, reader) {
        Ok(a) => a,
        Err(e) => {
            return Entry::failed(
                name,
                Issue::corrupt(format!("zip: cannot read member: {e}")),
            );
        }
    };
    let options = || ZipReadOptions::new().ignore_crc32(m.size_unknown);
    if !m.encrypted() {
        return match archive.by_index_with_options(0, options()) {
            Ok(mut file) => {
                packed.set(0);
                Entry::expanded(name, ctx.expand(&mut file, &packed))
            }
            Err(e) => Entry::failed(name, method_issue(&m, e)),
        };
    }
    let kind = if m.method == 99 || m.aes.is_some() {
        "AES"
    } else {
        "ZipCrypto"
    };
    for pw in &ctx.limits().passwords {
        let Ok(mut file) = archive.by_index_with_options(0, options().password(Some(pw))) else {
            continue;
        };
        packed.set(0);
        let out = ctx.expand(&mut file, &packed);
        // A wrong ZipCrypto password passes its one-byte check once in
        // 256 tries and then decodes to garbage: try the next one.
        let garbage = out.data.is_empty()
            && out
                .cut
                .as_ref()
                .is_some_and(|c| c.kind == crate::IssueKind::Corrupt);
        if !garbage {
            return Entry::expanded(name, out);
        }
    }
    Entry::failed(
        name,
        Issue::encrypted(format!(
            "zip: member is encrypted ({kind}) and no password given opened it"
        )),
    )
}

fn method_issue(m: &Member, e: ZipError) -> Issue {
    match e {
        ZipError::UnsupportedArchive(what) => Issue::unsupported(format!(
            "zip: member uses compression method {} ({what})",
            m.method
        )),
        e => Issue::corrupt(format!("zip: cannot read member: {e}")),
    }
}

/// The bytes of the archive each member takes, as its central directory
/// entry says: from its local header to the end of its packed data. For
/// the overlap heuristic ([`crate::heuristics`]); at most `max` entries,
/// in directory order. Entries whose local header is missing are left
/// out (the extraction reports them). Empty without a central directory.
pub(crate) fn member_ranges(data: &[u8], max: usize) -> Vec<crate::heuristics::Span> {
    let Some(dir) = find_eocd(data) else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    let mut p = dir.cd_start;
    while p < dir.cd_end && spans.len() < max {
        let Some((m, next)) = central_header(data, p, dir.shift) else {
            break;
        };
        p = next;
        let Some(start) = usize::try_from(m.local).ok() else {
            continue;
        };
        let Some((_, data_start)) = local_header(data, start) else {
            continue;
        };
        spans.push(crate::heuristics::Span {
            start: m.local,
            end: (data_start as u64).saturating_add(m.packed),
            name: m.display_name(),
        });
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, each_byte_flipped, random_bytes, walk, walk_with};
    use crate::{Format, IssueKind, Limits, identify};
    use std::io::{Cursor, Write};
    use std::time::{Duration, Instant};
    use zip::CompressionMethod;
    use zip::unstable::write::FileOptionsExt;
    use zip::write::SimpleFileOptions;

    fn opts(method: CompressionMethod) -> SimpleFileOptions {
        SimpleFileOptions::default().compression_method(method)
    }

    fn make_with(members: &[(&str, &[u8], SimpleFileOptions)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data, o) in members {
            w.start_file(*name, *o).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn make(members: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
        let v: Vec<_> = members
            .iter()
            .map(|(n, d)| (*n, *d, opts(method)))
            .collect();
        make_with(&v)
    }

    /// A zip of one member whose packed bytes are `stream`, made with
    /// `method` and general-purpose `flags`: written stored, then the
    /// method, flags, size and CRC patched in both headers.
    fn legacy_zip(method: u16, flags: u16, stream: &[u8], original: &[u8]) -> Vec<u8> {
        let mut z = make(&[("eicar.com", stream)], CompressionMethod::Stored);
        let crc = crc32fast::hash(original).to_le_bytes();
        let size = (original.len() as u32).to_le_bytes();
        let cd = memmem::find(&z, CDH).unwrap();
        for (at, sig) in [(0usize, 0usize), (cd, 2)] {
            z[at + 6 + sig..at + 8 + sig].copy_from_slice(&flags.to_le_bytes());
            z[at + 8 + sig..at + 10 + sig].copy_from_slice(&method.to_le_bytes());
            z[at + 14 + sig..at + 18 + sig].copy_from_slice(&crc);
            z[at + 22 + sig..at + 26 + sig].copy_from_slice(&size);
        }
        z
    }

    /// MSB-last bit packing (zip's legacy methods read bits from the
    /// lowest up): `(value, width)` pairs.
    fn lsb_bits(fields: &[(u32, u32)]) -> Vec<u8> {
        let (mut out, mut acc, mut have) = (Vec::new(), 0u64, 0u32);
        for &(v, w) in fields {
            acc |= u64::from(v) << have;
            have += w;
            while have >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                have -= 8;
            }
        }
        if have > 0 {
            out.push(acc as u8);
        }
        out
    }

    /// PKZIP 1.x's methods by hand (APPNOTE.TXT 5.1, 5.2): shrink as one
    /// 9-bit LZW code per byte (codes below 256 are the bytes), reduce
    /// with every follower set empty (a 6-bit zero per byte value, then
    /// each byte as is, the escape byte 0x90 doubled as 0x90 0x00).
    #[test]
    fn shrink_and_reduce_by_hand() {
        let data = [EICAR, &b"\x90 escaped \x90\x00"[..]].concat();
        let shrink: Vec<_> = data.iter().map(|&b| (u32::from(b), 9)).collect();
        let mut reduce: Vec<(u32, u32)> = vec![(0, 6); 256];
        for &b in &data {
            reduce.push((u32::from(b), 8));
            if b == 0x90 {
                reduce.push((0, 8));
            }
        }
        let mut cases = vec![(1u16, lsb_bits(&shrink))];
        for factor in 2..=5u16 {
            cases.push((factor, lsb_bits(&reduce)));
        }
        for (method, stream) in cases {
            let z = legacy_zip(method, 0, &stream, &data);
            let w = walk(&z, "old.zip");
            assert!(w.issues.is_empty(), "{method}: {:?}", w.issues);
            let f = &w.found[0];
            assert_eq!(f.chain, "eicar.com");
            assert!(f.issue.is_none(), "{method}: {:?}", f.issue);
            assert_eq!(f.data, data, "method {method}");
            // A flipped bit: the CRC or the decoder says so; never a panic.
            for i in 0..stream.len() {
                let mut bad = stream.clone();
                bad[i] ^= 0x04;
                let w = walk(&legacy_zip(method, 0, &bad, &data), "old.zip");
                if let Some(f) = w.found.first()
                    && f.data != data
                {
                    assert!(f.issue.is_some(), "{method} byte {i}");
                }
            }
        }
    }

    /// ClamAV's `clam.impl.zip` (Debian `clamav-testfiles`): `clam.exe`
    /// imploded by PKZIP.
    #[test]
    fn clamav_imploded_zip() {
        let path = "/usr/share/clamav-testfiles/clam.impl.zip";
        let Ok(z) = std::fs::read(path) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install clamav-testfiles"
            );
            eprintln!("skipped: {path} not installed");
            return;
        };
        let w = walk(&z, "clam.impl.zip");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        let f = &w.found[0];
        assert_eq!(f.chain, "CLAM.EXE");
        assert!(f.issue.is_none(), "{:?}", f.issue);
        assert_eq!(f.data.len(), 544);
        assert!(f.data.starts_with(b"MZ"));
        for len in (0..z.len()).step_by(7) {
            let _ = walk(&z[..len], "t");
        }
        for i in 0..z.len() {
            let mut m = z.clone();
            m[i] ^= 0x20;
            let _ = walk(&m, "t");
        }
    }

    #[test]
    fn nested_zip_every_method() {
        for method in [
            CompressionMethod::Stored,
            CompressionMethod::Deflated,
            CompressionMethod::Bzip2,
            CompressionMethod::Zstd,
            CompressionMethod::Xz,
        ] {
            let inner = make(&[("eicar.com", EICAR)], method);
            let outer = make(&[("readme.txt", b"hello"), ("inner.zip", &inner)], method);
            assert_eq!(identify(&outer), Some(Format::Zip));
            let w = walk(&outer, "outer.zip");
            let f = w
                .found
                .iter()
                .find(|f| f.data == EICAR)
                .expect("eicar found");
            assert_eq!(f.chain, "inner.zip!eicar.com", "{method:?}");
            assert!(f.issue.is_none(), "{method:?}: {:?}", f.issue);
            assert!(w.issues.is_empty(), "{method:?}: {:?}", w.issues);
            assert_eq!(
                w.chains(),
                ["readme.txt", "inner.zip", "inner.zip!eicar.com"]
            );
        }
    }

    #[test]
    fn stored_members_are_borrowed() {
        let z = make(&[("eicar.com", EICAR)], CompressionMethod::Stored);
        let limits = Limits::default();
        let mut ctx = Ctx::new(&limits, None);
        let mut borrowed = false;
        crate::extract(Format::Zip, &z, "z.zip", &mut ctx, &mut |_, e| {
            borrowed = matches!(e.data, std::borrow::Cow::Borrowed(_)) && e.data == EICAR;
            Flow::Continue
        })
        .unwrap();
        assert!(borrowed);
    }

    #[test]
    fn directories_are_not_entries() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.add_directory("dir/", SimpleFileOptions::default())
            .unwrap();
        w.start_file("dir/eicar.com", SimpleFileOptions::default())
            .unwrap();
        w.write_all(EICAR).unwrap();
        let z = w.finish().unwrap().into_inner();
        assert_eq!(walk(&z, "z.zip").chains(), ["dir/eicar.com"]);
    }

    #[test]
    fn self_extracting_and_split() {
        let z = make(&[("eicar.com", EICAR)], CompressionMethod::Deflated);
        let mut sfx = b"MZ\x90\x00".to_vec();
        sfx.extend(std::iter::repeat_n(0xAAu8, 5000));
        sfx.extend_from_slice(&z);
        assert!(detect(&sfx));
        let w = walk(&sfx, "setup.exe");
        assert_eq!(w.containing(EICAR).unwrap().chain, "eicar.com");
        assert!(w.issues.is_empty(), "{:?}", w.issues);

        for marker in [&b"PK\x07\x08"[..], b"PK00"] {
            let mut split = marker.to_vec();
            split.extend_from_slice(&z);
            assert!(detect(&split));
            let w = walk(&split, "a.zip");
            assert_eq!(w.containing(EICAR).unwrap().chain, "eicar.com");
        }
    }

    #[test]
    fn encrypted_members() {
        let zc = SimpleFileOptions::default()
            .with_deprecated_encryption(b"infected")
            .unwrap();
        let aes =
            SimpleFileOptions::default().with_aes_encryption(zip::AesMode::Aes256, "infected");
        for (kind, o) in [("ZipCrypto", zc), ("AES", aes)] {
            let z = make_with(&[("eicar.com", EICAR, o)]);
            let w = walk(&z, "z.zip");
            assert_eq!(w.found.len(), 1);
            let issue = w.found[0].issue.as_ref().unwrap();
            assert_eq!(issue.kind, IssueKind::Encrypted, "{kind}");
            assert!(issue.message.contains(kind), "{}", issue.message);
            assert!(w.found[0].data.is_empty());

            let limits = Limits {
                passwords: vec![b"wrong".to_vec(), b"infected".to_vec()],
                ..Limits::default()
            };
            let w = walk_with(&z, "z.zip", &limits);
            let f = w.containing(EICAR).expect(kind);
            assert_eq!(f.chain, "eicar.com");
        }
    }

    #[test]
    fn names_come_through_as_they_are() {
        let names = ["../../etc/passwd", "/abs/x", "esc\x1b[31mred"];
        let v: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, EICAR)).collect();
        let mut z = make(&v, CompressionMethod::Stored);
        // Invalid UTF-8: patch "x" of "/abs/x" to 0xFF in both headers.
        let pat = b"/abs/x";
        let spots: Vec<usize> = memmem::find_iter(&z, pat).collect();
        assert_eq!(spots.len(), 2);
        for s in spots {
            z[s + 5] = 0xFF;
        }
        let w = walk(&z, "z.zip");
        assert_eq!(
            w.chains(),
            ["../../etc/passwd", "/abs/\u{FFFD}", "esc\x1b[31mred"]
        );
    }

    #[test]
    fn duplicate_names_are_all_handed_out() {
        let mut z = make(
            &[("aaaa.txt", b"first"), ("bbbb.txt", EICAR)],
            CompressionMethod::Stored,
        );
        let spots: Vec<usize> = memmem::find_iter(&z, b"bbbb.txt").collect();
        for s in spots {
            z[s..s + 4].copy_from_slice(b"aaaa");
        }
        let w = walk(&z, "z.zip");
        assert_eq!(w.chains(), ["aaaa.txt", "aaaa.txt"]);
        assert!(w.containing(EICAR).is_some());
    }

    #[test]
    fn without_central_directory_local_headers_are_walked() {
        // A streamed zip (data descriptors, no sizes in the local headers),
        // cut before its central directory.
        let mut w = zip::ZipWriter::new_stream(Vec::new());
        w.start_file("a.txt", opts(CompressionMethod::Deflated))
            .unwrap();
        w.write_all(&b"hello ".repeat(100)).unwrap();
        w.start_file("eicar.com", opts(CompressionMethod::Deflated))
            .unwrap();
        w.write_all(EICAR).unwrap();
        let full = w.finish().unwrap().get_ref().clone();
        let cd = memmem::rfind(&full, CDH).unwrap();
        let cut = &full[..cd];
        assert!(detect(cut));
        let w = walk(cut, "z.zip");
        assert_eq!(w.chains(), ["a.txt", "eicar.com"]);
        assert_eq!(w.containing(EICAR).unwrap().chain, "eicar.com");
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
        // The whole one reads through its central directory.
        let w = walk(&full, "z.zip");
        assert_eq!(w.containing(EICAR).unwrap().chain, "eicar.com");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
    }

    /// A zip written as a stream, built here byte by byte: each member's
    /// local header has general-purpose bit 3 set (sizes in a data
    /// descriptor) and no CRC or sizes, its
    /// data is followed by a signed descriptor; then the central
    /// directory and the end record. `method` 0 (stored) or 8 (deflate).
    fn streamed(members: &[(&str, &[u8], u16)]) -> Vec<u8> {
        let mut z = Vec::new();
        let mut cd = Vec::new();
        for (name, content, method) in members {
            let packed = if *method == 8 {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(content).unwrap();
                e.finish().unwrap()
            } else {
                content.to_vec()
            };
            let crc = crc32fast::hash(content);
            let local = z.len() as u32;
            let mut fixed = Vec::new();
            fixed.extend_from_slice(&20u16.to_le_bytes());
            fixed.extend_from_slice(&8u16.to_le_bytes());
            fixed.extend_from_slice(&method.to_le_bytes());
            fixed.extend_from_slice(&[0; 4]); // time, date
            z.extend_from_slice(LFH);
            z.extend_from_slice(&fixed);
            z.extend_from_slice(&[0; 12]); // CRC and sizes: in the descriptor
            z.extend_from_slice(&(name.len() as u16).to_le_bytes());
            z.extend_from_slice(&0u16.to_le_bytes());
            z.extend_from_slice(name.as_bytes());
            z.extend_from_slice(&packed);
            z.extend_from_slice(DESCRIPTOR);
            let sizes = [crc, packed.len() as u32, content.len() as u32];
            for v in sizes {
                z.extend_from_slice(&v.to_le_bytes());
            }
            cd.extend_from_slice(CDH);
            cd.extend_from_slice(&20u16.to_le_bytes());
            cd.extend_from_slice(&fixed);
            for v in sizes {
                cd.extend_from_slice(&v.to_le_bytes());
            }
            cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
            cd.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
            cd.extend_from_slice(&local.to_le_bytes());
            cd.extend_from_slice(name.as_bytes());
        }
        let cd_offset = z.len() as u32;
        z.extend_from_slice(&cd);
        z.extend_from_slice(EOCD);
        z.extend_from_slice(&[0; 4]);
        let n = (members.len() as u16).to_le_bytes();
        z.extend_from_slice(&[n[0], n[1], n[0], n[1]]);
        z.extend_from_slice(&(cd.len() as u32).to_le_bytes());
        z.extend_from_slice(&cd_offset.to_le_bytes());
        z.extend_from_slice(&[0, 0]);
        z
    }

    /// The issue a walk of local headers reports on the archive.
    fn local_walk_issue(w: &crate::testutil::Walk) -> &Issue {
        let (chain, issue) = w.issues.first().expect("an issue on the archive");
        assert_eq!(chain, "");
        assert_eq!(issue.kind, IssueKind::Corrupt, "{issue:?}");
        assert!(
            issue.message.contains("read from the local headers"),
            "{issue:?}"
        );
        issue
    }

    #[test]
    fn zip_without_its_end_record_is_read_from_local_headers() {
        let text = b"plain text, ".repeat(40);
        for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
            let z = make(&[("a.txt", &text), ("eicar.com", EICAR)], method);
            // The central directory is whole; the end record is cut (at
            // every length) or overwritten as WWPack's stub overwrites it.
            let eocd = memmem::rfind(&z, EOCD).unwrap();
            let mut damaged = z.clone();
            for b in &mut damaged[z.len() - 5..] {
                *b = 1;
            }
            let mut inputs = vec![damaged];
            inputs.extend((eocd..z.len()).map(|n| z[..n].to_vec()));
            for d in inputs {
                let w = walk(&d, "z.zip");
                assert_eq!(w.chains(), ["a.txt", "eicar.com"], "{method:?}");
                assert_eq!(w.found[0].data, text);
                assert_eq!(w.found[1].data, EICAR);
                assert!(w.found.iter().all(|f| f.issue.is_none()));
                let issue = local_walk_issue(&w);
                assert!(
                    issue.message.contains("no valid end of central directory"),
                    "{issue:?}"
                );
                assert!(issue.message.contains("2 entries"), "{issue:?}");
                assert!(
                    issue.message.contains("up to the central directory"),
                    "{issue:?}"
                );
            }
        }
    }

    #[test]
    fn damaged_central_directory_is_completed_from_local_headers() {
        let names = ["one.txt", "two.txt", "eicar.com"];
        let contents: [&[u8]; 3] = [b"first member", b"second member", EICAR];
        let v: Vec<(&str, &[u8])> = names.iter().copied().zip(contents).collect();
        let z = make(&v, CompressionMethod::Deflated);
        let second = memmem::find_iter(&z, CDH).nth(1).unwrap();
        // The second central header's signature broken: the first member
        // comes from the directory, the others from their local headers,
        // none twice.
        let mut broken = z.clone();
        broken[second + 3] = b'X';
        let w = walk(&broken, "z.zip");
        assert_eq!(w.chains(), names);
        for (f, c) in w.found.iter().zip(contents) {
            assert_eq!(f.data, c);
            assert!(f.issue.is_none(), "{:?}", f.issue);
        }
        let issue = local_walk_issue(&w);
        assert!(
            issue.message.contains("bad central directory header"),
            "{issue:?}"
        );
        // An end record that announces more entries than its directory holds.
        let eocd = memmem::rfind(&z, EOCD).unwrap();
        let mut short = z.clone();
        short[eocd + 8..eocd + 12].copy_from_slice(&[4, 0, 4, 0]);
        let w = walk(&short, "z.zip");
        assert_eq!(w.chains(), names);
        let issue = local_walk_issue(&w);
        assert!(issue.message.contains("3 of the 4 entries"), "{issue:?}");
        // A well-formed archive is read through its directory alone: a
        // local header the directory does not list is not handed out.
        let mut extra = z[..memmem::find(&z, CDH).unwrap()].to_vec();
        let hidden = make(&[("hidden.txt", b"not listed")], CompressionMethod::Stored);
        let hidden_at = extra.len();
        extra.extend_from_slice(&hidden[..memmem::find(&hidden, CDH).unwrap()]);
        let cd_at = memmem::find(&z, CDH).unwrap();
        let shift = (extra.len() - cd_at) as u32;
        extra.extend_from_slice(&z[cd_at..]);
        let e = memmem::rfind(&extra, EOCD).unwrap();
        let off = u32_at(&extra, e + 16).unwrap() + shift;
        extra[e + 16..e + 20].copy_from_slice(&off.to_le_bytes());
        assert!(hidden_at > 0);
        let w = walk(&extra, "z.zip");
        assert_eq!(w.chains(), names);
        assert!(w.issues.is_empty(), "{:?}", w.issues);
    }

    #[test]
    fn data_descriptor_members_stored_and_deflated() {
        // Stored data that holds zip signatures itself: only a descriptor
        // whose size is the distance ends the member.
        let tricky = [
            &b"PK\x07\x08 and PK\x03\x04 and PK\x01\x02 inside "[..],
            EICAR,
        ]
        .concat();
        for method in [0u16, 8] {
            let z = streamed(&[("a.bin", &tricky, method), ("eicar.com", EICAR, method)]);
            let w = walk(&z, "s.zip");
            assert_eq!(w.chains(), ["a.bin", "eicar.com"], "{method}");
            assert!(w.issues.is_empty(), "{:?}", w.issues);
            // The directory's offset from the end record: the data holds
            // central header signatures too.
            let eocd = memmem::rfind(&z, EOCD).unwrap();
            let first_cd = u32_at(&z, eocd + 16).unwrap() as usize;
            let cd = memmem::rfind(&z, CDH).unwrap();
            for cut in [first_cd, cd, z.len() - 1] {
                let w = walk(&z[..cut], "s.zip");
                assert_eq!(w.chains(), ["a.bin", "eicar.com"], "{method} cut {cut}");
                assert_eq!(w.found[0].data, tricky, "{method}");
                assert_eq!(w.found[1].data, EICAR, "{method}");
                assert!(w.found.iter().all(|f| f.issue.is_none()), "{:?}", w.found);
                local_walk_issue(&w);
            }
            // The descriptor's CRC is checked for a compressed member.
            if method == 8 {
                let mut bad = z[..first_cd].to_vec();
                let d = memmem::find(&bad, DESCRIPTOR).unwrap();
                let at = memmem::find(&bad[d + 1..], DESCRIPTOR).unwrap() + d + 1;
                // The second descriptor: the first (in the data) is
                // a decoy only in the stored case.
                bad[at + 4] ^= 0xFF;
                let w = walk(&bad, "s.zip");
                let f = w.found.iter().find(|f| f.chain == "eicar.com").unwrap();
                assert!(f.issue.is_some() || f.data != EICAR, "{f:?}");
            }
        }
    }

    #[test]
    fn self_extracting_zip_without_its_end_is_found_in_an_executable() {
        let pe = crate::packers::testpe::pe(&[(b".text", 0x1000, &[0xCC; 700])], (0x1000, 0x200));
        for z in [
            make(&[("eicar.com", EICAR)], CompressionMethod::Deflated),
            streamed(&[("eicar.com", EICAR, 8)]),
            streamed(&[("eicar.com", EICAR, 0)]),
        ] {
            let mut sfx = pe.clone();
            sfx.extend_from_slice(&z);
            let eocd = memmem::rfind(&sfx, EOCD).unwrap();
            let cd = memmem::find(&sfx, CDH).unwrap();
            for d in [&sfx[..eocd + 17], &sfx[..eocd], &sfx[..cd]] {
                assert_eq!(identify(d), Some(Format::Zip));
                let w = walk(d, "setup.exe");
                assert_eq!(w.chains(), ["eicar.com"]);
                assert_eq!(w.found[0].data, EICAR);
                local_walk_issue(&w);
            }
            // Cut inside the member's data: no longer linked, so not
            // taken for a zip (an executable holding `PK\3\4` is common).
            assert_eq!(identify(&sfx[..cd - 20]), None);
        }
        // Executables holding zip signatures are not zips: the constant
        // in a zip reader's code (`cmp eax, 0x04034b50`), a header whose
        // sizes lead nowhere, a header with a NUL in its name.
        let mut code = vec![0x90u8; 64];
        code.extend_from_slice(b"\x3D\x50\x4B\x03\x04\x75\x10\x3D\x50\x4B\x01\x02");
        let lone = make(&[("x.txt", b"some text")], CompressionMethod::Stored);
        let cd = memmem::find(&lone, CDH).unwrap();
        let mut nul = lone[..cd].to_vec();
        nul[30] = 0;
        nul.extend_from_slice(&lone[cd..cd + 4]);
        for junk in [code, lone[..cd - 2].to_vec(), nul] {
            let mut d = pe.clone();
            d.extend_from_slice(&junk);
            d.extend_from_slice(&random_bytes(300, 7));
            assert_eq!(identify(&d), None, "{junk:?}");
        }
    }

    #[test]
    fn local_header_walk_truncation_sweep() {
        let text = b"plain text, ".repeat(30);
        let pe = crate::packers::testpe::pe(&[(b".text", 0x1000, &[0xCC; 100])], (0x1000, 0x200));
        let plain = make(
            &[("a.txt", &text), ("eicar.com", EICAR)],
            CompressionMethod::Deflated,
        );
        let stream = streamed(&[("a.txt", &text, 8), ("eicar.com", EICAR, 0)]);
        let mut sfx = pe.clone();
        sfx.extend_from_slice(&stream);
        for z in [plain, stream, sfx] {
            let end = memmem::find(&z, CDH).unwrap();
            for n in 0..z.len() {
                let w = walk(&z[..n], "z.zip");
                for f in &w.found {
                    if f.issue.is_none() {
                        assert!(f.data == text || f.data == EICAR, "cut {n}: {}", f.chain);
                    }
                }
                if n >= end {
                    assert!(
                        w.containing(EICAR).is_some(),
                        "cut at {n} of {}: {:?} {:?}",
                        z.len(),
                        w.found,
                        w.issues
                    );
                }
            }
        }
    }

    #[test]
    fn local_header_walk_bit_flips() {
        let text = b"plain text, ".repeat(30);
        let pe = crate::packers::testpe::pe(&[(b".text", 0x1000, &[0xCC; 100])], (0x1000, 0x200));
        let mut sfx = pe.clone();
        sfx.extend_from_slice(&streamed(&[("a.txt", &text, 8), ("eicar.com", EICAR, 8)]));
        let cut = memmem::find(&sfx, CDH).unwrap();
        let sfx = &sfx[..cut];
        let plain = make(
            &[("a.txt", &text), ("eicar.com", EICAR)],
            CompressionMethod::Deflated,
        );
        let plain = &plain[..memmem::rfind(&plain, EOCD).unwrap()];
        for z in [sfx, plain] {
            each_byte_flipped(z, &[0x01, 0x80], |d| {
                let w = walk(d, "z.zip");
                // Deflated members are CRC-checked: what comes out whole
                // is what went in.
                for f in &w.found {
                    if f.issue.is_none() {
                        assert!(f.data == text || f.data == EICAR, "{}", f.chain);
                    }
                }
            });
        }
    }

    /// Debian's `zip` as the writer: an archive and a streamed one (read
    /// from a pipe, so written with data descriptors), each cut before its
    /// end record and before its central directory, and a self-extracting
    /// one (`zip -A` over an executable stub) cut the same way.
    #[test]
    fn debian_zip_cut_short() {
        use std::process::{Command, Stdio};
        if Command::new("zip").arg("-v").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "CI must install zip");
            eprintln!("skipped: zip not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("eicar.com"), EICAR).unwrap();
        std::fs::write(p("readme.txt"), b"read me first\n".repeat(200)).unwrap();
        let run = |args: &[&str], stdin: Option<&[u8]>| {
            let mut c = Command::new("zip")
                .args(args)
                .current_dir(dir.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut input = c.stdin.take().unwrap();
            if let Some(s) = stdin {
                input.write_all(s).unwrap();
            }
            drop(input);
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "zip {args:?}");
            out.stdout
        };
        run(&["-q", "-X", "plain.zip", "readme.txt", "eicar.com"], None);
        let plain = std::fs::read(p("plain.zip")).unwrap();
        // `zip - -`: stdin in, the archive to stdout.
        let streamed = run(&["-q", "-X", "-", "-"], Some(EICAR));
        assert_ne!(u16_at(&streamed, 6).unwrap() & 8, 0, "descriptor expected");
        let pe = crate::packers::testpe::pe(&[(b".text", 0x1000, &[0xCC; 300])], (0x1000, 0x200));
        let mut sfx = pe;
        sfx.extend_from_slice(&plain);
        std::fs::write(p("sfx.exe"), &sfx).unwrap();
        run(&["-q", "-A", "sfx.exe"], None);
        let sfx = std::fs::read(p("sfx.exe")).unwrap();
        for (z, name) in [(&plain, "eicar.com"), (&streamed, "-"), (&sfx, "eicar.com")] {
            let w = walk(z, "z.zip");
            assert!(w.issues.is_empty(), "{:?}", w.issues);
            assert_eq!(w.containing(EICAR).unwrap().chain, name);
            let eocd = memmem::rfind(z, EOCD).unwrap();
            let cd = memmem::find(z, CDH).unwrap();
            for cut in [eocd + 10, eocd, cd] {
                let w = walk(&z[..cut], "z.zip");
                let f = w.containing(EICAR).unwrap_or_else(|| {
                    panic!(
                        "EICAR in {name} cut at {cut} of {}: {:?} {:?}",
                        z.len(),
                        w.chains(),
                        w.issues
                    )
                });
                assert_eq!(f.chain, name);
                assert_eq!(f.data, EICAR);
                local_walk_issue(&w);
            }
        }
    }

    /// ClamAV's `clam-wwpack.exe` (Debian `clamav-testfiles`): the image
    /// WWPack32's stub leaves holds `clam.exe` in a zip whose last 5 bytes
    /// (the end of its end record) the stub's in-place decompression
    /// overwrote; the local header still gives it.
    #[test]
    fn clamav_wwpack_image_holds_a_zip_without_its_end() {
        let path = "/usr/share/clamav-testfiles/clam-wwpack.exe";
        let Ok(d) = std::fs::read(path) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install clamav-testfiles"
            );
            eprintln!("skipped: {path} not installed");
            return;
        };
        let w = walk(&d, "clam-wwpack.exe");
        let f = w
            .found
            .iter()
            .find(|f| f.chain == "wwpack!clam.exe")
            .unwrap_or_else(|| panic!("{:?}", w.chains()));
        assert!(f.issue.is_none(), "{:?}", f.issue);
        assert_eq!(f.data.len(), 544);
        assert!(f.data.starts_with(b"MZ"));
        let image = &w.found.iter().find(|f| f.chain == "wwpack").unwrap().data;
        assert_eq!(identify(image), Some(Format::Zip));
        let issue = &w.issues.iter().find(|(c, _)| c == "wwpack").unwrap().1;
        assert_eq!(issue.kind, IssueKind::Corrupt);
        assert!(
            issue.message.contains("read from the local headers"),
            "{issue:?}"
        );
    }

    #[test]
    fn truncated_and_bit_flipped_do_not_panic() {
        let inner = make(&[("eicar.com", EICAR)], CompressionMethod::Deflated);
        let z = make(
            &[
                ("a.txt", &b"some text ".repeat(50)[..]),
                ("inner.zip", &inner),
            ],
            CompressionMethod::Deflated,
        );
        for n in 0..z.len() {
            let w = walk(&z[..n], "z.zip");
            let _ = (w.found.len(), w.issues.len());
        }
        each_byte_flipped(&z, &[0x01, 0x80], |flipped| {
            let _ = walk(flipped, "z.zip");
        });
        // A member whose data was cut is reported.
        let cut = &z[..z.len() / 2];
        let w = walk(cut, "z.zip");
        assert!(!w.issues.is_empty());
    }

    #[test]
    fn nested_bomb_is_bounded() {
        // 42.zip in small: 4 levels of 8 copies over 2 MiB of zeros
        // (8^4 * 2 MiB = 8 GiB in all).
        let zeros = vec![0u8; 2 << 20];
        let mut level = make(&[("0.bin", &zeros)], CompressionMethod::Deflated);
        for depth in 1..=4 {
            let names: Vec<String> = (0..8).map(|i| format!("{depth}-{i}.zip")).collect();
            let v: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &level[..])).collect();
            level = make(&v, CompressionMethod::Deflated);
        }
        let limits = Limits {
            max_expanded: 32 << 20,
            ..Limits::default()
        };
        let start = Instant::now();
        let w = walk_with(&level, "42.zip", &limits);
        assert!(start.elapsed() < Duration::from_secs(20));
        let leaves: u64 = w
            .found
            .iter()
            .filter(|f| f.chain.ends_with("0.bin"))
            .map(|f| f.data.len() as u64)
            .sum();
        assert!(leaves <= 32 << 20);
        assert!(leaves > 0);
        assert!(
            w.issues
                .iter()
                .any(|(_, i)| i.kind == IssueKind::Limit("max-scansize"))
                || w.found
                    .iter()
                    .any(|f| f.issue.as_ref().is_some_and(|i| i.is_global()))
        );
    }

    /// An overlapping-entry bomb in the manner of Fifield's zbsm: one local
    /// header and one deflate stream, and thousands of central directory
    /// entries that all point at it.
    #[test]
    fn overlapping_entries_are_bounded() {
        let single = make(&[("k", &vec![0u8; 1 << 20])], CompressionMethod::Deflated);
        let cd_at = memmem::rfind(&single, CDH).unwrap();
        let eocd_at = memmem::rfind(&single, EOCD).unwrap();
        let cd_entry = &single[cd_at..eocd_at];
        let name_len = usize::from(u16_at(cd_entry, 28).unwrap());
        assert_eq!(name_len, 1);
        let mut z = single[..cd_at].to_vec();
        let count = 20_000u32;
        let mut cd = Vec::new();
        for i in 0..count {
            let mut e = cd_entry.to_vec();
            let name = format!("{i:05}");
            e[28..30].copy_from_slice(&(name.len() as u16).to_le_bytes());
            e.splice(46..47, name.bytes());
            cd.extend_from_slice(&e);
        }
        let cd_offset = z.len() as u32;
        z.extend_from_slice(&cd);
        z.extend_from_slice(EOCD);
        z.extend_from_slice(&[0, 0, 0, 0]);
        z.extend_from_slice(&0xFFFFu16.to_le_bytes());
        z.extend_from_slice(&0xFFFFu16.to_le_bytes());
        z.extend_from_slice(&(cd.len() as u32).to_le_bytes());
        z.extend_from_slice(&cd_offset.to_le_bytes());
        z.extend_from_slice(&[0, 0]);
        assert!(detect(&z));
        let limits = Limits {
            max_expanded: 64 << 20,
            ..Limits::default()
        };
        let start = Instant::now();
        let w = walk_with(&z, "zbsm.zip", &limits);
        assert!(start.elapsed() < Duration::from_secs(20));
        let total: u64 = w.found.iter().map(|f| f.data.len() as u64).sum();
        assert!(total <= 64 << 20);
        assert!(w.found.len() <= 65);
        assert!(
            w.found
                .iter()
                .any(|f| f.issue.as_ref().is_some_and(|i| i.is_global()))
                || w.issues.iter().any(|(_, i)| i.is_global())
        );
    }

    #[test]
    fn no_false_positives() {
        let random = random_bytes(100_000, 0x1234_5678);
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(4096, 0);
        let text = b"PK is not a zip; neither is PK\x05\x06 in the middle of text.".repeat(10);
        for d in [&random[..], &elf, &text, b"", b"PK"] {
            assert!(!detect(d));
        }
        // A PDF that ends with a zip stays a PDF.
        let z = make(&[("a", b"b")], CompressionMethod::Stored);
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend_from_slice(&z);
        assert!(!detect(&pdf));
    }
}
