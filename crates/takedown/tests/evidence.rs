//! `takedown evidence` and `scan --evidence`, end to end with the real
//! binary, every package checked by the independent tools a police
//! examiner would use: `bagit.py --validate` (PyPI bagit), `hashdeep -a`,
//! `ssh-keygen -Y verify`, `openssl ts -verify`, `tar` and `age`.

#[path = "../../evidence/tests/common/tsa.rs"]
mod tsa;
mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use util::*;

const CASE_ID: &str = "AVA-2016-0042";
const EXAMINER: &str = "Jane Examiner";

/// Whether an independent tool runs; under CI a missing tool fails the
/// test instead of skipping it.
fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty());
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "{tool} is required under CI (.ci/run installs it)"
    );
    if !ok {
        eprintln!("skipped: {tool} is not installed");
    }
    ok
}

fn key(t: &Tree) -> String {
    t.arg("examiner_ed25519")
}

fn ev(t: &Tree, args: &[&str]) -> std::process::Output {
    let mut all = vec!["evidence"];
    all.extend_from_slice(args);
    t.run(&all)
}

fn init(t: &Tree, case: &str, extra: &[&str]) {
    let k = key(t);
    let mut args = vec![
        "init",
        case,
        "--case-id",
        CASE_ID,
        "--examiner",
        EXAMINER,
        "--organisation",
        "CERT Test",
        "--key",
        &k,
    ];
    args.extend_from_slice(extra);
    let o = ev(t, &args);
    assert_eq!(code(&o), 0, "init: {}{}", stdout(&o), stderr(&o));
}

fn add(t: &Tree, case: &str, paths: &[&str]) -> std::process::Output {
    let k = key(t);
    let mut args = vec!["add", case, "--key", &k, "--reason", "test acquisition"];
    args.extend_from_slice(paths);
    ev(t, &args)
}

fn verify(t: &Tree, target: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["verify", target];
    args.extend_from_slice(extra);
    ev(t, &args)
}

/// `bagit.py --validate DIR`: exit 0 when valid.
fn bagit_valid(dir: &Path) -> Option<bool> {
    let py = reference_python()?;
    let o = Command::new(&py)
        .args(["-m", "bagit", "--validate"])
        .arg(dir)
        .output()
        .expect("run bagit.py");
    Some(o.status.success())
}

/// `hashdeep -a -k hashdeep.txt -l -r data` in the bag: exit 0 when every
/// file matches and none is missing or unknown.
fn hashdeep_ok(dir: &Path) -> Option<bool> {
    if !have("hashdeep", "-V") {
        return None;
    }
    let o = Command::new("hashdeep")
        .args(["-a", "-k", "hashdeep.txt", "-l", "-r", "data"])
        .current_dir(dir)
        .output()
        .expect("run hashdeep");
    Some(o.status.success())
}

/// The principals of `custody/allowed_signers`.
fn principals(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("custody/allowed_signers"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .flat_map(|l| {
            l.split_whitespace()
                .next()
                .unwrap()
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `ssh-keygen -Y verify` of one entry with any principal of the case.
fn ssh_verifies(dir: &Path, stem: &str) -> bool {
    principals(dir).iter().any(|p| {
        let entry = std::fs::File::open(dir.join(format!("custody/{stem}.json"))).unwrap();
        Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f", "custody/allowed_signers", "-I", p])
            .args(["-n", "takedown-custody@takedown", "-s"])
            .arg(format!("custody/{stem}.json.sig"))
            .current_dir(dir)
            .stdin(entry)
            .output()
            .expect("run ssh-keygen")
            .status
            .success()
    })
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("custody"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

/// Extracts a tar package into a new directory `into`; returns the bag.
fn untar(archive: &Path, into: &Path) -> PathBuf {
    std::fs::create_dir(into).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(st.success(), "tar -xf {}", archive.display());
    into.join(CASE_ID)
}

/// A new unencrypted Ed25519 key made by ssh-keygen at `path`.
fn ssh_key(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen -f {}", path.display());
}

fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Every file of the payload, relative to the bag.
fn payload(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                walk(base, &e.path(), out);
            } else {
                out.push(e.path().strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut v = Vec::new();
    if dir.join("data").exists() {
        walk(dir, &dir.join("data"), &mut v);
    }
    v.sort();
    v
}

fn items(dir: &Path) -> Vec<serde_json::Value> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir.join("items")).unwrap().flatten() {
        for line in std::fs::read_to_string(e.path()).unwrap().lines() {
            v.push(serde_json::from_str(line).unwrap());
        }
    }
    v
}

#[test]
fn a_case_is_preserved_verified_and_sealed_for_independent_tools() {
    let t = Tree::new();
    t.write("src/dropper.exe", b"MZ\x90\x00 not really a dropper");
    t.write("src/conf/config.bin", vec![7u8; 300_000]);
    t.write("src/odd %name\twith tab.txt", b"odd");
    std::os::unix::fs::symlink("conf/config.bin", t.path("src/link")).unwrap();
    let before = std::fs::symlink_metadata(t.path("src/dropper.exe")).unwrap();
    let case = t.arg("case");
    init(&t, &case, &[]);
    // The key was generated 0600 and ssh-keygen reads it.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(key(&t)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let o = add(&t, &case, &[&t.arg("src")]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("preserved 4 item(s)"), "{}", stdout(&o));
    // Only the case's owner may read what it holds.
    let mode = std::fs::metadata(t.path("case"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    // The case itself is never preserved into itself.
    let o = add(&t, &case, &[&t.arg("case/bagit.txt")]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("inside the evidence case"),
        "{}",
        stderr(&o)
    );

    // The source is untouched, access time included (root or owner:
    // O_NOATIME).
    let after = std::fs::symlink_metadata(t.path("src/dropper.exe")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(before.mtime_nsec(), after.mtime_nsec());
    assert_eq!(before.atime(), after.atime());
    assert_eq!(before.atime_nsec(), after.atime_nsec());

    // The records say where each item came from, with its metadata.
    let recs = items(&t.path("case"));
    let dropper = recs
        .iter()
        .find(|r| r["source"].as_str().unwrap().ends_with("src/dropper.exe"))
        .unwrap();
    assert_eq!(
        dropper["ino"].as_u64().or(dropper["meta"]["ino"].as_u64()),
        Some(before.ino())
    );
    assert_eq!(
        dropper["meta"]["mode"].as_u64(),
        Some(u64::from(before.mode()))
    );
    assert_eq!(dropper["kind"], "file");
    let link = recs.iter().find(|r| r["kind"] == "symlink").unwrap();
    assert_eq!(link["link_target"], "conf/config.bin");
    let copy = t.path("case").join(dropper["path"].as_str().unwrap());
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::read(copy).unwrap(),
        std::fs::read(t.path("src/dropper.exe")).unwrap()
    );

    let o = verify(&t, &case, &[]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(": intact: 4 item(s)"), "{}", stdout(&o));
    let o = verify(&t, &case, &["--all-digests"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let dir = t.path("case");
    if let Some(ok) = bagit_valid(&dir) {
        assert!(ok, "bagit.py refuses the case");
    }
    if let Some(ok) = hashdeep_ok(&dir) {
        assert!(ok, "hashdeep refuses the case");
    }
    if have("ssh-keygen", "-?") {
        for e in entries(&dir) {
            assert!(ssh_verifies(&dir, &e), "ssh-keygen refuses entry {e}");
        }
    }

    // Hand-over, then an interim export and the seal.
    let o = ev(
        &t,
        &[
            "transfer",
            &case,
            "--to",
            "Officer Bob",
            "--reason",
            "courier",
            "--key",
            &key(&t),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let k = key(&t);
    let o = ev(
        &t,
        &["export", &case, "-o", &t.arg("interim.tar"), "--key", &k],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = verify(&t, &t.arg("interim.tar"), &[]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let listing = Command::new("tar")
        .arg("-tf")
        .arg(t.path("interim.tar"))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains(&format!("{CASE_ID}/VERIFY.txt")),
        "{listing}"
    );
    assert!(!listing.contains(".takedown"), "{listing}");
    // Extracted by tar, the bag passes bagit.py.
    let extracted = untar(&t.path("interim.tar"), &t.path("x"));
    if let Some(ok) = bagit_valid(&extracted) {
        assert!(ok, "bagit.py refuses the extracted package");
    }

    if have("age-keygen", "--version") {
        let o = Command::new("age-keygen")
            .arg("-o")
            .arg(t.path("police.age"))
            .output()
            .unwrap();
        assert!(o.status.success());
        let text = std::fs::read_to_string(t.path("police.age")).unwrap();
        let recipient = text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap()
            .to_string();
        // A mistyped recipient: refused before anything is logged, and
        // the case stays open.
        let o = ev(
            &t,
            &[
                "seal",
                &case,
                "-o",
                &t.arg("bad.tar.age"),
                "--recipient",
                "age1typo",
                "--key",
                &k,
            ],
        );
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(!stdout(&ev(&t, &["log", &case])).contains(" seal "));
        assert!(!t.path("case/.takedown/journal.json").exists());
        let o = ev(
            &t,
            &[
                "seal",
                &case,
                "-o",
                &t.arg("sealed.tar.age"),
                "--recipient",
                &recipient,
                "--key",
                &k,
            ],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        // Without the identity: an error, not a verdict.
        let o = verify(&t, &t.arg("sealed.tar.age"), &[]);
        assert_eq!(code(&o), 2, "{}{}", stdout(&o), stderr(&o));
        let o = verify(&t, &t.arg("sealed.tar.age"), &["-i", &t.arg("police.age")]);
        assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
        // age and tar open it; bagit.py validates what they give.
        std::fs::create_dir(t.path("y")).unwrap();
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "age -d -i '{}' '{}' | tar -x -C '{}'",
                t.arg("police.age"),
                t.arg("sealed.tar.age"),
                t.arg("y")
            ))
            .status()
            .unwrap();
        assert!(st.success());
        let bag = t.path("y").join(CASE_ID);
        if let Some(ok) = bagit_valid(&bag) {
            assert!(ok, "bagit.py refuses the decrypted package");
        }
        let verify_txt = std::fs::read_to_string(bag.join("VERIFY.txt")).unwrap();
        assert!(verify_txt.contains("ssh-keygen -Y verify"), "{verify_txt}");
        assert!(verify_txt.contains("hashdeep"), "{verify_txt}");
        // Sealed: nothing more can be added.
        let o = add(&t, &case, &[&t.arg("src/dropper.exe")]);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains("sealed"), "{}", stderr(&o));
    }

    // The log tells the whole story.
    let o = ev(&t, &["log", &case]);
    let log = stdout(&o);
    for event in ["init", "add", "transfer", "export"] {
        assert!(log.contains(event), "{log}");
    }
}

/// A base case with three entries (init, two adds), for the tamper tests.
fn base_case(t: &Tree) -> PathBuf {
    t.write("src/a.bin", b"first item");
    t.write("src/b.bin", vec![1u8; 5000]);
    t.write("src/c.bin", b"third item");
    let case = t.arg("base");
    init(t, &case, &[]);
    assert_eq!(
        code(&add(t, &case, &[&t.arg("src/a.bin"), &t.arg("src/b.bin")])),
        0
    );
    assert_eq!(code(&add(t, &case, &[&t.arg("src/c.bin")])), 0);
    t.path("base")
}

/// Rewrites every manifest with bagit.py itself, as a forger would, so
/// that only takedown's custody checks can tell.
fn rebag(dir: &Path) {
    if let Some(py) = reference_python() {
        run_python(
            &py,
            "import sys, bagit; b = bagit.Bag(sys.argv[1]); b.save(manifests=True)",
            &[dir.to_str().unwrap()],
        );
    }
}

#[test]
fn every_kind_of_tampering_is_caught() {
    let t = Tree::new();
    let base = base_case(&t);
    let o = verify(&t, base.to_str().unwrap(), &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let ssh = have("ssh-keygen", "-?");
    let n = std::cell::Cell::new(0);
    let case = |name: &str, tamper: &dyn Fn(&Path), bagit: bool, hashdeep: Option<bool>| {
        n.set(n.get() + 1);
        let dir = t.path(&format!("t{}", n.get()));
        copy_tree(&base, &dir);
        tamper(&dir);
        let o = verify(&t, dir.to_str().unwrap(), &[]);
        assert_eq!(
            code(&o),
            1,
            "{name}: verify says\n{}{}",
            stdout(&o),
            stderr(&o)
        );
        if let Some(ok) = bagit_valid(&dir) {
            assert_eq!(ok, bagit, "{name}: bagit.py");
        }
        if let Some(want) = hashdeep
            && let Some(ok) = hashdeep_ok(&dir)
        {
            assert_eq!(ok, want, "{name}: hashdeep");
        }
        stdout(&o)
    };
    let item = payload(&base)[0].clone();
    let out = case(
        "flipped byte",
        &|d| {
            let p = d.join(&item);
            let mut b = std::fs::read(&p).unwrap();
            b[0] ^= 1;
            std::fs::write(&p, b).unwrap();
        },
        false,
        Some(false),
    );
    assert!(out.contains(item.to_str().unwrap()), "{out}");
    case(
        "removed item",
        &|d| std::fs::remove_file(d.join(&item)).unwrap(),
        false,
        Some(false),
    );
    let out = case(
        "added item",
        &|d| std::fs::write(d.join("data/000002/planted.bin"), b"planted").unwrap(),
        false,
        Some(false),
    );
    assert!(out.contains("planted.bin"), "{out}");
    // Even with manifests recomputed by bagit.py, an added item is one no
    // custody entry acquired.
    let out = case(
        "added item, manifests forged",
        &|d| {
            std::fs::write(d.join("data/000002/planted.bin"), b"planted").unwrap();
            rebag(d);
        },
        true,
        None,
    );
    assert!(out.contains("no custody entry acquired it"), "{out}");

    // A manifest's MD5 line changed (tag manifests forged): the default
    // verify hashes only SHA-256, and still catches it against the signed
    // records; so does --all-digests, and bagit.py.
    let forge_md5 = |d: &Path| {
        let p = d.join("manifest-md5.txt");
        let s = std::fs::read_to_string(&p).unwrap();
        let first = s.lines().next().unwrap().to_string();
        let flipped = format!(
            "{}{}",
            if first.starts_with('0') { '1' } else { '0' },
            &first[1..]
        );
        std::fs::write(&p, s.replacen(&first, &flipped, 1)).unwrap();
        if let Some(py) = reference_python() {
            run_python(
                &py,
                "import sys, bagit; b = bagit.Bag(sys.argv[1]); b.save(manifests=False)",
                &[d.to_str().unwrap()],
            );
        }
    };
    let out = case(
        "md5 manifest line, tag manifests forged",
        &forge_md5,
        false,
        None,
    );
    assert!(out.contains("acquisition recorded"), "{out}");
    let d = t.path(&format!("t{}", n.get()));
    let o = verify(&t, d.to_str().unwrap(), &["--all-digests"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));

    // bag-info.txt names another examiner (manifests forged): the signed
    // init entry disagrees.
    let out = case(
        "bag-info edited, manifests forged",
        &|d| {
            let p = d.join("bag-info.txt");
            let s = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, s.replace(EXAMINER, "Someone Else")).unwrap();
            rebag(d);
        },
        true,
        None,
    );
    assert!(out.contains("Contact-Name"), "{out}");

    let edit = |d: &Path| {
        let p = d.join("custody/000002.json");
        let s = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, s.replace("test acquisition", "test acquisitioN")).unwrap();
    };
    case("edited entry", &edit, false, None);
    let out = case(
        "edited entry, manifests forged",
        &|d| {
            edit(d);
            rebag(d);
        },
        true,
        None,
    );
    assert!(out.contains("custody/000002.json"), "{out}");
    if ssh {
        let d = t.path("ssh-edit");
        copy_tree(&base, &d);
        edit(&d);
        assert!(
            !ssh_verifies(&d, "000002"),
            "ssh-keygen accepts an edited entry"
        );
        assert!(ssh_verifies(&d, "000003"));
    }
    case(
        "removed entry",
        &|d| {
            std::fs::remove_file(d.join("custody/000002.json")).unwrap();
            std::fs::remove_file(d.join("custody/000002.json.sig")).unwrap();
            rebag(d);
        },
        true,
        None,
    );
    case(
        "reordered entries",
        &|d| {
            for ext in ["json", "json.sig"] {
                let (a, b) = (
                    d.join(format!("custody/000002.{ext}")),
                    d.join(format!("custody/000003.{ext}")),
                );
                std::fs::rename(&a, d.join("swap")).unwrap();
                std::fs::rename(&b, &a).unwrap();
                std::fs::rename(d.join("swap"), &b).unwrap();
            }
            rebag(d);
        },
        true,
        None,
    );
    if ssh {
        // The last entry rewritten and signed again with another key (its
        // `key` field too): a valid signature, but not the holder's.
        let other = t.path("other_key");
        ssh_key(&other);
        let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
        let other_pub: Vec<&str> = other_pub.split_whitespace().take(2).collect();
        let other_pub = other_pub.join(" ");
        let out = case(
            "re-signed with another key",
            &|d| {
                let p = d.join("custody/000003.json");
                let mut v: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                v["why"] = "rewritten".into();
                v["key"] = other_pub.clone().into();
                std::fs::write(&p, format!("{}\n", serde_json::to_string(&v).unwrap())).unwrap();
                std::fs::remove_file(d.join("custody/000003.json.sig")).unwrap();
                let st = Command::new("ssh-keygen")
                    .args(["-Y", "sign", "-f"])
                    .arg(&other)
                    .args(["-n", "takedown-custody@takedown"])
                    .arg(&p)
                    .output()
                    .unwrap();
                assert!(
                    st.status.success(),
                    "{}",
                    String::from_utf8_lossy(&st.stderr)
                );
                rebag(d);
            },
            true,
            None,
        );
        assert!(out.contains("custody/000003.json"), "{out}");
        let d = t.path(&format!("t{}", n.get()));
        assert!(
            !ssh_verifies(&d, "000003"),
            "ssh-keygen accepts a foreign key"
        );
    }
}

#[test]
fn a_kill_at_any_step_of_add_leaves_the_item_whole_and_logged_or_absent() {
    let t = Tree::new();
    t.write("src/one.bin", vec![3u8; 200_000]);
    t.write("src/dir/two.bin", b"two");
    // Learn the steps from the binary itself.
    let case0 = t.arg("c0");
    init(&t, &case0, &[]);
    let k = key(&t);
    let o = t
        .cmd()
        .args(["evidence", "add", &case0, &t.arg("src"), "--key", &k])
        .env("TAKEDOWN_FAULT_TRACE", "1")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let steps: Vec<String> = stderr(&o)
        .lines()
        .filter_map(|l| l.strip_prefix("fault-point: "))
        .filter(|s| s.starts_with("evidence-add:"))
        .map(str::to_string)
        .collect();
    assert!(steps.len() >= 6, "{steps:?}");
    for (i, step) in steps.iter().enumerate() {
        let case = t.arg(&format!("k{i}"));
        init(&t, &case, &[]);
        let o = t
            .cmd()
            .args(["evidence", "add", &case, &t.arg("src"), "--key", &k])
            .env("TAKEDOWN_FAULT", step)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), None, "{step}: not killed: {}", stderr(&o));
        // The next command finishes or rolls back, and says so.
        let o = ev(&t, &["log", &case]);
        assert_eq!(code(&o), 0, "{step}: {}", stderr(&o));
        let logged = stdout(&o).contains(" add ");
        let dir = t.path(&format!("k{i}"));
        let files = payload(&dir);
        if logged {
            assert_eq!(files.len(), 2, "{step}: logged but {files:?}");
        } else {
            assert!(files.is_empty(), "{step}: not logged but {files:?}");
        }
        assert!(!dir.join(".takedown/journal.json").exists(), "{step}");
        let o = verify(&t, &case, &[]);
        assert_eq!(code(&o), 0, "{step}: {}{}", stdout(&o), stderr(&o));
        if let Some(ok) = bagit_valid(&dir) {
            assert!(ok, "{step}: bagit.py");
        }
        // And the case goes on.
        assert_eq!(code(&add(&t, &case, &[&t.arg("src/one.bin")])), 0, "{step}");
        let o = verify(&t, &case, &[]);
        assert_eq!(code(&o), 0, "{step}: {}", stdout(&o));
    }
}

#[test]
fn scan_preserves_before_quarantine_and_leaves_in_place_what_it_cannot_keep() {
    let t = Tree::new();
    t.write("scan/eicar.com", eicar());
    t.write("scan/sub/eicar2.txt", eicar());
    let case = t.arg("case");
    init(&t, &case, &[]);
    let k = key(&t);
    let o = t.json(&[
        "--evidence",
        &case,
        "--key",
        &k,
        "--action",
        "quarantine",
        &t.arg("scan"),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let found = findings(&o);
    assert_eq!(found.len(), 2);
    for f in &found {
        assert_eq!(f["evidence"]["status"], "preserved", "{f}");
        assert_eq!(f["action"]["status"], "done", "{f}");
        let item = t.path("case").join(f["evidence"]["item"].as_str().unwrap());
        // Byte-identical to what the vault holds.
        let id = f["action"]["vault_id"].as_str().unwrap();
        let restored = t.path(&format!("restored-{id}"));
        let r = t.run(&[
            "quarantine",
            "restore",
            id,
            "--to",
            restored.to_str().unwrap(),
        ]);
        assert_eq!(code(&r), 0, "{}", stderr(&r));
        assert_eq!(
            std::fs::read(&item).unwrap(),
            std::fs::read(&restored).unwrap()
        );
    }
    assert!(!t.path("scan/eicar.com").exists());
    let recs = items(&t.path("case"));
    assert!(recs.iter().all(|r| r["detections"].is_array()), "{recs:?}");

    // A quarantined item, decrypted into the case, and the scan's own
    // findings, recognised as such.
    let id = found[0]["action"]["vault_id"].as_str().unwrap().to_string();
    std::fs::write(t.path("findings.ndjson"), &o.stdout).unwrap();
    let o2 = ev(
        &t,
        &[
            "add",
            &case,
            &t.arg("findings.ndjson"),
            "--from-vault",
            &id,
            "--key",
            &k,
        ],
    );
    assert_eq!(code(&o2), 0, "{}", stderr(&o2));
    let recs = items(&t.path("case"));
    let v = recs.iter().find(|r| r["kind"] == "vault-item").unwrap();
    assert_eq!(v["vault"]["id"], id.as_str());
    assert_eq!(v["sha256"], EICAR_SHA256);
    assert_eq!(
        std::fs::read(t.path("case").join(v["path"].as_str().unwrap())).unwrap(),
        eicar()
    );
    assert!(recs.iter().any(|r| r["kind"] == "findings"), "{recs:?}");
    let o = verify(&t, &case, &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));

    // The case inside the scanned tree: its copies are never scanned,
    // preserved again or quarantined.
    t.write("scan3/eicar.com", eicar());
    let o = t.json(&[
        "--evidence",
        &case,
        "--key",
        &k,
        "--action",
        "quarantine",
        t.root().to_str().unwrap(),
    ]);
    assert!(
        findings(&o)
            .iter()
            .all(|f| !f["path"].as_str().unwrap().contains("/case/")),
        "{}",
        stdout(&o)
    );
    let o = verify(&t, &case, &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));

    // Only preserving: no --action.
    t.write("scan2/eicar.com", eicar());
    let o = t.json(&["--evidence", &case, "--key", &k, &t.arg("scan2")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(findings(&o)[0]["evidence"]["status"], "preserved");
    assert!(t.path("scan2/eicar.com").exists());
}

#[test]
fn a_full_case_disk_leaves_the_file_in_place_and_says_why() {
    if !is_root() {
        eprintln!("skipped: mounting a small file system needs root");
        return;
    }
    let t = Tree::new();
    let mnt = t.path("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot mount a tmpfs under CI"
        );
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let case = mnt.join("case").to_str().unwrap().to_string();
    init(&t, &case, &[]);
    let mut big = vec![0u8; 1 << 20];
    big[..21].copy_from_slice(b"AVALANCHE-TEST-MARKER");
    t.write("scan/big.bin", &big);
    t.write(
        "rules.yara",
        "rule Marker { strings: $m = \"AVALANCHE-TEST-MARKER\" condition: $m }",
    );
    let k = key(&t);
    let o = t.json(&[
        "--no-builtin",
        "-s",
        &t.arg("rules.yara"),
        "--evidence",
        &case,
        "--key",
        &k,
        "--action",
        "quarantine",
        &t.arg("scan"),
    ]);
    let f = &findings(&o)[0];
    assert_eq!(f["evidence"]["status"], "failed", "{f}");
    assert!(
        f["evidence"]["reason"]
            .as_str()
            .unwrap()
            .contains("no space left"),
        "{f}"
    );
    assert_eq!(f["action"]["status"], "failed", "{f}");
    assert!(
        f["action"]["reason"]
            .as_str()
            .unwrap()
            .contains("left in place"),
        "{f}"
    );
    assert_eq!(std::fs::read(t.path("scan/big.bin")).unwrap(), big);
    // Nothing half-added.
    let o = verify(&t, &case, &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(payload(Path::new(&case)).is_empty());
}

#[test]
fn timestamps_hand_overs_and_keys() {
    let Some(tsa) = tsa::start() else { return };
    let t = Tree::new();
    t.write("src/a.bin", b"stamped evidence");
    let case = t.arg("case");
    init(
        &t,
        &case,
        &["--tsa", &tsa.url, "--tsa-ca", tsa.ca_pem.to_str().unwrap()],
    );
    assert_eq!(code(&add(&t, &case, &[&t.arg("src/a.bin")])), 0);
    // A hand-over to Bob and his key: from then on only Bob signs.
    let bob = t.path("bob_ed25519");
    ssh_key(&bob);
    let k = key(&t);
    let bob_pub = bob.with_extension("pub");
    let o = ev(
        &t,
        &[
            "transfer",
            &case,
            "--to",
            "Officer Bob",
            "--to-key",
            bob_pub.to_str().unwrap(),
            "--key",
            &k,
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = add(&t, &case, &[&t.arg("src/a.bin")]);
    assert_eq!(
        code(&o),
        2,
        "the old holder signed after the hand-over: {}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("holder"), "{}", stderr(&o));
    let o = ev(
        &t,
        &[
            "add",
            &case,
            &t.arg("src/a.bin"),
            "--key",
            bob.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let o = verify(&t, &case, &["--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["timestamps"].as_object().unwrap().len(), 4, "{doc}");
    let dir = t.path("case");
    if have("ssh-keygen", "-?") {
        for e in entries(&dir) {
            assert!(ssh_verifies(&dir, &e), "ssh-keygen refuses entry {e}");
        }
    }
    // openssl checks every stamp as VERIFY.txt says.
    let stamp_ok = |d: &Path, stem: &str| {
        Command::new("openssl")
            .args(["ts", "-verify", "-data"])
            .arg(format!("timestamps/{stem}.tagmanifest-sha256.txt"))
            .arg("-in")
            .arg(format!("timestamps/{stem}.tsr"))
            .args(["-CAfile", "timestamps/tsa-ca.pem"])
            .current_dir(d)
            .output()
            .unwrap()
            .status
            .success()
    };
    for e in entries(&dir) {
        assert!(stamp_ok(&dir, &e), "openssl refuses the stamp of {e}");
    }
    // The package's VERIFY.txt lists an openssl command per stamp; each
    // passes as written, from the extracted bag.
    let o = ev(
        &t,
        &[
            "export",
            &case,
            "-o",
            &t.arg("stamped.tar"),
            "--key",
            bob.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bag = untar(&t.path("stamped.tar"), &t.path("xs"));
    let text = std::fs::read_to_string(bag.join("VERIFY.txt")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("openssl ts -verify"))
        .collect();
    assert_eq!(lines.len(), 5, "{text}");
    for l in lines {
        let o = Command::new("sh")
            .arg("-c")
            .arg(l)
            .current_dir(&bag)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{l}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = verify(&t, &t.arg("stamped.tar"), &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));

    // A swapped timestamp: caught by takedown and by openssl.
    let d = t.path("swapped");
    copy_tree(&dir, &d);
    std::fs::copy(
        d.join("timestamps/000001.tsr"),
        d.join("timestamps/000002.tsr"),
    )
    .unwrap();
    let o = verify(&t, d.to_str().unwrap(), &[]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("timestamps/000002.tsr"),
        "{}",
        stdout(&o)
    );
    assert!(!stamp_ok(&d, "000002"));
    // Anchored to the CA the verifier trusts: the right one passes, another
    // (same name, other key) fails every stamp.
    let o = verify(&t, &case, &["--tsa-ca", tsa.ca_pem.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let other = tsa.other_ca();
    let o = verify(&t, &case, &["--tsa-ca", other.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    // The examiner's key pinned: right key passes, another fails.
    let pubkey = format!("{k}.pub");
    let o = verify(&t, &case, &["--expect-key", &pubkey]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let o = verify(&t, &case, &["--expect-key", bob_pub.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
}
