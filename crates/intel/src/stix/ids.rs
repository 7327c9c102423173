//! Deterministic STIX 2.1 identifiers, so that exporting the same findings
//! twice gives the same ids and partners update objects instead of
//! piling up duplicates.
//!
//! * Cyber-observables (SCOs: `file`, `domain-name`, ...) get the UUIDv5
//!   of STIX 2.1 section 2.9, computed exactly as the reference `stix2`
//!   library computes it: namespace [`SCO_NAMESPACE`], name = the RFC 8785
//!   (JCS) canonical JSON of the object's ID-contributing properties, with
//!   `hashes` reduced to a single hash ([`choose_one_hash`]). Two producers
//!   who see the same file thus name it with the same id.
//! * Domain, relationship and meta objects (SDOs/SROs: `indicator`,
//!   `sighting`, `identity`, ..., and the bundle) must carry UUIDv4 ids
//!   (`stix2-validator --strict` rejects any other version), which are
//!   meant to be random. [`sdo_id`] derives the 122 free bits from a
//!   SHA-256 of the object type and a caller-chosen key instead, so the id
//!   is a well-formed UUIDv4 and yet stable.

use crate::model::Kind;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use uuid::Uuid;

/// The namespace of STIX 2.1 deterministic SCO ids (section 2.9).
pub const SCO_NAMESPACE: Uuid = uuid::uuid!("00abedb4-aa42-466c-9c01-fed23315a9b7");

/// Domain separation for [`sdo_id`]: another program hashing the same type
/// and key for its own ids must not collide with ours by construction.
const SDO_ID_DOMAIN: &[u8] = b"takedown STIX 2.1 object id v1";

/// The id of a STIX domain, relationship or meta object (or bundle) of
/// `type_`, derived from `key`: `type_--<uuid>` where the UUID is version
/// 4 (RFC 4122 variant) and its other 122 bits are the first bits of
/// SHA-256(domain tag, 0, type, 0, key). Same type and key, same id.
///
/// The key should be built from the stable fields that make the object
/// what it is (an indicator: the SHA-256 it detects; a sighting: what is
/// sighted), never from times or counts, so that a later export updates
/// the object rather than adding a new one.
pub fn sdo_id(type_: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(SDO_ID_DOMAIN);
    h.update([0]);
    h.update(type_.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // from_random_bytes sets the version (4) and variant (RFC 4122) bits.
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    format!("{type_}--{uuid}")
}

/// The one hash `stix2` puts in the canonical JSON of an SCO's `hashes`:
/// `MD5` if present, else `SHA-1`, else `SHA-256`, else `SHA-512`, else
/// the first entry in the map's iteration order (serde_json's map is
/// sorted by key unless its `preserve_order` feature is on, in which case
/// it is insertion order, as Python's dict). `None` for an empty map.
///
/// This preference order is the library's (`stix2.base._choose_one_hash`),
/// weaker hashes first; the specification only says "one hash", and
/// interoperable ids require doing what the reference library does.
pub fn choose_one_hash(hashes: &Map<String, Value>) -> Option<(&str, &Value)> {
    for k in ["MD5", "SHA-1", "SHA-256", "SHA-512"] {
        if let Some((k, v)) = hashes.get_key_value(k) {
            return Some((k.as_str(), v));
        }
    }
    hashes.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// The ID-contributing properties of the SCO types whose ids we compute
/// (STIX 2.1 section 6, as listed by the `stix2` library); `None` for
/// another type.
pub fn id_contributing_properties(type_: &str) -> Option<&'static [&'static str]> {
    Some(match type_ {
        "file" => &["hashes", "name", "parent_directory_ref", "extensions"],
        "domain-name" | "ipv4-addr" | "ipv6-addr" | "url" | "email-addr" | "mac-addr" => &["value"],
        "artifact" => &["hashes", "payload_bin"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "mutex" => &["name"],
        _ => return None,
    })
}

/// The deterministic id of an SCO of `type_` whose ID-contributing
/// properties are `contributing` (only those: pass `hashes`, `name`, ...
/// as the object would carry them; a `hashes` map is reduced to one hash
/// by [`choose_one_hash`], as `stix2` does).
///
/// With no contributing property (or an empty `hashes`), STIX 2.1 says an
/// SCO gets a UUIDv4; we give it the stable [`sdo_id`] of the type and an
/// empty key.
pub fn sco_id(type_: &str, contributing: &Map<String, Value>) -> String {
    let mut reduced = Map::new();
    for (k, v) in contributing {
        if k == "hashes" {
            let one = v.as_object().and_then(choose_one_hash);
            if let Some((hk, hv)) = one {
                let mut m = Map::new();
                m.insert(hk.to_string(), hv.clone());
                reduced.insert(k.clone(), Value::Object(m));
            }
        } else {
            reduced.insert(k.clone(), v.clone());
        }
    }
    if reduced.is_empty() {
        return sdo_id(type_, "");
    }
    let canonical = jcs(&Value::Object(reduced));
    let uuid = Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes());
    format!("{type_}--{uuid}")
}

/// The deterministic id of the `file` SCO with these hashes (lowercase hex
/// as they will appear in the object) and name; what
/// `stix2.File(hashes={...}, name=...).id` gives.
pub fn file_id(
    sha256: Option<&str>,
    md5: Option<&str>,
    sha1: Option<&str>,
    name: Option<&str>,
) -> String {
    // Only one hash contributes (see choose_one_hash), so building the
    // full map first would be wasted work.
    let hash = md5
        .map(|h| ("MD5", h))
        .or(sha1.map(|h| ("SHA-1", h)))
        .or(sha256.map(|h| ("SHA-256", h)));
    let mut m = Map::new();
    if let Some((k, v)) = hash {
        let mut hashes = Map::new();
        hashes.insert(k.to_string(), Value::String(v.to_string()));
        m.insert("hashes".into(), Value::Object(hashes));
    }
    if let Some(n) = name {
        m.insert("name".into(), Value::String(n.to_string()));
    }
    sco_id("file", &m)
}

/// The deterministic id of an SCO whose only ID-contributing property is
/// `value` (`domain-name`, `ipv4-addr`, `ipv6-addr`, `url`, `email-addr`,
/// `mac-addr`).
pub fn value_sco_id(type_: &str, value: &str) -> String {
    let mut m = Map::new();
    m.insert("value".into(), Value::String(value.to_string()));
    sco_id(type_, &m)
}

/// The SCO type and id for a network-side indicator value of `kind`
/// (`domain-name`, `ipv4-addr`, `ipv6-addr`, `url`, `email-addr`); `None`
/// for the file-side kinds, which are `file` objects ([`file_id`]).
pub fn network_sco_id(kind: Kind, value: &str) -> Option<(&'static str, String)> {
    let t = match kind {
        Kind::Domain => "domain-name",
        Kind::Ipv4 => "ipv4-addr",
        Kind::Ipv6 => "ipv6-addr",
        Kind::Url => "url",
        Kind::Email => "email-addr",
        _ => return None,
    };
    Some((t, value_sco_id(t, value)))
}

/// The RFC 8785 (JSON Canonicalization Scheme) text of `value`: no white
/// space, object members sorted by the UTF-16 code units of their names,
/// strings escaped minimally (section 3.2.2.2), numbers printed as
/// ECMAScript's `Number.prototype.toString` prints the IEEE 754 double
/// they denote (integers beyond 2^53 lose precision, as in JavaScript and
/// in `stix2`'s canonicalizer).
pub fn jcs(value: &Value) -> String {
    let mut out = String::new();
    write_jcs(value, &mut out);
    out
}

fn write_jcs(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            // serde_json numbers are always finite; as_f64 is None only
            // with arbitrary_precision for values outside f64, which JSON
            // consumers see as infinite: print what JavaScript would fail
            // on as null rather than panic.
            match n.as_f64() {
                Some(f) if f.is_finite() => write_es_number(f, out),
                _ => out.push_str("null"),
            }
        }
        Value::String(s) => write_jcs_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs(v, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            // UTF-16 code unit order, not UTF-8 byte (code point) order:
            // they differ for characters above U+FFFF against U+E000..FFFF.
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs_string(k, out);
                out.push(':');
                write_jcs(v, out);
            }
            out.push('}');
        }
    }
}

/// RFC 8785 section 3.2.2.2: `"` and `\` escaped with a backslash, the
/// controls with a short form (`\b \t \n \f \r`) escaped so, the other
/// controls below U+0020 as `\u00xx` (lowercase hex), everything else
/// (including U+007F and non-ASCII) as itself.
fn write_jcs_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// ECMAScript Number::toString(x) for a finite double (ECMA-262,
/// section 7.1.12.1 / 6.1.6.1.20), which RFC 8785 mandates.
fn write_es_number(x: f64, out: &mut String) {
    if x == 0.0 {
        // Also -0, which ECMAScript prints as "0".
        out.push('0');
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` prints the shortest digit string that reads back as
    // the same double, which is the `k` digits `s` of the ECMAScript
    // algorithm; the exponent gives `n`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exp + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        let (a, b) = digits.split_at(n as usize);
        out.push_str(a);
        out.push('.');
        out.push_str(b);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(x: f64) -> String {
        let mut s = String::new();
        write_es_number(x, &mut s);
        s
    }

    #[test]
    fn numbers_print_as_ecmascript() {
        // RFC 8785 appendix B and section 3.2.2.3 examples.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (5e-324, "5e-324"),
            (-5e-324, "-5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-1.7976931348623157e308, "-1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (-9007199254740992.0, "-9007199254740992"),
            (295147905179352830000.0, "295147905179352830000"),
            (1e21, "1e+21"),
            (9.999999999999997e22, "9.999999999999997e+22"),
            (1e23, "1e+23"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (333333333.3333333, "333333333.3333333"),
            (1e30, "1e+30"),
            (4.5, "4.5"),
            (0.002, "0.002"),
            (1e-27, "1e-27"),
            (100.0, "100"),
            (-1.5, "-1.5"),
            (123456789012345680000.0, "123456789012345680000"),
        ];
        for (x, want) in cases {
            assert_eq!(num(*x), *want, "{x:e}");
        }
    }

    #[test]
    fn rfc8785_example_object() {
        // Section 3.2.2 input, built from exact values (serde_json's
        // default float parser is not guaranteed to be correctly rounded).
        let mut m = Map::new();
        m.insert(
            "numbers".into(),
            json!([333333333.3333333f64, 1e30f64, 4.5f64, 2e-3f64, 1e-27f64]),
        );
        m.insert(
            "string".into(),
            Value::String("\u{20ac}$\u{000F}\nA'B\"\\\\\"/".into()),
        );
        m.insert("literals".into(), json!([null, true, false]));
        assert_eq!(
            jcs(&Value::Object(m)),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // RFC 8785 section 3.2.3: U+1F600 (a surrogate pair, D83D) sorts
        // before U+FB33 in UTF-16, after it in code points.
        let mut m = Map::new();
        for (k, v) in [
            ("\u{20ac}", "Euro Sign"),
            ("\r", "Carriage Return"),
            ("\u{fb33}", "Hebrew Letter Dalet With Dagesh"),
            ("1", "One"),
            ("\u{1f600}", "Emoji: Grinning Face"),
            ("\u{80}", "Control"),
            ("\u{f6}", "Latin Small Letter O With Diaeresis"),
        ] {
            m.insert(k.into(), Value::String(v.into()));
        }
        let s = jcs(&Value::Object(m));
        let order: Vec<&str> = [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small",
            "Euro Sign",
            "Emoji",
            "Hebrew",
        ]
        .to_vec();
        let pos: Vec<usize> = order.iter().map(|w| s.find(w).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{s}");
        assert!(s.starts_with("{\"\\r\":"), "{s}");
    }

    #[test]
    fn controls_escape_minimally() {
        assert_eq!(
            jcs(&json!("\u{0}\u{1f}\u{7f}\u{8}\u{c}\t\u{2028}")),
            "\"\\u0000\\u001f\u{7f}\\b\\f\\t\u{2028}\""
        );
    }

    #[test]
    fn sdo_ids_are_stable_uuid_v4() {
        let a = sdo_id("indicator", "abc");
        assert_eq!(a, sdo_id("indicator", "abc"));
        assert_ne!(a, sdo_id("indicator", "abd"));
        assert_ne!(
            a.split_once("--").unwrap().1,
            sdo_id("sighting", "abc").split_once("--").unwrap().1
        );
        let u = Uuid::parse_str(a.strip_prefix("indicator--").unwrap()).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn one_hash_by_stix2_preference() {
        let mut h = Map::new();
        h.insert("SHA-256".into(), json!("b"));
        h.insert("SHA-1".into(), json!("c"));
        assert_eq!(choose_one_hash(&h).unwrap().0, "SHA-1");
        h.insert("MD5".into(), json!("a"));
        assert_eq!(choose_one_hash(&h).unwrap().0, "MD5");
        assert!(choose_one_hash(&Map::new()).is_none());
        // sco_id reduces the map itself, so the full hashes give the same
        // id as the MD5 alone.
        let mut full = Map::new();
        full.insert("hashes".into(), Value::Object(h));
        assert_eq!(
            sco_id("file", &full),
            file_id(Some("b"), Some("a"), None, None)
        );
    }

    #[test]
    fn network_ids_use_value() {
        let (t, id) = network_sco_id(Kind::Domain, "evil.example").unwrap();
        assert_eq!(t, "domain-name");
        assert_eq!(id, value_sco_id("domain-name", "evil.example"));
        assert!(id.starts_with("domain-name--"));
        let u = Uuid::parse_str(id.split_once("--").unwrap().1).unwrap();
        assert_eq!(u.get_version_num(), 5);
        assert!(network_sco_id(Kind::Sha256, "x").is_none());
    }
}
