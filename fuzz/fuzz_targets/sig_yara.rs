//! YARA rule files are hostile input too: compiling any bytes must report
//! errors with a line inside the file, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use takedown_engine::sigs::SourceId;
use takedown_engine::sigs::yara::{YaraSource, compile};

fuzz_target!(|data: &[u8]| {
    let sources = [YaraSource {
        id: SourceId(0),
        origin: "fuzz.yar".into(),
        code: data.to_vec(),
    }];
    let mut issues = Vec::new();
    let _ = compile(&sources, None, &mut issues);
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    for issue in issues {
        if let Some(l) = issue.line {
            assert!(l >= 1 && l <= lines, "line {l} outside a {lines}-line file");
        }
    }
});
