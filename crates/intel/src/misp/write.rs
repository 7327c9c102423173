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
use crate::records::{FindingRecord, Run};
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

    let org = opts.org_name();
    let org_uuid = Uuid::new_v5(&NAMESPACE, format!("org\n{org}").as_bytes());
    let mut event_key = format!("event\n{org}");
    for k in files.keys() {
        event_key.push('\n');
        event_key.push_str(k);
    }
    let event_uuid = Uuid::new_v5(&NAMESPACE, event_key.as_bytes());

    let started = runs.iter().filter_map(Run::started).min();
    let ended = runs
        .iter()
        .filter_map(|r| r.finished().or_else(|| r.started()))
        .max();
    let now = time::OffsetDateTime::now_utc();
    let date = fmt_date(started.or(ended).unwrap_or(now));
    let timestamp = ended
        .or(started)
        .unwrap_or(now)
        .unix_timestamp()
        .to_string();

    let info = match &opts.info {
        Some(i) if !i.trim().is_empty() => i.trim().to_string(),
        _ if detected_findings == 0 => format!(
            "takedown scan: no detections on {}",
            plural(
                runs.iter().map(Run::host).collect::<BTreeSet<_>>().len(),
                "host",
                "hosts"
            )
        ),
        _ => format!(
            "takedown scan: {} detected on {}",
            plural(detected_findings, "file", "files"),
            plural(hosts_detected.len(), "host", "hosts")
        ),
    };
    let threat = match max_score {
        None => "4",
        Some(s) if s >= 75 => "1",
        Some(_) => "2",
    };
    let analysis = if runs
        .iter()
        .any(|r| r.summary.as_ref().is_none_or(|s| s.interrupted))
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
        "Attribute": [],
        "Object": objects,
    }})
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
