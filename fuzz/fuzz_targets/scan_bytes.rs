//! The whole per-object scan over arbitrary content (file-type sniffing,
//! hashing, YARA with externals, the allow-list), with the built-in pack.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use takedown_engine::scan::{ObjectScanner, ScanOptions};
use takedown_engine::sigs::{LoadOptions, SignatureSet};

fuzz_target!(|data: &[u8]| {
    static SIGS: OnceLock<SignatureSet> = OnceLock::new();
    let sigs = SIGS.get_or_init(|| {
        SignatureSet::load(&LoadOptions {
            builtin: true,
            ..Default::default()
        })
        .unwrap()
    });
    let _ = takedown_engine::filetype::detect(data);
    let mut scanner = ObjectScanner::new(
        sigs,
        ScanOptions {
            max_filesize: 1 << 20,
            ..Default::default()
        },
    );
    let out = scanner.scan_reader("fuzz", &mut &data[..]);
    if !out.finding.detections.is_empty() {
        assert!(out.finding.sha256.is_some());
    }
});
