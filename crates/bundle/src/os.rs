//! What differs between operating systems for the store and the key files:
//! who counts as the administrator, where the per-user directories are,
//! how a file is created without following a link, and who may write a
//! trusted path. One API here; the calls themselves live in `unix` and
//! `windows`.

use crate::Result;
use std::fs::{DirBuilder, Metadata, OpenOptions};
use std::path::{Path, PathBuf};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

/// Whether the process runs as the system's administrator, which selects
/// the system-wide directories instead of the user's.
pub(crate) fn is_admin() -> bool {
    imp::is_admin()
}

/// The user's directory for data (installed signature sets).
pub(crate) fn user_data_dir() -> Option<PathBuf> {
    imp::user_data_dir()
}

/// The user's directory for configuration (trusted keys).
pub(crate) fn user_config_dir() -> Option<PathBuf> {
    imp::user_config_dir()
}

/// Options that create a file readable by all (`public`) or by its owner
/// only, and, with `nofollow`, refuse to open through a link at the path.
pub(crate) fn create_options(public: bool, nofollow: bool) -> OpenOptions {
    imp::create_options(public, nofollow)
}

/// A directory builder for directories others may read, not write.
pub(crate) fn dir_builder() -> DirBuilder {
    imp::dir_builder()
}

/// Refuses a path that a user other than us (or the administrator) could
/// write: a trusted key, or the directory holding the installed set, must
/// not be replaceable by whoever the scan is protecting against.
pub(crate) fn check_not_writable_by_others(path: &Path, meta: &Metadata) -> Result<()> {
    imp::check_not_writable_by_others(path, meta)
}

/// Refuses a secret key file that users other than its owner can read.
pub(crate) fn check_private(path: &Path, meta: &Metadata) -> Result<()> {
    imp::check_private(path, meta)
}

/// Makes a link at `link` to the directory `target` (relative to the
/// link's directory).
pub(crate) fn dir_link(target: &Path, link: &Path) -> std::io::Result<()> {
    imp::dir_link(target, link)
}
