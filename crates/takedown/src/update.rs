//! `takedown update`: fetch the newest signed bundle and switch to it, or
//! roll back; and which installed set `scan` and `serve` load.

use crate::bundle::{TrustArgs, check_loads, exit};
use anyhow::Context;
use std::path::PathBuf;
use takedown_bundle::source::{self, Source};
use takedown_bundle::store::{Installed, Store};
use takedown_bundle::{Error, format, format_date};
use takedown_engine::sanitize::for_terminal;

/// `takedown update` flags.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["from", "rollback", "status"])))]
pub struct UpdateArgs {
    /// Where to get the bundle: an http(s) URL of a bundle (*.tdsb) or of a
    /// directory holding a `latest` file that names one; a bundle file; or
    /// a directory of bundles (the highest version is taken).
    #[arg(long, value_name = "URL|DIR|FILE")]
    pub from: Option<String>,

    /// Switch back to the set kept from before the last update (a second
    /// rollback switches forward again).
    #[arg(long)]
    pub rollback: bool,

    /// Show the installed sets.
    #[arg(long)]
    pub status: bool,

    #[command(flatten)]
    pub trust: TrustArgs,

    /// Install even if some signature file or line of the bundle does not
    /// load (each is reported); by default any problem refuses it.
    #[arg(long)]
    pub allow_problems: bool,

    /// Where installed sets live [default: /var/lib/takedown/signatures
    /// for root, else $XDG_DATA_HOME/takedown/signatures or
    /// ~/.local/share/takedown/signatures].
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_SIGS_DIR")]
    pub sigs_dir: Option<PathBuf>,

    /// Where to cache compiled YARA rules (the check of a new set fills
    /// it for the next scan).
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Do not read or write the compiled-rules cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// The signatures directory named by `--sigs-dir`/`TAKEDOWN_SIGS_DIR`, or
/// the default one.
pub fn sigs_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    given.or_else(takedown_bundle::store::default_dir).context(
        "no signatures directory: give --sigs-dir DIR (or TAKEDOWN_SIGS_DIR); neither HOME nor XDG_DATA_HOME is set",
    )
}

/// The installed set `scan` loads when no `-s` is given: its own
/// directory (`bundles/N`, resolved once, so an update during the load
/// cannot mix two sets). `None` when nothing is installed.
pub fn installed_for_scan(given: Option<PathBuf>) -> anyhow::Result<Option<PathBuf>> {
    Ok(installed(given, "scans")?.map(|(_, c)| {
        tracing::info!(
            "using the installed signature set, version {} ({})",
            c.version,
            c.dir.display()
        );
        c.dir
    }))
}

/// The installed set `serve` loads when no signature path is configured:
/// the `current` link itself, so that a reload (SIGHUP, POST /v1/reload)
/// after `takedown update` loads the new set. `None` when nothing is
/// installed.
pub fn installed_for_serve(given: Option<PathBuf>) -> anyhow::Result<Option<PathBuf>> {
    Ok(installed(given, "serves")?.map(|(dir, c)| {
        tracing::info!("serving the installed signature set, version {}", c.version);
        dir.join("current")
    }))
}

/// The active set of the given or default directory. A directory named
/// with --sigs-dir or TAKEDOWN_SIGS_DIR that cannot be read is an error;
/// the default one (another user's home, say) is a warning, and the run
/// goes on without it.
fn installed(given: Option<PathBuf>, verb: &str) -> anyhow::Result<Option<(PathBuf, Installed)>> {
    let explicit = given.is_some();
    let Some(dir) = given.or_else(takedown_bundle::store::default_dir) else {
        return Ok(None);
    };
    match Store::at(&dir).current() {
        Ok(c) => Ok(c.map(|c| (dir, c))),
        Err(e) if explicit => Err(anyhow::Error::new(e).context(format!(
            "the installed signature set in {} is unusable (--no-installed {verb} without it)",
            dir.display()
        ))),
        Err(e) => {
            eprintln!(
                "takedown: warning: the installed signature set in {} is unusable, left out: {}",
                dir.display(),
                for_terminal(&e.to_string())
            );
            Ok(None)
        }
    }
}

fn describe(i: &Installed) -> String {
    match &i.info {
        Some(info) => format!(
            "version {}, created {}, {}, {} files ({} bytes), installed {} from {}",
            i.version,
            format_date(info.created),
            match &info.key_id {
                Some(id) => format!("signed by key {id}"),
                None => "unsigned".to_string(),
            },
            info.files,
            info.bytes,
            format_date(info.installed),
            for_terminal(&info.source)
        ),
        None => format!("version {} (its info file is unreadable)", i.version),
    }
}

pub fn run(a: UpdateArgs) -> anyhow::Result<u8> {
    let dir = sigs_dir(a.sigs_dir.clone())?;
    let store = Store::at(&dir);
    if a.status {
        println!("signatures directory: {}", dir.display());
        match store.current()? {
            Some(c) => println!("current: {}", describe(&c)),
            None => println!("current: none installed"),
        }
        if let Some(p) = store.previous()? {
            println!("previous: {}", describe(&p));
        }
        return Ok(exit::OK);
    }
    let locked = store.lock()?;
    if a.rollback {
        let (from, to) = locked.rollback()?;
        println!(
            "rolled back from version {} to version {} (`takedown update --rollback` again switches back)",
            from.version, to.version
        );
        return Ok(exit::OK);
    }
    let Some(from) = a.from.as_deref() else {
        anyhow::bail!("give --from, --rollback or --status");
    };
    let trust = a.trust.trust()?;
    let installed = locked.current()?.map(|c| c.version);
    let cache_dir = if a.no_cache {
        None
    } else {
        a.cache_dir.clone().or_else(crate::args::default_cache_dir)
    };
    let attempt = (|| {
        let fetched = source::fetch(&Source::parse(from))?;
        let origin = fetched.origin.clone();
        let opened = format::open(fetched.reader, &trust).map_err(|e| with_origin(e, &origin))?;
        let version = opened.manifest().version;
        let allow = a.allow_problems;
        locked
            .install(opened, &origin, |set| check_loads(set, allow, cache_dir))
            .map_err(|e| with_origin(e, &origin))
            .map(|i| (i, version))
    })();
    let unchanged = match installed {
        Some(v) => format!("the installed set (version {v}) is unchanged"),
        None => "nothing was installed".to_string(),
    };
    match attempt {
        Ok((new, _)) => {
            println!("installed {}", describe(&new));
            if let Some(old) = installed {
                println!("kept version {old} for `takedown update --rollback`");
            }
            Ok(exit::OK)
        }
        Err(Error::UpToDate(v)) => {
            println!("already up to date: version {v}");
            Ok(exit::OK)
        }
        Err(e) if e.is_refusal() => {
            eprintln!(
                "takedown: refused: {}; {unchanged}",
                for_terminal(&e.to_string())
            );
            Ok(exit::REFUSED)
        }
        Err(e) => Err(anyhow::anyhow!(
            "{}; {unchanged}",
            for_terminal(&e.to_string())
        )),
    }
}

/// Names the bundle in a refusal ("https://.../s-5.tdsb: truncated: ...").
fn with_origin(e: Error, origin: &str) -> Error {
    match e {
        Error::Invalid(m) => Error::Invalid(format!("{origin}: {m}")),
        Error::Untrusted(m) => Error::Untrusted(format!("{origin}: {m}")),
        Error::NotNewer(m) => Error::NotNewer(format!("{origin}: {m}")),
        Error::Rejected(m) => Error::Rejected(format!("{origin}: {m}")),
        Error::Io { context, source } => Error::Io {
            context: format!("{origin}: {context}"),
            source,
        },
        other => other,
    }
}
