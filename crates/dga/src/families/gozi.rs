//! Gozi (being written).

use crate::Family;

/// Gozi.
pub static FAMILY: Family = Family {
    name: "gozi",
    aliases: &[],
    title: "Gozi (being written)",
    variants: &[],
};
