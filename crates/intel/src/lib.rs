//! Threat intelligence for takedown: one indicator model and the formats
//! partners exchange it in.
//!
//! * [`model`]: the [`Indicator`](model::Indicator) every reader produces
//!   and every consumer takes (scan engine, hunting, blocklists, exports).
//! * [`stix`]: STIX 2.1 bundles in (streamed, patterns parsed) and out
//!   (deterministic ids).
//! * [`misp`]: MISP events and feeds in and out.
//! * [`json`]: a `.json` signature file recognised by content and read.
//! * [`records`]: findings NDJSON read back, the input of the exports.
//! * [`html`]: the report a person reads.
//! * `taxii` (feature `client`): the TAXII 2.1 client.
//!
//! No scan engine here: this crate parses hostile input and must be
//! reachable by fuzz targets without building yara-x.
#![deny(missing_docs)]

pub mod html;
pub mod json;
pub mod misp;
pub mod model;
pub mod records;
pub mod stix;
#[cfg(feature = "client")]
pub mod taxii;

pub use model::{Indicator, Kind, Loaded, Provenance, ReadError, SkipClass, Skipped, Tlp};

/// What every reader needs besides the bytes.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Name of the source (file path, feed directory, collection URL), put
    /// in each indicator's provenance and in error messages.
    pub source: String,
    /// "Now", for expiry: indicators whose `valid_until` is before it are
    /// skipped as expired.
    pub now: time::OffsetDateTime,
}

impl ReadOptions {
    /// Options for `source`, now being the current time.
    pub fn new(source: impl Into<String>) -> ReadOptions {
        ReadOptions {
            source: source.into(),
            now: time::OffsetDateTime::now_utc(),
        }
    }
}
