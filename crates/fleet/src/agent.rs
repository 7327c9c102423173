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
use std::collections::{BTreeMap, HashMap};
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

async fn handle(
    js: &jetstream::Context,
    cfg: &AgentConfig,
    msg: &jetstream::Message,
) -> Result<()> {
    let delivery = msg.info().map(|i| i.delivered).unwrap_or(1);
    let started = now_unix();
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

    let verified = {
        let fetch = fetch_and_verify(js, &hunt.bundle, &cfg.trust, &cfg.work_dir);
        with_progress(msg, cfg.ack_wait, fetch).await
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

    let mut reason = None;
    let act = hunt.scan.action == Action::Quarantine;
    if act && !cfg.allow_actions {
        reason = Some(
            "the hunt asked to quarantine; this agent does not act (--no-actions): report only"
                .to_string(),
        );
    }
    let args = cfg
        .scan
        .args(&hunt.scan, &verified.dir, act && cfg.allow_actions);
    let mut counts = Counts::default();
    let run = with_progress(
        msg,
        cfg.ack_wait,
        run_scan(js, cfg, &hunt.id, &args, &mut counts),
    )
    .await;
    let mut done = completion(&hunt.id, Outcome::Done, reason);
    done.bundle = Some(BundleUsed {
        version: verified.version,
        key_id: verified.key_id.clone(),
        sha256: verified.sha256.clone(),
    });
    done.findings = counts.findings;
    done.duplicates = counts.duplicates;
    done.dropped = counts.dropped;
    match run {
        Ok((exit, summary)) => {
            // Stopped by a SIGINT meant for the agent (a terminal's Ctrl-C,
            // systemd's stop) rather than finished: not recorded, so the
            // hunt is delivered again and runs whole later.
            let interrupted = exit.code == Some(130)
                || summary
                    .as_ref()
                    .and_then(|s| s.get("interrupted"))
                    .and_then(|i| i.as_bool())
                    == Some(true);
            if interrupted {
                return Err(Error::Nats(
                    "the scan was interrupted; the hunt is run again later".into(),
                ));
            }
            done.exit_code = exit.code;
            let finished = matches!(exit.code, Some(0..=2)) && summary.is_some();
            if !finished {
                done.outcome = Outcome::Failed;
                done.reason = Some(match exit.code {
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
        // The scan could not be started at all: this machine cannot run
        // it, and trying again would not change that.
        Err(Error::Io { context, source }) => {
            done.outcome = Outcome::Failed;
            done.reason = Some(format!("{context}: {source}"));
        }
        Err(e) => return Err(e),
    }
    drop(verified);
    fault::point("before-completion");
    finish(js, cfg, msg, done).await
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
    let payload = serde_json::to_vec(&c).map_err(|e| Error::Invalid(e.to_string()))?;
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

/// Runs the scan, publishing its findings; returns its exit and summary.
async fn run_scan(
    js: &jetstream::Context,
    cfg: &AgentConfig,
    hunt: &str,
    args: &[std::ffi::OsString],
    counts: &mut Counts,
) -> Result<(crate::runner::Exit, Option<serde_json::Value>)> {
    let mut scan = Scan::start(&cfg.scan.exe, args)?;
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
                let Some(payload) = fit(f) else {
                    counts.dropped += 1;
                    continue;
                };
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
