//! Findings NDJSON from another machine (`intel export` input): every line
//! is a finding, a summary or an error naming the line; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use takedown_intel::records;

fuzz_target!(|data: &[u8]| {
    let (run, errors) = records::read_run(data, "fuzz.ndjson");
    for e in &errors {
        assert!(e.line >= 1);
    }
    let _ = run.started();
    let _ = run.finished();
});
