//! The service's configuration: a TOML file (every key optional) whose
//! defaults start a useful local service with no set-up: the built-in
//! pack, HTTP on 127.0.0.1:8080 and the clamd protocol on 127.0.0.1:3310.
//! The CLI overlays its flags on what the file says; [`Config::validate`]
//! turns the result into [`Settings`], the only form the service reads.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use takedown_engine::scan::ScanOptions;
use takedown_engine::sigs::LoadOptions;

/// Default HTTP listener.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
/// Default clamd-protocol listener (clamd's own port).
pub const DEFAULT_CLAMD: &str = "127.0.0.1:3310";

/// The configuration file, as written. Sizes are strings (`"100M"`),
/// durations are seconds.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where to listen.
    pub listen: Listen,
    /// Which signatures to load.
    pub signatures: Signatures,
    /// Limits on requests and scans.
    pub limits: LimitsConfig,
    /// Bearer tokens.
    pub auth: Auth,
    /// clamd protocol options.
    pub clamd: ClamdConfig,
    /// The TAXII 2.1 server (off by default; docs/taxii.md).
    pub taxii: crate::taxii::TaxiiConfig,
    /// The victim self-check (off by default; docs/selfcheck.md).
    pub selfcheck: crate::selfcheck::SelfCheckConfig,
    /// The web pages.
    pub web: WebConfig,
}

/// `[web]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Translation files (`en.toml`, `ja.toml`, `de.toml`) laid over the
    /// built-in ones (docs/selfcheck.md).
    pub lang_dir: Option<PathBuf>,
}

/// `[listen]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    /// HTTP listeners (`host:port`); empty turns HTTP off.
    pub http: Vec<String>,
    /// clamd-protocol TCP listeners; empty turns them off.
    pub clamd_tcp: Vec<String>,
    /// A clamd-protocol Unix socket.
    pub clamd_unix: Option<PathBuf>,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            http: vec![DEFAULT_HTTP.into()],
            clamd_tcp: vec![DEFAULT_CLAMD.into()],
            clamd_unix: None,
        }
    }
}

/// `[signatures]`: the same sources as `takedown scan`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Signatures {
    /// Signature files and directories.
    pub paths: Vec<PathBuf>,
    /// Include the built-in pack.
    pub builtin: bool,
    /// Any signature problem is fatal at start (and refuses a reload).
    pub strict: bool,
    /// Compiled-rules cache directory.
    pub cache_dir: Option<PathBuf>,
    /// Use the compiled-rules cache.
    pub cache: bool,
}

impl Default for Signatures {
    fn default() -> Self {
        Signatures {
            paths: Vec::new(),
            builtin: true,
            strict: false,
            cache_dir: None,
            cache: true,
        }
    }
}

/// `[limits]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest upload (HTTP body, clamd stream: clamd's `StreamMaxLength`).
    pub max_upload: String,
    /// Uploads up to this size stay in memory; larger ones are spooled to
    /// an unlinked temporary file.
    pub memory_buffer: String,
    /// Where uploads are spooled (default: the system temporary directory).
    pub spool_dir: Option<PathBuf>,
    /// Requests admitted at once (uploading, queued or scanning); more are
    /// refused with 503 (HTTP) or an error (clamd).
    pub max_requests: usize,
    /// Files in one multipart request.
    pub max_files: usize,
    /// Scanning threads (default: number of cores).
    pub workers: Option<usize>,
    /// Seconds a client may take to send a whole request (headers and
    /// body, or a clamd command and its stream).
    pub request_timeout: f64,
    /// Seconds a connection may stay silent (between body chunks, between
    /// clamd commands).
    pub idle_timeout: f64,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace: f64,
    /// Scan limits, as `takedown scan`'s flags.
    pub max_filesize: String,
    /// See `takedown scan --max-scansize`.
    pub max_scansize: String,
    /// See `takedown scan --max-depth`.
    pub max_depth: u32,
    /// See `takedown scan --max-entries`.
    pub max_entries: u64,
    /// See `takedown scan --max-ratio`.
    pub max_ratio: u64,
    /// See `takedown scan --timeout` (seconds).
    pub yara_timeout: f64,
    /// See `takedown scan --time-limit` (seconds).
    pub time_limit: f64,
    /// See `takedown scan --no-containers`.
    pub containers: bool,
    /// See `takedown scan --heuristics`.
    pub heuristics: bool,
    /// See `takedown scan --max-packers`.
    pub max_packers: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_upload: "100M".into(),
            memory_buffer: "1M".into(),
            spool_dir: None,
            max_requests: 256,
            max_files: 64,
            workers: None,
            request_timeout: 300.0,
            idle_timeout: 30.0,
            shutdown_grace: 30.0,
            max_filesize: "256M".into(),
            max_scansize: "400M".into(),
            max_depth: takedown_formats::DEFAULT_MAX_DEPTH,
            max_entries: takedown_formats::DEFAULT_MAX_ENTRIES,
            max_ratio: takedown_formats::DEFAULT_MAX_RATIO,
            yara_timeout: 60.0,
            time_limit: 120.0,
            containers: true,
            heuristics: false,
            max_packers: takedown_formats::heuristics::DEFAULT_MAX_PACKERS,
        }
    }
}

/// `[auth]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Tokens allowed to scan and read (`Authorization: Bearer ...`).
    pub tokens: Vec<String>,
    /// Tokens allowed to reload (and to scan).
    pub admin_tokens: Vec<String>,
    /// Require tokens even on loopback.
    pub required: bool,
}

/// `[clamd]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClamdConfig {
    /// Accept `SCAN`, `CONTSCAN`, `MULTISCAN` and `ALLMATCHSCAN` on paths
    /// of this machine (off: the service never reads its own disk for a
    /// client).
    pub allow_path_scan: bool,
    /// Accept `SHUTDOWN`.
    pub allow_shutdown: bool,
}

/// Validated settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// HTTP listeners.
    pub http: Vec<SocketAddr>,
    /// clamd TCP listeners.
    pub clamd_tcp: Vec<SocketAddr>,
    /// clamd Unix socket.
    pub clamd_unix: Option<PathBuf>,
    /// Signatures.
    pub load: LoadOptions,
    /// Scan options of every request.
    pub scan: ScanOptions,
    /// Largest upload.
    pub max_upload: u64,
    /// In-memory part of an upload.
    pub memory_buffer: usize,
    /// Spool directory.
    pub spool_dir: PathBuf,
    /// Requests admitted at once.
    pub max_requests: usize,
    /// Files per multipart request.
    pub max_files: usize,
    /// Scanning threads.
    pub workers: usize,
    /// Whole-request budget.
    pub request_timeout: Duration,
    /// Silence budget.
    pub idle_timeout: Duration,
    /// Shutdown grace.
    pub shutdown_grace: Duration,
    /// Scan tokens.
    pub tokens: Vec<String>,
    /// Admin tokens.
    pub admin_tokens: Vec<String>,
    /// Whether requests must carry a token.
    pub tokens_required: bool,
    /// clamd options.
    pub clamd: ClamdConfig,
    /// The TAXII server, when enabled.
    pub taxii: Option<crate::taxii::TaxiiSettings>,
    /// The victim self-check, when enabled.
    pub selfcheck: Option<crate::selfcheck::SelfCheckSettings>,
    /// Translation files over the built-in ones.
    pub lang_dir: Option<PathBuf>,
}

/// Largest accepted `max_requests`: each admitted request may hold
/// `memory_buffer` bytes, so this bounds memory together with it.
const MAX_REQUESTS_CAP: usize = 65_536;

impl Config {
    /// Parses a configuration file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Config> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))
    }

    /// Reads a configuration file.
    pub fn read(path: &std::path::Path) -> anyhow::Result<Config> {
        // A configuration file is small; refuse anything that is not.
        let meta = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        if meta.len() > 1 << 20 {
            anyhow::bail!("config {} is larger than 1 MiB", path.display());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Checks every value and resolves defaults.
    pub fn validate(&self) -> anyhow::Result<Settings> {
        let addrs = |list: &[String], what: &str| -> anyhow::Result<Vec<SocketAddr>> {
            list.iter()
                .map(|a| {
                    a.parse::<SocketAddr>().map_err(|e| {
                        anyhow::anyhow!("listen.{what}: '{a}' is not an address:port ({e})")
                    })
                })
                .collect()
        };
        let http = addrs(&self.listen.http, "http")?;
        let clamd_tcp = addrs(&self.listen.clamd_tcp, "clamd_tcp")?;
        if http.is_empty() && clamd_tcp.is_empty() && self.listen.clamd_unix.is_none() {
            anyhow::bail!("nothing to listen on: give an HTTP or clamd address");
        }
        let l = &self.limits;
        let size = |v: &str, what: &str| -> anyhow::Result<u64> {
            takedown_engine::size::parse(v).map_err(|e| anyhow::anyhow!("limits.{what}: {e}"))
        };
        let secs = |v: f64, what: &str| -> anyhow::Result<Duration> {
            if v.is_finite() && v > 0.0 && v < 1e9 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(anyhow::anyhow!(
                    "limits.{what}: must be a positive number of seconds"
                ))
            }
        };
        let max_upload = size(&l.max_upload, "max_upload")?;
        if max_upload == 0 {
            anyhow::bail!("limits.max_upload: must be at least 1 byte");
        }
        let memory_buffer = usize::try_from(size(&l.memory_buffer, "memory_buffer")?)
            .ok()
            .filter(|&b| b <= 64 << 20)
            .ok_or_else(|| anyhow::anyhow!("limits.memory_buffer: at most 64M"))?;
        let max_filesize = size(&l.max_filesize, "max_filesize")?;
        let max_scansize = size(&l.max_scansize, "max_scansize")?;
        if !(1..=MAX_REQUESTS_CAP).contains(&l.max_requests) {
            anyhow::bail!("limits.max_requests: between 1 and {MAX_REQUESTS_CAP}");
        }
        if l.max_files == 0 {
            anyhow::bail!("limits.max_files: at least 1");
        }
        let workers = match l.workers {
            Some(0) => anyhow::bail!("limits.workers: at least 1"),
            Some(n) if n > 1024 => anyhow::bail!("limits.workers: at most 1024"),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let containers = l.containers.then(|| takedown_formats::Limits {
            max_depth: l.max_depth,
            max_entries: l.max_entries,
            max_expanded: max_scansize,
            max_member_size: max_filesize,
            max_ratio: l.max_ratio,
            passwords: Vec::new(),
        });
        let scan = ScanOptions {
            max_filesize,
            yara_timeout: secs(l.yara_timeout, "yara_timeout")?,
            containers,
            time_limit: secs(l.time_limit, "time_limit")?,
            limits_as_detections: false,
            heuristics: l.heuristics.then_some(takedown_engine::scan::Heuristics {
                max_packers: l.max_packers,
            }),
        };
        for t in self.auth.tokens.iter().chain(&self.auth.admin_tokens) {
            if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                anyhow::bail!(
                    "auth: every token must be at least 16 printable ASCII characters without spaces"
                );
            }
        }
        let exposed = http.iter().chain(&clamd_tcp).any(|a| !a.ip().is_loopback());
        let has_tokens = !self.auth.tokens.is_empty() || !self.auth.admin_tokens.is_empty();
        // TAXII tokens of its own also close an exposed listener: without
        // `auth` tokens nobody can then scan, and TAXII needs its tokens.
        if !http.iter().all(|a| a.ip().is_loopback()) && !has_tokens && !self.taxii.has_tokens() {
            anyhow::bail!(
                "HTTP listens beyond loopback ({}): configure auth.tokens (or --token-file) so that not anyone who can reach it can use it",
                list(&http)
            );
        }
        if clamd_tcp.iter().any(|a| !a.ip().is_loopback()) {
            // The clamd protocol has no authentication at all; on the open
            // network it is an anonymous scanning (and reload) service.
            tracing::warn!(
                "the clamd protocol has no authentication and listens beyond loopback ({}); restrict access with a firewall",
                list(&clamd_tcp)
            );
        }
        Ok(Settings {
            http,
            clamd_tcp,
            clamd_unix: self.listen.clamd_unix.clone(),
            load: LoadOptions {
                paths: self.signatures.paths.clone(),
                builtin: self.signatures.builtin,
                strict: self.signatures.strict,
                cache_dir: self
                    .signatures
                    .cache
                    .then(|| self.signatures.cache_dir.clone())
                    .flatten(),
                // Uploads of the same content (one attachment sent to many
                // mailboxes) reuse content-only YARA results.
                rescan_copies: false,
            },
            scan,
            max_upload,
            memory_buffer,
            spool_dir: l.spool_dir.clone().unwrap_or_else(std::env::temp_dir),
            max_requests: l.max_requests,
            max_files: l.max_files,
            workers,
            request_timeout: secs(l.request_timeout, "request_timeout")?,
            idle_timeout: secs(l.idle_timeout, "idle_timeout")?,
            shutdown_grace: secs(l.shutdown_grace, "shutdown_grace")?,
            tokens: self.auth.tokens.clone(),
            admin_tokens: self.auth.admin_tokens.clone(),
            tokens_required: self.auth.required || exposed || has_tokens,
            clamd: self.clamd.clone(),
            taxii: self.taxii.validate(
                &self
                    .auth
                    .tokens
                    .iter()
                    .chain(&self.auth.admin_tokens)
                    .cloned()
                    .collect::<Vec<_>>(),
            )?,
            selfcheck: self.selfcheck.validate()?,
            lang_dir: self.web.lang_dir.clone(),
        })
    }
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_local_default() {
        let s = Config::parse("", "x").unwrap().validate().unwrap();
        assert_eq!(s.http, vec![DEFAULT_HTTP.parse().unwrap()]);
        assert_eq!(s.clamd_tcp, vec![DEFAULT_CLAMD.parse().unwrap()]);
        assert!(s.load.builtin);
        assert!(!s.tokens_required);
        assert!(!s.clamd.allow_path_scan && !s.clamd.allow_shutdown);
        assert_eq!(s.max_upload, 100 << 20);
    }

    #[test]
    fn full_config_parses() {
        let text = r#"
            [listen]
            http = ["0.0.0.0:8080"]
            clamd_tcp = []
            clamd_unix = "/run/takedown/clamd.sock"
            [signatures]
            paths = ["/var/lib/takedown/signatures"]
            builtin = false
            strict = true
            [limits]
            max_upload = "20M"
            max_requests = 64
            workers = 2
            [auth]
            tokens = ["0123456789abcdef0123"]
            [clamd]
            allow_path_scan = true
        "#;
        let s = Config::parse(text, "t").unwrap().validate().unwrap();
        assert_eq!(s.max_upload, 20 << 20);
        assert_eq!(s.workers, 2);
        assert!(s.tokens_required);
        assert!(s.clamd.allow_path_scan);
        assert!(!s.load.builtin && s.load.strict);
        assert_eq!(
            s.clamd_unix.as_deref(),
            Some(std::path::Path::new("/run/takedown/clamd.sock"))
        );
    }

    #[test]
    fn shipped_example_config_is_valid() {
        let text = include_str!("../../../dist/serve.toml");
        let s = Config::parse(text, "dist/serve.toml")
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(s.http, vec![DEFAULT_HTTP.parse().unwrap()]);
        assert!(s.clamd_unix.is_some());
    }

    #[test]
    fn heuristics_are_off_by_default_and_configurable() {
        let s = Config::parse("", "x").unwrap().validate().unwrap();
        assert_eq!(s.scan.heuristics, None);
        let text = "[limits]\nheuristics = true\nmax_packers = 5\n";
        let s = Config::parse(text, "x").unwrap().validate().unwrap();
        assert_eq!(
            s.scan.heuristics,
            Some(takedown_engine::scan::Heuristics { max_packers: 5 })
        );
        let text = "[limits]\nheuristics = true\n";
        let s = Config::parse(text, "x").unwrap().validate().unwrap();
        assert_eq!(s.scan.heuristics, Some(Default::default()));
    }

    #[test]
    fn selfcheck_is_off_by_default_and_validated() {
        let s = Config::parse("", "x").unwrap().validate().unwrap();
        assert!(s.selfcheck.is_none() && s.lang_dir.is_none());
        let text = r#"
            [selfcheck]
            reports = ["/var/lib/takedown/reports/event4_sinkhole.csv"]
            trusted_proxies = ["127.0.0.1/32", "::1"]
            forwarded_header = "Forwarded"
            rate = "30/h"
            [web]
            lang_dir = "/etc/takedown/i18n"
        "#;
        let s = Config::parse(text, "t").unwrap().validate().unwrap();
        let sc = s.selfcheck.unwrap();
        assert_eq!(sc.trusted_proxies.len(), 2);
        assert_eq!(sc.header, crate::selfcheck::ForwardedHeader::Forwarded);
        assert_eq!(sc.rate.capacity, 30);
        assert!(s.lang_dir.is_some());
        let err = |t: &str| Config::parse(t, "c.toml").and_then(|c| c.validate().map(|_| ()));
        let e = err("[selfcheck]\ntrusted_proxies = [\"10.0.0.0/40\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("selfcheck.trusted_proxies"), "{e}");
        let e = err("[selfcheck]\nrate = \"ten\"").unwrap_err().to_string();
        assert!(e.contains("selfcheck.rate"), "{e}");
        let e = err("[selfcheck]\nforwarded_header = \"x-real-ip\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x-real-ip"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = |t: &str| Config::parse(t, "c.toml").and_then(|c| c.validate().map(|_| ()));
        let e = err("[limits]\nmax_upload = \"12Q\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("limits.max_upload"), "{e}");
        let e = err("[listen]\nhttp = [\"nowhere\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen.http") && e.contains("nowhere"), "{e}");
        let e = err("[limits]\nmax_uplod = \"1M\"").unwrap_err().to_string();
        assert!(e.contains("c.toml") && e.contains("max_uplod"), "{e}");
        let e = err("[listen]\nhttp = [\"0.0.0.0:80\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.tokens"), "{e}");
        let e = err("[auth]\ntokens = [\"short\"]").unwrap_err().to_string();
        assert!(e.contains("16"), "{e}");
        let e = err("[listen]\nhttp = []\nclamd_tcp = []")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nothing to listen on"), "{e}");
        assert!(err("[limits]\nrequest_timeout = -1").is_err());
        assert!(err("[limits]\nmax_requests = 0").is_err());
    }
}
