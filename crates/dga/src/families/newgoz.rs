//! newGOZ: the DGA of the Gameover Zeus successor that appeared in 2014
//! after Operation Tovar took the peer-to-peer Gameover botnet down.
//!
//! Each of the 1000 names of a day is the MD5 of the name's number, the
//! year, month and day, with a 4-byte key after each date field; the
//! digest's four little-endian 32-bit words, each written in base 36, are
//! the name. The TLD follows from the name's number.

use crate::{Dga, Error, Family, Known, Spec, Variant, day_number};
use md5::{Digest, Md5};
use time::Date;

/// newGOZ.
pub static FAMILY: Family = Family {
    name: "newgoz",
    aliases: &["gameover-dga"],
    title: "newGOZ (Gameover Zeus after Tovar): MD5 of the name's number and the date, 1000 names a day",
    variants: &[Variant {
        name: "",
        summary: "For name number n (0 to 999) of a day: MD5 over n (32-bit little endian), \
                  the year, the key, the month, the key, the day, the key (date fields 16-bit \
                  little endian, the key 4 bytes); the digest's four 32-bit little-endian words, \
                  each in base 36 (digits then letters), make a name of up to 28 characters. \
                  TLD: .com when n is a multiple of 4, else .org for a multiple of 3, else .biz \
                  for even n, else .net. 1000 names a day.",
        parameters: &[
            (
                "seed",
                "the 4-byte key hashed after each date field, as 8 hex digits in byte order; the published samples use 01051935",
            ),
            (
                "hash",
                "MD5(n:u32le | year:u16le | key | month:u16le | key | day:u16le | key)",
            ),
            (
                "name",
                "the digest's 4 little-endian u32 words, each in base 36 (0-9a-z), concatenated",
            ),
            (
                "TLDs",
                "n % 4 == 0: com; else n % 3 == 0: org; else n even: biz; else net",
            ),
            ("domains", "1000 a day"),
            ("period", "one UTC day"),
        ],
        seed_syntax: "the key as 8 hex digits in byte order (`01051935`)",
        config_syntax: None,
        known: &[Known {
            seed: "01051935",
            config: "",
            source: "https://johannesbader.ch/2014/12/the-dga-of-newgoz/ (the key \\x01\\x05\\x19\\x35 of \
                     baderj/domain_generation_algorithms newgoz/dga.py)",
        }],
        reference: "https://johannesbader.ch/2014/12/the-dga-of-newgoz/",
        oracle: "baderj/domain_generation_algorithms newgoz/dga.py",
        build,
    }],
};

/// Names a day.
const DOMAINS_PER_DAY: u32 = 1000;
/// A u32 in base 36 has at most 7 digits (36^7 > 2^32).
const MAX_BASE36_DIGITS: usize = 7;
/// A name: four base-36 words.
const MAX_LABEL: usize = 4 * MAX_BASE36_DIGITS;
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const NAME: &str = "newgoz";

fn build(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    if spec.config.is_some() {
        return Err(Error::BadConfig {
            family: NAME.into(),
            reason: "newgoz takes a seed (--seed, the 4-byte key), not a configuration".into(),
        });
    }
    let text = spec.seed.ok_or_else(|| Error::NeedsSeed(NAME.into()))?;
    let hex_digits = text.trim();
    let hex_digits = hex_digits
        .strip_prefix("0x")
        .or_else(|| hex_digits.strip_prefix("0X"))
        .unwrap_or(hex_digits);
    let bad = |reason: &str| Error::BadSeed {
        family: NAME.into(),
        seed: text.to_string(),
        reason: reason.into(),
    };
    // Exactly 8 digits: the key is a byte string, so `1051935` would be
    // ambiguous about which byte lost its leading zero.
    if hex_digits.len() != 8 {
        return Err(bad("expected the 4-byte key as exactly 8 hex digits"));
    }
    let mut key = [0u8; 4];
    hex::decode_to_slice(hex_digits, &mut key)
        .map_err(|e| bad(&format!("expected 8 hex digits: {e}")))?;
    Ok(Box::new(NewGoz { key }))
}

/// newGOZ with its key.
struct NewGoz {
    key: [u8; 4],
}

/// Appends `v` in base 36, most significant digit first (`0` for zero).
fn push_base36(name: &mut String, mut v: u32) {
    let mut buf = [0u8; MAX_BASE36_DIGITS];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = DIGITS[(v % 36) as usize];
        v /= 36;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[start..] {
        name.push(char::from(b));
    }
}

impl Dga for NewGoz {
    fn family(&self) -> &'static str {
        NAME
    }
    fn variant(&self) -> &'static str {
        ""
    }
    fn seed(&self) -> String {
        hex::encode(self.key)
    }
    fn period(&self, date: Date) -> Option<i64> {
        Some(day_number(date))
    }
    fn generate(&self, date: Date, out: &mut Vec<String>) {
        // Everything but the name's number is the same all day. A year
        // outside 16 bits (no sample's) is truncated as a 16-bit field.
        let mut input = [0u8; 22];
        input[4..6].copy_from_slice(&(date.year() as u16).to_le_bytes());
        input[6..10].copy_from_slice(&self.key);
        input[10..12].copy_from_slice(&u16::from(u8::from(date.month())).to_le_bytes());
        input[12..16].copy_from_slice(&self.key);
        input[16..18].copy_from_slice(&u16::from(date.day()).to_le_bytes());
        input[18..22].copy_from_slice(&self.key);
        out.reserve(DOMAINS_PER_DAY as usize);
        for n in 0..DOMAINS_PER_DAY {
            input[0..4].copy_from_slice(&n.to_le_bytes());
            let digest = Md5::digest(input);
            let tld = if n % 4 == 0 {
                ".com"
            } else if n % 3 == 0 {
                ".org"
            } else if n % 2 == 0 {
                ".biz"
            } else {
                ".net"
            };
            let mut name = String::with_capacity(MAX_LABEL + tld.len());
            for word in digest.chunks_exact(4) {
                push_base36(
                    &mut name,
                    u32::from_le_bytes([word[0], word[1], word[2], word[3]]),
                );
            }
            name.push_str(tld);
            out.push(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn gen_seed(s: &str) -> Result<Box<dyn Dga>, Error> {
        (FAMILY.variants[0].build)(&Spec {
            seed: Some(s),
            config: None,
        })
    }

    #[test]
    fn base36_words() {
        for (v, want) in [(0, "0"), (35, "z"), (36, "10"), (u32::MAX, "1z141z3")] {
            let mut s = String::new();
            push_base36(&mut s, v);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn daily_period_is_exact() {
        let dga = gen_seed("01051935").unwrap();
        let (from, to) = (date!(2015 - 12 - 28), date!(2016 - 03 - 05));
        let periods = crate::testing::check_periods(&*dga, from, to, false);
        assert_eq!(
            periods as i64,
            (to - from).whole_days() + 1,
            "new names every day"
        );
        assert_eq!(dga.period(to), Some(day_number(to)));
        assert_eq!(
            crate::testing::names(&*dga, to).len(),
            DOMAINS_PER_DAY as usize
        );
    }

    #[test]
    fn names_have_the_documented_shape() {
        let mut out = Vec::new();
        gen_seed("01051935")
            .unwrap()
            .generate(date!(2016 - 11 - 30), &mut out);
        for (n, d) in out.iter().enumerate() {
            let (label, tld) = d.split_once('.').unwrap();
            assert!((4..=MAX_LABEL).contains(&label.len()), "{d}");
            assert!(
                label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            );
            let want = match n {
                n if n % 4 == 0 => "com",
                n if n % 3 == 0 => "org",
                n if n % 2 == 0 => "biz",
                _ => "net",
            };
            assert_eq!(tld, want, "{n}");
        }
    }

    #[test]
    fn the_key_changes_the_names() {
        let day = date!(2016 - 02 - 29);
        let mut a = Vec::new();
        let mut b = Vec::new();
        gen_seed("01051935").unwrap().generate(day, &mut a);
        gen_seed("0x35190501").unwrap().generate(day, &mut b);
        assert_ne!(a, b);
        assert_eq!(gen_seed("0X01051935").unwrap().seed(), "01051935");
    }

    #[test]
    fn bad_seeds_are_rejected() {
        let huge = "0".repeat(100_000);
        for bad in [
            "",
            "1051935",
            "010519350",
            "0105193g",
            "0x",
            "é1051935",
            huge.as_str(),
        ] {
            assert!(
                matches!(gen_seed(bad), Err(Error::BadSeed { .. })),
                "{bad:.20}"
            );
        }
        assert!(matches!(
            (FAMILY.variants[0].build)(&Spec::default()),
            Err(Error::NeedsSeed(_))
        ));
        let cfg = serde_json::json!({});
        assert!(matches!(
            (FAMILY.variants[0].build)(&Spec {
                seed: Some("01051935"),
                config: Some(&cfg)
            }),
            Err(Error::BadConfig { .. })
        ));
    }

    #[test]
    fn known_key_builds_alias_resolves_and_extreme_dates_do_not_panic() {
        let gens = FAMILY.variants[0].known_generators().unwrap();
        assert_eq!(gens.len(), 1);
        assert_eq!(crate::family("Gameover-DGA").unwrap().name, NAME);
        for d in [Date::MIN, Date::MAX] {
            let mut out = Vec::new();
            gens[0].generate(d, &mut out);
            assert_eq!(out.len(), DOMAINS_PER_DAY as usize);
        }
    }
}
