//! pyasn as the oracle of the IP-to-ASN table: pyasn (H. Asghari and
//! A. Noroozian; Debian `python3-pyasn` or PyPI `pyasn`, a C radix tree)
//! and takedown (`takedown_netlog::asn::AsnDb`, directly and through the
//! notify crate's `Enricher`) load the same generated table in pyasn's
//! IPASN format, header lines as `pyasn_util_convert.py` writes them, and
//! must give the same answer for every address asked: the same AS number
//! or none, and the same longest prefix (pyasn's `lookup` returns
//! `(asn, prefix)`).
//!
//! The tables hold tens of thousands of IPv4 and IPv6 prefixes, nested
//! up to eight deep, a /8 holding /32s at its first and last address,
//! `0.0.0.0/8` with `0.0.0.0/32`, `255.0.0.0/8` with
//! `255.255.255.255/32`, prefixes written with host bits set and prefixes
//! listed twice with different AS numbers (the later line wins in both).
//! A second table routes both halves of each space (`0.0.0.0/1`,
//! `128.0.0.0/1`, `::/1`, `8000::/1`: pyasn refuses a table with a
//! default route `/0`, which takedown reads; routing table conversions
//! leave it out). The
//! addresses asked are the first and last address of every prefix, the
//! addresses just outside it, one inside, random addresses over the
//! whole space, and `0.0.0.0`, `255.255.255.255`, `::`, `::1` and
//! `ffff:...:ffff`: a few hundred thousand in all.
//!
//! One deliberate difference, checked as such: an IPv4-mapped IPv6
//! address (`::ffff:192.0.2.1`) is looked up by takedown as the IPv4
//! address it carries (pyasn looks it up in its IPv6 tree, where no
//! routing table has it); the test asks pyasn for the IPv4 address and
//! takedown for the mapped one.
//!
//! Needs a Python with pyasn: `TAKEDOWN_PYTHON`, the workspace's `.venv`
//! (`pip install pyasn`), or the system `python3` with Debian's
//! `python3-pyasn`, the first that has it; skipped with a message
//! without one, except under `CI`, where that fails.

mod util;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use takedown_netlog::asn::AsnDb;
use takedown_notify::Event;
use takedown_notify::contacts::enrich::{AsnSource, Enricher};

/// Looks every address of argv[2] up in the table argv[1] and prints one
/// line per address: `ASN<TAB>PREFIX`, or `-` when pyasn has no route.
const ORACLE: &str = r#"
import sys, pyasn
db = pyasn.pyasn(sys.argv[1])
out = []
with open(sys.argv[2]) as f:
    for line in f:
        asn, prefix = db.lookup(line.strip())
        out.append("-" if asn is None else "%d\t%s" % (asn, prefix))
sys.stdout.write("\n".join(out))
sys.stdout.write("\n")
"#;

/// A small deterministic generator (xorshift64*), so that a failure can
/// be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }
}

/// One table line: a prefix (possibly with host bits set, as written),
/// its length and AS number; `bits` is 32 or 128.
#[derive(Clone, Copy)]
struct Line {
    addr: u128,
    len: u8,
    bits: u8,
    asn: u32,
}

impl Line {
    /// The prefix's first and last address (host bits cleared and set).
    fn range(&self) -> (u128, u128) {
        let host = u32::from(self.bits - self.len);
        let mask = if host == 128 {
            u128::MAX
        } else {
            (1u128 << host) - 1
        };
        (self.addr & !mask, self.addr | mask)
    }
}

fn ip_of(x: u128, bits: u8) -> IpAddr {
    if bits == 32 {
        // Generated in the low 32 bits.
        IpAddr::V4(Ipv4Addr::from(x as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(x))
    }
}

/// An AS number: mostly 16-bit, some 32-bit ones over 65535.
fn asn(rng: &mut Rng) -> u32 {
    if rng.chance(20) {
        65_536 + rng.below(4_000_000_000) as u32
    } else {
        1 + rng.below(65_000) as u32
    }
}

/// A prefix of `len` bits at a random place inside `parent` (or anywhere
/// in `top`, a range of the `bits`-bit space).
fn child(rng: &mut Rng, start: u128, end: u128, len: u8, bits: u8) -> Line {
    let span = end - start;
    let off = if span == u128::MAX {
        rng.u128()
    } else {
        rng.u128() % (span + 1)
    };
    let mut l = Line {
        addr: start + off,
        len,
        bits,
        asn: asn(rng),
    };
    let (s, _) = l.range();
    l.addr = s;
    l
}

/// The table's lines: `v4` top-level IPv4 prefixes and `v6` IPv6 ones,
/// each with a few nested ones, and the edge cases of the module
/// documentation.
fn table(rng: &mut Rng, v4: usize, v6: usize, halves: bool) -> Vec<Line> {
    let mut lines = Vec::new();
    // Nested chains: a top prefix, then up to 7 more, each inside the
    // one before, some siblings.
    for (count, bits, lens) in [(v4, 32u8, (8u8, 24u8)), (v6, 128, (16, 64))] {
        for _ in 0..count {
            let len = lens.0 + rng.below(u64::from(lens.1 - lens.0) + 1) as u8;
            let (lo, hi) = if bits == 32 {
                (0u128, u128::from(u32::MAX))
            } else {
                // Global unicast, 2000::/3, as routing tables are.
                (0x2000u128 << 112, (0x4000u128 << 112) - 1)
            };
            let mut parent = child(rng, lo, hi, len, bits);
            lines.push(parent);
            let depth = rng.below(8);
            for _ in 0..depth {
                let max = if bits == 32 { 32 } else { 128 };
                if parent.len >= max {
                    break;
                }
                let step = 1 + rng.below(8) as u8;
                let len = (parent.len + step).min(max);
                let (s, e) = parent.range();
                let c = child(rng, s, e, len, bits);
                lines.push(c);
                if rng.chance(30) {
                    lines.push(child(rng, s, e, len, bits));
                }
                parent = c;
            }
        }
    }
    // Edges of the IPv4 space and a /8 with /32s at both ends.
    let v4 = |a: [u8; 4], len: u8, asn: u32| Line {
        addr: u128::from(u32::from(Ipv4Addr::from(a))),
        len,
        bits: 32,
        asn,
    };
    lines.push(v4([0, 0, 0, 0], 8, 64_496));
    lines.push(v4([0, 0, 0, 0], 32, 64_497));
    lines.push(v4([255, 0, 0, 0], 8, 64_498));
    lines.push(v4([255, 255, 255, 255], 32, 64_499));
    lines.push(v4([11, 0, 0, 0], 8, 3_356));
    lines.push(v4([11, 0, 0, 0], 32, 64_500));
    lines.push(v4([11, 255, 255, 255], 32, 64_501));
    lines.push(v4([11, 128, 0, 0], 9, 64_502));
    // The IPv6 space's ends.
    let v6 = |a: &str, len: u8, asn: u32| Line {
        addr: u128::from(a.parse::<Ipv6Addr>().unwrap()),
        len,
        bits: 128,
        asn,
    };
    lines.push(v6("::", 128, 64_503));
    lines.push(v6("::", 96, 64_504));
    lines.push(v6("ffff::", 16, 64_505));
    lines.push(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 64_506));
    if halves {
        // pyasn refuses a table with a default route (`/0`: "Error while
        // parsing/adding IPASN database"; routing table conversions drop
        // it), so the two halves of each space stand in for it.
        lines.push(v4([0, 0, 0, 0], 1, 64_507));
        lines.push(v4([128, 0, 0, 0], 1, 64_508));
        lines.push(v6("::", 1, 64_509));
        lines.push(v6("8000::", 1, 64_510));
    }
    // Listed twice, the later AS number different.
    for i in 0..200 {
        let j = (i * 97) % lines.len();
        let mut again = lines[j];
        again.asn = again.asn.wrapping_add(1).max(1);
        lines.push(again);
    }
    lines
}

/// The table as pyasn_util_convert.py writes it; some prefixes written
/// with host bits set (both readers clear them).
fn write_table(path: &Path, lines: &[Line], rng: &mut Rng) {
    let n4 = lines.iter().filter(|l| l.bits == 32).count();
    let mut text = String::new();
    text.push_str("; IP-ASN32-DAT file\n");
    text.push_str("; Original source: rib.20260101.0000.bz2\n");
    text.push_str("; Converted on  : Thu Jan  1 06:00:00 2026\n");
    let _ = writeln!(text, "; Prefixes-v4   : {n4}");
    let _ = writeln!(text, "; Prefixes-v6   : {}", lines.len() - n4);
    text.push_str(";\n");
    for l in lines {
        let (s, e) = l.range();
        let shown = if l.len < l.bits && rng.chance(2) {
            // A host bit set.
            s + 1 + rng.u128() % (e - s)
        } else {
            s
        };
        let _ = writeln!(text, "{}/{}\t{}", ip_of(shown, l.bits), l.len, l.asn);
    }
    std::fs::write(path, text).unwrap();
}

/// The addresses to ask about (see the module documentation).
fn addresses(rng: &mut Rng, lines: &[Line], random: usize) -> Vec<IpAddr> {
    let mut set: BTreeSet<IpAddr> = BTreeSet::new();
    for l in lines {
        let (s, e) = l.range();
        let max = if l.bits == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        set.insert(ip_of(s, l.bits));
        set.insert(ip_of(e, l.bits));
        if let Some(before) = s.checked_sub(1) {
            set.insert(ip_of(before, l.bits));
        }
        if e < max {
            set.insert(ip_of(e + 1, l.bits));
        }
        let span = e - s;
        let inside = if span == u128::MAX {
            rng.u128()
        } else {
            s + rng.u128() % (span + 1)
        };
        set.insert(ip_of(inside, l.bits));
    }
    for i in 0..random {
        if i % 4 == 0 {
            // Anywhere in IPv6, or in its global unicast part.
            let x = if rng.chance(50) {
                rng.u128()
            } else {
                (0x2000u128 << 112) | (rng.u128() >> 3)
            };
            set.insert(IpAddr::V6(Ipv6Addr::from(x)));
        } else {
            set.insert(IpAddr::V4(Ipv4Addr::from(rng.next() as u32)));
        }
    }
    for a in [
        "0.0.0.0",
        "0.0.0.1",
        "255.255.255.255",
        "255.255.255.254",
        "::",
        "::1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ] {
        set.insert(a.parse().unwrap());
    }
    // Not IPv4-mapped: that is the deliberate difference, tested apart.
    set.into_iter()
        .filter(|a| !matches!(a, IpAddr::V6(v) if v.to_ipv4_mapped().is_some()))
        .collect()
}

/// A Python that imports pyasn, or `None` (skipped) when there is none;
/// under CI a missing one fails.
fn oracle_python() -> Option<PathBuf> {
    util::python_with(
        "pyasn",
        "apt-get install python3-pyasn",
        &["/usr/bin/python3"],
    )
}

/// pyasn's answer per address: `Some((asn, prefix, len))` or `None`.
fn ask_pyasn(
    python: &Path,
    table: &Path,
    addrs: &[IpAddr],
    dir: &Path,
) -> Vec<Option<(u32, IpAddr, u8)>> {
    let list = dir.join("addresses.txt");
    let mut text = String::with_capacity(addrs.len() * 16);
    for a in addrs {
        let _ = writeln!(text, "{a}");
    }
    std::fs::write(&list, text).unwrap();
    let out = Command::new(python)
        .arg("-c")
        .arg(ORACLE)
        .arg(table)
        .arg(&list)
        .output()
        .expect("run the pyasn oracle");
    assert!(
        out.status.success(),
        "pyasn oracle failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let answers: Vec<_> = text
        .lines()
        .map(|l| {
            if l == "-" {
                return None;
            }
            let (asn, prefix) = l.split_once('\t').expect("ASN<TAB>PREFIX");
            let (addr, len) = prefix.split_once('/').expect("PREFIX/LEN");
            Some((
                asn.parse().unwrap(),
                addr.parse().unwrap(),
                len.parse().unwrap(),
            ))
        })
        .collect();
    assert_eq!(answers.len(), addrs.len(), "one answer per address");
    answers
}

/// Loads `lines` in both, asks both about the addresses, requires the
/// same answers; returns (addresses, answered, unanswered).
fn compare(python: &Path, seed: u64, v4: usize, v6: usize, halves: bool) -> [usize; 3] {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let lines = table(&mut rng, v4, v6, halves);
    let path = dir.path().join("ipasn.dat");
    write_table(&path, &lines, &mut rng);
    let addrs = addresses(&mut rng, &lines, 100_000);

    let (db, problems) = AsnDb::read_path(&path).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let mut enricher = Enricher::new();
    enricher.add_asn(AsnSource::Pyasn(db.clone()));

    let theirs = ask_pyasn(python, &path, &addrs, dir.path());
    let mut answered = 0;
    for (a, want) in addrs.iter().zip(&theirs) {
        let got = db.route(*a).map(|r| (r.asn, r.prefix, r.len));
        assert_eq!(got, *want, "{a}: takedown {got:?}, pyasn {want:?}");
        let want_asn = want.map(|w| w.0);
        assert_eq!(enricher.asn(*a), want_asn, "{a}: the Enricher");
        answered += usize::from(want.is_some());
    }
    // Enricher::fill on events (a report's own AS number is kept).
    for (a, want) in addrs.iter().zip(&theirs).step_by(101) {
        let mut e = Event {
            ip: Some(*a),
            ..Event::default()
        };
        enricher.fill(&mut e);
        assert_eq!(e.asn, want.map(|w| w.0), "{a}: Enricher::fill");
    }

    // IPv4-mapped IPv6: takedown answers as pyasn does for the IPv4
    // address carried.
    let v4s: Vec<IpAddr> = addrs
        .iter()
        .filter(|a| a.is_ipv4())
        .step_by(7)
        .copied()
        .collect();
    let theirs4 = ask_pyasn(python, &path, &v4s, dir.path());
    for (a, want) in v4s.iter().zip(&theirs4) {
        let IpAddr::V4(a4) = a else { unreachable!() };
        let mapped = IpAddr::V6(a4.to_ipv6_mapped());
        let got = db.route(mapped).map(|r| (r.asn, r.prefix, r.len));
        assert_eq!(got, *want, "{mapped}");
    }
    [addrs.len(), answered, addrs.len() - answered]
}

#[test]
fn lookups_agree_with_pyasn() {
    let Some(python) = oracle_python() else {
        return;
    };
    // Without default routes: many addresses have no route.
    let [n, yes, no] = compare(&python, 0x9e37_79b9_7f4a_7c15, 20_000, 6_000, false);
    assert!(n > 250_000, "{n} addresses");
    assert!(
        yes > n / 4 && no > 10_000,
        "{yes} answered, {no} not: both kinds"
    );
    // With both halves of each space routed: every address has a route.
    let [m, yes2, no2] = compare(&python, 0x2545_f491_4f6c_dd1d, 8_000, 3_000, true);
    assert_eq!((yes2, no2), (m, 0));
    eprintln!(
        "pyasn and takedown agree on {} addresses ({yes} + {yes2} routed, {no} not)",
        n + m
    );
}
