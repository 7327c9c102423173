//! ClamAV signature databases for takedown: parsers for `.ndb`, `.ldb`,
//! `.mdb`/`.msb`, `.ign2`/`.ign` and `.cvd`/`.cld`/`.cud`, and a matcher
//! that runs all body, logical and section-hash signatures over a byte
//! buffer in one pass.
//!
//! ```
//! use takedown_clamav::{Database, Kind, ScanInput};
//! let mut db = Database::new();
//! let report = db.load("local.ndb", Kind::Ndb, b"Demo.Sig:0:*:68656c6c6f{1-4}776f726c64\n");
//! assert_eq!(report.loaded, 1);
//! let sigs = db.finish();
//! let hits = sigs.scan(&ScanInput { data: b"say hello, world", target: None });
//! assert_eq!(hits.matches[0].name, "Demo.Sig");
//! ```
//!
//! What is supported and why the rest is not: `docs/clamav-signatures.md`.
#![deny(missing_docs)]

pub mod cvd;
mod db;
pub mod exe;
pub mod expr;
pub mod hexsig;
pub mod offset;
pub mod pattern;
pub mod sigs;
pub mod target;
pub mod unsupported;

pub use db::{
    Database, Issue, Kind, LoadReport, MAX_ANCHOR, MAX_ISSUES, MAX_PCRE_MATCHES, MAX_PCRE_SIZE,
    MIN_ANCHOR, Match, SLOW_BUDGET_HITS, ScanInput, ScanResult, SigKind, Signatures, Stats,
};
pub use target::TargetType;
