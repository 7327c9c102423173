//! Pandabanker (being written).

use crate::Family;

/// Pandabanker.
pub static FAMILY: Family = Family {
    name: "pandabanker",
    aliases: &[],
    title: "Pandabanker (being written)",
    variants: &[],
};
