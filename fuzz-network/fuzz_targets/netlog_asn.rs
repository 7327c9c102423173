//! Hostile IP-to-ASN tables (pyasn format): bad lines are reported, a
//! panic is not; every address looked up in what was read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use takedown_netlog::asn::AsnDb;

fuzz_target!(|data: &[u8]| {
    let Ok((db, _bad)) = AsnDb::read(data, "fuzz") else {
        return;
    };
    for a in [
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V4(Ipv4Addr::BROADCAST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    ] {
        let _ = db.lookup(a);
    }
});
