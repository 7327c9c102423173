//! The compiled-rules cache's file operations on Unix: a private directory
//! and files, and loading only what the current user owns and no one else
//! can write (the cache holds native code).

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The cache file `name` in `cache_dir`.
pub(super) fn cache_file(cache_dir: Option<&Path>, name: String) -> Option<PathBuf> {
    cache_dir.map(|d| d.join(name))
}

/// Creates the cache directory (mode 0700) and checks it is private.
pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    check_private(dir).map_err(std::io::Error::other)
}

/// Creates a new cache file (mode 0600); fails if it exists.
pub(super) fn create_private_file(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Opens a cache file without following a symlink, and only when it and
/// its directory are private; `None` when there is no such file.
pub(super) fn open_private(file: &Path) -> Result<Option<File>, String> {
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    check_private(file.parent().unwrap_or(Path::new(".")))?;
    check_private(file)?;
    Ok(Some(f))
}

/// Refuses a path that another user owns or could write: the cache holds
/// native code.
fn check_private(path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "{} is owned by uid {}, not by the current user ({me})",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by group or others (mode {:o})",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}
