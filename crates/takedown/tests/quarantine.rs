//! Removal through the real binary: quarantine, delete, restore, export,
//! the vault's safety checks, the symlink-swap race, and crash safety (a
//! kill at every step of the protocol, and at random moments).

mod util;

use serde_json::Value;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use util::*;

fn vault_items(t: &Tree) -> Vec<Value> {
    let o = t.run(&["quarantine", "list", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    ndjson(&o)
}

fn quarantine_json(t: &Tree, dir: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--action", "quarantine", "--no-cache", dir];
    args.extend_from_slice(extra);
    t.json(&args)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

fn set_mtime(p: &Path, sec: i64, nsec: i64) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let ts = [
        libc::timespec {
            tv_sec: sec - 100,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        },
    ];
    assert_eq!(
        unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), 0) },
        0
    );
}

#[test]
fn quarantine_restores_content_mode_owner_and_times() {
    let t = Tree::new();
    let bad = t.write("scan/sub/bad.com", eicar());
    let good = t.write("scan/sub/good.txt", "hello");
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o4751)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&bad, Some(1234), Some(2345)).unwrap();
        // chown cleared set-uid; put it back.
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o4751)).unwrap();
    }
    set_mtime(&bad, 1_600_000_000, 123_456_789);
    let before = std::fs::metadata(&bad).unwrap();

    let o = quarantine_json(&t, &t.arg("scan"), &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let schema: Value =
        serde_json::from_str(include_str!("../../../docs/finding.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for v in ndjson(&o) {
        if let Err(e) = validator.validate(&v) {
            panic!("schema violation: {e}\n{v}");
        }
    }
    let f = &findings(&o)[0];
    assert_eq!(f["action"]["action"], "quarantine");
    assert_eq!(f["action"]["status"], "done", "{f}");
    let id = f["action"]["vault_id"].as_str().unwrap().to_string();
    assert_eq!(summary(&o)["quarantined"], 1);
    assert_eq!(summary(&o)["refused"], 0);
    assert!(!bad.exists(), "the detected file is gone from its place");
    assert_eq!(std::fs::read(&good).unwrap(), b"hello");

    // The vault lists it with its metadata.
    let items = vault_items(&t);
    assert_eq!(items.len(), 1);
    let m = &items[0];
    assert_eq!(m["id"], id.as_str());
    assert_eq!(m["original_path"], bad.to_str().unwrap());
    assert_eq!(m["sha256"], EICAR_SHA256);
    assert_eq!(m["mode"], 0o4751);
    assert_eq!(m["detections"][0]["name"], "EICAR_Test_File");

    // Defanged: no scanner finds it in the vault, not even this one.
    let o = t.json(&["--no-cache", &t.arg("vault")]);
    assert_eq!(
        code(&o),
        0,
        "the vault holds nothing detectable: {}",
        stdout(&o)
    );
    let vault_mode = std::fs::metadata(t.path("vault")).unwrap().mode() & 0o777;
    assert_eq!(vault_mode, 0o700);

    // Restore puts back everything.
    let o = t.run(&["quarantine", "restore", &id]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let after = std::fs::metadata(&bad).unwrap();
    assert_eq!(std::fs::read(&bad).unwrap(), eicar());
    assert_eq!(after.mode() & 0o7777, 0o4751);
    assert_eq!(
        (after.mtime(), after.mtime_nsec()),
        (1_600_000_000, 123_456_789)
    );
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));

    // Never over an existing file unless asked.
    let o = t.run(&["quarantine", "restore", &id]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    std::fs::write(&bad, "replaced").unwrap();
    let o = t.run(&["quarantine", "restore", &id, "--overwrite"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(&bad).unwrap(), eicar());
    let other = t.path("elsewhere/copy.bin");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    let o = t.run(&[
        "quarantine",
        "restore",
        &id,
        "--to",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(&other).unwrap(), eicar());
    let show = t.run(&["quarantine", "show", &id, "--format", "json"]);
    let m: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(m["restores"].as_array().unwrap().len(), 3);

    // The run log says what the scan changed.
    let o = t.run(&["quarantine", "log"]);
    let runs = stdout(&o);
    let run = runs.lines().find(|l| *l != "vault-commands").unwrap();
    let o = t.run(&["quarantine", "log", run, "--format", "json"]);
    let lines = ndjson(&o);
    assert!(
        lines[0]["command"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "quarantine")
    );
    assert_eq!(lines[1]["action"], "quarantine");
    assert_eq!(lines[1]["status"], "done");
    assert_eq!(lines[1]["vault_id"], id.as_str());
    assert_eq!(lines[1]["path"], bad.to_str().unwrap());

    // Delete from the vault for good.
    let o = t.run(&["quarantine", "delete", &id]);
    assert_eq!(code(&o), 2, "no terminal, no --yes: refused");
    assert_eq!(vault_items(&t).len(), 1);
    let o = t.run(&["quarantine", "delete", &id, "--yes"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(vault_items(&t).is_empty());
    let o = t.run(&["quarantine", "show", &id]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no item"), "{}", stderr(&o));
}

#[test]
fn text_output_says_what_was_done() {
    let t = Tree::new();
    let bad = t.write("scan/bad.com", eicar());
    let o = t.run(&[
        "scan",
        "--no-cache",
        "--action",
        "quarantine",
        &t.arg("scan"),
    ]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.contains(&format!("{}: quarantined (vault ID ", bad.display())),
        "{out}"
    );
    assert!(out.contains("Quarantined: 1"), "{out}");
}

#[test]
fn a_detection_inside_a_container_quarantines_the_outer_file() {
    let t = Tree::new();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("inner/eicar.com", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, &eicar()).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let outer = t.write("scan/mail/attachment.zip", &bytes);
    let o = quarantine_json(&t, &t.arg("scan"), &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let f = &findings(&o)[0];
    assert_eq!(f["chain"][0], "inner/eicar.com");
    assert_eq!(f["action"]["status"], "done");
    assert_eq!(f["action"]["target"], outer.to_str().unwrap());
    assert!(!outer.exists());
    let items = vault_items(&t);
    assert_eq!(items[0]["original_path"], outer.to_str().unwrap());
    assert_eq!(items[0]["detections"][0]["chain"][0], "inner/eicar.com");
    // The whole zip comes back byte for byte.
    let o = t.run(&["quarantine", "restore", items[0]["id"].as_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(&outer).unwrap(), bytes);
}

#[test]
fn min_score_limits_actions() {
    let t = Tree::new();
    t.write(
        "rules/low.yar",
        "rule Low { meta: score = 40 strings: $a = \"lowscore-marker\" condition: $a }",
    );
    let low = t.write("scan/low.txt", "xx lowscore-marker xx");
    let high = t.write("scan/high.com", eicar());
    let o = quarantine_json(
        &t,
        &t.arg("scan"),
        &["-s", &t.arg("rules"), "--min-score", "50"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let by_path = |p: &Path| {
        findings(&o)
            .into_iter()
            .find(|f| f["path"] == p.to_str().unwrap())
            .unwrap()
    };
    assert_eq!(by_path(&low)["action"]["status"], "skipped");
    assert!(
        by_path(&low)["action"]["reason"]
            .as_str()
            .unwrap()
            .contains("--min-score 50")
    );
    assert_eq!(by_path(&high)["action"]["status"], "done");
    assert!(low.exists() && !high.exists());
}

#[test]
fn delete_needs_yes_and_removes_only_the_scanned_file() {
    let t = Tree::new();
    let bad = t.write("scan/bad.com", eicar());
    let o = t.json(&["--no-cache", "--action", "delete", &t.arg("scan")]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--yes"), "{}", stderr(&o));
    assert!(bad.exists());
    let o = t.json(&["--no-cache", "--action", "delete", "--yes", &t.arg("scan")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(findings(&o)[0]["action"]["status"], "done");
    assert_eq!(summary(&o)["deleted"], 1);
    assert!(!bad.exists());
    assert!(vault_items(&t).is_empty(), "delete keeps no copy");
}

#[test]
fn export_is_a_zip_with_password_infected() {
    let t = Tree::new();
    t.write("scan/bad.com", eicar());
    let o = quarantine_json(&t, &t.arg("scan"), &[]);
    let id = findings(&o)[0]["action"]["vault_id"]
        .as_str()
        .unwrap()
        .to_string();
    for (name, extra) in [("zipcrypto.zip", None), ("aes.zip", Some("--aes"))] {
        let zip = t.path(name);
        let mut args = vec!["quarantine", "export", &id, "--to", zip.to_str().unwrap()];
        args.extend(extra);
        let o = t.run(&args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        // Without the password, nothing is found; with it, EICAR is inside.
        let o = t.json(&["--no-cache", zip.to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{}", stdout(&o));
        let o = t.json(&[
            "--no-cache",
            "--archive-password",
            "infected",
            zip.to_str().unwrap(),
        ]);
        assert_eq!(code(&o), 1, "{name}: {}", stdout(&o));
        assert_eq!(findings(&o)[0]["chain"][0], format!("{EICAR_SHA256}.bin"));
        // Never overwritten.
        let o = t.run(&args);
        assert_eq!(code(&o), 2);
        assert!(stderr(&o).contains("already exists"));
    }
    if Command::new("unzip").arg("-v").output().is_ok() {
        let o = Command::new("unzip")
            .args(["-P", "infected", "-p"])
            .arg(t.path("zipcrypto.zip"))
            .arg(format!("{EICAR_SHA256}.bin"))
            .output()
            .unwrap();
        assert_eq!(o.stdout, eicar(), "unzip opens the ZipCrypto export");
    }
}

// ---------------------------------------------------------------------
// Races: the file is swapped between the scan and the action.

/// Starts `takedown` and waits until it stops itself at the fault point.
fn spawn_stopped(t: &Tree, fault: &str, args: &[&str]) -> Child {
    let mut c = t.cmd();
    c.args(args)
        .env("TAKEDOWN_FAULT", format!("{fault}@stop"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[allow(clippy::zombie_processes)] // returned to the caller, who waits
    let child = c.spawn().unwrap();
    let stat = format!("/proc/{}/stat", child.id());
    let started = Instant::now();
    loop {
        let s = std::fs::read_to_string(&stat).unwrap_or_default();
        // The state follows the parenthesised command name.
        if s.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('T'))
        {
            return child;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "takedown never reached {fault}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `takedown scan --action ACTION --yes` of `scan/`, stopped at `fault`.
fn action_stopped_at(t: &Tree, action: &str, fault: &str) -> Child {
    let scan = t.arg("scan");
    spawn_stopped(
        t,
        fault,
        &[
            "scan",
            "--format",
            "json",
            "--no-cache",
            "--action",
            action,
            "--yes",
            &scan,
        ],
    )
}

fn quarantine_stopped_at(t: &Tree, fault: &str) -> Child {
    action_stopped_at(t, "quarantine", fault)
}

fn resume(child: Child) -> std::process::Output {
    unsafe { libc::kill(child.id() as i32, libc::SIGCONT) };
    child.wait_with_output().unwrap()
}

#[test]
fn a_file_swapped_for_a_symlink_leaves_the_target_untouched() {
    // At the start of the action, and after the copy (just before the
    // unlink), for both actions.
    for (action, fault) in [
        ("quarantine", "quarantine:start"),
        ("quarantine", "quarantine:committed"),
        ("delete", "delete:start"),
        ("delete", "delete:verified"),
    ] {
        let t = Tree::new();
        let precious = t.write(
            "precious/shadow",
            "root:$6$precious-hash:19000:0:99999:7:::\n",
        );
        let bad = t.write("scan/evil.com", eicar());
        let child = action_stopped_at(&t, action, fault);
        std::fs::remove_file(&bad).unwrap();
        std::os::unix::fs::symlink(&precious, &bad).unwrap();
        let o = resume(child);
        assert_eq!(code(&o), 1, "{action}@{fault}: {}", stderr(&o));
        let f = &findings(&o)[0];
        assert_eq!(f["action"]["status"], "refused", "{action}@{fault}: {f}");
        assert_eq!(
            std::fs::read(&precious).unwrap(),
            b"root:$6$precious-hash:19000:0:99999:7:::\n",
            "{action}@{fault}"
        );
        assert!(
            std::fs::symlink_metadata(&bad)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(summary(&o)["refused"], 1);
        assert!(
            vault_items(&t).is_empty(),
            "{action}@{fault}: no item left behind"
        );
    }
}

#[test]
fn a_directory_swapped_for_a_symlink_is_not_followed() {
    let t = Tree::new();
    let precious = t.write("precious/evil.com", eicar());
    t.write("scan/sub/evil.com", eicar());
    let child = quarantine_stopped_at(&t, "quarantine:start");
    std::fs::rename(t.path("scan/sub"), t.path("moved")).unwrap();
    std::os::unix::fs::symlink(t.path("precious"), t.path("scan/sub")).unwrap();
    let o = resume(child);
    let f = &findings(&o)[0];
    assert_eq!(f["action"]["status"], "refused", "{f}");
    assert!(
        f["action"]["reason"]
            .as_str()
            .unwrap()
            .contains("symbolic link"),
        "{f}"
    );
    assert_eq!(std::fs::read(&precious).unwrap(), eicar());
    assert!(t.path("moved/evil.com").exists());
}

#[test]
fn a_file_changed_after_the_scan_is_left_alone() {
    let t = Tree::new();
    let bad = t.write("scan/bad.com", eicar());
    let child = quarantine_stopped_at(&t, "quarantine:start");
    // Same size, other content, mtime put back: only the hash can tell.
    let m = std::fs::metadata(&bad).unwrap();
    let mut other = eicar();
    other[0] = b'Y';
    std::fs::write(&bad, &other).unwrap();
    set_mtime(&bad, m.mtime(), m.mtime_nsec());
    let o = resume(child);
    let f = &findings(&o)[0];
    assert_eq!(f["action"]["status"], "refused", "{f}");
    assert!(
        f["action"]["reason"].as_str().unwrap().contains("SHA-256"),
        "{f}"
    );
    assert_eq!(std::fs::read(&bad).unwrap(), other);
    assert!(vault_items(&t).is_empty());
}

// ---------------------------------------------------------------------
// Refusals: permissions, read-only file systems, full disks, unsafe vaults.

#[test]
fn a_vault_writable_by_others_is_refused() {
    let t = Tree::new();
    let bad = t.write("scan/bad.com", eicar());
    std::fs::create_dir(t.path("vault")).unwrap();
    std::fs::set_permissions(t.path("vault"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = quarantine_json(&t, &t.arg("scan"), &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("writable by others"), "{}", stderr(&o));
    assert!(bad.exists());
}

#[test]
fn another_users_file_is_left_in_place_when_not_root() {
    if !is_root() {
        eprintln!("SKIP: needs root to create a file of another user");
        return;
    }
    let t = Tree::new();
    std::fs::set_permissions(t.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bad = t.write("scan/bad.com", eicar());
    std::fs::set_permissions(t.path("scan"), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o644)).unwrap();
    let vault = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(vault.path(), Some(65534), Some(65534)).unwrap();
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_takedown"))
        .args([
            "scan",
            "--format",
            "json",
            "--no-cache",
            "--action",
            "quarantine",
        ])
        .arg("--vault")
        .arg(vault.path().join("v"))
        .arg(t.path("scan"));
    let o = run_with_timeout(c, 60);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let f = &findings(&o)[0];
    assert_eq!(f["action"]["status"], "failed", "{f}");
    assert!(
        f["action"]["reason"]
            .as_str()
            .unwrap()
            .contains("belongs to root"),
        "{f}"
    );
    assert_eq!(summary(&o)["failed"], 1);
    assert_eq!(std::fs::read(&bad).unwrap(), eicar());
}

/// A small tmpfs for disk-full and read-only cases; `None` (and a loud
/// skip) where mounting is not allowed.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let ok = is_root()
            && Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={size},mode=0755"),
                    "tmpfs",
                ])
                .arg(at)
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIP: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
            return None;
        }
        Some(Mount(at.to_path_buf()))
    }

    fn read_only(&self) {
        let s = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(s.success());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_file_system_is_reported_and_the_file_stays() {
    let t = Tree::new();
    let Some(m) = Mount::tmpfs(&t.path("ro"), "4m") else {
        return;
    };
    let bad = t.write("ro/bad.com", eicar());
    m.read_only();
    let o = quarantine_json(&t, &t.arg("ro"), &[]);
    let f = &findings(&o)[0];
    assert_eq!(f["action"]["status"], "failed", "{f}");
    assert!(
        f["action"]["reason"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{f}"
    );
    assert_eq!(std::fs::read(&bad).unwrap(), eicar());
    assert!(vault_items(&t).is_empty());
}

#[test]
fn a_full_vault_disk_is_reported_and_the_file_stays() {
    let t = Tree::new();
    let Some(_m) = Mount::tmpfs(&t.path("small"), "64k") else {
        return;
    };
    // 300 KiB that matches: does not fit in a 64 KiB vault.
    t.write(
        "rules/big.yar",
        "rule Big { strings: $a = \"big-sample-marker\" condition: $a }",
    );
    let mut big = b"big-sample-marker".to_vec();
    big.resize(300 << 10, b'x');
    let bad = t.write("scan/big.bin", &big);
    let o = quarantine_json(
        &t,
        &t.arg("scan"),
        &["--vault", &t.arg("small/vault"), "-s", &t.arg("rules")],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let f = &findings(&o)[0];
    assert_eq!(f["action"]["status"], "failed", "{f}");
    assert!(
        f["action"]["reason"].as_str().unwrap().contains("no space"),
        "{f}"
    );
    assert_eq!(std::fs::read(&bad).unwrap(), big);
    let o = t.run(&["quarantine", "list", "--vault", &t.arg("small/vault")]);
    assert_eq!(stdout(&o), "", "no partial item");
    assert_eq!(
        std::fs::read_dir(t.path("small/vault/tmp"))
            .unwrap()
            .count(),
        0
    );
}

// ---------------------------------------------------------------------
// Crash safety.

const FILES: usize = 3;

const MARKER_RULE: &str =
    "rule CrashTestMarker { strings: $a = \"takedown-crash-test-marker\" condition: $a }";

/// A tree of `n` detected files (each different), one clean file, and a
/// rule that detects them.
fn crash_tree_of(n: usize) -> (Tree, Vec<(PathBuf, Vec<u8>)>) {
    let t = Tree::new();
    t.write("rules/marker.yar", MARKER_RULE);
    let files = (0..n)
        .map(|i| {
            let data = format!("takedown-crash-test-marker {i}\n").into_bytes();
            (t.write(&format!("scan/d{}/bad{i}.bin", i % 7), &data), data)
        })
        .collect();
    t.write("scan/clean.txt", "nothing to see");
    (t, files)
}

fn crash_tree() -> (Tree, Vec<(PathBuf, Vec<u8>)>) {
    crash_tree_of(FILES)
}

fn quarantine_cmd(t: &Tree) -> Command {
    let mut c = t.cmd();
    c.args([
        "scan",
        "--format",
        "json",
        "--no-cache",
        "-s",
        &t.arg("rules"),
        "--action",
        "quarantine",
        &t.arg("scan"),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

/// Quarantines a fresh tree of `n` files with `env`, killed at the `nth`
/// arrival at `step`; then every file must be in place or in the vault.
fn kill_quarantine_at(n: usize, step: &str, nth: usize, env: &[(&str, &str)]) {
    let (t, files) = crash_tree_of(n);
    let mut c = quarantine_cmd(&t);
    c.envs(env.iter().copied())
        .env("TAKEDOWN_FAULT", format!("{step}#{nth}"));
    let o = run_with_timeout(c, 60);
    let when = format!("{env:?}, killed at {step}#{nth}");
    assert_eq!(o.status.code(), None, "{when}: the process was killed");
    check_invariant(&t, &files, &when);
}

/// After any command has recovered the vault: every file is in place with
/// its content, or whole in the vault, never both, never neither; nothing
/// half-done remains.
fn check_invariant(t: &Tree, files: &[(PathBuf, Vec<u8>)], when: &str) {
    let items = vault_items(t); // runs recovery
    assert_eq!(
        std::fs::metadata(t.path("vault/journal"))
            .map(|m| m.len())
            .unwrap_or(0),
        0,
        "{when}: journal empty after recovery"
    );
    for sub in ["tmp", "trash"] {
        let n = std::fs::read_dir(t.path("vault").join(sub))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(n, 0, "{when}: vault/{sub} empty after recovery");
    }
    for (i, (path, data)) in files.iter().enumerate() {
        let in_place = match std::fs::read(path) {
            Ok(d) => {
                assert_eq!(&d, data, "{when}: {} intact", path.display());
                true
            }
            Err(_) => false,
        };
        let stored: Vec<&Value> = items
            .iter()
            .filter(|m| m["original_path"] == path.to_str().unwrap())
            .collect();
        assert!(stored.len() <= 1, "{when}: one item per file");
        assert!(
            in_place ^ (stored.len() == 1),
            "{when}: {} must be in place or in the vault, exactly one (in place: {in_place}, items: {})",
            path.display(),
            stored.len()
        );
        if let Some(m) = stored.first() {
            assert_eq!(
                m["sha256"].as_str().unwrap(),
                sha256_hex(data),
                "{when}: metadata of {}",
                path.display()
            );
            assert!(!packs(t).is_empty(), "{when}: the item's pack is in items/");
        }
        // Decrypting every item of a big batch costs a process each:
        // check the first few whole.
        if let Some(m) = stored.first().filter(|_| i < 3) {
            let out = t.path(&format!("check/{i}"));
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            let _ = std::fs::remove_file(&out);
            let o = t.run(&[
                "quarantine",
                "restore",
                m["id"].as_str().unwrap(),
                "--to",
                out.to_str().unwrap(),
            ]);
            assert_eq!(code(&o), 0, "{when}: {}", stderr(&o));
            assert_eq!(
                &std::fs::read(&out).unwrap(),
                data,
                "{when}: vault copy whole"
            );
        }
    }
}

/// The steps a quarantine of FILES files goes through, as the binary
/// reports them: (step, times reached).
fn traced_steps(t: &Tree, args: &[&str]) -> Vec<(String, usize)> {
    let mut c = t.cmd();
    c.args(args).env("TAKEDOWN_FAULT_TRACE", "1");
    steps_of(&run_with_timeout(c, 60))
}

fn steps_of(o: &std::process::Output) -> Vec<(String, usize)> {
    let mut steps: Vec<(String, usize)> = Vec::new();
    for line in stderr(o).lines() {
        if let Some(step) = line.strip_prefix("fault-point: ") {
            match steps.iter_mut().find(|(s, _)| s == step) {
                Some((_, n)) => *n += 1,
                None => steps.push((step.to_string(), 1)),
            }
        }
    }
    steps
}

#[test]
fn a_kill_at_every_step_of_quarantine_loses_nothing() {
    let (probe, _) = crash_tree();
    let steps = {
        let mut c = quarantine_cmd(&probe);
        c.env("TAKEDOWN_FAULT_TRACE", "1");
        steps_of(&run_with_timeout(c, 60))
    };
    let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
    for want in [
        "quarantine:journaled",
        "quarantine:written",
        "quarantine:committed",
        "quarantine:unlinked",
        "quarantine:done",
    ] {
        assert!(names.contains(&want), "step {want} reached: {names:?}");
    }
    let mut runs = 0;
    for (step, times) in &steps {
        for nth in 1..=*times {
            kill_quarantine_at(FILES, step, nth, &[]);
            runs += 1;
        }
    }
    assert!(runs >= 12, "every occurrence of every step: {runs} runs");
}

#[test]
fn a_kill_at_random_moments_loses_nothing() {
    // A batch big enough that kills land inside the protocol, not only
    // before or after it. First, when does acting start and end here?
    const N: usize = 150;
    let (t, files) = crash_tree_of(N);
    let started = Instant::now();
    let mut c = quarantine_cmd(&t);
    c.env("TAKEDOWN_FAULT_TRACE", "1");
    let o = run_with_timeout(c, 60);
    assert_eq!(summary(&o)["quarantined"], N as u64, "{}", stderr(&o));
    let full = started.elapsed();
    check_invariant(&t, &files, "uninterrupted");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("random kills: seed {seed}, run time {full:?}");
    let mut x = seed | 1;
    let mut partial = 0;
    for run in 0..20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = full.mul_f64((x % 1000) as f64 / 1000.0);
        let (t, files) = crash_tree_of(N);
        let mut child = quarantine_cmd(&t).spawn().unwrap();
        std::thread::sleep(delay);
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        // A journal left behind: the kill hit inside the protocol.
        let mid = std::fs::metadata(t.path("vault/journal")).is_ok_and(|m| m.len() > 0);
        partial += usize::from(mid);
        check_invariant(
            &t,
            &files,
            &format!("run {run}, killed after {delay:?} (seed {seed})"),
        );
        let stored = vault_items(&t).len();
        eprintln!(
            "run {run}: killed after {delay:?}{}: {stored} of {N} in the vault after recovery",
            if mid { " inside the protocol" } else { "" }
        );
    }
    eprintln!("{partial} of 20 kills landed inside the protocol");
}

#[test]
fn a_kill_in_a_batch_spread_over_lanes_loses_nothing() {
    // A batch worked on three lanes (three packs, written and unlinked by
    // three threads at once): kills at the first, second, middle and last
    // arrivals of every step, whichever lane arrives, then the invariant.
    const N: usize = 48;
    let (probe, files) = crash_tree_of(N);
    let mut c = quarantine_cmd(&probe);
    c.env("TAKEDOWN_LANES", "3");
    c.env("TAKEDOWN_FAULT_TRACE", "1");
    let o = run_with_timeout(c, 60);
    assert_eq!(summary(&o)["quarantined"], N as u64, "{}", stderr(&o));
    check_invariant(&probe, &files, "uninterrupted");
    assert_eq!(packs(&probe).len(), 3, "one pack per lane");
    let steps = steps_of(&o);
    for each_file in ["quarantine:written", "quarantine:unlinked"] {
        assert!(
            steps.contains(&(each_file.to_string(), N)),
            "{each_file} once per file: {steps:?}"
        );
    }
    let mut runs = 0;
    for (step, times) in &steps {
        let mut nths = vec![1, 2, times.div_ceil(2), *times];
        nths.retain(|&n| n >= 1 && n <= *times);
        nths.dedup();
        for nth in nths {
            kill_quarantine_at(N, step, nth, &[("TAKEDOWN_LANES", "3")]);
            runs += 1;
        }
    }
    assert!(runs >= 15, "every step of the protocol: {runs} runs");
}

#[test]
fn delete_on_lanes_removes_every_detected_file_and_nothing_else() {
    // Delete's verification and unlinks shared among three lanes.
    const N: usize = 48;
    let (t, files) = crash_tree_of(N);
    let mut c = t.cmd();
    c.args(["scan", "--format", "json", "--no-cache", "-s"])
        .arg(t.arg("rules"))
        .args(["--action", "delete", "--yes"])
        .arg(t.arg("scan"))
        .env("TAKEDOWN_LANES", "3");
    let o = run_with_timeout(c, 60);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(summary(&o)["deleted"], N as u64, "{}", stderr(&o));
    assert_eq!(summary(&o)["failed"], 0);
    for (path, _) in &files {
        assert!(!path.exists(), "{} deleted", path.display());
    }
    assert!(t.path("scan/clean.txt").exists(), "the clean file stays");
    assert!(vault_items(&t).is_empty(), "delete keeps no copy");
}

#[test]
fn a_kill_at_every_step_of_restore_and_purge_loses_nothing() {
    let setup = || {
        let (t, files) = crash_tree();
        let o = run_with_timeout(quarantine_cmd(&t), 60);
        assert_eq!(summary(&o)["quarantined"], FILES as u64);
        let id = vault_items(&t)[0]["id"].as_str().unwrap().to_string();
        (t, files, id)
    };
    for (verb, extra) in [("restore", None), ("delete", Some("--yes"))] {
        let (t0, _, id0) = setup();
        let mut args = vec!["quarantine", verb, id0.as_str()];
        args.extend(extra);
        let steps = traced_steps(&t0, &args);
        assert!(!steps.is_empty(), "{verb}: steps traced");
        for (step, times) in &steps {
            for nth in 1..=*times {
                let (t, files, id) = setup();
                let mut args = vec!["quarantine", verb, id.as_str()];
                args.extend(extra);
                let mut c = t.cmd();
                c.args(&args).env("TAKEDOWN_FAULT", format!("{step}#{nth}"));
                let o = run_with_timeout(c, 60);
                let when = format!("{verb} killed at {step}#{nth}");
                assert_eq!(o.status.code(), None, "{when}: killed");
                let items = vault_items(&t);
                if verb == "restore" {
                    // The item stays; the file is back whole or not at all,
                    // and no temporary file is left beside it.
                    assert_eq!(items.len(), FILES, "{when}");
                    let path = PathBuf::from(items[0]["original_path"].as_str().unwrap());
                    let (_, data) = files.iter().find(|(p, _)| *p == path).unwrap();
                    if let Ok(d) = std::fs::read(&path) {
                        assert_eq!(&d, data, "{when}: restored whole");
                    }
                    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
                        .unwrap()
                        .flatten()
                        .filter(|e| e.file_name().to_string_lossy().starts_with(".takedown"))
                        .collect();
                    assert!(leftovers.is_empty(), "{when}: temporary file removed");
                } else {
                    // The item is whole or gone.
                    assert!(items.len() == FILES || items.len() == FILES - 1, "{when}");
                    if items.iter().any(|m| m["id"] == id.as_str()) {
                        let out = t.path("check.bin");
                        let o =
                            t.run(&["quarantine", "restore", &id, "--to", out.to_str().unwrap()]);
                        assert_eq!(code(&o), 0, "{when}: item still whole: {}", stderr(&o));
                    }
                }
                assert_eq!(
                    std::fs::metadata(t.path("vault/journal")).unwrap().len(),
                    0,
                    "{when}: recovered"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------
// Packs and limits.

/// The pack files in the vault.
fn packs(t: &Tree) -> Vec<PathBuf> {
    std::fs::read_dir(t.path("vault/items"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pack"))
        .collect()
}

/// The bytes of every pack in the vault, concatenated.
fn pack_bytes(t: &Tree) -> Vec<u8> {
    packs(t)
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect()
}

#[test]
fn deleting_one_item_of_a_batch_erases_it_and_keeps_the_others() {
    let (t, files) = crash_tree_of(4);
    let o = run_with_timeout(quarantine_cmd(&t), 120);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let items = vault_items(&t);
    assert_eq!(items.len(), 4);
    // One batch: one pack.
    assert_eq!(packs(&t).len(), 1);
    let victim = &items[1];
    let name = Path::new(victim["original_path"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        contains(&pack_bytes(&t), name.as_bytes()),
        "metadata is in the pack"
    );
    let o = t.run(&[
        "quarantine",
        "delete",
        victim["id"].as_str().unwrap(),
        "--yes",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Gone: not listed, and its metadata (the path) erased from the pack.
    let left = vault_items(&t);
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|m| m["id"] != victim["id"]));
    assert!(
        !contains(&pack_bytes(&t), name.as_bytes()),
        "metadata erased"
    );
    // The others restore whole.
    for m in &left {
        let path = PathBuf::from(m["original_path"].as_str().unwrap());
        let o = t.run(&["quarantine", "restore", m["id"].as_str().unwrap()]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let want = &files.iter().find(|(p, _)| *p == path).unwrap().1;
        assert_eq!(&std::fs::read(&path).unwrap(), want);
    }
    // Deleting the rest removes the pack itself.
    for m in &left {
        let o = t.run(&["quarantine", "delete", m["id"].as_str().unwrap(), "--yes"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    assert!(vault_items(&t).is_empty());
    assert!(pack_bytes(&t).is_empty(), "no pack left");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_low_open_files_limit_still_quarantines_every_file() {
    // A batch keeps its files open until they are removed: with a soft
    // and hard limit of 200 descriptors, 600 files must still all go.
    let (t, files) = crash_tree_of(600);
    quarantine_under_limit(&t, &files, 200);
}

#[test]
fn files_in_as_many_directories_fit_the_open_files_limit() {
    // Each file in a directory of its own: a batch then holds two
    // descriptors a file (the file and its directory), besides the removed
    // files waiting to be closed. 1,200 such files under a limit of 1,024.
    let t = Tree::new();
    t.write("rules/marker.yar", MARKER_RULE);
    let files: Vec<(PathBuf, Vec<u8>)> = (0..1200)
        .map(|i| {
            let data = format!("takedown-crash-test-marker {i}\n").into_bytes();
            (t.write(&format!("scan/d{i}/bad.bin"), &data), data)
        })
        .collect();
    quarantine_under_limit(&t, &files, 1024);
}

/// Quarantines `scan/` of `t` with the open-files limit at `limit`
/// (soft and hard): every file must go, none fail.
fn quarantine_under_limit(t: &Tree, files: &[(PathBuf, Vec<u8>)], limit: u32) {
    let c = quarantine_cmd(t);
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$@\""))
        .arg("sh")
        .arg(c.get_program())
        .args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    let o = run_with_timeout(sh, 300);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let summary = ndjson(&o).pop().unwrap();
    assert_eq!(summary["quarantined"], files.len(), "{}", stderr(&o));
    assert_eq!(summary["failed"], 0, "{}", stderr(&o));
    for (p, _) in files {
        assert!(!p.exists(), "{} removed", p.display());
    }
    assert_eq!(vault_items(t).len(), files.len());
}

// ---------------------------------------------------------------------
// Replaced content and items that go together (autostart entries
// disabled with the program they start).

const CRONTAB: &[u8] = b"SHELL=/bin/sh\n*/5 * * * * /opt/x/miner.com\n0 3 * * * backup\n";
const CRONTAB_DISABLED: &[u8] =
    b"SHELL=/bin/sh\n# */5 * * * * /opt/x/miner.com\n0 3 * * * backup\n";
const UNIT: &[u8] = b"[Service]\nExecStart=/opt/x/miner.com\n";

fn identity_of(p: &Path) -> takedown_vault::Identity {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(p).unwrap();
    takedown_vault::Identity::of(&takedown_vault::fsops::fstat(f.as_raw_fd()).unwrap())
}

fn done_id(o: &takedown_vault::remove::Outcome) -> String {
    match o {
        takedown_vault::remove::Outcome::Done {
            vault_id: Some(id), ..
        } => id.clone(),
        other => panic!("not done: {other:?}"),
    }
}

/// A program quarantined by a scan, and, as the disabling of its
/// autostart entries does it through the vault: its crontab line
/// commented out (a replaced item) and its unit file removed (a file
/// item), both going with the program. Returns (program path, program
/// item, crontab path, crontab item, unit path, unit item).
fn program_with_entries(t: &Tree) -> (PathBuf, String, PathBuf, String, PathBuf, String) {
    let program = t.write("scan/miner.com", eicar());
    let crontab = t.write("etc/crontab", CRONTAB);
    let unit = t.write("etc/systemd/miner.service", UNIT);
    std::fs::set_permissions(&crontab, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = quarantine_json(t, &t.arg("scan"), &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let program_id = findings(&o)[0]["action"]["vault_id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut v = takedown_vault::Vault::open(&t.path("vault"), false).unwrap();
    let run = v.start_run(&["test".into()]).unwrap();
    let why = serde_json::json!({"disabled": "cron line 2", "program": program.to_str()});
    let out = v.replace(
        &run,
        &[takedown_vault::Replacement {
            path: crontab.clone(),
            identity: identity_of(&crontab),
            sha256: sha256_hex(CRONTAB),
            content: CRONTAB_DISABLED.to_vec(),
            detections: why.clone(),
            names: vec!["cron /etc/crontab line 2".into()],
            linked: Some(program_id.clone()),
        }],
    );
    let crontab_id = done_id(&out[0]);
    let out = v.quarantine(
        &run,
        &[takedown_vault::remove::Request {
            path: unit.clone(),
            identity: identity_of(&unit),
            sha256: sha256_hex(UNIT),
            detections: why,
            names: vec!["systemd miner.service".into()],
            linked: Some(program_id.clone()),
        }],
    );
    let unit_id = done_id(&out[0]);
    assert_eq!(std::fs::read(&crontab).unwrap(), CRONTAB_DISABLED);
    assert!(!unit.exists() && !program.exists());
    (program, program_id, crontab, crontab_id, unit, unit_id)
}

#[test]
fn restore_brings_back_a_program_with_the_entries_that_went_with_it() {
    let t = Tree::new();
    let (program, program_id, crontab, crontab_id, unit, unit_id) = program_with_entries(&t);

    // The list says what each item is and what it goes with.
    let items = vault_items(&t);
    let by_id = |id: &str| items.iter().find(|m| m["id"] == id).unwrap().clone();
    assert_eq!(by_id(&program_id)["kind"], "file");
    assert!(by_id(&program_id).get("linked").is_none());
    assert_eq!(by_id(&crontab_id)["kind"], "replaced");
    assert_eq!(by_id(&crontab_id)["linked"], program_id.as_str());
    assert_eq!(
        by_id(&crontab_id)["replaced_sha256"],
        sha256_hex(CRONTAB_DISABLED)
    );
    assert_eq!(by_id(&unit_id)["kind"], "file");
    assert_eq!(by_id(&unit_id)["linked"], program_id.as_str());
    let o = t.run(&["quarantine", "list"]);
    let text = stdout(&o);
    let line = text.lines().find(|l| l.starts_with(&crontab_id)).unwrap();
    assert!(line.contains("  replaced  "), "{line}");
    assert!(line.contains(&format!("goes with {program_id}")), "{line}");
    let line = text.lines().find(|l| l.starts_with(&program_id)).unwrap();
    assert!(
        line.contains("  file  ") && !line.contains("goes with"),
        "{line}"
    );
    let o = t.run(&["quarantine", "show", &crontab_id]);
    assert!(
        stdout(&o).contains("Kind:           replaced"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains(&format!("Goes with:      {program_id}")));
    let o = t.run(&["quarantine", "show", &program_id, "--format", "json"]);
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(m["linked_items"], serde_json::json!([crontab_id, unit_id]));

    // One restore brings back all three, the program first.
    let o = t.run(&["quarantine", "restore", &program_id]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains(&format!("restored from vault item {program_id}")));
    assert!(
        lines[1].contains(&format!(
            "original content restored from vault item {crontab_id}, which goes with item {program_id}"
        )),
        "{out}"
    );
    assert!(lines[2].contains(&unit_id), "{out}");
    assert_eq!(std::fs::read(&program).unwrap(), eicar());
    assert_eq!(std::fs::read(&crontab).unwrap(), CRONTAB);
    assert_eq!(std::fs::read(&unit).unwrap(), UNIT);
    let mode = std::fs::metadata(&crontab).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o600);
    // Every item stays in the vault with its restore recorded.
    for m in vault_items(&t) {
        assert_eq!(m["restores"].as_array().unwrap().len(), 1, "{m}");
    }
}

#[test]
fn restore_only_leaves_the_entries_disabled() {
    let t = Tree::new();
    let (program, program_id, crontab, crontab_id, unit, _) = program_with_entries(&t);
    let o = t.run(&[
        "quarantine",
        "restore",
        &program_id,
        "--only",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = ndjson(&o);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kind"], "file");
    assert_eq!(std::fs::read(&program).unwrap(), eicar());
    assert_eq!(std::fs::read(&crontab).unwrap(), CRONTAB_DISABLED);
    assert!(!unit.exists());
    // An entry restored alone says what it goes with.
    let o = t.run(&["quarantine", "restore", &crontab_id]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("goes with item {program_id}")),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&crontab).unwrap(), CRONTAB);
    // Restoring it again writes nothing: it holds the original already.
    let o = t.run(&["quarantine", "restore", &crontab_id]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("already holds the original content"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn an_entry_changed_since_is_not_overwritten_by_a_linked_restore() {
    let t = Tree::new();
    let (program, program_id, crontab, crontab_id, unit, _) = program_with_entries(&t);
    // The administrator edited the crontab after takedown's change.
    std::fs::write(&crontab, b"0 4 * * * new-job\n").unwrap();
    let o = t.run(&["quarantine", "restore", &program_id, "--format", "json"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&crontab_id) && err.contains("changed since"),
        "{err}"
    );
    let lines = ndjson(&o);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let refused = lines
        .iter()
        .find(|l| l["id"] == crontab_id.as_str())
        .unwrap();
    assert!(
        refused["error"].as_str().unwrap().contains("--overwrite"),
        "{refused}"
    );
    // The others came back; the edit stays.
    assert_eq!(std::fs::read(&program).unwrap(), eicar());
    assert_eq!(std::fs::read(&unit).unwrap(), UNIT);
    assert_eq!(std::fs::read(&crontab).unwrap(), b"0 4 * * * new-job\n");
    // Asked for, alone.
    let o = t.run(&["quarantine", "restore", &crontab_id, "--overwrite"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(&crontab).unwrap(), CRONTAB);
}

#[test]
fn a_program_that_cannot_come_back_brings_back_nothing_with_it() {
    let t = Tree::new();
    let (program, program_id, crontab, _, unit, _) = program_with_entries(&t);
    std::fs::write(&program, b"something else now").unwrap();
    let o = t.run(&["quarantine", "restore", &program_id]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 item(s) that go with it were not restored"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&crontab).unwrap(), CRONTAB_DISABLED);
    assert!(!unit.exists());
}

#[test]
fn a_replaced_item_exports_its_original_and_deletes_without_touching_the_file() {
    let t = Tree::new();
    let (_, program_id, crontab, crontab_id, _, unit_id) = program_with_entries(&t);
    let zip = t.path("crontab.zip");
    let o = t.run(&[
        "quarantine",
        "export",
        &crontab_id,
        "--to",
        zip.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut a = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut member = a
        .by_name_decrypt(&format!("{}.bin", sha256_hex(CRONTAB)), b"infected")
        .unwrap();
    let mut content = Vec::new();
    std::io::Read::read_to_end(&mut member, &mut content).unwrap();
    assert_eq!(content, CRONTAB);
    drop(member);
    // Deleting it from the vault leaves the file as takedown left it.
    let o = t.run(&["quarantine", "delete", &crontab_id, "--yes"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(&crontab).unwrap(), CRONTAB_DISABLED);
    // Deleting the program says what stays.
    let o = t.run(&["quarantine", "delete", &program_id, "--yes"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains(&unit_id), "{}", stderr(&o));
    let left = vault_items(&t);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], unit_id.as_str());
}
