//! The takedown scan engine.
//!
//! A [`sigs::SignatureSet`] is loaded once from YARA rules, hash and name
//! IOCs and allow-lists; [`scan::ObjectScanner`] scans one object with it;
//! [`run::run`] walks targets in parallel and turns each object into a
//! [`finding::Finding`]. Front ends (the CLI, later the service) only
//! configure these and print findings.
#![deny(missing_docs)]

pub mod copies;
pub mod digest;
pub mod filetype;
pub mod finding;
pub mod memory;
mod platform;
pub mod run;
pub mod sanitize;
pub mod scan;
pub mod sigs;
pub mod size;
