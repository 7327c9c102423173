//! `takedown scan --pid` and `--processes`: live processes compiled at test
//! time (gcc) hold EICAR only in their memory, built there from encoded
//! bytes (neither this file, nor the program's source or binary, holds
//! the string); the real binary must find it at the address the process
//! prints, and report its executable with the process.
#![cfg(target_os = "linux")]

mod util;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use util::*;

/// The victim: `heap` puts EICAR in a small heap buffer; `big MIB` fills
/// MIB MiB of anonymous memory with pseudo-random bytes. Then it prints
/// its PID, the buffer's address and `ready`, and waits until its standard
/// input closes (or forever, with `pause` last). It lets any process of
/// its user read it (Yama's ptrace_scope 1 allows only ancestors).
fn victim_source() -> String {
    let encoded: Vec<String> = eicar().iter().map(|b| (b ^ 0x5a).to_string()).collect();
    format!(
        r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
static const unsigned char enc[] = {{ {enc} }};
int main(int argc, char **argv) {{
#ifdef PR_SET_PTRACER
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#endif
    char *at = NULL;
    if (argc > 1 && strcmp(argv[1], "heap") == 0) {{
        char *buf = malloc(65536);
        memset(buf, 'A', 65536);
        at = buf + 1000;
        for (size_t i = 0; i < sizeof enc; i++) at[i] = (char)(enc[i] ^ 0x5a);
    }} else if (argc > 2 && strcmp(argv[1], "big") == 0) {{
        size_t n = (size_t)atoi(argv[2]) << 20;
        unsigned char *buf = malloc(n);
        unsigned long long x = 88172645463325252ULL;
        for (size_t i = 0; i < n; i++) {{
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            buf[i] = (unsigned char)x;
        }}
        at = (char *)buf;
    }}
    printf("pid %d\naddr %p\nready\n", (int)getpid(), (void *)at);
    fflush(stdout);
    if (strcmp(argv[argc - 1], "pause") == 0) for (;;) pause();
    char c;
    while (read(0, &c, 1) > 0) {{}}
    return 0;
}}
"#,
        enc = encoded.join(",")
    )
}

/// Compiles the victim into `dir/name`; `None` (the test then checks
/// nothing, saying so) when there is no gcc, except under CI.
fn compile(t: &Tree, name: &str) -> Option<PathBuf> {
    let src = t.write("victim.c", victim_source());
    let out = t.path(name);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    match Command::new("gcc")
        .args(["-O0", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
    {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => panic!("gcc failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "CI must have gcc: {e}");
            eprintln!("skipped: no gcc ({e})");
            None
        }
    }
}

/// A running victim, killed when dropped.
struct Victim {
    child: Child,
    pid: u32,
    addr: u64,
}

impl Victim {
    fn start(exe: &Path, args: &[&str]) -> Victim {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut pid, mut addr) = (0, 0);
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(p) = line.strip_prefix("pid ") {
                pid = p.parse().unwrap();
            } else if let Some(a) = line.strip_prefix("addr ") {
                addr = u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap_or(0);
            } else if line == "ready" {
                break;
            }
        }
        assert_eq!(pid, child.id());
        Victim { child, pid, addr }
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn eicar_rule(t: &Tree) -> String {
    let hex: Vec<String> = eicar().iter().map(|b| format!("{b:02x}")).collect();
    t.write(
        "sigs/eicar-anywhere.yar",
        format!(
            "rule Eicar_In_Memory {{ meta: score = 100 strings: $e = {{ {} }} condition: $e }}\n",
            hex.join(" ")
        ),
    );
    t.arg("sigs/eicar-anywhere.yar")
}

fn check_schema(o: &Output) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/finding.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for v in ndjson(o) {
        if let Err(e) = validator.validate(&v) {
            panic!("schema violation: {e}\n{v}");
        }
    }
}

/// The finding of the memory of `pid`.
fn memory_finding(o: &Output, pid: u32) -> Option<serde_json::Value> {
    findings(o)
        .into_iter()
        .find(|f| f["process"]["pid"] == pid && f["path"] == format!("/proc/{pid}/mem"))
}

/// Checks the memory finding of the heap victim `v`.
fn check_heap_finding(f: &serde_json::Value, v: &Victim, exe: &Path) {
    assert_eq!(f["detections"][0]["name"], "Eicar_In_Memory", "{f}");
    assert_eq!(f["detections"][0]["engine"], "yara");
    let p = &f["process"];
    assert_eq!(p["address"], format!("{:#x}", v.addr), "{f}");
    let region = p["region"].as_str().unwrap();
    assert!(region.ends_with(" rw-p [heap]"), "{region}");
    let (start, end) = region.split(' ').next().unwrap().split_once('-').unwrap();
    let (start, end) = (
        u64::from_str_radix(start, 16).unwrap(),
        u64::from_str_radix(end, 16).unwrap(),
    );
    assert!(
        start <= v.addr && v.addr < end,
        "{region} holds {:#x}",
        v.addr
    );
    assert_eq!(p["exe"], exe.to_str().unwrap());
    assert_eq!(p["cmdline"], format!("{} heap", exe.display()));
    assert!(f["problems"].as_array().unwrap().is_empty(), "{f}");
}

#[test]
fn eicar_in_a_heap_is_found_by_pid_at_its_address() {
    let t = Tree::new();
    let Some(exe) = compile(&t, "victim") else {
        return;
    };
    let rule = eicar_rule(&t);
    let v = Victim::start(&exe, &["heap"]);
    assert_ne!(v.addr, 0);
    let pid = v.pid.to_string();
    let o = t.json(&["--no-builtin", "-s", &rule, "--pid", &pid]);
    assert_eq!(code(&o), 1, "{}\n{}", stdout(&o), stderr(&o));
    check_schema(&o);
    let f = memory_finding(&o, v.pid).expect("a finding for the memory");
    check_heap_finding(&f, &v, &exe);
    // The executable holds no EICAR (it is built at run time): only the
    // memory is reported.
    assert_eq!(findings(&o).len(), 1, "{}", stdout(&o));
    let s = summary(&o);
    assert_eq!(s["processes"], 1);
    assert_eq!(s["processes_detected"], 1);
    assert!(s["memory_scanned"].as_u64().unwrap() > 65536, "{s}");
    assert_eq!(s["errors"], 0);
    assert_eq!(s["files_detected"], 0);
    // The executable was scanned as a file.
    assert_eq!(s["files_scanned"], 1);

    // Text output names the process, region and address.
    let text = t.run(&["scan", "--no-builtin", "-s", &rule, "--pid", &pid]);
    assert_eq!(code(&text), 1);
    let line = format!(
        "pid {} {} @{:#x}: Eicar_In_Memory FOUND",
        v.pid,
        f["process"]["region"].as_str().unwrap(),
        v.addr
    );
    assert!(stdout(&text).contains(&line), "{}", stdout(&text));
    assert!(
        stdout(&text).contains("Processes: 1 (1 detected"),
        "{}",
        stdout(&text)
    );

    // --action quarantine leaves memory alone, and says so.
    let q = t.json(&[
        "--no-builtin",
        "-s",
        &rule,
        "--pid",
        &pid,
        "--action",
        "quarantine",
    ]);
    check_schema(&q);
    let f = memory_finding(&q, v.pid).unwrap();
    assert_eq!(f["action"]["status"], "skipped", "{f}");
    assert!(exe.exists());
}

/// Runs `takedown scan --format json ARGS` in a new PID namespace of its
/// own with the heap victim, so that `--processes` sees just them (and the
/// test is not disturbed by other processes of the machine). `None` when
/// that cannot be done (not root, no `unshare`).
fn in_own_pid_namespace(t: &Tree, exe: &Path, args: &[&str]) -> Option<Output> {
    let works = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        return None;
    }
    let script = r#"
"$VICTIM" heap pause > "$OUT" &
i=0
while ! grep -q ready "$OUT"; do
    i=$((i + 1)); [ "$i" -gt 3000 ] && exit 99
    sleep 0.01
done
"$TAKEDOWN" scan --format json "$@"
"#;
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc", "sh", "-c", script, "sh"])
        .args(args)
        .env("VICTIM", exe)
        .env("OUT", t.path("victim.out"))
        .env("TAKEDOWN", env!("CARGO_BIN_EXE_takedown"))
        .stdin(Stdio::null());
    // The same environment as every other test run of takedown.
    let template = t.cmd();
    for (k, v) in template.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    Some(run_with_timeout(c, 120))
}

#[test]
fn processes_finds_the_heap_and_skips_takedown_itself() {
    let t = Tree::new();
    let Some(exe) = compile(&t, "victim") else {
        return;
    };
    let rule = eicar_rule(&t);
    let td = env!("CARGO_BIN_EXE_takedown");
    let args = ["--no-builtin", "-s", &rule, "--processes"];
    let (o, victim) = match in_own_pid_namespace(&t, &exe, &args) {
        Some(o) => {
            let out = std::fs::read_to_string(t.path("victim.out")).unwrap();
            let pid: u32 = out.lines().next().unwrap()[4..].parse().unwrap();
            let addr = out.lines().nth(1).unwrap()[5..].trim_start_matches("0x");
            let addr = u64::from_str_radix(addr, 16).unwrap();
            (o, (pid, addr))
        }
        None => {
            // Every process of the machine, within a small budget each
            // (the heap is read first).
            eprintln!("note: no PID namespace of our own; scanning every process");
            let v = Victim::start(&exe, &["heap"]);
            let mut all = args.to_vec();
            all.extend(["--process-budget", "16M"]);
            let o = t.json(&all);
            let r = (v.pid, v.addr);
            drop(v);
            (o, r)
        }
    };
    assert_eq!(code(&o), 1, "{}\n{}", stdout(&o), stderr(&o));
    check_schema(&o);
    let f = memory_finding(&o, victim.0).expect("the victim's memory is found");
    assert_eq!(f["process"]["address"], format!("{:#x}", victim.1), "{f}");
    assert!(
        f["process"]["region"]
            .as_str()
            .unwrap()
            .ends_with("rw-p [heap]"),
        "{f}"
    );
    for f in findings(&o) {
        assert_ne!(f["process"]["exe"], td, "takedown scanned itself: {f}");
    }
    let s = summary(&o);
    assert!(s["processes"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["processes_detected"].as_u64().unwrap() >= 1, "{s}");
}

#[test]
fn a_process_exiting_mid_scan_is_a_problem_not_a_failure() {
    let t = Tree::new();
    let Some(exe) = compile(&t, "victim") else {
        return;
    };
    let rule = eicar_rule(&t);
    let mut v = Victim::start(&exe, &["big", "96"]);
    let mut c = t.cmd();
    c.args([
        "scan",
        "--format",
        "json",
        "--no-builtin",
        "-s",
        &rule,
        "--pid",
        &v.pid.to_string(),
    ]);
    let mut td = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until takedown reads the victim's memory, stop it there, let
    // the victim die, and let takedown go on.
    let mem = format!("/proc/{}/mem", v.pid);
    let fds = format!("/proc/{}/fd", td.id());
    let started = Instant::now();
    let reading = loop {
        let open = std::fs::read_dir(&fds).ok().is_some_and(|d| {
            d.flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == Path::new(&mem)))
        });
        if open {
            break true;
        }
        if started.elapsed() > Duration::from_secs(60) || td.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    assert!(reading, "takedown never opened {mem}");
    let tdpid = nix::unistd::Pid::from_raw(td.id() as i32);
    nix::sys::signal::kill(tdpid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    v.child.kill().unwrap();
    v.child.wait().unwrap();
    nix::sys::signal::kill(tdpid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let mut out = Vec::new();
    td.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let mut err = Vec::new();
    td.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    let status = td.wait().unwrap();
    let o = Output {
        status,
        stdout: out,
        stderr: err,
    };
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    check_schema(&o);
    let f = memory_finding(&o, v.pid).expect("a finding for the memory");
    let problems = f["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{f}");
    assert_eq!(problems[0]["kind"], "error");
    assert!(
        problems[0]["message"].as_str().unwrap().contains("exited"),
        "{f}"
    );
    let s = summary(&o);
    assert_eq!(s["errors"], 0, "{s}");
    assert_eq!(s["processes"], 1);
    assert!(s["memory_scanned"].as_u64().unwrap_or(0) < 96 << 20, "{s}");
}

#[test]
fn a_named_pid_that_does_not_exist_or_is_takedown_is_said_so() {
    let t = Tree::new();
    let rule = eicar_rule(&t);
    // Above the kernel's maximum PID (2^22): never a process.
    let o = t.json(&["--no-builtin", "-s", &rule, "--pid", "4194321"]);
    assert_eq!(code(&o), 2, "{}\n{}", stdout(&o), stderr(&o));
    check_schema(&o);
    let f = &findings(&o)[0];
    assert_eq!(f["process"]["pid"], 4194321);
    assert_eq!(f["problems"][0]["kind"], "error");
    assert!(
        f["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no such process"),
        "{f}"
    );
    assert_eq!(summary(&o)["errors"], 1);
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn an_executable_detected_by_its_hash_is_reported_with_the_process_once() {
    let t = Tree::new();
    let Some(exe) = compile(&t, "bin/victim-exe") else {
        return;
    };
    let bytes = std::fs::read(&exe).unwrap();
    t.write(
        "iocs/victim.hsb",
        format!("{}:{}:Victim.Exe.Test\n", sha256_hex(&bytes), bytes.len()),
    );
    let a = Victim::start(&exe, &["heap"]);
    let b = Victim::start(&exe, &["heap"]);
    let (pa, pb) = (a.pid.to_string(), b.pid.to_string());
    let o = t.json(&[
        "--no-builtin",
        "-s",
        &t.arg("iocs/victim.hsb"),
        "--pid",
        &pa,
        "--pid",
        &pb,
    ]);
    assert_eq!(code(&o), 1, "{}\n{}", stdout(&o), stderr(&o));
    check_schema(&o);
    let found = findings(&o);
    // One executable, two processes: reported once, with one of them.
    assert_eq!(found.len(), 1, "{}", stdout(&o));
    let f = &found[0];
    assert_eq!(f["path"], exe.to_str().unwrap());
    assert_eq!(f["detections"][0]["name"], "Victim.Exe.Test");
    assert_eq!(f["detections"][0]["engine"], "hash");
    assert_eq!(f["sha256"], sha256_hex(&bytes));
    let p = &f["process"];
    assert!(p["pid"] == a.pid || p["pid"] == b.pid, "{f}");
    assert_eq!(p["exe"], exe.to_str().unwrap());
    assert!(
        p.get("region").is_none() && p.get("address").is_none(),
        "{f}"
    );
    let s = summary(&o);
    assert_eq!(s["processes"], 2);
    assert_eq!(s["processes_detected"], 2, "{s}");
    assert_eq!(s["files_detected"], 1);
    // No YARA rules: no memory is read.
    assert!(s.get("memory_scanned").is_none(), "{s}");

    // --action quarantine acts on the real file, checked against the one
    // the process runs; the process runs on.
    let q = t.json(&[
        "--no-builtin",
        "-s",
        &t.arg("iocs/victim.hsb"),
        "--pid",
        &pa,
        "--action",
        "quarantine",
    ]);
    assert_eq!(code(&q), 1, "{}\n{}", stdout(&q), stderr(&q));
    check_schema(&q);
    let f = &findings(&q)[0];
    assert_eq!(f["action"]["status"], "done", "{f}");
    assert!(!exe.exists(), "the executable was moved into the vault");
    assert!(Path::new(&format!("/proc/{}", a.pid)).exists());
}

#[test]
fn a_deleted_executable_is_still_scanned_through_the_process() {
    let t = Tree::new();
    let Some(exe) = compile(&t, "bin/gone") else {
        return;
    };
    let bytes = std::fs::read(&exe).unwrap();
    t.write(
        "iocs/gone.hsb",
        format!("{}:{}:Gone.Exe.Test\n", sha256_hex(&bytes), bytes.len()),
    );
    let v = Victim::start(&exe, &["heap"]);
    std::fs::remove_file(&exe).unwrap();
    let o = t.json(&[
        "--no-builtin",
        "-s",
        &t.arg("iocs/gone.hsb"),
        "--pid",
        &v.pid.to_string(),
        "--action",
        "quarantine",
    ]);
    assert_eq!(code(&o), 1, "{}\n{}", stdout(&o), stderr(&o));
    check_schema(&o);
    let f = &findings(&o)[0];
    assert_eq!(f["detections"][0]["name"], "Gone.Exe.Test");
    assert_eq!(f["path"], exe.to_str().unwrap());
    assert_eq!(
        f["process"]["exe"],
        format!("{} (deleted)", exe.display()),
        "{f}"
    );
    // Nothing is at that path to act on.
    assert_ne!(f["action"]["status"], "done", "{f}");
}
