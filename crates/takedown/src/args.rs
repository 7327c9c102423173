//! Flags, in two stages (as ripgrep does): clap parses raw flags, then
//! [`ScanArgs::into_config`] validates them into the engine's options.
//! Nothing downstream reads raw flags.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use takedown_engine::run::{RunOptions, Target};
use takedown_engine::scan::{Heuristics, ScanOptions};
use takedown_engine::sigs::LoadOptions;

/// Detect and remove the malware left behind after a botnet takedown.
#[derive(Parser, Debug)]
#[command(name = "takedown", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug; or TAKEDOWN_LOG).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
// Parsed once per run: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan files and directories: detection only, unless --action asks
    /// to quarantine or delete.
    ///
    /// Exit status: 0 nothing found, 1 something found, 2 an error and
    /// nothing found, 130 interrupted.
    Scan(Box<ScanArgs>),
    /// Look into the quarantine vault, restore, export or delete items.
    #[command(subcommand_required = true)]
    Quarantine(QuarantineArgs),
    /// Serve scans over HTTP (API and web page) and the clamd protocol.
    ///
    /// With no configuration: the built-in pack, HTTP on 127.0.0.1:8080 and
    /// the clamd protocol on 127.0.0.1:3310. Flags override the --config
    /// file. SIGHUP reloads the signatures; SIGTERM stops gracefully.
    Serve(crate::serve::ServeArgs),
    /// Work with signature files without scanning: check what loads,
    /// make and verify signed bundles.
    #[command(subcommand_required = true)]
    Sigs(SigsArgs),
    /// Install the newest signed signature bundle from a URL or directory,
    /// or roll back to the previous one.
    ///
    /// Exit status: 0 installed, rolled back or already up to date, 1 the
    /// bundle was refused (the installed set is unchanged), 2 an error.
    Update(crate::update::UpdateArgs),
    /// Exchange with partners: export findings as STIX 2.1, MISP or HTML;
    /// pull from and push to TAXII 2.1 servers.
    #[command(subcommand_required = true)]
    Intel(crate::intel::IntelArgs),
    /// Preserve evidence before cleanup: cases (BagIt bags) with a signed,
    /// hash-chained custody log and RFC 3161 timestamps; verify and seal
    /// them.
    #[command(subcommand_required = true)]
    Evidence(crate::evidence::EvidenceArgs),
    /// Domain generation algorithms of the takedown's families: list them,
    /// generate their domains for a date window, find which family, seed
    /// and date generate a domain.
    #[command(subcommand_required = true)]
    Dga(crate::dga::DgaArgs),
    /// Turn network indicators and DGA windows into the blocklist a
    /// resolver or sensor loads: RPZ, Unbound, dnsmasq, hosts, Suricata,
    /// Zeek Intel.
    Blocklist(crate::blocklist::BlocklistArgs),
    /// Hunt DNS, proxy and flow logs and packet captures for clients
    /// using the indicators' names, addresses and URLs or DGA names;
    /// report sightings per client, fast flux and DGA-looking names.
    Hunt(Box<crate::hunt::HuntArgs>),
    /// Turn sinkhole reports (Shadowserver, IntelMQ, hunt sightings) into
    /// notices to the abuse contacts of the infected machines' networks,
    /// delivered to an outbox or over SMTP exactly once;
    /// `notify status` shows the journal.
    Notify(Box<crate::notify::NotifyArgs>),
    /// List every autostart entry (Run keys, services, scheduled tasks,
    /// Startup folders of a mounted Windows volume; cron, systemd,
    /// init scripts, start-up files of a Linux root) with the program it
    /// starts and that program's digests.
    ///
    /// Exit status: 0 listed, 2 an error (something could not be read:
    /// the rest is still listed).
    Persistence(crate::persistence::PersistenceArgs),
    /// Run the fleet hunts addressed to this machine (over NATS
    /// JetStream): only bundles signed by a trusted key, every finding
    /// and a completion record published before a hunt is acknowledged.
    Agent(Box<crate::agent::AgentArgs>),
    /// Hunt across a fleet of agents: issue a hunt, follow which hosts
    /// are done, read every host's findings.
    #[command(subcommand_required = true)]
    Fleet(crate::fleet::FleetArgs),
}

/// `takedown sigs`.
#[derive(clap::Args, Debug)]
pub struct SigsArgs {
    #[command(subcommand)]
    pub command: SigsCommand,
}

/// `takedown sigs ...`.
#[derive(Subcommand, Debug)]
pub enum SigsCommand {
    /// Create an Ed25519 key pair for signing bundles.
    Keygen(crate::bundle::KeygenArgs),
    /// Pack a signature directory into one versioned, signed bundle.
    Bundle(crate::bundle::BundleArgs),
    /// Check a bundle: format, signature, every file.
    ///
    /// Exit status: 0 valid and trusted, 1 refused (the reason is printed),
    /// 2 it could not be read.
    Verify(crate::bundle::VerifyArgs),
    /// Load signature files exactly as `takedown scan -s PATH` would and
    /// say, per file, what loads and what is skipped and why (file, line,
    /// rule, reason), then the totals. Nothing is scanned.
    ///
    /// Exit status: 0 everything loaded, 1 something was skipped (2 with
    /// --strict, as `scan --strict` would refuse to start), 2 an error (a
    /// PATH cannot be read, or no signature loaded at all).
    Check(SigsCheckArgs),
}

/// `takedown sigs check`.
#[derive(clap::Args, Debug)]
pub struct SigsCheckArgs {
    /// Signature files and directories, as given to `scan -s`.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Anything skipped is an error (exit 2), as with `scan --strict`.
    #[arg(long)]
    pub strict: bool,

    /// Where to cache compiled YARA rules [default: $XDG_CACHE_HOME/takedown
    /// or ~/.cache/takedown]; a check fills the cache a scan then uses.
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Do not read or write the compiled-rules cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// Format of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Text,
    /// One JSON document.
    Json,
}

/// What to do with a detected file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Action {
    /// Only report (the default).
    Report,
    /// Move into the vault, restorable (`takedown quarantine restore`).
    Quarantine,
    /// Delete for good (needs --yes, or a confirmation per file).
    Delete,
}

/// `takedown quarantine`.
#[derive(clap::Args, Debug)]
pub struct QuarantineArgs {
    /// The vault [default: /var/lib/takedown/quarantine for root, else
    /// $XDG_DATA_HOME/takedown/quarantine or ~/.local/share/takedown/quarantine].
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_VAULT", global = true)]
    pub vault: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
    #[command(subcommand)]
    pub command: QuarantineCommand,
}

/// `takedown quarantine ...`.
#[derive(Subcommand, Debug)]
pub enum QuarantineCommand {
    /// List the items in the vault, oldest first.
    List,
    /// Show everything the vault keeps about an item.
    Show {
        /// The item's ID (from `list`).
        id: String,
    },
    /// Put an item back: content, mode, owner (as root) and times, after
    /// checking its SHA-256. Never overwrites unless asked. Then every
    /// item that goes with it (the autostart entries disabled with a
    /// program), each to its own path.
    Restore {
        /// The item's ID.
        id: String,
        /// Restore here instead of the original path (this item only).
        #[arg(long, value_name = "PATH")]
        to: Option<PathBuf>,
        /// Replace a file that exists at the target, or a file whose
        /// content takedown replaced and someone changed since (this item
        /// only).
        #[arg(long)]
        overwrite: bool,
        /// Restore this item only, not the items that go with it.
        #[arg(long)]
        only: bool,
    },
    /// Delete an item from the vault for good.
    Delete {
        /// The item's ID.
        id: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Write an item as a zip with the password `infected`, the convention
    /// for sharing samples with analysts (with a JSON of its metadata).
    Export {
        /// The item's ID.
        id: String,
        /// The zip file to create (never overwritten).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// AES-256 instead of ZipCrypto (which every unzip opens).
        #[arg(long)]
        aes: bool,
    },
    /// What acting runs (and vault commands) did: with no RUN, the list of
    /// runs; with one, its log.
    Log {
        /// A run ID (from the list).
        run: Option<String>,
    },
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per detection, problems on stderr, a summary.
    Text,
    /// NDJSON: one finding per line, a summary line last.
    Json,
}

/// Output format of a scan: the two above, or a document for partners
/// written at the end of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// One line per detection, problems on stderr, a summary.
    Text,
    /// NDJSON: one finding per line, a summary line last.
    Json,
    /// A STIX 2.1 bundle (files, indicators, sightings, a report).
    Stix,
    /// One MISP event with a `file` object per detected file.
    Misp,
    /// A self-contained HTML report.
    Html,
}

/// When to colour text output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Where signatures come from; shared by `scan` and `serve`.
#[derive(clap::Args, Debug, Default)]
pub struct SigArgs {
    /// Signature file or directory (read recursively): YARA (.yar, .yara),
    /// ClamAV .hdb/.hsb, .fp/.sfp allow-lists, Loki IOC files (*hash*,
    /// *filename*, *falsepositive*hash*). Repeatable.
    #[arg(short = 's', long = "signatures", value_name = "PATH")]
    pub signatures: Vec<PathBuf>,

    /// Leave out the built-in pack (EICAR and ClamAV test files).
    #[arg(long)]
    pub no_builtin: bool,

    /// Any signature file or line that fails to load is fatal.
    #[arg(long)]
    pub strict: bool,

    /// Where to cache compiled YARA rules [default: $XDG_CACHE_HOME/takedown
    /// or ~/.cache/takedown].
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Do not read or write the compiled-rules cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Do not load the installed signature set (`takedown update`). It is
    /// loaded by default when no --signatures are given.
    #[arg(long)]
    pub no_installed: bool,

    /// Where `takedown update` installs signature sets [default:
    /// /var/lib/takedown/signatures for root, else
    /// $XDG_DATA_HOME/takedown/signatures or ~/.local/share/takedown/signatures].
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_SIGS_DIR")]
    pub sigs_dir: Option<PathBuf>,
}

/// `takedown scan`.
#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Files and directories to scan; `-` reads standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub sigs: SigArgs,

    /// Scanning threads [default: number of cores].
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Skip paths matching GLOB (full path or file name); directories are
    /// pruned before descent. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Also descend into /proc, /sys, /dev and /run (excluded by default).
    #[arg(long)]
    pub no_default_excludes: bool,

    /// Do not cross into other file systems below each PATH.
    #[arg(long)]
    pub one_file_system: bool,

    /// Follow symbolic links (loops are detected and reported).
    #[arg(short = 'L', long)]
    pub follow_symlinks: bool,

    /// Skip (and report) files larger than SIZE (K, M, G suffixes; 0: no
    /// limit, as in clamscan).
    #[arg(long, value_name = "SIZE", default_value = "256M")]
    pub max_filesize: String,

    /// Time budget of the YARA scan of one file, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub timeout: f64,

    /// Run every YARA rule on every copy of the same content. By default,
    /// when every file's SHA-256 is computed anyway (hash IOCs without
    /// sizes), a copy of content already scanned in this run reruns only
    /// the rules that read its path or the time, and takes the results of
    /// the others from the first copy.
    #[arg(long)]
    pub rescan_copies: bool,

    /// Scan files only as they are: do not look inside archives, compressed
    /// streams, mail or documents.
    #[arg(long, help_heading = "Containers")]
    pub no_containers: bool,

    /// Containers nested deeper than N are not opened (the file itself is
    /// depth 0).
    #[arg(long, value_name = "N", default_value_t = takedown_formats::DEFAULT_MAX_DEPTH, help_heading = "Containers")]
    pub max_depth: u32,

    /// At most N entries are unpacked from one container.
    #[arg(long, value_name = "N", default_value_t = takedown_formats::DEFAULT_MAX_ENTRIES, help_heading = "Containers")]
    pub max_entries: u64,

    /// At most SIZE bytes are expanded from one file, all levels together
    /// (K, M, G suffixes). Members larger than --max-filesize are cut at
    /// that size.
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "400M",
        help_heading = "Containers"
    )]
    pub max_scansize: String,

    /// A member that expands more than N times its packed size is cut
    /// (checked once it passes 16 MiB); 0 turns the check off.
    #[arg(long, value_name = "N", default_value_t = takedown_formats::DEFAULT_MAX_RATIO, help_heading = "Containers")]
    pub max_ratio: u64,

    /// Time budget of one file and everything inside it, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 120.0,
        help_heading = "Containers"
    )]
    pub time_limit: f64,

    /// Report every limit reached as a detection too
    /// (Heuristics.Limits.Exceeded.*), so that a file too deep or too big to
    /// look into is not silently passed.
    #[arg(long, help_heading = "Containers")]
    pub limits_as_detections: bool,

    /// Report structural oddities as heuristic detections: zip members that
    /// overlap (Heuristics.Zip.OverlappingFiles, the trick of zip bombs), a
    /// PE whose sections run past its end (Heuristics.Broken.Executable),
    /// executable packers nested more than --max-packers deep
    /// (Heuristics.Packer.Nested). See docs/heuristics.md.
    #[arg(long, help_heading = "Heuristics")]
    pub heuristics: bool,

    /// With --heuristics: executable packers allowed in a row (a packer
    /// whose unpacked image is packed again); the next one is reported.
    #[arg(
        long,
        value_name = "N",
        default_value_t = takedown_formats::heuristics::DEFAULT_MAX_PACKERS,
        requires = "heuristics",
        help_heading = "Heuristics"
    )]
    pub max_packers: u32,

    /// A password to try on encrypted archive members. Repeatable; tried in
    /// order. None by default.
    #[arg(long, value_name = "PASSWORD", help_heading = "Containers")]
    pub archive_password: Vec<String>,

    /// Passwords to try, one per line (keeps them off the command line).
    #[arg(long, value_name = "FILE", help_heading = "Containers")]
    pub archive_password_file: Option<PathBuf>,

    /// Also scan the paths listed in FILE, one per line (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub file_list: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    pub format: ScanFormat,

    #[command(flatten)]
    pub export: crate::intel::ExportOptions,

    /// Colour for text output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// No progress bar (there is none anyway when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,

    /// No summary at the end.
    #[arg(long)]
    pub no_summary: bool,

    /// What to do with a detected file: report (default), quarantine (into
    /// the vault, restorable) or delete. A detection inside a container
    /// acts on the outer file.
    #[arg(long, value_enum, default_value_t = Action::Report, help_heading = "Removal")]
    pub action: Action,

    /// Act only on files with a detection scoring at least N (0-100).
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Removal")]
    pub min_score: u32,

    /// Delete without asking (--action delete).
    #[arg(long, help_heading = "Removal")]
    pub yes: bool,

    /// The quarantine vault [default: /var/lib/takedown/quarantine for root,
    /// else $XDG_DATA_HOME/takedown/quarantine or
    /// ~/.local/share/takedown/quarantine].
    #[arg(
        long,
        value_name = "DIR",
        env = "TAKEDOWN_VAULT",
        help_heading = "Removal"
    )]
    pub vault: Option<PathBuf>,

    /// Preserve every detected file into this evidence case (made with
    /// `takedown evidence init`) before any --action touches it; a file
    /// that could not be preserved is left in place.
    #[arg(long, value_name = "CASE_DIR", help_heading = "Evidence")]
    pub evidence: Option<PathBuf>,

    /// The examiner's key that signs the custody entries (--evidence)
    /// [default: $XDG_CONFIG_HOME/takedown/examiner_ed25519].
    #[arg(
        long,
        value_name = "KEY",
        env = "TAKEDOWN_EXAMINER_KEY",
        help_heading = "Evidence",
        requires = "evidence"
    )]
    pub key: Option<PathBuf>,

    /// Also scan the program (and script) of every autostart entry under
    /// --root; a detected program names the entries that start it, and
    /// --action quarantine disables those entries too, restorably.
    #[arg(long, help_heading = "Autostarts and processes")]
    pub persistence: bool,

    /// The system whose autostarts --persistence reads: a mounted Windows
    /// volume (found by its Windows/System32/config) or a Linux root.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/",
        requires = "persistence",
        help_heading = "Autostarts and processes"
    )]
    pub root: PathBuf,

    /// Scan the memory and the executable of every process (Linux; other
    /// users' processes need root or CAP_SYS_PTRACE).
    #[arg(long, help_heading = "Autostarts and processes")]
    pub processes: bool,

    /// Scan the memory and the executable of this process (repeatable).
    #[arg(long, value_name = "PID", help_heading = "Autostarts and processes")]
    pub pid: Vec<u32>,

    /// Memory read per process at most; the rest of a larger process is
    /// reported as not scanned.
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "2G",
        help_heading = "Autostarts and processes"
    )]
    pub process_budget: String,
}

/// Which processes `scan --processes|--pid` examines.
#[derive(Clone, Debug)]
#[cfg_attr(
    not(unix),
    expect(dead_code, reason = "process scans are refused off Unix (into_config)")
)]
pub struct ProcessSelection {
    /// Every process (`--processes`); else only `pids`.
    pub all: bool,
    /// `--pid`s.
    pub pids: Vec<u32>,
    /// Bytes of memory read per process at most.
    pub budget: u64,
}

/// Validated configuration of a scan.
#[derive(Debug)]
pub struct ScanConfig {
    pub load: LoadOptions,
    pub run: RunOptions,
    pub targets: Vec<Target>,
    pub file_list: Option<PathBuf>,
    pub format: Format,
    /// Write this document at the end instead of text or NDJSON.
    pub export: Option<(crate::intel::ExportFormat, crate::intel::ExportOptions)>,
    pub color: bool,
    pub progress: bool,
    pub summary: bool,
    pub action: Action,
    pub min_score: u32,
    /// Delete without a confirmation per file.
    pub yes: bool,
    pub vault: Option<PathBuf>,
    /// The evidence case and the examiner's key.
    pub evidence: Option<(PathBuf, Option<PathBuf>)>,
    /// `--persistence`: the root whose autostarts are scanned.
    pub persistence: Option<PathBuf>,
    /// `--processes`, `--pid`.
    #[cfg_attr(
        not(unix),
        expect(dead_code, reason = "process scans are refused off Unix (into_config)")
    )]
    pub processes: Option<ProcessSelection>,
}

impl ScanArgs {
    /// Validates the flags.
    pub fn into_config(self) -> anyhow::Result<ScanConfig> {
        let processes = if self.processes || !self.pid.is_empty() {
            if cfg!(not(unix)) {
                anyhow::bail!(
                    "--processes and --pid: scanning processes is not available on Windows yet"
                );
            }
            if self.pid.contains(&0) {
                anyhow::bail!("--pid 0 is not a process");
            }
            let budget = takedown_engine::size::parse(&self.process_budget)
                .map_err(|e| anyhow::anyhow!("--process-budget: {e}"))?;
            if budget == 0 {
                anyhow::bail!("--process-budget must be more than 0");
            }
            Some(ProcessSelection {
                all: self.processes,
                pids: self.pid.clone(),
                budget,
            })
        } else {
            None
        };
        if self.paths.is_empty()
            && self.file_list.is_none()
            && !self.persistence
            && processes.is_none()
        {
            anyhow::bail!(
                "nothing to scan: give one or more PATHs, `-` for standard input, --file-list, --persistence or --processes"
            );
        }
        let stdin_uses = self.paths.iter().filter(|p| p.as_os_str() == "-").count()
            + usize::from(
                self.file_list
                    .as_deref()
                    .is_some_and(|f| f.as_os_str() == "-"),
            );
        if stdin_uses > 1 {
            anyhow::bail!(
                "standard input can be used once: as `-` or as `--file-list -`, not both"
            );
        }
        let max_filesize = match takedown_engine::size::parse(&self.max_filesize)
            .map_err(|e| anyhow::anyhow!("--max-filesize: {e}"))?
        {
            // 0 is "no limit" in clamscan, whose flags users bring along.
            // 2^60 bytes (1 EiB) is that, and leaves room for the
            // arithmetic done on limits.
            0 => 1 << 60,
            n => n,
        };
        if !(self.timeout.is_finite() && self.timeout >= 1.0) {
            // yara-x checks its timeout once a second: a shorter one would
            // silently be a second anyway.
            anyhow::bail!(
                "--timeout must be at least 1 second (YARA timeouts are counted in whole seconds)"
            );
        }
        if !(self.time_limit.is_finite() && self.time_limit > 0.0) {
            anyhow::bail!("--time-limit must be a positive number of seconds");
        }
        let max_scansize = takedown_engine::size::parse(&self.max_scansize)
            .map_err(|e| anyhow::anyhow!("--max-scansize: {e}"))?;
        let mut passwords: Vec<Vec<u8>> = self
            .archive_password
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        if let Some(file) = &self.archive_password_file {
            let text = std::fs::read(file)
                .map_err(|e| anyhow::anyhow!("--archive-password-file {}: {e}", file.display()))?;
            passwords.extend(
                text.split(|&b| b == b'\n')
                    .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
        let containers = (!self.no_containers).then_some(takedown_formats::Limits {
            max_depth: self.max_depth,
            max_entries: self.max_entries,
            max_expanded: max_scansize,
            max_member_size: max_filesize,
            max_ratio: self.max_ratio,
            passwords,
        });
        if self.action == Action::Delete && !self.yes && !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "--action delete needs --yes when there is no terminal to confirm each file on"
            );
        }
        if self.action == Action::Report && (self.yes || self.min_score > 0) {
            anyhow::bail!("--yes and --min-score apply to --action quarantine or delete");
        }
        let threads = match self.threads {
            Some(0) => anyhow::bail!("--threads must be at least 1"),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let cache_dir = if self.sigs.no_cache {
            None
        } else {
            self.sigs.cache_dir.or_else(default_cache_dir)
        };
        let targets = self
            .paths
            .into_iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    Target::Stdin
                } else {
                    Target::Path(p)
                }
            })
            .collect();
        let color = match self.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        let mut paths = self.sigs.signatures;
        if paths.is_empty() && !self.sigs.no_installed {
            paths.extend(crate::update::installed_for_scan(self.sigs.sigs_dir)?);
        }
        Ok(ScanConfig {
            load: LoadOptions {
                paths,
                builtin: !self.sigs.no_builtin,
                strict: self.sigs.strict,
                cache_dir,
                rescan_copies: self.rescan_copies,
            },
            run: RunOptions {
                threads,
                excludes: self.exclude,
                default_excludes: !self.no_default_excludes,
                one_file_system: self.one_file_system,
                follow_symlinks: self.follow_symlinks,
                scan: ScanOptions {
                    max_filesize,
                    yara_timeout: std::time::Duration::from_secs_f64(self.timeout),
                    containers,
                    time_limit: std::time::Duration::from_secs_f64(self.time_limit),
                    limits_as_detections: self.limits_as_detections,
                    heuristics: self.heuristics.then_some(Heuristics {
                        max_packers: self.max_packers,
                    }),
                },
            },
            targets,
            file_list: self.file_list,
            format: match self.format {
                ScanFormat::Text => Format::Text,
                _ => Format::Json,
            },
            export: match self.format {
                ScanFormat::Text | ScanFormat::Json => None,
                ScanFormat::Stix => Some((crate::intel::ExportFormat::Stix, self.export)),
                ScanFormat::Misp => Some((crate::intel::ExportFormat::Misp, self.export)),
                ScanFormat::Html => Some((crate::intel::ExportFormat::Html, self.export)),
            },
            color,
            // A confirmation prompt and a progress bar would fight over
            // the terminal.
            progress: !self.no_progress
                && std::io::stderr().is_terminal()
                && (self.action != Action::Delete || self.yes),
            summary: !self.no_summary,
            action: self.action,
            min_score: self.min_score,
            yes: self.yes,
            vault: self.vault,
            evidence: self.evidence.map(|case| (case, self.key)),
            persistence: self.persistence.then_some(self.root),
            processes,
        })
    }
}

pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("takedown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<ScanConfig> {
        let cli = Cli::try_parse_from(std::iter::once("takedown").chain(args.iter().copied()))?;
        match cli.command {
            Command::Scan(a) => a.into_config(),
            _ => anyhow::bail!("not a scan"),
        }
    }

    #[test]
    fn validates_flags() {
        assert!(
            parse(&["scan"])
                .unwrap_err()
                .to_string()
                .contains("nothing to scan")
        );
        assert!(parse(&["scan", "-", "--file-list", "-"]).is_err());
        assert!(
            parse(&["scan", "x", "--max-filesize", "12Q"])
                .unwrap_err()
                .to_string()
                .contains("--max-filesize")
        );
        assert!(parse(&["scan", "x", "-j", "0"]).is_err());
        assert!(parse(&["scan", "x", "--timeout", "-1"]).is_err());
        assert!(parse(&["scan", "x", "--timeout", "0.3"]).is_err());
        assert!(parse(&["scan", "x", "--timeout", "1.5"]).is_ok());
        let none = parse(&["scan", "x", "--max-filesize", "0"]).unwrap();
        assert!(none.run.scan.max_filesize >= 1 << 60, "0 is no limit");
        let half = parse(&["scan", "x", "--max-filesize", "1.5M"]).unwrap();
        assert_eq!(half.run.scan.max_filesize, 3 << 19);
        let c = parse(&[
            "scan",
            "x",
            "-",
            "--max-filesize",
            "1M",
            "--no-cache",
            "--no-builtin",
            "-s",
            "r.yar",
        ])
        .unwrap();
        assert_eq!(c.run.scan.max_filesize, 1 << 20);
        assert_eq!(c.targets, vec![Target::Path("x".into()), Target::Stdin]);
        assert!(c.load.cache_dir.is_none());
        assert!(!c.load.builtin);
    }
}
