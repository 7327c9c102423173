//! Rows as IntelMQ-harmonised events, for CERTs whose pipeline is
//! IntelMQ: one flat JSON object per line, as IntelMQ's file output
//! writes them, with only keys and value forms IntelMQ's harmonisation
//! (`harmonization.conf`, IntelMQ 3.5) accepts. A value IntelMQ would
//! refuse (a non-ASCII family as `malware.name`, a destination that is
//! not an address or a host name) goes to `extra.*` instead of failing
//! the event.

use super::{Notice, Row, UNKNOWN_FAMILY, iso_time};
use serde_json::{Map, Value};
use std::net::{IpAddr, SocketAddr};

/// One IntelMQ-harmonised event (a JSON object line, no newline): the
/// row's address, port, ASN and country as `source.*`, its family as
/// `malware.name` and `classification.identifier`, its first sighting
/// as `time.source`, the sinkhole it called as `destination.*`, and the
/// notice (`extra.notice_id`, `extra.period`, `source.abuse_contact`),
/// the count and the last sighting as `extra.*`. Classified as
/// `malicious-code` / `infected-system`, as IntelMQ classifies
/// Shadowserver's sinkhole reports. Keys are sorted.
pub fn intelmq_line(n: &Notice, row: &Row, feed: &str) -> String {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    if !feed.is_empty() {
        put("feed.name", feed.into());
    }
    put("time.source", iso_time(row.first, false).into());
    put("source.ip", row.ip.to_string().into());
    if let Some(p) = row.port {
        put("source.port", p.into());
    }
    if let Some(a) = row.asn.filter(|&a| a > 0) {
        put("source.asn", a.into());
    }
    if let Some(cc) = row
        .country
        .as_deref()
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        put("source.geolocation.cc", cc.to_ascii_uppercase().into());
    }
    let to = n.to.to_lowercase();
    if !to.is_empty() {
        put("source.abuse_contact", to.into());
    }
    let family = row.family.as_str();
    // malware.name: printable ASCII, lower case (IntelMQ's regex
    // `^[ -~]+$`); "unknown" stands for no family and is left out.
    if family != UNKNOWN_FAMILY && !family.is_empty() {
        if family.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            put("malware.name", family.to_ascii_lowercase().into());
        } else {
            put("extra.malware_name", family.into());
        }
    }
    if !family.is_empty() {
        put("classification.identifier", family.into());
    }
    put("classification.taxonomy", "malicious-code".into());
    put("classification.type", "infected-system".into());
    match row.report_type.as_str() {
        "sinkhole-http" => put("protocol.application", "http".into()),
        "sinkhole-dns" => put("protocol.application", "dns".into()),
        _ => {}
    }
    if let Some(d) = row.destination.as_deref().filter(|d| !d.is_empty()) {
        destination(d, &mut put);
    }
    put("extra.count", row.count.into());
    put("extra.last_seen", iso_time(row.last, false).into());
    put("extra.notice_id", n.id.as_str().into());
    put("extra.period", n.period.as_str().into());
    if !row.report_type.is_empty() {
        put("extra.report_type", row.report_type.as_str().into());
    }
    Value::Object(m).to_string()
}

/// `198.51.100.1`, `198.51.100.1:80`, `[2001:db8::1]:80` or a host name
/// (`c2.example`, `c2.example:443`) into `destination.*`; anything else
/// into `extra.destination`.
fn destination(d: &str, put: &mut impl FnMut(&str, Value)) {
    if let Ok(ip) = d.parse::<IpAddr>() {
        put("destination.ip", ip.to_string().into());
        return;
    }
    if let Ok(sa) = d.parse::<SocketAddr>() {
        put("destination.ip", sa.ip().to_string().into());
        put("destination.port", sa.port().into());
        return;
    }
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => match p.parse::<u16>() {
            Ok(p) => (h, Some(p)),
            Err(_) => (d, None),
        },
        None => (d, None),
    };
    let host = host.to_ascii_lowercase();
    if is_fqdn(&host) {
        put("destination.fqdn", host.into());
        if let Some(p) = port {
            put("destination.port", p.into());
        }
    } else {
        put("extra.destination", d.into());
    }
}

/// A host name IntelMQ's FQDN type accepts unchanged: lower-case ASCII
/// labels of letters, digits, `-` and `_`, no leading or trailing dot,
/// not an address.
fn is_fqdn(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.parse::<IpAddr>().is_err()
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(d: &str) -> Map<String, Value> {
        let mut m = Map::new();
        destination(d, &mut |k, v| {
            m.insert(k.to_string(), v);
        });
        m
    }

    #[test]
    fn destinations() {
        assert_eq!(fields("198.51.100.1")["destination.ip"], "198.51.100.1");
        let m = fields("[2001:db8::1]:443");
        assert_eq!(m["destination.ip"], "2001:db8::1");
        assert_eq!(m["destination.port"], 443);
        let m = fields("c2.example:8080");
        assert_eq!(m["destination.fqdn"], "c2.example");
        assert_eq!(m["destination.port"], 8080);
        assert_eq!(fields("C2.Example")["destination.fqdn"], "c2.example");
        assert_eq!(fields("c2 .example")["extra.destination"], "c2 .example");
        assert_eq!(fields("a\r\nb")["extra.destination"], "a\r\nb");
        assert_eq!(fields("x.example.")["extra.destination"], "x.example.");
    }
}
