//! The Windows side of [`crate::os`].
//!
//! Windows has no mode bits: who may read or write a file is in its
//! security descriptor (inherited from the directory when the file is
//! created). Checking that descriptor for "no one but us and the
//! administrators may write this" is not written yet, so every check that
//! depends on it refuses with that reason instead of passing: installing
//! signature bundles, trusting keys from a directory and reading a secret
//! key are not available on Windows yet. Reading the active set (`scan`'s
//! signatures) needs none of it.

use crate::{Error, Result};
use std::fs::{DirBuilder, Metadata, OpenOptions};
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT;

/// Telling an elevated administrator apart (a token query) is not written
/// yet; the per-user directories are used by everyone meanwhile, which is
/// safe: nothing is shared with other users.
pub(super) fn is_admin() -> bool {
    false
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `%LOCALAPPDATA%`: data stays on this machine.
pub(super) fn user_data_dir() -> Option<PathBuf> {
    env_dir("LOCALAPPDATA")
}

/// `%APPDATA%`, the user's (roaming) settings.
pub(super) fn user_config_dir() -> Option<PathBuf> {
    env_dir("APPDATA")
}

/// `public` has no meaning without mode bits: the file gets the
/// directory's inherited security descriptor either way. `nofollow` opens
/// a reparse point (symbolic link, junction) itself, not its target.
pub(super) fn create_options(_public: bool, nofollow: bool) -> OpenOptions {
    let mut o = OpenOptions::new();
    if nofollow {
        o.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    o
}

pub(super) fn dir_builder() -> DirBuilder {
    DirBuilder::new()
}

pub(super) fn check_not_writable_by_others(path: &Path, _meta: &Metadata) -> Result<()> {
    Err(Error::Key(format!(
        "cannot tell who may write {}: checking a Windows security descriptor is not available on Windows yet; refused",
        path.display()
    )))
}

pub(super) fn check_private(path: &Path, _meta: &Metadata) -> Result<()> {
    Err(Error::Key(format!(
        "cannot tell who may read the secret key {}: checking a Windows security descriptor is not available on Windows yet; refused",
        path.display()
    )))
}

/// A directory symbolic link (needs the privilege to create them, which
/// administrators and Developer Mode have; the error says so otherwise).
pub(super) fn dir_link(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}
