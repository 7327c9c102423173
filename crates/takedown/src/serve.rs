//! `takedown serve`: flags overlaid on the configuration file, then the
//! service (`takedown-serve`) runs until SIGTERM.

use crate::args::{SigArgs, default_cache_dir};
use anyhow::Context;
use std::path::PathBuf;
use takedown_serve::config::Config;

/// `takedown serve` flags; each overrides its key in the --config file.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// TOML configuration file (see dist/serve.toml); flags override it.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// HTTP listen address (repeatable; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", help_heading = "Listen")]
    pub http: Vec<String>,
    /// No HTTP listener.
    #[arg(long, conflicts_with = "http", help_heading = "Listen")]
    pub no_http: bool,
    /// clamd-protocol TCP listen address (repeatable).
    #[arg(long, value_name = "ADDR", help_heading = "Listen")]
    pub clamd: Vec<String>,
    /// No clamd-protocol TCP listener.
    #[arg(long, conflicts_with = "clamd", help_heading = "Listen")]
    pub no_clamd: bool,
    /// clamd-protocol Unix socket.
    #[arg(long, value_name = "PATH", help_heading = "Listen")]
    pub clamd_socket: Option<PathBuf>,
    /// Once listening, write the bound addresses there as JSON (for
    /// scripts and tests that use port 0).
    #[arg(long, value_name = "FILE", help_heading = "Listen")]
    pub ready_file: Option<PathBuf>,

    #[command(flatten)]
    pub sigs: SigArgs,

    /// Largest upload: HTTP body, clamd stream (clamd's StreamMaxLength).
    #[arg(long, value_name = "SIZE", help_heading = "Limits")]
    pub max_upload: Option<String>,
    /// Uploads up to SIZE stay in memory; larger ones are spooled to an
    /// unlinked temporary file.
    #[arg(long, value_name = "SIZE", help_heading = "Limits")]
    pub memory_buffer: Option<String>,
    /// Directory for spooled uploads [default: the system temporary directory].
    #[arg(long, value_name = "DIR", help_heading = "Limits")]
    pub spool_dir: Option<PathBuf>,
    /// Scan requests admitted at once; more get 503 (HTTP) or wait (clamd).
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_requests: Option<usize>,
    /// Files in one multipart request.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_files: Option<usize>,
    /// Scanning threads [default: number of cores].
    #[arg(short = 'j', long, value_name = "N", help_heading = "Limits")]
    pub workers: Option<usize>,
    /// Seconds a client gets to send a whole request.
    #[arg(long, value_name = "SECONDS", help_heading = "Limits")]
    pub request_timeout: Option<f64>,
    /// Seconds a connection may stay silent.
    #[arg(long, value_name = "SECONDS", help_heading = "Limits")]
    pub idle_timeout: Option<f64>,
    /// Seconds in-flight requests get to finish on SIGTERM.
    #[arg(long, value_name = "SECONDS", help_heading = "Limits")]
    pub shutdown_grace: Option<f64>,
    /// As `takedown scan --max-filesize`.
    #[arg(long, value_name = "SIZE", help_heading = "Limits")]
    pub max_filesize: Option<String>,
    /// As `takedown scan --max-scansize`.
    #[arg(long, value_name = "SIZE", help_heading = "Limits")]
    pub max_scansize: Option<String>,
    /// As `takedown scan --max-depth`.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_depth: Option<u32>,
    /// As `takedown scan --max-entries`.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_entries: Option<u64>,
    /// As `takedown scan --max-ratio`.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_ratio: Option<u64>,
    /// As `takedown scan --timeout` (YARA time budget per object).
    #[arg(long, value_name = "SECONDS", help_heading = "Limits")]
    pub timeout: Option<f64>,
    /// As `takedown scan --time-limit`.
    #[arg(long, value_name = "SECONDS", help_heading = "Limits")]
    pub time_limit: Option<f64>,
    /// As `takedown scan --no-containers`.
    #[arg(long, help_heading = "Limits")]
    pub no_containers: bool,
    /// As `takedown scan --heuristics`.
    #[arg(long, help_heading = "Limits")]
    pub heuristics: bool,
    /// As `takedown scan --max-packers`.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_packers: Option<u32>,

    /// Scan tokens, one per line (Authorization: Bearer TOKEN).
    #[arg(long, value_name = "FILE", help_heading = "Access")]
    pub token_file: Option<PathBuf>,
    /// Admin tokens (may also reload), one per line.
    #[arg(long, value_name = "FILE", help_heading = "Access")]
    pub admin_token_file: Option<PathBuf>,
    /// Require a token even when every listener is on loopback.
    #[arg(long, help_heading = "Access")]
    pub require_tokens: bool,
    /// Accept clamd SCAN/CONTSCAN/MULTISCAN/ALLMATCHSCAN on this machine's
    /// paths (off: the service never reads its own disk for a client).
    #[arg(long, help_heading = "Access")]
    pub allow_path_scan: bool,
    /// Accept the clamd SHUTDOWN command.
    #[arg(long, help_heading = "Access")]
    pub allow_shutdown: bool,

    /// Serve TAXII 2.1 (collections come from the [taxii] section of
    /// --config; see docs/taxii.md).
    #[arg(long, help_heading = "TAXII")]
    pub taxii: bool,
    /// The TAXII object database [default: /var/lib/takedown/taxii.sqlite3
    /// for root, else $XDG_DATA_HOME/takedown/taxii.sqlite3 or
    /// ~/.local/share/takedown/taxii.sqlite3].
    #[arg(
        long,
        value_name = "FILE",
        env = "TAKEDOWN_TAXII_DB",
        help_heading = "TAXII"
    )]
    pub taxii_db: Option<PathBuf>,
    /// TAXII tokens, one `NAME TOKEN` per line (names are what
    /// collections' read/write lists grant).
    #[arg(long, value_name = "FILE", help_heading = "TAXII")]
    pub taxii_token_file: Option<PathBuf>,
    /// Publish the sightings of detected scans into this collection (its
    /// id, one of [[taxii.collections]]); implies --taxii. Off by default.
    #[arg(long, value_name = "COLLECTION", help_heading = "TAXII")]
    pub taxii_publish: Option<String>,
    /// TLP marking of published sightings [default: amber].
    #[arg(long, value_name = "TLP", help_heading = "TAXII")]
    pub taxii_publish_tlp: Option<String>,
    /// Producer named in published sightings [default: takedown].
    #[arg(long, value_name = "NAME", help_heading = "TAXII")]
    pub taxii_publish_producer: Option<String>,
    /// Name the scanning client's IP address as where a sample was
    /// sighted (personal data; default: "takedown serve").
    #[arg(long, help_heading = "TAXII")]
    pub taxii_publish_client_address: bool,
    /// Scans waiting to be published; beyond, their sightings are dropped
    /// and counted [default: 1024].
    #[arg(long, value_name = "N", help_heading = "TAXII")]
    pub taxii_publish_queue: Option<usize>,

    /// Serve the victim self-check (/check, /v1/check) from these sinkhole
    /// reports: Shadowserver CSV, IntelMQ NDJSON, hunt sightings (see
    /// docs/selfcheck.md). Off by default; reread on SIGHUP.
    #[arg(
        long,
        value_name = "REPORT",
        num_args = 1..,
        help_heading = "Self-check"
    )]
    pub self_check: Vec<PathBuf>,
    /// A reverse proxy (address or CIDR block, repeatable) whose
    /// forwarded header names the visitor; any other peer is the visitor.
    #[arg(long, value_name = "CIDR", help_heading = "Self-check")]
    pub trusted_proxy: Vec<String>,
    /// The header trusted proxies name the visitor in: x-forwarded-for or
    /// forwarded (RFC 7239) [default: x-forwarded-for].
    #[arg(long, value_name = "HEADER", help_heading = "Self-check")]
    pub forwarded_header: Option<String>,
    /// Self-checks per visitor (IPv6: per /64), as N/min, N/s or N/h;
    /// more get 429 [default: 10/min].
    #[arg(long, value_name = "N/min", help_heading = "Self-check")]
    pub self_check_rate: Option<String>,
    /// Translation files of the web pages (en.toml, ja.toml, de.toml) laid
    /// over the built-in ones (see docs/selfcheck.md).
    #[arg(long, value_name = "DIR", help_heading = "Web pages")]
    pub lang_dir: Option<PathBuf>,
}

impl ServeArgs {
    /// The configuration file (or the defaults) with the flags laid over it.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::read(p)?,
            None => Config::default(),
        };
        if self.no_http {
            c.listen.http.clear();
        } else if !self.http.is_empty() {
            c.listen.http = self.http;
        }
        if self.no_clamd {
            c.listen.clamd_tcp.clear();
        } else if !self.clamd.is_empty() {
            c.listen.clamd_tcp = self.clamd;
        }
        if self.clamd_socket.is_some() {
            c.listen.clamd_unix = self.clamd_socket;
        }
        let s = &mut c.signatures;
        if !self.sigs.signatures.is_empty() {
            s.paths = self.sigs.signatures;
        } else if s.paths.is_empty() && !self.sigs.no_installed {
            s.paths
                .extend(crate::update::installed_for_serve(self.sigs.sigs_dir)?);
        }
        s.builtin &= !self.sigs.no_builtin;
        s.strict |= self.sigs.strict;
        if self.sigs.cache_dir.is_some() {
            s.cache_dir = self.sigs.cache_dir;
        }
        s.cache &= !self.sigs.no_cache;
        if s.cache && s.cache_dir.is_none() {
            s.cache_dir = default_cache_dir();
        }
        let l = &mut c.limits;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { l.$field = v; } )* };
        }
        set!(
            max_upload,
            memory_buffer,
            max_requests,
            max_files,
            request_timeout,
            idle_timeout,
            shutdown_grace,
            max_filesize,
            max_scansize,
            max_depth,
            max_entries,
            max_ratio,
            time_limit,
            max_packers
        );
        if let Some(v) = self.timeout {
            l.yara_timeout = v;
        }
        if self.spool_dir.is_some() {
            l.spool_dir = self.spool_dir;
        }
        if self.workers.is_some() {
            l.workers = self.workers;
        }
        l.containers &= !self.no_containers;
        l.heuristics |= self.heuristics;
        if let Some(f) = &self.token_file {
            c.auth.tokens.extend(read_tokens(f)?);
        }
        if let Some(f) = &self.admin_token_file {
            c.auth.admin_tokens.extend(read_tokens(f)?);
        }
        c.auth.required |= self.require_tokens;
        c.clamd.allow_path_scan |= self.allow_path_scan;
        c.clamd.allow_shutdown |= self.allow_shutdown;
        let t = &mut c.taxii;
        t.enabled |= self.taxii;
        if self.taxii_publish.is_some() {
            t.enabled = true;
            t.publish_sightings = self.taxii_publish;
        }
        if let Some(v) = self.taxii_publish_tlp {
            t.publish_tlp = v;
        }
        if let Some(v) = self.taxii_publish_producer {
            t.publish_producer = v;
        }
        t.publish_client_address |= self.taxii_publish_client_address;
        if let Some(v) = self.taxii_publish_queue {
            t.publish_queue = v;
        }
        // A relative path in the file is taken from the file's directory,
        // so that a configuration directory carries its database along.
        if let (Some(db), Some(conf)) = (&t.db, &self.config)
            && db.is_relative()
        {
            let dir = conf.parent().unwrap_or(std::path::Path::new(""));
            t.db = Some(dir.join(db));
        }
        if self.taxii_db.is_some() {
            t.db = self.taxii_db;
        }
        if t.enabled && t.db.is_none() {
            t.db = default_taxii_db();
        }
        if let Some(f) = &self.taxii_token_file {
            for (name, token) in read_named_tokens(f)? {
                t.tokens.insert(name, token);
            }
        }
        let sc = &mut c.selfcheck;
        // Relative report paths in the file are taken from its directory.
        if let Some(conf) = &self.config {
            let dir = conf.parent().unwrap_or(std::path::Path::new(""));
            for r in &mut sc.reports {
                if r.is_relative() {
                    *r = dir.join(&*r);
                }
            }
            if let Some(d) = &mut c.web.lang_dir
                && d.is_relative()
            {
                *d = dir.join(&*d);
            }
        }
        if !self.self_check.is_empty() {
            sc.reports = self.self_check;
        }
        if !self.trusted_proxy.is_empty() {
            sc.trusted_proxies = self.trusted_proxy;
        }
        if let Some(v) = self.forwarded_header {
            sc.forwarded_header = v;
        }
        if let Some(v) = self.self_check_rate {
            sc.rate = v;
        }
        if self.lang_dir.is_some() {
            c.web.lang_dir = self.lang_dir;
        }
        Ok(c)
    }
}

/// `/var/lib/takedown/taxii.sqlite3` for root, else under
/// `$XDG_DATA_HOME/takedown` or `~/.local/share/takedown` (beside the
/// installed signatures and the vault).
fn default_taxii_db() -> Option<PathBuf> {
    // Beside the installed signature sets, whose directory already says
    // where takedown's data goes for root and for a user.
    let sets = takedown_bundle::store::default_dir()?;
    Some(sets.parent()?.join("taxii.sqlite3"))
}

/// `NAME TOKEN` lines; `#` comments and blank lines skipped.
fn read_named_tokens(path: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read TAXII token file {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(name), Some(token), None) => out.push((name.to_string(), token.to_string())),
            _ => anyhow::bail!("{} line {}: expected `NAME TOKEN`", path.display(), n + 1),
        }
    }
    Ok(out)
}

fn read_tokens(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read token file {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Runs the service until SIGTERM; exit code 0 after a clean shutdown.
pub fn serve(a: ServeArgs, verbose: u8) -> anyhow::Result<u8> {
    takedown_serve::tune_allocator();
    let ready_file = a.ready_file.clone();
    let settings = a.into_config()?.validate()?;
    let workers = settings.workers;
    // Loading can take seconds; do it before any listener exists so that a
    // client never reaches a service without signatures.
    let service = takedown_serve::service::Service::new(settings)?;
    let sigs = &service.generation().sigs;
    // Unsupported ClamAV constructs: one line per kind, each line with -v.
    for issue in sigs
        .problems()
        .filter(|i| verbose > 0 || i.construct.is_none())
    {
        tracing::warn!("signature problem: {issue}");
    }
    if verbose == 0 {
        for c in sigs.unsupported_constructs() {
            tracing::warn!("signature problem: {c} (-v lists each)");
        }
    }
    if sigs.notices() > 0 {
        tracing::info!(
            "{} indicators not used: revoked, expired or not for detection (`takedown sigs check` lists them)",
            sigs.notices()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Network I/O only: the scanning happens on the worker threads.
        .worker_threads(workers.clamp(1, 4))
        .thread_name("serve-io")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(takedown_serve::run(service, |bound| {
        if let Some(path) = &ready_file
            && let Err(e) = write_ready(path, bound)
        {
            tracing::error!("cannot write --ready-file {}: {e}", path.display());
        }
    }))?;
    Ok(0)
}

/// Written to a temporary name and renamed, so a reader never sees half.
fn write_ready(path: &std::path::Path, bound: &takedown_serve::Bound) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(bound)?)?;
    std::fs::rename(tmp, path)
}
