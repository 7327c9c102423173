//! Running a hunt's scan: `takedown scan --format json` in a child
//! process, its NDJSON read line by line.
//!
//! A child and not the engine in the agent's own process: a scan reads
//! hostile files, and whatever goes wrong in it (a parser bug, memory
//! exhaustion, a hang past every budget) ends that scan only; the agent
//! reports it as failed and goes on with the next hunt. The child's
//! command line is built here from the hunt's typed fields, each value
//! attached to its flag (`--exclude=VALUE`) and the paths after `--`, so
//! no value from the network can ever be read as another flag.

use crate::model::{Action, ScanSpec};
use crate::{Error, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

/// Longest NDJSON line taken from the scan: a finding with every
/// detection's metadata stays far below; a longer one is dropped and
/// counted, not buffered.
pub const MAX_LINE: usize = 4 << 20;
/// How much of the scan's stderr is kept for the completion record.
const STDERR_TAIL: usize = 2048;

/// How the agent runs scans.
#[derive(Clone, Debug)]
pub struct ScanCommand {
    /// The takedown executable (the agent's own).
    pub exe: PathBuf,
    /// The agent's vault for `--action quarantine`.
    pub vault: Option<PathBuf>,
    /// The compiled-rules cache; `None` runs without one.
    pub cache_dir: Option<PathBuf>,
    /// Hunt paths (and `--persistence`) are taken below this directory:
    /// an agent in a container that sees its machine mounted at `/host`,
    /// or one examining a mounted disk image.
    pub root: Option<PathBuf>,
}

impl ScanCommand {
    /// The child's arguments for a hunt's scan over the signatures in
    /// `sigs`; `act` false leaves any action out (report only).
    pub fn args(&self, spec: &ScanSpec, sigs: &Path, act: bool) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut flag = |s: &str| a.push(s.into());
        flag("scan");
        flag("--format=json");
        flag("--no-progress");
        flag("--no-installed");
        if spec.no_builtin {
            flag("--no-builtin");
        }
        if spec.no_containers {
            flag("--no-containers");
        }
        if spec.limits_as_detections {
            flag("--limits-as-detections");
        }
        if spec.heuristics {
            flag("--heuristics");
        }
        if spec.one_file_system {
            flag("--one-file-system");
        }
        // Below --root a followed link could lead anywhere on the agent's
        // machine: links are not followed there (the completion says so).
        if spec.follow_symlinks && self.root.is_none() {
            flag("--follow-symlinks");
        }
        if spec.persistence {
            flag("--persistence");
        }
        if spec.processes {
            flag("--processes");
        }
        if self.cache_dir.is_none() {
            flag("--no-cache");
        }
        let mut pair = |k: &str, v: &dyn AsRef<std::ffi::OsStr>| {
            let mut s = OsString::from(k);
            s.push("=");
            s.push(v.as_ref());
            a.push(s);
        };
        pair("--signatures", &sigs);
        if let Some(c) = &self.cache_dir {
            pair("--cache-dir", c);
        }
        for e in &spec.excludes {
            pair("--exclude", e);
        }
        if let Some(v) = &spec.max_filesize {
            pair("--max-filesize", v);
        }
        if let Some(v) = spec.timeout {
            pair("--timeout", &v.to_string());
        }
        if let Some(v) = spec.max_depth {
            pair("--max-depth", &v.to_string());
        }
        if let Some(v) = spec.max_entries {
            pair("--max-entries", &v.to_string());
        }
        if let Some(v) = &spec.max_scansize {
            pair("--max-scansize", v);
        }
        if let Some(v) = spec.max_ratio {
            pair("--max-ratio", &v.to_string());
        }
        if let Some(v) = spec.time_limit {
            pair("--time-limit", &v.to_string());
        }
        if let Some(v) = spec.max_packers.filter(|_| spec.heuristics) {
            pair("--max-packers", &v.to_string());
        }
        if let Some(v) = spec.threads {
            pair("--threads", &v.to_string());
        }
        if act && spec.action == Action::Quarantine && spec.yes {
            pair("--action", &"quarantine");
            if spec.min_score > 0 {
                pair("--min-score", &spec.min_score.to_string());
            }
            if let Some(v) = &self.vault {
                pair("--vault", v);
            }
        }
        if spec.persistence
            && let Some(r) = &self.root
        {
            pair("--root", r);
        }
        a.push("--".into());
        a.extend(
            self.targets(spec)
                .0
                .into_iter()
                .map(PathBuf::into_os_string),
        );
        a
    }

    /// The arguments of the acting scan of a quarantine hunt: the hunt's
    /// options with `--action quarantine`, over the files listed in
    /// `list` (the files the report scan detected, already below the
    /// root), no process memory.
    pub fn act_args(&self, spec: &ScanSpec, sigs: &Path, list: &Path) -> Vec<OsString> {
        let only_files = ScanSpec {
            paths: Vec::new(),
            processes: false,
            ..spec.clone()
        };
        let mut a = self.args(&only_files, sigs, true);
        let dashdash = a.iter().position(|x| x == "--").unwrap_or(a.len());
        let mut l = OsString::from("--file-list=");
        l.push(list);
        a.insert(dashdash, l);
        a
    }

    /// The hunt's paths as this agent scans them, and the paths left out
    /// (with why). Without `--root`, as given. With it, each is taken
    /// below the root and resolved: one that a symbolic link (in the path
    /// or the root's tree) leads outside the root is left out, and the
    /// others are given to the scan resolved, so that no link on the way
    /// is followed by the scan.
    pub fn targets(&self, spec: &ScanSpec) -> (Vec<PathBuf>, Vec<String>) {
        let Some(root) = &self.root else {
            return (spec.paths.iter().map(PathBuf::from).collect(), Vec::new());
        };
        let mut placed = Vec::new();
        let mut left_out = Vec::new();
        for p in &spec.paths {
            match place(root, p) {
                Ok(x) => placed.push(x),
                Err(why) => left_out.push(why),
            }
        }
        (placed, left_out)
    }
}

/// `path` below `root`, resolved, or why not: a path whose resolution
/// (every symbolic link on the way) leaves the root is refused. A path
/// that does not exist is given as joined, once its deepest existing
/// ancestor is checked (the scan then says it is missing).
fn place(root: &Path, path: &str) -> std::result::Result<PathBuf, String> {
    let shown = crate::ids::shorten(path);
    let real_root = std::fs::canonicalize(root).map_err(|e| {
        format!(
            "{shown}: the root {} cannot be resolved: {e}",
            root.display()
        )
    })?;
    let joined = below(root, path);
    let mut probe = joined.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    loop {
        match std::fs::canonicalize(probe) {
            Ok(real) => {
                let Ok(inside) = real.strip_prefix(&real_root) else {
                    return Err(format!("{shown}: a symbolic link leads outside --root"));
                };
                let mut out = root.join(inside);
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(_) => {
                let (Some(parent), Some(name)) = (probe.parent(), probe.file_name()) else {
                    return Err(format!("{shown}: cannot be resolved below --root"));
                };
                rest.push(name);
                probe = parent;
            }
        }
    }
}

/// `path` taken below `root`: its prefix and root left out, the rest
/// joined (the hunt refused `..`, so nothing climbs out of `root` by
/// name; links are [`place`]'s).
fn below(root: &Path, path: &str) -> PathBuf {
    let mut out = root.to_path_buf();
    for c in Path::new(path).components() {
        if let std::path::Component::Normal(part) = c {
            out.push(part);
        }
    }
    out
}

/// One line of the scan's output.
#[derive(Debug)]
pub enum Line {
    /// A finding record.
    Finding(serde_json::Value),
    /// The summary record (the last line).
    Summary(serde_json::Value),
    /// A line that is neither.
    Other,
    /// A line over [`MAX_LINE`], not read: counted as dropped.
    TooLong,
}

/// A running scan.
pub struct Scan {
    child: tokio::process::Child,
    out: tokio::io::BufReader<tokio::process::ChildStdout>,
    stderr: tokio::task::JoinHandle<String>,
    line: Vec<u8>,
}

/// How a scan ended.
#[derive(Debug)]
pub struct Exit {
    /// The exit code; `None` when ended by a signal.
    pub code: Option<i32>,
    /// The end of its stderr, for the reason of a failure.
    pub stderr_tail: String,
}

impl Scan {
    /// Starts `exe args...` with stdin closed.
    pub fn start(exe: &Path, args: &[OsString]) -> Result<Scan> {
        let mut cmd = tokio::process::Command::new(exe);
        die_with_parent(&mut cmd);
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // An agent that stops (or drops a hunt) takes its scan along.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io(format!("cannot start {}", exe.display()), e))?;
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(Error::Invalid("the scan has no output pipes".into()));
        };
        let stderr = tokio::spawn(async move {
            // Read it all (a full pipe would block the child), keep the end.
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                if tail.len() > 2 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            let start = tail.len().saturating_sub(STDERR_TAIL);
            String::from_utf8_lossy(tail.get(start..).unwrap_or(&[]))
                .trim()
                .to_string()
        });
        Ok(Scan {
            child,
            out: tokio::io::BufReader::with_capacity(64 * 1024, stdout),
            stderr,
            line: Vec::new(),
        })
    }

    /// The next line; `None` at the end of the output. Cancel-safe only
    /// between lines: the caller polls it to completion.
    pub async fn next(&mut self) -> Result<Option<Line>> {
        self.line.clear();
        let mut too_long = false;
        loop {
            let buf = self
                .out
                .fill_buf()
                .await
                .map_err(|e| Error::io("cannot read the scan's output", e))?;
            if buf.is_empty() {
                if self.line.is_empty() && !too_long {
                    return Ok(None);
                }
                break;
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (buf.get(..i).unwrap_or(&[]), Some(i + 1)),
                None => (buf, None),
            };
            if !too_long {
                if self.line.len() + chunk.len() > MAX_LINE {
                    too_long = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(chunk);
                }
            }
            let consumed = done.unwrap_or(buf.len());
            self.out.consume(consumed);
            if done.is_some() {
                break;
            }
        }
        if too_long {
            return Ok(Some(Line::TooLong));
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&self.line) else {
            return Ok(Some(Line::Other));
        };
        Ok(Some(match v.get("type").and_then(|t| t.as_str()) {
            Some("finding") => Line::Finding(v),
            Some("summary") => Line::Summary(v),
            _ => Line::Other,
        }))
    }

    /// Waits for the child to end.
    pub async fn wait(mut self) -> Result<Exit> {
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| Error::io("cannot wait for the scan", e))?;
        let stderr_tail = self.stderr.await.unwrap_or_default();
        Ok(Exit {
            code: status.code(),
            stderr_tail,
        })
    }
}

/// On Linux the scan is killed when the agent dies, however it dies
/// (`kill -9`, the OOM killer): no orphan scan goes on reading the disk
/// for a hunt that will be delivered again anyway. Elsewhere the scan ends
/// at its next write into the closed pipe.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut tokio::process::Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the
    // parent; it runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut tokio::process::Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_become_flags() {
        let cmd = ScanCommand {
            exe: "takedown".into(),
            vault: Some("/v".into()),
            cache_dir: None,
            root: None,
        };
        let spec = ScanSpec {
            paths: vec!["/--action=delete".into(), "/x".into()],
            excludes: vec!["--yes".into()],
            action: Action::Quarantine,
            yes: true,
            ..Default::default()
        };
        let args = cmd.args(&spec, Path::new("/sigs"), false);
        let s: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        assert!(s.contains(&"--exclude=--yes".to_string()));
        assert!(!s.iter().any(|a| a.starts_with("--action")), "{s:?}");
        let dashdash = s.iter().position(|a| a == "--").unwrap();
        assert_eq!(&s[dashdash + 1..], &["/--action=delete", "/x"]);
        assert!(
            !s.iter()
                .any(|a| a.contains("heuristics") || a.contains("packers"))
        );
        let heuristic = ScanSpec {
            heuristics: true,
            max_packers: Some(3),
            ..spec.clone()
        };
        let args = cmd.args(&heuristic, Path::new("/sigs"), false);
        let s: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        assert!(s.contains(&"--heuristics".to_string()), "{s:?}");
        assert!(s.contains(&"--max-packers=3".to_string()), "{s:?}");
        let acting = cmd.args(&spec, Path::new("/sigs"), true);
        let s: Vec<String> = acting.iter().map(|a| a.to_string_lossy().into()).collect();
        assert!(s.contains(&"--action=quarantine".to_string()));
        assert!(s.contains(&"--vault=/v".to_string()));
        let host = tempfile::tempdir().unwrap();
        let rooted = ScanCommand {
            root: Some(host.path().into()),
            ..cmd
        };
        let args = rooted.args(&spec, Path::new("/sigs"), false);
        let last = args.last().unwrap().to_string_lossy().into_owned();
        assert_eq!(Path::new(&last), host.path().join("x"));
    }

    #[test]
    fn links_do_not_lead_out_of_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join("srv/real")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("srv/out")).unwrap();
        std::os::unix::fs::symlink("real", root.join("srv/in")).unwrap();
        std::os::unix::fs::symlink("/", root.join("abs")).unwrap();
        let cmd = ScanCommand {
            exe: "takedown".into(),
            vault: None,
            cache_dir: None,
            root: Some(root.clone()),
        };
        let spec = ScanSpec {
            paths: vec![
                "/srv/out".into(),
                "/srv/out/x".into(),
                "/abs/etc".into(),
                "/srv/in/missing".into(),
                "/srv".into(),
            ],
            follow_symlinks: true,
            ..Default::default()
        };
        let (placed, left_out) = cmd.targets(&spec);
        let real = std::fs::canonicalize(&root).unwrap();
        assert_eq!(left_out.len(), 3, "{left_out:?}");
        assert_eq!(
            placed,
            vec![root.join("srv/real/missing"), root.join("srv")],
            "{real:?}"
        );
        let args = cmd.args(&spec, Path::new("/sigs"), false);
        assert!(!args.iter().any(|a| a == "--follow-symlinks"), "{args:?}");
        let act = cmd.act_args(&spec, Path::new("/sigs"), Path::new("/l"));
        let s: Vec<String> = act.iter().map(|a| a.to_string_lossy().into()).collect();
        let dd = s.iter().position(|a| a == "--").unwrap();
        assert_eq!(s[dd - 1], "--file-list=/l");
        assert_eq!(dd + 1, s.len(), "no paths: {s:?}");
    }
}
