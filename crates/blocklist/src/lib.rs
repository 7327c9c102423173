//! Blocklists (being written).
#![deny(missing_docs)]
