//! Heuristics the unpacking makes possible: structural oddities of a
//! container or an executable that no legitimate tool writes, found while
//! looking into it. The scan engine reports them as `heuristic`
//! detections when asked (`--heuristics`); named as ClamAV names them
//! where ClamAV has the same check.
//!
//! - [`zip_overlap`]: members of a zip whose bytes overlap
//!   (`Heuristics.Zip.OverlappingFiles`), the trick of the non-recursive
//!   zip bombs (David Fifield, "A better zip bomb", 2019): many central
//!   directory entries share, or quote, the same compressed data.
//! - [`broken_executable`]: a PE whose section table or section data
//!   runs past the end of the file (`Heuristics.Broken.Executable`).
//! - [`nested_packers`]: an executable packer whose unpacked image is
//!   packed again, more than a set number of times in a row
//!   (`Heuristics.Packer.Nested`, takedown's own name: ClamAV has no such
//!   check).
//!
//! Every check reads only what it needs, bounded by the input's length,
//! and never fails: an input it cannot read is simply not flagged.

use crate::Format;
use crate::packers::{le16, le32};

/// Name of the overlapping-members detection (ClamAV's).
pub const ZIP_OVERLAP: &str = "Heuristics.Zip.OverlappingFiles";
/// Name of the broken-PE detection (ClamAV's).
pub const BROKEN_EXECUTABLE: &str = "Heuristics.Broken.Executable";
/// Name of the nested-packers detection (takedown's own).
pub const NESTED_PACKERS: &str = "Heuristics.Packer.Nested";

/// Default of `--max-packers`: one executable packed by two packers in a
/// row happens (a protector over a compressor); three in a row is a
/// dropper hiding from scanners that unpack one or two levels.
pub const DEFAULT_MAX_PACKERS: u32 = 2;

/// Bytes two zip members may overlap without being flagged: ClamAV
/// tolerates 2, seen in legitimate JAR files; a zip bomb's overlap is
/// at least a local header (30 bytes).
const OVERLAP_TOLERANCE: u64 = 2;

/// More sections than Windows loads (96): not a PE.
const MAX_SECTIONS: usize = 96;

/// Longest member or section name quoted in a message.
const MAX_QUOTED: usize = 100;

/// What a heuristic found: its detection name and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The detection name (`Heuristics.…`).
    pub name: &'static str,
    /// What was found, for the detection's metadata.
    pub message: String,
}

/// The bytes one zip member takes: `start` (its local header) up to
/// `end` (the end of its packed data), with its name.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub start: u64,
    pub end: u64,
    pub name: String,
}

/// A zip (with a central directory) two of whose members overlap by more
/// than 2 bytes: a member's local header lies inside another member's
/// header or data, or two entries point at the same local header. At
/// most `max_entries` central directory entries are looked at.
pub fn zip_overlap(data: &[u8], max_entries: u64) -> Option<Hit> {
    let max = usize::try_from(max_entries).unwrap_or(usize::MAX);
    let mut spans = crate::zip::member_ranges(data, max);
    // By start, the longer first: each member need only be compared with
    // the furthest end seen before it.
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut reach: Option<&Span> = None;
    for s in &spans {
        if let Some(r) = reach {
            let overlap = r.end.min(s.end).saturating_sub(s.start);
            if s.start == r.start || overlap > OVERLAP_TOLERANCE {
                return Some(Hit {
                    name: ZIP_OVERLAP,
                    message: format!(
                        "zip members \"{}\" (bytes {}..{}) and \"{}\" (bytes {}..{}) overlap",
                        quoted(&r.name),
                        r.start,
                        r.end,
                        quoted(&s.name),
                        s.start,
                        s.end
                    ),
                });
            }
        }
        if reach.is_none_or(|r| s.end > r.end) {
            reach = Some(s);
        }
    }
    None
}

/// A PE whose headers parse but claim more than the file holds: its
/// section table runs past the end of the file, or a section's raw data
/// (`PointerToRawData` + `SizeOfRawData`, sections with data only) does.
/// A file whose headers do not reach the section count and the optional
/// header's magic is not taken for a PE and not flagged.
pub fn broken_executable(data: &[u8]) -> Option<Hit> {
    if !data.starts_with(b"MZ") {
        return None;
    }
    let lfanew = usize::try_from(le32(data, 0x3C)?).ok()?;
    if !(4..=0x1_0000).contains(&lfanew) || data.get(lfanew..lfanew.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let count = usize::from(le16(data, lfanew + 6)?);
    let opt_size = usize::from(le16(data, lfanew + 20)?);
    let magic = le16(data, lfanew + 24)?;
    if count == 0 || count > MAX_SECTIONS || !matches!(magic, 0x10B | 0x20B) {
        return None;
    }
    let table = lfanew + 24 + opt_size;
    let len = data.len() as u64;
    let table_end = table + count * 40;
    if table_end > data.len() {
        return Some(Hit {
            name: BROKEN_EXECUTABLE,
            message: format!(
                "PE section table ({count} sections, bytes {table}..{table_end}) runs past the end of the file ({len} bytes)"
            ),
        });
    }
    for i in 0..count {
        let at = table + i * 40;
        let raw_size = u64::from(le32(data, at + 16)?);
        let raw_ptr = u64::from(le32(data, at + 20)?);
        if raw_size > 0 && raw_ptr + raw_size > len {
            let name = data.get(at..at + 8).unwrap_or_default();
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            return Some(Hit {
                name: BROKEN_EXECUTABLE,
                message: format!(
                    "PE section {} (\"{}\") claims bytes {raw_ptr}..{} of a file of {len} bytes",
                    i + 1,
                    quoted(&String::from_utf8_lossy(name)),
                    raw_ptr + raw_size
                ),
            });
        }
    }
    None
}

/// Formats that unpack an executable into another executable (an
/// executable packer's unpacked image). A new packer's format belongs
/// here.
pub fn is_packer(format: Format) -> bool {
    matches!(format, Format::Upx | Format::PackerStub)
}

/// The run of packers an object ends: `parent` is the run of the
/// container it was found in (0 at the top), `format` its own container
/// format, if any. A packer adds one; a PE found inside a PE (`pe@0x…`,
/// which is how a packer's image often carries the original) keeps its
/// parent's run; anything else ends the run.
pub fn packer_run(parent: u32, format: Option<Format>) -> u32 {
    match format {
        Some(f) if is_packer(f) => parent.saturating_add(1),
        Some(Format::PeEmbedded) => parent,
        _ => 0,
    }
}

/// The object that makes a run of packers `run` long, `format` being its
/// own, when that is one more than `max`: reported once, on the first
/// packer past the limit.
pub fn nested_packers(run: u32, max: u32, format: Option<Format>) -> Option<Hit> {
    let format = format.filter(|&f| is_packer(f))?;
    (run == max.saturating_add(1)).then(|| Hit {
        name: NESTED_PACKERS,
        message: format!(
            "{} packer number {run} in a row (each unpacking to the next), more than the --max-packers limit of {max}",
            format.name()
        ),
    })
}

/// A name from the input, cut for a message (the output layers escape
/// what they print).
fn quoted(name: &str) -> String {
    match name.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}...", &name[..cut]),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packers::testpe::pe;
    use crate::testutil::{EICAR, random_bytes, random_flips};
    use std::io::{Cursor, Write};
    use zip::CompressionMethod;
    use zip::write::SimpleFileOptions;

    fn zip_of(members: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in members {
            w.start_file(
                *name,
                SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// Offsets of every central directory entry and of the end record.
    fn directory(z: &[u8]) -> (Vec<usize>, usize) {
        let eocd = memchr::memmem::rfind(z, b"PK\x05\x06").unwrap();
        let cd = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        let mut at = cd;
        let mut entries = Vec::new();
        while at < eocd {
            entries.push(at);
            let n = u16::from_le_bytes([z[at + 28], z[at + 29]]) as usize;
            let e = u16::from_le_bytes([z[at + 30], z[at + 31]]) as usize;
            let c = u16::from_le_bytes([z[at + 32], z[at + 33]]) as usize;
            at += 46 + n + e + c;
        }
        (entries, eocd)
    }

    /// Fifield's full overlap: a second central directory entry (another
    /// name) pointing at the first member's local header.
    fn full_overlap() -> Vec<u8> {
        let z = zip_of(&[("a.txt", &[b'a'; 4000])], CompressionMethod::Deflated);
        let (entries, eocd) = directory(&z);
        let entry = z[entries[0]..eocd].to_vec();
        let mut second = entry.clone();
        second[46..51].copy_from_slice(b"b.txt");
        let mut out = z[..eocd].to_vec();
        out.extend_from_slice(&second);
        let mut end = z[eocd..].to_vec();
        end[8..10].copy_from_slice(&2u16.to_le_bytes());
        end[10..12].copy_from_slice(&2u16.to_le_bytes());
        end[12..16].copy_from_slice(&((entry.len() * 2) as u32).to_le_bytes());
        out.extend_from_slice(&end);
        out
    }

    #[test]
    fn a_second_entry_on_the_same_data_is_an_overlap() {
        let z = full_overlap();
        let hit = zip_overlap(&z, 100).unwrap();
        assert_eq!(hit.name, ZIP_OVERLAP);
        assert!(hit.message.contains("\"a.txt\"") && hit.message.contains("\"b.txt\""));
        // Looking at one entry only, nothing can overlap.
        assert_eq!(zip_overlap(&z, 1), None);
    }

    #[test]
    fn a_member_whose_data_covers_the_next_header_is_an_overlap() {
        // Fifield's quoted overlap: the first member's packed size is
        // stretched over the second member's local header.
        let mut z = zip_of(
            &[("one", b"first member"), ("two", b"second member")],
            CompressionMethod::Stored,
        );
        let (entries, _) = directory(&z);
        let first = entries[0];
        let packed = u32::from_le_bytes(z[first + 20..first + 24].try_into().unwrap());
        z[first + 20..first + 24].copy_from_slice(&(packed + 40).to_le_bytes());
        let hit = zip_overlap(&z, 100).unwrap();
        assert!(hit.message.contains("\"one\"") && hit.message.contains("\"two\""));
        // Two bytes are tolerated, as ClamAV does; three are not.
        z[first + 20..first + 24].copy_from_slice(&(packed + 2).to_le_bytes());
        assert_eq!(zip_overlap(&z, 100), None);
        z[first + 20..first + 24].copy_from_slice(&(packed + 3).to_le_bytes());
        assert!(zip_overlap(&z, 100).is_some());
    }

    #[test]
    fn ordinary_zips_do_not_overlap() {
        let names: Vec<String> = (0..50).map(|i| format!("dir/file{i}.bin")).collect();
        let datas: Vec<Vec<u8>> = (0..50).map(|i| random_bytes(i * 97, i as u32)).collect();
        let members: Vec<(&str, &[u8])> = names
            .iter()
            .zip(&datas)
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
            let z = zip_of(&members, method);
            assert_eq!(zip_overlap(&z, 10_000), None);
            // Self-extracting: a stub in front.
            let mut sfx = pe(&[(b".text", 0x1000, &[0xC3; 10])], (0x1000, 0x200));
            sfx.extend_from_slice(&z);
            assert_eq!(zip_overlap(&sfx, 10_000), None);
        }
        let empty = zip_of(&[], CompressionMethod::Stored);
        assert_eq!(zip_overlap(&empty, 10), None);
        assert_eq!(zip_overlap(b"not a zip", 10), None);
    }

    #[test]
    fn damaged_zips_never_panic() {
        let z = full_overlap();
        for cut in 0..z.len() {
            let _ = zip_overlap(&z[..cut], 100);
        }
        random_flips(&z, 7, 3000, 4, |d| {
            let _ = zip_overlap(d, 100);
        });
    }

    fn sample_pe() -> Vec<u8> {
        pe(
            &[(b".text", 0x1000, EICAR), (b".data", 0x2000, &[7; 700])],
            (0x1000, 0x200),
        )
    }

    #[test]
    fn sections_past_the_end_are_broken() {
        let f = sample_pe();
        assert_eq!(broken_executable(&f), None);
        // The last section's data cut by one byte.
        let hit = broken_executable(&f[..f.len() - 1]).unwrap();
        assert_eq!(hit.name, BROKEN_EXECUTABLE);
        assert!(
            hit.message.contains("section 2 (\".data\")"),
            "{}",
            hit.message
        );
        // A section moved past the end.
        let mut moved = f.clone();
        let table = 0x98 + 0xE0;
        moved[table + 20..table + 24].copy_from_slice(&0x10_0000u32.to_le_bytes());
        assert!(broken_executable(&moved).unwrap().message.contains(".text"));
        // A section without data (.bss) claims nothing.
        let bss = pe(
            &[(b".text", 0x1000, EICAR), (b".bss", 0x2000, &[])],
            (0x1000, 0x200),
        );
        assert_eq!(broken_executable(&bss), None);
    }

    #[test]
    fn a_section_table_cut_off_is_broken() {
        let f = sample_pe();
        let table = 0x98 + 0xE0;
        let hit = broken_executable(&f[..table + 40 + 10]).unwrap();
        assert!(hit.message.contains("section table"), "{}", hit.message);
        // Cut before the optional header's magic: not recognisably a PE.
        assert_eq!(broken_executable(&f[..0x99]), None);
    }

    #[test]
    fn other_files_are_not_executables() {
        let mut elf = b"\x7FELF\x02\x01\x01".to_vec();
        elf.resize(4096, 0);
        for d in [
            &random_bytes(10_000, 3)[..],
            &elf,
            b"MZ",
            b"",
            b"MZ\0\0PE\0\0",
        ] {
            assert_eq!(broken_executable(d), None);
        }
        // An MZ (DOS) executable without a PE header.
        let mut dos = vec![0u8; 0x200];
        dos[..2].copy_from_slice(b"MZ");
        assert_eq!(broken_executable(&dos), None);
    }

    #[test]
    fn damaged_pes_never_panic() {
        let f = sample_pe();
        for cut in 0..f.len() {
            let _ = broken_executable(&f[..cut]);
        }
        random_flips(&f, 11, 3000, 4, |d| {
            let _ = broken_executable(d);
        });
        // The largest e_lfanew and section count taken.
        let mut big = f.clone();
        big[0x3C..0x40].copy_from_slice(&0x1_0000u32.to_le_bytes());
        let _ = broken_executable(&big);
    }

    #[test]
    fn packer_runs() {
        let upx = Some(Format::Upx);
        let carved = Some(Format::PeEmbedded);
        // file!upx!upx!pe@0x..!upx: three packers in a row.
        let mut run = 0;
        for f in [upx, upx, carved, upx] {
            run = packer_run(run, f);
        }
        assert_eq!(run, 3);
        // Another container ends the run; a plain file is not one.
        assert_eq!(packer_run(3, Some(Format::Zip)), 0);
        assert_eq!(packer_run(3, None), 0);
        assert_eq!(nested_packers(2, 2, upx), None);
        let hit = nested_packers(3, 2, upx).unwrap();
        assert_eq!(hit.name, NESTED_PACKERS);
        assert!(hit.message.contains("upx packer number 3 in a row"));
        // Reported once, on the first packer past the limit.
        assert_eq!(nested_packers(4, 2, upx), None);
        assert_eq!(nested_packers(3, 2, carved), None);
        assert_eq!(nested_packers(1, 0, upx).unwrap().name, NESTED_PACKERS);
    }

    #[test]
    fn nested_upx_images_are_runs() {
        // A UPX-packed ELF unpacks to exactly the file packed, so packing
        // a packed file again makes a chain x!upx!upx of packers.
        let mut elf = b"\x7FELF\x02\x01\x01".to_vec();
        elf.resize(0x40, 0);
        elf.extend_from_slice(&EICAR.repeat(40));
        let once = crate::packers::upx::testupx::pack_elf(&elf, 2, 1000);
        let twice = crate::packers::upx::testupx::pack_elf(&once, 8, 1000);
        assert_eq!(crate::identify(&twice), Some(Format::Upx));
        let w = crate::testutil::walk(&twice, "x");
        assert_eq!(w.chains()[..2], ["upx", "upx!upx"]);
        assert_eq!(w.found[0].data, once);
        assert_eq!(w.found[1].data, elf);
        // The run the engine counts down that chain: two packers.
        let run = [&twice, &once]
            .iter()
            .fold(0, |run, d| packer_run(run, crate::identify(d)));
        assert_eq!(run, 2);
        assert_eq!(crate::identify(&elf), None);
        // A packed PE, unpacked and rebuilt, is whole.
        let inner = pe(&[(b".text", 0x1000, EICAR)], (0x1000, 0x200));
        let packed = crate::packers::upx::testupx::pack_pe(&inner, 2, 0);
        let w = crate::testutil::walk(&packed, "x.exe");
        for f in [&inner, &packed, &w.found[0].data] {
            assert_eq!(broken_executable(f), None);
        }
    }
}
