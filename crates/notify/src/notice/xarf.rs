//! X-ARF v4 reports, one per row.
//!
//! Category and type: `infrastructure` / `botnet`. X-ARF v4 offers two
//! candidates for a machine seen calling a sinkhole. `connection` /
//! `infected_host` is, despite its name, modelled on bots seen by web
//! servers: it requires `bot_type` and `protocol`, and its fields
//! (`user_agent`, `respects_robots_txt`, `behavior_pattern`,
//! `request_rate`) describe crawlers. `infrastructure` / `botnet` is
//! "Botnet infections and compromised systems requiring remediation",
//! and its fields are what a sinkhole knows: `malware_family`,
//! `c2_server` (the sinkholed server the machine called), `c2_protocol`
//! and the required `compromise_evidence` (here: the connections to the
//! sinkhole). The schema's own botnet sample is a CERT reporting a
//! machine talking to a Conficker C2 channel, which is this case.

use super::group::cut;
use super::{Notice, Row, csv, iso_time};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The X-ARF version written (the schema release the tests validate
/// against).
pub(crate) const VERSION: &str = "4.2.0";

/// X-ARF's limit on `malware_family`, `reporter.org` (characters).
const MAX_NAME: usize = 200;
/// X-ARF's limit on `description`.
const MAX_DESCRIPTION: usize = 1000;

/// Who reports.
pub(crate) struct Reporter<'a> {
    pub org: &'a str,
    pub contact: &'a str,
    pub domain: &'a str,
}

/// The report of one row of a notice.
pub(crate) fn report(n: &Notice, row: &Row, by: &Reporter<'_>) -> Value {
    let first = iso_time(row.first, true);
    let last = iso_time(row.last, true);
    let family = chars(&row.family, MAX_NAME);
    let times = if row.count == 1 { "time" } else { "times" };
    let evidence = format!(
        "connected {} {times} to a sinkhole of the {family} botnet between {first} and {last}",
        row.count
    );
    let contact = json!({
        "org": chars(by.org, MAX_NAME),
        "contact": by.contact,
        "domain": by.domain,
    });
    let mut m = Map::new();
    m.insert("xarf_version".into(), VERSION.into());
    m.insert("report_id".into(), report_id(&n.id, row).into());
    // "When the abuse incident occurred": the first sighting.
    m.insert("timestamp".into(), first.clone().into());
    m.insert("reporter".into(), contact.clone());
    m.insert("sender".into(), contact);
    m.insert("source_identifier".into(), row.ip.to_string().into());
    if let Some(p) = row.port.filter(|&p| p > 0) {
        m.insert("source_port".into(), p.into());
    }
    m.insert("category".into(), "infrastructure".into());
    m.insert("type".into(), "botnet".into());
    m.insert("evidence_source".into(), "traffic_analysis".into());
    if row.family != super::UNKNOWN_FAMILY {
        m.insert("malware_family".into(), family.clone().into());
        if let Some(tag) = tag(&row.family) {
            m.insert("tags".into(), json!([format!("malware:{tag}")]));
        }
    }
    if let Some(d) = &row.destination {
        m.insert("c2_server".into(), cut(d, 255).into());
    }
    let protocol = match row.report_type.as_str() {
        "sinkhole-http" => Some("http"),
        "sinkhole-dns" => Some("dns"),
        _ => None,
    };
    if let Some(p) = protocol {
        m.insert("c2_protocol".into(), p.into());
    }
    m.insert("compromise_evidence".into(), evidence.clone().into());
    // The evidence: the sinkhole's record of this machine, as the row of
    // events.csv (with its header), so that a recipient's tooling has the
    // data without the mail around it.
    let mut record = Vec::new();
    csv::header(&mut record);
    csv::row(&mut record, n, row);
    m.insert(
        "evidence".into(),
        json!([{
            "content_type": "text/csv",
            "description": "The sinkhole's record of this machine (its line of events.csv)",
            "payload": base64(&record),
            "hash": format!("sha256:{}", super::hex(&Sha256::digest(&record))),
            "size": record.len(),
        }]),
    );
    m.insert("first_seen".into(), first.into());
    m.insert("last_seen".into(), last.into());
    m.insert(
        "description".into(),
        chars(
            &format!("Infected machine: {evidence} (notice {}).", n.id),
            MAX_DESCRIPTION,
        )
        .into(),
    );
    Value::Object(m)
}

/// The report id: a UUID in version 4 form, derived rather than random
/// so that the same notice gives the same bytes: the first 16 bytes of
/// SHA-256 of `xarf\0<notice id>\0<row key digest>`, with the version
/// (4) and variant (RFC 4122) bits set as a random UUID has them.
pub(crate) fn report_id(notice: &str, row: &Row) -> String {
    let mut h = Sha256::new();
    h.update(b"xarf\0");
    h.update(notice.as_bytes());
    h.update([0]);
    h.update(row.digest());
    let d = h.finalize();
    let mut b = [0u8; 16];
    for (o, i) in b.iter_mut().zip(d.iter()) {
        *o = *i;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = super::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// A family as an X-ARF tag predicate (`[a-z0-9][a-z0-9_+-]*`): other
/// characters become `_`; `None` when nothing usable is left.
fn tag(family: &str) -> Option<String> {
    let t: String = family
        .chars()
        .take(64)
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '+' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    let t = t.trim_start_matches(['_', '+', '-']);
    (!t.is_empty()).then(|| t.to_string())
}

/// Standard base64 with padding (RFC 4648 section 4).
fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// At most `max` characters.
fn chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ids_are_uuid_v4_shaped() {
        let row = Row {
            ip: "192.0.2.1".parse().unwrap(),
            family: "mirai".into(),
            day: 1,
            first: 0,
            last: 0,
            count: 1,
            port: None,
            asn: None,
            country: None,
            destination: None,
            report_type: String::new(),
            rule: 0,
        };
        let a = report_id("00ff", &row);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_eq!(a, report_id("00ff", &row));
        assert_ne!(a, report_id("00fe", &row));
    }

    #[test]
    fn base64_is_rfc_4648() {
        // RFC 4648 section 10's test vectors.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn tags() {
        assert_eq!(tag("mirai").as_deref(), Some("mirai"));
        assert_eq!(tag("Zeus.P2P v2").as_deref(), Some("zeus_p2p_v2"));
        assert_eq!(tag("--x").as_deref(), Some("x"));
        assert_eq!(tag("日本"), None);
    }
}
