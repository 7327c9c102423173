//! `takedown agent`: runs the fleet hunts addressed to this machine (the
//! protocol is `takedown-fleet`'s; see docs/fleet.md).

use crate::bundle::TrustArgs;
use crate::fleet::NatsArgs;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use takedown_fleet::runner::ScanCommand;

/// `takedown agent` flags.
#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// This machine's id in the fleet (letters, digits, '-' and '_'; the
    /// server's permissions tie it to the credentials).
    #[arg(long, value_name = "ID", env = "TAKEDOWN_HOST_ID")]
    pub host_id: String,
    /// A label hunts can target (`--to os=linux`); repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Never act on files: hunts asking to quarantine run as reports, and
    /// the completion record says so.
    #[arg(long)]
    pub no_actions: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// The quarantine vault for hunts that quarantine [default: as `scan`].
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_VAULT")]
    pub vault: Option<PathBuf>,
    /// Where compiled rules are cached [default: as `scan`].
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not cache compiled rules.
    #[arg(long)]
    pub no_cache: bool,
    /// Take every hunt's paths (and --persistence) below DIR: an agent in
    /// a container that sees its machine at /host, or one examining a
    /// mounted disk.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Where bundles are fetched and unpacked, one directory per hunt,
    /// removed after it [default: the system's temporary directory].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Where the agent keeps its secret for message ids (created 0600 on
    /// first start; must survive restarts) [default: $XDG_STATE_HOME/takedown/agent,
    /// ~/.local/state/takedown/agent, or /var/lib/takedown/agent].
    #[arg(long, value_name = "DIR", env = "TAKEDOWN_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Seconds the server waits for a sign of life from a hunt in
    /// progress before delivering it again (one is sent every third).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub ack_wait: u64,
    /// Longest a hunt may run here, bundle fetch and scans (s, m, h or d
    /// suffix): past it the scan is stopped and the hunt recorded as
    /// failed (timed out).
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub max_hunt_time: String,
    /// Deliveries of one hunt after which it is recorded as failed
    /// instead of run again (a hunt that ended the agent every time).
    #[arg(long, value_name = "N", default_value_t = takedown_fleet::agent::DEFAULT_MAX_DELIVERIES)]
    pub max_deliveries: i64,
    /// Milliseconds one request for a hunt waits when none is pending.
    #[arg(long, value_name = "MS", default_value_t = 1000, hide = true)]
    pub poll_ms: u64,
}

pub fn run(a: AgentArgs) -> anyhow::Result<u8> {
    let mut labels = BTreeMap::new();
    for l in &a.label {
        let (k, v) = l
            .split_once('=')
            .with_context(|| format!("--label {l:?}: give KEY=VALUE"))?;
        if labels.insert(k.to_string(), v.to_string()).is_some() {
            anyhow::bail!("--label {k} given twice");
        }
    }
    let trust = a.trust.trust()?;
    if trust.keys.is_empty() && !trust.allow_unsigned {
        eprintln!(
            "takedown: warning: no trusted key: every hunt's bundle will be refused ({})",
            for_terminal_origin(&trust.origin)
        );
    }
    let exe = std::env::current_exe().context("cannot find the takedown executable")?;
    let cache_dir = if a.no_cache {
        None
    } else {
        a.cache_dir.clone().or_else(crate::args::default_cache_dir)
    };
    let work_dir = a.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("cannot create the work directory {}", work_dir.display()))?;
    let state_dir = a.state_dir.clone().unwrap_or_else(default_state_dir);
    let id_key = takedown_fleet::ids::IdKey::load_or_create(&state_dir)?;
    let max_hunt_time =
        crate::fleet::parse_duration(&a.max_hunt_time).context("--max-hunt-time")?;
    let cfg = takedown_fleet::agent::AgentConfig {
        host: a.host_id.clone(),
        labels,
        trust,
        allow_actions: !a.no_actions,
        scan: ScanCommand {
            exe,
            vault: a.vault.clone(),
            cache_dir,
            root: a.root.clone(),
        },
        work_dir,
        ack_wait: Duration::from_secs(a.ack_wait),
        poll: Duration::from_millis(a.poll_ms.clamp(50, 30_000)),
        id_key,
        state_dir,
        max_hunt_time,
        max_deliveries: a.max_deliveries,
    };
    cfg.validate()?;
    let stop = Arc::new(AtomicBool::new(false));
    install_stop(stop.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let js = a
            .nats
            .connect(
                format!("takedown agent {}", a.host_id),
                true,
                &takedown_fleet::conn::agent_inbox_prefix(&a.host_id),
            )
            .await?;
        takedown_fleet::agent::run(js, cfg, stop).await
    })?;
    eprintln!("takedown: agent stopped");
    Ok(0)
}

/// The user's state directory (XDG), else the system's.
fn default_state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })
        .map(|b| b.join("takedown/agent"))
        .unwrap_or_else(|| PathBuf::from("/var/lib/takedown/agent"))
}

fn for_terminal_origin(s: &str) -> String {
    takedown_engine::sanitize::for_terminal(s)
}

/// First Ctrl-C (SIGINT, as systemd stops the agent): stop cleanly; a
/// hunt whose scan the same signal interrupted is not recorded, and is
/// delivered again. Second: leave now.
fn install_stop(stop: Arc<AtomicBool>) {
    static PRESSES: AtomicUsize = AtomicUsize::new(0);
    let result = ctrlc::set_handler(move || {
        if PRESSES.fetch_add(1, Ordering::SeqCst) > 0 {
            std::process::exit(130);
        }
        eprintln!(
            "takedown: stopping (a hunt cut short is run again later; Ctrl-C again to stop now)"
        );
        stop.store(true, Ordering::SeqCst);
    });
    if let Err(e) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
}
