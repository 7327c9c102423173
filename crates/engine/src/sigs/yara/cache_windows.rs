//! The compiled-rules cache on Windows: not used. The cache holds native
//! code, and loading it is safe only when no other user can have written
//! it; on Windows that means checking the owner and ACL of the file and its
//! directory, which is not written yet. Until then the rules are compiled
//! at each start.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Why the cache is not used on Windows.
const WHY: &str = "the compiled-rules cache holds native code and checking its owner and ACL \
                   is not available on Windows yet";

/// No cache file on Windows: the rules are compiled instead.
pub(super) fn cache_file(cache_dir: Option<&Path>, name: String) -> Option<PathBuf> {
    if let Some(dir) = cache_dir {
        tracing::debug!(
            "not using {}: {WHY}; compiling the rules",
            dir.join(name).display()
        );
    }
    None
}

/// Refused (never reached: [`cache_file`] names no file).
pub(super) fn create_private_dir(_dir: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other(WHY))
}

/// Refused (never reached: [`cache_file`] names no file).
pub(super) fn create_private_file(_path: &Path) -> std::io::Result<File> {
    Err(std::io::Error::other(WHY))
}

/// Refused (never reached: [`cache_file`] names no file).
pub(super) fn open_private(_file: &Path) -> Result<Option<File>, String> {
    Err(WHY.to_string())
}
