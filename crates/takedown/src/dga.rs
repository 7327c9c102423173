//! `takedown dga`: the families' domain generation algorithms. `list`
//! shows them with their parameters and known seeds, `gen` prints their
//! domains for a window, `match` finds which family, seed and date
//! generate a domain. The algorithms live in `takedown-dga`.

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use takedown_dga::index::{Index, Match};
use takedown_dga::{Dga, format_date, parse_date};
use takedown_engine::sanitize::{for_terminal, path_for_terminal};
use time::Date;

/// Longest window `gen` and `match` accept. Twenty years of every family
/// is a few hundred million names: more is a typo, not a request.
const MAX_WINDOW_DAYS: i64 = 20 * 366;

/// Largest `--config` file read: a sample's configuration is a few
/// hundred bytes.
const MAX_CONFIG: u64 = 1 << 20;

/// Longest line `match` reads from standard input; a longer one is not a
/// domain name and is skipped (counted), so one hostile line cannot make
/// the reader buffer gigabytes.
const MAX_LINE: usize = 64 * 1024;

/// `takedown dga`.
#[derive(clap::Args, Debug)]
pub struct DgaArgs {
    #[command(subcommand)]
    command: DgaCommand,
}

#[derive(Subcommand, Debug)]
enum DgaCommand {
    /// List the families, their variants and parameters, the seeds known
    /// from public analyses (with their source), and the takedown's
    /// families that have no DGA.
    List(ListArgs),
    /// Print the domains of a family (or all) for every day of a window.
    ///
    /// Without --seed or --config, every known seed of the family is
    /// generated. Text output is one domain per line, in the order the
    /// malware tries them, period by period; json lines carry family,
    /// variant, seed, date (the first day of the window the domain is
    /// generated for; null when the family does not depend on the date),
    /// until (the last such day) and domain.
    Gen(GenArgs),
    /// Which family, seed and date generate each domain: a reverse lookup
    /// over a window, case-insensitive; a name whose parent is a DGA domain
    /// (www.<dga domain>) is reported as not exact.
    ///
    /// Exit status: 0 at least one name matched, 1 none did, 2 an error.
    Match(MatchArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutFormat {
    /// For people.
    Text,
    /// JSON: one object per line (`list`: one document).
    Json,
}

#[derive(clap::Args, Debug)]
struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    format: OutFormat,
}

/// What selects the generators: a family (or `all`), a seed, a
/// configuration file.
#[derive(clap::Args, Debug)]
struct Selection {
    /// Family (`all`, `nymaim`, a variant as `vawtrak/v2`, a seed as
    /// `nymaim:SEED`); see `takedown dga list`.
    #[arg(long = "family", short = 'f', value_name = "FAMILY")]
    families: Vec<String>,
    /// The seed (only with one family).
    #[arg(long)]
    seed: Option<String>,
    /// A per-sample configuration (JSON object; its keys are listed by
    /// `dga list`), only with one family.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct GenArgs {
    #[command(flatten)]
    select: Selection,
    /// First day (UTC, YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    from: Date,
    /// Last day (UTC, YYYY-MM-DD), included.
    #[arg(long, value_parser = parse_date)]
    to: Date,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    format: OutFormat,
    /// Print each domain once (its first date), not once per period.
    #[arg(long)]
    unique: bool,
}

#[derive(clap::Args, Debug)]
struct MatchArgs {
    #[command(flatten)]
    select: Selection,
    /// Days before and after today (or --to/--from) the window covers
    /// when --from and --to are not both given.
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    window: u32,
    /// First day of the window (UTC, YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    from: Option<Date>,
    /// Last day of the window (UTC, YYYY-MM-DD), included.
    #[arg(long, value_parser = parse_date)]
    to: Option<Date>,
    /// Only exact names: do not look up a name's parents.
    #[arg(long)]
    exact: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    format: OutFormat,
    /// Domains to look up; `-` reads them from standard input, one per
    /// line (the first white-space-separated field of each line).
    #[arg(required = true, value_name = "DOMAIN")]
    names: Vec<String>,
}

/// Runs `takedown dga`.
pub fn run(a: DgaArgs) -> anyhow::Result<u8> {
    match a.command {
        DgaCommand::List(l) => list(l),
        DgaCommand::Gen(g) => generate(g),
        DgaCommand::Match(m) => lookup(m),
    }
}

fn list(a: ListArgs) -> anyhow::Result<u8> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    if a.format == OutFormat::Json {
        let families: Vec<Value> = takedown_dga::families()
            .iter()
            .map(|f| {
                json!({
                    "family": f.name,
                    "aliases": f.aliases,
                    "title": f.title,
                    "implemented": !f.variants.is_empty(),
                    "variants": f.variants.iter().map(|v| json!({
                        "variant": v.name,
                        "summary": v.summary,
                        "parameters": v.parameters.iter().map(|(k, d)| json!({"name": k, "value": d})).collect::<Vec<_>>(),
                        "seed": v.seed_syntax,
                        "config": v.config_syntax,
                        "known": v.known.iter().map(|k| json!({
                            "seed": k.seed,
                            "config": (!k.config.is_empty()).then(|| serde_json::from_str::<Value>(k.config).ok()).flatten(),
                            "source": k.source,
                        })).collect::<Vec<_>>(),
                        "reference": v.reference,
                        "oracle": v.oracle,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let without: Vec<Value> = takedown_dga::WITHOUT_DGA
            .iter()
            .map(|(f, why)| json!({"family": f, "why": why}))
            .collect();
        serde_json::to_writer_pretty(
            &mut out,
            &json!({"families": families, "without_dga": without}),
        )?;
        writeln!(out)?;
        out.flush()?;
        return Ok(0);
    }
    for f in takedown_dga::families() {
        let aliases = if f.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", f.aliases.join(", "))
        };
        writeln!(out, "{}{aliases}: {}", f.name, f.title)?;
        if f.variants.is_empty() {
            writeln!(out, "  not implemented")?;
        }
        for v in f.variants {
            let name = if v.name.is_empty() {
                f.name.to_string()
            } else {
                format!("{}/{}", f.name, v.name)
            };
            writeln!(out, "  {name}")?;
            writeln!(out, "    {}", v.summary)?;
            for (k, d) in v.parameters {
                writeln!(out, "    {k}: {d}")?;
            }
            writeln!(out, "    --seed: {}", v.seed_syntax)?;
            if let Some(c) = v.config_syntax {
                writeln!(out, "    --config: {c}")?;
            }
            for k in v.known {
                writeln!(out, "    known seed {} ({})", k.seed, k.source)?;
            }
            writeln!(out, "    described in: {}", v.reference)?;
            writeln!(out, "    checked against: {}", v.oracle)?;
        }
    }
    writeln!(out, "\nFamilies of the takedown without a DGA in takedown:")?;
    for (f, why) in takedown_dga::WITHOUT_DGA {
        writeln!(out, "  {f}: {why}")?;
    }
    out.flush()?;
    Ok(0)
}

/// The generators `sel` names (every known seed of every family when it
/// names none).
fn generators(sel: &Selection) -> anyhow::Result<Vec<Box<dyn Dga>>> {
    let config: Option<Value> = match &sel.config {
        Some(p) => {
            // A configuration is a few hundred bytes; refuse a huge file
            // rather than parse it (read through a limit: a FIFO or
            // /dev/stdin has no size to check first).
            let shown = path_for_terminal(p);
            let mut text = Vec::new();
            std::fs::File::open(p)
                .and_then(|f| f.take(MAX_CONFIG + 1).read_to_end(&mut text))
                .with_context(|| shown.clone())?;
            if text.len() as u64 > MAX_CONFIG {
                bail!("{shown}: larger than 1 MiB, not a DGA configuration");
            }
            Some(serde_json::from_slice(&text).with_context(|| format!("{shown}: not JSON"))?)
        }
        None => None,
    };
    let specs: Vec<&str> = if sel.families.is_empty() {
        vec!["all"]
    } else {
        sel.families.iter().map(String::as_str).collect()
    };
    if (sel.seed.is_some() || config.is_some()) && specs.len() != 1 {
        bail!("--seed and --config apply to exactly one --family");
    }
    let mut out = Vec::new();
    for s in specs {
        out.extend(takedown_dga::select(
            s,
            sel.seed.as_deref(),
            config.as_ref(),
        )?);
    }
    if out.is_empty() {
        bail!("no generator selected (no known seed for this selection: give --seed or --config)");
    }
    Ok(out)
}

fn check_window(from: Date, to: Date) -> anyhow::Result<()> {
    if from > to {
        bail!(
            "--from {} is after --to {}",
            format_date(from),
            format_date(to)
        );
    }
    let days = (to - from).whole_days();
    if days > MAX_WINDOW_DAYS {
        bail!("the window is {days} days; at most {MAX_WINDOW_DAYS} are accepted");
    }
    Ok(())
}

fn date_value(d: Option<Date>) -> Value {
    d.map_or(Value::Null, |d| Value::String(format_date(d)))
}

fn generate(a: GenArgs) -> anyhow::Result<u8> {
    check_window(a.from, a.to)?;
    let dgas = generators(&a.select)?;
    // What every JSON line of a generator repeats, serialised once.
    let prefixes: Vec<String> = dgas
        .iter()
        .map(|d| {
            format!(
                "{{\"family\":{},\"variant\":{},\"seed\":{}",
                Value::from(d.family()),
                Value::from(d.variant()),
                Value::from(d.seed())
            )
        })
        .collect();
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut seen = rustc_hash::FxHashSet::default();
    let mut err = None;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let json = a.format == OutFormat::Json;
    // Each period is formatted on the thread that generated it; this
    // thread only writes (and, for --unique, drops the names seen).
    let format = |k: usize, first, last, names: Vec<String>| {
        let mut buf = Vec::with_capacity(names.iter().map(|n| n.len() + 1).sum::<usize>());
        let dates = json.then(|| {
            format!(
                ",\"date\":{},\"until\":{},\"domain\":",
                date_value(first),
                date_value(last)
            )
        });
        for n in &names {
            line(
                &mut buf,
                prefixes.get(k).map(String::as_str),
                dates.as_deref(),
                n,
            );
        }
        buf
    };
    takedown_dga::generate_ordered_map(
        &dgas,
        a.from,
        a.to,
        threads,
        |k, first, last, names| {
            if a.unique {
                // Formatted after the names are filtered, below.
                let dates = json.then_some((first, last));
                (Vec::new(), names, dates)
            } else {
                (format(k, first, last, names), Vec::new(), None)
            }
        },
        |k, (buf, names, dates)| {
            let r = if a.unique {
                let mut b = Vec::new();
                let d = dates.map(|(f, l)| {
                    format!(
                        ",\"date\":{},\"until\":{},\"domain\":",
                        date_value(f),
                        date_value(l)
                    )
                });
                for n in names {
                    if !seen.contains(n.as_str()) {
                        line(
                            &mut b,
                            prefixes.get(k).map(String::as_str),
                            d.as_deref(),
                            &n,
                        );
                        seen.insert(n);
                    }
                }
                out.write_all(&b)
            } else {
                out.write_all(&buf)
            };
            match r {
                Ok(()) => true,
                Err(e) => {
                    err = Some(e);
                    false
                }
            }
        },
    );
    if let Some(e) = err {
        return Err(e.into());
    }
    out.flush()?;
    Ok(0)
}

/// Appends one output line of `gen`: the name alone, or (with the
/// generator's JSON prefix and the period's dates) a JSON object.
fn line(buf: &mut Vec<u8>, prefix: Option<&str>, dates: Option<&str>, name: &str) {
    match (prefix, dates) {
        (Some(p), Some(d)) => {
            buf.extend_from_slice(p.as_bytes());
            buf.extend_from_slice(d.as_bytes());
            // Names are generated, but a configuration may hold any TLD
            // text: written as a JSON string.
            let _ = serde_json::to_writer(&mut *buf, name);
            buf.extend_from_slice(b"}\n");
        }
        _ => {
            buf.extend_from_slice(name.as_bytes());
            buf.push(b'\n');
        }
    }
}

fn lookup(a: MatchArgs) -> anyhow::Result<u8> {
    let today = time::OffsetDateTime::now_utc().date();
    let w = time::Duration::days(a.window.into());
    let (from, to) = match (a.from, a.to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, f.saturating_add(w)),
        (None, Some(t)) => (t.saturating_sub(w), t),
        (None, None) => (today.saturating_sub(w), today.saturating_add(w)),
    };
    check_window(from, to)?;
    let dgas = generators(&a.select)?;
    let started = std::time::Instant::now();
    let index = Index::build(dgas, from, to)?;
    tracing::info!(
        domains = index.len(),
        origins = index.origins(),
        seconds = started.elapsed().as_secs_f64(),
        "index built"
    );
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut scratch = String::new();
    let mut found = Vec::new();
    let mut stats = Stats::default();
    for name in &a.names {
        if name == "-" {
            read_stdin(&index, &a, &mut out, &mut scratch, &mut found, &mut stats)?;
        } else {
            one(
                &index,
                &a,
                name,
                &mut out,
                &mut scratch,
                &mut found,
                &mut stats,
            )?;
        }
    }
    out.flush()?;
    eprintln!(
        "takedown: {} names looked up, {} matched ({} domains of {} generators, {}..{}){}",
        stats.read,
        stats.matched,
        index.len(),
        index.generators().len(),
        format_date(from),
        format_date(to),
        if stats.skipped > 0 {
            format!(
                ", {} input lines skipped (not UTF-8 or too long)",
                stats.skipped
            )
        } else {
            String::new()
        }
    );
    Ok(if stats.matched > 0 { 0 } else { 1 })
}

#[derive(Default)]
struct Stats {
    read: u64,
    matched: u64,
    skipped: u64,
}

fn read_stdin<'a>(
    index: &'a Index,
    a: &MatchArgs,
    out: &mut impl Write,
    scratch: &mut String,
    found: &mut Vec<Match<'a>>,
    stats: &mut Stats,
) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut r = std::io::BufReader::with_capacity(1 << 20, stdin.lock());
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        // Bounded read: at most MAX_LINE bytes are kept of one line.
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .context("reading standard input")?;
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            // Skip the rest of the overlong line, without keeping it.
            stats.skipped += 1;
            r.skip_until(b'\n').context("reading standard input")?;
            continue;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            stats.skipped += 1;
            continue;
        };
        let Some(name) = text.split_ascii_whitespace().next() else {
            continue;
        };
        one(index, a, name, out, scratch, found, stats)?;
    }
}

fn one<'a>(
    index: &'a Index,
    a: &MatchArgs,
    name: &str,
    out: &mut impl Write,
    scratch: &mut String,
    found: &mut Vec<Match<'a>>,
    stats: &mut Stats,
) -> anyhow::Result<()> {
    stats.read += 1;
    index.lookup(name, scratch, found);
    if a.exact {
        found.retain(|m| m.exact);
    }
    if found.is_empty() {
        return Ok(());
    }
    stats.matched += 1;
    for m in found.iter() {
        match a.format {
            OutFormat::Text => {
                let dates = match (m.first, m.last) {
                    (Some(f), Some(l)) if f == l => format_date(f),
                    (Some(f), Some(l)) => format!("{}..{}", format_date(f), format_date(l)),
                    _ => "any date".to_string(),
                };
                let fam = if m.dga.variant().is_empty() {
                    m.dga.family().to_string()
                } else {
                    format!("{}/{}", m.dga.family(), m.dga.variant())
                };
                let via = if m.exact {
                    String::new()
                } else {
                    format!("\tvia {}", m.domain)
                };
                // The name comes from the input (a log): escaped, so that
                // it cannot drive the terminal.
                writeln!(
                    out,
                    "{}\t{fam}\t{}\t{dates}{via}",
                    for_terminal(name),
                    m.dga.seed()
                )?;
            }
            OutFormat::Json => {
                let v = json!({
                    "name": name,
                    "domain": m.domain,
                    "exact": m.exact,
                    "family": m.dga.family(),
                    "variant": m.dga.variant(),
                    "seed": m.dga.seed(),
                    "first": date_value(m.first),
                    "last": date_value(m.last),
                });
                // Through io::Error, so that a closed pipe (`| head`) is
                // recognised as one and ends the run quietly.
                serde_json::to_writer(&mut *out, &v).map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
            }
        }
    }
    Ok(())
}
