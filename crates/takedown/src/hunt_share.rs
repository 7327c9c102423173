//! `takedown hunt --nats URL --publish|--worker`: shared log hunting.
//! The batches and partial states are `takedown-netlog`'s (`share`), the
//! streams `takedown-fleet`'s (`logs`); this module runs the two sides:
//! the publisher reads the logs, puts the batches on the work queue and
//! merges the parts as they come (its report is then printed exactly as
//! `takedown hunt` prints one); a worker takes batches, hunts them,
//! publishes each part and only then acknowledges the batch.

use crate::hunt::HuntArgs;
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use takedown_engine::sanitize::for_terminal;
use takedown_fleet::async_nats::jetstream::{self, AckKind};
use takedown_fleet::conn::ConnectConfig;
use takedown_fleet::logs;
use takedown_netlog::hunt::{Input, Options, Report};
use takedown_netlog::matcher::Matcher;
use takedown_netlog::share::{self, Added, Aggregator, Batch, Job, OutBatch, Reread};

/// Batches published and not yet stored by the server, at most: enough
/// to keep the link busy, few enough to bound the memory (each up to a
/// message).
const IN_FLIGHT: usize = 32;
/// How often the publisher says how far it is.
const PROGRESS: Duration = Duration::from_secs(10);
/// How long a worker's request for a batch waits.
const POLL: Duration = Duration::from_secs(1);
/// How long a batch of another indicator set is left for other workers.
const OTHER_SET_DELAY: Duration = Duration::from_secs(5);

// The update: fields the fleet's configuration may grow keep their
// defaults (needless while it has none).
#[allow(clippy::needless_update)]
fn connect_config(a: &HuntArgs, name: &str, retry: bool) -> anyhow::Result<ConnectConfig> {
    let Some(url) = &a.nats else {
        bail!("--publish and --worker need --nats URL");
    };
    Ok(ConnectConfig {
        url: url.clone(),
        creds: a.creds.clone(),
        tls_ca: a.tls_ca.clone(),
        name: name.into(),
        retry_initial: retry,
        // The rest as the fleet's defaults (the shared `_INBOX`).
        ..Default::default()
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A random key (128 bits from the standard library's OS-seeded hash
/// keys): the job's key for counting distinct values.
fn random_key() -> (u64, u64) {
    use std::hash::BuildHasher;
    let a = std::collections::hash_map::RandomState::new().hash_one(0x7464_u64);
    let b = std::collections::hash_map::RandomState::new().hash_one(0x6c62_u64);
    (a, b)
}

/// The publisher: reads `inputs`, shares them out, merges the parts.
pub fn publish(
    a: &HuntArgs,
    inputs: &[Input],
    matcher: &Matcher,
    opts: &Options,
) -> anyhow::Result<Report> {
    let job_id = takedown_fleet::ids::new_hunt_id(takedown_fleet::now_unix())?;
    let mut job = Job::new(&job_id, matcher, opts, random_key())
        .map_err(|e| anyhow::anyhow!("cannot share this hunt: {e}"))?;
    if a.by_path {
        for (name, why) in job.by_path(inputs) {
            eprintln!(
                "takedown: {}: sent with its lines, not by path: {}",
                for_terminal(&name),
                for_terminal(&why)
            );
        }
    }
    let rt = runtime()?;
    let cfg = connect_config(a, "takedown hunt --publish", false)?;
    let ack_wait = Duration::from_secs(a.ack_wait.clamp(1, 3600));
    if a.batch_bytes < 4096 {
        bail!("--batch-bytes {}: at least 4096", a.batch_bytes);
    }
    let batch_bytes = a.batch_bytes;
    let max_range = share::MAX_RANGE as usize;
    if !(4096..=max_range).contains(&a.range_bytes) {
        bail!("--range-bytes {}: 4096 to {max_range}", a.range_bytes);
    }
    let range_bytes = a.range_bytes;
    let (js, mut parts, max) = rt.block_on(async {
        let js = takedown_fleet::conn::connect(&cfg).await?;
        logs::ensure(&js, ack_wait).await?;
        let parts = logs::Parts::open(&js, &job_id).await?;
        let max = logs::max_message(&js);
        Ok::<_, anyhow::Error>((js, parts, max))
    })?;
    eprintln!(
        "takedown: shared hunt {job_id}: batches on {}, waiting for workers (`takedown hunt --nats URL --worker` with the same indicators)",
        logs::batch_subject(&job_id)?
    );
    let mut agg = Aggregator::new(&job, matcher, opts, inputs.len() as u32);
    let (tx, rx) = tokio::sync::mpsc::channel::<OutBatch>(4);
    let stop = Arc::clone(&opts.stop);
    let (published, driven) = std::thread::scope(|s| {
        let job = &job;
        let reader = s.spawn(move || {
            job.batches(
                inputs,
                matcher,
                opts,
                max,
                batch_bytes,
                range_bytes,
                &mut |b| tx.blocking_send(b).is_ok(),
            )
        });
        let sizes = (max, batch_bytes);
        let driven = rt.block_on(drive(&js, job, rx, &mut parts, &mut agg, sizes, &stop));
        if driven.is_err() {
            // The reader stops at its next batch (its queue is closed).
            stop.store(true, Ordering::SeqCst);
        }
        (reader.join(), driven)
    });
    let published = match published {
        Ok(p) => p,
        Err(p) => std::panic::resume_unwind(p),
    };
    let stats = driven?;
    let (batches, _) = agg.progress();
    eprintln!(
        "takedown: shared hunt {job_id}: {batches} batches merged; {} parts dropped as duplicates (batches read again), {} refused",
        agg.duplicates(),
        stats.refused
    );
    if a.by_path {
        eprintln!(
            "takedown: shared hunt {job_id}: {} batches sent by path, {} of them sent again with their lines (in {} batches; no worker could read them{}), {} given up",
            stats.by_path,
            stats.resent,
            stats.resent_batches,
            stats
                .first_unread
                .as_deref()
                .map(|w| format!("; the first: {}", for_terminal(w)))
                .unwrap_or_default(),
            stats.abandoned
        );
    }
    if let Err(e) = rt.block_on(logs::purge_parts(&js, &job_id)) {
        eprintln!("takedown: warning: {}", for_terminal(&e.to_string()));
    }
    Ok(agg.finish(published))
}

#[derive(Default)]
struct DriveStats {
    refused: u64,
    /// Batches sent by path.
    by_path: u64,
    /// Of them, sent again with their lines.
    resent: u64,
    /// The batches of lines these were cut into.
    resent_batches: u64,
    /// Of them, given up (the range changed under the publisher too).
    abandoned: u64,
    /// Why a worker could not read the first batch it could not read.
    first_unread: Option<String>,
}

/// Publishes the batches the reader hands over and merges the parts as
/// they come, until every batch published is merged (or Ctrl-C).
/// `sizes`: the largest message and the most bytes of lines per batch
/// (for batches sent by path that have to be sent with their lines).
async fn drive(
    js: &jetstream::Context,
    job: &Job,
    mut rx: tokio::sync::mpsc::Receiver<OutBatch>,
    parts: &mut logs::Parts,
    agg: &mut Aggregator<'_>,
    sizes: (usize, usize),
    stop: &AtomicBool,
) -> anyhow::Result<DriveStats> {
    let subject = logs::batch_subject(&job.id)?;
    // The batches sent by path not merged yet, to send again with their
    // lines should a worker be unable to read one.
    let mut by_path: HashMap<String, Reread> = HashMap::new();
    let mut stats = DriveStats::default();
    let mut inflight = tokio::task::JoinSet::new();
    let mut reading = true;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut last_progress = Instant::now();
    loop {
        if !reading && inflight.is_empty() && agg.done() {
            return Ok(stats);
        }
        tokio::select! {
            b = rx.recv(), if reading && inflight.len() < IN_FLIGHT => match b {
                Some(b) => {
                    agg.expect(&b.id);
                    let ack = logs::publish_start(js, &subject, &b.id, b.payload).await?;
                    inflight.spawn(ack.into_future());
                    if let Some(r) = b.reread {
                        stats.by_path += 1;
                        by_path.insert(b.id, r);
                    }
                }
                None => reading = false,
            },
            Some(r) = inflight.join_next(), if !inflight.is_empty() => {
                match r {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => bail!("the server did not store a batch: {e}"),
                    Err(e) => bail!("a batch publication failed: {e}"),
                }
            }
            p = parts.next() => match p {
                Some(Ok(payload)) => match agg.add(&payload) {
                    Ok(Added::Merged(id)) => {
                        by_path.remove(&id);
                    }
                    Ok(Added::Kept | Added::Duplicate) => {}
                    Ok(Added::Unread(id, why)) => {
                        let Some(r) = by_path.remove(&id) else {
                            continue;
                        };
                        stats.first_unread.get_or_insert(why);
                        match tokio::task::block_in_place(|| agg.resend(&r, sizes.0, sizes.1)) {
                            Ok(batches) => {
                                // Their own message ids: the range's
                                // is within the server's duplicate window.
                                stats.resent += 1;
                                for (mid, payload) in batches {
                                    stats.resent_batches += 1;
                                    let ack = logs::publish_start(js, &subject, &mid, payload).await?;
                                    inflight.spawn(ack.into_future());
                                }
                            }
                            Err(e) => {
                                eprintln!(
                                    "takedown: error: {}: not hunted: {}",
                                    for_terminal(&r.range()),
                                    for_terminal(&e)
                                );
                                agg.abandon(&id, r.source(), format!("{} not hunted: {e}", r.range()));
                                stats.abandoned += 1;
                            }
                        }
                    }
                    Err(e) => {
                        stats.refused += 1;
                        eprintln!(
                            "takedown: warning: a partial state refused: {}",
                            for_terminal(&e.to_string())
                        );
                    }
                },
                Some(Err(e)) => bail!("{e}"),
                None => bail!("the server ended the reading of the partial states"),
            },
            _ = tick.tick() => {
                if stop.load(Ordering::Relaxed) {
                    // Ctrl-C: what is merged is reported, marked as
                    // interrupted; the batches left stay on the queue.
                    return Ok(stats);
                }
                if last_progress.elapsed() >= PROGRESS {
                    last_progress = Instant::now();
                    let (n, done) = agg.progress();
                    eprintln!("takedown: {done} of {n} batches merged{}", if reading { " (still reading)" } else { "" });
                }
            }
        }
    }
}

/// A worker: takes batches until Ctrl-C.
pub fn worker(a: &HuntArgs, matcher: &Matcher, opts: &Options) -> anyhow::Result<u8> {
    let rt = runtime()?;
    let cfg = connect_config(a, "takedown hunt --worker", true)?;
    let fingerprint = share::fingerprint(matcher);
    // Resolved once: a batch's path is resolved too, then must lie below.
    let roots = a
        .read_root
        .iter()
        .map(|r| {
            std::fs::canonicalize(r)
                .with_context(|| format!("--read-root {}", r.display()))
                .and_then(|c| {
                    if c.is_dir() {
                        Ok(c)
                    } else {
                        bail!("--read-root {}: not a directory", r.display())
                    }
                })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let stop = Arc::clone(&opts.stop);
    let mut n = WorkerCounts::default();
    let counts = &mut n;
    rt.block_on(async {
        let js = takedown_fleet::conn::connect(&cfg).await?;
        let mut said = false;
        let consumer = loop {
            if let Some(c) = logs::workers_consumer(&js).await? {
                break c;
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            if !said {
                eprintln!("takedown: waiting for a publisher to create the work queue");
                said = true;
            }
            tokio::time::sleep(POLL).await;
        };
        let max = logs::max_message(&js);
        eprintln!("takedown: worker ready (indicators {fingerprint})");
        while !stop.load(Ordering::Relaxed) {
            let msg = match logs::next_batch(&consumer, POLL).await {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => {
                    eprintln!("takedown: warning: {}", for_terminal(&e.to_string()));
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            let (seq, delivered) = msg
                .info()
                .map_or((0, 1), |i| (i.stream_sequence, i.delivered));
            let batch = Batch::decode(&msg.payload).and_then(|b| {
                match logs::batch_subject(&b.job) {
                    Ok(s) if s == msg.subject.as_str() => Ok(b),
                    _ => Err(share::Refused(
                        "its job is not the one of its subject".into(),
                    )),
                }
            });
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    // Garbage on the queue: said, dropped for good (never
                    // delivered again), and on to the next.
                    counts.refused += 1;
                    eprintln!(
                        "takedown: error: batch {seq} on {} refused: {}; dropped",
                        for_terminal(msg.subject.as_str()),
                        for_terminal(&e.to_string())
                    );
                    let _ = msg.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            if batch.fingerprint != fingerprint {
                eprintln!(
                    "takedown: warning: batch {} of job {} was cut for other indicators ({}); left for other workers",
                    batch.id, batch.job, batch.fingerprint
                );
                let _ = msg.ack_with(AckKind::Nak(Some(OTHER_SET_DELAY))).await;
                continue;
            }
            logs::fault_point("log-before-part");
            let (job, id) = (batch.job.clone(), batch.id.clone());
            if batch.by_path() {
                let loaded = tokio::task::block_in_place(|| batch.load(&roots));
                if let Err(why) = loaded {
                    // Back to the publisher, which sends the lines.
                    let said = async {
                        let (mid, bytes) = share::encode_unread(&job, &id, &why)?;
                        logs::publish(&js, &logs::part_subject(&job)?, &mid, bytes).await?;
                        Ok::<_, anyhow::Error>(())
                    }
                    .await;
                    if let Err(e) = said {
                        eprintln!(
                            "takedown: warning: batch {id} not done, to be delivered again: {}",
                            for_terminal(&e.to_string())
                        );
                        let _ = msg.ack_with(AckKind::Nak(Some(POLL))).await;
                        continue;
                    }
                    if counts.unread == 0 {
                        eprintln!(
                            "takedown: warning: batch {id} sent by path not read here (sent back to the publisher; further ones counted): {}",
                            for_terminal(&why)
                        );
                    }
                    counts.unread += 1;
                    let _ = msg.double_ack().await;
                    continue;
                }
                counts.by_path += 1;
            }
            let state = tokio::task::block_in_place(|| {
                share::hunt_batch(batch, matcher, &fingerprint, opts)
            });
            let published = async {
                let state = state?;
                let parts = share::encode_partial(&job, &id, state, max)?;
                let subject = logs::part_subject(&job)?;
                let mut stored_before = 0u64;
                for (id, bytes) in parts {
                    if logs::publish(&js, &subject, &id, bytes).await? {
                        stored_before += 1;
                    }
                }
                Ok::<_, anyhow::Error>(stored_before)
            }
            .await;
            let stored_before = match published {
                Ok(n) => n,
                Err(e) => {
                eprintln!(
                    "takedown: warning: batch {} not done, to be delivered again: {}",
                    id,
                    for_terminal(&e.to_string())
                );
                let _ = msg.ack_with(AckKind::Nak(Some(POLL))).await;
                continue;
                }
            };
            logs::fault_point("log-before-ack");
            if let Err(e) = msg.double_ack().await {
                eprintln!(
                    "takedown: warning: batch {} not acknowledged (it will be read again, its part merged once): {e}",
                    id
                );
                continue;
            }
            counts.done += 1;
            if delivered > 1 {
                counts.again += 1;
            }
            counts.stored_before += stored_before;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    eprintln!(
        "takedown: worker stopped: {} batches done ({} of them delivered again, {} read by path), {} parts the server had already stored, {} batches refused, {} sent by path and not readable here",
        n.done, n.again, n.by_path, n.stored_before, n.refused, n.unread
    );
    Ok(crate::exit::CLEAN)
}

/// What a worker did, said when it stops.
#[derive(Default)]
struct WorkerCounts {
    done: u64,
    /// Batches delivered more than once (another worker died with them,
    /// or this one could not finish them).
    again: u64,
    /// Parts the server had already (a batch read again after its part
    /// was stored): dropped there by message id.
    stored_before: u64,
    refused: u64,
    /// Batches whose lines this worker read by path.
    by_path: u64,
    /// Batches sent by path it could not read (sent back).
    unread: u64,
}
