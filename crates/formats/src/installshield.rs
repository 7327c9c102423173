//! InstallShield installers: a `setup.exe` with the installer's files
//! appended after its last section.
//!
//! Two layouts of that overlay are read:
//!
//! - plain (InstallShield 10.5 to 2009 "compressed" setups, ClamAV's
//!   `IScab`): one record per file, `name\0path\0version\0size\0` (the size
//!   in decimal) and then the file as it is. The files are usually the
//!   InstallShield cabinet set (`data1.hdr`, `data1.cab`, `data2.cab`...),
//!   which is unpacked here as well, since its header and its data sit in
//!   different files of the overlay ([`iscab`]).
//! - `InstallShield` (InstallShield 12 to 2012 setups, ClamAV's `ISmsi`): a
//!   46-byte header (the signature, a `u16` file count) then per file a
//!   312-byte entry (a 260-byte name, flags, the stored length) and the
//!   data, XOR-encoded with a key made from the file's name and, once
//!   decoded, usually zlib-compressed.
//!
//! The newer `ISSetupStream` layout (InstallShield 2013 and later) is not
//! read: such installers go on to the other PE formats.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Read;

use crate::packers::{le16, le32, parse_pe, pe_extent};
use crate::{Counted, Ctx, Entry, Flow, Issue, Sink};

mod iscab;

/// Where the `InstallShield` header may sit in the overlay: the stub puts
/// its CodeView debug record (`NB10` and the path of its `.pdb`) first.
const STREAM_SEARCH: usize = 4096;
const STREAM_MAGIC: &[u8] = b"InstallShield\0";
const STREAM_HEADER_LEN: usize = 46;
/// A file entry: name (`MAX_PATH`), flags, an unknown word, the length,
/// and 40 bytes nothing here needs.
const STREAM_ENTRY_LEN: usize = 312;
const STREAM_NAME_LEN: usize = 260;
/// Data encoded in blocks of 1,024 bytes, the key restarting in each.
const FLAG_BLOCKS: u32 = 2;
/// Data encoded as one block.
const FLAG_WHOLE: u32 = 4;
const BLOCK: usize = 1024;
/// XORed with the file name to make the key.
const KEY_MASK: [u8; 4] = [0x13, 0x35, 0x86, 0x07];

/// Longest name or path in a plain record (`MAX_PATH`).
const MAX_NAME: usize = 260;
/// Longest version string in a plain record (`65535.65535.65535.65535`).
const MAX_VERSION: usize = 23;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Plain records from `at`, up to `end` (the Authenticode signature of
    /// a signed setup, or the end of the file).
    Plain { at: usize, end: usize },
    /// The `InstallShield` header at this offset.
    Stream(usize),
}

/// One plain record: its name, and where its data starts.
struct Record<'d> {
    name: &'d [u8],
    data_at: usize,
    size: u64,
}

/// A NUL-terminated field of at most `max` bytes at `at`, and the offset
/// after its NUL.
fn field(d: &[u8], at: usize, max: usize) -> Option<(&[u8], usize)> {
    let rest = d.get(at..)?;
    let n = rest.iter().take(max + 1).position(|&b| b == 0)?;
    Some((rest.get(..n)?, at + n + 1))
}

/// Reads the record header at `at`: a name, a path ending with that name,
/// a version of digits and dots, and a decimal size. `None` when any part
/// is not what InstallShield writes.
fn record(d: &[u8], at: usize) -> Option<Record<'_>> {
    let (name, at) = field(d, at, MAX_NAME)?;
    let (path, at) = field(d, at, MAX_NAME)?;
    let (version, at) = field(d, at, MAX_VERSION)?;
    let (size, at) = field(d, at, 20)?;
    let printable = |s: &[u8]| !s.is_empty() && s.iter().all(|&b| b >= 0x20 && b != 0x7F);
    let path_ends_with_name = path.len() >= name.len()
        && path[path.len() - name.len()..].eq_ignore_ascii_case(name)
        && (path.len() == name.len() || matches!(path[path.len() - name.len() - 1], b'\\' | b'/'));
    if !printable(name)
        || !path_ends_with_name
        || version.is_empty()
        || !version.iter().all(|&b| b.is_ascii_digit() || b == b'.')
        || size.is_empty()
        || !size.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let size = std::str::from_utf8(size).ok()?.parse::<u64>().ok()?;
    Some(Record {
        name,
        data_at: at,
        size,
    })
}

/// Checks the `InstallShield` header at `at` and its first entry.
fn stream_header(d: &[u8], at: usize) -> bool {
    let Some(count) = le16(d, at + STREAM_MAGIC.len()) else {
        return false;
    };
    let first = at + STREAM_HEADER_LEN;
    let Some(name) = d.get(first..first + STREAM_NAME_LEN) else {
        return false;
    };
    let len = name.iter().position(|&b| b == 0).unwrap_or(0);
    count > 0 && len > 0 && name[..len].iter().all(|&b| b >= 0x20 && b != 0x7F)
}

fn layout(data: &[u8]) -> Option<Layout> {
    let pe = parse_pe(data)?;
    let end = pe_extent(data, &pe);
    if end >= data.len() {
        return None;
    }
    if record(data, end).is_some() {
        let signed = signature_at(data, &pe).filter(|&s| s > end);
        return Some(Layout::Plain {
            at: end,
            end: signed.unwrap_or(data.len()),
        });
    }
    let window = data.get(end..end.saturating_add(STREAM_SEARCH).min(data.len()))?;
    let at = end + memchr::memmem::find(window, STREAM_MAGIC)?;
    stream_header(data, at).then_some(Layout::Stream(at))
}

/// Where the PE's Authenticode signature starts (the security entry of
/// the data directories holds a file offset, not an address), if it lies
/// within `data`. Signing appends it after the overlay.
fn signature_at(data: &[u8], pe: &crate::packers::Pe) -> Option<usize> {
    let opt = pe.lfanew + 24;
    let dirs = match le16(data, opt)? {
        0x10B => opt + 96,
        _ => opt + 112,
    };
    if le32(data, dirs - 4)? <= 4 {
        return None;
    }
    let at = usize::try_from(le32(data, dirs + 4 * 8)?).ok()?;
    (at > 0 && at <= data.len()).then_some(at)
}

pub(crate) fn detect(data: &[u8]) -> bool {
    layout(data).is_some()
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    match layout(data) {
        Some(Layout::Plain { at, end }) => plain(data.get(..end).unwrap_or(data), at, ctx, sink),
        Some(Layout::Stream(at)) => stream(data, at, ctx, sink),
        None => Err(Issue::corrupt(
            "installshield: no InstallShield data after the executable",
        )),
    }
}

fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// Hands out every plain record, then unpacks the cabinet sets among them.
fn plain(data: &[u8], mut at: usize, ctx: &mut Ctx, sink: &mut Sink<'_>) -> Result<(), Issue> {
    let mut files: Vec<(&[u8], &[u8])> = Vec::new();
    let mut ended = None;
    while at < data.len() {
        let Some(r) = record(data, at) else {
            ended = Some(Issue::corrupt(format!(
                "installshield: no valid file record at offset {at}; the rest was not unpacked"
            )));
            break;
        };
        let avail = (data.len() - r.data_at) as u64;
        let body = &data[r.data_at..r.data_at + r.size.min(avail) as usize];
        let mut entry = Entry::new(lossy(r.name), Cow::Borrowed(body));
        if r.size > avail {
            let issue = Issue::corrupt(format!(
                "installshield: truncated: {} needs {} bytes, the file holds {avail}",
                lossy(r.name),
                r.size
            ));
            entry.issue = Some(issue.clone());
            ended = Some(issue);
        }
        if sink(ctx, entry) == Flow::Stop {
            return ended.map_or(Ok(()), Err);
        }
        files.push((r.name, body));
        at = r.data_at + body.len();
    }
    for &(name, hdr) in &files {
        let Some(stem) = cabinet_stem(name) else {
            continue;
        };
        if !hdr.starts_with(iscab::MAGIC) {
            continue;
        }
        let volume = |n: u16| -> Option<&[u8]> {
            let want = format!(
                "{}{n}.cab",
                stem.trim_end_matches(|c: char| c.is_ascii_digit())
            );
            files
                .iter()
                .find(|(f, _)| f.eq_ignore_ascii_case(want.as_bytes()))
                .map(|&(_, d)| d)
        };
        let prefix = format!("{stem}.cab");
        match iscab::extract(hdr, &volume, &prefix, ctx, sink) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Stop) => break,
            Err(issue) => {
                ended.get_or_insert(issue);
            }
        }
    }
    ended.map_or(Ok(()), Err)
}

/// `data1` for a cabinet header named `data1.hdr`.
fn cabinet_stem(name: &[u8]) -> Option<&str> {
    let name = std::str::from_utf8(name).ok()?;
    let stem = name.get(..name.len().checked_sub(4)?)?;
    name.get(stem.len()..)?
        .eq_ignore_ascii_case(".hdr")
        .then_some(stem)
}

/// The XOR-decoding of one `InstallShield` file, as a reader: each byte
/// has its nibbles swapped and is inverted, then XORed with the key (the
/// file's name, each byte XORed with [`KEY_MASK`] at its position),
/// the key restarting at each block.
struct Decode<'d> {
    data: &'d [u8],
    pos: usize,
    key: Vec<u8>,
    block: usize,
}

impl Read for Decode<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        for (i, (out, &b)) in buf.iter_mut().zip(rest).take(n).enumerate() {
            let k = self
                .key
                .get(((self.pos + i) % self.block) % self.key.len().max(1))
                .copied()
                .unwrap_or(0);
            *out = !b.rotate_left(4) ^ k;
        }
        self.pos += n;
        Ok(n)
    }
}

fn key_of(name: &[u8]) -> Vec<u8> {
    name.iter()
        .enumerate()
        .map(|(i, &b)| b ^ KEY_MASK[i % KEY_MASK.len()])
        .collect()
}

/// A zlib header: deflate with a window of at most 32 KiB, the check bits
/// right, no preset dictionary.
fn is_zlib(b: [u8; 2]) -> bool {
    b[0] & 0x0F == 8
        && b[0] >> 4 <= 7
        && b[1] & 0x20 == 0
        && u16::from_be_bytes(b).is_multiple_of(31)
}

/// Hands out every file of an `InstallShield` overlay.
fn stream(data: &[u8], at: usize, ctx: &mut Ctx, sink: &mut Sink<'_>) -> Result<(), Issue> {
    let count = le16(data, at + STREAM_MAGIC.len()).unwrap_or(0);
    let mut p = at + STREAM_HEADER_LEN;
    for i in 0..count {
        let Some(entry) = data.get(p..p + STREAM_ENTRY_LEN) else {
            return Err(Issue::corrupt(format!(
                "installshield: truncated: the header lists {count} files, the data ends in entry {}",
                i + 1
            )));
        };
        let name_len = entry[..STREAM_NAME_LEN]
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(STREAM_NAME_LEN);
        let raw_name = &entry[..name_len];
        let name = if raw_name.is_empty() {
            format!("file-{}", i + 1)
        } else {
            lossy(raw_name)
        };
        let flags = le32(entry, STREAM_NAME_LEN).unwrap_or(0);
        let len = le32(entry, STREAM_NAME_LEN + 8).unwrap_or(0) as usize;
        let start = p + STREAM_ENTRY_LEN;
        let avail = data.len() - start;
        let body = &data[start..start + len.min(avail)];
        let truncated = (len > avail).then(|| {
            Issue::corrupt(format!(
                "installshield: truncated: {name} needs {len} bytes, the file holds {avail}"
            ))
        });
        let mut out = file(body, raw_name, flags, ctx);
        if let Some(t) = &truncated {
            out.issue.get_or_insert_with(|| t.clone());
        }
        out.name = name;
        if sink(ctx, out) == Flow::Stop {
            break;
        }
        if let Some(t) = truncated {
            return Err(t);
        }
        p = start + len;
    }
    Ok(())
}

/// Decodes (and inflates) one file of an `InstallShield` overlay.
fn file<'d>(body: &'d [u8], name: &[u8], flags: u32, ctx: &mut Ctx) -> Entry<'d> {
    let block = if flags & FLAG_BLOCKS != 0 {
        BLOCK
    } else if flags & FLAG_WHOLE != 0 {
        usize::MAX
    } else {
        return Entry::new("", Cow::Borrowed(body));
    };
    let decode = || Decode {
        data: body,
        pos: 0,
        key: key_of(name),
        block,
    };
    let mut head = [0u8; 2];
    let zlib = body.len() > 2 && decode().read(&mut head).is_ok_and(|n| n == 2) && is_zlib(head);
    let packed = Cell::new(0);
    let expanded = if zlib {
        let mut z = flate2::read::ZlibDecoder::new(Counted::new(decode(), &packed));
        ctx.expand(&mut z, &packed)
    } else {
        // Stored once decoded: the same size as in the installer.
        ctx.expand(&mut Counted::new(decode(), &packed), &packed)
    };
    let mut e = Entry::expanded("", expanded);
    if let Some(issue) = &mut e.issue {
        issue.message = format!("installshield: {}", issue.message);
    }
    e
}

#[cfg(test)]
mod tests;
