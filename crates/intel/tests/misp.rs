//! MISP in and out: events and feeds read with exact counts, hostile input,
//! and what we write checked by PyMISP (load, strict `file` objects, the
//! feed generator as a black box).

mod common;

use serde_json::{Value, json};
use std::path::Path;
use takedown_intel::misp::feed::{is_feed_dir, read_feed, write_feed};
use takedown_intel::misp::read::read_value;
use takedown_intel::misp::write::{FILE_TEMPLATE_UUID, FILE_TEMPLATE_VERSION, MispOptions, event};
use takedown_intel::records::{DetectionRecord, FindingRecord, Run, SummaryRecord};
use takedown_intel::{Kind, Loaded, ReadOptions, SkipClass, Tlp};

const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
const SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
const SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn read(v: &Value) -> Loaded {
    let mut out = Loaded::default();
    read_value(v, &ReadOptions::new("test.json"), &mut out);
    out
}

fn attr(uuid: &str, typ: &str, value: Value) -> Value {
    json!({"uuid": uuid, "type": typ, "value": value, "to_ids": true, "category": "Other"})
}

fn counts(l: &Loaded) -> Vec<(Kind, usize)> {
    l.counts().into_iter().collect()
}

fn skips(l: &Loaded) -> [usize; 5] {
    [
        l.skipped_count(SkipClass::Revoked),
        l.skipped_count(SkipClass::Expired),
        l.skipped_count(SkipClass::Unsupported),
        l.skipped_count(SkipClass::NotForDetection),
        l.skipped_count(SkipClass::Invalid),
    ]
}

/// An event with every supported type, unsupported ones, `to_ids: false`,
/// deleted attributes and objects, broken values, tags and galaxies.
fn full_event() -> Value {
    let mut attrs = vec![
        attr("a-md5", "md5", json!(MD5.to_uppercase())),
        attr("a-sha1", "sha1", json!(SHA1)),
        attr("a-sha256", "sha256", json!(SHA256)),
        attr("a-fmd5", "filename|md5", json!(format!("evil.exe|{MD5}"))),
        attr(
            "a-fsha1",
            "filename|sha1",
            json!(format!("evil.dll|{SHA1}")),
        ),
        attr(
            "a-fsha256",
            "filename|sha256",
            json!(format!("C:\\x\\evil (1).scr|{SHA256}")),
        ),
        attr("a-fname", "filename", json!("dropper.js")),
        attr("a-domain", "domain", json!("Evil.Example.")),
        attr("a-host", "hostname", json!("c2.evil.example")),
        attr("a-hostport", "hostname|port", json!("c3.evil.example|8443")),
        attr(
            "a-domip",
            "domain|ip",
            json!("c4.evil.example|198.51.100.4"),
        ),
        attr("a-ipdst", "ip-dst", json!("192.0.2.1")),
        attr("a-ipsrc", "ip-src", json!("2001:DB8::1")),
        attr("a-ipdstport", "ip-dst|port", json!("192.0.2.2|443")),
        attr("a-ipsrcport", "ip-src|port", json!("198.51.100.77/24|22")),
        attr("a-url", "url", json!("https://evil.example/gate.php")),
        attr("a-url2", "url", json!("evil.example/raw")),
        attr("a-email", "email", json!("Boss@Evil.Example")),
        attr("a-emailsrc", "email-src", json!("from@evil.example")),
        attr("a-emaildst", "email-dst", json!("to@evil.example")),
        attr(
            "a-yara",
            "yara",
            json!("rule R { strings: $a = \"x\" condition: $a }"),
        ),
    ];
    // Unsupported types.
    for (i, t) in [
        "ssdeep", "imphash", "link", "comment", "text", "regkey", "mutex", "AS", "uri",
    ]
    .iter()
    .enumerate()
    {
        attrs.push(attr(&format!("u-{i}"), t, json!("whatever")));
    }
    // Not for detection.
    let mut a = attr("n-1", "md5", json!(MD5));
    a["to_ids"] = json!(false);
    attrs.push(a);
    let mut a = attr("n-2", "domain", json!("context.example"));
    a["to_ids"] = json!("0");
    attrs.push(a);
    // Deleted.
    let mut a = attr("d-1", "sha256", json!(SHA256));
    a["deleted"] = json!(true);
    attrs.push(a);
    // Invalid.
    attrs.push(attr("i-len", "md5", json!("abc")));
    attrs.push(attr("i-num", "domain", json!(42)));
    attrs.push(json!({"uuid": "i-notype", "value": "x.example"}));
    attrs.push(json!("not an attribute"));
    let mut a = attr("i-flag", "md5", json!(MD5));
    a["to_ids"] = json!("maybe");
    attrs.push(a);
    attrs.push(attr("i-ip", "ip-dst", json!("999.1.1.1")));
    attrs.push(attr("i-port", "ip-dst|port", json!("192.0.2.9|http")));
    attrs.push(attr("i-comp", "domain|ip", json!("only.example")));
    attrs.push(json!({"id": 77, "type": "sha1", "value": "zz"}));
    // Attribute-level TLP, family and comment.
    attrs.push(json!({"uuid": "t-1", "type": "md5", "value": "0123456789abcdef0123456789abcdef",
        "comment": "loader hash", "Tag": [{"name": "tlp:red"}, {"name": "misp-galaxy:ransomware=\"Locky\""}]}));
    json!({"Event": {
        "uuid": "11111111-2222-4333-8444-555555555555",
        "info": "Nymaim takedown",
        "threat_level_id": "1",
        "Orgc": {"name": "CERT-X", "uuid": "aaaaaaaa-2222-4333-8444-555555555555"},
        "Org": {"name": "Local"},
        "Tag": [{"name": "tlp:amber"}, {"name": "type:OSINT"}],
        "Galaxy": [{"type": "mitre-attack-pattern", "GalaxyCluster": [{"type": "mitre-attack-pattern", "value": "T1059"}]},
                   {"type": "malpedia", "GalaxyCluster": [{"type": "malpedia", "value": "Nymaim"}]}],
        "Attribute": attrs,
        "Object": [
            {"name": "file", "uuid": "o-1", "comment": "the dropper", "Attribute": [
                {"uuid": "o1-sha256", "object_relation": "sha256", "type": "sha256", "value": SHA256, "to_ids": true},
                {"uuid": "o1-name", "object_relation": "filename", "type": "filename", "value": "d.exe", "to_ids": false},
                {"uuid": "o1-size", "object_relation": "size-in-bytes", "type": "size-in-bytes", "value": "68", "to_ids": false}
            ]},
            {"name": "file", "uuid": "o-2", "deleted": true, "Attribute": [
                {"uuid": "o2-md5", "type": "md5", "value": MD5},
                {"uuid": "o2-sha1", "type": "sha1", "value": SHA1}
            ]},
            {"name": "domain-ip", "uuid": "o-3", "Attribute": "not a list"},
            17
        ]
    }})
}

#[test]
fn every_supported_type_with_exact_counts() {
    let l = read(&full_event());
    assert_eq!(
        counts(&l),
        vec![
            (Kind::Md5, 3),      // md5, filename|md5, t-1
            (Kind::Sha1, 2),     // sha1, filename|sha1
            (Kind::Sha256, 3),   // sha256, filename|sha256, object o-1
            (Kind::FileName, 4), // three filename|hash, filename
            (Kind::Yara, 1),
            (Kind::Domain, 4), // domain, hostname, hostname|port, domain|ip
            (Kind::Ipv4, 4),   // domain|ip, ip-dst, ip-dst|port, ip-src|port
            (Kind::Ipv6, 1),
            (Kind::Url, 2),
            (Kind::Email, 3),
        ],
        "{:#?}",
        l.skipped
    );
    // revoked: d-1 and the two attributes of object o-2; unsupported: the
    // nine types and o1-size; not for detection: n-1, n-2, o1-name;
    // invalid: nine attributes, o-3's Attribute and the object 17.
    assert_eq!(skips(&l), [3, 0, 10, 3, 11], "{:#?}", l.skipped);

    let by_id = |id: &'static str| {
        l.indicators
            .iter()
            .filter(move |i| i.provenance.object_id.as_deref() == Some(id))
    };
    let md5 = by_id("a-md5").next().unwrap();
    assert_eq!(md5.value, MD5);
    assert_eq!(md5.tlp, Some(Tlp::Amber));
    assert_eq!(md5.family.as_deref(), Some("Nymaim"));
    assert_eq!(md5.name.as_deref(), Some("Nymaim takedown"));
    assert_eq!(md5.score, 100);
    assert_eq!(md5.provenance.producer.as_deref(), Some("CERT-X"));
    assert_eq!(
        md5.provenance.container.as_deref(),
        Some("11111111-2222-4333-8444-555555555555")
    );
    assert_eq!(md5.provenance.source, "test.json");
    let t1 = by_id("t-1").next().unwrap();
    assert_eq!(t1.tlp, Some(Tlp::Red));
    assert_eq!(t1.family.as_deref(), Some("Locky"));
    assert_eq!(t1.name.as_deref(), Some("loader hash"));
    let fsha: Vec<_> = by_id("a-fsha256").collect();
    assert_eq!(fsha.len(), 2);
    assert_eq!(fsha[1].kind, Kind::FileName);
    assert_eq!(fsha[1].value, r"(^|[/\\])C:\\x\\evil \(1\)\.scr$");
    assert_eq!(
        by_id("a-ipsrcport").next().unwrap().value,
        "198.51.100.0/24"
    );
    assert_eq!(by_id("a-ipsrc").next().unwrap().value, "2001:db8::1");
    assert_eq!(
        by_id("a-url2").next().unwrap().value,
        "http://evil.example/raw"
    );
    assert_eq!(by_id("a-domain").next().unwrap().value, "evil.example");
    assert_eq!(
        by_id("o1-sha256").next().unwrap().name.as_deref(),
        Some("the dropper")
    );

    let skip = |id: &str| {
        l.skipped
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{id} not skipped: {:#?}", l.skipped))
    };
    assert_eq!(skip("u-8").class, SkipClass::Unsupported);
    assert!(skip("u-8").reason.contains("'uri'"));
    assert_eq!(skip("o2-sha1").class, SkipClass::Revoked);
    assert!(skip("i-num").reason.contains("value is a JSON number"));
    assert!(skip("i-ip").reason.contains("ip-dst"));
    assert!(skip("77").reason.contains("sha1"));
    assert!(
        skip("event 11111111-2222-4333-8444-555555555555/object o-3/Attribute")
            .reason
            .contains("not a list")
    );
    assert!(
        l.skipped.iter().any(|s| s.id.ends_with("/Attribute[36]")),
        "{:#?}",
        l.skipped
    );
}

#[test]
fn every_container_form_is_read() {
    let ev = |u: &str| json!({"uuid": u, "info": "x", "Attribute": [attr(&format!("{u}-a"), "md5", json!(MD5))]});
    let forms = [
        (json!({"Event": ev("e1")}), 1),
        (ev("e1"), 1),
        (json!([{"Event": ev("e1")}, ev("e2")]), 2),
        (
            json!({"response": [{"Event": ev("e1")}, {"Event": ev("e2")}, {"Event": ev("e3")}]}),
            3,
        ),
        (
            json!({"response": {"Attribute": [
                {"uuid": "x1", "type": "domain", "value": "a.example", "Event": {"uuid": "e9", "info": "from search"}},
                {"uuid": "x2", "type": "domain", "value": "b.example"}
            ]}}),
            2,
        ),
    ];
    for (v, n) in forms {
        let l = read(&v);
        assert_eq!(l.indicators.len(), n, "{v}: {:#?}", l.skipped);
        assert!(l.skipped.is_empty(), "{v}: {:#?}", l.skipped);
    }
    let l = read(&json!({"response": {"Attribute": [
        {"uuid": "x1", "type": "domain", "value": "a.example", "Event": {"uuid": "e9", "info": "from search"}}]}}));
    assert_eq!(l.indicators[0].provenance.container.as_deref(), Some("e9"));
    assert_eq!(l.indicators[0].name.as_deref(), Some("from search"));
}

#[test]
fn hostile_input_gives_skips_never_panics() {
    let cases = vec![
        json!({"Event": {"uuid": "e", "Attribute": {"a": 1}}}),
        json!({"Event": {"uuid": "e", "Object": "x"}}),
        json!({"Event": {"uuid": "e", "Tag": "tlp:red", "Attribute": []}}),
        json!({"Event": {"uuid": 5, "Attribute": []}}),
        json!({"Event": {"uuid": "e", "Orgc": "CERT", "Attribute": []}}),
        json!({"Event": {"uuid": "e", "Galaxy": [{"GalaxyCluster": 3}], "Attribute": []}}),
        json!({"Event": []}),
        json!({"response": "no"}),
        json!({"response": {"Attribute": 1}}),
        json!({"response": {"Attribute": [[]]}}),
        json!({"response": {"Attribute": [{"uuid": "z", "type": "md5", "value": MD5, "Event": 1}]}}),
        json!([1, "two", null]),
        json!(true),
    ];
    for v in cases {
        let l = read(&v);
        assert!(l.indicators.is_empty(), "{v}");
        assert!(
            l.skipped_count(SkipClass::Invalid) >= 1,
            "{v}: {:#?}",
            l.skipped
        );
        assert!(
            l.skipped
                .iter()
                .all(|s| s.class == SkipClass::Invalid && !s.reason.is_empty())
        );
    }

    // A huge value: refused by the model's limit, named.
    let big = "a".repeat(2 << 20);
    let l = read(
        &json!({"Event": {"uuid": "e", "Attribute": [attr("big", "domain", json!(big)), attr("big2", "yara", json!(big))]}}),
    );
    assert!(l.indicators.is_empty());
    assert_eq!(l.skipped_count(SkipClass::Invalid), 2, "{:#?}", l.skipped);
    assert!(l.skipped[0].reason.contains("1 MiB"));

    // Deep nesting: serde_json refuses it before we see it; nesting it
    // accepts, inside a value, is a wrong type.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(serde_json::from_str::<Value>(&deep).is_err());
    let nested = format!(
        r#"{{"Event":{{"uuid":"e","Attribute":[{{"uuid":"n","type":"md5","value":{}1{}}}]}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    let v: Value = serde_json::from_str(&nested).unwrap();
    let l = read(&v);
    assert_eq!(skips(&l), [0, 0, 0, 0, 1]);
    assert!(l.skipped[0].reason.contains("value is a JSON list"));

    // Many attributes: all read, none lost.
    let many: Vec<Value> = (0..20_000)
        .map(|i| {
            attr(
                &format!("m{i}"),
                "ip-dst",
                json!(format!("10.{}.{}.1", i / 256, i % 256)),
            )
        })
        .collect();
    let l = read(&json!({"Event": {"uuid": "e", "Attribute": many}}));
    assert_eq!(l.indicators.len(), 20_000);
}

fn simple_event(uuid: &str, value: &str) -> Value {
    json!({"Event": {
        "uuid": uuid, "info": format!("event {uuid}"), "date": "2026-12-06", "timestamp": "1796551230",
        "analysis": "2", "threat_level_id": "2",
        "Orgc": {"name": "CERT-X", "uuid": "aaaaaaaa-2222-4333-8444-555555555555"},
        "Tag": [{"name": "tlp:green", "colour": "#339900", "exportable": true, "local": false}],
        "Attribute": [{"uuid": format!("{}-0000-4000-8000-000000000000", &uuid[..8]), "type": "domain",
            "category": "Network activity", "value": value, "to_ids": true}]
    }})
}

#[test]
fn feed_with_missing_broken_and_extra_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let u = [
        "10000000-0000-4000-8000-000000000001",
        "10000000-0000-4000-8000-000000000002",
        "10000000-0000-4000-8000-000000000003",
        "10000000-0000-4000-8000-000000000004",
    ];
    let events: Vec<Value> = u
        .iter()
        .enumerate()
        .map(|(i, u)| simple_event(u, &format!("d{i}.example")))
        .collect();
    write_feed(d, &events).unwrap();
    assert!(is_feed_dir(d));
    let l = read_feed(d, &ReadOptions::new(d.display().to_string())).unwrap();
    assert_eq!(l.indicators.len(), 4, "{:#?}", l.skipped);
    assert!(l.skipped.is_empty());
    assert_eq!(l.indicators[0].tlp, Some(Tlp::Green));

    // One missing, one broken, one holding another event, one extra file,
    // one manifest key that is a path.
    std::fs::remove_file(d.join(format!("{}.json", u[0]))).unwrap();
    std::fs::write(d.join(format!("{}.json", u[1])), "{\"Event\": [").unwrap();
    std::fs::write(
        d.join(format!("{}.json", u[2])),
        serde_json::to_vec(&simple_event(u[3], "x.example")).unwrap(),
    )
    .unwrap();
    let extra = "20000000-0000-4000-8000-000000000009";
    std::fs::write(
        d.join(format!("{extra}.json")),
        serde_json::to_vec(&simple_event(extra, "extra.example")).unwrap(),
    )
    .unwrap();
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
    manifest["../../etc/passwd"] = json!({});
    std::fs::write(d.join("manifest.json"), manifest.to_string()).unwrap();
    assert!(!is_feed_dir(d), "a manifest key that is not a uuid");

    let l = read_feed(d, &ReadOptions::new("feed")).unwrap();
    assert_eq!(l.indicators.len(), 1, "{:#?}", l.skipped);
    assert_eq!(l.indicators[0].value, "d3.example");
    assert_eq!(skips(&l), [0, 0, 0, 0, 5], "{:#?}", l.skipped);
    let reason = |id: &str| {
        l.skipped
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.reason.clone())
            .unwrap()
    };
    assert!(reason("../../etc/passwd").contains("not a uuid"));
    assert!(reason(u[0]).contains(u[0]));
    assert!(reason(u[1]).contains("not JSON"));
    assert!(reason(u[2]).contains(&format!("holds event {}", u[3])));
    assert!(reason(extra).contains("not in manifest"));

    // No manifest, or not an object: the whole feed fails, naming it.
    std::fs::write(d.join("manifest.json"), "[1]").unwrap();
    let e = read_feed(d, &ReadOptions::new("feed"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("manifest.json"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    assert!(!is_feed_dir(empty.path()));
    assert!(read_feed(empty.path(), &ReadOptions::new("x")).is_err());

    // Refused input leaves the directory untouched.
    let out = tempfile::tempdir().unwrap();
    let mut bad = simple_event(u[0], "a.example");
    bad["Event"]["Orgc"] = json!({"name": "no uuid"});
    assert!(write_feed(out.path(), &[simple_event(u[1], "b.example"), bad]).is_err());
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    let twice = [
        simple_event(u[0], "a.example"),
        simple_event(u[0], "a.example"),
    ];
    assert!(write_feed(out.path(), &twice).is_err());
}

fn finding(
    path: &str,
    chain: &[&str],
    sha: Option<&str>,
    size: u64,
    rules: &[(&str, u32, Option<&str>)],
) -> FindingRecord {
    FindingRecord {
        path: path.into(),
        chain: chain.iter().map(|s| s.to_string()).collect(),
        size: Some(size),
        sha256: sha.map(str::to_string),
        detections: rules
            .iter()
            .map(|(name, score, family)| {
                let mut metadata = serde_json::Map::new();
                if let Some(f) = family {
                    metadata.insert("malware_family".into(), json!(f));
                }
                DetectionRecord {
                    engine: "yara".into(),
                    name: name.to_string(),
                    score: *score,
                    metadata,
                    source: "rules.yar".into(),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    }
}

fn runs() -> Vec<Run> {
    let s1 = "1".repeat(64);
    let s2 = "2".repeat(64);
    let summary = |host: &str, started: &str| SummaryRecord {
        host: Some(host.into()),
        started: Some(started.into()),
        elapsed_seconds: 12.5,
        ..Default::default()
    };
    vec![
        Run {
            origin: "pc1.ndjson".into(),
            findings: vec![
                finding(
                    "/home/a/evil.exe",
                    &[],
                    Some(&s1),
                    68,
                    &[("Nymaim_Loader", 100, Some("Nymaim"))],
                ),
                finding(
                    "/home/a/mail.zip",
                    &["in/x.js"],
                    Some(&s2),
                    1200,
                    &[("JS_Dropper", 80, None), ("EICAR", 100, None)],
                ),
                finding("/home/a/clean.txt", &[], Some(&"3".repeat(64)), 5, &[]),
                finding(
                    "/home/a/big.iso",
                    &[],
                    None,
                    9_000_000,
                    &[("Big_Rule", 60, Some("Bad \"Family\""))],
                ),
            ],
            summary: Some(summary("pc1", "2026-12-06T10:00:00Z")),
            ..Default::default()
        },
        Run {
            origin: "pc2.ndjson".into(),
            findings: vec![finding(
                "C:\\Users\\b\\evil.exe ",
                &[],
                Some(&s1),
                68,
                &[("Nymaim_Loader", 100, Some("Nymaim"))],
            )],
            summary: Some(summary("pc2", "2026-12-07T08:00:00Z")),
            ..Default::default()
        },
    ]
}

fn options() -> MispOptions {
    MispOptions {
        tlp: Tlp::AmberStrict,
        distribution: 1,
        org: "CERT-X".into(),
        info: None,
    }
}

#[test]
fn export_is_deterministic_and_reads_back() {
    let a = serde_json::to_string_pretty(&event(&runs(), &options())).unwrap();
    let b = serde_json::to_string_pretty(&event(&runs(), &options())).unwrap();
    assert_eq!(a, b);
    let ev: Value = serde_json::from_str(&a).unwrap();
    let e = &ev["Event"];
    assert_eq!(e["info"], "takedown scan: 4 files detected on 2 hosts");
    assert_eq!(e["date"], "2026-12-06");
    assert_eq!(e["distribution"], "1");
    assert_eq!(e["Object"].as_array().unwrap().len(), 3);

    // Our event read back: the two sha256 are the detections; names,
    // paths, sizes and texts are context.
    let l = read(&ev);
    assert_eq!(counts(&l), vec![(Kind::Sha256, 2)], "{:#?}", l.skipped);
    assert!(l.indicators.iter().all(|i| i.tlp == Some(Tlp::AmberStrict)));
    assert_eq!(l.skipped_count(SkipClass::Invalid), 0, "{:#?}", l.skipped);
    assert_eq!(
        l.indicators[0].provenance.producer.as_deref(),
        Some("CERT-X")
    );
    assert_eq!(
        l.indicators[0].family.as_deref(),
        Some("Bad Family"),
        "the first family tag of the event"
    );
}

/// Writes `v` to `path` as JSON.
fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

const PYMISP_CHECK: &str = r#"
import json, sys
from pymisp import MISPEvent, MISPObject, MISPAttribute
path, tmpl_uuid, tmpl_version = sys.argv[1], sys.argv[2], int(sys.argv[3])
ev = MISPEvent()
ev.load_file(path)
assert ev.info, 'no info'
raw = json.load(open(path))['Event']
assert len(ev.objects) == len(raw['Object']), (len(ev.objects), len(raw['Object']))
types = MISPAttribute().describe_types
n = 0
for obj, robj in zip(ev.objects, raw['Object']):
    assert obj.name == 'file'
    o = MISPObject('file', strict=True)
    assert o.template_uuid == tmpl_uuid == robj['template_uuid'], (o.template_uuid, tmpl_uuid)
    assert o.template_version == tmpl_version == int(robj['template_version']), (o.template_version, tmpl_version)
    definition = o._definition['attributes']
    for a in robj['Attribute']:
        rel = a['object_relation']
        assert rel in definition, rel
        d = definition[rel]
        assert a['type'] == d['misp-attribute'], (rel, a['type'])
        allowed = d.get('categories') or [c for c, ts in types['category_type_mappings'].items() if a['type'] in ts]
        assert a['category'] in allowed, (rel, a['category'], allowed)
        o.add_attribute(rel, value=a['value'], to_ids=a['to_ids'], category=a['category'])
    o.to_json()
    n += 1
tags = sorted(t.name for t in ev.tags)
print(json.dumps({'objects': n, 'tags': tags, 'uuid': ev.uuid}))
"#;

#[test]
fn our_event_loads_in_pymisp_and_objects_pass_the_strict_template() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    let ev = event(&runs(), &options());
    write_json(&path, &ev);
    let out = common::run_python(
        &py,
        PYMISP_CHECK,
        &[
            path.to_str().unwrap(),
            FILE_TEMPLATE_UUID,
            &FILE_TEMPLATE_VERSION.to_string(),
        ],
    );
    let got: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(got["objects"], 3);
    assert_eq!(got["uuid"], ev["Event"]["uuid"]);
    assert_eq!(
        got["tags"],
        json!([
            "misp-galaxy:malpedia=\"Bad Family\"",
            "misp-galaxy:malpedia=\"Nymaim\"",
            "tlp:amber+strict"
        ])
    );
}

const FEED_GENERATOR: &str = r#"
import sys
from pathlib import Path
from pymisp.tools.feed import feed_meta_generator
feed_meta_generator(Path(sys.argv[1]))
"#;

#[test]
fn feed_equals_what_the_pymisp_generator_makes() {
    let Some(py) = common::python() else { return };
    let ours = tempfile::tempdir().unwrap();
    // Two exports, then a hand-made event with the fields PyMISP fills by
    // default (no colour, local or relationship on tags, integers, a tag
    // that is not exportable, a duplicate tag, a composite attribute, an
    // object attribute with spaces around its value).
    let first = event(&runs()[1..], &options());
    let second = event(&runs(), &options());
    let hand = json!({"Event": {
        "uuid": "30000000-0000-4000-8000-000000000003", "info": "hand made", "date": "2026-01-02",
        "timestamp": 1767312000, "threat_level_id": 3, "analysis": 0,
        "Orgc": {"id": 12, "name": "Other Org", "uuid": "40000000-0000-4000-8000-000000000004"},
        "Tag": [{"name": "tlp:clear"}, {"name": "hidden", "exportable": false}, {"name": "tlp:clear"},
                {"name": "misp-galaxy:banker=\"Dridex\"", "colour": "#0088cc", "local": true, "relationship_type": "x"}],
        "Attribute": [
            {"type": "domain|ip", "category": "Network activity", "value": "a.example|192.0.2.1", "to_ids": true},
            {"type": "filename|md5", "category": "Payload delivery", "value": format!("a b.exe|{MD5}"), "to_ids": true},
            {"type": "text", "category": "Other", "value": "  kept as is  ", "to_ids": false}
        ],
        "Object": [{"name": "file", "Attribute": [
            {"object_relation": "filename", "type": "filename", "value": "  spaced.exe \n"},
            {"object_relation": "size-in-bytes", "type": "size-in-bytes", "value": 68}
        ]}]
    }});
    write_feed(ours.path(), std::slice::from_ref(&first)).unwrap();
    write_feed(ours.path(), &[second.clone(), hand]).unwrap();

    // The generator, run on a copy of our event files only.
    let theirs = tempfile::tempdir().unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(ours.path()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
        if name.ends_with(".json") && name != "manifest.json" {
            std::fs::copy(entry.path(), theirs.path().join(&name)).unwrap();
            n += 1;
        }
    }
    assert_eq!(n, 3, "the first export's event stays in the feed");
    common::run_python(&py, FEED_GENERATOR, &[theirs.path().to_str().unwrap()]);

    let manifest = |d: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap()
    };
    let hashes = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_to_string(d.join("hashes.csv"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(manifest(ours.path()), manifest(theirs.path()));
    let h = hashes(ours.path());
    assert_eq!(h, hashes(theirs.path()));
    assert!(h.len() > 10, "{h:?}");

    // Our reader takes the feed we wrote: every event, no skips.
    assert!(is_feed_dir(ours.path()));
    let l = read_feed(ours.path(), &ReadOptions::new("feed")).unwrap();
    assert!(
        l.skipped.iter().all(|s| s.class != SkipClass::Invalid),
        "{:#?}",
        l.skipped
    );

    // Exported twice: the same bytes.
    let again = tempfile::tempdir().unwrap();
    write_feed(again.path(), std::slice::from_ref(&second)).unwrap();
    let uuid = second["Event"]["uuid"].as_str().unwrap();
    assert_eq!(
        std::fs::read(again.path().join(format!("{uuid}.json"))).unwrap(),
        std::fs::read(ours.path().join(format!("{uuid}.json"))).unwrap()
    );
}
