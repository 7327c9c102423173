//! newGOZ (being written).

use crate::Family;

/// newGOZ.
pub static FAMILY: Family = Family {
    name: "newgoz",
    aliases: &[],
    title: "newGOZ (being written)",
    variants: &[],
};
