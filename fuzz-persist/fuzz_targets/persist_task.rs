//! Hostile scheduled-task XML (entities, depth, encodings): bounded,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_persist::windows::tasks;

fuzz_target!(|data: &[u8]| {
    let _ = tasks::parse_task(data);
});
