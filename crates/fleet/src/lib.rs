//! Fleet-wide hunts over NATS JetStream.
//!
//! A responder issues a hunt once ([`issue::issue_hunt`]): a signed
//! signature bundle, the paths and scan options, a target (every agent, the
//! agents with a label, or one host) and an expiry. Each machine runs an
//! agent ([`agent::run`]) that holds durable consumers on the hunts
//! addressed to it, so a laptop that was offline when the hunt was issued
//! runs it when it comes back (unless the hunt has expired). The agent runs
//! only signature sets that verify against its own trusted keys
//! ([`bundle`]), scans in a child process ([`runner`]), publishes every
//! finding with a deterministic message id (a redelivery never doubles a
//! result), then one completion record, and only then acknowledges the
//! hunt. The analyst reads who is done, running or not yet seen
//! ([`issue::status`]) and the findings ([`issue::results`]).
//!
//! NATS does the distribution (persistence, redelivery, de-duplication,
//! TLS, per-client permissions); this crate only names subjects, writes
//! records and keeps the protocol's order. The design, the subjects and
//! the server configuration are in `docs/fleet.md`.
#![deny(missing_docs)]

/// The NATS client this crate speaks through, for callers that need its
/// types (the same version, whatever else is in the build).
pub use async_nats;

pub mod agent;
pub mod bundle;
pub mod conn;
mod fault;
pub mod ids;
pub mod issue;
pub mod logs;
pub mod model;
pub mod runner;

/// Everything that can go wrong in a fleet operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value given by the user or read from the network breaks the
    /// rules (a host id with a dot, a hunt message that is not JSON).
    #[error("{0}")]
    Invalid(String),
    /// The NATS server could not be reached, or refused a request.
    #[error("{0}")]
    Nats(String),
    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Something asked for does not exist (a hunt id nobody issued).
    #[error("{0}")]
    NotFound(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn nats(context: &str, e: impl std::fmt::Display) -> Error {
        Error::Nats(format!("{context}: {e}"))
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
