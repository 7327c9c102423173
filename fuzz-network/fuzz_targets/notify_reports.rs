//! Hostile sinkhole reports (Shadowserver CSV, IntelMQ NDJSON, hunt
//! sightings, gzip of any): rows that cannot be read are errors with a
//! line, a panic is not; every event has an address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_notify::report;

fuzz_target!(|data: &[u8]| {
    // The first byte picks a file name: it is a hint to the report type.
    let (name, body) = match data.split_first() {
        Some((b, rest)) => (
            match b % 4 {
                0 => "2026-12-05-event4_sinkhole-xx.csv",
                1 => "2026-12-05-botnet_drone-xx.csv",
                2 => "events.json",
                _ => "report",
            },
            rest,
        ),
        None => ("report", data),
    };
    let mut events = 0u64;
    let mut errors = 0u64;
    let r = report::read(
        body,
        name,
        &mut |e| {
            assert!(e.ip.is_some(), "an event without an address");
            events += 1;
        },
        &mut |e| {
            assert!(e.line >= 1, "a row error without a line");
            errors += 1;
        },
    );
    if let Ok(st) = r {
        assert_eq!(st.events, events);
        assert_eq!(st.errors, errors);
    }
});
