//! The values of a report row: times, addresses, ports, AS numbers,
//! countries and family names, parsed from the bytes of a field without
//! allocating.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Microseconds since 1970-01-01 UTC of a report time: `2016-11-30
/// 12:00:01` (Shadowserver's form, UTC), also with a `T`, a fraction of a
/// second (cut to microseconds, as Python's `datetime` does), and a zone:
/// `Z`, `UTC`, `GMT`, `+HH:MM`, `+HHMM` or `+HH`. Anything else is `None`:
/// a time that cannot be read is never guessed.
pub(crate) fn parse_time(b: &[u8]) -> Option<i64> {
    let b = b.trim_ascii();
    if b.len() < 19 || b.len() > 64 {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b' ' | b'T' | b't') {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if year < 1
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let [b'.' | b',', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut scale = 100_000i64;
        for &c in &tail[..n.min(6)] {
            micros += i64::from(c - b'0') * scale;
            scale /= 10;
        }
        rest = &tail[n..];
    }
    let offset = zone_offset(rest.trim_ascii_start())?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset;
    Some(secs * 1_000_000 + micros)
}

/// Seconds east of UTC of a zone suffix.
fn zone_offset(z: &[u8]) -> Option<i64> {
    match z {
        b"" | b"Z" | b"z" => return Some(0),
        _ if z.eq_ignore_ascii_case(b"UTC") || z.eq_ignore_ascii_case(b"GMT") => return Some(0),
        _ => {}
    }
    let (sign, rest) = match z {
        [b'+', rest @ ..] => (1, rest),
        [b'-', rest @ ..] => (-1, rest),
        _ => return None,
    };
    let (h, m) = match rest {
        [h1, h2] => (digits(&[*h1, *h2])?, 0),
        [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3_600 + m * 60))
}

/// A run of ASCII digits as a number (at most 4, so no overflow).
fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 4 {
        return None;
    }
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An IP address as a report writes it (surrounding blanks ignored); an
/// IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack
/// sinkhole logs for an IPv4 client) becomes the IPv4 address, so that
/// one machine is one address whatever socket saw it.
pub(crate) fn parse_ip(b: &[u8]) -> Option<IpAddr> {
    let b = b.trim_ascii();
    // The longest textual IPv6 address is 45 characters.
    if b.is_empty() || b.len() > 45 {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// A port: `Ok(None)` when the field is empty, `Err` when it is not a
/// number from 0 to 65535.
pub(crate) fn parse_port(b: &[u8]) -> Result<Option<u16>, ()> {
    let b = b.trim_ascii();
    if b.is_empty() {
        return Ok(None);
    }
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return Err(());
        }
        v = v * 10 + u32::from(c - b'0');
        if v > u32::from(u16::MAX) {
            return Err(());
        }
    }
    Ok(Some(v as u16))
}

/// An AS number (`64496` or `AS64496`); 0, empty or unreadable is `None`
/// (Shadowserver writes 0 for "unknown"; the ASN is looked up again
/// offline anyway, so a bad one does not cost the row).
pub(crate) fn parse_asn(b: &[u8]) -> Option<u32> {
    let mut b = b.trim_ascii();
    if b.len() > 2 && b[..2].eq_ignore_ascii_case(b"AS") {
        b = &b[2..];
    }
    if b.is_empty() || b.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    u32::try_from(v).ok().filter(|&v| v != 0)
}

/// A country code (two letters), upper-cased into `out`; false (and
/// nothing written) for anything else.
pub(crate) fn push_country(b: &[u8], out: &mut String) -> bool {
    match b.trim_ascii() {
        [a, c] if a.is_ascii_alphabetic() && c.is_ascii_alphabetic() => {
            out.push(a.to_ascii_uppercase() as char);
            out.push(c.to_ascii_uppercase() as char);
            true
        }
        _ => false,
    }
}

/// A family field's value, or `None` when it says nothing: empty, `-`,
/// `0`, `unknown`, `n/a` (what Shadowserver and IntelMQ write for "no
/// value").
pub(crate) fn family_value(b: &[u8]) -> Option<&[u8]> {
    let b = b.trim_ascii();
    if b.is_empty()
        || b == b"-"
        || b == b"0"
        || b.eq_ignore_ascii_case(b"unknown")
        || b.eq_ignore_ascii_case(b"n/a")
    {
        None
    } else {
        Some(b)
    }
}

/// Appends `b` lower-cased (invalid UTF-8 replaced, never dropped).
pub(crate) fn push_lower(b: &[u8], out: &mut String) {
    if b.is_ascii() {
        out.reserve(b.len());
        for &c in b {
            out.push(c.to_ascii_lowercase() as char);
        }
    } else {
        out.push_str(&String::from_utf8_lossy(b).to_lowercase());
    }
}

/// Appends `b` as text (invalid UTF-8 replaced, never dropped).
pub(crate) fn push_text(b: &[u8], out: &mut String) {
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}

/// Appends `ip`, or `ip:port` (`[ip]:port` for IPv6).
pub(crate) fn push_endpoint(ip: IpAddr, port: Option<u16>, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = match (ip, port) {
        (IpAddr::V6(v6), Some(p)) => write!(out, "[{v6}]:{p}"),
        (ip, Some(p)) => write!(out, "{ip}:{p}"),
        (ip, None) => write!(out, "{ip}"),
    };
}

/// Whether a notice may be sent about this address: false for the
/// special-purpose ranges of RFC 6890 and its updates that are not
/// globally reachable (unspecified, "this network", private, shared
/// address space, loopback, link-local, documentation, benchmarking,
/// IETF protocol assignments, reserved, multicast and broadcast; for IPv6
/// also unique-local, discard-only, ORCHID, local-use NAT64, SRv6 SIDs,
/// and IPv4-mapped addresses of such ranges). A report row from such an
/// address is read (it is often spoofed or a sinkhole's own test) but
/// nobody is notified about it.
pub fn is_notifiable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_notifiable(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_notifiable(v4),
            None => v6_notifiable(v6),
        },
    }
}

fn v4_notifiable(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    let not = ip.is_unspecified()
        || o[0] == 0 // 0.0.0.0/8 "this network"
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 shared (CGN)
        || ip.is_loopback() // 127/8
        || ip.is_link_local() // 169.254/16
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 IETF
        || ip.is_documentation() // 192.0.2/24, 198.51.100/24, 203.0.113/24
        || (o[0] == 192 && o[1] == 88 && o[2] == 99) // 6to4 relay anycast
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
        || ip.is_multicast() // 224/4
        || o[0] >= 240; // 240/4 reserved, 255.255.255.255 broadcast
    !not
}

fn v6_notifiable(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let not = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast() // ff00::/8
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (s[0] == 0x100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // 100::/64 discard
        || (s[0] == 0x2001 && s[1] == 0xdb8) // 2001:db8::/32 documentation
        || (s[0] == 0x2001 && s[1] < 0x200) // 2001::/23 IETF protocol assignments
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x20) // 2001:20::/28 ORCHIDv2
        || (s[0] == 0x3fff && s[1] < 0x1000) // 3fff::/20 documentation (RFC 9637)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // 64:ff9b:1::/48 local NAT64 (RFC 8215)
        || s[0] == 0x5f00 // 5f00::/16 SRv6 SIDs (RFC 9602)
        // ::/96 (IPv4-compatible, deprecated) and other ::/8 leftovers.
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0);
    !not
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<i64> {
        parse_time(s.as_bytes())
    }

    #[test]
    fn times_in_the_forms_reports_write() {
        // 2016-11-30 12:00:01 UTC = 1480507201.
        let want = Some(1_480_507_201_000_000);
        assert_eq!(t("2016-11-30 12:00:01"), want);
        assert_eq!(t(" 2016-11-30 12:00:01 "), want);
        assert_eq!(t("2016-11-30T12:00:01Z"), want);
        assert_eq!(t("2016-11-30 12:00:01 UTC"), want);
        assert_eq!(t("2016-11-30T12:00:01+00:00"), want);
        assert_eq!(t("2016-11-30T14:00:01+02:00"), want);
        assert_eq!(t("2016-11-30T11:30:01-0030"), want);
        assert_eq!(t("2016-11-30 12:00:01.5"), Some(1_480_507_201_500_000));
        // Python's datetime keeps microseconds and cuts the rest.
        assert_eq!(
            t("2016-11-30 12:00:01.1234569Z"),
            Some(1_480_507_201_123_456)
        );
        assert_eq!(t("1970-01-01 00:00:00"), Some(0));
        assert_eq!(t("1969-12-31 23:59:59"), Some(-1_000_000));
        assert_eq!(t("2024-02-29 00:00:00"), Some(1_709_164_800_000_000));
        for bad in [
            "",
            "2016-11-30",
            "2016-11-30 12:00",
            "2016/11/30 12:00:01",
            "2016-13-01 00:00:00",
            "2023-02-29 00:00:00",
            "2016-11-31 00:00:00",
            "2016-11-30 24:00:00",
            "2016-11-30 12:60:00",
            "2016-12-31 23:59:60",
            "2016-11-30 12:00:01.",
            "2016-11-30 12:00:01 CET",
            "2016-11-30 12:00:01+25:00",
            "0000-01-01 00:00:00",
            "2016-11-30 12:00:01 junk",
            "२०१६-11-30 12:00:01",
        ] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn addresses_ports_asns_countries() {
        assert_eq!(parse_ip(b" 192.0.2.1 "), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            parse_ip(b"2001:0db8:abcd:0012:0000:0000:0000:0000"),
            Some("2001:db8:abcd:12::".parse().unwrap())
        );
        assert_eq!(
            parse_ip(b"::ffff:198.51.100.7"),
            Some("198.51.100.7".parse().unwrap())
        );
        for bad in [
            &b""[..],
            b"999.1.1.1",
            b"1.2.3",
            b"192.0.2.1/24",
            b"fe80::1%eth0",
            b"\xff\xfe",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad:?}");
        }
        assert_eq!(parse_port(b""), Ok(None));
        assert_eq!(parse_port(b" 443 "), Ok(Some(443)));
        assert_eq!(parse_port(b"0080"), Ok(Some(80)));
        assert_eq!(parse_port(b"65535"), Ok(Some(65535)));
        assert_eq!(parse_port(b"65536"), Err(()));
        assert_eq!(parse_port(b"99999999999999999999"), Err(()));
        assert_eq!(parse_port(b"-1"), Err(()));
        assert_eq!(parse_port(b"http"), Err(()));
        assert_eq!(parse_asn(b"64496"), Some(64496));
        assert_eq!(parse_asn(b"AS64496"), Some(64496));
        assert_eq!(parse_asn(b"0"), None);
        assert_eq!(parse_asn(b"4294967296"), None);
        assert_eq!(parse_asn(b"x"), None);
        let mut s = String::new();
        assert!(push_country(b"de", &mut s));
        assert_eq!(s, "DE");
        assert!(!push_country(b"DEU", &mut s));
        assert!(!push_country(b"-", &mut s));
        assert_eq!(s, "DE");
    }

    #[test]
    fn families_and_endpoints() {
        assert_eq!(family_value(b" Andromeda "), Some(&b"Andromeda"[..]));
        for none in [&b""[..], b"-", b"0", b"Unknown", b"N/A", b"  "] {
            assert_eq!(family_value(none), None);
        }
        let mut s = String::new();
        push_lower(b"Avalanche-Andromeda", &mut s);
        assert_eq!(s, "avalanche-andromeda");
        s.clear();
        push_lower("ÄRGER".as_bytes(), &mut s);
        assert_eq!(s, "ärger");
        s.clear();
        push_lower(b"bad\xffname", &mut s);
        assert_eq!(s, "bad\u{fffd}name");
        s.clear();
        push_endpoint("2001:db8::1".parse().unwrap(), Some(80), &mut s);
        assert_eq!(s, "[2001:db8::1]:80");
        s.clear();
        push_endpoint("192.0.2.1".parse().unwrap(), Some(443), &mut s);
        assert_eq!(s, "192.0.2.1:443");
    }

    #[test]
    fn special_addresses_are_not_notifiable() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.1.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "2001:20::1",
            "3fff::1",
            // Not globally reachable in IANA's IPv6 special-purpose
            // registry either.
            "64:ff9b:1::1",
            "5f00::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_notifiable(ip), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "198.17.0.1",
            "198.20.0.1",
            "223.255.255.255",
            "2a00:1450:4001::1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b:2::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_notifiable(ip), "{ip}");
        }
    }
}
