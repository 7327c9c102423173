//! Squid `access.log`: the native format, and the `common` and
//! `combined` formats Squid can be set to.
//!
//! The native layout is Squid's built-in `logformat squid`, `%ts.%03tu
//! %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt` (Squid's
//! `logformat` directive, <https://www.squid-cache.org/Doc/config/logformat/>;
//! written by `Log::Format::SquidNative`, `src/log/FormatSquidNative.cc`),
//! with `log_mime_hdrs` adding bracketed headers at the end:
//!
//! ```text
//! 1733517705.123     45 192.0.2.10 TCP_MISS/200 1234 GET http://evil.example.com/path - HIER_DIRECT/198.51.100.7 text/html
//! ```
//!
//! `common` and `combined` are `%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv"
//! %>Hs %<st %Ss:%Sh` (`combined` adds the quoted Referer and User-Agent
//! before `%Ss:%Sh`; `Log::Format::HttpdCommon`/`HttpdCombined`). The
//! trailing `%Ss:%Sh` (`TCP_MISS:HIER_DIRECT`) is what tells Squid's
//! common format from a web server's, which this module does not claim.
//!
//! An event per request: kind Http, the time, the client, the URL as
//! logged, the name = the URL's host (no port, no user information), the
//! server port (explicit, else the scheme's). The server is the address
//! after the hierarchy code when it is an IP address and the code says
//! Squid went to the origin server (`HIER_DIRECT`, `ORIGINAL_DST`,
//! `PINNED`, ...): with `*_PARENT`/`*_SIBLING` codes it is a peer proxy,
//! not a destination. A URL whose host is an IP address gives that
//! address as the server (when the hierarchy did not) and no name: the
//! name is for DNS names, the indicators' addresses match the server.
//!
//! `CONNECT evil.example.com:443` (a tunnel, usually TLS) gives the name
//! and the port but no URL (the path is inside the tunnel). Its kind is
//! Http, not Tls: what Squid logged is the HTTP CONNECT request; it did
//! not see a ClientHello (nor its SNI, unless it bumps the connection,
//! and then the requests inside are logged as `https://` URLs).
//!
//! Lines without an absolute URL (`error:invalid-request`,
//! `error:transaction-end-before-headers`, `-`) are
//! [`Outcome::Ignored`]. Native time stamps are UTC; common ones carry
//! their zone.

use crate::bind::text::{self, token};
use crate::event::unix_micros;
use crate::{Event, EventKind, Outcome};
use std::net::IpAddr;

/// Longest URL copied into an event (Squid's own limit is 64 KiB).
const MAX_URL: usize = 65_536;

/// Reads one Squid `access.log` line into `ev`.
pub fn parse(line: &[u8], ev: &mut Event) -> Outcome {
    let r = match scan(line) {
        Ok(Scan::Request(r)) => r,
        Ok(Scan::Other(why)) => return Outcome::Ignored(why),
        Err(e) => return Outcome::Bad(e),
    };
    ev.kind = EventKind::Http;
    ev.time = r.time;
    ev.client = r.client;
    ev.server = r.server;
    ev.server_port = r.port;
    if !r.host.is_empty()
        && let Err(e) = text::set_name(&mut ev.name, r.host)
    {
        return Outcome::Bad(e);
    }
    if !r.url.is_empty() {
        match std::str::from_utf8(r.url) {
            Ok(u) => ev.url.push_str(u),
            Err(_) => {
                ev.name.clear();
                return Outcome::Bad("invalid UTF-8 in URL");
            }
        }
    }
    Outcome::Event
}

/// True when `line` is a Squid `access.log` line, native or common with
/// Squid's `%Ss:%Sh` ending.
pub fn sniff(line: &[u8]) -> bool {
    matches!(scan(line), Ok(Scan::Request(_) | Scan::Other(NO_URL)))
}

const NO_URL: &str = "Squid request without an absolute URL";

struct Request<'a> {
    time: Option<i64>,
    client: Option<IpAddr>,
    server: Option<IpAddr>,
    port: Option<u16>,
    /// The name (empty for an IP-literal host).
    host: &'a [u8],
    /// The URL (empty for CONNECT).
    url: &'a [u8],
}

enum Scan<'a> {
    Request(Request<'a>),
    Other(&'static str),
}

fn scan(line: &[u8]) -> Result<Scan<'_>, &'static str> {
    let line = text::skip_spaces(text::trim_end(line));
    if line.is_empty() {
        return Ok(Scan::Other("empty line"));
    }
    let (first, rest) = token(line);
    if first.contains(&b'.')
        && rest.first().is_some_and(u8::is_ascii_digit)
        && !first.contains(&b':')
        && first.iter().all(|c| c.is_ascii_digit() || *c == b'.')
        && text::ip(first).is_none()
    {
        native(first, rest)
    } else if rest.starts_with(b"-") || rest.first().is_some_and(|c| c.is_ascii_graphic()) {
        common(first, rest)
    } else {
        Err("not a Squid access.log line")
    }
}

/// `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`.
fn native<'a>(ts: &'a [u8], rest: &'a [u8]) -> Result<Scan<'a>, &'static str> {
    let time = epoch_millis(ts).ok_or("invalid time stamp")?;
    let mut f: [&[u8]; 9] = [&[]; 9];
    let mut r = rest;
    for slot in f.iter_mut() {
        let (t, next) = token(r);
        if t.is_empty() {
            return Err("too few fields");
        }
        *slot = t;
        r = next;
    }
    let [
        elapsed,
        client,
        status,
        bytes,
        method,
        url,
        _user,
        hier,
        _mime,
    ] = f;
    let elapsed = elapsed.strip_prefix(b"-").unwrap_or(elapsed);
    if text::uint(elapsed).is_none() {
        return Err("invalid elapsed time");
    }
    let client = client_addr(client)?;
    let slash = memchr::memchr(b'/', status).ok_or("invalid status field")?;
    if !is_code(&status[..slash]) || !is_status(&status[slash + 1..]) {
        return Err("invalid status field");
    }
    if text::uint(bytes).is_none() {
        return Err("invalid size");
    }
    let slash = memchr::memchr(b'/', hier).ok_or("invalid hierarchy field")?;
    let (code, peer) = (&hier[..slash], &hier[slash + 1..]);
    if !is_code(code) {
        return Err("invalid hierarchy field");
    }
    let origin = ["DIRECT", "ORIGINAL_DST", "PINNED", "SOURCE_FASTEST"]
        .iter()
        .any(|c| memchr::memmem::find(code, c.as_bytes()).is_some());
    let server = if origin { text::ip(peer) } else { None };
    request(Some(time), client, server, method, url)
}

/// `%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st ["ref" "ua"] %Ss:%Sh`.
fn common<'a>(client: &'a [u8], rest: &'a [u8]) -> Result<Scan<'a>, &'static str> {
    const NOT: &str = "not a Squid access.log line";
    let (_ident, r) = token(rest);
    let (_user, r) = token(r);
    let r = r.strip_prefix(b"[").ok_or(NOT)?;
    let close = memchr::memchr(b']', &r[..r.len().min(40)]).ok_or(NOT)?;
    let when = &r[..close];
    let r = r[close + 1..].strip_prefix(b" \"").ok_or(NOT)?;
    let quote = memchr::memchr(b'"', r).ok_or(NOT)?;
    let req = &r[..quote];
    let r = text::skip_spaces(&r[quote + 1..]);
    let (status, r) = token(r);
    let (bytes, r) = token(r);
    // The last field, Squid's `%Ss:%Sh`, marks Squid's common format.
    let last = match memchr::memrchr(b' ', r) {
        Some(i) => &r[i + 1..],
        None => r,
    };
    let colon = memchr::memchr(b':', last).ok_or(NOT)?;
    if !is_code(&last[..colon]) || !is_code(&last[colon + 1..]) {
        return Err(NOT);
    }
    if !is_status(status) {
        return Err("invalid status field");
    }
    if text::uint(bytes).is_none() && bytes != b"-" {
        return Err("invalid size");
    }
    let client = client_addr(client)?;
    let time = clf_time(when).ok_or("invalid time stamp")?;
    let (method, r) = token(req);
    let (url, _proto) = token(r);
    if method.is_empty() || url.is_empty() {
        return Err("too few fields");
    }
    request(Some(time), client, None, method, url)
}

/// The request part shared by both layouts: the method and the URL.
fn request<'a>(
    time: Option<i64>,
    client: Option<IpAddr>,
    server: Option<IpAddr>,
    method: &'a [u8],
    url: &'a [u8],
) -> Result<Scan<'a>, &'static str> {
    let method_ok = method == b"-"
        || (method.len() <= 32
            && method
                .iter()
                .all(|c| c.is_ascii_uppercase() || matches!(c, b'-' | b'_')));
    if !method_ok {
        return Err("invalid method");
    }
    let mut req = Request {
        time,
        client,
        server,
        port: None,
        host: &[],
        url: &[],
    };
    let authority = if method == b"CONNECT" {
        url
    } else {
        let scheme_end = match memchr::memmem::find(&url[..url.len().min(20)], b"://") {
            Some(i) if i > 0 => i,
            _ => return Ok(Scan::Other(NO_URL)),
        };
        let scheme = &url[..scheme_end];
        if !scheme
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            return Err("invalid URL");
        }
        if url.len() > MAX_URL {
            return Err("URL too long");
        }
        if url.iter().any(|&c| c < 0x20 || c == 0x7f) {
            return Err("control character in URL");
        }
        req.url = url;
        req.port = default_port(scheme);
        let a = &url[scheme_end + 3..];
        let end = a
            .iter()
            .position(|c| matches!(c, b'/' | b'?' | b'#'))
            .unwrap_or(a.len());
        &a[..end]
    };
    let (host, port) = split_authority(authority)?;
    if port.is_some() {
        req.port = port;
    }
    match text::ip(host) {
        Some(a) => req.server = req.server.or(Some(a)),
        None => req.host = host,
    }
    Ok(Scan::Request(req))
}

/// `[user@]host[:port]`, `[v6]:port`.
fn split_authority(a: &[u8]) -> Result<(&[u8], Option<u16>), &'static str> {
    let a = match memchr::memrchr(b'@', a) {
        Some(i) => &a[i + 1..],
        None => a,
    };
    let (host, port) = if let Some(v6) = a.strip_prefix(b"[") {
        let close = memchr::memchr(b']', v6).ok_or("invalid URL host")?;
        (&v6[..close], v6[close + 1..].strip_prefix(b":"))
    } else {
        match memchr::memrchr(b':', a) {
            Some(i) => (&a[..i], Some(&a[i + 1..])),
            None => (a, None),
        }
    };
    if host.is_empty() {
        return Err("URL without a host");
    }
    let port = match port {
        None | Some([]) => None,
        Some(p) => Some(
            text::uint(p)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or("invalid URL port")?,
        ),
    };
    Ok((host, port))
}

fn default_port(scheme: &[u8]) -> Option<u16> {
    if scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"ws") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case(b"https") || scheme.eq_ignore_ascii_case(b"wss") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case(b"ftp") {
        Some(21)
    } else {
        None
    }
}

/// The client: an address, or `-` when Squid had none.
fn client_addr(s: &[u8]) -> Result<Option<IpAddr>, &'static str> {
    if s == b"-" {
        return Ok(None);
    }
    text::ip(s).map(Some).ok_or("invalid client address")
}

/// A Squid code: `TCP_MISS`, `HIER_DIRECT`, `NONE_NONE`, `TIMEOUT_...`.
fn is_code(s: &[u8]) -> bool {
    (1..=48).contains(&s.len())
        && s.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// A three-digit HTTP status (`000` when there was none).
fn is_status(s: &[u8]) -> bool {
    s.len() == 3 && s.iter().all(u8::is_ascii_digit)
}

/// `SECONDS.MMM`: the native time stamp, in microseconds.
fn epoch_millis(s: &[u8]) -> Option<i64> {
    let dot = memchr::memchr(b'.', s)?;
    let secs = text::uint(&s[..dot])?;
    let ms = &s[dot + 1..];
    if ms.len() != 3 || secs > 100_000_000_000 {
        return None;
    }
    let ms = text::uint(ms)?;
    i64::try_from(secs * 1_000_000 + ms * 1000).ok()
}

/// `%tl`: `06/Dec/2026:20:41:45 +0000`.
fn clf_time(s: &[u8]) -> Option<i64> {
    if s.len() != 26 || s[2] != b'/' || s[6] != b'/' || s[11] != b':' || s[20] != b' ' {
        return None;
    }
    let d = text::uint(&s[..2])? as u32;
    let mo = text::month(&s[3..6])?;
    let y = text::uint(&s[7..11])? as i32;
    let (h, mi, sec, _, r) = text::clock(&s[12..])?;
    if r.len() != 6 || r[0] != b' ' {
        return None;
    }
    let sign = match r[1] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let oh = text::uint(&r[2..4])? as i64;
    let om = text::uint(&r[4..6])? as i64;
    let t = unix_micros(y, mo, d, h, mi, sec, 0)?;
    Some(t - sign * (oh * 60 + om) * 60_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_line;
    use crate::{Format, LineCtx};

    fn read(line: &str) -> (Outcome, Event) {
        read_bytes(line.as_bytes())
    }

    fn read_bytes(line: &[u8]) -> (Outcome, Event) {
        let mut ev = Event::default();
        let o = parse_line(Format::Squid, &LineCtx::new(2026), line, &mut ev);
        (o, ev)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn native_lines() {
        let (o, ev) = read(
            "1733517705.123     45 192.0.2.10 TCP_MISS/200 1234 GET http://evil.example.com/path - HIER_DIRECT/198.51.100.7 text/html",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Http);
        assert_eq!(ev.time, Some(1_733_517_705_123_000));
        assert_eq!(ev.client, ip("192.0.2.10"));
        assert_eq!(ev.server, ip("198.51.100.7"));
        assert_eq!(ev.server_port, Some(80));
        assert_eq!(ev.name, "evil.example.com");
        assert_eq!(ev.url, "http://evil.example.com/path");
        assert_eq!(ev.qtype, 0);
        // The example of the squid_access2dlf manual (LogReport's Lire):
        // an old Squid, a cache hit, no server.
        let (o, ev) = read(
            "979992041.366 502 192.168.1.160 TCP_IMS_HIT/304 216 GET http://example.com/home2.html - NONE/- text/html",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!((ev.server, ev.name.as_str()), (None, "example.com"));
        // A port, user information, a parent proxy (not a destination),
        // headers logged at the end (log_mime_hdrs).
        let (o, ev) = read(
            "1733517705.123      7 192.0.2.10 TCP_MISS/200 99 POST http://u:p@evil.example.com:8080/gate.php?id=1 alice FIRSTUP_PARENT/10.0.0.1 application/octet-stream [Host: evil.example.com\\r\\n] []",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(
            (ev.name.as_str(), ev.server_port, ev.server),
            ("evil.example.com", Some(8080), None)
        );
        assert_eq!(ev.url, "http://u:p@evil.example.com:8080/gate.php?id=1");
        // CONNECT: the name and the port, no URL.
        let (o, ev) = read(
            "1733517705.123  60012 192.0.2.10 TCP_TUNNEL/200 5120 CONNECT evil.example.com:443 - HIER_DIRECT/198.51.100.7 -",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(
            (ev.kind, ev.name.as_str(), ev.url.as_str()),
            (EventKind::Http, "evil.example.com", "")
        );
        assert_eq!((ev.server, ev.server_port), (ip("198.51.100.7"), Some(443)));
        // An IP-literal host: the server, no name; IPv6 everywhere.
        let (o, ev) = read(
            "1733517705.123      1 2001:db8::10 TCP_MISS/200 10 GET http://[2001:db8::7]:8000/x - HIER_DIRECT/2001:db8::7 text/plain",
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(
            (ev.client, ev.server),
            (ip("2001:db8::10"), ip("2001:db8::7"))
        );
        assert_eq!((ev.name.as_str(), ev.server_port), ("", Some(8000)));
        let (o, ev) = read(
            "1733517705.123      1 192.0.2.10 TCP_TUNNEL/200 10 CONNECT 198.51.100.9:443 - HIER_NONE/- -",
        );
        assert_eq!(
            (o, ev.server, ev.name.as_str()),
            (Outcome::Event, ip("198.51.100.9"), "")
        );
        // The hierarchy host as a name (log_ip_on_direct off): no server.
        let (o, ev) = read(
            "1733517705.123      1 192.0.2.10 TCP_MISS/200 10 GET https://evil.example.com/ - HIER_DIRECT/evil.example.com text/html",
        );
        assert_eq!(
            (o, ev.server, ev.server_port),
            (Outcome::Event, None, Some(443))
        );
    }

    #[test]
    fn common_lines() {
        let t = unix_micros(2026, 12, 6, 20, 41, 45, 0);
        for line in [
            "192.0.2.10 - - [06/Dec/2026:20:41:45 +0000] \"GET http://evil.example.com/path HTTP/1.1\" 200 1234 TCP_MISS:HIER_DIRECT",
            "192.0.2.10 - alice [06/Dec/2026:21:41:45 +0100] \"GET http://evil.example.com/path HTTP/1.1\" 200 1234 \"http://ref.example/\" \"Mozilla/5.0 (X11; Linux)\" TCP_MISS:HIER_DIRECT",
        ] {
            let (o, ev) = read(line);
            assert_eq!(o, Outcome::Event, "{line}");
            assert_eq!(
                (ev.kind, ev.time, ev.client),
                (EventKind::Http, t, ip("192.0.2.10"))
            );
            assert_eq!(
                (ev.name.as_str(), ev.url.as_str()),
                ("evil.example.com", "http://evil.example.com/path")
            );
            assert!(sniff(line.as_bytes()));
        }
        let (o, ev) = read(
            "192.0.2.10 - - [06/Dec/2026:20:41:45 +0000] \"CONNECT evil.example.com:443 HTTP/1.1\" 200 0 TCP_TUNNEL:HIER_DIRECT",
        );
        assert_eq!(
            (o, ev.name.as_str(), ev.url.as_str()),
            (Outcome::Event, "evil.example.com", "")
        );
    }

    #[test]
    fn ignored_lines() {
        for line in [
            "1733517705.123      0 192.0.2.10 NONE_NONE/400 3944 NONE error:invalid-request - HIER_NONE/- text/html",
            "1733517705.123      0 192.0.2.10 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -",
            "1733517705.123      0 192.0.2.10 NONE/400 3944 GET /relative - HIER_NONE/- text/html",
        ] {
            let (o, _) = read(line);
            assert!(matches!(o, Outcome::Ignored(_)), "{line}: {o:?}");
            assert!(sniff(line.as_bytes()), "{line}");
        }
        assert!(matches!(read("").0, Outcome::Ignored(_)));
    }

    #[test]
    fn bad_lines() {
        let cases: [(&[u8], &str); 16] = [
            (b"random words", "not a Squid access.log line"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS/200 1234 GET", "too few fields"),
            (b"1733517705.1     45 192.0.2.10 TCP_MISS/200 1234 GET http://x/ - HIER_DIRECT/- -", "invalid time stamp"),
            (b"1733517705.123     4x 192.0.2.10 TCP_MISS/200 1234 GET http://x/ - HIER_DIRECT/- -", "invalid elapsed time"),
            (b"1733517705.123     45 192.0.2.300 TCP_MISS/200 1234 GET http://x/ - HIER_DIRECT/- -", "invalid client address"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS-200 1234 GET http://x/ - HIER_DIRECT/- -", "invalid status field"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS/2000 1234 GET http://x/ - HIER_DIRECT/- -", "invalid status field"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS/200 -5 GET http://x/ - HIER_DIRECT/- -", "invalid size"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS/200 5 GET http://x/ - HIER_DIRECT -", "invalid hierarchy field"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS/200 5 get http://x/ - HIER_DIRECT/- -", "invalid method"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS/200 5 GET http://:80/ - HIER_DIRECT/- -", "URL without a host"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS/200 5 GET http://x:99999/ - HIER_DIRECT/- -", "invalid URL port"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS/200 5 GET http://x\xff/ - HIER_DIRECT/- -", "invalid UTF-8 in name"),
            (b"1733517705.123     45 192.0.2.10 TCP_MISS/200 5 GET http://x/\xff - HIER_DIRECT/- -", "invalid UTF-8 in URL"),
            (b"192.0.2.10 - - [31/Apr/2026:20:41:45 +0000] \"GET http://x/ HTTP/1.1\" 200 1 TCP_MISS:HIER_DIRECT", "invalid time stamp"),
            (b"\x00\xff\xfe\x01", "not a Squid access.log line"),
        ];
        for (line, why) in cases {
            let (o, ev) = read_bytes(line);
            assert_eq!(o, Outcome::Bad(why), "{}", String::from_utf8_lossy(line));
            assert!(ev.name.is_empty() && ev.url.is_empty());
        }
        let long = format!(
            "1733517705.123 45 192.0.2.10 TCP_MISS/200 5 GET http://x/{} - HIER_DIRECT/- -",
            "a".repeat(1 << 20)
        );
        assert_eq!(read(&long).0, Outcome::Bad("URL too long"));
    }

    #[test]
    fn sniff_is_strict() {
        for other in [
            &b"06-Dec-2026 20:41:45.123 queries: info: client @0x7f3b2c0a8d68 192.0.2.10#53123 (evil.example.com): query: evil.example.com IN A +E(0)K (192.0.2.1)"[..],
            b"Dec  6 20:41:45 dnsmasq[123]: query[A] evil.example from 192.0.2.10",
            b"[1733517705] unbound[1234:0] info: 192.0.2.10 evil.example.com. A IN",
            b"12/6/2026 8:41:45 PM 0E1C PACKET  000000D1 UDP Rcv 192.0.2.10   d7a1   Q [0001   D   NOERROR] A      (4)evil(7)example(3)com(0)",
            // Zeek TSV (tabs), Zeek JSON, EVE JSON, a web server's log.
            b"1733517705.123456\tCHhAvV\t192.0.2.10\t53123\t192.0.2.1\t80\t1\tGET\tevil.example.com\t/path",
            b"{\"ts\":1733517705.123,\"uid\":\"CHhAvV\",\"id.orig_h\":\"192.0.2.10\",\"host\":\"evil.example.com\"}",
            b"{\"timestamp\":\"2026-12-06T20:41:45.123+0000\",\"event_type\":\"http\",\"src_ip\":\"192.0.2.10\"}",
            b"192.0.2.10 - - [06/Dec/2026:20:41:45 +0000] \"GET /path HTTP/1.1\" 200 1234",
            b"192.0.2.10 - - [06/Dec/2026:20:41:45 +0000] \"GET /path HTTP/1.1\" 200 1234 \"-\" \"curl/8\"",
        ] {
            assert!(!sniff(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
