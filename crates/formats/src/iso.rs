//! Placeholder: replaced by the real unpacker.

use crate::{Ctx, Issue, Sink};

pub(crate) fn detect(_data: &[u8]) -> bool {
    false
}

pub(crate) fn extract(
    _data: &[u8],
    _name: &str,
    _ctx: &mut Ctx,
    _sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    Err(Issue::unsupported("iso9660: not implemented"))
}
