//! Sorted tables of disjoint address ranges, built once from ranges that
//! may nest (and, in hostile input, overlap), looked up with one binary
//! search.
//!
//! Why not a crate: the RIPE database's `inetnum` ranges are not CIDR
//! aligned (`192.0.2.0 - 192.0.2.99` is a valid object), so prefix-trie
//! crates (`ip_network_table`, `iprange`, `treebitmap`) would have to cut
//! each range into up to 62 prefixes and lose which object they came
//! from. A flattened range table answers "the smallest range that contains
//! this address" for any ranges, costs two machine words per disjoint
//! segment, and a lookup is about 22 steps of `partition_point` over a
//! contiguous array for a full RIPE dump (millions of lookups per second
//! per core).
//!
//! Flattening is a sweep over the range boundaries with a heap of the
//! ranges that contain the current position, ordered by size: the
//! smallest range containing a point wins (ties: the range listed last).
//! The winner only changes where a range starts or where the current
//! winner ends, so the sweep emits at most `2n + 1` segments in
//! O(n log n), whatever the input (nested, disjoint or crossing).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// "No value" in a table: a gap between ranges.
pub(crate) const NONE: u32 = u32::MAX;

/// An address as an unsigned integer: `u32` for IPv4, `u128` for IPv6.
pub(crate) trait Key: Copy + Ord + std::fmt::Debug {
    /// The first address.
    const ZERO: Self;
    /// `self - other` (`other <= self`).
    fn minus(self, other: Self) -> Self;
    /// `self + 1`, `None` at the last address.
    fn next(self) -> Option<Self>;
    /// The top 16 bits: the bucket of the lookup index.
    fn bucket(self) -> usize;
    /// The first address of bucket `b` (`b < 65536`).
    fn bucket_start(b: usize) -> Self;
}

impl Key for u32 {
    const ZERO: u32 = 0;
    fn minus(self, other: u32) -> u32 {
        self - other
    }
    fn next(self) -> Option<u32> {
        self.checked_add(1)
    }
    fn bucket(self) -> usize {
        (self >> 16) as usize
    }
    fn bucket_start(b: usize) -> u32 {
        (b as u32) << 16
    }
}

impl Key for u128 {
    const ZERO: u128 = 0;
    fn minus(self, other: u128) -> u128 {
        self - other
    }
    fn next(self) -> Option<u128> {
        self.checked_add(1)
    }
    fn bucket(self) -> usize {
        (self >> 112) as usize
    }
    fn bucket_start(b: usize) -> u128 {
        (b as u128) << 112
    }
}

/// The host bits of an IPv4 prefix of `len` bits (`len <= 32`; a longer
/// one has none).
pub(crate) fn host_mask4(len: u32) -> u32 {
    u32::MAX.checked_shr(len).unwrap_or(0)
}

/// The same for IPv6 (`len <= 128`).
pub(crate) fn host_mask6(len: u32) -> u128 {
    u128::MAX.checked_shr(len).unwrap_or(0)
}

/// Buckets of the lookup index: one per value of the top 16 bits.
const BUCKETS: usize = 1 << 16;

/// Below this many segments a plain binary search is as fast as the
/// index, which is then not built.
const MIN_INDEXED: usize = 4096;

/// Disjoint segments covering the whole address space from the first
/// range's start: `starts[i]` is where segment `i` begins, `vals[i]` the
/// value it maps to ([`NONE`] in gaps). Segment `i` ends where `i + 1`
/// begins.
///
/// `index[b]` is the number of segments starting before bucket `b` (the
/// addresses whose top 16 bits are `b`), so a lookup searches only the
/// segments starting in its own bucket: with a million ranges a bucket
/// holds a few dozen, the search stays in one or two cache lines instead
/// of twenty scattered ones (256 KiB per table, built only for tables of
/// [`MIN_INDEXED`] segments or more).
#[derive(Clone, Debug, Default)]
pub(crate) struct RangeTable<K> {
    starts: Vec<K>,
    vals: Vec<u32>,
    index: Vec<u32>,
}

impl<K: Key> RangeTable<K> {
    /// Builds the table from closed ranges `(start, end, value)`
    /// (`start <= end`, checked by the callers); the smallest range
    /// containing an address gives its value, the later one among ranges
    /// of the same size.
    pub(crate) fn build(ranges: &[(K, K, u32)]) -> RangeTable<K> {
        let mut order: Vec<u32> = (0..ranges.len() as u32).collect();
        // Stable: equal starts keep their input order.
        order.sort_by_key(|&i| ranges[i as usize].0);
        let mut starts: Vec<K> = Vec::with_capacity(ranges.len() + ranges.len() / 2 + 1);
        let mut vals: Vec<u32> = Vec::with_capacity(starts.capacity());
        let push = |starts: &mut Vec<K>, vals: &mut Vec<u32>, at: K, val: u32| {
            if vals.last() == Some(&val) {
                return;
            }
            if starts.last() == Some(&at) {
                // A zero-length segment (cannot happen with the sweep
                // below, kept as a guard): the later value wins.
                if let Some(v) = vals.last_mut() {
                    *v = val;
                }
                return;
            }
            starts.push(at);
            vals.push(val);
        };
        // Max-heap of (Reverse(size), index): the top is the smallest
        // range, the latest one among equals.
        let mut heap: BinaryHeap<(Reverse<K>, u32)> = BinaryHeap::new();
        let mut next = 0usize;
        let Some(&first) = order.first() else {
            return RangeTable {
                starts,
                vals,
                index: Vec::new(),
            };
        };
        let mut cur = ranges[first as usize].0;
        if cur != K::ZERO {
            push(&mut starts, &mut vals, K::ZERO, NONE);
        }
        loop {
            while let Some(&i) = order.get(next) {
                let (s, e, _) = ranges[i as usize];
                if s != cur {
                    break;
                }
                heap.push((Reverse(e.minus(s)), i));
                next += 1;
            }
            // Drop the ranges that ended before `cur`.
            while let Some(&(_, i)) = heap.peek() {
                if ranges[i as usize].1 < cur {
                    heap.pop();
                } else {
                    break;
                }
            }
            let next_start = order.get(next).map(|&i| ranges[i as usize].0);
            match heap.peek() {
                Some(&(_, i)) => {
                    let (_, end, val) = ranges[i as usize];
                    push(&mut starts, &mut vals, cur, val);
                    // The winner changes where it ends or where a range
                    // starts, whichever comes first.
                    let after = end.next();
                    cur = match (after, next_start) {
                        (Some(a), Some(n)) => a.min(n),
                        (Some(a), None) => a,
                        (None, Some(n)) => n,
                        (None, None) => break,
                    };
                }
                None => match next_start {
                    Some(n) => {
                        push(&mut starts, &mut vals, cur, NONE);
                        cur = n;
                    }
                    None => {
                        push(&mut starts, &mut vals, cur, NONE);
                        break;
                    }
                },
            }
        }
        starts.shrink_to_fit();
        vals.shrink_to_fit();
        let mut index = Vec::new();
        if starts.len() >= MIN_INDEXED {
            index.reserve_exact(BUCKETS + 1);
            let mut i = 0usize;
            for b in 0..BUCKETS {
                let first = K::bucket_start(b);
                while i < starts.len() && starts[i] < first {
                    i += 1;
                }
                index.push(i as u32);
            }
            index.push(starts.len() as u32);
        }
        RangeTable {
            starts,
            vals,
            index,
        }
    }

    /// The value of the smallest range containing `x`.
    #[inline]
    pub(crate) fn get(&self, x: K) -> Option<u32> {
        let i = if self.index.is_empty() {
            self.starts.partition_point(|&s| s <= x)
        } else {
            // Every segment before `lo` starts before x's bucket, every
            // one from `hi` on after it.
            let b = x.bucket();
            let lo = *self.index.get(b)? as usize;
            let hi = *self.index.get(b + 1)? as usize;
            lo + self.starts.get(lo..hi)?.partition_point(|&s| s <= x)
        };
        let v = *self.vals.get(i.checked_sub(1)?)?;
        (v != NONE).then_some(v)
    }

    /// Number of segments (gaps included).
    #[cfg(test)]
    pub(crate) fn segments(&self) -> usize {
        self.starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest covering range by brute force, ties to the later one.
    fn brute(ranges: &[(u32, u32, u32)], x: u32) -> Option<u32> {
        let mut best: Option<(u32, usize)> = None;
        for (i, &(s, e, _)) in ranges.iter().enumerate() {
            if s <= x && x <= e {
                let size = e - s;
                match best {
                    Some((b, _)) if b < size => {}
                    _ => best = Some((size, i)),
                }
            }
        }
        best.map(|(_, i)| ranges[i].2)
    }

    #[test]
    fn nested_disjoint_and_gaps() {
        let r = [
            (10, 100, 1),
            (20, 29, 2),
            (25, 26, 3),
            (50, 60, 4),
            (200, 300, 5),
        ];
        let t = RangeTable::build(&r);
        for x in 0..400 {
            assert_eq!(t.get(x), brute(&r, x), "at {x}");
        }
    }

    #[test]
    fn edges_of_the_space() {
        let r = [(0, u32::MAX, 1), (u32::MAX - 1, u32::MAX, 2), (0, 0, 3)];
        let t = RangeTable::build(&r);
        assert_eq!(t.get(0), Some(3));
        assert_eq!(t.get(1), Some(1));
        assert_eq!(t.get(u32::MAX - 2), Some(1));
        assert_eq!(t.get(u32::MAX - 1), Some(2));
        assert_eq!(t.get(u32::MAX), Some(2));
        let r6 = [(u128::MAX, u128::MAX, 7)];
        let t6 = RangeTable::build(&r6);
        assert_eq!(t6.get(u128::MAX), Some(7));
        assert_eq!(t6.get(u128::MAX - 1), None);
        assert_eq!(t6.get(0), None);
    }

    #[test]
    fn empty_table() {
        let t: RangeTable<u32> = RangeTable::build(&[]);
        assert_eq!(t.get(0), None);
        assert_eq!(t.get(u32::MAX), None);
        assert_eq!(t.segments(), 0);
    }

    #[test]
    fn same_range_twice_keeps_the_later() {
        let t = RangeTable::<u32>::build(&[(5, 9, 1), (5, 9, 2)]);
        assert_eq!(t.get(7), Some(2));
    }

    /// Large enough for the bucket index, on both key types: the index
    /// changes no answer.
    #[test]
    fn indexed_lookups_match_plain_search() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut r4 = Vec::new();
        let mut r6 = Vec::new();
        for v in 0..20_000u32 {
            let s = rnd() as u32;
            let e = s.saturating_add((rnd() % 5_000_000) as u32);
            r4.push((s, e, v));
            let s6 = u128::from(rnd()) << 64;
            r6.push((s6, s6 + (u128::from(rnd() % 1000) << 64), v));
        }
        let t4 = RangeTable::build(&r4);
        let t6 = RangeTable::build(&r6);
        assert!(!t4.index.is_empty() && !t6.index.is_empty());
        let plain4 = RangeTable {
            starts: t4.starts.clone(),
            vals: t4.vals.clone(),
            index: Vec::new(),
        };
        let plain6 = RangeTable {
            starts: t6.starts.clone(),
            vals: t6.vals.clone(),
            index: Vec::new(),
        };
        for _ in 0..200_000 {
            let x = rnd() as u32;
            assert_eq!(t4.get(x), plain4.get(x), "{x}");
            let y = u128::from(rnd()) << 64 | u128::from(rnd());
            assert_eq!(t6.get(y), plain6.get(y), "{y}");
        }
        for &(s, e, _) in r4.iter().take(2000) {
            for x in [s, e, s.wrapping_sub(1), e.wrapping_add(1)] {
                assert_eq!(t4.get(x), plain4.get(x), "{x}");
            }
        }
        assert_eq!(t4.get(0), plain4.get(0));
        assert_eq!(t4.get(u32::MAX), plain4.get(u32::MAX));
        assert_eq!(t6.get(u128::MAX), plain6.get(u128::MAX));
    }

    /// Seeded random ranges (nested, crossing, duplicated) against brute
    /// force: the sweep handles any input, not only the nesting RIPE
    /// promises.
    #[test]
    fn random_ranges_match_brute_force() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200 {
            let n = (rnd() % 30) as usize;
            let mut r = Vec::new();
            for v in 0..n {
                let s = (rnd() % 500) as u32;
                let len = (rnd() % 120) as u32;
                r.push((s, s + len, v as u32));
            }
            let t = RangeTable::build(&r);
            assert!(t.segments() <= 2 * n + 2, "round {round}");
            for x in 0..700 {
                assert_eq!(t.get(x), brute(&r, x), "round {round} at {x}: {r:?}");
            }
        }
    }
}
