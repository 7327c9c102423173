//! IP-to-ASN tables: which autonomous system announces an address.
//!
//! The table is read from pyasn's IPASN format, the text file that
//! `pyasn_util_convert.py --single RIB IPASN.DAT` writes from a
//! RouteViews or RIPE RIS routing table dump (pyasn, H. Asghari and
//! A. Noroozian, `pyasn/mrtx.py`, `dump_prefixes_to_file`), optionally
//! gzip-compressed (`--compress`):
//!
//! ```text
//! ; IP-ASN32-DAT file
//! ; Original source: rib.20151101.0600.bz2
//! ; Converted on  : Thu Nov 19 19:03:21 2015
//! ; Prefixes-v4   : 606138
//! ; Prefixes-v6   : 27693
//! ;
//! 1.0.0.0/24<TAB>15169
//! 2a00:1028::/32<TAB>15685
//! ```
//!
//! (`<TAB>` stands for a tab.) Lines starting with `;` (or `#`, which
//! pyasn's loader also skips) are comments, blank lines are skipped, every
//! other line is `PREFIX/LEN<TAB>ASN` with an IPv4 or IPv6 prefix and a
//! decimal 32-bit AS number. pyasn's own loader requires the tab; here any run of
//! spaces or tabs separates the two fields, so hand-made tables load too.
//! Host bits set in a prefix are cleared (as pyasn's radix tree does). A
//! prefix listed twice takes the later line's AS number.
//!
//! A lookup answers with the longest matching prefix, as pyasn's
//! `lookup()` does; an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is
//! looked up as the IPv4 address it carries. Nested prefixes are
//! flattened once, when the table is read, into a sorted table of
//! disjoint address ranges, so a lookup is one binary search (about 20
//! steps for a full routing table) and the table costs 20 bytes per IPv4
//! range, 64 per IPv6 range.
//!
//! Reading is bounded: a line longer than
//! [`takedown_blocklist::input::MAX_LINE`] is skipped, at most
//! [`MAX_PREFIXES`] prefixes are accepted (a full routing table has about
//! 1.2 million), and a bad line is counted and reported as
//! `FILE:LINE: reason` (the first [`MAX_PROBLEMS`]; the rest are counted)
//! while the rest of the file is read.
//!
//! Uses: the networks of fast-flux answers ([`crate::flux`]), and the
//! network owners to notify about sinkholed clients.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use takedown_blocklist::input::{Line, Lines, MAX_LINE};

/// Most prefixes a table may hold: four times a full routing table of
/// today (about a million IPv4 and 200,000 IPv6 prefixes), so that a
/// hostile or mistaken input cannot take the memory of the machine.
pub const MAX_PREFIXES: usize = 5_000_000;

/// Most bad lines reported one by one; the rest are counted in one last
/// message.
pub const MAX_PROBLEMS: usize = 20;

/// Why a table could not be read at all (bad lines are not errors: they
/// are reported and skipped).
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct AsnError {
    /// The file, as given.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// The route an address falls in: the longest matching prefix and the AS
/// that originates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    /// The origin AS number.
    pub asn: u32,
    /// The prefix's first address (host bits clear).
    pub prefix: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl fmt::Display for Route {
    /// `PREFIX/LEN`, as in the table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.prefix, self.len)
    }
}

/// A disjoint address range of the flattened IPv4 table and the prefix
/// that covers it most specifically.
#[derive(Clone, Copy, Debug)]
struct Seg4 {
    start: u32,
    end: u32,
    asn: u32,
    net: u32,
    len: u8,
}

/// The same for IPv6.
#[derive(Clone, Copy, Debug)]
struct Seg6 {
    start: u128,
    end: u128,
    asn: u32,
    len: u8,
    net: u128,
}

/// An IP-to-ASN table (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct AsnDb {
    v4: Vec<Seg4>,
    v6: Vec<Seg6>,
    prefixes_v4: usize,
    prefixes_v6: usize,
    bad_lines: u64,
}

/// One accepted prefix before flattening, as a closed range of the
/// address space (IPv4 in the low 32 bits).
#[derive(Clone, Copy, Debug)]
struct Prefix {
    start: u128,
    end: u128,
    len: u8,
    asn: u32,
}

impl AsnDb {
    /// Reads a table in IPASN format from `r`; `name` names it in
    /// messages. Returns the table and the messages about bad lines
    /// (`NAME:LINE: reason`, at most [`MAX_PROBLEMS`] of them, then one
    /// `NAME: N more bad lines`). Fails only when `r` cannot be read or
    /// holds more than [`MAX_PREFIXES`] prefixes.
    pub fn read(r: impl BufRead, name: &str) -> Result<(AsnDb, Vec<String>), AsnError> {
        AsnDb::read_bounded(r, name, MAX_PREFIXES)
    }

    /// [`AsnDb::read`] with a bound of `max` prefixes.
    fn read_bounded(
        r: impl BufRead,
        name: &str,
        max: usize,
    ) -> Result<(AsnDb, Vec<String>), AsnError> {
        let mut lines = Lines::new(r);
        let mut v4: Vec<Prefix> = Vec::new();
        let mut v6: Vec<Prefix> = Vec::new();
        let mut problems = Vec::new();
        let mut bad = 0u64;
        loop {
            let (number, line) = match lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    return Err(AsnError {
                        name: name.to_string(),
                        reason: format!("cannot read: {e}"),
                    });
                }
            };
            let parsed = match line {
                Line::Text(t) => parse_line(t),
                Line::TooLong(n) => Err(format!("line of {n} bytes, longer than {MAX_LINE}")),
                Line::NotUtf8 => Err("not UTF-8 text".to_string()),
            };
            match parsed {
                Ok(None) => {}
                Ok(Some((addr, len, asn))) => {
                    if v4.len() + v6.len() >= max {
                        return Err(AsnError {
                            name: name.to_string(),
                            reason: format!(
                                "more than {max} prefixes (line {number}): not an IP-to-ASN table of the Internet"
                            ),
                        });
                    }
                    match addr {
                        IpAddr::V4(a) => v4.push(prefix(u128::from(u32::from(a)), len, 32, asn)),
                        IpAddr::V6(a) => v6.push(prefix(u128::from(a), len, 128, asn)),
                    }
                }
                Err(reason) => {
                    bad += 1;
                    if problems.len() < MAX_PROBLEMS {
                        problems.push(format!("{name}:{number}: {reason}"));
                    }
                }
            }
        }
        if bad > MAX_PROBLEMS as u64 {
            problems.push(format!(
                "{name}: {} more bad lines",
                bad - MAX_PROBLEMS as u64
            ));
        }
        let (segs4, n4) = flatten(v4);
        let (segs6, n6) = flatten(v6);
        let db = AsnDb {
            v4: segs4
                .into_iter()
                .map(|(s, p)| Seg4 {
                    // IPv4 ranges were built in the low 32 bits.
                    start: s.start as u32,
                    end: s.end as u32,
                    asn: p.asn,
                    net: p.start as u32,
                    len: p.len,
                })
                .collect(),
            v6: segs6
                .into_iter()
                .map(|(s, p)| Seg6 {
                    start: s.start,
                    end: s.end,
                    asn: p.asn,
                    net: p.start,
                    len: p.len,
                })
                .collect(),
            prefixes_v4: n4,
            prefixes_v6: n6,
            bad_lines: bad,
        };
        Ok((db, problems))
    }

    /// Reads the table at `path` (see [`AsnDb::read`]), gzip-compressed
    /// or not (recognised by its magic bytes, not its name).
    pub fn read_path(path: &Path) -> Result<(AsnDb, Vec<String>), AsnError> {
        let name = path.display().to_string();
        let err = |e: std::io::Error| AsnError {
            name: name.clone(),
            reason: format!("cannot read: {e}"),
        };
        let mut r = BufReader::new(File::open(path).map_err(err)?);
        let gzip = r.fill_buf().map_err(err)?.starts_with(&[0x1f, 0x8b]);
        if gzip {
            // Multi-member: `gzip -c a b > t.gz` and concatenated dumps.
            let d = flate2::bufread::MultiGzDecoder::new(r);
            AsnDb::read(BufReader::new(d), &name)
        } else {
            AsnDb::read(r, &name)
        }
    }

    /// The origin AS of the longest prefix that contains `ip`, `None`
    /// when no prefix does.
    pub fn lookup(&self, ip: IpAddr) -> Option<u32> {
        self.route(ip).map(|r| r.asn)
    }

    /// The longest prefix that contains `ip` and its origin AS.
    pub fn route(&self, ip: IpAddr) -> Option<Route> {
        match ip {
            IpAddr::V4(a) => self.route4(a),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(a4) => self.route4(a4),
                None => {
                    let x = u128::from(a);
                    let i = self.v6.partition_point(|s| s.start <= x);
                    let s = self.v6.get(i.checked_sub(1)?)?;
                    (x <= s.end).then(|| Route {
                        asn: s.asn,
                        prefix: IpAddr::V6(Ipv6Addr::from(s.net)),
                        len: s.len,
                    })
                }
            },
        }
    }

    fn route4(&self, a: Ipv4Addr) -> Option<Route> {
        let x = u32::from(a);
        let i = self.v4.partition_point(|s| s.start <= x);
        let s = self.v4.get(i.checked_sub(1)?)?;
        (x <= s.end).then(|| Route {
            asn: s.asn,
            prefix: IpAddr::V4(Ipv4Addr::from(s.net)),
            len: s.len,
        })
    }

    /// Number of distinct prefixes (IPv4 and IPv6).
    pub fn len(&self) -> usize {
        self.prefixes_v4 + self.prefixes_v6
    }

    /// True when the table holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of distinct IPv4 prefixes.
    pub fn len_v4(&self) -> usize {
        self.prefixes_v4
    }

    /// Number of distinct IPv6 prefixes.
    pub fn len_v6(&self) -> usize {
        self.prefixes_v6
    }

    /// Number of lines that were not comments, blank or prefixes.
    pub fn bad_lines(&self) -> u64 {
        self.bad_lines
    }
}

/// The closed range of a prefix of `len` bits of an address of `bits`
/// bits, host bits cleared. `len <= bits <= 128` (checked by the caller).
fn prefix(addr: u128, len: u8, bits: u8, asn: u32) -> Prefix {
    let host = u32::from(bits - len);
    // The host mask in the low `bits` bits; a shift by 128 would overflow.
    let hostmask = if host == 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    let start = addr & !hostmask;
    Prefix {
        start,
        end: start | hostmask,
        len,
        asn,
    }
}

/// One line: `Ok(None)` for a comment or a blank line, the prefix and AS
/// otherwise, or why not.
fn parse_line(text: &str) -> Result<Option<(IpAddr, u8, u32)>, String> {
    let t = text.trim_ascii();
    if t.is_empty() || t.starts_with(';') || t.starts_with('#') {
        return Ok(None);
    }
    let mut fields = t.split_ascii_whitespace();
    let (Some(pfx), Some(asn), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(format!("expected PREFIX/LEN<TAB>ASN, found '{}'", shown(t)));
    };
    let Some((addr, len)) = pfx.split_once('/') else {
        return Err(format!("prefix '{}' has no /LEN", shown(pfx)));
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("invalid address '{}'", shown(addr)))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len: u8 = match len.parse() {
        Ok(l) if l <= max => l,
        _ => {
            return Err(format!(
                "invalid prefix length '{}' (0 to {max})",
                shown(len)
            ));
        }
    };
    let asn: u32 = asn
        .parse()
        .map_err(|_| format!("invalid AS number '{}'", shown(asn)))?;
    Ok(Some((addr, len, asn)))
}

/// At most 60 characters of `s`, for a message.
fn shown(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// A disjoint range of the flattened table.
#[derive(Clone, Copy, Debug)]
struct Range {
    start: u128,
    end: u128,
}

/// Sorts and de-duplicates `prefixes` (a prefix listed twice keeps its
/// later AS) and cuts the address space they cover into disjoint ranges,
/// each with the most specific prefix covering it. CIDR prefixes are
/// either disjoint or nested, so one sweep with a stack of the prefixes
/// that contain the current position does it, in O(n log n) for the
/// sort. Returns the ranges in address order and the number of distinct
/// prefixes.
fn flatten(prefixes: Vec<Prefix>) -> (Vec<(Range, Prefix)>, usize) {
    // (start, len) ascending, file order kept among equals (stable sort).
    let mut prefixes = prefixes;
    prefixes.sort_by_key(|p| (p.start, p.len));
    let mut unique: Vec<Prefix> = Vec::with_capacity(prefixes.len());
    for p in prefixes {
        match unique.last_mut() {
            Some(last) if last.start == p.start && last.len == p.len => *last = p,
            _ => unique.push(p),
        }
    }
    let n = unique.len();
    let mut out: Vec<(Range, Prefix)> = Vec::with_capacity(n + n / 4);
    let mut stack: Vec<Prefix> = Vec::new();
    // The first address not yet assigned; None once past the end of the
    // address space (a prefix ending at the last address).
    let mut cursor: Option<u128> = Some(0);
    let emit = |out: &mut Vec<(Range, Prefix)>, cursor: Option<u128>, end: u128, p: Prefix| {
        if let Some(c) = cursor
            && c <= end
        {
            out.push((Range { start: c, end }, p));
        }
    };
    for p in unique {
        // Close the prefixes that end before this one starts.
        while let Some(&top) = stack.last() {
            if top.end >= p.start {
                break;
            }
            emit(&mut out, cursor, top.end, top);
            cursor = top.end.checked_add(1);
            stack.pop();
        }
        // The innermost open prefix contains this one: it covers the
        // addresses before it.
        if let Some(&top) = stack.last()
            && p.start > 0
        {
            emit(&mut out, cursor, p.start - 1, top);
        }
        cursor = Some(p.start);
        stack.push(p);
    }
    while let Some(top) = stack.pop() {
        emit(&mut out, cursor, top.end, top);
        cursor = top.end.checked_add(1);
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn db(text: &str) -> (AsnDb, Vec<String>) {
        AsnDb::read(text.as_bytes(), "t.dat").unwrap()
    }

    fn asn(d: &AsnDb, ip: &str) -> Option<u32> {
        d.lookup(ip.parse().unwrap())
    }

    /// pyasn's own test table `data/ipasn.fake` (nested prefixes, a /8
    /// holding a /9), with its header.
    const FAKE: &str = "; IP-ASN32-DAT file\n; Original file : fake\n; Converted on  : fake\n; CIDRs         : 5\n;\n1.0.0.0/30\t1\n1.0.0.0/24\t2\n2.0.0.0/24\t3\n3.0.0.0/8\t4\n3.0.0.0/9\t5\n";

    #[test]
    fn longest_prefix_wins() {
        let (d, problems) = db(FAKE);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(d.len(), 5);
        assert_eq!(asn(&d, "1.0.0.0"), Some(1));
        assert_eq!(asn(&d, "1.0.0.3"), Some(1));
        assert_eq!(asn(&d, "1.0.0.4"), Some(2));
        assert_eq!(asn(&d, "1.0.0.255"), Some(2));
        assert_eq!(asn(&d, "1.0.1.0"), None);
        assert_eq!(asn(&d, "0.255.255.255"), None);
        assert_eq!(asn(&d, "2.0.0.77"), Some(3));
        assert_eq!(asn(&d, "3.127.255.255"), Some(5));
        assert_eq!(asn(&d, "3.128.0.0"), Some(4));
        assert_eq!(asn(&d, "3.255.255.255"), Some(4));
        assert_eq!(asn(&d, "4.0.0.0"), None);
        let r = d.route("3.1.2.3".parse().unwrap()).unwrap();
        assert_eq!((r.asn, r.to_string()), (5, "3.0.0.0/9".to_string()));
    }

    #[test]
    fn ipv6_and_mapped_ipv4() {
        let (d, problems) =
            db("1.2.0.0/16\t64500\n2001:db8::/32\t64501\n2001:db8:1::/48\t64502\n::/0\t64503\n");
        assert!(problems.is_empty());
        assert_eq!(asn(&d, "::ffff:1.2.3.4"), Some(64500));
        assert_eq!(asn(&d, "2001:db8::1"), Some(64501));
        assert_eq!(asn(&d, "2001:db8:1:ffff::1"), Some(64502));
        assert_eq!(asn(&d, "2001:db8:2::"), Some(64501));
        // The default route covers the rest of IPv6, to its last address.
        assert_eq!(
            asn(&d, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            Some(64503)
        );
        assert_eq!(asn(&d, "::"), Some(64503));
        // Not IPv4: the IPv6 default route does not answer for IPv4.
        assert_eq!(asn(&d, "1.3.0.0"), None);
        assert_eq!(d.len_v4(), 1);
        assert_eq!(d.len_v6(), 3);
    }

    #[test]
    fn whole_ipv4_space_and_last_address() {
        let (d, _) = db("0.0.0.0/0\t1\n255.255.255.255/32\t2\n128.0.0.0/1\t3\n");
        assert_eq!(asn(&d, "0.0.0.0"), Some(1));
        assert_eq!(asn(&d, "127.255.255.255"), Some(1));
        assert_eq!(asn(&d, "128.0.0.0"), Some(3));
        assert_eq!(asn(&d, "255.255.255.254"), Some(3));
        assert_eq!(asn(&d, "255.255.255.255"), Some(2));
    }

    #[test]
    fn host_bits_duplicates_and_spaces() {
        let (d, problems) = db("10.1.2.3/8 7\r\n10.0.0.0/8\t8\n  # note\n\n");
        assert!(problems.is_empty(), "{problems:?}");
        // Same prefix twice (host bits cleared): the later line wins.
        assert_eq!(d.len(), 1);
        assert_eq!(asn(&d, "10.200.0.1"), Some(8));
        assert_eq!(
            d.route("10.9.9.9".parse().unwrap()).unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let mut text = String::from("1.0.0.0/24\t15169\n");
        text.push_str("1.0.4.0/24\n"); // 2: no ASN
        text.push_str("1.0.4.0\t56203\n"); // 3: no length
        text.push_str("1.0.4.0/33\t56203\n"); // 4: length
        text.push_str("1.0.999.0/24\t1\n"); // 5: address
        text.push_str("1.0.5.0/24\t{1,2}\n"); // 6: AS set (pyasn's debug output)
        text.push_str("1.0.6.0/24\t4294967296\n"); // 7: > 32 bits
        text.push_str("2.0.0.0/8\t3215\n");
        let (d, problems) = db(&text);
        assert_eq!(d.len(), 2);
        assert_eq!(d.bad_lines(), 6);
        assert_eq!(problems.len(), 6);
        assert!(
            problems[0].starts_with("t.dat:2: expected PREFIX/LEN"),
            "{problems:?}"
        );
        assert!(problems[1].starts_with("t.dat:3: prefix '1.0.4.0' has no /LEN"));
        assert!(problems[2].starts_with("t.dat:4: invalid prefix length '33'"));
        assert!(problems[3].starts_with("t.dat:5: invalid address"));
        assert!(problems[4].starts_with("t.dat:6: invalid AS number '{1,2}'"));
        assert!(problems[5].starts_with("t.dat:7: invalid AS number"));
        assert_eq!(asn(&d, "2.3.4.5"), Some(3215));
    }

    #[test]
    fn problems_are_bounded() {
        let mut text = String::new();
        for _ in 0..100 {
            text.push_str("garbage\n");
        }
        text.push_str(&"x".repeat(MAX_LINE + 1));
        text.push_str("\n9.0.0.0/8\t3356\n");
        let (d, problems) = db(&text);
        assert_eq!(d.bad_lines(), 101);
        assert_eq!(problems.len(), MAX_PROBLEMS + 1);
        assert_eq!(problems[MAX_PROBLEMS], "t.dat: 81 more bad lines");
        assert_eq!(asn(&d, "9.9.9.9"), Some(3356));
    }

    #[test]
    fn not_utf8_and_binary() {
        let mut data = b"1.0.0.0/8\t1\n".to_vec();
        data.extend_from_slice(b"\xff\xfe\x00\x01/8\t2\n");
        let (d, problems) = AsnDb::read(&data[..], "b").unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(problems, vec!["b:2: not UTF-8 text".to_string()]);
    }

    /// Read through a gzip file, compared with what pyasn 1.6.1 itself
    /// answers for the same table: 3,293 prefixes of a real RouteViews
    /// table (IPv4 and IPv6, many nested), the first and last address of
    /// half of them, the addresses just outside, random ones (the
    /// command that made both files is in data/README.md).
    #[test]
    fn agrees_with_pyasn() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let (d, problems) = AsnDb::read_path(&data.join("ipasn-sample.dat.gz")).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(d.len(), 3293);
        let mut expected = String::new();
        flate2::read::GzDecoder::new(File::open(data.join("ipasn-sample.expected.gz")).unwrap())
            .read_to_string(&mut expected)
            .unwrap();
        let mut checked = 0;
        let mut missing = 0;
        for line in expected.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let ip: IpAddr = f[0].parse().unwrap();
            let got = d.route(ip);
            if f[1] == "-" {
                assert_eq!(got, None, "{line}");
                missing += 1;
            } else {
                let r = got.unwrap_or_else(|| panic!("no route for {line}"));
                assert_eq!(r.asn.to_string(), f[1], "{line}");
                assert_eq!(r.to_string(), f[2], "{line}");
            }
            checked += 1;
        }
        assert_eq!(checked, 5965);
        assert!(missing > 100 && missing < checked - 100);
    }

    #[test]
    fn plain_file_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.dat");
        std::fs::File::create(&p)
            .unwrap()
            .write_all(FAKE.as_bytes())
            .unwrap();
        let (d, _) = AsnDb::read_path(&p).unwrap();
        assert_eq!(asn(&d, "3.0.0.1"), Some(5));
        let e = AsnDb::read_path(&dir.path().join("none.dat")).unwrap_err();
        assert!(e.to_string().contains("none.dat: cannot read"), "{e}");
    }

    #[test]
    fn too_many_prefixes_is_an_error() {
        // MAX_PREFIXES lines would take long in a test: a smaller bound,
        // and a reader that repeats one line forever.
        struct Repeat(&'static [u8], usize);
        impl Read for Repeat {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let mut n = 0;
                while n < buf.len() {
                    buf[n] = self.0[self.1 % self.0.len()];
                    self.1 += 1;
                    n += 1;
                }
                Ok(n)
            }
        }
        let r = BufReader::with_capacity(1 << 16, Repeat(b"1.0.0.0/24\t1\n", 0));
        let e = AsnDb::read_bounded(r, "loop", 1000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "loop: more than 1000 prefixes (line 1001): not an IP-to-ASN table of the Internet"
        );
    }
}
