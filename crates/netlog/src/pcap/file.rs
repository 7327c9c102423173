//! The capture file's framing: the pcap file header and its records, or
//! the pcapng blocks, read into one reused buffer.
//!
//! Layouts: pcap as in draft-ietf-opsawg-pcap (the 24-byte file header,
//! 16-byte record headers, magic 0xA1B2C3D4 for microseconds and
//! 0xA1B23C4D for nanoseconds, in the writer's byte order); pcapng as in
//! draft-ietf-opsawg-pcapng (section header block 0x0A0D0D0A with its
//! byte-order magic 0x1A2B3C4D, interface description block 1 with the
//! `if_tsresol` (9) and `if_tsoffset` (14) options, enhanced packet block
//! 6, simple packet block 3, and the obsolete packet block 2 that old
//! Wireshark versions wrote).
//!
//! Every length read from the file is checked before it is used: a
//! record or block longer than [`MAX_RECORD`] ends the stream with an
//! error (nothing after it can be trusted), a packet record that claims
//! more data than its block holds is a bad packet, and no buffer is sized
//! by anything but a checked length.

use std::io::{self, BufReader, Read};

use super::CaptureError;
use crate::Format;

/// The longest record or block read (libpcap's bound for pcapng blocks,
/// `MAX_BLOCKSIZE` in sf-pcapng.c, 16 MiB). Longer: a corrupt length.
pub(super) const MAX_RECORD: usize = 16 << 20;

/// At most this many interfaces per pcapng section are kept; packets of
/// later ones are bad packets.
const MAX_INTERFACES: usize = 4096;

const PCAP_MICRO: u32 = 0xA1B2_C3D4;
const PCAP_NANO: u32 = 0xA1B2_3C4D;
const SHB: u32 = 0x0A0D_0D0A;
const BOM: u32 = 0x1A2B_3C4D;
const IDB: u32 = 1;
const OBSOLETE_PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

/// The bad-packet reason of a record cut short by the end of the file.
pub(super) const TRUNCATED: &str = "truncated packet";

/// One record of the file, with the number of the last packet record
/// read (from 1).
pub(super) enum Record<'a> {
    /// A packet: its link type, time (microseconds since 1970) and bytes.
    Packet {
        number: u64,
        linktype: u16,
        time: Option<i64>,
        data: &'a [u8],
    },
    /// A record that cannot be read (the stream goes on, unless it was
    /// cut by the end of the file).
    Bad { number: u64, reason: &'static str },
}

/// A pcapng interface: what its packets need.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u16,
    snaplen: u32,
    resolution: Resolution,
    /// `if_tsoffset`: seconds added to every time stamp.
    offset: i64,
}

/// Time stamp units per second: 10^n or 2^n (`if_tsresol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    Pow10(u8),
    Pow2(u8),
}

impl Resolution {
    /// Microseconds since 1970 of `ts` units (plus `offset` seconds),
    /// `None` when it does not fit.
    fn micros(self, ts: u64, offset: i64) -> Option<i64> {
        let base = offset.checked_mul(1_000_000)?;
        let us: i128 = match self {
            // The usual cases without a 128-bit division.
            Resolution::Pow10(6) => i128::from(ts),
            Resolution::Pow10(9) => i128::from(ts / 1000),
            Resolution::Pow10(n) if n <= 6 => i128::from(ts) * 10i128.pow(6 - u32::from(n)),
            Resolution::Pow10(n) if n <= 38 => {
                i128::from(ts) * 1_000_000 / 10i128.pow(u32::from(n))
            }
            Resolution::Pow2(n) if n < 64 => (i128::from(ts) * 1_000_000) >> n,
            // Finer than 10^-38 or 2^-63 s: every time stamp is ~0.
            Resolution::Pow10(_) | Resolution::Pow2(_) => 0,
        };
        i64::try_from(us).ok()?.checked_add(base)
    }
}

enum Kind {
    Pcap {
        big_endian: bool,
        nanos: bool,
        linktype: u16,
    },
    Pcapng {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// Reads the records of one capture.
pub(super) struct File<R: Read> {
    r: BufReader<R>,
    kind: Kind,
    buf: Vec<u8>,
    /// Packet records met so far (the number of the last one).
    packets: u64,
    /// The end was reached (or the rest cannot be read).
    done: bool,
}

fn u16_at(b: &[u8], at: usize, be: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    })
}

fn u32_at(b: &[u8], at: usize, be: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

fn u64_at(b: &[u8], at: usize, be: bool) -> Option<u64> {
    let a: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(if be {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    })
}

fn err(reason: &str) -> CaptureError {
    CaptureError {
        reason: reason.to_string(),
    }
}

fn io_err(e: io::Error) -> CaptureError {
    CaptureError {
        reason: format!("read error: {e}"),
    }
}

/// Reads until `buf` is full or the input ends; the count read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, CaptureError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    Ok(n)
}

impl<R: Read> File<R> {
    /// Reads the file header (pcap) or the first section header (pcapng).
    pub(super) fn open(r: R) -> Result<File<R>, CaptureError> {
        let mut r = BufReader::with_capacity(256 << 10, r);
        let mut head = [0u8; 24];
        let n = read_full(&mut r, &mut head[..4])?;
        if n < 4 {
            return Err(err("not a pcap or pcapng capture (too short)"));
        }
        let le = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let be = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let mut file = File {
            r,
            kind: Kind::Pcapng {
                big_endian: false,
                interfaces: Vec::new(),
            },
            buf: Vec::new(),
            packets: 0,
            done: false,
        };
        if le == SHB {
            file.section(true)?;
            return Ok(file);
        }
        let (big_endian, nanos) = match (le, be) {
            (PCAP_MICRO, _) => (false, false),
            (PCAP_NANO, _) => (false, true),
            (_, PCAP_MICRO) => (true, false),
            (_, PCAP_NANO) => (true, true),
            _ => return Err(err("not a pcap or pcapng capture")),
        };
        if read_full(&mut file.r, &mut head[4..])? < 20 {
            return Err(err("pcap file header cut short"));
        }
        let major = u16_at(&head, 4, big_endian).unwrap_or(0);
        if major != 2 {
            return Err(err("unsupported pcap version"));
        }
        // The link type is the low 16 bits; the high bits may carry the
        // FCS length (draft-ietf-opsawg-pcap, LinkType and additional
        // information). Padding and FCS are cut off by the IP length.
        let network = u32_at(&head, 20, big_endian).unwrap_or(0);
        file.kind = Kind::Pcap {
            big_endian,
            nanos,
            linktype: (network & 0xFFFF) as u16,
        };
        Ok(file)
    }

    /// The capture's format.
    pub(super) fn format(&self) -> Format {
        match self.kind {
            Kind::Pcap { .. } => Format::Pcap,
            Kind::Pcapng { .. } => Format::Pcapng,
        }
    }

    /// The number of the last packet record read, from 1.
    #[cfg(test)]
    fn packet_number(&self) -> u64 {
        self.packets
    }

    /// Fills `self.buf` with exactly `len` bytes; false when the file
    /// ended first.
    fn fill(&mut self, len: usize) -> Result<bool, CaptureError> {
        self.buf.clear();
        self.buf.resize(len, 0);
        Ok(read_full(&mut self.r, &mut self.buf)? == len)
    }

    /// The next record, `None` at the end.
    pub(super) fn next(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let res = match self.kind {
            Kind::Pcap { .. } => self.next_pcap(),
            Kind::Pcapng { .. } => self.next_pcapng(),
        };
        match res {
            Ok(Some(Step::Packet {
                linktype,
                time,
                start,
                len,
            })) => Ok(Some(Record::Packet {
                number: self.packets,
                linktype,
                time,
                data: self.buf.get(start..start + len).unwrap_or(&[]),
            })),
            Ok(Some(Step::Bad(reason))) => Ok(Some(Record::Bad {
                number: self.packets,
                reason,
            })),
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    fn next_pcap(&mut self) -> Result<Option<Step>, CaptureError> {
        let Kind::Pcap {
            big_endian: be,
            nanos,
            linktype,
        } = self.kind
        else {
            return Ok(None);
        };
        let mut h = [0u8; 16];
        let n = read_full(&mut self.r, &mut h)?;
        if n == 0 {
            return Ok(None);
        }
        self.packets += 1;
        if n < 16 {
            self.done = true;
            return Ok(Some(Step::Bad(TRUNCATED)));
        }
        let sec = u32_at(&h, 0, be).unwrap_or(0);
        let frac = u32_at(&h, 4, be).unwrap_or(0);
        let caplen = u32_at(&h, 8, be).unwrap_or(0) as usize;
        // The file header's snapshot length is not trusted (a writer may
        // lie or write 0): only this bound sizes the buffer.
        if caplen > MAX_RECORD {
            return Err(err("corrupt pcap record length"));
        }
        if !self.fill(caplen)? {
            self.done = true;
            return Ok(Some(Step::Bad(TRUNCATED)));
        }
        let frac_us = if nanos { frac / 1000 } else { frac };
        let time = i64::from(sec) * 1_000_000 + i64::from(frac_us);
        Ok(Some(Step::Packet {
            linktype,
            time: Some(time),
            start: 0,
            len: caplen,
        }))
    }

    /// Reads a section header block whose type was read (4 bytes); `first`
    /// when it opens the file (then a bad one is not a capture at all).
    fn section(&mut self, first: bool) -> Result<(), CaptureError> {
        let mut h = [0u8; 8];
        if read_full(&mut self.r, &mut h)? < 8 {
            return Err(err(if first {
                "not a pcap or pcapng capture (too short)"
            } else {
                "capture ends inside a section header"
            }));
        }
        let be = match (u32_at(&h, 4, false), u32_at(&h, 4, true)) {
            (Some(BOM), _) => false,
            (_, Some(BOM)) => true,
            _ => return Err(err("corrupt pcapng section header (byte-order magic)")),
        };
        let len = u32_at(&h, 0, be).unwrap_or(0) as usize;
        // Type, length, magic, versions (4), section length (8), length.
        if len < 28 || !len.is_multiple_of(4) || len > MAX_RECORD {
            return Err(err("corrupt pcapng block length"));
        }
        if !self.fill(len - 12)? {
            return Err(err("capture ends inside a section header"));
        }
        if u32_at(&self.buf, len - 16, be) != Some(len as u32) {
            return Err(err("corrupt pcapng block length"));
        }
        if u16_at(&self.buf, 0, be) != Some(1) {
            return Err(err("unsupported pcapng version"));
        }
        self.kind = Kind::Pcapng {
            big_endian: be,
            interfaces: Vec::new(),
        };
        Ok(())
    }

    fn next_pcapng(&mut self) -> Result<Option<Step>, CaptureError> {
        loop {
            let mut h = [0u8; 8];
            let n = read_full(&mut self.r, &mut h[..4])?;
            if n == 0 {
                return Ok(None);
            }
            if n < 4 {
                return Ok(Some(self.cut_short(None)));
            }
            if h[..4] == SHB.to_le_bytes() {
                self.section(false)?;
                continue;
            }
            let be = match self.kind {
                Kind::Pcapng { big_endian, .. } => big_endian,
                Kind::Pcap { .. } => return Ok(None),
            };
            let btype = u32_at(&h, 0, be).unwrap_or(0);
            if read_full(&mut self.r, &mut h[4..])? < 4 {
                return Ok(Some(self.cut_short(Some(btype))));
            }
            let len = u32_at(&h, 4, be).unwrap_or(0) as usize;
            if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD {
                return Err(err("corrupt pcapng block length"));
            }
            if !self.fill(len - 8)? {
                return Ok(Some(self.cut_short(Some(btype))));
            }
            let body_len = len - 12;
            if u32_at(&self.buf, body_len, be) != Some(len as u32) {
                return Err(err("corrupt pcapng block length"));
            }
            match btype {
                IDB => self.interface(be, body_len),
                EPB | OBSOLETE_PB => {
                    self.packets += 1;
                    return Ok(Some(self.packet_block(be, btype, body_len)));
                }
                SPB => {
                    self.packets += 1;
                    return Ok(Some(self.simple_block(be, body_len)));
                }
                // Name resolution, statistics, decryption secrets, custom
                // and unknown blocks: nothing for the hunt.
                _ => {}
            }
        }
    }

    /// The file ended inside a block of type `btype` (when known).
    fn cut_short(&mut self, btype: Option<u32>) -> Step {
        self.done = true;
        match btype {
            Some(IDB) => Step::Bad("truncated interface description"),
            Some(EPB | SPB | OBSOLETE_PB) | None => {
                self.packets += 1;
                Step::Bad(TRUNCATED)
            }
            Some(_) => Step::Bad("truncated block"),
        }
    }

    fn interface(&mut self, be: bool, body_len: usize) {
        let body = &self.buf[..body_len.min(self.buf.len())];
        let (Some(linktype), Some(snaplen)) = (u16_at(body, 0, be), u32_at(body, 4, be)) else {
            return;
        };
        let mut iface = Interface {
            linktype,
            snaplen,
            resolution: Resolution::Pow10(6),
            offset: 0,
        };
        // Options: code (2), length (2), value padded to 4 bytes.
        let mut at = 8;
        while let (Some(code), Some(olen)) = (u16_at(body, at, be), u16_at(body, at + 2, be)) {
            let olen = usize::from(olen);
            let Some(value) = body.get(at + 4..at + 4 + olen) else {
                break;
            };
            match (code, olen) {
                (0, _) => break,
                (9, 1) => {
                    let v = value[0];
                    iface.resolution = if v & 0x80 == 0 {
                        Resolution::Pow10(v)
                    } else {
                        Resolution::Pow2(v & 0x7F)
                    };
                }
                (14, 8) => iface.offset = u64_at(value, 0, be).unwrap_or(0) as i64,
                _ => {}
            }
            at += 4 + olen.next_multiple_of(4);
        }
        if let Kind::Pcapng { interfaces, .. } = &mut self.kind
            && interfaces.len() < MAX_INTERFACES
        {
            interfaces.push(iface);
        }
    }

    fn iface(&self, id: usize) -> Option<Interface> {
        match &self.kind {
            Kind::Pcapng { interfaces, .. } => interfaces.get(id).copied(),
            Kind::Pcap { .. } => None,
        }
    }

    /// An enhanced packet block, or the obsolete packet block (whose
    /// interface id is 16 bits, followed by a 16-bit drop count).
    fn packet_block(&self, be: bool, btype: u32, body_len: usize) -> Step {
        let body = &self.buf[..body_len.min(self.buf.len())];
        let id = if btype == EPB {
            u32_at(body, 0, be).map(|v| v as usize)
        } else {
            u16_at(body, 0, be).map(usize::from)
        };
        let fields = (
            id,
            u32_at(body, 4, be),
            u32_at(body, 8, be),
            u32_at(body, 12, be),
        );
        let (Some(id), Some(hi), Some(lo), Some(caplen)) = fields else {
            return Step::Bad("corrupt packet block");
        };
        let caplen = caplen as usize;
        if caplen > body_len.saturating_sub(20) {
            return Step::Bad("corrupt packet block");
        }
        let Some(iface) = self.iface(id) else {
            return Step::Bad("packet of an undeclared interface");
        };
        let ts = (u64::from(hi) << 32) | u64::from(lo);
        Step::Packet {
            linktype: iface.linktype,
            time: iface.resolution.micros(ts, iface.offset),
            start: 20,
            len: caplen,
        }
    }

    /// A simple packet block: interface 0, no time stamp, the captured
    /// length is the smallest of the original length, the block's room
    /// and the interface's snapshot length.
    fn simple_block(&self, be: bool, body_len: usize) -> Step {
        let Some(iface) = self.iface(0) else {
            return Step::Bad("packet of an undeclared interface");
        };
        let Some(orig) = u32_at(&self.buf, 0, be) else {
            return Step::Bad("corrupt packet block");
        };
        let mut len = (orig as usize).min(body_len.saturating_sub(4));
        if iface.snaplen != 0 {
            len = len.min(iface.snaplen as usize);
        }
        Step::Packet {
            linktype: iface.linktype,
            time: None,
            start: 4,
            len,
        }
    }
}

/// A record located in the buffer (so that the borrow starts only once
/// the reading is over).
enum Step {
    Packet {
        linktype: u16,
        time: Option<i64>,
        start: usize,
        len: usize,
    },
    Bad(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_header(be: bool, magic: u32, linktype: u32) -> Vec<u8> {
        let mut v = Vec::new();
        let w32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() })
        };
        w32(&mut v, magic);
        let (maj, min) = (2u16, 4u16);
        v.extend_from_slice(&if be {
            maj.to_be_bytes()
        } else {
            maj.to_le_bytes()
        });
        v.extend_from_slice(&if be {
            min.to_be_bytes()
        } else {
            min.to_le_bytes()
        });
        w32(&mut v, 0);
        w32(&mut v, 0);
        w32(&mut v, 65535);
        w32(&mut v, linktype);
        v
    }

    fn pcap_record(v: &mut Vec<u8>, be: bool, sec: u32, frac: u32, data: &[u8]) {
        for x in [sec, frac, data.len() as u32, data.len() as u32] {
            v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
        }
        v.extend_from_slice(data);
    }

    fn packet(f: &mut File<&[u8]>) -> (u16, Option<i64>, Vec<u8>) {
        match f.next().unwrap().unwrap() {
            Record::Packet {
                linktype,
                time,
                data,
                ..
            } => (linktype, time, data.to_vec()),
            Record::Bad { reason, .. } => panic!("bad record: {reason}"),
        }
    }

    #[test]
    fn pcap_both_orders_and_precisions() {
        for be in [false, true] {
            for (magic, frac, us) in [
                (PCAP_MICRO, 250_000, 250_000),
                (PCAP_NANO, 250_000_999, 250_000),
            ] {
                let mut v = pcap_header(be, magic, 101);
                pcap_record(&mut v, be, 1_700_000_000, frac, b"abc");
                let mut f = File::open(&v[..]).unwrap();
                assert_eq!(f.format(), Format::Pcap);
                let (lt, time, data) = packet(&mut f);
                assert_eq!(lt, 101);
                assert_eq!(time, Some(1_700_000_000_000_000 + us));
                assert_eq!(data, b"abc");
                assert_eq!(f.packet_number(), 1);
                assert!(f.next().unwrap().is_none());
            }
        }
    }

    #[test]
    fn pcap_cut_short_and_lying_lengths() {
        let mut v = pcap_header(false, PCAP_MICRO, 1);
        pcap_record(&mut v, false, 1, 2, b"abcdef");
        let whole = v.clone();
        // Cut inside the data, then inside the record header.
        for cut in [whole.len() - 2, 24 + 7] {
            let mut f = File::open(&whole[..cut]).unwrap();
            assert!(matches!(
                f.next().unwrap(),
                Some(Record::Bad {
                    reason: TRUNCATED,
                    ..
                })
            ));
            assert!(f.next().unwrap().is_none());
        }
        // A record length of 4 GiB: the rest cannot be framed.
        v.truncate(24);
        pcap_record(&mut v, false, 1, 2, b"");
        v[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut f = File::open(&v[..]).unwrap();
        assert!(f.next().is_err());
        assert!(f.next().unwrap().is_none());
        assert!(File::open(&b"\xd4\xc3\xb2"[..]).is_err());
        assert!(File::open(&b"GET / HTTP/1.1\r\n\r\n"[..]).is_err());
    }

    /// A pcapng block: type, length, body padded to 4, length.
    fn block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
        let w = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let pad = body.len().next_multiple_of(4);
        let len = (12 + pad) as u32;
        let mut v = Vec::new();
        v.extend_from_slice(&w(btype));
        v.extend_from_slice(&w(len));
        v.extend_from_slice(body);
        v.resize(8 + pad, 0);
        v.extend_from_slice(&w(len));
        v
    }

    fn shb(be: bool) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&if be {
            BOM.to_be_bytes()
        } else {
            BOM.to_le_bytes()
        });
        body.extend_from_slice(&if be { [0, 1, 0, 0] } else { [1, 0, 0, 0] });
        body.extend_from_slice(&[0xFF; 8]);
        block(be, SHB, &body)
    }

    fn idb(be: bool, linktype: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
        let mut body = Vec::new();
        let w16 = |x: u16| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        body.extend_from_slice(&w16(linktype));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&if be {
            0u32.to_be_bytes()
        } else {
            0u32.to_le_bytes()
        });
        if let Some(r) = tsresol {
            body.extend_from_slice(&w16(9));
            body.extend_from_slice(&w16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            body.extend_from_slice(&w16(14));
            body.extend_from_slice(&w16(8));
            body.extend_from_slice(&if be { o.to_be_bytes() } else { o.to_le_bytes() });
        }
        body.extend_from_slice(&[0, 0, 0, 0]);
        block(be, IDB, &body)
    }

    fn epb(be: bool, id: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let w = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let mut body = Vec::new();
        for x in [
            id,
            (ts >> 32) as u32,
            ts as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            body.extend_from_slice(&w(x));
        }
        body.extend_from_slice(data);
        block(be, EPB, &body)
    }

    #[test]
    fn pcapng_sections_interfaces_resolutions() {
        let mut v = shb(false);
        v.extend(idb(false, 1, None, None));
        v.extend(idb(false, 113, Some(9), Some(10)));
        v.extend(block(false, 4, b"name resolution, skipped"));
        v.extend(epb(false, 0, 1_700_000_000_000_001, b"one"));
        v.extend(epb(false, 1, 1_700_000_000_123_456_789, b"two"));
        // A second section, big-endian, 2^-20 s units.
        v.extend(shb(true));
        v.extend(idb(true, 276, Some(0x80 | 20), None));
        v.extend(epb(true, 0, 3 << 20, b"three"));
        // An interface of the first section is gone.
        v.extend(epb(true, 1, 0, b"four"));
        let mut sbody = Vec::new();
        sbody.extend_from_slice(&9u32.to_be_bytes());
        sbody.extend_from_slice(b"five-and-more");
        v.extend(block(true, SPB, &sbody));
        let mut f = File::open(&v[..]).unwrap();
        assert_eq!(f.format(), Format::Pcapng);
        assert_eq!(
            packet(&mut f),
            (1, Some(1_700_000_000_000_001), b"one".to_vec())
        );
        assert_eq!(
            packet(&mut f),
            (113, Some(1_700_000_010_123_456), b"two".to_vec())
        );
        assert_eq!(packet(&mut f), (276, Some(3_000_000), b"three".to_vec()));
        assert!(matches!(
            f.next().unwrap(),
            Some(Record::Bad {
                reason: "packet of an undeclared interface",
                ..
            })
        ));
        // The simple packet's original length (9) bounds its data.
        assert_eq!(packet(&mut f), (276, None, b"five-and-".to_vec()));
        assert_eq!(f.packet_number(), 5);
        assert!(f.next().unwrap().is_none());
    }

    #[test]
    fn pcapng_corrupt_and_cut() {
        let mut v = shb(false);
        v.extend(idb(false, 1, None, None));
        v.extend(epb(false, 0, 5, b"ok"));
        let good = v.len();
        v.extend(epb(false, 0, 6, b"second"));
        // Cut inside the second packet block.
        let mut f = File::open(&v[..v.len() - 3]).unwrap();
        packet(&mut f);
        assert!(matches!(
            f.next().unwrap(),
            Some(Record::Bad {
                reason: TRUNCATED,
                ..
            })
        ));
        assert_eq!(f.packet_number(), 2);
        assert!(f.next().unwrap().is_none());
        // A block length that is not a multiple of 4, one of 2 GiB, and a
        // trailer that disagrees: errors after the first packet.
        for (at, val) in [(good + 4, 33u32), (good + 4, 1 << 31), (v.len() - 4, 36)] {
            let mut bad = v.clone();
            bad[at..at + 4].copy_from_slice(&val.to_le_bytes());
            let mut f = File::open(&bad[..]).unwrap();
            packet(&mut f);
            assert!(f.next().is_err(), "length {val} at {at}");
            assert!(f.next().unwrap().is_none());
        }
        // A captured length beyond its block: a bad packet, the stream
        // goes on.
        let mut bad = v.clone();
        bad[good + 20..good + 24].copy_from_slice(&1000u32.to_le_bytes());
        let mut f = File::open(&bad[..]).unwrap();
        packet(&mut f);
        assert!(matches!(
            f.next().unwrap(),
            Some(Record::Bad {
                reason: "corrupt packet block",
                ..
            })
        ));
        assert!(f.next().unwrap().is_none());
    }

    #[test]
    fn resolutions() {
        assert_eq!(Resolution::Pow10(6).micros(5, 0), Some(5));
        assert_eq!(Resolution::Pow10(3).micros(5, 1), Some(1_005_000));
        assert_eq!(Resolution::Pow10(9).micros(5_999, 0), Some(5));
        assert_eq!(Resolution::Pow10(12).micros(7_000_000, 0), Some(7));
        assert_eq!(Resolution::Pow2(10).micros(1024, 0), Some(1_000_000));
        assert_eq!(Resolution::Pow10(0).micros(u64::MAX, 0), None);
        assert_eq!(Resolution::Pow10(0).micros(1, i64::MAX), None);
        assert_eq!(Resolution::Pow10(100).micros(u64::MAX, 0), Some(0));
        assert_eq!(Resolution::Pow2(127).micros(u64::MAX, 0), Some(0));
    }
}
