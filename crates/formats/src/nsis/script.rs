//! File names from the script header.
//!
//! The header starts with its flags and eight `(offset, count)` pairs
//! locating pages, sections, entries (instructions), strings, language
//! tables, control colours, the background font and data. An instruction
//! is seven `u32`: its opcode and six parameters. `File` compiles to
//! `EW_EXTRACTFILE` (opcode 20 in NSIS 2 and 3), whose second parameter is
//! the file's name in the string table and third its offset in the data
//! section. Strings are UTF-16LE in Unicode installers (offsets count
//! characters) and one byte a character in ANSI ones (offsets count
//! bytes); both start with an empty string, which tells them apart.
//! Variables and language strings inside a string are coded; they are
//! written here as `$VAR`, `$(LANG)` and `$SHELL`, since only the
//! installer knows their values at run time.

use std::collections::HashMap;

/// `EW_EXTRACTFILE` in NSIS 2 and 3 (builds with non-default options
/// number their opcodes differently; those keep offset names).
const EW_EXTRACTFILE: u32 = 20;
/// Bytes of one instruction.
const ENTRY_LEN: usize = 28;
/// Longest name kept, in characters: a name is short, and an unterminated
/// string must not run on.
const MAX_NAME: usize = 1024;

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Data offsets of the files the script extracts, with their names (the
/// first name wins where several instructions extract the same data).
pub(super) fn file_names(header: &[u8]) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    let (Some(entries_at), Some(entries_n), Some(strings_at)) =
        (u32_at(header, 20), u32_at(header, 24), u32_at(header, 28))
    else {
        return names;
    };
    let Some(strings) = header.get(strings_at as usize..) else {
        return names;
    };
    let unicode = strings.starts_with(&[0, 0]);
    let Some(entries) = header.get(entries_at as usize..) else {
        return names;
    };
    for entry in entries.chunks_exact(ENTRY_LEN).take(entries_n as usize) {
        let (Some(op), Some(name_at), Some(offset)) =
            (u32_at(entry, 0), u32_at(entry, 8), u32_at(entry, 12))
        else {
            continue;
        };
        if op != EW_EXTRACTFILE {
            continue;
        }
        let name = if unicode {
            utf16_string(strings, name_at as usize)
        } else {
            ansi_string(strings, name_at as usize)
        };
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            names.entry(offset).or_insert(name);
        }
    }
    names
}

/// A coded variable, language string or shell folder, as written here.
fn code_text(code: u32) -> &'static str {
    match code {
        1 => "$(LANG)",
        2 => "$SHELL",
        _ => "$VAR",
    }
}

/// The UTF-16LE string at character `at`. NSIS 3 codes: 1 language
/// string, 2 shell folder, 3 variable (each followed by one code unit),
/// 4 the next unit taken as is.
fn utf16_string(strings: &[u8], at: usize) -> Option<String> {
    let units = strings.get(at.checked_mul(2)?..)?;
    let mut out = Vec::new();
    let mut it = units
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    while out.len() < MAX_NAME {
        match it.next()? {
            0 => break,
            c @ 1..=3 => {
                it.next()?;
                out.extend(code_text(u32::from(c)).encode_utf16());
            }
            4 => out.push(it.next()?),
            c => out.push(c),
        }
    }
    Some(String::from_utf16_lossy(&out))
}

/// The one-byte string at byte `at`, read as Latin-1. NSIS 2 codes are
/// 0xFC (the next byte as is), 0xFD variable, 0xFE shell folder, 0xFF
/// language string; NSIS 3 ANSI uses 1 to 4 as in Unicode. A code is
/// followed by two bytes with their top bits set.
fn ansi_string(strings: &[u8], at: usize) -> Option<String> {
    let bytes = strings.get(at..)?;
    let mut out = String::new();
    let mut i = 0;
    while out.len() < MAX_NAME {
        let b = *bytes.get(i)?;
        i += 1;
        let coded = |i: usize| bytes.get(i..i + 2).is_some_and(|p| p[0] & 0x80 != 0);
        match b {
            0 => break,
            0xFC | 4 => {
                out.push(char::from(*bytes.get(i)?));
                i += 1;
            }
            0xFD..=0xFF if coded(i) => {
                out.push_str(code_text(u32::from(0x100 - u16::from(b))));
                i += 2;
            }
            1..=3 if coded(i) => {
                out.push_str(code_text(u32::from(b)));
                i += 2;
            }
            _ => out.push(char::from(b)),
        }
    }
    Some(out)
}
