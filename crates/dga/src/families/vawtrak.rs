//! Vawtrak (Neverquest, Snifula): three generations of a date-independent
//! DGA, all driven by the same linear congruential generator (the C
//! library's `rand` constants, 1103515245 and 12345, kept to 31 bits) and
//! a 32-bit seed the sample carries in its configuration.
//!
//! * `v1` (reported by PhishLabs in July 2016): letters drawn uniformly,
//!   7 to 11 of them, `.top`.
//! * `v2` (November 2016, Fidelis "Vawtrak DGA Round 2"): consonants and
//!   vowels alternate by a weighted parity flag (a vowel is followed by
//!   one or two consonants), and the generator state is advanced by 2
//!   before every letter; `.com`.
//! * `v3` (January 2017): `v2` with 0x1895120F added instead of 2.
//!
//! None of them reads the clock: a seed yields the same list on every
//! day, so [`Dga::period`] is `None`.

use crate::{Dga, Error, Family, Known, Spec, Variant, parse_hex_u32};
use time::Date;

/// Vawtrak.
pub static FAMILY: Family = Family {
    name: "vawtrak",
    aliases: &["neverquest", "snifula"],
    title: "Vawtrak / Neverquest: seeded, date-independent lists (.top, then .com), three generations",
    variants: &[
        Variant {
            name: "v1",
            summary: "The first Vawtrak DGA: a 32-bit seed from the sample drives an LCG \
                      (x = x * 1103515245 + 12345, kept to 31 bits); each name takes one draw \
                      for its length (7 to 11) and one draw per letter (a-z), then `.top`. \
                      The list does not depend on the date; the reference implementation \
                      prints 96 names.",
            parameters: &[
                ("seed", "32-bit value from the sample's configuration, hex"),
                ("generator", "LCG x = (x * 1103515245 + 12345) mod 2^31"),
                ("length", "7 to 11 letters (draw mod 5, plus 7)"),
                ("letters", "a-z, draw mod 26"),
                ("TLDs", ".top"),
                (
                    "domains",
                    "96, the number the reference implementation prints",
                ),
                ("period", "none: the same names on every date"),
            ],
            seed_syntax: "32-bit hex (`DEADBEEF` or `0xdeadbeef`)",
            config_syntax: None,
            // The repository publishes no v1 seed taken from a sample (its
            // script's `DEADBEEF` is a syntax example), so none is listed:
            // a responder passes the seed of the sample at hand.
            known: &[],
            reference: "https://fidelissecurity.com/threatgeek/archive/vawtrak-dga-round-2/ (Fidelis, \
                        November 2016: what stayed the same from the first DGA, first reported by \
                        PhishLabs in July 2016, and what changed)",
            oracle: "baderj/domain_generation_algorithms vawtrak/dga.py",
            build: build_v1,
        },
        Variant {
            name: "v2",
            summary: "Vawtrak's second DGA (November 2016): the same seeded LCG; each name \
                      takes a length (7 to 11) and a parity draw that decides whether it \
                      starts with a consonant, then per letter the state is advanced by 2 \
                      and drawn; after a vowel one or two consonants follow (weighted parity). \
                      `.com`. Date-independent: a seed always yields the same list.",
            parameters: &[
                ("seed", "32-bit value from the sample's configuration, hex"),
                (
                    "generator",
                    "LCG x = (x * 1103515245 + 12345) mod 2^31, state + 2 before each letter",
                ),
                ("length", "7 to 11 letters"),
                (
                    "letters",
                    "consonants `cdfghlmnrstw`, vowels `aeiou`; a vowel is followed by 1 or 2 consonants",
                ),
                ("TLDs", ".com"),
                (
                    "domains",
                    "150, the reference implementation's default count",
                ),
                ("period", "none: the same names on every date"),
            ],
            seed_syntax: "32-bit hex (`0x5884c3c4`)",
            config_syntax: None,
            known: &[
                Known {
                    seed: "0x5884c3c4",
                    config: "",
                    source: "sample md5 3868082e4daa93d34a3fe5d7df9d1d72 (baderj/domain_generation_algorithms \
                             vawtrak/dga2.py; its vawtrak/example_domains2.txt is this seed's list)",
                },
                Known {
                    seed: "0x5542b2",
                    config: "",
                    source: "sample md5 edfc8653b93c693a51c57caac9e715f7 (baderj/domain_generation_algorithms \
                             vawtrak/dga2.py)",
                },
            ],
            reference: "https://fidelissecurity.com/threatgeek/archive/vawtrak-dga-round-2/ \
                        (Fidelis, \"Vawtrak DGA Round 2\", November 2016)",
            oracle: "baderj/domain_generation_algorithms vawtrak/dga2.py",
            build: build_v2,
        },
        Variant {
            name: "v3",
            summary: "Vawtrak's third DGA (January 2017): v2 with the state advanced by \
                      0x1895120F instead of 2 before each letter; `.com`, date-independent.",
            parameters: &[
                ("seed", "32-bit value from the sample's configuration, hex"),
                (
                    "generator",
                    "LCG x = (x * 1103515245 + 12345) mod 2^31, state + 0x1895120F before each letter",
                ),
                ("length", "7 to 11 letters"),
                (
                    "letters",
                    "consonants `cdfghlmnrstw`, vowels `aeiou`; a vowel is followed by 1 or 2 consonants",
                ),
                ("TLDs", ".com"),
                (
                    "domains",
                    "150, the reference implementation's default count",
                ),
                ("period", "none: the same names on every date"),
            ],
            seed_syntax: "32-bit hex (`0x874c49`)",
            config_syntax: None,
            known: &[
                Known {
                    seed: "0x874c49",
                    config: "",
                    source: "baderj/domain_generation_algorithms vawtrak/dga3.py (seed choices; commit \
                             eb5d2e16 \"new vawtrak variants\", January 2017)",
                },
                Known {
                    seed: "0x3cdca1",
                    config: "",
                    source: "baderj/domain_generation_algorithms vawtrak/dga3.py (seed choices; commit \
                             eb5d2e16 \"new vawtrak variants\", January 2017)",
                },
            ],
            reference: "https://fidelissecurity.com/threatgeek/archive/vawtrak-dga-round-2/ (the v2 \
                        scheme); the changed increment as published in baderj/domain_generation_algorithms \
                        vawtrak/dga3.py",
            oracle: "baderj/domain_generation_algorithms vawtrak/dga3.py",
            build: build_v3,
        },
    ],
};

/// Names per list of v1 (what the reference implementation prints).
const V1_DOMAINS: usize = 96;
/// Names per list of v2 and v3 (the reference implementation's default).
const V23_DOMAINS: usize = 150;
/// The LCG's multiplier and increment (the C library's `rand`).
const LCG_MUL: u32 = 1_103_515_245;
const LCG_ADD: u32 = 12_345;
/// The LCG keeps 31 bits.
const LCG_MASK: u32 = 0x7fff_ffff;
/// Added to the state before each letter in v2 and v3.
const V2_STEP: u32 = 2;
const V3_STEP: u32 = 0x1895_120f;
const CONSONANTS: &[u8; 12] = b"cdfghlmnrstw";
const VOWELS: &[u8; 5] = b"aeiou";

/// One LCG step. The state is a 32-bit integer in the malware; wrapping
/// arithmetic then masking to 31 bits gives the same result whatever the
/// sign the reference implementation's C integer had, because 2^32 is a
/// multiple of 2^31.
#[inline]
fn lcg(x: u32) -> u32 {
    x.wrapping_mul(LCG_MUL).wrapping_add(LCG_ADD) & LCG_MASK
}

fn parse_seed(variant: &str, spec: &Spec<'_>) -> Result<u32, Error> {
    let family = format!("vawtrak/{variant}");
    if spec.config.is_some() {
        return Err(Error::BadConfig {
            family,
            reason: "this variant takes a seed (--seed), not a configuration".into(),
        });
    }
    let seed = spec.seed.ok_or_else(|| Error::NeedsSeed(family.clone()))?;
    parse_hex_u32(&family, seed)
}

fn build_v1(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    Ok(Box::new(V1 {
        seed: parse_seed("v1", spec)?,
    }))
}

fn build_v2(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    Ok(Box::new(Syllabic {
        variant: "v2",
        seed: parse_seed("v2", spec)?,
        step: V2_STEP,
    }))
}

fn build_v3(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    Ok(Box::new(Syllabic {
        variant: "v3",
        seed: parse_seed("v3", spec)?,
        step: V3_STEP,
    }))
}

/// Vawtrak v1 with its seed.
struct V1 {
    seed: u32,
}

impl Dga for V1 {
    fn family(&self) -> &'static str {
        "vawtrak"
    }
    fn variant(&self) -> &'static str {
        "v1"
    }
    fn seed(&self) -> String {
        format!("{:#x}", self.seed)
    }
    fn period(&self, _date: Date) -> Option<i64> {
        None
    }
    fn generate(&self, _date: Date, out: &mut Vec<String>) {
        let mut x = self.seed;
        out.reserve(V1_DOMAINS);
        for _ in 0..V1_DOMAINS {
            x = lcg(x);
            let len = (x % 5 + 7) as usize;
            let mut name = String::with_capacity(len + 4);
            for _ in 0..len {
                x = lcg(x);
                name.push(char::from(b'a' + (x % 26) as u8));
            }
            name.push_str(".top");
            out.push(name);
        }
    }
}

/// Vawtrak v2 and v3 (they differ only in the step added before each
/// letter).
struct Syllabic {
    variant: &'static str,
    seed: u32,
    step: u32,
}

impl Dga for Syllabic {
    fn family(&self) -> &'static str {
        "vawtrak"
    }
    fn variant(&self) -> &'static str {
        self.variant
    }
    fn seed(&self) -> String {
        format!("{:#x}", self.seed)
    }
    fn period(&self, _date: Date) -> Option<i64> {
        None
    }
    fn generate(&self, _date: Date, out: &mut Vec<String>) {
        let mut x = self.seed;
        out.reserve(V23_DOMAINS);
        for _ in 0..V23_DOMAINS {
            x = lcg(x);
            let len = (x % 5 + 7) as usize;
            x = lcg(x);
            // How many consonants are still owed before the next vowel.
            let mut consonants_due = x % 2;
            let mut name = String::with_capacity(len + 4);
            for _ in 0..len {
                x = lcg(x.wrapping_add(self.step));
                let draw = x;
                let c = if consonants_due > 0 {
                    consonants_due -= 1;
                    CONSONANTS[(draw % 12) as usize]
                } else {
                    x = lcg(x);
                    consonants_due = x % 2 + 1;
                    VOWELS[(draw % 5) as usize]
                };
                name.push(char::from(c));
            }
            name.push_str(".com");
            out.push(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn build(variant: &str, seed: &str) -> Result<Box<dyn Dga>, Error> {
        (FAMILY.variant(variant).unwrap().build)(&Spec {
            seed: Some(seed),
            config: None,
        })
    }

    #[test]
    fn lists_do_not_depend_on_the_date() {
        for (v, seed) in [("v1", "deadbeef"), ("v2", "0x5884c3c4"), ("v3", "0x874c49")] {
            let dga = build(v, seed).unwrap();
            let mut first = Vec::new();
            dga.generate(date!(2016 - 11 - 30), &mut first);
            assert!(!first.is_empty());
            for d in [
                date!(2013 - 01 - 01),
                date!(2020 - 02 - 29),
                date!(2030 - 12 - 31),
            ] {
                assert_eq!(dga.period(d), None, "{v}");
                let mut again = Vec::new();
                dga.generate(d, &mut again);
                assert_eq!(again, first, "{v} {d}");
            }
        }
    }

    #[test]
    fn counts_lengths_and_alphabets() {
        let mut out = Vec::new();
        build("v1", "1")
            .unwrap()
            .generate(date!(2016 - 01 - 01), &mut out);
        assert_eq!(out.len(), V1_DOMAINS);
        for d in &out {
            let (label, tld) = d.split_once('.').unwrap();
            assert_eq!(tld, "top");
            assert!((7..=11).contains(&label.len()), "{d}");
            assert!(label.bytes().all(|b| b.is_ascii_lowercase()), "{d}");
        }
        for v in ["v2", "v3"] {
            let mut out = Vec::new();
            build(v, "ffffffff")
                .unwrap()
                .generate(date!(2016 - 01 - 01), &mut out);
            assert_eq!(out.len(), V23_DOMAINS);
            for d in &out {
                let (label, tld) = d.split_once('.').unwrap();
                assert_eq!(tld, "com");
                assert!((7..=11).contains(&label.len()), "{d}");
                // Never two vowels in a row: a vowel owes one or two
                // consonants.
                assert!(
                    !label
                        .as_bytes()
                        .windows(2)
                        .any(|w| VOWELS.contains(&w[0]) && VOWELS.contains(&w[1])),
                    "{d}"
                );
            }
        }
    }

    #[test]
    fn v2_and_v3_differ_only_by_their_step() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        build("v2", "5542b2")
            .unwrap()
            .generate(date!(2016 - 01 - 01), &mut a);
        build("v3", "5542b2")
            .unwrap()
            .generate(date!(2016 - 01 - 01), &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn known_seeds_build() {
        for v in FAMILY.variants {
            let gens = v.known_generators().unwrap();
            assert_eq!(gens.len(), v.known.len());
            for g in gens {
                assert_eq!(g.variant(), v.name);
                // The printed seed is accepted back.
                assert!(build(v.name, &g.seed()).is_ok());
            }
        }
    }

    #[test]
    fn bad_seeds_and_configs_are_rejected() {
        let huge = "f".repeat(100_000);
        for v in ["v1", "v2", "v3"] {
            for bad in ["", "0x", "xyz", "1_0000", "100000000", "-1", huge.as_str()] {
                match build(v, bad) {
                    Err(Error::BadSeed { family, .. }) => {
                        assert_eq!(family, format!("vawtrak/{v}"))
                    }
                    Err(e) => panic!("{v} {bad}: unexpected error {e}"),
                    Ok(_) => panic!("{v} {bad:.20}: accepted"),
                }
            }
            let f = FAMILY.variant(v).unwrap();
            assert!(matches!(
                (f.build)(&Spec::default()),
                Err(Error::NeedsSeed(_))
            ));
            let cfg = serde_json::json!({"seed": "1"});
            assert!(matches!(
                (f.build)(&Spec {
                    seed: Some("1"),
                    config: Some(&cfg)
                }),
                Err(Error::BadConfig { .. })
            ));
        }
    }

    #[test]
    fn aliases_find_the_family() {
        for a in ["vawtrak", "Neverquest", "snifula"] {
            assert_eq!(crate::family(a).unwrap().name, "vawtrak");
        }
    }
}
