//! A `.json` signature file from a stranger: recognised (STIX bundle or
//! MISP event) and read into indicators. Any bytes must give indicators,
//! skips or an error, never a panic; every indicator must be normalised
//! (reading its value again gives the same value).
#![no_main]
use libfuzzer_sys::fuzz_target;
use takedown_intel::{ReadOptions, json, model};

fuzz_target!(|data: &[u8]| {
    let _ = json::sniff(data);
    let opts = ReadOptions {
        source: "fuzz.json".into(),
        now: time::OffsetDateTime::UNIX_EPOCH,
    };
    if let Ok((_, loaded)) = json::read(data, &opts) {
        for i in &loaded.indicators {
            if !matches!(i.kind, model::Kind::Yara | model::Kind::FileName) {
                assert_eq!(
                    model::normalise(i.kind, &i.value).as_deref(),
                    Ok(i.value.as_str())
                );
            }
        }
    }
});
