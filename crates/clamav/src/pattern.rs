//! Verifying a body pattern around a candidate position.
//!
//! The matcher never backtracks: it carries the *set* of positions the
//! pattern can have reached so far (sorted, disjoint half-open intervals)
//! through each element, forwards from the anchor literal to the end and
//! backwards from it to the start. Gaps widen the intervals, fixed elements
//! filter them. Every position tested costs one unit of a budget
//! ([`MAX_STEPS_PER_HIT`]); a candidate that runs out is dropped and
//! counted, so a hostile file cannot make one hit cost more than that.

use crate::hexsig::Elem;

/// Positions tested per candidate (one side of the anchor) before giving up.
/// Bounds `*` and `{n-m}` against files full of near-matches.
pub const MAX_STEPS_PER_HIT: u32 = 1 << 16;

/// Sorted, disjoint, non-adjacent half-open intervals of positions.
pub type Set = Vec<(usize, usize)>;

/// Work budget for one candidate; `exhausted` records that a limit was hit.
pub struct Budget {
    left: u32,
    /// The budget ran out at least once.
    pub exhausted: bool,
}

impl Budget {
    /// A fresh budget of [`MAX_STEPS_PER_HIT`].
    pub fn new() -> Self {
        Budget {
            left: MAX_STEPS_PER_HIT,
            exhausted: false,
        }
    }
    /// A budget of `steps` positions.
    pub fn with_steps(steps: u32) -> Self {
        Budget {
            left: steps,
            exhausted: false,
        }
    }
    /// Steps left.
    pub fn left(&self) -> u32 {
        self.left
    }
    fn take(&mut self, n: u32) -> bool {
        if self.left < n {
            self.left = 0;
            self.exhausted = true;
            false
        } else {
            self.left -= n;
            true
        }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new()
    }
}

fn span_cost(bytes: usize) -> u32 {
    u32::try_from(bytes / 16).unwrap_or(u32::MAX)
}

fn push(out: &mut Set, a: usize, b: usize) {
    if a >= b {
        return;
    }
    if let Some(last) = out.last_mut()
        && a <= last.1
    {
        last.1 = last.1.max(b);
        return;
    }
    out.push((a, b));
}

fn normalise(mut v: Set) -> Set {
    v.sort_unstable();
    let mut out = Set::with_capacity(v.len());
    for (a, b) in v {
        push(&mut out, a, b);
    }
    out
}

fn byte_ok(e: &Elem, b: u8, nocase: bool) -> bool {
    match e {
        Elem::Byte(x) => *x == b || (nocase && x.eq_ignore_ascii_case(&b)),
        Elem::Mask { value, mask } => b & mask == *value,
        Elem::Set(s) => {
            s.contains(b) || (nocase && b.is_ascii_alphabetic() && s.contains(b ^ 0x20))
        }
        _ => false,
    }
}

/// Whether the fixed-width element `e` matches at `data[p..]`.
pub fn fixed_ok(e: &Elem, data: &[u8], p: usize, nocase: bool) -> bool {
    match e {
        Elem::Lit(l) => match data.get(p..p.saturating_add(l.len())) {
            Some(w) if nocase => w.eq_ignore_ascii_case(l),
            Some(w) => w == &l[..],
            None => false,
        },
        Elem::NotSeq(seqs) => {
            let n = seqs.first().map_or(0, Vec::len);
            match data.get(p..p.saturating_add(n)) {
                Some(w) if w.len() == n => !seqs.iter().any(|s| {
                    if nocase {
                        s.eq_ignore_ascii_case(w)
                    } else {
                        s == w
                    }
                }),
                _ => false,
            }
        }
        _ => data.get(p).is_some_and(|b| byte_ok(e, *b, nocase)),
    }
}

/// Whether `elems`, all of fixed width, match one after the other from
/// `start`.
pub fn fixed_match(elems: &[Elem], data: &[u8], start: usize, nocase: bool) -> bool {
    let mut p = start;
    for e in elems {
        let Some(w) = e.width() else { return false };
        let ok = match e {
            Elem::Gap { .. } => p.checked_add(w).is_some_and(|end| end <= data.len()),
            Elem::Alt(alts) => alts.iter().any(|alt| fixed_match(alt, data, p, nocase)),
            _ => fixed_ok(e, data, p, nocase),
        };
        if !ok {
            return false;
        }
        p += w;
    }
    true
}

/// Carries `set` (positions where the next element starts) forwards
/// through `elems`; returns the positions just after the last element.
pub fn forward(
    elems: &[Elem],
    data: &[u8],
    mut set: Set,
    nocase: bool,
    budget: &mut Budget,
) -> Set {
    let len = data.len();
    for e in elems {
        if set.is_empty() {
            break;
        }
        set = match e {
            Elem::Gap { min, max } => {
                let mut out = Set::with_capacity(set.len());
                for (a, b) in set {
                    let lo = a.saturating_add(*min as usize);
                    let hi = match max {
                        Some(m) => (b - 1).saturating_add(*m as usize).min(len),
                        None => len,
                    };
                    if lo <= hi {
                        push(&mut out, lo, hi + 1);
                    }
                }
                out
            }
            Elem::Mask { mask: 0, .. } => {
                let mut out = Set::with_capacity(set.len());
                for (a, b) in set {
                    push(&mut out, a + 1, (b + 1).min(len + 1));
                }
                out.retain(|(a, _)| *a <= len);
                out
            }
            Elem::Alt(alts) => {
                let mut all = Set::new();
                for alt in alts.iter() {
                    all.extend(forward(alt, data, set.clone(), nocase, budget));
                }
                normalise(all)
            }
            Elem::Lit(l) if !nocase && set.iter().map(|(a, b)| b - a).sum::<usize>() > 64 => {
                let n = l.len();
                let finder = memchr::memmem::Finder::new(&l[..]);
                let mut out = Set::new();
                for (a, b) in set {
                    // Starts in a..b: the text searched is a..b+n-1.
                    let end = b.saturating_add(n - 1).min(len);
                    if a >= end {
                        continue;
                    }
                    let mut prev = 0;
                    for i in finder.find_iter(&data[a..end]) {
                        if !budget.take(1 + span_cost(i - prev)) {
                            return Set::new();
                        }
                        prev = i;
                        push(&mut out, a + i + n, a + i + n + 1);
                    }
                    if !budget.take(span_cost(end - a - prev)) {
                        return Set::new();
                    }
                }
                out
            }
            Elem::Byte(x) if !nocase => {
                let mut out = Set::new();
                for (a, b) in set {
                    let end = b.min(len);
                    if a >= end {
                        continue;
                    }
                    // Searching costs too: one step per 16 bytes skipped.
                    let mut prev = 0;
                    for i in memchr::memchr_iter(*x, &data[a..end]) {
                        if !budget.take(1 + span_cost(i - prev)) {
                            return Set::new();
                        }
                        prev = i;
                        push(&mut out, a + i + 1, a + i + 2);
                    }
                    if !budget.take(span_cost(end - a - prev)) {
                        return Set::new();
                    }
                }
                out
            }
            _ => {
                let w = e.width().unwrap_or(1);
                let mut out = Set::new();
                for (a, b) in set {
                    let end = b.min((len + 1).saturating_sub(w));
                    if a < end && !budget.take(u32::try_from(end - a).unwrap_or(u32::MAX)) {
                        return Set::new();
                    }
                    for p in a..end {
                        if fixed_ok(e, data, p, nocase) {
                            push(&mut out, p + w, p + w + 1);
                        }
                    }
                }
                out
            }
        };
    }
    set
}

/// Carries `set` (positions just after the element before) backwards
/// through `elems`; returns the positions where the first element starts.
pub fn backward(
    elems: &[Elem],
    data: &[u8],
    mut set: Set,
    nocase: bool,
    budget: &mut Budget,
) -> Set {
    for e in elems.iter().rev() {
        if set.is_empty() {
            break;
        }
        set = match e {
            Elem::Gap { min, max } => {
                let mut out = Set::with_capacity(set.len());
                for (a, b) in set {
                    let hi = match (b - 1).checked_sub(*min as usize) {
                        Some(h) => h,
                        None => continue,
                    };
                    let lo = match max {
                        Some(m) => a.saturating_sub(*m as usize),
                        None => 0,
                    };
                    push(&mut out, lo, hi + 1);
                }
                normalise(out)
            }
            Elem::Alt(alts) => {
                let mut all = Set::new();
                for alt in alts.iter() {
                    all.extend(backward(alt, data, set.clone(), nocase, budget));
                }
                normalise(all)
            }
            _ => {
                let w = e.width().unwrap_or(1);
                let mut out = Set::new();
                for (a, b) in set {
                    // p is a position just after the element: it starts at p - w.
                    let a = a.max(w);
                    if a < b && !budget.take(u32::try_from(b - a).unwrap_or(u32::MAX)) {
                        return Set::new();
                    }
                    for p in a..b {
                        if fixed_ok(e, data, p - w, nocase) {
                            push(&mut out, p - w, p - w + 1);
                        }
                    }
                }
                out
            }
        };
    }
    set
}

/// Keeps the positions of `set` inside `[lo, hi]`.
pub fn clamp(set: &Set, lo: usize, hi: usize) -> Set {
    let mut out = Set::new();
    for &(a, b) in set {
        let a = a.max(lo);
        let b = b.min(hi.saturating_add(1));
        push(&mut out, a, b);
    }
    out
}

/// Whether some position `p` in `set` satisfies `f(p)`, testing at most
/// [`MAX_STEPS_PER_HIT`] positions.
pub fn any(set: &Set, mut f: impl FnMut(usize) -> bool) -> bool {
    let mut n = 0u32;
    for &(a, b) in set {
        for p in a..b {
            n += 1;
            if n > MAX_STEPS_PER_HIT {
                return false;
            }
            if f(p) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hexsig::parse_body;

    fn full(body: &str, data: &[u8]) -> Set {
        let e = parse_body(body).unwrap();
        forward(
            &e,
            data,
            vec![(0, data.len() + 1)],
            false,
            &mut Budget::new(),
        )
    }

    #[test]
    fn forward_sets() {
        assert_eq!(full("4142", b"xABxAB"), vec![(3, 4), (6, 7)]);
        assert_eq!(full("41{1-2}42", b"AxBAyyB"), vec![(3, 4), (7, 8)]);
        assert_eq!(full("41*42", b"AxxxxB"), vec![(6, 7)]);
        assert!(full("41{-1}42", b"AxxB").is_empty());
    }

    #[test]
    fn backward_sets() {
        let e = parse_body("41{1-2}42").unwrap();
        let data = b"AxxB";
        let s = backward(&e, data, vec![(4, 5)], false, &mut Budget::new());
        assert_eq!(s, vec![(0, 1)]);
    }
}
