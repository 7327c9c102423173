//! Disabling Linux autostart entries: a root built in a temporary
//! directory with every mechanism, some entries "detected" (their target
//! holds a marker), their `disable` planned and applied (lines commented
//! out, files moved aside as the vault would), and the root listed again:
//! the disabled entries are gone, all others remain, and putting the
//! originals back gives the first listing again.
//!
//! The edited files are checked with the programs that read them when
//! they are installed (a test says "skipped" otherwise): `crontab -n`
//! (Debian's cron), `anacron -T`, `ssh-keygen -l` (reads
//! `authorized_keys` as sshd does), `udevadm test` and glibc's ld.so
//! reading `/etc/ld.so.preload`, both in a private mount namespace
//! (`unshare -m`) so that the machine's own files are never touched.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use takedown_persist::disable::{self, Change, Edits};
use takedown_persist::{Disable, Entry, Inventory, collect, lines};

/// What a "detected" file holds (the scan is not part of this test).
const DETECTED: &str = "EVIL-MARKER";

fn put(root: &Path, path: &str, text: &str) -> PathBuf {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

fn link(root: &Path, path: &str, target: &str) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

/// Whether `prog` is on the PATH.
fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Two real public keys (ssh-keygen) when it is installed, else
/// placeholders that only the listing reads.
fn keys(dir: &Path) -> (String, String, String) {
    if have("ssh-keygen") {
        let mut out = Vec::new();
        for n in ["k1", "k2", "k3"] {
            let f = dir.join(n);
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", n, "-f"])
                .arg(&f)
                .status()
                .unwrap();
            assert!(ok.success());
            let pubkey = fs::read_to_string(f.with_extension("pub")).unwrap();
            let mut w = pubkey.split_whitespace();
            out.push(format!("{} {}", w.next().unwrap(), w.next().unwrap()));
        }
        (out[0].clone(), out[1].clone(), out[2].clone())
    } else {
        let k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample".to_string();
        (k.clone(), k.clone(), k)
    }
}

/// A root with every mechanism, each with a detected and a clean entry.
fn build(r: &Path, keydir: &Path) {
    put(
        r,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/sh\n",
    );
    fs::create_dir_all(r.join("root")).unwrap();
    fs::create_dir_all(r.join("home/bob")).unwrap();
    let evil = format!("#!/bin/sh\n# {DETECTED}\n");
    for p in ["/opt/evil", "/opt/evil.py", "/opt/evil.so"] {
        put(r, p, &evil);
    }
    for p in [
        "/usr/bin/run-parts",
        "/usr/bin/sh",
        "/usr/bin/python3",
        "/usr/bin/legit",
        "/usr/lib/udev/helper",
        "/usr/lib/libx.so",
    ] {
        put(r, p, "#!/bin/sh\n");
    }

    // cron: the system crontab, cron.d (CRLF endings), a user's spool
    // crontab, run-parts scripts, anacrontab.
    put(
        r,
        "/etc/crontab",
        "SHELL=/bin/sh\n# m h dom mon dow user command\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n@reboot root /opt/evil --boot\n*/5 * * * * root legit\n",
    );
    put(
        r,
        "/etc/cron.d/x",
        "MAILTO=\"\"\r\n*/5 * * * * root /bin/sh -c '/opt/evil -q'\r\n0 1 * * * root legit --daily\r\n",
    );
    put(
        r,
        "/var/spool/cron/crontabs/bob",
        "# user crontab\n* * * * * python3 /opt/evil.py\n0 0 * * * legit\n",
    );
    put(r, "/etc/cron.daily/evil", &evil);
    put(r, "/etc/cron.daily/logrotate", "#!/bin/sh\n");
    put(
        r,
        "/etc/anacrontab",
        "SHELL=/bin/sh\n1\t5\tcron.daily\trun-parts --report /etc/cron.daily\n7\t10\tevil.weekly\t/opt/evil --weekly\n",
    );

    // systemd: a unit of its own enabled by a .wants link; a vendor unit
    // hidden by an /etc copy; a vendor unit whose drop-in sets the
    // command; a timer and its service; a clean unit.
    put(
        r,
        "/etc/systemd/system/evil.service",
        "[Service]\nExecStartPre=-/opt/evil pre\nExecStart=/opt/evil main\n",
    );
    link(
        r,
        "/etc/systemd/system/multi-user.target.wants/evil.service",
        "/etc/systemd/system/evil.service",
    );
    put(
        r,
        "/usr/lib/systemd/system/b.service",
        "[Service]\nExecStart=/usr/bin/legit b\n",
    );
    put(
        r,
        "/etc/systemd/system/b.service",
        "[Service]\nExecStart=/opt/evil b\n",
    );
    put(
        r,
        "/usr/lib/systemd/system/a.service",
        "[Service]\nExecStart=/usr/bin/run-parts x\n",
    );
    put(
        r,
        "/etc/systemd/system/a.service.d/override.conf",
        "[Service]\nExecStart=\nExecStart=/opt/evil main\n",
    );
    put(
        r,
        "/usr/lib/systemd/system/t.timer",
        "[Timer]\nOnCalendar=daily\nUnit=job.service\n",
    );
    put(
        r,
        "/usr/lib/systemd/system/job.service",
        "[Service]\nType=oneshot\nExecStart=python3 /opt/evil.py\n",
    );
    link(
        r,
        "/etc/systemd/system/timers.target.wants/t.timer",
        "/usr/lib/systemd/system/t.timer",
    );
    put(
        r,
        "/usr/lib/systemd/system/good.service",
        "[Service]\nExecStart=/usr/bin/legit --serve\n",
    );

    // SysV init: one script linked from two runlevels, and a clean one.
    put(r, "/etc/init.d/evil", &evil);
    link(r, "/etc/rc2.d/S01evil", "../init.d/evil");
    link(r, "/etc/rc3.d/S01evil", "../init.d/evil");
    put(r, "/etc/init.d/good", "#!/bin/sh\n");
    link(r, "/etc/rc2.d/S02good", "../init.d/good");

    put(
        r,
        "/etc/rc.local",
        &format!("#!/bin/sh\n/opt/evil & # {DETECTED}\nexit 0\n"),
    );
    put(
        r,
        "/etc/ld.so.preload",
        "# preloaded\n/opt/evil.so\n/usr/lib/libx.so\n",
    );
    put(r, "/etc/profile.d/evil.sh", &evil);
    put(r, "/etc/profile", "PATH=/bin\n");
    put(r, "/home/bob/.bashrc", "alias ll='ls -l'\n");

    let (k1, k2, k3) = keys(keydir);
    put(
        r,
        "/root/.ssh/authorized_keys",
        &format!(
            "{k1} plain\ncommand=\"/opt/evil --x\",no-pty {k2} admin@x\ncommand=\"/usr/bin/legit\" {k3} backup"
        ),
    );

    // udev: a detected rule continued over three lines with a comment in
    // it, then a clean rule.
    put(
        r,
        "/etc/udev/rules.d/99-x.rules",
        "# rules\nACTION==\"add\", \\\n# a note \\\n  SUBSYSTEM==\"net\", \\\n  RUN+=\"/opt/evil %k\"\nACTION==\"add\", SUBSYSTEM==\"net\", RUN+=\"/usr/lib/udev/helper %k\"\n",
    );

    put(
        r,
        "/etc/xdg/autostart/evil.desktop",
        "[Desktop Entry]\nExec=/opt/evil --tray\n",
    );
    put(
        r,
        "/home/bob/.config/autostart/good.desktop",
        "[Desktop Entry]\nExec=/usr/bin/legit --tray\n",
    );
}

/// Whether an entry's target is "detected".
fn detected(e: &Entry) -> bool {
    e.target
        .as_ref()
        .and_then(|t| fs::read_to_string(t).ok())
        .is_some_and(|t| t.contains(DETECTED))
}

/// An entry as compared across listings.
type Key = (&'static str, String, String, Option<String>, Option<u64>);

fn key(e: &Entry) -> Key {
    (
        e.mechanism,
        e.location.clone(),
        e.name.clone(),
        e.command.clone(),
        e.line,
    )
}

fn keys_of<'a>(it: impl IntoIterator<Item = &'a Entry>) -> Vec<Key> {
    let mut v: Vec<Key> = it.into_iter().map(key).collect();
    v.sort();
    v
}

/// Applies the changes as the vault would (an edited copy replaces the
/// file; a removed file is gone), keeping every original.
fn apply_all(changes: &[Change]) -> BTreeMap<PathBuf, (Vec<u8>, fs::Permissions)> {
    let mut originals = BTreeMap::new();
    for c in changes {
        let path = c.path();
        let bytes = fs::read(path).unwrap();
        let perm = fs::metadata(path).unwrap().permissions();
        match c {
            Change::Remove { path } => fs::remove_file(path).unwrap(),
            Change::Edit { path, edits } => {
                assert!(matches!(edits, Edits::Lines { .. }), "{c:?}");
                let out = disable::apply(edits, &bytes).unwrap_or_else(|e| panic!("{c:?}: {e}"));
                fs::write(path, out).unwrap();
            }
        }
        originals.insert(path.to_path_buf(), (bytes, perm));
    }
    originals
}

fn host(r: &Path, p: &str) -> PathBuf {
    r.join(p.trim_start_matches('/'))
}

/// A line of a file that knows no continuation (all but udev rules).
fn line(r: &Path, p: &str, n: u64, text: &str) -> Disable {
    Disable::Line {
        path: host(r, p),
        line: n,
        text: text.into(),
        continued: false,
    }
}

/// A line of a udev rules file, which continues a line ending in `\`.
fn udev_line(r: &Path, p: &str, n: u64, text: &str) -> Disable {
    Disable::Line {
        path: host(r, p),
        line: n,
        text: text.into(),
        continued: true,
    }
}

fn file(r: &Path, p: &str) -> Disable {
    Disable::File { path: host(r, p) }
}

#[test]
fn detected_entries_disabled_others_kept_originals_restore() {
    let t = tempfile::tempdir().unwrap();
    let r = &t.path().join("root");
    let keydir = t.path().join("keys");
    fs::create_dir_all(&keydir).unwrap();
    build(r, &keydir);

    let before = collect(r);
    assert!(before.problems.is_empty(), "{:?}", before.problems);
    // Every entry can be disabled.
    for e in &before.entries {
        assert!(e.disable.is_some(), "{e:#?}");
    }
    let hits: Vec<&Entry> = before.entries.iter().filter(|e| detected(e)).collect();

    // The disable of each detected entry, by mechanism.
    let mut got: Vec<(&str, String, Disable)> = hits
        .iter()
        .map(|e| (e.mechanism, e.location.clone(), e.disable.clone().unwrap()))
        .collect();
    // `Disable` has no order: sorted by how it prints.
    let order = |v: &mut Vec<(&str, String, Disable)>| {
        v.sort_by_key(|(m, l, d)| (m.to_string(), l.clone(), format!("{d:?}")));
        v.dedup();
    };
    order(&mut got);
    let mut want = vec![
        (
            "anacron",
            "/etc/anacrontab".to_string(),
            line(
                r,
                "/etc/anacrontab",
                3,
                "7\t10\tevil.weekly\t/opt/evil --weekly",
            ),
        ),
        (
            "authorized-keys",
            "/root/.ssh/authorized_keys".into(),
            line(
                r,
                "/root/.ssh/authorized_keys",
                2,
                fs::read_to_string(host(r, "/root/.ssh/authorized_keys"))
                    .unwrap()
                    .lines()
                    .nth(1)
                    .unwrap(),
            ),
        ),
        (
            "cron",
            "/etc/cron.d/x".into(),
            line(
                r,
                "/etc/cron.d/x",
                2,
                "*/5 * * * * root /bin/sh -c '/opt/evil -q'",
            ),
        ),
        (
            "cron",
            "/etc/cron.daily/evil".into(),
            file(r, "/etc/cron.daily/evil"),
        ),
        (
            "cron",
            "/etc/crontab".into(),
            line(r, "/etc/crontab", 4, "@reboot root /opt/evil --boot"),
        ),
        (
            "cron",
            "/var/spool/cron/crontabs/bob".into(),
            line(
                r,
                "/var/spool/cron/crontabs/bob",
                2,
                "* * * * * python3 /opt/evil.py",
            ),
        ),
        (
            "ld-preload",
            "/etc/ld.so.preload".into(),
            line(r, "/etc/ld.so.preload", 2, "/opt/evil.so"),
        ),
        ("rc-local", "/etc/rc.local".into(), file(r, "/etc/rc.local")),
        (
            "shell-startup",
            "/etc/profile.d/evil.sh".into(),
            file(r, "/etc/profile.d/evil.sh"),
        ),
        (
            "systemd-timer",
            "/usr/lib/systemd/system/t.timer".into(),
            file(r, "/usr/lib/systemd/system/job.service"),
        ),
        (
            "systemd-unit",
            "/etc/systemd/system/a.service.d/override.conf".into(),
            file(r, "/etc/systemd/system/a.service.d/override.conf"),
        ),
        (
            "systemd-unit",
            "/etc/systemd/system/b.service".into(),
            file(r, "/etc/systemd/system/b.service"),
        ),
        (
            "systemd-unit",
            "/etc/systemd/system/evil.service".into(),
            file(r, "/etc/systemd/system/evil.service"),
        ),
        (
            "systemd-unit",
            "/usr/lib/systemd/system/job.service".into(),
            file(r, "/usr/lib/systemd/system/job.service"),
        ),
        (
            "sysv-init",
            "/etc/rc2.d/S01evil".into(),
            file(r, "/etc/init.d/evil"),
        ),
        (
            "sysv-init",
            "/etc/rc3.d/S01evil".into(),
            file(r, "/etc/init.d/evil"),
        ),
        (
            "udev-rule",
            "/etc/udev/rules.d/99-x.rules".into(),
            udev_line(r, "/etc/udev/rules.d/99-x.rules", 2, "ACTION==\"add\", \\"),
        ),
        (
            "xdg-autostart",
            "/etc/xdg/autostart/evil.desktop".into(),
            file(r, "/etc/xdg/autostart/evil.desktop"),
        ),
    ];
    order(&mut want);
    assert_eq!(got, want);

    let changes = disable::plan(hits.iter().filter_map(|e| e.disable.as_ref()));
    let originals = apply_all(&changes);

    let after = collect(r);
    assert!(after.problems.is_empty(), "{:?}", after.problems);
    // Gone: the detected entries. Kept: every other one. New: the vendor
    // units the removed /etc copy and drop-in hid, and the timer, now
    // naming a unit that is not there.
    let hit_keys = keys_of(hits.iter().copied());
    let mut expected: Vec<Key> = keys_of(&before.entries)
        .into_iter()
        .filter(|k| !hit_keys.contains(k))
        .collect();
    expected.push((
        "systemd-unit",
        "/usr/lib/systemd/system/a.service".into(),
        "a.service".into(),
        Some("/usr/bin/run-parts x".into()),
        Some(2),
    ));
    expected.push((
        "systemd-unit",
        "/usr/lib/systemd/system/b.service".into(),
        "b.service".into(),
        Some("/usr/bin/legit b".into()),
        Some(2),
    ));
    expected.push((
        "systemd-timer",
        "/usr/lib/systemd/system/t.timer".into(),
        "t.timer (enabled: timers.target.wants) -> job.service".into(),
        None,
        None,
    ));
    expected.sort();
    assert_eq!(keys_of(&after.entries), expected);
    assert!(!after.entries.iter().any(detected), "{after:#?}");

    // The edited files: only the disabled lines changed, and what reads
    // them still accepts them.
    let crontab = fs::read_to_string(host(r, "/etc/crontab")).unwrap();
    assert!(crontab.contains("\n# takedown: disabled: @reboot root /opt/evil --boot\n*/5"));
    let crond = fs::read(host(r, "/etc/cron.d/x")).unwrap();
    assert_eq!(
        crond,
        b"MAILTO=\"\"\r\n# takedown: disabled: */5 * * * * root /bin/sh -c '/opt/evil -q'\r\n0 1 * * * root legit --daily\r\n"
    );
    let udev = fs::read_to_string(host(r, "/etc/udev/rules.d/99-x.rules")).unwrap();
    assert_eq!(
        udev,
        "# rules\n# takedown: disabled: ACTION==\"add\", \\\n# a note \\\n# takedown: disabled:   SUBSYSTEM==\"net\", \\\n# takedown: disabled:   RUN+=\"/opt/evil %k\"\nACTION==\"add\", SUBSYSTEM==\"net\", RUN+=\"/usr/lib/udev/helper %k\"\n"
    );
    let keys_file = fs::read_to_string(host(r, "/root/.ssh/authorized_keys")).unwrap();
    assert!(
        !keys_file.ends_with('\n'),
        "the last line stays without a newline"
    );
    check_crontabs(r);
    check_anacrontab(r);
    check_authorized_keys(r, &originals);
    check_udev(r, &originals);
    check_preload(r, &originals);

    // Putting the originals back (the vault's restore) gives the first
    // listing again.
    for (path, (bytes, perm)) in &originals {
        fs::write(path, bytes).unwrap();
        fs::set_permissions(path, perm.clone()).unwrap();
    }
    let restored = collect(r);
    assert_eq!(restored, before);
}

/// Debian's `crontab -n` (dry run) accepts every edited crontab.
fn check_crontabs(r: &Path) {
    check_crontabs_at(
        r,
        &[
            "/etc/crontab",
            "/etc/cron.d/x",
            "/var/spool/cron/crontabs/bob",
        ],
    );
}

/// Debian's `crontab -n` (dry run) accepts each of `paths` (on the root).
fn check_crontabs_at(r: &Path, paths: &[&str]) {
    if !have("crontab") {
        eprintln!("skipped: crontab (Debian's cron) is not installed");
        return;
    }
    for p in paths {
        let o = Command::new("crontab")
            .arg("-n")
            .arg(host(r, p))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{p}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The check can fail: a broken line is refused.
    let t = tempfile::NamedTempFile::new().unwrap();
    fs::write(t.path(), "takedown: disabled: * * * * * x\n").unwrap();
    assert!(
        !Command::new("crontab")
            .arg("-n")
            .arg(t.path())
            .output()
            .unwrap()
            .status
            .success()
    );
}

/// `anacron -T` accepts the edited anacrontab (and refuses a bad one).
fn check_anacrontab(r: &Path) {
    if !have("anacron") {
        eprintln!("skipped: anacron is not installed");
        return;
    }
    let test = |p: &Path| {
        Command::new("anacron")
            .arg("-T")
            .arg("-t")
            .arg(p)
            .output()
            .unwrap()
    };
    let o = test(&host(r, "/etc/anacrontab"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = tempfile::NamedTempFile::new().unwrap();
    fs::write(t.path(), "takedown: disabled: 7\t10\tx\t/opt/evil\n").unwrap();
    assert!(!test(t.path()).status.success());
}

/// `ssh-keygen -l` reads `authorized_keys` as sshd does (options before
/// the key, `#` comments): the disabled key is no longer there, the
/// others are.
fn check_authorized_keys(r: &Path, originals: &BTreeMap<PathBuf, (Vec<u8>, fs::Permissions)>) {
    if !have("ssh-keygen") {
        eprintln!("skipped: ssh-keygen is not installed");
        return;
    }
    let path = host(r, "/root/.ssh/authorized_keys");
    let listed = |p: &Path| -> Vec<String> {
        let o = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
            .collect()
    };
    let t = tempfile::NamedTempFile::new().unwrap();
    fs::write(t.path(), &originals[&path].0).unwrap();
    assert_eq!(listed(t.path()), ["plain", "admin@x", "backup"]);
    assert_eq!(listed(&path), ["plain", "backup"]);
}

/// Runs `script` (sh) in a private mount namespace, so that what it
/// mounts hides the machine's files from it alone; `None` when that
/// cannot be done here (no `unshare`, no permission).
fn in_namespace(script: &str, args: &[&Path]) -> Option<std::process::Output> {
    for flags in [&["-m"][..], &["-r", "-m"][..]] {
        let probe = Command::new("unshare")
            .args(flags)
            .args(["sh", "-c", "mount -t tmpfs none /mnt"])
            .output();
        if probe.is_ok_and(|o| o.status.success()) {
            return Some(
                Command::new("unshare")
                    .args(flags)
                    .args(["sh", "-c", script, "sh"])
                    .args(args)
                    .output()
                    .unwrap(),
            );
        }
    }
    None
}

/// udev itself (`udevadm test`, which runs nothing) with only our rules
/// file: the original runs the detected program and the helper; the
/// edited one runs the helper alone. Commenting out only the first line
/// of the continued rule would have left `RUN+="/opt/evil %k"` a rule of
/// its own (checked too).
fn check_udev(r: &Path, originals: &BTreeMap<PathBuf, (Vec<u8>, fs::Permissions)>) {
    if !have("udevadm") || !Path::new("/sys/class/net/lo").exists() {
        eprintln!("skipped: udevadm or /sys/class/net/lo is missing");
        return;
    }
    let path = host(r, "/etc/udev/rules.d/99-x.rules");
    let script = "for d in /etc/udev/rules.d /run/udev /lib/udev/rules.d /usr/lib/udev/rules.d \
                  /usr/local/lib/udev/rules.d; do \
                  if [ -d \"$d\" ]; then mount -t tmpfs none \"$d\" || exit 3; fi; done; \
                  [ -d /etc/udev/rules.d ] || exit 4; \
                  cp \"$1\" /etc/udev/rules.d/99-x.rules && \
                  udevadm test --action=add /sys/class/net/lo 2>&1";
    let runs = |p: &Path| -> Option<Vec<String>> {
        let o = in_namespace(script, &[p])?;
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{out}");
        let mut v: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("run: "))
            .map(str::to_string)
            .collect();
        v.sort();
        Some(v)
    };
    let t = tempfile::NamedTempFile::new().unwrap();
    fs::write(t.path(), &originals[&path].0).unwrap();
    let Some(before) = runs(t.path()) else {
        eprintln!("skipped: no private mount namespace here (unshare -m)");
        return;
    };
    assert_eq!(before, ["'/opt/evil lo'", "'/usr/lib/udev/helper lo'"]);
    assert_eq!(runs(&path).unwrap(), ["'/usr/lib/udev/helper lo'"]);
    let naive = String::from_utf8(originals[&path].0.clone())
        .unwrap()
        .replacen("ACTION==\"add\", \\", "# ACTION==\"add\", \\", 1);
    fs::write(t.path(), naive).unwrap();
    assert!(
        runs(t.path())
            .unwrap()
            .contains(&"'/opt/evil lo'".to_string())
    );
}

/// glibc's ld.so reading the edited `/etc/ld.so.preload` (mounted over
/// an empty `/etc` in a private namespace): it no longer tries to load
/// the disabled library, and still the other one. Neither exists on this
/// machine, so ld.so names each one it tries.
fn check_preload(r: &Path, originals: &BTreeMap<PathBuf, (Vec<u8>, fs::Permissions)>) {
    let path = host(r, "/etc/ld.so.preload");
    let script = "mount -t tmpfs none /etc && cp \"$1\" /etc/ld.so.preload && /bin/true";
    let tried = |p: &Path| -> Option<(bool, bool)> {
        let o = in_namespace(script, &[p])?;
        assert!(o.status.success(), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        Some((
            err.contains("'/opt/evil.so' from /etc/ld.so.preload"),
            err.contains("'/usr/lib/libx.so' from /etc/ld.so.preload"),
        ))
    };
    if Path::new("/opt/evil.so").exists() || Path::new("/usr/lib/libx.so").exists() {
        eprintln!("skipped: this machine has /opt/evil.so or /usr/lib/libx.so");
        return;
    }
    let t = tempfile::NamedTempFile::new().unwrap();
    fs::write(t.path(), &originals[&path].0).unwrap();
    let Some(before) = tried(t.path()) else {
        eprintln!("skipped: no private mount namespace here (unshare -m)");
        return;
    };
    assert_eq!(before, (true, true));
    assert_eq!(tried(&path).unwrap(), (false, true));
}

/// A changed line is not edited: the listing's line is compared with
/// the file's when the edit is made.
#[test]
fn a_line_changed_since_listing_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    put(r, "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    put(r, "/opt/evil", DETECTED);
    let tab = put(r, "/etc/crontab", "@reboot root /opt/evil\n");
    let inv: Inventory = collect(r);
    let changes = disable::plan(inv.entries.iter().filter_map(|e| e.disable.as_ref()));
    assert_eq!(changes.len(), 1);
    fs::write(&tab, "@reboot root /opt/evil2\n").unwrap();
    let Change::Edit { edits, .. } = &changes[0] else {
        panic!("{changes:?}")
    };
    let e = disable::apply(edits, &fs::read(&tab).unwrap()).unwrap_err();
    assert!(e.contains("line 1") && e.contains("changed"), "{e}");
    // The same for a line no longer there.
    fs::write(&tab, "").unwrap();
    let e = disable::apply(edits, b"").unwrap_err();
    assert!(e.contains("no such line"), "{e}");
}

/// A shell script with a command continued over two lines: commenting
/// out the command's first line comments out both, `sh -n` still accepts
/// the script, and running it runs neither (commenting out the first
/// line alone would have run the second as a command of its own).
#[test]
fn continued_shell_command_commented_whole() {
    if !have("sh") {
        eprintln!("skipped: no sh");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let script = "#!/bin/sh\necho one\necho evil \\\n  echo tail\necho two\n";
    let out = lines::comment_out(script.as_bytes(), &[(3, "echo evil \\".into())], true).unwrap();
    let f = t.path().join("s.sh");
    fs::write(&f, &out).unwrap();
    let n = Command::new("sh").arg("-n").arg(&f).output().unwrap();
    assert!(n.status.success(), "{}", String::from_utf8_lossy(&n.stderr));
    let run = Command::new("sh").arg(&f).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "one\ntwo\n");
    // Without the continuation, the tail would run.
    let naive = script.replacen("echo evil", "# echo evil", 1);
    fs::write(&f, naive).unwrap();
    let run = Command::new("sh").arg(&f).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "one\ntail\ntwo\n");
}

/// cron has no continuation lines: a crontab line ending with `\` is an
/// entry of its own, and disabling the detected entry on the next line
/// comments out that line only; the clean one before it keeps running.
#[test]
fn cron_line_after_a_backslash_disabled_alone() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    put(r, "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    put(r, "/opt/backup", "#!/bin/sh\n");
    put(r, "/opt/cron-job", DETECTED);
    let backup = "0 3 * * * root /opt/backup --dir /var/www\\";
    let job = "*/5 * * * * root /opt/cron-job";
    let tab = put(r, "/etc/crontab", &format!("{backup}\n{job}\n"));

    let before = collect(r);
    assert!(before.problems.is_empty(), "{:?}", before.problems);
    let cron: Vec<(Option<u64>, Option<String>)> = before
        .entries
        .iter()
        .filter(|e| e.mechanism == "cron")
        .map(|e| (e.line, e.command.clone()))
        .collect();
    assert_eq!(
        cron,
        [
            (Some(1), Some("/opt/backup --dir /var/www\\".into())),
            (Some(2), Some("/opt/cron-job".into())),
        ]
    );
    let hits: Vec<&Entry> = before.entries.iter().filter(|e| detected(e)).collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        hits[0].disable.as_ref(),
        Some(&line(r, "/etc/crontab", 2, job))
    );

    let changes = disable::plan(hits.iter().filter_map(|e| e.disable.as_ref()));
    let originals = apply_all(&changes);
    assert_eq!(
        fs::read_to_string(&tab).unwrap(),
        format!("{backup}\n# takedown: disabled: {job}\n")
    );
    let after = collect(r);
    assert!(after.problems.is_empty(), "{:?}", after.problems);
    let left: Vec<Key> = keys_of(&after.entries);
    assert_eq!(
        left,
        keys_of(before.entries.iter().filter(|e| !detected(e)))
    );
    assert!(left.iter().any(|k| k.4 == Some(1) && k.1 == "/etc/crontab"));
    check_crontabs_at(r, &["/etc/crontab"]);

    // The originals restore the first listing.
    for (path, (bytes, _)) in &originals {
        fs::write(path, bytes).unwrap();
    }
    assert_eq!(collect(r), before);
}
