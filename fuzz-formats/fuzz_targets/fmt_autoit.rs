//! Fuzz target: the AutoIt compiled-script unpacker, called directly
//! (whatever `identify` says). Any input must end without a panic, within
//! the limits (small ones here, so that the fuzzer explores structure
//! rather than spending its time expanding).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    takedown_formats::fuzzing::extract_all(takedown_formats::Format::AutoIt, data);
});
