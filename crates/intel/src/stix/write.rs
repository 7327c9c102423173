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
//! * per network sighting of `takedown hunt` (one client, or no client,
//!   seen using one indicator or one DGA's names, on one hunting host):
//!   the SCOs of what was observed (the client's `ipv4-addr`/`ipv6-addr`,
//!   the matched `domain-name`, `ipv4-addr`, `ipv6-addr` and `url`
//!   values; ids as `stix2` computes them), an `observed-data` over them
//!   and a `sighting` (count, first/last seen, where: the hunting host's
//!   identity). What it sights: a partner's indicator when the sighted
//!   indicator came from their STIX bundle (its `indicator--` id, not in
//!   the bundle); else our `indicator` of the value (`[domain-name:value
//!   = '...']`, `[ipv4-addr:value = '198.51.100.0/24']`, `ipv6-addr`,
//!   `url`), related by `indicates` to the family's `malware` when the
//!   source names one; for a DGA, a `malware` object of the family (the
//!   DGA is the family's, and a partner matches families by name) and an
//!   `indicator` whose pattern ORs the generated names actually seen
//!   (what a partner can block or hunt for; the generator itself cannot
//!   be a STIX pattern), related by `indicates` to it;
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

use super::ids::{file_id, network_sco_id, sdo_id, value_sco_id};
use crate::records::{MAX_SIGHTING_VALUES, Run, SightingRecord};
use crate::{Kind, Tlp};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
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
    /// Sightings of partners' indicators (file detections).
    pub partner_sightings: u64,
    /// Network sighting records read (`takedown hunt`).
    pub sightings: u64,
    /// Network sighting records whose indicator cannot be written (an
    /// unknown kind, a value that is not a valid domain, address, CIDR or
    /// URL, a DGA without a family): left out.
    pub sightings_unusable: u64,
    /// Our indicators of sighted network values and DGA names.
    pub network_indicators: u64,
    /// Network `sighting` objects (one per hunting host, client and
    /// indicator), including those of partners' indicators.
    pub network_sightings: u64,
    /// Of those, sightings of partners' indicators.
    pub network_partner_sightings: u64,
    /// Network `observed-data` objects.
    pub network_observed_data: u64,
    /// Network SCOs (clients, matched names, addresses and URLs).
    pub observables: u64,
    /// Matched values (and clients) that are no domain name, address or
    /// URL, so no SCO: left out of the observed data.
    pub unusable_values: u64,
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
/// Matched values kept per network sighting (the smallest, as above):
/// records merged from many hunts would otherwise grow without bound.
pub const MAX_MATCHED_PER_SIGHTING: usize = 64;
/// Generated names kept in a DGA indicator's pattern (the smallest).
pub const MAX_DGA_NAMES: usize = 256;
/// Longest sighted value put in a pattern (a URL can be long; a longer
/// one is not a URL a partner can use).
pub const MAX_PATTERN_VALUE: usize = 8192;
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
    /// Network sightings by what they sight, hunting host and client.
    net: BTreeMap<NetKey, NetSight>,
    /// Our indicators of what was sighted (not partners').
    net_indicators: BTreeMap<Target, NetIndicator>,
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
            net: BTreeMap::new(),
            net_indicators: BTreeMap::new(),
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
            let base = match (start, end) {
                (Some(s), Some(e)) => Some(Span {
                    first: s,
                    last: e.max(s),
                }),
                // A hunt: its start, without an end (a scan's summary
                // always gives both).
                (Some(s), None) => Some(Span { first: s, last: s }),
                _ => None,
            };
            // A hunt reads logs of the past: its sightings' own times
            // widen the run's span.
            let seen = run.sighting_span().map(|(a, b)| Span {
                first: millis(a),
                last: millis(b),
            });
            let span = match (base, seen) {
                (Some(b), Some(x)) => Span::join(Some(b), x),
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => Span {
                    first: now,
                    last: now,
                },
            };
            let end = end.or_else(|| (base.is_some() || seen.is_some()).then_some(span.last));
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
            for s in &run.sightings {
                stats.sightings += 1;
                if !agg.add_sighting(s, host, idx, span, stats) {
                    stats.sightings_unusable += 1;
                }
            }
        }
        agg
    }
}

// ---------------------------------------------------------------------
// Network sightings

/// What a network sighting sights.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// A partner's STIX indicator (canonical `indicator--<uuid>`).
    Partner(String),
    /// Our indicator of one value: its SCO type and normalised value.
    Value { sco: &'static str, value: String },
    /// Our indicator of the names of one DGA.
    Dga {
        family: String,
        variant: String,
        seed: String,
    },
}

impl Target {
    /// The stable key the ids of its objects derive from.
    fn key(&self) -> String {
        match self {
            Target::Partner(id) => format!("partner\u{0}{id}"),
            Target::Value { sco, value } => format!("{sco}:value\u{0}{value}"),
            Target::Dga {
                family,
                variant,
                seed,
            } => format!("dga\u{0}{family}\u{0}{variant}\u{0}{seed}"),
        }
    }

    /// The family's name of a DGA.
    fn dga_family(&self) -> Option<&str> {
        match self {
            Target::Dga { family, .. } => Some(family),
            _ => None,
        }
    }
}

/// An SCO: its type and value.
type Sco = (&'static str, String);

/// A network sighting's key: what, the hunting host's name, the client
/// as the logs give it (empty when they do not).
type NetKey = (Target, String, String);

/// One client (or no client) seen using one target on one host, merged
/// over the runs.
struct NetSight {
    host: u32,
    count: u64,
    span: Span,
    /// The client's address SCO, when the client is an address.
    client_sco: Option<Sco>,
    matched: BTreeSet<Sco>,
    matched_more: bool,
}

/// One of our indicators of what was sighted.
#[derive(Default)]
struct NetIndicator {
    /// The smallest label the sources give it (order-independent).
    label: Option<String>,
    families: BTreeSet<String>,
    families_more: bool,
    /// A DGA's generated names seen.
    names: BTreeSet<String>,
    names_more: bool,
    count: u64,
    /// Distinct (host, client) sightings of it.
    sightings: u64,
    span: Option<Span>,
}

impl NetIndicator {
    /// False for a DGA indicator without a name to put in its pattern:
    /// its sightings then sight the family's `malware` object.
    fn written(&self, t: &Target) -> bool {
        !matches!(t, Target::Dga { .. }) || !self.names.is_empty()
    }
}

/// Keeps the `max` smallest distinct values (as [`insert_capped`], for
/// any ordered value).
fn insert_capped_sco(set: &mut BTreeSet<Sco>, more: &mut bool, value: Sco, max: usize) {
    if set.contains(&value) {
        return;
    }
    if set.len() < max {
        set.insert(value);
        return;
    }
    *more = true;
    if set.last().is_some_and(|l| &value < l) {
        set.pop_last();
        set.insert(value);
    }
}

/// The SCO of a value seen in the logs: [`classify`], with a URL made a
/// valid URI ([`uri`]).
pub(crate) fn sco_of(value: &str) -> Option<Sco> {
    match classify(value)? {
        ("url", u) => Some(("url", uri(&u)?)),
        other => Some(other),
    }
}

/// What a value seen in the logs is: a URL (with a scheme), an IPv4 or
/// IPv6 address or CIDR block, else a domain name; normalised as the
/// indicator model normalises (so an SCO's id is the one a partner
/// computes from the same value). `None` when it is none of them.
pub(crate) fn classify(value: &str) -> Option<Sco> {
    let v = value.trim();
    if v.contains("://") {
        let u = crate::model::normalise(Kind::Url, v).ok()?;
        return (u.len() <= MAX_PATTERN_VALUE).then_some(("url", u));
    }
    if let Ok((addr, _)) = crate::model::parse_cidr(v) {
        let kind = if addr.is_ipv4() {
            Kind::Ipv4
        } else {
            Kind::Ipv6
        };
        let n = crate::model::normalise(kind, v).ok()?;
        return Some((
            if addr.is_ipv4() {
                "ipv4-addr"
            } else {
                "ipv6-addr"
            },
            n,
        ));
    }
    let d = crate::model::normalise(Kind::Domain, v).ok()?;
    Some(("domain-name", d))
}

/// `url` as an RFC 3986 URI, which a `url` SCO's value must be (and
/// stix2-validator checks): what the RFC does not allow where it stands
/// (a backslash, a space, `{`, a letter outside ASCII, a `%` not
/// followed by two hex digits, ...) percent-encoded as UTF-8, the rest
/// as it is. `None` for a scheme that does not start with a letter.
pub(crate) fn uri(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let mut out = String::with_capacity(url.len() + 8);
    out.push_str(scheme);
    out.push_str("://");
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if let Some(u) = userinfo {
        encode_into(&mut out, u, |b| is_sub_delim_or_unreserved(b) || b == b':');
        out.push('@');
    }
    // An IP literal in brackets is kept when it holds only what one can.
    let (host, port) = if let Some(close) = hostport.strip_prefix('[').and_then(|h| h.find(']')) {
        let (lit, after) = hostport.split_at(close + 2);
        if lit[1..lit.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        {
            out.push_str(lit);
            ("", after)
        } else {
            (hostport, "")
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, &hostport[h.len()..]),
            _ => (hostport, ""),
        }
    };
    encode_into(&mut out, host, is_sub_delim_or_unreserved);
    if let Some(p) = port.strip_prefix(':') {
        out.push(':');
        encode_into(&mut out, p, |b| b.is_ascii_digit());
    } else {
        encode_into(&mut out, port, is_sub_delim_or_unreserved);
    }
    // Path, query, fragment: pchar, `/`, `?`; the first `#` starts the
    // fragment, a later one is encoded.
    let (before, fragment) = match tail.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (tail, None),
    };
    let pchar = |b: u8| is_sub_delim_or_unreserved(b) || matches!(b, b':' | b'@' | b'/' | b'?');
    encode_into(&mut out, before, pchar);
    if let Some(f) = fragment {
        out.push('#');
        encode_into(&mut out, f, pchar);
    }
    Some(out)
}

fn is_sub_delim_or_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}

/// Appends `s`, each byte `keep` refuses percent-encoded; a `%` followed
/// by two hex digits is kept (already encoded).
fn encode_into(out: &mut String, s: &str, keep: impl Fn(u8) -> bool) {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let encoded = c == b'%'
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if c.is_ascii() && (keep(c) || encoded) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
}

/// The address SCO of a client: an address, also written with a port
/// (`192.0.2.1:5353`, `[2001:db8::1]:53`) or in brackets.
pub(crate) fn client_sco(client: &str) -> Option<Sco> {
    let c = client.trim();
    let addr: IpAddr = c
        .parse()
        .ok()
        .or_else(|| c.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            c.strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .and_then(|x| x.parse().ok())
        })?;
    Some(match addr {
        IpAddr::V4(a) => ("ipv4-addr", a.to_string()),
        IpAddr::V6(a) => ("ipv6-addr", a.to_string()),
    })
}

/// What a sighting record sights, or `None` when it cannot be written.
fn target_of(s: &SightingRecord) -> Option<Target> {
    if let Some(id) = s
        .indicator
        .object_id
        .as_deref()
        .and_then(|i| stix_indicator_id(i.trim()))
    {
        return Some(Target::Partner(id));
    }
    if s.is_dga() {
        let (family, variant, seed) = match &s.dga {
            Some(d) => (d.family.as_str(), d.variant.as_str(), d.seed.as_str()),
            None => (
                s.indicator.family.as_deref().unwrap_or(&s.indicator.value),
                "",
                "",
            ),
        };
        let family = cap(family.trim());
        if family.is_empty() {
            return None;
        }
        return Some(Target::Dga {
            family: family.to_string(),
            variant: cap(variant.trim()).to_string(),
            seed: cap(seed.trim()).to_string(),
        });
    }
    let (kind, value) = sighted_value(s)?;
    let (sco, _) = network_sco_id(kind, &value)?;
    Some(Target::Value { sco, value })
}

/// The kind and normalised value of a sighting's indicator (`domain`,
/// `ipv4`, `ipv6`, `url`; `ip` told apart by the value); `None` for a DGA,
/// another kind, or a value that is not valid for its kind.
pub(crate) fn sighted_value(s: &SightingRecord) -> Option<(Kind, String)> {
    if s.is_dga() {
        return None;
    }
    let value = s.indicator.value.trim();
    let kind = match s.indicator.kind.trim().to_ascii_lowercase().as_str() {
        "domain" | "domain-name" | "hostname" => Kind::Domain,
        "ipv4" => Kind::Ipv4,
        "ipv6" => Kind::Ipv6,
        "ip" => match crate::model::parse_cidr(value) {
            Ok((a, _)) if a.is_ipv4() => Kind::Ipv4,
            Ok(_) => Kind::Ipv6,
            Err(_) => return None,
        },
        "url" => Kind::Url,
        _ => return None,
    };
    let value = crate::model::normalise(kind, value).ok()?;
    (value.len() <= MAX_PATTERN_VALUE).then_some((kind, value))
}

/// A string literal of a STIX pattern: `\` and `'` escaped (the only
/// escapes of the grammar), so a value from a log cannot end the string.
fn pattern_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The span of one record: its own times, else the run's.
fn record_span(s: &SightingRecord, run: Span) -> Span {
    match (s.first_seen_time(), s.last_seen_time()) {
        (Some(a), Some(b)) => Span {
            first: millis(a.min(b)),
            last: millis(a.max(b)),
        },
        (Some(a), None) | (None, Some(a)) => Span {
            first: millis(a),
            last: millis(a),
        },
        (None, None) => run,
    }
}

impl Agg {
    /// Folds one sighting record in; false when it cannot be written.
    fn add_sighting(
        &mut self,
        s: &SightingRecord,
        host: &str,
        host_idx: u32,
        run_span: Span,
        stats: &mut WriteStats,
    ) -> bool {
        let Some(target) = target_of(s) else {
            return false;
        };
        let span = record_span(s, run_span);
        let client = s.client.as_deref().map_or("", |c| cap(c.trim()));
        let key = (target.clone(), host.to_string(), client.to_string());
        let new = !self.net.contains_key(&key);
        let e = self.net.entry(key).or_insert_with(|| NetSight {
            host: host_idx,
            count: 0,
            span,
            client_sco: None,
            matched: BTreeSet::new(),
            matched_more: false,
        });
        e.count = e.count.saturating_add(s.count);
        e.span.add(span);
        if new && !client.is_empty() {
            e.client_sco = client_sco(client);
            if e.client_sco.is_none() {
                stats.unusable_values += 1;
            }
        }
        let mut names = Vec::new();
        for m in s.matched.iter().take(MAX_SIGHTING_VALUES) {
            match sco_of(m) {
                Some(sco) => {
                    if sco.0 == "domain-name" && matches!(target, Target::Dga { .. }) {
                        names.push(sco.1.clone());
                    }
                    insert_capped_sco(
                        &mut e.matched,
                        &mut e.matched_more,
                        sco,
                        MAX_MATCHED_PER_SIGHTING,
                    );
                }
                None => stats.unusable_values += 1,
            }
        }
        // A record that lists no value still observed its indicator's own
        // value, when that is one value (not a CIDR block).
        if s.matched.is_empty()
            && let Target::Value { sco, value } = &target
            && let Some(own) = match *sco {
                "url" => uri(value),
                _ if value.contains('/') => None,
                _ => Some(value.clone()),
            }
        {
            insert_capped_sco(
                &mut e.matched,
                &mut e.matched_more,
                (sco, own),
                MAX_MATCHED_PER_SIGHTING,
            );
        }
        if matches!(target, Target::Partner(_)) {
            return true;
        }
        let family = s.family().map(|f| cap(f.trim()).to_string());
        let label = s
            .indicator
            .label
            .as_deref()
            .map(|l| cap(l.trim()))
            .filter(|l| !l.is_empty());
        let ind = self.net_indicators.entry(target).or_default();
        ind.count = ind.count.saturating_add(s.count);
        ind.sightings += u64::from(new);
        ind.span = Some(Span::join(ind.span, span));
        if let Some(l) = label
            && ind.label.as_deref().is_none_or(|cur| l < cur)
        {
            ind.label = Some(l.to_string());
        }
        if let Some(f) = family.filter(|f| !f.is_empty()) {
            insert_capped(
                &mut ind.families,
                &mut ind.families_more,
                &f,
                MAX_FAMILIES_PER_FILE,
            );
        }
        for n in names {
            insert_capped(&mut ind.names, &mut ind.names_more, &n, MAX_DGA_NAMES);
        }
        true
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
struct NetSightingBody<'a> {
    description: &'a str,
    sighting_of_ref: &'a str,
    count: u64,
    first_seen: Ts,
    last_seen: Ts,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    observed_data_refs: &'a [String],
    where_sighted_refs: [&'a str; 1],
}

#[derive(Serialize)]
struct NetObservedDataBody<'a> {
    first_observed: Ts,
    last_observed: Ts,
    number_observed: u64,
    object_refs: &'a [String],
}

/// An SCO whose only property is `value`.
#[derive(Serialize)]
struct NetSco<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    spec_version: &'static str,
    id: &'a str,
    value: &'a str,
    object_marking_refs: [&'a str; 1],
}

/// The families an indicator of ours indicates: the DGA's, and those its
/// sources name (a set: the DGA's family once).
fn net_families<'a>(t: &'a Target, ind: &'a NetIndicator) -> BTreeSet<&'a str> {
    ind.families
        .iter()
        .map(String::as_str)
        .chain(t.dga_family())
        .collect()
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
    /// The SCOs of the network sightings (clients and matched values).
    scos: BTreeSet<(&'static str, &'a str)>,
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

fn net_indicator_id(t: &Target) -> String {
    sdo_id("indicator", &t.key())
}

fn net_relationship_id(t: &Target, family: &str) -> String {
    sdo_id(
        "relationship",
        &format!("indicates\u{0}{}\u{0}{family}", t.key()),
    )
}

fn net_suffix(key: &NetKey) -> String {
    format!("net\u{0}{}\u{0}{}\u{0}{}", key.0.key(), key.1, key.2)
}

fn net_sighting_id(key: &NetKey) -> String {
    sdo_id("sighting", &net_suffix(key))
}

fn net_observed_id(key: &NetKey) -> String {
    sdo_id("observed-data", &net_suffix(key))
}

/// The SCO ids an observed data object of a network sighting refers to:
/// the client first, then the matched values.
fn net_object_refs(ns: &NetSight) -> Vec<String> {
    ns.client_sco
        .iter()
        .chain(&ns.matched)
        .map(|(t, v)| value_sco_id(t, v))
        .collect()
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
        for (t, ind) in &agg.net_indicators {
            let Some(span) = ind.span else { continue };
            let dga = t.dga_family();
            for fam in ind.families.iter().map(String::as_str).chain(dga) {
                families
                    .entry(fam)
                    .and_modify(|s| s.add(span))
                    .or_insert(span);
            }
        }
        let mut scos = BTreeSet::new();
        for ns in agg.net.values() {
            for (t, v) in ns.client_sco.iter().chain(&ns.matched) {
                scos.insert((*t, v.as_str()));
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
            scos,
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
        for (t, ind) in &self.agg.net_indicators {
            field(t.key().as_bytes());
            field(ind.label.as_deref().unwrap_or("").as_bytes());
            for set in [&ind.families, &ind.names] {
                field(&(set.len() as u64).to_le_bytes());
                for s in set {
                    field(s.as_bytes());
                }
            }
            field(&[ind.families_more as u8, ind.names_more as u8]);
            field(&ind.count.to_le_bytes());
            field(&ind.sightings.to_le_bytes());
        }
        for (key, ns) in &self.agg.net {
            field(net_suffix(key).as_bytes());
            field(&ns.count.to_le_bytes());
            field(&ns.span.first.to_le_bytes());
            field(&ns.span.last.to_le_bytes());
            field(&(ns.matched.len() as u64).to_le_bytes());
            for (t, v) in ns.client_sco.iter().chain(&ns.matched) {
                field(t.as_bytes());
                field(v.as_bytes());
            }
            field(&[ns.matched_more as u8]);
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
        self.write_network(w, stats)?;
        let mut description = String::new();
        // A hunt alone says nothing of files.
        if !self.agg.files.is_empty() || self.agg.net.is_empty() {
            description = format!(
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
        }
        if !self.agg.net.is_empty() {
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str(&format!(
                "takedown hunt: {} sighting(s) of {} indicator(s), {} event(s).",
                self.agg.net.len(),
                self.agg
                    .net
                    .keys()
                    .map(|k| &k.0)
                    .collect::<BTreeSet<_>>()
                    .len(),
                self.agg
                    .net
                    .values()
                    .fold(0u64, |n, s| n.saturating_add(s.count)),
            ));
        }
        let name = match (self.agg.files.is_empty(), self.agg.net.is_empty()) {
            (true, false) => "takedown hunt sightings",
            (false, false) => "takedown findings and sightings",
            _ => "takedown findings",
        };
        let rid = self.report_id();
        let published = self.published();
        let span = Span {
            first: self.span.first,
            last: self.span.last.max(published.0),
        };
        w.obj(&Sdo {
            head: self.head("report", &rid, span),
            body: ReportBody {
                name,
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

    /// The objects of the network sightings: SCOs, our indicators with
    /// their relationships, then per sighting its observed data and the
    /// sighting itself.
    fn write_network<W: Write>(
        &self,
        w: &mut ObjWriter<W>,
        stats: &mut WriteStats,
    ) -> io::Result<()> {
        let marking = [self.marking];
        for &(t, v) in &self.scos {
            w.obj(&NetSco {
                type_: t,
                spec_version: SPEC,
                id: &value_sco_id(t, v),
                value: v,
                object_marking_refs: marking,
            })?;
            stats.observables += 1;
        }
        for (t, ind) in &self.agg.net_indicators {
            let Some(span) = ind.span else { continue };
            if !ind.written(t) {
                continue;
            }
            self.write_net_indicator(w, t, ind, span)?;
            stats.network_indicators += 1;
        }
        for (key, ns) in &self.agg.net {
            let refs = net_object_refs(ns);
            let od = net_observed_id(key);
            if !refs.is_empty() {
                w.obj(&Sdo {
                    head: self.head("observed-data", &od, ns.span),
                    body: NetObservedDataBody {
                        first_observed: Ts(ns.span.first),
                        last_observed: Ts(ns.span.last),
                        number_observed: count(ns.count).max(1),
                        object_refs: &refs,
                    },
                    object_marking_refs: marking,
                })?;
                stats.network_observed_data += 1;
            }
            let of = match &key.0 {
                Target::Partner(id) => {
                    stats.network_partner_sightings += 1;
                    id.clone()
                }
                t => match self.agg.net_indicators.get(t) {
                    Some(ind) if !ind.written(t) => {
                        sdo_id("malware", t.dga_family().unwrap_or_default())
                    }
                    _ => net_indicator_id(t),
                },
            };
            let description = if key.2.is_empty() {
                "Seen in logs that do not name the client.".to_string()
            } else {
                format!("Seen from client {}.", key.2)
            };
            let od_refs = if refs.is_empty() {
                Vec::new()
            } else {
                vec![od]
            };
            w.obj(&Sdo {
                head: self.head("sighting", &net_sighting_id(key), ns.span),
                body: NetSightingBody {
                    description: &description,
                    sighting_of_ref: &of,
                    count: count(ns.count),
                    first_seen: Ts(ns.span.first),
                    last_seen: Ts(ns.span.last),
                    observed_data_refs: &od_refs,
                    where_sighted_refs: [self.host_id(ns.host)],
                },
                object_marking_refs: marking,
            })?;
            stats.network_sightings += 1;
        }
        Ok(())
    }

    /// Our indicator of a sighted value or DGA, and its relationships to
    /// its families.
    fn write_net_indicator<W: Write>(
        &self,
        w: &mut ObjWriter<W>,
        t: &Target,
        ind: &NetIndicator,
        span: Span,
    ) -> io::Result<()> {
        let marking = [self.marking];
        let iid = net_indicator_id(t);
        let (name, description, pattern) = match t {
            Target::Value { sco, value } => {
                let what = match *sco {
                    "domain-name" => "Domain",
                    "url" => "URL",
                    _ if value.contains('/') => "Network",
                    _ => "Address",
                };
                (
                    ind.label.clone().unwrap_or_else(|| value.clone()),
                    format!(
                        "{what} sighted by takedown hunt: {} event(s) in {} sighting(s).",
                        ind.count, ind.sightings
                    ),
                    format!("[{sco}:value = {}]", pattern_string(value)),
                )
            }
            Target::Dga {
                family,
                variant,
                seed,
            } => {
                let mut name = format!("{family} DGA names");
                let mut of = String::new();
                if !variant.is_empty() {
                    of.push_str(&format!("variant {variant}"));
                }
                if !seed.is_empty() {
                    if !of.is_empty() {
                        of.push_str(", ");
                    }
                    of.push_str(&format!("seed {seed}"));
                }
                if !of.is_empty() {
                    name.push_str(&format!(" ({of})"));
                }
                let pattern = ind
                    .names
                    .iter()
                    .map(|n| format!("domain-name:value = {}", pattern_string(n)))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                (
                    name,
                    format!(
                        "Names generated by the {family} DGA and sighted by takedown hunt: {} name(s) listed{}, {} event(s) in {} sighting(s).",
                        ind.names.len(),
                        if ind.names_more {
                            " (more were seen)"
                        } else {
                            ""
                        },
                        ind.count,
                        ind.sightings
                    ),
                    format!("[{pattern}]"),
                )
            }
            Target::Partner(_) => return Ok(()),
        };
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
        for fam in net_families(t, ind) {
            w.obj(&Sdo {
                head: self.head("relationship", &net_relationship_id(t, fam), span),
                body: RelationshipBody {
                    relationship_type: "indicates",
                    source_ref: &iid,
                    target_ref: &sdo_id("malware", fam),
                },
                object_marking_refs: marking,
            })?;
        }
        Ok(())
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
        for &(t, v) in &c.scos {
            seq.serialize_element(&value_sco_id(t, v))?;
        }
        for (t, ind) in &c.agg.net_indicators {
            if ind.span.is_none() || !ind.written(t) {
                continue;
            }
            seq.serialize_element(&net_indicator_id(t))?;
            for fam in net_families(t, ind) {
                seq.serialize_element(&net_relationship_id(t, fam))?;
            }
        }
        for (key, ns) in &c.agg.net {
            if ns.client_sco.is_some() || !ns.matched.is_empty() {
                seq.serialize_element(&net_observed_id(key))?;
            }
            seq.serialize_element(&net_sighting_id(key))?;
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
            ..Default::default()
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

    fn sighting(client: Option<&str>, kind: &str, value: &str, count: u64) -> SightingRecord {
        SightingRecord {
            client: client.map(str::to_string),
            indicator: crate::records::SightedIndicator {
                kind: kind.into(),
                value: value.into(),
                source: "list.txt".into(),
                ..Default::default()
            },
            matched: vec![value.into()],
            matched_count: 1,
            first_seen: Some("2026-12-01T08:00:00Z".into()),
            last_seen: Some("2026-12-01T09:00:00Z".into()),
            count,
            ..Default::default()
        }
    }

    fn hunt(host: &str, sightings: Vec<SightingRecord>) -> Run {
        Run {
            origin: format!("{host}.ndjson"),
            sightings,
            hunt: Some(crate::records::HuntContext {
                host: Some(host.into()),
                started: Some("2026-12-02T00:00:00Z".into()),
            }),
            ..Default::default()
        }
    }

    fn by_type<'a>(v: &'a serde_json::Value, ty: &str) -> Vec<&'a serde_json::Value> {
        v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["type"] == ty)
            .collect()
    }

    #[test]
    fn network_sightings_become_indicators_observed_data_and_sightings() {
        let partner = "indicator--11111111-1111-4111-8111-111111111111";
        let mut p = sighting(Some("192.0.2.7"), "domain", "c2.example", 4);
        p.indicator.object_id = Some(partner.to_uppercase().replace("INDICATOR", "indicator"));
        let mut dga = sighting(Some("192.0.2.8"), "dga", "nymaim", 30);
        dga.dga = Some(crate::records::SightedDga {
            family: "Nymaim".into(),
            ..Default::default()
        });
        dga.matched = vec![
            "zzz.example".into(),
            "aaa.example".into(),
            "not a name".into(),
        ];
        let mut url = sighting(Some("[2001:db8::1]:53"), "url", "http://x.example/a'b\\", 2);
        url.first_seen = None;
        url.last_seen = None;
        let runs = [hunt(
            "resolver",
            vec![
                sighting(Some("192.0.2.7"), "domain", "evil.example", 5),
                sighting(None, "domain", "evil.example", 3),
                p,
                dga,
                url,
                sighting(Some("192.0.2.9"), "ipv4", "198.51.100.0/24", 1),
                sighting(Some("192.0.2.9"), "asn", "AS64496", 1),
                sighting(Some("192.0.2.9"), "domain", "a..b", 1),
            ],
        )];
        let (v, stats) = bundle(&runs);
        assert_eq!(stats.sightings, 8);
        assert_eq!(stats.sightings_unusable, 2, "an unknown kind, a bad value");
        assert_eq!(stats.network_sightings, 6);
        assert_eq!(stats.network_partner_sightings, 1);
        assert_eq!(stats.network_indicators, 4, "domain, DGA, URL, CIDR");
        assert_eq!(stats.unusable_values, 1, "'not a name'");
        let patterns: BTreeSet<&str> = by_type(&v, "indicator")
            .iter()
            .map(|i| i["pattern"].as_str().unwrap())
            .collect();
        let want: BTreeSet<&str> = [
            "[domain-name:value = 'evil.example']",
            "[domain-name:value = 'aaa.example' OR domain-name:value = 'zzz.example']",
            "[url:value = 'http://x.example/a\\'b\\\\']",
            "[ipv4-addr:value = '198.51.100.0/24']",
        ]
        .into_iter()
        .collect();
        assert_eq!(patterns, want);
        // Every pattern reads back, to the values sighted.
        for p in &patterns {
            crate::stix::pattern::indicators(p).unwrap();
        }
        let sightings = by_type(&v, "sighting");
        let of: Vec<&str> = sightings
            .iter()
            .map(|s| s["sighting_of_ref"].as_str().unwrap())
            .collect();
        assert!(of.contains(&partner), "{of:?}");
        assert!(
            !patterns.iter().any(|p| p.contains("c2.example")),
            "a partner's indicator is sighted, not copied"
        );
        let no_client = sightings
            .iter()
            .find(|s| s["count"] == 3)
            .expect("the sighting without a client");
        assert_eq!(
            no_client["description"],
            "Seen in logs that do not name the client."
        );
        let od_id = no_client["observed_data_refs"][0].as_str().unwrap();
        let od = by_type(&v, "observed-data")
            .into_iter()
            .find(|o| o["id"] == od_id)
            .unwrap();
        assert_eq!(
            od["object_refs"],
            serde_json::json!([value_sco_id("domain-name", "evil.example")])
        );
        assert_eq!(od["number_observed"], 3);
        // The URL's client is an address with a port; the URL SCO a URI.
        let urls = by_type(&v, "url");
        assert_eq!(urls[0]["value"], "http://x.example/a'b%5C");
        assert!(
            by_type(&v, "ipv6-addr")
                .iter()
                .any(|o| o["value"] == "2001:db8::1")
        );
        // The URL's record has no times: the run's span (the other
        // sightings' times and the hunt's start) stands for them.
        let s = sightings.iter().find(|s| s["count"] == 2).unwrap();
        assert_eq!(s["first_seen"], "2026-12-01T08:00:00.000Z");
        assert_eq!(s["last_seen"], "2026-12-02T00:00:00.000Z");
        let dga_malware = by_type(&v, "malware");
        assert_eq!(dga_malware.len(), 1);
        assert_eq!(dga_malware[0]["name"], "Nymaim");
        let rel = by_type(&v, "relationship");
        assert_eq!(rel.len(), 1);
        assert_eq!(rel[0]["target_ref"], dga_malware[0]["id"]);
        let report = by_type(&v, "report");
        assert_eq!(report[0]["name"], "takedown hunt sightings");
        let refs = report[0]["object_refs"].as_array().unwrap();
        assert_eq!(
            refs.len() as u64,
            stats.objects - 2,
            "all but marking and report"
        );
        // Same sightings in another order, split over two files of the same
        // host: the same bundle.
        let mut recs = runs[0].sightings.clone();
        recs.reverse();
        let (a, b) = recs.split_at(3);
        let again = [hunt("resolver", b.to_vec()), hunt("resolver", a.to_vec())];
        let mut o1 = Vec::new();
        write_bundle(&runs, &opts(), &mut o1).unwrap();
        let mut o2 = Vec::new();
        write_bundle(&again, &opts(), &mut o2).unwrap();
        assert_eq!(
            String::from_utf8(o1).unwrap(),
            String::from_utf8(o2).unwrap()
        );
    }

    #[test]
    fn a_dga_without_names_sights_the_family() {
        let mut dga = sighting(Some("192.0.2.8"), "dga", "x", 1);
        dga.dga = Some(crate::records::SightedDga {
            family: "Tinba".into(),
            ..Default::default()
        });
        dga.matched.clear();
        let (v, stats) = bundle(&[hunt("h", vec![dga])]);
        assert_eq!(stats.network_indicators, 0);
        let m = by_type(&v, "malware");
        assert_eq!(by_type(&v, "sighting")[0]["sighting_of_ref"], m[0]["id"]);
    }

    #[test]
    fn urls_become_rfc3986_uris() {
        let cases = [
            (
                "http://a.example/x?a='b'\\c",
                "http://a.example/x?a='b'%5Cc",
            ),
            ("http://a.example/%zz%41", "http://a.example/%25zz%41"),
            ("http://a.example/a#b#c", "http://a.example/a#b%23c"),
            (
                "http://[2001:db8::1]:8080/x[1]",
                "http://[2001:db8::1]:8080/x%5B1%5D",
            ),
            (
                "http://u:p{w}@h.example:80/",
                "http://u:p%7Bw%7D@h.example:80/",
            ),
            ("http://h.example:abc/", "http://h.example%3Aabc/"),
            (
                "http://h.example/?q=<s>|^`\"",
                "http://h.example/?q=%3Cs%3E%7C%5E%60%22",
            ),
            ("http://b\u{fc}cher.example/", "http://b%C3%BCcher.example/"),
        ];
        for (u, want) in cases {
            assert_eq!(uri(u).as_deref(), Some(want), "{u}");
        }
        assert_eq!(uri("1http://x"), None);
        assert_eq!(pattern_string("a'b\\c"), "'a\\'b\\\\c'");
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
