//! The Windows file stores of an offline volume built in a temporary
//! directory: scheduled-task XML (UTF-16 LE with a BOM, as Windows writes
//! it) and Startup folders with shortcuts built byte by byte per
//! MS-SHLLINK; hostile task XML (entities, billion laughs, a 50 MB file,
//! deep nesting) and garbage shortcuts stay bounded and are reported.

use std::fs;
use std::time::{Duration, Instant};
use takedown_persist::testing::{put, shortcut, utf16le, utf16z};
use takedown_persist::windows::paths::Vars;
use takedown_persist::windows::{startup, tasks};
use takedown_persist::{Entry, Inventory};

fn task_xml(command: &str, args: &str, enabled: bool) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo><Author>x</Author></RegistrationInfo>
  <Triggers><LogonTrigger><Enabled>true</Enabled></LogonTrigger></Triggers>
  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel></Principal></Principals>
  <Settings><Enabled>{enabled}</Enabled></Settings>
  <Actions Context="Author"><Exec><Command>{command}</Command><Arguments>{args}</Arguments></Exec></Actions>
</Task>"#
    )
}

fn one<'a>(inv: &'a Inventory, location: &str) -> &'a Entry {
    let v: Vec<&Entry> = inv
        .entries
        .iter()
        .filter(|e| e.location == location)
        .collect();
    assert_eq!(v.len(), 1, "{location}: {inv:#?}");
    v[0]
}

fn volume() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for f in [
        "Windows/System32/cmd.exe",
        "Windows/System32/rundll32.exe",
        "ProgramData/x/evil.exe",
        "Program Files/Vendor App/app.exe",
        "Users/Public/evil.bat",
        "Users/alice/AppData/Roaming/s.dll",
    ] {
        put(t.path(), f, b"MZ");
    }
    t
}

#[test]
fn tasks_from_the_xml_store() {
    let t = volume();
    let r = t.path();
    let store = "Windows/System32/Tasks";
    put(
        r,
        &format!("{store}/Updater"),
        utf16le(&task_xml(
            r"%SystemRoot%\System32\cmd.exe",
            r"/c C:\Users\Public\evil.bat",
            true,
        )),
    );
    put(
        r,
        &format!("{store}/Microsoft/Windows/Vendor/App"),
        task_xml(r"C:\Program Files\Vendor App\app.exe", "-q &amp; -r", false).as_bytes(),
    );
    put(
        r,
        &format!("{store}/Dll"),
        utf16le(&task_xml(
            "rundll32.exe",
            r"%SystemDrive%\Users\alice\AppData\Roaming\s.dll,Start",
            true,
        )),
    );
    let inv = tasks::collect(r, &Vars::system());
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);

    let e = one(&inv, "/Windows/System32/Tasks/Updater");
    assert_eq!(e.mechanism, "scheduled-task");
    assert_eq!(e.name, r"\Updater");
    assert_eq!(e.user.as_deref(), Some("S-1-5-18"));
    assert_eq!(
        e.command.as_deref(),
        Some(r"%SystemRoot%\System32\cmd.exe /c C:\Users\Public\evil.bat")
    );
    assert_eq!(
        e.target,
        Some(r.join("Users/Public/evil.bat")),
        "cmd /c followed"
    );

    let e = one(&inv, "/Windows/System32/Tasks/Microsoft/Windows/Vendor/App");
    assert_eq!(e.name, r"\Microsoft\Windows\Vendor\App (disabled)");
    assert_eq!(
        e.command.as_deref(),
        Some(r"C:\Program Files\Vendor App\app.exe -q & -r")
    );
    assert_eq!(e.target, Some(r.join("Program Files/Vendor App/app.exe")));

    let e = one(&inv, "/Windows/System32/Tasks/Dll");
    assert_eq!(e.target, Some(r.join("Users/alice/AppData/Roaming/s.dll")));
}

#[test]
fn hostile_task_xml_is_bounded() {
    let t = volume();
    let r = t.path();
    let store = r.join("Windows/System32/Tasks");
    // Billion laughs: the entities are declared but never expanded.
    let mut dtd =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE Task [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    dtd.push_str("]>\n");
    let laughs =
        dtd.clone() + "<Task><Actions><Exec><Command>&lol9;</Command></Exec></Actions></Task>";
    put(r, "Windows/System32/Tasks/Laughs", utf16le(&laughs));
    // An external entity (would read a file of the rescue system).
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE Task [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
               <Task><Actions><Exec><Command>&x;</Command></Exec></Actions></Task>";
    put(r, "Windows/System32/Tasks/Xxe", xxe.as_bytes());
    // 50 MB (sparse): not read at all.
    let big = fs::File::create(store.join("Big")).unwrap();
    big.set_len(50 << 20).unwrap();
    // Deep nesting, a long text of references, not XML, not a task.
    let deep = "<Task>".to_string() + &"<a>".repeat(200_000);
    put(r, "Windows/System32/Tasks/Deep", deep.as_bytes());
    let refs = "<Task><Actions><Exec><Command>".to_string()
        + &"&amp;".repeat(150_000)
        + "</Command></Exec></Actions></Task>";
    put(r, "Windows/System32/Tasks/Refs", refs.as_bytes());
    put(
        r,
        "Windows/System32/Tasks/Junk",
        [0xFF, 0xFE, 0x00, 0xD8, 0x41],
    );
    put(r, "Windows/System32/Tasks/Other", b"<html/>");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/passwd", store.join("Link")).unwrap();

    let start = Instant::now();
    let inv = tasks::collect(r, &Vars::system());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );

    let e = one(&inv, "/Windows/System32/Tasks/Laughs");
    assert_eq!(e.command.as_deref(), Some("&lol9;"), "not expanded");
    let e = one(&inv, "/Windows/System32/Tasks/Xxe");
    assert_eq!(e.command.as_deref(), Some("&x;"), "no external entity read");
    let e = one(&inv, "/Windows/System32/Tasks/Refs");
    assert!(e.command.as_ref().unwrap().len() <= 4 * 32_767);
    let problem = |loc: &str, why: &str| {
        assert!(
            inv.problems
                .iter()
                .any(|p| p.location == loc && p.reason.contains(why)),
            "{loc}: {why}: {:#?}",
            inv.problems
        )
    };
    problem("/Windows/System32/Tasks/Big", "larger than");
    problem("/Windows/System32/Tasks/Deep", "deeper");
    problem("/Windows/System32/Tasks/Junk", "");
    problem("/Windows/System32/Tasks/Other", "not a task");
    #[cfg(unix)]
    problem("/Windows/System32/Tasks/Link", "symbolic link");
}

/// Random bytes never panic either parser.
#[test]
fn parsers_survive_random_bytes() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seed_lnk = shortcut(
        Some(&id_list(&["ProgramData", "x", "evil.exe"])),
        Some(r"C:\a.exe"),
        Some("-x"),
        Some("%windir%\\a.exe"),
    );
    let seed_xml = utf16le(&task_xml("a.exe", "b", true));
    for _ in 0..3000 {
        for seed in [&seed_lnk, &seed_xml] {
            let mut b = seed.clone();
            for _ in 0..(next() % 16) {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            b.truncate((next() as usize) % (b.len() + 1));
            let _ = startup::parse_lnk(&b);
            let _ = tasks::parse_task(&b);
        }
    }
}

// ---- Shortcuts built per MS-SHLLINK ----

/// A file entry shell item whose short name is useless (8.3) and whose
/// BEEF0004 extension (version 9) holds the long name.
fn file_item(long: &str) -> Vec<u8> {
    let mut body = vec![0x32, 0x00];
    body.extend(0u32.to_le_bytes()); // size
    body.extend(0u32.to_le_bytes()); // modified
    body.extend(0x20u16.to_le_bytes()); // attributes
    body.extend(b"LONGNA~1\0\0"); // short name, even length
    let ext_at = 2 + body.len();
    let mut ext = Vec::new();
    let name = utf16z(long);
    let ext_size = 0x2E + name.len() + 2;
    ext.extend((ext_size as u16).to_le_bytes());
    ext.extend(9u16.to_le_bytes());
    ext.extend([0x04, 0x00, 0xEF, 0xBE]);
    ext.resize(0x2E, 0);
    ext.extend(&name);
    ext.extend((ext_at as u16).to_le_bytes());
    body.extend(ext);
    let mut item = ((body.len() + 2) as u16).to_le_bytes().to_vec();
    item.extend(body);
    item
}

fn id_list(names: &[&str]) -> Vec<u8> {
    let mut items = Vec::new();
    // My Computer.
    items.extend(20u16.to_le_bytes());
    items.extend([0x1F, 0x50]);
    items.extend([
        0xE0, 0x4F, 0xD0, 0x20, 0xEA, 0x3A, 0x69, 0x10, 0xA2, 0xD8, 0x08, 0x00, 0x2B, 0x30, 0x30,
        0x9D,
    ]);
    // The volume.
    let mut vol = vec![0x2F];
    vol.extend(b"C:\\");
    vol.resize(23, 0);
    items.extend(((vol.len() + 2) as u16).to_le_bytes());
    items.extend(vol);
    for n in names {
        items.extend(file_item(n));
    }
    items.extend([0, 0]);
    items
}

#[test]
fn shortcuts_parse() {
    let s = startup::parse_lnk(&shortcut(
        None,
        Some(r"C:\ProgramData\x\evil.exe"),
        Some("-a b"),
        None,
    ))
    .unwrap();
    assert_eq!(
        s.link_info_path.as_deref(),
        Some(r"C:\ProgramData\x\evil.exe")
    );
    assert_eq!(
        s.command().as_deref(),
        Some(r"C:\ProgramData\x\evil.exe -a b")
    );
    let s = startup::parse_lnk(&shortcut(
        Some(&id_list(&["Program Files", "Vendor App", "app.exe"])),
        None,
        None,
        None,
    ))
    .unwrap();
    assert_eq!(
        s.id_list_path.as_deref(),
        Some(r"C:\Program Files\Vendor App\app.exe")
    );
    assert_eq!(
        s.command().as_deref(),
        Some(r#""C:\Program Files\Vendor App\app.exe""#)
    );
}

#[test]
fn startup_folders() {
    let t = volume();
    let r = t.path();
    let all = "ProgramData/Microsoft/Windows/Start Menu/Programs/StartUp";
    let alice = "Users/alice/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup";
    put(r, &format!("{all}/desktop.ini"), b"[.ShellClassInfo]");
    put(r, &format!("{all}/run.bat"), b"@echo off");
    put(
        r,
        &format!("{all}/Vendor.lnk"),
        shortcut(
            Some(&id_list(&["Program Files", "Vendor App", "app.exe"])),
            None,
            None,
            None,
        ),
    );
    put(
        r,
        &format!("{alice}/evil.lnk"),
        shortcut(
            Some(&id_list(&["Windows", "System32", "cmd.exe"])),
            Some(r"C:\Windows\System32\cmd.exe"),
            Some(r"/c %PUBLIC%\evil.bat"),
            Some(r"%windir%\system32\cmd.exe"),
        ),
    );
    put(
        r,
        &format!("{alice}/x.LNK"),
        shortcut(None, Some(r"C:\ProgramData\x\evil.exe"), None, None),
    );
    put(r, &format!("{alice}/broken.lnk"), b"not a link at all");
    #[cfg(unix)]
    {
        // A profile that is a link (like `Default User`) is not followed.
        std::os::unix::fs::symlink(r.join("Users/alice"), r.join("Users/Default User")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join(format!("{alice}/pw.lnk"))).unwrap();
    }
    let inv = startup::collect(r, &Vars::system());

    let loc = |f: &str| format!("/{f}");
    assert!(!inv.entries.iter().any(|e| e.name == "desktop.ini"));
    let e = one(&inv, &loc(&format!("{all}/run.bat")));
    assert_eq!(e.mechanism, "startup-folder");
    assert_eq!(e.user, None);
    assert_eq!(e.target, Some(r.join(format!("{all}/run.bat"))));

    let e = one(&inv, &loc(&format!("{all}/Vendor.lnk")));
    assert_eq!(e.target, Some(r.join("Program Files/Vendor App/app.exe")));

    let e = one(&inv, &loc(&format!("{alice}/evil.lnk")));
    assert_eq!(e.user.as_deref(), Some("alice"));
    assert_eq!(
        e.command.as_deref(),
        Some(r"%windir%\system32\cmd.exe /c %PUBLIC%\evil.bat")
    );
    assert_eq!(
        e.target,
        Some(r.join("Users/Public/evil.bat")),
        "cmd /c followed"
    );

    let e = one(&inv, &loc(&format!("{alice}/x.LNK")));
    assert_eq!(e.target, Some(r.join("ProgramData/x/evil.exe")));

    assert!(
        inv.problems
            .iter()
            .any(|p| p.location == loc(&format!("{alice}/broken.lnk"))),
        "{:?}",
        inv.problems
    );
    #[cfg(unix)]
    {
        assert!(
            inv.problems
                .iter()
                .any(|p| p.location == loc(&format!("{alice}/pw.lnk"))
                    && p.reason.contains("symbolic link"))
        );
        assert_eq!(
            inv.entries.len(),
            4,
            "the linked profile is not read twice: {inv:#?}"
        );
    }
}
