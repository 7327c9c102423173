//! Golden files for the two output formats. The tree is built at test
//! time; the temporary root, timings and cache state are normalised, and
//! findings are sorted (threads finish in any order). Regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test golden` and review the diff.

mod util;

use std::path::Path;
use util::*;

fn build_tree(t: &Tree) {
    t.write("tree/docs/readme.txt", "nothing to see here\n");
    t.write("tree/dropper/eicar.com", eicar());
    t.write(
        "tree/dropper/invoice.pdf.exe",
        b"MZ fake but harmless AVALANCHE-MARKER",
    );
    t.write("tree/big.iso", vec![0u8; 3000]);
    t.write("sigs/avalanche.yar", "rule Avalanche_Marker : dropper { meta: score = 80 family = \"test\" strings: $m = \"AVALANCHE-MARKER\" condition: $m }\n");
    t.write(
        "sigs/iocs/filename-iocs.txt",
        "# Double extension\n\\.pdf\\.exe$;70\n",
    );
}

fn normalise(out: &str, root: &Path) -> String {
    let root = root.display().to_string();
    let mut findings = Vec::new();
    let mut rest = Vec::new();
    for line in out.replace(&root, "$ROOT").lines() {
        let line = if let Some(i) = line.find("\"elapsed_seconds\":") {
            let end = line[i..].find(',').map_or(line.len(), |e| i + e);
            let line = format!("{}\"elapsed_seconds\":0{}", &line[..i], &line[end..]);
            // The machine and the time of the run.
            let line = blank_string(&line, "host", "$HOST");
            blank_string(&line, "started", "$STARTED")
        } else if line.starts_with("Time: ") {
            "Time: <elapsed>".to_string()
        } else {
            line.replace(" (YARA from cache)", "")
        };
        if line.contains("\"type\":\"finding\"") || line.contains(" FOUND ") {
            findings.push(line);
        } else {
            rest.push(line);
        }
    }
    findings.sort();
    let mut all = findings;
    all.extend(rest);
    all.join("\n") + "\n"
}

/// Replaces the string value of `"key":"..."` in a JSON line.
fn blank_string(line: &str, key: &str, with: &str) -> String {
    let tag = format!("\"{key}\":\"");
    let Some(i) = line.find(&tag) else {
        return line.to_string();
    };
    let start = i + tag.len();
    let end = line[start..].find('"').map_or(line.len(), |e| start + e);
    format!("{}{with}{}", &line[..start], &line[end..])
}

fn check(name: &str, actual: &str) {
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

fn run_format(format: &str) -> (String, String) {
    let t = Tree::new();
    build_tree(&t);
    let o = t.run(&[
        "scan",
        "--format",
        format,
        "--color",
        "never",
        "--max-filesize",
        "2K",
        "-j",
        "2",
        "-s",
        &t.arg("sigs"),
        &t.arg("tree"),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    (
        normalise(&stdout(&o), t.root()),
        normalise(&stderr(&o), t.root()),
    )
}

#[test]
fn text_output() {
    let (out, err) = run_format("text");
    check("scan.txt", &out);
    check("scan.stderr.txt", &err);
}

#[test]
fn json_output() {
    let (out, err) = run_format("json");
    check("scan.ndjson", &out);
    assert_eq!(err, "\n", "JSON mode keeps stderr quiet: {err}");
}
