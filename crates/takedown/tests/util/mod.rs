//! Helpers for tests that run the real `takedown` binary in a fresh
//! temporary tree. Test samples are built here at run time; nothing
//! harmful is stored in the repository.
#![allow(dead_code)]

pub mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The EICAR test string, assembled so that this source file is not itself
/// a test sample for other scanners.
pub fn eicar() -> Vec<u8> {
    [
        r"X5O!P%@AP[4\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-",
        "TEST-FILE!$H+H*",
    ]
    .concat()
    .into_bytes()
}

/// SHA-256 of [`eicar`].
pub const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

/// A temporary tree plus a private cache directory.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::Builder::new()
            .prefix("takedown-test")
            .tempdir()
            .unwrap();
        Tree { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A path below the tree as a command-line argument.
    pub fn arg(&self, rel: &str) -> String {
        self.path(rel)
            .to_str()
            .expect("temporary paths are UTF-8")
            .to_string()
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file, creating parents.
    pub fn write(&self, rel: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }

    /// A `takedown` command with a cache private to this tree, no colour and
    /// no progress.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_takedown"));
        // The vault too is private to the tree: tests never touch the
        // system's.
        c.env("TAKEDOWN_CACHE_DIR", self.path(".cache"))
            .env("TAKEDOWN_VAULT", self.path("vault"))
            // Nor the installed signature sets and trusted keys: a set
            // installed on the machine running the tests is never loaded.
            .env("TAKEDOWN_SIGS_DIR", self.path("sigs"))
            .env("TAKEDOWN_TRUSTED_KEYS", self.path("keys"))
            .env_remove("NO_COLOR")
            .env_remove("TAKEDOWN_LOG")
            .stdin(Stdio::null());
        c
    }

    /// Runs `takedown scan --format json ARGS` and returns its output.
    pub fn json(&self, args: &[&str]) -> Output {
        let mut all = vec!["scan", "--format", "json"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Runs `takedown ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        run_with_timeout(c, 120)
    }
}

/// Runs a command, killing it (and failing the test) after `secs`.
pub fn run_with_timeout(mut c: Command, secs: u64) -> Output {
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("takedown did not finish within {secs}s: {c:?}");
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses NDJSON output into values.
pub fn ndjson(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The findings (not the summary) of NDJSON output.
pub fn findings(o: &Output) -> Vec<serde_json::Value> {
    ndjson(o)
        .into_iter()
        .filter(|v| v["type"] == "finding")
        .collect()
}

/// The summary (last line) of NDJSON output.
pub fn summary(o: &Output) -> serde_json::Value {
    let all = ndjson(o);
    let last = all.last().expect("output has a summary line").clone();
    assert_eq!(last["type"], "summary", "last line is the summary");
    last
}

/// Names of all detections across findings, sorted.
pub fn detection_names(o: &Output) -> Vec<String> {
    let mut v: Vec<String> = findings(o)
        .iter()
        .flat_map(|f| {
            f["detections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

pub fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {:?}\nstderr: {}", o.status, stderr(o)))
}

pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// The path of a file of Debian's `clamav-testfiles` (ClamAV's own test
/// samples), which CI installs. Elsewhere, when it is missing, says so and
/// returns `None` so that the test checks nothing.
pub fn clamav_testfile(name: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new("/usr/share/clamav-testfiles").join(name);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install clamav-testfiles"
    );
    eprintln!("skipped: {} not installed", p.display());
    None
}

/// The Python with the reference tools (stix2, stix2-validator, PyMISP,
/// taxii2-client, medallion): `TAKEDOWN_PYTHON`, else the workspace's
/// `.venv`, which `.ci/run` fills. `None` (the test then skips, saying so)
/// when it is missing, except under CI, where a missing tool is a failure.
pub fn reference_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("TAKEDOWN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
        });
    if candidate.exists() {
        return Some(candidate);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} not found: .ci/run installs the reference tools there",
        candidate.display()
    );
    eprintln!(
        "skipped: {} not found (run .ci/run, or set TAKEDOWN_PYTHON)",
        candidate.display()
    );
    None
}

/// Runs `script` with the reference Python, arguments after it; panics
/// with its output unless it exits 0. Returns its stdout.
pub fn run_python(python: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tool of the venv (`stix2_validator`, `medallion`), beside its Python.
pub fn venv_tool(python: &Path, name: &str) -> PathBuf {
    python
        .parent()
        .expect("the reference Python is a file in a directory")
        .join(name)
}

/// Runs the venv's `stix2_validator ARGS FILE`; panics with its report
/// unless it finds the file valid.
pub fn stix2_validate(python: &Path, args: &[&str], file: &Path) {
    let out = Command::new(venv_tool(python, "stix2_validator"))
        .args(args)
        .arg(file)
        .output()
        .expect("run stix2_validator");
    assert!(
        out.status.success(),
        "stix2_validator {} {}:\n{}\n{}",
        args.join(" "),
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
