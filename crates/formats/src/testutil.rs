//! Helpers for the unpackers' unit tests.
#![allow(dead_code)] // Each helper is used by some of the unpackers' tests.

use crate::{Ctx, Flow, Format, Issue, Limits, extract, identify};

/// The EICAR test string (harmless; every scanner detects it).
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// One object found by [`walk`]: its chain of names below the top, its
/// content, and the problem of that member, if any.
#[derive(Debug)]
pub struct Found {
    /// Names from the outermost member down, joined with `!`.
    pub chain: String,
    /// The member's content.
    pub data: Vec<u8>,
    /// The member's own issue.
    pub issue: Option<Issue>,
}

/// What [`walk`] saw: every member at every depth, and every container
/// level's issue with the chain of the container.
#[derive(Debug, Default)]
pub struct Walk {
    /// Members, depth first.
    pub found: Vec<Found>,
    /// `(container chain, issue)` for containers that ended early.
    pub issues: Vec<(String, Issue)>,
    /// Formats identified, depth first (the top level first).
    pub formats: Vec<Format>,
}

impl Walk {
    /// The first member whose content contains `needle`.
    pub fn containing(&self, needle: &[u8]) -> Option<&Found> {
        self.found
            .iter()
            .find(|f| f.data.windows(needle.len()).any(|w| w == needle))
    }

    /// The chains of every member.
    pub fn chains(&self) -> Vec<&str> {
        self.found.iter().map(|f| f.chain.as_str()).collect()
    }
}

/// Identifies `data` and unpacks it recursively, as the engine would,
/// with `limits`.
pub fn walk_with(data: &[u8], name: &str, limits: &Limits) -> Walk {
    let mut w = Walk::default();
    let mut ctx = Ctx::new(limits, None);
    rec(data, name, "", &mut ctx, &mut w);
    w
}

/// [`walk_with`] the default limits.
pub fn walk(data: &[u8], name: &str) -> Walk {
    walk_with(data, name, &Limits::default())
}

fn rec(data: &[u8], name: &str, chain: &str, ctx: &mut Ctx, w: &mut Walk) -> Flow {
    if ctx.depth >= ctx.limits().max_depth {
        return Flow::Continue;
    }
    let Some(format) = identify(data) else {
        return Flow::Continue;
    };
    w.formats.push(format);
    ctx.depth += 1;
    let mut stop = false;
    let result = extract(format, data, name, ctx, &mut |ctx, entry| {
        let child = if chain.is_empty() {
            entry.name.clone()
        } else {
            format!("{chain}!{}", entry.name)
        };
        let data = entry.data.into_owned();
        w.found.push(Found {
            chain: child.clone(),
            data: data.clone(),
            issue: entry.issue.clone(),
        });
        if entry.issue.as_ref().is_some_and(Issue::is_global) {
            stop = true;
            return Flow::Stop;
        }
        let flow = rec(&data, &entry.name, &child, ctx, w);
        if flow == Flow::Stop {
            stop = true;
        }
        flow
    });
    ctx.depth -= 1;
    if let Err(issue) = result {
        let global = issue.is_global();
        w.issues.push((chain.to_string(), issue));
        if global {
            return Flow::Stop;
        }
    }
    if stop { Flow::Stop } else { Flow::Continue }
}

/// `n` pseudo-random bytes (xorshift32 from `seed`), the same for every
/// run: data no detector may take for a container.
pub fn random_bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Calls `f` on `data` with each byte in turn flipped by each of `bits`
/// (one byte changed at a time).
pub fn each_byte_flipped(data: &[u8], bits: &[u8], mut f: impl FnMut(&[u8])) {
    let mut v = data.to_vec();
    for i in 0..v.len() {
        for &bit in bits {
            v[i] ^= bit;
            f(&v);
            v[i] ^= bit;
        }
    }
}

/// Calls `f` on `rounds` copies of `data`, each with `flips` random bits
/// flipped (a linear congruential generator from `seed`, the same for
/// every run).
pub fn random_flips(data: &[u8], seed: u32, rounds: usize, flips: usize, mut f: impl FnMut(&[u8])) {
    let mut rng = seed;
    for _ in 0..rounds {
        let mut d = data.to_vec();
        for _ in 0..flips {
            rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let at = (rng as usize >> 3) % d.len();
            d[at] ^= 1 << (rng % 8);
        }
        f(&d);
    }
}
