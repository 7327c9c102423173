//! QakBot (Qbot, Quakbot): a DGA whose list changes three times a month.
//!
//! The period (days 1-10, 11-20, 21 to the month's end), the month's
//! abbreviation, the year and a seed from the sample are written as
//! `"<p>.<mon>.<year>.<seed:08x>"`; its CRC-32, plus one when the bot
//! believes it runs in a sandbox, seeds a Mersenne Twister (MT19937).
//! Each name takes three kinds of draws from it, each scaled from its low
//! 28 bits to a range: the TLD's index, the length (8 to 25) and the
//! letters.

use crate::{Dga, Error, Family, Known, Spec, Variant, check_config_keys, config_str};
use serde_json::Value;
use time::Date;

/// QakBot.
pub static FAMILY: Family = Family {
    name: "qakbot",
    aliases: &["qbot", "quakbot"],
    title: "QakBot / Qbot: Mersenne Twister seeded by the CRC-32 of the period, 5000 names per third of a month",
    variants: &[Variant {
        name: "",
        summary: "The string `<p>.<mon>.<year>.<seed as 8 hex digits>` (p = 0 for days 1-10, \
                  1 for 11-20, 2 from the 21st to the month's end; mon = `jan`..`dec`) is \
                  hashed with CRC-32; the hash, plus 1 when the bot detects a sandbox (it then \
                  contacts decoy names), seeds MT19937. Each name: a TLD index, a length of \
                  8 to 25, then letters a-z, each draw scaled from the generator's low 28 bits. \
                  5000 names per period by default.",
        parameters: &[
            (
                "seed",
                "32-bit value from the sample, hex; the published samples use 0 or 1",
            ),
            (
                "sandbox",
                "true: the names the bot uses when it detects a sandbox (CRC-32 + 1)",
            ),
            (
                "generator",
                "MT19937 seeded with CRC-32(\"<p>.<mon>.<year>.<seed:08x>\") (+1 in a sandbox)",
            ),
            ("length", "8 to 25 letters a-z"),
            (
                "TLDs",
                "com, net, org, info, biz, org (org twice, so it is drawn twice as often)",
            ),
            (
                "domains",
                "5000 per period (the reference implementation's default; config `count`)",
            ),
            (
                "period",
                "days 1-10, 11-20 and 21 to the end of each month (UTC)",
            ),
        ],
        seed_syntax: "32-bit hex as it appears in the hashed string: `0` or `1` for the published samples",
        config_syntax: Some(
            "{\"seed\": \"0\" (hex, as --seed), \"sandbox\": false (the sandbox decoy list), \
             \"count\": 5000 (names per period, 1 to 20000)}",
        ),
        known: &[
            Known {
                seed: "0",
                config: "",
                source: "https://johannesbader.ch/2016/02/the-dga-of-qakbot/ (baderj/domain_generation_algorithms \
                         qakbot/dga.py, seed choices 0 and 1)",
            },
            Known {
                seed: "1",
                config: "",
                source: "https://johannesbader.ch/2016/02/the-dga-of-qakbot/ (baderj/domain_generation_algorithms \
                         qakbot/dga.py, seed choices 0 and 1)",
            },
            Known {
                seed: "0",
                config: "{\"seed\": \"0\", \"sandbox\": true}",
                source: "https://johannesbader.ch/2016/02/the-dga-of-qakbot/ (the sandbox list; \
                         baderj/domain_generation_algorithms qakbot/dga.py --sandbox)",
            },
            Known {
                seed: "1",
                config: "{\"seed\": \"1\", \"sandbox\": true}",
                source: "https://johannesbader.ch/2016/02/the-dga-of-qakbot/ (the sandbox list; \
                         baderj/domain_generation_algorithms qakbot/dga.py --sandbox)",
            },
        ],
        reference: "https://johannesbader.ch/2016/02/the-dga-of-qakbot/",
        oracle: "baderj/domain_generation_algorithms qakbot/dga.py",
        build,
    }],
};

/// Names per period unless the configuration says otherwise (the
/// reference implementation's default).
const DEFAULT_COUNT: usize = 5000;
/// Upper bound of `count`. The samples and the reference use 5000 a
/// period; four times that leaves room for a variant that tries more. A
/// configuration comes from a user's file: without a bound, a huge count
/// would make every period of a window (three a month) allocate and draw
/// without end, and even 100,000 makes a two-year window 7 million names
/// for one seed.
const MAX_COUNT: usize = 20_000;
/// The TLD table, indexed by a draw from 0 to 5.
const TLDS: [&str; 6] = ["com", "net", "org", "info", "biz", "org"];
/// Names are 8 to 25 letters long.
const MIN_LEN: u32 = 8;
const MAX_LEN: u32 = 25;
/// The month abbreviations of the hashed string (C locale, lowercase).
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const CONFIG_KEYS: &[&str] = &["seed", "sandbox", "count"];
const NAME: &str = "qakbot";

fn build(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    let mut seed_text = None;
    let mut sandbox = false;
    let mut count = DEFAULT_COUNT;
    if let Some(config) = spec.config {
        check_config_keys(NAME, config, CONFIG_KEYS)?;
        seed_text = config_str(NAME, config, "seed")?;
        match config.get("sandbox") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => sandbox = *b,
            Some(_) => {
                return Err(Error::BadConfig {
                    family: NAME.into(),
                    reason: "'sandbox' must be true or false".into(),
                });
            }
        }
        match config.get("count") {
            None | Some(Value::Null) => {}
            Some(v) => {
                count = v
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or_else(|| Error::BadConfig {
                        family: NAME.into(),
                        reason: format!(
                            "'count' must be an integer from 1 to {MAX_COUNT}, not {v}"
                        ),
                    })?;
            }
        }
    }
    let seed_text = spec
        .seed
        .or(seed_text)
        .ok_or_else(|| Error::NeedsSeed(NAME.into()))?;
    let seed = crate::parse_hex_u32(NAME, seed_text)?;
    Ok(Box::new(Qakbot {
        seed,
        sandbox,
        count,
    }))
}

/// QakBot with its seed, sandbox flag and count.
struct Qakbot {
    seed: u32,
    sandbox: bool,
    count: usize,
}

/// Which third of the month: 0 for days 1-10, 1 for 11-20, 2 after.
fn third(date: Date) -> u8 {
    ((date.day() - 1) / 10).min(2)
}

impl Dga for Qakbot {
    fn family(&self) -> &'static str {
        NAME
    }
    fn variant(&self) -> &'static str {
        ""
    }
    fn seed(&self) -> String {
        let mut s = format!("{:x}", self.seed);
        if self.sandbox {
            s.push_str("/sandbox");
        }
        if self.count != DEFAULT_COUNT {
            s.push_str(&format!("/{}", self.count));
        }
        s
    }
    fn period(&self, date: Date) -> Option<i64> {
        let months = i64::from(date.year()) * 12 + i64::from(u8::from(date.month()) - 1);
        Some(months * 3 + i64::from(third(date)))
    }
    fn generate(&self, date: Date, out: &mut Vec<String>) {
        let text = format!(
            "{}.{}.{}.{:08x}",
            third(date),
            MONTHS[usize::from(u8::from(date.month()) - 1)],
            date.year(),
            self.seed
        );
        // The reference adds the flag to the CRC without truncating, so a
        // CRC of 0xffffffff seeds with 2^32: keep the 33rd bit.
        let seed = u64::from(crc32fast::hash(text.as_bytes())) + u64::from(self.sandbox);
        let mut mt = Mt19937::new(seed);
        out.reserve(self.count);
        for _ in 0..self.count {
            let tld = TLDS[mt.range(0, TLDS.len() as u32 - 1) as usize];
            let len = mt.range(MIN_LEN, MAX_LEN) as usize;
            let mut name = String::with_capacity(len + 1 + tld.len());
            for _ in 0..len {
                name.push(char::from(b'a' + mt.range(0, 25) as u8));
            }
            name.push('.');
            name.push_str(tld);
            out.push(name);
        }
    }
}

/// The Mersenne Twister MT19937 (Matsumoto and Nishimura, 1998), 32-bit.
struct Mt19937 {
    state: [u32; MT_N],
    index: usize,
}

const MT_N: usize = 624;
const MT_M: usize = 397;
const MT_INIT_MUL: u32 = 1_812_433_253;
const MT_MATRIX: u32 = 0x9908_b0df;
const MT_UPPER: u32 = 0x8000_0000;
const MT_LOWER: u32 = 0x7fff_ffff;

impl Mt19937 {
    /// Seeds the state. `seed` may have a 33rd bit (see the caller): it
    /// reaches the second word through `seed >> 30` before truncation.
    fn new(seed: u64) -> Self {
        let mut state = [0u32; MT_N];
        state[0] = seed as u32;
        let mut prev = seed;
        for (i, s) in state.iter_mut().enumerate().skip(1) {
            let mixed = (prev ^ (prev >> 30)) as u32;
            *s = MT_INIT_MUL.wrapping_mul(mixed).wrapping_add(i as u32);
            prev = u64::from(*s);
        }
        Mt19937 { state, index: MT_N }
    }

    fn twist(&mut self) {
        for i in 0..MT_N {
            let y = (self.state[i] & MT_UPPER) | (self.state[(i + 1) % MT_N] & MT_LOWER);
            let mut v = self.state[(i + MT_M) % MT_N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= MT_MATRIX;
            }
            self.state[i] = v;
        }
        self.index = 0;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= MT_N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A draw from `lower..=upper`: the low 28 bits scaled to the range's
    /// width. The reference computes it in floating point, where every
    /// step is exact for these magnitudes, so integers give the same.
    fn range(&mut self, lower: u32, upper: u32) -> u32 {
        let r = u64::from(self.next_u32() & 0x0fff_ffff);
        lower + ((r * u64::from(upper - lower + 1)) >> 28) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn gen_seed(seed: &str) -> Box<dyn Dga> {
        (FAMILY.variants[0].build)(&Spec {
            seed: Some(seed),
            config: None,
        })
        .unwrap()
    }

    fn gen_config(config: &Value) -> Result<Box<dyn Dga>, Error> {
        (FAMILY.variants[0].build)(&Spec {
            seed: None,
            config: Some(config),
        })
    }

    #[test]
    fn mersenne_twister_matches_the_reference_sequence() {
        // The first outputs of MT19937 seeded with 5489, as published with
        // the reference C code (mt19937ar.c's default seed).
        let mut mt = Mt19937::new(5489);
        let first: Vec<u32> = (0..3).map(|_| mt.next_u32()).collect();
        assert_eq!(first, [3_499_211_612, 581_869_302, 3_890_346_734]);
    }

    #[test]
    fn period_key_is_exact_over_years() {
        // The first 50 names are enough to tell periods apart, and keep
        // the debug build quick.
        let dga = gen_config(&json!({"seed": "0", "count": 50})).unwrap();
        let periods = crate::testing::check_periods(
            &*dga,
            date!(2015 - 12 - 01),
            date!(2018 - 03 - 31),
            false,
        );
        // 28 months, three periods each.
        assert_eq!(periods, 28 * 3);
        assert_eq!(
            dga.period(date!(2016 - 02 - 29)),
            dga.period(date!(2016 - 02 - 21))
        );
        assert_ne!(
            dga.period(date!(2016 - 01 - 10)),
            dga.period(date!(2016 - 01 - 11))
        );
        assert_ne!(
            dga.period(date!(2016 - 01 - 31)),
            dga.period(date!(2016 - 02 - 01))
        );
    }

    #[test]
    fn names_have_the_documented_shape() {
        let mut out = Vec::new();
        gen_seed("1").generate(date!(2016 - 11 - 30), &mut out);
        assert_eq!(out.len(), DEFAULT_COUNT);
        for d in &out {
            let (label, tld) = d.split_once('.').unwrap();
            assert!(TLDS.contains(&tld), "{d}");
            assert!((8..=25).contains(&label.len()), "{d}");
            assert!(label.bytes().all(|b| b.is_ascii_lowercase()), "{d}");
        }
    }

    #[test]
    fn configuration_sets_sandbox_and_count_and_seed_overrides_it() {
        let day = date!(2016 - 02 - 29);
        let mut plain = Vec::new();
        gen_seed("0").generate(day, &mut plain);
        let mut sandbox = Vec::new();
        gen_config(&json!({"seed": "0", "sandbox": true, "count": 10}))
            .unwrap()
            .generate(day, &mut sandbox);
        assert_eq!(sandbox.len(), 10);
        assert_ne!(sandbox[..], plain[..10]);
        let mut short = Vec::new();
        gen_config(&json!({"seed": "0", "count": 10}))
            .unwrap()
            .generate(day, &mut short);
        assert_eq!(short[..], plain[..10]);
        // --seed overrides the configuration's seed.
        let dga = (FAMILY.variants[0].build)(&Spec {
            seed: Some("0"),
            config: Some(&json!({"seed": "1", "count": 10})),
        })
        .unwrap();
        let mut overridden = Vec::new();
        dga.generate(day, &mut overridden);
        assert_eq!(overridden, short);
        assert_eq!(dga.seed(), "0/10");
    }

    #[test]
    fn bad_seeds_and_configs_are_rejected() {
        let huge = "1".repeat(100_000);
        for bad in ["", "zz", "100000000", huge.as_str()] {
            assert!(
                matches!(
                    (FAMILY.variants[0].build)(&Spec {
                        seed: Some(bad),
                        config: None
                    }),
                    Err(Error::BadSeed { .. })
                ),
                "{bad:.20}"
            );
        }
        for bad in [
            json!([]),
            json!("0"),
            json!({"seed": 0}),
            json!({"seed": "0", "sandbox": "yes"}),
            json!({"seed": "0", "count": 0}),
            json!({"seed": "0", "count": -1}),
            json!({"seed": "0", "count": 1.5}),
            json!({"seed": "0", "count": MAX_COUNT + 1}),
            json!({"seed": "0", "count": 20_001}),
            json!({"seed": "0", "count": 100_000}),
            json!({"seed": "0", "count": u64::MAX}),
            json!({"seed": "0", "sandbx": true}),
        ] {
            assert!(
                matches!(gen_config(&bad), Err(Error::BadConfig { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            gen_config(&json!({"sandbox": true})),
            Err(Error::NeedsSeed(_))
        ));
        assert!(gen_config(&json!({"seed": "0", "count": MAX_COUNT})).is_ok());
        assert!(matches!(
            gen_config(&json!({"seed": "zz"})),
            Err(Error::BadSeed { .. })
        ));
    }

    #[test]
    fn known_configurations_build_and_aliases_resolve() {
        let gens = FAMILY.variants[0].known_generators().unwrap();
        assert_eq!(gens.len(), 4);
        for a in ["qbot", "QuakBot", "qakbot"] {
            assert_eq!(crate::family(a).unwrap().name, NAME);
        }
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let dga = gen_config(&json!({"seed": "ffffffff", "sandbox": true, "count": 3})).unwrap();
        for d in [Date::MIN, Date::MAX, date!(0000 - 01 - 01)] {
            let mut out = Vec::new();
            dga.generate(d, &mut out);
            assert_eq!(out.len(), 3);
            assert!(dga.period(d).is_some());
        }
    }
}
