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
async fn read_all(
    js: &jetstream::Context,
    stream: &str,
    filter: String,
    last_per_subject: bool,
) -> Result<Vec<Record>> {
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
    if left > MAX_RECORDS {
        return Err(Error::Invalid(format!(
            "{left} records on {filter}, more than the {MAX_RECORDS} read at once"
        )));
    }
    let mut out = Vec::with_capacity(usize::try_from(left.min(100_000)).unwrap_or(0));
    let mut empty_fetches = 0;
    let mut bytes: usize = 0;
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
            bytes = bytes.saturating_add(m.payload.len());
            if bytes > MAX_READ_BYTES {
                return Err(Error::Invalid(format!(
                    "the records on {filter} are more than the {MAX_READ_BYTES} bytes read at once"
                )));
            }
            let msg_id = m
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_string());
            out.push(Record {
                subject: m.subject.to_string(),
                msg_id,
                payload: m.payload.clone(),
            });
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
    Ok(out)
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
        });
        match what {
            "started" => match serde_json::from_slice::<Started>(&r.payload) {
                Ok(s) if s.host == host && s.hunt == hunt_id => {
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
                Ok(c) if c.host == host && c.hunt == hunt_id => {
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

/// Reads a hunt's findings and completions, each finding once.
pub async fn results(js: &jetstream::Context, hunt_id: &str) -> Result<HuntResults> {
    let st = status(js, hunt_id).await?;
    let mut hosts: BTreeMap<String, HostResults> = BTreeMap::new();
    for h in st.hosts {
        if h.completion.is_some() {
            hosts.insert(
                h.host,
                HostResults {
                    findings: Vec::new(),
                    completion: h.completion,
                },
            );
        }
    }
    let mut bad = st.bad_records;
    let mut seen: HashSet<String> = HashSet::new();
    let mut duplicates = 0;
    for r in read_all(
        js,
        ids::RESULTS_STREAM,
        format!("takedown.found.{hunt_id}.*"),
        false,
    )
    .await?
    {
        let Some(host) = r.subject.rsplit('.').next() else {
            continue;
        };
        if let Err(e) = ids::check_host(host) {
            bad.push(format!("{}: {e}", ids::shorten(&r.subject)));
            continue;
        }
        let Some(id) = r.msg_id else {
            bad.push(format!("{}: a finding without a message id", r.subject));
            continue;
        };
        // The id names hunt and host: one published for another is not
        // taken (the subject is what the server checked).
        if !id.starts_with(&format!("f:{hunt_id}:{host}:")) {
            bad.push(format!(
                "{}: message id {:?} names another hunt or host",
                r.subject,
                ids::shorten(&id)
            ));
            continue;
        }
        if !seen.insert(id) {
            duplicates += 1;
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(&r.payload) {
            Ok(v) if v.get("type").and_then(|t| t.as_str()) == Some("finding") => {
                hosts.entry(host.to_string()).or_default().findings.push(v);
            }
            Ok(_) => bad.push(format!("{}: not a finding record", r.subject)),
            Err(e) => bad.push(format!("{}: {e}", r.subject)),
        }
    }
    Ok(HuntResults {
        hunt: st.hunt,
        hosts,
        duplicates,
        bad_records: bad,
    })
}
