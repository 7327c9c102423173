//! `takedown intel`: exchange with partners. Findings saved with `scan
//! --format json` and sightings saved by `hunt` (from one machine or
//! many) exported as STIX 2.1, MISP (an event or a feed) or an HTML report; STIX pulled from and pushed to
//! TAXII 2.1 servers. `scan --format stix|misp|html` uses the same
//! exporters through [`write_export`].

pub mod taxii;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use takedown_intel::Tlp;
use takedown_intel::records::Run;

/// `takedown intel`.
#[derive(clap::Args, Debug)]
pub struct IntelArgs {
    #[command(subcommand)]
    pub command: IntelCommand,
}

/// `takedown intel ...`.
#[derive(Subcommand, Debug)]
pub enum IntelCommand {
    /// Export findings saved with `scan --format json` and sightings
    /// saved by `hunt` (from one machine or many, merged) as STIX 2.1, a
    /// MISP event, a MISP feed or an HTML report.
    ///
    /// Exit status: 0 exported, 1 exported but some input lines could not
    /// be read (each is named on stderr), 2 an error.
    Export(ExportArgs),
    /// Pull the objects of a TAXII 2.1 collection into STIX bundle files;
    /// run again, it resumes where it stopped.
    Pull(taxii::PullArgs),
    /// Push STIX bundles into a TAXII 2.1 collection.
    Push(taxii::PushArgs),
}

/// An export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A STIX 2.1 bundle.
    Stix,
    /// One MISP event (JSON).
    Misp,
    /// A MISP feed directory (manifest.json, hashes.csv, events).
    MispFeed,
    /// A self-contained HTML report.
    Html,
}

/// Options every export shares (`intel export` and `scan --format
/// stix|misp|html`).
#[derive(clap::Args, Debug, Clone)]
pub struct ExportOptions {
    /// TLP marking of the export (STIX marking, MISP tag, HTML banner).
    #[arg(long, value_parser = parse_tlp, default_value = "amber", help_heading = "Export")]
    pub tlp: Tlp,
    /// Name of the producer: the STIX identity, the MISP organisation.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "takedown",
        help_heading = "Export"
    )]
    pub producer: String,
    /// MISP distribution: 0 your organisation only, 1 this community, 2
    /// connected communities, 3 all communities.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3), help_heading = "Export")]
    pub misp_distribution: u8,
    /// Title of the HTML report, info of the MISP event.
    #[arg(long, value_name = "TEXT", help_heading = "Export")]
    pub title: Option<String>,
}

fn parse_tlp(s: &str) -> Result<Tlp, String> {
    Tlp::parse(s)
        .ok_or_else(|| format!("'{s}' is not a TLP: use clear, green, amber, amber+strict or red"))
}

/// `takedown intel export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Findings NDJSON files (`scan --format json` output) or sightings
    /// NDJSON files (`hunt` output), or files mixing both; `-` reads
    /// standard input.
    #[arg(value_name = "FINDINGS", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Stix)]
    pub format: ExportFormat,
    /// Where to write: a file (`-` for standard output), or for
    /// `misp-feed` a directory (created if missing).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    #[command(flatten)]
    pub options: ExportOptions,
}

/// Runs `takedown intel ...`.
pub fn run(a: IntelArgs) -> anyhow::Result<u8> {
    match a.command {
        IntelCommand::Export(a) => export(a),
        IntelCommand::Pull(a) => taxii::pull(a),
        IntelCommand::Push(a) => taxii::push(a),
    }
}

fn export(a: ExportArgs) -> anyhow::Result<u8> {
    let mut runs = Vec::new();
    let mut bad_lines = 0usize;
    let mut stdin_used = false;
    for input in &a.inputs {
        let name = input.to_string_lossy().into_owned();
        let (run, errors) = if input.as_os_str() == "-" {
            if std::mem::replace(&mut stdin_used, true) {
                anyhow::bail!("standard input (`-`) can be given once");
            }
            takedown_intel::records::read_run(std::io::stdin().lock(), "stdin")
        } else {
            let file = std::fs::File::open(input)
                .with_context(|| format!("cannot read findings {}", path_shown(input)))?;
            takedown_intel::records::read_run(std::io::BufReader::new(file), &name)
        };
        for e in &errors {
            eprintln!("takedown: warning: {}", for_terminal(&e.to_string()));
        }
        bad_lines += errors.len();
        if !run.has_summary() {
            eprintln!(
                "takedown: warning: {}: no summary line (cut short?); its records are exported without run times",
                path_shown(input)
            );
        }
        runs.push(run);
    }
    let findings: usize = runs.iter().map(|r| r.findings.len()).sum();
    let sightings: usize = runs.iter().map(|r| r.sightings.len()).sum();
    if a.format == ExportFormat::MispFeed {
        if a.output.as_os_str() == "-" {
            anyhow::bail!("a MISP feed is a directory: give one with -o");
        }
        let event = takedown_intel::misp::write::event(&runs, &misp_options(&a.options));
        takedown_intel::misp::feed::write_feed(&a.output, std::slice::from_ref(&event))
            .with_context(|| format!("cannot write the feed {}", path_shown(&a.output)))?;
    } else if a.output.as_os_str() == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        write_export(a.format, &runs, &a.options, &mut out)?;
        out.flush()?;
    } else {
        write_file_atomically(&a.output, |out| {
            write_export(a.format, &runs, &a.options, out)
        })?;
    }
    if sightings > 0 {
        eprintln!(
            "takedown: exported {findings} findings and {sightings} sightings from {} runs to {}",
            runs.len(),
            path_shown(&a.output)
        );
    } else {
        eprintln!(
            "takedown: exported {findings} findings from {} runs to {}",
            runs.len(),
            path_shown(&a.output)
        );
    }
    Ok(if bad_lines > 0 { 1 } else { 0 })
}

/// The MISP options of an export.
fn misp_options(o: &ExportOptions) -> takedown_intel::misp::write::MispOptions {
    takedown_intel::misp::write::MispOptions {
        tlp: o.tlp,
        distribution: o.misp_distribution,
        org: o.producer.clone(),
        info: o.title.clone(),
    }
}

/// Writes `runs` in `format` (not `misp-feed`, which is a directory).
pub fn write_export(
    format: ExportFormat,
    runs: &[Run],
    o: &ExportOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    let mut out = out;
    match format {
        ExportFormat::Stix => {
            takedown_intel::stix::write::write_bundle(
                runs,
                &takedown_intel::stix::write::StixOptions {
                    tlp: o.tlp,
                    producer: o.producer.clone(),
                    now,
                },
                &mut out,
            )?;
        }
        ExportFormat::Misp => {
            let event = takedown_intel::misp::write::event(runs, &misp_options(o));
            serde_json::to_writer_pretty(&mut out, &event)?;
            out.write_all(b"\n")?;
        }
        ExportFormat::Html => takedown_intel::html::write_report(
            runs,
            &takedown_intel::html::HtmlOptions {
                title: o.title.clone(),
                tlp: Some(o.tlp),
                now,
            },
            &mut out,
        )?,
        ExportFormat::MispFeed => anyhow::bail!("a MISP feed is written with `intel export`"),
    }
    Ok(())
}

/// Writes a file through a temporary file in the same directory, renamed
/// into place once complete and synced: a reader never sees half an
/// export, and an existing file is replaced only by a whole one.
fn write_file_atomically(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", path_shown(dir)))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", path_shown(dir)))?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut out)?;
        out.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path_shown(path)))?;
    Ok(())
}

fn path_shown(p: &std::path::Path) -> String {
    takedown_engine::sanitize::path_for_terminal(p)
}

fn for_terminal(s: &str) -> String {
    takedown_engine::sanitize::for_terminal(s)
}
