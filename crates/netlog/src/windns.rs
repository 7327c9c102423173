//! Windows DNS Server debug log (packet logging, `dns.log`).
//!
//! The layout is the one the file's own legend describes ("Message logging
//! key (for packets - other items use a subset of these fields)", quoted
//! in Microsoft's "DNS Debug Logging" article,
//! <https://blogs.technet.microsoft.com/suporte/dns-debug-logging>, and in
//! many analyses, e.g. <https://qiita.com/urushibata/items/8728708e7737371e6ba1>);
//! the logging options are in [MS-DNSP] 2.2.9.1.1 `DNS_LOG_LEVELS`
//! (<https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dnsp/fc6275ba-b4d3-4e81-9417-03d004369075>):
//!
//! ```text
//! 12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)
//! ```
//!
//! date, time, thread id, context (`PACKET`), internal packet id (absent
//! in Windows Server 2003 logs), `UDP`/`TCP`, `Snd`/`Rcv`, the remote
//! address, the transaction id, `R` for a response (blank for a query),
//! the opcode (`Q` standard query, `N` notify, `U` update, `?`),
//! `[FLAGS-HEX FLAG-CHARS RCODE]`, the question type and the question
//! name in wire-like form, `(4)evil(7)example(3)com(0)`, decoded to
//! `evil.example.com`.
//!
//! Events: a query received from a client (`Rcv`, no `R`, opcode `Q`):
//! the client is the remote address. Everything else is
//! [`Outcome::Ignored`]: responses sent to clients and the server's own
//! queries and responses to and from forwarders (each line is read alone:
//! the answers of a response are only in the multi-line "details" dump,
//! which a line-by-line reader cannot tie to its packet), notify and
//! update packets, non-packet entries, the file's header and legend, the
//! indented lines of the details.
//!
//! Dates follow the server's regional settings, which the log does not
//! name. Read: `YYYY/MM/DD` or `YYYY-MM-DD` when the year is first
//! (Japanese and ISO settings, as in the qiita example), `D.M.YYYY` with
//! dots (German settings), `YYYYMMDD` (Windows Server 2003), and, when
//! the year is last with slashes, `M/D/YYYY` (the United States default,
//! as in Microsoft's examples) or `D/M/YYYY` (British, French and most
//! other settings). Each line is read alone: `D/M` when `M/D` is
//! impossible and `D/M` is not (`25/11/2026`), else `M/D`. So a
//! day-first log's dates up to the 12th of a month (`5/11/2026`, the 5th
//! of November) are read month-first (May 11th): the line cannot tell.
//! Only the times reported are wrong then, not what matches. Times are
//! 24-hour or 12-hour with `AM`/`PM`, local to the server, taken as UTC.
//! A time stamp impossible every way (`2/30/2026`, `13:05:00 PM`) leaves
//! the event without a time rather than losing the query: the query is
//! what a hunt needs.

use crate::bind::text::{self, token};
use crate::event::unix_micros;
use crate::{Event, LineCtx, Outcome};
use std::net::IpAddr;

/// Reads one Windows DNS debug log line into `ev`.
pub fn parse(_ctx: &LineCtx, line: &[u8], ev: &mut Event) -> Outcome {
    match scan(line) {
        Ok(Scan::Query {
            time,
            client,
            qtype,
            name,
        }) => {
            ev.time = time;
            if let Err(e) = decode_name(name, &mut ev.name) {
                ev.name.clear();
                return Outcome::Bad(e);
            }
            ev.client = Some(client);
            ev.qtype = qtype;
            Outcome::Event
        }
        Ok(Scan::Other(why)) => Outcome::Ignored(why),
        Err(e) => Outcome::Bad(e),
    }
}

/// True when `line` is a Windows DNS debug log line: the file's first
/// header line, or a `PACKET` line (query or not) that reads.
pub fn sniff(line: &[u8]) -> bool {
    let line = text::trim_end(line);
    line.starts_with(CREATION) || matches!(scan(line), Ok(Scan::Query { .. } | Scan::Other(PACKET)))
}

const CREATION: &[u8] = b"DNS Server log file creation at ";
const PACKET: &str = "Windows DNS packet other than a query from a client";

enum Scan<'a> {
    Query {
        /// `None` when the line's time stamp is impossible every way.
        time: Option<i64>,
        client: IpAddr,
        qtype: u16,
        name: &'a [u8],
    },
    Other(&'static str),
}

fn scan(line: &[u8]) -> Result<Scan<'_>, &'static str> {
    let line = text::trim_end(line);
    match line.first() {
        None => return Ok(Scan::Other("empty line")),
        // The legend, and the details of packets, are indented.
        Some(b' ' | b'\t') => return Ok(Scan::Other("Windows DNS log legend or detail")),
        _ => {}
    }
    for header in [
        CREATION,
        b"Log file wrap at ",
        b"Message logging key ",
        b"UDP question info at ",
        b"UDP response info at ",
        b"TCP question info at ",
        b"TCP response info at ",
    ] {
        if line.starts_with(header) {
            return Ok(Scan::Other("Windows DNS log header or detail"));
        }
    }
    let (time, rest) = date_time(line).ok_or("not a Windows DNS log line")?;
    let (thread, rest) = token(rest);
    if thread.is_empty() || thread.len() > 8 || !thread.iter().all(u8::is_ascii_hexdigit) {
        return Err("invalid thread id");
    }
    let (context, rest) = token(rest);
    if context != b"PACKET" {
        return Ok(Scan::Other("Windows DNS entry other than a packet"));
    }
    let (mut t, mut rest) = token(rest);
    if t != b"UDP" && t != b"TCP" {
        // The internal packet identifier (8 or 16 hex digits).
        if t.is_empty() || t.len() > 16 || !t.iter().all(u8::is_ascii_hexdigit) {
            return Err("invalid packet id");
        }
        (t, rest) = token(rest);
        if t != b"UDP" && t != b"TCP" {
            return Err("invalid transport");
        }
    }
    let (dir, rest) = token(rest);
    let received = match dir {
        b"Rcv" => true,
        b"Snd" => false,
        _ => return Err("invalid direction"),
    };
    let (remote, rest) = token(rest);
    let remote = text::ip(remote).ok_or("invalid remote address")?;
    let (xid, rest) = token(rest);
    if xid.is_empty() || xid.len() > 4 || !xid.iter().all(u8::is_ascii_hexdigit) {
        return Err("invalid transaction id");
    }
    // [R] OPCODE [FLAGS CHARS RCODE] TYPE NAME
    let open = memchr::memchr(b'[', rest).ok_or("truncated packet line")?;
    let close = memchr::memchr(b']', &rest[open..]).ok_or("truncated packet line")? + open;
    let (response, opcode) = match text::trim_end(&rest[..open]) {
        [b'R', b' ', .., op] => (true, *op),
        [op] => (false, *op),
        _ => return Err("invalid opcode"),
    };
    if !matches!(opcode, b'Q' | b'N' | b'U' | b'?') {
        return Err("invalid opcode");
    }
    let (flags, _) = token(&rest[open + 1..close]);
    if flags.is_empty() || flags.len() > 4 || !flags.iter().all(u8::is_ascii_hexdigit) {
        return Err("invalid flags");
    }
    let (typ, name) = token(rest[close + 1..].trim_ascii_start());
    if typ.is_empty() || name.is_empty() {
        return Err("truncated packet line");
    }
    let qtype = match text::uint(typ) {
        Some(n) => u16::try_from(n).map_err(|_| "invalid question type")?,
        None => text::qtype(typ).ok_or("invalid question type")?,
    };
    if !name.starts_with(b"(") {
        return Err("invalid question name");
    }
    if !received || response || opcode != b'Q' {
        return Ok(Scan::Other(PACKET));
    }
    Ok(Scan::Query {
        time,
        client: remote,
        qtype,
        name,
    })
}

/// Reads the date and the time, up to the thread id: the time (`None`
/// when the stamp is impossible every way) and the rest. `None` when the
/// line does not begin with a date and a time.
fn date_time(s: &[u8]) -> Option<(Option<i64>, &[u8])> {
    let (date, rest) = token(s);
    let date = date_parts(date)?;
    let (h, mi, sec, _, r) = text::clock(rest)?;
    let mut rest = match r {
        [b' ', ..] => text::skip_spaces(r),
        _ => return None,
    };
    let mut h = Some(h);
    let (ampm, r) = token(rest);
    let pm = ampm.eq_ignore_ascii_case(b"PM");
    if pm || ampm.eq_ignore_ascii_case(b"AM") {
        // 12 AM is midnight, 12 PM noon; 0 and 13 on are no 12-hour time.
        h = h
            .filter(|h| (1..=12).contains(h))
            .map(|h| h % 12 + if pm { 12 } else { 0 });
        rest = r;
    }
    let at = |(y, mo, d): (i32, u32, u32)| unix_micros(y, mo, d, h?, mi, sec, 0);
    let time = at(date.first).or_else(|| date.day_first.and_then(at));
    Some((time, rest))
}

/// A date as read: `first`, the reading to take when it is possible, and
/// `day_first`, the other reading of an ambiguous slash date.
struct Date {
    first: (i32, u32, u32),
    day_first: Option<(i32, u32, u32)>,
}

/// Year, month, day of the date forms named in the module's
/// documentation (not range-checked: [`unix_micros`] does that).
fn date_parts(date: &[u8]) -> Option<Date> {
    let num = |s: &[u8], max_len: usize| -> Option<u32> {
        (!s.is_empty() && s.len() <= max_len)
            .then(|| text::uint(s))
            .flatten()
            .map(|n| n as u32)
    };
    let one = |first| {
        Some(Date {
            first,
            day_first: None,
        })
    };
    if date.len() == 8 && date.iter().all(u8::is_ascii_digit) {
        return one((
            num(&date[..4], 4)? as i32,
            num(&date[4..6], 2)?,
            num(&date[6..], 2)?,
        ));
    }
    for sep in [b'/', b'-', b'.'] {
        let mut it = date.split(|&c| c == sep);
        let (Some(a), Some(b), Some(c), None) = (it.next(), it.next(), it.next(), it.next()) else {
            continue;
        };
        if a.len() == 4 && sep != b'.' {
            return one((num(a, 4)? as i32, num(b, 2)?, num(c, 2)?));
        }
        if c.len() != 4 {
            return None;
        }
        let y = num(c, 4)? as i32;
        let (a, b) = (num(a, 2)?, num(b, 2)?);
        return match sep {
            b'/' => Some(Date {
                first: (y, a, b),
                day_first: Some((y, b, a)),
            }),
            b'.' => one((y, b, a)),
            _ => None,
        };
    }
    None
}

/// Decodes `(4)evil(7)example(3)com(0)` into `evil.example.com` (`(0)`
/// alone is the root, `.`). Each label must have the length it claims.
fn decode_name(s: &[u8], out: &mut String) -> Result<(), &'static str> {
    const BAD: &str = "invalid question name";
    let mut rest = s;
    let mut total = 0usize;
    loop {
        let body = rest.strip_prefix(b"(").ok_or(BAD)?;
        let close = memchr::memchr(b')', &body[..body.len().min(4)]).ok_or(BAD)?;
        let len = text::uint(&body[..close]).ok_or(BAD)? as usize;
        rest = &body[close + 1..];
        if len == 0 {
            if !rest.is_empty() {
                return Err(BAD);
            }
            break;
        }
        if len > 63 || rest.len() < len {
            return Err(BAD);
        }
        total += len + 1;
        if total > 255 {
            return Err("name too long");
        }
        let label = &rest[..len];
        if label.iter().any(|&c| c < 0x20 || c == 0x7f) {
            return Err("control character in name");
        }
        let label = std::str::from_utf8(label).map_err(|_| "invalid UTF-8 in name")?;
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(label);
        rest = &rest[len..];
    }
    if out.is_empty() {
        out.push('.');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_line;
    use crate::{EventKind, Format};

    fn read(line: &str) -> (Outcome, Event) {
        read_bytes(line.as_bytes())
    }

    fn read_bytes(line: &[u8]) -> (Outcome, Event) {
        let mut ev = Event::default();
        let o = parse_line(Format::WinDns, &LineCtx::new(2026), line, &mut ev);
        (o, ev)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn queries_from_clients() {
        let t = unix_micros(2026, 12, 6, 20, 41, 45, 0);
        for line in [
            "12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)\r",
            "12/06/2026 20:41:45 0E1C PACKET  000000149B80B390 TCP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)",
            "2026/12/06 20:41:45 0BE4 PACKET  000000149B80B390 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)",
            "06.12.2026 20:41:45 0BE4 PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)",
            // Windows Server 2003: no packet id, YYYYMMDD.
            "20261206 20:41:45 490 PACKET  UDP Rcv 192.0.2.10  d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)",
        ] {
            let (o, ev) = read(line);
            assert_eq!(o, Outcome::Event, "{line}");
            assert_eq!(ev.kind, EventKind::Dns);
            assert_eq!(ev.time, t, "{line}");
            assert_eq!(ev.client, ip("192.0.2.10"));
            assert_eq!((ev.name.as_str(), ev.qtype), ("evil.example.com", 1));
            assert!(ev.answers.is_empty() && ev.server.is_none());
            assert!(sniff(line.as_bytes()), "{line}");
        }
        // 12 AM is midnight, 12 PM noon; IPv6 clients; other types.
        let (o, ev) = read(
            "12/6/2026 12:05:00 AM 0E1C PACKET  000000D1 UDP Rcv 2001:db8::10   d7a1   Q [0001   D   NOERROR] AAAA   (3)www(4)evil(7)example(0)",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.time, unix_micros(2026, 12, 6, 0, 5, 0, 0));
        assert_eq!((ev.client, ev.qtype), (ip("2001:db8::10"), 28));
        assert_eq!(ev.name, "www.evil.example");
        let (o, ev) = read(
            "12/6/2026 12:05:00 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] SRV    (5)_ldap(4)_tcp(2)dc(0)",
        );
        assert_eq!(
            (o, ev.qtype, ev.name.as_str()),
            (Outcome::Event, 33, "_ldap._tcp.dc")
        );
        assert_eq!(ev.time, unix_micros(2026, 12, 6, 12, 5, 0, 0));
        let (o, ev) = read(
            "12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] NS     (0)",
        );
        assert_eq!((o, ev.name.as_str()), (Outcome::Event, "."));
    }

    #[test]
    fn day_first_and_impossible_dates() {
        let q = "0E1C PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)";
        let time = |date: &str| {
            let line = format!("{date} {q}");
            let (o, ev) = read(&line);
            assert_eq!(o, Outcome::Event, "{line}");
            assert_eq!(ev.name, "evil.example.com", "{line}");
            assert!(sniff(line.as_bytes()), "{line}");
            ev.time
        };
        // en-GB (dd/MM/yyyy HH:mm:ss): a day past the 12th is read day
        // first, in both orders of a 24-hour and a 12-hour clock.
        assert_eq!(
            time("25/11/2026 20:41:45"),
            unix_micros(2026, 11, 25, 20, 41, 45, 0)
        );
        assert_eq!(
            time("13/6/2026 8:41:45 PM"),
            unix_micros(2026, 6, 13, 20, 41, 45, 0)
        );
        assert_eq!(
            time("31/12/2026 23:59:59"),
            unix_micros(2026, 12, 31, 23, 59, 59, 0)
        );
        // Month first when it can be: en-US as before, and a day-first
        // date up to the 12th (the line cannot tell).
        assert_eq!(
            time("11/25/2026 8:41:45 PM"),
            unix_micros(2026, 11, 25, 20, 41, 45, 0)
        );
        assert_eq!(
            time("05/11/2026 20:41:45"),
            unix_micros(2026, 5, 11, 20, 41, 45, 0)
        );
        // 29/2 in a leap year, day first; not in another year.
        assert_eq!(
            time("29/2/2028 20:41:45"),
            unix_micros(2028, 2, 29, 20, 41, 45, 0)
        );
        // Impossible every way: the query is kept, without a time.
        for date in [
            "2/30/2026 8:41:45 PM",
            "29/2/2026 20:41:45",
            "31/31/2026 20:41:45",
            "0/0/2026 20:41:45",
            "12/6/2026 13:41:45 PM",
            "12/6/2026 0:41:45 AM",
            "12/6/2026 24:41:45",
            "2026/13/06 20:41:45",
            "31.11.2026 20:41:45",
            "20261301 20:41:45",
        ] {
            assert_eq!(time(date), None, "{date}");
        }
        // Other lines with an impossible stamp are ignored, not bad.
        let (o, _) = read(
            "2/30/2026 8:41:45 PM 0E1C EVENT   The DNS server has finished the background loading of zones.",
        );
        assert!(matches!(o, Outcome::Ignored(_)), "{o:?}");
        let (o, _) = read(
            "2/30/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Snd 192.0.2.10   d7a1 R Q [8081   DR  NOERROR] A      (4)evil(7)example(3)com(0)",
        );
        assert_eq!(o, Outcome::Ignored(PACKET));
    }

    #[test]
    fn ignored_lines() {
        for (line, own) in [
            ("DNS Server log file creation at 12/6/2026 8:41:40 PM", true),
            ("Log file wrap at 12/6/2026 8:41:40 PM", false),
            (
                "Message logging key (for packets - other items use a subset of these fields):",
                false,
            ),
            ("\tField #  Information         Values", false),
            ("\t   1     Date", false),
            ("UDP question info at 000000D1", false),
            ("  Socket = 508", false),
            (
                "12/6/2026 8:41:45 PM 0E1C EVENT   The DNS server has finished the background loading of zones.",
                false,
            ),
            // A response to the client, the server's own query to a
            // forwarder and its answer, a dynamic update.
            (
                "12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Snd 192.0.2.10   d7a1 R Q [8081   DR  NOERROR] A      (4)evil(7)example(3)com(0)",
                true,
            ),
            (
                "12/6/2026 8:41:45 PM 0E1C PACKET  000000D2 UDP Snd 198.51.100.53 1234   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)",
                true,
            ),
            (
                "12/6/2026 8:41:45 PM 0E1C PACKET  000000D2 UDP Rcv 198.51.100.53 1234 R Q [8081   DR  NOERROR] A      (4)evil(7)example(3)com(0)",
                true,
            ),
            (
                "12/6/2026 8:41:45 PM 0E1C PACKET  000000D3 UDP Rcv 192.0.2.10   5678   U [0000       NOERROR] SOA    (7)example(3)com(0)",
                true,
            ),
            ("", false),
        ] {
            let (o, _) = read(line);
            assert!(matches!(o, Outcome::Ignored(_)), "{line}: {o:?}");
            assert_eq!(sniff(line.as_bytes()), own, "{line}");
        }
    }

    #[test]
    fn bad_lines() {
        let q =
            "UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)";
        let cases: [(String, &str); 12] = [
            ("random words".into(), "not a Windows DNS log line"),
            (format!("12/6/2026 8:41:45 PM 0E1Z PACKET  000000D1 {q}"), "invalid thread id"),
            // A date must be a date, even one that cannot be.
            (format!("12/6/26 8:41:45 PM 0E1C PACKET  000000D1 {q}"), "not a Windows DNS log line"),
            ("12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.300 d7a1 Q [0001 D NOERROR] A (4)evil(0)".into(), "invalid remote address"),
            ("12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Xmt 192.0.2.10 d7a1 Q [0001 D NOERROR] A (4)evil(0)".into(), "invalid direction"),
            ("12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10 d7a1 Q [0001 D NOERROR".into(), "truncated packet line"),
            ("12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10 d7a1 X [0001 D NOERROR] A (4)evil(0)".into(), "invalid opcode"),
            ("12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10 d7a1 Q [0001 D NOERROR] A".into(), "truncated packet line"),
            ("12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10 d7a1 Q [0001 D NOERROR] A (5)evil(0)".into(), "invalid question name"),
            ("12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10 d7a1 Q [0001 D NOERROR] A (4)evil(3)com".into(), "invalid question name"),
            ("12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10 d7a1 Q [0001 D NOERROR] A (4)evil(0)junk".into(), "invalid question name"),
            ("12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10 d7a1 Q [0001 D NOERROR] A (99)evil(0)".into(), "invalid question name"),
        ];
        for (line, why) in cases {
            let (o, ev) = read(&line);
            assert_eq!(o, Outcome::Bad(why), "{line}");
            assert!(ev.name.is_empty());
        }
        let (o, _) = read_bytes(b"12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10 d7a1 Q [0001 D NOERROR] A (4)e\xffil(0)");
        assert_eq!(o, Outcome::Bad("invalid UTF-8 in name"));
        let (o, _) = read_bytes(b"\x00\xff\xfe\x01");
        assert_eq!(o, Outcome::Bad("not a Windows DNS log line"));
        // 300 one-byte labels: longer than a DNS name can be.
        let long = format!(
            "12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10 d7a1 Q [0001 D NOERROR] A {}(0)",
            "(1)a".repeat(300)
        );
        assert_eq!(read(&long).0, Outcome::Bad("name too long"));
        let huge = format!("12/6/2026 8:41:45 PM 0E1C PACKET {}", "0".repeat(1 << 20));
        assert_eq!(read(&huge).0, Outcome::Bad("invalid packet id"));
    }

    #[test]
    fn sniff_is_strict() {
        for other in [
            &b"06-Dec-2026 20:41:45.123 queries: info: client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)"[..],
            b"Dec  6 20:41:45 dnsmasq[123]: query[A] evil.example from 192.0.2.10",
            b"[1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN",
            b"1733517705.123     45 192.0.2.10 TCP_MISS/200 1234 GET http://evil.example.com/path - HIER_DIRECT/198.51.100.7 text/html",
            b"{\"date\":\"12/6/2026 8:41:45 PM 0E1C PACKET\"}",
        ] {
            assert!(!sniff(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
