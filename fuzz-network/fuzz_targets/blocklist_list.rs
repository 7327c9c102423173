//! Hostile indicator sources and allow lists, decided into a plan and
//! written in every format: rejected input is fine, a panic is not, and
//! every line of every output must have the shape its reader expects (no
//! name, comment, label or family can smuggle a newline, a quote, a `;`,
//! a tab or an RPZ trigger into a zone, a config, a rule or an Intel
//! file).
//!
//! The first byte chooses the mode and the options; the rest is:
//!
//! * modes 0 and 1: an allow list, a NUL, a plain indicator list (Loki
//!   lines, hosts lines, addresses, URLs);
//! * mode 2: raw bytes given to the STIX/MISP JSON reader;
//! * mode 3: NUL-separated strings placed into a valid STIX bundle and a
//!   MISP event (domain values, indicator name, malware family, MISP
//!   comment, galaxy and event info), so that hostile text reaches the
//!   Suricata `msg` and the Zeek `meta.desc` without the fuzzer having to
//!   find valid JSON first.
//!
//! Option bits: 2-3 the sinkhole (none, IPv4, IPv6), 4 accept
//! collisions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use takedown_blocklist::Builder;
use takedown_blocklist::allow::AllowList;
use takedown_blocklist::format::{self, Format, FormatOptions};
use takedown_blocklist::plan::Plan;

const FORMATS: [Format; 7] = [
    Format::Rpz,
    Format::Unbound,
    Format::Dnsmasq,
    Format::Hosts,
    Format::Suricata,
    Format::SuricataDataset,
    Format::ZeekIntel,
];

const ZONE: &str = "rpz.fuzz";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let sinkhole = match (mode >> 2) & 3 {
        1 => Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53))),
        2 => Some(IpAddr::V6(Ipv6Addr::new(
            0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53,
        ))),
        _ => None,
    };
    let accept = mode & 0x10 != 0;
    let now = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    let mut allow = AllowList::new();
    let mut b = Builder::new();
    match mode & 3 {
        0 | 1 => {
            let (allow_bytes, list_bytes) = match rest.iter().position(|b| *b == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (&[][..], rest),
            };
            let _ = allow.read(allow_bytes, "allow", &mut |_| {});
            let _ = b.read_list(list_bytes, "dir/list\t\"x\";.txt", &mut |_| {});
        }
        2 => {
            let _ = b.read_json(rest, "raw.json", now, &mut |_| {});
        }
        _ => {
            let (stix, misp) = structured(rest);
            let _ = b.read_json(stix.as_bytes(), "stix\\x0a.json", now, &mut |_| {});
            let _ = b.read_json(misp.as_bytes(), "misp;\".json", now, &mut |_| {});
        }
    }
    let plan = b.finish(&allow, accept);
    let opts = FormatOptions {
        zone: ZONE.into(),
        serial: 1,
        sinkhole,
        sid_base: 1_000_000,
        dataset: "fuzz".into(),
    };
    for f in FORMATS {
        let mut out = Vec::new();
        if format::write(&plan, f, &opts, &mut out).is_err() {
            continue;
        }
        let text = std::str::from_utf8(&out).expect("output is UTF-8");
        if let Err(e) = check(f, text, &plan, sinkhole.is_some()) {
            panic!("{f:?}: {e}\n{text}");
        }
    }
});

/// The strings of mode 3 in a STIX bundle and a MISP event.
fn structured(bytes: &[u8]) -> (String, String) {
    let mut parts = bytes
        .split(|b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut next = || parts.next().unwrap_or_default();
    let (domain, name, family, comment, galaxy, info, domain2) =
        (next(), next(), next(), next(), next(), next(), next());
    // A STIX pattern's string literal escapes `\` and `'`.
    let lit = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    let stix = serde_json::json!({
        "type": "bundle", "id": "bundle--2f0d1c52-8c2a-4ad4-9a4b-3a3c3b0e7f10",
        "objects": [
            {
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--11111111-2222-4222-8222-222222222222",
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "name": name, "description": comment, "pattern_type": "stix",
                "pattern": format!("[domain-name:value = '{}']", lit(&domain)),
                "valid_from": "2026-01-01T00:00:00Z"
            },
            {
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--33333333-2222-4222-8222-222222222222",
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "pattern_type": "stix",
                "pattern": format!("[url:value = 'http://{}/{}']", lit(&domain2), lit(&comment)),
                "valid_from": "2026-01-01T00:00:00Z"
            },
            {
                "type": "malware", "spec_version": "2.1",
                "id": "malware--44444444-2222-4222-8222-222222222222",
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "name": family, "is_family": true
            },
            {
                "type": "relationship", "spec_version": "2.1",
                "id": "relationship--55555555-2222-4222-8222-222222222222",
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "relationship_type": "indicates",
                "source_ref": "indicator--11111111-2222-4222-8222-222222222222",
                "target_ref": "malware--44444444-2222-4222-8222-222222222222"
            }
        ]
    });
    let misp = serde_json::json!({"Event": {
        "uuid": "5b7c1c52-8c2a-4ad4-9a4b-3a3c3b0e7f10", "info": info, "threat_level_id": "1",
        "Tag": [{"name": format!("misp-galaxy:malpedia=\"{galaxy}\"")}],
        "Attribute": [
            {"uuid": "6b7c1c52-8c2a-4ad4-9a4b-3a3c3b0e7f11", "type": "domain",
             "value": domain2, "to_ids": true, "comment": comment},
            {"uuid": "6b7c1c52-8c2a-4ad4-9a4b-3a3c3b0e7f12", "type": "hostname",
             "value": domain, "to_ids": true}
        ]
    }});
    (stix.to_string(), misp.to_string())
}

/// A normalised name as every format writes it: labels of `[a-z0-9_-]`,
/// none empty, none an RPZ reserved label.
fn name_ok(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err(format!("name length {}: '{s}'", s.len()));
    }
    for l in s.split('.') {
        if l.is_empty()
            || !l
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(format!("bad label '{l}' in '{s}'"));
        }
        if l.starts_with("rpz-") {
            return Err(format!("reserved label '{l}' in '{s}'"));
        }
    }
    Ok(())
}

fn ip_ok(s: &str) -> Result<IpAddr, String> {
    s.parse::<IpAddr>()
        .map_err(|_| format!("not an address: '{s}'"))
}

/// An address or `address/prefix`.
fn cidr_ok(s: &str) -> Result<(), String> {
    let (a, p) = s.split_once('/').unwrap_or((s, "32"));
    let a = ip_ok(a)?;
    let max = if a.is_ipv4() { 32 } else { 128 };
    match p.parse::<u8>() {
        Ok(p) if p <= max => Ok(()),
        _ => Err(format!("bad prefix in '{s}'")),
    }
}

fn check(f: Format, text: &str, plan: &Plan, sinkhole: bool) -> Result<(), String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(format!("control character U+{:04X}", c as u32));
    }
    if f != Format::ZeekIntel && text.contains('\t') {
        return Err("a tab".into());
    }
    match f {
        Format::Rpz => check_rpz(text, plan, sinkhole),
        Format::Unbound => check_unbound(text),
        Format::Dnsmasq => check_dnsmasq(text),
        Format::Hosts => check_hosts(text),
        Format::Suricata => check_suricata(text),
        Format::SuricataDataset => check_dataset(text),
        Format::ZeekIntel => check_zeek(text, plan),
    }
}

fn check_rpz(text: &str, plan: &Plan, sinkhole: bool) -> Result<(), String> {
    // The only `rpz-ip` owners allowed: those of the plan's addresses.
    let ip_owners: HashSet<String> = plan
        .ips
        .iter()
        .map(|ip| format::rpz_ip(ip.addr, ip.prefix))
        .collect();
    for line in text.lines() {
        if line.starts_with(';') {
            continue;
        }
        if let Some(z) = line.strip_prefix("$ORIGIN ") {
            if z != format!("{ZONE}.") {
                return Err(format!("origin: {line}"));
            }
            continue;
        }
        if let Some(t) = line.strip_prefix("$TTL ") {
            t.parse::<u32>().map_err(|_| format!("TTL: {line}"))?;
            continue;
        }
        if line.starts_with("@ SOA localhost. hostmaster.localhost. ") || line == "@ NS localhost."
        {
            continue;
        }
        // `owner [ttl] [class] type rdata`.
        let mut t: Vec<&str> = line.split(' ').collect();
        if t.len() < 3 || t.iter().any(|x| x.is_empty()) {
            return Err(format!("record shape: {line}"));
        }
        let owner = t.remove(0);
        if t[0].bytes().all(|b| b.is_ascii_digit()) {
            t.remove(0);
        }
        if t[0] == "IN" {
            t.remove(0);
        }
        let (typ, rdata) = match t.as_slice() {
            [typ, rdata] => (*typ, *rdata),
            _ => return Err(format!("record shape: {line}")),
        };
        if !owner
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.*".contains(&b))
        {
            return Err(format!("owner characters: {line}"));
        }
        if owner.ends_with('.') {
            return Err(format!("absolute owner: {line}"));
        }
        if owner.ends_with(".rpz-ip") {
            if !ip_owners.contains(owner) {
                return Err(format!("rpz-ip owner not from an address: {line}"));
            }
        } else {
            let name = owner.strip_prefix("*.").unwrap_or(owner);
            if name.contains('*') {
                return Err(format!("wildcard inside the owner: {line}"));
            }
            name_ok(name)?;
        }
        match typ {
            "CNAME" if rdata == "." || rdata == "rpz-passthru." => {}
            "A" | "AAAA" => {
                let a = ip_ok(rdata)?;
                if !sinkhole || a.is_ipv4() != (typ == "A") {
                    return Err(format!("address record: {line}"));
                }
                // BIND's check-names refuses `_` in an address record's
                // owner, and the whole zone with it.
                if owner.contains('_') {
                    return Err(format!("'_' in an address owner: {line}"));
                }
            }
            _ => return Err(format!("type or rdata: {line}")),
        }
    }
    Ok(())
}

/// The text between the quotes of `rest` (which starts with one), and
/// what follows the closing quote; no other quote allowed.
fn quoted(rest: &str) -> Result<(&str, &str), String> {
    let r = rest
        .strip_prefix('"')
        .ok_or_else(|| format!("no opening quote: {rest}"))?;
    let end = r
        .find('"')
        .ok_or_else(|| format!("no closing quote: {rest}"))?;
    Ok((&r[..end], &r[end + 1..]))
}

fn check_unbound(text: &str) -> Result<(), String> {
    for line in text.lines() {
        if line.starts_with('#') || line == "server:" {
            continue;
        }
        if let Some(r) = line.strip_prefix("    local-zone: ") {
            let (name, after) = quoted(r)?;
            let name = name
                .strip_suffix('.')
                .ok_or_else(|| format!("not absolute: {line}"))?;
            name_ok(name)?;
            if !matches!(
                after,
                " always_nxdomain" | " redirect" | " always_transparent"
            ) {
                return Err(format!("zone type: {line}"));
            }
        } else if let Some(r) = line.strip_prefix("    local-data: ") {
            let (rr, after) = quoted(r)?;
            if !after.is_empty() {
                return Err(format!("after the quote: {line}"));
            }
            match rr.split(' ').collect::<Vec<_>>().as_slice() {
                [owner, typ, addr] => {
                    name_ok(
                        owner
                            .strip_suffix('.')
                            .ok_or_else(|| format!("not absolute: {line}"))?,
                    )?;
                    let a = ip_ok(addr)?;
                    if (*typ == "A") != a.is_ipv4() || !matches!(*typ, "A" | "AAAA") {
                        return Err(format!("type: {line}"));
                    }
                }
                _ => return Err(format!("local-data shape: {line}")),
            }
        } else {
            return Err(format!("unknown line: {line}"));
        }
    }
    Ok(())
}

fn check_dnsmasq(text: &str) -> Result<(), String> {
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(r) = line.strip_prefix("address=/") {
            let (name, target) = r
                .split_once('/')
                .ok_or_else(|| format!("address shape: {line}"))?;
            name_ok(name)?;
            if !target.is_empty() {
                ip_ok(target)?;
            }
        } else if let Some(r) = line.strip_prefix("server=/") {
            let name = r
                .strip_suffix("/#")
                .ok_or_else(|| format!("server shape: {line}"))?;
            name_ok(name)?;
        } else if let Some(r) = line.strip_prefix("bogus-nxdomain=") {
            cidr_ok(r)?;
            if !r.split('/').next().unwrap_or_default().contains('.') {
                return Err(format!("bogus-nxdomain takes IPv4: {line}"));
            }
        } else {
            return Err(format!("unknown line: {line}"));
        }
    }
    Ok(())
}

fn check_hosts(text: &str) -> Result<(), String> {
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        match line.split(' ').collect::<Vec<_>>().as_slice() {
            [addr, name] => {
                ip_ok(addr)?;
                name_ok(name)?;
            }
            _ => return Err(format!("hosts shape: {line}")),
        }
    }
    Ok(())
}

/// Suricata's rule syntax as its parser splits it: header, then
/// `key[:value];` options whose quoted values hold no `"`, `;` or `\`.
fn check_suricata(text: &str) -> Result<(), String> {
    let mut sids = HashSet::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let (header, opts) = line
            .split_once(" (")
            .ok_or_else(|| format!("no options: {line}"))?;
        let h: Vec<&str> = header.split(' ').collect();
        let ok_header = h.len() == 7
            && matches!(h[0], "alert" | "pass")
            && matches!(h[1], "dns" | "ip")
            && h[2] == "any"
            && h[3] == "any"
            && h[4] == "->"
            && h[6] == "any";
        if !ok_header {
            return Err(format!("header: {line}"));
        }
        if h[5] != "any" {
            let list = h[5]
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .ok_or_else(|| format!("address list: {line}"))?;
            for a in list.split(',') {
                cidr_ok(a)?;
            }
        }
        let mut rest = opts
            .strip_suffix(')')
            .ok_or_else(|| format!("no closing parenthesis: {line}"))?;
        let mut sid = None;
        while !rest.is_empty() {
            let key_end = rest
                .find([':', ';'])
                .ok_or_else(|| format!("option without ';': {line}"))?;
            let key = &rest[..key_end];
            if !matches!(
                key,
                "msg"
                    | "dns.query"
                    | "dotprefix"
                    | "content"
                    | "nocase"
                    | "endswith"
                    | "classtype"
                    | "metadata"
                    | "sid"
                    | "rev"
            ) {
                return Err(format!("option '{key}': {line}"));
            }
            let after = if rest.as_bytes()[key_end] == b';' {
                &rest[key_end + 1..]
            } else {
                let v = &rest[key_end + 1..];
                let (value, after) = if v.starts_with('"') {
                    let (q, after) = quoted(v)?;
                    if q.contains([';', '\\']) {
                        return Err(format!("';' or '\\' in a quoted value: {line}"));
                    }
                    if key == "content" {
                        name_ok(
                            q.strip_prefix('.')
                                .ok_or_else(|| format!("content: {line}"))?,
                        )?;
                    }
                    (q, after)
                } else {
                    let end = v
                        .find(';')
                        .ok_or_else(|| format!("option without ';': {line}"))?;
                    if v[..end].contains('"') {
                        return Err(format!("stray quote: {line}"));
                    }
                    (&v[..end], &v[end..])
                };
                if key == "sid" {
                    sid = Some(value.parse::<u32>().map_err(|_| format!("sid: {line}"))?);
                }
                if key == "metadata"
                    && !value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b" _-.,".contains(&b))
                {
                    return Err(format!("metadata: {line}"));
                }
                after
                    .strip_prefix(';')
                    .ok_or_else(|| format!("no ';' after a value: {line}"))?
            };
            rest = after.strip_prefix(' ').unwrap_or(after);
        }
        let sid = sid.ok_or_else(|| format!("no sid: {line}"))?;
        if !sids.insert(sid) {
            return Err(format!("duplicate sid {sid}"));
        }
    }
    Ok(())
}

fn check_dataset(text: &str) -> Result<(), String> {
    for line in text.lines() {
        let d = base64_decode(line).ok_or_else(|| format!("not base64: '{line}'"))?;
        name_ok(std::str::from_utf8(&d).map_err(|_| format!("not UTF-8: {line}"))?)?;
    }
    Ok(())
}

/// Strict standard base64 (padded, no white space), as Suricata's
/// dataset loader reads it; written here because the fuzz package has no
/// base64 dependency, and a second decoder checks the writer's encoder
/// independently.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (i, q) in b.chunks(4).enumerate() {
        let last = i == b.len() / 4 - 1;
        let pad = q.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

fn check_zeek(text: &str, plan: &Plan) -> Result<(), String> {
    let urls: HashSet<String> = plan
        .urls
        .iter()
        .map(|u| {
            let v = u.url.split_once("://").map_or(&u.url[..], |(_, r)| r);
            let mut v = v.replace('\\', "\\x5c");
            if v.starts_with('#') {
                v.replace_range(..1, "\\x23");
            }
            v
        })
        .collect();
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Err("no header".into());
    };
    let fields = header
        .strip_prefix("#fields\t")
        .ok_or_else(|| format!("header: {header}"))?
        .split('\t')
        .count();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != fields {
            return Err(format!("{} fields, not {fields}: {line}", f.len()));
        }
        if f.iter()
            .any(|x| x.is_empty() || *x == "-" || *x == "(empty)")
        {
            return Err(format!("empty or unset field: {line}"));
        }
        if f[0].starts_with('#') {
            return Err(format!("a data line read as a comment: {line}"));
        }
        // Zeek decodes `\xHH`: the backslashes written are `\x5c`, and
        // `\x23` for a URL's leading `#`.
        let escapes = line.matches("\\x5c").count() + usize::from(line.starts_with("\\x23"));
        if line.matches('\\').count() != escapes {
            return Err(format!("unescaped backslash: {line}"));
        }
        match f[1] {
            "Intel::DOMAIN" => name_ok(f[0])?,
            "Intel::ADDR" => {
                ip_ok(f[0])?;
            }
            "Intel::SUBNET" => cidr_ok(f[0])?,
            "Intel::URL" => {
                // The plan's URL without its scheme, `\` escaped.
                if !urls.contains(f[0]) {
                    return Err(format!("URL not of the plan: {line}"));
                }
            }
            t => return Err(format!("indicator type '{t}': {line}")),
        }
    }
    Ok(())
}
