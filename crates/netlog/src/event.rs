//! The normalised event: one DNS query or answer, HTTP request, TLS
//! handshake or flow, whatever log or capture it came from.
//!
//! Readers fill a caller-owned [`Event`] (cleared first with
//! [`Event::clear`]) so that the hot loop does not allocate per line:
//! the strings keep their capacity from one line to the next.

use std::net::IpAddr;
use std::sync::Arc;

/// What an event records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A DNS query, with its answers when the log has them.
    #[default]
    Dns,
    /// An HTTP request (proxy logs, Zeek http, EVE http, captures).
    Http,
    /// A TLS handshake (its SNI).
    Tls,
    /// A connection (Zeek conn, EVE flow): only addresses.
    Flow,
}

impl EventKind {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Dns => "dns",
            EventKind::Http => "http",
            EventKind::Tls => "tls",
            EventKind::Flow => "flow",
        }
    }
}

/// The data of one DNS answer record that hunting uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerData {
    /// An A or AAAA record's address.
    Addr(IpAddr),
    /// A name: the target of a CNAME, NS, PTR, MX or SRV record (as
    /// logged; the matcher normalises).
    Name(String),
}

/// One DNS answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Its data.
    pub data: AnswerData,
    /// Its RR type number (1 A, 28 AAAA, 5 CNAME, 2 NS, ...), 0 when the
    /// log does not say.
    pub rrtype: u16,
    /// Its TTL in seconds, when the log has it.
    pub ttl: Option<u32>,
}

/// One normalised event. Empty strings mean "not in the log".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// What it records.
    pub kind: EventKind,
    /// When, in microseconds since 1970-01-01 UTC, when the log says.
    pub time: Option<i64>,
    /// Who asked: the DNS client, the HTTP/TLS client, the flow's
    /// originator.
    pub client: Option<IpAddr>,
    /// Whom: the resolver asked, the web or TLS server, the flow's
    /// responder (a "destination" the IP indicators match).
    pub server: Option<IpAddr>,
    /// The server's port, when known.
    pub server_port: Option<u16>,
    /// The name: DNS query name, HTTP Host, TLS SNI; as logged (case and
    /// a trailing dot kept; the matcher normalises).
    pub name: String,
    /// The DNS query type number (1 A, 28 AAAA, ...), 0 when unknown or
    /// not DNS.
    pub qtype: u16,
    /// The full URL of an HTTP request, when the log has it
    /// (`http://host/path?query`); a proxy's `CONNECT host:443` gives no
    /// URL, only the name.
    pub url: String,
    /// DNS answers, when the log has them.
    pub answers: Vec<Answer>,
    /// A resolver's reply logged on a line of its own, apart from the
    /// query line that is the event (dnsmasq's `reply` and `cached`
    /// lines): only its answers are matched (its name was matched with
    /// the query), and it is counted as a reply line, not as an event.
    pub reply: bool,
}

impl Event {
    /// Resets every field, keeping the allocations.
    pub fn clear(&mut self) {
        self.kind = EventKind::Dns;
        self.time = None;
        self.client = None;
        self.server = None;
        self.server_port = None;
        self.name.clear();
        self.qtype = 0;
        self.url.clear();
        self.answers.clear();
        self.reply = false;
    }
}

/// What reading one line (or packet) gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The event was filled.
    Event,
    /// A valid line that records no query or request (a header, a
    /// comment, a Suricata `stats` or `alert` record, a dnsmasq
    /// `forwarded` line): counted by reason, not an error.
    Ignored(&'static str),
    /// A line that cannot be read: counted and reported by reason (a
    /// short fixed text, e.g. "invalid JSON", "too few fields"), with
    /// the file and line of the first few.
    Bad(&'static str),
}

/// The formats hunting reads, recognised by content ([`crate::detect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Zeek TSV logs (`#fields` header): dns, http, ssl, conn.
    ZeekTsv,
    /// Zeek JSON logs (one object per line): dns, http, ssl, conn.
    ZeekJson,
    /// Suricata EVE JSON: dns (v2 and v3 layouts), http, tls, flow.
    Eve,
    /// BIND query log (`client ... query: NAME IN TYPE`).
    Bind,
    /// dnsmasq `log-queries` lines (syslog or its own log file).
    Dnsmasq,
    /// Unbound `log-queries` / `log-replies` lines.
    Unbound,
    /// Windows DNS Server debug log (packet logging).
    WinDns,
    /// Squid native `access.log`.
    Squid,
    /// Passive DNS, common output format (NDJSON).
    Cof,
    /// A pcap capture.
    Pcap,
    /// A pcapng capture.
    Pcapng,
}

impl Format {
    /// The name in reports and in `--input-format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::ZeekTsv => "zeek-tsv",
            Format::ZeekJson => "zeek-json",
            Format::Eve => "eve",
            Format::Bind => "bind",
            Format::Dnsmasq => "dnsmasq",
            Format::Unbound => "unbound",
            Format::WinDns => "windns",
            Format::Squid => "squid",
            Format::Cof => "cof",
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
        }
    }

    /// Every format, in the order of [`Format::as_str`]'s documentation.
    pub const ALL: [Format; 11] = [
        Format::ZeekTsv,
        Format::ZeekJson,
        Format::Eve,
        Format::Bind,
        Format::Dnsmasq,
        Format::Unbound,
        Format::WinDns,
        Format::Squid,
        Format::Cof,
        Format::Pcap,
        Format::Pcapng,
    ];

    /// The format named `s` ([`Format::as_str`]).
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// True for the captures (read packet by packet, not line by line).
    pub fn is_capture(self) -> bool {
        matches!(self, Format::Pcap | Format::Pcapng)
    }
}

/// What a line reader needs besides the line: state carried from earlier
/// lines of the same file.
#[derive(Clone, Debug)]
pub struct LineCtx {
    /// The Zeek TSV header in effect (`#fields`, `#path`, separators),
    /// when one was read.
    pub zeek: Option<Arc<crate::zeek::Header>>,
    /// The year for log lines whose time stamp has none (syslog-style
    /// `Dec  6 20:41:45`): the file's modification year, else the
    /// current one.
    pub year: i32,
}

impl LineCtx {
    /// A context with no header, for `year`.
    pub fn new(year: i32) -> LineCtx {
        LineCtx { zeek: None, year }
    }
}

/// Reads `line` (without its line end) in `format` into `ev` (cleared
/// first). Not for captures (they are read by [`crate::pcap`]).
pub fn parse_line(format: Format, ctx: &LineCtx, line: &[u8], ev: &mut Event) -> Outcome {
    ev.clear();
    match format {
        Format::ZeekTsv => match &ctx.zeek {
            Some(h) => crate::zeek::parse_tsv(h, line, ev),
            None => Outcome::Bad("Zeek TSV line before any #fields header"),
        },
        Format::ZeekJson => crate::zeek::parse_json(line, ev),
        Format::Eve => crate::eve::parse(line, ev),
        Format::Bind => crate::bind::parse(ctx, line, ev),
        Format::Dnsmasq => crate::dnsmasq::parse(ctx, line, ev),
        Format::Unbound => crate::unbound::parse(ctx, line, ev),
        Format::WinDns => crate::windns::parse(ctx, line, ev),
        Format::Squid => crate::squid::parse(line, ev),
        Format::Cof => crate::cof::parse(line, ev),
        Format::Pcap | Format::Pcapng => Outcome::Bad("a capture is not read line by line"),
    }
}

/// Microseconds since 1970-01-01 UTC of a civil date and time, `None`
/// when a field is out of range. For the readers' hand-written time
/// parsers (the hot loop cannot afford a general parser per line).
pub fn unix_micros(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
) -> Option<i64> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
        || micros > 999_999
    {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm).
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(secs * 1_000_000 + i64::from(micros))
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// The RR type number of a type mnemonic (`A`, `aaaa`, `CNAME`, ...),
/// or of `TYPE123`; 0 when unknown.
pub fn rrtype_from_name(s: &str) -> u16 {
    const TYPES: [(&str, u16); 16] = [
        ("A", 1),
        ("NS", 2),
        ("CNAME", 5),
        ("SOA", 6),
        ("PTR", 12),
        ("HINFO", 13),
        ("MX", 15),
        ("TXT", 16),
        ("AAAA", 28),
        ("SRV", 33),
        ("NAPTR", 35),
        ("DS", 43),
        ("DNSKEY", 48),
        ("SVCB", 64),
        ("HTTPS", 65),
        ("ANY", 255),
    ];
    for (n, v) in TYPES {
        if s.eq_ignore_ascii_case(n) {
            return v;
        }
    }
    // `get`, not indexing: a log's text may cut a character at byte 4.
    if let (Some(head), Some(tail)) = (s.get(..4), s.get(4..))
        && head.eq_ignore_ascii_case("TYPE")
        && !tail.is_empty()
    {
        return tail.parse().unwrap_or(0);
    }
    0
}

/// The mnemonic of an RR type number (`TYPE123` for the others).
pub fn rrtype_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        13 => "HINFO".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        35 => "NAPTR".into(),
        43 => "DS".into(),
        48 => "DNSKEY".into(),
        64 => "SVCB".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        t => format!("TYPE{t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_times() {
        assert_eq!(unix_micros(1970, 1, 1, 0, 0, 0, 0), Some(0));
        assert_eq!(
            unix_micros(2016, 11, 30, 12, 0, 1, 5),
            Some(1_480_507_201_000_005)
        );
        assert_eq!(
            unix_micros(2024, 2, 29, 0, 0, 0, 0),
            Some(1_709_164_800_000_000)
        );
        assert_eq!(unix_micros(2023, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(unix_micros(2023, 13, 1, 0, 0, 0, 0), None);
        assert_eq!(unix_micros(2023, 1, 1, 24, 0, 0, 0), None);
    }

    #[test]
    fn rr_types() {
        assert_eq!(rrtype_from_name("aaaa"), 28);
        assert_eq!(rrtype_from_name("TYPE65"), 65);
        assert_eq!(rrtype_from_name("BOGUS"), 0);
        assert_eq!(rrtype_from_name("TYPé1"), 0);
        assert_eq!(rrtype_from_name("TYPE"), 0);
        assert_eq!(rrtype_name(28), "AAAA");
        assert_eq!(rrtype_name(99), "TYPE99");
    }

    #[test]
    fn formats_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
    }
}
