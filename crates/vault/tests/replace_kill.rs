//! Crash safety of replacing a file's content, and of restoring a
//! replaced item: the test binary runs itself as a child that replaces
//! (or restores) and is killed at every occurrence of every fault point
//! it reports (`TAKEDOWN_FAULT=STEP#N`, see `fault.rs`); then the vault is
//! opened (which recovers) and each file must hold its original with no
//! item, or its new content with a whole item. Never lost, never doubled,
//! no temporary left beside the files.
//! (Unix: the child is killed with SIGKILL and files are set up with Unix
//! modes and owners.)
#![cfg(unix)]

use sha2::Digest;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use takedown_vault::item::Kind;
use takedown_vault::remove::Outcome;
use takedown_vault::{Identity, Replacement, Vault};

/// Files replaced in one batch.
const FILES: usize = 3;

/// Where the child finds its work (`replace`, or `restore:<id>`).
const CHILD_ENV: &str = "TAKEDOWN_TEST_REPLACE_CHILD";

fn sha(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

fn original(i: usize) -> Vec<u8> {
    format!("SHELL=/bin/sh\n*/5 * * * * /tmp/.x/miner{i}\n0 3 * * * backup\n").into_bytes()
}

fn edited(i: usize) -> Vec<u8> {
    format!(
        "SHELL=/bin/sh\n# disabled by takedown: */5 * * * * /tmp/.x/miner{i}\n0 3 * * * backup\n"
    )
    .into_bytes()
}

/// A fresh tree: `files/cron<i>` (mode 0640) and a vault.
fn tree() -> (tempfile::TempDir, Vec<PathBuf>) {
    let t = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..FILES)
        .map(|i| {
            let p = t.path().join(format!("files/d{}/cron{i}", i % 2));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, original(i)).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
            p
        })
        .collect();
    Vault::open(&t.path().join("vault"), true).unwrap();
    (t, files)
}

/// `i` of `files/d?/cron<i>`.
fn index_of(p: &Path) -> usize {
    p.to_str()
        .and_then(|s| s.rsplit("cron").next())
        .and_then(|i| i.parse().ok())
        .unwrap()
}

fn replacements(files: &[PathBuf]) -> Vec<Replacement> {
    files
        .iter()
        .map(|p| {
            let i = index_of(p);
            // (stat, not open: the child may not be allowed to read it)
            let m = std::fs::symlink_metadata(p).unwrap();
            let identity = Identity {
                dev: m.dev(),
                ino: m.ino(),
                size: m.size(),
                mtime_sec: m.mtime(),
                mtime_nsec: m.mtime_nsec(),
            };
            Replacement {
                path: p.clone(),
                identity,
                sha256: sha(&original(i)),
                content: edited(i),
                detections: serde_json::json!({"disabled": i}),
                names: vec![format!("cron line {i}")],
                linked: None,
            }
        })
        .collect()
}

/// Runs this test binary as the child, with `work` and extra environment.
fn child(root: &Path, work: &str, env: &[(&str, String)]) -> Output {
    child_as(&[], root, work, env)
}

/// [`child`], started through `wrapper` (e.g. `setpriv` to another user).
fn child_as(wrapper: &[&str], root: &Path, work: &str, env: &[(&str, String)]) -> Output {
    let mut c = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(std::env::current_exe().unwrap());
            c
        }
        None => Command::new(std::env::current_exe().unwrap()),
    };
    c.args([
        "--exact",
        "child_process",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, format!("{}\n{work}", root.display()))
    .env_remove("TAKEDOWN_FAULT")
    .env_remove("TAKEDOWN_FAULT_TRACE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The child's side: replace the tree's files, or restore an item, in a
/// process of its own that the fault point may kill.
#[test]
#[ignore = "run by the kill tests as their child process"]
fn child_process() {
    let spec = std::env::var(CHILD_ENV).expect("run by the kill tests, with their environment");
    let (root, work) = spec.split_once('\n').unwrap();
    let root = Path::new(root);
    let mut v = Vault::open(&root.join("vault"), work == "create-vault").unwrap();
    if work == "create-vault" {
        return;
    }
    if work == "replace" || work == "replace-report" {
        let files: Vec<PathBuf> = (0..FILES)
            .map(|i| root.join(format!("files/d{}/cron{i}", i % 2)))
            .collect();
        let run = v.start_run(&["replace".into()]).unwrap();
        let out = v.replace(&run, &replacements(&files));
        for o in out {
            if work == "replace" {
                assert!(matches!(o, Outcome::Done { .. }), "{o:?}");
            } else {
                println!("outcome: {o:?}");
            }
        }
    } else if let Some(id) = work.strip_prefix("restore:") {
        v.restore(id, None, false).unwrap();
    } else {
        panic!("unknown work {work}");
    }
}

/// The fault points a child reports, with how often each is reached.
fn steps_of(o: &Output) -> Vec<(String, usize)> {
    let mut steps: Vec<(String, usize)> = Vec::new();
    for line in String::from_utf8_lossy(&o.stderr).lines() {
        if let Some(step) = line.strip_prefix("fault-point: ") {
            match steps.iter_mut().find(|(s, _)| s == step) {
                Some((_, n)) => *n += 1,
                None => steps.push((step.to_string(), 1)),
            }
        }
    }
    steps
}

fn temps(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in ["files/d0", "files/d1"] {
        for e in std::fs::read_dir(root.join(d)).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with(".takedown") {
                out.push(e.path());
            }
        }
    }
    out
}

/// After recovery: each file holds its original and has no item, or holds
/// its new content (with the original's mode) and has exactly one whole
/// item of kind replaced; nothing half-done remains. Returns how many were
/// replaced.
fn check_invariant(root: &Path, files: &[PathBuf], when: &str) -> usize {
    let v = Vault::open(&root.join("vault"), false).unwrap();
    assert_eq!(
        std::fs::metadata(root.join("vault/journal")).unwrap().len(),
        0,
        "{when}: journal empty after recovery"
    );
    assert_eq!(
        std::fs::read_dir(root.join("vault/tmp")).unwrap().count(),
        0,
        "{when}: vault/tmp empty"
    );
    assert!(temps(root).is_empty(), "{when}: {:?}", temps(root));
    let items: Vec<_> = v
        .list()
        .unwrap()
        .into_iter()
        .map(|m| m.unwrap_or_else(|e| panic!("{when}: {e}")))
        .collect();
    let mut replaced = 0;
    for p in files {
        let i = index_of(p);
        let now = std::fs::read(p).unwrap_or_else(|e| panic!("{when}: {} lost: {e}", p.display()));
        let stored: Vec<_> = items
            .iter()
            .filter(|m| m.original_path == p.to_str().unwrap())
            .collect();
        if now == original(i) {
            assert!(
                stored.is_empty(),
                "{when}: {} unchanged, yet in the vault",
                p.display()
            );
        } else {
            assert_eq!(
                now,
                edited(i),
                "{when}: {} holds the new content whole",
                p.display()
            );
            assert_eq!(stored.len(), 1, "{when}: {} has one item", p.display());
            let m = stored[0];
            assert_eq!(m.kind, Kind::Replaced, "{when}");
            assert_eq!(m.replaced_sha256.as_deref(), Some(sha(&edited(i)).as_str()));
            let mut back = Vec::new();
            v.read_item(&m.id, &mut back).unwrap();
            assert_eq!(
                back,
                original(i),
                "{when}: the original is whole in the vault"
            );
            let mode = std::fs::metadata(p).unwrap().mode() & 0o7777;
            assert_eq!(mode, 0o640, "{when}: the new content has the file's mode");
            replaced += 1;
        }
    }
    assert_eq!(items.len(), replaced, "{when}: no other item");
    replaced
}

#[test]
fn a_kill_at_every_step_of_replace_loses_nothing() {
    let (probe, files) = tree();
    let o = child(
        probe.path(),
        "replace",
        &[("TAKEDOWN_FAULT_TRACE", "1".into())],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        check_invariant(probe.path(), &files, "uninterrupted"),
        FILES
    );
    let steps = steps_of(&o);
    let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
    for want in [
        "replace:start",
        "replace:journaled",
        "replace:written",
        "replace:synced",
        "replace:renamed",
        "replace:committed",
        "replace:commits-synced",
        "replace:staged",
        "replace:swapped",
        "replace:done",
    ] {
        assert!(names.contains(&want), "step {want} reached: {names:?}");
    }
    for per_file in ["replace:written", "replace:staged", "replace:swapped"] {
        assert!(
            steps.contains(&(per_file.to_string(), FILES)),
            "{per_file}: {steps:?}"
        );
    }
    let mut outcomes = std::collections::BTreeSet::new();
    let mut runs = 0;
    for (step, times) in &steps {
        for nth in 1..=*times {
            runs += 1;
            let (t, files) = tree();
            let o = child(
                t.path(),
                "replace",
                &[("TAKEDOWN_FAULT", format!("{step}#{nth}"))],
            );
            let when = format!("killed at {step}#{nth}");
            assert_eq!(o.status.signal(), Some(libc::SIGKILL), "{when}: {o:?}");
            let replaced = check_invariant(t.path(), &files, &when);
            outcomes.insert(replaced);
            // A second open finds nothing more to do.
            assert!(
                Vault::open(&t.path().join("vault"), false)
                    .unwrap()
                    .take_recovered()
                    .is_empty(),
                "{when}"
            );
        }
    }
    assert!(runs >= 16, "every occurrence of every step: {runs} runs");
    // The kills landed before, between and after the files' swaps.
    assert!(
        outcomes.contains(&0) && outcomes.contains(&FILES) && outcomes.len() > 2,
        "{outcomes:?}"
    );
}

#[test]
fn recovery_says_what_it_did_with_an_interrupted_replacement() {
    for (step, replaced, status) in [
        ("replace:journaled", 0, "rolled-back"),
        ("replace:staged", 0, "rolled-back"),
        ("replace:swapped", 1, "finished"),
    ] {
        let (t, files) = tree();
        let o = child(
            t.path(),
            "replace",
            &[("TAKEDOWN_FAULT", format!("{step}#1"))],
        );
        assert_eq!(o.status.signal(), Some(libc::SIGKILL));
        let mut v = Vault::open(&t.path().join("vault"), false).unwrap();
        let rec = v.take_recovered();
        assert_eq!(rec.len(), FILES, "{step}: one entry per file");
        let first = rec
            .iter()
            .find(|e| e.path.as_deref() == files.iter().min().and_then(|p| p.to_str()))
            .unwrap();
        assert_eq!(first.action, "replace");
        assert_eq!(first.status, status, "{step}: {first:?}");
        assert_eq!(first.vault_id.is_some(), replaced == 1, "{step}: {first:?}");
        drop(v);
        check_invariant(t.path(), &files, step);
    }
}

#[test]
fn a_file_changed_before_recovery_keeps_its_original_in_the_vault() {
    // Killed with the original stored and nothing swapped yet; then
    // someone edits the file. Recovery cannot tell what to undo: it
    // leaves the file as it is and keeps the original restorable.
    let (t, files) = tree();
    let o = child(
        t.path(),
        "replace",
        &[("TAKEDOWN_FAULT", "replace:staged#1".into())],
    );
    assert_eq!(o.status.signal(), Some(libc::SIGKILL));
    let mut sorted = files.clone();
    sorted.sort();
    std::fs::write(&sorted[0], b"edited by the administrator\n").unwrap();
    let mut v = Vault::open(&t.path().join("vault"), false).unwrap();
    assert!(temps(t.path()).is_empty());
    let items: Vec<_> = v.list().unwrap().into_iter().flatten().collect();
    assert_eq!(items.len(), 1, "only the changed file's original is kept");
    assert_eq!(items[0].original_path, sorted[0].to_str().unwrap());
    assert_eq!(
        std::fs::read(&sorted[0]).unwrap(),
        b"edited by the administrator\n"
    );
    // Restore refuses to replace the administrator's edit unasked.
    let err = v
        .restore(&items[0].id, None, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("changed since"), "{err}");
    v.restore(&items[0].id, None, true).unwrap();
    assert_eq!(
        std::fs::read(&sorted[0]).unwrap(),
        original(index_of(&sorted[0]))
    );
}

#[test]
fn a_kill_at_every_step_of_restoring_a_replaced_item_loses_nothing() {
    // Replaced in this process, then restored by a child killed at each
    // step: the file holds the new content or the original, whole; the
    // item stays; no temporary is left.
    let setup = || {
        let (t, files) = tree();
        let mut v = Vault::open(&t.path().join("vault"), false).unwrap();
        let run = v.start_run(&["test".into()]).unwrap();
        let out = v.replace(&run, &replacements(&files[..1]));
        let Outcome::Done {
            vault_id: Some(id), ..
        } = &out[0]
        else {
            panic!("{out:?}");
        };
        (t, files[0].clone(), id.clone())
    };
    let (t0, _, id0) = setup();
    let o = child(
        t0.path(),
        &format!("restore:{id0}"),
        &[("TAKEDOWN_FAULT_TRACE", "1".into())],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let steps = steps_of(&o);
    assert!(steps.len() >= 3, "{steps:?}");
    let mut seen = std::collections::BTreeSet::new();
    for (step, times) in &steps {
        for nth in 1..=*times {
            let (t, file, id) = setup();
            let o = child(
                t.path(),
                &format!("restore:{id}"),
                &[("TAKEDOWN_FAULT", format!("{step}#{nth}"))],
            );
            let when = format!("restore killed at {step}#{nth}");
            assert_eq!(o.status.signal(), Some(libc::SIGKILL), "{when}");
            let v = Vault::open(&t.path().join("vault"), false).unwrap();
            assert_eq!(
                std::fs::metadata(t.path().join("vault/journal"))
                    .unwrap()
                    .len(),
                0
            );
            assert!(temps(t.path()).is_empty(), "{when}: {:?}", temps(t.path()));
            let now = std::fs::read(&file).unwrap();
            assert!(now == original(0) || now == edited(0), "{when}: whole");
            seen.insert(now == original(0));
            assert_eq!(
                v.meta(&id).unwrap().kind,
                Kind::Replaced,
                "{when}: item kept"
            );
            drop(v);
            // Restoring again finishes the job whatever the kill left.
            let mut v = Vault::open(&t.path().join("vault"), false).unwrap();
            v.restore(&id, None, false).unwrap();
            assert_eq!(std::fs::read(&file).unwrap(), original(0), "{when}");
        }
    }
    assert_eq!(seen.len(), 2, "kills before and after the rename");
}

#[test]
fn a_user_replaces_only_their_own_files_and_keeps_the_group_if_they_can() {
    // As root, the child runs as nobody: a file of root is refused (its
    // owner could not be kept), a file of nobody in group root (not one
    // of nobody's groups) is replaced with a note, and a file of
    // nobody's own group keeps it.
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("SKIP: needs root and setpriv to act as another user");
        return;
    }
    const NOBODY: u32 = 65534;
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(root, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut files = Vec::new();
    for i in 0..FILES {
        let d = root.join(format!("files/d{}", i % 2));
        std::fs::create_dir_all(&d).unwrap();
        for dir in [root.join("files"), d.clone()] {
            std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        let p = d.join(format!("cron{i}"));
        std::fs::write(&p, original(i)).unwrap();
        let (uid, gid) = match i {
            0 => (NOBODY, 0),
            1 => (0, 0),
            _ => (NOBODY, NOBODY),
        };
        std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
        // Root's file readable by all: refused for its owner, not for
        // want of reading it.
        let mode = if i == 1 { 0o644 } else { 0o640 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        files.push(p);
    }
    let wrapper = [
        "/usr/bin/setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    // The vault is nobody's, made by the child.
    let o = child_as(&wrapper, root, "create-vault", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = child_as(&wrapper, root, "replace-report", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    // (The harness may print its own words before the first.)
    let outcomes: Vec<&str> = out
        .lines()
        .filter_map(|l| l.find("outcome: ").map(|at| &l[at..]))
        .collect();
    assert_eq!(outcomes.len(), FILES, "{out}");
    assert!(
        outcomes[0].contains("Done") && outcomes[0].contains("group (gid 0) could not be kept"),
        "{out}"
    );
    assert!(
        outcomes[1].contains("Failed") && outcomes[1].contains("belongs to root"),
        "{out}"
    );
    assert!(
        outcomes[2].contains("Done") && outcomes[2].contains("note: None"),
        "{out}"
    );
    let meta = |p: &Path| std::fs::metadata(p).unwrap();
    assert_eq!(std::fs::read(&files[0]).unwrap(), edited(0));
    assert_eq!(
        (meta(&files[0]).uid(), meta(&files[0]).gid()),
        (NOBODY, NOBODY)
    );
    assert_eq!(std::fs::read(&files[1]).unwrap(), original(1));
    assert_eq!(std::fs::read(&files[2]).unwrap(), edited(2));
    assert_eq!(
        (meta(&files[2]).uid(), meta(&files[2]).gid()),
        (NOBODY, NOBODY)
    );
    assert_eq!(meta(&files[2]).mode() & 0o7777, 0o640);
}
