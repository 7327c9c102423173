//! Every DGA variant built from arbitrary seeds and configurations (what
//! `--seed` and `--config FILE` hand it), then run for an arbitrary date:
//! an error is fine, a panic or a hang is not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_dga::{Spec, families};
use time::Date;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    // Two bytes pick a date between 1970 and about 2149, one picks the
    // variant, the rest is the seed or (when it parses) the configuration.
    let day = u16::from_le_bytes([data[0], data[1]]) as i32;
    let Ok(date) = Date::from_julian_day(2_440_588 + day) else {
        return;
    };
    let variants: Vec<_> = families().iter().flat_map(|f| f.variants.iter()).collect();
    if variants.is_empty() {
        return;
    }
    let v = variants[data[2] as usize % variants.len()];
    let rest = &data[3..];
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let config: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let spec = match &config {
        Some(c) => Spec {
            seed: None,
            config: Some(c),
        },
        None => Spec {
            seed: Some(text),
            config: None,
        },
    };
    if let Ok(dga) = (v.build)(&spec) {
        let mut out = Vec::new();
        dga.generate(date, &mut out);
        let _ = dga.period(date);
        for d in &out {
            assert!(!d.is_empty() && d.len() <= 253, "{d:?}");
        }
    }
});
