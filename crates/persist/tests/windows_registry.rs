//! Registry autostarts of an offline Windows tree whose hives are built at
//! test time: a minimal empty hive written here, filled with Debian's
//! `hivexsh`, its data checked with `hivexget` (and `reglookup`), then
//! read by takedown. Skips with a message when the tools are missing,
//! except under CI (env CI set), where that fails.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use takedown_persist::testing::{
    V, actions, build_hive, checksum, dirty_with_logs, empty_hive, have, hivexget, hivexsh, set,
};
use takedown_persist::windows::{self, registry};

const NT: &str = r"Microsoft\Windows NT\CurrentVersion";
const CV: &str = r"Microsoft\Windows\CurrentVersion";
const SID: &str = "S-1-5-21-1-2-3-1001";

/// The offline tree: hives, and every target file (names in odd cases,
/// as a case-insensitive volume would have them).
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let cfg = r.join("Windows/System32/config");
    let sw = |p: &str| format!(r"{CV}\{p}");
    let nt = |p: &str| format!(r"{NT}\{p}");
    let blob_daily = actions(r"C:\ProgramData\Daily Job\job.exe", "--now");
    let blob_hidden = actions(
        r"%SystemRoot%\System32\wscript.exe",
        r"//B C:\ProgramData\hidden.vbs",
    );
    build_hive(
        &cfg.join("SOFTWARE"),
        &[
            (NT, vec![("SystemRoot", V::Sz(r"C:\Windows"))]),
            (
                &sw("Run"),
                vec![
                    (
                        "Updater",
                        V::Sz(r"C:\Users\alice\AppData\Roaming\upd.exe -silent"),
                    ),
                    (
                        "Helper",
                        V::Expand(r"%ProgramFiles%\Helper App\helper.exe /bg"),
                    ),
                ],
            ),
            (
                &format!(r"Wow6432Node\{CV}\RunOnce"),
                vec![("Once", V::Sz(r"C:\ProgramData\once.bat"))],
            ),
            (
                &sw(r"Policies\Explorer\Run"),
                vec![("Pol", V::Sz(r"rundll32.exe C:\ProgramData\evil.dll,Start"))],
            ),
            (
                &sw(r"RunOnceEx\0001"),
                vec![("1", V::Sz(r"C:\ProgramData\rox.exe"))],
            ),
            (
                &nt("Winlogon"),
                vec![
                    ("Shell", V::Sz("explorer.exe")),
                    (
                        "Userinit",
                        V::Sz(r"C:\Windows\system32\userinit.exe,C:\ProgramData\ui.exe,"),
                    ),
                ],
            ),
            (
                &nt("Windows"),
                vec![
                    ("AppInit_DLLs", V::Sz(r"C:\ProgramData\appinit.dll")),
                    ("LoadAppInit_DLLs", V::Dword(1)),
                ],
            ),
            (
                &nt(r"Image File Execution Options\sethc.exe"),
                vec![("Debugger", V::Sz(r"C:\Windows\System32\cmd.exe"))],
            ),
            (
                &nt(&format!(r"ProfileList\{SID}")),
                vec![("ProfileImagePath", V::Expand(r"%SystemDrive%\Users\alice"))],
            ),
            (
                &nt(r"Schedule\TaskCache\Tree\Updates\Daily"),
                vec![("Id", V::Sz("{11111111-1111-1111-1111-111111111111}"))],
            ),
            (
                &nt(r"Schedule\TaskCache\Tasks\{11111111-1111-1111-1111-111111111111}"),
                vec![
                    ("Path", V::Sz(r"\Updates\Daily")),
                    ("Actions", V::Bin(blob_daily)),
                ],
            ),
            (
                &nt(r"Schedule\TaskCache\Tasks\{22222222-2222-2222-2222-222222222222}"),
                vec![
                    ("Path", V::Sz(r"\Hidden")),
                    ("Actions", V::Bin(blob_hidden)),
                ],
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
                    (
                        "ImagePath",
                        V::Expand(r#""C:\Program Files\Evil Svc\evil.exe" -k"#),
                    ),
                    ("Type", V::Dword(16)),
                    ("Start", V::Dword(2)),
                    ("ObjectName", V::Sz("LocalSystem")),
                ],
            ),
            (
                r"ControlSet001\Services\EvilHost",
                vec![(
                    "ImagePath",
                    V::Expand(r"%SystemRoot%\System32\svchost.exe -k netsvcs"),
                )],
            ),
            (
                r"ControlSet001\Services\EvilHost\Parameters",
                vec![(
                    "ServiceDll",
                    V::Expand(r"%SystemRoot%\System32\evilhost.dll"),
                )],
            ),
            (
                r"ControlSet001\Services\evildrv",
                vec![
                    (
                        "ImagePath",
                        V::Sz(r"\SystemRoot\System32\drivers\evildrv.sys"),
                    ),
                    ("Type", V::Dword(1)),
                ],
            ),
            (
                r"ControlSet001\Control\Session Manager",
                vec![(
                    "BootExecute",
                    V::Multi(&["autocheck autochk *", "evilboot"]),
                )],
            ),
            (
                r"ControlSet002\Services\Decoy",
                vec![("ImagePath", V::Sz(r"C:\ProgramData\decoy.exe"))],
            ),
        ],
    );
    build_hive(
        &r.join("Users/alice/NTUSER.DAT"),
        &[
            (
                &format!(r"Software\{CV}\Run"),
                vec![("UserRun", V::Expand(r"%APPDATA%\u.exe"))],
            ),
            (
                &format!(r"Software\{NT}\Winlogon"),
                vec![("Shell", V::Sz(r"%USERPROFILE%\shell.exe"))],
            ),
        ],
    );
    for f in [
        "Users/alice/AppData/Roaming/UPD.EXE",
        "Users/alice/AppData/Roaming/u.exe",
        "Users/alice/shell.exe",
        "Program Files/Helper App/helper.exe",
        "Program Files/Evil Svc/evil.exe",
        "ProgramData/once.bat",
        "ProgramData/Evil.DLL",
        "ProgramData/rox.exe",
        "ProgramData/ui.exe",
        "ProgramData/appinit.dll",
        "ProgramData/Daily Job/job.exe",
        "ProgramData/hidden.vbs",
        "Windows/explorer.exe",
        "Windows/System32/rundll32.exe",
        "Windows/System32/userinit.exe",
        "Windows/System32/cmd.exe",
        "Windows/System32/svchost.exe",
        "Windows/System32/EvilHost.dll",
        "Windows/System32/wscript.exe",
        "Windows/System32/autochk.exe",
        "Windows/System32/evilboot.exe",
        "Windows/System32/drivers/evildrv.sys",
    ] {
        let p = r.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, b"MZ").unwrap();
    }
    d
}

/// (mechanism, location, name, user, target from the root).
type Row = (String, String, String, Option<String>, Option<String>);

fn rel(root: &Path, p: &Option<PathBuf>) -> Option<String> {
    p.as_ref()
        .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
}

#[test]
fn every_entry_kind_with_its_target() {
    if !have("hivexsh") || !have("hivexget") {
        return;
    }
    let d = tree();
    let r = d.path();
    let cfg = r.join("Windows/System32/config");
    // The test data as the reference tools read it.
    assert_eq!(
        hivexget(&cfg.join("SOFTWARE"), &format!(r"\{CV}\Run"), "Helper"),
        r"%ProgramFiles%\Helper App\helper.exe /bg"
    );
    assert_eq!(hivexget(&cfg.join("SYSTEM"), r"\Select", "Current"), "1");
    assert_eq!(
        hivexget(
            &r.join("Users/alice/NTUSER.DAT"),
            &format!(r"\Software\{CV}\Run"),
            "UserRun"
        ),
        r"%APPDATA%\u.exe"
    );
    if have("reglookup") {
        let out = Command::new("reglookup")
            .arg("-p")
            .arg(format!("/{}", CV.replace('\\', "/")))
            .arg(cfg.join("SOFTWARE"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("upd.exe"), "reglookup: {text}");
    }

    assert!(windows::is_windows_root(r));
    let inv = windows::collect(r);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let got: BTreeSet<Row> = inv
        .entries
        .iter()
        .map(|e| {
            (
                e.mechanism.to_string(),
                e.location.clone(),
                e.name.clone(),
                e.user.clone(),
                rel(r, &e.target),
            )
        })
        .collect();
    let hklm_sw = r"HKLM\SOFTWARE";
    let hku = format!(r"HKU\{SID}");
    let s = |x: &str| x.to_string();
    let o = |x: &str| Some(x.to_string());
    let want: BTreeSet<_> = [
        (
            s("run-key"),
            format!(r"{hklm_sw}\{CV}\Run"),
            s("Updater"),
            None,
            o("Users/alice/AppData/Roaming/UPD.EXE"),
        ),
        (
            s("run-key"),
            format!(r"{hklm_sw}\{CV}\Run"),
            s("Helper"),
            None,
            o("Program Files/Helper App/helper.exe"),
        ),
        (
            s("run-key"),
            format!(r"{hklm_sw}\Wow6432Node\{CV}\RunOnce"),
            s("Once"),
            None,
            o("ProgramData/once.bat"),
        ),
        (
            s("run-key"),
            format!(r"{hklm_sw}\{CV}\Policies\Explorer\Run"),
            s("Pol"),
            None,
            o("ProgramData/Evil.DLL"),
        ),
        (
            s("run-key"),
            format!(r"{hklm_sw}\{CV}\RunOnceEx\0001"),
            s("1"),
            None,
            o("ProgramData/rox.exe"),
        ),
        (
            s("winlogon"),
            format!(r"{hklm_sw}\{NT}\Winlogon"),
            s("Shell"),
            None,
            o("Windows/explorer.exe"),
        ),
        (
            s("winlogon"),
            format!(r"{hklm_sw}\{NT}\Winlogon"),
            s("Userinit"),
            None,
            o("Windows/System32/userinit.exe"),
        ),
        // Every item of the Userinit list runs: the added one too.
        (
            s("winlogon"),
            format!(r"{hklm_sw}\{NT}\Winlogon"),
            s("Userinit"),
            None,
            o("ProgramData/ui.exe"),
        ),
        (
            s("appinit-dlls"),
            format!(r"{hklm_sw}\{NT}\Windows"),
            s("AppInit_DLLs"),
            None,
            o("ProgramData/appinit.dll"),
        ),
        (
            s("ifeo-debugger"),
            format!(r"{hklm_sw}\{NT}\Image File Execution Options\sethc.exe"),
            s("sethc.exe"),
            None,
            o("Windows/System32/cmd.exe"),
        ),
        (
            s("scheduled-task"),
            format!(r"{hklm_sw}\{NT}\Schedule\TaskCache\Tree\Updates\Daily"),
            s(r"\Updates\Daily"),
            None,
            o("ProgramData/Daily Job/job.exe"),
        ),
        (
            s("scheduled-task"),
            format!(
                r"{hklm_sw}\{NT}\Schedule\TaskCache\Tasks\{{22222222-2222-2222-2222-222222222222}}"
            ),
            s(r"\Hidden"),
            None,
            o("ProgramData/hidden.vbs"),
        ),
        (
            s("run-key"),
            format!(r"{hku}\Software\{CV}\Run"),
            s("UserRun"),
            o("alice"),
            o("Users/alice/AppData/Roaming/u.exe"),
        ),
        (
            s("winlogon"),
            format!(r"{hku}\Software\{NT}\Winlogon"),
            s("Shell"),
            o("alice"),
            o("Users/alice/shell.exe"),
        ),
        (
            s("service"),
            s(r"HKLM\SYSTEM\ControlSet001\Services\EvilSvc"),
            s("EvilSvc"),
            o("LocalSystem"),
            o("Program Files/Evil Svc/evil.exe"),
        ),
        (
            s("service"),
            s(r"HKLM\SYSTEM\ControlSet001\Services\EvilHost"),
            s("EvilHost"),
            None,
            o("Windows/System32/svchost.exe"),
        ),
        (
            s("service"),
            s(r"HKLM\SYSTEM\ControlSet001\Services\EvilHost\Parameters"),
            s("EvilHost"),
            None,
            o("Windows/System32/EvilHost.dll"),
        ),
        (
            s("service"),
            s(r"HKLM\SYSTEM\ControlSet001\Services\evildrv"),
            s("evildrv"),
            None,
            o("Windows/System32/drivers/evildrv.sys"),
        ),
        (
            s("boot-execute"),
            s(r"HKLM\SYSTEM\ControlSet001\Control\Session Manager"),
            s("BootExecute"),
            None,
            o("Windows/System32/autochk.exe"),
        ),
        (
            s("boot-execute"),
            s(r"HKLM\SYSTEM\ControlSet001\Control\Session Manager"),
            s("BootExecute"),
            None,
            o("Windows/System32/evilboot.exe"),
        ),
    ]
    .into_iter()
    .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    // Commands are kept as written (unexpanded).
    let helper = inv.entries.iter().find(|e| e.name == "Helper").unwrap();
    assert_eq!(
        helper.command.as_deref(),
        Some(r"%ProgramFiles%\Helper App\helper.exe /bg")
    );
}

#[test]
fn dirty_hive_without_logs_is_a_problem() {
    if !have("hivexsh") {
        return;
    }
    let d = tree();
    let r = d.path();
    let system = r.join("Windows/System32/config/SYSTEM");
    let mut b = fs::read(&system).unwrap();
    // An unfinished write: primary sequence ahead of the secondary.
    let seq = u32::from_le_bytes(b[8..12].try_into().unwrap());
    set(&mut b, 4, &(seq + 1).to_le_bytes());
    checksum(&mut b);
    fs::write(&system, &b).unwrap();
    let inv = windows::collect(r);
    assert_eq!(inv.problems.len(), 1, "{:?}", inv.problems);
    assert!(inv.problems[0].location.ends_with("config/SYSTEM"));
    assert!(
        inv.problems[0].reason.contains("dirty"),
        "{}",
        inv.problems[0].reason
    );
    assert!(inv.entries.iter().all(|e| e.mechanism != "service"));
    // SOFTWARE is still read.
    assert!(inv.entries.iter().any(|e| e.name == "Updater"));

    // Logs that do not replay (garbage) are no better than none.
    fs::write(r.join("Windows/System32/config/SYSTEM.LOG1"), b"not a log").unwrap();
    let inv = windows::collect(r);
    assert_eq!(inv.problems.len(), 1, "{:?}", inv.problems);
    assert!(
        inv.problems[0].reason.contains("dirty"),
        "{}",
        inv.problems[0].reason
    );
}

/// A dirty hive whose last changes are only in its transaction logs
/// (built here as Windows writes them) is read with them replayed: a Run
/// value added after the hive file was last written is listed, which a
/// reader of the hive file alone (hivexget) does not see. A log entry
/// torn by the crash applies nothing: the hive is refused, not misread.
#[test]
fn dirty_hive_is_read_through_its_logs() {
    if !have("hivexsh") {
        return;
    }
    let d = tree();
    let r = d.path();
    let cfg = r.join("Windows/System32/config");
    let software = cfg.join("SOFTWARE");
    let before = fs::read(&software).unwrap();
    let later = d.path().join("later");
    fs::copy(&software, &later).unwrap();
    hivexsh(
        &later,
        &format!(
            "cd \\{CV}\\Run\nsetval 3\nUpdater\nstring:C:\\Users\\alice\\AppData\\Roaming\\upd.exe -silent\n\
             Helper\nexpandstring:%ProgramFiles%\\Helper App\\helper.exe /bg\n\
             Logged\nstring:C:\\ProgramData\\logged.exe\ncommit\n"
        ),
        true,
    );
    let key = format!(r"\{CV}\Run");
    assert_eq!(
        hivexget(&later, &key, "Logged"),
        r"C:\ProgramData\logged.exe"
    );
    let after = fs::read(&later).unwrap();
    for split in [1, 2] {
        let (primary, logs) = dirty_with_logs(&before, &after, split);
        fs::write(&software, &primary).unwrap();
        for (i, log) in logs.iter().enumerate() {
            fs::write(cfg.join(format!("SOFTWARE.LOG{}", i + 1)), log).unwrap();
        }
        // The hive file alone does not hold the value.
        let out = Command::new("hivexget")
            .arg(&software)
            .arg(&key)
            .arg("Logged")
            .output()
            .unwrap();
        assert!(!out.status.success() || out.stdout.is_empty());
        let inv = windows::collect(r);
        assert!(inv.problems.is_empty(), "{split}: {:?}", inv.problems);
        let logged = inv.entries.iter().find(|e| e.name == "Logged");
        let logged = logged.unwrap_or_else(|| panic!("{split}: {:?}", inv.entries));
        assert_eq!(
            logged.command.as_deref(),
            Some(r"C:\ProgramData\logged.exe")
        );
        assert!(inv.entries.iter().any(|e| e.name == "Helper"));
        // Torn: the first entry's hash fails, nothing applies.
        let mut torn = logs[0].clone();
        let last = torn.len() - 1;
        torn[last] ^= 0xFF;
        fs::write(cfg.join("SOFTWARE.LOG1"), &torn).unwrap();
        let inv = windows::collect(r);
        let p = inv
            .problems
            .iter()
            .find(|p| p.location.ends_with("config/SOFTWARE"));
        let p = p.unwrap_or_else(|| panic!("{split}: {:?}", inv.problems));
        assert!(
            p.reason.contains("dirty") && p.reason.contains("hash"),
            "{}",
            p.reason
        );
        assert!(
            inv.entries
                .iter()
                .all(|e| e.name != "Logged" && e.name != "Updater")
        );
        for i in 1..=2 {
            let _ = fs::remove_file(cfg.join(format!("SOFTWARE.LOG{i}")));
        }
    }
}

#[test]
fn hostile_hives_are_problems_not_panics() {
    if !have("hivexsh") {
        return;
    }
    let d = tree();
    let r = d.path();
    let software = r.join("Windows/System32/config/SOFTWARE");
    let good = fs::read(&software).unwrap();
    // Truncated in the middle of its bins, and plain garbage.
    for bad in [good[..5000].to_vec(), vec![0x41; 10_000], Vec::new()] {
        fs::write(&software, &bad).unwrap();
        let inv = windows::collect(r);
        assert!(
            inv.problems
                .iter()
                .any(|p| p.location.ends_with("config/SOFTWARE")),
            "{:?}",
            inv.problems
        );
    }
    // An index list (ri) naming itself: notatin alone would recurse until
    // the stack overflows (an abort).
    let mut b = empty_hive();
    let ri = 0x20 + 88 + 48; // the free cell after the root's nk and sk
    set(&mut b, 4096 + ri, &(-16i32).to_le_bytes());
    set(&mut b, 4096 + ri + 4, b"ri");
    set(&mut b, 4096 + ri + 6, &1u16.to_le_bytes());
    set(&mut b, 4096 + ri + 8, &(ri as u32).to_le_bytes());
    set(
        &mut b,
        4096 + ri + 16,
        &((4096 - ri - 16) as i32).to_le_bytes(),
    );
    set(&mut b, 4096 + 0x20 + 24, &1u32.to_le_bytes()); // root: one sub-key
    set(&mut b, 4096 + 0x20 + 32, &(ri as u32).to_le_bytes()); // its list
    let inv = registry::entries_of_hive_bytes(&b);
    assert!(
        inv.problems.iter().any(|p| p.reason.contains("hostile")),
        "{:?}",
        inv.problems
    );
    // Corrupted cells (checksum kept valid, so the hive is "clean"):
    // whatever comes out, no panic and bounded.
    let mut seed = 0x2545F4914F6CDD1Du64;
    let rounds: usize = std::env::var("HIVE_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    for _ in 0..rounds {
        let mut b = good.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = 4096 + (seed as usize % (b.len() - 4096));
            b[i] = (seed >> 32) as u8;
        }
        let _ = registry::entries_of_hive_bytes(&b);
    }
}

#[test]
fn symlinked_hive_is_not_followed() {
    if !have("hivexsh") {
        return;
    }
    #[cfg(unix)]
    {
        let d = tree();
        let r = d.path();
        let outside = tempfile::tempdir().unwrap();
        let system = r.join("Windows/System32/config/SYSTEM");
        fs::rename(&system, outside.path().join("SYSTEM")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("SYSTEM"), &system).unwrap();
        let inv = windows::collect(r);
        assert!(inv.entries.iter().all(|e| e.mechanism != "service"));
    }
}

/// `windows::collect(root)` in a thread: a run that blocks (a FIFO
/// opened for reading waits for a writer forever) fails the test instead
/// of hanging it.
#[cfg(unix)]
fn collect_within(root: &Path, secs: u64) -> takedown_persist::Inventory {
    let (tx, rx) = std::sync::mpsc::channel();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(windows::collect(&root));
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("the run blocked (a FIFO opened?)")
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(ok.success());
}

/// A FIFO named like a hive or a log is a problem and the run finishes:
/// opened, it would block until a writer comes.
#[cfg(unix)]
#[test]
fn fifo_hives_and_logs_are_problems() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let cfg = r.join("Windows/System32/config");
    fs::create_dir_all(&cfg).unwrap();
    mkfifo(&cfg.join("SOFTWARE"));
    // A dirty SYSTEM whose .LOG1 is a FIFO: the log is not opened either.
    let mut b = empty_hive();
    set(&mut b, 4, &2u32.to_le_bytes());
    checksum(&mut b);
    fs::write(cfg.join("SYSTEM"), &b).unwrap();
    mkfifo(&cfg.join("SYSTEM.LOG1"));
    let inv = collect_within(r, 30);
    let sw = inv
        .problems
        .iter()
        .find(|p| p.location.ends_with("config/SOFTWARE"))
        .unwrap_or_else(|| panic!("{:?}", inv.problems));
    assert!(sw.reason.contains("not a regular file"), "{}", sw.reason);
    assert!(
        inv.problems
            .iter()
            .any(|p| p.location.ends_with("config/SYSTEM") && p.reason.contains("dirty")),
        "{:?}",
        inv.problems
    );
}
