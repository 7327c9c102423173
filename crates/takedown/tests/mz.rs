//! Content not beginning with `MZ` is scanned without the rules that need
//! it (docs/mz.md): the detections must be those of every rule.

mod util;

use util::*;

#[test]
fn rules_needing_mz_match_mz_content_only_and_the_others_match_all() {
    let t = Tree::new();
    let body = b" payload GOZNYM-TEST-4410 end\n".repeat(20);
    let mz = [&b"MZ\x90\x00"[..], &body].concat();
    let elf = [&b"\x7fELF"[..], &body].concat();
    // Copies too, so that remembered results are covered.
    for i in 0..3 {
        t.write(&format!("tree/w{i}/drop{i}.exe"), &mz);
        t.write(&format!("tree/l{i}/drop{i}.so"), &elf);
    }
    t.write("tree/short", b"M");
    t.write(
        "sigs/r.yar",
        "import \"pe\"\n\
         rule Pe_Marker { strings: $a = \"GOZNYM-TEST-4410\" condition: uint16(0) == 0x5a4d and $a }\n\
         rule Pe_Named { strings: $a = \"GOZNYM-TEST-4410\" condition: $a and uint16(0) == 0x5a4d and filename == \"drop1.exe\" }\n\
         private rule Pe_Header { condition: uint16(0) == 0x5a4d }\n\
         rule Not_Pe { strings: $a = \"GOZNYM-TEST-4410\" condition: $a and not Pe_Header }\n\
         rule Any_Marker { strings: $a = \"GOZNYM-TEST-4410\" condition: $a }\n\
         rule Really_Pe { condition: pe.is_pe }\n",
    );
    let out = t.run(&[
        "scan",
        "-v",
        "--format",
        "json",
        "--no-builtin",
        "-j",
        "2",
        "-s",
        &t.arg("sigs"),
        &t.arg("tree"),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 YARA rules need content beginning with MZ"),
        "{}",
        stderr(&out)
    );
    let names = |path: &str| -> Vec<String> {
        let mut n: Vec<String> = findings(&out)
            .iter()
            .filter(|f| f["path"] == t.arg(path).as_str())
            .flat_map(|f| f["detections"].as_array().unwrap().clone())
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names("tree/w0/drop0.exe"), ["Any_Marker", "Pe_Marker"]);
    assert_eq!(
        names("tree/w1/drop1.exe"),
        ["Any_Marker", "Pe_Marker", "Pe_Named"]
    );
    assert_eq!(names("tree/w2/drop2.exe"), ["Any_Marker", "Pe_Marker"]);
    for i in 0..3 {
        assert_eq!(
            names(&format!("tree/l{i}/drop{i}.so")),
            ["Any_Marker", "Not_Pe"]
        );
    }
    assert!(names("tree/short").is_empty());
}
