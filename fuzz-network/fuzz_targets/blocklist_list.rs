//! An indicator list and an allow list made of arbitrary bytes, decided
//! into a plan and written in every format: rejected lines are fine, a
//! panic is not, and every format's output stays line-structured (no name
//! can smuggle a newline or a quote into a zone, a rule or a config).
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_blocklist::allow::AllowList;
use takedown_blocklist::format::{self, Format, FormatOptions};
use takedown_blocklist::Builder;

const FORMATS: [Format; 7] = [
    Format::Rpz,
    Format::Unbound,
    Format::Dnsmasq,
    Format::Hosts,
    Format::Suricata,
    Format::SuricataDataset,
    Format::ZeekIntel,
];

fuzz_target!(|data: &[u8]| {
    // The first half (up to a NUL) is the allow list, the rest the
    // indicator list, so both readers see hostile bytes.
    let (allow_bytes, list_bytes) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let mut allow = AllowList::new();
    let _ = allow.read(allow_bytes, "allow", &mut |_| {});
    let mut b = Builder::new();
    let _ = b.read_list(list_bytes, "list", &mut |_| {});
    let plan = b.finish(&allow, false);
    let opts = FormatOptions {
        zone: "rpz.fuzz".into(),
        serial: 1,
        sinkhole: None,
        sid_base: 1_000_000,
        dataset: "fuzz".into(),
    };
    for f in FORMATS {
        let mut out = Vec::new();
        if format::write(&plan, f, &opts, &mut out).is_ok() {
            for line in out.split(|b| *b == b'\n') {
                assert!(!line.contains(&b'\r') && !line.contains(&0), "{f:?}");
            }
        }
    }
});
