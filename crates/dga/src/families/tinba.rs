//! Tinba (being written).

use crate::Family;

/// Tinba.
pub static FAMILY: Family = Family {
    name: "tinba",
    aliases: &[],
    title: "Tinba (being written)",
    variants: &[],
};
