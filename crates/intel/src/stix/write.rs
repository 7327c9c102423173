//! Findings written as one STIX 2.1 bundle, for CERTs, police and vendors
//! who exchange sightings over STIX/TAXII.
//!
//! What a bundle holds (every object but the marking carries
//! `object_marking_refs` = the TLP 2.0 marking of [`StixOptions::tlp`]; every
//! SDO/SRO has `created_by_ref` = the producer's identity):
//!
//! * the official TLP 2.0 `marking-definition` (OASIS' object, verbatim);
//! * an `identity` for the producer (`organization`), and one per scanned
//!   host (`system`), the `where_sighted_refs` of the sightings;
//! * per distinct detected content (SHA-256): a `file` SCO (id as `stix2`
//!   computes it), one `observed-data` per host it was seen on, an
//!   `indicator` (`[file:hashes.'SHA-256' = '...']`) named after the
//!   detections, a `sighting` of it (count, first/last seen, where), an
//!   `indicates` `relationship` to a `malware` family object per family
//!   named in the detections' metadata;
//! * per partner indicator a detection came from (metadata `indicator`,
//!   a STIX indicator id read from their bundle): a `sighting` of *their*
//!   id, so they see their indicator hit without matching ours to theirs;
//! * a `report` over all of it.
//!
//! Ids and timestamps derive from the findings only (ids from stable keys
//! with [`sdo_id`], times from the runs' start and end), so exporting the
//! same findings twice gives the same bytes and a partner who re-imports
//! updates objects instead of duplicating them. Paths are not exported:
//! they name users and directories of the victims, and a file object with
//! a parent directory would also change the file's id.
//!
//! Memory: the findings are first folded into aggregates (per content,
//! per host, per family), bounded by the number of distinct contents and
//! hosts, never by the output; the objects are then serialized one by one
//! straight to the writer.

use super::ids::{file_id, sdo_id};
use crate::Tlp;
use crate::records::Run;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, BufWriter, Write};
use time::OffsetDateTime;

/// What a bundle is written with.
#[derive(Clone, Debug)]
pub struct StixOptions {
    /// The TLP marking put on every object.
    pub tlp: Tlp,
    /// The producer's name (our `identity`, `created_by_ref` of every
    /// object).
    pub producer: String,
    /// Used for timestamps only when the runs carry no time (a findings
    /// file without its summary line).
    pub now: OffsetDateTime,
}

/// What writing a bundle did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Findings read.
    pub findings: u64,
    /// Findings with detections, exported.
    pub exported: u64,
    /// Findings without detections (problems only): nothing to share,
    /// counted here.
    pub without_detections: u64,
    /// Findings with detections but no valid SHA-256 (64 hex digits): a
    /// file object and an indicator need one, so they are left out.
    pub without_hash: u64,
    /// Detection metadata `indicator` values that are not a STIX
    /// indicator id (`indicator--<uuid>`, e.g. MISP attribute uuids),
    /// not referenced.
    pub foreign_indicator_refs: u64,
    /// Hosts (`identity` objects of class `system`).
    pub hosts: u64,
    /// Distinct contents (`file`, `indicator` and `sighting` objects each).
    pub files: u64,
    /// `observed-data` objects (one per host and content).
    pub observed_data: u64,
    /// `malware` family objects.
    pub families: u64,
    /// Sightings of partners' indicators.
    pub partner_sightings: u64,
    /// Objects written in the bundle, all types.
    pub objects: u64,
}

/// Longest text taken from a finding (host, file name, detection name,
/// family): a hostile findings file could otherwise put megabytes in
/// every object that repeats it. Cut on a character boundary.
pub const MAX_TEXT: usize = 1024;
/// Detection names kept per content for the indicator's name (the
/// smallest ones, so the choice does not depend on input order); a file
/// that matched thousands of rules would otherwise make a name nobody
/// reads and an aggregate that grows with the rule set.
pub const MAX_NAMES_PER_FILE: usize = 16;
/// Malware families kept per content (as above).
pub const MAX_FAMILIES_PER_FILE: usize = 16;
/// Partner indicator ids kept per content (as above).
pub const MAX_PARTNERS_PER_FILE: usize = 64;
/// STIX 2.1's upper bound of `count` and `number_observed`.
const MAX_COUNT: u64 = 999_999_999;

const SPEC: &str = "2.1";
const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
/// The identity that published the TLP 2.0 marking objects (CISA, for the
/// OASIS CTI TC), their `created_by_ref`.
const TLP2_CREATOR: &str = "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01";
/// `created` of the TLP 2.0 objects, 2022-10-01T00:00:00.000Z.
const TLP2_CREATED_MS: i64 = 1_664_582_400_000;
/// Timestamps are clamped into the years STIX can write (four digits).
const MIN_MS: i64 = -62_167_219_200_000; // 0000-01-01T00:00:00Z
const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/// Writes `runs` as one STIX 2.1 bundle to `out` (see the module
/// documentation for what it holds). The output is UTF-8 JSON, one object
/// per line inside the bundle's `objects`.
pub fn write_bundle(
    runs: &[Run],
    opts: &StixOptions,
    out: &mut impl Write,
) -> io::Result<WriteStats> {
    let mut stats = WriteStats::default();
    let agg = Agg::fold(runs, opts, &mut stats);
    let ctx = Ctx::new(&agg, opts);
    let mut w = ObjWriter {
        w: BufWriter::with_capacity(1 << 16, out),
        first: true,
        objects: 0,
    };
    w.w.write_all(b"{\"type\":\"bundle\",\"id\":")?;
    serde_json::to_writer(&mut w.w, &ctx.bundle_id())?;
    w.w.write_all(b",\"objects\":[")?;
    ctx.write_objects(&mut w, &mut stats)?;
    w.w.write_all(b"\n]}\n")?;
    w.w.flush()?;
    stats.objects = w.objects;
    Ok(stats)
}

// ---------------------------------------------------------------------
// Aggregation

/// A time span in Unix milliseconds (STIX timestamps have milliseconds;
/// truncating first keeps `first <= last` true after formatting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    first: i64,
    last: i64,
}

impl Span {
    fn add(&mut self, o: Span) {
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }

    fn join(a: Option<Span>, b: Span) -> Span {
        match a {
            Some(mut a) => {
                a.add(b);
                a
            }
            None => b,
        }
    }
}

fn millis(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    ms.clamp(MIN_MS as i128, MAX_MS as i128) as i64
}

#[derive(Clone, Copy, Debug)]
struct HostObs {
    count: u64,
    span: Span,
}

struct Host {
    name: String,
    span: Span,
}

#[derive(Default)]
struct FileAgg {
    /// Smallest innermost file name seen (order-independent choice).
    name: Option<String>,
    /// Smallest size seen (they agree unless the input is forged).
    size: Option<u64>,
    names: BTreeSet<String>,
    names_more: bool,
    families: BTreeSet<String>,
    families_more: bool,
    partners: BTreeSet<String>,
    partners_more: bool,
    /// By host index.
    hosts: BTreeMap<u32, HostObs>,
    count: u64,
    span: Option<Span>,
}

struct Agg {
    hosts: Vec<Host>,
    files: BTreeMap<[u8; 32], FileAgg>,
    /// (host, start) of every run, for the report's id.
    runs: BTreeSet<(String, Option<i64>)>,
    span: Option<Span>,
    /// The latest end of a run that carries its time (`published`).
    latest_end: Option<i64>,
    now: i64,
}

/// Cuts `s` to at most [`MAX_TEXT`] bytes on a character boundary.
fn cap(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Keeps the `max` smallest distinct values of everything inserted;
/// `more` becomes true once a value had to be dropped. The result does
/// not depend on the insertion order.
fn insert_capped(set: &mut BTreeSet<String>, more: &mut bool, value: &str, max: usize) {
    if value.is_empty() || set.contains(value) {
        return;
    }
    if set.len() < max {
        set.insert(value.to_string());
        return;
    }
    *more = true;
    if set.last().is_some_and(|l| value < l.as_str()) {
        set.pop_last();
        set.insert(value.to_string());
    }
}

/// 64 hex digits (any case) into bytes; anything else is not a SHA-256
/// and would break the indicator's pattern.
fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// `indicator--<uuid>` in canonical lowercase form, or `None`.
fn stix_indicator_id(s: &str) -> Option<String> {
    let u = s.strip_prefix("indicator--")?;
    let u = uuid::Uuid::try_parse(u).ok()?;
    Some(format!("indicator--{}", u.hyphenated()))
}

impl Agg {
    fn fold(runs: &[Run], opts: &StixOptions, stats: &mut WriteStats) -> Agg {
        let now = millis(opts.now);
        let mut agg = Agg {
            hosts: Vec::new(),
            files: BTreeMap::new(),
            runs: BTreeSet::new(),
            span: None,
            latest_end: None,
            now,
        };
        let mut host_index: HashMap<String, u32> = HashMap::new();
        for run in runs {
            let host = match cap(run.host().trim()) {
                "" => "(unknown host)",
                h => h,
            };
            let start = run.started().map(millis);
            let end = run.finished().map(millis);
            let span = match (start, end) {
                (Some(s), Some(e)) => Span {
                    first: s,
                    last: e.max(s),
                },
                _ => Span {
                    first: now,
                    last: now,
                },
            };
            if let Some(e) = end {
                agg.latest_end = Some(agg.latest_end.map_or(e, |l| l.max(e)));
            }
            agg.span = Some(Span::join(agg.span, span));
            agg.runs.insert((host.to_string(), start));
            let idx = match host_index.get(host) {
                Some(&i) => {
                    if let Some(h) = agg.hosts.get_mut(i as usize) {
                        h.span.add(span);
                    }
                    i
                }
                None => {
                    let i = agg.hosts.len() as u32;
                    agg.hosts.push(Host {
                        name: host.to_string(),
                        span,
                    });
                    host_index.insert(host.to_string(), i);
                    i
                }
            };
            for f in &run.findings {
                stats.findings += 1;
                if f.detections.is_empty() {
                    stats.without_detections += 1;
                    continue;
                }
                let Some(key) = f.sha256.as_deref().and_then(parse_sha256) else {
                    stats.without_hash += 1;
                    continue;
                };
                stats.exported += 1;
                let fa = agg.files.entry(key).or_default();
                fa.count += 1;
                fa.span = Some(Span::join(fa.span, span));
                fa.hosts
                    .entry(idx)
                    .and_modify(|h| {
                        h.count += 1;
                        h.span.add(span);
                    })
                    .or_insert(HostObs { count: 1, span });
                let name = cap(f.file_name());
                if !name.is_empty() && fa.name.as_deref().is_none_or(|cur| name < cur) {
                    fa.name = Some(name.to_string());
                }
                if let Some(sz) = f.size {
                    fa.size = Some(fa.size.map_or(sz, |c| c.min(sz)));
                }
                for d in &f.detections {
                    insert_capped(
                        &mut fa.names,
                        &mut fa.names_more,
                        cap(d.name.trim()),
                        MAX_NAMES_PER_FILE,
                    );
                    if let Some(fam) = d.family() {
                        insert_capped(
                            &mut fa.families,
                            &mut fa.families_more,
                            cap(fam.trim()),
                            MAX_FAMILIES_PER_FILE,
                        );
                    }
                    if let Some(id) = d.indicator_id() {
                        match stix_indicator_id(id.trim()) {
                            Some(id) => insert_capped(
                                &mut fa.partners,
                                &mut fa.partners_more,
                                &id,
                                MAX_PARTNERS_PER_FILE,
                            ),
                            None => stats.foreign_indicator_refs += 1,
                        }
                    }
                }
            }
        }
        agg
    }
}

// ---------------------------------------------------------------------
// Writing

struct ObjWriter<W: Write> {
    w: BufWriter<W>,
    first: bool,
    objects: u64,
}

impl<W: Write> ObjWriter<W> {
    fn obj<T: Serialize>(&mut self, o: &T) -> io::Result<()> {
        self.w.write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer(&mut self.w, o)?;
        self.objects += 1;
        Ok(())
    }
}

/// A STIX timestamp, `YYYY-MM-DDTHH:MM:SS.sssZ`, from Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ts(i64);

impl Ts {
    fn format(self) -> [u8; 24] {
        let ms = self.0.clamp(MIN_MS, MAX_MS);
        let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut b = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                if let Some(slot) = b.get_mut(i) {
                    *slot = b'0' + (v % 10) as u8;
                }
                v /= 10;
            }
        };
        put(0, 4, t.year().clamp(0, 9999) as u32);
        put(5, 2, u8::from(t.month()) as u32);
        put(8, 2, t.day() as u32);
        put(11, 2, t.hour() as u32);
        put(14, 2, t.minute() as u32);
        put(17, 2, t.second() as u32);
        put(20, 3, t.millisecond() as u32);
        b
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.format();
        // Only ASCII digits and separators were written.
        s.serialize_str(std::str::from_utf8(&b).unwrap_or("1970-01-01T00:00:00.000Z"))
    }
}

/// The properties every SDO/SRO we write starts with.
#[derive(Serialize)]
struct Head<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    spec_version: &'static str,
    id: &'a str,
    created_by_ref: &'a str,
    created: Ts,
    modified: Ts,
}

/// An SDO/SRO: the head, the type's own properties, the marking.
#[derive(Serialize)]
struct Sdo<'a, B: Serialize> {
    #[serde(flatten)]
    head: Head<'a>,
    #[serde(flatten)]
    body: B,
    object_marking_refs: [&'a str; 1],
}

#[derive(Serialize)]
struct TlpExt {
    extension_type: &'static str,
    tlp_2_0: &'static str,
}

#[derive(Serialize)]
struct MarkingDefinition {
    #[serde(rename = "type")]
    type_: &'static str,
    spec_version: &'static str,
    id: &'static str,
    created_by_ref: &'static str,
    created: Ts,
    name: String,
    extensions: BTreeMap<&'static str, TlpExt>,
}

#[derive(Serialize)]
struct IdentityBody<'a> {
    name: &'a str,
    identity_class: &'static str,
}

#[derive(Serialize)]
struct FileSco<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    spec_version: &'static str,
    id: &'a str,
    hashes: FileHashes<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    object_marking_refs: [&'a str; 1],
}

#[derive(Serialize)]
struct FileHashes<'a> {
    #[serde(rename = "SHA-256")]
    sha256: &'a str,
}

#[derive(Serialize)]
struct ObservedDataBody<'a> {
    first_observed: Ts,
    last_observed: Ts,
    number_observed: u64,
    object_refs: [&'a str; 1],
}

#[derive(Serialize)]
struct IndicatorBody<'a> {
    name: &'a str,
    description: &'a str,
    indicator_types: [&'static str; 1],
    pattern: &'a str,
    pattern_type: &'static str,
    pattern_version: &'static str,
    valid_from: Ts,
}

#[derive(Serialize)]
struct MalwareBody<'a> {
    name: &'a str,
    is_family: bool,
}

#[derive(Serialize)]
struct RelationshipBody<'a> {
    relationship_type: &'static str,
    source_ref: &'a str,
    target_ref: &'a str,
}

#[derive(Serialize)]
struct SightingBody<'a> {
    sighting_of_ref: &'a str,
    count: u64,
    first_seen: Ts,
    last_seen: Ts,
    observed_data_refs: &'a [String],
    where_sighted_refs: &'a [&'a str],
}

#[derive(Serialize)]
struct ReportBody<'a> {
    name: &'a str,
    description: &'a str,
    report_types: [&'static str; 2],
    published: Ts,
    object_refs: ReportRefs<'a>,
}

/// What writing needs besides the aggregates: ids computed once, the
/// indexes derived from the aggregates.
struct Ctx<'a> {
    agg: &'a Agg,
    producer: &'a str,
    producer_id: String,
    tlp: Tlp,
    marking: &'static str,
    /// Host identity ids by host index.
    host_ids: Vec<String>,
    /// Host indexes in name order.
    host_order: Vec<u32>,
    /// Family name to the span of the contents that carry it.
    families: BTreeMap<&'a str, Span>,
    /// Partner indicator id to the contents it detected.
    partners: BTreeMap<&'a str, Vec<&'a [u8; 32]>>,
    /// The time span of everything.
    span: Span,
}

fn host_key(name: &str) -> String {
    format!("host\u{0}{name}")
}

fn observed_id(host: &str, sha_hex: &str) -> String {
    sdo_id("observed-data", &format!("{host}\u{0}{sha_hex}"))
}

fn indicator_id(sha_hex: &str) -> String {
    sdo_id("indicator", &format!("file:hashes.'SHA-256'\u{0}{sha_hex}"))
}

fn relationship_id(sha_hex: &str, family: &str) -> String {
    sdo_id(
        "relationship",
        &format!("indicates\u{0}{sha_hex}\u{0}{family}"),
    )
}

fn partner_sighting_id(partner: &str) -> String {
    sdo_id("sighting", &format!("partner\u{0}{partner}"))
}

fn count(n: u64) -> u64 {
    n.min(MAX_COUNT)
}

impl<'a> Ctx<'a> {
    fn new(agg: &'a Agg, opts: &'a StixOptions) -> Ctx<'a> {
        let producer = match cap(opts.producer.trim()) {
            "" => "takedown",
            p => p,
        };
        let host_ids = agg
            .hosts
            .iter()
            .map(|h| sdo_id("identity", &host_key(&h.name)))
            .collect();
        let mut host_order: Vec<u32> = (0..agg.hosts.len() as u32).collect();
        host_order.sort_by(|a, b| agg.host_name(*a).cmp(agg.host_name(*b)));
        let mut families: BTreeMap<&str, Span> = BTreeMap::new();
        let mut partners: BTreeMap<&str, Vec<&[u8; 32]>> = BTreeMap::new();
        for (key, fa) in &agg.files {
            let Some(span) = fa.span else { continue };
            for fam in &fa.families {
                families
                    .entry(fam.as_str())
                    .and_modify(|s| s.add(span))
                    .or_insert(span);
            }
            for p in &fa.partners {
                partners.entry(p.as_str()).or_default().push(key);
            }
        }
        let span = agg.span.unwrap_or(Span {
            first: agg.now,
            last: agg.now,
        });
        Ctx {
            agg,
            producer,
            producer_id: sdo_id("identity", &format!("producer\u{0}{producer}")),
            tlp: opts.tlp,
            marking: opts.tlp.stix_id(),
            host_ids,
            host_order,
            families,
            partners,
            span,
        }
    }

    /// The head of an SDO/SRO of ours: created by the producer, created
    /// and modified the first and last time what it describes was seen.
    fn head<'b>(&'b self, type_: &'static str, id: &'b str, span: Span) -> Head<'b> {
        Head {
            type_,
            spec_version: SPEC,
            id,
            created_by_ref: &self.producer_id,
            created: Ts(span.first),
            modified: Ts(span.last),
        }
    }

    fn host_id(&self, idx: u32) -> &str {
        self.host_ids.get(idx as usize).map_or("", String::as_str)
    }

    /// The report's id: the producer and the runs (host and start), so
    /// the same runs give the same report and new runs a new one.
    fn report_id(&self) -> String {
        let mut key = format!("{}\u{0}", self.producer);
        for (host, start) in &self.agg.runs {
            key.push_str(host);
            key.push('\u{0}');
            match start {
                Some(s) => key.push_str(&s.to_string()),
                None => key.push('-'),
            }
            key.push('\u{0}');
        }
        sdo_id("report", &key)
    }

    /// The bundle's id, from a digest of everything the objects are made
    /// of: same content, same id; any change, another id.
    fn bundle_id(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        };
        field(self.producer.as_bytes());
        field(self.marking.as_bytes());
        field(&self.span.first.to_le_bytes());
        field(&self.span.last.to_le_bytes());
        field(&self.published().0.to_le_bytes());
        for &i in &self.host_order {
            if let Some(host) = self.agg.hosts.get(i as usize) {
                field(host.name.as_bytes());
                field(&host.span.first.to_le_bytes());
                field(&host.span.last.to_le_bytes());
            }
        }
        field(self.report_id().as_bytes());
        for (key, fa) in &self.agg.files {
            field(key);
            field(fa.name.as_deref().unwrap_or("").as_bytes());
            field(&fa.size.map_or(-1, |s| s as i128).to_le_bytes());
            field(&fa.count.to_le_bytes());
            for set in [&fa.names, &fa.families, &fa.partners] {
                field(&(set.len() as u64).to_le_bytes());
                for s in set {
                    field(s.as_bytes());
                }
            }
            field(&[fa.names_more as u8, fa.families_more as u8]);
            for (idx, obs) in self.sorted_hosts(fa) {
                field(self.agg.host_name(idx).as_bytes());
                field(&obs.count.to_le_bytes());
                field(&obs.span.first.to_le_bytes());
                field(&obs.span.last.to_le_bytes());
            }
        }
        sdo_id("bundle", &hex::encode(h.finalize()))
    }

    /// `published` of the report: the latest end of a run, else now.
    fn published(&self) -> Ts {
        Ts(self.agg.latest_end.unwrap_or(self.agg.now))
    }

    fn write_objects<W: Write>(
        &self,
        w: &mut ObjWriter<W>,
        stats: &mut WriteStats,
    ) -> io::Result<()> {
        let marking = [self.marking];
        w.obj(&MarkingDefinition {
            type_: "marking-definition",
            spec_version: SPEC,
            id: self.marking,
            created_by_ref: TLP2_CREATOR,
            created: Ts(TLP2_CREATED_MS),
            name: self.tlp.to_string(),
            extensions: BTreeMap::from([(
                TLP2_EXTENSION,
                TlpExt {
                    extension_type: "property-extension",
                    tlp_2_0: self.tlp.as_str(),
                },
            )]),
        })?;
        w.obj(&Sdo {
            head: self.head("identity", &self.producer_id, self.span),
            body: IdentityBody {
                name: self.producer,
                identity_class: "organization",
            },
            object_marking_refs: marking,
        })?;
        for &i in &self.host_order {
            let Some(host) = self.agg.hosts.get(i as usize) else {
                continue;
            };
            w.obj(&Sdo {
                head: self.head("identity", self.host_id(i), host.span),
                body: IdentityBody {
                    name: &host.name,
                    identity_class: "system",
                },
                object_marking_refs: marking,
            })?;
            stats.hosts += 1;
        }
        for (fam, span) in &self.families {
            let id = sdo_id("malware", fam);
            w.obj(&Sdo {
                head: self.head("malware", &id, *span),
                body: MalwareBody {
                    name: fam,
                    is_family: true,
                },
                object_marking_refs: marking,
            })?;
            stats.families += 1;
        }
        for (key, fa) in &self.agg.files {
            let Some(span) = fa.span else { continue };
            self.write_file(w, key, fa, span)?;
            stats.files += 1;
            stats.observed_data += fa.hosts.len() as u64;
        }
        for (partner, keys) in &self.partners {
            self.write_partner_sighting(w, partner, keys)?;
            stats.partner_sightings += 1;
        }
        let description = format!(
            "takedown findings: {} detected file content(s), {} observation(s), on {} host(s) of {} scanned.",
            self.agg.files.len(),
            self.agg.files.values().map(|f| f.count).sum::<u64>(),
            self.agg
                .files
                .values()
                .flat_map(|f| f.hosts.keys())
                .collect::<BTreeSet<_>>()
                .len(),
            self.agg.hosts.len(),
        );
        let rid = self.report_id();
        let published = self.published();
        let span = Span {
            first: self.span.first,
            last: self.span.last.max(published.0),
        };
        w.obj(&Sdo {
            head: self.head("report", &rid, span),
            body: ReportBody {
                name: "takedown findings",
                description: &description,
                report_types: ["indicator", "observed-data"],
                published,
                object_refs: ReportRefs(self),
            },
            object_marking_refs: marking,
        })?;
        Ok(())
    }

    /// The objects of one detected content: file, observed-data per host,
    /// indicator, relationships to its families, sighting.
    fn write_file<W: Write>(
        &self,
        w: &mut ObjWriter<W>,
        key: &[u8; 32],
        fa: &FileAgg,
        span: Span,
    ) -> io::Result<()> {
        let marking = [self.marking];
        let sha = hex::encode(key);
        let fid = file_id(Some(&sha), None, None, fa.name.as_deref());
        w.obj(&FileSco {
            type_: "file",
            spec_version: SPEC,
            id: &fid,
            hashes: FileHashes { sha256: &sha },
            size: fa.size,
            name: fa.name.as_deref(),
            object_marking_refs: marking,
        })?;
        let hosts = self.sorted_hosts(fa);
        let mut od_ids = Vec::with_capacity(hosts.len());
        let mut where_ids = Vec::with_capacity(hosts.len());
        for &(idx, obs) in &hosts {
            let od = observed_id(self.agg.host_name(idx), &sha);
            w.obj(&Sdo {
                head: self.head("observed-data", &od, obs.span),
                body: ObservedDataBody {
                    first_observed: Ts(obs.span.first),
                    last_observed: Ts(obs.span.last),
                    number_observed: count(obs.count).max(1),
                    object_refs: [&fid],
                },
                object_marking_refs: marking,
            })?;
            od_ids.push(od);
            where_ids.push(self.host_id(idx));
        }
        let iid = indicator_id(&sha);
        let mut name = fa
            .names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if name.is_empty() {
            name.push_str("takedown detection");
        }
        if fa.names_more {
            name.push_str(", ...");
        }
        let description = format!(
            "File content detected by takedown {} time(s) on {} host(s).",
            fa.count,
            hosts.len()
        );
        let pattern = format!("[file:hashes.'SHA-256' = '{sha}']");
        w.obj(&Sdo {
            head: self.head("indicator", &iid, span),
            body: IndicatorBody {
                name: &name,
                description: &description,
                indicator_types: ["malicious-activity"],
                pattern: &pattern,
                pattern_type: "stix",
                pattern_version: SPEC,
                valid_from: Ts(span.first),
            },
            object_marking_refs: marking,
        })?;
        for fam in &fa.families {
            let rid = relationship_id(&sha, fam);
            let mid = sdo_id("malware", fam);
            w.obj(&Sdo {
                head: self.head("relationship", &rid, span),
                body: RelationshipBody {
                    relationship_type: "indicates",
                    source_ref: &iid,
                    target_ref: &mid,
                },
                object_marking_refs: marking,
            })?;
        }
        let sid = sdo_id("sighting", &sha);
        w.obj(&Sdo {
            head: self.head("sighting", &sid, span),
            body: SightingBody {
                sighting_of_ref: &iid,
                count: count(fa.count),
                first_seen: Ts(span.first),
                last_seen: Ts(span.last),
                observed_data_refs: &od_ids,
                where_sighted_refs: &where_ids,
            },
            object_marking_refs: marking,
        })?;
        Ok(())
    }

    /// A sighting of a partner's indicator: every content it detected,
    /// on every host.
    fn write_partner_sighting<W: Write>(
        &self,
        w: &mut ObjWriter<W>,
        partner: &str,
        keys: &[&[u8; 32]],
    ) -> io::Result<()> {
        let mut n = 0u64;
        let mut span: Option<Span> = None;
        let mut od_ids = Vec::new();
        let mut hosts: BTreeSet<(&str, u32)> = BTreeSet::new();
        for key in keys {
            let Some(fa) = self.agg.files.get(*key) else {
                continue;
            };
            let sha = hex::encode(key);
            n = n.saturating_add(fa.count);
            for &(idx, obs) in &self.sorted_hosts(fa) {
                span = Some(Span::join(span, obs.span));
                od_ids.push(observed_id(self.agg.host_name(idx), &sha));
                hosts.insert((self.agg.host_name(idx), idx));
            }
        }
        let Some(span) = span else { return Ok(()) };
        let where_ids: Vec<&str> = hosts.iter().map(|&(_, i)| self.host_id(i)).collect();
        let sid = partner_sighting_id(partner);
        w.obj(&Sdo {
            head: self.head("sighting", &sid, span),
            body: SightingBody {
                sighting_of_ref: partner,
                count: count(n),
                first_seen: Ts(span.first),
                last_seen: Ts(span.last),
                observed_data_refs: &od_ids,
                where_sighted_refs: &where_ids,
            },
            object_marking_refs: [self.marking],
        })
    }

    /// A content's observations, hosts in name order.
    fn sorted_hosts(&self, fa: &FileAgg) -> Vec<(u32, HostObs)> {
        let mut v: Vec<(u32, HostObs)> = fa.hosts.iter().map(|(i, o)| (*i, *o)).collect();
        v.sort_by(|a, b| self.agg.host_name(a.0).cmp(self.agg.host_name(b.0)));
        v
    }
}

impl Agg {
    fn host_name(&self, idx: u32) -> &str {
        self.hosts.get(idx as usize).map_or("", |h| h.name.as_str())
    }
}

/// The report's `object_refs`: every object of the bundle but the
/// marking definition and the report itself, computed
/// again while serializing rather than held.
struct ReportRefs<'a>(&'a Ctx<'a>);

impl Serialize for ReportRefs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut seq = s.serialize_seq(None)?;
        // Not the marking definition: `stix2` refuses a marking in
        // `object_refs` (SDOs, SROs and SCOs only); every object carries
        // it in `object_marking_refs` anyway.
        seq.serialize_element(&c.producer_id)?;
        for &i in &c.host_order {
            seq.serialize_element(c.host_id(i))?;
        }
        for fam in c.families.keys() {
            seq.serialize_element(&sdo_id("malware", fam))?;
        }
        for (key, fa) in &c.agg.files {
            if fa.span.is_none() {
                continue;
            }
            let sha = hex::encode(key);
            seq.serialize_element(&file_id(Some(&sha), None, None, fa.name.as_deref()))?;
            for (idx, _) in c.sorted_hosts(fa) {
                seq.serialize_element(&observed_id(c.agg.host_name(idx), &sha))?;
            }
            seq.serialize_element(&indicator_id(&sha))?;
            for fam in &fa.families {
                seq.serialize_element(&relationship_id(&sha, fam))?;
            }
            seq.serialize_element(&sdo_id("sighting", &sha))?;
        }
        for partner in c.partners.keys() {
            seq.serialize_element(&partner_sighting_id(partner))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{DetectionRecord, FindingRecord, SummaryRecord};

    fn run(host: &str, started: &str, findings: Vec<FindingRecord>) -> Run {
        Run {
            origin: format!("{host}.ndjson"),
            findings,
            summary: Some(SummaryRecord {
                host: Some(host.into()),
                started: Some(started.into()),
                elapsed_seconds: 2.5,
                ..Default::default()
            }),
        }
    }

    fn finding(sha: &str, name: &str) -> FindingRecord {
        FindingRecord {
            path: format!("/home/u/{name}"),
            sha256: Some(sha.into()),
            size: Some(68),
            detections: vec![DetectionRecord {
                engine: "hash".into(),
                name: "EICAR".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn opts() -> StixOptions {
        StixOptions {
            tlp: Tlp::Amber,
            producer: "CERT-X".into(),
            now: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        }
    }

    fn bundle(runs: &[Run]) -> (serde_json::Value, WriteStats) {
        let mut out = Vec::new();
        let stats = write_bundle(runs, &opts(), &mut out).unwrap();
        (serde_json::from_slice(&out).unwrap(), stats)
    }

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let t = Ts(1_664_582_400_123).format();
        assert_eq!(&t, b"2022-10-01T00:00:00.123Z");
        assert_eq!(&Ts(MAX_MS + 5).format(), b"9999-12-31T23:59:59.999Z");
        assert_eq!(&Ts(-1).format(), b"1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn capped_sets_do_not_depend_on_order() {
        let vals = ["d", "a", "c", "b", "e", "a"];
        let mut s1 = BTreeSet::new();
        let mut m1 = false;
        for v in vals {
            insert_capped(&mut s1, &mut m1, v, 3);
        }
        let mut s2 = BTreeSet::new();
        let mut m2 = false;
        for v in vals.iter().rev() {
            insert_capped(&mut s2, &mut m2, v, 3);
        }
        assert_eq!(s1, s2);
        assert_eq!(s1.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(m1 && m2);
    }

    #[test]
    fn input_order_does_not_change_the_bundle() {
        let a = "aa".repeat(32);
        let b = "BB".repeat(32);
        let r1 = run(
            "pc1",
            "2026-01-01T10:00:00Z",
            vec![finding(&a, "x.exe"), finding(&b, "y.exe")],
        );
        let r2 = run("pc2", "2026-01-02T10:00:00Z", vec![finding(&a, "w.exe")]);
        let mut o1 = Vec::new();
        write_bundle(&[r1.clone(), r2.clone()], &opts(), &mut o1).unwrap();
        let mut o2 = Vec::new();
        write_bundle(&[r2, r1], &opts(), &mut o2).unwrap();
        assert_eq!(
            String::from_utf8(o1).unwrap(),
            String::from_utf8(o2).unwrap()
        );
    }

    #[test]
    fn bad_hashes_and_foreign_ids_are_counted_not_exported() {
        let mut f = finding("zz", "x.exe");
        f.sha256 = Some("'] OR [file:name = 'x".into());
        let mut g = finding(&"ab".repeat(32), "y");
        g.detections[0]
            .metadata
            .insert("indicator".into(), "5f0b2a0c-misp-uuid".into());
        let (v, stats) = bundle(&[run("h", "2026-01-01T00:00:00Z", vec![f, g])]);
        assert_eq!(stats.without_hash, 1);
        assert_eq!(stats.exported, 1);
        assert_eq!(stats.foreign_indicator_refs, 1);
        assert_eq!(stats.partner_sightings, 0);
        let text = v.to_string();
        assert!(!text.contains("OR [file:name"));
    }

    #[test]
    fn no_runs_still_make_a_valid_shape() {
        let (v, stats) = bundle(&[]);
        assert_eq!(stats.objects, 3); // marking, producer, report
        let objs = v["objects"].as_array().unwrap();
        assert_eq!(objs[2]["type"], "report");
        assert_eq!(objs[2]["published"], "2027-01-15T08:00:00.000Z");
        assert_eq!(objs[2]["object_refs"].as_array().unwrap().len(), 1);
    }
}
