//! Windows autostarts of an offline volume (a Windows disk mounted on a
//! rescue system): the registry hives ([`registry`]), read with
//! [`hive`], and paths mapped onto the mount by [`paths`].

pub mod hive;
pub mod paths;
pub mod registry;
pub mod startup;
pub mod tasks;

use crate::Inventory;
use std::path::Path;

/// Whether `root` is a Windows volume: it holds `Windows/System32/config`
/// (any case, no symlinks).
pub fn is_windows_root(root: &Path) -> bool {
    paths::resolve(root, r"Windows\System32\config").is_some_and(|p| p.is_dir())
}

/// Every Windows autostart entry under `root`.
pub fn collect(root: &Path) -> Inventory {
    registry::collect(root)
}
