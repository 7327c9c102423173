//! Placeholder: being written.

use crate::{Event, Outcome};

/// Reads one line into `ev`.
pub fn parse(_line: &[u8], _ev: &mut Event) -> Outcome {
    Outcome::Bad("not implemented")
}

/// True when `line` looks like this format (detection by content).
pub fn sniff(_line: &[u8]) -> bool {
    false
}
