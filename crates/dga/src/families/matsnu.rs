//! Matsnu (being written).

use crate::Family;

/// Matsnu.
pub static FAMILY: Family = Family {
    name: "matsnu",
    aliases: &[],
    title: "Matsnu (being written)",
    variants: &[],
};
