//! Hostile pcap and pcapng captures: every packet read until the end or
//! an error; a panic, a hang or an unbounded allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_netlog::event::Event;
use takedown_netlog::pcap::Capture;

fuzz_target!(|data: &[u8]| {
    let Ok(mut cap) = Capture::new(data) else {
        return;
    };
    let mut ev = Event::default();
    // Each call consumes input or ends; the bound guards against a reader
    // that stops consuming.
    for _ in 0..1_000_000 {
        match cap.next(&mut ev) {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
