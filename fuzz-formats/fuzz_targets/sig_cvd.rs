//! Fuzz target: .cvd/.cld/.cud containers (header, MD5, signature, tar,
//! gzip). The first byte picks the flavour; the rest is the container. A
//! valid header and MD5 are written over the input half the time so that
//! the fuzzer reaches the unpacker.
#![no_main]

use libfuzzer_sys::fuzz_target;
use md5::{Digest, Md5};
use takedown_clamav::cvd::{self, Flavour};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let flavour = match first % 3 {
        0 => Flavour::Cvd,
        1 => Flavour::Cld,
        _ => Flavour::Cud,
    };
    if first & 0x80 != 0 {
        let md5 = hex::encode(Md5::digest(rest));
        let mut c = format!("ClamAV-VDB:t:1:1:90:{md5}:X:fuzz:0").into_bytes();
        c.resize(cvd::HEADER_LEN, b' ');
        c.extend_from_slice(rest);
        let _ = cvd::unpack(&c, flavour);
    } else {
        let _ = cvd::unpack(rest, flavour);
    }
});
