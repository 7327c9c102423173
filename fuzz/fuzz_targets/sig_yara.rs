//! YARA rule files are hostile input too: compiling any bytes must report
//! errors with a line inside the file, never panic; cutting out the rules
//! that copies run again, and the set without the rules needing `MZ`, must
//! never panic either, nor yield a rule the whole set does not have.
#![no_main]
use libfuzzer_sys::fuzz_target;
use takedown_engine::sigs::SourceId;
use takedown_engine::sigs::yara::{YaraSource, compile};

fuzz_target!(|data: &[u8]| {
    // The loader refuses such files before compiling, as yara-x would
    // overflow its stack on them.
    if takedown_engine::sigs::yara::too_deep(data).is_some() {
        return;
    }
    let sources = [YaraSource {
        id: SourceId(0),
        origin: "fuzz.yar".into(),
        code: data.to_vec(),
    }];
    let mut issues = Vec::new();
    let rules = compile(&sources, None, &mut issues);
    // The rules for copies and the set without the rules needing MZ are
    // cut out of the same hostile text.
    if let Some(mut rules) = rules {
        rules.prepare(&sources, None, true);
        if let Some(without) = &rules.without_mz {
            for r in without.iter() {
                assert!(
                    rules
                        .rules
                        .iter()
                        .any(|w| w.identifier() == r.identifier() && w.namespace() == r.namespace()),
                    "rule {} without MZ is not in the whole set",
                    r.identifier()
                );
            }
        }
        if let Some(copies) = &rules.copies {
            for (ns, name) in &copies.rerun {
                assert!(
                    rules
                        .rules
                        .iter()
                        .any(|r| r.identifier() == name.as_str()
                            && r.namespace() == format!("n{ns}")),
                    "rule {name} for copies is not in the whole set"
                );
            }
        }
    }
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    for issue in issues {
        if let Some(l) = issue.line {
            assert!(l >= 1 && l <= lines, "line {l} outside a {lines}-line file");
        }
    }
});
