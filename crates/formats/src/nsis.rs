//! NSIS installers (Nullsoft Scriptable Install System, versions 2 and 3).
//!
//! An installer is the NSIS stub (a PE) followed, at a 512-byte boundary,
//! by the "first header": flags, the signature `0xDEADBEEF`,
//! `NullsoftInst`, the size of the script header once expanded and the
//! size of everything from the first header to the end of the archive
//! (its CRC32 included unless the flags say there is none). After it come
//! either
//!
//! * non-solid blocks: the script header, then every file, each behind a
//!   little-endian `u32` length whose top bit says "compressed", each
//!   compressed on its own; or
//! * one solid stream holding the same sequence (lengths without the top
//!   bit) compressed as a whole.
//!
//! The compressor is not recorded; it is told from the first bytes of the
//! compressed data, as the NSIS stub does at run time: LZMA (five bytes of
//! properties, raw LZMA, optionally behind an x86 BCJ filter flag), NSIS's
//! bzip2 (a bzip2 without its stream header, CRCs or randomisation, see
//! [`bz`]), or raw deflate.
//!
//! Members are the script header, named `[NSIS].nsi` as ClamAV names it,
//! and every file block. Files are named from the script's
//! `File` instructions (`EW_EXTRACTFILE`) where the header can be read,
//! else `data@OFFSET`, the offset of the block in the data section (which
//! is what those instructions refer to).
//!
//! The CRC32 is not checked: a damaged installer is unpacked as far as it
//! goes, and what is damaged is reported.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::Read;

mod bz;
mod script;

use crate::{Counted, Ctx, Entry, Flow, Issue, IssueKind, Sink};

/// `siginfo` of the first header.
const SIGINFO: [u8; 4] = 0xDEAD_BEEFu32.to_le_bytes();
/// The magic after it.
const MAGIC: &[u8; 12] = b"NullsoftInst";
/// Flags, siginfo, magic, header size, archive size.
const FIRST_HEADER_LEN: usize = 28;
/// The first header's flags that exist (uninstaller, silent, no CRC,
/// forced CRC); others mean this is not a first header.
const FLAGS_KNOWN: u32 = 0xF;
/// `FH_FLAGS_NO_CRC`: the archive ends without a CRC32.
const FLAG_NO_CRC: u32 = 4;
/// The top bit of a non-solid block's length: the block is compressed.
const COMPRESSED: u32 = 0x8000_0000;

/// The first header and where it is.
#[derive(Debug, Clone, Copy)]
struct FirstHeader {
    /// Offset of the first header in the file.
    at: usize,
    flags: u32,
    /// Size of the script header once expanded.
    header_len: u32,
    /// Bytes from the first header to the end of the archive.
    archive_len: u32,
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The first header at a 512-byte boundary after the stub, as the NSIS
/// stub looks for it.
fn first_header(data: &[u8]) -> Option<FirstHeader> {
    if !data.starts_with(b"MZ") {
        return None;
    }
    (512..data.len()).step_by(512).find_map(|at| {
        let h = data.get(at..at + FIRST_HEADER_LEN)?;
        if h[4..8] != SIGINFO || &h[8..20] != MAGIC {
            return None;
        }
        let flags = u32_at(h, 0)?;
        let header_len = u32_at(h, 20)?;
        let archive_len = u32_at(h, 24)?;
        (flags & !FLAGS_KNOWN == 0
            && header_len > 0
            && archive_len as usize >= FIRST_HEADER_LEN + 4)
            .then_some(FirstHeader {
                at,
                flags,
                header_len,
                archive_len,
            })
    })
}

pub(crate) fn detect(data: &[u8]) -> bool {
    first_header(data).is_some()
}

/// How the blocks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Deflate,
    Bzip2,
    /// LZMA; `filter` is `Some(x86)` when a BCJ filter flag byte comes
    /// first (`Some(true)`: the x86 filter is on).
    Lzma {
        filter: Option<bool>,
    },
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Deflate => "deflate",
            Method::Bzip2 => "bzip2",
            Method::Lzma { .. } => "LZMA",
        }
    }
}

/// Five bytes of LZMA properties as NSIS writes them (lc=3, lp=0, pb=2, a
/// dictionary of whole 64 KiB units), then the range coder's first byte,
/// which is always zero.
fn is_lzma(b: &[u8]) -> bool {
    b.len() >= 6 && b[0] == 0x5D && b[1] == 0 && b[5] == 0
}

/// NSIS's bzip2 block start (`0x31`), then the top byte of a 24-bit BWT
/// origin below 900,000.
fn is_bzip2(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] == 0x31 && b[1] < 14
}

/// The compressor of a stream starting with `b`.
fn method_of(b: &[u8]) -> Method {
    if is_lzma(b) {
        Method::Lzma { filter: None }
    } else if b.len() >= 7 && b[0] <= 1 && is_lzma(&b[1..]) {
        Method::Lzma {
            filter: Some(b[0] == 1),
        }
    } else if is_bzip2(b) {
        Method::Bzip2
    } else {
        Method::Deflate
    }
}

/// A decoder of `packed`, compressed with `method`, counting the packed
/// bytes it consumes into `count`.
fn decoder<'a>(
    method: Method,
    packed: &'a [u8],
    count: &'a Cell<u64>,
    ctx: &Ctx,
) -> Result<Box<dyn Read + 'a>, Issue> {
    match method {
        Method::Deflate => Ok(Box::new(flate2::read::DeflateDecoder::new(Counted::new(
            packed, count,
        )))),
        Method::Bzip2 => Ok(Box::new(bz::Decoder::new(Counted::new(packed, count)))),
        Method::Lzma { filter } => {
            let skip = usize::from(filter.is_some());
            let props = packed.get(skip..skip + 5).ok_or_else(|| {
                Issue::corrupt("nsis: an LZMA block is cut short before its properties")
            })?;
            let dict = u32::from_le_bytes([props[1], props[2], props[3], props[4]]);
            // Output stops at the member size limit: a larger dictionary
            // would never be filled, so it is not allocated.
            let cap = u32::try_from(ctx.limits().max_member_size.max(1 << 12)).unwrap_or(u32::MAX);
            let dict = dict.clamp(1 << 12, cap);
            let rest = packed.get(skip + 5..).unwrap_or(&[]);
            count.set(count.get() + (skip + 5) as u64);
            let reader = lzma_rust2::LzmaReader::new_with_props(
                Counted::new(rest, count),
                u64::MAX,
                props[0],
                dict,
                None,
            )
            .map_err(|e| Issue::corrupt(format!("nsis: bad LZMA properties: {e}")))?;
            if filter == Some(true) {
                Ok(Box::new(lzma_rust2::filter::bcj::BcjReader::new_x86(
                    reader, 0,
                )))
            } else {
                Ok(Box::new(reader))
            }
        }
    }
}

/// Name of the script header member, as ClamAV names it.
pub(crate) const HEADER_NAME: &str = "[NSIS].nsi";

/// The layout found: solid or not, and the compressor.
#[derive(Debug, Clone, Copy)]
struct Layout {
    solid: bool,
    /// `None`: the non-solid header block is stored.
    method: Option<Method>,
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let Some(fh) = first_header(data) else {
        return Err(Issue::corrupt("nsis: no first header after the stub"));
    };
    let start = fh.at + FIRST_HEADER_LEN;
    // The archive ends where the first header says, before its CRC32; a
    // truncated installer ends at the end of the file.
    let declared_end = fh.at.saturating_add(fh.archive_len as usize);
    let truncated = declared_end > data.len();
    let end = if truncated {
        data.len()
    } else if fh.flags & FLAG_NO_CRC == 0 {
        declared_end - 4
    } else {
        declared_end
    };
    let body = data.get(start..end).unwrap_or(&[]);
    let result = match layout(body, fh.header_len) {
        Layout {
            solid: true,
            method: Some(method),
        } => solid(body, method, fh, ctx, sink),
        l => blocks(body, l.method, fh, ctx, sink),
    };
    match result {
        Ok(()) if truncated => Err(Issue::corrupt(format!(
            "nsis: truncated: the archive needs {} bytes, the file ends after {}",
            declared_end,
            data.len()
        ))),
        r => r,
    }
}

/// Tells solid from non-solid from the first bytes after the first
/// header. A non-solid archive starts with the header block's length: the
/// expanded size itself when stored, else the compressed size with the top
/// bit set and a compressed stream after it. Solid LZMA is tried first
/// because its properties (`5D 00 00 xx`) read as a length with the top
/// bit set when `xx` is `0x80`.
fn layout(body: &[u8], header_len: u32) -> Layout {
    let Some(first) = u32_at(body, 0) else {
        return Layout {
            solid: false,
            method: None,
        };
    };
    let rest = body.get(4..).unwrap_or(&[]);
    if first == header_len {
        Layout {
            solid: false,
            method: None,
        }
    } else if is_lzma(body) || (body.len() >= 7 && body[0] <= 1 && is_lzma(&body[1..])) {
        Layout {
            solid: true,
            method: Some(method_of(body)),
        }
    } else if first & COMPRESSED != 0 && (first & !COMPRESSED) as usize <= rest.len() {
        Layout {
            solid: false,
            method: Some(method_of(rest)),
        }
    } else {
        Layout {
            solid: true,
            method: Some(method_of(body)),
        }
    }
}

/// Expands the script header from `decoder` and hands it out; returns it
/// (for the file names) unless the sink asked to stop.
fn header_entry(
    decoder: &mut dyn Read,
    packed: &Cell<u64>,
    fh: FirstHeader,
    method: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Option<Vec<u8>> {
    let mut expanded = ctx.expand(decoder, packed);
    if expanded.cut.is_none() && expanded.data.len() as u64 != u64::from(fh.header_len) {
        expanded.cut = Some(Issue::corrupt(format!(
            "nsis: the script header expands to {} bytes, the first header says {}",
            expanded.data.len(),
            fh.header_len
        )));
    }
    if let Some(cut) = &mut expanded.cut
        && !cut.message.starts_with("nsis:")
    {
        cut.message = format!("nsis: script header ({method}): {}", cut.message);
    }
    let header = expanded.data.clone();
    match sink(ctx, Entry::expanded(HEADER_NAME, expanded)) {
        Flow::Continue => Some(header),
        Flow::Stop => None,
    }
}

/// Non-solid: every block behind its own length.
fn blocks(
    body: &[u8],
    method: Option<Method>,
    fh: FirstHeader,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut at = 0usize;
    let mut names: Option<HashMap<u32, String>> = None;
    let mut index = 0usize;
    let mut data_start = 0usize;
    while at < body.len() {
        ctx.check_time()?;
        ctx.check_budget()?;
        let Some(len) = u32_at(body, at) else {
            return Err(Issue::corrupt(format!(
                "nsis: a block length at offset {at} of the data is cut short"
            )));
        };
        let compressed = len & COMPRESSED != 0;
        let size = (len & !COMPRESSED) as usize;
        let from = at + 4;
        let to = from.saturating_add(size);
        let packed = body.get(from..to.min(body.len())).unwrap_or(&[]);
        let short = to > body.len();
        let is_header = index == 0;
        index += 1;
        // The data section, which the script's offsets count from, starts
        // after the header block.
        if is_header {
            data_start = to;
        }
        let data_offset = u32::try_from(at.saturating_sub(data_start)).unwrap_or(u32::MAX);
        let block_method = compressed.then(|| method.unwrap_or_else(|| method_of(packed)));
        let name = if is_header {
            HEADER_NAME.to_string()
        } else {
            member_name(names.as_ref(), data_offset)
        };
        let mut entry = match block_method {
            None => Entry::new(name, packed),
            Some(m) => {
                let count = Cell::new(0);
                match decoder(m, packed, &count, ctx) {
                    Ok(mut d) => {
                        let mut expanded = ctx.expand(&mut *d, &count);
                        if let Some(cut) = &mut expanded.cut
                            && cut.kind == IssueKind::Corrupt
                        {
                            cut.message = format!("nsis: {} block: {}", m.name(), cut.message);
                        }
                        Entry::expanded(name, expanded)
                    }
                    Err(issue) => Entry::failed(name, issue),
                }
            }
        };
        if short && entry.issue.is_none() {
            entry.issue = Some(Issue::corrupt(format!(
                "nsis: the block at offset {at} of the data is cut short: {} of {size} bytes",
                packed.len()
            )));
        }
        if is_header {
            let len_ok = entry.data.len() as u64 == u64::from(fh.header_len);
            if entry.issue.is_none() && !len_ok {
                entry.issue = Some(Issue::corrupt(format!(
                    "nsis: the script header is {} bytes, the first header says {}",
                    entry.data.len(),
                    fh.header_len
                )));
            }
            names = Some(script::file_names(&entry.data));
        }
        if sink(ctx, entry) == Flow::Stop {
            return Ok(());
        }
        at = to;
    }
    Ok(())
}

/// The name of the file at `offset` of the data section.
fn member_name(names: Option<&HashMap<u32, String>>, offset: u32) -> String {
    names
        .and_then(|n| n.get(&offset))
        .cloned()
        .unwrap_or_else(|| format!("data@{offset}"))
}

/// Reads a little-endian `u32` from a decoder: `Ok(None)` at a clean end.
fn read_u32(r: &mut dyn Read) -> Result<Option<u32>, String> {
    let mut b = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut b[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err("the stream ends inside a length".to_string()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(Some(u32::from_le_bytes(b)))
}

/// Solid: one stream holding the header and every file, each behind its
/// length.
fn solid(
    body: &[u8],
    method: Method,
    fh: FirstHeader,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let count = Cell::new(0);
    let mut d = decoder(method, body, &count, ctx)?;
    let stream_issue = |what: &str, e: String| {
        Issue::corrupt(format!("nsis: solid {} stream: {what}: {e}", method.name()))
    };
    let header_len = match read_u32(&mut *d) {
        Ok(Some(l)) => l,
        Ok(None) => return Err(stream_issue("script header", "empty".to_string())),
        Err(e) => return Err(stream_issue("script header", e)),
    };
    if header_len != fh.header_len {
        return Err(Issue::corrupt(format!(
            "nsis: the solid stream's script header is {header_len} bytes, the first header says {}",
            fh.header_len
        )));
    }
    let header = {
        let mut take = (&mut *d).take(u64::from(header_len));
        match header_entry(&mut take, &count, fh, method.name(), ctx, sink) {
            Some(h) => h,
            None => return Ok(()),
        }
    };
    if header.len() as u64 != u64::from(header_len) {
        return Err(Issue::corrupt(
            "nsis: the solid stream ends within the script header; no file was unpacked",
        ));
    }
    let names = script::file_names(&header);
    let mut offset = 0u64;
    loop {
        ctx.check_time()?;
        ctx.check_budget()?;
        let len = match read_u32(&mut *d) {
            Ok(Some(l)) => l & !COMPRESSED,
            Ok(None) => return Ok(()),
            Err(e) => return Err(stream_issue(&format!("the file at offset {offset}"), e)),
        };
        let name = member_name(Some(&names), u32::try_from(offset).unwrap_or(u32::MAX));
        let mut take = (&mut *d).take(u64::from(len));
        let mut expanded = ctx.expand(&mut take, &count);
        let got = expanded.data.len() as u64;
        let stop = match &mut expanded.cut {
            // The rest of this file would have to be expanded to reach the
            // next one: the stream ends here.
            Some(cut) => {
                if cut.kind == IssueKind::Corrupt {
                    cut.message = format!("nsis: solid {} stream: {}", method.name(), cut.message);
                }
                Some(Issue {
                    kind: cut.kind,
                    message: format!(
                        "nsis: the solid stream was not unpacked past the file at offset {offset}: {}",
                        cut.message
                    ),
                })
            }
            None if got < u64::from(len) => {
                expanded.cut = Some(Issue::corrupt(format!(
                    "nsis: solid {} stream: it ends within the file at offset {offset} ({got} of {len} bytes)",
                    method.name()
                )));
                Some(Issue::corrupt(
                    "nsis: the solid stream ends early; later files are missing",
                ))
            }
            None => None,
        };
        if sink(ctx, Entry::expanded(name, expanded)) == Flow::Stop {
            return Ok(());
        }
        if let Some(issue) = stop {
            return Err(issue);
        }
        offset += 4 + u64::from(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, each_byte_flipped, random_bytes, random_flips, walk, walk_with};
    use crate::{Format, IssueKind, Limits, identify};
    use std::io::Write;

    #[derive(Clone, Copy, Debug)]
    enum Comp {
        Stored,
        Deflate,
        Bzip2,
        Lzma,
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// NSIS LZMA: five bytes of properties, then raw LZMA.
    fn lzma(data: &[u8]) -> Vec<u8> {
        let o = lzma_rust2::LzmaOptions::with_preset(6);
        let mut out = vec![o.get_props()];
        out.extend_from_slice(&o.dict_size.to_le_bytes());
        let mut w = lzma_rust2::LzmaWriter::new_no_header(out, &o, true).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    /// NSIS bzip2 from the reference bzip2 encoder's output of one block:
    /// drop `BZh9`, the 48-bit block magic, the CRC and the randomisation
    /// bit (113 bits in all) and put the byte 0x31 in their place; the
    /// end-of-stream magic then starts with NSIS's end byte 0x17.
    fn nsis_bzip2(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        e.write_all(data).unwrap();
        let std = e.finish().unwrap();
        let bit = |i: usize| (std[i / 8] >> (7 - i % 8)) & 1;
        let mut out = vec![0x31u8];
        let bits = std.len() * 8;
        let mut i = 113;
        while i < bits {
            let mut b = 0u8;
            for k in 0..8 {
                b = (b << 1) | if i + k < bits { bit(i + k) } else { 0 };
            }
            out.push(b);
            i += 8;
        }
        out
    }

    fn compress(c: Comp, data: &[u8]) -> Vec<u8> {
        match c {
            Comp::Stored => data.to_vec(),
            Comp::Deflate => deflate(data),
            Comp::Bzip2 => nsis_bzip2(data),
            Comp::Lzma => lzma(data),
        }
    }

    /// A script header that extracts `files` (name, data offset), with an
    /// ANSI or UTF-16 string table, padded to 300 bytes as real ones are.
    fn script(files: &[(&str, u32)], unicode: bool) -> Vec<u8> {
        let mut strings = vec![0u8; if unicode { 2 } else { 1 }];
        let mut entries = Vec::new();
        for (name, offset) in files {
            let at = if unicode {
                strings.len() / 2
            } else {
                strings.len()
            } as u32;
            if unicode {
                for u in name.encode_utf16().chain([0]) {
                    strings.extend_from_slice(&u.to_le_bytes());
                }
            } else {
                strings.extend(name.bytes().chain([0]));
            }
            for v in [20, 0x0500_0090, at, *offset, 0, 0, 0] {
                entries.extend_from_slice(&u32::to_le_bytes(v));
            }
        }
        let entries_at = 68u32;
        let strings_at = entries_at + entries.len() as u32;
        let mut h = Vec::new();
        h.extend_from_slice(&0u32.to_le_bytes());
        for (o, n) in [
            (0, 0),
            (0, 0),
            (entries_at, files.len() as u32),
            (strings_at, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
        ] {
            h.extend_from_slice(&u32::to_le_bytes(o));
            h.extend_from_slice(&u32::to_le_bytes(n));
        }
        h.extend(entries);
        h.extend(strings);
        h.resize(h.len().max(300), 0);
        h
    }

    /// An installer holding `files`: a stub, the first header at 1024,
    /// then solid or non-solid blocks, then the CRC32 (not checked, so
    /// zero here).
    fn installer(c: Comp, solid: bool, files: &[(&str, &[u8])], unicode: bool) -> Vec<u8> {
        let mut offsets = Vec::new();
        let mut at = 0u32;
        for (name, data) in files {
            offsets.push((*name, at));
            // makensis stores empty files as they are.
            let len = if solid || matches!(c, Comp::Stored) || data.is_empty() {
                data.len()
            } else {
                compress(c, data).len()
            };
            at += 4 + len as u32;
        }
        let header = script(&offsets, unicode);
        let mut body = Vec::new();
        if solid {
            let mut plain = Vec::new();
            for d in std::iter::once(&header[..]).chain(files.iter().map(|f| f.1)) {
                plain.extend_from_slice(&(d.len() as u32).to_le_bytes());
                plain.extend_from_slice(d);
            }
            body = compress(c, &plain);
        } else {
            for d in std::iter::once(&header[..]).chain(files.iter().map(|f| f.1)) {
                match c {
                    _ if d.is_empty() => body.extend_from_slice(&[0; 4]),
                    Comp::Stored => {
                        body.extend_from_slice(&(d.len() as u32).to_le_bytes());
                        body.extend_from_slice(d);
                    }
                    _ => {
                        let z = compress(c, d);
                        body.extend_from_slice(&(z.len() as u32 | COMPRESSED).to_le_bytes());
                        body.extend(z);
                    }
                }
            }
        }
        let mut out = b"MZ".to_vec();
        out.resize(1024, 0x90);
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&SIGINFO);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&((FIRST_HEADER_LEN + body.len() + 4) as u32).to_le_bytes());
        out.extend(body);
        out.extend_from_slice(&[0; 4]);
        out
    }

    const ALL: [(Comp, bool); 7] = [
        (Comp::Stored, false),
        (Comp::Deflate, false),
        (Comp::Deflate, true),
        (Comp::Bzip2, false),
        (Comp::Bzip2, true),
        (Comp::Lzma, false),
        (Comp::Lzma, true),
    ];

    #[test]
    fn every_compressor_solid_and_not_hands_out_header_and_named_files() {
        let text = b"plain text, repeated: ".repeat(50);
        for (c, solid) in ALL {
            for unicode in [false, true] {
                let files: [(&str, &[u8]); 3] =
                    [("readme.txt", &text), ("eicar.com", EICAR), ("empty", b"")];
                let exe = installer(c, solid, &files, unicode);
                assert_eq!(identify(&exe), Some(Format::Nsis), "{c:?} {solid}");
                let w = walk(&exe, "setup.exe");
                assert!(w.issues.is_empty(), "{c:?} {solid}: {:?}", w.issues);
                assert_eq!(
                    w.chains(),
                    [HEADER_NAME, "readme.txt", "eicar.com", "empty"],
                    "{c:?} {solid}"
                );
                assert_eq!(w.found[1].data, text);
                assert_eq!(w.containing(EICAR).unwrap().chain, "eicar.com");
                assert!(w.found.iter().all(|f| f.issue.is_none()), "{c:?} {solid}");
            }
        }
    }

    #[test]
    fn unnamed_data_is_named_by_its_offset() {
        let files: [(&str, &[u8]); 2] = [("a", b"one"), ("b", EICAR)];
        let exe = installer(Comp::Deflate, false, &files, false);
        let w = walk(&exe, "setup.exe");
        assert_eq!(w.chains(), [HEADER_NAME, "a", "b"]);
        // Without names (an empty string table), offsets name the files.
        let header = script(&[], false);
        let mut body = Vec::new();
        for d in [&header[..], b"one", EICAR] {
            let z = deflate(d);
            body.extend_from_slice(&(z.len() as u32 | COMPRESSED).to_le_bytes());
            body.extend(z);
        }
        let second = 4 + deflate(b"one").len();
        let mut exe = b"MZ".to_vec();
        exe.resize(512, 0);
        exe.extend_from_slice(&4u32.to_le_bytes()); // no CRC
        exe.extend_from_slice(&SIGINFO);
        exe.extend_from_slice(MAGIC);
        exe.extend_from_slice(&(header.len() as u32).to_le_bytes());
        exe.extend_from_slice(&((FIRST_HEADER_LEN + body.len()) as u32).to_le_bytes());
        exe.extend(body);
        let w = walk(&exe, "setup.exe");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(
            w.chains(),
            [
                HEADER_NAME.to_string(),
                "data@0".to_string(),
                format!("data@{second}")
            ]
        );
    }

    #[test]
    fn not_nsis() {
        assert!(!detect(b""));
        assert!(!detect(&random_bytes(1 << 16, 7)));
        let exe = installer(Comp::Deflate, false, &[("a", EICAR)], false);
        // No stub, or the first header off the 512-byte grid.
        assert!(!detect(&exe[2..]));
        let mut shifted = exe[..1000].to_vec();
        shifted.extend_from_slice(&exe[1024..]);
        assert!(!detect(&shifted));
        // Unknown flags.
        let mut flags = exe.clone();
        flags[1024] = 0x10;
        assert!(!detect(&flags));
    }

    #[test]
    fn truncated_installers_are_reported_and_never_panic() {
        let text = b"some text to compress ".repeat(40);
        for (c, solid) in ALL {
            let files: [(&str, &[u8]); 2] = [("t.txt", &text), ("eicar.com", EICAR)];
            let exe = installer(c, solid, &files, false);
            for cut in (1024 + FIRST_HEADER_LEN..exe.len() - 4).step_by(3) {
                let w = walk(&exe[..cut], "setup.exe");
                let reported = w.issues.iter().any(|(_, i)| i.kind == IssueKind::Corrupt)
                    || w.found.iter().any(|f| f.issue.is_some());
                assert!(reported, "{c:?} solid={solid} cut at {cut}: {w:?}");
            }
        }
    }

    #[test]
    fn flipped_bytes_never_panic() {
        let text = b"some text to compress ".repeat(40);
        for (c, solid) in ALL {
            let files: [(&str, &[u8]); 2] = [("t.txt", &text), ("eicar.com", EICAR)];
            let exe = installer(c, solid, &files, (c as u8).is_multiple_of(2));
            let tail = &exe[1024..];
            each_byte_flipped(tail, &[0x01, 0x80], |d| {
                let mut v = exe[..1024].to_vec();
                v.extend_from_slice(d);
                let _ = walk(&v, "setup.exe");
            });
            random_flips(&exe, 7, 200, 8, |d| {
                let _ = walk(d, "setup.exe");
            });
        }
    }

    #[test]
    fn a_solid_bomb_stops_at_the_limits() {
        // A solid stream whose file claims 4 GiB of zeros.
        let mut plain = Vec::new();
        let header = script(&[("zeros", 0)], false);
        plain.extend_from_slice(&(header.len() as u32).to_le_bytes());
        plain.extend_from_slice(&header);
        plain.extend_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        plain.extend(vec![0u8; 8 << 20]);
        let body = deflate(&plain);
        let mut exe = b"MZ".to_vec();
        exe.resize(512, 0);
        exe.extend_from_slice(&4u32.to_le_bytes());
        exe.extend_from_slice(&SIGINFO);
        exe.extend_from_slice(MAGIC);
        exe.extend_from_slice(&(header.len() as u32).to_le_bytes());
        exe.extend_from_slice(&u32::MAX.to_le_bytes());
        exe.extend(body);
        let limits = Limits {
            max_member_size: 1 << 20,
            ..Limits::default()
        };
        let w = walk_with(&exe, "setup.exe", &limits);
        let zeros = w.found.iter().find(|f| f.chain == "zeros").unwrap();
        assert_eq!(zeros.data.len(), 1 << 20);
        assert_eq!(
            zeros.issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-filesize")
        );
        assert!(
            w.issues
                .iter()
                .any(|(_, i)| i.kind == IssueKind::Limit("max-filesize")),
            "{:?}",
            w.issues
        );
    }

    #[test]
    fn the_budget_bounds_non_solid_blocks() {
        let big = vec![b'x'; 1 << 20];
        let files: [(&str, &[u8]); 3] = [("a", &big), ("b", &big), ("c", &big)];
        let exe = installer(Comp::Lzma, false, &files, false);
        let limits = Limits {
            max_expanded: 1_500_000,
            ..Limits::default()
        };
        let w = walk_with(&exe, "setup.exe", &limits);
        let total: usize = w.found.iter().map(|f| f.data.len()).sum();
        assert!(total <= 1_500_000, "{total}");
        assert!(
            w.found.iter().any(|f| f
                .issue
                .as_ref()
                .is_some_and(|i| i.kind == IssueKind::Limit("max-scansize")))
                || w.issues
                    .iter()
                    .any(|(_, i)| i.kind == IssueKind::Limit("max-scansize")),
            "{w:?}"
        );
    }

    #[test]
    fn nsis_bzip2_matches_the_reference_encoder() {
        // Runs longer than four bytes (RLE1), every byte value, several
        // code tables: one block of the reference encoder's output.
        let mut data = Vec::new();
        for i in 0..60_000u32 {
            let b = (i.wrapping_mul(2_654_435_761) >> 24) as u8;
            data.extend(std::iter::repeat_n(b, (i % 9) as usize + 1));
        }
        data.truncate(800_000);
        let z = nsis_bzip2(&data);
        let mut out = Vec::new();
        bz::Decoder::new(&z[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }
}
