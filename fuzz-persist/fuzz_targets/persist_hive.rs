//! Hostile registry hives: read as SOFTWARE, SYSTEM and NTUSER.DAT at
//! once; whatever cannot be read is a problem, never a panic or a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_persist::windows::registry;

fuzz_target!(|data: &[u8]| {
    let _ = registry::entries_of_hive_bytes(data);
    let _ = registry::decode_actions(data);
});
