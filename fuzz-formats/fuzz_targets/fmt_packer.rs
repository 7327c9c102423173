//! Fuzz target: the packers unpacked by running their stub (ASPack, MEW,
//! Petite, PESpin, Upack, WWPack32, yC), called directly (whatever
//! `identify` says). Any input must end without a panic, within the limits
//! (small ones here) and the emulator's own bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    takedown_formats::fuzzing::extract_all(takedown_formats::Format::PackerStub, data);
});
