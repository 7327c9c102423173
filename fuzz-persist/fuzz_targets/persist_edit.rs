//! Hostile hives given to the hive editor with a few fixed edits of each
//! kind: an error or a hive that opens again, never a panic or a hang.
//! Each input is also tried with its base block made clean (sequence
//! numbers equal, checksum right), so the fuzzer reaches the bins and
//! cells rather than stopping at the header check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_persist::windows::edit::{HiveEdit, apply};
use takedown_persist::windows::hive::Hive;

fn edits() -> Vec<HiveEdit> {
    let s = |x: &str| x.to_string();
    vec![
        HiveEdit::DeleteKey { key: s(r"A\B") },
        HiveEdit::DeleteValue {
            key: s("A"),
            value: s("V"),
        },
        HiveEdit::DeleteValue {
            key: s(""),
            value: s(""),
        },
        HiveEdit::RemoveListItem {
            key: s("A"),
            value: s("L"),
            item: s("x"),
        },
        HiveEdit::RemoveListItem {
            key: s(r"Microsoft\Windows NT\CurrentVersion\Winlogon"),
            value: s("Userinit"),
            item: s(r"C:\evil.exe"),
        },
        HiveEdit::DeleteKey {
            key: s(r"ControlSet001\Services\Evil"),
        },
    ]
}

/// The bytes with a clean base block: secondary sequence number set to
/// the primary, checksum recomputed.
fn clean(data: &[u8]) -> Option<Vec<u8>> {
    let mut b = data.to_vec();
    let seq: [u8; 4] = b.get(4..8)?.try_into().ok()?;
    b.get_mut(8..12)?.copy_from_slice(&seq);
    let mut sum = 0u32;
    for i in 0..127 {
        let w: [u8; 4] = b.get(i * 4..i * 4 + 4)?.try_into().ok()?;
        sum ^= u32::from_le_bytes(w);
    }
    let sum = match sum {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        s => s,
    };
    b.get_mut(0x1FC..0x200)?.copy_from_slice(&sum.to_le_bytes());
    Some(b)
}

fn run(bytes: &[u8]) {
    let all = edits();
    let tries = std::iter::once(all.clone()).chain(all.into_iter().map(|e| vec![e]));
    for edits in tries {
        if let Ok(out) = apply(bytes, &edits) {
            // What the editor returns always opens.
            assert!(Hive::from_bytes(out, Vec::new()).is_ok());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    run(data);
    if let Some(b) = clean(data) {
        run(&b);
    }
});
