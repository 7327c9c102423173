//! The signature bundle reader on hostile input: header, manifest (JSON
//! and its rules: paths, sizes, order), signature and file contents. Any
//! input must end in an error or a checked bundle, never a panic or an
//! allocation from a claimed length. Unsigned bundles are accepted here so
//! that the fuzzer reaches the file reader; the signed path is reached by
//! a seed signed with the fixed key below.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_bundle::format::{self, Trust};

fuzz_target!(|data: &[u8]| {
    let _ = format::peek(&mut &data[..]);
    let key = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let trust = Trust {
        keys: vec![key.verifying_key()],
        allow_unsigned: true,
        origin: "fuzz".into(),
    };
    if let Ok(opened) = format::open(data, &trust) {
        let _ = opened.verify_files();
    }
});
