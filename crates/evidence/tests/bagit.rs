//! The BagIt package, its reading and sealed archives, checked against the
//! reference tools: `bagit.py --validate` (PyPI bagit, in the workspace's
//! `.venv`), `hashdeep -a -k`, GNU `tar` and `age`. Without a tool the
//! test that needs it skips with a message, unless `CI` is set: then it
//! fails, so CI never passes by skipping.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use takedown_evidence::bagit::{self, BagInfo};
use takedown_evidence::contents::{BagContents, hash_reader};
use takedown_evidence::seal;
use takedown_evidence::{Problem, Severity};

/// The workspace root (for `.venv`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs a tool; `None` (skip) when it cannot be started and `CI` is unset.
fn run(cmd: &mut Command) -> Option<Output> {
    match cmd.output() {
        Ok(o) => Some(o),
        Err(e) => {
            let what = format!("{:?}", cmd.get_program());
            assert!(
                std::env::var_os("CI").is_none(),
                "{what} is needed by these tests under CI: {e}"
            );
            eprintln!("skipping: {what} cannot be run: {e}");
            None
        }
    }
}

/// The bagit.py interpreter, or `None` (skip) without it.
fn bagit_py() -> Option<Command> {
    let py = root().join(".venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import bagit"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "bagit.py (PyPI bagit in .venv) is needed by these tests under CI"
        );
        eprintln!("skipping: no bagit.py in {}", py.display());
        return None;
    }
    let mut c = Command::new(py);
    c.args(["-m", "bagit", "--validate"]);
    Some(c)
}

/// `bagit.py --validate DIR` (without `--fast`: every digest recomputed).
fn bagit_validates(dir: &Path) -> Option<bool> {
    let mut c = bagit_py()?;
    let o = run(c.arg(dir))?;
    if !o.status.success() {
        eprintln!("bagit.py: {}", String::from_utf8_lossy(&o.stderr));
    }
    Some(o.status.success())
}

/// `hashdeep -a -k hashdeep.txt -l -r data` from the bag root.
fn hashdeep_audits(dir: &Path) -> Option<bool> {
    let args: Vec<&str> = bagit::HASHDEEP_COMMAND.split(' ').skip(1).collect();
    let o = run(Command::new("hashdeep").args(&args).current_dir(dir))?;
    if !o.status.success() {
        eprintln!(
            "hashdeep: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Some(o.status.success())
}

/// Writes a bag in `dir` with these payload files (under `data/000001/`)
/// and a few tag files, as a case does.
fn make_bag(dir: &Path, files: &[(&str, Vec<u8>)]) {
    let mut items = Vec::new();
    for (name, bytes) in files {
        let rel = format!("data/000001/{name}");
        let path = bagit::bag_path_on_disk(dir, &rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        items.push((rel, hash_reader(bytes.as_slice()).unwrap()));
    }
    fs::create_dir_all(dir.join("custody")).unwrap();
    fs::create_dir_all(dir.join("items")).unwrap();
    fs::create_dir_all(dir.join(".takedown")).unwrap();
    fs::write(dir.join(".takedown/lock"), b"private").unwrap();
    fs::write(dir.join("custody/000001.json"), b"{\"seq\":1}\n").unwrap();
    fs::write(dir.join("items/000001.jsonl"), b"{}\n").unwrap();
    rewrite_manifests(dir, &items);
}

fn rewrite_manifests(dir: &Path, items: &[(String, takedown_evidence::Digests)]) {
    bagit::write_bagit_txt(dir).unwrap();
    let info = BagInfo {
        case_id: "CASE-2024-001".into(),
        examiner: "Alice Examiner".into(),
        organisation: Some("CERT\nInjected-Label: x".into()),
        description: Some("Dropper and config\nfrom host A".into()),
        created: "2024-05-01T10:00:00Z".into(),
        extra: vec![("Internal-Sender-Identifier".into(), "ticket 42".into())],
    };
    let bytes: u64 = items.iter().map(|(_, d)| d.size).sum();
    bagit::write_bag_info(dir, &info, bytes, items.len() as u64).unwrap();
    bagit::write_payload_manifests(dir, items).unwrap();
    bagit::write_tag_manifests(dir).unwrap();
}

fn safe_files() -> Vec<(&'static str, Vec<u8>)> {
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    vec![
        ("plain.txt", b"hello\n".to_vec()),
        ("with space.txt", b"spaces".to_vec()),
        ("ünïcödé €.bin", vec![0, 1, 2, 255]),
        ("comma,name.txt", b"comma".to_vec()),
        ("sub dir/nested/deep.dat", b"deep".to_vec()),
        ("empty", Vec::new()),
        ("big.bin", big),
    ]
}

fn contents(dir: &Path) -> BagContents {
    BagContents::from_dir(dir, 2).unwrap()
}

fn all_problems(c: &BagContents) -> Vec<Problem> {
    let mut p = c.problems.clone();
    p.extend(bagit::check(c));
    p
}

fn has(problems: &[Problem], subject: &str, severity: Severity, words: &str) -> bool {
    problems
        .iter()
        .any(|p| p.subject == subject && p.severity == severity && p.message.contains(words))
}

#[test]
fn a_bag_with_ordinary_names_passes_every_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case-1");
    make_bag(&dir, &safe_files());
    let c = contents(&dir);
    assert_eq!(all_problems(&c), []);
    assert_eq!(c.payload.len(), safe_files().len());
    assert!(c.tags.contains_key("custody/000001.json"));
    assert!(!c.tags.keys().any(|k| k.starts_with(".takedown")));
    // One thread or many: the same view.
    let one = BagContents::from_dir(&dir, 1).unwrap();
    assert_eq!(one.payload, c.payload);
    assert_eq!(one.tags, c.tags);
    // No temporary file left in the bag.
    assert!(
        fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp"))
    );
    // bag-info.txt: the injected line is a continuation, not a label.
    let info = String::from_utf8(c.tags["bag-info.txt"].clone()).unwrap();
    assert!(info.contains("\n  Injected-Label: x\n"), "{info}");
    assert!(info.contains("Payload-Oxum: "));
    for label in [
        "External-Identifier: CASE-2024-001",
        "Contact-Name: Alice Examiner",
    ] {
        assert!(info.contains(label), "{info}");
    }
    if let Some(ok) = bagit_validates(&dir) {
        assert!(ok, "bagit.py rejects the bag");
    }
    if let Some(ok) = hashdeep_audits(&dir) {
        assert!(ok, "hashdeep rejects the bag");
    }
}

#[test]
fn names_with_percent_and_line_breaks_are_encoded_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case-1");
    let files = vec![
        ("100%.txt", b"a".to_vec()),
        ("literal%25.txt", b"b".to_vec()),
        ("line\nbreak.txt", b"c".to_vec()),
        ("carriage\rreturn", b"d".to_vec()),
    ];
    make_bag(&dir, &files);
    let m = fs::read_to_string(dir.join("manifest-sha256.txt")).unwrap();
    for enc in [
        "data/000001/100%25.txt",
        "data/000001/literal%2525.txt",
        "data/000001/line%0Abreak.txt",
        "data/000001/carriage%0Dreturn",
    ] {
        assert!(m.contains(enc), "{enc} not in\n{m}");
    }
    assert_eq!(m.lines().count(), 4);
    let c = contents(&dir);
    assert_eq!(all_problems(&c), []);
    assert!(c.payload.contains_key("data/000001/line\nbreak.txt"));

    // bagit.py 1.8.1 decodes %0A (not %25, bagit-python#157): a bag whose
    // only odd name has a line break validates.
    let dir2 = tmp.path().join("case-2");
    make_bag(
        &dir2,
        &[("line\nbreak.txt", b"c".to_vec()), ("x", b"y".to_vec())],
    );
    assert_eq!(all_problems(&contents(&dir2)), []);
    if let Some(ok) = bagit_validates(&dir2) {
        assert!(ok, "bagit.py rejects a line break encoded as %0A");
    }
}

/// A tampered copy of a fresh bag: `tamper` changes it, then takedown,
/// bagit.py and hashdeep look.
struct Tampered {
    problems: Vec<Problem>,
    bagit_ok: Option<bool>,
    hashdeep_ok: Option<bool>,
}

fn tampered(tamper: impl FnOnce(&Path)) -> Tampered {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case-1");
    make_bag(&dir, &safe_files());
    tamper(&dir);
    Tampered {
        problems: all_problems(&contents(&dir)),
        bagit_ok: bagit_validates(&dir),
        hashdeep_ok: hashdeep_audits(&dir),
    }
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = fs::read(path).unwrap();
    b[at] ^= 0x01;
    fs::write(path, b).unwrap();
}

#[test]
fn a_flipped_payload_byte_is_caught_by_all() {
    let t = tampered(|d| flip_byte(&d.join("data/000001/big.bin"), 2_000_000));
    assert!(
        has(
            &t.problems,
            "data/000001/big.bin",
            Severity::Altered,
            "SHA-256 is "
        ),
        "{:#?}",
        t.problems
    );
    assert!(has(
        &t.problems,
        "data/000001/big.bin",
        Severity::Altered,
        "manifest-md5.txt says"
    ));
    assert!(t.problems.iter().all(|p| p.severity == Severity::Altered));
    assert_ne!(t.bagit_ok, Some(true));
    assert_ne!(t.hashdeep_ok, Some(true));
}

#[test]
fn a_removed_payload_file_is_caught_by_all() {
    let t = tampered(|d| fs::remove_file(d.join("data/000001/with space.txt")).unwrap());
    assert!(
        has(
            &t.problems,
            "data/000001/with space.txt",
            Severity::Altered,
            "is missing"
        ),
        "{:#?}",
        t.problems
    );
    // Once, though three manifests and hashdeep.txt list it.
    assert_eq!(
        t.problems
            .iter()
            .filter(|p| p.subject == "data/000001/with space.txt")
            .count(),
        1,
        "{:#?}",
        t.problems
    );
    assert!(has(
        &t.problems,
        "bag-info.txt",
        Severity::Altered,
        "Payload-Oxum says"
    ));
    assert_ne!(t.bagit_ok, Some(true));
    assert_ne!(t.hashdeep_ok, Some(true));
}

#[test]
fn an_added_payload_file_is_caught_by_all() {
    let t = tampered(|d| fs::write(d.join("data/000001/planted.exe"), b"MZ").unwrap());
    assert!(
        has(
            &t.problems,
            "data/000001/planted.exe",
            Severity::Altered,
            "not in the manifests (added)"
        ),
        "{:#?}",
        t.problems
    );
    assert_ne!(t.bagit_ok, Some(true));
    assert_ne!(t.hashdeep_ok, Some(true));
}

#[test]
fn an_edited_tag_file_is_caught() {
    let t = tampered(|d| fs::write(d.join("custody/000001.json"), b"{\"seq\":2}\n").unwrap());
    assert!(
        has(
            &t.problems,
            "custody/000001.json",
            Severity::Altered,
            "(changed)"
        ),
        "{:#?}",
        t.problems
    );
    assert_ne!(t.bagit_ok, Some(true));
    // hashdeep covers the payload only: nothing to see for it.
    assert_ne!(t.hashdeep_ok, Some(false));
}

#[test]
fn removed_and_added_tag_files_are_caught() {
    let t = tampered(|d| fs::remove_file(d.join("items/000001.jsonl")).unwrap());
    assert!(
        has(
            &t.problems,
            "items/000001.jsonl",
            Severity::Altered,
            "is missing"
        ),
        "{:#?}",
        t.problems
    );
    assert_ne!(t.bagit_ok, Some(true));
    let t = tampered(|d| fs::write(d.join("custody/000002.json"), b"{}").unwrap());
    assert!(
        has(
            &t.problems,
            "custody/000002.json",
            Severity::Altered,
            "not in the tag manifests (added)"
        ),
        "{:#?}",
        t.problems
    );
}

#[test]
fn an_edited_manifest_is_caught_by_its_tag_manifest_and_hashdeep_txt() {
    let t = tampered(|d| {
        let p = d.join("manifest-md5.txt");
        let text = fs::read_to_string(&p).unwrap();
        let first = text.lines().next().unwrap().to_string();
        let forged = format!("{}{}", "0".repeat(32), &first[32..]);
        fs::write(&p, text.replacen(&first, &forged, 1)).unwrap();
    });
    assert!(has(
        &t.problems,
        "manifest-md5.txt",
        Severity::Altered,
        "(changed)"
    ));
    assert!(has(
        &t.problems,
        "hashdeep.txt",
        Severity::Altered,
        "differs from manifest-md5.txt"
    ));
    assert_ne!(t.bagit_ok, Some(true));
}

#[test]
fn links_special_files_and_unknown_algorithms() {
    let t = tampered(|d| {
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc/passwd", d.join("data/000001/link")).unwrap();
        fs::write(d.join("manifest-sha512.txt"), b"").unwrap();
        fs::write(d.join("tagmanifest-blake3.txt"), b"").unwrap();
    });
    #[cfg(unix)]
    assert!(
        has(
            &t.problems,
            "data/000001/link",
            Severity::Altered,
            "symbolic link"
        ),
        "{:#?}",
        t.problems
    );
    assert!(has(
        &t.problems,
        "manifest-sha512.txt",
        Severity::Error,
        "cannot check"
    ));
    assert!(has(
        &t.problems,
        "tagmanifest-blake3.txt",
        Severity::Error,
        "cannot check"
    ));
    // A missing bagit.txt and a malformed manifest line.
    let t = tampered(|d| {
        fs::remove_file(d.join("bagit.txt")).unwrap();
        let p = d.join("manifest-sha1.txt");
        let mut text = fs::read_to_string(&p).unwrap();
        text.push_str("not-a-digest data/x\n");
        fs::write(p, text).unwrap();
    });
    assert!(has(
        &t.problems,
        "bagit.txt",
        Severity::Altered,
        "is missing"
    ));
    assert!(
        has(&t.problems, "manifest-sha1.txt", Severity::Error, "line 8:"),
        "{:#?}",
        t.problems
    );
}

fn tar_list(archive: &Path) -> Option<Vec<String>> {
    let o = run(Command::new("tar").arg("-tf").arg(archive))?;
    assert!(
        o.status.success(),
        "tar -tf: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect(),
    )
}

fn from_package(path: &Path, ids: &[PathBuf]) -> BagContents {
    BagContents::from_archive(seal::open_archive(path, ids).unwrap()).unwrap()
}

#[test]
fn a_sealed_archive_reads_back_as_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case-1");
    let long = format!(
        "{}/{}.bin",
        "long directory name ".repeat(6),
        "x".repeat(120)
    );
    let mut files = safe_files();
    files.push((long.as_str(), b"long".to_vec()));
    make_bag(&dir, &files);
    let out = tmp.path().join("case-1.tar");
    let info = seal::write_archive(&dir, "case-1", &out, &[]).unwrap();
    assert!(!info.encrypted);
    let bytes = fs::read(&out).unwrap();
    assert_eq!(info.bytes, bytes.len() as u64);
    assert_eq!(info.sha256, hash_reader(bytes.as_slice()).unwrap().sha256);
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        2,
        "a temporary file was left beside the archive"
    );

    let from_dir = contents(&dir);
    let from_tar = from_package(&out, &[]);
    assert_eq!(from_tar.problems, []);
    assert_eq!(from_tar.tags, from_dir.tags);
    assert_eq!(from_tar.payload, from_dir.payload);
    assert_eq!(bagit::check(&from_tar), []);

    // Deterministic order: tag files, sorted, then data/, sorted.
    if let Some(list) = tar_list(&out) {
        let files: Vec<&String> = list.iter().filter(|l| !l.ends_with('/')).collect();
        let first_data = files
            .iter()
            .position(|f| f.starts_with("case-1/data/"))
            .unwrap();
        assert!(files[..first_data].windows(2).all(|w| w[0] < w[1]));
        assert!(
            files[first_data..]
                .iter()
                .all(|f| f.starts_with("case-1/data/"))
        );
        assert!(files[first_data..].windows(2).all(|w| w[0] < w[1]));
        assert!(list.contains(&"case-1/tagmanifest-sha256.txt".to_string()));
        assert!(
            list.contains(&format!("case-1/data/000001/{long}")),
            "{list:#?}"
        );
        assert!(list.contains(&"case-1/data/000001/ünïcödé €.bin".to_string()));
        assert!(!list.iter().any(|l| l.contains(".takedown")));
        // Extracted by the real tar, the bag still validates.
        let x = tmp.path().join("x");
        fs::create_dir(&x).unwrap();
        let o = Command::new("tar")
            .arg("-xf")
            .arg(&out)
            .arg("-C")
            .arg(&x)
            .output()
            .unwrap();
        assert!(o.status.success());
        assert_eq!(all_problems(&contents(&x.join("case-1"))), []);
        if let Some(ok) = bagit_validates(&x.join("case-1")) {
            assert!(ok);
        }
    }

    // Tampered, then sealed: the package says what the directory says.
    flip_byte(&dir.join("data/000001/plain.txt"), 0);
    fs::write(dir.join("data/000001/planted"), b"x").unwrap();
    fs::remove_file(dir.join("items/000001.jsonl")).unwrap();
    let bad = tmp.path().join("bad.tar");
    seal::write_archive(&dir, "case-1", &bad, &[]).unwrap();
    let mut want = bagit::check(&contents(&dir));
    let mut got = bagit::check(&from_package(&bad, &[]));
    want.sort_by(|a, b| (&a.subject, &a.message).cmp(&(&b.subject, &b.message)));
    got.sort_by(|a, b| (&a.subject, &a.message).cmp(&(&b.subject, &b.message)));
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

fn age_key(dir: &Path, name: &str) -> Option<(PathBuf, String)> {
    let key = dir.join(name);
    let o = run(Command::new("age-keygen").arg("-o").arg(&key))?;
    assert!(o.status.success());
    let text = fs::read_to_string(&key).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    Some((key, public))
}

#[test]
fn an_encrypted_archive_opens_with_age_and_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case-1");
    make_bag(&dir, &safe_files());
    let Some((key, public)) = age_key(tmp.path(), "key.txt") else {
        return;
    };
    let Some((other, _)) = age_key(tmp.path(), "other.txt") else {
        return;
    };
    let out = tmp.path().join("case-1.tar.age");
    let info = seal::write_archive(&dir, "case-1", &out, &[public]).unwrap();
    assert!(info.encrypted);
    let bytes = fs::read(&out).unwrap();
    assert!(bytes.starts_with(seal::AGE_MAGIC));
    assert_eq!(info.sha256, hash_reader(bytes.as_slice()).unwrap().sha256);

    // The standard tools: age -d -i key.txt FILE | tar -x.
    let x = tmp.path().join("x");
    fs::create_dir(&x).unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg("age -d -i \"$1\" \"$2\" | tar -x -C \"$3\"")
        .arg("sh")
        .arg(&key)
        .arg(&out)
        .arg(&x)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    if let Some(ok) = bagit_validates(&x.join("case-1")) {
        assert!(ok);
    }

    // takedown reads it back with the key, and refuses clearly without.
    let c = from_package(&out, std::slice::from_ref(&key));
    assert_eq!(all_problems(&c), []);
    assert_eq!(c.payload, contents(&dir).payload);
    let e = seal::open_archive(&out, &[other])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not sealed to any of the keys"), "{e}");
    let e = seal::open_archive(&out, &[]).err().unwrap().to_string();
    assert!(e.contains("is encrypted (age)"), "{e}");
    let e = seal::open_archive(&out, &[dir.join("bagit.txt")])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("neither an age identity file"), "{e}");
}

#[test]
fn an_archive_encrypted_to_an_ssh_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case-1");
    make_bag(&dir, &safe_files());
    let id = tmp.path().join("id_ed25519");
    let Some(o) = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "police", "-f"])
        .arg(&id))
    else {
        return;
    };
    assert!(o.status.success());
    let public = fs::read_to_string(tmp.path().join("id_ed25519.pub")).unwrap();
    let out = tmp.path().join("p.age");
    seal::write_archive(&dir, "case-1", &out, &[public]).unwrap();
    let c = from_package(&out, std::slice::from_ref(&id));
    assert_eq!(all_problems(&c), []);
    let o = run(Command::new("age").arg("-d").arg("-i").arg(&id).arg(&out)).unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plain = BagContents::from_archive(o.stdout.as_slice()).unwrap();
    assert_eq!(plain.payload, c.payload);
}

// ---------------------------------------------------------------- hostile tars

/// A tar member with a raw name (no checks), as an attacker writes it.
fn raw_member(
    out: &mut tar::Builder<Vec<u8>>,
    name: &[u8],
    kind: tar::EntryType,
    data: &[u8],
    link: Option<&str>,
) {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    let n = &mut h.as_old_mut().name;
    n[..name.len()].copy_from_slice(name);
    if let Some(l) = link {
        h.set_link_name(l).unwrap();
    }
    h.set_cksum();
    out.append(&h, data).unwrap();
}

fn hostile(members: &[(&[u8], tar::EntryType, &[u8])]) -> BagContents {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data) in members {
        let link = matches!(kind, tar::EntryType::Symlink | tar::EntryType::Link).then_some("x");
        raw_member(&mut b, name, *kind, data, link);
    }
    let bytes = b.into_inner().unwrap();
    BagContents::from_archive(bytes.as_slice()).unwrap()
}

#[test]
fn hostile_archives_are_reported_not_followed() {
    use tar::EntryType as T;
    let c = hostile(&[
        (b"bag/", T::Directory, b""),
        (b"bag/bagit.txt", T::Regular, b"BagIt-Version: 1.0\n"),
        (b"bag/data/ok", T::Regular, b"ok"),
        (b"bag/data/../../etc/passwd", T::Regular, b"root"),
        (b"/etc/shadow", T::Regular, b"x"),
        (b"bag/data/link", T::Symlink, b""),
        (b"bag/data/hard", T::Link, b""),
        (b"bag/data/dev", T::Char, b""),
        (b"bag/data/fifo", T::Fifo, b""),
        (b"bag/data/ok", T::Regular, b"second"),
        (b"other/data/x", T::Regular, b"x"),
        (b"bag/.takedown/lock", T::Regular, b"x"),
    ]);
    let altered = |subject: &str, words: &str| {
        assert!(
            has(&c.problems, subject, Severity::Altered, words),
            "{subject}: {words}: {:#?}",
            c.problems
        );
    };
    altered("bag/data/../../etc/passwd", "unsafe");
    altered("/etc/shadow", "unsafe");
    altered("data/link", "symbolic link");
    altered("data/hard", "hard link");
    altered("data/dev", "character device");
    altered("data/fifo", "FIFO");
    altered("data/ok", "appears twice");
    altered("other/data/x", "outside the bag's directory");
    altered(".takedown/lock", "never sealed");
    // The duplicate is not kept (which copy is the real one?).
    assert!(!c.payload.contains_key("data/ok"));
    assert!(c.tags.contains_key("bagit.txt"));
    // Nothing else slipped in.
    assert_eq!(c.payload.len(), 0, "{:?}", c.payload);
    assert_eq!(c.tags.len(), 1);
}

#[test]
fn truncated_and_garbage_archives_are_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case-1");
    make_bag(&dir, &safe_files());
    let out = tmp.path().join("a.tar");
    seal::write_archive(&dir, "case-1", &out, &[]).unwrap();
    let bytes = fs::read(&out).unwrap();
    for cut in [100, 512 + 3, bytes.len() / 2, bytes.len() - 1024 - 7] {
        let c = BagContents::from_archive(&bytes[..cut]).unwrap();
        let problems = all_problems(&c);
        assert!(
            problems
                .iter()
                .any(|p| p.severity == Severity::Error && p.subject == "archive")
                || !bagit::check(&c).is_empty(),
            "cut at {cut}: {problems:#?}"
        );
    }
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 256) as u8).collect();
    let c = BagContents::from_archive(garbage.as_slice()).unwrap();
    assert!(!all_problems(&c).is_empty());
}

#[test]
fn a_big_file_hashed_on_two_threads_has_the_same_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case-1");
    // Over the size from which MD5 gets a thread of its own, and not a
    // multiple of the read size.
    let big: Vec<u8> = (0..40 * 1024 * 1024 + 12_345u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    make_bag(&dir, &[("disk.img", big.clone()), ("small", b"s".to_vec())]);
    let two = BagContents::from_dir(&dir, 2).unwrap();
    let one = BagContents::from_dir(&dir, 1).unwrap();
    assert_eq!(two.payload, one.payload);
    assert_eq!(
        two.payload["data/000001/disk.img"],
        hash_reader(big.as_slice()).unwrap()
    );
    assert_eq!(all_problems(&two), []);
}

/// Runs a command block of VERIFY.txt with `sh` in `dir`; its output.
fn run_block(dir: &Path, block: &str) -> String {
    let o = Command::new("sh")
        .arg("-c")
        .arg(block)
        .current_dir(dir)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn verify_txt_commands_run_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case-1");
    make_bag(&dir, &safe_files());
    let key = tmp.path().join("examiner");
    let Some(o) = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f"])
        .arg(&key))
    else {
        return;
    };
    assert!(o.status.success());
    let public = fs::read_to_string(tmp.path().join("examiner.pub")).unwrap();
    fs::write(
        dir.join("custody/allowed_signers"),
        format!(
            "alice@example.org namespaces=\"{}\" {public}",
            takedown_evidence::SIG_NAMESPACE
        ),
    )
    .unwrap();
    // Two entries, chained and signed as the custody log does.
    let sign = |name: &str, prev: &str| {
        let p = dir.join("custody").join(name);
        fs::write(
            &p,
            format!("{{\"seq\":1,\"prev\":\"{prev}\",\"what\":\"add\"}}\n"),
        )
        .unwrap();
        let _ = fs::remove_file(dir.join(format!("custody/{name}.sig")));
        let o = Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", takedown_evidence::SIG_NAMESPACE, "-f"])
            .arg(&key)
            .arg(&p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        hash_reader(fs::read(&p).unwrap().as_slice())
            .unwrap()
            .sha256
    };
    let h1 = sign("000001.json", &"0".repeat(64));
    sign("000002.json", &h1);

    let text = seal::verify_txt(&seal::VerifyInfo {
        case_id: "CASE-1".into(),
        bag_name: "case-1".into(),
        principals: vec!["alice@example.org".into()],
        entries: vec!["000001".into(), "000002".into()],
        stamps: vec![],
        encrypted: false,
        key_fingerprints: vec![],
    });
    let sigs = text
        .lines()
        .find(|l| l.contains("ssh-keygen -Y verify"))
        .unwrap()
        .trim()
        .to_string();
    let start = text
        .lines()
        .position(|l| l.trim().starts_with("prev=0"))
        .unwrap();
    let chain: Vec<&str> = text.lines().skip(start).take(5).map(str::trim).collect();
    assert_eq!(chain[4], "done", "{text}");
    let chain = chain.join("\n");
    let hashdeep = text
        .lines()
        .find(|l| l.contains("hashdeep -a"))
        .unwrap()
        .trim()
        .to_string();

    let out = run_block(&dir, &sigs);
    assert!(!out.contains("BAD"), "{out}");
    assert_eq!(
        out.matches("Good \"takedown-custody@takedown\" signature")
            .count(),
        2,
        "{out}"
    );
    let out = run_block(&dir, &chain);
    assert!(!out.contains("BROKEN"), "{out}");
    // With several examiners, ssh-keygen finds each entry's signer.
    let several = seal::verify_txt(&seal::VerifyInfo {
        principals: vec!["alice@example.org".into(), "bob@example.org".into()],
        ..seal::VerifyInfo::default()
    });
    let find = several
        .lines()
        .find(|l| l.contains("ssh-keygen -Y verify"))
        .unwrap()
        .trim();
    assert!(find.contains("find-principals"), "{several}");
    let out = run_block(&dir, find);
    assert!(!out.contains("BAD"), "{out}");
    assert_eq!(
        out.matches("Good \"takedown-custody@takedown\" signature")
            .count(),
        2,
        "{out}"
    );
    // The fingerprint line lists the examiner's key.
    let fp = text
        .lines()
        .find(|l| l.contains("ssh-keygen -l"))
        .unwrap()
        .trim();
    let want = run_block(tmp.path(), "ssh-keygen -l -f examiner.pub");
    let want = want.split(' ').nth(1).unwrap();
    assert!(want.starts_with("SHA256:"), "{want}");
    let out = run_block(&dir, fp);
    assert!(out.contains(want), "{out}");
    // hashdeep's line starts with `cd case-1`: run it from the parent.
    let out = run_block(tmp.path(), &hashdeep);
    assert!(out.contains("Audit passed"), "{out}");

    // Entry 1 edited: its signature fails, and entry 2's "prev" no longer
    // names it.
    let p = dir.join("custody/000001.json");
    let edited = fs::read_to_string(&p).unwrap().replace("add", "del");
    fs::write(&p, edited).unwrap();
    let out = run_block(&dir, &sigs);
    assert!(out.contains("BAD: custody/000001.json"), "{out}");
    assert!(!out.contains("BAD: custody/000002.json"), "{out}");
    let out = run_block(&dir, &chain);
    assert!(out.contains("BROKEN CHAIN: custody/000002.json"), "{out}");
    assert!(!out.contains("BROKEN CHAIN: custody/000001.json"), "{out}");
}
