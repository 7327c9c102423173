//! Fuzz target: the structural heuristics of `--heuristics` over any
//! input: the overlapping-zip check, the broken-PE check, and the
//! nested-packer count over whatever `identify` names. Any input must end
//! without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_formats::heuristics as h;

fuzz_target!(|data: &[u8]| {
    let _ = h::zip_overlap(data, 200);
    let _ = h::broken_executable(data);
    let format = takedown_formats::identify(data);
    let run = h::packer_run(2, format);
    let _ = h::nested_packers(run, 2, format);
});
