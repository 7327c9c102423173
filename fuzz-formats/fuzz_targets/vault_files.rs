//! The vault's readers on damaged files: the journal (read at every start
//! after a crash), a pack of items, and encrypted content. Each
//! must return an error, never panic or allocate from a bad length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use takedown_vault::{crypt, item, journal};

fuzz_target!(|data: &[u8]| {
    let _ = journal::parse(data);
    let _ = item::parse_pack(data);
    static KEY: OnceLock<crypt::Key> = OnceLock::new();
    let key = KEY.get_or_init(|| crypt::Key::from_bytes(&[7u8; 32]).expect("32 bytes"));
    let mut out = Vec::new();
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    let _ = crypt::decrypt(key, "id", &mut &data[..], &mut out, &mut h);
});
