//! UPX-packed executables: PE (32 and 64-bit) and ELF.
//!
//! A packed PE keeps UPX's "pack header" in its header page: `UPX!`, the
//! header version, the target format, the compression method and level,
//! Adler-32 checksums of the compressed and uncompressed data, their
//! lengths, the original file's length, the filter and its parameter, and
//! a checksum of the header itself. The compressed image starts the
//! section after the empty `UPX0` one; it expands to the original
//! sections as they lie in memory, followed by the original PE header and
//! section table, whose offset the image's last four bytes give. From
//! those the original file is rebuilt: the packed file's DOS header, the
//! original PE header and section table, each section's bytes at its
//! original file offset, then whatever follows the packed file's last
//! section (its overlay, which UPX keeps as it is).
//!
//! A packed ELF has `l_info` (checksum, `UPX!`, loader size, version,
//! format) and `p_info` (program id, original file size, block size)
//! after its own headers, then blocks, each after a `b_info` (sizes,
//! method, filter and its parameter), ending with an empty block. The
//! blocks' contents are handed out one after the other.
//!
//! Before compressing, UPX runs the code through a "call trick" filter
//! that turns the relative targets of x86 calls and jumps into absolute
//! ones (they compress better). The filters reversed here are listed in
//! [`unfilter`]; with another filter the image is handed out as
//! decompressed, with a problem saying so.

use std::cell::Cell;
use std::io::Read;

use super::nrv::{self, Bits, Nrv, Stop};
use super::{be32, le16, le32, parse_pe};
use crate::{Ctx, Entry, Issue, RATIO_FLOOR, Sink};

/// The name of the unpacked image in the chain.
const MEMBER: &str = "upx";

/// Where UPX looks for its pack header in a PE: the header page (it sits
/// just before the first section's data).
const PE_HEADER_WINDOW: usize = 0x2000;
/// Where the ELF `l_info` is looked for: after the ELF headers and, in
/// some formats, the loader.
const ELF_INFO_WINDOW: usize = 0x1_0000;
/// Most blocks one ELF is unpacked from (UPX writes one per 512 KiB by
/// default, or one per segment).
const MAX_BLOCKS: usize = 1 << 16;

/// UPX's compression methods, by the number it stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Nrv(Nrv, Bits),
    Lzma,
    Deflate,
}

fn method(id: u8) -> Option<Method> {
    Some(match id {
        2 => Method::Nrv(Nrv::B, Bits::Le32),
        3 => Method::Nrv(Nrv::B, Bits::Byte),
        4 => Method::Nrv(Nrv::B, Bits::Le16),
        5 => Method::Nrv(Nrv::D, Bits::Le32),
        6 => Method::Nrv(Nrv::D, Bits::Byte),
        7 => Method::Nrv(Nrv::D, Bits::Le16),
        8 => Method::Nrv(Nrv::E, Bits::Le32),
        9 => Method::Nrv(Nrv::E, Bits::Byte),
        10 => Method::Nrv(Nrv::E, Bits::Le16),
        14 => Method::Lzma,
        15 => Method::Deflate,
        _ => return None,
    })
}

/// The 32-byte pack header of UPX 1.x and later (header version 10 and
/// up); older ones are not unpacked.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PackHeader {
    version: u8,
    format: u8,
    method: u8,
    u_adler: u32,
    c_adler: u32,
    u_len: u32,
    c_len: u32,
    u_file_size: u32,
    filter: u8,
    filter_cto: u8,
}

fn pack_header(h: &[u8]) -> Option<PackHeader> {
    let h = h.get(..32)?;
    if !h.starts_with(b"UPX!") || h[4] < 10 {
        return None;
    }
    // The last byte is the sum of the others after the magic, mod 251.
    let sum = h[4..31].iter().map(|&b| u32::from(b)).sum::<u32>() % 251;
    if sum != u32::from(h[31]) {
        return None;
    }
    Some(PackHeader {
        version: h[4],
        format: h[5],
        method: h[6],
        u_adler: le32(h, 8)?,
        c_adler: le32(h, 12)?,
        u_len: le32(h, 16)?,
        c_len: le32(h, 20)?,
        u_file_size: le32(h, 24)?,
        filter: h[28],
        filter_cto: h[29],
    })
}

/// The pack header of a UPX-packed PE, if `data` is one.
fn pe_pack_header(data: &[u8]) -> Option<PackHeader> {
    parse_pe(data)?;
    let window = data.get(..data.len().min(PE_HEADER_WINDOW))?;
    memchr::memmem::find_iter(window, b"UPX!").find_map(|at| pack_header(&data[at..]))
}

/// `l_info` and `p_info` of a UPX-packed ELF: where its first block
/// starts, whether its numbers are big-endian, the original file size.
#[derive(Debug)]
struct ElfInfo {
    blocks: usize,
    big: bool,
    file_size: u32,
}

fn elf_info(data: &[u8]) -> Option<ElfInfo> {
    if !data.starts_with(b"\x7FELF") {
        return None;
    }
    let big = match data.get(5)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let window = data.get(..data.len().min(ELF_INFO_WINDOW))?;
    memchr::memmem::find_iter(window, b"UPX!").find_map(|at| {
        // l_info: checksum, magic, loader size, version, format; then
        // p_info: program id, file size, block size; then the first b_info.
        let l_info = at.checked_sub(4)?;
        let p_info = l_info + 12;
        let word = |at: usize| if big { be32(data, at) } else { le32(data, at) };
        let file_size = word(p_info + 4)?;
        let block_size = word(p_info + 8)?;
        let blocks = p_info + 12;
        let first = block(data, blocks, big)?;
        (file_size > 0 && block_size > 0 && first.sz_unc > 0 && first.sz_unc <= file_size)
            .then_some(ElfInfo {
                blocks,
                big,
                file_size,
            })
    })
}

/// One `b_info` and the bytes it announces.
#[derive(Debug)]
struct Block {
    sz_unc: u32,
    sz_cpr: u32,
    method: u8,
    filter: u8,
    cto: u8,
}

/// The `b_info` at `at`, if it is plausible: an empty block (the end), or
/// a known method (or stored) and a compressed size no larger than the
/// uncompressed one.
fn block(data: &[u8], at: usize, big: bool) -> Option<Block> {
    let word = |at: usize| if big { be32(data, at) } else { le32(data, at) };
    let b = Block {
        sz_unc: word(at)?,
        sz_cpr: word(at + 4)?,
        method: *data.get(at + 8)?,
        filter: *data.get(at + 9)?,
        cto: *data.get(at + 10)?,
    };
    let ok = b.sz_unc == 0
        || (b.sz_cpr > 0
            && b.sz_cpr <= b.sz_unc
            && (b.sz_cpr == b.sz_unc || method(b.method).is_some()));
    ok.then_some(b)
}

pub(crate) fn detect(data: &[u8]) -> bool {
    pe_pack_header(data).is_some() || elf_info(data).is_some()
}

/// How much one unpacked image may hold: what it declares, within the
/// member size, the expansion budget and (past [`RATIO_FLOOR`]) the ratio
/// limit; and the problem to report if it is cut there.
fn output_cap(ctx: &Ctx, declared: u64, packed: u64) -> (u64, Option<Issue>) {
    let limits = ctx.limits();
    let mut cap = declared;
    let mut issue = None;
    if cap > limits.max_member_size {
        cap = limits.max_member_size;
        issue = Some(Issue::limit(
            "max-filesize",
            format!(
                "upx: the unpacked image of {declared} bytes is past the --max-filesize limit of {} bytes; only the first {cap} bytes were scanned",
                limits.max_member_size
            ),
        ));
    }
    if cap > ctx.budget_left() {
        cap = ctx.budget_left();
        issue = Some(crate::ctx::scansize_issue(limits.max_expanded));
    }
    let by_ratio = packed.saturating_mul(limits.max_ratio).max(RATIO_FLOOR);
    if limits.max_ratio > 0 && cap > by_ratio {
        cap = by_ratio;
        issue = Some(Issue::limit(
            "max-ratio",
            format!(
                "upx: {packed} packed bytes claim to unpack to {declared}, over the --max-ratio limit of {}:1; only the first {cap} bytes were scanned",
                limits.max_ratio
            ),
        ));
    }
    (cap, issue)
}

/// The result of decompressing one stream: its bytes, and why it is
/// incomplete if it is.
struct Unpacked {
    data: Vec<u8>,
    /// The stream was cut by the room given, not by damage.
    full: bool,
    corrupt: Option<String>,
}

/// Decompresses `src` with method `m` into at most `room` bytes of the
/// `u_len` it declares.
fn decompress(ctx: &mut Ctx, m: Method, src: &[u8], u_len: u64, room: u64) -> Unpacked {
    let want = u_len.min(room);
    let full = u_len > room;
    match m {
        Method::Nrv(nrv, bits) => {
            let d = nrv::decompress(src, nrv, bits, usize::try_from(want).unwrap_or(usize::MAX));
            let corrupt = match d.stop {
                Stop::End { .. } if (d.data.len() as u64) < want => Some(format!(
                    "the stream ends after {} of the {u_len} bytes it declares",
                    d.data.len()
                )),
                Stop::End { .. } => None,
                // Full at `want`: the declared size, or the room.
                Stop::Full if full => None,
                Stop::Full => Some(format!(
                    "the stream holds more than the {u_len} bytes it declares"
                )),
                Stop::Corrupt(why) => Some(why.to_string()),
            };
            Unpacked {
                data: d.data,
                full,
                corrupt,
            }
        }
        Method::Lzma => {
            // Two bytes of UPX's own before the raw LZMA data: (lc + lp)
            // << 3 | pb, then lp << 4 | lc.
            let (Some(&b0), Some(&b1)) = (src.first(), src.get(1)) else {
                return failed("the LZMA stream is cut short");
            };
            let (pb, lc, lp) = (b0 & 7, b1 & 15, b1 >> 4);
            if lc > 8 || lp > 4 || pb > 4 || b0 >> 3 != lc + lp {
                return failed("the LZMA properties are invalid");
            }
            let props = (pb * 5 + lp) * 9 + lc;
            // The dictionary never needs to be larger than the output.
            let dict = u32::try_from(want.max(1 << 12)).unwrap_or(u32::MAX);
            let packed = Cell::new(0);
            let input = crate::Counted::new(src.get(2..).unwrap_or(&[]), &packed);
            match lzma_rust2::LzmaReader::new_with_props(input, u_len, props, dict, None) {
                Ok(r) => read_limited(ctx, r, want, full, &packed),
                Err(e) => failed(&format!("cannot start LZMA decoding: {e}")),
            }
        }
        Method::Deflate => {
            let packed = Cell::new(0);
            let r = flate2::read::DeflateDecoder::new(crate::Counted::new(src, &packed));
            read_limited(ctx, r, want, full, &packed)
        }
    }
}

fn failed(why: &str) -> Unpacked {
    Unpacked {
        data: Vec::new(),
        full: false,
        corrupt: Some(why.to_string()),
    }
}

fn read_limited(
    ctx: &mut Ctx,
    r: impl Read,
    want: u64,
    full: bool,
    packed: &Cell<u64>,
) -> Unpacked {
    let e = ctx.expand(&mut r.take(want), packed);
    let corrupt = match e.cut {
        Some(issue) => Some(issue.message),
        None if (e.data.len() as u64) < want => Some(format!(
            "the stream ends after {} of the {want} bytes it declares",
            e.data.len()
        )),
        None => None,
    };
    Unpacked {
        data: e.data,
        full,
        corrupt,
    }
}

/// Reverses UPX's call-trick filter `id` (with parameter `cto`) over
/// `code`, where the filter was run on the code at offset `add` of the
/// image. Returns false for a filter not reversed here (`code` is left
/// as it is).
///
/// Reversed: 0x11-0x16, which store the absolute target of every `E8`
/// call (0x11, 0x14), `E9` jump (0x12, 0x15) or both (0x13, 0x16) in
/// little- (0x11-0x13) or big-endian (0x14-0x16) order; and 0x24-0x26,
/// which store it big-endian in 24 bits behind the marker byte `cto`
/// (`E8`, `E9`, both). The absolute target is counted from the byte after
/// the opcode, as the filter wrote it.
pub(crate) fn unfilter(code: &mut [u8], id: u8, cto: u8, add: u32) -> bool {
    let (e8, e9, big, marked) = match id {
        0 => return true,
        0x11 => (true, false, false, false),
        0x12 => (false, true, false, false),
        0x13 => (true, true, false, false),
        0x14 => (true, false, true, false),
        0x15 => (false, true, true, false),
        0x16 => (true, true, true, false),
        0x24 => (true, false, true, true),
        0x25 => (false, true, true, true),
        0x26 => (true, true, true, true),
        _ => return false,
    };
    let mut i = 0usize;
    while i + 5 < code.len() {
        let op = code[i];
        let hit = (op == 0xE8 && e8) || (op == 0xE9 && e9);
        if !hit || (marked && code[i + 1] != cto) {
            i += 1;
            continue;
        }
        let stored = [code[i + 1], code[i + 2], code[i + 3], code[i + 4]];
        let abs = if marked {
            u32::from_be_bytes(stored) & 0x00FF_FFFF
        } else if big {
            u32::from_be_bytes(stored)
        } else {
            u32::from_le_bytes(stored)
        };
        let rel = abs
            .wrapping_sub((i as u32).wrapping_add(1))
            .wrapping_sub(add);
        code[i + 1..i + 5].copy_from_slice(&rel.to_le_bytes());
        i += 5;
    }
    true
}

/// The filter problem, if `id` is not reversed.
fn unsupported_filter(id: u8) -> Issue {
    Issue::unsupported(format!(
        "upx: filter {id:#04x} is not reversed; the code's call and jump targets are left as UPX stored them (data and strings are intact)"
    ))
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    if let Some(ph) = pe_pack_header(data) {
        return extract_pe(data, &ph, ctx, sink);
    }
    match elf_info(data) {
        Some(info) => extract_elf(data, &info, ctx, sink),
        None => Err(Issue::corrupt("upx: no pack header found")),
    }
}

fn extract_pe(
    data: &[u8],
    ph: &PackHeader,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let Some(pe) = parse_pe(data) else {
        return Err(Issue::corrupt("upx: the PE headers are damaged"));
    };
    let Some(m) = method(ph.method) else {
        return Err(Issue::unsupported(format!(
            "upx: compression method {} is not unpacked",
            ph.method
        )));
    };
    // The image is unpacked to where the first (empty) section starts; the
    // compressed data starts the next section.
    let (Some(first), Some(packed)) = (pe.sections.first(), pe.sections.get(1)) else {
        return Err(Issue::corrupt("upx: the PE has fewer than two sections"));
    };
    let rvamin = first.va;
    let start = packed.raw_ptr as usize;
    let Some(src) = data
        .get(start..)
        .map(|s| &s[..s.len().min(ph.c_len as usize)])
    else {
        return Err(Issue::corrupt(
            "upx: the packed section lies past the end of the file",
        ));
    };
    let mut problems: Vec<String> = Vec::new();
    if src.len() < ph.c_len as usize {
        problems.push(format!(
            "the file is cut short: {} of {} compressed bytes",
            src.len(),
            ph.c_len
        ));
    } else if adler2::adler32_slice(src) != ph.c_adler {
        problems.push("the compressed data does not match its checksum".to_string());
    }
    let (cap, cap_issue) = output_cap(ctx, u64::from(ph.u_len), u64::from(ph.c_len));
    let mut u = decompress(ctx, m, src, u64::from(ph.u_len), cap);
    if let Some(why) = u.corrupt.take() {
        problems.push(why);
    } else if !u.full && adler2::adler32_slice(&u.data) != ph.u_adler {
        problems.push("the unpacked image does not match its checksum".to_string());
    }
    let mut image = u.data;
    let mut issue = if u.full {
        cap_issue
    } else {
        (!problems.is_empty()).then(|| Issue::corrupt(format!("upx: {}", problems.join("; "))))
    };
    if !u.full && image.len() == ph.u_len as usize {
        match rebuild_pe(data, &pe, &mut image, rvamin, ph) {
            Ok((rebuilt, filter_issue)) => {
                image = rebuilt;
                if let Some(f) = filter_issue {
                    issue.get_or_insert(f);
                }
            }
            Err(why) => {
                issue.get_or_insert(why);
            }
        }
    }
    if image.is_empty() {
        let why = issue.unwrap_or_else(|| Issue::corrupt("upx: nothing could be unpacked"));
        return Err(why);
    }
    sink(
        ctx,
        Entry {
            name: MEMBER.to_string(),
            data: image.into(),
            issue,
        },
    );
    Ok(())
}

/// Rebuilds the original PE from the unpacked `image` (which starts at
/// address `rvamin`): unfilters its code, then lays out the packed file's
/// DOS header, the original PE header and section table stored at the end
/// of the image, and each section at its original file offset. Returns
/// the problem that stopped the rebuild (the image is then handed out as
/// it is) or the rebuilt file, with the problem of a filter not reversed.
fn rebuild_pe(
    packed: &[u8],
    pe: &super::Pe,
    image: &mut [u8],
    rvamin: u32,
    ph: &PackHeader,
) -> Result<(Vec<u8>, Option<Issue>), Issue> {
    let bad = |why: &str| {
        Issue::corrupt(format!(
            "upx: {why}; the unpacked image is handed out as it lies in memory, not rebuilt as a PE"
        ))
    };
    let len = image.len();
    let skip =
        le32(image, len.saturating_sub(4)).ok_or_else(|| bad("the image is too short"))? as usize;
    let header = image
        .get(skip..)
        .ok_or_else(|| bad("the original header lies outside the image"))?;
    if !header.starts_with(b"PE\0\0") {
        return Err(bad("the original PE header is not where the image says"));
    }
    let count =
        usize::from(le16(header, 6).ok_or_else(|| bad("the original header is cut short"))?);
    let opt_size =
        usize::from(le16(header, 20).ok_or_else(|| bad("the original header is cut short"))?);
    if count == 0 || count > super::MAX_SECTIONS {
        return Err(bad("the original header has an impossible section count"));
    }
    let header_len = 24 + opt_size + count * 40;
    let header = header
        .get(..header_len)
        .ok_or_else(|| bad("the original section table is cut short"))?
        .to_vec();
    let opt = 24;
    let size_of_code = le32(&header, opt + 4).unwrap_or(0);
    let base_of_code = le32(&header, opt + 20).unwrap_or(0);
    let size_of_headers = le32(&header, opt + 60).unwrap_or(0) as usize;

    let mut filter_issue = None;
    if ph.filter != 0 {
        let from = base_of_code.wrapping_sub(rvamin) as usize;
        let to = from.saturating_add(size_of_code as usize).min(skip);
        match image.get_mut(from..to) {
            Some(code) => {
                if !unfilter(code, ph.filter, ph.filter_cto, from as u32) {
                    filter_issue = Some(unsupported_filter(ph.filter));
                }
            }
            None => filter_issue = Some(unsupported_filter(ph.filter)),
        }
    }

    // The rebuilt file holds no more than the image, the headers and the
    // alignment of each section: anything larger is a lie of the header.
    let limit = len
        .saturating_add(size_of_headers.min(1 << 20))
        .saturating_add(count * 0x1_0000);
    let mut out = packed.get(..pe.lfanew).unwrap_or(&[]).to_vec();
    out.extend_from_slice(&header);
    if size_of_headers > out.len() && size_of_headers <= limit {
        out.resize(size_of_headers, 0);
    }
    for i in 0..count {
        let at = 24 + opt_size + i * 40;
        let (Some(vsize), Some(va), Some(raw_size), Some(raw_ptr)) = (
            le32(&header, at + 8),
            le32(&header, at + 12),
            le32(&header, at + 16),
            le32(&header, at + 20),
        ) else {
            return Err(bad("the original section table is cut short"));
        };
        if raw_size == 0 {
            continue;
        }
        let (raw_ptr, raw_size) = (raw_ptr as usize, raw_size as usize);
        let end = raw_ptr.saturating_add(raw_size);
        if end > limit {
            return Err(bad(
                "an original section lies past any size the image could fill",
            ));
        }
        if out.len() < end {
            out.resize(end, 0);
        }
        // The section's bytes in memory, as far as the image (before the
        // stored header) holds them.
        let from = va.wrapping_sub(rvamin) as usize;
        let take = raw_size.min(vsize.max(raw_size as u32) as usize);
        if let Some(bytes) = image.get(from..from.saturating_add(take).min(skip)) {
            out[raw_ptr..raw_ptr + bytes.len()].copy_from_slice(bytes);
        }
    }
    // What follows the packed file's last section (an installer's
    // payload, a self-extractor's archive) is the original's, kept as is.
    if let Some(overlay) = packed.get(super::pe_extent(packed, pe)..) {
        out.extend_from_slice(overlay);
    }
    Ok((out, filter_issue))
}

fn extract_elf(
    data: &[u8],
    info: &ElfInfo,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let (cap, cap_issue) = output_cap(ctx, u64::from(info.file_size), data.len() as u64);
    let mut out: Vec<u8> = Vec::new();
    let mut issue: Option<Issue> = None;
    let mut at = info.blocks;
    let mut ended = false;
    for _ in 0..MAX_BLOCKS {
        if let Err(e) = ctx.check_time() {
            issue = Some(e);
            break;
        }
        // UPX aligns some blocks to 4 bytes.
        let Some((b, here)) = block(data, at, info.big).map(|b| (b, at)).or_else(|| {
            let aligned = at.next_multiple_of(4);
            block(data, aligned, info.big).map(|b| (b, aligned))
        }) else {
            issue = Some(Issue::corrupt(format!(
                "upx: no valid block header at offset {at}"
            )));
            break;
        };
        if b.sz_unc == 0 {
            ended = true;
            break;
        }
        let from = here + 12;
        let Some(src) = data.get(from..from.saturating_add(b.sz_cpr as usize)) else {
            issue = Some(Issue::corrupt(format!(
                "upx: the file is cut short inside the block at offset {here}"
            )));
            break;
        };
        at = from + src.len();
        let room = cap - out.len() as u64;
        let mut u = if b.sz_cpr == b.sz_unc {
            // Stored: UPX keeps a block that does not shrink as it is.
            let n = src.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            Unpacked {
                data: src[..n].to_vec(),
                full: n < src.len(),
                corrupt: None,
            }
        } else {
            match method(b.method) {
                Some(m) => decompress(ctx, m, src, u64::from(b.sz_unc), room),
                None => failed("unknown compression method"),
            }
        };
        if b.filter != 0
            && b.sz_cpr != b.sz_unc
            && !u.full
            && u.corrupt.is_none()
            && !unfilter(&mut u.data, b.filter, b.cto, 0)
        {
            issue.get_or_insert(unsupported_filter(b.filter));
        }
        out.extend_from_slice(&u.data);
        if u.full {
            issue = cap_issue.clone();
            break;
        }
        if let Some(why) = u.corrupt {
            issue = Some(Issue::corrupt(format!(
                "upx: block at offset {here}: {why}"
            )));
            break;
        }
    }
    if !ended && issue.is_none() {
        issue = Some(Issue::corrupt(format!(
            "upx: more than {MAX_BLOCKS} blocks; the rest were not unpacked"
        )));
    }
    if out.is_empty() {
        return Err(issue.unwrap_or_else(|| Issue::corrupt("upx: no block to unpack")));
    }
    sink(
        ctx,
        Entry {
            name: MEMBER.to_string(),
            data: out.into(),
            issue,
        },
    );
    Ok(())
}

#[cfg(test)]
pub(crate) mod testupx {
    //! UPX-style packed files built for tests, with our own NRV and the
    //! lzma-rust2 encoders.
    use super::super::nrv::{Bits, Nrv, encode};
    use super::super::parse_pe;

    /// The filter UPX runs before compressing (0x26: `E8`/`E9`, target
    /// big-endian in 24 bits behind `cto`), for targets inside the code.
    pub(crate) fn filter_26(code: &mut [u8], cto: u8, add: u32) {
        let mut i = 0;
        while i + 5 < code.len() {
            if matches!(code[i], 0xE8 | 0xE9) {
                let rel = u32::from_le_bytes(code[i + 1..i + 5].try_into().unwrap());
                let abs = rel.wrapping_add(i as u32 + 1).wrapping_add(add);
                if abs < 1 << 24 {
                    code[i + 1..i + 5].copy_from_slice(&(abs | u32::from(cto) << 24).to_be_bytes());
                    i += 5;
                    continue;
                }
            }
            i += 1;
        }
    }

    fn lzma(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut opts = lzma_rust2::LzmaOptions::with_preset(6);
        opts.lc = 3;
        opts.lp = 0;
        opts.pb = 2;
        let mut out = vec![(3 << 3) | 2, 3];
        let mut w = lzma_rust2::LzmaWriter::new_no_header(&mut out, &opts, false).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
        out
    }

    /// Packs the PE `original` as UPX lays it out: the sections as in
    /// memory from the first one's address, the original PE header and
    /// section table after them and their offset last, compressed with
    /// `method` (2-10 NRV, 14 LZMA) into the second of two sections
    /// `UPX0` and `UPX1`, the pack header in the header page.
    pub(crate) fn pack_pe(original: &[u8], method: u8, filter: u8) -> Vec<u8> {
        let pe = parse_pe(original).unwrap();
        let rvamin = pe.sections[0].va;
        let end = pe.sections.iter().map(|s| s.va + s.raw_size).max().unwrap();
        let mut image = vec![0u8; (end - rvamin) as usize];
        for s in &pe.sections {
            let from = (s.va - rvamin) as usize;
            let raw = &original[s.raw_ptr as usize..(s.raw_ptr + s.raw_size) as usize];
            image[from..from + raw.len()].copy_from_slice(raw);
        }
        let opt = pe.lfanew + 24;
        if filter == 0x26 {
            let base = u32::from_le_bytes(original[opt + 20..opt + 24].try_into().unwrap());
            let size = u32::from_le_bytes(original[opt + 4..opt + 8].try_into().unwrap());
            let from = (base - rvamin) as usize;
            filter_26(&mut image[from..from + size as usize], 0x33, from as u32);
        }
        let skip = image.len() as u32;
        let opt_size = u16::from_le_bytes([original[pe.lfanew + 20], original[pe.lfanew + 21]]);
        let hdr_len = 24 + usize::from(opt_size) + pe.sections.len() * 40;
        image.extend_from_slice(&original[pe.lfanew..pe.lfanew + hdr_len]);
        image.extend_from_slice(&skip.to_le_bytes());
        let (nrv, bits) = match method {
            2 => (Nrv::B, Bits::Le32),
            3 => (Nrv::B, Bits::Byte),
            4 => (Nrv::B, Bits::Le16),
            5 => (Nrv::D, Bits::Le32),
            6 => (Nrv::D, Bits::Byte),
            7 => (Nrv::D, Bits::Le16),
            8 => (Nrv::E, Bits::Le32),
            9 => (Nrv::E, Bits::Byte),
            _ => (Nrv::E, Bits::Le16),
        };
        let packed = if method == 14 {
            lzma(&image)
        } else {
            encode::compress(&image, nrv, bits)
        };
        let upx1 = packed.len().div_ceil(0x200) * 0x200;
        let mut f = super::super::testpe::pe(
            &[(b"UPX0", rvamin, &[]), (b"UPX1", rvamin + end, &packed)],
            (0, 0),
        );
        // The DOS header and stub are the original's.
        f[..pe.lfanew].copy_from_slice(&original[..pe.lfanew]);
        assert_eq!(f.len(), 0x400 + upx1);
        let mut h = b"UPX!".to_vec();
        h.extend_from_slice(&[13, 9, method, 8]);
        h.extend_from_slice(&adler2::adler32_slice(&image).to_le_bytes());
        h.extend_from_slice(&adler2::adler32_slice(&packed).to_le_bytes());
        h.extend_from_slice(&(image.len() as u32).to_le_bytes());
        h.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        h.extend_from_slice(&(original.len() as u32).to_le_bytes());
        h.extend_from_slice(&[filter, 0x33, 0]);
        let sum = h[4..].iter().map(|&b| u32::from(b)).sum::<u32>() % 251;
        h.push(sum as u8);
        f[0x3E0..0x400].copy_from_slice(&h);
        f
    }

    /// A UPX-style packed ELF: an ELF header, `l_info`, `p_info`, one
    /// block per `chunk` bytes of `original` with `method`, the end block.
    pub(crate) fn pack_elf(original: &[u8], method: u8, chunk: usize) -> Vec<u8> {
        let mut f = vec![0u8; 0x40];
        f[..4].copy_from_slice(b"\x7FELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(b"UPX!");
        f.extend_from_slice(&[0x00, 0x10, 13, 22]);
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(original.len() as u32).to_le_bytes());
        f.extend_from_slice(&(chunk as u32).to_le_bytes());
        for part in original.chunks(chunk) {
            let mut packed = match method {
                14 => lzma(part),
                5 => encode::compress(part, Nrv::D, Bits::Le32),
                8 => encode::compress(part, Nrv::E, Bits::Le32),
                _ => encode::compress(part, Nrv::B, Bits::Le32),
            };
            if packed.len() >= part.len() {
                packed = part.to_vec();
            }
            f.extend_from_slice(&(part.len() as u32).to_le_bytes());
            f.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            f.extend_from_slice(&[method, 0, 0, 0]);
            f.extend_from_slice(&packed);
        }
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(b"UPX!");
        f.extend_from_slice(&[0; 4]);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::testupx::{filter_26, pack_elf, pack_pe};
    use super::*;
    use crate::packers::testpe::pe;
    use crate::testutil::{EICAR, each_byte_flipped, random_bytes, random_flips, walk, walk_with};
    use crate::{Format, IssueKind, Limits, identify};

    /// Code with calls and jumps to each other, data with EICAR and
    /// another PE in it.
    fn original() -> Vec<u8> {
        let mut code = Vec::new();
        for i in 0..300u32 {
            code.push(0x55);
            code.push(if i % 3 == 0 { 0xE9 } else { 0xE8 });
            let target = (i * 37) % 900;
            let rel = target.wrapping_sub(code.len() as u32 + 4);
            code.extend_from_slice(&rel.to_le_bytes());
            code.extend_from_slice(&[0x83, 0xC4, 0x08, 0xC3]);
        }
        let inner = pe(&[(b".text", 0x1000, EICAR)], (0x1000, 0x200));
        let mut data = b"strings of the program ".repeat(40);
        data.extend_from_slice(&inner);
        pe(
            &[
                (b".text", 0x1000, &code),
                (b".data", 0x2000, &data),
                (b".bss", 0x4000, &[]),
            ],
            (0x1000, code.len() as u32),
        )
    }

    #[test]
    fn every_method_unpacks_to_the_original_pe() {
        let orig = original();
        for method in [2, 3, 4, 5, 6, 7, 8, 9, 10, 14] {
            for filter in [0, 0x26] {
                let packed = pack_pe(&orig, method, filter);
                assert_eq!(identify(&packed), Some(Format::Upx), "{method}");
                let w = walk(&packed, "dropper.exe");
                assert_eq!(w.found[0].chain, "upx", "{method}");
                assert!(
                    w.found[0].issue.is_none(),
                    "{method}: {:?}",
                    w.found[0].issue
                );
                assert!(
                    w.found[0].data == orig,
                    "method {method} filter {filter:#x}"
                );
                // The PE inside the data section, then EICAR in it.
                assert_eq!(w.chains(), ["upx", "upx!pe@0x1398"]);
                assert!(w.found[1].data.windows(EICAR.len()).any(|x| x == EICAR));
            }
        }
    }

    #[test]
    fn the_filter_is_reversed_where_it_was_applied() {
        let mut code = random_bytes(5000, 9);
        for i in (0..4900).step_by(50) {
            code[i] = 0xE8;
            code[i + 1..i + 5].copy_from_slice(&(100u32.wrapping_sub(i as u32)).to_le_bytes());
        }
        let mut filtered = code.clone();
        filter_26(&mut filtered, 0x7A, 0x400);
        assert_ne!(filtered, code);
        let mut back = filtered.clone();
        assert!(unfilter(&mut back, 0x26, 0x7A, 0x400));
        // A random E8/E9 followed by the marker byte would be taken for a
        // filtered one, as UPX's own loader does; this data has none.
        assert_eq!(back, code);
        assert!(!unfilter(&mut back, 0x49, 0, 0));
    }

    #[test]
    fn an_unknown_filter_is_reported_and_the_rest_kept() {
        let orig = original();
        let mut packed = pack_pe(&orig, 2, 0);
        // Claim filter 0x49 and fix the header checksum.
        packed[0x3E0 + 28] = 0x49;
        let sum = packed[0x3E4..0x3FF]
            .iter()
            .map(|&b| u32::from(b))
            .sum::<u32>()
            % 251;
        packed[0x3FF] = sum as u8;
        let w = walk(&packed, "x.exe");
        let issue = w.found[0].issue.as_ref().unwrap();
        assert_eq!(issue.kind, IssueKind::Unsupported);
        assert!(issue.message.contains("0x49"), "{issue:?}");
        assert!(w.containing(EICAR).is_some());
    }

    #[test]
    fn elf_blocks_unpack_in_order() {
        let mut orig = b"\x7FELF\x02\x01\x01".to_vec();
        orig.extend_from_slice(&b"an ELF program ".repeat(3000));
        orig.extend_from_slice(&random_bytes(3000, 4));
        orig.extend_from_slice(EICAR);
        for method in [2, 5, 8, 14] {
            let packed = pack_elf(&orig, method, 8192);
            assert_eq!(identify(&packed), Some(Format::Upx));
            let w = walk(&packed, "a.out");
            assert_eq!(w.found[0].chain, "upx");
            assert!(w.found[0].issue.is_none(), "{:?}", w.found[0].issue);
            assert!(w.found[0].data == orig, "{method}");
        }
    }

    #[test]
    fn a_declared_size_is_never_trusted_past_the_limits() {
        let orig = original();
        let mut packed = pack_pe(&orig, 2, 0);
        // Claim 3 GiB unpacked and fix the header checksum.
        packed[0x3E0 + 16..0x3E0 + 20].copy_from_slice(&(3u32 << 30).to_le_bytes());
        let sum = packed[0x3E4..0x3FF]
            .iter()
            .map(|&b| u32::from(b))
            .sum::<u32>()
            % 251;
        packed[0x3FF] = sum as u8;
        let limits = Limits {
            max_member_size: 4096,
            ..Limits::default()
        };
        let w = walk_with(&packed, "x.exe", &limits);
        assert_eq!(w.found[0].data.len(), 4096);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-filesize")
        );
        // Under the default limits the ratio stops it: the stream ends
        // long before, as corrupt.
        let w = walk(&packed, "x.exe");
        assert!(w.found[0].data.len() < 1 << 20);
        assert!(w.found[0].issue.is_some());
    }

    #[test]
    fn truncated_and_damaged_files_never_panic() {
        let orig = original();
        for method in [2, 8, 14] {
            let packed = pack_pe(&orig, method, 0x26);
            for cut in (0..packed.len()).step_by(7) {
                let w = walk(&packed[..cut], "x.exe");
                for f in &w.found {
                    assert!(f.data.len() <= 1 << 20);
                }
            }
            random_flips(&packed, method.into(), 300, 3, |d| {
                let _ = walk(d, "x.exe");
            });
        }
        let elf = pack_elf(&b"0123456789".repeat(500), 2, 1000);
        each_byte_flipped(&elf, &[0x01, 0x80], |d| {
            let _ = walk(d, "a.out");
        });
        for cut in 0..elf.len() {
            let _ = walk(&elf[..cut], "a.out");
        }
    }

    #[test]
    fn a_damaged_stream_is_reported() {
        let orig = original();
        let mut packed = pack_pe(&orig, 2, 0);
        packed[0x500] ^= 0x55;
        let w = walk(&packed, "x.exe");
        let issue = w
            .found
            .first()
            .and_then(|f| f.issue.clone())
            .or_else(|| w.issues.first().map(|i| i.1.clone()));
        assert_eq!(issue.unwrap().kind, IssueKind::Corrupt);
    }

    /// ClamAV's `clam-upx.exe` (Debian `clamav-testfiles`; skipped when
    /// not installed, the end-to-end test requires it under CI).
    #[test]
    fn clamav_clam_upx_exe_unpacks() {
        let dir = std::path::Path::new("/usr/share/clamav-testfiles");
        let (Ok(packed), Ok(clam)) = (
            std::fs::read(dir.join("clam-upx.exe")),
            std::fs::read(dir.join("clam.exe")),
        ) else {
            eprintln!("skipped: clamav-testfiles not installed");
            return;
        };
        let w = walk(&packed, "clam-upx.exe");
        let image = &w.found[0];
        assert_eq!(image.chain, "upx");
        assert!(image.issue.is_none(), "{:?}", image.issue);
        // The original file's length, from the pack header.
        assert_eq!(image.data.len(), 6656);
        // Filter 0x26 reversed: the call at .text+0x35 goes to the
        // function at +0xC4 again (relative 0x8A from the next opcode).
        assert_eq!(image.data[0x400 + 0x35], 0xE8);
        assert_eq!(le32(&image.data, 0x400 + 0x36), Some(0x8A));
        assert_eq!(w.found[1].chain, "upx!pe@0x17e0");
        assert!(w.found[1].data == clam);
    }
}
