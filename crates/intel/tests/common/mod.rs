//! Shared by the integration tests that check our output with the
//! reference tools of each ecosystem (stix2-validator, stix2, PyMISP,
//! taxii2-client, medallion), which `.ci/run` installs into `.venv`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python with the reference tools: `TAKEDOWN_PYTHON`, else the
/// workspace's `.venv`. `None` (the test then skips, saying so) when
/// neither exists, except under CI, where a missing tool is a failure.
pub fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("TAKEDOWN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
        });
    if candidate.exists() {
        return Some(candidate);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} not found: .ci/run installs the reference tools there",
            candidate.display()
        );
    }
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
pub fn venv_tool(python: &std::path::Path, name: &str) -> PathBuf {
    python.parent().unwrap().join(name)
}
