//! Findings written as one MISP event.
//!
//! [`event`] turns the findings of one or more runs into one
//! `{"Event": {...}}` that MISP imports and PyMISP loads:
//!
//! * one `file` object (MISP's object template, uuid
//!   [`FILE_TEMPLATE_UUID`], version [`FILE_TEMPLATE_VERSION`]) per
//!   detected content: findings with the same SHA-256, on any host or path,
//!   are one object with one `filename` and one `fullpath` attribute per
//!   name and path (both relations are `multiple` in the template); a
//!   finding without a SHA-256 is an object of its own, keyed by its path;
//! * in each object: `sha256` (`to_ids: true`: a detected content's hash is
//!   what partners should detect), `filename`, `fullpath`, `size-in-bytes`
//!   and a `text` listing the detections (all `to_ids: false`: a name or a
//!   path is context, not a detection), categories and types as the
//!   template and MISP's type table allow;
//! * tags: `tlp:<level>` and one `misp-galaxy:malpedia="<Family>"` per
//!   malware family the detections name (metadata `malware_family`,
//!   `malware` or `family`);
//! * `threat_level_id` 1 (high) when a detection scores 75 or more (malicious
//!   on takedown's scale), else 2, 4 (undefined) without detections;
//!   `analysis` 2 (completed), 1 (ongoing) when a run was interrupted or
//!   has no summary; `published: false` (the producer's analyst publishes);
//! * `date` from the earliest run start and `timestamp` from the latest run
//!   end; the current time only when no run says when it ran.
//!
//! The sightings of `takedown hunt` go in as event-level attributes, flat
//! (no object: MISP's network objects describe a resolution or a
//! connection, not "this client used that indicator", and flat attributes
//! are what MISP correlates and what its sighting API addresses):
//!
//! * what was sighted, `to_ids: true` (a partner should detect it):
//!   `domain` (an indicator's domain, a DGA's generated names), `hostname`
//!   (a name matched under an indicator's domain), `ip-dst` (an address
//!   or CIDR block, and the addresses matched in a block), `url`; category
//!   "Network activity"; `first_seen`/`last_seen` from the logs; a
//!   comment naming the indicator, family and partner object it came
//!   from; one `Sighting` (type 0, `date_sighting` the last time seen,
//!   `source` "takedown hunt") per client and hunting host that used it,
//!   at most [`MAX_SIGHTINGS_PER_ATTRIBUTE`];
//! * the clients seen using them, `ip-src` with `to_ids: false` (a victim
//!   to notify, not something to detect), the comment naming what each
//!   used and how often;
//! * the families (the DGA's, the indicators') as `misp-galaxy:malpedia`
//!   tags; threat level 1 (high): a client talked to a known bad host.
//!
//! A name MISP would refuse as a `domain` or `hostname` (one label, or
//! letters outside ASCII) is left out. The clients' addresses are
//! personal data of sorts; they are what a CERT needs to notify, so they
//! are written, under the event's distribution (give
//! `--misp-distribution 0` to keep them in the organisation).
//!
//! Identifiers are UUIDv5 under [`NAMESPACE`], from the content: the
//! event's from the organisation and the set of detected contents, an
//! object's from the event's and its content, an attribute's from its
//! object's, its relation and its value. Exporting the same findings again
//! gives the same event, so MISP updates it instead of adding a copy.
//!
//! Host names are not written (only their number): a victim's machine name
//! is personal data, and an event may travel to a whole sharing community.
//! Paths are, as `fullpath`, because they are what a responder searches.

use crate::model::Tlp;
use crate::records::{FindingRecord, MAX_SIGHTING_VALUES, Run, SightingRecord};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// The namespace of takedown's MISP uuids (fixed: changing it changes
/// every exported uuid).
pub const NAMESPACE: Uuid = Uuid::from_u128(0xc671_8651_6f85_4571_a432_ff7a_5a7c_c534);

/// The uuid of MISP's `file` object template.
pub const FILE_TEMPLATE_UUID: &str = "688c46fb-5edb-40a3-8273-1af7923e2215";

/// The version of the `file` template whose relations are used here (the
/// one PyMISP 2.5 ships).
pub const FILE_TEMPLATE_VERSION: u32 = 25;

/// Most `filename` or `fullpath` attributes in one object: the same content
/// found in 100,000 places would make an object MISP cannot display; the
/// `text` attribute says how many were left out.
pub const MAX_VALUES_PER_RELATION: usize = 256;

/// Most family tags on one event (families come from rule metadata, which
/// a careless rule set fills with anything).
pub const MAX_FAMILY_TAGS: usize = 64;

/// Most detection names listed in one object's `text` and `comment`.
pub const MAX_NAMES_LISTED: usize = 64;

/// Longest family name written as a tag.
const MAX_FAMILY: usize = 128;

/// Most `Sighting` entries on one attribute (one per client and hunting
/// host): MISP counts them, and a value used by a whole network would
/// otherwise carry one per client; the comment says how many more.
pub const MAX_SIGHTINGS_PER_ATTRIBUTE: usize = 256;

/// Most indicators named in a client's comment, and labels in a sighted
/// value's.
const MAX_USED_LISTED: usize = 16;

/// Longest text taken from a sighting record into a comment.
const MAX_TEXT: usize = 256;

/// How the event is marked and shared.
#[derive(Clone, Debug)]
pub struct MispOptions {
    /// TLP marking, written as a `tlp:` tag.
    pub tlp: Tlp,
    /// MISP distribution: 0 your organisation only, 1 this community, 2
    /// connected communities, 3 all communities (4 sharing group and 5
    /// inherit cannot be honoured here: see
    /// [`MispOptions::event_distribution`]).
    pub distribution: u8,
    /// The producer's organisation name (`Orgc` and `Org`).
    pub org: String,
    /// The event's `info`; default: "takedown scan: N files detected on H
    /// hosts".
    pub info: Option<String>,
}

impl MispOptions {
    /// The distribution written on the event: [`MispOptions::distribution`]
    /// when 0 to 3, else 0. A sharing group (4) needs its id, which we do
    /// not have, and "inherit" (5) means nothing on an event: falling back
    /// to the narrowest level means a wrong value never shares more widely
    /// than asked.
    pub fn event_distribution(&self) -> u8 {
        if self.distribution <= 3 {
            self.distribution
        } else {
            0
        }
    }

    fn org_name(&self) -> &str {
        let o = self.org.trim();
        if o.is_empty() { "takedown" } else { o }
    }
}

/// One detected content, gathered over the findings.
#[derive(Default)]
struct FileEntry {
    sha256: Option<String>,
    names: BTreeSet<String>,
    paths: BTreeSet<String>,
    size: Option<u64>,
    detections: BTreeSet<String>,
    hosts: BTreeSet<String>,
}

/// The MISP tag colours of the TLP taxonomy.
fn tlp_colour(t: Tlp) -> &'static str {
    match t {
        Tlp::Clear => "#ffffff",
        Tlp::Green => "#339900",
        Tlp::Amber | Tlp::AmberStrict => "#ffc000",
        Tlp::Red => "#cc0033",
    }
}

/// A valid SHA-256 (lowercased), or `None`.
fn sha256_of(f: &FindingRecord) -> Option<String> {
    let s = f.sha256.as_deref()?.trim();
    (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// A family name fit for a `misp-galaxy:malpedia="..."` tag: no quotes or
/// control characters (they would end or break the tag), not empty, not
/// overlong.
fn tag_family(f: &str) -> Option<String> {
    let f: String = f.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    let f = f.trim();
    (!f.is_empty() && f.len() <= MAX_FAMILY).then(|| f.to_string())
}

fn fmt_date(t: time::OffsetDateTime) -> String {
    let d = t.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Lists at most [`MAX_NAMES_LISTED`] names, saying how many more.
fn list(names: &BTreeSet<String>) -> String {
    let mut s = names
        .iter()
        .take(MAX_NAMES_LISTED)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX_NAMES_LISTED {
        s.push_str(&format!(" and {} more", names.len() - MAX_NAMES_LISTED));
    }
    s
}

/// Builds one MISP event (`{"Event": {...}}`) from the findings of `runs`
/// (see the module doc). Findings without detections are not written.
pub fn event(runs: &[Run], opts: &MispOptions) -> Value {
    let mut files: BTreeMap<String, FileEntry> = BTreeMap::new();
    let mut families = BTreeSet::new();
    let mut max_score = None::<u32>;
    let mut detected_findings = 0usize;
    let mut hosts_detected = BTreeSet::new();
    for run in runs {
        for f in &run.findings {
            if f.detections.is_empty() {
                continue;
            }
            detected_findings += 1;
            hosts_detected.insert(run.host().to_string());
            let sha = sha256_of(f);
            let key = match &sha {
                Some(s) => format!("sha256:{s}"),
                None => format!("path:{}", f.display_path()),
            };
            let e = files.entry(key).or_default();
            e.sha256 = sha;
            // MISP strips attribute values and drops empty ones; doing it
            // here keeps what we write equal to what MISP stores.
            for (set, v) in [
                (&mut e.names, f.file_name().to_string()),
                (&mut e.paths, f.display_path()),
            ] {
                let v = v.trim();
                if !v.is_empty() {
                    set.insert(v.to_string());
                }
            }
            e.size = e.size.or(f.size);
            e.hosts.insert(run.host().to_string());
            for d in &f.detections {
                e.detections.insert(d.name.clone());
                max_score = Some(max_score.map_or(d.score, |m| m.max(d.score)));
                if let Some(fam) = d.family().and_then(tag_family) {
                    families.insert(fam);
                }
            }
        }
    }

    let net = NetData::collect(runs);
    for fam in &net.families {
        families.insert(fam.clone());
    }

    let org = opts.org_name();
    let org_uuid = Uuid::new_v5(&NAMESPACE, format!("org\n{org}").as_bytes());
    let mut event_key = format!("event\n{org}");
    for k in files.keys() {
        event_key.push('\n');
        event_key.push_str(k);
    }
    // What was sighted makes the event what it is (as the detected
    // contents do); a findings-only export keeps its former uuid.
    for (class, value) in net.values.keys() {
        event_key.push_str(&format!("\nsighted:{}:{value}", class.key()));
    }
    let event_uuid = Uuid::new_v5(&NAMESPACE, event_key.as_bytes());

    let started = runs.iter().filter_map(Run::started).chain(net.first).min();
    let ended = runs
        .iter()
        .filter_map(|r| r.finished().or_else(|| r.started()))
        .chain(net.last)
        .max();
    let now = time::OffsetDateTime::now_utc();
    let date = fmt_date(started.or(ended).unwrap_or(now));
    let timestamp = ended
        .or(started)
        .unwrap_or(now)
        .unix_timestamp()
        .to_string();

    let hunt = (!net.values.is_empty()).then(|| {
        format!(
            "takedown hunt: {} sighted by {}",
            plural(net.values.len(), "value", "values"),
            plural(net.clients.len(), "client", "clients")
        )
    });
    let info = match &opts.info {
        Some(i) if !i.trim().is_empty() => i.trim().to_string(),
        _ if detected_findings == 0 && hunt.is_some() => hunt.clone().unwrap_or_default(),
        _ if detected_findings == 0 => format!(
            "takedown scan: no detections on {}",
            plural(
                runs.iter().map(Run::host).collect::<BTreeSet<_>>().len(),
                "host",
                "hosts"
            )
        ),
        _ => {
            let mut i = format!(
                "takedown scan: {} detected on {}",
                plural(detected_findings, "file", "files"),
                plural(hosts_detected.len(), "host", "hosts")
            );
            if let Some(h) = &hunt {
                i.push_str("; ");
                i.push_str(h);
            }
            i
        }
    };
    let threat = match max_score {
        // Sightings of indicators: a client talked to a known bad host.
        _ if !net.values.is_empty() => "1",
        None => "4",
        Some(s) if s >= 75 => "1",
        Some(_) => "2",
    };
    let analysis = if runs
        .iter()
        .any(|r| !r.has_summary() || r.summary.as_ref().is_some_and(|s| s.interrupted))
    {
        "1"
    } else {
        "2"
    };

    let mut tags = vec![json!({
        "name": format!("tlp:{}", opts.tlp.as_str()),
        "colour": tlp_colour(opts.tlp),
        "exportable": true,
        "local": false,
    })];
    for fam in families.iter().take(MAX_FAMILY_TAGS) {
        tags.push(json!({
            "name": format!("misp-galaxy:malpedia=\"{fam}\""),
            "colour": "#0088cc",
            "exportable": true,
            "local": false,
        }));
    }

    // An object needs one of the template's identifying relations
    // (`requiredOneOf`); a finding with no hash, size, name or path (an
    // empty record) has none and cannot be one.
    let objects: Vec<Value> = files
        .iter()
        .filter(|(_, e)| {
            e.sha256.is_some() || e.size.is_some() || !e.names.is_empty() || !e.paths.is_empty()
        })
        .map(|(key, e)| file_object(&event_uuid, key, e, &timestamp))
        .collect();

    let org_json = json!({"name": org, "uuid": org_uuid.to_string()});
    let attributes = net.attributes(&event_uuid, &org_json, &timestamp);
    json!({"Event": {
        "uuid": event_uuid.to_string(),
        "info": info,
        "date": date,
        "timestamp": timestamp,
        "published": false,
        "analysis": analysis,
        "threat_level_id": threat,
        "distribution": opts.event_distribution().to_string(),
        "Orgc": org_json,
        "Org": org_json,
        "Tag": tags,
        "Attribute": attributes,
        "Object": objects,
    }})
}

/// What a sighted value is, for its MISP type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum NetClass {
    /// A name: `domain` or `hostname`.
    Name,
    /// An address or CIDR block: `ip-dst`.
    Addr,
    /// A URL: `url`.
    Url,
}

impl NetClass {
    fn key(self) -> &'static str {
        match self {
            NetClass::Name => "name",
            NetClass::Addr => "addr",
            NetClass::Url => "url",
        }
    }

    /// The class of an SCO type of the STIX writer's classification.
    fn of_sco(t: &str) -> NetClass {
        match t {
            "url" => NetClass::Url,
            "ipv4-addr" | "ipv6-addr" => NetClass::Addr,
            _ => NetClass::Name,
        }
    }
}

/// One sighting of a value: the last time, and events.
#[derive(Clone, Copy, Default)]
struct SeenBy {
    count: u64,
    last: Option<time::OffsetDateTime>,
}

/// A sighted value, over all the sightings that name it.
#[derive(Default)]
struct NetValue {
    /// The value is an indicator's own (a `domain`, not a `hostname`), or
    /// a DGA's name.
    primary: bool,
    /// What it was sighted as: indicators, DGAs (smallest kept).
    what: BTreeSet<String>,
    what_more: bool,
    count: u64,
    first: Option<time::OffsetDateTime>,
    last: Option<time::OffsetDateTime>,
    /// By (hunting host, client).
    seen: BTreeMap<(String, String), SeenBy>,
}

/// A client seen using sighted values.
#[derive(Default)]
struct NetClient {
    used: BTreeSet<String>,
    used_more: bool,
    count: u64,
    first: Option<time::OffsetDateTime>,
    last: Option<time::OffsetDateTime>,
}

/// The sightings of all runs, by value and by client.
#[derive(Default)]
struct NetData {
    values: BTreeMap<(NetClass, String), NetValue>,
    clients: BTreeMap<String, NetClient>,
    families: BTreeSet<String>,
    first: Option<time::OffsetDateTime>,
    last: Option<time::OffsetDateTime>,
}

/// Cuts `s` to at most [`MAX_TEXT`] bytes on a character boundary.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Keeps the `max` smallest values (order-independent), noting a drop.
fn keep(set: &mut BTreeSet<String>, more: &mut bool, v: String, max: usize) {
    if set.contains(&v) {
        return;
    }
    if set.len() < max {
        set.insert(v);
        return;
    }
    *more = true;
    if set.last().is_some_and(|l| v < *l) {
        set.pop_last();
        set.insert(v);
    }
}

/// A name MISP takes as a `domain` or `hostname` (its validation: ASCII
/// letters, digits, `-`, `_`, and a dot before a last label of two or
/// more characters).
fn misp_name_ok(name: &str) -> bool {
    let Some((head, last)) = name.rsplit_once('.') else {
        return false;
    };
    !head.is_empty()
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && last.len() >= 2
        && last.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn min_t(a: Option<time::OffsetDateTime>, b: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn max_t(a: Option<time::OffsetDateTime>, b: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
    Some(a.map_or(b, |a| a.max(b)))
}

/// What a sighting record was a sighting of, in words: `evil.example
/// (domain)`, `Nymaim DGA`, with its label.
fn describe(s: &SightingRecord) -> String {
    let mut d = if s.is_dga() {
        let fam = s.family().unwrap_or(&s.indicator.value);
        format!("{} DGA", cut(fam.trim()))
    } else {
        format!(
            "{} ({})",
            cut(s.indicator.value.trim()),
            cut(s.indicator.kind.trim())
        )
    };
    if let Some(l) = s.indicator.label.as_deref().map(str::trim)
        && !l.is_empty()
    {
        d.push_str(&format!(" \"{}\"", cut(l)));
    }
    if !s.is_dga()
        && let Some(f) = s.family()
    {
        d.push_str(&format!(", family {}", cut(f.trim())));
    }
    if let Some(o) = s.indicator.object_id.as_deref().map(str::trim)
        && !o.is_empty()
    {
        d.push_str(&format!(", partner object {}", cut(o)));
    }
    d
}

/// A MISP attribute time: ISO 8601 with microseconds and offset, as MISP
/// writes `first_seen` and `last_seen`.
fn iso(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

impl NetData {
    fn collect(runs: &[Run]) -> NetData {
        let mut d = NetData::default();
        for run in runs {
            let host = run.host();
            let run_time = run.finished().or_else(|| run.started());
            for s in &run.sightings {
                d.add(s, host, run_time);
            }
        }
        d
    }

    fn add(&mut self, s: &SightingRecord, host: &str, run_time: Option<time::OffsetDateTime>) {
        let first = s.first_seen_time().or(s.last_seen_time());
        let last = s.last_seen_time().or(first);
        let dga = s.is_dga();
        let mut values: Vec<((NetClass, String), bool)> = Vec::new();
        if let Some((kind, v)) = crate::stix::write::sighted_value(s) {
            let class = match kind {
                crate::Kind::Url => NetClass::Url,
                crate::Kind::Ipv4 | crate::Kind::Ipv6 => NetClass::Addr,
                _ => NetClass::Name,
            };
            values.push(((class, v), true));
        } else if !dga {
            // Nothing MISP can hold as a network attribute.
            return;
        }
        for m in s.matched.iter().take(MAX_SIGHTING_VALUES) {
            if let Some((t, v)) = crate::stix::write::classify(m) {
                let key = (NetClass::of_sco(t), v);
                if !values.iter().any(|(k, _)| *k == key) {
                    values.push((key, dga));
                }
            }
        }
        values.retain(|((class, v), _)| *class != NetClass::Name || misp_name_ok(v));
        if values.is_empty() {
            return;
        }
        if let Some(f) = s.family().and_then(tag_family) {
            self.families.insert(f);
        }
        if let Some(t) = first {
            self.first = min_t(self.first, t);
        }
        if let Some(t) = last {
            self.last = max_t(self.last, t);
        }
        let what = describe(s);
        let client = s
            .client
            .as_deref()
            .and_then(crate::stix::write::client_sco)
            .map(|(_, a)| a);
        let seen_key = (
            host.to_string(),
            s.client
                .as_deref()
                .map_or("", |c| cut(c.trim()))
                .to_string(),
        );
        for (key, primary) in values {
            let v = self.values.entry(key).or_default();
            v.primary |= primary;
            keep(&mut v.what, &mut v.what_more, what.clone(), MAX_USED_LISTED);
            v.count = v.count.saturating_add(s.count);
            if let Some(t) = first {
                v.first = min_t(v.first, t);
            }
            if let Some(t) = last {
                v.last = max_t(v.last, t);
            }
            let e = v.seen.entry(seen_key.clone()).or_default();
            e.count = e.count.saturating_add(s.count);
            if let Some(t) = last.or(run_time) {
                e.last = max_t(e.last, t);
            }
        }
        if let Some(c) = client {
            let e = self.clients.entry(c).or_default();
            keep(&mut e.used, &mut e.used_more, what, MAX_USED_LISTED);
            e.count = e.count.saturating_add(s.count);
            if let Some(t) = first {
                e.first = min_t(e.first, t);
            }
            if let Some(t) = last {
                e.last = max_t(e.last, t);
            }
        }
    }

    /// The event-level attributes: sighted values, then clients.
    fn attributes(&self, event_uuid: &Uuid, org: &Value, timestamp: &str) -> Vec<Value> {
        let mut out = Vec::with_capacity(self.values.len() + self.clients.len());
        let attr = |typ: &str,
                    value: &str,
                    to_ids: bool,
                    comment: String,
                    first: Option<time::OffsetDateTime>,
                    last: Option<time::OffsetDateTime>|
         -> (Uuid, serde_json::Map<String, Value>) {
            let uuid = Uuid::new_v5(event_uuid, format!("attribute\n{typ}\n{value}").as_bytes());
            let mut a = serde_json::Map::new();
            a.insert("uuid".into(), uuid.to_string().into());
            a.insert("type".into(), typ.into());
            a.insert("category".into(), "Network activity".into());
            a.insert("value".into(), value.into());
            a.insert("to_ids".into(), to_ids.into());
            a.insert("disable_correlation".into(), false.into());
            a.insert("distribution".into(), "5".into());
            a.insert("timestamp".into(), timestamp.into());
            a.insert("comment".into(), comment.into());
            a.insert("deleted".into(), false.into());
            if let Some(f) = first {
                a.insert("first_seen".into(), iso(f).into());
            }
            if let Some(l) = last.or(first) {
                a.insert("last_seen".into(), iso(l).into());
            }
            (uuid, a)
        };
        for ((class, value), v) in &self.values {
            let typ = match class {
                NetClass::Name if v.primary => "domain",
                NetClass::Name => "hostname",
                NetClass::Addr => "ip-dst",
                NetClass::Url => "url",
            };
            let mut comment = format!(
                "sighted by takedown hunt: {}, {} by {}; as {}",
                plural(v.count as usize, "event", "events"),
                plural(v.seen.len(), "sighting", "sightings"),
                plural(
                    v.seen
                        .keys()
                        .filter(|(_, c)| !c.is_empty())
                        .map(|(_, c)| c)
                        .collect::<BTreeSet<_>>()
                        .len(),
                    "client",
                    "clients"
                ),
                list(&v.what)
            );
            if v.what_more {
                comment.push_str(", ...");
            }
            if v.seen.len() > MAX_SIGHTINGS_PER_ATTRIBUTE {
                comment.push_str(&format!(
                    "; {} more sightings not listed",
                    v.seen.len() - MAX_SIGHTINGS_PER_ATTRIBUTE
                ));
            }
            let (uuid, mut a) = attr(typ, value, true, comment, v.first, v.last);
            let sightings: Vec<Value> = v
                .seen
                .iter()
                .take(MAX_SIGHTINGS_PER_ATTRIBUTE)
                .map(|((host, client), seen)| {
                    let date = seen
                        .last
                        .map_or_else(|| timestamp.to_string(), |t| t.unix_timestamp().to_string());
                    json!({
                        "uuid": Uuid::new_v5(&uuid, format!("sighting\n{host}\n{client}").as_bytes()).to_string(),
                        "attribute_uuid": uuid.to_string(),
                        "date_sighting": date,
                        "type": "0",
                        "source": "takedown hunt",
                        "Organisation": org,
                    })
                })
                .collect();
            a.insert("Sighting".into(), Value::Array(sightings));
            out.push(Value::Object(a));
        }
        for (addr, c) in &self.clients {
            let mut comment = format!("client seen by takedown hunt using {}", list(&c.used));
            if c.used_more {
                comment.push_str(", ...");
            }
            comment.push_str(&format!(
                "; {}",
                plural(c.count as usize, "event", "events")
            ));
            let (_, a) = attr("ip-src", addr, false, comment, c.first, c.last);
            out.push(Value::Object(a));
        }
        out
    }
}

/// One `file` object.
fn file_object(event_uuid: &Uuid, key: &str, e: &FileEntry, timestamp: &str) -> Value {
    let object_uuid = Uuid::new_v5(event_uuid, format!("object\n{key}").as_bytes());
    let mut attrs = Vec::new();
    // (relation, MISP type, category, value, to_ids, disable_correlation)
    let mut add =
        |relation: &str, typ: &str, category: &str, value: String, to_ids: bool, no_corr: bool| {
            let uuid = Uuid::new_v5(&object_uuid, format!("{relation}\n{value}").as_bytes());
            attrs.push(json!({
                "uuid": uuid.to_string(),
                "object_relation": relation,
                "type": typ,
                "category": category,
                "value": value,
                "to_ids": to_ids,
                "disable_correlation": no_corr,
                "distribution": "5",
                "timestamp": timestamp,
                "comment": "",
                "deleted": false,
            }));
        };
    let mut left_out = Vec::new();
    for (relation, values) in [("filename", &e.names), ("fullpath", &e.paths)] {
        for v in values.iter().take(MAX_VALUES_PER_RELATION) {
            let (typ, no_corr) = if relation == "filename" {
                ("filename", true)
            } else {
                ("text", false)
            };
            add(
                relation,
                typ,
                "Artifacts dropped",
                v.clone(),
                false,
                no_corr,
            );
        }
        if values.len() > MAX_VALUES_PER_RELATION {
            left_out.push(format!(
                "{} more {relation} values not listed",
                values.len() - MAX_VALUES_PER_RELATION
            ));
        }
    }
    if let Some(sha) = &e.sha256 {
        add(
            "sha256",
            "sha256",
            "Artifacts dropped",
            sha.clone(),
            true,
            false,
        );
    }
    if let Some(size) = e.size {
        add(
            "size-in-bytes",
            "size-in-bytes",
            "Other",
            size.to_string(),
            false,
            true,
        );
    }
    let detections = list(&e.detections);
    let hosts = plural(e.hosts.len(), "host", "hosts");
    let mut text = format!("takedown detections: {detections}; seen on {hosts}");
    for l in &left_out {
        text.push_str("; ");
        text.push_str(l);
    }
    add("text", "text", "Antivirus detection", text, false, true);
    json!({
        "name": "file",
        "meta-category": "file",
        "description": "File object describing a file with meta-information",
        "template_uuid": FILE_TEMPLATE_UUID,
        "template_version": FILE_TEMPLATE_VERSION.to_string(),
        "uuid": object_uuid.to_string(),
        "timestamp": timestamp,
        "distribution": "5",
        "sharing_group_id": "0",
        "comment": format!("detected by takedown as {detections} on {hosts}"),
        "deleted": false,
        "Attribute": attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{DetectionRecord, SummaryRecord};
    use serde_json::Map;

    fn run(host: &str, findings: Vec<FindingRecord>) -> Run {
        Run {
            origin: format!("{host}.ndjson"),
            findings,
            summary: Some(SummaryRecord {
                host: Some(host.into()),
                started: Some("2026-12-06T10:00:00Z".into()),
                elapsed_seconds: 30.0,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn finding(path: &str, sha: Option<&str>, rule: &str, family: Option<&str>) -> FindingRecord {
        let mut metadata = Map::new();
        if let Some(f) = family {
            metadata.insert("malware_family".into(), f.into());
        }
        FindingRecord {
            path: path.into(),
            sha256: sha.map(str::to_string),
            size: Some(68),
            detections: vec![DetectionRecord {
                engine: "yara".into(),
                name: rule.into(),
                score: 100,
                metadata,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn opts() -> MispOptions {
        MispOptions {
            tlp: Tlp::Amber,
            distribution: 9,
            org: "CERT-X".into(),
            info: None,
        }
    }

    fn sighting(client: Option<&str>, kind: &str, value: &str, matched: &[&str]) -> SightingRecord {
        SightingRecord {
            client: client.map(str::to_string),
            indicator: crate::records::SightedIndicator {
                kind: kind.into(),
                value: value.into(),
                family: Some("Nymaim".into()),
                ..Default::default()
            },
            matched: matched.iter().map(|m| m.to_string()).collect(),
            first_seen: Some("2026-12-01T08:00:00Z".into()),
            last_seen: Some("2026-12-01T09:00:00Z".into()),
            count: 3,
            ..Default::default()
        }
    }

    #[test]
    fn sightings_are_flat_attributes_with_misp_sightings() {
        let mut dga = sighting(
            Some("192.0.2.8"),
            "dga",
            "nymaim",
            &["qq.example", "single"],
        );
        dga.dga = Some(crate::records::SightedDga {
            family: "Nymaim".into(),
            ..Default::default()
        });
        let hunt = Run {
            origin: "h.ndjson".into(),
            sightings: vec![
                sighting(
                    Some("192.0.2.7"),
                    "domain",
                    "evil.example",
                    &["a.evil.example"],
                ),
                sighting(None, "domain", "evil.example", &["evil.example"]),
                sighting(
                    Some("192.0.2.7:5353"),
                    "ipv4",
                    "198.51.100.0/24",
                    &["198.51.100.9"],
                ),
                dga,
            ],
            hunt: Some(crate::records::HuntContext {
                host: Some("resolver".into()),
                started: Some("2026-12-02T00:00:00Z".into()),
            }),
            ..Default::default()
        };
        let ev = event(std::slice::from_ref(&hunt), &opts());
        let ev = &ev["Event"];
        assert_eq!(ev["info"], "takedown hunt: 5 values sighted by 2 clients");
        assert_eq!(ev["threat_level_id"], "1");
        assert_eq!(ev["analysis"], "2", "the hunt-summary says it ended");
        assert_eq!(
            ev["date"], "2026-12-01",
            "the first sighting, before the hunt"
        );
        let attrs = ev["Attribute"].as_array().unwrap();
        let got: Vec<(String, String, bool, usize)> = attrs
            .iter()
            .map(|a| {
                (
                    a["type"].as_str().unwrap().to_string(),
                    a["value"].as_str().unwrap().to_string(),
                    a["to_ids"].as_bool().unwrap(),
                    a["Sighting"].as_array().map_or(0, Vec::len),
                )
            })
            .collect();
        let want: Vec<(String, String, bool, usize)> = [
            ("hostname", "a.evil.example", true, 1),
            ("domain", "evil.example", true, 2),
            ("domain", "qq.example", true, 1),
            ("ip-dst", "198.51.100.0/24", true, 1),
            ("ip-dst", "198.51.100.9", true, 1),
            ("ip-src", "192.0.2.7", false, 0),
            ("ip-src", "192.0.2.8", false, 0),
        ]
        .iter()
        .map(|(t, v, i, n)| (t.to_string(), v.to_string(), *i, *n))
        .collect();
        assert_eq!(got, want, "'single' is no name MISP takes");
        let evil = &attrs[1];
        assert_eq!(evil["first_seen"], "2026-12-01T08:00:00.000000+00:00");
        assert_eq!(evil["Sighting"][0]["date_sighting"], "1796115600");
        assert_eq!(evil["Sighting"][0]["source"], "takedown hunt");
        assert_eq!(evil["Sighting"][0]["attribute_uuid"], evil["uuid"]);
        assert!(
            attrs[5]["comment"]
                .as_str()
                .unwrap()
                .contains("evil.example (domain), family Nymaim"),
            "{}",
            attrs[5]["comment"]
        );
        let tags: Vec<&str> = ev["Tag"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["tlp:amber", "misp-galaxy:malpedia=\"Nymaim\""]);
        // Findings alone keep their event; with sightings it is another.
        let scan = run("pc1", vec![finding("/a", Some(&"a".repeat(64)), "R", None)]);
        let alone = event(std::slice::from_ref(&scan), &opts());
        let mixed = event(&[scan, hunt], &opts());
        assert_ne!(alone["Event"]["uuid"], mixed["Event"]["uuid"]);
        assert_eq!(
            mixed["Event"]["info"],
            "takedown scan: 1 file detected on 1 host; takedown hunt: 5 values sighted by 2 clients"
        );
        assert_eq!(alone["Event"]["Attribute"], json!([]));
    }

    #[test]
    fn same_content_on_two_hosts_is_one_object_and_ids_are_stable() {
        let sha = "A".repeat(64);
        let runs = vec![
            run(
                "pc1",
                vec![finding("/tmp/a.exe", Some(&sha), "R1", Some("Nymaim"))],
            ),
            run(
                "pc2",
                vec![
                    finding("/x/b.exe", Some(&sha), "R2", None),
                    finding("/x/c.bin", None, "R3", Some("Bad\"Fam")),
                ],
            ),
        ];
        let a = event(&runs, &opts());
        let ev = &a["Event"];
        assert_eq!(ev["info"], "takedown scan: 3 files detected on 2 hosts");
        assert_eq!(ev["distribution"], "0");
        assert_eq!(ev["date"], "2026-12-06");
        assert_eq!(ev["timestamp"], "1796551230");
        assert_eq!(ev["threat_level_id"], "1");
        let objects = ev["Object"].as_array().unwrap();
        assert_eq!(objects.len(), 2);
        let shas: Vec<_> = objects[1]["Attribute"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["object_relation"] == "sha256")
            .collect();
        assert_eq!(shas.len(), 1);
        assert_eq!(shas[0]["value"], "a".repeat(64));
        assert_eq!(shas[0]["to_ids"], true);
        let tags: Vec<_> = ev["Tag"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].clone())
            .collect();
        assert_eq!(
            tags,
            vec![
                json!("tlp:amber"),
                json!("misp-galaxy:malpedia=\"BadFam\""),
                json!("misp-galaxy:malpedia=\"Nymaim\"")
            ]
        );
        // Same findings in another order: the same event.
        let mut reversed = runs.clone();
        reversed.reverse();
        assert_eq!(event(&reversed, &opts()), a);
        // Other content: another event uuid.
        let other = event(&runs[..1], &opts());
        assert_ne!(other["Event"]["uuid"], ev["uuid"]);
    }
}
