//! `takedown evidence`: cases with a verifiable chain of custody, and the
//! `scan --evidence` glue.

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use takedown_engine::sanitize::{for_terminal, path_for_terminal};
use takedown_evidence::acquire::Request;
use takedown_evidence::case::{Case, InitOptions};
use takedown_evidence::contents::BagContents;
use takedown_evidence::keys::{self, Signer};
use takedown_evidence::{ItemKind, Severity, seq_name};

/// `takedown evidence`.
#[derive(Args, Debug)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    pub command: EvidenceCommand,
}

/// The examiner's key, shared by the commands that sign.
#[derive(Args, Debug, Clone)]
pub struct KeyArg {
    /// The examiner's Ed25519 key (OpenSSH format) that signs custody
    /// entries [default: $XDG_CONFIG_HOME/takedown/examiner_ed25519].
    #[arg(long, value_name = "KEY", env = "TAKEDOWN_EXAMINER_KEY")]
    pub key: Option<PathBuf>,
}

/// Output formats of `log` and `verify`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// For people.
    Text,
    /// One JSON document.
    Json,
}

/// What an added file is, when it should not be recognised by content.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    File,
    Findings,
    Log,
    Export,
}

/// `takedown evidence ...`.
#[derive(Subcommand, Debug)]
pub enum EvidenceCommand {
    /// Create a case directory (a BagIt bag) and sign its first custody
    /// entry; the examiner's key is generated if missing.
    Init {
        /// The case directory to create (must not exist, or be empty).
        case_dir: PathBuf,
        /// The case identifier (as the police or the CERT know the case).
        #[arg(long)]
        case_id: String,
        /// The examiner's name.
        #[arg(long)]
        examiner: String,
        /// The examiner's organisation.
        #[arg(long)]
        organisation: Option<String>,
        /// What the case is about.
        #[arg(long)]
        description: Option<String>,
        /// Timestamp every entry with this RFC 3161 time-stamping
        /// authority (needs --tsa-ca).
        #[arg(long, value_name = "URL", requires = "tsa_ca")]
        tsa: Option<String>,
        /// The TSA's CA certificate (PEM), kept in the case.
        #[arg(long, value_name = "FILE", requires = "tsa")]
        tsa_ca: Option<PathBuf>,
        /// Why the case is opened.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        key: KeyArg,
    },
    /// Preserve files, directories (recursively, links kept as links),
    /// vault items, findings, logs or exports into the case.
    ///
    /// Exit status: 0 everything preserved, 1 some of it could not be,
    /// 2 an error.
    Add {
        /// The case directory.
        case_dir: PathBuf,
        /// Files and directories to preserve.
        paths: Vec<PathBuf>,
        /// Also preserve this quarantined item (repeatable).
        #[arg(long = "from-vault", value_name = "ID")]
        from_vault: Vec<String>,
        /// The vault of --from-vault [default: the scan's default vault].
        #[arg(long, value_name = "DIR", env = "TAKEDOWN_VAULT")]
        vault: Option<PathBuf>,
        /// What the PATHs are [default: recognised by content].
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// Why they are preserved.
        #[arg(long)]
        reason: Option<String>,
        /// Copying threads [default: the number of cores].
        #[arg(short = 'j', long, value_name = "N")]
        threads: Option<usize>,
        #[command(flatten)]
        key: KeyArg,
    },
    /// Print the custody log.
    Log {
        /// The case directory.
        case_dir: PathBuf,
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
    },
    /// Record a hand-over of the case.
    Transfer {
        /// The case directory.
        case_dir: PathBuf,
        /// Who receives it.
        #[arg(long)]
        to: String,
        /// The recipient's public key (a `.pub` file or the key itself):
        /// from now on only it may sign entries.
        #[arg(long, value_name = "KEY")]
        to_key: Option<String>,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        key: KeyArg,
    },
    /// Check every digest, the bag, the hash chain, every signature and
    /// timestamp of a case directory or a sealed package.
    ///
    /// Exit status: 0 intact, 1 something altered, missing or added, 2 an
    /// error (something could not be checked).
    Verify {
        /// A case directory, or a package written by `seal`/`export`.
        target: PathBuf,
        /// An age identity (or OpenSSH private key) that opens an
        /// encrypted package (repeatable).
        #[arg(short = 'i', long, value_name = "FILE")]
        identity: Vec<PathBuf>,
        /// The examiner's public key as received out of band (a `.pub`
        /// file or the key itself): the log must start with it.
        #[arg(long, value_name = "KEY")]
        expect_key: Option<String>,
        /// Record this verification in the case's custody log (a case
        /// directory; signed with --key).
        #[arg(long)]
        record: bool,
        /// The TSA's CA certificate (PEM) as you received it: timestamps
        /// are then anchored to it, not to the CA file inside the package
        /// (which whoever held the package could have replaced).
        #[arg(long, value_name = "FILE")]
        tsa_ca: Option<PathBuf>,
        /// Recompute MD5 and SHA-1 of every item too. By default every
        /// byte is hashed with SHA-256 and the MD5 and SHA-1 manifests are
        /// checked against the signed acquisition records of the same
        /// bytes, which proves as much at a third of the cost.
        #[arg(long)]
        all_digests: bool,
        /// Hashing threads [default: the number of cores].
        #[arg(short = 'j', long, value_name = "N")]
        threads: Option<usize>,
        #[arg(long, value_enum, default_value_t = OutFormat::Text)]
        format: OutFormat,
        #[command(flatten)]
        key: KeyArg,
    },
    /// Close the case to new items and write it as one archive (tar;
    /// with --recipient, encrypted with age) with a VERIFY.txt.
    Seal(PackageArgs),
    /// Write the case as it stands as one archive, leaving it open.
    Export(PackageArgs),
}

/// What `seal` and `export` take.
#[derive(Args, Debug)]
pub struct PackageArgs {
    /// The case directory.
    case_dir: PathBuf,
    /// The archive to write.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Encrypt to this age recipient (`age1...`) or SSH public key
    /// (repeatable).
    #[arg(long, value_name = "RECIPIENT")]
    recipient: Vec<String>,
    /// Why.
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    key: KeyArg,
}

mod code {
    pub const OK: u8 = 0;
    pub const ALTERED: u8 = 1;
    pub const ERROR: u8 = 2;
}

fn key_path(k: &KeyArg) -> anyhow::Result<PathBuf> {
    k.key.clone().or_else(keys::default_key_path).context(
        "no examiner key: give --key (or TAKEDOWN_EXAMINER_KEY); there is no home directory for the default",
    )
}

fn load_signer(k: &KeyArg) -> anyhow::Result<Signer> {
    let path = key_path(k)?;
    Signer::load(&path).with_context(|| {
        format!(
            "cannot use the examiner key {} (`takedown evidence init` makes one)",
            path.display()
        )
    })
}

fn open(dir: &Path) -> anyhow::Result<Case> {
    let case =
        Case::open(dir).with_context(|| format!("cannot open the case {}", dir.display()))?;
    for note in case.recovered() {
        eprintln!("takedown: recovered: {}", for_terminal(note));
    }
    Ok(case)
}

fn threads(n: Option<usize>) -> usize {
    n.filter(|&n| n > 0).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    })
}

/// A public key given as a file or as the key itself.
fn public_key_arg(s: &str) -> anyhow::Result<String> {
    let text = if s.starts_with("ssh-") {
        s.to_string()
    } else {
        std::fs::read_to_string(s).with_context(|| format!("cannot read the public key {s}"))?
    };
    let key = text.trim().to_string();
    keys::fingerprint_of(&key).map_err(|e| anyhow::anyhow!("{s}: {e}"))?;
    Ok(key)
}

fn stamp_warning(e: &Option<String>) {
    if let Some(e) = e {
        eprintln!(
            "takedown: warning: no timestamp for this entry: {}",
            for_terminal(e)
        );
    }
}

/// Opens the case of `scan --evidence` (and its key) before the scan
/// starts, so that a wrong case or key stops the scan before anything is
/// touched.
pub fn open_for_scan(case: &Path, key: Option<&Path>) -> anyhow::Result<crate::act::Evidence> {
    let signer = load_signer(&KeyArg {
        key: key.map(Path::to_path_buf),
    })?;
    let case = open(case)?;
    if case.settings().sealed {
        bail!(
            "the case {} is sealed; --evidence needs an open case",
            case.dir().display()
        );
    }
    Ok(crate::act::Evidence {
        case,
        signer,
        threads: threads(None),
    })
}

/// An exclude pattern (a glob) matching exactly the directory `dir`.
pub fn exclude_pattern(dir: &Path) -> String {
    let mut out = String::new();
    for c in dir.to_string_lossy().chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}') {
            out.push('[');
            out.push(c);
            out.push(']');
        } else {
            out.push(c);
        }
    }
    out
}

pub fn run(a: EvidenceArgs) -> anyhow::Result<u8> {
    match a.command {
        EvidenceCommand::Init {
            case_dir,
            case_id,
            examiner,
            organisation,
            description,
            tsa,
            tsa_ca,
            reason,
            key,
        } => {
            let path = key_path(&key)?;
            let (signer, generated) = Signer::load_or_generate(&path)
                .with_context(|| format!("cannot use the examiner key {}", path.display()))?;
            if generated {
                eprintln!(
                    "takedown: generated the examiner key {} ({})",
                    path.display(),
                    signer.fingerprint()
                );
            }
            let opts = InitOptions {
                case_id,
                examiner,
                organisation,
                description,
                tsa: tsa.zip(tsa_ca),
                reason,
            };
            let case = Case::init(&case_dir, &signer, &opts)
                .with_context(|| format!("cannot create the case {}", case_dir.display()))?;
            println!(
                "case {} created in {}; examiner key {}",
                for_terminal(&case.settings().case_id),
                path_for_terminal(&case_dir),
                signer.fingerprint()
            );
            Ok(code::OK)
        }
        EvidenceCommand::Add {
            case_dir,
            paths,
            from_vault,
            vault,
            kind,
            reason,
            threads: n,
            key,
        } => {
            if paths.is_empty() && from_vault.is_empty() {
                bail!("nothing to add: give PATHs or --from-vault ID");
            }
            let signer = load_signer(&key)?;
            let mut case = open(&case_dir)?;
            let kind = kind.map(|k| match k {
                KindArg::File => ItemKind::File,
                KindArg::Findings => ItemKind::Findings,
                KindArg::Log => ItemKind::Log,
                KindArg::Export => ItemKind::Export,
            });
            let mut requests: Vec<Request> = paths
                .iter()
                .map(|p| Request::Path {
                    path: p.clone(),
                    kind,
                })
                .collect();
            if !from_vault.is_empty() {
                let dir = crate::quarantine::vault_dir(vault)?;
                for id in from_vault {
                    requests.push(Request::Vault {
                        vault: dir.clone(),
                        id,
                    });
                }
            }
            let report = case.add(&signer, &requests, reason, threads(n))?;
            for s in &report.acquired.skipped {
                eprintln!(
                    "takedown: not preserved: {}: {}",
                    for_terminal(&s.source),
                    for_terminal(&s.reason)
                );
            }
            for (req, o) in requests.iter().zip(&report.acquired.outcomes) {
                if let Err(e) = o {
                    let what = match req {
                        Request::Path { path, .. } | Request::Scanned { path, .. } => {
                            path.to_string_lossy().into_owned()
                        }
                        Request::Vault { id, .. } => format!("vault item {id}"),
                    };
                    if !report
                        .acquired
                        .skipped
                        .iter()
                        .any(|s| s.source == what && &s.reason == e)
                    {
                        eprintln!(
                            "takedown: not preserved: {}: {}",
                            for_terminal(&what),
                            for_terminal(e)
                        );
                    }
                }
            }
            stamp_warning(&report.stamp_error);
            let bytes: u64 = report.acquired.records.iter().map(|r| r.digests.size).sum();
            match &report.entry {
                Some(e) => println!(
                    "preserved {} item(s), {bytes} bytes, as custody entry {} in {}",
                    report.acquired.records.len(),
                    seq_name(e.seq),
                    path_for_terminal(&case_dir)
                ),
                None => println!("nothing preserved; no custody entry written"),
            }
            let incomplete = !report.acquired.skipped.is_empty()
                || report.acquired.outcomes.iter().any(Result::is_err);
            Ok(if report.entry.is_none() {
                code::ERROR
            } else if incomplete {
                code::ALTERED
            } else {
                code::OK
            })
        }
        EvidenceCommand::Log { case_dir, format } => {
            let case = open(&case_dir)?;
            let log = takedown_evidence::custody::read_log(case.dir())?;
            let mut out = std::io::stdout().lock();
            if format == OutFormat::Json {
                serde_json::to_writer_pretty(&mut out, &log)?;
                writeln!(out)?;
                return Ok(code::OK);
            }
            for e in &log {
                let fp = keys::fingerprint_of(&e.key).unwrap_or_else(|_| "?".into());
                writeln!(
                    out,
                    "{}  {}  {:<8} {} on {} ({}), key {}",
                    seq_name(e.seq),
                    for_terminal(&e.time),
                    e.event.as_str(),
                    for_terminal(&e.actor),
                    for_terminal(&e.host),
                    for_terminal(&e.tool),
                    fp
                )?;
                writeln!(out, "        what: {}", for_terminal(&e.what.to_string()))?;
                if let Some(why) = &e.why {
                    writeln!(out, "        why:  {}", for_terminal(why))?;
                }
            }
            Ok(code::OK)
        }
        EvidenceCommand::Transfer {
            case_dir,
            to,
            to_key,
            reason,
            key,
        } => {
            let signer = load_signer(&key)?;
            let to_key = to_key.as_deref().map(public_key_arg).transpose()?;
            let mut case = open(&case_dir)?;
            let (entry, stamp_error) = case.transfer(&signer, &to, to_key, reason)?;
            stamp_warning(&stamp_error);
            println!(
                "custody entry {}: transferred to {}",
                seq_name(entry.seq),
                for_terminal(&to)
            );
            Ok(code::OK)
        }
        EvidenceCommand::Verify {
            target,
            identity,
            expect_key,
            record,
            tsa_ca,
            all_digests,
            threads: n,
            format,
            key,
        } => verify(
            &target,
            &identity,
            (expect_key.as_deref(), tsa_ca.as_deref()),
            record.then_some(&key),
            (threads(n), all_digests),
            format,
        ),
        EvidenceCommand::Seal(p) => package(p, true),
        EvidenceCommand::Export(p) => package(p, false),
    }
}

fn package(p: PackageArgs, seal: bool) -> anyhow::Result<u8> {
    let PackageArgs {
        case_dir,
        output,
        recipient: recipients,
        reason,
        key,
    } = p;
    let (case_dir, output) = (case_dir.as_path(), output.as_path());
    let signer = load_signer(&key)?;
    let mut case = open(case_dir)?;
    if seal && case.settings().sealed {
        bail!(
            "the case {} is already sealed; `takedown evidence export` writes another copy",
            case_dir.display()
        );
    }
    let rep = case.write_package(&signer, output, &recipients, seal, reason)?;
    stamp_warning(&rep.stamp_error);
    println!(
        "{} {} ({} bytes{}), custody entry {}; SHA-256 {}",
        if seal { "sealed into" } else { "exported to" },
        path_for_terminal(output),
        rep.archive.bytes,
        if rep.archive.encrypted {
            ", encrypted"
        } else {
            ""
        },
        seq_name(rep.entry.seq),
        rep.archive.sha256
    );
    Ok(code::OK)
}

fn verify(
    target: &Path,
    identities: &[PathBuf],
    (expect_key, tsa_ca): (Option<&str>, Option<&Path>),
    record: Option<&KeyArg>,
    (threads, all_digests): (usize, bool),
    format: OutFormat,
) -> anyhow::Result<u8> {
    let pinned = expect_key.map(public_key_arg).transpose()?;
    let is_dir = target.is_dir();
    if record.is_some() && !is_dir {
        bail!("--record needs a case directory (a package cannot be written to)");
    }
    let mut interrupted = None;
    let contents = if is_dir {
        interrupted = Case::interrupted(target);
        BagContents::from_dir_with(target, threads, all_digests)
            .with_context(|| format!("cannot read {}", target.display()))?
    } else {
        let reader = takedown_evidence::seal::open_archive(target, identities)
            .with_context(|| format!("cannot open {}", target.display()))?;
        BagContents::from_archive(reader)
            .with_context(|| format!("cannot read {}", target.display()))?
    };
    let tsa_ca = tsa_ca
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read --tsa-ca {}", p.display())))
        .transpose()?;
    let mut report =
        takedown_evidence::verify::verify_with(&contents, pinned.as_deref(), tsa_ca.as_deref());
    if let Some(note) = interrupted {
        report
            .problems
            .insert(0, takedown_evidence::Problem::error("case", note));
    }
    let status = if report.altered() {
        "altered"
    } else if report.intact() {
        "intact"
    } else {
        "not proven"
    };
    if let Some(key) = record {
        let signer = load_signer(key)?;
        let mut case = open(target)?;
        let what = serde_json::json!({
            "result": status,
            "items": report.items,
            "bytes": report.bytes,
            "custody_entries": report.custody_entries,
            "timestamps": report.stamps.len(),
            "problems": report.problems.iter().take(100).map(|p| p.to_string()).collect::<Vec<_>>(),
            "tsa": case.settings().tsa.as_deref().map(takedown_evidence::tsa::redact),
        });
        let (entry, stamp_error) = case.record_verify(&signer, what, None)?;
        stamp_warning(&stamp_error);
        eprintln!(
            "takedown: recorded as custody entry {}",
            seq_name(entry.seq)
        );
    }
    let mut out = std::io::stdout().lock();
    if format == OutFormat::Json {
        let doc = serde_json::json!({
            "target": target.to_string_lossy(),
            "status": status,
            "items": report.items,
            "bytes": report.bytes,
            "custody_entries": report.custody_entries,
            "timestamps": report.stamps,
            "problems": report.problems,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        for p in &report.problems {
            let tag = match p.severity {
                Severity::Altered => "ALTERED",
                Severity::Error => "ERROR",
            };
            writeln!(
                out,
                "{tag}: {}: {}",
                for_terminal(&p.subject),
                for_terminal(&p.message)
            )?;
        }
        let holder = report
            .entries
            .first()
            .and_then(|e| keys::fingerprint_of(&e.key).ok())
            .unwrap_or_else(|| "?".into());
        writeln!(
            out,
            "{}: {status}: {} item(s), {} bytes, {} custody entries, {} timestamp(s) verified; examiner key {holder}{}",
            path_for_terminal(target),
            report.items,
            report.bytes,
            report.custody_entries,
            report.stamps.len(),
            if pinned.is_some() {
                " (as expected)"
            } else {
                " (compare it with the one you received; --expect-key checks it)"
            }
        )?;
        if !report.stamps.is_empty() && !report.tsa_anchor_external {
            writeln!(
                out,
                "note: the timestamps were checked against the TSA CA inside the package; --tsa-ca FILE anchors them to the CA you trust"
            )?;
        }
    }
    Ok(if report.altered() {
        code::ALTERED
    } else if report.intact() {
        code::OK
    } else {
        code::ERROR
    })
}
