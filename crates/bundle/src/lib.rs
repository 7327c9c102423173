//! Signed, versioned signature bundles.
//!
//! A responder fleet needs one signature set, the same everywhere, that
//! nobody on the way can alter: a publisher packs a signature directory
//! into one file ([`format`]), signs it with an Ed25519 key ([`key`]), and
//! every machine fetches it ([`source`]), checks the signature, the
//! version and every byte, and switches to it atomically, keeping the
//! previous set for a rollback ([`store`]).
//!
//! The crate knows nothing of YARA or of the engine: whether a set
//! actually loads is asked of the caller through a callback before the
//! switch. The design is in `docs/updates.md`.
#![deny(missing_docs)]

pub mod format;
#[cfg(feature = "http")]
mod http;
pub mod key;
mod os;
pub mod source;
pub mod store;

pub use format::{FileEntry, Manifest, Opened, Signer, Trust};
pub use store::{Installed, Store};

/// Everything that can go wrong with a bundle, a key or the installed set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The bundle is malformed, truncated, extended or its content does
    /// not match its manifest.
    #[error("{0}")]
    Invalid(String),
    /// The bundle is not signed by a trusted key (or not signed at all).
    #[error("{0}")]
    Untrusted(String),
    /// The bundle is the set already active.
    #[error("version {0} is already installed and active")]
    UpToDate(u64),
    /// The bundle is older than (or as old as) one already installed.
    #[error("{0}")]
    NotNewer(String),
    /// The caller's check (does the set load?) said no; the message says
    /// so and why.
    #[error("{0}")]
    Rejected(String),
    /// A key file is malformed or unsafe.
    #[error("{0}")]
    Key(String),
    /// Another update holds the lock.
    #[error("{0}")]
    Busy(String),
    /// The source could not be reached or named no bundle.
    #[error("{0}")]
    Fetch(String),
}

impl Error {
    /// True when the bundle itself was refused (bad, untrusted, not newer,
    /// does not load), as opposed to a failure to get or store it.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::Invalid(_) | Error::Untrusted(_) | Error::NotNewer(_) | Error::Rejected(_)
        )
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Short for this crate's results.
pub type Result<T> = std::result::Result<T, Error>;

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An RFC 3339 date (UTC) of Unix seconds, for display.
pub fn format_date(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{unix} (Unix seconds)"))
}

/// A default bundle version: the UTC time as the integer YYYYMMDDhhmmss,
/// readable and increasing with every bundle made later.
pub fn version_from_time(unix: u64) -> u64 {
    let Some(d) = i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
    else {
        return unix;
    };
    let date = u64::try_from(d.year()).unwrap_or(0) * 10_000
        + u64::from(u8::from(d.month())) * 100
        + u64::from(d.day());
    let clock = u64::from(d.hour()) * 10_000 + u64::from(d.minute()) * 100 + u64::from(d.second());
    date * 1_000_000 + clock
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_from_time_reads_as_a_date() {
        // 2025-01-02T03:04:05Z
        assert_eq!(super::version_from_time(1_735_787_045), 20_250_102_030_405);
        assert_eq!(
            super::format_date(1_735_787_045),
            "2025-01-02T03:04:05Z".to_string()
        );
    }
}
