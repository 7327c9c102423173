//! Findings as the exports read them: the NDJSON of `takedown scan --format
//! json` (specified in `docs/finding.schema.json`), read back.
//!
//! The exports (STIX, MISP, HTML) work on these records, not on the
//! engine's types, so that findings saved on many machines, by other
//! versions, can be merged and exported later, and so that this crate
//! does not need the scan engine. `takedown scan --format stix` builds
//! the same records from its findings.
//!
//! One NDJSON file is one run: its findings, then its summary line. The
//! NDJSON of `takedown hunt` is read the same way: its sightings
//! (`"type": "sighting"`) go into [`Run::sightings`], and its closing
//! `"type": "hunt-summary"` line gives the run its context ([`HuntContext`]:
//! the host and start time, which the exports need to say where and when;
//! the rest of that line is not read, so that it can grow without breaking
//! the exports). A file may hold findings and sightings both (a scan and a
//! hunt of the same machine concatenated). The hunt's `flux` and
//! `dga-suspect` lines are counted ([`Run::leads`]) and not exported. A
//! line of any other type, or
//! one that is not JSON or not the record its type says, is an error
//! naming the file and line; the other lines are still read.

use serde::{Deserialize, Serialize};
use std::io::BufRead;

/// One detection (schema: `detection`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectionRecord {
    /// `yara`, `hash`, `name`, `clamav`, `heuristic`.
    pub engine: String,
    /// Rule or IOC name.
    pub name: String,
    /// Score.
    #[serde(default)]
    pub score: u32,
    /// YARA tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// YARA metadata, or the matched IOC value; for indicators read from
    /// STIX or MISP also `indicator` (its id), `malware_family`, `tlp`,
    /// `producer`.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Signature file.
    #[serde(default)]
    pub source: String,
}

impl DetectionRecord {
    /// A string metadata value.
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(|v| v.as_str())
    }

    /// The STIX indicator id (or MISP attribute uuid) it came from, when
    /// it came from one.
    pub fn indicator_id(&self) -> Option<&str> {
        self.meta_str("indicator")
    }

    /// The malware family, from the indicator or the YARA metadata.
    pub fn family(&self) -> Option<&str> {
        self.meta_str("malware_family")
            .or_else(|| self.meta_str("malware"))
            .or_else(|| self.meta_str("family"))
    }
}

/// One problem (schema: `problem`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProblemRecord {
    /// `error`, `timeout`, `limit`, `encrypted`, `skipped`.
    pub kind: String,
    /// The limit hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// Why.
    #[serde(default)]
    pub message: String,
}

/// What an action did (schema: `action`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// `quarantine` or `delete`.
    pub action: String,
    /// `done`, `refused`, `failed`, `skipped`.
    pub status: String,
    /// The file acted on.
    #[serde(default)]
    pub target: String,
    /// Vault item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_id: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One finding (schema: `finding`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// Path (lossy UTF-8).
    pub path: String,
    /// Exact path bytes, base64, when not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_base64: Option<String>,
    /// Names inside containers, outermost first.
    #[serde(default)]
    pub chain: Vec<String>,
    /// Size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Detections.
    #[serde(default)]
    pub detections: Vec<DetectionRecord>,
    /// Problems.
    #[serde(default)]
    pub problems: Vec<ProblemRecord>,
    /// Action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionRecord>,
}

impl FindingRecord {
    /// The file name of the innermost object (the last chain element, else
    /// the path's last component).
    pub fn file_name(&self) -> &str {
        match self.chain.last() {
            Some(n) => n.rsplit(['/', '\\']).next().unwrap_or(n),
            None => self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path),
        }
    }

    /// The path with the container chain, `a.zip!b.exe`.
    pub fn display_path(&self) -> String {
        let mut s = self.path.clone();
        for c in &self.chain {
            s.push('!');
            s.push_str(c);
        }
        s
    }
}

/// What a sighting is a sighting of (schema: `sighting.indicator`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SightedIndicator {
    /// `domain`, `ipv4`, `ipv6`, `url` (an indicator of a source), or
    /// `dga` (a DGA family's generated names; see
    /// [`SightingRecord::dga`]).
    #[serde(rename = "type")]
    pub kind: String,
    /// The indicator's value as the source lists it (a domain, an
    /// address or CIDR block, a URL); for `dga`, `FAMILY[/VARIANT]` and
    /// `:SEED` when the family has seeds.
    pub value: String,
    /// The source file or feed it came from (empty for `dga`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Its line in a plain list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Its label: the STIX indicator's name, the MISP comment, the
    /// comment above it in a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its malware family, when the source says (always for `dga`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Its STIX id or MISP attribute uuid, when it came from one (the
    /// exports then sight the partner's own object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

/// The DGA behind a `dga` sighting (schema: `sighting.dga`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SightedDga {
    /// The family.
    pub family: String,
    /// The variant, empty when the family has one.
    #[serde(default)]
    pub variant: String,
    /// The seed as `--dga FAMILY:SEED` takes it (empty when the family
    /// has none).
    #[serde(default)]
    pub seed: String,
    /// The first and last dates (YYYY-MM-DD, UTC) the sighted names are
    /// generated for; absent for families whose names do not depend on
    /// the date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_date: Option<String>,
    /// See `first_date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_date: Option<String>,
}

/// One log line or packet behind a sighting (schema: `sighting.samples`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SightingSample {
    /// The log or capture.
    pub file: String,
    /// Its line (text logs) or packet number (captures), from 1.
    pub line: u64,
    /// `dns`, `http`, `tls`, `flow`.
    pub kind: String,
    /// What matched there: the name, the address, the URL.
    pub value: String,
}

/// A sighting (schema: `sighting`): one client seen using one indicator,
/// or the names of one DGA, in network logs and captures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SightingRecord {
    /// The client that asked or connected; `None` when the log does not
    /// say (passive DNS, replies logged without their query).
    #[serde(default)]
    pub client: Option<String>,
    /// What was sighted.
    pub indicator: SightedIndicator,
    /// The DGA, for `dga` sightings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dga: Option<SightedDga>,
    /// The distinct values that matched (names, addresses, URLs), sorted,
    /// at most [`MAX_SIGHTING_VALUES`].
    #[serde(default)]
    pub matched: Vec<String>,
    /// How many distinct values matched (may exceed `matched.len()`).
    #[serde(default)]
    pub matched_count: u64,
    /// First event time (RFC 3339, UTC), when the logs have times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Last event time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Events.
    pub count: u64,
    /// The event kinds seen (`dns`, `http`, `tls`, `flow`), sorted.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// The first events, at most [`MAX_SIGHTING_SAMPLES`], in input order.
    #[serde(default)]
    pub samples: Vec<SightingSample>,
}

impl SightingRecord {
    /// When it was first seen, when the record says and the time parses
    /// (RFC 3339).
    pub fn first_seen_time(&self) -> Option<time::OffsetDateTime> {
        parse_time(self.first_seen.as_deref()?)
    }

    /// When it was last seen (as [`SightingRecord::first_seen_time`]).
    pub fn last_seen_time(&self) -> Option<time::OffsetDateTime> {
        parse_time(self.last_seen.as_deref()?)
    }

    /// The malware family: the DGA's, else the indicator's.
    pub fn family(&self) -> Option<&str> {
        self.dga
            .as_ref()
            .map(|d| d.family.as_str())
            .filter(|f| !f.trim().is_empty())
            .or(self.indicator.family.as_deref())
            .filter(|f| !f.trim().is_empty())
    }

    /// True for a sighting of a DGA's generated names.
    pub fn is_dga(&self) -> bool {
        self.indicator.kind == "dga" || self.dga.is_some()
    }
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()
}

/// Most distinct matched values a sighting lists.
pub const MAX_SIGHTING_VALUES: usize = 20;
/// Most samples a sighting lists.
pub const MAX_SIGHTING_SAMPLES: usize = 5;

/// A signature file the run loaded (summary `signatures`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// Path or `builtin:...`.
    pub path: String,
    /// Its kind (`yara`, `stix`, `misp`, `clamav-sha`, ...).
    #[serde(default)]
    pub kind: String,
    /// Entries loaded.
    #[serde(default)]
    pub entries: u64,
}

/// The summary line (schema: `summary`), with the optional run context a
/// scan adds (`host`, `started`, `signatures`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryRecord {
    /// Files scanned.
    #[serde(default)]
    pub files_scanned: u64,
    /// Bytes scanned.
    #[serde(default)]
    pub bytes_scanned: u64,
    /// Objects inside containers scanned.
    #[serde(default)]
    pub members_scanned: u64,
    /// Files with detections.
    #[serde(default)]
    pub files_detected: u64,
    /// Detections.
    #[serde(default)]
    pub detections: u64,
    /// Errors.
    #[serde(default)]
    pub errors: u64,
    /// Skipped.
    #[serde(default)]
    pub skipped: u64,
    /// Wall time.
    #[serde(default)]
    pub elapsed_seconds: f64,
    /// Interrupted.
    #[serde(default)]
    pub interrupted: bool,
    /// Quarantined.
    #[serde(default)]
    pub quarantined: u64,
    /// Deleted.
    #[serde(default)]
    pub deleted: u64,
    /// Refused.
    #[serde(default)]
    pub refused: u64,
    /// Failed.
    #[serde(default)]
    pub failed: u64,
    /// Host name of the machine scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// When the run started (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// The signature files loaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<SourceRecord>,
}

/// What the exports take from the `hunt-summary` line that ends the
/// NDJSON of `takedown hunt`: where and when the hunt ran. The line's
/// other fields (counts, inputs, timings) are not read: the exports do not
/// need them, and a field that changes there must not make the line
/// unreadable. A field of the wrong type is taken as absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HuntContext {
    /// Host name of the machine that hunted.
    pub host: Option<String>,
    /// When the hunt started (RFC 3339, UTC).
    pub started: Option<String>,
}

impl HuntContext {
    /// The context of a `hunt-summary` line (already parsed).
    pub fn from_value(v: &serde_json::Value) -> HuntContext {
        let text = |key: &str| {
            v.get(key)
                .and_then(|x| x.as_str())
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
        };
        HuntContext {
            host: text("host"),
            started: text("started"),
        }
    }
}

/// One run: the findings and sightings of one NDJSON file, and its
/// summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    /// Where it was read from (file name), or `scan` for a live run.
    pub origin: String,
    /// The findings.
    pub findings: Vec<FindingRecord>,
    /// The summary; `None` when the file has none (cut short, or a hunt).
    pub summary: Option<SummaryRecord>,
    /// The sightings (`takedown hunt`).
    pub sightings: Vec<SightingRecord>,
    /// The context of the hunt's `hunt-summary` line; `None` when the file
    /// has none.
    pub hunt: Option<HuntContext>,
    /// The hunt's `flux` and `dga-suspect` lines read (not exported).
    pub leads: u64,
}

impl Run {
    /// The host of the run: the summary's, else the hunt summary's, else
    /// the origin.
    pub fn host(&self) -> &str {
        self.summary
            .as_ref()
            .and_then(|s| s.host.as_deref())
            .or_else(|| self.hunt.as_ref().and_then(|h| h.host.as_deref()))
            .unwrap_or(&self.origin)
    }

    /// When the run started, when known (the summary's start, else the
    /// hunt summary's).
    pub fn started(&self) -> Option<time::OffsetDateTime> {
        self.summary
            .as_ref()
            .and_then(|s| s.started.as_deref())
            .and_then(parse_time)
            .or_else(|| {
                self.hunt
                    .as_ref()
                    .and_then(|h| h.started.as_deref())
                    .and_then(parse_time)
            })
    }

    /// True when the file ended with its summary line (a scan's
    /// `summary` or a hunt's `hunt-summary`): it was not cut short.
    pub fn has_summary(&self) -> bool {
        self.summary.is_some() || self.hunt.is_some()
    }

    /// The first and last time of the run's sightings that carry times.
    pub fn sighting_span(&self) -> Option<(time::OffsetDateTime, time::OffsetDateTime)> {
        let mut span: Option<(time::OffsetDateTime, time::OffsetDateTime)> = None;
        for s in &self.sightings {
            let (a, b) = match (s.first_seen_time(), s.last_seen_time()) {
                (Some(a), Some(b)) => (a.min(b), a.max(b)),
                (Some(a), None) | (None, Some(a)) => (a, a),
                (None, None) => continue,
            };
            span = Some(match span {
                Some((x, y)) => (x.min(a), y.max(b)),
                None => (a, b),
            });
        }
        span
    }

    /// When the run ended: start plus elapsed time, when known.
    pub fn finished(&self) -> Option<time::OffsetDateTime> {
        let s = self.summary.as_ref()?;
        let secs = if s.elapsed_seconds.is_finite() && s.elapsed_seconds >= 0.0 {
            s.elapsed_seconds.min(1e9)
        } else {
            0.0
        };
        Some(self.started()? + time::Duration::seconds_f64(secs))
    }
}

/// A line of a findings file that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {reason}")]
pub struct LineError {
    /// File.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// Longest NDJSON line read (a finding with thousands of detections is a
/// few MB; a longer line is not a finding).
pub const MAX_LINE: usize = 64 << 20;

/// Reads one findings NDJSON stream (`scan --format json`, `hunt`, or
/// both). Bad lines are returned as errors beside the run; reading goes on
/// after them.
pub fn read_run(reader: impl BufRead, origin: &str) -> (Run, Vec<LineError>) {
    let mut run = Run {
        origin: origin.to_string(),
        ..Default::default()
    };
    let mut errors = Vec::new();
    let mut reader = reader;
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        line += 1;
        match read_line_limited(&mut reader, &mut buf, MAX_LINE) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                errors.push(LineError {
                    origin: origin.to_string(),
                    line,
                    reason: e.to_string(),
                });
                if e.kind() != std::io::ErrorKind::InvalidData {
                    break;
                }
                continue;
            }
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let err = |reason: String| LineError {
            origin: origin.to_string(),
            line,
            reason,
        };
        let value: serde_json::Value = match serde_json::from_slice(text) {
            Ok(v) => v,
            Err(e) => {
                errors.push(err(format!("not JSON: {e}")));
                continue;
            }
        };
        match value.get("type").and_then(|t| t.as_str()) {
            Some("finding") => match serde_json::from_value::<FindingRecord>(value) {
                Ok(f) => run.findings.push(f),
                Err(e) => errors.push(err(format!("not a finding: {e}"))),
            },
            Some("summary") => match serde_json::from_value::<SummaryRecord>(value) {
                Ok(s) => {
                    if run.summary.is_some() {
                        errors.push(err("a second summary line; the first is kept".into()));
                    } else {
                        run.summary = Some(s);
                    }
                }
                Err(e) => errors.push(err(format!("not a summary: {e}"))),
            },
            Some("sighting") => match serde_json::from_value::<SightingRecord>(value) {
                Ok(s) => run.sightings.push(s),
                Err(e) => errors.push(err(format!("not a sighting: {e}"))),
            },
            Some("hunt-summary") => {
                if run.hunt.is_some() {
                    errors.push(err(
                        "a second hunt-summary line; the first is kept".into()
                    ));
                } else {
                    run.hunt = Some(HuntContext::from_value(&value));
                }
            }
            // The hunt's fast-flux and DGA-suspect records are leads for an
            // analyst, not sightings of an indicator: the exports leave
            // them out, and they are not errors.
            Some("flux") | Some("dga-suspect") => run.leads += 1,
            _ => errors.push(err(
                "not a record of takedown (no \"type\": \"finding\"|\"summary\"|\"sighting\"|\"hunt-summary\"|\"flux\"|\"dga-suspect\")".into(),
            )),
        }
    }
    (run, errors)
}

/// Reads one line into `buf` (without its newline); a line over `max`
/// bytes is skipped to its end and reported as `InvalidData`.
fn read_line_limited(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut total = 0usize;
    let mut too_long = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let (used, done) = match memchr(chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            let part = if done {
                &chunk[..used - 1]
            } else {
                &chunk[..used]
            };
            if buf.len() + part.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        total += used;
        r.consume(used);
        if done {
            break;
        }
    }
    if too_long {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line longer than {max} bytes, skipped"),
        ));
    }
    Ok(total)
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_findings_and_summary_and_reports_bad_lines() {
        let text = r#"{"type":"finding","version":1,"path":"/tmp/a.zip","chain":["x.exe"],"size":68,"sha256":"aa","detections":[{"engine":"yara","name":"R","score":100,"tags":[],"metadata":{"malware_family":"Nymaim"},"source":"r.yar"}],"problems":[]}
not json
{"type":"other"}

{"type":"summary","version":1,"files_scanned":3,"bytes_scanned":10,"bytes_read":10,"members_scanned":1,"files_detected":1,"detections":1,"errors":0,"skipped":0,"elapsed_seconds":1.5,"interrupted":false,"quarantined":0,"deleted":0,"refused":0,"failed":0,"host":"pc1","started":"2026-12-06T10:00:00Z"}
"#;
        let (run, errors) = read_run(text.as_bytes(), "f.ndjson");
        assert_eq!(run.findings.len(), 1);
        assert_eq!(run.findings[0].display_path(), "/tmp/a.zip!x.exe");
        assert_eq!(run.findings[0].file_name(), "x.exe");
        assert_eq!(run.findings[0].detections[0].family(), Some("Nymaim"));
        assert_eq!(run.host(), "pc1");
        assert_eq!(
            run.finished().unwrap().unix_timestamp(),
            run.started().unwrap().unix_timestamp() + 1
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].line, 2);
        assert_eq!(errors[1].line, 3);
    }

    /// A hunt's NDJSON: sightings (a domain with a client, a DGA without
    /// one), the hunt-summary, and the bad lines a reader must name.
    #[test]
    fn reads_sightings_and_the_hunt_summary() {
        let text = r#"{"type":"sighting","version":1,"client":"192.0.2.10","indicator":{"type":"domain","value":"evil.example","source":"feed.json","object_id":"indicator--11111111-1111-4111-8111-111111111111","family":"Nymaim"},"matched":["a.evil.example","evil.example"],"matched_count":2,"first_seen":"2026-12-01T08:00:00Z","last_seen":"2026-12-01T09:30:00.5Z","count":7,"kinds":["dns"],"samples":[{"file":"dns.log","line":3,"kind":"dns","value":"a.evil.example"}]}
{"type":"sighting","version":1,"client":null,"indicator":{"type":"dga","value":"nymaim:3"},"dga":{"family":"nymaim","seed":"3","first_date":"2026-12-01","last_date":"2026-12-01"},"matched":["qxz.example"],"matched_count":40,"count":40}
{"type":"sighting","version":1,"client":"192.0.2.11"}
{"type":"sighting","version":1,"indicator":{"type":"url","value":"http://x.example/"},"count":"many"}
{"type":"hunt-summary","version":1,"host":"resolver-1","started":"2026-12-02T00:00:00Z","lines":123456,"inputs":[{"path":"dns.log"}],"elapsed_seconds":"not a number"}
{"type":"hunt-summary","host":"other"}
{"type":"flux","domain":"fluxy.example"}
{"type":"passive-dns"}
"#;
        let (run, errors) = read_run(text.as_bytes(), "hunt.ndjson");
        assert_eq!(run.sightings.len(), 2);
        let s = &run.sightings[0];
        assert_eq!(s.client.as_deref(), Some("192.0.2.10"));
        assert_eq!(s.indicator.kind, "domain");
        assert_eq!(s.family(), Some("Nymaim"));
        assert!(!s.is_dga());
        assert_eq!(s.count, 7);
        assert_eq!(s.samples[0].line, 3);
        assert_eq!(
            s.first_seen_time().unwrap().unix_timestamp(),
            time::macros::datetime!(2026-12-01 08:00 UTC).unix_timestamp()
        );
        assert_eq!(s.last_seen_time().unwrap().millisecond(), 500);
        let d = &run.sightings[1];
        assert_eq!(d.client, None);
        assert!(d.is_dga());
        assert_eq!(d.family(), Some("nymaim"), "the DGA's family");
        assert_eq!(d.first_seen_time(), None);
        // Host and start from the hunt-summary; its other fields, of any
        // type, are not read.
        assert!(run.summary.is_none());
        assert!(run.has_summary());
        assert_eq!(run.host(), "resolver-1");
        assert_eq!(
            run.started().unwrap(),
            time::macros::datetime!(2026-12-02 00:00 UTC)
        );
        assert_eq!(run.finished(), None);
        let (a, b) = run.sighting_span().unwrap();
        assert_eq!(a, time::macros::datetime!(2026-12-01 08:00 UTC));
        assert_eq!(b, time::macros::datetime!(2026-12-01 09:30:00.5 UTC));
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 6, 8], "{errors:?}");
        assert_eq!(run.leads, 1, "the flux line is a lead, not an error");
        assert!(errors[0].reason.starts_with("not a sighting"), "{errors:?}");
        assert!(errors[0].to_string().starts_with("hunt.ndjson:3: "));
        assert!(errors[2].reason.contains("second hunt-summary"));
        assert!(errors[3].reason.contains("sighting"));
    }

    #[test]
    fn findings_and_sightings_mix_and_the_scan_summary_wins() {
        let text = r#"{"type":"finding","path":"/a","detections":[]}
{"type":"sighting","client":"2001:db8::5","indicator":{"type":"ipv6","value":"2001:db8:1::/48"},"count":1}
{"type":"summary","host":"pc1","started":"2026-12-06T10:00:00Z","elapsed_seconds":1}
{"type":"hunt-summary","host":"pc1-hunt","started":"2026-12-05T10:00:00Z"}
"#;
        let (run, errors) = read_run(text.as_bytes(), "mixed.ndjson");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((run.findings.len(), run.sightings.len()), (1, 1));
        assert_eq!(run.host(), "pc1");
        assert_eq!(
            run.started().unwrap(),
            time::macros::datetime!(2026-12-06 10:00 UTC)
        );
        assert_eq!(run.hunt.as_ref().unwrap().host.as_deref(), Some("pc1-hunt"));
        // Without any summary line the file was cut short.
        let (run, _) = read_run(
            &text.as_bytes()[..text.find("{\"type\":\"summary").unwrap()],
            "cut",
        );
        assert!(!run.has_summary());
        assert_eq!(run.host(), "cut");
        // A hunt-summary whose host is not a string, or empty, names none.
        let (run, errors) = read_run(
            &br#"{"type":"hunt-summary","host":5,"started":""}"#[..],
            "h",
        );
        assert!(errors.is_empty());
        assert_eq!(run.hunt, Some(HuntContext::default()));
        assert_eq!(run.host(), "h");
    }

    #[test]
    fn overlong_line_is_skipped_not_fatal() {
        let mut text = vec![b'x'; 100];
        text.extend_from_slice(b"\n{\"type\":\"summary\"}\n");
        let mut r = std::io::BufReader::with_capacity(8, &text[..]);
        let mut buf = Vec::new();
        let e = read_line_limited(&mut r, &mut buf, 10).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        buf.clear();
        read_line_limited(&mut r, &mut buf, 100).unwrap();
        assert_eq!(buf, b"{\"type\":\"summary\"}");
    }
}
