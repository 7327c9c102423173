//! Startup folders: everything in them starts at logon. The all-users
//! folder (`ProgramData/.../Programs/StartUp`) and each profile's
//! (`Users/<name>/AppData/Roaming/.../Programs/Startup`). A `.lnk` is an
//! entry for the program it points at (parsed here, [`parse_lnk`]); any
//! other file (`.bat`, `.exe`, `.vbs`) is run itself.
//!
//! Shortcuts are read with a bounded reader of MS-SHLLINK written for
//! this crate rather than the `lnk` crate: it brings binrw, chrono and
//! getset for what is a few length-prefixed fields, and a reader of a
//! victim's files must be one we can fuzz and bound. Every length is
//! checked against the bytes at hand, nothing is allocated from a count
//! before the bytes are there, and the loops are capped.

use super::paths::{self, Vars};
use super::tasks::{read_capped, shown};
use crate::{Disable, Entry, Inventory, Os};
use std::fs;
use std::path::Path;

/// Bytes read from one shortcut: real ones are a few KiB.
pub const MAX_LNK_BYTES: u64 = 1 << 20;
/// Files listed from one Startup folder.
const MAX_FOLDER_FILES: usize = 10_000;
/// Profiles under `Users` looked at.
const MAX_PROFILES: usize = 10_000;
/// Shell items read from a shortcut's ID list (a path is a few).
const MAX_ITEMS: usize = 64;
/// Extra data blocks read from a shortcut.
const MAX_BLOCKS: usize = 64;
/// Characters of one string kept.
const MAX_CHARS: usize = 32_767;

const ALL_USERS: &str = r"ProgramData\Microsoft\Windows\Start Menu\Programs\StartUp";
const PER_USER: &str = r"AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup";

/// What a shortcut points at, as it says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shortcut {
    /// The target from the LinkInfo (local base path and common path
    /// suffix, or the network share's name and suffix).
    pub link_info_path: Option<String>,
    /// The target rebuilt from the shell item ID list (drive and long
    /// names), when it is a plain file-system path.
    pub id_list_path: Option<String>,
    /// The target of the EnvironmentVariableDataBlock
    /// (`%windir%\system32\cmd.exe`), unexpanded.
    pub env_target: Option<String>,
    /// RELATIVE_PATH.
    pub relative_path: Option<String>,
    /// WORKING_DIR.
    pub working_dir: Option<String>,
    /// COMMAND_LINE_ARGUMENTS.
    pub arguments: Option<String>,
}

impl Shortcut {
    /// The path Windows starts: the environment-variable form first (the
    /// shell prefers it when present), then the LinkInfo, the ID list,
    /// the relative path.
    pub fn target_path(&self) -> Option<&str> {
        [
            &self.env_target,
            &self.link_info_path,
            &self.id_list_path,
            &self.relative_path,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|s| !s.trim().is_empty())
    }

    /// The command line it runs: the target (quoted when it has a blank)
    /// and its arguments.
    pub fn command(&self) -> Option<String> {
        let t = self.target_path()?;
        let t = if t.contains(' ') {
            format!("\"{t}\"")
        } else {
            t.to_string()
        };
        Some(match self.arguments.as_deref().map(str::trim) {
            Some(a) if !a.is_empty() => format!("{t} {a}"),
            _ => t,
        })
    }
}

/// Every Startup folder entry of the volume under `root`
/// (`startup-folder`); `vars` are the system's (each profile's are made
/// from them).
pub fn collect(root: &Path, vars: &Vars) -> Inventory {
    let mut inv = Inventory::default();
    if let Some(dir) = paths::resolve(root, ALL_USERS) {
        folder(root, &dir, None, vars, &mut inv);
    }
    let Some(users) = paths::resolve(root, "Users") else {
        return inv;
    };
    let mut names: Vec<String> = match fs::read_dir(&users) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .take(MAX_PROFILES)
            .collect(),
        Err(e) => {
            inv.problem(shown(root, &users), format!("cannot list: {e}"));
            return inv;
        }
    };
    names.sort();
    let drive = vars.get("SystemDrive").unwrap_or("C:").to_string();
    for name in names {
        let Some(dir) = paths::resolve(root, &format!(r"Users\{name}\{PER_USER}")) else {
            continue;
        };
        let uvars = vars.for_user(&format!(r"{drive}\Users\{name}"));
        folder(root, &dir, Some(&name), &uvars, &mut inv);
    }
    inv
}

/// The entries of one Startup folder.
fn folder(root: &Path, dir: &Path, user: Option<&str>, vars: &Vars, inv: &mut Inventory) {
    let mut names: Vec<_> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .take(MAX_FOLDER_FILES + 1)
            .collect(),
        Err(e) => {
            inv.problem(shown(root, dir), format!("cannot list: {e}"));
            return;
        }
    };
    if names.len() > MAX_FOLDER_FILES {
        names.truncate(MAX_FOLDER_FILES);
        inv.problem(
            shown(root, dir),
            format!("more than {MAX_FOLDER_FILES} files; the rest is not read"),
        );
    }
    names.sort();
    for n in names {
        let path = dir.join(&n);
        let name = n.to_string_lossy().into_owned();
        let lower = name.to_lowercase();
        // Explorer's folder settings, not run.
        if lower == "desktop.ini" {
            continue;
        }
        let location = shown(root, &path);
        let Ok(m) = fs::symlink_metadata(&path) else {
            continue;
        };
        if m.file_type().is_symlink() {
            inv.problem(location, "a symbolic link: not followed");
            continue;
        }
        if !m.is_file() {
            continue;
        }
        let (command, target) = if lower.ends_with(".lnk") {
            match read_capped(&path, MAX_LNK_BYTES).and_then(|b| parse_lnk(&b)) {
                Ok(s) => {
                    let command = s.command();
                    let target = command
                        .as_deref()
                        .and_then(|c| paths::target(root, c, vars));
                    (command, target)
                }
                Err(reason) => {
                    inv.problem(location, format!("shortcut: {reason}"));
                    continue;
                }
            }
        } else {
            (None, Some(path.clone()))
        };
        inv.entries.push(Entry {
            os: Os::Windows,
            mechanism: "startup-folder",
            location,
            name,
            user: user.map(str::to_string),
            command,
            target,
            line: None,
            // The shortcut or file goes into the vault.
            disable: Some(Disable::File { path: path.clone() }),
        });
    }
}

/// A bounded little-endian reader.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn u16(&mut self) -> Result<u16, String> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).ok_or("length overflows")?;
        let s = self
            .b
            .get(self.pos..end)
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        self.pos = end;
        Ok(s)
    }
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// A NUL-terminated 8-bit string at `at` (read as Latin-1: the code page
/// is unknown offline).
fn cstr8(b: &[u8], at: usize) -> Option<String> {
    let s = b.get(at..)?;
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    Some(
        s[..end]
            .iter()
            .take(MAX_CHARS)
            .map(|&c| c as char)
            .collect(),
    )
}

/// A NUL-terminated UTF-16 LE string at `at`.
fn cstr16(b: &[u8], at: usize) -> Option<String> {
    let s = b.get(at..)?;
    let units = s
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .take(MAX_CHARS);
    Some(
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

const LINK_CLSID: [u8; 16] = [
    0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
];
const HAS_ID_LIST: u32 = 0x1;
const HAS_LINK_INFO: u32 = 0x2;
const HAS_NAME: u32 = 0x4;
const HAS_RELATIVE_PATH: u32 = 0x8;
const HAS_WORKING_DIR: u32 = 0x10;
const HAS_ARGUMENTS: u32 = 0x20;
const HAS_ICON_LOCATION: u32 = 0x40;
const IS_UNICODE: u32 = 0x80;
const FORCE_NO_LINK_INFO: u32 = 0x100;
const ENVIRONMENT_BLOCK: u32 = 0xA000_0001;

/// Parses a shell link (`.lnk`, MS-SHLLINK) from its bytes. Bounded:
/// every offset and count is checked against `bytes`, loops are capped.
/// The entry point for fuzzing.
pub fn parse_lnk(bytes: &[u8]) -> Result<Shortcut, String> {
    let mut c = Cur { b: bytes, pos: 0 };
    if c.u32()? != 0x4C || c.take(16)? != LINK_CLSID {
        return Err("not a shell link (header)".into());
    }
    let flags = c.u32()?;
    c.pos = 0x4C;
    let mut s = Shortcut::default();
    if flags & HAS_ID_LIST != 0 {
        let size = c.u16()? as usize;
        let list = c.take(size)?;
        s.id_list_path = id_list_path(list);
    }
    if flags & HAS_LINK_INFO != 0 {
        let start = c.pos;
        let size = c.u32()? as usize;
        if size < 4 {
            return Err("LinkInfo smaller than its own size field".into());
        }
        c.pos = start;
        let info = c.take(size)?;
        if flags & FORCE_NO_LINK_INFO == 0 {
            s.link_info_path = link_info_path(info);
        }
    }
    let unicode = flags & IS_UNICODE != 0;
    for (flag, slot) in [
        (HAS_NAME, None),
        (HAS_RELATIVE_PATH, Some(0)),
        (HAS_WORKING_DIR, Some(1)),
        (HAS_ARGUMENTS, Some(2)),
        (HAS_ICON_LOCATION, None),
    ] {
        if flags & flag == 0 {
            continue;
        }
        let count = c.u16()? as usize;
        let raw = c.take(if unicode { count * 2 } else { count })?;
        let text = if unicode {
            cstr16(raw, 0)
        } else {
            cstr8(raw, 0)
        };
        match slot {
            Some(0) => s.relative_path = non_empty(text),
            Some(1) => s.working_dir = non_empty(text),
            Some(2) => s.arguments = non_empty(text),
            _ => {}
        }
    }
    // Extra data: a shortcut may end before it (tolerated).
    for _ in 0..MAX_BLOCKS {
        let start = c.pos;
        let Ok(size) = c.u32() else { break };
        if size < 8 {
            break;
        }
        let Ok(sig) = c.u32() else { break };
        c.pos = start;
        let Ok(block) = c.take(size as usize) else {
            break;
        };
        if sig == ENVIRONMENT_BLOCK {
            let wide = non_empty(cstr16(block.get(268..788).unwrap_or(&[]), 0));
            let ansi = non_empty(cstr8(block.get(8..268).unwrap_or(&[]), 0));
            s.env_target = wide.or(ansi);
        }
    }
    Ok(s)
}

/// The path of a LinkInfo structure (offsets are from its start).
fn link_info_path(info: &[u8]) -> Option<String> {
    let header = le_u32(info, 4)? as usize;
    let flags = le_u32(info, 8)?;
    let local_off = le_u32(info, 16)? as usize;
    let net_off = le_u32(info, 20)? as usize;
    let suffix_off = le_u32(info, 24)? as usize;
    let wide = header >= 0x24;
    let suffix = if wide {
        le_u32(info, 32).and_then(|o| cstr16(info, o as usize))
    } else {
        None
    }
    .or_else(|| cstr8(info, suffix_off))
    .unwrap_or_default();
    let join = |base: String| {
        if suffix.is_empty() {
            base
        } else if base.ends_with('\\') {
            format!("{base}{suffix}")
        } else {
            format!(r"{base}\{suffix}")
        }
    };
    if flags & 1 != 0 {
        let base = if wide {
            le_u32(info, 28).and_then(|o| cstr16(info, o as usize))
        } else {
            None
        }
        .filter(|s| !s.is_empty())
        .or_else(|| cstr8(info, local_off))?;
        return non_empty(Some(join(base)));
    }
    if flags & 2 != 0 {
        // CommonNetworkRelativeLink: the share's name.
        let net = info.get(net_off..)?;
        let name_off = le_u32(net, 8)? as usize;
        let name = if name_off > 0x14 {
            le_u32(net, 20).and_then(|o| cstr16(net, o as usize))
        } else {
            None
        }
        .or_else(|| cstr8(net, name_off))?;
        return non_empty(Some(join(name)));
    }
    None
}

/// The file-system path of a shell item ID list: a volume item (`C:\`)
/// then file entry items (their long names), the root item skipped.
/// `None` for anything else (a Control Panel item, a URI), which has no
/// path to resolve.
fn id_list_path(list: &[u8]) -> Option<String> {
    let mut pos = 0usize;
    let mut path = String::new();
    for _ in 0..MAX_ITEMS {
        let size = le_u16(list, pos)? as usize;
        if size == 0 {
            break;
        }
        let item = list.get(pos..pos.checked_add(size)?)?;
        pos += size;
        let class = *item.get(2)?;
        match class & 0x70 {
            // The root: My Computer and the like.
            0x10 => {}
            // A volume: `C:\`.
            0x20 => path = cstr8(item, 3)?,
            // A file or folder.
            0x30 => {
                let name = long_name(item).or_else(|| {
                    if class & 0x04 != 0 {
                        cstr16(item, 14)
                    } else {
                        cstr8(item, 14)
                    }
                })?;
                if !path.is_empty() && !path.ends_with('\\') {
                    path.push('\\');
                }
                path.push_str(&name);
            }
            _ => return None,
        }
    }
    non_empty(Some(path))
}

/// The long name of a file entry item, from its BEEF0004 extension.
fn long_name(item: &[u8]) -> Option<String> {
    let sig = [0x04, 0x00, 0xEF, 0xBE];
    let at = item.windows(4).skip(4).position(|w| w == sig)? + 4;
    let block = item.get(at - 4..)?;
    let size = (le_u16(block, 0)? as usize).min(block.len());
    let block = &block[..size];
    let offset = match le_u16(block, 2)? {
        v if v >= 9 => 0x2E,
        8 => 0x2A,
        7 => 0x26,
        3..=6 => 0x14,
        _ => return None,
    };
    non_empty(cstr16(block, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_lnk(b"").is_err());
        assert!(parse_lnk(&[0x4C, 0, 0, 0]).is_err());
        let mut h = vec![0x4C, 0, 0, 0];
        h.extend(LINK_CLSID);
        h.extend(0xFFFF_FFFFu32.to_le_bytes());
        h.resize(0x4C, 0);
        // Every flag set, nothing after the header.
        assert!(parse_lnk(&h).is_err());
        // Sizes that run past the end, everywhere.
        for i in 0..2000u32 {
            let mut b = h.clone();
            b.extend(i.wrapping_mul(2_654_435_761).to_le_bytes().repeat(64));
            let _ = parse_lnk(&b);
        }
    }
}
