//! Zeek logs: `dns`, `http`, `ssl` and `conn`, in the ASCII writer's
//! TSV layout and in its JSON layout (`LogAscii::use_json=T`).
//!
//! TSV (zeek-docs log-formats.rst; the writer in
//! src/threading/formatters/Ascii.cc and src/Desc.cc of zeek/zeek): a
//! header of `#` directives, then one tab-separated line per record.
//! `#fields` names the columns; [`Header::apply`] works out once the
//! column of every field read here, so a line is read in one `memchr`
//! pass over its separators. A field is `-` when unset and `(empty)`
//! when an empty string or set (the `#unset_field` / `#empty_field`
//! markers); sets and vectors are joined by `#set_separator`; a
//! non-printable byte, a backslash and a separator inside a value are
//! written `\xHH`, undone here.
//!
//! JSON: one object per line with the same field names (`"id.orig_h"`),
//! `ts` as epoch seconds (a float; integer milliseconds with
//! `JSON::TS_MILLIS`) or an ISO 8601 string (`JSON::TS_ISO8601`), vectors
//! as arrays, unset fields left out.
//!
//! Which log a line belongs to: `#path` in TSV, `_path` in JSON when a
//! shipper added it; else the fields tell: `query`/`qtype`/`rejected`
//! (dns), `uri`, or `host` with `method` (http, unless `call_id` says
//! SIP), `server_name`/`cipher`/`established`/`resumed` (ssl; QUIC's log
//! also has `server_name`, its SNI, read as TLS), `conn_state` (conn).
//! `proto` and `duration` alone do not decide: notice.log and files.log
//! have them. Lines of other logs are [`Outcome::Ignored`].
//!
//! Event: `id.orig_h` is the client, `id.resp_h` the server, `id.resp_p`
//! its port. dns: `query` is the name, `qtype` the type, `answers` with
//! `TTLs` the answers (an address is an A/AAAA answer; a name a
//! CNAME/NS/PTR/MX/SRV target, which Zeek writes without its type, so it
//! is typed by the question: PTR for a PTR question, NS for NS, MX for
//! MX, SRV for SRV, CNAME for an address or CNAME question since nothing
//! else answers those with a name, else 0; a CNAME met on the way to a
//! PTR, NS, MX or SRV answer takes that type too, which the log cannot
//! tell apart; TXT and other records Zeek writes as text are left out).
//! The types matter: a PTR answer's name is not a name looked up (the
//! matcher does not match it), and flux counts NS answers. http:
//! `host` (without its port) is the name, the URL is `http://` + `host`
//! + `uri`. ssl: `server_name` is the name. conn: a flow.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::eve::{
    KeySeed, MAX_ANSWERS, MAX_NAME, Num, Str, build_url, contains, epoch_micros,
    f64_secs_to_micros, iso8601_micros,
};
use crate::event::{Answer, AnswerData, Event, EventKind, Outcome};

/// The reason of a header line taken.
const HEADER: &str = "Zeek header";
/// The reason of every line of a log not hunted (files, weird, ...).
const OTHER_LOG: &str = "Zeek log of another kind";
/// Most columns in `#fields` (Zeek's widest logs have about a hundred).
const MAX_FIELDS: usize = 4096;
/// Longest `#set_separator`, `#empty_field`, `#unset_field`, `#path`.
const MAX_DIRECTIVE: usize = 256;
/// Integer `ts` from this value up are milliseconds (`JSON::TS_MILLIS`):
/// in seconds it would be past the year 5000.
const MILLIS_FROM: u64 = 100_000_000_000;

/// The logs read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Kind {
    /// Another log (or none known yet).
    #[default]
    Other,
    Dns,
    Http,
    Ssl,
    Conn,
}

impl Kind {
    fn of_path(path: &str) -> Option<Kind> {
        match path {
            "dns" => Some(Kind::Dns),
            "http" => Some(Kind::Http),
            "ssl" => Some(Kind::Ssl),
            "conn" => Some(Kind::Conn),
            _ => None,
        }
    }

    fn event_kind(self) -> Option<EventKind> {
        match self {
            Kind::Other => None,
            Kind::Dns => Some(EventKind::Dns),
            Kind::Http => Some(EventKind::Http),
            Kind::Ssl => Some(EventKind::Tls),
            Kind::Conn => Some(EventKind::Flow),
        }
    }
}

/// Which of the fields that tell the logs apart a log has.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    query: bool,
    qtype: bool,
    rejected: bool,
    uri: bool,
    host: bool,
    method: bool,
    call_id: bool,
    server_name: bool,
    cipher: bool,
    established: bool,
    resumed: bool,
    conn_state: bool,
}

impl Seen {
    /// Notes the field `name`.
    fn mark(&mut self, name: &[u8]) {
        let flag = match name {
            b"query" => &mut self.query,
            b"qtype" => &mut self.qtype,
            b"rejected" => &mut self.rejected,
            b"uri" => &mut self.uri,
            b"host" => &mut self.host,
            b"method" => &mut self.method,
            b"call_id" => &mut self.call_id,
            b"server_name" => &mut self.server_name,
            b"cipher" => &mut self.cipher,
            b"established" => &mut self.established,
            b"resumed" => &mut self.resumed,
            b"conn_state" => &mut self.conn_state,
            _ => return,
        };
        *flag = true;
    }

    /// The log these fields are of.
    fn kind(&self) -> Kind {
        if self.query || self.qtype || self.rejected {
            Kind::Dns
        } else if (self.uri || (self.host && self.method)) && !self.call_id {
            Kind::Http
        } else if self.server_name || self.cipher || self.established || self.resumed {
            Kind::Ssl
        } else if self.conn_state {
            Kind::Conn
        } else {
            Kind::Other
        }
    }
}

/// The columns read, in [`Header`]'s slot table.
const S_TS: usize = 0;
const S_ORIG_H: usize = 1;
const S_RESP_H: usize = 2;
const S_RESP_P: usize = 3;
const S_QUERY: usize = 4;
const S_QTYPE: usize = 5;
const S_ANSWERS: usize = 6;
const S_TTLS: usize = 7;
const S_HOST: usize = 8;
const S_URI: usize = 9;
const S_SERVER_NAME: usize = 10;
const N_SLOTS: usize = 11;
const SLOT_NAMES: [&str; N_SLOTS] = [
    "ts",
    "id.orig_h",
    "id.resp_h",
    "id.resp_p",
    "query",
    "qtype",
    "answers",
    "TTLs",
    "host",
    "uri",
    "server_name",
];
/// A column not read.
const NO_SLOT: u8 = u8::MAX;

/// The header of a Zeek TSV log: separators, markers, which log, and the
/// column of each field read.
#[derive(Clone, Debug)]
pub struct Header {
    separator: u8,
    set_separator: Vec<u8>,
    empty_field: Vec<u8>,
    unset_field: Vec<u8>,
    path: String,
    seen: Seen,
    /// For each column, the slot it fills ([`NO_SLOT`] when not read).
    slot_of: Vec<u8>,
    kind: Kind,
    ready: bool,
}

impl Default for Header {
    /// Zeek's defaults (a tab, `,`, `(empty)`, `-`), no fields yet.
    fn default() -> Header {
        Header {
            separator: b'\t',
            set_separator: b",".to_vec(),
            empty_field: b"(empty)".to_vec(),
            unset_field: b"-".to_vec(),
            path: String::new(),
            seen: Seen::default(),
            slot_of: Vec::new(),
            kind: Kind::Other,
            ready: false,
        }
    }
}

impl Header {
    /// Applies one `#` line (without its line end): `#separator \x09`,
    /// `#set_separator`, `#empty_field`, `#unset_field`, `#path`,
    /// `#open`, `#fields`, `#types`, `#close`. Returns
    /// `Ignored("Zeek header")` for a directive taken, `Bad(..)` for
    /// anything else. A `#separator` after `#fields` begins a new log
    /// (concatenated or rotated files): everything is reset first. A new
    /// `#fields` replaces the columns (the order may change) and keeps
    /// the rest.
    pub fn apply(&mut self, line: &[u8]) -> Outcome {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"#separator") {
            // "#separator \x09": the only directive whose value follows a
            // space, written escaped.
            let Some(v) = rest
                .strip_prefix(b" ")
                .or_else(|| rest.strip_prefix(&[self.separator][..]))
            else {
                return Outcome::Bad("invalid Zeek #separator");
            };
            let v = unescape(v);
            let &[sep] = &*v else {
                return Outcome::Bad("unsupported Zeek separator");
            };
            if self.ready {
                *self = Header::default();
            }
            self.separator = sep;
            return Outcome::Ignored(HEADER);
        }
        let (name, value) = match memchr::memchr(self.separator, line) {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        match name {
            b"#set_separator" => match directive(value) {
                Some(v) if !v.is_empty() => self.set_separator = v,
                _ => return Outcome::Bad("invalid Zeek #set_separator"),
            },
            b"#empty_field" => match directive(value) {
                Some(v) => self.empty_field = v,
                None => return Outcome::Bad("invalid Zeek #empty_field"),
            },
            b"#unset_field" => match directive(value) {
                Some(v) => self.unset_field = v,
                None => return Outcome::Bad("invalid Zeek #unset_field"),
            },
            b"#path" => match directive(value) {
                Some(v) => {
                    self.path = String::from_utf8_lossy(&v).into_owned();
                    self.set_kind();
                }
                None => return Outcome::Bad("invalid Zeek #path"),
            },
            b"#fields" => return self.set_fields(value),
            b"#open" | b"#close" | b"#types" => {}
            _ => return Outcome::Bad("unknown Zeek header directive"),
        }
        Outcome::Ignored(HEADER)
    }

    /// True once `#fields` was read: lines can be read.
    pub fn ready(&self) -> bool {
        self.ready
    }

    fn set_fields(&mut self, value: &[u8]) -> Outcome {
        let mut slot_of = Vec::new();
        let mut seen = Seen::default();
        for name in value.split(|&b| b == self.separator) {
            if slot_of.len() == MAX_FIELDS {
                return Outcome::Bad("too many Zeek fields");
            }
            let slot = SLOT_NAMES
                .iter()
                .position(|s| s.as_bytes() == name)
                .map(|s| s as u8)
                .filter(|s| !slot_of.contains(s))
                .unwrap_or(NO_SLOT);
            slot_of.push(slot);
            seen.mark(name);
        }
        self.slot_of = slot_of;
        self.seen = seen;
        self.set_kind();
        self.ready = true;
        Outcome::Ignored(HEADER)
    }

    fn set_kind(&mut self) {
        self.kind = Kind::of_path(&self.path).unwrap_or_else(|| self.seen.kind());
    }

    /// `v` unless it is the unset or the empty marker (or empty).
    fn value<'a>(&self, v: &'a [u8]) -> Option<&'a [u8]> {
        (!v.is_empty() && v != self.unset_field.as_slice() && v != self.empty_field.as_slice())
            .then_some(v)
    }
}

/// A directive's value, unescaped, when not too long.
fn directive(v: &[u8]) -> Option<Vec<u8>> {
    (v.len() <= 4 * MAX_DIRECTIVE)
        .then(|| unescape(v).into_owned())
        .filter(|v| v.len() <= MAX_DIRECTIVE)
}

/// `s` with Zeek's `\xHH` escapes undone (borrowed when it has none).
fn unescape(s: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', s).is_none() {
        return Cow::Borrowed(s);
    }
    fn hex(b: Option<&u8>) -> Option<u8> {
        match b? {
            b @ b'0'..=b'9' => Some(b - b'0'),
            b @ b'a'..=b'f' => Some(b - b'a' + 10),
            b @ b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'\\'
            && s.get(i + 1) == Some(&b'x')
            && let (Some(h), Some(l)) = (hex(s.get(i + 2)), hex(s.get(i + 3)))
        {
            out.push(h << 4 | l);
            i += 4;
            continue;
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

/// Sets the event's name from a logged (escaped) value.
fn set_name(dst: &mut String, raw: &[u8]) -> Result<(), &'static str> {
    let v = unescape(raw);
    if v.len() > MAX_NAME {
        return Err("name too long");
    }
    let s = std::str::from_utf8(&v).map_err(|_| "name not UTF-8")?;
    dst.clear();
    dst.push_str(s);
    Ok(())
}

/// Appends one element of `answers`: an address, or a name; Zeek's text
/// renderings of other records (`TXT 12 ...`, `<unknown type=99>`,
/// `SSHFP: ...`) are left out, as are overlong ones. The name's type is
/// set by [`type_names`] once the question's type is known.
fn push_answer(answers: &mut Vec<Answer>, raw: &[u8], ttl: Option<u32>) -> bool {
    if raw.is_empty() || answers.len() >= MAX_ANSWERS {
        return false;
    }
    let v = unescape(raw);
    if v.len() > MAX_NAME {
        return false;
    }
    if let Ok(a) = std::str::from_utf8(&v).unwrap_or("").parse::<IpAddr>() {
        let rrtype = if a.is_ipv4() { 1 } else { 28 };
        answers.push(Answer {
            data: AnswerData::Addr(a),
            rrtype,
            ttl,
        });
        return true;
    }
    if v.first() == Some(&b'<') || v.iter().any(|b| b.is_ascii_whitespace()) {
        return false;
    }
    // An answer name is kept even with bytes that are not UTF-8: dropping
    // it would let `\xff.evil.example` hide a subdomain.
    answers.push(Answer {
        data: AnswerData::Name(String::from_utf8_lossy(&v).into_owned()),
        rrtype: 0,
        ttl,
    });
    true
}

/// Types the name answers once the question's type is known: a PTR,
/// NS, MX or SRV question is answered with names of its type (and maybe
/// a CNAME first, which Zeek's `answers` does not tell apart); an
/// address or CNAME question only by a CNAME.
fn type_names(ev: &mut Event) {
    let rrtype = match ev.qtype {
        t @ (2 | 12 | 15 | 33) => t,
        1 | 5 | 28 => 5,
        _ => return,
    };
    for a in &mut ev.answers {
        if a.rrtype == 0 && matches!(a.data, AnswerData::Name(_)) {
            a.rrtype = rrtype;
        }
    }
}

/// A TTL as logged (`3600.000000`, an `interval`): whole seconds,
/// saturating.
fn ttl_of(v: &[u8]) -> Option<u32> {
    let int = match memchr::memchr(b'.', v) {
        Some(i) => &v[..i],
        None => v,
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut t: u32 = 0;
    for &b in int {
        t = t.saturating_mul(10).saturating_add(u32::from(b - b'0'));
    }
    Some(t)
}

fn addr_of(v: &[u8]) -> Result<IpAddr, &'static str> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("invalid address")
}

/// A decimal `u16` (a port or `count` field).
fn u16_of(v: &[u8]) -> Option<u16> {
    if v.is_empty() || v.len() > 5 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// The name and URL of the kinds that have one, from the logged values.
fn fill_names(
    kind: Kind,
    query: Option<&[u8]>,
    host: Option<&[u8]>,
    uri: Option<&[u8]>,
    server_name: Option<&[u8]>,
    ev: &mut Event,
) -> Result<(), &'static str> {
    match kind {
        Kind::Dns => {
            if let Some(q) = query {
                set_name(&mut ev.name, q)?;
            }
        }
        Kind::Http => {
            let h = host.map(unescape).unwrap_or_default();
            if h.len() > MAX_NAME {
                return Err("name too long");
            }
            let h = std::str::from_utf8(&h).map_err(|_| "name not UTF-8")?;
            ev.name.clear();
            ev.name.push_str(strip_port(h));
            // Without a host, only an absolute URI (a proxy's request)
            // gives a URL.
            if let Some(u) = uri {
                let u = unescape(u);
                build_url(&mut ev.url, h, None, &String::from_utf8_lossy(&u));
            }
        }
        Kind::Ssl => {
            if let Some(s) = server_name {
                set_name(&mut ev.name, s)?;
            }
        }
        Kind::Conn | Kind::Other => {}
    }
    Ok(())
}

/// A Host header's name: without its `:port`, and an IPv6 literal
/// without its brackets.
fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.split_once(':') {
        // One colon: host:port. More: an unbracketed IPv6 address.
        Some((name, port)) if !port.contains(':') => name,
        _ => h,
    }
}

/// The elements of a set or vector field.
fn split_set<'a>(v: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(v);
    std::iter::from_fn(move || {
        let r = rest?;
        let found = match sep {
            [b] => memchr::memchr(*b, r),
            _ => memchr::memmem::find(r, sep),
        };
        match found {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Reads one TSV data line of the log `h` describes into `ev`.
pub fn parse_tsv(h: &Header, line: &[u8], ev: &mut Event) -> Outcome {
    match read_tsv(h, line, ev) {
        Ok(o) => o,
        Err(reason) => Outcome::Bad(reason),
    }
}

fn read_tsv(h: &Header, line: &[u8], ev: &mut Event) -> Result<Outcome, &'static str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // A header line is the reader's to apply; here it is no error.
    if line.first() == Some(&b'#') {
        return Ok(Outcome::Ignored(HEADER));
    }
    if !h.ready {
        return Err("Zeek TSV line before any #fields header");
    }
    let Some(kind) = h.kind.event_kind() else {
        return Ok(Outcome::Ignored(OTHER_LOG));
    };
    // One pass over the separators; each column read lands in its slot.
    let mut spans: [Option<(usize, usize)>; N_SLOTS] = [None; N_SLOTS];
    let mut col = 0usize;
    let mut start = 0usize;
    let mut take = |col: usize, start: usize, end: usize| {
        if let Some(&s) = h.slot_of.get(col)
            && let Some(span) = spans.get_mut(usize::from(s))
        {
            *span = Some((start, end));
        }
    };
    for end in memchr::memchr_iter(h.separator, line) {
        take(col, start, end);
        col += 1;
        start = end + 1;
    }
    take(col, start, line.len());
    col += 1;
    match col.cmp(&h.slot_of.len()) {
        std::cmp::Ordering::Less => return Err("too few fields"),
        std::cmp::Ordering::Greater => return Err("too many fields"),
        std::cmp::Ordering::Equal => {}
    }
    let get = |slot: usize| {
        spans[slot]
            .and_then(|(s, e)| line.get(s..e))
            .and_then(|v| h.value(v))
    };

    ev.kind = kind;
    if let Some(v) = get(S_TS) {
        ev.time = Some(epoch_micros(v).ok_or("invalid time")?);
    }
    if let Some(v) = get(S_ORIG_H) {
        ev.client = Some(addr_of(v)?);
    }
    if let Some(v) = get(S_RESP_H) {
        ev.server = Some(addr_of(v)?);
    }
    if let Some(v) = get(S_RESP_P) {
        ev.server_port = Some(u16_of(v).ok_or("invalid port")?);
    }
    if h.kind == Kind::Dns {
        if let Some(v) = get(S_QTYPE) {
            ev.qtype = u16_of(v).ok_or("invalid qtype")?;
        }
        if let Some(answers) = get(S_ANSWERS) {
            let sep = h.set_separator.as_slice();
            let mut ttls = get(S_TTLS).map(|t| split_set(t, sep));
            for a in split_set(answers, sep) {
                let ttl = ttls.as_mut().and_then(Iterator::next).and_then(ttl_of);
                push_answer(&mut ev.answers, a, ttl);
            }
        }
        type_names(ev);
    }
    fill_names(
        h.kind,
        get(S_QUERY),
        get(S_HOST),
        get(S_URI),
        get(S_SERVER_NAME),
        ev,
    )?;
    Ok(Outcome::Event)
}

/// True for the header lines that begin a Zeek TSV log (`#separator`,
/// `#fields`).
pub fn sniff_tsv(line: &[u8]) -> bool {
    line.starts_with(b"#separator") || line.starts_with(b"#fields")
}

/// True when `line` looks like a Zeek JSON record: an object with a
/// `"ts"` key and an `"id.orig_h"` or `"uid"` key (and no EVE
/// `"event_type"`).
pub fn sniff_json(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    t.first() == Some(&b'{')
        && t.last() == Some(&b'}')
        && contains(t, b"\"ts\"")
        && (contains(t, b"\"id.orig_h\"") || contains(t, b"\"uid\""))
        && !contains(t, b"\"event_type\"")
}

// ---------------------------------------------------------------------
// JSON.

const Z_KEYS: &[&str] = &[
    "ts",
    "_path",
    "id.orig_h",
    "id.resp_h",
    "id.resp_p",
    "query",
    "qtype",
    "answers",
    "TTLs",
    "host",
    "uri",
    "server_name",
    "method",
    "cipher",
    "established",
    "resumed",
    "conn_state",
    "call_id",
    "rejected",
];
const Z_TS: usize = 0;
const Z_PATH: usize = 1;
const Z_ORIG_H: usize = 2;
const Z_RESP_H: usize = 3;
const Z_RESP_P: usize = 4;
const Z_QUERY: usize = 5;
const Z_QTYPE: usize = 6;
const Z_ANSWERS: usize = 7;
const Z_TTLS: usize = 8;
const Z_HOST: usize = 9;
const Z_URI: usize = 10;
const Z_SERVER_NAME: usize = 11;

/// What a JSON record gave, before it is checked.
#[derive(Default)]
struct ZJson<'de> {
    /// `Some(None)`: a `ts` that is not a time.
    ts: Option<Option<i64>>,
    path: Option<Cow<'de, str>>,
    orig_h: Option<Cow<'de, str>>,
    resp_h: Option<Cow<'de, str>>,
    resp_p: Option<Num>,
    query: Option<Cow<'de, str>>,
    qtype: Option<Num>,
    host: Option<Cow<'de, str>>,
    uri: Option<Cow<'de, str>>,
    server_name: Option<Cow<'de, str>>,
    seen: Seen,
    /// `answers` was read: its answers carry, in `ttl`, the index of the
    /// element they came from until `TTLs` replaces it by the TTL.
    answers_read: bool,
    ttls_applied: bool,
    /// TTLs read before the answers (not Zeek's order, but valid JSON).
    early_ttls: Option<Vec<Option<u32>>>,
}

/// Reads one Zeek JSON line into `ev`.
pub fn parse_json(line: &[u8], ev: &mut Event) -> Outcome {
    let mut z = ZJson::default();
    let mut de = serde_json::Deserializer::from_slice(line);
    let read = ZSeed {
        ev: &mut *ev,
        z: &mut z,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if read.is_err() {
        return Outcome::Bad("invalid JSON");
    }
    match fill_json(&z, ev) {
        Ok(o) => o,
        Err(reason) => Outcome::Bad(reason),
    }
}

fn fill_json(z: &ZJson, ev: &mut Event) -> Result<Outcome, &'static str> {
    if z.answers_read && !z.ttls_applied {
        for a in &mut ev.answers {
            a.ttl = None;
        }
    }
    let kind = z
        .path
        .as_deref()
        .and_then(Kind::of_path)
        .unwrap_or_else(|| z.seen.kind());
    let Some(event_kind) = kind.event_kind() else {
        return Ok(Outcome::Ignored(OTHER_LOG));
    };
    ev.kind = event_kind;
    if let Some(ts) = z.ts {
        ev.time = Some(ts.ok_or("invalid time")?);
    }
    let addr = |s: &Option<Cow<str>>| match s.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| "invalid address"),
    };
    ev.client = addr(&z.orig_h)?;
    ev.server = addr(&z.resp_h)?;
    if let Some(p) = z.resp_p {
        ev.server_port = Some(p.to_u16().ok_or("invalid port")?);
    }
    if kind == Kind::Dns {
        if let Some(q) = z.qtype {
            ev.qtype = q.to_u16().ok_or("invalid qtype")?;
        }
        type_names(ev);
    } else {
        ev.answers.clear();
    }
    fn bytes<'a>(s: &'a Option<Cow<str>>) -> Option<&'a [u8]> {
        s.as_deref().filter(|s| !s.is_empty()).map(str::as_bytes)
    }
    fill_names(
        kind,
        bytes(&z.query),
        bytes(&z.host),
        bytes(&z.uri),
        bytes(&z.server_name),
        ev,
    )?;
    Ok(Outcome::Event)
}

/// A JSON record.
struct ZSeed<'a, 'de> {
    ev: &'a mut Event,
    z: &'a mut ZJson<'de>,
}

impl<'de> DeserializeSeed<'de> for ZSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ZSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Zeek JSON record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ZSeed { ev, z } = self;
        while let Some(k) = map.next_key_seed(KeySeed(Z_KEYS))? {
            if let Some(name) = Z_KEYS.get(k) {
                z.seen.mark(name.as_bytes());
            }
            match k {
                Z_TS => z.ts = Some(map.next_value::<Ts>()?.0),
                Z_PATH => z.path = Some(map.next_value::<Str>()?.0),
                Z_ORIG_H => z.orig_h = Some(map.next_value::<Str>()?.0),
                Z_RESP_H => z.resp_h = Some(map.next_value::<Str>()?.0),
                Z_RESP_P => z.resp_p = Some(map.next_value()?),
                Z_QUERY => z.query = Some(map.next_value::<Str>()?.0),
                Z_QTYPE => z.qtype = Some(map.next_value()?),
                Z_HOST => z.host = Some(map.next_value::<Str>()?.0),
                Z_URI => z.uri = Some(map.next_value::<Str>()?.0),
                Z_SERVER_NAME => z.server_name = Some(map.next_value::<Str>()?.0),
                Z_ANSWERS if !z.answers_read => {
                    map.next_value_seed(AnswersSeed {
                        answers: &mut ev.answers,
                    })?;
                    z.answers_read = true;
                    if let Some(early) = z.early_ttls.take() {
                        for a in &mut ev.answers {
                            a.ttl = a.ttl.and_then(|i| early.get(i as usize).copied().flatten());
                        }
                        z.ttls_applied = true;
                    }
                }
                Z_TTLS if !z.ttls_applied && z.early_ttls.is_none() => {
                    if z.answers_read {
                        map.next_value_seed(TtlsSeed {
                            answers: &mut ev.answers,
                        })?;
                        z.ttls_applied = true;
                    } else {
                        z.early_ttls = Some(map.next_value_seed(EarlyTtlsSeed)?);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A `ts`: `Some(micros)`, or `None` when it is not a time.
struct Ts(Option<i64>);

impl<'de> serde::Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ts, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Ts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a time")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ts, E> {
                Ok(Ts(f64_secs_to_micros(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ts, E> {
                let micros = if v >= MILLIS_FROM {
                    (v / 1000 <= crate::eve::MAX_EPOCH_SECS).then(|| v as i64 * 1000)
                } else {
                    Some(v as i64 * 1_000_000)
                };
                Ok(Ts(micros))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ts, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Ok(Ts(None)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ts, E> {
                let b = v.as_bytes();
                Ok(Ts(iso8601_micros(b).or_else(|| epoch_micros(b))))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `answers` array: each element kept is pushed with the index it
/// came from in `ttl`, for `TTLs` to match.
struct AnswersSeed<'a> {
    answers: &'a mut Vec<Answer>,
}

impl<'de> DeserializeSeed<'de> for AnswersSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AnswersSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of answers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i: u32 = 0;
        while let Some(s) = seq.next_element::<Str>()? {
            push_answer(self.answers, s.0.as_bytes(), Some(i));
            i = i.saturating_add(1);
        }
        Ok(())
    }
}

/// The `TTLs` array after `answers`: merged by index.
struct TtlsSeed<'a> {
    answers: &'a mut Vec<Answer>,
}

impl<'de> DeserializeSeed<'de> for TtlsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for TtlsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of TTLs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i: u32 = 0;
        let mut next = 0usize;
        while let Some(n) = seq.next_element::<Num>()? {
            // Answers are in the order of their indexes; those left out
            // leave gaps.
            while let Some(a) = self.answers.get_mut(next) {
                if a.ttl != Some(i) {
                    break;
                }
                a.ttl = n.to_ttl();
                next += 1;
            }
            i = i.saturating_add(1);
        }
        for a in self.answers.iter_mut().skip(next) {
            a.ttl = None;
        }
        Ok(())
    }
}

/// The `TTLs` array before `answers`: kept (bounded) until they come.
struct EarlyTtlsSeed;

impl<'de> DeserializeSeed<'de> for EarlyTtlsSeed {
    type Value = Vec<Option<u32>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EarlyTtlsSeed {
    type Value = Vec<Option<u32>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of TTLs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut v = Vec::new();
        while let Some(n) = seq.next_element::<Num>()? {
            if v.len() < 16 * MAX_ANSWERS {
                v.push(n.to_ttl());
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line of the docs (whose tabs became spaces) with its tabs back.
    fn tsv(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join("\t")
            .into_bytes()
    }

    /// The header lines of zeek-docs log-formats.rst ("#separator \x09"
    /// keeps its space).
    fn header(path: &str, fields: &str) -> Header {
        let mut h = Header::default();
        for l in [
            b"#separator \\x09".to_vec(),
            tsv("#set_separator ,"),
            tsv("#empty_field (empty)"),
            tsv("#unset_field -"),
            tsv(&format!("#path {path}")),
            tsv("#open 2020-06-05-14-48-32"),
            tsv(&format!("#fields {fields}")),
        ] {
            assert_eq!(
                h.apply(&l),
                Outcome::Ignored(HEADER),
                "{}",
                String::from_utf8_lossy(&l)
            );
        }
        assert!(h.ready());
        h
    }

    const DNS_FIELDS: &str = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id \
        rtt query qclass qclass_name qtype qtype_name rcode rcode_name AA TC RD RA Z answers \
        TTLs rejected";
    const HTTP_FIELDS: &str = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth \
        method host uri referrer version user_agent origin request_body_len response_body_len \
        status_code status_msg info_code info_msg tags username password proxied orig_fuids \
        orig_filenames orig_mime_types resp_fuids resp_filenames resp_mime_types";
    const CONN_FIELDS: &str = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service \
        duration orig_bytes resp_bytes conn_state local_orig local_resp missed_bytes history \
        orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents ip_proto";
    /// Zeek 6's ssl.log columns.
    const SSL_FIELDS: &str = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version cipher \
        curve server_name resumed last_alert next_protocol established ssl_history \
        cert_chain_fps client_cert_chain_fps sni_matches_cert";

    fn read(h: &Header, line: &[u8]) -> (Outcome, Event) {
        let mut ev = Event::default();
        let o = parse_tsv(h, line, &mut ev);
        (o, ev)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn dns_line(query: &str, qtype: &str, answers: &str, ttls: &str) -> Vec<u8> {
        tsv(&format!(
            "1591367999.305988 CazOhH2qDUiJTWMCY 192.168.4.76 36844 192.168.4.1 53 udp \
             19671 0.066852 {query} 1 C_INTERNET {qtype} A 0 NOERROR F F T T 0 {answers} \
             {ttls} F"
        ))
    }

    #[test]
    fn dns_log_of_the_docs() {
        // log-formats.rst, dns.log.
        let h = header("dns", DNS_FIELDS);
        let (o, ev) = read(
            &h,
            &tsv(
                "1591367999.306059 CazOhH2qDUiJTWMCY 192.168.4.76 36844 192.168.4.1 53 udp \
                  8555 - testmyids.com 1 C_INTERNET 28 AAAA 0 NOERROR F F T F 0 - - F",
            ),
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Dns);
        assert_eq!(ev.time, Some(1_591_367_999_306_059));
        assert_eq!(ev.client, Some(ip("192.168.4.76")));
        assert_eq!(ev.server, Some(ip("192.168.4.1")));
        assert_eq!(ev.server_port, Some(53));
        assert_eq!(ev.name, "testmyids.com");
        assert_eq!(ev.qtype, 28);
        assert!(ev.answers.is_empty());

        let (o, ev) = read(
            &h,
            &tsv(
                "1591367999.305988 CazOhH2qDUiJTWMCY 192.168.4.76 36844 192.168.4.1 53 udp \
                  19671 0.066852 testmyids.com 1 C_INTERNET 1 A 0 NOERROR F F T T 0 \
                  31.3.245.133 3600.000000 F",
            ),
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.time, Some(1_591_367_999_305_988));
        assert_eq!(ev.qtype, 1);
        assert_eq!(
            ev.answers,
            [Answer {
                data: AnswerData::Addr(ip("31.3.245.133")),
                rrtype: 1,
                ttl: Some(3600)
            }]
        );
    }

    #[test]
    fn dns_answers_and_ttls() {
        let h = header("dns", DNS_FIELDS);
        // The answers of the SANS dns.log sample (a CNAME, then its
        // address), TXT and unknown records as Zeek renders them, an IPv6
        // address, and a TTL short of its answer.
        let (o, ev) = read(
            &h,
            &dns_line(
                "www.sansgear.com",
                "1",
                "vhost1.identityvector.com,70.32.97.206,TXT\\x2023\\x20v=spf1,<unknown\\x20type=65>,2001:db8::1",
                "3600.000000,300.000000,60.000000,60.000000",
            ),
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(
            ev.answers,
            [
                Answer {
                    data: AnswerData::Name("vhost1.identityvector.com".into()),
                    rrtype: 5,
                    ttl: Some(3600)
                },
                Answer {
                    data: AnswerData::Addr(ip("70.32.97.206")),
                    rrtype: 1,
                    ttl: Some(300)
                },
                Answer {
                    data: AnswerData::Addr(ip("2001:db8::1")),
                    rrtype: 28,
                    ttl: None
                },
            ]
        );
        // Names answering other questions take the question's type, or
        // none when it has no name answers of its own (TXT, ANY).
        for (qtype, rrtype) in [("15", 15), ("33", 33), ("2", 2), ("16", 0), ("255", 0)] {
            let (_, ev) = read(
                &h,
                &dns_line("example.com", qtype, "mx.example.com", "60.0"),
            );
            assert_eq!(ev.answers[0].rrtype, rrtype, "qtype {qtype}");
        }
        // (empty) answers, unset TTLs.
        let (o, ev) = read(&h, &dns_line("example.com", "1", "(empty)", "-"));
        assert_eq!(o, Outcome::Event);
        assert!(ev.answers.is_empty());
        let (_, ev) = read(&h, &dns_line("example.com", "1", "192.0.2.1", "-"));
        assert_eq!(ev.answers[0].ttl, None);
        // Capped.
        let many = (0..1000)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect::<Vec<_>>();
        let (_, ev) = read(&h, &dns_line("example.com", "1", &many.join(","), "-"));
        assert_eq!(ev.answers.len(), MAX_ANSWERS);
    }

    #[test]
    fn ptr_and_ns_answers_are_typed() {
        // A reverse lookup whose answer lies under an indicator
        // (evil.example): a PTR answer, which names the address's owner,
        // not a name the client looked up.
        let h = header("dns", DNS_FIELDS);
        let ptr = |a: &str| Answer {
            data: AnswerData::Name(a.into()),
            rrtype: 12,
            ttl: Some(300),
        };
        let (o, ev) = read(
            &h,
            &dns_line(
                "7.100.51.198.in-addr.arpa",
                "12",
                "mail.evil.example",
                "300.000000",
            ),
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.qtype, 12);
        assert_eq!(ev.answers, [ptr("mail.evil.example")]);
        let (o, ev) = json(
            r#"{"ts":1591367999.305988,"uid":"C","id.orig_h":"192.168.4.76","id.resp_h":"192.168.4.1","id.resp_p":53,"query":"7.100.51.198.in-addr.arpa","qtype":12,"qtype_name":"PTR","answers":["mail.evil.example"],"TTLs":[300.0]}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.answers, [ptr("mail.evil.example")]);

        // An NS question: its answers are name servers (what flux counts).
        let ns = |a: &str| Answer {
            data: AnswerData::Name(a.into()),
            rrtype: 2,
            ttl: Some(86400),
        };
        let (o, ev) = read(
            &h,
            &dns_line(
                "evil.example",
                "2",
                "ns1.evil.example,ns2.evil.example",
                "86400.000000,86400.000000",
            ),
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.answers, [ns("ns1.evil.example"), ns("ns2.evil.example")]);
        let (o, ev) = json(
            r#"{"ts":1591367999.305988,"uid":"C","id.orig_h":"192.168.4.76","query":"evil.example","qtype":2,"qtype_name":"NS","answers":["ns1.evil.example","ns2.evil.example"],"TTLs":[86400.0,86400.0]}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.answers, [ns("ns1.evil.example"), ns("ns2.evil.example")]);
        // The question's type decides, not the order of the fields.
        let (_, early) = json(
            r#"{"answers":["ns1.evil.example","ns2.evil.example"],"TTLs":[86400.0,86400.0],"qtype":2,"ts":1591367999.305988,"uid":"C","query":"evil.example"}"#,
        );
        assert_eq!(early.answers, ev.answers);
    }

    #[test]
    fn escapes() {
        let h = header("dns", DNS_FIELDS);
        let name = |q: &str| {
            let (o, ev) = read(&h, &dns_line(q, "1", "-", "-"));
            (o, ev.name)
        };
        // The unset and empty markers as values are escaped
        // (escapeReservedContent in Ascii.cc).
        assert_eq!(name("\\x2d"), (Outcome::Event, "-".into()));
        assert_eq!(name("\\x28empty)"), (Outcome::Event, "(empty)".into()));
        assert_eq!(name("(empty)"), (Outcome::Event, String::new()));
        // UTF-8 written byte by byte, a tab (the separator), a backslash.
        assert_eq!(
            name("b\\xc3\\xbccher.example"),
            (Outcome::Event, "bücher.example".into())
        );
        assert_eq!(
            name("a\\x09b\\x5c.example"),
            (Outcome::Event, "a\tb\\.example".into())
        );
        // Not an escape: kept as is.
        assert_eq!(name("a\\xzz\\"), (Outcome::Event, "a\\xzz\\".into()));
        assert_eq!(name("\\xff.evil.example").0, Outcome::Bad("name not UTF-8"));
        assert_eq!(
            name("\u{e9}.example"),
            (Outcome::Event, "\u{e9}.example".into())
        );
        // Raw bytes that are not UTF-8.
        let mut raw = dns_line("X.example", "1", "-", "-");
        let at = raw.iter().position(|&b| b == b'X').unwrap();
        raw[at] = 0xff;
        assert_eq!(read(&h, &raw).0, Outcome::Bad("name not UTF-8"));
        // An answer name that is not UTF-8 is kept (lossily), not dropped.
        let (o, ev) = read(&h, &dns_line("x.example", "1", "\\xff.evil.example", "-"));
        assert_eq!(o, Outcome::Event);
        assert_eq!(
            ev.answers[0].data,
            AnswerData::Name("\u{fffd}.evil.example".into())
        );
        // A set separator inside an answer.
        let (_, ev) = read(
            &h,
            &dns_line("x.example", "1", "a\\x2cb.example,c.example", "-"),
        );
        assert_eq!(ev.answers.len(), 2);
        assert_eq!(ev.answers[0].data, AnswerData::Name("a,b.example".into()));
        assert_eq!(
            name(&"a".repeat(MAX_NAME + 1)).0,
            Outcome::Bad("name too long")
        );
        assert_eq!(
            name(&"\\x61".repeat(MAX_NAME)),
            (Outcome::Event, "a".repeat(MAX_NAME))
        );
    }

    #[test]
    fn http_ssl_conn_logs() {
        // log-formats.rst, http.log.
        let h = header("http", HTTP_FIELDS);
        let line = "1591367999.512593 CLqEx41jYPOdfHF586 192.168.4.76 46378 31.3.245.133 80 1 \
                    GET testmyids.com / - 1.1 curl/7.47.0 - 0 39 200 OK - - (empty) - - - - - - \
                    FEEsZS1w0Z0VJIb5x4 - text/plain";
        let (o, ev) = read(&h, &tsv(line));
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Http);
        assert_eq!(ev.client, Some(ip("192.168.4.76")));
        assert_eq!(ev.server, Some(ip("31.3.245.133")));
        assert_eq!(ev.server_port, Some(80));
        assert_eq!(ev.name, "testmyids.com");
        assert_eq!(ev.url, "http://testmyids.com/");
        // A port in the Host header: out of the name, kept in the URL.
        let (_, ev) = read(
            &h,
            &tsv(&line.replace("testmyids.com /", "testmyids.com:8080 /a?b=\\x20c")),
        );
        assert_eq!(ev.name, "testmyids.com");
        assert_eq!(ev.url, "http://testmyids.com:8080/a?b= c");
        let (_, ev) = read(
            &h,
            &tsv(&line.replace("testmyids.com /", "[2001:db8::1]:8080 /")),
        );
        assert_eq!(ev.name, "2001:db8::1");
        assert_eq!(ev.url, "http://[2001:db8::1]:8080/");
        // No host: no name, and a URL only from an absolute URI;
        // CONNECT: a name, no URL.
        let (_, ev) = read(&h, &tsv(&line.replace("testmyids.com /", "- /")));
        assert_eq!((ev.name.as_str(), ev.url.as_str()), ("", ""));
        let (_, ev) = read(
            &h,
            &tsv(&line.replace("testmyids.com /", "- http://evil.example/x")),
        );
        assert_eq!(
            (ev.name.as_str(), ev.url.as_str()),
            ("", "http://evil.example/x")
        );
        let (_, ev) = read(
            &h,
            &tsv(&line.replace(
                "GET testmyids.com /",
                "CONNECT evil.example evil.example:443",
            )),
        );
        assert_eq!((ev.name.as_str(), ev.url.as_str()), ("evil.example", ""));

        // ssl.rst's TLS 1.2 record in the TSV layout.
        let h = header("ssl", SSL_FIELDS);
        let (o, ev) = read(
            &h,
            &tsv(
                "1598377391.921726 CsukF91Bx9mrqdEaH9 192.168.4.49 56718 13.32.202.10 443 \
                  TLSv12 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 secp256r1 www.taosecurity.com \
                  F - h2 T CsxknGIti - - T",
            ),
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Tls);
        assert_eq!(ev.name, "www.taosecurity.com");
        assert_eq!(ev.server, Some(ip("13.32.202.10")));
        assert_eq!(ev.server_port, Some(443));
        assert_eq!(ev.time, Some(1_598_377_391_921_726));

        // log-formats.rst, conn.log.
        let h = header("conn", CONN_FIELDS);
        let (o, ev) = read(
            &h,
            &tsv(
                "1591367999.430166 CLqEx41jYPOdfHF586 192.168.4.76 46378 31.3.245.133 80 tcp \
                  http 0.254115 77 295 SF - - 0 ShADadFf 6 397 4 511 - 6",
            ),
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Flow);
        assert_eq!(ev.client, Some(ip("192.168.4.76")));
        assert_eq!(ev.server, Some(ip("31.3.245.133")));
        assert_eq!(ev.server_port, Some(80));
        assert!(ev.name.is_empty());
    }

    #[test]
    fn other_logs_and_paths() {
        // log-formats.rst, packet_filter.log and files.log.
        let h = header("packet_filter", "ts node filter init success");
        assert_eq!(
            read(&h, &tsv("1591368512.420771 zeek ip_or_not_ip T T")).0,
            Outcome::Ignored(OTHER_LOG)
        );
        let h = header(
            "files",
            "ts fuid uid id.orig_h id.origh_p id.resp_h id.resp_p source depth analyzers \
             mime_type filename duration local_orig is_orig seen_bytes total_bytes",
        );
        assert_eq!(h.kind, Kind::Other);
        // A path not known (a filter's, a shipper's): the fields decide.
        assert_eq!(header("dns_local", DNS_FIELDS).kind, Kind::Dns);
        assert_eq!(header("conn_long", CONN_FIELDS).kind, Kind::Conn);
        assert_eq!(header("", SSL_FIELDS).kind, Kind::Ssl);
        // SIP has uri and method, software.log a host: neither is http.
        assert_eq!(
            header("x", "ts uid trans_depth method uri call_id request_from").kind,
            Kind::Other
        );
        assert_eq!(
            header("x", "ts host host_p software_type name url").kind,
            Kind::Other
        );
        // notice.log has proto, files.log duration: neither is conn.
        assert_eq!(
            header("x", "ts uid proto note msg duration").kind,
            Kind::Other
        );
    }

    #[test]
    fn headers_change_mid_file() {
        let mut h = header("dns", DNS_FIELDS);
        let (_, ev) = read(&h, &dns_line("a.example", "1", "-", "-"));
        assert_eq!(ev.name, "a.example");
        // A new #fields with another order (a log written by another
        // Zeek, appended): the columns follow it.
        assert_eq!(
            h.apply(&tsv("#fields query ts id.orig_h id.resp_h id.resp_p qtype")),
            Outcome::Ignored(HEADER)
        );
        assert_eq!(
            h.apply(&tsv("#types string time addr addr port count")),
            Outcome::Ignored(HEADER)
        );
        let (o, ev) = read(
            &h,
            &tsv("b.example 1591367999.5 10.0.0.9 10.0.0.53 5353 28"),
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.name, "b.example");
        assert_eq!(ev.time, Some(1_591_367_999_500_000));
        assert_eq!(ev.client, Some(ip("10.0.0.9")));
        assert_eq!(ev.server_port, Some(5353));
        assert_eq!(ev.qtype, 28);
        // The old layout no longer fits.
        assert_eq!(
            read(&h, &dns_line("a.example", "1", "-", "-")).0,
            Outcome::Bad("too many fields")
        );
        // #close, then a whole new header (another log, other markers).
        assert_eq!(
            h.apply(&tsv("#close 2020-06-05-14-48-32")),
            Outcome::Ignored(HEADER)
        );
        for l in [
            b"#separator |".to_vec(),
            b"#set_separator|;".to_vec(),
            b"#unset_field|NONE".to_vec(),
            b"#path|http".to_vec(),
            b"#fields|ts|id.orig_h|id.resp_h|id.resp_p|host|uri|tags".to_vec(),
        ] {
            assert_eq!(h.apply(&l), Outcome::Ignored(HEADER));
        }
        let (o, ev) = read(
            &h,
            b"1591367999.5|10.0.0.9|NONE|8080|evil.example|/x\\x7c|a;b",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Http);
        assert_eq!(ev.server, None);
        assert_eq!(ev.url, "http://evil.example/x|");
        // The old markers are gone: "-" is now a value.
        assert_eq!(
            read(&h, b"1591367999.5|10.0.0.9|NONE|-|evil.example|/|a").0,
            Outcome::Bad("invalid port")
        );
    }

    #[test]
    fn bad_lines_and_headers() {
        let h = header("dns", DNS_FIELDS);
        let bad = |l: &[u8]| read(&h, l).0;
        assert_eq!(
            read(&Header::default(), &dns_line("a", "1", "-", "-")).0,
            Outcome::Bad("Zeek TSV line before any #fields header")
        );
        assert_eq!(bad(b""), Outcome::Bad("too few fields"));
        assert_eq!(
            bad(b"1591367999.305988\tC\t192.168.4.76"),
            Outcome::Bad("too few fields")
        );
        let mut long = dns_line("a", "1", "-", "-");
        long.extend_from_slice(b"\textra");
        assert_eq!(bad(&long), Outcome::Bad("too many fields"));
        let swap = |from: &str, to: &str| {
            String::from_utf8(dns_line("a.example", "1", "-", "-"))
                .unwrap()
                .replacen(from, to, 1)
                .into_bytes()
        };
        assert_eq!(
            bad(&swap("192.168.4.76", "192.168.4.256")),
            Outcome::Bad("invalid address")
        );
        assert_eq!(
            bad(&swap("\t53\t", "\t65536\t")),
            Outcome::Bad("invalid port")
        );
        assert_eq!(
            bad(&swap("1591367999.305988", "1591367999,3")),
            Outcome::Bad("invalid time")
        );
        assert_eq!(
            bad(&swap("1591367999.305988", "-5")),
            Outcome::Bad("invalid time")
        );
        assert_eq!(
            bad(&swap("1591367999.305988", &"9".repeat(1 << 20))),
            Outcome::Bad("invalid time")
        );
        assert_eq!(
            bad(&swap("\t1\tC_INTERNET\t1\t", "\t1\tC_INTERNET\t65536\t")),
            Outcome::Bad("invalid qtype")
        );
        // A header line met as data is not an error.
        assert_eq!(bad(b"#close\t2020"), Outcome::Ignored(HEADER));

        let mut h = Header::default();
        assert_eq!(
            h.apply(b"#separator \\x09\\x09"),
            Outcome::Bad("unsupported Zeek separator")
        );
        assert_eq!(
            h.apply(b"#separator"),
            Outcome::Bad("invalid Zeek #separator")
        );
        assert_eq!(
            h.apply(b"#set_separator\t"),
            Outcome::Bad("invalid Zeek #set_separator")
        );
        assert_eq!(
            h.apply(b"#whatever\tx"),
            Outcome::Bad("unknown Zeek header directive")
        );
        assert_eq!(
            h.apply(b"not a header"),
            Outcome::Bad("unknown Zeek header directive")
        );
        let huge = format!("#fields\t{}", vec!["f"; MAX_FIELDS + 1].join("\t"));
        assert_eq!(
            h.apply(huge.as_bytes()),
            Outcome::Bad("too many Zeek fields")
        );
        assert!(!h.ready());
        assert_eq!(h.apply(b"#path\t\xff\xfe"), Outcome::Ignored(HEADER));
    }

    fn json(line: &str) -> (Outcome, Event) {
        let mut ev = Event::default();
        let o = parse_json(line.as_bytes(), &mut ev);
        (o, ev)
    }

    #[test]
    fn json_logs_of_the_docs() {
        // log-formats.rst, the JSON logs.
        let (o, ev) = json(
            r#"{"ts":1591367999.305988,"uid":"CMdzit1AMNsmfAIiQc","id.orig_h":"192.168.4.76","id.orig_p":36844,"id.resp_h":"192.168.4.1","id.resp_p":53,"proto":"udp","trans_id":19671,"rtt":0.06685185432434082,"query":"testmyids.com","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["31.3.245.133"],"TTLs":[3600.0],"rejected":false}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Dns);
        assert_eq!(ev.time, Some(1_591_367_999_305_988));
        assert_eq!(ev.client, Some(ip("192.168.4.76")));
        assert_eq!(ev.server, Some(ip("192.168.4.1")));
        assert_eq!(ev.server_port, Some(53));
        assert_eq!(ev.name, "testmyids.com");
        assert_eq!(ev.qtype, 1);
        assert_eq!(
            ev.answers,
            [Answer {
                data: AnswerData::Addr(ip("31.3.245.133")),
                rrtype: 1,
                ttl: Some(3600)
            }]
        );

        let (o, ev) = json(
            r#"{"ts":1591367999.512593,"uid":"C5bLoe2Mvxqhawzqqd","id.orig_h":"192.168.4.76","id.orig_p":46378,"id.resp_h":"31.3.245.133","id.resp_p":80,"trans_depth":1,"method":"GET","host":"testmyids.com","uri":"/","version":"1.1","user_agent":"curl/7.47.0","request_body_len":0,"response_body_len":39,"status_code":200,"status_msg":"OK","tags":[],"resp_fuids":["FEEsZS1w0Z0VJIb5x4"],"resp_mime_types":["text/plain"]}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Http);
        assert_eq!(ev.name, "testmyids.com");
        assert_eq!(ev.url, "http://testmyids.com/");

        let (o, ev) = json(
            r#"{"ts":1591367999.430166,"uid":"C5bLoe2Mvxqhawzqqd","id.orig_h":"192.168.4.76","id.orig_p":46378,"id.resp_h":"31.3.245.133","id.resp_p":80,"proto":"tcp","service":"http","duration":0.25411510467529297,"orig_bytes":77,"resp_bytes":295,"conn_state":"SF","missed_bytes":0,"history":"ShADadFf","orig_pkts":6,"orig_ip_bytes":397,"resp_pkts":4,"resp_ip_bytes":511,"ip_proto":6}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Flow);
        assert_eq!(ev.server_port, Some(80));

        // logs/ssl.rst, the TLS 1.2 record on one line.
        let (o, ev) = json(
            r#"{"ts": 1598377391.921726, "uid": "CsukF91Bx9mrqdEaH9", "id.orig_h": "192.168.4.49", "id.orig_p": 56718, "id.resp_h": "13.32.202.10", "id.resp_p": 443, "version": "TLSv12", "cipher": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "curve": "secp256r1", "server_name": "www.taosecurity.com", "resumed": false, "next_protocol": "h2", "established": true, "cert_chain_fuids": ["F2XEvj1CahhdhtfvT4", "FZ7ygD3ERPfEVVohG9"], "client_cert_chain_fuids": [], "subject": "CN=www.taosecurity.com", "issuer": "CN=Amazon,OU=Server CA 1B,O=Amazon,C=US"}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Tls);
        assert_eq!(ev.name, "www.taosecurity.com");

        // files.log and packet_filter.log.
        for l in [
            r#"{"ts":1591367999.604,"fuid":"FEEsZS1w0Z0VJIb5x4","uid":"C5bLoe2Mvxqhawzqqd","id.orig_h":"192.168.4.76","id.orig_p":46378,"id.resp_h":"31.3.245.133","id.resp_p":80,"source":"HTTP","depth":0,"analyzers":[],"mime_type":"text/plain","duration":0.0,"is_orig":false,"seen_bytes":39,"total_bytes":39,"missing_bytes":0,"overflow_bytes":0,"timedout":false}"#,
            r#"{"ts":1591368442.854585,"node":"zeek","filter":"ip or not ip","init":true,"success":true}"#,
        ] {
            assert_eq!(json(l).0, Outcome::Ignored(OTHER_LOG));
        }
    }

    #[test]
    fn json_variants() {
        // JSON::TS_ISO8601 (a Security Onion conn.log line) and TS_MILLIS.
        let (o, ev) = json(
            r#"{"conn_state": "SHR", "duration": 0.000368, "history": "^d", "id.orig_h": "192.168.4.57", "id.orig_p": 42051, "id.resp_h": "192.168.4.1", "id.resp_p": 53, "proto": "udp", "service": "dns", "ts": "2019-03-14T23:59:49.920582Z", "uid": "CPQ9vC2my8sIGasb3a"}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.time, Some(1_552_607_989_920_582));
        let (_, ev) =
            json(r#"{"ts":1591367999305,"uid":"C","id.orig_h":"10.0.0.1","conn_state":"SF"}"#);
        assert_eq!(ev.time, Some(1_591_367_999_305_000));
        let (_, ev) =
            json(r#"{"ts":1591367999,"uid":"C","id.orig_h":"10.0.0.1","conn_state":"SF"}"#);
        assert_eq!(ev.time, Some(1_591_367_999_000_000));
        // The SANS sample: a CNAME and an address; TTLs before answers;
        // a TXT rendering left out, its TTL skipped.
        let (o, ev) = json(
            r#"{"ts":1602265824.123071,"uid":"CHFRflzsgM15k9et4","id.orig_h":"192.168.75.169","id.resp_h":"192.168.75.1","id.resp_p":53,"query":"www.sansgear.com","qtype":1,"answers":["vhost1.identityvector.com","TXT 3 abc","70.32.97.206"],"TTLs":[3600.0,10.0,300.0]}"#,
        );
        assert_eq!(o, Outcome::Event);
        let ttls: Vec<_> = ev.answers.iter().map(|a| (a.rrtype, a.ttl)).collect();
        assert_eq!(ttls, [(5, Some(3600)), (1, Some(300))]);
        let (_, early) = json(
            r#"{"ts":1602265824.123071,"uid":"C","TTLs":[3600.0,10.0,300.0],"id.orig_h":"192.168.75.169","query":"www.sansgear.com","qtype":1,"answers":["vhost1.identityvector.com","TXT 3 abc","70.32.97.206"]}"#,
        );
        assert_eq!(early.answers, ev.answers);
        let (_, none) = json(
            r#"{"ts":1.5,"uid":"C","query":"x.example","answers":["192.0.2.1","192.0.2.2"],"TTLs":[7]}"#,
        );
        assert_eq!(
            none.answers.iter().map(|a| a.ttl).collect::<Vec<_>>(),
            [Some(7), None]
        );
        let (_, none) = json(r#"{"ts":1.5,"uid":"C","query":"x.example","answers":["192.0.2.1"]}"#);
        assert_eq!(none.answers[0].ttl, None);
        // _path decides when a shipper added it.
        let (o, ev) = json(r#"{"_path":"conn","ts":1.5,"uid":"C","query":"x.example"}"#);
        assert_eq!((o, ev.kind), (Outcome::Event, EventKind::Flow));
        assert_eq!(
            json(r#"{"_path":"weird","ts":1.5,"uid":"C","name":"x"}"#).0,
            Outcome::Ignored(OTHER_LOG)
        );
        // Escapes: JSON's, then Zeek's \xHH for bytes that are not UTF-8.
        let (o, ev) = json(r#"{"ts":1.5,"uid":"C","query":"caf\u00e9.example"}"#);
        assert_eq!((o, ev.name.as_str()), (Outcome::Event, "café.example"));
        let (o, _) = json(r#"{"ts":1.5,"uid":"C","query":"\\xff.example"}"#);
        assert_eq!(o, Outcome::Bad("name not UTF-8"));
    }

    #[test]
    fn json_bad_lines() {
        let bad = |l: &str| json(l).0;
        assert_eq!(bad(""), Outcome::Bad("invalid JSON"));
        assert_eq!(bad("{"), Outcome::Bad("invalid JSON"));
        assert_eq!(
            bad(r#"{"ts":1.5,"query":"x"} {}"#),
            Outcome::Bad("invalid JSON")
        );
        assert_eq!(bad(r#"{"ts":1.5,"query":7}"#), Outcome::Bad("invalid JSON"));
        assert_eq!(
            bad(r#"{"ts":-1.5,"query":"x"}"#),
            Outcome::Bad("invalid time")
        );
        assert_eq!(
            bad(r#"{"ts":"yesterday","query":"x"}"#),
            Outcome::Bad("invalid time")
        );
        assert_eq!(
            bad(r#"{"ts":1e300,"query":"x"}"#),
            Outcome::Bad("invalid time")
        );
        assert_eq!(
            bad(r#"{"ts":1,"query":"x","id.orig_h":"::g"}"#),
            Outcome::Bad("invalid address")
        );
        assert_eq!(
            bad(r#"{"ts":1,"query":"x","id.resp_p":65536}"#),
            Outcome::Bad("invalid port")
        );
        assert_eq!(
            bad(r#"{"ts":1,"query":"x","qtype":-1}"#),
            Outcome::Bad("invalid qtype")
        );
        assert_eq!(
            bad(r#"{"ts":1,"query":"x","answers":[1]}"#),
            Outcome::Bad("invalid JSON")
        );
        let deep = format!(
            r#"{{"ts":1,"query":"x","answers":{}{}}}"#,
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        assert_eq!(bad(&deep), Outcome::Bad("invalid JSON"));
        let long = format!(r#"{{"ts":1,"query":"{}"}}"#, "a".repeat(1 << 20));
        assert_eq!(bad(&long), Outcome::Bad("name too long"));
    }

    #[test]
    fn sniffing() {
        assert!(sniff_tsv(b"#separator \\x09"));
        assert!(sniff_tsv(b"#fields\tts\tuid"));
        assert!(!sniff_tsv(b"#path\tdns"));
        assert!(!sniff_tsv(b"# a comment"));
        assert!(sniff_json(
            br#"{"ts":1591367999.305988,"uid":"CMdzit1AMNsmfAIiQc","id.orig_h":"192.168.4.76"}"#
        ));
        assert!(sniff_json(br#"{"ts":"2019-03-14T23:59:49Z","uid":"C"} "#));
        assert!(!sniff_json(
            br#"{"timestamp":"2026-12-06T20:41:45+0000","event_type":"dns","uid":"x","ts":1}"#
        ));
        assert!(!sniff_json(
            br#"{"rrname":"x","rdata":"1.2.3.4","time_last":1}"#
        ));
        assert!(!sniff_json(b"ts uid id.orig_h"));
    }
}
