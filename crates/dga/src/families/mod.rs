//! One module per family; [`REGISTRY`] lists them.

use crate::Family;

pub mod corebot;
pub mod gozi;
pub mod matsnu;
pub mod newgoz;
pub mod nymaim;
pub mod pandabanker;
pub mod qakbot;
pub mod ranbyus;
pub mod shiotob;
pub mod tinba;
pub mod vawtrak;

/// Every family takedown implements, in the order `dga list` shows them.
/// A family whose `variants` is empty is not implemented (its module says
/// why) and is left out of `all`.
pub static REGISTRY: &[&Family] = &[
    &nymaim::FAMILY,
    &shiotob::FAMILY,
    &tinba::FAMILY,
    &vawtrak::FAMILY,
    &qakbot::FAMILY,
    &ranbyus::FAMILY,
    &corebot::FAMILY,
    &gozi::FAMILY,
    &newgoz::FAMILY,
    &matsnu::FAMILY,
    &pandabanker::FAMILY,
];
