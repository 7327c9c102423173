//! Builders of the systems `takedown persistence` reads, at test time: an
//! offline Windows volume (registry hives made with Debian's `hivexsh`
//! from a minimal empty hive written here, scheduled-task XML in UTF-16,
//! TaskCache keys, Startup shortcuts built byte by byte per MS-SHLLINK)
//! and a Linux root. Copied in small from takedown-persist's own tests.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether `tool` runs; under CI (env CI set) a missing tool is a
/// failure, elsewhere the test says it skips.
pub fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing (Debian package libhivex-bin)"
        );
        eprintln!("skipped: {tool} is missing (Debian package libhivex-bin)");
    }
    ok
}

/// Writes `bytes` at `root/rel`, making the parents.
pub fn put(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = root.join(rel.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, bytes).unwrap();
    p
}

fn set(b: &mut [u8], off: usize, v: &[u8]) {
    b[off..off + v.len()].copy_from_slice(v);
}

/// A minimal empty hive: a base block (checksummed) and one hive bin
/// holding the root key, its security cell and one free cell.
pub fn empty_hive() -> Vec<u8> {
    let mut b = vec![0u8; 8192];
    set(&mut b, 0, b"regf");
    set(&mut b, 4, &1u32.to_le_bytes()); // primary sequence
    set(&mut b, 8, &1u32.to_le_bytes()); // secondary sequence
    set(&mut b, 20, &1u32.to_le_bytes()); // major
    set(&mut b, 24, &3u32.to_le_bytes()); // minor
    set(&mut b, 32, &1u32.to_le_bytes()); // direct memory load
    set(&mut b, 36, &0x20u32.to_le_bytes()); // root cell
    set(&mut b, 40, &4096u32.to_le_bytes()); // hive bins size
    set(&mut b, 44, &1u32.to_le_bytes()); // clustering factor
    let mut sum = 0u32;
    for i in 0..127 {
        sum ^= u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
    }
    set(&mut b, 0x1FC, &sum.to_le_bytes());
    let h = 4096;
    set(&mut b, h, b"hbin");
    set(&mut b, h + 8, &4096u32.to_le_bytes());
    let nk = h + 0x20;
    let sk_rel = 0x20 + 88;
    set(&mut b, nk, &(-88i32).to_le_bytes());
    set(&mut b, nk + 4, b"nk");
    set(&mut b, nk + 6, &0x2Cu16.to_le_bytes());
    set(&mut b, nk + 32, &u32::MAX.to_le_bytes()); // sub-key list
    set(&mut b, nk + 36, &u32::MAX.to_le_bytes()); // volatile list
    set(&mut b, nk + 44, &u32::MAX.to_le_bytes()); // value list
    set(&mut b, nk + 48, &(sk_rel as u32).to_le_bytes()); // security
    set(&mut b, nk + 52, &u32::MAX.to_le_bytes()); // class
    set(&mut b, nk + 76, &4u16.to_le_bytes());
    set(&mut b, nk + 80, b"ROOT");
    let sk = h + sk_rel;
    set(&mut b, sk, &(-48i32).to_le_bytes());
    set(&mut b, sk + 4, b"sk");
    set(&mut b, sk + 8, &(sk_rel as u32).to_le_bytes());
    set(&mut b, sk + 12, &(sk_rel as u32).to_le_bytes());
    set(&mut b, sk + 16, &1u32.to_le_bytes());
    set(&mut b, sk + 20, &20u32.to_le_bytes());
    set(&mut b, sk + 24, &[1, 0, 0x00, 0x80]);
    let free = sk_rel + 48;
    set(&mut b, h + free, &((4096 - free) as i32).to_le_bytes());
    b
}

/// A value for `hivexsh setval`.
pub enum V<'a> {
    Sz(&'a str),
    Expand(&'a str),
    Dword(u32),
    Bin(Vec<u8>),
}

fn hex(t: u32, b: &[u8]) -> String {
    let bytes: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("hex:{t}:{}", bytes.join(":"))
}

/// Writes an empty hive at `path` and fills it with `keys` (path from
/// the hive's root, values) through `hivexsh -w`.
pub fn build_hive(path: &Path, keys: &[(&str, Vec<(&str, V)>)]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, empty_hive()).unwrap();
    let mut script = String::new();
    let mut made = BTreeSet::new();
    for (key, values) in keys {
        script.push_str("cd \\\n");
        let mut sofar = String::new();
        for comp in key.split('\\') {
            sofar = format!("{sofar}\\{comp}");
            if made.insert(sofar.to_ascii_lowercase()) {
                script.push_str(&format!("add {comp}\n"));
            }
            script.push_str(&format!("cd {comp}\n"));
        }
        if values.is_empty() {
            continue;
        }
        script.push_str(&format!("setval {}\n", values.len()));
        for (name, v) in values {
            script.push_str(&format!("{}\n", if name.is_empty() { "@" } else { name }));
            let line = match v {
                V::Sz(s) => format!("string:{s}"),
                V::Expand(s) => format!("expandstring:{s}"),
                V::Dword(n) => format!("dword:{n:#x}"),
                V::Bin(b) => hex(3, b),
            };
            script.push_str(&format!("{line}\n"));
        }
    }
    script.push_str("commit\n");
    let mut child = Command::new("hivexsh")
        .arg("-w")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hivexsh failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `hivexget hive key value`, trimmed: the test data as the reference
/// tool reads it.
pub fn hivexget(hive: &Path, key: &str, value: &str) -> String {
    let out = Command::new("hivexget")
        .arg(hive)
        .arg(key)
        .arg(value)
        .output()
        .unwrap();
    assert!(out.status.success(), "hivexget {key} {value}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A TaskCache `Actions` blob with one exec action.
pub fn actions(program: &str, args: &str) -> Vec<u8> {
    let s = |t: &str| {
        let b: Vec<u8> = t.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut out = (b.len() as u32).to_le_bytes().to_vec();
        out.extend(b);
        out
    };
    let mut b = 3u16.to_le_bytes().to_vec();
    b.extend(s("Author"));
    b.extend(0x6666u16.to_le_bytes());
    b.extend(s(""));
    b.extend(s(program));
    b.extend(s(args));
    b.extend(s(""));
    b.extend(0u16.to_le_bytes());
    b
}

/// A task file as the Task Scheduler writes it: UTF-16 LE with a BOM.
pub fn task_xml(command: &str, args: &str) -> Vec<u8> {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers><LogonTrigger><Enabled>true</Enabled></LogonTrigger></Triggers>
  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals>
  <Settings><Enabled>true</Enabled></Settings>
  <Actions Context="Author"><Exec><Command>{command}</Command><Arguments>{args}</Arguments></Exec></Actions>
</Task>"#
    );
    let mut b = vec![0xFF, 0xFE];
    for u in xml.encode_utf16() {
        b.extend(u.to_le_bytes());
    }
    b
}

/// A shortcut whose LinkInfo names `local` (a local base path), with
/// `args` when given.
pub fn lnk(local: &str, args: Option<&str>) -> Vec<u8> {
    let mut flags = 0x80u32 | 0x2; // IsUnicode, HasLinkInfo
    if args.is_some() {
        flags |= 0x20;
    }
    let mut b = 0x4Cu32.to_le_bytes().to_vec();
    b.extend([
        0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x46,
    ]);
    b.extend(flags.to_le_bytes());
    b.resize(0x4C, 0);
    let mut volume = 0x11u32.to_le_bytes().to_vec();
    volume.extend(3u32.to_le_bytes()); // fixed drive
    volume.extend(0x1234u32.to_le_bytes()); // serial
    volume.extend(0x10u32.to_le_bytes()); // label offset
    volume.push(0);
    let base_off = 0x1C + volume.len();
    let mut path = local.as_bytes().to_vec();
    path.push(0);
    let suffix_off = base_off + path.len();
    b.extend(((suffix_off + 1) as u32).to_le_bytes());
    b.extend(0x1Cu32.to_le_bytes());
    b.extend(1u32.to_le_bytes());
    b.extend(0x1Cu32.to_le_bytes());
    b.extend((base_off as u32).to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend((suffix_off as u32).to_le_bytes());
    b.extend(volume);
    b.extend(path);
    b.push(0);
    if let Some(a) = args {
        let u: Vec<u16> = a.encode_utf16().collect();
        b.extend((u.len() as u16).to_le_bytes());
        b.extend(u.iter().flat_map(|c| c.to_le_bytes()));
    }
    b.extend(0u32.to_le_bytes());
    b
}
