//! Microsoft Cabinet files: stored, MSZIP and LZX folders.
//!
//! A folder is one compressed stream cut into data blocks; its files are
//! ranges of the expanded stream. Each folder is decoded once, front to
//! back, and its files are handed out as the stream reaches them, so a
//! folder of many files costs one pass. A file that starts before the
//! point already reached (files listed out of order, overlapping files)
//! restarts the folder, a bounded number of times.

use std::cell::Cell;
use std::io::{self, Read};

use flate2::{Decompress, FlushDecompress, Status};
use lzxd::{Lzxd, WindowSize};

use crate::{Ctx, Entry, Flow, Issue, Sink};

const FLAG_PREV: u16 = 1;
const FLAG_NEXT: u16 = 2;
const FLAG_RESERVE: u16 = 4;
/// Restarts of one folder's stream for files out of order.
const MAX_RESTARTS: u32 = 16;
/// Largest expanded data block (the format's is 32 KiB; MSZIP and LZX
/// never exceed it, stored blocks are bounded by their 16-bit size).
const MAX_BLOCK: usize = 65535;

pub(crate) fn detect(data: &[u8]) -> bool {
    data.len() >= 36 && data.starts_with(b"MSCF") && data[4..8] == [0; 4] && data[25] == 1
}

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

/// A NUL-terminated string at `at` (at most 256 bytes) and the offset
/// after it.
fn cstr(d: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = d.get(at..)?;
    let n = rest.iter().take(257).position(|&b| b == 0)?;
    Some((&rest[..n], at + n + 1))
}

struct Folder {
    first_data: usize,
    blocks: u16,
    method: u16,
}

struct File<'d> {
    name: &'d [u8],
    size: u32,
    offset: u32,
    folder: u16,
}

/// How a folder's blocks are expanded.
enum Codec {
    Stored,
    MsZip {
        inflate: Box<Decompress>,
        dict: Vec<u8>,
    },
    Lzx(Box<Lzxd>),
}

/// The expanded stream of one folder, as a reader.
struct FolderReader<'d, 'c> {
    data: &'d [u8],
    next: usize,
    left: u16,
    reserve: usize,
    codec: Codec,
    out: Vec<u8>,
    pos: usize,
    packed: &'c Cell<u64>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl<'d, 'c> FolderReader<'d, 'c> {
    fn new(
        data: &'d [u8],
        folder: &Folder,
        reserve: usize,
        packed: &'c Cell<u64>,
    ) -> Result<Self, Issue> {
        let codec = match folder.method & 0x0F {
            0 => Codec::Stored,
            1 => Codec::MsZip {
                inflate: Box::new(Decompress::new(false)),
                dict: Vec::new(),
            },
            3 => {
                let window = match (folder.method >> 8) & 0x1F {
                    15 => WindowSize::KB32,
                    16 => WindowSize::KB64,
                    17 => WindowSize::KB128,
                    18 => WindowSize::KB256,
                    19 => WindowSize::KB512,
                    20 => WindowSize::MB1,
                    21 => WindowSize::MB2,
                    w => {
                        return Err(Issue::corrupt(format!(
                            "cab: LZX folder with a window of 2^{w} bytes"
                        )));
                    }
                };
                Codec::Lzx(Box::new(Lzxd::new(window)))
            }
            2 => {
                return Err(Issue::unsupported(
                    "cab: Quantum compression is not supported",
                ));
            }
            m => {
                return Err(Issue::corrupt(format!(
                    "cab: unknown compression method {m}"
                )));
            }
        };
        Ok(FolderReader {
            data,
            next: folder.first_data,
            left: folder.blocks,
            reserve,
            codec,
            out: Vec::new(),
            pos: 0,
            packed,
        })
    }

    /// Expands the next data block into `out`; false at the end.
    fn fill(&mut self) -> io::Result<bool> {
        if self.left == 0 {
            return Ok(false);
        }
        self.left -= 1;
        let at = self.next;
        let (Some(packed_len), Some(size)) = (u16_at(self.data, at + 4), u16_at(self.data, at + 6))
        else {
            return Err(bad(format!("cab: data block at offset {at} is truncated")));
        };
        let start = at + 8 + self.reserve;
        let end = start + packed_len as usize;
        let Some(block) = self.data.get(start..end) else {
            return Err(bad(format!("cab: data block at offset {at} is truncated")));
        };
        self.next = end;
        self.packed.set(self.packed.get() + packed_len as u64);
        let size = size as usize;
        self.out.clear();
        self.pos = 0;
        match &mut self.codec {
            Codec::Stored => self.out.extend_from_slice(block),
            Codec::MsZip { inflate, dict } => {
                let Some(body) = block.strip_prefix(b"CK") else {
                    return Err(bad(format!("cab: MSZIP block at offset {at} lacks 'CK'")));
                };
                inflate.reset(false);
                if !dict.is_empty() {
                    // The previous block is the dictionary: feed it as a
                    // stored deflate block and throw the output away.
                    let n = dict.len() as u16;
                    let mut primer = vec![0u8];
                    primer.extend_from_slice(&n.to_le_bytes());
                    primer.extend_from_slice(&(!n).to_le_bytes());
                    primer.extend_from_slice(dict);
                    let mut sink = Vec::with_capacity(dict.len());
                    inflate
                        .decompress_vec(&primer, &mut sink, FlushDecompress::Sync)
                        .map_err(|e| bad(format!("cab: MSZIP: {e}")))?;
                }
                self.out.reserve(size.min(MAX_BLOCK));
                match inflate.decompress_vec(body, &mut self.out, FlushDecompress::Finish) {
                    Ok(Status::Ok | Status::StreamEnd | Status::BufError) => {}
                    Err(e) => return Err(bad(format!("cab: MSZIP block at offset {at}: {e}"))),
                }
                dict.clear();
                let keep = self.out.len().min(32768);
                dict.extend_from_slice(&self.out[self.out.len() - keep..]);
            }
            Codec::Lzx(lzx) => {
                if size == 0 {
                    return Ok(true);
                }
                let out = lzx
                    .decompress_next(block, size)
                    .map_err(|e| bad(format!("cab: LZX block at offset {at}: {e}")))?;
                self.out.extend_from_slice(out);
            }
        }
        Ok(true)
    }
}

impl Read for FolderReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn truncated(what: &str) -> Issue {
    Issue::corrupt(format!("cab: truncated {what}"))
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let files_at = u32_at(data, 16).ok_or_else(|| truncated("header"))? as usize;
    let n_folders = u16_at(data, 26).ok_or_else(|| truncated("header"))?;
    let n_files = u16_at(data, 28).ok_or_else(|| truncated("header"))?;
    let flags = u16_at(data, 30).ok_or_else(|| truncated("header"))?;
    let mut at = 36;
    let (mut folder_reserve, mut data_reserve) = (0usize, 0usize);
    if flags & FLAG_RESERVE != 0 {
        let header_reserve = u16_at(data, 36).ok_or_else(|| truncated("header"))? as usize;
        folder_reserve = *data.get(38).ok_or_else(|| truncated("header"))? as usize;
        data_reserve = *data.get(39).ok_or_else(|| truncated("header"))? as usize;
        at = 40 + header_reserve;
    }
    for flag in [FLAG_PREV, FLAG_NEXT] {
        if flags & flag != 0 {
            for _ in 0..2 {
                at = cstr(data, at)
                    .ok_or_else(|| truncated("cabinet set names"))?
                    .1;
            }
        }
    }
    let mut folders = Vec::new();
    for i in 0..n_folders as usize {
        let rec = at + i * (8 + folder_reserve);
        let (Some(first), Some(blocks), Some(method)) = (
            u32_at(data, rec),
            u16_at(data, rec + 4),
            u16_at(data, rec + 6),
        ) else {
            return Err(truncated("folder list"));
        };
        folders.push(Folder {
            first_data: first as usize,
            blocks,
            method,
        });
    }
    let mut files = Vec::new();
    let mut problem = None;
    let mut at = files_at;
    for _ in 0..n_files {
        let (Some(size), Some(offset), Some(folder)) =
            (u32_at(data, at), u32_at(data, at + 4), u16_at(data, at + 8))
        else {
            problem = Some(truncated("file list"));
            break;
        };
        let Some((name, next)) = cstr(data, at + 16) else {
            problem = Some(truncated("file list"));
            break;
        };
        at = next;
        files.push(File {
            name,
            size,
            offset,
            folder,
        });
    }

    let packed = Cell::new(0u64);
    for (fi, folder) in folders.iter().enumerate() {
        ctx.check_time()?;
        // Files continued into the next cabinet belong to the last folder.
        let last = fi + 1 == folders.len();
        let members: Vec<&File> = files
            .iter()
            .filter(|f| f.folder as usize == fi || (last && f.folder == 0xFFFE))
            .collect();
        if members.is_empty() {
            continue;
        }
        let mut reader = match FolderReader::new(data, folder, data_reserve, &packed) {
            Ok(r) => Some(r),
            Err(issue) => {
                for f in &members {
                    let e = Entry::failed(String::from_utf8_lossy(f.name), issue.clone());
                    if sink(ctx, e) == Flow::Stop {
                        return Ok(());
                    }
                }
                continue;
            }
        };
        let mut here = 0u64;
        let mut restarts = 0;
        let mut broken: Option<Issue> = None;
        for f in members {
            let name = String::from_utf8_lossy(f.name).into_owned();
            if let Some(why) = &broken {
                if sink(ctx, Entry::failed(name, why.clone())) == Flow::Stop {
                    return Ok(());
                }
                continue;
            }
            let offset = f.offset as u64;
            if offset < here {
                restarts += 1;
                if restarts > MAX_RESTARTS {
                    let issue = Issue::limit(
                        "max-entries",
                        format!("cab: more than {MAX_RESTARTS} files out of order in one folder"),
                    );
                    if sink(ctx, Entry::failed(name, issue)) == Flow::Stop {
                        return Ok(());
                    }
                    continue;
                }
                reader = FolderReader::new(data, folder, data_reserve, &packed).ok();
                here = 0;
            }
            let Some(r) = reader.as_mut() else {
                continue;
            };
            // Skip to the file's start.
            let mut scratch = [0u8; 16 << 10];
            while here < offset {
                ctx.check_time()?;
                let want = (offset - here).min(scratch.len() as u64) as usize;
                match r.read(&mut scratch[..want]) {
                    Ok(0) => break,
                    Ok(n) => here += n as u64,
                    Err(e) => {
                        broken = Some(Issue::corrupt(e.to_string()));
                        break;
                    }
                }
            }
            if here < offset || broken.is_some() {
                let why = broken.clone().unwrap_or_else(|| {
                    Issue::corrupt(format!("cab: '{name}' starts past the end of its folder"))
                });
                broken = Some(why.clone());
                if sink(ctx, Entry::failed(name, why)) == Flow::Stop {
                    return Ok(());
                }
                continue;
            }
            packed.set(0);
            let mut take = r.take(f.size as u64);
            let mut expanded = ctx.expand(&mut take, &packed);
            here += expanded.data.len() as u64;
            if expanded.cut.is_none() && (expanded.data.len() as u64) < f.size as u64 {
                expanded.cut = Some(Issue::corrupt(format!(
                    "cab: '{name}' ends early: its folder holds {} of its {} bytes",
                    expanded.data.len(),
                    f.size
                )));
            }
            if let Some(cut) = &expanded.cut {
                // The stream cannot be trusted (or afforded) past here.
                broken = Some(Issue::corrupt(format!(
                    "cab: not unpacked: an earlier file of the same folder was cut short ({cut})"
                )));
            }
            if sink(ctx, Entry::expanded(name, expanded)) == Flow::Stop {
                return Ok(());
            }
        }
    }
    for f in files.iter().filter(|f| {
        let continued_here = f.folder == 0xFFFE && !folders.is_empty();
        (f.folder as usize) >= folders.len() && !continued_here
    }) {
        let issue = if f.folder >= 0xFFFD {
            Issue::unsupported("cab: file continued from a previous cabinet of a set")
        } else {
            Issue::corrupt(format!(
                "cab: file in folder {} of {}",
                f.folder,
                folders.len()
            ))
        };
        if sink(ctx, Entry::failed(String::from_utf8_lossy(f.name), issue)) == Flow::Stop {
            return Ok(());
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
    use crate::testutil::{EICAR, random_flips, walk, walk_with};
    use crate::{IssueKind, Limits};
    use cab::{CabinetBuilder, CompressionType};
    use std::io::{Cursor, Write};

    type Files<'a> = &'a [(&'a str, &'a [u8])];

    /// A cabinet with one folder per `(method, files)`.
    fn cabinet(folders: &[(CompressionType, Files<'_>)]) -> Vec<u8> {
        let mut b = CabinetBuilder::new();
        for (ct, files) in folders {
            let f = b.add_folder(*ct);
            for (n, _) in *files {
                f.add_file(*n);
            }
        }
        let mut w = b.build(Cursor::new(Vec::new())).unwrap();
        let all: Vec<&[u8]> = folders
            .iter()
            .flat_map(|(_, fs)| fs.iter().map(|(_, d)| *d))
            .collect();
        let mut i = 0;
        while let Some(mut fw) = w.next_file().unwrap() {
            fw.write_all(all[i]).unwrap();
            i += 1;
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn nested_cab_finds_eicar() {
        let filler: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let inner = cabinet(&[(
            CompressionType::MsZip,
            &[("filler.bin", &filler), ("eicar.com", EICAR)],
        )]);
        let outer = cabinet(&[
            (CompressionType::None, &[("a.txt", b"plain")]),
            (CompressionType::MsZip, &[("inner.cab", &inner)]),
        ]);
        assert!(detect(&outer));
        let w = walk(&outer, "outer.cab");
        let found = w.found.iter().find(|f| f.data == EICAR).unwrap();
        assert_eq!(found.chain, "inner.cab!eicar.com");
        assert_eq!(w.found[2].data, filler);
        assert!(w.issues.is_empty(), "{:?}", w.issues);
    }

    #[test]
    fn odd_names_come_through() {
        let data = cabinet(&[(CompressionType::MsZip, &[("..\\../x\x1b[2J", EICAR)])]);
        let w = walk(&data, "n.cab");
        assert_eq!(w.chains(), ["..\\../x\x1b[2J"]);
        // Invalid UTF-8 in the stored name: patch a byte of the name.
        let mut d = data.clone();
        let at = d.windows(3).position(|w| w == b"x\x1b[").unwrap();
        d[at] = 0xff;
        let w = walk(&d, "n.cab");
        assert_eq!(w.chains(), ["..\\../\u{fffd}\x1b[2J"]);
    }

    #[test]
    fn big_member_is_cut() {
        let zeros = vec![0u8; 2 << 20];
        let data = cabinet(&[(
            CompressionType::MsZip,
            &[("zeros", &zeros), ("after", EICAR)],
        )]);
        let limits = Limits {
            max_member_size: 1 << 20,
            ..Limits::default()
        };
        let w = walk_with(&data, "z.cab", &limits);
        assert_eq!(w.chains(), ["zeros", "after"]);
        assert_eq!(w.found[0].data.len(), 1 << 20);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-filesize")
        );
        assert!(w.found[1].issue.is_some());
    }

    #[test]
    fn files_out_of_order_and_huge_sizes() {
        let mut data = cabinet(&[(CompressionType::MsZip, &[("one", b"11111"), ("two", EICAR)])]);
        // Make the second file start at 0 (overlapping the first) and the
        // first one claim 4 GiB.
        let files_at = u32_at(&data, 16).unwrap() as usize;
        data[files_at..files_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let second = files_at + 16 + 4;
        data[second + 4..second + 8].copy_from_slice(&0u32.to_le_bytes());
        let w = walk(&data, "o.cab");
        assert_eq!(w.chains(), ["one", "two"]);
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert!(w.found[1].data.is_empty() || w.found[1].data.starts_with(b"11111"));
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        let inner = cabinet(&[(
            CompressionType::MsZip,
            &[("eicar.com", EICAR), ("b", b"bb")],
        )]);
        let data = cabinet(&[
            (CompressionType::MsZip, &[("inner.cab", &inner)]),
            (CompressionType::None, &[("c", b"cc")]),
        ]);
        for cut in 0..data.len() {
            let w = walk(&data[..cut], "t.cab");
            assert!(w.found.len() <= 4);
        }
        random_flips(&data, 0x2545_f491, 3000, 3, |d| {
            let _ = walk(d, "f.cab");
        });
    }

    #[test]
    fn quantum_is_unsupported_per_member() {
        let mut data = cabinet(&[(CompressionType::None, &[("q", b"qq")])]);
        // First folder's compression type field.
        data[36 + 6] = 2;
        let w = walk(&data, "q.cab");
        assert_eq!(w.chains(), ["q"]);
        assert_eq!(
            w.found[0].issue.as_ref().unwrap().kind,
            IssueKind::Unsupported
        );
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"hello world, this is plain text and nothing more"));
        assert!(!detect(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"));
        assert!(!detect(b"MSCF"));
    }
}
