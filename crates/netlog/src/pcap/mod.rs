//! Packet captures: pcap and pcapng files read into the same [`Event`]s
//! as the logs: one per DNS lookup, HTTP request and TLS ClientHello.
//!
//! # What is read
//!
//! * Files: pcap in both byte orders, with microsecond or nanosecond
//!   time stamps; pcapng in both byte orders, with several sections,
//!   interfaces with their own link type, `if_tsresol` and
//!   `if_tsoffset`, enhanced, simple and (obsolete) packet blocks; other
//!   blocks are skipped.
//! * Link types: Ethernet (1; with 802.1Q, 802.1ad and QinQ tags; Linux's
//!   loopback as tcpdump captures it), raw IP (101, 228, 229), Linux
//!   cooked captures v1 (113) and v2 (276), BSD loopback (0, 108).
//! * IPv4 (with options) and IPv6 (with extension headers), UDP and TCP.
//!   No reassembly: the first fragment of a datagram is read as far as it
//!   goes (a DNS response keeps the answers it holds), a later fragment
//!   is `Ignored("IP fragment")`.
//! * DNS over UDP on port 53 (not 5353: mDNS is not lookups), and over
//!   TCP on port 53 when the whole message (after its two-byte length)
//!   is inside one segment, the first message of the segment only: there
//!   is no TCP reassembly, a message spread over segments is
//!   `Ignored("DNS over TCP message spans segments")`.
//! * HTTP: a TCP segment (any port) that begins with a request line
//!   `METHOD target HTTP/1.x`: kind `Http`, the Host header without its
//!   port as the name, the URL `http://HOST/PATH` (HOST as sent).
//! * TLS: a TCP segment (any port) that begins with a handshake record
//!   holding a ClientHello: kind `Tls`, its server_name as the name.
//!
//! # One event per lookup
//!
//! A query is held until its response (same client address and port,
//! server address and port, transport, transaction id and question):
//! then one event carries the query's time and packet number and the
//! response's answers. A query leaves without answers when it has waited
//! [`WINDOW_SECS`] seconds of capture time, when [`MAX_PENDING`] queries
//! wait (the oldest goes), when it is sent again, or at the end of the
//! capture (also before an error that ends it). A response whose query
//! is not in the capture is an event of its own, its destination as the
//! client. So events come out in the order they are complete, not
//! strictly in packet order; [`Capture::packet_number`] says which packet
//! each one is.
//!
//! # Hostile files
//!
//! No length from the file is trusted: a record or block longer than
//! 16 MiB, a block whose two lengths disagree, a pcapng block length that
//! is not a multiple of 4 end the stream with a [`CaptureError`] after
//! what came before (nothing after it can be framed); a packet cut short
//! by the file's end or by the snapshot length is
//! `Bad("truncated packet")`; a packet block that claims more data than
//! it holds, a packet of an undeclared interface, a malformed DNS
//! message, HTTP request or ClientHello are `Bad(reason)` and the stream
//! goes on. Memory is bounded by the largest record (16 MiB) and the
//! pending queries.
//!
//! # Libraries
//!
//! The network and transport layers are etherparse's (zero-copy slicing,
//! every length checked); the HTTP head is httparse's. The framing is
//! read here rather than with pcap-parser: it is a handful of fixed
//! fields, and pcap-parser's streaming reader needs a buffer sized for
//! the largest block up front, ends the whole stream on a packet block it
//! cannot parse, and leaves the interface bookkeeping (link type,
//! `if_tsresol`) and the telling of a cut packet from a corrupt length to
//! the caller anyway. DNS and the ClientHello are read here too; their
//! modules say why.

mod app;
mod dns;
mod file;
mod lookups;
mod packet;

use std::io::Read;

use crate::{Event, EventKind, Format, Outcome};
use file::{File, Record, TRUNCATED};
use lookups::{Key, Lookups};
use packet::{Flow, NOT_APP};

/// At most this many DNS queries wait for their response; when one more
/// comes, the oldest is returned without answers.
pub const MAX_PENDING: usize = 65_536;

/// A DNS query waits this long (in capture time) for its response.
pub const WINDOW_SECS: i64 = 30;

/// Ignored: a DNS-over-TCP message longer than its segment.
const TCP_SPANS: &str = "DNS over TCP message spans segments";

/// A capture that cannot be read on (see the module documentation).
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct CaptureError {
    /// What is wrong, for the report.
    pub reason: String,
}

/// A pcap or pcapng capture read packet by packet into events.
pub struct Capture<R: Read> {
    file: File<R>,
    lookups: Lookups,
    /// The packet number of the outcome last returned.
    last: u64,
    /// The input is over (its pending queries were sent out).
    ended: bool,
    /// The error that ended it, returned after those queries.
    error: Option<CaptureError>,
}

impl<R: Read> Capture<R> {
    /// Reads the file header of `r` (pcap) or its first section header
    /// (pcapng); an error when it is neither.
    pub fn new(r: R) -> Result<Capture<R>, CaptureError> {
        Ok(Capture {
            file: File::open(r)?,
            lookups: Lookups::new(MAX_PENDING, WINDOW_SECS * 1_000_000),
            last: 0,
            ended: false,
            error: None,
        })
    }

    /// [`Format::Pcap`] or [`Format::Pcapng`].
    pub fn format(&self) -> Format {
        self.file.format()
    }

    /// The number (from 1, as Wireshark counts frames) of the packet of
    /// the outcome last returned; for a lookup made of a query and its
    /// response, the query's.
    pub fn packet_number(&self) -> u64 {
        self.last
    }

    /// Reads on to the next outcome: `Event` with `ev` filled (cleared
    /// first), `Ignored` or `Bad` for a packet that gives no event (`ev`
    /// left clear); `Ok(None)` at the end; `Err` once when the rest of the
    /// stream cannot be read (then `Ok(None)`). The queries still waiting
    /// when the input ends come out (unanswered) before `Ok(None)` or the
    /// error, after the last packet's outcome (a file cut short: after
    /// its `Bad("truncated packet")`).
    pub fn next(&mut self, ev: &mut Event) -> Result<Option<Outcome>, CaptureError> {
        loop {
            if let Some(packet) = self.lookups.pop(ev) {
                self.last = packet;
                return Ok(Some(Outcome::Event));
            }
            if self.ended {
                return match self.error.take() {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
            let record = match self.file.next() {
                Ok(Some(r)) => r,
                Ok(None) => {
                    self.ended = true;
                    self.lookups.flush();
                    continue;
                }
                Err(e) => {
                    self.ended = true;
                    self.error = Some(e);
                    self.lookups.flush();
                    continue;
                }
            };
            ev.clear();
            let (number, linktype, time, data) = match record {
                Record::Bad { number, reason } => {
                    self.last = number;
                    return Ok(Some(Outcome::Bad(reason)));
                }
                Record::Packet {
                    number,
                    linktype,
                    time,
                    data,
                } => (number, linktype, time, data),
            };
            if let Some(t) = time {
                self.lookups.expire(t);
            }
            ev.time = time;
            if let Some((outcome, packet)) =
                read_packet(&mut self.lookups, linktype, data, number, ev)
            {
                if outcome != Outcome::Event {
                    ev.clear();
                }
                self.last = packet;
                return Ok(Some(outcome));
            }
        }
    }
}

/// The outcome of one packet and the packet number it belongs to; `None`
/// when it is a query now held for its response.
fn read_packet(
    lookups: &mut Lookups,
    linktype: u16,
    data: &[u8],
    number: u64,
    ev: &mut Event,
) -> Option<(Outcome, u64)> {
    let f = match packet::flow(linktype, data) {
        Ok(f) => f,
        Err(o) => return Some((o, number)),
    };
    let dns_port = f.sport == 53 || f.dport == 53;
    if !f.tcp {
        if dns_port {
            return dns(lookups, &f, f.payload, f.first_fragment, number, ev);
        }
        return Some((Outcome::Ignored(NOT_APP), number));
    }
    if f.payload.is_empty() {
        return Some((Outcome::Ignored(NOT_APP), number));
    }
    // The TLS and HTTP tests are strict enough to run before DNS on any
    // port: a DNS-over-TCP length cannot also read as a request line or
    // a ClientHello record header in practice.
    let app = app::client_hello(f.payload, ev).or_else(|| app::http(f.payload, f.dst, f.dport, ev));
    if let Some(outcome) = app {
        ev.client = Some(f.src);
        ev.server = Some(f.dst);
        ev.server_port = Some(f.dport);
        return Some((outcome, number));
    }
    if dns_port {
        let len = f
            .payload
            .get(..2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        let msg = len.and_then(|len| f.payload.get(2..2 + len));
        return match msg {
            Some(msg) => dns(lookups, &f, msg, false, number, ev),
            None => Some((Outcome::Ignored(TCP_SPANS), number)),
        };
    }
    Some((Outcome::Ignored(NOT_APP), number))
}

/// One DNS message: a query is held (`None`), a response is returned,
/// merged with its query when that is held.
fn dns(
    lookups: &mut Lookups,
    f: &Flow<'_>,
    msg: &[u8],
    cut: bool,
    number: u64,
    ev: &mut Event,
) -> Option<(Outcome, u64)> {
    let h = match dns::parse(msg, cut, TRUNCATED, ev) {
        Ok(Some(h)) => h,
        Ok(None) => return Some((Outcome::Ignored(dns::NOT_QUERY), number)),
        Err(reason) => return Some((Outcome::Bad(reason), number)),
    };
    ev.kind = EventKind::Dns;
    let (client, client_port, server, server_port) = if h.response {
        (f.dst, f.dport, f.src, f.sport)
    } else {
        (f.src, f.sport, f.dst, f.dport)
    };
    ev.client = Some(client);
    ev.server = Some(server);
    ev.server_port = Some(server_port);
    let key = Key {
        client,
        server,
        client_port,
        server_port,
        id: h.id,
        tcp: f.tcp,
    };
    if !h.response {
        lookups.hold(key, ev, number);
        ev.clear();
        return None;
    }
    match lookups.answer(&key, &ev.name, ev.qtype) {
        Some((time, query)) => {
            ev.time = time;
            Some((Outcome::Event, query))
        }
        None => Some((Outcome::Event, number)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random bytes after the starts the parsers look for (a request
    /// line, a ClientHello header, a DNS header) never panic.
    #[test]
    fn hostile_payloads_never_panic() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let starts: [&[u8]; 6] = [
            b"GET /",
            b"POST http://",
            b"CONNECT [",
            &[22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3],
            &[0x12, 0x34, 0x81, 0x80, 0, 1, 0, 9, 0, 0, 0, 0],
            &[0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0],
        ];
        let alphabet = b"/: \r\nHost.http\xC0\x0C\x00\x01\xE9\x03\x16";
        let mut ev = Event::default();
        let mut events = 0;
        for i in 0..200_000usize {
            let mut p = starts[i % starts.len()].to_vec();
            for _ in 0..rnd() % 300 {
                let r = rnd();
                p.push(if r % 3 == 0 {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                } else {
                    (r >> 16) as u8
                });
            }
            ev.clear();
            let srv = std::net::IpAddr::from([192, 0, 2, 1]);
            for o in [
                app::http(&p, srv, 80, &mut ev),
                app::client_hello(&p, &mut ev),
            ]
            .into_iter()
            .flatten()
            {
                events += usize::from(o == Outcome::Event);
            }
            for cut in [false, true] {
                ev.clear();
                if let Ok(Some(_)) = dns::parse(&p, cut, TRUNCATED, &mut ev) {
                    events += 1;
                    assert!(ev.answers.len() <= dns::MAX_ANSWERS);
                }
            }
        }
        assert!(events > 1000, "{events}");
    }
}
