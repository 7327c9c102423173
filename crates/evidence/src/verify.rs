//! `verify`: everything a package claims, checked, with every problem
//! named: the bag (payload and tag manifests, `hashdeep.txt`), the custody
//! log (hash chain, signatures, holders), the item records against the
//! log and the payload, and every timestamp (token, TSA chain, what it
//! covers).

use crate::contents::BagContents;
use crate::custody::{self, Entry, Event};
use crate::tsa::Stamp;
use crate::{ITEMS_DIR, ItemRecord, Problem, Severity, TIMESTAMPS_DIR, seq_name};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How far a timestamp may precede the entry it covers: clocks of the
/// examiner's machine and the TSA disagree a little; an entry written long
/// after the time a TSA vouches for is not covered by that stamp.
const CLOCK_SKEW_SECONDS: i64 = 300;

/// What `verify` found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Every problem; none means intact.
    pub problems: Vec<Problem>,
    /// The custody log as read.
    #[serde(skip)]
    pub entries: Vec<Entry>,
    /// Items accounted for by the log.
    pub items: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Custody entries.
    pub custody_entries: usize,
    /// Verified timestamps, by entry.
    pub stamps: BTreeMap<String, Stamp>,
    /// Whether the timestamps were anchored to a CA given by the verifier
    /// (else to the package's own `tsa-ca.pem`).
    pub tsa_anchor_external: bool,
}

impl Report {
    /// Nothing wrong.
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// Something altered, missing or added.
    pub fn altered(&self) -> bool {
        self.problems
            .iter()
            .any(|p| p.severity == Severity::Altered)
    }
}

/// Verifies a bag's contents. `pinned_key` is the examiner's key as
/// received out of band (an OpenSSH public key): the log must start with
/// it.
pub fn verify(contents: &BagContents, pinned_key: Option<&str>) -> Report {
    verify_with(contents, pinned_key, None)
}

/// [`verify`], with the TSA's CA as the verifier received it (PEM): the
/// timestamps are then anchored to it instead of to the package's own
/// `timestamps/tsa-ca.pem`, which whoever held the package could replace
/// (with a CA of their own and stamps of their making).
pub fn verify_with(
    contents: &BagContents,
    pinned_key: Option<&str>,
    tsa_ca: Option<&[u8]>,
) -> Report {
    let mut problems = contents.problems.clone();
    problems.extend(crate::bagit::check(contents));
    let (custody_problems, entries) = custody::check(contents, pinned_key);
    problems.extend(custody_problems);
    let mut report = Report {
        custody_entries: entries.len(),
        tsa_anchor_external: tsa_ca.is_some(),
        ..Report::default()
    };
    check_bag_info(contents, &entries, &mut problems);
    check_items(contents, &entries, &mut problems, &mut report);
    check_stamps(contents, &entries, tsa_ca, &mut problems, &mut report);
    // The same fault seen by two checks (a payload file both unlisted and
    // unexplained) is named once per wording; keep the order of discovery.
    let mut seen = BTreeSet::new();
    problems.retain(|p| seen.insert((p.subject.clone(), p.message.clone())));
    report.problems = problems;
    report.entries = entries;
    report
}

/// `bag-info.txt` says what the signed init entry says: the case id, the
/// examiner, the organisation and the description (the fields bagit.py and
/// people read first) cannot be changed without the log disagreeing.
fn check_bag_info(contents: &BagContents, entries: &[Entry], problems: &mut Vec<Problem>) {
    let Some(init) = entries.first().filter(|e| e.event == Event::Init) else {
        return;
    };
    let Some(bytes) = contents.tags.get("bag-info.txt") else {
        return; // bagit::check reports it missing
    };
    let Ok(labels) = crate::bagit::parse_tag_file("bag-info.txt", bytes) else {
        return; // and malformed
    };
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let get = |label: &str| {
        labels
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(label))
            .map(|(_, v)| norm(v))
    };
    let what = |k: &str| init.what.get(k).and_then(|v| v.as_str()).map(norm);
    for (label, signed) in [
        ("External-Identifier", Some(norm(&init.case_id))),
        ("Contact-Name", what("examiner")),
        ("Source-Organization", what("organisation")),
        ("External-Description", what("description")),
    ] {
        let written = get(label);
        if written != signed {
            problems.push(Problem::altered(
                "bag-info.txt",
                format!(
                    "{label} is {}, but the signed init entry says {}",
                    written.as_deref().unwrap_or("absent"),
                    signed.as_deref().unwrap_or("nothing")
                ),
            ));
        }
    }
}

/// The item records: each add entry's file is the one it names (by
/// SHA-256), each record's digests are the payload's, and the payload has
/// nothing the records do not explain.
fn check_items(
    contents: &BagContents,
    entries: &[Entry],
    problems: &mut Vec<Problem>,
    report: &mut Report,
) {
    let mut explained = BTreeSet::new();
    let mut adds = BTreeSet::new();
    // The MD5 and SHA-1 manifests, for the digests the contents were not
    // hashed with (malformed lines are bagit::check's to report).
    let manifests: BTreeMap<&str, BTreeMap<String, String>> = ["md5", "sha1"]
        .into_iter()
        .map(|alg| {
            let name = format!("manifest-{alg}.txt");
            let lines = contents
                .tags
                .get(&name)
                .map(|b| crate::bagit::parse_manifest(&name, alg, b).0)
                .unwrap_or_default();
            (alg, lines.into_iter().map(|l| (l.path, l.digest)).collect())
        })
        .collect();
    for e in entries.iter().filter(|e| e.event == Event::Add) {
        let rel = format!("{ITEMS_DIR}/{}.jsonl", seq_name(e.seq));
        adds.insert(rel.clone());
        let Some(bytes) = contents.tags.get(&rel) else {
            problems.push(Problem::altered(
                &rel,
                format!(
                    "is missing: custody entry {} acquired items recorded there",
                    seq_name(e.seq)
                ),
            ));
            continue;
        };
        let want = e.what.get("items_sha256").and_then(|v| v.as_str());
        let got = custody::sha256_hex(bytes);
        if want != Some(got.as_str()) {
            problems.push(Problem::altered(
                &rel,
                format!(
                    "SHA-256 is {got}, but custody entry {} signed {}",
                    seq_name(e.seq),
                    want.unwrap_or("nothing")
                ),
            ));
        }
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let r: ItemRecord = match serde_json::from_slice(line) {
                Ok(r) => r,
                Err(err) => {
                    problems.push(Problem::error(
                        &rel,
                        format!("line {}: not an item record: {err}", n + 1),
                    ));
                    continue;
                }
            };
            let prefix = format!("data/{}/", seq_name(e.seq));
            if !r.path.starts_with(&prefix) {
                problems.push(Problem::altered(
                    &rel,
                    format!(
                        "line {}: item {} is outside {prefix} of its entry",
                        n + 1,
                        r.path
                    ),
                ));
            }
            match contents.payload.get(&r.path) {
                None => problems.push(Problem::altered(
                    &r.path,
                    format!(
                        "is missing (acquired by custody entry {})",
                        seq_name(e.seq)
                    ),
                )),
                Some(d) if !same_content(d, &r.digests) => problems.push(Problem::altered(
                    &r.path,
                    format!(
                        "differs from what was acquired: SHA-256 {} ({} bytes), acquired {} ({} bytes)",
                        d.sha256, d.size, r.digests.sha256, r.digests.size
                    ),
                )),
                Some(_) => {}
            }
            if let Some(d) = contents.payload.get(&r.path) {
                check_unhashed(&manifests, d, &r, problems);
            }
            report.items += 1;
            report.bytes += r.digests.size;
            explained.insert(r.path);
        }
    }
    for path in contents.payload.keys() {
        if !explained.contains(path) {
            problems.push(Problem::altered(
                path,
                "is in the payload, but no custody entry acquired it (added)",
            ));
        }
    }
    for rel in contents
        .tags
        .keys()
        .filter(|k| k.starts_with(&format!("{ITEMS_DIR}/")))
    {
        if !adds.contains(rel) {
            problems.push(Problem::altered(
                rel,
                "no add entry of the custody log names this item file (added)",
            ));
        }
    }
}

/// Whether the payload's digests are those acquired: size and SHA-256
/// always, MD5 and SHA-1 when the contents were hashed with them.
fn same_content(payload: &crate::Digests, acquired: &crate::Digests) -> bool {
    payload.size == acquired.size
        && payload.sha256 == acquired.sha256
        && (payload.md5.is_empty() || payload.md5 == acquired.md5)
        && (payload.sha1.is_empty() || payload.sha1 == acquired.sha1)
}

/// For a digest the contents were not hashed with (SHA-256 alone, the
/// default): the manifest's line must be the one acquisition recorded and
/// the custody log signed. The SHA-256 proves the bytes are those that
/// were acquired, so their MD5 and SHA-1 are the recorded ones; checking
/// the manifests against the records then catches what recomputing would,
/// short of a SHA-256 collision.
fn check_unhashed(
    manifests: &BTreeMap<&str, BTreeMap<String, String>>,
    payload: &crate::Digests,
    r: &ItemRecord,
    problems: &mut Vec<Problem>,
) {
    for (alg, computed, recorded) in [
        ("md5", &payload.md5, &r.digests.md5),
        ("sha1", &payload.sha1, &r.digests.sha1),
    ] {
        if !computed.is_empty() {
            continue;
        }
        let listed = manifests.get(alg).and_then(|m| m.get(&r.path));
        if let Some(listed) = listed
            && !listed.eq_ignore_ascii_case(recorded)
        {
            problems.push(Problem::altered(
                &r.path,
                format!(
                    "manifest-{alg}.txt says {listed}, but acquisition recorded {recorded} (signed in the custody log)"
                ),
            ));
        }
    }
}

/// Each timestamp: a valid token of the TSA over its copy of the tag
/// manifest, that copy listing the entry it was made for with that
/// entry's digest, and a time not long before the entry.
fn check_stamps(
    contents: &BagContents,
    entries: &[Entry],
    tsa_ca: Option<&[u8]>,
    problems: &mut Vec<Problem>,
    report: &mut Report,
) {
    let ca = tsa_ca.or_else(|| {
        contents
            .tags
            .get(&format!("{TIMESTAMPS_DIR}/tsa-ca.pem"))
            .map(Vec::as_slice)
    });
    let by_seq: BTreeMap<String, &Entry> = entries.iter().map(|e| (seq_name(e.seq), e)).collect();
    // Every (tag file, SHA-256) a valid stamp vouches for: a stamp covers
    // the entry it was made for and every entry before it.
    let mut vouched: BTreeSet<(String, String)> = BTreeSet::new();
    for (rel, tsr) in &contents.tags {
        let Some(stem) = rel
            .strip_prefix(&format!("{TIMESTAMPS_DIR}/"))
            .and_then(|n| n.strip_suffix(".tsr"))
        else {
            continue;
        };
        let covered_rel = format!("{TIMESTAMPS_DIR}/{stem}.tagmanifest-sha256.txt");
        let Some(covered) = contents.tags.get(&covered_rel) else {
            problems.push(Problem::altered(
                &covered_rel,
                format!("is missing: {rel} covers it"),
            ));
            continue;
        };
        let Some(ca) = ca else {
            problems.push(Problem::error(
                rel,
                format!("cannot be checked: {TIMESTAMPS_DIR}/tsa-ca.pem is missing"),
            ));
            continue;
        };
        let stamp = match crate::tsa::check(tsr, covered, ca) {
            Ok(s) => s,
            Err(e) => {
                problems.push(Problem::altered(rel, e));
                continue;
            }
        };
        let Some(entry) = by_seq.get(stem) else {
            problems.push(Problem::altered(
                rel,
                format!("stamps custody entry {stem}, which is not in the log"),
            ));
            continue;
        };
        // The stamped tag manifest must list the entry with its digest:
        // that is what ties the TSA's time to this entry.
        let entry_rel = format!("{}/{stem}.json", crate::CUSTODY_DIR);
        let entry_sha = entry_digest(contents, &entry_rel);
        let lines: BTreeSet<(String, String)> = String::from_utf8_lossy(covered)
            .lines()
            .filter_map(|l| {
                l.split_once(char::is_whitespace)
                    .map(|(h, p)| (p.trim().to_string(), h.to_ascii_lowercase()))
            })
            .collect();
        let listed = lines.contains(&(entry_rel.clone(), entry_sha.clone()));
        if !listed {
            problems.push(Problem::altered(
                rel,
                format!(
                    "the tag manifest it covers does not list {entry_rel} as it is now (SHA-256 {entry_sha})"
                ),
            ));
            continue;
        }
        if let (Some(st), Some(et)) = (parse_time(&stamp.time), parse_time(&entry.time))
            && st + CLOCK_SKEW_SECONDS < et
        {
            problems.push(Problem::altered(
                rel,
                format!(
                    "was made at {}, before its entry's time {}",
                    stamp.time, entry.time
                ),
            ));
        }
        vouched.extend(lines);
        report.stamps.insert(stem.to_string(), stamp);
    }
    for e in entries {
        let asked = e.what.get("tsa").and_then(|v| v.as_str());
        let name = seq_name(e.seq);
        let entry_rel = format!("{}/{name}.json", crate::CUSTODY_DIR);
        let sha = entry_digest(contents, &entry_rel);
        if let Some(url) = asked
            && !vouched.contains(&(entry_rel.clone(), sha))
            && !problems
                .iter()
                .any(|p| p.subject.starts_with(&format!("{TIMESTAMPS_DIR}/{name}")))
        {
            problems.push(Problem::error(
                entry_rel,
                format!("asked {url} for a timestamp, and no timestamp in the bag covers it"),
            ));
        }
    }
}

/// SHA-256 of a custody entry file as it is in the bag (empty if absent).
fn entry_digest(contents: &BagContents, entry_rel: &str) -> String {
    contents
        .tags
        .get(entry_rel)
        .map(|b| custody::sha256_hex(b))
        .unwrap_or_default()
}

fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}
