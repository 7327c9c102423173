//! Who to tell: the abuse contact of an infected machine's network,
//! found offline, and why that contact was chosen.
//!
//! Sources, each read once into in-memory tables:
//!
//! * RIPE-format database dumps ([`ripe`]): `inetnum`/`inet6num` ranges
//!   and `aut-num` objects, their `abuse-c` roles and organisations,
//!   resolved with RIPE's abuse-contact inheritance;
//! * a CERT's own table of overrides ([`overrides`]): a network, an AS
//!   number or a country to an address;
//! * the national CERTs ([`certs`]), a country's last resort.
//!
//! [`Contacts::lookup`] applies one rule, the most specific match wins:
//!
//! 1. the smallest network containing the address, among the override
//!    networks and the RIPE ranges that have a contact (their own or
//!    inherited); an override wins over a RIPE range of the same size;
//! 2. else the AS number: an override, else the `aut-num`'s contact;
//! 3. else the country: an override, else the national CERT.
//!
//! The [`Rule`] that chose the contact goes with it, so that a notice
//! can say why it was sent there.
//!
//! Enrichment, for events whose report lacks them: AS numbers from a
//! pyasn table (`takedown_netlog::asn::AsnDb`) or a MaxMind database
//! ([`mmdb`]), countries from a MaxMind database or the RIRs' delegated
//! statistics ([`rirstats`]), combined by [`enrich::Enricher`].
//!
//! Every address that leaves this module has been validated (one `@`,
//! no spaces, no control characters, none of the characters that
//! separate addresses in a mail header) and lower-cased: they go into
//! mail headers.

pub mod certs;
pub mod enrich;
mod input;
pub mod mmdb;
pub mod overrides;
pub mod ripe;
pub mod rirstats;
mod table;

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::Serialize;

pub use certs::{NationalCert, national_certs};
pub use input::{LoadError, MAX_LINE, MAX_PROBLEMS, Problem, Problems};
pub use ripe::RipeStats;

use overrides::OverrideData;
use ripe::{RipeData, RipeTables};
use table::RangeTable;

/// A country: ISO 3166 alpha-2, upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Two ASCII letters, any case.
    pub fn parse(s: &str) -> Option<Country> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code (`DE`).
    pub fn as_str(&self) -> &str {
        // Two ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    pub(crate) fn to_u32(self) -> u32 {
        (u32::from(self.0[0]) << 8) | u32::from(self.0[1])
    }

    pub(crate) fn from_u32(v: u32) -> Option<Country> {
        let c = [(v >> 8) as u8, v as u8];
        (c[0].is_ascii_uppercase() && c[1].is_ascii_uppercase() && v >> 16 == 0)
            .then_some(Country(c))
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Longest address accepted (RFC 5321: 64 + 1 + 255, and a path of 256
/// including the brackets).
const MAX_ADDRESS: usize = 254;

/// `address` checked and lower-cased, `None` when it is not a plain mail
/// address: exactly one `@`, a non-empty local part of RFC 5322 `atext`
/// and single dots, a domain of letters, digits, `-` and at least one
/// dot, ASCII only. No spaces, control characters (CR, LF), quotes,
/// brackets, commas or semicolons: the address goes into a mail header
/// and must not be able to add a header or a recipient.
pub fn normalise_address(address: &str) -> Option<String> {
    let a = address.trim_matches([' ', '\t']);
    if a.len() < 3 || a.len() > MAX_ADDRESS {
        return None;
    }
    let (local, domain) = a.split_once('@')?;
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return None;
    }
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    if local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || !local.bytes().all(|b| atext(b) || b == b'.')
    {
        return None;
    }
    if !domain.contains('.')
        || domain
            .split('.')
            .any(|l| l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-'))
        || !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return None;
    }
    Some(a.to_ascii_lowercase())
}

/// Strings stored once and named by a number (addresses, handles).
#[derive(Default)]
pub(crate) struct Interner {
    map: HashMap<Box<str>, u32>,
    list: Vec<Box<str>>,
}

impl Interner {
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.list.len() as u32;
        let b: Box<str> = s.into();
        self.list.push(b.clone());
        self.map.insert(b, i);
        i
    }

    #[cfg(test)]
    pub(crate) fn get(&self, i: u32) -> Option<&str> {
        self.list.get(i as usize).map(|s| &**s)
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn into_strings(self) -> Vec<Box<str>> {
        self.list
    }
}

/// Why a contact was chosen (owned; see [`RuleRef`] for the borrowed
/// form the fast path returns).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Rule {
    /// A network of the CERT's table (`198.51.100.0/24`).
    Override {
        /// The network.
        network: String,
    },
    /// A RIPE `inetnum` or `inet6num` range: the one whose contact
    /// applies (the address's own range, or the closest less specific one
    /// with a contact).
    Ripe {
        /// The range as RIPE writes it (`192.0.2.0 - 192.0.2.255`,
        /// `2001:db8::/32`).
        range: String,
        /// How the range leads to the address: `abuse-c AR1-RIPE`, or
        /// `org ORG-EX1-RIPE, abuse-c AR1-RIPE`.
        object: String,
    },
    /// An AS number of the CERT's table.
    OverrideAsn {
        /// The AS number.
        asn: u32,
    },
    /// A RIPE `aut-num`.
    RipeAsn {
        /// The AS number.
        asn: u32,
        /// As for [`Rule::Ripe`].
        object: String,
    },
    /// A country of the CERT's table.
    OverrideCountry {
        /// The country (`DE`).
        country: String,
    },
    /// The country's national CERT.
    NationalCert {
        /// The country (`DE`).
        country: String,
        /// The team (`CERT-Bund`).
        team: String,
    },
}

impl fmt::Display for Rule {
    /// One line for a notice: `RIPE inetnum 192.0.2.0 - 192.0.2.255
    /// (abuse-c AR1-RIPE)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Override { network } => write!(f, "contacts table: network {network}"),
            Rule::Ripe { range, object } => {
                let kind = if range.contains(':') {
                    "inet6num"
                } else {
                    "inetnum"
                };
                write!(f, "RIPE {kind} {range} ({object})")
            }
            Rule::OverrideAsn { asn } => write!(f, "contacts table: AS{asn}"),
            Rule::RipeAsn { asn, object } => write!(f, "RIPE aut-num AS{asn} ({object})"),
            Rule::OverrideCountry { country } => write!(f, "contacts table: country {country}"),
            Rule::NationalCert { country, team } => {
                write!(f, "national CERT of {country} ({team})")
            }
        }
    }
}

/// A contact and why it was chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// The mail address (validated, lower case).
    pub address: String,
    /// The rule that chose it.
    pub rule: Rule,
}

/// [`Rule`], borrowed from the tables: no allocation per lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleRef<'a> {
    /// A network of the CERT's table.
    Override {
        /// Its first address.
        network: IpAddr,
        /// Its prefix length.
        len: u8,
    },
    /// A RIPE range.
    Ripe {
        /// Its first address.
        first: IpAddr,
        /// Its last address.
        last: IpAddr,
        /// The `abuse-c` role that holds the address.
        abuse_c: &'a str,
        /// The organisation it came through, when not the range's own
        /// `abuse-c`.
        org: Option<&'a str>,
    },
    /// An AS number of the CERT's table.
    OverrideAsn(u32),
    /// A RIPE `aut-num`.
    RipeAsn {
        /// The AS number.
        asn: u32,
        /// As for [`RuleRef::Ripe`].
        abuse_c: &'a str,
        /// As for [`RuleRef::Ripe`].
        org: Option<&'a str>,
    },
    /// A country of the CERT's table.
    OverrideCountry(Country),
    /// The national CERT.
    NationalCert {
        /// The country.
        country: Country,
        /// The team.
        team: &'a str,
    },
}

fn object_text(abuse_c: &str, org: Option<&str>) -> String {
    match org {
        Some(o) => format!("org {o}, abuse-c {abuse_c}"),
        None => format!("abuse-c {abuse_c}"),
    }
}

/// A range as RIPE writes it: `a - b` for IPv4, a prefix for IPv6 when
/// it is one.
fn range_text(first: IpAddr, last: IpAddr) -> String {
    if let (IpAddr::V6(a), IpAddr::V6(b)) = (first, last) {
        let (a, b) = (u128::from(a), u128::from(b));
        let size = b - a;
        if size.checked_add(1).is_none_or(|s| s.is_power_of_two()) && a & size == 0 {
            let len = if size == u128::MAX {
                0
            } else {
                128 - (size + 1).trailing_zeros()
            };
            return format!("{first}/{len}");
        }
    }
    format!("{first} - {last}")
}

impl RuleRef<'_> {
    /// The owned [`Rule`].
    pub fn to_rule(&self) -> Rule {
        match *self {
            RuleRef::Override { network, len } => Rule::Override {
                network: format!("{network}/{len}"),
            },
            RuleRef::Ripe {
                first,
                last,
                abuse_c,
                org,
            } => Rule::Ripe {
                range: range_text(first, last),
                object: object_text(abuse_c, org),
            },
            RuleRef::OverrideAsn(asn) => Rule::OverrideAsn { asn },
            RuleRef::RipeAsn { asn, abuse_c, org } => Rule::RipeAsn {
                asn,
                object: object_text(abuse_c, org),
            },
            RuleRef::OverrideCountry(c) => Rule::OverrideCountry {
                country: c.as_str().to_string(),
            },
            RuleRef::NationalCert { country, team } => Rule::NationalCert {
                country: country.as_str().to_string(),
                team: team.to_string(),
            },
        }
    }
}

/// [`Contact`], borrowed from the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContactRef<'a> {
    /// The mail address (validated, lower case).
    pub address: &'a str,
    /// The rule that chose it.
    pub rule: RuleRef<'a>,
}

impl ContactRef<'_> {
    /// The owned [`Contact`].
    pub fn to_contact(&self) -> Contact {
        Contact {
            address: self.address.to_string(),
            rule: self.rule.to_rule(),
        }
    }
}

/// What a contacts file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A RIPE-format database dump.
    Ripe,
    /// A CSV of overrides.
    Overrides,
}

/// RPSL (RFC 2622) objects are `attribute:` lines with the value after
/// white space; `%` and `#` lines are comments. No override row looks
/// like that: its key is a network, `ASn` or a country, followed by a
/// comma, and an IPv6 key's colons are never followed by a blank.
fn sniff_source(head: &[u8]) -> SourceKind {
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace)
            || line.starts_with(b"%")
            || line.starts_with(b"#")
        {
            continue;
        }
        let name_len = line
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
            .count();
        let rest = &line[name_len..];
        let rpsl = name_len > 0
            && rest.first() == Some(&b':')
            && rest.get(1).is_none_or(|b| *b == b' ' || *b == b'\t');
        return if rpsl {
            SourceKind::Ripe
        } else {
            SourceKind::Overrides
        };
    }
    SourceKind::Overrides
}

/// Gathers the sources; [`ContactsBuilder::build`] makes the tables.
pub struct ContactsBuilder {
    addresses: Interner,
    ripe: RipeData,
    overrides: OverrideData,
    national: bool,
    problems: Problems,
}

impl Default for ContactsBuilder {
    fn default() -> Self {
        ContactsBuilder {
            addresses: Interner::default(),
            ripe: RipeData::default(),
            overrides: OverrideData::default(),
            national: true,
            problems: Problems::default(),
        }
    }
}

impl ContactsBuilder {
    /// No sources yet; the national CERTs on.
    pub fn new() -> ContactsBuilder {
        ContactsBuilder::default()
    }

    /// Leaves out the built-in national CERTs.
    pub fn without_national_certs(&mut self) -> &mut ContactsBuilder {
        self.national = false;
        self
    }

    /// Reads a RIPE-format dump (gzip-compressed or not, whatever its
    /// name); dumps of several types may be given one after the other in
    /// any order. Bad objects are counted in [`ContactsBuilder::problems`].
    pub fn ripe_dump(&mut self, path: &Path) -> Result<&mut ContactsBuilder, LoadError> {
        let r = input::open(path)?;
        self.ripe_dump_from(r, &path.display().to_string())
    }

    /// [`ContactsBuilder::ripe_dump`] from a reader; `name` names it in
    /// problems.
    pub fn ripe_dump_from(
        &mut self,
        r: impl BufRead,
        name: &str,
    ) -> Result<&mut ContactsBuilder, LoadError> {
        self.ripe
            .read(r, name, &mut self.addresses, &mut self.problems)?;
        Ok(self)
    }

    /// Reads a contacts file of either kind, told by its content: a
    /// RIPE-format dump (its first line that is not a comment is an RPSL
    /// attribute, `inetnum:  ...`) or a table of overrides (CSV).
    pub fn source(&mut self, path: &Path) -> Result<SourceKind, LoadError> {
        let name = path.display().to_string();
        let mut r = input::open(path)?;
        let head = r.fill_buf().map_err(|e| LoadError::io(&name, &e))?;
        let kind = sniff_source(head);
        match kind {
            SourceKind::Ripe => self.ripe_dump_from(r, &name)?,
            SourceKind::Overrides => self.overrides_from(r, &name)?,
        };
        Ok(kind)
    }

    /// Reads a table of overrides (see [`overrides`]); several may be
    /// given, a later row winning over an earlier one for the same key.
    pub fn overrides(&mut self, path: &Path) -> Result<&mut ContactsBuilder, LoadError> {
        let r = input::open(path)?;
        self.overrides_from(r, &path.display().to_string())
    }

    /// [`ContactsBuilder::overrides`] from a reader.
    pub fn overrides_from(
        &mut self,
        r: impl BufRead,
        name: &str,
    ) -> Result<&mut ContactsBuilder, LoadError> {
        self.overrides
            .read(r, name, &mut self.addresses, &mut self.problems)?;
        Ok(self)
    }

    /// The bad lines and objects met so far.
    pub fn problems(&self) -> &Problems {
        &self.problems
    }

    /// Resolves the references and builds the lookup tables.
    pub fn build(self) -> Contacts {
        let ContactsBuilder {
            mut addresses,
            ripe,
            overrides,
            national,
            problems,
        } = self;
        let ripe = ripe.resolve();
        let ov4 = RangeTable::build(
            &overrides
                .nets4
                .iter()
                .enumerate()
                .map(|(i, n)| (n.0, n.1, i as u32))
                .collect::<Vec<_>>(),
        );
        let ov6 = RangeTable::build(
            &overrides
                .nets6
                .iter()
                .enumerate()
                .map(|(i, n)| (n.0, n.1, i as u32))
                .collect::<Vec<_>>(),
        );
        let ov_asns = last_per_key(overrides.asns);
        let ov_countries = last_per_key(overrides.countries);
        let mut teams = Interner::default();
        let certs = if national {
            last_per_key(
                national_certs()
                    .into_iter()
                    .map(|c| {
                        (
                            c.country,
                            (teams.intern(&c.team), addresses.intern(&c.address)),
                        )
                    })
                    .collect(),
            )
        } else {
            Vec::new()
        };
        Contacts {
            addresses: addresses.into_strings(),
            teams: teams.into_strings(),
            ripe,
            ov4,
            ov4_nets: overrides.nets4,
            ov6,
            ov6_nets: overrides.nets6,
            ov_asns,
            ov_countries,
            certs,
            problems,
        }
    }
}

/// Sorted by key, one value per key: the last one given (stable sort).
fn last_per_key<K: Ord + Copy, V: Copy>(mut v: Vec<(K, V)>) -> Vec<(K, V)> {
    v.sort_by_key(|e| e.0);
    let mut out: Vec<(K, V)> = Vec::with_capacity(v.len());
    for e in v {
        match out.last_mut() {
            Some(last) if last.0 == e.0 => *last = e,
            _ => out.push(e),
        }
    }
    out
}

fn find<K: Ord + Copy, V: Copy>(v: &[(K, V)], k: K) -> Option<V> {
    v.binary_search_by_key(&k, |e| e.0).ok().map(|i| v[i].1)
}

/// The abuse contacts, built once by [`ContactsBuilder`], looked up by
/// [`Contacts::lookup`].
#[derive(Default)]
pub struct Contacts {
    addresses: Vec<Box<str>>,
    teams: Vec<Box<str>>,
    ripe: RipeTables,
    ov4: RangeTable<u32>,
    ov4_nets: Vec<(u32, u32, u8, u32)>,
    ov6: RangeTable<u128>,
    ov6_nets: Vec<(u128, u128, u8, u32)>,
    ov_asns: Vec<(u32, u32)>,
    ov_countries: Vec<(Country, u32)>,
    /// Country -> (team id, address id).
    certs: Vec<(Country, (u32, u32))>,
    problems: Problems,
}

impl Contacts {
    /// A builder with no sources but the national CERTs.
    pub fn builder() -> ContactsBuilder {
        ContactsBuilder::new()
    }

    /// The contact for an address seen with, when known, its AS number
    /// and country: the most specific match (see the module
    /// documentation), `None` when nothing matches.
    pub fn lookup(&self, ip: IpAddr, asn: Option<u32>, country: Option<&str>) -> Option<Contact> {
        self.lookup_ref(ip, asn, country).map(|c| c.to_contact())
    }

    /// [`Contacts::lookup`] without allocating.
    pub fn lookup_ref(
        &self,
        ip: IpAddr,
        asn: Option<u32>,
        country: Option<&str>,
    ) -> Option<ContactRef<'_>> {
        if let Some(c) = self.by_network(ip) {
            return Some(c);
        }
        if let Some(asn) = asn {
            if let Some(a) = find(&self.ov_asns, asn) {
                return self.contact(a, RuleRef::OverrideAsn(asn));
            }
            if let Some(a) = self.ripe.aut_num(asn) {
                let rule = RuleRef::RipeAsn {
                    asn,
                    abuse_c: self.ripe.handle(a.abuse_c).unwrap_or(""),
                    org: self.ripe.handle(a.via_org),
                };
                return self.contact(a.addr, rule);
            }
        }
        let country = Country::parse(country?)?;
        if let Some(a) = find(&self.ov_countries, country) {
            return self.contact(a, RuleRef::OverrideCountry(country));
        }
        let (team, a) = find(&self.certs, country)?;
        let team = self.teams.get(team as usize).map_or("", |t| &**t);
        self.contact(a, RuleRef::NationalCert { country, team })
    }

    fn contact<'a>(&'a self, addr: u32, rule: RuleRef<'a>) -> Option<ContactRef<'a>> {
        let address = self.addresses.get(addr as usize)?;
        Some(ContactRef { address, rule })
    }

    /// The smallest network containing `ip` among the overrides and the
    /// RIPE ranges; an override wins a tie.
    fn by_network(&self, ip: IpAddr) -> Option<ContactRef<'_>> {
        let v4 = match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => a.to_ipv4_mapped(),
        };
        if let Some(a) = v4 {
            let x = u32::from(a);
            let ov = self.ov4.get(x).and_then(|i| self.ov4_nets.get(i as usize));
            return self.smallest(ov, self.ripe.get4(x), |k| IpAddr::V4(Ipv4Addr::from(k)));
        }
        let IpAddr::V6(a) = ip else { return None };
        let x = u128::from(a);
        let ov = self.ov6.get(x).and_then(|i| self.ov6_nets.get(i as usize));
        self.smallest(ov, self.ripe.get6(x), |k| IpAddr::V6(Ipv6Addr::from(k)))
    }

    /// Of an override network `(first, last, length, address id)` and a
    /// RIPE range that both contain an address, the smaller (an override
    /// wins a tie), as the contact; `ip` turns a table key back into an
    /// address. One body for IPv4 and IPv6 keys.
    fn smallest<K>(
        &self,
        ov: Option<&(K, K, u8, u32)>,
        rp: Option<&ripe::Net<K>>,
        ip: impl Fn(K) -> IpAddr,
    ) -> Option<ContactRef<'_>>
    where
        K: Copy + Ord + std::ops::Sub<Output = K>,
    {
        let use_override = match (ov, rp) {
            (Some(o), Some(r)) => o.1 - o.0 <= r.end - r.start,
            (o, _) => o.is_some(),
        };
        if use_override {
            let o = ov?;
            let rule = RuleRef::Override {
                network: ip(o.0),
                len: o.2,
            };
            return self.contact(o.3, rule);
        }
        let r = rp?;
        let rule = RuleRef::Ripe {
            first: ip(r.start),
            last: ip(r.end),
            abuse_c: self.ripe.handle(r.abuse_c).unwrap_or(""),
            org: self.ripe.handle(r.via_org),
        };
        self.contact(r.addr, rule)
    }

    /// The bad lines and objects met while reading the sources.
    pub fn problems(&self) -> &Problems {
        &self.problems
    }

    /// What the RIPE dumps held.
    pub fn ripe_stats(&self) -> RipeStats {
        self.ripe.stats
    }

    /// Number of distinct contact addresses.
    pub fn addresses(&self) -> usize {
        self.addresses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_told_by_content() {
        let ripe = b"% RIPE dump\n\ninetnum:        192.0.2.0 - 192.0.2.255\nabuse-c: A\n";
        assert_eq!(sniff_source(ripe), SourceKind::Ripe);
        assert_eq!(sniff_source(b"role:\nx"), SourceKind::Ripe);
        for ov in [
            &b"network,address,comment\n"[..],
            b"# mine\n2001:db8::/32,abuse@example.net\n",
            b"AS64500,noc@example.net\n",
            b"",
        ] {
            assert_eq!(sniff_source(ov), SourceKind::Overrides, "{ov:?}");
        }
    }

    #[test]
    fn addresses_are_validated_and_lowered() {
        assert_eq!(
            normalise_address(" Abuse@Example.NET ").as_deref(),
            Some("abuse@example.net")
        );
        assert_eq!(
            normalise_address("first.last+tag@sub.example.org").as_deref(),
            Some("first.last+tag@sub.example.org")
        );
        for bad in [
            "",
            "@",
            "a@",
            "@b.example",
            "a@@b.example",
            "a@b@c.example",
            "two words@example.net",
            "a@example.net\r\nBcc: x@evil.example",
            "a@example.net\nx",
            "a,b@example.net",
            "a@example.net,b@example.net",
            "<a@example.net>",
            "\"a\"@example.net",
            "a;b@example.net",
            "a@localhost",
            "a@-x.example",
            "a@x..example",
            ".a@example.net",
            "a..b@example.net",
            "ä@example.net",
            "a\u{0}@example.net",
        ] {
            assert_eq!(normalise_address(bad), None, "{bad:?}");
        }
        let long = format!("{}@example.net", "a".repeat(65));
        assert_eq!(normalise_address(&long), None);
    }

    #[test]
    fn countries() {
        assert_eq!(Country::parse("de").unwrap().as_str(), "DE");
        assert!(Country::parse("DEU").is_none());
        assert!(Country::parse("D1").is_none());
        assert!(Country::parse("ÄÖ").is_none());
        let c = Country::parse("JP").unwrap();
        assert_eq!(Country::from_u32(c.to_u32()), Some(c));
        assert_eq!(Country::from_u32(0), None);
    }

    #[test]
    fn range_texts() {
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            range_text(a("2001:db8::"), a("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")),
            "2001:db8::/32"
        );
        assert_eq!(
            range_text(a("::"), a("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            "::/0"
        );
        assert_eq!(
            range_text(a("192.0.2.0"), a("192.0.2.255")),
            "192.0.2.0 - 192.0.2.255"
        );
        assert_eq!(
            range_text(a("2001:db8::1"), a("2001:db8::2")),
            "2001:db8::1 - 2001:db8::2"
        );
    }

    fn contacts(ripe: &str, overrides: &str) -> Contacts {
        let mut b = Contacts::builder();
        b.ripe_dump_from(ripe.as_bytes(), "ripe.db").unwrap();
        b.overrides_from(overrides.as_bytes(), "contacts.csv")
            .unwrap();
        b.build()
    }

    const DUMP: &str = "\
inetnum: 198.51.100.0 - 198.51.100.255
abuse-c: RIPE1-RIPE

inetnum: 198.51.100.0 - 198.51.100.127
abuse-c: RIPE2-RIPE

inet6num: 2001:db8::/32
org: ORG-V6-RIPE

aut-num: AS64500
abuse-c: ASN1-RIPE

organisation: ORG-V6-RIPE
abuse-c: RIPE1-RIPE

role: one
nic-hdl: RIPE1-RIPE
abuse-mailbox: abuse@ripe-one.example

role: two
nic-hdl: RIPE2-RIPE
abuse-mailbox: abuse@ripe-two.example

role: asn
nic-hdl: ASN1-RIPE
abuse-mailbox: noc@asn.example
";

    #[test]
    fn most_specific_wins_and_says_why() {
        let ovr = "\
198.51.100.0/25,same-size@override.example
198.51.100.0/23,wider@override.example
198.51.100.128/26,narrower@override.example
AS64501,as@override.example
FR,fr@override.example
";
        let c = contacts(DUMP, ovr);
        assert!(c.problems().is_empty(), "{:?}", c.problems().messages());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Same size as the RIPE /25: the override wins the tie.
        let got = c.lookup(ip("198.51.100.1"), None, None).unwrap();
        assert_eq!(got.address, "same-size@override.example");
        assert_eq!(
            got.rule,
            Rule::Override {
                network: "198.51.100.0/25".into()
            }
        );
        // A /26 override inside the RIPE /24.
        let got = c
            .lookup(ip("198.51.100.130"), Some(64501), Some("FR"))
            .unwrap();
        assert_eq!(got.address, "narrower@override.example");
        // Outside the /26 the RIPE /24 is narrower than the /23 override,
        // which has the rest of the /23.
        let got = c.lookup(ip("198.51.101.1"), None, None).unwrap();
        assert_eq!(got.address, "wider@override.example");
        let got = c.lookup(ip("198.51.100.200"), None, None).unwrap();
        assert_eq!(got.address, "abuse@ripe-one.example");
        assert_eq!(
            got.rule,
            Rule::Ripe {
                range: "198.51.100.0 - 198.51.100.255".into(),
                object: "abuse-c RIPE1-RIPE".into()
            }
        );
        assert_eq!(
            got.rule.to_string(),
            "RIPE inetnum 198.51.100.0 - 198.51.100.255 (abuse-c RIPE1-RIPE)"
        );
        // IPv6 through the organisation; an IPv4-mapped address is IPv4.
        let got = c.lookup(ip("2001:db8::5"), None, None).unwrap();
        assert_eq!(got.address, "abuse@ripe-one.example");
        assert_eq!(
            got.rule,
            Rule::Ripe {
                range: "2001:db8::/32".into(),
                object: "org ORG-V6-RIPE, abuse-c RIPE1-RIPE".into()
            }
        );
        let got = c.lookup(ip("::ffff:198.51.100.200"), None, None).unwrap();
        assert_eq!(got.address, "abuse@ripe-one.example");
        // No network: the AS (override, then RIPE), then the country.
        let got = c
            .lookup(ip("203.0.113.1"), Some(64501), Some("FR"))
            .unwrap();
        assert_eq!(
            (got.address.as_str(), got.rule),
            ("as@override.example", Rule::OverrideAsn { asn: 64501 })
        );
        let got = c
            .lookup(ip("203.0.113.1"), Some(64500), Some("FR"))
            .unwrap();
        assert_eq!(got.address, "noc@asn.example");
        assert_eq!(
            got.rule,
            Rule::RipeAsn {
                asn: 64500,
                object: "abuse-c ASN1-RIPE".into()
            }
        );
        let got = c.lookup(ip("203.0.113.1"), Some(1), Some("fr")).unwrap();
        assert_eq!(
            (got.address.as_str(), got.rule),
            (
                "fr@override.example",
                Rule::OverrideCountry {
                    country: "FR".into()
                }
            )
        );
        // The national CERT, then nothing.
        let got = c.lookup(ip("203.0.113.1"), None, Some("DE")).unwrap();
        assert_eq!(got.address, "certbund@bsi.bund.de");
        assert_eq!(
            got.rule,
            Rule::NationalCert {
                country: "DE".into(),
                team: "CERT-Bund".into()
            }
        );
        assert_eq!(got.rule.to_string(), "national CERT of DE (CERT-Bund)");
        assert_eq!(c.lookup(ip("203.0.113.1"), None, Some("ZZ")), None);
        assert_eq!(c.lookup(ip("203.0.113.1"), None, Some("nonsense")), None);
        assert_eq!(c.lookup(ip("203.0.113.1"), None, None), None);
    }

    #[test]
    fn override_country_beats_national_cert_and_can_be_turned_off() {
        let c = contacts("", "DE,ours@cert.example\n");
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            c.lookup(ip, None, Some("DE")).unwrap().address,
            "ours@cert.example"
        );
        assert_eq!(
            c.lookup(ip, None, Some("IT")).unwrap().address,
            "info@csirt.gov.it"
        );
        let mut b = Contacts::builder();
        b.without_national_certs();
        let c = b.build();
        assert_eq!(c.lookup(ip, None, Some("IT")), None);
    }

    #[test]
    fn later_override_row_wins() {
        let c = contacts(
            "",
            "AS1,a@x.example\nAS1,b@x.example\n192.0.2.0/24,c@x.example\n192.0.2.0/24,d@x.example\n",
        );
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(c.lookup(ip, None, None).unwrap().address, "d@x.example");
        let ip: IpAddr = "192.0.3.1".parse().unwrap();
        assert_eq!(c.lookup(ip, Some(1), None).unwrap().address, "b@x.example");
    }

    #[test]
    fn contact_serialises_with_its_rule() {
        let c = Contact {
            address: "a@b.example".into(),
            rule: Rule::OverrideAsn { asn: 7 },
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"address":"a@b.example","rule":{"rule":"override-asn","asn":7}}"#
        );
    }
}
