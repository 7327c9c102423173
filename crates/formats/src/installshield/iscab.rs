//! InstallShield cabinets (`ISc(`): a header file (`data1.hdr`) that lists
//! the files, and data volumes (`data1.cab`, `data2.cab`...) that hold
//! them, each compressed on its own as a run of raw deflate chunks.
//!
//! Only the layout of InstallShield 6 and later is read (file descriptors
//! of 87 bytes with 64-bit sizes); older cabinets are reported as not
//! handled.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Read;

use md5::{Digest, Md5};

use crate::packers::{le16, le32};
use crate::{Ctx, Entry, Flow, Issue, Sink};

pub(crate) const MAGIC: &[u8] = b"ISc(";

const DESCRIPTOR_LEN: usize = 0x30;
const FILE_LEN: usize = 0x57;
/// Longest directory or file name read from the tables.
const MAX_NAME: usize = 1024;

const FILE_SPLIT: u16 = 1;
const FILE_OBFUSCATED: u16 = 2;
const FILE_COMPRESSED: u16 = 4;
const FILE_INVALID: u16 = 8;

fn le64(d: &[u8], at: usize) -> Option<u64> {
    let b = d.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// The format generation from the header's version word: InstallShield
/// writes `0x01` in the top byte and the major version in bits 12-15.
fn major(version: u32) -> Option<u32> {
    (version >> 24 == 1).then_some((version >> 12) & 0xF)
}

/// A NUL-terminated name at `at` in `table`.
fn name_at(table: &[u8], at: u32) -> Option<&[u8]> {
    let rest = table.get(at as usize..)?;
    let n = rest.iter().take(MAX_NAME + 1).position(|&b| b == 0)?;
    rest.get(..n)
}

/// The expanded bytes of a compressed file: each chunk is a `u16` length
/// and that many bytes of raw deflate, inflated on its own.
struct Chunks<'d, 'c> {
    data: &'d [u8],
    pos: usize,
    current: Option<flate2::read::DeflateDecoder<&'d [u8]>>,
    packed: &'c Cell<u64>,
}

impl Read for Chunks<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(d) = &mut self.current {
                let n = d.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.current = None;
            }
            if self.pos >= self.data.len() {
                return Ok(0);
            }
            let Some(len) = le16(self.data, self.pos) else {
                return Err(std::io::Error::other("a chunk length is cut off"));
            };
            let start = self.pos + 2;
            let end = start + usize::from(len);
            let Some(chunk) = self.data.get(start..end) else {
                return Err(std::io::Error::other(format!(
                    "a chunk of {len} bytes at {} runs past the file's data",
                    self.pos
                )));
            };
            self.packed.set(self.packed.get() + u64::from(len) + 2);
            self.pos = end;
            self.current = Some(flate2::read::DeflateDecoder::new(chunk));
        }
    }
}

/// Hands out every file of the cabinet whose header is `hdr`, named
/// `prefix\directory\name`; `volume(n)` is data volume `n` (1-based).
/// Returns [`Flow::Stop`] when the sink asked to stop.
pub(super) fn extract<'d>(
    hdr: &'d [u8],
    volume: &dyn Fn(u16) -> Option<&'d [u8]>,
    prefix: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<Flow, Issue> {
    let corrupt = |what: &str| Issue::corrupt(format!("installshield cabinet {prefix}: {what}"));
    let version = le32(hdr, 4).ok_or_else(|| corrupt("header cut short"))?;
    match major(version) {
        Some(m) if m >= 6 => {}
        _ => {
            return Err(Issue::unsupported(format!(
                "installshield cabinet {prefix}: version word {version:#010x} (before InstallShield 6) is not handled"
            )));
        }
    }
    let desc = le32(hdr, 0x0C).ok_or_else(|| corrupt("header cut short"))? as usize;
    let d = hdr
        .get(desc..)
        .filter(|d| d.len() >= DESCRIPTOR_LEN)
        .ok_or_else(|| corrupt("the cabinet descriptor lies past the end of the header"))?;
    let (Some(table_at), Some(table_len), Some(dirs), Some(files), Some(files_at)) = (
        le32(d, 0x0C),
        le32(d, 0x14),
        le32(d, 0x1C),
        le32(d, 0x28),
        le32(d, 0x2C),
    ) else {
        return Err(corrupt("descriptor cut short"));
    };
    let table = d
        .get(table_at as usize..)
        .and_then(|t| t.get(..table_len as usize))
        .ok_or_else(|| corrupt("the file table lies past the end of the header"))?;
    let descriptors = table
        .get(files_at as usize..)
        .ok_or_else(|| corrupt("the file descriptors lie past the file table"))?;
    let fits = descriptors.len() / FILE_LEN;
    let mut ended = None;
    if files as usize > fits {
        ended = Some(corrupt(&format!(
            "the header lists {files} files, its table holds {fits}"
        )));
    }
    let dir_name = |i: u16| -> Option<&[u8]> {
        if u32::from(i) >= dirs {
            return None;
        }
        name_at(table, le32(table, usize::from(i) * 4)?)
    };
    for i in 0..(files as usize).min(fits) {
        let f = &descriptors[i * FILE_LEN..(i + 1) * FILE_LEN];
        let (Some(flags), Some(size), Some(packed_len), Some(offset)) =
            (le16(f, 0), le64(f, 2), le64(f, 10), le64(f, 18))
        else {
            continue;
        };
        if flags & FILE_INVALID != 0 || offset == 0 || size == 0 {
            // Placeholders, and the files the setup keeps outside the
            // cabinet (they have no data here).
            continue;
        }
        let Some(name) = le32(f, 58).and_then(|at| name_at(table, at)) else {
            let issue = corrupt(&format!("file {i}'s name lies outside the file table"));
            ended.get_or_insert(issue);
            continue;
        };
        let dir = le16(f, 62).and_then(dir_name).unwrap_or(&[]);
        let mut path = String::from(prefix);
        for part in [dir, name] {
            if !part.is_empty() {
                path.push('\\');
                path.push_str(&String::from_utf8_lossy(part));
            }
        }
        let vol = le16(f, 85).unwrap_or(0);
        let entry = if flags & FILE_SPLIT != 0 {
            Entry::failed(
                path,
                Issue::unsupported(format!(
                    "installshield cabinet {prefix}: a file split across volumes is not handled"
                )),
            )
        } else if flags & FILE_OBFUSCATED != 0 {
            Entry::failed(
                path,
                Issue::unsupported(format!(
                    "installshield cabinet {prefix}: obfuscated files are not handled"
                )),
            )
        } else {
            match volume(vol) {
                None => Entry::failed(
                    path,
                    corrupt(&format!(
                        "data volume {vol} is not among the installer's files"
                    )),
                ),
                Some(v) => file(
                    v,
                    offset,
                    packed_len,
                    size,
                    flags,
                    &f[26..42],
                    ctx,
                    prefix,
                    path,
                ),
            }
        };
        if sink(ctx, entry) == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    ended.map_or(Ok(Flow::Continue), Err)
}

#[allow(clippy::too_many_arguments)]
fn file<'d>(
    vol: &'d [u8],
    offset: u64,
    packed_len: u64,
    size: u64,
    flags: u16,
    md5: &[u8],
    ctx: &mut Ctx,
    prefix: &str,
    path: String,
) -> Entry<'d> {
    let corrupt = |what: String| Issue::corrupt(format!("installshield cabinet {prefix}: {what}"));
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(vol.len());
    let avail = (vol.len() - start) as u64;
    let stored = if flags & FILE_COMPRESSED != 0 {
        packed_len
    } else {
        size
    };
    let body = &vol[start..start + stored.min(avail) as usize];
    let cut = (stored > avail).then(|| {
        corrupt(format!(
            "truncated: {path} needs {stored} bytes at {offset}, the volume holds {avail}"
        ))
    });
    let mut entry = if flags & FILE_COMPRESSED != 0 {
        let packed = Cell::new(0);
        let mut r = Chunks {
            data: body,
            pos: 0,
            current: None,
            packed: &packed,
        };
        let mut e = Entry::expanded(path, ctx.expand(&mut r, &packed));
        if let Some(issue) = &mut e.issue {
            issue.message = format!("installshield cabinet {prefix}: {}", issue.message);
        }
        e
    } else {
        Entry::new(path, Cow::Borrowed(body))
    };
    if entry.issue.is_none() {
        if let Some(c) = cut {
            entry.issue = Some(c);
        } else if entry.data.len() as u64 != size {
            entry.issue = Some(corrupt(format!(
                "{} expands to {} bytes, its header says {size}",
                entry.name,
                entry.data.len()
            )));
        } else if Md5::digest(&entry.data).as_slice() != md5 {
            entry.issue = Some(corrupt(format!(
                "{}: MD5 mismatch (damaged data)",
                entry.name
            )));
        }
    }
    entry
}
