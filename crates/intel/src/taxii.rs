//! The TAXII 2.1 client: `takedown intel pull` and `takedown intel push`.
//!
//! Partners publish indicators in TAXII collections and want our
//! sightings back in theirs. This module speaks the protocol (discovery,
//! API root, collections, objects, status) over blocking HTTP(S) and puts
//! two jobs on top of it:
//!
//! * [`pull`] pages through a collection and writes each page as a STIX
//!   2.1 bundle file, with a state file that lets a later run (or the run
//!   after a crash at any instant) resume where it stopped: no page lost,
//!   no object written twice.
//! * [`push`] sends STIX bundles in envelopes small enough for the server
//!   (splitting on HTTP 413), then polls each status until it completes.
//!
//! Every answer is hostile until parsed: bodies are capped
//! ([`MAX_RESPONSE_BYTES`]), slow servers time out, and each error names
//! the URL and the reason. Transient failures (connection errors, time
//! outs, 5xx, 429) are retried with exponential back-off and jitter,
//! `Retry-After` honoured up to [`MAX_RETRY_AFTER`]; other 4xx answers
//! are never retried.
//!
//! # Resuming a pull exactly
//!
//! TAXII pages by `added_after` (objects added strictly after a time) and
//! by an opaque `next` token that servers forget after a while. The state
//! file keeps the latest `X-TAXII-Date-Added-Last` seen, T. Objects added
//! in one request share their `date_added`, so a page can end in the
//! middle of a group added at T: resuming with `added_after=T` would lose
//! the rest of the group. A resumed pull therefore asks for objects added
//! after T minus one microsecond and drops those already written, which the
//! state file lists (id and version of every object that may carry the date
//! T; [`MAX_RESUME_KEYS`] bounds the list).
//!
//! The page file is made durable (temporary file, fsync, rename) before
//! the state names the next page; a run killed in between finds the state
//! still pointing at that page number and writes the page again over the
//! old file, so no object appears twice.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The TAXII 2.1 media type, sent as `Accept` on every request and as
/// `Content-Type` on every POST.
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// Largest answer read from a server. A page of objects is parsed whole;
/// the cap stops a broken or hostile server from exhausting memory with
/// an endless body.
pub const MAX_RESPONSE_BYTES: u64 = 256 << 20;

/// Longest wait a `Retry-After` header can impose: a server asking for an
/// hour would otherwise hang the command silently.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// First back-off delay after a transient failure; doubled each attempt
/// up to [`BACKOFF_CAP`], then cut by a random part of up to a half
/// (jitter) so that many clients do not retry in step.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest back-off delay between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Default time to connect, to get the answer's headers, and that one
/// read may wait.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Default budget of one whole request: a server that trickles its
/// answer a byte at a time passes every per-read timeout, not this one.
pub const DEFAULT_REQUEST_TIME_LIMIT: Duration = Duration::from_secs(600);

/// Default number of retries of one request after a transient failure.
pub const DEFAULT_RETRIES: u32 = 4;

/// Largest error body read, to quote the server's reason: the error path
/// must not be a way to make us buffer a large answer.
const MAX_ERROR_BODY: u64 = 64 << 10;

/// Longest quote of server text (error descriptions, status messages) in
/// an error or a report.
const MAX_QUOTE: usize = 300;

/// Largest CA file read for `--ca`: a certificate bundle is kilobytes.
const MAX_CA_FILE: u64 = 4 << 20;

/// Largest bundle file [`push`] reads: each is parsed whole.
pub const MAX_BUNDLE_FILE: u64 = 256 << 20;

/// Most objects ids the pull state keeps to drop the objects a resumed
/// pull gets again (those sharing the latest `date_added`). A server whose
/// single `date_added` groups hold more objects than this cannot be
/// resumed exactly; the pull then stops with an error rather than lose or
/// duplicate objects.
pub const MAX_RESUME_KEYS: usize = 1_000_000;

/// Largest state file read back (the resume keys make up most of it).
const MAX_STATE_BYTES: u64 = 512 << 20;

/// The state file of a pull directory.
pub const STATE_FILE: &str = ".taxii-state.json";

/// Version of the state file format.
const STATE_VERSION: u32 = 1;

/// Default most objects in one envelope sent by [`push`].
pub const DEFAULT_ENVELOPE_OBJECTS: usize = 500;

/// Default most bytes of one envelope sent by [`push`] (the API root's
/// `max_content_length` lowers it).
pub const DEFAULT_ENVELOPE_BYTES: u64 = 10 << 20;

/// Default time [`push`] waits for the server to complete its statuses.
pub const DEFAULT_STATUS_WAIT: Duration = Duration::from_secs(300);

/// Most failures a push report lists one by one (the counts stay exact).
const MAX_LISTED_FAILURES: usize = 1000;

/// Bytes of `{"objects":[` and `]}` around the objects of an envelope.
const ENVELOPE_OVERHEAD: u64 = 14;

/// Namespace of the bundle ids of pulled pages (UUIDv5 over the page's
/// collection, number and objects: the same page gets the same id).
const BUNDLE_NAMESPACE: uuid::Uuid = uuid::uuid!("6a1d7ec4-5b36-4c2e-9a3f-0d8e2b7f4c11");

/// What went wrong talking to a TAXII server or with the files around it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable answer: connection refused, DNS, TLS, time out (after the
    /// retries).
    #[error("{url}: {reason}")]
    Transport {
        /// The URL asked.
        url: String,
        /// Why, in words.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}{detail}")]
    Http {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's reason (TAXII error title and description, or the
        /// start of the body), with its leading separator; may be empty.
        detail: String,
    },
    /// The answer is not what TAXII 2.1 says it should be: not JSON, wrong
    /// shape, too large.
    #[error("{url}: {reason}")]
    BadResponse {
        /// The URL asked.
        url: String,
        /// What is wrong with the answer.
        reason: String,
    },
    /// The collection asked for is not there or not usable.
    #[error("{0}")]
    Collection(String),
    /// Bad settings: CA file, URL.
    #[error("{0}")]
    Config(String),
    /// The pull directory's state is unusable.
    #[error("{path}: {reason}")]
    State {
        /// The state file or the directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn bad(url: &str, reason: impl Into<String>) -> Error {
        Error::BadResponse {
            url: url.to_string(),
            reason: reason.into(),
        }
    }

    /// The HTTP status, when the server answered with an error status.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How to authenticate to the server.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
    /// HTTP basic authentication.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

// Credentials never reach a log line or a panic message.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::Basic { user, .. } => write!(f, "Basic {{ user: {user:?}, password: *** }}"),
        }
    }
}

/// Settings of a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Credentials sent with every request.
    pub auth: Auth,
    /// CA certificates (PEM) to trust instead of the built-in roots (as
    /// `curl --cacert`), for partners' servers under a private CA.
    pub ca_file: Option<PathBuf>,
    /// Time to connect, to get an answer's headers, and that one read may
    /// wait.
    pub timeout: Duration,
    /// Budget of one whole request, body included.
    pub request_time_limit: Duration,
    /// Retries of one request after a transient failure.
    pub retries: u32,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Largest answer read ([`MAX_RESPONSE_BYTES`] by default).
    pub max_response_bytes: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            auth: Auth::None,
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
            request_time_limit: DEFAULT_REQUEST_TIME_LIMIT,
            retries: DEFAULT_RETRIES,
            user_agent: concat!("takedown/", env!("CARGO_PKG_VERSION")).to_string(),
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }
}

/// A discovery resource (`/taxii2/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// The server's title.
    pub title: Option<String>,
    /// The default API root's URL (absolute), if the server names one.
    pub default: Option<String>,
    /// The API roots' URLs (absolute).
    pub api_roots: Vec<String>,
}

/// An API root resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRoot {
    /// Its URL, ending in `/`.
    pub url: String,
    /// Its title.
    pub title: Option<String>,
    /// The protocol versions it speaks.
    pub versions: Vec<String>,
    /// Largest request body it accepts, if it says.
    pub max_content_length: Option<u64>,
}

impl ApiRoot {
    /// The URL of a collection of this API root.
    pub fn collection_url(&self, id: &str) -> String {
        format!("{}collections/{}/", self.url, encode_segment(id))
    }

    /// The URL of a status resource of this API root.
    pub fn status_url(&self, id: &str) -> String {
        format!("{}status/{}/", self.url, encode_segment(id))
    }
}

/// A collection resource.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Collection {
    /// Its identifier.
    pub id: String,
    /// Its title.
    #[serde(default)]
    pub title: Option<String>,
    /// Whether these credentials may read its objects.
    #[serde(default)]
    pub can_read: bool,
    /// Whether these credentials may add objects.
    #[serde(default)]
    pub can_write: bool,
}

/// One page of objects (an envelope) and its paging headers.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The objects, as the server sent them.
    pub objects: Vec<Value>,
    /// Whether more objects are waiting.
    pub more: bool,
    /// The token that asks for the next page.
    pub next: Option<String>,
    /// `X-TAXII-Date-Added-First`, when a valid timestamp.
    pub date_added_first: Option<String>,
    /// `X-TAXII-Date-Added-Last`, when a valid timestamp.
    pub date_added_last: Option<String>,
}

/// A status resource: how an add went.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Status {
    /// Its identifier (to poll it).
    pub id: String,
    /// `complete` or `pending`.
    pub status: String,
    /// Objects in the request.
    #[serde(default)]
    pub total_count: u64,
    /// Objects added.
    #[serde(default)]
    pub success_count: u64,
    /// Objects refused.
    #[serde(default)]
    pub failure_count: u64,
    /// Objects not yet processed.
    #[serde(default)]
    pub pending_count: u64,
    /// The objects refused, with the server's reasons.
    #[serde(default)]
    pub failures: Vec<StatusDetail>,
}

/// One object of a status resource.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct StatusDetail {
    /// The object's id.
    #[serde(default)]
    pub id: String,
    /// The object's version.
    #[serde(default)]
    pub version: String,
    /// The server's message.
    #[serde(default)]
    pub message: Option<String>,
}

/// A TAXII 2.1 client: one HTTP agent with its settings.
pub struct Client {
    agent: ureq::Agent,
    authorization: Option<String>,
    retries: u32,
    max_response_bytes: u64,
}

/// What a request carries.
enum Method<'a> {
    Get(&'a [(&'a str, &'a str)]),
    Post(&'a [u8]),
}

/// A successful answer.
struct Reply {
    body: Vec<u8>,
    date_added_first: Option<String>,
    date_added_last: Option<String>,
}

/// One attempt's failure: whether another attempt may succeed, and after
/// how long the server asked us to wait.
enum Attempt {
    Retry(Error, Option<Duration>),
    Fail(Error),
}

impl Client {
    /// A client with these settings; reads the CA file.
    pub fn new(options: ClientOptions) -> Result<Client, Error> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &options.ca_file {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&read_ca(path)?));
        }
        let timeout = Some(options.timeout);
        let config = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .timeout_connect(timeout)
            .timeout_send_request(timeout)
            .timeout_send_body(timeout)
            .timeout_recv_response(timeout)
            .timeout_per_read(timeout)
            .timeout_global(Some(options.request_time_limit))
            .http_status_as_error(false)
            // A redirect would drop the credentials (rightly: they are
            // not for another place) and end in a puzzling 401; the
            // error names the new place instead.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(options.user_agent.as_str())
            .build();
        let authorization = match &options.auth {
            Auth::None => None,
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
            Auth::Basic { user, password } => {
                use base64::Engine as _;
                let pair = format!("{user}:{password}");
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
        };
        Ok(Client {
            agent: config.into(),
            authorization,
            retries: options.retries,
            max_response_bytes: options.max_response_bytes,
        })
    }

    /// The discovery resource at `url`.
    pub fn discover(&self, url: &str) -> Result<Discovery, Error> {
        let url = with_slash(url)?;
        let value = self.get_json(&url, &[])?;
        discovery_from(&url, &value)
    }

    /// The API root resource at `url`.
    pub fn api_root(&self, url: &str) -> Result<ApiRoot, Error> {
        let url = with_slash(url)?;
        let value = self.get_json(&url, &[])?;
        api_root_from(&url, &value)
    }

    /// The API root the user means by `url`: the URL of an API root, or of
    /// a discovery resource whose default (or only) API root is taken.
    pub fn resolve_api_root(&self, url: &str) -> Result<ApiRoot, Error> {
        let url = with_slash(url)?;
        let value = self.get_json(&url, &[])?;
        if value.get("versions").is_some() {
            return api_root_from(&url, &value);
        }
        if value.get("api_roots").is_none() && value.get("default").is_none() {
            return Err(Error::bad(
                &url,
                "neither a TAXII 2.1 discovery resource nor an API root (no `api_roots`, `default` or `versions`)",
            ));
        }
        let discovery = discovery_from(&url, &value)?;
        let root = match (&discovery.default, discovery.api_roots.as_slice()) {
            (Some(default), _) => default.clone(),
            (None, [only]) => only.clone(),
            (None, []) => {
                return Err(Error::bad(&url, "the discovery resource lists no API root"));
            }
            (None, many) => {
                return Err(Error::Config(format!(
                    "{url}: the server has several API roots and no default; give one of them as the URL: {}",
                    many.iter().map(|r| quote(r)).collect::<Vec<_>>().join(", ")
                )));
            }
        };
        // Credentials sent in clear because a discovery answer said so
        // would be a downgrade the user never asked for.
        if url.starts_with("https://") && !root.starts_with("https://") {
            return Err(Error::Config(format!(
                "{url}: the discovery resource points to an API root without TLS ({}); refusing to send credentials there",
                quote(&root)
            )));
        }
        self.api_root(&root)
    }

    /// The collections of an API root.
    pub fn collections(&self, api_root: &str) -> Result<Vec<Collection>, Error> {
        let url = format!("{}collections/", with_slash(api_root)?);
        let value = self.get_json(&url, &[])?;
        let Some(obj) = value.as_object() else {
            return Err(Error::bad(&url, "not a JSON object"));
        };
        let Some(list) = obj.get("collections") else {
            // TAXII 2.1: an API root without collections may omit the key.
            return Ok(Vec::new());
        };
        let Some(list) = list.as_array() else {
            return Err(Error::bad(&url, "`collections` is not a list"));
        };
        list.iter()
            .enumerate()
            .map(|(i, c)| {
                Collection::deserialize(c)
                    .map_err(|e| Error::bad(&url, format!("collection #{}: {e}", i + 1)))
            })
            .collect()
    }

    /// The collection named `wanted` (its id, or else its title) in an API
    /// root.
    pub fn find_collection(&self, api_root: &str, wanted: &str) -> Result<Collection, Error> {
        let all = self.collections(api_root)?;
        if let Some(c) = all.iter().find(|c| c.id == wanted) {
            return Ok(c.clone());
        }
        let titled: Vec<&Collection> = all
            .iter()
            .filter(|c| c.title.as_deref() == Some(wanted))
            .collect();
        match titled.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::Collection(format!(
                "{api_root}: no collection with id or title {}; there are: {}",
                quote(wanted),
                if all.is_empty() {
                    "none".to_string()
                } else {
                    all.iter()
                        .map(|c| match &c.title {
                            Some(t) => format!("{} ({})", quote(&c.id), quote(t)),
                            None => quote(&c.id),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))),
            many => Err(Error::Collection(format!(
                "{api_root}: several collections are titled {}; give the id of one: {}",
                quote(wanted),
                many.iter()
                    .map(|c| quote(&c.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// One page of a collection's objects (`collection_url` as made by
    /// [`ApiRoot::collection_url`]). `filters` are extra query parameters
    /// such as `("match[type]", "indicator")`; with `next`, the server
    /// wants the same `added_after` and filters as the first page.
    pub fn get_objects(
        &self,
        collection_url: &str,
        added_after: Option<&str>,
        next: Option<&str>,
        limit: Option<u32>,
        filters: &[(&str, &str)],
    ) -> Result<Page, Error> {
        let url = format!("{}objects/", with_slash(collection_url)?);
        let limit_text = limit.map(|l| l.to_string());
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = added_after {
            query.push(("added_after", a));
        }
        if let Some(l) = &limit_text {
            query.push(("limit", l));
        }
        if let Some(n) = next {
            query.push(("next", n));
        }
        query.extend_from_slice(filters);
        let reply = self.call(&url, Method::Get(&query))?;
        let value = parse_json(&url, &reply.body)?;
        drop(reply.body);
        let Value::Object(mut obj) = value else {
            return Err(Error::bad(&url, "not a TAXII envelope (not a JSON object)"));
        };
        let objects = match obj.remove("objects") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list,
            Some(_) => {
                return Err(Error::bad(
                    &url,
                    "not a TAXII envelope (`objects` is not a list)",
                ));
            }
        };
        let more = match obj.get("more") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(Error::bad(
                    &url,
                    "not a TAXII envelope (`more` is not true or false)",
                ));
            }
        };
        let next = match obj.get("next") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::String(_)) => None,
            // Some servers send a number; it is still a token.
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                return Err(Error::bad(
                    &url,
                    "not a TAXII envelope (`next` is not a string)",
                ));
            }
        };
        Ok(Page {
            objects,
            more,
            next,
            date_added_first: reply.date_added_first,
            date_added_last: reply.date_added_last,
        })
    }

    /// Sends an envelope (`{"objects":[...]}`, serialized) to a
    /// collection; the server's status.
    pub fn add_objects(&self, collection_url: &str, envelope: &[u8]) -> Result<Status, Error> {
        let url = format!("{}objects/", with_slash(collection_url)?);
        let reply = self.call(&url, Method::Post(envelope))?;
        status_from(&url, &reply.body)
    }

    /// A status resource of an API root.
    pub fn get_status(&self, api_root: &str, id: &str) -> Result<Status, Error> {
        let url = format!("{}status/{}/", with_slash(api_root)?, encode_segment(id));
        let reply = self.call(&url, Method::Get(&[]))?;
        status_from(&url, &reply.body)
    }

    fn get_json(&self, url: &str, query: &[(&str, &str)]) -> Result<Value, Error> {
        let reply = self.call(url, Method::Get(query))?;
        parse_json(url, &reply.body)
    }

    /// One request, retried after transient failures.
    fn call(&self, url: &str, method: Method<'_>) -> Result<Reply, Error> {
        let mut attempt = 0u32;
        loop {
            match self.attempt(url, &method) {
                Ok(reply) => return Ok(reply),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(e, _)) if attempt >= self.retries => return Err(e),
                Err(Attempt::Retry(e, asked)) => {
                    let wait = asked
                        .map(|d| d.min(MAX_RETRY_AFTER))
                        .unwrap_or_else(|| backoff(attempt));
                    tracing::warn!(
                        "{e}; retrying in {:.1} s ({} of {})",
                        wait.as_secs_f64(),
                        attempt + 1,
                        self.retries
                    );
                    std::thread::sleep(wait);
                    attempt += 1;
                }
            }
        }
    }

    fn attempt(&self, url: &str, method: &Method<'_>) -> Result<Reply, Attempt> {
        let sent = match method {
            Method::Get(query) => {
                let mut req = self.agent.get(url).header("Accept", MEDIA_TYPE);
                for (k, v) in *query {
                    req = req.query(*k, *v);
                }
                if let Some(a) = &self.authorization {
                    req = req.header("Authorization", a.as_str());
                }
                req.call()
            }
            Method::Post(body) => {
                let mut req = self
                    .agent
                    .post(url)
                    .header("Accept", MEDIA_TYPE)
                    .header("Content-Type", MEDIA_TYPE);
                if let Some(a) = &self.authorization {
                    req = req.header("Authorization", a.as_str());
                }
                req.send(*body)
            }
        };
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Err(transport(url, e)),
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
        let location = header("location");
        let date_first = header("x-taxii-date-added-first").and_then(valid_timestamp);
        let date_last = header("x-taxii-date-added-last").and_then(valid_timestamp);
        if (200..300).contains(&status) {
            let body = response
                .into_body()
                .into_with_config()
                .limit(self.max_response_bytes)
                .read_to_vec()
                .map_err(|e| match e {
                    ureq::Error::BodyExceedsLimit(_) => Attempt::Fail(Error::bad(
                        url,
                        format!(
                            "the answer is larger than {} bytes; refusing to read it",
                            self.max_response_bytes
                        ),
                    )),
                    e => transport(url, e),
                })?;
            return Ok(Reply {
                body,
                date_added_first: date_first,
                date_added_last: date_last,
            });
        }
        // The body of an error answer says why; read a little of it.
        let body = response
            .into_body()
            .into_with_config()
            .limit(MAX_ERROR_BODY)
            .lossy_utf8(true)
            .read_to_vec()
            .unwrap_or_default();
        let mut detail = error_detail(status, &body);
        if let (300..=399, Some(to)) = (status, &location) {
            detail = format!(" (redirected to {}: give that URL){detail}", quote(to));
        }
        let error = Error::Http {
            url: url.to_string(),
            status,
            detail,
        };
        if status == 429 || (500..600).contains(&status) {
            Err(Attempt::Retry(error, retry_after))
        } else {
            Err(Attempt::Fail(error))
        }
    }
}

/// A transport error, retried when it may pass (connection, time out).
fn transport(url: &str, e: ureq::Error) -> Attempt {
    let (reason, retry) = match &e {
        ureq::Error::Timeout(what) => (
            format!("no answer in time ({what} timed out): the server is too slow or unreachable"),
            true,
        ),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => (
            format!("no answer in time ({io}): the server is too slow"),
            true,
        ),
        ureq::Error::Io(io) => (format!("connection failed: {io}"), true),
        ureq::Error::ConnectionFailed => ("connection failed".to_string(), true),
        ureq::Error::HostNotFound => ("host not found".to_string(), true),
        ureq::Error::BodyStalled => ("the answer stalled".to_string(), true),
        ureq::Error::Protocol(p) => (format!("not an HTTP answer: {p}"), false),
        other => (other.to_string(), false),
    };
    let error = Error::Transport {
        url: url.to_string(),
        reason,
    };
    if retry {
        Attempt::Retry(error, None)
    } else {
        Attempt::Fail(error)
    }
}

/// Exponential back-off with jitter: base * 2^attempt, capped, minus a
/// random part of up to a half.
fn backoff(attempt: u32) -> Duration {
    let full = BACKOFF_BASE
        .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .min(BACKOFF_CAP);
    let jitter = (random_u64() % 1000) as f64 / 2000.0;
    full.mul_f64(1.0 - jitter)
}

/// A random number from the standard library's randomly keyed hasher:
/// enough for jitter, without a dependency.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// `Retry-After`: seconds, or an HTTP date (IMF-fixdate).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let when = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    let wait = when - OffsetDateTime::now_utc();
    Some(if wait.is_negative() {
        Duration::ZERO
    } else {
        wait.unsigned_abs()
    })
}

/// A header's timestamp, if it is RFC 3339 (anything else is ignored, as
/// if the header were absent: it is only a resume point).
fn valid_timestamp(value: String) -> Option<String> {
    let value = value.trim().to_string();
    OffsetDateTime::parse(&value, &Rfc3339).ok().map(|_| value)
}

/// One microsecond before `ts` (RFC 3339), in TAXII's microsecond form.
fn just_before(ts: &str) -> Option<String> {
    let t = OffsetDateTime::parse(ts, &Rfc3339).ok()?;
    let t = t.checked_sub(time::Duration::microseconds(1))?;
    let t = t.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.format(format).ok()
}

fn parse_json(url: &str, body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::bad(
            url,
            format!(
                "not JSON ({e}); the answer starts with {}",
                quote(&String::from_utf8_lossy(body.get(..80).unwrap_or(body)))
            ),
        )
    })
}

fn status_from(url: &str, body: &[u8]) -> Result<Status, Error> {
    let value = parse_json(url, body)?;
    Status::deserialize(&value)
        .map_err(|e| Error::bad(url, format!("not a TAXII status resource: {e}")))
}

fn discovery_from(url: &str, value: &Value) -> Result<Discovery, Error> {
    let Some(obj) = value.as_object() else {
        return Err(Error::bad(
            url,
            "not a discovery resource (not a JSON object)",
        ));
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let default = match obj.get("default") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(absolute(url, s)?),
        Some(_) => return Err(Error::bad(url, "`default` is not a string")),
    };
    let api_roots = match obj.get("api_roots") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| match v.as_str() {
                Some(s) => absolute(url, s),
                None => Err(Error::bad(url, "`api_roots` holds something not a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Error::bad(url, "`api_roots` is not a list")),
    };
    Ok(Discovery {
        title: text(obj.get("title")),
        default,
        api_roots,
    })
}

fn api_root_from(url: &str, value: &Value) -> Result<ApiRoot, Error> {
    let Some(obj) = value.as_object() else {
        return Err(Error::bad(
            url,
            "not an API root resource (not a JSON object)",
        ));
    };
    let versions: Vec<String> = match obj.get("versions") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => {
            return Err(Error::bad(
                url,
                "not an API root resource (no `versions` list)",
            ));
        }
    };
    // A server that lists versions and not 2.1 speaks another protocol
    // (TAXII 2.0 has other media types and paging).
    if !versions.is_empty()
        && !versions
            .iter()
            .any(|v| v.replace(' ', "").eq_ignore_ascii_case(MEDIA_TYPE))
    {
        return Err(Error::bad(
            url,
            format!(
                "the API root does not speak TAXII 2.1 (versions: {})",
                versions
                    .iter()
                    .map(|v| quote(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(ApiRoot {
        url: url.to_string(),
        title: obj.get("title").and_then(Value::as_str).map(str::to_string),
        versions,
        max_content_length: obj.get("max_content_length").and_then(Value::as_u64),
    })
}

/// A URL ending in `/` (every TAXII resource URL does; a missing slash
/// earns a redirect, which drops the credentials), checked for a scheme.
fn with_slash(url: &str) -> Result<String, Error> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::Config(format!(
            "{}: not an http:// or https:// URL",
            quote(url)
        )));
    }
    if url.contains(['?', '#']) || url.ends_with('/') {
        Ok(url.to_string())
    } else {
        Ok(format!("{url}/"))
    }
}

/// An API root URL from a discovery resource, made absolute.
fn absolute(base: &str, href: &str) -> Result<String, Error> {
    let href = href.trim();
    let made = if href.starts_with("http://") || href.starts_with("https://") {
        href.to_string()
    } else if let Some(path) = href.strip_prefix('/') {
        let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
        let origin_end = base
            .get(scheme_end..)
            .and_then(|rest| rest.find('/'))
            .map(|i| scheme_end + i)
            .unwrap_or(base.len());
        format!("{}/{path}", base.get(..origin_end).unwrap_or(base))
    } else {
        format!("{base}{href}")
    };
    with_slash(&made).map_err(|_| Error::bad(base, format!("bad API root URL {}", quote(href))))
}

/// Percent-encodes a path segment (a collection or status id from a
/// server or a user: it must not add path components or a query).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Server text made safe to print: control characters escaped, length
/// capped, quoted.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        if i >= MAX_QUOTE {
            out.push_str("...");
            break;
        }
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.push_str(&c.escape_unicode().to_string());
        } else if c == '"' {
            out.push_str("\\\"");
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// The reason an error answer gives: TAXII's error resource (title,
/// description), else the start of the body.
fn error_detail(status: u16, body: &[u8]) -> String {
    let mut detail = String::new();
    if let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) {
        for key in ["title", "description"] {
            if let Some(s) = obj.get(key).and_then(Value::as_str) {
                detail.push_str(&format!(": {}", quote(s)));
            }
        }
    }
    if detail.is_empty() {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if !text.is_empty() {
            detail = format!(": {}", quote(text));
        }
    }
    let hint = match status {
        401 => " (wrong or missing credentials)",
        403 => " (these credentials may not do this)",
        404 => " (no such resource: check the URL and the collection)",
        406 | 415 => " (the server does not accept TAXII 2.1)",
        413 => " (request too large)",
        _ => "",
    };
    format!("{hint}{detail}")
}

fn read_ca(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, Error> {
    let bytes = read_capped(path, MAX_CA_FILE)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::Config(format!(
                    "{}: not a PEM certificate file: {e}",
                    path.display()
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

/// A whole file, refused when larger than `max` bytes.
fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("larger than {max} bytes"),
            ),
        ));
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------
// Fault points.

/// A step of the pull protocol has been reached: `TAKEDOWN_FAULT=STEP`
/// (or `STEP#N`, the Nth time) aborts the process there, as a kill would,
/// so that the tests can check that a rerun loses and duplicates nothing.
/// Steps: `taxii-before-rename` (page in its temporary file),
/// `taxii-after-page` (page file durable, state not updated),
/// `taxii-after-state` (state updated). Unset, it costs one load.
fn fault(step: &str) {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PLAN: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    let plan = PLAN.get_or_init(|| {
        let spec = std::env::var("TAKEDOWN_FAULT").ok()?;
        Some(match spec.split_once('#') {
            Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
            None => (spec, 1),
        })
    });
    if let Some((name, nth)) = plan
        && name == step
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth
    {
        std::process::abort();
    }
}

// ---------------------------------------------------------------------
// Pull.

/// What [`pull`] fetches and where it writes.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// The discovery or API root URL.
    pub url: String,
    /// The collection's id or title.
    pub collection: String,
    /// Where page files and the state go.
    pub dir: PathBuf,
    /// Only objects added after this time (RFC 3339), for a first pull;
    /// a resumed pull starts from its state.
    pub added_after: Option<String>,
    /// Objects per page asked for (the server may send fewer).
    pub limit: Option<u32>,
}

/// One page written by [`pull`].
#[derive(Clone, Debug)]
pub struct PageInfo {
    /// Its number (the file name).
    pub number: u64,
    /// Its file.
    pub file: PathBuf,
    /// Objects written.
    pub objects: usize,
    /// Objects of the server's page already written before (dropped).
    pub duplicates: usize,
    /// The server's `X-TAXII-Date-Added-Last` for the page.
    pub date_added_last: Option<String>,
}

/// What a [`pull`] did.
#[derive(Clone, Debug, Default)]
pub struct PullSummary {
    /// The collection's URL.
    pub collection_url: String,
    /// Whether it went on from an earlier run's state.
    pub resumed: bool,
    /// Objects written by this run.
    pub objects: u64,
    /// Pages received from the server.
    pub pages: u64,
    /// Page files written by this run.
    pub files: Vec<PathBuf>,
    /// Objects received again and dropped (already written).
    pub duplicates: u64,
    /// Objects left out because they are not STIX objects (no string
    /// `id`); each is logged.
    pub skipped: u64,
    /// The resume point now saved (latest `date_added` seen).
    pub last_date: Option<String>,
    /// Objects written into the directory by every run together.
    pub total_objects: u64,
}

/// The state file of a pull directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    version: u32,
    collection_url: String,
    /// `--added-after` of the first run.
    added_after: Option<String>,
    /// The latest `X-TAXII-Date-Added-Last` of a written page.
    last_date: Option<String>,
    /// Objects already written that may have been added at `last_date`
    /// (or whose date is unknown): `id|version`.
    seen: Vec<String>,
    /// The number of the next page file.
    next_page: u64,
    /// Objects written by every run together.
    objects: u64,
}

impl State {
    /// `added_after` of the first request: just before the saved date
    /// (the saved keys then drop what is had already), else the user's.
    fn query_date(&self) -> Option<String> {
        match &self.last_date {
            Some(d) => just_before(d).or_else(|| Some(d.clone())),
            None => self.added_after.clone(),
        }
    }

    /// Takes in a page whose objects (`keys`) are all written.
    fn advance(&mut self, last: Option<&str>, keys: Vec<String>, seen: &mut HashSet<String>) {
        let later = match (last, self.last_date.as_deref()) {
            (Some(new), Some(old)) => match (
                OffsetDateTime::parse(new, &Rfc3339),
                OffsetDateTime::parse(old, &Rfc3339),
            ) {
                (Ok(n), Ok(o)) => n > o,
                _ => false,
            },
            (Some(_), None) => true,
            (None, _) => false,
        };
        if later {
            // Every object added at the new date is on this page (pages
            // are in date order): the older keys are no longer needed.
            self.last_date = last.map(str::to_string);
            seen.clear();
            self.seen.clear();
        }
        for k in keys {
            if seen.insert(k.clone()) {
                self.seen.push(k);
            }
        }
    }
}

/// `id|version` of a STIX object (version: `modified`, else `created`),
/// or `None` when it is not an object with a string id.
fn object_key(obj: &Value) -> Option<String> {
    let map = obj.as_object()?;
    let id = map.get("id")?.as_str()?;
    let version = map
        .get("modified")
        .or_else(|| map.get("created"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Some(format!("{id}|{version}"))
}

/// The file name of page `n`: zero-padded so that `ls` lists pages in
/// order.
pub fn page_file_name(n: u64) -> String {
    format!("{n:06}.json")
}

fn is_page_file(name: &str) -> bool {
    name.strip_suffix(".json")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Writes `bytes` as `dir/name`: a temporary file, fsync, rename, fsync
/// of the directory, so that the file is either whole or absent.
fn write_atomic(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    before_rename: Option<&str>,
) -> Result<(), Error> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let target = dir.join(name);
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    if let Some(step) = before_rename {
        fault(step);
    }
    fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn load_state(dir: &Path) -> Result<Option<State>, Error> {
    let path = dir.join(STATE_FILE);
    let bytes = match read_capped(&path, MAX_STATE_BYTES) {
        Ok(b) => b,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|e| Error::State {
        path: path.clone(),
        reason: format!("not a pull state file: {e}"),
    })?;
    if state.version != STATE_VERSION {
        return Err(Error::State {
            path,
            reason: format!(
                "state format version {} (this takedown writes {STATE_VERSION})",
                state.version
            ),
        });
    }
    if state.next_page == 0 || state.seen.len() > MAX_RESUME_KEYS {
        return Err(Error::State {
            path,
            reason: "damaged (page number 0 or too many resume keys)".to_string(),
        });
    }
    Ok(Some(state))
}

fn save_state(dir: &Path, state: &State) -> Result<(), Error> {
    let bytes = serde_json::to_vec(state).map_err(|e| Error::State {
        path: dir.join(STATE_FILE),
        reason: e.to_string(),
    })?;
    write_atomic(dir, STATE_FILE, &bytes, None)
}

#[derive(Serialize)]
struct BundleOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    objects: &'a [Value],
}

/// Pages through a collection's objects and writes each page into
/// `opts.dir` as a STIX 2.1 bundle (`000001.json`, ...), resuming from
/// the directory's state; `progress` is called after each page is
/// written and recorded.
pub fn pull(
    client: &Client,
    opts: &PullOptions,
    mut progress: impl FnMut(&PageInfo),
) -> Result<PullSummary, Error> {
    if let Some(a) = &opts.added_after
        && OffsetDateTime::parse(a, &Rfc3339).is_err()
    {
        return Err(Error::Config(format!(
            "added-after {}: not an RFC 3339 timestamp (such as 2024-01-31T00:00:00Z)",
            quote(a)
        )));
    }
    let dir = &opts.dir;
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let api_root = client.resolve_api_root(&opts.url)?;
    let collection = client.find_collection(&api_root.url, &opts.collection)?;
    let collection_url = api_root.collection_url(&collection.id);
    if !collection.can_read {
        return Err(Error::Collection(format!(
            "{collection_url}: these credentials may not read this collection (can_read is false)"
        )));
    }

    let mut summary = PullSummary {
        collection_url: collection_url.clone(),
        ..PullSummary::default()
    };
    let mut state = match load_state(dir)? {
        Some(state) => {
            if state.collection_url != collection_url {
                return Err(Error::State {
                    path: dir.join(STATE_FILE),
                    reason: format!(
                        "this directory holds a pull of {}, not of {collection_url}; use another directory",
                        quote(&state.collection_url)
                    ),
                });
            }
            if opts.added_after.is_some() && opts.added_after != state.added_after {
                tracing::warn!(
                    "{}: resuming from the saved state; --added-after is only used by a first pull",
                    dir.display()
                );
            }
            summary.resumed = true;
            state
        }
        None => {
            let foreign = fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_str().is_some_and(is_page_file));
            if foreign {
                return Err(Error::State {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "holds page files but no {STATE_FILE}; pull into an empty directory"
                    ),
                });
            }
            let state = State {
                version: STATE_VERSION,
                collection_url: collection_url.clone(),
                added_after: opts.added_after.clone(),
                last_date: None,
                seen: Vec::new(),
                next_page: 1,
                objects: 0,
            };
            // Saved before the first page, so that a page file without a
            // state file can only be someone else's.
            save_state(dir, &state)?;
            state
        }
    };
    let mut seen: HashSet<String> = state.seen.iter().cloned().collect();
    let mut query = state.query_date();
    let mut next: Option<String> = None;
    let mut strict = false;

    loop {
        let page = client.get_objects(
            &collection_url,
            query.as_deref(),
            next.as_deref(),
            opts.limit,
            &[],
        )?;
        summary.pages += 1;
        let received = page.objects.len();
        let mut fresh: Vec<Value> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        let mut page_keys: Vec<String> = Vec::new();
        let mut in_page: HashSet<String> = HashSet::new();
        let mut duplicates = 0usize;
        for obj in page.objects {
            let Some(key) = object_key(&obj) else {
                summary.skipped += 1;
                tracing::warn!(
                    "{collection_url}: page {}: an object without a string `id` left out",
                    summary.pages
                );
                continue;
            };
            if seen.contains(&key) || !in_page.insert(key.clone()) {
                duplicates += 1;
                page_keys.push(key);
                continue;
            }
            page_keys.push(key.clone());
            keys.push(key);
            fresh.push(obj);
        }
        summary.duplicates += duplicates as u64;
        let date_before = state.last_date.clone();
        let seen_before = seen.len();
        if !fresh.is_empty() {
            let number = state.next_page;
            let name = page_file_name(number);
            let bundle = BundleOut {
                kind: "bundle",
                id: format!(
                    "bundle--{}",
                    uuid::Uuid::new_v5(
                        &BUNDLE_NAMESPACE,
                        format!("{collection_url}\n{number}\n{}", keys.join("\n")).as_bytes()
                    )
                ),
                objects: &fresh,
            };
            let mut bytes = serde_json::to_vec(&bundle).map_err(|e| Error::State {
                path: dir.join(&name),
                reason: e.to_string(),
            })?;
            bytes.push(b'\n');
            write_atomic(dir, &name, &bytes, Some("taxii-before-rename"))?;
            fault("taxii-after-page");
            let written = fresh.len();
            state.advance(page.date_added_last.as_deref(), page_keys, &mut seen);
            state.next_page += 1;
            state.objects += written as u64;
            check_keys(dir, &state)?;
            save_state(dir, &state)?;
            fault("taxii-after-state");
            summary.objects += written as u64;
            summary.files.push(dir.join(&name));
            progress(&PageInfo {
                number,
                file: dir.join(&name),
                objects: written,
                duplicates,
                date_added_last: page.date_added_last.clone(),
            });
        } else if received > 0 {
            // Only objects had already: the resume point may still move.
            state.advance(page.date_added_last.as_deref(), page_keys, &mut seen);
            if state.last_date != date_before {
                save_state(dir, &state)?;
            }
        }
        if !page.more || received == 0 {
            break;
        }
        match page.next {
            Some(token) => next = Some(token),
            None => {
                // `more` without `next` (TAXII 2.0 habits): ask again
                // from just before the resume point; when that brings
                // nothing new (a group of one date fills the page), from
                // strictly after it; then give up rather than loop.
                let progressed = state.last_date != date_before || seen.len() != seen_before;
                next = None;
                if progressed {
                    strict = false;
                    query = state.query_date();
                } else if !strict && state.last_date.is_some() {
                    strict = true;
                    query = state.last_date.clone();
                } else {
                    tracing::warn!(
                        "{collection_url}: the server says more objects wait but gives no `next` and no new object; stopping"
                    );
                    break;
                }
            }
        }
    }
    summary.last_date = state.last_date.clone();
    summary.total_objects = state.objects;
    Ok(summary)
}

fn check_keys(dir: &Path, state: &State) -> Result<(), Error> {
    if state.seen.len() > MAX_RESUME_KEYS {
        return Err(Error::State {
            path: dir.join(STATE_FILE),
            reason: format!(
                "more than {MAX_RESUME_KEYS} objects share the date_added {} (or the server sends no X-TAXII-Date-Added-Last): a later pull could not resume exactly; stopping here",
                state.last_date.as_deref().unwrap_or("(none)")
            ),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Push.

/// What [`push`] sends where.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// The discovery or API root URL.
    pub url: String,
    /// The collection's id or title.
    pub collection: String,
    /// STIX 2.1 bundle files.
    pub files: Vec<PathBuf>,
    /// Most objects in one envelope.
    pub max_objects: usize,
    /// Most bytes of one envelope (the API root's `max_content_length`
    /// lowers it).
    pub max_bytes: u64,
    /// How long to wait for the server to complete the statuses.
    pub status_wait: Duration,
}

impl PushOptions {
    /// Options with the default envelope sizes and status wait.
    pub fn new(url: impl Into<String>, collection: impl Into<String>, files: Vec<PathBuf>) -> Self {
        PushOptions {
            url: url.into(),
            collection: collection.into(),
            files,
            max_objects: DEFAULT_ENVELOPE_OBJECTS,
            max_bytes: DEFAULT_ENVELOPE_BYTES,
            status_wait: DEFAULT_STATUS_WAIT,
        }
    }
}

/// One object (or file) that did not make it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushFailure {
    /// The bundle file it came from (or the file that could not be read).
    pub file: PathBuf,
    /// The object's id, when known.
    pub id: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// One envelope accepted by the server.
#[derive(Clone, Debug)]
pub struct EnvelopeInfo {
    /// The bundle file.
    pub file: PathBuf,
    /// Objects in it.
    pub objects: usize,
    /// Its size in bytes.
    pub bytes: usize,
    /// The status id the server gave.
    pub status_id: String,
}

/// What a [`push`] did.
#[derive(Clone, Debug, Default)]
pub struct PushReport {
    /// The collection's URL.
    pub collection_url: String,
    /// Objects read from the files.
    pub objects: u64,
    /// Envelopes the server accepted.
    pub envelopes: u64,
    /// Envelopes split in two after HTTP 413.
    pub splits: u64,
    /// Objects the server added.
    pub succeeded: u64,
    /// Objects that failed (refused, too large, unreadable file...).
    pub failed: u64,
    /// Objects still pending when the status wait ran out.
    pub pending: u64,
    /// The failures (the first [`MAX_LISTED_FAILURES`]).
    pub failures: Vec<PushFailure>,
}

impl PushReport {
    /// Whether every object was added.
    pub fn all_succeeded(&self) -> bool {
        self.failed == 0 && self.pending == 0
    }

    fn fail(&mut self, count: u64, failure: PushFailure) {
        self.failed += count;
        if self.failures.len() < MAX_LISTED_FAILURES {
            self.failures.push(failure);
        }
    }
}

/// An object ready to send.
struct Outgoing {
    id: String,
    bytes: Vec<u8>,
}

/// A sent envelope whose status is not complete yet.
struct Waiting {
    file: PathBuf,
    status: Status,
}

/// Sends the objects of STIX bundle files to a collection, in envelopes
/// of at most `max_objects` objects and `max_bytes` bytes (halved on HTTP
/// 413), then waits for each status to complete. A file that cannot be
/// read or is not a bundle, an object the server refuses: failures in the
/// report, the rest goes on. No answer, wrong credentials, no such
/// collection: an error.
pub fn push(
    client: &Client,
    opts: &PushOptions,
    mut progress: impl FnMut(&EnvelopeInfo),
) -> Result<PushReport, Error> {
    let api_root = client.resolve_api_root(&opts.url)?;
    let collection = client.find_collection(&api_root.url, &opts.collection)?;
    let collection_url = api_root.collection_url(&collection.id);
    if !collection.can_write {
        return Err(Error::Collection(format!(
            "{collection_url}: these credentials may not add to this collection (can_write is false)"
        )));
    }
    let max_bytes = opts
        .max_bytes
        .min(api_root.max_content_length.unwrap_or(u64::MAX))
        .max(1);
    let max_objects = opts.max_objects.max(1);
    let mut report = PushReport {
        collection_url: collection_url.clone(),
        ..PushReport::default()
    };
    let mut waiting: Vec<Waiting> = Vec::new();

    for file in &opts.files {
        let objects = match read_bundle(file) {
            Ok(objects) => objects,
            Err(reason) => {
                report.fail(
                    1,
                    PushFailure {
                        file: file.clone(),
                        id: None,
                        reason: format!("not sent: {reason}"),
                    },
                );
                continue;
            }
        };
        report.objects += objects.len() as u64;
        // Greedy batches under both limits; an object too large alone is
        // a failure of its own, never sent.
        let mut batch: Vec<Outgoing> = Vec::new();
        let mut batch_bytes = ENVELOPE_OVERHEAD;
        for obj in objects {
            let size = obj.bytes.len() as u64 + 1;
            if size + ENVELOPE_OVERHEAD > max_bytes {
                report.fail(
                    1,
                    PushFailure {
                        file: file.clone(),
                        id: Some(obj.id.clone()),
                        reason: format!(
                            "{} bytes: larger than one request may be ({max_bytes} bytes, from --max-bytes or the API root's max_content_length); not sent",
                            obj.bytes.len()
                        ),
                    },
                );
                continue;
            }
            if !batch.is_empty() && (batch.len() >= max_objects || batch_bytes + size > max_bytes) {
                let full = std::mem::take(&mut batch);
                send(
                    client,
                    &collection_url,
                    file,
                    &full,
                    &mut report,
                    &mut waiting,
                    &mut progress,
                )?;
                batch_bytes = ENVELOPE_OVERHEAD;
            }
            batch_bytes += size;
            batch.push(obj);
        }
        if !batch.is_empty() {
            send(
                client,
                &collection_url,
                file,
                &batch,
                &mut report,
                &mut waiting,
                &mut progress,
            )?;
        }
    }

    wait_statuses(client, &api_root, opts.status_wait, waiting, &mut report)?;
    Ok(report)
}

/// The objects of a bundle file, each serialized alone.
fn read_bundle(path: &Path) -> Result<Vec<Outgoing>, String> {
    let bytes = read_capped(path, MAX_BUNDLE_FILE).map_err(|e| match e {
        Error::Io { source, .. } => source.to_string(),
        e => e.to_string(),
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| format!("not JSON ({e})"))?;
    let Some(obj) = value.as_object() else {
        return Err("not a STIX bundle (not a JSON object)".to_string());
    };
    if obj.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err("not a STIX bundle (`type` is not \"bundle\")".to_string());
    }
    let list = match obj.get("objects") {
        None => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err("not a STIX bundle (`objects` is not a list)".to_string()),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, o) in list.iter().enumerate() {
        let Some(id) = o.get("id").and_then(Value::as_str) else {
            return Err(format!(
                "object #{} has no string `id`; not a STIX 2.1 object",
                i + 1
            ));
        };
        let bytes = serde_json::to_vec(o).map_err(|e| format!("object {}: {e}", quote(id)))?;
        out.push(Outgoing {
            id: id.to_string(),
            bytes,
        });
    }
    Ok(out)
}

fn envelope(objects: &[Outgoing]) -> Vec<u8> {
    let size: usize = objects.iter().map(|o| o.bytes.len() + 1).sum();
    let mut out = Vec::with_capacity(size + ENVELOPE_OVERHEAD as usize);
    out.extend_from_slice(b"{\"objects\":[");
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&o.bytes);
    }
    out.extend_from_slice(b"]}");
    out
}

/// Sends one envelope; on HTTP 413, each half on its own, down to single
/// objects, which then fail.
fn send(
    client: &Client,
    collection_url: &str,
    file: &Path,
    objects: &[Outgoing],
    report: &mut PushReport,
    waiting: &mut Vec<Waiting>,
    progress: &mut impl FnMut(&EnvelopeInfo),
) -> Result<(), Error> {
    let body = envelope(objects);
    match client.add_objects(collection_url, &body) {
        Ok(status) => {
            report.envelopes += 1;
            progress(&EnvelopeInfo {
                file: file.to_path_buf(),
                objects: objects.len(),
                bytes: body.len(),
                status_id: status.id.clone(),
            });
            waiting.push(Waiting {
                file: file.to_path_buf(),
                status,
            });
            Ok(())
        }
        Err(e) if e.http_status() == Some(413) => {
            if let [one] = objects {
                report.fail(
                    1,
                    PushFailure {
                        file: file.to_path_buf(),
                        id: Some(one.id.clone()),
                        reason: format!(
                            "the server refuses this object alone as too large ({} bytes): {e}",
                            body.len()
                        ),
                    },
                );
                return Ok(());
            }
            report.splits += 1;
            let (a, b) = objects.split_at(objects.len() / 2);
            tracing::info!(
                "{collection_url}: {} objects ({} bytes) too large for the server; sending {} and {}",
                objects.len(),
                body.len(),
                a.len(),
                b.len()
            );
            send(client, collection_url, file, a, report, waiting, progress)?;
            send(client, collection_url, file, b, report, waiting, progress)
        }
        // These hold for every envelope: stop now.
        Err(e @ (Error::Transport { .. } | Error::Config(_))) => Err(e),
        Err(e) if matches!(e.http_status(), Some(401 | 403 | 404 | 406 | 415)) => Err(e),
        // Anything else is about this envelope's content (400, 422...):
        // its objects fail, the others go on.
        Err(e) => {
            let first = objects.first().map(|o| o.id.clone());
            report.fail(
                objects.len() as u64,
                PushFailure {
                    file: file.to_path_buf(),
                    id: first,
                    reason: format!(
                        "an envelope of {} objects (from this one on) refused: {e}",
                        objects.len()
                    ),
                },
            );
            Ok(())
        }
    }
}

/// Polls the statuses not complete until they are, or `wait` runs out;
/// then counts successes, failures and what is still pending.
fn wait_statuses(
    client: &Client,
    api_root: &ApiRoot,
    wait: Duration,
    mut waiting: Vec<Waiting>,
    report: &mut PushReport,
) -> Result<(), Error> {
    let deadline = Instant::now() + wait;
    let mut interval = Duration::from_millis(250);
    loop {
        let mut still = Vec::new();
        for w in waiting {
            if w.status.status == "complete" {
                account(w, report);
            } else {
                still.push(w);
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            for w in still {
                let pending = w.status.pending_count.max(
                    w.status
                        .total_count
                        .saturating_sub(w.status.success_count + w.status.failure_count),
                );
                account(w, report);
                report.pending += pending;
            }
            return Ok(());
        }
        std::thread::sleep(interval.min(deadline.saturating_duration_since(Instant::now())));
        interval = (interval * 2).min(Duration::from_secs(10));
        waiting = Vec::with_capacity(still.len());
        for mut w in still {
            w.status = client.get_status(&api_root.url, &w.status.id)?;
            waiting.push(w);
        }
    }
}

/// Counts a status's successes and failures into the report.
fn account(w: Waiting, report: &mut PushReport) {
    let s = w.status;
    report.succeeded += s.success_count;
    let mut listed = 0u64;
    for f in &s.failures {
        listed += 1;
        report.fail(
            1,
            PushFailure {
                file: w.file.clone(),
                id: Some(f.id.clone()),
                reason: format!(
                    "refused by the server{}",
                    f.message
                        .as_deref()
                        .map(|m| format!(": {}", quote(m)))
                        .unwrap_or_default()
                ),
            },
        );
    }
    if s.failure_count > listed {
        report.fail(
            s.failure_count - listed,
            PushFailure {
                file: w.file.clone(),
                id: None,
                reason: format!(
                    "{} more objects refused by the server (status {}, not listed)",
                    s.failure_count - listed,
                    quote(&s.id)
                ),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let later = OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let text = later
            .format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .unwrap();
        let got = parse_retry_after(&text).unwrap();
        assert!(
            got > Duration::from_secs(25) && got <= Duration::from_secs(30),
            "{got:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_capped_with_jitter() {
        for attempt in 0..40 {
            let d = backoff(attempt);
            let full = BACKOFF_BASE
                .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
                .min(BACKOFF_CAP);
            assert!(d <= full && d >= full / 2, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn just_before_is_one_microsecond_earlier() {
        assert_eq!(
            just_before("2024-05-01T10:00:00.000000Z").as_deref(),
            Some("2024-05-01T09:59:59.999999Z")
        );
        assert_eq!(
            just_before("2024-05-01T12:00:00.5+02:00").as_deref(),
            Some("2024-05-01T10:00:00.499999Z")
        );
        assert_eq!(just_before("yesterday"), None);
    }

    #[test]
    fn urls() {
        assert_eq!(with_slash("http://h/taxii2").unwrap(), "http://h/taxii2/");
        assert!(with_slash("ftp://h/").is_err());
        assert_eq!(
            absolute("https://h:1/taxii2/", "/api1/").unwrap(),
            "https://h:1/api1/"
        );
        assert_eq!(
            absolute("https://h/taxii2/", "https://o/r").unwrap(),
            "https://o/r/"
        );
        assert_eq!(encode_segment("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn resume_keys_follow_the_latest_date() {
        let mut s = State {
            version: STATE_VERSION,
            collection_url: String::new(),
            added_after: None,
            last_date: None,
            seen: Vec::new(),
            next_page: 1,
            objects: 0,
        };
        let mut seen = HashSet::new();
        s.advance(Some("2024-01-01T00:00:00Z"), vec!["a".into()], &mut seen);
        s.advance(Some("2024-01-01T00:00:00Z"), vec!["b".into()], &mut seen);
        assert_eq!(s.seen, ["a", "b"]);
        s.advance(None, vec!["c".into()], &mut seen);
        assert_eq!(s.seen, ["a", "b", "c"]);
        s.advance(Some("2024-01-02T00:00:00Z"), vec!["d".into()], &mut seen);
        assert_eq!(s.seen, ["d"]);
        assert_eq!(s.last_date.as_deref(), Some("2024-01-02T00:00:00Z"));
        assert_eq!(
            s.query_date().as_deref(),
            Some("2024-01-01T23:59:59.999999Z")
        );
    }

    #[test]
    fn quoting_escapes_control_characters() {
        assert_eq!(quote("a\u{1b}[31mb\"c"), "\"a\\u{1b}[31mb\\\"c\"");
        assert!(quote(&"x".repeat(1000)).ends_with("...\""));
    }
}
