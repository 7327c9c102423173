//! `takedown persistence` and `takedown scan --persistence`, the real
//! binary over systems built at test time: an offline Windows volume
//! (hives filled with `hivexsh` and checked with `hivexget`, task XML, a
//! task in both stores, one only in each, a Startup shortcut) and a Linux
//! root (cron, systemd, shell start-up, `authorized_keys`). Some programs
//! hold EICAR (built from pieces here): the listing names every entry
//! with its program and digests (checked with `sha256sum`, `sha1sum`,
//! `md5sum`), the scan reports exactly the EICAR programs, each naming
//! the entries that start it.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use takedown_persist::testing::*;
use util::*;

const CV: &str = r"Microsoft\Windows\CurrentVersion";
const NT: &str = r"Microsoft\Windows NT\CurrentVersion";
const SID: &str = "S-1-5-21-1-2-3-1001";
const STARTUP: &str = "Users/alice/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup";

/// Programs of the Windows volume holding EICAR.
const WIN_EICAR: &[&str] = &[
    "ProgramData/evil/upd.exe",
    "Program Files/Evil Svc/evil.exe",
    "Users/alice/AppData/Roaming/u.exe",
    "ProgramData/both.exe",
    "ProgramData/cacheonly.exe",
    "ProgramData/lnk.exe",
];
/// Its harmless programs.
const WIN_CLEAN: &[&str] = &["Program Files/Helper/helper.exe", "ProgramData/xmlonly.exe"];

/// An offline Windows volume at `t/win`; returns its root.
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
                    ("Helper", V::Expand(r"%ProgramFiles%\Helper\helper.exe /bg")),
                ],
            ),
            (
                &format!(r"{NT}\ProfileList\{SID}"),
                vec![("ProfileImagePath", V::Expand(r"%SystemDrive%\Users\alice"))],
            ),
            // A task in both stores, and one only in the TaskCache (its
            // XML deleted to hide it).
            (
                &format!(r"{NT}\Schedule\TaskCache\Tree\Both"),
                vec![("Id", V::Sz("{11111111-1111-1111-1111-111111111111}"))],
            ),
            (
                &format!(r"{NT}\Schedule\TaskCache\Tasks\{{11111111-1111-1111-1111-111111111111}}"),
                vec![
                    ("Path", V::Sz(r"\Both")),
                    ("Actions", V::Bin(actions(r"C:\ProgramData\both.exe", "-x"))),
                ],
            ),
            (
                &format!(r"{NT}\Schedule\TaskCache\Tree\CacheOnly"),
                vec![("Id", V::Sz("{22222222-2222-2222-2222-222222222222}"))],
            ),
            (
                &format!(r"{NT}\Schedule\TaskCache\Tasks\{{22222222-2222-2222-2222-222222222222}}"),
                vec![
                    ("Path", V::Sz(r"\CacheOnly")),
                    (
                        "Actions",
                        V::Bin(actions(r"C:\ProgramData\cacheonly.exe", "")),
                    ),
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
        ],
    );
    build_hive(
        &r.join("Users/alice/NTUSER.DAT"),
        &[(
            &format!(r"Software\{CV}\Run"),
            vec![("UserRun", V::Expand(r"%APPDATA%\u.exe"))],
        )],
    );
    // The XML store: the task of both stores, and one only here.
    put(
        &r,
        "Windows/System32/Tasks/Both",
        task_xml(r"C:\ProgramData\both.exe", "-x"),
    );
    put(
        &r,
        "Windows/System32/Tasks/XmlOnly",
        task_xml(r"%SystemDrive%\ProgramData\xmlonly.exe", ""),
    );
    put(
        &r,
        &format!("{STARTUP}/evil.lnk"),
        lnk(r"C:\ProgramData\lnk.exe", Some("--hide")),
    );
    for f in WIN_EICAR {
        put(&r, f, eicar());
    }
    for f in WIN_CLEAN {
        put(&r, f, format!("MZ harmless {f}"));
    }
    r
}

/// Programs of the Linux root holding EICAR.
const LINUX_EICAR: &[&str] = &[
    "opt/cron-job",
    "usr/local/bin/evild",
    "etc/profile.d/evil.sh",
];

/// A Linux root at `t/linux`; returns it.
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
        "SHELL=/bin/sh\n# m h dom mon dow user command\n*/5 * * * * root /opt/cron-job --quiet\n",
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
    put(&r, "home/bob/.bashrc", "alias ll='ls -l'\n");
    put(
        &r,
        "home/bob/.ssh/authorized_keys",
        "command=\"/opt/keycmd --forced\" ssh-ed25519 AAAAC3Nz bob@laptop\nssh-ed25519 AAAAC3Nz plain@key\n",
    );
    put(&r, "opt/keycmd", "#!/bin/sh\nexec true\n");
    for f in LINUX_EICAR {
        put(&r, f, eicar());
    }
    r
}

/// `tool FILE` (sha256sum and the like): the digest it prints.
fn digest_tool(tool: &str, file: &Path) -> String {
    let out = Command::new(tool).arg(file).output().unwrap();
    assert!(out.status.success(), "{tool}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn json_records(o: &std::process::Output) -> Vec<serde_json::Value> {
    let all = ndjson(o);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/persistence.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for v in &all {
        let errors: Vec<String> = validator.iter_errors(v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{v}: {errors:?}");
    }
    all
}

fn of_type<'a>(all: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    all.iter().filter(|v| v["type"] == t).collect()
}

fn s(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// (mechanism, location, name, target from the root).
type Row = (String, String, String, Option<String>);

fn rows(autostarts: &[&serde_json::Value], root: &Path) -> BTreeSet<Row> {
    autostarts
        .iter()
        .map(|a| {
            let target = a["target"].as_str().map(|t| {
                Path::new(t)
                    .strip_prefix(root)
                    .unwrap_or_else(|_| panic!("{t} is under the root"))
                    .to_string_lossy()
                    .into_owned()
            });
            (s(&a["mechanism"]), s(&a["location"]), s(&a["name"]), target)
        })
        .collect()
}

fn row(m: &str, l: &str, n: &str, t: Option<&str>) -> Row {
    (m.into(), l.into(), n.into(), t.map(str::to_string))
}

fn windows_rows() -> BTreeSet<Row> {
    let sw = r"HKLM\SOFTWARE";
    [
        row(
            "run-key",
            &format!(r"{sw}\{CV}\Run"),
            "Updater",
            Some("ProgramData/evil/upd.exe"),
        ),
        row(
            "run-key",
            &format!(r"{sw}\{CV}\Run"),
            "Helper",
            Some("Program Files/Helper/helper.exe"),
        ),
        row(
            "run-key",
            &format!(r"HKU\{SID}\Software\{CV}\Run"),
            "UserRun",
            Some("Users/alice/AppData/Roaming/u.exe"),
        ),
        row(
            "service",
            r"HKLM\SYSTEM\ControlSet001\Services\EvilSvc",
            "EvilSvc",
            Some("Program Files/Evil Svc/evil.exe"),
        ),
        row(
            "scheduled-task",
            &format!(r"{sw}\{NT}\Schedule\TaskCache\Tree\Both"),
            r"\Both",
            Some("ProgramData/both.exe"),
        ),
        row(
            "scheduled-task",
            &format!(r"{sw}\{NT}\Schedule\TaskCache\Tree\CacheOnly"),
            r"\CacheOnly",
            Some("ProgramData/cacheonly.exe"),
        ),
        row(
            "scheduled-task",
            "/Windows/System32/Tasks/Both",
            r"\Both",
            Some("ProgramData/both.exe"),
        ),
        row(
            "scheduled-task",
            "/Windows/System32/Tasks/XmlOnly",
            r"\XmlOnly",
            Some("ProgramData/xmlonly.exe"),
        ),
        row(
            "startup-folder",
            &format!("/{STARTUP}/evil.lnk"),
            "evil.lnk",
            Some("ProgramData/lnk.exe"),
        ),
    ]
    .into_iter()
    .collect()
}

/// Checks each autostart's digests against the reference tools, and the
/// summary against the records.
fn check_listing(all: &[serde_json::Value]) {
    let autostarts = of_type(all, "autostart");
    let mut per: BTreeMap<String, u64> = BTreeMap::new();
    let mut targets = BTreeSet::new();
    for a in &autostarts {
        *per.entry(s(&a["mechanism"])).or_default() += 1;
        let Some(t) = a["target"].as_str() else {
            assert!(a.get("digests").is_none(), "{a}");
            continue;
        };
        targets.insert(t.to_string());
        let d = &a["digests"];
        let t = Path::new(t);
        assert_eq!(s(&d["sha256"]), digest_tool("sha256sum", t), "{a}");
        assert_eq!(s(&d["sha1"]), digest_tool("sha1sum", t), "{a}");
        assert_eq!(s(&d["md5"]), digest_tool("md5sum", t), "{a}");
        assert_eq!(d["size"], std::fs::metadata(t).unwrap().len(), "{a}");
    }
    let summary = all.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["entries"], autostarts.len());
    assert_eq!(summary["targets"], targets.len());
    assert_eq!(summary["hashed"], targets.len());
    assert_eq!(summary["over_limit"], 0);
    assert_eq!(summary["problems"], of_type(all, "problem").len());
    let mechanisms: BTreeMap<String, u64> =
        serde_json::from_value(summary["mechanisms"].clone()).unwrap();
    assert_eq!(mechanisms, per);
}

#[test]
fn windows_volume_listing_names_every_entry_with_its_program_and_digests() {
    if !have("hivexsh") || !have("hivexget") {
        return;
    }
    let t = Tree::new();
    let r = windows_volume(&t);
    // The test data as the reference tool reads it.
    assert_eq!(
        hivexget(
            &r.join("Windows/System32/config/SOFTWARE"),
            &format!(r"\{CV}\Run"),
            "Updater"
        ),
        r"C:\ProgramData\evil\upd.exe -silent"
    );
    assert_eq!(
        hivexget(
            &r.join("Users/alice/NTUSER.DAT"),
            &format!(r"\Software\{CV}\Run"),
            "UserRun"
        ),
        r"%APPDATA%\u.exe"
    );

    let o = t.run(&[
        "persistence",
        "--root",
        r.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "JSON mode keeps stderr quiet");
    let all = json_records(&o);
    assert!(of_type(&all, "problem").is_empty(), "{all:#?}");
    let autostarts = of_type(&all, "autostart");
    assert_eq!(rows(&autostarts, &r), windows_rows());
    check_listing(&all);
    // The entries' own fields, as takedown-persist serializes them.
    let updater = autostarts.iter().find(|a| a["name"] == "Updater").unwrap();
    assert_eq!(updater["os"], "windows");
    assert_eq!(updater["command"], r"C:\ProgramData\evil\upd.exe -silent");
    assert_eq!(updater["disable"]["kind"], "registry-value");
    assert_eq!(updater["disable"]["value"], "Updater");
    let user = autostarts.iter().find(|a| a["name"] == "UserRun").unwrap();
    assert_eq!(user["user"], "alice");
    let eicar_sha = autostarts
        .iter()
        .filter(|a| a["target"].as_str().unwrap().ends_with("upd.exe"))
        .map(|a| s(&a["digests"]["sha256"]))
        .next()
        .unwrap();
    assert_eq!(eicar_sha, EICAR_SHA256);

    // Text: one block per entry, the same programs and digests.
    let o = t.run(&["persistence", "--root", r.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("  target   "))
            .count(),
        9,
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "run-key HKLM\\\\SOFTWARE\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run: Updater\n  \
             command  C:\\\\ProgramData\\\\evil\\\\upd.exe -silent\n  target   {}\n  size     68\n",
            r.join("ProgramData/evil/upd.exe").display()
        )),
        "{text}"
    );
    assert_eq!(text.matches(EICAR_SHA256).count(), 7, "{text}");
    assert!(
        text.contains("\nEntries: 9 (run-key 3, scheduled-task 4, service 1, startup-folder 1)\n"),
        "{text}"
    );
}

#[test]
fn windows_scan_reports_exactly_the_detected_programs_naming_their_entries() {
    if !have("hivexsh") {
        return;
    }
    let t = Tree::new();
    let r = windows_volume(&t);
    let root = r.to_str().unwrap();
    let o = t.json(&["--persistence", "--root", root]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let found = findings(&o);
    let paths: BTreeSet<String> = found.iter().map(|f| s(&f["path"])).collect();
    let want: BTreeSet<String> = WIN_EICAR
        .iter()
        .map(|f| r.join(f).to_string_lossy().into_owned())
        .collect();
    assert_eq!(paths, want, "exactly the EICAR programs");
    // Each names the entries that start it.
    let entries_of = |f: &str| -> BTreeSet<(String, String, String)> {
        let p = r.join(f).to_string_lossy().into_owned();
        let finding = found.iter().find(|x| x["path"] == p.as_str()).unwrap();
        finding["autostarts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (s(&a["mechanism"]), s(&a["location"]), s(&a["name"])))
            .collect()
    };
    let e = |m: &str, l: &str, n: &str| (m.to_string(), l.to_string(), n.to_string());
    assert_eq!(
        entries_of("ProgramData/both.exe"),
        [
            e(
                "scheduled-task",
                &format!(r"HKLM\SOFTWARE\{NT}\Schedule\TaskCache\Tree\Both"),
                r"\Both"
            ),
            e("scheduled-task", "/Windows/System32/Tasks/Both", r"\Both"),
        ]
        .into_iter()
        .collect(),
        "a task in both stores: both entries"
    );
    assert_eq!(
        entries_of("ProgramData/cacheonly.exe"),
        [e(
            "scheduled-task",
            &format!(r"HKLM\SOFTWARE\{NT}\Schedule\TaskCache\Tree\CacheOnly"),
            r"\CacheOnly"
        )]
        .into_iter()
        .collect(),
        "a task hidden from the XML store is found by the TaskCache"
    );
    assert_eq!(
        entries_of("Users/alice/AppData/Roaming/u.exe"),
        [e(
            "run-key",
            &format!(r"HKU\{SID}\Software\{CV}\Run"),
            "UserRun"
        )]
        .into_iter()
        .collect()
    );
    assert_eq!(
        entries_of("ProgramData/lnk.exe"),
        [e(
            "startup-folder",
            &format!("/{STARTUP}/evil.lnk"),
            "evil.lnk"
        )]
        .into_iter()
        .collect()
    );
    let svc = found
        .iter()
        .find(|f| s(&f["path"]).ends_with("evil.exe"))
        .unwrap();
    assert_eq!(svc["autostarts"][0]["user"], "LocalSystem");
    assert_eq!(
        svc["autostarts"][0]["command"],
        r#""C:\Program Files\Evil Svc\evil.exe" -k"#
    );
    assert!(svc["autostarts"][0].get("action").is_none(), "report only");
    let sum = summary(&o);
    assert_eq!(sum["autostarts"], 9);
    assert_eq!(sum["files_scanned"], 8, "each distinct program once");
    assert_eq!(sum["files_detected"], 6);
    assert_eq!(sum["errors"], 0);

    // Text: each detection line is followed by the entries.
    let o = t.run(&["scan", "--persistence", "--root", root, "--color", "never"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = stdout(&o);
    let upd = r.join("ProgramData/evil/upd.exe");
    assert!(
        text.contains(&format!(
            "{}: EICAR_Test_File FOUND (yara, score 100, builtin:test-files.yar)\n  started by run-key \
             HKLM\\\\SOFTWARE\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run Updater\n",
            upd.display()
        )),
        "{text}"
    );
    assert_eq!(
        text.matches("  started by scheduled-task").count(),
        3,
        "{text}"
    );
    assert!(text.contains("Autostart entries: 9"), "{text}");
}

#[test]
fn linux_root_listing_and_scan() {
    let t = Tree::new();
    let r = linux_root(&t);
    let root = r.to_str().unwrap();
    let o = t.run(&["persistence", "--root", root, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let all = json_records(&o);
    assert!(of_type(&all, "problem").is_empty(), "{all:#?}");
    let autostarts = of_type(&all, "autostart");
    let got = rows(&autostarts, &r);
    for want in [
        row("cron", "/etc/crontab", "", Some("opt/cron-job")),
        row(
            "systemd-unit",
            "/etc/systemd/system/evild.service",
            "evild.service (enabled: multi-user.target.wants)",
            Some("usr/local/bin/evild"),
        ),
        row(
            "shell-startup",
            "/etc/profile.d/evil.sh",
            "evil.sh",
            Some("etc/profile.d/evil.sh"),
        ),
        row(
            "shell-startup",
            "/home/bob/.bashrc",
            ".bashrc",
            Some("home/bob/.bashrc"),
        ),
        row(
            "authorized-keys",
            "/home/bob/.ssh/authorized_keys",
            "bob@laptop",
            Some("opt/keycmd"),
        ),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:#?}");
    }
    assert_eq!(got.len(), 5, "{got:#?}");
    check_listing(&all);
    let cron = autostarts
        .iter()
        .find(|a| a["mechanism"] == "cron")
        .unwrap();
    assert_eq!(cron["line"], 3);
    assert_eq!(cron["user"], "root");
    assert_eq!(cron["os"], "linux");

    let o = t.json(&["--persistence", "--root", root]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let found = findings(&o);
    let paths: BTreeSet<String> = found.iter().map(|f| s(&f["path"])).collect();
    let want: BTreeSet<String> = LINUX_EICAR
        .iter()
        .map(|f| r.join(f).to_string_lossy().into_owned())
        .collect();
    assert_eq!(paths, want);
    let cron_job = found
        .iter()
        .find(|f| s(&f["path"]).ends_with("cron-job"))
        .unwrap();
    assert_eq!(cron_job["autostarts"][0]["location"], "/etc/crontab");
    assert_eq!(cron_job["autostarts"][0]["line"], 3);
    assert_eq!(
        cron_job["autostarts"][0]["command"],
        "/opt/cron-job --quiet"
    );
    let sum = summary(&o);
    assert_eq!(sum["autostarts"], 5);
    assert_eq!(sum["files_scanned"], 5);
}

#[test]
fn linux_text_listing_golden() {
    let t = Tree::new();
    let r = linux_root(&t);
    let o = t.run(&["persistence", "--root", r.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o).replace(r.to_str().unwrap(), "$ROOT");
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("Time: ") {
                "Time: <elapsed>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/persistence.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(text, expected, "output differs from {}", path.display());
}

#[test]
fn unreadable_hive_is_a_warning_and_exit_2_unless_something_is_found() {
    if !have("hivexsh") {
        return;
    }
    let t = Tree::new();
    let r = t.path("win");
    build_hive(
        &r.join("Windows/System32/config/SYSTEM"),
        &[
            ("Select", vec![("Current", V::Dword(1))]),
            (
                r"ControlSet001\Services\Svc",
                vec![("ImagePath", V::Sz(r"C:\ProgramData\svc.exe"))],
            ),
        ],
    );
    put(&r, "ProgramData/svc.exe", "MZ harmless");
    // A SOFTWARE hive that is not one.
    let mut junk = b"regf".to_vec();
    junk.extend(vec![0x41u8; 5000]);
    put(&r, "Windows/System32/config/SOFTWARE", junk);
    let root = r.to_str().unwrap();

    let o = t.json(&["--persistence", "--root", root]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l.starts_with("takedown: warning: autostarts: ") && l.contains("SOFTWARE")),
        "{err}"
    );
    assert!(findings(&o).is_empty());
    let sum = summary(&o);
    assert_eq!(sum["autostarts"], 1);
    assert!(sum["errors"].as_u64().unwrap() >= 1, "{sum}");

    let o = t.run(&["persistence", "--root", root, "--format", "json"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let all = json_records(&o);
    let problems = of_type(&all, "problem");
    assert!(
        problems
            .iter()
            .any(|p| s(&p["location"]).contains("SOFTWARE")),
        "{problems:?}"
    );
    assert_eq!(of_type(&all, "autostart").len(), 1, "the rest is listed");
    let o = t.run(&["persistence", "--root", root]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("takedown: error: ") && stderr(&o).contains("SOFTWARE"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("Problems: 1"), "{}", stdout(&o));

    // Found beats the problem: 1.
    put(&r, "ProgramData/svc.exe", eicar());
    let o = t.json(&["--persistence", "--root", root]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(findings(&o).len(), 1);
}

#[test]
fn digests_are_bounded_and_can_be_left_out() {
    let t = Tree::new();
    let r = linux_root(&t);
    let root = r.to_str().unwrap();
    // The 68-byte EICAR programs are over a 19-byte limit, and so is
    // keycmd (20 bytes); .bashrc (17) is not.
    let o = t.run(&[
        "persistence",
        "--root",
        root,
        "--format",
        "json",
        "--max-hash-size",
        "19",
    ]);
    assert_eq!(code(&o), 0, "a limit is not a problem: {}", stderr(&o));
    let all = json_records(&o);
    for a in of_type(&all, "autostart") {
        let d = &a["digests"];
        if s(&a["target"]).ends_with(".bashrc") {
            assert_eq!(d["size"], 17);
            assert!(d.get("sha256").is_some());
        } else {
            assert_eq!(d["limit"], 19, "{a}");
            assert!(d.get("sha256").is_none(), "{a}");
        }
    }
    assert_eq!(all.last().unwrap()["over_limit"], 4);
    let o = t.run(&["persistence", "--root", root, "--max-hash-size", "19"]);
    assert!(
        stdout(&o).contains("  digests  not computed: larger than --max-hash-size (19 bytes)"),
        "{}",
        stdout(&o)
    );

    let o = t.run(&[
        "persistence",
        "--root",
        root,
        "--format",
        "json",
        "--no-digests",
    ]);
    assert_eq!(code(&o), 0);
    let all = json_records(&o);
    assert!(
        of_type(&all, "autostart")
            .iter()
            .all(|a| a.get("digests").is_none())
    );
    assert_eq!(all.last().unwrap()["hashed"], 0);
    let o = t.run(&["persistence", "--root", root, "--no-digests"]);
    assert!(!stdout(&o).contains("sha256"), "{}", stdout(&o));
}

#[test]
fn unreadable_program_is_a_problem() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let t = Tree::new();
    let r = linux_root(&t);
    let keycmd = r.join("opt/keycmd");
    std::fs::set_permissions(&keycmd, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut c = t.cmd();
    c.args([
        "persistence",
        "--root",
        r.to_str().unwrap(),
        "--format",
        "json",
    ]);
    if is_root() {
        // Root reads any file: the listing runs as nobody, who can reach
        // the tree but not read keycmd.
        std::fs::set_permissions(t.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
        c.uid(65534).gid(65534);
    }
    let o = run_with_timeout(c, 120);
    assert_eq!(code(&o), 2);
    let all = json_records(&o);
    let p = of_type(&all, "problem");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0]["location"], keycmd.to_str().unwrap());
}

#[test]
fn a_root_that_is_no_system_is_an_error() {
    let t = Tree::new();
    t.write("empty/x", "");
    for args in [
        vec!["persistence", "--root", "/nonexistent-root"],
        vec!["persistence", "--root", &t.arg("empty")],
        vec!["scan", "--persistence", "--root", &t.arg("empty")],
        vec!["persistence", "--root", &t.arg("empty/x")],
    ] {
        let o = t.run(&args);
        assert_eq!(code(&o), 2, "{args:?}");
        assert!(stderr(&o).contains("--root"), "{}", stderr(&o));
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    let o = t.run(&["persistence", "--root", &t.arg("empty")]);
    assert!(
        stderr(&o).contains("neither a Windows volume"),
        "{}",
        stderr(&o)
    );
}
