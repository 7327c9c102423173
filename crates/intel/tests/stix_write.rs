//! STIX 2.1 export checked by the reference tools: our deterministic SCO
//! ids equal the `stix2` library's, and the bundles we write pass
//! `stix2_validator --strict` and round-trip through `stix2.parse`.

mod common;

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use takedown_intel::Tlp;
use takedown_intel::records::{
    ActionRecord, DetectionRecord, FindingRecord, ProblemRecord, Run, SummaryRecord,
};
use takedown_intel::stix::ids::{file_id, sco_id, value_sco_id};
use takedown_intel::stix::write::{StixOptions, WriteStats, write_bundle};

const SHA_A: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
const SHA_B: &str = "2546dcffc5ad854d4ddc64fbf056871cd5a00f2471cb7a5bfd4ac23b6e9eedad";
const SHA_C: &str = "E1105070BA828007508566E28A2B8D4C65D192E9EAF3B7868382B7CAE747B397";
const PARTNER: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

/// Our ids for the cases, and the ids `stix2` computes for the same
/// objects, side by side.
#[test]
fn sco_ids_equal_stix2s() {
    let Some(py) = common::python() else { return };
    // (sha256, md5, sha1, name)
    type Case = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    let sha1 = "3395856ce81f2b7382dee72602f798b642f14140";
    let files: Vec<Case> = vec![
        (Some(SHA_A), None, None, None),
        (Some(SHA_A), None, None, Some("eicar.com")),
        (Some(SHA_A), Some(md5), None, Some("eicar.com")),
        (Some(SHA_A), Some(md5), Some(sha1), None),
        (Some(SHA_A), None, Some(sha1), Some("x")),
        (None, None, None, Some("only-a-name.exe")),
        (
            Some(SHA_B),
            None,
            None,
            Some("r\u{e9}sum\u{e9} \u{1f600} \u{6587}\u{4ef6}.pdf.exe"),
        ),
        (
            Some(SHA_B),
            None,
            None,
            Some("quote\" back\\slash 'single' /slash"),
        ),
        (
            Some(SHA_B),
            None,
            None,
            Some("ctl\n\t\r\u{1}\u{1f}\u{7f}\u{8}\u{c}\u{2028}end"),
        ),
        (Some(SHA_B), None, None, Some("\u{fb33}\u{ffff}\u{10ffff}")),
    ];
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for (sha256, m, s1, name) in &files {
        let mut hashes = Map::new();
        if let Some(h) = sha256 {
            hashes.insert("SHA-256".into(), json!(h));
        }
        if let Some(h) = m {
            hashes.insert("MD5".into(), json!(h));
        }
        if let Some(h) = s1 {
            hashes.insert("SHA-1".into(), json!(h));
        }
        let mut props = Map::new();
        if !hashes.is_empty() {
            props.insert("hashes".into(), Value::Object(hashes.clone()));
        }
        if let Some(n) = name {
            props.insert("name".into(), json!(n));
        }
        cases.push(json!({"type": "file", "props": props}));
        let id = file_id(*sha256, *m, *s1, *name);
        // The general function, given the whole map, agrees.
        assert_eq!(id, sco_id("file", &props), "{props:?}");
        ours.push(id);
    }
    let values = [
        ("domain-name", "evil.example"),
        ("domain-name", "b\u{fc}cher.example"),
        ("ipv4-addr", "198.51.100.7"),
        ("ipv4-addr", "198.51.100.0/24"),
        ("ipv6-addr", "2001:db8::1"),
        ("url", "http://evil.example/a?b=\"c\"&d=\\e"),
        ("email-addr", "boss@evil.example"),
    ];
    for (t, v) in values {
        cases.push(json!({"type": t, "props": {"value": v}}));
        ours.push(value_sco_id(t, v));
    }
    // Numbers go through the canonicalizer's ECMAScript formatting.
    for n in [15139u64, 0, 4_294_967_295] {
        let mut m = Map::new();
        m.insert("number".into(), json!(n));
        cases.push(json!({"type": "autonomous-system", "props": m}));
        ours.push(sco_id("autonomous-system", &m));
    }
    let script = r#"
import json, sys, stix2
cls = {"file": stix2.File, "domain-name": stix2.DomainName, "ipv4-addr": stix2.IPv4Address,
       "ipv6-addr": stix2.IPv6Address, "url": stix2.URL, "email-addr": stix2.EmailAddress,
       "autonomous-system": stix2.AutonomousSystem}
for c in json.loads(sys.argv[1]):
    print(cls[c["type"]](**c["props"]).id)
"#;
    let arg = serde_json::to_string(&cases).unwrap();
    let out = common::run_python(&py, script, &[&arg]);
    let theirs: Vec<&str> = out.lines().collect();
    assert_eq!(theirs.len(), ours.len(), "{out}");
    for ((ours, theirs), case) in ours.iter().zip(&theirs).zip(&cases) {
        assert_eq!(ours, theirs, "{case}");
    }
}

fn detection(name: &str, meta: &[(&str, &str)]) -> DetectionRecord {
    DetectionRecord {
        engine: "yara".into(),
        name: name.into(),
        score: 100,
        tags: vec![],
        metadata: meta
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
        source: "rules.yar".into(),
    }
}

fn finding(path: &str, chain: &[&str], sha: &str, dets: Vec<DetectionRecord>) -> FindingRecord {
    FindingRecord {
        path: path.into(),
        chain: chain.iter().map(|s| s.to_string()).collect(),
        size: Some(68),
        sha256: Some(sha.into()),
        detections: dets,
        ..Default::default()
    }
}

fn run(host: &str, started: &str, elapsed: f64, findings: Vec<FindingRecord>) -> Run {
    Run {
        origin: format!("{host}.ndjson"),
        findings,
        summary: Some(SummaryRecord {
            host: Some(host.into()),
            started: Some(started.into()),
            elapsed_seconds: elapsed,
            ..Default::default()
        }),
        ..Default::default()
    }
}

const HOSTILE: &str = "evil\"name\\with'quotes\n</script><b>\u{202e}exe.txt\u{0}\u{1f600}";

/// Two hosts; the EICAR content on both (twice on pc1); a content inside
/// a container with a family; a detection from a partner's indicator; a
/// finding with problems only; hostile names everywhere.
fn sample_runs() -> Vec<Run> {
    let eicar = || detection("EICAR_Test", &[]);
    let pc1 = run(
        "pc1.corp.example",
        "2026-03-01T10:00:00Z",
        12.25,
        vec![
            finding("/home/u/eicar.com", &[], SHA_A, vec![eicar()]),
            finding("/home/u/copy/eicar.com", &[], SHA_A, vec![eicar()]),
            finding(
                "/home/u/mail.eml",
                &["invoice.zip", "docs/invoice.doc.exe"],
                SHA_B,
                vec![
                    detection("Nymaim_Loader", &[("malware_family", "Nymaim")]),
                    detection("Generic_Dropper", &[("family", "Nymaim")]),
                    detection(
                        "Partner_Hash",
                        &[("indicator", PARTNER), ("malware_family", "Gozi")],
                    ),
                ],
            ),
            FindingRecord {
                path: "/home/u/locked.zip".into(),
                problems: vec![ProblemRecord {
                    kind: "encrypted".into(),
                    limit: None,
                    message: "password protected".into(),
                }],
                ..Default::default()
            },
        ],
    );
    let pc2 = run(
        HOSTILE,
        "2026-03-02T08:30:00.5Z",
        3.0,
        vec![
            finding(
                &format!("C:\\Users\\x\\{HOSTILE}"),
                &[],
                SHA_A,
                vec![eicar()],
            ),
            FindingRecord {
                action: Some(ActionRecord {
                    action: "quarantine".into(),
                    status: "done".into(),
                    ..Default::default()
                }),
                ..finding(
                    "/tmp/h",
                    &[HOSTILE],
                    SHA_C,
                    vec![detection(
                        HOSTILE,
                        &[("malware_family", HOSTILE), ("indicator", "not-an-id")],
                    )],
                )
            },
        ],
    );
    vec![pc1, pc2]
}

fn opts(tlp: Tlp) -> StixOptions {
    StixOptions {
        tlp,
        producer: "CERT \"Example\" <cert@example>".into(),
        now: time::OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap(),
    }
}

fn write(runs: &[Run], tlp: Tlp) -> (Vec<u8>, WriteStats) {
    let mut out = Vec::new();
    let stats = write_bundle(runs, &opts(tlp), &mut out).unwrap();
    (out, stats)
}

fn objects_by_type(bundle: &Value) -> BTreeMap<String, Vec<Value>> {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for o in bundle["objects"].as_array().unwrap() {
        m.entry(o["type"].as_str().unwrap().to_string())
            .or_default()
            .push(o.clone());
    }
    m
}

#[test]
fn bundle_content_and_counts() {
    let runs = sample_runs();
    let (bytes, stats) = write(&runs, Tlp::Amber);
    let (again, _) = write(&runs, Tlp::Amber);
    assert!(bytes == again, "writing twice gave different bytes");

    assert_eq!(stats.findings, 6);
    assert_eq!(stats.exported, 5);
    assert_eq!(stats.without_detections, 1);
    assert_eq!(stats.without_hash, 0);
    assert_eq!(stats.foreign_indicator_refs, 1);
    assert_eq!(stats.hosts, 2);
    assert_eq!(stats.files, 3);
    assert_eq!(stats.observed_data, 4);
    assert_eq!(stats.families, 3);
    assert_eq!(stats.partner_sightings, 1);

    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(bundle["type"], "bundle");
    let objs = bundle["objects"].as_array().unwrap();
    assert_eq!(stats.objects as usize, objs.len());
    let by = objects_by_type(&bundle);
    let ids: BTreeSet<&str> = objs.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), objs.len(), "duplicate ids");

    // Markings and authorship on everything.
    let marking = Tlp::Amber.stix_id();
    let producer = &by["identity"]
        .iter()
        .find(|o| o["identity_class"] == "organization")
        .unwrap()["id"];
    for o in objs {
        if o["type"] == "marking-definition" {
            assert_eq!(o["id"], marking);
            assert_eq!(o["name"], "TLP:AMBER");
            continue;
        }
        assert_eq!(o["object_marking_refs"], json!([marking]), "{o}");
        if o["type"] == "file" {
            assert!(o.get("created_by_ref").is_none());
        } else {
            assert_eq!(&o["created_by_ref"], producer, "{o}");
        }
    }

    // The hostile host name arrives intact (JSON-escaped, not cut).
    let host_names: BTreeSet<&str> = by["identity"]
        .iter()
        .filter(|o| o["identity_class"] == "system")
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(host_names, BTreeSet::from(["pc1.corp.example", HOSTILE]));

    // Names from the innermost object of the chain.
    let file_names: BTreeSet<&str> = by["file"]
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(file_names.contains("invoice.doc.exe"), "{file_names:?}");
    assert!(file_names.contains("eicar.com"));
    // An uppercase hash was normalised.
    assert!(
        bytes
            .windows(64)
            .any(|w| w == SHA_C.to_ascii_lowercase().as_bytes())
    );

    // Sightings: EICAR 3 times on 2 hosts; the partner's indicator once.
    let ind_a = by["indicator"]
        .iter()
        .find(|o| o["pattern"].as_str().unwrap().contains(SHA_A))
        .unwrap();
    assert_eq!(
        ind_a["pattern"],
        format!("[file:hashes.'SHA-256' = '{SHA_A}']")
    );
    assert_eq!(ind_a["valid_from"], "2026-03-01T10:00:00.000Z");
    let s_a = by["sighting"]
        .iter()
        .find(|o| o["sighting_of_ref"] == ind_a["id"])
        .unwrap();
    assert_eq!(s_a["count"], 3);
    assert_eq!(s_a["first_seen"], "2026-03-01T10:00:00.000Z");
    assert_eq!(s_a["last_seen"], "2026-03-02T08:30:03.500Z");
    assert_eq!(s_a["where_sighted_refs"].as_array().unwrap().len(), 2);
    let ods = s_a["observed_data_refs"].as_array().unwrap();
    assert_eq!(ods.len(), 2);
    let counts: Vec<u64> = ods
        .iter()
        .map(|id| {
            by["observed-data"].iter().find(|o| &o["id"] == id).unwrap()["number_observed"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 3);
    assert!(counts.contains(&2) && counts.contains(&1));
    let partner = by["sighting"]
        .iter()
        .find(|o| o["sighting_of_ref"] == PARTNER)
        .unwrap();
    assert_eq!(partner["count"], 1);

    // Families: Nymaim (two detections, one malware object), Gozi, the
    // hostile one; each with an `indicates` relationship from SHA_B's or
    // SHA_C's indicator.
    let fams: BTreeSet<&str> = by["malware"]
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(fams, BTreeSet::from(["Gozi", "Nymaim", HOSTILE]));
    assert_eq!(by["relationship"].len(), 3);
    for r in &by["relationship"] {
        assert_eq!(r["relationship_type"], "indicates");
        assert!(ids.contains(r["source_ref"].as_str().unwrap()));
        assert!(ids.contains(r["target_ref"].as_str().unwrap()));
    }

    // The report lists every object of the bundle but the marking.
    let report = &by["report"][0];
    let refs: BTreeSet<&str> = report["object_refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut all = ids.clone();
    all.remove(report["id"].as_str().unwrap());
    all.remove(marking);
    assert_eq!(refs, all);
    assert_eq!(report["published"], "2026-03-02T08:30:03.500Z");
}

#[test]
fn ids_stay_when_runs_are_added_and_bundle_id_changes() {
    let runs = sample_runs();
    let (one, _) = write(&runs[..1], Tlp::Amber);
    let (both, _) = write(&runs, Tlp::Amber);
    let one: Value = serde_json::from_slice(&one).unwrap();
    let both: Value = serde_json::from_slice(&both).unwrap();
    assert_ne!(one["id"], both["id"]);
    let ids = |b: &Value, t: &str| -> BTreeSet<String> {
        b["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["type"] == t)
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    };
    // The indicators and file objects of the first run are the same
    // objects in the merged export (updated, not duplicated).
    for t in ["indicator", "file", "malware"] {
        let a = ids(&one, t);
        assert!(a.is_subset(&ids(&both, t)), "{t}");
    }
}

#[test]
fn reference_tools_accept_the_bundles() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let runs = sample_runs();
    let mut paths = Vec::new();
    let cases: Vec<(Tlp, &[Run])> = vec![
        (Tlp::Clear, &runs[..]),
        (Tlp::Green, &runs[..1]),
        (Tlp::Amber, &runs[..]),
        (Tlp::AmberStrict, &runs[1..]),
        (Tlp::Red, &[]),
    ];
    for (tlp, runs) in &cases {
        let (bytes, _) = write(runs, *tlp);
        let p = dir
            .path()
            .join(format!("{}.json", tlp.as_str().replace('+', "-")));
        std::fs::write(&p, bytes).unwrap();
        paths.push(p);
    }
    let validator = common::venv_tool(&py, "stix2_validator");
    let out = Command::new(&validator)
        .arg("--strict")
        .args(&paths)
        .output()
        .expect("run stix2_validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "stix2_validator --strict failed:\n{text}"
    );
    assert_eq!(
        text.matches("STIX JSON: Valid").count(),
        paths.len(),
        "{text}"
    );
    assert!(!text.contains("[X]") && !text.contains("[!]"), "{text}");

    // stix2 parses each without custom content, and computes the same
    // file ids from the file objects' own properties.
    let script = r#"
import json, sys, stix2
for p in sys.argv[1:]:
    b = stix2.parse(open(p, encoding="utf-8").read(), allow_custom=False)
    files = 0
    for o in b.objects:
        if o.type == "file":
            again = stix2.File(hashes=dict(o.hashes), name=o.get("name"))
            assert again.id == o.id, (o.id, again.id)
            files += 1
    print(len(b.objects), files)
"#;
    let args: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    let out = common::run_python(&py, script, &args);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), paths.len(), "{out}");
    for ((tlp, runs), line) in cases.iter().zip(&lines) {
        let (bytes, stats) = write(runs, *tlp);
        let _ = bytes;
        assert_eq!(*line, format!("{} {}", stats.objects, stats.files), "{tlp}");
    }
}
