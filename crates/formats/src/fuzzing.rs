//! Entry points for the fuzz targets (`fuzz/fuzz_targets/fmt_*.rs` and
//! `containers.rs`): small limits, every entry consumed, recursion as the
//! engine does it.

use crate::{Ctx, Flow, Format, Limits, extract, identify};
use std::time::{Duration, Instant};

/// Limits small enough that a fuzzer explores structure, not expansion.
pub fn limits() -> Limits {
    Limits {
        max_depth: 6,
        max_entries: 200,
        max_expanded: 8 << 20,
        max_member_size: 4 << 20,
        max_ratio: 200,
        passwords: vec![b"infected".to_vec()],
    }
}

fn deadline() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(5))
}

/// Unpacks `data` as `format` (one level), touching every entry.
pub fn extract_all(format: Format, data: &[u8]) {
    let limits = limits();
    let mut ctx = Ctx::new(&limits, deadline());
    let mut total = 0usize;
    let _ = extract(format, data, "fuzz.bin", &mut ctx, &mut |_, entry| {
        // Touch the content, so that a bad borrowed range would show.
        total = total.wrapping_add(entry.data.iter().map(|&b| b as usize).sum::<usize>());
        assert!(entry.data.len() as u64 <= limits.max_member_size.max(limits.max_expanded));
        Flow::Continue
    });
    assert!(ctx.expanded() <= limits.max_expanded);
}

/// Identifies and unpacks `data` recursively.
pub fn walk(data: &[u8]) {
    let limits = limits();
    let mut ctx = Ctx::new(&limits, deadline());
    rec(data, "fuzz.bin", &mut ctx);
    assert!(ctx.expanded() <= limits.max_expanded);
}

fn rec(data: &[u8], name: &str, ctx: &mut Ctx) -> Flow {
    if ctx.depth >= ctx.limits().max_depth {
        return Flow::Continue;
    }
    let Some(format) = identify(data) else {
        return Flow::Continue;
    };
    ctx.depth += 1;
    let mut stop = false;
    let result = extract(format, data, name, ctx, &mut |ctx, entry| {
        if entry.issue.as_ref().is_some_and(|i| i.is_global()) {
            stop = true;
            return Flow::Stop;
        }
        let flow = rec(&entry.data, &entry.name, ctx);
        if flow == Flow::Stop {
            stop = true;
        }
        flow
    });
    ctx.depth -= 1;
    if stop || result.as_ref().is_err_and(|i| i.is_global()) {
        Flow::Stop
    } else {
        Flow::Continue
    }
}
