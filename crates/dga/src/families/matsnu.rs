//! Matsnu: listed, **not implemented**, because no public description
//! precise enough to reproduce its domains could be found.
//!
//! What is public:
//!
//! * Check Point's blog post "Matsnu: A New Malware Discovery"
//!   (S. Skuratovich, 2 July 2015,
//!   <https://blog.checkpoint.com/2015/07/02/matsnu-a-new-malware-discovery/>)
//!   says the DGA uses "two predefined dictionaries, a few constants and
//!   variables, and the number of days since the epoch", generates the
//!   domains of the current day and of the previous two days, and that the
//!   bot also tries hard-coded domains. The full technical report it links
//!   to (the algorithm, the dictionaries, the constants) was not available
//!   to us: not in the search corpora (pages, docs, code, issues), and
//!   `fetch` only reaches GitHub repositories.
//! * Seculert (via Threatpost, "Matsnu Botnet DGA Discovers Power of
//!   Words", 2015) adds that the words come from a built-in list of more
//!   than 1,300 nouns and verbs, combined noun-verb-noun-verb into names of
//!   up to 24 characters.
//! * Observed names, published without their seed: `teamroomthing.com`,
//!   `transitionoccur.com`, `windbearboxreceive.com`, `winner-care-sir.com`
//!   (all "for 16 Aug 2015", in a talk's slides), `saladdoctortrainer.com`,
//!   `strangerbiketechnology.com`, `termacceptyear.com` (a DGA family table).
//!
//! The one public "implementation" found, `dga_algorithms/Matsnu.py` of
//! github.com/andrewaeva/DGA (a machine-learning training-set generator),
//! draws its time value from `random.randint`, starts every name with one
//! word of one list and appends words of the other until the name is at
//! least 24 characters long. It cannot be the malware's algorithm: the
//! observed names are 13 to 22 characters long and some carry hyphens
//! (`winner-care-sir`). No other collection searched (baderj, 360netlab,
//! pchaigno, tildedennis) has Matsnu.
//!
//! Implementing it would mean guessing the arithmetic, the constants, the
//! word lists and the length and hyphen rules, so the family has no
//! variants: `dga list` shows it as not implemented and `all` leaves it
//! out.

use crate::Family;

/// Matsnu, listed without variants: see the module documentation for why.
pub static FAMILY: Family = Family {
    name: "matsnu",
    aliases: &[],
    title: "Matsnu: NOT IMPLEMENTED (no public description precise enough: Check Point's \
            2015 report, which has the algorithm, is not available; see the module docs)",
    variants: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_listed_but_selects_nothing() {
        let f = crate::family("matsnu").expect("listed in the registry");
        assert!(std::ptr::eq(f, &FAMILY));
        // Selecting it says so, with or without a seed, rather than
        // generating nothing in silence.
        for seed in [None, Some("1")] {
            let e = crate::select("matsnu", seed, None).err().expect("an error");
            assert!(matches!(e, crate::Error::NotImplemented(..)), "{e}");
        }
        assert!(f.title.contains("NOT IMPLEMENTED"));
    }
}
