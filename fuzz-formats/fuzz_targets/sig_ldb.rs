//! Fuzz target: the ClamAV .ldb loader. Any bytes must load without a panic,
//! every line counted (loaded, malformed or unsupported), and the result
//! must compile and scan its own input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_clamav::{Database, Kind, ScanInput};

fuzz_target!(|data: &[u8]| {
    let mut db = Database::new();
    let r = db.load("fuzz.ldb", Kind::Ldb, data);
    assert!(r.issues.len() <= takedown_clamav::MAX_ISSUES);
    let sigs = db.finish();
    let _ = sigs.scan(&ScanInput { data, target: None });
});
