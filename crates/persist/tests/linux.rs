//! A Linux root built in a temporary directory with every mechanism:
//! each entry is listed with its location, line, user and resolved
//! target; links never lead out of the root; hostile files are bounded.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use takedown_persist::{Disable, Entry, Inventory, lines, linux};

fn put(root: &Path, path: &str, text: &str) -> PathBuf {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

#[cfg(unix)]
fn link(root: &Path, path: &str, target: &str) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

fn find<'a>(inv: &'a Inventory, mechanism: &str, location: &str) -> Vec<&'a Entry> {
    inv.entries
        .iter()
        .filter(|e| e.mechanism == mechanism && e.location == location)
        .collect()
}

fn one<'a>(inv: &'a Inventory, mechanism: &str, location: &str) -> &'a Entry {
    let v = find(inv, mechanism, location);
    assert_eq!(v.len(), 1, "{mechanism} {location}: {v:#?}\n{inv:#?}");
    v[0]
}

/// A root with programs in `/usr/bin` and `/opt` and two users.
fn base() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    put(
        r,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/sh\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n",
    );
    fs::create_dir_all(r.join("root")).unwrap();
    fs::create_dir_all(r.join("home/bob")).unwrap();
    for p in [
        "/usr/bin/run-parts",
        "/usr/bin/sh",
        "/usr/bin/python3",
        "/opt/evil",
        "/opt/evil.py",
        "/usr/lib/udev/helper",
        "/usr/lib/libx.so",
    ] {
        put(r, p, "#!/bin/sh\n");
    }
    t
}

#[test]
fn cron_and_anacron() {
    let t = base();
    let r = t.path();
    put(
        r,
        "/etc/crontab",
        "SHELL=/bin/sh\n# m h dom mon dow user command\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n@reboot bob /opt/evil %stdin\n",
    );
    put(
        r,
        "/etc/cron.d/x",
        "*/5 * * * * root /bin/sh -c '/opt/evil -q'\n",
    );
    put(
        r,
        "/var/spool/cron/crontabs/bob",
        "# user crontab\n* * * * * python3 /opt/evil.py\n",
    );
    put(r, "/etc/cron.daily/job", "#!/bin/sh\n");
    put(
        r,
        "/etc/anacrontab",
        "SHELL=/bin/sh\n1\t5\tcron.daily\trun-parts --report /etc/cron.daily\n",
    );
    let inv = linux::collect(r);

    let tab = find(&inv, "cron", "/etc/crontab");
    assert_eq!(tab.len(), 2);
    assert_eq!(tab[0].line, Some(3));
    assert_eq!(tab[0].user.as_deref(), Some("root"));
    assert_eq!(tab[0].target, Some(r.join("usr/bin/run-parts")));
    assert_eq!(tab[1].user.as_deref(), Some("bob"));
    assert_eq!(tab[1].command.as_deref(), Some("/opt/evil %stdin"));
    assert_eq!(tab[1].target, Some(r.join("opt/evil")));

    let d = one(&inv, "cron", "/etc/cron.d/x");
    assert_eq!(d.target, Some(r.join("opt/evil")));

    let u = one(&inv, "cron", "/var/spool/cron/crontabs/bob");
    assert_eq!(u.user.as_deref(), Some("bob"));
    assert_eq!(u.line, Some(2));
    assert_eq!(
        u.target,
        Some(r.join("opt/evil.py")),
        "the script, not python"
    );

    let s = one(&inv, "cron", "/etc/cron.daily/job");
    assert_eq!(s.target, Some(r.join("etc/cron.daily/job")));

    let a = one(&inv, "anacron", "/etc/anacrontab");
    assert_eq!(a.name, "cron.daily");
    assert_eq!(a.line, Some(2));
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
}

#[cfg(unix)]
#[test]
fn systemd_units_timers_dropins_wants() {
    let t = base();
    let r = t.path();
    put(
        r,
        "/usr/lib/systemd/system/a.service",
        "[Service]\nExecStart=/usr/bin/sh -c 'exit 0'\n",
    );
    // The /etc copy hides the vendor one.
    put(
        r,
        "/etc/systemd/system/a.service",
        "[Unit]\n[Service]\nUser=bob\nExecStartPre=-/opt/evil pre\nExecStart=/usr/bin/run-parts x\n",
    );
    // The drop-in resets ExecStart and sets its own.
    put(
        r,
        "/etc/systemd/system/a.service.d/override.conf",
        "[Service]\nExecStart=\nExecStart=/opt/evil main\n",
    );
    link(
        r,
        "/etc/systemd/system/multi-user.target.wants/a.service",
        "/etc/systemd/system/a.service",
    );
    // A masked unit runs nothing.
    put(
        r,
        "/usr/lib/systemd/system/m.service",
        "[Service]\nExecStart=/opt/evil m\n",
    );
    link(r, "/etc/systemd/system/m.service", "/dev/null");
    // A timer and its service.
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
    // An alias of it is the same unit, listed once.
    link(
        r,
        "/etc/systemd/system/alias.service",
        "/usr/lib/systemd/system/job.service",
    );
    // A unit linked from outside the search path.
    put(
        r,
        "/opt/linked.service",
        "[Service]\nExecStart=/opt/evil linked\n",
    );
    link(
        r,
        "/etc/systemd/system/default.target.wants/linked.service",
        "/opt/linked.service",
    );
    // A user unit of bob.
    put(
        r,
        "/home/bob/.config/systemd/user/u.service",
        "[Service]\nExecStart=/opt/evil user\n",
    );
    link(
        r,
        "/home/bob/.config/systemd/user/default.target.wants/u.service",
        "../u.service",
    );
    let inv = linux::collect(r);

    let a: Vec<&Entry> = inv
        .entries
        .iter()
        .filter(|e| e.mechanism == "systemd-unit" && e.name.starts_with("a.service"))
        .collect();
    assert_eq!(a.len(), 2, "{a:#?}");
    assert_eq!(a[0].location, "/etc/systemd/system/a.service");
    assert_eq!(a[0].line, Some(4));
    assert_eq!(a[0].command.as_deref(), Some("-/opt/evil pre"));
    assert_eq!(a[0].user.as_deref(), Some("bob"));
    assert_eq!(a[0].name, "a.service (enabled: multi-user.target.wants)");
    assert_eq!(
        a[1].location,
        "/etc/systemd/system/a.service.d/override.conf"
    );
    assert_eq!(a[1].line, Some(3));
    assert_eq!(a[1].target, Some(r.join("opt/evil")));

    assert!(
        !inv.entries.iter().any(|e| e.name.starts_with("m.service")),
        "masked"
    );

    let job = one(&inv, "systemd-unit", "/usr/lib/systemd/system/job.service");
    assert_eq!(job.name, "job.service");
    assert_eq!(job.target, Some(r.join("opt/evil.py")));
    assert!(!inv.entries.iter().any(|e| e.name.starts_with("alias")));
    let timer = one(&inv, "systemd-timer", "/usr/lib/systemd/system/t.timer");
    assert_eq!(
        timer.name,
        "t.timer (enabled: timers.target.wants) -> job.service"
    );
    assert_eq!(timer.target, Some(r.join("opt/evil.py")));

    let l = one(&inv, "systemd-unit", "/opt/linked.service");
    assert_eq!(l.name, "linked.service (enabled: default.target.wants)");

    let u = one(
        &inv,
        "systemd-unit",
        "/home/bob/.config/systemd/user/u.service",
    );
    assert_eq!(u.user.as_deref(), Some("bob"));
    assert_eq!(u.name, "u.service (enabled: default.target.wants)");
}

#[cfg(unix)]
#[test]
fn sysv_rc_local_preload_shell_keys_udev_xdg() {
    let t = base();
    let r = t.path();
    put(r, "/etc/init.d/x", "#!/bin/sh\n");
    link(r, "/etc/rc2.d/S01x", "../init.d/x");
    link(r, "/etc/rc2.d/K01x", "../init.d/x");
    put(r, "/etc/rc.local", "#!/bin/sh\n/opt/evil &\nexit 0\n");
    put(
        r,
        "/etc/ld.so.preload",
        "# c\n/usr/lib/libx.so /missing.so\n",
    );
    put(r, "/etc/profile", "PATH=/bin\n");
    put(r, "/etc/profile.d/a.sh", "x\n");
    put(r, "/home/bob/.bashrc", "/opt/evil\n");
    put(
        r,
        "/root/.ssh/authorized_keys",
        "ssh-ed25519 AAAA plain\ncommand=\"/opt/evil --x\",no-pty ssh-ed25519 AAAA admin@x\n",
    );
    put(
        r,
        "/etc/udev/rules.d/99-x.rules",
        "# c\nACTION==\"add\", \\\n  RUN+=\"helper %k\"\n",
    );
    put(
        r,
        "/etc/xdg/autostart/a.desktop",
        "[Desktop Entry]\nName=A\nExec=/opt/evil --tray\nHidden=true\n",
    );
    put(
        r,
        "/home/bob/.config/autostart/b.desktop",
        "[Desktop Entry]\nExec=python3 /opt/evil.py\n",
    );
    let inv = linux::collect(r);

    let s = one(&inv, "sysv-init", "/etc/rc2.d/S01x");
    assert_eq!(s.name, "x");
    assert_eq!(s.target, Some(r.join("etc/init.d/x")));
    assert!(find(&inv, "sysv-init", "/etc/rc2.d/K01x").is_empty());

    let l = one(&inv, "rc-local", "/etc/rc.local");
    assert_eq!(l.target, Some(r.join("etc/rc.local")));

    let p = find(&inv, "ld-preload", "/etc/ld.so.preload");
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].target, Some(r.join("usr/lib/libx.so")));
    assert_eq!(p[0].line, Some(2));
    assert_eq!(p[1].target, None);

    one(&inv, "shell-startup", "/etc/profile");
    one(&inv, "shell-startup", "/etc/profile.d/a.sh");
    let b = one(&inv, "shell-startup", "/home/bob/.bashrc");
    assert_eq!(b.user.as_deref(), Some("bob"));
    assert_eq!(b.target, Some(r.join("home/bob/.bashrc")));

    let k = one(&inv, "authorized-keys", "/root/.ssh/authorized_keys");
    assert_eq!(k.command.as_deref(), Some("/opt/evil --x"));
    assert_eq!(k.name, "admin@x");
    assert_eq!(k.line, Some(2));
    assert_eq!(k.target, Some(r.join("opt/evil")));

    let u = one(&inv, "udev-rule", "/etc/udev/rules.d/99-x.rules");
    assert_eq!(u.command.as_deref(), Some("helper %k"));
    assert_eq!(u.line, Some(2));
    assert_eq!(
        u.target,
        Some(r.join("usr/lib/udev/helper")),
        "udev's own directory"
    );

    let x = one(&inv, "xdg-autostart", "/etc/xdg/autostart/a.desktop");
    assert_eq!(x.name, "a.desktop (hidden)");
    assert_eq!(x.line, Some(3));
    let y = one(
        &inv,
        "xdg-autostart",
        "/home/bob/.config/autostart/b.desktop",
    );
    assert_eq!(y.user.as_deref(), Some("bob"));
    assert_eq!(y.target, Some(r.join("opt/evil.py")));
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
}

/// `(line, command, disable line and text)` of the udev entries of
/// `/etc/udev/rules.d/99-x.rules`, in file order.
fn udev_entries(inv: &Inventory, r: &Path) -> Vec<(u64, String, u64, String)> {
    find(inv, "udev-rule", "/etc/udev/rules.d/99-x.rules")
        .into_iter()
        .map(|e| {
            let Some(Disable::Line {
                path,
                line,
                text,
                continued,
            }) = &e.disable
            else {
                panic!("{e:?}")
            };
            assert_eq!(path, &r.join("etc/udev/rules.d/99-x.rules"));
            // udev continues a line ending in `\`: the edit follows it.
            assert!(*continued, "{e:?}");
            assert_eq!(Some(*line), e.line, "{e:?}");
            (*line, e.command.clone().unwrap(), *line, text.clone())
        })
        .collect()
}

/// A rules file as udev reads it (systemd's `udev-rules.c`): a comment
/// line never continues, even when it ends with `\`, so the rule after
/// `# x \` runs; a comment inside a continued rule is skipped, not made
/// part of it. Each entry names the rule's first line as read.
#[test]
fn udev_comments_never_continue() {
    let t = base();
    let r = t.path();
    put(r, "/etc/udev/rules.d/99-x.rules", UDEV_COMMENTS);
    let inv = linux::collect(r);
    let l = |s: &str| s.to_string();
    assert_eq!(
        udev_entries(&inv, r),
        [
            (2, l("/opt/evil"), 2, l("RUN+=\"/opt/evil\"")),
            (3, l("/opt/continued"), 3, l("ACTION==\"add\", \\")),
            (7, l("/opt/a b"), 7, l("RUN+=\"/opt/a \\")),
            (
                11,
                l("/opt/after-blank"),
                11,
                l("RUN+=\"/opt/after-blank\"")
            ),
        ]
    );
    assert_eq!(
        find(&inv, "udev-rule", "/etc/udev/rules.d/99-x.rules")[0].target,
        Some(r.join("opt/evil"))
    );
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);

    // Commenting out what is listed leaves no rule that runs anything.
    let edited = disabled(&inv, r);
    put(r, "/etc/udev/rules.d/99-x.rules", &edited);
    assert_eq!(udev_entries(&linux::collect(r), r), []);
}

/// Comments ending with `\`, inside a continued rule, a value continued
/// onto a line whose leading blanks udev drops, and a blank line ending a
/// continued rule.
const UDEV_COMMENTS: &str = "# x \\\n\
RUN+=\"/opt/evil\"\n\
ACTION==\"add\", \\\n  # RUN+=\"/opt/in-comment\" \\\n\t# c\n  RUN+=\"/opt/continued\"\n\
RUN+=\"/opt/a \\\n     b\"\n\
ACTION==\"add\", \\\n\nRUN+=\"/opt/after-blank\"\n";

/// Line ends only udev (systemd's `read_line`) sees: a lone `\r`, a NUL,
/// `\n\r` as one ending. The listing finds every rule; commenting them
/// out is refused, naming the reason.
const UDEV_LINE_ENDS: &str = "RUN+=\"/opt/cr1\"\rRUN+=\"/opt/cr2\"\n\
RUN+=\"/opt/nul1\"\0RUN+=\"/opt/nul2\"\n\
ACTION==\"add\", \\\n\rRUN+=\"/opt/lfcr\"\n\
# c\rRUN+=\"/opt/after-cr-comment\"\n";

#[test]
fn udev_line_ends_of_read_line() {
    let t = base();
    let r = t.path();
    put(r, "/etc/udev/rules.d/99-x.rules", UDEV_LINE_ENDS);
    let inv = linux::collect(r);
    let got: Vec<(u64, String)> = udev_entries(&inv, r)
        .into_iter()
        .map(|(n, c, ..)| (n, c))
        .collect();
    let l = |n: u64, s: &str| (n, s.to_string());
    assert_eq!(
        got,
        [
            l(1, "/opt/cr1"),
            l(1, "/opt/cr2"),
            l(2, "/opt/nul1"),
            l(2, "/opt/nul2"),
            l(3, "/opt/lfcr"),
            l(5, "/opt/after-cr-comment"),
        ]
    );
    for e in find(&inv, "udev-rule", "/etc/udev/rules.d/99-x.rules") {
        let Some(Disable::Line { line, text, .. }) = &e.disable else {
            panic!("{e:?}")
        };
        let err = lines::comment_out(UDEV_LINE_ENDS.as_bytes(), &[(*line, text.clone())], true)
            .unwrap_err();
        assert!(err.contains("carriage return or NUL"), "{e:?}: {err}");
    }
}

/// The udev rules file with every listed rule commented out, as the
/// disable step does.
fn disabled(inv: &Inventory, r: &Path) -> String {
    let path = r.join("etc/udev/rules.d/99-x.rules");
    let want: Vec<(u64, String)> = udev_entries(inv, r)
        .into_iter()
        .map(|(_, _, n, t)| (n, t))
        .collect();
    let out = lines::comment_out(&fs::read(path).unwrap(), &want, true).unwrap();
    String::from_utf8(out).unwrap()
}

/// udev itself, when installed: `udevadm test` (which runs nothing)
/// with only the given rules file, in a private mount namespace so that
/// the machine's rules are never touched. The programs it would run,
/// sorted; `None` when it cannot be asked here.
#[cfg(unix)]
fn udevadm_runs(rules: &Path) -> Option<Vec<String>> {
    let have = Command::new("sh")
        .args(["-c", "command -v udevadm && command -v unshare"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have || !Path::new("/sys/class/net/lo").exists() {
        return None;
    }
    let script = "for d in /etc/udev/rules.d /run/udev /lib/udev/rules.d /usr/lib/udev/rules.d \
                  /usr/local/lib/udev/rules.d; do \
                  if [ -d \"$d\" ]; then mount -t tmpfs none \"$d\" || exit 3; fi; done; \
                  [ -d /etc/udev/rules.d ] || exit 4; \
                  cp \"$1\" /etc/udev/rules.d/99-x.rules && \
                  udevadm test --action=add /sys/class/net/lo 2>&1";
    for flags in [&["-m"][..], &["-r", "-m"][..]] {
        let probe = Command::new("unshare")
            .args(flags)
            .args(["sh", "-c", "mount -t tmpfs none /mnt"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            continue;
        }
        let o = Command::new("unshare")
            .args(flags)
            .args(["sh", "-c", script, "sh"])
            .arg(rules)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{out}");
        let mut v: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("run: '")?.strip_suffix('\''))
            .map(str::to_string)
            .collect();
        v.sort();
        return Some(v);
    }
    None
}

/// The listing and udev agree on which programs a rules file runs, for
/// every case above and for a rule continued by `\\` over an empty line;
/// and once the listed rules are commented out, udev runs nothing.
#[cfg(unix)]
#[test]
fn udev_rules_read_as_udevadm_reads_them() {
    let t = base();
    let r = t.path();
    let rules = r.join("etc/udev/rules.d/99-x.rules");
    let backslashes = "RUN+=\"/opt/bs1\" \\\\\n\nRUN+=\"/opt/bs2\"\n";
    for content in [UDEV_COMMENTS, UDEV_LINE_ENDS, backslashes] {
        put(r, "/etc/udev/rules.d/99-x.rules", content);
        let inv = linux::collect(r);
        let mut listed: Vec<String> = udev_entries(&inv, r)
            .into_iter()
            .map(|(_, c, ..)| c)
            .collect();
        listed.sort();
        let Some(ran) = udevadm_runs(&rules) else {
            eprintln!("skipped: no udevadm, /sys/class/net/lo or private mount namespace");
            return;
        };
        assert_eq!(listed, ran, "{content:?}");
    }
    put(r, "/etc/udev/rules.d/99-x.rules", UDEV_COMMENTS);
    let edited = disabled(&linux::collect(r), r);
    put(r, "/etc/udev/rules.d/99-x.rules", &edited);
    assert_eq!(udevadm_runs(&rules).unwrap(), Vec::<String>::new());
}

/// Links pointing out of the root (absolute or by `..`) are resolved
/// under it: the rescue system's own files are never named as targets
/// nor read.
#[cfg(unix)]
#[test]
fn links_never_leave_the_root() {
    let t = base();
    let r = t.path();
    let outside = tempfile::tempdir().unwrap();
    let secret = put(outside.path(), "/secret", "* * * * * root /opt/evil\n");
    // A crontab that is a link to a file outside the root, by absolute
    // path and by `..`.
    link(r, "/etc/cron.d/abs", secret.to_str().unwrap());
    let up = "../".repeat(30) + secret.to_str().unwrap().trim_start_matches('/');
    link(r, "/etc/cron.d/rel", &up);
    // A program link out of the root.
    link(r, "/usr/bin/out", "/bin/sh");
    put(r, "/etc/crontab", "* * * * * root out\n");
    // A loop of links.
    link(r, "/etc/cron.d/loop1", "loop2");
    link(r, "/etc/cron.d/loop2", "loop1");
    // A home that is a link to the rescue system's /root.
    link(r, "/home/eve", "/root");
    let inv = linux::collect(r);
    assert!(find(&inv, "cron", "/etc/cron.d/abs").is_empty());
    assert!(find(&inv, "cron", "/etc/cron.d/rel").is_empty());
    let e = one(&inv, "cron", "/etc/crontab");
    assert_eq!(e.target, None, "/bin/sh of the root does not exist");
    for e in &inv.entries {
        if let Some(t) = &e.target {
            assert!(t.starts_with(r), "{e:?}");
        }
    }
}

/// A `..` after a missing component (`/nonexistent/../h/...`) is "not
/// found", as on Linux: with `h -> /` on the disk, neither a home nor a
/// cron program may reach the rescue system through it.
#[cfg(unix)]
#[test]
fn dotdot_after_missing_stays_in_the_root() {
    let t = base();
    let r = t.path();
    let outside = tempfile::tempdir().unwrap();
    put(outside.path(), "/home/.profile", "/opt/evil\n");
    put(outside.path(), "/bin/evil", "#!/bin/sh\n");
    let out = outside.path().to_str().unwrap().trim_start_matches('/');
    link(r, "/h", "/");
    put(
        r,
        "/etc/passwd",
        &format!(
            "root:x:0:0:root:/nonexistent/../h/root:/bin/bash\n\
             eve:x:1001:1001::/nonexistent/../h/{out}/home:/bin/sh\n"
        ),
    );
    put(
        r,
        "/etc/crontab",
        &format!("* * * * * root /x/../h/etc/shadow\n* * * * * root /x/../h/{out}/bin/evil\n"),
    );
    let inv = linux::collect(r);
    for e in &inv.entries {
        assert!(!e.location.contains(out), "{e:?}");
        if let Some(t) = &e.target {
            assert!(t.starts_with(r) && t.exists(), "{e:?}");
        }
    }
    let crons = find(&inv, "cron", "/etc/crontab");
    assert_eq!(crons.len(), 2, "{inv:#?}");
    assert!(crons.iter().all(|e| e.target.is_none()), "{crons:#?}");
}

/// A huge crontab is read only to the cap (and reported); a FIFO is
/// never opened (it would block).
#[cfg(unix)]
#[test]
fn hostile_files_bounded() {
    let t = base();
    let r = t.path();
    let line = "* * * * * root /opt/evil\n";
    let big = line.repeat((3 << 20) / line.len());
    put(r, "/etc/cron.d/big", &big);
    let fifo = r.join("etc/cron.d/fifo");
    let ok = std::process::Command::new("mkfifo").arg(&fifo).status();
    let inv = linux::collect(r);
    let n = find(&inv, "cron", "/etc/cron.d/big").len();
    assert!(n > 1000 && n <= (1 << 20) / line.len() + 1, "{n}");
    assert!(
        inv.problems
            .iter()
            .any(|p| p.location == "/etc/cron.d/big" && p.reason.contains("larger")),
        "{:?}",
        inv.problems
    );
    if ok.is_ok_and(|s| s.success()) {
        assert!(find(&inv, "cron", "/etc/cron.d/fifo").is_empty());
    }
}

#[test]
fn whole_collect_on_an_empty_root() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir_all(t.path().join("etc")).unwrap();
    let inv = takedown_persist::collect(t.path());
    assert!(inv.entries.is_empty() && inv.problems.is_empty(), "{inv:?}");
}
