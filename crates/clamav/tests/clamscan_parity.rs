//! Differential test against ClamAV itself: the same `.ndb` / `.ldb`
//! signatures and samples (all built here) through `clamscan --allmatch`
//! and through this crate must give the same detections. Skipped, with a
//! note, when `clamscan` is not installed (Debian package `clamav`).
//!
//! Known, documented differences are kept out of the samples: ClamAV
//! does not scan files of 5 bytes or less, and decodes UTF-16 text.

use std::collections::BTreeSet;
use std::process::Command;
use takedown_clamav::{Database, Kind, ScanInput};

const NDB: &[(&str, &[&[u8]])] = &[
    ("0:*:41424344", &[b"xxABCDxx", b"ABCxD.."]),
    ("0:*:4142434445464748", &[b"ABCDEFGH", b"ABCDEFGX"]),
    ("0:*:4142??4344", &[b"ABzCD..", b"ABzzCD.."]),
    ("0:*:41424?4344", &[b"ABOCD..", b"ABPCD.."]),
    ("0:*:4142?14344", &[b"ABqCD..", b"ABrCD.."]),
    ("0:*:41424344*45464748", &[b"ABCD......EFGH", b"EFGH..ABCD"]),
    ("0:*:41424344{3}45464748", &[b"ABCD123EFGH", b"ABCD12EFGH"]),
    (
        "0:*:41424344{-3}45464748",
        &[b"ABCDEFGH", b"ABCD123EFGH", b"ABCD1234EFGH"],
    ),
    (
        "0:*:41424344{3-}45464748",
        &[b"ABCD123456EFGH", b"ABCD12EFGH"],
    ),
    (
        "0:*:41424344{2-4}45464748",
        &[
            b"ABCD12EFGH",
            b"ABCD1234EFGH",
            b"ABCD1EFGH",
            b"ABCD12345EFGH",
        ],
    ),
    (
        "0:*:41424344(45|46)47484950",
        &[b"ABCDEGHIP", b"ABCDFGHIP", b"ABCDXGHIP"],
    ),
    (
        "0:*:41424344!(45|46)47484950",
        &[b"ABCDXGHIP", b"ABCDEGHIP"],
    ),
    (
        "0:*:41424344(4546|5859)47484950",
        &[b"ABCDEFGHIP", b"ABCDXYGHIP", b"ABCDEYGHIP"],
    ),
    (
        "0:*:41424344!(4546|5859)47484950",
        &[b"ABCDEYGHIP", b"ABCDEFGHIP"],
    ),
    ("0:2:4142434445", &[b"..ABCDE", b"...ABCDE"]),
    (
        "0:2,3:4142434445",
        &[b"...ABCDE", b".....ABCDE", b"......ABCDE"],
    ),
    ("0:EOF-5:4142434445", &[b"....ABCDE", b"...ABCDE."]),
    ("0:EOF-7,2:4142434445", &[b"..ABCDE..", b"ABCDE...."]),
    (
        "3:*:3c7363726970743e6576696c",
        &[b"<html><SCRIPT>EVIL</script></html>"],
    ),
    (
        "7:*:6576696c20776f7264",
        &[b"some EVIL WORD here\n", b"some evil word here\n"],
    ),
];

const LDB: &[&str] = &[
    "Target:0;0&1;41414141;42424242",
    "Target:0;0|1;41414141;42424242",
    "Target:0;0=2;41414141",
    "Target:0;0>1;41414141",
    "Target:0;0<2&1;41414141;42424242",
    "Target:0;(0|1)>2,2;41414141;42424242",
    "Engine:81-255,Target:0;0;68656c6c6f::i",
    "Engine:81-255,Target:0;0;68656c6c6f::w",
    "Engine:81-255,Target:0;0;68656c6c6f::wa",
    "Engine:81-255,Target:0;0;68656c6c6f::f",
    "Engine:81-255,Target:0;0&1;6576616c;0/eval\\s*\\(\\s*unescape/",
    "Engine:81-255,Target:0;0&1>2;41414141;0/ab/g",
    "Engine:81-255,Target:0;0&1;41414141;4:0/abc/",
    "Engine:81-255,Target:0;0&1;41414141;4:0/abc/r",
    "Engine:51-255,Target:0,FileSize:10-20;0;5041594c4f4144",
];

const LDB_SAMPLES: &[&[u8]] = &[
    b"AAAA BBBB",
    b"AAAA..",
    b"BBBB..",
    b"AAAA.AAAA",
    b"AAAA.AAAA.AAAA",
    b"AAAA AAAA BBBB",
    b"say HeLLo x",
    b"\x01h\0e\0l\0l\0o\0\x02",
    b"hello..",
    b"sayhello",
    b"say hello!",
    b"x=eval ( unescape('%41')",
    b"AAAA ab ab ab",
    b"AAAA ab ab",
    b"AAAAabc",
    b"AAAA...abc",
    b"PAYLOAD...",
    b"PAYLOAD..................",
];

#[test]
fn same_detections_as_clamscan() {
    if Command::new("clamscan").arg("--version").output().is_err() {
        eprintln!("clamscan not installed: skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("clamsig-parity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("files")).unwrap();
    let mut ndb = String::new();
    let mut samples: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, (sig, data)) in NDB.iter().enumerate() {
        ndb.push_str(&format!("C{i:02}:{sig}\n"));
        for (j, d) in data.iter().enumerate() {
            samples.push((format!("c{i:02}_{j}"), d.to_vec()));
        }
    }
    let ldb: String = LDB
        .iter()
        .enumerate()
        .map(|(i, l)| format!("L{i:02};{l}\n"))
        .collect();
    for (j, d) in LDB_SAMPLES.iter().enumerate() {
        samples.push((format!("l_{j:02}"), d.to_vec()));
    }
    std::fs::write(dir.join("t.ndb"), &ndb).unwrap();
    std::fs::write(dir.join("t.ldb"), &ldb).unwrap();
    for (name, data) in &samples {
        assert!(
            data.len() > 5,
            "{name}: ClamAV skips files of 5 bytes or less"
        );
        std::fs::write(dir.join("files").join(name), data).unwrap();
    }

    let out = Command::new("clamscan")
        .args([
            "--no-summary",
            "--allmatch",
            "-d",
            "t.ndb",
            "-d",
            "t.ldb",
            "files",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "clamscan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clam: BTreeSet<String> = stdout
        .lines()
        .filter(|l| l.ends_with(" FOUND"))
        .map(|l| l.trim_start_matches("files/").replace(".UNOFFICIAL", ""))
        .collect();

    let mut db = Database::new();
    assert_eq!(
        db.load("t.ndb", Kind::Ndb, ndb.as_bytes()).loaded,
        NDB.len()
    );
    assert_eq!(
        db.load("t.ldb", Kind::Ldb, ldb.as_bytes()).loaded,
        LDB.len()
    );
    let sigs = db.finish();
    let mut ours = BTreeSet::new();
    for (name, data) in &samples {
        for m in sigs.scan(&ScanInput { data, target: None }).matches {
            ours.insert(format!("{name}: {} FOUND", m.name));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(clam.len() > 100, "clamscan found too little: {clam:?}");
    let only_clam: Vec<_> = clam.difference(&ours).collect();
    let only_ours: Vec<_> = ours.difference(&clam).collect();
    assert!(
        only_clam.is_empty() && only_ours.is_empty(),
        "only clamscan: {only_clam:?}\nonly takedown-clamav: {only_ours:?}"
    );
}
