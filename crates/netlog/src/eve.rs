//! Suricata EVE JSON: `dns`, `http`, `tls` and `flow` records.
//!
//! One JSON object per line, its kind in `event_type`, the protocol's
//! fields under an object of the same name (Suricata user guide, "Eve
//! JSON Format", doc/userguide/output/eve/eve-json-format.rst in
//! OISF/suricata; the JSON schema etc/schema.json). Other event types
//! (`alert`, `stats`, `fileinfo`, `anomaly`, `netflow`, ...) are
//! [`Outcome::Ignored`].
//!
//! DNS comes in three layouts, all read:
//!
//! * v1 (Suricata before 4.1, and `version: 1` until 7): one record per
//!   query (`"type":"query"`, `rrname`, `rrtype`) and one per answer
//!   record (`"type":"answer"` with the record's `rrname`, `rrtype`,
//!   `ttl`, `rdata` directly in `dns`).
//! * v2 (`"version":2`, Suricata 4.1 to 7): queries as in v1, one
//!   `answer` record per response with the question in `rrname`/`rrtype`
//!   and the answers as an `answers` array of `{rrname, rrtype, ttl,
//!   rdata}` ("detailed") and/or a `grouped` object `{"A": [...],
//!   "CNAME": [...]}` ("grouped").
//! * v3 (`"version":3`, Suricata 8, doc/userguide/upgrade/
//!   8.0-dns-logging-changes.rst): `"type":"request"` / `"response"`,
//!   the questions in a `queries` array, the answers as in v2.
//!
//! Addresses: v1 and v2 log every DNS record in the flow's direction
//! (`src_ip` the client). v3 logs a response in the packet's direction,
//! `src_ip` the server (Suricata ticket 6400, output-json-dns.c:
//! `LOG_DIR_PACKET`, `LOG_DIR_FLOW_TOCLIENT` over TCP), except DNS over
//! HTTP/2, which stays in the flow's direction (its records carry an
//! `http` object). Logs of Suricata before 5.0.3 wrote v1/v2 answers in
//! the packet's direction too, so a response whose one port is 53 is
//! read by that port first, the version only when the ports do not tell.
//!
//! The reader deserialises straight into the caller's [`Event`] with
//! serde visitors (no intermediate value tree, strings borrowed from the
//! line unless they hold escapes); serde_json's recursion limit bounds
//! nesting, and answers are capped at [`MAX_ANSWERS`].

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::event::{Answer, AnswerData, Event, EventKind, Outcome, rrtype_from_name, unix_micros};

/// Longest name (query name, Host, SNI, answer name) kept, in bytes: a
/// DNS name is at most 253 characters; the margin covers escapes.
pub(crate) const MAX_NAME: usize = 1024;

/// Longest URL built, in bytes; a longer one is left out of the event
/// (which keeps its name and addresses).
pub(crate) const MAX_URL: usize = 8192;

/// Most answers kept per event; the rest of an answer section is read
/// (the line is validated) but not kept.
pub(crate) const MAX_ANSWERS: usize = 128;

/// The reason of every record of a type the hunt does not read.
const NOT_HUNTED: &str = "EVE event type not hunted";

// ---------------------------------------------------------------------
// JSON helpers shared with the Zeek JSON and COF readers.

/// A JSON string borrowed from the line, or owned when it held escapes.
pub(crate) struct Str<'de>(pub(crate) Cow<'de, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON number (or a string holding one: some pDNS servers quote
/// their numbers), kept as read so that range checks give a precise
/// reason instead of a deserialisation error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    /// A non-negative integer.
    U(u64),
    /// A negative integer.
    I(i64),
    /// A number with a fraction or an exponent.
    F(f64),
}

impl Num {
    /// The value as an unsigned integer, when it is one.
    pub(crate) fn to_u64(self) -> Option<u64> {
        match self {
            Num::U(u) => Some(u),
            Num::I(_) => None,
            // Integers written as floats (`3600.0`).
            Num::F(f) if f >= 0.0 && f <= 9_007_199_254_740_992.0 && f.fract() == 0.0 => {
                Some(f as u64)
            }
            Num::F(_) => None,
        }
    }

    /// The value as a `u16` (port, RR type), when it fits.
    pub(crate) fn to_u16(self) -> Option<u16> {
        self.to_u64().and_then(|u| u16::try_from(u).ok())
    }

    /// Whole seconds of a duration such as a TTL (`3600.0`), saturating
    /// at `u32::MAX`; `None` when negative or not a number.
    pub(crate) fn to_ttl(self) -> Option<u32> {
        match self {
            Num::U(u) => Some(u32::try_from(u).unwrap_or(u32::MAX)),
            Num::I(_) => None,
            Num::F(f) if f.is_finite() && f >= 0.0 => Some(f.min(u32::MAX as f64) as u32),
            Num::F(_) => None,
        }
    }

    /// Microseconds since the epoch of a time in seconds (with a
    /// fraction or not); `None` out of the years 1970..=9999.
    pub(crate) fn secs_to_micros(self) -> Option<i64> {
        match self {
            Num::U(u) if u <= MAX_EPOCH_SECS => Some(u as i64 * 1_000_000),
            Num::F(f) => f64_secs_to_micros(f),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num::U(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(if v >= 0 { Num::U(v as u64) } else { Num::I(v) })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num::F(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                if let Ok(u) = v.parse::<u64>() {
                    Ok(Num::U(u))
                } else if let Ok(i) = v.parse::<i64>() {
                    Ok(Num::I(i))
                } else {
                    match v.parse::<f64>() {
                        Ok(f) if f.is_finite() => Ok(Num::F(f)),
                        _ => Err(E::custom("not a number")),
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The index of a map key in a fixed table (`usize::MAX` when not in
/// it): object keys are matched without allocating.
pub(crate) struct KeySeed(pub(crate) &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        Ok(self.0.iter().position(|k| *k == v).unwrap_or(usize::MAX))
    }
}

/// Latest time accepted, 9999-12-31T23:59:59Z, in seconds.
pub(crate) const MAX_EPOCH_SECS: u64 = 253_402_300_799;

/// Microseconds of a time in seconds read as a float. Split at the
/// second so that the fraction is rounded on its own: an `f64` epoch of
/// today is exact to about a quarter of a microsecond, which rounds to
/// the logged microsecond.
pub(crate) fn f64_secs_to_micros(f: f64) -> Option<i64> {
    if !f.is_finite() || f < 0.0 || f > MAX_EPOCH_SECS as f64 {
        return None;
    }
    let secs = f.trunc();
    let micros = ((f - secs) * 1e6).round() as i64;
    Some(secs as i64 * 1_000_000 + micros)
}

/// Microseconds since the epoch of decimal seconds `1591367999.305988`
/// (Zeek's `time`), read digit by digit: no float rounding. Digits past
/// the sixth of the fraction are dropped.
pub(crate) fn epoch_micros(s: &[u8]) -> Option<i64> {
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if int.is_empty() {
        return None;
    }
    let mut secs: u64 = 0;
    for &b in int {
        if !b.is_ascii_digit() {
            return None;
        }
        secs = secs * 10 + u64::from(b - b'0');
        if secs > MAX_EPOCH_SECS {
            return None;
        }
    }
    let mut micros: i64 = 0;
    if let Some(frac) = frac {
        if frac.is_empty() {
            return None;
        }
        for (i, &b) in frac.iter().enumerate() {
            if !b.is_ascii_digit() {
                return None;
            }
            if i < 6 {
                micros = micros * 10 + i64::from(b - b'0');
            }
        }
        for _ in frac.len()..6 {
            micros *= 10;
        }
    }
    Some(secs as i64 * 1_000_000 + micros)
}

/// Microseconds since the epoch of an ISO 8601 time stamp as Suricata
/// (`2026-12-06T20:41:45.123456+0000`) and Zeek
/// (`2026-12-06T20:41:45.123456Z`) write it: a fraction of any length
/// (first six digits kept), then `Z`, `±HHMM`, `±HH:MM`, `±HH` or
/// nothing (UTC); the offset is applied.
pub(crate) fn iso8601_micros(s: &[u8]) -> Option<i64> {
    fn num(s: &[u8]) -> Option<u32> {
        let mut v = 0u32;
        for &b in s {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(b - b'0');
        }
        Some(v)
    }
    let head = s.get(..19)?;
    if head[4] != b'-'
        || head[7] != b'-'
        || !matches!(head[10], b'T' | b't' | b' ')
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let year = num(&head[0..4])? as i32;
    let month = num(&head[5..7])?;
    let day = num(&head[8..10])?;
    let hour = num(&head[11..13])?;
    let minute = num(&head[14..16])?;
    let second = num(&head[17..19])?;
    let mut rest = &s[19..];
    let mut micros = 0u32;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (i, &b) in frac[..n].iter().enumerate() {
            if i < 6 {
                micros = micros * 10 + u32::from(b - b'0');
            }
        }
        for _ in n..6 {
            micros *= 10;
        }
        rest = &frac[n..];
    }
    let offset_minutes: i64 = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (h, m) = match tail {
                [h1, h2] => (num(&[*h1, *h2])?, 0),
                [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => (num(&[*h1, *h2])?, num(&[*m1, *m2])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let v = i64::from(h * 60 + m);
            if *sign == b'-' { -v } else { v }
        }
        _ => return None,
    };
    let local = unix_micros(year, month, day, hour, minute, second, micros)?;
    let t = local - offset_minutes * 60_000_000;
    (t >= 0).then_some(t)
}

/// The RR type number of a type as logged: a mnemonic (`A`, `CNAME`,
/// `TYPE65`) or a decimal number (Suricata and COF write unknown types
/// that way); 0 when unknown.
pub(crate) fn rrtype_code(s: &str) -> u16 {
    if s.is_empty() || !s.is_ascii() {
        // rrtype_from_name slices by bytes: keep other text away from it.
        return 0;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().unwrap_or(0);
    }
    rrtype_from_name(s)
}

/// How a record's data is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RdataStyle {
    /// Suricata: the name alone for MX (its preference is not logged);
    /// SRV's target comes from its `srv` object.
    Eve,
    /// A master file's right-hand side (COF): `10 mx.example.`,
    /// `0 5 443 target.example.`, `1 svc.example. alpn=h2`.
    MasterFile,
}

/// Appends to `answers` the answer [`answer_of`] makes of `rdata`, unless
/// [`MAX_ANSWERS`] are there already.
pub(crate) fn push_answer(
    answers: &mut Vec<Answer>,
    rrtype: u16,
    rdata: &str,
    ttl: Option<u32>,
    style: RdataStyle,
) -> Result<(), &'static str> {
    if answers.len() < MAX_ANSWERS {
        if let Some(a) = answer_of(rrtype, rdata, ttl, style)? {
            answers.push(a);
        }
    }
    Ok(())
}

/// The answer of type `rrtype` with data `rdata`, when hunting uses it:
/// the address of an A/AAAA record, the name of a CNAME, NS, PTR, DNAME,
/// MX, SRV, SVCB or HTTPS record. Other types (TXT, SOA, ...), empty
/// data and names longer than [`MAX_NAME`] give none. An A/AAAA record
/// whose data is not an address is an error.
pub(crate) fn answer_of(
    rrtype: u16,
    rdata: &str,
    ttl: Option<u32>,
    style: RdataStyle,
) -> Result<Option<Answer>, &'static str> {
    let rdata = rdata.trim_ascii();
    if rdata.is_empty() {
        return Ok(None);
    }
    let name = match rrtype {
        1 | 28 => {
            let addr = rdata
                .parse::<IpAddr>()
                .map_err(|_| "invalid answer address")?;
            return Ok(Some(Answer {
                data: AnswerData::Addr(addr),
                rrtype,
                ttl,
            }));
        }
        2 | 5 | 12 | 39 => rdata,
        15 if style == RdataStyle::MasterFile => {
            rdata.split_ascii_whitespace().last().unwrap_or("")
        }
        15 => rdata,
        33 if style == RdataStyle::MasterFile => {
            rdata.split_ascii_whitespace().nth(3).unwrap_or("")
        }
        33 => rdata,
        64 | 65 if style == RdataStyle::MasterFile => {
            rdata.split_ascii_whitespace().nth(1).unwrap_or("")
        }
        _ => return Ok(None),
    };
    // "." (the root) is SVCB's "same as the owner"; no name to hunt.
    if name.is_empty() || name == "." || name.len() > MAX_NAME {
        return Ok(None);
    }
    Ok(Some(Answer {
        data: AnswerData::Name(name.to_owned()),
        rrtype,
        ttl,
    }))
}

/// Copies `s` into `dst` as the event's name; an error when too long.
pub(crate) fn set_name(dst: &mut String, s: &str) -> Result<(), &'static str> {
    if s.len() > MAX_NAME {
        return Err("name too long");
    }
    dst.clear();
    dst.push_str(s);
    Ok(())
}

/// Whether `line` holds `needle` (SIMD search; sniffing only).
pub(crate) fn contains(line: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(line, needle).is_some()
}

// ---------------------------------------------------------------------
// The EVE record.

/// The event types read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum EveType {
    /// No `event_type` read yet.
    #[default]
    Unknown,
    Dns,
    Http,
    Tls,
    Flow,
    /// Another type: its objects are skipped.
    Other,
}

const TOP_KEYS: &[&str] = &[
    "timestamp",
    "event_type",
    "src_ip",
    "dest_ip",
    "src_port",
    "dest_port",
    "dns",
    "http",
    "tls",
];
const K_TIMESTAMP: usize = 0;
const K_EVENT_TYPE: usize = 1;
const K_SRC_IP: usize = 2;
const K_DEST_IP: usize = 3;
const K_SRC_PORT: usize = 4;
const K_DEST_PORT: usize = 5;
const K_DNS: usize = 6;
const K_HTTP: usize = 7;
const K_TLS: usize = 8;

/// What the top level of a record gave, before it is checked.
#[derive(Default)]
struct Top<'de> {
    timestamp: Option<Cow<'de, str>>,
    event_type: EveType,
    src_ip: Option<Cow<'de, str>>,
    dest_ip: Option<Cow<'de, str>>,
    src_port: Option<Num>,
    dest_port: Option<Num>,
    /// An `http` object was there (in a `dns` record: DNS over HTTP/2).
    has_http: bool,
    dns: DnsState<'de>,
    hostname: Option<Cow<'de, str>>,
    url: Option<Cow<'de, str>>,
    http_port: Option<Num>,
    sni: Option<Cow<'de, str>>,
}

/// What a `dns` object gave.
#[derive(Default)]
struct DnsState<'de> {
    version: Option<Num>,
    kind: Option<Cow<'de, str>>,
    rrname: Option<Cow<'de, str>>,
    rrtype: Option<Cow<'de, str>>,
    rdata: Option<Cow<'de, str>>,
    ttl: Option<Num>,
    /// The first question of a v3 `queries` array.
    q_name: Option<Cow<'de, str>>,
    q_type: Option<Cow<'de, str>>,
    /// The owner name of the first detailed answer (the question's name
    /// when a v2 answer record does not repeat it).
    first_owner: Option<Cow<'de, str>>,
    /// An `answers` or `grouped` member was there.
    has_answers: bool,
    /// The first answer that could not be read.
    bad: Option<&'static str>,
}

/// Reads one EVE line into `ev`.
pub fn parse(line: &[u8], ev: &mut Event) -> Outcome {
    let mut top = Top::default();
    let mut de = serde_json::Deserializer::from_slice(line);
    let read = TopSeed {
        ev: &mut *ev,
        top: &mut top,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if read.is_err() {
        return Outcome::Bad("invalid JSON");
    }
    match fill(&top, ev) {
        Ok(o) => o,
        Err(reason) => Outcome::Bad(reason),
    }
}

/// Checks what was read and fills the rest of `ev`.
fn fill(top: &Top, ev: &mut Event) -> Result<Outcome, &'static str> {
    let kind = match top.event_type {
        EveType::Unknown => return Err("EVE record without event_type"),
        EveType::Other => return Ok(Outcome::Ignored(NOT_HUNTED)),
        EveType::Dns => EventKind::Dns,
        EveType::Http => EventKind::Http,
        EveType::Tls => EventKind::Tls,
        EveType::Flow => EventKind::Flow,
    };
    ev.kind = kind;
    if let Some(ts) = &top.timestamp {
        ev.time = Some(iso8601_micros(ts.as_bytes()).ok_or("invalid time")?);
    }
    let src = addr(&top.src_ip)?;
    let dest = addr(&top.dest_ip)?;
    let src_port = port(top.src_port)?;
    let dest_port = port(top.dest_port)?;
    // The flow's direction unless said otherwise.
    ev.client = src;
    ev.server = dest;
    ev.server_port = dest_port;
    match kind {
        EventKind::Dns => fill_dns(top, src_port, dest_port, ev)?,
        EventKind::Http => {
            if let Some(host) = top.hostname.as_deref().filter(|h| !h.is_empty()) {
                set_name(&mut ev.name, host)?;
                if let Some(url) = top.url.as_deref() {
                    let port = match top.http_port {
                        None => None,
                        Some(n) => Some(n.to_u16().ok_or("invalid port")?),
                    };
                    build_url(&mut ev.url, host, port, url);
                }
            }
        }
        EventKind::Tls => {
            if let Some(sni) = top.sni.as_deref() {
                set_name(&mut ev.name, sni)?;
            }
        }
        EventKind::Flow => {}
    }
    Ok(Outcome::Event)
}

/// The DNS part of [`fill`]: which layout, which side is the client.
fn fill_dns(
    top: &Top,
    src_port: Option<u16>,
    dest_port: Option<u16>,
    ev: &mut Event,
) -> Result<(), &'static str> {
    let d = &top.dns;
    if let Some(reason) = d.bad {
        return Err(reason);
    }
    let version = d.version.and_then(Num::to_u64);
    let response = match d.kind.as_deref() {
        Some("query" | "request") => false,
        Some("answer" | "response") => true,
        _ => return Err("unknown EVE dns type"),
    };
    // v1 answer: one record per line, directly in `dns`.
    let v1_answer = response
        && !d.has_answers
        && !matches!(version, Some(2 | 3))
        && (d.rdata.is_some() || d.ttl.is_some());
    let name = d
        .q_name
        .as_deref()
        .or(d.rrname.as_deref())
        .or(d.first_owner.as_deref());
    if let Some(name) = name {
        set_name(&mut ev.name, name)?;
    }
    if v1_answer {
        let rrtype = d.rrtype.as_deref().map_or(0, rrtype_code);
        if let Some(rdata) = d.rdata.as_deref() {
            let ttl = d.ttl.and_then(Num::to_ttl);
            push_answer(&mut ev.answers, rrtype, rdata, ttl, RdataStyle::Eve)?;
        }
    } else {
        ev.qtype = d
            .q_type
            .as_deref()
            .or(d.rrtype.as_deref())
            .map_or(0, rrtype_code);
    }
    if response {
        let server_is_src = match (src_port, dest_port) {
            (Some(53), Some(p)) if p != 53 => true,
            (Some(p), Some(53)) if p != 53 => false,
            _ => version == Some(3) && !top.has_http,
        };
        if server_is_src {
            std::mem::swap(&mut ev.client, &mut ev.server);
            ev.server_port = src_port;
        }
    }
    Ok(())
}

/// The URL of an HTTP request: an absolute request target as it is, an
/// origin-form one (`/path`) after `http://host[:port]`. Others (a
/// CONNECT's `host:port`, `*`) give none, nor does an overlong one.
pub(crate) fn build_url(dst: &mut String, host: &str, port: Option<u16>, target: &str) {
    dst.clear();
    let absolute = target
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        || target
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("http://"));
    if absolute {
        if target.len() <= MAX_URL {
            dst.push_str(target);
        }
        return;
    }
    if !target.starts_with('/') || host.len() + target.len() + 14 > MAX_URL {
        return;
    }
    dst.push_str("http://");
    dst.push_str(host);
    if let Some(p) = port.filter(|&p| p != 80) {
        use std::fmt::Write;
        let _ = write!(dst, ":{p}");
    }
    dst.push_str(target);
}

fn addr(s: &Option<Cow<str>>) -> Result<Option<IpAddr>, &'static str> {
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| "invalid address"),
    }
}

fn port(n: Option<Num>) -> Result<Option<u16>, &'static str> {
    match n {
        None => Ok(None),
        Some(n) => n.to_u16().map(Some).ok_or("invalid port"),
    }
}

/// True when `line` looks like an EVE record: a JSON object with
/// `"event_type"` and `"timestamp"` keys.
pub fn sniff(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    t.first() == Some(&b'{')
        && t.last() == Some(&b'}')
        && contains(t, b"\"event_type\"")
        && contains(t, b"\"timestamp\"")
}

// ---------------------------------------------------------------------
// Visitors.

/// The top level of a record.
struct TopSeed<'a, 'de> {
    ev: &'a mut Event,
    top: &'a mut Top<'de>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an EVE record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let TopSeed { ev, top } = self;
        while let Some(k) = map.next_key_seed(KeySeed(TOP_KEYS))? {
            // Suricata writes event_type before the protocol objects, so
            // the objects of types not hunted (an alert's `dns`, ...) are
            // skipped unread; were it written after, they are read and
            // then dropped.
            let t = top.event_type;
            match k {
                K_TIMESTAMP => top.timestamp = Some(map.next_value::<Str>()?.0),
                K_EVENT_TYPE => {
                    let s = map.next_value::<Str>()?.0;
                    top.event_type = match &*s {
                        "dns" => EveType::Dns,
                        "http" => EveType::Http,
                        "tls" => EveType::Tls,
                        "flow" => EveType::Flow,
                        _ => EveType::Other,
                    };
                }
                K_SRC_IP => top.src_ip = Some(map.next_value::<Str>()?.0),
                K_DEST_IP => top.dest_ip = Some(map.next_value::<Str>()?.0),
                K_SRC_PORT => top.src_port = Some(map.next_value()?),
                K_DEST_PORT => top.dest_port = Some(map.next_value()?),
                K_DNS if matches!(t, EveType::Unknown | EveType::Dns) => {
                    map.next_value_seed(DnsSeed {
                        ev: &mut *ev,
                        st: &mut top.dns,
                    })?;
                }
                K_HTTP => {
                    top.has_http = true;
                    if matches!(t, EveType::Unknown | EveType::Http) {
                        map.next_value_seed(HttpSeed { top: &mut *top })?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                K_TLS if matches!(t, EveType::Unknown | EveType::Tls) => {
                    map.next_value_seed(TlsSeed { top: &mut *top })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

const DNS_KEYS: &[&str] = &[
    "version", "type", "rrname", "rrtype", "rdata", "ttl", "queries", "answers", "grouped",
];
const D_VERSION: usize = 0;
const D_TYPE: usize = 1;
const D_RRNAME: usize = 2;
const D_RRTYPE: usize = 3;
const D_RDATA: usize = 4;
const D_TTL: usize = 5;
const D_QUERIES: usize = 6;
const D_ANSWERS: usize = 7;
const D_GROUPED: usize = 8;

/// A `dns` object.
struct DnsSeed<'a, 'de> {
    ev: &'a mut Event,
    st: &'a mut DnsState<'de>,
}

impl<'de> DeserializeSeed<'de> for DnsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DnsSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an EVE dns object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let DnsSeed { ev, st } = self;
        while let Some(k) = map.next_key_seed(KeySeed(DNS_KEYS))? {
            match k {
                D_VERSION => st.version = Some(map.next_value()?),
                D_TYPE => st.kind = Some(map.next_value::<Str>()?.0),
                D_RRNAME => st.rrname = Some(map.next_value::<Str>()?.0),
                D_RRTYPE => st.rrtype = Some(map.next_value::<Str>()?.0),
                D_RDATA => st.rdata = Some(map.next_value::<Str>()?.0),
                D_TTL => st.ttl = Some(map.next_value()?),
                D_QUERIES => map.next_value_seed(QueriesSeed { st: &mut *st })?,
                D_ANSWERS => {
                    st.has_answers = true;
                    map.next_value_seed(AnswersSeed {
                        ev: &mut *ev,
                        st: &mut *st,
                    })?;
                }
                D_GROUPED => {
                    st.has_answers = true;
                    map.next_value_seed(GroupedSeed {
                        ev: &mut *ev,
                        bad: &mut st.bad,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A v3 `queries` array: the first question is kept.
struct QueriesSeed<'a, 'de> {
    st: &'a mut DnsState<'de>,
}

impl<'de> DeserializeSeed<'de> for QueriesSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for QueriesSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of DNS questions")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        #[derive(Deserialize)]
        struct Question<'a> {
            #[serde(borrow)]
            rrname: Option<Str<'a>>,
            #[serde(borrow)]
            rrtype: Option<Str<'a>>,
        }
        if let Some(q) = seq.next_element::<Question>()? {
            self.st.q_name = q.rrname.map(|s| s.0);
            self.st.q_type = q.rrtype.map(|s| s.0);
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// A detailed `answers` array (v2 and v3).
struct AnswersSeed<'a, 'de> {
    ev: &'a mut Event,
    st: &'a mut DnsState<'de>,
}

impl<'de> DeserializeSeed<'de> for AnswersSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AnswersSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of DNS answers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        /// One answer record (schema: dns.answers.items); SRV's target is
        /// in its `srv` object's `name`.
        #[derive(Deserialize)]
        struct Record<'a> {
            #[serde(borrow)]
            rrname: Option<Str<'a>>,
            #[serde(borrow)]
            rrtype: Option<Str<'a>>,
            ttl: Option<Num>,
            #[serde(borrow)]
            rdata: Option<Str<'a>>,
            #[serde(borrow)]
            srv: Option<Srv<'a>>,
        }
        #[derive(Deserialize)]
        struct Srv<'a> {
            #[serde(borrow)]
            name: Option<Str<'a>>,
        }
        let AnswersSeed { ev, st } = self;
        while let Some(r) = seq.next_element::<Record>()? {
            if st.first_owner.is_none() {
                st.first_owner = r.rrname.map(|s| s.0);
            }
            let rrtype = r.rrtype.as_ref().map_or(0, |t| rrtype_code(&t.0));
            let rdata = match (&r.rdata, &r.srv) {
                (Some(d), _) => Some(&d.0),
                (None, Some(Srv { name: Some(n) })) => Some(&n.0),
                _ => None,
            };
            if let Some(rdata) = rdata {
                let ttl = r.ttl.and_then(Num::to_ttl);
                if let Err(reason) =
                    push_answer(&mut ev.answers, rrtype, rdata, ttl, RdataStyle::Eve)
                {
                    st.bad.get_or_insert(reason);
                }
            }
        }
        Ok(())
    }
}

/// A `grouped` object: `{"A": ["192.0.2.1"], "CNAME": ["x."], "SRV":
/// [{"name": ...}], "TXT": [...]}`.
struct GroupedSeed<'a> {
    ev: &'a mut Event,
    bad: &'a mut Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for GroupedSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for GroupedSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("grouped DNS answers")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(t) = map.next_key::<Str>()? {
            let rrtype = rrtype_code(&t.0);
            if matches!(rrtype, 1 | 28 | 2 | 5 | 12 | 15 | 33 | 39) {
                map.next_value_seed(GroupSeed {
                    ev: &mut *self.ev,
                    bad: &mut *self.bad,
                    rrtype,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The array of one type in `grouped`.
struct GroupSeed<'a> {
    ev: &'a mut Event,
    bad: &'a mut Option<&'static str>,
    rrtype: u16,
}

impl<'de> DeserializeSeed<'de> for GroupSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for GroupSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of answer data")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        /// A string, or an object (SRV, SOA, ...) of which `name` is kept.
        struct Item<'a>(Option<Str<'a>>);
        impl<'de> Deserialize<'de> for Item<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Item<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("answer data")
                    }
                    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Item<'de>, E> {
                        Ok(Item(Some(Str(Cow::Borrowed(v)))))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Item<'de>, E> {
                        Ok(Item(Some(Str(Cow::Owned(v.to_owned())))))
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Item<'de>, A::Error> {
                        let mut name = None;
                        while let Some(k) = map.next_key_seed(KeySeed(&["name"]))? {
                            if k == 0 {
                                name = Some(map.next_value::<Str>()?);
                            } else {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                        Ok(Item(name))
                    }
                }
                d.deserialize_any(V)
            }
        }
        while let Some(Item(data)) = seq.next_element::<Item>()? {
            if let Some(data) = data {
                if let Err(reason) = push_answer(
                    &mut self.ev.answers,
                    self.rrtype,
                    &data.0,
                    None,
                    RdataStyle::Eve,
                ) {
                    self.bad.get_or_insert(reason);
                }
            }
        }
        Ok(())
    }
}

/// An `http` object.
struct HttpSeed<'a, 'de> {
    top: &'a mut Top<'de>,
}

impl<'de> DeserializeSeed<'de> for HttpSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HttpSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an EVE http object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key_seed(KeySeed(&["hostname", "url", "http_port"]))? {
            match k {
                0 => self.top.hostname = Some(map.next_value::<Str>()?.0),
                1 => self.top.url = Some(map.next_value::<Str>()?.0),
                2 => self.top.http_port = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A `tls` object.
struct TlsSeed<'a, 'de> {
    top: &'a mut Top<'de>,
}

impl<'de> DeserializeSeed<'de> for TlsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TlsSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an EVE tls object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key_seed(KeySeed(&["sni"]))? {
            if k == 0 {
                self.top.sni = Some(map.next_value::<Str>()?.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}
