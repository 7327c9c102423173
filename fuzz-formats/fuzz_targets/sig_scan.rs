//! Fuzz target: arbitrary signatures over arbitrary data. The input is
//! split at the first 0xff byte: before it, .ndb and .ldb lines (the same
//! text loaded as both); after it, the data scanned (as sniffed, and as a
//! PE / ASCII file).
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_clamav::{Database, Kind, ScanInput, TargetType};

fuzz_target!(|data: &[u8]| {
    let cut = data.iter().position(|b| *b == 0xff).unwrap_or(data.len());
    let (sigs, scanned) = (&data[..cut], data.get(cut + 1..).unwrap_or(&[]));
    let mut db = Database::new();
    db.load("fuzz.ndb", Kind::Ndb, sigs);
    db.load("fuzz.ldb", Kind::Ldb, sigs);
    let db = db.finish();
    for target in [None, Some(TargetType::Pe), Some(TargetType::Ascii)] {
        let _ = db.scan(&ScanInput {
            data: scanned,
            target,
        });
    }
});
