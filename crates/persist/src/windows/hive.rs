//! One registry hive of an offline volume, read with `notatin`, bounded.
//!
//! A hive whose base block says it is dirty (its two sequence numbers
//! differ, or its checksum is wrong) holds changes only in its transaction
//! logs (`.LOG1`, `.LOG2`): read alone, it would be misread. Such a hive
//! is read only when the logs replay; otherwise it is refused with a
//! reason. notatin itself only warns and reads the stale file, so the
//! check is made here, before and after it.

use notatin::cell_key_node::CellKeyNode;
use notatin::cell_value::CellValue;
use notatin::parser::Parser;
use notatin::parser_builder::ParserBuilder;
use std::collections::HashSet;
use std::io::{Cursor, Read};
use std::path::Path;

use super::paths;
use crate::open::open_regular;

/// Bytes of a hive or log file read at most: a SOFTWARE hive is a few
/// hundred MB at worst; a larger file is refused rather than loaded (the
/// parser holds it whole in memory, a replay copies it).
pub const MAX_HIVE_BYTES: u64 = 768 << 20;
/// Sub-keys of one key listed at most (a real Services key has ~1,000).
pub const MAX_SUBKEYS: usize = 20_000;
/// Values of one key listed at most (a Run key has tens).
pub const MAX_VALUES: usize = 4_096;
/// Characters of a string value kept (a command line is at most 32,767
/// characters on Windows); longer ones are cut.
pub const MAX_STRING: usize = 32_767;
/// Strings of one multi-string value kept.
pub const MAX_MULTI: usize = 1_024;
/// Bytes of a binary value kept.
pub const MAX_BINARY: usize = 64 << 10;

/// Size of a hive's base block.
const BASE_BLOCK: usize = 4096;

/// A value's data, bounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// REG_SZ, REG_EXPAND_SZ, REG_LINK.
    Str(String),
    /// REG_MULTI_SZ.
    Multi(Vec<String>),
    /// REG_DWORD, REG_QWORD and their kin.
    Num(u64),
    /// Anything else, raw.
    Bin(Vec<u8>),
    /// No data or unreadable data.
    None,
}

impl Value {
    /// The value as one string: a string, a multi-string's first entry, a
    /// number in decimal.
    pub fn as_str(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Multi(v) => v.first().cloned(),
            Value::Num(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The value as a number (a DWORD, or a string of digits).
    pub fn as_num(&self) -> Option<u64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// One key of a hive.
#[derive(Clone, Debug)]
pub struct Key {
    node: CellKeyNode,
}

impl Key {
    /// The key's own name.
    pub fn name(&self) -> &str {
        &self.node.key_name
    }

    /// Its values (name, data), at most [`MAX_VALUES`], in hive order;
    /// the default value has the empty name.
    pub fn values(&self) -> Vec<(String, Value)> {
        self.node
            .value_iter()
            .take(MAX_VALUES)
            .map(|v| {
                let name = v.detail.value_name().to_string();
                (cut(name), convert(v.get_content().0))
            })
            .collect()
    }

    /// The value named `name` (any ASCII case).
    pub fn value(&self, name: &str) -> Option<Value> {
        self.node
            .value_iter()
            .take(MAX_VALUES)
            .find(|v| v.detail.value_name().eq_ignore_ascii_case(name))
            .map(|v| convert(v.get_content().0))
    }

    /// How many sub-keys the key says it has (what reading them costs).
    pub fn subkey_count(&self) -> usize {
        self.node.detail.number_of_sub_keys() as usize
    }

    /// Whether the key has more values than are listed.
    pub fn values_truncated(&self) -> bool {
        self.node.detail.number_of_key_values() as usize > MAX_VALUES
    }
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_STRING {
        let mut n = MAX_STRING;
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s.truncate(n);
    }
    s
}

fn convert(v: CellValue) -> Value {
    match v {
        CellValue::String(s) => Value::Str(cut(s)),
        CellValue::MultiString(v) => Value::Multi(v.into_iter().take(MAX_MULTI).map(cut).collect()),
        CellValue::U32(n) => Value::Num(n.into()),
        CellValue::I32(n) => Value::Num(n as u32 as u64),
        CellValue::U64(n) => Value::Num(n),
        CellValue::I64(n) => Value::Num(n as u64),
        CellValue::Binary(mut b) => {
            b.truncate(MAX_BINARY);
            Value::Bin(b)
        }
        CellValue::None | CellValue::Error => Value::None,
    }
}

/// An open hive.
pub struct Hive {
    parser: Parser,
    root: CellKeyNode,
}

impl std::fmt::Debug for Hive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hive")
            .field("root", &self.root.key_name)
            .finish()
    }
}

/// Whether a base block says the hive is dirty: Err when it is no hive.
fn is_dirty(bytes: &[u8]) -> Result<bool, String> {
    let block = bytes
        .get(..BASE_BLOCK)
        .ok_or_else(|| "too short for a registry hive".to_string())?;
    if block.get(..4) != Some(b"regf") {
        return Err("not a registry hive (no regf signature)".into());
    }
    let u32_at = |o: usize| {
        block
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    };
    let mut sum = 0u32;
    for i in 0..127 {
        sum ^= u32_at(i * 4);
    }
    // The format's own special cases of the XOR sum.
    let sum = match sum {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        s => s,
    };
    let dirty = u32_at(4) != u32_at(8) || sum != u32_at(0x1FC);
    // A clean hive holds all the bins its base block counts; a shorter
    // file was cut (a copy or a disk error) and its keys would be lost
    // without a word. (A dirty one may grow through its logs.)
    let bins = u32_at(40) as usize;
    if !dirty && bytes.len() - BASE_BLOCK < bins {
        return Err(format!(
            "truncated: the base block counts {bins} bytes of hive bins, the file holds {}",
            bytes.len() - BASE_BLOCK
        ));
    }
    Ok(dirty)
}

/// Checks the cells notatin would trust: notatin expands an index list
/// (`ri`) by recursing into what it points at with no depth limit, so an
/// `ri` naming itself overflows the stack (an abort no unwinding catches)
/// and `ri` lists naming one big leaf list many times multiply it. Windows
/// writes an `ri` only over leaf lists (`lf`, `lh`, `li`), each leaf in one
/// place: anything else is refused. One linear pass over the hive bins.
fn check_cells(bytes: &[u8]) -> Result<(), String> {
    let u32_at = |o: usize| {
        bytes
            .get(o..o.checked_add(4)?)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let bins = u32_at(40).unwrap_or(0) as usize;
    let end = bytes.len().min(BASE_BLOCK.saturating_add(bins));
    let mut leaves = HashSet::new();
    let mut bin = BASE_BLOCK;
    while bin < end {
        if bytes.get(bin..bin + 4) != Some(b"hbin") {
            return Err(format!("corrupt hive: no hive bin at offset {bin}"));
        }
        let size = u32_at(bin + 8).unwrap_or(0) as usize;
        if size < 4096 || !size.is_multiple_of(4096) || bin + size > end {
            return Err(format!("corrupt hive: bad hive bin size at offset {bin}"));
        }
        let mut cell = bin + 32;
        while cell + 4 <= bin + size {
            let raw = u32_at(cell).unwrap_or(0) as i32;
            let len = raw.unsigned_abs() as usize;
            if len < 8 || cell + len > bin + size {
                return Err(format!("corrupt hive: bad cell at offset {cell}"));
            }
            if raw < 0 && bytes.get(cell + 4..cell + 6) == Some(b"ri") {
                let count = bytes
                    .get(cell + 6..cell + 8)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
                    .unwrap_or(0);
                for i in 0..count.min((len - 8) / 4) {
                    let item = u32_at(cell + 8 + 4 * i).unwrap_or(u32::MAX) as usize;
                    let target = BASE_BLOCK.saturating_add(item);
                    let sig = bytes.get(target.saturating_add(4)..target.saturating_add(6));
                    if !matches!(sig, Some(b"lf" | b"lh" | b"li")) {
                        return Err(format!(
                            "hostile hive: index list at offset {cell} points at no leaf list"
                        ));
                    }
                    if !leaves.insert(item) {
                        return Err(format!(
                            "hostile hive: leaf list at offset {target} indexed twice"
                        ));
                    }
                }
            }
            cell += len;
        }
        bin += size;
    }
    Ok(())
}

/// Bytes of a log entry's (`HvLE`) header: notatin hashes the entry from
/// this offset on, computing `size - 40`.
const LOG_ENTRY_HEADER: usize = 40;

/// Checks the transaction logs before notatin replays them, walking their
/// entries (`HvLE`, from offset 512) exactly as notatin does (each one
/// takes its stated size, or what its header and pages take when more):
///
/// - an entry whose stated size is below its 40-byte header is refused:
///   notatin computes `size - 40` for its hash and panics;
/// - notatin grows its copy of the hive, for every entry, by the entry's
///   hive-bins size minus the base block's (not minus the current size):
///   so the growth is summed over all entries of all logs, and the hive
///   with it must stay within [`MAX_HIVE_BYTES`].
fn check_logs(hive: &[u8], logs: &[Vec<u8>]) -> Result<(), String> {
    let u32_in = |b: &[u8], o: usize| {
        b.get(o..o.checked_add(4)?)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64)
    };
    let primary_bins = u32_in(hive, 40).unwrap_or(0);
    let mut total = hive.len() as u64;
    for log in logs {
        let mut off = 512usize;
        while log.get(off..off.saturating_add(4)) == Some(b"HvLE") {
            let (Some(size), Some(bins), Some(pages)) = (
                u32_in(log, off + 4),
                u32_in(log, off + 16),
                u32_in(log, off + 20),
            ) else {
                break; // notatin cannot parse it either: the walk ends.
            };
            // What the header, the page references and the pages take.
            let refs = (pages as usize).saturating_mul(8);
            let mut used = LOG_ENTRY_HEADER.saturating_add(refs);
            if off.saturating_add(used) > log.len() {
                break;
            }
            for i in 0..pages as usize {
                let page = u32_in(log, off + LOG_ENTRY_HEADER + 8 * i + 4).unwrap_or(0);
                used = used.saturating_add(page as usize);
            }
            let taken = used.max(size as usize);
            if off.saturating_add(taken) > log.len() {
                break; // incomplete: notatin stops here too.
            }
            if (size as usize) < LOG_ENTRY_HEADER {
                return Err(format!(
                    "hostile transaction log: an entry at offset {off} states {size} bytes, \
                     less than its header"
                ));
            }
            total = total.saturating_add(bins.saturating_sub(primary_bins));
            if total > MAX_HIVE_BYTES {
                return Err(format!(
                    "the transaction logs grow the hive past {MAX_HIVE_BYTES} bytes"
                ));
            }
            off += taken;
        }
    }
    Ok(())
}

impl Hive {
    /// Opens a hive from its bytes and those of its transaction logs
    /// (given only when the hive is dirty; a clean hive ignores them).
    /// This is the entry point for fuzzing hive bytes.
    pub fn from_bytes(bytes: Vec<u8>, logs: Vec<Vec<u8>>) -> Result<Hive, String> {
        if bytes.len() as u64 > MAX_HIVE_BYTES {
            return Err(format!("hive larger than {MAX_HIVE_BYTES} bytes"));
        }
        let dirty = is_dirty(&bytes)?;
        let logs: Vec<Vec<u8>> = logs.into_iter().filter(|l| !l.is_empty()).collect();
        if dirty && logs.is_empty() {
            return Err(
                "the hive is dirty (changes only in its transaction logs) and no \
                        .LOG1/.LOG2 was found: not read, it would be misread"
                    .into(),
            );
        }
        check_cells(&bytes)?;
        if dirty {
            check_logs(&bytes, &logs)?;
        }
        let mut builder = ParserBuilder::from_file(Cursor::new(bytes));
        if dirty {
            for l in logs {
                builder.with_transaction_log(Cursor::new(l));
            }
        }
        let mut parser = builder
            .build()
            .map_err(|e| format!("unreadable hive: {e}"))?;
        if dirty && !replayed(&parser) {
            return Err(
                "the hive is dirty and its transaction logs could not be replayed \
                        (none applies, or an old log format): not read, it would be misread"
                    .into(),
            );
        }
        let root = parser
            .get_root_key()
            .map_err(|e| format!("unreadable root key: {e}"))?
            .ok_or_else(|| "the hive has no root key".to_string())?;
        Ok(Hive { parser, root })
    }

    /// Opens the hive at `rel` under `root` (any case, no symlinks) with
    /// its `.LOG1`/`.LOG2` beside it: Ok(None) when there is no such file.
    pub fn open(root: &Path, rel: &str) -> Result<Option<Hive>, String> {
        let Some(path) = paths::resolve(root, rel) else {
            return Ok(None);
        };
        let bytes = read_bounded(&path)?;
        let mut logs = Vec::new();
        if is_dirty(&bytes).unwrap_or(false) {
            for ext in ["LOG1", "LOG2", "LOG"] {
                if let Some(p) = paths::resolve(root, &format!("{rel}.{ext}")) {
                    // An unreadable log is as good as a missing one: the
                    // replay check below says so.
                    if let Ok(b) = read_bounded(&p) {
                        logs.push(b);
                    }
                }
            }
        }
        Hive::from_bytes(bytes, logs).map(Some)
    }

    /// The key at `path` (`\`-separated, from the hive's root; any ASCII
    /// case); the root for "".
    pub fn key(&mut self, path: &str) -> Option<Key> {
        let path = path.trim_matches('\\');
        if path.is_empty() {
            return Some(Key {
                node: self.root.clone(),
            });
        }
        let mut root = self.root.clone();
        root.get_sub_key_by_path(&mut self.parser, path)
            .map(|node| Key { node })
    }

    /// The sub-key `name` of `key`.
    pub fn subkey(&mut self, key: &Key, name: &str) -> Option<Key> {
        if name.is_empty() || name.contains('\\') {
            return None;
        }
        let mut node = key.node.clone();
        node.get_sub_key_by_path(&mut self.parser, name)
            .map(|node| Key { node })
    }

    /// The sub-keys of `key`, at most [`MAX_SUBKEYS`], each key cell once
    /// (a list naming one cell twice, or its parent, is hostile); true when
    /// some were left out.
    pub fn subkeys(&mut self, key: &Key) -> (Vec<Key>, bool) {
        let mut node = key.node.clone();
        let all = node.read_sub_keys(&mut self.parser);
        let truncated = all.len() > MAX_SUBKEYS;
        let mut seen = HashSet::new();
        seen.insert(key.node.file_offset_absolute);
        let keys = all
            .into_iter()
            .take(MAX_SUBKEYS)
            .filter(|n| seen.insert(n.file_offset_absolute))
            .map(|node| Key { node })
            .collect();
        (keys, truncated)
    }

    /// The cell offset identifying a key in this hive (to break cycles).
    pub fn id(key: &Key) -> usize {
        key.node.file_offset_absolute
    }
}

/// Whether notatin replayed at least one log entry: it writes the new
/// sequence number in its parse log ("... updated to N"), 0 when nothing
/// applied.
fn replayed(parser: &Parser) -> bool {
    let Some(logs) = parser.get_parse_logs().get() else {
        return false;
    };
    logs.iter().any(|l| {
        l.text
            .split("Sequence numbers have been updated to ")
            .nth(1)
            .and_then(|rest| rest.split('.').next())
            .and_then(|n| n.trim().parse::<u32>().ok())
            .is_some_and(|n| n != 0)
    })
}

/// A file's bytes, refused past [`MAX_HIVE_BYTES`].
/// Only a regular file is opened (a FIFO named SOFTWARE would block the
/// run forever): see [`open_regular`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let f = open_regular(path)?.ok_or_else(|| "no such file".to_string())?;
    let mut buf = Vec::new();
    f.take(MAX_HIVE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read: {e}"))?;
    if buf.len() as u64 > MAX_HIVE_BYTES {
        return Err(format!("larger than {MAX_HIVE_BYTES} bytes"));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_hives() {
        assert!(Hive::from_bytes(vec![], vec![]).is_err());
        assert!(Hive::from_bytes(vec![0; 8192], vec![]).is_err());
        let mut b = vec![0u8; 8192];
        b[..4].copy_from_slice(b"regf");
        b[4] = 1; // sequence numbers differ: dirty
        let e = Hive::from_bytes(b.clone(), vec![]).unwrap_err();
        assert!(e.contains("dirty"), "{e}");
        let e = Hive::from_bytes(b, vec![vec![1, 2, 3]]).unwrap_err();
        assert!(e.contains("dirty") || e.contains("unreadable"), "{e}");
    }

    /// A dirty hive (no bins) and a log: its base block, then `entries`
    /// (stated size, hive-bins size), each padded to its stated size (at
    /// least its 40-byte header).
    fn dirty_with_log(entries: &[(u32, u32)]) -> (Vec<u8>, Vec<u8>) {
        let mut hive = vec![0u8; 8192];
        hive[..4].copy_from_slice(b"regf");
        hive[4] = 2;
        hive[8] = 1;
        let mut log = hive[..512].to_vec();
        for &(size, bins) in entries {
            let start = log.len();
            log.extend_from_slice(b"HvLE");
            log.extend_from_slice(&size.to_le_bytes());
            log.extend_from_slice(&0u32.to_le_bytes()); // flags
            log.extend_from_slice(&2u32.to_le_bytes()); // sequence
            log.extend_from_slice(&bins.to_le_bytes());
            log.extend_from_slice(&0u32.to_le_bytes()); // no dirty pages
            log.extend_from_slice(&[0; 16]); // hashes
            log.resize(start + (size as usize).max(40), 0);
        }
        (hive, log)
    }

    /// An entry stating fewer bytes than its header made notatin panic
    /// (`size - 40`): refused before.
    #[test]
    fn log_entry_below_its_header_is_refused() {
        for size in [0, 16, 39] {
            let (hive, log) = dirty_with_log(&[(size, 0)]);
            let e = Hive::from_bytes(hive, vec![log]).unwrap_err();
            assert!(e.contains("less than its header"), "{e}");
        }
        // Also after an entry of an odd size (not a multiple of 512),
        // which notatin walks past.
        let (hive, log) = dirty_with_log(&[(100, 0), (8, 0)]);
        let e = Hive::from_bytes(hive, vec![log]).unwrap_err();
        assert!(e.contains("less than its header"), "{e}");
        let (hive, log) = dirty_with_log(&[(40, 0), (512, 0)]);
        let e = Hive::from_bytes(hive, vec![log]).unwrap_err();
        assert!(!e.contains("header"), "{e}");
    }

    /// notatin grows the hive once per entry: entries each within the
    /// cap but over it together are refused, across logs too.
    #[test]
    fn total_log_growth_is_capped() {
        let half = (MAX_HIVE_BYTES / 2 + 4096) as u32 & !4095;
        let (hive, log) = dirty_with_log(&[(512, half), (512, half)]);
        let e = Hive::from_bytes(hive, vec![log]).unwrap_err();
        assert!(e.contains("grow the hive past"), "{e}");
        let (hive, log) = dirty_with_log(&[(512, half)]);
        let e = Hive::from_bytes(hive.clone(), vec![log.clone(), log.clone()]).unwrap_err();
        assert!(e.contains("grow the hive past"), "{e}");
        // One entry within the cap passes the check (and then fails to
        // replay: its hashes are wrong).
        let e = Hive::from_bytes(hive, vec![log]).unwrap_err();
        assert!(!e.contains("grow"), "{e}");
        // A growth hidden behind an entry of an odd size is seen too.
        let (hive, log) = dirty_with_log(&[(100, 0), (512, !4095u32)]);
        let e = Hive::from_bytes(hive, vec![log]).unwrap_err();
        assert!(e.contains("grow the hive past"), "{e}");
    }
}
