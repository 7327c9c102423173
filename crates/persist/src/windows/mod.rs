//! Windows autostarts of an offline volume (a Windows disk mounted on a
//! rescue system): the registry hives ([`registry`]), read with
//! [`hive`], and paths mapped onto the mount by [`paths`].

pub mod edit;
pub mod hive;
pub(crate) mod log;
pub mod paths;
mod regf;
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

/// Every Windows autostart entry under `root`: the registry's first (it
/// also tells where SystemRoot and the program folders are), then the
/// task store and the Startup folders.
pub fn collect(root: &Path) -> Inventory {
    // The volume is read once, as it is: each directory is listed once.
    let _cache = paths::Cache::enter();
    let (mut inv, vars) = registry::collect_with_vars(root);
    inv.extend(tasks::collect(root, &vars));
    inv.extend(startup::collect(root, &vars));
    inv
}
