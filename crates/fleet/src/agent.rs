//! The agent: one per machine, runs the hunts addressed to it.
//!
//! It holds one durable pull consumer per subject it listens on (every
//! agent, each of its labels, its own host id): NATS 2.9 filters a
//! consumer by one subject, and separate consumers keep each one's
//! permissions narrow. Each consumer has explicit acknowledgement and at
//! most one hunt in flight. For each hunt the order is fixed, and it is
//! what makes a crash at any step cost time only:
//!
//! 1. check the message (a bad one is refused in a completion record);
//!    an expired hunt is recorded as expired and not run;
//! 2. publish a `started` record;
//! 3. fetch and verify the bundle ([`crate::bundle`]);
//! 4. run the scan ([`crate::runner`]), publishing each finding with its
//!    deterministic message id and waiting for the server's
//!    acknowledgement; the hunt's ack timer is pushed back while it runs;
//! 5. publish the completion record (its id is per hunt and host) and wait
//!    for the server to store it;
//! 6. only then acknowledge the hunt.
//!
//! Killed before 6, the hunt is delivered again and run again: findings
//! already stored are dropped by the server as duplicates (and by `fleet
//! results`, by id, beyond the server's window), the completion is
//! stored once.

use crate::bundle::{BundleError, fetch_and_verify};
use crate::ids;
use crate::model::{
    Action, AgentInfo, BundleUsed, Completion, Hunt, Outcome, RECORD_VERSION, Started,
};
use crate::runner::{Line, Scan, ScanCommand};
use crate::{Error, Result, fault, now_unix};
use async_nats::jetstream::{self, AckKind, consumer};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Largest finding published: one with more (huge YARA metadata) is sent
/// without its detections' metadata, and counted as dropped if still
/// larger.
pub const MAX_FINDING_BYTES: usize = 256 * 1024;
/// Findings whose server acknowledgement is awaited together: enough to
/// keep a loopback or LAN link busy, little enough to bound memory.
const PUBLISH_WINDOW: usize = 256;
/// Deliveries of a hunt whose bundle could not be fetched before it is
/// recorded as failed.
const MAX_FETCH_TRIES: i64 = 5;
/// Longest a bundle's fetch may take (within the hunt's own limit).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(600);
/// Default of [`AgentConfig::max_hunt_time`]: a full scan of a large
/// server takes hours, not days.
pub const DEFAULT_MAX_HUNT_TIME: Duration = Duration::from_secs(24 * 3600);
/// Default of [`AgentConfig::max_deliveries`].
pub const DEFAULT_MAX_DELIVERIES: i64 = 10;

/// Everything an agent needs to know.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Its host id (a subject token; checked).
    pub host: String,
    /// Its labels (`os=linux`).
    pub labels: BTreeMap<String, String>,
    /// The keys whose bundles it runs.
    pub trust: takedown_bundle::Trust,
    /// False with `--no-actions`: hunts asking to quarantine run as
    /// reports, and the completion says so.
    pub allow_actions: bool,
    /// How scans are run.
    pub scan: ScanCommand,
    /// Where bundles are fetched and unpacked (per hunt, removed after).
    pub work_dir: PathBuf,
    /// How long the server waits for a sign of life before it delivers a
    /// hunt again (the agent sends one every third of it while working).
    pub ack_wait: Duration,
    /// How long one fetch waits for a hunt when none is pending.
    pub poll: Duration,
    /// The secret in this agent's message ids ([`ids::IdKey`]): kept
    /// across restarts, so that a redelivered hunt publishes the same ids.
    pub id_key: ids::IdKey,
    /// Where the journals of quarantine hunts are kept until the hunt is
    /// acknowledged (the state directory: it must survive restarts).
    pub state_dir: PathBuf,
    /// Longest a hunt may run here (bundle fetch and scans): past it the
    /// scan is killed and the hunt recorded as failed, timed out.
    pub max_hunt_time: Duration,
    /// Deliveries of one hunt after which it is recorded as failed
    /// instead of run again (a hunt that ends the agent every time).
    pub max_deliveries: i64,
}

impl AgentConfig {
    /// Checks the host id and labels.
    pub fn validate(&self) -> Result<()> {
        ids::check_host(&self.host)?;
        if self.labels.len() > crate::model::MAX_LABELS {
            return Err(Error::Invalid(format!(
                "{} labels (at most {})",
                self.labels.len(),
                crate::model::MAX_LABELS
            )));
        }
        for (k, v) in &self.labels {
            ids::check_token("the label key", k)?;
            ids::check_token("the label value", v)?;
        }
        if self.ack_wait < Duration::from_secs(1) {
            return Err(Error::Invalid("the ack wait must be at least 1 s".into()));
        }
        if self.max_hunt_time < Duration::from_secs(1) {
            return Err(Error::Invalid(
                "the longest hunt time must be at least 1 s".into(),
            ));
        }
        if self.max_deliveries < 1 {
            return Err(Error::Invalid(
                "the deliveries of a hunt must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The subjects this agent listens on.
    pub fn subjects(&self) -> Vec<String> {
        let mut s = vec![ids::hunt_subject_all(), ids::hunt_subject_host(&self.host)];
        for (k, v) in &self.labels {
            s.push(ids::hunt_subject_label(k, v));
        }
        s
    }
}

/// Runs until `stop` is set: announces the agent, binds its consumers,
/// runs hunts one at a time. Connection losses are ridden out by the
/// client (it reconnects); a hunt interrupted by one is delivered again.
pub async fn run(js: jetstream::Context, cfg: AgentConfig, stop: Arc<AtomicBool>) -> Result<()> {
    cfg.validate()?;
    // The streams come from the first `fleet hunt`; an agent may start
    // first, may not be allowed to create them, or may race other agents
    // creating them. Every step of the start is tried again until it works
    // (a service outlives a server restart or a permission fixed later).
    let mut wait = Duration::from_millis(200);
    let consumers = loop {
        match bind(&js, &cfg).await {
            Ok(c) => break c,
            Err(e) => {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                tracing::warn!("cannot start yet, trying again in {wait:?}: {e}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    };
    tracing::info!(
        "agent {} listening on {}",
        cfg.host,
        cfg.subjects().join(", ")
    );
    while !stop.load(Ordering::Relaxed) {
        // Each request waits up to `poll` for a hunt: that is the pace of
        // an idle agent.
        for c in &consumers {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let batch = c.fetch().max_messages(1).expires(cfg.poll).messages().await;
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("cannot ask for hunts: {e}");
                    tokio::time::sleep(cfg.poll).await;
                    continue;
                }
            };
            while let Some(msg) = batch.next().await {
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => {
                        // The request is over (a lost connection, a missed
                        // heartbeat): ask again a little later.
                        tracing::warn!("cannot receive a hunt: {e}");
                        tokio::time::sleep(cfg.poll).await;
                        break;
                    }
                };
                if let Err(e) = handle(&js, &cfg, &msg).await {
                    // Not acknowledged: the server delivers it again after
                    // the delay (the connection may be back by then).
                    tracing::warn!("hunt not finished, to be delivered again: {e}");
                    let _ = msg.ack_with(AckKind::Nak(Some(cfg.ack_wait))).await;
                }
            }
        }
    }
    Ok(())
}

/// Makes sure of the streams, announces the agent, binds its consumers.
async fn bind(js: &jetstream::Context, cfg: &AgentConfig) -> Result<Vec<consumer::PullConsumer>> {
    crate::conn::ensure_streams(js).await?;
    announce(js, cfg).await?;
    let stream = js
        .get_stream(ids::HUNTS_STREAM)
        .await
        .map_err(|e| Error::nats("cannot open the hunts stream", e))?;
    let mut consumers = Vec::new();
    for subject in cfg.subjects() {
        let name = ids::consumer_name(&cfg.host, &subject);
        let c: consumer::PullConsumer = stream
            .get_or_create_consumer(
                &name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    description: Some(format!("takedown agent {} on {subject}", cfg.host)),
                    filter_subject: subject.clone(),
                    deliver_policy: consumer::DeliverPolicy::All,
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: cfg.ack_wait,
                    max_deliver: -1,
                    max_ack_pending: 1,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| Error::nats(&format!("cannot bind the consumer {name}"), e))?;
        consumers.push(c);
    }
    Ok(consumers)
}

async fn announce(js: &jetstream::Context, cfg: &AgentConfig) -> Result<()> {
    let info = AgentInfo {
        kind: "agent".into(),
        version: RECORD_VERSION,
        host: cfg.host.clone(),
        labels: cfg.labels.clone(),
        started: now_unix(),
        software: env!("CARGO_PKG_VERSION").into(),
        actions: cfg.allow_actions,
    };
    let payload = serde_json::to_vec(&info).map_err(|e| Error::Invalid(e.to_string()))?;
    js.publish(ids::agent_subject(&cfg.host), payload.into())
        .await
        .map_err(|e| Error::nats("cannot announce the agent", e))?
        .await
        .map_err(|e| Error::nats("cannot announce the agent", e))?;
    Ok(())
}

/// Publishes with a message id and waits for the server to store it;
/// returns whether it was a duplicate.
async fn publish_stored(
    js: &jetstream::Context,
    subject: String,
    id: String,
    payload: Vec<u8>,
) -> Result<bool> {
    let ack = js
        .send_publish(
            subject,
            jetstream::message::PublishMessage::build()
                .message_id(id)
                .payload(payload.into()),
        )
        .await
        .map_err(|e| Error::nats("cannot publish", e))?
        .await
        .map_err(|e| Error::nats("the server did not store a record", e))?;
    Ok(ack.duplicate)
}

/// What a run has counted so far.
#[derive(Default)]
struct Counts {
    findings: u64,
    duplicates: u64,
    dropped: u64,
}

/// The journal of a quarantine hunt in the state directory: every
/// finding of the report scan with its message id, made durable before
/// anything is acted on. A file quarantined in a run cut short is gone
/// from its place when the hunt is run again; its finding is then
/// published from here.
fn journal_path(cfg: &AgentConfig, hunt: &str) -> PathBuf {
    cfg.state_dir.join(format!("hunt-{hunt}.journal"))
}

/// Longest journal line read back: a finding as published and its id.
const MAX_JOURNAL_LINE: usize = MAX_FINDING_BYTES + 4096;

/// What the report scan of a quarantine hunt keeps.
struct Journal {
    file: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    /// The files with a detection, to be given to the acting scan.
    detected: std::collections::BTreeSet<PathBuf>,
}

impl Journal {
    fn open(path: PathBuf) -> Result<Journal> {
        use std::io::Write;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot open the journal {}", path.display()), e))?;
        let mut file = std::io::BufWriter::new(f);
        // A line cut by a crash in an earlier run ends here.
        file.write_all(b"\n")
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        Ok(Journal {
            file,
            path,
            detected: Default::default(),
        })
    }

    fn add(&mut self, id: &str, payload: &[u8], finding: &serde_json::Value) -> Result<()> {
        use std::io::Write;
        let id = serde_json::to_vec(id).map_err(|e| Error::Invalid(e.to_string()))?;
        let mut line = Vec::with_capacity(payload.len() + id.len() + 24);
        line.extend_from_slice(b"{\"id\":");
        line.extend_from_slice(&id);
        line.extend_from_slice(b",\"finding\":");
        line.extend_from_slice(payload);
        line.extend_from_slice(b"}\n");
        self.file
            .write_all(&line)
            .map_err(|e| Error::io(format!("cannot write {}", self.path.display()), e))?;
        if let Some(p) = actable(finding) {
            self.detected.insert(p);
        }
        Ok(())
    }

    /// Makes it durable; returns the files to act on.
    fn close(self) -> Result<std::collections::BTreeSet<PathBuf>> {
        let f = self
            .file
            .into_inner()
            .map_err(|e| Error::io("cannot write the journal", e.into_error()))?;
        f.sync_all()
            .map_err(|e| Error::io("cannot write the journal", e))?;
        Ok(self.detected)
    }
}

/// The file a finding asks to act on: one with a detection, on disk
/// (not process memory), named by a path that a file list can carry
/// (UTF-8, no line break). Others are reported only.
fn actable(f: &serde_json::Value) -> Option<PathBuf> {
    let detected = f
        .get("detections")
        .and_then(|d| d.as_array())
        .is_some_and(|d| !d.is_empty());
    let in_memory = f.get("process").and_then(|p| p.get("region")).is_some();
    let path = f.get("path")?.as_str()?;
    if !detected
        || in_memory
        || f.get("path_base64").is_some()
        || path.contains(['\n', '\r'])
        || !std::path::Path::new(path).is_absolute()
    {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Publishes the journal's findings whose ids are not in `published`
/// (each once): those of files acted on by an earlier run cut short, and
/// any the acting scan did not report again.
async fn publish_journal(
    js: &jetstream::Context,
    cfg: &AgentConfig,
    hunt: &str,
    mut published: HashSet<String>,
    counts: &mut Counts,
) -> Result<()> {
    use std::io::{BufRead, Read};
    let path = journal_path(cfg, hunt);
    let f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let mut reader = std::io::BufReader::new(f);
    let subject = ids::found_subject(hunt, &cfg.host);
    let mut pending = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_JOURNAL_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_JOURNAL_LINE {
            // Not written by this agent: skipped to its end.
            let mut skip = Vec::new();
            while !line.ends_with(b"\n") {
                skip.clear();
                let m = (&mut reader)
                    .take(64 * 1024)
                    .read_until(b'\n', &mut skip)
                    .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
                if m == 0 {
                    break;
                }
                line.clear();
                line.extend_from_slice(&skip);
            }
            continue;
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            id: String,
            finding: serde_json::Value,
        }
        // An empty line, or one cut by a crash: nothing to publish.
        let Ok(entry) = serde_json::from_slice::<Entry>(&line) else {
            continue;
        };
        if !entry.id.starts_with(&format!("f:{hunt}:{}:", cfg.host))
            || !published.insert(entry.id.clone())
        {
            continue;
        }
        let payload =
            serde_json::to_vec(&entry.finding).map_err(|e| Error::Invalid(e.to_string()))?;
        let ack = js
            .send_publish(
                subject.clone(),
                jetstream::message::PublishMessage::build()
                    .message_id(entry.id)
                    .payload(payload.into()),
            )
            .await
            .map_err(|e| Error::nats("cannot publish a finding", e))?;
        pending.push(ack);
        if pending.len() >= PUBLISH_WINDOW {
            settle(&mut pending, counts).await?;
        }
    }
    settle(&mut pending, counts).await
}

/// Removes a hunt's journal once the hunt is acknowledged.
fn remove_journal(cfg: &AgentConfig, hunt: &str) {
    let path = journal_path(cfg, hunt);
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("cannot remove {}: {e}", path.display());
    }
}

/// How a scan ended, from the agent's side.
enum ScanEnd {
    /// Ran to its end: exit and summary.
    Ran(crate::runner::Exit, Option<serde_json::Value>),
    /// Killed at the hunt's deadline.
    TimedOut,
}

async fn handle(
    js: &jetstream::Context,
    cfg: &AgentConfig,
    msg: &jetstream::Message,
) -> Result<()> {
    let delivery = msg.info().map(|i| i.delivered).unwrap_or(1);
    let started = now_unix();
    let deadline = tokio::time::Instant::now() + cfg.max_hunt_time;
    let completion = |hunt: &str, outcome: Outcome, reason: Option<String>| Completion {
        kind: "completion".into(),
        version: RECORD_VERSION,
        hunt: hunt.to_string(),
        host: cfg.host.clone(),
        outcome,
        reason,
        findings: 0,
        duplicates: 0,
        dropped: 0,
        delivery,
        started,
        finished: now_unix(),
        exit_code: None,
        bundle: None,
        summary: None,
        omitted: BTreeMap::new(),
    };
    let hunt = match Hunt::parse(&msg.payload) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("refusing a hunt message on {}: {e}", msg.subject);
            if let Some(id) = Hunt::salvage_id(&msg.payload) {
                finish(
                    js,
                    cfg,
                    msg,
                    completion(&id, Outcome::Refused, Some(e.to_string())),
                )
                .await?;
            } else {
                // Nowhere to record it: drop it for good.
                msg.ack_with(AckKind::Term)
                    .await
                    .map_err(|e| Error::nats("cannot acknowledge", e))?;
            }
            return Ok(());
        }
    };
    // The subject is what the permissions and the consumer filter see; the
    // body must say the same, or a message for others is not run here.
    if hunt.target.subject() != msg.subject.as_str() || !hunt.target.matches(&cfg.host, &cfg.labels)
    {
        let why = format!(
            "the hunt is for {} but came on {}",
            hunt.target,
            msg.subject.as_str()
        );
        return finish(
            js,
            cfg,
            msg,
            completion(&hunt.id, Outcome::Refused, Some(why)),
        )
        .await;
    }
    // A hunt that ends every run of the agent (a crash, a kill, a hang
    // past the ack wait without progress) would come back without end:
    // past the ceiling it is recorded as failed, with what earlier runs
    // acted on.
    if delivery > cfg.max_deliveries {
        let why = format!(
            "delivered {delivery} times without finishing (each run ended with the agent); not run again (--max-deliveries {})",
            cfg.max_deliveries
        );
        tracing::warn!("hunt {}: {why}", hunt.id);
        let mut counts = Counts::default();
        with_progress(
            msg,
            cfg.ack_wait,
            publish_journal(js, cfg, &hunt.id, HashSet::new(), &mut counts),
        )
        .await?;
        let mut c = completion(&hunt.id, Outcome::Failed, Some(why));
        c.findings = counts.findings;
        c.duplicates = counts.duplicates;
        finish(js, cfg, msg, c).await?;
        remove_journal(cfg, &hunt.id);
        return Ok(());
    }
    if now_unix() > hunt.expires {
        let why = format!(
            "expired at {} before this agent received it",
            takedown_bundle::format_date(hunt.expires)
        );
        return finish(
            js,
            cfg,
            msg,
            completion(&hunt.id, Outcome::Expired, Some(why)),
        )
        .await;
    }
    tracing::info!("hunt {} (delivery {delivery})", hunt.id);
    let start = Started {
        kind: "started".into(),
        version: RECORD_VERSION,
        hunt: hunt.id.clone(),
        host: cfg.host.clone(),
        delivery,
        at: started,
    };
    publish_stored(
        js,
        ids::state_subject(&hunt.id, &cfg.host, "started"),
        ids::started_msg_id(&cfg.id_key, &hunt.id, &cfg.host, delivery),
        serde_json::to_vec(&start).map_err(|e| Error::Invalid(e.to_string()))?,
    )
    .await?;

    let fetch_deadline = deadline.min(tokio::time::Instant::now() + FETCH_TIMEOUT);
    let verified = {
        let fetch = fetch_and_verify(
            js,
            &hunt.bundle,
            &cfg.trust,
            &cfg.work_dir,
            fetch_deadline.into_std(),
        );
        match with_progress(
            msg,
            cfg.ack_wait,
            tokio::time::timeout_at(fetch_deadline, fetch),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(BundleError::Unavailable(format!(
                "not fetched within {} s",
                fetch_deadline
                    .saturating_duration_since(tokio::time::Instant::now())
                    .as_secs()
                    .max(FETCH_TIMEOUT.as_secs().min(cfg.max_hunt_time.as_secs()))
            ))),
        }
    };
    let verified = match verified {
        Ok(v) => v,
        Err(BundleError::Refused(why)) => {
            tracing::warn!("hunt {}: bundle refused: {why}", hunt.id);
            let why = format!("bundle refused: {why}");
            return finish(
                js,
                cfg,
                msg,
                completion(&hunt.id, Outcome::Refused, Some(why)),
            )
            .await;
        }
        Err(BundleError::Unavailable(why)) if delivery >= MAX_FETCH_TRIES => {
            let why = format!("bundle unavailable after {delivery} tries: {why}");
            return finish(
                js,
                cfg,
                msg,
                completion(&hunt.id, Outcome::Failed, Some(why)),
            )
            .await;
        }
        Err(BundleError::Unavailable(why)) => {
            return Err(Error::Nats(format!("bundle unavailable: {why}")));
        }
    };

    let mut reasons = Vec::new();
    let asked_to_act = hunt.scan.action == Action::Quarantine;
    let act = asked_to_act && cfg.allow_actions;
    if asked_to_act && !cfg.allow_actions {
        reasons.push(
            "the hunt asked to quarantine; this agent does not act (--no-actions): report only"
                .to_string(),
        );
    }
    let (placed, left_out) = cfg.scan.targets(&hunt.scan);
    if !left_out.is_empty() {
        reasons.push(format!("left out: {}", left_out.join("; ")));
    }
    if hunt.scan.follow_symlinks && cfg.scan.root.is_some() {
        reasons.push("symbolic links not followed below --root (-L ignored)".to_string());
    }
    if placed.is_empty()
        && !hunt.scan.paths.is_empty()
        && !hunt.scan.persistence
        && !hunt.scan.processes
    {
        return finish(
            js,
            cfg,
            msg,
            completion(&hunt.id, Outcome::Refused, Some(reasons.join("; "))),
        )
        .await;
    }
    let exe = fault::scan_exe().unwrap_or_else(|| cfg.scan.exe.clone());
    let mut counts = Counts::default();
    let mut done = completion(&hunt.id, Outcome::Done, None);
    done.bundle = Some(BundleUsed {
        version: verified.version,
        key_id: verified.key_id.clone(),
        sha256: verified.sha256.clone(),
    });

    // A quarantine hunt runs twice: a report scan whose findings are
    // journaled (durably) before anything is touched, then an acting scan
    // over the detected files only, whose findings (saying what was done)
    // are published; what the journal holds and the acting scan did not
    // publish follows. Acting first and reporting after would lose the
    // findings of files moved just before a crash: the run again would not
    // find them where they were.
    let report_args = cfg.scan.args(&hunt.scan, &verified.dir, false);
    let mut journal = if act {
        Some(Journal::open(journal_path(cfg, &hunt.id))?)
    } else {
        None
    };
    let first = with_progress(
        msg,
        cfg.ack_wait,
        tokio::time::timeout_at(
            deadline,
            run_scan(
                js,
                cfg,
                &exe,
                &hunt.id,
                &report_args,
                &mut counts,
                journal.as_mut(),
                None,
            ),
        ),
    )
    .await;
    let first = match first {
        Ok(r) => r.map(|(e, s)| ScanEnd::Ran(e, s)),
        Err(_) => Ok(ScanEnd::TimedOut),
    };
    let mut acted: Option<std::result::Result<ScanEnd, Error>> = None;
    let mut published = HashSet::new();
    if let Some(j) = journal.take() {
        let detected = j.close()?;
        fault::point("after-report");
        let ran_whole =
            matches!(&first, Ok(ScanEnd::Ran(e, Some(_))) if matches!(e.code, Some(0..=2)));
        if ran_whole && !detected.is_empty() {
            let list = verified.dir.with_file_name("act.list");
            let mut text = Vec::new();
            for p in &detected {
                text.extend_from_slice(p.as_os_str().as_encoded_bytes());
                text.push(b'\n');
            }
            std::fs::write(&list, text)
                .map_err(|e| Error::io(format!("cannot write {}", list.display()), e))?;
            let act_args = cfg.scan.act_args(&hunt.scan, &verified.dir, &list);
            let r = with_progress(
                msg,
                cfg.ack_wait,
                tokio::time::timeout_at(
                    deadline,
                    run_scan(
                        js,
                        cfg,
                        &exe,
                        &hunt.id,
                        &act_args,
                        &mut counts,
                        None,
                        Some(&mut published),
                    ),
                ),
            )
            .await;
            acted = Some(match r {
                Ok(r) => r.map(|(e, s)| ScanEnd::Ran(e, s)),
                Err(_) => Ok(ScanEnd::TimedOut),
            });
        }
        with_progress(
            msg,
            cfg.ack_wait,
            publish_journal(js, cfg, &hunt.id, published, &mut counts),
        )
        .await?;
    }
    done.findings = counts.findings;
    done.duplicates = counts.duplicates;
    done.dropped = counts.dropped;
    let timed_out = format!(
        "timed out: the hunt ran longer than this agent allows (--max-hunt-time {} s); the scan was stopped",
        cfg.max_hunt_time.as_secs()
    );
    match first {
        Ok(ScanEnd::Ran(exit, summary)) => {
            if interrupted(&exit, summary.as_ref()) {
                return Err(Error::Nats(
                    "the scan was interrupted; the hunt is run again later".into(),
                ));
            }
            done.exit_code = exit.code;
            let finished = matches!(exit.code, Some(0..=2)) && summary.is_some();
            if !finished {
                done.outcome = Outcome::Failed;
                reasons.push(match exit.code {
                    Some(c) => format!("the scan exited with {c}: {}", exit.stderr_tail),
                    None => format!("the scan was killed: {}", exit.stderr_tail),
                });
            }
            done.summary = summary.map(|mut s| {
                if let Some(o) = s.as_object_mut() {
                    o.insert("host".into(), cfg.host.clone().into());
                }
                s
            });
        }
        Ok(ScanEnd::TimedOut) => {
            done.outcome = Outcome::Failed;
            reasons.push(timed_out.clone());
        }
        // The scan could not be started at all: this machine cannot run
        // it, and trying again would not change that.
        Err(Error::Io { context, source }) => {
            done.outcome = Outcome::Failed;
            reasons.push(format!("{context}: {source}"));
        }
        Err(e) => return Err(e),
    }
    match acted {
        None => {}
        Some(Ok(ScanEnd::Ran(exit, summary))) => {
            if interrupted(&exit, summary.as_ref()) {
                return Err(Error::Nats(
                    "the quarantine was interrupted; the hunt is run again later".into(),
                ));
            }
            match (exit.code, summary) {
                (Some(0..=2), Some(s)) => {
                    // What was done comes from the acting scan; what was
                    // scanned from the report scan.
                    if let Some(o) = done.summary.as_mut().and_then(|d| d.as_object_mut()) {
                        for k in [
                            "quarantined",
                            "deleted",
                            "refused",
                            "failed",
                            "autostarts_disabled",
                        ] {
                            if let Some(v) = s.get(k) {
                                o.insert(k.into(), v.clone());
                            }
                        }
                    }
                }
                (code, _) => {
                    done.outcome = Outcome::Failed;
                    reasons.push(match code {
                        Some(c) => {
                            format!("the quarantine scan exited with {c}: {}", exit.stderr_tail)
                        }
                        None => format!("the quarantine scan was killed: {}", exit.stderr_tail),
                    });
                }
            }
        }
        Some(Ok(ScanEnd::TimedOut)) => {
            done.outcome = Outcome::Failed;
            reasons.push(format!("{timed_out} while quarantining"));
        }
        Some(Err(Error::Io { context, source })) => {
            done.outcome = Outcome::Failed;
            reasons.push(format!("{context}: {source}"));
        }
        Some(Err(e)) => return Err(e),
    }
    if !reasons.is_empty() {
        done.reason = Some(reasons.join("; "));
    }
    drop(verified);
    fault::point("before-completion");
    finish(js, cfg, msg, done).await?;
    if act {
        remove_journal(cfg, &hunt.id);
    }
    Ok(())
}

/// Stopped by a SIGINT meant for the agent (a terminal's Ctrl-C,
/// systemd's stop) rather than finished: not recorded, so the hunt is
/// delivered again and runs whole later.
fn interrupted(exit: &crate::runner::Exit, summary: Option<&serde_json::Value>) -> bool {
    exit.code == Some(130)
        || summary
            .and_then(|s| s.get("interrupted"))
            .and_then(|i| i.as_bool())
            == Some(true)
}

/// Publishes the completion, waits for it to be stored, then acknowledges
/// the hunt (and waits for the server to confirm the acknowledgement).
async fn finish(
    js: &jetstream::Context,
    cfg: &AgentConfig,
    msg: &jetstream::Message,
    mut c: Completion,
) -> Result<()> {
    c.finished = now_unix();
    let subject = ids::state_subject(&c.hunt, &c.host, "done");
    let id = ids::completion_msg_id(&cfg.id_key, &c.hunt, &c.host);
    // Cut to fit (the summary's lists, the reason): one that the server
    // refused would leave the hunt to be delivered again without end.
    let payload = c.to_bounded_json(crate::model::MAX_COMPLETION_BYTES)?;
    let mut dup = publish_stored(js, subject.clone(), id.clone(), payload.clone()).await?;
    // A duplicate should be this agent's own completion from an earlier
    // delivery. Should the id ever have been taken by someone else (a
    // key leaked, a copy of the state directory on another machine), the
    // hunt is not acknowledged on the strength of another's record: the
    // record on this host's subject is looked up, and the completion
    // published again under an id of its own when it is not there.
    if dup && !completion_stored(js, &c.hunt, &c.host).await {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::Invalid(format!("no random numbers for a message id: {e}")))?;
        tracing::warn!(
            "hunt {}: the completion's id was taken but no completion of this host is stored; publishing it again",
            c.hunt
        );
        let again = format!("{id}:{}", hex::encode(nonce));
        dup = publish_stored(js, subject, again, payload).await?;
    }
    tracing::info!(
        "hunt {}: {}{}",
        c.hunt,
        c.outcome.as_str(),
        if dup { " (already recorded)" } else { "" }
    );
    fault::point("before-ack");
    msg.double_ack()
        .await
        .map_err(|e| Error::nats("cannot acknowledge the hunt", e))
}

/// Whether a completion of `host` for `hunt` is stored on its own subject
/// (a direct get of the last message on it; the permissions give each
/// agent this subject only). False when it cannot be told: publishing the
/// completion once more costs a second copy, which `fleet status` counts
/// and does not believe twice.
async fn completion_stored(js: &jetstream::Context, hunt: &str, host: &str) -> bool {
    let subject = ids::state_subject(hunt, host, "done");
    let stream = js.get_stream_no_info(ids::RESULTS_STREAM).await;
    let got = match stream {
        Ok(s) => s.direct_get_last_for_subject(subject.clone()).await,
        Err(e) => {
            tracing::warn!("cannot look up {subject}: {e}");
            return false;
        }
    };
    match got {
        Ok(m) => serde_json::from_slice::<Completion>(&m.payload)
            .is_ok_and(|c| c.hunt == hunt && c.host == host),
        Err(e) => {
            if e.kind() != jetstream::stream::DirectGetErrorKind::NotFound {
                tracing::warn!("cannot look up {subject}: {e}");
            }
            false
        }
    }
}

/// Runs `work`, telling the server every third of `ack_wait` that the hunt
/// is still being worked on, so that a long scan is not delivered again.
async fn with_progress<T>(
    msg: &jetstream::Message,
    ack_wait: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    let mut tick = tokio::time::interval((ack_wait / 3).max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                if let Err(e) = msg.ack_with(AckKind::Progress).await {
                    tracing::warn!("cannot tell the server the hunt is in progress: {e}");
                }
            }
        }
    }
}

/// Runs the scan, publishing its findings (into `journal` instead when
/// given; their ids into `published` when given); returns its exit and
/// summary. Dropped (the hunt's deadline), the scan is killed with it.
#[allow(clippy::too_many_arguments)]
async fn run_scan(
    js: &jetstream::Context,
    cfg: &AgentConfig,
    exe: &std::path::Path,
    hunt: &str,
    args: &[std::ffi::OsString],
    counts: &mut Counts,
    mut journal: Option<&mut Journal>,
    mut published: Option<&mut HashSet<String>>,
) -> Result<(crate::runner::Exit, Option<serde_json::Value>)> {
    let mut scan = Scan::start(exe, args)?;
    let subject = ids::found_subject(hunt, &cfg.host);
    let mut ranks: HashMap<String, u64> = HashMap::new();
    let mut pending = Vec::with_capacity(PUBLISH_WINDOW);
    let mut summary = None;
    while let Some(line) = scan.next().await? {
        match line {
            Line::Finding(f) => {
                let identity = ids::finding_identity(&f);
                let rank = ranks.entry(identity.clone()).or_insert(0);
                let id = ids::finding_msg_id(&cfg.id_key, hunt, &cfg.host, &identity, *rank);
                *rank += 1;
                let Some(payload) = fit(f.clone()) else {
                    counts.dropped += 1;
                    continue;
                };
                if let Some(j) = journal.as_deref_mut() {
                    j.add(&id, &payload, &f)?;
                    continue;
                }
                if let Some(p) = published.as_deref_mut() {
                    fault::point("acted-finding-read");
                    p.insert(id.clone());
                }
                let ack = js
                    .send_publish(
                        subject.clone(),
                        jetstream::message::PublishMessage::build()
                            .message_id(id)
                            .payload(payload.into()),
                    )
                    .await
                    .map_err(|e| Error::nats("cannot publish a finding", e))?;
                pending.push(ack);
                if pending.len() >= PUBLISH_WINDOW {
                    settle(&mut pending, counts).await?;
                }
            }
            Line::Summary(s) => summary = Some(s),
            Line::TooLong => counts.dropped += 1,
            Line::Other => {}
        }
    }
    settle(&mut pending, counts).await?;
    let exit = scan.wait().await?;
    Ok((exit, summary))
}

/// Waits for the server to store every pending finding.
async fn settle(
    pending: &mut Vec<jetstream::context::PublishAckFuture>,
    counts: &mut Counts,
) -> Result<()> {
    for ack in pending.drain(..) {
        let ack = ack
            .await
            .map_err(|e| Error::nats("the server did not store a finding", e))?;
        if ack.duplicate {
            counts.duplicates += 1;
        } else {
            counts.findings += 1;
        }
        fault::point("after-finding");
    }
    Ok(())
}

/// The finding as published: whole, or without its detections' metadata
/// when that makes it too large; `None` when it cannot fit at all.
fn fit(mut f: serde_json::Value) -> Option<Vec<u8>> {
    let bytes = serde_json::to_vec(&f).ok()?;
    if bytes.len() <= MAX_FINDING_BYTES {
        return Some(bytes);
    }
    if let Some(ds) = f.get_mut("detections").and_then(|d| d.as_array_mut()) {
        for d in ds {
            if let Some(o) = d.as_object_mut() {
                o.insert("metadata".into(), serde_json::json!({}));
            }
        }
    }
    let bytes = serde_json::to_vec(&f).ok()?;
    (bytes.len() <= MAX_FINDING_BYTES).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_findings_lose_metadata_then_are_dropped() {
        let small = serde_json::json!({"type": "finding", "detections": [{"metadata": {"a": 1}}]});
        assert!(fit(small).is_some());
        let big_meta = serde_json::json!({
            "type": "finding",
            "detections": [{"name": "x", "metadata": {"blob": "x".repeat(MAX_FINDING_BYTES)}}]
        });
        let out = fit(big_meta).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["detections"][0]["name"], "x");
        assert_eq!(v["detections"][0]["metadata"], serde_json::json!({}));
        let huge_path =
            serde_json::json!({"type": "finding", "path": "x".repeat(MAX_FINDING_BYTES)});
        assert!(fit(huge_path).is_none());
    }
}
