//! Sightings: one record per client and indicator, or per client and DGA.
//!
//! Every hit of the [`Matcher`] on an event is added to the sighting of
//! its key, (client, group): the group is the indicator for a list, STIX
//! or MISP indicator, and the DGA (family, variant, seed) for a generated
//! name, so that a bot asking hundreds of generated names is one sighting
//! of its family, not hundreds.
//!
//! Each worker thread keeps its own [`Sightings`]; the hunt merges them at
//! the end. Whatever thread saw what, the records are the same: samples
//! are the earliest positions (source, then line), matched values the
//! smallest in sort order, counts sums, times minima and maxima.
//!
//! Memory is bounded: at most [`Limits::sightings`] keys (new keys past it
//! are only counted, [`Sightings::dropped`]), at most
//! [`MAX_SIGHTING_VALUES`] values and [`MAX_SIGHTING_SAMPLES`] samples kept
//! per key, distinct values counted exactly up to [`Limits::distinct`]
//! per key and [`Limits::counted`] in all.

use std::collections::HashSet;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::OnceLock;

use ahash::AHashMap;
use takedown_blocklist::{ANY_DATE, Origin, day_to_date};
use takedown_intel::records::{
    MAX_SIGHTING_SAMPLES, MAX_SIGHTING_VALUES, SightedDga, SightedIndicator, SightingRecord,
    SightingSample,
};

use crate::event::{Event, EventKind};
use crate::matcher::{Hit, IndicatorKind, Matcher};

/// Where an event was read: which input, which line or packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Index into the hunt's list of inputs (the `sources` of
    /// [`Sightings::records`]).
    pub source: u32,
    /// Line number (text logs) or packet number (captures), from 1.
    pub line: u64,
}

/// Default most sightings (keys) kept. A sighting with one value and one
/// sample takes about 400 bytes (its slot in the table, its value and its
/// sample), so a full table is about 2 GB, per worker until merged.
pub const MAX_SIGHTINGS: usize = 5_000_000;

/// Default most distinct values counted per sighting: past it a sighting
/// reports this many (`matched_count` is then "at least").
pub const MAX_DISTINCT: usize = 10_000;

/// Default most distinct values counted over all sightings (8-byte
/// hashes, kept only for sightings with more than
/// [`MAX_SIGHTING_VALUES`] values): a bound on the memory of hostile logs
/// full of random subdomains of a listed domain.
pub const MAX_COUNTED: usize = 32_000_000;

/// The memory bounds of a [`Sightings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most sightings (keys); hits of new keys past it are counted in
    /// [`Sightings::dropped`].
    pub sightings: usize,
    /// Most distinct values counted per sighting (at least
    /// [`MAX_SIGHTING_VALUES`]; a smaller number is raised to it).
    pub distinct: usize,
    /// Most distinct values counted (as hashes) over all sightings; past
    /// it the hits of values not yet counted are counted in
    /// [`Sightings::uncounted`].
    pub counted: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            sightings: MAX_SIGHTINGS,
            distinct: MAX_DISTINCT,
            counted: MAX_COUNTED,
        }
    }
}

/// What a sighting groups: one indicator, or one DGA (the id of the first
/// origin with its family, variant and seed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Group {
    Indicator(u32),
    Dga(u32),
}

type Key = (Option<IpAddr>, Group);

/// A hasher for values that are already hashes (the distinct-value sets
/// hold 64-bit hashes of the values).
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashSet64 = HashSet<u64, BuildHasherDefault<PreHashed>>;

/// The hash a value is counted by: one random key per process (all
/// threads hash alike, so merged sets agree; logs cannot aim at
/// collisions), or, for sightings merged across machines (shared log
/// hunting), SipHash under the hunt's random key: aHash's output differs
/// between machines with and without AES instructions, SipHash's does not.
fn value_hash(key: Option<(u64, u64)>, v: &str) -> u64 {
    static STATE: OnceLock<ahash::RandomState> = OnceLock::new();
    match key {
        None => STATE.get_or_init(ahash::RandomState::new).hash_one(v),
        Some((k0, k1)) => {
            // SipHash-2-4, stable and specified (std's only keyed hash;
            // deprecated for HashMap use only).
            #[allow(deprecated)]
            let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
            h.write(v.as_bytes());
            h.finish()
        }
    }
}

/// One event kept as a sample.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sample {
    pos: Position,
    kind: EventKind,
    value: Box<str>,
}

/// The aggregate of one key.
#[derive(Clone, Debug)]
struct Entry {
    count: u64,
    /// Event times, microseconds; `i64::MAX`/`i64::MIN` while none.
    first_time: i64,
    last_time: i64,
    /// DGA window days of the matched names; `i64::MAX`/`i64::MIN`
    /// while none (names of date-independent DGAs add nothing).
    day_min: i64,
    day_max: i64,
    /// The position of the event last added: hits of one event that fall
    /// on the same key (two names of one DGA in one answer) are one event.
    last_pos: Position,
    /// Bit `1 << kind as u8` per event kind seen.
    kinds: u8,
    /// The smallest distinct values, sorted, at most
    /// [`MAX_SIGHTING_VALUES`].
    values: Vec<Box<str>>,
    /// `None` while `values` holds every distinct value seen; then the
    /// hashes of the distinct values, at most [`Limits::distinct`].
    distinct: Option<Box<HashSet64>>,
    /// The earliest events, sorted by position, at most
    /// [`MAX_SIGHTING_SAMPLES`].
    samples: Vec<Sample>,
}

/// The counters every entry update shares.
#[derive(Clone, Copy, Debug)]
struct Budget {
    /// Per-sighting bound of counted values.
    distinct: usize,
    /// Hashes held over all entries, and their bound.
    used: usize,
    max: usize,
    /// Values not counted because `max` was reached.
    uncounted: u64,
    /// The key of [`value_hash`] (None: the process's).
    key: Option<(u64, u64)>,
}

impl Budget {
    /// Adds `h` to `set` within the bounds; true when it is counted
    /// (new or already there).
    fn count(&mut self, set: &mut HashSet64, h: u64) -> bool {
        if set.contains(&h) {
            return true;
        }
        if set.len() >= self.distinct {
            // Saturated: the count is the bound whatever `h` is.
            return true;
        }
        if self.used >= self.max {
            self.uncounted += 1;
            return false;
        }
        set.insert(h);
        self.used += 1;
        true
    }
}

fn kind_bit(k: EventKind) -> u8 {
    1 << (k as u8)
}

impl Entry {
    fn new(pos: Position) -> Entry {
        Entry {
            count: 0,
            first_time: i64::MAX,
            last_time: i64::MIN,
            day_min: i64::MAX,
            day_max: i64::MIN,
            last_pos: pos,
            kinds: 0,
            values: Vec::new(),
            distinct: None,
            samples: Vec::new(),
        }
    }

    fn distinct_count(&self) -> usize {
        match &self.distinct {
            // At least the values listed: a set started when the budget
            // was spent holds fewer.
            Some(s) => s.len().max(self.values.len()),
            None => self.values.len(),
        }
    }

    /// Records one event (not called again for other hits of the same
    /// event on this key).
    fn add_event(&mut self, ev: &Event, pos: Position, value: &str) {
        self.count += 1;
        self.last_pos = pos;
        if let Some(t) = ev.time {
            self.first_time = self.first_time.min(t);
            self.last_time = self.last_time.max(t);
        }
        self.kinds |= kind_bit(ev.kind);
        let n = self.samples.len();
        if n < MAX_SIGHTING_SAMPLES || self.samples.last().is_some_and(|s| pos < s.pos) {
            let i = self.samples.partition_point(|s| s.pos < pos);
            if self.samples.get(i).is_none_or(|s| s.pos != pos) {
                self.samples.insert(
                    i,
                    Sample {
                        pos,
                        kind: ev.kind,
                        value: value.into(),
                    },
                );
                self.samples.truncate(MAX_SIGHTING_SAMPLES);
            }
        }
    }

    fn add_days(&mut self, first: i64, last: i64) {
        if first != ANY_DATE && last != ANY_DATE {
            self.day_min = self.day_min.min(first);
            self.day_max = self.day_max.max(last);
        }
    }

    /// Offers `v` (not in `values`; it would go at `i`) to the smallest
    /// values.
    fn offer(&mut self, i: usize, v: &str) {
        if self.values.len() < MAX_SIGHTING_VALUES {
            self.values.insert(i, v.into());
        } else if i < self.values.len() {
            self.values.pop();
            self.values.insert(i, v.into());
        }
    }

    fn find(&self, v: &str) -> Result<usize, usize> {
        self.values.binary_search_by(|x| (**x).cmp(v))
    }

    fn add_value(&mut self, v: &str, b: &mut Budget) {
        match &mut self.distinct {
            None => {
                let Err(i) = self.find(v) else { return };
                if self.values.len() < MAX_SIGHTING_VALUES {
                    self.values.insert(i, v.into());
                    return;
                }
                // One value more than the list keeps: from now on the
                // distinct values are counted by hash.
                let mut set = HashSet64::default();
                for x in &self.values {
                    b.count(&mut set, value_hash(b.key, x));
                }
                b.count(&mut set, value_hash(b.key, v));
                self.distinct = Some(Box::new(set));
                self.offer(i, v);
            }
            Some(set) => {
                let h = value_hash(b.key, v);
                if set.contains(&h) {
                    // Seen: in `values`, or larger than all of them.
                    return;
                }
                b.count(set, h);
                // New, or not known (saturated, over the budget): the
                // smallest values stay right either way.
                if let Err(i) = self.find(v) {
                    self.offer(i, v);
                }
            }
        }
    }

    /// Turns a complete `values` into a hash set.
    fn ensure_set(&mut self, b: &mut Budget) -> &mut HashSet64 {
        if self.distinct.is_none() {
            let mut set = HashSet64::default();
            for x in &self.values {
                b.count(&mut set, value_hash(b.key, x));
            }
            self.distinct = Some(Box::new(set));
        }
        self.distinct.get_or_insert_default()
    }

    fn merge(&mut self, mut o: Entry, b: &mut Budget) {
        self.count += o.count;
        self.first_time = self.first_time.min(o.first_time);
        self.last_time = self.last_time.max(o.last_time);
        self.day_min = self.day_min.min(o.day_min);
        self.day_max = self.day_max.max(o.day_max);
        self.last_pos = self.last_pos.max(o.last_pos);
        self.kinds |= o.kinds;

        let mut samples = merge_sorted(std::mem::take(&mut self.samples), o.samples, |a, b| {
            a.pos.cmp(&b.pos)
        });
        samples.truncate(MAX_SIGHTING_SAMPLES);
        self.samples = samples;

        let both_complete = self.distinct.is_none() && o.distinct.is_none();
        if !both_complete {
            // The union of the counted values: each side's are all in its
            // set, or (no set) all in its list.
            let mine = self.ensure_set(b);
            match o.distinct.take() {
                Some(theirs) => {
                    for h in theirs.iter() {
                        b.count(mine, *h);
                    }
                }
                None => {
                    for v in &o.values {
                        b.count(mine, value_hash(b.key, v));
                    }
                }
            }
        }
        let mut values = merge_sorted(std::mem::take(&mut self.values), o.values, |a, b| a.cmp(b));
        if both_complete && values.len() > MAX_SIGHTING_VALUES {
            let mut set = HashSet64::default();
            for x in &values {
                b.count(&mut set, value_hash(b.key, x));
            }
            self.distinct = Some(Box::new(set));
        }
        values.truncate(MAX_SIGHTING_VALUES);
        self.values = values;
    }
}

/// Merges two sorted lists, dropping the second of equal elements.
fn merge_sorted<T>(a: Vec<T>, b: Vec<T>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) -> Vec<T> {
    use std::cmp::Ordering;
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let ord = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => cmp(x, y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => break,
        };
        match ord {
            Ordering::Less => out.extend(a.next()),
            Ordering::Greater => out.extend(b.next()),
            Ordering::Equal => {
                out.extend(a.next());
                b.next();
            }
        }
    }
    out
}

/// The sightings of one worker, or of the whole hunt once merged.
#[derive(Clone, Debug)]
pub struct Sightings {
    map: AHashMap<Key, Entry>,
    max_sightings: usize,
    budget: Budget,
    dropped: u64,
    /// Each DGA origin's group: the first origin with the same family,
    /// variant and seed (built on the first DGA hit).
    dga_groups: Option<AHashMap<u32, u32>>,
}

impl Default for Sightings {
    fn default() -> Sightings {
        Sightings::new()
    }
}

impl Sightings {
    /// No sightings, with the default [`Limits`].
    pub fn new() -> Sightings {
        Sightings::with_limits(Limits::default())
    }

    /// No sightings, with `limits`.
    pub fn with_limits(limits: Limits) -> Sightings {
        Sightings {
            map: AHashMap::new(),
            max_sightings: limits.sightings,
            budget: Budget {
                distinct: limits.distinct.max(MAX_SIGHTING_VALUES),
                used: 0,
                max: limits.counted,
                uncounted: 0,
                key: None,
            },
            dropped: 0,
            dga_groups: None,
        }
    }

    /// No sightings, with `limits`, counting distinct values under `key`
    /// rather than the process's random key: sightings built on
    /// different machines from the same key merge exactly (shared log
    /// hunting, [`crate::share`]).
    pub fn with_limits_keyed(limits: Limits, key: (u64, u64)) -> Sightings {
        let mut s = Sightings::with_limits(limits);
        s.budget.key = Some(key);
        s
    }

    /// Number of sightings.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Hits not recorded because they would have started a sighting past
    /// [`Limits::sightings`] (hits, not sightings: the keys dropped are
    /// not remembered).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Hits whose value could not be counted in `matched_count` because
    /// [`Limits::counted`] values were counted already (the counts of
    /// some sightings are then too low).
    pub fn uncounted(&self) -> u64 {
        self.budget.uncounted
    }

    fn dga_group(&mut self, m: &Matcher, origin: u32) -> u32 {
        let groups = self.dga_groups.get_or_insert_with(|| {
            let mut first: AHashMap<(&str, &str, &str), u32> = AHashMap::new();
            let mut groups = AHashMap::new();
            for (i, o) in m.origins().iter().enumerate() {
                if let Origin::Dga {
                    family,
                    variant,
                    seed,
                } = o
                {
                    let Ok(i) = u32::try_from(i) else { break };
                    let g = *first.entry((family, variant, seed.as_str())).or_insert(i);
                    groups.insert(i, g);
                }
            }
            groups
        });
        groups.get(&origin).copied().unwrap_or(origin)
    }

    /// Adds one hit of `m` on `ev`, read at `pos`. Hits of one event are
    /// added one after the other; several of them on one sighting (two
    /// names of one DGA in one answer) count as one event.
    pub fn add(&mut self, m: &Matcher, ev: &Event, pos: Position, hit: &Hit) {
        let ind = m.indicator(hit.indicator);
        let dga = m.origin(ind.origin).is_dga();
        let group = if dga {
            Group::Dga(self.dga_group(m, ind.origin))
        } else {
            Group::Indicator(hit.indicator)
        };
        let len = self.map.len();
        let e = match self.map.entry((ev.client, group)) {
            MapEntry::Occupied(o) => o.into_mut(),
            MapEntry::Vacant(v) => {
                if len >= self.max_sightings {
                    self.dropped += 1;
                    return;
                }
                v.insert(Entry::new(pos))
            }
        };
        if e.count == 0 || e.last_pos != pos {
            e.add_event(ev, pos, &hit.value);
        }
        if dga {
            e.add_days(ind.first, ind.last);
        }
        e.add_value(&hit.value, &mut self.budget);
    }

    /// Adds the sightings of `other` (another worker's). The result does
    /// not depend on which events each side saw, nor on the order of
    /// merging, while under the bounds.
    pub fn merge(&mut self, other: Sightings) {
        self.dropped += other.dropped;
        self.budget.uncounted += other.budget.uncounted;
        if self.dga_groups.is_none() {
            self.dga_groups = other.dga_groups;
        }
        for (k, e) in other.map {
            let len = self.map.len();
            match self.map.entry(k) {
                MapEntry::Occupied(mut o) => o.get_mut().merge(e, &mut self.budget),
                MapEntry::Vacant(v) => {
                    if len >= self.max_sightings {
                        self.dropped += e.count;
                    } else {
                        self.budget.used += e.distinct.as_ref().map_or(0, |s| s.len());
                        v.insert(e);
                    }
                }
            }
        }
    }

    /// The records, sorted by client (none last), indicator type and
    /// value. `sources` names the inputs ([`Position::source`]).
    pub fn records(&self, m: &Matcher, sources: &[String]) -> Vec<SightingRecord> {
        let mut out: Vec<(SortKey, SightingRecord)> = self
            .map
            .iter()
            .map(|(&(client, group), e)| {
                let rec = record(m, sources, client, group, e);
                let key = SortKey {
                    no_client: client.is_none(),
                    client,
                    kind: rec.indicator.kind.clone(),
                    value: rec.indicator.value.clone(),
                    source: rec.indicator.source.clone(),
                    line: rec.indicator.line,
                    group,
                };
                (key, rec)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, r)| r).collect()
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    no_client: bool,
    client: Option<IpAddr>,
    kind: String,
    value: String,
    source: String,
    line: Option<u64>,
    group: Group,
}

fn record(
    m: &Matcher,
    sources: &[String],
    client: Option<IpAddr>,
    group: Group,
    e: &Entry,
) -> SightingRecord {
    let (indicator, dga) = match group {
        Group::Dga(o) => dga_indicator(m.origin(o), e),
        Group::Indicator(id) => (listed_indicator(m, id), None),
    };
    let mut kinds: Vec<String> = [
        EventKind::Dns,
        EventKind::Http,
        EventKind::Tls,
        EventKind::Flow,
    ]
    .into_iter()
    .filter(|k| e.kinds & kind_bit(*k) != 0)
    .map(|k| k.as_str().to_string())
    .collect();
    kinds.sort();
    let time = |t: i64, none: i64| if t == none { None } else { rfc3339(t) };
    SightingRecord {
        client: client.map(|c| c.to_string()),
        indicator,
        dga,
        matched: e.values.iter().map(|v| v.to_string()).collect(),
        matched_count: e.distinct_count() as u64,
        first_seen: time(e.first_time, i64::MAX),
        last_seen: time(e.last_time, i64::MIN),
        count: e.count,
        kinds,
        samples: e
            .samples
            .iter()
            .map(|s| SightingSample {
                file: source_name(sources, s.pos.source),
                line: s.pos.line,
                kind: s.kind.as_str().to_string(),
                value: s.value.to_string(),
            })
            .collect(),
    }
}

fn source_name(sources: &[String], i: u32) -> String {
    match sources.get(i as usize) {
        Some(s) => s.clone(),
        None => format!("#{i}"),
    }
}

fn dga_indicator(o: &Origin, e: &Entry) -> (SightedIndicator, Option<SightedDga>) {
    let (family, variant, seed) = match o {
        Origin::Dga {
            family,
            variant,
            seed,
        } => (*family, *variant, seed.as_str()),
        // A group is a DGA group only for a DGA origin.
        _ => ("", "", ""),
    };
    let mut value = family.to_string();
    if !variant.is_empty() {
        value.push('/');
        value.push_str(variant);
    }
    if !seed.is_empty() {
        value.push(':');
        value.push_str(seed);
    }
    let (first_date, last_date) = if e.day_min <= e.day_max {
        (
            day_to_date(e.day_min).map(|d| d.to_string()),
            day_to_date(e.day_max).map(|d| d.to_string()),
        )
    } else {
        (None, None)
    };
    (
        SightedIndicator {
            kind: "dga".into(),
            value,
            family: Some(family.to_string()),
            ..Default::default()
        },
        Some(SightedDga {
            family: family.to_string(),
            variant: variant.to_string(),
            seed: seed.to_string(),
            first_date,
            last_date,
        }),
    )
}

fn listed_indicator(m: &Matcher, id: u32) -> SightedIndicator {
    let ind = m.indicator(id);
    let kind = match ind.kind {
        IndicatorKind::Domain => "domain",
        IndicatorKind::Url => "url",
        IndicatorKind::Ip => {
            let addr = ind.value.split('/').next().unwrap_or_default();
            match addr.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => "ipv4",
                Ok(IpAddr::V6(_)) => "ipv6",
                Err(_) if addr.contains(':') => "ipv6",
                Err(_) => "ipv4",
            }
        }
    };
    let mut out = SightedIndicator {
        kind: kind.into(),
        value: ind.value.clone(),
        ..Default::default()
    };
    match m.origin(ind.origin) {
        Origin::List { source, comment } => {
            out.source = source.clone();
            out.line = u64::try_from(ind.first).ok().filter(|l| *l > 0);
            out.label = comment.clone();
        }
        Origin::Intel {
            source,
            label,
            family,
            object_id,
        } => {
            out.source = source.clone();
            out.label = Some(label.clone());
            out.family = family.clone();
            out.object_id = object_id.clone();
        }
        Origin::Dga { family, .. } => out.family = Some(family.to_string()),
    }
    out
}

/// RFC 3339 UTC time of `micros` since the epoch, with the fraction only
/// when there is one; `None` outside the years 0000-9999.
fn rfc3339(micros: i64) -> Option<String> {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if frac != 0 {
        let _ = write!(s, ".{frac:06}");
    }
    s.push('Z');
    Some(s)
}

/// Writes one NDJSON line per record:
/// `{"type":"sighting","version":1, ...}` (schema `sighting` of
/// `docs/finding.schema.json`).
pub fn write_ndjson(w: &mut dyn Write, records: &[SightingRecord]) -> io::Result<()> {
    for r in records {
        let s = serde_json::to_string(r).map_err(io::Error::other)?;
        // The record is an object with fields (`indicator`, `count`
        // always): its text after `{` continues the prefix.
        let rest = s.strip_prefix('{').unwrap_or(&s);
        w.write_all(b"{\"type\":\"sighting\",\"version\":1,")?;
        w.write_all(rest.as_bytes())?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// The columns of [`write_csv`].
pub const CSV_COLUMNS: [&str; 11] = [
    "client",
    "indicator_type",
    "indicator",
    "family",
    "dga_seed",
    "first_seen",
    "last_seen",
    "count",
    "matched",
    "samples",
    "source",
];

/// One CSV cell, RFC 4180 quoted when needed, and `'`-prefixed when it
/// begins like a spreadsheet formula (values come from logs: a name
/// `=HYPERLINK(...)` must stay text).
fn csv_cell(s: &str) -> String {
    let mut v = String::with_capacity(s.len() + 3);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        v.push('\'');
    }
    v.push_str(s);
    if v.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// Writes the records as CSV (RFC 4180, CRLF line ends, a header row of
/// [`CSV_COLUMNS`]): `matched` and `samples` (`file:line`) are joined
/// with a space; `source` is the indicator's file (`file:line` for a list
/// entry), empty for a DGA.
pub fn write_csv(w: &mut dyn Write, records: &[SightingRecord]) -> io::Result<()> {
    w.write_all(CSV_COLUMNS.join(",").as_bytes())?;
    w.write_all(b"\r\n")?;
    for r in records {
        let samples: Vec<String> = r
            .samples
            .iter()
            .map(|s| format!("{}:{}", s.file, s.line))
            .collect();
        let source = match r.indicator.line {
            Some(l) if !r.indicator.source.is_empty() => format!("{}:{l}", r.indicator.source),
            _ => r.indicator.source.clone(),
        };
        let cells = [
            r.client.clone().unwrap_or_default(),
            r.indicator.kind.clone(),
            r.indicator.value.clone(),
            r.indicator.family.clone().unwrap_or_default(),
            r.dga.as_ref().map(|d| d.seed.clone()).unwrap_or_default(),
            r.first_seen.clone().unwrap_or_default(),
            r.last_seen.clone().unwrap_or_default(),
            r.count.to_string(),
            r.matched.join(" "),
            samples.join(" "),
            source,
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        w.write_all(line.join(",").as_bytes())?;
        w.write_all(b"\r\n")?;
    }
    Ok(())
}

/// Escapes text from logs and sources for a terminal: control characters
/// (C0, DEL, C1) as `\xNN`, bidi controls and zero-width characters as
/// `\u{..}`, `\` as `\\`, so that a name cannot move the cursor, recolour
/// the screen or read backwards. (The engine's `sanitize::for_terminal`
/// does the same; this crate does not depend on the engine.)
pub fn for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{200B}'..='\u{200F}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Writes the records for a person: one block per client (records sorted
/// as [`Sightings::records`] gives them), one line per sighting with its
/// indicator, family or DGA, counts, first and last time and two samples.
/// Everything from logs and sources is escaped ([`for_terminal`]).
pub fn write_text(w: &mut dyn Write, records: &[SightingRecord]) -> io::Result<()> {
    let mut i = 0;
    while i < records.len() {
        let client = &records[i].client;
        let n = records[i..]
            .iter()
            .take_while(|r| &r.client == client)
            .count();
        let who = match client {
            Some(c) => format!("client {}", for_terminal(c)),
            None => "client not logged".to_string(),
        };
        let plural = if n == 1 { "" } else { "s" };
        writeln!(w, "{who}: {n} sighting{plural}")?;
        for r in &records[i..i + n] {
            writeln!(w, "  {}", text_line(r))?;
        }
        i += n;
    }
    Ok(())
}

fn text_line(r: &SightingRecord) -> String {
    let ind = &r.indicator;
    let mut s = format!("{} {}", for_terminal(&ind.kind), for_terminal(&ind.value));
    match &r.dga {
        Some(d) => {
            s.push_str(" (DGA");
            if let (Some(a), Some(b)) = (&d.first_date, &d.last_date) {
                if a == b {
                    let _ = write!(s, ", names of {}", for_terminal(a));
                } else {
                    let _ = write!(s, ", names of {}..{}", for_terminal(a), for_terminal(b));
                }
            }
            s.push(')');
        }
        None => {
            let mut from = for_terminal(&ind.source);
            if let Some(l) = ind.line {
                let _ = write!(from, ":{l}");
            }
            if let Some(l) = &ind.label {
                let _ = write!(from, " {}", for_terminal(l));
            }
            if let Some(f) = &ind.family
                && Some(f) != ind.label.as_ref()
            {
                let _ = write!(from, ", family {}", for_terminal(f));
            }
            if !from.is_empty() {
                let _ = write!(s, " ({from})");
            }
        }
    }
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let _ = write!(s, ": {} event{}", r.count, plural(r.count));
    if r.matched_count > 1 {
        let _ = write!(s, ", {} distinct values", r.matched_count);
    }
    match (&r.first_seen, &r.last_seen) {
        (Some(a), Some(b)) if a == b => {
            let _ = write!(s, ", {}", for_terminal(a));
        }
        (Some(a), Some(b)) => {
            let _ = write!(s, ", {}..{}", for_terminal(a), for_terminal(b));
        }
        _ => {}
    }
    let samples: Vec<String> = r
        .samples
        .iter()
        .take(2)
        .map(|x| {
            format!(
                "{}:{} {}",
                for_terminal(&x.file),
                x.line,
                for_terminal(&x.value)
            )
        })
        .collect();
    if !samples.is_empty() {
        let _ = write!(s, "; at {}", samples.join(", "));
    }
    s
}

/// One sighting as shared log hunting sends it ([`SightingsWire`]).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryWire {
    client: Option<IpAddr>,
    /// `true`: `group` is a DGA origin; else an indicator id.
    dga: bool,
    group: u32,
    count: u64,
    first_time: i64,
    last_time: i64,
    day_min: i64,
    day_max: i64,
    last_pos: (u32, u64),
    kinds: u8,
    values: Vec<String>,
    distinct: Option<Vec<u64>>,
    /// (source, line, event kind as in [`EventKind`] order, value).
    samples: Vec<(u32, u64, u8, String)>,
}

/// The serialized form of a [`Sightings`]: what a shared-hunting worker
/// sends back for its batch, read back with [`Sightings::from_wire`].
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SightingsWire {
    pub(crate) entries: Vec<EntryWire>,
    pub(crate) dropped: u64,
    pub(crate) uncounted: u64,
}

impl EntryWire {
    /// Events counted.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

impl SightingsWire {
    /// Number of sightings it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Cuts it into `n` parts (at least one) of about equal numbers of
    /// sightings; the counters go with the first. Merging the parts
    /// gives what merging the whole gives.
    pub fn split(self, n: usize) -> Vec<SightingsWire> {
        let n = n.max(1);
        let per = self.entries.len().div_ceil(n).max(1);
        let mut out: Vec<SightingsWire> = Vec::with_capacity(n);
        let mut it = self.entries.into_iter().peekable();
        for i in 0..n {
            let entries: Vec<EntryWire> = it.by_ref().take(per).collect();
            let first = i == 0;
            out.push(SightingsWire {
                entries,
                dropped: if first { self.dropped } else { 0 },
                uncounted: if first { self.uncounted } else { 0 },
            });
        }
        out
    }
}

const KINDS: [EventKind; 4] = [
    EventKind::Dns,
    EventKind::Http,
    EventKind::Tls,
    EventKind::Flow,
];

impl Sightings {
    /// The serialized form of these sightings.
    pub fn to_wire(&self) -> SightingsWire {
        let entries = self
            .map
            .iter()
            .map(|(&(client, group), e)| {
                let (dga, group) = match group {
                    Group::Dga(o) => (true, o),
                    Group::Indicator(i) => (false, i),
                };
                EntryWire {
                    client,
                    dga,
                    group,
                    count: e.count,
                    first_time: e.first_time,
                    last_time: e.last_time,
                    day_min: e.day_min,
                    day_max: e.day_max,
                    last_pos: (e.last_pos.source, e.last_pos.line),
                    kinds: e.kinds,
                    values: e.values.iter().map(|v| v.to_string()).collect(),
                    distinct: e.distinct.as_ref().map(|s| {
                        let mut v: Vec<u64> = s.iter().copied().collect();
                        v.sort_unstable();
                        v
                    }),
                    samples: e
                        .samples
                        .iter()
                        .map(|s| {
                            let k = KINDS.iter().position(|&k| k == s.kind).unwrap_or(0);
                            (s.pos.source, s.pos.line, k as u8, s.value.to_string())
                        })
                        .collect(),
                }
            })
            .collect();
        SightingsWire {
            entries,
            dropped: self.dropped,
            uncounted: self.budget.uncounted,
        }
    }

    /// Reads sightings sent by another machine, checking everything a
    /// hostile sender could get wrong against `m` (the same indicator
    /// set, which the caller has checked) and `sources` (how many inputs
    /// the hunt has): ids and origins that exist, a DGA group only on a
    /// DGA origin, sorted and bounded values and samples, known event
    /// kinds, no sighting twice. The sightings are then merged into `into`
    /// (whose key must be the sender's).
    pub fn merge_wire(
        &mut self,
        w: SightingsWire,
        m: &Matcher,
        sources: u32,
    ) -> Result<(), String> {
        let mut part = Sightings::with_limits(Limits {
            sightings: usize::MAX,
            distinct: self.budget.distinct,
            counted: usize::MAX,
        });
        part.budget.key = self.budget.key;
        part.dropped = w.dropped;
        part.budget.uncounted = w.uncounted;
        for (n, e) in w.entries.into_iter().enumerate() {
            let bad = |why: &str| format!("sighting {n}: {why}");
            let group = if e.dga {
                match m.origins().get(e.group as usize) {
                    Some(o) if o.is_dga() => {}
                    _ => return Err(bad("not a DGA origin of this indicator set")),
                }
                Group::Dga(e.group)
            } else {
                if m.indicators().get(e.group as usize).is_none() {
                    return Err(bad("not an indicator of this indicator set"));
                }
                Group::Indicator(e.group)
            };
            if e.count == 0 {
                return Err(bad("no event"));
            }
            if e.kinds == 0 || e.kinds >> KINDS.len() != 0 {
                return Err(bad("unknown event kinds"));
            }
            if e.values.is_empty()
                || e.values.len() > MAX_SIGHTING_VALUES
                || !e.values.windows(2).all(|p| p[0] < p[1])
            {
                return Err(bad("matched values not sorted, missing or too many"));
            }
            if e.samples.is_empty()
                || e.samples.len() > MAX_SIGHTING_SAMPLES
                || !e
                    .samples
                    .windows(2)
                    .all(|p| (p[0].0, p[0].1) < (p[1].0, p[1].1))
            {
                return Err(bad("samples not sorted, missing or too many"));
            }
            if e.last_pos.0 >= sources || e.samples.iter().any(|s| s.0 >= sources) {
                return Err(bad("a position in an input the hunt does not have"));
            }
            let mut samples = Vec::with_capacity(e.samples.len());
            for (source, line, kind, value) in e.samples {
                let Some(&kind) = KINDS.get(kind as usize) else {
                    return Err(bad("unknown event kind of a sample"));
                };
                samples.push(Sample {
                    pos: Position { source, line },
                    kind,
                    value: value.into(),
                });
            }
            let distinct = match e.distinct {
                None => None,
                Some(v) => {
                    if v.len() > self.budget.distinct {
                        return Err(bad("more distinct values than the bound"));
                    }
                    let set: HashSet64 = v.into_iter().collect();
                    Some(Box::new(set))
                }
            };
            let entry = Entry {
                count: e.count,
                first_time: e.first_time,
                last_time: e.last_time,
                day_min: e.day_min,
                day_max: e.day_max,
                last_pos: Position {
                    source: e.last_pos.0,
                    line: e.last_pos.1,
                },
                kinds: e.kinds,
                values: e.values.into_iter().map(String::into_boxed_str).collect(),
                distinct,
                samples,
            };
            if part.map.insert((e.client, group), entry).is_some() {
                return Err(bad("the same sighting twice"));
            }
        }
        self.merge(part);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Answer, AnswerData};
    use takedown_blocklist::{Entry as NameEntry, IpEntry, Parts, UrlEntry, name};

    /// Day 17135 is 2016-11-30.
    const DAY: i64 = 17135;
    /// 2016-11-30T12:00:00Z in microseconds.
    const T0: i64 = 1_480_507_200_000_000;

    fn name_entry(n: &str, origin: u32, first: i64, last: i64) -> NameEntry {
        NameEntry {
            key: name::sort_key(n).into_boxed_slice(),
            origin,
            first,
            last,
        }
    }

    /// A list entry, a STIX indicator, two windows of one DGA, a DGA
    /// whose names do not depend on the date, an address, a block, a URL.
    fn matcher() -> Matcher {
        let mut p = Parts {
            origins: vec![
                Origin::List {
                    source: "c2.txt".into(),
                    comment: Some("Campaign X".into()),
                },
                Origin::Intel {
                    source: "feed.json".into(),
                    label: "Evil C2".into(),
                    family: Some("Emotet".into()),
                    object_id: None,
                },
                Origin::Dga {
                    family: "necurs",
                    variant: "",
                    seed: "7".into(),
                },
                Origin::Dga {
                    family: "necurs",
                    variant: "",
                    seed: "7".into(),
                },
                Origin::Dga {
                    family: "other",
                    variant: "v2",
                    seed: String::new(),
                },
            ],
            ..Default::default()
        };
        p.names.push(name_entry("evil.example", 0, 12, 12));
        p.names.push(name_entry("stix.example", 1, 0, 0));
        for i in 0..40 {
            p.names
                .push(name_entry(&format!("n{i:02}.necurs.test"), 2, DAY, DAY + 1));
        }
        p.names
            .push(name_entry("late.necurs.test", 3, DAY + 5, DAY + 6));
        p.names
            .push(name_entry("any.other.test", 4, ANY_DATE, ANY_DATE));
        p.ips.push(IpEntry {
            addr: "198.51.100.7".parse().unwrap(),
            prefix: 32,
            origin: 0,
            line: 13,
        });
        p.ips.push(IpEntry {
            addr: "2001:db8::".parse().unwrap(),
            prefix: 32,
            origin: 1,
            line: 0,
        });
        p.urls.push(UrlEntry {
            url: "http://evil.example/gate.php".into(),
            origin: 0,
            line: 14,
        });
        Matcher::build(p)
    }

    fn dns(client: Option<&str>, name: &str, time: Option<i64>) -> Event {
        Event {
            kind: EventKind::Dns,
            time,
            client: client.map(|c| c.parse().unwrap()),
            name: name.into(),
            qtype: 1,
            ..Default::default()
        }
    }

    fn pos(source: u32, line: u64) -> Position {
        Position { source, line }
    }

    /// Adds every hit of `ev`, as the hunt does.
    fn feed(s: &mut Sightings, m: &Matcher, ev: &Event, p: Position) -> usize {
        let mut hits = Vec::new();
        m.match_event(ev, &mut hits);
        for h in &hits {
            s.add(m, ev, p, h);
        }
        hits.len()
    }

    fn sources() -> Vec<String> {
        vec!["a.log".into(), "b.log".into()]
    }

    #[test]
    fn one_sighting_per_client_and_indicator() {
        let m = matcher();
        let mut s = Sightings::new();
        let evs = [
            (
                dns(Some("10.0.0.2"), "www.evil.example", Some(T0 + 5)),
                pos(0, 3),
            ),
            (dns(Some("10.0.0.1"), "evil.example", Some(T0)), pos(0, 1)),
            (
                dns(Some("10.0.0.1"), "evil.example", Some(T0 + 1_500_000)),
                pos(0, 2),
            ),
            (dns(None, "evil.example", None), pos(1, 9)),
            (
                dns(Some("10.0.0.10"), "unlisted.example", Some(T0)),
                pos(0, 4),
            ),
        ];
        for (ev, p) in &evs {
            feed(&mut s, &m, ev, *p);
        }
        assert_eq!(s.len(), 3);
        let r = s.records(&m, &sources());
        let clients: Vec<_> = r.iter().map(|r| r.client.as_deref()).collect();
        assert_eq!(clients, [Some("10.0.0.1"), Some("10.0.0.2"), None]);

        let a = &r[0];
        assert_eq!(
            a.indicator,
            SightedIndicator {
                kind: "domain".into(),
                value: "evil.example".into(),
                source: "c2.txt".into(),
                line: Some(12),
                label: Some("Campaign X".into()),
                family: None,
                object_id: None,
            }
        );
        assert_eq!(a.count, 2);
        assert_eq!(a.matched, ["evil.example"]);
        assert_eq!(a.matched_count, 1);
        assert_eq!(a.first_seen.as_deref(), Some("2016-11-30T12:00:00Z"));
        assert_eq!(a.last_seen.as_deref(), Some("2016-11-30T12:00:01.500000Z"));
        assert_eq!(a.kinds, ["dns"]);
        assert_eq!(a.dga, None);
        let samples: Vec<_> = a
            .samples
            .iter()
            .map(|x| (x.file.as_str(), x.line))
            .collect();
        assert_eq!(samples, [("a.log", 1), ("a.log", 2)]);

        assert_eq!(r[1].matched, ["www.evil.example"]);
        assert_eq!(r[1].samples[0].value, "www.evil.example");
        assert_eq!(
            r[1].first_seen.as_deref(),
            Some("2016-11-30T12:00:00.000005Z")
        );

        // No client, no time.
        assert_eq!(r[2].count, 1);
        assert_eq!(r[2].first_seen, None);
        assert_eq!(r[2].samples[0].file, "b.log");
        assert_eq!(r[2].samples[0].line, 9);
    }

    #[test]
    fn intel_addresses_and_urls() {
        let m = matcher();
        let mut s = Sightings::new();
        let mut ev = dns(Some("10.0.0.1"), "stix.example", Some(T0));
        ev.answers.push(Answer {
            data: AnswerData::Addr("198.51.100.7".parse().unwrap()),
            rrtype: 1,
            ttl: Some(60),
        });
        feed(&mut s, &m, &ev, pos(0, 1));
        let http = Event {
            kind: EventKind::Http,
            time: Some(T0 + 7),
            client: Some("10.0.0.1".parse().unwrap()),
            server: Some("2001:db8::5".parse().unwrap()),
            name: "evil.example".into(),
            url: "http://evil.example/gate.php".into(),
            ..Default::default()
        };
        feed(&mut s, &m, &http, pos(0, 2));
        let r = s.records(&m, &sources());
        let got: Vec<_> = r
            .iter()
            .map(|r| (r.indicator.kind.as_str(), r.indicator.value.as_str()))
            .collect();
        // Sorted by type, then value.
        assert_eq!(
            got,
            [
                ("domain", "evil.example"),
                ("domain", "stix.example"),
                ("ipv4", "198.51.100.7"),
                ("ipv6", "2001:db8::/32"),
                ("url", "http://evil.example/gate.php"),
            ]
        );
        let stix = &r[1].indicator;
        assert_eq!(stix.source, "feed.json");
        assert_eq!(stix.label.as_deref(), Some("Evil C2"));
        assert_eq!(stix.family.as_deref(), Some("Emotet"));
        assert_eq!(stix.line, None);
        assert_eq!(r[2].indicator.line, Some(13));
        assert_eq!(r[2].matched, ["198.51.100.7"]);
        assert_eq!(r[3].matched, ["2001:db8::5"]);
        assert_eq!(r[3].kinds, ["http"]);
        assert_eq!(r[4].indicator.line, Some(14));
    }

    #[test]
    fn dga_names_of_one_family_are_one_sighting() {
        let m = matcher();
        let mut s = Sightings::new();
        let c = Some("10.0.0.1");
        for i in 0..25u64 {
            let ev = dns(
                c,
                &format!("n{:02}.necurs.test", 24 - i),
                Some(T0 + i as i64),
            );
            assert_eq!(feed(&mut s, &m, &ev, pos(0, i + 1)), 1);
        }
        // The second window of the same family and seed: same sighting.
        feed(
            &mut s,
            &m,
            &dns(c, "late.necurs.test", Some(T0 + 100)),
            pos(0, 30),
        );
        // One event naming two generated names (query and CNAME): one
        // event, two values.
        let mut ev = dns(c, "n30.necurs.test", Some(T0 + 200));
        ev.answers.push(Answer {
            data: AnswerData::Name("n31.necurs.test".into()),
            rrtype: 5,
            ttl: None,
        });
        assert_eq!(feed(&mut s, &m, &ev, pos(0, 31)), 2);
        // Another DGA, names not depending on the date.
        feed(&mut s, &m, &dns(c, "any.other.test", None), pos(0, 40));
        assert_eq!(s.len(), 2);

        let r = s.records(&m, &sources());
        assert_eq!(r.len(), 2);
        let d = &r[0];
        assert_eq!(d.indicator.kind, "dga");
        assert_eq!(d.indicator.value, "necurs:7");
        assert_eq!(d.indicator.family.as_deref(), Some("necurs"));
        assert_eq!(d.indicator.source, "");
        assert_eq!(
            d.dga,
            Some(SightedDga {
                family: "necurs".into(),
                variant: String::new(),
                seed: "7".into(),
                first_date: Some("2016-11-30".into()),
                last_date: Some("2016-12-06".into()),
            })
        );
        assert_eq!(d.count, 27);
        assert_eq!(d.matched_count, 28);
        let mut expect = vec!["late.necurs.test".to_string()];
        expect.extend((0..19).map(|i| format!("n{i:02}.necurs.test")));
        assert_eq!(d.matched, expect);
        let lines: Vec<_> = d.samples.iter().map(|x| x.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5]);
        assert_eq!(d.samples[0].value, "n24.necurs.test");

        let o = &r[1];
        assert_eq!(o.indicator.value, "other/v2");
        let dga = o.dga.as_ref().unwrap();
        assert_eq!((dga.variant.as_str(), dga.seed.as_str()), ("v2", ""));
        assert_eq!(
            (dga.first_date.as_ref(), dga.last_date.as_ref()),
            (None, None)
        );
    }

    /// Events over two inputs, six clients (one not logged), listed names,
    /// DGA names, repeated values, times out of order.
    fn corpus() -> Vec<(Event, Position)> {
        let mut out = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..600u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let client = match x % 6 {
                0 => None,
                k => Some(format!("10.0.0.{k}")),
            };
            let name = match (x >> 8) % 4 {
                0 => "evil.example".to_string(),
                1 => format!("h{}.evil.example", (x >> 16) % 30),
                _ => format!("n{:02}.necurs.test", (x >> 16) % 40),
            };
            let time = (!(x >> 24).is_multiple_of(5)).then(|| T0 + ((x >> 32) % 1_000_000) as i64);
            let ev = dns(client.as_deref(), &name, time);
            out.push((ev, pos((i % 2) as u32, i / 2 + 1)));
        }
        out
    }

    fn limits() -> Limits {
        Limits {
            sightings: 1000,
            distinct: 25,
            counted: 1_000_000,
        }
    }

    #[test]
    fn merged_halves_equal_one_pass_in_any_order() {
        let m = matcher();
        let evs = corpus();
        let mut one = Sightings::with_limits(limits());
        for (ev, p) in &evs {
            feed(&mut one, &m, ev, *p);
        }
        let want = one.records(&m, &sources());
        // The corpus reaches the bounds it is meant to test.
        assert!(want.iter().any(|r| r.matched_count == 25), "{want:?}");
        assert!(want.iter().any(|r| r.samples.len() == MAX_SIGHTING_SAMPLES));
        assert!(want.iter().any(|r| r.matched.len() == MAX_SIGHTING_VALUES));

        let splits: [&dyn Fn(usize) -> usize; 4] = [
            &|i| i % 2,
            &|i| usize::from(i >= 300),
            &|i| usize::from(i % 7 < 3),
            &|i| i % 3,
        ];
        for split in splits {
            let mut parts: Vec<Sightings> =
                (0..3).map(|_| Sightings::with_limits(limits())).collect();
            // Each part sees its events in reverse order: a thread may see
            // later lines first.
            for (i, (ev, p)) in evs.iter().enumerate().rev() {
                feed(&mut parts[split(i)], &m, ev, *p);
            }
            let [a, b, c]: [Sightings; 3] = parts.try_into().unwrap();
            let (a2, b2, c2) = (a.clone(), b.clone(), c.clone());
            let mut x = a;
            x.merge(b);
            x.merge(c);
            assert_eq!(x.records(&m, &sources()), want);
            let mut y = c2;
            y.merge(b2);
            y.merge(a2);
            assert_eq!(y.records(&m, &sources()), want);
            assert_eq!(y.len(), one.len());
        }
    }

    #[test]
    fn values_and_samples_are_the_smallest_and_earliest() {
        let m = matcher();
        let mut s = Sightings::with_limits(limits());
        // Fed from the last line to the first.
        for i in (0..40u64).rev() {
            let ev = dns(Some("10.0.0.1"), &format!("n{:02}.necurs.test", i), None);
            feed(&mut s, &m, &ev, pos(1, i + 1));
            feed(&mut s, &m, &ev, pos(0, i + 100));
        }
        let r = s.records(&m, &sources());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].count, 80);
        assert_eq!(r[0].matched.len(), MAX_SIGHTING_VALUES);
        assert_eq!(r[0].matched[0], "n00.necurs.test");
        assert_eq!(r[0].matched[19], "n19.necurs.test");
        // 40 distinct values, counted up to the bound of 25.
        assert_eq!(r[0].matched_count, 25);
        let at: Vec<_> = r[0]
            .samples
            .iter()
            .map(|x| (x.file.as_str(), x.line))
            .collect();
        assert_eq!(
            at,
            [
                ("a.log", 100),
                ("a.log", 101),
                ("a.log", 102),
                ("a.log", 103),
                ("a.log", 104)
            ]
        );
        // Unbounded: the exact count.
        let mut s = Sightings::new();
        for i in 0..40u64 {
            let ev = dns(None, &format!("n{:02}.necurs.test", i), None);
            feed(&mut s, &m, &ev, pos(0, i + 1));
            feed(&mut s, &m, &ev, pos(0, i + 101));
        }
        assert_eq!(s.records(&m, &[])[0].matched_count, 40);
        assert_eq!(s.records(&m, &[])[0].samples[0].file, "#0");
    }

    #[test]
    fn sightings_past_the_bound_are_dropped_existing_ones_updated() {
        let m = matcher();
        let mut s = Sightings::with_limits(Limits {
            sightings: 2,
            ..limits()
        });
        for c in ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.3"] {
            feed(&mut s, &m, &dns(Some(c), "evil.example", None), pos(0, 1));
        }
        feed(
            &mut s,
            &m,
            &dns(Some("10.0.0.1"), "evil.example", None),
            pos(0, 2),
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s.dropped(), 2);
        let r = s.records(&m, &[]);
        assert_eq!(r[0].count, 2);

        // Merging past the bound drops the other side's new sightings,
        // counting their hits.
        let mut o = Sightings::new();
        for l in 1..=3 {
            feed(
                &mut o,
                &m,
                &dns(Some("10.0.0.4"), "evil.example", None),
                pos(1, l),
            );
        }
        feed(
            &mut o,
            &m,
            &dns(Some("10.0.0.1"), "evil.example", None),
            pos(1, 9),
        );
        s.merge(o);
        assert_eq!(s.len(), 2);
        assert_eq!(s.dropped(), 5);
        assert_eq!(s.records(&m, &[])[0].count, 3);
    }

    #[test]
    fn counted_values_past_the_budget_are_reported() {
        let m = matcher();
        let mut s = Sightings::with_limits(Limits {
            sightings: 10,
            distinct: 1000,
            counted: 30,
        });
        for c in ["10.0.0.1", "10.0.0.2"] {
            for i in 0..40u64 {
                let ev = dns(Some(c), &format!("n{i:02}.necurs.test"), None);
                feed(&mut s, &m, &ev, pos(0, i + 1));
            }
        }
        let r = s.records(&m, &[]);
        // The first client's 21st value starts its hash set (21), the
        // next 9 fill the budget; the second client gets none.
        assert_eq!(r[0].matched_count, 30);
        // (the values it lists are counted).
        assert_eq!(r[1].matched_count, 20);
        assert_eq!(s.uncounted(), 10 + 21 + 19);
        // The values listed do not depend on the budget.
        assert_eq!(r[1].matched, r[0].matched);
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(rfc3339(-1).as_deref(), Some("1969-12-31T23:59:59.999999Z"));
        assert_eq!(
            rfc3339(T0 + 42).as_deref(),
            Some("2016-11-30T12:00:00.000042Z")
        );
        assert_eq!(rfc3339(i64::MAX), None);
        assert_eq!(rfc3339(-62_167_219_200_000_001), None); // before year 0
    }

    fn sample_records() -> Vec<SightingRecord> {
        let m = matcher();
        let mut s = Sightings::new();
        feed(
            &mut s,
            &m,
            &dns(Some("10.0.0.1"), "evil.example", Some(T0)),
            pos(0, 1),
        );
        feed(
            &mut s,
            &m,
            &dns(Some("10.0.0.1"), "n01.necurs.test", Some(T0 + 1)),
            pos(1, 2),
        );
        feed(
            &mut s,
            &m,
            &dns(Some("10.0.0.1"), "n02.necurs.test", Some(T0 + 2)),
            pos(1, 3),
        );
        feed(&mut s, &m, &dns(None, "stix.example", None), pos(1, 4));
        s.records(&m, &sources())
    }

    #[test]
    fn ndjson_round_trips() {
        let recs = sample_records();
        assert_eq!(recs.len(), 3);
        let mut out = Vec::new();
        write_ndjson(&mut out, &recs).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        for (line, rec) in lines.iter().zip(&recs) {
            assert!(line.starts_with("{\"type\":\"sighting\",\"version\":1,\"client\":"));
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["type"], "sighting");
            assert_eq!(v["version"], 1);
            let back: SightingRecord = serde_json::from_str(line).unwrap();
            assert_eq!(&back, rec);
        }
        assert!(lines[2].contains("\"client\":null"));
        // The exports' reader takes them.
        let (run, errors) = takedown_intel::records::read_run(text.as_bytes(), "h.ndjson");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(run.sightings, recs);
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut recs = sample_records();
        recs[1].matched = vec!["=HYPERLINK(\"x\",1),a.evil.example".into(), "b".into()];
        recs[1].indicator.source = "-lists/c2.txt".into();
        let mut out = Vec::new();
        write_csv(&mut out, &recs).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "client,indicator_type,indicator,family,dga_seed,first_seen,last_seen,count,matched,samples,source"
        );
        assert_eq!(
            lines[1],
            "10.0.0.1,dga,necurs:7,necurs,7,2016-11-30T12:00:00.000001Z,\
             2016-11-30T12:00:00.000002Z,2,n01.necurs.test n02.necurs.test,b.log:2 b.log:3,"
        );
        assert_eq!(
            lines[2],
            "10.0.0.1,domain,evil.example,,,2016-11-30T12:00:00Z,2016-11-30T12:00:00Z,1,\
             \"'=HYPERLINK(\"\"x\"\",1),a.evil.example b\",a.log:1,'-lists/c2.txt:12"
        );
        assert_eq!(
            lines[3],
            ",domain,stix.example,Emotet,,,,1,stix.example,b.log:4,feed.json"
        );
        assert_eq!(lines[4], "");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn text_escapes_what_logs_hold() {
        let mut recs = sample_records();
        recs[1].samples[0].value = "evil.example\x1b]0;pwned\x07\u{202e}".into();
        let mut out = Vec::new();
        write_text(&mut out, &recs).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b') && !text.contains('\u{202e}'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "client 10.0.0.1: 2 sightings");
        assert_eq!(
            lines[1],
            "  dga necurs:7 (DGA, names of 2016-11-30..2016-12-01): 2 events, 2 distinct values, \
             2016-11-30T12:00:00.000001Z..2016-11-30T12:00:00.000002Z; \
             at b.log:2 n01.necurs.test, b.log:3 n02.necurs.test"
        );
        assert_eq!(
            lines[2],
            "  domain evil.example (c2.txt:12 Campaign X): 1 event, 2016-11-30T12:00:00Z; \
             at a.log:1 evil.example\\x1b]0;pwned\\x07\\u{202e}"
        );
        assert_eq!(lines[3], "client not logged: 1 sighting");
        assert_eq!(
            lines[4],
            "  domain stix.example (feed.json Evil C2, family Emotet): 1 event; at b.log:4 stix.example"
        );
        assert_eq!(for_terminal("a\\b\u{85}\u{200b}"), "a\\\\b\\x85\\u{200b}");
    }

    /// Checks NDJSON sightings against docs/finding.schema.json with
    /// Python's `jsonschema`, when the workspace's `.venv` (or `python3`)
    /// has it; an extra check, skipped otherwise even under CI.
    #[test]
    fn ndjson_matches_the_schema() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let venv = root.join(".venv/bin/python");
        let python = [venv.as_os_str(), std::ffi::OsStr::new("python3")]
            .into_iter()
            .find(|p| {
                std::process::Command::new(p)
                    .args(["-c", "import jsonschema"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
        let Some(python) = python else {
            eprintln!("skipped: no Python with jsonschema (.venv/bin/python or python3)");
            return;
        };
        let mut recs = sample_records();
        recs[2].first_seen = Some("2016-11-30T12:00:00Z".into());
        let mut out = Vec::new();
        write_ndjson(&mut out, &recs).unwrap();
        // Not sightings: no count; an unknown indicator type.
        out.extend_from_slice(
            b"{\"type\":\"sighting\",\"version\":1,\"client\":null,\"indicator\":{\"type\":\"domain\",\"value\":\"a\"},\"matched\":[],\"matched_count\":0,\"kinds\":[],\"samples\":[]}\n",
        );
        out.extend_from_slice(
            b"{\"type\":\"sighting\",\"version\":1,\"client\":null,\"indicator\":{\"type\":\"dga\",\"value\":\"a\"},\"count\":1,\"matched\":[],\"matched_count\":0,\"kinds\":[],\"samples\":[]}\n",
        );
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("s.ndjson");
        std::fs::write(&data, &out).unwrap();
        let script = "import json, sys, jsonschema\n\
            schema = json.load(open(sys.argv[1]))\n\
            jsonschema.Draft202012Validator.check_schema(schema)\n\
            v = jsonschema.Draft202012Validator(schema)\n\
            for line in open(sys.argv[2]):\n\
            \x20   errs = list(v.iter_errors(json.loads(line)))\n\
            \x20   print('ok' if not errs else 'bad')\n";
        let o = std::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(root.join("docs/finding.schema.json"))
            .arg(&data)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let verdicts = String::from_utf8(o.stdout).unwrap();
        assert_eq!(verdicts, "ok\nok\nok\nbad\nbad\n");
    }
}
