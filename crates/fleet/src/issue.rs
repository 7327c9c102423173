//! The analyst's side: issuing a hunt, reading who is done, reading the
//! findings.

use crate::ids;
use crate::model::{
    AgentInfo, BundleRef, Completion, Hunt, Outcome, RECORD_VERSION, ScanSpec, Started, Target,
};
use crate::{Error, Result, now_unix};
use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use sha2::Digest;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

/// Records read by one `status` or `results` at most: ten million findings
/// is a very large hunt; past that the reader says so instead of eating
/// the analyst's memory.
pub const MAX_RECORDS: u64 = 10_000_000;
/// Records asked for in one pull request: few round trips, and the
/// server's batch stays a few MiB.
const FETCH_BATCH: u64 = 10_000;
/// Bytes asked for in one pull request at most.
const FETCH_BYTES: usize = 64 << 20;
/// Bytes of records read by one `status` or `results` at most (each
/// message is at most 1 MiB): the analyst's memory again.
pub const MAX_READ_BYTES: usize = 4 << 30;

/// Where the hunt's bundle comes from.
#[derive(Clone, Debug)]
pub enum BundleSource<'a> {
    /// A local bundle file, uploaded to the object store.
    File(&'a Path),
    /// An http(s) URL agents download from; the file is read here once to
    /// take its SHA-256 and size.
    Url {
        /// The URL agents use.
        url: &'a str,
        /// The same bundle, local, to hash.
        file: &'a Path,
    },
}

/// A hunt to issue.
#[derive(Clone, Debug)]
pub struct HuntRequest<'a> {
    /// Who it is for.
    pub target: Target,
    /// The bundle.
    pub bundle: BundleSource<'a>,
    /// How long agents may start it after it is issued.
    pub expires: Duration,
    /// The scan.
    pub scan: ScanSpec,
    /// Limits to set on the results stream (none: as they are).
    pub results_limits: crate::conn::ResultsLimits,
}

/// SHA-256 and size of a file.
fn digest_file(path: &Path) -> Result<(String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n_total: u64 = 0;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        h.update(buf.get(..n).unwrap_or(&[]));
        n_total = n_total.saturating_add(n as u64);
    }
    Ok((hex::encode(h.finalize()), n_total))
}

/// Issues a hunt: streams and object store made sure of, the bundle
/// uploaded (once per content), the hunt published on its target's
/// subject and a copy kept for `status`. Returns the hunt as published.
pub async fn issue_hunt(js: &jetstream::Context, req: &HuntRequest<'_>) -> Result<Hunt> {
    let file = match req.bundle {
        BundleSource::File(f) | BundleSource::Url { file: f, .. } => f,
    };
    // Only the format is checked here, not the signature: the analyst may
    // not hold the agents' keys, and each agent decides for itself.
    {
        let f = std::fs::File::open(file)
            .map_err(|e| Error::io(format!("cannot open the bundle {}", file.display()), e))?;
        takedown_bundle::format::peek(&mut std::io::BufReader::new(f)).map_err(|e| {
            Error::Invalid(format!("{} is not a usable bundle: {e}", file.display()))
        })?;
    }
    let (sha256, size) = digest_file(file)?;
    crate::conn::ensure_streams(js).await?;
    crate::conn::allow_direct_results(js).await?;
    crate::conn::limit_results(js, &req.results_limits).await?;
    let bundle = match req.bundle {
        BundleSource::File(path) => {
            let store = crate::conn::bundle_store(js, true).await?;
            let known = store
                .info(&sha256)
                .await
                .ok()
                .is_some_and(|i| !i.deleted && i.size as u64 == size);
            if !known {
                let mut f = tokio::fs::File::open(path).await.map_err(|e| {
                    Error::io(format!("cannot open the bundle {}", path.display()), e)
                })?;
                store
                    .put(sha256.as_str(), &mut f)
                    .await
                    .map_err(|e| Error::nats("cannot upload the bundle", e))?;
            }
            BundleRef {
                sha256: sha256.clone(),
                size,
                object: Some(sha256),
                url: None,
            }
        }
        BundleSource::Url { url, .. } => BundleRef {
            sha256,
            size,
            object: None,
            url: Some(url.to_string()),
        },
    };
    let issued = now_unix();
    let secs = req.expires.as_secs();
    if secs == 0 || secs > crate::model::MAX_EXPIRY_SECS {
        return Err(Error::Invalid(format!(
            "the expiry must be 1 s to {} days",
            crate::model::MAX_EXPIRY_SECS / 86400
        )));
    }
    let hunt = Hunt {
        kind: "hunt".into(),
        version: RECORD_VERSION,
        id: ids::new_hunt_id(issued)?,
        issued,
        expires: issued.saturating_add(secs),
        target: req.target.clone(),
        bundle,
        scan: req.scan.clone(),
    };
    hunt.validate()?;
    let payload = serde_json::to_vec(&hunt).map_err(|e| Error::Invalid(e.to_string()))?;
    // The copy first: a hunt agents may run is always one `status` knows.
    for (subject, id) in [
        (ids::issued_subject(&hunt.id), format!("issued:{}", hunt.id)),
        (hunt.target.subject(), ids::hunt_msg_id(&hunt.id)),
    ] {
        // Idempotent (the message id), so tried again: a stream just
        // created can answer "no stream" for a moment.
        let mut tries = 0;
        loop {
            let sent = async {
                js.send_publish(
                    subject.clone(),
                    jetstream::message::PublishMessage::build()
                        .message_id(id.clone())
                        .payload(payload.clone().into()),
                )
                .await?
                .await
            }
            .await;
            match sent {
                Ok(_) => break,
                Err(e)
                    if e.kind() == jetstream::context::PublishErrorKind::StreamNotFound
                        && tries < 3 =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => return Err(Error::nats("the server did not store the hunt", e)),
            }
        }
    }
    Ok(hunt)
}

/// One message read back: subject, message id, payload.
struct Record {
    subject: String,
    msg_id: Option<String>,
    payload: bytes::Bytes,
}

/// Reads every message of `stream` on `filter` stored when the read
/// starts (an ephemeral consumer without acks; the server forgets it).
/// Refuses past [`MAX_RECORDS`] or [`MAX_READ_BYTES`]: for what is held
/// whole (the states of a hunt, the findings of an export).
async fn read_all(
    js: &jetstream::Context,
    stream: &str,
    filter: String,
    last_per_subject: bool,
) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut bytes: usize = 0;
    let what = filter.clone();
    for_each_record(
        js,
        stream,
        filter,
        last_per_subject,
        Some(MAX_RECORDS),
        &mut |r| {
            bytes = bytes.saturating_add(r.payload.len());
            if bytes > MAX_READ_BYTES {
                return Err(Error::Invalid(format!(
                    "the records on {what} are more than the {MAX_READ_BYTES} bytes read at once"
                )));
            }
            out.push(r);
            Ok(())
        },
    )
    .await?;
    Ok(out)
}

/// Hands every message of `stream` on `filter` stored when the read
/// starts to `each`, in order, holding one pull request's worth at a time
/// (an ephemeral consumer without acks; the server forgets it). With
/// `max`, refuses more records than that before reading any.
async fn for_each_record(
    js: &jetstream::Context,
    stream: &str,
    filter: String,
    last_per_subject: bool,
    max: Option<u64>,
    each: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<()> {
    let stream = js
        .get_stream(stream)
        .await
        .map_err(|e| Error::nats(&format!("cannot open the stream {stream}"), e))?;
    let mut c: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: filter.clone(),
            ack_policy: consumer::AckPolicy::None,
            deliver_policy: if last_per_subject {
                consumer::DeliverPolicy::LastPerSubject
            } else {
                consumer::DeliverPolicy::All
            },
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .map_err(|e| Error::nats(&format!("cannot read {filter}"), e))?;
    let mut left = c
        .info()
        .await
        .map_err(|e| Error::nats(&format!("cannot read {filter}"), e))?
        .num_pending;
    if let Some(max) = max
        && left > max
    {
        return Err(Error::Invalid(format!(
            "{left} records on {filter}, more than the {max} read at once"
        )));
    }
    let mut empty_fetches = 0;
    while left > 0 {
        let want = usize::try_from(left.min(FETCH_BATCH)).unwrap_or(1000);
        let mut batch = c
            .fetch()
            .max_messages(want)
            // What one request may bring into memory at once, whatever
            // the size of the messages (up to 1 MiB each on the stream).
            .max_bytes(FETCH_BYTES)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .map_err(|e| Error::nats(&format!("cannot read {filter}"), e))?;
        let mut got = 0u64;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| Error::nats(&format!("cannot read {filter}"), e))?;
            got += 1;
            let msg_id = m
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_string());
            each(Record {
                subject: m.subject.to_string(),
                msg_id,
                payload: m.payload.clone(),
            })?;
        }
        left = left.saturating_sub(got);
        if got == 0 {
            // The messages counted at the start were removed meanwhile
            // (their age ran out); do not wait for them forever.
            empty_fetches += 1;
            if empty_fetches >= 3 {
                break;
            }
        }
    }
    Ok(())
}

/// The hunt as issued.
pub async fn get_hunt(js: &jetstream::Context, hunt_id: &str) -> Result<Hunt> {
    ids::check_token("the hunt id", hunt_id)?;
    let stream = js.get_stream(ids::RESULTS_STREAM).await.map_err(|e| {
        Error::nats(
            "cannot open the results stream (no hunt was ever issued?)",
            e,
        )
    })?;
    let m = stream
        .get_last_raw_message_by_subject(&ids::issued_subject(hunt_id))
        .await
        .map_err(|_| Error::NotFound(format!("no hunt {hunt_id} was issued")))?;
    Hunt::parse(&m.payload)
}

/// Where one host stands on a hunt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostState {
    /// Matches the target, never started it.
    NotYetSeen,
    /// Started (delivery number), no completion yet.
    Running(i64),
    /// Finished; see the completion's outcome.
    Finished(Outcome),
}

impl HostState {
    /// A word for people and scripts.
    pub fn as_str(&self) -> &'static str {
        match self {
            HostState::NotYetSeen => "not-yet-seen",
            HostState::Running(_) => "running",
            HostState::Finished(o) => o.as_str(),
        }
    }
}

/// One host's line in a status.
#[derive(Clone, Debug)]
pub struct HostStatus {
    /// The host id.
    pub host: String,
    /// Where it stands.
    pub state: HostState,
    /// Its completion record, once finished.
    pub completion: Option<Completion>,
    /// Completion records stored for it: 1 once finished; more only when
    /// a redelivery came after the server's de-duplication window (the
    /// first one counts).
    pub completions: u64,
    /// The highest delivery it started (0: none seen): more than 1 when
    /// it ran the hunt more than once, and may have stored findings twice.
    pub deliveries: i64,
}

/// The status of a hunt.
#[derive(Clone, Debug)]
pub struct HuntStatus {
    /// The hunt as issued.
    pub hunt: Hunt,
    /// Every host that started it or that it is meant for, by host id.
    pub hosts: Vec<HostStatus>,
    /// Records that could not be read (each ignored), with the reason.
    pub bad_records: Vec<String>,
}

/// Who is done, running, or not yet seen. Hosts are the agents known
/// (announced) whose id or labels the target names, and every host that
/// recorded anything for the hunt.
pub async fn status(js: &jetstream::Context, hunt_id: &str) -> Result<HuntStatus> {
    let hunt = get_hunt(js, hunt_id).await?;
    let mut bad = Vec::new();
    let mut hosts: BTreeMap<String, HostStatus> = BTreeMap::new();
    for r in read_all(js, ids::AGENTS_STREAM, ids::AGENT_SUBJECTS.into(), true).await? {
        match serde_json::from_slice::<AgentInfo>(&r.payload)
            .map_err(|e| e.to_string())
            .and_then(|a| a.validate().map(|()| a).map_err(|e| e.to_string()))
        {
            Ok(a) if r.subject == ids::agent_subject(&a.host) => {
                if hunt.target.matches(&a.host, &a.labels) {
                    hosts.insert(
                        a.host.clone(),
                        HostStatus {
                            host: a.host,
                            state: HostState::NotYetSeen,
                            completion: None,
                            completions: 0,
                            deliveries: 0,
                        },
                    );
                }
            }
            Ok(_) => bad.push(format!("{}: announces another host", r.subject)),
            Err(e) => bad.push(format!("{}: {e}", r.subject)),
        }
    }
    for r in read_all(
        js,
        ids::RESULTS_STREAM,
        format!("takedown.state.{hunt_id}.>"),
        false,
    )
    .await?
    {
        // takedown.state.HUNT.HOST.WHAT: the host is the subject's, which
        // the server's permissions tie to the agent's credentials; a
        // record naming another host is not believed.
        let mut parts = r.subject.rsplitn(3, '.');
        let (Some(what), Some(host)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Err(e) = ids::check_host(host) {
            bad.push(format!("{}: {e}", ids::shorten(&r.subject)));
            continue;
        }
        let entry = hosts.entry(host.to_string()).or_insert_with(|| HostStatus {
            host: host.to_string(),
            state: HostState::NotYetSeen,
            completion: None,
            completions: 0,
            deliveries: 0,
        });
        match what {
            "started" => match serde_json::from_slice::<Started>(&r.payload) {
                Ok(s) if s.host == host && s.hunt == hunt_id => {
                    entry.deliveries = entry.deliveries.max(s.delivery);
                    if let HostState::NotYetSeen | HostState::Running(_) = entry.state {
                        entry.state = HostState::Running(s.delivery);
                    }
                }
                Ok(_) => bad.push(format!("{}: names another host or hunt", r.subject)),
                Err(e) => bad.push(format!("{}: {e}", r.subject)),
            },
            "done" => match serde_json::from_slice::<Completion>(&r.payload) {
                // The first completion stored counts; later copies (from
                // beyond the server's de-duplication window) do not.
                Ok(c) if names_only(&c, host, hunt_id) => {
                    entry.completions += 1;
                    if entry.completion.is_none() {
                        entry.state = HostState::Finished(c.outcome);
                        entry.completion = Some(c);
                    }
                }
                Ok(_) => bad.push(format!("{}: names another host or hunt", r.subject)),
                Err(e) => bad.push(format!("{}: {e}", r.subject)),
            },
            _ => bad.push(format!("{}: unknown record", r.subject)),
        }
    }
    Ok(HuntStatus {
        hunt,
        hosts: hosts.into_values().collect(),
        bad_records: bad,
    })
}

/// Whether a completion read on `host`'s subject speaks of that host and
/// hunt only: its `host`, and its summary's `host` when it has one (what
/// `fleet results` gives as the summary's host).
fn names_only(c: &Completion, host: &str, hunt: &str) -> bool {
    c.host == host
        && c.hunt == hunt
        && c.summary
            .as_ref()
            .and_then(|s| s.get("host"))
            .is_none_or(|h| h.as_str() == Some(host))
}

/// One host's findings and completion.
#[derive(Clone, Debug, Default)]
pub struct HostResults {
    /// Its findings (the finding model's records), each once.
    pub findings: Vec<serde_json::Value>,
    /// Its completion record, once finished.
    pub completion: Option<Completion>,
}

/// Everything a hunt found.
#[derive(Clone, Debug)]
pub struct HuntResults {
    /// The hunt as issued.
    pub hunt: Hunt,
    /// By host id.
    pub hosts: BTreeMap<String, HostResults>,
    /// Copies dropped by message id (stored twice beyond the server's
    /// de-duplication window).
    pub duplicates: u64,
    /// Records that could not be read (each ignored), with the reason.
    pub bad_records: Vec<String>,
}

/// What [`results_each`] hands over: each host's findings, then the end
/// of that host; hosts in the order of their ids.
#[derive(Debug)]
pub enum ResultItem<'a> {
    /// A finding (a record of the finding model) of the host.
    Finding(&'a str, serde_json::Value),
    /// Every finding of the host was handed over; its completion, once
    /// finished.
    HostEnd(&'a str, Option<&'a Completion>),
}

/// What [`results_each`] says once it has handed everything over.
#[derive(Clone, Debug)]
pub struct ResultsRead {
    /// The hunt as issued.
    pub hunt: Hunt,
    /// By host id: its findings handed over, its completion.
    pub hosts: BTreeMap<String, (u64, Option<Completion>)>,
    /// Copies dropped by message id (stored twice beyond the server's
    /// de-duplication window).
    pub duplicates: u64,
    /// Records that could not be read (each ignored), with the reason.
    pub bad_records: Vec<String>,
}

/// Reads a hunt's findings host by host, each finding once, handing each
/// to `each` as it comes: memory stays that of one pull request, however
/// many findings (only a host that ran the hunt more than once, and so
/// may have stored a finding twice, has the 16-byte digests of its ids
/// kept to drop the copies). The hosts are those that started the hunt.
pub async fn results_each(
    js: &jetstream::Context,
    hunt_id: &str,
    each: &mut dyn FnMut(ResultItem<'_>) -> Result<()>,
) -> Result<ResultsRead> {
    let st = status(js, hunt_id).await?;
    let mut bad = st.bad_records;
    let mut hosts = BTreeMap::new();
    let mut duplicates = 0;
    for h in st.hosts {
        if h.deliveries == 0 && h.completion.is_none() {
            continue;
        }
        let twice = h.deliveries > 1
            || h.completions > 1
            || h.completion.as_ref().is_some_and(|c| c.delivery > 1);
        let host = h.host.as_str();
        let mut seen: HashSet<u128> = HashSet::new();
        let mut n = 0u64;
        let prefix = format!("f:{hunt_id}:{host}:");
        for_each_record(
            js,
            ids::RESULTS_STREAM,
            format!("takedown.found.{hunt_id}.{host}"),
            false,
            None,
            &mut |r| {
                let Some(id) = r.msg_id else {
                    bad.push(format!("{}: a finding without a message id", r.subject));
                    return Ok(());
                };
                // The id names hunt and host: one published for another
                // is not taken (the subject is what the server checked).
                if !id.starts_with(&prefix) {
                    bad.push(format!(
                        "{}: message id {:?} names another hunt or host",
                        r.subject,
                        ids::shorten(&id)
                    ));
                    return Ok(());
                }
                if twice {
                    let d = sha2::Sha256::digest(id.as_bytes());
                    let mut k = [0u8; 16];
                    k.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
                    if !seen.insert(u128::from_le_bytes(k)) {
                        duplicates += 1;
                        return Ok(());
                    }
                }
                match serde_json::from_slice::<serde_json::Value>(&r.payload) {
                    Ok(v) if v.get("type").and_then(|t| t.as_str()) == Some("finding") => {
                        n += 1;
                        each(ResultItem::Finding(host, v))
                    }
                    Ok(_) => {
                        bad.push(format!("{}: not a finding record", r.subject));
                        Ok(())
                    }
                    Err(e) => {
                        bad.push(format!("{}: {e}", r.subject));
                        Ok(())
                    }
                }
            },
        )
        .await?;
        each(ResultItem::HostEnd(host, h.completion.as_ref()))?;
        hosts.insert(h.host.clone(), (n, h.completion));
    }
    Ok(ResultsRead {
        hunt: st.hunt,
        hosts,
        duplicates,
        bad_records: bad,
    })
}

/// Reads a hunt's findings and completions, each finding once, all held
/// (for the exports, which take every run at once): refused past
/// [`MAX_RECORDS`] findings or [`MAX_READ_BYTES`].
pub async fn results(js: &jetstream::Context, hunt_id: &str) -> Result<HuntResults> {
    let mut hosts: BTreeMap<String, HostResults> = BTreeMap::new();
    let mut count: u64 = 0;
    let mut bytes: usize = 0;
    let read = results_each(js, hunt_id, &mut |item| {
        match item {
            ResultItem::Finding(host, v) => {
                count += 1;
                bytes = bytes.saturating_add(v.to_string().len());
                if count > MAX_RECORDS || bytes > MAX_READ_BYTES {
                    return Err(Error::Invalid(format!(
                        "more than {MAX_RECORDS} findings or {MAX_READ_BYTES} bytes to hold at once (read them as text or json, which stream)"
                    )));
                }
                hosts.entry(host.to_string()).or_default().findings.push(v);
            }
            ResultItem::HostEnd(host, c) => {
                hosts.entry(host.to_string()).or_default().completion = c.cloned();
            }
        }
        Ok(())
    })
    .await?;
    Ok(HuntResults {
        hunt: read.hunt,
        hosts,
        duplicates: read.duplicates,
        bad_records: read.bad_records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_naming_another_host_in_its_summary_is_not_believed() {
        let mut c: Completion = serde_json::from_value(serde_json::json!({
            "type": "completion", "version": 1, "hunt": "h1", "host": "web1",
            "outcome": "done", "findings": 0, "duplicates": 0, "dropped": 0,
            "delivery": 1, "started": 1, "finished": 2,
            "summary": {"type": "summary", "host": "web1"}
        }))
        .unwrap();
        assert!(names_only(&c, "web1", "h1"));
        assert!(!names_only(&c, "web2", "h1"));
        assert!(!names_only(&c, "web1", "h2"));
        c.summary = Some(serde_json::json!({"type": "summary", "host": "web2"}));
        assert!(!names_only(&c, "web1", "h1"));
        c.summary = Some(serde_json::json!({"type": "summary", "host": 7}));
        assert!(!names_only(&c, "web1", "h1"));
        c.summary = Some(serde_json::json!({"type": "summary"}));
        assert!(names_only(&c, "web1", "h1"));
    }
}
