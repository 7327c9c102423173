//! Golden files for the line parsers: each `tests/golden/<kind>.in` line is
//! parsed and its canonical form (or the error) written to `<kind>.out`.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p takedown-clamav --test
//! golden` and review the diff.

use std::path::Path;
use takedown_clamav::cvd::{self, Flavour};
use takedown_clamav::sigs::{self, LineError};

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

fn run<T: std::fmt::Display>(kind: &str, parse: impl Fn(&str) -> Result<T, LineError>) {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{kind}.in"));
    let input = std::fs::read_to_string(input).unwrap();
    let mut out = String::new();
    for (i, line) in input.lines().enumerate() {
        let r = match parse(line) {
            Ok(v) => format!("ok   {v}"),
            Err(LineError::Unsupported(m)) => format!("unsupported: {m}"),
            Err(LineError::Malformed(m)) => format!("malformed: {m}"),
        };
        out.push_str(&format!("{}: {r}\n", i + 1));
    }
    check(&format!("{kind}.out"), &out);
}

#[test]
fn ndb() {
    run("ndb", sigs::parse_ndb);
}

#[test]
fn ldb() {
    // Through the loader: PCREs are compiled there (an unsupported one is
    // found only by compiling it).
    run("ldb", |line| {
        let mut db = takedown_clamav::Database::new();
        let r = db.load("t.ldb", takedown_clamav::Kind::Ldb, line.as_bytes());
        match r.issues.first() {
            Some(i) if i.unsupported => Err(LineError::Unsupported(
                i.reason.trim_start_matches("unsupported: ").into(),
            )),
            Some(i) => Err(LineError::Malformed(i.reason.clone())),
            None => sigs::parse_ldb(line),
        }
    });
}

#[test]
fn mdb() {
    run("mdb", sigs::parse_section_hash);
}

#[test]
fn ign2() {
    run("ign2", |l| {
        sigs::parse_ignore(l, false).map(|i| format!("{} {:?}", i.name, i.md5.map(hex::encode)))
    });
}

#[test]
fn cvd_headers_and_containers() {
    let good = cvd::build(
        &[("a.ndb", b"A:0:*:4142\n"), ("b.hdb", b"x\n")],
        12,
        "X",
        true,
    );
    let plain = cvd::build(&[("a.ndb", b"A:0:*:4142\n")], 13, "X", false);
    let mut bad_md5 = good.clone();
    let n = bad_md5.len() - 3;
    bad_md5[n] ^= 0x40;
    let mut bad_header = good.clone();
    bad_header[..20].copy_from_slice(b"ClamAV-VDB:x:y:z:w::");
    let mut cases: Vec<(&str, Vec<u8>, Flavour)> = vec![
        ("cud gzip", good.clone(), Flavour::Cud),
        ("cld plain tar", plain, Flavour::Cld),
        ("cvd unsigned", good.clone(), Flavour::Cvd),
        ("cvd bad md5", bad_md5.clone(), Flavour::Cvd),
        ("cld bad md5", bad_md5, Flavour::Cld),
        ("bad header", bad_header, Flavour::Cud),
        ("truncated", good[..600].to_vec(), Flavour::Cud),
        ("short", b"ClamAV-VDB:".to_vec(), Flavour::Cud),
    ];
    let mut out = String::new();
    for (label, data, fl) in cases.drain(..) {
        let r = match cvd::unpack(&data, fl) {
            Ok(c) => {
                let h = &c.header;
                let members: Vec<String> = c
                    .members
                    .iter()
                    .map(|(n, d)| format!("{n}({})", d.len()))
                    .collect();
                format!(
                    "ok version={} sigs={} flevel={} builder={} stime={} integrity={:?} members={}",
                    h.version,
                    h.sigs,
                    h.flevel,
                    h.builder,
                    h.stime,
                    c.integrity,
                    members.join(",")
                )
            }
            Err(e) => {
                let e = e.to_string();
                // The computed MD5 varies with the gzip encoder; keep the reason.
                let e = e.split(" is ").next().unwrap_or(&e).to_string();
                format!("error: {e}")
            }
        };
        out.push_str(&format!("{label}: {r}\n"));
    }
    check("cvd.out", &out);
}
