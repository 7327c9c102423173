//! Corebot: a daily DGA seeded by a 32-bit value from the sample and the
//! date (year, month, day), driven by the Numerical Recipes linear
//! congruential generator, that names dynamic-DNS hosts under `ddns.net`.
//!
//! Each day the state starts at `seed + year + (1 << 16) + (month << 8) +
//! day` (32 bits); every name takes one draw for its length (12 to 23
//! characters) and one per character, from an alphabet of 34 (`a`-`y` and
//! `0`-`8`: the sample's table stops one short of `z` and `9`). The day's
//! 40 names follow one another from the same state, so two dates with the
//! same year, month and day are the same list: the period is one day.

use crate::{Dga, Error, Family, Known, Spec, Variant, day_number, parse_hex_u32};
use time::Date;

/// Corebot.
pub static FAMILY: Family = Family {
    name: "corebot",
    aliases: &[],
    title: "Corebot: 40 daily ddns.net host names from a sample seed and the date",
    variants: &[Variant {
        name: "",
        summary: "A 32-bit seed from the sample plus the date (year + 0x10000 + month * 256 + day) \
                  starts the Numerical Recipes LCG (x * 1664525 + 1013904223 mod 2^32); each name \
                  takes one draw for its length (12 + x mod 12) and one per character from \
                  `a`-`y` and `0`-`8` (34 characters), under `.ddns.net`. 40 names a day, tried in \
                  order; a new list every UTC day.",
        parameters: &[
            ("seed", "32-bit value from the sample, hex"),
            (
                "generator",
                "LCG x = (x * 1664525 + 1013904223) mod 2^32, started at seed + year + 0x10000 + month * 256 + day",
            ),
            ("length", "12 to 23 characters (12 + draw mod 12)"),
            (
                "characters",
                "`abcdefghijklmnopqrstuvwxy012345678` (34; no `z`, no `9`), draw mod 34",
            ),
            ("TLDs", "host names under the dynamic-DNS zone `ddns.net`"),
            ("domains", "40 per day"),
            ("period", "one UTC day"),
        ],
        seed_syntax: "32-bit hex (`1DBA8930` or `0x1dba8930`)",
        config_syntax: None,
        known: &[Known {
            seed: "1DBA8930",
            config: "",
            source: "https://johannesbader.ch/2015/09/the-dga-of-corebot/ (the seed of the analysed \
                     sample; baderj/domain_generation_algorithms corebot/dga.py default)",
        }],
        reference: "https://johannesbader.ch/2015/09/the-dga-of-corebot/ (J. Bader, \"The DGA of \
                    Corebot\", September 2015)",
        oracle: "baderj/domain_generation_algorithms corebot/dga.py",
        build,
    }],
};

/// Names per day.
const DOMAINS: usize = 40;
/// Shortest name, and how many lengths above it a name may have.
const MIN_LEN: u32 = 12;
const LEN_SPAN: u32 = 12;
/// The Numerical Recipes LCG constants.
const LCG_MUL: u32 = 1_664_525;
const LCG_ADD: u32 = 1_013_904_223;
/// The sample's alphabet: its table runs `a` up to but not including `z`,
/// then `0` up to but not including `9`.
const ALPHABET: &[u8; 34] = b"abcdefghijklmnopqrstuvwxy012345678";
/// A constant the sample adds above the month (its field is 1 in every
/// analysed sample).
const DATE_BIAS: u32 = 1 << 16;
const SUFFIX: &str = ".ddns.net";

#[inline]
fn lcg(x: u32) -> u32 {
    x.wrapping_mul(LCG_MUL).wrapping_add(LCG_ADD)
}

fn build(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    if spec.config.is_some() {
        return Err(Error::BadConfig {
            family: "corebot".into(),
            reason: "Corebot takes a seed (--seed), not a configuration".into(),
        });
    }
    let seed = spec
        .seed
        .ok_or_else(|| Error::NeedsSeed("corebot".into()))?;
    Ok(Box::new(Corebot {
        seed: parse_hex_u32("corebot", seed)?,
    }))
}

/// Corebot with its seed.
struct Corebot {
    seed: u32,
}

impl Dga for Corebot {
    fn family(&self) -> &'static str {
        "corebot"
    }
    fn variant(&self) -> &'static str {
        ""
    }
    fn seed(&self) -> String {
        format!("{:08X}", self.seed)
    }
    fn period(&self, date: Date) -> Option<i64> {
        Some(day_number(date))
    }
    fn generate(&self, date: Date, out: &mut Vec<String>) {
        // The sample adds the year as a 32-bit integer; a year before 0
        // (never a real date here) wraps like the reference's mask does.
        let mut x = self
            .seed
            .wrapping_add(date.year() as u32)
            .wrapping_add(DATE_BIAS + ((date.month() as u32) << 8) + u32::from(date.day()));
        out.reserve(DOMAINS);
        for _ in 0..DOMAINS {
            x = lcg(x);
            let len = (MIN_LEN + x % LEN_SPAN) as usize;
            let mut name = String::with_capacity(len + SUFFIX.len());
            for _ in 0..len {
                x = lcg(x);
                name.push(char::from(ALPHABET[(x % ALPHABET.len() as u32) as usize]));
            }
            name.push_str(SUFFIX);
            out.push(name);
        }
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
    fn same_period_same_list_and_a_new_list_every_day() {
        let dga = build_seed("1DBA8930").unwrap();
        let (from, to) = (date!(2015 - 01 - 01), date!(2018 - 12 - 31));
        let periods = crate::testing::check_periods(&*dga, from, to, false);
        assert_eq!(
            periods as i64,
            (to - from).whole_days() + 1,
            "a new list every day"
        );
        assert_eq!(dga.period(to), Some(day_number(to)));
        assert_eq!(crate::testing::names(&*dga, to).len(), DOMAINS);
    }

    #[test]
    fn names_have_the_documented_shape() {
        let mut out = Vec::new();
        build_seed("0")
            .unwrap()
            .generate(date!(2016 - 11 - 30), &mut out);
        for d in &out {
            let host = d.strip_suffix(SUFFIX).unwrap();
            assert!((12..=23).contains(&host.len()), "{d}");
            assert!(host.bytes().all(|b| ALPHABET.contains(&b)), "{d}");
        }
    }

    #[test]
    fn bad_seeds_and_configs_are_rejected() {
        let huge = "1".repeat(100_000);
        for bad in ["", "0x", "1dba893g", "100000000", "-1", " ", huge.as_str()] {
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
        let cfg = serde_json::json!({"seed": "1DBA8930"});
        assert!(matches!(
            (v.build)(&Spec {
                seed: None,
                config: Some(&cfg)
            }),
            Err(Error::BadConfig { .. })
        ));
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let dga = build_seed("ffffffff").unwrap();
        for d in [Date::MIN, Date::MAX, date!(0000 - 01 - 01)] {
            let mut out = Vec::new();
            dga.generate(d, &mut out);
            assert_eq!(out.len(), DOMAINS);
        }
    }

    #[test]
    fn known_seeds_build_and_print_back() {
        for g in FAMILY.variants[0].known_generators().unwrap() {
            assert!(build_seed(&g.seed()).is_ok());
            assert_eq!(g.seed(), "1DBA8930");
        }
    }
}
