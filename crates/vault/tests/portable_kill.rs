//! Crash safety of quarantine on every system the vault builds for
//! (Windows included, where a kill is `TerminateProcess`): the test binary
//! runs itself as a child that quarantines a file and is killed at each
//! step of the protocol it reports (`TAKEDOWN_FAULT_TRACE`,
//! `TAKEDOWN_FAULT=STEP`); then the vault is opened (which recovers) and
//! the file must be either in its place with no item, or gone with exactly
//! one item holding its content. Never lost, never doubled.

use sha2::Digest;
use std::fs::File;
use std::path::Path;
use std::process::Command;
use takedown_vault::remove::Request;
use takedown_vault::{Identity, Vault, fsops};

const CONTENT: &[u8] = b"MZ a sample to be killed over";

/// Where the child works, given by the parent.
const DIR_VAR: &str = "TAKEDOWN_KILL_TEST_DIR";

fn sha(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// The child: quarantines `DIR/files/sample` into `DIR/vault`. Run only
/// by the parent (ignored otherwise).
#[test]
#[ignore = "run by kill_at_every_step_never_loses_nor_doubles"]
fn child_quarantine() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let dir = Path::new(&dir);
    let p = dir.join("files").join("sample");
    let mut v = Vault::open(&dir.join("vault"), true).unwrap();
    let run = v.start_run(&["kill-test".into()]).unwrap();
    let identity = Identity::of(&fsops::stat_file(&File::open(&p).unwrap()).unwrap());
    let req = Request {
        path: p,
        identity,
        sha256: sha(CONTENT),
        detections: serde_json::json!([{"name": "Test.Kill"}]),
        names: vec!["Test.Kill".into()],
        linked: None,
    };
    let out = v.quarantine(&run, &[req]);
    println!("outcome: {out:?}");
}

fn run_child(dir: &Path, fault: Option<&str>) -> std::process::Output {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--ignored", "--exact", "child_quarantine", "--nocapture"])
        .env(DIR_VAR, dir)
        .env("TAKEDOWN_FAULT_TRACE", "1")
        .env_remove("TAKEDOWN_FAULT");
    if let Some(f) = fault {
        c.env("TAKEDOWN_FAULT", f);
    }
    c.output().unwrap()
}

fn fresh() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("files")).unwrap();
    std::fs::write(t.path().join("files").join("sample"), CONTENT).unwrap();
    t
}

/// Recovers and checks: in place with no item, or only in the vault.
/// Returns true when it ended in the vault.
fn check(dir: &Path, when: &str) -> bool {
    let p = dir.join("files").join("sample");
    let v = Vault::open(&dir.join("vault"), false).unwrap();
    let items: Vec<_> = v.list().unwrap().into_iter().map(|m| m.unwrap()).collect();
    if p.exists() {
        assert_eq!(std::fs::read(&p).unwrap(), CONTENT, "{when}");
        assert!(items.is_empty(), "{when}: in place and in the vault");
        false
    } else {
        assert_eq!(items.len(), 1, "{when}: gone and not in the vault");
        let mut out = Vec::new();
        v.read_item(&items[0].id, &mut out).unwrap();
        assert_eq!(out, CONTENT, "{when}");
        true
    }
}

#[test]
fn kill_at_every_step_never_loses_nor_doubles() {
    // A run to the end learns the steps.
    let t = fresh();
    let o = run_child(t.path(), None);
    assert!(o.status.success(), "{o:?}");
    let trace = String::from_utf8_lossy(&o.stderr);
    let steps: Vec<String> = trace
        .lines()
        .filter_map(|l| l.strip_prefix("fault-point: "))
        .filter(|s| s.starts_with("quarantine:"))
        .map(str::to_string)
        .collect();
    for want in [
        "quarantine:journaled",
        "quarantine:unlinked",
        "quarantine:done",
    ] {
        assert!(steps.iter().any(|s| s == want), "{want}: {steps:?}");
    }
    assert!(check(t.path(), "not killed"));
    let mut ends = std::collections::BTreeSet::new();
    for step in &steps {
        let t = fresh();
        let o = run_child(t.path(), Some(step));
        let when = format!("killed at {step}");
        assert!(!o.status.success(), "{when}: not killed: {o:?}");
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("outcome:"),
            "{when}: ran to the end"
        );
        ends.insert(check(t.path(), &when));
        // A second open finds nothing more to do.
        assert!(
            Vault::open(&t.path().join("vault"), false)
                .unwrap()
                .take_recovered()
                .is_empty(),
            "{when}"
        );
    }
    // Early kills roll back, late ones finish: both ends are reached.
    assert_eq!(ends.len(), 2, "{ends:?}");
}
