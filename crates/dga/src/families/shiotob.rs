//! Shiotob (URLZone, Bebloh): a chain of names, each computed from the one
//! before it, that starts at a domain hard-coded in the sample.
//!
//! A step mixes the bytes of the current name in place (every byte is
//! combined with the ones before it, the name's length and the sum of its
//! characters), picks the next host name's length from two of the mixed
//! bytes (10 to 15, or the current length when that comes out shorter),
//! maps each mixed byte to one of 32 characters of a keyboard-order
//! alphabet, and alternates the TLD between `.net` and `.com`.
//!
//! Nothing in the chain reads the date: the same seed always gives the
//! same names, so [`Dga::period`] is `None`. (The sample also stores a
//! timestamp next to the seed, probably of its first run, that governs
//! *when* it moves along the chain, not which names the chain holds.)

use crate::{Dga, Error, Family, Known, Spec, Variant};
use time::Date;

/// Shiotob.
pub static FAMILY: Family = Family {
    name: "shiotob",
    aliases: &["urlzone", "bebloh"],
    title: "Shiotob / URLZone / Bebloh: a date-independent chain of names from a hard-coded first domain",
    variants: &[Variant {
        name: "",
        summary: "Seeded by a domain hard-coded in the sample (tried first). Each next name is \
                  computed from the previous one alone: its bytes are mixed with its length and \
                  character sum, the new host name (10 to 15 characters, or as long as the \
                  previous one) is spelt from `qwertyuiopasdfghjklzxcvbnm123945678` by the mixed \
                  bytes, and the TLD alternates between .net and .com. The chain does not depend \
                  on the date; the sample walks along it as it fails to reach a server (the \
                  reference implementation prints the seed and 2,000 names after it).",
        parameters: &[
            (
                "seed",
                "the first domain, hard-coded in the sample (e.g. 4ypv1eehphg3a.com)",
            ),
            (
                "characters",
                "`qwertyuiopasdfghjklzxcvbnm123945678`, indexed by a byte / 8 (its last 3 never used)",
            ),
            (
                "length",
                "10 to 15 characters, or the previous host name's length",
            ),
            (
                "TLDs",
                ".net after a .com name (or any other), .com after a .net one",
            ),
            (
                "domains",
                "2,001: the seed and the 2,000 names after it, as the reference implementation prints",
            ),
            ("period", "none: the same names on every date"),
        ],
        seed_syntax: "the sample's first domain, e.g. `4ypv1eehphg3a.com` (letters, digits, \
                      hyphens and dots; 5 to 253 characters; read in lowercase)",
        config_syntax: None,
        known: &[
            Known {
                seed: "4ypv1eehphg3a.com",
                config: "",
                source: "baderj/domain_generation_algorithms shiotob/dga.py (its example seed \
                         domain); https://johannesbader.ch/2015/01/the-dga-of-shiotob/",
            },
            Known {
                seed: "wtipubctwiekhir.net",
                config: "",
                source: "https://johannesbader.ch/2015/01/the-dga-of-shiotob/ (the first name of \
                         the analysed sample's traffic; baderj/domain_generation_algorithms \
                         shiotob/example_domains.txt)",
            },
        ],
        reference: "https://johannesbader.ch/2015/01/the-dga-of-shiotob/ (J. Bader, \"The DGA of \
                    Shiotob\", January 2015)",
        oracle: "baderj/domain_generation_algorithms shiotob/dga.py",
        build,
    }],
};

/// Names after the seed (the reference implementation prints the seed and
/// this many more).
const FOLLOWERS: usize = 2000;
/// The keyboard-order alphabet; a mixed byte divided by 8 indexes it, so
/// only its first 32 characters occur.
const ALPHABET: &[u8; 35] = b"qwertyuiopasdfghjklzxcvbnm123945678";
/// Bytes the mixing pass touches: positions 0..65 of the name, zeros past
/// its end.
const MIX_SPAN: usize = 65;
/// The mixing pass's outer rounds.
const MIX_ROUNDS: usize = 66;
/// A generated host name is at least this long, unless the previous one
/// was shorter (then it keeps that length).
const MIN_HOST: usize = 10;
/// Shortest seed that yields names: one character, a dot, a three-letter
/// TLD (anything shorter makes empty host names).
const MIN_SEED: usize = 5;
/// Longest seed: the longest DNS name.
const MAX_SEED: usize = 253;

fn build(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    if spec.config.is_some() {
        return Err(Error::BadConfig {
            family: "shiotob".into(),
            reason: "Shiotob takes its first domain as the seed (--seed), not a configuration"
                .into(),
        });
    }
    let raw = spec
        .seed
        .ok_or_else(|| Error::NeedsSeed("shiotob".into()))?;
    let bad = |reason: &str| Error::BadSeed {
        family: "shiotob".into(),
        seed: raw.chars().take(80).collect(),
        reason: reason.into(),
    };
    let seed = raw.trim().to_ascii_lowercase();
    if !(MIN_SEED..=MAX_SEED).contains(&seed.len()) {
        return Err(bad(&format!(
            "expected a domain of {MIN_SEED} to {MAX_SEED} characters, got {}",
            seed.len()
        )));
    }
    if !seed
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(bad("a domain has only letters, digits, hyphens and dots"));
    }
    if !seed.contains('.') || seed.starts_with('.') || seed.ends_with('.') {
        return Err(bad("expected a domain with a TLD, like 4ypv1eehphg3a.com"));
    }
    // The chain does not depend on the date: compute it once.
    let mut chain = Vec::with_capacity(FOLLOWERS + 1);
    chain.push(seed);
    let mut codes = Vec::new();
    for _ in 0..FOLLOWERS {
        let next = next_domain(chain.last().map_or("", String::as_str), &mut codes);
        chain.push(next);
    }
    Ok(Box::new(Shiotob { chain }))
}

/// The name after `domain`. `codes` is scratch space, reused between
/// calls.
fn next_domain(domain: &str, codes: &mut Vec<u8>) -> String {
    let bytes = domain.as_bytes();
    // The character sum leaves out the last three characters (the TLD
    // without its dot).
    let sum: i64 = bytes[..bytes.len().saturating_sub(3)]
        .iter()
        .map(|&b| i64::from(b))
        .sum();
    // The host name's length as the sample counts it (name minus a
    // four-character TLD). Seeds are at least MIN_SEED long, so it is >= 1.
    let old_len = bytes.len() as i64 - 4;
    codes.clear();
    codes.extend_from_slice(bytes);
    codes.resize(bytes.len().max(MIX_SPAN) + MIN_HOST, 0);
    for round in 0..MIX_ROUNDS {
        for j in 0..MIX_SPAN.saturating_sub(round) {
            let k = round + j;
            // Only the low byte survives, so wrapping arithmetic gives
            // what the sample's unbounded products would.
            let mixed = old_len.wrapping_mul(i64::from(codes[j])) ^ i64::from(codes[k]) ^ sum;
            codes[k] = mixed as u8;
        }
    }
    let pick = (i64::from(codes[2]).wrapping_mul(old_len) ^ i64::from(codes[0])) as u8;
    let mut len = usize::from(pick >> 4);
    if len < MIN_HOST {
        len = old_len.max(0) as usize;
    }
    let tld = if domain.ends_with(".net") {
        ".com"
    } else {
        ".net"
    };
    let mut name = String::with_capacity(len + tld.len());
    for &c in &codes[..len] {
        name.push(char::from(ALPHABET[usize::from(c >> 3)]));
    }
    name.push_str(tld);
    name
}

/// Shiotob with its chain computed.
struct Shiotob {
    chain: Vec<String>,
}

impl Dga for Shiotob {
    fn family(&self) -> &'static str {
        "shiotob"
    }
    fn variant(&self) -> &'static str {
        ""
    }
    fn seed(&self) -> String {
        self.chain[0].clone()
    }
    fn period(&self, _date: Date) -> Option<i64> {
        None
    }
    fn generate(&self, _date: Date, out: &mut Vec<String>) {
        out.extend_from_slice(&self.chain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn build_seed(seed: &str) -> Result<Box<dyn Dga>, Error> {
        (FAMILY.variant("").unwrap().build)(&Spec {
            seed: Some(seed),
            config: None,
        })
    }

    #[test]
    fn the_chain_does_not_depend_on_the_date() {
        let dga = build_seed("4ypv1eehphg3a.com").unwrap();
        let mut first = Vec::new();
        dga.generate(date!(2016 - 11 - 30), &mut first);
        assert_eq!(first.len(), FOLLOWERS + 1);
        assert_eq!(first[0], "4ypv1eehphg3a.com");
        let mut d = date!(2013 - 01 - 01);
        while d <= date!(2016 - 12 - 31) {
            assert_eq!(dga.period(d), None);
            d = d.next_day().unwrap();
        }
        for d in [date!(2013 - 01 - 01), date!(2030 - 12 - 31)] {
            let mut again = Vec::new();
            dga.generate(d, &mut again);
            assert_eq!(again, first);
        }
    }

    #[test]
    fn names_alternate_tlds_and_use_the_alphabet() {
        let mut out = Vec::new();
        build_seed("wtipubctwiekhir.net")
            .unwrap()
            .generate(date!(2015 - 01 - 01), &mut out);
        for pair in out.windows(2) {
            let want = if pair[0].ends_with(".net") {
                ".com"
            } else {
                ".net"
            };
            assert!(pair[1].ends_with(want), "{} then {}", pair[0], pair[1]);
            let host = &pair[1][..pair[1].len() - 4];
            assert!(!host.is_empty());
            assert!(host.bytes().all(|b| ALPHABET[..32].contains(&b)), "{host}");
        }
    }

    #[test]
    fn a_chain_continues_from_any_of_its_names() {
        // Each name depends on the one before it alone, so a seed taken
        // from the middle of a chain continues that chain.
        let mut a = Vec::new();
        build_seed("4ypv1eehphg3a.com")
            .unwrap()
            .generate(date!(2015 - 01 - 01), &mut a);
        let mut b = Vec::new();
        build_seed(&a[10])
            .unwrap()
            .generate(date!(2015 - 01 - 01), &mut b);
        assert_eq!(a[10..], b[..a.len() - 10]);
    }

    #[test]
    fn seeds_are_read_in_lowercase() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        build_seed("4YPV1EEHPHG3A.COM")
            .unwrap()
            .generate(date!(2015 - 01 - 01), &mut a);
        build_seed("4ypv1eehphg3a.com")
            .unwrap()
            .generate(date!(2015 - 01 - 01), &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn bad_seeds_and_configs_are_rejected() {
        let huge = "a".repeat(100_000) + ".com";
        for bad in [
            "",
            "a.c",
            "abcdefgh",
            ".abc.com",
            "abc.com.",
            "ab c.com",
            "ab\u{0}c.com",
            "bücher.com",
            "abc_d.com",
            huge.as_str(),
        ] {
            assert!(
                matches!(build_seed(bad), Err(Error::BadSeed { .. })),
                "{bad:.20} accepted"
            );
        }
        let v = FAMILY.variant("").unwrap();
        assert!(matches!(
            (v.build)(&Spec::default()),
            Err(Error::NeedsSeed(_))
        ));
        let cfg = serde_json::json!({"seed": "4ypv1eehphg3a.com"});
        assert!(matches!(
            (v.build)(&Spec {
                seed: None,
                config: Some(&cfg)
            }),
            Err(Error::BadConfig { .. })
        ));
    }

    #[test]
    fn short_and_long_seeds_do_not_panic() {
        for seed in ["a.com", "a-b.c", "x.net", &("a".repeat(249) + ".net")] {
            let mut out = Vec::new();
            build_seed(seed)
                .unwrap()
                .generate(date!(2015 - 01 - 01), &mut out);
            assert_eq!(out.len(), FOLLOWERS + 1, "{seed}");
        }
    }

    #[test]
    fn aliases_find_the_family() {
        for a in ["shiotob", "URLzone", "bebloh"] {
            assert_eq!(crate::family(a).unwrap().name, "shiotob");
        }
    }
}
