//! Fast-flux features of the names seen in DNS answers.
//!
//! A fast-flux service network answers for its names with the addresses
//! of many compromised machines, in many networks, with short TTLs,
//! rotating them; a double-flux network does the same with the addresses
//! of the name servers (ICANN SSAC, "SAC 025: Fast and Double Flux
//! Attacks", 2008; the Honeynet Project, "Know Your Enemy: Fast-Flux
//! Service Networks", 2007). Per queried name (answers are per name: a
//! flux network fluxes the names it serves, not its registered domain),
//! [`Flux`] collects from the DNS events that carry answers:
//!
//! * the distinct A and AAAA addresses, and the TTL seen with each;
//! * the networks they are in: origin AS numbers when an [`AsnDb`] is
//!   given, else IPv4 /16 and IPv6 /48 prefixes (`network_kind` says
//!   which; prefixes over-count the networks of a large provider and
//!   under-count neighbouring small ones, an AS table is better);
//! * the name servers of the name (NS answers of the name or of one of
//!   its parents up to its registered domain), and the networks of their
//!   addresses where the logs resolved them, for double flux;
//! * the smallest, median and largest TTL, first and last time.
//!
//! # The score
//!
//! Holz, Gorecki, Rieck and Freiling, "Measuring and Detecting Fast-Flux
//! Service Networks" (NDSS 2008), separate flux from benign domains with
//! a linear decision function of the number of distinct A records
//! `n_A`, distinct ASNs `n_ASN` and NS records `n_NS` in the answers of
//! a few active lookups of the domain: a domain is fast-flux when
//! `1.32 · n_A + 18.54 · n_ASN > 142.38`. Those three constants are the
//! ones the public implementations of the paper use, citing it (Seth
//! Hall's Bro fast-flux script, and the `an-dns-fast_flux.zeek` script of
//! the `jbaggs/anomalous-dns` Zeek package: `flux_host_count_weight =
//! 1.32`, `flux_ASN_count_weight = 18.54`, `flux_threshold = 142.38`);
//! the paper's own text could not be consulted here, so its weight for
//! `n_NS` is not verified: like those implementations, this score gives
//! the name servers no weight ([`HOLZ_W_NS`] = 0). The score reported is
//! the decision value `1.32 · n_A + 18.54 · n_net − 142.38`, positive
//! for flux.
//!
//! Differences from the paper, and the heuristics that compensate,
//! labelled as such:
//!
//! * The paper counts the answers of a few lookups; a log accumulates
//!   every answer seen over its whole span, so a round-robin or CDN name
//!   collects more addresses here than in the paper's measurement, and
//!   scores higher.
//! * Heuristic: a name with fewer than [`FluxOptions::min_addresses`]
//!   distinct addresses (default 5) is not reported whatever its score.
//! * Heuristic: `fast_flux` also needs the largest TTL seen for the name
//!   to be at most [`FluxOptions::max_ttl`] (default 1,800 s, the TTL
//!   above which the `an-dns-fast_flux.zeek` script ignores an answer,
//!   `TTL_threshold = 30min`). Passerini et al., "FluXOR" (DIMVA 2008),
//!   and Nazario and Holz, "As the Net Churns: Fast-Flux Botnet
//!   Observations" (MALWARE 2008), both use the TTL as a feature; their exact thresholds could not be verified here,
//!   so none is claimed. The largest TTL is used, not the smallest: a
//!   resolver's log shows the TTL left in its cache, which counts down to
//!   0 for every name; the largest is the closest to what the
//!   authoritative server gave.
//! * Heuristic (an extension, not in the paper): `double_flux` when the
//!   name is fast-flux and the same score, applied to the addresses of
//!   its name servers, is positive too.
//!
//! These are features for a hunter, not detections: CDNs and large
//! round-robin services can score like flux networks, and a flux network
//! seen by few clients over a short log can score like a small web site.
//!
//! # Bounds and merging
//!
//! At most [`FluxOptions::max_domains`] names are tracked (further ones
//! are counted as dropped), at most [`FluxOptions::max_addresses`]
//! addresses per name (past that the count stops and the record says
//! so), at most [`FluxOptions::max_name_servers`] name servers per name.
//! Where a bound cuts a set, the numerically smallest members are kept,
//! so that what is kept does not depend on the order of the events or
//! of [`Flux::merge`]: the records are the same however the input was
//! split over threads (only which names are dropped once `max_domains` is
//! reached depends on the order). Networks are computed from the kept
//! addresses when the records are made, so the AS table is consulted
//! once per address, not once per event.

use std::net::{IpAddr, Ipv6Addr};

use ahash::RandomState;
use hashbrown::hash_map::EntryRef;
use serde::{Deserialize, Serialize};

use crate::asn::AsnDb;
use crate::event::{AnswerData, Event, EventKind};
use crate::suspect::{normalise, registered_domain};

/// Holz et al.'s weight of the number of distinct A (here also AAAA)
/// records.
pub const HOLZ_W_A: f64 = 1.32;
/// Holz et al.'s weight of the number of distinct ASNs (here: networks).
pub const HOLZ_W_ASN: f64 = 18.54;
/// The weight of the number of name servers: 0, as in the public
/// implementations of the paper (the paper's own value not verified).
pub const HOLZ_W_NS: f64 = 0.0;
/// Holz et al.'s threshold (bias).
pub const HOLZ_B: f64 = 142.38;

/// The flux-score of Holz et al.: positive for fast flux.
pub fn holz_score(addresses: usize, networks: usize, name_servers: usize) -> f64 {
    HOLZ_W_A * addresses as f64 + HOLZ_W_ASN * networks as f64 + HOLZ_W_NS * name_servers as f64
        - HOLZ_B
}

/// Options and bounds of a [`Flux`].
#[derive(Clone, Copy, Debug)]
pub struct FluxOptions {
    /// Heuristic noise floor: names with fewer distinct addresses are not
    /// reported (default 5).
    pub min_addresses: usize,
    /// Heuristic: `fast_flux` needs the largest TTL seen to be at most
    /// this many seconds (default 1,800).
    pub max_ttl: u32,
    /// Most names tracked (default 1,000,000).
    pub max_domains: usize,
    /// Most addresses kept per name (default 1,024).
    pub max_addresses: usize,
    /// Most name servers kept per name (default 32).
    pub max_name_servers: usize,
}

impl Default for FluxOptions {
    fn default() -> FluxOptions {
        FluxOptions {
            min_addresses: 5,
            max_ttl: 1800,
            max_domains: 1_000_000,
            max_addresses: 1024,
            max_name_servers: 32,
        }
    }
}

/// Addresses listed in a record.
const SAMPLE_ADDRESSES: usize = 10;

/// The TTL of an address whose answers never carried one.
const NO_TTL: u32 = u32::MAX;

/// One address of a name and the largest TTL seen with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Addr {
    key: [u8; 16],
    ttl: u32,
}

/// What is known of one queried name.
#[derive(Clone, Debug, Default)]
struct Domain {
    /// Sorted by key, the smallest `max_addresses`.
    addrs: Vec<Addr>,
    addrs_more: bool,
    ttl_min: Option<u32>,
    ttl_max: Option<u32>,
    events: u64,
    first: Option<i64>,
    last: Option<i64>,
}

/// The name servers given for one name.
#[derive(Clone, Debug, Default)]
struct NameServers {
    /// Sorted, the smallest `max_name_servers`.
    names: Vec<Box<str>>,
    more: bool,
}

/// A map keyed by names, looked up by `&str` and given an owned key only
/// when one is inserted (hashbrown's `entry_ref`): one hash lookup and no
/// allocation per event for a name already known.
type NameMap<V> = hashbrown::HashMap<String, V, RandomState>;

/// Fast-flux features per name, per thread; [`Flux::merge`] the threads'
/// at the end.
#[derive(Debug)]
pub struct Flux {
    opts: FluxOptions,
    domains: NameMap<Domain>,
    zones: NameMap<NameServers>,
    dropped: u64,
    name: String,
    ns: String,
}

impl Default for Flux {
    fn default() -> Flux {
        Flux::new(FluxOptions::default())
    }
}

impl Flux {
    /// Empty, with these options.
    pub fn new(opts: FluxOptions) -> Flux {
        Flux {
            opts,
            domains: NameMap::with_hasher(RandomState::new()),
            zones: NameMap::with_hasher(RandomState::new()),
            dropped: 0,
            name: String::new(),
            ns: String::new(),
        }
    }

    /// Takes one event into account: a DNS event with answers (others
    /// are ignored at the cost of two comparisons). A and AAAA answers
    /// (or address answers of unknown type) count as the name's
    /// addresses, NS answers as its name servers; the rest is ignored.
    pub fn observe(&mut self, ev: &Event) {
        if ev.kind != EventKind::Dns || ev.answers.is_empty() {
            return;
        }
        if !normalise(&ev.name, &mut self.name) {
            return;
        }
        let is_addr = |a: &crate::event::Answer| {
            matches!(a.data, AnswerData::Addr(_)) && matches!(a.rrtype, 0 | 1 | 28)
        };
        let is_ns =
            |a: &crate::event::Answer| matches!(a.data, AnswerData::Name(_)) && a.rrtype == 2;
        if ev.answers.iter().any(is_addr) {
            let room = self.domains.len() < self.opts.max_domains;
            let d = match self.domains.entry_ref(self.name.as_str()) {
                EntryRef::Occupied(o) => Some(o.into_mut()),
                EntryRef::Vacant(v) if room => Some(v.insert(Domain::default())),
                EntryRef::Vacant(_) => {
                    self.dropped += 1;
                    None
                }
            };
            if let Some(d) = d {
                d.events += 1;
                if let Some(t) = ev.time {
                    d.first = Some(d.first.map_or(t, |f| f.min(t)));
                    d.last = Some(d.last.map_or(t, |l| l.max(t)));
                }
                for a in ev.answers.iter().filter(|a| is_addr(a)) {
                    let AnswerData::Addr(ip) = a.data else {
                        continue;
                    };
                    let ttl = a.ttl.map(rfc2181_ttl);
                    if let Some(t) = ttl {
                        d.ttl_min = Some(d.ttl_min.map_or(t, |m| m.min(t)));
                        d.ttl_max = Some(d.ttl_max.map_or(t, |m| m.max(t)));
                    }
                    let new = Addr {
                        key: addr_key(ip),
                        ttl: ttl.unwrap_or(NO_TTL),
                    };
                    if insert_addr(&mut d.addrs, new, self.opts.max_addresses) {
                        d.addrs_more = true;
                    }
                }
            }
        }
        if ev.answers.iter().any(is_ns) {
            let room = self.zones.len() < self.opts.max_domains;
            let z = match self.zones.entry_ref(self.name.as_str()) {
                EntryRef::Occupied(o) => Some(o.into_mut()),
                EntryRef::Vacant(v) if room => Some(v.insert(NameServers::default())),
                EntryRef::Vacant(_) => {
                    self.dropped += 1;
                    None
                }
            };
            if let Some(z) = z {
                for a in ev.answers.iter().filter(|a| is_ns(a)) {
                    let AnswerData::Name(n) = &a.data else {
                        continue;
                    };
                    if !normalise(n, &mut self.ns) {
                        continue;
                    }
                    match z.names.binary_search_by(|x| (**x).cmp(self.ns.as_str())) {
                        Ok(_) => {}
                        Err(pos) if z.names.len() < self.opts.max_name_servers => {
                            z.names.insert(pos, self.ns.as_str().into());
                        }
                        Err(pos) => {
                            z.more = true;
                            if pos < z.names.len() {
                                z.names.insert(pos, self.ns.as_str().into());
                                z.names.pop();
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds another thread's observations (see the module documentation
    /// on order independence).
    pub fn merge(&mut self, other: Flux) {
        self.dropped += other.dropped;
        for (name, o) in other.domains {
            if let Some(d) = self.domains.get_mut(&name) {
                d.events += o.events;
                d.first = min_opt(d.first, o.first);
                d.last = max_opt(d.last, o.last);
                d.ttl_min = min_opt(d.ttl_min, o.ttl_min);
                d.ttl_max = max_opt(d.ttl_max, o.ttl_max);
                d.addrs_more |= o.addrs_more;
                if merge_addrs(&mut d.addrs, &o.addrs, self.opts.max_addresses) {
                    d.addrs_more = true;
                }
            } else if self.domains.len() < self.opts.max_domains {
                self.domains.insert(name, o);
            } else {
                self.dropped += 1;
            }
        }
        for (name, o) in other.zones {
            if let Some(z) = self.zones.get_mut(&name) {
                z.more |= o.more;
                if merge_bottom_k(&mut z.names, &o.names, self.opts.max_name_servers) {
                    z.more = true;
                }
            } else if self.zones.len() < self.opts.max_domains {
                self.zones.insert(name, o);
            } else {
                self.dropped += 1;
            }
        }
    }

    /// Names tracked (with addresses).
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    /// True when no name with addresses was seen.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Names (with addresses or name servers) not tracked for lack of
    /// room, counted at every event that brought one.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The names whose flux-score passes (at least `min_addresses`
    /// addresses and a positive Holz score), highest score first, then by
    /// name. `asn` gives the networks as AS numbers; without it they are
    /// IPv4 /16 and IPv6 /48 prefixes.
    pub fn records(&self, asn: Option<&AsnDb>) -> Vec<FluxRecord> {
        let mut out = Vec::new();
        let mut keys: Vec<u128> = Vec::new();
        for (name, d) in &self.domains {
            if d.addrs.len() < self.opts.min_addresses.max(1) {
                continue;
            }
            let (networks, unrouted) =
                count_networks(d.addrs.iter().map(|a| a.key), asn, &mut keys);
            let score = holz_score(d.addrs.len(), networks, 0);
            if score <= 0.0 {
                continue;
            }
            // Name servers: of the name itself, else of its nearest parent
            // that has some, up to its registered domain.
            let ns = self.name_servers(name);
            let mut ns_addrs: Vec<[u8; 16]> = Vec::new();
            if let Some(z) = ns {
                for n in &z.names {
                    if let Some(nd) = self.domains.get(&**n) {
                        ns_addrs.extend(nd.addrs.iter().map(|a| a.key));
                    }
                }
                ns_addrs.sort_unstable();
                ns_addrs.dedup();
            }
            let (ns_networks, _) = count_networks(ns_addrs.iter().copied(), asn, &mut keys);
            // The score passed: the TTL heuristic decides.
            let fast_flux = d.ttl_max.is_none_or(|t| t <= self.opts.max_ttl);
            let double_flux = fast_flux && holz_score(ns_addrs.len(), ns_networks, 0) > 0.0;
            let mut ttls: Vec<u32> = d
                .addrs
                .iter()
                .map(|a| a.ttl)
                .filter(|&t| t != NO_TTL)
                .collect();
            ttls.sort_unstable();
            out.push(FluxRecord {
                version: 1,
                domain: name.to_string(),
                addresses: d.addrs.len() as u64,
                addresses_capped: d.addrs_more,
                networks: networks as u64,
                network_kind: if asn.is_some() { "asn" } else { "prefix" }.to_string(),
                unrouted: unrouted as u64,
                ttl_min: d.ttl_min,
                ttl_median: ttls.get(ttls.len().saturating_sub(1) / 2).copied(),
                ttl_max: d.ttl_max,
                name_servers: ns.map_or(0, |z| z.names.len() as u64),
                name_servers_capped: ns.is_some_and(|z| z.more),
                ns_addresses: ns_addrs.len() as u64,
                ns_networks: ns_networks as u64,
                score: (score * 100.0).round() / 100.0,
                fast_flux,
                double_flux,
                events: d.events,
                first_seen: d.first.and_then(rfc3339),
                last_seen: d.last.and_then(rfc3339),
                sample_addresses: d
                    .addrs
                    .iter()
                    .take(SAMPLE_ADDRESSES)
                    .map(|a| key_addr(a.key).to_string())
                    .collect(),
            });
        }
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.domain.cmp(&b.domain))
        });
        out
    }

    /// The name servers of `name` or of its nearest parent that has
    /// some, not above its registered domain (nor above the name itself
    /// when it has none: internal names).
    fn name_servers(&self, name: &str) -> Option<&NameServers> {
        let stop = registered_domain(name).unwrap_or(name);
        let mut cand = name;
        loop {
            if let Some(z) = self.zones.get(cand) {
                return Some(z);
            }
            if cand.len() <= stop.len() {
                return None;
            }
            cand = cand.split_once('.')?.1;
        }
    }
}

/// The number of distinct networks of `keys` and, with an AS table, the
/// number of addresses it has no route for (not counted as networks).
fn count_networks(
    addrs: impl Iterator<Item = [u8; 16]>,
    asn: Option<&AsnDb>,
    keys: &mut Vec<u128>,
) -> (usize, usize) {
    keys.clear();
    let mut unrouted = 0;
    for k in addrs {
        match asn {
            Some(db) => match db.lookup(key_addr(k)) {
                Some(a) => keys.push(u128::from(a)),
                None => unrouted += 1,
            },
            None => keys.push(prefix_key(k)),
        }
    }
    keys.sort_unstable();
    keys.dedup();
    (keys.len(), unrouted)
}

/// The /16 of an IPv4 address (kept as mapped IPv6) or the /48 of an
/// IPv6 one, as a number that cannot collide between the two.
fn prefix_key(k: [u8; 16]) -> u128 {
    let x = u128::from_be_bytes(k);
    if Ipv6Addr::from(k).to_ipv4_mapped().is_some() {
        (1u128 << 127) | ((x >> 16) & 0xffff)
    } else {
        x >> 80
    }
}

/// A TTL as RFC 2181 section 8 reads it: a value with the top bit set is
/// zero.
fn rfc2181_ttl(t: u32) -> u32 {
    if t > i32::MAX as u32 { 0 } else { t }
}

/// The sort key of an address: IPv4 as its IPv4-mapped IPv6 form, so
/// that both families sort in one order and the same host is one key.
pub(crate) fn addr_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// The address of a key ([`addr_key`]).
pub(crate) fn key_addr(k: [u8; 16]) -> IpAddr {
    let a = Ipv6Addr::from(k);
    match a.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(a),
    }
}

/// Inserts `k` into the sorted `v` keeping only the `cap` smallest
/// members; true when a member was left out (now or then: the set is
/// saturated), which makes the kept set independent of the order of
/// insertion.
pub(crate) fn insert_bottom_k<K: Ord>(v: &mut Vec<K>, k: K, cap: usize) -> bool {
    match v.binary_search(&k) {
        Ok(_) => false,
        Err(pos) if v.len() < cap => {
            v.insert(pos, k);
            false
        }
        Err(pos) => {
            if pos < v.len() {
                v.insert(pos, k);
                v.pop();
            }
            true
        }
    }
}

/// The union of the sorted `a` and `b` into `a`, the `cap` smallest
/// members kept; true when a member was left out.
pub(crate) fn merge_bottom_k<K: Ord + Clone>(a: &mut Vec<K>, b: &[K], cap: usize) -> bool {
    let mut out: Vec<K> = Vec::with_capacity((a.len() + b.len()).min(cap));
    let mut more = false;
    let (mut i, mut j) = (0, 0);
    loop {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x < y => {
                i += 1;
                x
            }
            (Some(x), Some(y)) if y < x => {
                j += 1;
                y
            }
            (Some(x), Some(_)) => {
                i += 1;
                j += 1;
                x
            }
            (Some(x), None) => {
                i += 1;
                x
            }
            (None, Some(y)) => {
                j += 1;
                y
            }
            (None, None) => break,
        };
        if out.len() >= cap {
            more = true;
            break;
        }
        out.push(next.clone());
    }
    *a = out;
    more
}

/// The larger of two TTLs, a known one over [`NO_TTL`].
fn max_ttl(a: u32, b: u32) -> u32 {
    match (a, b) {
        (NO_TTL, x) | (x, NO_TTL) => x,
        (x, y) => x.max(y),
    }
}

/// [`insert_bottom_k`] for addresses with their TTL (the larger TTL is
/// kept when an address is seen again).
fn insert_addr(v: &mut Vec<Addr>, a: Addr, cap: usize) -> bool {
    match v.binary_search_by(|x| x.key.cmp(&a.key)) {
        Ok(i) => {
            v[i].ttl = max_ttl(v[i].ttl, a.ttl);
            false
        }
        Err(pos) if v.len() < cap => {
            v.insert(pos, a);
            false
        }
        Err(pos) => {
            if pos < v.len() {
                v.insert(pos, a);
                v.pop();
            }
            true
        }
    }
}

/// [`merge_bottom_k`] for addresses with their TTL.
fn merge_addrs(a: &mut Vec<Addr>, b: &[Addr], cap: usize) -> bool {
    let mut out: Vec<Addr> = Vec::with_capacity((a.len() + b.len()).min(cap));
    let mut more = false;
    let (mut i, mut j) = (0, 0);
    loop {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.key < y.key => {
                i += 1;
                *x
            }
            (Some(x), Some(y)) if y.key < x.key => {
                j += 1;
                *y
            }
            (Some(x), Some(y)) => {
                i += 1;
                j += 1;
                Addr {
                    key: x.key,
                    ttl: max_ttl(x.ttl, y.ttl),
                }
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (None, Some(y)) => {
                j += 1;
                *y
            }
            (None, None) => break,
        };
        if out.len() >= cap {
            more = true;
            break;
        }
        out.push(next);
    }
    *a = out;
    more
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn max_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Microseconds since the epoch as RFC 3339 (UTC), as the other records
/// of the findings write times.
pub(crate) fn rfc3339(micros: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The fast-flux features of one name (NDJSON
/// `{"type":"flux","version":1,...}`). Features, not a detection (see
/// the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "flux")]
pub struct FluxRecord {
    /// Record layout version (1).
    pub version: u32,
    /// The queried name, lower-case, without a trailing dot.
    pub domain: String,
    /// Distinct A/AAAA addresses in its answers (at most the bound).
    pub addresses: u64,
    /// More addresses were seen than counted.
    #[serde(default)]
    pub addresses_capped: bool,
    /// Distinct networks of those addresses.
    pub networks: u64,
    /// `asn` (origin AS numbers from the AS table) or `prefix` (IPv4 /16
    /// and IPv6 /48 prefixes, without a table).
    pub network_kind: String,
    /// With an AS table: addresses it has no route for (not counted in
    /// `networks`).
    #[serde(default)]
    pub unrouted: u64,
    /// Smallest TTL seen (seconds); a resolver's cache counts TTLs down,
    /// so this is often near 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_min: Option<u32>,
    /// Median over the addresses of the largest TTL seen with each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_median: Option<u32>,
    /// Largest TTL seen: the closest to the authoritative TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_max: Option<u32>,
    /// Distinct name servers of the name or its nearest parent with NS
    /// answers (up to its registered domain).
    pub name_servers: u64,
    /// More name servers were seen than kept.
    #[serde(default)]
    pub name_servers_capped: bool,
    /// Distinct addresses of those name servers, where the logs resolved
    /// them.
    pub ns_addresses: u64,
    /// Distinct networks of those addresses.
    pub ns_networks: u64,
    /// Holz et al.'s flux-score `1.32·addresses + 18.54·networks −
    /// 142.38` (positive: flux), 2 decimals.
    pub score: f64,
    /// Score positive and the largest TTL within the bound (heuristic).
    pub fast_flux: bool,
    /// Fast flux, and the score of the name servers' addresses positive
    /// too (heuristic).
    pub double_flux: bool,
    /// DNS events with addresses for the name.
    pub events: u64,
    /// First such event (RFC 3339, UTC), when the log has times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Last such event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// The first addresses, numerically (at most 10).
    #[serde(default)]
    pub sample_addresses: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Answer;

    fn a(ip: IpAddr, ttl: Option<u32>) -> Answer {
        Answer {
            data: AnswerData::Addr(ip),
            rrtype: if ip.is_ipv4() { 1 } else { 28 },
            ttl,
        }
    }

    fn ns(name: &str) -> Answer {
        Answer {
            data: AnswerData::Name(name.into()),
            rrtype: 2,
            ttl: Some(3600),
        }
    }

    fn ev(name: &str, t: i64, answers: Vec<Answer>) -> Event {
        Event {
            kind: EventKind::Dns,
            time: Some(t),
            client: Some("10.0.0.1".parse().unwrap()),
            name: name.into(),
            qtype: 1,
            answers,
            ..Event::default()
        }
    }

    /// A flux name: `n` lookups of 5 addresses each, every address in
    /// its own /16 (so every one a network), TTL 180.
    fn flux_events(name: &str, n: u8) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let answers = (0..5u8)
                    .map(|j| a(IpAddr::from([20 + i, j, 1, 1]), Some(180 - u32::from(j))))
                    .collect();
                ev(
                    name,
                    1_480_507_200_000_000 + i64::from(i) * 60_000_000,
                    answers,
                )
            })
            .collect()
    }

    #[test]
    fn holz_constants() {
        // 94 addresses in one network just pass; 93 do not.
        assert!(holz_score(94, 1, 0) > 0.0);
        assert!(holz_score(93, 1, 0) < 0.0);
        // Eight addresses in eight networks pass.
        assert!((holz_score(8, 8, 0) - (1.32 * 8.0 + 18.54 * 8.0 - 142.38)).abs() < 1e-9);
        assert!(holz_score(8, 8, 0) > 0.0 && holz_score(7, 7, 0) < 0.0);
    }

    #[test]
    fn fast_flux_name_is_reported() {
        let mut f = Flux::default();
        for e in flux_events("WWW.Flux.Example.", 4) {
            f.observe(&e);
        }
        // A stable name: 6 addresses in one /16, TTL 3600.
        for i in 0..3u8 {
            f.observe(&ev(
                "www.stable.example",
                0,
                (0..6)
                    .map(|j| a(IpAddr::from([198, 51, i, j]), Some(3600)))
                    .collect(),
            ));
        }
        let r = f.records(None);
        assert_eq!(r.len(), 1, "{r:?}");
        let x = &r[0];
        assert_eq!(x.domain, "www.flux.example");
        assert_eq!((x.addresses, x.networks), (20, 20));
        assert_eq!(x.network_kind, "prefix");
        assert_eq!(
            (x.ttl_min, x.ttl_median, x.ttl_max),
            (Some(176), Some(178), Some(180))
        );
        assert!((x.score - (1.32 * 20.0 + 18.54 * 20.0 - 142.38)).abs() < 0.01);
        assert!(x.fast_flux && !x.double_flux);
        assert_eq!(x.events, 4);
        assert_eq!(x.first_seen.as_deref(), Some("2016-11-30T12:00:00Z"));
        assert_eq!(x.last_seen.as_deref(), Some("2016-11-30T12:03:00Z"));
        assert_eq!(x.sample_addresses.len(), 10);
        assert_eq!(x.sample_addresses[0], "20.0.1.1");
        let j = serde_json::to_value(x).unwrap();
        assert_eq!(j["type"], "flux");
        assert_eq!(j["version"], 1);
        assert_eq!(serde_json::from_value::<FluxRecord>(j).unwrap(), *x);
    }

    #[test]
    fn long_ttl_is_not_fast_flux_and_asn_networks() {
        let mut f = Flux::default();
        for mut e in flux_events("cdn.example.com", 4) {
            for ans in &mut e.answers {
                ans.ttl = Some(86_400);
            }
            f.observe(&e);
        }
        let r = f.records(None);
        assert_eq!(r.len(), 1);
        assert!(!r[0].fast_flux, "{r:?}");
        // With an AS table that puts 20.0.0.0/8 - 23.0.0.0/8 in 2 ASes:
        // 20 addresses, 2 networks, score below 0: not reported.
        let (db, _) =
            AsnDb::read("20.0.0.0/7\t64500\n22.0.0.0/7\t64501\n".as_bytes(), "t").unwrap();
        assert!(f.records(Some(&db)).is_empty());
        // Many ASes: reported, networks as ASNs, one address unrouted.
        let mut table = String::new();
        for i in 0..4 {
            for j in 0..5 {
                if (i, j) != (3, 4) {
                    table.push_str(&format!("{}.{j}.0.0/16\t{}\n", 20 + i, 65000 + i * 5 + j));
                }
            }
        }
        let (db, problems) = AsnDb::read(table.as_bytes(), "t").unwrap();
        assert!(problems.is_empty());
        let r = f.records(Some(&db));
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].networks, r[0].unrouted, r[0].network_kind.as_str()),
            (19, 1, "asn")
        );
    }

    #[test]
    fn double_flux_through_the_parent_zone() {
        let mut f = Flux::default();
        for e in flux_events("www.evil.example.com", 4) {
            f.observe(&e);
        }
        // NS answers for the registered domain, and the name servers'
        // own fluxing addresses.
        f.observe(&ev(
            "evil.example.com",
            0,
            vec![ns("NS1.evil.example.com."), ns("ns2.evil.example.com")],
        ));
        for (k, e) in flux_events("ns1.evil.example.com", 2)
            .into_iter()
            .enumerate()
        {
            f.observe(&e);
            let mut e2 = flux_events("ns2.evil.example.com", 4).swap_remove(k + 2);
            e2.time = Some(0);
            f.observe(&e2);
        }
        let r = f.records(None);
        let x = r
            .iter()
            .find(|r| r.domain == "www.evil.example.com")
            .unwrap();
        assert_eq!(x.name_servers, 2);
        assert_eq!(x.ns_addresses, 20);
        assert_eq!(x.ns_networks, 20);
        assert!(x.fast_flux && x.double_flux, "{x:?}");
        // A name under another registered domain does not borrow them.
        let mut g = Flux::default();
        g.observe(&ev("com", 0, vec![ns("a.gtld-servers.net")]));
        for e in flux_events("www.other.example.com", 4) {
            g.observe(&e);
        }
        assert_eq!(g.records(None)[0].name_servers, 0);
    }

    #[test]
    fn merge_is_order_independent_and_bounded() {
        let opts = FluxOptions {
            max_addresses: 12,
            min_addresses: 5,
            ..FluxOptions::default()
        };
        let mut evs = flux_events("a.flux.example", 4);
        evs.extend(flux_events("b.flux.example", 3));
        evs.push(ev("b.flux.example", 5, vec![ns("ns.flux.example")]));
        let mut all = Flux::new(opts);
        for e in &evs {
            all.observe(e);
        }
        let split = |rev: bool| {
            let mut parts: Vec<Flux> = (0..3).map(|_| Flux::new(opts)).collect();
            for (i, e) in evs.iter().enumerate() {
                parts[i % 3].observe(e);
            }
            if rev {
                parts.reverse();
            }
            let mut it = parts.into_iter();
            let mut m = it.next().unwrap();
            for p in it {
                m.merge(p);
            }
            m
        };
        let r = all.records(None);
        assert_eq!(r, split(false).records(None));
        assert_eq!(r, split(true).records(None));
        let x = r.iter().find(|r| r.domain == "a.flux.example").unwrap();
        // 20 addresses seen, the 12 smallest kept.
        assert_eq!(x.addresses, 12);
        assert!(x.addresses_capped);
        assert_eq!(x.sample_addresses[0], "20.0.1.1");
        assert_eq!(x.sample_addresses[9], "21.4.1.1");
    }

    #[test]
    fn max_domains_and_what_is_ignored() {
        let opts = FluxOptions {
            max_domains: 1,
            ..FluxOptions::default()
        };
        let mut f = Flux::new(opts);
        f.observe(&ev(
            "one.example",
            0,
            vec![a("192.0.2.1".parse().unwrap(), None)],
        ));
        f.observe(&ev(
            "two.example",
            0,
            vec![a("192.0.2.2".parse().unwrap(), None)],
        ));
        assert_eq!((f.len(), f.dropped()), (1, 1));
        // No answers, not DNS, a CNAME only, a bad name: nothing.
        let mut g = Flux::default();
        g.observe(&ev("x.example", 0, vec![]));
        let mut http = ev("y.example", 0, vec![a("192.0.2.1".parse().unwrap(), None)]);
        http.kind = EventKind::Http;
        g.observe(&http);
        g.observe(&ev(
            "z.example",
            0,
            vec![Answer {
                data: AnswerData::Name("c.example".into()),
                rrtype: 5,
                ttl: None,
            }],
        ));
        g.observe(&ev(
            "bad name",
            0,
            vec![a("192.0.2.1".parse().unwrap(), None)],
        ));
        assert!(g.is_empty());
        // TTLs with the top bit set read as 0 (RFC 2181); unknown TTLs
        // leave the TTL fields empty.
        assert_eq!(rfc2181_ttl(0x8000_0000), 0);
        let mut h = Flux::default();
        for e in flux_events("n.example", 4) {
            let mut e = e;
            for ans in &mut e.answers {
                ans.ttl = None;
            }
            h.observe(&e);
        }
        let r = h.records(None);
        assert_eq!(
            (r[0].ttl_min, r[0].ttl_median, r[0].ttl_max),
            (None, None, None)
        );
        assert!(r[0].fast_flux);
    }

    #[test]
    fn bottom_k_helpers() {
        let mut v = Vec::new();
        for k in [5, 1, 9, 3, 1, 7] {
            insert_bottom_k(&mut v, k, 3);
        }
        assert_eq!(v, vec![1, 3, 5]);
        let mut a = vec![1, 4, 6];
        assert!(merge_bottom_k(&mut a, &[2, 4, 8], 4));
        assert_eq!(a, vec![1, 2, 4, 6]);
        let mut b = vec![1, 4];
        assert!(!merge_bottom_k(&mut b, &[4, 8], 4));
        assert_eq!(b, vec![1, 4, 8]);
        assert!(insert_bottom_k(&mut Vec::<u8>::new(), 1, 0));
        assert_eq!(
            key_addr(addr_key("192.0.2.1".parse().unwrap())).to_string(),
            "192.0.2.1"
        );
        assert_eq!(
            key_addr(addr_key("2001:db8::1".parse().unwrap())).to_string(),
            "2001:db8::1"
        );
        assert_ne!(
            prefix_key(addr_key("1.2.0.0".parse().unwrap())),
            prefix_key(addr_key("::1.2.0.0".parse().unwrap()))
        );
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339(1_500_000).as_deref(),
            Some("1970-01-01T00:00:01.5Z")
        );
    }
}
