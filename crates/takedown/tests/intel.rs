//! STIX 2.1 and MISP through the real binary: indicators read wherever
//! signatures are read (`scan -s`, `sigs check`, signed bundles), and
//! findings written as STIX, MISP, MISP feeds and HTML, each read back by
//! the reference tool of its ecosystem (stix2-validator and stix2, PyMISP),
//! which `.ci/run` installs into `.venv`.

mod util;

use serde_json::{Value, json};
use sha2::Digest;
use util::*;

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

fn md5(b: &[u8]) -> String {
    hex::encode(md5::Md5::digest(b))
}

/// Harmless files, each detected by one kind of indicator.
struct Samples {
    by_sha256: Vec<u8>,
    by_md5: Vec<u8>,
    by_name: Vec<u8>,
    by_hash_and_size: Vec<u8>,
    by_yara: Vec<u8>,
    misp_md5: Vec<u8>,
    misp_filename_sha256: Vec<u8>,
    misp_not_for_ids: Vec<u8>,
    revoked: Vec<u8>,
    clean: Vec<u8>,
}

fn samples() -> Samples {
    let f = |s: &str| format!("takedown intel test sample: {s}\n").into_bytes();
    Samples {
        by_sha256: f("sha256"),
        by_md5: f("md5"),
        by_name: f("name"),
        by_hash_and_size: f("hash and size"),
        by_yara: f("yara marker-7f3a"),
        misp_md5: f("misp md5"),
        misp_filename_sha256: f("misp filename|sha256"),
        misp_not_for_ids: f("misp to_ids false"),
        revoked: f("revoked"),
        clean: f("clean"),
    }
}

fn plant(t: &Tree, s: &Samples) {
    t.write("target/a/by_sha256.bin", &s.by_sha256);
    t.write("target/a/by_md5.bin", &s.by_md5);
    t.write("target/b/dropper_unique.exe", &s.by_name);
    t.write("target/b/sized.bin", &s.by_hash_and_size);
    t.write("target/b/yara.txt", &s.by_yara);
    t.write("target/c/misp_md5.bin", &s.misp_md5);
    t.write("target/c/invoice.scr", &s.misp_filename_sha256);
    t.write("target/c/context.bin", &s.misp_not_for_ids);
    t.write("target/c/revoked.bin", &s.revoked);
    t.write("target/c/clean.txt", &s.clean);
}

const T: &str = "2026-01-01T00:00:00.000Z";

fn indicator(id: &str, pattern: &str, extra: Value) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": T, "modified": T, "name": format!("ind {id}"),
        "pattern": pattern, "pattern_type": "stix", "valid_from": T,
        "created_by_ref": "identity--5a8b0d2c-6a45-4f56-9b1e-0c9d3b1f2a11",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    v
}

const MALWARE: &str = "malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061";
const IND_SHA256: &str = "indicator--11111111-1111-4111-8111-111111111111";

/// A bundle with every supported pattern form and a mix of what is not
/// used; relationships and identities come after the indicators that
/// need them.
fn stix_bundle(s: &Samples) -> Value {
    let id = |n: u32| format!("indicator--{n:08x}-2222-4222-8222-222222222222");
    let mut objects = vec![
        indicator(
            IND_SHA256,
            &format!("[file:hashes.'SHA-256' = '{}']", sha256(&s.by_sha256)),
            json!({"confidence": 85}),
        ),
        indicator(
            &id(1),
            &format!(
                "[file:hashes.MD5 = '{}' OR file:hashes.'SHA-1' = '{}']",
                md5(&s.by_md5),
                "0".repeat(40)
            ),
            json!({}),
        ),
        indicator(&id(2), "[file:name = 'dropper_unique.exe']", json!({})),
        indicator(
            &id(3),
            &format!(
                "[file:hashes.'SHA-256' = '{}' AND file:size = {}]",
                sha256(&s.by_hash_and_size),
                s.by_hash_and_size.len()
            ),
            json!({}),
        ),
        indicator(
            &id(4),
            "rule Intel_Yara_Marker { strings: $a = \"marker-7f3a\" condition: $a }",
            json!({"pattern_type": "yara"}),
        ),
        indicator(
            &id(5),
            "[domain-name:value = 'c2.nymaim.example'] OR [ipv4-addr:value = '198.51.100.0/24']",
            json!({}),
        ),
        indicator(
            &id(6),
            "[url:value = 'http://dl.example.net/x.exe'] OR [email-addr:value = 'boss@evil.example'] OR [ipv6-addr:value = '2001:db8::1']",
            json!({}),
        ),
        // Not used, each for its own reason.
        indicator(
            &id(7),
            &format!("[file:hashes.'SHA-256' = '{}']", sha256(&s.revoked)),
            json!({"revoked": true}),
        ),
        indicator(
            &id(8),
            "[domain-name:value = 'old.example']",
            json!({"valid_until": "2020-01-01T00:00:00.000Z", "valid_from": "2019-01-01T00:00:00.000Z"}),
        ),
        indicator(
            &id(9),
            "[domain-name:value = 'a.example'] AND [ipv4-addr:value = '192.0.2.1']",
            json!({}),
        ),
        indicator(&id(10), "[process:name = 'evil.exe']", json!({})),
        indicator(&id(11), "[file:hashes.MD5 = 'nothex'", json!({})),
        indicator(
            &id(12),
            "alert tcp any any -> any any (msg:\"x\";)",
            json!({"pattern_type": "snort"}),
        ),
        json!({"type": "report", "spec_version": "2.1", "id": "report--9e2a3b4c-1d2e-4f3a-8b9c-0d1e2f3a4b5c",
               "created": T, "modified": T, "name": "r", "published": T, "object_refs": [IND_SHA256]}),
        json!({"type": "attack-pattern", "spec_version": "2.1", "id": "attack-pattern--7e2a3b4c-1d2e-4f3a-8b9c-0d1e2f3a4b5c",
               "created": T, "modified": T, "name": "ap"}),
        json!({"type": "relationship", "spec_version": "2.1", "id": "relationship--3e2a3b4c-1d2e-4f3a-8b9c-0d1e2f3a4b5c",
               "created": T, "modified": T, "relationship_type": "indicates",
               "source_ref": IND_SHA256, "target_ref": MALWARE}),
        json!({"type": "malware", "spec_version": "2.1", "id": MALWARE, "created": T, "modified": T,
               "name": "Nymaim", "is_family": true}),
        json!({"type": "identity", "spec_version": "2.1", "id": "identity--5a8b0d2c-6a45-4f56-9b1e-0c9d3b1f2a11",
               "created": T, "modified": T, "name": "CERT-XY", "identity_class": "organization"}),
    ];
    objects.push(json!({"type": "x-custom-thing", "id": "x-custom-thing--1e2a3b4c-1d2e-4f3a-8b9c-0d1e2f3a4b5c"}));
    json!({"type": "bundle", "id": "bundle--0e2a3b4c-1d2e-4f3a-8b9c-0d1e2f3a4b5c", "objects": objects})
}

fn misp_event(s: &Samples) -> Value {
    let attr = |uuid: &str, ty: &str, value: String, to_ids: bool| {
        json!({"uuid": uuid, "type": ty, "category": "Payload delivery", "value": value,
               "to_ids": to_ids, "comment": ""})
    };
    json!({"Event": {
        "uuid": "5f0c6a52-6d1c-4b8e-9c3e-1a2b3c4d5e6f",
        "info": "Avalanche follow-up",
        "date": "2026-01-01",
        "threat_level_id": "1",
        "Orgc": {"name": "CERT-AB"},
        "Tag": [{"name": "tlp:amber"}, {"name": "misp-galaxy:malpedia=\"Tinba\""}],
        "Attribute": [
            attr("a0000001-0000-4000-8000-000000000001", "md5", md5(&s.misp_md5), true),
            attr("a0000001-0000-4000-8000-000000000002", "filename|sha256",
                 format!("invoice.scr|{}", sha256(&s.misp_filename_sha256)), true),
            attr("a0000001-0000-4000-8000-000000000003", "domain", "tinba.example.org".into(), true),
            attr("a0000001-0000-4000-8000-000000000004", "ip-dst|port", "203.0.113.9|443".into(), true),
            attr("a0000001-0000-4000-8000-000000000005", "sha256", sha256(&s.misp_not_for_ids), false),
            attr("a0000001-0000-4000-8000-000000000006", "ssdeep", "3:abc:def".into(), true),
        ],
    }})
}

/// The detections of a JSON scan, by file name: (name, metadata).
fn detections_by_file(out: &std::process::Output) -> Vec<(String, Value)> {
    let mut v = Vec::new();
    for f in findings(out) {
        let path = f["path"].as_str().unwrap().to_string();
        let name = path.rsplit('/').next().unwrap().to_string();
        for d in f["detections"].as_array().unwrap() {
            v.push((name.clone(), d.clone()));
        }
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn stix_and_misp_indicators_load_with_exact_counts_and_detect_planted_files() {
    let t = Tree::new();
    let s = samples();
    plant(&t, &s);
    t.write(
        "intel/partner.json",
        serde_json::to_vec_pretty(&stix_bundle(&s)).unwrap(),
    );
    t.write(
        "intel/misp-event.json",
        serde_json::to_vec(&misp_event(&s)).unwrap(),
    );
    t.write("intel/other.json", "{\"not\": \"intel\"}");

    let out = t.run(&["sigs", "check", "--format", "json", &t.arg("intel")]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    // Skipped: unsupported and invalid ones, so exit 1.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let totals = &report["totals"];
    let kinds = &totals["indicator_kinds"];
    // STIX: sha256, md5+sha1 (an OR), name, sha256 (AND size), yara,
    // domain+ipv4, url+email+ipv6. MISP: md5, sha256 + file name, domain,
    // ip.
    assert_eq!(kinds["sha256"], 3, "{kinds}");
    assert_eq!(kinds["md5"], 2, "{kinds}");
    assert_eq!(kinds["sha1"], 1, "{kinds}");
    assert_eq!(kinds["file-name"], 2, "{kinds}");
    assert_eq!(kinds["yara"], 1, "{kinds}");
    assert_eq!(kinds["domain"], 2, "{kinds}");
    assert_eq!(kinds["ipv4"], 2, "{kinds}");
    assert_eq!(kinds["ipv6"], 1, "{kinds}");
    assert_eq!(kinds["url"], 1, "{kinds}");
    assert_eq!(kinds["email"], 1, "{kinds}");
    assert_eq!(totals["indicators"], 16, "{totals}");
    let stix = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"].as_str().unwrap().ends_with("partner.json"))
        .unwrap();
    assert_eq!(stix["kind"], "stix");
    let skipped = &stix["indicators"]["skipped"];
    assert_eq!(skipped["revoked"], 1, "{stix}");
    assert_eq!(skipped["expired"], 1, "{stix}");
    assert_eq!(skipped["unsupported"], 3, "{stix}");
    assert_eq!(skipped["invalid"], 1, "{stix}");
    let ignored = &stix["indicators"]["ignored_objects"];
    assert_eq!(ignored["report"], 1, "{stix}");
    assert_eq!(ignored["attack-pattern"], 1, "{stix}");
    assert_eq!(ignored["x-custom-thing"], 1, "{stix}");
    // Every indicator not used is named with its id.
    let issue_ids: Vec<&str> = stix["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["rule"].as_str())
        .collect();
    for n in 7..=12u32 {
        let id = format!("indicator--{n:08x}-2222-4222-8222-222222222222");
        assert!(
            issue_ids.contains(&id.as_str()),
            "{id} not reported: {issue_ids:?}"
        );
    }
    let misp = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"].as_str().unwrap().ends_with("misp-event.json"))
        .unwrap();
    assert_eq!(misp["kind"], "misp");
    assert_eq!(
        misp["indicators"]["skipped"]["not-for-detection"], 1,
        "{misp}"
    );
    assert_eq!(misp["indicators"]["skipped"]["unsupported"], 1, "{misp}");
    // The network side is listed, with provenance.
    let network = report["network"].as_array().unwrap();
    assert_eq!(network.len(), 7, "{network:?}");
    let c2 = network
        .iter()
        .find(|n| n["value"] == "c2.nymaim.example")
        .unwrap();
    assert_eq!(c2["kind"], "domain");
    assert_eq!(c2["tlp"], "green");
    assert_eq!(c2["provenance"]["producer"], "CERT-XY");
    assert!(
        network.iter().any(|n| n["value"] == "198.51.100.0/24"),
        "{network:?}"
    );
    assert!(
        report["ignored"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().ends_with("other.json"))
    );

    // The text report says the same.
    let text = t.run(&["sigs", "check", &t.arg("intel")]);
    let text = stdout(&text);
    assert!(text.contains("network indicators (7)"), "{text}");
    assert!(text.contains("c2.nymaim.example"), "{text}");
    assert!(
        text.contains("object `indicator--00000007-2222-4222-8222-222222222222`: revoked"),
        "{text}"
    );

    // A scan detects exactly the planted files the indicators name.
    let out = t.json(&["--no-builtin", "-s", &t.arg("intel"), &t.arg("target")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("indicators not used: revoked, expired or not for detection"),
        "{}",
        stderr(&out)
    );
    let got = detections_by_file(&out);
    let files: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        files,
        [
            "by_md5.bin",
            "by_sha256.bin",
            "dropper_unique.exe",
            "invoice.scr",
            "invoice.scr",
            "misp_md5.bin",
            "sized.bin",
            "yara.txt"
        ],
        "{got:#?}"
    );
    let (_, d) = got.iter().find(|(f, _)| f == "by_sha256.bin").unwrap();
    assert_eq!(d["engine"], "hash");
    assert_eq!(d["score"], 85, "confidence is the score: {d}");
    assert_eq!(d["metadata"]["indicator"], IND_SHA256, "{d}");
    assert_eq!(d["metadata"]["malware_family"], "Nymaim", "{d}");
    assert_eq!(d["metadata"]["tlp"], "green", "{d}");
    assert_eq!(d["metadata"]["producer"], "CERT-XY", "{d}");
    let (_, d) = got.iter().find(|(f, _)| f == "yara.txt").unwrap();
    assert_eq!(d["engine"], "yara");
    assert_eq!(d["name"], "Intel_Yara_Marker");
    let (_, d) = got.iter().find(|(f, _)| f == "misp_md5.bin").unwrap();
    assert_eq!(d["metadata"]["malware_family"], "Tinba", "{d}");
    assert_eq!(d["metadata"]["tlp"], "amber", "{d}");
    assert_eq!(d["metadata"]["producer"], "CERT-AB", "{d}");
    assert_eq!(
        d["metadata"]["indicator"],
        "a0000001-0000-4000-8000-000000000001"
    );

    // --strict refuses the set for its invalid and unsupported
    // indicators, but not for the revoked and expired ones.
    t.write(
        "only-notices/n.json",
        serde_json::to_vec(&json!({"type": "bundle", "id": "bundle--1e2a3b4c-1d2e-4f3a-8b9c-0d1e2f3a4b5c",
            "objects": [
                indicator(IND_SHA256, &format!("[file:hashes.'SHA-256' = '{}']", sha256(&s.by_sha256)), json!({})),
                indicator("indicator--21111111-1111-4111-8111-111111111111", "[domain-name:value = 'x.example']", json!({"revoked": true})),
            ]}))
        .unwrap(),
    );
    let out = t.json(&[
        "--no-builtin",
        "--strict",
        "-s",
        &t.arg("only-notices"),
        &t.arg("target"),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let out = t.json(&[
        "--no-builtin",
        "--strict",
        "-s",
        &t.arg("intel"),
        &t.arg("target"),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn hostile_intel_files_cost_only_themselves() {
    let t = Tree::new();
    let s = samples();
    plant(&t, &s);
    t.write(
        "intel/good.json",
        serde_json::to_vec(&stix_bundle(&s)).unwrap(),
    );
    // Deep nesting, a truncated bundle, wrong types, non-objects.
    t.write(
        "intel/deep.json",
        format!(
            "{{\"type\":\"bundle\",\"objects\":[{}]}}",
            "[".repeat(100_000)
        ),
    );
    t.write(
        "intel/truncated.json",
        "{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[{\"type\":\"indicator\"",
    );
    t.write(
        "intel/types.json",
        r#"{"type":"bundle","id":"bundle--2","objects":[1,"x",null,{"type":7},{"type":"indicator","id":"indicator--31111111-1111-4111-8111-111111111111","pattern":42,"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}"#,
    );
    t.write(
        "intel/misp-bad.json",
        r#"{"Event":{"uuid":"x","Attribute":"not a list","Object":[{"Attribute":[{"type":"md5","value":12}]}]}}"#,
    );
    let out = t.json(&["--no-builtin", "-s", &t.arg("intel"), &t.arg("target")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    for f in ["deep.json", "truncated.json", "types.json"] {
        assert!(err.contains(f), "{f} not named: {err}");
    }
    assert!(
        detections_by_file(&out)
            .iter()
            .any(|(f, _)| f == "by_sha256.bin")
    );
}

/// Runs a JSON scan and returns its NDJSON, with the summary's host
/// replaced (as if it came from another machine).
fn scan_ndjson(t: &Tree, sigs: &str, target: &str, host: &str) -> String {
    let out = t.json(&["--no-builtin", "-s", sigs, target]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let mut lines = Vec::new();
    for mut v in ndjson(&out) {
        if v["type"] == "summary" {
            assert!(v["started"].is_string(), "{v}");
            assert!(v["host"].is_string(), "{v}");
            assert!(!v["signatures"].as_array().unwrap().is_empty(), "{v}");
            v["host"] = host.into();
        }
        lines.push(serde_json::to_string(&v).unwrap());
    }
    lines.join("\n") + "\n"
}

#[test]
fn exports_are_read_back_by_the_reference_tools() {
    let t = Tree::new();
    let s = samples();
    plant(&t, &s);
    t.write(
        "intel/partner.json",
        serde_json::to_vec(&stix_bundle(&s)).unwrap(),
    );
    t.write(
        "intel/misp-event.json",
        serde_json::to_vec(&misp_event(&s)).unwrap(),
    );
    // A container chain and a hostile name in the findings.
    t.write("target2/a <b>&\"q\".bin", &s.by_sha256);
    let a = scan_ndjson(&t, &t.arg("intel"), &t.arg("target"), "pc-one");
    let b = scan_ndjson(&t, &t.arg("intel"), &t.arg("target2"), "pc-two");
    t.write("runs/a.ndjson", &a);
    t.write("runs/b.ndjson", &b);
    let runs = [t.arg("runs/a.ndjson"), t.arg("runs/b.ndjson")];

    let export = |format: &str, out: &str, extra: &[&str]| {
        let mut args = vec!["intel", "export", "--format", format, "-o", out];
        args.extend_from_slice(extra);
        args.extend(runs.iter().map(String::as_str));
        let o = t.run(&args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    export("stix", &t.arg("out/a.stix.json"), &["--tlp", "green"]);
    export("stix", &t.arg("out/b.stix.json"), &["--tlp", "green"]);
    export("misp", &t.arg("out/event.json"), &[]);
    export("misp-feed", &t.arg("out/feed"), &[]);
    export("html", &t.arg("out/report.html"), &[]);

    // The same findings give the same ids, so partners update.
    let ids = |p: &str| -> Vec<String> {
        let v: Value = serde_json::from_slice(&std::fs::read(t.path(p)).unwrap()).unwrap();
        let mut ids: Vec<String> = v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("out/a.stix.json"), ids("out/b.stix.json"));
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(t.path("out/a.stix.json")).unwrap()).unwrap();
    let types: Vec<&str> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["type"].as_str().unwrap())
        .collect();
    for ty in [
        "identity",
        "file",
        "observed-data",
        "indicator",
        "malware",
        "sighting",
        "report",
        "marking-definition",
    ] {
        assert!(types.contains(&ty), "no {ty} in {types:?}");
    }
    let html = std::fs::read_to_string(t.path("out/report.html")).unwrap();
    assert!(html.contains("by_sha256.bin"));
    assert!(!html.contains("<b>&"), "hostile name not escaped");

    // A scan can write the same formats directly.
    let direct = t.run(&[
        "scan",
        "--no-builtin",
        "--format",
        "stix",
        "-s",
        &t.arg("intel"),
        &t.arg("target"),
    ]);
    assert_eq!(code(&direct), 1, "{}", stderr(&direct));
    t.write("out/direct.stix.json", &direct.stdout);
    let direct = t.run(&[
        "scan",
        "--no-builtin",
        "--format",
        "misp",
        "-s",
        &t.arg("intel"),
        &t.arg("target"),
    ]);
    assert_eq!(code(&direct), 1, "{}", stderr(&direct));
    t.write("out/direct.misp.json", &direct.stdout);
    let direct = t.run(&[
        "scan",
        "--no-builtin",
        "--format",
        "html",
        "-s",
        &t.arg("intel"),
        &t.arg("target"),
    ]);
    assert_eq!(code(&direct), 1, "{}", stderr(&direct));
    assert!(stdout(&direct).contains("dropper_unique.exe"));

    // The feed is itself a signature source: its detected hashes detect
    // the same files again.
    let again = t.json(&["--no-builtin", "-s", &t.arg("out/feed"), &t.arg("target")]);
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    let n_files = |o: &std::process::Output| {
        findings(o)
            .iter()
            .filter(|f| !f["detections"].as_array().unwrap().is_empty())
            .count()
    };
    let first: Value = serde_json::from_str(a.lines().next().unwrap()).unwrap();
    assert!(first["detections"].is_array());
    assert_eq!(n_files(&again), 7, "{}", stdout(&again));

    let Some(py) = reference_python() else {
        return;
    };
    for f in ["out/a.stix.json", "out/direct.stix.json"] {
        stix2_validate(&py, &["--strict", "--version", "2.1"], &t.path(f));
    }
    let parsed = run_python(
        &py,
        "import sys, stix2\n\
         for p in sys.argv[1:]:\n\
         \x20   b = stix2.parse(open(p).read(), allow_custom=False)\n\
         \x20   for o in b.objects:\n\
         \x20       if o.type == 'file':\n\
         \x20           args = {'hashes': dict(o.hashes)}\n\
         \x20           if 'name' in o: args['name'] = o.name\n\
         \x20           assert stix2.File(**args).id == o.id, (o.id, args)\n\
         \x20   print(len(b.objects))\n",
        &[&t.arg("out/a.stix.json"), &t.arg("out/direct.stix.json")],
    );
    assert_eq!(parsed.lines().count(), 2, "{parsed}");
    let misp = run_python(
        &py,
        "import sys, json\n\
         from pymisp import MISPEvent, MISPObject\n\
         for p in sys.argv[1:]:\n\
         \x20   e = MISPEvent()\n\
         \x20   e.load_file(p)\n\
         \x20   files = [o for o in e.objects if o.name == 'file']\n\
         \x20   assert files, p\n\
         \x20   for o in files:\n\
         \x20       s = MISPObject('file', strict=True)\n\
         \x20       for a in o.attributes:\n\
         \x20           s.add_attribute(a.object_relation, value=a.value, to_ids=a.to_ids)\n\
         \x20       s.to_json()\n\
         \x20       assert o.template_uuid == s.template_uuid\n\
         \x20   tags = sorted(t.name for t in e.tags)\n\
         \x20   print(len(files), tags)\n",
        &[&t.arg("out/event.json"), &t.arg("out/direct.misp.json")],
    );
    assert!(misp.contains("tlp:amber"), "{misp}");
    assert!(misp.contains("Nymaim"), "{misp}");
    let feed_check = run_python(
        &py,
        "import sys, json, os, glob, shutil, subprocess, tempfile\n\
         feed = sys.argv[1]\n\
         m = json.load(open(os.path.join(feed, 'manifest.json')))\n\
         for uuid in m:\n\
         \x20   assert os.path.exists(os.path.join(feed, uuid + '.json')), uuid\n\
         print(len(m))\n",
        &[&t.arg("out/feed")],
    );
    assert_eq!(feed_check.trim(), "1");
}

#[test]
fn a_signed_bundle_carries_stix_and_misp() {
    let t = Tree::new();
    let s = samples();
    plant(&t, &s);
    // Only indicators that load: a set with problems is refused by
    // `update` (as any signature set is).
    let mut stix = stix_bundle(&s);
    stix["objects"] = json!(stix["objects"].as_array().unwrap()[..7]);
    let mut misp = misp_event(&s);
    misp["Event"]["Attribute"] = json!(misp["Event"]["Attribute"].as_array().unwrap()[..4]);
    t.write("src/partner.json", serde_json::to_vec(&stix).unwrap());
    t.write("src/misp-event.json", serde_json::to_vec(&misp).unwrap());
    let out = t.run(&["sigs", "keygen", "-o", &t.arg("key")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::create_dir_all(t.path("keys")).unwrap();
    std::fs::copy(t.path("key.pub"), t.path("keys/publisher.pub")).unwrap();
    let out = t.run(&[
        "sigs",
        "bundle",
        &t.arg("src"),
        "-o",
        &t.arg("s-1.tdsb"),
        "--key",
        &t.arg("key"),
        "--bundle-version",
        "1",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = t.run(&["update", "--from", &t.arg("s-1.tdsb")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = t.json(&["--no-builtin", &t.arg("target")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let files: Vec<String> = detections_by_file(&out)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert!(files.contains(&"by_sha256.bin".to_string()), "{files:?}");
    assert!(files.contains(&"misp_md5.bin".to_string()), "{files:?}");
}

#[test]
fn the_service_loads_stix_and_misp_and_its_answers_name_the_indicator() {
    let t = Tree::new();
    let s = samples();
    t.write(
        "intel/partner.json",
        serde_json::to_vec(&stix_bundle(&s)).unwrap(),
    );
    t.write(
        "intel/misp-event.json",
        serde_json::to_vec(&misp_event(&s)).unwrap(),
    );
    let srv = util::serve::Server::on_loopback(&t, &["--no-builtin", "-s", &t.arg("intel")]);
    let ask = |body: &[u8]| {
        util::serve::http_raw(
            srv.http,
            &util::serve::request("POST", "/v1/scan?name=sample.bin", &[], body),
        )
    };
    let a = ask(&s.by_sha256);
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["verdict"], "infected", "{v}");
    let d = &v["files"][0]["findings"][0]["detections"][0];
    assert_eq!(d["metadata"]["indicator"], IND_SHA256, "{v}");
    assert_eq!(d["metadata"]["malware_family"], "Nymaim", "{v}");
    let v = ask(&s.misp_md5).json();
    assert_eq!(v["verdict"], "infected", "{v}");
    let v = ask(&s.misp_not_for_ids).json();
    assert_eq!(
        v["verdict"], "clean",
        "to_ids false is not a detection: {v}"
    );
    srv.stop();
}
