//! Replay of a dirty hive's transaction logs (`.LOG1`, `.LOG2`: the
//! format Windows writes since 8.1), bounded.
//!
//! Windows writes a change to a hive's log first and to the hive file
//! later; a hive copied or a machine switched off in between holds its
//! last changes only in the logs, and its base block says so (its two
//! sequence numbers differ, or its checksum is wrong). Such a hive read
//! alone would be misread, so it is read only after the logs replay, and
//! refused with the reason otherwise.
//!
//! A log holds a copy of the hive's base block (512 bytes, file type 6)
//! and then log entries (`HvLE`), each with a sequence number, the size of
//! the hive bins after it, and whole dirty pages with their offsets. Each
//! entry is checked by its two Marvin32 hashes; entries are applied in
//! sequence-number order from the hive's secondary sequence number (that
//! of the last write the hive file completed) on, the first gap or bad
//! entry ending the replay. When no entry carries that number (the one
//! the crash tore, say), the entries after it cannot be applied without
//! it: the hive is refused rather than read half-replayed.
//!
//! The old log format (Windows before 8.1: a dirty-page bitmap) is not
//! replayed: such a hive is refused with that reason.

use super::hive::MAX_HIVE_BYTES;
use super::regf::{checksum, le32};
use std::collections::BTreeMap;

/// Size of a log's copy of the base block; entries start after it.
const LOG_BASE: usize = 512;
/// Size of the hive's base block.
const BASE: usize = 4096;
/// Bytes of a log entry's header.
const ENTRY_HEADER: usize = 40;
/// Log entries are at offsets, and of sizes, that are multiples of this.
const SECTOR: usize = 512;
/// Pages are whole multiples of this.
const PAGE: usize = 4096;
/// The seed of the log entries' Marvin32 hashes.
const LOG_SEED: u64 = 0x82EF_4D88_7A4E_55C5;
/// The base block's file type in a log of the current format.
const TYPE_LOG_NEW: u32 = 6;
/// The file types of an old-format log.
const TYPE_LOG_OLD: [u32; 2] = [1, 2];

/// The Marvin32 hash of `data` with `seed` (the hash Windows uses for
/// log entries).
pub(super) fn marvin32(seed: u64, data: &[u8]) -> u64 {
    fn mix(lo: &mut u32, hi: &mut u32) {
        *hi ^= *lo;
        *lo = lo.rotate_left(20);
        *lo = lo.wrapping_add(*hi);
        *hi = hi.rotate_left(9);
        *hi ^= *lo;
        *lo = lo.rotate_left(27);
        *lo = lo.wrapping_add(*hi);
        *hi = hi.rotate_left(19);
    }
    let mut lo = seed as u32;
    let mut hi = (seed >> 32) as u32;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        lo = lo.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        mix(&mut lo, &mut hi);
    }
    // The tail (0 to 3 bytes) padded with 0x80 then zeros.
    let mut last = 0x80u32;
    for &b in words.remainder().iter().rev() {
        last = (last << 8) | u32::from(b);
    }
    lo = lo.wrapping_add(last);
    mix(&mut lo, &mut hi);
    mix(&mut lo, &mut hi);
    (u64::from(hi) << 32) | u64::from(lo)
}

/// One checked log entry.
struct Entry<'a> {
    seq: u32,
    /// Hive bins size after the entry.
    bins: usize,
    /// (offset in the hive bins, the page's bytes).
    pages: Vec<(usize, &'a [u8])>,
}

/// What a log holds.
enum Log<'a> {
    /// Current format: its base block's primary sequence number and its
    /// valid entries, in file order.
    New {
        seq: u32,
        base: &'a [u8],
        entries: Vec<Entry<'a>>,
        /// Why the walk of its entries stopped before the end, if it did
        /// on a bad entry.
        stop: Option<String>,
    },
    /// Old format (before Windows 8.1).
    Old,
    /// Not a log: why.
    Bad(String),
}

/// Reads a log's base block and its entries, each checked (header, sizes,
/// both hashes); the first bad one ends the walk.
fn read_log(log: &[u8]) -> Log<'_> {
    let Some(base) = log.get(..LOG_BASE) else {
        return Log::Bad("shorter than a base block".into());
    };
    if base.get(..4) != Some(b"regf") {
        return Log::Bad("no regf signature".into());
    }
    let u32_at = |o: usize| le32(log, o).unwrap_or(0);
    if checksum(base) != u32_at(0x1FC) {
        return Log::Bad("its base block's checksum is wrong".into());
    }
    let kind = u32_at(28);
    if TYPE_LOG_OLD.contains(&kind) {
        return Log::Old;
    }
    if kind != TYPE_LOG_NEW {
        return Log::Bad(format!("file type {kind} is no transaction log"));
    }
    let mut entries = Vec::new();
    let mut stop = None;
    let mut off = LOG_BASE;
    while off < log.len() {
        if log.get(off..off + 4) != Some(b"HvLE") {
            // The end of the entries written (what follows is old data
            // or zeros).
            break;
        }
        match entry(log, off) {
            Ok((e, size)) => {
                entries.push(e);
                off += size;
            }
            Err(why) => {
                stop = Some(format!("log entry at offset {off}: {why}"));
                break;
            }
        }
    }
    Log::New {
        seq: u32_at(4),
        base,
        entries,
        stop,
    }
}

/// The entry at `off` and its size, checked.
fn entry(log: &[u8], off: usize) -> Result<(Entry<'_>, usize), String> {
    let u32_at = |o: usize| le32(log, off.checked_add(o)?);
    let field = |o: usize| u32_at(o).ok_or_else(|| "cut short".to_string());
    let size = field(4)? as usize;
    if size < ENTRY_HEADER || !size.is_multiple_of(SECTOR) {
        return Err(format!("bad size {size}"));
    }
    let end = off.checked_add(size).ok_or("bad size")?;
    let raw = log.get(off..end).ok_or("cut short")?;
    let hash1 = u64::from(field(24)?) | (u64::from(field(28)?) << 32);
    let hash2 = u64::from(field(32)?) | (u64::from(field(36)?) << 32);
    if marvin32(LOG_SEED, raw.get(..32).ok_or("cut short")?) != hash2
        || marvin32(LOG_SEED, raw.get(ENTRY_HEADER..).ok_or("cut short")?) != hash1
    {
        return Err("its hash does not match (a torn or damaged write)".into());
    }
    let seq = field(12)?;
    let bins = field(16)? as usize;
    if bins == 0 || !bins.is_multiple_of(PAGE) || BASE as u64 + bins as u64 > MAX_HIVE_BYTES {
        return Err(format!("bad hive bins size {bins}"));
    }
    let count = field(20)? as usize;
    let refs_end = count
        .checked_mul(8)
        .and_then(|n| n.checked_add(ENTRY_HEADER))
        .filter(|&n| n <= size)
        .ok_or("more dirty pages than the entry holds")?;
    // Reserved from what the entry can hold, not from its count.
    let mut pages = Vec::with_capacity(count.min((size - refs_end) / PAGE));
    let mut at = refs_end;
    for i in 0..count {
        let r = ENTRY_HEADER + 8 * i;
        let (page_off, page_size) = (field(r)? as usize, field(r + 4)? as usize);
        if page_size == 0 || !page_size.is_multiple_of(PAGE) || !page_off.is_multiple_of(PAGE) {
            return Err(format!("dirty page {i}: bad offset or size"));
        }
        if page_off.checked_add(page_size).is_none_or(|e| e > bins) {
            return Err(format!("dirty page {i} lies past the hive bins"));
        }
        let next = at.checked_add(page_size).filter(|&n| n <= size);
        let next = next.ok_or_else(|| format!("dirty page {i} lies past the entry"))?;
        pages.push((page_off, raw.get(at..next).ok_or("cut short")?));
        at = next;
    }
    Ok((Entry { seq, bins, pages }, size))
}

/// The dirty hive `primary` with its `logs` (in the order LOG1, LOG2,
/// LOG) replayed: a clean hive (equal sequence numbers, the checksum
/// right) and the number of entries applied; an error saying why when no
/// entry applies or entries are missing.
pub(super) fn replay(primary: &[u8], logs: &[Vec<u8>]) -> Result<(Vec<u8>, usize), String> {
    let read: Vec<Log> = logs.iter().map(|l| read_log(l)).collect();
    let mut why: Vec<String> = Vec::new();
    let mut old = false;
    let mut new: Vec<(u32, &[u8], &Vec<Entry>)> = Vec::new();
    for (i, log) in read.iter().enumerate() {
        match log {
            Log::New {
                seq,
                base,
                entries,
                stop,
            } => {
                if let Some(s) = stop {
                    why.push(format!("log {}: {s}", i + 1));
                }
                new.push((*seq, base, entries));
            }
            Log::Old => old = true,
            Log::Bad(s) => why.push(format!("log {}: {s}", i + 1)),
        }
    }
    let refused = |reason: String| {
        let mut r = reason;
        if old {
            r.push_str("; an old-format log (Windows before 8.1) is not replayed");
        }
        if !why.is_empty() {
            r.push_str(&format!(" ({})", why.join("; ")));
        }
        r
    };
    // The base block: the hive's own, or, when its checksum is wrong (a
    // torn write of it), the newest valid copy in a log.
    let primary_ok = primary.len() >= BASE
        && primary.get(..4) == Some(b"regf")
        && le32(primary, 0x1FC) == Some(checksum(primary));
    let mut hive = Vec::new();
    if primary_ok {
        hive.extend_from_slice(primary.get(..BASE).unwrap_or_default());
    } else if let Some((_, base, _)) = new.iter().max_by_key(|(seq, _, _)| *seq) {
        hive.extend_from_slice(base);
        hive.resize(BASE, 0);
    } else {
        return Err(refused(
            "the hive's base block is damaged and no log holds a copy".into(),
        ));
    }
    let start = le32(&hive, 8).unwrap_or(0);
    let bins0 = le32(&hive, 40).unwrap_or(0) as usize;
    // Entries by sequence number; a log whose base block is newer wins
    // over an older one holding the same number.
    new.sort_by_key(|(seq, _, _)| *seq);
    let mut by_seq: BTreeMap<u32, &Entry> = BTreeMap::new();
    for (_, _, entries) in &new {
        for e in entries.iter() {
            if e.seq >= start {
                by_seq.insert(e.seq, e);
            }
        }
    }
    let Some((&first, _)) = by_seq.first_key_value() else {
        return Err(refused(
            "the hive is dirty (changes only in its transaction logs) and no log entry \
             applies to it: not read, it would be misread"
                .into(),
        ));
    };
    if first != start {
        return Err(refused(format!(
            "the hive is dirty and its logs miss entries (the hive is at sequence number \
             {start}, the logs start at {first}): not read, it would be misread"
        )));
    }
    // The hive bins as the primary holds them (a cut file grows with the
    // entries; what no entry writes stays zero and fails the bin checks).
    hive.extend_from_slice(primary.get(BASE..).unwrap_or_default());
    hive.resize(BASE + bins0.min(hive.len().saturating_sub(BASE)), 0);
    let mut applied = 0usize;
    let mut seq = first;
    while let Some(e) = by_seq.get(&seq) {
        hive.resize(BASE + e.bins, 0);
        for (off, page) in &e.pages {
            let at = BASE + off;
            if let Some(dst) = hive.get_mut(at..at + page.len()) {
                dst.copy_from_slice(page);
            }
        }
        applied += 1;
        let Some(next) = seq.checked_add(1) else {
            break;
        };
        seq = next;
    }
    // Clean, as Windows leaves a hive after a replay: both sequence
    // numbers at the one after the last entry, the bins size of the last
    // entry, a primary file, the checksum.
    let last_bins = (hive.len() - BASE) as u32;
    for (at, v) in [(4, seq), (8, seq), (28, 0), (40, last_bins)] {
        if let Some(dst) = hive.get_mut(at..at + 4) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
    }
    let sum = checksum(&hive);
    if let Some(dst) = hive.get_mut(0x1FC..0x200) {
        dst.copy_from_slice(&sum.to_le_bytes());
    }
    Ok((hive, applied))
}

/// One entry of a log built by [`build_log`].
#[cfg(any(test, feature = "testing"))]
pub struct LogEntry {
    /// Its sequence number.
    pub seq: u32,
    /// The size of the hive bins after it.
    pub bins: usize,
    /// Its dirty pages: (offset in the hive bins, bytes).
    pub pages: Vec<(usize, Vec<u8>)>,
}

/// A transaction log of the current format, as Windows writes one: the
/// first 512 bytes of `hive`'s base block (file type 6) and `entries`,
/// each with right hashes. Builds test data for the replay.
#[cfg(any(test, feature = "testing"))]
pub fn build_log(hive: &[u8], entries: &[LogEntry]) -> Vec<u8> {
    let mut log = hive.get(..LOG_BASE).unwrap_or_default().to_vec();
    log.resize(LOG_BASE, 0);
    log[28..32].copy_from_slice(&TYPE_LOG_NEW.to_le_bytes());
    let sum = checksum(&log);
    log[0x1FC..0x200].copy_from_slice(&sum.to_le_bytes());
    for entry in entries {
        let mut e = Vec::new();
        e.extend_from_slice(b"HvLE");
        e.extend_from_slice(&0u32.to_le_bytes()); // size, below
        e.extend_from_slice(&0u32.to_le_bytes()); // flags
        e.extend_from_slice(&entry.seq.to_le_bytes());
        e.extend_from_slice(&(entry.bins as u32).to_le_bytes());
        e.extend_from_slice(&(entry.pages.len() as u32).to_le_bytes());
        e.extend_from_slice(&[0; 16]); // hashes, below
        for (off, p) in &entry.pages {
            e.extend_from_slice(&(*off as u32).to_le_bytes());
            e.extend_from_slice(&(p.len() as u32).to_le_bytes());
        }
        for (_, p) in &entry.pages {
            e.extend_from_slice(p);
        }
        e.resize(e.len().div_ceil(SECTOR) * SECTOR, 0);
        let size = e.len() as u32;
        e[4..8].copy_from_slice(&size.to_le_bytes());
        let h1 = marvin32(LOG_SEED, &e[ENTRY_HEADER..]);
        e[24..32].copy_from_slice(&h1.to_le_bytes());
        let h2 = marvin32(LOG_SEED, &e[..32]);
        e[32..40].copy_from_slice(&h2.to_le_bytes());
        log.extend_from_slice(&e);
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Marvin32 test vectors published with .NET's implementation
    /// (seed 0x004FB61A001BDBCC).
    #[test]
    fn marvin32_vectors() {
        let seed = 0x004F_B61A_001B_DBCC;
        let cases: [(&[u8], u64); 8] = [
            (&[], 0x30ED_35C1_00CD_3C7D),
            (&[0xAF], 0x48E7_3FC7_7D75_DDC1),
            (&[0xE7, 0x0F], 0xB5F6_E1FC_485D_BFF8),
            (&[0x37, 0xF4, 0x95], 0xF0B0_7C78_9B8C_F7E8),
            (&[0x86, 0x42, 0xDC, 0x59], 0x7008_F2E8_7E9C_F556),
            (&[0x15, 0x3F, 0xB7, 0x98, 0x26], 0xE6C0_8C6D_A2AF_A997),
            (&[0x09, 0x32, 0xE6, 0x24, 0x6C, 0x47], 0x6F04_BF1A_5EA2_4060),
            (
                &[0xAB, 0x42, 0x7E, 0xA8, 0xD1, 0x0F, 0xC7],
                0xE118_47E4_F067_8C41,
            ),
        ];
        for (data, want) in cases {
            assert_eq!(marvin32(seed, data), want, "{data:02x?}");
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(marvin32(seed, &all), 0x7DFC_AB33_FCEA_D72C);
        let seed = 0x804F_B61A_001B_DBCC;
        assert_eq!(marvin32(seed, &[]), 0x10A9_D5D3_996F_D65D);
        assert_eq!(marvin32(seed, &all), 0x73B4_AE56_9E0D_B919);
    }

    /// A base block (sequence numbers `seq1`, `seq2`, `pages` pages of
    /// hive bins, the checksum right) followed by the pages, page `i`
    /// filled with `fill[i]`.
    fn hive(seq1: u32, seq2: u32, fill: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; BASE];
        h[..4].copy_from_slice(b"regf");
        h[4..8].copy_from_slice(&seq1.to_le_bytes());
        h[8..12].copy_from_slice(&seq2.to_le_bytes());
        h[40..44].copy_from_slice(&((fill.len() * PAGE) as u32).to_le_bytes());
        let sum = checksum(&h);
        h[0x1FC..0x200].copy_from_slice(&sum.to_le_bytes());
        for &f in fill {
            h.extend_from_slice(&[f; PAGE]);
        }
        h
    }

    fn entry(seq: u32, pages: usize, writes: &[(usize, u8)]) -> LogEntry {
        LogEntry {
            seq,
            bins: pages * PAGE,
            pages: writes
                .iter()
                .map(|&(p, f)| (p * PAGE, vec![f; PAGE]))
                .collect(),
        }
    }

    fn pages(h: &[u8]) -> Vec<u8> {
        h[BASE..].chunks(PAGE).map(|p| p[0]).collect()
    }

    fn clean(h: &[u8]) -> bool {
        le32(h, 4) == le32(h, 8) && le32(h, 0x1FC) == Some(checksum(h))
    }

    #[test]
    fn entries_apply_in_order_from_the_hives_number() {
        // Written to the hive up to 4, the write of 5 begun (5/4).
        let primary = hive(5, 4, b"AA");
        let log = build_log(
            &primary,
            &[
                entry(3, 2, &[(0, b'X')]), // old: already in the hive
                entry(4, 2, &[(0, b'B')]),
                entry(5, 3, &[(2, b'C')]), // grows the hive
            ],
        );
        let (h, n) = replay(&primary, &[log]).unwrap();
        assert_eq!((pages(&h), n), (b"BAC".to_vec(), 2));
        assert!(clean(&h));
        assert_eq!(le32(&h, 4), Some(6));
        assert_eq!(le32(&h, 40), Some(3 * PAGE as u32));
    }

    #[test]
    fn entries_continue_from_one_log_to_the_next() {
        let primary = hive(4, 3, b"AAA");
        let log1 = build_log(&primary, &[entry(3, 3, &[(0, b'B')])]);
        let log2 = build_log(&primary, &[entry(4, 3, &[(1, b'C')]), entry(5, 2, &[])]);
        let (h, n) = replay(&primary, &[log1, log2]).unwrap();
        assert_eq!((pages(&h), n), (b"BC".to_vec(), 3));
    }

    /// A torn entry (its hash wrong) ends the replay: the entries before
    /// it apply, it and the later ones do not.
    #[test]
    fn a_damaged_entry_ends_the_replay() {
        let primary = hive(4, 3, b"AA");
        let mut log = build_log(
            &primary,
            &[
                entry(3, 2, &[(0, b'B')]),
                entry(4, 2, &[(1, b'C')]),
                entry(5, 2, &[(0, b'D')]),
            ],
        );
        // The second entry's page: at 512 + one entry (512 + 4096 bytes)
        // + its header and reference.
        let second = LOG_BASE + SECTOR + PAGE;
        log[second + ENTRY_HEADER + 8 + 100] ^= 1;
        let (h, n) = replay(&primary, &[log]).unwrap();
        assert_eq!((pages(&h), n), (b"BA".to_vec(), 1));
    }

    #[test]
    fn missing_or_no_entries_are_refused() {
        let primary = hive(7, 6, b"AA");
        // Entries that start after the hive's number: some are missing.
        let log = build_log(&primary, &[entry(8, 2, &[(0, b'B')])]);
        let e = replay(&primary, &[log]).unwrap_err();
        assert!(e.contains("miss entries"), "{e}");
        // Only old entries.
        let log = build_log(&primary, &[entry(5, 2, &[(0, b'B')])]);
        let e = replay(&primary, &[log]).unwrap_err();
        assert!(e.contains("no log entry applies"), "{e}");
        // An old-format log is said to be one.
        let mut old = build_log(&primary, &[]);
        old[28] = 1;
        let sum = checksum(&old);
        old[0x1FC..0x200].copy_from_slice(&sum.to_le_bytes());
        let e = replay(&primary, &[old]).unwrap_err();
        assert!(e.contains("old-format"), "{e}");
    }

    /// A hive whose base block was torn (checksum wrong) takes the log's
    /// copy of it.
    #[test]
    fn a_torn_base_block_comes_from_the_log() {
        let good = hive(3, 3, b"AA");
        let log = build_log(&good, &[entry(3, 2, &[(1, b'C')])]);
        let mut primary = good.clone();
        primary[0x1FC] ^= 0xFF;
        let (h, n) = replay(&primary, &[log]).unwrap();
        assert_eq!((pages(&h), n), (b"AC".to_vec(), 1));
        assert!(clean(&h));
    }

    /// Entries that lie (sizes, counts, offsets past their bounds) end
    /// the walk; nothing is read or written out of bounds.
    #[test]
    fn hostile_entries_are_bounded() {
        let primary = hive(4, 3, b"AA");
        let good = build_log(&primary, &[entry(3, 2, &[(0, b'B')])]);
        let rehash = |log: &mut Vec<u8>| {
            let e = LOG_BASE;
            let size = le32(log, e + 4).unwrap() as usize;
            let h1 = marvin32(LOG_SEED, &log[e + ENTRY_HEADER..e + size]);
            log[e + 24..e + 32].copy_from_slice(&h1.to_le_bytes());
            let h2 = marvin32(LOG_SEED, &log[e..e + 32]);
            log[e + 32..e + 40].copy_from_slice(&h2.to_le_bytes());
        };
        let cases: [(usize, u32, &str); 6] = [
            (16, !4095, "bad hive bins size"), // bins past the cap
            (16, 0, "bad hive bins size"),
            (20, u32::MAX, "more dirty pages"), // page count
            (40, 8192, "past the hive bins"),   // page offset
            (44, 8192, "past the entry"),       // page size
            (4, 0x7FFF_FE00, "cut short"),      // entry size
        ];
        for (field, v, want) in cases {
            let mut log = good.clone();
            log[LOG_BASE + field..LOG_BASE + field + 4].copy_from_slice(&v.to_le_bytes());
            if field != 4 {
                rehash(&mut log);
            }
            let e = replay(&primary, &[log]).unwrap_err();
            assert!(e.contains(want), "field {field}: {e}");
        }
        // A truncated log: nothing applies, nothing read past its end.
        let e = replay(&primary, &[good[..good.len() - 1].to_vec()]).unwrap_err();
        assert!(e.contains("cut short"), "{e}");
    }
}
