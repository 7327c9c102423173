//! Placeholder: replaced by the real unpacker.

use crate::{Ctx, Issue, Sink};

pub(crate) fn detect_mail(_data: &[u8]) -> bool {
    false
}

pub(crate) fn extract_mail(
    _data: &[u8],
    _name: &str,
    _ctx: &mut Ctx,
    _sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    Err(Issue::unsupported("mail: not implemented"))
}

pub(crate) fn detect_mbox(_data: &[u8]) -> bool {
    false
}

pub(crate) fn extract_mbox(
    _data: &[u8],
    _name: &str,
    _ctx: &mut Ctx,
    _sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    Err(Issue::unsupported("mbox: not implemented"))
}

pub(crate) fn detect_uuencode(_data: &[u8]) -> bool {
    false
}

pub(crate) fn extract_uuencode(
    _data: &[u8],
    _name: &str,
    _ctx: &mut Ctx,
    _sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    Err(Issue::unsupported("uuencode: not implemented"))
}
