//! The few facts about a PE or ELF file that ClamAV offsets and section
//! hashes need: the entry point as a file offset, and each section's raw
//! offset, raw size and virtual address.
//!
//! A small parser of our own rather than `goblin` or `object`: those parse
//! (and allocate for) far more than these four numbers per section, and a
//! hostile header must cost nothing. Every read is bounds-checked; the
//! section count is capped.

/// Most sections read (the PE loader's own limit is 96).
pub const MAX_SECTIONS: usize = 96;

/// One section (PE) or section header (ELF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// Where its data starts in the file.
    pub raw_offset: u64,
    /// How many bytes of it are in the file.
    pub raw_size: u64,
    /// Its address once loaded (RVA for PE).
    pub virtual_address: u64,
    /// Its size once loaded.
    pub virtual_size: u64,
}

/// Executable facts of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExeInfo {
    /// Entry point as a file offset, when it maps into the file.
    pub entry: Option<u64>,
    /// Sections in header order.
    pub sections: Vec<Section>,
}

fn u16le(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32le(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Parses a PE file; `None` when `data` is not one.
pub fn parse_pe(data: &[u8]) -> Option<ExeInfo> {
    if data.get(..2)? != b"MZ" {
        return None;
    }
    let pe = usize::try_from(u32le(data, 0x3c)?).ok()?;
    if data.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let coff = pe + 4;
    let nsec = usize::from(u16le(data, coff + 2)?).min(MAX_SECTIONS);
    let opt_size = usize::from(u16le(data, coff + 16)?);
    let opt = coff + 20;
    let entry_rva = u64::from(u32le(data, opt + 16)?);
    let table = opt.checked_add(opt_size)?;
    let mut sections = Vec::with_capacity(nsec);
    for i in 0..nsec {
        let s = table.checked_add(i.checked_mul(40)?)?;
        let (Some(vsize), Some(va), Some(rsize), Some(roff)) = (
            u32le(data, s + 8),
            u32le(data, s + 12),
            u32le(data, s + 16),
            u32le(data, s + 20),
        ) else {
            break;
        };
        sections.push(Section {
            raw_offset: u64::from(roff),
            raw_size: u64::from(rsize),
            virtual_address: u64::from(va),
            virtual_size: u64::from(vsize),
        });
    }
    // The entry point RVA maps to the file through the section holding it;
    // before the first section it lies in the headers (RVA == offset).
    let entry = sections
        .iter()
        .find(|s| {
            let span = s.virtual_size.max(s.raw_size);
            entry_rva >= s.virtual_address && entry_rva - s.virtual_address < span
        })
        .map(|s| entry_rva - s.virtual_address + s.raw_offset)
        .or_else(|| {
            let first = sections
                .iter()
                .map(|s| s.virtual_address)
                .min()
                .unwrap_or(u64::MAX);
            (entry_rva < first).then_some(entry_rva)
        })
        .filter(|e| *e < data.len() as u64);
    Some(ExeInfo { entry, sections })
}

/// Parses an ELF file (32/64-bit, either byte order); `None` when `data`
/// is not one. Sections are the section headers; the entry point is
/// mapped through the `PT_LOAD` program headers.
pub fn parse_elf(data: &[u8]) -> Option<ExeInfo> {
    if data.get(..4)? != b"\x7fELF" {
        return None;
    }
    let is64 = match data.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let le = match data.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let rd = |at: usize, n: usize| -> Option<u64> {
        let b = data.get(at..at.checked_add(n)?)?;
        let mut v = 0u64;
        for i in 0..n {
            let byte = if le { b[n - 1 - i] } else { b[i] };
            v = v << 8 | u64::from(byte);
        }
        Some(v)
    };
    let w = if is64 { 8 } else { 4 };
    let entry = rd(24, w)?;
    let (phoff, shoff) = (rd(24 + w, w)?, rd(24 + 2 * w, w)?);
    let base = 24 + 3 * w + 4 + 2; // past e_flags and e_ehsize
    let (phentsize, phnum) = (rd(base, 2)?, rd(base + 2, 2)?);
    let (shentsize, shnum) = (rd(base + 4, 2)?, rd(base + 6, 2)?);

    let mut file_entry = None;
    for i in 0..phnum.min(MAX_SECTIONS as u64) {
        let p = usize::try_from(phoff.checked_add(i.checked_mul(phentsize)?)?).ok()?;
        let Some(ptype) = rd(p, 4) else { break };
        let (off, vaddr, filesz) = if is64 {
            (rd(p + 8, 8), rd(p + 16, 8), rd(p + 32, 8))
        } else {
            (rd(p + 4, 4), rd(p + 8, 4), rd(p + 16, 4))
        };
        let (Some(off), Some(vaddr), Some(filesz)) = (off, vaddr, filesz) else {
            break;
        };
        if ptype == 1 && entry >= vaddr && entry - vaddr < filesz {
            file_entry = off.checked_add(entry - vaddr);
            break;
        }
    }
    let mut sections = Vec::new();
    for i in 0..shnum.min(MAX_SECTIONS as u64) {
        let Some(s) = shoff
            .checked_add(i.saturating_mul(shentsize))
            .and_then(|v| usize::try_from(v).ok())
        else {
            break;
        };
        let (addr, off, size) = if is64 {
            (rd(s + 16, 8), rd(s + 24, 8), rd(s + 32, 8))
        } else {
            (rd(s + 12, 4), rd(s + 16, 4), rd(s + 20, 4))
        };
        let (Some(addr), Some(off), Some(size)) = (addr, off, size) else {
            break;
        };
        sections.push(Section {
            raw_offset: off,
            raw_size: size,
            virtual_address: addr,
            virtual_size: size,
        });
    }
    Some(ExeInfo {
        entry: file_entry.filter(|e| *e < data.len() as u64),
        sections,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal PE32 with the given sections (name, raw bytes, RVA) and
    /// entry point RVA; section data is laid out at 0x200 alignment.
    pub fn build_pe(sections: &[(&[u8; 8], &[u8], u32)], entry_rva: u32) -> Vec<u8> {
        let mut f = vec![0u8; 0x200];
        f[0] = b'M';
        f[1] = b'Z';
        f[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        f[0x40..0x44].copy_from_slice(b"PE\0\0");
        let coff = 0x44;
        f[coff..coff + 2].copy_from_slice(&0x14cu16.to_le_bytes());
        f[coff + 2..coff + 4].copy_from_slice(&(sections.len() as u16).to_le_bytes());
        f[coff + 16..coff + 18].copy_from_slice(&0xe0u16.to_le_bytes());
        let opt = coff + 20;
        f[opt..opt + 2].copy_from_slice(&0x10bu16.to_le_bytes());
        f[opt + 16..opt + 20].copy_from_slice(&entry_rva.to_le_bytes());
        let table = opt + 0xe0;
        let mut raw = 0x200u32;
        let mut body = Vec::new();
        for (i, (name, data, rva)) in sections.iter().enumerate() {
            let s = table + i * 40;
            let size = (data.len() as u32).div_ceil(0x200) * 0x200;
            f[s..s + 8].copy_from_slice(*name);
            f[s + 8..s + 12].copy_from_slice(&(data.len() as u32).to_le_bytes());
            f[s + 12..s + 16].copy_from_slice(&rva.to_le_bytes());
            f[s + 16..s + 20].copy_from_slice(&size.to_le_bytes());
            f[s + 20..s + 24].copy_from_slice(&raw.to_le_bytes());
            let mut d = data.to_vec();
            d.resize(size as usize, 0);
            body.extend(d);
            raw += size;
        }
        f.extend(body);
        f
    }

    #[test]
    fn pe() {
        let f = build_pe(
            &[
                (b".text\0\0\0", &[0x90; 16], 0x1000),
                (b".data\0\0\0", b"hello", 0x2000),
            ],
            0x1004,
        );
        let info = parse_pe(&f).unwrap();
        assert_eq!(info.entry, Some(0x204));
        assert_eq!(info.sections.len(), 2);
        assert_eq!(info.sections[1].raw_offset, 0x400);
        assert_eq!(info.sections[1].raw_size, 0x200);
        // Truncated headers: no panic, no info.
        for n in 0..0x200 {
            let _ = parse_pe(&f[..n]);
        }
        assert!(parse_pe(b"MZ").is_none());
    }

    #[test]
    fn elf_truncations_do_not_panic() {
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        for n in 0..64 {
            let _ = parse_elf(&f[..n]);
        }
        assert!(parse_elf(&f).is_some());
    }
}
