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
//! * v1 (Suricata before 4.1, and `version: 1` up to 6): one record per
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
//! The reader is a strict JSON scanner ([`Json`]) that fills the
//! caller's [`Event`] as it goes: no value tree, strings borrowed from
//! the line unless they hold escapes, nesting bounded (128, as
//! serde_json), answers capped at [`MAX_ANSWERS`]. serde_json's
//! visitors took two and a half times as long as skipping the line;
//! this reads EVE DNS records at about a million a second on one core.
//! The helpers for the serde-based Zeek JSON and COF readers are here
//! too.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

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
            Num::F(f) if (0.0..=9_007_199_254_740_992.0).contains(&f) && f.fract() == 0.0 => {
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
/// it): object keys are matched without allocating, and as bytes, which
/// spares serde_json a UTF-8 check per key (the larger part of reading a
/// record).
pub(crate) struct KeySeed(pub(crate) &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<usize, E> {
        // Keys are short: a byte loop beats a call to memcmp per entry.
        let same = |k: &str| k.len() == v.len() && k.bytes().zip(v).all(|(a, b)| a == *b);
        Ok(self.0.iter().position(|k| same(k)).unwrap_or(usize::MAX))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        self.visit_bytes(v.as_bytes())
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
    if answers.len() < MAX_ANSWERS
        && let Some(a) = answer_of(rrtype, rdata, ttl, style)?
    {
        answers.push(a);
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

/// What the top level of a record gave, before it is checked.
#[derive(Default)]
struct Top<'de> {
    timestamp: Option<JStr<'de>>,
    event_type: EveType,
    src_ip: Option<JStr<'de>>,
    dest_ip: Option<JStr<'de>>,
    src_port: Option<Num>,
    dest_port: Option<Num>,
    /// An `http` object was there (in a `dns` record: DNS over HTTP/2).
    has_http: bool,
    dns: DnsState<'de>,
    hostname: Option<JStr<'de>>,
    url: Option<JStr<'de>>,
    http_port: Option<Num>,
    sni: Option<JStr<'de>>,
}

/// What a `dns` object gave.
#[derive(Default)]
struct DnsState<'de> {
    version: Option<Num>,
    kind: Option<JStr<'de>>,
    rrname: Option<JStr<'de>>,
    rrtype: Option<JStr<'de>>,
    rdata: Option<JStr<'de>>,
    ttl: Option<Num>,
    /// The first question of a v3 `queries` array.
    q_name: Option<JStr<'de>>,
    q_type: Option<JStr<'de>>,
    /// The owner name of the first detailed answer (the question's name
    /// when a v2 answer record does not repeat it).
    first_owner: Option<JStr<'de>>,
    /// An `answers` or `grouped` member was there.
    has_answers: bool,
    /// The first answer that could not be read.
    bad: Option<&'static str>,
}

/// Reads one EVE line into `ev`.
pub fn parse(line: &[u8], ev: &mut Event) -> Outcome {
    let mut top = Top::default();
    let mut j = Json::new(line);
    if read_top(&mut j, ev, &mut top)
        .and_then(|()| j.end())
        .is_err()
    {
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
        let t = if ts.escaped {
            text(&top.timestamp)?.and_then(|t| iso8601_micros(t.as_bytes()))
        } else {
            iso8601_micros(ts.raw())
        };
        ev.time = Some(t.ok_or("invalid time")?);
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
            let host = text(&top.hostname)?.unwrap_or_default();
            set_name(&mut ev.name, &host)?;
            if let Some(url) = text(&top.url)? {
                let port = match top.http_port {
                    None => None,
                    Some(n) => Some(n.to_u16().ok_or("invalid port")?),
                };
                build_url(&mut ev.url, &host, port, &url);
            }
        }
        EventKind::Tls => {
            if let Some(sni) = text(&top.sni)? {
                set_name(&mut ev.name, &sni)?;
            }
        }
        EventKind::Flow => {}
    }
    Ok(Outcome::Event)
}

/// The text of a string read (its escapes undone).
fn text<'a>(s: &Option<JStr<'a>>) -> Result<Option<Cow<'a, str>>, &'static str> {
    s.as_ref()
        .map(JStr::text)
        .transpose()
        .map_err(|_| "invalid JSON")
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
    let response = match text(&d.kind)?.as_deref() {
        Some("query" | "request") => false,
        Some("answer" | "response") => true,
        _ => return Err("unknown EVE dns type"),
    };
    // v1 answer: one record per line, directly in `dns`.
    let v1_answer = response
        && !d.has_answers
        && !matches!(version, Some(2 | 3))
        && (d.rdata.is_some() || d.ttl.is_some());
    let name = match (&d.q_name, &d.rrname) {
        (Some(_), _) => text(&d.q_name)?,
        (None, Some(_)) => text(&d.rrname)?,
        (None, None) => text(&d.first_owner)?,
    };
    if let Some(name) = name {
        set_name(&mut ev.name, &name)?;
    }
    let rrtype = text(&d.rrtype)?;
    if v1_answer {
        let rrtype = rrtype.as_deref().map_or(0, rrtype_code);
        if let Some(rdata) = text(&d.rdata)? {
            let ttl = d.ttl.and_then(Num::to_ttl);
            push_answer(&mut ev.answers, rrtype, &rdata, ttl, RdataStyle::Eve)?;
        }
    } else {
        let q_type = text(&d.q_type)?;
        ev.qtype = q_type
            .as_deref()
            .or(rrtype.as_deref())
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
/// origin-form one (`/path`) after `http://host[:port]` when there is a
/// host. Others (a CONNECT's `host:port`, `*`) give none, nor does an
/// overlong one.
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
    if host.is_empty() || !target.starts_with('/') || host.len() + target.len() + 14 > MAX_URL {
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

fn addr(s: &Option<JStr>) -> Result<Option<IpAddr>, &'static str> {
    match text(s)?.as_deref() {
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
// The scanner.

/// Deepest nesting of arrays and objects accepted (serde_json's limit).
const MAX_DEPTH: u32 = 128;

/// Not JSON (the reason is always "invalid JSON").
#[derive(Debug)]
pub(crate) struct NotJson;

type Res<T = ()> = Result<T, NotJson>;

/// A strict JSON scanner over one line, for the EVE reader: it checks
/// the whole text against the JSON grammar while handing the reader the
/// members it asks for, borrowed from the line. serde_json's visitors
/// cost two and a half times a plain skip of the same line, most of it
/// in reading each object key as a string; this reads keys and skipped
/// values as raw bytes. Strings are checked for their escapes and
/// control characters; UTF-8 only where one is read as text (as
/// serde_json's own skipping does).
pub(crate) struct Json<'a> {
    s: &'a [u8],
    pos: usize,
    depth: u32,
}

/// A JSON string as it is in the line: its content between the quotes
/// (escapes not undone) and whether it has any.
#[derive(Clone, Copy)]
pub(crate) struct JStr<'a> {
    quoted: &'a [u8],
    escaped: bool,
}

impl<'a> JStr<'a> {
    /// The content, escapes not undone.
    #[inline]
    pub(crate) fn raw(&self) -> &'a [u8] {
        &self.quoted[1..self.quoted.len() - 1]
    }

    /// The text: borrowed when it has no escapes.
    #[inline]
    pub(crate) fn text(&self) -> Res<Cow<'a, str>> {
        if self.escaped {
            // Rare: serde_json undoes the escapes (surrogate pairs too).
            serde_json::from_slice::<String>(self.quoted)
                .map(Cow::Owned)
                .map_err(|_| NotJson)
        } else {
            std::str::from_utf8(self.raw())
                .map(Cow::Borrowed)
                .map_err(|_| NotJson)
        }
    }
}

impl<'a> Json<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Json<'a> {
        Json {
            s,
            pos: 0,
            depth: 0,
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.s.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Res {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    /// Nothing but white space is left.
    pub(crate) fn end(&mut self) -> Res {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(NotJson),
        }
    }

    fn enter(&mut self) -> Res {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(NotJson)
        } else {
            Ok(())
        }
    }

    /// An object: `member` is called with each key (its content, escapes
    /// undone when it has any) and must read or skip the value.
    pub(crate) fn object(&mut self, mut member: impl FnMut(&mut Self, &[u8]) -> Res) -> Res {
        self.eat(b'{')?;
        self.enter()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                let key = self.string()?;
                self.eat(b':')?;
                if key.escaped {
                    let k = key.text()?;
                    member(self, k.as_bytes())?;
                } else {
                    member(self, key.raw())?;
                }
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(NotJson),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// An array: `item` is called for each element and must read or skip
    /// it.
    pub(crate) fn array(&mut self, mut item: impl FnMut(&mut Self) -> Res) -> Res {
        self.eat(b'[')?;
        self.enter()?;
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                item(self)?;
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(NotJson),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// A string value.
    #[inline]
    pub(crate) fn string(&mut self) -> Res<JStr<'a>> {
        self.eat(b'"')?;
        let start = self.pos - 1;
        let mut escaped = false;
        loop {
            let rest = self.s.get(self.pos..).unwrap_or_default();
            let i = string_stop(rest).ok_or(NotJson)?;
            self.pos += i;
            match rest[i] {
                b'"' => {
                    self.pos += 1;
                    return Ok(JStr {
                        quoted: &self.s[start..self.pos],
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    match self.s.get(self.pos + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 2
                        }
                        Some(b'u') => {
                            let hex = self.s.get(self.pos + 2..self.pos + 6).ok_or(NotJson)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(NotJson);
                            }
                            self.pos += 6;
                        }
                        _ => return Err(NotJson),
                    }
                }
                // A control character must be escaped.
                _ => return Err(NotJson),
            }
        }
    }

    /// A string value's text.
    #[inline]
    pub(crate) fn text(&mut self) -> Res<Cow<'a, str>> {
        self.string()?.text()
    }

    /// A number value.
    pub(crate) fn num(&mut self) -> Res<Num> {
        let raw = self.number()?;
        let s = std::str::from_utf8(raw).map_err(|_| NotJson)?;
        let float = raw.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
        Ok(if !float && raw[0] != b'-' {
            s.parse()
                .map(Num::U)
                .unwrap_or_else(|_| Num::F(f64::INFINITY))
        } else if !float {
            s.parse().map(Num::I).unwrap_or(Num::F(f64::NEG_INFINITY))
        } else {
            Num::F(s.parse().map_err(|_| NotJson)?)
        })
    }

    /// A number token (RFC 8259's grammar), raw.
    fn number(&mut self) -> Res<&'a [u8]> {
        self.peek();
        let start = self.pos;
        let digits = |j: &mut Self| {
            let n = j.s[j.pos..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            j.pos += n;
            n
        };
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.s.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(NotJson),
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(NotJson);
            }
        }
        if matches!(self.s.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.s.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(NotJson);
            }
        }
        Ok(&self.s[start..self.pos])
    }

    fn literal(&mut self, word: &[u8]) -> Res {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    /// Skips one value, checking it.
    pub(crate) fn skip(&mut self) -> Res {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => self.object(|j, _| j.skip()),
            Some(b'[') => self.array(Self::skip),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }
}

/// The index of the first byte of `s` that ends a run of plain string
/// content: `"`, `\\` or a control character. Eight bytes at a time
/// (SWAR): most of a record's bytes are in strings.
#[inline]
fn string_stop(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap_or_default());
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        // Bytes below 0x20, equal to '"', equal to '\\' (the lowest
        // flagged byte is exact; flags above it may be spurious).
        let hits = (w.wrapping_sub(0x20 * ONES) & !w & HIGH)
            | zero(w ^ (u64::from(b'"') * ONES))
            | zero(w ^ (u64::from(b'\\') * ONES));
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

// ---------------------------------------------------------------------
// The record's parts.

fn read_top<'a>(j: &mut Json<'a>, ev: &mut Event, top: &mut Top<'a>) -> Res {
    j.object(|j, key| {
        // Suricata writes event_type before the protocol objects, so the
        // objects of types not hunted (an alert's `dns`, ...) are skipped
        // unread; were it written after, they are read and then dropped.
        let t = top.event_type;
        match key {
            b"timestamp" => top.timestamp = Some(j.string()?),
            b"event_type" => {
                top.event_type = match &*j.text()? {
                    "dns" => EveType::Dns,
                    "http" => EveType::Http,
                    "tls" => EveType::Tls,
                    "flow" => EveType::Flow,
                    _ => EveType::Other,
                }
            }
            b"src_ip" => top.src_ip = Some(j.string()?),
            b"dest_ip" => top.dest_ip = Some(j.string()?),
            b"src_port" => top.src_port = Some(j.num()?),
            b"dest_port" => top.dest_port = Some(j.num()?),
            b"dns" if matches!(t, EveType::Unknown | EveType::Dns) => {
                read_dns(j, ev, &mut top.dns)?
            }
            b"http" => {
                top.has_http = true;
                if matches!(t, EveType::Unknown | EveType::Http) {
                    j.object(|j, key| {
                        match key {
                            b"hostname" => top.hostname = Some(j.string()?),
                            b"url" => top.url = Some(j.string()?),
                            b"http_port" => top.http_port = Some(j.num()?),
                            _ => j.skip()?,
                        }
                        Ok(())
                    })?;
                } else {
                    j.skip()?;
                }
            }
            b"tls" if matches!(t, EveType::Unknown | EveType::Tls) => j.object(|j, key| {
                match key {
                    b"sni" => top.sni = Some(j.string()?),
                    _ => j.skip()?,
                }
                Ok(())
            })?,
            _ => j.skip()?,
        }
        Ok(())
    })
}

/// A `dns` object.
fn read_dns<'a>(j: &mut Json<'a>, ev: &mut Event, st: &mut DnsState<'a>) -> Res {
    j.object(|j, key| {
        match key {
            b"version" => st.version = Some(j.num()?),
            b"type" => st.kind = Some(j.string()?),
            b"rrname" => st.rrname = Some(j.string()?),
            b"rrtype" => st.rrtype = Some(j.string()?),
            b"rdata" => st.rdata = Some(j.string()?),
            b"ttl" => st.ttl = Some(j.num()?),
            // v3: the first question is kept.
            b"queries" => {
                let mut first = true;
                j.array(|j| {
                    if first {
                        first = false;
                        let q = read_record(j)?;
                        st.q_name = q.rrname;
                        st.q_type = q.rrtype;
                        Ok(())
                    } else {
                        j.skip()
                    }
                })?;
            }
            // Detailed answers (v2, v3).
            b"answers" => {
                st.has_answers = true;
                j.array(|j| {
                    let r = read_record(j)?;
                    if st.first_owner.is_none() {
                        st.first_owner = r.rrname;
                    }
                    if let Some(rdata) = r.rdata.or(r.srv_name) {
                        let rrtype = match r.rrtype {
                            Some(t) => rrtype_code(&t.text()?),
                            None => 0,
                        };
                        let ttl = r.ttl.and_then(Num::to_ttl);
                        let rdata = rdata.text()?;
                        if let Err(reason) =
                            push_answer(&mut ev.answers, rrtype, &rdata, ttl, RdataStyle::Eve)
                        {
                            st.bad.get_or_insert(reason);
                        }
                    }
                    Ok(())
                })?;
            }
            // Grouped answers: {"A": ["192.0.2.1"], "CNAME": ["x."], "SRV":
            // [{"name": ...}], "TXT": [...]}.
            b"grouped" => {
                st.has_answers = true;
                j.object(|j, t| {
                    let rrtype = std::str::from_utf8(t).map_or(0, rrtype_code);
                    if !matches!(rrtype, 1 | 28 | 2 | 5 | 12 | 15 | 33 | 39) {
                        return j.skip();
                    }
                    j.array(|j| {
                        let data = match j.peek() {
                            Some(b'"') => Some(j.string()?),
                            Some(b'{') => read_named(j)?,
                            _ => return Err(NotJson),
                        };
                        if let Some(data) = data {
                            let data = data.text()?;
                            if let Err(reason) =
                                push_answer(&mut ev.answers, rrtype, &data, None, RdataStyle::Eve)
                            {
                                st.bad.get_or_insert(reason);
                            }
                        }
                        Ok(())
                    })
                })?;
            }
            _ => j.skip()?,
        }
        Ok(())
    })
}

/// A question or an answer record (schema: dns.queries.items,
/// dns.answers.items); an SRV record's target is its `srv` object's
/// `name`.
#[derive(Default)]
struct Record<'a> {
    rrname: Option<JStr<'a>>,
    rrtype: Option<JStr<'a>>,
    ttl: Option<Num>,
    rdata: Option<JStr<'a>>,
    srv_name: Option<JStr<'a>>,
}

fn read_record<'a>(j: &mut Json<'a>) -> Res<Record<'a>> {
    let mut r = Record::default();
    j.object(|j, key| {
        match key {
            b"rrname" => r.rrname = Some(j.string()?),
            b"rrtype" => r.rrtype = Some(j.string()?),
            b"ttl" => r.ttl = Some(j.num()?),
            b"rdata" => r.rdata = Some(j.string()?),
            b"srv" => r.srv_name = read_named(j)?,
            _ => j.skip()?,
        }
        Ok(())
    })?;
    Ok(r)
}

/// An object of which only `name` is kept (SRV data).
fn read_named<'a>(j: &mut Json<'a>) -> Res<Option<JStr<'a>>> {
    let mut name = None;
    j.object(|j, key| {
        if key == b"name" {
            name = Some(j.string()?);
            Ok(())
        } else {
            j.skip()
        }
    })?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    /// A pretty-printed record from the docs as one log line.
    pub(crate) fn one_line(pretty: &str) -> Vec<u8> {
        pretty
            .lines()
            .map(str::trim)
            .collect::<String>()
            .into_bytes()
    }

    fn read(line: &[u8]) -> (Outcome, Event) {
        let mut ev = Event::default();
        let o = parse(line, &mut ev);
        (o, ev)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn name(n: &str, rrtype: u16, ttl: Option<u32>) -> Answer {
        Answer {
            data: AnswerData::Name(n.into()),
            rrtype,
            ttl,
        }
    }

    fn addr(a: &str, rrtype: u16, ttl: Option<u32>) -> Answer {
        Answer {
            data: AnswerData::Addr(ip(a)),
            rrtype,
            ttl,
        }
    }

    /// The common section of the records below, in Suricata's order.
    fn dns_record(tuple: &str, dns: &str) -> Vec<u8> {
        one_line(&format!(
            r#"{{"timestamp": "2026-12-06T20:41:45.123456+0000", "flow_id": 1676750115612680,
            "event_type": "dns", {tuple}, "proto": "UDP", "dns": {dns}}}"#
        ))
    }

    const CLIENT_TO_SERVER: &str = r#""src_ip": "192.168.100.237", "src_port": 49175,
        "dest_ip": "192.168.100.1", "dest_port": 53"#;
    const SERVER_TO_CLIENT: &str = r#""src_ip": "192.168.100.1", "src_port": 53,
        "dest_ip": "192.168.100.237", "dest_port": 49175"#;

    const T: i64 = 1_796_589_705_123_456;

    fn check_query(ev: &Event, name: &str, qtype: u16) {
        assert_eq!(ev.kind, EventKind::Dns);
        assert_eq!(ev.time, Some(T));
        assert_eq!(ev.client, Some(ip("192.168.100.237")));
        assert_eq!(ev.server, Some(ip("192.168.100.1")));
        assert_eq!(ev.server_port, Some(53));
        assert_eq!(ev.name, name);
        assert_eq!(ev.qtype, qtype);
    }

    // doc/userguide/upgrade/8.0-dns-logging-changes.rst, the 8.0 request.
    const V3_REQUEST: &str = r#"{
        "version": 3,
        "type": "request",
        "tx_id": 0,
        "id": 0,
        "flags": "100",
        "rd": true,
        "opcode": 0,
        "rcode": "NOERROR",
        "queries": [
          {
            "rrname": "www.suricata.io",
            "rrtype": "A"
          }
        ]
      }"#;

    // Same file, the 8.0 response (its trailing comma removed).
    const V3_RESPONSE: &str = r#"{
        "version": 3,
        "type": "response",
        "tx_id": 1,
        "id": 0,
        "flags": "8180",
        "qr": true,
        "rd": true,
        "ra": true,
        "opcode": 0,
        "rcode": "NOERROR",
        "queries": [
          {
            "rrname": "www.suricata.io",
            "rrtype": "A"
          }
        ],
        "answers": [
          {
            "rrname": "www.suricata.io",
            "rrtype": "CNAME",
            "ttl": 3597,
            "rdata": "suricata.io"
          },
          {
            "rrname": "suricata.io",
            "rrtype": "A",
            "ttl": 597,
            "rdata": "35.212.0.44"
          }
        ]
      }"#;

    // Same file, the 7.0 (v2) response.
    const V2_RESPONSE: &str = r#"{
        "version": 2,
        "type": "answer",
        "id": 0,
        "flags": "8180",
        "qr": true,
        "rd": true,
        "ra": true,
        "opcode": 0,
        "rrname": "www.suricata.io",
        "rrtype": "A",
        "rcode": "NOERROR",
        "answers": [
          {
            "rrname": "www.suricata.io",
            "rrtype": "CNAME",
            "ttl": 3597,
            "rdata": "suricata.io"
          },
          {
            "rrname": "suricata.io",
            "rrtype": "A",
            "ttl": 597,
            "rdata": "35.212.0.44"
          }
        ]
      }"#;

    // doc/userguide/output/eve/eve-json-format.rst (Suricata 7): "Example
    // of a DNS answer with "grouped" format".
    const V2_GROUPED: &str = r#"{
        "version": 2,
        "type": "answer",
        "id": 18523,
        "flags": "8180",
        "qr": true,
        "rd": true,
        "ra": true,
        "rcode": "NOERROR",
        "grouped": {
          "A": [
            "192.0.78.24",
            "192.0.78.25"
          ],
          "CNAME": [
            "suricata.io"
          ]
        }
      }"#;

    #[test]
    fn dns_v3_request_and_response() {
        let (o, ev) = read(&dns_record(CLIENT_TO_SERVER, V3_REQUEST));
        assert_eq!(o, Outcome::Event);
        check_query(&ev, "www.suricata.io", 1);
        assert!(ev.answers.is_empty());

        // v3 logs a response in the packet's direction: src_ip is the
        // server; the event still has the DNS client as its client.
        let (o, ev) = read(&dns_record(SERVER_TO_CLIENT, V3_RESPONSE));
        assert_eq!(o, Outcome::Event);
        check_query(&ev, "www.suricata.io", 1);
        assert_eq!(
            ev.answers,
            [
                name("suricata.io", 5, Some(3597)),
                addr("35.212.0.44", 1, Some(597))
            ]
        );
    }

    #[test]
    fn dns_v3_response_direction_without_port_53() {
        // DNS on another port: the version decides (v3: packet direction).
        let tuple = r#""src_ip": "192.168.100.1", "src_port": 5300,
            "dest_ip": "192.168.100.237", "dest_port": 49175"#;
        let (o, ev) = read(&dns_record(tuple, V3_RESPONSE));
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.client, Some(ip("192.168.100.237")));
        assert_eq!(ev.server, Some(ip("192.168.100.1")));
        assert_eq!(ev.server_port, Some(5300));
        // DNS over HTTP/2 stays in the flow's direction (output-json-dns.c,
        // JsonDoh2Logger): its records carry an http object.
        let doh = one_line(&format!(
            r#"{{"timestamp": "2026-12-06T20:41:45.123456+0000", "event_type": "dns",
            "src_ip": "192.168.100.237", "src_port": 49175, "dest_ip": "192.0.2.53",
            "dest_port": 443, "proto": "TCP", "http": {{"http2": {{"stream_id": 1}}}},
            "dns": {V3_RESPONSE}}}"#
        ));
        let (o, ev) = read(&doh);
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.client, Some(ip("192.168.100.237")));
        assert_eq!(ev.server, Some(ip("192.0.2.53")));
        assert_eq!(ev.server_port, Some(443));
    }

    #[test]
    fn dns_v3_grouped_as_in_the_format_docs() {
        // eve-json-format.rst (Suricata 8) shows v3 answers with
        // "type": "answer" and a grouped object.
        let dns = r#"{"version": 3, "type": "answer", "id": 18523, "flags": "8180",
            "qr": true, "rd": true, "ra": true, "rcode": "NOERROR",
            "grouped": {"A": ["192.0.78.24", "192.0.78.25"], "CNAME": ["suricata.io"]}}"#;
        let (o, ev) = read(&dns_record(SERVER_TO_CLIENT, dns));
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.client, Some(ip("192.168.100.237")));
        assert!(ev.name.is_empty(), "no question in this record");
        assert_eq!(
            ev.answers,
            [
                addr("192.0.78.24", 1, None),
                addr("192.0.78.25", 1, None),
                name("suricata.io", 5, None)
            ]
        );
    }

    #[test]
    fn dns_v2_detailed_and_grouped() {
        // v2 logs in the flow's direction: src_ip is the client.
        let (o, ev) = read(&dns_record(CLIENT_TO_SERVER, V2_RESPONSE));
        assert_eq!(o, Outcome::Event);
        check_query(&ev, "www.suricata.io", 1);
        assert_eq!(
            ev.answers,
            [
                name("suricata.io", 5, Some(3597)),
                addr("35.212.0.44", 1, Some(597))
            ]
        );

        let (o, ev) = read(&dns_record(CLIENT_TO_SERVER, V2_GROUPED));
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.client, Some(ip("192.168.100.237")));
        assert_eq!(ev.server, Some(ip("192.168.100.1")));
        assert_eq!(ev.answers.len(), 3);
        assert!(ev.answers.contains(&name("suricata.io", 5, None)));
        assert!(ev.answers.contains(&addr("192.0.78.25", 1, None)));

        // Both forms at once (`formats: [detailed, grouped]`): each is read.
        let both = V2_RESPONSE.replacen(
            r#""rcode": "NOERROR","#,
            r#""rcode": "NOERROR", "grouped": {"A": ["35.212.0.44"]},"#,
            1,
        );
        let (o, ev) = read(&dns_record(CLIENT_TO_SERVER, &both));
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.answers.len(), 3);
    }

    #[test]
    fn dns_v2_query_and_v1_answer() {
        // eve-json-format.rst of Suricata 4.0: the v1 query and answer.
        let q = r#"{"type": "query", "id": 16000, "rrname": "twitter.com", "rrtype":"A"}"#;
        let (o, ev) = read(&dns_record(CLIENT_TO_SERVER, q));
        assert_eq!(o, Outcome::Event);
        check_query(&ev, "twitter.com", 1);

        let a = r#"{"type": "answer", "id":16000, "rrname": "twitter.com", "rrtype":"A",
            "ttl":8, "rdata": "199.16.156.6"}"#;
        // Suricata from 5.0.3 writes it in the flow's direction...
        let (o, ev) = read(&dns_record(CLIENT_TO_SERVER, a));
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.client, Some(ip("192.168.100.237")));
        assert_eq!(ev.name, "twitter.com");
        assert_eq!(ev.qtype, 0, "a v1 answer's rrtype is the record's");
        assert_eq!(ev.answers, [addr("199.16.156.6", 1, Some(8))]);
        // ...older ones in the packet's: port 53 tells.
        let (_, ev) = read(&dns_record(SERVER_TO_CLIENT, a));
        assert_eq!(ev.client, Some(ip("192.168.100.237")));
        assert_eq!(ev.server, Some(ip("192.168.100.1")));
        assert_eq!(ev.server_port, Some(53));
    }

    #[test]
    fn dns_answer_types() {
        // Suricata writes AAAA data in full (dns_print_addr), SRV targets
        // in an srv object (dns_log_srv), unknown types by number; TXT and
        // SOA are not hunted.
        let dns = r#"{"version": 3, "type": "response", "queries": [{"rrname":
            "_sip._tcp.example.com", "rrtype": "SRV"}], "answers": [
            {"rrname": "_sip._tcp.example.com", "rrtype": "SRV", "ttl": 60,
             "srv": {"priority": 10, "weight": 5, "port": 5060, "name": "sip.example.com"}},
            {"rrname": "sip.example.com", "rrtype": "AAAA", "ttl": 60,
             "rdata": "2001:0db8:0000:0000:0000:0000:0000:0001"},
            {"rrname": "example.com", "rrtype": "TXT", "ttl": 60, "rdata": "v=spf1 -all"},
            {"rrname": "example.com", "rrtype": "SOA", "ttl": 60, "soa": {"mname": "ns."}},
            {"rrname": "example.com", "rrtype": "MX", "ttl": 60, "rdata": "mx.example.com"},
            {"rrname": "example.com", "rrtype": "65280", "ttl": 60, "rdata": "x"}]}"#;
        let (o, ev) = read(&dns_record(SERVER_TO_CLIENT, dns));
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.qtype, 33);
        assert_eq!(
            ev.answers,
            [
                name("sip.example.com", 33, Some(60)),
                addr("2001:db8::1", 28, Some(60)),
                name("mx.example.com", 15, Some(60)),
            ]
        );
    }

    #[test]
    fn http_tls_flow() {
        // eve-json-format.rst, "Event type: HTTP" (headers trimmed).
        let http = one_line(
            r#"{
              "timestamp": "2023-09-18T06:13:33.903924+0000",
              "flow_id": 1676750115612680,
              "pcap_cnt": 70,
              "event_type": "http",
              "src_ip": "192.168.100.237",
              "src_port": 49175,
              "dest_ip": "142.11.240.191",
              "dest_port": 35361,
              "proto": "TCP",
              "pkt_src": "wire/pcap",
              "ether": {
                "src_mac": "12:a9:86:6c:77:de",
                "dest_mac": "52:54:00:36:3e:ff"
              },
              "tx_id": 0,
              "http": {
                "hostname": "142.11.240.191",
                "http_port": 35361,
                "url": "/",
                "http_content_type": "text/xml",
                "http_method": "POST",
                "protocol": "HTTP/1.1",
                "status": 200,
                "length": 212,
                "request_headers": [
                  {
                    "name": "Host",
                    "value": "142.11.240.191:35361"
                  }
                ]
              }
            }"#,
        );
        let (o, ev) = read(&http);
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Http);
        assert_eq!(ev.time, Some(1_695_017_613_903_924));
        assert_eq!(ev.client, Some(ip("192.168.100.237")));
        assert_eq!(ev.server, Some(ip("142.11.240.191")));
        assert_eq!(ev.server_port, Some(35361));
        assert_eq!(ev.name, "142.11.240.191");
        assert_eq!(ev.url, "http://142.11.240.191:35361/");

        // Port 80 is not written; a proxy's absolute target is kept as is;
        // a CONNECT's authority gives no URL.
        let h = |http: &str| {
            one_line(&format!(
                r#"{{"timestamp": "2023-09-18T06:13:33.903924+0000", "event_type": "http",
                "src_ip": "10.0.0.1", "src_port": 40000, "dest_ip": "10.0.0.2", "dest_port": 80,
                "http": {http}}}"#
            ))
        };
        let (_, ev) = read(&h(
            r#"{"hostname": "test.co.uk", "http_port": 80, "url": "/test/file.json?a=1"}"#,
        ));
        assert_eq!(ev.url, "http://test.co.uk/test/file.json?a=1");
        let (_, ev) = read(&h(
            r#"{"hostname": "evil.example", "url": "http://evil.example/x"}"#,
        ));
        assert_eq!(ev.url, "http://evil.example/x");
        let (_, ev) = read(&h(r#"{"url": "http://evil.example/x"}"#));
        assert_eq!(
            (ev.name.as_str(), ev.url.as_str()),
            ("", "http://evil.example/x")
        );
        let (_, ev) = read(&h(r#"{"url": "/x"}"#));
        assert_eq!((ev.name.as_str(), ev.url.as_str()), ("", ""));
        let (_, ev) = read(&h(
            r#"{"hostname": "evil.example", "url": "evil.example:443", "http_method": "CONNECT"}"#,
        ));
        assert_eq!((ev.name.as_str(), ev.url.as_str()), ("evil.example", ""));

        // eve-json-format.rst, "Example of extended TLS logging".
        let tls = one_line(
            r#"{"timestamp": "2017-04-07T22:24:37.251547+0100", "event_type": "tls",
            "src_ip": "10.0.0.1", "src_port": 40000, "dest_ip": "172.217.0.46",
            "dest_port": 443, "proto": "TCP", "tls": {
              "subject": "C=US, ST=California, L=Mountain View, O=Google Inc, CN=*.google.com",
              "issuerdn": "C=US, O=Google Inc, CN=Google Internet Authority G2",
              "serial": "0C:00:99:B7:D7:54:C9:F6:77:26:31:7E:BA:EA:7C:1C",
              "fingerprint": "8f:51:12:06:a0:cc:4e:cd:e8:a3:8b:38:f8:87:59:e5:af:95:ca:cd",
              "sni": "calendar.google.com",
              "version": "TLS 1.2",
              "notbefore": "2017-01-04T10:48:43",
              "notafter": "2017-03-29T10:18:00"
            }}"#,
        );
        let (o, ev) = read(&tls);
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Tls);
        assert_eq!(ev.name, "calendar.google.com");
        // +0100: an hour before in UTC.
        assert_eq!(ev.time, Some(1_491_600_277_251_547));
        assert_eq!(ev.server_port, Some(443));

        // eve-json-format.rst, "Event type: flow" (trimmed).
        let flow = one_line(
            r#"{
              "timestamp": "2023-09-18T06:13:21.216460+0000",
              "flow_id": 1676750115612680,
              "event_type": "flow",
              "src_ip": "192.168.100.237",
              "src_port": 49175,
              "dest_ip": "142.11.240.191",
              "dest_port": 35361,
              "proto": "TCP",
              "app_proto": "http",
              "flow": {
                "pkts_toserver": 3869,
                "pkts_toclient": 1523,
                "start": "2023-09-18T06:13:33.324862+0000",
                "end": "2023-09-18T06:14:13.752399+0000",
                "state": "closed",
                "exception_policy": [{"target": "stream_midstream", "policy": "ignore"}]
              }
            }"#,
        );
        let (o, ev) = read(&flow);
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Flow);
        assert_eq!(ev.client, Some(ip("192.168.100.237")));
        assert_eq!(ev.server, Some(ip("142.11.240.191")));
        assert_eq!(ev.server_port, Some(35361));
        assert!(ev.name.is_empty());
    }

    #[test]
    fn other_types_are_ignored() {
        // eve-json-format.rst: the alert example, and an alert carrying a
        // v3 dns object (8.0-dns-logging-changes.rst).
        let alert = one_line(
            r#"{
              "timestamp": "2017-04-07T22:24:37.251547+0100",
              "flow_id": 586497171462735,
              "pcap_cnt": 53381,
              "event_type": "alert",
              "src_ip": "192.168.2.14",
              "src_port": 50096,
              "dest_ip": "209.53.113.5",
              "dest_port": 80,
              "proto": "TCP",
              "metadata": {
                "flowbits": [
                  "http.dottedquadhost"
                ]
              },
              "tx_id": 4,
              "alert": {
                "action": "allowed",
                "gid": 1,
                "signature_id": 2018358,
                "rev": 10,
                "signature": "ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad with Fake Browser 1",
                "category": "Potentially Bad Traffic",
                "severity": 2
              },
              "app_proto": "http"
            }"#,
        );
        assert_eq!(read(&alert).0, Outcome::Ignored(NOT_HUNTED));
        let dns_alert = one_line(&format!(
            r#"{{"timestamp": "2026-12-06T20:41:45.123456+0000", "event_type": "alert",
            "src_ip": "10.0.0.1", "dest_ip": "10.0.0.2", "alert": {{"signature_id": 1}},
            "dns": {V3_RESPONSE}}}"#
        ));
        assert_eq!(read(&dns_alert).0, Outcome::Ignored(NOT_HUNTED));
        for t in ["stats", "fileinfo", "anomaly", "netflow", "smb"] {
            let l = format!(
                r#"{{"timestamp":"2026-12-06T20:41:45.123456+0000","event_type":"{t}","{t}":{{"x":[1,{{"y":null}}]}}}}"#
            );
            assert_eq!(read(l.as_bytes()).0, Outcome::Ignored(NOT_HUNTED), "{t}");
        }
    }

    #[test]
    fn bad_records() {
        let ok_dns = |dns: &str| dns_record(CLIENT_TO_SERVER, dns);
        let bad = |line: &[u8]| match read(line).0 {
            Outcome::Bad(r) => r,
            o => panic!("{o:?} for {:.200}", String::from_utf8_lossy(line)),
        };
        assert_eq!(bad(b""), "invalid JSON");
        assert_eq!(bad(b"[]"), "invalid JSON");
        assert_eq!(bad(b"{\"event_type\":\"dns\""), "invalid JSON");
        assert_eq!(bad(b"{\"event_type\":\"dns\"} trailing"), "invalid JSON");
        assert_eq!(
            bad(b"{\"event_type\":\"dns\",\"dns\":{\"type\":\"\xff\"}}"),
            "invalid JSON"
        );
        assert_eq!(
            bad(b"{\"timestamp\":\"2026-12-06T20:41:45+0000\"}"),
            "EVE record without event_type"
        );
        assert_eq!(
            bad(&ok_dns(r#"{"type": "notify"}"#)),
            "unknown EVE dns type"
        );
        assert_eq!(
            bad(&ok_dns(
                r#"{"type": "answer", "version": 2, "answers": [
                {"rrname": "x", "rrtype": "A", "rdata": "not-an-address"}]}"#
            )),
            "invalid answer address"
        );
        let tuple = |t: &str| {
            one_line(&format!(
                r#"{{"timestamp": "2026-12-06T20:41:45.123456+0000", "event_type": "flow", {t}}}"#
            ))
        };
        assert_eq!(bad(&tuple(r#""src_ip": "10.0.0.300""#)), "invalid address");
        assert_eq!(bad(&tuple(r#""dest_port": 70000"#)), "invalid port");
        assert_eq!(bad(&tuple(r#""dest_port": -1"#)), "invalid port");
        assert_eq!(bad(&tuple(r#""dest_port": 1e300"#)), "invalid port");
        assert_eq!(
            bad(&tuple(r#""dest_port": 18446744073709551616"#)),
            "invalid port"
        );
        for ts in [
            "2026-13-06T20:41:45.123456+0000",
            "2026-12-06T20:41:45.+0000",
            "2026-12-06T20:41:45.1+2400",
            "2026-12-06",
            "1970-01-01T00:00:00+0100",
        ] {
            let l = format!(r#"{{"timestamp": "{ts}", "event_type": "flow"}}"#);
            assert_eq!(bad(l.as_bytes()), "invalid time", "{ts}");
        }
        // A megabyte name; nesting past serde_json's recursion limit.
        let long = ok_dns(&format!(
            r#"{{"type": "query", "rrname": "{}.example", "rrtype": "A"}}"#,
            "a".repeat(1 << 20)
        ));
        assert_eq!(bad(&long), "name too long");
        // Nesting past MAX_DEPTH is refused wherever it is (no stack
        // exhaustion); up to it, it is read.
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for inner in [
            format!(r#"{{"event_type": "stats", "x": {}}}"#, nest(100_000)),
            format!(
                r#"{{"event_type": "dns", "dns": {{"type": "query", "x": {}}}}}"#,
                nest(129)
            ),
            format!(
                r#"{{"event_type": "dns", "dns": {{"answers": {}}}}}"#,
                nest(100_000)
            ),
            format!(
                r#"{{"event_type": "dns", "dns": {}{}}}"#,
                "{\"a\":".repeat(100_000),
                "}".repeat(100_000)
            ),
        ] {
            assert_eq!(bad(inner.as_bytes()), "invalid JSON");
        }
        let deep = format!(r#"{{"event_type": "stats", "x": {}}}"#, nest(127));
        assert_eq!(read(deep.as_bytes()).0, Outcome::Ignored(NOT_HUNTED));
    }

    #[test]
    fn scanner_agrees_with_serde_json() {
        // Every cut, and single-byte replacements, insertions and removals
        // with JSON's structural bytes, of records from the docs: the
        // scanner and serde_json agree on what is JSON.
        let valid = |b: &[u8]| {
            let mut j = Json::new(b);
            j.skip().and_then(|()| j.end()).is_ok()
        };
        let mut bases = vec![
            dns_record(SERVER_TO_CLIENT, V3_RESPONSE),
            dns_record(CLIENT_TO_SERVER, V2_GROUPED),
            br#"{"a":[1,-0.5e+3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{}}"#.to_vec(),
        ];
        bases.push(b" [ 0 , 1E5 , \"\" ] ".to_vec());
        let bytes = b"\"\\{}[],:0-e.+ tnu\x01\x7f";
        let mut tried = 0;
        for base in &bases {
            let mut check = |m: &[u8]| {
                if std::str::from_utf8(m).is_ok() {
                    let serde = serde_json::from_slice::<serde::de::IgnoredAny>(m).is_ok();
                    assert_eq!(valid(m), serde, "{}", String::from_utf8_lossy(m));
                    tried += 1;
                }
            };
            for end in 0..=base.len() {
                check(&base[..end]);
            }
            for i in 0..base.len() {
                let mut m = base.clone();
                m.remove(i);
                check(&m);
                for &b in bytes {
                    let mut m = base.clone();
                    m[i] = b;
                    check(&m);
                    let mut m = base.clone();
                    m.insert(i, b);
                    check(&m);
                }
            }
        }
        assert!(tried > 10_000);
    }

    #[test]
    fn string_stops() {
        // The eight-byte scan against the plain one, at every offset.
        let mut s: Vec<u8> = (0u8..=255).cycle().take(4096).collect();
        s.retain(|&b| b != b'"' && b != b'\\' && b >= 0x20);
        assert_eq!(string_stop(&s), None);
        for stop in [b'"', b'\\', 0x00, 0x1f] {
            for at in 0..40 {
                let mut t = s[..48].to_vec();
                t[at] = stop;
                assert_eq!(string_stop(&t), Some(at), "{stop} at {at}");
                t[at + 3] = b'"';
                assert_eq!(string_stop(&t), Some(at));
            }
        }
    }

    #[test]
    fn answers_are_capped() {
        let many: Vec<String> = (0..1000)
            .map(|i| format!("\"10.0.{}.{}\"", i / 256, i % 256))
            .collect();
        let dns = format!(
            r#"{{"version": 2, "type": "answer", "rrname": "x.example", "rrtype": "A",
            "grouped": {{"A": [{}]}}}}"#,
            many.join(",")
        );
        let (o, ev) = read(&dns_record(CLIENT_TO_SERVER, &dns));
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.answers.len(), MAX_ANSWERS);
    }

    #[test]
    fn time_stamps() {
        assert_eq!(iso8601_micros(b"2026-12-06T20:41:45.123456+0000"), Some(T));
        assert_eq!(iso8601_micros(b"2026-12-06T20:41:45.123456Z"), Some(T));
        assert_eq!(iso8601_micros(b"2026-12-06T21:41:45.123456+01:00"), Some(T));
        assert_eq!(iso8601_micros(b"2026-12-06T19:41:45.123456-01"), Some(T));
        assert_eq!(iso8601_micros(b"2026-12-06T20:41:45.1234569999Z"), Some(T));
        assert_eq!(iso8601_micros(b"2026-12-06T20:41:45.12Z"), Some(T - 3456));
        assert_eq!(iso8601_micros(b"2026-12-06T20:41:45"), Some(T - 123_456));
        assert_eq!(iso8601_micros(b"2026-12-06T20:41:45.123456+0000 "), None);
        assert_eq!(iso8601_micros("2026-12-06T20:41:4é".as_bytes()), None);
        assert_eq!(epoch_micros(b"1796589705.123456"), Some(T));
        assert_eq!(epoch_micros(b"1796589705.1234567"), Some(T));
        assert_eq!(epoch_micros(b"1796589705.12"), Some(T - 3456));
        assert_eq!(epoch_micros(b"1796589705"), Some(T - 123_456));
        for bad in [
            &b""[..],
            b".5",
            b"1.",
            b"-1",
            b"1e9",
            b"99999999999999999999",
            b"1.2.3",
        ] {
            assert_eq!(epoch_micros(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(f64_secs_to_micros(1_796_589_705.123456), Some(T));
        assert_eq!(f64_secs_to_micros(f64::NAN), None);
        assert_eq!(f64_secs_to_micros(-1.0), None);
        assert_eq!(f64_secs_to_micros(1e300), None);
    }

    #[test]
    fn rr_type_codes() {
        assert_eq!(rrtype_code("CNAME"), 5);
        assert_eq!(rrtype_code("65"), 65);
        assert_eq!(rrtype_code("99999"), 0);
        assert_eq!(rrtype_code("TYPé1"), 0);
        assert_eq!(rrtype_code(""), 0);
    }

    #[test]
    fn sniffing() {
        assert!(sniff(&dns_record(CLIENT_TO_SERVER, V3_REQUEST)));
        assert!(!sniff(
            br#"{"ts":1591367999.305988,"uid":"C","id.orig_h":"1.2.3.4"}"#
        ));
        assert!(!sniff(br#"{"rrname":"x","rdata":"1.2.3.4","time_last":1}"#));
        assert!(!sniff(b"event_type timestamp"));
    }
}
