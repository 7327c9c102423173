//! Hostile contact sources: RIPE-format dumps, overrides CSV, RIR
//! delegated statistics and MaxMind databases. Bad lines and objects are
//! problems, a panic is not; lookups in what was read never fail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use takedown_notify::contacts::Contacts;
use takedown_notify::contacts::mmdb::Mmdb;
use takedown_notify::contacts::rirstats::RirStatsBuilder;

fuzz_target!(|data: &[u8]| {
    let addrs = [
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpAddr::V4(Ipv4Addr::BROADCAST),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    ];
    // One input, read as a dump then as overrides (split at a 0xff byte:
    // each half of the input feeds one reader).
    let (a, b) = match data.iter().position(|&x| x == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let mut builder = Contacts::builder();
    let _ = builder.ripe_dump_from(a, "dump");
    let _ = builder.overrides_from(b, "overrides");
    let contacts = builder.build();
    for ip in addrs {
        for asn in [None, Some(64500), Some(u32::MAX)] {
            let _ = contacts.lookup(ip, asn, Some("DE"));
            let _ = contacts.lookup(ip, asn, Some("\u{0}\u{0}"));
        }
    }
    let mut stats = RirStatsBuilder::new();
    if stats.read_from(data, "stats").is_ok() {
        let (stats, _) = stats.build();
        for ip in addrs {
            let _ = stats.country(ip);
        }
    }
    if let Ok((db, _)) = Mmdb::from_bytes(data.to_vec(), "db") {
        for ip in addrs {
            let _ = db.asn(ip);
            let _ = db.country(ip);
        }
    }
});
