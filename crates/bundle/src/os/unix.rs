//! The Unix side of [`crate::os`]: the effective uid, XDG directories,
//! mode bits, `O_NOFOLLOW` and symbolic links.

use crate::{Error, Result};
use std::fs::{DirBuilder, Metadata, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

pub(super) fn is_admin() -> bool {
    euid() == 0
}

fn home_below(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(fallback))
        })
}

/// `$XDG_DATA_HOME`, else `~/.local/share`.
pub(super) fn user_data_dir() -> Option<PathBuf> {
    home_below("XDG_DATA_HOME", ".local/share")
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub(super) fn user_config_dir() -> Option<PathBuf> {
    home_below("XDG_CONFIG_HOME", ".config")
}

pub(super) fn create_options(public: bool, nofollow: bool) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(if public { 0o644 } else { 0o600 });
    if nofollow {
        o.custom_flags(libc::O_NOFOLLOW);
    }
    o
}

pub(super) fn dir_builder() -> DirBuilder {
    let mut b = DirBuilder::new();
    b.mode(0o755);
    b
}

pub(super) fn check_not_writable_by_others(path: &Path, meta: &Metadata) -> Result<()> {
    let owner = meta.uid();
    if owner != 0 && owner != euid() {
        return Err(Error::Key(format!(
            "{} belongs to another user (uid {owner}); refused",
            path.display()
        )));
    }
    if meta.mode() & 0o022 != 0 && !meta.file_type().is_symlink() {
        return Err(Error::Key(format!(
            "{} is writable by other users (mode {:o}); refused",
            path.display(),
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

pub(super) fn check_private(path: &Path, meta: &Metadata) -> Result<()> {
    if meta.mode() & 0o077 != 0 {
        return Err(Error::Key(format!(
            "secret key {} is accessible by other users (mode {:o}); `chmod 600` it",
            path.display(),
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

pub(super) fn dir_link(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}
