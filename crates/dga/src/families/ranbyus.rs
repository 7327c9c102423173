//! Ranbyus (being written).

use crate::Family;

/// Ranbyus.
pub static FAMILY: Family = Family {
    name: "ranbyus",
    aliases: &[],
    title: "Ranbyus (being written)",
    variants: &[],
};
