//! An RFC 3161 answer (TimeStampResp or bare token, DER) as a TSA or a
//! package gives it: parsed, its CMS signature and certificate chain
//! checked against a CA file that is also input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first part is the token, the rest the CA file (PEM).
    let (tsr, ca) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let _ = takedown_evidence::tsa::check(tsr, b"covered data", ca);
    let _ = takedown_evidence::tsa::certificates_pem(tsr);
});
