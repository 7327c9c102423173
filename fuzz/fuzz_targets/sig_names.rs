//! File-name IOC parser: hostile regexes must be rejected or bounded (size
//! limits), never panic, and the set must answer for any path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use takedown_engine::sigs::SourceId;
use takedown_engine::sigs::names::{NameIndex, parse_loki};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut index = NameIndex::default();
    let mut issues = Vec::new();
    parse_loki(
        &text,
        SourceId(0),
        "filename-iocs.txt",
        &mut index,
        &mut issues,
    );
    if index.finish().is_ok() {
        let _ = index.matches(data).count();
        let _ = index.matches(b"/windows/temp/x.exe").count();
    }
});
