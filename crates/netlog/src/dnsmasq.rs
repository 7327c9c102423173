//! dnsmasq `log-queries` lines.
//!
//! The layouts come from dnsmasq's `log_query` (`src/cache.c`, 2.90) and
//! its manual (`--log-queries[=extra]`, `--log-facility`), checked against
//! a real dnsmasq 2.90 in `tests/resolvers.rs`:
//!
//! ```text
//! Dec  6 20:41:45 dnsmasq[123]: query[A] evil.example.com from 192.0.2.10
//! Dec  6 20:41:45 dnsmasq[123]: forwarded evil.example.com to 198.51.100.53
//! Dec  6 20:41:45 dnsmasq[123]: reply evil.example.com is 192.0.2.66
//! Dec  6 20:41:45 dnsmasq[123]: 7 192.0.2.10/53123 query[A] evil.example.com from 192.0.2.10
//! ```
//!
//! * The prefix: dnsmasq's own log file (`--log-facility=/path`) writes
//!   `Mmm dD HH:MM:SS dnsmasq[pid]: `; syslog adds a host (or writes an
//!   ISO time stamp); `--log-facility=-` (standard error) writes only
//!   `dnsmasq: `. The year comes from [`LineCtx::year`]; the time is the
//!   server's local time, taken as UTC.
//! * `--log-queries=extra` puts a serial number and the requestor's
//!   `ADDR/PORT` before the message (`--log-queries=proto` also `UDP ` or
//!   `TCP `), so that answer lines carry the client too.
//! * Messages: `query[TYPE] NAME from CLIENT` is the event of a lookup
//!   (the query type, the client): one lookup, one event. Its answers
//!   follow on lines of their own, `SOURCE NAME is DEST`, where SOURCE is
//!   `reply` (from upstream), `cached`, `cached-stale`, `config`
//!   (`--address`, `--host-record`, `--cname`), `DHCP`, `auth` or a hosts
//!   file's path, one line per record: these are read as reply lines
//!   ([`Event::reply`] set; the pipeline matches their answers and counts
//!   them as reply lines, not as events): kind Dns, the name, the address
//!   as an A/AAAA answer (a `<CNAME>`, `NXDOMAIN`, `NODATA` or error DEST
//!   gives the name without an answer), the client when the extra form
//!   gives it. A reverse answer is logged with the address as the name
//!   (`reply 192.0.2.7 is host.example`): the name is then the
//!   `in-addr.arpa`/`ip6.arpa` name and the answer a PTR.
//! * `forwarded`, DNSSEC (`validation`, `dnssec-query[..]`), `ipset`
//!   lines, `config error is REFUSED` (dnsmasq's placeholder name for an
//!   answer it refused), start-up messages, DHCP and TFTP lines (tags
//!   `dnsmasq-dhcp`, `dnsmasq-tftp`) are [`Outcome::Ignored`], as are
//!   other programs' lines in a syslog file ("another program's line":
//!   a line of another format, which the pipeline asks the other readers
//!   about).

use crate::bind::text::{self, Stamp, token};
use crate::{Answer, AnswerData, Event, LineCtx, Outcome};
use std::net::IpAddr;

/// Reads one dnsmasq log line into `ev`.
pub fn parse(ctx: &LineCtx, line: &[u8], ev: &mut Event) -> Outcome {
    let (stamp, client, msg) = match scan(ctx.year, line) {
        Ok(Scan::Line { stamp, client, msg }) => (stamp, client, msg),
        Ok(Scan::Other(why)) => return Outcome::Ignored(why),
        Err(e) => return Outcome::Bad(e),
    };
    if let Err(e) = stamp.apply(ev) {
        return Outcome::Bad(e);
    }
    let filled = match msg {
        Msg::Query { name, qtype, from } => {
            ev.client = Some(from);
            ev.qtype = qtype;
            text::set_name(&mut ev.name, name)
        }
        Msg::Answer { name, dest } => {
            ev.reply = true;
            ev.client = client;
            answer(ev, name, dest)
        }
    };
    match filled {
        Ok(()) => Outcome::Event,
        Err(e) => Outcome::Bad(e),
    }
}

/// True when `line` is a dnsmasq line: its tag is `dnsmasq[pid]:` (or
/// `dnsmasq:`) and it reads; start-up lines count (they are dnsmasq's,
/// and often the first lines of its log file).
pub fn sniff(line: &[u8]) -> bool {
    matches!(
        scan(1970, line),
        Ok(Scan::Line { .. } | Scan::Other(OWN_MESSAGE | FORWARDED | ERROR_REPLY))
    )
}

const OWN_MESSAGE: &str = "dnsmasq message, not a query or answer";
const FORWARDED: &str = "dnsmasq forwarded query";
const ERROR_REPLY: &str = "dnsmasq error reply";

enum Scan<'a> {
    Line {
        stamp: Stamp,
        client: Option<IpAddr>,
        msg: Msg<'a>,
    },
    Other(&'static str),
}

enum Msg<'a> {
    Query {
        name: &'a [u8],
        qtype: u16,
        from: IpAddr,
    },
    Answer {
        name: &'a [u8],
        dest: &'a [u8],
    },
}

fn scan(year: i32, line: &[u8]) -> Result<Scan<'_>, &'static str> {
    let line = text::trim_end(line);
    if line.is_empty() {
        return Ok(Scan::Other("empty line"));
    }
    let (stamp, program, msg) = match text::syslog(line, year) {
        Some(s) => (s.stamp, s.program, s.msg),
        None => {
            // Standard error: `dnsmasq: MSG`, no time stamp.
            let (t, r) = token(line);
            match text::tag(t) {
                Some(p) if p.starts_with(b"dnsmasq") => (Stamp::Unknown, p, r),
                _ => return Err("not a dnsmasq log line"),
            }
        }
    };
    if !program.starts_with(b"dnsmasq") {
        return Ok(Scan::Other("another program's line"));
    }
    if program != b"dnsmasq" {
        return Ok(Scan::Other("dnsmasq DHCP or TFTP line"));
    }
    // log-queries=extra: [TCP |UDP ]SERIAL ADDR/PORT, or SERIAL alone on
    // the lines that have no requestor (F_NOEXTRA).
    let mut m = msg;
    let mut client = None;
    let (t0, r0) = token(m);
    let (serial, r1) = if t0 == b"TCP" || t0 == b"UDP" {
        token(r0)
    } else {
        (t0, r0)
    };
    if (1..=10).contains(&serial.len()) && serial.iter().all(u8::is_ascii_digit) && !r1.is_empty() {
        m = r1;
        let (a, r2) = token(m);
        if a.first().is_some_and(|&c| c != b'/') && memchr::memchr(b'/', a).is_some() {
            client = Some(addr_port(a).ok_or("invalid client address")?);
            m = r2;
        }
    }
    let (source, rest) = token(m);
    let qtype = if source == b"query" {
        Some(0)
    } else if let Some(inner) = source
        .strip_prefix(b"query[")
        .and_then(|s| s.strip_suffix(b"]"))
    {
        let t = match inner.strip_prefix(b"type=") {
            Some(n) => text::uint(n).and_then(|n| u16::try_from(n).ok()),
            None => text::qtype(inner),
        };
        Some(t.ok_or("invalid query type")?)
    } else {
        None
    };
    if let Some(qtype) = qtype {
        // NAME from CLIENT (the name may hold spaces: the last ` from `).
        let i = memchr::memmem::rfind(rest, b" from ").ok_or("truncated query")?;
        let from = text::ip(&rest[i + b" from ".len()..]).ok_or("invalid client address")?;
        if matches!(stamp, Stamp::Invalid) {
            return Err("invalid time stamp");
        }
        return Ok(Scan::Line {
            stamp,
            client,
            msg: Msg::Query {
                name: &rest[..i],
                qtype,
                from,
            },
        });
    }
    let hosts_file = source.first() == Some(&b'/');
    match source {
        b"reply" | b"cached" | b"cached-stale" | b"config" | b"DHCP" | b"auth" => {}
        _ if hosts_file => {}
        b"forwarded" => return Ok(Scan::Other(FORWARDED)),
        _ => return Ok(Scan::Other(OWN_MESSAGE)),
    }
    let Some(i) = memchr::memmem::find(rest, b" is ") else {
        return if hosts_file {
            Ok(Scan::Other(OWN_MESSAGE))
        } else {
            Err("truncated answer")
        };
    };
    let name = &rest[..i];
    let (dest, _) = token(&rest[i + b" is ".len()..]);
    if name.is_empty() || dest.is_empty() {
        return Err("truncated answer");
    }
    if name == b"error" && is_rcode(dest) {
        return Ok(Scan::Other(ERROR_REPLY));
    }
    if matches!(stamp, Stamp::Invalid) {
        return Err("invalid time stamp");
    }
    Ok(Scan::Line {
        stamp,
        client,
        msg: Msg::Answer { name, dest },
    })
}

/// `ADDR/PORT` of the extra form.
fn addr_port(s: &[u8]) -> Option<IpAddr> {
    let slash = memchr::memrchr(b'/', s)?;
    let port = text::uint(&s[slash + 1..])?;
    u16::try_from(port).ok()?;
    text::ip(&s[..slash])
}

/// The DEST words that say "no data" rather than giving an answer.
fn is_rcode(d: &[u8]) -> bool {
    matches!(
        d,
        b"NXDOMAIN"
            | b"NODATA"
            | b"NODATA-IPv4"
            | b"NODATA-IPv6"
            | b"SERVFAIL"
            | b"REFUSED"
            | b"FORMERR"
            | b"not"
    ) || d.iter().all(u8::is_ascii_digit)
}

/// Fills the name and the answer of a `SOURCE NAME is DEST` line.
fn answer(ev: &mut Event, name: &[u8], dest: &[u8]) -> Result<(), &'static str> {
    if let Some(a) = text::ip(dest) {
        text::set_name(&mut ev.name, name)?;
        ev.answers.push(Answer {
            data: AnswerData::Addr(a),
            rrtype: if a.is_ipv4() { 1 } else { 28 },
            ttl: None,
        });
        return Ok(());
    }
    if let Some(a) = text::ip(name) {
        // A reverse answer: dnsmasq logs the address, not the PTR name.
        text::write_arpa(&mut ev.name, a);
        ev.qtype = 12;
        if dest.first() != Some(&b'<') && !is_rcode(dest) {
            let mut target = String::new();
            text::set_name(&mut target, dest)?;
            ev.answers.push(Answer {
                data: AnswerData::Name(target),
                rrtype: 12,
                ttl: None,
            });
        }
        return Ok(());
    }
    // <CNAME> (the target is the next line's name), <TYPE>, NXDOMAIN,
    // NODATA, errors, DNSSEC key lines: the name only.
    text::set_name(&mut ev.name, name)
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
        let o = parse_line(Format::Dnsmasq, &LineCtx::new(2026), line, &mut ev);
        (o, ev)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn addr(s: &str) -> Answer {
        let a: IpAddr = s.parse().unwrap();
        Answer {
            data: AnswerData::Addr(a),
            rrtype: if a.is_ipv4() { 1 } else { 28 },
            ttl: None,
        }
    }

    #[test]
    fn queries() {
        let t = unix_micros(2026, 12, 6, 20, 41, 45, 0);
        for line in [
            // Its own log file (--log-facility=/path), as dnsmasq 2.90 writes it.
            "Dec  6 20:41:45 dnsmasq[123]: query[A] evil.example.com from 192.0.2.10",
            // syslog, with a host.
            "Dec  6 20:41:45 gw dnsmasq[123]: query[A] evil.example.com from 192.0.2.10",
            // log-queries=extra, and =proto.
            "Dec  6 20:41:45 dnsmasq[123]: 7 192.0.2.10/53123 query[A] evil.example.com from 192.0.2.10",
            "Dec  6 20:41:45 dnsmasq[123]: UDP 7 192.0.2.10/53123 query[A] evil.example.com from 192.0.2.10",
            // rsyslog's ISO time stamps.
            "2026-12-06T20:41:45.000000+00:00 gw dnsmasq[123]: query[A] evil.example.com from 192.0.2.10",
        ] {
            let (o, ev) = read(line);
            assert_eq!(o, Outcome::Event, "{line}");
            assert_eq!(ev.kind, EventKind::Dns);
            assert_eq!(ev.time, t, "{line}");
            assert_eq!(ev.client, ip("192.0.2.10"));
            assert_eq!((ev.name.as_str(), ev.qtype), ("evil.example.com", 1));
            assert!(ev.answers.is_empty() && ev.server.is_none());
            assert!(!ev.reply, "{line}");
        }
        // Standard error: no time.
        let (o, ev) = read("dnsmasq: query[AAAA] evil.example.com from 2001:db8::10");
        assert_eq!((o, ev.time, ev.qtype), (Outcome::Event, None, 28));
        assert_eq!(ev.client, ip("2001:db8::10"));
        // An unknown type, a PTR query, the root.
        let (o, ev) =
            read("Dec  6 20:41:45 dnsmasq[1]: query[type=65534] x.example from 192.0.2.10");
        assert_eq!((o, ev.qtype), (Outcome::Event, 65534));
        let (o, ev) =
            read("Dec  6 20:41:45 dnsmasq[1]: query[PTR] 7.2.0.192.in-addr.arpa from 192.0.2.10");
        assert_eq!(
            (o, ev.qtype, ev.name.as_str()),
            (Outcome::Event, 12, "7.2.0.192.in-addr.arpa")
        );
        let (o, ev) = read("Dec  6 20:41:45 dnsmasq[1]: query[NS] . from 192.0.2.10");
        assert_eq!((o, ev.name.as_str()), (Outcome::Event, "."));
    }

    #[test]
    fn answers() {
        // Every answer line is a reply line: its query line is the event.
        let (o, ev) = read("Dec  6 20:41:45 dnsmasq[123]: reply evil.example.com is 192.0.2.66");
        assert_eq!((o, ev.reply), (Outcome::Event, true));
        assert_eq!((ev.name.as_str(), ev.client), ("evil.example.com", None));
        assert_eq!(ev.answers, vec![addr("192.0.2.66")]);
        // With the client (extra), AAAA, cached, config, a hosts file.
        let (o, ev) = read(
            "Dec  6 20:41:45 dnsmasq[123]: 7 192.0.2.10/53123 cached evil.example.com is 2001:db8::66",
        );
        assert_eq!(
            (o, ev.client, ev.reply),
            (Outcome::Event, ip("192.0.2.10"), true)
        );
        assert_eq!(ev.answers, vec![addr("2001:db8::66")]);
        for line in [
            "Dec  6 20:41:45 dnsmasq[1]: config host.test is 192.0.2.7",
            "Dec  6 20:41:45 dnsmasq[1]: /etc/hosts host.test is 192.0.2.7",
            "Dec  6 20:41:45 dnsmasq[1]: cached-stale host.test is 192.0.2.7",
            "Dec  6 20:41:45 dnsmasq[1]: reply host.test is 192.0.2.7 (DNSSEC signed)",
            "Dec  6 20:41:45 dnsmasq[1]: DHCP host.test is 192.0.2.7",
            "Dec  6 20:41:45 dnsmasq[1]: auth host.test is 192.0.2.7",
        ] {
            let (o, ev) = read(line);
            assert_eq!((o, ev.reply), (Outcome::Event, true), "{line}");
            assert_eq!(
                (ev.name.as_str(), ev.answers.clone()),
                ("host.test", vec![addr("192.0.2.7")])
            );
        }
        // No address: the name only.
        for line in [
            "Dec  6 20:41:45 dnsmasq[1]: reply alias.test is <CNAME>",
            "Dec  6 20:41:45 dnsmasq[1]: config nx.example is NXDOMAIN",
            "Dec  6 20:41:45 dnsmasq[1]: reply alias.test is NODATA-IPv6",
            "Dec  6 20:41:45 dnsmasq[1]: reply alias.test is <HTTPS>",
            "Dec  6 20:41:45 dnsmasq[1]: reply alias.test is SERVFAIL (EDE: network error)",
        ] {
            let (o, ev) = read(line);
            assert_eq!((o, ev.reply), (Outcome::Event, true), "{line}");
            assert!(!ev.name.is_empty() && ev.answers.is_empty(), "{line}");
        }
        // A reverse answer, as dnsmasq 2.90 logs it.
        let (o, ev) =
            read("Dec  6 20:49:07 dnsmasq[1223]: 7 127.0.0.1/54196 config 192.0.2.7 is host.test");
        assert_eq!((o, ev.reply), (Outcome::Event, true));
        assert_eq!((ev.name.as_str(), ev.qtype), ("7.2.0.192.in-addr.arpa", 12));
        assert_eq!(ev.client, ip("127.0.0.1"));
        assert_eq!(
            ev.answers,
            vec![Answer {
                data: AnswerData::Name("host.test".into()),
                rrtype: 12,
                ttl: None
            }]
        );
    }

    #[test]
    fn a_lookup_is_one_event() {
        // A CNAME lookup forwarded upstream, as dnsmasq 2.90 logs it with
        // log-queries=extra: one query line, then a line per answer.
        let lines = [
            "Dec  6 20:41:45 dnsmasq[942]: 7 192.0.2.10/53123 query[A] www.evil.example from 192.0.2.10",
            "Dec  6 20:41:45 dnsmasq[942]: 7 192.0.2.10/53123 forwarded www.evil.example to 198.51.100.53",
            "Dec  6 20:41:45 dnsmasq[942]: 7 192.0.2.10/53123 reply www.evil.example is <CNAME>",
            "Dec  6 20:41:45 dnsmasq[942]: 7 192.0.2.10/53123 reply cdn.evil.example is 192.0.2.66",
            "Dec  6 20:41:45 dnsmasq[942]: 7 192.0.2.10/53123 reply cdn.evil.example is 192.0.2.67",
        ];
        let mut events = Vec::new();
        let mut replies = Vec::new();
        for line in lines {
            let (o, ev) = read(line);
            assert!(!matches!(o, Outcome::Bad(_)), "{line}: {o:?}");
            if o == Outcome::Event {
                assert_eq!(ev.client, ip("192.0.2.10"), "{line}");
                if ev.reply { &mut replies } else { &mut events }.push(ev);
            }
        }
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].name.as_str(), events[0].qtype),
            ("www.evil.example", 1)
        );
        assert_eq!(replies.len(), 3);
        let answers: Vec<_> = replies.iter().flat_map(|e| e.answers.clone()).collect();
        assert_eq!(answers, [addr("192.0.2.66"), addr("192.0.2.67")]);
    }

    #[test]
    fn ignored_lines() {
        for (line, own) in [
            (
                "Dec  6 20:48:58 dnsmasq[942]: started, version 2.90 cachesize 150",
                true,
            ),
            (
                "Dec  6 20:48:58 dnsmasq[942]: compile time options: IPv6 GNU-getopt DBus",
                true,
            ),
            (
                "Dec  6 20:48:58 dnsmasq[942]: warning: no upstream servers configured",
                true,
            ),
            (
                "Dec  6 20:48:58 dnsmasq[942]: read /etc/hosts - 7 names",
                true,
            ),
            (
                "Dec  6 20:48:59 dnsmasq[942]: forwarded evil.example.com to 198.51.100.53",
                true,
            ),
            (
                "Dec  6 20:48:59 dnsmasq[942]: 3 192.0.2.10/53 forwarded evil.example.com to 198.51.100.53",
                true,
            ),
            (
                "Dec  6 20:48:59 dnsmasq[942]: config error is REFUSED (EDE: not ready)",
                true,
            ),
            (
                "Dec  6 20:48:59 dnsmasq[942]: validation evil.example.com is BOGUS",
                true,
            ),
            (
                "Dec  6 20:48:59 dnsmasq[942]: dnssec-query[DS] example.com to 198.51.100.53",
                true,
            ),
            (
                "Dec  6 20:48:59 dnsmasq[942]: ipset add set1 192.0.2.66 evil.example.com",
                true,
            ),
            (
                "Dec  6 20:48:59 dnsmasq[942]: exiting on receipt of SIGTERM",
                true,
            ),
            ("dnsmasq: started, version 2.90 cachesize 150", true),
            (
                "Dec  6 20:48:59 dnsmasq-dhcp[942]: DHCPACK(eth0) 192.0.2.10 00:11:22:33:44:55 pc",
                false,
            ),
            (
                "Dec  6 20:48:59 gw named[9]: query[A] x from 192.0.2.10",
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
            "Dec  6 20:41:45 ns1 named[123]: client @0x7f 192.0.2.10#53123 (x): query: x IN A +E(0)K (192.0.2.1)",
            "Dec  6 20:41:45 ns1 unbound: [1234:0] info: 192.0.2.10 evil.example.com. A IN",
        ] {
            assert_eq!(read(line).0, Outcome::Ignored("another program's line"));
        }
    }

    #[test]
    fn bad_lines() {
        let cases: [(&[u8], &str); 10] = [
            (b"random words", "not a dnsmasq log line"),
            (
                b"Dec  6 20:41:45 dnsmasq[1]: query[A] evil.example.com from 192.0.2.300",
                "invalid client address",
            ),
            (
                b"Dec  6 20:41:45 dnsmasq[1]: query[A] evil.example.com from",
                "truncated query",
            ),
            (
                b"Dec  6 20:41:45 dnsmasq[1]: query[A] evil.example.com",
                "truncated query",
            ),
            (
                b"Dec  6 20:41:45 dnsmasq[1]: query[A!] x from 192.0.2.1",
                "invalid query type",
            ),
            (
                b"Dec  6 20:41:45 dnsmasq[1]: 7 192.0.2.999/5 query[A] x from 192.0.2.1",
                "invalid client address",
            ),
            (
                b"Dec  6 20:41:45 dnsmasq[1]: reply evil.example.com",
                "truncated answer",
            ),
            (
                b"Dec  6 20:41:45 dnsmasq[1]: query[A] ev\xffil from 192.0.2.1",
                "invalid UTF-8 in name",
            ),
            (
                b"Apr 31 20:41:45 dnsmasq[1]: query[A] x from 192.0.2.1",
                "invalid time stamp",
            ),
            (b"\x00\xff\xfe binary", "not a dnsmasq log line"),
        ];
        for (line, why) in cases {
            let (o, ev) = read_bytes(line);
            assert_eq!(o, Outcome::Bad(why), "{}", String::from_utf8_lossy(line));
            assert!(ev.name.is_empty());
        }
        let mut long = b"Dec  6 20:41:45 dnsmasq[1]: query[A] ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 1 << 20));
        long.extend_from_slice(b" from 192.0.2.1");
        assert_eq!(read_bytes(&long).0, Outcome::Bad("name too long"));
    }

    #[test]
    fn sniff_is_strict() {
        for other in [
            &b"06-Dec-2026 20:41:45.123 queries: info: client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)"[..],
            b"Dec  6 20:41:45 ns1 named[123]: client @0x7f 192.0.2.10#53123 (x): query: x IN A +E(0)K (192.0.2.1)",
            b"[1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN",
            b"Dec 06 20:41:45 unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN",
            b"12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)",
            b"1733517705.123     45 192.0.2.10 TCP_MISS/200 1234 GET http://evil.example.com/path - HIER_DIRECT/198.51.100.7 text/html",
            b"{\"msg\":\"dnsmasq[1]: query[A] x from 192.0.2.1\"}",
        ] {
            assert!(!sniff(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
