//! Captures read by `takedown_netlog::pcap::Capture`, cross-checked
//! against Wireshark's own reading of the same files (`tshark -T fields`):
//! the same packets give the same lookups (names, clients, servers,
//! answers, TTLs, times), HTTP hosts and TLS server names.
//!
//! * Live captures of this machine's loopback, by tcpdump (pcap, micro-
//!   and nanoseconds) and dumpcap (pcapng) at the same time, of dig
//!   against a DNS server of this test on 127.0.0.1:53 and [::1]:53 (UDP
//!   and TCP), curl against an HTTP server and openssl s_client against a
//!   TCP listener, over IPv4 and IPv6. Needs root, tcpdump, dumpcap,
//!   tshark, dig, curl and openssl: without them the test skips with a
//!   message, except under CI, where it fails.
//! * Captures written here, byte by byte, for what loopback cannot give:
//!   802.1Q and QinQ tags, Linux cooked v1 and v2, BSD loopback, raw IP,
//!   big-endian files, pcapng sections of both byte orders with
//!   `if_tsresol`, IPv6 extension headers, DNS over TCP, fragments, a
//!   file cut short, a corrupt block length, a compression loop, a name
//!   over 255 bytes, the pending-query window and table.
//! * `reading_speed` (ignored; run by hand in release mode) times a
//!   million DNS packets.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use takedown_netlog::pcap::Capture;
use takedown_netlog::{AnswerData, Event, EventKind, Format, Outcome};

// ---------------------------------------------------------------------
// Reading with Capture.

/// One outcome of a capture, with its packet number.
#[derive(Clone, Debug)]
struct Out {
    number: u64,
    outcome: Outcome,
    ev: Event,
}

/// Every outcome of `bytes`, and the error that ended it, if any.
fn read_all(bytes: &[u8]) -> (Format, Vec<Out>, Option<String>) {
    let mut cap = Capture::new(bytes).expect("a capture");
    let format = cap.format();
    let mut out = Vec::new();
    let mut ev = Event::default();
    let mut error = None;
    loop {
        match cap.next(&mut ev) {
            Ok(Some(outcome)) => out.push(Out {
                number: cap.packet_number(),
                outcome,
                ev: ev.clone(),
            }),
            Ok(None) => break,
            Err(e) => {
                assert!(error.is_none(), "a second error");
                error = Some(e.reason);
            }
        }
    }
    // After the end, the end again.
    assert!(matches!(cap.next(&mut ev), Ok(None)));
    (format, out, error)
}

fn events(outs: &[Out]) -> Vec<&Out> {
    outs.iter()
        .filter(|o| o.outcome == Outcome::Event)
        .collect()
}

fn bad(outs: &[Out]) -> Vec<(u64, &'static str)> {
    outs.iter()
        .filter_map(|o| match o.outcome {
            Outcome::Bad(r) => Some((o.number, r)),
            _ => None,
        })
        .collect()
}

fn addrs(ev: &Event) -> Vec<IpAddr> {
    ev.answers
        .iter()
        .filter_map(|a| match a.data {
            AnswerData::Addr(ip) => Some(ip),
            AnswerData::Name(_) => None,
        })
        .collect()
}

fn names(ev: &Event) -> Vec<String> {
    ev.answers
        .iter()
        .filter_map(|a| match &a.data {
            AnswerData::Name(n) => Some(n.clone()),
            AnswerData::Addr(_) => None,
        })
        .collect()
}

// ---------------------------------------------------------------------
// Outside tools.

/// The tool's path (PATH and the sbin directories). Missing: a message
/// and `None`, except under CI, where that fails.
fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    let found = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file());
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "{name} is required under CI"
    );
    if found.is_none() {
        eprintln!("skipped: {name} is not installed");
    }
    found
}

/// Skips (or fails under CI) for a reason other than a missing tool.
fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "under CI: {why}");
    eprintln!("skipped: {why}");
}

/// One frame as tshark reads it.
#[derive(Debug, Default)]
struct Row {
    number: u64,
    time: i64,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: Option<u16>,
    dport: Option<u16>,
    tcp: bool,
    response: Option<bool>,
    id: Option<u16>,
    qname: Option<String>,
    qtype: Option<u16>,
    addrs: Vec<IpAddr>,
    cnames: Vec<String>,
    ttls: Vec<u32>,
    host: Option<String>,
    sni: Option<String>,
}

const FIELDS: [&str; 20] = [
    "frame.number",
    "frame.time_epoch",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "udp.srcport",
    "udp.dstport",
    "tcp.srcport",
    "tcp.dstport",
    "dns.flags.response",
    "dns.id",
    "dns.qry.name",
    "dns.qry.type",
    "dns.a",
    "dns.aaaa",
    "dns.cname",
    "dns.resp.ttl",
    "http.host",
    "tls.handshake.extensions_server_name",
];

/// `1733515000.123456789` in microseconds.
fn epoch_micros(s: &str) -> i64 {
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut frac: String = frac.chars().take(6).collect();
    while frac.len() < 6 {
        frac.push('0');
    }
    sec.parse::<i64>().unwrap() * 1_000_000 + frac.parse::<i64>().unwrap()
}

fn first<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.split(',').next().filter(|v| !v.is_empty())?.parse().ok()
}

fn all<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split(',')
        .filter(|v| !v.is_empty())
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// tshark's reading of `path`, TCP segments one by one (as Capture reads
/// them), `extra` options such as decode-as.
fn tshark(path: &Path, extra: &[String]) -> Vec<Row> {
    let bin = tool("tshark").expect("checked by the caller");
    let mut cmd = Command::new(bin);
    cmd.arg("-n")
        .arg("-r")
        .arg(path)
        .args(["-o", "tcp.desegment_tcp_streams:FALSE"])
        .args(["-o", "ip.defragment:FALSE"])
        .args(["-o", "ipv6.defragment:FALSE"])
        .args(extra)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.stderr(Stdio::null()).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), FIELDS.len(), "tshark line {line:?}");
        let flag = |s: &str| match s {
            "" => None,
            "1" | "True" | "true" => Some(true),
            _ => Some(false),
        };
        let id = f[11].split(',').next().and_then(|v| {
            v.strip_prefix("0x")
                .map(|h| u16::from_str_radix(h, 16).ok())
                .unwrap_or_else(|| v.parse().ok())
        });
        let mut addrs: Vec<IpAddr> = all(f[14]);
        addrs.extend(all::<IpAddr>(f[15]));
        let udp = !f[6].is_empty();
        rows.push(Row {
            number: f[0].parse().unwrap(),
            time: epoch_micros(f[1]),
            src: first(f[2]).or_else(|| first(f[3])),
            dst: first(f[4]).or_else(|| first(f[5])),
            sport: if udp { first(f[6]) } else { first(f[8]) },
            dport: if udp { first(f[7]) } else { first(f[9]) },
            tcp: !udp && !f[8].is_empty(),
            response: flag(f[10].split(',').next().unwrap_or("")),
            id,
            qname: f[12]
                .split(',')
                .next()
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            qtype: first(f[13]),
            addrs,
            cnames: all(f[16]),
            ttls: all(f[17]),
            host: Some(f[18].to_string()).filter(|v| !v.is_empty()),
            sni: Some(f[19].to_string()).filter(|v| !v.is_empty()),
        });
    }
    rows
}

/// What both sides are compared on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    number: u64,
    kind: &'static str,
    time: Option<i64>,
    client: Option<IpAddr>,
    server: Option<IpAddr>,
    name: String,
    qtype: u16,
    addrs: Vec<IpAddr>,
    names: Vec<String>,
    ttls: Vec<u32>,
}

fn seen_of(o: &Out) -> Seen {
    let ev = &o.ev;
    let mut s = Seen {
        number: o.number,
        kind: ev.kind.as_str(),
        time: ev.time,
        client: ev.client,
        server: ev.server,
        name: ev.name.clone(),
        qtype: ev.qtype,
        addrs: addrs(ev),
        names: names(ev),
        ttls: ev.answers.iter().filter_map(|a| a.ttl).collect(),
    };
    s.addrs.sort();
    s.names.sort();
    s.ttls.sort();
    s
}

/// The events tshark's rows imply: one per lookup (query and response
/// merged as Capture merges them), HTTP request and ClientHello.
fn expected(rows: &[Row]) -> Vec<Seen> {
    type Key = (IpAddr, u16, IpAddr, u16, u16, bool);
    let times: HashMap<u64, i64> = rows.iter().map(|r| (r.number, r.time)).collect();
    let mut out: Vec<Seen> = Vec::new();
    let mut pending: HashMap<Key, usize> = HashMap::new();
    for r in rows {
        let (Some(src), Some(dst), Some(sport), Some(dport)) = (r.src, r.dst, r.sport, r.dport)
        else {
            continue;
        };
        let base = Seen {
            number: r.number,
            kind: "",
            time: Some(r.time),
            client: Some(src),
            server: Some(dst),
            name: String::new(),
            qtype: 0,
            addrs: vec![],
            names: vec![],
            ttls: vec![],
        };
        if let Some(sni) = &r.sni {
            out.push(Seen {
                kind: "tls",
                name: sni.clone(),
                ..base
            });
        } else if let Some(host) = &r.host {
            let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
            out.push(Seen {
                kind: "http",
                name: name.to_string(),
                ..base
            });
        } else if let (Some(name), Some(id), Some(response)) = (&r.qname, r.id, r.response) {
            if sport != 53 && dport != 53 {
                continue;
            }
            let qtype = r.qtype.unwrap_or(0);
            if !response {
                pending.insert((src, sport, dst, dport, id, r.tcp), out.len());
                out.push(Seen {
                    kind: "dns",
                    name: name.clone(),
                    qtype,
                    ..base
                });
                continue;
            }
            let mut addrs = r.addrs.clone();
            addrs.sort();
            let mut cnames = r.cnames.clone();
            cnames.sort();
            let mut ttls = r.ttls.clone();
            ttls.sort();
            let key = (dst, dport, src, sport, id, r.tcp);
            match pending.get(&key) {
                Some(&i) if out[i].name.eq_ignore_ascii_case(name) && out[i].qtype == qtype => {
                    pending.remove(&key);
                    let q = &mut out[i];
                    q.time = times.get(&q.number).copied();
                    (q.addrs, q.names, q.ttls) = (addrs, cnames, ttls);
                }
                _ => out.push(Seen {
                    kind: "dns",
                    client: Some(dst),
                    server: Some(src),
                    name: name.clone(),
                    qtype,
                    addrs,
                    names: cnames,
                    ttls,
                    ..base
                }),
            }
        }
    }
    out.sort();
    out
}

/// Reads `bytes` (written to `path`) with Capture and with tshark and
/// insists on the same events. The packets Capture finds bad must be
/// exactly `bad` (they are left out of tshark's side, which may read
/// parts of them). The outcomes, for more checks.
fn cross_check(
    path: &Path,
    bytes: &[u8],
    extra: &[String],
    bad_expected: &[(u64, &str)],
) -> Vec<Out> {
    let (_, outs, _) = read_all(bytes);
    assert_eq!(bad(&outs), bad_expected, "{}", path.display());
    if tool("tshark").is_none() {
        return outs;
    }
    let rows: Vec<Row> = tshark(path, extra)
        .into_iter()
        .filter(|r| !bad_expected.iter().any(|(n, _)| *n == r.number))
        .collect();
    let want = expected(&rows);
    let mut got: Vec<Seen> = events(&outs).into_iter().map(seen_of).collect();
    got.sort();
    assert_eq!(
        got,
        want,
        "{}: Capture (left) and tshark (right) differ",
        path.display()
    );
    outs
}

// ---------------------------------------------------------------------
// Writing captures.

fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for p in parts {
        for c in p.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            sum += u32::from(w);
        }
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 header (fragment field `frag`: flags and offset) and payload.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = checksum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// An IPv6 header, the extension headers `ext` (already chained, the
/// first one's type `next`), and payload.
fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, ext: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&((ext.len() + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(ext);
    h.extend_from_slice(payload);
    h
}

fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => panic!("mixed families"),
    }
    p
}

fn ip(src: IpAddr, dst: IpAddr, proto: u8, l4: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(s, d, proto, 0x4000, l4),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(s, d, proto, &[], l4),
        _ => panic!("mixed families"),
    }
}

fn udp_seg(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let c = checksum(&[&pseudo(src, dst, 17, u.len()), &u]);
    u[6..8].copy_from_slice(&(if c == 0 { 0xFFFF } else { c }).to_be_bytes());
    u
}

/// A UDP datagram in an IP packet.
fn udp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, payload: &[u8]) -> Vec<u8> {
    ip(src, dst, 17, &udp_seg(src, dst, sport, dport, payload))
}

/// A TCP segment (PSH, ACK) in an IP packet.
fn tcp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&1000u32.to_be_bytes());
    t.extend_from_slice(&2000u32.to_be_bytes());
    t.extend_from_slice(&[0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    let c = checksum(&[&pseudo(src, dst, 6, t.len()), &t]);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    ip(src, dst, 6, &t)
}

/// An Ethernet frame with VLAN tags `(TPID, VLAN id)`, outermost first.
fn eth(tags: &[(u16, u16)], packet: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    for (tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&ethertype(packet).to_be_bytes());
    f.extend_from_slice(packet);
    f
}

fn ethertype(packet: &[u8]) -> u16 {
    if packet[0] >> 4 == 6 { 0x86DD } else { 0x0800 }
}

/// Linux cooked capture v1 (LINKTYPE_LINUX_SLL): packet type 0 (to us),
/// ARPHRD_ETHER, a 6-byte address.
fn sll(packet: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    f.extend_from_slice(&ethertype(packet).to_be_bytes());
    f.extend_from_slice(packet);
    f
}

/// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2).
fn sll2(packet: &[u8]) -> Vec<u8> {
    let mut f = ethertype(packet).to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    f.extend_from_slice(packet);
    f
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in name.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend(encode_name(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m
}

enum Rr {
    A(Ipv4Addr, u32),
    Aaaa(Ipv6Addr, u32),
    Cname(&'static str, u32),
}

/// A response (owner names point to the question).
fn dns_response(id: u16, name: &str, qtype: u16, rcode: u8, answers: &[Rr]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1]);
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend(encode_name(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    for rr in answers {
        m.extend_from_slice(&[0xC0, 12]);
        let (t, ttl, data) = match rr {
            Rr::A(a, ttl) => (1u16, ttl, a.octets().to_vec()),
            Rr::Aaaa(a, ttl) => (28, ttl, a.octets().to_vec()),
            Rr::Cname(n, ttl) => (5, ttl, encode_name(n)),
        };
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend(data);
    }
    m
}

/// A TLS 1.2-style ClientHello record with the server_name `sni`.
fn client_hello(sni: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    // supported_groups, then server_name.
    ext.extend_from_slice(&[0, 10, 0, 4, 0, 2, 0, 29]);
    let n = sni.as_bytes();
    ext.extend_from_slice(&[0, 0]);
    ext.extend_from_slice(&((n.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(n.len() as u16).to_be_bytes());
    ext.extend_from_slice(n);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x5A; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0xC0, 0x2F, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

/// A pcap file being written.
struct Pcap {
    buf: Vec<u8>,
    be: bool,
    nanos: bool,
}

impl Pcap {
    fn new(be: bool, nanos: bool, linktype: u32) -> Pcap {
        let mut p = Pcap {
            buf: Vec::new(),
            be,
            nanos,
        };
        p.u32(if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 });
        p.u16(2);
        p.u16(4);
        p.u32(0);
        p.u32(0);
        p.u32(262_144);
        p.u32(linktype);
        p
    }
    fn u16(&mut self, v: u16) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
    /// A packet at `us` microseconds, the first `caplen` bytes kept.
    fn cut(&mut self, us: i64, data: &[u8], caplen: usize) {
        self.u32((us / 1_000_000) as u32);
        let frac = (us % 1_000_000) as u32;
        self.u32(if self.nanos { frac * 1000 + 7 } else { frac });
        self.u32(caplen as u32);
        self.u32(data.len() as u32);
        self.buf.extend_from_slice(&data[..caplen]);
    }
    fn packet(&mut self, us: i64, data: &[u8]) {
        self.cut(us, data, data.len());
    }
}

/// A pcapng file being written.
struct Ng {
    buf: Vec<u8>,
    be: bool,
}

impl Ng {
    fn new(be: bool) -> Ng {
        let mut n = Ng {
            buf: Vec::new(),
            be,
        };
        n.section(be);
        n
    }
    fn w32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn w16(&self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, btype: u32, body: &[u8]) {
        let pad = body.len().next_multiple_of(4);
        let len = (12 + pad) as u32;
        let (t, l) = (self.w32(btype), self.w32(len));
        self.buf.extend_from_slice(&t);
        self.buf.extend_from_slice(&l);
        self.buf.extend_from_slice(body);
        self.buf.resize(self.buf.len() + pad - body.len(), 0);
        self.buf.extend_from_slice(&l);
    }
    fn section(&mut self, be: bool) {
        self.be = be;
        let mut body = self.w32(0x1A2B_3C4D).to_vec();
        body.extend_from_slice(&self.w16(1));
        body.extend_from_slice(&self.w16(0));
        body.extend_from_slice(&[0xFF; 8]);
        self.block(0x0A0D_0D0A, &body);
    }
    fn interface(&mut self, linktype: u16, tsresol: Option<u8>) {
        let mut body = self.w16(linktype).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.w32(0));
        if let Some(r) = tsresol {
            body.extend_from_slice(&self.w16(9));
            body.extend_from_slice(&self.w16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
        }
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.block(1, &body);
    }
    /// An enhanced packet block, time stamp in the interface's units.
    fn epb(&mut self, iface: u32, ts: u64, data: &[u8]) {
        let mut body = Vec::new();
        for v in [
            iface,
            (ts >> 32) as u32,
            ts as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            body.extend_from_slice(&self.w32(v));
        }
        body.extend_from_slice(data);
        self.block(6, &body);
    }
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const T0: i64 = 1_733_515_000_000_000;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

// ---------------------------------------------------------------------
// Captures written here.

/// 802.1Q, QinQ, cooked v1 and v2, IPv6 extension headers, DNS over TCP,
/// HTTP and TLS in one pcapng file of two sections (little- then
/// big-endian), with nanosecond and 2^-20 s interfaces.
#[test]
fn link_layers_and_sections_cross_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (c4, s4) = (addr("10.1.0.5"), addr("10.1.0.53"));
    let (c6, s6) = (addr("2001:db8::5"), addr("2001:db8::53"));
    let mut ng = Ng::new(false);
    ng.interface(1, None); // Ethernet, microseconds
    ng.interface(113, Some(9)); // SLL, nanoseconds
    ng.interface(276, None); // SLL2
    let us = T0 as u64;
    // 1, 2: a lookup over 802.1Q, its answer over QinQ.
    let q = dns_query(0x0101, "a.vlan.example", 1);
    ng.epb(0, us, &eth(&[(0x8100, 10)], &udp(c4, 40001, s4, 53, &q)));
    let r = dns_response(
        0x0101,
        "a.vlan.example",
        1,
        0,
        &[
            Rr::Cname("edge.cdn.example", 3600),
            Rr::A(Ipv4Addr::new(192, 0, 2, 10), 60),
        ],
    );
    ng.epb(
        0,
        us + 1500,
        &eth(&[(0x88A8, 100), (0x8100, 20)], &udp(s4, 53, c4, 40001, &r)),
    );
    // 3, 4: AAAA over IPv6 in cooked v1, nanosecond time stamps.
    let q = dns_query(0x0202, "six.sll.example", 28);
    ng.epb(
        1,
        (T0 as u64 + 2_000_000) * 1000 + 123,
        &sll(&udp(c6, 40002, s6, 53, &q)),
    );
    let r = dns_response(
        0x0202,
        "six.sll.example",
        28,
        0,
        &[Rr::Aaaa("2001:db8::66".parse().unwrap(), 30)],
    );
    ng.epb(
        1,
        (T0 as u64 + 2_100_000) * 1000,
        &sll(&udp(s6, 53, c6, 40002, &r)),
    );
    // 5, 6: DNS over TCP in cooked v2 (length prefix, one segment each).
    let mut q = dns_query(0x0303, "tcp.sll2.example", 1);
    q.splice(0..0, (q.len() as u16).to_be_bytes());
    ng.epb(2, us + 3_000_000, &sll2(&tcp(c4, 40003, s4, 53, &q)));
    let mut r = dns_response(
        0x0303,
        "tcp.sll2.example",
        1,
        0,
        &[Rr::A(Ipv4Addr::new(192, 0, 2, 30), 5)],
    );
    r.splice(0..0, (r.len() as u16).to_be_bytes());
    ng.epb(2, us + 3_000_500, &sll2(&tcp(s4, 53, c4, 40003, &r)));
    // 7: IPv6 with hop-by-hop and destination options before UDP; no
    // response in the capture.
    let q = dns_query(0x0404, "ext.v6.example", 28);
    let u = udp_seg(c6, s6, 40004, 53, &q);
    // Hop-by-hop (next: destination options), destination options
    // (next: UDP), each padded to 8 bytes by a PadN option.
    let ext = [60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0];
    let (IpAddr::V6(c6a), IpAddr::V6(s6a)) = (c6, s6) else {
        unreachable!()
    };
    ng.epb(0, us + 4_000_000, &eth(&[], &ipv6(c6a, s6a, 0, &ext, &u)));
    // 8: mDNS is not a lookup here.
    let q = dns_query(0, "printer.local", 1);
    ng.epb(
        0,
        us + 4_500_000,
        &eth(&[], &udp(c4, 5353, addr("224.0.0.251"), 5353, &q)),
    );
    // Second section, big-endian, raw IP, 2^-20 s units.
    ng.section(true);
    ng.interface(101, Some(0x80 | 20));
    let t2 = ((T0 / 1_000_000 + 10) as u64) << 20;
    // 9: HTTP, 10: TLS.
    let req = b"GET /gate.php?id=7 HTTP/1.1\r\nHost: evil.example\r\nAccept: */*\r\n\r\n";
    ng.epb(0, t2, &tcp(c4, 40005, addr("198.51.100.7"), 80, req));
    ng.epb(
        0,
        t2 + (1 << 19),
        &tcp(
            c6,
            40006,
            addr("2001:db8::443"),
            443,
            &client_hello("tls.evil.example"),
        ),
    );
    let path = write(dir.path(), "links.pcapng", &ng.buf);
    let outs = cross_check(&path, &ng.buf, &[], &[]);
    let ev = events(&outs);
    let find = |name: &str| {
        ev.iter()
            .find(|o| o.ev.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let a = find("a.vlan.example");
    assert_eq!(
        (a.number, a.ev.time, a.ev.client, a.ev.server),
        (1, Some(T0), Some(c4), Some(s4))
    );
    assert_eq!(addrs(&a.ev), vec![addr("192.0.2.10")]);
    assert_eq!(names(&a.ev), vec!["edge.cdn.example".to_string()]);
    assert_eq!(find("six.sll.example").ev.time, Some(T0 + 2_000_000));
    assert_eq!(
        addrs(&find("tcp.sll2.example").ev),
        vec![addr("192.0.2.30")]
    );
    let ext = find("ext.v6.example");
    assert!(ext.ev.answers.is_empty());
    assert_eq!(ext.number, 7);
    let http = find("evil.example");
    assert_eq!(http.ev.kind, EventKind::Http);
    assert_eq!(http.ev.url, "http://evil.example/gate.php?id=7");
    assert_eq!(http.ev.time, Some(T0 + 10_000_000));
    assert_eq!(http.ev.server_port, Some(80));
    let tls = ev.iter().find(|o| o.ev.kind == EventKind::Tls).unwrap();
    assert_eq!((tls.number, tls.ev.name.as_str()), (10, "tls.evil.example"));
    assert_eq!(tls.ev.time, Some(T0 + 10_500_000));
    assert_eq!(ev.len(), 6);
    assert!(
        outs.iter()
            .any(|o| o.number == 8 && o.outcome == Outcome::Ignored("not DNS, HTTP or TLS"))
    );
}

/// pcap in both byte orders and both precisions, over Ethernet, BSD
/// loopback (0, 108) and raw IP (101, 228, 229).
#[test]
fn pcap_orders_precisions_and_links_cross_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (c, s) = (addr("192.168.7.2"), addr("192.168.7.1"));
    let (c6, s6) = (addr("fd00::2"), addr("fd00::1"));
    for (i, (be, nanos, linktype)) in [
        (false, false, 1u32),
        (true, false, 1),
        (false, true, 1),
        (true, true, 101),
        (false, false, 0),
        (true, false, 108),
        (false, true, 228),
        (true, true, 229),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = Pcap::new(be, nanos, linktype);
        let (cl, sv) = if linktype == 229 { (c6, s6) } else { (c, s) };
        let frame = |pkt: Vec<u8>| -> Vec<u8> {
            match linktype {
                1 => eth(&[], &pkt),
                0 => {
                    let mut f = 2u32.to_le_bytes().to_vec();
                    f.extend(pkt);
                    f
                }
                108 => {
                    let mut f = 2u32.to_be_bytes().to_vec();
                    f.extend(pkt);
                    f
                }
                _ => pkt,
            }
        };
        let name = format!("n{i}.order.example");
        let t = T0 + i as i64 * 1_000_003;
        p.packet(t, &frame(udp(cl, 33000, sv, 53, &dns_query(7, &name, 1))));
        let r = dns_response(
            7,
            &name,
            1,
            0,
            &[Rr::A(Ipv4Addr::new(203, 0, 113, i as u8), 100 + i as u32)],
        );
        p.packet(t + 250, &frame(udp(sv, 53, cl, 33000, &r)));
        let req = b"GET / HTTP/1.0\r\nHost: web.order.example:8080\r\n\r\n";
        p.packet(t + 900, &frame(tcp(cl, 33001, sv, 80, req)));
        let path = write(dir.path(), &format!("{i}.pcap"), &p.buf);
        let outs = cross_check(&path, &p.buf, &[], &[]);
        let ev = events(&outs);
        assert_eq!(ev.len(), 2, "{i}");
        assert_eq!(
            (ev[0].number, ev[0].ev.time, ev[0].ev.name.as_str()),
            (1, Some(t), name.as_str())
        );
        assert_eq!(ev[0].ev.answers[0].ttl, Some(100 + i as u32));
        assert_eq!(ev[1].ev.name, "web.order.example");
        assert_eq!(ev[1].ev.url, "http://web.order.example:8080/");
        assert_eq!(read_all(&p.buf).0, Format::Pcap);
    }
}

/// A packet cut by the snapshot length, a file cut in its last packet.
#[test]
fn truncated_packets_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let (c, s) = (addr("10.9.0.2"), addr("10.9.0.1"));
    let mut p = Pcap::new(false, false, 1);
    let q = eth(
        &[],
        &udp(c, 1111, s, 53, &dns_query(1, "one.cut.example", 1)),
    );
    p.packet(T0, &q);
    let r = dns_response(
        1,
        "one.cut.example",
        1,
        0,
        &[Rr::A(Ipv4Addr::new(192, 0, 2, 1), 9)],
    );
    p.packet(T0 + 10, &eth(&[], &udp(s, 53, c, 1111, &r)));
    // Snapshot length of 60 bytes: the UDP payload is cut.
    let q2 = eth(
        &[],
        &udp(c, 2222, s, 53, &dns_query(2, "two.cut.example", 1)),
    );
    p.cut(T0 + 20, &q2, 60);
    let q3 = eth(
        &[],
        &udp(c, 3333, s, 53, &dns_query(3, "three.cut.example", 1)),
    );
    p.packet(T0 + 30, &q3);
    let whole = p.buf.clone();
    // The file ends 5 bytes before the end of the last packet.
    let cut = &whole[..whole.len() - 5];
    let path = write(dir.path(), "cut.pcap", cut);
    let outs = cross_check(
        &path,
        cut,
        &[],
        &[(3, "truncated packet"), (4, "truncated packet")],
    );
    let (_, _, error) = read_all(cut);
    assert_eq!(error, None);
    assert_eq!(events(&outs).len(), 1);
    // The file's end comes last: the truncated packet, then the end.
    assert_eq!(
        outs.last().unwrap().outcome,
        Outcome::Bad("truncated packet")
    );
}

/// A corrupt pcapng block length ends the stream after what came before,
/// the pending query included.
#[test]
fn corrupt_block_length() {
    let dir = tempfile::tempdir().unwrap();
    let (c, s) = (addr("10.8.0.2"), addr("10.8.0.1"));
    let mut ng = Ng::new(false);
    ng.interface(1, None);
    let r = dns_response(
        5,
        "before.corrupt.example",
        1,
        0,
        &[Rr::A(Ipv4Addr::new(192, 0, 2, 5), 1)],
    );
    ng.epb(0, T0 as u64, &eth(&[], &udp(s, 53, c, 5555, &r)));
    ng.epb(
        0,
        T0 as u64 + 1,
        &eth(
            &[],
            &udp(c, 5556, s, 53, &dns_query(6, "held.corrupt.example", 1)),
        ),
    );
    let at = ng.buf.len();
    ng.epb(
        0,
        T0 as u64 + 2,
        &eth(
            &[],
            &udp(c, 5557, s, 53, &dns_query(7, "after.corrupt.example", 1)),
        ),
    );
    ng.epb(
        0,
        T0 as u64 + 3,
        &eth(
            &[],
            &udp(c, 5558, s, 53, &dns_query(8, "never.corrupt.example", 1)),
        ),
    );
    for len in [0x7FFF_FFF0u32, 13, 8] {
        let mut bytes = ng.buf.clone();
        bytes[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
        let (_, outs, error) = read_all(&bytes);
        assert_eq!(
            error.as_deref(),
            Some("corrupt pcapng block length"),
            "{len}"
        );
        let names: Vec<&str> = events(&outs).iter().map(|o| o.ev.name.as_str()).collect();
        assert_eq!(names, ["before.corrupt.example", "held.corrupt.example"]);
        let path = write(dir.path(), "corrupt.pcapng", &bytes);
        cross_check(&path, &bytes, &[], &[]);
    }
    // A trailer that disagrees with the header.
    let mut bytes = ng.buf.clone();
    let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    bytes[at + len - 4..at + len].copy_from_slice(&(len as u32 + 4).to_le_bytes());
    let (_, outs, error) = read_all(&bytes);
    assert!(error.is_some());
    assert_eq!(events(&outs).len(), 2);
}

/// A compression loop, a forward pointer and a 320-byte name are
/// malformed messages; the capture goes on.
#[test]
fn hostile_dns_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (c, s) = (addr("10.7.0.2"), addr("10.7.0.1"));
    let mut p = Pcap::new(false, false, 1);
    // 1: the question name is a pointer to itself.
    let mut lp = dns_response(9, "x.example", 1, 0, &[]);
    lp.truncate(12);
    lp.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
    p.packet(T0, &eth(&[], &udp(s, 53, c, 999, &lp)));
    // 2: two answers whose owner names point at each other.
    let mut two = dns_response(10, "loop.example", 1, 0, &[]);
    two[7] = 2;
    let a = two.len();
    two.extend_from_slice(&[
        0xC0,
        (a + 14) as u8,
        0,
        5,
        0,
        1,
        0,
        0,
        0,
        1,
        0,
        2,
        0xC0,
        a as u8,
    ]);
    two.extend_from_slice(&[
        0xC0,
        a as u8,
        0,
        5,
        0,
        1,
        0,
        0,
        0,
        1,
        0,
        2,
        0xC0,
        (a + 14) as u8,
    ]);
    p.packet(T0 + 1, &eth(&[], &udp(s, 53, c, 998, &two)));
    // 3: five labels of 63 bytes (320 in wire form).
    let label = "a".repeat(63);
    let long = [label.as_str(); 5].join(".");
    p.packet(
        T0 + 2,
        &eth(&[], &udp(c, 997, s, 53, &dns_query(11, &long, 1))),
    );
    // 4: 65,535 answers announced, one present.
    let mut many = dns_response(
        12,
        "many.example",
        1,
        0,
        &[Rr::A(Ipv4Addr::new(192, 0, 2, 4), 4)],
    );
    many[6..8].copy_from_slice(&u16::MAX.to_be_bytes());
    p.packet(T0 + 3, &eth(&[], &udp(s, 53, c, 996, &many)));
    // 5: a good one after them.
    p.packet(
        T0 + 4,
        &eth(&[], &udp(c, 995, s, 53, &dns_query(13, "fine.example", 1))),
    );
    let path = write(dir.path(), "hostile.pcap", &p.buf);
    let m = "malformed DNS message";
    let outs = cross_check(&path, &p.buf, &[], &[(1, m), (2, m), (3, m), (4, m)]);
    let ev = events(&outs);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].ev.name, "fine.example");
}

/// Fragments: the first one's DNS answers that fit are kept, later ones
/// are ignored.
#[test]
fn ip_fragments() {
    let (c, s) = (Ipv4Addr::new(10, 6, 0, 2), Ipv4Addr::new(10, 6, 0, 1));
    let mut p = Pcap::new(false, false, 101);
    p.packet(
        T0,
        &udp(
            c.into(),
            4444,
            s.into(),
            53,
            &dns_query(77, "frag.example", 1),
        ),
    );
    let answers: Vec<Rr> = (0..40)
        .map(|i| Rr::A(Ipv4Addr::new(192, 0, 2, i), 60))
        .collect();
    let r = dns_response(77, "frag.example", 1, 0, &answers);
    let seg = udp_seg(c.into(), s.into(), 53, 4444, &r);
    // 8 + 12 + 18 + 16 * 15 = 278: the first 15 answers fit in 280 bytes.
    p.packet(T0 + 10, &ipv4(s, c, 17, 0x2000, &seg[..280]));
    p.packet(T0 + 11, &ipv4(s, c, 17, 280 / 8, &seg[280..]));
    let (_, outs, _) = read_all(&p.buf);
    assert_eq!(outs.len(), 2);
    assert_eq!((outs[0].number, outs[0].ev.answers.len()), (1, 15));
    assert_eq!(outs[0].ev.name, "frag.example");
    assert_eq!(
        (outs[1].number, outs[1].outcome),
        (3, Outcome::Ignored("IP fragment"))
    );
}

/// The pending table: a query unanswered for 30 s of capture time goes
/// out before the end, and its late response is an event of its own; a
/// retried query gives two lookups; a full table sends out its oldest.
#[test]
fn pending_queries() {
    let (c, s) = (addr("10.5.0.2"), addr("10.5.0.1"));
    let mut p = Pcap::new(false, false, 101);
    let a = dns_response(
        1,
        "slow.example",
        1,
        0,
        &[Rr::A(Ipv4Addr::new(192, 0, 2, 1), 1)],
    );
    let b = dns_response(
        2,
        "quick.example",
        1,
        0,
        &[Rr::A(Ipv4Addr::new(192, 0, 2, 2), 2)],
    );
    p.packet(T0, &udp(c, 1001, s, 53, &dns_query(1, "slow.example", 1)));
    p.packet(
        T0 + 40_000_000,
        &udp(c, 1002, s, 53, &dns_query(2, "quick.example", 1)),
    );
    p.packet(T0 + 40_100_000, &udp(s, 53, c, 1002, &b));
    p.packet(T0 + 41_000_000, &udp(s, 53, c, 1001, &a));
    // A retry: the first copy unanswered, the second answered.
    let r = dns_response(
        3,
        "retry.example",
        1,
        0,
        &[Rr::A(Ipv4Addr::new(192, 0, 2, 3), 3)],
    );
    p.packet(
        T0 + 42_000_000,
        &udp(c, 1003, s, 53, &dns_query(3, "retry.example", 1)),
    );
    p.packet(
        T0 + 43_000_000,
        &udp(c, 1003, s, 53, &dns_query(3, "retry.example", 1)),
    );
    p.packet(T0 + 43_000_100, &udp(s, 53, c, 1003, &r));
    let (_, outs, _) = read_all(&p.buf);
    let got: Vec<(u64, &str, usize, Option<IpAddr>)> = outs
        .iter()
        .map(|o| {
            (
                o.number,
                o.ev.name.as_str(),
                o.ev.answers.len(),
                o.ev.client,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "slow.example", 0, Some(c)),
            (2, "quick.example", 1, Some(c)),
            (4, "slow.example", 1, Some(c)),
            (5, "retry.example", 0, Some(c)),
            (6, "retry.example", 1, Some(c)),
        ]
    );
    assert_eq!(outs[2].ev.time, Some(T0 + 41_000_000));
    assert_eq!(outs[1].ev.time, Some(T0 + 40_000_000));

    // 65,537 queries without answers, then the answer to the first: it
    // left the table when the 65,537th came, so the answer stands alone.
    let mut p = Pcap::new(false, false, 101);
    let n = takedown_netlog::pcap::MAX_PENDING as u32 + 1;
    for i in 0..n {
        let port = 1024 + (i % 60_000) as u16;
        let id = (i / 60_000) as u16;
        p.packet(
            T0 + i64::from(i),
            &udp(c, port, s, 53, &dns_query(id, "full.example", 1)),
        );
    }
    let r = dns_response(
        0,
        "full.example",
        1,
        0,
        &[Rr::A(Ipv4Addr::new(192, 0, 2, 9), 9)],
    );
    p.packet(T0 + i64::from(n), &udp(s, 53, c, 1024, &r));
    let (_, outs, _) = read_all(&p.buf);
    assert_eq!(outs.len(), n as usize + 1);
    assert_eq!((outs[0].number, outs[0].ev.answers.len()), (1, 0));
    let answered: Vec<u64> = outs
        .iter()
        .filter(|o| !o.ev.answers.is_empty())
        .map(|o| o.number)
        .collect();
    assert_eq!(answered, [u64::from(n) + 1]);
}

/// Random damage to a capture never panics nor loops; every call ends.
#[test]
fn damaged_captures_never_panic() {
    let (c, s) = (addr("10.4.0.2"), addr("10.4.0.1"));
    let mut ng = Ng::new(false);
    ng.interface(1, Some(9));
    ng.interface(276, None);
    for i in 0..20u16 {
        let name = format!("d{i}.damage.example");
        ng.epb(
            0,
            i.into(),
            &eth(
                &[(0x8100, i)],
                &udp(c, 2000 + i, s, 53, &dns_query(i, &name, 1)),
            ),
        );
        let r = dns_response(
            i,
            &name,
            1,
            0,
            &[
                Rr::Cname("x.example", 1),
                Rr::A(Ipv4Addr::new(192, 0, 2, 1), 1),
            ],
        );
        ng.epb(1, i.into(), &sll2(&udp(s, 53, c, 2000 + i, &r)));
        ng.epb(
            0,
            i.into(),
            &eth(&[], &tcp(c, 3000, s, 443, &client_hello("t.example"))),
        );
        let req = format!("GET /p{i} HTTP/1.1\r\nHost: h{i}.example:80\r\n\r\n");
        ng.epb(
            0,
            i.into(),
            &eth(&[], &tcp(c, 3001, s, 8080, req.as_bytes())),
        );
        let mut m = dns_query(i, &name, 28);
        m.splice(0..0, (m.len() as u16).to_be_bytes());
        ng.epb(1, i.into(), &sll2(&tcp(c, 3002, s, 53, &m)));
    }
    let base = ng.buf;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut total = 0usize;
    for _ in 0..3000 {
        let mut b = base.clone();
        for _ in 0..(1 + rnd() % 8) {
            let at = (rnd() as usize) % b.len();
            b[at] = rnd() as u8;
        }
        if rnd() % 4 == 0 {
            b.truncate((rnd() as usize) % b.len());
        }
        let Ok(mut cap) = Capture::new(&b[..]) else {
            continue;
        };
        let mut ev = Event::default();
        let mut n = 0;
        loop {
            match cap.next(&mut ev) {
                Ok(Some(_)) => n += 1,
                Ok(None) => break,
                Err(_) => {}
            }
            assert!(n < 1000, "no end");
        }
        total += n;
    }
    assert!(total > 10_000);
}

// ---------------------------------------------------------------------
// Live captures.

/// Answers A and AAAA queries: a CNAME to `edge.live-cdn.example`, then
/// 192.0.2.66 / 2001:db8::66; `nx-` names: NXDOMAIN; `drop-`: silence.
fn answer(q: &[u8]) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([*q.first()?, *q.get(1)?]);
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*q.get(pos)?);
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(pos + 1..pos + 1 + len)?).to_lowercase());
        pos += 1 + len;
    }
    let name = labels.join(".");
    let qtype = u16::from_be_bytes([*q.get(pos + 1)?, *q.get(pos + 2)?]);
    if name.starts_with("drop-") {
        return None;
    }
    if name.starts_with("nx-") {
        return Some(dns_response(id, &name, qtype, 3, &[]));
    }
    let cname = Rr::Cname("edge.live-cdn.example", 3600);
    let rrs = match qtype {
        28 => vec![cname, Rr::Aaaa("2001:db8::66".parse().unwrap(), 301)],
        _ => vec![cname, Rr::A(Ipv4Addr::new(192, 0, 2, 66), 300)],
    };
    Some(dns_response(id, &name, qtype, 0, &rrs))
}

/// Accepts connections until `stop`, each handled by `f` on its thread.
fn serve_tcp(l: TcpListener, stop: Arc<AtomicBool>, f: fn(std::net::TcpStream)) {
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                    std::thread::spawn(move || f(s));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
}

fn serve_udp(u: UdpSocket, stop: Arc<AtomicBool>) {
    u.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = u.recv_from(&mut buf)
                && let Some(r) = answer(&buf[..n])
            {
                let _ = u.send_to(&r, from);
            }
        }
    });
}

fn dns_over_tcp(mut s: std::net::TcpStream) {
    let mut len = [0u8; 2];
    while s.read_exact(&mut len).is_ok() {
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if s.read_exact(&mut q).is_err() {
            return;
        }
        if let Some(r) = answer(&q) {
            let mut out = (r.len() as u16).to_be_bytes().to_vec();
            out.extend(r);
            let _ = s.write_all(&out);
        }
    }
}

fn http_server(mut s: std::net::TcpStream) {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

fn tls_listener(mut s: std::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf);
}

/// Runs a client to its end (at most 10 s).
fn run(bin: &Path, args: &[&str]) {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not end", bin.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts a capture tool and waits until it says it captures (a line of
/// its standard error containing `ready`); `None` when it stops first.
fn start_capture(bin: &Path, args: &[String], ready: &str) -> Option<Child> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let stderr = child.stderr.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        let mut said = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            said.push_str(&line);
            said.push('\n');
            if line.contains(&ready) {
                let _ = tx.send(Ok(()));
            }
        }
        let _ = tx.send(Err(said));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => Some(child),
        other => {
            eprintln!("{} did not start: {other:?}", bin.display());
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    }
}

/// Stops a capture tool the way Ctrl-C does (it flushes and closes).
fn stop_capture(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
}

#[test]
fn live_loopback_captures_cross_checked() {
    let tools: Vec<Option<PathBuf>> = ["tcpdump", "dumpcap", "tshark", "dig", "curl", "openssl"]
        .map(tool)
        .into();
    let [
        Some(tcpdump),
        Some(dumpcap),
        Some(_),
        Some(dig),
        Some(curl),
        Some(openssl),
    ] = &tools[..]
    else {
        return;
    };
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.as_deref().ok() != Some("0") {
        return skip("live captures need root");
    }
    let stop = Arc::new(AtomicBool::new(false));
    // DNS on port 53 (the only port read as DNS), IPv4 and IPv6.
    let mut dns = Vec::new();
    for a in ["127.0.0.1:53", "[::1]:53"] {
        let a: SocketAddr = a.parse().unwrap();
        match (UdpSocket::bind(a), TcpListener::bind(a)) {
            (Ok(u), Ok(t)) => dns.push((u, t)),
            (u, t) => {
                return skip(&format!(
                    "cannot listen on {a}: {:?} {:?}",
                    u.err(),
                    t.err()
                ));
            }
        }
    }
    for (u, t) in dns {
        serve_udp(u, stop.clone());
        serve_tcp(t, stop.clone(), dns_over_tcp);
    }
    let listen = |a: &str, f: fn(std::net::TcpStream)| -> u16 {
        let l = TcpListener::bind(a).unwrap();
        let port = l.local_addr().unwrap().port();
        serve_tcp(l, stop.clone(), f);
        port
    };
    let (h4, h6) = (
        listen("127.0.0.1:0", http_server),
        listen("[::1]:0", http_server),
    );
    let (t4, t6) = (
        listen("127.0.0.1:0", tls_listener),
        listen("[::1]:0", tls_listener),
    );
    let filter = format!("port 53 or port {h4} or port {h6} or port {t4} or port {t6}");
    let dir = tempfile::tempdir().unwrap();
    let file = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let (micro, nano, ng) = (file("micro.pcap"), file("nano.pcap"), file("live.pcapng"));
    let mut caps = Vec::new();
    for (bin, args, ready) in [
        (
            tcpdump,
            vec![
                "-i",
                "lo",
                "-U",
                "-n",
                "-w",
                micro.as_str(),
                filter.as_str(),
            ],
            "listening on",
        ),
        (
            tcpdump,
            vec![
                "-i",
                "lo",
                "-U",
                "-n",
                "--time-stamp-precision=nano",
                "-w",
                nano.as_str(),
                filter.as_str(),
            ],
            "listening on",
        ),
        (
            dumpcap,
            vec!["-i", "lo", "-q", "-w", ng.as_str(), "-f", filter.as_str()],
            "File:",
        ),
    ] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        match start_capture(bin, &args, ready) {
            Some(c) => caps.push(c),
            None => {
                caps.into_iter().for_each(stop_capture);
                stop.store(true, Ordering::Relaxed);
                return skip("capturing on lo is not permitted here");
            }
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let nonce = std::process::id();
    let n = |p: &str| format!("{p}-{nonce}.live.example");
    let digs: Vec<(String, Vec<&str>)> = vec![
        (n("a"), vec!["@127.0.0.1", "A"]),
        (n("six"), vec!["@::1", "AAAA"]),
        (n("tcp"), vec!["@127.0.0.1", "A", "+tcp"]),
        (n("tcp6"), vec!["@::1", "AAAA", "+tcp"]),
        (n("nx"), vec!["@127.0.0.1", "A"]),
        (n("drop"), vec!["@127.0.0.1", "A"]),
    ];
    for (name, args) in &digs {
        let mut a = vec![
            "-p",
            "53",
            name.as_str(),
            "+tries=1",
            "+time=1",
            "+nocookie",
        ];
        a.extend(args);
        run(dig, &a);
    }
    let u4 = format!("http://127.0.0.1:{h4}/gate.php?id=4");
    let u6 = format!("http://[::1]:{h6}/gate.php?id=6");
    run(curl, &["-s", "-m", "5", "-H", "Host: evil.example", &u4]);
    run(
        curl,
        &["-s", "-g", "-m", "5", "-H", "Host: evil6.example:8080", &u6],
    );
    for c in [format!("127.0.0.1:{t4}"), format!("[::1]:{t6}")] {
        run(
            openssl,
            &[
                "s_client",
                "-connect",
                &c,
                "-servername",
                "tls.evil.example",
            ],
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    caps.into_iter().for_each(stop_capture);
    stop.store(true, Ordering::Relaxed);

    let decode: Vec<String> = [(h4, "http"), (h6, "http"), (t4, "tls"), (t6, "tls")]
        .iter()
        .flat_map(|(p, d)| ["-d".to_string(), format!("tcp.port=={p},{d}")])
        .collect();
    let mut seen_by_file = Vec::new();
    for (path, format) in [
        (&micro, Format::Pcap),
        (&nano, Format::Pcap),
        (&ng, Format::Pcapng),
    ] {
        let bytes = std::fs::read(path).unwrap();
        let (f, _, error) = read_all(&bytes);
        assert_eq!((f, error), (format, None), "{path}");
        let outs = cross_check(Path::new(path), &bytes, &decode, &[]);
        let ev: Vec<&Out> = events(&outs);
        let find = |name: &str, kind: EventKind| -> Vec<&Out> {
            ev.iter()
                .copied()
                .filter(|o| o.ev.name == name && o.ev.kind == kind)
                .collect()
        };
        let lo4: IpAddr = addr("127.0.0.1");
        let lo6: IpAddr = addr("::1");
        let a = find(&n("a"), EventKind::Dns);
        assert_eq!(a.len(), 1, "{path}: {ev:#?}");
        assert_eq!(
            (a[0].ev.client, a[0].ev.server, a[0].ev.qtype),
            (Some(lo4), Some(lo4), 1)
        );
        assert_eq!(addrs(&a[0].ev), vec![addr("192.0.2.66")]);
        assert_eq!(names(&a[0].ev), vec!["edge.live-cdn.example".to_string()]);
        let ttls: Vec<Option<u32>> = a[0].ev.answers.iter().map(|x| x.ttl).collect();
        assert_eq!(ttls, [Some(3600), Some(300)]);
        let six = find(&n("six"), EventKind::Dns);
        assert_eq!(six.len(), 1);
        assert_eq!((six[0].ev.client, six[0].ev.qtype), (Some(lo6), 28));
        assert_eq!(addrs(&six[0].ev), vec![addr("2001:db8::66")]);
        for (name, client) in [(n("tcp"), lo4), (n("tcp6"), lo6)] {
            let t = find(&name, EventKind::Dns);
            assert_eq!(t.len(), 1, "{name}");
            assert_eq!(t[0].ev.client, Some(client));
            assert_eq!(t[0].ev.answers.len(), 2, "{name}");
        }
        let nx = find(&n("nx"), EventKind::Dns);
        assert_eq!((nx.len(), nx[0].ev.answers.len()), (1, 0));
        let drop = find(&n("drop"), EventKind::Dns);
        assert_eq!((drop.len(), drop[0].ev.answers.len()), (1, 0));
        let h = find("evil.example", EventKind::Http);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].ev.url, "http://evil.example/gate.php?id=4");
        assert_eq!((h[0].ev.server, h[0].ev.server_port), (Some(lo4), Some(h4)));
        let h = find("evil6.example", EventKind::Http);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].ev.url, "http://evil6.example:8080/gate.php?id=6");
        assert_eq!(h[0].ev.client, Some(lo6));
        let t = find("tls.evil.example", EventKind::Tls);
        let mut ports: Vec<Option<u16>> = t.iter().map(|o| o.ev.server_port).collect();
        ports.sort();
        assert_eq!(ports, [Some(t4.min(t6)), Some(t4.max(t6))]);
        // The same events in all three files (times aside: each tool
        // stamps its own copy of a packet).
        let mut all: Vec<(EventKind, String, Option<IpAddr>, Vec<IpAddr>)> = ev
            .iter()
            .map(|o| (o.ev.kind, o.ev.name.clone(), o.ev.client, addrs(&o.ev)))
            .collect();
        all.sort();
        seen_by_file.push(all);
    }
    assert_eq!(seen_by_file[0], seen_by_file[1]);
    assert_eq!(seen_by_file[0], seen_by_file[2]);
    // The nanosecond file really is one.
    let nano_bytes = std::fs::read(&nano).unwrap();
    assert_eq!(&nano_bytes[..4], &0xA1B2_3C4Du32.to_le_bytes());
}

// ---------------------------------------------------------------------
// Speed, by hand:
// cargo test -p takedown-netlog --release --test captures -- --ignored --nocapture reading_speed

#[test]
#[ignore]
fn reading_speed() {
    let (c, s) = (addr("10.3.0.2"), addr("10.3.0.1"));
    let mut p = Pcap::new(false, false, 1);
    let pairs = 500_000u32;
    for i in 0..pairs {
        let name = format!("host{}.example{}.com", i % 50_000, i % 7);
        let port = 1024 + (i % 60_000) as u16;
        let id = i as u16;
        let t = T0 + i64::from(i) * 100;
        p.packet(t, &eth(&[], &udp(c, port, s, 53, &dns_query(id, &name, 1))));
        let r = dns_response(
            id,
            &name,
            1,
            0,
            &[
                Rr::Cname("edge.cdn.example", 60),
                Rr::A(Ipv4Addr::new(192, 0, 2, i as u8), 60),
            ],
        );
        p.packet(t + 50, &eth(&[], &udp(s, 53, c, port, &r)));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "speed.pcap", &p.buf);
    let size = p.buf.len();
    drop(p);
    for round in 0..3 {
        let start = Instant::now();
        let f = std::fs::File::open(&path).unwrap();
        let mut cap = Capture::new(f).unwrap();
        let mut ev = Event::default();
        let (mut n, mut answers) = (0u64, 0usize);
        while let Some(o) = cap.next(&mut ev).unwrap() {
            assert_eq!(o, Outcome::Event);
            n += 1;
            answers += ev.answers.len();
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!((n, answers), (u64::from(pairs), 2 * pairs as usize));
        eprintln!(
            "round {round}: {} packets ({:.0} MB) -> {n} lookups in {secs:.3} s: {:.2} M packets/s, {:.0} MB/s",
            2 * pairs,
            size as f64 / 1e6,
            2.0 * f64::from(pairs) / secs / 1e6,
            size as f64 / 1e6 / secs,
        );
    }
}
