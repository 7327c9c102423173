//! Builders of test data for this crate's tests and its users' (compiled
//! only with the `testing` feature): files of an offline Windows volume
//! made at test time. Registry hives start from a minimal empty hive
//! written here and are filled with Debian's `hivexsh`, so that the
//! reference tool, not takedown, writes them; scheduled-task XML in
//! UTF-16, TaskCache `Actions` blobs and Startup shortcuts are built byte
//! by byte per their formats.
//!
//! These helpers panic on any failure: they build known-good data in a
//! test, where a panic is the test failing.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Whether `tool` runs; under CI (env `CI` set) a missing tool is a
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
            "{tool} is missing (Debian package libhivex-bin / reglookup)"
        );
        eprintln!("skipped: {tool} is missing (Debian package libhivex-bin / reglookup)");
    }
    ok
}

/// Writes `bytes` at `root/rel` (a leading `/` of `rel` ignored), making
/// the parents; the path written.
pub fn put(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = root.join(rel.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, bytes).unwrap();
    p
}

/// `v` copied into `b` at `off`.
pub fn set(b: &mut [u8], off: usize, v: &[u8]) {
    b[off..off + v.len()].copy_from_slice(v);
}

/// The little-endian `u32` of `b` at `off`.
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// Sets a hive base block's checksum (XOR of its first 127 dwords).
pub fn checksum(b: &mut [u8]) {
    let mut sum = 0u32;
    for i in 0..127 {
        sum ^= u32_at(b, i * 4);
    }
    set(b, 0x1FC, &sum.to_le_bytes());
}

/// A minimal empty hive: a base block and one hive bin holding the root
/// key (`nk`), its security cell (`sk`) and one free cell.
pub fn empty_hive() -> Vec<u8> {
    let mut b = vec![0u8; 8192];
    set(&mut b, 0, b"regf");
    set(&mut b, 4, &1u32.to_le_bytes()); // primary sequence
    set(&mut b, 8, &1u32.to_le_bytes()); // secondary sequence
    set(&mut b, 20, &1u32.to_le_bytes()); // major
    set(&mut b, 24, &3u32.to_le_bytes()); // minor
    set(&mut b, 28, &0u32.to_le_bytes()); // primary file
    set(&mut b, 32, &1u32.to_le_bytes()); // direct memory load
    set(&mut b, 36, &0x20u32.to_le_bytes()); // root cell
    set(&mut b, 40, &4096u32.to_le_bytes()); // hive bins size
    set(&mut b, 44, &1u32.to_le_bytes()); // clustering factor
    checksum(&mut b);
    let h = 4096;
    set(&mut b, h, b"hbin");
    set(&mut b, h + 4, &0u32.to_le_bytes());
    set(&mut b, h + 8, &4096u32.to_le_bytes());
    // Root nk at 0x20: 4 + 76 + "ROOT" = 84, rounded to 88.
    let nk = h + 0x20;
    let sk_rel = 0x20 + 88;
    set(&mut b, nk, &(-88i32).to_le_bytes());
    set(&mut b, nk + 4, b"nk");
    set(&mut b, nk + 6, &0x2Cu16.to_le_bytes()); // hive entry, no delete, ASCII name
    set(&mut b, nk + 20, &0u32.to_le_bytes()); // parent
    set(&mut b, nk + 32, &u32::MAX.to_le_bytes()); // sub-key list
    set(&mut b, nk + 36, &u32::MAX.to_le_bytes()); // volatile list
    set(&mut b, nk + 44, &u32::MAX.to_le_bytes()); // value list
    set(&mut b, nk + 48, &(sk_rel as u32).to_le_bytes()); // security
    set(&mut b, nk + 52, &u32::MAX.to_le_bytes()); // class
    set(&mut b, nk + 76, &4u16.to_le_bytes()); // name length
    set(&mut b, nk + 80, b"ROOT");
    // sk: 4 + 20 + a 20-byte self-relative descriptor = 44, rounded to 48.
    let sk = h + sk_rel;
    set(&mut b, sk, &(-48i32).to_le_bytes());
    set(&mut b, sk + 4, b"sk");
    set(&mut b, sk + 8, &(sk_rel as u32).to_le_bytes()); // flink: itself
    set(&mut b, sk + 12, &(sk_rel as u32).to_le_bytes()); // blink: itself
    set(&mut b, sk + 16, &1u32.to_le_bytes()); // references
    set(&mut b, sk + 20, &20u32.to_le_bytes()); // descriptor size
    set(&mut b, sk + 24, &[1, 0, 0x00, 0x80]); // revision 1, self-relative
    let free = sk_rel + 48;
    set(&mut b, h + free, &((4096 - free) as i32).to_le_bytes());
    b
}

/// A value for `hivexsh setval`.
pub enum V<'a> {
    /// `REG_SZ`.
    Sz(&'a str),
    /// `REG_EXPAND_SZ`.
    Expand(&'a str),
    /// `REG_DWORD`.
    Dword(u32),
    /// `REG_MULTI_SZ`.
    Multi(&'a [&'a str]),
    /// `REG_BINARY`.
    Bin(Vec<u8>),
}

/// Keys to fill a hive with: each a path from the hive's root and its
/// values (an empty name is the default value).
pub type Keys<'a> = [(&'a str, Vec<(&'a str, V<'a>)>)];

/// `s` in UTF-16 LE with a terminating NUL.
pub fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// `s` in UTF-16 LE with a BOM, as the Task Scheduler writes its files.
pub fn utf16le(s: &str) -> Vec<u8> {
    let mut b = vec![0xFF, 0xFE];
    for u in s.encode_utf16() {
        b.extend(u.to_le_bytes());
    }
    b
}

/// A `hivexsh` value of type `t` holding `b`.
fn hex(t: u32, b: &[u8]) -> String {
    let bytes: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("hex:{t}:{}", bytes.join(":"))
}

/// Writes an empty hive at `path` and fills it with `keys` through
/// `hivexsh -w`.
pub fn build_hive(path: &Path, keys: &Keys) {
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
                V::Multi(l) => {
                    let mut b = Vec::new();
                    for s in *l {
                        b.extend(utf16z(s));
                    }
                    b.extend([0, 0]);
                    hex(7, &b)
                }
                V::Bin(b) => hex(3, b),
            };
            script.push_str(&format!("{line}\n"));
        }
    }
    script.push_str("commit\n");
    hivexsh(path, &script, true);
}

/// Runs `hivexsh` (`-w` when `write`) on `hive` with `script`, whatever
/// it answers: for tests that expect it to fail.
pub fn run_hivexsh(hive: &Path, script: &str, write: bool) -> Output {
    let mut cmd = Command::new("hivexsh");
    if write {
        cmd.arg("-w");
    }
    let mut child = cmd
        .arg(hive)
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
    child.wait_with_output().unwrap()
}

/// Runs `hivexsh` (`-w` when `write`) on `hive` with `script`, which must
/// succeed; its output.
pub fn hivexsh(hive: &Path, script: &str, write: bool) -> String {
    let out = run_hivexsh(hive, script, write);
    assert!(
        out.status.success(),
        "hivexsh failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `hivexget hive key value`, trimmed: the data as the reference tool
/// reads it.
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

/// A task file as the Task Scheduler writes it (UTF-16 LE with a BOM):
/// one logon trigger, one exec action.
pub fn task_xml(command: &str, args: &str) -> Vec<u8> {
    utf16le(&format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers><LogonTrigger><Enabled>true</Enabled></LogonTrigger></Triggers>
  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals>
  <Settings><Enabled>true</Enabled></Settings>
  <Actions Context="Author"><Exec><Command>{command}</Command><Arguments>{args}</Arguments></Exec></Actions>
</Task>"#
    ))
}

/// A shortcut (MS-SHLLINK) with the parts given: an item ID list, a
/// LinkInfo naming `local` (a local base path on a fixed drive),
/// command-line `args`, an environment-variables block holding `env`.
pub fn shortcut(
    ids: Option<&[u8]>,
    local: Option<&str>,
    args: Option<&str>,
    env: Option<&str>,
) -> Vec<u8> {
    let mut flags = 0x80u32; // IsUnicode
    if ids.is_some() {
        flags |= 0x1;
    }
    if local.is_some() {
        flags |= 0x2;
    }
    if args.is_some() {
        flags |= 0x20;
    }
    if env.is_some() {
        flags |= 0x200;
    }
    let mut b = 0x4Cu32.to_le_bytes().to_vec();
    b.extend([
        0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x46,
    ]);
    b.extend(flags.to_le_bytes());
    b.resize(0x4C, 0);
    if let Some(ids) = ids {
        b.extend((ids.len() as u16).to_le_bytes());
        b.extend(ids);
    }
    if let Some(path) = local {
        let volume: Vec<u8> = {
            let mut v = 0x11u32.to_le_bytes().to_vec();
            v.extend(3u32.to_le_bytes()); // fixed drive
            v.extend(0x1234u32.to_le_bytes()); // serial
            v.extend(0x10u32.to_le_bytes()); // label offset
            v.push(0); // empty label
            v
        };
        let base_off = 0x1C + volume.len();
        let mut path_bytes = path.as_bytes().to_vec();
        path_bytes.push(0);
        let suffix_off = base_off + path_bytes.len();
        let size = suffix_off + 1;
        b.extend((size as u32).to_le_bytes());
        b.extend(0x1Cu32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(0x1Cu32.to_le_bytes());
        b.extend((base_off as u32).to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend((suffix_off as u32).to_le_bytes());
        b.extend(volume);
        b.extend(path_bytes);
        b.push(0);
    }
    if let Some(a) = args {
        let u: Vec<u16> = a.encode_utf16().collect();
        b.extend((u.len() as u16).to_le_bytes());
        b.extend(u.iter().flat_map(|c| c.to_le_bytes()));
    }
    if let Some(e) = env {
        let mut block = 0x314u32.to_le_bytes().to_vec();
        block.extend(0xA000_0001u32.to_le_bytes());
        let mut ansi = e.as_bytes().to_vec();
        ansi.resize(260, 0);
        block.extend(ansi);
        let mut wide = utf16z(e);
        wide.resize(520, 0);
        block.extend(wide);
        b.extend(block);
    }
    b.extend(0u32.to_le_bytes());
    b
}

/// A shortcut whose LinkInfo names `local`, with `args` when given.
pub fn lnk(local: &str, args: Option<&str>) -> Vec<u8> {
    shortcut(None, Some(local), args, None)
}

/// The clean hive `before` as a crash leaves it when Windows had logged
/// the changes that make it `after` but not yet written them to the hive
/// file: the hive file is `before` with its primary sequence number one
/// ahead (dirty), and the pages of `after` that differ are in `logs` log
/// entries, one a log (the first in `.LOG1`, the next in `.LOG2`), with
/// consecutive sequence numbers from the hive's. Returns the hive file
/// and the logs.
pub fn dirty_with_logs(before: &[u8], after: &[u8], logs: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    use crate::windows::log::{LogEntry, build_log};
    const PAGE: usize = 4096;
    let seq = u32_at(before, 8);
    let bins = u32_at(after, 40) as usize;
    let changed: Vec<(usize, Vec<u8>)> = after[4096..4096 + bins]
        .chunks(PAGE)
        .enumerate()
        .filter(|(i, p)| before.get(4096 + i * PAGE..4096 + (i + 1) * PAGE) != Some(*p))
        .map(|(i, p)| (i * PAGE, p.to_vec()))
        .collect();
    assert!(!changed.is_empty(), "the hives do not differ");
    let per = changed.len().div_ceil(logs.max(1));
    let mut primary = before.to_vec();
    set(&mut primary, 4, &(seq + 1).to_le_bytes());
    checksum(&mut primary);
    let logs = changed
        .chunks(per)
        .enumerate()
        .map(|(i, pages)| {
            let entry = LogEntry {
                seq: seq + i as u32,
                bins,
                pages: pages.to_vec(),
            };
            build_log(before, &[entry])
        })
        .collect();
    (primary, logs)
}
