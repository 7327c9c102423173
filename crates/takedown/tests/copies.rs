//! Copies: content met again in a run reuses the results of the YARA rules
//! that read only content and the IOC digests, and reruns the rules that
//! read the path. Whatever the order the threads meet the copies in, every
//! copy must get exactly what a scan with `--rescan-copies` gives it.

mod util;

use std::collections::BTreeMap;
use util::*;

/// Per file: its detections as "engine:name", sorted, and its sha256.
fn by_file(o: &std::process::Output) -> BTreeMap<String, (Vec<String>, String)> {
    findings(o)
        .iter()
        .map(|f| {
            let mut d: Vec<String> = f["detections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}",
                        d["engine"].as_str().unwrap(),
                        d["name"].as_str().unwrap()
                    )
                })
                .collect();
            d.sort();
            let sha = f["sha256"].as_str().unwrap_or_default().to_string();
            (f["path"].as_str().unwrap().to_string(), (d, sha))
        })
        .collect()
}

#[test]
fn copies_get_what_a_full_scan_gives_them() {
    let t = Tree::new();
    let marked = b"header MARKER-COPY-7731 trailer\n".repeat(100);
    let plain = b"nothing to see here\n".repeat(50);
    // Many copies, so both scanning threads meet the content first and
    // later; names differ, so path rules give different answers.
    for i in 0..40 {
        t.write(&format!("tree/d{i}/copy{i}.txt"), &marked);
        t.write(&format!("tree/d{i}/plain{i}.dat"), &plain);
    }
    t.write("tree/evil.exe", &marked);
    t.write("tree/owned/evil.exe", &plain);
    t.write(
        "sigs/content.yar",
        "rule Content_Only { strings: $a = \"MARKER-COPY-7731\" condition: $a }\n",
    );
    // Has_Marker reads only content but Named_Evil, which reads a path,
    // uses it; Uses_Named reads no path itself but uses Named_Evil;
    // Txt_Copy reads the path; Plain_Text, in the same file, reads only
    // content.
    t.write(
        "sigs/paths.yar",
        "private rule Has_Marker { strings: $a = \"MARKER-COPY-7731\" condition: $a }\n\
         rule Named_Evil { condition: Has_Marker and filename == \"evil.exe\" }\n\
         rule Uses_Named { condition: Named_Evil and filesize > 0 }\n\
         rule Txt_Copy { condition: Has_Marker and filepath contains \"/d3/\" }\n\
         rule Plain_Text { strings: $p = \"nothing to see\" condition: $p }\n",
    );
    let md5 = format!("{:x}", md5::Md5::digest_of(&marked));
    t.write("sigs/iocs/hash-iocs.txt", format!("{md5};marked content\n"));
    let sigs = t.arg("sigs");
    let tree = t.arg("tree");
    let copies = t.json(&["--no-builtin", "-j", "2", "-s", &sigs, &tree]);
    let full = t.json(&[
        "--no-builtin",
        "-j",
        "2",
        "--rescan-copies",
        "-s",
        &sigs,
        &tree,
    ]);
    assert_eq!(code(&copies), 1, "{}", stderr(&copies));
    let (a, b) = (by_file(&copies), by_file(&full));
    assert_eq!(a, b);
    let evil = &a[&t.arg("tree/evil.exe")].0;
    assert_eq!(
        evil,
        &[
            "hash:marked content",
            "yara:Content_Only",
            "yara:Named_Evil",
            "yara:Uses_Named"
        ]
    );
    assert_eq!(
        a[&t.arg("tree/d3/copy3.txt")].0,
        ["hash:marked content", "yara:Content_Only", "yara:Txt_Copy"]
    );
    assert_eq!(
        a[&t.arg("tree/d5/copy5.txt")].0,
        ["hash:marked content", "yara:Content_Only"]
    );
    assert_eq!(a[&t.arg("tree/owned/evil.exe")].0, ["yara:Plain_Text"]);
    assert_eq!(a.len(), 82, "every copy of both contents is reported");
    // Both runs scanned every file.
    assert_eq!(
        summary(&copies)["files_scanned"],
        summary(&full)["files_scanned"]
    );
}

#[test]
fn copies_are_counted_in_the_log() {
    let t = Tree::new();
    for i in 0..5 {
        t.write(&format!("tree/f{i}"), b"same bytes in every file");
    }
    t.write("sigs/r.yar", "rule R { condition: filename == \"f1\" }\n");
    let out = t.run(&[
        "scan",
        "-v",
        "-j",
        "1",
        "--no-builtin",
        "-s",
        &t.arg("sigs"),
        &t.arg("tree"),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("4 copies of content scanned before"),
        "{}",
        stderr(&out)
    );
    assert_eq!(detection_names(&out_json(&t)), ["R"]);
}

fn out_json(t: &Tree) -> std::process::Output {
    t.json(&[
        "--no-builtin",
        "-j",
        "1",
        "-s",
        &t.arg("sigs"),
        &t.arg("tree"),
    ])
}

trait DigestOf {
    fn digest_of(data: &[u8]) -> md5::digest::Output<md5::Md5>;
}

impl DigestOf for md5::Md5 {
    fn digest_of(data: &[u8]) -> md5::digest::Output<md5::Md5> {
        use md5::Digest;
        md5::Md5::digest(data)
    }
}
