//! Corebot (being written).

use crate::Family;

/// Corebot.
pub static FAMILY: Family = Family {
    name: "corebot",
    aliases: &[],
    title: "Corebot (being written)",
    variants: &[],
};
