//! Hostile shortcuts (.lnk): bounded, never a panic; a target when one
//! is found.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_persist::windows::startup;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = startup::parse_lnk(data) {
        let _ = s.target_path();
        let _ = s.command();
    }
});
