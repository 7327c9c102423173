//! Copies: content met again in the same run (or, in the service, the same
//! signature set).
//!
//! Real trees hold many identical files: a library installed under several
//! names, the same attachment in a hundred mailboxes, one DLL in every user
//! profile, a backup next to its original. YARA is by far the largest cost
//! of a scan, and a rule that reads only content gives a copy exactly what
//! it gave the first one. So the first scan of some content remembers the
//! YARA detections of those rules, by SHA-256; a copy runs only the rules
//! that read more than content (a path external, the time: see
//! [`crate::sigs::yara::CopyRules`]), with its own path, and takes the rest
//! from here. Hash and name IOCs and ClamAV signatures are matched on every
//! copy as before.
//!
//! The IOC digests (MD5, SHA-1, SHA-256) a copy needs are those of the first
//! copy, so they are remembered too: with Loki's hash IOCs, which have no
//! sizes, every file needs all three, and they cost about a fifth of YARA.
//!
//! Content is named by its BLAKE3 digest, computed for every object that
//! YARA scans: ~6 GB/s on one core, about 1% of the YARA scan it may save.
//! It has to be collision-resistant: MD5 and SHA-1 have practical
//! chosen-prefix collisions, so with those an attacker could give a
//! malicious file the digest of a harmless one scanned before it and
//! inherit its clean result.
//!
//! Only complete scans are remembered: one that timed out or failed is not.
//! Memory is bounded by [`MAX_ENTRIES`]; once full, new content is simply
//! not remembered.

use crate::digest::Digests;
use crate::finding::Detection;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Contents remembered at most: ~150 bytes each, so ~15 MB when full.
pub const MAX_ENTRIES: usize = 100_000;

/// Shards of the table, so that scanning threads rarely wait on each other.
const SHARDS: usize = 16;

/// What is remembered of one content.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seen {
    /// The IOC digests computed for it.
    pub digests: Digests,
    /// The detections of the rules that read only content, each with the
    /// index of its namespace (to merge with the rules run again in the
    /// order of the whole set); `None` when none matched.
    pub yara: Option<Arc<[(usize, Detection)]>>,
    /// The split rules (by index in
    /// [`crate::sigs::yara::CopyRules::splits`]) whose content part held,
    /// once a copy has been scanned with them; `None` before.
    pub content: Option<Arc<[u32]>>,
}

/// The name of content: its BLAKE3 digest.
pub type Key = [u8; 32];

/// The name of `data`.
pub fn key_of(data: &[u8]) -> Key {
    *blake3::hash(data).as_bytes()
}

/// Remembered results by content, shared by all scanning threads.
pub struct Copies {
    shards: Vec<Mutex<FxHashMap<Key, Seen>>>,
    len: AtomicUsize,
    max: usize,
    hits: AtomicU64,
    hit_bytes: AtomicU64,
}

impl Default for Copies {
    fn default() -> Self {
        Copies::with_capacity(MAX_ENTRIES)
    }
}

impl Copies {
    /// An empty table holding at most `max` contents.
    pub fn with_capacity(max: usize) -> Copies {
        Copies {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            len: AtomicUsize::new(0),
            max,
            hits: AtomicU64::new(0),
            hit_bytes: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &Key) -> &Mutex<FxHashMap<Key, Seen>> {
        &self.shards[key[0] as usize % SHARDS]
    }

    /// What was remembered for the content named `key` (`size` bytes, for
    /// the counters), if it was seen before.
    pub fn get(&self, key: &Key, size: u64) -> Option<Seen> {
        // A poisoned lock means a thread panicked while holding it; the
        // table is only ever inserted into, so what it holds is still whole.
        let found = self
            .shard(key)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            self.hit_bytes.fetch_add(size, Ordering::Relaxed);
        }
        found
    }

    /// Remembers the digests and content-only detections of the content
    /// named `key`, unless the table is full.
    pub fn insert(&self, key: Key, digests: Digests, detections: Vec<(usize, Detection)>) {
        if self.len.load(Ordering::Relaxed) >= self.max {
            return;
        }
        let value = Seen {
            digests,
            yara: (!detections.is_empty()).then(|| Arc::from(detections)),
            content: None,
        };
        let mut shard = self.shard(&key).lock().unwrap_or_else(|e| e.into_inner());
        if shard.insert(key, value).is_none() {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Remembers which content parts of split rules held for the content
    /// named `key` (already remembered).
    pub fn set_content(&self, key: &Key, held: Vec<u32>) {
        let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(seen) = shard.get_mut(key) {
            seen.content = Some(Arc::from(held));
        }
    }

    /// Contents remembered.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies met so far, and their bytes.
    pub fn hits(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.hit_bytes.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::EngineKind;

    fn det(name: &str) -> Detection {
        Detection {
            engine: EngineKind::Yara,
            name: name.into(),
            score: 75,
            tags: Vec::new(),
            metadata: Default::default(),
            source: "r.yar".into(),
        }
    }

    #[test]
    fn remembers_by_content_and_counts_copies() {
        let c = Copies::default();
        let (a, b) = (key_of(b"a"), key_of(b"b"));
        assert_ne!(a, b);
        assert!(c.get(&a, 10).is_none());
        let digests = Digests::of(b"a", crate::digest::Algorithms::ALL);
        c.insert(a, digests.clone(), vec![(3, det("a"))]);
        c.insert(b, Digests::default(), Vec::new());
        assert_eq!(c.len(), 2);
        let hit = c.get(&a, 10).unwrap();
        assert_eq!(hit.digests, digests);
        let yara = hit.yara.unwrap();
        assert_eq!(yara[0].0, 3);
        assert_eq!(yara[0].1.name, "a");
        // Clean content is remembered as clean, not as unseen.
        assert_eq!(c.get(&b, 5), Some(Seen::default()));
        assert_eq!(c.hits(), (2, 15));
        // What the content parts gave is added to what is there.
        c.set_content(&a, vec![4, 9]);
        let hit = c.get(&a, 10).unwrap();
        assert_eq!(hit.content.as_deref(), Some(&[4, 9][..]));
        assert_eq!(hit.digests, digests);
        c.set_content(&key_of(b"unseen"), vec![1]);
        assert!(c.get(&key_of(b"unseen"), 1).is_none());
        // BLAKE3 of the empty input (its published test vector).
        assert_eq!(
            hex::encode(key_of(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn full_table_remembers_nothing_new() {
        let c = Copies::with_capacity(2);
        c.insert([1; 32], Digests::default(), Vec::new());
        c.insert([2; 32], Digests::default(), Vec::new());
        c.insert([3; 32], Digests::default(), vec![(0, det("x"))]);
        assert_eq!(c.len(), 2);
        assert!(c.get(&[3; 32], 1).is_none());
        // The same content again does not count twice.
        c.insert([1; 32], Digests::default(), Vec::new());
        assert_eq!(c.len(), 2);
    }
}
