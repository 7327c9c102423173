//! MISP: events (one, a list, or a REST `response`) and feed directories
//! read into indicators; events and feeds written from findings.

pub mod feed;
pub mod read;
pub mod write;
