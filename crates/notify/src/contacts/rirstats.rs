//! The Regional Internet Registries' delegated statistics: which country
//! each block of addresses was delegated to.
//!
//! Format: the NRO's "RIR Statistics Exchange Format", as in
//! `delegated-ripencc-extended-latest` (and `delegated-arin-extended-`,
//! `-apnic-`, `-lacnic-`, `-afrinic-`): a version line, summary lines,
//! then one record per line,
//!
//! ```text
//! 2|ripencc|1709161199|144926|19850701|20240228|+0100
//! ripencc|*|ipv4|*|84017|summary
//! ripencc|FR|ipv4|2.0.0.0|1048576|20100712|allocated|a1d2...
//! ripencc|NL|ipv6|2001:610::|32|19990819|allocated|b3c4...
//! ripencc||ipv4|5.101.110.0|512||available
//! ```
//!
//! `registry|cc|type|start|value|date|status[|opaque-id]`, where `value`
//! is a number of addresses for IPv4 (not always a power of two: stored
//! as a range) and a prefix length for IPv6. Only `allocated` and
//! `assigned` records with a country are used; `EU` and `AP`, which some
//! registries use for regions, are kept as they are. Lines starting with
//! `#` are comments.

use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use super::Country;
use super::input::{self, Line, Lines, LoadError, Problems};
use super::mmdb::v4;
use super::table::{self, RangeTable};

/// Most records accepted (the five registries together have about
/// 400,000).
pub const MAX_RECORDS: usize = 10_000_000;

/// Gathers statistics files; [`RirStatsBuilder::build`] makes the table.
#[derive(Default)]
pub struct RirStatsBuilder {
    r4: Vec<(u32, u32, u32)>,
    r6: Vec<(u128, u128, u32)>,
    problems: Problems,
}

/// Countries of address blocks, from delegated statistics.
#[derive(Clone, Debug, Default)]
pub struct RirStats {
    cc4: RangeTable<u32>,
    cc6: RangeTable<u128>,
    records: usize,
}

impl RirStatsBuilder {
    /// No files yet.
    pub fn new() -> RirStatsBuilder {
        RirStatsBuilder::default()
    }

    /// Reads a statistics file (gzip-compressed or not).
    pub fn read_path(&mut self, path: &Path) -> Result<&mut RirStatsBuilder, LoadError> {
        let r = input::open(path)?;
        self.read_from(r, &path.display().to_string())
    }

    /// Reads statistics from `r`; `name` names it in problems.
    pub fn read_from(
        &mut self,
        r: impl BufRead,
        name: &str,
    ) -> Result<&mut RirStatsBuilder, LoadError> {
        let mut lines = Lines::new(r);
        loop {
            let line = lines.next_line().map_err(|e| LoadError::io(name, &e))?;
            let number = line.as_ref().map_or(0, |l| l.0);
            let line = line.map(|l| l.1);
            let bytes = match line {
                None => return Ok(self),
                Some(Line::TooLong) => {
                    self.problems.push(name, number, "line too long");
                    continue;
                }
                Some(Line::Bytes(b)) => b,
            };
            let t = bytes.trim_ascii();
            if t.is_empty() || t[0] == b'#' {
                continue;
            }
            match self.record(t) {
                Ok(()) => {}
                Err(reason) => self.problems.push(name, number, reason),
            }
            if self.r4.len() + self.r6.len() > MAX_RECORDS {
                return Err(LoadError::new(
                    name,
                    format!("more than {MAX_RECORDS} records: not delegated statistics"),
                ));
            }
        }
    }

    fn record(&mut self, t: &[u8]) -> Result<(), &'static str> {
        let t = std::str::from_utf8(t).map_err(|_| "not UTF-8 text")?;
        // Summary lines: `ripencc|*|ipv4|*|84017|summary`.
        if t.ends_with("|summary") {
            return Ok(());
        }
        let mut f = t.split('|');
        let first = f.next().unwrap_or("");
        // The version line starts with the format version, a number.
        if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(());
        }
        let (Some(cc), Some(kind), Some(start), Some(value), Some(_date), Some(status)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return Err("too few fields");
        };
        if status != "allocated" && status != "assigned" {
            return Ok(());
        }
        let Some(country) = Country::parse(cc) else {
            return if cc.is_empty() || cc == "ZZ" {
                Ok(())
            } else {
                Err("invalid country code")
            };
        };
        match kind {
            "ipv4" => {
                let a: Ipv4Addr = start.parse().map_err(|_| "invalid address")?;
                let n: u64 = value.parse().map_err(|_| "invalid address count")?;
                let s = u64::from(u32::from(a));
                // Checked: a hostile count near u64::MAX would overflow.
                let Some(e) = s
                    .checked_add(n)
                    .and_then(|x| x.checked_sub(1))
                    .filter(|&e| n != 0 && e <= u64::from(u32::MAX))
                else {
                    return Err("invalid address count");
                };
                self.r4.push((s as u32, e as u32, country.to_u32()));
            }
            "ipv6" => {
                let a: Ipv6Addr = start.parse().map_err(|_| "invalid address")?;
                let len: u32 = value
                    .parse()
                    .ok()
                    .filter(|l| *l <= 128)
                    .ok_or("invalid prefix length")?;
                let host = table::host_mask6(len);
                let s = u128::from(a) & !host;
                self.r6.push((s, s | host, country.to_u32()));
            }
            // AS numbers and anything newer.
            _ => {}
        }
        Ok(())
    }

    /// The table and the problems met.
    pub fn build(self) -> (RirStats, Problems) {
        let records = self.r4.len() + self.r6.len();
        (
            RirStats {
                cc4: RangeTable::build(&self.r4),
                cc6: RangeTable::build(&self.r6),
                records,
            },
            self.problems,
        )
    }
}

impl RirStats {
    /// The country the block holding `ip` was delegated to.
    pub fn country(&self, ip: IpAddr) -> Option<Country> {
        match v4(ip) {
            Ok(x) => self.cc4.get(x),
            Err(x) => self.cc6.get(x),
        }
        .and_then(Country::from_u32)
    }

    /// Number of address records used.
    pub fn len(&self) -> usize {
        self.records
    }

    /// True when no record was used.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines in the layout of `delegated-ripencc-extended-latest` (NRO,
    /// "RIR Statistics Exchange Format").
    const STATS: &str = "\
2|ripencc|1709161199|144926|19850701|20240228|+0100
ripencc|*|ipv4|*|84017|summary
ripencc|*|asn|*|38183|summary
ripencc|FR|ipv4|2.0.0.0|1048576|20100712|allocated|a1
ripencc|DE|ipv4|192.0.2.0|100|20100712|assigned|a2
ripencc|NL|ipv6|2001:610::|32|19990819|allocated|a3
ripencc||ipv4|5.101.110.0|512||available
ripencc|ZZ|ipv4|5.101.112.0|512||reserved|
ripencc|EU|asn|7|1|19930901|allocated|a4
ripencc|FR|ipv4|2.999.0.0|256|20100712|allocated|bad
ripencc|XYZ|ipv4|198.51.100.0|256|20100712|allocated|bad
ripencc|FR|ipv4|255.255.255.0|512|20100712|allocated|bad
ripencc|FR|ipv6|2001:db8::|129|20100712|allocated|bad
ripencc|FR
ripencc|FR|ipv4|255.255.255.255|18446744073709551615|20100712|allocated|bad
";

    #[test]
    fn countries_from_delegations() {
        let mut b = RirStatsBuilder::new();
        b.read_from(STATS.as_bytes(), "delegated").unwrap();
        let (s, p) = b.build();
        let ip = |x: &str| x.parse::<IpAddr>().unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.country(ip("2.15.255.255")).unwrap().as_str(), "FR");
        assert_eq!(s.country(ip("2.16.0.0")), None);
        // 100 addresses: not a prefix, kept as a range.
        assert_eq!(s.country(ip("192.0.2.99")).unwrap().as_str(), "DE");
        assert_eq!(s.country(ip("192.0.2.100")), None);
        assert_eq!(s.country(ip("2001:610:1::1")).unwrap().as_str(), "NL");
        assert_eq!(s.country(ip("::ffff:2.0.0.1")).unwrap().as_str(), "FR");
        assert_eq!(s.country(ip("5.101.110.1")), None);
        let got: Vec<(u64, &str)> = p.first.iter().map(|p| (p.line, p.reason)).collect();
        assert_eq!(
            got,
            vec![
                (10, "invalid address"),
                (11, "invalid country code"),
                (12, "invalid address count"),
                (13, "invalid prefix length"),
                (14, "too few fields"),
                // A count that overflows: refused, not a panic.
                (15, "invalid address count"),
            ]
        );
    }
}
