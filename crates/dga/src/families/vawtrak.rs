//! Vawtrak (being written).

use crate::Family;

/// Vawtrak.
pub static FAMILY: Family = Family {
    name: "vawtrak",
    aliases: &[],
    title: "Vawtrak (being written)",
    variants: &[],
};
