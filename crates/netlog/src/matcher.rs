//! The indicators and DGA names, indexed for lookup of every event.
//!
//! [`Matcher::build`] takes what a [`takedown_blocklist::Builder`]
//! collected ([`Parts`]): names (from lists, STIX/MISP and DGA windows),
//! addresses and CIDR blocks, URLs. Each becomes an [`Indicator`] with its
//! origin; [`Matcher::match_event`] reports which of them an [`Event`]
//! touches, as [`Hit`]s.
//!
//! # Duplicates
//!
//! * The same name, address or URL from several origins (two lists, a
//!   list and a STIX bundle, a list and a DGA) is one indicator per
//!   origin, so that a hit names every source.
//! * From one DGA origin, the windows of consecutive or overlapping
//!   periods are one indicator whose first and last days span them; a
//!   name generated again after a gap is another indicator.
//! * From one list or STIX/MISP origin, the first line is kept (a name
//!   listed twice in one file names the same source twice).
//!
//! # Names
//!
//! An event's name (DNS query, HTTP Host, TLS SNI), its URL's host and
//! the names of its answers (CNAME, NS, MX, SRV, ...; not PTR, whose
//! target names an address's owner, not a name the client resolved) are
//! normalised cheaply: ASCII lowercase, one trailing dot removed, a
//! `:port` removed; a name with non-ASCII bytes goes through
//! [`name::normalise`] to its A-label form, and one that does not
//! normalise matches nothing. Other ASCII bytes are not refused: a DNS
//! tunnel under a listed domain carries anything in its labels and must
//! still match. The name then matches an indicator equal to it or to any
//! of its parents, at label boundaries only: `a.b.evil.example` matches
//! `evil.example`, `notevil.example` and `evil.example.com` do not. Every
//! matching level hits, the most specific first. An IP literal in a name
//! or URL host (`Host: 198.51.100.7:8080`) is matched as an address.
//!
//! The lookup costs one hash probe per suffix of two labels or more
//! (`a.b.evil.example`: three), over a copy lowercased on the stack: no
//! allocation unless something hits (or the name is not ASCII). Suffixes
//! longer than the longest indexed name are not probed, so a hostile
//! megabyte "name" costs one pass over it, not one hash per label.
//!
//! # Addresses
//!
//! The server of an event (the resolver, web server, flow responder) and
//! the addresses of its A/AAAA answers are looked up in one hash map per
//! prefix length present, probed from the longest: a /32 or /128, then
//! every CIDR block that holds the address, each of them a hit (the most
//! specific first). The client is never matched: it is the one being
//! hunted. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`), on either
//! side, is the IPv4 address.
//!
//! # URLs
//!
//! Both sides are normalised by [`normalise_url`]. An indicator URL
//! matches an event URL equal to it, or one that extends it only with a
//! query: `http://evil.example/gate.php` matches
//! `http://evil.example/gate.php?id=7`, but not `.../gate.php5` nor
//! `.../gate.php/x`; an indicator with a query matches that query only.
//! The event's URL is normalised only when its host is the host of some
//! indicator URL (one hash probe first), so that proxy logs do not pay
//! an allocation per line.
//!
//! # Hits
//!
//! Each indicator hits at most once per event, with the first field in
//! the order [`Field::Name`], [`Field::Url`], [`Field::AnswerName`],
//! [`Field::Server`], [`Field::AnswerAddr`]. [`Hit::value`] is what the
//! event held there, normalised: the name, the URL, the address.

use crate::event::{AnswerData, Event};
use ahash::RandomState;
use hashbrown::HashTable;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use takedown_blocklist::{Entry, IpEntry, Origin, Parts, UrlEntry, name};

/// What an indicator is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndicatorKind {
    /// A domain name (it matches its subdomains too).
    Domain,
    /// An address or CIDR block.
    Ip,
    /// A URL.
    Url,
}

impl IndicatorKind {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Domain => "domain",
            IndicatorKind::Ip => "ip",
            IndicatorKind::Url => "url",
        }
    }
}

/// One indicator: a blocklist builder's entry, as the matcher indexed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indicator {
    /// What it is.
    pub kind: IndicatorKind,
    /// The value, normalised: a name, `addr` (one address) or
    /// `addr/len` (a block; an IPv4-mapped IPv6 one as IPv4), a URL
    /// ([`normalise_url`]).
    pub value: String,
    /// Index into [`Matcher::origins`].
    pub origin: u32,
    /// As in the blocklist entry: the line of a list (0 for STIX/MISP),
    /// or the first day of a DGA window (days since 1970-01-01,
    /// [`takedown_blocklist::ANY_DATE`] when the DGA ignores the date).
    pub first: i64,
    /// The same line, or the last day of the DGA window.
    pub last: i64,
}

/// How many indicators a [`Matcher`] holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatcherCounts {
    /// Name indicators from lists and STIX/MISP.
    pub names: usize,
    /// Name indicators from DGA windows (one per name, generator and run
    /// of consecutive periods).
    pub dga_names: usize,
    /// Distinct names among both.
    pub distinct_names: usize,
    /// Single addresses (/32, /128).
    pub addresses: usize,
    /// CIDR blocks.
    pub cidrs: usize,
    /// URLs.
    pub urls: usize,
    /// Entries left out because they can never match: a URL that does
    /// not normalise, an out-of-range prefix, a name longer than a DNS
    /// name, an entry naming no origin (none from a real builder but the
    /// URLs).
    pub unusable: usize,
}

/// Which part of an event matched. Declared (and ordered) by precedence:
/// an indicator that several fields of one event touch hits once, with
/// the first of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// [`Event::name`]: the DNS query, HTTP Host, TLS SNI.
    Name,
    /// [`Event::url`]: the URL, or its host.
    Url,
    /// A name of an answer (CNAME, NS, MX, SRV target).
    AnswerName,
    /// [`Event::server`].
    Server,
    /// An address of an A/AAAA answer.
    AnswerAddr,
}

impl Field {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Url => "url",
            Field::Server => "server",
            Field::AnswerAddr => "answer-addr",
            Field::AnswerName => "answer-name",
        }
    }
}

/// One indicator an event touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The indicator ([`Matcher::indicator`]).
    pub indicator: u32,
    /// Where in the event.
    pub field: Field,
    /// The event's value there, normalised: the whole name (not only the
    /// listed parent), the URL, the address.
    pub value: String,
}

/// A run of indicators with one value: `(first id, count)`.
type Group = (u32, u32);

/// Longest name indexed or probed (a DNS name is at most 253 bytes in
/// text form); also the stack buffer a looked-up name is lowercased in.
const NAME_BUF: usize = 256;

/// Longest non-ASCII name given to UTS 46: no longer input can become a
/// DNS name (a full-width character, three bytes, maps to one), and
/// IDNA processing is not worth spending on hostile megabytes.
const MAX_IDN_INPUT: usize = 1024;

/// Longest URL a [`Hit::value`] shows (longer ones are cut, marked with
/// `...`): the hit is for a person to read, and a hostile log line must
/// not make every sighting hold a megabyte.
const MAX_URL_VALUE: usize = 8 * 1024;

/// Hits of one event past which "already hit?" is a hash set instead of a
/// scan of the event's hits (a crafted answer section hitting thousands
/// of indicators must not cost their square).
const SCAN_LIMIT: usize = 32;

/// The indicators, indexed. Built once, then shared by every worker
/// thread (`Sync`; lookups take `&self`).
pub struct Matcher {
    origins: Vec<Origin>,
    /// Names first (ids `0..name_end`, one run per name, in the order
    /// the names first appear in the parts), then addresses (longest
    /// prefix first), then URLs (sorted).
    indicators: Vec<Indicator>,
    name_end: u32,
    hasher: RandomState,
    /// The first id of each run of name indicators, keyed by the hash of
    /// the name it points to: the names are stored once, in the
    /// indicators.
    names: HashTable<u32>,
    /// Longest indexed name (no longer suffix is probed).
    name_max: usize,
    /// True when some indexed name has one label (never from a builder,
    /// which refuses them in lists; then the last label is probed too).
    single_label: bool,
    /// Per IPv4 prefix length present, longest first: network -> run.
    v4: Vec<(u8, HashMap<u32, Group, RandomState>)>,
    /// The same for IPv6.
    v6: Vec<(u8, HashMap<u128, Group, RandomState>)>,
    urls: HashMap<Box<str>, Group, RandomState>,
    /// Hosts of the indicator URLs (the cheap test before normalising an
    /// event's URL).
    url_hosts: HashSet<Box<str>, RandomState>,
    counts: MatcherCounts,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl Matcher {
    /// Indexes what a blocklist builder collected (see the module
    /// documentation for duplicates). Names are taken as the builder
    /// normalised them (lowercased again, which costs nothing); URLs are
    /// normalised with [`normalise_url`].
    pub fn build(parts: Parts) -> Matcher {
        let Parts {
            origins,
            names,
            ips,
            urls,
        } = parts;
        let hasher = RandomState::new();
        let mut m = Matcher {
            origins,
            indicators: Vec::new(),
            name_end: 0,
            hasher,
            names: HashTable::new(),
            name_max: 0,
            single_label: false,
            v4: Vec::new(),
            v6: Vec::new(),
            urls: HashMap::default(),
            url_hosts: HashSet::default(),
            counts: MatcherCounts::default(),
        };
        m.build_names(names);
        m.build_ips(ips);
        m.build_urls(urls);
        m.indicators.shrink_to_fit();
        m
    }

    fn is_dga(&self, origin: u32) -> bool {
        self.origins
            .get(origin as usize)
            .is_some_and(Origin::is_dga)
    }

    fn build_names(&mut self, mut names: Vec<Entry>) {
        const NONE: u32 = u32::MAX;
        let n_origins = self.origins.len();
        if names.len() >= NONE as usize {
            // Beyond any builder's MAX_ENTRIES: not indexed.
            self.counts.unusable += names.len();
            return;
        }
        // Each sort key becomes its name in its own allocation: a million
        // names are not allocated twice. An emptied key marks an entry
        // that cannot be used.
        for e in &mut names {
            if (e.origin as usize) >= n_origins || e.key.len() >= NAME_BUF {
                e.key = Box::default();
                continue;
            }
            key_to_name(&mut e.key);
            if std::str::from_utf8(&e.key).is_err() {
                e.key = Box::default();
            }
        }
        // Runs of one name, in the order names first appear (sources as
        // given, then DGA windows): one hash probe per entry, no sort of
        // the million (a sort's comparisons chase a pointer each). The
        // table is the lookup table too: its hashes are of the name bytes.
        let hasher = &self.hasher;
        let mut table: HashTable<u32> = HashTable::with_capacity(names.len());
        // Per run: (first entry, last entry); per entry: the next of its
        // run.
        let mut runs: Vec<(u32, u32)> = Vec::new();
        let mut next: Vec<u32> = vec![NONE; names.len()];
        for (i, e) in names.iter().enumerate() {
            if e.key.is_empty() {
                self.counts.unusable += 1;
                continue;
            }
            let i = i as u32;
            let h = hasher.hash_one(&e.key[..]);
            let key_of = |r: u32| &names[runs[r as usize].0 as usize].key;
            match table.find(h, |&r| *key_of(r) == e.key) {
                Some(&r) => {
                    let run = &mut runs[r as usize];
                    next[run.1 as usize] = i;
                    run.1 = i;
                }
                None => {
                    let r = runs.len() as u32;
                    runs.push((i, i));
                    table.insert_unique(h, r, |&r| {
                        hasher.hash_one(&names[runs[r as usize].0 as usize].key[..])
                    });
                }
            }
        }
        self.indicators.reserve(names.len());
        let mut starts: Vec<u32> = Vec::with_capacity(runs.len());
        let mut members: Vec<(u32, i64, i64)> = Vec::new();
        let mut group: Vec<(u32, i64, i64)> = Vec::new();
        for &(first, _) in &runs {
            members.clear();
            let mut i = first;
            while i != NONE {
                let e = &names[i as usize];
                members.push((e.origin, e.first, e.last));
                i = next[i as usize];
            }
            // Each origin's entries together, a DGA's windows by date:
            // the merges below look at neighbours only.
            members.sort_unstable();
            group.clear();
            let mut cur = members[0];
            for &n in &members[1..] {
                if n.0 == cur.0 {
                    if !self.is_dga(cur.0) {
                        // The same list or STIX object again: keep the
                        // first line.
                        continue;
                    }
                    if n.1 <= cur.2.saturating_add(1) {
                        cur.2 = cur.2.max(n.2);
                        continue;
                    }
                }
                group.push(cur);
                cur = n;
            }
            group.push(cur);
            let key = std::mem::take(&mut names[first as usize].key);
            let value = String::from_utf8(key.into_vec()).unwrap_or_default();
            starts.push(self.indicators.len() as u32);
            self.name_max = self.name_max.max(value.len());
            self.single_label |= !value.contains('.');
            let last = group.len() - 1;
            let mut value = Some(value);
            for (k, &(origin, first, last_day)) in group.iter().enumerate() {
                if self.is_dga(origin) {
                    self.counts.dga_names += 1;
                } else {
                    self.counts.names += 1;
                }
                let v = if k == last {
                    value.take().unwrap_or_default()
                } else {
                    value.clone().unwrap_or_default()
                };
                self.indicators.push(Indicator {
                    kind: IndicatorKind::Domain,
                    value: v,
                    origin,
                    first,
                    last: last_day,
                });
            }
        }
        drop(names);
        for r in table.iter_mut() {
            *r = starts[*r as usize];
        }
        self.name_end = self.indicators.len() as u32;
        self.counts.distinct_names = runs.len();
        self.names = table;
    }

    fn build_ips(&mut self, ips: Vec<IpEntry>) {
        // (address, prefix) canonical: an IPv4-mapped block as IPv4, host
        // bits cleared.
        let mut v: Vec<(IpAddr, u8, u32, i64)> = Vec::with_capacity(ips.len());
        for e in ips {
            let (addr, prefix) = match e.addr {
                IpAddr::V6(a) if e.prefix >= 96 => match a.to_ipv4_mapped() {
                    Some(v4) => (IpAddr::V4(v4), e.prefix - 96),
                    None => (e.addr, e.prefix),
                },
                a => (a, e.prefix),
            };
            let addr = match addr {
                IpAddr::V4(a) if prefix <= 32 => IpAddr::V4((u32::from(a) & mask4(prefix)).into()),
                IpAddr::V6(a) if prefix <= 128 => {
                    IpAddr::V6((u128::from(a) & mask6(prefix)).into())
                }
                _ => {
                    self.counts.unusable += 1;
                    continue;
                }
            };
            if e.origin as usize >= self.origins.len() {
                self.counts.unusable += 1;
                continue;
            }
            v.push((addr, prefix, e.origin, e.line));
        }
        // Longest prefix first (the probe order), IPv4 before IPv6.
        v.sort_unstable_by(|a, b| {
            a.0.is_ipv6()
                .cmp(&b.0.is_ipv6())
                .then(b.1.cmp(&a.1))
                .then(a.0.cmp(&b.0))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
        // Same block, same origin: the first line.
        v.dedup_by(|b, a| (a.0, a.1, a.2) == (b.0, b.1, b.2));
        let mut i = 0;
        while i < v.len() {
            let (addr, prefix, _, _) = v[i];
            let mut j = i + 1;
            while j < v.len() && (v[j].0, v[j].1) == (addr, prefix) {
                j += 1;
            }
            let start = self.indicators.len() as u32;
            let full = if addr.is_ipv4() { 32 } else { 128 };
            let value = if prefix == full {
                addr.to_string()
            } else {
                format!("{addr}/{prefix}")
            };
            for &(_, _, origin, line) in &v[i..j] {
                if prefix == full {
                    self.counts.addresses += 1;
                } else {
                    self.counts.cidrs += 1;
                }
                self.indicators.push(Indicator {
                    kind: IndicatorKind::Ip,
                    value: value.clone(),
                    origin,
                    first: line,
                    last: line,
                });
            }
            let run = (start, (j - i) as u32);
            match addr {
                IpAddr::V4(a) => {
                    if self.v4.last().is_none_or(|(p, _)| *p != prefix) {
                        self.v4.push((prefix, HashMap::default()));
                    }
                    if let Some((_, map)) = self.v4.last_mut() {
                        map.insert(u32::from(a), run);
                    }
                }
                IpAddr::V6(a) => {
                    if self.v6.last().is_none_or(|(p, _)| *p != prefix) {
                        self.v6.push((prefix, HashMap::default()));
                    }
                    if let Some((_, map)) = self.v6.last_mut() {
                        map.insert(u128::from(a), run);
                    }
                }
            }
            i = j;
        }
    }

    fn build_urls(&mut self, urls: Vec<UrlEntry>) {
        let mut v: Vec<(String, u32, i64)> = Vec::with_capacity(urls.len());
        for e in urls {
            match normalise_url(&e.url) {
                Some(u) if (e.origin as usize) < self.origins.len() => {
                    v.push((u, e.origin, e.line))
                }
                _ => self.counts.unusable += 1,
            }
        }
        v.sort_unstable();
        v.dedup_by(|b, a| (&a.0, a.1) == (&b.0, b.1));
        let mut i = 0;
        while i < v.len() {
            let mut j = i + 1;
            while j < v.len() && v[j].0 == v[i].0 {
                j += 1;
            }
            let start = self.indicators.len() as u32;
            for (url, origin, line) in &v[i..j] {
                self.counts.urls += 1;
                self.indicators.push(Indicator {
                    kind: IndicatorKind::Url,
                    value: url.clone(),
                    origin: *origin,
                    first: *line,
                    last: *line,
                });
            }
            if let Some(s) = split_url(&v[i].0) {
                self.url_hosts.insert(s.host.into());
            }
            self.urls
                .insert(v[i].0.clone().into_boxed_str(), (start, (j - i) as u32));
            i = j;
        }
    }

    /// The indicator `id` (from a [`Hit`]). Panics when `id` is not one
    /// this matcher gave.
    pub fn indicator(&self, id: u32) -> &Indicator {
        &self.indicators[id as usize]
    }

    /// Every indicator, by id.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// Where indicators came from ([`Indicator::origin`] indexes this).
    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// The origin numbered `id`: an [`Indicator::origin`], not an
    /// indicator id (`m.origin(m.indicator(hit.indicator).origin)`).
    /// Panics when there is no such origin.
    pub fn origin(&self, id: u32) -> &Origin {
        &self.origins[id as usize]
    }

    /// How many indicators of each kind.
    pub fn counts(&self) -> MatcherCounts {
        self.counts
    }

    /// True when there is nothing to match.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// Appends to `hits` the indicators `ev` touches, each once (see the
    /// module documentation). Allocates nothing when nothing hits and
    /// the names are ASCII.
    pub fn match_event(&self, ev: &Event, hits: &mut Vec<Hit>) {
        if self.indicators.is_empty() {
            return;
        }
        let mut cx = Cx {
            m: self,
            hits,
            start: 0,
            set: None,
            url: &ev.url,
            url_value: None,
        };
        cx.start = cx.hits.len();
        if !ev.name.is_empty() {
            cx.host(&ev.name, Field::Name);
        }
        if !ev.url.is_empty() {
            cx.url();
        }
        for a in &ev.answers {
            if let AnswerData::Name(n) = &a.data
                && a.rrtype != 12
            {
                cx.host(n, Field::AnswerName);
            }
        }
        if let Some(s) = ev.server {
            cx.addr(s, Field::Server);
        }
        for a in &ev.answers {
            if let AnswerData::Addr(x) = a.data {
                cx.addr(x, Field::AnswerAddr);
            }
        }
    }

    /// The run of name indicators with the name `s`, when indexed.
    fn find_name(&self, s: &[u8]) -> Option<Group> {
        let h = self.hasher.hash_one(s);
        let &start = self.names.find(h, |&id| {
            self.indicators
                .get(id as usize)
                .is_some_and(|i| i.value.as_bytes() == s)
        })?;
        let mut end = start + 1;
        while end < self.name_end
            && self
                .indicators
                .get(end as usize)
                .is_some_and(|i| i.value.as_bytes() == s)
        {
            end += 1;
        }
        Some((start, end - start))
    }
}

/// The state of one [`Matcher::match_event`].
struct Cx<'a> {
    m: &'a Matcher,
    hits: &'a mut Vec<Hit>,
    /// Where this event's hits begin in `hits`.
    start: usize,
    /// The indicators hit so far, once there are many.
    set: Option<HashSet<u32, RandomState>>,
    url: &'a str,
    /// The event's URL normalised, once needed.
    url_value: Option<String>,
}

impl Cx<'_> {
    fn seen(&mut self, id: u32) -> bool {
        if let Some(set) = &self.set {
            return set.contains(&id);
        }
        let mine = self.hits.get(self.start..).unwrap_or_default();
        if mine.len() <= SCAN_LIMIT {
            return mine.iter().any(|h| h.indicator == id);
        }
        let set: HashSet<u32, RandomState> = mine.iter().map(|h| h.indicator).collect();
        let found = set.contains(&id);
        self.set = Some(set);
        found
    }

    fn url_value(&mut self) -> String {
        let url = self.url;
        self.url_value
            .get_or_insert_with(|| cut_url(normalise_url(url).unwrap_or_else(|| url.to_string())))
            .clone()
    }

    /// Adds a run of indicators (one value), unless already hit: the run
    /// is added whole, so its first id stands for it.
    fn add(&mut self, (start, len): Group, field: Field, value: impl FnOnce() -> String) {
        if len == 0 || self.seen(start) {
            return;
        }
        let value = if field == Field::Url {
            self.url_value()
        } else {
            value()
        };
        for id in start..start + len {
            if let Some(set) = &mut self.set {
                set.insert(id);
            }
            self.hits.push(Hit {
                indicator: id,
                field,
                value: value.clone(),
            });
        }
    }

    fn addr(&mut self, a: IpAddr, field: Field) {
        let a = match a {
            IpAddr::V6(v) => v.to_ipv4_mapped().map_or(a, IpAddr::V4),
            a => a,
        };
        let m = self.m;
        match a {
            IpAddr::V4(v) => {
                let x = u32::from(v);
                for (p, map) in &m.v4 {
                    if let Some(&g) = map.get(&(x & mask4(*p))) {
                        self.add(g, field, || a.to_string());
                    }
                }
            }
            IpAddr::V6(v) => {
                let x = u128::from(v);
                for (p, map) in &m.v6 {
                    if let Some(&g) = map.get(&(x & mask6(*p))) {
                        self.add(g, field, || a.to_string());
                    }
                }
            }
        }
    }

    /// A name as logged (query, Host, SNI, URL host, answer name).
    fn host(&mut self, raw: &str, field: Field) {
        let m = self.m;
        let mut s = raw.strip_suffix('.').unwrap_or(raw);
        if s.is_empty() {
            return;
        }
        if s.as_bytes()[0] == b'[' {
            // `[v6]` or `[v6]:port` (an HTTP Host, a URL's host).
            if let Some(end) = s.find(']')
                && let Ok(a) = s[1..end].parse::<Ipv6Addr>()
            {
                self.addr(IpAddr::V6(a), field);
            }
            return;
        }
        if memchr::memchr(b':', s.as_bytes()).is_some() {
            if let Ok(a) = s.parse::<Ipv6Addr>() {
                self.addr(IpAddr::V6(a), field);
                return;
            }
            match s.rsplit_once(':') {
                Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    s = h.strip_suffix('.').unwrap_or(h);
                }
                // No DNS name holds a colon but before a port.
                _ => return,
            }
        }
        if s.as_bytes().last().is_some_and(u8::is_ascii_digit)
            && let Ok(a) = s.parse::<Ipv4Addr>()
        {
            self.addr(IpAddr::V4(a), field);
            return;
        }
        if m.name_max == 0 || s.is_empty() {
            return;
        }
        if s.is_ascii() {
            self.ascii_name(s.as_bytes(), field);
        } else if s.len() <= MAX_IDN_INPUT
            && let Ok(n) = name::normalise(s)
        {
            self.ascii_name(n.name.as_bytes(), field);
        }
    }

    /// Probes `s` (ASCII, any case) and its parents.
    fn ascii_name(&mut self, s: &[u8], field: Field) {
        let m = self.m;
        let n = s.len();
        // Only the tail that can hold an indexed suffix is lowercased and
        // probed.
        let keep = n.min(m.name_max).min(NAME_BUF);
        let mut buf = [0u8; NAME_BUF];
        let Some(tail) = s.get(n - keep..) else {
            return;
        };
        let b = &mut buf[..keep];
        b.copy_from_slice(tail);
        b.make_ascii_lowercase();
        let b = &buf[..keep];
        // The whole tail is a candidate when it begins at a label.
        let whole = keep == n || s.get(n - keep - 1) == Some(&b'.');
        let last_dot = memchr::memrchr(b'.', b);
        let mut probe = |from: usize| {
            let Some(c) = b.get(from..) else { return };
            if c.is_empty() {
                return;
            }
            if let Some(g) = m.find_name(c) {
                self.add(g, field, || shown_name(s));
            }
        };
        if whole && (m.single_label || last_dot.is_some()) {
            probe(0);
        }
        for i in memchr::memchr_iter(b'.', b) {
            // The last label alone (a TLD) is never indexed by a builder.
            if Some(i) == last_dot && !m.single_label {
                break;
            }
            probe(i + 1);
        }
    }

    fn url(&mut self) {
        let m = self.m;
        let url = self.url;
        let Some(sp) = split_url(url) else {
            return;
        };
        self.host(sp.host, Field::Url);
        if m.urls.is_empty() {
            return;
        }
        // The cheap test: is the host that of some indicator URL? Plain
        // ASCII hosts are lowercased on the stack; others (IDN, IPv6)
        // are normalised with the URL.
        let h = sp.host.strip_suffix('.').unwrap_or(sp.host);
        if h.is_ascii() && !h.starts_with('[') && h.len() <= NAME_BUF {
            let mut buf = [0u8; NAME_BUF];
            let b = &mut buf[..h.len()];
            b.copy_from_slice(h.as_bytes());
            b.make_ascii_lowercase();
            match std::str::from_utf8(b) {
                Ok(k) if m.url_hosts.contains(k) => {}
                _ => return,
            }
        }
        let Some(norm) = normalise_url(url) else {
            return;
        };
        if let Some(&g) = m.urls.get(norm.as_str()) {
            self.url_value = Some(cut_url(norm.clone()));
            self.add(g, Field::Url, String::new);
        }
        if let Some(q) = norm.find('?')
            && let Some(&g) = m.urls.get(&norm[..q])
        {
            self.url_value = Some(cut_url(norm.clone()));
            self.add(g, Field::Url, String::new);
        }
    }
}

fn mask4(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p if p >= 32 => u32::MAX,
        p => u32::MAX << (32 - p),
    }
}

fn mask6(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p if p >= 128 => u128::MAX,
        p => u128::MAX << (128 - p),
    }
}

/// A URL cut to [`MAX_URL_VALUE`] bytes, marked with `...`.
fn cut_url(mut v: String) -> String {
    if v.len() > MAX_URL_VALUE {
        let mut cut = MAX_URL_VALUE;
        while !v.is_char_boundary(cut) {
            cut -= 1;
        }
        v.truncate(cut);
        v.push_str("...");
    }
    v
}

/// The [`Hit::value`] of a name (ASCII): lowercase; a "name" longer than
/// any DNS name (a hostile or broken log) as `...` and its last
/// [`name::MAX_NAME`] bytes, from a label.
fn shown_name(s: &[u8]) -> String {
    let mut v = if s.len() > name::MAX_NAME {
        let tail = &s[s.len() - name::MAX_NAME..];
        let from = memchr::memchr(b'.', tail).map_or(0, |i| i + 1);
        let mut v = String::from("...");
        v.push_str(&String::from_utf8_lossy(&tail[from..]));
        v
    } else {
        String::from_utf8_lossy(s).into_owned()
    };
    v.make_ascii_lowercase();
    v
}

/// Turns a [`name::sort_key`] into its name, lowercase, in place:
/// `com\x01example\x01www` -> reversed whole `www\x01elpmaxe\x01moc` ->
/// each label reversed back -> `www.example.com`.
fn key_to_name(key: &mut [u8]) {
    key.make_ascii_lowercase();
    key.reverse();
    for label in key.split_mut(|b| *b == 1) {
        label.reverse();
    }
    for b in key {
        if *b == 1 {
            *b = b'.';
        }
    }
}

/// A URL cut in its parts (nothing normalised).
struct UrlSplit<'a> {
    scheme: &'a str,
    /// The host: a name, an IPv4 address, or `[IPv6]` with its brackets.
    host: &'a str,
    /// The port's digits (maybe empty: `http://h:/`).
    port: Option<&'a str>,
    /// Path, query and fragment: empty or beginning with `/`, `?`, `#`.
    rest: &'a str,
}

/// Cuts `scheme://[userinfo@]host[:port][/path][?query][#fragment]`.
fn split_url(url: &str) -> Option<UrlSplit<'_>> {
    let i = memchr::memmem::find(url.as_bytes(), b"://")?;
    let scheme = &url[..i];
    let mut sb = scheme.bytes();
    if scheme.len() > 32
        || !sb.next().is_some_and(|b| b.is_ascii_alphabetic())
        || !sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let after = &url[i + 3..];
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (auth, rest) = after.split_at(end);
    // Credentials are not part of what is fetched, and
    // `http://bank.example@evil.example/` goes to evil.example.
    let hostport = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let (host, port) = if hostport.starts_with('[') {
        let j = hostport.find(']')?;
        let (h, t) = hostport.split_at(j + 1);
        if t.is_empty() {
            (h, None)
        } else {
            (h, Some(t.strip_prefix(':')?))
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    if let Some(p) = port
        && (p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(UrlSplit {
        scheme,
        host,
        port,
        rest,
    })
}

fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "ftp" => 21,
        _ => return None,
    })
}

/// A URL as the matcher compares it, `None` when it is not one (no
/// `scheme://`, no host, a bad port, white space or control characters,
/// a host that is not a valid name or address):
///
/// * scheme and host lowercase; a host with non-ASCII characters as
///   A-labels ([`name::normalise`]); one trailing dot of the host
///   removed; an IPv6 host in its canonical form, in brackets;
/// * user information (`user:pass@`) removed;
/// * the scheme's default port removed (http and ws 80, https and wss
///   443, ftp 21; `:` with no digits too), other ports without leading
///   zeros;
/// * an empty path as `/`;
/// * in path and query, a percent-encoded unreserved character (letter,
///   digit, `-`, `.`, `_`, `~`) decoded, other escapes in upper case
///   (RFC 3986, 6.2.2);
/// * an empty query (`?` alone) and the fragment removed.
///
/// Not done: dot segments (`/a/../b`), numeric host forms (`0x7f.1`),
/// the case of the path (servers differ).
pub fn normalise_url(url: &str) -> Option<String> {
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    let sp = split_url(url)?;
    let mut out: Vec<u8> = Vec::with_capacity(url.len() + 1);
    out.extend(sp.scheme.bytes().map(|b| b.to_ascii_lowercase()));
    out.extend_from_slice(b"://");
    let scheme = std::str::from_utf8(&out[..sp.scheme.len()]).unwrap_or_default();
    let default = default_port(scheme);
    if let Some(inner) = sp.host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let a: Ipv6Addr = inner.parse().ok()?;
        out.push(b'[');
        out.extend_from_slice(a.to_string().as_bytes());
        out.push(b']');
    } else {
        let h = sp.host.strip_suffix('.').unwrap_or(sp.host);
        if h.is_empty() {
            return None;
        }
        if h.is_ascii() {
            out.extend(h.bytes().map(|b| b.to_ascii_lowercase()));
        } else {
            if h.len() > MAX_IDN_INPUT {
                return None;
            }
            out.extend_from_slice(name::normalise(h).ok()?.name.as_bytes());
        }
    }
    if let Some(p) = sp.port
        && !p.is_empty()
    {
        let n: u16 = p.parse().ok()?;
        if Some(n) != default {
            out.push(b':');
            out.extend_from_slice(n.to_string().as_bytes());
        }
    }
    let rest = sp.rest.split_once('#').map_or(sp.rest, |(r, _)| r);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() {
        out.push(b'/');
    } else {
        push_percent_normalised(&mut out, path.as_bytes());
    }
    if let Some(q) = query
        && !q.is_empty()
    {
        out.push(b'?');
        push_percent_normalised(&mut out, q.as_bytes());
    }
    // Only ASCII was rewritten: still UTF-8.
    String::from_utf8(out).ok()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_percent_normalised(out: &mut Vec<u8>, s: &[u8]) {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex_val),
                s.get(i + 2).copied().and_then(hex_val),
            )
        {
            let v = (h << 4) | l;
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(v);
            } else {
                out.push(b'%');
                out.push(s[i + 1].to_ascii_uppercase());
                out.push(s[i + 2].to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Answer, EventKind};
    use takedown_blocklist::input::read_list_from;
    use takedown_blocklist::{ANY_DATE, Builder, day_to_date};
    use time::Date;

    /// A matcher from plain lists, as `takedown hunt -s FILE` builds it.
    fn from_lists(lists: &[(&str, &str)]) -> Matcher {
        let mut b = Builder::new();
        for (source, text) in lists {
            read_list_from(&mut b, text.as_bytes(), source, &mut |d| panic!("{d}")).unwrap();
        }
        Matcher::build(b.into_parts())
    }

    fn named(name: &str) -> Event {
        Event {
            name: name.into(),
            ..Default::default()
        }
    }

    fn hits(m: &Matcher, ev: &Event) -> Vec<Hit> {
        let mut h = Vec::new();
        m.match_event(ev, &mut h);
        h
    }

    /// (indicator value, field, event value) of each hit.
    fn seen(m: &Matcher, ev: &Event) -> Vec<(String, Field, String)> {
        hits(m, ev)
            .into_iter()
            .map(|h| (m.indicator(h.indicator).value.clone(), h.field, h.value))
            .collect()
    }

    fn one(ind: &str, field: Field, value: &str) -> (String, Field, String) {
        (ind.to_string(), field, value.to_string())
    }

    #[test]
    fn subdomains_match_look_alikes_do_not() {
        let m = from_lists(&[("c2.txt", "evil.example\nb.evil.example\n")]);
        assert_eq!(
            seen(&m, &named("evil.example")),
            vec![one("evil.example", Field::Name, "evil.example")]
        );
        // Every listed level hits, the most specific first; the value is
        // the whole name asked.
        assert_eq!(
            seen(&m, &named("a.b.evil.example")),
            vec![
                one("b.evil.example", Field::Name, "a.b.evil.example"),
                one("evil.example", Field::Name, "a.b.evil.example"),
            ]
        );
        for miss in [
            "notevil.example",
            "evil.example.com",
            "evil.examplex",
            "xevil.example",
            "example",
            "evil",
            "evil-example",
            "evilexample",
            ".",
            "",
        ] {
            assert!(hits(&m, &named(miss)).is_empty(), "{miss}");
        }
    }

    #[test]
    fn case_trailing_dot_and_port() {
        let m = from_lists(&[("c2.txt", "Evil.Example.\n")]);
        assert_eq!(m.indicator(0).value, "evil.example");
        assert_eq!(
            seen(&m, &named("WWW.EVIL.Example.")),
            vec![one("evil.example", Field::Name, "www.evil.example")]
        );
        // An HTTP Host with its port.
        assert_eq!(
            seen(&m, &named("Evil.Example:8080")),
            vec![one("evil.example", Field::Name, "evil.example")]
        );
        assert!(hits(&m, &named("evil.example:http")).is_empty());
        // Only one trailing dot is a root.
        assert!(hits(&m, &named("evil.example..")).is_empty());
        // A tunnel's labels hold anything; the listed parent still hits.
        assert_eq!(
            hits(&m, &named("aGVsbG8=+/x.Evil.Example")).len(),
            1,
            "labels of any bytes under a listed name"
        );
    }

    #[test]
    fn idns_match_as_a_labels() {
        let m = from_lists(&[("c2.txt", "bücher.example\n")]);
        assert_eq!(m.indicator(0).value, "xn--bcher-kva.example");
        assert_eq!(
            seen(&m, &named("WWW.BÜCHER.example.")),
            vec![one(
                "xn--bcher-kva.example",
                Field::Name,
                "www.xn--bcher-kva.example"
            )]
        );
        assert_eq!(hits(&m, &named("XN--BCHER-KVA.example")).len(), 1);
        assert_eq!(hits(&m, &named("bücher.example")).len(), 1);
        assert!(hits(&m, &named("bucher.example")).is_empty());
        // Does not normalise (empty label, disallowed code point): nothing.
        assert!(hits(&m, &named("ü..bücher.example")).is_empty());
        assert!(hits(&m, &named("a\u{FFFD}.bücher.example")).is_empty());
        // A huge non-ASCII name is not given to UTS 46.
        let huge = format!("{}.bücher.example", "ü".repeat(10_000));
        assert!(hits(&m, &named(&huge)).is_empty());
    }

    const NETS: &str = "198.51.100.0/24\n198.51.0.0/16\n198.51.100.7\n\
        2001:db8::/32\n2001:db8:1::/48\n2001:db8:1::5\n::ffff:203.0.113.0/120\n";

    fn server(a: &str) -> Event {
        Event {
            kind: EventKind::Flow,
            server: Some(a.parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn addresses_and_cidrs_longest_prefix_first() {
        let m = from_lists(&[("nets.txt", NETS)]);
        let c = m.counts();
        assert_eq!((c.addresses, c.cidrs), (2, 5));
        assert_eq!(
            seen(&m, &server("198.51.100.7")),
            vec![
                one("198.51.100.7", Field::Server, "198.51.100.7"),
                one("198.51.100.0/24", Field::Server, "198.51.100.7"),
                one("198.51.0.0/16", Field::Server, "198.51.100.7"),
            ]
        );
        assert_eq!(
            seen(&m, &server("198.51.200.1")),
            vec![one("198.51.0.0/16", Field::Server, "198.51.200.1")]
        );
        assert!(hits(&m, &server("198.52.0.1")).is_empty());
        // IPv4-mapped: the IPv4 address, its text too.
        assert_eq!(
            hits(&m, &server("::ffff:198.51.100.7"))
                .iter()
                .map(|h| h.value.as_str())
                .collect::<Vec<_>>(),
            vec!["198.51.100.7"; 3]
        );
        assert_eq!(
            seen(&m, &server("2001:db8:1::5")),
            vec![
                one("2001:db8:1::5", Field::Server, "2001:db8:1::5"),
                one("2001:db8:1::/48", Field::Server, "2001:db8:1::5"),
                one("2001:db8::/32", Field::Server, "2001:db8:1::5"),
            ]
        );
        assert_eq!(
            seen(&m, &server("2001:db8:2::1")),
            vec![one("2001:db8::/32", Field::Server, "2001:db8:2::1")]
        );
        assert!(hits(&m, &server("2001:db9::1")).is_empty());
        // A mapped block on the indicator side is an IPv4 block.
        assert_eq!(
            seen(&m, &server("203.0.113.9")),
            vec![one("203.0.113.0/24", Field::Server, "203.0.113.9")]
        );
        // A/AAAA answers.
        let ev = Event {
            name: "innocent.example".into(),
            answers: vec![
                Answer {
                    data: AnswerData::Addr("198.51.100.9".parse().unwrap()),
                    rrtype: 1,
                    ttl: Some(60),
                },
                Answer {
                    data: AnswerData::Addr("2001:db8:1::5".parse().unwrap()),
                    rrtype: 28,
                    ttl: None,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            seen(&m, &ev)
                .into_iter()
                .map(|(i, f, _)| (i, f))
                .collect::<Vec<_>>(),
            vec![
                ("198.51.100.0/24".to_string(), Field::AnswerAddr),
                ("198.51.0.0/16".to_string(), Field::AnswerAddr),
                ("2001:db8:1::5".to_string(), Field::AnswerAddr),
                ("2001:db8:1::/48".to_string(), Field::AnswerAddr),
                ("2001:db8::/32".to_string(), Field::AnswerAddr),
            ]
        );
    }

    #[test]
    fn the_client_is_never_matched() {
        let m = from_lists(&[("nets.txt", NETS)]);
        let ev = Event {
            client: Some("198.51.100.7".parse().unwrap()),
            server: Some("192.0.2.53".parse().unwrap()),
            name: "www.example.org".into(),
            ..Default::default()
        };
        assert!(hits(&m, &ev).is_empty());
        let ev = Event {
            client: Some("2001:db8:1::5".parse().unwrap()),
            ..Default::default()
        };
        assert!(hits(&m, &ev).is_empty());
    }

    #[test]
    fn ip_literals_in_names_and_urls_are_addresses() {
        let m = from_lists(&[("nets.txt", NETS)]);
        let ev = Event {
            kind: EventKind::Http,
            name: "198.51.100.7:8080".into(),
            url: "http://[2001:DB8:1::5]:8080/x".into(),
            ..Default::default()
        };
        let h = seen(&m, &ev);
        assert_eq!(h.len(), 6, "{h:?}");
        assert_eq!(h[0], one("198.51.100.7", Field::Name, "198.51.100.7"));
        assert_eq!(
            h[3],
            one("2001:db8:1::5", Field::Url, "http://[2001:db8:1::5]:8080/x")
        );
    }

    #[test]
    fn urls_normalise() {
        let n = |s: &str| normalise_url(s);
        let same = [
            ("HTTP://Evil.Example/", "http://evil.example/"),
            ("http://evil.example", "http://evil.example/"),
            ("http://evil.example:80/a", "http://evil.example/a"),
            ("https://evil.example:443/a", "https://evil.example/a"),
            ("https://evil.example:80/a", "https://evil.example:80/a"),
            ("http://evil.example:0080/a", "http://evil.example/a"),
            ("http://evil.example:/a", "http://evil.example/a"),
            ("http://evil.example:8080", "http://evil.example:8080/"),
            ("http://evil.example./a", "http://evil.example/a"),
            ("http://evil.example?q=1", "http://evil.example/?q=1"),
            ("http://evil.example/a?", "http://evil.example/a"),
            ("http://evil.example/a#top", "http://evil.example/a"),
            ("http://evil.example/a?b#c?d", "http://evil.example/a?b"),
            ("http://evil.example#x", "http://evil.example/"),
            ("http://user:pw@Evil.Example/a", "http://evil.example/a"),
            ("http://bank.example@evil.example/", "http://evil.example/"),
            // Unreserved characters decoded, other escapes upper case.
            (
                "http://e.example/%7Euser/%41%2d%2e%5F",
                "http://e.example/~user/A-._",
            ),
            (
                "http://e.example/a%2fb%3a?x=%2f%41",
                "http://e.example/a%2Fb%3A?x=%2FA",
            ),
            // Broken escapes kept as they are.
            (
                "http://e.example/100%/%zz/%4",
                "http://e.example/100%/%zz/%4",
            ),
            // The case of the path is kept.
            ("http://e.example/Gate.PHP", "http://e.example/Gate.PHP"),
            ("http://Bücher.example/ä", "http://xn--bcher-kva.example/ä"),
            ("http://[2001:DB8:0::1]:80/", "http://[2001:db8::1]/"),
            ("HXXP://e.example/", "hxxp://e.example/"),
            ("ftp://e.example:21/f", "ftp://e.example/f"),
        ];
        for (input, want) in same {
            assert_eq!(n(input).as_deref(), Some(want), "{input}");
            // Idempotent.
            assert_eq!(n(want).as_deref(), Some(want), "{want}");
        }
        for bad in [
            "evil.example/a",
            "/gate.php",
            "://evil.example/",
            "1http://e.example/",
            "http:///a",
            "http://:80/a",
            "http://e.example:99999/",
            "http://e.example:8o/",
            "http://e.example:+80/",
            "http://e xample/",
            "http://e.example/a b",
            "http://e.example/\u{7}",
            "http://[::1/",
            "http://[zz]/",
            "http://ü..example/",
            "http://./",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    fn url(u: &str) -> Event {
        Event {
            kind: EventKind::Http,
            url: u.into(),
            ..Default::default()
        }
    }

    #[test]
    fn urls_match_normalised_and_with_any_query() {
        let m = from_lists(&[(
            "urls.txt",
            "HTTP://Evil.Example:80/gate.php\nhttps://evil.example/a%2fb?x=1\nhttp://e.example/\n",
        )]);
        assert_eq!(m.counts().urls, 3);
        assert_eq!(
            seen(&m, &url("http://EVIL.example/gate.php?id=7#frag")),
            vec![one(
                "http://evil.example/gate.php",
                Field::Url,
                "http://evil.example/gate.php?id=7"
            )]
        );
        assert_eq!(hits(&m, &url("http://evil.example/gate.php")).len(), 1);
        assert_eq!(hits(&m, &url("http://evil.example/%67ate.php")).len(), 1);
        assert_eq!(hits(&m, &url("http://evil.example./gate.php?")).len(), 1);
        assert_eq!(
            hits(&m, &url("https://evil.example:443/a%2Fb?x=1")).len(),
            1
        );
        assert_eq!(hits(&m, &url("http://e.example?q")).len(), 1);
        for miss in [
            "http://evil.example/gate.php5",
            "http://evil.example/gate.php/x",
            "http://evil.example/Gate.php",
            "https://evil.example/gate.php",
            "http://evil.example:8080/gate.php",
            "http://www.evil.example/gate.php",
            "https://evil.example/a%2fb?x=2",
            "https://evil.example/a%2fb",
            "https://evil.example/a/b?x=1",
            "http://e.example/x",
            "not a url",
        ] {
            assert!(hits(&m, &url(miss)).is_empty(), "{miss}");
        }
    }

    #[test]
    fn a_domain_matches_the_url_host() {
        let m = from_lists(&[("c2.txt", "evil.example\n")]);
        assert_eq!(
            seen(&m, &url("http://WWW.Evil.Example:8080/a?b#c")),
            vec![one(
                "evil.example",
                Field::Url,
                "http://www.evil.example:8080/a?b"
            )]
        );
        assert!(hits(&m, &url("http://notevil.example/evil.example")).is_empty());
        assert!(hits(&m, &url("http://evil.example@good.example/")).is_empty());
    }

    #[test]
    fn each_indicator_once_per_event_first_field_wins() {
        let m = from_lists(&[("c2.txt", "evil.example\n198.51.100.7\n")]);
        let cname = |n: &str| Answer {
            data: AnswerData::Name(n.into()),
            rrtype: 5,
            ttl: None,
        };
        let a = |x: &str| Answer {
            data: AnswerData::Addr(x.parse().unwrap()),
            rrtype: 1,
            ttl: None,
        };
        let ev = Event {
            name: "Evil.Example".into(),
            url: "http://x.evil.example/".into(),
            server: Some("198.51.100.7".parse().unwrap()),
            answers: vec![cname("cdn.evil.example."), a("198.51.100.7")],
            ..Default::default()
        };
        assert_eq!(
            seen(&m, &ev),
            vec![
                one("evil.example", Field::Name, "evil.example"),
                one("198.51.100.7", Field::Server, "198.51.100.7"),
            ]
        );
        // Without the name: the URL; without the URL: the answer name.
        let ev2 = Event {
            name: String::new(),
            ..ev.clone()
        };
        assert_eq!(seen(&m, &ev2)[0].1, Field::Url);
        let ev3 = Event {
            name: "www.example.org".into(),
            url: String::new(),
            server: None,
            ..ev.clone()
        };
        assert_eq!(
            seen(&m, &ev3),
            vec![
                one("evil.example", Field::AnswerName, "cdn.evil.example"),
                one("198.51.100.7", Field::AnswerAddr, "198.51.100.7"),
            ]
        );
        // A PTR answer names an address's owner: not matched.
        let ev4 = Event {
            name: "7.100.51.198.in-addr.arpa".into(),
            qtype: 12,
            answers: vec![Answer {
                data: AnswerData::Name("host.evil.example".into()),
                rrtype: 12,
                ttl: None,
            }],
            ..Default::default()
        };
        assert!(hits(&m, &ev4).is_empty());
    }

    #[test]
    fn many_hits_in_one_event_stay_unique() {
        let list: String = (0..100).map(|i| format!("n{i}.example\n")).collect();
        let m = from_lists(&[("c2.txt", &list)]);
        let answers: Vec<Answer> = (0..300)
            .map(|i| Answer {
                data: AnswerData::Name(format!("x.n{}.example", i % 100)),
                rrtype: 5,
                ttl: None,
            })
            .collect();
        let ev = Event {
            name: "n0.example".into(),
            answers,
            ..Default::default()
        };
        let h = hits(&m, &ev);
        assert_eq!(h.len(), 100);
        let mut ids: Vec<u32> = h.iter().map(|h| h.indicator).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 100);
        assert_eq!(h[0].field, Field::Name);
        assert!(h[1..].iter().all(|h| h.field == Field::AnswerName));
    }

    #[test]
    fn duplicates_keep_every_origin() {
        let mut b = Builder::new();
        let mut no = |d: takedown_blocklist::Diagnostic| panic!("{d}");
        read_list_from(
            &mut b,
            "# Campaign A\nevil.example\nsame.example\n".as_bytes(),
            "a.txt",
            &mut no,
        )
        .unwrap();
        read_list_from(
            &mut b,
            "x.example\nevil.example\nEVIL.example.\n198.51.100.7\n".as_bytes(),
            "b.txt",
            &mut no,
        )
        .unwrap();
        read_list_from(&mut b, "198.51.100.7\n".as_bytes(), "c.txt", &mut no).unwrap();
        let from = day_to_date(17134).unwrap();
        let to = day_to_date(17137).unwrap();
        b.add_dga(&Periods, from, to, &mut no).unwrap();
        let m = Matcher::build(b.into_parts());
        let described = |ev: &Event| -> Vec<String> {
            hits(&m, ev)
                .iter()
                .map(|h| {
                    let i = m.indicator(h.indicator);
                    m.origin(i.origin).describe(i.first, i.last)
                })
                .collect()
        };
        // Two lists: two hits; b.txt lists it twice: its first line.
        assert_eq!(
            described(&named("www.evil.example")),
            vec!["a.txt:2: Campaign A", "b.txt:2"]
        );
        // A list and a DGA.
        assert_eq!(
            described(&named("same.example")),
            vec![
                "a.txt:3: Campaign A",
                "dga periods seed 0x1 2016-11-29..2016-12-02"
            ]
        );
        assert_eq!(
            described(&server("198.51.100.7")),
            vec!["b.txt:4", "c.txt:1"]
        );
        let c = m.counts();
        assert_eq!(
            (c.names, c.dga_names, c.distinct_names, c.addresses),
            (4, 4, 6, 2),
            "{c:?}"
        );
    }

    /// A DGA of two-day periods: `same.example` every period,
    /// `odd.example` in odd periods only, `pN.example` in period N.
    struct Periods;
    impl takedown_dga::Dga for Periods {
        fn family(&self) -> &'static str {
            "periods"
        }
        fn variant(&self) -> &'static str {
            ""
        }
        fn seed(&self) -> String {
            "0x1".into()
        }
        fn period(&self, d: Date) -> Option<i64> {
            Some(takedown_blocklist::date_to_day(d) / 2)
        }
        fn generate(&self, d: Date, out: &mut Vec<String>) {
            let p = takedown_blocklist::date_to_day(d) / 2;
            out.push("same.example".into());
            if p % 2 == 1 {
                out.push("odd.example".into());
            }
            out.push(format!("p{p}.example"));
        }
    }

    /// A DGA whose names do not depend on the date.
    struct Fixed;
    impl takedown_dga::Dga for Fixed {
        fn family(&self) -> &'static str {
            "fixed"
        }
        fn variant(&self) -> &'static str {
            "v1"
        }
        fn seed(&self) -> String {
            String::new()
        }
        fn period(&self, _: Date) -> Option<i64> {
            None
        }
        fn generate(&self, _: Date, out: &mut Vec<String>) {
            out.push("fixed.example".into());
            out.push("fixed.example".into());
        }
    }

    #[test]
    fn dga_windows_merge_consecutive_periods_only() {
        let mut b = Builder::new();
        let mut no = |d: takedown_blocklist::Diagnostic| panic!("{d}");
        // Days 17134..=17141: periods 8567 (odd), 8568, 8569 (odd), 8570.
        let (from, to) = (day_to_date(17134).unwrap(), day_to_date(17141).unwrap());
        b.add_dga(&Periods, from, to, &mut no).unwrap();
        // The same window again overlaps the first: merged with it.
        b.add_dga(&Fixed, from, to, &mut no).unwrap();
        let m = Matcher::build(b.into_parts());
        let windows = |n: &str| -> Vec<(i64, i64)> {
            hits(&m, &named(n))
                .iter()
                .map(|h| {
                    let i = m.indicator(h.indicator);
                    (i.first, i.last)
                })
                .collect()
        };
        assert_eq!(windows("same.example"), vec![(17134, 17141)]);
        // Periods 8567 and 8569, a gap between: two indicators.
        assert_eq!(windows("odd.example"), vec![(17134, 17135), (17138, 17139)]);
        assert_eq!(windows("www.p8568.example"), vec![(17136, 17137)]);
        assert_eq!(windows("fixed.example"), vec![(ANY_DATE, ANY_DATE)]);
        // Two windows of one generator given apart, overlapping: one.
        let mut b = Builder::new();
        b.add_dga(
            &Periods,
            day_to_date(17134).unwrap(),
            day_to_date(17137).unwrap(),
            &mut no,
        )
        .unwrap();
        let mut parts = b.into_parts();
        // The same origin again, a later window (as a second add over the
        // same origin would give): consecutive periods merge.
        let extra: Vec<Entry> = parts
            .names
            .iter()
            .map(|e| Entry {
                first: e.first + 4,
                last: e.last + 4,
                ..e.clone()
            })
            .collect();
        parts.names.extend(extra);
        let m = Matcher::build(parts);
        let h = hits(&m, &named("same.example"));
        assert_eq!(h.len(), 1);
        let i = m.indicator(h[0].indicator);
        assert_eq!((i.first, i.last), (17134, 17141));
        assert_eq!(m.counts().dga_names, 1 + 2 + 2 + 2);
    }

    #[test]
    fn empty_events_and_matchers_hit_nothing() {
        let m = from_lists(&[
            ("c2.txt", "evil.example\nhttp://evil.example/x\n"),
            ("nets.txt", NETS),
        ]);
        assert!(!m.is_empty());
        let mut h = vec![Hit {
            indicator: 7,
            field: Field::Server,
            value: "kept".into(),
        }];
        m.match_event(&Event::default(), &mut h);
        let ev = Event {
            name: ".".into(),
            url: "http://".into(),
            answers: vec![Answer {
                data: AnswerData::Name(String::new()),
                rrtype: 5,
                ttl: None,
            }],
            ..Default::default()
        };
        m.match_event(&ev, &mut h);
        assert_eq!(h.len(), 1, "appends only, and nothing here");
        let empty = Matcher::build(Parts::default());
        assert!(empty.is_empty());
        assert_eq!(empty.counts(), MatcherCounts::default());
        assert!(hits(&empty, &named("evil.example")).is_empty());
    }

    #[test]
    fn hostile_names_cost_one_pass() {
        let m = from_lists(&[("c2.txt", "evil.example\n")]);
        // A megabyte of labels under a listed name: only the suffixes as
        // long as the longest listed name are probed.
        let long = format!("{}Evil.Example", "a.".repeat(500_000));
        let t = std::time::Instant::now();
        let h = hits(&m, &named(&long));
        assert!(t.elapsed().as_secs() < 5);
        assert_eq!(h.len(), 1);
        // The value shows the end of it, from a label.
        assert!(h[0].value.len() <= 3 + 253);
        assert!(h[0].value.starts_with("...a.a."), "{}", h[0].value);
        assert!(h[0].value.ends_with(".a.evil.example"));
        let m2 = from_lists(&[("u.txt", "http://evil.example/\n")]);
        let long_url = format!("http://evil.example/?{}", "q".repeat(1 << 20));
        let h = hits(&m2, &url(&long_url));
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].value.len(), MAX_URL_VALUE + 3);
        let long = "a.".repeat(500_000);
        assert!(hits(&m, &named(&long)).is_empty());
        assert!(hits(&m, &named(&":".repeat(1000))).is_empty());
        assert!(hits(&m, &named("[")).is_empty());
        assert!(hits(&m, &named("[::1")).is_empty());
        assert!(hits(&m, &url("http://[")).is_empty());
    }

    #[test]
    fn unusable_entries_are_counted_not_indexed() {
        let mut parts = Parts::default();
        parts.origins.push(Origin::List {
            source: "x".into(),
            comment: None,
        });
        parts.urls.push(UrlEntry {
            url: "http://:80/".into(),
            origin: 0,
            line: 1,
        });
        parts.urls.push(UrlEntry {
            url: "http://ok.example/".into(),
            origin: 5,
            line: 2,
        });
        parts.ips.push(IpEntry {
            addr: "192.0.2.1".parse().unwrap(),
            prefix: 40,
            origin: 0,
            line: 3,
        });
        parts.names.push(Entry {
            key: name::sort_key("Upper.Example").into_boxed_slice(),
            origin: 0,
            first: 4,
            last: 4,
        });
        let m = Matcher::build(parts);
        assert_eq!(m.counts().unusable, 3);
        assert_eq!(m.indicators().len(), 1);
        assert_eq!(hits(&m, &named("upper.example")).len(), 1);
    }

    #[test]
    fn shared_by_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Matcher>();
        assert!(Field::Name < Field::Url && Field::Url < Field::AnswerName);
        assert!(Field::AnswerName < Field::Server && Field::Server < Field::AnswerAddr);
    }

    #[test]
    fn keys_become_names_in_place() {
        for n in ["www.example.com", "a.b", "x", "xn--bcher-kva.example"] {
            let mut k = name::sort_key(n);
            key_to_name(&mut k);
            assert_eq!(k, n.as_bytes());
        }
        let mut k = name::sort_key("WWW.Example.COM");
        key_to_name(&mut k);
        assert_eq!(k, b"www.example.com");
    }

    /// Timing and memory, by hand:
    /// `cargo test --release -p takedown-netlog matcher::tests::scale -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn scale() {
        /// A line of /proc/self/status in MB (`VmRSS:`, `VmHWM:`).
        fn status_mb(key: &str) -> u64 {
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with(key))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                })
                .unwrap_or(0)
                / 1024
        }
        let rss_mb = || status_mb("VmRSS:");
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        const N: usize = 1_000_000;
        const TLDS: [&str; 6] = ["com", "net", "org", "info", "ru", "xyz"];
        let mut list = String::with_capacity(N * 24);
        let mut listed = Vec::with_capacity(N);
        for _ in 0..N {
            let r = rnd();
            let n = format!("{:x}.{}", r >> 20, TLDS[(r % 6) as usize]);
            list.push_str(&n);
            list.push('\n');
            listed.push(n);
        }
        let rss0 = rss_mb();
        let mut b = Builder::new();
        let t = std::time::Instant::now();
        read_list_from(&mut b, list.as_bytes(), "big.txt", &mut |_| {}).unwrap();
        let read = t.elapsed();
        drop(list);
        let from = Date::from_calendar_date(2016, time::Month::June, 1).unwrap();
        let to = Date::from_calendar_date(2016, time::Month::November, 30).unwrap();
        let t = std::time::Instant::now();
        let mut dga = 0;
        for g in takedown_dga::select("all", None, None).unwrap() {
            dga += b.add_dga(g.as_ref(), from, to, &mut |_| {}).unwrap();
        }
        let gen_time = t.elapsed();
        let rss1 = rss_mb();
        let t = std::time::Instant::now();
        let m = Matcher::build(b.into_parts());
        let build = t.elapsed();
        let rss2 = rss_mb();
        eprintln!(
            "read 1M names {read:?}; DGA all families 2016-06-01..2016-11-30: {dga} names in {gen_time:?}; \
             build {build:?}; {:?}; RSS before {rss0} MB, builder {rss1} MB, matcher {rss2} MB, peak {} MB",
            m.counts(),
            status_mb("VmHWM:")
        );
        // Lookups: 10% under a listed name, 90% not listed, 3-4 labels.
        let mut names = Vec::with_capacity(N);
        for i in 0..N {
            let r = rnd();
            names.push(if i % 10 == 0 {
                format!("www.{}", listed[(r as usize) % N])
            } else {
                format!("cdn{}.{:x}.{}", r % 7, r >> 24, TLDS[(r % 6) as usize])
            });
        }
        let mut ev = Event::default();
        let mut h = Vec::new();
        let mut found = 0usize;
        let t = std::time::Instant::now();
        for n in &names {
            ev.name.clear();
            ev.name.push_str(n);
            h.clear();
            m.match_event(&ev, &mut h);
            found += h.len();
        }
        let el = t.elapsed();
        eprintln!(
            "{N} lookups in {el:?}: {:.2} M/s, {found} hits",
            N as f64 / el.as_secs_f64() / 1e6
        );
        assert!(found >= N / 10);
        // The common case: no hit, mixed case.
        let t = std::time::Instant::now();
        for n in &names[1..] {
            ev.name.clear();
            ev.name.push_str(n);
            ev.name.make_ascii_uppercase();
            h.clear();
            m.match_event(&ev, &mut h);
        }
        let el = t.elapsed();
        eprintln!(
            "upper case: {:.2} M/s",
            (N - 1) as f64 / el.as_secs_f64() / 1e6
        );
    }
}
