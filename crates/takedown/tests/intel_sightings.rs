//! Sightings of `takedown hunt` through `takedown intel export`: a hunt's
//! NDJSON (sighting lines, then its hunt-summary), made here from
//! `SightingRecord` values, exported as STIX 2.1, a MISP event, a MISP
//! feed and HTML, and read back by the reference tools (stix2-validator,
//! stix2, PyMISP; `.ci/run` installs them into `.venv`). Also a file that
//! mixes a scan's findings with a hunt's sightings.

mod util;

use serde_json::{Value, json};
use takedown_intel::records::{SightedDga, SightedIndicator, SightingRecord, SightingSample};
use util::*;

/// A partner's STIX indicator the hunt matched (from their bundle).
const PARTNER: &str = "indicator--0f1e2d3c-4b5a-4697-8887-766554433221";
/// A client field that would be markup if the report did not escape it.
const HOSTILE_CLIENT: &str = "<script>alert(1)</script>";
/// A URL with the two characters a STIX pattern string must escape.
const URL: &str = "http://dl.example.net/get.php?id='7'&x=\\y";

fn indicator(kind: &str, value: &str) -> SightedIndicator {
    SightedIndicator {
        kind: kind.into(),
        value: value.into(),
        source: "/etc/takedown/partner-list.txt".into(),
        ..Default::default()
    }
}

fn record(
    client: Option<&str>,
    indicator: SightedIndicator,
    matched: &[&str],
    count: u64,
    first: &str,
    last: &str,
) -> SightingRecord {
    SightingRecord {
        client: client.map(str::to_string),
        indicator,
        dga: None,
        matched: matched.iter().map(|m| m.to_string()).collect(),
        matched_count: matched.len() as u64,
        first_seen: Some(first.into()),
        last_seen: Some(last.into()),
        count,
        kinds: vec!["dns".into()],
        samples: vec![SightingSample {
            file: "/var/log/named/query.log".into(),
            line: 17,
            kind: "dns".into(),
            value: matched.first().unwrap_or(&"").to_string(),
        }],
    }
}

/// A domain (with a family and label), a CIDR block, a URL, a DGA group,
/// a sighting without a client, a partner's STIX indicator, and a client
/// field that is markup.
fn sightings() -> Vec<SightingRecord> {
    let mut evil = indicator("domain", "evil.example");
    evil.family = Some("Nymaim".into());
    evil.label = Some("Nymaim C2".into());
    evil.line = Some(3);
    let mut dga = record(
        Some("192.0.2.11"),
        SightedIndicator {
            kind: "dga".into(),
            value: "nymaim".into(),
            family: Some("Nymaim".into()),
            ..Default::default()
        },
        &["plmokn.net", "qxzvbn.com"],
        45,
        "2026-11-30T00:00:00Z",
        "2026-12-03T00:00:00Z",
    );
    dga.matched_count = 45;
    dga.dga = Some(SightedDga {
        family: "Nymaim".into(),
        variant: String::new(),
        seed: String::new(),
        first_date: Some("2026-11-30".into()),
        last_date: Some("2026-12-03".into()),
    });
    let mut partner = indicator("domain", "partner-c2.example");
    partner.object_id = Some(PARTNER.into());
    partner.source = "/etc/takedown/cert-xy.json".into();
    vec![
        record(
            Some("192.0.2.10"),
            evil.clone(),
            &["a.evil.example", "evil.example"],
            5,
            "2026-12-01T08:00:00Z",
            "2026-12-01T09:00:00Z",
        ),
        record(
            Some("2001:db8::7"),
            indicator("ipv4", "198.51.100.0/24"),
            &["198.51.100.7"],
            2,
            "2026-12-01T10:00:00Z",
            "2026-12-01T10:05:00Z",
        ),
        record(
            Some("192.0.2.10"),
            indicator("url", URL),
            &[URL],
            1,
            "2026-12-02T10:00:00Z",
            "2026-12-02T10:00:00Z",
        ),
        dga,
        record(
            None,
            evil.clone(),
            &["evil.example"],
            3,
            "2026-12-01T07:00:00Z",
            "2026-12-01T07:30:00Z",
        ),
        record(
            Some("192.0.2.12"),
            partner,
            &["partner-c2.example"],
            4,
            "2026-12-01T12:00:00Z",
            "2026-12-01T13:00:00Z",
        ),
        record(
            Some(HOSTILE_CLIENT),
            evil,
            &["evil.example"],
            1,
            "2026-12-01T14:00:00Z",
            "2026-12-01T14:00:00Z",
        ),
    ]
}

/// One NDJSON line of a sighting, as `takedown hunt` prints it.
fn line(rec: &SightingRecord) -> String {
    let mut v = serde_json::to_value(rec).unwrap();
    let o = v.as_object_mut().unwrap();
    o.insert("type".into(), "sighting".into());
    o.insert("version".into(), 1.into());
    serde_json::to_string(&v).unwrap()
}

/// A hunt's NDJSON: its sightings, then its summary (with fields the
/// exports do not read).
fn hunt_ndjson(recs: &[SightingRecord]) -> String {
    let mut s: String = recs.iter().map(|r| line(r) + "\n").collect();
    s.push_str(
        &json!({"type": "hunt-summary", "version": 1, "host": "resolver-1",
                "started": "2026-12-04T00:00:00Z", "lines": 123456, "elapsed_seconds": 2.5,
                "inputs": [{"path": "/var/log/named/query.log", "format": "bind"}]})
        .to_string(),
    );
    s.push('\n');
    s
}

/// What each STIX sighting must say: count, first and last seen, what it
/// sights (a partner's id, or a pattern fragment of our indicator) and
/// the client address in its observed data.
fn expected_stix() -> Value {
    json!([
        {"count": 5, "first": "2026-12-01T08:00:00Z", "last": "2026-12-01T09:00:00Z",
         "pattern": "[domain-name:value = 'evil.example']", "client": "192.0.2.10",
         "values": ["a.evil.example", "evil.example"]},
        {"count": 2, "first": "2026-12-01T10:00:00Z", "last": "2026-12-01T10:05:00Z",
         "pattern": "[ipv4-addr:value = '198.51.100.0/24']", "client": "2001:db8::7",
         "values": ["198.51.100.7"]},
        {"count": 1, "first": "2026-12-02T10:00:00Z", "last": "2026-12-02T10:00:00Z",
         "pattern": "[url:value = 'http://dl.example.net/get.php?id=\\'7\\'&x=\\\\y']",
         "client": "192.0.2.10", "values": ["http://dl.example.net/get.php?id='7'&x=%5Cy"]},
        {"count": 45, "first": "2026-11-30T00:00:00Z", "last": "2026-12-03T00:00:00Z",
         "pattern": "[domain-name:value = 'plmokn.net' OR domain-name:value = 'qxzvbn.com']",
         "client": "192.0.2.11", "values": ["plmokn.net", "qxzvbn.com"], "family": "Nymaim"},
        {"count": 3, "first": "2026-12-01T07:00:00Z", "last": "2026-12-01T07:30:00Z",
         "pattern": "[domain-name:value = 'evil.example']", "client": null,
         "values": ["evil.example"]},
        {"count": 4, "first": "2026-12-01T12:00:00Z", "last": "2026-12-01T13:00:00Z",
         "partner": PARTNER, "client": "192.0.2.12", "values": ["partner-c2.example"]},
        {"count": 1, "first": "2026-12-01T14:00:00Z", "last": "2026-12-01T14:00:00Z",
         "pattern": "[domain-name:value = 'evil.example']", "client": null,
         "values": ["evil.example"]},
    ])
}

/// Checks a bundle with stix2-validator (strict) and `stix2`: every SCO
/// id is the one `stix2` computes, and every expected sighting is there
/// with its count, times, target, observed data and place.
const STIX_CHECK: &str = r#"
import sys, json, stix2
b = stix2.parse(open(sys.argv[1]).read(), allow_custom=False)
want = json.loads(sys.argv[2])
host = sys.argv[3]
objs = {o.id: o for o in b.objects}
fmt = lambda t: t.strftime('%Y-%m-%dT%H:%M:%SZ')
cls = {'domain-name': stix2.DomainName, 'ipv4-addr': stix2.IPv4Address,
       'ipv6-addr': stix2.IPv6Address, 'url': stix2.URL}
for o in b.objects:
    if o.type in cls:
        assert cls[o.type](value=o.value).id == o.id, (o.id, o.value)
sightings = [o for o in b.objects if o.type == 'sighting' and 'observed_data_refs' in o
             and any(objs[r].object_refs[0].split('--')[0] != 'file' for r in o.observed_data_refs)]
assert len(sightings) == len(want), (len(sightings), len(want))
for w in want:
    match = [s for s in sightings if s.count == w['count'] and fmt(s.first_seen) == w['first']
             and fmt(s.last_seen) == w['last']]
    assert len(match) == 1, (w, match)
    s = match[0]
    if 'partner' in w:
        assert s.sighting_of_ref == w['partner'], s
        assert w['partner'] not in objs, 'a partner indicator is referred to, not copied'
    else:
        ind = objs[s.sighting_of_ref]
        assert ind.type == 'indicator' and ind.pattern == w['pattern'], (ind.pattern, w['pattern'])
        if 'family' in w:
            rel = [o for o in b.objects if o.type == 'relationship' and o.source_ref == ind.id]
            assert [objs[r.target_ref].name for r in rel] == [w['family']], rel
    [where] = s.where_sighted_refs
    assert objs[where].name == host and objs[where].identity_class == 'system'
    [od] = [objs[r] for r in s.observed_data_refs]
    assert od.number_observed == w['count']
    assert fmt(od.first_observed) == w['first'] and fmt(od.last_observed) == w['last']
    # The client's address first, then the values matched.
    refs = [objs[r] for r in od.object_refs]
    if w['client'] is not None:
        assert refs[0].value == w['client'], (refs[0], w['client'])
        refs = refs[1:]
    values = sorted(r.value for r in refs)
    assert values == sorted(w['values']), (values, w['values'])
print('sightings', len(sightings), 'objects', len(b.objects))
"#;

/// Loads a MISP event with PyMISP and prints, per attribute, its type,
/// value, to_ids and sighting dates (ISO), as JSON.
const MISP_DUMP: &str = r#"
import sys, json, datetime
from pymisp import MISPEvent
e = MISPEvent()
e.load_file(sys.argv[1])
out = {'info': e.info, 'tags': sorted(t.name for t in e.tags),
       'objects': sorted(o.name for o in e.objects), 'attributes': []}
for a in e.attributes:
    dates = sorted(datetime.datetime.fromtimestamp(int(s.date_sighting), datetime.timezone.utc)
                   .strftime('%Y-%m-%dT%H:%M:%SZ') for s in a.sightings)
    assert all(s.source == 'takedown hunt' and s.type == '0' for s in a.sightings)
    out['attributes'].append({'type': a.type, 'value': a.value, 'to_ids': a.to_ids,
                              'sightings': dates, 'comment': a.comment,
                              'first_seen': a.first_seen.strftime('%Y-%m-%dT%H:%M:%SZ')})
print(json.dumps(out))
"#;

/// The attributes of a PyMISP dump by (type, value).
fn misp_attributes(dump: &Value) -> Vec<(String, String, bool, Vec<String>)> {
    let mut v: Vec<_> = dump["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["type"].as_str().unwrap().to_string(),
                a["value"].as_str().unwrap().to_string(),
                a["to_ids"].as_bool().unwrap(),
                a["sightings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    v.sort();
    v
}

fn export(t: &Tree, format: &str, out: &str, inputs: &[&str]) -> std::process::Output {
    let o = out.to_string();
    let mut args = vec![
        "intel",
        "export",
        "--format",
        format,
        "--tlp",
        "amber",
        "--producer",
        "CERT-X",
        "-o",
        &o,
    ];
    args.extend_from_slice(inputs);
    t.run(&args)
}

#[test]
fn hunt_sightings_export_to_stix_misp_feed_and_html() {
    let t = Tree::new();
    let recs = sightings();
    t.write("hunt.ndjson", hunt_ndjson(&recs));
    let hunt = t.arg("hunt.ndjson");
    for (format, out) in [
        ("stix", "out/hunt.stix.json"),
        ("misp", "out/hunt.misp.json"),
        ("misp-feed", "out/feed"),
        ("html", "out/hunt.html"),
    ] {
        let o = export(&t, format, &t.arg(out), &[&hunt]);
        assert_eq!(code(&o), 0, "{format}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("exported 0 findings and 7 sightings from 1 runs"),
            "{format}: {}",
            stderr(&o)
        );
    }

    // STIX, on our side: the partner's indicator is sighted under its id,
    // the DGA is the family's malware plus an indicator of the names seen,
    // and exporting again gives the same bytes.
    let bytes = std::fs::read(t.path("out/hunt.stix.json")).unwrap();
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    let objects = bundle["objects"].as_array().unwrap();
    let of_type = |ty: &'static str| objects.iter().filter(move |o| o["type"] == ty);
    assert!(of_type("sighting").any(|s| s["sighting_of_ref"] == PARTNER));
    assert!(
        !of_type("indicator").any(|i| i["pattern"].as_str().unwrap().contains("partner-c2")),
        "no indicator of ours for a partner's"
    );
    let malware: Vec<&Value> = of_type("malware").collect();
    assert_eq!(malware.len(), 1);
    assert_eq!(malware[0]["name"], "Nymaim");
    assert_eq!(of_type("sighting").count(), 7);
    let again = export(&t, "stix", &t.arg("out/again.stix.json"), &[&hunt]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert_eq!(std::fs::read(t.path("out/again.stix.json")).unwrap(), bytes);

    // HTML: the hostile client escaped, every sighting listed.
    let html = std::fs::read_to_string(t.path("out/hunt.html")).unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains(HOSTILE_CLIENT));
    assert!(html.contains("<h2>Sightings</h2>"));
    assert_eq!(html.matches("<tr><td><span class=\"h\">").count(), 6);
    assert!(html.contains("not in the logs"));
    assert!(html.contains("resolver-1"));

    // The feed: one event, its values hashed.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(t.path("out/feed/manifest.json")).unwrap()).unwrap();
    let uuids: Vec<&String> = manifest.as_object().unwrap().keys().collect();
    assert_eq!(uuids.len(), 1);
    let hashes = std::fs::read_to_string(t.path("out/feed/hashes.csv")).unwrap();
    let md5 = hex::encode(<md5::Md5 as sha2::Digest>::digest(b"evil.example"));
    assert!(hashes.contains(&format!("{md5},{}", uuids[0])), "{hashes}");

    let Some(py) = reference_python() else {
        return;
    };
    stix2_validate(
        &py,
        &["--strict", "--version", "2.1"],
        &t.path("out/hunt.stix.json"),
    );
    let checked = run_python(
        &py,
        STIX_CHECK,
        &[
            &t.arg("out/hunt.stix.json"),
            &expected_stix().to_string(),
            "resolver-1",
        ],
    );
    assert!(checked.starts_with("sightings 7 "), "{checked}");

    let feed_event = t.arg(&format!("out/feed/{}.json", uuids[0]));
    for p in [t.arg("out/hunt.misp.json"), feed_event] {
        let dump: Value = serde_json::from_str(&run_python(&py, MISP_DUMP, &[&p])).unwrap();
        assert_eq!(dump["info"], "takedown hunt: 8 values sighted by 4 clients");
        assert_eq!(
            dump["tags"],
            json!(["misp-galaxy:malpedia=\"Nymaim\"", "tlp:amber"])
        );
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let want = vec![
            (
                "domain".into(),
                "evil.example".into(),
                true,
                s(&[
                    "2026-12-01T07:30:00Z",
                    "2026-12-01T09:00:00Z",
                    "2026-12-01T14:00:00Z",
                ]),
            ),
            (
                "domain".into(),
                "partner-c2.example".into(),
                true,
                s(&["2026-12-01T13:00:00Z"]),
            ),
            (
                "domain".into(),
                "plmokn.net".into(),
                true,
                s(&["2026-12-03T00:00:00Z"]),
            ),
            (
                "domain".into(),
                "qxzvbn.com".into(),
                true,
                s(&["2026-12-03T00:00:00Z"]),
            ),
            (
                "hostname".into(),
                "a.evil.example".into(),
                true,
                s(&["2026-12-01T09:00:00Z"]),
            ),
            (
                "ip-dst".into(),
                "198.51.100.0/24".into(),
                true,
                s(&["2026-12-01T10:05:00Z"]),
            ),
            (
                "ip-dst".into(),
                "198.51.100.7".into(),
                true,
                s(&["2026-12-01T10:05:00Z"]),
            ),
            ("ip-src".into(), "192.0.2.10".into(), false, vec![]),
            ("ip-src".into(), "192.0.2.11".into(), false, vec![]),
            ("ip-src".into(), "192.0.2.12".into(), false, vec![]),
            ("ip-src".into(), "2001:db8::7".into(), false, vec![]),
            ("url".into(), URL.into(), true, s(&["2026-12-02T10:00:00Z"])),
        ];
        assert_eq!(misp_attributes(&dump), want, "{p}");
        let client = dump["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["value"] == "192.0.2.10")
            .unwrap();
        let comment = client["comment"].as_str().unwrap();
        assert!(
            comment.contains("evil.example (domain)") && comment.contains("(url)"),
            "{comment}"
        );
        assert_eq!(client["first_seen"], "2026-12-01T08:00:00Z");
    }
}

#[test]
fn a_file_mixing_findings_and_sightings_exports_both() {
    let t = Tree::new();
    t.write("target/eicar.com", eicar());
    let scan = t.json(&[&t.arg("target")]);
    assert_eq!(code(&scan), 1, "{}", stderr(&scan));
    assert_eq!(findings(&scan).len(), 1);
    let mut mixed = stdout(&scan);
    mixed.push_str(&hunt_ndjson(&sightings()));
    t.write("mixed.ndjson", &mixed);
    // And a line of neither: named with its file and line, the rest read.
    let bad_line = mixed.lines().count() + 1;
    mixed.push_str("{\"type\":\"sighting\",\"client\":\"192.0.2.1\"}\n");
    t.write("mixed-bad.ndjson", &mixed);

    let o = export(
        &t,
        "stix",
        &t.arg("out/mixed.stix.json"),
        &[&t.arg("mixed.ndjson")],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("exported 1 findings and 7 sightings from 1 runs"),
        "{}",
        stderr(&o)
    );
    let o = export(
        &t,
        "misp",
        &t.arg("out/mixed.misp.json"),
        &[&t.arg("mixed-bad.ndjson")],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("mixed-bad.ndjson:{bad_line}: not a sighting")),
        "{}",
        stderr(&o)
    );
    let o = export(
        &t,
        "html",
        &t.arg("out/mixed.html"),
        &[&t.arg("mixed.ndjson")],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let bundle: Value =
        serde_json::from_slice(&std::fs::read(t.path("out/mixed.stix.json")).unwrap()).unwrap();
    let patterns: Vec<&str> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "indicator")
        .map(|o| o["pattern"].as_str().unwrap())
        .collect();
    assert!(
        patterns.contains(&format!("[file:hashes.'SHA-256' = '{EICAR_SHA256}']").as_str()),
        "{patterns:?}"
    );
    assert!(patterns.contains(&"[domain-name:value = 'evil.example']"));
    let report = bundle["objects"].as_array().unwrap().last().unwrap();
    assert_eq!(report["name"], "takedown findings and sightings");
    let html = std::fs::read_to_string(t.path("out/mixed.html")).unwrap();
    assert!(html.contains("eicar.com") && html.contains("<h2>Sightings</h2>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    let Some(py) = reference_python() else {
        return;
    };
    stix2_validate(
        &py,
        &["--strict", "--version", "2.1"],
        &t.path("out/mixed.stix.json"),
    );
    // The hunt's sightings are sighted where the run was: the scan's host
    // (the summary line wins over the hunt-summary for the run's host).
    let host = summary(&scan)["host"].as_str().unwrap().to_string();
    let checked = run_python(
        &py,
        STIX_CHECK,
        &[
            &t.arg("out/mixed.stix.json"),
            &expected_stix().to_string(),
            &host,
        ],
    );
    assert!(checked.starts_with("sightings 7 "), "{checked}");
    let dump: Value = serde_json::from_str(&run_python(
        &py,
        MISP_DUMP,
        &[&t.arg("out/mixed.misp.json")],
    ))
    .unwrap();
    assert_eq!(dump["objects"], json!(["file"]), "{dump}");
    assert_eq!(misp_attributes(&dump).len(), 12, "{dump}");
    assert!(
        dump["info"]
            .as_str()
            .unwrap()
            .starts_with("takedown scan: 1 file detected on 1 host; takedown hunt: "),
        "{dump}"
    );
}
