//! The indicator model: one type for everything that names something bad,
//! whatever format it came from.
//!
//! Every reader (STIX 2.1, MISP, and later DGA windows and blocklists)
//! produces [`Indicator`]s; every consumer (the scan engine for the file
//! side, hunting, blocklists and notices for the network side, the
//! exports) takes them. Values are normalised on the way in
//! ([`Indicator::new`]) so that consumers compare them as plain strings.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use time::OffsetDateTime;

/// What an indicator names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// MD5 of a file's content (32 lowercase hex digits).
    Md5,
    /// SHA-1 of a file's content (40 lowercase hex digits).
    Sha1,
    /// SHA-256 of a file's content (64 lowercase hex digits).
    Sha256,
    /// A regular expression searched in a file's path (Loki's name IOCs);
    /// an exact file name from STIX or MISP becomes an anchored, escaped
    /// regex.
    FileName,
    /// The source text of one or more YARA rules.
    Yara,
    /// A domain name (lowercase, no trailing dot, IDNA as given); matches
    /// itself and its subdomains.
    Domain,
    /// An IPv4 address or CIDR block (`192.0.2.1`, `198.51.100.0/24`).
    Ipv4,
    /// An IPv6 address or CIDR block, in its canonical text form.
    Ipv6,
    /// A URL, as published (hunting normalises it when matching).
    Url,
    /// An e-mail address (lowercase).
    Email,
}

impl Kind {
    /// The name used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::FileName => "file-name",
            Kind::Yara => "yara",
            Kind::Domain => "domain",
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Url => "url",
            Kind::Email => "email",
        }
    }

    /// True for the kinds the file scanner uses (hashes, names, YARA); the
    /// others are network-side.
    pub fn is_file_side(self) -> bool {
        matches!(
            self,
            Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::FileName | Kind::Yara
        )
    }

    /// Every kind, in a fixed order (for counts and listings).
    pub const ALL: [Kind; 10] = [
        Kind::Md5,
        Kind::Sha1,
        Kind::Sha256,
        Kind::FileName,
        Kind::Yara,
        Kind::Domain,
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Url,
        Kind::Email,
    ];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Traffic Light Protocol marking (TLP 2.0; TLP 1.0's WHITE is CLEAR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tlp {
    /// TLP:CLEAR (TLP 1.0: WHITE).
    Clear,
    /// TLP:GREEN.
    Green,
    /// TLP:AMBER.
    Amber,
    /// TLP:AMBER+STRICT.
    #[serde(rename = "amber+strict")]
    AmberStrict,
    /// TLP:RED.
    Red,
}

impl Tlp {
    /// Lowercase name as in MISP tags and on the command line
    /// (`amber+strict`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// Parses `clear`, `white`, `green`, `amber`, `amber+strict`, `red`
    /// (any case, with or without a `tlp:` prefix).
    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("tlp:").unwrap_or(&s);
        Some(match s {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return None,
        })
    }

    /// The STIX 2.1 marking-definition id of TLP 2.0 (as published by
    /// OASIS in the TLP 2.0 extension of STIX 2.1).
    pub fn stix_id(self) -> &'static str {
        match self {
            Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }

    /// The TLP a STIX marking-definition id stands for: the TLP 2.0 ids
    /// and the TLP 1.0 ones of STIX 2.1's section 7.2.1.4.
    pub fn from_stix_id(id: &str) -> Option<Tlp> {
        Some(match id {
            "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
            | "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Tlp::Clear,
            "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
            | "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Tlp::Green,
            "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
            | "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Tlp::Amber,
            "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" => Tlp::AmberStrict,
            "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
            | "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Tlp::Red,
            _ => return None,
        })
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLP:{}", self.as_str().to_ascii_uppercase())
    }
}

/// Where an indicator came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The file, feed directory or collection it was read from.
    pub source: String,
    /// Its object id in that source: a STIX id (`indicator--...`), a MISP
    /// attribute uuid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// Who produced it: the STIX `created_by_ref` identity's name, the MISP
    /// event's organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<String>,
    /// The MISP event (uuid) or STIX report it belongs to, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// One indicator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    /// What it names.
    pub kind: Kind,
    /// The normalised value (see [`Indicator::new`]).
    pub value: String,
    /// A human name: the STIX indicator's name, the MISP attribute's
    /// comment; `None` when the source gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Malware family, when the source says (STIX `indicates` relationship
    /// to a malware object, MISP galaxy or tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Severity on takedown's 0-100 scale (Loki's: 75+ malicious).
    pub score: u32,
    /// The source's confidence, 0-100 (STIX `confidence`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    /// Valid from (UTC).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub valid_from: Option<OffsetDateTime>,
    /// Valid until (UTC); past it the indicator is expired.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub valid_until: Option<OffsetDateTime>,
    /// Sharing restriction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<Tlp>,
    /// File size, when the source ties a hash to one (STIX `file:size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where it came from.
    pub provenance: Provenance,
}

/// Default score of an indicator whose source states no confidence: a
/// published indicator is taken as malicious, as a hash IOC is.
pub const DEFAULT_SCORE: u32 = 100;

/// Why a value cannot be an indicator of its kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} value: {reason}")]
pub struct InvalidValue {
    /// The kind asked for.
    pub kind: Kind,
    /// Why.
    pub reason: String,
}

/// Longest value accepted (a URL or a YARA rule may be long; a value
/// longer than this is a hostile or broken feed).
pub const MAX_VALUE: usize = 1 << 20;

impl Indicator {
    /// An indicator of `kind` with `value` normalised and checked, score
    /// [`DEFAULT_SCORE`], the rest empty.
    ///
    /// Normalisation: hashes lowercase hex of the right length; domains
    /// lowercase without a trailing dot, made of valid labels; IPs parsed
    /// and printed canonically, a CIDR with its host bits cleared; e-mail
    /// lowercase with one `@`; URLs trimmed and with a scheme; file-name
    /// regexes and YARA as given (the engine compiles them).
    pub fn new(kind: Kind, value: &str, source: &str) -> Result<Indicator, InvalidValue> {
        Ok(Indicator {
            kind,
            value: normalise(kind, value)?,
            name: None,
            family: None,
            score: DEFAULT_SCORE,
            confidence: None,
            valid_from: None,
            valid_until: None,
            tlp: None,
            size: None,
            provenance: Provenance {
                source: source.to_string(),
                ..Default::default()
            },
        })
    }

    /// True when `valid_until` is before `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.valid_until.is_some_and(|u| u < now)
    }

    /// The address and prefix length of an IPv4/IPv6 indicator.
    pub fn cidr(&self) -> Option<(IpAddr, u8)> {
        match self.kind {
            Kind::Ipv4 | Kind::Ipv6 => parse_cidr(&self.value).ok(),
            _ => None,
        }
    }

    /// A short label for detections and listings: the name, else the
    /// family, else the object id, else the value.
    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .or(self.family.as_deref())
            .or(self.provenance.object_id.as_deref())
            .unwrap_or(&self.value)
    }
}

/// Normalises `value` as a value of `kind` (see [`Indicator::new`]).
pub fn normalise(kind: Kind, value: &str) -> Result<String, InvalidValue> {
    let bad = |reason: &str| InvalidValue {
        kind,
        reason: reason.to_string(),
    };
    if value.len() > MAX_VALUE {
        return Err(bad("longer than 1 MiB"));
    }
    let v = value.trim();
    if v.is_empty() {
        return Err(bad("empty"));
    }
    match kind {
        Kind::Md5 | Kind::Sha1 | Kind::Sha256 => {
            let want = match kind {
                Kind::Md5 => 32,
                Kind::Sha1 => 40,
                _ => 64,
            };
            if v.len() != want || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(&format!("expected {want} hex digits")));
            }
            Ok(v.to_ascii_lowercase())
        }
        Kind::FileName | Kind::Yara => Ok(value.to_string()),
        Kind::Domain => normalise_domain(v).map_err(|r| bad(&r)),
        Kind::Ipv4 | Kind::Ipv6 => {
            let (addr, len) = parse_cidr(v).map_err(|r| bad(&r))?;
            match (kind, addr) {
                (Kind::Ipv4, IpAddr::V4(_)) | (Kind::Ipv6, IpAddr::V6(_)) => {}
                _ => return Err(bad("wrong address family")),
            }
            let full = if addr.is_ipv4() { 32 } else { 128 };
            Ok(if len == full {
                addr.to_string()
            } else {
                format!("{addr}/{len}")
            })
        }
        Kind::Url => {
            if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad("contains white space or control characters"));
            }
            let Some((scheme, rest)) = v.split_once("://") else {
                return Err(bad("no scheme (expected scheme://host...)"));
            };
            if scheme.is_empty()
                || !scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            {
                return Err(bad("invalid scheme"));
            }
            if rest.is_empty() {
                return Err(bad("no host"));
            }
            Ok(format!("{}://{rest}", scheme.to_ascii_lowercase()))
        }
        Kind::Email => {
            let v = v.to_lowercase();
            let Some((local, domain)) = v.rsplit_once('@') else {
                return Err(bad("no '@'"));
            };
            if local.is_empty() || local.contains(char::is_whitespace) {
                return Err(bad("invalid local part"));
            }
            let domain = normalise_domain(domain).map_err(|r| bad(&r))?;
            Ok(format!("{local}@{domain}"))
        }
    }
}

fn normalise_domain(v: &str) -> Result<String, String> {
    let d = v.strip_suffix('.').unwrap_or(v).to_lowercase();
    if d.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    for label in d.split('.') {
        if label.is_empty() {
            return Err("empty label".into());
        }
        if label.len() > 63 {
            return Err("label longer than 63 characters".into());
        }
        // Letters (any script: IDNs are published both ways), digits,
        // hyphens and underscores (seen in real malware domains).
        if !label
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!("invalid character in label '{label}'"));
        }
    }
    Ok(d)
}

/// True for the canonical text form of a UUID (8-4-4-4-12 hex digits):
/// STIX ids, MISP uuids, TAXII collection ids.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Parses `addr` or `addr/len`; clears host bits of a CIDR.
pub fn parse_cidr(v: &str) -> Result<(IpAddr, u8), String> {
    let (a, len) = match v.split_once('/') {
        Some((a, l)) => (
            a,
            Some(
                l.parse::<u8>()
                    .map_err(|_| format!("invalid prefix length '{l}'"))?,
            ),
        ),
        None => (v, None),
    };
    let addr: IpAddr = a
        .parse()
        .map_err(|_| format!("'{a}' is not an IP address"))?;
    let full = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(full);
    if len > full {
        return Err(format!("prefix length {len} over {full}"));
    }
    let addr = match addr {
        IpAddr::V4(a) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            IpAddr::V6((u128::from(a) & mask).into())
        }
    };
    Ok((addr, len))
}

/// Why an object or attribute of a source was not used. Every one is
/// reported with its id; none is dropped silently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The object's id (STIX id, MISP attribute uuid or id), or a
    /// description of where it is when it has none.
    pub id: String,
    /// Why: the class.
    pub class: SkipClass,
    /// Why: in words.
    pub reason: String,
}

/// Classes of [`Skipped`], counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipClass {
    /// A revoked STIX object.
    Revoked,
    /// `valid_until` in the past.
    Expired,
    /// Valid, but meaning something takedown cannot use as an indicator
    /// (an `AND` across objects, a comparison on an unsupported property,
    /// a pattern language other than STIX and YARA, a MISP type we do not
    /// read).
    Unsupported,
    /// Not for detection by its producer's word (MISP `to_ids: false`).
    NotForDetection,
    /// Broken: invalid pattern, wrong types, missing fields, bad value.
    Invalid,
}

impl SkipClass {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipClass::Revoked => "revoked",
            SkipClass::Expired => "expired",
            SkipClass::Unsupported => "unsupported",
            SkipClass::NotForDetection => "not-for-detection",
            SkipClass::Invalid => "invalid",
        }
    }
}

/// What reading one source gave.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Loaded {
    /// The indicators, in source order.
    pub indicators: Vec<Indicator>,
    /// What was not used, with reasons.
    pub skipped: Vec<Skipped>,
    /// Objects of types that carry no indicator and that the reader does
    /// not use (STIX `attack-pattern`, `course-of-action`, ...), counted
    /// by type.
    pub ignored_types: std::collections::BTreeMap<String, u64>,
}

impl Loaded {
    /// Number of skipped entries of `class`.
    pub fn skipped_count(&self, class: SkipClass) -> usize {
        self.skipped.iter().filter(|s| s.class == class).count()
    }

    /// Indicators per kind.
    pub fn counts(&self) -> std::collections::BTreeMap<Kind, usize> {
        let mut m = std::collections::BTreeMap::new();
        for i in &self.indicators {
            *m.entry(i.kind).or_default() += 1;
        }
        m
    }
}

/// A whole source could not be read (not one object of it: those are
/// [`Skipped`]).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// I/O error reading it.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// Not the format expected, or broken beyond one object.
    #[error("{0}")]
    Format(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_normalised() {
        let n = |k, v| normalise(k, v);
        assert_eq!(
            n(Kind::Md5, " D41D8CD98F00B204E9800998ECF8427E ").unwrap(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert!(n(Kind::Sha1, "d41d8cd98f00b204e9800998ecf8427e").is_err());
        assert_eq!(
            n(Kind::Domain, "Evil.Example.COM.").unwrap(),
            "evil.example.com"
        );
        assert!(n(Kind::Domain, "a..b").is_err());
        assert!(n(Kind::Domain, "a b.com").is_err());
        assert_eq!(n(Kind::Ipv4, "198.51.100.7/24").unwrap(), "198.51.100.0/24");
        assert_eq!(n(Kind::Ipv4, "192.0.2.1").unwrap(), "192.0.2.1");
        assert_eq!(n(Kind::Ipv4, "192.0.2.1/32").unwrap(), "192.0.2.1");
        assert!(n(Kind::Ipv4, "2001:db8::1").is_err());
        assert_eq!(
            n(Kind::Ipv6, "2001:DB8:0:0::1/32").unwrap(),
            "2001:db8::/32"
        );
        assert!(n(Kind::Ipv4, "192.0.2.1/33").is_err());
        assert_eq!(
            n(Kind::Url, "HTTP://evil.example/a?b").unwrap(),
            "http://evil.example/a?b"
        );
        assert!(n(Kind::Url, "evil.example/a").is_err());
        assert_eq!(
            n(Kind::Email, "Boss@Evil.Example").unwrap(),
            "boss@evil.example"
        );
        assert!(n(Kind::Email, "nobody").is_err());
        assert!(n(Kind::Domain, "").is_err());
    }

    #[test]
    fn tlp_names_and_stix_ids() {
        for t in [
            Tlp::Clear,
            Tlp::Green,
            Tlp::Amber,
            Tlp::AmberStrict,
            Tlp::Red,
        ] {
            assert_eq!(Tlp::parse(t.as_str()), Some(t));
            assert_eq!(Tlp::from_stix_id(t.stix_id()), Some(t));
        }
        assert_eq!(Tlp::parse("TLP:WHITE"), Some(Tlp::Clear));
        assert_eq!(Tlp::parse("tlp:ex:chr"), None);
        assert_eq!(
            serde_json::to_string(&Tlp::AmberStrict).unwrap(),
            "\"amber+strict\""
        );
    }
}
