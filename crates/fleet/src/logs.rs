//! Shared log hunting over JetStream: the work queue of log batches and
//! the stream of the workers' partial states.
//!
//! `takedown hunt --nats URL --publish LOG...` puts batches (whole lines
//! of the logs, cut by `takedown-netlog`'s `share` module) on the
//! work-queue stream [`LOGS_STREAM`], each with its batch id as message id,
//! and reads the parts the workers publish on [`PARTS_STREAM`].
//! `takedown hunt --nats URL --worker` pulls batches from the one durable
//! consumer [`WORKERS_CONSUMER`] that every worker shares, hunts each,
//! publishes its partial state with the batch id as message id, waits for
//! the server to store it, and only then acknowledges the batch. A worker
//! killed before the acknowledgement costs a redelivery after the ack
//! wait; its part, if it was stored, is dropped as a duplicate by the
//! server (same message id within the window) or by the publisher (keyed
//! by batch id, whatever the window). This module only names the streams
//! and moves bytes; what the bytes hold is `takedown-netlog`'s.

use crate::{Error, Result};
use async_nats::jetstream::{self, consumer, stream};
use std::time::Duration;

/// The work queue of batches (a message is removed once acknowledged).
pub const LOGS_STREAM: &str = "TAKEDOWN_LOGS";
/// Subjects of the work queue: `takedown.logs.batch.JOB`.
pub const LOGS_SUBJECTS: &str = "takedown.logs.batch.*";
/// The workers' partial states.
pub const PARTS_STREAM: &str = "TAKEDOWN_LOGPARTS";
/// Subjects of the partial states: `takedown.logs.part.JOB`.
pub const PARTS_SUBJECTS: &str = "takedown.logs.part.*";
/// The durable pull consumer every worker shares.
pub const WORKERS_CONSUMER: &str = "log-workers";
/// Largest message on both streams; each side also keeps under the
/// server's own `max_payload` ([`max_message`]).
pub const MAX_LOG_MESSAGE: usize = 1 << 20;
/// How long batches and parts are kept: a shared hunt is a matter of
/// hours; what an interrupted publisher leaves behind goes by itself.
pub const LOGS_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long the server remembers message ids to drop duplicates.
pub const LOGS_DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 3600);

/// The subject of a job's batches.
pub fn batch_subject(job: &str) -> Result<String> {
    crate::ids::check_token("job id", job)?;
    Ok(format!("takedown.logs.batch.{job}"))
}

/// The subject of a job's partial states.
pub fn part_subject(job: &str) -> Result<String> {
    crate::ids::check_token("job id", job)?;
    Ok(format!("takedown.logs.part.{job}"))
}

/// The largest message both sides may send: the stream's bound or the
/// server's `max_payload`, the smaller.
pub fn max_message(js: &jetstream::Context) -> usize {
    let server = js.client().server_info().max_payload;
    if server == 0 {
        MAX_LOG_MESSAGE
    } else {
        server.min(MAX_LOG_MESSAGE)
    }
}

/// The publisher's side: both streams and the workers' consumer, created
/// when missing. `ack_wait` is how long a batch stays with a worker that
/// does not acknowledge it (a worker killed mid-batch) before it is
/// delivered again; it is set when the consumer is created.
pub async fn ensure(js: &jetstream::Context, ack_wait: Duration) -> Result<()> {
    let max = i32::try_from(MAX_LOG_MESSAGE).unwrap_or(i32::MAX);
    let logs = js
        .get_or_create_stream(stream::Config {
            name: LOGS_STREAM.into(),
            description: Some("takedown shared log hunting: batches (work queue)".into()),
            subjects: vec![LOGS_SUBJECTS.into()],
            retention: stream::RetentionPolicy::WorkQueue,
            max_age: LOGS_MAX_AGE,
            max_message_size: max,
            duplicate_window: LOGS_DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::nats(&format!("cannot create the stream {LOGS_STREAM}"), e))?;
    js.get_or_create_stream(stream::Config {
        name: PARTS_STREAM.into(),
        description: Some("takedown shared log hunting: partial states".into()),
        subjects: vec![PARTS_SUBJECTS.into()],
        retention: stream::RetentionPolicy::Limits,
        max_age: LOGS_MAX_AGE,
        max_message_size: max,
        duplicate_window: LOGS_DUPLICATE_WINDOW,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| Error::nats(&format!("cannot create the stream {PARTS_STREAM}"), e))?;
    logs.get_or_create_consumer(
        WORKERS_CONSUMER,
        consumer::pull::Config {
            durable_name: Some(WORKERS_CONSUMER.into()),
            description: Some("takedown hunt --worker".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait,
            max_deliver: -1,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| Error::nats(&format!("cannot create the consumer {WORKERS_CONSUMER}"), e))?;
    Ok(())
}

/// The workers' consumer, once a publisher has made it (None until then).
pub async fn workers_consumer(js: &jetstream::Context) -> Result<Option<consumer::PullConsumer>> {
    let Ok(s) = js.get_stream(LOGS_STREAM).await else {
        return Ok(None);
    };
    match s.get_consumer(WORKERS_CONSUMER).await {
        Ok(c) => Ok(Some(c)),
        Err(_) => Ok(None),
    }
}

/// Publishes one message with its id and waits for the server to store
/// it; true when the server had it already (a duplicate).
pub async fn publish(
    js: &jetstream::Context,
    subject: &str,
    id: &str,
    payload: Vec<u8>,
) -> Result<bool> {
    let ack = publish_start(js, subject, id, payload)
        .await?
        .await
        .map_err(|e| Error::nats("the server did not store a message", e))?;
    Ok(ack.duplicate)
}

/// Publishes one message with its id; the returned future is the
/// server's acknowledgement (several may be in flight).
pub async fn publish_start(
    js: &jetstream::Context,
    subject: &str,
    id: &str,
    payload: Vec<u8>,
) -> Result<jetstream::context::PublishAckFuture> {
    js.send_publish(
        subject.to_string(),
        jetstream::message::PublishMessage::build()
            .message_id(id)
            .payload(payload.into()),
    )
    .await
    .map_err(|e| Error::nats(&format!("cannot publish on {subject}"), e))
}

/// A consumer that reads every part of `job` from the beginning, without
/// acknowledgements (the publisher's own reading; gone a minute after
/// the publisher).
pub async fn parts_consumer(js: &jetstream::Context, job: &str) -> Result<consumer::PullConsumer> {
    let subject = part_subject(job)?;
    let s = js
        .get_stream(PARTS_STREAM)
        .await
        .map_err(|e| Error::nats(&format!("cannot open the stream {PARTS_STREAM}"), e))?;
    s.create_consumer(consumer::pull::Config {
        filter_subject: subject.clone(),
        ack_policy: consumer::AckPolicy::None,
        deliver_policy: consumer::DeliverPolicy::All,
        inactive_threshold: Duration::from_secs(60),
        ..Default::default()
    })
    .await
    .map_err(|e| Error::nats(&format!("cannot read {subject}"), e))
}

/// Removes a finished job's parts (its batches are gone with their
/// acknowledgements).
pub async fn purge_parts(js: &jetstream::Context, job: &str) -> Result<()> {
    let subject = part_subject(job)?;
    let s = js
        .get_stream(PARTS_STREAM)
        .await
        .map_err(|e| Error::nats(&format!("cannot open the stream {PARTS_STREAM}"), e))?;
    s.purge()
        .filter(subject.clone())
        .await
        .map_err(|e| Error::nats(&format!("cannot purge {subject}"), e))?;
    Ok(())
}

/// A step of the worker's protocol, for the crash tests
/// (`TAKEDOWN_FLEET_FAULT=log-before-part#N` kills the worker with its
/// Nth batch read and nothing published; `log-before-ack#N` with its part
/// stored and the batch not acknowledged).
pub fn fault_point(step: &str) {
    crate::fault::point(step);
}

/// The next batch for a worker, waiting at most `wait` (None when there
/// was none).
pub async fn next_batch(
    c: &consumer::PullConsumer,
    wait: Duration,
) -> Result<Option<jetstream::Message>> {
    use futures_util::StreamExt;
    let mut batch = c
        .fetch()
        .max_messages(1)
        .expires(wait)
        .messages()
        .await
        .map_err(|e| Error::nats("cannot ask for log batches", e))?;
    match batch.next().await {
        Some(Ok(m)) => Ok(Some(m)),
        Some(Err(e)) => Err(Error::nats("cannot receive a log batch", e)),
        None => Ok(None),
    }
}

/// The parts of one job as they come.
pub struct Parts {
    stream: consumer::pull::Stream,
}

impl Parts {
    /// Starts reading a job's parts from its first ([`parts_consumer`]).
    pub async fn open(js: &jetstream::Context, job: &str) -> Result<Parts> {
        let c = parts_consumer(js, job).await?;
        let stream = c
            .messages()
            .await
            .map_err(|e| Error::nats("cannot read the partial states", e))?;
        Ok(Parts { stream })
    }

    /// The next part's payload (waits for it; None when the server ended
    /// the reading).
    pub async fn next(&mut self) -> Option<Result<bytes::Bytes>> {
        use futures_util::StreamExt;
        match self.stream.next().await? {
            Ok(m) => Some(Ok(m.payload.clone())),
            Err(e) => Some(Err(Error::nats("cannot receive a partial state", e))),
        }
    }
}
