//! `takedown dga` end to end: what `list` promises, `gen` and `match`
//! agreeing with each other over every family, and bad input refused with
//! a clear message.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn takedown(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_takedown"));
    c.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(input) = stdin {
        let mut i = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Written from a thread: the child writes to stdout while it reads.
        std::thread::spawn(move || {
            let _ = i.write_all(&input);
        });
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn list_names_every_family_its_sources_and_the_families_without_a_dga() {
    let o = takedown(&["dga", "list", "--format", "json"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let fams = v["families"].as_array().unwrap();
    let names: BTreeSet<&str> = fams.iter().map(|f| f["family"].as_str().unwrap()).collect();
    for want in [
        "nymaim",
        "shiotob",
        "tinba",
        "vawtrak",
        "qakbot",
        "ranbyus",
        "corebot",
        "gozi",
        "newgoz",
        "matsnu",
        "pandabanker",
    ] {
        assert!(names.contains(want), "{want} missing from dga list");
    }
    for f in fams.iter().filter(|f| f["implemented"] == true) {
        for var in f["variants"].as_array().unwrap() {
            assert!(!var["summary"].as_str().unwrap().is_empty());
            assert!(!var["reference"].as_str().unwrap().is_empty());
            assert!(!var["oracle"].as_str().unwrap().is_empty());
            assert!(!var["parameters"].as_array().unwrap().is_empty());
            for k in var["known"].as_array().unwrap() {
                assert!(
                    !k["source"].as_str().unwrap().is_empty(),
                    "{}: a known seed without its source",
                    f["family"]
                );
            }
        }
    }
    let without: BTreeSet<&str> = v["without_dga"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["family"].as_str().unwrap())
        .collect();
    for want in ["rovnix", "kins", "bolek", "dridex"] {
        assert!(without.contains(want), "{want} not listed as without a DGA");
    }
    let text = takedown(&["dga", "list"], None);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("known seed"), "{text}");
    assert!(text.contains("dridex"), "{text}");
}

/// Every domain `gen` prints for a window, fed back to `match`, is found
/// with the family, variant, seed and a date range that includes the date
/// it was generated for; names in other case, with a trailing dot or with
/// a subdomain in front are found too, and a made-up name is not.
#[test]
fn gen_and_match_agree_over_every_family() {
    let window = ["--from", "2016-11-25", "--to", "2016-12-05"];
    let mut args = vec!["dga", "gen", "--family", "all", "--format", "json"];
    args.extend(window);
    let o = takedown(&args, None);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut expect: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut families = BTreeSet::new();
    for line in o.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).unwrap();
        for k in ["family", "variant", "seed", "date", "until", "domain"] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
        families.insert(v["family"].as_str().unwrap().to_string());
        expect
            .entry(v["domain"].as_str().unwrap().to_string())
            .or_default()
            .push(v);
    }
    let implemented = takedown_families();
    assert_eq!(
        families, implemented,
        "gen --family all covers every implemented family"
    );
    assert!(expect.len() > 1000, "only {} domains", expect.len());

    // Feed them back, some in upper case, some with a trailing dot, some
    // under a subdomain.
    let mut input = String::new();
    for (i, d) in expect.keys().enumerate() {
        match i % 3 {
            0 => input.push_str(&d.to_uppercase()),
            1 => input.push_str(&format!("{d}.")),
            _ => input.push_str(d),
        }
        input.push_str("\tsome other field\n");
    }
    input.push_str("not-a-dga-name.example\n\n");
    let mut args = vec!["dga", "match", "--format", "json", "-"];
    args.extend(window);
    let o = takedown(&args, Some(input.as_bytes()));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut got: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in o.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).unwrap();
        assert_eq!(v["exact"], true);
        got.entry(v["domain"].as_str().unwrap().to_string())
            .or_default()
            .push(v);
    }
    assert_eq!(
        got.len(),
        expect.len(),
        "every generated domain is found, nothing else"
    );
    for (d, gens) in &expect {
        let matches = &got[d];
        for g in gens {
            let ok = matches.iter().any(|m| {
                m["family"] == g["family"]
                    && m["variant"] == g["variant"]
                    && m["seed"] == g["seed"]
                    && covers(m, g["date"].as_str())
            });
            assert!(ok, "{d}: generated as {g}, matched as {matches:?}");
        }
    }
    let e = stderr(&o);
    assert!(e.contains(&format!("{} matched", expect.len())), "{e}");

    // A subdomain is found through its parent, unless --exact.
    let some = expect.keys().next().unwrap().clone();
    let sub = format!("www.{some}");
    let mut args = vec!["dga", "match", "--format", "json", &sub];
    args.extend(window);
    let o = takedown(&args, None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(o.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(v["exact"], false);
    assert_eq!(v["domain"], some.as_str());
    let mut args = vec!["dga", "match", "--exact", &sub];
    args.extend(window);
    let o = takedown(&args, None);
    assert_eq!(
        o.status.code(),
        Some(1),
        "no match is exit 1: {}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
}

fn covers(m: &Value, date: Option<&str>) -> bool {
    match (date, m["first"].as_str(), m["last"].as_str()) {
        (None, None, None) => true,
        (Some(d), Some(f), Some(l)) => f <= d && d <= l,
        _ => false,
    }
}

fn takedown_families() -> BTreeSet<String> {
    let o = takedown(&["dga", "list", "--format", "json"], None);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["families"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["implemented"] == true)
        .map(|f| f["family"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, b"{not json").unwrap();
    let huge = dir.path().join("huge.json");
    std::fs::write(&huge, vec![b' '; 2 << 20]).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "gen",
                "--family",
                "nosuchfamily",
                "--from",
                "2016-01-01",
                "--to",
                "2016-01-02",
            ],
            "unknown DGA family 'nosuchfamily'",
        ),
        (
            vec![
                "gen",
                "--family",
                "nymaim",
                "--from",
                "2016-02-01",
                "--to",
                "2016-01-01",
            ],
            "is after --to",
        ),
        (
            vec![
                "gen",
                "--family",
                "nymaim",
                "--from",
                "1990-01-01",
                "--to",
                "2030-01-01",
            ],
            "at most",
        ),
        (
            vec![
                "gen",
                "--family",
                "nymaim",
                "--from",
                "2016-02-30",
                "--to",
                "2016-03-01",
            ],
            "not a date",
        ),
        (
            vec![
                "gen",
                "--family",
                "qakbot",
                "--seed",
                "zz-not-hex",
                "--from",
                "2016-01-01",
                "--to",
                "2016-01-02",
            ],
            "invalid seed",
        ),
        (
            vec![
                "gen",
                "--family",
                "all",
                "--seed",
                "1",
                "--from",
                "2016-01-01",
                "--to",
                "2016-01-02",
            ],
            "applies to one family",
        ),
        (
            vec![
                "gen",
                "--family",
                "pandabanker",
                "--config",
                bad_json.to_str().unwrap(),
                "--from",
                "2016-01-01",
                "--to",
                "2016-01-02",
            ],
            "not JSON",
        ),
        (
            vec![
                "gen",
                "--family",
                "pandabanker",
                "--config",
                huge.to_str().unwrap(),
                "--from",
                "2016-01-01",
                "--to",
                "2016-01-02",
            ],
            "larger than 1 MiB",
        ),
    ];
    for (args, want) in cases {
        let mut full = vec!["dga"];
        full.extend(args.iter().copied());
        let o = takedown(&full, None);
        assert_eq!(o.status.code(), Some(2), "{full:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{full:?}: wanted '{want}' in {}",
            stderr(&o)
        );
    }
    // Hostile lines on stdin: not UTF-8, overlong, control characters:
    // skipped or unmatched, never a crash.
    let mut input = Vec::new();
    input.extend_from_slice(b"\xff\xfe\xfd\n");
    input.extend(std::iter::repeat_n(b'a', 200_000));
    input.extend_from_slice(b"\n\x01\x02.com\n");
    input.extend_from_slice(format!("{}.com\n", "b".repeat(300)).as_bytes());
    let o = takedown(
        &[
            "dga",
            "match",
            "--from",
            "2016-01-01",
            "--to",
            "2016-01-10",
            "-",
        ],
        Some(&input),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 input lines skipped"),
        "{}",
        stderr(&o)
    );
}
