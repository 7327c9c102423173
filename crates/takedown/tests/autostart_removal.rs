//! `takedown scan --persistence --action quarantine` removes a detected
//! program together with the autostart entries that start it, and
//! `takedown quarantine restore` puts both back byte for byte.
//!
//! An offline Windows volume (hives filled with `hivexsh`; a Run value, a
//! Winlogon Shell item, a service, a task in both stores, a Startup
//! shortcut) and a Linux root (a cron line, a systemd unit, an
//! `authorized_keys` command) are built here, some programs holding
//! EICAR. After the scan the edited hives are read by `hivexsh`,
//! `hivexget` and `reglookup`: the detected entries are gone, every
//! other value is still there. After restoring each program's item the
//! whole tree is identical to what it was.

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use takedown_persist::testing::*;
use util::*;

const CV: &str = r"Microsoft\Windows\CurrentVersion";
const NT: &str = r"Microsoft\Windows NT\CurrentVersion";
const TASK_ID: &str = "{33333333-3333-3333-3333-333333333333}";
const HIDDEN_ID: &str = "{44444444-4444-4444-4444-444444444444}";
const STARTUP: &str = "ProgramData/Microsoft/Windows/Start Menu/Programs/StartUp";

fn windows_volume(t: &Tree) -> PathBuf {
    let r = t.path("win");
    let cfg = r.join("Windows/System32/config");
    build_hive(
        &cfg.join("SOFTWARE"),
        &[
            (NT, vec![("SystemRoot", V::Sz(r"C:\Windows"))]),
            (
                &format!(r"{CV}\Run"),
                vec![
                    ("Updater", V::Sz(r"C:\ProgramData\evil\upd.exe -silent")),
                    ("Helper", V::Sz(r"C:\ProgramData\helper.exe /bg")),
                ],
            ),
            (
                &format!(r"{NT}\Winlogon"),
                vec![("Shell", V::Sz(r"explorer.exe,C:\ProgramData\shell.exe"))],
            ),
            (
                &format!(r"{NT}\Schedule\TaskCache\Tree\Upd"),
                vec![("Id", V::Sz(TASK_ID))],
            ),
            (
                &format!(r"{NT}\Schedule\TaskCache\Tasks\{TASK_ID}"),
                vec![
                    ("Path", V::Sz(r"\Upd")),
                    ("Actions", V::Bin(actions(r"C:\ProgramData\task.exe", "-x"))),
                ],
            ),
            (
                &format!(r"{NT}\Schedule\TaskCache\Logon\{TASK_ID}"),
                vec![("Index", V::Dword(1))],
            ),
            (
                &format!(r"{NT}\Schedule\TaskCache\Tree\Hid"),
                vec![("Id", V::Sz(HIDDEN_ID))],
            ),
            (
                &format!(r"{NT}\Schedule\TaskCache\Tasks\{HIDDEN_ID}"),
                vec![("Path", V::Sz(r"\Hid"))],
            ),
            (
                &format!(r"{NT}\Schedule\TaskCache\Plain\{HIDDEN_ID}"),
                vec![("Index", V::Dword(1))],
            ),
        ],
    );
    build_hive(
        &cfg.join("SYSTEM"),
        &[
            ("Select", vec![("Current", V::Dword(1))]),
            (
                r"ControlSet001\Services\EvilSvc",
                vec![
                    ("ImagePath", V::Expand(r"C:\ProgramData\svc.exe")),
                    ("Start", V::Dword(2)),
                ],
            ),
            (
                r"ControlSet001\Services\GoodSvc",
                vec![
                    ("ImagePath", V::Expand(r"C:\ProgramData\helper.exe")),
                    ("Start", V::Dword(2)),
                ],
            ),
        ],
    );
    put(
        &r,
        "Windows/System32/Tasks/Upd",
        task_xml(r"C:\ProgramData\task.exe", "-x"),
    );
    // A hidden task whose TaskCache copy has no action: the XML entry
    // alone starts the program, and both stores must go.
    put(
        &r,
        "Windows/System32/Tasks/Hid",
        hidden(task_xml(r"C:\ProgramData\hid.exe", "")),
    );
    put(
        &r,
        &format!("{STARTUP}/evil.lnk"),
        lnk(r"C:\ProgramData\lnk.exe", None),
    );
    for f in [
        "ProgramData/evil/upd.exe",
        "ProgramData/shell.exe",
        "ProgramData/task.exe",
        "ProgramData/svc.exe",
        "ProgramData/lnk.exe",
        "ProgramData/hid.exe",
    ] {
        put(&r, f, eicar());
    }
    put(&r, "ProgramData/helper.exe", "MZ harmless helper");
    r
}

/// A task file marked hidden (`Settings/Hidden`), as malware writes them.
fn hidden(xml: Vec<u8>) -> Vec<u8> {
    let units: Vec<u16> = xml[2..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16(&units).unwrap().replace(
        "<Settings><Enabled>true</Enabled></Settings>",
        "<Settings><Enabled>true</Enabled><Hidden>true</Hidden></Settings>",
    );
    assert!(text.contains("<Hidden>"));
    let mut b = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        b.extend(u.to_le_bytes());
    }
    b
}

fn linux_root(t: &Tree) -> PathBuf {
    let r = t.path("linux");
    put(
        &r,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n",
    );
    put(
        &r,
        "etc/crontab",
        "SHELL=/bin/sh\r\n*/5 * * * * root /opt/cron-job --quiet\r\n0 1 * * * root /opt/backup --dir /var/www\\\r\n@reboot root /opt/cron-job --now\r\n",
    );
    put(
        &r,
        "etc/systemd/system/evild.service",
        "[Unit]\nDescription=x\n[Service]\nExecStart=/usr/local/bin/evild --daemon\n",
    );
    std::fs::create_dir_all(r.join("etc/systemd/system/multi-user.target.wants")).unwrap();
    std::os::unix::fs::symlink(
        "/etc/systemd/system/evild.service",
        r.join("etc/systemd/system/multi-user.target.wants/evild.service"),
    )
    .unwrap();
    put(
        &r,
        "home/bob/.ssh/authorized_keys",
        "command=\"/opt/keycmd\" ssh-ed25519 AAAAC3Nz bob@laptop\nssh-ed25519 AAAAC3Nz plain@key\n",
    );
    for f in [
        "opt/cron-job",
        "usr/local/bin/evild",
        "opt/keycmd",
        "etc/rc.local",
    ] {
        put(&r, f, eicar());
    }
    put(&r, "opt/backup", "#!/bin/sh\nexit 0\n");
    r
}

/// Every file and symbolic link under `root` with its content (a link:
/// its target), so that two states of a tree can be compared exactly.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(rel, t.to_string_lossy().as_bytes().to_vec());
            } else if m.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn listing(t: &Tree, root: &Path) -> Vec<(String, String)> {
    let o = t.run(&[
        "persistence",
        "--root",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(code(&o) == 0, "{}", stderr(&o));
    ndjson(&o)
        .into_iter()
        .filter(|v| v["type"] == "autostart")
        .map(|v| {
            (
                v["mechanism"].as_str().unwrap().to_string(),
                v["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The scan with `--action quarantine`: its findings, checked to say for
/// every entry that it was disabled.
fn remove(t: &Tree, root: &Path, programs: usize, entries: usize) -> Vec<serde_json::Value> {
    remove_in(t, None, root, programs, entries)
}

/// `remove`, run from `cwd` (so that `root` may be relative to it).
fn remove_in(
    t: &Tree,
    cwd: Option<&Path>,
    root: &Path,
    programs: usize,
    entries: usize,
) -> Vec<serde_json::Value> {
    let mut c = t.cmd();
    c.args(["scan", "--format", "json", "--persistence", "--root"])
        .arg(root)
        .args(["--action", "quarantine"]);
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let o = run_with_timeout(c, 120);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let found = findings(&o);
    assert_eq!(found.len(), programs, "{found:#?}");
    let mut n = 0;
    for f in &found {
        assert_eq!(f["action"]["status"], "done", "{f:#}");
        for a in f["autostarts"].as_array().unwrap() {
            assert_eq!(a["action"]["status"], "done", "entry not disabled: {a:#}");
            assert!(a["action"]["vault_id"].is_string(), "{a:#}");
            n += 1;
        }
    }
    assert_eq!(n, entries, "{found:#?}");
    let s = summary(&o);
    assert_eq!(s["quarantined"], programs as u64, "{s:#}");
    assert_eq!(s["autostarts_disabled"], entries as u64, "{s:#}");
    found
}

/// Restores every program's item (and with it the entries' items), the
/// last removed first: one hive edited for several programs holds each
/// edit as an item of its own, and an older one is put back only over the
/// content takedown wrote (see `a_hive_edited_twice_is_restored_newest_first`).
fn restore_all(t: &Tree, found: &[serde_json::Value]) {
    for f in found.iter().rev() {
        let id = f["action"]["vault_id"].as_str().unwrap();
        let o = t.run(&["quarantine", "restore", id]);
        assert_eq!(code(&o), 0, "restore {id}: {}{}", stdout(&o), stderr(&o));
    }
}

fn hivex_values(hive: &Path, key: &str) -> Option<String> {
    let script = format!("cd {key}\nlsval\n");
    let out = run_hivexsh(hive, &script, false);
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || err.contains("not found") {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn reglookup_ok(hive: &Path) -> String {
    let out = Command::new("reglookup").arg(hive).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("ERROR"),
        "reglookup {hive:?}: {err}"
    );
    text
}

#[test]
fn windows_entries_are_removed_with_their_programs_and_restored_byte_identical() {
    if !have("hivexsh") || !have("reglookup") {
        eprintln!("skipped: hivexsh and reglookup (Debian libhivex-bin, reglookup) needed");
        return;
    }
    let t = Tree::new();
    let r = windows_volume(&t);
    let before = snapshot(&r);
    let listed = listing(&t, &r);
    assert_eq!(listed.len(), 11, "{listed:#?}");

    // Run value, Shell item, service, the task's two entries, shortcut,
    // the hidden task's XML entry (its TaskCache keys go with it).
    let found = remove(&t, &r, 6, 7);
    for f in [
        "evil/upd.exe",
        "shell.exe",
        "task.exe",
        "svc.exe",
        "lnk.exe",
    ] {
        assert!(!r.join("ProgramData").join(f).exists(), "{f} still there");
    }
    assert!(r.join("ProgramData/helper.exe").exists());
    assert!(!r.join("Windows/System32/Tasks/Upd").exists());
    assert!(!r.join(STARTUP).join("evil.lnk").exists());

    let software = r.join("Windows/System32/config/SOFTWARE");
    let system = r.join("Windows/System32/config/SYSTEM");
    let run = hivex_values(&software, &format!(r"\{CV}\Run")).unwrap();
    assert!(!run.contains("Updater") && run.contains("Helper"), "{run}");
    assert_eq!(
        hivexget(&software, &format!(r"\{NT}\Winlogon"), "Shell"),
        "explorer.exe"
    );
    assert!(!r.join("Windows/System32/Tasks/Hid").exists());
    for gone in [
        format!(r"\{NT}\Schedule\TaskCache\Tree\Hid"),
        format!(r"\{NT}\Schedule\TaskCache\Tasks\{HIDDEN_ID}"),
        format!(r"\{NT}\Schedule\TaskCache\Plain\{HIDDEN_ID}"),
        format!(r"\{NT}\Schedule\TaskCache\Tree\Upd"),
        format!(r"\{NT}\Schedule\TaskCache\Tasks\{TASK_ID}"),
        format!(r"\{NT}\Schedule\TaskCache\Logon\{TASK_ID}"),
    ] {
        assert!(
            hivex_values(&software, &gone).is_none(),
            "{gone} still there"
        );
    }
    assert!(hivex_values(&system, r"\ControlSet001\Services\EvilSvc").is_none());
    assert!(hivex_values(&system, r"\ControlSet001\Services\GoodSvc").is_some());
    let listed_sw = reglookup_ok(&software);
    assert!(listed_sw.contains("Helper") && !listed_sw.contains("Updater"));
    let listed_sys = reglookup_ok(&system);
    assert!(listed_sys.contains("GoodSvc") && !listed_sys.contains("EvilSvc"));

    // What is left starts nothing detected: the clean Run value and
    // service, the Shell's own explorer.exe.
    let left = listing(&t, &r);
    assert_eq!(left.len(), 3, "{left:#?}");

    restore_all(&t, &found);
    assert_eq!(snapshot(&r), before, "the volume is not as it was");
    assert_eq!(listing(&t, &r), listed);
}

#[test]
fn linux_entries_are_removed_with_their_programs_and_restored_byte_identical() {
    let t = Tree::new();
    let r = linux_root(&t);
    let before = snapshot(&r);
    let listed = listing(&t, &r);

    // Two cron lines of one program, the unit, the key's command, and
    // rc.local (a detected script that is its own entry's file); the
    // root given relative to the working directory.
    let found = remove_in(&t, Some(t.root()), Path::new("linux"), 4, 5);
    let crontab = std::fs::read_to_string(r.join("etc/crontab")).unwrap();
    assert_eq!(
        crontab,
        "SHELL=/bin/sh\r\n\
         # takedown: disabled: */5 * * * * root /opt/cron-job --quiet\r\n\
         0 1 * * * root /opt/backup --dir /var/www\\\r\n\
         # takedown: disabled: @reboot root /opt/cron-job --now\r\n",
        "one edit of both lines; a line ending in a backslash does not continue in cron"
    );
    let items = |path: &str| {
        found
            .iter()
            .flat_map(|f| f["autostarts"].as_array().unwrap())
            .filter(|a| a["location"] == path)
            .map(|a| a["action"]["vault_id"].as_str().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        items("/etc/crontab").len(),
        1,
        "one vault item for the crontab"
    );
    assert!(!r.join("etc/systemd/system/evild.service").exists());
    assert!(!r.join("etc/rc.local").exists());
    let keys = std::fs::read_to_string(r.join("home/bob/.ssh/authorized_keys")).unwrap();
    assert!(keys.starts_with("# takedown: disabled: command="), "{keys}");
    assert!(keys.contains("\nssh-ed25519 AAAAC3Nz plain@key\n"));
    let left = listing(&t, &r);
    assert_eq!(
        left.iter().filter(|(m, _)| m == "cron").count(),
        1,
        "only the backup job is left: {left:#?}"
    );
    assert_eq!(left.len(), listed.len() - 5, "{left:#?}");

    restore_all(&t, &found);
    assert_eq!(snapshot(&r), before, "the root is not as it was");
    assert_eq!(listing(&t, &r), listed);
}

#[test]
fn an_entry_in_a_dirty_hive_is_never_edited() {
    if !have("hivexsh") {
        return;
    }
    let t = Tree::new();
    let r = windows_volume(&t);
    let software = r.join("Windows/System32/config/SOFTWARE");
    // A dirty SYSTEM hive (its sequence numbers differ: changes only in
    // transaction logs, and there are none): its services are not read
    // (a problem naming it) and the hive is left exactly as it was, while
    // the other hives' entries are disabled as usual.
    let system = r.join("Windows/System32/config/SYSTEM");
    let mut b = std::fs::read(&system).unwrap();
    b[4] = b[4].wrapping_add(1); // primary sequence number
    std::fs::write(&system, &b).unwrap();
    let o = t.json(&[
        "--persistence",
        "--root",
        r.to_str().unwrap(),
        "--action",
        "quarantine",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("dirty"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&system).unwrap(),
        b,
        "a dirty hive was edited"
    );
    // SOFTWARE's entries were disabled as usual.
    let run = hivex_values(&software, &format!(r"\{CV}\Run")).unwrap();
    assert!(!run.contains("Updater"), "{run}");
}

#[test]
fn a_hive_edited_twice_is_restored_newest_first() {
    if !have("hivexsh") {
        return;
    }
    let t = Tree::new();
    let r = windows_volume(&t);
    let before = snapshot(&r);
    let software = r.join("Windows/System32/config/SOFTWARE");
    let found = remove(&t, &r, 6, 7);
    // The SOFTWARE edits, in the order they were made (the order the
    // findings were acted on and printed): (program item, hive item).
    let edits: Vec<(String, String)> = found
        .iter()
        .flat_map(|f| {
            let program = f["action"]["vault_id"].as_str().unwrap().to_string();
            f["autostarts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| {
                    a["location"]
                        .as_str()
                        .unwrap()
                        .starts_with(r"HKLM\SOFTWARE")
                })
                .map(move |a| {
                    let ids = a["action"]["vault_id"].as_str().unwrap();
                    (program.clone(), ids.split(',').next().unwrap().to_string())
                })
        })
        .collect();
    assert!(edits.len() >= 2, "{edits:?}");
    // The oldest edit first: the program comes back, its entry does not
    // (the hive changed since, by later edits): refused with the reason,
    // nothing overwritten.
    let (program, hive_item) = &edits[0];
    let edited = std::fs::read(&software).unwrap();
    let o = t.run(&["quarantine", "restore", program]);
    assert_ne!(code(&o), 0, "{}", stdout(&o));
    assert!(stderr(&o).contains("changed since"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&software).unwrap(), edited);
    // The others newest first, then that entry alone: all as it was.
    for f in found.iter().rev() {
        let id = f["action"]["vault_id"].as_str().unwrap();
        if id != program {
            let o = t.run(&["quarantine", "restore", id]);
            assert_eq!(code(&o), 0, "{}", stderr(&o));
        }
    }
    let o = t.run(&["quarantine", "restore", hive_item, "--only"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(snapshot(&r), before);
}
