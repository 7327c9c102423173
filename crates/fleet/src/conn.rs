//! Connecting to NATS and making sure the streams exist.

use crate::ids::{
    AGENT_SUBJECTS, AGENTS_STREAM, BUNDLE_BUCKET, HUNT_SUBJECTS, HUNTS_STREAM, RESULT_SUBJECTS,
    RESULTS_STREAM,
};
use crate::model::MAX_EXPIRY_SECS;
use crate::{Error, Result};
use async_nats::jetstream::{self, stream};
use std::path::PathBuf;
use std::time::Duration;

/// Largest message on the results stream: a finding is cut to fit well
/// below it ([`crate::agent::MAX_FINDING_BYTES`]).
pub const MAX_RESULT_MESSAGE: i32 = 1 << 20;
/// How long the results server remembers message ids to drop duplicates.
/// A redelivery after a crash comes within the agent's ack wait, far
/// inside this; `fleet results` drops by id again, whatever the window.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 3600);
/// How long results are kept.
pub const RESULTS_MAX_AGE: Duration = Duration::from_secs(MAX_EXPIRY_SECS * 2);

/// How to reach the server.
#[derive(Clone, Debug, Default)]
pub struct ConnectConfig {
    /// `nats://host:port` or `tls://host:port` (TLS required); several
    /// servers separated by commas.
    pub url: String,
    /// A NATS credentials file (JWT and NKey seed).
    pub creds: Option<PathBuf>,
    /// CA certificates (PEM) to trust for the server's TLS certificate.
    pub tls_ca: Option<PathBuf>,
    /// The client name the server shows (`takedown agent web1`).
    pub name: String,
    /// Keep trying to connect when the server is not there yet (agents:
    /// the server may come up after them).
    pub retry_initial: bool,
}

/// The inbox prefix of the analyst's commands (`fleet hunt|status|
/// results`): the one the documented `ANALYST` permissions allow.
pub const ANALYST_INBOX_PREFIX: &str = "_INBOX_analyst";

/// The inbox prefix of the agent `host`: `_INBOX_HOST`. One token, so
/// that a permission `_INBOX_web1.>` matches web1's inboxes and no one
/// else's (NATS wildcards match whole tokens: not `_INBOX_web10`).
pub fn agent_inbox_prefix(host: &str) -> String {
    format!("_INBOX_{host}")
}

/// Checks an inbox prefix: one subject token of letters, digits, `-`
/// and `_` (a `.`, `*` or `>` would widen what the permissions must
/// allow).
pub fn check_inbox_prefix(prefix: &str) -> Result<()> {
    // A host id of the longest length still fits with `_INBOX_` in front.
    let ok = !prefix.is_empty()
        && prefix.len() <= crate::ids::MAX_TOKEN_LEN + 16
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "the inbox prefix {:?} is not 1 to {} ASCII letters, digits, '-' and '_'",
            crate::ids::shorten(prefix),
            crate::ids::MAX_TOKEN_LEN + 16
        )))
    }
}

/// Connects and returns a JetStream context; replies come on NATS's
/// shared `_INBOX` prefix (see [`connect_with_inbox`]).
pub async fn connect(c: &ConnectConfig) -> Result<jetstream::Context> {
    connect_with_inbox(c, None).await
}

/// Connects with the reply subjects under `inbox_prefix`: JetStream
/// deliveries, object-store chunks and publish acknowledgements all come
/// back on them, so each agent has its own ([`agent_inbox_prefix`]) and
/// the analyst its own ([`ANALYST_INBOX_PREFIX`]), and the server lets no
/// other credentials subscribe to them. `None`: NATS's `_INBOX`, which
/// every user allowed `_INBOX.>` could read.
pub async fn connect_with_inbox(
    c: &ConnectConfig,
    inbox_prefix: Option<&str>,
) -> Result<jetstream::Context> {
    if c.url.is_empty() {
        return Err(Error::Invalid("no NATS URL".into()));
    }
    let (url, userinfo) = split_userinfo(&c.url)?;
    let mut opts = async_nats::ConnectOptions::new()
        .name(&c.name)
        .connection_timeout(Duration::from_secs(10))
        .request_timeout(Some(Duration::from_secs(10)));
    if let Some(creds) = &c.creds {
        opts = opts.credentials_file(creds).await.map_err(|e| {
            Error::io(
                format!("cannot read the credentials file {}", creds.display()),
                e,
            )
        })?;
    }
    if let Some(ca) = &c.tls_ca {
        if !ca.is_file() {
            return Err(Error::Invalid(format!(
                "the TLS CA file {} does not exist",
                ca.display()
            )));
        }
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    if c.url
        .split(',')
        .any(|u| u.trim().to_ascii_lowercase().starts_with("tls://"))
    {
        opts = opts.require_tls(true);
    }
    if let Some((user, pass)) = userinfo {
        // The client ignores a URL's user and password; they are given
        // here, and never shown in a message.
        opts = opts.user_and_password(user, pass);
    }
    if c.retry_initial {
        opts = opts.retry_on_initial_connect();
    }
    if let Some(prefix) = inbox_prefix {
        check_inbox_prefix(prefix)?;
        opts = opts.custom_inbox_prefix(prefix);
    }
    let client = opts
        .connect(url.as_str())
        .await
        .map_err(|e| Error::nats(&format!("cannot connect to {url}"), e))?;
    Ok(jetstream::new(client))
}

/// The servers of a URL list without their `user:password@`, and that
/// user and password (percent-decoded). Every server of the list must
/// carry the same, or none.
pub fn split_userinfo(urls: &str) -> Result<(String, Option<(String, String)>)> {
    let mut clean = Vec::new();
    let mut found: Option<Option<(String, String)>> = None;
    for u in urls.split(',') {
        let u = u.trim();
        let (scheme, rest) = match u.split_once("://") {
            Some((s, r)) => (Some(s), r),
            None => (None, u),
        };
        let (info, host) = match rest.rsplit_once('@') {
            Some((i, h)) => {
                let (user, pass) = i.split_once(':').unwrap_or((i, ""));
                (Some((percent_decode(user)?, percent_decode(pass)?)), h)
            }
            None => (None, rest),
        };
        match &found {
            Some(prev) if *prev != info => {
                return Err(Error::Invalid(
                    "the NATS URLs carry different users or passwords".into(),
                ));
            }
            _ => found = Some(info),
        }
        clean.push(match scheme {
            Some(s) => format!("{s}://{host}"),
            None => host.to_string(),
        });
    }
    Ok((clean.join(","), found.flatten()))
}

fn percent_decode(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    Error::Invalid("a bad %-escape in the NATS URL's user or password".into())
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::Invalid("the NATS URL's user or password is not UTF-8".into()))
}

/// The three streams of the protocol, created when missing (an analyst's
/// `fleet hunt` creates them; an agent without the permission to waits
/// for them).
pub async fn ensure_streams(js: &jetstream::Context) -> Result<()> {
    js.get_or_create_stream(stream::Config {
        name: HUNTS_STREAM.into(),
        description: Some("takedown fleet hunts".into()),
        subjects: vec![HUNT_SUBJECTS.into()],
        retention: stream::RetentionPolicy::Limits,
        max_age: Duration::from_secs(MAX_EXPIRY_SECS),
        max_message_size: i32::try_from(crate::model::MAX_HUNT_BYTES).unwrap_or(i32::MAX),
        duplicate_window: Duration::from_secs(3600),
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| Error::nats(&format!("cannot create the stream {HUNTS_STREAM}"), e))?;
    js.get_or_create_stream(stream::Config {
        name: RESULTS_STREAM.into(),
        description: Some("takedown fleet findings and states".into()),
        subjects: RESULT_SUBJECTS.iter().map(|s| s.to_string()).collect(),
        retention: stream::RetentionPolicy::Limits,
        max_age: RESULTS_MAX_AGE,
        max_message_size: MAX_RESULT_MESSAGE,
        duplicate_window: DUPLICATE_WINDOW,
        storage: stream::StorageType::File,
        // An agent looks up its own completion by subject (a direct get,
        // which the permissions can give per subject).
        allow_direct: true,
        ..Default::default()
    })
    .await
    .map_err(|e| Error::nats(&format!("cannot create the stream {RESULTS_STREAM}"), e))?;
    js.get_or_create_stream(stream::Config {
        name: AGENTS_STREAM.into(),
        description: Some("takedown fleet agents, last announcement per host".into()),
        subjects: vec![AGENT_SUBJECTS.into()],
        max_messages_per_subject: 1,
        max_message_size: 16 * 1024,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| Error::nats(&format!("cannot create the stream {AGENTS_STREAM}"), e))?;
    Ok(())
}

/// Limits of the results stream set by the analyst (`fleet hunt
/// --results-max-bytes/--results-max-age`); `None` leaves one as it is
/// (a new stream: no byte limit but the server's, [`RESULTS_MAX_AGE`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResultsLimits {
    /// Bytes the stream keeps at most; past them the oldest records go.
    pub max_bytes: Option<i64>,
    /// How long records are kept.
    pub max_age: Option<Duration>,
}

/// The results stream's configuration with `limits` applied; `None`
/// when nothing changes.
pub fn with_results_limits(
    mut config: stream::Config,
    limits: &ResultsLimits,
) -> Result<Option<stream::Config>> {
    if let Some(b) = limits.max_bytes
        && b < i64::from(MAX_RESULT_MESSAGE)
    {
        return Err(Error::Invalid(format!(
            "a results stream of {b} bytes could not hold one record of {MAX_RESULT_MESSAGE}"
        )));
    }
    if limits
        .max_age
        .is_some_and(|a| a < Duration::from_secs(3600))
    {
        return Err(Error::Invalid(
            "results kept less than an hour would be gone before they are read".into(),
        ));
    }
    let before = (config.max_bytes, config.max_age);
    if let Some(b) = limits.max_bytes {
        config.max_bytes = b;
        // Full: the oldest records make room (the stream's default).
        config.discard = stream::DiscardPolicy::Old;
    }
    if let Some(a) = limits.max_age {
        config.max_age = a;
    }
    Ok(((config.max_bytes, config.max_age) != before).then_some(config))
}

/// Sets the results stream's limits (the analyst's side).
pub async fn limit_results(js: &jetstream::Context, limits: &ResultsLimits) -> Result<()> {
    if *limits == ResultsLimits::default() {
        return Ok(());
    }
    let mut stream = js
        .get_stream(RESULTS_STREAM)
        .await
        .map_err(|e| Error::nats(&format!("cannot open the stream {RESULTS_STREAM}"), e))?;
    let info = stream
        .info()
        .await
        .map_err(|e| Error::nats(&format!("cannot open the stream {RESULTS_STREAM}"), e))?;
    if let Some(config) = with_results_limits(info.config.clone(), limits)? {
        js.update_stream(config)
            .await
            .map_err(|e| Error::nats(&format!("cannot set the limits of {RESULTS_STREAM}"), e))?;
    }
    Ok(())
}

/// Turns on direct gets on a results stream made before they were used
/// (the analyst's side: agents may not change streams).
pub async fn allow_direct_results(js: &jetstream::Context) -> Result<()> {
    let mut stream = js
        .get_stream(RESULTS_STREAM)
        .await
        .map_err(|e| Error::nats(&format!("cannot open the stream {RESULTS_STREAM}"), e))?;
    let info = stream
        .info()
        .await
        .map_err(|e| Error::nats(&format!("cannot open the stream {RESULTS_STREAM}"), e))?;
    if !info.config.allow_direct {
        let mut config = info.config.clone();
        config.allow_direct = true;
        js.update_stream(config)
            .await
            .map_err(|e| Error::nats(&format!("cannot update the stream {RESULTS_STREAM}"), e))?;
    }
    Ok(())
}

/// The bundles' object store, created when missing.
pub async fn bundle_store(
    js: &jetstream::Context,
    create: bool,
) -> Result<jetstream::object_store::ObjectStore> {
    match js.get_object_store(BUNDLE_BUCKET).await {
        Ok(s) => Ok(s),
        Err(_) if create => js
            .create_object_store(jetstream::object_store::Config {
                bucket: BUNDLE_BUCKET.into(),
                description: Some("takedown signature bundles, named by SHA-256".into()),
                max_age: RESULTS_MAX_AGE,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Error::nats(
                    &format!("cannot create the object store {BUNDLE_BUCKET}"),
                    e,
                )
            }),
        Err(e) => Err(Error::nats(
            &format!("cannot open the object store {BUNDLE_BUCKET}"),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url() {
        let (u, i) = split_userinfo("nats://web1:p%40ss@h:4222").unwrap();
        assert_eq!(u, "nats://h:4222");
        assert_eq!(i, Some(("web1".into(), "p@ss".into())));
        let (u, i) = split_userinfo("tls://a:1, tls://b:2").unwrap();
        assert_eq!(u, "tls://a:1,tls://b:2");
        assert_eq!(i, None);
        assert!(split_userinfo("nats://a:b@h,nats://c:d@h").is_err());
        assert!(split_userinfo("nats://a:%zz@h").is_err());
    }

    #[test]
    fn results_limits() {
        let base = stream::Config {
            max_age: RESULTS_MAX_AGE,
            ..Default::default()
        };
        assert!(
            with_results_limits(base.clone(), &ResultsLimits::default())
                .unwrap()
                .is_none()
        );
        let c = with_results_limits(
            base.clone(),
            &ResultsLimits {
                max_bytes: Some(10 << 30),
                max_age: Some(Duration::from_secs(86400)),
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.max_bytes, 10 << 30);
        assert_eq!(c.max_age, Duration::from_secs(86400));
        assert_eq!(c.discard, stream::DiscardPolicy::Old);
        let small = ResultsLimits {
            max_bytes: Some(1000),
            max_age: None,
        };
        assert!(with_results_limits(base.clone(), &small).is_err());
        let short = ResultsLimits {
            max_bytes: None,
            max_age: Some(Duration::from_secs(60)),
        };
        assert!(with_results_limits(base, &short).is_err());
    }

    #[test]
    fn inbox_prefixes_are_one_token() {
        assert_eq!(agent_inbox_prefix("web1"), "_INBOX_web1");
        check_inbox_prefix(&agent_inbox_prefix("web1")).unwrap();
        check_inbox_prefix(ANALYST_INBOX_PREFIX).unwrap();
        for bad in ["_INBOX.web1", "_INBOX_*", ">", ""] {
            assert!(check_inbox_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
