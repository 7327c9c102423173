//! Ranbyus: a banking trojan whose two DGA generations both make 40
//! names a day from the date and a 32-bit seed of the sample, cycling
//! through a TLD table that starts at the day of the month.
//!
//! * `may` (described May 2015): day, month, year and seed are four
//!   32-bit shift-and-xor registers, all stepped once per letter; a
//!   letter is their xor modulo 25 (`a`-`y`), 14 letters a name.
//! * `september` (described September 2015): a 64-bit PCG-style LCG
//!   seeded with `day * month * year` xor the seed; three steps of it
//!   give 16 bytes, a name is 17 of them modulo 25 (`a`-`y`). One
//!   sample (seed `CE7F8514`) orders its TLDs differently.
//!
//! Both take the TLD index modulo 8 of a 9-entry table, so the table's
//! last TLD is never used; this is what the samples do, as the reference
//! implementations reproduce it.

use crate::{
    Dga, Error, Family, Known, Spec, Variant, check_config_keys, config_str, day_number,
    parse_hex_u32,
};
use serde_json::Value;
use time::Date;

/// Ranbyus.
pub static FAMILY: Family = Family {
    name: "ranbyus",
    aliases: &[],
    title: "Ranbyus: 40 names a day from the date and a sample seed (two generations, 2015)",
    variants: &[
        Variant {
            name: "may",
            summary: "Ranbyus as described in May 2015: the day, month, year and seed are \
                      32-bit registers, each stepped by its own shift-and-xor rule before every \
                      letter (the seed's rule also takes the new day); a letter is \
                      (day ^ month ^ year) mod 25 + 'a', 14 letters a name, 40 names a day. \
                      The TLD cycles through in, me, cc, su, tw, net, com, pw starting at the \
                      day of the month.",
            parameters: &[
                ("seed", "32-bit value from the sample, hex"),
                (
                    "state",
                    "day, month, year (from the UTC date) and seed, stepped per letter, carried across names",
                ),
                ("length", "14 letters a-y"),
                (
                    "TLDs",
                    "in, me, cc, su, tw, net, com, pw (index: day of month + name number, mod 8; the table's ninth, org, is never reached)",
                ),
                ("domains", "40 a day"),
                ("period", "one UTC day"),
            ],
            seed_syntax: "32-bit hex (`B6354BC3`)",
            config_syntax: None,
            known: &[
                Known {
                    seed: "C5F128F3",
                    config: "",
                    source: "http://johannesbader.ch/2015/05/the-dga-of-ranbyus/ (known seeds listed in \
                             baderj/domain_generation_algorithms ranbyus/may/dga.c)",
                },
                Known {
                    seed: "B6354BC3",
                    config: "",
                    source: "http://johannesbader.ch/2015/05/the-dga-of-ranbyus/ (known seeds listed in \
                             baderj/domain_generation_algorithms ranbyus/may/dga.c; its \
                             example_domains.txt is this seed's list of 2015-05-14)",
                },
                Known {
                    seed: "65BA0743",
                    config: "",
                    source: "http://johannesbader.ch/2015/05/the-dga-of-ranbyus/ (known seeds listed in \
                             baderj/domain_generation_algorithms ranbyus/may/dga.c)",
                },
                Known {
                    seed: "0478620C",
                    config: "",
                    source: "http://johannesbader.ch/2015/05/the-dga-of-ranbyus/ (known seeds listed in \
                             baderj/domain_generation_algorithms ranbyus/may/dga.c)",
                },
            ],
            reference: "http://johannesbader.ch/2015/05/the-dga-of-ranbyus/",
            oracle: "baderj/domain_generation_algorithms ranbyus/may/dga.c (compiled with gcc)",
            build: build_may,
        },
        Variant {
            name: "september",
            summary: "Ranbyus as described in September 2015: x = (day * month * year) xor seed \
                      seeds a 64-bit LCG (multiplier 0x5851F42D4C957F2D, increment \
                      0x14057B7EF767814F); each call steps it three times and mixes the three \
                      states into 16 bytes; a name is 17 bytes (two calls) mod 25 + 'a'. 40 names \
                      a day; the TLD cycles through the first eight of the sample's table \
                      starting at the day of the month.",
            parameters: &[
                (
                    "seed",
                    "32-bit value from the sample, hex; `~HEX` takes the complement (some samples store it so)",
                ),
                (
                    "generator",
                    "x = x * 0x5851F42D4C957F2D + 0x14057B7EF767814F mod 2^64, three steps per 16 bytes",
                ),
                ("length", "17 letters a-y"),
                (
                    "TLDs",
                    "in, me, cc, su, tw, net, com, pw, org; the sample with seed CE7F8514: in, net, org, com, me, su, tw, cc, pw (index: day of month + name number, mod table length - 1)",
                ),
                ("domains", "40 a day"),
                ("period", "one UTC day"),
            ],
            seed_syntax: "32-bit hex (`0F0D5BFA`), or `~HEX` for the complement of HEX",
            config_syntax: Some(
                "{\"seed\": \"0F0D5BFA\" (as --seed), \"tlds\": [\"in\", \"me\", ...] (the sample's TLD \
                 table, 2 to 64 names; default: the table of the sample with that seed)}",
            ),
            known: &[
                Known {
                    seed: "0F0D5BFA",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
                Known {
                    seed: "F2C72B14",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
                Known {
                    seed: "AE8714BE",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
                Known {
                    seed: "CE7F8514",
                    config: "",
                    source: "http://johannesbader.ch/2015/09/ranbyuss-dga-revisited/ (stored as ~31807AEB; \
                             this sample reorders its TLDs: baderj/domain_generation_algorithms commit \
                             0986a9ed and ranbyus/september/ranbyus_reloaded.py)",
                },
                Known {
                    seed: "572473BB",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
                Known {
                    seed: "17794CF1",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
                Known {
                    seed: "C0E32524",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
                Known {
                    seed: "7CB7966E",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
                Known {
                    seed: "9F90C9E7",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
                Known {
                    seed: "8FB8879B",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
                Known {
                    seed: "E981684B",
                    config: "",
                    source: SEPTEMBER_SOURCE,
                },
            ],
            reference: "http://johannesbader.ch/2015/09/ranbyuss-dga-revisited/",
            oracle: "baderj/domain_generation_algorithms ranbyus/september/ranbyus_reloaded.py",
            build: build_september,
        },
    ],
};

const SEPTEMBER_SOURCE: &str = "http://johannesbader.ch/2015/09/ranbyuss-dga-revisited/ (known seeds \
                                listed in baderj/domain_generation_algorithms \
                                ranbyus/september/ranbyus_reloaded.py)";
/// Names a day, both generations.
const DOMAINS_PER_DAY: u32 = 40;
/// Letters per name.
const MAY_LEN: usize = 14;
const SEPTEMBER_LEN: usize = 17;
/// The TLD table both generations carry; the index is taken modulo 8,
/// one less than its length.
const TLDS: [&str; 9] = ["in", "me", "cc", "su", "tw", "net", "com", "pw", "org"];
/// The table of the sample with seed [`REORDERED_SEED`].
const TLDS_REORDERED: [&str; 9] = ["in", "net", "org", "com", "me", "su", "tw", "cc", "pw"];
const REORDERED_SEED: u32 = 0xCE7F_8514;
/// A configured TLD table: the index is modulo its length - 1, so it
/// needs two entries; more than 64 is no sample's.
const MIN_TLDS: usize = 2;
const MAX_TLDS: usize = 64;
/// A DNS label's maximum length.
const MAX_LABEL: usize = 63;
/// The September generator's LCG.
const PCG_MUL: u64 = 0x5851_F42D_4C95_7F2D;
const PCG_ADD: u64 = 0x1405_7B7E_F767_814F;

fn build_may(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    const FAMILY_NAME: &str = "ranbyus/may";
    if spec.config.is_some() {
        return Err(Error::BadConfig {
            family: FAMILY_NAME.into(),
            reason: "this variant takes a seed (--seed), not a configuration".into(),
        });
    }
    let seed = spec
        .seed
        .ok_or_else(|| Error::NeedsSeed(FAMILY_NAME.into()))?;
    Ok(Box::new(May {
        seed: parse_hex_u32(FAMILY_NAME, seed)?,
    }))
}

/// Ranbyus (May 2015) with its seed.
struct May {
    seed: u32,
}

impl Dga for May {
    fn family(&self) -> &'static str {
        "ranbyus"
    }
    fn variant(&self) -> &'static str {
        "may"
    }
    fn seed(&self) -> String {
        format!("{:08X}", self.seed)
    }
    fn period(&self, date: Date) -> Option<i64> {
        Some(day_number(date))
    }
    fn generate(&self, date: Date, out: &mut Vec<String>) {
        // The sample keeps the four values in 32-bit unsigned registers;
        // a year before 0 (no sample's) wraps as the C conversion would.
        let mut day = u32::from(date.day());
        let mut month = u32::from(u8::from(date.month()));
        let mut year = date.year() as u32;
        let mut seed = self.seed;
        let first_tld = day;
        out.reserve(DOMAINS_PER_DAY as usize);
        for n in 0..DOMAINS_PER_DAY {
            let tld = TLDS[((first_tld + n) % 8) as usize];
            let mut name = String::with_capacity(MAY_LEN + 1 + tld.len());
            for _ in 0..MAY_LEN {
                day =
                    (day >> 15) ^ ((day & 0x1fff) ^ (seed ^ day).wrapping_mul(4)).wrapping_mul(16);
                year = ((year & 0xffff_fff0) << 17) ^ ((year ^ year.wrapping_mul(7)) >> 11);
                month =
                    (month & 0xffff_fffe).wrapping_mul(14) ^ ((month ^ month.wrapping_mul(4)) >> 8);
                seed = (seed >> 6) ^ ((day.wrapping_add(seed.wrapping_mul(8)) << 8) & 0x03ff_ff00);
                name.push(char::from(b'a' + ((day ^ month ^ year) % 25) as u8));
            }
            name.push('.');
            name.push_str(tld);
            out.push(name);
        }
    }
}

fn parse_september_seed(family: &str, text: &str) -> Result<u32, Error> {
    match text.trim().strip_prefix('~') {
        Some(stored) => parse_hex_u32(family, stored).map(|v| !v),
        None => parse_hex_u32(family, text),
    }
}

fn build_september(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    const FAMILY_NAME: &str = "ranbyus/september";
    let mut seed_text = None;
    let mut tlds = None;
    if let Some(config) = spec.config {
        check_config_keys(FAMILY_NAME, config, &["seed", "tlds"])?;
        seed_text = config_str(FAMILY_NAME, config, "seed")?;
        tlds = match config.get("tlds") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_tlds(FAMILY_NAME, v)?),
        };
    }
    let seed_text = spec
        .seed
        .or(seed_text)
        .ok_or_else(|| Error::NeedsSeed(FAMILY_NAME.into()))?;
    let seed = parse_september_seed(FAMILY_NAME, seed_text)?;
    let custom = tlds.is_some();
    let tlds = tlds.unwrap_or_else(|| {
        let table = if seed == REORDERED_SEED {
            &TLDS_REORDERED
        } else {
            &TLDS
        };
        table.iter().map(|t| t.to_string()).collect()
    });
    Ok(Box::new(September { seed, tlds, custom }))
}

/// A configured TLD table: an array of DNS labels (lowercase letters,
/// digits and inner hyphens), without dots.
fn parse_tlds(family: &str, v: &Value) -> Result<Vec<String>, Error> {
    let bad = |reason: String| Error::BadConfig {
        family: family.to_string(),
        reason,
    };
    let list = v
        .as_array()
        .ok_or_else(|| bad("'tlds' must be an array of strings".into()))?;
    if !(MIN_TLDS..=MAX_TLDS).contains(&list.len()) {
        return Err(bad(format!(
            "'tlds' must have {MIN_TLDS} to {MAX_TLDS} entries (the index is taken modulo one less than \
             its length), not {}",
            list.len()
        )));
    }
    list.iter()
        .map(|t| {
            let s = t
                .as_str()
                .ok_or_else(|| bad(format!("'tlds' entry {t} is not a string")))?;
            let label = s.trim_start_matches('.').to_ascii_lowercase();
            let valid = !label.is_empty()
                && label.len() <= MAX_LABEL
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if valid {
                Ok(label)
            } else {
                Err(bad(format!(
                    "'tlds' entry {t} is not a DNS label (letters, digits, inner hyphens, 1 to {MAX_LABEL} characters)",
                    t = truncate(s)
                )))
            }
        })
        .collect()
}

/// The first characters of a user's string, for an error message.
fn truncate(s: &str) -> String {
    const SHOWN: usize = 40;
    let mut t: String = s.chars().take(SHOWN).collect();
    if s.chars().nth(SHOWN).is_some() {
        t.push_str("...");
    }
    format!("{t:?}")
}

/// Ranbyus (September 2015) with its seed and TLD table.
struct September {
    seed: u32,
    tlds: Vec<String>,
    /// Whether the table came from the configuration (then it is part of
    /// the printed seed label).
    custom: bool,
}

/// One call of the September generator: three LCG steps mixed into 16
/// bytes; returns the new state and the bytes.
fn september_block(x: u64) -> (u64, [u8; 16]) {
    let s1 = x.wrapping_mul(PCG_MUL).wrapping_add(PCG_ADD);
    let s2 = s1.wrapping_mul(PCG_MUL).wrapping_add(PCG_ADD);
    let s3 = s2.wrapping_mul(PCG_MUL).wrapping_add(PCG_ADD);
    let mixed = ((s3 >> 24) & 0xffff_ff00) | ((s3 & 0xffff_ffff) >> 24);
    // The low 20 bits from the mix, the rest from the second state.
    let a = ((mixed ^ s2) & 0x000f_ffff) ^ s2;
    let b = s2 >> 32;
    let c = (s1 & 0xfff0_0000) | (((s3 >> 32) & 0xffff_ffff) >> 12);
    let d = (s1 >> 32) & 0xffff_ffff;
    let mut bytes = [0u8; 16];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip([a, b, c, d]) {
        chunk.copy_from_slice(&(word as u32).to_le_bytes());
    }
    (s3, bytes)
}

impl Dga for September {
    fn family(&self) -> &'static str {
        "ranbyus"
    }
    fn variant(&self) -> &'static str {
        "september"
    }
    fn seed(&self) -> String {
        if self.custom {
            format!("{:08X}/{}", self.seed, self.tlds.join(","))
        } else {
            format!("{:08X}", self.seed)
        }
    }
    fn period(&self, date: Date) -> Option<i64> {
        Some(day_number(date))
    }
    fn generate(&self, date: Date, out: &mut Vec<String>) {
        let day = i64::from(date.day());
        let month = i64::from(u8::from(date.month()));
        // The reference multiplies unbounded integers; only the low 64
        // bits reach the names, and two's complement keeps them for a
        // negative year too.
        let mut x = ((day * month * i64::from(date.year())) ^ i64::from(self.seed)) as u64;
        let cycle = (self.tlds.len() - 1) as u64;
        out.reserve(DOMAINS_PER_DAY as usize);
        for n in 0..u64::from(DOMAINS_PER_DAY) {
            let (next, first) = september_block(x);
            let (next, second) = september_block(next);
            x = next;
            let tld = &self.tlds[((day as u64 + n) % cycle) as usize];
            let mut name = String::with_capacity(SEPTEMBER_LEN + 1 + tld.len());
            for &byte in first.iter().chain(&second[..SEPTEMBER_LEN - first.len()]) {
                name.push(char::from(b'a' + byte % 25));
            }
            name.push('.');
            name.push_str(tld);
            out.push(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn build(variant: &str, spec: Spec<'_>) -> Result<Box<dyn Dga>, Error> {
        (FAMILY.variant(variant).unwrap().build)(&spec)
    }

    fn seed(variant: &str, s: &str) -> Box<dyn Dga> {
        build(
            variant,
            Spec {
                seed: Some(s),
                config: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn daily_period_is_exact_and_names_change_every_day() {
        for (v, s) in [("may", "B6354BC3"), ("september", "0F0D5BFA")] {
            let dga = seed(v, s);
            let (from, to) = (date!(2015 - 12 - 25), date!(2017 - 01 - 05));
            let periods = crate::testing::check_periods(&*dga, from, to, false);
            assert_eq!(
                periods as i64,
                (to - from).whole_days() + 1,
                "{v}: new names every day"
            );
            assert_eq!(dga.period(to), Some(day_number(to)));
            assert_eq!(crate::testing::names(&*dga, to).len(), 40);
        }
    }

    #[test]
    fn names_have_the_documented_shape() {
        let mut out = Vec::new();
        seed("may", "0478620C").generate(date!(2016 - 11 - 30), &mut out);
        for (n, d) in out.iter().enumerate() {
            let (label, tld) = d.split_once('.').unwrap();
            assert_eq!(label.len(), MAY_LEN);
            assert!(label.bytes().all(|b| (b'a'..=b'y').contains(&b)), "{d}");
            assert_eq!(tld, TLDS[(30 + n) % 8]);
        }
        let mut out = Vec::new();
        seed("september", "CE7F8514").generate(date!(2016 - 11 - 30), &mut out);
        for (n, d) in out.iter().enumerate() {
            let (label, tld) = d.split_once('.').unwrap();
            assert_eq!(label.len(), SEPTEMBER_LEN);
            assert!(label.bytes().all(|b| (b'a'..=b'y').contains(&b)), "{d}");
            assert_eq!(tld, TLDS_REORDERED[(30 + n) % 8]);
        }
    }

    #[test]
    fn september_seed_complement_and_tld_tables() {
        let day = date!(2016 - 02 - 29);
        let mut plain = Vec::new();
        seed("september", "CE7F8514").generate(day, &mut plain);
        let mut stored = Vec::new();
        seed("september", "~31807AEB").generate(day, &mut stored);
        assert_eq!(plain, stored);
        // The seed's default table, given explicitly, changes nothing.
        let cfg = json!({"seed": "CE7F8514", "tlds": TLDS_REORDERED});
        let dga = build(
            "september",
            Spec {
                seed: None,
                config: Some(&cfg),
            },
        )
        .unwrap();
        let mut explicit = Vec::new();
        dga.generate(day, &mut explicit);
        assert_eq!(explicit, plain);
        // The common table for that seed changes only the TLDs.
        let cfg = json!({"seed": "CE7F8514", "tlds": TLDS});
        let dga = build(
            "september",
            Spec {
                seed: None,
                config: Some(&cfg),
            },
        )
        .unwrap();
        let mut common = Vec::new();
        dga.generate(day, &mut common);
        assert_ne!(common, plain);
        for (a, b) in common.iter().zip(&plain) {
            assert_eq!(a.split_once('.').unwrap().0, b.split_once('.').unwrap().0);
        }
        assert!(dga.seed().starts_with("CE7F8514/in,me,"));
        // --seed overrides the configuration's seed, the table stays.
        let dga = build(
            "september",
            Spec {
                seed: Some("0F0D5BFA"),
                config: Some(&json!({"seed": "1", "tlds": ["com", "net", "org"]})),
            },
        )
        .unwrap();
        let mut out = Vec::new();
        dga.generate(day, &mut out);
        let tlds: Vec<&str> = out.iter().map(|d| d.split_once('.').unwrap().1).collect();
        assert_eq!(
            &tlds[..4],
            ["net", "com", "net", "com"],
            "day 29 starts at index 29 mod 2 = 1"
        );
    }

    #[test]
    fn bad_seeds_and_configs_are_rejected() {
        let huge = "a".repeat(100_000);
        for v in ["may", "september"] {
            for bad in ["", "~", "g", "100000000", "~100000000", huge.as_str()] {
                let r = build(
                    v,
                    Spec {
                        seed: Some(bad),
                        config: None,
                    },
                );
                assert!(matches!(r, Err(Error::BadSeed { .. })), "{v} {bad:.20}");
            }
            assert!(matches!(
                build(v, Spec::default()),
                Err(Error::NeedsSeed(_))
            ));
        }
        assert!(matches!(
            build(
                "may",
                Spec {
                    seed: Some("1"),
                    config: Some(&json!({"seed": "1"}))
                }
            ),
            Err(Error::BadConfig { .. })
        ));
        let long_label = "x".repeat(64);
        for bad in [
            json!(null),
            json!([1]),
            json!({"seed": 1}),
            json!({"seed": "1", "tld": ["com", "net"]}),
            json!({"seed": "1", "tlds": "com"}),
            json!({"seed": "1", "tlds": ["com"]}),
            json!({"seed": "1", "tlds": []}),
            json!({"seed": "1", "tlds": ["com", 5]}),
            json!({"seed": "1", "tlds": ["com", "a.b"]}),
            json!({"seed": "1", "tlds": ["com", ""]}),
            json!({"seed": "1", "tlds": ["com", "-x"]}),
            json!({"seed": "1", "tlds": ["com", "\u{202e}moc"]}),
            json!({"seed": "1", "tlds": ["com", long_label]}),
            json!({"seed": "1", "tlds": vec!["com"; MAX_TLDS + 1]}),
        ] {
            let r = build(
                "september",
                Spec {
                    seed: None,
                    config: Some(&bad),
                },
            );
            assert!(matches!(r, Err(Error::BadConfig { .. })), "{bad}");
        }
    }

    #[test]
    fn known_seeds_build_and_extreme_dates_do_not_panic() {
        for v in FAMILY.variants {
            let gens = v.known_generators().unwrap();
            assert_eq!(gens.len(), v.known.len());
            for g in gens {
                for d in [Date::MIN, Date::MAX, date!(0000 - 01 - 01)] {
                    let mut out = Vec::new();
                    g.generate(d, &mut out);
                    assert_eq!(out.len(), 40);
                }
            }
        }
    }
}
