//! `takedown notify`: sinkhole reports to notices for the owners of the
//! networks whose machines are infected, delivered exactly once; and
//! `takedown notify status`, the journal. The work is done by
//! `takedown-notify`; this module reads the flags, wires the sources,
//! the grouping, the journal and the transport together, and reports.
//!
//! The order of the steps is what makes a kill harmless: every notice is
//! rendered and journaled (with the keys of its events) before anything
//! is sent, and the delivery walks the journal, not this run's notices.
//! A rerun after a kill finds the keys already journaled, makes no notice
//! twice, and delivers what the killed run had not.

use crate::blocklist::Messages;
use crate::output::{Access, write_atomic};
use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use takedown_engine::sanitize::{for_terminal, path_for_terminal};
use takedown_notify::Event;
use takedown_notify::contacts::enrich::{AsnSource, CountrySource, Enricher};
use takedown_notify::contacts::{Contacts, Country, SourceKind};
use takedown_notify::deliver::{
    self, DeliverOptions, DeliverReport, Entry, Journal, JournalError, Outbox, PreparedNotice,
    Smtp, SmtpOptions, State, Transport,
};
use takedown_notify::notice::{Grouper, Key, Period, RenderOptions, Renderer, intelmq_line};
use takedown_notify::report::{self, Stats, is_notifiable};
use takedown_vault::fault;

/// Exit status: everything delivered (or nothing to deliver).
const OK: u8 = 0;
/// Some notice is not delivered yet (failed, to be retried, or
/// unconfirmed): `takedown notify status` lists them.
const UNDELIVERED: u8 = 1;
/// A report could not be read (what could was notified).
const ERROR: u8 = 2;

/// Addresses named per reason in the summary, at most.
const EXAMPLES: usize = 5;

/// `takedown notify`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: Option<NotifyCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `takedown notify ...`.
#[derive(Subcommand, Debug)]
pub enum NotifyCommand {
    /// Show the journal: every notice, its recipient, period, state
    /// (prepared, sending, sent, retry, failed) and last error.
    ///
    /// Exit status: 0 every notice sent, 1 some are not (yet), 2 the
    /// journal cannot be read.
    Status(StatusArgs),
    /// Put notices back in the queue: those refused by their server
    /// (failed), those whose sending was interrupted (unconfirmed) or
    /// those waiting for a retry; all of them, or the IDs given. The
    /// next `takedown notify` run delivers them.
    ///
    /// Exit status: 0 done, 2 an error (an unknown id: nothing changed).
    Retry(RetryArgs),
}

/// `takedown notify retry`.
#[derive(clap::Args, Debug)]
pub struct RetryArgs {
    /// The journal [default: notify.sqlite3 beside the installed
    /// signature sets].
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// The states to put back (repeatable) [default: failed].
    #[arg(long, value_enum, value_name = "STATE")]
    pub state: Vec<StateArg>,
    /// Only these notices.
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
}

/// `takedown notify status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The journal [default: notify.sqlite3 beside the installed
    /// signature sets].
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Only notices in these states (repeatable).
    #[arg(long, value_enum, value_name = "STATE")]
    pub state: Vec<StateArg>,
    /// text (one line per notice, then totals) or json (one object per
    /// notice, NDJSON).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The flags of a run.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Sinkhole reports: Shadowserver CSV, IntelMQ events (NDJSON),
    /// takedown hunt output; plain or gzip-compressed, each recognised by
    /// its content. Without any, the run only delivers what the journal
    /// holds (notices put back by `notify retry`, or left by a killed
    /// run).
    #[arg(value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// IP-to-ASN table, repeatable (asked in order): a pyasn table
    /// (`PREFIX/LEN<TAB>ASN`) or a MaxMind ASN database (.mmdb). Used for
    /// events whose report does not give the AS number.
    #[arg(long = "asn-db", value_name = "FILE")]
    pub asn_db: Vec<PathBuf>,
    /// Country table, repeatable: a MaxMind country or city database, or
    /// RIR delegated statistics.
    #[arg(long = "country-db", value_name = "FILE")]
    pub country_db: Vec<PathBuf>,
    /// Contacts, repeatable: RIPE-format database dumps (inetnum,
    /// inet6num, aut-num, organisation, role) and CSV tables of overrides
    /// (network, ASn or country to an address), each recognised by its
    /// content.
    #[arg(long, value_name = "FILE")]
    pub contacts: Vec<PathBuf>,
    /// Do not fall back to the national CERT of the address's country.
    #[arg(long)]
    pub no_national_certs: bool,
    /// One notice per contact and period.
    #[arg(long, value_enum, default_value_t = PeriodArg::Day)]
    pub period: PeriodArg,
    /// Language of the notices: en, ja, de, or auto (by the country of
    /// the addresses: ja for JP, de for DE, AT, CH and LI, else en).
    #[arg(long, value_name = "LANG", default_value = "en", value_parser = ["en", "ja", "de", "auto"])]
    pub lang: String,
    /// A directory of templates (`en.txt`, `ja.txt`, `de.txt`) replacing
    /// the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// The notices' From: address (`"CERT Example <cert@example.org>"`).
    #[arg(
        long,
        value_name = "ADDRESS",
        default_value = "takedown <noreply@localhost>"
    )]
    pub from: String,
    /// The notices' Reply-To: address.
    #[arg(long, value_name = "ADDRESS")]
    pub reply_to: Option<String>,
    /// The sender organisation, named in the notices and the X-ARF
    /// reports.
    #[arg(long, value_name = "NAME", default_value = "takedown")]
    pub org: String,
    /// The online scan the notices point victims to.
    #[arg(long, value_name = "URL")]
    pub scan_url: Option<String>,
    /// The self-check page (`takedown serve --self-check`) the notices
    /// point to.
    #[arg(long, value_name = "URL")]
    pub check_url: Option<String>,
    /// The journal of notices and of the events they carried (created
    /// when missing) [default: notify.sqlite3 beside the installed
    /// signature sets].
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Write each notice to DIR/<id>.eml (the default, with DIR
    /// `notices`).
    #[arg(long, value_name = "DIR", conflicts_with = "smtp")]
    pub outbox: Option<PathBuf>,
    /// Send through this SMTP relay: smtp://HOST[:PORT] (STARTTLS
    /// required), smtps://HOST[:PORT] (TLS), `?tls=none` only to a
    /// loopback relay. Log in with --smtp-user and the password from
    /// TAKEDOWN_SMTP_PASSWORD or --smtp-password-file (or user:password
    /// in the URL, which other users of the machine may see).
    #[arg(long, value_name = "URL")]
    pub smtp: Option<String>,
    /// The SMTP user name.
    #[arg(long, value_name = "USER", requires = "smtp")]
    pub smtp_user: Option<String>,
    /// A file holding the SMTP password (first line).
    #[arg(long, value_name = "FILE", requires = "smtp")]
    pub smtp_password_file: Option<PathBuf>,
    /// CA certificates (PEM) trusted for the SMTP server, instead of the
    /// built-in roots (a private CA).
    #[arg(long, value_name = "FILE", requires = "smtp")]
    pub smtp_ca: Option<PathBuf>,
    /// The envelope sender (MAIL FROM) [default: the From: address].
    #[arg(long, value_name = "ADDRESS", requires = "smtp")]
    pub envelope_from: Option<String>,
    /// At most N messages per minute to one recipient domain.
    #[arg(long, value_name = "N", default_value_t = 30, requires = "smtp")]
    pub rate: u32,
    /// Attempts after a temporary failure (with doubling back-off) before
    /// a notice is left for a later run.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// First back-off after a temporary failure, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = parse_seconds)]
    pub backoff: f64,
    /// How long to wait for each of the SMTP server's replies, in
    /// seconds (RFC 5321 allows ten minutes for the reply to a message).
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0, value_parser = parse_seconds, requires = "smtp")]
    pub smtp_timeout: f64,
    /// Resend notices whose sending was interrupted after the server
    /// may have accepted them (the default leaves them unconfirmed, to
    /// be checked in the server's log).
    #[arg(long)]
    pub resend_unconfirmed: bool,
    /// Also write the new notices' events as IntelMQ-harmonised events
    /// (NDJSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub intelmq: Option<PathBuf>,
    /// The feed name in the IntelMQ events.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "takedown-notify",
        requires = "intelmq"
    )]
    pub feed: String,
    /// At most N addresses (rows) per notice: a larger notice is sent in
    /// parts, each with its own events.csv and X-ARF reports.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: u64,
    /// Show the notices that would be made; journal nothing, send
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The summary: text (stderr) or json (one object, stdout).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PeriodArg {
    Day,
    Week,
    Month,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Prepared,
    Sending,
    Sent,
    Retry,
    Failed,
}

/// Seconds: a finite number from 0 to a day.
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds from 0 to 86400")),
    }
}

fn state_arg(s: &State) -> StateArg {
    match s {
        State::Prepared => StateArg::Prepared,
        State::Sending => StateArg::Sending,
        State::Sent => StateArg::Sent,
        State::TempFailed => StateArg::Retry,
        State::Failed => StateArg::Failed,
    }
}

fn state_name(s: &State) -> &'static str {
    match s {
        State::Prepared => "prepared",
        State::Sending => "unconfirmed",
        State::Sent => "sent",
        State::TempFailed => "retry",
        State::Failed => "failed",
    }
}

pub fn run(a: NotifyArgs) -> anyhow::Result<u8> {
    match a.command {
        Some(NotifyCommand::Status(s)) => status(s),
        Some(NotifyCommand::Retry(r)) => retry(r),
        None => notify(a.run),
    }
}

/// `notify.sqlite3` beside the installed signature sets (the directory
/// that already says where takedown's data goes for root and a user).
fn default_journal() -> Option<PathBuf> {
    let sets = takedown_bundle::store::default_dir()?;
    Some(sets.parent()?.join("notify.sqlite3"))
}

fn journal_path(given: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p.clone()),
        None => default_journal()
            .context("no place for the journal: set HOME or XDG_DATA_HOME, or give --journal FILE"),
    }
}

/// What a run did, as the summary prints it.
#[derive(Debug, Default, Serialize)]
struct Summary {
    reports: u64,
    unreadable_reports: u64,
    rows: u64,
    events: u64,
    row_errors: u64,
    /// Events of private, loopback, documentation and other special
    /// addresses: read, never notified.
    not_notifiable: u64,
    /// Events without a time (no day to key them by).
    no_time: u64,
    /// Events whose (address, family, day) an earlier run notified.
    already_notified: u64,
    /// Events repeating an (address, family, day) of this run.
    duplicates: u64,
    /// Events for which no contact was found.
    no_contact: u64,
    notices: u64,
    notice_rows: u64,
    notice_events: u64,
    /// Notices whose id was already journaled (a rerun after a kill).
    already_prepared: u64,
    /// Notices that could not be made (reported one by one).
    skipped_notices: u64,
    /// IntelMQ events written to --intelmq.
    intelmq_events: u64,
    delivered: u64,
    retry: u64,
    failed: u64,
    unconfirmed: u64,
    /// Notices refused for good by an earlier run, still in the journal.
    failed_before: u64,
    /// Examples per reason: addresses not notified.
    examples: BTreeMap<&'static str, Vec<String>>,
    by_type: BTreeMap<String, u64>,
    seconds: f64,
}

impl Summary {
    fn example(&mut self, why: &'static str, ip: Option<std::net::IpAddr>) {
        let v = self.examples.entry(why).or_default();
        if let Some(ip) = ip {
            let s = ip.to_string();
            if v.len() < EXAMPLES && !v.contains(&s) {
                v.push(s);
            }
        }
    }
}

fn notify(a: RunArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let mut msg = Messages::new();
    let mut sum = Summary::default();

    // Everything that can refuse the run does so before a report is read.
    let enricher = enricher(&a, &mut msg)?;
    let contacts = contacts(&a, &mut msg)?;
    let renderer = Renderer::new(RenderOptions {
        lang: a.lang.clone(),
        templates: a.templates.clone(),
        from: a.from.clone(),
        reply_to: a.reply_to.clone(),
        org: a.org.clone(),
        contact: envelope_address(&a.from),
        scan_url: a.scan_url.clone(),
        check_url: a.check_url.clone(),
    })
    .context("cannot load the notice templates")?;
    let journal_file = journal_path(&a.journal)?;
    let mut transport: Option<Box<dyn Transport>> = None;
    let mut journal = None;
    if !a.dry_run {
        transport = Some(make_transport(&a)?);
        if let Some(dir) = journal_file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", path_for_terminal(dir)))?;
        }
        let mut j = Journal::open(&journal_file).with_context(|| {
            format!(
                "cannot open the journal {}",
                path_for_terminal(&journal_file)
            )
        })?;
        // One run at a time, from reading the notified keys to the end of
        // the delivery: two runs reading the keys together would both
        // notify an event that is in both their reports.
        j.lock().with_context(|| {
            format!(
                "cannot lock the journal {}",
                path_for_terminal(&journal_file)
            )
        })?;
        // The outbox is idempotent: a step a power cut takes back is
        // redone alike, so its commits need not each wait for the disk.
        j.set_durable(a.smtp.is_some())
            .context("cannot configure the journal")?;
        journal = Some(j);
    } else if journal_file.exists() {
        journal = Some(Journal::open(&journal_file).with_context(|| {
            format!(
                "cannot open the journal {}",
                path_for_terminal(&journal_file)
            )
        })?);
    }
    let known: HashSet<[u8; 16]> = match &journal {
        Some(j) => j
            .notified_keys()
            .context("cannot read the journal's notified events")?,
        None => HashSet::new(),
    };

    let mut grouper = Grouper::new(match a.period {
        PeriodArg::Day => Period::Day,
        PeriodArg::Week => Period::Week,
        PeriodArg::Month => Period::Month,
    });
    let mut scratch = Event::default();
    let mut looked_up: HashMap<std::net::IpAddr, (Option<u32>, Option<Country>)> = HashMap::new();
    let mut stats = Stats::default();
    for path in &a.reports {
        sum.reports += 1;
        let mut on_event = |e: &Event| {
            scratch.clone_from(e);
            let ev = &mut scratch;
            let Some(ip) = ev.ip else {
                sum.no_contact += 1;
                return;
            };
            if !is_notifiable(ip) {
                sum.not_notifiable += 1;
                sum.example("not notifiable", Some(ip));
                return;
            }
            let Some(key) = Key::of(ev) else {
                sum.no_time += 1;
                sum.example("no time", Some(ip));
                return;
            };
            if known.contains(&key.digest()) {
                sum.already_notified += 1;
                return;
            }
            // A machine calls its sinkhole many times a day: each address
            // is looked up in the tables once (the lookups were a seventh
            // of a large run's time).
            if ev.asn.is_none() || ev.country.is_none() {
                let (asn, country) = *looked_up
                    .entry(ip)
                    .or_insert_with(|| (enricher.asn(ip), enricher.country(ip)));
                if ev.asn.is_none() {
                    ev.asn = asn;
                }
                if ev.country.is_none()
                    && let Some(c) = country
                {
                    ev.country = Some(c.as_str().to_string());
                }
            }
            let Some(contact) = contacts.lookup_ref(ip, ev.asn, ev.country.as_deref()) else {
                sum.no_contact += 1;
                sum.example("no contact", Some(ip));
                return;
            };
            if !grouper.add(ev, &contact) {
                sum.duplicates += 1;
            }
        };
        let mut on_error = |e: report::RowError| {
            msg.say(&format!("warning: {}", for_terminal(&e.to_string())));
        };
        match report::read_path(path, &mut on_event, &mut on_error) {
            Ok(st) => stats.merge(&st),
            Err(e) => {
                sum.unreadable_reports += 1;
                msg.say(&format!("error: {}", for_terminal(&e.to_string())));
            }
        }
        msg.flush();
    }
    sum.rows = stats.rows;
    sum.events = stats.events;
    sum.row_errors = stats.errors;
    sum.by_type = stats.by_type.clone();

    let notices: Vec<_> = grouper
        .finish()
        .into_iter()
        .flat_map(|n| n.split(a.max_rows as usize))
        .collect();
    sum.notices = notices.len() as u64;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut dry_intelmq = Vec::new();
    let mut code = OK;
    for n in &notices {
        sum.notice_rows += n.rows.len() as u64;
        sum.notice_events += n.events();
        let intelmq = a.intelmq.as_ref().map(|_| {
            let mut lines = Vec::new();
            for row in &n.rows {
                lines.extend_from_slice(intelmq_line(n, row, &a.feed).as_bytes());
                lines.push(b'\n');
            }
            lines
        });
        if a.dry_run {
            dry_intelmq.extend_from_slice(intelmq.as_deref().unwrap_or_default());
            msg.say(&format!(
                "would notify {} ({}): {} addresses, {} events, period {}",
                for_terminal(&n.to),
                for_terminal(&n.rule_text()),
                n.rows.len(),
                n.events(),
                n.period
            ));
            continue;
        }
        // A notice that cannot be made (a template failing on its data, a
        // message too large for the journal) is reported and skipped: it
        // must not hold back the others, nor the delivery of notices
        // journaled before. Its events stay unnotified for a later run.
        let message = match renderer.message(n, now) {
            Ok(m) => m,
            Err(e) => {
                sum.skipped_notices += 1;
                code = ERROR;
                msg.say(&format!(
                    "error: notice {} to {} not made: {}",
                    n.id,
                    for_terminal(&n.to),
                    for_terminal(&e.to_string())
                ));
                continue;
            }
        };
        let prepared = PreparedNotice {
            id: n.id.clone(),
            to: n.to.clone(),
            period: n.period.clone(),
            rule: n.rule_text(),
            rows: n.rows.len() as u64,
            events: n.events(),
            keys: n.keys(),
            subject: renderer.subject(n),
            message,
            created: now,
            intelmq,
        };
        let j = journal.as_mut().expect("a journal outside --dry-run");
        match j.prepare(&prepared) {
            Ok(true) => {}
            Ok(false) => sum.already_prepared += 1,
            Err(e @ JournalError::Invalid { .. }) => {
                sum.skipped_notices += 1;
                code = ERROR;
                msg.say(&format!(
                    "error: notice to {} not made: {}",
                    for_terminal(&n.to),
                    for_terminal(&e.to_string())
                ));
                continue;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot journal the notice to {}", for_terminal(&n.to))
                });
            }
        }
        fault::point("notify-prepared");
    }
    drop(notices);
    if let Some(path) = &a.intelmq {
        write_intelmq(path, journal.as_mut(), &dry_intelmq, a.dry_run, &mut sum)?;
    }

    if let (Some(j), Some(t)) = (journal.as_mut(), transport.as_mut()) {
        let opts = DeliverOptions {
            retries: a.retries,
            backoff: Duration::from_secs_f64(a.backoff.clamp(0.0, 3600.0)),
            resend_unconfirmed: a.resend_unconfirmed,
        };
        let mut progress = |e: &Entry| match e.state {
            State::Sent => {}
            _ => msg.say(&format!(
                "{}: notice {} to {}: {}",
                state_name(&e.state),
                e.id,
                for_terminal(&e.to),
                for_terminal(e.last_error.as_deref().unwrap_or(""))
            )),
        };
        let r: DeliverReport = deliver::deliver(j, t.as_mut(), &opts, &mut progress)
            .context("the journal failed during delivery")?;
        sum.delivered = r.sent;
        sum.retry = r.temp_failed;
        sum.failed = r.failed;
        sum.unconfirmed = r.unconfirmed;
        // Notices refused for good in an earlier run are not retried,
        // but a run must not look clean while they wait for a person.
        sum.failed_before = j
            .entries()
            .context("cannot read the journal")?
            .iter()
            .filter(|e| matches!(e.state, State::Failed))
            .count() as u64;
        sum.failed_before = sum.failed_before.saturating_sub(r.failed);
        if r.temp_failed + r.failed + r.unconfirmed + sum.failed_before > 0 {
            code = UNDELIVERED;
        }
    }
    if sum.unreadable_reports > 0 {
        code = ERROR;
    }
    if a.reports.is_empty() && !a.dry_run {
        msg.say("no report given: delivered what the journal holds");
    }
    sum.seconds = started.elapsed().as_secs_f64();
    print_summary(&a, &sum, &journal_file, &mut msg)?;
    msg.flush();
    Ok(code)
}

/// The bare address of a `Name <address>` header value.
fn envelope_address(from: &str) -> String {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => from[a + 1..b].trim().to_string(),
        _ => from.trim().to_string(),
    }
}

fn enricher(a: &RunArgs, msg: &mut Messages) -> anyhow::Result<Enricher> {
    let mut e = Enricher::new();
    for p in &a.asn_db {
        let (src, bad) = AsnSource::open(p)?;
        for b in bad {
            msg.say(&format!("warning: {}", for_terminal(&b)));
        }
        e.add_asn(src);
    }
    for p in &a.country_db {
        let (src, bad) = CountrySource::open(p)?;
        for b in bad {
            msg.say(&format!("warning: {}", for_terminal(&b)));
        }
        e.add_country(src);
    }
    Ok(e)
}

fn contacts(a: &RunArgs, msg: &mut Messages) -> anyhow::Result<Contacts> {
    let mut b = Contacts::builder();
    if a.no_national_certs {
        b.without_national_certs();
    }
    for p in &a.contacts {
        let kind = b.source(p)?;
        tracing::info!(
            "{}: {}",
            path_for_terminal(p),
            match kind {
                SourceKind::Ripe => "RIPE-format dump",
                SourceKind::Overrides => "overrides",
            }
        );
    }
    for m in b.problems().messages() {
        msg.say(&format!("warning: {}", for_terminal(&m)));
    }
    if a.contacts.is_empty() && a.no_national_certs {
        bail!("no contacts: give --contacts FILE, or leave the national CERTs on");
    }
    Ok(b.build())
}

fn make_transport(a: &RunArgs) -> anyhow::Result<Box<dyn Transport>> {
    let Some(url) = &a.smtp else {
        let dir = a.outbox.clone().unwrap_or_else(|| PathBuf::from("notices"));
        let outbox = Outbox::new(&dir)
            .with_context(|| format!("cannot use the outbox {}", path_for_terminal(&dir)))?;
        return Ok(Box::new(outbox));
    };
    let password = match (
        &a.smtp_password_file,
        std::env::var("TAKEDOWN_SMTP_PASSWORD"),
    ) {
        (Some(f), _) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", path_for_terminal(f)))?
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        ),
        (None, Ok(p)) => Some(p),
        (None, Err(_)) => None,
    };
    // The user may be in the URL (smtp://user@relay) or in --smtp-user;
    // the password never needs to be on the command line.
    let credentials = match (&a.smtp_user, password) {
        (Some(u), Some(p)) => Some((u.clone(), p)),
        (None, Some(p)) => Some((String::new(), p)),
        (None, None) => None,
        (Some(_), None) => {
            bail!("--smtp-user needs a password: TAKEDOWN_SMTP_PASSWORD or --smtp-password-file")
        }
    };
    let opts = SmtpOptions {
        from: a
            .envelope_from
            .clone()
            .unwrap_or_else(|| envelope_address(&a.from)),
        per_domain_per_minute: a.rate.max(1),
        timeout: Duration::from_secs_f64(a.smtp_timeout.max(1.0)),
        tls_ca: a.smtp_ca.clone(),
        credentials,
    };
    let smtp = Smtp::new(url, opts).context("cannot use the SMTP server")?;
    Ok(Box::new(smtp))
}

fn print_summary(
    a: &RunArgs,
    s: &Summary,
    journal: &Path,
    msg: &mut Messages,
) -> anyhow::Result<()> {
    if s.failed_before > 0 {
        msg.say(&format!(
            "warning: {} notices refused by their servers in earlier runs: see `takedown notify status --state failed`",
            s.failed_before
        ));
    }
    if matches!(a.format, Format::Json) {
        let mut out = BufWriter::new(std::io::stdout().lock());
        let mut v = serde_json::to_value(s)?;
        v["type"] = "notify-summary".into();
        v["journal"] = journal.display().to_string().into();
        v["dry_run"] = a.dry_run.into();
        serde_json::to_writer(&mut out, &v)?;
        out.write_all(b"\n")?;
        out.flush()?;
        return Ok(());
    }
    msg.say(&format!(
        "{} reports: {} rows, {} events, {} unreadable rows",
        s.reports, s.rows, s.events, s.row_errors
    ));
    for (why, n) in [
        (
            "not notifiable (private or special addresses)",
            s.not_notifiable,
        ),
        ("without a time", s.no_time),
        ("already notified by an earlier run", s.already_notified),
        ("repeated (same address, family and day)", s.duplicates),
        ("without a contact", s.no_contact),
    ] {
        if n > 0 {
            msg.say(&format!("  {n} events {why}"));
        }
    }
    for (why, ex) in &s.examples {
        msg.say(&format!("  {why}: e.g. {}", ex.join(", ")));
    }
    let verb = if a.dry_run { "would be" } else { "" };
    msg.say(&format!(
        "{} notices {verb} made ({} addresses per family and day, {} events){}",
        s.notices,
        s.notice_rows,
        s.notice_events,
        if s.already_prepared > 0 {
            format!(", {} already journaled", s.already_prepared)
        } else {
            String::new()
        }
    ));
    if !a.dry_run {
        msg.say(&format!(
            "delivered {}, to retry {}, failed {}, unconfirmed {} (journal {}) in {:.1} s",
            s.delivered,
            s.retry,
            s.failed,
            s.unconfirmed,
            path_for_terminal(journal),
            s.seconds
        ));
    }
    Ok(())
}

fn status(a: StatusArgs) -> anyhow::Result<u8> {
    let path = journal_path(&a.journal)?;
    if !path.exists() {
        bail!("no journal at {}", path_for_terminal(&path));
    }
    let j = Journal::open(&path)
        .with_context(|| format!("cannot open the journal {}", path_for_terminal(&path)))?;
    let entries = j.entries().context("cannot read the journal")?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut undelivered = false;
    for e in &entries {
        *totals.entry(state_name(&e.state)).or_default() += 1;
        undelivered |= !matches!(e.state, State::Sent);
        if !a.state.is_empty() && !a.state.contains(&state_arg(&e.state)) {
            continue;
        }
        match a.format {
            Format::Json => {
                let mut v = serde_json::to_value(e)?;
                v["type"] = "notice".into();
                v["state"] = state_name(&e.state).into();
                serde_json::to_writer(&mut out, &v)?;
                out.write_all(b"\n")?;
            }
            Format::Text => writeln!(
                out,
                "{}  {:<11} {}  {}  {} addresses, {} events{}{}",
                e.id,
                state_name(&e.state),
                e.period,
                for_terminal(&e.to),
                e.rows,
                e.events,
                e.via
                    .as_deref()
                    .map(|v| format!(", via {}", for_terminal(v)))
                    .unwrap_or_default(),
                e.last_error
                    .as_deref()
                    .filter(|_| !matches!(e.state, State::Sent))
                    .map(|v| format!(": {}", for_terminal(v)))
                    .unwrap_or_default(),
            )?,
        }
    }
    if matches!(a.format, Format::Text) {
        let t: Vec<String> = totals.iter().map(|(k, n)| format!("{n} {k}")).collect();
        writeln!(
            out,
            "{} notices: {}",
            entries.len(),
            if t.is_empty() {
                "none".to_string()
            } else {
                t.join(", ")
            }
        )?;
    }
    out.flush()?;
    Ok(if undelivered { UNDELIVERED } else { OK })
}

/// Writes `--intelmq`: the IntelMQ events of every journaled notice not
/// yet written to such a file (this run's, and those of a run killed
/// before it wrote its file), atomically, and only then marks them
/// written. A kill between the two writes them again next time, into a
/// file that replaces this one: nothing lost, nothing twice in one file.
/// A dry run writes this run's events, marking nothing.
fn write_intelmq(
    path: &Path,
    journal: Option<&mut Journal>,
    dry: &[u8],
    dry_run: bool,
    sum: &mut Summary,
) -> anyhow::Result<()> {
    let count = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count() as u64;
    let Some(j) = journal.filter(|_| !dry_run) else {
        sum.intelmq_events = count(dry);
        return write_atomic(path, ".takedown-intelmq-", Access::Private, |w| {
            Ok(w.write_all(dry)?)
        });
    };
    let pending = j
        .unexported_intelmq()
        .context("cannot read the journal's IntelMQ events")?;
    write_atomic(path, ".takedown-intelmq-", Access::Private, |w| {
        for (_, lines) in &pending {
            w.write_all(lines)?;
        }
        Ok(())
    })?;
    sum.intelmq_events = pending.iter().map(|(_, l)| count(l)).sum();
    let ids: Vec<String> = pending.into_iter().map(|(id, _)| id).collect();
    j.mark_intelmq_exported(&ids)
        .context("cannot record the IntelMQ events as written")?;
    Ok(())
}

fn retry(a: RetryArgs) -> anyhow::Result<u8> {
    let path = journal_path(&a.journal)?;
    if !path.exists() {
        bail!("no journal at {}", path_for_terminal(&path));
    }
    let mut j = Journal::open(&path)
        .with_context(|| format!("cannot open the journal {}", path_for_terminal(&path)))?;
    j.lock()
        .with_context(|| format!("cannot lock the journal {}", path_for_terminal(&path)))?;
    let states: Vec<State> = if a.state.is_empty() {
        vec![State::Failed]
    } else {
        a.state
            .iter()
            .map(|s| match s {
                StateArg::Failed => Ok(State::Failed),
                StateArg::Sending => Ok(State::Sending),
                StateArg::Retry => Ok(State::TempFailed),
                StateArg::Prepared | StateArg::Sent => {
                    bail!("only failed, sending (unconfirmed) and retry notices can be put back")
                }
            })
            .collect::<anyhow::Result<_>>()?
    };
    let n = j
        .requeue(&states, &a.ids)
        .context("cannot put the notices back")?;
    eprintln!("takedown: {n} notices put back; the next `takedown notify` run delivers them");
    Ok(OK)
}
