//! Indicator sources: STIX 2.1 bundles and MISP JSON (recognised by
//! content), MISP feed directories, and plain lists.
//!
//! A plain list is read one line at a time, never whole, so a list of
//! millions of lines costs the memory of what it yields. Each line is one
//! of:
//!
//! * blank, or a `# comment` (the last comment above a line describes it,
//!   as in Loki's IOC files);
//! * one value, optionally followed by `;score` or `;text` (Loki's
//!   `c2-iocs.txt`): a domain name, an IPv4/IPv6 address or CIDR block, or
//!   a URL (`scheme://...`, kept as a URL);
//! * a hosts-file line, `0.0.0.0 name [name...]` (any address first);
//!   housekeeping names (`localhost`, `ip6-allnodes`, ...) are ignored;
//! * a trailing ` # comment` is dropped.
//!
//! Values may be defanged, as threat reports and feeds publish them so
//! that nobody clicks them: [`refang`] undoes the common forms before a
//! value is classified, so `hxxps://bad[.]example/x` is the URL
//! `https://bad.example/x` and `evil[.]example` the name `evil.example`.
//! Only these forms: `[.]`, `(.)` and `{.}` for a dot, `[:]` for a colon,
//! `[://]` for `://`, and the schemes `hxxp://`, `hxxps://` and `fxp://`
//! (any case) for `http://`, `https://` and `ftp://`. Other spellings
//! (`[dot]`, `(dot)`, `[at]`) stay errors: a guess could turn text into
//! an indicator nobody listed. A bracket form inside a real URL's path
//! (`/a(.)b`) is undone too: such paths are rarer than defanged feeds.
//! Allow lists and STIX/MISP values are not refanged.
//!
//! Anything else is an error naming the file, the line and the reason;
//! the rest of the file goes on.

use crate::name::{self, NameError};
use crate::{Builder, Diagnostic, Error, Level, Origin, SourceStats};
use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::Path;
use takedown_intel::{Kind, ReadOptions};

/// Longest line of a plain list or allow list: a name is at most 253
/// bytes, a URL a few KiB; a longer line is garbage or hostile (a "list"
/// without newlines would otherwise be read into memory whole).
pub const MAX_LINE: usize = 16 * 1024;

/// Shortest IPv4 prefix accepted: a wider block (a `/0` in a feed) would
/// black-hole a large part of the Internet.
pub const MIN_PREFIX_V4: u8 = 8;

/// Shortest IPv6 prefix accepted (same reason as [`MIN_PREFIX_V4`]).
pub const MIN_PREFIX_V6: u8 = 16;

/// Names of hosts files that are not indicators: the lines every hosts
/// file starts with.
const HOSTS_HOUSEKEEPING: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// A line of a stream, or why it is unusable.
pub enum Line<'a> {
    /// The line, without its end of line (`\n` or `\r\n`).
    Text(&'a str),
    /// Longer than [`MAX_LINE`] (the rest was skipped).
    TooLong(usize),
    /// Not UTF-8.
    NotUtf8,
}

/// Reads lines of at most [`MAX_LINE`] bytes; a longer one is skipped to
/// its end and reported, never held in memory.
pub struct Lines<R> {
    r: R,
    buf: Vec<u8>,
    /// Number of the line last returned (1-based).
    pub number: u64,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `r`.
    pub fn new(r: R) -> Lines<R> {
        Lines {
            r,
            buf: Vec::with_capacity(256),
            number: 0,
        }
    }

    /// The next line and its number (1-based), `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.buf.clear();
        let mut len = 0usize;
        let mut any = false;
        loop {
            let avail = match self.r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (chunk, used, done) = match avail.iter().position(|b| *b == b'\n') {
                Some(i) => (&avail[..i], i + 1, true),
                None => (avail, avail.len(), false),
            };
            len += chunk.len();
            if len <= MAX_LINE {
                self.buf.extend_from_slice(chunk);
            }
            self.r.consume(used);
            if done {
                break;
            }
        }
        self.number += 1;
        if len > MAX_LINE {
            return Ok(Some((self.number, Line::TooLong(len))));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((
            self.number,
            match std::str::from_utf8(&self.buf) {
                Ok(s) => Line::Text(s),
                Err(_) => Line::NotUtf8,
            },
        )))
    }
}

/// One value of a line, classified.
#[derive(Debug, PartialEq, Eq)]
pub enum Value {
    /// A normalised domain name.
    Name(name::Normalised),
    /// An address or CIDR block.
    Ip(IpAddr, u8),
    /// A URL.
    Url(String),
}

/// Classifies one value: URL, address/CIDR, or domain name.
pub fn classify(token: &str) -> Result<Value, String> {
    if token.contains("://") {
        return takedown_intel::model::normalise(Kind::Url, token)
            .map(Value::Url)
            .map_err(|e| e.reason);
    }
    if looks_like_ip(token) {
        let (addr, prefix) = takedown_intel::model::parse_cidr(token)?;
        check_ip(addr, prefix, token.contains('/'))?;
        return Ok(Value::Ip(addr, prefix));
    }
    let n = name::normalise_listed(token).map_err(|e| match e {
        NameError::InvalidChar('/') => {
            "invalid character '/' (a URL needs its scheme, e.g. http://)".to_string()
        }
        e => e.to_string(),
    })?;
    if !n.name.contains('.') {
        return Err(format!(
            "'{}' is a single label (a top-level domain): it would block the whole TLD",
            n.name
        ));
    }
    Ok(Value::Name(n))
}

/// The bracketed forms [`refang`] undoes, longest first (`[://]` before
/// `[:]`).
const DEFANGED: [(&str, &str); 5] = [
    ("[://]", "://"),
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[:]", ":"),
];

/// The defanged schemes [`refang`] undoes (matched in any case).
const DEFANGED_SCHEMES: [(&str, &str); 3] = [
    ("hxxps://", "https://"),
    ("hxxp://", "http://"),
    ("fxp://", "ftp://"),
];

/// `value` with the common defanged forms undone (the module's
/// documentation lists them): `evil[.]example` → `evil.example`,
/// `hxxps://bad[.]example/x` → `https://bad.example/x`,
/// `http[:]//x` → `http://x`, `198.51.100[.]7` → `198.51.100.7`. A value
/// without them is returned as it is, unallocated. The result is never
/// longer than `value`.
pub fn refang(value: &str) -> Cow<'_, str> {
    let scheme_at_start = |v: &str| {
        DEFANGED_SCHEMES.iter().find(|(from, _)| {
            v.get(..from.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(from))
        })
    };
    let bracketed =
        value.contains(['[', '(', '{']) && DEFANGED.iter().any(|(from, _)| value.contains(from));
    let mut out = if bracketed {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(i) = rest.find(['[', '(', '{']) {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            match DEFANGED.iter().find(|(from, _)| tail.starts_with(from)) {
                Some((from, to)) => {
                    out.push_str(to);
                    rest = &tail[from.len()..];
                }
                None => {
                    // The bracket itself: one ASCII byte.
                    out.push_str(&tail[..1]);
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(value)
    };
    if let Some((from, to)) = scheme_at_start(&out) {
        let s = format!("{to}{}", &out[from.len()..]);
        out = Cow::Owned(s);
    }
    out
}

/// Digits, dots and a slash (IPv4, CIDR), or a colon (IPv6; a name never
/// holds one).
fn looks_like_ip(t: &str) -> bool {
    t.contains(':')
        || (t.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && t.bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'/')
            && (t.contains('/') || t.bytes().filter(|b| *b == b'.').count() == 3))
}

/// Refuses what no blocklist should hold: the unspecified address, and
/// blocks wider than [`MIN_PREFIX_V4`]/[`MIN_PREFIX_V6`].
pub fn check_ip(addr: IpAddr, prefix: u8, cidr: bool) -> Result<(), String> {
    let min = if addr.is_ipv4() {
        MIN_PREFIX_V4
    } else {
        MIN_PREFIX_V6
    };
    if prefix < min {
        return Err(format!(
            "prefix /{prefix} is too wide (at least /{min}): it would block a large part of the Internet"
        ));
    }
    if !cidr && addr.is_unspecified() {
        return Err(format!(
            "{addr} is the unspecified address (a sinkhole answer), not an indicator"
        ));
    }
    Ok(())
}

/// A line, split: blank, comment, or the values it names.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// Nothing to use.
    Blank,
    /// A `#` comment, its text trimmed.
    Comment(&'a str),
    /// One value (or several, from a hosts line), and the number of hosts
    /// housekeeping names ignored.
    Values(Vec<Result<Value, String>>, u64),
}

/// Splits and classifies one line of a plain list, its values refanged
/// ([`refang`]) first.
pub fn parse_line(line: &str) -> Result<Parsed<'_>, String> {
    if let Some((i, c)) = line
        .char_indices()
        .find(|(_, c)| c.is_control() && *c != '\t')
    {
        return Err(format!(
            "control character {} at byte {}",
            name::code_point(c),
            i + 1
        ));
    }
    let t = line.trim();
    if t.is_empty() {
        return Ok(Parsed::Blank);
    }
    if let Some(c) = t.strip_prefix('#') {
        return Ok(Parsed::Comment(c.trim()));
    }
    // A trailing comment after white space (hosts files); a `#` inside a
    // URL is not preceded by white space.
    let t = match t.find([' ', '\t']).and_then(|i| {
        t[i..]
            .find(" #")
            .or_else(|| t[i..].find("\t#"))
            .map(|j| i + j)
    }) {
        Some(i) => t[..i].trim_end(),
        None => t,
    };
    let mut tokens = t.split_whitespace();
    let first = tokens.next().unwrap_or_default();
    let rest: Vec<&str> = tokens.collect();
    if rest.is_empty() || t.contains(';') {
        // Refanged first, so that a defanged URL is known by its `://`.
        let refanged = refang(t);
        let t = refanged.as_ref();
        // One value, maybe with Loki's `;score` or `;description`. A URL
        // may hold a `;` itself: only a numeric tail is cut from one.
        let value = if t.split_once(';').map_or(t, |(v, _)| v).contains("://") {
            match t.rsplit_once(';') {
                Some((v, score))
                    if !score.is_empty() && score.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    v
                }
                _ => t,
            }
        } else {
            t.split_once(';').map_or(t, |(v, _)| v).trim()
        };
        if value.is_empty() {
            return Err("no value before ';'".into());
        }
        if value.contains(char::is_whitespace) {
            return Err(format!("white space inside the value '{}'", shown(value)));
        }
        return Ok(Parsed::Values(vec![classify(value)], 0));
    }
    // A hosts-file line: an address, then names.
    if first.parse::<IpAddr>().is_err() {
        return Err(format!(
            "{} values on one line: expected one name, address, CIDR block or URL, or a hosts-file line 'ADDRESS NAME...'",
            rest.len() + 1
        ));
    }
    let mut housekeeping = 0;
    let mut values = Vec::new();
    for n in rest {
        if HOSTS_HOUSEKEEPING.iter().any(|h| h.eq_ignore_ascii_case(n)) {
            housekeeping += 1;
            continue;
        }
        values.push(match classify(&refang(n)) {
            Ok(Value::Name(v)) => Ok(Value::Name(v)),
            Ok(_) => Err(format!(
                "'{}': an address or URL where a hosts file has a host name",
                shown(n)
            )),
            Err(e) => Err(format!("'{}': {e}", shown(n))),
        });
    }
    Ok(Parsed::Values(values, housekeeping))
}

/// Shortens and escapes a value for a message: hostile input must not
/// flood the terminal nor control it.
pub fn shown(s: &str) -> String {
    const MAX: usize = 80;
    let mut out = String::new();
    for c in s.chars().take(MAX) {
        if c.is_control() {
            out.push_str(&name::code_point(c));
        } else {
            out.push(c);
        }
    }
    if s.chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    out
}

impl Builder {
    /// Reads a plain list from `r`, named `source` in messages.
    pub fn read_list(
        &mut self,
        r: impl BufRead,
        source: &str,
        diag: &mut dyn FnMut(Diagnostic),
    ) -> Result<SourceStats, Error> {
        let mut st = SourceStats::default();
        let mut lines = Lines::new(r);
        let mut origin = self.add_origin(Origin::List {
            source: source.to_string(),
            comment: None,
        });
        let mut origin_used = false;
        let io_err = |e: io::Error| Error::Source {
            source_name: source.to_string(),
            reason: format!("cannot read: {e}"),
        };
        while let Some((number, line)) = lines.next_line().map_err(io_err)? {
            st.read += 1;
            let error = |st: &mut SourceStats, diag: &mut dyn FnMut(Diagnostic), m: String| {
                st.rejected += 1;
                diag(Diagnostic {
                    level: Level::Error,
                    location: format!("{source}:{number}"),
                    message: m,
                });
            };
            let text = match line {
                Line::Text(t) => t,
                Line::TooLong(n) => {
                    error(
                        &mut st,
                        diag,
                        format!("line of {n} bytes, longer than {MAX_LINE}"),
                    );
                    continue;
                }
                Line::NotUtf8 => {
                    error(&mut st, diag, "not UTF-8 text".into());
                    continue;
                }
            };
            let (values, housekeeping) = match parse_line(text) {
                Ok(Parsed::Blank) => continue,
                Ok(Parsed::Comment(c)) => {
                    if !c.is_empty() {
                        let c = Some(c.to_string());
                        if origin_used {
                            origin = self.add_origin(Origin::List {
                                source: source.to_string(),
                                comment: c,
                            });
                            origin_used = false;
                        } else if let Origin::List { comment, .. } =
                            &mut self.origins[origin as usize]
                        {
                            *comment = c;
                        }
                    }
                    continue;
                }
                Ok(Parsed::Values(v, h)) => (v, h),
                Err(m) => {
                    error(&mut st, diag, m);
                    continue;
                }
            };
            st.ignored += housekeeping;
            for v in values {
                let pos = number as i64;
                let ok = match v {
                    Err(m) => {
                        error(&mut st, diag, m);
                        continue;
                    }
                    Ok(Value::Name(n)) => {
                        if let Some(h) = &n.homograph {
                            st.homographs += 1;
                            diag(Diagnostic {
                                level: Level::Warning,
                                location: format!("{source}:{number}"),
                                message: format!("{h}; blocked as {}", n.name),
                            });
                        }
                        st.names += 1;
                        self.push_name(&n.name, origin, pos, pos)
                    }
                    Ok(Value::Ip(a, p)) => {
                        st.ips += 1;
                        self.push_ip(a, p, origin, pos)
                    }
                    Ok(Value::Url(u)) => {
                        st.urls += 1;
                        self.push_url(u, origin, pos)
                    }
                };
                if !ok {
                    return Err(Error::TooMany);
                }
                origin_used = true;
            }
        }
        Ok(st)
    }

    /// Reads one source: a MISP feed directory, a STIX 2.1 or MISP JSON
    /// file (recognised by content, not by name), or a plain list.
    pub fn read_path(
        &mut self,
        path: &Path,
        now: time::OffsetDateTime,
        diag: &mut dyn FnMut(Diagnostic),
    ) -> Result<SourceStats, Error> {
        let source = path.display().to_string();
        let fail = |reason: String| Error::Source {
            source_name: source.clone(),
            reason,
        };
        let opts = ReadOptions {
            source: source.clone(),
            now,
        };
        if path.is_dir() {
            if !takedown_intel::misp::feed::is_feed_dir(path) {
                return Err(fail(
                    "a directory that is not a MISP feed (no manifest.json of event uuids); give files".into(),
                ));
            }
            let loaded = takedown_intel::misp::feed::read_feed(path, &opts)
                .map_err(|e| fail(e.to_string()))?;
            return self.add_loaded(&source, loaded, diag);
        }
        let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let mut r = BufReader::with_capacity(takedown_intel::json::SNIFF_LEN, file);
        let head = r
            .fill_buf()
            .map_err(|e| fail(format!("cannot read: {e}")))?;
        if takedown_intel::json::sniff(head).is_some() {
            drop(r);
            let (_, loaded) =
                takedown_intel::json::read_path(path, &opts).map_err(|e| fail(e.to_string()))?;
            return self.add_loaded(&source, loaded, diag);
        }
        self.read_list(r, &source, diag)
    }

    /// Reads a STIX 2.1 bundle or MISP JSON from `r` (recognised by
    /// content), named `source` in messages: what [`Builder::read_path`]
    /// does with such a file, for callers that hold the bytes (standard
    /// input, a download, the fuzz target). The caller bounds `r`: the
    /// MISP reader parses an event whole.
    pub fn read_json(
        &mut self,
        r: impl Read,
        source: &str,
        now: time::OffsetDateTime,
        diag: &mut dyn FnMut(Diagnostic),
    ) -> Result<SourceStats, Error> {
        let opts = ReadOptions {
            source: source.to_string(),
            now,
        };
        let (_, loaded) = takedown_intel::json::read(r, &opts).map_err(|e| Error::Source {
            source_name: source.to_string(),
            reason: e.to_string(),
        })?;
        self.add_loaded(source, loaded, diag)
    }

    /// Takes the network indicators of what a STIX/MISP reader loaded.
    pub fn add_loaded(
        &mut self,
        source: &str,
        loaded: takedown_intel::Loaded,
        diag: &mut dyn FnMut(Diagnostic),
    ) -> Result<SourceStats, Error> {
        let mut st = SourceStats::default();
        for s in &loaded.skipped {
            st.skipped += 1;
            diag(Diagnostic {
                level: Level::Warning,
                location: format!("{source} ({})", shown(&s.id)),
                message: format!("skipped ({}): {}", s.class.as_str(), shown(&s.reason)),
            });
        }
        for i in loaded.indicators {
            st.read += 1;
            let location = || {
                format!(
                    "{source} ({})",
                    shown(i.provenance.object_id.as_deref().unwrap_or(i.label()))
                )
            };
            let value = match i.kind {
                Kind::Domain => classify(&i.value).and_then(|v| match v {
                    Value::Name(n) => Ok(Value::Name(n)),
                    _ => Err(format!("'{}' is not a domain name", shown(&i.value))),
                }),
                Kind::Ipv4 | Kind::Ipv6 => i
                    .cidr()
                    .ok_or_else(|| format!("'{}' is not an address", shown(&i.value)))
                    .and_then(|(a, p)| {
                        check_ip(a, p, i.value.contains('/')).map(|_| Value::Ip(a, p))
                    }),
                Kind::Url => Ok(Value::Url(i.value.clone())),
                _ => {
                    st.ignored += 1;
                    continue;
                }
            };
            let value = match value {
                Ok(v) => v,
                Err(m) => {
                    st.rejected += 1;
                    diag(Diagnostic {
                        level: Level::Error,
                        location: location(),
                        message: m,
                    });
                    continue;
                }
            };
            let origin = self.add_origin(Origin::Intel {
                source: source.to_string(),
                label: i.label().to_string(),
                family: i.family.clone(),
                object_id: i.provenance.object_id.clone(),
            });
            let ok = match value {
                Value::Name(n) => {
                    if let Some(h) = &n.homograph {
                        st.homographs += 1;
                        diag(Diagnostic {
                            level: Level::Warning,
                            location: location(),
                            message: format!("{h}; blocked as {}", n.name),
                        });
                    }
                    st.names += 1;
                    self.push_name(&n.name, origin, 0, 0)
                }
                Value::Ip(a, p) => {
                    st.ips += 1;
                    self.push_ip(a, p, origin, 0)
                }
                Value::Url(u) => {
                    st.urls += 1;
                    self.push_url(u, origin, 0)
                }
            };
            if !ok {
                return Err(Error::TooMany);
            }
        }
        Ok(st)
    }
}

/// Reads a whole reader as a plain list (convenience for tests and
/// standard input).
pub fn read_list_from(
    b: &mut Builder,
    r: impl Read,
    source: &str,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<SourceStats, Error> {
    b.read_list(BufReader::new(r), source, diag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(line: &str) -> Vec<Result<Value, String>> {
        match parse_line(line).unwrap() {
            Parsed::Values(v, _) => v,
            p => panic!("{p:?}"),
        }
    }

    fn one(line: &str) -> Result<Value, String> {
        let mut v = values(line);
        assert_eq!(v.len(), 1, "{line}");
        v.remove(0)
    }

    fn name(s: &str) -> Value {
        Value::Name(name::normalise(s).unwrap())
    }

    #[test]
    fn plain_and_loki_lines() {
        assert_eq!(parse_line("").unwrap(), Parsed::Blank);
        assert_eq!(parse_line("  \t ").unwrap(), Parsed::Blank);
        assert_eq!(
            parse_line("# Cobalt Strike C2 ").unwrap(),
            Parsed::Comment("Cobalt Strike C2")
        );
        assert_eq!(one("Evil.Example.com."), Ok(name("evil.example.com")));
        assert_eq!(one("evil.example.com;90"), Ok(name("evil.example.com")));
        assert_eq!(one(" evil.example.com ; 90"), Ok(name("evil.example.com")));
        assert_eq!(
            one("evil.example.com;https://otx/pulse"),
            Ok(name("evil.example.com"))
        );
        assert_eq!(
            one("198.51.100.7;80"),
            Ok(Value::Ip("198.51.100.7".parse().unwrap(), 32))
        );
        assert_eq!(
            one("198.51.100.7/24"),
            Ok(Value::Ip("198.51.100.0".parse().unwrap(), 24))
        );
        assert_eq!(
            one("2001:DB8::1"),
            Ok(Value::Ip("2001:db8::1".parse().unwrap(), 128))
        );
        assert_eq!(
            one("HTTP://evil.example/a;b?c#d"),
            Ok(Value::Url("http://evil.example/a;b?c#d".into()))
        );
        assert_eq!(
            one("http://evil.example/a;75"),
            Ok(Value::Url("http://evil.example/a".into()))
        );
        assert_eq!(one("evil.example # trailing"), Ok(name("evil.example")));
    }

    #[test]
    fn defanged_values_are_refanged() {
        assert!(matches!(
            refang("evil.example"),
            Cow::Borrowed("evil.example")
        ));
        assert!(matches!(
            refang("http://[2001:db8::1]/a(b){c}"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            refang("hxxp[://]evil(.)example{.}com"),
            "http://evil.example.com"
        );
        // Names and addresses.
        for l in [
            "evil[.]example",
            "evil(.)example",
            "evil{.}example",
            "Evil[.]Example.",
        ] {
            assert_eq!(one(l), Ok(name("evil.example")), "{l}");
        }
        assert_eq!(one("www[.]evil[.]example;90"), Ok(name("www.evil.example")));
        assert_eq!(
            one("198.51.100[.]7"),
            Ok(Value::Ip("198.51.100.7".parse().unwrap(), 32))
        );
        assert_eq!(
            one("198[.]51[.]100[.]0/24 # C2 range"),
            Ok(Value::Ip("198.51.100.0".parse().unwrap(), 24))
        );
        assert_eq!(
            one("2001:db8[:]:1"),
            Ok(Value::Ip("2001:db8::1".parse().unwrap(), 128))
        );
        // A refanged URL is the plain one.
        for (defanged, plain) in [
            ("hxxps://bad[.]example/x", "https://bad.example/x"),
            ("hxxp://bad[.]example/x", "http://bad.example/x"),
            ("HXXPS://Bad[.]Example/x", "HTTPS://Bad.Example/x"),
            ("http[:]//bad.example/x", "http://bad.example/x"),
            ("hxxps[://]bad(.)example/x?a=1", "https://bad.example/x?a=1"),
            (
                "https[:]//198.51.100[.]7:8443/gate.php",
                "https://198.51.100.7:8443/gate.php",
            ),
            (
                "fxp://files[.]bad.example/drop.bin",
                "ftp://files.bad.example/drop.bin",
            ),
            ("hxxp://bad[.]example/a;b", "http://bad.example/a;b"),
            ("hxxp://bad[.]example/a;75", "http://bad.example/a"),
        ] {
            let want = one(plain);
            assert!(matches!(want, Ok(Value::Url(_))), "{plain}");
            assert_eq!(one(defanged), want, "{defanged}");
        }
        assert_eq!(
            one("hxxps://bad[.]example/x"),
            Ok(Value::Url("https://bad.example/x".into()))
        );
        // A hosts line's names.
        assert_eq!(
            values("0.0.0.0 evil[.]example www(.)evil.example"),
            vec![Ok(name("evil.example")), Ok(name("www.evil.example"))]
        );
        // Only the forms listed: the rest is still refused, and a name
        // that merely begins like a scheme is left alone.
        assert_eq!(one("hxxp.example"), Ok(name("hxxp.example")));
        assert!(
            one("evil[dot]example")
                .unwrap_err()
                .contains("invalid character '['")
        );
        assert!(
            one("evil[.example")
                .unwrap_err()
                .contains("invalid character '['")
        );
        assert!(one("evil(.]example").is_err());
        // The list reader counts a defanged line as the plain one.
        let plain = "evil.example\n198.51.100.7\nhttps://bad.example/x\n";
        let defanged = "evil[.]example\n198.51.100[.]7\nhxxps://bad[.]example/x\n";
        let read = |text: &str| {
            let mut b = Builder::new();
            let mut d = Vec::new();
            let st = read_list_from(&mut b, text.as_bytes(), "l.txt", &mut |x| d.push(x)).unwrap();
            assert!(d.is_empty(), "{d:?}");
            let p = b.finish(&crate::AllowList::new(), false);
            let ips: Vec<_> = p.ips.iter().map(|e| (e.addr, e.prefix)).collect();
            let urls: Vec<_> = p.urls.iter().map(|e| e.url.clone()).collect();
            (st, crate::plan::names(&p), ips, urls)
        };
        assert_eq!(read(defanged), read(plain));
    }

    #[test]
    fn hosts_lines() {
        let v = values("0.0.0.0 evil.example  www.evil.example # blocked");
        assert_eq!(
            v,
            vec![Ok(name("evil.example")), Ok(name("www.evil.example"))]
        );
        match parse_line("127.0.0.1\tlocalhost localhost.localdomain").unwrap() {
            Parsed::Values(v, 2) => assert!(v.is_empty()),
            p => panic!("{p:?}"),
        }
        let v = values("0.0.0.0 198.51.100.1 ok.example");
        assert!(
            v[0].as_ref()
                .unwrap_err()
                .contains("where a hosts file has a host name")
        );
        assert_eq!(v[1], Ok(name("ok.example")));
        assert!(
            parse_line("evil.example other.example")
                .unwrap_err()
                .contains("2 values")
        );
    }

    #[test]
    fn bad_values_say_why() {
        let e = |l: &str| one(l).unwrap_err();
        assert!(e("a..b.com").contains("empty label"));
        assert!(e("*.evil.com").contains("wildcard"));
        assert!(e(&format!("{}.com", "a".repeat(300))).contains("longer than 253"));
        assert!(e(&format!("{}.com", "a".repeat(64))).contains("longer than 63"));
        assert!(e("300.1.2.3").contains("not an IP address"));
        assert!(e("1.2.3.4/33").contains("prefix length"));
        assert!(e("0.0.0.0/0").contains("too wide"));
        assert!(e("::/0").contains("too wide"));
        assert!(e("0.0.0.0").contains("unspecified"));
        assert!(e("evil.com:443").contains("not an IP address"));
        assert!(e("com").contains("single label"));
        assert!(e("evil.com/path").contains("needs its scheme"));
        assert!(e("1.2.3.4.5").contains("all-numeric"));
        assert!(e("ftp//x").contains("invalid character"));
        // RPZ's reserved labels: a list line must not become a trigger.
        for l in [
            "8.0.0.0.10.rpz-ip",
            "32.1.0.0.127.rpz-client-ip;90",
            "com.rpz-nsdname",
            "ns.example.rpz-nsip",
        ] {
            assert!(e(l).contains("begins with 'rpz-'"), "{l}: {}", e(l));
        }
        let v = values("0.0.0.0 ok.example 8.0.0.0.10.rpz-ip");
        assert_eq!(v[0], Ok(name("ok.example")));
        assert!(
            v[1].as_ref()
                .unwrap_err()
                .contains("'8.0.0.0.10.rpz-ip': label 'rpz-ip'")
        );
        assert!(parse_line(";90").unwrap_err().contains("no value"));
        assert!(
            parse_line("evil\u{7}.com")
                .unwrap_err()
                .contains("control character U+0007")
        );
        assert!(
            parse_line("evil.com\u{1b}[31m")
                .unwrap_err()
                .contains("control")
        );
    }

    fn now() -> time::OffsetDateTime {
        time::Date::from_calendar_date(2026, time::Month::June, 1)
            .unwrap()
            .midnight()
            .assume_utc()
    }

    #[test]
    fn stix_and_misp_domains_with_rpz_labels_are_refused() {
        let ind = |n: u32, value: &str| {
            serde_json::json!({
                "type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--{n:08x}-2222-4222-8222-222222222222"),
                "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                "name": format!("ind {n}"), "pattern_type": "stix",
                "pattern": format!("[domain-name:value = '{value}']"),
                "valid_from": "2026-01-01T00:00:00Z"
            })
        };
        let bundle = serde_json::json!({
            "type": "bundle", "id": "bundle--2f0d1c52-8c2a-4ad4-9a4b-3a3c3b0e7f10",
            "objects": [ind(1, "stix-ok.example"), ind(2, "8.0.0.0.10.rpz-ip"), ind(3, "com.rpz-nsdname")]
        });
        let mut b = Builder::new();
        let mut d = Vec::new();
        let st = b
            .read_json(bundle.to_string().as_bytes(), "b.json", now(), &mut |x| {
                d.push(x)
            })
            .unwrap();
        assert_eq!((st.names, st.rejected), (1, 2), "{d:?}");
        assert_eq!(
            d[0].location,
            "b.json (indicator--00000002-2222-4222-8222-222222222222)"
        );
        assert!(d[0].message.contains("label 'rpz-ip' begins with 'rpz-'"));
        assert!(d[1].message.contains("label 'rpz-nsdname'"));

        let event = serde_json::json!({"Event": {
            "uuid": "5b7c1c52-8c2a-4ad4-9a4b-3a3c3b0e7f10", "info": "ev", "threat_level_id": "1",
            "Attribute": [
                {"uuid": "a1", "type": "domain", "value": "32.1.0.0.127.rpz-client-ip", "to_ids": true},
                {"uuid": "a2", "type": "domain", "value": "misp-ok.example", "to_ids": true}
            ]
        }});
        let mut d = Vec::new();
        let st = b
            .read_json(event.to_string().as_bytes(), "e.json", now(), &mut |x| {
                d.push(x)
            })
            .unwrap();
        assert_eq!((st.names, st.rejected), (1, 1), "{d:?}");
        assert!(d[0].message.contains("label 'rpz-client-ip'"), "{d:?}");
        let p = b.finish(&crate::AllowList::new(), false);
        assert_eq!(
            crate::plan::names(&p),
            vec!["misp-ok.example", "stix-ok.example"]
        );
        // Neither STIX nor MISP: the whole source is refused, named.
        let e = Builder::new()
            .read_json(&b"not json"[..], "x.json", now(), &mut |_| {})
            .unwrap_err();
        assert!(e.to_string().starts_with("x.json: "), "{e}");
    }

    #[test]
    fn lines_are_bounded_and_numbered() {
        let mut data = b"a.example\r\n".to_vec();
        data.extend(vec![b'x'; MAX_LINE + 10]);
        data.extend(b"\n\xff\xfe\nlast.example");
        let mut l = Lines::new(BufReader::with_capacity(64, &data[..]));
        assert!(matches!(
            l.next_line().unwrap(),
            Some((1, Line::Text("a.example")))
        ));
        assert!(
            matches!(l.next_line().unwrap(), Some((2, Line::TooLong(n))) if n == MAX_LINE + 10)
        );
        assert!(matches!(l.next_line().unwrap(), Some((3, Line::NotUtf8))));
        assert!(matches!(
            l.next_line().unwrap(),
            Some((4, Line::Text("last.example")))
        ));
        assert_eq!(l.number, 4);
        assert!(l.next_line().unwrap().is_none());
    }

    #[test]
    fn a_list_goes_on_after_bad_lines() {
        let text = "# Campaign A\nevil.example;80\nbad..name\n\n# Campaign B\n198.51.100.0/24\nhttp://x.example/p\np\u{430}ypal.com\n";
        let mut b = Builder::new();
        let mut d = Vec::new();
        let st = read_list_from(&mut b, text.as_bytes(), "c2.txt", &mut |x| d.push(x)).unwrap();
        assert_eq!(
            st,
            SourceStats {
                read: 8,
                names: 2,
                ips: 1,
                urls: 1,
                rejected: 1,
                homographs: 1,
                ..Default::default()
            }
        );
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].location, "c2.txt:3");
        assert_eq!(d[0].level, Level::Error);
        assert_eq!(d[1].location, "c2.txt:8");
        assert_eq!(d[1].level, Level::Warning);
        assert!(
            d[1].message.contains("Latin and Cyrillic"),
            "{}",
            d[1].message
        );
        let e = &b.names[0];
        assert_eq!(
            b.origins[e.origin as usize].describe(e.first, e.last),
            "c2.txt:2: Campaign A"
        );
        let ip = &b.ips[0];
        assert_eq!(
            b.origins[ip.origin as usize].describe(ip.line, ip.line),
            "c2.txt:6: Campaign B"
        );
    }
}
