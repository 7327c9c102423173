//! The custody log against OpenSSH itself: every entry takedown signs is
//! accepted by `ssh-keygen -Y verify` with the case's `allowed_signers`,
//! and every kind of tampering is caught by `custody::check` and, where
//! a signature tool can see it, by `ssh-keygen` too.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use takedown_evidence::contents::BagContents;
use takedown_evidence::custody::{self, Draft, Entry, Event};
use takedown_evidence::keys::{self, Signer};
use takedown_evidence::{Problem, SIG_NAMESPACE, Severity};

/// Whether `ssh-keygen` can be run; under CI its absence is a failure.
fn have_ssh_keygen() -> bool {
    match Command::new("ssh-keygen")
        .args(["-Y", "check-novalidate", "-n", "x", "-s", "/nonexistent"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "ssh-keygen is needed by these tests under CI: {e}"
            );
            eprintln!("skipped: ssh-keygen not found ({e})");
            false
        }
    }
}

/// Runs ssh-keygen with `stdin` from a file; returns success and stderr.
fn ssh_keygen(args: &[&str], stdin: Option<&Path>) -> (bool, String) {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(args);
    cmd.stdin(match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).expect("stdin file")),
        None => Stdio::null(),
    });
    let out = cmd.output().expect("ssh-keygen runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

struct Case {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    keys: PathBuf,
    ann: Signer,
    bob: Signer,
}

fn draft(event: Event, actor: &str, what: serde_json::Value) -> Draft {
    Draft {
        event,
        actor: actor.into(),
        what,
        why: Some("test".into()),
    }
}

/// A case of six entries: init and two adds by Ann, a transfer to Bob
/// with his key, an add and a seal by Bob.
fn case() -> Case {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    let (ann, generated) = Signer::load_or_generate(&keys.join("ann")).expect("ann's key");
    assert!(generated);
    let (bob, _) = Signer::load_or_generate(&keys.join("bob")).expect("bob's key");
    let dir = tmp.path().join("case");
    let id = "CASE-2024-17";
    custody::append(&dir, &ann, id, draft(Event::Init, "Ann Example", json!({}))).unwrap();
    for n in 1..=2 {
        custody::append(
            &dir,
            &ann,
            id,
            draft(Event::Add, "Ann Example", json!({"items": n})),
        )
        .unwrap();
    }
    custody::append(
        &dir,
        &ann,
        id,
        draft(
            Event::Transfer,
            "Ann Example",
            json!({"to": "Bob", "to_key": bob.public_openssh()}),
        ),
    )
    .unwrap();
    custody::append(
        &dir,
        &bob,
        id,
        draft(Event::Add, "Bob", json!({"items": 9})),
    )
    .unwrap();
    custody::append(&dir, &bob, id, draft(Event::Seal, "Bob", json!({}))).unwrap();
    Case {
        _tmp: tmp,
        dir,
        keys,
        ann,
        bob,
    }
}

/// The custody files of a case directory as `check` sees them.
fn contents(dir: &Path) -> BagContents {
    let mut c = BagContents::default();
    for e in std::fs::read_dir(dir.join("custody")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        c.tags
            .insert(format!("custody/{name}"), std::fs::read(e.path()).unwrap());
    }
    c
}

fn entry_file(dir: &Path, seq: u64) -> PathBuf {
    dir.join(custody::entry_path(seq))
}

fn sig_file(dir: &Path, seq: u64) -> PathBuf {
    dir.join(custody::sig_path(seq))
}

/// `ssh-keygen -Y verify` of entry `seq` with the case's allowed_signers
/// and the principal takedown says signs it.
fn ssh_verify(dir: &Path, seq: u64, principal: &str) -> (bool, String) {
    let signers = dir.join("custody/allowed_signers");
    let sig = sig_file(dir, seq);
    ssh_keygen(
        &[
            "-Y",
            "verify",
            "-f",
            signers.to_str().unwrap(),
            "-I",
            principal,
            "-n",
            SIG_NAMESPACE,
            "-s",
            sig.to_str().unwrap(),
        ],
        Some(&entry_file(dir, seq)),
    )
}

fn ssh_check_novalidate(dir: &Path, seq: u64) -> (bool, String) {
    let sig = sig_file(dir, seq);
    ssh_keygen(
        &[
            "-Y",
            "check-novalidate",
            "-n",
            SIG_NAMESPACE,
            "-s",
            sig.to_str().unwrap(),
        ],
        Some(&entry_file(dir, seq)),
    )
}

/// The principal of the key that signed entry `seq`.
fn principal_for(dir: &Path, seq: u64) -> String {
    let log = custody::read_log(dir).unwrap();
    let entry = log.iter().find(|e| e.seq == seq).expect("entry");
    custody::principal_of_key(&log, &entry.key).expect("an authorised key")
}

fn altered(problems: &[Problem], subject: &str, needle: &str) -> bool {
    problems.iter().any(|p| {
        p.severity == Severity::Altered && p.subject == subject && p.message.contains(needle)
    })
}

/// Signs `entry` as `signer` would and writes it as entry `seq`.
fn forge(dir: &Path, seq: u64, entry: &Entry, signer: &Signer) {
    let mut bytes = serde_json::to_vec(entry).unwrap();
    bytes.push(b'\n');
    std::fs::write(sig_file(dir, seq), signer.sign(&bytes).unwrap()).unwrap();
    std::fs::write(entry_file(dir, seq), bytes).unwrap();
}

#[test]
fn every_entry_verifies_with_ssh_keygen() {
    if !have_ssh_keygen() {
        return;
    }
    let case = case();
    let (problems, entries) =
        custody::check(&contents(&case.dir), Some(&case.ann.public_openssh()));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(entries.len(), 6);
    let signers = std::fs::read_to_string(case.dir.join("custody/allowed_signers")).unwrap();
    assert!(signers.contains("Ann_Example namespaces=\"takedown-custody@takedown\" ssh-ed25519 "));
    assert!(signers.contains(&format!(
        "Bob namespaces=\"takedown-custody@takedown\" {}",
        case.bob.public_openssh()
    )));
    for seq in 1..=6 {
        let principal = principal_for(&case.dir, seq);
        assert_eq!(principal, if seq <= 4 { "Ann_Example" } else { "Bob" });
        let (ok, out) = ssh_verify(&case.dir, seq, &principal);
        assert!(ok, "entry {seq}: {out}");
        assert!(
            out.contains("Good \"takedown-custody@takedown\" signature"),
            "{out}"
        );
        let (ok, out) = ssh_check_novalidate(&case.dir, seq);
        assert!(ok, "entry {seq}: {out}");
        // The wrong principal is refused by ssh-keygen: the file binds
        // names to keys.
        let wrong = if seq <= 4 { "Bob" } else { "Ann_Example" };
        assert!(
            !ssh_verify(&case.dir, seq, wrong).0,
            "entry {seq} as {wrong}"
        );
    }
    // The other namespace is refused.
    let sig = sig_file(&case.dir, 1);
    let (ok, _) = ssh_keygen(
        &[
            "-Y",
            "check-novalidate",
            "-n",
            "file",
            "-s",
            sig.to_str().unwrap(),
        ],
        Some(&entry_file(&case.dir, 1)),
    );
    assert!(!ok);
}

#[test]
fn an_edited_entry_is_caught() {
    if !have_ssh_keygen() {
        return;
    }
    let case = case();
    let path = entry_file(&case.dir, 3);
    let text = std::fs::read_to_string(&path).unwrap();
    // One byte: `"items":2` becomes `"items":7`.
    let edited = text.replacen("\"items\":2", "\"items\":7", 1);
    assert_ne!(text, edited);
    assert_eq!(text.len(), edited.len());
    std::fs::write(&path, &edited).unwrap();
    let (problems, _) = custody::check(&contents(&case.dir), None);
    assert!(
        altered(
            &problems,
            "custody/000003.json",
            "signature does not verify"
        ),
        "{problems:?}"
    );
    let hash = custody::sha256_hex(edited.as_bytes());
    assert!(
        altered(
            &problems,
            "custody/000004.json",
            &format!("but custody/000003.json hashes to {hash}")
        ),
        "{problems:?}"
    );
    let (ok, out) = ssh_verify(&case.dir, 3, "Ann_Example");
    assert!(!ok, "{out}");
    assert!(!ssh_check_novalidate(&case.dir, 3).0);
}

#[test]
fn a_removed_entry_is_caught() {
    if !have_ssh_keygen() {
        return;
    }
    let case = case();
    std::fs::remove_file(entry_file(&case.dir, 3)).unwrap();
    std::fs::remove_file(sig_file(&case.dir, 3)).unwrap();
    let (problems, entries) = custody::check(&contents(&case.dir), None);
    assert!(
        problems.iter().any(|p| p.severity == Severity::Altered
            && p.to_string()
                == "custody/000003.json: missing: the log stops at 000002 but 000004 exists"),
        "{problems:?}"
    );
    assert_eq!(entries.len(), 5);
    // ssh-keygen checks one file at a time: every remaining entry is still
    // well signed, so only the chain shows the gap.
    for seq in [1, 2, 4] {
        assert!(ssh_verify(&case.dir, seq, "Ann_Example").0, "entry {seq}");
    }
    // takedown's own reader refuses the broken log too.
    let err = custody::read_log(&case.dir).unwrap_err().to_string();
    assert!(err.contains("custody/000003.json is missing"), "{err}");
}

#[test]
fn reordered_entries_are_caught() {
    if !have_ssh_keygen() {
        return;
    }
    let case = case();
    let swap = |a: &Path, b: &Path| {
        let tmp = a.with_extension("swap");
        std::fs::rename(a, &tmp).unwrap();
        std::fs::rename(b, a).unwrap();
        std::fs::rename(&tmp, b).unwrap();
    };
    // Entries swapped with their signatures: each still verifies alone.
    swap(&entry_file(&case.dir, 2), &entry_file(&case.dir, 3));
    swap(&sig_file(&case.dir, 2), &sig_file(&case.dir, 3));
    let (problems, _) = custody::check(&contents(&case.dir), None);
    assert!(
        altered(
            &problems,
            "custody/000002.json",
            "says it is entry 000003, but is stored as 000002"
        ),
        "{problems:?}"
    );
    assert!(
        altered(&problems, "custody/000003.json", "prev is"),
        "{problems:?}"
    );
    assert!(ssh_verify(&case.dir, 2, "Ann_Example").0);
    // Entries swapped without their signatures: ssh-keygen sees it too.
    swap(&sig_file(&case.dir, 2), &sig_file(&case.dir, 3));
    let (problems, _) = custody::check(&contents(&case.dir), None);
    assert!(
        altered(
            &problems,
            "custody/000002.json",
            "signature does not verify"
        ),
        "{problems:?}"
    );
    assert!(!ssh_verify(&case.dir, 2, "Ann_Example").0);
    assert!(!ssh_verify(&case.dir, 3, "Ann_Example").0);
}

#[test]
fn an_entry_resigned_with_another_key_is_caught() {
    if !have_ssh_keygen() {
        return;
    }
    let case = case();
    let (mallory, _) = Signer::load_or_generate(&case.keys.join("mallory")).unwrap();
    let mut log = custody::read_log(&case.dir).unwrap();
    let mut entry = log.remove(2);
    entry.what = json!({"items": 0});
    entry.key = mallory.public_openssh();
    forge(&case.dir, 3, &entry, &mallory);
    let (problems, _) = custody::check(&contents(&case.dir), None);
    let needle = format!(
        "signed by {}, which is not the holder's key {}",
        mallory.fingerprint(),
        case.ann.fingerprint()
    );
    assert!(
        altered(&problems, "custody/000003.json", &needle),
        "{problems:?}"
    );
    assert!(
        altered(&problems, "custody/000004.json", "prev is"),
        "{problems:?}"
    );
    // The signature is valid in itself, but not by a key allowed_signers
    // lists under any principal.
    assert!(ssh_check_novalidate(&case.dir, 3).0);
    let (ok, out) = ssh_verify(&case.dir, 3, "Ann_Example");
    assert!(!ok, "{out}");
    // Adding the forger's key to allowed_signers fools ssh-keygen, not
    // check.
    let path = case.dir.join("custody/allowed_signers");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "Ann_Example namespaces=\"{SIG_NAMESPACE}\" {}\n",
        mallory.public_openssh()
    ));
    std::fs::write(&path, text).unwrap();
    assert!(ssh_verify(&case.dir, 3, "Ann_Example").0);
    let (problems, _) = custody::check(&contents(&case.dir), None);
    assert!(
        altered(
            &problems,
            "custody/allowed_signers",
            &format!(
                "lists {}, a key no custody entry authorises",
                mallory.fingerprint()
            )
        ),
        "{problems:?}"
    );
    assert!(
        altered(&problems, "custody/000003.json", &needle),
        "{problems:?}"
    );
}

#[test]
fn an_entry_appended_by_a_non_holder_is_caught() {
    if !have_ssh_keygen() {
        return;
    }
    let case = case();
    // Ann handed the case to Bob: her key no longer signs.
    let err = custody::append(
        &case.dir,
        &case.ann,
        "CASE-2024-17",
        draft(Event::Add, "Ann Example", json!({})),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("held by Bob"), "{err}");
    // Written by hand, well chained and well signed by Ann.
    let (last, hash) = custody::last(&case.dir).unwrap().unwrap();
    let mut entry = last.clone();
    entry.seq = 7;
    entry.prev = hash;
    entry.key = case.ann.public_openssh();
    entry.actor = "Ann Example".into();
    forge(&case.dir, 7, &entry, &case.ann);
    let (problems, entries) = custody::check(&contents(&case.dir), None);
    assert_eq!(entries.len(), 7);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        altered(
            &problems,
            "custody/000007.json",
            &format!(
                "signed by {}, which is not the holder's key {} (Bob)",
                case.ann.fingerprint(),
                case.bob.fingerprint()
            )
        ),
        "{problems:?}"
    );
    // Ann's key is in allowed_signers (it signed entries 1 to 4), so
    // ssh-keygen accepts the signature: holding is takedown's rule.
    assert!(ssh_verify(&case.dir, 7, "Ann_Example").0);
    // A stranger's entry is refused by ssh-keygen too.
    let (eve, _) = Signer::load_or_generate(&case.keys.join("eve")).unwrap();
    entry.key = eve.public_openssh();
    forge(&case.dir, 7, &entry, &eve);
    let (problems, _) = custody::check(&contents(&case.dir), None);
    assert!(
        altered(&problems, "custody/000007.json", &eve.fingerprint()),
        "{problems:?}"
    );
    assert!(!ssh_verify(&case.dir, 7, "Bob").0);
    assert!(!ssh_verify(&case.dir, 7, "Ann_Example").0);
}

#[cfg(unix)]
#[test]
fn a_generated_key_is_private_and_openssh_reads_it() {
    use std::os::unix::fs::PermissionsExt;
    if !have_ssh_keygen() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cfg/takedown/examiner_ed25519");
    let (signer, generated) = Signer::load_or_generate(&path).unwrap();
    assert!(generated);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (ok, out) = ssh_keygen(&["-y", "-f", path.to_str().unwrap()], None);
    assert!(ok, "{out}");
    assert!(out.starts_with(&signer.public_openssh()), "{out}");
    let pub_path = tmp.path().join("cfg/takedown/examiner_ed25519.pub");
    let (ok, out) = ssh_keygen(&["-l", "-f", pub_path.to_str().unwrap()], None);
    assert!(ok, "{out}");
    assert!(out.contains(&signer.fingerprint()), "{out}");
    // A signature by ssh-keygen with the same key verifies with ours,
    // and ours with ssh-keygen (as entries above).
    let msg = tmp.path().join("msg");
    std::fs::write(&msg, b"hello\n").unwrap();
    let (ok, out) = ssh_keygen(
        &[
            "-Y",
            "sign",
            "-f",
            path.to_str().unwrap(),
            "-n",
            SIG_NAMESPACE,
            msg.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}");
    let armored = std::fs::read_to_string(tmp.path().join("msg.sig")).unwrap();
    keys::verify_signature(&signer.public_openssh(), b"hello\n", &armored).unwrap();
    assert!(keys::verify_signature(&signer.public_openssh(), b"hello", &armored).is_err());
}

#[cfg(unix)]
#[test]
fn a_key_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("key");
    Signer::load_or_generate(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = Signer::load_or_generate(&path).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "permissions 0644 for {} are too open",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "never overwritten");
}

#[test]
fn an_existing_openssh_key_is_used_as_it_is() {
    if !have_ssh_keygen() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("id_ed25519");
    let p = path.to_str().unwrap();
    let (ok, out) = ssh_keygen(
        &["-q", "-t", "ed25519", "-N", "", "-C", "ann@lab", "-f", p],
        None,
    );
    assert!(ok, "{out}");
    let (signer, generated) = Signer::load_or_generate(&path).unwrap();
    assert!(!generated);
    let (ok, out) = ssh_keygen(&["-l", "-f", p], None);
    assert!(ok, "{out}");
    assert!(
        out.contains(&signer.fingerprint()),
        "{out} vs {}",
        signer.fingerprint()
    );
    assert_eq!(
        keys::fingerprint_of(&std::fs::read_to_string(format!("{p}.pub")).unwrap()).unwrap(),
        signer.fingerprint()
    );
    // The comment stays in the file, not in what entries carry.
    assert_eq!(signer.public_openssh().split(' ').count(), 2);
    // Loaded again: the same key.
    assert_eq!(
        Signer::load(&path).unwrap().fingerprint(),
        signer.fingerprint()
    );
}

#[test]
fn encrypted_and_non_ed25519_keys_are_refused_by_name() {
    if !have_ssh_keygen() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let enc = tmp.path().join("enc");
    let (ok, out) = ssh_keygen(
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "secret",
            "-f",
            enc.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}");
    let err = Signer::load(&enc).unwrap_err().to_string();
    assert!(
        err.contains(&enc.display().to_string()) && err.contains("passphrase"),
        "{err}"
    );
    for (kind, name) in [("ecdsa", "ecdsa-sha2-nistp256"), ("rsa", "ssh-rsa")] {
        let path = tmp.path().join(kind);
        let (ok, out) = ssh_keygen(
            &["-q", "-t", kind, "-N", "", "-f", path.to_str().unwrap()],
            None,
        );
        assert!(ok, "{out}");
        let err = Signer::load_or_generate(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(&format!("is an {name} key")), "{err}");
        assert!(err.contains("Ed25519 keys only"), "{err}");
    }
}

#[test]
fn recover_removes_an_orphan_signature() {
    let case = case();
    // An append killed between its signature and its entry.
    std::fs::write(
        sig_file(&case.dir, 7),
        case.bob.sign(b"never written\n").unwrap(),
    )
    .unwrap();
    std::fs::write(case.dir.join("custody/000007.json.tmp"), b"{\"half").unwrap();
    let (problems, _) = custody::check(&contents(&case.dir), None);
    assert!(
        altered(
            &problems,
            "custody/000007.json.sig",
            "a signature without its entry"
        ),
        "{problems:?}"
    );
    let done = custody::recover(&case.dir).unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(
        done.iter().any(|d| d.contains("custody/000007.json.sig")),
        "{done:?}"
    );
    assert!(!sig_file(&case.dir, 7).exists());
    let (problems, entries) = custody::check(&contents(&case.dir), None);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(entries.len(), 6);
    // The next append takes the number the interrupted one had.
    let e = custody::append(
        &case.dir,
        &case.bob,
        "CASE-2024-17",
        draft(Event::Verify, "Bob", json!({})),
    )
    .unwrap();
    assert_eq!(e.seq, 7);
    // A signature in the middle of the log whose entry is gone is
    // evidence, not debris: recover leaves it.
    std::fs::remove_file(entry_file(&case.dir, 3)).unwrap();
    assert!(custody::recover(&case.dir).unwrap().is_empty());
    assert!(sig_file(&case.dir, 3).exists());
}

/// Run by `a_kill_at_every_step_of_append_is_recovered` in a child process
/// (with `TAKEDOWN_FAULT` set, which kills it at a step of `append`): a
/// transfer to Carol's key, the append that passes every step.
#[test]
#[ignore = "a helper: run in a child process by a_kill_at_every_step_of_append_is_recovered"]
fn child_transfer() {
    let (Some(dir), Some(giver), Some(to_key)) = (
        std::env::var_os("CUSTODY_CHILD_CASE"),
        std::env::var_os("CUSTODY_CHILD_KEY"),
        std::env::var("CUSTODY_CHILD_TO_KEY").ok(),
    ) else {
        panic!("run by a_kill_at_every_step_of_append_is_recovered only");
    };
    let signer = Signer::load(Path::new(&giver)).unwrap();
    custody::append(
        Path::new(&dir),
        &signer,
        "CASE-2024-17",
        draft(
            Event::Transfer,
            "Bob",
            json!({"to": "Carol", "to_key": to_key}),
        ),
    )
    .unwrap();
}

#[cfg(unix)]
#[test]
fn a_kill_at_every_step_of_append_is_recovered() {
    use std::os::unix::process::ExitStatusExt;
    let steps = ["custody:signed", "custody:committed", "custody:signers"];
    for step in steps {
        let case = case();
        let (carol, _) = Signer::load_or_generate(&case.keys.join("carol")).unwrap();
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_transfer", "--ignored", "--test-threads=1"])
            .env("TAKEDOWN_FAULT", step)
            .env("CUSTODY_CHILD_CASE", &case.dir)
            .env("CUSTODY_CHILD_KEY", case.keys.join("bob"))
            .env("CUSTODY_CHILD_TO_KEY", carol.public_openssh())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "{step}: killed there ({status:?})"
        );
        let committed = step != "custody:signed";
        // Before recovery: the entry is there whole with its signature, or
        // not at all; never an entry without a signature.
        assert_eq!(entry_file(&case.dir, 7).exists(), committed, "{step}");
        assert!(sig_file(&case.dir, 7).exists(), "{step}");
        let done = custody::recover(&case.dir).unwrap();
        match step {
            "custody:signed" => {
                assert!(
                    done.iter().any(|d| d.contains("000007.json.sig")),
                    "{done:?}"
                )
            }
            "custody:committed" => {
                assert!(
                    done.iter().any(|d| d.contains("allowed_signers")),
                    "{done:?}"
                )
            }
            _ => assert!(done.is_empty(), "{step}: {done:?}"),
        }
        let (problems, entries) = custody::check(&contents(&case.dir), None);
        assert!(problems.is_empty(), "{step}: {problems:?}");
        assert_eq!(entries.len(), if committed { 7 } else { 6 }, "{step}");
        // The case goes on: whoever holds it after the step signs next.
        let next = if committed { &carol } else { &case.bob };
        let e = custody::append(
            &case.dir,
            next,
            "CASE-2024-17",
            draft(Event::Verify, "x", json!({})),
        )
        .unwrap();
        assert_eq!(e.seq, entries.len() as u64 + 1, "{step}");
        if committed && have_ssh_keygen() {
            assert!(ssh_verify(&case.dir, e.seq, "Carol").0, "{step}");
        }
    }
}
