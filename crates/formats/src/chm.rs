//! Microsoft Compiled HTML Help (CHM, the ITSF container).
//!
//! An ITSF file is a header, a directory and content. The directory
//! (`ITSP`) is a run of fixed-size chunks; the listing chunks (`PMGL`)
//! hold the entries, each a name, a content section, an offset and a
//! length, the numbers ENCINT-coded (7 bits a byte, most significant
//! first, the top bit saying "more"). Index chunks (`PMGI`) only speed up
//! look-ups and are skipped; every listing chunk is read, whether or not
//! the chunks' chain links to it, so that no entry can be hidden by an
//! unlinked chunk.
//!
//! Section 0 is stored: an entry is a range of the content. Section 1
//! (`MSCompressed`) is one LZX stream kept in the section-0 entry
//! `::DataSpace/Storage/MSCompressed/Content`; its entries are ranges of
//! the expanded stream. `ControlData` gives the LZX window and the reset
//! interval, `ResetTable` the compressed offset of every 32 KiB frame.
//! The decoder state (Huffman tables, repeated offsets, the window and
//! the E8 header) starts afresh every reset interval, so a member is
//! expanded from the reset point before it, never from the start of the
//! stream; members are handed out in stream order, so that one pass
//! serves them all.
//!
//! Every entry is handed out but the storage's own `::DataSpace/`
//! entries (the compressed stream itself, its control data and reset
//! table): the viewer's `#` and `$` files (`#SYSTEM`, `$FIftiMain`) are
//! ordinary stored files that an `ms-its:` URL can load like any page,
//! so they could carry a payload as well as any other.

use std::cell::Cell;
use std::io::{self, Read};
use std::time::Instant;

use lzxd::{Lzxd, WindowSize};

use crate::{Ctx, Entry, Flow, Issue, Sink};

/// LZX frame: the expanded size of one reset-table entry.
const FRAME: u64 = 0x8000;
/// Largest directory chunk accepted (real files use 4 KiB).
const MAX_CHUNK: usize = 1 << 20;
/// Longest entry name read.
const MAX_NAME: usize = 4096;
/// Times the LZX stream may be restarted for members out of order or
/// overlapping (each restart decodes from a reset point again).
const MAX_RESTARTS: u32 = 64;
const CONTENT: &str = "::DataSpace/Storage/MSCompressed/Content";
const CONTROL: &str = "::DataSpace/Storage/MSCompressed/ControlData";
const RESET_TABLE: &str = "::DataSpace/Storage/MSCompressed/Transform/{7FC28940-9D31-11D0-9B27-00A0C91E9C7C}/InstanceData/ResetTable";
/// The storage entries read (not handed out).
const STORAGE: [&str; 3] = [CONTENT, CONTROL, RESET_TABLE];

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        d.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

pub(crate) fn detect(data: &[u8]) -> bool {
    data.starts_with(b"ITSF")
        && matches!(u32_at(data, 4), Some(2 | 3))
        && u64_at(data, 0x48).is_some()
}

fn corrupt(what: impl std::fmt::Display) -> Issue {
    Issue::corrupt(format!("chm: {what}"))
}

/// An ENCINT at `*at` in `d`, advancing `*at`.
fn encint(d: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for _ in 0..10 {
        let b = *d.get(*at)?;
        *at += 1;
        v = v.checked_mul(128)? | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// One directory entry.
struct Dirent {
    name: String,
    section: u64,
    offset: u64,
    length: u64,
}

/// Whether an entry is handed out (see the module's notes).
fn is_member(name: &[u8], length: u64) -> bool {
    !name.starts_with(b"::DataSpace/") && !name.ends_with(b"/") && length > 0
}

/// The entries of every listing chunk of the directory at `dir`: every
/// storage entry, and the first `keep` members (one more than the
/// engine takes, so that it reports the entries limit; a directory of
/// millions of tiny entries costs no more memory than that).
fn directory(
    data: &[u8],
    dir: usize,
    dir_len: usize,
    keep: u64,
) -> Result<(Vec<Dirent>, Option<Issue>), Issue> {
    let mut members = 0u64;
    let mut storage = [false; STORAGE.len()];
    if data.get(dir..dir.saturating_add(4)) != Some(&b"ITSP"[..]) {
        return Err(corrupt(format!("no directory header at offset {dir}")));
    }
    let (Some(header_len), Some(chunk_size)) = (u32_at(data, dir + 8), u32_at(data, dir + 0x10))
    else {
        return Err(corrupt("the directory header is truncated"));
    };
    let chunk_size = chunk_size as usize;
    if !(0x20..=MAX_CHUNK).contains(&chunk_size) {
        return Err(corrupt(format!("directory chunks of {chunk_size} bytes")));
    }
    let first = dir
        .checked_add(header_len as usize)
        .filter(|&f| f <= data.len())
        .ok_or_else(|| corrupt("the directory header is truncated"))?;
    let end = dir.saturating_add(dir_len).min(data.len());
    let mut entries = Vec::new();
    let mut problem = None;
    if dir.saturating_add(dir_len) > data.len() {
        problem = Some(corrupt(format!(
            "the directory of {dir_len} bytes at offset {dir} runs past the end of the file"
        )));
    }
    let mut at = first;
    while at < end {
        let Some(chunk) = data.get(at..at + chunk_size) else {
            problem = Some(corrupt(format!(
                "the directory chunk at offset {at} is truncated"
            )));
            break;
        };
        at += chunk_size;
        if !chunk.starts_with(b"PMGL") {
            continue;
        }
        let free = u32_at(chunk, 4).unwrap_or(0) as usize;
        let stop = chunk_size.saturating_sub(free).max(0x14);
        let mut p = 0x14;
        while p < stop {
            let name = encint(chunk, &mut p).and_then(|n| {
                let n = usize::try_from(n).ok().filter(|&n| n <= MAX_NAME)?;
                let name = chunk.get(p..p.checked_add(n)?)?;
                p += n;
                Some(name)
            });
            let rest = name.and_then(|name| {
                Some((
                    name,
                    encint(chunk, &mut p)?,
                    encint(chunk, &mut p)?,
                    encint(chunk, &mut p)?,
                ))
            });
            let Some((name, section, offset, length)) = rest else {
                problem = Some(corrupt(format!(
                    "a directory entry in the chunk at offset {} is corrupt",
                    at - chunk_size
                )));
                break;
            };
            if p > stop {
                problem = Some(corrupt("a directory entry runs past its chunk"));
                break;
            }
            if is_member(name, length) {
                if members >= keep {
                    continue;
                }
                members += 1;
            } else if let Some(i) = STORAGE.iter().position(|s| s.as_bytes() == name) {
                // The first of each storage entry only.
                if storage[i] {
                    continue;
                }
                storage[i] = true;
            } else {
                continue;
            }
            entries.push(Dirent {
                name: String::from_utf8_lossy(name).into_owned(),
                section,
                offset,
                length,
            });
        }
    }
    Ok((entries, problem))
}

/// The bytes of a section-0 entry.
fn section0<'d>(data: &'d [u8], content: u64, e: &Dirent) -> Option<&'d [u8]> {
    let start = usize::try_from(content.checked_add(e.offset)?).ok()?;
    let end = start.checked_add(usize::try_from(e.length).ok()?)?;
    data.get(start..end)
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let header_truncated = || corrupt("the header is truncated");
    let version = u32_at(data, 4).ok_or_else(header_truncated)?;
    let dir = u64_at(data, 0x48).ok_or_else(header_truncated)?;
    let dir_len = u64_at(data, 0x50).ok_or_else(header_truncated)?;
    let content = if version >= 3 {
        u64_at(data, 0x58).ok_or_else(header_truncated)?
    } else {
        dir.saturating_add(dir_len)
    };
    let (Ok(dir), Ok(dir_len)) = (usize::try_from(dir), usize::try_from(dir_len)) else {
        return Err(corrupt("the directory lies past the end of the file"));
    };
    let (entries, mut problem) = directory(
        data,
        dir,
        dir_len,
        ctx.limits().max_entries.saturating_add(1),
    )?;

    // Section 1's storage, if the file has one.
    let find = |name: &str| entries.iter().find(|e| e.section == 0 && e.name == name);
    let mut lzx: Option<Result<Lzx, Issue>> = None;
    let mut section1: Vec<&Dirent> = Vec::new();
    for e in &entries {
        if !is_member(e.name.as_bytes(), e.length) {
            continue;
        }
        let name = e.name.trim_start_matches('/');
        let name = if name.is_empty() { "unnamed" } else { name };
        match e.section {
            0 => {
                ctx.check_time()?;
                let entry = match section0(data, content, e) {
                    Some(d) => Entry::new(name, d),
                    None => Entry::failed(
                        name,
                        corrupt(format!(
                            "{name}: {} bytes at offset {} of section 0 lie past the end of the file",
                            e.length, e.offset
                        )),
                    ),
                };
                if sink(ctx, entry) == Flow::Stop {
                    return Ok(());
                }
            }
            1 => {
                if lzx.is_none() {
                    lzx = Some(Lzx::open(
                        data,
                        content,
                        find(CONTENT),
                        find(CONTROL),
                        find(RESET_TABLE),
                    ));
                }
                section1.push(e);
            }
            s => {
                let issue = Issue::unsupported(format!(
                    "chm: {name} is in content section {s}; only sections 0 and 1 are read"
                ));
                if sink(ctx, Entry::failed(name, issue)) == Flow::Stop {
                    return Ok(());
                }
            }
        }
    }
    section1.sort_by_key(|e| (e.offset, e.length));
    let mut lzx = match lzx {
        None => None,
        Some(Ok(l)) => Some(l),
        Some(Err(issue)) => {
            for e in &section1 {
                let name = e.name.trim_start_matches('/');
                if sink(ctx, Entry::failed(name, issue.clone())) == Flow::Stop {
                    return Ok(());
                }
            }
            None
        }
    };
    if let Some(lzx) = lzx.as_mut() {
        lzx.max_decoded = ctx.limits().max_expanded;
        lzx.until = ctx.time_left().map(|t| Instant::now() + t);
        for e in section1 {
            ctx.check_time()?;
            let name = e.name.trim_start_matches('/');
            let name = if name.is_empty() { "unnamed" } else { name };
            let end = e.offset.saturating_add(e.length);
            let count = Cell::new(0u64);
            let total = lzx.total;
            let mut reader = Member {
                lzx,
                pos: e.offset,
                end: end.min(total),
                count: &count,
            };
            let mut expanded = ctx.expand(&mut reader, &count);
            if let Some(limit) = lzx.limit.take() {
                // A limit of the whole stream: this member is cut, and
                // the members after it are not expanded.
                expanded.cut = Some(limit.clone());
                problem = Some(limit);
            } else if let Some(cut) = &mut expanded.cut
                && cut.kind == crate::IssueKind::Corrupt
            {
                cut.message = format!("chm: {name}: {}", cut.message);
            } else if expanded.cut.is_none() && end > lzx.total {
                expanded.cut = Some(corrupt(format!(
                    "{name}: ends at byte {end} of section 1, which expands to {} bytes",
                    lzx.total
                )));
            }
            if sink(ctx, Entry::expanded(name, expanded)) == Flow::Stop || problem.is_some() {
                break;
            }
        }
    }
    match problem {
        Some(p) => Err(p),
        None => Ok(()),
    }
}

/// Section 1: the LZX stream, decoded a frame at a time.
struct Lzx<'d> {
    /// The compressed stream (the `Content` entry).
    stream: &'d [u8],
    /// Compressed offset of every frame.
    frames: Vec<u64>,
    /// Frames between decoder resets.
    reset_every: u64,
    window: WindowSize,
    /// Expanded length of the stream.
    total: u64,
    decoder: Option<Box<Lzxd>>,
    /// E8 translation size of the current reset interval, if on.
    e8: Option<i32>,
    /// Next frame the decoder will produce.
    next: u64,
    /// The frame decoded last: its index and bytes.
    current: Option<(u64, Vec<u8>)>,
    restarts: u32,
    /// Bytes decoded, handed out or not (frames before a member are
    /// decoded too): bounded by the scan budget.
    decoded: u64,
    max_decoded: u64,
    /// Compressed bytes fed to the decoder so far.
    packed: u64,
    /// The deadline of the whole file.
    until: Option<Instant>,
    /// A limit reached while decoding; ends the file after this member.
    limit: Option<Issue>,
}

impl<'d> Lzx<'d> {
    fn open(
        data: &'d [u8],
        content: u64,
        stream: Option<&Dirent>,
        control: Option<&Dirent>,
        table: Option<&Dirent>,
    ) -> Result<Lzx<'d>, Issue> {
        let missing = |what: &str| {
            corrupt(format!(
                "section 1 is used but its {what} is missing or lies past the end of the file"
            ))
        };
        let stream = stream
            .and_then(|e| section0(data, content, e))
            .ok_or_else(|| missing("compressed content"))?;
        let control = control
            .and_then(|e| section0(data, content, e))
            .ok_or_else(|| missing("control data"))?;
        let table = table
            .and_then(|e| section0(data, content, e))
            .ok_or_else(|| missing("reset table"))?;
        if control.get(4..8) != Some(&b"LZXC"[..]) {
            return Err(Issue::unsupported(
                "chm: section 1 is not LZX-compressed (no LZXC control data)",
            ));
        }
        let (Some(version), Some(mut reset), Some(mut window)) = (
            u32_at(control, 8),
            u32_at(control, 12).map(u64::from),
            u32_at(control, 16).map(u64::from),
        ) else {
            return Err(corrupt("the LZX control data is truncated"));
        };
        // Version 2 counts in frames, version 1 in bytes.
        if version == 2 {
            reset *= FRAME;
            window *= FRAME;
        }
        let window = match window {
            0x8000 => WindowSize::KB32,
            0x10000 => WindowSize::KB64,
            0x20000 => WindowSize::KB128,
            0x40000 => WindowSize::KB256,
            0x80000 => WindowSize::KB512,
            0x10_0000 => WindowSize::MB1,
            0x20_0000 => WindowSize::MB2,
            w => return Err(corrupt(format!("an LZX window of {w} bytes"))),
        };
        if reset == 0 || reset % FRAME != 0 {
            return Err(corrupt(format!("an LZX reset interval of {reset} bytes")));
        }
        let (Some(n), Some(entry_size), Some(header), Some(total), Some(block)) = (
            u32_at(table, 4),
            u32_at(table, 8),
            u32_at(table, 12),
            u64_at(table, 16),
            u64_at(table, 32),
        ) else {
            return Err(corrupt("the LZX reset table is truncated"));
        };
        // Entries are 8 bytes in every file seen; 4-byte ones are allowed
        // by the format and read as well.
        if !matches!(entry_size, 4 | 8) || block != FRAME {
            return Err(Issue::unsupported(format!(
                "chm: an LZX reset table of {entry_size}-byte entries for {block}-byte frames"
            )));
        }
        let entry = |i: usize| -> Option<u64> {
            let at = (header as usize).checked_add(i.checked_mul(entry_size as usize)?)?;
            if entry_size == 4 {
                u32_at(table, at).map(u64::from)
            } else {
                u64_at(table, at)
            }
        };
        let frames: Vec<u64> = (0..n as usize).map_while(entry).collect();
        if frames.len() != n as usize {
            return Err(corrupt("the LZX reset table is truncated"));
        }
        if (frames.len() as u64) < total.div_ceil(FRAME) {
            return Err(corrupt(format!(
                "the LZX reset table lists {} frames for {total} expanded bytes",
                frames.len()
            )));
        }
        Ok(Lzx {
            stream,
            frames,
            reset_every: reset / FRAME,
            window,
            total,
            decoder: None,
            e8: None,
            next: 0,
            current: None,
            restarts: 0,
            decoded: 0,
            max_decoded: 0,
            packed: 0,
            until: None,
            limit: None,
        })
    }

    /// Makes `frame` the current frame.
    fn seek(&mut self, frame: u64) -> io::Result<()> {
        if self.current.as_ref().is_some_and(|(i, _)| *i == frame) {
            return Ok(());
        }
        let reset_at = frame - frame % self.reset_every;
        if frame < self.next {
            // Behind the decoder: start again from the reset point.
            self.restarts += 1;
            if self.restarts > MAX_RESTARTS {
                let issue = Issue::limit(
                    "max-entries",
                    format!(
                        "chm: members of section 1 overlap so that its LZX stream restarted more than {MAX_RESTARTS} times; the rest were not unpacked"
                    ),
                );
                self.limit = Some(issue.clone());
                return Err(bad(issue.message));
            }
            self.next = reset_at;
            self.decoder = None;
        } else if reset_at > self.next {
            // A reset point lies between: skip to it without decoding.
            self.next = reset_at;
            self.decoder = None;
        }
        while self.next <= frame {
            self.decode_next()?;
        }
        Ok(())
    }

    /// Decodes frame `self.next` into `self.current`.
    fn decode_next(&mut self) -> io::Result<()> {
        let f = self.next;
        let corrupt_frame = |what: String| bad(format!("LZX frame {f}: {what}"));
        if self.until.is_some_and(|t| Instant::now() >= t) {
            let issue = Issue::limit(
                "time",
                "the time limit for this file was reached; the rest of it was not unpacked",
            );
            self.limit = Some(issue.clone());
            return Err(bad(issue.message));
        }
        let at = |i: u64| -> Option<usize> {
            let off = match self.frames.get(usize::try_from(i).ok()?) {
                Some(&o) => o,
                None => self.stream.len() as u64,
            };
            usize::try_from(off).ok()
        };
        let (Some(start), Some(end)) = (at(f), at(f + 1)) else {
            return Err(corrupt_frame("no reset table entry".into()));
        };
        let Some(mut chunk) = self.stream.get(start..end.min(self.stream.len())) else {
            return Err(corrupt_frame(format!(
                "its compressed bytes {start}..{end} are not in the stream"
            )));
        };
        let out_len = (self.total - (f * FRAME).min(self.total)).min(FRAME) as usize;
        if out_len == 0 {
            return Err(corrupt_frame("past the end of the stream".into()));
        }
        self.decoded += out_len as u64;
        if self.max_decoded > 0 && self.decoded > self.max_decoded {
            let issue = crate::ctx::scansize_issue(self.max_decoded);
            self.limit = Some(issue.clone());
            return Err(bad(issue.message));
        }
        self.packed += chunk.len() as u64;
        let mut patched;
        if f.is_multiple_of(self.reset_every) || self.decoder.is_none() {
            if !f.is_multiple_of(self.reset_every) {
                return Err(corrupt_frame("decoding starts off a reset point".into()));
            }
            self.decoder = Some(Box::new(Lzxd::new(self.window)));
            self.e8 = None;
            // The E8 header: one bit, and the translation size if set.
            // lzxd would translate relative to its own start, but the
            // offsets are those of the whole stream: take the header out
            // (drop the two words that hold the size, clear the bit) and
            // translate here.
            if chunk.get(1).is_some_and(|b| b & 0x80 != 0) {
                let word = |i: usize| -> u64 {
                    u64::from(u16::from_le_bytes([
                        chunk.get(2 * i).copied().unwrap_or(0),
                        chunk.get(2 * i + 1).copied().unwrap_or(0),
                    ]))
                };
                let bits = word(0) << 32 | word(1) << 16 | word(2);
                self.e8 = Some((bits >> 15) as u32 as i32);
                patched = chunk.get(4..).unwrap_or(&[]).to_vec();
                if let Some(b) = patched.get_mut(1) {
                    *b &= 0x7F;
                }
                chunk = &patched;
            }
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Err(corrupt_frame("no decoder".into()));
        };
        let out = match decoder.decompress_next(chunk, out_len) {
            Ok(out) => out,
            Err(e) => {
                // The state is unusable: the next frame starts over.
                self.decoder = None;
                self.current = None;
                return Err(corrupt_frame(e.to_string()));
            }
        };
        let mut out = out.to_vec();
        if let Some(size) = self.e8 {
            undo_e8(&mut out, f * FRAME, size);
        }
        self.current = Some((f, out));
        self.next = f + 1;
        Ok(())
    }
}

/// Reverses the E8 (x86 CALL) translation of one frame that starts at
/// expanded offset `start`: a 0xE8 byte is followed by an absolute
/// target that was a relative one. The last 10 bytes of a frame and
/// frames past the first GiB are left as they are, as the compressor
/// leaves them.
fn undo_e8(frame: &mut [u8], start: u64, size: i32) {
    if frame.len() <= 10 || start >= 1 << 30 {
        return;
    }
    let mut i = 0;
    while i + 10 < frame.len() {
        if frame[i] != 0xE8 {
            i += 1;
            continue;
        }
        let pos = (start + i as u64) as i32;
        let abs = i32::from_le_bytes([frame[i + 1], frame[i + 2], frame[i + 3], frame[i + 4]]);
        if abs >= -pos && abs < size {
            let rel = if abs >= 0 {
                abs.wrapping_sub(pos)
            } else {
                abs.wrapping_add(size)
            };
            frame[i + 1..i + 5].copy_from_slice(&rel.to_le_bytes());
        }
        i += 5;
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// A section-1 member as a reader over the LZX stream.
struct Member<'a, 'd, 'c> {
    lzx: &'a mut Lzx<'d>,
    pos: u64,
    end: u64,
    /// Compressed bytes consumed for this member, for the ratio check.
    count: &'c Cell<u64>,
}

impl Read for Member<'_, '_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.end || buf.is_empty() {
            return Ok(0);
        }
        let before = self.lzx.packed;
        let sought = self.lzx.seek(self.pos / FRAME);
        self.count
            .set(self.count.get() + (self.lzx.packed - before));
        sought?;
        let Some((_, out)) = self.lzx.current.as_ref() else {
            return Err(bad("no LZX frame"));
        };
        let within = (self.pos % FRAME) as usize;
        let avail = out.get(within..).unwrap_or(&[]);
        if avail.is_empty() {
            return Err(bad("a short LZX frame"));
        }
        let n = avail
            .len()
            .min(buf.len())
            .min(usize::try_from(self.end - self.pos).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IssueKind;
    use crate::testutil::{EICAR, each_byte_flipped, walk};

    fn put_encint(out: &mut Vec<u8>, v: u64) {
        let mut groups = vec![(v & 0x7F) as u8];
        let mut v = v >> 7;
        while v > 0 {
            groups.push((v & 0x7F) as u8 | 0x80);
            v >>= 7;
        }
        out.extend(groups.iter().rev());
    }

    /// A directory entry to write: name, section, offset, length.
    type Listed = (String, u64, u64, u64);

    /// An ITSF version 3 file laid out as HTML Help Workshop does: the
    /// header, the directory (ITSP header and one 4 KiB PMGL chunk), then
    /// section 0. `stored` go into section 0 as given; `extra` entries
    /// (section 1 members, the LZX storage) are listed as given, their
    /// section-0 data (`extra_data`) appended after the stored members.
    fn itsf(stored: &[(&str, &[u8])], extra: &[Listed], extra_data: &[u8]) -> Vec<u8> {
        let mut content = Vec::new();
        let mut listed: Vec<Listed> = Vec::new();
        for (name, data) in stored {
            listed.push((name.to_string(), 0, content.len() as u64, data.len() as u64));
            content.extend_from_slice(data);
        }
        let base = content.len() as u64;
        for (name, section, offset, length) in extra {
            let offset = if *section == 0 {
                offset + base
            } else {
                *offset
            };
            listed.push((name.clone(), *section, offset, *length));
        }
        content.extend_from_slice(extra_data);
        let mut entries = Vec::new();
        for (name, section, offset, length) in &listed {
            put_encint(&mut entries, name.len() as u64);
            entries.extend_from_slice(name.as_bytes());
            for v in [*section, *offset, *length] {
                put_encint(&mut entries, v);
            }
        }
        let chunk_size = 0x1000usize;
        assert!(entries.len() + 0x14 <= chunk_size);
        let mut chunk = b"PMGL".to_vec();
        chunk.extend_from_slice(&((chunk_size - 0x14 - entries.len()) as u32).to_le_bytes());
        chunk.extend_from_slice(&0u32.to_le_bytes());
        chunk.extend_from_slice(&(-1i32).to_le_bytes());
        chunk.extend_from_slice(&(-1i32).to_le_bytes());
        chunk.extend(entries);
        chunk.resize(chunk_size, 0);
        // The quick-reference area ends with the number of entries.
        let n = listed.len() as u16;
        chunk[chunk_size - 2..].copy_from_slice(&n.to_le_bytes());

        let dir_at = 0x78u64;
        let mut itsp = b"ITSP".to_vec();
        for v in [
            1u32,
            0x54,
            0x0A,
            chunk_size as u32,
            2,
            1,
            u32::MAX,
            0,
            0,
            u32::MAX,
            1,
            0x409,
        ] {
            itsp.extend_from_slice(&v.to_le_bytes());
        }
        itsp.resize(0x54, 0xFF);
        let dir_len = (itsp.len() + chunk.len()) as u64;
        let content_at = dir_at + dir_len;

        let mut f = b"ITSF".to_vec();
        for v in [3u32, 0x60, 1, 0, 0x409] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.resize(0x38, 0);
        for v in [0x60u64, 0x18, dir_at, dir_len, content_at] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.resize(dir_at as usize, 0);
        f.extend(itsp);
        f.extend(chunk);
        f.extend(content);
        f
    }

    /// Bits into 16-bit little-endian words, most significant bit first,
    /// as LZX reads them.
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }

    impl Bits {
        fn put(&mut self, v: u32, bits: u32) {
            for i in (0..bits).rev() {
                self.acc = self.acc << 1 | (v >> i & 1);
                self.n += 1;
                if self.n == 16 {
                    self.out.extend_from_slice(&(self.acc as u16).to_le_bytes());
                    self.acc = 0;
                    self.n = 0;
                }
            }
        }

        fn align(mut self) -> Vec<u8> {
            if self.n > 0 {
                self.put(0, 16 - self.n);
            }
            self.out
        }
    }

    /// A section-1 LZX stream of uncompressed blocks (one per reset
    /// interval of `reset` frames), and its reset table's frame offsets.
    /// `e8[i]` is the E8 translation size of reset interval `i`, if on.
    fn lzx_stored(data: &[u8], reset: usize, e8: &[Option<u32>]) -> (Vec<u8>, Vec<u64>) {
        let frame = FRAME as usize;
        let mut stream = Vec::new();
        let mut offsets = Vec::new();
        for (i, block) in data.chunks(frame * reset).enumerate() {
            let mut b = Bits::default();
            match e8.get(i).copied().flatten() {
                Some(size) => {
                    b.put(1, 1);
                    b.put(size >> 16, 16);
                    b.put(size & 0xFFFF, 16);
                }
                None => b.put(0, 1),
            }
            b.put(3, 3);
            b.put(block.len() as u32 >> 8, 16);
            b.put(block.len() as u32 & 0xFF, 8);
            let mut header = b.align();
            for _ in 0..3 {
                header.extend_from_slice(&1u32.to_le_bytes());
            }
            for (j, f) in block.chunks(frame).enumerate() {
                offsets.push(stream.len() as u64);
                if j == 0 {
                    stream.extend_from_slice(&header);
                }
                stream.extend_from_slice(f);
            }
        }
        (stream, offsets)
    }

    /// ControlData (version 2: counts in frames) and ResetTable.
    fn storage(
        stream: &[u8],
        offsets: &[u64],
        total: u64,
        reset_frames: u32,
        entry_size: u32,
    ) -> (Vec<u8>, Vec<Listed>) {
        let mut control = 6u32.to_le_bytes().to_vec();
        control.extend_from_slice(b"LZXC");
        for v in [2u32, reset_frames, 2, reset_frames, 0] {
            control.extend_from_slice(&v.to_le_bytes());
        }
        let mut table = Vec::new();
        for v in [2u32, offsets.len() as u32, entry_size, 0x28] {
            table.extend_from_slice(&v.to_le_bytes());
        }
        for v in [total, stream.len() as u64, FRAME] {
            table.extend_from_slice(&v.to_le_bytes());
        }
        for &o in offsets {
            if entry_size == 4 {
                table.extend_from_slice(&(o as u32).to_le_bytes());
            } else {
                table.extend_from_slice(&o.to_le_bytes());
            }
        }
        let mut data = Vec::new();
        let mut listed = Vec::new();
        for (name, part) in [
            (CONTENT, stream),
            (CONTROL, &control[..]),
            (RESET_TABLE, &table[..]),
        ] {
            listed.push((name.to_string(), 0, data.len() as u64, part.len() as u64));
            data.extend_from_slice(part);
        }
        (data, listed)
    }

    fn filler(n: usize) -> Vec<u8> {
        (0..n).map(|i| b'a' + (i % 26) as u8).collect()
    }

    #[test]
    fn stored_members_and_an_lzx_stream_with_resets() {
        let frame = FRAME as usize;
        let total = 3 * frame + 1000;
        // What the decoder must produce; EICAR straddles the reset point
        // between frames 1 and 2.
        let mut plain = filler(total);
        let eicar_at = 2 * frame - 30;
        plain[eicar_at..eicar_at + EICAR.len()].copy_from_slice(EICAR);
        // An x86 CALL in the second reset interval, stored translated to
        // an absolute target: the decoder turns it back relative to its
        // offset in the whole stream.
        let call_at = 2 * frame + 100;
        let target = 0x1000i32;
        let mut encoded = plain.clone();
        encoded[call_at] = 0xE8;
        encoded[call_at + 1..call_at + 5].copy_from_slice(&target.to_le_bytes());
        plain[call_at] = 0xE8;
        plain[call_at + 1..call_at + 5].copy_from_slice(&(target - call_at as i32).to_le_bytes());

        let (stream, offsets) = lzx_stored(&encoded, 2, &[None, Some(0x10_0000)]);
        let (data, mut listed) = storage(&stream, &offsets, total as u64, 2, 8);
        listed.push(("/all.bin".into(), 1, 0, total as u64));
        listed.push((
            "/html/eicar.htm".into(),
            1,
            eicar_at as u64,
            EICAR.len() as u64,
        ));
        listed.push(("/tail.bin".into(), 1, 3 * FRAME, 1000));
        listed.push(("/empty.txt".into(), 1, 0, 0));
        listed.push(("/html/".into(), 0, 0, 0));
        let chm = itsf(
            &[("/eicar.com", EICAR), ("#SYSTEM", b"sys")],
            &listed,
            &data,
        );
        assert!(detect(&chm));
        let w = walk(&chm, "t.chm");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(
            w.chains(),
            [
                "eicar.com",
                "#SYSTEM",
                "all.bin",
                "html/eicar.htm",
                "tail.bin"
            ]
        );
        assert!(w.found.iter().all(|f| f.issue.is_none()), "{:?}", w.found);
        assert_eq!(w.found[0].data, EICAR);
        assert_eq!(w.found[2].data, plain);
        assert_eq!(w.found[3].data, EICAR);
        assert_eq!(w.found[4].data, &plain[3 * frame..]);
    }

    /// A small file: a stored member and a one-frame LZX member.
    fn small() -> Vec<u8> {
        let (stream, offsets) = lzx_stored(EICAR, 1, &[]);
        let (data, mut listed) = storage(&stream, &offsets, EICAR.len() as u64, 1, 8);
        listed.push(("/packed.txt".into(), 1, 0, EICAR.len() as u64));
        itsf(&[("/stored.txt", b"hello")], &listed, &data)
    }

    #[test]
    fn small_file_round_trips() {
        let w = walk(&small(), "t.chm");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.chains(), ["stored.txt", "packed.txt"]);
        assert_eq!(w.found[1].data, EICAR);
        // The same with a reset table of 4-byte entries.
        let (stream, offsets) = lzx_stored(EICAR, 1, &[]);
        let (data, mut listed) = storage(&stream, &offsets, EICAR.len() as u64, 1, 4);
        listed.push(("/packed.txt".into(), 1, 0, EICAR.len() as u64));
        let w = walk(&itsf(&[], &listed, &data), "t.chm");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.found[0].data, EICAR);
    }

    #[test]
    fn broken_storage_and_other_sections_are_reported() {
        // No reset table: the section-1 member fails, the stored one stands.
        let (stream, offsets) = lzx_stored(EICAR, 1, &[]);
        let (data, mut listed) = storage(&stream, &offsets, EICAR.len() as u64, 1, 8);
        listed.retain(|l| l.0 != RESET_TABLE);
        listed.push(("/packed.txt".into(), 1, 0, EICAR.len() as u64));
        listed.push(("/other.txt".into(), 2, 0, 5));
        listed.push(("/long.txt".into(), 0, 0, 1 << 40));
        let chm = itsf(&[("/eicar.com", EICAR)], &listed, &data);
        let w = walk(&chm, "t.chm");
        let kinds: Vec<_> = w
            .found
            .iter()
            .map(|f| (f.chain.as_str(), f.issue.as_ref().map(|i| i.kind)))
            .collect();
        assert_eq!(
            kinds,
            [
                ("eicar.com", None),
                ("other.txt", Some(IssueKind::Unsupported)),
                ("long.txt", Some(IssueKind::Corrupt)),
                ("packed.txt", Some(IssueKind::Corrupt)),
            ]
        );
        // A member past the end of the expanded stream: what there is,
        // reported.
        let (data, mut listed) = storage(&stream, &offsets, EICAR.len() as u64, 1, 8);
        listed.push(("/over.txt".into(), 1, 0, 1000));
        let w = walk(&itsf(&[], &listed, &data), "t.chm");
        assert_eq!(w.found[0].data, EICAR);
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
    }

    #[test]
    fn overlapping_members_restart_a_bounded_number_of_times() {
        let frame = FRAME as usize;
        let data_len = 4 * frame;
        let (stream, offsets) = lzx_stored(&filler(data_len), 1 << 10, &[]);
        let (data, mut listed) = storage(&stream, &offsets, data_len as u64, 1 << 10, 8);
        // Each member starts in frame 0 and ends in frame 3, so every one
        // decodes the stream from its start.
        for i in 0..100u64 {
            listed.push((format!("/m{i:03}"), 1, i, 3 * FRAME + 1));
        }
        let w = walk(&itsf(&[], &listed, &data), "t.chm");
        let limit = w.found.iter().position(|f| f.issue.is_some()).unwrap();
        assert_eq!(limit, MAX_RESTARTS as usize + 1);
        assert_eq!(w.found.len(), limit + 1);
        assert_eq!(
            w.found[limit].issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-entries")
        );
        assert!(!w.issues.is_empty());
    }

    #[test]
    fn frames_decoded_to_reach_a_member_count_against_the_budget() {
        let frame = FRAME as usize;
        let (stream, offsets) = lzx_stored(&filler(4 * frame), 1 << 10, &[]);
        let (data, mut listed) = storage(&stream, &offsets, 4 * FRAME, 1 << 10, 8);
        // Three frames must be decoded, and thrown away, to reach it.
        listed.push(("/last".into(), 1, 3 * FRAME, 10));
        let chm = itsf(&[], &listed, &data);
        let limits = crate::Limits {
            max_expanded: 3 * FRAME,
            ..crate::Limits::default()
        };
        let w = crate::testutil::walk_with(&chm, "t.chm", &limits);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-scansize")
        );
        // With room, the same member comes out whole.
        let w = walk(&chm, "t.chm");
        assert_eq!(
            w.found[0].data,
            &filler(4 * frame)[3 * frame..3 * frame + 10]
        );
        assert!(w.found[0].issue.is_none());
    }

    #[test]
    fn entries_past_the_limit_are_neither_kept_nor_handed_out() {
        let names: Vec<String> = (0..50).map(|i| format!("/f{i:02}")).collect();
        let stored: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let limits = crate::Limits {
            max_entries: 5,
            ..crate::Limits::default()
        };
        let w = crate::testutil::walk_with(&itsf(&stored, &[], &[]), "t.chm", &limits);
        assert_eq!(w.found.len(), 5);
        assert_eq!(w.issues.len(), 1);
        assert_eq!(w.issues[0].1.kind, IssueKind::Limit("max-entries"));
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        let full = small();
        for len in 0..full.len() {
            let w = walk(&full[..len], "t");
            if len >= 0x58 {
                assert!(
                    !w.issues.is_empty() || w.found.iter().any(|f| f.issue.is_some()),
                    "{len}"
                );
            }
        }
        each_byte_flipped(&full, &[0x01, 0x80], |m| {
            let _ = walk(m, "t");
        });
    }

    #[test]
    fn encint_bounds() {
        let mut p = 0;
        assert_eq!(encint(&[0x81, 0x00], &mut p), Some(128));
        assert_eq!(p, 2);
        let mut p = 0;
        assert_eq!(encint(&[0xFF; 12], &mut p), None);
        let mut p = 0;
        assert_eq!(encint(&[0x80], &mut p), None);
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"ITSF"));
        assert!(!detect(b"ITSP\x01\0\0\0"));
        let mut c = small();
        c[4] = 9;
        assert!(!detect(&c));
    }
}
