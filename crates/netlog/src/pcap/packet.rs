//! From a link-layer frame to the UDP datagram or TCP segment it carries.
//!
//! Ethernet (with 802.1Q, 802.1ad and QinQ tags), IPv4 (options), IPv6
//! (extension headers), UDP and TCP are sliced by etherparse; the link
//! headers it does not know are removed here (link types from
//! <https://www.tcpdump.org/linktypes.html>):
//!
//! * `LINKTYPE_NULL` (0): a 4-byte address family in the writer's byte
//!   order; `LINKTYPE_LOOP` (108): the same in network byte order.
//! * `LINKTYPE_LINUX_SLL` (113): 16 bytes, the protocol (an EtherType)
//!   in the last two. Read by hand rather than with etherparse's, which
//!   refuses ARPHRD types it does not know (tun devices are
//!   `ARPHRD_NONE`) while only the protocol matters here.
//! * `LINKTYPE_LINUX_SLL2` (276): 20 bytes, the protocol in the first two.
//! * `LINKTYPE_RAW` (101), `LINKTYPE_IPV4` (228), `LINKTYPE_IPV6` (229):
//!   the IP header first.
//!
//! Linux's loopback captured by tcpdump is Ethernet with zero addresses,
//! so it needs nothing of its own.
//!
//! etherparse walks IPv6 extension headers (hop-by-hop, routing,
//! fragment, destination options, authentication) until the first other
//! one; each is at least 8 bytes long, so the walk is bounded by the
//! packet's length. A next header it does not know (ESP, "no next
//! header") leaves no transport: `Ignored`.

use std::net::IpAddr;

use etherparse::err::packet::SliceError;
use etherparse::{EtherType, Ipv6ExtensionSlice, NetSlice, SlicedPacket, TransportSlice};

use crate::Outcome;

/// Outcome reasons of the packets that are not hunted.
pub(super) const NOT_APP: &str = "not DNS, HTTP or TLS";
/// Ignored: the frame carries no IP packet (ARP, LLDP, STP, ...).
pub(super) const NOT_IP: &str = "not IP";
/// Ignored: a fragment after the first (no reassembly).
pub(super) const FRAGMENT: &str = "IP fragment";
/// Ignored: a link type this reader has no decoder for.
pub(super) const LINK_UNSUPPORTED: &str = "link type not supported";
/// Bad: a header that contradicts itself (not merely cut short).
pub(super) const MALFORMED_IP: &str = "malformed IP packet";

/// A UDP datagram or TCP segment.
#[derive(Debug)]
pub(super) struct Flow<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub tcp: bool,
    /// The transport payload (as far as the packet has it).
    pub payload: &'a [u8],
    /// The payload is the start of a fragmented datagram: it ends early
    /// by design, not by damage.
    pub first_fragment: bool,
}

/// Slices `data` of link type `linktype` down to UDP or TCP; `Err` with
/// the outcome of a packet that holds none (or cannot be read).
pub(super) fn flow(linktype: u16, data: &[u8]) -> Result<Flow<'_>, Outcome> {
    let sliced = match linktype {
        1 => SlicedPacket::from_ethernet(data),
        101 | 228 | 229 => SlicedPacket::from_ip(data),
        0 | 108 => {
            let Some(family) = data.get(..4) else {
                return Err(Outcome::Bad(super::file::TRUNCATED));
            };
            let le = u32::from_le_bytes([family[0], family[1], family[2], family[3]]);
            let be = u32::from_be_bytes([family[0], family[1], family[2], family[3]]);
            // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24
            // (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
            let ip = |f: u32| matches!(f, 2 | 10 | 24 | 28 | 30);
            if !ip(le) && !ip(be) {
                return Err(Outcome::Ignored(NOT_IP));
            }
            SlicedPacket::from_ip(&data[4..])
        }
        113 | 276 => {
            let (at, len) = if linktype == 113 { (14, 16) } else { (0, 20) };
            let (Some(proto), Some(rest)) = (data.get(at..at + 2), data.get(len..)) else {
                return Err(Outcome::Bad(super::file::TRUNCATED));
            };
            let proto = u16::from_be_bytes([proto[0], proto[1]]);
            SlicedPacket::from_ether_type(EtherType(proto), rest)
        }
        _ => return Err(Outcome::Ignored(LINK_UNSUPPORTED)),
    };
    let sliced = sliced.map_err(|e| match e {
        SliceError::Len(_) => Outcome::Bad(super::file::TRUNCATED),
        _ => Outcome::Bad(MALFORMED_IP),
    })?;
    let (src, dst, payload) = match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let first = h.fragments_offset().value() == 0;
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                (v4.payload(), first),
            )
        }
        Some(NetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let first = v6.extensions().clone().into_iter().all(|x| match x {
                Ipv6ExtensionSlice::Fragment(f) => f.fragment_offset().value() == 0,
                _ => true,
            });
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                (v6.payload(), first),
            )
        }
        Some(NetSlice::Arp(_)) | None => return Err(Outcome::Ignored(NOT_IP)),
    };
    let (ip_payload, first) = payload;
    let mut f = Flow {
        src,
        dst,
        sport: 0,
        dport: 0,
        tcp: false,
        payload: &[],
        first_fragment: false,
    };
    match &sliced.transport {
        Some(TransportSlice::Udp(u)) => {
            f.sport = u.source_port();
            f.dport = u.destination_port();
            f.payload = u.payload();
        }
        Some(TransportSlice::Tcp(t)) => {
            f.tcp = true;
            f.sport = t.source_port();
            f.dport = t.destination_port();
            f.payload = t.payload();
        }
        Some(_) => return Err(Outcome::Ignored(NOT_APP)),
        None if ip_payload.fragmented => {
            if !first {
                return Err(Outcome::Ignored(FRAGMENT));
            }
            // The first fragment holds the transport header and the start
            // of the payload: enough for a DNS question, a request line or
            // the start of a ClientHello.
            let p = ip_payload.payload;
            match ip_payload.ip_number {
                etherparse::ip_number::UDP if p.len() >= 8 => {
                    f.sport = u16::from_be_bytes([p[0], p[1]]);
                    f.dport = u16::from_be_bytes([p[2], p[3]]);
                    f.payload = &p[8..];
                }
                etherparse::ip_number::TCP => {
                    let Ok(t) = etherparse::TcpSlice::from_slice(p) else {
                        return Err(Outcome::Ignored(FRAGMENT));
                    };
                    f.tcp = true;
                    f.sport = t.source_port();
                    f.dport = t.destination_port();
                    f.payload = t.payload();
                }
                _ => return Err(Outcome::Ignored(FRAGMENT)),
            }
            f.first_fragment = true;
        }
        None => return Err(Outcome::Ignored(NOT_APP)),
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 header (20 bytes, no options unless given) around `payload`.
    fn ipv4(proto: u8, frag: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let hl = 20 + options.len();
        let total = (hl + payload.len()) as u16;
        let mut v = vec![0x40 | (hl / 4) as u8, 0];
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
        v.extend_from_slice(&frag.to_be_bytes());
        v.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        v.extend_from_slice(options);
        v.extend_from_slice(payload);
        v
    }

    fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&sport.to_be_bytes());
        v.extend_from_slice(&dport.to_be_bytes());
        v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn ipv4_options_padding_and_fragments() {
        // Two NOP options and an end-of-list pad the header to 24 bytes.
        let p = ipv4(17, 0, &[1, 1, 0, 0], &udp(5000, 53, b"dns"));
        let f = flow(101, &p).unwrap();
        assert_eq!(
            (f.sport, f.dport, f.payload, f.tcp),
            (5000, 53, &b"dns"[..], false)
        );
        // Ethernet padding after the IP packet is not payload.
        let mut e = vec![0; 12];
        e.extend_from_slice(&[0x08, 0x00]);
        e.extend_from_slice(&p);
        e.extend_from_slice(&[0; 20]);
        assert_eq!(flow(1, &e).unwrap().payload, b"dns");
        // First fragment (more fragments set): its start is read; a
        // later fragment is ignored.
        let first = ipv4(17, 0x2000, &[], &udp(5000, 53, b"dns-start"));
        let f = flow(101, &first).unwrap();
        assert!(f.first_fragment);
        assert_eq!(f.payload, b"dns-start");
        let later = ipv4(17, 0x2000 | 185, &[], b"rest of it");
        assert_eq!(flow(101, &later).unwrap_err(), Outcome::Ignored(FRAGMENT));
        // Cut by the snapshot length: the IP total length says more.
        assert_eq!(
            flow(101, &p[..p.len() - 1]).unwrap_err(),
            Outcome::Bad("truncated packet")
        );
    }

    #[test]
    fn cooked_loopback_and_unknown_links() {
        let p = ipv4(17, 0, &[], &udp(53, 4000, b"x"));
        let mut sll = vec![0, 0, 0xFF, 0xFE, 0, 0];
        sll.extend_from_slice(&[0; 8]);
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&p);
        assert_eq!(flow(113, &sll).unwrap().sport, 53);
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0xFF, 0xFE, 0, 6];
        sll2.extend_from_slice(&[0; 8]);
        sll2.extend_from_slice(&p);
        assert_eq!(flow(276, &sll2).unwrap().dport, 4000);
        for fam in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let mut null = fam.to_vec();
            null.extend_from_slice(&p);
            assert_eq!(flow(0, &null).unwrap().payload, b"x");
            assert_eq!(flow(108, &null).unwrap().payload, b"x");
        }
        let mut other = 7u32.to_le_bytes().to_vec();
        other.extend_from_slice(&p);
        assert_eq!(flow(0, &other).unwrap_err(), Outcome::Ignored(NOT_IP));
        assert_eq!(
            flow(105, &p).unwrap_err(),
            Outcome::Ignored(LINK_UNSUPPORTED)
        );
        assert_eq!(
            flow(276, &sll2[..10]).unwrap_err(),
            Outcome::Bad("truncated packet")
        );
        // ARP over Ethernet.
        let mut arp = vec![0xFF; 6];
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&[0; 20]);
        assert_eq!(flow(1, &arp).unwrap_err(), Outcome::Ignored(NOT_IP));
    }
}
