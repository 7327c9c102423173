//! Shared by the notify crate's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The first Python that imports `imports` (a comma-separated module
/// list) among `TAKEDOWN_PYTHON`, the workspace's `.venv` (which
/// `.ci/run` fills) and `also` (e.g. Debian's `/usr/bin/python3` for
/// its packaged modules); `None` (the test then skips, saying how to
/// install them with `install`) when there is none, except under CI,
/// where a missing reference tool fails the test.
pub fn python_with(imports: &str, install: &str, also: &[&str]) -> Option<PathBuf> {
    let candidates = std::env::var_os("TAKEDOWN_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")])
        .chain(also.iter().map(PathBuf::from));
    let mut tried = Vec::new();
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", &format!("import {imports}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
        tried.push(python.display().to_string());
    }
    let why = format!(
        "no Python imports {imports} ({} tried; run .ci/run, set TAKEDOWN_PYTHON, or {install})",
        tried.join(", ")
    );
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("skipped: {why}");
    None
}
