//! `takedown sigs check`: what loads, what is skipped and why, on a tree of
//! signature files built at test time; golden files for both formats
//! (`UPDATE_GOLDEN=1 cargo test --test sigs` regenerates them).

mod util;

use std::path::Path;
use util::*;

fn build_tree(t: &Tree) {
    t.write(
        "sigs/good.yar",
        "rule Good_One { strings: $a = \"marker-one\" condition: $a }\n\
         rule Good_Two { condition: filesize == 12345 }\n",
    );
    // One bad rule among good ones, and a rule built on the bad one.
    t.write(
        "sigs/mixed.yar",
        "import \"pe\"\n\
         rule Mixed_Good { condition: pe.is_pe }\n\
         \n\
         rule Mixed_Bad {\n\
         \x20 condition: no_such_thing\n\
         }\n\
         rule Mixed_Uses_Bad { condition: Mixed_Bad }\n\
         rule Mixed_Good_Too { strings: $r = /ab\\Rc{,2}/ condition: $r }\n",
    );
    // A syntax error: the rule holding it goes, the next one stays.
    t.write(
        "sigs/syntax.yar",
        "rule Syntax_Broken {\n  condition: (filesize >\n}\nrule Syntax_After { condition: true }\n",
    );
    // A module yara-x does not have.
    t.write(
        "sigs/mobile.yar",
        "import \"androguard\"\n\
         rule Mobile_App { condition: androguard.package_name(/evil/) }\n\
         rule Mobile_Dependent { condition: Mobile_App }\n\
         rule Mobile_Plain { strings: $a = \"classes.dex\" condition: $a }\n",
    );
    t.write(
        "sigs/iocs/hash-iocs.txt",
        "# test IOCs\nd41d8cd98f00b204e9800998ecf8427e;empty file\nnot-a-hash;broken line\n",
    );
    t.write("sigs/README.md", "not signatures\n");
}

fn check_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

#[test]
fn text_report() {
    let t = Tree::new();
    build_tree(&t);
    let o = t.run(&["sigs", "check", "--no-cache", &t.arg("sigs")]);
    assert_eq!(code(&o), 1, "something skipped: {}", stderr(&o));
    let root = t.root().display().to_string();
    check_golden("sigs-check.txt", &stdout(&o).replace(&root, "$ROOT"));
    assert_eq!(stderr(&o), "");
}

#[test]
fn json_report() {
    let t = Tree::new();
    build_tree(&t);
    let o = t.run(&[
        "sigs",
        "check",
        "--format",
        "json",
        "--no-cache",
        &t.arg("sigs"),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let root = t.root().display().to_string();
    let value: serde_json::Value =
        serde_json::from_str(&stdout(&o).replace(&root, "$ROOT")).unwrap();
    assert_eq!(value["totals"]["yara_rules"], 6);
    assert_eq!(value["totals"]["skipped"], 6);
    assert_eq!(value["totals"]["unsupported"], 2);
    check_golden(
        "sigs-check.json",
        &(serde_json::to_string_pretty(&value).unwrap() + "\n"),
    );
}

/// What `sigs check` says loads is what `scan -s` loads: the same counts,
/// the same problems.
#[test]
fn check_and_scan_agree() {
    let t = Tree::new();
    build_tree(&t);
    t.write("target/file", "marker-one");
    let check = t.run(&["sigs", "check", "--format", "json", &t.arg("sigs")]);
    let check: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(check["yara_from_cache"], false);
    let scan = t.run(&[
        "scan",
        "--no-builtin",
        "-s",
        &t.arg("sigs"),
        &t.arg("target"),
    ]);
    assert_eq!(code(&scan), 1, "{}", stderr(&scan));
    assert!(stdout(&scan).contains("Good_One"), "{}", stdout(&scan));
    let warnings = stderr(&scan)
        .lines()
        .filter(|l| l.starts_with("takedown: warning: ") && l.contains(".yar"))
        .count()
        + stderr(&scan)
            .lines()
            .filter(|l| l.starts_with("takedown: warning: ") && l.contains("hash-iocs"))
            .count();
    assert_eq!(warnings, 6, "{}", stderr(&scan));
    // The scan used the rules the check compiled.
    let again = t.run(&["sigs", "check", "--format", "json", &t.arg("sigs")]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["yara_from_cache"], true);
    assert_eq!(
        again["sources"], check["sources"],
        "cached issues are replayed"
    );
}

#[test]
fn exit_status() {
    let t = Tree::new();
    t.write("good/a.yar", "rule A { condition: filesize == 1 }\n");
    t.write("good/hashes.hsb", format!("{EICAR_SHA256}:68:Eicar\n"));
    let o = t.run(&["sigs", "check", &t.arg("good")]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("skipped: 0 "), "{}", stdout(&o));

    t.write(
        "bad/a.yar",
        "rule A { condition: true }\nrule B { condition: x }\n",
    );
    let o = t.run(&["sigs", "check", &t.arg("bad")]);
    assert_eq!(code(&o), 1);
    let o = t.run(&["sigs", "check", "--strict", &t.arg("bad")]);
    assert_eq!(code(&o), 2, "--strict: skipped is an error");

    t.write("none/a.yar", "rule A { condition: x }\n");
    let o = t.run(&["sigs", "check", &t.arg("none")]);
    assert_eq!(code(&o), 2, "nothing loaded");
    assert!(
        stderr(&o).contains("no signatures loaded"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("rule `A`"), "the report still says why");

    let o = t.run(&["sigs", "check", &t.arg("missing")]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));

    let o = t.run(&["sigs", "check"]);
    assert_eq!(code(&o), 2, "a PATH is required");
}
