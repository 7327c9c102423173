//! End to end: signatures loaded from text, samples built here, and every
//! `.ndb` / `.ldb` construct checked to match where it should and not
//! where it should not.

use takedown_clamav::cvd::{self, Flavour, Integrity};
use takedown_clamav::{Database, Kind, ScanInput, SigKind, Signatures, TargetType};

fn compile(kind: Kind, text: &str) -> Signatures {
    let mut db = Database::new();
    let r = db.load("test", kind, text.as_bytes());
    assert_eq!(r.malformed + r.unsupported, 0, "{text}: {:?}", r.issues);
    db.finish()
}

fn names(s: &Signatures, data: &[u8]) -> Vec<String> {
    s.scan(&ScanInput { data, target: None })
        .matches
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// `sig` (an .ndb line named T) matches every `yes` and none of `no`.
fn ndb(sig: &str, yes: &[&[u8]], no: &[&[u8]]) {
    let s = compile(Kind::Ndb, sig);
    for d in yes {
        assert_eq!(
            names(&s, d),
            ["T"],
            "{sig} should match {:?}",
            String::from_utf8_lossy(d)
        );
    }
    for d in no {
        assert!(
            names(&s, d).is_empty(),
            "{sig} should not match {:?}",
            String::from_utf8_lossy(d)
        );
    }
}

/// A PE32 with the given sections (raw data, RVA) and entry point RVA;
/// section data at 0x200 alignment starting at file offset 0x200.
pub fn build_pe(sections: &[(&[u8], u32)], entry_rva: u32) -> Vec<u8> {
    let mut f = vec![0u8; 0x200];
    f[..2].copy_from_slice(b"MZ");
    f[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    f[0x40..0x44].copy_from_slice(b"PE\0\0");
    let coff = 0x44;
    f[coff..coff + 2].copy_from_slice(&0x14cu16.to_le_bytes());
    f[coff + 2..coff + 4].copy_from_slice(&(sections.len() as u16).to_le_bytes());
    f[coff + 16..coff + 18].copy_from_slice(&0xe0u16.to_le_bytes());
    let opt = coff + 20;
    f[opt..opt + 2].copy_from_slice(&0x10bu16.to_le_bytes());
    f[opt + 16..opt + 20].copy_from_slice(&entry_rva.to_le_bytes());
    let table = opt + 0xe0;
    let mut raw = 0x200u32;
    let mut body = Vec::new();
    for (i, (data, rva)) in sections.iter().enumerate() {
        let s = table + i * 40;
        let size = (data.len() as u32).div_ceil(0x200) * 0x200;
        f[s..s + 8].copy_from_slice(format!(".s{i}\0\0\0\0\0").as_bytes().get(..8).unwrap());
        f[s + 8..s + 12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        f[s + 12..s + 16].copy_from_slice(&rva.to_le_bytes());
        f[s + 16..s + 20].copy_from_slice(&size.to_le_bytes());
        f[s + 20..s + 24].copy_from_slice(&raw.to_le_bytes());
        let mut d = data.to_vec();
        d.resize(size as usize, 0);
        body.extend(d);
        raw += size;
    }
    f.extend(body);
    f
}

#[test]
fn body_wildcards() {
    ndb("T:0:*:41424344", &[b"xxABCDxx"], &[b"ABCxD"]);
    // The lookup sees 4 bytes of the literal; the rest must be checked.
    ndb(
        "T:0:*:4142434445464748",
        &[b"ABCDEFGH"],
        &[b"ABCDEFGX", b"ABCDXFGH", b"ABCD"],
    );
    ndb("T:0:*:414243", &[b"xABCx"], &[b"xABxC"]);
    // A group of one alternative, as ClamAV accepts it.
    ndb("T:0:*:4142(43)4445", &[b"ABCDE"], &[b"ABXDE"]);
    ndb("T:0:*:4142(4343)4445", &[b"ABCCDE"], &[b"ABCDE"]);
    ndb("T:0:*:4142??4344", &[b"AB.CD"], &[b"AB..CD"]);
    ndb(
        "T:0:*:4142??4344",
        &[b"ABzCD", b"AB\0CD"],
        &[b"ABCD", b"ABzzCD"],
    );
    ndb("T:0:*:41424?4344", &[b"ABOCD", b"AB@CD"], &[b"ABPCD"]);
    ndb("T:0:*:4142?14344", &[b"ABqCD", b"ABACD"], &[b"ABrCD"]);
    ndb("T:0:*:4142*4344", &[b"ABCD", b"AB..........CD"], &[b"CDAB"]);
    ndb(
        "T:0:*:4142{3}4344",
        &[b"AB123CD"],
        &[b"AB12CD", b"AB1234CD"],
    );
    ndb("T:0:*:4142{-3}4344", &[b"ABCD", b"AB123CD"], &[b"AB1234CD"]);
    ndb(
        "T:0:*:4142{3-}4344",
        &[b"AB123CD", b"AB123456789CD"],
        &[b"AB12CD"],
    );
    ndb(
        "T:0:*:4142{2-4}4344",
        &[b"AB12CD", b"AB1234CD"],
        &[b"AB1CD", b"AB12345CD"],
    );
    ndb("T:0:*:4142(43|44)4546", &[b"ABCEF", b"ABDEF"], &[b"ABXEF"]);
    ndb("T:0:*:4142!(43|44)4546", &[b"ABXEF"], &[b"ABCEF", b"ABDEF"]);
    ndb(
        "T:0:*:4142(4344|5859)4546",
        &[b"ABCDEF", b"ABXYEF"],
        &[b"ABCYEF"],
    );
    ndb(
        "T:0:*:4142!(4344|5859)4546",
        &[b"ABCYEF"],
        &[b"ABCDEF", b"ABXYEF"],
    );
    ndb(
        "T:0:*:4142(43|5859)4546",
        &[b"ABCEF", b"ABXYEF"],
        &[b"ABXEF"],
    );
    // Anchor in the middle, gaps on both sides.
    ndb(
        "T:0:*:41{1-2}4243444546*47",
        &[b"A.BCDEF...G", b"A..BCDEFG"],
        &[b"A...BCDEFG", b"A.BCDEF"],
    );
    // A bounded range at the end asks for that many more bytes.
    ndb(
        "T:0:*:41424344{3}",
        &[b"ABCD123", b"xABCD1234"],
        &[b"ABCD12"],
    );
    // No two fixed bytes at all: tried everywhere ("slow").
    ndb("T:0:*:41??42", &[b"..AxB.."], &[b"..AxxB.."]);
}

#[test]
fn offsets() {
    ndb("T:0:0:4142", &[b"AB.."], &[b".AB."]);
    ndb("T:0:2:4142", &[b"..AB"], &[b"AB..", b"...AB"]);
    ndb(
        "T:0:2,3:4142",
        &[b"..AB", b".....AB"],
        &[b".AB", b"......AB"],
    );
    ndb("T:0:EOF-2:4142", &[b"....AB"], &[b"...AB."]);
    ndb("T:0:EOF-4,2:4142", &[b"..AB..", b"..AB"], &[b"AB...."]);
    // A fixed offset with no anchor: tried directly there.
    ndb("T:0:1:41??42", &[b".AxB"], &[b"AxB."]);
}

#[test]
fn exe_offsets() {
    let text = b"..........ENTRYCODE.....";
    let data2 = b"SECOND-SECTION-DATA";
    let pe = build_pe(&[(text, 0x1000), (data2, 0x2000)], 0x100a);
    // Entry point = file offset 0x200 + 10.
    let cases: &[(&str, bool)] = &[
        ("T:1:EP+0:454e545259", true),
        ("T:1:EP+5:434f4445", true),
        ("T:1:EP-2:2e2e454e", true),
        ("T:1:EP+1:454e545259", false),
        ("T:1:EP+1,2:4e545259", true),
        ("T:1:S0+10:454e545259", true),
        ("T:1:S1+0:5345434f4e44", true),
        ("T:1:S1+1:5345434f4e44", false),
        ("T:1:SL+7:53454354494f4e", true),
        ("T:1:SE1:53454354494f4e", true),
        ("T:1:SE0:53454354494f4e", false),
        ("T:6:*:454e545259", false), // ELF-only signature on a PE
        ("T:0:*:454e545259", true),
    ];
    for (sig, want) in cases {
        let s = compile(Kind::Ndb, sig);
        assert_eq!(!names(&s, &pe).is_empty(), *want, "{sig}");
    }
    // The same bytes outside an executable: no entry point, no sections.
    let s = compile(Kind::Ndb, "T:0:EP+0:454e545259");
    assert!(names(&s, text).is_empty());
}

#[test]
fn target_types() {
    let s = compile(Kind::Ndb, "T:3:*:3c7363726970743e6576696c");
    // HTML is matched on lower-cased data.
    assert_eq!(names(&s, b"<html><SCRIPT>EVIL</script></html>"), ["T"]);
    assert!(
        names(&s, b"\x00\x01<script>evil").is_empty(),
        "binary is not HTML"
    );
    let s = compile(Kind::Ndb, "T:7:*:6576696c20776f7264");
    assert_eq!(names(&s, b"some EVIL WORD here\n"), ["T"]);
    // Every signature also sees the normalised form of a text file, as in
    // ClamAV; binary data is not normalised.
    let s = compile(Kind::Ndb, "T:0:*:68656c6c6f20776f726c64");
    assert_eq!(names(&s, b"say HELLO WORLD\n"), ["T"]);
    assert!(names(&s, b"\x00\x01HELLO WORLD").is_empty());
    // Counts are per buffer: "0=1" holds on the raw text (one "hello").
    let s = compile(Kind::Ldb, "L;Target:0;0=1;68656c6c6f");
    assert_eq!(names(&s, b"hello HELLO\n"), ["L"]);
    // The caller may state the type.
    let s = compile(Kind::Ndb, "T:10:*:4142434445");
    let r = s.scan(&ScanInput {
        data: b"xxABCDE",
        target: Some(TargetType::Pdf),
    });
    assert_eq!(r.matches.len(), 1);
    assert!(names(&s, b"xxABCDE").is_empty());
}

fn ldb(sig: &str, yes: &[&[u8]], no: &[&[u8]]) {
    let s = compile(Kind::Ldb, sig);
    for d in yes {
        assert_eq!(
            names(&s, d),
            ["L"],
            "{sig} should match {:?}",
            String::from_utf8_lossy(d)
        );
    }
    for d in no {
        assert!(
            names(&s, d).is_empty(),
            "{sig} should not match {:?}",
            String::from_utf8_lossy(d)
        );
    }
}

#[test]
fn logical_expressions() {
    // 0 = "AAAA", 1 = "BBBB", 2 = "CCCC"
    let subs = |n: usize| ["41414141", "42424242", "43434343"][..n].join(";");
    ldb(
        &format!("L;Target:0;0&1;{}", subs(2)),
        &[b"AAAA BBBB"],
        &[b"AAAA", b"BBBB"],
    );
    ldb(
        &format!("L;Target:0;0|1;{}", subs(2)),
        &[b"AAAA", b"BBBB"],
        &[b"CCCC"],
    );
    ldb(
        &format!("L;Target:0;(0|1)&2;{}", subs(3)),
        &[b"BBBB CCCC"],
        &[b"AAAA BBBB"],
    );
    ldb(
        &format!("L;Target:0;0=2;{}", subs(1)),
        &[b"AAAA.AAAA"],
        &[b"AAAA", b"AAAA.AAAA.AAAA"],
    );
    ldb(
        &format!("L;Target:0;0>1;{}", subs(1)),
        &[b"AAAA.AAAA", b"AAAA.AAAA.AAAA"],
        &[b"AAAA"],
    );
    ldb(
        &format!("L;Target:0;0<2&1;{}", subs(2)),
        &[b"BBBB", b"AAAA BBBB"],
        &[b"AAAA AAAA BBBB"],
    );
    ldb(
        &format!("L;Target:0;(0|1|2)>2,2;{}", subs(3)),
        &[b"AAAA AAAA BBBB"],
        &[b"AAAA AAAA AAAA", b"AAAA BBBB"],
    );
    ldb(
        &format!("L;Target:0;(0|1)=2,2;{}", subs(2)),
        &[b"AAAA BBBB"],
        &[b"AAAA AAAA"],
    );
    ldb(
        &format!("L;Target:0;1&0=0;{}", subs(2)),
        &[b"BBBB"],
        &[b"AAAA BBBB"],
    );
    // Subsignature offsets.
    ldb(
        "L;Target:0;0&1;0:4d5a;EOF-2:4142",
        &[b"MZ....AB"],
        &[b"MZ...AB.", b".MZ...AB"],
    );
}

#[test]
fn subsignature_modifiers() {
    ldb(
        "L;Engine:81-255,Target:0;0;68656c6c6f::i",
        &[b"say HeLLo"],
        &[b"say hell0"],
    );
    ldb(
        "L;Engine:81-255,Target:0;0;68656c6c6f::w",
        &[b"h\0e\0l\0l\0o\0"],
        &[b"hello"],
    );
    ldb(
        "L;Engine:81-255,Target:0;0;68656c6c6f::wa",
        &[b"h\0e\0l\0l\0o\0", b"hello"],
        &[b"h.e.l.l.o."],
    );
    ldb(
        "L;Engine:81-255,Target:0;0;68656c6c6f::f",
        &[b"hello", b"say hello!"],
        &[b"sayhello", b"hello2"],
    );
    ldb(
        "L;Engine:81-255,Target:0;0;68656c6c6f::fi",
        &[b"say HELLO."],
        &[b"xHELLO"],
    );
    ldb(
        "L;Engine:81-255,Target:0;0;68656c6c6f::iwf",
        &[b" H\0E\0L\0L\0O\0 "],
        &[b"xH\0E\0L\0L\0O\0"],
    );
}

#[test]
fn pcre_subsignatures() {
    ldb(
        "L;Engine:81-255,Target:0;0&1;6576616c;0/eval\\s*\\(\\s*unescape/",
        &[b"x=eval ( unescape('%41')"],
        &[b"eval(x) unescape"],
    );
    ldb(
        "L;Engine:81-255,Target:0;0&1;6576616c;0/EVAL\\x28/i",
        &[b"eval("],
        &[b"eval "],
    );
    // Not triggered: subsignature 0 absent, so the PCRE never runs.
    ldb(
        "L;Engine:81-255,Target:0;1;41414141;0/x+y/",
        &[b"AAAA xxy"],
        &[b"xxy"],
    );
    // Anchored at an offset unless `r`.
    ldb(
        "L;Engine:81-255,Target:0;0&1;41414141;4:0/abc/",
        &[b"AAAAabc"],
        &[b"AAAA.abc"],
    );
    ldb(
        "L;Engine:81-255,Target:0;0&1;41414141;4:0/abc/r",
        &[b"AAAAabc", b"AAAA...abc"],
        &[b"abcAAAA"],
    );
    // `g` counts every match.
    ldb(
        "L;Engine:81-255,Target:0;0&1>2;41414141;0/ab/g",
        &[b"AAAA ab ab ab"],
        &[b"AAAA ab ab"],
    );
    // Unsupported PCRE: counted and skipped, not fatal.
    let mut db = Database::new();
    let r = db.load(
        "x.ldb",
        Kind::Ldb,
        b"L;Engine:81-255,Target:0;0&1;41414141;0/(a)\\1/\nM;Target:0;0;4242\n",
    );
    assert_eq!((r.loaded, r.unsupported), (1, 1), "{:?}", r.issues);
}

#[test]
fn target_description_block() {
    let pe = build_pe(&[(b"PAYLOADPAYLOAD", 0x1000)], 0x1000);
    let s = compile(
        Kind::Ldb,
        "L;Engine:51-255,Target:1,NumberOfSections:1-1,EntryPoint:512-512;0;5041594c4f4144",
    );
    assert_eq!(names(&s, &pe), ["L"]);
    let s = compile(
        Kind::Ldb,
        "L;Engine:51-255,Target:1,NumberOfSections:2-4;0;5041594c4f4144",
    );
    assert!(names(&s, &pe).is_empty());
    let s = compile(
        Kind::Ldb,
        "L;Engine:51-255,Target:0,FileSize:10-20;0;5041594c4f4144",
    );
    assert_eq!(names(&s, b"PAYLOAD..."), ["L"]);
    assert!(names(&s, b"PAYLOAD.................").is_empty());
    let s = compile(Kind::Ldb, "L;Target:6;0;5041594c4f4144");
    assert!(names(&s, &pe).is_empty(), "ELF target on a PE");
}

#[test]
fn section_hashes() {
    use md5::{Digest, Md5};
    let sec: &[u8] = b"a section body that is hashed";
    let pe = build_pe(&[(b"code", 0x1000), (sec, 0x2000)], 0x1000);
    let mut padded = sec.to_vec();
    padded.resize(0x200, 0);
    let md5 = hex::encode(Md5::digest(&padded));
    let sha1 = hex::encode(sha1::Sha1::digest(&padded));
    let sha256 = hex::encode(sha2::Sha256::digest(&padded));
    let s = compile(Kind::Mdb, &format!("512:{md5}:Sec.Md5\n"));
    let r = s.scan(&ScanInput {
        data: &pe,
        target: None,
    });
    assert_eq!(r.matches.len(), 1);
    assert_eq!(r.matches[0].kind, SigKind::SectionHash);
    assert_eq!(r.matches[0].offset, Some(0x400));
    let s = compile(
        Kind::Msb,
        &format!("512:{sha1}:Sec.Sha1\n*:{sha256}:Sec.Sha256:73\n513:{sha256}:Wrong.Size\n"),
    );
    let mut got = names(&s, &pe);
    got.sort();
    assert_eq!(got, ["Sec.Sha1", "Sec.Sha256"]);
    // Not a PE: nothing.
    assert!(names(&s, &padded).is_empty());
}

#[test]
fn ignore_lists() {
    let line = "Eicarish:0:*:4142434445";
    let mut db = Database::new();
    db.load(
        "a.ndb",
        Kind::Ndb,
        format!("{line}\nKept:0:*:4142434445\n").as_bytes(),
    );
    db.load("local.ign2", Kind::Ign2, b"Eicarish\n");
    let s = db.finish();
    assert_eq!(names(&s, b"ABCDE"), ["Kept"]);
    assert_eq!(s.stats().ignored, 1);
    assert!(s.ignored_names().contains("Eicarish"));

    // With an MD5: only the exact database line is ignored.
    use md5::{Digest, Md5};
    let md5 = hex::encode(Md5::digest(line.as_bytes()));
    for (entry, ignored) in [
        (format!("Eicarish:{md5}"), true),
        ("Eicarish:00000000000000000000000000000000".into(), false),
    ] {
        let mut db = Database::new();
        db.load("a.ndb", Kind::Ndb, line.as_bytes());
        db.load("local.ign2", Kind::Ign2, entry.as_bytes());
        assert_eq!(names(&db.finish(), b"ABCDE").is_empty(), ignored, "{entry}");
    }
}

#[test]
fn containers() {
    let c = cvd::build(
        &[
            ("t.ndb", b"Cvd.Body:0:*:636f6e7461696e6564\n"),
            (
                "t.ldb",
                b"Cvd.Logical;Target:0;0&1;636f6e7461696e6564;7369676e\n",
            ),
            ("t.hdb", b"44d88612fea8a8f36de82e1278abb02f:68:Eicar\n"),
        ],
        3,
        "X",
        true,
    );
    let mut db = Database::new();
    let r = db.load("my.cud", Kind::Container(Flavour::Cud), &c);
    assert_eq!(r.error, None);
    assert_eq!(r.integrity, Some(Integrity::Md5Only));
    assert_eq!(r.loaded, 2);
    assert_eq!(r.passed_over, ["t.hdb"]);
    let s = db.finish();
    let m = s
        .scan(&ScanInput {
            data: b"contained sign",
            target: None,
        })
        .matches;
    let got: Vec<(&str, &str)> = m.iter().map(|m| (m.name.as_str(), &*m.source)).collect();
    assert_eq!(
        got,
        [
            ("Cvd.Body", "my.cud:t.ndb"),
            ("Cvd.Logical", "my.cud:t.ldb")
        ]
    );

    // As a .cvd it must carry ClamAV's signature: refused, nothing loaded.
    let mut db = Database::new();
    let r = db.load("my.cvd", Kind::Container(Flavour::Cvd), &c);
    assert!(
        r.error.as_deref().unwrap_or("").contains("signature"),
        "{:?}",
        r.error
    );
    assert!(db.finish().is_empty());
}

/// Needs Debian's `sigtool`; skipped (with a note) when it is absent. A
/// .cud built by ClamAV's own tool must load, and its signatures match.
#[test]
fn sigtool_built_cud_loads() {
    let Ok(out) = std::process::Command::new("sigtool")
        .arg("--version")
        .output()
    else {
        eprintln!("sigtool not installed: skipped");
        return;
    };
    if !out.status.success() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("clamsig-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("COPYING"), "test\n").unwrap();
    std::fs::write(
        dir.join("test.ndb"),
        "Sigtool.Body:0:*:736967746f6f6c2d6d61726b6572\n",
    )
    .unwrap();
    let st = std::process::Command::new("sigtool")
        .args([
            "--build=test.cud",
            "--unsigned",
            "--cvd-version=1",
            "--no-cdiff",
            "--max-bad-sigs=0",
        ])
        .current_dir(&dir)
        .env("SIGNDUSER", "takedown")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let Ok(bytes) = std::fs::read(dir.join("test.cud")) else {
        eprintln!(
            "sigtool could not build: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    let mut db = Database::new();
    let r = db.load("test.cud", Kind::Container(Flavour::Cud), &bytes);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.error, None, "{r:?}");
    assert_eq!(r.loaded, 1, "{r:?}");
    let s = db.finish();
    assert_eq!(names(&s, b"a sigtool-marker b"), ["Sigtool.Body"]);
}

#[test]
fn hostile_inputs_do_not_panic_or_run_away() {
    // A file full of anchor hits with a long gap after them.
    let s = compile(Kind::Ndb, "T:0:*:4141*42424242\nU:0:*:4141{1-60000}4343");
    let data = vec![b'A'; 256 << 10];
    let t = std::time::Instant::now();
    let r = s.scan(&ScanInput {
        data: &data,
        target: None,
    });
    assert!(r.matches.is_empty());
    // Generous for unoptimised builds on a loaded machine; unbounded work
    // would take hours here.
    assert!(t.elapsed().as_secs() < 60, "took {:?}", t.elapsed());
    // Junk databases.
    let mut db = Database::new();
    for kind in [Kind::Ndb, Kind::Ldb, Kind::Mdb, Kind::Ign2] {
        let r = db.load("junk", kind, b"\xff\xfe\n::::\n;;;;\n(((\n");
        assert_eq!(r.loaded + r.malformed + r.unsupported, 4, "{kind:?}: {r:?}");
    }
}

#[test]
fn signatures_are_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Signatures>();
    let s = std::sync::Arc::new(compile(Kind::Ndb, "T:0:*:7468726561646564"));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || names(&s, b"xx threaded xx"))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), ["T"]);
    }
}

/// A minimal 64-bit little-endian ELF: one PT_LOAD mapping the file at
/// 0x400000, entry point at file offset 0x80.
fn build_elf(code: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 0x80];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // 64-bit
    f[5] = 1; // little endian
    f[6] = 1;
    f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
    f[24..32].copy_from_slice(&0x400080u64.to_le_bytes()); // e_entry
    f[32..40].copy_from_slice(&0x40u64.to_le_bytes()); // e_phoff
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    let ph = 0x40;
    f[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    f[ph + 16..ph + 24].copy_from_slice(&0x400000u64.to_le_bytes()); // p_vaddr
    let size = (0x80 + code.len()) as u64;
    f[ph + 32..ph + 40].copy_from_slice(&size.to_le_bytes()); // p_filesz
    f.extend_from_slice(code);
    f
}

#[test]
fn elf_entry_point() {
    let elf = build_elf(b"ELFENTRYCODE");
    let s = compile(Kind::Ndb, "T:6:EP+0:454c46454e545259");
    assert_eq!(names(&s, &elf), ["T"]);
    let s = compile(Kind::Ndb, "T:6:EP+3:454e545259");
    assert_eq!(names(&s, &elf), ["T"]);
    let s = compile(Kind::Ndb, "T:1:EP+0:454c46454e545259");
    assert!(names(&s, &elf).is_empty(), "PE-only signature on an ELF");
}
