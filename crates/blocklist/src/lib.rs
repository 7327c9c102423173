//! Blocklists from network indicators and DGA windows, in the formats
//! resolvers and sensors load.
//!
//! The flow is one way:
//!
//! 1. A [`Builder`] collects names, addresses and URLs: from indicator
//!    sources ([`Builder::read_path`]: STIX 2.1 bundles, MISP JSON and
//!    feeds, and plain lists such as Loki's `c2-iocs.txt` or hosts files,
//!    streamed line by line, see [`input`]) and from DGA windows
//!    ([`Builder::add_dga`]). Every name is normalised ([`name`]); every
//!    line or object that cannot be used is a [`Diagnostic`] naming the
//!    source, the line and the reason, and the rest goes on.
//! 2. [`Builder::finish`] sorts and deduplicates, applies the collision
//!    guard of an [`allow::AllowList`] (a DGA name that is also a real,
//!    popular site is not blocked blindly), marks names a blocked parent
//!    already covers, and finds the allowed names that need a passthru
//!    rule: a [`plan::Plan`].
//! 3. [`format::write`] prints the plan in one format.
#![deny(missing_docs)]

pub mod allow;
pub mod format;
pub mod input;
pub mod name;
pub mod plan;

use std::fmt;
use std::net::IpAddr;
use time::Date;

pub use allow::AllowList;
pub use format::{Format, FormatOptions, WriteStats};
pub use plan::Plan;

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// An input line or object that was not used.
    Error,
    /// Used, but worth a look (a possible homograph, a collision kept).
    Warning,
}

/// One message about one place of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: Level,
    /// Where: `FILE:LINE`, `FILE (object id)`, `FILE`, or a DGA.
    pub location: String,
    /// What and why.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Where a blocked name, address or URL came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A line of a plain list (`first` of the entry is the line number).
    List {
        /// The file.
        source: String,
        /// The last `#` comment above the line (Loki's IOC files name the
        /// campaign there), when any.
        comment: Option<String>,
    },
    /// An indicator of a STIX bundle, MISP event or feed.
    Intel {
        /// The file or feed directory.
        source: String,
        /// Its label (name, family or object id).
        label: String,
        /// Its malware family, when the source says.
        family: Option<String>,
        /// Its STIX id or MISP attribute uuid, when it has one (a hunt's
        /// sighting then names the partner's own object).
        object_id: Option<String>,
    },
    /// A DGA window (`first` and `last` of the entry are the dates).
    Dga {
        /// The family.
        family: &'static str,
        /// The variant (empty when the family has one).
        variant: &'static str,
        /// The seed as `--dga FAMILY:SEED` takes it.
        seed: String,
    },
}

impl Origin {
    /// True for DGA windows.
    pub fn is_dga(&self) -> bool {
        matches!(self, Origin::Dga { .. })
    }

    /// The family, when known.
    pub fn family(&self) -> Option<&str> {
        match self {
            Origin::List { .. } => None,
            Origin::Intel { family, .. } => family.as_deref(),
            Origin::Dga { family, .. } => Some(family),
        }
    }

    /// A one-line description with the entry's position (`first`,
    /// `last`): file and line, or family, seed and dates.
    pub fn describe(&self, first: i64, last: i64) -> String {
        match self {
            Origin::List { source, comment } => {
                let mut s = format!("{source}:{first}");
                if let Some(c) = comment {
                    s.push_str(": ");
                    s.push_str(c);
                }
                s
            }
            Origin::Intel {
                source,
                label,
                family,
                ..
            } => match family {
                Some(f) if f != label => format!("{source}: {label} ({f})"),
                _ => format!("{source}: {label}"),
            },
            Origin::Dga {
                family,
                variant,
                seed,
            } => {
                let mut s = format!("dga {family}");
                if !variant.is_empty() {
                    s.push('/');
                    s.push_str(variant);
                }
                if !seed.is_empty() {
                    s.push_str(" seed ");
                    s.push_str(seed);
                }
                match (day_to_date(first), day_to_date(last)) {
                    (Some(a), Some(b)) if a == b => s.push_str(&format!(" {a}")),
                    (Some(a), Some(b)) => s.push_str(&format!(" {a}..{b}")),
                    _ => s.push_str(" (any date)"),
                }
                s
            }
        }
    }

    /// The origin as JSON (the collision report).
    pub fn to_json(&self, first: i64, last: i64) -> serde_json::Value {
        use serde_json::json;
        match self {
            Origin::List { source, comment } => {
                json!({"type": "list", "source": source, "line": first, "comment": comment})
            }
            Origin::Intel {
                source,
                label,
                family,
                object_id,
            } => {
                json!({"type": "intel", "source": source, "label": label, "family": family, "object_id": object_id})
            }
            Origin::Dga {
                family,
                variant,
                seed,
            } => json!({
                "type": "dga", "family": family, "variant": variant, "seed": seed,
                "first": day_to_date(first).map(|d| d.to_string()),
                "last": day_to_date(last).map(|d| d.to_string()),
            }),
        }
    }
}

/// `first`/`last` of a DGA entry whose domains do not depend on the date.
pub const ANY_DATE: i64 = i64::MIN;

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN: i64 = 2_440_588;

/// Days since 1970-01-01.
pub fn date_to_day(d: Date) -> i64 {
    d.to_julian_day() as i64 - UNIX_EPOCH_JULIAN
}

/// The date of a day number, `None` for [`ANY_DATE`] or out of range.
pub fn day_to_date(day: i64) -> Option<Date> {
    if day == ANY_DATE {
        return None;
    }
    let j = i32::try_from(day.checked_add(UNIX_EPOCH_JULIAN)?).ok()?;
    Date::from_julian_day(j).ok()
}

/// A blocked name before [`Builder::finish`].
#[derive(Clone, Debug)]
pub struct Entry {
    /// [`name::sort_key`] of the normalised name.
    pub key: Box<[u8]>,
    /// Index into the origins.
    pub origin: u32,
    /// Line number (lists) or first day (DGA).
    pub first: i64,
    /// Line number (lists) or last day (DGA).
    pub last: i64,
}

impl Entry {
    /// The name.
    pub fn name(&self) -> String {
        name::from_sort_key(&self.key)
    }
}

/// A blocked address or CIDR block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpEntry {
    /// The network address (host bits cleared).
    pub addr: IpAddr,
    /// The prefix length (32 or 128 for one address).
    pub prefix: u8,
    /// Index into the origins.
    pub origin: u32,
    /// Line number, when from a list.
    pub line: i64,
}

/// A blocked URL (only Zeek can use it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlEntry {
    /// As normalised by the indicator model (`scheme://rest`).
    pub url: String,
    /// Index into the origins.
    pub origin: u32,
    /// Line number, when from a list.
    pub line: i64,
}

/// What one source gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Lines read (plain lists), indicators seen (STIX, MISP).
    pub read: u64,
    /// Names taken.
    pub names: u64,
    /// Addresses and CIDR blocks taken.
    pub ips: u64,
    /// URLs taken.
    pub urls: u64,
    /// Lines or indicators rejected (each one a [`Diagnostic`]).
    pub rejected: u64,
    /// Not network indicators (file hashes, YARA, e-mail), or hosts-file
    /// housekeeping names (`localhost`): not used, by design.
    pub ignored: u64,
    /// Objects the STIX/MISP reader skipped (revoked, expired,
    /// unsupported, not for detection, invalid).
    pub skipped: u64,
    /// Names flagged as possible homographs (used, warned).
    pub homographs: u64,
}

impl SourceStats {
    /// Adds another source's counts.
    pub fn add(&mut self, o: &SourceStats) {
        self.read += o.read;
        self.names += o.names;
        self.ips += o.ips;
        self.urls += o.urls;
        self.rejected += o.rejected;
        self.ignored += o.ignored;
        self.skipped += o.skipped;
        self.homographs += o.homographs;
    }
}

/// Most entries (names, addresses, URLs) a builder holds: a bound on the
/// memory a run of hostile or runaway input can take (about 100 bytes
/// each).
pub const MAX_ENTRIES: usize = 100_000_000;

/// Why a source or a DGA window could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source could not be read.
    #[error("{source_name}: {reason}")]
    Source {
        /// The file or directory.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// More than [`MAX_ENTRIES`].
    #[error("more than {MAX_ENTRIES} entries: split the input")]
    TooMany,
}

/// What a [`Builder`] collected ([`Builder::into_parts`]).
#[derive(Debug, Default)]
pub struct Parts {
    /// Where entries came from (their `origin` indexes this).
    pub origins: Vec<Origin>,
    /// Names (sort keys; [`Entry::name`] gives the name).
    pub names: Vec<Entry>,
    /// Addresses and CIDR blocks.
    pub ips: Vec<IpEntry>,
    /// URLs.
    pub urls: Vec<UrlEntry>,
}

/// Collects names, addresses and URLs from sources and DGA windows.
#[derive(Debug, Default)]
pub struct Builder {
    pub(crate) origins: Vec<Origin>,
    pub(crate) names: Vec<Entry>,
    pub(crate) ips: Vec<IpEntry>,
    pub(crate) urls: Vec<UrlEntry>,
    /// Names generated by DGA windows (before deduplication).
    pub dga_names: u64,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names collected so far (duplicates included).
    pub fn names_len(&self) -> usize {
        self.names.len()
    }

    fn total(&self) -> usize {
        self.names.len() + self.ips.len() + self.urls.len()
    }

    pub(crate) fn add_origin(&mut self, o: Origin) -> u32 {
        self.origins.push(o);
        (self.origins.len() - 1) as u32
    }

    pub(crate) fn push_name(&mut self, name: &str, origin: u32, first: i64, last: i64) -> bool {
        if self.total() >= MAX_ENTRIES {
            return false;
        }
        self.names.push(Entry {
            key: name::sort_key(name).into_boxed_slice(),
            origin,
            first,
            last,
        });
        true
    }

    pub(crate) fn push_ip(&mut self, addr: IpAddr, prefix: u8, origin: u32, line: i64) -> bool {
        if self.total() >= MAX_ENTRIES {
            return false;
        }
        self.ips.push(IpEntry {
            addr,
            prefix,
            origin,
            line,
        });
        true
    }

    pub(crate) fn push_url(&mut self, url: String, origin: u32, line: i64) -> bool {
        if self.total() >= MAX_ENTRIES {
            return false;
        }
        self.urls.push(UrlEntry { url, origin, line });
        true
    }

    /// Everything collected, as it is (not sorted, duplicates kept): for
    /// consumers that index the indicators their own way (the hunt's
    /// matcher) instead of printing a blocklist.
    pub fn into_parts(self) -> Parts {
        Parts {
            origins: self.origins,
            names: self.names,
            ips: self.ips,
            urls: self.urls,
        }
    }

    /// Adds every domain `dga` generates from `from` to `to` (UTC days,
    /// inclusive), each with its family, variant, seed and the first and
    /// last date it is generated for. A generated name that does not
    /// normalise is a bug of the generator: reported, not added.
    pub fn add_dga(
        &mut self,
        dga: &dyn takedown_dga::Dga,
        from: Date,
        to: Date,
        diag: &mut dyn FnMut(Diagnostic),
    ) -> Result<u64, Error> {
        let origin = self.add_origin(Origin::Dga {
            family: dga.family(),
            variant: dga.variant(),
            seed: dga.seed(),
        });
        let label = self.origins[origin as usize].describe(ANY_DATE, ANY_DATE);
        let mut added = 0u64;
        let mut full = false;
        takedown_dga::window(dga, from, to, |a, b, domains| {
            if full {
                return;
            }
            let (first, last) = match (a, b) {
                (Some(a), Some(b)) => (date_to_day(a), date_to_day(b)),
                _ => (ANY_DATE, ANY_DATE),
            };
            for d in domains {
                match name::normalise_listed(d) {
                    Ok(n) => {
                        if !self.push_name(&n.name, origin, first, last) {
                            full = true;
                            return;
                        }
                        added += 1;
                    }
                    Err(e) => diag(Diagnostic {
                        level: Level::Error,
                        location: label.clone(),
                        message: format!("generated '{}': {e}", input::shown(d)),
                    }),
                }
            }
        });
        self.dga_names += added;
        if full {
            return Err(Error::TooMany);
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates() {
        let d = Date::from_calendar_date(2016, time::Month::November, 30).unwrap();
        assert_eq!(date_to_day(d), 17135);
        assert_eq!(day_to_date(17135), Some(d));
        assert_eq!(day_to_date(ANY_DATE), None);
        assert_eq!(day_to_date(i64::MAX), None);
    }

    struct Three;
    impl takedown_dga::Dga for Three {
        fn family(&self) -> &'static str {
            "three"
        }
        fn variant(&self) -> &'static str {
            ""
        }
        fn seed(&self) -> String {
            "0x1".into()
        }
        fn period(&self, d: Date) -> Option<i64> {
            Some(date_to_day(d) / 2)
        }
        fn generate(&self, d: Date, out: &mut Vec<String>) {
            let p = date_to_day(d) / 2;
            out.push(format!("d{p}.example"));
            out.push("same.example".into());
            out.push("Bad..name".into());
            out.push("x.rpz-nsdname".into());
        }
    }

    #[test]
    fn dga_windows_carry_family_seed_and_dates() {
        let mut b = Builder::new();
        let mut diags = Vec::new();
        let from = day_to_date(17134).unwrap();
        let to = day_to_date(17137).unwrap();
        let n = b.add_dga(&Three, from, to, &mut |d| diags.push(d)).unwrap();
        // Periods 8567 (17134-17135) and 8568 (17136-17137): 2 names each.
        assert_eq!(n, 4);
        assert_eq!(diags.len(), 4, "{diags:?}");
        assert!(diags[0].message.contains("empty label"));
        assert!(
            diags[1]
                .message
                .contains("generated 'x.rpz-nsdname': label 'rpz-nsdname'")
        );
        assert_eq!(diags[0].location, "dga three seed 0x1 (any date)");
        let names: Vec<_> = b
            .names
            .iter()
            .map(|e| (e.name(), e.first, e.last))
            .collect();
        assert_eq!(
            names,
            vec![
                ("d8567.example".to_string(), 17134, 17135),
                ("same.example".to_string(), 17134, 17135),
                ("d8568.example".to_string(), 17136, 17137),
                ("same.example".to_string(), 17136, 17137),
            ]
        );
        assert_eq!(
            b.origins[0].describe(17134, 17137),
            "dga three seed 0x1 2016-11-29..2016-12-02"
        );
    }
}
