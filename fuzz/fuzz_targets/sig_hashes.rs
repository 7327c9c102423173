//! Hash IOC and allow-list parsers (Loki, ClamAV .hdb/.hsb/.fp/.sfp): any
//! bytes must load or be reported, never panic; whatever loaded must be
//! consistent with the index's own size gate.
#![no_main]
use libfuzzer_sys::fuzz_target;
use takedown_engine::digest::{Algorithms, Digests};
use takedown_engine::sigs::SourceId;
use takedown_engine::sigs::hashes::{HashIndexBuilder, parse_clamav, parse_loki};

fuzz_target!(|data: &[u8]| {
    let mut index = HashIndexBuilder::default();
    let mut issues = Vec::new();
    parse_loki(data, SourceId(0), "fuzz.txt", &mut index, &mut issues);
    // The digest is told by each line's hash length, whatever the file's
    // extension.
    parse_clamav(data, SourceId(1), "fuzz.hdb", &mut index, &mut issues);
    let index = index.finish();
    let size = data.len() as u64;
    let digests = Digests::of(data, Algorithms::ALL);
    for hit in index.lookup(&digests, size) {
        assert!(hit.size.is_none_or(|s| s == size));
    }
    for issue in &issues {
        assert!(issue.line.is_some());
    }
});
