//! Unbound `log-queries: yes` and `log-replies: yes` lines.
//!
//! Hunting needs `log-queries: yes`: its query lines are the events (one
//! lookup, one event). The reply lines of `log-replies: yes` repeat the
//! query without its answers and are ignored.
//!
//! The layouts come from Unbound's code (`log_vmsg` in `util/log.c`,
//! `log_query_in` in `util/net_help.c`, `log_reply_info` in
//! `util/data/msgreply.c`) and its manual, `unbound.conf(5)`
//! (<https://unbound.docs.nlnetlabs.nl/en/latest/manpages/unbound.conf.html>:
//! `log-queries`, `log-replies`, `log-tag-queryreply`, `log-time-ascii`,
//! `log-time-iso`, `log-destaddr`, `log-identity`, `use-syslog`); checked
//! against a real Unbound 1.17 in `tests/resolvers.rs`:
//!
//! ```text
//! [1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN
//! [1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN NOERROR 0.000123 0 56
//! Dec 06 20:41:45 unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN
//! 2026-12-06T20:41:45.123+01:00 unbound[1234:0] query: 192.0.2.10 evil.example.com. A IN
//! Dec  6 20:41:45 host unbound: [1234:0] info: 192.0.2.10 evil.example.com. A IN
//! ```
//!
//! * The prefix: `[EPOCH]` (the default), `Mmm DD HH:MM:SS`
//!   (`log-time-ascii`, local time, taken as UTC, the year from
//!   [`LineCtx::year`]) or ISO 8601 with its zone (`log-time-iso`), then
//!   `IDENT[PID:THREAD] LEVEL: `. Through syslog (`use-syslog: yes`):
//!   the syslog prefix, then `[PID:THREAD] LEVEL: `. The ident is
//!   `unbound` unless `log-identity` changes it, so it is not checked:
//!   the `[PID:THREAD]` part is what marks Unbound.
//! * The level is `info` (`query`/`reply` with `log-tag-queryreply`).
//! * A query: `CLIENT NAME TYPE CLASS`; a reply: `CLIENT NAME TYPE CLASS
//!   RCODE SECONDS CACHED SIZE`, then ` on PROTO ADDR PORT` with
//!   `log-destaddr` (the address the query came in on). A query line is
//!   an event (kind Dns, the client, the name, the type; no server: the
//!   query line does not name the address it came in on). A reply line
//!   is read (a malformed one is [`Outcome::Bad`]) but
//!   [`Outcome::Ignored`]: it has no answers (the log does not have them)
//!   and its query line is already the event, so an event per reply line
//!   would count each lookup twice. A reply to a
//!   query that could not be parsed (`CLIENT - - - FORMERR - - -`) and
//!   every other message are ignored too, and so are other programs'
//!   lines in a syslog file ("another program's line": a line of another
//!   format, which the pipeline asks the other readers about).

use crate::bind::text::{self, Stamp, token};
use crate::{Event, LineCtx, Outcome};
use std::net::IpAddr;

/// Reads one Unbound log line into `ev`.
pub fn parse(ctx: &LineCtx, line: &[u8], ev: &mut Event) -> Outcome {
    match scan(ctx.year, line) {
        Ok(Scan::Query(q)) => {
            if let Err(e) = q.stamp.apply(ev) {
                return Outcome::Bad(e);
            }
            if let Err(e) = text::set_name(&mut ev.name, q.name) {
                return Outcome::Bad(e);
            }
            ev.client = Some(q.client);
            ev.qtype = q.qtype;
            Outcome::Event
        }
        Ok(Scan::Reply) => Outcome::Ignored(REPLY),
        Ok(Scan::Other(why)) => Outcome::Ignored(why),
        Err(e) => Outcome::Bad(e),
    }
}

/// True when `line` is an Unbound log line: `IDENT[PID:THREAD] LEVEL:`
/// after a time stamp (or `[PID:THREAD] LEVEL:` after a syslog tag);
/// start-up and statistics lines count too.
pub fn sniff(line: &[u8]) -> bool {
    matches!(
        scan(1970, line),
        Ok(Scan::Query(_) | Scan::Reply | Scan::Other(MESSAGE | FORMERR))
    )
}

const MESSAGE: &str = "Unbound message, not a query or reply";
const FORMERR: &str = "Unbound reply to an unreadable query";
const REPLY: &str = "Unbound reply line (the query line is the event)";

struct Query<'a> {
    stamp: Stamp,
    client: IpAddr,
    name: &'a [u8],
    qtype: u16,
}

enum Scan<'a> {
    Query(Query<'a>),
    /// A well-formed reply line.
    Reply,
    Other(&'static str),
}

fn scan(year: i32, line: &[u8]) -> Result<Scan<'_>, &'static str> {
    let line = text::trim_end(line);
    if line.is_empty() {
        return Ok(Scan::Other("empty line"));
    }
    // The time stamp: [EPOCH], BSD (log-time-ascii, syslog) or ISO.
    let (stamp, rest, own_epoch) = if let Some((st, r)) = epoch(line) {
        (st, r, true)
    } else if let Some((st, r)) = text::bsd_time(line, year).or_else(|| text::iso_time(line)) {
        (st, r, false)
    } else {
        return Err("not an Unbound log line");
    };
    // IDENT[PID:THREAD] LEVEL: MSG, or [HOST] TAG: [PID:THREAD] LEVEL: MSG.
    let (t1, r1) = token(rest);
    let after_ids = if ident_ids(t1) {
        r1
    } else {
        let (t2, r2) = token(r1);
        let (t3, r3) = token(r2);
        if text::tag(t1).is_some() && ids(t2) {
            r2
        } else if text::tag(t2).is_some() && ids(t3) {
            r3
        } else if own_epoch {
            return Err("not an Unbound log line");
        } else {
            return Ok(Scan::Other("another program's line"));
        }
    };
    let (level, msg) = level(after_ids).ok_or("no log level")?;
    if !matches!(level, b"info" | b"query" | b"reply") {
        return Ok(Scan::Other(MESSAGE));
    }
    // CLIENT NAME TYPE CLASS [RCODE SECONDS CACHED SIZE [on PROTO ADDR PORT]]
    let (client, r) = token(msg);
    let Some(client) = text::ip(client) else {
        return Ok(Scan::Other(MESSAGE));
    };
    let (name, r) = token(r);
    if name == b"-" {
        return Ok(Scan::Other(FORMERR));
    }
    if !name.ends_with(b".") {
        // Unbound writes every query name absolute; an address followed
        // by something else is another message.
        return Ok(Scan::Other(MESSAGE));
    }
    let (typ, r) = token(r);
    let (class, r) = token(r);
    if typ.is_empty() || class.is_empty() {
        return Err("truncated query");
    }
    let qtype = text::qtype(typ).ok_or("invalid query type")?;
    if !text::is_class(class) {
        return Err("invalid query class");
    }
    if !r.is_empty() {
        let (rcode, r) = token(r);
        let (secs, r) = token(r);
        let (cached, r) = token(r);
        let (size, r) = token(r);
        let rcode_ok = !rcode.is_empty()
            && rcode.len() <= 16
            && rcode
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !rcode_ok || !is_seconds(secs) || !matches!(cached, b"0" | b"1") {
            return Err("invalid reply fields");
        }
        text::uint(size).ok_or("invalid reply fields")?;
        if !r.is_empty() {
            let (on, r) = token(r);
            let (_proto, r) = token(r);
            let (addr, r) = token(r);
            let (port, r) = token(r);
            if on != b"on" || !r.is_empty() {
                return Err("invalid reply fields");
            }
            text::ip(addr).ok_or("invalid server address")?;
            text::uint(port)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or("invalid server port")?;
        }
        if matches!(stamp, Stamp::Invalid) {
            return Err("invalid time stamp");
        }
        return Ok(Scan::Reply);
    }
    Ok(Scan::Query(Query {
        stamp,
        client,
        name,
        qtype,
    }))
}

/// `[EPOCH] `: Unbound's default time stamp.
fn epoch(s: &[u8]) -> Option<(Stamp, &[u8])> {
    let inner = s.strip_prefix(b"[")?;
    let close = memchr::memchr(b']', &inner[..inner.len().min(20)])?;
    let secs = text::uint(&inner[..close])?;
    let rest = inner[close + 1..].strip_prefix(b" ")?;
    let micros = i64::try_from(secs).ok()?.checked_mul(1_000_000)?;
    Some((Stamp::At(micros), rest))
}

/// `[PID:THREAD]` (decimal; hexadecimal accepted for the thread, as old
/// releases wrote it).
fn ids(t: &[u8]) -> bool {
    let Some(inner) = t.strip_prefix(b"[").and_then(|t| t.strip_suffix(b"]")) else {
        return false;
    };
    let Some(colon) = memchr::memchr(b':', inner) else {
        return false;
    };
    let (pid, tid) = (&inner[..colon], &inner[colon + 1..]);
    (1..=10).contains(&pid.len())
        && pid.iter().all(u8::is_ascii_digit)
        && (1..=10).contains(&tid.len())
        && tid.iter().all(u8::is_ascii_hexdigit)
}

/// `IDENT[PID:THREAD]`.
fn ident_ids(t: &[u8]) -> bool {
    match memchr::memchr(b'[', t) {
        Some(i) if i > 0 => ids(&t[i..]),
        _ => false,
    }
}

/// `LEVEL: MSG` (the level is one word, or `fatal error`).
fn level(s: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(m) = s.strip_prefix(b"fatal error: ") {
        return Some((b"fatal error", m));
    }
    let (t, r) = token(s);
    let l = t.strip_suffix(b":")?;
    (!l.is_empty() && l.iter().all(u8::is_ascii_alphabetic)).then_some((l, r))
}

/// `S.UUUUUU`: the reply's duration.
fn is_seconds(s: &[u8]) -> bool {
    match memchr::memchr(b'.', s) {
        Some(dot) => text::uint(&s[..dot]).is_some() && text::uint(&s[dot + 1..]).is_some(),
        None => false,
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
        let o = parse_line(Format::Unbound, &LineCtx::new(2026), line, &mut ev);
        (o, ev)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn queries() {
        let epoch = Some(1_733_517_705_000_000);
        let ascii = unix_micros(2026, 12, 6, 20, 41, 45, 0);
        for (line, time) in [
            (
                "[1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN",
                epoch,
            ),
            (
                "Dec 06 20:41:45 unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN",
                ascii,
            ),
            (
                "2026-12-06T21:41:45.000+01:00 unbound[1234:0] query: 192.0.2.10 evil.example.com. A IN",
                ascii,
            ),
            // Syslog, with and without the pid in the tag.
            (
                "Dec  6 20:41:45 ns1 unbound: [1234:0] info: 192.0.2.10 evil.example.com. A IN",
                ascii,
            ),
            (
                "Dec  6 20:41:45 ns1 unbound[1234]: [1234:0] info: 192.0.2.10 evil.example.com. A IN",
                ascii,
            ),
            // log-identity changed.
            (
                "[1733517705] resolver7[1234:3] info: 192.0.2.10 evil.example.com. A IN",
                epoch,
            ),
        ] {
            let (o, ev) = read(line);
            assert_eq!(o, Outcome::Event, "{line}");
            assert_eq!(ev.kind, EventKind::Dns);
            assert_eq!(ev.time, time, "{line}");
            assert_eq!(ev.client, ip("192.0.2.10"));
            assert_eq!((ev.name.as_str(), ev.qtype), ("evil.example.com.", 1));
            assert!(ev.answers.is_empty() && ev.server.is_none());
            assert!(sniff(line.as_bytes()), "{line}");
        }
        // IPv6 client.
        let (o, ev) =
            read("[1733517705] unbound[1:0] info: 2001:db8::10 evil.example.com. AAAA IN");
        assert_eq!(o, Outcome::Event);
        assert_eq!((ev.client, ev.qtype), (ip("2001:db8::10"), 28));
        // A reverse query, an unknown type, the root.
        let (o, ev) =
            read("[1733517705] unbound[1:0] info: 127.0.0.1 7.2.0.192.in-addr.arpa. PTR IN");
        assert_eq!((o, ev.qtype), (Outcome::Event, 12));
        let (o, ev) = read("[1733517705] unbound[1:0] info: 127.0.0.1 x.example. TYPE65534 IN");
        assert_eq!((o, ev.qtype), (Outcome::Event, 65534));
        let (o, ev) = read("[1733517705] unbound[1:0] info: 127.0.0.1 . NS IN");
        assert_eq!((o, ev.name.as_str()), (Outcome::Event, "."));
    }

    #[test]
    fn reply_lines_are_not_events() {
        // log-replies: the lookup's query line is its event; the reply
        // line (no answers in it) is read and ignored, in every layout.
        for line in [
            "[1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN NOERROR 0.000123 0 56",
            "Dec 06 20:41:45 unbound[1234:0] reply: 192.0.2.10 evil.example.com. A IN NXDOMAIN 0.000000 1 39",
            "Dec  6 20:41:45 ns1 unbound: [1234:0] info: 192.0.2.10 evil.example.com. A IN NOERROR 0.000123 0 56",
            // log-destaddr.
            "[1733517705] unbound[1:0] info: 2001:db8::10 evil.example.com. AAAA IN NOERROR 0.001000 0 80 on udp 2001:db8::53 53",
        ] {
            let (o, ev) = read(line);
            assert_eq!(o, Outcome::Ignored(REPLY), "{line}");
            assert!(ev.name.is_empty() && ev.client.is_none(), "{line}");
            assert!(sniff(line.as_bytes()), "{line}");
        }
        // A query and its reply: one event.
        let lookup = [
            "[1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN",
            "[1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN NOERROR 0.000123 0 56",
        ];
        let events = lookup
            .iter()
            .filter(|l| read(l).0 == Outcome::Event)
            .count();
        assert_eq!(events, 1);
        // A malformed reply line is still bad.
        assert_eq!(
            read("[1733517705] unbound[1:0] info: 192.0.2.10 x. A IN NOERROR 0.1 0").0,
            Outcome::Bad("invalid reply fields")
        );
    }

    #[test]
    fn ignored_lines() {
        for (line, own) in [
            (
                "[1796590188] unbound[2171:0] notice: init module 0: subnetcache",
                true,
            ),
            (
                "[1796590188] unbound[2171:0] info: start of service (unbound 1.17.1).",
                true,
            ),
            (
                "[1796590190] unbound[2171:0] info: server stats for thread 0: 6 queries, 6 answers from cache, 0 recursions, 0 prefetch, 0 rejected by ip ratelimiting",
                true,
            ),
            (
                "[1796590190] unbound[2171:0] info: 127.0.0.1 - - - FORMERR - - -",
                true,
            ),
            (
                "[1796590190] unbound[2171:0] info: resolving evil.example. A IN",
                true,
            ),
            (
                "[1796590190] unbound[2171:0] error: could not open ports",
                true,
            ),
            (
                "[1796590190] unbound[2171:0] fatal error: could not open ports",
                true,
            ),
            (
                "Dec  6 20:41:45 host sshd[1]: Accepted publickey for root",
                false,
            ),
            ("", false),
        ] {
            let (o, _) = read(line);
            assert!(matches!(o, Outcome::Ignored(_)), "{line}: {o:?}");
            assert_eq!(sniff(line.as_bytes()), own, "{line}");
        }
        // A line of another format says so.
        for line in [
            "Dec  6 20:41:45 host sshd[1]: Accepted publickey for root",
            "Dec  6 20:41:45 gw dnsmasq[123]: query[A] evil.example from 192.0.2.10",
        ] {
            assert_eq!(read(line).0, Outcome::Ignored("another program's line"));
        }
    }

    #[test]
    fn bad_lines() {
        let cases: [(&[u8], &str); 10] = [
            (b"random words", "not an Unbound log line"),
            (b"[1733517705] garbage here", "not an Unbound log line"),
            (b"[1733517705] unbound[1:0] info 192.0.2.10 x. A IN", "no log level"),
            (b"[1733517705] unbound[1:0] info: 192.0.2.10 x. A", "truncated query"),
            (b"[1733517705] unbound[1:0] info: 192.0.2.10 x. A XX", "invalid query class"),
            (b"[1733517705] unbound[1:0] info: 192.0.2.10 x. A IN NOERROR 0.1 2 5", "invalid reply fields"),
            (b"[1733517705] unbound[1:0] info: 192.0.2.10 x. A IN NOERROR 0.1 0 5 at udp 1.2.3.4 53", "invalid reply fields"),
            (b"[1733517705] unbound[1:0] info: 192.0.2.10 x. A IN NOERROR 0.1 0 5 on udp 1.2.3 53", "invalid server address"),
            (b"[1733517705] unbound[1:0] info: 192.0.2.10 \xff. A IN", "invalid UTF-8 in name"),
            (b"\x00\x01\xff", "not an Unbound log line"),
        ];
        for (line, why) in cases {
            let (o, ev) = read_bytes(line);
            assert_eq!(o, Outcome::Bad(why), "{}", String::from_utf8_lossy(line));
            assert!(ev.name.is_empty());
        }
        let mut long = b"[1733517705] unbound[1:0] info: 192.0.2.10 ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 1 << 20));
        long.extend_from_slice(b". A IN");
        assert_eq!(read_bytes(&long).0, Outcome::Bad("name too long"));
        // An epoch too large for the clock.
        assert_eq!(
            read("[999999999999999999] unbound[1:0] info: 192.0.2.10 x. A IN").0,
            Outcome::Bad("not an Unbound log line")
        );
    }

    #[test]
    fn sniff_is_strict() {
        for other in [
            &b"06-Dec-2026 20:41:45.123 queries: info: client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)"[..],
            b"Dec  6 20:41:45 dnsmasq[123]: query[A] evil.example from 192.0.2.10",
            b"12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)",
            b"1733517705.123     45 192.0.2.10 TCP_MISS/200 1234 GET http://evil.example.com/path - HIER_DIRECT/198.51.100.7 text/html",
            b"{\"ts\":\"[1733517705] unbound[1:0] info: 192.0.2.10 x. A IN\"}",
            b"[{\"a\":1}]",
        ] {
            assert!(!sniff(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
