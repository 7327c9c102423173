//! `takedown intel pull` and `takedown intel push`: the flags, and the
//! lines printed around [`takedown_intel::taxii::pull`] and
//! [`takedown_intel::taxii::push`], which do the work.

use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;
use takedown_engine::sanitize::{for_terminal, path_for_terminal};
use takedown_intel::taxii::{self, Auth, Client, ClientOptions, PullOptions, PushOptions};

/// The server, the collection and how to talk to them.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// The TAXII 2.1 server: its discovery URL (`https://host/taxii2/`,
    /// whose default API root is used) or an API root URL.
    #[arg(value_name = "URL")]
    pub url: String,

    /// The collection: its id, or its title.
    #[arg(long, value_name = "ID")]
    pub collection: String,

    /// Bearer token (or TAKEDOWN_TAXII_TOKEN, which other users cannot see
    /// in the process list); --user takes precedence.
    // No `conflicts_with`/`requires` on the arguments read from the
    // environment: clap would apply them to a variable merely set.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TAKEDOWN_TAXII_TOKEN",
        hide_env_values = true,
        help_heading = "Server"
    )]
    pub token: Option<String>,

    /// User name for HTTP basic authentication (with --password or
    /// --password-file).
    #[arg(long, value_name = "NAME", help_heading = "Server")]
    pub user: Option<String>,

    /// Password for --user (or TAKEDOWN_TAXII_PASSWORD).
    #[arg(
        long,
        value_name = "PW",
        env = "TAKEDOWN_TAXII_PASSWORD",
        hide_env_values = true,
        help_heading = "Server"
    )]
    pub password: Option<String>,

    /// Read the password for --user from the first line of FILE (it takes
    /// precedence over --password).
    #[arg(long, value_name = "FILE", requires = "user", help_heading = "Server")]
    pub password_file: Option<PathBuf>,

    /// Trust the CA certificates in FILE (PEM) instead of the built-in
    /// roots, for a server under a private CA.
    #[arg(long, value_name = "FILE", help_heading = "Server")]
    pub ca: Option<PathBuf>,

    /// Seconds to connect, to get an answer, and that one read may wait.
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600), help_heading = "Server")]
    pub timeout: u64,

    /// Retries of a request after a connection error, a time out, HTTP 429
    /// or 5xx (with exponential back-off; Retry-After is honoured).
    #[arg(long, value_name = "N", default_value_t = taxii::DEFAULT_RETRIES,
          value_parser = clap::value_parser!(u32).range(0..=20), help_heading = "Server")]
    pub retries: u32,
}

impl ServerArgs {
    fn client(&self) -> anyhow::Result<Client> {
        let auth = match (&self.user, &self.token) {
            (Some(user), _) => Auth::Basic {
                user: user.clone(),
                password: self.password()?,
            },
            (None, Some(token)) => Auth::Bearer(token.clone()),
            (None, None) => Auth::None,
        };
        if self.user.is_none() && self.password.is_some() {
            tracing::warn!("--password (or TAKEDOWN_TAXII_PASSWORD) without --user is not used");
        }
        if !matches!(auth, Auth::None) && self.url.trim_start().starts_with("http://") {
            tracing::warn!(
                "sending credentials without TLS to {}",
                for_terminal(&self.url)
            );
        }
        Ok(Client::new(ClientOptions {
            auth,
            ca_file: self.ca.clone(),
            timeout: Duration::from_secs(self.timeout),
            retries: self.retries,
            ..ClientOptions::default()
        })?)
    }

    fn password(&self) -> anyhow::Result<String> {
        let Some(file) = &self.password_file else {
            return self
                .password
                .clone()
                .context("--user needs --password, --password-file or TAKEDOWN_TAXII_PASSWORD");
        };
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("--password-file {}", path_for_terminal(file)))?;
        let line = text.lines().next().unwrap_or("");
        anyhow::ensure!(
            !line.is_empty(),
            "--password-file {}: the first line is empty",
            path_for_terminal(file)
        );
        Ok(line.to_string())
    }
}

/// `takedown intel pull` flags.
///
/// Each page of objects becomes a STIX 2.1 bundle `DIR/000001.json`,
/// `000002.json`...; `DIR/.taxii-state.json` records where to go on, so a
/// second run (or the run after an interruption) fetches only what was
/// added since, every object written exactly once.
#[derive(clap::Args, Debug)]
#[command(after_help = "Exit status: 0 pulled (perhaps nothing new), 2 an error.")]
pub struct PullArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// The directory of the bundle files and the state (created if
    /// missing); one collection per directory.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Only objects added after this time (RFC 3339, such as
    /// 2024-05-01T00:00:00Z); used by the first pull into DIR only, later
    /// ones go on from the state.
    #[arg(long, value_name = "TIMESTAMP")]
    pub added_after: Option<String>,

    /// Objects per page asked for (the server may send fewer).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
}

/// `takedown intel push` flags.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 every object added, 1 some were not (each is named), 2 an error (no answer, wrong credentials, no such collection)."
)]
pub struct PushArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// STIX 2.1 bundle files.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Most objects sent in one request.
    #[arg(long, value_name = "N", default_value_t = taxii::DEFAULT_ENVELOPE_OBJECTS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_objects: usize,

    /// Most bytes sent in one request (`10M`, `512K`...); the server's
    /// max_content_length lowers it, and a request the server still finds
    /// too large (HTTP 413) is split in two.
    #[arg(long, value_name = "SIZE", default_value = "10M")]
    pub max_bytes: String,

    /// Seconds to wait for the server to finish processing what was sent.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub status_wait: u64,
}

/// Runs `takedown intel pull`.
pub fn pull(a: PullArgs) -> anyhow::Result<u8> {
    let client = a.server.client()?;
    let opts = PullOptions {
        url: a.server.url.clone(),
        collection: a.server.collection.clone(),
        dir: a.output.clone(),
        added_after: a.added_after.clone(),
        limit: a.limit,
    };
    let summary = taxii::pull(&client, &opts, |page| {
        tracing::info!(
            "page {}: {} objects written to {}{}",
            page.number,
            page.objects,
            path_for_terminal(&page.file),
            if page.duplicates > 0 {
                format!(" ({} had already, dropped)", page.duplicates)
            } else {
                String::new()
            }
        );
    })?;
    if summary.skipped > 0 {
        eprintln!(
            "takedown: warning: {} objects without a string id left out",
            summary.skipped
        );
    }
    println!(
        "pulled {} objects ({} pages from the server) into {} new files in {}{}; {} objects there in all; collection {}",
        summary.objects,
        summary.pages,
        summary.files.len(),
        path_for_terminal(&a.output),
        if summary.resumed { ", resumed" } else { "" },
        summary.total_objects,
        for_terminal(&summary.collection_url),
    );
    Ok(crate::exit::CLEAN)
}

/// Runs `takedown intel push`.
pub fn push(a: PushArgs) -> anyhow::Result<u8> {
    let max_bytes = takedown_engine::size::parse(&a.max_bytes)
        .map_err(|e| anyhow::anyhow!("--max-bytes: {e}"))?;
    anyhow::ensure!(max_bytes >= 64, "--max-bytes: at least 64 bytes");
    let client = a.server.client()?;
    let opts = PushOptions {
        url: a.server.url.clone(),
        collection: a.server.collection.clone(),
        files: a.files.clone(),
        max_objects: a.max_objects,
        max_bytes,
        status_wait: Duration::from_secs(a.status_wait),
    };
    let report = taxii::push(&client, &opts, |env| {
        tracing::info!(
            "{}: {} objects sent ({} bytes), status {}",
            path_for_terminal(&env.file),
            env.objects,
            env.bytes,
            taxii::quote(&env.status_id)
        );
    })?;
    for f in &report.failures {
        println!(
            "failed: {}{}: {}",
            path_for_terminal(&f.file),
            f.id.as_deref()
                .map(|id| format!(": {}", for_terminal(id)))
                .unwrap_or_default(),
            for_terminal(&f.reason)
        );
    }
    if report.failed as usize > report.failures.len() {
        println!(
            "failed: ... and {} more",
            report.failed as usize - report.failures.len()
        );
    }
    println!(
        "pushed {} objects from {} files to {}: {} added, {} failed, {} still pending ({} requests{})",
        report.objects,
        a.files.len(),
        for_terminal(&report.collection_url),
        report.succeeded,
        report.failed,
        report.pending,
        report.envelopes,
        if report.splits > 0 {
            format!(", {} split after HTTP 413", report.splits)
        } else {
            String::new()
        }
    );
    Ok(if report.all_succeeded() {
        crate::exit::CLEAN
    } else {
        crate::exit::FOUND
    })
}
