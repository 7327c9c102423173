//! Hostile transaction logs of a dirty hive: the input is cut into a hive
//! and two logs (the first two bytes of each length prefix give the
//! hive's and the first log's lengths in KiB), then the hive is opened
//! with its logs replayed and every key read. Whatever cannot be
//! replayed or read is an error, never a panic or a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_persist::windows::hive::Hive;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_at_checked(4) else {
        return;
    };
    let kib = |b: &[u8]| usize::from(u16::from_le_bytes([b[0], b[1]])) * 1024;
    let (hive, rest) = rest.split_at(kib(&head[..2]).min(rest.len()));
    let (log1, log2) = rest.split_at(kib(&head[2..]).min(rest.len()));
    let Ok(mut h) = Hive::from_bytes(hive.to_vec(), vec![log1.to_vec(), log2.to_vec()]) else {
        return;
    };
    // Every key reachable from the root, bounded by the reader itself.
    let mut stack = vec![h.key("")];
    let mut seen = 0usize;
    while let Some(Some(k)) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            break;
        }
        let _ = k.values();
        let (subs, _) = h.subkeys(&k);
        stack.extend(subs.into_iter().map(Some));
    }
    let _ = h.problems();
});
