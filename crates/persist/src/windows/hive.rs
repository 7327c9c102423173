//! One registry hive of an offline volume, read with the crate's own
//! bounded reader ([`super::regf`]), its transaction logs replayed
//! ([`super::log`]) when it is dirty.
//!
//! A hive whose base block says it is dirty (its two sequence numbers
//! differ, or its checksum is wrong) holds changes only in its transaction
//! logs (`.LOG1`, `.LOG2`): read alone, it would be misread. Such a hive
//! is read only when the logs replay; otherwise it is refused with a
//! reason.
//!
//! The listing reads a victim's hive, trusted in nothing: the base block,
//! every hive bin and every cell are checked once when the hive opens;
//! keys, lists and values are read when asked for, each offset checked
//! to name an allocated cell of the right kind. A damaged key or list is
//! a problem of the hive ([`Hive::problems`]) and reads as empty; the
//! rest of the hive is still read.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use super::regf::{
    BASE, DATA_INLINE, MAX_CELL_DATA, Nk, Regf, Vk, components, name_string, upcase,
};
use super::{log, paths};
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

/// Bytes of one value's data read at most (a command line, a list of
/// DLLs, a task's actions: all far smaller).
const MAX_DATA: usize = 1 << 20;
/// Bytes of data of all the values of one key read at most (thousands of
/// values each naming one large data cell would otherwise add up).
const MAX_KEY_DATA: usize = 16 << 20;
/// Subkeys of a key indexed by name for lookups (above, a lookup walks
/// the list).
const MAX_INDEXED: usize = MAX_SUBKEYS;
/// Problems kept for one hive (a hive damaged everywhere says so once a
/// key, bounded).
const MAX_PROBLEMS: usize = 64;
/// Cells read (key nodes, values, list entries) in all while one hive is
/// listed: a real listing reads some tens of thousands; a crafted hive
/// whose keys share one huge list, or whose value lists repeat one large
/// value, would otherwise multiply its few megabytes into hours of work.
/// About a second or two of reading.
const MAX_READ_WORK: u64 = 4_000_000;
/// Longest key name Windows writes (255 characters) and value name
/// (16,383): a longer one is no name Windows wrote.
const MAX_KEY_NAME: usize = 255;
const MAX_VALUE_NAME: usize = 16_383;

const REG_SZ: u32 = 1;
const REG_EXPAND_SZ: u32 = 2;
const REG_DWORD: u32 = 4;
const REG_DWORD_BIG_ENDIAN: u32 = 5;
const REG_LINK: u32 = 6;
const REG_MULTI_SZ: u32 = 7;
const REG_QWORD: u32 = 11;

/// A key's subkeys by upper-cased name: their key node offsets.
type Names = HashMap<Vec<u16>, u32>;

/// The parsed hive and what reading it met, shared by its keys.
struct Inner {
    regf: Regf,
    /// Subkeys by upper-cased name, of the keys looked up through (the
    /// Services key of a SYSTEM hive is looked up once a service).
    index: RefCell<HashMap<u32, Rc<Names>>>,
    /// The key whose subkey list each list cell is: a list shared by
    /// several keys (which Windows never writes) is read for one only.
    owners: RefCell<HashMap<u32, u32>>,
    problems: RefCell<Vec<String>>,
}

impl Inner {
    fn problem(&self, what: String) {
        let mut p = self.problems.borrow_mut();
        if p.len() < MAX_PROBLEMS && !p.contains(&what) {
            p.push(what);
        }
    }

    /// Counts `n` cells read against [`MAX_READ_WORK`]: false (and a
    /// problem, once) when the hive's budget is spent.
    fn charge(&self, n: usize) -> bool {
        let work = self.regf.work.get().saturating_add(n as u64);
        self.regf.work.set(work);
        if work > MAX_READ_WORK {
            self.problem(format!(
                "reading the hive took more than {MAX_READ_WORK} cell reads (keys sharing \
                 lists, repeated values): the rest is not read"
            ));
            return false;
        }
        true
    }
}

/// One key of a hive.
#[derive(Clone)]
pub struct Key {
    inner: Rc<Inner>,
    nk: Nk,
    name: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("name", &self.name).finish()
    }
}

impl Key {
    fn new(inner: &Rc<Inner>, nk: Nk) -> Key {
        Key {
            inner: inner.clone(),
            name: name_string(&nk.name),
            nk,
        }
    }

    /// The key's own name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key's values, each read; an unreadable value list is a problem
    /// of the hive and reads as none.
    fn raw_values(&self) -> Vec<Vk> {
        let mut out = Vec::new();
        self.each_value(|vk| {
            out.push(vk);
            false
        });
        out
    }

    /// Calls `f` with each value in hive order until it returns true:
    /// each value cell once (a list naming one twice is hostile), names
    /// no longer than Windows allows, every read counted against the
    /// hive's budget.
    fn each_value(&self, mut f: impl FnMut(Vk) -> bool) {
        let inner = &self.inner;
        let offsets = match inner.regf.value_offsets_upto(&self.nk, MAX_VALUES) {
            Ok(o) => o,
            Err(e) => {
                inner.problem(format!("key {:?}: {e}", self.name));
                return;
            }
        };
        let mut seen = std::collections::HashSet::with_capacity(offsets.len());
        for off in offsets {
            if !seen.insert(off) {
                inner.problem(format!(
                    "key {:?}: its value list names a value twice",
                    self.name
                ));
                continue;
            }
            if !inner.charge(1) {
                return;
            }
            match inner.regf.vk(off) {
                Ok(vk) if vk.name.len() > MAX_VALUE_NAME => inner.problem(format!(
                    "key {:?}: a value name of {} characters, longer than Windows allows",
                    self.name,
                    vk.name.len()
                )),
                Ok(vk) => {
                    if f(vk) {
                        return;
                    }
                }
                Err(e) => inner.problem(format!("key {:?}: {e}", self.name)),
            }
        }
    }

    /// Its values (name, data), at most [`MAX_VALUES`], in hive order;
    /// the default value has the empty name.
    pub fn values(&self) -> Vec<(String, Value)> {
        let mut budget = MAX_KEY_DATA;
        self.raw_values()
            .into_iter()
            .map(|vk| (cut(name_string(&vk.name)), self.data(&vk, &mut budget)))
            .collect()
    }

    /// The value named `name` (any case).
    pub fn value(&self, name: &str) -> Option<Value> {
        let want = upcase(&name.encode_utf16().collect::<Vec<_>>());
        let mut found = None;
        self.each_value(|vk| {
            if vk.name.len() == want.len() && upcase(&vk.name) == want {
                found = Some(vk);
                return true;
            }
            false
        });
        found.map(|vk| {
            let mut budget = MAX_KEY_DATA;
            self.data(&vk, &mut budget)
        })
    }

    /// How many sub-keys the key says it has (what reading them costs).
    pub fn subkey_count(&self) -> usize {
        self.nk.subkeys as usize
    }

    /// Whether the key has more values than are listed.
    pub fn values_truncated(&self) -> bool {
        self.nk.values as usize > MAX_VALUES
    }

    /// A value's data converted by its type; unreadable data is a problem
    /// of the hive and reads as [`Value::None`].
    fn data(&self, vk: &Vk, budget: &mut usize) -> Value {
        let size = if vk.size_raw & DATA_INLINE != 0 {
            0
        } else {
            ((vk.size_raw & !DATA_INLINE) as usize).min(MAX_DATA)
        };
        if size > *budget {
            self.inner.problem(format!(
                "key {:?}: its values hold more than {MAX_KEY_DATA} bytes of data: the rest \
                 is not read",
                self.name
            ));
            return Value::None;
        }
        *budget -= size;
        match raw_data(&self.inner.regf, vk) {
            Ok(d) => convert(vk.kind, &d),
            Err(e) => {
                self.inner.problem(format!(
                    "key {:?}, value {:?}: {e}",
                    self.name,
                    name_string(&vk.name)
                ));
                Value::None
            }
        }
    }
}

/// A value's data, at most [`MAX_DATA`] bytes: in the value itself (4
/// bytes at most), in one cell, or in the segments of a big-data record
/// (`db`, hives of version 1.4 on).
fn raw_data(regf: &Regf, vk: &Vk) -> Result<Vec<u8>, String> {
    let size = (vk.size_raw & !DATA_INLINE) as usize;
    if vk.size_raw & DATA_INLINE != 0 {
        return Ok(vk
            .data
            .to_le_bytes()
            .get(..size.min(4))
            .unwrap_or_default()
            .to_vec());
    }
    if size == 0 {
        return Ok(Vec::new());
    }
    let want = size.min(MAX_DATA);
    let r = regf.cell(vk.data, "value data")?;
    let minor = super::regf::le32(&regf.b, 24).unwrap_or(0);
    if size > MAX_CELL_DATA as usize
        && minor >= 4
        && r.len() >= 8
        && regf.b.get(r.start..r.start + 2) == Some(b"db")
    {
        let count = regf.u16_at(r.start + 2)? as usize;
        let list = regf.cell(regf.u32_at(r.start + 4)?, "big data segment list")?;
        if count.checked_mul(4).is_none_or(|n| n > list.len()) {
            return Err("big data counts more segments than its list holds".into());
        }
        let mut out = Vec::with_capacity(want);
        for i in 0..count {
            if out.len() >= want {
                break;
            }
            let seg = regf.cell(regf.u32_at(list.start + 4 * i)?, "big data segment")?;
            let take = (want - out.len())
                .min(MAX_CELL_DATA as usize)
                .min(seg.len());
            out.extend_from_slice(regf.b.get(seg.start..seg.start + take).unwrap_or_default());
        }
        if out.len() < want {
            return Err("big data holds less than its size".into());
        }
        return Ok(out);
    }
    if size > r.len() {
        return Err("the data is larger than its cell".into());
    }
    Ok(regf
        .b
        .get(r.start..r.start + want)
        .unwrap_or_default()
        .to_vec())
}

/// UTF-16LE units of `b` (an odd last byte dropped).
fn units(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Data converted by its registry type.
fn convert(kind: u32, d: &[u8]) -> Value {
    match kind {
        REG_SZ | REG_EXPAND_SZ | REG_LINK => {
            let u = units(d);
            let end = u.iter().position(|&c| c == 0).unwrap_or(u.len());
            Value::Str(cut(String::from_utf16_lossy(&u[..end])))
        }
        REG_MULTI_SZ => {
            let u = units(d);
            Value::Multi(
                u.split(|&c| c == 0)
                    .take_while(|s| !s.is_empty())
                    .take(MAX_MULTI)
                    .map(|s| cut(String::from_utf16_lossy(s)))
                    .collect(),
            )
        }
        REG_DWORD | REG_DWORD_BIG_ENDIAN => match d.get(..4) {
            Some(b) => {
                let b = [b[0], b[1], b[2], b[3]];
                let n = if kind == REG_DWORD {
                    u32::from_le_bytes(b)
                } else {
                    u32::from_be_bytes(b)
                };
                Value::Num(n.into())
            }
            None => Value::None,
        },
        REG_QWORD => match d.get(..8) {
            Some(b) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Num(u64::from_le_bytes(a))
            }
            None => Value::None,
        },
        _ if d.is_empty() => Value::None,
        _ => Value::Bin(d[..d.len().min(MAX_BINARY)].to_vec()),
    }
}

/// An open hive.
pub struct Hive {
    inner: Rc<Inner>,
    root: Key,
}

impl std::fmt::Debug for Hive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hive")
            .field("root", &self.root.name)
            .finish()
    }
}

/// Whether a base block says the hive is dirty: Err when it is no hive.
fn is_dirty(bytes: &[u8]) -> Result<bool, String> {
    let block = bytes
        .get(..BASE)
        .ok_or_else(|| "too short for a registry hive".to_string())?;
    if block.get(..4) != Some(b"regf") {
        return Err("not a registry hive (no regf signature)".into());
    }
    let u32_at = |o: usize| super::regf::le32(block, o).unwrap_or(0);
    Ok(u32_at(4) != u32_at(8) || super::regf::checksum(block) != u32_at(0x1FC))
}

impl Hive {
    /// Opens a hive from its bytes and those of its transaction logs, in
    /// the order `.LOG1`, `.LOG2`, `.LOG` (used only when the hive is
    /// dirty). This is the entry point for fuzzing hive bytes.
    pub fn from_bytes(bytes: Vec<u8>, logs: Vec<Vec<u8>>) -> Result<Hive, String> {
        if bytes.len() as u64 > MAX_HIVE_BYTES {
            return Err(format!("hive larger than {MAX_HIVE_BYTES} bytes"));
        }
        let bytes = if is_dirty(&bytes)? {
            let logs: Vec<Vec<u8>> = logs.into_iter().filter(|l| !l.is_empty()).collect();
            if logs.is_empty() {
                return Err(
                    "the hive is dirty (changes only in its transaction logs) and no \
                     .LOG1/.LOG2 was found: not read, it would be misread"
                        .into(),
                );
            }
            let (replayed, _) = log::replay(&bytes, &logs)?;
            replayed
        } else {
            bytes
        };
        let regf = Regf::parse_owned(bytes).map_err(|e| format!("unreadable hive: {e}"))?;
        let root = regf
            .nk(regf.root)
            .map_err(|e| format!("unreadable root key: {e}"))?;
        let inner = Rc::new(Inner {
            regf,
            index: RefCell::new(HashMap::new()),
            owners: RefCell::new(HashMap::new()),
            problems: RefCell::new(Vec::new()),
        });
        let root = Key::new(&inner, root);
        Ok(Hive { inner, root })
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
            // The logs together are held to the size of one hive: with the
            // hive and its replayed copy, a few times MAX_HIVE_BYTES at
            // most. `.LOG` (the name of Windows before 8.1) only when
            // there is neither `.LOG1` nor `.LOG2`.
            let mut room = MAX_HIVE_BYTES;
            for ext in ["LOG1", "LOG2", "LOG"] {
                if ext == "LOG" && !logs.is_empty() {
                    break;
                }
                if let Some(p) = paths::resolve(root, &format!("{rel}.{ext}")) {
                    // An unreadable log is as good as a missing one: the
                    // replay says what it could not use.
                    if let Ok(b) = read_up_to(&p, room) {
                        room = room.saturating_sub(b.len() as u64);
                        logs.push(b);
                    }
                }
            }
        }
        Hive::from_bytes(bytes, logs).map(Some)
    }

    /// What reading the hive met so far (damaged keys, lists or values),
    /// taken: each is said once.
    pub fn problems(&mut self) -> Vec<String> {
        std::mem::take(&mut *self.inner.problems.borrow_mut())
    }

    /// The key at `path` (`\`-separated, from the hive's root; any case);
    /// the root for "".
    pub fn key(&mut self, path: &str) -> Option<Key> {
        let comps = match components(path) {
            Ok(c) => c,
            Err(e) => {
                self.inner.problem(e);
                return None;
            }
        };
        let mut cur = self.root.clone();
        for comp in comps {
            cur = self.subkey(&cur, comp)?;
        }
        Some(cur)
    }

    /// The sub-key `name` of `key` (any case).
    pub fn subkey(&mut self, key: &Key, name: &str) -> Option<Key> {
        if name.is_empty() || name.contains('\\') {
            return None;
        }
        let want = upcase(&name.encode_utf16().collect::<Vec<_>>());
        let inner = &self.inner;
        let cached = inner.index.borrow().get(&key.nk.off).cloned();
        let index = match cached {
            Some(i) => Some(i),
            None if key.nk.subkeys as usize <= MAX_INDEXED => {
                // One pass over the list, then each lookup is one probe.
                let mut map = HashMap::new();
                for k in list_subkeys(inner, key).0 {
                    map.entry(upcase(&k.nk.name)).or_insert(k.nk.off);
                }
                let map = Rc::new(map);
                inner.index.borrow_mut().insert(key.nk.off, map.clone());
                Some(map)
            }
            None => None,
        };
        if let Some(index) = index {
            let off = *index.get(&want)?;
            return regf_nk(inner, off).map(|nk| Key::new(inner, nk));
        }
        // A key of more subkeys than are indexed: each lookup walks its
        // list, bounded over the hive by MAX_READ_WORK.
        let slots = match inner.regf.children(&key.nk) {
            Ok(s) => s,
            Err(e) => {
                inner.problem(format!("key {:?}: {e}", key.name));
                return None;
            }
        };
        if !inner.charge(slots.len()) {
            return None;
        }
        slots
            .into_iter()
            .filter_map(|s| regf_nk(inner, s.child))
            .find(|nk| nk.parent == key.nk.off && upcase(&nk.name) == want)
            .map(|nk| Key::new(inner, nk))
    }

    /// The sub-keys of `key`, at most [`MAX_SUBKEYS`], each key cell once
    /// and each naming `key` as its parent (a list naming another key's
    /// child, or the key itself, is hostile: left out); true when some
    /// were left out for the bound.
    pub fn subkeys(&mut self, key: &Key) -> (Vec<Key>, bool) {
        list_subkeys(&self.inner, key)
    }

    /// The cell offset identifying a key in this hive (to break cycles).
    pub fn id(key: &Key) -> usize {
        key.nk.off as usize
    }
}

/// [`Hive::subkeys`].
fn list_subkeys(inner: &Rc<Inner>, key: &Key) -> (Vec<Key>, bool) {
    {
        let slots = match inner.regf.children(&key.nk) {
            Ok(s) => s,
            Err(e) => {
                inner.problem(format!("key {:?}: {e}", key.name));
                return (Vec::new(), false);
            }
        };
        if key.nk.subkeys > 0 {
            let mut owners = inner.owners.borrow_mut();
            let owner = *owners.entry(key.nk.sublist).or_insert(key.nk.off);
            if owner != key.nk.off {
                inner.problem(format!(
                    "key {:?}: its subkey list is another key's (a hostile hive): not read",
                    key.name
                ));
                return (Vec::new(), false);
            }
        }
        let truncated = slots.len() > MAX_SUBKEYS;
        if !inner.charge(slots.len().min(MAX_SUBKEYS)) {
            return (Vec::new(), false);
        }
        let mut seen = std::collections::HashSet::new();
        seen.insert(key.nk.off);
        let mut out = Vec::with_capacity(slots.len().min(MAX_SUBKEYS));
        for s in slots.into_iter().take(MAX_SUBKEYS) {
            if !seen.insert(s.child) {
                continue;
            }
            let Some(nk) = regf_nk(inner, s.child) else {
                continue;
            };
            if nk.parent != key.nk.off {
                inner.problem(format!(
                    "key {:?}: a subkey {:?} names another parent",
                    key.name,
                    name_string(&nk.name)
                ));
                continue;
            }
            if nk.name.len() > MAX_KEY_NAME {
                inner.problem(format!(
                    "key {:?}: a subkey name of {} characters, longer than Windows allows",
                    key.name,
                    nk.name.len()
                ));
                continue;
            }
            out.push(Key::new(inner, nk));
        }
        (out, truncated)
    }
}

/// The key node at `off`, or None with the problem kept.
fn regf_nk(inner: &Inner, off: u32) -> Option<Nk> {
    match inner.regf.nk(off) {
        Ok(nk) => Some(nk),
        Err(e) => {
            inner.problem(e);
            None
        }
    }
}

/// A file's bytes, refused past [`MAX_HIVE_BYTES`].
/// Only a regular file is opened (a FIFO named SOFTWARE would block the
/// run forever): see [`open_regular`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    read_up_to(path, MAX_HIVE_BYTES)
}

/// [`read_bounded`] with the bound `max`.
fn read_up_to(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let f = open_regular(path)?.ok_or_else(|| "no such file".to_string())?;
    let mut buf = Vec::new();
    f.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read: {e}"))?;
    if buf.len() as u64 > max {
        return Err(format!("larger than {max} bytes"));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::super::regf::NK_SUBKEYS;
    use super::super::regf::build::*;
    use super::*;

    /// ROOT with A (a Run-like key with values) and B under it.
    fn small() -> (Build, u32, u32, u32) {
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        let a = b.nk("A", root);
        let bk = b.nk("B", root);
        let l = b.leaf(b"lh", &[a, bk]);
        b.subkeys(root, l, 2);
        (b, root, a, bk)
    }

    #[test]
    fn keys_values_and_lookups() {
        let (mut b, root, a, _) = small();
        b.values(
            a,
            &[
                ("Run", REG_SZ, sz(r"C:\x.exe")),
                ("N", REG_DWORD, 7u32.to_le_bytes().to_vec()),
                ("L", REG_MULTI_SZ, multi(&["p", "q"])),
            ],
        );
        let mut h = Hive::from_bytes(b.finish(root), vec![]).unwrap();
        let k = h.key(r"\a").unwrap();
        assert_eq!(k.name(), "A");
        assert_eq!(k.value("run"), Some(Value::Str(r"C:\x.exe".into())));
        assert_eq!(k.value("N"), Some(Value::Num(7)));
        assert_eq!(k.values().len(), 3);
        assert!(h.key("B").is_some());
        assert!(h.key(r"A\nothing").is_none());
        let root_key = h.key("").unwrap();
        let names: Vec<String> = h
            .subkeys(&root_key)
            .0
            .iter()
            .map(|k| k.name().into())
            .collect();
        assert_eq!(names, ["A", "B"]);
        assert!(h.problems().is_empty());
    }

    /// A subkey naming another parent (a cycle through parent fields) is
    /// left out and said; the walk cannot loop.
    #[test]
    fn a_subkey_of_another_parent_is_left_out() {
        let (mut b, root, a, bk) = small();
        // B lists A as its subkey: A's parent is ROOT, not B.
        let l = b.leaf(b"lf", &[a]);
        b.subkeys(bk, l, 1);
        let mut h = Hive::from_bytes(b.finish(root), vec![]).unwrap();
        let k = h.key("B").unwrap();
        assert!(h.subkeys(&k).0.is_empty());
        let p = h.problems();
        assert!(p.iter().any(|p| p.contains("another parent")), "{p:?}");
    }

    /// A key counting millions of subkeys is refused before its lists
    /// are read; a list holding fewer than counted is a problem.
    #[test]
    fn crafted_counts_are_problems() {
        let (mut b, root, a, _) = small();
        b.set32(a, NK_SUBKEYS, 50_000_000);
        let mut h = Hive::from_bytes(b.finish(root), vec![]).unwrap();
        let k = h.key("A").unwrap();
        assert!(h.subkeys(&k).0.is_empty());
        assert!(h.subkey(&k, "x").is_none());
        let p = h.problems();
        assert!(p.iter().any(|p| p.contains("more than the")), "{p:?}");

        let (mut b, root, _, _) = small();
        b.set32(root, NK_SUBKEYS, 3);
        let mut h = Hive::from_bytes(b.finish(root), vec![]).unwrap();
        assert!(h.key("A").is_none());
        let p = h.problems();
        assert!(p.iter().any(|p| p.contains("counts 3 subkeys")), "{p:?}");
    }

    /// Keys sharing one subkey list (never written by Windows; a way to
    /// multiply a small hive's lists into hours of reading) read it once:
    /// the other keys' lists are problems.
    #[test]
    fn a_shared_subkey_list_is_read_for_one_key() {
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        let keys: Vec<u32> = (0..50).map(|i| b.nk(&format!("S{i:02}"), root)).collect();
        let l = b.leaf(b"lf", &keys);
        b.subkeys(root, l, keys.len() as u32);
        let kids: Vec<u32> = (0..20).map(|i| b.nk(&format!("K{i}"), keys[0])).collect();
        let shared = b.leaf(b"lf", &kids);
        for &k in &keys {
            b.subkeys(k, shared, kids.len() as u32);
        }
        let mut h = Hive::from_bytes(b.finish(root), vec![]).unwrap();
        let first = h.key("S00").unwrap();
        assert_eq!(h.subkeys(&first).0.len(), 20);
        for i in 1..50 {
            let k = h.key(&format!("S{i:02}")).unwrap();
            assert!(h.subkeys(&k).0.is_empty());
            assert!(h.subkey(&k, "K3").is_none());
        }
        let p = h.problems();
        assert!(p.iter().any(|p| p.contains("another key's")), "{p:?}");
    }

    /// A value list naming one value twice reads it once; a subkey name
    /// longer than Windows allows is left out.
    #[test]
    fn repeated_values_and_overlong_names() {
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        let a = b.nk("A", root);
        let long = b.nk(&"n".repeat(MAX_KEY_NAME + 1), root);
        let l = b.leaf(b"lf", &[a, long]);
        b.subkeys(root, l, 2);
        b.values(a, &[("V", REG_SZ, sz("x")), ("W", REG_SZ, sz("y"))]);
        let mut bytes = b.finish(root);
        // A's value list names V then W: made to name V twice.
        let at = BASE + a as usize + 4;
        let vallist = u32::from_le_bytes(bytes[at + 40..at + 44].try_into().unwrap());
        let list_at = BASE + vallist as usize + 4;
        let first = bytes[list_at..list_at + 4].to_vec();
        bytes[list_at + 4..list_at + 8].copy_from_slice(&first);
        let mut h = Hive::from_bytes(bytes, vec![]).unwrap();
        let k = h.key("A").unwrap();
        assert_eq!(k.values().len(), 1);
        let root_key = h.key("").unwrap();
        let names: Vec<String> = h
            .subkeys(&root_key)
            .0
            .iter()
            .map(|k| k.name().into())
            .collect();
        assert_eq!(names, ["A"]);
        let p = h.problems();
        assert!(p.iter().any(|p| p.contains("names a value twice")), "{p:?}");
        assert!(
            p.iter().any(|p| p.contains("longer than Windows allows")),
            "{p:?}"
        );
    }

    /// Values whose data adds up past the per-key budget read as none
    /// past it, with a problem; nothing is read past its cell.
    #[test]
    fn value_data_is_bounded() {
        let (mut b, root, a, _) = small();
        let chunk = vec![0x41u8; 4000];
        let values: Vec<(String, u32, Vec<u8>)> = (0..20)
            .map(|i| (format!("V{i:02}"), 3, chunk.clone()))
            .collect();
        let refs: Vec<(&str, u32, Vec<u8>)> = values
            .iter()
            .map(|(n, k, d)| (n.as_str(), *k, d.clone()))
            .collect();
        b.values(a, &refs);
        let bytes = b.finish(root);
        let mut h = Hive::from_bytes(bytes, vec![]).unwrap();
        let k = h.key("A").unwrap();
        assert!(
            k.values()
                .iter()
                .all(|(_, v)| v == &Value::Bin(chunk.clone()))
        );
        assert!(h.problems().is_empty());
        // The same values claiming 1 MiB each (their cells hold 4 KB):
        // the claim past the cell is a problem, not a read past it, and
        // past 16 MiB of claims the rest is not even tried.
        let (mut b, root, a, _) = small();
        b.values(a, &refs);
        let mut bytes = b.finish(root);
        let mut at = BASE;
        while let Some(i) = bytes[at..].windows(4).position(|w| w == b"vk\x03\0") {
            let size = at + i + 4;
            bytes[size..size + 4].copy_from_slice(&(1u32 << 20).to_le_bytes());
            at += i + 4;
        }
        let mut h = Hive::from_bytes(bytes, vec![]).unwrap();
        let k = h.key("A").unwrap();
        assert!(k.values().iter().all(|(_, v)| v == &Value::None));
        let p = h.problems();
        assert!(
            p.iter().any(|p| p.contains("larger than its cell")),
            "{p:?}"
        );
        assert!(p.iter().any(|p| p.contains("bytes of data")), "{p:?}");
    }

    #[test]
    fn not_hives() {
        assert!(Hive::from_bytes(vec![], vec![]).is_err());
        assert!(Hive::from_bytes(vec![0; 8192], vec![]).is_err());
        let mut b = vec![0u8; 8192];
        b[..4].copy_from_slice(b"regf");
        b[4] = 1; // sequence numbers differ: dirty
        let e = Hive::from_bytes(b.clone(), vec![]).unwrap_err();
        assert!(e.contains("dirty"), "{e}");
        // A log that is no log: the hive is refused, the log named.
        let e = Hive::from_bytes(b, vec![vec![1, 2, 3]]).unwrap_err();
        assert!(e.contains("log 1: shorter than a base block"), "{e}");
    }

    /// Data of each type as the listing converts it.
    #[test]
    fn value_types() {
        let sz: Vec<u8> = "a b\0junk"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(convert(REG_SZ, &sz), Value::Str("a b".into()));
        assert_eq!(convert(REG_EXPAND_SZ, &sz[..3]), Value::Str("a".into()));
        let multi: Vec<u8> = "x\0y\0\0z\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(
            convert(REG_MULTI_SZ, &multi),
            Value::Multi(vec!["x".into(), "y".into()])
        );
        assert_eq!(convert(REG_DWORD, &[1, 2, 0, 0]), Value::Num(0x201));
        assert_eq!(
            convert(REG_DWORD_BIG_ENDIAN, &[0, 0, 2, 1]),
            Value::Num(0x201)
        );
        assert_eq!(convert(REG_DWORD, &[1, 2]), Value::None);
        assert_eq!(
            convert(REG_QWORD, &[1, 0, 0, 0, 0, 0, 0, 1]),
            Value::Num(1 | 1 << 56)
        );
        assert_eq!(convert(3, &[9; 10]), Value::Bin(vec![9; 10]));
        assert_eq!(
            convert(3, &vec![9; MAX_BINARY + 5]),
            Value::Bin(vec![9; MAX_BINARY])
        );
        assert_eq!(convert(0, &[]), Value::None);
    }
}
