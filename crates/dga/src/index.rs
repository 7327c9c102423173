//! Reverse lookup: which family, variant, seed and dates generate a domain.
//!
//! [`Index::build`] generates every selected DGA over a date window once
//! and keeps each domain with where it came from. A domain generated on
//! consecutive periods by the same generator is one origin with a first
//! and a last date (a name valid for ten days is not ten rows); the same
//! name generated again later, or by another family or seed, is another
//! origin.
//!
//! Lookups are case-insensitive and ignore a trailing dot; a name that is
//! not itself generated is looked up again without its leftmost labels, so
//! `www.abcdef.com` finds the DGA domain `abcdef.com` (reported as not
//! exact).

use crate::{Dga, Error};
use rustc_hash::FxHashMap;
use time::Date;

/// No origin follows (end of a chain).
const NONE: u32 = u32::MAX;

/// Most names (counted with repeats, as generated) one index takes: about
/// 2 GB of memory while it is built. Every family's known seeds over five
/// years are a small fraction of it; a hostile `--config` (a huge count
/// per period) or an absurd window is refused instead of exhausting the
/// machine.
pub const MAX_NAMES: u64 = 25_000_000;

/// Longest name looked up: longer input is not a domain (RFC 1035 caps a
/// name at 253 characters in text form) and is not worth lowercasing.
pub const MAX_NAME: usize = 253;

#[derive(Clone, Copy, Debug)]
struct Origin {
    dga: u32,
    first: Option<Date>,
    last: Option<Date>,
    next: u32,
}

/// Every domain of a set of generators over a window.
pub struct Index {
    dgas: Vec<Box<dyn Dga>>,
    names: FxHashMap<Box<str>, u32>,
    origins: Vec<Origin>,
    from: Date,
    to: Date,
}

/// One way a looked-up name is generated.
#[derive(Clone, Copy)]
pub struct Match<'a> {
    /// The generator (family, variant, seed).
    pub dga: &'a dyn Dga,
    /// The DGA domain that matched: the name itself, or a parent of it.
    pub domain: &'a str,
    /// True when the name itself is generated, false when a parent is.
    pub exact: bool,
    /// First date in the window the domain is generated for (`None`: the
    /// generator does not depend on the date).
    pub first: Option<Date>,
    /// Last such date.
    pub last: Option<Date>,
}

impl std::fmt::Debug for Match<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Match")
            .field("family", &self.dga.family())
            .field("variant", &self.dga.variant())
            .field("seed", &self.dga.seed())
            .field("domain", &self.domain)
            .field("exact", &self.exact)
            .field("first", &self.first)
            .field("last", &self.last)
            .finish()
    }
}

impl Index {
    /// Generates every domain of `dgas` for `from..=to`; refuses
    /// ([`Error::TooLarge`]) a selection that generates more than
    /// [`MAX_NAMES`] names, before it has used the memory they would take.
    pub fn build(dgas: Vec<Box<dyn Dga>>, from: Date, to: Date) -> Result<Index, Error> {
        Index::build_with_limit(dgas, from, to, MAX_NAMES)
    }

    /// As [`Index::build`], with another limit than [`MAX_NAMES`].
    pub fn build_with_limit(
        dgas: Vec<Box<dyn Dga>>,
        from: Date,
        to: Date,
        limit: u64,
    ) -> Result<Index, Error> {
        // Generated on all cores, inserted here in generator order, so the
        // index (and its output order) is the same whatever the timing.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut names: FxHashMap<Box<str>, u32> = FxHashMap::default();
        let mut origins: Vec<Origin> = Vec::new();
        let mut count = 0u64;
        let mut too_large = false;
        crate::generate_ordered(&dgas, from, to, threads, |k, first, last, list| {
            count += list.len() as u64;
            if count > limit {
                // Stop before the memory is spent: the build fails below.
                too_large = true;
                return false;
            }
            let k = k as u32;
            for name in list {
                let head = names.get(name.as_str()).copied();
                if let Some(h) = head {
                    let o = &mut origins[h as usize];
                    if o.dga == k {
                        // Generated twice in one period, or again in
                        // the period right after: one origin.
                        if o.first == first || o.last == last {
                            continue;
                        }
                        if let (Some(l), Some(f)) = (o.last, first)
                            && l.next_day() == Some(f)
                        {
                            o.last = last;
                            continue;
                        }
                    }
                }
                let idx = origins.len() as u32;
                origins.push(Origin {
                    dga: k,
                    first,
                    last,
                    next: head.unwrap_or(NONE),
                });
                names.insert(name.into_boxed_str(), idx);
            }
            true
        });
        if too_large {
            return Err(Error::TooLarge { limit });
        }
        Ok(Index {
            dgas,
            names,
            origins,
            from,
            to,
        })
    }

    /// Number of distinct domains.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no domain was generated.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Number of (domain, generator, date range) origins.
    pub fn origins(&self) -> usize {
        self.origins.len()
    }

    /// The window the index covers.
    pub fn window(&self) -> (Date, Date) {
        (self.from, self.to)
    }

    /// The generators, in the order they were given.
    pub fn generators(&self) -> &[Box<dyn Dga>] {
        &self.dgas
    }

    /// Every way `name` (or, failing that, its nearest generated parent)
    /// is generated, oldest generator first; empty when none.
    /// `scratch` is reused between calls to lowercase without allocating.
    pub fn lookup<'a>(&'a self, name: &str, scratch: &mut String, out: &mut Vec<Match<'a>>) {
        out.clear();
        let name = name.trim();
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > MAX_NAME {
            return;
        }
        let key: &str = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            scratch.clear();
            scratch.push_str(name);
            scratch.make_ascii_lowercase();
            scratch
        } else {
            name
        };
        let mut candidate = key;
        let mut exact = true;
        loop {
            if let Some((stored, &head)) = self.names.get_key_value(candidate) {
                let mut at = head;
                while at != NONE {
                    let o = self.origins[at as usize];
                    out.push(Match {
                        dga: self.dgas[o.dga as usize].as_ref(),
                        domain: stored,
                        exact,
                        first: o.first,
                        last: o.last,
                    });
                    at = o.next;
                }
                // Chains are newest first; report in generation order.
                out.reverse();
                return;
            }
            // Try the parent, but never a bare TLD.
            match candidate.split_once('.') {
                Some((_, rest)) if rest.contains('.') => {
                    candidate = rest;
                    exact = false;
                }
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::day_number;
    use time::macros::date;

    /// Generates `n<k>.test` where k is the period (3 days), plus a name
    /// that every period repeats.
    struct Every3;
    impl Dga for Every3 {
        fn family(&self) -> &'static str {
            "every3"
        }
        fn variant(&self) -> &'static str {
            ""
        }
        fn seed(&self) -> String {
            "s".into()
        }
        fn period(&self, d: Date) -> Option<i64> {
            Some(day_number(d).div_euclid(3))
        }
        fn generate(&self, d: Date, out: &mut Vec<String>) {
            let k = day_number(d).div_euclid(3);
            out.push(format!("n{k}.test"));
            out.push("always.test".into());
            out.push("always.test".into());
        }
    }

    struct Fixed;
    impl Dga for Fixed {
        fn family(&self) -> &'static str {
            "fixed"
        }
        fn variant(&self) -> &'static str {
            "v1"
        }
        fn seed(&self) -> String {
            "f".into()
        }
        fn period(&self, _: Date) -> Option<i64> {
            None
        }
        fn generate(&self, _: Date, out: &mut Vec<String>) {
            out.push("always.test".into());
            out.push("fixed.example".into());
        }
    }

    #[test]
    fn origins_merge_over_consecutive_periods_and_lookups_fold_case() {
        // Day 0 is 1970-01-01; periods: days 0-2, 3-5, 6-8.
        let idx = Index::build(
            vec![Box::new(Every3), Box::new(Fixed)],
            date!(1970 - 01 - 01),
            date!(1970 - 01 - 09),
        )
        .unwrap();
        assert_eq!(idx.len(), 5, "n0 n1 n2 always fixed");
        let mut s = String::new();
        let mut out = Vec::new();
        idx.lookup("ALWAYS.test.", &mut s, &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].dga.family(), "every3");
        assert_eq!(out[0].first, Some(date!(1970 - 01 - 01)));
        assert_eq!(out[0].last, Some(date!(1970 - 01 - 09)));
        assert_eq!(out[1].dga.family(), "fixed");
        assert_eq!(out[1].first, None);
        assert!(out.iter().all(|m| m.exact));

        idx.lookup("n1.test", &mut s, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].first, out[0].last),
            (Some(date!(1970 - 01 - 04)), Some(date!(1970 - 01 - 06)))
        );

        idx.lookup("a.b.Fixed.Example", &mut s, &mut out);
        assert_eq!(out.len(), 1);
        assert!(!out[0].exact);
        assert_eq!(out[0].domain, "fixed.example");

        for miss in ["", ".", "test", "example", "n9.test", &"a".repeat(400)] {
            idx.lookup(miss, &mut s, &mut out);
            assert!(out.is_empty(), "{miss:?}");
        }
    }

    #[test]
    fn a_selection_past_the_limit_is_refused() {
        // 3 names a period, one period per 3 days: 20 years of it is
        // far below the limit; one name more than the limit is refused.
        let ok = Index::build(
            vec![Box::new(Every3)],
            date!(2000 - 01 - 01),
            date!(2019 - 12 - 31),
        );
        assert!(ok.is_ok());
        struct Lots;
        impl Dga for Lots {
            fn family(&self) -> &'static str {
                "lots"
            }
            fn variant(&self) -> &'static str {
                ""
            }
            fn seed(&self) -> String {
                String::new()
            }
            fn period(&self, d: Date) -> Option<i64> {
                Some(day_number(d))
            }
            fn generate(&self, d: Date, out: &mut Vec<String>) {
                let k = day_number(d);
                out.extend((0..100).map(|i| format!("{k}-{i}.test")));
            }
        }
        let (from, to) = (date!(2000 - 01 - 01), date!(2000 - 12 - 31));
        let e = Index::build_with_limit(vec![Box::new(Lots)], from, to, 36_600);
        assert!(e.is_ok(), "366 days x 100 names is the limit");
        let e = Index::build_with_limit(vec![Box::new(Lots)], from, to, 36_599);
        assert!(matches!(e, Err(Error::TooLarge { limit: 36_599 })));
    }
}
