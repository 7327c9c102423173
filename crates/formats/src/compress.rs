//! Placeholder: replaced by the real unpacker.

use crate::{Ctx, Issue, Sink};

pub(crate) fn detect_gzip(_data: &[u8]) -> bool {
    false
}

pub(crate) fn extract_gzip(
    _data: &[u8],
    _name: &str,
    _ctx: &mut Ctx,
    _sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    Err(Issue::unsupported("gzip: not implemented"))
}

pub(crate) fn detect_bzip2(_data: &[u8]) -> bool {
    false
}

pub(crate) fn extract_bzip2(
    _data: &[u8],
    _name: &str,
    _ctx: &mut Ctx,
    _sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    Err(Issue::unsupported("bzip2: not implemented"))
}

pub(crate) fn detect_xz(_data: &[u8]) -> bool {
    false
}

pub(crate) fn extract_xz(
    _data: &[u8],
    _name: &str,
    _ctx: &mut Ctx,
    _sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    Err(Issue::unsupported("xz: not implemented"))
}

pub(crate) fn detect_lzma(_data: &[u8]) -> bool {
    false
}

pub(crate) fn extract_lzma(
    _data: &[u8],
    _name: &str,
    _ctx: &mut Ctx,
    _sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    Err(Issue::unsupported("lzma: not implemented"))
}

pub(crate) fn detect_zstd(_data: &[u8]) -> bool {
    false
}

pub(crate) fn extract_zstd(
    _data: &[u8],
    _name: &str,
    _ctx: &mut Ctx,
    _sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    Err(Issue::unsupported("zstd: not implemented"))
}
