//! Placeholder: being written.

use crate::{Event, Outcome};

/// The header of a Zeek TSV log.
#[derive(Clone, Debug, Default)]
pub struct Header {}

impl Header {
    /// Applies one `#` line to the header.
    pub fn apply(&mut self, _line: &[u8]) -> Outcome {
        Outcome::Bad("not implemented")
    }
    /// True once `#fields` was read.
    pub fn ready(&self) -> bool {
        false
    }
}

/// Reads one TSV line.
pub fn parse_tsv(_h: &Header, _line: &[u8], _ev: &mut Event) -> Outcome {
    Outcome::Bad("not implemented")
}

/// Reads one JSON line.
pub fn parse_json(_line: &[u8], _ev: &mut Event) -> Outcome {
    Outcome::Bad("not implemented")
}

/// True when `line` is a Zeek TSV header line.
pub fn sniff_tsv(_line: &[u8]) -> bool {
    false
}

/// True when `line` is a Zeek JSON log line.
pub fn sniff_json(_line: &[u8]) -> bool {
    false
}
