//! File-name IOC parser: hostile regexes must be rejected or bounded (size
//! limits), never panic, and the prefiltered match must equal running
//! every regex.
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
        // The literal prefilter must never change the answer.
        for path in [
            data,
            b"/windows/temp/x.exe".as_slice(),
            b"/users/u/appdata/roaming/a.dll",
        ] {
            let fast: Vec<_> = index
                .matches(path)
                .iter()
                .map(|e| e.regex.as_str())
                .collect();
            let slow: Vec<_> = index
                .matches_brute_force(path)
                .iter()
                .map(|e| e.regex.as_str())
                .collect();
            assert_eq!(fast, slow);
        }
    }
});
