//! Shiotob (being written).

use crate::Family;

/// Shiotob.
pub static FAMILY: Family = Family {
    name: "shiotob",
    aliases: &[],
    title: "Shiotob (being written)",
    variants: &[],
};
