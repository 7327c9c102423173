//! OLE2 compound files (MS-CFB): doc, xls, ppt, msi, msg and OLE objects.
//!
//! An own reader rather than a library: every chain is followed with a
//! cycle check and a length bound, every table is sized from the input
//! length (never from a header count), and a damaged file yields what can
//! still be read. Every stream is an entry named by its storage path below
//! the root (`Macros/VBA/ThisDocument`, `WordDocument`, `\u{1}Ole10Native`).
//! An `\u{1}Ole10Native` stream is followed by the file it wraps (OLE
//! Package), named by its label. VBA module streams are followed by their
//! decompressed source (MS-OVBA), named `<module stream path>.vba`.
//! A `PowerPoint Document` stream is followed by the OLE objects
//! PowerPoint keeps in it ([MS-PPT] ExOleObjStg records, zlib-compressed
//! or not), named `<stream path>/ExOleObjStg@0x<record offset>`.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Read;

use crate::{Counted, Ctx, Entry, Flow, Issue, Sink};

const MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// Sector ids at or above this are special (DIFSECT, FATSECT, ENDOFCHAIN,
/// FREESECT) or reserved.
const MAXREG: u32 = 0xFFFF_FFFA;
const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const NOSTREAM: u32 = 0xFFFF_FFFF;
const DIR_ENTRY: usize = 128;
const MINI_SECTOR: usize = 64;

pub(crate) fn detect(data: &[u8]) -> bool {
    data.len() >= 512 && data.starts_with(MAGIC)
}

fn u16_at(d: &[u8], off: usize) -> Option<u16> {
    let b = d.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    let b = d.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A sector chain follower with a cycle check that costs O(1) per step:
/// each chain gets a new generation number, and a sector stamped with the
/// current generation has been seen in this chain already.
struct Chains {
    stamp: Vec<u32>,
    generation: u32,
}

impl Chains {
    fn new(n: usize) -> Chains {
        Chains {
            stamp: vec![0; n],
            generation: 0,
        }
    }

    /// Follows `table` from `start`, at most `max` links. Returns the
    /// sector ids and whether the chain ended properly (at ENDOFCHAIN or
    /// at `max`) rather than at a cycle, a free sector or out of range.
    fn follow(&mut self, table: &[u32], start: u32, max: usize) -> (Vec<u32>, bool) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        let mut out = Vec::new();
        let mut cur = start;
        loop {
            if out.len() >= max {
                return (out, true);
            }
            if cur == ENDOFCHAIN {
                return (out, true);
            }
            let i = cur as usize;
            if cur >= MAXREG || i >= table.len() || i >= self.stamp.len() {
                return (out, false);
            }
            if self.stamp[i] == self.generation {
                return (out, false);
            }
            self.stamp[i] = self.generation;
            out.push(cur);
            cur = table[i];
        }
    }
}

struct Dir {
    name: String,
    kind: u8,
    left: u32,
    right: u32,
    child: u32,
    start: u32,
    size: u64,
}

struct Cfb<'a> {
    data: &'a [u8],
    ss: usize,
    fat: Vec<u32>,
    minifat: Vec<u32>,
    /// File offsets of the mini stream's sectors, in order.
    mini_stream: Vec<u32>,
    mini_cutoff: u64,
    dirs: Vec<Dir>,
    chains: Chains,
    mini_chains: Chains,
    /// Problems found while reading the tables.
    damage: Option<String>,
}

impl<'a> Cfb<'a> {
    fn sector(&self, id: u32) -> &'a [u8] {
        let start = (id as usize).saturating_add(1).saturating_mul(self.ss);
        let end = start.saturating_add(self.ss).min(self.data.len());
        self.data.get(start..end).unwrap_or(&[])
    }

    fn parse(data: &'a [u8], ctx: &Ctx) -> Result<Cfb<'a>, Issue> {
        if !detect(data) {
            return Err(Issue::corrupt("ole2: no compound file header"));
        }
        let shift = u16_at(data, 0x1E).unwrap_or(9);
        let ss: usize = match shift {
            9 => 512,
            12 => 4096,
            _ => {
                return Err(Issue::corrupt(format!(
                    "ole2: sector shift {shift} is neither 9 nor 12"
                )));
            }
        };
        let major = u16_at(data, 0x1A).unwrap_or(3);
        let n_sectors = data.len().saturating_sub(ss).div_ceil(ss);
        let mut damage = None;
        let u = |off| u32_at(data, off).unwrap_or(ENDOFCHAIN);

        // FAT sector ids: 109 in the header, the rest in the DIFAT chain.
        let mut fat_ids: Vec<u32> = (0..109)
            .map(|i| u(0x4C + 4 * i))
            .filter(|&id| id < MAXREG)
            .collect();
        let mut next = u(0x44);
        let mut seen = 0usize;
        while next < MAXREG && fat_ids.len() < n_sectors {
            ctx.check_time()?;
            seen += 1;
            if seen > n_sectors || next as usize >= n_sectors {
                damage = Some("the DIFAT chain is cyclic or leaves the file".to_string());
                break;
            }
            let s = Cfb::sector_of(data, ss, next);
            let per = ss / 4 - 1;
            for i in 0..per {
                if let Some(id) = u32_at(s, 4 * i)
                    && id < MAXREG
                {
                    fat_ids.push(id);
                }
            }
            next = u32_at(s, 4 * per).unwrap_or(ENDOFCHAIN);
        }
        fat_ids.truncate(n_sectors);
        let mut fat = Vec::with_capacity(n_sectors.min(fat_ids.len() * ss / 4));
        for &id in &fat_ids {
            if fat.len() >= n_sectors {
                break;
            }
            let s = Cfb::sector_of(data, ss, id);
            for i in 0..ss / 4 {
                fat.push(u32_at(s, 4 * i).unwrap_or(NOSTREAM));
            }
        }
        fat.truncate(n_sectors);

        let mut cfb = Cfb {
            data,
            ss,
            fat,
            minifat: Vec::new(),
            mini_stream: Vec::new(),
            mini_cutoff: u64::from(u(0x38)),
            dirs: Vec::new(),
            chains: Chains::new(n_sectors),
            mini_chains: Chains::new(0),
            damage,
        };

        // Directory.
        let (dir_sectors, ok) = cfb.chains.follow(&cfb.fat, u(0x30), n_sectors);
        if !ok {
            cfb.damage = Some("the directory chain is broken".to_string());
        }
        for id in dir_sectors {
            let s = cfb.sector(id);
            for rec in s.chunks_exact(DIR_ENTRY) {
                let name_len = (u16_at(rec, 0x40).unwrap_or(0) as usize).min(64) / 2;
                let units: Vec<u16> = (0..name_len.saturating_sub(1))
                    .filter_map(|i| u16_at(rec, 2 * i))
                    .collect();
                let size_lo = u64::from(u32_at(rec, 0x78).unwrap_or(0));
                let size_hi = u64::from(u32_at(rec, 0x7C).unwrap_or(0));
                let size = if major >= 4 {
                    size_lo | (size_hi << 32)
                } else {
                    size_lo
                };
                cfb.dirs.push(Dir {
                    name: String::from_utf16_lossy(&units),
                    kind: rec[0x42],
                    left: u32_at(rec, 0x44).unwrap_or(NOSTREAM),
                    right: u32_at(rec, 0x48).unwrap_or(NOSTREAM),
                    child: u32_at(rec, 0x4C).unwrap_or(NOSTREAM),
                    start: u32_at(rec, 0x74).unwrap_or(ENDOFCHAIN),
                    size,
                });
            }
        }
        if cfb.dirs.is_empty() {
            return Err(Issue::corrupt("ole2: no directory entries"));
        }

        // Mini FAT and mini stream.
        let (mf_sectors, ok) = cfb.chains.follow(&cfb.fat, u(0x3C), n_sectors);
        if !ok && u(0x3C) != ENDOFCHAIN {
            cfb.damage = Some("the mini FAT chain is broken".to_string());
        }
        for id in mf_sectors {
            let s = cfb.sector(id);
            for i in 0..ss / 4 {
                cfb.minifat.push(u32_at(s, 4 * i).unwrap_or(NOSTREAM));
            }
        }
        let root_start = cfb.dirs[0].start;
        let (ms, _) = cfb.chains.follow(&cfb.fat, root_start, n_sectors);
        cfb.mini_stream = ms;
        let n_mini = (cfb.mini_stream.len() * (ss / MINI_SECTOR)).min(cfb.minifat.len());
        cfb.minifat.truncate(n_mini);
        cfb.mini_chains = Chains::new(n_mini);
        Ok(cfb)
    }

    fn sector_of(data: &[u8], ss: usize, id: u32) -> &[u8] {
        let start = (id as usize).saturating_add(1).saturating_mul(ss);
        let end = start.saturating_add(ss).min(data.len());
        data.get(start..end).unwrap_or(&[])
    }

    /// The file spans holding a stream, and whether they hold all of it.
    fn spans(&mut self, start: u32, size: u64) -> (Vec<(usize, usize)>, bool) {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut push = |off: usize, len: usize| {
            if len == 0 {
                return;
            }
            match spans.last_mut() {
                Some(last) if last.0 + last.1 == off => last.1 += len,
                _ => spans.push((off, len)),
            }
        };
        let mut left = size;
        let mini = size < self.mini_cutoff;
        let unit = if mini { MINI_SECTOR } else { self.ss };
        let want = usize::try_from(size.div_ceil(unit as u64)).unwrap_or(usize::MAX);
        let (ids, _) = if mini {
            self.mini_chains.follow(&self.minifat, start, want)
        } else {
            self.chains.follow(&self.fat, start, want)
        };
        for id in ids {
            let off = if mini {
                let byte = id as usize * MINI_SECTOR;
                let Some(&big) = self.mini_stream.get(byte / self.ss) else {
                    break;
                };
                (big as usize + 1) * self.ss + byte % self.ss
            } else {
                (id as usize + 1) * self.ss
            };
            let avail = self.data.len().saturating_sub(off).min(unit);
            let take = (avail as u64).min(left) as usize;
            push(off, take);
            left -= take as u64;
            if avail < unit || left == 0 {
                break;
            }
        }
        (spans, left == 0)
    }
}

/// Reads a list of file spans in order.
struct SpanReader<'a> {
    data: &'a [u8],
    spans: std::vec::IntoIter<(usize, usize)>,
    cur: &'a [u8],
}

impl Read for SpanReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.spans.next() {
                Some((off, len)) => {
                    self.cur = self.data.get(off..off + len).unwrap_or(&[]);
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = &self.cur[n..];
        Ok(n)
    }
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut cfb = Cfb::parse(data, ctx)?;
    let n = cfb.dirs.len();
    let mut visited = vec![false; n];
    visited[0] = true;
    // Streams in tree order: (dir id, path).
    let mut streams: Vec<(usize, String, usize)> = Vec::new();
    // Storages still to list: (child tree root, path prefix, storage id).
    let mut todo: Vec<(u32, String, usize)> = vec![(cfb.dirs[0].child, String::new(), 0)];
    while let Some((root, prefix, parent)) = todo.pop() {
        ctx.check_time()?;
        // In-order walk of the sibling tree.
        let mut members = Vec::new();
        let mut stack = Vec::new();
        let mut cur = root;
        loop {
            while (cur as usize) < n && !visited[cur as usize] {
                visited[cur as usize] = true;
                stack.push(cur as usize);
                cur = cfb.dirs[cur as usize].left;
            }
            let Some(id) = stack.pop() else { break };
            members.push(id);
            cur = cfb.dirs[id].right;
        }
        let mut sub = Vec::new();
        for id in members {
            let d = &cfb.dirs[id];
            let path = format!("{prefix}{}", d.name);
            match d.kind {
                2 => streams.push((id, path, parent)),
                1 | 5 => sub.push((d.child, format!("{path}/"), id)),
                _ => {}
            }
        }
        // Depth first, in order: the first storage is listed next.
        todo.extend(sub.into_iter().rev());
    }

    // (storage path, storage id, modules of its `dir` stream).
    type Modules = Vec<(String, u32)>;
    let mut vba_modules: Vec<(String, usize, Modules)> = Vec::new();
    let mut ppt_damage: Option<String> = None;
    for (id, path, parent) in streams {
        ctx.check_time()?;
        let (start, size) = (cfb.dirs[id].start, cfb.dirs[id].size);
        let (spans, whole) = cfb.spans(start, size);
        let short = (!whole).then(|| {
            Issue::corrupt(format!(
                "ole2: stream {path:?} is truncated (its sector chain ends before {size} bytes)"
            ))
        });
        let content: Cow<'_, [u8]> = match spans.as_slice() {
            [] => Cow::Borrowed(&[]),
            &[(off, len)] => Cow::Borrowed(data.get(off..off + len).unwrap_or(&[])),
            _ => {
                let packed = Cell::new(0);
                let mut r = Counted::new(
                    SpanReader {
                        data,
                        spans: spans.into_iter(),
                        cur: &[],
                    },
                    &packed,
                );
                let e = ctx.expand(&mut r, &packed);
                if let Some(cut) = e.cut {
                    if sink(
                        ctx,
                        Entry::expanded(
                            path,
                            crate::Expanded {
                                data: e.data,
                                cut: Some(cut),
                            },
                        ),
                    ) == Flow::Stop
                    {
                        return Ok(());
                    }
                    continue;
                }
                Cow::Owned(e.data)
            }
        };
        let leaf = path.rsplit('/').next().unwrap_or("");
        let embedded = if leaf == "\u{1}Ole10Native" {
            content.get(4..).and_then(parse_package).map(|p| {
                (
                    p.name(),
                    sub_cow(&content, 4 + p.data.0, p.data.1),
                    p.truncated,
                )
            })
        } else {
            None
        };
        let ppt = if leaf == "PowerPoint Document" {
            let (objects, damage) = ppt_objects(&content, ctx)?;
            if let Some(d) = damage {
                ppt_damage.get_or_insert(format!("stream {path:?}: {d}"));
            }
            // The stream is handed out below; its objects are read from
            // this copy afterwards, one at a time (a borrowed stream costs
            // nothing to keep).
            (!objects.is_empty()).then(|| (objects, content.clone(), path.clone()))
        } else {
            None
        };
        if leaf.eq_ignore_ascii_case("dir")
            && let Some(mods) = vba_dir(&content)
        {
            let prefix = path[..path.len() - leaf.len()].to_string();
            vba_modules.push((prefix, parent, mods));
        }
        let entry = Entry {
            name: path,
            data: content,
            issue: short,
        };
        if sink(ctx, entry) == Flow::Stop {
            return Ok(());
        }
        if let Some((name, bytes, truncated)) = embedded {
            let issue = truncated
                .then(|| Issue::corrupt("ole2: the file in an Ole10Native stream is truncated"));
            if sink(
                ctx,
                Entry {
                    name,
                    data: bytes,
                    issue,
                },
            ) == Flow::Stop
            {
                return Ok(());
            }
        }
        if let Some((objects, stream, path)) = ppt {
            for o in &objects {
                ctx.check_time()?;
                let entry = ppt_object(&stream, o, &path, ctx);
                if sink(ctx, entry) == Flow::Stop {
                    return Ok(());
                }
            }
        }
    }

    // VBA source of every module listed in a `dir` stream.
    for (prefix, parent, mods) in vba_modules {
        for (stream, offset) in mods {
            ctx.check_time()?;
            let path = format!("{prefix}{stream}");
            let Some(id) = find_stream(&cfb, parent, &stream) else {
                continue;
            };
            let (start, size) = (cfb.dirs[id].start, cfb.dirs[id].size);
            let (spans, _) = cfb.spans(start, size);
            let mut raw = Vec::new();
            let _ = SpanReader {
                data,
                spans: spans.into_iter(),
                cur: &[],
            }
            .read_to_end(&mut raw);
            let Some(compressed) = raw.get(offset as usize..) else {
                continue;
            };
            let packed = Cell::new(0);
            let mut r = OvbaReader::new(Counted::new(compressed, &packed));
            let e = ctx.expand(&mut r, &packed);
            if sink(ctx, Entry::expanded(format!("{path}.vba"), e)) == Flow::Stop {
                return Ok(());
            }
        }
    }

    match cfb.damage.or(ppt_damage) {
        Some(d) => Err(Issue::corrupt(format!("ole2: {d}"))),
        None => Ok(()),
    }
}

/// [MS-PPT] record type of ExOleObjStg: the storage of an embedded or
/// linked OLE object, as a compound file.
const RT_EX_OLE_OBJ_STG: u16 = 0x1011;
/// A record's version field that marks a container of further records.
const REC_VER_CONTAINER: u16 = 0xF;

/// An ExOleObjStg record in a `PowerPoint Document` stream.
struct PptObject {
    /// Offset of the record header in the stream.
    offset: usize,
    /// recInstance 1: a 4-byte decompressed size, then a zlib stream.
    compressed: bool,
    /// Where the record's data lies in the stream (cut at its end).
    body: (usize, usize),
    /// The record claims more bytes than the stream holds.
    truncated: bool,
}

/// The ExOleObjStg records of a `PowerPoint Document` stream, in order,
/// and what broke the walk, if anything. The stream is a sequence of
/// records (8-byte header: version and instance, type, length); a
/// container's records follow its header, so the walk steps into
/// containers and over atoms, at most one step per 8 bytes.
fn ppt_objects(stream: &[u8], ctx: &Ctx) -> Result<(Vec<PptObject>, Option<String>), Issue> {
    let mut objects = Vec::new();
    let max = usize::try_from(ctx.limits().max_entries).unwrap_or(usize::MAX);
    let mut pos = 0usize;
    let mut steps = 0u32;
    while let (Some(vi), Some(rt), Some(len)) = (
        u16_at(stream, pos),
        u16_at(stream, pos + 2),
        u32_at(stream, pos + 4),
    ) {
        steps = steps.wrapping_add(1);
        if steps.is_multiple_of(4096) {
            ctx.check_time()?;
        }
        let len = len as usize;
        let start = pos + 8;
        let avail = stream.len() - start;
        if vi & 0xF == REC_VER_CONTAINER {
            if len > avail {
                return Ok((
                    objects,
                    Some(format!(
                        "the record container at 0x{pos:x} runs past the end of the stream"
                    )),
                ));
            }
            pos = start;
            continue;
        }
        if rt == RT_EX_OLE_OBJ_STG && matches!(vi >> 4, 0 | 1) && objects.len() < max {
            objects.push(PptObject {
                offset: pos,
                compressed: vi >> 4 == 1,
                body: (start, len.min(avail)),
                truncated: len > avail,
            });
        }
        if len > avail {
            return Ok((
                objects,
                Some(format!(
                    "the record at 0x{pos:x} runs past the end of the stream"
                )),
            ));
        }
        pos = start + len;
    }
    Ok((objects, None))
}

/// The OLE object of an ExOleObjStg record: its bytes, or, compressed,
/// its zlib stream expanded within the limits (the size the record
/// declares is only compared with what comes out, never used to size
/// anything).
fn ppt_object<'a>(stream: &Cow<'a, [u8]>, o: &PptObject, path: &str, ctx: &mut Ctx) -> Entry<'a> {
    let name = format!("{path}/ExOleObjStg@0x{:x}", o.offset);
    let truncated = || {
        Issue::corrupt(format!(
            "ole2: the OLE object record at 0x{:x} of {path:?} is truncated",
            o.offset
        ))
    };
    let (start, len) = o.body;
    if !o.compressed {
        let mut e = Entry::new(name, sub_cow(stream, start, len));
        e.issue = o.truncated.then(truncated);
        return e;
    }
    let body = stream.get(start..start + len).unwrap_or_default();
    let Some(declared) = u32_at(body, 0) else {
        return Entry::failed(name, truncated());
    };
    let packed = Cell::new(0);
    let zlib = body.get(4..).unwrap_or_default();
    let mut z = flate2::read::ZlibDecoder::new(Counted::new(zlib, &packed));
    let e = ctx.expand(&mut z, &packed);
    let got = e.data.len();
    let mut entry = Entry::expanded(name, e);
    if entry.issue.is_none() {
        if o.truncated {
            entry.issue = Some(truncated());
        } else if got as u64 != u64::from(declared) {
            entry.issue = Some(Issue::corrupt(format!(
                "ole2: the OLE object at 0x{:x} of {path:?} decompresses to {got} bytes, not the {declared} its record declares",
                o.offset
            )));
        }
    }
    entry
}

/// The directory entry of the stream `name` (ASCII case-insensitive, as
/// VBA names are) in the storage `parent`.
fn find_stream(cfb: &Cfb<'_>, parent: usize, name: &str) -> Option<usize> {
    let n = cfb.dirs.len();
    let mut stack = vec![cfb.dirs[parent].child];
    let mut steps = 0;
    while let Some(id) = stack.pop() {
        steps += 1;
        if steps > n || id as usize >= n {
            continue;
        }
        let d = &cfb.dirs[id as usize];
        if d.kind == 2 && d.name.eq_ignore_ascii_case(name) {
            return Some(id as usize);
        }
        stack.push(d.left);
        stack.push(d.right);
    }
    None
}

fn sub_cow<'a>(c: &Cow<'a, [u8]>, off: usize, len: usize) -> Cow<'a, [u8]> {
    match c {
        Cow::Borrowed(b) => Cow::Borrowed(b.get(off..off + len).unwrap_or(&[])),
        Cow::Owned(v) => Cow::Owned(v.get(off..off + len).unwrap_or(&[]).to_vec()),
    }
}

/// An OLE Package (the native data of a `Package` object, also the body
/// of an `\u{1}Ole10Native` stream after its size field).
pub(crate) struct Package {
    /// The display label, usually the file name.
    pub label: Vec<u8>,
    /// The original path of the file.
    pub path: Vec<u8>,
    /// Offset and length of the file's content in the parsed bytes.
    pub data: (usize, usize),
    /// The content is shorter than its declared size.
    pub truncated: bool,
}

impl Package {
    /// The label, else the last element of the path, else `package`.
    pub(crate) fn name(&self) -> String {
        if !self.label.is_empty() {
            return String::from_utf8_lossy(&self.label).into_owned();
        }
        let base = self
            .path
            .rsplit(|&b| b == b'\\' || b == b'/')
            .next()
            .unwrap_or(&[]);
        if base.is_empty() {
            "package".to_string()
        } else {
            String::from_utf8_lossy(base).into_owned()
        }
    }
}

/// Parses an OLE Package: u16 type (2 for an embedded file), label and
/// original path (NUL-terminated), u32 (0x00030000), a u32-length-prefixed
/// temporary path, a u32 size and the file's content.
pub(crate) fn parse_package(b: &[u8]) -> Option<Package> {
    fn cstr(b: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
        let rest = b.get(*pos..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        *pos += end + 1;
        Some(rest[..end].to_vec())
    }
    if u16_at(b, 0)? != 2 {
        return None;
    }
    let mut pos = 2;
    let label = cstr(b, &mut pos)?;
    let path = cstr(b, &mut pos)?;
    pos += 4; // 0x00030000: an embedded file.
    let tmp_len = u32_at(b, pos)? as usize;
    pos = pos.checked_add(4)?.checked_add(tmp_len)?;
    let size = u32_at(b, pos)? as usize;
    pos += 4;
    let avail = b.len().checked_sub(pos)?;
    Some(Package {
        label,
        path,
        data: (pos, size.min(avail)),
        truncated: size > avail,
    })
}

/// The modules listed in a VBA `dir` stream (MS-OVBA 2.3.4.2, compressed):
/// (stream name, offset of the compressed source in the stream).
fn vba_dir(stream: &[u8]) -> Option<Vec<(String, u32)>> {
    if stream.first() != Some(&1) {
        return None;
    }
    let mut dir = Vec::new();
    // The dir stream is a few KiB; 4 MiB bounds a hostile one.
    let _ = OvbaReader::new(stream).take(4 << 20).read_to_end(&mut dir);
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut name: Option<String> = None;
    while pos + 6 <= dir.len() {
        let id = u16_at(&dir, pos)?;
        let len = u32_at(&dir, pos + 2)? as usize;
        let body_start = pos + 6;
        // PROJECTVERSION (0x0009) has a fixed size of 6 whatever its length says.
        let body_len = if id == 0x0009 { 6 } else { len };
        let body = dir.get(body_start..body_start.checked_add(body_len)?)?;
        match id {
            // MODULESTREAMNAME
            0x001A => name = Some(String::from_utf8_lossy(body).into_owned()),
            // MODULEOFFSET
            0x0031 => {
                if let (Some(n), Some(off)) = (name.take(), u32_at(body, 0)) {
                    out.push((n, off));
                }
            }
            _ => {}
        }
        pos = body_start + body_len;
    }
    Some(out)
}

/// MS-OVBA decompression (2.4.1) as a reader: a signature byte 1, then
/// chunks of a 2-byte header and up to 4096 bytes of flag-led tokens.
struct OvbaReader<R> {
    inner: R,
    started: bool,
    done: bool,
    /// The current decompressed chunk and how much of it was read.
    chunk: Vec<u8>,
    pos: usize,
}

impl<R: Read> OvbaReader<R> {
    fn new(inner: R) -> OvbaReader<R> {
        OvbaReader {
            inner,
            started: false,
            done: false,
            chunk: Vec::new(),
            pos: 0,
        }
    }

    fn read_exact_or_eof(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            let n = self.inner.read(&mut buf[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        Ok(got)
    }

    /// Decompresses the next chunk into `self.chunk`; false at the end.
    fn next_chunk(&mut self) -> std::io::Result<bool> {
        if !self.started {
            self.started = true;
            let mut sig = [0u8; 1];
            if self.read_exact_or_eof(&mut sig)? != 1 || sig[0] != 1 {
                return Ok(false);
            }
        }
        let mut hdr = [0u8; 2];
        if self.read_exact_or_eof(&mut hdr)? != 2 {
            return Ok(false);
        }
        let h = u16::from_le_bytes(hdr);
        let size = (h & 0x0FFF) as usize + 3;
        let compressed = h & 0x8000 != 0;
        let mut raw = vec![0u8; size - 2];
        let got = self.read_exact_or_eof(&mut raw)?;
        raw.truncate(got);
        self.chunk.clear();
        self.pos = 0;
        if !compressed {
            self.chunk.extend_from_slice(&raw);
            return Ok(got > 0);
        }
        let out = &mut self.chunk;
        let mut i = 0;
        while i < raw.len() && out.len() < 4096 {
            let flags = raw[i];
            i += 1;
            for bit in 0..8 {
                if i >= raw.len() || out.len() >= 4096 {
                    break;
                }
                if flags & (1 << bit) == 0 {
                    out.push(raw[i]);
                    i += 1;
                } else {
                    let Some(t) = u16_at(&raw, i) else {
                        i = raw.len();
                        break;
                    };
                    i += 2;
                    let d = out.len();
                    let mut bits = 4u32;
                    while (1usize << bits) < d {
                        bits += 1;
                    }
                    let bits = bits.min(12);
                    let len_mask = 0xFFFFu16 >> bits;
                    let length = (t & len_mask) as usize + 3;
                    let offset = (t >> (16 - bits)) as usize + 1;
                    if offset > d {
                        return Err(std::io::Error::other(
                            "VBA copy token before the chunk start",
                        ));
                    }
                    for _ in 0..length {
                        if out.len() >= 4096 {
                            break;
                        }
                        let b = out[out.len() - offset];
                        out.push(b);
                    }
                }
            }
        }
        Ok(true)
    }
}

impl<R: Read> Read for OvbaReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.chunk.len() {
            if self.done || !self.next_chunk()? {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testutil::{EICAR, walk, walk_with};
    use crate::{IssueKind, Limits};
    use std::io::{Cursor, Write};

    pub(crate) fn build(streams: &[(&str, &[u8])]) -> Vec<u8> {
        let mut c = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
        for (path, data) in streams {
            let parts: Vec<&str> = path.split('/').collect();
            for i in 1..parts.len() {
                let storage = format!("/{}", parts[..i].join("/"));
                if !c.exists(&storage) {
                    c.create_storage(&storage).unwrap();
                }
            }
            let mut s = c.create_stream(format!("/{path}")).unwrap();
            s.write_all(data).unwrap();
        }
        c.flush().unwrap();
        c.into_inner().into_inner()
    }

    fn package(label: &str, content: &[u8]) -> Vec<u8> {
        let mut p = vec![2, 0];
        p.extend_from_slice(label.as_bytes());
        p.push(0);
        p.extend_from_slice(b"C:\\tmp\\x.com\0");
        p.extend_from_slice(&[0, 0, 3, 0]);
        let tmp = b"C:\\Temp\\x.com\0";
        p.extend_from_slice(&(tmp.len() as u32).to_le_bytes());
        p.extend_from_slice(tmp);
        p.extend_from_slice(&(content.len() as u32).to_le_bytes());
        p.extend_from_slice(content);
        p
    }

    #[test]
    fn eicar_in_nested_compound_files() {
        let mut big = vec![b'A'; 9000];
        big.extend_from_slice(EICAR);
        let inner = build(&[("Dir/Sub/eicar.com", EICAR), ("big", &big)]);
        let outer = build(&[
            ("WordDocument", b"hello"),
            ("ObjectPool/_123/inner", &inner),
        ]);
        assert!(detect(&outer));
        let w = walk(&outer, "outer.doc");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        let f = w.containing(EICAR).unwrap();
        assert_eq!(f.chain, "ObjectPool/_123/inner");
        assert!(
            w.found
                .iter()
                .any(|f| f.chain == "ObjectPool/_123/inner!Dir/Sub/eicar.com" && f.data == EICAR)
        );
        let big_found = w
            .found
            .iter()
            .find(|f| f.chain == "ObjectPool/_123/inner!big")
            .unwrap();
        assert_eq!(big_found.data, big);
        assert!(w.chains().contains(&"WordDocument"));
    }

    #[test]
    fn eicar_in_ole10native() {
        let mut stream = Vec::new();
        let p = package("eicar.com", EICAR);
        stream.extend_from_slice(&(p.len() as u32).to_le_bytes());
        stream.extend_from_slice(&p);
        let file = build(&[("\u{1}Ole10Native", &stream)]);
        let w = walk(&file, "oleObject1.bin");
        let f = w.found.iter().find(|f| f.chain == "eicar.com").unwrap();
        assert_eq!(f.data, EICAR);
        assert!(f.issue.is_none());
    }

    /// Literal-only MS-OVBA compression.
    fn ovba_literal(data: &[u8]) -> Vec<u8> {
        let mut out = vec![1u8];
        for chunk in data.chunks(4096) {
            let mut body = Vec::new();
            for group in chunk.chunks(8) {
                body.push(0);
                body.extend_from_slice(group);
            }
            let h = 0xB000u16 | (body.len() as u16 + 2 - 3);
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&body);
        }
        out
    }

    #[test]
    fn ovba_spec_example() {
        // MS-OVBA 3.2.3: compressed array with copy tokens.
        let compressed: &[u8] = &[
            0x01, 0x2F, 0xB0, 0x00, 0x23, 0x61, 0x61, 0x61, 0x62, 0x63, 0x64, 0x65, 0x82, 0x66,
            0x00, 0x70, 0x61, 0x67, 0x68, 0x69, 0x6A, 0x01, 0x38, 0x08, 0x61, 0x6B, 0x6C, 0x00,
            0x30, 0x6D, 0x6E, 0x6F, 0x70, 0x06, 0x71, 0x02, 0x70, 0x04, 0x10, 0x72, 0x73, 0x74,
            0x75, 0x76, 0x10, 0x77, 0x78, 0x79, 0x7A, 0x00, 0x3C,
        ];
        let mut out = Vec::new();
        OvbaReader::new(compressed).read_to_end(&mut out).unwrap();
        assert_eq!(
            out,
            b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa"
        );
    }

    #[test]
    fn vba_source_is_decompressed() {
        let source = [
            b"Attribute VB_Name = \"ThisDocument\"\r\nSub AutoOpen()\r\n' ".as_slice(),
            EICAR,
            b"\r\nEnd Sub\r\n",
        ]
        .concat();
        let mut module = vec![0u8; 10]; // performance cache
        module.extend_from_slice(&ovba_literal(&source));
        let mut dir = Vec::new();
        // PROJECTVERSION with its odd fixed size, then one module.
        dir.extend_from_slice(&[0x09, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 2, 0]);
        dir.extend_from_slice(&0x19u16.to_le_bytes());
        dir.extend_from_slice(&12u32.to_le_bytes());
        dir.extend_from_slice(b"ThisDocument");
        dir.extend_from_slice(&0x1Au16.to_le_bytes());
        dir.extend_from_slice(&12u32.to_le_bytes());
        dir.extend_from_slice(b"ThisDocument");
        dir.extend_from_slice(&0x31u16.to_le_bytes());
        dir.extend_from_slice(&4u32.to_le_bytes());
        dir.extend_from_slice(&10u32.to_le_bytes());
        dir.extend_from_slice(&[0x2B, 0, 0, 0, 0, 0]);
        let file = build(&[
            ("Macros/VBA/dir", &ovba_literal(&dir)),
            ("Macros/VBA/ThisDocument", &module),
        ]);
        let w = walk(&file, "x.doc");
        let f = w.containing(EICAR).unwrap();
        assert_eq!(f.chain, "Macros/VBA/ThisDocument.vba");
        assert_eq!(f.data, source);
    }

    /// A version 3 file by hand: sector 0 the FAT, 1 the directory, 2 and
    /// up data. `fat` gives the FAT entries after the first two.
    fn handmade(fat_tail: &[u32], size: u32, dir_next: u32) -> Vec<u8> {
        let mut f = vec![0u8; 512];
        f[..8].copy_from_slice(MAGIC);
        f[0x18..0x1A].copy_from_slice(&0x3Eu16.to_le_bytes());
        f[0x1A..0x1C].copy_from_slice(&3u16.to_le_bytes());
        f[0x1C..0x1E].copy_from_slice(&0xFFFEu16.to_le_bytes());
        f[0x1E..0x20].copy_from_slice(&9u16.to_le_bytes());
        f[0x20..0x22].copy_from_slice(&6u16.to_le_bytes());
        f[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes());
        f[0x30..0x34].copy_from_slice(&1u32.to_le_bytes());
        // No mini stream: every stream lives in regular sectors.
        f[0x38..0x3C].copy_from_slice(&0u32.to_le_bytes());
        f[0x3C..0x40].copy_from_slice(&ENDOFCHAIN.to_le_bytes());
        f[0x44..0x48].copy_from_slice(&ENDOFCHAIN.to_le_bytes());
        for i in 0..109 {
            let v = if i == 0 { 0 } else { NOSTREAM };
            f[0x4C + 4 * i..0x50 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        // FAT sector.
        let mut fat = vec![0xFFFF_FFFDu32, dir_next];
        fat.extend_from_slice(fat_tail);
        fat.resize(128, NOSTREAM);
        for v in fat {
            f.extend_from_slice(&v.to_le_bytes());
        }
        // Directory: root and one stream.
        let mut dir = vec![0u8; 512];
        let entry = |d: &mut [u8], name: &str, kind: u8, child: u32, start: u32, size: u32| {
            let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
            for (i, u) in units.iter().enumerate() {
                d[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
            }
            d[0x40..0x42].copy_from_slice(&(units.len() as u16 * 2).to_le_bytes());
            d[0x42] = kind;
            d[0x44..0x48].copy_from_slice(&NOSTREAM.to_le_bytes());
            d[0x48..0x4C].copy_from_slice(&NOSTREAM.to_le_bytes());
            d[0x4C..0x50].copy_from_slice(&child.to_le_bytes());
            d[0x74..0x78].copy_from_slice(&start.to_le_bytes());
            d[0x78..0x7C].copy_from_slice(&size.to_le_bytes());
        };
        entry(&mut dir[..128], "Root Entry", 5, 1, ENDOFCHAIN, 0);
        entry(&mut dir[128..256], "../evil\u{1b}[2J", 2, NOSTREAM, 2, size);
        f.extend_from_slice(&dir);
        for i in 0..fat_tail.len() {
            let mut s = vec![b'0' + i as u8; 512];
            if i == 0 {
                s[..EICAR.len()].copy_from_slice(EICAR);
            }
            f.extend_from_slice(&s);
        }
        f
    }

    #[test]
    fn handmade_file_reads() {
        let f = handmade(&[3, 4, ENDOFCHAIN], 1500, ENDOFCHAIN);
        let w = walk(&f, "x");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        let e = w.containing(EICAR).unwrap();
        assert_eq!(e.chain, "../evil\u{1b}[2J");
        assert_eq!(e.data.len(), 1500);
        assert!(e.issue.is_none());
    }

    #[test]
    fn cyclic_chains_end() {
        // The stream's chain loops 2 -> 3 -> 2; its size claims 4 GiB.
        let f = handmade(&[3, 2], u32::MAX, ENDOFCHAIN);
        let w = walk(&f, "x");
        let e = w.containing(EICAR).unwrap();
        assert_eq!(e.data.len(), 1024);
        assert_eq!(e.issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        // The directory chain loops onto itself.
        let f = handmade(&[ENDOFCHAIN], 100, 1);
        let w = walk(&f, "x");
        assert_eq!(w.containing(EICAR).unwrap().data.len(), 100);
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        let inner = build(&[("Dir/eicar.com", EICAR)]);
        let outer = build(&[("a", b"x"), ("inner", &inner)]);
        for len in (0..outer.len()).step_by(97) {
            let _ = walk(&outer[..len], "t");
        }
        let limits = Limits {
            max_expanded: 1 << 20,
            ..Limits::default()
        };
        for i in (0..outer.len()).step_by(7) {
            let mut m = outer.clone();
            m[i] ^= 0xFF;
            let _ = walk_with(&m, "t", &limits);
            m[i] = 0xFF;
            let _ = walk_with(&m, "t", &limits);
        }
    }

    /// A [MS-PPT] record: header (version and instance, type, length)
    /// and body.
    fn record(ver: u16, instance: u16, rec_type: u16, body: &[u8]) -> Vec<u8> {
        let mut r = (ver | instance << 4).to_le_bytes().to_vec();
        r.extend_from_slice(&rec_type.to_le_bytes());
        r.extend_from_slice(&(body.len() as u32).to_le_bytes());
        r.extend_from_slice(body);
        r
    }

    /// An ExOleObjStg record holding `object` zlib-compressed, declaring
    /// `declared` bytes.
    fn compressed_object(object: &[u8], declared: u32) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(object).unwrap();
        let mut body = declared.to_le_bytes().to_vec();
        body.extend_from_slice(&z.finish().unwrap());
        record(0, 1, RT_EX_OLE_OBJ_STG, &body)
    }

    /// A minimal `PowerPoint Document` stream: a DocumentContainer (0x03E8)
    /// with a DocumentAtom-sized atom inside, then `objects`; and the
    /// offset of each object record.
    fn ppt_stream(objects: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
        let atom = record(1, 0, 0x03E9, &[0u8; 40]);
        let mut s = record(0xF, 0, 0x03E8, &atom);
        let mut offsets = Vec::new();
        for o in objects {
            offsets.push(s.len());
            s.extend_from_slice(o);
        }
        (s, offsets)
    }

    #[test]
    fn powerpoint_ole_objects_are_decompressed() {
        let inner = build(&[("eicar.com", EICAR)]);
        let (stream, at) = ppt_stream(&[
            compressed_object(&inner, inner.len() as u32),
            record(0, 0, RT_EX_OLE_OBJ_STG, &inner),
        ]);
        let file = build(&[("Current User", b"x"), ("PowerPoint Document", &stream)]);
        let w = walk(&file, "deck.ppt");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        for off in &at {
            let obj = format!("PowerPoint Document/ExOleObjStg@0x{off:x}");
            let f = w.found.iter().find(|f| f.chain == obj).unwrap();
            assert_eq!(f.data, inner);
            assert!(f.issue.is_none());
            let e = w
                .found
                .iter()
                .find(|f| f.chain == format!("{obj}!eicar.com"))
                .unwrap();
            assert_eq!(e.data, EICAR);
        }
        // Only streams called `PowerPoint Document` are read as records.
        let file = build(&[("Other", &stream)]);
        assert_eq!(walk(&file, "x").found.len(), 1);
        // The fuzz seed of the same shape, with "hello" for EICAR
        // (fuzz-formats/corpus/fmt_ole2): written where
        // TAKEDOWN_WRITE_FUZZ_SEED names a file.
        if let Some(path) = std::env::var_os("TAKEDOWN_WRITE_FUZZ_SEED") {
            let hello = build(&[("hello.txt", b"hello\n")]);
            let (stream, _) = ppt_stream(&[compressed_object(&hello, hello.len() as u32)]);
            std::fs::write(path, build(&[("PowerPoint Document", &stream)])).unwrap();
        }
    }

    #[test]
    fn clamav_clam_ppt_gives_its_object() {
        // Debian's clamav-testfiles; the binary's test over them requires
        // it (and CI installs it), here it is looked at when present.
        let Ok(ppt) = std::fs::read("/usr/share/clamav-testfiles/clam.ppt") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install clamav-testfiles"
            );
            eprintln!("skipped: clamav-testfiles not installed");
            return;
        };
        let w = walk(&ppt, "clam.ppt");
        let obj = w
            .found
            .iter()
            .find(|f| f.chain == "PowerPoint Document/ExOleObjStg@0x1146")
            .unwrap();
        assert!(obj.issue.is_none());
        assert!(detect(&obj.data));
        let exe = w
            .found
            .iter()
            .find(|f| f.chain == "PowerPoint Document/ExOleObjStg@0x1146!clam.exe")
            .unwrap();
        assert_eq!(exe.data.len(), 544);
        assert!(exe.data.starts_with(b"MZ"));
        assert!(w.issues.is_empty(), "{:?}", w.issues);
    }

    #[test]
    fn powerpoint_truncated_and_corrupt_objects_are_reported() {
        let inner = build(&[("eicar.com", EICAR)]);
        let object = compressed_object(&inner, inner.len() as u32);
        let (stream, at) = ppt_stream(std::slice::from_ref(&object));
        let name = format!("PowerPoint Document/ExOleObjStg@0x{:x}", at[0]);
        // Cut inside the zlib stream: what came out is handed out, the
        // object and the file are reported.
        let cut = &stream[..stream.len() - 40];
        let w = walk(&build(&[("PowerPoint Document", cut)]), "x.ppt");
        let f = w.found.iter().find(|f| f.chain == name).unwrap();
        assert_eq!(f.issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert!(inner.starts_with(&f.data));
        assert!(
            w.issues
                .iter()
                .any(|(c, i)| c.is_empty() && i.message.contains("runs past the end")),
            "{:?}",
            w.issues
        );
        // A size field alone.
        let (short, _) = ppt_stream(&[record(0, 1, RT_EX_OLE_OBJ_STG, &[1, 0])]);
        let w = walk(&build(&[("PowerPoint Document", &short)]), "x.ppt");
        let f = w
            .found
            .iter()
            .find(|f| f.chain.contains("ExOleObjStg"))
            .unwrap();
        assert!(f.data.is_empty());
        assert_eq!(f.issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        // A declared size that is not what comes out.
        let (lying, _) = ppt_stream(&[compressed_object(&inner, 7)]);
        let w = walk(&build(&[("PowerPoint Document", &lying)]), "x.ppt");
        let f = w
            .found
            .iter()
            .find(|f| f.chain.contains("ExOleObjStg"))
            .unwrap();
        assert_eq!(f.data, inner);
        assert!(f.issue.as_ref().unwrap().message.contains("not the 7"));
        // Garbage instead of zlib.
        let (garbage, _) = ppt_stream(&[record(0, 1, RT_EX_OLE_OBJ_STG, &[9; 64])]);
        let w = walk(&build(&[("PowerPoint Document", &garbage)]), "x.ppt");
        let f = w
            .found
            .iter()
            .find(|f| f.chain.contains("ExOleObjStg"))
            .unwrap();
        assert_eq!(f.issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        // Every cut and many flipped bytes: no panic.
        let file = build(&[("PowerPoint Document", &stream)]);
        for len in (0..stream.len()).step_by(13) {
            let _ = walk(&build(&[("PowerPoint Document", &stream[..len])]), "t");
        }
        for i in (0..stream.len()).step_by(5) {
            let mut s = stream.clone();
            s[i] ^= 0xFF;
            let _ = walk(&build(&[("PowerPoint Document", &s)]), "t");
        }
        for i in (0..file.len()).step_by(11) {
            let mut m = file.clone();
            m[i] ^= 0x5A;
            let _ = walk(&m, "t");
        }
    }

    #[test]
    fn powerpoint_object_bombs_stop_at_the_limits() {
        // 8 MiB of zeros declared as 4 GiB - 1: cut at the member limit,
        // never sized by the declaration.
        let (stream, _) = ppt_stream(&[compressed_object(&vec![0u8; 8 << 20], u32::MAX)]);
        let limits = Limits {
            max_member_size: 1 << 20,
            ..Limits::default()
        };
        let w = walk_with(
            &build(&[("PowerPoint Document", &stream)]),
            "x.ppt",
            &limits,
        );
        let f = w
            .found
            .iter()
            .find(|f| f.chain.contains("ExOleObjStg"))
            .unwrap();
        assert_eq!(f.data.len(), 1 << 20);
        assert_eq!(
            f.issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-filesize")
        );
        // A stream of container headers only, each claiming the rest.
        let mut nested = Vec::new();
        for i in 0..10_000u32 {
            let rest = (10_000 - i - 1) * 8;
            nested.extend_from_slice(&0x000Fu16.to_le_bytes());
            nested.extend_from_slice(&0x03E8u16.to_le_bytes());
            nested.extend_from_slice(&rest.to_le_bytes());
        }
        let w = walk(&build(&[("PowerPoint Document", &nested)]), "x.ppt");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.found.len(), 1);
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"just some text"));
        assert!(!detect(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"));
        assert!(!detect(&[0xD0, 0xCF, 0x11, 0xE0]));
        let r: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(!detect(&r));
    }
}
