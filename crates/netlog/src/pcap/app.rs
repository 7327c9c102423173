//! HTTP requests and TLS ClientHellos at the start of a TCP segment.
//!
//! Only the segment itself is read (no stream reassembly): a request
//! whose head continues in the next segment gives what this one holds
//! (the Host header comes first in practice), a ClientHello cut before
//! its server_name extension gives an event without a name.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::{Event, EventKind, Outcome};

/// Bad: a request line followed by a header httparse refuses.
pub(super) const MALFORMED_HTTP: &str = "malformed HTTP request";
/// Bad: a ClientHello whose lengths contradict each other.
pub(super) const MALFORMED_TLS: &str = "malformed TLS ClientHello";

/// The longest request line looked at (longer ones are not taken for
/// HTTP: no scan of a whole segment for a line end per packet).
const MAX_REQUEST_LINE: usize = 16 << 10;

/// True when `p` begins with `METHOD SP target SP HTTP/1.x` and a line
/// end: the cheap test before httparse runs.
fn is_request_line(p: &[u8]) -> bool {
    let Some(&b) = p.first() else { return false };
    if !b.is_ascii_uppercase() {
        return false;
    }
    let head = &p[..p.len().min(MAX_REQUEST_LINE)];
    let Some(nl) = memchr::memchr(b'\n', head) else {
        return false;
    };
    let line = head[..nl].strip_suffix(b"\r").unwrap_or(&head[..nl]);
    line.len() > 9 && {
        let v = &line[line.len() - 9..];
        v.starts_with(b" HTTP/1.") && v[8].is_ascii_digit()
    }
}

/// Strips the port from a Host value or an authority: `host:8080`,
/// `[2001:db8::1]:8080` (to the address without brackets).
fn host_without_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => h,
    }
}

/// Reads an HTTP request at the start of `p` into `ev` (kind, name, URL;
/// the caller sets addresses and time). `None` when `p` does not begin
/// with a request line.
///
/// The URL is `http://` + the Host header as sent (with its port, as a
/// browser's address bar and proxy logs have it) + the path; a request
/// in absolute form (to a proxy) keeps its URL; without a Host header,
/// the server's address stands for the host. `CONNECT host:port` gives
/// the name only.
pub(super) fn http(p: &[u8], server: IpAddr, port: u16, ev: &mut Event) -> Option<Outcome> {
    if !is_request_line(p) {
        return None;
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(p) {
        // Partial: the head goes on in the next segment; httparse leaves
        // the headers read so far in the array (the others stay empty).
        // TooManyHeaders: the first 64 are there.
        Ok(_) | Err(httparse::Error::TooManyHeaders) => {}
        Err(_) => return Some(Outcome::Bad(MALFORMED_HTTP)),
    }
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return Some(Outcome::Bad(MALFORMED_HTTP));
    };
    let host = req
        .headers
        .iter()
        .take_while(|h| !h.name.is_empty())
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .map(|h| String::from_utf8_lossy(h.value.trim_ascii()));
    ev.kind = EventKind::Http;
    if method == "CONNECT" {
        ev.name.push_str(host_without_port(path));
        return Some(Outcome::Event);
    }
    // Bytes, not str slicing: the path may hold multi-byte characters.
    let starts = |prefix: &[u8]| {
        path.as_bytes()
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let absolute = starts(b"http://") || starts(b"https://");
    if let Some(h) = &host {
        ev.name.push_str(host_without_port(h));
    } else if absolute {
        let rest = &path[path.find("//").map_or(0, |i| i + 2)..];
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        ev.name.push_str(host_without_port(authority));
    }
    if absolute {
        ev.url.push_str(path);
    } else if path.starts_with('/') {
        ev.url.push_str("http://");
        match &host {
            Some(h) => ev.url.push_str(h),
            None => {
                let _ = match server {
                    IpAddr::V4(a) => write!(ev.url, "{a}"),
                    IpAddr::V6(a) => write!(ev.url, "[{a}]"),
                };
                if port != 80 {
                    let _ = write!(ev.url, ":{port}");
                }
            }
        }
        ev.url.push_str(path);
    }
    Some(Outcome::Event)
}

/// A cursor over the bytes of a ClientHello that may end early.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|s| usize::from(s[0]))
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))
    }
}

/// Reads a TLS ClientHello at the start of `p` (RFC 8446 section 4.1.2,
/// RFC 5246 7.4.1.2; the server_name extension, RFC 6066 section 3) into
/// `ev`: kind and name (the first host_name, escaped like a DNS label
/// but for its dots). `None` when `p` does not begin with a handshake
/// record holding a ClientHello.
///
/// The record or the handshake message may go on in later segments: what
/// this one holds is read, and a ClientHello cut before its server_name
/// is an event without a name (the server address still counts).
pub(super) fn client_hello(p: &[u8], ev: &mut Event) -> Option<Outcome> {
    // Record: type 22 (handshake), version 3.x, length; handshake type 1.
    if p.len() < 6 || p[0] != 22 || p[1] != 3 || p[2] > 4 || p[5] != 1 {
        return None;
    }
    ev.kind = EventKind::Tls;
    let record_len = usize::from(u16::from_be_bytes([p[3], p[4]]));
    let record = &p[5..p.len().min(5 + record_len)];
    let Some(l) = record.get(1..4) else {
        return Some(Outcome::Event);
    };
    let hs_len = usize::from(l[0]) << 16 | usize::from(l[1]) << 8 | usize::from(l[2]);
    let body = &record[4..record.len().min(4 + hs_len)];
    // A message that is all here must hold together; one that goes on
    // later may end anywhere.
    let whole = body.len() == hs_len;
    match server_name(body) {
        Sni::Name(name) => {
            for (i, label) in name.split(|&b| b == b'.').enumerate() {
                if i > 0 {
                    ev.name.push('.');
                }
                super::dns::push_label(&mut ev.name, label);
            }
            Some(Outcome::Event)
        }
        Sni::Absent => Some(Outcome::Event),
        Sni::Short if !whole => Some(Outcome::Event),
        Sni::Short | Sni::Bad => Some(Outcome::Bad(MALFORMED_TLS)),
    }
}

/// What a ClientHello body says of its server name.
enum Sni<'a> {
    Name(&'a [u8]),
    Absent,
    /// The bytes end before the answer.
    Short,
    /// A length overflows what holds it.
    Bad,
}

fn server_name(body: &[u8]) -> Sni<'_> {
    read_server_name(body).unwrap_or(Sni::Short)
}

/// `None` when the bytes end early.
fn read_server_name(body: &[u8]) -> Option<Sni<'_>> {
    let mut c = Cursor { b: body, at: 0 };
    c.take(2 + 32)?; // legacy_version, random
    let sid = c.u8()?;
    if sid > 32 {
        return Some(Sni::Bad);
    }
    c.take(sid)?;
    let suites = c.u16()?;
    c.take(suites)?;
    let comp = c.u8()?;
    c.take(comp)?;
    if c.at == body.len() {
        // No extensions at all (allowed before TLS 1.3).
        return Some(Sni::Absent);
    }
    let ext_len = c.u16()?;
    let end = c.at + ext_len;
    while c.at + 4 <= end {
        let kind = c.u16()?;
        let len = c.u16()?;
        if c.at + len > end {
            return Some(Sni::Bad);
        }
        let data = c.take(len)?;
        if kind != 0 {
            continue;
        }
        // server_name_list: its length, then (type, length, name)...
        let mut s = Cursor { b: data, at: 0 };
        let Some(list) = s.u16() else {
            return Some(Sni::Bad);
        };
        if list + 2 != data.len() {
            return Some(Sni::Bad);
        }
        while s.at < data.len() {
            let (Some(t), Some(n)) = (s.u8(), s.u16()) else {
                return Some(Sni::Bad);
            };
            let Some(name) = s.take(n) else {
                return Some(Sni::Bad);
            };
            if t == 0 && !name.is_empty() {
                return Some(Sni::Name(name));
            }
        }
        return Some(Sni::Absent);
    }
    Some(Sni::Absent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Event {
        Event::default()
    }

    #[test]
    fn http_requests() {
        let srv: IpAddr = "192.0.2.1".parse().unwrap();
        let mut e = ev();
        let req =
            b"GET /gate.php?id=7 HTTP/1.1\r\nUser-Agent: x\r\nHost: Evil.Example:8080\r\n\r\n";
        assert_eq!(http(req, srv, 8080, &mut e), Some(Outcome::Event));
        assert_eq!((e.kind, e.name.as_str()), (EventKind::Http, "Evil.Example"));
        assert_eq!(e.url, "http://Evil.Example:8080/gate.php?id=7");
        // The head goes on in the next segment: the Host already read counts.
        let mut e = ev();
        let cut = b"POST /up HTTP/1.1\r\nHost: evil.example\r\nCookie: aaaa";
        assert_eq!(http(cut, srv, 80, &mut e), Some(Outcome::Event));
        assert_eq!(e.url, "http://evil.example/up");
        // To a proxy, absolute form; HTTP/1.0 without Host.
        let mut e = ev();
        http(
            b"GET http://user@evil.example:81/a HTTP/1.0\r\n\r\n",
            srv,
            3128,
            &mut e,
        );
        assert_eq!(
            (e.name.as_str(), e.url.as_str()),
            ("evil.example", "http://user@evil.example:81/a")
        );
        let mut e = ev();
        http(
            b"GET /x HTTP/1.0\r\n\r\n",
            "2001:db8::1".parse().unwrap(),
            8000,
            &mut e,
        );
        assert_eq!(
            (e.name.as_str(), e.url.as_str()),
            ("", "http://[2001:db8::1]:8000/x")
        );
        let mut e = ev();
        http(
            b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
            srv,
            3128,
            &mut e,
        );
        assert_eq!((e.name.as_str(), e.url.as_str()), ("evil.example", ""));
        let mut e = ev();
        http(
            b"GET / HTTP/1.1\r\nHost: [2001:db8::5]:8080\r\n\r\n",
            srv,
            8080,
            &mut e,
        );
        assert_eq!(e.name, "2001:db8::5");
        // Not requests: a response, lower case, no line end, SSH.
        for p in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"get / HTTP/1.1\r\n",
            b"GET / HTTP/1.1",
            b"SSH-2.0-OpenSSH_9.2\r\n",
            b"",
        ] {
            assert_eq!(http(p, srv, 80, &mut ev()), None);
        }
        // A request line followed by a broken header.
        assert_eq!(
            http(b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n", srv, 80, &mut ev()),
            Some(Outcome::Bad(MALFORMED_HTTP))
        );
    }

    /// A ClientHello with the given extensions (type, data).
    fn hello(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(32);
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0]);
        let mut e = Vec::new();
        for (t, d) in exts {
            e.extend_from_slice(&t.to_be_bytes());
            e.extend_from_slice(&(d.len() as u16).to_be_bytes());
            e.extend_from_slice(d);
        }
        body.extend_from_slice(&(e.len() as u16).to_be_bytes());
        body.extend_from_slice(&e);
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    fn sni(name: &[u8]) -> Vec<u8> {
        let mut d = ((name.len() + 3) as u16).to_be_bytes().to_vec();
        d.push(0);
        d.extend_from_slice(&(name.len() as u16).to_be_bytes());
        d.extend_from_slice(name);
        d
    }

    #[test]
    fn client_hellos() {
        let ch = hello(&[
            (10, vec![0, 2, 0, 29]),
            (0, sni(b"evil.example")),
            (43, vec![2, 3, 4]),
        ]);
        let mut e = ev();
        assert_eq!(client_hello(&ch, &mut e), Some(Outcome::Event));
        assert_eq!((e.kind, e.name.as_str()), (EventKind::Tls, "evil.example"));
        // Cut by the segment before the name, or inside it: no name.
        for cut in [60, ch.len() - 12] {
            let mut e = ev();
            assert_eq!(client_hello(&ch[..cut], &mut e), Some(Outcome::Event));
            assert_eq!(e.name, "");
        }
        // Without SNI; with a control byte in it.
        let mut e = ev();
        assert_eq!(
            client_hello(&hello(&[(10, vec![0, 0])]), &mut e),
            Some(Outcome::Event)
        );
        assert_eq!(e.name, "");
        let mut e = ev();
        client_hello(&hello(&[(0, sni(b"a\nb.example"))]), &mut e);
        assert_eq!(e.name, "a\\010b.example");
        // An extension longer than the extensions: malformed.
        let mut bad = hello(&[(0, sni(b"evil.example"))]);
        let at = bad.len() - sni(b"evil.example").len() - 2;
        bad[at] = 0x40;
        assert_eq!(
            client_hello(&bad, &mut ev()),
            Some(Outcome::Bad(MALFORMED_TLS))
        );
        // Not a ClientHello: a ServerHello, application data, HTTP.
        let mut sh = ch.clone();
        sh[5] = 2;
        for p in [
            &sh[..],
            &[23, 3, 3, 0, 5, 1, 2, 3, 4, 5],
            b"GET / HTTP/1.1\r\n",
        ] {
            assert_eq!(client_hello(p, &mut ev()), None);
        }
    }
}
