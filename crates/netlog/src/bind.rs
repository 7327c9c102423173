//! BIND 9 query log (the `queries` category, `querylog yes;`).
//!
//! The line layout comes from BIND's own code (`ns_client_logv` in
//! `lib/ns/client.c` and `log_query` in `lib/ns/query.c`, 9.18), checked
//! against a real `named` 9.18 in `tests/resolvers.rs`:
//!
//! ```text
//! 06-Dec-2026 20:41:45.123 queries: info: client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)
//! ```
//!
//! * the time (`print-time yes`): BIND's `DD-Mon-YYYY HH:MM:SS.mmm`, or
//!   ISO 8601 (`print-time iso8601`/`iso8601-utc`, 9.16+), or none;
//! * `queries: info: ` (`print-category`, `print-severity`), optional;
//! * `client @0x...` (the client object's address, 9.11+), optional;
//! * the client `ADDR#PORT` (IPv6 too), `/key NAME` when TSIG-signed, the
//!   query name in parentheses (9.11+), `: view NAME` when not the
//!   default view;
//! * `query: NAME CLASS TYPE FLAGS (SERVER)`, then ` [ECS ...]` when the
//!   query carried a client subnet. The server address (where the query
//!   came in) is the event's server. Old releases (9.3 to 9.8, as shown
//!   in the `bind9_query2dlf(1)` manual of LogReport's Lire,
//!   <https://manpages.ubuntu.com/manpages/trusty/man1/bind9_query2dlf.1.html>)
//!   log `Feb 25 11:09:43.651 queries: info: client 10.0.0.3#1035: query:
//!   3.example.com.nl IN A`, without flags nor server: read too.
//!
//! Syslog lines (`Dec  6 20:41:45 host named[123]: client ...`) are read
//! the same way, the year from [`LineCtx::year`]. Time stamps without a
//! zone are the server's local time, taken as UTC (the log does not say
//! which zone it is in).
//!
//! Any other line with a time stamp (start-up messages, other categories,
//! other programs in a syslog file) is [`Outcome::Ignored`]; a line with
//! neither a time stamp nor a `client` part is [`Outcome::Bad`].
//!
//! This file also holds the small text readers the other resolver logs
//! share ([`text`]): syslog prefixes, time stamps, addresses, names.

use crate::{Event, LineCtx, Outcome};
use text::{Stamp, token};

/// Reads one BIND query log line into `ev`.
pub fn parse(ctx: &LineCtx, line: &[u8], ev: &mut Event) -> Outcome {
    match scan(ctx.year, line) {
        Ok(Scan::Query(q)) => {
            if let Err(e) = text::set_name(&mut ev.name, q.name) {
                return Outcome::Bad(e);
            }
            if let Err(e) = q.stamp.apply(ev) {
                return Outcome::Bad(e);
            }
            ev.client = Some(q.client);
            ev.server = q.server;
            ev.qtype = q.qtype;
            Outcome::Event
        }
        Ok(Scan::Other(why)) => Outcome::Ignored(why),
        Err(e) => Outcome::Bad(e),
    }
}

/// True when `line` is a BIND query log line (a `query:` line of any of
/// the layouts above; BIND's other messages are not distinctive enough to
/// claim a file).
pub fn sniff(line: &[u8]) -> bool {
    matches!(scan(1970, line), Ok(Scan::Query(_)))
}

/// A query line's fields, borrowed from the line.
struct Query<'a> {
    stamp: Stamp,
    client: std::net::IpAddr,
    server: Option<std::net::IpAddr>,
    name: &'a [u8],
    qtype: u16,
}

enum Scan<'a> {
    Query(Query<'a>),
    Other(&'static str),
}

/// How far into the line the `client` part is looked for: the prefixes
/// (time, host, `named[pid]:`, category, severity) are short.
const PREFIX_MAX: usize = 256;

fn scan(year: i32, line: &[u8]) -> Result<Scan<'_>, &'static str> {
    let line = text::trim_end(line);
    if line.is_empty() {
        return Ok(Scan::Other("empty line"));
    }
    let (stamp, rest, timed) = if let Some((s, r)) = text::bind_time(line) {
        (s, r, true)
    } else if let Some((s, r)) = text::iso_time(line) {
        (s, r, true)
    } else if let Some((s, r)) = text::bsd_time(line, year) {
        (s, r, true)
    } else {
        (Stamp::Unknown, line, false)
    };
    let msg = if rest.starts_with(b"client ") {
        rest
    } else if !timed {
        return Err("not a BIND log line");
    } else {
        let head = &rest[..rest.len().min(PREFIX_MAX)];
        match memchr::memmem::find(head, b" client ") {
            Some(i) => {
                if foreign_tag(&rest[..i]) {
                    return Ok(Scan::Other("another program's line"));
                }
                &rest[i + 1..]
            }
            // BIND's other messages, and any other program's line: the
            // line cannot tell them apart.
            None => {
                return Ok(Scan::Other(
                    "BIND message or another program's line, not a query",
                ));
            }
        }
    };
    if matches!(stamp, Stamp::Invalid) {
        return Err("invalid time stamp");
    }
    let Some(at) = memchr::memmem::find(msg, b": query: ") else {
        return Ok(Scan::Other("BIND client message, not a query"));
    };
    // client [@0x...] ADDR#PORT[/key NAME][ (QNAME)][: view NAME]
    let peer = &msg[b"client ".len()..at];
    let peer = if peer.starts_with(b"@") {
        token(peer).1
    } else {
        peer
    };
    if peer.starts_with(b"(no-peer)") {
        return Ok(Scan::Other("BIND query without a peer"));
    }
    let hash = memchr::memchr(b'#', peer).ok_or("client without a port")?;
    let client = text::ip(&peer[..hash]).ok_or("invalid client address")?;
    let port = &peer[hash + 1..];
    let digits = port.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 5 {
        return Err("invalid client port");
    }
    // NAME CLASS TYPE [FLAGS] [(SERVER)] [[ECS ...]]
    let q = &msg[at + b": query: ".len()..];
    let (name, r) = token(q);
    let (class, r) = token(r);
    let (typ, mut r) = token(r);
    if name.is_empty() || class.is_empty() || typ.is_empty() {
        return Err("truncated query");
    }
    if !text::is_class(class) {
        return Err("invalid query class");
    }
    let qtype = text::qtype(typ).ok_or("invalid query type")?;
    if r.first().is_some_and(|&c| c == b'+' || c == b'-') {
        r = token(r).1;
    }
    let mut server = None;
    if r.first() == Some(&b'(') {
        let (s, _) = token(r);
        let inner = s
            .strip_prefix(b"(")
            .and_then(|s| s.strip_suffix(b")"))
            .ok_or("invalid server address")?;
        server = Some(text::ip(inner).ok_or("invalid server address")?);
    } else if !r.is_empty() && !r.starts_with(b"[") {
        return Err("invalid query flags");
    }
    Ok(Scan::Query(Query {
        stamp,
        client,
        server,
        name,
        qtype,
    }))
}

/// True when the prefix before `client` holds a syslog tag with a pid
/// (`prog[123]:`) of a program other than `named`: another daemon's line
/// in a shared syslog file.
fn foreign_tag(prefix: &[u8]) -> bool {
    prefix
        .split(|&c| c == b' ')
        .filter_map(text::tag_with_pid)
        .any(|p| p != b"named")
}

/// The text readers the resolver logs share: syslog prefixes, time
/// stamps, addresses, names, DNS classes and types.
pub(crate) mod text {
    use crate::Event;
    use crate::event::{rrtype_from_name, unix_micros};
    use std::net::IpAddr;

    /// Longest name copied into an event: a DNS name is at most 255
    /// octets, which BIND's escaping (`\DDD`) can make four times longer.
    pub(crate) const MAX_NAME: usize = 1024;

    /// A time stamp read from a line.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Stamp {
        /// Microseconds since 1970, UTC.
        At(i64),
        /// The line has no time stamp, or one that cannot be placed (a
        /// syslog `Feb 29` in a year taken to be common).
        Unknown,
        /// A time stamp that cannot be (month 13, `Apr 31`, 25:00).
        Invalid,
    }

    impl Stamp {
        /// Sets `ev.time`; an invalid stamp is an error.
        pub(crate) fn apply(self, ev: &mut Event) -> Result<(), &'static str> {
            match self {
                Stamp::At(t) => ev.time = Some(t),
                Stamp::Unknown => {}
                Stamp::Invalid => return Err("invalid time stamp"),
            }
            Ok(())
        }
    }

    /// `line` without its trailing CR, LF, spaces and tabs (Windows logs
    /// end in CRLF).
    pub(crate) fn trim_end(mut s: &[u8]) -> &[u8] {
        while let [rest @ .., last] = s {
            if matches!(last, b'\r' | b'\n' | b' ' | b'\t') {
                s = rest;
            } else {
                break;
            }
        }
        s
    }

    /// `s` without its leading spaces.
    pub(crate) fn skip_spaces(s: &[u8]) -> &[u8] {
        let n = s.iter().take_while(|&&c| c == b' ').count();
        &s[n..]
    }

    /// The token before the first space, and the rest after the spaces
    /// that follow it.
    pub(crate) fn token(s: &[u8]) -> (&[u8], &[u8]) {
        match memchr::memchr(b' ', s) {
            Some(i) => (&s[..i], skip_spaces(&s[i + 1..])),
            None => (s, &[]),
        }
    }

    /// An IPv4 or IPv6 address (a `%zone` suffix dropped; an IPv4-mapped
    /// IPv6 address given as IPv4, so that one client is one address).
    pub(crate) fn ip(s: &[u8]) -> Option<IpAddr> {
        let s = match memchr::memchr(b'%', s) {
            Some(i) => &s[..i],
            None => s,
        };
        if s.is_empty() || s.len() > 45 {
            return None;
        }
        let a: IpAddr = std::str::from_utf8(s).ok()?.parse().ok()?;
        Some(a.to_canonical())
    }

    /// A decimal number of at most 18 digits.
    pub(crate) fn uint(s: &[u8]) -> Option<u64> {
        if s.is_empty() || s.len() > 18 || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(s.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0')))
    }

    /// The month number of an English three-letter abbreviation.
    pub(crate) fn month(s: &[u8]) -> Option<u32> {
        const MONTHS: [&[u8]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        MONTHS
            .iter()
            .position(|m| m.eq_ignore_ascii_case(s))
            .map(|i| i as u32 + 1)
    }

    /// A clock time: `H:MM:SS` or `HH:MM:SS`, then an optional fraction
    /// (`.` or `,` and 1 to 9 digits). Returns hours, minutes, seconds,
    /// microseconds and the rest.
    pub(crate) fn clock(s: &[u8]) -> Option<(u32, u32, u32, u32, &[u8])> {
        let hl = s.iter().take(3).take_while(|c| c.is_ascii_digit()).count();
        if !(1..=2).contains(&hl) {
            return None;
        }
        let h = uint(&s[..hl])? as u32;
        let r = &s[hl..];
        if r.len() < 6 || r[0] != b':' || r[3] != b':' {
            return None;
        }
        let m = two(&r[1..3])?;
        let sec = two(&r[4..6])?;
        let mut r = &r[6..];
        let mut micros = 0;
        if let [b'.' | b',', tail @ ..] = r {
            let n = tail
                .iter()
                .take(10)
                .take_while(|c| c.is_ascii_digit())
                .count();
            if !(1..=9).contains(&n) {
                return None;
            }
            for i in 0..6 {
                micros = micros * 10
                    + tail
                        .get(i)
                        .filter(|_| i < n)
                        .map_or(0, |c| u32::from(c - b'0'));
            }
            r = &tail[n..];
        }
        Some((h, m, sec, micros, r))
    }

    fn two(s: &[u8]) -> Option<u32> {
        match s {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
            }
            _ => None,
        }
    }

    /// The end of a time stamp: the end of the line or spaces (skipped).
    fn after_stamp(r: &[u8]) -> Option<&[u8]> {
        match r {
            [] => Some(r),
            [b' ', ..] => Some(skip_spaces(r)),
            _ => None,
        }
    }

    fn stamp(year: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> Stamp {
        unix_micros(year, mo, d, h, mi, s, us).map_or(Stamp::Invalid, Stamp::At)
    }

    /// A BSD syslog time stamp, `Mmm dD HH:MM:SS` (day space- or
    /// zero-padded, as syslog and Unbound's `log-time-ascii` write it),
    /// with an optional fraction (old BIND); the year is `year`.
    pub(crate) fn bsd_time(s: &[u8], year: i32) -> Option<(Stamp, &[u8])> {
        if s.len() < 15 || s[3] != b' ' {
            return None;
        }
        let mo = month(&s[..3])?;
        let r = &s[4..];
        let (d, r) = match r {
            [b' ', d, b' ', ..] if d.is_ascii_digit() => (u32::from(d - b'0'), &r[3..]),
            [a, b, b' ', ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
                (u32::from(a - b'0') * 10 + u32::from(b - b'0'), &r[3..])
            }
            [d, b' ', ..] if d.is_ascii_digit() => (u32::from(d - b'0'), &r[2..]),
            _ => return None,
        };
        let (h, mi, sec, us, r) = clock(r)?;
        let r = after_stamp(r)?;
        // The year is a guess: a 29 February that the guessed year does
        // not have is a time we cannot place, not a broken line.
        let st = match stamp(year, mo, d, h, mi, sec, us) {
            Stamp::Invalid if mo == 2 && d == 29 && h < 24 && mi < 60 && sec < 61 => Stamp::Unknown,
            st => st,
        };
        Some((st, r))
    }

    /// An ISO 8601 time stamp, `YYYY-MM-DDTHH:MM:SS[.frac]` with an
    /// optional zone (`Z`, `+HH:MM`, `+HHMM`): rsyslog's high-precision
    /// format, `journalctl -o short-iso`, BIND's `print-time iso8601`,
    /// Unbound's `log-time-iso`.
    pub(crate) fn iso_time(s: &[u8]) -> Option<(Stamp, &[u8])> {
        if s.len() < 19 || s[4] != b'-' || s[7] != b'-' || s[10] != b'T' {
            return None;
        }
        let y = uint(&s[..4])? as i32;
        let mo = two(&s[5..7])?;
        let d = two(&s[8..10])?;
        let (h, mi, sec, us, mut r) = clock(&s[11..])?;
        let mut offset: i64 = 0;
        match r {
            [b'Z', tail @ ..] => r = tail,
            [sign @ (b'+' | b'-'), tail @ ..] => {
                let (oh, om, tail) = match tail {
                    [a, b, b':', c, d, t @ ..] => (two(&[*a, *b])?, two(&[*c, *d])?, t),
                    [a, b, c, d, t @ ..] => (two(&[*a, *b])?, two(&[*c, *d])?, t),
                    _ => return None,
                };
                offset = i64::from(oh * 60 + om) * 60_000_000;
                if *sign == b'-' {
                    offset = -offset;
                }
                r = tail;
            }
            _ => {}
        }
        let r = after_stamp(r)?;
        let st = match stamp(y, mo, d, h, mi, sec, us) {
            Stamp::At(t) => Stamp::At(t - offset),
            st => st,
        };
        Some((st, r))
    }

    /// BIND's own time stamp, `DD-Mon-YYYY HH:MM:SS.mmm`.
    pub(crate) fn bind_time(s: &[u8]) -> Option<(Stamp, &[u8])> {
        if s.len() < 20 || s[2] != b'-' || s[6] != b'-' || s[11] != b' ' {
            return None;
        }
        let d = two(&s[..2])?;
        let mo = month(&s[3..6])?;
        let y = uint(&s[7..11])? as i32;
        let (h, mi, sec, us, r) = clock(&s[12..])?;
        let r = after_stamp(r)?;
        Some((stamp(y, mo, d, h, mi, sec, us), r))
    }

    /// The program of a syslog tag with a pid, `prog[123]:`.
    pub(crate) fn tag_with_pid(t: &[u8]) -> Option<&[u8]> {
        let t = t.strip_suffix(b"]:")?;
        let open = memchr::memrchr(b'[', t)?;
        let pid = &t[open + 1..];
        if pid.is_empty() || !pid.iter().all(u8::is_ascii_digit) || open == 0 {
            return None;
        }
        Some(&t[..open])
    }

    /// The program of a syslog tag, `prog[123]:` or `prog:`.
    pub(crate) fn tag(t: &[u8]) -> Option<&[u8]> {
        if let Some(p) = tag_with_pid(t) {
            return Some(p);
        }
        let p = t.strip_suffix(b":")?;
        let ok = !p.is_empty()
            && p.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/'));
        ok.then_some(p)
    }

    /// A syslog line's parts: time, program, message.
    pub(crate) struct Syslog<'a> {
        /// The time stamp.
        pub(crate) stamp: Stamp,
        /// The program (the tag without `[pid]:`).
        pub(crate) program: &'a [u8],
        /// The message.
        pub(crate) msg: &'a [u8],
    }

    /// Reads a syslog prefix: a BSD or ISO time stamp, an optional host,
    /// and the tag (`prog[pid]:` or `prog:`).
    pub(crate) fn syslog(s: &[u8], year: i32) -> Option<Syslog<'_>> {
        let (stamp, rest) = bsd_time(s, year).or_else(|| iso_time(s))?;
        let (t1, r1) = token(rest);
        if let Some(program) = tag(t1) {
            return Some(Syslog {
                stamp,
                program,
                msg: r1,
            });
        }
        let (t2, r2) = token(r1);
        let program = tag(t2)?;
        Some(Syslog {
            stamp,
            program,
            msg: r2,
        })
    }

    /// Copies a logged DNS name into `out`: UTF-8, not empty, at most
    /// [`MAX_NAME`] bytes, without control characters.
    pub(crate) fn set_name(out: &mut String, s: &[u8]) -> Result<(), &'static str> {
        if s.is_empty() {
            return Err("empty name");
        }
        if s.len() > MAX_NAME {
            return Err("name too long");
        }
        if s.iter().any(|&c| c < 0x20 || c == 0x7f) {
            return Err("control character in name");
        }
        let s = std::str::from_utf8(s).map_err(|_| "invalid UTF-8 in name")?;
        out.push_str(s);
        Ok(())
    }

    /// True for a DNS class as resolvers print it.
    pub(crate) fn is_class(s: &[u8]) -> bool {
        matches!(s, b"IN" | b"CH" | b"CS" | b"HS" | b"ANY" | b"NONE")
            || s.strip_prefix(b"CLASS")
                .and_then(uint)
                .is_some_and(|n| n <= 65535)
    }

    /// The RR type number of a printed type: a mnemonic (0 when this
    /// crate does not know it), `TYPE123`, or `None` when it cannot be a
    /// type (empty, too long, not alphanumeric).
    pub(crate) fn qtype(s: &[u8]) -> Option<u16> {
        if s.is_empty()
            || s.len() > 16
            || !s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        {
            return None;
        }
        if let Some(n) = s.strip_prefix(b"TYPE").or_else(|| s.strip_prefix(b"type")) {
            return uint(n).and_then(|n| u16::try_from(n).ok());
        }
        // ASCII checked above.
        Some(rrtype_from_name(std::str::from_utf8(s).unwrap_or("")))
    }

    /// Writes the reverse-lookup name of `ip` (`4.3.2.1.in-addr.arpa`,
    /// nibbles `.ip6.arpa`).
    pub(crate) fn write_arpa(out: &mut String, ip: IpAddr) {
        use std::fmt::Write;
        match ip {
            IpAddr::V4(a) => {
                let [a, b, c, d] = a.octets();
                let _ = write!(out, "{d}.{c}.{b}.{a}.in-addr.arpa");
            }
            IpAddr::V6(a) => {
                for b in a.octets().iter().rev() {
                    let _ = write!(out, "{:x}.{:x}.", b & 0xf, b >> 4);
                }
                out.push_str("ip6.arpa");
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn times() {
            let t = |s: &str| bsd_time(s.as_bytes(), 2026).map(|(st, r)| (st, r.len()));
            let dec6 = unix_micros(2026, 12, 6, 20, 41, 45, 0).unwrap();
            assert_eq!(t("Dec  6 20:41:45 x"), Some((Stamp::At(dec6), 1)));
            assert_eq!(t("Dec 06 20:41:45 x"), Some((Stamp::At(dec6), 1)));
            assert_eq!(
                t("Dec 06 20:41:45.5 x"),
                Some((Stamp::At(dec6 + 500_000), 1))
            );
            assert_eq!(t("Apr 31 20:41:45 x"), Some((Stamp::Invalid, 1)));
            assert_eq!(t("Feb 29 20:41:45 x"), Some((Stamp::Unknown, 1)));
            assert_eq!(t("Dec  6 25:41:45 x"), Some((Stamp::Invalid, 1)));
            assert_eq!(t("Dex  6 20:41:45 x"), None);
            assert_eq!(t("Dec  6 20:41:4"), None);
            assert_eq!(t("Dec  6 20:41:45x"), None);
            let i = |s: &str| iso_time(s.as_bytes()).map(|(st, _)| st);
            assert_eq!(i("2026-12-06T20:41:45Z"), Some(Stamp::At(dec6)));
            assert_eq!(i("2026-12-06T21:41:45+01:00 h"), Some(Stamp::At(dec6)));
            assert_eq!(i("2026-12-06T19:41:45.000-0100"), Some(Stamp::At(dec6)));
            assert_eq!(i("2026-12-06T20:41:45+1"), None);
            assert_eq!(i("2026-13-06T20:41:45"), Some(Stamp::Invalid));
            let b = |s: &str| bind_time(s.as_bytes()).map(|(st, _)| st);
            assert_eq!(
                b("06-Dec-2026 20:41:45.123 x"),
                Some(Stamp::At(dec6 + 123_000))
            );
            assert_eq!(b("32-Dec-2026 20:41:45.123"), Some(Stamp::Invalid));
            assert_eq!(b("06-Dek-2026 20:41:45.123"), None);
        }

        #[test]
        fn syslog_prefixes() {
            let s = syslog(b"Dec  6 20:41:45 host named[123]: client x", 2026).unwrap();
            assert_eq!((s.program, s.msg), (&b"named"[..], &b"client x"[..]));
            let s = syslog(b"Dec  6 20:41:45 dnsmasq[123]: query[A]", 2026).unwrap();
            assert_eq!((s.program, s.msg), (&b"dnsmasq"[..], &b"query[A]"[..]));
            let s = syslog(b"2026-12-06T20:41:45.1+01:00 h unbound: [1:0] x", 2026).unwrap();
            assert_eq!(s.program, b"unbound");
            assert!(syslog(b"Dec  6 20:41:45 host named[12x]: y", 2026).is_none());
            assert!(syslog(b"Dec  6 20:41:45", 2026).is_none());
        }

        #[test]
        fn addresses_and_names() {
            assert_eq!(ip(b"192.0.2.1"), "192.0.2.1".parse().ok());
            assert_eq!(ip(b"::ffff:192.0.2.1"), "192.0.2.1".parse().ok());
            assert_eq!(ip(b"fe80::1%eth0"), "fe80::1".parse().ok());
            assert_eq!(ip(b"192.0.2.256"), None);
            assert_eq!(ip(b""), None);
            assert_eq!(ip(&[0xff; 10]), None);
            let mut s = String::new();
            write_arpa(&mut s, "192.0.2.7".parse().unwrap());
            assert_eq!(s, "7.2.0.192.in-addr.arpa");
            s.clear();
            write_arpa(&mut s, "2001:db8::1".parse().unwrap());
            assert_eq!(
                s,
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
            );
            s.clear();
            assert_eq!(
                set_name(&mut s, b"a\x01b"),
                Err("control character in name")
            );
            assert_eq!(set_name(&mut s, b"a\xffb"), Err("invalid UTF-8 in name"));
            assert_eq!(set_name(&mut s, &[b'a'; 2000]), Err("name too long"));
            assert_eq!(set_name(&mut s, b""), Err("empty name"));
            assert!(s.is_empty());
            assert_eq!(qtype(b"AAAA"), Some(28));
            assert_eq!(qtype(b"TYPE65"), Some(65));
            assert_eq!(qtype(b"TYPE70000"), None);
            assert_eq!(qtype(b"CAA"), Some(0));
            assert_eq!(qtype(b"A;"), None);
            assert!(is_class(b"IN") && is_class(b"CLASS3") && !is_class(b"XX"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{parse_line, unix_micros};
    use crate::{EventKind, Format};

    fn read(line: &str) -> (Outcome, Event) {
        read_bytes(line.as_bytes())
    }

    fn read_bytes(line: &[u8]) -> (Outcome, Event) {
        let mut ev = Event::default();
        let o = parse_line(Format::Bind, &LineCtx::new(2026), line, &mut ev);
        (o, ev)
    }

    fn ip(s: &str) -> Option<std::net::IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_documented_layouts() {
        let t = unix_micros(2026, 12, 6, 20, 41, 45, 123_000);
        for line in [
            // BIND 9.11+ with print-time, print-category, print-severity.
            "06-Dec-2026 20:41:45.123 queries: info: client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)",
            // Without category and severity (named -g, or not asked).
            "06-Dec-2026 20:41:45.123 client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)",
            // A view, a client subnet, a TSIG key.
            "06-Dec-2026 20:41:45.123 queries: info: client @0x2c11226c 192.0.2.10#59751/key k1 (evil.example.com): view internal: query: evil.example.com IN A +E(0)K (192.0.2.1) [ECS 192.0.2.0/24/0]",
            // BIND 9.9 (no client pointer).
            "06-Dec-2026 20:41:45.123 queries: info: client 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E (192.0.2.1)",
        ] {
            let (o, ev) = read(line);
            assert_eq!(o, Outcome::Event, "{line}");
            assert_eq!(ev.kind, EventKind::Dns);
            assert_eq!(ev.time, t, "{line}");
            assert_eq!(ev.client, ip("192.0.2.10"), "{line}");
            assert_eq!(ev.server, ip("192.0.2.1"), "{line}");
            assert_eq!(ev.name, "evil.example.com");
            assert_eq!(ev.qtype, 1);
            assert!(ev.answers.is_empty());
        }
        // No time stamp at all.
        let (o, ev) = read(
            "client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN AAAA -E(0)DCK (192.0.2.1)",
        );
        assert_eq!((o, ev.time, ev.qtype), (Outcome::Event, None, 28));
        // IPv6 client and server.
        let (o, ev) = read(
            "06-Dec-2026 20:41:45.123 queries: info: client @0x7f3b2c0a8d68 2001:db8::10#53123 (evil.example.com): query: evil.example.com IN TXT +ET (2001:db8::1)",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(
            (ev.client, ev.server),
            (ip("2001:db8::10"), ip("2001:db8::1"))
        );
        assert_eq!(ev.qtype, 16);
        // Syslog, the year from the context.
        let (o, ev) = read(
            "Dec  6 20:41:45 ns1 named[123]: client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.time, unix_micros(2026, 12, 6, 20, 41, 45, 0));
        assert_eq!(ev.client, ip("192.0.2.10"));
        // ISO 8601 print-time.
        let (o, ev) = read(
            "2026-12-06T21:41:45.123+01:00 queries: info: client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)",
        );
        assert_eq!((o, ev.time), (Outcome::Event, t));
        // BIND 9.3 (bind9_query2dlf's example): no flags, no server.
        let (o, ev) = read(
            "Feb 25 11:09:43.651 queries: info: client 10.0.0.3#1035: query: 3.example.com.nl IN A",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.time, unix_micros(2026, 2, 25, 11, 9, 43, 651_000));
        assert_eq!((ev.client, ev.server), (ip("10.0.0.3"), None));
        assert_eq!(ev.name, "3.example.com.nl");
        // An escaped name is kept as logged.
        let (o, ev) = read(
            "client @0x1 192.0.2.10#1 (a\\032b.example): query: a\\032b.example IN TYPE65 + (192.0.2.1)",
        );
        assert_eq!(
            (o, ev.name.as_str(), ev.qtype),
            (Outcome::Event, "a\\032b.example", 65)
        );
    }

    #[test]
    fn other_lines_are_ignored() {
        for line in [
            "06-Dec-2026 20:51:01.742 no longer listening on 127.0.0.1#15355",
            "06-Dec-2026 20:51:01.742 shutting down",
            "06-Dec-2026 20:41:45.123 query-errors: info: client @0x7f 192.0.2.10#53123 (x.example): query failed (SERVFAIL) for x.example/IN/A at query.c:7833",
            "06-Dec-2026 20:41:45.123 security: info: client @0x7f 192.0.2.10#53123 (x.example): query (cache) 'x.example/A/IN' denied",
            "Dec  6 20:41:45 host sshd[99]: Connection closed by client 192.0.2.10#22: query: x IN A",
            "Dec  6 20:41:45 host named[123]: zone example/IN: loaded serial 1",
            "",
            "\r",
        ] {
            let (o, _) = read(line);
            assert!(matches!(o, Outcome::Ignored(_)), "{line}: {o:?}");
            assert!(!sniff(line.as_bytes()), "{line}");
        }
        // Another resolver's line says it may be another program's.
        assert_eq!(
            read("Dec  6 20:41:45 gw dnsmasq[123]: query[A] evil.example from 192.0.2.10").0,
            Outcome::Ignored("BIND message or another program's line, not a query")
        );
    }

    #[test]
    fn bad_lines() {
        let cases: [(&[u8], &str); 12] = [
            (b"random words", "not a BIND log line"),
            (
                b"client @0x1 192.0.2.999#53 (x): query: x IN A + (192.0.2.1)",
                "invalid client address",
            ),
            (
                b"client @0x1 192.0.2.10 (x): query: x IN A + (192.0.2.1)",
                "client without a port",
            ),
            (
                b"client @0x1 192.0.2.10#x (x): query: x IN A + (192.0.2.1)",
                "invalid client port",
            ),
            (
                b"client @0x1 192.0.2.10#53 (x): query: x IN",
                "truncated query",
            ),
            (
                b"client @0x1 192.0.2.10#53 (x): query: x XX A +",
                "invalid query class",
            ),
            (
                b"client @0x1 192.0.2.10#53 (x): query: x IN A + (192.0.2)",
                "invalid server address",
            ),
            (
                b"client @0x1 192.0.2.10#53 (x): query: x IN A + junk",
                "invalid query flags",
            ),
            (
                b"client @0x1 192.0.2.10#53 (x): query: x\xff IN A + (192.0.2.1)",
                "invalid UTF-8 in name",
            ),
            (
                b"client @0x1 192.0.2.10#53 (x): query: x IN A\x00 + (192.0.2.1)",
                "invalid query type",
            ),
            (
                b"31-Apr-2026 20:41:45.123 client @0x1 192.0.2.10#53 (x): query: x IN A +",
                "invalid time stamp",
            ),
            (b"\x00\x01\x02\xff\xfe", "not a BIND log line"),
        ];
        for (line, why) in cases {
            let (o, ev) = read_bytes(line);
            assert_eq!(o, Outcome::Bad(why), "{}", String::from_utf8_lossy(line));
            assert!(ev.name.is_empty());
        }
        // A huge name: refused, in linear time.
        let mut long = b"client @0x1 192.0.2.10#53 (x): query: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 1 << 20));
        long.extend_from_slice(b" IN A + (192.0.2.1)");
        assert_eq!(read_bytes(&long).0, Outcome::Bad("name too long"));
        // A huge line of spaces and `client` words: no query.
        let junk = "client ".repeat(100_000);
        assert!(matches!(read(&junk).0, Outcome::Ignored(_)));
    }

    #[test]
    fn sniff_is_strict() {
        assert!(sniff(
            b"06-Dec-2026 20:41:45.123 queries: info: client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)"
        ));
        for other in [
            &b"Dec  6 20:41:45 dnsmasq[123]: query[A] evil.example from 192.0.2.10"[..],
            b"[1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN",
            b"12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)",
            b"1733517705.123     45 192.0.2.10 TCP_MISS/200 1234 GET http://evil.example.com/path - HIER_DIRECT/198.51.100.7 text/html",
            b"{\"ts\":1733517705.1,\"query\":\"client 192.0.2.10#1: query: x IN A\"}",
            b"1733517705.123456\tCHhAvV\t192.0.2.10\t53123\t192.0.2.1\t53\tudp\t1\t-\tevil.example.com",
        ] {
            assert!(!sniff(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
