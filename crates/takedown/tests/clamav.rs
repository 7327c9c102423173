//! ClamAV databases through the real binary: `.ndb`, `.ldb`, `.mdb`,
//! `.hsb`, `.ign2` and a `.cud` container loaded beside each other and
//! matched in the same pass as everything else, at the top level and inside
//! containers. Samples and databases are built here at run time.

mod util;

use sha2::{Digest, Sha256};
use std::io::Write;
use util::*;

fn hex(s: &[u8]) -> String {
    hex::encode(s)
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A minimal PE with the given sections (data, RVA), raw data aligned to
/// 512 bytes, as ClamAV's section hashes see it.
fn build_pe(sections: &[(&[u8], u32)], entry_rva: u32) -> Vec<u8> {
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

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Every finding's detections as (file name, chain, engine, name, source).
fn detections(o: &std::process::Output) -> Vec<(String, String, String, String, String)> {
    let mut v = Vec::new();
    for f in findings(o) {
        let file = f["path"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        let chain = f["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect::<Vec<_>>()
            .join("!");
        for d in f["detections"].as_array().unwrap() {
            let source = d["source"].as_str().unwrap();
            let source = source.rsplit('/').next().unwrap().to_string();
            v.push((
                file.clone(),
                chain.clone(),
                d["engine"].as_str().unwrap().to_string(),
                d["name"].as_str().unwrap().to_string(),
                source,
            ));
        }
    }
    v.sort();
    v
}

fn validate_against_schema(o: &std::process::Output) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/finding.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for line in ndjson(o) {
        if let Err(e) = validator.validate(&line) {
            panic!("output does not match the schema: {e}\n{line}");
        }
    }
}

const MARKER: &[u8] = b"takedown-clamav-marker";
const SECTION: &[u8] = b"a section body that ClamAV hashes whole";

/// The signature tree: every supported ClamAV kind, one broken line and
/// one unsupported line.
fn databases(t: &Tree) {
    t.write(
        "sigs/local.ndb",
        format!(
            "Test.Body.Marker:0:*:{}{{0-8}}{}\nBroken.Line:0:*:zz\nTest.Unsupported:1:VI:41424344\nTest.Body.Ignored:0:*:{}\n",
            hex(MARKER),
            hex(b"-end"),
            hex(b"silenced by ign2"),
        ),
    );
    t.write(
        "sigs/local.ldb",
        format!(
            "Test.Logical;Engine:51-255,Target:0;0&1;{};{}::i\n",
            hex(b"first part"),
            hex(b"second part"),
        ),
    );
    let mut padded = SECTION.to_vec();
    padded.resize(0x200, 0);
    t.write(
        "sigs/local.mdb",
        format!("512:{}:Test.Section\n", hex::encode(md5(&padded))),
    );
    t.write(
        "sigs/local.hsb",
        format!(
            "{}:{}:Test.Hash.Sample\n{}:{}:Test.Hash.Ignored\n",
            sha256(b"hash sample\n"),
            b"hash sample\n".len(),
            sha256(b"ignored hash sample\n"),
            b"ignored hash sample\n".len(),
        ),
    );
    t.write("sigs/local.ign2", "Test.Hash.Ignored\nTest.Body.Ignored\n");
    let ndb = format!("Test.Cud.Body:0:*:{}\n", hex(b"from a container db"));
    let hsb = format!(
        "{}:{}:Test.Cud.Hash\n",
        sha256(b"cud hash sample\n"),
        b"cud hash sample\n".len()
    );
    let cud = takedown_clamav::cvd::build(
        &[("c.ndb", ndb.as_bytes()), ("c.hsb", hsb.as_bytes())],
        7,
        "",
        true,
    );
    t.write("sigs/bundle.cud", cud);
}

fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(data).into()
}

fn samples(t: &Tree) {
    let mut marker = b"xx ".to_vec();
    marker.extend_from_slice(MARKER);
    marker.extend_from_slice(b"12-end xx");
    t.write("scan/marker.bin", &marker);
    t.write("scan/logical.txt", "first part, then SECOND PART\n");
    t.write(
        "scan/app.exe",
        build_pe(&[(b"code", 0x1000), (SECTION, 0x2000)], 0x1000),
    );
    t.write("scan/hash.bin", "hash sample\n");
    t.write("scan/ignored.bin", "ignored hash sample\n");
    t.write("scan/ignored-body.txt", "this is silenced by ign2\n");
    t.write("scan/cud.txt", "text from a container db\n");
    t.write("scan/cudhash.bin", "cud hash sample\n");
    t.write(
        "scan/archive.zip",
        zip_of(&[("inner/dropper.bin", &marker)]),
    );
    t.write("scan/clean.txt", "nothing to see\n");
}

#[test]
fn clamav_databases_match_in_one_pass_with_containers() {
    let t = Tree::new();
    databases(&t);
    samples(&t);
    let o = t.json(&["--no-builtin", "-s", &t.arg("sigs"), &t.arg("scan")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    validate_against_schema(&o);
    let got = detections(&o);
    let want = [
        ("app.exe", "", "clamav", "Test.Section", "local.mdb"),
        (
            "archive.zip",
            "inner/dropper.bin",
            "clamav",
            "Test.Body.Marker",
            "local.ndb",
        ),
        ("cud.txt", "", "clamav", "Test.Cud.Body", "bundle.cud:c.ndb"),
        (
            "cudhash.bin",
            "",
            "hash",
            "Test.Cud.Hash",
            "bundle.cud:c.hsb",
        ),
        ("hash.bin", "", "hash", "Test.Hash.Sample", "local.hsb"),
        ("logical.txt", "", "clamav", "Test.Logical", "local.ldb"),
        ("marker.bin", "", "clamav", "Test.Body.Marker", "local.ndb"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(a, b, c, d, e)| {
            (
                a.to_string(),
                b.to_string(),
                c.to_string(),
                d.to_string(),
                e.to_string(),
            )
        })
        .collect();
    assert_eq!(got, want, "{}", stdout(&o));
    // The body match says where it is.
    let marker = findings(&o)
        .into_iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("marker.bin"))
        .unwrap();
    let d = &marker["detections"][0];
    assert_eq!(d["metadata"]["kind"], "body");
    assert_eq!(d["metadata"]["offset"], 3);
    assert_eq!(d["score"], 100);
    assert!(marker["sha256"].is_string());
    // The broken and the unsupported line are reported by file and line;
    // everything else loaded.
    let err = stderr(&o);
    assert!(err.contains("local.ndb:2:"), "{err}");
    // The unsupported one as the summary of its kind, with where it is.
    assert!(
        err.contains(
            "unsupported ClamAV VI (version information) offsets: 1 signature skipped, first at "
        ) && err.contains("local.ndb:3 (-v lists each)"),
        "{err}"
    );
    assert!(err.contains("2 signature problem"), "{err}");
    // The text form names the engine and the database.
    let o = t.run(&[
        "scan",
        "--no-builtin",
        "-s",
        &t.arg("sigs"),
        &t.arg("scan/marker.bin"),
    ]);
    assert_eq!(code(&o), 1);
    let line = format!(
        "{}: Test.Body.Marker FOUND (clamav, score 100, {})",
        t.arg("scan/marker.bin"),
        t.arg("sigs/local.ndb")
    );
    assert!(stdout(&o).contains(&line), "{}", stdout(&o));
    // --strict refuses the set with a broken line.
    let o = t.json(&[
        "--no-builtin",
        "--strict",
        "-s",
        &t.arg("sigs"),
        &t.arg("scan"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("local.ndb"), "{}", stderr(&o));
}

#[test]
fn body_signatures_alone_read_every_byte_of_every_file() {
    // No YARA, no hash IOCs, no containers: a body signature can match
    // anywhere, so a large file must still be read whole.
    let t = Tree::new();
    t.write("sigs/only.ndb", format!("Test.Deep:0:*:{}\n", hex(MARKER)));
    let mut big = vec![b'.'; 300 << 10];
    big[200_000..200_000 + MARKER.len()].copy_from_slice(MARKER);
    t.write("scan/big.bin", &big);
    t.write("scan/other.bin", vec![b'-'; 100 << 10]);
    let o = t.json(&[
        "--no-builtin",
        "--no-containers",
        "-s",
        &t.arg("sigs"),
        &t.arg("scan"),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(detection_names(&o), ["Test.Deep"]);
    assert_eq!(summary(&o)["bytes_read"], (400 << 10) as u64);
}

#[test]
fn section_hashes_alone_read_executables_only() {
    let t = Tree::new();
    let mut padded = SECTION.to_vec();
    padded.resize(0x200, 0);
    t.write(
        "sigs/only.mdb",
        format!("512:{}:Test.Section\n", hex::encode(md5(&padded))),
    );
    // An executable over the 64 KiB probe, and a larger non-executable.
    let big_code = vec![0x90u8; 100 << 10];
    t.write(
        "scan/app.exe",
        build_pe(&[(&big_code, 0x1000), (SECTION, 0x40000)], 0x1000),
    );
    t.write("scan/data.bin", vec![b'-'; 300 << 10]);
    let o = t.json(&[
        "--no-builtin",
        "--no-containers",
        "-s",
        &t.arg("sigs"),
        &t.arg("scan"),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(detection_names(&o), ["Test.Section"]);
    let exe = std::fs::metadata(t.path("scan/app.exe")).unwrap().len();
    // The executable whole (after its 64 KiB probe), the other file only
    // probed.
    let read = summary(&o)["bytes_read"].as_u64().unwrap();
    assert_eq!(read, exe + (64 << 10) + (64 << 10), "{read}");
}

#[test]
fn signature_listing_counts_unsupported_lines() {
    let t = Tree::new();
    databases(&t);
    let o = t.run(&[
        "scan",
        "-v",
        "--no-builtin",
        "-s",
        &t.arg("sigs"),
        &t.arg("sigs/local.ign2"),
    ]);
    let err = stderr(&o);
    assert!(err.contains("(1 unsupported, skipped)"), "{err}");
}

/// `db/main.cud`: a container as ClamAV ships them, with several lines of
/// each kind of unsupported construct and one loadable signature.
fn unsupported_database(t: &Tree) {
    // Lines of each kind (the numbers differ so that a count cannot be
    // right by accident), with a loadable signature among them.
    let mut ndb = format!("Test.Real.Body:0:*:{}\n", hex(b"a real body"));
    for i in 0..3 {
        ndb.push_str(&format!("Test.Target.{i}:13:*:41424344\n"));
    }
    for i in 0..4 {
        ndb.push_str(&format!("Test.Vi.{i}:1:VI:41424344\n"));
    }
    let mut ldb = String::new();
    for i in 0..5 {
        ldb.push_str(&format!(
            "Test.Pcre.{i};Engine:81-255,Target:0;0&1;41424344;0/(a)\\1/\n"
        ));
    }
    for i in 0..2 {
        ldb.push_str(&format!(
            "Test.Macro.{i};Engine:51-255,Target:0;0&1;41424344;${{6-7}}12$\n"
        ));
    }
    for i in 0..6 {
        ldb.push_str(&format!(
            "Test.Bcomp.{i};Engine:51-255,Target:0;0&1;41424344;0(>>26#ib2#>512)\n"
        ));
    }
    let idb = "a:b:c:d\ne:f:g:h\n";
    let cbc = "ClamBCaa`|`````|`a\nTe\nSa\n";
    let cvd = takedown_clamav::cvd::build(
        &[
            ("main.ndb", ndb.as_bytes()),
            ("main.ldb", ldb.as_bytes()),
            ("main.idb", idb.as_bytes()),
            ("one.cbc", cbc.as_bytes()),
            ("two.cbc", cbc.as_bytes()),
        ],
        62,
        "",
        true,
    );
    t.write("db/main.cud", cvd);
}

/// `takedown serve` logs the same one line per kind at start.
#[test]
fn serve_logs_unsupported_constructs_one_line_per_kind() {
    let t = Tree::new();
    unsupported_database(&t);
    let srv = util::serve::Server::on_loopback(&t, &["--no-builtin", "-s", &t.arg("db/main.cud")]);
    let log = srv.log();
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("signature problem: "))
        .collect();
    assert_eq!(warned.len(), 7, "{log}");
    assert!(
        warned
            .iter()
            .all(|l| l.contains(": unsupported ClamAV ") && l.ends_with("(-v lists each)")),
        "{log}"
    );
    assert!(
        log.contains(
            "unsupported ClamAV byte compare subsignatures: 6 signatures skipped, first at "
        ),
        "{log}"
    );
}

/// A database as ClamAV ships them (`main.cvd`: hundreds of lines this
/// engine skips) is summarised as one warning per kind of construct, with
/// a count and the first place; `-v` lists every line.
#[test]
fn unsupported_constructs_are_summarised_one_line_per_kind() {
    let t = Tree::new();
    unsupported_database(&t);
    t.write("scan/clean.txt", "nothing\n");
    let db = t.path("db/main.cud");
    let db = db.display();
    let scan = |verbose: bool| {
        let mut args = vec!["scan", "--no-builtin", "-s"];
        if verbose {
            args.insert(0, "-v");
        }
        let sigs = t.arg("db/main.cud");
        let target = t.arg("scan");
        args.push(&sigs);
        args.push(&target);
        let o = t.run(&args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stderr(&o)
    };
    let err = scan(false);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("takedown: warning: "))
        .collect();
    let want = [
        format!(
            "takedown: warning: unsupported ClamAV signatures for unsupported target types: 3 signatures skipped, first at {db}:main.ndb:2 (-v lists each)"
        ),
        format!(
            "takedown: warning: unsupported ClamAV VI (version information) offsets: 4 signatures skipped, first at {db}:main.ndb:5 (-v lists each)"
        ),
        format!(
            "takedown: warning: unsupported ClamAV PCRE subsignatures the regex engine cannot express: 5 signatures skipped, first at {db}:main.ldb:1 (-v lists each)"
        ),
        format!(
            "takedown: warning: unsupported ClamAV macro subsignatures: 2 signatures skipped, first at {db}:main.ldb:6 (-v lists each)"
        ),
        format!(
            "takedown: warning: unsupported ClamAV byte compare subsignatures: 6 signatures skipped, first at {db}:main.ldb:8 (-v lists each)"
        ),
        format!(
            "takedown: warning: unsupported ClamAV icon signatures: 2 signatures skipped, first at {db}:main.idb (-v lists each)"
        ),
        format!(
            "takedown: warning: unsupported ClamAV bytecode signatures: 2 signatures skipped, first at {db}:one.cbc (-v lists each)"
        ),
        "takedown: warning: 23 signature problem(s); everything else loaded (--strict makes them fatal)".to_string(),
    ];
    assert_eq!(warnings, want, "{err}");

    // -v: every line, each with its file and line, and no summary.
    let err = scan(true);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("takedown: warning: "))
        .collect();
    assert_eq!(warnings.len(), 23 + 1, "{err}");
    for line in 2..=8 {
        assert!(
            err.contains(&format!(
                "takedown: warning: {db}:main.ndb:{line}: unsupported: "
            )),
            "main.ndb:{line}\n{err}"
        );
    }
    for line in 1..=13 {
        assert!(
            err.contains(&format!(
                "takedown: warning: {db}:main.ldb:{line}: unsupported: "
            )),
            "main.ldb:{line}\n{err}"
        );
    }
    assert!(!err.contains("-v lists each"), "{err}");
    // The one loadable signature did load.
    assert!(
        err.contains("1 ClamAV signatures (24 unsupported, skipped)"),
        "{err}"
    );
}

/// SHA-1 by coreutils' `sha1sum`: an oracle apart from the code under test.
fn sha1_by_coreutils(t: &Tree, rel: &str) -> String {
    let o = std::process::Command::new("sha1sum")
        .arg(t.path(rel))
        .output()
        .expect("sha1sum (coreutils)");
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()[..40].to_string()
}

/// ClamAV tells MD5, SHA-1 and SHA-256 apart by the hash's length in every
/// hash database (its own unit-test `clamav.hdb` holds a SHA-256 line), and
/// takes `*` for "any size": each length in each extension detects its
/// file through the real binary, and each length in `.fp` and `.sfp` lets
/// its file off a body signature that matches it.
#[test]
fn clamav_hash_databases_take_every_digest_length_in_every_extension() {
    let t = Tree::new();
    let mut want = Vec::new();
    for ext in ["hdb", "hdu", "hsb", "hsu"] {
        let mut db = String::new();
        for (i, algo) in ["md5", "sha1", "sha256"].iter().enumerate() {
            let rel = format!("scan/{ext}-{algo}.bin");
            let data = format!("hash database sample {ext} {algo}\n");
            t.write(&rel, &data);
            let digest = match *algo {
                "md5" => hex(&md5(data.as_bytes())),
                "sha1" => sha1_by_coreutils(&t, &rel),
                _ => sha256(data.as_bytes()),
            };
            // Every other line with ClamAV's wildcard size (and the
            // functionality level ClamAV wants with it).
            let (size, flevel) = if i == 1 {
                ("*".to_string(), ":73")
            } else {
                (data.len().to_string(), "")
            };
            let name = format!("Test.{ext}.{algo}");
            db.push_str(&format!("{digest}:{size}:{name}{flevel}\n"));
            want.push((format!("{ext}-{algo}.bin"), name, format!("t.{ext}")));
        }
        t.write(&format!("sigs/t.{ext}"), db);
    }
    // Allow-lists: every file below carries the marker a body signature
    // detects; those listed in .fp/.sfp are let off, by any digest length.
    t.write(
        "sigs/marker.ndb",
        format!("Test.Marker:0:*:{}\n", hex(MARKER)),
    );
    for ext in ["fp", "sfp"] {
        let mut db = String::new();
        for algo in ["md5", "sha1", "sha256"] {
            let rel = format!("scan/allowed-{ext}-{algo}.bin");
            let mut data = format!("allowed {ext} {algo} ").into_bytes();
            data.extend_from_slice(MARKER);
            t.write(&rel, &data);
            let digest = match algo {
                "md5" => hex(&md5(&data)),
                "sha1" => sha1_by_coreutils(&t, &rel),
                _ => sha256(&data),
            };
            db.push_str(&format!("{digest}:{}:Allowed.{ext}.{algo}\n", data.len()));
        }
        t.write(&format!("sigs/t.{ext}"), db);
    }
    let mut control = b"not allowed ".to_vec();
    control.extend_from_slice(MARKER);
    t.write("scan/control.bin", &control);
    want.push((
        "control.bin".to_string(),
        "Test.Marker".to_string(),
        "marker.ndb".to_string(),
    ));
    want.sort();
    let o = t.json(&["--no-builtin", "-s", &t.arg("sigs"), &t.arg("scan")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!stderr(&o).contains("signature problem"), "{}", stderr(&o));
    let got: Vec<_> = detections(&o)
        .into_iter()
        .map(|(file, _, _, name, source)| (file, name, source))
        .collect();
    assert_eq!(got, want, "{}", stdout(&o));
}
