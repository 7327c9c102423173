//! Placeholder: being written.

use crate::{Event, LineCtx, Outcome};

/// Reads one line into `ev`.
pub fn parse(_ctx: &LineCtx, _line: &[u8], _ev: &mut Event) -> Outcome {
    Outcome::Bad("not implemented")
}

/// True when `line` looks like this format (detection by content).
pub fn sniff(_line: &[u8]) -> bool {
    false
}
