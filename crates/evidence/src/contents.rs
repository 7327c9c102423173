//! A bag's contents as `verify` needs them, read from a case directory or
//! streamed from a sealed archive: every tag file's bytes, and every
//! payload file's digests. All checks (BagIt, custody, timestamps) work on
//! this one view, so a directory and a package are verified alike.

use crate::{Digests, Problem};
use std::collections::BTreeMap;

/// What is in a bag.
#[derive(Clone, Debug, Default)]
pub struct BagContents {
    /// Tag files (everything outside `data/`), by bag path (`/`-separated),
    /// with their bytes.
    pub tags: BTreeMap<String, Vec<u8>>,
    /// Payload files (under `data/`), by bag path, with their digests.
    pub payload: BTreeMap<String, Digests>,
    /// What could not be read while gathering this (an unreadable file, an
    /// unsafe name or a link in an archive, a tag file over the limit).
    pub problems: Vec<Problem>,
}
