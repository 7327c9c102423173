//! `takedown`: the command line. Only glue: parse flags into the engine's
//! options, run, print findings, choose the exit code. Everything that
//! decides what is malware lives in `takedown-engine`.

// `eprintln!`/`eprint!` that never panic. std's panic when stderr is gone
// ("failed printing to stderr"), and `takedown scan ... 2>&1 | head` is an
// ordinary way to run a scan: the message is lost, the scan and its exit
// code are not. Defined before the modules so that it shadows std's macros
// in all of them, including code written later.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod act;
mod agent;
mod args;
mod blocklist;
mod bundle;
mod dga;
mod disable;
mod evidence;
mod fleet;
mod hunt;
mod hunt_share;
mod intel;
// Process memory and executables through /proc: Unix only for now
// (`scan --processes|--pid` is refused elsewhere, see args.rs).
#[cfg(unix)]
mod memory;
mod notify;
mod output;
mod persistence;
mod progress;
mod quarantine;
mod serve;
mod sigs;
mod update;

use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use takedown_engine::run::{self, Progress};
use takedown_engine::sigs::{LoadError, SignatureSet};

/// Exit codes, as `clamscan` has them, so scripts written for it work.
mod exit {
    /// Nothing found, no error.
    pub const CLEAN: u8 = 0;
    /// At least one detection.
    pub const FOUND: u8 = 1;
    /// An error and no detection.
    pub const ERROR: u8 = 2;
    /// Stopped by Ctrl-C (128 + SIGINT).
    pub const INTERRUPTED: u8 = 130;
}

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_logging(
        cli.verbose,
        matches!(
            cli.command,
            args::Command::Serve(_) | args::Command::Agent(_)
        ),
    );
    let result = match cli.command {
        args::Command::Scan(a) => scan(*a, cli.verbose),
        args::Command::Quarantine(a) => quarantine::run(a),
        args::Command::Serve(a) => serve::serve(a, cli.verbose),
        args::Command::Sigs(a) => sigs::run(a),
        args::Command::Update(a) => update::run(a),
        args::Command::Intel(a) => intel::run(a),
        args::Command::Evidence(a) => evidence::run(a),
        args::Command::Dga(a) => dga::run(a),
        args::Command::Blocklist(a) => blocklist::run(a),
        args::Command::Hunt(a) => hunt::run(*a),
        args::Command::Notify(a) => notify::run(*a),
        args::Command::Persistence(a) => persistence::run(a),
        args::Command::Agent(a) => agent::run(*a),
        args::Command::Fleet(a) => fleet::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            // The reader went away (`| head`): nothing more to say.
            ExitCode::from(exit::CLEAN)
        }
        Err(e) => {
            eprintln!("takedown: error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// A service logs what it serves (info); a scan only warnings.
fn init_logging(verbose: u8, service: bool) {
    let default = match verbose {
        0 if service => "info",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TAKEDOWN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn scan(a: args::ScanArgs, verbose: u8) -> anyhow::Result<u8> {
    let config = a.into_config()?;
    let load_started = std::time::Instant::now();
    let sigs = match SignatureSet::load(&config.load) {
        Ok(sigs) => sigs,
        Err(e) => {
            // Every reason, not just the verdict: with nothing loaded or
            // --strict, the issues are the whole story.
            if let LoadError::Strict(issues) | LoadError::Empty(issues) = &e {
                for issue in issues {
                    eprintln!("takedown: error: {issue}");
                }
            }
            return Err(e.into());
        }
    };
    let problems = sigs.problems().count();
    // A real ClamAV database skips hundreds of lines this engine does not
    // support: one line per kind of construct, each line with -v.
    let constructs = sigs.unsupported_constructs();
    for issue in sigs
        .problems()
        .filter(|i| verbose > 0 || i.construct.is_none())
    {
        eprintln!("takedown: warning: {issue}");
    }
    if verbose == 0 {
        for c in &constructs {
            eprintln!("takedown: warning: {c} (-v lists each)");
        }
    }
    if problems > 0 {
        eprintln!(
            "takedown: warning: {problems} signature problem(s); everything else loaded (--strict makes them fatal)"
        );
    }
    if sigs.notices() > 0 {
        // One line, not one per indicator: a feed always holds some.
        eprintln!(
            "takedown: note: {} indicators not used: revoked, expired or not for detection (`takedown sigs check` lists them)",
            sigs.notices()
        );
    }
    tracing::info!(
        "loaded {} in {:.3}s",
        sigs.describe(),
        load_started.elapsed().as_secs_f64()
    );

    let mut targets = config.targets.clone();
    if let Some(list) = &config.file_list {
        let mut reader: Box<dyn std::io::BufRead> = if list.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(list)
                    .with_context(|| format!("cannot read --file-list {}", list.display()))?,
            ))
        };
        targets.extend(
            run::read_file_list(&mut reader)
                .with_context(|| format!("cannot read --file-list {}", list.display()))?,
        );
    }

    // Whatever an interrupted run left half done is finished or rolled
    // back first; a vault is opened (and created) only to act.
    let acting = config.action != args::Action::Report;
    let vault_dir = quarantine::vault_dir(config.vault.clone());
    let vault = if acting {
        let dir = vault_dir?;
        let mut vault = takedown_vault::Vault::open(&dir, true)
            .with_context(|| format!("cannot use the vault {}", dir.display()))?;
        quarantine::report_recovered(vault.take_recovered());
        let command: Vec<String> = std::env::args().collect();
        let run = vault.start_run(&command)?;
        Some((vault, run))
    } else {
        if let Ok(dir) = vault_dir {
            quarantine::recover(&dir);
        }
        None
    };
    let evidence = match &config.evidence {
        Some((case, key)) => Some(evidence::open_for_scan(case, key.as_deref())?),
        None => None,
    };
    // The case holds plaintext copies of what the scan detects: scanning
    // it would preserve them again and act on the evidence itself.
    let mut config = config;
    if let Some(ev) = &evidence
        && let Ok(dir) = std::fs::canonicalize(ev.case.dir())
    {
        config.run.excludes.push(evidence::exclude_pattern(&dir));
    }
    // `--persistence`: the programs of the autostart entries are scanned
    // with the paths, and each detected one names its entries.
    let autostarts = match &config.persistence {
        Some(root) => {
            let found = persistence::for_scan(root)?;
            targets.extend(found.targets.iter().cloned());
            Some(std::sync::Arc::new(found))
        }
        None => None,
    };
    let plan = (vault.is_some() || evidence.is_some()).then(|| act::Plan {
        autostarts: autostarts.clone(),
        action: config.action,
        min_score: config.min_score,
        yes: config.yes,
        vault,
        evidence,
    });

    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    install_ctrlc(stop);
    let progress = std::sync::Arc::new(Progress::default());
    let printer =
        output::Printer::new(config.format, config.color).exporting(config.export.clone());
    let started = time::OffsetDateTime::now_utc();
    let bar = progress::Bar::start(config.progress, progress.clone());
    let (summary, mut printer) = match plan {
        None => {
            let mut printer = printer;
            let summary = scan_all(
                &sigs,
                &targets,
                &config,
                autostarts.as_deref(),
                stop,
                &progress,
                &mut |report| bar.suspend(|| report.notable().all(|f| printer.finding(f))),
            )?;
            (summary, printer)
        }
        Some(plan) => {
            let actor = act::Actor::start(plan, printer);
            let summary = scan_all(
                &sigs,
                &targets,
                &config,
                autostarts.as_deref(),
                stop,
                &progress,
                &mut |report| actor.send(report),
            );
            let (printer, counts) = actor.finish();
            let mut summary = summary?;
            counts.add_to(&mut summary);
            (summary, printer)
        }
    };
    drop(bar);
    let mut summary = summary;
    summary.host = gethostname::gethostname().into_string().ok();
    summary.started = started
        .format(&time::format_description::well_known::Rfc3339)
        .ok();
    summary.signatures = sigs.source_refs();
    if !printer.broken() && (config.summary || config.export.is_some()) {
        printer.summary(&summary, &sigs);
    }
    printer.flush();
    if printer.broken() {
        // The reader went away (`| head`): nothing more to say to anyone,
        // but the code still says what was seen. A write that failed
        // otherwise (a full disk) lost results: an error unless something
        // was found.
        return Ok(if summary.files_detected > 0 {
            exit::FOUND
        } else if printer.failed() {
            exit::ERROR
        } else {
            exit::CLEAN
        });
    }
    Ok(if summary.interrupted {
        if config.format == args::Format::Text {
            eprintln!("takedown: interrupted; the summary above is partial");
        }
        exit::INTERRUPTED
    } else if summary.files_detected > 0 || summary.processes_detected > 0 {
        exit::FOUND
    } else if summary.errors > 0 {
        exit::ERROR
    } else {
        exit::CLEAN
    })
}

/// The scan proper: the paths and the autostarts' programs (one walk),
/// then the processes; every report goes to `sink`.
fn scan_all(
    sigs: &SignatureSet,
    targets: &[run::Target],
    config: &args::ScanConfig,
    autostarts: Option<&persistence::ForScan>,
    stop: &AtomicBool,
    progress: &Progress,
    sink: &mut dyn FnMut(run::Report) -> bool,
) -> anyhow::Result<takedown_engine::finding::Summary> {
    let mut summary = if targets.is_empty() {
        takedown_engine::finding::Summary {
            version: takedown_engine::finding::SCHEMA_VERSION,
            ..Default::default()
        }
    } else {
        run::run(sigs, targets, &config.run, stop, progress, |mut report| {
            if let Some(a) = autostarts {
                a.attach(&mut report);
            }
            sink(report)
        })
        .map_err(anyhow::Error::msg)?
    };
    if let Some(a) = autostarts {
        a.add_to(&mut summary);
    }
    #[cfg(unix)]
    if let Some(sel) = &config.processes
        && !stop.load(Ordering::Relaxed)
    {
        let started = std::time::Instant::now();
        memory::scan(sigs, sel, &config.run.scan, stop, &mut summary, sink);
        summary.elapsed_seconds += started.elapsed().as_secs_f64();
    }
    Ok(summary)
}

/// First Ctrl-C: stop cleanly (finish the files in hand, print a partial
/// summary). Second: leave at once.
fn install_ctrlc(stop: &'static AtomicBool) {
    static PRESSES: AtomicUsize = AtomicUsize::new(0);
    let result = ctrlc::set_handler(move || {
        if PRESSES.fetch_add(1, Ordering::SeqCst) > 0 {
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
        stop.store(true, Ordering::SeqCst);
    });
    if let Err(e) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
}
