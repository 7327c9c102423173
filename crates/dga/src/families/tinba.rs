//! Tinba (Tiny Banker, Zusy): a date-independent chain of 12-letter names
//! computed from a 16-character seed string and an initial domain, both
//! carried by the sample, with the sample's own list of TLDs.
//!
//! Each step derives a new 12-letter name from the first 13 characters of
//! the previous name: a running byte starts at the seed's last character
//! and takes in two neighbouring characters and the low byte of the seed's
//! character sum for each letter; a byte outside `b`-`y` is rejected and
//! the sum bumped by one until a letter comes out. The name is then tried
//! with every TLD of the sample, in order, and the next step starts from
//! it. The initial domain is tried first.
//!
//! Nothing reads the date ([`Dga::period`] is `None`). The seed, initial
//! domain, TLDs and number of steps differ between samples, so they form
//! a per-sample configuration (`--config`); the four published
//! configurations are built in and `--seed` alone picks one of them. Any
//! other configuration is printed as the seed followed by a hash of it
//! (`oGkS3w3sGGOGG7oc/cfg-1a2b3c4d`), so that two generators never print
//! the same label.

use crate::{Dga, Error, Family, Known, Spec, Variant, check_config_keys, config_str};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::Date;

/// Tinba.
pub static FAMILY: Family = Family {
    name: "tinba",
    aliases: &["tinybanker", "zusy"],
    title: "Tinba / Tiny Banker: a date-independent chain of 12-letter names from a per-sample seed, initial domain and TLDs",
    variants: &[Variant {
        name: "",
        summary: "Configured per sample: a 16-character seed string, an initial domain (tried \
                  first), a list of TLDs and a number of steps. Each step computes 12 letters \
                  (b-y) from the previous name's first 13 characters, the seed's last character \
                  and its character sum, and tries that name with every TLD in turn. No date is \
                  involved: a sample asks for the same names every day.",
        parameters: &[
            ("seed", "16-character string from the sample (case matters)"),
            (
                "initial",
                "the sample's hard-coded first domain (at least 13 characters), tried first",
            ),
            (
                "tlds",
                "the sample's TLDs, each tried with every name (com; or com, net, in, ru; ...)",
            ),
            (
                "count",
                "steps (names before TLDs): 1000 in the first samples, 100 later",
            ),
            ("letters", "b to y, 12 per name"),
            ("domains", "1 + count x number of TLDs"),
            ("period", "none: the same names on every date"),
        ],
        seed_syntax: "the sample's 16-character seed string (e.g. `oGkS3w3sGGOGG7oc`); a published \
                      seed brings its configuration, another needs --config. A configuration other \
                      than a published one is printed as `<seed>/cfg-<8 hex digits of its hash>`, \
                      which --seed also takes (the hash must then match the configuration)",
        config_syntax: Some(
            "{\"seed\": 16-character string, \"initial\": first domain, \"tlds\": [\"com\", ...], \
             \"count\": steps (0 to 10000)}; keys missing from the configuration of a published \
             seed take its published values. The initial domain is a DNS name (labels of 1 to 63 \
             characters, at most 253 in all); a TLD is one label",
        ),
        known: &[
            Known {
                seed: "oGkS3w3sGGOGG7oc",
                config: r#"{"seed":"oGkS3w3sGGOGG7oc","initial":"ssrgwnrmgrxe.com","tlds":["com"],"count":1000}"#,
                source: "http://garage4hackers.com/entry.php?b=3086 (the first analysed Tinba DGA; \
                         baderj/domain_generation_algorithms tinba/dga.py)",
            },
            Known {
                seed: "jc74FlUna852Ji9o",
                config: r#"{"seed":"jc74FlUna852Ji9o","initial":"blackfreeqazyio.cc","tlds":["com","net","in","ru"],"count":100}"#,
                source: "https://johannesbader.ch/2015/04/new-top-level-domains-for-tinbas-dga/ \
                         (baderj/domain_generation_algorithms tinba/dga.py; its \
                         tinba/example_domains.txt is this configuration's list)",
            },
            Known {
                seed: "yqokqFC2TPBFfJcG",
                config: r#"{"seed":"yqokqFC2TPBFfJcG","initial":"watchthisnow.xyz","tlds":["pw","us","xyz","club"],"count":100}"#,
                source: "https://www.sophos.com/en-us/threat-center/threat-analyses/viruses-and-spyware/Troj~Tinba-EL/detailed-analysis.aspx \
                         (Sophos Troj/Tinba-EL; baderj/domain_generation_algorithms commit c7d154a3)",
            },
            Known {
                seed: "j193HsnW72Yqns7u",
                config: r#"{"seed":"j193HsnW72Yqns7u","initial":"j193hsne720uie8i.cc","tlds":["com","net","biz","org"],"count":100}"#,
                source: "baderj/domain_generation_algorithms commit c7d154a39bb172c4632f7565e0c9380e8b36c18e \
                         (tinba/dga.py)",
            },
        ],
        reference: "https://johannesbader.ch/2015/04/new-top-level-domains-for-tinbas-dga/ (J. Bader, \
                    April 2015) and http://garage4hackers.com/entry.php?b=3086 (the DGA's first \
                    description)",
        oracle: "baderj/domain_generation_algorithms tinba/dga.py",
        build,
    }],
};

/// The seed string's length in every sample.
const SEED_LEN: usize = 16;
/// Letters per generated name.
const NAME_LEN: usize = 12;
/// Characters of the previous name a step reads.
const MIN_INITIAL: usize = NAME_LEN + 1;
/// The longest DNS name.
const MAX_DOMAIN: usize = 253;
/// The longest DNS label.
const MAX_LABEL: usize = 63;
/// Caps on a user's configuration, so that a typo cannot ask for millions
/// of names (the published samples use 1 to 4 TLDs and 100 or 1000 steps).
/// A generated name is 12 letters, a dot and one TLD label, so it is always
/// a valid DNS name.
const MAX_TLDS: usize = 16;
const MAX_COUNT: u64 = 10_000;
/// A letter is drawn from 256 running bytes x 256 sum bytes: if none of
/// these states gives a letter, the sample would loop forever. (An
/// exhaustive walk of the states for every pair of previous characters
/// found at most 242 tries and no letter-free cycle, so this only guards.)
const MAX_TRIES: usize = 256 * 256;
/// What the printed seed carries after the seed string when the
/// configuration is not the seed's published one, before 8 hex digits of
/// its hash.
const CFG_TAG: &str = "/cfg-";
/// Bytes of the configuration's SHA-256 printed in the label.
const CFG_HASH_BYTES: usize = 4;
/// Configuration keys.
const KEYS: &[&str] = &["seed", "initial", "tlds", "count"];

fn bad_config(reason: impl Into<String>) -> Error {
    Error::BadConfig {
        family: "tinba".into(),
        reason: reason.into(),
    }
}

fn build(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    let empty = Value::Object(Default::default());
    let config = match spec.config {
        Some(c) => {
            check_config_keys("tinba", c, KEYS)?;
            c
        }
        None => &empty,
    };
    // `--seed` takes the seed string, or the label a run printed
    // (`<seed>/cfg-<hash>`), whose hash must then match the configuration.
    // The seed is exactly 16 characters (it may contain '/'), so the
    // label's tail is found by position.
    let (seed, label_hash) = match spec.seed {
        Some(s) => match s
            .get(SEED_LEN..)
            .and_then(|tail| tail.strip_prefix(CFG_TAG))
        {
            Some(h) => (&s[..SEED_LEN], Some(h)),
            None => (s, None),
        },
        None => (
            config_str("tinba", config, "seed")?.ok_or_else(|| Error::NeedsSeed("tinba".into()))?,
            None,
        ),
    };
    let seed_bytes = parse_seed(seed)?;
    // The published configuration of this seed, if any, fills what the
    // user's configuration leaves out.
    let known: Option<Value> = FAMILY.variants[0]
        .known
        .iter()
        .find(|k| k.seed == seed)
        .and_then(|k| serde_json::from_str(k.config).ok());
    let field = |key: &str| -> Option<&Value> {
        config
            .get(key)
            .filter(|v| !v.is_null())
            .or_else(|| known.as_ref().and_then(|k| k.get(key)))
    };
    let missing = |key: &str| {
        bad_config(format!(
            "no '{key}': seed {seed} has no published configuration, so --config must give \
             'initial', 'tlds' and 'count'"
        ))
    };
    let initial = match field("initial") {
        Some(Value::String(s)) => parse_initial(s)?,
        Some(_) => return Err(bad_config("'initial' must be a string")),
        None => return Err(missing("initial")),
    };
    let tlds = match field("tlds") {
        Some(v) => parse_tlds(v)?,
        None => return Err(missing("tlds")),
    };
    let count = match field("count") {
        Some(v) => v.as_u64().filter(|n| *n <= MAX_COUNT).ok_or_else(|| {
            bad_config(format!("'count' must be an integer from 0 to {MAX_COUNT}"))
        })? as usize,
        None => return Err(missing("count")),
    };
    // The published configurations are printed as their seed alone; any
    // other gets its hash, so that two configurations sharing a seed
    // string never print the same label.
    let published = known.as_ref().is_some_and(|k| {
        k.get("initial").and_then(Value::as_str) == Some(initial.as_str())
            && k.get("count").and_then(Value::as_u64) == Some(count as u64)
            && k.get("tlds").and_then(Value::as_array).is_some_and(|t| {
                t.iter()
                    .map(Value::as_str)
                    .eq(tlds.iter().map(|t| Some(t.as_str())))
            })
    });
    let cfg_hash = (!published).then(|| config_hash(&initial, &tlds, count));
    if let Some(h) = label_hash
        && cfg_hash
            .as_deref()
            .is_none_or(|ours| !h.eq_ignore_ascii_case(ours))
    {
        return Err(Error::BadSeed {
            family: "tinba".into(),
            seed: spec.seed.unwrap_or_default().chars().take(80).collect(),
            reason: match &cfg_hash {
                None => format!(
                    "the label's configuration hash {h:?} does not match: this is the seed's \
                     published configuration (give --config with the file the label was printed \
                     for, or the plain seed)"
                ),
                Some(ours) => format!(
                    "the label's configuration hash {h:?} does not match this configuration's, \
                     {ours} (the label was printed for another --config)"
                ),
            },
        });
    }
    let domains = chain(&seed_bytes, &initial, &tlds, count)?;
    let mut label = seed.to_string();
    if let Some(h) = cfg_hash {
        label.push_str(CFG_TAG);
        label.push_str(&h);
    }
    Ok(Box::new(Tinba {
        seed: label,
        domains,
    }))
}

/// 8 hex digits of the SHA-256 of a configuration's initial domain (as
/// given: its case feeds the first step), TLDs and step count, in a
/// canonical form (none of them can hold a newline or a comma).
fn config_hash(initial: &str, tlds: &[String], count: usize) -> String {
    let text = format!(
        "tinba-config-v1\ninitial={initial}\ntlds={}\ncount={count}\n",
        tlds.join(",")
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..CFG_HASH_BYTES])
}

fn parse_seed(seed: &str) -> Result<[u8; SEED_LEN], Error> {
    let bad = |reason: String| Error::BadSeed {
        family: "tinba".into(),
        seed: seed.chars().take(80).collect(),
        reason,
    };
    if !seed.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "expected printable ASCII characters (no spaces or control characters)".into(),
        ));
    }
    seed.as_bytes().try_into().map_err(|_| {
        bad(format!(
            "expected {SEED_LEN} characters, got {}",
            seed.len()
        ))
    })
}

/// The initial domain as the sample holds it (its bytes feed the first
/// step, so case is kept for the computation).
fn parse_initial(s: &str) -> Result<String, Error> {
    if !(MIN_INITIAL..=MAX_DOMAIN).contains(&s.len()) {
        return Err(bad_config(format!(
            "'initial' must be a domain of {MIN_INITIAL} to {MAX_DOMAIN} characters (the first \
             step reads its first {MIN_INITIAL}), got {}",
            s.len()
        )));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        || !s.contains('.')
        || !s
            .split('.')
            .all(|label| (1..=MAX_LABEL).contains(&label.len()))
    {
        return Err(bad_config(format!(
            "'initial' must be a domain name (letters, digits, hyphens; labels of 1 to \
             {MAX_LABEL} characters between dots), got '{}'",
            s.chars().take(80).collect::<String>()
        )));
    }
    Ok(s.to_string())
}

fn parse_tlds(v: &Value) -> Result<Vec<String>, Error> {
    let list = v
        .as_array()
        .ok_or_else(|| bad_config("'tlds' must be an array of strings"))?;
    if list.is_empty() || list.len() > MAX_TLDS {
        return Err(bad_config(format!(
            "'tlds' must hold 1 to {MAX_TLDS} TLDs, got {}",
            list.len()
        )));
    }
    list.iter()
        .map(|t| {
            let t = t
                .as_str()
                .ok_or_else(|| bad_config("'tlds' must be an array of strings"))?;
            let ok = !t.is_empty()
                && t.len() <= MAX_LABEL
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !t.starts_with('-')
                && !t.ends_with('-');
            if ok {
                Ok(t.to_ascii_lowercase())
            } else {
                Err(bad_config(format!(
                    "TLD '{}' is not a DNS label (write `com`, without a dot)",
                    t.chars().take(80).collect::<String>()
                )))
            }
        })
        .collect()
}

/// Every name of a configuration, in the order the sample tries them.
fn chain(
    seed: &[u8; SEED_LEN],
    initial: &str,
    tlds: &[String],
    count: usize,
) -> Result<Vec<String>, Error> {
    let seed_sum: u32 = seed.iter().map(|&b| u32::from(b)).sum();
    let start = seed[SEED_LEN - 1];
    let mut out = Vec::with_capacity(1 + count * tlds.len());
    out.push(initial.to_ascii_lowercase());
    // The characters a step reads: the first 13 of the previous name
    // (after the initial domain, a generated name and its dot).
    let mut prev = [0u8; MIN_INITIAL];
    prev.copy_from_slice(&initial.as_bytes()[..MIN_INITIAL]);
    for _ in 0..count {
        let mut sum = seed_sum;
        let mut running = start;
        let mut name = [0u8; NAME_LEN];
        for (i, letter) in name.iter_mut().enumerate() {
            let mut tries = 0;
            *letter = loop {
                running = (running.wrapping_add(prev[i]) ^ sum as u8).wrapping_add(prev[i + 1]);
                if (b'b'..=b'y').contains(&running) {
                    break running;
                }
                sum = sum.wrapping_add(1);
                tries += 1;
                if tries >= MAX_TRIES {
                    return Err(bad_config(
                        "this seed and initial domain never yield a letter (the sample would \
                         loop forever)",
                    ));
                }
            };
        }
        // All of `b`-`y`: valid UTF-8.
        let base = std::str::from_utf8(&name).unwrap_or_default();
        for tld in tlds {
            let mut d = String::with_capacity(NAME_LEN + 1 + tld.len());
            d.push_str(base);
            d.push('.');
            d.push_str(tld);
            out.push(d);
        }
        prev[..NAME_LEN].copy_from_slice(&name);
        prev[NAME_LEN] = b'.';
    }
    Ok(out)
}

/// Tinba with its configuration's names computed.
struct Tinba {
    seed: String,
    domains: Vec<String>,
}

impl Dga for Tinba {
    fn family(&self) -> &'static str {
        "tinba"
    }
    fn variant(&self) -> &'static str {
        ""
    }
    fn seed(&self) -> String {
        self.seed.clone()
    }
    fn period(&self, _date: Date) -> Option<i64> {
        None
    }
    fn generate(&self, _date: Date, out: &mut Vec<String>) {
        out.extend_from_slice(&self.domains);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn build_with(seed: Option<&str>, config: Option<&Value>) -> Result<Box<dyn Dga>, Error> {
        (FAMILY.variant("").unwrap().build)(&Spec { seed, config })
    }

    fn names(dga: &dyn Dga) -> Vec<String> {
        let mut out = Vec::new();
        dga.generate(date!(2016 - 11 - 30), &mut out);
        out
    }

    #[test]
    fn lists_do_not_depend_on_the_date() {
        let dga = build_with(Some("jc74FlUna852Ji9o"), None).unwrap();
        let first = names(dga.as_ref());
        assert_eq!(first.len(), 1 + 100 * 4);
        let mut d = date!(2013 - 01 - 01);
        while d <= date!(2016 - 12 - 31) {
            assert_eq!(dga.period(d), None);
            d = d.next_day().unwrap();
        }
        let mut again = Vec::new();
        dga.generate(date!(2030 - 02 - 28), &mut again);
        assert_eq!(again, first);
    }

    #[test]
    fn known_seeds_bring_their_configuration() {
        for k in FAMILY.variants[0].known {
            let by_seed = names(build_with(Some(k.seed), None).unwrap().as_ref());
            let cfg: Value = serde_json::from_str(k.config).unwrap();
            let by_config = names(build_with(None, Some(&cfg)).unwrap().as_ref());
            assert_eq!(by_seed, by_config, "{}", k.seed);
            let count = cfg["count"].as_u64().unwrap() as usize;
            let tlds = cfg["tlds"].as_array().unwrap().len();
            assert_eq!(by_seed.len(), 1 + count * tlds);
            assert_eq!(by_seed[0], cfg["initial"].as_str().unwrap());
        }
        // A configuration may override one field of a published one.
        let short = json!({"seed": "oGkS3w3sGGOGG7oc", "count": 3});
        let few = names(build_with(None, Some(&short)).unwrap().as_ref());
        let all = names(build_with(Some("oGkS3w3sGGOGG7oc"), None).unwrap().as_ref());
        assert_eq!(few[..], all[..4]);
    }

    #[test]
    fn names_are_twelve_letters_b_to_y_with_every_tld() {
        let all = names(build_with(Some("yqokqFC2TPBFfJcG"), None).unwrap().as_ref());
        for group in all[1..].chunks(4) {
            let base = group[0].split_once('.').unwrap().0;
            assert_eq!(base.len(), NAME_LEN);
            assert!(base.bytes().all(|b| (b'b'..=b'y').contains(&b)), "{base}");
            let tlds: Vec<&str> = group.iter().map(|d| d.split_once('.').unwrap().1).collect();
            assert_eq!(tlds, ["pw", "us", "xyz", "club"]);
            assert!(group.iter().all(|d| d.starts_with(base)));
        }
    }

    #[test]
    fn an_unknown_seed_needs_a_full_configuration() {
        assert!(matches!(
            build_with(Some("AAAAAAAAAAAAAAAA"), None),
            Err(Error::BadConfig { .. })
        ));
        let cfg = json!({"initial": "abcdefghijklm.com", "tlds": ["com"], "count": 5});
        let dga = build_with(Some("AAAAAAAAAAAAAAAA"), Some(&cfg)).unwrap();
        assert_eq!(names(dga.as_ref()).len(), 6);
        assert!(
            dga.seed().starts_with("AAAAAAAAAAAAAAAA/cfg-"),
            "{}",
            dga.seed()
        );
        // --seed overrides the configuration's seed.
        let with_seed = json!({"seed": "BBBBBBBBBBBBBBBB", "initial": "abcdefghijklm.com",
                               "tlds": ["com"], "count": 5});
        let a = names(
            build_with(Some("AAAAAAAAAAAAAAAA"), Some(&with_seed))
                .unwrap()
                .as_ref(),
        );
        assert_eq!(a, names(dga.as_ref()));
    }

    #[test]
    fn bad_seeds_and_configs_are_rejected() {
        let huge = "x".repeat(100_000);
        for bad in [
            "",
            "short",
            "oGkS3w3sGGOGG7oc1",
            "oGkS3w3sGGOGG7o ",
            "oGkS3w3sGGOGG7\u{e9}",
            huge.as_str(),
        ] {
            assert!(
                matches!(build_with(Some(bad), None), Err(Error::BadSeed { .. })),
                "{bad:.20} accepted"
            );
        }
        assert!(matches!(build_with(None, None), Err(Error::NeedsSeed(_))));
        let seed = Some("AAAAAAAAAAAAAAAA");
        let long_initial = "a".repeat(300) + ".com";
        let many_tlds: Vec<String> = (0..MAX_TLDS + 1).map(|i| format!("t{i}")).collect();
        for cfg in [
            json!([]),
            json!("x"),
            json!({"initial": "abcdefghijklm.com", "tlds": ["com"], "count": 5, "extra": 1}),
            json!({"initial": "short.com", "tlds": ["com"], "count": 5}),
            json!({"initial": long_initial, "tlds": ["com"], "count": 5}),
            json!({"initial": "abcdefghijklm com", "tlds": ["com"], "count": 5}),
            json!({"initial": "abcdefghijklmcom", "tlds": ["com"], "count": 5}),
            json!({"initial": "abcdef..ghijklm.com", "tlds": ["com"], "count": 5}),
            json!({"initial": ".abcdefghijklm.com", "tlds": ["com"], "count": 5}),
            json!({"initial": "abcdefghijklm.com.", "tlds": ["com"], "count": 5}),
            json!({"initial": format!("{}.com", "a".repeat(MAX_LABEL + 1)), "tlds": ["com"], "count": 5}),
            json!({"initial": format!("abcdefghijklm.{}", "b".repeat(MAX_LABEL + 1)), "tlds": ["com"], "count": 5}),
            json!({"initial": "abcdefghijklm.com", "tlds": ["a".repeat(MAX_LABEL + 1)], "count": 5}),
            json!({"initial": 7, "tlds": ["com"], "count": 5}),
            json!({"initial": "abcdefghijklm.com", "tlds": [], "count": 5}),
            json!({"initial": "abcdefghijklm.com", "tlds": "com", "count": 5}),
            json!({"initial": "abcdefghijklm.com", "tlds": [".com"], "count": 5}),
            json!({"initial": "abcdefghijklm.com", "tlds": [1], "count": 5}),
            json!({"initial": "abcdefghijklm.com", "tlds": many_tlds, "count": 5}),
            json!({"initial": "abcdefghijklm.com", "tlds": ["com"], "count": -1}),
            json!({"initial": "abcdefghijklm.com", "tlds": ["com"], "count": 1.5}),
            json!({"initial": "abcdefghijklm.com", "tlds": ["com"], "count": MAX_COUNT + 1}),
            json!({"initial": "abcdefghijklm.com", "tlds": ["com"]}),
            json!({"seed": 5, "initial": "abcdefghijklm.com", "tlds": ["com"], "count": 5}),
        ] {
            let seed = if cfg.get("seed").is_some() {
                None
            } else {
                seed
            };
            assert!(
                matches!(build_with(seed, Some(&cfg)), Err(Error::BadConfig { .. })),
                "{cfg} accepted"
            );
        }
    }

    #[test]
    fn odd_seeds_and_initial_domains_build() {
        // Punctuation seeds, repeated characters, digits-only and
        // upper-case initial domains: each builds its full list (the
        // letter loop is bounded, see MAX_TRIES, so none can hang).
        for c in [b'!', b'0', b'A', b'z', b'~'] {
            let seed = String::from_utf8(vec![c; SEED_LEN]).unwrap();
            for initial in ["aaaaaaaaaaaaa.com", "ZZZZZZZZZZZZZ.COM", "0-0-0-0-0-0-0.0"] {
                let cfg = json!({"initial": initial, "tlds": ["com"], "count": 50});
                let dga = build_with(Some(&seed), Some(&cfg)).unwrap();
                let all = names(dga.as_ref());
                assert_eq!(all.len(), 51);
                assert_eq!(all[0], initial.to_ascii_lowercase());
            }
        }
    }

    #[test]
    fn the_longest_accepted_configuration_makes_valid_dns_names() {
        // Four labels of 63 and dots: 255 characters, too long; 253 fits.
        let label = "a".repeat(MAX_LABEL);
        let initial = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        assert_eq!(initial.len(), MAX_DOMAIN);
        let cfg = json!({"initial": initial, "tlds": ["c".repeat(MAX_LABEL)], "count": 3});
        let dga = build_with(Some("AAAAAAAAAAAAAAAA"), Some(&cfg)).unwrap();
        for n in names(dga.as_ref()) {
            assert!(n.len() <= MAX_DOMAIN, "{n}");
            assert!(
                n.split('.').all(|l| (1..=MAX_LABEL).contains(&l.len())),
                "{n}"
            );
        }
        let longer = json!({"initial": format!("{initial}b"), "tlds": ["com"], "count": 3});
        assert!(matches!(
            build_with(Some("AAAAAAAAAAAAAAAA"), Some(&longer)),
            Err(Error::BadConfig { .. })
        ));
    }

    #[test]
    fn labels_tell_configurations_apart() {
        let label = |seed: Option<&str>, cfg: Option<Value>| {
            build_with(seed, cfg.as_ref()).map(|d| d.seed())
        };
        // A published configuration, by its seed or spelt out: the seed.
        for k in FAMILY.variants[0].known {
            assert_eq!(label(Some(k.seed), None).unwrap(), k.seed);
            let cfg: Value = serde_json::from_str(k.config).unwrap();
            assert_eq!(label(None, Some(cfg)).unwrap(), k.seed);
        }
        let mut seen: std::collections::BTreeSet<String> = FAMILY.variants[0]
            .known
            .iter()
            .map(|k| k.seed.to_string())
            .collect();
        let seed = "oGkS3w3sGGOGG7oc";
        for cfg in [
            json!({"count": 999}),
            json!({"tlds": ["net"]}),
            json!({"tlds": ["com", "net"]}),
            json!({"initial": "ssrgwnrmgrxe.net"}),
            json!({"initial": "SSRGWNRMGRXE.com"}),
            json!({"initial": "abcdefghijklm.com", "tlds": ["in"], "count": 1}),
            json!({"initial": "abcdefghijklm.com", "tlds": ["in"], "count": 2}),
        ] {
            let l = label(Some(seed), Some(cfg.clone())).unwrap();
            assert!(
                l.starts_with("oGkS3w3sGGOGG7oc/cfg-") && l.len() == 29,
                "{l}"
            );
            assert!(seen.insert(l.clone()), "{cfg}: label {l} already printed");
            // The printed label is accepted back with its configuration
            // and gives the same names ...
            let again = build_with(Some(&l), Some(&cfg)).unwrap();
            assert_eq!(again.seed(), l);
            assert_eq!(
                names(again.as_ref()),
                names(build_with(Some(seed), Some(&cfg)).unwrap().as_ref())
            );
            // ... and refused with another configuration, or none.
            assert!(matches!(
                label(Some(&l), Some(json!({"count": 5}))),
                Err(Error::BadSeed { .. })
            ));
            assert!(matches!(label(Some(&l), None), Err(Error::BadSeed { .. })));
        }
        // A seed holding '/' still parses, plain and as a label.
        let odd = "PT/j7%aId*@HpG7U";
        let cfg = json!({"initial": "abcdefghijklm.com", "tlds": ["com"], "count": 2});
        let l = label(Some(odd), Some(cfg.clone())).unwrap();
        assert!(l.starts_with(odd), "{l}");
        assert_eq!(label(Some(&l), Some(cfg)).unwrap(), l);
    }
}
