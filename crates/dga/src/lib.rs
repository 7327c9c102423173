//! Domain generation algorithms (DGAs) of the families the Avalanche
//! takedown served, implemented from their public descriptions and checked
//! against the public reference implementations (the test vectors under
//! `tests/vectors/` name the command that made them).
//!
//! * A [`Family`] has one or more [`Variant`]s; each variant documents its
//!   parameters (seed, configuration, TLDs, domains per period, period)
//!   and lists the seeds or configurations known from public analyses
//!   ([`Known`]), with their source.
//! * A variant with its parameters fixed is a [`Dga`]: it generates the
//!   domains of one date ([`Dga::generate`]) and says which dates share
//!   the same domains ([`Dga::period`]), so a window is generated once per
//!   period, not once per day.
//! * [`select`] turns what a user types (`all`, `vawtrak`, `vawtrak/v2`,
//!   `nymaim:0x1a2b3c4d`) into generators; [`window`] walks a date range;
//!   [`index::Index`] answers "which family, seed and date generate this
//!   domain" for millions of names.
//!
//! All dates are UTC calendar days. No clock is read here: the caller
//! passes the dates.
#![deny(missing_docs)]

pub mod families;
pub mod index;

use serde_json::Value;
use time::Date;

/// A DGA with its parameters fixed: one family variant, one seed or
/// sample configuration.
pub trait Dga: Send + Sync {
    /// The family's name, as [`Family::name`].
    fn family(&self) -> &'static str;
    /// The variant's name, as [`Variant::name`] (empty when the family has
    /// only one).
    fn variant(&self) -> &'static str;
    /// The seed as printed and as `--seed` accepts it (for a variant that
    /// takes a whole configuration, a short label of it).
    fn seed(&self) -> String;
    /// Which period `date` falls in: two dates with the same key generate
    /// the same domains. `None` when the domains do not depend on the date
    /// at all (Tinba, Vawtrak v1).
    fn period(&self, date: Date) -> Option<i64>;
    /// Appends the domains generated for `date`, in the order the malware
    /// tries them, lowercase, without a trailing dot. Exactly what the
    /// reference implementation prints for that date.
    fn generate(&self, date: Date, out: &mut Vec<String>);
}

/// A malware family and its DGA variants.
#[derive(Debug)]
pub struct Family {
    /// Name used on the command line and in output (`nymaim`, `shiotob`).
    pub name: &'static str,
    /// Other names the family is known by (`urlzone`, `bebloh`), accepted
    /// on the command line.
    pub aliases: &'static [&'static str],
    /// One line for `dga list`.
    pub title: &'static str,
    /// The variants; the first is the default.
    pub variants: &'static [Variant],
}

/// One variant of a family's DGA.
#[derive(Debug)]
pub struct Variant {
    /// Name (`v2`, `may`), empty when the family has one variant.
    pub name: &'static str,
    /// How it works, in a few sentences (what `dga list` prints).
    pub summary: &'static str,
    /// Its parameters as `(name, meaning and value)`: seed, configuration,
    /// word lists, TLDs, domains per period, period.
    pub parameters: &'static [(&'static str, &'static str)],
    /// What `--seed` takes for this variant.
    pub seed_syntax: &'static str,
    /// Keys of the JSON object `--config FILE` takes (a per-sample
    /// configuration), `None` when a seed is all the variant needs.
    pub config_syntax: Option<&'static str>,
    /// Seeds and configurations known from public analyses.
    pub known: &'static [Known],
    /// The public description the implementation follows.
    pub reference: &'static str,
    /// The reference implementation run as a black-box oracle for the
    /// test vectors.
    pub oracle: &'static str,
    /// Builds a generator from a seed and/or a configuration (see
    /// [`Spec`]).
    pub build: fn(&Spec<'_>) -> Result<Box<dyn Dga>, Error>,
}

/// A seed or configuration known from a public analysis.
#[derive(Debug)]
pub struct Known {
    /// The seed, as `--seed` takes it.
    pub seed: &'static str,
    /// The full configuration as a JSON object (the variant's
    /// `config_syntax`), or `""` when the seed is all there is.
    pub config: &'static str,
    /// Where it was published (URL, sample hash).
    pub source: &'static str,
}

/// What a generator is built from: a seed (`--seed`), a configuration
/// (`--config FILE`, a JSON object), or both (the seed then overrides the
/// configuration's). A variant needs at least one; the caller supplies a
/// [`Known`] entry's when the user gave neither.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spec<'a> {
    /// The seed, in the variant's `seed_syntax`.
    pub seed: Option<&'a str>,
    /// The configuration.
    pub config: Option<&'a Value>,
}

/// Why a generator could not be built or selected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No family of that name or alias.
    #[error("unknown DGA family '{0}' (see `takedown dga list`)")]
    UnknownFamily(String),
    /// The family has no such variant.
    #[error("family '{family}' has no variant '{variant}' (it has: {known})")]
    UnknownVariant {
        /// The family.
        family: String,
        /// The variant asked for.
        variant: String,
        /// The variants it has.
        known: String,
    },
    /// The seed does not parse.
    #[error("{family}: invalid seed '{seed}': {reason}")]
    BadSeed {
        /// The family (and variant).
        family: String,
        /// The seed given.
        seed: String,
        /// Why.
        reason: String,
    },
    /// The configuration is not what the variant takes.
    #[error("{family}: invalid configuration: {reason}")]
    BadConfig {
        /// The family (and variant).
        family: String,
        /// Why.
        reason: String,
    },
    /// Neither a seed nor a configuration, where one is needed.
    #[error("{0}: needs a seed (--seed) or a configuration (--config)")]
    NeedsSeed(String),
    /// The family is listed but has no implementation (see its title).
    #[error("family '{0}' is not implemented: {1}")]
    NotImplemented(String, String),
    /// A seed or configuration for a family with several variants, and
    /// nothing says which.
    #[error(
        "{family} has several variants ({variants}) and the seed is not a known one of any: say which, e.g. {family}/{first}:SEED"
    )]
    WhichVariant {
        /// The family.
        family: String,
        /// Its variants.
        variants: String,
        /// The first variant, for the example.
        first: String,
    },
    /// The selection would generate more names than one index holds.
    #[error(
        "the selection generates more than {limit} names over the window: narrow the window or the families"
    )]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

/// Families the takedown served for which takedown implements no DGA,
/// with the reason: `(family, why)`. Listed by `dga list` so that nobody
/// takes their absence for an oversight; nothing here is guessed.
pub static WITHOUT_DGA: &[(&str, &str)] = &[
    (
        "rovnix",
        "a word-based DGA was reported for some builds, but no public description gives its word list, seed and date handling in a reproducible form",
    ),
    (
        "kins",
        "ZeuS-derived; its builds contact configured domains, no deterministic DGA is publicly described",
    ),
    (
        "bolek",
        "KBot/Bolek: configured command-and-control hosts; no deterministic DGA is publicly described",
    ),
    (
        "dridex",
        "the loader and bot use configured IP lists and a peer-to-peer layer, not a DGA",
    ),
    (
        "citadel",
        "ZeuS-derived; configured command-and-control URLs, no DGA",
    ),
    (
        "teslacrypt",
        "a hard-coded list of (compromised) sites per sample, no DGA",
    ),
    (
        "marcher",
        "Android banker; configured command-and-control URLs, no DGA",
    ),
];

/// Every family, in the order `dga list` shows them.
pub fn families() -> &'static [&'static Family] {
    families::REGISTRY
}

/// The family named `name` or one of its aliases (ASCII case-insensitive).
pub fn family(name: &str) -> Option<&'static Family> {
    families().iter().copied().find(|f| {
        f.name.eq_ignore_ascii_case(name) || f.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

impl Family {
    /// The variant named `name` (`""` picks the first).
    pub fn variant(&self, name: &str) -> Result<&'static Variant, Error>
    where
        Self: 'static,
    {
        if name.is_empty() {
            return self
                .variants
                .first()
                .ok_or_else(|| Error::UnknownFamily(self.name.to_string()));
        }
        self.variants
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::UnknownVariant {
                family: self.name.to_string(),
                variant: name.to_string(),
                known: self
                    .variants
                    .iter()
                    .map(|v| v.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl Variant {
    /// A generator for every known seed or configuration of this variant.
    /// An entry that does not build is a bug in the table; it is reported,
    /// not skipped.
    pub fn known_generators(&self) -> Result<Vec<Box<dyn Dga>>, Error> {
        let mut out = Vec::with_capacity(self.known.len());
        for k in self.known {
            let config: Option<Value> = if k.config.is_empty() {
                None
            } else {
                Some(
                    serde_json::from_str(k.config).map_err(|e| Error::BadConfig {
                        family: self.name.to_string(),
                        reason: format!("known configuration of seed {}: {e}", k.seed),
                    })?,
                )
            };
            out.push((self.build)(&Spec {
                seed: Some(k.seed),
                config: config.as_ref(),
            })?);
        }
        Ok(out)
    }
}

/// Generators for what a user typed: `all` (every known seed of every
/// family), `FAMILY` (every known seed of every variant), `FAMILY/VARIANT`,
/// optionally followed by `:SEED` (that seed only). `seed` and `config`,
/// when given, override a seed in `spec` and apply to one variant (the
/// first, unless `spec` names one).
pub fn select(
    spec: &str,
    seed: Option<&str>,
    config: Option<&Value>,
) -> Result<Vec<Box<dyn Dga>>, Error> {
    let (name, spec_seed) = match spec.split_once(':') {
        Some((n, s)) => (n, Some(s)),
        None => (spec, None),
    };
    let seed = seed.or(spec_seed);
    if name.eq_ignore_ascii_case("all") {
        if seed.is_some() || config.is_some() {
            return Err(Error::BadSeed {
                family: "all".into(),
                seed: seed.unwrap_or("(configuration)").into(),
                reason: "a seed or configuration applies to one family".into(),
            });
        }
        let mut out = Vec::new();
        for f in families() {
            for v in f.variants {
                out.extend(v.known_generators()?);
            }
        }
        return Ok(out);
    }
    let (fam, var) = match name.split_once('/') {
        Some((f, v)) => (f, v),
        None => (name, ""),
    };
    let family = family(fam).ok_or_else(|| Error::UnknownFamily(fam.to_string()))?;
    if family.variants.is_empty() {
        return Err(Error::NotImplemented(
            family.name.to_string(),
            family.title.to_string(),
        ));
    }
    if seed.is_some() || config.is_some() {
        let v = if !var.is_empty() {
            family.variant(var)?
        } else if let Some(v) = seed.and_then(|s| {
            // A published seed says which variant it belongs to.
            family.variants.iter().find(|v| {
                v.known
                    .iter()
                    .any(|k| k.seed.eq_ignore_ascii_case(s.trim()))
            })
        }) {
            v
        } else if let [only] = family.variants {
            only
        } else {
            // Building the first variant from another variant's seed
            // would print the wrong names without a word.
            return Err(Error::WhichVariant {
                family: family.name.to_string(),
                variants: family
                    .variants
                    .iter()
                    .map(|v| v.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                first: family.variants[0].name.to_string(),
            });
        };
        return Ok(vec![(v.build)(&Spec { seed, config })?]);
    }
    let mut out = Vec::new();
    if var.is_empty() {
        for v in family.variants {
            out.extend(v.known_generators()?);
        }
    } else {
        out.extend(family.variant(var)?.known_generators()?);
    }
    Ok(out)
}

/// Walks `from..=to` (UTC days) for one generator, calling `each` once per
/// period with the first date of the period in the window and the last,
/// and the period's domains. A generator whose domains do not depend on
/// the date is called once, with `None` for both dates.
pub fn window(
    dga: &dyn Dga,
    from: Date,
    to: Date,
    mut each: impl FnMut(Option<Date>, Option<Date>, &[String]),
) {
    walk(dga, from, to, |a, b, buf| {
        each(a, b, buf);
        true
    });
}

/// Days of a window one job of [`generate_ordered`] covers (rounded up to
/// the end of a period): small enough that two years of one generator
/// spread over every core, large enough that a job is not all overhead.
const JOB_DAYS: i64 = 61;

/// The names of several generators over a window, generated on `threads`
/// threads and handed to `each` on the calling thread in order: generator
/// by generator, and within one, period by period, exactly as [`window`]
/// walks them, with the generator's index in `dgas`. `each` returns false
/// to stop (the threads then stop after the job they are on).
///
/// A generator's window is cut into jobs at period boundaries, so a
/// single busy generator (newGOZ's 1,000 names a day) also uses every
/// core.
pub fn generate_ordered(
    dgas: &[Box<dyn Dga>],
    from: Date,
    to: Date,
    threads: usize,
    mut each: impl FnMut(usize, Option<Date>, Option<Date>, Vec<String>) -> bool,
) {
    generate_ordered_map(
        dgas,
        from,
        to,
        threads,
        |_, f, l, names| (f, l, names),
        |k, (f, l, names)| each(k, f, l, names),
    )
}

/// As [`generate_ordered`], with `map` applied to each period on the
/// generating threads (formatting output there, say), and `each` given
/// its results in order on the calling thread.
pub fn generate_ordered_map<T: Send>(
    dgas: &[Box<dyn Dga>],
    from: Date,
    to: Date,
    threads: usize,
    map: impl Fn(usize, Option<Date>, Option<Date>, Vec<String>) -> T + Sync,
    mut each: impl FnMut(usize, T) -> bool,
) {
    if from > to {
        return;
    }
    let mut jobs: Vec<(usize, Date, Date)> = Vec::new();
    for (k, d) in dgas.iter().enumerate() {
        if d.period(from).is_none() {
            jobs.push((k, from, to));
            continue;
        }
        let mut start = from;
        loop {
            let mut end = start
                .saturating_add(time::Duration::days(JOB_DAYS - 1))
                .min(to);
            // Never cut a period in two: each half would print it.
            while let Some(n) = end.next_day().filter(|n| *n <= to) {
                if d.period(n) != d.period(end) {
                    break;
                }
                end = n;
            }
            jobs.push((k, start, end));
            match end.next_day().filter(|n| *n <= to) {
                Some(n) => start = n,
                None => break,
            }
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<T>)>();
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            let tx = tx.clone();
            let (jobs, next, stop, map) = (&jobs, &next, &stop, &map);
            s.spawn(move || {
                use std::sync::atomic::Ordering::Relaxed;
                while !stop.load(Relaxed) {
                    let j = next.fetch_add(1, Relaxed);
                    let Some(&(k, a, b)) = jobs.get(j) else {
                        return;
                    };
                    let mut done = Vec::new();
                    walk(dgas[k].as_ref(), a, b, |f, l, names| {
                        done.push(map(k, f, l, std::mem::take(names)));
                        true
                    });
                    if tx.send((j, done)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Jobs finish out of order; hold the early ones until their turn.
        let mut pending = std::collections::BTreeMap::new();
        let mut want = 0usize;
        'recv: for (j, done) in rx.iter() {
            pending.insert(j, done);
            while let Some(done) = pending.remove(&want) {
                let k = jobs[want].0;
                for t in done {
                    if !each(k, t) {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        break 'recv;
                    }
                }
                want += 1;
            }
        }
        // Dropping the receiver makes any thread still sending stop.
        drop(rx);
    });
}

/// The walk behind [`window`]; `each` returns false
/// to stop early.
pub(crate) fn walk(
    dga: &dyn Dga,
    from: Date,
    to: Date,
    mut each: impl FnMut(Option<Date>, Option<Date>, &mut Vec<String>) -> bool,
) {
    let mut buf = Vec::new();
    if from > to {
        return;
    }
    if dga.period(from).is_none() {
        dga.generate(from, &mut buf);
        each(None, None, &mut buf);
        return;
    }
    let mut start = from;
    let mut key = dga.period(from);
    let mut day = from;
    loop {
        let next = day.next_day().filter(|n| *n <= to);
        if next.map(|n| dga.period(n)) != Some(key) {
            buf.clear();
            dga.generate(start, &mut buf);
            if !each(Some(start), Some(day), &mut buf) {
                return;
            }
            match next {
                Some(n) => {
                    start = n;
                    key = dga.period(n);
                }
                None => return,
            }
        }
        match next {
            Some(n) => day = n,
            None => return,
        }
    }
}

/// Parses a UTC calendar date written `YYYY-MM-DD`, as every command
/// taking `--from`/`--to` does.
pub fn parse_date(s: &str) -> Result<Date, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &fmt).map_err(|e| format!("'{s}' is not a date (YYYY-MM-DD): {e}"))
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Days since 1970-01-01, the period key of a DGA that changes daily.
pub fn day_number(date: Date) -> i64 {
    (date.to_julian_day() - 2_440_588) as i64
}

/// Reads a JSON configuration field as a string.
pub fn config_str<'a>(
    family: &str,
    config: &'a Value,
    key: &str,
) -> Result<Option<&'a str>, Error> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::BadConfig {
            family: family.to_string(),
            reason: format!("'{key}' must be a string"),
        }),
    }
}

/// Checks that a configuration is an object with only `allowed` keys, so
/// that a misspelt key is an error rather than silently the default.
pub fn check_config_keys(family: &str, config: &Value, allowed: &[&str]) -> Result<(), Error> {
    let Some(map) = config.as_object() else {
        return Err(Error::BadConfig {
            family: family.to_string(),
            reason: "expected a JSON object".into(),
        });
    };
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::BadConfig {
            family: family.to_string(),
            reason: format!("unknown key '{k}' (expected: {})", allowed.join(", ")),
        });
    }
    Ok(())
}

/// Parses a 32-bit seed written in hex, with or without `0x`.
pub fn parse_hex_u32(family: &str, seed: &str) -> Result<u32, Error> {
    let s = seed.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    u32::from_str_radix(s, 16).map_err(|e| Error::BadSeed {
        family: family.to_string(),
        seed: seed.to_string(),
        reason: format!("expected a 32-bit hex number: {e}"),
    })
}

/// What the families' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use crate::Dga;
    use std::collections::HashMap;
    use time::Date;

    /// The names `dga` generates for `d`.
    pub(crate) fn names(dga: &dyn Dga, d: Date) -> Vec<String> {
        let mut out = Vec::new();
        dga.generate(d, &mut out);
        out
    }

    /// Over `from..=to`, dates with the same period key give the same
    /// names (generating twice gives the same names too), and a new key
    /// gives new names: different from the day before's, or, with
    /// `every_key_distinct`, from those of every other key in the range
    /// (not so for DGAs whose seed is a sum of the date's parts, which
    /// repeat names on dates far apart). Returns the number of periods.
    pub(crate) fn check_periods(
        dga: &dyn Dga,
        from: Date,
        to: Date,
        every_key_distinct: bool,
    ) -> usize {
        let mut seen: HashMap<i64, Vec<String>> = HashMap::new();
        let mut by_names: HashMap<Vec<String>, i64> = HashMap::new();
        let mut prev: Option<(i64, Vec<String>)> = None;
        let mut d = from;
        while d <= to {
            let key = dga.period(d).expect("a dated DGA");
            let got = names(dga, d);
            assert_eq!(got, names(dga, d), "{d}: generated twice, other names");
            if let Some(prior) = seen.get(&key) {
                assert_eq!(prior, &got, "{d}: same key {key}, other names");
            } else {
                if let Some((k, p)) = &prev {
                    assert_ne!(p, &got, "{d}: key {key} after {k}, same names");
                }
                if every_key_distinct {
                    if let Some(k) = by_names.get(&got) {
                        panic!("{d}: keys {k} and {key} give the same names");
                    }
                    by_names.insert(got.clone(), key);
                }
                seen.insert(key, got.clone());
            }
            prev = Some((key, got));
            d = d.next_day().expect("a date before the end of time");
        }
        seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    struct Tenner;
    impl Dga for Tenner {
        fn family(&self) -> &'static str {
            "t"
        }
        fn variant(&self) -> &'static str {
            ""
        }
        fn seed(&self) -> String {
            String::new()
        }
        fn period(&self, d: Date) -> Option<i64> {
            Some(day_number(d) / 10)
        }
        fn generate(&self, d: Date, out: &mut Vec<String>) {
            out.push(format!("p{}.test", day_number(d) / 10));
        }
    }

    #[test]
    fn window_generates_once_per_period_with_its_bounds() {
        let mut seen = Vec::new();
        // 1970-01-01 is day 0: periods are days 0-9, 10-19, ...
        window(
            &Tenner,
            date!(1970 - 01 - 08),
            date!(1970 - 01 - 22),
            |a, b, d| seen.push((a.unwrap(), b.unwrap(), d.to_vec())),
        );
        assert_eq!(
            seen,
            vec![
                (
                    date!(1970 - 01 - 08),
                    date!(1970 - 01 - 10),
                    vec!["p0.test".to_string()]
                ),
                (
                    date!(1970 - 01 - 11),
                    date!(1970 - 01 - 20),
                    vec!["p1.test".to_string()]
                ),
                (
                    date!(1970 - 01 - 21),
                    date!(1970 - 01 - 22),
                    vec!["p2.test".to_string()]
                ),
            ]
        );
        let mut n = 0;
        window(
            &Tenner,
            date!(1970 - 01 - 02),
            date!(1970 - 01 - 01),
            |_, _, _| n += 1,
        );
        assert_eq!(n, 0, "an empty window generates nothing");
    }

    #[test]
    fn a_seed_picks_its_variant_or_asks_which() {
        // A published seed of a later variant builds that variant, not the
        // first one.
        let d = select("vawtrak:0x5884c3c4", None, None).unwrap();
        assert_eq!((d.len(), d[0].variant()), (1, "v2"));
        let d = select("nymaim", Some("3138C81ED54AD5F8E905555A6623C9C9"), None).unwrap();
        assert_eq!(d[0].variant(), "v2");
        // An unknown seed for a family of several variants is refused.
        let e = select("vawtrak:0x1234", None, None).err().unwrap();
        assert!(matches!(e, Error::WhichVariant { .. }), "{e}");
        assert!(e.to_string().contains("vawtrak/v1:SEED"), "{e}");
        // Naming the variant works; a one-variant family needs no name.
        assert_eq!(
            select("vawtrak/v3:0x1234", None, None).unwrap()[0].variant(),
            "v3"
        );
        assert_eq!(select("qakbot:5", None, None).unwrap().len(), 1);
        assert!(matches!(
            select("nosuch", None, None),
            Err(Error::UnknownFamily(_))
        ));
    }

    #[test]
    fn ordered_generation_is_the_sequential_walk() {
        // Every family's known seeds over a window that crosses month,
        // year and leap-day boundaries: the threaded jobs hand over
        // exactly what window() walks, in the same order.
        let dgas = select("all", None, None).unwrap();
        let (from, to) = (date!(2015 - 12 - 20), date!(2016 - 06 - 10));
        let mut want = Vec::new();
        for (k, d) in dgas.iter().enumerate() {
            window(d.as_ref(), from, to, |f, l, n| {
                want.push((k, f, l, n.to_vec()))
            });
        }
        for threads in [1, 2, 5] {
            let mut got = Vec::new();
            generate_ordered(&dgas, from, to, threads, |k, f, l, n| {
                got.push((k, f, l, n));
                true
            });
            assert!(
                got == want,
                "{threads} threads: {} periods, want {}",
                got.len(),
                want.len()
            );
        }
        // Stopping early stops.
        let mut n = 0;
        generate_ordered(&dgas, from, to, 2, |_, _, _, _| {
            n += 1;
            n < 3
        });
        assert_eq!(n, 3);
    }

    #[test]
    fn hex_seeds() {
        assert_eq!(parse_hex_u32("x", "0xDEADbeef").unwrap(), 0xdead_beef);
        assert_eq!(parse_hex_u32("x", "1").unwrap(), 1);
        assert!(parse_hex_u32("x", "1_0000_0000").is_err());
        assert!(parse_hex_u32("x", "100000000").is_err());
    }
}
