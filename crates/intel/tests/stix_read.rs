//! STIX 2.1 bundles read into indicators: every supported pattern form and
//! every skip class with exact counts, references resolved whatever the
//! order, hostile input, a large streamed bundle, the `.json` sniffer, and
//! the `stix2` / `stix2-patterns` libraries as oracles.

mod common;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Read;
use takedown_intel::json::{self as tjson, Format};
use takedown_intel::stix::{pattern, read};
use takedown_intel::{Kind, Loaded, ReadError, ReadOptions, SkipClass, Tlp};

const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
const SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
const SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn opts() -> ReadOptions {
    ReadOptions {
        source: "bundle.json".into(),
        now: time::macros::datetime!(2024-06-01 12:00 UTC),
    }
}

fn read_json(v: &Value) -> Loaded {
    read::read(serde_json::to_vec(v).unwrap().as_slice(), &opts()).unwrap()
}

fn ind(id: &str, pattern: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"
    })
}

/// Expected outcome of one indicator object.
enum Want {
    /// This many indicators.
    Gives(usize),
    /// Skipped, with these words in the reason.
    Skip(SkipClass, &'static str),
}

use Want::*;

fn cases() -> Vec<(Value, Want)> {
    let p = |pat: String, want| (pat, want);
    let patterns: Vec<(String, Want)> = vec![
        p(format!("[file:hashes.MD5 = '{MD5}']"), Gives(1)),
        p(format!("[file:hashes.'SHA-1' = '{SHA1}']"), Gives(1)),
        p(
            format!("[file:hashes.SHA256 = '{}']", SHA256.to_uppercase()),
            Gives(1),
        ),
        p("[file:name = 'invoice.pdf.exe']".into(), Gives(1)),
        p(r"[file:name MATCHES '^inv[0-9]+\\.exe$']".into(), Gives(1)),
        p("[file:name LIKE 'dropper_%.dll']".into(), Gives(1)),
        p(
            format!(
                "[file:hashes.MD5 = '{MD5}' AND file:hashes.'SHA-256' = '{SHA256}' AND file:size = 1024 AND file:name = 'a.exe']"
            ),
            Gives(2),
        ),
        p("[domain-name:value = 'evil.example']".into(), Gives(1)),
        p("[ipv4-addr:value = '198.51.100.7']".into(), Gives(1)),
        p("[ipv4-addr:value = '203.0.113.0/24']".into(), Gives(1)),
        p("[ipv4-addr:value ISSUBSET '192.0.2.0/25']".into(), Gives(1)),
        p("[ipv6-addr:value = '2001:db8::1']".into(), Gives(1)),
        p(
            "[url:value = 'http://evil.example/gate.php']".into(),
            Gives(1),
        ),
        p("[email-addr:value = 'boss@evil.example']".into(), Gives(1)),
        p(
            "[domain-name:value IN ('a.example', 'b.example', 'c.example')]".into(),
            Gives(3),
        ),
        p(
            format!("[file:hashes.MD5 = '{MD5}'] OR [domain-name:value = 'd.example']"),
            Gives(2),
        ),
        p(
            format!("[file:hashes.MD5 = '{MD5}'] AND [domain-name:value = 'd.example']"),
            Skip(SkipClass::Unsupported, "AND between observations"),
        ),
        p(
            format!("[file:hashes.MD5 = '{MD5}'] FOLLOWEDBY [file:name = 'x']"),
            Skip(SkipClass::Unsupported, "FOLLOWEDBY"),
        ),
        p(
            format!("[file:hashes.MD5 = '{MD5}' AND url:value = 'http://x.example/']"),
            Skip(SkipClass::Unsupported, "AND across different objects"),
        ),
        p(
            "[domain-name:value = 'a.example' AND domain-name:value = 'b.example']".into(),
            Skip(SkipClass::Unsupported, "cannot both hold"),
        ),
        p(
            "[process:name = 'evil.exe']".into(),
            Skip(SkipClass::Unsupported, "process:name"),
        ),
        p(
            "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Run']".into(),
            Skip(SkipClass::Unsupported, "windows-registry-key:key"),
        ),
        p(
            "[domain-name:value NOT = 'a.example']".into(),
            Skip(SkipClass::Unsupported, "NOT"),
        ),
        p(
            "[file:name != 'a.exe']".into(),
            Skip(SkipClass::Unsupported, "!="),
        ),
        p(
            format!("[file:hashes.MD5 = '{MD5}'] WITHIN 60 SECONDS"),
            Skip(SkipClass::Unsupported, "WITHIN"),
        ),
        p(
            format!("[file:hashes.MD5 = '{MD5}'] OR [process:pid = 4]"),
            Skip(SkipClass::Unsupported, "process:pid"),
        ),
        p(
            format!("[file:hashes.MD5 = '{}']", &MD5[..31]),
            Skip(SkipClass::Invalid, "32 hex digits"),
        ),
        p(
            "[ipv4-addr:value = 'x']".into(),
            Skip(SkipClass::Invalid, "not an IP address"),
        ),
        p(
            "[file:name = 'x'".into(),
            Skip(SkipClass::Invalid, "invalid pattern"),
        ),
    ];
    let mut out: Vec<(Value, Want)> = patterns
        .into_iter()
        .enumerate()
        .map(|(i, (pat, want))| (ind(&format!("indicator--p{i:03}"), &pat), want))
        .collect();
    let mut with = |id: &str, f: &dyn Fn(&mut Value), want| {
        let mut v = ind(id, &format!("[file:hashes.MD5 = '{MD5}']"));
        f(&mut v);
        out.push((v, want));
    };
    with(
        "indicator--yara",
        &|v| {
            v["pattern_type"] = json!("yara");
            v["pattern"] = json!("rule x { condition: true }");
        },
        Gives(1),
    );
    with(
        "indicator--snort",
        &|v| {
            v["pattern_type"] = json!("snort");
            v["pattern"] = json!("alert tcp any any -> any any (msg:\"x\";)");
        },
        Skip(SkipClass::Unsupported, "pattern_type 'snort'"),
    );
    with(
        "indicator--sigma",
        &|v| v["pattern_type"] = json!("sigma"),
        Skip(SkipClass::Unsupported, "pattern_type 'sigma'"),
    );
    with(
        "indicator--revoked",
        &|v| v["revoked"] = json!(true),
        Skip(SkipClass::Revoked, "revoked"),
    );
    with(
        "indicator--revoked2",
        &|v| {
            v["revoked"] = json!(true);
            v["valid_until"] = json!("2020-01-01T00:00:00Z");
        },
        Skip(SkipClass::Revoked, "revoked"),
    );
    with(
        "indicator--notrevoked",
        &|v| v["revoked"] = json!(false),
        Gives(1),
    );
    with(
        "indicator--expired",
        &|v| v["valid_until"] = json!("2024-06-01T11:59:59.999Z"),
        Skip(SkipClass::Expired, "valid_until 2024-06-01T11:59:59.999Z"),
    );
    with(
        "indicator--current",
        &|v| v["valid_until"] = json!("2024-06-01T12:00:01Z"),
        Gives(1),
    );
    with(
        "indicator--pattern-number",
        &|v| v["pattern"] = json!(5),
        Skip(SkipClass::Invalid, "'pattern' is a number"),
    );
    with(
        "indicator--confidence-string",
        &|v| v["confidence"] = json!("high"),
        Skip(SkipClass::Invalid, "'confidence' is a string"),
    );
    with(
        "indicator--confidence-big",
        &|v| v["confidence"] = json!(101),
        Skip(SkipClass::Invalid, "'confidence' is 101"),
    );
    with(
        "indicator--bad-time",
        &|v| v["valid_from"] = json!("yesterday"),
        Skip(
            SkipClass::Invalid,
            "'valid_from' is not an RFC 3339 timestamp",
        ),
    );
    with(
        "indicator--no-pattern-type",
        &|v| {
            v.as_object_mut().unwrap().remove("pattern_type");
        },
        Skip(SkipClass::Invalid, "no 'pattern_type'"),
    );
    with(
        "indicator--markings-object",
        &|v| v["object_marking_refs"] = json!({"a": 1}),
        Skip(SkipClass::Invalid, "'object_marking_refs' is an object"),
    );
    with(
        "indicator--huge-pattern",
        &|v| v["pattern"] = json!(format!("[file:name = '{}']", "a".repeat(2 << 20))),
        Skip(SkipClass::Invalid, "longer than"),
    );
    out
}

#[test]
fn every_pattern_form_and_skip_class_with_exact_counts() {
    let cases = cases();
    // Odd order: everything that is not an indicator first, reversed
    // indicators, and junk in between.
    let mut objects: Vec<Value> = vec![
        json!({"type": "report", "id": "report--1", "name": "r",
               "object_refs": (0..5000).map(|i| format!("indicator--{i}")).collect::<Vec<_>>()}),
        json!(42),
        json!({"type": "attack-pattern", "id": "attack-pattern--1", "name": "T1059"}),
        json!("indicator"),
        json!({"type": "x-custom-thing", "id": "x-custom-thing--1", "x_huge": "z".repeat(5 << 20)}),
        json!([{"type": "indicator"}]),
        json!({"id": "indicator--no-type", "pattern": "[file:name = 'x']"}),
        json!({"type": 7, "id": "indicator--type-number"}),
        json!({"type": "indicator", "pattern": "[file:name = 'x']", "pattern_type": "stix"}),
        json!({"type": "file", "id": "file--1", "hashes": {"MD5": MD5}}),
        json!({"type": "relationship", "id": "relationship--uses", "relationship_type": "uses",
               "source_ref": "malware--1", "target_ref": "attack-pattern--1"}),
        json!({"type": "sighting", "id": "sighting--1", "sighting_of_ref": "indicator--p000"}),
        json!(null),
    ];
    objects.extend(cases.iter().rev().map(|(v, _)| v.clone()));
    let bundle = json!({"objects": objects, "id": "bundle--1", "type": "bundle"});
    let l = read_json(&bundle);

    let mut by_id: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &l.indicators {
        *by_id
            .entry(i.provenance.object_id.as_deref().unwrap())
            .or_default() += 1;
    }
    let (mut want_total, mut want_skips) = (0, BTreeMap::new());
    for (v, want) in &cases {
        let id = v["id"].as_str().unwrap();
        match want {
            Gives(n) => {
                assert_eq!(by_id.get(id), Some(n), "{id}: {}", v["pattern"]);
                want_total += n;
            }
            Skip(class, words) => {
                assert_eq!(by_id.get(id), None, "{id} should be skipped");
                let s: Vec<_> = l.skipped.iter().filter(|s| s.id == id).collect();
                assert_eq!(s.len(), 1, "{id}: {s:?}");
                assert_eq!(s[0].class, *class, "{id}: {s:?}");
                assert!(
                    s[0].reason.contains(words),
                    "{id}: {:?} lacks {words:?}",
                    s[0].reason
                );
                *want_skips.entry(*class).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(l.indicators.len(), want_total);
    // The junk elements: 42, "indicator", [..], no type, type 7, no id, null.
    *want_skips.entry(SkipClass::Invalid).or_insert(0) += 7;
    for class in [
        SkipClass::Revoked,
        SkipClass::Expired,
        SkipClass::Unsupported,
        SkipClass::Invalid,
    ] {
        assert_eq!(
            l.skipped_count(class),
            want_skips.get(&class).copied().unwrap_or(0),
            "{class:?}: {:#?}",
            l.skipped
        );
    }
    assert_eq!(l.skipped.len(), want_skips.values().sum::<usize>());
    for (id, words) in [
        ("objects[1]", "a number, not a STIX object"),
        ("objects[3]", "a string"),
        ("objects[5]", "an array"),
        ("objects[6]", "no 'type'"),
        ("objects[7]", "'type' is a number"),
        ("objects[8]", "indicator without an 'id'"),
        ("objects[12]", "null"),
    ] {
        let s = l
            .skipped
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{id}"));
        assert_eq!(s.class, SkipClass::Invalid);
        assert!(s.reason.contains(words), "{id}: {}", s.reason);
    }
    let ignored: Vec<(&str, u64)> = l
        .ignored_types
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        ignored,
        [
            ("attack-pattern", 1),
            ("file", 1),
            ("relationship", 1),
            ("report", 1),
            ("sighting", 1),
            ("x-custom-thing", 1)
        ]
    );

    // The values themselves, for the forms whose conversion matters.
    let values = |id: &str| -> Vec<(Kind, String, Option<u64>)> {
        l.indicators
            .iter()
            .filter(|i| i.provenance.object_id.as_deref() == Some(id))
            .map(|i| (i.kind, i.value.clone(), i.size))
            .collect()
    };
    assert_eq!(
        values("indicator--p002"),
        [(Kind::Sha256, SHA256.to_string(), None)]
    );
    assert_eq!(
        values("indicator--p003"),
        [(
            Kind::FileName,
            r"(^|[/\\])invoice\.pdf\.exe$".to_string(),
            None
        )]
    );
    assert_eq!(
        values("indicator--p004"),
        [(Kind::FileName, r"^inv[0-9]+\.exe$".to_string(), None)]
    );
    assert_eq!(
        values("indicator--p005"),
        [(
            Kind::FileName,
            r"(^|[/\\])dropper[^/\\][^/\\]*\.dll$".to_string(),
            None
        )]
    );
    assert_eq!(
        values("indicator--p006"),
        [
            (Kind::Md5, MD5.to_string(), Some(1024)),
            (Kind::Sha256, SHA256.to_string(), Some(1024))
        ]
    );
    assert_eq!(
        values("indicator--p009"),
        [(Kind::Ipv4, "203.0.113.0/24".to_string(), None)]
    );
    assert_eq!(
        values("indicator--yara"),
        [(Kind::Yara, "rule x { condition: true }".to_string(), None)]
    );
    let i = l
        .indicators
        .iter()
        .find(|i| i.provenance.object_id.as_deref() == Some("indicator--p000"))
        .unwrap();
    assert_eq!(i.provenance.source, "bundle.json");
    assert_eq!(
        (i.score, i.confidence, i.tlp, i.family.as_deref()),
        (100, None, None, None)
    );
    assert_eq!(
        i.valid_from,
        Some(time::macros::datetime!(2024-01-01 00:00 UTC))
    );
}

#[test]
fn markings_families_and_producers_resolve_in_any_order() {
    let tlp1_custom = "marking-definition--00000000-0000-4000-8000-000000000001";
    let tlp2_custom = "marking-definition--00000000-0000-4000-8000-000000000002";
    let statement = "marking-definition--00000000-0000-4000-8000-000000000003";
    let mk = |id: &str, refs: Value, extra: Value| {
        let mut v = ind(id, &format!("[file:hashes.MD5 = '{MD5}']"));
        v["object_marking_refs"] = refs;
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let objects = vec![
        // Relationships and indicators before what they point to.
        json!({"type": "relationship", "id": "relationship--1", "relationship_type": "indicates",
               "source_ref": "indicator--a", "target_ref": "malware--emotet"}),
        json!({"type": "relationship", "id": "relationship--2", "relationship_type": "indicates",
               "source_ref": "indicator--b", "target_ref": "malware--nameless"}),
        json!({"type": "relationship", "id": "relationship--3", "relationship_type": "indicates",
               "source_ref": "indicator--c", "target_ref": "tool--1"}),
        mk(
            "indicator--a",
            json!([Tlp::Green.stix_id()]),
            json!({"created_by_ref": "identity--cert", "confidence": 80, "name": "Emotet loader"}),
        ),
        // TLP 1.0 ids of STIX 2.1 section 7.2.1.4.
        mk(
            "indicator--b",
            json!(["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]),
            json!({"created_by_ref": "identity--unknown"}),
        ),
        mk(
            "indicator--c",
            json!([tlp1_custom]),
            json!({"confidence": 0}),
        ),
        mk(
            "indicator--d",
            json!([tlp2_custom, Tlp::Green.stix_id(), statement]),
            json!({}),
        ),
        mk(
            "indicator--e",
            json!([statement, "marking-definition--missing"]),
            json!({}),
        ),
        mk(
            "indicator--f",
            json!([
                "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
                Tlp::Clear.stix_id()
            ]),
            json!({}),
        ),
        json!({"type": "malware", "id": "malware--emotet", "name": "Emotet", "is_family": true,
               "aliases": ["Geodo"]}),
        json!({"type": "malware", "id": "malware--nameless", "is_family": false}),
        json!({"type": "identity", "id": "identity--cert", "name": "CERT-X", "identity_class": "organization"}),
        json!({"type": "marking-definition", "id": tlp1_custom, "definition_type": "tlp",
               "definition": {"tlp": "white"}}),
        json!({"type": "marking-definition", "id": tlp2_custom, "name": "TLP:AMBER+STRICT",
               "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
                   {"extension_type": "property-extension", "tlp_2_0": "amber+strict"}}}),
        json!({"type": "marking-definition", "id": statement, "definition_type": "statement",
               "definition": {"statement": "Copyright X"}}),
        json!({"type": "marking-definition", "id": "marking-definition--bad", "definition_type": "tlp",
               "definition": {"tlp": "purple"}}),
    ];
    let l = read_json(&json!({"type": "bundle", "id": "bundle--2", "objects": objects}));
    let get = |id: &str| {
        l.indicators
            .iter()
            .find(|i| i.provenance.object_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("{id}: {l:#?}"))
    };
    let a = get("indicator--a");
    assert_eq!(a.family.as_deref(), Some("Emotet"));
    assert_eq!(a.provenance.producer.as_deref(), Some("CERT-X"));
    assert_eq!(
        (a.tlp, a.confidence, a.score),
        (Some(Tlp::Green), Some(80), 80)
    );
    assert_eq!(a.name.as_deref(), Some("Emotet loader"));
    let b = get("indicator--b");
    assert_eq!(
        (b.family.as_deref(), b.provenance.producer.as_deref()),
        (None, None)
    );
    assert_eq!(b.tlp, Some(Tlp::Amber));
    let c = get("indicator--c");
    assert_eq!(
        (c.family.as_deref(), c.tlp, c.score),
        (None, Some(Tlp::Clear), 0)
    );
    // With several, the most restrictive.
    assert_eq!(get("indicator--d").tlp, Some(Tlp::AmberStrict));
    assert_eq!(get("indicator--e").tlp, None);
    assert_eq!(get("indicator--f").tlp, Some(Tlp::Red));
    assert_eq!(l.indicators.len(), 6);
    // The one broken marking is reported; the `indicates` to a tool is
    // another relationship.
    assert_eq!(l.skipped.len(), 1, "{:?}", l.skipped);
    assert_eq!(l.skipped[0].id, "marking-definition--bad");
    assert!(l.skipped[0].reason.contains("purple"));
    assert_eq!(l.ignored_types.get("relationship"), Some(&1));
}

/// A bundle made on the fly, never whole in memory: `n` indicators
/// (alternately a hash and a domain), each followed by a relationship to
/// one malware, which comes last.
struct Generated {
    n: usize,
    next: usize,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Generated {
    fn new(n: usize) -> Generated {
        Generated {
            n,
            next: 0,
            buf: br#"{"type":"bundle","id":"bundle--big","objects":["#.to_vec(),
            pos: 0,
            done: false,
        }
    }

    fn refill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        if self.next < self.n {
            let i = self.next;
            let pattern = if i.is_multiple_of(2) {
                format!("[file:hashes.'SHA-256' = '{i:064x}']")
            } else {
                format!("[domain-name:value = 'host{i}.example']")
            };
            let o = json!({
                "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{i}"),
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "name": format!("ioc {i}"), "pattern": pattern, "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00Z", "created_by_ref": "identity--p",
                "object_marking_refs": [Tlp::Amber.stix_id()],
                "labels": ["malicious-activity"]
            });
            let r = json!({"type": "relationship", "id": format!("relationship--{i}"),
                "relationship_type": "indicates", "source_ref": format!("indicator--{i}"),
                "target_ref": "malware--m"});
            if i > 0 {
                self.buf.push(b',');
            }
            serde_json::to_writer(&mut self.buf, &o).unwrap();
            self.buf.push(b',');
            serde_json::to_writer(&mut self.buf, &r).unwrap();
            self.next += 1;
        } else if !self.done {
            self.buf.extend_from_slice(
                br#",{"type":"malware","id":"malware--m","name":"Big","is_family":true},{"type":"identity","id":"identity--p","name":"P"}]}"#,
            );
            self.done = true;
        }
    }
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.refill();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn a_large_bundle_streams() {
    // TAKEDOWN_STIX_N=1000000 (release build, /usr/bin/time -v) for the
    // benchmark's size.
    let n: usize = std::env::var("TAKEDOWN_STIX_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let start = std::time::Instant::now();
    let l = read::read(Generated::new(n), &opts()).unwrap();
    eprintln!("{n} indicators read in {:?}", start.elapsed());
    assert_eq!(l.indicators.len(), n);
    assert!(l.skipped.is_empty());
    assert!(l.ignored_types.is_empty());
    let counts = l.counts();
    assert_eq!(counts.get(&Kind::Sha256), Some(&(n / 2)));
    assert_eq!(counts.get(&Kind::Domain), Some(&(n / 2)));
    assert!(
        l.indicators
            .iter()
            .all(|i| i.family.as_deref() == Some("Big")
                && i.provenance.producer.as_deref() == Some("P")
                && i.tlp == Some(Tlp::Amber))
    );
    assert_eq!(l.indicators[7].value, "host7.example");
    assert_eq!(l.indicators[7].name.as_deref(), Some("ioc 7"));

    // Through the sniffer too (the generator is not seekable: the sniffed
    // head is put back in front).
    let (format, l) = tjson::read(Generated::new(1000), &opts()).unwrap();
    assert_eq!((format, l.indicators.len()), (Format::Stix, 1000));
}

#[test]
fn truncated_and_broken_files_are_format_errors() {
    let mut whole = Vec::new();
    Generated::new(50).read_to_end(&mut whole).unwrap();
    let cut = &whole[..whole.len() / 2];
    match read::read(cut, &opts()) {
        Err(ReadError::Format(m)) => {
            assert!(
                m.contains("bundle.json") && m.contains("line 1 column"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        &b"\x00\x01"[..],
        b"{\"objects\": {}}",
        b"[{\"type\":\"bundle\"}]",
        b"\"bundle\"",
    ] {
        assert!(
            matches!(read::read(bad, &opts()), Err(ReadError::Format(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk gone"))
        }
    }
    assert!(matches!(
        read::read(Failing, &opts()),
        Err(ReadError::Io(_))
    ));
}

#[test]
fn json_files_are_recognised_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let stix = dir.path().join("a.json");
    let mut bytes = b"\xEF\xBB\xBF\n  ".to_vec();
    bytes.extend(
        serde_json::to_vec(&json!({"id": "bundle--1", "objects": [ind("indicator--1", "[domain-name:value = 'x.example']")], "type": "bundle"}))
            .unwrap(),
    );
    std::fs::write(&stix, &bytes).unwrap();
    let (format, l) = tjson::read_path(&stix, &opts()).unwrap();
    assert_eq!((format, l.indicators.len()), (Format::Stix, 1));

    let misp = dir.path().join("b.json");
    std::fs::write(
        &misp,
        serde_json::to_vec(&json!({"Event": {
            "uuid": "5b1d6a5e-0000-4000-8000-000000000001", "info": "test event",
            "Orgc": {"name": "CIRCL"},
            "Attribute": [
                {"uuid": "5b1d6a5e-0000-4000-8000-000000000002", "type": "md5", "category": "Payload delivery",
                 "value": MD5, "to_ids": true}
            ]
        }}))
        .unwrap(),
    )
    .unwrap();
    let (format, l) = tjson::read_path(&misp, &opts()).unwrap();
    assert_eq!(format, Format::Misp);
    assert_eq!(l.indicators.len(), 1, "{l:?}");
    assert_eq!(l.indicators[0].value, MD5);

    let neither = dir.path().join("c.json");
    std::fs::write(&neither, b"{\"rules\": []}").unwrap();
    assert!(
        matches!(tjson::read_path(&neither, &opts()), Err(ReadError::Format(m)) if m.contains("neither"))
    );

    // Over the size limit: refused before reading (a sparse file).
    let huge = dir.path().join("d.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(tjson::MAX_JSON_FILE + 1)
        .unwrap();
    assert!(
        matches!(tjson::read_path(&huge, &opts()), Err(ReadError::Format(m)) if m.contains("larger than"))
    );
    match tjson::read_path(&dir.path().join("missing.json"), &opts()) {
        Err(ReadError::Io(e)) => assert!(e.to_string().contains("missing.json"), "{e}"),
        other => panic!("{other:?}"),
    }
}

/// The `stix2` library builds the bundle (its serialisation, its
/// patterns, its TLP markings); we must read what it means.
#[test]
fn bundles_made_by_stix2_read_as_expected() {
    let Some(py) = common::python() else { return };
    let cases = json!([
        [format!("[file:hashes.MD5 = '{MD5}']"), 1],
        [
            format!("[file:hashes.'SHA-256' = '{SHA256}' OR file:hashes.'SHA-1' = '{SHA1}']"),
            2
        ],
        [
            format!(
                "[file:hashes.'SHA-256' = '{SHA256}' AND file:size = 3 AND file:name = 'x.bin']"
            ),
            1
        ],
        ["[file:name = 'payload.js']", 1],
        [
            "[domain-name:value = 'c2.example.net'] OR [ipv4-addr:value = '198.51.100.0/24']",
            2
        ],
        ["[ipv6-addr:value ISSUBSET '2001:db8::/48']", 1],
        [
            "[url:value = 'https://c2.example.net/a'] OR [email-addr:value = 'x@example.org']",
            2
        ],
        ["[domain-name:value IN ('a.example', 'b.example')]", 2],
        [
            format!("[file:hashes.MD5 = '{MD5}'] AND [url:value = 'http://x.example/']"),
            "unsupported"
        ],
        ["[process:command_line MATCHES 'powershell']", "unsupported"],
        [
            "[network-traffic:dst_port = 443] WITHIN 10 SECONDS",
            "unsupported"
        ],
        [
            "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = 'x.example']",
            "unsupported"
        ],
        ["[ipv4-addr:value = '999.1.1.1']", "invalid"]
    ]);
    let script = r#"
import json, sys, stix2
cases = json.loads(sys.argv[1])
ident = stix2.Identity(name="CERT-Oracle", identity_class="organization")
mal = stix2.Malware(name="Qakbot", is_family=True)
objs = []
for i, (pattern, _) in enumerate(cases):
    ind = stix2.Indicator(id="indicator--00000000-0000-4000-8000-%012d" % i, pattern=pattern,
                          pattern_type="stix", valid_from="2024-01-01T00:00:00Z",
                          created_by_ref=ident, object_marking_refs=[stix2.TLP_AMBER],
                          confidence=70, name="case %d" % i)
    objs.append(ind)
    objs.append(stix2.Relationship(ind, "indicates", mal))
yara = stix2.Indicator(pattern="rule r { condition: false }", pattern_type="yara",
                       valid_from="2024-01-01T00:00:00Z")
old = stix2.Indicator(pattern="[domain-name:value = 'old.example']", pattern_type="stix",
                      valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z")
revoked = stix2.Indicator(pattern="[domain-name:value = 'r.example']", pattern_type="stix",
                          valid_from="2020-01-01T00:00:00Z", revoked=True)
report = stix2.Report(name="r", published="2024-01-01T00:00:00Z", object_refs=[o.id for o in objs[:4]])
ap = stix2.AttackPattern(name="T1059")
# Order as a producer might: the referenced objects last.
print(stix2.Bundle(objects=objs[::-1] + [yara, old, revoked, report, ap, mal, ident, stix2.TLP_AMBER]).serialize())
"#;
    let out = common::run_python(&py, script, &[&cases.to_string()]);
    let l = read::read(out.as_bytes(), &opts()).unwrap();
    let mut want_total = 1; // the YARA one
    for (i, case) in cases.as_array().unwrap().iter().enumerate() {
        let id = format!("indicator--00000000-0000-4000-8000-{i:012}");
        let got: Vec<_> = l
            .indicators
            .iter()
            .filter(|x| x.provenance.object_id.as_deref() == Some(&id))
            .collect();
        match &case[1] {
            Value::Number(n) => {
                let n = n.as_u64().unwrap() as usize;
                assert_eq!(got.len(), n, "{}: {:?}", case[0], l.skipped);
                want_total += n;
                for x in got {
                    assert_eq!(x.family.as_deref(), Some("Qakbot"));
                    assert_eq!(x.provenance.producer.as_deref(), Some("CERT-Oracle"));
                    assert_eq!(x.tlp, Some(Tlp::Amber));
                    assert_eq!((x.confidence, x.score), (Some(70), 70));
                    assert_eq!(x.name, Some(format!("case {i}")));
                }
            }
            Value::String(class) => {
                assert!(got.is_empty());
                let s = l
                    .skipped
                    .iter()
                    .find(|s| s.id == id)
                    .unwrap_or_else(|| panic!("{id}"));
                assert_eq!(s.class.as_str(), class, "{}: {}", case[0], s.reason);
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(l.indicators.len(), want_total);
    assert_eq!(l.counts().get(&Kind::Yara), Some(&1));
    assert_eq!(l.skipped_count(SkipClass::Expired), 1);
    assert_eq!(l.skipped_count(SkipClass::Revoked), 1);
    assert_eq!(l.skipped_count(SkipClass::Unsupported), 4);
    assert_eq!(l.skipped_count(SkipClass::Invalid), 1);
    assert_eq!(l.ignored_types.get("report"), Some(&1));
    assert_eq!(l.ignored_types.get("attack-pattern"), Some(&1));
}

/// `stix2-patterns` (the reference grammar) and our parser agree on what
/// is a valid pattern.
#[test]
fn pattern_syntax_agrees_with_stix2_patterns() {
    let Some(py) = common::python() else { return };
    let corpus = [
        "[file:name = 'x']",
        "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
        "[file:hashes.SHA-256 = 'aa']",
        "[file:name = 'x' and file:size = 1]",
        "[file:name = 'a\\d']",
        "[file:name = 'a\\\\d' OR file:name = 'it\\'s']",
        "[x:y = h'abc']",
        "[x:y = h'abcd']",
        "[x:y = b'AAEC']",
        "[x:y NOT IN ('a')]",
        "[x:y IN ('a', 1, true)]",
        "[x:y > true]",
        "[x:y > 1.5]",
        "[x:y = .5]",
        "[x:y = +5]",
        "[x:y = -5]",
        "[x:y = t'2020-01-01T00:00:00Z']",
        "[x:y = t'2020-01-01T00:00:00.123456Z']",
        "[x:y = t'2020-01-01T00:00:00+01:00']",
        "[x-y:z = 1]",
        "[x:y[*] = 1]",
        "[x:y[0].z = 1]",
        "[x:'y' = 1]",
        "[file:name = 'x'] WITHIN 0 SECONDS",
        "[file:name = 'x'] WITHIN 5 SECONDS REPEATS 2 TIMES",
        "[file:name = 'x'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
        "[file:name = 'x'] START '2020' STOP '2021'",
        "([a:b = 1] OR [c:d = 2]) AND [e:f = 3]",
        "[a:b = 1] FOLLOWEDBY [c:d = 2]",
        "[(a:b = 1 OR a:c = 2) AND a:d = 3]",
        "[a:b = 1",
        "a:b = 1",
        "[]",
        "[a:b]",
        "[a:b == 1]",
        "[a:b =< 1]",
        "[a:b LIKE 'x%']",
        "[a:b LIKE 5]",
        "[a:b MATCHES '^x$']",
        "[a:b ISSUBSET '10.0.0.0/8']",
        "[a:b ISSUPERSET '10.0.0.0/8']",
        "[EXISTS a:b]",
        "[a:b = 1] AND",
        "[a:b = 1] and [a:c = 2]",
        "[a:b <> 1]",
        "[a:b != 1]",
        "[a:b = 'x'] REPEATS 2 TIMES WITHIN 3 SECONDS",
    ];
    let out = common::run_python(
        &py,
        "import json, sys\nfrom stix2patterns.validator import run_validator\nprint(json.dumps([not run_validator(p) for p in json.loads(sys.argv[1])]))",
        &[&serde_json::to_string(&corpus[..]).unwrap()],
    );
    let theirs: Vec<bool> = serde_json::from_str(out.trim()).unwrap();
    let mut disagree = Vec::new();
    for (p, valid) in corpus.iter().zip(theirs) {
        let ours = pattern::parse(p);
        if ours.is_ok() != valid {
            disagree.push(format!("{p}: stix2-patterns {valid}, ours {ours:?}"));
        }
    }
    assert!(disagree.is_empty(), "{disagree:#?}");
}
