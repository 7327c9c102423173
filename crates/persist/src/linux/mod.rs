//! Linux autostarts (placeholder until the module lands).

use crate::Inventory;
use std::path::Path;

/// Every Linux autostart entry under `root`.
pub fn collect(_root: &Path) -> Inventory {
    Inventory::default()
}
