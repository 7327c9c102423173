//! QakBot (being written).

use crate::Family;

/// QakBot.
pub static FAMILY: Family = Family {
    name: "qakbot",
    aliases: &[],
    title: "QakBot (being written)",
    variants: &[],
};
