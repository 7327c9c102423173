//! Sinks for findings: text for people, NDJSON for programs. Both print
//! the same [`Finding`]; only the form differs.

use crate::args::Format;
use std::io::{IsTerminal, Write};
use takedown_engine::finding::{ActionReport, EvidenceReport, Finding, ProblemKind, Summary};
use takedown_engine::sanitize::{for_terminal, path_for_terminal};
use takedown_engine::sigs::SignatureSet;

/// Writes findings and the summary to stdout, problems (text) to stderr.
pub struct Printer {
    format: Format,
    color: bool,
    out: std::io::BufWriter<std::io::Stdout>,
    /// Flush after each finding when a person is watching.
    interactive: bool,
    /// No more output is possible (set with either of the next two).
    broken: bool,
    /// Writing failed for another reason than the reader going away (a
    /// full disk, an I/O error): results were lost, which is an error.
    failed: bool,
    /// `--format stix|misp|html`: findings gathered as records, written
    /// as one document with the summary.
    export: Option<Export>,
}

/// A document written at the end of the run.
struct Export {
    format: crate::intel::ExportFormat,
    options: crate::intel::ExportOptions,
    findings: Vec<takedown_intel::records::FindingRecord>,
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

impl Printer {
    pub fn new(format: Format, color: bool) -> Printer {
        let interactive = std::io::stdout().is_terminal();
        Printer {
            format,
            color,
            out: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
            interactive,
            broken: false,
            failed: false,
            export: None,
        }
    }

    /// Gathers the findings and writes them as one document in `format`
    /// with the summary.
    pub fn exporting(
        mut self,
        export: Option<(crate::intel::ExportFormat, crate::intel::ExportOptions)>,
    ) -> Printer {
        self.export = export.map(|(format, options)| Export {
            format,
            options,
            findings: Vec::new(),
        });
        self
    }

    /// True once no more output is possible: stdout was closed by its
    /// reader, or a write failed.
    pub fn broken(&self) -> bool {
        self.broken
    }

    /// True when a write failed for another reason than a closed pipe.
    pub fn failed(&self) -> bool {
        self.failed
    }

    fn paint<'a>(&self, code: &'a str) -> &'a str {
        if self.color { code } else { "" }
    }

    /// Prints one finding; returns false when output is no longer possible.
    pub fn finding(&mut self, f: &Finding) -> bool {
        if self.broken {
            return false;
        }
        if let Some(export) = &mut self.export {
            // The NDJSON form read back: the exports take exactly what
            // `intel export` reads from a saved scan.
            match serde_json::to_value(f).and_then(serde_json::from_value) {
                Ok(record) => export.findings.push(record),
                Err(e) => eprintln!("takedown: error: finding not exported: {e}"),
            }
            return true;
        }
        let result = match self.format {
            Format::Json => serde_json::to_writer(&mut self.out, f)
                .map_err(std::io::Error::from)
                .and_then(|_| self.out.write_all(b"\n")),
            Format::Text => self.text_finding(f),
        };
        let result = result.and_then(|_| {
            if self.interactive {
                self.out.flush()
            } else {
                Ok(())
            }
        });
        self.check(result)
    }

    fn text_finding(&mut self, f: &Finding) -> std::io::Result<()> {
        // The finding's `path` is already lossy UTF-8; escape what a
        // terminal would interpret. `chain` names come from inside files.
        let mut shown = path_for_terminal(&f.fs_path);
        for inner in &f.chain {
            shown.push('!');
            shown.push_str(&for_terminal(inner));
        }
        let (bold, red, dim, reset) = (
            self.paint(BOLD),
            self.paint(RED),
            self.paint(DIM),
            self.paint(RESET),
        );
        if let Some(p) = &f.process {
            // Memory has no path: `pid 1234 [heap] @0x7f..`.
            shown = match (&p.region, &p.address) {
                (Some(r), Some(a)) => format!("pid {} {} @{}", p.pid, for_terminal(r), a),
                (Some(r), None) => format!("pid {} {}", p.pid, for_terminal(r)),
                _ => format!("pid {} {shown}", p.pid),
            };
        }
        for d in &f.detections {
            writeln!(
                self.out,
                "{bold}{shown}{reset}: {red}{}{reset} FOUND {dim}({}, score {}, {}){reset}",
                for_terminal(&d.name),
                d.engine.as_str(),
                d.score,
                for_terminal(&d.source)
            )?;
        }
        if !f.detections.is_empty() {
            if let Some(p) = &f.process {
                writeln!(
                    self.out,
                    "  {dim}process {}: {} {}{reset}",
                    p.pid,
                    for_terminal(p.exe.as_deref().unwrap_or("?")),
                    for_terminal(p.cmdline.as_deref().unwrap_or(""))
                )?;
            }
            for a in &f.autostarts {
                let at = match a.line {
                    Some(n) => format!("{}:{n}", for_terminal(&a.location)),
                    None => for_terminal(&a.location),
                };
                let done = match &a.action {
                    None => String::new(),
                    Some(x) if x.status == "done" => match &x.vault_id {
                        Some(id) => format!(": disabled (vault ID {id})"),
                        None => ": disabled".into(),
                    },
                    Some(x) => format!(
                        ": {} ({})",
                        x.status,
                        for_terminal(x.reason.as_deref().unwrap_or("no reason given"))
                    ),
                };
                writeln!(
                    self.out,
                    "  {dim}started by {} {at} {}{reset}{done}",
                    a.mechanism,
                    for_terminal(&a.name)
                )?;
            }
        }
        if !f.problems.is_empty() {
            // Problems go to stderr so that stdout stays a list of
            // detections; flush first to keep the two in order.
            self.out.flush()?;
            let yellow = self.paint(YELLOW);
            for p in &f.problems {
                let what = match p.kind {
                    ProblemKind::Error => "error",
                    ProblemKind::Timeout => "timeout",
                    ProblemKind::Limit => "limit",
                    ProblemKind::Encrypted => "encrypted",
                    ProblemKind::Skipped => "skipped",
                };
                eprintln!(
                    "takedown: {yellow}{what}{reset}: {shown}: {}",
                    for_terminal(&p.message)
                );
            }
        }
        Ok(())
    }

    /// Prints what was done to a file (text only: in JSON the action is a
    /// field of each finding). Done and skipped go to stdout with the
    /// detections; refused and failed to stderr with the other problems.
    /// Says where `scan --evidence` preserved a file, or why it could not.
    pub fn evidence(&mut self, e: &EvidenceReport, path: &std::path::Path) {
        if self.broken || self.format == Format::Json {
            return;
        }
        let shown = path_for_terminal(path);
        let yellow = self.paint(YELLOW);
        let reset = self.paint(RESET);
        let result = match (e.status, &e.item) {
            ("preserved", Some(item)) => writeln!(
                self.out,
                "{shown}: preserved in {} as {} (custody entry {})",
                for_terminal(&e.case),
                for_terminal(item),
                e.entry.map(|n| n.to_string()).unwrap_or_else(|| "?".into())
            ),
            _ => self.out.flush().map(|_| {
                eprintln!(
                    "takedown: {yellow}not preserved{reset}: {shown} in {}: {}",
                    for_terminal(&e.case),
                    for_terminal(e.reason.as_deref().unwrap_or("unknown reason"))
                );
            }),
        };
        self.check(result);
    }

    pub fn action(&mut self, a: &ActionReport, path: &std::path::Path) {
        if self.broken || self.format == Format::Json {
            return;
        }
        let shown = path_for_terminal(path);
        let (bold, reset, yellow) = (self.paint(BOLD), self.paint(RESET), self.paint(YELLOW));
        let why = a.reason.as_deref().map(for_terminal).unwrap_or_default();
        let result = match (a.status, a.action) {
            ("done", "quarantine") => writeln!(
                self.out,
                "{bold}{shown}{reset}: quarantined (vault ID {}){}",
                a.vault_id.as_deref().unwrap_or("?"),
                if why.is_empty() {
                    String::new()
                } else {
                    format!("; {why}")
                }
            ),
            ("done", _) => writeln!(
                self.out,
                "{bold}{shown}{reset}: deleted{}",
                if why.is_empty() {
                    String::new()
                } else {
                    format!("; {why}")
                }
            ),
            ("skipped", action) => {
                writeln!(self.out, "{shown}: not acted on ({action} skipped: {why})")
            }
            (status, action) => self.out.flush().map(|_| {
                eprintln!("takedown: {yellow}{status}{reset}: {action} of {shown}: {why}");
            }),
        };
        let result = result.and_then(|_| {
            if self.interactive {
                self.out.flush()
            } else {
                Ok(())
            }
        });
        self.check(result);
    }

    /// Prints the summary.
    pub fn summary(&mut self, s: &Summary, sigs: &SignatureSet) {
        if let Some(export) = self.export.take() {
            let run = takedown_intel::records::Run {
                origin: "scan".into(),
                findings: export.findings,
                summary: serde_json::to_value(s)
                    .and_then(serde_json::from_value)
                    .ok(),
                ..Default::default()
            };
            let result = crate::intel::write_export(
                export.format,
                std::slice::from_ref(&run),
                &export.options,
                &mut self.out,
            )
            .map_err(|e| match e.downcast::<std::io::Error>() {
                Ok(io) => io,
                Err(e) => std::io::Error::other(e.to_string()),
            });
            self.check(result);
            return;
        }
        let result = match self.format {
            Format::Json => serde_json::to_writer(&mut self.out, s)
                .map_err(std::io::Error::from)
                .and_then(|_| self.out.write_all(b"\n")),
            Format::Text => {
                let mb = |b: u64| b as f64 / 1e6;
                let rate = if s.elapsed_seconds > 0.0 {
                    mb(s.bytes_scanned) / s.elapsed_seconds
                } else {
                    0.0
                };
                let (bold, reset) = (self.paint(BOLD), self.paint(RESET));
                writeln!(
                    self.out,
                    "\n{bold}----------- SCAN SUMMARY -----------{reset}\n\
                     Signatures: {}\n\
                     Files scanned: {}\n\
                     Objects in containers: {}\n\
                     Data scanned: {:.2} MB (read: {:.2} MB)\n\
                     Infected files: {}\n\
                     Detections: {}\n\
                     Errors: {}\n\
                     Skipped: {}\n\
                     Time: {:.3} s ({:.1} MB/s){}",
                    sigs.describe(),
                    s.files_scanned,
                    s.members_scanned,
                    mb(s.bytes_scanned),
                    mb(s.bytes_read),
                    s.files_detected,
                    s.detections,
                    s.errors,
                    s.skipped,
                    s.elapsed_seconds,
                    rate,
                    if s.interrupted {
                        "\nInterrupted: totals are partial"
                    } else {
                        ""
                    },
                )
                .and_then(|_| {
                    if let Some(n) = s.autostarts {
                        writeln!(self.out, "Autostart entries: {n}")?;
                    }
                    if let Some(n) = s.processes {
                        writeln!(
                            self.out,
                            "Processes: {n} ({} detected, {:.2} MB of memory)",
                            s.processes_detected,
                            mb(s.memory_scanned)
                        )?;
                    }
                    if s.autostarts_disabled > 0 {
                        writeln!(
                            self.out,
                            "Autostart entries disabled: {}",
                            s.autostarts_disabled
                        )?;
                    }
                    if s.quarantined + s.deleted + s.refused + s.failed == 0 {
                        return Ok(());
                    }
                    writeln!(
                        self.out,
                        "Quarantined: {}\nDeleted: {}\nRefused: {}\nFailed: {}",
                        s.quarantined, s.deleted, s.refused, s.failed
                    )
                })
            }
        };
        self.check(result);
    }

    pub fn flush(&mut self) {
        let r = self.out.flush();
        self.check(r);
    }

    fn check(&mut self, r: std::io::Result<()>) -> bool {
        match r {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.broken = true;
                false
            }
            Err(e) => {
                eprintln!("takedown: error: cannot write output: {e}");
                self.broken = true;
                self.failed = true;
                false
            }
        }
    }
}

/// Who may read a file [`write_atomic`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Owner only (a temporary file's mode): reports that may name
    /// victims.
    Private,
    /// The permissions of the file replaced, else world-readable: a file
    /// that a daemon running as its own user loads (a resolver's
    /// blocklist).
    Shared,
}

/// Writes `path` so that a reader or a crash sees the old content or the
/// new, never half of it: a temporary file beside it (`prefix`...) is
/// filled by `fill`, synced and renamed over `path`.
pub(crate) fn write_atomic<T>(
    path: &std::path::Path,
    prefix: &str,
    access: Access,
    fill: impl FnOnce(&mut dyn Write) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    use anyhow::Context;
    let shown = path_for_terminal(path);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file beside {shown}"))?;
    let value = {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file());
        let value = fill(&mut out).with_context(|| format!("cannot write {shown}"))?;
        out.flush()
            .with_context(|| format!("cannot write {shown}"))?;
        value
    };
    if access == Access::Shared {
        let perms = match std::fs::metadata(path) {
            Ok(m) => Some(m.permissions()),
            Err(_) => shared_permissions(),
        };
        if let Some(p) = perms {
            tmp.as_file()
                .set_permissions(p)
                .with_context(|| format!("cannot set the permissions of {shown}"))?;
        }
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {shown}"))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot rename into {shown}"))?;
    Ok(value)
}

#[cfg(unix)]
fn shared_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn shared_permissions() -> Option<std::fs::Permissions> {
    // Elsewhere the new file inherits its directory's access rules.
    None
}
