//! Executable packers, and the executables other files carry.
//!
//! A packed executable ([`upx`]) comes out as its unpacked image, a new
//! object (`dropper.exe!upx`) scanned with every signature and recursed
//! into like any member. A PE that carries other PE files in its sections
//! or appended to it ([`detect_embedded`]) hands each of them out by its
//! offset (`pe@0x17e0`), sized by its own headers.

mod emu;
mod nrv;
pub(crate) mod stub;
pub(crate) mod upx;

use crate::{Ctx, Entry, Issue, Sink};

/// Reads a little-endian u16 at `at`, if it is within `data`.
pub(crate) fn le16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Reads a little-endian u32 at `at`, if it is within `data`.
pub(crate) fn le32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a big-endian u32 at `at`, if it is within `data`.
pub(crate) fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// One entry of a PE section table.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    /// Address in memory, relative to the image base.
    pub va: u32,
    /// Size in the file.
    pub raw_size: u32,
    /// Offset in the file.
    pub raw_ptr: u32,
}

/// The parts of a PE's headers the unpackers use.
#[derive(Clone, Debug)]
pub(crate) struct Pe {
    /// Offset of the `PE\0\0` signature (`e_lfanew`).
    pub lfanew: usize,
    /// `SizeOfHeaders`.
    pub size_of_headers: u32,
    /// Offset of the section table.
    pub table: usize,
    /// The section table.
    pub sections: Vec<Section>,
}

/// More sections than Windows loads (96) is not a PE.
const MAX_SECTIONS: usize = 96;

/// Parses the PE headers at the start of `data`: the DOS header, the PE
/// signature, the file and optional headers and the section table, each
/// checked to lie within `data`.
pub(crate) fn parse_pe(data: &[u8]) -> Option<Pe> {
    if !data.starts_with(b"MZ") {
        return None;
    }
    let lfanew = usize::try_from(le32(data, 0x3C)?).ok()?;
    // Real headers sit in the first pages; tiny PEs overlap the DOS header.
    if !(4..=0x1_0000).contains(&lfanew) || data.get(lfanew..lfanew + 4)? != b"PE\0\0" {
        return None;
    }
    let count = usize::from(le16(data, lfanew + 6)?);
    let opt_size = usize::from(le16(data, lfanew + 20)?);
    let opt = lfanew + 24;
    let magic = le16(data, opt)?;
    if count == 0 || count > MAX_SECTIONS || !matches!(magic, 0x10B | 0x20B) {
        return None;
    }
    let size_of_headers = le32(data, opt + 60)?;
    let table = opt + opt_size;
    let mut sections = Vec::with_capacity(count);
    for i in 0..count {
        let at = table + i * 40;
        let s = data.get(at..at + 40)?;
        sections.push(Section {
            va: le32(s, 12)?,
            raw_size: le32(s, 16)?,
            raw_ptr: le32(s, 20)?,
        });
    }
    Some(Pe {
        lfanew,
        size_of_headers,
        table,
        sections,
    })
}

/// The length of the PE at the start of `data` by its own headers: its
/// headers and the end of its last section in the file, cut at the end of
/// `data`. The headers end with the section table; `SizeOfHeaders` counts
/// only when no section has data in the file. Tiny PEs (ClamAV's 544-byte
/// `clam.exe`) end with their section table, well before the
/// `SizeOfHeaders` they declare, and inside an unpacked image whatever
/// follows them is not theirs.
pub(crate) fn pe_extent(data: &[u8], pe: &Pe) -> usize {
    let table_end = (pe.table + pe.sections.len() * 40) as u64;
    let raw_end = pe
        .sections
        .iter()
        .filter(|s| s.raw_size > 0)
        .map(|s| u64::from(s.raw_ptr) + u64::from(s.raw_size))
        .max();
    let end = match raw_end {
        Some(raw) => raw.max(table_end),
        None => u64::from(pe.size_of_headers).max(table_end),
    };
    usize::try_from(end).unwrap_or(usize::MAX).min(data.len())
}

/// Offsets past the start of `data` where another PE starts (an `MZ`
/// whose headers parse), at most `max` of them.
fn embedded_offsets(data: &[u8], max: usize) -> Vec<usize> {
    let mut found = Vec::new();
    for at in memchr::memmem::find_iter(data.get(1..).unwrap_or(&[]), b"MZ") {
        let at = at + 1;
        if found.len() >= max {
            break;
        }
        if data.get(at..).and_then(parse_pe).is_some() {
            found.push(at);
        }
    }
    found
}

/// A PE that carries another PE: in a section (a dropper's payload, the
/// unpacked image of a packer) or appended to it.
pub(crate) fn detect_embedded(data: &[u8]) -> bool {
    parse_pe(data).is_some() && !embedded_offsets(data, 1).is_empty()
}

/// Hands out every PE found inside `data`, by offset, sized by its
/// headers (cut at the end of `data`). A PE inside another one found here
/// is handed out in turn when that one is unpacked, so only the
/// outermost ones are handed out here: a PE starting inside the extent of
/// one already handed out is skipped.
pub(crate) fn extract_embedded(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let max = usize::try_from(ctx.limits().max_entries.saturating_add(1)).unwrap_or(usize::MAX);
    let mut covered = 0usize;
    for at in embedded_offsets(data, max) {
        if at < covered {
            continue;
        }
        let Some(rest) = data.get(at..) else { break };
        let Some(pe) = parse_pe(rest) else { continue };
        let len = pe_extent(rest, &pe);
        covered = at + len;
        if sink(ctx, Entry::new(format!("pe@{at:#x}"), &rest[..len])) == crate::Flow::Stop {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testpe {
    //! Minimal PE files built for tests.

    /// A PE32 with `sections` (`name`, virtual address, content), file
    /// alignment 0x200, headers of 0x400 bytes. Each section's raw size
    /// is its content rounded up to 0x200.
    pub(crate) fn pe(sections: &[(&[u8], u32, &[u8])], code: (u32, u32)) -> Vec<u8> {
        let mut f = vec![0u8; 0x400];
        f[..2].copy_from_slice(b"MZ");
        f[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        f[0x80..0x84].copy_from_slice(b"PE\0\0");
        f[0x84..0x86].copy_from_slice(&0x14Cu16.to_le_bytes());
        f[0x86..0x88].copy_from_slice(&(sections.len() as u16).to_le_bytes());
        f[0x94..0x96].copy_from_slice(&0xE0u16.to_le_bytes());
        let opt = 0x98;
        f[opt..opt + 2].copy_from_slice(&0x10Bu16.to_le_bytes());
        f[opt + 4..opt + 8].copy_from_slice(&code.1.to_le_bytes());
        f[opt + 20..opt + 24].copy_from_slice(&code.0.to_le_bytes());
        f[opt + 28..opt + 32].copy_from_slice(&0x40_0000u32.to_le_bytes());
        f[opt + 32..opt + 36].copy_from_slice(&0x1000u32.to_le_bytes());
        f[opt + 36..opt + 40].copy_from_slice(&0x200u32.to_le_bytes());
        f[opt + 60..opt + 64].copy_from_slice(&0x400u32.to_le_bytes());
        f[opt + 92..opt + 96].copy_from_slice(&16u32.to_le_bytes());
        let mut raw = 0x400u32;
        let mut body = Vec::new();
        for (i, (name, va, content)) in sections.iter().enumerate() {
            let at = opt + 0xE0 + i * 40;
            let size = (content.len() as u32).div_ceil(0x200) * 0x200;
            f[at..at + name.len()].copy_from_slice(name);
            f[at + 8..at + 12].copy_from_slice(&(content.len() as u32).to_le_bytes());
            f[at + 12..at + 16].copy_from_slice(&va.to_le_bytes());
            f[at + 16..at + 20].copy_from_slice(&size.to_le_bytes());
            f[at + 20..at + 24].copy_from_slice(&(if size > 0 { raw } else { 0 }).to_le_bytes());
            body.extend_from_slice(content);
            body.resize(body.len().next_multiple_of(0x200), 0);
            raw += size;
        }
        f.extend_from_slice(&body);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::testpe::pe;
    use crate::testutil::{EICAR, random_flips, walk};
    use crate::{Format, identify};

    #[test]
    fn a_pe_in_a_section_and_one_appended_are_handed_out() {
        let inner = pe(&[(b".text", 0x1000, EICAR)], (0x1000, 0x200));
        let mut data = b"data before ".to_vec();
        data.extend_from_slice(&inner);
        let mut outer = pe(&[(b".data", 0x1000, &data)], (0, 0));
        let at_section = 0x400 + 12;
        outer.extend_from_slice(&inner);
        let appended = outer.len() - inner.len();
        assert_eq!(identify(&outer), Some(Format::PeEmbedded));
        let w = walk(&outer, "dropper.exe");
        assert_eq!(
            w.chains(),
            [format!("pe@{at_section:#x}"), format!("pe@{appended:#x}")]
        );
        assert_eq!(w.found[0].data, inner);
        assert_eq!(w.found[1].data, inner);
        // A PE alone is not a container.
        assert_eq!(identify(&inner), None);
    }

    #[test]
    fn a_pe_cut_short_is_handed_out_as_far_as_it_goes() {
        let inner = pe(&[(b".text", 0x1000, &[0x90; 3000])], (0x1000, 0x200));
        let mut outer = pe(&[(b".text", 0x1000, &[0xCC; 100])], (0, 0));
        outer.extend_from_slice(&inner[..0x500]);
        let w = walk(&outer, "x.exe");
        assert_eq!(w.found.len(), 1);
        assert_eq!(w.found[0].data, &inner[..0x500]);
    }

    #[test]
    fn damaged_headers_never_panic() {
        let inner = pe(&[(b".text", 0x1000, EICAR)], (0x1000, 0x200));
        let mut outer = pe(&[(b".text", 0x1000, &[0xCC; 100])], (0, 0));
        outer.extend_from_slice(&inner);
        random_flips(&outer, 3, 2000, 4, |d| {
            let _ = walk(d, "x.exe");
        });
        for cut in 0..outer.len() {
            let _ = walk(&outer[..cut], "x.exe");
        }
    }
}
