//! What every front end (HTTP, clamd protocol) shares: settings, the
//! signature generations, the worker pool, metrics, admission control and
//! the shutdown signal.

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::pool::{Pool, Scanned, Spool};
use crate::state::{Generation, ReloadError, Signatures};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use takedown_engine::finding::Finding;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The running service.
pub struct Service {
    /// Validated settings.
    pub settings: Settings,
    /// Signature generations.
    pub sigs: Signatures,
    /// Scan workers.
    pub pool: Pool,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    admission: Arc<Semaphore>,
    connections: Arc<Semaphore>,
    /// Raised on SIGTERM, SIGINT or the clamd `SHUTDOWN` command.
    pub shutdown: CancellationToken,
    /// Every connection task, so that shutdown can wait for them.
    pub tasks: TaskTracker,
    /// The TAXII server, when enabled.
    pub taxii: Option<Arc<crate::taxii::Taxii>>,
    /// Publishes scan sightings into a TAXII collection, when configured.
    pub publisher: Option<crate::taxii::publish::Publisher>,
    /// The texts of the web pages in every language.
    pub i18n: Arc<crate::i18n::Catalog>,
    /// The victim self-check, when enabled.
    pub selfcheck: Option<Arc<crate::selfcheck::SelfCheck>>,
}

/// An admitted scan request; dropping it lets the next one in.
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

/// An open connection; dropping it makes room for another.
pub struct Connection {
    _permit: OwnedSemaphorePermit,
}

/// Open connections allowed per admitted request: idle keep-alive and
/// clamd sessions cost a socket and a little memory each, not a scan.
const CONNECTIONS_PER_REQUEST: usize = 4;

impl Service {
    /// Loads the signatures (blocking) and starts the workers.
    pub fn new(settings: Settings) -> anyhow::Result<Arc<Service>> {
        let i18n = Arc::new(crate::i18n::Catalog::load(settings.lang_dir.as_deref())?);
        let selfcheck = match &settings.selfcheck {
            Some(s) => Some(Arc::new(crate::selfcheck::SelfCheck::load(s.clone())?)),
            None => None,
        };
        let sigs = Signatures::load(&settings.load)?;
        let taxii = match &settings.taxii {
            Some(t) => Some(Arc::new(crate::taxii::Taxii::open(t.clone())?)),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let publisher = settings
            .taxii
            .as_ref()
            .and_then(|t| t.publish.clone())
            .map(|p| crate::taxii::publish::Publisher::new(p, metrics.clone()));
        let pool = Pool::start(settings.workers, settings.scan.clone(), metrics.clone())
            .map_err(|e| anyhow::anyhow!("cannot start scan workers: {e}"))?;
        Ok(Arc::new(Service {
            admission: Arc::new(Semaphore::new(settings.max_requests)),
            connections: Arc::new(Semaphore::new(
                settings
                    .max_requests
                    .saturating_mul(CONNECTIONS_PER_REQUEST),
            )),
            settings,
            sigs,
            pool,
            metrics,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            taxii,
            publisher,
            i18n,
            selfcheck,
        }))
    }

    /// Starts the background task of sightings publishing, when on.
    pub fn start_publishing(&self) {
        if let (Some(p), Some(t)) = (&self.publisher, &self.taxii) {
            p.start(t.store.clone(), &self.tasks, self.shutdown.clone());
            tracing::info!(
                collection = %p.settings().collection,
                client_address = p.settings().client_address,
                "scan sightings are published into TAXII"
            );
        }
    }

    /// Hands the detected findings of one scan to the sightings
    /// publisher, when on; never waits (see [`crate::taxii::publish`]).
    pub fn publish<'a>(
        &self,
        findings: impl IntoIterator<Item = &'a Finding>,
        client: Option<IpAddr>,
        started: SystemTime,
        elapsed: Duration,
    ) {
        if let Some(p) = &self.publisher {
            p.submit(findings, client, started, elapsed);
        }
    }

    /// Admits a scan request, or `None` when `max_requests` are in
    /// progress (the caller answers 503 / a clamd error at once rather
    /// than queueing without bound).
    pub fn admit(&self) -> Option<Admitted> {
        let permit = self.admission.clone().try_acquire_owned().ok()?;
        self.metrics.in_flight.inc();
        Some(Admitted {
            _permit: permit,
            metrics: self.metrics.clone(),
        })
    }

    /// Takes a connection slot, or `None` when too many are open.
    pub fn connect(&self) -> Option<Connection> {
        let permit = self.connections.clone().try_acquire_owned().ok()?;
        Some(Connection { _permit: permit })
    }

    /// A spool for one upload of at most `limit` bytes.
    pub fn spool(&self, limit: u64) -> Spool {
        Spool::new(
            limit,
            self.settings.memory_buffer,
            self.settings.spool_dir.clone(),
        )
    }

    /// Requests scanning with the generation current now.
    pub fn generation(&self) -> Arc<Generation> {
        self.sigs.current()
    }

    /// Rebuilds the signature set off the runtime and swaps it in.
    pub async fn reload(self: &Arc<Self>) -> Result<Arc<Generation>, ReloadError> {
        let this = self.clone();
        let result = tokio::task::spawn_blocking(move || this.sigs.reload())
            .await
            .unwrap_or_else(|e| {
                Err(ReloadError::Load(
                    takedown_engine::sigs::LoadError::Unreadable {
                        path: "(reload)".into(),
                        reason: format!("reload task failed: {e}"),
                    },
                ))
            });
        match &result {
            Ok(g) => {
                self.metrics.reload(true);
                tracing::info!(generation = g.id, signatures = %g.sigs.describe(), "signatures reloaded");
            }
            Err(e) => {
                self.metrics.reload(false);
                tracing::warn!(error = %e, "reload refused; the running signatures stay");
            }
        }
        result
    }

    /// Reads the self-check reports again off the runtime and swaps the
    /// new data in; `None` when the self-check is off. On failure the
    /// loaded data stays.
    pub async fn reload_selfcheck(&self) -> Option<anyhow::Result<Arc<crate::selfcheck::Data>>> {
        let check = self.selfcheck.clone()?;
        let result = tokio::task::spawn_blocking(move || check.reload())
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("self-check reload task failed: {e}")));
        if let Err(e) = &result {
            tracing::warn!(error = %e, "self-check reload refused; the loaded data stays");
        }
        Some(result)
    }

    /// Counts what a scan found.
    pub fn record(&self, interface: &'static str, scanned: &Scanned, seconds: f64) {
        self.metrics.bytes(interface, scanned.size);
        self.metrics.latency(interface, seconds);
        for f in scanned.findings() {
            for d in &f.detections {
                self.metrics.detection(&d.name);
            }
        }
    }
}
