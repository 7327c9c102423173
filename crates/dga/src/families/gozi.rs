//! Gozi / ISFB (Ursnif): the word-list DGA.
//!
//! ISFB builds its domains from the words of a public text (a licence, a
//! RFC, a historical text) rather than from random letters, so that its
//! names look like words. The algorithm, as GovCERT.ch described it
//! ("Gozi ISFB - When A Bug Really Is A Feature") and as the reference
//! script `gozi/dga.py` of baderj/domain_generation_algorithms runs it:
//!
//! * The period number is the number of days since 2015-01-01, divided
//!   (rounding down, also before the epoch) by the word list's period in
//!   days (3, 4 or 5).
//! * A 32-bit linear congruential generator (`r = 1664525 r + 1013904223`)
//!   starts at `seed + period number` (mod 2^32), where the reference's
//!   seed is `(1 << 16) - 306607824` = `0xedba8930`.
//! * For each of 12 domains: one draw is thrown away, the next gives the
//!   target length `12 + draw % 12`; then, while the name is shorter than
//!   that, a draw picks a word (`draw % number of words`), a further draw
//!   halves it (keeps its first half, rounding down) when it is divisible
//!   by 3, and the (possibly halved) word is appended unless the name
//!   would grow past 24 characters. The generator carries on from one
//!   domain to the next.
//!
//! The word lists are embedded (`gozi/*.txt`): each is the sequence of
//! words of its text, as the DGA indexes it (repeats kept). A custom list,
//! TLD, period, epoch, count or seed can be given with `--config`; the
//! printed seed then carries a hash of that configuration
//! (`0xedba8930/cfg-1a2b3c4d`), so that two generators never print the
//! same label.

use std::borrow::Cow;

use serde_json::Value;
use sha2::{Digest, Sha256};
use time::Date;
use time::macros::{date, format_description};

use crate::{
    Dga, Error, Family, Known, Spec, Variant, check_config_keys, config_str, day_number,
    parse_hex_u32,
};

const FAMILY_NAME: &str = "gozi";

/// The LCG's start before the period number is added, as the reference
/// computes it: `(flag << 16) - 306607824` with flag 1, mod 2^32.
const REFERENCE_SEED: u32 = 0xedba_8930;

/// The day the period numbers count from.
const REFERENCE_EPOCH: Date = date!(2015 - 01 - 01);

/// Domains generated per period (the reference's `nr` table entries are
/// not used: it always makes 12).
const DOMAINS_PER_PERIOD: usize = 12;

/// Names are at least this long (before the TLD) ...
const MIN_NAME_LEN: u32 = 12;
/// ... plus a draw modulo this.
const NAME_LEN_SPREAD: u32 = 12;
/// A word that would make the name longer than this is skipped.
const MAX_NAME_LEN: usize = 24;

/// LCG multiplier and increment (Numerical Recipes' constants).
const LCG_MUL: u32 = 1_664_525;
const LCG_ADD: u32 = 1_013_904_223;

/// Generator draws allowed for one period, all names together. A custom
/// list that can never fill a name (only long words) keeps the malware,
/// and the reference script, drawing forever; one that fills names only
/// rarely makes each name cost as many draws as the list likes. Either
/// way a hostile `--config` could make a window take hours (10,000 names
/// of 20,000 draws each, every day). The slowest list that always
/// completes (one-letter words, halved to nothing a third of the time)
/// needs about 55 draws a name, so [`MAX_COUNT`] names fit in this budget
/// with a margin of more than three, and the budget costs a few
/// milliseconds; past it the period's remaining names are not generated
/// (the malware would be stuck there too).
const MAX_DRAWS_PER_PERIOD: u64 = 2_000_000;

/// Limits on a custom configuration (it comes from a user's file).
/// Most words: the built-in lists have 558 to 4379; this bounds the memory
/// a hostile list takes (about 10 MB).
const MAX_CONFIG_WORDS: usize = 100_000;
/// Longest custom word: a DNS label.
const MAX_WORD_LEN: usize = 63;
/// The longest DNS name (RFC 1035), without the trailing dot.
const MAX_DNS_NAME: usize = 253;
/// Longest custom TLD, without its dot: a generated label of up to
/// [`MAX_NAME_LEN`] characters and a dot before it must still make a DNS
/// name.
const MAX_TLD_LEN: usize = MAX_DNS_NAME - MAX_NAME_LEN - 1;
/// Longest custom period (one year is already far beyond what samples use).
const MAX_PERIOD_DAYS: i64 = 366;
/// Most domains per period a custom configuration may ask for. Samples
/// make 12; a larger count only multiplies the work of every period of a
/// window (with a one-day period, a year of 10,000 names a day is 3.65
/// million names), so this stops a configuration from asking for more.
const MAX_COUNT: usize = 10_000;

/// What the printed seed carries after the LCG base when the configuration
/// is not the variant's own, before 8 hex digits of its hash.
const CFG_TAG: &str = "/cfg-";
/// Bytes of the configuration's SHA-256 printed in the label.
const CFG_HASH_BYTES: usize = 4;

/// Keys `--config` takes.
const CONFIG_KEYS: &[&str] = &["seed", "words", "tld", "period_days", "epoch", "count"];

const CONFIG_SYNTAX: &str = "JSON object, every key optional (the variant's value by default): \
     \"words\": list of words (ASCII letters, digits, '-'; at most 63 characters each), \
     replacing the built-in list, in the order the DGA indexes them; \
     \"tld\": \"com\" or \".com\"; \"period_days\": integer 1-366; \
     \"epoch\": \"YYYY-MM-DD\" the period numbers count from; \
     \"count\": domains per period (1-10000); \
     \"seed\": 32-bit hex LCG base (as --seed, which overrides it). A TLD is at most 228 \
     characters, so that every name is a valid DNS name";

const SEED_SYNTAX: &str = "32-bit hex number (with or without 0x): the LCG start before \
     the period number is added; the reference's is 0xedba8930. With a --config that \
     differs from the variant's own, the seed is printed with a hash of the configuration \
     (0xedba8930/cfg-1a2b3c4d); --seed takes that form too, and then checks the hash";

const REFERENCE: &str = "GovCERT.ch, \"Gozi ISFB - When A Bug Really Is A Feature\" \
     (http://www.govcert.admin.ch/blog/18/gozi-isfb-when-a-bug-really-is-a-feature); \
     J. Bader's reimplementation gozi/dga.py";

const ORACLE: &str = "github.com/baderj/domain_generation_algorithms gozi/dga.py \
     (commit 09961a14f4ab72837b9139470271a4fbf767f565), run with python3";

const KNOWN: &[Known] = &[Known {
    seed: "0xedba8930",
    config: "",
    source: "github.com/baderj/domain_generation_algorithms gozi/dga.py \
             ((1 << 16) - 306607824), after GovCERT.ch's analysis of ISFB samples",
}];

/// One built-in word list and the parameters the reference pairs with it.
struct WordList {
    /// Variant name, as the reference names the list.
    name: &'static str,
    /// The list's text (`#` comment lines, then words separated by
    /// whitespace).
    text: &'static str,
    /// Days per period.
    period_days: i64,
    /// TLD, with its leading dot.
    tld: &'static str,
}

// The texts are public: see the comment at the top of each file.
const LUTHER: WordList = WordList {
    name: "luther",
    text: include_str!("gozi/luther.txt"),
    period_days: 4,
    tld: ".com",
};
const RFC4343: WordList = WordList {
    name: "rfc4343",
    text: include_str!("gozi/rfc4343.txt"),
    period_days: 3,
    tld: ".com",
};
const NASA: WordList = WordList {
    name: "nasa",
    text: include_str!("gozi/nasa.txt"),
    period_days: 5,
    tld: ".com",
};
const GPL: WordList = WordList {
    name: "gpl",
    text: include_str!("gozi/gpl.txt"),
    period_days: 5,
    tld: ".ru",
};

/// Gozi / ISFB, one variant per word list.
pub static FAMILY: Family = Family {
    name: FAMILY_NAME,
    aliases: &["isfb", "ursnif"],
    title: "Gozi / ISFB (Ursnif): names made of the words of a public text, 12 per 3-5 days",
    variants: &[
        Variant {
            name: "luther",
            summary: "Words of Luther's 95 theses (Latin, 1517); 12 .com names of 12-24 \
                      characters every 4 days (periods counted from 2015-01-01). The bot \
                      tries them in order until one answers.",
            parameters: &[
                (
                    "seed",
                    "LCG base 0xedba8930 ((1 << 16) - 306607824), plus the period number",
                ),
                (
                    "word list",
                    "Luther's 95 theses, 1537 words (gozi/luther.txt)",
                ),
                ("TLD", ".com"),
                ("domains per period", "12"),
                ("period", "4 days, numbered from 2015-01-01 (UTC)"),
            ],
            seed_syntax: SEED_SYNTAX,
            config_syntax: Some(CONFIG_SYNTAX),
            known: KNOWN,
            reference: REFERENCE,
            oracle: ORACLE,
            build: build_luther,
        },
        Variant {
            name: "rfc4343",
            summary: "Words of RFC 4343 (DNS case insensitivity); 12 .com names of 12-24 \
                      characters every 3 days (periods counted from 2015-01-01).",
            parameters: &[
                (
                    "seed",
                    "LCG base 0xedba8930 ((1 << 16) - 306607824), plus the period number",
                ),
                ("word list", "RFC 4343, 2460 words (gozi/rfc4343.txt)"),
                ("TLD", ".com"),
                ("domains per period", "12"),
                ("period", "3 days, numbered from 2015-01-01 (UTC)"),
            ],
            seed_syntax: SEED_SYNTAX,
            config_syntax: Some(CONFIG_SYNTAX),
            known: KNOWN,
            reference: REFERENCE,
            oracle: ORACLE,
            build: build_rfc4343,
        },
        Variant {
            name: "nasa",
            summary: "Words of a NASA news release; 12 .com names of 12-24 characters \
                      every 5 days (periods counted from 2015-01-01).",
            parameters: &[
                (
                    "seed",
                    "LCG base 0xedba8930 ((1 << 16) - 306607824), plus the period number",
                ),
                (
                    "word list",
                    "a NASA news release, 558 words (gozi/nasa.txt)",
                ),
                ("TLD", ".com"),
                ("domains per period", "12"),
                ("period", "5 days, numbered from 2015-01-01 (UTC)"),
            ],
            seed_syntax: SEED_SYNTAX,
            config_syntax: Some(CONFIG_SYNTAX),
            known: KNOWN,
            reference: REFERENCE,
            oracle: ORACLE,
            build: build_nasa,
        },
        Variant {
            name: "gpl",
            summary: "Words of the GNU GPL version 3; 12 .ru names of 12-24 characters \
                      every 5 days (periods counted from 2015-01-01).",
            parameters: &[
                (
                    "seed",
                    "LCG base 0xedba8930 ((1 << 16) - 306607824), plus the period number",
                ),
                ("word list", "GNU GPL version 3, 4379 words (gozi/gpl.txt)"),
                ("TLD", ".ru"),
                ("domains per period", "12"),
                ("period", "5 days, numbered from 2015-01-01 (UTC)"),
            ],
            seed_syntax: SEED_SYNTAX,
            config_syntax: Some(CONFIG_SYNTAX),
            known: KNOWN,
            reference: REFERENCE,
            oracle: ORACLE,
            build: build_gpl,
        },
    ],
};

fn build_luther(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    build(&LUTHER, spec)
}
fn build_rfc4343(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    build(&RFC4343, spec)
}
fn build_nasa(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    build(&NASA, spec)
}
fn build_gpl(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    build(&GPL, spec)
}

/// The words of a built-in list, in order.
fn builtin_words(list: &WordList) -> Vec<Cow<'static, str>> {
    list.text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_ascii_whitespace)
        .map(Cow::Borrowed)
        .collect()
}

/// A Gozi generator with its word list and parameters fixed.
struct Gozi {
    variant: &'static str,
    seed: u32,
    words: Vec<Cow<'static, str>>,
    tld: Cow<'static, str>,
    period_days: i64,
    epoch_day: i64,
    count: usize,
    /// `/cfg-<hash>` when the configuration differs from the variant's
    /// own (see [`CFG_TAG`]), else empty.
    cfg_label: String,
}

fn bad_config(variant: &str, reason: impl Into<String>) -> Error {
    Error::BadConfig {
        family: format!("{FAMILY_NAME}/{variant}"),
        reason: reason.into(),
    }
}

fn build(list: &'static WordList, spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    Ok(Box::new(build_gozi(list, spec)?))
}

fn build_gozi(list: &'static WordList, spec: &Spec<'_>) -> Result<Gozi, Error> {
    let family = format!("{FAMILY_NAME}/{}", list.name);
    if spec.seed.is_none() && spec.config.is_none() {
        return Err(Error::NeedsSeed(family));
    }
    let mut dga = Gozi {
        variant: list.name,
        seed: REFERENCE_SEED,
        words: Vec::new(),
        tld: Cow::Borrowed(list.tld),
        period_days: list.period_days,
        epoch_day: day_number(REFERENCE_EPOCH),
        count: DOMAINS_PER_PERIOD,
        cfg_label: String::new(),
    };
    let mut custom_words = None;
    if let Some(config) = spec.config {
        check_config_keys(&family, config, CONFIG_KEYS)?;
        if let Some(s) = config_str(&family, config, "seed")? {
            dga.seed = parse_hex_u32(&family, s)?;
        }
        if let Some(t) = config_str(&family, config, "tld")? {
            dga.tld = Cow::Owned(parse_tld(list.name, t)?);
        }
        if let Some(e) = config_str(&family, config, "epoch")? {
            let ymd = format_description!("[year]-[month]-[day]");
            let d = Date::parse(e, &ymd).map_err(|err| {
                bad_config(
                    list.name,
                    format!("'epoch' {e:?} is not a YYYY-MM-DD date: {err}"),
                )
            })?;
            dga.epoch_day = day_number(d);
        }
        if let Some(v) = config.get("period_days").filter(|v| !v.is_null()) {
            dga.period_days = config_int(list.name, "period_days", v, 1, MAX_PERIOD_DAYS)?;
        }
        if let Some(v) = config.get("count").filter(|v| !v.is_null()) {
            let n = config_int(list.name, "count", v, 1, MAX_COUNT as i64)?;
            dga.count = usize::try_from(n).map_err(|_| bad_config(list.name, "'count' too big"))?;
        }
        if let Some(v) = config.get("words").filter(|v| !v.is_null()) {
            custom_words = Some(parse_words(list.name, v)?);
        }
    }
    // `--seed` takes the plain seed, or the label a run printed
    // (`<seed>/cfg-<hash>`), whose hash must then match the configuration.
    let mut label_hash = None;
    if let Some(s) = spec.seed {
        let (plain, hash) = match s.trim().split_once(CFG_TAG) {
            Some((p, h)) => (p, Some(h)),
            None => (s, None),
        };
        dga.seed = parse_hex_u32(&family, plain)?;
        label_hash = hash;
    }
    let builtin = builtin_words(list);
    let custom_list = custom_words.as_ref().is_some_and(|w| *w != builtin);
    dga.words = custom_words.unwrap_or(builtin);
    if custom_list
        || dga.tld != list.tld
        || dga.period_days != list.period_days
        || dga.epoch_day != day_number(REFERENCE_EPOCH)
        || dga.count != DOMAINS_PER_PERIOD
    {
        dga.cfg_label = format!("{CFG_TAG}{}", dga.config_hash());
    }
    if let Some(h) = label_hash {
        let ours = dga.cfg_label.strip_prefix(CFG_TAG).unwrap_or("");
        if ours.is_empty() || !h.eq_ignore_ascii_case(ours) {
            return Err(Error::BadSeed {
                family,
                seed: s_short(spec.seed.unwrap_or_default()),
                reason: if ours.is_empty() {
                    format!(
                        "the label's configuration hash {h:?} does not match: this is the \
                         variant's own configuration (give --config with the file the label \
                         was printed for, or the plain seed)"
                    )
                } else {
                    format!(
                        "the label's configuration hash {h:?} does not match this \
                         configuration's, {ours} (the label was printed for another --config)"
                    )
                },
            });
        }
    }
    Ok(dga)
}

/// The first characters of a user's seed, for an error message.
fn s_short(s: &str) -> String {
    s.chars().take(80).collect()
}

/// An integer configuration value within `min..=max`.
fn config_int(variant: &str, key: &str, v: &Value, min: i64, max: i64) -> Result<i64, Error> {
    v.as_i64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            bad_config(
                variant,
                format!("'{key}' must be an integer from {min} to {max}, not {v}"),
            )
        })
}

/// A TLD as the config gives it (`com`, `.com`, `co.uk`), with a leading
/// dot, lowercase.
fn parse_tld(variant: &str, t: &str) -> Result<String, Error> {
    let bare = t.strip_prefix('.').unwrap_or(t);
    let ok = !bare.is_empty()
        && bare.len() <= MAX_TLD_LEN
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_WORD_LEN
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !ok {
        return Err(bad_config(
            variant,
            format!("'tld' {t:?} is not a DNS name (letters, digits, '-', dots between labels)"),
        ));
    }
    Ok(format!(".{}", bare.to_ascii_lowercase()))
}

/// A custom word list: a JSON array of label-safe words, lowercased.
fn parse_words(variant: &str, v: &Value) -> Result<Vec<Cow<'static, str>>, Error> {
    let Some(items) = v.as_array() else {
        return Err(bad_config(variant, "'words' must be a list of strings"));
    };
    if items.is_empty() {
        return Err(bad_config(variant, "'words' is empty"));
    }
    if items.len() > MAX_CONFIG_WORDS {
        return Err(bad_config(
            variant,
            format!(
                "'words' has {} words, more than {MAX_CONFIG_WORDS}",
                items.len()
            ),
        ));
    }
    let mut words = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(w) = item.as_str() else {
            return Err(bad_config(variant, format!("'words'[{i}] is not a string")));
        };
        // A word becomes part of a DNS label, and halving cuts it at a byte
        // index: ASCII letters, digits and '-' only.
        if w.is_empty()
            || w.len() > MAX_WORD_LEN
            || !w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            let shown: String = w.chars().take(80).collect();
            return Err(bad_config(
                variant,
                format!(
                    "'words'[{i}] {shown:?} is not 1-{MAX_WORD_LEN} ASCII letters, digits or '-'"
                ),
            ));
        }
        words.push(Cow::Owned(w.to_ascii_lowercase()));
    }
    Ok(words)
}

impl Gozi {
    /// The period number of `date`: days since the epoch, divided rounding
    /// down (Python's `//`, which the reference uses, also for dates before
    /// the epoch).
    fn period_number(&self, date: Date) -> i64 {
        (day_number(date) - self.epoch_day).div_euclid(self.period_days)
    }

    /// 8 hex digits of the SHA-256 of everything but the seed that decides
    /// the names, in a canonical form: words (never blank, so a space
    /// separates them unambiguously), TLD, period, epoch and count.
    fn config_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"gozi-config-v1\nwords=");
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                h.update(b" ");
            }
            h.update(w.as_bytes());
        }
        h.update(
            format!(
                "\ntld={}\nperiod_days={}\nepoch_day={}\ncount={}\n",
                self.tld, self.period_days, self.epoch_day, self.count
            )
            .as_bytes(),
        );
        hex::encode(&h.finalize()[..CFG_HASH_BYTES])
    }

    /// Appends the names of `date`'s period and returns the generator
    /// draws it took: at most [`MAX_DRAWS_PER_PERIOD`] plus the three of a
    /// word and a name's start drawn after the last check.
    fn fill(&self, date: Date, out: &mut Vec<String>) -> u64 {
        // The seed and the period number are added as integers and then
        // truncated to 32 bits (the reference's c_uint).
        let period = self.period_number(date).rem_euclid(1 << 32) as u32;
        let mut lcg = Lcg {
            state: self.seed.wrapping_add(period),
            draws: 0,
        };
        // At most MAX_CONFIG_WORDS words, so the count fits in 32 bits.
        let n_words = self.words.len() as u32;
        out.reserve(self.count);
        for _ in 0..self.count {
            lcg.draw();
            let target = (MIN_NAME_LEN + lcg.draw() % NAME_LEN_SPREAD) as usize;
            let mut name = String::with_capacity(MAX_NAME_LEN + self.tld.len());
            while name.len() < target {
                if lcg.draws >= MAX_DRAWS_PER_PERIOD {
                    // The malware would spin here (forever, or longer than
                    // a window can afford): no later name of this period
                    // is generated.
                    return lcg.draws;
                }
                let word = &self.words[(lcg.draw() % n_words) as usize];
                let mut len = word.len();
                if lcg.draw().is_multiple_of(3) {
                    len >>= 1;
                }
                if name.len() + len <= MAX_NAME_LEN {
                    name.push_str(&word[..len]);
                }
            }
            name.push_str(&self.tld);
            out.push(name);
        }
        lcg.draws
    }
}

/// The 32-bit LCG, counting its draws for the period's budget.
struct Lcg {
    state: u32,
    draws: u64,
}

impl Lcg {
    fn draw(&mut self) -> u32 {
        self.draws += 1;
        self.state = self.state.wrapping_mul(LCG_MUL).wrapping_add(LCG_ADD);
        self.state
    }
}

impl Dga for Gozi {
    fn family(&self) -> &'static str {
        FAMILY_NAME
    }

    fn variant(&self) -> &'static str {
        self.variant
    }

    fn seed(&self) -> String {
        format!("{:#010x}{}", self.seed, self.cfg_label)
    }

    fn period(&self, date: Date) -> Option<i64> {
        Some(self.period_number(date))
    }

    fn generate(&self, date: Date, out: &mut Vec<String>) {
        self.fill(date, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gen_for(dga: &dyn Dga, d: Date) -> Vec<String> {
        let mut v = Vec::new();
        dga.generate(d, &mut v);
        v
    }

    fn known(variant: &str) -> Box<dyn Dga> {
        let v = FAMILY.variant(variant).unwrap();
        (v.build)(&Spec {
            seed: Some("0xedba8930"),
            config: None,
        })
        .unwrap()
    }

    #[test]
    fn builtin_lists_have_the_reference_word_counts() {
        for (list, n) in [
            (&LUTHER, 1537),
            (&RFC4343, 2460),
            (&NASA, 558),
            (&GPL, 4379),
        ] {
            let words = builtin_words(list);
            assert_eq!(words.len(), n, "{}", list.name);
            assert!(
                words
                    .iter()
                    .all(|w| w.bytes().all(|b| b.is_ascii_lowercase())),
                "{}",
                list.name
            );
        }
    }

    #[test]
    fn period_is_exact_over_years() {
        for variant in ["luther", "rfc4343", "nasa", "gpl"] {
            let dga = known(variant);
            crate::testing::check_periods(
                &*dga,
                date!(2013 - 01 - 01),
                date!(2019 - 12 - 31),
                false,
            );
            assert_eq!(
                gen_for(&*dga, date!(2016 - 11 - 30)).len(),
                DOMAINS_PER_PERIOD
            );
        }
    }

    #[test]
    fn periods_before_the_epoch_round_down() {
        let dga = known("luther");
        assert_eq!(dga.period(date!(2015 - 01 - 01)), Some(0));
        assert_eq!(dga.period(date!(2015 - 01 - 04)), Some(0));
        assert_eq!(dga.period(date!(2015 - 01 - 05)), Some(1));
        assert_eq!(dga.period(date!(2014 - 12 - 31)), Some(-1));
        assert_eq!(dga.period(date!(2014 - 12 - 28)), Some(-1));
        assert_eq!(dga.period(date!(2014 - 12 - 27)), Some(-2));
    }

    #[test]
    fn names_are_within_bounds() {
        let dga = known("gpl");
        for d in [
            date!(2016 - 11 - 30),
            date!(-9999 - 01 - 01),
            date!(9999 - 12 - 31),
        ] {
            for n in gen_for(&*dga, d) {
                let label = n.strip_suffix(".ru").unwrap();
                assert!((12..=24).contains(&label.len()), "{n}");
            }
        }
    }

    #[test]
    fn seed_and_config_parse_and_override() {
        let v = FAMILY.variant("nasa").unwrap();
        let cfg = json!({"seed": "0x1", "words": ["Alpha", "be", "gamma-ray"], "tld": ".Example",
                         "period_days": 1, "epoch": "2020-02-29", "count": 3});
        let dga = (v.build)(&Spec {
            seed: None,
            config: Some(&cfg),
        })
        .unwrap();
        assert!(dga.seed().starts_with("0x00000001/cfg-"), "{}", dga.seed());
        assert_eq!(dga.period(date!(2020 - 02 - 29)), Some(0));
        assert_eq!(dga.period(date!(2020 - 03 - 01)), Some(1));
        let names = gen_for(&*dga, date!(2020 - 03 - 01));
        assert_eq!(names.len(), 3);
        for n in &names {
            let label = n.strip_suffix(".example").unwrap();
            assert!(
                label.bytes().all(|b| b"alphabegamma-ry".contains(&b)),
                "{n}"
            );
        }
        let over = (v.build)(&Spec {
            seed: Some("2"),
            config: Some(&cfg),
        })
        .unwrap();
        assert_eq!(
            over.seed(),
            dga.seed().replacen("0x00000001", "0x00000002", 1)
        );
        assert_ne!(gen_for(&*over, date!(2020 - 03 - 01)), names);
    }

    #[test]
    fn bad_seeds_and_configs_are_rejected() {
        let v = FAMILY.variant("luther").unwrap();
        assert!(matches!(
            (v.build)(&Spec::default()),
            Err(Error::NeedsSeed(_))
        ));
        for s in ["", "xyz", "0x1_0000_0000", &"f".repeat(100_000)] {
            assert!(
                matches!(
                    (v.build)(&Spec {
                        seed: Some(s),
                        config: None
                    }),
                    Err(Error::BadSeed { .. })
                ),
                "{s:.20}"
            );
        }
        for cfg in [
            json!([]),
            json!({"wordz": []}),
            json!({"words": []}),
            json!({"words": "abc"}),
            json!({"words": [1]}),
            json!({"words": [""]}),
            json!({"words": ["a b"]}),
            json!({"words": ["é"]}),
            json!({"words": ["a".repeat(64)]}),
            json!({"tld": ""}),
            json!({"tld": "a..b"}),
            json!({"tld": "com/"}),
            json!({"period_days": 0}),
            json!({"period_days": 1.5}),
            json!({"period_days": "3"}),
            json!({"count": 0}),
            json!({"count": MAX_COUNT + 1}),
            json!({"count": 10_001}),
            json!({"count": 100_000}),
            json!({"tld": tld_of(229)}),
            json!({"count": 1_000_000_000u64}),
            json!({"tld": "a".repeat(MAX_WORD_LEN + 1)}),
            json!({"tld": tld_of(MAX_TLD_LEN + 1)}),
            json!({"words": vec!["a"; MAX_CONFIG_WORDS + 1]}),
            json!({"epoch": "2015-13-01"}),
            json!({"seed": 5}),
        ] {
            let r = (v.build)(&Spec {
                seed: None,
                config: Some(&cfg),
            });
            assert!(
                matches!(r, Err(Error::BadConfig { .. }) | Err(Error::BadSeed { .. })),
                "{cfg}"
            );
        }
    }

    #[test]
    fn a_list_that_cannot_fill_a_name_stops_instead_of_hanging() {
        // Words of 20 letters: after one, no whole or halved word fits the
        // remaining 4 characters, yet the name may need to be longer.
        let v = FAMILY.variant("luther").unwrap();
        let cfg = json!({"words": ["abcdefghijabcdefghij"], "count": 50});
        let dga = (v.build)(&Spec {
            seed: None,
            config: Some(&cfg),
        })
        .unwrap();
        let names = gen_for(&*dga, date!(2016 - 11 - 30));
        assert!(names.len() < 50, "some name must need more than 20 letters");
        for n in names {
            assert!(n.len() - ".com".len() >= 12);
        }
    }

    /// A TLD of `len` characters: labels of 63 letters joined by dots.
    fn tld_of(len: usize) -> String {
        let mut t = String::new();
        while t.len() < len {
            if !t.is_empty() && t.len() % (MAX_WORD_LEN + 1) == MAX_WORD_LEN {
                t.push('.');
            } else {
                t.push('a');
            }
        }
        if t.ends_with('.') {
            t.pop();
            t.push_str("bb");
            t.truncate(len);
        }
        t
    }

    #[test]
    fn a_custom_tld_never_makes_a_name_longer_than_253() {
        let v = FAMILY.variant("luther").unwrap();
        let tld = tld_of(MAX_TLD_LEN);
        assert_eq!(tld.len(), 228);
        // Words that fill the full 24 characters.
        let cfg = json!({"tld": tld, "words": ["abcdefghijkl"], "count": 40});
        let dga = (v.build)(&Spec {
            seed: None,
            config: Some(&cfg),
        })
        .unwrap();
        let names = gen_for(&*dga, date!(2016 - 11 - 30));
        assert_eq!(names.len(), 40);
        assert!(names.iter().any(|n| n.len() == MAX_DNS_NAME));
        for n in &names {
            assert!(n.len() <= MAX_DNS_NAME, "{} characters", n.len());
            assert!(n.split('.').all(|l| (1..=63).contains(&l.len())), "{n}");
        }
        let longer = json!({"tld": tld_of(MAX_TLD_LEN + 1)});
        let r = (v.build)(&Spec {
            seed: None,
            config: Some(&longer),
        });
        assert!(matches!(r, Err(Error::BadConfig { .. })));
    }

    #[test]
    fn a_hostile_list_costs_at_most_the_period_budget() {
        // One usable word in 4999 (odd, so that the LCG's short-period low
        // bits do not decide the index alone): each name needs thousands
        // of draws but does finish, so only a budget for the whole period
        // (not per name) bounds the work of 10,000 names.
        let mut words = vec!["x".repeat(60); 4998];
        words.push("abcdefghijklmnopqrstuvwx".into());
        let cfg = json!({"words": words, "count": MAX_COUNT, "period_days": 1});
        let v = FAMILY.variant("luther").unwrap();
        let spec = Spec {
            seed: None,
            config: Some(&cfg),
        };
        let gozi = build_gozi(&LUTHER, &spec).unwrap();
        let mut out = Vec::new();
        let draws = gozi.fill(date!(2016 - 11 - 30), &mut out);
        assert!(draws <= MAX_DRAWS_PER_PERIOD + 3, "{draws} draws");
        assert!(!out.is_empty() && out.len() < MAX_COUNT, "{}", out.len());
        // generate() stops at the same point.
        let built = (v.build)(&spec).unwrap();
        assert_eq!(gen_for(&*built, date!(2016 - 11 - 30)), out);
    }

    #[test]
    fn the_slowest_complete_list_fits_the_budget_at_the_largest_count() {
        // One-letter words, halved to nothing a third of the time: the
        // most draws a list that always completes needs per name.
        let cfg = json!({"words": ["a", "b", "c"], "count": MAX_COUNT, "period_days": 1});
        let gozi = build_gozi(
            &LUTHER,
            &Spec {
                seed: None,
                config: Some(&cfg),
            },
        )
        .unwrap();
        let mut d = date!(2016 - 11 - 28);
        for _ in 0..4 {
            let mut out = Vec::new();
            let draws = gozi.fill(d, &mut out);
            assert_eq!(out.len(), MAX_COUNT, "{d}");
            assert!(draws * 2 < MAX_DRAWS_PER_PERIOD, "{d}: {draws} draws");
            d = d.next_day().unwrap();
        }
    }

    #[test]
    fn labels_tell_configurations_apart() {
        let v = FAMILY.variant("luther").unwrap();
        let label = |seed: Option<&str>, cfg: Option<Value>| {
            (v.build)(&Spec {
                seed,
                config: cfg.as_ref(),
            })
            .map(|d| d.seed())
        };
        let plain = label(Some("0xedba8930"), None).unwrap();
        assert_eq!(plain, "0xedba8930");
        // The variant's own values, spelt out, are still the plain seed.
        let own: Vec<String> = builtin_words(&LUTHER)
            .iter()
            .map(|w| w.to_string())
            .collect();
        let same = json!({"words": own, "tld": "com", "period_days": 4, "epoch": "2015-01-01",
                          "count": 12});
        assert_eq!(label(Some("0xedba8930"), Some(same)).unwrap(), plain);
        // Each field that differs gives its own label.
        let mut seen = std::collections::BTreeSet::from([plain.clone()]);
        for cfg in [
            json!({"words": ["alpha", "beta"]}),
            json!({"words": ["beta", "alpha"]}),
            json!({"words": ["alph", "abeta"]}),
            json!({"tld": "net"}),
            json!({"period_days": 3}),
            json!({"epoch": "2015-01-02"}),
            json!({"count": 13}),
            json!({"count": 13, "tld": "net"}),
        ] {
            let l = label(Some("0xedba8930"), Some(cfg.clone())).unwrap();
            assert!(l.starts_with("0xedba8930/cfg-") && l.len() == 23, "{l}");
            assert!(seen.insert(l.clone()), "{cfg}: label {l} already printed");
            // The printed label is accepted back with its configuration ...
            assert_eq!(label(Some(&l), Some(cfg.clone())).unwrap(), l);
            // ... and refused with another one, or none.
            assert!(matches!(
                label(Some(&l), Some(json!({"count": 14}))),
                Err(Error::BadSeed { .. })
            ));
            assert!(matches!(label(Some(&l), None), Err(Error::BadSeed { .. })));
        }
        for bad in ["0xedba8930/cfg-", "0xedba8930/cfg-00000000", "/cfg-"] {
            assert!(
                matches!(label(Some(bad), None), Err(Error::BadSeed { .. })),
                "{bad}"
            );
        }
    }
}
