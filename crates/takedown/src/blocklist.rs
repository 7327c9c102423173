//! `takedown blocklist`: network indicators (STIX, MISP, IOC lists) and
//! DGA windows into the blocklist a resolver or sensor loads. The work is
//! done by `takedown-blocklist`; this module reads the flags, prints what
//! the library reports and writes the output atomically.

use crate::output::{Access, write_atomic};
use anyhow::{Context, bail};
use clap::ValueEnum;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use takedown_blocklist::format::{self, Format, FormatOptions, WriteStats};
use takedown_blocklist::{AllowList, Builder, Diagnostic, Level, Plan, SourceStats};
use takedown_engine::sanitize::{for_terminal, path_for_terminal};
use time::Date;

/// Longest DGA window: five years of every family is tens of millions of
/// names, already more than a resolver should load; more is a typo.
const MAX_WINDOW_DAYS: i64 = 5 * 366;

/// Default first Suricata sid: inside the local range (1,000,000 -
/// 1,999,999), past the low numbers hand-written local rules take.
const DEFAULT_SID_BASE: u32 = 1_600_000;

/// `takedown blocklist`.
///
/// Exit status: 0 written, 1 written but some input lines or indicators
/// were rejected (each is named on stderr), 2 an error (nothing written).
#[derive(clap::Args, Debug)]
pub struct BlocklistArgs {
    /// Indicator source, repeatable: a STIX 2.1 bundle or MISP JSON file
    /// (recognised by content), a MISP feed directory, or a plain list
    /// (one name, address, CIDR block or URL per line, `;score` allowed,
    /// `# comments`, hosts-file lines); `-` reads a list from standard
    /// input.
    #[arg(short = 's', long = "source", value_name = "PATH")]
    pub sources: Vec<PathBuf>,
    /// DGA domains to block: `all`, a family, `family/variant`, with
    /// `:SEED` for one seed; repeatable. Needs --from and --to.
    #[arg(long, value_name = "FAMILY[:SEED]|all", requires_all = ["from", "to"])]
    pub dga: Vec<String>,
    /// First day of the DGA window (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_date, requires = "dga")]
    pub from: Option<Date>,
    /// Last day of the DGA window (YYYY-MM-DD, UTC, inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date, requires = "dga")]
    pub to: Option<Date>,
    /// Names never to block (collision guard), repeatable: a popularity
    /// list such as Tranco's CSV (`RANK,NAME`) or one name per line.
    #[arg(long, value_name = "FILE")]
    pub allow: Vec<PathBuf>,
    /// Block DGA names found in an allow list all the same (still
    /// reported as collisions).
    #[arg(long)]
    pub accept_collisions: bool,
    /// Write every collision as a JSON line to FILE (name, origin, allow
    /// list and line, action).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Rpz)]
    pub format: FormatArg,
    /// Write to FILE (atomically: a temporary file in the same directory,
    /// renamed into place) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// RPZ: the zone's origin.
    #[arg(long, value_name = "NAME", default_value = "rpz.takedown.")]
    pub zone: String,
    /// RPZ: the SOA serial [default: the current Unix time in seconds].
    #[arg(long, value_name = "N")]
    pub serial: Option<u32>,
    /// Answer blocked names with this address instead of NXDOMAIN (RPZ,
    /// Unbound, dnsmasq, hosts).
    #[arg(long, value_name = "IP")]
    pub sinkhole: Option<IpAddr>,
    /// Suricata: the first sid; rules take the following ones in order.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SID_BASE)]
    pub sid_base: u32,
    /// Suricata dataset: its name in the rule.
    #[arg(long, value_name = "NAME", default_value = "takedown-blocklist")]
    pub dataset_name: String,
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// DNS Response Policy Zone (BIND, Unbound, Knot Resolver, PowerDNS).
    Rpz,
    /// Unbound local-zone statements.
    Unbound,
    /// dnsmasq address= lines.
    Dnsmasq,
    /// A hosts file.
    Hosts,
    /// Suricata rules on dns.query.
    Suricata,
    /// A Suricata string dataset (base64 lines).
    SuricataDataset,
    /// A Zeek Intel framework file.
    ZeekIntel,
}

impl FormatArg {
    fn format(self) -> Format {
        match self {
            FormatArg::Rpz => Format::Rpz,
            FormatArg::Unbound => Format::Unbound,
            FormatArg::Dnsmasq => Format::Dnsmasq,
            FormatArg::Hosts => Format::Hosts,
            FormatArg::Suricata => Format::Suricata,
            FormatArg::SuricataDataset => Format::SuricataDataset,
            FormatArg::ZeekIntel => Format::ZeekIntel,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FormatArg::Rpz => "rpz",
            FormatArg::Unbound => "unbound",
            FormatArg::Dnsmasq => "dnsmasq",
            FormatArg::Hosts => "hosts",
            FormatArg::Suricata => "suricata",
            FormatArg::SuricataDataset => "suricata-dataset",
            FormatArg::ZeekIntel => "zeek-intel",
        }
    }
}

fn parse_date(s: &str) -> Result<Date, String> {
    takedown_dga::parse_date(s)
}

/// Prints diagnostics on stderr, buffered (a million bad lines are a
/// million messages), and counts them.
pub(crate) struct Messages {
    err: BufWriter<std::io::Stderr>,
    errors: u64,
    warnings: u64,
}

impl Messages {
    pub(crate) fn new() -> Messages {
        Messages {
            err: BufWriter::with_capacity(1 << 16, std::io::stderr()),
            errors: 0,
            warnings: 0,
        }
    }

    pub(crate) fn diag(&mut self, d: Diagnostic) {
        let level = match d.level {
            Level::Error => {
                self.errors += 1;
                "error"
            }
            Level::Warning => {
                self.warnings += 1;
                "warning"
            }
        };
        // A lost stderr must not stop the run (see main.rs).
        let _ = writeln!(
            self.err,
            "takedown: {level}: {}",
            for_terminal(&d.to_string())
        );
    }

    pub(crate) fn say(&mut self, s: &str) {
        let _ = writeln!(self.err, "takedown: {s}");
    }

    pub(crate) fn flush(&mut self) {
        let _ = self.err.flush();
    }
}

/// The DGA window of `--from` and `--to`, checked (in order, not longer
/// than [`MAX_WINDOW_DAYS`]).
pub(crate) fn check_window(
    from: Option<Date>,
    to: Option<Date>,
) -> anyhow::Result<Option<(Date, Date)>> {
    Ok(match (from, to) {
        (Some(from), Some(to)) => {
            if from > to {
                bail!("--from {from} is after --to {to}");
            }
            let days = (to - from).whole_days() + 1;
            if days > MAX_WINDOW_DAYS {
                bail!("a DGA window of {days} days is longer than the {MAX_WINDOW_DAYS} accepted");
            }
            Some((from, to))
        }
        _ => None,
    })
}

/// Runs `takedown blocklist`.
pub fn run(a: BlocklistArgs) -> anyhow::Result<u8> {
    if a.sources.is_empty() && a.dga.is_empty() {
        bail!("nothing to block: give indicator sources (-s) and/or DGA windows (--dga)");
    }
    let zone = takedown_blocklist::name::normalise(&a.zone)
        .with_context(|| format!("--zone '{}'", for_terminal(&a.zone)))?
        .name;
    if a.format == FormatArg::Rpz && a.sinkhole.is_some() && zone.contains('_') {
        // Every owner would hold `_`, which BIND refuses in the owner of
        // an address record: no name could get the sinkhole.
        bail!(
            "--zone '{}' holds '_': with --sinkhole every RPZ owner would, and BIND refuses '_' in the owner of an A/AAAA record (check-names); choose a zone name without it",
            for_terminal(&zone)
        );
    }
    if a.dataset_name.is_empty()
        || !a
            .dataset_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("--dataset-name: letters, digits, '-' and '_' only");
    }
    let window = check_window(a.from, a.to)?;
    let mut msg = Messages::new();
    let result = build(&a, window, &mut msg);
    msg.flush();
    let (plan, source_totals) = result?;
    let serial = a.serial.unwrap_or_else(|| {
        // Unix seconds fit a u32 serial until 2106, and grow with every
        // run, which is all secondaries need (RFC 1982).
        time::OffsetDateTime::now_utc()
            .unix_timestamp()
            .clamp(0, u32::MAX as i64) as u32
    });
    let opts = FormatOptions {
        zone,
        serial,
        sinkhole: a.sinkhole,
        sid_base: a.sid_base,
        dataset: a.dataset_name.clone(),
    };
    let stats = write_output(&a, &plan, &opts)?;
    report_written(&a, &plan, &opts, &stats, &mut msg);
    msg.flush();
    let rejected = source_totals.rejected > 0 || msg.errors > 0;
    // Millions of small allocations: freeing them one by one takes a
    // tenth of a run that is about to exit anyway.
    std::mem::forget(plan);
    Ok(if rejected { 1 } else { 0 })
}

/// Reads the allow lists, the sources and the DGA windows; decides the
/// plan; reports collisions.
fn build(
    a: &BlocklistArgs,
    window: Option<(Date, Date)>,
    msg: &mut Messages,
) -> anyhow::Result<(Plan, SourceStats)> {
    let mut allow = AllowList::new();
    for path in &a.allow {
        let st = allow
            .read_path(path, &mut |d| msg.diag(d))
            .map_err(|e| anyhow::anyhow!(for_terminal(&e.to_string())))?;
        msg.say(&format!(
            "allow list {}: {} lines, {} names, {} rejected",
            path_for_terminal(path),
            st.read,
            st.names,
            st.rejected
        ));
    }
    let (b, totals) = read_indicators(&a.sources, &a.dga, window, msg)?;
    if window.is_some() && a.allow.is_empty() {
        msg.say(
            "warning: DGA names were not checked for collisions with real sites (no --allow list given)",
        );
    }
    let plan = b.finish(&allow, a.accept_collisions);
    let mut report = match &a.report {
        Some(p) => Some(BufWriter::new(std::fs::File::create(p).with_context(
            || format!("cannot create the report {}", path_for_terminal(p)),
        )?)),
        None => None,
    };
    for c in &plan.collisions {
        let list = &plan.allow_files[c.found.file as usize];
        let action = if c.kept {
            "kept (--accept-collisions)"
        } else {
            "removed"
        };
        msg.diag(Diagnostic {
            level: Level::Warning,
            location: format!("{list}:{}", c.found.line),
            message: format!(
                "collision: {} ({}) is in the allow list: {action}",
                c.name,
                plan.describe(&c.entry)
            ),
        });
        if let Some(r) = &mut report {
            let line = serde_json::json!({
                "type": "collision",
                "name": c.name,
                "action": if c.kept { "kept" } else { "removed" },
                "origin": plan.origin(&c.entry).to_json(c.entry.first, c.entry.last),
                "allow_list": list,
                "line": c.found.line,
            });
            writeln!(r, "{line}").context("cannot write the report")?;
        }
    }
    if let Some(mut r) = report {
        r.flush().context("cannot write the report")?;
    }
    let s = &plan.stats;
    msg.say(&format!(
        "{} names collected, {} unique ({} duplicates); collisions with allow lists: {} removed, {} kept; {} names covered by a blocked parent; {} allowed names passed through; {} addresses and CIDR blocks ({} duplicates), {} URLs ({} duplicates)",
        s.names_in,
        s.names_in - s.duplicates,
        s.duplicates,
        s.collisions_removed,
        s.collisions_kept,
        s.covered,
        plan.passthru.len(),
        plan.ips.len(),
        s.ip_duplicates,
        plan.urls.len(),
        s.url_duplicates
    ));
    Ok((plan, totals))
}

/// Reads the indicator sources (`-s`) and generates the DGA windows
/// (`--dga` over `window`) into a builder, reporting each source on
/// stderr: what `takedown blocklist` blocks and `takedown hunt` hunts.
pub(crate) fn read_indicators(
    sources: &[std::path::PathBuf],
    dga: &[String],
    window: Option<(Date, Date)>,
    msg: &mut Messages,
) -> anyhow::Result<(Builder, SourceStats)> {
    let mut b = Builder::new();
    let mut totals = SourceStats::default();
    let now = time::OffsetDateTime::now_utc();
    let mut stdin_used = false;
    for path in sources {
        let st = if path.as_os_str() == "-" {
            if std::mem::replace(&mut stdin_used, true) {
                bail!("standard input (`-`) can be given once");
            }
            b.read_list(std::io::stdin().lock(), "stdin", &mut |d| msg.diag(d))
        } else {
            b.read_path(path, now, &mut |d| msg.diag(d))
        }
        .map_err(|e| anyhow::anyhow!(for_terminal(&e.to_string())))?;
        msg.say(&format!(
            "{}: {} read: {} names, {} addresses, {} URLs; {} rejected, {} ignored (not network indicators), {} skipped by the reader, {} possible homographs",
            path_for_terminal(path),
            st.read,
            st.names,
            st.ips,
            st.urls,
            st.rejected,
            st.ignored,
            st.skipped,
            st.homographs
        ));
        totals.add(&st);
    }
    if let Some((from, to)) = window {
        let mut gens = 0usize;
        for spec in dga {
            let dgas = takedown_dga::select(spec, None, None)
                .map_err(|e| anyhow::anyhow!("--dga {}: {e}", for_terminal(spec)))?;
            if dgas.is_empty() {
                msg.say(&format!(
                    "warning: --dga {}: no generator (no known seed, or the family is not implemented; see `takedown dga list`)",
                    for_terminal(spec)
                ));
            }
            for dga in &dgas {
                b.add_dga(dga.as_ref(), from, to, &mut |d| msg.diag(d))
                    .map_err(|e| anyhow::anyhow!(e.to_string()))?;
            }
            gens += dgas.len();
        }
        msg.say(&format!(
            "DGA: {gens} generators, {} names from {} to {}",
            b.dga_names,
            takedown_dga::format_date(from),
            takedown_dga::format_date(to)
        ));
    }
    Ok((b, totals))
}

/// Writes the plan to `-o` (atomically) or standard output.
fn write_output(
    a: &BlocklistArgs,
    plan: &Plan,
    opts: &FormatOptions,
) -> anyhow::Result<WriteStats> {
    let format = a.format.format();
    let Some(path) = &a.output else {
        let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        return Ok(format::write(plan, format, opts, &mut out)?);
    };
    write_atomic(path, ".takedown-blocklist-", Access::Shared, |out| {
        Ok(format::write(plan, format, opts, out)?)
    })
}

fn report_written(
    a: &BlocklistArgs,
    plan: &Plan,
    opts: &FormatOptions,
    st: &WriteStats,
    msg: &mut Messages,
) {
    let f = a.format.name();
    let to = a
        .output
        .as_deref()
        .map(path_for_terminal)
        .unwrap_or_else(|| "standard output".into());
    let mut s = format!("wrote {f} to {to}: {} names", st.names);
    if st.covered > 0 && st.names < plan.names.len() as u64 {
        s.push_str(&format!(
            " ({} more covered by a blocked parent, left out)",
            st.covered
        ));
    }
    if st.passthru > 0 {
        s.push_str(&format!(", {} passthru", st.passthru));
    }
    if st.ips > 0 {
        s.push_str(&format!(", {} addresses and CIDR blocks", st.ips));
    }
    if st.urls > 0 {
        s.push_str(&format!(", {} URLs", st.urls));
    }
    if st.rules > 0 {
        s.push_str(&format!(
            ", {} rules (sid {}-{})",
            st.rules,
            opts.sid_base,
            st.last_sid.unwrap_or(opts.sid_base as u64)
        ));
    }
    if a.format == FormatArg::Rpz {
        s.push_str(&format!(", serial {}", opts.serial));
    }
    msg.say(&s);
    if st.ips_not_expressible > 0 {
        let hint = match a.format {
            FormatArg::Unbound => {
                " (Unbound's local-zone cannot hold them: the rpz format can, as rpz-ip triggers)"
            }
            FormatArg::Dnsmasq => " (dnsmasq's bogus-nxdomain takes IPv4 only)",
            _ => "",
        };
        msg.say(&format!(
            "warning: {} addresses and CIDR blocks cannot be expressed in {f}, left out{hint}",
            st.ips_not_expressible
        ));
    }
    if st.urls_not_expressible > 0 {
        msg.say(&format!(
            "warning: {} URLs cannot be expressed in {f} (only zeek-intel holds URLs), left out",
            st.urls_not_expressible
        ));
    }
    if st.sinkhole_not_expressible > 0 {
        msg.say(&format!(
            "warning: {} names hold '_', which BIND refuses in the owner of an A/AAAA record (check-names, on by default for primary zones: the whole zone would fail to load): they answer NXDOMAIN (CNAME .) instead of the sinkhole",
            st.sinkhole_not_expressible
        ));
    }
    if st.names_too_long > 0 {
        msg.say(&format!(
            "warning: {} names are too long to be written under the zone '{}' (owner names over 255 bytes), left out",
            st.names_too_long, opts.zone
        ));
    }
    if let Some(last) = st.last_sid
        && !format::SURICATA_LOCAL_SIDS.contains(&last)
    {
        msg.say(&format!(
            "warning: sids up to {last} pass the local range 1000000-1999999: choose --sid-base, or use suricata-dataset for large sets"
        ));
    }
    if a.format == FormatArg::SuricataDataset {
        let file = a
            .output
            .as_deref()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "FILE".into());
        msg.say(&format!(
            "the rule for this dataset (Suricata 7+; the file is looked up in the default rule directory unless given as an absolute path):\n{}",
            // The file name is the user's, but a terminal escape in it must
            // not reach the terminal raw.
            for_terminal(&format::dataset_rule(opts, &file))
        ));
    }
}
