//! The service's own sightings, published into a TAXII collection: every
//! scan (HTTP API, web page, clamd protocol) whose verdict has detections
//! adds the STIX objects `takedown intel export --format stix` would make
//! of its findings (file, observed-data, indicator, sighting, malware
//! families, identities, TLP marking) to one configured collection, so
//! that partners pulling that collection see what the service meets.
//! Off by default (`[taxii] publish_sightings`).
//!
//! * **Never on the scan's path.** A scan only clones its detected
//!   findings into a bounded queue ([`Publisher::submit`], never waits);
//!   one background task turns each into STIX and stores it. When the
//!   queue is full (the store is slower than the scans), the scan's
//!   sightings are dropped, counted in `takedown_taxii_publish_total
//!   {result="dropped"}` and warned about (at most one log line per
//!   [`WARN_EVERY`]); the scan's answer is never delayed.
//! * **The same store path as a POST** ([`routes::store_objects`]): one
//!   transaction per scan with its status resource; the objects' ids are
//!   deterministic (the STIX writer derives them from the content), so a
//!   sample scanned again adds only new versions (its sighting, indicator,
//!   observed-data with the new times) and never a second file object.
//! * **Privacy.** File names are the clients' (attacker-controlled, and
//!   often personal: `invoice_jane_doe.pdf`): they are never published
//!   (path and container chain are cleared; a name would also change the
//!   file object's id, one object per upload name). The client's address
//!   is published only with `publish_client_address`; otherwise every
//!   sighting is "where: takedown serve".
//! * The report object the writer adds over a whole export is left out:
//!   one per scan, each with a new id, it would grow the collection's
//!   latest-version view with every detection, and repeats only
//!   references.

use super::routes::{self, Stored};
use super::store::{self, NewObject, Store};
use crate::metrics::Metrics;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use takedown_engine::finding::Finding;
use takedown_intel::Tlp;
use takedown_intel::records::{FindingRecord, Run, SummaryRecord};
use takedown_intel::stix::write::{StixOptions, write_bundle};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Default `publish_tlp`.
pub const DEFAULT_TLP: &str = "amber";
/// Default `publish_producer`.
pub const DEFAULT_PRODUCER: &str = "takedown";
/// Default `publish_queue`: scans waiting to be stored.
pub const DEFAULT_QUEUE: usize = 1024;
/// Largest `publish_queue`: each waiting scan holds its detected findings
/// in memory.
pub const MAX_QUEUE: usize = 65_536;
/// Longest `publish_producer` (it is repeated in every object's identity).
pub const MAX_PRODUCER: usize = 256;
/// Detected findings taken from one scan: a clamd `MULTISCAN` of a whole
/// infected disk would otherwise put an unbounded list in one queue slot.
/// The rest are not published (and logged).
pub const MAX_FINDINGS_PER_SCAN: usize = 10_000;
/// The host sightings name when the client's address is not published
/// (or not known: a clamd Unix socket).
pub const SERVE_HOST: &str = "takedown serve";
/// Least time between two warnings about dropped sightings: a flood of
/// scans while the store is slow would otherwise flood the log too.
pub const WARN_EVERY: Duration = Duration::from_secs(10);
/// The STIX type of the writer's report object, left out (module doc).
const REPORT: &str = "report";

/// Validated `publish_*` keys of `[taxii]`.
#[derive(Clone, Debug)]
pub struct PublishSettings {
    /// The collection (lowercase id), one of the configured ones.
    pub collection: String,
    /// TLP marking of every object.
    pub tlp: Tlp,
    /// The producer's name.
    pub producer: String,
    /// Name the client's address as the host of the sighting.
    pub client_address: bool,
    /// Queue length.
    pub queue: usize,
}

/// One scan waiting to be published.
#[derive(Debug)]
pub struct Scan {
    /// Its findings with detections.
    pub findings: Vec<Finding>,
    /// The client's address, when known and published.
    pub client: Option<IpAddr>,
    /// When the scan started.
    pub started: SystemTime,
    /// How long it took.
    pub elapsed: Duration,
}

/// What [`Publisher::submit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// No finding had detections: nothing to publish.
    Nothing,
    /// In the queue.
    Queued,
    /// The queue was full (or closed by shutdown): dropped and counted.
    Dropped,
}

/// Why one scan's sightings could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A finding could not be converted to its NDJSON record.
    #[error("a finding could not be converted for STIX: {0}")]
    Record(serde_json::Error),
    /// The STIX writer failed.
    #[error("cannot write the STIX objects: {0}")]
    Bundle(std::io::Error),
    /// The store's checks refused an object the writer made (a bug: the
    /// writer's objects are valid STIX 2.1).
    #[error("the TAXII store refused {id}: {reason}")]
    Refused {
        /// The object id (or its index).
        id: String,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// The queue and the background task that empties it.
pub struct Publisher {
    settings: Arc<PublishSettings>,
    tx: mpsc::Sender<Scan>,
    /// Taken by [`Publisher::start`].
    rx: Mutex<Option<mpsc::Receiver<Scan>>>,
    metrics: Arc<Metrics>,
    /// When the last warning about drops was logged.
    warned: Mutex<Option<Instant>>,
    /// Drops since then.
    unwarned: AtomicU64,
}

impl Publisher {
    /// A publisher with an empty queue; nothing is stored until
    /// [`Publisher::start`].
    pub fn new(settings: PublishSettings, metrics: Arc<Metrics>) -> Publisher {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        Publisher {
            settings: Arc::new(settings),
            tx,
            rx: Mutex::new(Some(rx)),
            metrics,
            warned: Mutex::new(None),
            unwarned: AtomicU64::new(0),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &PublishSettings {
        &self.settings
    }

    /// Queues the findings with detections of one scan; never waits. The
    /// client's address is kept only when the settings publish it.
    pub fn submit<'a>(
        &self,
        findings: impl IntoIterator<Item = &'a Finding>,
        client: Option<IpAddr>,
        started: SystemTime,
        elapsed: Duration,
    ) -> Submitted {
        let mut detected: Vec<Finding> = Vec::new();
        let mut over = 0usize;
        for f in findings.into_iter().filter(|f| !f.detections.is_empty()) {
            if detected.len() < MAX_FINDINGS_PER_SCAN {
                detected.push(f.clone());
            } else {
                over += 1;
            }
        }
        if detected.is_empty() {
            return Submitted::Nothing;
        }
        if over > 0 {
            tracing::warn!(
                published = detected.len(),
                left_out = over,
                "a scan has more detected objects than are published per scan ({MAX_FINDINGS_PER_SCAN})"
            );
        }
        let scan = Scan {
            findings: detected,
            client: client.filter(|_| self.settings.client_address),
            started,
            elapsed,
        };
        match self.tx.try_send(scan) {
            Ok(()) => Submitted::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped("the queue is full (the TAXII store is slower than the scans)");
                Submitted::Dropped
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.dropped("the service is shutting down");
                Submitted::Dropped
            }
        }
    }

    fn dropped(&self, why: &'static str) {
        self.metrics.publish("dropped");
        self.unwarned.fetch_add(1, Ordering::Relaxed);
        let mut last = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            let n = self.unwarned.swap(0, Ordering::Relaxed);
            tracing::warn!(
                dropped = n,
                collection = %self.settings.collection,
                "scan sightings not published: {why}; counted in takedown_taxii_publish_total{{result=\"dropped\"}}"
            );
        }
    }

    /// Starts the background task that stores what is queued (once; later
    /// calls do nothing). On `shutdown` the queue is closed (later scans'
    /// sightings are dropped and counted) and what it holds is still
    /// stored, within the service's shutdown grace (`tasks`).
    pub fn start(&self, store: Arc<Store>, tasks: &TaskTracker, shutdown: CancellationToken) {
        let Some(rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        tasks.spawn(drain(
            rx,
            store,
            self.settings.clone(),
            self.metrics.clone(),
            shutdown,
        ));
    }
}

async fn drain(
    mut rx: mpsc::Receiver<Scan>,
    store: Arc<Store>,
    settings: Arc<PublishSettings>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut closing = false;
    loop {
        let next = if closing {
            rx.recv().await
        } else {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    rx.close();
                    closing = true;
                    continue;
                }
                s = rx.recv() => s,
            }
        };
        let Some(scan) = next else { return };
        let (st, se) = (store.clone(), settings.clone());
        let result = tokio::task::spawn_blocking(move || store_scan(&st, &se, &scan)).await;
        match result {
            Ok(Ok(stored)) => {
                metrics.publish("stored");
                metrics.publish_objects(stored.added as u64, stored.already_present as u64);
                tracing::debug!(
                    collection = %settings.collection,
                    status = %stored.status_id,
                    added = stored.added,
                    already_present = stored.already_present,
                    "scan sightings published"
                );
            }
            Ok(Err(e)) => {
                metrics.publish("failed");
                tracing::warn!(collection = %settings.collection, error = %e, "cannot publish scan sightings");
            }
            Err(e) => {
                metrics.publish("failed");
                tracing::error!(collection = %settings.collection, error = %e, "the publishing task failed");
            }
        }
    }
}

/// The host a scan's sightings name.
pub fn host(client: Option<IpAddr>) -> String {
    match client {
        Some(ip) => ip.to_canonical().to_string(),
        None => SERVE_HOST.to_string(),
    }
}

/// The run the STIX writer gets for one scan: its detected findings
/// without names (path and chain cleared), the summary with the host and
/// the scan's start and duration.
pub fn scan_run(scan: &Scan) -> Result<Run, PublishError> {
    let mut findings = Vec::with_capacity(scan.findings.len());
    for f in &scan.findings {
        // The NDJSON record is the exporters' input; converting through
        // the JSON model is what `takedown scan --format stix` does.
        let mut r: FindingRecord = serde_json::to_value(f)
            .and_then(serde_json::from_value)
            .map_err(PublishError::Record)?;
        r.path.clear();
        r.chain.clear();
        r.action = None;
        r.problems.clear();
        findings.push(r);
    }
    let started = OffsetDateTime::from(scan.started)
        .format(&time::format_description::well_known::Rfc3339)
        .ok();
    let detections = findings.iter().map(|f| f.detections.len() as u64).sum();
    Ok(Run {
        origin: "serve".into(),
        summary: Some(SummaryRecord {
            files_scanned: 1,
            files_detected: 1,
            detections,
            elapsed_seconds: scan.elapsed.as_secs_f64(),
            host: Some(host(scan.client)),
            started,
            ..SummaryRecord::default()
        }),
        findings,
        ..Run::default()
    })
}

/// The objects of one scan, checked as a POST's are, the report left out.
pub fn scan_objects(
    scan: &Scan,
    settings: &PublishSettings,
) -> Result<Vec<NewObject>, PublishError> {
    let run = scan_run(scan)?;
    let mut bundle = Vec::new();
    write_bundle(
        std::slice::from_ref(&run),
        &StixOptions {
            tlp: settings.tlp,
            producer: settings.producer.clone(),
            now: OffsetDateTime::now_utc(),
        },
        &mut bundle,
    )
    .map_err(PublishError::Bundle)?;
    // A bundle is an envelope too (an object with `objects`).
    let (mut valid, failures) =
        routes::parse_envelope(&bundle).map_err(|e| PublishError::Refused {
            id: "the bundle".into(),
            reason: e.description,
        })?;
    if let Some(f) = failures.into_iter().next() {
        return Err(PublishError::Refused {
            id: f.id,
            reason: f.message,
        });
    }
    valid.retain(|o| o.kind != REPORT);
    Ok(valid)
}

/// Ids looked up per store query (SQL parameters of one statement).
const IDS_PER_QUERY: usize = 500;

/// Gives each object already in the collection the `created` of its first
/// stored version. The writer dates an object by the scans it describes,
/// so a later scan of the same sample makes a version with a later
/// `created`; STIX 2.1 says `created` never changes between versions of
/// an object (its `modified` does). Objects new to the collection, and a
/// stored `created` later than this version's `modified` (a clock set
/// back), keep the writer's.
fn keep_created(
    store: &Store,
    collection: &str,
    objects: &mut [NewObject],
) -> Result<(), PublishError> {
    let versioned: Vec<String> = objects
        .iter()
        .filter(|o| o.version.is_some())
        .map(|o| o.id.clone())
        .collect();
    let mut first: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for ids in versioned.chunks(IDS_PER_QUERY) {
        let q = store::Query {
            limit: ids.len(),
            ids: ids.to_vec(),
            versions: store::VersionFilter {
                first: true,
                ..store::VersionFilter::default()
            },
            ..store::Query::default()
        };
        let page = store.objects(collection, &q, usize::MAX)?;
        let stored: Vec<serde_json::Value> =
            serde_json::from_str(&page.array).map_err(PublishError::Record)?;
        for o in stored {
            if let (Some(id), Some(created)) = (o["id"].as_str(), o["created"].as_str()) {
                first.insert(id.to_string(), created.to_string());
            }
        }
    }
    for o in objects.iter_mut() {
        let (Some(created), Some((modified, _))) = (first.get(&o.id), &o.version) else {
            continue;
        };
        if store::parse_micros(created).is_none_or(|c| c > *modified) {
            continue;
        }
        let mut v: serde_json::Value =
            serde_json::from_str(&o.json).map_err(PublishError::Record)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("created".into(), serde_json::Value::String(created.clone()));
        }
        o.json = serde_json::to_string(&v).map_err(PublishError::Record)?;
    }
    Ok(())
}

/// Stores one scan's objects into the collection, in one transaction.
/// Blocking.
pub fn store_scan(
    store: &Store,
    settings: &PublishSettings,
    scan: &Scan,
) -> Result<Stored, PublishError> {
    let requested = store::now_micros();
    let mut objects = scan_objects(scan, settings)?;
    keep_created(store, &settings.collection, &mut objects)?;
    Ok(routes::store_objects(
        store,
        &settings.collection,
        &objects,
        &[],
        requested,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxii::store::{Query, VersionFilter};
    use takedown_engine::finding::{Detection, EngineKind};

    const COLLECTION: &str = "9b1c1a4e-0000-4000-8000-000000000001";
    const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

    fn settings(queue: usize, client_address: bool) -> PublishSettings {
        PublishSettings {
            collection: COLLECTION.into(),
            tlp: Tlp::Amber,
            producer: DEFAULT_PRODUCER.into(),
            client_address,
            queue,
        }
    }

    /// A detected finding for an upload named `name`.
    fn detected(name: &str) -> Finding {
        let mut f = Finding::named(name);
        f.size = Some(68);
        f.sha256 = Some(EICAR_SHA256.into());
        f.detections.push(Detection {
            engine: EngineKind::Yara,
            name: "EICAR_Test_File".into(),
            score: 100,
            tags: Vec::new(),
            metadata: serde_json::Map::new(),
            source: "builtin:test".into(),
        });
        f
    }

    fn scan(name: &str, client: Option<IpAddr>, at_secs: u64) -> Scan {
        Scan {
            findings: vec![detected(name)],
            client,
            started: SystemTime::UNIX_EPOCH + Duration::from_secs(at_secs),
            elapsed: Duration::from_millis(3),
        }
    }

    /// Every version of every object in the collection, parsed.
    fn all_versions(store: &Store) -> Vec<serde_json::Value> {
        let q = Query {
            limit: 10_000,
            versions: VersionFilter {
                all: true,
                ..VersionFilter::default()
            },
            ..Query::default()
        };
        let page = store.objects(COLLECTION, &q, usize::MAX).unwrap();
        serde_json::from_str(&page.array).unwrap()
    }

    fn of_type<'a>(objs: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
        objs.iter().filter(|o| o["type"] == t).collect()
    }

    #[test]
    fn the_same_sample_again_adds_new_versions_only_and_no_names_or_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let s = settings(4, false);
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        // As submit() hands it over: the address filtered out.
        let first = store_scan(
            &store,
            &s,
            &scan("invoice_jane_doe.com", None, 1_700_000_000),
        )
        .unwrap();
        assert_eq!(first.already_present, 0);
        let after_first = all_versions(&store);
        assert_eq!(after_first.len(), first.added);
        for t in [
            "file",
            "indicator",
            "sighting",
            "observed-data",
            "identity",
            "marking-definition",
        ] {
            assert!(
                !of_type(&after_first, t).is_empty(),
                "no {t}: {after_first:?}"
            );
        }
        assert!(of_type(&after_first, "report").is_empty());
        let file = of_type(&after_first, "file")[0];
        assert_eq!(file["hashes"]["SHA-256"], EICAR_SHA256);
        assert!(file.get("name").is_none(), "{file}");
        let hosts: Vec<_> = of_type(&after_first, "identity")
            .iter()
            .filter(|i| i["identity_class"] == "system")
            .map(|i| i["name"].clone())
            .collect();
        assert_eq!(hosts, [SERVE_HOST]);

        // Another name, a minute later: same ids, new versions of what
        // carries the time, nothing for the content-addressed objects.
        let second = store_scan(&store, &s, &scan("other.com", None, 1_700_000_060)).unwrap();
        assert!(second.already_present >= 2, "{second:?}");
        let after_second = all_versions(&store);
        assert_eq!(after_second.len(), first.added + second.added);
        assert_eq!(of_type(&after_second, "file").len(), 1);
        assert_eq!(of_type(&after_second, "marking-definition").len(), 1);
        assert_eq!(of_type(&after_second, "sighting").len(), 2);
        let ids = |objs: &[serde_json::Value]| {
            objs.iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(ids(&after_first), ids(&after_second));
        // Every version of an object keeps the first one's `created`.
        for o in &after_second {
            if let Some(created) = o.get("created") {
                let first = after_first.iter().find(|f| f["id"] == o["id"]).unwrap();
                assert_eq!(created, &first["created"], "{o}");
            }
        }
        let sightings = of_type(&after_second, "sighting");
        assert_ne!(sightings[0]["modified"], sightings[1]["modified"]);
        // Storing the same scan again changes nothing.
        let again = store_scan(&store, &s, &scan("other.com", None, 1_700_000_060)).unwrap();
        assert_eq!(again.added, 0);
        let text = serde_json::to_string(&after_second).unwrap();
        for secret in ["jane", "other.com", &client.to_string()] {
            assert!(!text.contains(secret), "{secret} published");
        }
    }

    #[test]
    fn the_client_address_is_published_only_when_configured() {
        let client: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(host(Some(client)), "192.0.2.7");
        assert_eq!(host(None), SERVE_HOST);
        for on in [false, true] {
            let p = Publisher::new(settings(4, on), Arc::new(Metrics::new()));
            let now = SystemTime::now();
            assert_eq!(
                p.submit(&[detected("a")], Some(client), now, Duration::ZERO),
                Submitted::Queued
            );
            let mut rx = p.rx.lock().unwrap().take().unwrap();
            let queued = rx.try_recv().unwrap();
            assert_eq!(queued.client.is_some(), on);
            let run = scan_run(&queued).unwrap();
            let want = if on { "192.0.2.7" } else { SERVE_HOST };
            assert_eq!(run.host(), want);
            assert!(
                run.findings
                    .iter()
                    .all(|f| f.path.is_empty() && f.chain.is_empty())
            );
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let metrics = Arc::new(Metrics::new());
        // Not started: nothing empties the queue, as when the store is
        // slower than the scans.
        let p = Publisher::new(settings(1, false), metrics.clone());
        let now = SystemTime::now();
        let clean = Finding::named("clean.txt");
        assert_eq!(
            p.submit([&clean], None, now, Duration::ZERO),
            Submitted::Nothing
        );
        assert_eq!(
            p.submit(&[detected("a")], None, now, Duration::ZERO),
            Submitted::Queued
        );
        for _ in 0..3 {
            assert_eq!(
                p.submit(&[detected("a")], None, now, Duration::ZERO),
                Submitted::Dropped
            );
        }
        let text = metrics.render(1, 0.0);
        assert!(
            text.contains("takedown_taxii_publish_total{result=\"dropped\"} 3"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_background_task_stores_and_drains_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("t.sqlite3")).unwrap());
        let metrics = Arc::new(Metrics::new());
        let p = Publisher::new(settings(8, false), metrics.clone());
        let (tasks, shutdown) = (TaskTracker::new(), CancellationToken::new());
        let now = SystemTime::now();
        for i in 0..3u64 {
            let at = now + Duration::from_secs(i);
            p.submit(&[detected("a")], None, at, Duration::ZERO);
        }
        // Queued before the task runs and shutdown raised at once: what
        // was queued is still stored, what comes after is dropped.
        shutdown.cancel();
        p.start(store.clone(), &tasks, shutdown.clone());
        tasks.close();
        tokio::time::timeout(Duration::from_secs(30), tasks.wait())
            .await
            .unwrap();
        assert_eq!(
            p.submit(&[detected("a")], None, now, Duration::ZERO),
            Submitted::Dropped
        );
        let text = metrics.render(1, 0.0);
        assert!(
            text.contains("takedown_taxii_publish_total{result=\"stored\"} 3"),
            "{text}"
        );
        assert_eq!(of_type(&all_versions(&store), "sighting").len(), 3);
        assert_eq!(of_type(&all_versions(&store), "file").len(), 1);
    }
}
