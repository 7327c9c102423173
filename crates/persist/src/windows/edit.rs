//! Restorable edits of an offline registry hive: delete a value, delete a
//! key, remove one item of a list value.
//!
//! The edit is made by a small regf editor of our own working on the raw
//! bytes, not through a general registry library: the changes it makes
//! are few and in place (an offset taken out of a list, a count lowered,
//! a string shortened), so nothing is allocated, moved or freed and the
//! hive's layout stays what Windows wrote. The whole hive is kept in the
//! vault by the caller, so a restore puts the original file back; the
//! key cells that a deletion unlinks stay in the file, unreferenced.
//!
//! The hive is a victim's and is trusted in nothing. Before any change the
//! whole file is checked: the base block (signature, version, a clean
//! state: equal sequence numbers and a right checksum), every hive bin and
//! every cell in bounds, and a walk of the whole key tree from the root in
//! which every key, subkey list, value list, value and value data cell is
//! reached exactly once (a cycle or a cell shared by two owners is
//! refused: an edit through it would change more than asked). Every walk
//! is iterative and bounded by the hive's own size, key depth by
//! Windows' own limit. After the edits both sequence numbers move on
//! together, the last-written time is set and the checksum recomputed;
//! the result is walked again, every edit checked gone with our reader,
//! and the hive opened with the crate's notatin-based reader
//! ([`super::hive::Hive`]) to check the keys around each edit still read
//! as they should. Anything unexpected is an error, never a panic.

use super::hive::{Hive, MAX_SUBKEYS, MAX_VALUES, Value};
use super::regf::*;
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

/// One change to a hive.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HiveEdit {
    /// Delete value `value` of `key` (a path inside the hive).
    DeleteValue {
        /// The key.
        key: String,
        /// The value name (empty: the default value).
        value: String,
    },
    /// Delete `key` and its subtree (unlinked from its parent).
    DeleteKey {
        /// The key.
        key: String,
    },
    /// Remove `item` from the list in string value `value` of `key`.
    RemoveListItem {
        /// The key.
        key: String,
        /// The value name.
        value: String,
        /// The item as it stands in the value.
        item: String,
    },
}

impl HiveEdit {
    fn key(&self) -> &str {
        match self {
            HiveEdit::DeleteValue { key, .. }
            | HiveEdit::DeleteKey { key }
            | HiveEdit::RemoveListItem { key, .. } => key,
        }
    }

    fn describe(&self) -> String {
        match self {
            HiveEdit::DeleteValue { key, value } => {
                format!("delete value {} of {}", shown_value(value), shown_key(key))
            }
            HiveEdit::DeleteKey { key } => format!("delete key {}", shown_key(key)),
            HiveEdit::RemoveListItem { key, value, item } => format!(
                "remove {item:?} from value {} of {}",
                shown_value(value),
                shown_key(key)
            ),
        }
    }
}

/// Edits of one call: a disable plan has a few per entry; more is a bug
/// or an attack on the time the lookups take.
const MAX_EDITS: usize = 10_000;
/// Keys around the edits read again with the notatin reader after the
/// edits, at most (each reading a key's subkeys costs microseconds a
/// subkey there); the others are checked by our reader alone.
const MAX_SECOND_READS: usize = 64;

/// The hive `bytes` with `edits` applied, checked to open again; refused
/// when the hive is dirty or unreadable or an edit does not apply.
///
/// The edits are made in an order that lets each one apply (the deepest
/// keys first, a key's own value edits before its deletion), so an edit
/// inside a key that another edit deletes is made before that key goes.
/// A key or value that is not there is an error naming it.
pub fn apply(bytes: &[u8], edits: &[HiveEdit]) -> Result<Vec<u8>, String> {
    if edits.is_empty() {
        return Err("no edit to make".into());
    }
    if edits.len() > MAX_EDITS {
        return Err(format!("more than {MAX_EDITS} edits of one hive"));
    }
    let mut regf = Regf::parse(bytes)?;
    regf.check_tree()
        .map_err(|e| format!("the hive's key tree does not check, not edited: {e}"))?;
    // The same edit twice is made once (the second would find nothing).
    let mut seen = HashSet::new();
    let order: Vec<&HiveEdit> = edits.iter().filter(|e| seen.insert(*e)).collect();
    let mut done = Vec::with_capacity(order.len());
    for edit in order_of(&order)? {
        let what = edit.describe();
        let record = regf
            .apply_one(edit)
            .map_err(|e| format!("cannot {what}: {e}"))?;
        done.push((edit, record));
    }
    regf.finish()?;
    regf.check_tree()
        .map_err(|e| format!("the edited hive does not check: {e}"))?;
    verify(&regf, &done)?;
    Ok(regf.b)
}

/// The edits in the order they are made: deepest key first; at one depth
/// the edits of values before the deletion of keys.
fn order_of<'a>(edits: &[&'a HiveEdit]) -> Result<Vec<&'a HiveEdit>, String> {
    let mut keyed = Vec::with_capacity(edits.len());
    for e in edits {
        let depth = components(e.key())?.len();
        let kind = matches!(e, HiveEdit::DeleteKey { .. });
        keyed.push((std::cmp::Reverse(depth), kind, *e));
    }
    // A stable sort: edits of one value keep the caller's order.
    keyed.sort_by_key(|(d, k, _)| (*d, *k));
    Ok(keyed.into_iter().map(|(_, _, e)| e).collect())
}

/// What an edit touched, for the checks after: the key's path as stored
/// (names in the hive's own case) and the value's stored name.
struct Record {
    path: Vec<String>,
    value: Option<String>,
    /// For a list edit: the value afterwards as the notatin reader
    /// gives it, and its raw data.
    expected: Option<Value>,
    data: Option<Vec<u8>>,
}

impl Regf {
    fn put(&mut self, at: usize, v: &[u8]) -> Result<(), String> {
        let end = at.checked_add(v.len()).ok_or("offset overflow")?;
        self.b
            .get_mut(at..end)
            .ok_or_else(|| format!("write past the end at {at:#x}"))?
            .copy_from_slice(v);
        Ok(())
    }

    fn put32(&mut self, at: usize, v: u32) -> Result<(), String> {
        self.put(at, &v.to_le_bytes())
    }

    fn stamp(&mut self, nk_at: usize) -> Result<(), String> {
        self.put(nk_at + NK_STAMP, &filetime_now().to_le_bytes())
    }

    fn apply_one(&mut self, edit: &HiveEdit) -> Result<Record, String> {
        match edit {
            HiveEdit::DeleteKey { key } => self.delete_key(key),
            HiveEdit::DeleteValue { key, value } => self.delete_value(key, value),
            HiveEdit::RemoveListItem { key, value, item } => self.remove_item(key, value, item),
        }
    }

    fn delete_key(&mut self, path: &str) -> Result<Record, String> {
        let (chain, slot) = self.key(path)?;
        let (Some(slot), [.., parent, key]) = (slot, chain.as_slice()) else {
            return Err("the hive's root key is not deleted".into());
        };
        if key.flags & KEY_NO_DELETE != 0 {
            return Err("the key is marked as not deletable".into());
        }
        let record = Record {
            path: chain.iter().skip(1).map(|k| name_string(&k.name)).collect(),
            value: None,
            expected: None,
            data: None,
        };
        let (parent_at, parent_subkeys) = (parent.at, parent.subkeys);
        // Out of its leaf list: the later elements move down one place.
        let leaf = self.cell(slot.leaf, "subkey list")?;
        let size = if self.b.get(leaf.start..leaf.start + 2) == Some(b"li") {
            4
        } else {
            8
        };
        let left = remove_element(&mut self.b, &leaf, size, slot.index)?;
        let mut emptied = left == 0;
        if emptied && let Some((root, place)) = slot.root {
            // An emptied leaf leaves the index root, as Windows does.
            let r = self.cell(root, "index root")?;
            emptied = remove_element(&mut self.b, &r, 4, place)? == 0;
        }
        let subkeys = parent_subkeys
            .checked_sub(1)
            .ok_or("the parent counts no subkeys")?;
        self.put32(parent_at + NK_SUBKEYS, subkeys)?;
        if emptied || subkeys == 0 {
            if !(emptied && subkeys == 0) {
                return Err("the parent's subkey count and lists disagree".into());
            }
            self.put32(parent_at + NK_SUBLIST, NIL)?;
        }
        self.stamp(parent_at)?;
        Ok(record)
    }

    fn delete_value(&mut self, path: &str, name: &str) -> Result<Record, String> {
        let (chain, _) = self.key(path)?;
        let Some(key) = chain.last() else {
            return Err("empty key chain".into());
        };
        let (index, _, vk) = self
            .find_value(key, name)?
            .ok_or_else(|| format!("no value {} in the key", shown_value(name)))?;
        let record = Record {
            path: chain.iter().skip(1).map(|k| name_string(&k.name)).collect(),
            value: Some(name_string(&vk.name)),
            expected: None,
            data: None,
        };
        let (at, values, list) = (key.at, key.values, key.vallist);
        let r = self.cell(list, "value list")?;
        // A value list has no header: its elements start at the cell data.
        let n = values as usize;
        let elems = r.start..r.start + 4 * n;
        if elems.end > r.end || index >= n {
            return Err("the value list does not hold the value".into());
        }
        let from = elems.start + 4 * index;
        self.b.copy_within(from + 4..elems.end, from);
        self.put32(elems.end - 4, 0)?;
        let values = values - 1;
        self.put32(at + NK_VALUES, values)?;
        if values == 0 {
            self.put32(at + NK_VALLIST, NIL)?;
        }
        self.stamp(at)?;
        Ok(record)
    }

    fn remove_item(&mut self, path: &str, name: &str, item: &str) -> Result<Record, String> {
        let (chain, _) = self.key(path)?;
        let Some(key) = chain.last() else {
            return Err("empty key chain".into());
        };
        let (_, _, vk) = self
            .find_value(key, name)?
            .ok_or_else(|| format!("no value {} in the key", shown_value(name)))?;
        let key_at = key.at;
        let size = vk.size_raw & !DATA_INLINE;
        let inline = vk.size_raw & DATA_INLINE != 0;
        let data = self.value_data(&vk)?;
        if !data.len().is_multiple_of(2) {
            return Err("the string has an odd number of bytes".into());
        }
        let units: Vec<u16> = data
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let item16: Vec<u16> = item.encode_utf16().collect();
        let (new_units, expected) = match vk.kind {
            REG_SZ | REG_EXPAND_SZ => {
                let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
                let head = units.get(..end).unwrap_or(&units);
                let appinit = name.eq_ignore_ascii_case("AppInit_DLLs");
                let kept = remove_from_list(head, &item16, appinit)?;
                let s = String::from_utf16_lossy(&kept);
                let mut out = kept;
                out.push(0);
                (out, Value::Str(s))
            }
            REG_MULTI_SZ => {
                let (out, kept) = remove_from_multi(&units, &item16)?;
                // What a reader sees: the strings up to the first blank one.
                let seen = kept
                    .iter()
                    .map(|s| String::from_utf16_lossy(s))
                    .take_while(|s| !s.trim().is_empty())
                    .collect();
                (out, Value::Multi(seen))
            }
            other => {
                return Err(format!(
                    "the value is of type {other}, not a string or list"
                ));
            }
        };
        let new: Vec<u8> = new_units.iter().flat_map(|u| u.to_le_bytes()).collect();
        if new.len() > data.len() {
            return Err("the edited data would be longer".into());
        }
        let new_len = u32::try_from(new.len()).map_err(|_| "data too long")?;
        if new.len() <= 4 {
            // Small data lives in the value itself, as Windows writes it;
            // the old data cell stays allocated, unreferenced, wiped.
            if !inline && size > 0 {
                let r = self.cell(vk.data, "value data")?;
                let end = r.start + size as usize;
                self.b
                    .get_mut(r.start..end)
                    .ok_or("value data past the end")?
                    .fill(0);
            }
            let mut field = [0u8; 4];
            field[..new.len()].copy_from_slice(&new);
            self.put(vk.at + VK_DATA, &field)?;
            self.put32(vk.at + VK_SIZE, new_len | DATA_INLINE)?;
        } else {
            // In place in its cell; what is left of the old data is wiped.
            let r = self.cell(vk.data, "value data")?;
            let end = r.start + size as usize;
            let cell = self
                .b
                .get_mut(r.start..end)
                .ok_or("value data past the end")?;
            cell.fill(0);
            cell[..new.len()].copy_from_slice(&new);
            self.put32(vk.at + VK_SIZE, new_len)?;
        }
        self.stamp(key_at)?;
        Ok(Record {
            path: chain.iter().skip(1).map(|k| name_string(&k.name)).collect(),
            value: Some(name_string(&vk.name)),
            expected: Some(expected),
            data: Some(new),
        })
    }

    /// Marks the hive written: both sequence numbers moved on together (a
    /// clean hive), the last-written time, the checksum.
    fn finish(&mut self) -> Result<(), String> {
        let seq = self.u32_at(4)?.wrapping_add(1);
        self.put32(4, seq)?;
        self.put32(8, seq)?;
        self.put(12, &filetime_now().to_le_bytes())?;
        let sum = checksum(&self.b);
        self.put32(0x1FC, sum)
    }
}

/// Takes element `index` (of `size` bytes) out of the list cell `r`
/// (a u16 count at +2, elements from +4): the later ones move down, the
/// freed place is zeroed. The count left.
fn remove_element(
    b: &mut [u8],
    r: &Range<usize>,
    size: usize,
    index: usize,
) -> Result<u16, String> {
    let count_at = r.start + 2;
    let count = b
        .get(count_at..count_at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or("list past the end")?;
    let n = count as usize;
    let elems = r.start + 4..r.start + 4 + size * n;
    if index >= n || elems.end > r.end || elems.end > b.len() {
        return Err("the list does not hold the element".into());
    }
    let from = elems.start + size * index;
    b.copy_within(from + size..elems.end, from);
    b.get_mut(elems.end - size..elems.end)
        .ok_or("list past the end")?
        .fill(0);
    let left = count - 1;
    b.get_mut(count_at..count_at + 2)
        .ok_or("list past the end")?
        .copy_from_slice(&left.to_le_bytes());
    Ok(left)
}

fn is_blank(u: u16) -> bool {
    u == u16::from(b' ') || u == u16::from(b'\t')
}

/// `list` without every item equal to `item`: items are separated by
/// commas (and blanks for AppInit_DLLs, which Windows splits on both),
/// blanks around an item are not part of it. An item goes with the
/// separator after it, or before it when it is the last (so a trailing
/// comma, as in Windows' own `userinit.exe,`, stays). Refused when the
/// item is not there or nothing would be left.
fn remove_from_list(list: &[u16], item: &[u16], blanks_separate: bool) -> Result<Vec<u16>, String> {
    let sep = |u: u16| u == u16::from(b',') || (blanks_separate && is_blank(u));
    if item.is_empty()
        || item.first().is_some_and(|&u| sep(u) || is_blank(u))
        || item.last().is_some_and(|&u| sep(u) || is_blank(u))
        || item.iter().any(|&u| sep(u) || u == 0)
    {
        return Err("the item is empty or holds a list separator".into());
    }
    // Items: (start, end) of the trimmed text between separators.
    let mut items = Vec::new();
    let mut start = 0;
    for i in 0..=list.len() {
        if i == list.len() || list.get(i).is_some_and(|&u| sep(u)) {
            let seg = list.get(start..i).unwrap_or_default();
            let lead = seg.iter().take_while(|&&u| is_blank(u)).count();
            let trail = seg.iter().rev().take_while(|&&u| is_blank(u)).count();
            if lead < seg.len() {
                items.push((start + lead, i - trail));
            }
            start = i + 1;
        }
    }
    let removed: Vec<bool> = items
        .iter()
        .map(|&(s, e)| list.get(s..e) == Some(item))
        .collect();
    let matching: Vec<usize> = (0..items.len()).filter(|&k| removed[k]).collect();
    if matching.is_empty() {
        return Err("the item is not in the list".into());
    }
    if matching.len() == items.len() {
        return Err("removing the item would leave the list empty".into());
    }
    // Ranges to cut, from the kept items' point of view: each removed item
    // with the separators up to the next kept item, or, after the last
    // kept item, from the end of that item.
    let mut cut = vec![false; list.len()];
    for &k in &matching {
        let Some(&(s, e)) = items.get(k) else {
            continue;
        };
        let next_kept = items
            .iter()
            .enumerate()
            .skip(k + 1)
            .find(|(j, _)| !removed[*j]);
        let (from, to) = match next_kept {
            Some((_, &(ns, _))) => (s, ns),
            None => {
                let prev_end = items
                    .iter()
                    .enumerate()
                    .take(k)
                    .rev()
                    .find(|(j, _)| !removed[*j])
                    .map(|(_, &(_, pe))| pe)
                    .unwrap_or(0);
                (prev_end, e)
            }
        };
        for c in cut.iter_mut().take(to).skip(from) {
            *c = true;
        }
    }
    Ok(list
        .iter()
        .zip(&cut)
        .filter(|(_, c)| !**c)
        .map(|(&u, _)| u)
        .collect())
}

/// REG_MULTI_SZ data without every string equal to `item`: the new data
/// (each string NUL-terminated, an empty string ending the list) and the
/// strings kept. Windows ends the list at the first empty string; what
/// follows it is dropped.
fn remove_from_multi(units: &[u16], item: &[u16]) -> Result<(Vec<u16>, Vec<Vec<u16>>), String> {
    if item.is_empty() || item.contains(&0) {
        return Err("the item is empty or holds a NUL".into());
    }
    let strings: Vec<&[u16]> = units
        .split(|&u| u == 0)
        .take_while(|s| !s.is_empty())
        .collect();
    let kept: Vec<Vec<u16>> = strings
        .iter()
        .filter(|s| **s != item)
        .map(|s| s.to_vec())
        .collect();
    if kept.len() == strings.len() {
        return Err("the item is not in the list".into());
    }
    if kept.is_empty() {
        return Err("removing the item would leave the list empty".into());
    }
    let mut out = Vec::new();
    for s in &kept {
        out.extend_from_slice(s);
        out.push(0);
    }
    out.push(0);
    Ok((out, kept))
}

/// Now as a FILETIME (100 ns units since 1601).
fn filetime_now() -> u64 {
    const UNIX_TO_1601: u64 = 11_644_473_600;
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() + UNIX_TO_1601) * 10_000_000 + u64::from(d.subsec_nanos() / 100)
}

/// Whether `path` is at or under one of `deleted` (paths upper-cased).
fn under(path: &[Vec<u16>], deleted: &[Vec<Vec<u16>>]) -> bool {
    deleted
        .iter()
        .any(|d| d.len() <= path.len() && path.iter().zip(d).all(|(a, b)| a == b))
}

fn upcased(path: &[String]) -> Vec<Vec<u16>> {
    path.iter()
        .map(|c| upcase(&c.encode_utf16().collect::<Vec<_>>()))
        .collect()
}

/// Checks the edited hive: every edit's key or value gone (or its list
/// as expected) by our reader, and the hive opening with the notatin
/// reader with the keys around each edit reading as ours do. Each key
/// around the edits is read once, however many edits it has (a plan
/// deleting hundreds of subkeys of one key reads that key once).
fn verify(regf: &Regf, done: &[(&HiveEdit, Record)]) -> Result<(), String> {
    let deleted: Vec<Vec<Vec<u16>>> = done
        .iter()
        .filter(|(e, _)| matches!(e, HiveEdit::DeleteKey { .. }))
        .map(|(_, r)| upcased(&r.path))
        .collect();
    let gone_with_key = |p: &[String]| under(&upcased(p), &deleted);
    let fail = |e: &HiveEdit, why: &str| format!("after the edits ({}): {why}", e.describe());
    // Parents of deleted keys (stored path) and the names deleted there;
    // keys with value edits and those edits.
    let mut parents: BTreeMap<Vec<String>, Vec<(&HiveEdit, String)>> = BTreeMap::new();
    let mut keys: BTreeMap<Vec<String>, Vec<(&HiveEdit, &Record)>> = BTreeMap::new();
    for (edit, rec) in done {
        if let HiveEdit::DeleteKey { .. } = edit {
            if regf.find(&rec.path.join("\\"))?.is_some() {
                return Err(fail(edit, "the key is still there"));
            }
            let Some((name, parent)) = rec.path.split_last() else {
                return Err(fail(edit, "the root key"));
            };
            if parent.is_empty() || !gone_with_key(parent) {
                parents
                    .entry(parent.to_vec())
                    .or_default()
                    .push((*edit, name.clone()));
            }
        } else if gone_with_key(&rec.path) {
            if regf.find(&rec.path.join("\\"))?.is_some() {
                return Err(fail(edit, "a deleted key is still there"));
            }
        } else {
            keys.entry(rec.path.clone()).or_default().push((*edit, rec));
        }
    }
    let mut hive = Hive::from_bytes(regf.b.clone(), Vec::new())
        .map_err(|e| format!("the edited hive does not open: {e}"))?;
    let mut second_reads = 0usize;
    for (path, gone) in &parents {
        let Some((edit, _)) = gone.first() else {
            continue;
        };
        let joined = path.join("\\");
        let (chain, _) = regf.key(&joined).map_err(|e| fail(edit, &e))?;
        let ours = regf.children(chain.last().ok_or("empty key chain")?)?;
        if second_reads >= MAX_SECOND_READS {
            continue;
        }
        second_reads += 1;
        let k = hive
            .key(&joined)
            .ok_or_else(|| fail(edit, "the parent key does not read"))?;
        // A key of more subkeys than the notatin reader lists is checked
        // by our reader alone (reading it all twice costs too much).
        if ours.len() > MAX_SUBKEYS {
            continue;
        }
        let (subs, truncated) = hive.subkeys(&k);
        if truncated || subs.len() != ours.len() {
            return Err(fail(edit, "the parent's subkeys do not read"));
        }
        let left: HashSet<Vec<u16>> = subs
            .iter()
            .map(|s| upcase(&s.name().encode_utf16().collect::<Vec<_>>()))
            .collect();
        for (edit, name) in gone {
            if left.contains(&upcase(&name.encode_utf16().collect::<Vec<_>>())) {
                return Err(fail(edit, "the key is still there"));
            }
        }
    }
    for (path, edits) in &keys {
        let Some((first, _)) = edits.first() else {
            continue;
        };
        let joined = path.join("\\");
        let (chain, _) = regf.key(&joined).map_err(|e| fail(first, &e))?;
        let nk = chain.last().ok_or("empty key chain")?;
        let k = if second_reads < MAX_SECOND_READS {
            second_reads += 1;
            let k = hive
                .key(&joined)
                .ok_or_else(|| fail(first, "the key does not read"))?;
            if k.values().len() != (nk.values as usize).min(MAX_VALUES) {
                return Err(fail(first, "the key's values do not read"));
            }
            Some(k)
        } else {
            None
        };
        // Several edits of one value: what the last one left is checked.
        let mut last: BTreeMap<Vec<u16>, (&HiveEdit, &Record)> = BTreeMap::new();
        for (edit, rec) in edits {
            let name = rec.value.as_deref().unwrap_or_default();
            last.insert(
                upcase(&name.encode_utf16().collect::<Vec<_>>()),
                (*edit, *rec),
            );
        }
        for (edit, rec) in last.into_values() {
            let name = rec.value.as_deref().unwrap_or_default();
            let ours = regf.find_value(nk, name)?;
            let theirs = k.as_ref().map(|k| k.value(name));
            match &rec.expected {
                None => {
                    if ours.is_some() || theirs.is_some_and(|v| v.is_some()) {
                        return Err(fail(edit, "the value is still there"));
                    }
                }
                Some(want) => {
                    let read = |v: Option<Value>| v.as_ref() == Some(want);
                    let raw = match &ours {
                        Some((_, _, vk)) => Some(regf.value_data(vk)?),
                        None => None,
                    };
                    if raw != rec.data || theirs.is_some_and(|v| !read(v)) {
                        return Err(fail(edit, "the value does not read as edited"));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::regf::build::*;
    use super::*;

    /// ROOT\Soft\Run with values, ROOT\Soft\Winlogon, ROOT\Big with
    /// `n` subkeys K000.. under an index root of leaves of `per` keys.
    fn sample(n: usize, per: usize) -> Vec<u8> {
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        let soft = b.nk("Soft", root);
        let big = b.nk("Big", root);
        let rl = b.leaf(b"lh", &[big, soft]);
        b.subkeys(root, rl, 2);
        let run = b.nk("Run", soft);
        let wl = b.nk("Winlogon", soft);
        let sl = b.leaf(b"lf", &[run, wl]);
        b.subkeys(soft, sl, 2);
        b.values(
            run,
            &[
                ("A", REG_SZ, sz(r"C:\a.exe")),
                ("Evil", REG_SZ, sz(r"C:\evil.exe")),
                ("B", REG_EXPAND_SZ, sz(r"%ProgramFiles%\b.exe")),
                ("Short", REG_SZ, sz("x")),
            ],
        );
        b.values(
            wl,
            &[
                ("Shell", REG_SZ, sz(r"explorer.exe, C:\evil.exe")),
                (
                    "Userinit",
                    REG_SZ,
                    sz(r"C:\Windows\system32\userinit.exe,C:\evil.exe,"),
                ),
                ("One", REG_SZ, sz("ab,c")),
                (
                    "Boot",
                    REG_MULTI_SZ,
                    multi(&["autocheck autochk *", "evil"]),
                ),
                ("Num", 4, 1u32.to_le_bytes().to_vec()),
            ],
        );
        let keys: Vec<u32> = (0..n).map(|i| b.nk(&format!("K{i:03}"), big)).collect();
        if n > 0 {
            let leaves: Vec<u32> = keys.chunks(per).map(|c| b.leaf(b"lh", c)).collect();
            let list = if leaves.len() == 1 {
                leaves[0]
            } else {
                b.ri(&leaves)
            };
            b.subkeys(big, list, n as u32);
        }
        b.finish(root)
    }

    fn names(h: &mut Hive, path: &str) -> Vec<String> {
        let k = h.key(path).unwrap();
        h.subkeys(&k)
            .0
            .iter()
            .map(|k| k.name().to_string())
            .collect()
    }

    fn open(b: &[u8]) -> Hive {
        Hive::from_bytes(b.to_vec(), vec![]).unwrap()
    }

    fn dv(key: &str, value: &str) -> HiveEdit {
        HiveEdit::DeleteValue {
            key: key.into(),
            value: value.into(),
        }
    }

    fn dk(key: &str) -> HiveEdit {
        HiveEdit::DeleteKey { key: key.into() }
    }

    fn item(key: &str, value: &str, item: &str) -> HiveEdit {
        HiveEdit::RemoveListItem {
            key: key.into(),
            value: value.into(),
            item: item.into(),
        }
    }

    #[test]
    fn the_sample_reads() {
        let b = sample(10, 4);
        let mut h = open(&b);
        assert_eq!(names(&mut h, "Big").len(), 10);
        assert_eq!(h.key(r"Soft\Run").unwrap().values().len(), 4);
        Regf::parse(&b).unwrap().check_tree().unwrap();
    }

    #[test]
    fn delete_value_any_case_and_header() {
        let b = sample(0, 1);
        let out = apply(&b, &[dv(r"\soft\RUN", "evil")]).unwrap();
        let mut h = open(&out);
        let k = h.key(r"Soft\Run").unwrap();
        let v: Vec<String> = k.values().into_iter().map(|(n, _)| n).collect();
        assert_eq!(v, ["A", "B", "Short"]);
        assert_eq!(k.value("Short"), Some(Value::Str("x".into())));
        // Sequence numbers moved on together, checksum right.
        assert_eq!(le32(&out, 4), Some(8));
        assert_eq!(le32(&out, 8), Some(8));
        assert_eq!(le32(&out, 0x1FC), Some(checksum(&out)));
        assert_ne!(out[12..20], b[12..20]);
        // Only the base block, the list and the key's time changed.
        assert_eq!(out.len(), b.len());
        // The last value of a key: the list goes.
        let out = apply(
            &out,
            &[
                dv(r"Soft\Run", "A"),
                dv(r"Soft\Run", "B"),
                dv(r"Soft\Run", "Short"),
            ],
        )
        .unwrap();
        let mut h = open(&out);
        assert!(h.key(r"Soft\Run").unwrap().values().is_empty());
        let r = Regf::parse(&out).unwrap();
        let (chain, _) = r.key(r"Soft\Run").unwrap();
        assert_eq!(chain.last().unwrap().vallist, NIL);
    }

    #[test]
    fn missing_key_or_value_is_named() {
        let b = sample(0, 1);
        let e = apply(&b, &[dv(r"Soft\Nope", "x")]).unwrap_err();
        assert!(e.contains(r"\Soft\Nope"), "{e}");
        let e = apply(&b, &[dv(r"Soft\Run", "Nope")]).unwrap_err();
        assert!(e.contains("\"Nope\""), "{e}");
        let e = apply(&b, &[dk("Nope")]).unwrap_err();
        assert!(e.contains(r"\Nope"), "{e}");
        let e = apply(&b, &[dk("")]).unwrap_err();
        assert!(e.contains("root"), "{e}");
        // One failing edit fails the call: nothing is half done.
        assert!(apply(&b, &[dv(r"Soft\Run", "A"), dk("Nope")]).is_err());
        assert!(apply(&b, &[]).is_err());
    }

    #[test]
    fn delete_key_in_a_single_leaf() {
        let b = sample(5, 100);
        for (gone, left) in [
            ("K000", ["K001", "K002", "K003", "K004"]),
            ("K002", ["K000", "K001", "K003", "K004"]),
            ("K004", ["K000", "K001", "K002", "K003"]),
        ] {
            let out = apply(&b, &[dk(&format!(r"Big\{gone}"))]).unwrap();
            let mut h = open(&out);
            assert_eq!(names(&mut h, "Big"), left);
            assert!(h.key(&format!(r"Big\{gone}")).is_none());
        }
        let all: Vec<HiveEdit> = (0..5).map(|i| dk(&format!(r"Big\K{i:03}"))).collect();
        let out = apply(&b, &all).unwrap();
        let r = Regf::parse(&out).unwrap();
        let (chain, _) = r.key("Big").unwrap();
        assert_eq!(chain.last().unwrap().sublist, NIL);
        assert!(names(&mut open(&out), "Big").is_empty());
    }

    #[test]
    fn delete_key_under_an_index_root() {
        // 12 keys in leaves of 4: K000-3, K004-7, K008-11.
        let b = sample(12, 4);
        let want = |gone: &[usize]| -> Vec<String> {
            (0..12)
                .filter(|i| !gone.contains(i))
                .map(|i| format!("K{i:03}"))
                .collect()
        };
        for gone in [0usize, 5, 11] {
            let out = apply(&b, &[dk(&format!(r"Big\K{gone:03}"))]).unwrap();
            assert_eq!(names(&mut open(&out), "Big"), want(&[gone]));
        }
        // A whole leaf emptied: it leaves the index root.
        let edits: Vec<HiveEdit> = (4..8).map(|i| dk(&format!(r"Big\K{i:03}"))).collect();
        let out = apply(&b, &edits).unwrap();
        assert_eq!(names(&mut open(&out), "Big"), want(&[4, 5, 6, 7]));
        let r = Regf::parse(&out).unwrap();
        let (chain, _) = r.key("Big").unwrap();
        let list = r.cell(chain.last().unwrap().sublist, "x").unwrap();
        assert_eq!(&r.b[list.start..list.start + 2], b"ri");
        assert_eq!(r.u16_at(list.start + 2).unwrap(), 2);
        // Every key gone: the parent has no list.
        let edits: Vec<HiveEdit> = (0..12).map(|i| dk(&format!(r"Big\K{i:03}"))).collect();
        let out = apply(&b, &edits).unwrap();
        assert!(names(&mut open(&out), "Big").is_empty());
    }

    #[test]
    fn nested_edits_apply_in_a_working_order() {
        let b = sample(3, 4);
        // The key and an edit inside it, given parent first.
        let out = apply(
            &b,
            &[dk("Soft"), dv(r"Soft\Run", "A"), dk(r"Soft\Winlogon")],
        )
        .unwrap();
        let mut h = open(&out);
        assert!(h.key("Soft").is_none());
        assert_eq!(names(&mut h, ""), ["Big"]);
    }

    #[test]
    fn list_items() {
        let b = sample(0, 1);
        let wl = r"Soft\Winlogon";
        let read = |out: &[u8], v: &str| open(out).key(wl).unwrap().value(v);
        let out = apply(&b, &[item(wl, "Shell", r"C:\evil.exe")]).unwrap();
        assert_eq!(read(&out, "Shell"), Some(Value::Str("explorer.exe".into())));
        let out = apply(&b, &[item(wl, "Shell", "explorer.exe")]).unwrap();
        assert_eq!(read(&out, "Shell"), Some(Value::Str(r"C:\evil.exe".into())));
        // The trailing comma of Windows' own Userinit stays.
        let out = apply(&b, &[item(wl, "Userinit", r"C:\evil.exe")]).unwrap();
        assert_eq!(
            read(&out, "Userinit"),
            Some(Value::Str(r"C:\Windows\system32\userinit.exe,".into()))
        );
        let out = apply(&b, &[item(wl, "Boot", "evil")]).unwrap();
        assert_eq!(
            read(&out, "Boot"),
            Some(Value::Multi(vec!["autocheck autochk *".into()]))
        );
        // Short enough afterwards: stored inline, as Windows does.
        let out = apply(&b, &[item(wl, "One", "ab")]).unwrap();
        assert_eq!(read(&out, "One"), Some(Value::Str("c".into())));
        let r = Regf::parse(&out).unwrap();
        let (chain, _) = r.key(wl).unwrap();
        let (_, _, vk) = r.find_value(chain.last().unwrap(), "One").unwrap().unwrap();
        assert_eq!(vk.size_raw, 4 | DATA_INLINE);
        // Refusals: not there, the only item, a number, inline "x".
        for (v, i, why) in [
            ("Shell", "evil.exe", "not in the list"),
            ("Shell", "explorer", "not in the list"),
            ("One", "a", "not in the list"),
            ("Num", "1", "type 4"),
            ("Boot", "autocheck", "not in the list"),
        ] {
            let e = apply(&b, &[item(wl, v, i)]).unwrap_err();
            assert!(e.contains(why), "{v} {i}: {e}");
        }
        let e = apply(&b, &[item(r"Soft\Run", "Short", "x")]).unwrap_err();
        assert!(e.contains("empty"), "{e}");
        // Two items of one list in one call.
        let out = apply(
            &b,
            &[
                item(wl, "Userinit", r"C:\evil.exe"),
                item(wl, "Userinit", r"C:\Windows\system32\userinit.exe"),
                item(r"Soft\Run", "A", "nothing"),
            ],
        );
        assert!(out.unwrap_err().contains("empty"));
        let out = apply(
            &b,
            &[
                item(wl, "Shell", r"C:\evil.exe"),
                dv(wl, "Shell"),
                item(wl, "Boot", "evil"),
                item(wl, "Boot", "autocheck autochk *"),
            ],
        );
        assert!(out.unwrap_err().contains("empty"));
        let mut three = Build::new();
        let root = three.nk("ROOT", 0);
        three.values(root, &[("L", REG_SZ, sz("a,b,c,d"))]);
        let three = three.finish(root);
        let out = apply(
            &three,
            &[item("", "L", "b"), item("", "L", "d"), item("", "l", "a")],
        )
        .unwrap();
        assert_eq!(
            open(&out).key("").unwrap().value("L"),
            Some(Value::Str("c".into()))
        );
        let out = apply(&three, &[item("", "L", "b"), dv("", "L")]).unwrap();
        assert_eq!(open(&out).key("").unwrap().value("L"), None);
        // Both items removed: refused as a whole.
        let e = apply(
            &b,
            &[
                item(wl, "Shell", "explorer.exe"),
                item(wl, "Shell", r"C:\evil.exe"),
            ],
        )
        .unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn list_removal_rules() {
        let u = |s: &str| s.encode_utf16().collect::<Vec<_>>();
        let rm = |l: &str, i: &str, b: bool| {
            remove_from_list(&u(l), &u(i), b).map(|v| String::from_utf16(&v).unwrap())
        };
        assert_eq!(rm("a,b,c", "b", false).unwrap(), "a,c");
        assert_eq!(rm("a,b,c", "a", false).unwrap(), "b,c");
        assert_eq!(rm("a,b,c", "c", false).unwrap(), "a,b");
        assert_eq!(rm("a, b ,c", "b", false).unwrap(), "a, c");
        assert_eq!(rm("a,b,a", "a", false).unwrap(), "b");
        assert_eq!(rm("a,b,", "b", false).unwrap(), "a,");
        assert_eq!(
            rm(r"C:\x y.dll a.dll", "a.dll", true).unwrap(),
            r"C:\x y.dll"
        );
        assert_eq!(rm("x.dll, y.dll", "x.dll", true).unwrap(), "y.dll");
        // A blank does not separate Winlogon items.
        assert!(rm(r"C:\a b,c", "b", false).is_err());
        assert!(rm("a,a", "a", false).is_err());
        assert!(rm("a", "", false).is_err());
        assert!(rm("a,b", "a,b", false).is_err());
    }

    fn corrupt(b: &mut [u8]) {
        let sum = checksum(b);
        b[0x1FC..0x200].copy_from_slice(&sum.to_le_bytes());
    }

    #[test]
    fn dirty_truncated_and_foreign_hives_are_refused() {
        let b = sample(3, 4);
        let edits = [dv(r"Soft\Run", "A")];
        let mut dirty = b.clone();
        dirty[4] = 9;
        corrupt(&mut dirty);
        assert!(apply(&dirty, &edits).unwrap_err().contains("dirty"));
        let mut bad_sum = b.clone();
        bad_sum[0x1FC] ^= 1;
        assert!(apply(&bad_sum, &edits).unwrap_err().contains("checksum"));
        assert!(
            apply(&b[..b.len() - 4096], &edits)
                .unwrap_err()
                .contains("truncated")
        );
        assert!(apply(&b[..100], &edits).is_err());
        assert!(apply(b"not a hive", &edits).is_err());
        let mut log = b.clone();
        log[28] = 6;
        corrupt(&mut log);
        assert!(apply(&log, &edits).unwrap_err().contains("primary"));
        let mut old = b.clone();
        old[24] = 2;
        corrupt(&mut old);
        assert!(apply(&old, &edits).unwrap_err().contains("version"));
    }

    /// Cyclic and shared structures: refused before any edit.
    #[test]
    fn cycles_and_shared_cells_are_refused() {
        // A key listing its own parent (a cycle).
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        let a = b.nk("A", root);
        let la = b.leaf(b"lf", &[a]);
        b.subkeys(root, la, 1);
        let lr = b.leaf(b"lf", &[root]);
        b.subkeys(a, lr, 1);
        let h = b.finish(root);
        let e = apply(&h, &[dk("A")]).unwrap_err();
        assert!(e.contains("twice") || e.contains("parent"), "{e}");

        // An index root naming itself.
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        let ri = b.ri(&[0]);
        b.set32(ri, 4, ri);
        b.subkeys(root, ri, 1);
        let e = apply(&b.finish(root), &[dk("A")]).unwrap_err();
        assert!(e.contains("no leaf"), "{e}");

        // One index root listing one leaf many times.
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        let a = b.nk("A", root);
        let leaf = b.leaf(b"lh", &[a]);
        let ri = b.ri(&[leaf; 200]);
        b.subkeys(root, ri, 200);
        let e = apply(&b.finish(root), &[dk("A")]).unwrap_err();
        assert!(e.contains("twice"), "{e}");

        // Two keys sharing one value list.
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        let a = b.nk("A", root);
        let c = b.nk("C", root);
        let l = b.leaf(b"lf", &[a, c]);
        b.subkeys(root, l, 2);
        b.values(a, &[("V", REG_SZ, sz("hello"))]);
        let vl = u32::from_le_bytes(
            b.bins[a as usize + 4 + NK_VALLIST..a as usize + 8 + NK_VALLIST]
                .try_into()
                .unwrap(),
        );
        b.set32(c, NK_VALLIST, vl);
        b.set32(c, NK_VALUES, 1);
        let e = apply(&b.finish(root), &[dv("A", "V")]).unwrap_err();
        assert!(e.contains("twice"), "{e}");

        // A count larger than the list.
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        let a = b.nk("A", root);
        let l = b.leaf(b"lf", &[a]);
        b.subkeys(root, l, 2);
        let e = apply(&b.finish(root), &[dk("A")]).unwrap_err();
        assert!(e.contains("counts"), "{e}");
    }

    #[test]
    fn deep_paths_are_bounded() {
        let b = sample(0, 1);
        let deep = vec!["a"; MAX_DEPTH + 1].join("\\");
        assert!(apply(&b, &[dk(&deep)]).unwrap_err().contains("deeper"));
        // A chain of keys deeper than Windows allows.
        let mut bld = Build::new();
        let root = bld.nk("ROOT", 0);
        let mut parent = root;
        for _ in 0..=MAX_DEPTH + 1 {
            let k = bld.nk("d", parent);
            let l = bld.leaf(b"li", &[k]);
            bld.subkeys(parent, l, 1);
            parent = k;
        }
        let e = apply(&bld.finish(root), &[dk("d")]).unwrap_err();
        assert!(e.contains("deeper"), "{e}");
    }

    #[test]
    fn utf16_and_non_ascii_names() {
        let mut b = Build::new();
        let root = b.nk("ROOT", 0);
        // A UTF-16 name (no compressed flag).
        let mut d = vec![0u8; NK_NAME];
        d[..2].copy_from_slice(b"nk");
        d[NK_PARENT..NK_PARENT + 4].copy_from_slice(&root.to_le_bytes());
        for f in [NK_SUBLIST, NK_VALLIST, 44, 48] {
            d[f..f + 4].copy_from_slice(&NIL.to_le_bytes());
        }
        let name = u16s("Émile");
        d[NK_NAME_LEN..NK_NAME_LEN + 2].copy_from_slice(&(name.len() as u16).to_le_bytes());
        d.extend_from_slice(&name);
        let k = b.cell(&d);
        let other = b.nk("Other", root);
        let l = b.leaf(b"lh", &[k, other]);
        b.subkeys(root, l, 2);
        let h = b.finish(root);
        let out = apply(&h, &[dk("éMILE")]).unwrap();
        assert_eq!(names(&mut open(&out), ""), ["Other"]);
    }

    /// Mutated hives: an error or a checked result, never a panic.
    #[test]
    fn mutations_never_panic() {
        let good = sample(12, 4);
        let edits = [
            dk(r"Big\K005"),
            dv(r"Soft\Run", "Evil"),
            item(r"Soft\Winlogon", "Shell", r"C:\evil.exe"),
        ];
        assert!(apply(&good, &edits).is_ok());
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let (mut ok, mut refused) = (0, 0);
        for _ in 0..400 {
            let mut b = good.clone();
            for _ in 0..6 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = BASE + (seed as usize % (b.len() - BASE));
                b[i] = (seed >> 40) as u8;
            }
            match apply(&b, &edits) {
                Ok(out) => {
                    ok += 1;
                    assert!(Hive::from_bytes(out, vec![]).is_ok());
                }
                Err(_) => refused += 1,
            }
        }
        // Some mutations land in slack and the edit still applies.
        assert!(ok > 0 && refused > 0, "ok {ok} refused {refused}");
    }
}
