//! Symbian installation files (SIS).
//!
//! Two unrelated formats share the `.sis` name:
//!
//! - The EPOC format (EPOC releases 3 to 6, Symbian before 9.1): UID1 to
//!   UID4, then a fixed header with pointers to a language list and a
//!   list of file records. Each file record names the file (source and
//!   destination, ASCII or UTF-16) and points at its data, one copy per
//!   language for a multi-language record. Release 6 files (UID2
//!   `0x10003A12`) are zlib-compressed unless the header's "no compress"
//!   option is set; older ones are stored. Option, condition and
//!   else/endif records are stepped over.
//! - The SIS 9.x format (UID1 `0x10201A7A`): a tree of typed, length-
//!   prefixed fields. Every file's data is a `SISFileData` field in the
//!   `SISData` field, each a `SISCompressed` field (stored or zlib).
//!   The controller (which names the files) is itself compressed; files
//!   are named by the `SISFileDescription` of the first controller when it
//!   can be read, `file-N` otherwise.
//!
//! Members are named by their destination path, with the drive (`C:` or
//! `!:`, "the drive the user picks") and the leading `\` removed and `\`
//! turned into `/`.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::Read;

use flate2::read::ZlibDecoder;

use crate::{Counted, Ctx, Entry, Expanded, Flow, Issue, Sink};

const UID3: u32 = 0x1000_0419;
/// UID2 of EPOC release 3, 4 and 5 files (never compressed).
const UID2_EPOC3: u32 = 0x1000_006D;
/// UID2 of EPOC release 6 files (compressed unless told otherwise).
const UID2_EPOC6: u32 = 0x1000_3A12;
/// UID1 of SIS 9.x files.
const UID1_SIS9: u32 = 0x1020_1A7A;

/// Header option: names are UTF-16.
const OPT_UNICODE: u16 = 0x0001;
/// Header option: release 6 files stored uncompressed.
const OPT_NOCOMPRESS: u16 = 0x0008;

/// Largest name read (bytes).
const MAX_NAME: usize = 1024;
/// Languages a multi-language record may carry copies for.
const MAX_LANGS: usize = 256;
/// Field nesting followed in a SIS 9.x file (the real tree is about 8
/// deep).
const MAX_FIELD_DEPTH: u32 = 16;
/// Largest controller expanded to read file names from.
const MAX_CONTROLLER: u64 = 4 << 20;

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

fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        d.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

pub(crate) fn detect(data: &[u8]) -> bool {
    if u32_at(data, 0) == Some(UID1_SIS9) {
        // The first field must be SISContents.
        return u32_at(data, 16) == Some(SIS_CONTENTS);
    }
    u32_at(data, 8) == Some(UID3)
        && matches!(u32_at(data, 4), Some(UID2_EPOC3 | UID2_EPOC6))
        && data.len() >= EPOC_HEADER
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    if u32_at(data, 0) == Some(UID1_SIS9) {
        return extract_sis9(data, ctx, sink);
    }
    extract_epoc(data, ctx, sink)
}

/// A member's name from a destination (or source) path.
fn member_name(path: &str) -> String {
    let p = path.replace('\\', "/");
    let p = match p.as_bytes() {
        [_, b':', ..] => &p[2..],
        _ => &p[..],
    };
    p.trim_start_matches('/').to_string()
}

/// Expands a zlib stream within the limits; `expected` is the size the
/// file says the data has.
fn inflate(ctx: &mut Ctx, packed: &[u8], expected: Option<u64>, name: &str) -> Expanded {
    let count = Cell::new(0u64);
    let mut dec = ZlibDecoder::new(Counted::new(packed, &count));
    let mut e = ctx.expand(&mut dec, &count);
    if let Some(cut) = &mut e.cut {
        if cut.kind == crate::IssueKind::Corrupt {
            cut.message = format!("sis: {name}: {}", cut.message);
        }
    } else if let Some(want) = expected
        && want != e.data.len() as u64
    {
        e.cut = Some(Issue::corrupt(format!(
            "sis: {name} expands to {} bytes, its record says {want}",
            e.data.len()
        )));
    }
    e
}

// ---- EPOC (release 3 to 6) ---------------------------------------------

/// Fixed header of a release 6 file (release 3-5 headers are shorter,
/// 0x44 bytes, but every field read here lies in the first 0x44).
const EPOC_HEADER: usize = 0x44;

/// Reads `len` bytes at `ptr` as a name: UTF-16LE or 8-bit.
fn epoc_string(data: &[u8], len: u32, ptr: u32, unicode: bool) -> Option<String> {
    let len = (len as usize).min(MAX_NAME);
    let b = data.get(ptr as usize..(ptr as usize).checked_add(len)?)?;
    if unicode {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Some(String::from_utf16_lossy(&units))
    } else {
        Some(String::from_utf8_lossy(b).into_owned())
    }
}

fn extract_epoc(data: &[u8], ctx: &mut Ctx, sink: &mut Sink<'_>) -> Result<(), Issue> {
    let truncated = || Issue::corrupt("sis: the header is truncated");
    let release6 = u32_at(data, 4) == Some(UID2_EPOC6);
    let n_langs = usize::from(u16_at(data, 0x12).ok_or_else(truncated)?);
    let n_files = u16_at(data, 0x14).ok_or_else(truncated)?;
    let options = u16_at(data, 0x24).ok_or_else(truncated)?;
    let langs_at = u32_at(data, 0x30).ok_or_else(truncated)? as usize;
    let mut at = u32_at(data, 0x34).ok_or_else(truncated)? as usize;
    let unicode = options & OPT_UNICODE != 0;
    let compressed = release6 && options & OPT_NOCOMPRESS == 0;
    if n_langs > MAX_LANGS {
        return Err(Issue::corrupt(format!(
            "sis: {n_langs} languages, more than the {MAX_LANGS} read"
        )));
    }
    let lang_codes: Vec<u16> = (0..n_langs)
        .map(|i| u16_at(data, langs_at + 2 * i).unwrap_or(i as u16))
        .collect();
    for index in 0..n_files {
        ctx.check_time()?;
        let bad = |what: &str| {
            Issue::corrupt(format!(
                "sis: record {index} at offset {at}: {what} (truncated or corrupt)"
            ))
        };
        let kind = u32_at(data, at).ok_or_else(|| bad("truncated"))?;
        match kind {
            0 | 1 => {}
            2 => {
                // Options: per option, a length and a pointer per
                // language; then 128 bits of defaults.
                let n = u32_at(data, at + 4).ok_or_else(|| bad("truncated"))? as usize;
                at = n
                    .checked_mul(n_langs * 8)
                    .and_then(|s| s.checked_add(at + 8 + 16))
                    .filter(|&e| e <= data.len())
                    .ok_or_else(|| bad("an options record past the end"))?;
                continue;
            }
            3 | 4 => {
                let n = u32_at(data, at + 4).ok_or_else(|| bad("truncated"))? as usize;
                at = (at + 8)
                    .checked_add(n)
                    .filter(|&e| e <= data.len())
                    .ok_or_else(|| bad("a condition past the end"))?;
                continue;
            }
            5 | 6 => {
                at += 4;
                continue;
            }
            k => return Err(bad(&format!("unknown record type {k}"))),
        }
        let copies = if kind == 0 { 1 } else { n_langs.max(1) };
        let fields: Vec<u32> = (0..6 + 2 * copies)
            .map(|i| u32_at(data, at + 4 + 4 * i))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("truncated"))?;
        let file_type = fields[0];
        let (src_len, src_ptr, dst_len, dst_ptr) = (fields[2], fields[3], fields[4], fields[5]);
        let lens = &fields[6..6 + copies];
        let ptrs = &fields[6 + copies..6 + 2 * copies];
        let mut next = at + 4 + 4 * (6 + 2 * copies);
        let mut originals = Vec::new();
        if release6 {
            originals = (0..copies)
                .map(|i| u32_at(data, next + 4 * i))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("truncated"))?;
            // Then the MIME type's length and pointer.
            next += 4 * copies + 8;
        }
        at = next;
        // Type 4 is a file the installer creates empty: nothing to scan.
        if file_type == 4 {
            continue;
        }
        let path = epoc_string(data, dst_len, dst_ptr, unicode)
            .filter(|s| !s.is_empty())
            .or_else(|| epoc_string(data, src_len, src_ptr, unicode))
            .map(|s| member_name(&s))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("file-{index}"));
        for (copy, (&len, &ptr)) in lens.iter().zip(ptrs).enumerate() {
            let name = if copies > 1 {
                let code = lang_codes.get(copy).copied().unwrap_or(copy as u16);
                format!("{path}@lang{code}")
            } else {
                path.clone()
            };
            let Some(packed) = (ptr as usize)
                .checked_add(len as usize)
                .and_then(|e| data.get(ptr as usize..e))
            else {
                let issue = Issue::corrupt(format!(
                    "sis: {name}: {len} bytes at offset {ptr} lie past the end of the file"
                ));
                if sink(ctx, Entry::failed(name, issue)) == Flow::Stop {
                    return Ok(());
                }
                continue;
            };
            if packed.is_empty() {
                continue;
            }
            let entry = if compressed {
                let want = originals.get(copy).map(|&o| u64::from(o));
                Entry::expanded(name.clone(), inflate(ctx, packed, want, &name))
            } else {
                Entry::new(name, packed)
            };
            if sink(ctx, entry) == Flow::Stop {
                return Ok(());
            }
        }
    }
    Ok(())
}

// ---- SIS 9.x ------------------------------------------------------------

const SIS_STRING: u32 = 1;
const SIS_ARRAY: u32 = 2;
const SIS_COMPRESSED: u32 = 3;
const SIS_CONTENTS: u32 = 12;
const SIS_CONTROLLER: u32 = 13;
const SIS_FILE_DESCRIPTION: u32 = 24;
const SIS_DATA: u32 = 30;
const SIS_DATA_UNIT: u32 = 31;
const SIS_FILE_DATA: u32 = 32;

/// Fields whose content is a sequence of fields, followed when looking
/// for file descriptions in a controller.
const SIS_NESTING: &[u32] = &[
    SIS_ARRAY, // handled apart: its elements carry no type
    SIS_CONTROLLER,
    26, // SISIf
    27, // SISElseIf
    28, // SISInstallBlock
];

/// One field: its type, its content, and the offset after it (padded to
/// 4 bytes).
struct Field<'a> {
    kind: u32,
    body: &'a [u8],
    next: usize,
}

/// The field at `at` in `d`; `kind` is given for the elements of an
/// array, which carry only a length.
fn field(d: &[u8], at: usize, kind: Option<u32>) -> Result<Field<'_>, &'static str> {
    let (kind, at) = match kind {
        Some(k) => (k, at),
        None => (u32_at(d, at).ok_or("a truncated field")?, at + 4),
    };
    let low = u32_at(d, at).ok_or("a truncated field")?;
    let (len, at) = if low & 0x8000_0000 != 0 {
        let high = u32_at(d, at + 4).ok_or("a truncated field")?;
        (
            u64::from(low & 0x7FFF_FFFF) | (u64::from(high) << 31),
            at + 8,
        )
    } else {
        (u64::from(low), at + 4)
    };
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| at.checked_add(l))
        .filter(|&e| e <= d.len())
        .ok_or("a field longer than the data around it")?;
    let body = &d[at..end];
    let next = end.checked_add(3).map_or(end, |e| e & !3).min(d.len());
    Ok(Field { kind, body, next })
}

/// The fields one after another in `d`.
fn fields(d: &[u8]) -> impl Iterator<Item = Result<Field<'_>, &'static str>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= d.len() {
            return None;
        }
        let f = field(d, at, None);
        at = f.as_ref().map_or(d.len(), |f| f.next);
        Some(f)
    })
}

/// The element type of a SISArray body, and its elements one after
/// another (read as they are asked for: an array of millions of empty
/// elements costs no memory).
type Elements<'a> = Box<dyn Iterator<Item = Result<Field<'a>, &'static str>> + 'a>;

fn array(d: &[u8]) -> Result<(u32, Elements<'_>), &'static str> {
    let kind = u32_at(d, 0).ok_or("a truncated array")?;
    let mut at = 4;
    let elements = std::iter::from_fn(move || {
        if at >= d.len() {
            return None;
        }
        let f = field(d, at, Some(kind));
        at = f.as_ref().map_or(d.len(), |f| f.next);
        Some(f)
    });
    Ok((kind, Box::new(elements)))
}

/// A SISCompressed body: algorithm, uncompressed size, data.
fn compressed(ctx: &mut Ctx, body: &[u8], name: &str, cap: Option<u64>) -> Expanded {
    let (Some(algorithm), Some(size)) = (u32_at(body, 0), u64_at(body, 4)) else {
        return Expanded {
            data: Vec::new(),
            cut: Some(Issue::corrupt(format!("sis: {name}: truncated"))),
        };
    };
    let packed = body.get(12..).unwrap_or(&[]);
    match algorithm {
        0 => {
            let mut e = Expanded::default();
            let keep = packed.len().min(cap.unwrap_or(u64::MAX) as usize);
            e.data = packed[..keep].to_vec();
            if size != packed.len() as u64 {
                e.cut = Some(Issue::corrupt(format!(
                    "sis: stored {name} is {} bytes, its field says {size}",
                    packed.len()
                )));
            }
            e
        }
        1 => match cap {
            None => inflate(ctx, packed, Some(size), name),
            Some(cap) => {
                // Names only: a small bounded read, not charged to the
                // scan (the controller is metadata, not a member).
                let mut data = Vec::new();
                let r = ZlibDecoder::new(packed).take(cap).read_to_end(&mut data);
                Expanded {
                    data,
                    cut: r.err().map(|e| Issue::corrupt(format!("sis: {name}: {e}"))),
                }
            }
        },
        a => Expanded {
            data: Vec::new(),
            cut: Some(Issue::unsupported(format!(
                "sis: {name}: unknown compression algorithm {a}"
            ))),
        },
    }
}

/// Collects `file index -> target name` from the file descriptions of a
/// controller, following install blocks and conditions.
fn descriptions(d: &[u8], depth: u32, names: &mut HashMap<u32, String>) {
    if depth > MAX_FIELD_DEPTH {
        return;
    }
    for f in fields(d) {
        let Ok(f) = f else { return };
        match f.kind {
            SIS_FILE_DESCRIPTION => {
                // Target (SISString), MIME type (SISString), optional
                // capabilities, hash, then fixed fields ending with the
                // 32-bit file index.
                if let (Ok(target), Some(index)) = (
                    field(f.body, 0, None),
                    f.body.len().checked_sub(4).and_then(|i| u32_at(f.body, i)),
                ) && target.kind == SIS_STRING
                {
                    let units: Vec<u16> = target
                        .body
                        .chunks_exact(2)
                        .take(MAX_NAME)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    let name = member_name(&String::from_utf16_lossy(&units));
                    if !name.is_empty() {
                        names.entry(index).or_insert(name);
                    }
                }
            }
            SIS_ARRAY => {
                if let Ok((_, elems)) = array(f.body) {
                    for e in elems.map_while(Result::ok) {
                        if e.kind == SIS_FILE_DESCRIPTION {
                            descriptions_one(e.body, names);
                        } else if SIS_NESTING.contains(&e.kind) {
                            descriptions(e.body, depth + 1, names);
                        }
                    }
                }
            }
            k if SIS_NESTING.contains(&k) => descriptions(f.body, depth + 1, names),
            _ => {}
        }
    }
}

/// One file description given as an array element (its body only).
fn descriptions_one(body: &[u8], names: &mut HashMap<u32, String>) {
    let mut wrapped = Vec::with_capacity(body.len() + 8);
    wrapped.extend_from_slice(&SIS_FILE_DESCRIPTION.to_le_bytes());
    wrapped.extend_from_slice(&(body.len() as u32).to_le_bytes());
    wrapped.extend_from_slice(body);
    descriptions(&wrapped, MAX_FIELD_DEPTH, names);
}

fn extract_sis9(data: &[u8], ctx: &mut Ctx, sink: &mut Sink<'_>) -> Result<(), Issue> {
    let bad = |what: &str| Issue::corrupt(format!("sis: SIS 9.x: {what}"));
    let contents = field(data, 16, None).map_err(bad)?;
    if contents.kind != SIS_CONTENTS {
        return Err(bad("the first field is not SISContents"));
    }
    let mut names = HashMap::new();
    let mut sis_data = None;
    let mut problem = None;
    for f in fields(contents.body) {
        let f = f.map_err(bad)?;
        match f.kind {
            SIS_COMPRESSED => {
                let c = compressed(ctx, f.body, "controller", Some(MAX_CONTROLLER));
                if let Some(cut) = c.cut {
                    problem = Some(cut);
                }
                // The controller is one SISController field.
                if let Ok(ctl) = field(&c.data, 0, None)
                    && ctl.kind == SIS_CONTROLLER
                {
                    descriptions(ctl.body, 0, &mut names);
                }
            }
            SIS_DATA => sis_data = Some(f.body),
            _ => {}
        }
    }
    let Some(sis_data) = sis_data else {
        return Err(problem.unwrap_or_else(|| bad("no SISData field")));
    };
    // SISData: one SISArray of SISDataUnit; each unit one SISArray of
    // SISFileData; each file one SISCompressed.
    let units = field(sis_data, 0, None).map_err(bad)?;
    let (kind, units) = array(units.body).map_err(bad)?;
    if kind != SIS_DATA_UNIT {
        return Err(bad("SISData holds no SISDataUnit array"));
    }
    for (u, unit) in units.enumerate() {
        let unit = unit.map_err(bad)?;
        let files = field(unit.body, 0, None).map_err(bad)?;
        let (kind, files) = array(files.body).map_err(bad)?;
        if kind != SIS_FILE_DATA {
            return Err(bad("a SISDataUnit holds no SISFileData array"));
        }
        for (i, file) in files.enumerate() {
            ctx.check_time()?;
            let file = file.map_err(bad)?;
            // Controllers of embedded packages number their files from
            // their own data unit on; only the first unit's names are
            // those of the top controller.
            let name = (u == 0)
                .then(|| names.get(&(i as u32)).cloned())
                .flatten()
                .unwrap_or_else(|| {
                    if u == 0 {
                        format!("file-{i}")
                    } else {
                        format!("unit-{u}/file-{i}")
                    }
                });
            let entry = match field(file.body, 0, None) {
                Ok(c) if c.kind == SIS_COMPRESSED => {
                    Entry::expanded(name.clone(), compressed(ctx, c.body, &name, None))
                }
                _ => Entry::failed(
                    name.clone(),
                    bad(&format!("{name}: no SISCompressed field")),
                ),
            };
            if entry.data.is_empty() && entry.issue.is_none() {
                continue;
            }
            if sink(ctx, entry) == Flow::Stop {
                return Ok(());
            }
        }
    }
    match problem {
        Some(p) => Err(p),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IssueKind;
    use crate::testutil::{EICAR, each_byte_flipped, walk};
    use flate2::Compression;
    use flate2::write::ZlibEncoder;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// An EPOC release 6 (or, with `release6` false, release 5) file of
    /// simple file records `(destination, content)`, laid out as
    /// `makesis` does: header, languages, records, names, data. UTF-16
    /// names; compressed unless `stored`.
    fn epoc(files: &[(&str, &[u8])], release6: bool, stored: bool) -> Vec<u8> {
        let mut options = OPT_UNICODE;
        if stored {
            options |= OPT_NOCOMPRESS;
        }
        let record_len = if release6 { 4 * 12 } else { 4 * 9 };
        let langs_at = 0x64u32;
        let files_at = langs_at + 2;
        let mut strings_at = files_at + (record_len * files.len()) as u32;
        let mut records = Vec::new();
        let mut tail = Vec::new();
        let names: Vec<Vec<u8>> = files.iter().map(|(n, _)| utf16(n)).collect();
        let bodies: Vec<Vec<u8>> = files
            .iter()
            .map(|(_, d)| {
                if release6 && !stored {
                    zlib(d)
                } else {
                    d.to_vec()
                }
            })
            .collect();
        let names_len: u32 = names.iter().map(|n| n.len() as u32).sum();
        let mut data_at = strings_at + names_len;
        for (i, (_, content)) in files.iter().enumerate() {
            let mut r = Vec::new();
            for v in [
                0u32,
                0,
                0,
                0,
                0,
                names[i].len() as u32,
                strings_at,
                bodies[i].len() as u32,
                data_at,
            ] {
                r.extend_from_slice(&v.to_le_bytes());
            }
            if release6 {
                for v in [content.len() as u32, 0, 0] {
                    r.extend_from_slice(&v.to_le_bytes());
                }
            }
            records.extend(r);
            strings_at += names[i].len() as u32;
            data_at += bodies[i].len() as u32;
        }
        for n in &names {
            tail.extend_from_slice(n);
        }
        for b in &bodies {
            tail.extend_from_slice(b);
        }
        let uid2 = if release6 { UID2_EPOC6 } else { UID2_EPOC3 };
        let mut h = Vec::new();
        for v in [0x0100_0000u32, uid2, UID3, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        // CRC, languages, files, requisites, install language and files,
        // drive, capabilities.
        for v in [0u16, 1, files.len() as u16, 0, 0, 0, 0x21, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&200u32.to_le_bytes());
        for v in [options, 0, 1, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        for v in [0u32, langs_at, files_at, 0, 0, 0, 0, 0, 0, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.resize(langs_at as usize, 0);
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend(records);
        h.extend(tail);
        h
    }

    fn put_field(out: &mut Vec<u8>, kind: Option<u32>, body: &[u8]) {
        if let Some(k) = kind {
            out.extend_from_slice(&k.to_le_bytes());
        }
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    fn sis_compressed(data: &[u8], deflate: bool) -> Vec<u8> {
        let mut b = u32::from(deflate).to_le_bytes().to_vec();
        b.extend_from_slice(&(data.len() as u64).to_le_bytes());
        b.extend(if deflate { zlib(data) } else { data.to_vec() });
        b
    }

    fn sis_array(kind: u32, elems: &[Vec<u8>]) -> Vec<u8> {
        let mut b = kind.to_le_bytes().to_vec();
        for e in elems {
            put_field(&mut b, None, e);
        }
        b
    }

    /// A SIS 9.x file as the spec lays it out, reduced to what is read
    /// here: a controller holding one install block with a file
    /// description per file (target name, file index last), and the data.
    fn sis9(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut descs = Vec::new();
        let mut datas = Vec::new();
        for (i, (name, content)) in files.iter().enumerate() {
            let mut d = Vec::new();
            put_field(&mut d, Some(SIS_STRING), &utf16(name));
            put_field(&mut d, Some(SIS_STRING), &utf16("x-epoc/x-app"));
            d.extend_from_slice(&[0; 8]);
            d.extend_from_slice(&(i as u32).to_le_bytes());
            descs.push(d);
            let mut fd = Vec::new();
            put_field(
                &mut fd,
                Some(SIS_COMPRESSED),
                &sis_compressed(content, i % 2 == 0),
            );
            datas.push(fd);
        }
        let mut block = Vec::new();
        put_field(
            &mut block,
            Some(SIS_ARRAY),
            &sis_array(SIS_FILE_DESCRIPTION, &descs),
        );
        let mut ctl_body = Vec::new();
        put_field(&mut ctl_body, Some(28), &block);
        let mut ctl = Vec::new();
        put_field(&mut ctl, Some(SIS_CONTROLLER), &ctl_body);
        let mut unit = Vec::new();
        put_field(
            &mut unit,
            Some(SIS_ARRAY),
            &sis_array(SIS_FILE_DATA, &datas),
        );
        let mut sdata = Vec::new();
        put_field(
            &mut sdata,
            Some(SIS_ARRAY),
            &sis_array(SIS_DATA_UNIT, &[unit]),
        );
        let mut contents = Vec::new();
        put_field(&mut contents, Some(34), &[0; 4]);
        put_field(&mut contents, Some(35), &[0; 4]);
        put_field(
            &mut contents,
            Some(SIS_COMPRESSED),
            &sis_compressed(&ctl, true),
        );
        put_field(&mut contents, Some(SIS_DATA), &sdata);
        let mut out = Vec::new();
        for v in [UID1_SIS9, 0, 0x2000_0001, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        put_field(&mut out, Some(SIS_CONTENTS), &contents);
        out
    }

    #[test]
    fn epoc_release6_compressed_and_stored() {
        for stored in [false, true] {
            let s = epoc(
                &[
                    ("!:\\sys\\bin\\eicar.com", EICAR),
                    ("c:\\readme.txt", b"hi"),
                ],
                true,
                stored,
            );
            assert!(detect(&s));
            let w = walk(&s, "t.sis");
            assert!(w.issues.is_empty(), "{:?}", w.issues);
            assert_eq!(w.chains(), ["sys/bin/eicar.com", "readme.txt"]);
            assert_eq!(w.found[0].data, EICAR);
            assert!(w.found.iter().all(|f| f.issue.is_none()));
        }
    }

    #[test]
    fn epoc_options_conditions_and_languages() {
        // Two languages; records: options, if, a two-language file,
        // else, endif; names UTF-16, data zlib (release 6).
        let name = utf16("!:\\a.txt");
        let copies = [zlib(EICAR), zlib(b"bonjour")];
        let mut records = Vec::new();
        fn put(out: &mut Vec<u8>, vals: &[u32]) {
            for v in vals {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        put(&mut records, &[2, 1, 0, 0, 0, 0]);
        put(&mut records, &[0; 4]);
        put(&mut records, &[3, 4, 0x0102_0304]);
        let records_len = records.len() as u32 + 15 * 4 + 4 + 4;
        let files_at = 0x64 + 4;
        let name_at = files_at + records_len;
        let data_at = name_at + name.len() as u32;
        put(&mut records, &[1, 0, 0, 0, 0, name.len() as u32, name_at]);
        put(
            &mut records,
            &[copies[0].len() as u32, copies[1].len() as u32],
        );
        put(&mut records, &[data_at, data_at + copies[0].len() as u32]);
        put(&mut records, &[EICAR.len() as u32, 7, 0, 0]);
        put(&mut records, &[5]);
        put(&mut records, &[6]);
        let mut h = Vec::new();
        for v in [0x0100_0000u32, UID2_EPOC6, UID3, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        for v in [0u16, 2, 5, 0, 0, 0, 0x21, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&200u32.to_le_bytes());
        for v in [OPT_UNICODE, 0, 1, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        for v in [0u32, 0x64, files_at, 0, 0, 0, 0, 0, 0, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.resize(0x64, 0);
        for v in [1u16, 2] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend(records);
        assert_eq!(h.len() as u32, name_at);
        h.extend(name);
        h.extend(copies.concat());
        let w = walk(&h, "t.sis");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.chains(), ["a.txt@lang1", "a.txt@lang2"]);
        assert_eq!(w.found[0].data, EICAR);
        assert_eq!(w.found[1].data, b"bonjour");
        assert!(w.found.iter().all(|f| f.issue.is_none()));
    }

    #[test]
    fn epoc_release5_is_stored() {
        let s = epoc(&[("!:\\eicar.com", EICAR)], false, false);
        let w = walk(&s, "t.sis");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.chains(), ["eicar.com"]);
        assert_eq!(w.found[0].data, EICAR);
    }

    #[test]
    fn epoc_bad_zlib_and_lengths_are_corrupt() {
        let mut s = epoc(&[("!:\\eicar.com", EICAR)], true, false);
        // The last byte is the zlib Adler-32's.
        let n = s.len();
        s[n - 1] ^= 0xFF;
        let w = walk(&s, "t.sis");
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        // Data pointing past the end.
        let s = epoc(&[("!:\\eicar.com", EICAR)], true, false);
        let w = walk(&s[..s.len() - 5], "t.sis");
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert!(w.found[0].data.is_empty());
    }

    #[test]
    fn sis9_files_named_by_the_controller() {
        let s = sis9(&[("!:\\sys\\bin\\eicar.exe", EICAR), ("c:\\a.txt", b"hello")]);
        assert!(detect(&s));
        let w = walk(&s, "t.sis");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.chains(), ["sys/bin/eicar.exe", "a.txt"]);
        assert_eq!(w.found[0].data, EICAR);
        assert_eq!(w.found[1].data, b"hello");
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        for full in [
            epoc(&[("!:\\a", EICAR), ("!:\\b", b"x")], true, false),
            sis9(&[("!:\\a", EICAR), ("!:\\b", b"x")]),
        ] {
            for len in 0..full.len() {
                let w = walk(&full[..len], "t");
                // Cut anywhere in the data, something says so.
                if len > 0x70 && len < full.len() {
                    assert!(
                        w.found.iter().any(|f| f.issue.is_some()) || !w.issues.is_empty(),
                        "{len}"
                    );
                }
            }
            each_byte_flipped(&full, &[0x01, 0x80], |m| {
                let _ = walk(m, "t");
            });
        }
    }

    /// ClamAV as an oracle of the builder and the reader: `clamscan`
    /// unpacks the same hand-built release 6 files (zlib) and finds a
    /// marker that only the expanded data holds.
    #[test]
    fn clamscan_expands_the_hand_built_files_alike() {
        if std::process::Command::new("clamscan")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "clamscan (Debian clamav) is needed under CI"
            );
            eprintln!("clamscan not installed: skipped");
            return;
        }
        let marker: &[u8] = b"takedown sis oracle marker, expanded only\n";
        let dir = tempfile::tempdir().unwrap();
        let hex: String = marker.iter().map(|b| format!("{b:02x}")).collect();
        let db = dir.path().join("marker.ndb");
        std::fs::write(&db, format!("Takedown.Sis.Marker:0:*:{hex}\n")).unwrap();
        let mut files = Vec::new();
        for (name, s) in [
            ("one.sis", epoc(&[("!:\\a.txt", marker)], true, false)),
            (
                "two.sis",
                epoc(
                    &[("c:\\x.txt", b"other"), ("!:\\a.txt", marker)],
                    true,
                    false,
                ),
            ),
        ] {
            assert!(!s.windows(marker.len()).any(|w| w == marker));
            let w = walk(&s, name);
            assert!(
                w.containing(marker).is_some_and(|f| f.issue.is_none()),
                "{name}"
            );
            let path = dir.path().join(name);
            std::fs::write(&path, &s).unwrap();
            files.push(path);
        }
        let out = std::process::Command::new("clamscan")
            .args(["--no-summary", "-d"])
            .arg(&db)
            .args(&files)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        for f in &files {
            let want = format!("{}: Takedown.Sis.Marker.UNOFFICIAL FOUND", f.display());
            assert!(stdout.contains(&want), "{stdout}");
        }
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b""));
        assert!(!detect(&[0; 64]));
        let mut s = epoc(&[("!:\\a", EICAR)], true, false);
        s[8] ^= 1;
        assert!(!detect(&s));
    }
}
