//! Restorable hive edits checked by the reference tools: hives built at
//! test time (a minimal empty hive written here, filled with Debian's
//! `hivexsh`), edited by `windows::edit::apply`, then listed in full by
//! `reglookup` and by hivex (`hivexml`, `hivexsh`, `hivexget`) before and
//! after: exactly the value, key or list item asked goes, everything else
//! reads as before. Large subkey lists (hivex's own, and an index root
//! crafted here) lose their first, middle and last keys; dirty, damaged,
//! truncated and cyclic hives are errors, never panics. Then every
//! Windows entry kind carries its `disable`, and disabling the detected
//! ones through `disable::plan`/`apply` takes exactly them off the next
//! listing. Skips with a message when the tools are missing, except
//! under CI (env CI set), where that fails.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use takedown_persist::disable::{self, Change};
use takedown_persist::testing::{
    V, build_hive, checksum, empty_hive, have, hivexget, hivexsh, set, u32_at,
};
use takedown_persist::windows::edit::{HiveEdit, apply};
use takedown_persist::windows::{self, hive::Hive};
use takedown_persist::{Disable, Entry};

fn tools() -> bool {
    ["hivexsh", "hivexget", "hivexml", "reglookup"]
        .iter()
        .all(|t| have(t))
}

/// Every key and value as `reglookup` lists them, without the keys'
/// modification times (an edited key's time changes).
fn reglookup(hive: &Path) -> BTreeSet<String> {
    let out = Command::new("reglookup")
        .args(["-v", "-H"])
        .arg(hive)
        .output()
        .unwrap();
    assert!(out.status.success(), "reglookup: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    // Verbose, reglookup says on stderr what it finds wrong in a hive (a
    // subkey count its lists do not hold, a bad record): WARN or ERROR.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("WARN") && !err.contains("ERROR"),
        "reglookup: {err}"
    );
    text.lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(head, _)| head).to_string())
        .collect()
}

/// Every key and value as hivex reads them (`hivexml`, flattened to one
/// line each: `KEY path` and `VAL path\name <type and data>`), without
/// cell offsets and times.
fn hivex_listing(hive: &Path) -> BTreeSet<String> {
    let out = Command::new("hivexml").arg(hive).output().unwrap();
    assert!(out.status.success(), "hivexml: {out:?}");
    let xml = String::from_utf8_lossy(&out.stdout).into_owned();
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + tag[start..].find('"')?;
        Some(tag[start..end].to_string())
    };
    let mut lines = BTreeSet::new();
    let mut path: Vec<String> = Vec::new();
    let mut value: Option<String> = None;
    for piece in xml.split('<').skip(1) {
        let (tag, text) = piece.split_once('>').unwrap();
        let closed = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        if tag.starts_with("node ") {
            path.push(attr(tag, "name").unwrap());
            lines.insert(format!("KEY {}", path.join("\\")));
            if closed {
                path.pop();
            }
        } else if tag == "/node" {
            path.pop();
        } else if let Some(rest) = tag.strip_prefix("value ") {
            let name = attr(tag, "key").unwrap_or_else(|| "@".into());
            let line = format!("VAL {}\\{name} {rest}", path.join("\\"));
            if closed {
                lines.insert(line);
            } else {
                value = Some(line);
            }
        } else if tag == "string" {
            if let Some(v) = value.as_mut() {
                v.push_str(&format!(" |{text}"));
            }
        } else if tag == "/value"
            && let Some(v) = value.take()
        {
            lines.insert(v);
        }
    }
    lines
}

/// Both listings of a hive.
fn listings(hive: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    (reglookup(hive), hivex_listing(hive))
}

/// Checks that `after` is `before` less the lines `gone` says, plus one
/// line ending with each of `new`.
fn check_diff(
    tool: &str,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
    gone: impl Fn(&str) -> bool,
    new: &[&str],
) {
    let removed: BTreeSet<&String> = before.difference(after).collect();
    let want_removed: BTreeSet<&String> = before.iter().filter(|l| gone(l)).collect();
    assert_eq!(removed, want_removed, "{tool}: lines removed");
    let added: Vec<&String> = after.difference(before).collect();
    assert_eq!(added.len(), new.len(), "{tool}: lines added {added:#?}");
    for n in new {
        assert!(
            added.iter().any(|a| a.ends_with(n)),
            "{tool}: no new line with {n:?} in {added:#?}"
        );
    }
}

const NT: &str = r"Microsoft\Windows NT\CurrentVersion";
const CV: &str = r"Microsoft\Windows\CurrentVersion";

fn dv(key: &str, value: &str) -> HiveEdit {
    HiveEdit::DeleteValue {
        key: key.into(),
        value: value.into(),
    }
}

fn dk(key: &str) -> HiveEdit {
    HiveEdit::DeleteKey { key: key.into() }
}

fn item(key: &str, value: &str, item: &str) -> HiveEdit {
    HiveEdit::RemoveListItem {
        key: key.into(),
        value: value.into(),
        item: item.into(),
    }
}

#[test]
fn every_edit_kind_checked_by_hivex_and_reglookup() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let hive = d.path().join("SOFTWARE");
    let run = format!(r"{CV}\Run");
    let wl = format!(r"{NT}\Winlogon");
    let win = format!(r"{NT}\Windows");
    let ifeo = format!(r"{NT}\Image File Execution Options\sethc.exe");
    let sm = r"ControlSet001\Control\Session Manager";
    build_hive(
        &hive,
        &[
            (
                &run,
                vec![
                    ("Updater", V::Sz(r"C:\ProgramData\upd.exe")),
                    ("Evil", V::Sz(r"C:\ProgramData\evil.exe -q")),
                    ("Helper", V::Expand(r"%ProgramFiles%\h.exe")),
                    // One character: hivex stores it inline in the value.
                    ("Short", V::Sz("x")),
                    ("T", V::Sz("y")),
                ],
            ),
            (
                &wl,
                vec![
                    ("Shell", V::Sz(r"explorer.exe,C:\ProgramData\evil.exe")),
                    (
                        "Userinit",
                        V::Sz(r"C:\Windows\system32\userinit.exe,C:\ProgramData\ui.exe,"),
                    ),
                    ("AutoRestartShell", V::Dword(1)),
                ],
            ),
            (
                &win,
                vec![
                    ("AppInit_DLLs", V::Sz(r"C:\ok.dll C:\ProgramData\evil.dll")),
                    ("LoadAppInit_DLLs", V::Dword(1)),
                ],
            ),
            (
                &ifeo,
                vec![
                    ("Debugger", V::Sz(r"C:\Windows\System32\cmd.exe")),
                    ("GlobalFlag", V::Dword(0x200)),
                ],
            ),
            (
                sm,
                vec![
                    (
                        "BootExecute",
                        V::Multi(&["autocheck autochk *", "evilboot", "other x"]),
                    ),
                    ("Other", V::Sz("kept")),
                ],
            ),
            (
                r"ControlSet001\Services\EvilSvc",
                vec![("ImagePath", V::Sz(r"C:\ProgramData\svc.exe"))],
            ),
            (
                r"ControlSet001\Services\EvilSvc\Parameters",
                vec![("ServiceDll", V::Expand(r"C:\ProgramData\svc.dll"))],
            ),
            (r"ControlSet001\Services\EvilSvc\Enum\Deep", vec![]),
            (
                r"ControlSet001\Services\Good",
                vec![("ImagePath", V::Sz(r"C:\Windows\good.exe"))],
            ),
        ],
    );
    let original = fs::read(&hive).unwrap();
    let (reg_before, hx_before) = listings(&hive);
    assert!(reg_before.contains(&format!("/{},SZ,x", run.replace('\\', "/") + "/Short")));

    let edits = [
        dv(&run, "Evil"),
        dv(&run.to_ascii_lowercase(), "SHORT"),
        dv(&ifeo, "Debugger"),
        item(&wl, "Shell", r"C:\ProgramData\evil.exe"),
        item(&wl, "Userinit", r"C:\ProgramData\ui.exe"),
        item(&win, "AppInit_DLLs", r"C:\ProgramData\evil.dll"),
        item(sm, "BootExecute", "evilboot"),
        dk(r"ControlSet001\Services\EvilSvc"),
    ];
    let out = apply(&original, &edits).unwrap();
    assert_eq!(fs::read(&hive).unwrap(), original, "apply does not write");
    fs::write(&hive, &out).unwrap();

    // Base block: clean, sequence numbers moved on together.
    assert_eq!(u32_at(&out, 4), u32_at(&out, 8));
    assert_eq!(u32_at(&out, 4), u32_at(&original, 4) + 1);

    let (reg_after, hx_after) = listings(&hive);
    let slash = |p: &str| format!("/{}", p.replace('\\', "/"));
    let svc = slash(r"ControlSet001\Services\EvilSvc");
    let reg_gone = |l: &str| {
        l.starts_with(&format!("{}/Evil,", slash(&run)))
            || l.starts_with(&format!("{}/Short,", slash(&run)))
            || l.starts_with(&format!("{}/Debugger,", slash(&ifeo)))
            || l.starts_with(&format!("{}/Shell,", slash(&wl)))
            || l.starts_with(&format!("{}/Userinit,", slash(&wl)))
            || l.starts_with(&format!("{}/AppInit_DLLs,", slash(&win)))
            || l.starts_with(&format!("{}/BootExecute,", slash(sm)))
            || l.starts_with(&format!("{svc},"))
            || l.starts_with(&format!("{svc}/"))
    };
    // The keys edited show a new time (reglookup prints it on key lines,
    // cut off here), so their lines stay equal.
    check_diff(
        "reglookup",
        &reg_before,
        &reg_after,
        reg_gone,
        &[
            "/Winlogon/Shell,SZ,explorer.exe",
            r"/Winlogon/Userinit,SZ,C:\Windows\system32\userinit.exe%2C",
            r"/AppInit_DLLs,SZ,C:\ok.dll",
            "/BootExecute,MULTI_SZ,autocheck autochk *|other x",
        ],
    );
    let hx = |p: &str| format!(r"ROOT\{p}");
    let hx_gone = |l: &str| {
        l.starts_with(&format!(r"VAL {}\Evil ", hx(&run)))
            || l.starts_with(&format!(r"VAL {}\Short ", hx(&run)))
            || l.starts_with(&format!(r"VAL {}\Debugger ", hx(&ifeo)))
            || l.starts_with(&format!(r"VAL {}\Shell ", hx(&wl)))
            || l.starts_with(&format!(r"VAL {}\Userinit ", hx(&wl)))
            || l.starts_with(&format!(r"VAL {}\AppInit_DLLs ", hx(&win)))
            || l.starts_with(&format!(r"VAL {}\BootExecute ", hx(sm)))
            || l.contains(r"\Services\EvilSvc")
    };
    check_diff(
        "hivex",
        &hx_before,
        &hx_after,
        hx_gone,
        &[
            r#"value="explorer.exe""#,
            r#"value="C:\Windows\system32\userinit.exe,""#,
            r#"value="C:\ok.dll""#,
            // hivex shows the empty string ending the list, as before.
            r#"key="BootExecute" |autocheck autochk * |other x |"#,
        ],
    );
    // And one by one with hivexget / hivexsh.
    assert_eq!(hivexget(&hive, &format!(r"\{wl}"), "Shell"), "explorer.exe");
    assert_eq!(hivexget(&hive, &format!(r"\{run}"), "T"), "y");
    let ls = hivexsh(&hive, "cd \\ControlSet001\\Services\nls\n", false);
    assert_eq!(ls.split_whitespace().collect::<Vec<_>>(), ["Good"]);
    let lsval = hivexsh(&hive, &format!("cd \\{run}\nlsval\n"), false);
    assert!(
        !lsval.contains("Evil") && lsval.contains("Updater"),
        "{lsval}"
    );
    // Our own reader agrees.
    let mut h = Hive::from_bytes(out.clone(), vec![]).unwrap();
    assert!(h.key(&run).unwrap().value("Evil").is_none());

    // Edits that do not apply: a missing key or value, an item not there,
    // the last item of a list. The hive is left as it was.
    for (e, why) in [
        (dv(&run, "Evil"), "no value \"Evil\""),
        (dk(r"ControlSet001\Services\EvilSvc"), "no key"),
        (item(&wl, "Shell", "explorer.exe"), "empty"),
        (item(&wl, "Shell", "evil.exe"), "not in the list"),
        (item(&run, "T", "y"), "empty"),
    ] {
        let err = apply(&out, &[e]).unwrap_err();
        assert!(err.contains(why), "{err}");
    }
}

/// `hivexsh ls` of `key`, in order.
fn hivex_ls(hive: &Path, key: &str) -> Vec<String> {
    hivexsh(hive, &format!("cd \\{key}\nls\n"), false)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Subkeys of `key` as `reglookup` lists them (names).
fn reglookup_subkeys(hive: &Path, key: &str) -> Vec<String> {
    let prefix = format!("/{key}/");
    let mut v: Vec<String> = reglookup(hive)
        .into_iter()
        .filter_map(|l| {
            let (path, kind) = l.split_once(',')?;
            let name = path.strip_prefix(&prefix)?;
            (kind.starts_with("KEY") && !name.contains('/')).then(|| name.to_string())
        })
        .collect();
    v.sort();
    v
}

fn names(range: impl Iterator<Item = usize>) -> Vec<String> {
    range.map(|i| format!("K{i:03}")).collect()
}

/// The hive's `Many` key with `n` subkeys K000..: its bytes, and the file
/// offset of `Many`'s key node.
fn many(dir: &Path, n: usize) -> (PathBuf, usize) {
    let hive = dir.join("many");
    fs::write(&hive, empty_hive()).unwrap();
    let mut script = String::from("add Many\ncd Many\nsetval 1\nV\nstring:kept\n");
    for i in 0..n {
        script.push_str(&format!("add K{i:03}\n"));
    }
    script.push_str("commit\n");
    hivexsh(&hive, &script, true);
    let b = fs::read(&hive).unwrap();
    // The root's only subkey.
    let root = 4096 + 0x20;
    let list = 4096 + u32_at(&b, root + 4 + 28) as usize;
    assert_eq!(&b[list + 4..list + 6], b"lh");
    let nk = 4096 + u32_at(&b, list + 8) as usize;
    assert_eq!(&b[nk + 4 + 76..nk + 4 + 80], b"Many");
    (hive, nk)
}

/// Moves `Many`'s subkeys into an index root over leaves of `per` keys,
/// in a hive bin appended for them. The file offset of the index root.
fn split_into_index_root(hive: &Path, nk: usize, per: usize) -> usize {
    let mut b = fs::read(hive).unwrap();
    let bins = u32_at(&b, 40) as usize;
    assert_eq!(b.len(), 4096 + bins, "no data after the bins");
    let list = 4096 + u32_at(&b, nk + 4 + 28) as usize;
    let count = u16::from_le_bytes([b[list + 6], b[list + 7]]) as usize;
    let entries: Vec<[u8; 8]> = (0..count)
        .map(|i| b[list + 8 + 8 * i..list + 16 + 8 * i].try_into().unwrap())
        .collect();
    let mut cells: Vec<u8> = Vec::new();
    let mut leaves = Vec::new();
    let cell = |cells: &mut Vec<u8>, data: &[u8]| -> u32 {
        let len = (data.len() + 4).div_ceil(8) * 8;
        let at = bins + 32 + cells.len();
        cells.extend((-(len as i32)).to_le_bytes());
        cells.extend(data);
        cells.resize(at - bins - 32 + len, 0);
        at as u32
    };
    for chunk in entries.chunks(per) {
        let mut d = b"lh".to_vec();
        d.extend((chunk.len() as u16).to_le_bytes());
        for e in chunk {
            d.extend(e);
        }
        leaves.push(cell(&mut cells, &d));
    }
    let mut d = b"ri".to_vec();
    d.extend((leaves.len() as u16).to_le_bytes());
    for l in &leaves {
        d.extend(l.to_le_bytes());
    }
    let ri = cell(&mut cells, &d);
    let size = (cells.len() + 32 + 8).div_ceil(4096) * 4096;
    let mut bin = vec![0u8; size];
    set(&mut bin, 0, b"hbin");
    set(&mut bin, 4, &(bins as u32).to_le_bytes());
    set(&mut bin, 8, &(size as u32).to_le_bytes());
    set(&mut bin, 32, &cells);
    let free = 32 + cells.len();
    set(&mut bin, free, &((size - free) as i32).to_le_bytes());
    b.extend(bin);
    set(&mut b, 40, &((bins + size) as u32).to_le_bytes());
    set(&mut b, nk + 4 + 28, &ri.to_le_bytes());
    checksum(&mut b);
    fs::write(hive, &b).unwrap();
    4096 + ri as usize
}

/// Applies `edits` to the hive file in place.
fn edit_file(hive: &Path, edits: &[HiveEdit]) {
    let out = apply(&fs::read(hive).unwrap(), edits).unwrap();
    fs::write(hive, out).unwrap();
}

/// Checks `Many` lists `want` with hivex and reglookup, and its value.
fn check_many(hive: &Path, want: &[String]) {
    assert_eq!(hivex_ls(hive, "Many"), want, "hivexsh ls");
    assert_eq!(reglookup_subkeys(hive, "Many"), want, "reglookup");
    assert_eq!(hivexget(hive, r"\Many", "V"), "kept");
}

#[test]
fn many_subkeys_first_middle_last() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (hive, _) = many(d.path(), 300);
    let original = fs::read(&hive).unwrap();
    check_many(&hive, &names(0..300));
    for gone in [0usize, 150, 299] {
        fs::write(&hive, &original).unwrap();
        edit_file(&hive, &[dk(&format!(r"Many\K{gone:03}"))]);
        check_many(&hive, &names((0..300).filter(|&i| i != gone)));
    }
    // All of them, in one call.
    fs::write(&hive, &original).unwrap();
    let all: Vec<HiveEdit> = (0..300).map(|i| dk(&format!(r"Many\K{i:03}"))).collect();
    edit_file(&hive, &all);
    check_many(&hive, &[]);
}

#[test]
fn index_root_first_middle_last_and_an_emptied_leaf() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (hive, nk) = many(d.path(), 300);
    let ri = split_into_index_root(&hive, nk, 100);
    // The reference tools read the crafted index root as the list was.
    check_many(&hive, &names(0..300));
    let original = fs::read(&hive).unwrap();
    // First and last of each leaf, and the middle.
    let gone = [0usize, 99, 100, 150, 199, 200, 299];
    let edits: Vec<HiveEdit> = gone.iter().map(|i| dk(&format!(r"Many\K{i:03}"))).collect();
    edit_file(&hive, &edits);
    check_many(&hive, &names((0..300).filter(|i| !gone.contains(i))));
    // One at a time too (each a separate edit of the file).
    fs::write(&hive, &original).unwrap();
    for i in [299usize, 0, 150] {
        edit_file(&hive, &[dk(&format!(r"Many\K{i:03}"))]);
    }
    check_many(
        &hive,
        &names((0..300).filter(|i| ![0, 150, 299].contains(i))),
    );
    // The middle leaf emptied: it leaves the index root.
    fs::write(&hive, &original).unwrap();
    let edits: Vec<HiveEdit> = (100..200).map(|i| dk(&format!(r"Many\K{i:03}"))).collect();
    edit_file(&hive, &edits);
    check_many(&hive, &names((0..100).chain(200..300)));
    let b = fs::read(&hive).unwrap();
    assert_eq!(&b[ri + 4..ri + 6], b"ri");
    assert_eq!(u16::from_le_bytes([b[ri + 6], b[ri + 7]]), 2);
    // hivex can still write the edited hive: a key added through the
    // index root lists with the others.
    let saved = fs::read(&hive).unwrap();
    hivexsh(&hive, "cd \\Many\nadd K150\ncommit\n", true);
    let mut want = names((0..100).chain(200..300));
    want.push("K150".into());
    want.sort();
    check_many(&hive, &want);
    fs::write(&hive, saved).unwrap();
    // Then everything: no list left.
    let edits: Vec<HiveEdit> = (0..100)
        .chain(200..300)
        .map(|i| dk(&format!(r"Many\K{i:03}")))
        .collect();
    edit_file(&hive, &edits);
    check_many(&hive, &[]);
    let b = fs::read(&hive).unwrap();
    assert_eq!(u32_at(&b, nk + 4 + 28), u32::MAX);
    assert_eq!(u32_at(&b, nk + 4 + 20), 0);
}

#[test]
fn dirty_damaged_truncated_and_cyclic_hives_are_refused() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (hive, nk) = many(d.path(), 40);
    let good = fs::read(&hive).unwrap();
    let edits = [dk(r"Many\K003"), dv("Many", "V")];
    assert!(apply(&good, &edits).is_ok());
    let refused = |b: &[u8], why: &str| {
        let e = apply(b, &edits).unwrap_err();
        assert!(e.contains(why), "{why}: {e}");
    };
    // Dirty: an unfinished write (primary sequence ahead), checksum right.
    let mut b = good.clone();
    let ahead = u32_at(&b, 8) + 1;
    set(&mut b, 4, &ahead.to_le_bytes());
    checksum(&mut b);
    refused(&b, "dirty");
    // A wrong checksum.
    let mut b = good.clone();
    b[0x1FC] ^= 0x55;
    refused(&b, "checksum");
    // Truncated anywhere.
    for len in (0..good.len()).step_by(1013) {
        assert!(apply(&good[..len], &edits).is_err(), "cut at {len}");
    }
    // A subkey list naming the root: a cycle.
    let list = 4096 + u32_at(&good, nk + 4 + 28) as usize;
    let mut b = good.clone();
    set(&mut b, list + 8 + 8 * 5, &0x20u32.to_le_bytes());
    refused(&b, "twice");
    // A subkey list naming `Many` itself.
    let mut b = good.clone();
    set(&mut b, list + 8, &((nk - 4096) as u32).to_le_bytes());
    refused(&b, "twice");
    // A subkey list naming the middle of a cell.
    let mut b = good.clone();
    set(&mut b, list + 8, &((nk - 4096 + 8) as u32).to_le_bytes());
    refused(&b, "not an allocated cell");
    // The subkey count above what the list holds.
    let mut b = good.clone();
    set(&mut b, nk + 4 + 20, &41u32.to_le_bytes());
    refused(&b, "counts 41 subkeys");
    // Random damage: an error or a hive that opens, never a panic.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..300 {
        let mut b = good.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = 4096 + (seed as usize % (b.len() - 4096));
            b[i] = (seed >> 32) as u8;
        }
        if let Ok(out) = apply(&b, &edits) {
            assert!(Hive::from_bytes(out, vec![]).is_ok());
        }
    }
}

// ---- Every Windows entry kind and its disable ----

const G1: &str = "{11111111-1111-1111-1111-111111111111}";
const G2: &str = "{22222222-2222-2222-2222-222222222222}";
const SID: &str = "S-1-5-21-1-2-3-1001";

fn task_xml(command: &str) -> Vec<u8> {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Actions Context="Author"><Exec><Command>{command}</Command></Exec></Actions>
</Task>"#
    );
    let mut b = vec![0xFF, 0xFE];
    b.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
    b
}

/// A shortcut with only its header (no target).
fn bare_lnk() -> Vec<u8> {
    let mut b = vec![0u8; 0x4C];
    set(&mut b, 0, &0x4Cu32.to_le_bytes());
    set(
        &mut b,
        4,
        &[1, 0x14, 2, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46],
    );
    b
}

fn volume() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let cfg = r.join("Windows/System32/config");
    let tc = format!(r"{NT}\Schedule\TaskCache");
    build_hive(
        &cfg.join("SOFTWARE"),
        &[
            (NT, vec![("SystemRoot", V::Sz(r"C:\Windows"))]),
            (
                &format!(r"{CV}\Run"),
                vec![
                    ("Evil", V::Sz(r"C:\ProgramData\evil.exe")),
                    ("Good", V::Sz(r"C:\Windows\good.exe")),
                ],
            ),
            (
                &format!(r"{CV}\RunOnceEx\0001"),
                vec![("1", V::Sz(r"C:\ProgramData\rox.exe"))],
            ),
            (
                &format!(r"{NT}\Winlogon"),
                vec![
                    ("Shell", V::Sz("explorer.exe")),
                    (
                        "Userinit",
                        V::Sz(r"C:\Windows\system32\userinit.exe,C:\ProgramData\ui.exe,"),
                    ),
                ],
            ),
            (
                &format!(r"{NT}\Windows"),
                vec![("AppInit_DLLs", V::Sz(r"C:\ProgramData\appinit.dll"))],
            ),
            (
                &format!(r"Wow6432Node\{NT}\Windows"),
                vec![(
                    "AppInit_DLLs",
                    V::Sz(r"C:\Windows\ok32.dll,C:\ProgramData\evil32.dll"),
                )],
            ),
            (
                &format!(r"{NT}\Image File Execution Options\sethc.exe"),
                vec![("Debugger", V::Sz(r"C:\Windows\System32\cmd.exe"))],
            ),
            (
                &format!(r"{NT}\ProfileList\{SID}"),
                vec![("ProfileImagePath", V::Expand(r"%SystemDrive%\Users\alice"))],
            ),
            (
                &format!(r"{tc}\Tree\Updates\Daily"),
                vec![("Id", V::Sz(G1))],
            ),
            (
                &format!(r"{tc}\Tasks\{G1}"),
                vec![("Path", V::Sz(r"\Updates\Daily"))],
            ),
            (&format!(r"{tc}\Logon\{G1}"), vec![]),
            (
                &format!(r"{tc}\Tasks\{G2}"),
                vec![("Path", V::Sz(r"\Hidden"))],
            ),
            (&format!(r"{tc}\Boot\{G2}"), vec![]),
        ],
    );
    build_hive(
        &cfg.join("SYSTEM"),
        &[
            ("Select", vec![("Current", V::Dword(1))]),
            (
                r"ControlSet001\Services\EvilSvc",
                vec![("ImagePath", V::Sz(r"C:\ProgramData\svc.exe"))],
            ),
            (
                r"ControlSet001\Services\EvilHost",
                vec![("ImagePath", V::Sz(r"svchost.exe -k netsvcs"))],
            ),
            (
                r"ControlSet001\Services\EvilHost\Parameters",
                vec![("ServiceDll", V::Sz(r"C:\ProgramData\host.dll"))],
            ),
            (
                r"ControlSet001\Control\Session Manager",
                vec![(
                    "BootExecute",
                    V::Multi(&["autocheck autochk *", "evilboot"]),
                )],
            ),
            // LastKnownGood's copy: the same service, and one configured
            // otherwise.
            (
                r"ControlSet002\Services\EvilSvc",
                vec![("ImagePath", V::Sz(r"C:\ProgramData\svc.exe"))],
            ),
            (
                r"ControlSet002\Services\EvilHost",
                vec![("ImagePath", V::Sz(r"svchost.exe -k netsvcs"))],
            ),
            (
                r"ControlSet002\Services\EvilHost\Parameters",
                vec![("ServiceDll", V::Sz(r"C:\Windows\old.dll"))],
            ),
        ],
    );
    build_hive(
        &r.join("Users/alice/NTUSER.DAT"),
        &[
            (
                &format!(r"Software\{CV}\Run"),
                vec![("UserRun", V::Sz(r"C:\ProgramData\u.exe"))],
            ),
            (
                &format!(r"Software\{NT}\Winlogon"),
                vec![("Shell", V::Sz(r"C:\ProgramData\shell.exe"))],
            ),
        ],
    );
    let file = |rel: &str, bytes: &[u8]| {
        let p = r.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    };
    file(
        "Windows/System32/Tasks/Evil Task",
        &task_xml(r"C:\ProgramData\task.exe"),
    );
    let startup = "ProgramData/Microsoft/Windows/Start Menu/Programs/StartUp";
    file(&format!("{startup}/evil.bat"), b"@echo off");
    file(&format!("{startup}/evil.lnk"), &bare_lnk());
    d
}

/// The entry of `mechanism` whose command is `command` (or whose name
/// is, for entries without one).
fn find<'a>(entries: &'a [Entry], mechanism: &str, command: &str) -> &'a Entry {
    let v: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            e.mechanism == mechanism
                && (e.command.as_deref() == Some(command)
                    || (e.command.is_none() && e.name == command))
        })
        .collect();
    assert_eq!(v.len(), 1, "{mechanism} {command}: {entries:#?}");
    v[0]
}

#[test]
fn every_windows_entry_kind_has_its_disable_and_it_works() {
    if !tools() {
        return;
    }
    let d = volume();
    let r = d.path();
    let cfg = r.join("Windows/System32/config");
    let (sw, sys, user) = (
        cfg.join("SOFTWARE"),
        cfg.join("SYSTEM"),
        r.join("Users/alice/NTUSER.DAT"),
    );
    let inv = windows::collect(r);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let e = &inv.entries;
    let key = |hive: &Path, key: &str| Disable::RegistryKey {
        hive: hive.to_path_buf(),
        key: key.to_string(),
    };
    let val = |hive: &Path, key: &str, value: &str| Disable::RegistryValue {
        hive: hive.to_path_buf(),
        key: key.to_string(),
        value: value.to_string(),
    };
    let li = |hive: &Path, key: &str, value: &str, item: &str| Disable::RegistryListItem {
        hive: hive.to_path_buf(),
        key: key.to_string(),
        value: value.to_string(),
        item: item.to_string(),
    };
    let tc = format!(r"{NT}\Schedule\TaskCache");
    let startup = r.join("ProgramData/Microsoft/Windows/Start Menu/Programs/StartUp");
    let cases: Vec<(&Entry, Option<Disable>)> = vec![
        (
            find(e, "run-key", r"C:\ProgramData\evil.exe"),
            Some(val(&sw, &format!(r"{CV}\Run"), "Evil")),
        ),
        (
            find(e, "run-key", r"C:\ProgramData\rox.exe"),
            Some(val(&sw, &format!(r"{CV}\RunOnceEx\0001"), "1")),
        ),
        (
            find(e, "run-key", r"C:\ProgramData\u.exe"),
            Some(val(&user, &format!(r"Software\{CV}\Run"), "UserRun")),
        ),
        // The machine's only shell: left alone.
        (find(e, "winlogon", "explorer.exe"), None),
        (
            find(e, "winlogon", r"C:\ProgramData\ui.exe"),
            Some(li(
                &sw,
                &format!(r"{NT}\Winlogon"),
                "Userinit",
                r"C:\ProgramData\ui.exe",
            )),
        ),
        // A user's own shell: the value goes, the machine's applies.
        (
            find(e, "winlogon", r"C:\ProgramData\shell.exe"),
            Some(val(&user, &format!(r"Software\{NT}\Winlogon"), "Shell")),
        ),
        (
            find(e, "appinit-dlls", r"C:\ProgramData\appinit.dll"),
            Some(val(&sw, &format!(r"{NT}\Windows"), "AppInit_DLLs")),
        ),
        (
            find(e, "appinit-dlls", r"C:\ProgramData\evil32.dll"),
            Some(li(
                &sw,
                &format!(r"Wow6432Node\{NT}\Windows"),
                "AppInit_DLLs",
                r"C:\ProgramData\evil32.dll",
            )),
        ),
        (
            find(e, "ifeo-debugger", r"C:\Windows\System32\cmd.exe"),
            Some(val(
                &sw,
                &format!(r"{NT}\Image File Execution Options\sethc.exe"),
                "Debugger",
            )),
        ),
        (
            find(e, "scheduled-task", r"\Updates\Daily"),
            Some(Disable::All(vec![
                key(&sw, &format!(r"{tc}\Tree\Updates\Daily")),
                key(&sw, &format!(r"{tc}\Tasks\{G1}")),
                key(&sw, &format!(r"{tc}\Logon\{G1}")),
            ])),
        ),
        (
            find(e, "scheduled-task", r"\Hidden"),
            Some(Disable::All(vec![
                key(&sw, &format!(r"{tc}\Tasks\{G2}")),
                key(&sw, &format!(r"{tc}\Boot\{G2}")),
            ])),
        ),
        (
            find(e, "scheduled-task", r"C:\ProgramData\task.exe"),
            Some(Disable::File {
                path: r.join("Windows/System32/Tasks/Evil Task"),
            }),
        ),
        (
            find(e, "service", r"C:\ProgramData\svc.exe"),
            Some(Disable::All(vec![
                key(&sys, r"ControlSet001\Services\EvilSvc"),
                key(&sys, r"ControlSet002\Services\EvilSvc"),
            ])),
        ),
        // Its copy in ControlSet002 names another DLL: not touched.
        (
            find(e, "service", r"C:\ProgramData\host.dll"),
            Some(key(&sys, r"ControlSet001\Services\EvilHost")),
        ),
        (
            find(e, "service", r"svchost.exe -k netsvcs"),
            Some(key(&sys, r"ControlSet001\Services\EvilHost")),
        ),
        (
            find(e, "boot-execute", "evilboot"),
            Some(li(
                &sys,
                r"ControlSet001\Control\Session Manager",
                "BootExecute",
                "evilboot",
            )),
        ),
        (
            find(e, "startup-folder", "evil.bat"),
            Some(Disable::File {
                path: startup.join("evil.bat"),
            }),
        ),
        (
            find(e, "startup-folder", "evil.lnk"),
            Some(Disable::File {
                path: startup.join("evil.lnk"),
            }),
        ),
    ];
    for (entry, want) in &cases {
        assert_eq!(&entry.disable, want, "{entry:#?}");
    }
    // Every kind is covered.
    let kinds: BTreeSet<&str> = e.iter().map(|e| e.mechanism).collect();
    let covered: BTreeSet<&str> = cases.iter().map(|(e, _)| e.mechanism).collect();
    assert_eq!(kinds, covered);

    // Disabling the detected ones (every evil target): each hive edited
    // once with all its edits, files moved, and the next listing lacks
    // exactly those entries.
    let evil = |e: &Entry| {
        e.command
            .as_deref()
            .is_some_and(|c| c.contains(r"ProgramData\") || c == "evilboot")
            || matches!(e.mechanism, "startup-folder" | "scheduled-task")
    };
    let chosen: Vec<&Entry> = e.iter().filter(|e| evil(e)).collect();
    let changes = disable::plan(chosen.iter().filter_map(|e| e.disable.as_ref()));
    let mut edited = 0;
    for c in &changes {
        match c {
            Change::Remove { path } => fs::remove_file(path).unwrap(),
            Change::Edit { path, edits } => {
                let before = fs::read(path).unwrap();
                let after = disable::apply(edits, &before)
                    .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
                fs::write(path, after).unwrap();
                // The reference tools read the whole edited hive.
                reglookup(path);
                hivex_listing(path);
                edited += 1;
            }
        }
    }
    assert_eq!(edited, 3, "SOFTWARE, SYSTEM and NTUSER.DAT");
    let shown = |e: &Entry| {
        (
            e.mechanism,
            e.location.clone(),
            e.name.clone(),
            e.command.clone(),
        )
    };
    let after: BTreeSet<_> = windows::collect(r).entries.iter().map(shown).collect();
    let before: BTreeSet<_> = e.iter().map(shown).collect();
    let gone: BTreeSet<_> = before.difference(&after).cloned().collect();
    // Those chosen, and those disabled by the same change (a service's
    // ImagePath and ServiceDll entries go with its key).
    let disabled: Vec<&Disable> = chosen.iter().filter_map(|e| e.disable.as_ref()).collect();
    let want_gone: BTreeSet<_> = e
        .iter()
        .filter(|e| e.disable.as_ref().is_some_and(|d| disabled.contains(&d)))
        .map(shown)
        .collect();
    assert!(want_gone.len() > chosen.len());
    assert_eq!(gone, want_gone);
    assert!(after.is_subset(&before));
    // What stays, as the reference tools read it.
    assert_eq!(
        hivexget(&sw, &format!(r"\{NT}\Winlogon"), "Userinit"),
        r"C:\Windows\system32\userinit.exe,"
    );
    assert_eq!(
        hivexget(
            &sys,
            r"\ControlSet002\Services\EvilHost\Parameters",
            "ServiceDll"
        ),
        r"C:\Windows\old.dll"
    );
    assert_eq!(
        hivexget(&sw, &format!(r"\{CV}\Run"), "Good"),
        r"C:\Windows\good.exe"
    );
}
