//! The strict, bounded reading of a registry hive's raw bytes (the
//! `regf` format): the base block, every hive bin and cell checked in one
//! pass, then key nodes, values, subkey and value lists read on demand,
//! every offset checked to name an allocated cell of the right kind. Used
//! by the listing ([`super::hive`]) and by the editor ([`super::edit`]).
//!
//! Nothing here trusts the hive: a count, an offset or a size is checked
//! before it is used, no walk follows a cycle, lookups are bounded by
//! [`MAX_LOOKUP_WORK`], and anything unexpected is an error, never a panic.

use super::hive::MAX_HIVE_BYTES;
use std::cell::Cell;
use std::collections::HashSet;
use std::ops::Range;

/// Size of the base block; offsets in the hive are from its end.
pub(super) const BASE: usize = 4096;
/// A hive bin's size is a multiple of this.
pub(super) const BIN_UNIT: usize = 4096;
/// Size of a hive bin's header.
pub(super) const BIN_HEADER: usize = 32;
/// "No cell" in an offset field.
pub(super) const NIL: u32 = u32::MAX;
/// Key nesting followed at most: Windows' own limit is 512 levels, so a
/// deeper tree (or path) is not one Windows wrote.
pub(super) const MAX_DEPTH: usize = 512;
/// Largest value data stored in one cell; larger data is split into a
/// big-data (`db`) record, which is not edited here.
pub(super) const MAX_CELL_DATA: u32 = 16_344;
/// Subkeys looked at, in all, by the path lookups of one call: each
/// lookup reads every subkey of every key on its path, so many edits under
/// a key of very many subkeys (a hostile hive's millions of services)
/// would take hours; real plans look at a few thousand. About 8 s.
pub(super) const MAX_LOOKUP_WORK: u64 = 16_000_000;
/// Subkeys of one key read at most: a real key has at most some tens of
/// thousands (a large Services key); a count beyond this is refused.
pub(super) const MAX_CHILDREN: usize = 1_000_000;
/// Bit of a value's data size saying the data is in the offset field.
pub(super) const DATA_INLINE: u32 = 0x8000_0000;

// Key node (`nk`) fields, from the start of the cell's data.
pub(super) const NK_FLAGS: usize = 2;
pub(super) const NK_STAMP: usize = 4;
pub(super) const NK_PARENT: usize = 16;
pub(super) const NK_SUBKEYS: usize = 20;
pub(super) const NK_SUBLIST: usize = 28;
pub(super) const NK_VALUES: usize = 36;
pub(super) const NK_VALLIST: usize = 40;
pub(super) const NK_NAME_LEN: usize = 72;
pub(super) const NK_NAME: usize = 76;
/// Key flags that make a key on the way to an edit something else than a
/// plain key (a mount point, a symbolic link, a predefined handle): the
/// path would not lead where Windows would go.
pub(super) const KEY_NOT_PLAIN: u16 = 0x0002 | 0x0010 | 0x0040;
/// Key flag: Windows refuses to delete the key.
pub(super) const KEY_NO_DELETE: u16 = 0x0008;
/// Key flag: the name is stored one byte a character (Latin-1).
pub(super) const KEY_COMP_NAME: u16 = 0x0020;

// Key value (`vk`) fields.
pub(super) const VK_NAME_LEN: usize = 2;
pub(super) const VK_SIZE: usize = 4;
pub(super) const VK_DATA: usize = 8;
pub(super) const VK_TYPE: usize = 12;
pub(super) const VK_FLAGS: usize = 16;
pub(super) const VK_NAME: usize = 20;
/// Value flag: the name is stored one byte a character.
pub(super) const VALUE_COMP_NAME: u16 = 0x0001;

pub(super) const REG_SZ: u32 = 1;
pub(super) const REG_EXPAND_SZ: u32 = 2;
pub(super) const REG_MULTI_SZ: u32 = 7;

pub(super) fn shown_key(key: &str) -> String {
    format!("\\{}", key.trim_matches('\\'))
}

pub(super) fn shown_value(value: &str) -> String {
    if value.is_empty() {
        "(default)".to_string()
    } else {
        format!("{value:?}")
    }
}

/// The components of a key path (`\`-separated; empty ones skipped).
pub(super) fn components(path: &str) -> Result<Vec<&str>, String> {
    let comps: Vec<&str> = path.split('\\').filter(|c| !c.is_empty()).collect();
    if comps.len() > MAX_DEPTH {
        return Err(format!(
            "key path {} deeper than {MAX_DEPTH} levels",
            shown_key(path)
        ));
    }
    Ok(comps)
}

/// A bit a cell (cells start on 8-byte boundaries).
pub(super) struct Bits(Vec<u64>);

impl Bits {
    pub(super) fn new(bins: usize) -> Bits {
        Bits(vec![0; bins / 8 / 64 + 1])
    }
    pub(super) fn get(&self, off: usize) -> bool {
        let i = off / 8;
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    pub(super) fn set(&mut self, off: usize) {
        let i = off / 8;
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
}

/// A key node, parsed.
#[derive(Clone)]
pub(super) struct Nk {
    pub(super) off: u32,
    /// File offset of its data (after the cell size).
    pub(super) at: usize,
    pub(super) flags: u16,
    pub(super) parent: u32,
    pub(super) subkeys: u32,
    pub(super) sublist: u32,
    pub(super) values: u32,
    pub(super) vallist: u32,
    pub(super) name: Vec<u16>,
}

/// A key value, parsed.
pub(super) struct Vk {
    pub(super) at: usize,
    pub(super) size_raw: u32,
    pub(super) data: u32,
    pub(super) kind: u32,
    pub(super) name: Vec<u16>,
}

/// Where a subkey is listed.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    pub(super) child: u32,
    /// The leaf list (`lf`, `lh`, `li`) holding it.
    pub(super) leaf: u32,
    /// Its place there.
    pub(super) index: usize,
    /// The index root over the leaf, and the leaf's place in it.
    pub(super) root: Option<(u32, usize)>,
}

/// A key found by path: the keys from the root to it (root first), and
/// where it is listed in its parent (None for the root).
pub(super) type Found = (Vec<Nk>, Option<Slot>);

/// A hive being edited: its bytes and where its allocated cells start.
pub(super) struct Regf {
    pub(super) b: Vec<u8>,
    pub(super) bins: usize,
    pub(super) root: u32,
    pub(super) cells: Bits,
    /// Subkeys looked at by the path lookups so far (see
    /// [`MAX_LOOKUP_WORK`]).
    pub(super) work: Cell<u64>,
}

impl Regf {
    /// Checks the base block and every bin and cell.
    pub(super) fn parse(bytes: &[u8]) -> Result<Regf, String> {
        Regf::parse_owned(bytes.to_vec())
    }

    /// [`Regf::parse`] keeping `bytes` (a hive of hundreds of MB is not
    /// copied).
    pub(super) fn parse_owned(bytes: Vec<u8>) -> Result<Regf, String> {
        if bytes.len() as u64 > MAX_HIVE_BYTES {
            return Err(format!("hive larger than {MAX_HIVE_BYTES} bytes"));
        }
        let block = bytes
            .get(..BASE)
            .ok_or_else(|| "too short for a registry hive".to_string())?;
        if block.get(..4) != Some(b"regf") {
            return Err("not a registry hive (no regf signature)".into());
        }
        let u32_at = |o: usize| le32(&bytes, o).unwrap_or(0);
        if u32_at(4) != u32_at(8) {
            return Err(format!(
                "the hive is dirty (sequence numbers {} and {}): its last changes are \
                 only in its transaction logs; not edited",
                u32_at(4),
                u32_at(8)
            ));
        }
        if checksum(&bytes) != u32_at(0x1FC) {
            return Err(
                "the hive's base block checksum is wrong (a dirty or damaged hive); \
                        not edited"
                    .into(),
            );
        }
        let (major, minor) = (u32_at(20), u32_at(24));
        if major != 1 || !(3..=6).contains(&minor) {
            return Err(format!("unsupported hive version {major}.{minor}"));
        }
        if u32_at(28) != 0 {
            return Err(format!(
                "not a primary hive file (file type {}): a log or an alternate file",
                u32_at(28)
            ));
        }
        if u32_at(32) != 1 {
            return Err(format!("unsupported hive file format {}", u32_at(32)));
        }
        let bins = u32_at(40) as usize;
        if bins == 0 || !bins.is_multiple_of(BIN_UNIT) {
            return Err(format!("bad hive bins size {bins}"));
        }
        if bytes.len() - BASE < bins {
            return Err(format!(
                "truncated: the base block counts {bins} bytes of hive bins, the file holds {}",
                bytes.len() - BASE
            ));
        }
        let mut cells = Bits::new(bins);
        let mut bin = 0usize;
        while bin < bins {
            let at = BASE + bin;
            if bytes.get(at..at + 4) != Some(b"hbin") {
                return Err(format!("corrupt hive: no hive bin at offset {at:#x}"));
            }
            if u32_at(at + 4) as usize != bin {
                return Err(format!(
                    "corrupt hive: hive bin at {at:#x} says another offset"
                ));
            }
            let size = u32_at(at + 8) as usize;
            if size < BIN_UNIT || !size.is_multiple_of(BIN_UNIT) || size > bins - bin {
                return Err(format!("corrupt hive: bad hive bin size at offset {at:#x}"));
            }
            let mut cell = bin + BIN_HEADER;
            let end = bin + size;
            while cell < end {
                let raw = u32_at(BASE + cell) as i32;
                let len = raw.unsigned_abs() as usize;
                if len < 8 || !len.is_multiple_of(8) || len > end - cell {
                    return Err(format!(
                        "corrupt hive: bad cell at offset {:#x}",
                        BASE + cell
                    ));
                }
                if raw < 0 {
                    cells.set(cell);
                }
                cell += len;
            }
            bin = end;
        }
        let root = u32_at(36);
        let regf = Regf {
            b: bytes,
            bins,
            root,
            cells,
            work: Cell::new(0),
        };
        regf.nk(root).map_err(|e| format!("bad root key: {e}"))?;
        Ok(regf)
    }

    pub(super) fn u16_at(&self, at: usize) -> Result<u16, String> {
        self.b
            .get(at..at.checked_add(2).ok_or("offset overflow")?)
            .map(|s| u16::from_le_bytes([s[0], s[1]]))
            .ok_or_else(|| format!("read past the end at {at:#x}"))
    }

    pub(super) fn u32_at(&self, at: usize) -> Result<u32, String> {
        le32(&self.b, at).ok_or_else(|| format!("read past the end at {at:#x}"))
    }

    /// The file range of the data of the allocated cell at `off` (an offset
    /// from the hive bins' start); an error naming `what` otherwise.
    pub(super) fn cell(&self, off: u32, what: &str) -> Result<Range<usize>, String> {
        let o = off as usize;
        if off == NIL || o >= self.bins || !o.is_multiple_of(8) || !self.cells.get(o) {
            return Err(format!(
                "{what} at offset {off:#x} is not an allocated cell"
            ));
        }
        let raw = self.u32_at(BASE + o)? as i32;
        let len = raw.unsigned_abs() as usize;
        Ok(BASE + o + 4..BASE + o + len)
    }

    pub(super) fn nk(&self, off: u32) -> Result<Nk, String> {
        let r = self.cell(off, "key")?;
        let at = r.start;
        if r.len() < NK_NAME || self.b.get(at..at + 2) != Some(b"nk") {
            return Err(format!("no key node at offset {off:#x}"));
        }
        let flags = self.u16_at(at + NK_FLAGS)?;
        let len = self.u16_at(at + NK_NAME_LEN)? as usize;
        let raw = self
            .b
            .get(at + NK_NAME..at + NK_NAME + len)
            .filter(|_| NK_NAME + len <= r.len())
            .ok_or_else(|| format!("key node at {off:#x}: name past its cell"))?;
        let name = decode_name(raw, flags & KEY_COMP_NAME != 0)
            .ok_or_else(|| format!("key node at {off:#x}: odd-length name"))?;
        Ok(Nk {
            off,
            at,
            flags,
            parent: self.u32_at(at + NK_PARENT)?,
            subkeys: self.u32_at(at + NK_SUBKEYS)?,
            sublist: self.u32_at(at + NK_SUBLIST)?,
            values: self.u32_at(at + NK_VALUES)?,
            vallist: self.u32_at(at + NK_VALLIST)?,
            name,
        })
    }

    pub(super) fn vk(&self, off: u32) -> Result<Vk, String> {
        let r = self.cell(off, "value")?;
        let at = r.start;
        if r.len() < VK_NAME || self.b.get(at..at + 2) != Some(b"vk") {
            return Err(format!("no value at offset {off:#x}"));
        }
        let flags = self.u16_at(at + VK_FLAGS)?;
        let len = self.u16_at(at + VK_NAME_LEN)? as usize;
        let raw = self
            .b
            .get(at + VK_NAME..at + VK_NAME + len)
            .filter(|_| VK_NAME + len <= r.len())
            .ok_or_else(|| format!("value at {off:#x}: name past its cell"))?;
        let name = decode_name(raw, flags & VALUE_COMP_NAME != 0)
            .ok_or_else(|| format!("value at {off:#x}: odd-length name"))?;
        Ok(Vk {
            at,
            size_raw: self.u32_at(at + VK_SIZE)?,
            data: self.u32_at(at + VK_DATA)?,
            kind: self.u32_at(at + VK_TYPE)?,
            name,
        })
    }

    /// The subkeys of `nk` with where each is listed, checked against its
    /// count: lists of the kinds Windows writes (an index root over leaf
    /// lists, or one leaf list), each leaf once.
    pub(super) fn children(&self, nk: &Nk) -> Result<Vec<Slot>, String> {
        let mut out = Vec::new();
        if nk.subkeys == 0 {
            return Ok(out);
        }
        // What the lists may hold is bounded by the count (checked below),
        // and the count by MAX_CHILDREN: a crafted count cannot make the
        // list of slots take gigabytes.
        if nk.subkeys as usize > MAX_CHILDREN {
            return Err(format!(
                "key {:?} counts {} subkeys, more than the {MAX_CHILDREN} read of one key",
                name_string(&nk.name),
                nk.subkeys
            ));
        }
        let r = self.cell(nk.sublist, "subkey list")?;
        match self.b.get(r.start..r.start + 2) {
            Some(b"ri") => {
                let count = self.list_count(&r, 4, nk.sublist)?;
                let mut leaves = HashSet::with_capacity(count);
                for i in 0..count {
                    let leaf = self.u32_at(r.start + 4 + 4 * i)?;
                    if !leaves.insert(leaf) {
                        return Err(format!(
                            "index root at {:#x} lists the leaf at {leaf:#x} twice",
                            nk.sublist
                        ));
                    }
                    self.leaf(leaf, Some((nk.sublist, i)), &mut out)?;
                    if out.len() > nk.subkeys as usize {
                        break; // a count mismatch, said below
                    }
                }
            }
            Some(b"li" | b"lf" | b"lh") => self.leaf(nk.sublist, None, &mut out)?,
            _ => {
                return Err(format!(
                    "key {:?}: its subkey list at {:#x} is of no known kind",
                    name_string(&nk.name),
                    nk.sublist
                ));
            }
        }
        if out.len() != nk.subkeys as usize {
            return Err(format!(
                "key {:?} counts {} subkeys, its lists hold {}",
                name_string(&nk.name),
                nk.subkeys,
                out.len()
            ));
        }
        Ok(out)
    }

    /// The element count of the list cell `r` whose elements are `size`
    /// bytes, checked to fit the cell.
    pub(super) fn list_count(
        &self,
        r: &Range<usize>,
        size: usize,
        off: u32,
    ) -> Result<usize, String> {
        let count = self.u16_at(r.start + 2)? as usize;
        if 4 + count * size > r.len() {
            return Err(format!(
                "list at {off:#x} counts more elements than it holds"
            ));
        }
        Ok(count)
    }

    pub(super) fn leaf(
        &self,
        off: u32,
        root: Option<(u32, usize)>,
        out: &mut Vec<Slot>,
    ) -> Result<(), String> {
        let r = self.cell(off, "subkey list")?;
        let size = match self.b.get(r.start..r.start + 2) {
            Some(b"li") => 4,
            Some(b"lf" | b"lh") => 8,
            _ => {
                return Err(format!(
                    "hostile or corrupt hive: the list at {off:#x} under an index root \
                     is no leaf list"
                ));
            }
        };
        let count = self.list_count(&r, size, off)?;
        for i in 0..count {
            out.push(Slot {
                child: self.u32_at(r.start + 4 + size * i)?,
                leaf: off,
                index: i,
                root,
            });
        }
        Ok(())
    }

    /// The value offsets of `nk`, checked to fit their list.
    pub(super) fn value_offsets(&self, nk: &Nk) -> Result<Vec<u32>, String> {
        if nk.values == 0 {
            return Ok(Vec::new());
        }
        let r = self.cell(nk.vallist, "value list")?;
        let n = nk.values as usize;
        if n.checked_mul(4).is_none_or(|bytes| bytes > r.len()) {
            return Err(format!(
                "key {:?} counts more values than its list holds",
                name_string(&nk.name)
            ));
        }
        (0..n).map(|i| self.u32_at(r.start + 4 * i)).collect()
    }

    /// The first `limit` value offsets of `nk` (a reader that lists a
    /// bounded number of values does not collect the rest).
    pub(super) fn value_offsets_upto(&self, nk: &Nk, limit: usize) -> Result<Vec<u32>, String> {
        if nk.values == 0 {
            return Ok(Vec::new());
        }
        let r = self.cell(nk.vallist, "value list")?;
        let n = nk.values as usize;
        if n.checked_mul(4).is_none_or(|bytes| bytes > r.len()) {
            return Err(format!(
                "key {:?} counts more values than its list holds",
                name_string(&nk.name)
            ));
        }
        (0..n.min(limit))
            .map(|i| self.u32_at(r.start + 4 * i))
            .collect()
    }

    /// Walks the whole key tree from the root: every key, list, value and
    /// value data cell reached once, every key's parent field right, no
    /// deeper than Windows goes. Iterative; each cell is visited once, so
    /// the walk costs at most the hive's size.
    pub(super) fn check_tree(&self) -> Result<(), String> {
        let mut seen = Bits::new(self.bins);
        let mut mark = |regf: &Regf, off: u32, what: &str| -> Result<(), String> {
            regf.cell(off, what)?;
            if seen.get(off as usize) {
                return Err(format!(
                    "hostile or corrupt hive: the {what} at offset {off:#x} is reached \
                     twice (a cycle or a shared cell)"
                ));
            }
            seen.set(off as usize);
            Ok(())
        };
        let mut stack = vec![(self.root, NIL, 0usize)];
        while let Some((off, parent, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(format!("keys nested deeper than {MAX_DEPTH} levels"));
            }
            mark(self, off, "key")?;
            let nk = self.nk(off)?;
            if parent != NIL && nk.parent != parent {
                return Err(format!(
                    "corrupt hive: key {:?} at {off:#x} names another parent",
                    name_string(&nk.name)
                ));
            }
            if nk.values > 0 {
                mark(self, nk.vallist, "value list")?;
                for v in self.value_offsets(&nk)? {
                    mark(self, v, "value")?;
                    let vk = self.vk(v)?;
                    if vk.size_raw & DATA_INLINE == 0 && vk.size_raw > 0 {
                        mark(self, vk.data, "value data")?;
                    }
                }
            }
            if nk.subkeys > 0 {
                // Marked before it is read: a list shared by many keys
                // costs its size once, not once a key.
                mark(self, nk.sublist, "subkey list")?;
                let slots = self.children(&nk)?;
                let mut last = NIL;
                for s in &slots {
                    if s.root.is_some() && s.leaf != last {
                        mark(self, s.leaf, "subkey list")?;
                        last = s.leaf;
                    }
                }
                for s in slots {
                    stack.push((s.child, off, depth + 1));
                }
            }
        }
        Ok(())
    }

    /// The key at `path`: the chain of keys from the root (root first),
    /// and where the last is listed in its parent. None when a component
    /// is not there.
    pub(super) fn find(&self, path: &str) -> Result<Option<Found>, String> {
        let comps = components(path)?;
        let mut chain = vec![self.nk(self.root)?];
        let mut slot = None;
        for comp in comps {
            let want = upcase(&comp.encode_utf16().collect::<Vec<_>>());
            let Some(cur) = chain.last() else {
                return Err("empty key chain".into());
            };
            if chain.len() > 1 && cur.flags & KEY_NOT_PLAIN != 0 {
                return Err(format!(
                    "key {:?} is a link or mount point: not followed",
                    name_string(&cur.name)
                ));
            }
            let mut found: Option<(Nk, Slot)> = None;
            let children = self.children(cur)?;
            let work = self.work.get().saturating_add(children.len() as u64);
            if work > MAX_LOOKUP_WORK {
                return Err(format!(
                    "the lookups of the edits' keys look at more than {MAX_LOOKUP_WORK} \
                     subkeys: too many edits under keys of too many subkeys"
                ));
            }
            self.work.set(work);
            for s in children {
                let child = self.nk(s.child)?;
                if upcase(&child.name) != want {
                    continue;
                }
                if found.is_some() {
                    return Err(format!("two subkeys named {comp:?}: ambiguous"));
                }
                found = Some((child, s));
            }
            let Some((child, s)) = found else {
                return Ok(None);
            };
            if child.parent != cur.off || chain.iter().any(|k| k.off == child.off) {
                return Err(format!(
                    "corrupt hive: key {comp:?} is not its parent's child"
                ));
            }
            chain.push(child);
            slot = Some(s);
        }
        Ok(Some((chain, slot)))
    }

    /// The key at `path`, or an error naming it.
    pub(super) fn key(&self, path: &str) -> Result<Found, String> {
        self.find(path)?
            .ok_or_else(|| format!("no key {} in the hive", shown_key(path)))
    }

    /// The value of `nk` named `name` (any case): its place in the value
    /// list and the value; None when there is none.
    pub(super) fn find_value(
        &self,
        nk: &Nk,
        name: &str,
    ) -> Result<Option<(usize, u32, Vk)>, String> {
        let want = upcase(&name.encode_utf16().collect::<Vec<_>>());
        let mut found = None;
        for (i, off) in self.value_offsets(nk)?.into_iter().enumerate() {
            let vk = self.vk(off)?;
            if upcase(&vk.name) != want {
                continue;
            }
            if found.is_some() {
                return Err(format!("two values named {}: ambiguous", shown_value(name)));
            }
            found = Some((i, off, vk));
        }
        Ok(found)
    }

    /// A value's data: in the value itself (4 bytes at most) or in one
    /// cell; big data (`db`, over [`MAX_CELL_DATA`] bytes) is refused.
    pub(super) fn value_data(&self, vk: &Vk) -> Result<Vec<u8>, String> {
        let size = (vk.size_raw & !DATA_INLINE) as usize;
        if vk.size_raw & DATA_INLINE != 0 {
            return vk
                .data
                .to_le_bytes()
                .get(..size)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| "the value's inline data is larger than its field".into());
        }
        if size > MAX_CELL_DATA as usize {
            return Err(format!(
                "the value's data is larger than {MAX_CELL_DATA} bytes (big data): not edited"
            ));
        }
        if size == 0 {
            return Ok(Vec::new());
        }
        let r = self.cell(vk.data, "value data")?;
        if size > r.len() {
            return Err("the value's data is larger than its cell".into());
        }
        self.b
            .get(r.start..r.start + size)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "value data past the end".into())
    }
}

/// A stored name as UTF-16 units: one byte a character (Latin-1) when
/// `compressed`, else UTF-16LE. None for an odd number of bytes.
pub(super) fn decode_name(raw: &[u8], compressed: bool) -> Option<Vec<u16>> {
    if compressed {
        Some(raw.iter().map(|&b| u16::from(b)).collect())
    } else if raw.len().is_multiple_of(2) {
        Some(
            raw.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
        )
    } else {
        None
    }
}

pub(super) fn name_string(units: &[u16]) -> String {
    String::from_utf16_lossy(units)
}

/// A name upper-cased unit by unit, as Windows compares names (each
/// UTF-16 unit mapped to its upper case when that is one unit).
pub(super) fn upcase(units: &[u16]) -> Vec<u16> {
    units
        .iter()
        .map(|&u| {
            let Some(c) = char::from_u32(u32::from(u)) else {
                return u; // a surrogate: compared as it is
            };
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(x), None) => u16::try_from(u32::from(x)).unwrap_or(u),
                _ => u,
            }
        })
        .collect()
}

pub(super) fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The base block checksum: the XOR of its first 127 dwords, with the
/// format's two special cases.
pub(super) fn checksum(b: &[u8]) -> u32 {
    let mut sum = 0u32;
    for i in 0..127 {
        sum ^= le32(b, i * 4).unwrap_or(0);
    }
    match sum {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        s => s,
    }
}

/// Builds hives cell by cell, for the tests of the reader and the editor.
#[cfg(test)]
pub(crate) mod build {
    use super::*;

    /// Builds a hive cell by cell in one growing hive bins area.
    pub(crate) struct Build {
        pub(crate) bins: Vec<u8>,
        pub(crate) minor: u32,
    }

    pub(crate) fn u16s(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    impl Build {
        pub(crate) fn new() -> Build {
            let mut bins = vec![0u8; BIN_HEADER];
            bins[..4].copy_from_slice(b"hbin");
            Build { bins, minor: 5 }
        }

        /// A cell holding `data`; its offset. Cells never cross a 4 KiB
        /// bin boundary (a free cell fills the rest of a bin first).
        pub(crate) fn cell(&mut self, data: &[u8]) -> u32 {
            let len = (data.len() + 4).div_ceil(8) * 8;
            let room = BIN_UNIT - self.bins.len() % BIN_UNIT;
            if len > room && room != BIN_UNIT {
                self.free(room);
            }
            assert!(len <= BIN_UNIT - BIN_HEADER);
            if self.bins.len().is_multiple_of(BIN_UNIT) {
                let at = self.bins.len();
                self.bins.resize(at + BIN_HEADER, 0);
                self.bins[at..at + 4].copy_from_slice(b"hbin");
                self.bins[at + 4..at + 8].copy_from_slice(&(at as u32).to_le_bytes());
            }
            let off = self.bins.len();
            self.bins.extend_from_slice(&(-(len as i32)).to_le_bytes());
            self.bins.extend_from_slice(data);
            self.bins.resize(off + len, 0);
            off as u32
        }

        pub(crate) fn free(&mut self, len: usize) {
            self.bins.extend_from_slice(&(len as i32).to_le_bytes());
            self.bins.resize(self.bins.len() + len - 4, 0);
        }

        pub(crate) fn set32(&mut self, off: u32, field: usize, v: u32) {
            let at = off as usize + 4 + field;
            self.bins[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }

        pub(crate) fn nk(&mut self, name: &str, parent: u32) -> u32 {
            let mut d = vec![0u8; NK_NAME];
            d[..2].copy_from_slice(b"nk");
            d[NK_FLAGS..NK_FLAGS + 2].copy_from_slice(&KEY_COMP_NAME.to_le_bytes());
            d[NK_PARENT..NK_PARENT + 4].copy_from_slice(&parent.to_le_bytes());
            for f in [NK_SUBLIST, NK_SUBLIST + 4, NK_VALLIST, 44, 48] {
                d[f..f + 4].copy_from_slice(&NIL.to_le_bytes());
            }
            d[NK_NAME_LEN..NK_NAME_LEN + 2].copy_from_slice(&(name.len() as u16).to_le_bytes());
            d.extend_from_slice(name.as_bytes());
            self.cell(&d)
        }

        /// A leaf list of `kind` (`lf`, `lh`, `li`) over `keys`.
        pub(crate) fn leaf(&mut self, kind: &[u8; 2], keys: &[u32]) -> u32 {
            let mut d = kind.to_vec();
            d.extend_from_slice(&(keys.len() as u16).to_le_bytes());
            for &k in keys {
                d.extend_from_slice(&k.to_le_bytes());
                if kind != b"li" {
                    d.extend_from_slice(&0u32.to_le_bytes());
                }
            }
            self.cell(&d)
        }

        pub(crate) fn ri(&mut self, leaves: &[u32]) -> u32 {
            let mut d = b"ri".to_vec();
            d.extend_from_slice(&(leaves.len() as u16).to_le_bytes());
            for &l in leaves {
                d.extend_from_slice(&l.to_le_bytes());
            }
            self.cell(&d)
        }

        pub(crate) fn subkeys(&mut self, key: u32, list: u32, count: u32) {
            self.set32(key, NK_SUBLIST, list);
            self.set32(key, NK_SUBKEYS, count);
        }

        /// Values of `key`: (name, type, data), data inline when ≤ 4 bytes.
        pub(crate) fn values(&mut self, key: u32, values: &[(&str, u32, Vec<u8>)]) {
            let mut offs = Vec::new();
            for (name, kind, data) in values {
                let mut d = vec![0u8; VK_NAME];
                d[..2].copy_from_slice(b"vk");
                d[VK_NAME_LEN..VK_NAME_LEN + 2].copy_from_slice(&(name.len() as u16).to_le_bytes());
                let (size, field) = if data.len() <= 4 {
                    let mut f = [0u8; 4];
                    f[..data.len()].copy_from_slice(data);
                    (data.len() as u32 | DATA_INLINE, u32::from_le_bytes(f))
                } else {
                    (data.len() as u32, self.cell(data))
                };
                d[VK_SIZE..VK_SIZE + 4].copy_from_slice(&size.to_le_bytes());
                d[VK_DATA..VK_DATA + 4].copy_from_slice(&field.to_le_bytes());
                d[VK_TYPE..VK_TYPE + 4].copy_from_slice(&kind.to_le_bytes());
                d[VK_FLAGS..VK_FLAGS + 2].copy_from_slice(&VALUE_COMP_NAME.to_le_bytes());
                d.extend_from_slice(name.as_bytes());
                offs.push(self.cell(&d));
            }
            let list: Vec<u8> = offs.iter().flat_map(|o| o.to_le_bytes()).collect();
            let l = self.cell(&list);
            self.set32(key, NK_VALLIST, l);
            self.set32(key, NK_VALUES, offs.len() as u32);
        }

        /// The hive file: base block, bins (the last one closed with a
        /// free cell), each bin's size.
        pub(crate) fn finish(mut self, root: u32) -> Vec<u8> {
            let room = BIN_UNIT - self.bins.len() % BIN_UNIT;
            if room != BIN_UNIT {
                self.free(room);
            }
            for bin in (0..self.bins.len()).step_by(BIN_UNIT) {
                if &self.bins[bin..bin + 4] == b"hbin" {
                    self.bins[bin + 8..bin + 12].copy_from_slice(&(BIN_UNIT as u32).to_le_bytes());
                }
            }
            let mut b = vec![0u8; BASE];
            b[..4].copy_from_slice(b"regf");
            for (at, v) in [
                (4, 7u32),
                (8, 7),
                (20, 1),
                (24, self.minor),
                (28, 0),
                (32, 1),
                (36, root),
                (40, self.bins.len() as u32),
                (44, 1),
            ] {
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(&self.bins);
            let sum = checksum(&b);
            b[0x1FC..0x200].copy_from_slice(&sum.to_le_bytes());
            b
        }
    }

    pub(crate) fn sz(s: &str) -> Vec<u8> {
        let mut d = u16s(s);
        d.extend_from_slice(&[0, 0]);
        d
    }

    pub(crate) fn multi(list: &[&str]) -> Vec<u8> {
        let mut d = Vec::new();
        for s in list {
            d.extend(sz(s));
        }
        d.extend_from_slice(&[0, 0]);
        d
    }
}
