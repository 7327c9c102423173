//! Notices: events grouped per contact and period, rendered as mail.
//!
//! * [`Grouper`] takes the events of a run one at a time and keeps one
//!   [`Row`] per deduplication [`Key`] (address, family, UTC day); at the
//!   end it hands back one [`Notice`] per contact address and [`Period`].
//! * [`Renderer`] turns a notice into an RFC 5322 message: a text body
//!   from a Jinja template per language (files a CERT edits), a CSV of
//!   the rows and one X-ARF v4 report per row.
//! * [`intelmq_line`] writes a row as an IntelMQ-harmonised event, for
//!   CERTs whose pipeline is IntelMQ.
//!
//! Identities are content-derived so that a rerun gives the same bytes:
//! a key's [`Key::digest`] is what the delivery journal stores to skip
//! events already notified, and a notice's id is a digest of its
//! contact, period and keys.

mod csv;
mod group;
mod intelmq;
mod mail;
mod template;
mod xarf;

pub use group::Grouper;
pub use intelmq::intelmq_line;
pub use mail::{RenderError, RenderOptions, Renderer};
pub use template::TemplateError;

use crate::Event;
use crate::contacts::Rule;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use time::{Date, OffsetDateTime};

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// The family of an event without one.
const UNKNOWN_FAMILY: &str = "unknown";

/// How long a notice covers: its rows are the keys whose day falls in
/// the same period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// One UTC day (`2026-12-05`).
    Day,
    /// One ISO 8601 week, Monday to Sunday (`2026-W49`).
    Week,
    /// One calendar month (`2026-12`).
    Month,
}

impl FromStr for Period {
    type Err = String;

    /// `day`, `week` or `month`.
    fn from_str(s: &str) -> Result<Period, String> {
        match s {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            _ => Err(format!(
                "unknown period {:?} (day, week or month)",
                s.escape_debug().to_string()
            )),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        })
    }
}

impl Period {
    /// The label of the period a day (days since 1970-01-01) falls in:
    /// `2026-12-05`, `2026-W49` (the ISO week-numbering year, which
    /// differs from the calendar year around New Year) or `2026-12`.
    /// `None` for a day outside years 1 to 9999.
    pub fn label(self, day: i32) -> Option<String> {
        let date = date_of_day(day)?;
        Some(match self {
            Period::Day => format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            ),
            Period::Week => {
                let (year, week, _) = date.to_iso_week_date();
                format!("{year:04}-W{week:02}")
            }
            Period::Month => format!("{:04}-{:02}", date.year(), u8::from(date.month())),
        })
    }
}

/// 1970-01-01 as a Julian day number.
const EPOCH_JULIAN: i32 = 2_440_588;

/// 0001-01-01 and 9999-12-31 in days since 1970-01-01: the days whose
/// dates RFC 3339 and the X-ARF and IntelMQ time fields can write.
const MIN_DAY: i32 = -719_162;
const MAX_DAY: i32 = 2_932_896;

/// The date of a day number, within years 1 to 9999.
fn date_of_day(day: i32) -> Option<Date> {
    if !(MIN_DAY..=MAX_DAY).contains(&day) {
        return None;
    }
    Date::from_julian_day(day.checked_add(EPOCH_JULIAN)?).ok()
}

/// The UTC day of a time in microseconds.
fn day_of(micros: i64) -> i32 {
    // |i64::MAX / DAY_MICROS| is about 1.07e8: always fits.
    i32::try_from(micros.div_euclid(DAY_MICROS)).unwrap_or(i32::MAX)
}

/// A time in microseconds as RFC 3339 UTC to the second
/// (`2026-12-05T10:00:00Z`); `zulu: false` writes `+00:00` instead of
/// `Z` (IntelMQ's form).
fn iso_time(micros: i64, zulu: bool) -> String {
    let secs = micros.div_euclid(1_000_000);
    let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    let zone = if zulu { "Z" } else { "+00:00" };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{zone}")
}

/// The day's date as `2026-12-05`.
fn day_text(day: i32) -> String {
    match date_of_day(day) {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        None => format!("day {day}"),
    }
}

/// The family of a key: lower case, `unknown` when the report names
/// none. Borrowed when the name is already lower-case ASCII (the usual
/// case), so that grouping allocates nothing per event.
pub(crate) fn family_key(family: Option<&str>) -> Cow<'_, str> {
    match family {
        None | Some("") => Cow::Borrowed(UNKNOWN_FAMILY),
        Some(f) if f.is_ascii() && !f.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Borrowed(f),
        Some(f) => Cow::Owned(f.to_lowercase()),
    }
}

/// The deduplication key of an event: one row of a notice, and what the
/// journal remembers so that the same sighting is never notified twice,
/// in this run or a later one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The infected address.
    pub ip: IpAddr,
    /// The family, lower case; `unknown` when the report names none.
    pub family: String,
    /// The UTC day, in days since 1970-01-01.
    pub day: i32,
}

impl Key {
    /// The key of an event; `None` without an address or a time, or with
    /// a time outside years 1 to 9999 (no period or RFC 3339 time can be
    /// written for it).
    pub fn of(event: &Event) -> Option<Key> {
        let ip = event.ip?;
        let day = day_of(event.time?);
        date_of_day(day)?;
        Some(Key {
            ip,
            family: family_key(event.family.as_deref()).into_owned(),
            day,
        })
    }

    /// Stable across runs and versions: the first 16 bytes of SHA-256 of
    /// `<ip canonical text>\0<family>\0<day>` (the address as Rust
    /// writes it: RFC 5952 for IPv6; the day in decimal). The journal
    /// stores these.
    pub fn digest(&self) -> [u8; 16] {
        key_digest(self.ip, &self.family, self.day)
    }
}

fn key_digest(ip: IpAddr, family: &str, day: i32) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(ip.to_string().as_bytes());
    h.update([0]);
    h.update(family.as_bytes());
    h.update([0]);
    h.update(day.to_string().as_bytes());
    truncate16(&h.finalize())
}

fn truncate16(digest: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, d) in out.iter_mut().zip(digest) {
        *o = *d;
    }
    out
}

/// One deduplicated (address, family, day) of a notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The infected address.
    pub ip: IpAddr,
    /// The family (lower case; `unknown` when no report named it).
    pub family: String,
    /// The UTC day, in days since 1970-01-01.
    pub day: i32,
    /// The first sighting that day (microseconds since 1970-01-01 UTC).
    pub first: i64,
    /// The last sighting that day.
    pub last: i64,
    /// The events merged into this row.
    pub count: u64,
    /// The first source port a report gave.
    pub port: Option<u16>,
    /// The first AS number a report (or the enrichment) gave.
    pub asn: Option<u32>,
    /// The first country a report (or the enrichment) gave.
    pub country: Option<String>,
    /// The first destination a report gave (sinkhole address and port,
    /// or the host name asked for).
    pub destination: Option<String>,
    /// The kind of report of the first event.
    pub report_type: String,
    /// The rule that chose the contact for this row: an index into its
    /// notice's [`Notice::rules`].
    pub rule: usize,
}

impl Row {
    /// The row's deduplication key.
    pub fn key(&self) -> Key {
        Key {
            ip: self.ip,
            family: self.family.clone(),
            day: self.day,
        }
    }

    /// [`Key::digest`] of the row's key.
    pub fn digest(&self) -> [u8; 16] {
        key_digest(self.ip, &self.family, self.day)
    }
}

/// One message to one contact: its rows of one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// 32 lower-case hex digits: the first 16 bytes of SHA-256 of the
    /// contact, a zero byte, the period, a zero byte, and the 16-byte key
    /// digests of the rows in ascending byte order. The same events give
    /// the same id in every run.
    pub id: String,
    /// The contact address.
    pub to: String,
    /// Why this contact (printed in the notice): the rules that chose it
    /// for the rows, each once, in the order of the rows that first use
    /// them (rows of one contact may come to it by different rules: a
    /// network of the CERT's table and, for others, the RIPE range).
    pub rules: Vec<Rule>,
    /// The period: `2026-12-05`, `2026-W49` or `2026-12`.
    pub period: String,
    /// The rows, sorted by (address, family, day).
    pub rows: Vec<Row>,
}

impl Notice {
    /// The key digests of the rows, in row order.
    pub fn keys(&self) -> Vec<[u8; 16]> {
        self.rows.iter().map(Row::digest).collect()
    }

    /// The rules that chose the contact, as one line: `RIPE inetnum ...
    /// (abuse-c ...); contacts table: AS64500`.
    pub fn rule_text(&self) -> String {
        let texts: Vec<String> = self.rules.iter().map(Rule::to_string).collect();
        texts.join("; ")
    }

    /// The rule that chose the contact for `row`, as a line.
    pub fn rule_of(&self, row: &Row) -> String {
        self.rules
            .get(row.rule)
            .map(Rule::to_string)
            .unwrap_or_default()
    }

    /// The events merged into the notice's rows.
    pub fn events(&self) -> u64 {
        self.rows
            .iter()
            .fold(0u64, |sum, r| sum.saturating_add(r.count))
    }

    /// The notice cut into notices of at most `max_rows` rows each (at
    /// least one row), in row order, each with the id of its own rows.
    ///
    /// Mail servers refuse messages of hundreds of megabytes, which one
    /// notice to a large provider with an X-ARF report per row would be.
    /// The cut is stable across runs: rows are sorted, and a rerun after
    /// a kill, which leaves out the rows of the parts already journaled
    /// (always a leading run of whole parts), cuts the rest where the
    /// first run did, so every part keeps its id.
    pub fn split(self, max_rows: usize) -> Vec<Notice> {
        let max_rows = max_rows.max(1);
        if self.rows.len() <= max_rows {
            return vec![self];
        }
        let Notice {
            to,
            rules,
            period,
            rows,
            ..
        } = self;
        rows.chunks(max_rows)
            .map(|chunk| {
                let mut keys: Vec<[u8; 16]> = chunk.iter().map(Row::digest).collect();
                // Each part names only the rules of its own rows.
                let mut used: Vec<usize> = Vec::new();
                let rows = chunk
                    .iter()
                    .map(|r| {
                        let at = used.iter().position(|&u| u == r.rule).unwrap_or_else(|| {
                            used.push(r.rule);
                            used.len() - 1
                        });
                        Row {
                            rule: at,
                            ..r.clone()
                        }
                    })
                    .collect();
                Notice {
                    id: Notice::id_of(&to, &period, &mut keys),
                    to: to.clone(),
                    rules: used.iter().filter_map(|&u| rules.get(u).cloned()).collect(),
                    period: period.clone(),
                    rows,
                }
            })
            .collect()
    }

    /// The id of a notice of `to` for `period` with these key digests
    /// (in any order).
    pub(crate) fn id_of(to: &str, period: &str, keys: &mut [[u8; 16]]) -> String {
        keys.sort_unstable();
        let mut h = Sha256::new();
        h.update(to.as_bytes());
        h.update([0]);
        h.update(period.as_bytes());
        h.update([0]);
        for k in keys.iter() {
            h.update(k);
        }
        hex(&truncate16(&h.finalize()))
    }
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Month;

    fn day(y: i32, m: Month, d: u8) -> i32 {
        let date = Date::from_calendar_date(y, m, d).unwrap();
        date.to_julian_day() - EPOCH_JULIAN
    }

    #[test]
    fn period_labels() {
        assert_eq!(day(1970, Month::January, 1), 0);
        let d = day(2026, Month::December, 5);
        assert_eq!(Period::Day.label(d).unwrap(), "2026-12-05");
        assert_eq!(Period::Week.label(d).unwrap(), "2026-W49");
        assert_eq!(Period::Month.label(d).unwrap(), "2026-12");
        // 2027-01-01 is a Friday: ISO week 53 of 2026.
        let ny = day(2027, Month::January, 1);
        assert_eq!(Period::Week.label(ny).unwrap(), "2026-W53");
        assert_eq!(Period::Month.label(ny).unwrap(), "2027-01");
        // 2024-12-30 is a Monday: week 1 of 2025.
        assert_eq!(
            Period::Week.label(day(2024, Month::December, 30)).unwrap(),
            "2025-W01"
        );
        assert_eq!(Period::Day.label(i32::MAX), None);
        assert_eq!(MIN_DAY, day(1, Month::January, 1));
        assert_eq!(MAX_DAY, day(9999, Month::December, 31));
        assert_eq!(Period::Day.label(MAX_DAY).unwrap(), "9999-12-31");
        assert_eq!(Period::Day.label(MAX_DAY + 1), None);
        assert_eq!(Period::Day.label(day(1, Month::January, 1) - 1), None);
        assert_eq!("week".parse::<Period>(), Ok(Period::Week));
        assert!("fortnight".parse::<Period>().is_err());
    }

    #[test]
    fn keys_of_events() {
        let mut e = Event {
            ip: Some("192.0.2.1".parse().unwrap()),
            time: Some(86_400_000_000 + 5),
            family: Some("Andromeda".into()),
            ..Event::default()
        };
        let k = Key::of(&e).unwrap();
        assert_eq!((k.family.as_str(), k.day), ("andromeda", 1));
        e.family = None;
        assert_eq!(Key::of(&e).unwrap().family, "unknown");
        e.family = Some(String::new());
        assert_eq!(Key::of(&e).unwrap().family, "unknown");
        e.family = Some("ÄRGER".into());
        assert_eq!(Key::of(&e).unwrap().family, "ärger");
        e.time = Some(-1);
        assert_eq!(Key::of(&e).unwrap().day, -1);
        e.time = Some(i64::MAX);
        assert_eq!(Key::of(&e), None);
        e.time = None;
        assert_eq!(Key::of(&e), None);
        e.time = Some(0);
        e.ip = None;
        assert_eq!(Key::of(&e), None);
    }

    #[test]
    fn digests_are_the_documented_hash() {
        let k = Key {
            ip: "2001:db8::1".parse().unwrap(),
            family: "mirai".into(),
            day: 20_000,
        };
        let full = Sha256::digest(b"2001:db8::1\0mirai\x0020000");
        assert_eq!(k.digest()[..], full[..16]);
        let mut keys = [[2u8; 16], [1u8; 16]];
        let id = Notice::id_of("a@example.net", "2026-W49", &mut keys);
        let mut h = Sha256::new();
        h.update(b"a@example.net\x002026-W49\0");
        h.update([1u8; 16]);
        h.update([2u8; 16]);
        assert_eq!(id, hex(&h.finalize()[..16]));
        assert_eq!(id.len(), 32);
    }

    #[test]
    fn times() {
        assert_eq!(iso_time(0, true), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(-1, false), "1969-12-31T23:59:59+00:00");
        assert_eq!(day_text(0), "1970-01-01");
    }
}
