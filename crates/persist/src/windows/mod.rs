//! Windows autostarts of an offline volume.

pub mod paths;

use crate::Inventory;
use std::path::Path;

/// Whether `root` is a Windows volume.
pub fn is_windows_root(_root: &Path) -> bool {
    false
}

/// Every Windows autostart entry under `root`.
pub fn collect(_root: &Path) -> Inventory {
    Inventory::default()
}
