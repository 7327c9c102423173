//! The vault's guarantees through its portable API, on every system it
//! builds for (Linux, and Windows, where CI runs these under Wine):
//! quarantine and exact restore, refusal of a file changed since the
//! scan, refusal of a link on the way, delete, purge, and (Windows) a
//! file in use whose removal waits for the next boot.

use sha2::Digest;
use std::fs::File;
use std::path::{Path, PathBuf};
use takedown_vault::remove::{Outcome, Request};
use takedown_vault::{Identity, Run, Vault, fsops};

/// Fields drop in order: the vault (and its open directory handles)
/// before the temporary directory, which Windows cannot remove while
/// handles in it are open.
struct Setup {
    dir: PathBuf,
    vault: Vault,
    run: Run,
    _t: tempfile::TempDir,
}

fn setup() -> Setup {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("files");
    std::fs::create_dir(&dir).unwrap();
    let vault = Vault::open(&t.path().join("vault"), true).unwrap();
    let run = vault.start_run(&["test".into()]).unwrap();
    Setup {
        dir,
        vault,
        run,
        _t: t,
    }
}

fn identity(p: &Path) -> Identity {
    Identity::of(&fsops::stat_file(&File::open(p).unwrap()).unwrap())
}

/// The request the scan would make for `p` as it is now.
fn request(p: &Path) -> Request {
    let data = std::fs::read(p).unwrap();
    Request {
        path: p.to_path_buf(),
        identity: identity(p),
        sha256: hex::encode(sha2::Sha256::digest(&data)),
        detections: serde_json::json!([{"name": "Test.Sample"}]),
        names: vec!["Test.Sample".into()],
        linked: None,
    }
}

fn done_id(o: &Outcome) -> String {
    match o {
        Outcome::Done {
            vault_id: Some(id), ..
        } => id.clone(),
        other => panic!("not done: {other:?}"),
    }
}

#[test]
fn quarantine_then_restore_gives_back_content_and_times() {
    let mut s = setup();
    let p = s.dir.join("sample.exe");
    std::fs::write(&p, b"MZ not really a program").unwrap();
    let old = File::options().write(true).open(&p).unwrap();
    let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_600_000_000, 123_456_700);
    old.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t))
        .unwrap();
    drop(old);
    let before = fsops::stat_file(&File::open(&p).unwrap()).unwrap();
    let out = s.vault.quarantine(&s.run, &[request(&p)]);
    let id = done_id(&out[0]);
    assert!(!p.exists(), "the file is gone from its place");
    let meta = s.vault.meta(&id).unwrap();
    assert_eq!(meta.size, 23);
    assert_eq!((meta.dev, meta.ino), (before.dev, before.ino));
    assert_eq!(meta.mtime.time(), before.mtime);
    // Windows keeps no owner ids or mode: absent, not made up.
    assert_eq!(meta.uid.is_some(), cfg!(unix));
    assert_eq!(meta.mode.is_some(), cfg!(unix));
    assert_eq!(meta.attributes.is_some(), cfg!(windows));

    let r = s.vault.restore(&id, None, false).unwrap();
    assert_eq!(r.path, p);
    // Status first: reading may move the access time.
    let after = fsops::stat_file(&File::open(&p).unwrap()).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"MZ not really a program");
    assert_eq!(after.mtime, before.mtime);
    assert_eq!(after.atime, meta.atime.time());
    assert_eq!(after.mode, before.mode);
    assert_eq!(after.btime, before.btime);
    // Restoring again over the restored file is refused.
    let err = s.vault.restore(&id, None, false).err().unwrap().to_string();
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn a_file_changed_since_the_scan_is_refused_and_left() {
    let mut s = setup();
    let p = s.dir.join("changed.bin");
    std::fs::write(&p, b"first").unwrap();
    let req = request(&p);
    std::fs::write(&p, b"second, longer").unwrap();
    let out = s.vault.quarantine(&s.run, &[req]);
    assert!(matches!(&out[0], Outcome::Refused(_)), "{out:?}");
    assert_eq!(std::fs::read(&p).unwrap(), b"second, longer");
    assert!(s.vault.list().unwrap().is_empty());
}

#[test]
fn delete_removes_and_purge_forgets() {
    let mut s = setup();
    let gone = s.dir.join("delete-me");
    std::fs::write(&gone, b"bad").unwrap();
    let out = s.vault.delete(&s.run, &[request(&gone)]);
    assert!(matches!(&out[0], Outcome::Done { .. }), "{out:?}");
    assert!(!gone.exists());

    let kept = s.dir.join("quarantine-me");
    std::fs::write(&kept, b"worse").unwrap();
    let id = done_id(&s.vault.quarantine(&s.run, &[request(&kept)])[0]);
    assert_eq!(s.vault.list().unwrap().len(), 1);
    s.vault.purge(&id).unwrap();
    assert!(s.vault.list().unwrap().is_empty());
    assert!(s.vault.meta(&id).is_err());
}

/// A directory link on the way to the file is refused, and nothing is
/// done through it.
#[test]
fn a_link_on_the_path_is_refused() {
    let mut s = setup();
    let real = s.dir.join("real");
    std::fs::create_dir(&real).unwrap();
    let p = real.join("x.bin");
    std::fs::write(&p, b"payload").unwrap();
    let link = s.dir.join("link");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&real, &link).unwrap();
    #[cfg(windows)]
    std::os::windows::fs::symlink_dir(&real, &link).unwrap();
    let mut req = request(&p);
    req.path = link.join("x.bin");
    let out = s.vault.quarantine(&s.run, &[req]);
    match &out[0] {
        // Windows names the junction or link; Wine 8 (where CI runs the
        // Windows build) does not open a link itself and answers "not
        // found", which is still a refusal that touches nothing.
        Outcome::Refused(why) => assert!(why.contains("link") || cfg!(windows), "{why}"),
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(std::fs::read(&p).unwrap(), b"payload");
}

/// A file another program holds open without sharing deletion cannot be
/// removed now: it is quarantined, its removal is scheduled for the next
/// boot, and the item says so.
#[cfg(windows)]
#[test]
fn a_file_in_use_is_removed_at_the_next_boot_and_the_item_says_so() {
    use std::os::windows::fs::OpenOptionsExt;
    let mut s = setup();
    let p = s.dir.join("running.exe");
    std::fs::write(&p, b"MZ in use").unwrap();
    let req = request(&p);
    // Share reading only: no one else may delete it while this is open.
    let holder = File::options()
        .read(true)
        .share_mode(1 /* FILE_SHARE_READ */)
        .open(&p)
        .unwrap();
    let out = s.vault.quarantine(&s.run, &[req]);
    let id = done_id(&out[0]);
    match &out[0] {
        Outcome::Done { note: Some(n), .. } => assert!(n.contains("next boot"), "{n}"),
        other => panic!("no note: {other:?}"),
    }
    let meta = s.vault.meta(&id).unwrap();
    let r = meta.removal_at_reboot.expect("recorded in the item");
    assert!(r.path.ends_with("running.exe"), "{}", r.path);
    drop(holder);
    assert!(p.exists(), "still there until the boot");
}
