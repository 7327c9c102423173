//! What a blocklist holds, decided once for every format: names sorted
//! (DNS order: by labels from the right, a name right before its
//! subdomains) and deduplicated, collisions with the allow lists taken out
//! (or kept, when accepted), names a blocked parent already covers marked,
//! passthru entries for allowed names under a blocked parent, addresses
//! and URLs sorted and deduplicated.

use crate::allow::{AllowList, Found};
use crate::{Builder, Entry, IpEntry, Origin, UrlEntry, name};
use std::collections::HashSet;

/// A blocked name of the plan.
#[derive(Clone, Debug)]
pub struct Blocked {
    /// The name's origin and position (the first occurrence's, with the
    /// date range widened over every window of the same DGA).
    pub entry: Entry,
    /// True when a blocked parent covers it (formats that block
    /// subdomains with the name leave it out; the others keep it).
    pub covered: bool,
}

/// An allowed name under a blocked parent: a passthru entry.
#[derive(Clone, Debug)]
pub struct Passthru {
    /// [`name::sort_key`] of the name.
    pub key: Box<[u8]>,
    /// Where it is allowed.
    pub found: Found,
}

/// A blocked name found in an allow list.
#[derive(Clone, Debug)]
pub struct Collision {
    /// The name.
    pub name: String,
    /// Its origin and position (as in [`Blocked`]).
    pub entry: Entry,
    /// Where it is allowed.
    pub found: Found,
    /// True when it stays blocked (`--accept-collisions`, DGA names only).
    pub kept: bool,
}

/// Counts of [`Builder::finish`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanStats {
    /// Names collected (duplicates included).
    pub names_in: u64,
    /// Duplicates removed.
    pub duplicates: u64,
    /// Collisions taken out.
    pub collisions_removed: u64,
    /// Collisions kept (accepted).
    pub collisions_kept: u64,
    /// Names a blocked parent covers.
    pub covered: u64,
    /// Duplicate addresses and CIDR blocks removed.
    pub ip_duplicates: u64,
    /// Duplicate URLs removed.
    pub url_duplicates: u64,
}

/// The blocklist, ready to print.
#[derive(Debug, Default)]
pub struct Plan {
    /// Where everything came from.
    pub origins: Vec<Origin>,
    /// Names to block, sorted, unique.
    pub names: Vec<Blocked>,
    /// Allowed names under a blocked parent, sorted.
    pub passthru: Vec<Passthru>,
    /// Addresses and CIDR blocks, sorted, unique.
    pub ips: Vec<IpEntry>,
    /// URLs, sorted, unique.
    pub urls: Vec<UrlEntry>,
    /// Blocked names found in an allow list, in name order.
    pub collisions: Vec<Collision>,
    /// The allow lists' files (what [`Found::file`] indexes).
    pub allow_files: Vec<String>,
    /// Counts.
    pub stats: PlanStats,
}

impl Plan {
    /// The origin of an entry.
    pub fn origin(&self, e: &Entry) -> &Origin {
        &self.origins[e.origin as usize]
    }

    /// Describes an entry's origin (file and line, family, seed, dates).
    pub fn describe(&self, e: &Entry) -> String {
        self.origin(e).describe(e.first, e.last)
    }
}

impl Builder {
    /// Decides the blocklist: see the module documentation.
    /// `accept_collisions` keeps DGA names found in `allow` (reported as
    /// collisions all the same); a name that an indicator source lists
    /// and an allow list holds is always taken out.
    pub fn finish(self, allow: &AllowList, accept_collisions: bool) -> Plan {
        let Builder {
            origins,
            mut names,
            mut ips,
            mut urls,
            ..
        } = self;
        let mut stats = PlanStats {
            names_in: names.len() as u64,
            ..Default::default()
        };
        // Stable: among equal names the first occurrence (sources before
        // DGA windows, in command-line order) gives the origin.
        names.sort_by(|a, b| name::cmp_keys(&a.key, &b.key));
        // Merged runs: the entry, and whether any occurrence came from an
        // indicator source (then a collision is never accepted).
        let mut unique: Vec<(Entry, bool)> = Vec::with_capacity(names.len());
        for e in names {
            let from_indicator = !origins[e.origin as usize].is_dga();
            match unique.last_mut() {
                Some((last, ind)) if last.key == e.key => {
                    stats.duplicates += 1;
                    *ind |= from_indicator;
                    if last.origin == e.origin && origins[e.origin as usize].is_dga() {
                        last.first = last.first.min(e.first);
                        last.last = last.last.max(e.last);
                    }
                }
                _ => unique.push((e, from_indicator)),
            }
        }
        let mut collisions = Vec::new();
        let mut kept: Vec<Entry> = Vec::with_capacity(unique.len());
        for (e, from_indicator) in unique {
            match allow.find_key(&e.key) {
                None => kept.push(e),
                Some(found) => {
                    let keep = accept_collisions && !from_indicator;
                    if keep {
                        stats.collisions_kept += 1;
                    } else {
                        stats.collisions_removed += 1;
                    }
                    collisions.push(Collision {
                        name: e.name(),
                        entry: e.clone(),
                        found,
                        kept: keep,
                    });
                    if keep {
                        kept.push(e);
                    }
                }
            }
        }
        let passthru = passthru(&kept, allow);
        let covered = covered(&kept, &passthru);
        stats.covered = covered.iter().filter(|c| **c).count() as u64;
        let names = kept
            .into_iter()
            .zip(covered)
            .map(|(entry, covered)| Blocked { entry, covered })
            .collect();

        ips.sort_by_key(|a| (a.addr, a.prefix));
        let before = ips.len();
        ips.dedup_by(|b, a| (a.addr, a.prefix) == (b.addr, b.prefix));
        stats.ip_duplicates = (before - ips.len()) as u64;
        urls.sort_by(|a, b| a.url.cmp(&b.url));
        let before = urls.len();
        urls.dedup_by(|b, a| a.url == b.url);
        stats.url_duplicates = (before - urls.len()) as u64;

        Plan {
            origins,
            names,
            passthru,
            ips,
            urls,
            collisions,
            allow_files: allow.files.clone(),
            stats,
        }
    }
}

/// The allowed names that a blocked (kept) name covers, sorted; an allowed
/// name that is itself blocked (an accepted collision) is not one.
fn passthru(kept: &[Entry], allow: &AllowList) -> Vec<Passthru> {
    if allow.is_empty() || kept.is_empty() {
        return Vec::new();
    }
    let blocked: HashSet<&[u8], ahash::RandomState> = kept.iter().map(|e| &e.key[..]).collect();
    let mut out: Vec<Passthru> = allow
        .names
        .iter()
        .filter(|(key, _)| {
            !blocked.contains(&key[..])
                && key
                    .iter()
                    .enumerate()
                    .any(|(i, b)| *b == 1 && blocked.contains(&key[..i]))
        })
        .map(|(key, found)| Passthru {
            key: key.clone(),
            found: *found,
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// For each kept name: whether its nearest listed ancestor (blocked or
/// passthru) is blocked, so that a format whose entries cover subdomains
/// can leave it out. A name under a passthru entry is not covered: the
/// passthru would otherwise let it through.
fn covered(kept: &[Entry], passthru: &[Passthru]) -> Vec<bool> {
    let mut out = Vec::with_capacity(kept.len());
    // The chain of listed ancestors of the current position: (key,
    // blocked). Sorted order visits a name right before its subdomains.
    let mut stack: Vec<(&[u8], bool)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < kept.len() || j < passthru.len() {
        let take_kept = j >= passthru.len() || (i < kept.len() && kept[i].key < passthru[j].key);
        let (key, blocked) = if take_kept {
            (&kept[i].key[..], true)
        } else {
            (&passthru[j].key[..], false)
        };
        while let Some((top, _)) = stack.last() {
            if key.len() > top.len() && key.starts_with(top) && key[top.len()] == 1 {
                break;
            }
            stack.pop();
        }
        if take_kept {
            out.push(stack.last().is_some_and(|(_, b)| *b));
            i += 1;
        } else {
            j += 1;
        }
        stack.push((key, blocked));
    }
    out
}

/// Names of the plan, for tests and callers that want strings.
pub fn names(plan: &Plan) -> Vec<String> {
    plan.names
        .iter()
        .map(|b| name::from_sort_key(&b.entry.key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::read_list_from;

    fn builder(text: &str) -> Builder {
        let mut b = Builder::new();
        read_list_from(&mut b, text.as_bytes(), "in.txt", &mut |d| panic!("{d}")).unwrap();
        b
    }

    fn allow(text: &str) -> AllowList {
        let mut a = AllowList::new();
        a.read(text.as_bytes(), "allow.txt", &mut |d| panic!("{d}"))
            .unwrap();
        a
    }

    #[test]
    fn sorted_unique_covered() {
        let b = builder(
            "b.example\nx.a.example\na.example\nB.example.\ny.x.a.example\na-b.example\n198.51.100.1\n198.51.100.1/32\n2001:db8::/32\n",
        );
        let p = b.finish(&AllowList::new(), false);
        assert_eq!(
            names(&p),
            vec![
                "a.example",
                "x.a.example",
                "y.x.a.example",
                "a-b.example",
                "b.example"
            ]
        );
        let cov: Vec<bool> = p.names.iter().map(|n| n.covered).collect();
        assert_eq!(cov, vec![false, true, true, false, false]);
        assert_eq!(p.stats.duplicates, 1);
        assert_eq!(p.stats.covered, 2);
        assert_eq!(p.ips.len(), 2);
        assert_eq!(p.stats.ip_duplicates, 1);
    }

    #[test]
    fn collisions_and_passthru() {
        let mut b = builder("popular.example\nevil.example\n");
        let dga = crate::Origin::Dga {
            family: "fam",
            variant: "",
            seed: "1".into(),
        };
        let o = b.add_origin(dga);
        b.push_name("collide.example", o, 10, 10);
        b.push_name("collide.example", o, 12, 12);
        b.push_name("fine.example", o, 11, 11);
        let a =
            allow("1,popular.example\n2,collide.example\n3,www.evil.example\n4,other.example\n");
        let p = Builder {
            origins: b.origins.clone(),
            names: b.names.clone(),
            ..Default::default()
        }
        .finish(&a, false);
        assert_eq!(names(&p), vec!["evil.example", "fine.example"]);
        assert_eq!(p.collisions.len(), 2);
        assert_eq!(p.collisions[0].name, "collide.example");
        assert!(!p.collisions[0].kept);
        assert_eq!(
            (p.collisions[0].entry.first, p.collisions[0].entry.last),
            (10, 12)
        );
        assert_eq!(p.collisions[1].name, "popular.example");
        assert_eq!(p.collisions[1].found.line, 1);
        assert_eq!(p.passthru.len(), 1);
        assert_eq!(name::from_sort_key(&p.passthru[0].key), "www.evil.example");

        // Accepted: the DGA name stays, the indicator one does not.
        let p = b.finish(&a, true);
        assert_eq!(
            names(&p),
            vec!["collide.example", "evil.example", "fine.example"]
        );
        assert_eq!(p.stats.collisions_kept, 1);
        assert_eq!(p.stats.collisions_removed, 1);
    }

    #[test]
    fn a_name_under_a_passthru_is_not_covered() {
        let b = builder("evil.example\na.b.evil.example\nc.evil.example\n");
        let p = b.finish(&allow("b.evil.example\n"), false);
        assert_eq!(
            names(&p),
            vec!["evil.example", "a.b.evil.example", "c.evil.example"]
        );
        let cov: Vec<bool> = p.names.iter().map(|n| n.covered).collect();
        assert_eq!(cov, vec![false, false, true]);
    }
}
