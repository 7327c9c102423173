//! From sinkhole reports to the owners of the networks whose machines are
//! infected.
//!
//! * [`report`]: the reports, read into one normalised [`Event`] per
//!   row: Shadowserver's CSV reports (by their header row), IntelMQ
//!   events (NDJSON), and takedown's own hunt sightings.
//! * [`contacts`]: offline enrichment: abuse contacts from RIPE-format
//!   database dumps, a CSV of overrides and a country-to-national-CERT
//!   table, the most specific match winning.
//! * [`notice`]: events grouped into one notice per contact and period,
//!   deduplicated by (address, family, day), rendered as RFC 5322 mail
//!   from a template per language, with a CSV and X-ARF v4 attachments.
//! * [`deliver`]: the journal that makes delivery exactly-once, and the
//!   transports (an outbox directory, SMTP).
//!
//! Every report is hostile: a row that cannot be read is a
//! [`report::RowError`] naming the file, the line and the reason; the
//! rest is read.
#![deny(missing_docs)]

pub mod contacts;
pub mod deliver;
pub mod notice;
pub mod report;

use serde::Serialize;
use std::net::IpAddr;

/// One sighting of an infected machine, whatever report it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Event {
    /// When (microseconds since 1970-01-01 UTC), when the report says.
    pub time: Option<i64>,
    /// The infected machine's address.
    pub ip: Option<IpAddr>,
    /// Its source port, when the report has it.
    pub port: Option<u16>,
    /// Its AS number, when the report has it.
    pub asn: Option<u32>,
    /// Its country (ISO 3166 alpha-2, upper case), when the report has it.
    pub country: Option<String>,
    /// The malware family (lower case, as the report names it; `None`
    /// when it does not).
    pub family: Option<String>,
    /// Where it connected: the sinkhole's address and port, or the host
    /// name it asked for, when the report has them.
    pub destination: Option<String>,
    /// What kind of report it came from (`sinkhole-events`,
    /// `sinkhole-http`, `sinkhole-dns`, `drone`, `botnet-drone`,
    /// `intelmq`, `hunt`).
    pub report_type: String,
    /// The report file.
    pub file: String,
    /// Its line (1-based; for CSV, the line the record starts on).
    pub line: u64,
}
