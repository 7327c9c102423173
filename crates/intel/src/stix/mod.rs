//! STIX 2.1: bundles read (streamed; patterns parsed into indicators) and
//! written (deterministic ids, so a re-export updates instead of
//! duplicating).

pub mod ids;
pub mod pattern;
pub mod read;
pub mod write;
