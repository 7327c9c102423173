//! A STIX pattern from a stranger: parsed and turned into indicators or a
//! reason, within the parser's length and depth limits, never a panic or
//! a stack overflow.
#![no_main]
use libfuzzer_sys::fuzz_target;
use takedown_intel::stix::pattern;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(obs) = pattern::parse(text) {
            let _ = pattern::convert(&obs);
        }
        let _ = pattern::indicators(text);
    }
});
