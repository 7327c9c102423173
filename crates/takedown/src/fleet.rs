//! `takedown fleet hunt|status|results`: the analyst's side of fleet
//! hunts (the protocol is `takedown-fleet`'s; see docs/fleet.md).

use crate::intel::{ExportFormat, ExportOptions};
use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use takedown_engine::sanitize::for_terminal;
use takedown_fleet::issue::{self, BundleSource, HostState, HuntRequest};
use takedown_fleet::model::{Action, ScanSpec, Target};

/// How to reach the NATS server; shared by `agent` and `fleet`.
#[derive(clap::Args, Debug, Clone)]
pub struct NatsArgs {
    /// The NATS server: nats://HOST:PORT, or tls://HOST:PORT to require
    /// TLS; several separated by commas.
    #[arg(long = "nats", value_name = "URL", env = "TAKEDOWN_NATS")]
    pub url: String,
    /// NATS credentials file (user JWT and NKey seed).
    #[arg(long, value_name = "FILE", env = "TAKEDOWN_NATS_CREDS")]
    pub creds: Option<PathBuf>,
    /// CA certificates (PEM) for the server's TLS certificate (implies
    /// TLS).
    #[arg(long, value_name = "FILE", env = "TAKEDOWN_NATS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// The subject prefix of this client's replies, which its NATS user
    /// alone may subscribe to [default: _INBOX_HOST for an agent,
    /// _INBOX_analyst for `fleet`].
    #[arg(long, value_name = "PREFIX", env = "TAKEDOWN_NATS_INBOX")]
    pub inbox_prefix: Option<String>,
}

impl NatsArgs {
    pub fn config(&self, name: String, retry: bool) -> takedown_fleet::conn::ConnectConfig {
        takedown_fleet::conn::ConnectConfig {
            url: self.url.clone(),
            creds: self.creds.clone(),
            tls_ca: self.tls_ca.clone(),
            name,
            retry_initial: retry,
        }
    }

    /// Connects with --inbox-prefix, or `default_inbox`.
    pub async fn connect(
        &self,
        name: String,
        retry: bool,
        default_inbox: &str,
    ) -> takedown_fleet::Result<takedown_fleet::async_nats::jetstream::Context> {
        let inbox = self.inbox_prefix.as_deref().unwrap_or(default_inbox);
        takedown_fleet::conn::connect_with_inbox(&self.config(name, retry), Some(inbox)).await
    }

    /// Connects as the analyst's commands do.
    async fn analyst(
        &self,
    ) -> takedown_fleet::Result<takedown_fleet::async_nats::jetstream::Context> {
        self.connect(
            "takedown fleet".into(),
            false,
            takedown_fleet::conn::ANALYST_INBOX_PREFIX,
        )
        .await
    }
}

/// `takedown fleet`.
#[derive(clap::Args, Debug)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

/// `takedown fleet ...`.
#[derive(Subcommand, Debug)]
pub enum FleetCommand {
    /// Issue a hunt to the agents: the bundle's signatures over PATHs on
    /// every machine targeted; prints the hunt id.
    Hunt(Box<HuntArgs>),
    /// Which hosts are done, running, not yet seen, refused or failed.
    ///
    /// Exit status: 0 every host targeted finished, 1 some have not, 2 an
    /// error.
    Status(StatusArgs),
    /// The findings of a hunt, each once, per host.
    ///
    /// Exit status: 0 nothing found, 1 something found, 2 an error.
    Results(ResultsArgs),
}

/// `takedown fleet hunt`.
#[derive(clap::Args, Debug)]
pub struct HuntArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Who runs it: `all`, the agents labelled KEY=VALUE, or one host id.
    #[arg(long, value_name = "all|KEY=VALUE|HOST", default_value = "all")]
    pub to: String,
    /// The signed signature bundle (`takedown sigs bundle`); uploaded to
    /// the server's object store unless --bundle-url is given.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// Agents download the bundle from this http(s) URL instead; --bundle
    /// is then only hashed (it must be the same file).
    #[arg(long, value_name = "URL")]
    pub bundle_url: Option<String>,
    /// How long after now an agent may still start the hunt (s, m, h or
    /// d suffix; at most 90d).
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub expires: String,
    /// Absolute paths on the agents.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Set the results stream's size limit (K, M, G, T suffix): past it
    /// the oldest records of every hunt are dropped [default: as it is;
    /// a new stream has none but the server's storage].
    #[arg(long, value_name = "SIZE")]
    pub results_max_bytes: Option<String>,
    /// Set how long the results stream keeps records (s, m, h or d
    /// suffix; at least 1h) [default: as it is; a new stream 180d].
    #[arg(long, value_name = "DURATION")]
    pub results_max_age: Option<String>,
    /// Leave out the built-in pack (EICAR and ClamAV test files).
    #[arg(long, help_heading = "Scan")]
    pub no_builtin: bool,
    /// Skip paths matching GLOB (repeatable).
    #[arg(long, value_name = "GLOB", help_heading = "Scan")]
    pub exclude: Vec<String>,
    /// As `scan --max-filesize`.
    #[arg(long, value_name = "SIZE", help_heading = "Scan")]
    pub max_filesize: Option<String>,
    /// As `scan --timeout`.
    #[arg(long, value_name = "SECONDS", help_heading = "Scan")]
    pub timeout: Option<f64>,
    /// As `scan --no-containers`.
    #[arg(long, help_heading = "Scan")]
    pub no_containers: bool,
    /// As `scan --max-depth`.
    #[arg(long, value_name = "N", help_heading = "Scan")]
    pub max_depth: Option<u32>,
    /// As `scan --max-entries`.
    #[arg(long, value_name = "N", help_heading = "Scan")]
    pub max_entries: Option<u64>,
    /// As `scan --max-scansize`.
    #[arg(long, value_name = "SIZE", help_heading = "Scan")]
    pub max_scansize: Option<String>,
    /// As `scan --max-ratio`.
    #[arg(long, value_name = "N", help_heading = "Scan")]
    pub max_ratio: Option<u64>,
    /// As `scan --time-limit`.
    #[arg(long, value_name = "SECONDS", help_heading = "Scan")]
    pub time_limit: Option<f64>,
    /// As `scan --limits-as-detections`.
    #[arg(long, help_heading = "Scan")]
    pub limits_as_detections: bool,
    /// As `scan --heuristics`.
    #[arg(long, help_heading = "Scan")]
    pub heuristics: bool,
    /// As `scan --max-packers`.
    #[arg(long, value_name = "N", requires = "heuristics", help_heading = "Scan")]
    pub max_packers: Option<u32>,
    /// As `scan --one-file-system`.
    #[arg(long, help_heading = "Scan")]
    pub one_file_system: bool,
    /// As `scan --follow-symlinks`.
    #[arg(short = 'L', long, help_heading = "Scan")]
    pub follow_symlinks: bool,
    /// Also scan the programs of every autostart entry of each agent's
    /// system.
    #[arg(long, help_heading = "Scan")]
    pub persistence: bool,
    /// Also scan the memory of every process on each agent.
    #[arg(long, help_heading = "Scan")]
    pub processes: bool,
    /// Scanning threads on each agent.
    #[arg(short = 'j', long, value_name = "N", help_heading = "Scan")]
    pub threads: Option<u32>,
    /// `quarantine`: move detected files into each agent's vault
    /// (restorable); needs --yes. Agents started with --no-actions only
    /// report. Deleting is not offered across a fleet.
    #[arg(long, value_enum, default_value_t = FleetAction::Report, help_heading = "Removal")]
    pub action: FleetAction,
    /// Confirm --action for every machine targeted.
    #[arg(long, help_heading = "Removal")]
    pub yes: bool,
    /// Act only on files with a detection scoring at least N.
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Removal")]
    pub min_score: u32,
}

/// What a fleet hunt does with detected files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FleetAction {
    /// Only report.
    Report,
    /// Quarantine into each agent's vault.
    Quarantine,
}

/// `takedown fleet status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// The hunt id (printed by `fleet hunt`).
    #[arg(value_name = "HUNT")]
    pub hunt: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::args::Format::Text)]
    pub format: crate::args::Format,
}

/// `takedown fleet results`.
#[derive(clap::Args, Debug)]
pub struct ResultsArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// The hunt id.
    #[arg(value_name = "HUNT")]
    pub hunt: String,
    /// text, NDJSON (per host: its findings, then its summary with `host`
    /// set to the host id), or one STIX 2.1 bundle, MISP event or HTML
    /// report over every host.
    #[arg(long, value_enum, default_value_t = crate::args::ScanFormat::Text)]
    pub format: crate::args::ScanFormat,
    #[command(flatten)]
    pub export: ExportOptions,
}

/// Reads `90s`, `30m`, `12h`, `7d` or plain seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (s.get(..i).unwrap_or(""), s.get(i..).unwrap_or("")),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is not a duration (such as 90s, 30m, 12h, 7d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => anyhow::bail!("{s:?}: the unit must be s, m, h or d"),
    };
    let secs = n
        .checked_mul(mult)
        .ok_or_else(|| anyhow::anyhow!("{s:?} is too long"))?;
    Ok(Duration::from_secs(secs))
}

/// A runtime for one command; the work is network waits.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn run(a: FleetArgs) -> anyhow::Result<u8> {
    match a.command {
        FleetCommand::Hunt(a) => hunt(*a),
        FleetCommand::Status(a) => status(a),
        FleetCommand::Results(a) => results(a),
    }
}

fn hunt(a: HuntArgs) -> anyhow::Result<u8> {
    let target = Target::parse(&a.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    // Local mistakes are said before the network is tried.
    std::fs::File::open(&a.bundle)
        .with_context(|| format!("cannot read the bundle {}", a.bundle.display()))?;
    let expires = parse_duration(&a.expires).context("--expires")?;
    if a.action == FleetAction::Quarantine && !a.yes {
        anyhow::bail!("--action quarantine acts on every machine targeted: confirm with --yes");
    }
    let scan = ScanSpec {
        paths: a.paths,
        no_builtin: a.no_builtin,
        excludes: a.exclude,
        max_filesize: a.max_filesize,
        timeout: a.timeout,
        no_containers: a.no_containers,
        max_depth: a.max_depth,
        max_entries: a.max_entries,
        max_scansize: a.max_scansize,
        max_ratio: a.max_ratio,
        time_limit: a.time_limit,
        limits_as_detections: a.limits_as_detections,
        heuristics: a.heuristics,
        max_packers: a.max_packers,
        one_file_system: a.one_file_system,
        follow_symlinks: a.follow_symlinks,
        persistence: a.persistence,
        processes: a.processes,
        threads: a.threads,
        action: match a.action {
            FleetAction::Report => Action::Report,
            FleetAction::Quarantine => Action::Quarantine,
        },
        yes: a.yes,
        min_score: a.min_score,
    };
    scan.validate()?;
    let bundle = match &a.bundle_url {
        Some(url) => BundleSource::Url {
            url,
            file: &a.bundle,
        },
        None => BundleSource::File(&a.bundle),
    };
    let results_limits = takedown_fleet::conn::ResultsLimits {
        max_bytes: match &a.results_max_bytes {
            Some(s) => Some(
                takedown_engine::size::parse(s)
                    .ok()
                    .and_then(|n| i64::try_from(n).ok())
                    .with_context(|| {
                        format!("--results-max-bytes {s:?}: not a size (such as 50G)")
                    })?,
            ),
            None => None,
        },
        max_age: match &a.results_max_age {
            Some(s) => Some(parse_duration(s).context("--results-max-age")?),
            None => None,
        },
    };
    let req = HuntRequest {
        target,
        bundle,
        expires,
        scan,
        results_limits,
    };
    let rt = runtime()?;
    let hunt = rt.block_on(async {
        let js = a.nats.analyst().await?;
        issue::issue_hunt(&js, &req).await
    })?;
    println!("{}", hunt.id);
    eprintln!(
        "takedown: hunt {} issued to {}, expires {}",
        hunt.id,
        hunt.target,
        takedown_bundle::format_date(hunt.expires)
    );
    Ok(0)
}

fn status(a: StatusArgs) -> anyhow::Result<u8> {
    takedown_fleet::ids::check_token("the hunt id", &a.hunt)?;
    let rt = runtime()?;
    let st = rt.block_on(async {
        let js = a.nats.analyst().await?;
        issue::status(&js, &a.hunt).await
    })?;
    for b in &st.bad_records {
        eprintln!("takedown: warning: record ignored: {}", for_terminal(b));
    }
    let unfinished = st
        .hosts
        .iter()
        .filter(|h| !matches!(h.state, HostState::Finished(_)))
        .count();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match a.format {
        crate::args::Format::Json => {
            for h in &st.hosts {
                let v = serde_json::json!({
                    "type": "fleet-host",
                    "hunt": st.hunt.id,
                    "host": h.host,
                    "state": h.state.as_str(),
                    "delivery": match h.state { HostState::Running(d) => Some(d), _ => h.completion.as_ref().map(|c| c.delivery) },
                    "completions": h.completions,
                    "completion": h.completion,
                });
                writeln!(out, "{v}")?;
            }
        }
        crate::args::Format::Text => {
            writeln!(
                out,
                "hunt {} for {}, issued {}, expires {}",
                st.hunt.id,
                st.hunt.target,
                takedown_bundle::format_date(st.hunt.issued),
                takedown_bundle::format_date(st.hunt.expires)
            )?;
            let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
            for h in &st.hosts {
                *counts.entry(h.state.as_str()).or_default() += 1;
                let detail = match (&h.state, &h.completion) {
                    (HostState::Running(d), _) => format!(" (delivery {d})"),
                    (_, Some(c)) => {
                        let mut s =
                            format!(", {} findings", c.findings.saturating_add(c.duplicates));
                        if c.delivery > 1 {
                            s.push_str(&format!(", {} deliveries", c.delivery));
                        }
                        if let Some(r) = &c.reason {
                            s.push_str(&format!(": {}", for_terminal(r)));
                        }
                        s
                    }
                    _ => String::new(),
                };
                writeln!(out, "  {}: {}{detail}", h.host, h.state.as_str())?;
            }
            let line: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
            writeln!(
                out,
                "{} hosts: {}",
                st.hosts.len(),
                if line.is_empty() {
                    "none known yet".to_string()
                } else {
                    line.join(", ")
                }
            )?;
        }
    }
    out.flush()?;
    Ok(if unfinished == 0 { 0 } else { 1 })
}

fn results(a: ResultsArgs) -> anyhow::Result<u8> {
    takedown_fleet::ids::check_token("the hunt id", &a.hunt)?;
    use crate::args::ScanFormat;
    let export = match a.format {
        ScanFormat::Stix => Some(ExportFormat::Stix),
        ScanFormat::Misp => Some(ExportFormat::Misp),
        ScanFormat::Html => Some(ExportFormat::Html),
        ScanFormat::Text | ScanFormat::Json => None,
    };
    let rt = runtime()?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let has_detections = |f: &serde_json::Value| {
        f.get("detections")
            .and_then(|d| d.as_array())
            .is_some_and(|d| !d.is_empty())
    };
    if let Some(format) = export {
        // The exporters take every run at once: held whole (bounded).
        let res = rt.block_on(async {
            let js = a.nats.analyst().await?;
            issue::results(&js, &a.hunt).await
        })?;
        warn_read(&res.bad_records, res.duplicates);
        let detected = res
            .hosts
            .values()
            .any(|h| h.findings.iter().any(has_detections));
        // One run per host: the exporters name each host's sightings.
        let mut runs = Vec::new();
        for (host, h) in &res.hosts {
            let mut findings = Vec::with_capacity(h.findings.len());
            for f in &h.findings {
                match serde_json::from_value(f.clone()) {
                    Ok(r) => findings.push(r),
                    Err(e) => eprintln!("takedown: warning: a finding of {host} not exported: {e}"),
                }
            }
            let summary = h
                .completion
                .as_ref()
                .and_then(|c| c.summary.clone())
                .and_then(|s| serde_json::from_value(s).ok());
            runs.push(takedown_intel::records::Run {
                origin: host.clone(),
                findings,
                summary,
                ..Default::default()
            });
        }
        crate::intel::write_export(format, &runs, &a.export, &mut out)?;
        out.flush()?;
        return Ok(if detected { 1 } else { 0 });
    }
    // Text and JSON stream: each finding written as it is read, whatever
    // the size of the hunt.
    let json = a.format == ScanFormat::Json;
    let mut detected = false;
    let io = |e: std::io::Error| {
        takedown_fleet::Error::Invalid(format!("cannot write the results: {e}"))
    };
    let read = rt.block_on(async {
        let js = a.nats.analyst().await?;
        issue::results_each(&js, &a.hunt, &mut |item| {
            match item {
                issue::ResultItem::Finding(host, f) => {
                    detected |= has_detections(&f);
                    if json {
                        serde_json::to_writer(&mut out, &f)
                            .map_err(|e| io(std::io::Error::other(e)))?;
                        out.write_all(b"\n").map_err(io)?;
                    } else {
                        text_finding(&mut out, host, &f).map_err(io)?;
                    }
                }
                issue::ResultItem::HostEnd(_, c) => {
                    if json && let Some(s) = c.and_then(|c| c.summary.as_ref()) {
                        serde_json::to_writer(&mut out, s)
                            .map_err(|e| io(std::io::Error::other(e)))?;
                        out.write_all(b"\n").map_err(io)?;
                    }
                }
            }
            Ok(())
        })
        .await
    })?;
    warn_read(&read.bad_records, read.duplicates);
    if !json {
        writeln!(out, "\n----------- FLEET RESULTS -----------")?;
        writeln!(out, "Hunt: {} for {}", read.hunt.id, read.hunt.target)?;
        for (host, (n, c)) in &read.hosts {
            let state = match c {
                Some(c) => match &c.reason {
                    Some(r) => format!("{}: {}", c.outcome.as_str(), for_terminal(r)),
                    None => c.outcome.as_str().to_string(),
                },
                None => "not finished".to_string(),
            };
            writeln!(out, "{}: {n} findings, {state}", for_terminal(host))?;
        }
        if read.duplicates > 0 {
            writeln!(out, "Copies dropped: {}", read.duplicates)?;
        }
    }
    out.flush()?;
    Ok(if detected { 1 } else { 0 })
}

/// Says what reading the results left out.
fn warn_read(bad: &[String], duplicates: u64) {
    for b in bad {
        eprintln!("takedown: warning: record ignored: {}", for_terminal(b));
    }
    if duplicates > 0 {
        eprintln!("takedown: {duplicates} copies of findings stored twice were dropped");
    }
}

/// `HOST: PATH[!member...]: NAME FOUND (engine, score N, source)`, as
/// `scan` prints a detection, with the host in front; every string from
/// the network is escaped for the terminal.
fn text_finding(out: &mut dyn Write, host: &str, f: &serde_json::Value) -> std::io::Result<()> {
    let s = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).unwrap_or("").to_string();
    let mut shown = for_terminal(&s(f.get("path")));
    if let Some(chain) = f.get("chain").and_then(|c| c.as_array()) {
        for c in chain {
            shown.push('!');
            shown.push_str(&for_terminal(c.as_str().unwrap_or("?")));
        }
    }
    let host = for_terminal(host);
    for d in f
        .get("detections")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
    {
        writeln!(
            out,
            "{host}: {shown}: {} FOUND ({}, score {}, {})",
            for_terminal(&s(d.get("name"))),
            for_terminal(&s(d.get("engine"))),
            d.get("score").and_then(|v| v.as_u64()).unwrap_or(0),
            for_terminal(&s(d.get("source")))
        )?;
    }
    for p in f
        .get("problems")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
    {
        eprintln!(
            "takedown: {}: {host}: {shown}: {}",
            for_terminal(&s(p.get("kind"))),
            for_terminal(&s(p.get("message")))
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("7w").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
