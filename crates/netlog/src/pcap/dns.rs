//! The DNS wire format (RFC 1035 section 4.1), as far as hunting needs
//! it: the header, the first question, and the answer section's A, AAAA,
//! CNAME, NS, PTR, MX and SRV records.
//!
//! Read by hand rather than with a DNS library: those parse every record
//! of every section into owned structures (several allocations per
//! message), and refuse a whole message for one record type they cannot
//! read, while a hunt wants the question even then. Here the question
//! name goes straight into the caller's [`Event`], nothing else is
//! decoded, and every bound is explicit:
//!
//! * a compression pointer must point before the labels that lead to it
//!   (RFC 1035 4.1.4: "a prior occurrence of the same name"), so
//!   following pointers always ends; there are at most 127 jumps anyway;
//! * a name longer than 255 bytes in wire form (RFC 1035 3.1) is
//!   malformed;
//! * at most [`MAX_ANSWERS`] answers are kept; a count of 65,535 with
//!   fewer records behind it is malformed, found in time linear in the
//!   message's length.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{Answer, AnswerData, Event};

/// Bad: the message contradicts itself or ends early.
pub(super) const MALFORMED: &str = "malformed DNS message";
/// Ignored: an update, notify or other opcode, or no question.
pub(super) const NOT_QUERY: &str = "DNS message other than a query";
/// The answers kept per response (the rest are not read).
pub(super) const MAX_ANSWERS: usize = 128;

/// What the merging of queries and responses needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    pub id: u16,
    pub response: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum NameError {
    /// The message ended inside the name.
    Short,
    /// A forward or looping pointer, a reserved label type, a name over
    /// 255 bytes.
    Bad,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Appends one label, escaped as in zone files (RFC 4343 section 2.1,
/// as dig prints them): a dot or a backslash inside a label must not
/// read as a label boundary, and no control byte reaches a report.
pub(super) fn push_label(out: &mut String, label: &[u8]) {
    // The usual label (letters, digits, hyphen, underscore) in one copy.
    if label
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        && let Ok(s) = std::str::from_utf8(label)
    {
        out.push_str(s);
        return;
    }
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7E => out.push(char::from(b)),
            _ => {
                out.push('\\');
                out.push(char::from(b'0' + b / 100));
                out.push(char::from(b'0' + b / 10 % 10));
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
}

/// Reads the name at `pos` into `out` (labels joined by dots, no final
/// dot; the root is `.`); the position after the name where it starts.
fn read_name(msg: &[u8], mut pos: usize, out: &mut String) -> Result<usize, NameError> {
    let mut after = None;
    // Pointers must go strictly below the start of the labels being read.
    let mut floor = pos;
    let mut wire = 1usize;
    let mut jumps = 0;
    let mut labels = 0;
    loop {
        let len = *msg.get(pos).ok_or(NameError::Short)?;
        match len & 0xC0 {
            0x00 if len == 0 => {
                if labels == 0 {
                    out.push('.');
                }
                return Ok(after.unwrap_or(pos + 1));
            }
            0x00 => {
                let len = usize::from(len);
                wire += len + 1;
                if wire > 255 {
                    return Err(NameError::Bad);
                }
                let label = msg.get(pos + 1..pos + 1 + len).ok_or(NameError::Short)?;
                if labels > 0 {
                    out.push('.');
                }
                push_label(out, label);
                labels += 1;
                pos += 1 + len;
            }
            0xC0 => {
                let low = *msg.get(pos + 1).ok_or(NameError::Short)?;
                let target = usize::from(len & 0x3F) << 8 | usize::from(low);
                jumps += 1;
                if target >= floor || jumps > 127 {
                    return Err(NameError::Bad);
                }
                after.get_or_insert(pos + 2);
                floor = target;
                pos = target;
            }
            // 0x40 (extended label types, RFC 6891 obsoleted them) and
            // 0x80 (reserved).
            _ => return Err(NameError::Bad),
        }
    }
}

/// The position after the name at `pos`, without reading it.
fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, NameError> {
    let mut wire = 1usize;
    loop {
        let len = *msg.get(pos).ok_or(NameError::Short)?;
        match len & 0xC0 {
            0x00 if len == 0 => return Ok(pos + 1),
            0x00 => {
                wire += usize::from(len) + 1;
                if wire > 255 {
                    return Err(NameError::Bad);
                }
                pos += 1 + usize::from(len);
            }
            0xC0 => {
                msg.get(pos + 1).ok_or(NameError::Short)?;
                return Ok(pos + 2);
            }
            _ => return Err(NameError::Bad),
        }
    }
}

/// Reads `msg` into `ev`: `name` and `qtype` from the first question and,
/// for a response, `answers`. `Ok(None)` for a message that is no query
/// or response to one (see [`NOT_QUERY`]). `cut` when the message is the
/// start of a fragmented datagram: then a message that ends among its
/// answers keeps those read, and one that ends before is `cut_reason`.
pub(super) fn parse(
    msg: &[u8],
    cut: bool,
    cut_reason: &'static str,
    ev: &mut Event,
) -> Result<Option<Header>, &'static str> {
    let short = if cut { cut_reason } else { MALFORMED };
    let fail = |e: NameError| match e {
        NameError::Short => short,
        NameError::Bad => MALFORMED,
    };
    let (Some(id), Some(flags), Some(qdcount), Some(ancount)) =
        (be16(msg, 0), be16(msg, 2), be16(msg, 4), be16(msg, 6))
    else {
        return Err(short);
    };
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0x0F;
    if opcode != 0 || qdcount == 0 {
        return Ok(None);
    }
    let mut pos = read_name(msg, 12, &mut ev.name).map_err(fail)?;
    ev.qtype = be16(msg, pos).ok_or(short)?;
    pos += 4;
    if pos > msg.len() {
        return Err(short);
    }
    for _ in 1..qdcount {
        pos = skip_name(msg, pos).map_err(fail)? + 4;
        if pos > msg.len() {
            return Err(short);
        }
    }
    let header = Header { id, response };
    if !response {
        return Ok(Some(header));
    }
    for _ in 0..ancount {
        if ev.answers.len() >= MAX_ANSWERS {
            break;
        }
        match answer(msg, pos, ev) {
            Ok(next) => pos = next,
            Err(NameError::Short) if cut => break,
            Err(_) => return Err(MALFORMED),
        }
    }
    Ok(Some(header))
}

/// Reads the resource record at `pos`, keeps it in `ev.answers` when it
/// is of a type hunting uses; the position after it.
fn answer(msg: &[u8], pos: usize, ev: &mut Event) -> Result<usize, NameError> {
    let p = skip_name(msg, pos)?;
    let fixed = msg.get(p..p + 10).ok_or(NameError::Short)?;
    let rrtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let start = p + 10;
    let end = start + rdlen;
    let rdata = msg.get(start..end).ok_or(NameError::Short)?;
    let data = match rrtype {
        1 => {
            let a: [u8; 4] = rdata.try_into().map_err(|_| NameError::Bad)?;
            AnswerData::Addr(IpAddr::V4(Ipv4Addr::from(a)))
        }
        28 => {
            let a: [u8; 16] = rdata.try_into().map_err(|_| NameError::Bad)?;
            AnswerData::Addr(IpAddr::V6(Ipv6Addr::from(a)))
        }
        // NS, CNAME, PTR: the name; MX: after a 2-byte preference; SRV:
        // after priority, weight and port.
        2 | 5 | 12 | 15 | 33 => {
            let at = start
                + match rrtype {
                    15 => 2,
                    33 => 6,
                    _ => 0,
                };
            let mut name = String::new();
            // The record is whole: a name running past it is damage.
            match read_name(msg, at, &mut name) {
                Ok(after) if after <= end && at < end => AnswerData::Name(name),
                _ => return Err(NameError::Bad),
            }
        }
        _ => return Ok(end),
    };
    ev.answers.push(Answer {
        data,
        rrtype,
        ttl: Some(ttl),
    });
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1035 4.1.4's example: F.ISI.ARPA at 20, FOO.F.ISI.ARPA at 40
    /// pointing to 20, ARPA at 64 pointing to 26.
    #[test]
    fn rfc1035_compression_example() {
        let mut msg = vec![0u8; 20];
        msg.extend_from_slice(b"\x01F\x03ISI\x04ARPA\x00");
        msg.resize(40, 0);
        msg.extend_from_slice(b"\x03FOO\xC0\x14");
        msg.resize(64, 0);
        msg.extend_from_slice(b"\xC0\x1A");
        let mut s = String::new();
        assert_eq!(read_name(&msg, 20, &mut s), Ok(32));
        assert_eq!(s, "F.ISI.ARPA");
        s.clear();
        assert_eq!(read_name(&msg, 40, &mut s), Ok(46));
        assert_eq!(s, "FOO.F.ISI.ARPA");
        s.clear();
        assert_eq!(read_name(&msg, 64, &mut s), Ok(66));
        assert_eq!(s, "ARPA");
        assert_eq!(skip_name(&msg, 40), Ok(46));
    }

    #[test]
    fn hostile_names() {
        // A pointer to itself, a pointer forward, a two-pointer loop.
        let mut s = String::new();
        let lp = b"\0\0\xC0\x02";
        assert_eq!(read_name(lp, 2, &mut s), Err(NameError::Bad));
        let fwd = b"\xC0\x02\x01a\x00";
        assert_eq!(read_name(fwd, 0, &mut s), Err(NameError::Bad));
        let two = b"\x01a\xC0\x04\x01b\xC0\x00";
        // From 4: "b", then back to 0: "a", then forward to 4: refused.
        assert_eq!(read_name(two, 4, &mut s), Err(NameError::Bad));
        // 5 labels of 63: 320 bytes in wire form.
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(read_name(&long, 0, &mut s), Err(NameError::Bad));
        assert_eq!(skip_name(&long, 0), Err(NameError::Bad));
        // 253 characters (255 in wire form) is the longest name.
        let mut max = Vec::new();
        for n in [63, 63, 63, 61] {
            max.push(n);
            max.extend(std::iter::repeat_n(b'b', n as usize));
        }
        max.push(0);
        s.clear();
        assert_eq!(read_name(&max, 0, &mut s), Ok(255));
        assert_eq!(s.len(), 253);
        // Reserved label types, a cut name.
        assert_eq!(read_name(b"\x41a\x00", 0, &mut s), Err(NameError::Bad));
        assert_eq!(read_name(b"\x05ab", 0, &mut s), Err(NameError::Short));
        // A dot and a control byte inside labels stay inside.
        s.clear();
        read_name(b"\x03a.b\x02\x00\xFF\x00", 0, &mut s).unwrap();
        assert_eq!(s, "a\\.b.\\000\\255");
        s.clear();
        read_name(b"\x00", 0, &mut s).unwrap();
        assert_eq!(s, ".");
    }

    fn response(answers: &[u8], ancount: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1];
        m.extend_from_slice(&ancount.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(b"\x03www\x04evil\x07example\x00\x00\x01\x00\x01");
        m.extend_from_slice(answers);
        m
    }

    #[test]
    fn answers() {
        let mut a = Vec::new();
        // CNAME www -> cdn.evil (pointer to "evil.example" at 16).
        a.extend_from_slice(b"\xC0\x0C\x00\x05\x00\x01\x00\x00\x0E\x10\x00\x06\x03cdn\xC0\x10");
        // A at the CNAME target (offset 46), TTL 60.
        a.extend_from_slice(b"\xC0\x2E\x00\x01\x00\x01\x00\x00\x00\x3C\x00\x04\xC0\x00\x02\x42");
        // TXT: skipped.
        a.extend_from_slice(b"\xC0\x0C\x00\x10\x00\x01\x00\x00\x00\x3C\x00\x02\x01x");
        // MX 10 mail.evil.example.
        a.extend_from_slice(
            b"\xC0\x10\x00\x0F\x00\x01\x00\x00\x00\x3C\x00\x09\x00\x0A\x04mail\xC0\x10",
        );
        let msg = response(&a, 4);
        let mut ev = Event::default();
        let h = parse(&msg, false, "cut", &mut ev).unwrap().unwrap();
        assert_eq!(
            h,
            Header {
                id: 0x1234,
                response: true
            }
        );
        assert_eq!(ev.name, "www.evil.example");
        assert_eq!(ev.qtype, 1);
        let got: Vec<_> = ev
            .answers
            .iter()
            .map(|a| (a.rrtype, a.data.clone(), a.ttl))
            .collect();
        assert_eq!(
            got,
            vec![
                (5, AnswerData::Name("cdn.evil.example".into()), Some(3600)),
                (1, AnswerData::Addr("192.0.2.66".parse().unwrap()), Some(60)),
                (15, AnswerData::Name("mail.evil.example".into()), Some(60)),
            ]
        );
        // 65,535 answers announced, four present: malformed, unless the
        // message is the first fragment of a datagram.
        let msg = response(&a, u16::MAX);
        assert_eq!(
            parse(&msg, false, "cut", &mut Event::default()),
            Err(MALFORMED)
        );
        let mut ev = Event::default();
        assert!(parse(&msg, true, "cut", &mut ev).unwrap().is_some());
        assert_eq!(ev.answers.len(), 3);
        // A record of 5 bytes, a CNAME whose name runs past its rdata.
        let bad_a = b"\xC0\x0C\x00\x01\x00\x01\x00\x00\x00\x3C\x00\x05\xC0\x00\x02\x42\x00";
        assert_eq!(
            parse(&response(bad_a, 1), false, "cut", &mut Event::default()),
            Err(MALFORMED)
        );
        let bad_cname = b"\xC0\x0C\x00\x05\x00\x01\x00\x00\x00\x3C\x00\x01\x03cdn\x00";
        assert_eq!(
            parse(&response(bad_cname, 1), false, "cut", &mut Event::default()),
            Err(MALFORMED)
        );
    }

    #[test]
    fn not_queries_and_cut_messages() {
        let mut ev = Event::default();
        // NOTIFY (opcode 4).
        let mut m = response(&[], 0);
        m[2] = 0x20;
        assert_eq!(parse(&m, false, "cut", &mut ev), Ok(None));
        // No question.
        let mut m = response(&[], 0);
        m[5] = 0;
        assert_eq!(parse(&m, false, "cut", &mut ev), Ok(None));
        // Ends inside the question.
        let m = response(&[], 0);
        assert_eq!(parse(&m[..20], false, "cut", &mut ev), Err(MALFORMED));
        assert_eq!(parse(&m[..20], true, "cut", &mut ev), Err("cut"));
        assert_eq!(parse(&m[..5], false, "cut", &mut ev), Err(MALFORMED));
        // A compression loop in the question.
        let mut m = response(&[], 0);
        m.truncate(12);
        m.extend_from_slice(b"\xC0\x0C\x00\x01\x00\x01");
        assert_eq!(parse(&m, false, "cut", &mut ev), Err(MALFORMED));
    }
}
