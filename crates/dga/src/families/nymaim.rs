//! Nymaim (being written).

use crate::Family;

/// Nymaim.
pub static FAMILY: Family = Family {
    name: "nymaim",
    aliases: &[],
    title: "Nymaim (being written)",
    variants: &[],
};
