//! Which format an input is, by content: the magic numbers of captures,
//! then the first lines of text logs, each line asked of every format's
//! `sniff`. File names never decide (rotated and renamed logs keep no
//! useful extension).

use crate::Format;

/// Magic numbers of pcap (micro- and nanosecond, both byte orders).
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];

/// The block type of a pcapng section header block.
const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Most lines of the head looked at.
const MAX_LINES: usize = 64;

/// The capture format of a stream beginning with `head`, if it is one.
pub fn capture(head: &[u8]) -> Option<Format> {
    let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
    if PCAP_MAGICS.contains(&magic) {
        Some(Format::Pcap)
    } else if magic == PCAPNG_SHB {
        Some(Format::Pcapng)
    } else {
        None
    }
}

/// The format of a stream beginning with `head` (its first bytes after
/// decompression): a capture by its magic number, else the format of
/// the first of its first lines that a format claims. `None` when none
/// does (the caller reports the input as not recognised, or uses the
/// format the user named).
pub fn detect(head: &[u8]) -> Option<Format> {
    if let Some(f) = capture(head) {
        return Some(f);
    }
    // The last line of the head may be cut short: look at it only when
    // it is the only one.
    let complete = match memchr::memrchr(b'\n', head) {
        Some(i) => &head[..i],
        None => head,
    };
    complete
        .split(|&b| b == b'\n')
        .take(MAX_LINES)
        .find_map(|l| line(l.strip_suffix(b"\r").unwrap_or(l)))
}

/// The format one line belongs to, if a format claims it. The order
/// matters only for lines two formats could claim: JSON formats by their
/// keys (Zeek's `id.orig_h` before EVE's `event_type` before COF's
/// `rrname`), then the text formats.
pub fn line(l: &[u8]) -> Option<Format> {
    let t = l.trim_ascii_start();
    if t.is_empty() {
        return None;
    }
    if t[0] == b'{' {
        if crate::zeek::sniff_json(t) {
            return Some(Format::ZeekJson);
        }
        if crate::eve::sniff(t) {
            return Some(Format::Eve);
        }
        if crate::cof::sniff(t) {
            return Some(Format::Cof);
        }
        return None;
    }
    if t[0] == b'#' {
        return crate::zeek::sniff_tsv(t).then_some(Format::ZeekTsv);
    }
    [
        (crate::squid::sniff as fn(&[u8]) -> bool, Format::Squid),
        (crate::bind::sniff, Format::Bind),
        (crate::dnsmasq::sniff, Format::Dnsmasq),
        (crate::unbound::sniff, Format::Unbound),
        (crate::windns::sniff, Format::WinDns),
    ]
    .into_iter()
    .find_map(|(sniff, f)| sniff(l).then_some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_by_magic() {
        assert_eq!(detect(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]), Some(Format::Pcap));
        assert_eq!(detect(&[0xa1, 0xb2, 0x3c, 0x4d]), Some(Format::Pcap));
        assert_eq!(
            detect(&[0x0a, 0x0d, 0x0d, 0x0a, 0x1c]),
            Some(Format::Pcapng)
        );
        assert_eq!(detect(b""), None);
        assert_eq!(detect(b"\x0a\x0d"), None);
        assert_eq!(detect(b"just some text\nmore text\n"), None);
    }
}
