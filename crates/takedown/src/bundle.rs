//! `takedown sigs keygen|bundle|verify`: making and checking signed
//! signature bundles (the format and the crypto are `takedown-bundle`'s).

use crate::args::Format;
use anyhow::Context;
use std::path::{Path, PathBuf};
use takedown_bundle::format::{self, Trust};
use takedown_bundle::key;
use takedown_engine::sanitize::{for_terminal, path_for_terminal};
use takedown_engine::sigs::{LoadOptions, SignatureSet};

/// Exit codes of `sigs verify` and `update`.
pub mod exit {
    /// Verified, installed, rolled back, or already up to date.
    pub const OK: u8 = 0;
    /// The bundle was refused: malformed, altered, untrusted, not newer,
    /// or its signatures do not load.
    pub const REFUSED: u8 = 1;
}

/// Which keys to trust; shared by `sigs verify` and `update`.
#[derive(clap::Args, Debug)]
pub struct TrustArgs {
    /// Trust this public key (repeatable); replaces the trusted-keys
    /// directory.
    #[arg(long, value_name = "FILE")]
    pub trusted_key: Vec<PathBuf>,

    /// Directory of trusted public keys (*.pub) [default: /etc/takedown/keys
    /// for root, else $XDG_CONFIG_HOME/takedown/keys or
    /// ~/.config/takedown/keys].
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_TRUSTED_KEYS")]
    pub trusted_keys: Option<PathBuf>,

    /// Accept a bundle that is not signed at all.
    #[arg(long)]
    pub allow_unsigned: bool,
}

impl TrustArgs {
    /// The trusted keys, saying on stderr which key files were unusable.
    pub fn trust(&self) -> anyhow::Result<Trust> {
        let mut keys = Vec::new();
        let origin;
        if self.trusted_key.is_empty() {
            let dir = self.trusted_keys.clone().or_else(key::default_trusted_dir).context(
                "no trusted-keys directory: give --trusted-keys DIR or --trusted-key FILE (neither HOME nor XDG_CONFIG_HOME is set)",
            )?;
            let (found, problems) = key::read_trusted_dir(&dir)?;
            for p in problems {
                eprintln!(
                    "takedown: warning: trusted key skipped: {}",
                    for_terminal(&p)
                );
            }
            keys = found;
            origin = dir.display().to_string();
        } else {
            for path in &self.trusted_key {
                keys.push(key::read_public(path)?);
            }
            origin = self
                .trusted_key
                .iter()
                .map(|p| format!("--trusted-key {}", p.display()))
                .collect::<Vec<_>>()
                .join(", ");
        }
        Ok(Trust {
            keys,
            allow_unsigned: self.allow_unsigned,
            origin,
        })
    }
}

/// `takedown sigs keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// The secret key file to create (mode 0600); the public key goes to
    /// FILE.pub. Neither is ever overwritten.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// `takedown sigs bundle`.
#[derive(clap::Args, Debug)]
pub struct BundleArgs {
    /// The signature directory to pack (every file in it, recursively,
    /// except hidden ones).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// The bundle file to write (conventionally NAME.tdsb); never
    /// overwritten.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Sign with this secret key (from `takedown sigs keygen`). Without it
    /// the bundle is unsigned, and installs only with --allow-unsigned.
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,

    /// The bundle's version, a positive integer that must grow with every
    /// bundle [default: the UTC time as YYYYMMDDhhmmss].
    #[arg(long = "bundle-version", value_name = "N")]
    pub bundle_version: Option<u64>,

    /// Bundle even if some signature file or line does not load (each is
    /// reported). Machines then need `update --allow-problems`.
    #[arg(long)]
    pub allow_problems: bool,
}

/// `takedown sigs verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The bundle file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    #[command(flatten)]
    pub trust: TrustArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn keygen(a: KeygenArgs) -> anyhow::Result<u8> {
    let mut public_name = a.output.clone().into_os_string();
    public_name.push(".pub");
    let public = PathBuf::from(public_name);
    if public.exists() {
        anyhow::bail!("{} exists; keys are never overwritten", public.display());
    }
    let secret = key::generate()?;
    key::write_secret(&a.output, &secret)?;
    key::write_public(&public, &secret.verifying_key())?;
    let trusted = std::env::var_os("TAKEDOWN_TRUSTED_KEYS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(key::default_trusted_dir)
        .map_or_else(
            || "the trusted-keys directory".to_string(),
            |d| d.display().to_string(),
        );
    println!(
        "secret key: {} (keep it private; it signs bundles)",
        path_for_terminal(&a.output)
    );
    println!(
        "public key: {} (key id {})",
        path_for_terminal(&public),
        key::key_id(&secret.verifying_key())
    );
    println!(
        "machines that update trust it once it is copied into {trusted}/ (or given with --trusted-key)"
    );
    Ok(0)
}

/// Loads a signature directory with the engine, as `scan` will: the error
/// is the reason to refuse it. Problems (a rule that does not compile, a
/// bad IOC line) refuse it too unless `allow_problems`, when they are only
/// reported.
pub fn check_loads(
    dir: &Path,
    allow_problems: bool,
    cache_dir: Option<PathBuf>,
) -> Result<(), String> {
    let sigs = SignatureSet::load(&LoadOptions {
        paths: vec![dir.to_path_buf()],
        builtin: false,
        strict: false,
        cache_dir,
        // Builds (and caches) the rules for copies too, so that the first
        // scan with a new set starts warm.
        rescan_copies: false,
    })
    .map_err(|e| e.to_string())?;
    // Revoked and expired indicators are not problems of the set: every
    // feed holds some.
    let problems: Vec<_> = sigs.problems().collect();
    if let Some(first) = problems.first() {
        if !allow_problems {
            return Err(format!(
                "{} signature problem(s), first: {first} (--allow-problems accepts them)",
                problems.len(),
            ));
        }
        for issue in &problems {
            eprintln!("takedown: warning: {issue}");
        }
    }
    tracing::info!("the set loads: {}", sigs.describe());
    Ok(())
}

pub fn bundle(a: BundleArgs) -> anyhow::Result<u8> {
    let key = a.key.as_deref().map(key::read_secret).transpose()?;
    let version = a
        .bundle_version
        .unwrap_or_else(|| takedown_bundle::version_from_time(takedown_bundle::now_unix()));
    if version == 0 {
        anyhow::bail!("--bundle-version must be at least 1");
    }
    let files = format::collect_dir(&a.dir)?;
    // A set that does not load would be refused by every machine; say so
    // here, once, instead.
    check_loads(&a.dir, a.allow_problems, None).map_err(|why| {
        anyhow::anyhow!(
            "the signatures in {} do not load: {why}",
            path_for_terminal(&a.dir)
        )
    })?;
    let manifest = format::write(
        &a.output,
        &files,
        version,
        takedown_bundle::now_unix(),
        key.as_ref(),
    )?;
    println!(
        "{}: version {}, {} files ({} bytes), {}",
        path_for_terminal(&a.output),
        manifest.version,
        manifest.files.len(),
        manifest.total_size(),
        match &manifest.key_id {
            Some(id) => format!("signed by key {id}"),
            None => "unsigned".to_string(),
        }
    );
    if key.is_none() {
        eprintln!(
            "takedown: warning: the bundle is unsigned; machines install it only with --allow-unsigned"
        );
    }
    Ok(0)
}

pub fn verify(a: VerifyArgs) -> anyhow::Result<u8> {
    let trust = a.trust.trust()?;
    let file = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    let reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let shown = path_for_terminal(&a.file);
    // What the bundle says about itself, shown even when it is refused
    // (then unverified, and labelled so).
    let manifest = std::fs::File::open(&a.file)
        .ok()
        .and_then(|f| format::peek(&mut std::io::BufReader::new(f)).ok());
    let result = format::open(reader, &trust).and_then(|opened| opened.verify_files());
    let refused = match result {
        Ok(()) => None,
        Err(e) if e.is_refusal() => Some(for_terminal(&e.to_string())),
        Err(e) => return Err(e).with_context(|| format!("cannot verify {}", a.file.display())),
    };
    if a.format == Format::Json {
        let v = serde_json::json!({
            "file": a.file.to_string_lossy(),
            "ok": refused.is_none(),
            "reason": refused,
            "version": manifest.as_ref().map(|m| m.version),
            "created": manifest.as_ref().map(|m| takedown_bundle::format_date(m.created)),
            "key_id": manifest.as_ref().and_then(|m| m.key_id.clone()),
            "files": manifest.as_ref().map(|m| m.files.len()),
            "bytes": manifest.as_ref().map(|m| m.total_size()),
        });
        println!("{v}");
    } else {
        if let Some(m) = &manifest {
            println!(
                "{shown}: version {}, created {}, {} files ({} bytes), {}",
                m.version,
                takedown_bundle::format_date(m.created),
                m.files.len(),
                m.total_size(),
                match &m.key_id {
                    Some(id) => format!("signed by key {id}"),
                    None => "unsigned".to_string(),
                }
            );
        }
        match &refused {
            None => println!("{shown}: OK"),
            Some(why) => println!("{shown}: REFUSED: {why}"),
        }
    }
    Ok(if refused.is_none() {
        exit::OK
    } else {
        exit::REFUSED
    })
}
