//! The victim self-check (off by default; docs/selfcheck.md): a page
//! (`/check`) and `GET /v1/check` that tell a visitor whether *their own*
//! address is in the sinkhole reports the service loaded, with the
//! families, the dates and the cleanup steps in their language.
//!
//! Privacy is the design, not an option:
//! * the address looked up is the connection's, or, only when the
//!   connection comes from a configured trusted proxy, the right-most
//!   address of the proxy's header that is not itself a trusted proxy
//!   ([`client_address`]); never one named in the query or the body;
//! * a visitor who is not in the data learns only that (no counts, no
//!   dates, nothing about the data set);
//! * lookups are rate-limited per client ([`Limiter`]), so that the page
//!   is no oracle for scanning address ranges through many proxies.
//!
//! The reports are read once at start (an unreadable report is a start-up
//! error naming it) into an in-memory map, address to families, and read
//! again on SIGHUP and `POST /v1/reload`, the new map swapped in whole.
//! Only notifiable addresses ([`takedown_notify::report::is_notifiable`])
//! are kept: a private or loopback address in a report is spoofed or a
//! sinkhole's own test, and would tell every visitor behind such an
//! address that they are infected.

use crate::http::ApiError;
use crate::i18n::{self, Source, Texts};
use crate::service::Service;
use crate::web::{self, escape};
use arc_swap::ArcSwap;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// `[selfcheck]` of the configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfCheckConfig {
    /// Sinkhole reports to load (Shadowserver CSV, IntelMQ NDJSON, hunt
    /// sightings; gzip or not). None: the self-check is off.
    pub reports: Vec<PathBuf>,
    /// Networks (`CIDR`) of reverse proxies whose forwarded header is
    /// believed.
    pub trusted_proxies: Vec<String>,
    /// The header a trusted proxy names the client in:
    /// `x-forwarded-for` or `forwarded` (RFC 7239).
    pub forwarded_header: String,
    /// Lookups per client: `N/min` (also `N/s`, `N/h`).
    pub rate: String,
}

impl Default for SelfCheckConfig {
    fn default() -> Self {
        SelfCheckConfig {
            reports: Vec::new(),
            trusted_proxies: Vec::new(),
            forwarded_header: "x-forwarded-for".into(),
            rate: DEFAULT_RATE.into(),
        }
    }
}

/// The default rate limit per client.
pub const DEFAULT_RATE: &str = "10/min";

impl SelfCheckConfig {
    /// The validated settings, or `None` when no report is configured.
    pub fn validate(&self) -> anyhow::Result<Option<SelfCheckSettings>> {
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|c| Cidr::parse(c).map_err(|e| anyhow::anyhow!("selfcheck.trusted_proxies: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let header = match self.forwarded_header.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => ForwardedHeader::XForwardedFor,
            "forwarded" => ForwardedHeader::Forwarded,
            other => anyhow::bail!(
                "selfcheck.forwarded_header: '{other}' is neither x-forwarded-for nor forwarded"
            ),
        };
        let rate = Rate::parse(&self.rate).map_err(|e| anyhow::anyhow!("selfcheck.rate: {e}"))?;
        if self.reports.is_empty() {
            return Ok(None);
        }
        Ok(Some(SelfCheckSettings {
            reports: self.reports.clone(),
            trusted_proxies,
            header,
            rate,
        }))
    }
}

/// Validated self-check settings.
#[derive(Clone, Debug)]
pub struct SelfCheckSettings {
    /// The reports.
    pub reports: Vec<PathBuf>,
    /// Trusted proxies.
    pub trusted_proxies: Vec<Cidr>,
    /// The header trusted proxies set.
    pub header: ForwardedHeader,
    /// The rate limit per client.
    pub rate: Rate,
}

/// An address block (`192.0.2.0/24`, `2001:db8::/32`, or one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

impl Cidr {
    /// Parses `ADDR/LEN` or `ADDR`. An IPv4-mapped IPv6 block is kept as
    /// the IPv4 block it names, as addresses are compared canonically.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (
                a,
                Some(
                    l.parse::<u8>()
                        .map_err(|_| format!("'{s}': bad prefix length"))?,
                ),
            ),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("'{s}' is not an address or CIDR block"))?;
        let (addr, len) = match (addr, len) {
            (IpAddr::V6(v6), l) if v6.to_ipv4_mapped().is_some() => {
                let l = l.unwrap_or(128);
                if l < 96 {
                    return Err(format!(
                        "'{s}': an IPv4-mapped block needs a length of 96 or more"
                    ));
                }
                (
                    IpAddr::V4(v6.to_ipv4_mapped().unwrap_or_else(|| unreachable!())),
                    l - 96,
                )
            }
            (IpAddr::V4(_), l) => (addr, l.unwrap_or(32)),
            (IpAddr::V6(_), l) => (addr, l.unwrap_or(128)),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(format!("'{s}': prefix length over {max}"));
        }
        Ok(Cidr {
            addr: mask(addr, len),
            len,
        })
    }

    /// Whether `ip` (compared canonically) is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.len) == self.addr
    }
}

fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

/// Which header a trusted proxy names the client in. Only one is read:
/// a proxy that appends to one of them passes the other through from the
/// client untouched, so reading both would let a client name any address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, Caddy,
    /// most load balancers).
    XForwardedFor,
    /// `Forwarded: for=client, for="[2001:db8::1]:4711"` (RFC 7239).
    Forwarded,
}

/// A token-bucket rate: `capacity` lookups at once, refilled at
/// `capacity` per `period`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Bucket size (the burst).
    pub capacity: u32,
    /// Time to refill the whole bucket.
    pub period: Duration,
}

/// Largest rate accepted: beyond, the limit protects nothing.
const MAX_RATE: u32 = 1_000_000;

impl Rate {
    /// Parses `N/min`, `N/s`, `N/h` (`N` alone: per minute).
    pub fn parse(s: &str) -> Result<Rate, String> {
        let (n, unit) = s.trim().split_once('/').unwrap_or((s.trim(), "min"));
        let capacity: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("'{s}': expected N/min"))?;
        if !(1..=MAX_RATE).contains(&capacity) {
            return Err(format!("'{s}': N must be between 1 and {MAX_RATE}"));
        }
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "m" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            u => return Err(format!("'{s}': unknown unit '{u}' (s, min or h)")),
        };
        Ok(Rate { capacity, period })
    }
}

/// Client buckets kept by the [`Limiter`]: a client rotating through many
/// addresses cannot grow the table beyond this (about 5 MB).
pub const MAX_LIMITER_ENTRIES: usize = 100_000;

/// Per-client token buckets, in bounded memory. IPv4 clients are keyed by
/// address, IPv6 clients by their /64 (one subscriber's usual
/// allocation: rotating within it buys nothing).
pub struct Limiter {
    rate: Rate,
    max_entries: usize,
    table: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    /// A limiter of `rate` keeping at most `max_entries` clients.
    pub fn new(rate: Rate, max_entries: usize) -> Limiter {
        Limiter {
            rate,
            max_entries: max_entries.max(1),
            table: Mutex::new(HashMap::new()),
        }
    }

    fn per_sec(&self) -> f64 {
        f64::from(self.rate.capacity) / self.rate.period.as_secs_f64()
    }

    /// Takes one token of `client`'s bucket at `now`, or says how long
    /// until one is there.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = limiter_key(client);
        let cap = f64::from(self.rate.capacity);
        let per_sec = self.per_sec();
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if !table.contains_key(&key) && table.len() >= self.max_entries {
            // A full bucket is the same as no entry: drop those first.
            table.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < cap
            });
            if table.len() >= self.max_entries
                && let Some(oldest) = table.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| *k)
            {
                table.remove(&oldest);
            }
        }
        let b = table.entry(key).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }

    /// Clients in the table.
    pub fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn limiter_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// Why the visitor's address could not be told.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(pub &'static str);

/// Hops of a forwarded header looked at: a real chain has a few.
const MAX_HOPS: usize = 64;

/// The visitor's address: the peer's, unless the peer is a trusted proxy;
/// then the right-most hop of the configured header that is not a trusted
/// proxy (hops to its left were written by the client or by proxies we
/// know nothing of, and can name anything). A chain of trusted proxies
/// only gives its left-most hop; a trusted peer without the header is
/// itself the client. Always in canonical form (an IPv4-mapped IPv6
/// address becomes the IPv4 address).
pub fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[Cidr],
    which: ForwardedHeader,
) -> Result<IpAddr, ClientError> {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return Ok(peer);
    }
    let name = match which {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => header::FORWARDED.as_str(),
    };
    // Several header lines are one list, in order (RFC 9110 5.3).
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all(name) {
        let v = v
            .to_str()
            .map_err(|_| ClientError("the forwarded header is not text"))?;
        match which {
            ForwardedHeader::XForwardedFor => hops.extend(v.split(',')),
            ForwardedHeader::Forwarded => {
                for element in v.split(',') {
                    let hop = element.split(';').find_map(|pair| {
                        let (k, v) = pair.split_once('=')?;
                        k.trim().eq_ignore_ascii_case("for").then_some(v)
                    });
                    // An element without `for` says nothing of the client.
                    hops.push(hop.unwrap_or(""));
                }
            }
        }
    }
    let mut client = peer;
    for hop in hops.iter().rev().take(MAX_HOPS) {
        let ip = parse_hop(hop)
            .ok_or(ClientError("a forwarded address is malformed or hidden"))?
            .to_canonical();
        client = ip;
        if !is_trusted(ip) {
            return Ok(ip);
        }
    }
    if hops.len() > MAX_HOPS {
        return Err(ClientError("too many forwarded hops"));
    }
    Ok(client)
}

/// One hop: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`,
/// quoted or not (RFC 7239 quotes those with a colon).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let h = hop.trim();
    let h = h
        .strip_prefix('"')
        .and_then(|h| h.strip_suffix('"'))
        .unwrap_or(h);
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = h.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    h.parse::<SocketAddr>().ok().map(|s| s.ip())
}

/// Families kept per address: a report naming thousands for one address
/// is hostile, not informative.
const MAX_FAMILIES_PER_ADDRESS: usize = 32;
/// Characters of a family name kept (names are short words).
const MAX_FAMILY_CHARS: usize = 64;
/// Report types told apart (each a bit); more are not recorded.
const MAX_REPORT_TYPES: usize = 16;
/// Row errors logged one by one per load; the rest are counted.
const MAX_LOGGED_ERRORS: u64 = 100;

/// What the reports say of one family at one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The family as the reports name it (lower case), or `None`.
    pub family: Option<Arc<str>>,
    /// First time seen (microseconds since 1970 UTC), if any row had one.
    pub first: Option<i64>,
    /// Last time seen.
    pub last: Option<i64>,
    /// Events.
    pub count: u64,
    /// Report types that saw it (bits into [`Data::report_types`]).
    pub report_types: u16,
}

/// What loading the reports found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadStats {
    /// Reports read.
    pub reports: usize,
    /// Events read.
    pub events: u64,
    /// Events kept (notifiable addresses).
    pub kept: u64,
    /// Distinct addresses kept.
    pub addresses: usize,
    /// Rows that could not be read.
    pub row_errors: u64,
    /// Events of addresses nobody can be told of (private, loopback,
    /// documentation, ...): not loaded.
    pub not_notifiable: u64,
    /// Events without an address.
    pub without_address: u64,
    /// Events over a per-address limit (families), counted, not kept.
    pub over_limits: u64,
}

/// The loaded data: address to families.
pub struct Data {
    by_address: HashMap<IpAddr, Vec<Seen>>,
    /// The report types (`sinkhole-http`, ...) the bits of
    /// [`Seen::report_types`] name.
    pub report_types: Vec<Arc<str>>,
    /// Counts.
    pub stats: LoadStats,
    /// When loading finished.
    pub loaded_at: SystemTime,
}

impl Data {
    /// What the reports say of `ip` (compared canonically).
    pub fn lookup(&self, ip: IpAddr) -> Option<&[Seen]> {
        self.by_address.get(&ip.to_canonical()).map(Vec::as_slice)
    }

    /// The report type names of a [`Seen::report_types`] set.
    pub fn types_of(&self, bits: u16) -> Vec<&str> {
        self.report_types
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, t)| &**t)
            .collect()
    }

    /// Reads the reports. Fails on the first that cannot be read, naming
    /// it; rows that cannot be read are counted and logged.
    pub fn load(reports: &[PathBuf]) -> anyhow::Result<Data> {
        let mut by_address: HashMap<IpAddr, Vec<Seen>> = HashMap::new();
        let mut families: HashMap<String, Arc<str>> = HashMap::new();
        let mut report_types: Vec<Arc<str>> = Vec::new();
        let mut stats = LoadStats::default();
        let mut logged = 0u64;
        for path in reports {
            let mut on_event = |ev: &takedown_notify::Event| {
                stats.events += 1;
                let Some(ip) = ev.ip else {
                    stats.without_address += 1;
                    return;
                };
                let ip = ip.to_canonical();
                if !takedown_notify::report::is_notifiable(ip) {
                    stats.not_notifiable += 1;
                    return;
                }
                let family = ev.family.as_deref().map(|f| {
                    let f: String = f
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(MAX_FAMILY_CHARS)
                        .collect();
                    families
                        .entry(f)
                        .or_insert_with_key(|k| Arc::from(k.as_str()))
                        .clone()
                });
                let type_bit = match report_types.iter().position(|t| **t == *ev.report_type) {
                    Some(i) => 1u16 << i,
                    None if report_types.len() < MAX_REPORT_TYPES => {
                        report_types.push(Arc::from(ev.report_type.as_str()));
                        1u16 << (report_types.len() - 1)
                    }
                    None => 0,
                };
                let list = by_address.entry(ip).or_default();
                let seen = match list.iter_mut().position(|s| s.family == family) {
                    Some(i) => &mut list[i],
                    None if list.len() < MAX_FAMILIES_PER_ADDRESS => {
                        list.push(Seen {
                            family,
                            first: None,
                            last: None,
                            count: 0,
                            report_types: 0,
                        });
                        let last = list.len() - 1;
                        &mut list[last]
                    }
                    None => {
                        stats.over_limits += 1;
                        return;
                    }
                };
                stats.kept += 1;
                seen.count += 1;
                seen.report_types |= type_bit;
                if let Some(t) = ev.time {
                    seen.first = Some(seen.first.map_or(t, |f| f.min(t)));
                    seen.last = Some(seen.last.map_or(t, |l| l.max(t)));
                }
            };
            let mut on_error = |e: takedown_notify::report::RowError| {
                stats.row_errors += 1;
                if logged < MAX_LOGGED_ERRORS {
                    logged += 1;
                    tracing::warn!(file = %e.file, line = e.line, reason = %e.reason, "self-check report row not read");
                }
            };
            takedown_notify::report::read_path(path, &mut on_event, &mut on_error)
                .map_err(|e| anyhow::anyhow!("cannot read self-check report {e}"))?;
            stats.reports += 1;
        }
        if stats.row_errors > logged {
            tracing::warn!(
                "{} more self-check report rows not read",
                stats.row_errors - logged
            );
        }
        stats.addresses = by_address.len();
        by_address.shrink_to_fit();
        Ok(Data {
            by_address,
            report_types,
            stats,
            loaded_at: SystemTime::now(),
        })
    }
}

/// The running self-check: the settings, the loaded data (swapped whole
/// on reload) and the rate limiter.
pub struct SelfCheck {
    /// Settings.
    pub settings: SelfCheckSettings,
    data: ArcSwap<Data>,
    /// The rate limiter.
    pub limiter: Limiter,
    reloading: Mutex<()>,
}

impl SelfCheck {
    /// Loads the reports (blocking).
    pub fn load(settings: SelfCheckSettings) -> anyhow::Result<SelfCheck> {
        let data = Data::load(&settings.reports)?;
        log_loaded(&data);
        Ok(SelfCheck {
            limiter: Limiter::new(settings.rate, MAX_LIMITER_ENTRIES),
            settings,
            data: ArcSwap::from_pointee(data),
            reloading: Mutex::new(()),
        })
    }

    /// The data lookups use now.
    pub fn data(&self) -> Arc<Data> {
        self.data.load_full()
    }

    /// Reads the reports again and swaps the new data in (blocking); on
    /// failure the loaded data stays.
    pub fn reload(&self) -> anyhow::Result<Arc<Data>> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let data = Arc::new(Data::load(&self.settings.reports)?);
        log_loaded(&data);
        self.data.store(data.clone());
        Ok(data)
    }

    /// The visitor's address for a request from `peer`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Result<IpAddr, ClientError> {
        client_address(
            peer,
            headers,
            &self.settings.trusted_proxies,
            self.settings.header,
        )
    }
}

fn log_loaded(data: &Data) {
    let s = &data.stats;
    tracing::info!(
        reports = s.reports,
        events = s.events,
        addresses = s.addresses,
        row_errors = s.row_errors,
        not_notifiable = s.not_notifiable,
        "self-check data loaded"
    );
}

/// What the visitor asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `GET /v1/check`.
    Json,
    /// `GET /check`.
    Html,
}

/// `GET /check`.
pub async fn page(State(app): State<Arc<Service>>, req: Request) -> Response {
    handle(&app, req, Format::Html)
}

/// `GET /v1/check`.
pub async fn api(State(app): State<Arc<Service>>, req: Request) -> Response {
    handle(&app, req, Format::Json)
}

fn handle(app: &Service, req: Request, format: Format) -> Response {
    let what = match format {
        Format::Json => "check",
        Format::Html => "check-page",
    };
    let Some(check) = &app.selfcheck else {
        app.metrics.request("http", what, "404");
        return ApiError {
            status: StatusCode::NOT_FOUND,
            message: "the self-check is not enabled (takedown serve --self-check REPORT)".into(),
        }
        .into_response();
    };
    // Set by the accept loop for every connection.
    let Some(peer) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
    else {
        app.metrics.request("http", what, "500");
        return ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "no peer address".into(),
        }
        .into_response();
    };
    // Only the query's `lang` is read; the body never is.
    let r = respond(
        check,
        &app.i18n,
        peer,
        req.headers(),
        req.uri().query(),
        format,
        Instant::now(),
    );
    app.metrics.request("http", what, r.status().as_str());
    r
}

/// The answer to a check from `peer`: everything but the transport, so
/// that the tests can give any peer address.
pub fn respond(
    check: &SelfCheck,
    catalog: &i18n::Catalog,
    peer: SocketAddr,
    headers: &HeaderMap,
    query: Option<&str>,
    format: Format,
    now: Instant,
) -> Response {
    let (lang, source) = i18n::choose(query, headers);
    let texts = Texts { catalog, lang };
    let mut r = match check.client(peer.ip(), headers) {
        Err(e) => {
            // The reason only: the service logs no visitor's address.
            tracing::debug!(error = %e, "self-check: no client address");
            failure(
                texts,
                source,
                format,
                StatusCode::BAD_REQUEST,
                texts.html("check.no_address"),
            )
        }
        Ok(client) => match check.limiter.take(client, now) {
            Err(wait) => {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                let mut r = failure(
                    texts,
                    source,
                    format,
                    StatusCode::TOO_MANY_REQUESTS,
                    texts.fill("check.rate_limited", &[("seconds", &secs.to_string())]),
                );
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            Ok(()) => {
                let data = check.data();
                let found = data.lookup(client);
                match format {
                    Format::Json => Json(answer(texts, client, found)).into_response(),
                    Format::Html => web::html(
                        StatusCode::OK,
                        web::check_page(texts, source, &render(texts, client, found)),
                    ),
                }
            }
        },
    };
    i18n::decorate(r.headers_mut(), lang, source);
    r
}

fn failure(
    texts: Texts<'_>,
    source: Source,
    format: Format,
    status: StatusCode,
    message_html: String,
) -> Response {
    match format {
        Format::Json => {
            let mut r = (
                status,
                Json(serde_json::json!({ "error": html_to_text(&message_html) })),
            )
                .into_response();
            crate::http::decorate(&mut r, status);
            r
        }
        Format::Html => web::html(
            status,
            web::check_page(
                texts,
                source,
                &format!(
                    r#"<section id="check" data-listed="unknown"><p id="message" class="verdict error">{message_html}</p></section>"#
                ),
            ),
        ),
    }
}

/// Undoes [`escape`] for a JSON answer built from the same text.
fn html_to_text(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The answer of `GET /v1/check`.
#[derive(Serialize)]
pub struct CheckAnswer {
    /// The visitor's address as the service sees it.
    pub address: String,
    /// Whether it is in the data.
    pub listed: bool,
    /// The language of the texts.
    pub lang: &'static str,
    /// Only for a listed address: what was seen, most recent first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub families: Option<Vec<FamilyAnswer>>,
    /// The online scan page.
    pub scan_url: &'static str,
}

/// One family in a [`CheckAnswer`].
#[derive(Serialize)]
pub struct FamilyAnswer {
    /// The family as the reports name it (`null`: unnamed).
    pub family: Option<String>,
    /// First day seen (`YYYY-MM-DD`, UTC), when the reports have times.
    pub first_seen: Option<String>,
    /// Last day seen.
    pub last_seen: Option<String>,
    /// Cleanup steps in the visitor's language.
    pub cleanup: Vec<String>,
}

/// The online scan page every answer links to.
const SCAN_URL: &str = "/";

fn iso_date(micros: Option<i64>) -> Option<String> {
    let (y, m, d) = i18n::ymd(micros?)?;
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// Most recent first; unnamed and undated last.
fn ordered(found: &[Seen]) -> Vec<&Seen> {
    let mut v: Vec<&Seen> = found.iter().collect();
    v.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.family.cmp(&b.family)));
    v
}

fn answer(texts: Texts<'_>, client: IpAddr, found: Option<&[Seen]>) -> CheckAnswer {
    CheckAnswer {
        address: client.to_string(),
        listed: found.is_some(),
        lang: texts.lang.code(),
        families: found.map(|f| {
            ordered(f)
                .into_iter()
                .map(|s| FamilyAnswer {
                    family: s.family.as_deref().map(str::to_string),
                    first_seen: iso_date(s.first),
                    last_seen: iso_date(s.last),
                    cleanup: cleanup_steps(texts, s.family.as_deref()).to_vec(),
                })
                .collect()
        }),
        scan_url: SCAN_URL,
    }
}

/// Other names of the families the translation files have steps for.
const ALIASES: &[(&str, &str)] = &[
    ("qbot", "qakbot"),
    ("quakbot", "qakbot"),
    ("pinkslipbot", "qakbot"),
    ("heodo", "emotet"),
    ("geodo", "emotet"),
    ("downadup", "conficker"),
    ("kido", "conficker"),
];

/// The cleanup steps of a family in the visitor's language: its own
/// (`cleanup.FAMILY.steps`), else the generic ones.
pub fn cleanup_steps<'a>(texts: Texts<'a>, family: Option<&str>) -> &'a [String] {
    let own = family
        .map(|f| f.to_ascii_lowercase())
        .filter(|f| {
            !f.is_empty()
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(|f| {
            ALIASES
                .iter()
                .find(|(a, _)| *a == f)
                .map_or(f.clone(), |(_, canon)| canon.to_string())
        })
        .and_then(|f| {
            texts
                .catalog
                .list(texts.lang, &format!("cleanup.{f}.steps"))
        });
    own.or_else(|| texts.catalog.list(texts.lang, "cleanup.generic.steps"))
        .unwrap_or_default()
}

fn render(texts: Texts<'_>, client: IpAddr, found: Option<&[Seen]>) -> String {
    let address = client.to_string();
    let mut out = String::new();
    let Some(found) = found else {
        let _ = write!(
            out,
            r#"<section id="check" data-listed="false"><p id="address">{}</p><p id="verdict" class="verdict clean">{}</p><p class="hint">{}</p></section>"#,
            texts.fill("check.your_address", &[("address", &address)]),
            texts.html("check.not_listed"),
            texts.html("check.not_listed_hint"),
        );
        return out;
    };
    let _ = write!(
        out,
        r#"<section id="check" data-listed="true"><p id="address">{}</p><p id="verdict" class="verdict infected">{}</p><p class="shared">{}</p><ul class="families">"#,
        texts.fill("check.your_address", &[("address", &address)]),
        texts.html("check.listed"),
        texts.html("check.shared"),
    );
    for s in ordered(found) {
        let name = match &s.family {
            Some(f) => escape(f),
            None => texts.html("check.unknown_family"),
        };
        let _ = write!(
            out,
            r#"<li class="family" data-family="{name}"><h2><span class="label">{}</span> <span class="family-name">{name}</span></h2><dl class="dates">"#,
            texts.html("check.family"),
        );
        for (key, t, class) in [
            ("check.first_seen", s.first, "first-seen"),
            ("check.last_seen", s.last, "last-seen"),
        ] {
            if let (Some(t), Some(iso)) = (t, iso_date(t)) {
                let _ = write!(
                    out,
                    r#"<dt>{}</dt><dd class="{class}"><time datetime="{iso}">{}</time></dd>"#,
                    texts.html(key),
                    i18n::date(texts, t),
                );
            }
        }
        let _ = write!(
            out,
            r#"</dl><h3>{}</h3><ol class="steps">"#,
            texts.html("check.cleanup")
        );
        for step in cleanup_steps(texts, s.family.as_deref()) {
            let _ = write!(out, "<li>{}</li>", escape(step));
        }
        out.push_str("</ol></li>");
    }
    out.push_str("</ul></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    /// A public address (documentation ranges are not notifiable, and the
    /// loader drops them).
    const LISTED_V4: &str = "81.2.69.142";
    const LISTED_V6: &str = "2a02:c7f:1234::5";
    const OTHER: &str = "81.2.69.160";

    fn report(dir: &std::path::Path) -> PathBuf {
        let p = dir.join("event4_sinkhole-test.csv");
        std::fs::write(
            &p,
            format!(
                "timestamp,src_ip,src_port,dst_ip,dst_port,infection,family\n\
                 2026-03-01 10:00:00,{LISTED_V4},4000,198.51.100.9,80,mirai,mirai\n\
                 2026-03-05 11:00:00,{LISTED_V4},4001,198.51.100.9,80,mirai,mirai\n\
                 2026-02-20 09:00:00,{LISTED_V4},4002,198.51.100.9,80,qbot,qbot\n\
                 2026-03-02 12:00:00,{LISTED_V6},4003,198.51.100.9,80,emotet,emotet\n\
                 2026-03-02 12:00:00,10.1.2.3,4004,198.51.100.9,80,mirai,mirai\n\
                 2026-03-02 12:00:00,127.0.0.1,4005,198.51.100.9,80,mirai,mirai\n\
                 not-a-time,{OTHER},4006,198.51.100.9,80,mirai,mirai\n"
            ),
        )
        .unwrap();
        p
    }

    fn selfcheck(dir: &std::path::Path, trusted: &[&str], rate: &str) -> SelfCheck {
        SelfCheck::load(SelfCheckSettings {
            reports: vec![report(dir)],
            trusted_proxies: trusted.iter().map(|c| Cidr::parse(c).unwrap()).collect(),
            header: ForwardedHeader::XForwardedFor,
            rate: Rate::parse(rate).unwrap(),
        })
        .unwrap()
    }

    fn body(r: Response) -> (StatusCode, HeaderMap, String) {
        let status = r.status();
        let headers = r.headers().clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let b = rt.block_on(to_bytes(r.into_body(), 1 << 20)).unwrap();
        (status, headers, String::from_utf8(b.to_vec()).unwrap())
    }

    fn ask(
        c: &SelfCheck,
        peer: &str,
        headers: &[(&str, &str)],
        query: Option<&str>,
        format: Format,
    ) -> (StatusCode, HeaderMap, String) {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let catalog = i18n::Catalog::builtin();
        body(respond(
            c,
            &catalog,
            peer.parse().unwrap(),
            &h,
            query,
            format,
            Instant::now(),
        ))
    }

    #[test]
    fn loader_keeps_notifiable_addresses_per_family() {
        let dir = tempfile::tempdir().unwrap();
        let c = selfcheck(dir.path(), &[], "10/min");
        let d = c.data();
        assert_eq!(d.stats.addresses, 2, "{:?}", d.stats);
        assert_eq!(d.stats.not_notifiable, 2);
        assert_eq!(d.stats.row_errors, 1);
        let seen = d.lookup(LISTED_V4.parse().unwrap()).unwrap();
        let mirai = seen
            .iter()
            .find(|s| s.family.as_deref() == Some("mirai"))
            .unwrap();
        assert_eq!(mirai.count, 2);
        assert_eq!(iso_date(mirai.first).as_deref(), Some("2026-03-01"));
        assert_eq!(iso_date(mirai.last).as_deref(), Some("2026-03-05"));
        assert_eq!(d.types_of(mirai.report_types), vec!["sinkhole-events"]);
        assert!(d.lookup("10.1.2.3".parse().unwrap()).is_none());
        assert!(d.lookup(OTHER.parse().unwrap()).is_none());
        // The mapped form finds the IPv4 entry.
        assert!(d.lookup("::ffff:81.2.69.142".parse().unwrap()).is_some());
    }

    #[test]
    fn an_unreadable_report_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv");
        let e = Data::load(&[missing]).err().unwrap().to_string();
        assert!(e.contains("nope.csv"), "{e}");
        let junk = dir.path().join("junk.csv");
        std::fs::write(&junk, "hello,world\n1,2\n").unwrap();
        let e = Data::load(&[junk]).err().unwrap().to_string();
        assert!(e.contains("junk.csv"), "{e}");
    }

    /// The direct path: no proxy, the peer address is the visitor's.
    #[test]
    fn direct_peer_sees_itself_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let c = selfcheck(dir.path(), &[], "100/min");
        let (status, h, text) = ask(&c, "81.2.69.142:5000", &[], None, Format::Json);
        assert_eq!(status, 200, "{text}");
        assert_eq!(h[header::VARY], "Accept-Language, Cookie");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["address"], LISTED_V4);
        assert_eq!(v["listed"], true);
        assert_eq!(v["families"][0]["family"], "mirai");
        assert_eq!(v["families"][0]["first_seen"], "2026-03-01");
        assert_eq!(v["families"][0]["last_seen"], "2026-03-05");
        assert_eq!(v["families"][1]["family"], "qbot");
        let qbot_steps = v["families"][1]["cleanup"][0].as_str().unwrap();
        assert!(qbot_steps.contains("Qakbot"), "alias: {qbot_steps}");
        assert!(!text.contains("emotet"), "another address's family: {text}");

        // An IPv4-mapped peer (a dual-stack listener) is the same visitor.
        let (_, _, text) = ask(&c, "[::ffff:81.2.69.142]:5000", &[], None, Format::Json);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["address"], LISTED_V4);
        assert_eq!(v["listed"], true);

        // The IPv6 visitor sees only its own family.
        let (_, _, text) = ask(&c, "[2a02:c7f:1234::5]:5000", &[], None, Format::Json);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["listed"], true);
        assert_eq!(v["families"].as_array().unwrap().len(), 1);
        assert_eq!(v["families"][0]["family"], "emotet");
        assert!(!text.contains("mirai"), "{text}");

        // Not listed: only that.
        let (status, _, text) = ask(&c, "81.2.69.160:5000", &[], None, Format::Json);
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"address": OTHER, "listed": false, "lang": "en", "scan_url": "/"})
        );

        // An untrusted peer's forwarded header is ignored.
        let (_, _, text) = ask(
            &c,
            "81.2.69.160:5000",
            &[
                ("X-Forwarded-For", LISTED_V4),
                ("Forwarded", "for=81.2.69.142"),
            ],
            Some("ip=81.2.69.142&address=81.2.69.142"),
            Format::Json,
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["address"], OTHER);
        assert_eq!(v["listed"], false);
    }

    #[test]
    fn html_page_in_the_visitors_language() {
        let dir = tempfile::tempdir().unwrap();
        let c = selfcheck(dir.path(), &[], "100/min");
        let (status, h, page) = ask(
            &c,
            "81.2.69.142:5000",
            &[("Accept-Language", "ja,en;q=0.5")],
            None,
            Format::Html,
        );
        assert_eq!(status, 200);
        assert_eq!(h[header::CONTENT_LANGUAGE], "ja");
        assert!(page.contains(r#"<html lang="ja">"#), "{page}");
        assert!(page.contains("初回観測日"), "{page}");
        assert!(page.contains("2026年3月1日"), "{page}");
        assert!(page.contains("Mirai は"), "{page}");
        assert!(!page.contains("<script"), "the check page needs no script");
        // The switch sets a cookie.
        let (_, h, page) = ask(&c, "81.2.69.142:5000", &[], Some("lang=de"), Format::Html);
        assert!(page.contains("Zuerst gesehen"), "{page}");
        assert!(
            h[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .starts_with("lang=de;"),
            "{h:?}"
        );
    }

    #[test]
    fn trusted_proxy_names_the_right_most_untrusted_hop() {
        let trusted = [
            Cidr::parse("127.0.0.1/32").unwrap(),
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("::1").unwrap(),
        ];
        let xff = |peer: &str, values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
            }
            client_address(
                peer.parse().unwrap(),
                &h,
                &trusted,
                ForwardedHeader::XForwardedFor,
            )
        };
        let ip = |s: &str| Ok(s.parse::<IpAddr>().unwrap());
        // The client wrote the left part; the proxy appended the right.
        assert_eq!(
            xff("127.0.0.1", &["1.1.1.1, 81.2.69.142"]),
            ip("81.2.69.142")
        );
        assert_eq!(
            xff("127.0.0.1", &["1.1.1.1", "81.2.69.142, 10.0.0.5"]),
            ip("81.2.69.142")
        );
        assert_eq!(
            xff("::ffff:127.0.0.1", &["[2a02:c7f::1]:443"]),
            ip("2a02:c7f::1")
        );
        assert_eq!(xff("::1", &["81.2.69.142:5555"]), ip("81.2.69.142"));
        assert_eq!(xff("::1", &["::ffff:81.2.69.142"]), ip("81.2.69.142"));
        // A trusted peer without the header is the client itself.
        assert_eq!(xff("127.0.0.1", &[]), ip("127.0.0.1"));
        // Only trusted hops: the left-most.
        assert_eq!(xff("127.0.0.1", &["10.0.0.7, 10.0.0.5"]), ip("10.0.0.7"));
        // An untrusted peer: the header is not read.
        assert_eq!(xff("81.2.69.160", &["81.2.69.142"]), ip("81.2.69.160"));
        // Garbage where the client's hop should be.
        assert!(xff("127.0.0.1", &["<script>"]).is_err());
        assert!(xff("127.0.0.1", &["81.2.69.142, "]).is_err());
        // Garbage to the left of the client's hop is never reached.
        assert_eq!(xff("127.0.0.1", &["junk, 81.2.69.142"]), ip("81.2.69.142"));

        let fwd = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::FORWARDED, HeaderValue::from_str(v).unwrap());
            h.insert("x-forwarded-for", HeaderValue::from_static("9.9.9.9"));
            client_address(
                "127.0.0.1".parse().unwrap(),
                &h,
                &trusted,
                ForwardedHeader::Forwarded,
            )
        };
        assert_eq!(
            fwd(r#"for=1.1.1.1, for="[2a02:c7f::1]:4711";proto=https, for=10.0.0.1"#),
            ip("2a02:c7f::1")
        );
        assert_eq!(fwd("For=81.2.69.142;by=10.0.0.1"), ip("81.2.69.142"));
        assert!(fwd("for=unknown").is_err());
        assert!(fwd("for=_hidden").is_err());
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.255.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.0.1".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            !Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            Cidr::parse("::/0")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        let m = Cidr::parse("::ffff:127.0.0.1/128").unwrap();
        assert_eq!(m, Cidr::parse("127.0.0.1/32").unwrap());
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "x/8",
            "10.0.0.0/",
            "::ffff:1.2.3.4/90",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_buckets_refill_and_the_table_stays_bounded() {
        let rate = Rate::parse("3/min").unwrap();
        assert_eq!(rate.capacity, 3);
        let l = Limiter::new(rate, 4);
        let t0 = Instant::now();
        let a: IpAddr = "81.2.69.142".parse().unwrap();
        for _ in 0..3 {
            assert!(l.take(a, t0).is_ok());
        }
        let wait = l.take(a, t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(l.take(a, t0 + Duration::from_secs(21)).is_ok());
        // IPv6 clients share their /64.
        let v6a: IpAddr = "2a02:c7f:1:2::1".parse().unwrap();
        let v6b: IpAddr = "2a02:c7f:1:2:ffff::9".parse().unwrap();
        for _ in 0..3 {
            assert!(l.take(v6a, t0).is_ok());
        }
        assert!(l.take(v6b, t0).is_err());
        // Many clients: never more than the cap; the oldest goes first.
        for i in 0..1000u32 {
            let ip = IpAddr::V4((0x5100_0000 + i).into());
            assert!(l.take(ip, t0 + Duration::from_millis(u64::from(i))).is_ok());
            assert!(l.len() <= 4);
        }
        for bad in ["0/min", "x/min", "5/fortnight", "2000000/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Rate::parse("7").unwrap().period, Duration::from_secs(60));
    }

    #[test]
    fn rate_limited_answers_say_when_to_retry() {
        let dir = tempfile::tempdir().unwrap();
        let c = selfcheck(dir.path(), &[], "2/min");
        for _ in 0..2 {
            assert_eq!(ask(&c, "81.2.69.142:1", &[], None, Format::Json).0, 200);
        }
        let (status, h, text) = ask(&c, "81.2.69.142:1", &[], None, Format::Json);
        assert_eq!(status, 429, "{text}");
        let retry: u64 = h[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((29..=30).contains(&retry), "{retry}");
        assert!(text.contains("Too many checks"), "{text}");
        let (status, _, page) = ask(
            &c,
            "81.2.69.142:1",
            &[("Accept-Language", "de")],
            None,
            Format::Html,
        );
        assert_eq!(status, 429);
        assert!(page.contains("Zu viele Abfragen"), "{page}");
        assert!(!page.contains("mirai"), "{page}");
        // Another client is not limited.
        assert_eq!(ask(&c, "81.2.69.160:1", &[], None, Format::Json).0, 200);
    }

    #[test]
    fn reload_swaps_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let c = selfcheck(dir.path(), &[], "10/min");
        assert!(c.data().lookup(OTHER.parse().unwrap()).is_none());
        std::fs::write(
            &c.settings.reports[0],
            format!(
                "timestamp,src_ip,src_port,dst_ip,dst_port,infection,family\n\
                 2026-03-09 10:00:00,{OTHER},4000,198.51.100.9,80,conficker,conficker\n"
            ),
        )
        .unwrap();
        let d = c.reload().unwrap();
        assert!(d.lookup(OTHER.parse().unwrap()).is_some());
        assert!(d.lookup(LISTED_V4.parse().unwrap()).is_none());
        std::fs::remove_file(&c.settings.reports[0]).unwrap();
        assert!(c.reload().is_err());
        assert!(
            c.data().lookup(OTHER.parse().unwrap()).is_some(),
            "the loaded data stays"
        );
    }

    #[test]
    fn hostile_family_names_are_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv");
        std::fs::write(
            &p,
            format!(
                "timestamp,src_ip,src_port,dst_ip,dst_port,infection,family\n\
                 2026-03-01 10:00:00,{LISTED_V4},4000,198.51.100.9,80,\"<img src=x onerror=alert(1)>\",\"<img src=x onerror=alert(1)>\"\n"
            ),
        )
        .unwrap();
        let c = SelfCheck::load(SelfCheckSettings {
            reports: vec![p],
            trusted_proxies: vec![],
            header: ForwardedHeader::XForwardedFor,
            rate: Rate::parse("10/min").unwrap(),
        })
        .unwrap();
        let (_, _, page) = ask(&c, "81.2.69.142:1", &[], None, Format::Html);
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{page}"
        );
    }
}
