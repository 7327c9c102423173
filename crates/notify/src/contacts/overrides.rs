//! A CERT's own table of contacts, overriding what the registries say:
//! CSV rows `KEY,ADDRESS[,COMMENT]` where the key is a network
//! (`198.51.100.0/24`, `2001:db8::/32`, or one address), an AS number
//! (`AS64500`) or a country (`DE`):
//!
//! ```text
//! network,address,comment
//! 198.51.100.0/24,abuse@isp.example,"ISP, abuse desk"
//! AS64500,noc@as.example
//! DE,cert@cert-bund.example
//! ```
//!
//! A header row is optional (a first row whose key is none of the three
//! and whose address has no `@`); `#` starts a comment line; fields may
//! be double-quoted as spreadsheets write them (RFC 4180, one line per
//! row). A row that cannot be used is reported with its line and the rest
//! read; a key given twice takes the later row.

use std::io::BufRead;
use std::net::IpAddr;

use super::input::{Line, Lines, LoadError, Problems};
use super::table;
use super::{Country, Interner, normalise_address};

/// Most rows accepted: a CERT's table is thousands of rows; millions are
/// a mistake.
pub const MAX_ROWS: usize = 5_000_000;

/// The overrides read so far.
#[derive(Default)]
pub(crate) struct OverrideData {
    /// (first, last, prefix length, address id), IPv4.
    pub(crate) nets4: Vec<(u32, u32, u8, u32)>,
    /// The same for IPv6.
    pub(crate) nets6: Vec<(u128, u128, u8, u32)>,
    /// (AS number, address id), in file order.
    pub(crate) asns: Vec<(u32, u32)>,
    /// (country, address id), in file order.
    pub(crate) countries: Vec<(Country, u32)>,
    /// Rows used.
    pub(crate) rows: u64,
}

/// What a key names.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Net4(u32, u32, u8),
    Net6(u128, u128, u8),
    Asn(u32),
    Country(Country),
}

impl OverrideData {
    /// Reads a table from `r`; `name` names it in problems.
    pub(crate) fn read(
        &mut self,
        r: impl BufRead,
        name: &str,
        addresses: &mut Interner,
        problems: &mut Problems,
    ) -> Result<(), LoadError> {
        let mut lines = Lines::new(r);
        let mut first_row = true;
        let mut fields: Vec<String> = Vec::with_capacity(4);
        loop {
            let line = lines.next_line().map_err(|e| LoadError::io(name, &e))?;
            let number = line.as_ref().map_or(0, |l| l.0);
            let line = line.map(|l| l.1);
            let bytes = match line {
                None => return Ok(()),
                Some(Line::TooLong) => {
                    problems.push(name, number, "line too long");
                    first_row = false;
                    continue;
                }
                Some(Line::Bytes(b)) => b,
            };
            let Ok(text) = std::str::from_utf8(bytes) else {
                problems.push(name, number, "not UTF-8 text");
                first_row = false;
                continue;
            };
            // A byte-order mark on the first line (spreadsheet exports).
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let t = text.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let header_allowed = first_row;
            first_row = false;
            if let Err(reason) = split_csv(t, &mut fields) {
                problems.push(name, number, reason);
                continue;
            }
            let key = fields.first().map(|s| s.trim()).unwrap_or("");
            let address = fields.get(1).map(|s| s.trim()).unwrap_or("");
            let parsed = parse_key(key);
            if header_allowed && parsed.is_err() && !address.contains('@') {
                continue;
            }
            if fields.len() < 2 {
                problems.push(name, number, "too few fields");
                continue;
            }
            let key = match parsed {
                Ok(k) => k,
                Err(reason) => {
                    problems.push(name, number, reason);
                    continue;
                }
            };
            let Some(address) = normalise_address(address) else {
                problems.push(name, number, "invalid address");
                continue;
            };
            if self.rows as usize >= MAX_ROWS {
                return Err(LoadError::new(
                    name,
                    format!("more than {MAX_ROWS} rows: not a table of contacts"),
                ));
            }
            self.rows += 1;
            let a = addresses.intern(&address);
            match key {
                Key::Net4(s, e, l) => self.nets4.push((s, e, l, a)),
                Key::Net6(s, e, l) => self.nets6.push((s, e, l, a)),
                Key::Asn(n) => self.asns.push((n, a)),
                Key::Country(c) => self.countries.push((c, a)),
            }
        }
    }
}

/// A network, an AS number or a country code.
fn parse_key(key: &str) -> Result<Key, &'static str> {
    if key.is_empty() {
        return Err("empty key");
    }
    // Bytes, not `&key[..2]`: the key may start with a multi-byte
    // character.
    let b = key.as_bytes();
    if b.len() > 2 && b[..2].eq_ignore_ascii_case(b"AS") && b[2].is_ascii_digit() {
        let digits = &key[2..];
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("invalid AS number");
        }
        return digits
            .parse()
            .map(Key::Asn)
            .map_err(|_| "invalid AS number");
    }
    if key.len() == 2 && key.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Country::parse(key)
            .map(Key::Country)
            .ok_or("invalid country code");
    }
    let (addr, len) = match key.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (key, None),
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return Err("key is not a network, ASN or country code");
    };
    match addr {
        IpAddr::V4(a) => {
            let len: u8 = match len {
                None => 32,
                Some(l) => l
                    .parse()
                    .ok()
                    .filter(|l| *l <= 32)
                    .ok_or("invalid prefix length")?,
            };
            let host = table::host_mask4(u32::from(len));
            let x = u32::from(a);
            if x & host != 0 {
                return Err("host bits set in network");
            }
            Ok(Key::Net4(x, x | host, len))
        }
        IpAddr::V6(a) => {
            let len: u8 = match len {
                None => 128,
                Some(l) => l
                    .parse()
                    .ok()
                    .filter(|l| *l <= 128)
                    .ok_or("invalid prefix length")?,
            };
            let host = table::host_mask6(u32::from(len));
            let x = u128::from(a);
            if x & host != 0 {
                return Err("host bits set in network");
            }
            // An IPv4-mapped network (`::ffff:198.51.100.0/120`) is the
            // IPv4 network: lookups map such addresses to IPv4, so kept
            // as IPv6 it would never match.
            if len >= 96
                && let Some(v4) = a.to_ipv4_mapped()
            {
                let len = len - 96;
                let x = u32::from(v4);
                return Ok(Key::Net4(x, x | table::host_mask4(u32::from(len)), len));
            }
            Ok(Key::Net6(x, x | host, len))
        }
    }
}

/// Splits one CSV row into at most three fields (the rest of the row is
/// the comment, whatever its commas), unquoting `"…"` fields (`""` is a
/// quote).
fn split_csv(line: &str, out: &mut Vec<String>) -> Result<(), &'static str> {
    out.clear();
    let b = line.as_bytes();
    let mut i = 0;
    while out.len() < 3 {
        // Skip spaces before a field.
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let mut field = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            loop {
                let Some(q) = memchr::memchr(b'"', &b[i..]) else {
                    return Err("unterminated quoted field");
                };
                field.push_str(&line[i..i + q]);
                i += q + 1;
                if i < b.len() && b[i] == b'"' {
                    field.push('"');
                    i += 1;
                } else {
                    break;
                }
            }
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i < b.len() && b[i] != b',' {
                return Err("text after a quoted field");
            }
        } else {
            let end = memchr::memchr(b',', &b[i..]).map_or(b.len(), |c| i + c);
            field.push_str(&line[i..end]);
            i = end;
        }
        out.push(field);
        if i >= b.len() {
            break;
        }
        // At a comma.
        i += 1;
        if out.len() == 2 {
            // The comment: kept whole, commas and all.
            out.push(line[i..].to_string());
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (OverrideData, Interner, Problems) {
        let mut d = OverrideData::default();
        let mut a = Interner::default();
        let mut p = Problems::default();
        d.read(text.as_bytes(), "ovr.csv", &mut a, &mut p).unwrap();
        (d, a, p)
    }

    #[test]
    fn keys() {
        assert_eq!(parse_key("AS64500"), Ok(Key::Asn(64500)));
        assert_eq!(parse_key("as1"), Ok(Key::Asn(1)));
        assert_eq!(parse_key("AS1x"), Err("invalid AS number"));
        assert_eq!(
            parse_key("de"),
            Ok(Key::Country(Country::parse("DE").unwrap()))
        );
        assert_eq!(
            parse_key("198.51.100.0/24"),
            Ok(Key::Net4(0xc633_6400, 0xc633_64ff, 24))
        );
        assert_eq!(
            parse_key("198.51.100.7"),
            Ok(Key::Net4(0xc633_6407, 0xc633_6407, 32))
        );
        assert_eq!(
            parse_key("198.51.100.7/24"),
            Err("host bits set in network")
        );
        assert_eq!(parse_key("198.51.100.0/33"), Err("invalid prefix length"));
        assert_eq!(parse_key("2001:db8::/32").map(|_| ()), Ok(()));
        // IPv4-mapped IPv6 is IPv4, as the addresses looked up are.
        assert_eq!(
            parse_key("::ffff:198.51.100.0/120"),
            Ok(Key::Net4(0xc633_6400, 0xc633_64ff, 24))
        );
        assert_eq!(
            parse_key("::FFFF:198.51.100.7"),
            Ok(Key::Net4(0xc633_6407, 0xc633_6407, 32))
        );
        assert_eq!(
            parse_key("example.net"),
            Err("key is not a network, ASN or country code")
        );
    }

    #[test]
    fn multibyte_keys_are_refused_not_a_panic() {
        for k in ["é1", "ASé", "Aé", "éé"] {
            assert!(parse_key(k).is_err(), "{k}");
        }
    }

    #[test]
    fn csv_fields() {
        let mut f = Vec::new();
        split_csv(
            r#""198.51.100.0/24", "a@b.example","ISP, ""the"" desk""#,
            &mut f,
        )
        .unwrap();
        assert_eq!(
            f,
            vec!["198.51.100.0/24", "a@b.example", r#""ISP, ""the"" desk""#]
        );
        split_csv("AS1,a@b.example,one, two", &mut f).unwrap();
        assert_eq!(f, vec!["AS1", "a@b.example", "one, two"]);
        split_csv("DE", &mut f).unwrap();
        assert_eq!(f, vec!["DE"]);
        assert_eq!(
            split_csv(r#""open,a@b"#, &mut f),
            Err("unterminated quoted field")
        );
        assert_eq!(
            split_csv(r#""x"y,a@b"#, &mut f),
            Err("text after a quoted field")
        );
    }

    #[test]
    fn rows_header_and_bad_rows() {
        let text = "\u{feff}network,address,comment
# a comment
198.51.100.0/24,Abuse@ISP.example,\"ISP, Inc.\"
AS64500,noc@as.example
DE,cert@cert-bund.example
2001:db8::/32,six@isp.example
nonsense,x@y.example
AS64501
AS64502,not an address
198.51.100.7/24,a@b.example
";
        let (d, a, p) = read(text);
        assert_eq!(d.rows, 4);
        assert_eq!(d.nets4, vec![(0xc633_6400, 0xc633_64ff, 24, 0)]);
        assert_eq!(a.get(0), Some("abuse@isp.example"));
        assert_eq!(d.asns.len(), 1);
        assert_eq!(d.countries[0].0.as_str(), "DE");
        assert_eq!(d.nets6.len(), 1);
        let got: Vec<(u64, &str)> = p.first.iter().map(|p| (p.line, p.reason)).collect();
        assert_eq!(
            got,
            vec![
                (7, "key is not a network, ASN or country code"),
                (8, "too few fields"),
                (9, "invalid address"),
                (10, "host bits set in network"),
            ]
        );
    }

    #[test]
    fn header_only_on_the_first_row() {
        let (_, _, p) = read("AS1,a@b.example\nnetwork,address\n");
        assert_eq!(p.count, 1);
        assert_eq!(p.first[0].line, 2);
    }
}
