//! The records of the protocol: a hunt, an agent's announcement, the
//! `started` and completion records. All are JSON; all read from the
//! network are bounded ([`MAX_HUNT_BYTES`]) and validated before use, and
//! unknown fields are refused: an agent that does not understand an
//! option of a newer analyst says so instead of running a different scan.

use crate::ids::{check_host, check_token, shorten};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of every record below; a record of another version is refused.
pub const RECORD_VERSION: u32 = 1;
/// Largest hunt message read: paths and options, never more.
pub const MAX_HUNT_BYTES: usize = 64 * 1024;
/// Paths of one hunt.
pub const MAX_PATHS: usize = 1024;
/// Length of one path or exclusion pattern, in bytes.
pub const MAX_PATH_LEN: usize = 4096;
/// Exclusion patterns of one hunt.
pub const MAX_EXCLUDES: usize = 1024;
/// Labels of one agent.
pub const MAX_LABELS: usize = 32;
/// Longest hunt lifetime: the hunts stream keeps messages this long, so a
/// machine offline longer than that finds nothing waiting.
pub const MAX_EXPIRY_SECS: u64 = 90 * 24 * 3600;
/// Largest bundle a hunt may name: the bundle format's own limit on the
/// files plus room for the manifest and header.
pub const MAX_BUNDLE_BYTES: u64 = takedown_bundle::format::MAX_TOTAL_SIZE
    + takedown_bundle::format::MAX_MANIFEST_LEN as u64
    + 4096;

/// Who a hunt is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "lowercase", deny_unknown_fields)]
pub enum Target {
    /// Every agent.
    All,
    /// The agents started with `--label key=value`.
    Label {
        /// The label's key.
        key: String,
        /// The label's value.
        value: String,
    },
    /// One host, by its `--host-id`.
    Host {
        /// The host id.
        host: String,
    },
}

impl Target {
    /// Reads `--to`: `all`, `KEY=VALUE` or a host id.
    pub fn parse(s: &str) -> Result<Target> {
        if s == "all" {
            return Ok(Target::All);
        }
        if let Some((k, v)) = s.split_once('=') {
            check_token("the label key", k)?;
            check_token("the label value", v)?;
            return Ok(Target::Label {
                key: k.into(),
                value: v.into(),
            });
        }
        check_host(s)?;
        Ok(Target::Host { host: s.into() })
    }

    /// Checks the tokens.
    pub fn validate(&self) -> Result<()> {
        match self {
            Target::All => Ok(()),
            Target::Label { key, value } => {
                check_token("the label key", key)?;
                check_token("the label value", value)
            }
            Target::Host { host } => check_host(host),
        }
    }

    /// The subject hunts for this target are published on.
    pub fn subject(&self) -> String {
        match self {
            Target::All => crate::ids::hunt_subject_all(),
            Target::Label { key, value } => crate::ids::hunt_subject_label(key, value),
            Target::Host { host } => crate::ids::hunt_subject_host(host),
        }
    }

    /// True when an agent with this host id and these labels is meant.
    pub fn matches(&self, host: &str, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Target::All => true,
            Target::Label { key, value } => labels.get(key) == Some(value),
            Target::Host { host: h } => h == host,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::All => write!(f, "all"),
            Target::Label { key, value } => write!(f, "{key}={value}"),
            Target::Host { host } => write!(f, "{host}"),
        }
    }
}

/// Where an agent gets a hunt's bundle, and what it must hash to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRef {
    /// SHA-256 of the whole bundle file, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// The object's name in the [`crate::ids::BUNDLE_BUCKET`] object
    /// store; `None` when the bundle is fetched from `url`.
    #[serde(default)]
    pub object: Option<String>,
    /// An http(s) URL of the bundle, instead of the object store.
    #[serde(default)]
    pub url: Option<String>,
}

impl BundleRef {
    fn validate(&self) -> Result<()> {
        if !(self.sha256.len() == 64
            && self
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        {
            return Err(Error::Invalid(
                "the bundle's sha256 is not 64 lowercase hex digits".into(),
            ));
        }
        if self.size == 0 || self.size > MAX_BUNDLE_BYTES {
            return Err(Error::Invalid(format!(
                "the bundle's size {} is outside 1..={MAX_BUNDLE_BYTES}",
                self.size
            )));
        }
        match (&self.object, &self.url) {
            (Some(o), None) => {
                // The object store's own rule for names, a subset of it.
                if o.is_empty()
                    || o.len() > 128
                    || !o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(Error::Invalid(format!(
                        "the bundle object name {:?} is not 1 to 128 letters, digits or '-'",
                        shorten(o)
                    )));
                }
                Ok(())
            }
            (None, Some(u)) => {
                let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
                if u.len() > MAX_PATH_LEN
                    || !(lower.starts_with("http://") || lower.starts_with("https://"))
                {
                    return Err(Error::Invalid(format!(
                        "the bundle URL {:?} is not an http(s) URL of at most {MAX_PATH_LEN} bytes",
                        shorten(u)
                    )));
                }
                Ok(())
            }
            _ => Err(Error::Invalid(
                "the bundle names neither or both of an object and a URL".into(),
            )),
        }
    }
}

/// What a hunt asks an agent to do about detected files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Report only (the default).
    #[default]
    Report,
    /// Move detected files into the agent's vault, restorably. Deleting
    /// across a fleet is not offered: a false positive on a thousand
    /// machines must be undoable.
    Quarantine,
}

/// The scan a hunt runs: the paths and the options of `takedown scan` that
/// make sense on a remote machine. Signatures come from the hunt's bundle
/// only; the vault, the caches and the installed sets are the agent's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanSpec {
    /// Absolute paths on the agents.
    pub paths: Vec<String>,
    /// Leave out the built-in pack.
    pub no_builtin: bool,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
    /// `--max-filesize`.
    pub max_filesize: Option<String>,
    /// `--timeout` (seconds).
    pub timeout: Option<f64>,
    /// `--no-containers`.
    pub no_containers: bool,
    /// `--max-depth`.
    pub max_depth: Option<u32>,
    /// `--max-entries`.
    pub max_entries: Option<u64>,
    /// `--max-scansize`.
    pub max_scansize: Option<String>,
    /// `--max-ratio`.
    pub max_ratio: Option<u64>,
    /// `--time-limit` (seconds).
    pub time_limit: Option<f64>,
    /// `--limits-as-detections`.
    pub limits_as_detections: bool,
    /// `--heuristics`. Left out of the message when off, so that agents
    /// older than the option still take the hunts that do not use it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub heuristics: bool,
    /// `--max-packers` (with `heuristics`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_packers: Option<u32>,
    /// `--one-file-system`.
    pub one_file_system: bool,
    /// `--follow-symlinks`.
    pub follow_symlinks: bool,
    /// `--persistence` (autostarts of the agent's own system).
    pub persistence: bool,
    /// `--processes`.
    pub processes: bool,
    /// `--threads`.
    pub threads: Option<u32>,
    /// `--action`.
    pub action: Action,
    /// `--yes`: the analyst confirmed the action for the whole fleet.
    pub yes: bool,
    /// `--min-score`.
    pub min_score: u32,
}

impl ScanSpec {
    /// Checks bounds and shapes; the values themselves (a size such as
    /// `12Q`) are checked by the scan, which refuses them with a message.
    pub fn validate(&self) -> Result<()> {
        if self.paths.is_empty() && !self.persistence && !self.processes {
            return Err(Error::Invalid(
                "the hunt names no path (and neither --persistence nor --processes)".into(),
            ));
        }
        if self.paths.len() > MAX_PATHS {
            return Err(Error::Invalid(format!(
                "the hunt names {} paths (at most {MAX_PATHS})",
                self.paths.len()
            )));
        }
        if self.excludes.len() > MAX_EXCLUDES {
            return Err(Error::Invalid(format!(
                "the hunt has {} exclusions (at most {MAX_EXCLUDES})",
                self.excludes.len()
            )));
        }
        for p in &self.paths {
            check_text("a path", p)?;
            if !std::path::Path::new(p).is_absolute() && !looks_absolute(p) {
                return Err(Error::Invalid(format!(
                    "the path {:?} is not absolute (an agent's working directory means nothing to the analyst)",
                    shorten(p)
                )));
            }
        }
        for p in &self.paths {
            if std::path::Path::new(p)
                .components()
                .any(|c| c == std::path::Component::ParentDir)
                || p.split(['/', '\\']).any(|c| c == "..")
            {
                return Err(Error::Invalid(format!(
                    "the path {:?} climbs with '..'",
                    shorten(p)
                )));
            }
        }
        for e in &self.excludes {
            check_text("an exclusion", e)?;
        }
        for s in [&self.max_filesize, &self.max_scansize]
            .into_iter()
            .flatten()
        {
            check_text("a size", s)?;
            if s.len() > 32 {
                return Err(Error::Invalid(format!(
                    "the size {:?} is too long",
                    shorten(s)
                )));
            }
        }
        for t in [self.timeout, self.time_limit].into_iter().flatten() {
            if !(t.is_finite() && t > 0.0 && t <= 1e7) {
                return Err(Error::Invalid(format!(
                    "a time of {t} seconds is outside (0, 10000000]"
                )));
            }
        }
        if self.threads == Some(0) || self.threads.is_some_and(|n| n > 1024) {
            return Err(Error::Invalid("threads must be 1 to 1024".into()));
        }
        if self.action == Action::Report && (self.yes || self.min_score > 0) {
            return Err(Error::Invalid(
                "--yes and --min-score apply to --action quarantine".into(),
            ));
        }
        if self.action == Action::Quarantine && !self.yes {
            return Err(Error::Invalid(
                "--action quarantine across a fleet needs --yes".into(),
            ));
        }
        Ok(())
    }
}

/// A path that is absolute on Windows (`C:\...`, `\\server\...`), which
/// `Path::is_absolute` does not recognise on other systems: a hunt
/// issued from Linux for Windows agents is checked the same everywhere.
fn looks_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    p.starts_with("\\\\")
        || (b.len() >= 3
            && b.first().is_some_and(u8::is_ascii_alphabetic)
            && b.get(1) == Some(&b':')
            && matches!(b.get(2), Some(b'\\') | Some(b'/')))
}

/// A string from the network that goes onto a command line: bounded, no
/// NUL (which no argv can carry), no line breaks.
fn check_text(what: &str, s: &str) -> Result<()> {
    if s.is_empty() || s.len() > MAX_PATH_LEN {
        return Err(Error::Invalid(format!(
            "{what} is empty or longer than {MAX_PATH_LEN} bytes"
        )));
    }
    if s.chars().any(|c| c == '\0' || c == '\n' || c == '\r') {
        return Err(Error::Invalid(format!(
            "{what} {:?} holds a NUL or a line break",
            shorten(s)
        )));
    }
    Ok(())
}

/// A hunt, as published on its target's subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hunt {
    /// Always `"hunt"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// The hunt id ([`crate::ids::new_hunt_id`]).
    pub id: String,
    /// When it was issued, Unix seconds.
    pub issued: u64,
    /// After this (Unix seconds) an agent that receives it does not run it.
    pub expires: u64,
    /// Who it is for.
    pub target: Target,
    /// The signature bundle.
    pub bundle: BundleRef,
    /// The scan.
    pub scan: ScanSpec,
}

impl Hunt {
    /// Reads and checks a hunt message.
    pub fn parse(payload: &[u8]) -> Result<Hunt> {
        if payload.len() > MAX_HUNT_BYTES {
            return Err(Error::Invalid(format!(
                "the hunt message is {} bytes (at most {MAX_HUNT_BYTES})",
                payload.len()
            )));
        }
        let hunt: Hunt = serde_json::from_slice(payload)
            .map_err(|e| Error::Invalid(format!("the hunt message is not a valid hunt: {e}")))?;
        hunt.validate()?;
        Ok(hunt)
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.kind != "hunt" {
            return Err(Error::Invalid(format!(
                "the record is of type {:?}, not \"hunt\"",
                shorten(&self.kind)
            )));
        }
        if self.version != RECORD_VERSION {
            return Err(Error::Invalid(format!(
                "hunt format {} (this takedown reads {RECORD_VERSION})",
                self.version
            )));
        }
        check_token("the hunt id", &self.id)?;
        if self.expires <= self.issued || self.expires - self.issued > MAX_EXPIRY_SECS {
            return Err(Error::Invalid(format!(
                "the hunt expires {} s after it was issued (1 to {MAX_EXPIRY_SECS})",
                i128::from(self.expires) - i128::from(self.issued)
            )));
        }
        self.target.validate()?;
        self.bundle.validate()?;
        self.scan.validate()
    }

    /// The hunt id of a message that is not a valid hunt, when one can be
    /// read from it, so that the refusal can still be recorded.
    pub fn salvage_id(payload: &[u8]) -> Option<String> {
        if payload.len() > MAX_HUNT_BYTES {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
        let id = v.get("id")?.as_str()?;
        check_token("the hunt id", id).ok()?;
        Some(id.to_string())
    }
}

/// An agent's announcement (the last one per host is kept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentInfo {
    /// Always `"agent"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// Its host id.
    pub host: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// When it started, Unix seconds.
    pub started: u64,
    /// The takedown version it runs.
    pub software: String,
    /// False when started with `--no-actions`.
    pub actions: bool,
}

impl AgentInfo {
    /// Checks an announcement read from the stream.
    pub fn validate(&self) -> Result<()> {
        check_host(&self.host)?;
        if self.labels.len() > MAX_LABELS {
            return Err(Error::Invalid(format!(
                "{} labels (at most {MAX_LABELS})",
                self.labels.len()
            )));
        }
        for (k, v) in &self.labels {
            check_token("a label key", k)?;
            check_token("a label value", v)?;
        }
        Ok(())
    }
}

/// Published when an agent starts (or restarts) running a hunt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Started {
    /// Always `"started"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// The hunt id.
    pub hunt: String,
    /// The host id.
    pub host: String,
    /// Which delivery of the hunt this is (1 the first time).
    pub delivery: i64,
    /// When, Unix seconds.
    pub at: u64,
}

/// How a host's part of a hunt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The scan ran to its end (found or not).
    Done,
    /// The agent refused the hunt: the bundle did not verify, the hunt
    /// message was invalid, or it asked for what the agent does not do.
    Refused,
    /// The scan could not run or did not finish (crashed, killed).
    Failed,
    /// Received after its expiry: not run.
    Expired,
}

impl Outcome {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Expired => "expired",
        }
    }
}

/// Which bundle a host ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleUsed {
    /// The bundle's version.
    pub version: u64,
    /// The key that signed it, as the agent verified.
    pub key_id: Option<String>,
    /// SHA-256 of the bundle file.
    pub sha256: String,
}

/// The last word of a host on a hunt: published once (de-duplicated by
/// [`crate::ids::completion_msg_id`]) after all its findings, before the
/// hunt is acknowledged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    /// Always `"completion"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// The hunt id.
    pub hunt: String,
    /// The host id.
    pub host: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, when not done (or done with a restriction, such as actions
    /// refused by `--no-actions`).
    #[serde(default)]
    pub reason: Option<String>,
    /// Findings published by this run (each stored once, whatever the
    /// number of runs).
    pub findings: u64,
    /// Findings the server already held from an earlier delivery.
    pub duplicates: u64,
    /// Findings not published (over the size limit even without their
    /// metadata).
    pub dropped: u64,
    /// Which delivery of the hunt finished it (more than 1 after an agent
    /// crashed or lost its connection mid-hunt).
    pub delivery: i64,
    /// When the run started and finished, Unix seconds.
    pub started: u64,
    /// See `started`.
    pub finished: u64,
    /// The scan's exit code, when it ran and exited.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The bundle that ran.
    #[serde(default)]
    pub bundle: Option<BundleUsed>,
    /// The scan's summary line (the finding model's `summary` record),
    /// with `host` set to the host id.
    #[serde(default)]
    pub summary: Option<serde_json::Value>,
    /// What was cut to keep the record within [`MAX_COMPLETION_BYTES`]:
    /// `reason` (bytes left out), `summary.KEY` (entries left out of that
    /// list of the summary), `summary` or `bundle` (left out whole).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub omitted: BTreeMap<String, u64>,
}

/// Largest completion record: far below the results stream's message
/// limit, so that a completion is always stored (one that is not would
/// leave the hunt unacknowledged and delivered again without end).
pub const MAX_COMPLETION_BYTES: usize = 64 * 1024;
/// Longest reason kept whole in a completion.
pub const MAX_REASON_BYTES: usize = 4096;

impl Completion {
    /// Its JSON, cut to at most `max` bytes: the reason to
    /// [`MAX_REASON_BYTES`], then the summary's longest lists halved
    /// until it fits, then the summary and the bundle left out whole;
    /// each cut is counted in [`Completion::omitted`].
    pub fn to_bounded_json(&mut self, max: usize) -> Result<Vec<u8>> {
        let json =
            |c: &Completion| serde_json::to_vec(c).map_err(|e| Error::Invalid(e.to_string()));
        let mut bytes = json(self)?;
        if bytes.len() <= max {
            return Ok(bytes);
        }
        if let Some(r) = &mut self.reason
            && r.len() > MAX_REASON_BYTES
        {
            let mut cut = MAX_REASON_BYTES;
            while !r.is_char_boundary(cut) {
                cut -= 1;
            }
            let left = r.len() - cut;
            r.truncate(cut);
            r.push_str(" [...]");
            self.omitted.insert("reason".into(), left as u64);
            bytes = json(self)?;
        }
        while bytes.len() > max {
            let Some(obj) = self.summary.as_mut().and_then(|s| s.as_object_mut()) else {
                break;
            };
            let longest = obj
                .iter()
                .filter_map(|(k, v)| {
                    let a = v.as_array().filter(|a| !a.is_empty())?;
                    Some((k.clone(), serde_json::to_vec(a).map_or(0, |b| b.len())))
                })
                .max_by_key(|(_, n)| *n)
                .map(|(k, _)| k);
            let Some(key) = longest else { break };
            if let Some(a) = obj.get_mut(&key).and_then(|v| v.as_array_mut()) {
                let keep = a.len() / 2;
                let cut = (a.len() - keep) as u64;
                a.truncate(keep);
                *self.omitted.entry(format!("summary.{key}")).or_insert(0) += cut;
            }
            bytes = json(self)?;
        }
        if bytes.len() > max && self.summary.take().is_some() {
            self.omitted.insert("summary".into(), 1);
            bytes = json(self)?;
        }
        if bytes.len() > max && self.bundle.take().is_some() {
            self.omitted.insert("bundle".into(), 1);
            bytes = json(self)?;
        }
        if bytes.len() > max {
            return Err(Error::Invalid(format!(
                "the completion of {} is {} bytes even cut down (at most {max})",
                shorten(&self.hunt),
                bytes.len()
            )));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunt() -> Hunt {
        Hunt {
            kind: "hunt".into(),
            version: RECORD_VERSION,
            id: "20250101T000000Z-0011223344556677".into(),
            issued: 100,
            expires: 200,
            target: Target::All,
            bundle: BundleRef {
                sha256: "a".repeat(64),
                size: 10,
                object: Some("a".repeat(64)),
                url: None,
            },
            scan: ScanSpec {
                paths: vec!["/srv".into()],
                ..Default::default()
            },
        }
    }

    #[test]
    fn round_trip_and_checks() {
        let h = hunt();
        let bytes = serde_json::to_vec(&h).unwrap();
        assert_eq!(Hunt::parse(&bytes).unwrap(), h);
        // Options left at their default are left out, so that older agents
        // still take the hunt.
        assert!(!String::from_utf8_lossy(&bytes).contains("heuristics"));
        let mut with = hunt();
        with.scan.heuristics = true;
        with.scan.max_packers = Some(4);
        let text = serde_json::to_string(&with).unwrap();
        assert!(
            text.contains("\"heuristics\":true,\"max_packers\":4"),
            "{text}"
        );
        assert_eq!(Hunt::parse(text.as_bytes()).unwrap(), with);

        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["scan"]["signatures"] = serde_json::json!(["/etc/passwd"]);
        let err = Hunt::parse(v.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        assert_eq!(
            Hunt::salvage_id(v.to_string().as_bytes()).as_deref(),
            Some(h.id.as_str())
        );

        let mut bad = hunt();
        bad.scan.paths = vec!["relative".into()];
        assert!(bad.validate().is_err());
        bad.scan.paths = vec!["/a/../etc".into()];
        assert!(bad.validate().is_err());
        let mut bad = hunt();
        bad.scan.paths = vec!["/a\nb".into()];
        assert!(bad.validate().is_err());
        let mut bad = hunt();
        bad.scan.action = Action::Quarantine;
        assert!(bad.validate().is_err(), "quarantine without --yes");
        bad.scan.yes = true;
        bad.validate().unwrap();
        let mut bad = hunt();
        bad.expires = bad.issued;
        assert!(bad.validate().is_err());
        let mut bad = hunt();
        bad.bundle.url = Some("https://x/b.tdsb".into());
        assert!(bad.validate().is_err(), "object and URL");
        let mut bad = hunt();
        bad.id = "a.b".into();
        assert!(bad.validate().is_err());
        assert!(Hunt::parse(&vec![b' '; MAX_HUNT_BYTES + 1]).is_err());
        assert!(looks_absolute("C:\\Users"));
    }

    fn completion() -> Completion {
        Completion {
            kind: "completion".into(),
            version: RECORD_VERSION,
            hunt: "h".into(),
            host: "web1".into(),
            outcome: Outcome::Done,
            reason: None,
            findings: 0,
            duplicates: 0,
            dropped: 0,
            delivery: 1,
            started: 1,
            finished: 2,
            exit_code: Some(0),
            bundle: None,
            summary: None,
            omitted: BTreeMap::new(),
        }
    }

    #[test]
    fn completions_are_cut_to_fit() {
        let mut small = completion();
        let bytes = small.to_bounded_json(MAX_COMPLETION_BYTES).unwrap();
        assert!(!String::from_utf8(bytes).unwrap().contains("omitted"));

        let sigs: Vec<serde_json::Value> = (0..100_000)
            .map(|i| serde_json::json!({"path": format!("/sigs/rule-{i}.yar"), "kind": "yara", "entries": 1}))
            .collect();
        let mut big = completion();
        big.reason = Some("é".repeat(100_000));
        big.summary =
            Some(serde_json::json!({"type": "summary", "files_scanned": 7, "signatures": sigs}));
        let bytes = big.to_bounded_json(MAX_COMPLETION_BYTES).unwrap();
        assert!(bytes.len() <= MAX_COMPLETION_BYTES, "{}", bytes.len());
        let back: Completion = serde_json::from_slice(&bytes).unwrap();
        let kept = back.summary.as_ref().unwrap()["signatures"]
            .as_array()
            .unwrap()
            .len() as u64;
        assert!(kept > 0);
        assert_eq!(kept + back.omitted["summary.signatures"], 100_000);
        assert_eq!(back.summary.as_ref().unwrap()["files_scanned"], 7);
        assert!(back.reason.as_ref().unwrap().len() < MAX_REASON_BYTES + 16);
        assert!(back.omitted["reason"] > 0);

        // A summary too large without any list: left out whole.
        let mut huge = completion();
        huge.summary = Some(serde_json::json!({"type": "summary", "started": "x".repeat(200_000)}));
        let bytes = huge.to_bounded_json(MAX_COMPLETION_BYTES).unwrap();
        let back: Completion = serde_json::from_slice(&bytes).unwrap();
        assert!(back.summary.is_none());
        assert_eq!(back.omitted["summary"], 1);
    }

    #[test]
    fn targets() {
        assert_eq!(Target::parse("all").unwrap(), Target::All);
        assert_eq!(
            Target::parse("os=linux").unwrap(),
            Target::Label {
                key: "os".into(),
                value: "linux".into()
            }
        );
        assert_eq!(
            Target::parse("web1").unwrap(),
            Target::Host {
                host: "web1".into()
            }
        );
        assert!(Target::parse("a.b").is_err());
        assert!(Target::parse("os=").is_err());
        let labels: BTreeMap<_, _> = [("os".to_string(), "linux".to_string())].into();
        assert!(Target::parse("os=linux").unwrap().matches("h", &labels));
        assert!(!Target::parse("os=win").unwrap().matches("h", &labels));
        assert!(Target::parse("h").unwrap().matches("h", &labels));
    }
}
