//! Shadowserver's CSV reports, read by their header row.
//!
//! Columns are found by name, never by position: Shadowserver adds
//! columns over the years (`severity` in 2023, `machine_name` in 2024)
//! and the IPv4 and IPv6 variants of a report share one layout. Two
//! generations are read:
//!
//! * the current "event" reports (since 2021; field lists on
//!   <https://www.shadowserver.org/what-we-do/network-reporting/sinkhole-events-report/>,
//!   `.../sinkhole-http-events-report/` and `.../sinkhole-dns-report/`;
//!   file names `event4_sinkhole`, `event6_sinkhole`,
//!   `event4_sinkhole_http`, `event6_sinkhole_http`,
//!   `event4_microsoft_sinkhole[_http]`, `event4_sinkhole_dns`):
//!   `timestamp, protocol, src_ip, src_port, src_asn, src_geo, ...,
//!   dst_ip, dst_port, ..., infection, family, tag, ...`;
//! * the older reports with an `ip` column: the (botnet) drone report
//!   (`timestamp, ip, port, asn, geo, ..., infection, ..., cc_ip,
//!   cc_port, cc_asn, cc_geo, cc_dns, ..., family, tag, ...`), the
//!   Sinkhole-HTTP-Drone and Microsoft-Sinkhole reports (`timestamp, ip,
//!   asn, geo, url, type, http_agent, ..., src_port, ..., dst_port,
//!   http_host, ..., dst_ip, ...`), the IPv6 Sinkhole-HTTP-Drone report
//!   (`timestamp, src_ip, ..., src_port, dst_ip, ..., tag, ...,
//!   http_url, http_agent, http_host, ...`) and the first Sinkhole-DNS
//!   report (`timestamp, ip, port, host, asn, geo, type, count, query,
//!   response, tag, ...`).
//!
//! The family is the report's family name, the column that names it in
//! each layout: `family` in the event reports, `infection` in the drone
//! report, `type` in the old HTTP sinkhole reports, `tag` in the old IPv6
//! HTTP and DNS reports, the other columns of the row standing in when
//! that one is empty. In the event reports this differs on purpose from
//! Shadowserver's mapping for IntelMQ, which makes the `infection`
//! column (`b68-zeroaccess-2-32bit`) IntelMQ's `malware.name` and keeps
//! `family` (`ZeroAccess`) as `extra.family`: notices are deduplicated
//! and worded per family, and a recipient is told "ZeroAccess", not one
//! line per sinkholed variant.
//!
//! The other event reports share the event layout with extra columns
//! (honeypot, darknet, DDoS, IP spoofer, HTTP referer): their addresses
//! are scanners, attack targets or referring web sites, not machines
//! calling a sinkhole, so they are refused rather than read as sinkhole
//! events.
//!
//! Rows are parsed by `csv-core` (RFC 4180: quoted commas, doubled quotes
//! and line breaks inside quotes) into one buffer reused for every row and
//! capped at [`MAX_ROW`] bytes: a report of any size is read in bounded
//! memory, and a longer row is skipped and reported.

use super::fields::{
    family_value, parse_asn, parse_ip, parse_port, parse_time, push_country, push_endpoint,
    push_lower, push_text,
};
use super::{ReportError, RowError, Sink, Slots, Stats};
use crate::Event;
use csv_core::ReadRecordResult;
use std::borrow::Cow;
use std::io::{self, BufRead};

/// Longest CSV row read (bytes as written, quotes included); a longer
/// row is skipped to its end and reported.
pub const MAX_ROW: usize = 1 << 20;

/// Most fields a row may have; a row with more is reported (a report has
/// a few dozen columns).
const MAX_FIELDS: usize = 4096;

/// Where the values of one report layout are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// `sinkhole-events`, `sinkhole-http`, `sinkhole-dns`, `drone`,
    /// `botnet-drone`.
    pub report_type: &'static str,
    columns: usize,
    time: usize,
    ip: usize,
    port: Option<usize>,
    asn: Option<usize>,
    geo: Option<usize>,
    /// The family columns, first choice first.
    family: [Option<usize>; 3],
    /// The host name asked for (HTTP `Host`, DNS query, C&C name).
    dest_host: Option<usize>,
    dest_ip: Option<usize>,
    dest_port: Option<usize>,
}

/// Columns of the event layout that only the other event reports have
/// (honeypot, darknet, DDoS, brute force, IP spoofer): their `src_ip` is
/// not a machine calling a sinkhole. `count` is the darknet report's, and
/// is allowed when there is a `query` (the DNS sinkhole report has one).
const OTHER_EVENT_COLUMNS: &[&str] = &[
    "attack",
    "attack_src_ip",
    "avg_pps",
    "dst_network",
    "max_pps",
    "nat",
    "password",
    "pattern",
    "request",
    "request_raw",
    "routedspoof",
    "service",
    "session",
    "username",
    "vulnerability_id",
];

/// File-name words of reports that share a readable layout but are
/// something else (the spam drone report has the drone report's
/// columns). The name is only a hint: it can refuse, never select.
const OTHER_REPORT_NAMES: &[&str] = &[
    "honeypot", "darknet", "ddos", "spoofer", "referer", "spam", "brute",
];

/// The layout of a header row, or why it is not a report this reads.
/// `names` are the header's fields; `file` is the report's file name
/// (a hint only: `drone` for the drone report's older name, and names of
/// other reports refused).
pub(crate) fn classify<'a>(
    names: impl IntoIterator<Item = &'a [u8]>,
    file: &str,
) -> Result<Layout, Cow<'static, str>> {
    let names: Vec<String> = names
        .into_iter()
        .map(|n| String::from_utf8_lossy(n.trim_ascii()).to_ascii_lowercase())
        .collect();
    // A duplicated column: the last one wins, as in Python's
    // csv.DictReader (what IntelMQ reads reports with).
    let col = |name: &str| names.iter().rposition(|n| n == name);
    let has = |name: &str| col(name).is_some();
    let stem = file_stem(file);

    let Some(time) = col("timestamp") else {
        return Err(if names.len() <= 1 {
            "not a Shadowserver report: the first line is not a CSV header with a timestamp column"
                .into()
        } else {
            "not a Shadowserver report: no timestamp column in the header".into()
        });
    };
    // Only the report's name (`event4_honeypot_darknet`), not the rest of
    // `<report>-<recipient>-<geo|asn>`: a recipient's name such as
    // `antispam` must not refuse its sinkhole report.
    let report_name = stem.split('-').next().unwrap_or_default();
    if let Some(word) = OTHER_REPORT_NAMES.iter().find(|w| report_name.contains(*w)) {
        return Err(format!(
            "a Shadowserver report of another kind (file name says {word:?}): only the sinkhole and drone reports are read"
        )
        .into());
    }
    if let Some(c) = OTHER_EVENT_COLUMNS.iter().find(|c| has(c)) {
        return Err(format!(
            "a Shadowserver report of another kind (column {c:?}): only the sinkhole and drone reports are read"
        )
        .into());
    }
    let fam = |cands: [&str; 3]| cands.map(&col);
    let base = |report_type, ip, port: &str, asn: &str, geo: &str| Layout {
        report_type,
        columns: names.len(),
        time,
        ip,
        port: col(port),
        asn: col(asn),
        geo: col(geo),
        family: [None; 3],
        dest_host: None,
        dest_ip: None,
        dest_port: None,
    };

    if let Some(ip) = col("src_ip") {
        let mut l = base("sinkhole-events", ip, "src_port", "src_asn", "src_geo");
        l.family = fam(["family", "infection", "tag"]);
        l.dest_ip = col("dst_ip");
        l.dest_port = col("dst_port");
        if has("query") || has("query_type") {
            l.report_type = "sinkhole-dns";
            l.dest_host = col("query");
        } else if has("http_host") {
            l.report_type = "sinkhole-http";
            l.dest_host = col("http_host");
        } else if has("count") {
            return Err(
                "a Shadowserver report of another kind (column \"count\" without \"query\": the darknet report): only the sinkhole and drone reports are read"
                    .into(),
            );
        } else if l.dest_ip.is_none() {
            return Err("a Shadowserver report without dst_ip: not a sinkhole report".into());
        }
        if l.family.iter().all(Option::is_none) {
            return Err(
                "no infection, family or tag column: not a sinkhole or drone report".into(),
            );
        }
        return Ok(l);
    }
    if let Some(ip) = col("ip") {
        if has("infection") && (has("cc_ip") || has("cc_dns") || has("cc_port")) {
            // The Drone report (file `botnet_drone`).
            let report_type = if stem.starts_with("drone") {
                "drone"
            } else {
                "botnet-drone"
            };
            let mut l = base(report_type, ip, "port", "asn", "geo");
            l.family = fam(["infection", "family", "tag"]);
            l.dest_host = col("cc_dns");
            l.dest_ip = col("cc_ip");
            l.dest_port = col("cc_port");
            return Ok(l);
        }
        if has("type") && (has("http_host") || has("http_agent") || has("url")) {
            // Sinkhole-HTTP-Drone and Microsoft-Sinkhole: `type` is the
            // infection, the client port is `src_port`.
            let mut l = base("sinkhole-http", ip, "src_port", "asn", "geo");
            l.family = fam(["type", "infection", "tag"]);
            l.dest_host = col("http_host");
            l.dest_ip = col("dst_ip");
            l.dest_port = col("dst_port");
            return Ok(l);
        }
        if has("query") && has("tag") {
            // The first Sinkhole-DNS report: `type` is the query type,
            // `tag` the infection.
            let mut l = base("sinkhole-dns", ip, "port", "asn", "geo");
            l.family = [col("tag"), col("infection"), col("family")];
            l.dest_host = col("query");
            return Ok(l);
        }
        return Err(
            "a Shadowserver report without infection columns (a scan report?): only the sinkhole and drone reports are read"
                .into(),
        );
    }
    if has("http_referer_ip") {
        return Err(
            "the Sinkhole HTTP Referer report: its addresses are referring web sites, not infected machines; not read"
                .into(),
        );
    }
    Err("no src_ip or ip column: not a sinkhole or drone report".into())
}

/// The name of a report file without directories, date prefix and
/// extension, lower-cased: `2016-11-30-botnet_drone-de-geo.csv.gz` gives
/// `botnet_drone-de-geo`.
fn file_stem(file: &str) -> String {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let name = name.split('.').next().unwrap_or(name);
    let b = name.as_bytes();
    // The date and the dash after it are ASCII, so byte 11 starts a
    // character.
    let dated = b.len() > 11
        && matches!(b[10], b'-' | b'_')
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    let name = if dated { &name[11..] } else { name };
    name.to_ascii_lowercase()
}

/// The report type of a CSV head (its first record), when it is a
/// report this reads.
pub(crate) fn sniff(head: &[u8]) -> Option<&'static str> {
    let mut core = csv_core::Reader::new();
    let mut out = vec![0u8; head.len().min(MAX_ROW) + 1];
    let mut ends = vec![0usize; MAX_FIELDS];
    let mut input = head;
    let mut outlen = 0;
    let mut endlen = 0;
    loop {
        let (res, nin, nout, nend) = core.read_record(
            input,
            out.get_mut(outlen..).unwrap_or_default(),
            ends.get_mut(endlen..).unwrap_or_default(),
        );
        input = input.get(nin..).unwrap_or_default();
        outlen += nout;
        endlen += nend;
        match res {
            ReadRecordResult::InputEmpty => continue,
            ReadRecordResult::Record => break,
            _ => return None,
        }
    }
    let fields = split(&out[..outlen], &ends[..endlen]);
    classify(fields, "").ok().map(|l| l.report_type)
}

fn split<'a>(out: &'a [u8], ends: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    ends.iter().enumerate().map(move |(i, &e)| {
        let s = if i == 0 { 0 } else { ends[i - 1] };
        out.get(s..e).unwrap_or_default()
    })
}

/// One record's bounds, from [`Records::next`].
struct Rec {
    /// The line it starts on (1-based).
    line: u64,
    /// Its fields (valid unless `too_long` or `too_many`).
    fields: usize,
    too_long: bool,
    too_many: bool,
}

/// CSV records from a stream, in buffers reused for every record and
/// never larger than [`MAX_ROW`] bytes and [`MAX_FIELDS`] fields.
pub(crate) struct Records {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl Records {
    pub(crate) fn new() -> Records {
        Records {
            core: csv_core::Reader::new(),
            out: vec![0; 16 << 10],
            ends: vec![0; 64],
        }
    }

    /// Capacity of the row buffer (for the tests of the memory bound).
    #[cfg(test)]
    fn buffer_len(&self) -> usize {
        self.out.len()
    }

    /// The next record, `None` at the end.
    fn next(&mut self, r: &mut dyn BufRead) -> io::Result<Option<Rec>> {
        // Blank lines between records are skipped here, not by the parser,
        // so that the line a record starts on is known.
        loop {
            let buf = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let n = buf
                .iter()
                .take_while(|&&c| c == b'\n' || c == b'\r')
                .count();
            let newlines = buf[..n].iter().filter(|&&c| c == b'\n').count() as u64;
            let all = n == buf.len() && n > 0;
            r.consume(n);
            self.core.set_line(self.core.line() + newlines);
            if !all {
                break;
            }
        }
        let line = self.core.line();
        let (mut outlen, mut endlen) = (0usize, 0usize);
        let mut bytes = 0usize;
        let (mut too_long, mut too_many) = (false, false);
        loop {
            let input = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let (res, nin, nout, nend) = self.core.read_record(
                input,
                self.out.get_mut(outlen..).unwrap_or_default(),
                self.ends.get_mut(endlen..).unwrap_or_default(),
            );
            r.consume(nin);
            bytes = bytes.saturating_add(nin);
            outlen += nout;
            endlen += nend;
            if bytes > MAX_ROW {
                too_long = true;
            }
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if too_long || self.out.len() >= MAX_ROW {
                        // Keep parsing to the row's end, dropping its bytes.
                        too_long = true;
                        outlen = 0;
                    } else {
                        let n = (self.out.len() * 2).clamp(4096, MAX_ROW);
                        self.out.resize(n, 0);
                    }
                }
                ReadRecordResult::OutputEndsFull => {
                    if too_many || self.ends.len() >= MAX_FIELDS {
                        too_many = true;
                        endlen = 0;
                    } else {
                        let n = (self.ends.len() * 2).clamp(64, MAX_FIELDS);
                        self.ends.resize(n, 0);
                    }
                }
                ReadRecordResult::Record => {
                    return Ok(Some(Rec {
                        line,
                        fields: endlen,
                        too_long,
                        too_many,
                    }));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }

    /// Field `i` of the record just read (empty when out of range).
    fn field(&self, rec: &Rec, i: usize) -> &[u8] {
        if i >= rec.fields {
            return &[];
        }
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.out.get(start..end).unwrap_or_default()
    }

    /// Whether the record is one blank-looking field (a line of spaces).
    fn is_blank(&self, rec: &Rec) -> bool {
        rec.fields == 1 && !rec.too_long && self.field(rec, 0).trim_ascii().is_empty()
    }
}

/// Reads one Shadowserver report: its header, then each row as an event
/// or a row error.
pub(crate) fn read(
    r: &mut dyn BufRead,
    file: &str,
    sink: &mut Sink<'_>,
    stats: &mut Stats,
) -> Result<(), ReportError> {
    let io_err = |line: u64, e: io::Error| ReportError::Io {
        file: file.to_string(),
        line,
        source: e,
    };
    let mut recs = Records::new();
    let header = loop {
        match recs.next(r).map_err(|e| io_err(1, e))? {
            None => {
                return Err(ReportError::Header {
                    file: file.to_string(),
                    reason: "empty: no header row".into(),
                });
            }
            Some(h) if recs.is_blank(&h) => continue,
            Some(h) => break h,
        }
    };
    if header.too_long || header.too_many {
        return Err(ReportError::Header {
            file: file.to_string(),
            reason: "the header row is too long: not a Shadowserver report".into(),
        });
    }
    let layout =
        classify((0..header.fields).map(|i| recs.field(&header, i)), file).map_err(|reason| {
            ReportError::Header {
                file: file.to_string(),
                reason: reason.into_owned(),
            }
        })?;

    let mut ev = Event {
        report_type: layout.report_type.to_string(),
        file: file.to_string(),
        ..Event::default()
    };
    let mut slots = Slots::default();
    let mut events = 0u64;
    let mut last_line = header.line;
    while let Some(rec) = recs.next(r).map_err(|e| io_err(last_line, e))? {
        last_line = rec.line;
        if recs.is_blank(&rec) {
            continue;
        }
        stats.rows += 1;
        slots.reclaim(&mut ev);
        match fill(&layout, &recs, &rec, &mut ev, &mut slots) {
            Ok(()) => {
                slots.put(&mut ev);
                ev.line = rec.line;
                events += 1;
                (sink.on_event)(&ev);
            }
            Err(reason) => {
                stats.errors += 1;
                (sink.on_error)(RowError {
                    file: file.to_string(),
                    line: rec.line,
                    reason: reason.into_owned(),
                });
            }
        }
    }
    stats.add_events(layout.report_type, events);
    Ok(())
}

/// Fills `ev` (whose strings are in `slots`) from one row.
fn fill(
    l: &Layout,
    recs: &Records,
    rec: &Rec,
    ev: &mut Event,
    slots: &mut Slots,
) -> Result<(), Cow<'static, str>> {
    if rec.too_long {
        return Err(format!("row longer than {} bytes, skipped", MAX_ROW).into());
    }
    if rec.too_many {
        return Err(format!("more than {MAX_FIELDS} fields, skipped").into());
    }
    if rec.fields != l.columns {
        // A shifted row (an unquoted comma, a cut line) would put values
        // under the wrong columns: never guessed.
        return Err(format!("{} fields where the header has {}", rec.fields, l.columns).into());
    }
    let f = |i: usize| recs.field(rec, i);
    let time = f(l.time);
    if time.trim_ascii().is_empty() {
        return Err("no timestamp".into());
    }
    ev.time = Some(parse_time(time).ok_or("invalid timestamp")?);
    // The port before the address: a row wrong in both is reported as
    // IntelMQ's Shadowserver parser reports it (a bad port fails the row
    // there, a bad address only drops the address).
    ev.port = match l.port {
        Some(c) => parse_port(f(c)).map_err(|()| "invalid source port")?,
        None => None,
    };
    let ip = f(l.ip);
    if ip.trim_ascii().is_empty() {
        return Err("no source address".into());
    }
    ev.ip = Some(parse_ip(ip).ok_or("invalid source address")?);
    ev.asn = l.asn.and_then(|c| parse_asn(f(c)));
    if let Some(c) = l.geo {
        push_country(f(c), &mut slots.country);
    }
    if let Some(v) = l.family.iter().flatten().find_map(|&c| family_value(f(c))) {
        push_lower(v, &mut slots.family);
    }
    let host = l.dest_host.map(|c| f(c).trim_ascii()).unwrap_or_default();
    if !host.is_empty() {
        push_text(host, &mut slots.destination);
    } else if let Some(dip) = l.dest_ip.and_then(|c| parse_ip(f(c))) {
        let dport = l.dest_port.and_then(|c| parse_port(f(c)).ok().flatten());
        push_endpoint(dip, dport, &mut slots.destination);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::read;

    // Header rows as Shadowserver writes them. The event reports' columns
    // are listed on Shadowserver's report pages (see the module
    // documentation) and appear in this order in IntelMQ's test data of
    // 2021-2022 (intelmq/tests/bots/parsers/shadowserver/testdata/); the
    // 2023 pages add `severity` after `device_model`.
    pub(crate) const SINKHOLE_EVENTS: &str = "\"timestamp\",\"protocol\",\"src_ip\",\"src_port\",\"src_asn\",\"src_geo\",\"src_region\",\"src_city\",\"src_hostname\",\"src_naics\",\"src_sector\",\"device_vendor\",\"device_type\",\"device_model\",\"dst_ip\",\"dst_port\",\"dst_asn\",\"dst_geo\",\"dst_region\",\"dst_city\",\"dst_hostname\",\"dst_naics\",\"dst_sector\",\"public_source\",\"infection\",\"family\",\"tag\",\"application\",\"version\",\"event_id\"";
    pub(crate) const SINKHOLE_EVENTS_2023: &str = "\"timestamp\",\"protocol\",\"src_ip\",\"src_port\",\"src_asn\",\"src_geo\",\"src_region\",\"src_city\",\"src_hostname\",\"src_naics\",\"src_sector\",\"device_vendor\",\"device_type\",\"device_model\",\"severity\",\"dst_ip\",\"dst_port\",\"dst_asn\",\"dst_geo\",\"dst_region\",\"dst_city\",\"dst_hostname\",\"dst_naics\",\"dst_sector\",\"public_source\",\"infection\",\"family\",\"tag\",\"application\",\"version\",\"event_id\"";
    pub(crate) const SINKHOLE_HTTP: &str = "\"timestamp\",\"protocol\",\"src_ip\",\"src_port\",\"src_asn\",\"src_geo\",\"src_region\",\"src_city\",\"src_hostname\",\"src_naics\",\"src_sector\",\"device_vendor\",\"device_type\",\"device_model\",\"dst_ip\",\"dst_port\",\"dst_asn\",\"dst_geo\",\"dst_region\",\"dst_city\",\"dst_hostname\",\"dst_naics\",\"dst_sector\",\"public_source\",\"infection\",\"family\",\"tag\",\"application\",\"version\",\"event_id\",\"http_url\",\"http_host\",\"http_agent\",\"forwarded_by\",\"ssl_cipher\",\"http_referer\"";
    pub(crate) const SINKHOLE_DNS: &str = "\"timestamp\",\"protocol\",\"src_ip\",\"src_port\",\"src_asn\",\"src_geo\",\"src_region\",\"src_city\",\"src_hostname\",\"src_naics\",\"src_sector\",\"device_vendor\",\"device_type\",\"device_model\",\"infection\",\"family\",\"tag\",\"query_type\",\"query\",\"count\"";
    // The older reports (Shadowserver's wiki pages Drone-Report,
    // Sinkhole-HTTP-Drone, Microsoft-Sinkhole, Sinkhole6-HTTP-Drone and
    // Sinkhole-DNS; the same header rows in IntelMQ's test data of 2020).
    pub(crate) const BOTNET_DRONE: &str = "\"timestamp\",\"ip\",\"port\",\"asn\",\"geo\",\"region\",\"city\",\"hostname\",\"type\",\"infection\",\"url\",\"agent\",\"cc_ip\",\"cc_port\",\"cc_asn\",\"cc_geo\",\"cc_dns\",\"count\",\"proxy\",\"application\",\"p0f_genre\",\"p0f_detail\",\"machine_name\",\"id\",\"naics\",\"sic\",\"cc_naics\",\"cc_sic\",\"sector\",\"cc_sector\",\"ssl_cipher\",\"family\",\"tag\",\"public_source\"";
    pub(crate) const SINKHOLE_HTTP_DRONE: &str = "\"timestamp\",\"ip\",\"asn\",\"geo\",\"url\",\"type\",\"http_agent\",\"tor\",\"src_port\",\"p0f_genre\",\"p0f_detail\",\"hostname\",\"dst_port\",\"http_host\",\"http_referer\",\"http_referer_ip\",\"http_referer_asn\",\"http_referer_geo\",\"dst_ip\",\"dst_asn\",\"dst_geo\",\"naics\",\"sic\",\"http_referer_naics\",\"http_referer_sic\",\"sector\",\"ssl_cipher\",\"application\",\"version\"";
    pub(crate) const SINKHOLE6_HTTP: &str = "\"timestamp\",\"src_ip\",\"src_asn\",\"src_geo\",\"src_region\",\"src_port\",\"dst_ip\",\"dst_asn\",\"dst_geo\",\"dst_region\",\"dst_port\",\"protocol\",\"tag\",\"hostname\",\"sysdesc\",\"sysname\",\"http_url\",\"http_agent\",\"http_host\",\"http_referer\",\"http_referer_ip\",\"http_referer_asn\",\"http_referer_geo\",\"http_referer_region\",\"forwarded_by\",\"ssl_cipher\"";
    pub(crate) const SINKHOLE_DNS_OLD: &str = "\"timestamp\",\"ip\",\"port\",\"host\",\"asn\",\"geo\",\"type\",\"count\",\"query\",\"response\",\"tag\",\"naics\",\"region\",\"sector\"";
    const HONEYPOT_DARKNET: &str = "\"timestamp\",\"protocol\",\"src_ip\",\"src_port\",\"src_asn\",\"src_geo\",\"src_region\",\"src_city\",\"src_hostname\",\"src_naics\",\"src_sector\",\"device_vendor\",\"device_type\",\"device_model\",\"dst_ip\",\"dst_port\",\"dst_asn\",\"dst_geo\",\"dst_region\",\"dst_city\",\"dst_hostname\",\"dst_naics\",\"dst_sector\",\"public_source\",\"infection\",\"family\",\"tag\",\"application\",\"version\",\"event_id\",\"count\"";
    const HTTP_REFERER: &str = "\"timestamp\",\"protocol\",\"http_referer_ip\",\"http_referer_port\",\"http_referer_asn\",\"http_referer_geo\",\"http_referer_region\",\"http_referer_city\",\"http_referer_hostname\",\"http_referer_naics\",\"http_referer_sector\",\"dst_ip\",\"dst_port\",\"dst_asn\",\"dst_geo\",\"dst_region\",\"dst_city\",\"dst_hostname\",\"dst_naics\",\"dst_sector\",\"public_source\",\"infection\",\"family\",\"tag\",\"application\",\"version\",\"event_id\",\"http_url\",\"http_host\",\"http_referer\"";
    const SCAN_SMB: &str = "\"timestamp\",\"ip\",\"port\",\"hostname\",\"tag\",\"asn\",\"geo\",\"region\",\"city\",\"naics\",\"sic\",\"smb_implant\",\"arch\",\"key\",\"smbv1_support\"";

    use crate::report::testing::collect as run;

    fn ok(file: &str, text: &str) -> (Vec<Event>, Vec<RowError>, Stats) {
        let (e, r, s) = run(file, text.as_bytes());
        (e, r, s.unwrap())
    }

    fn ip(s: &str) -> Option<std::net::IpAddr> {
        Some(s.parse().unwrap())
    }

    const T: i64 = 1_614_816_000_000_000; // 2021-03-04 00:00:00 UTC

    #[test]
    fn sinkhole_events_by_header() {
        let text = format!(
            "{SINKHOLE_EVENTS}\n\
             \"2021-03-04 00:00:00\",\"tcp\",\"198.51.100.2\",17409,64496,\"PE\",\"LIMA\",\"LIMA\",,,,,,,\"203.0.113.9\",4455,64511,\"DE\",\"HESSEN\",\"FRANKFURT AM MAIN\",,518210,\"Communications, Service Provider, and Hosting Service\",\"eset\",\"victorygate.b\",\"victorygate.b\",,,,\n\
             \"2021-03-04 00:00:01\",\"tcp\",\"192.0.2.10\",44696,0,\"BE\",,,,,,,,,\"203.0.113.9\",80,,,,,,,,,\"b68-zeroaccess-2-32bit\",\"ZeroAccess\",\"b68-zeroaccess-2-32bit\",,,\n"
        );
        let (evs, errs, stats) = ok("2021-03-04-event4_sinkhole.csv", &text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs.len(), 2);
        let e = &evs[0];
        assert_eq!(e.time, Some(T));
        assert_eq!(e.ip, ip("198.51.100.2"));
        assert_eq!(e.port, Some(17409));
        assert_eq!(e.asn, Some(64496));
        assert_eq!(e.country.as_deref(), Some("PE"));
        assert_eq!(e.family.as_deref(), Some("victorygate.b"));
        assert_eq!(e.destination.as_deref(), Some("203.0.113.9:4455"));
        assert_eq!(e.report_type, "sinkhole-events");
        assert_eq!(e.file, "2021-03-04-event4_sinkhole.csv");
        assert_eq!(e.line, 2);
        // The family column, lower-cased, over the infection name; ASN 0
        // is "unknown".
        assert_eq!(evs[1].family.as_deref(), Some("zeroaccess"));
        assert_eq!(evs[1].asn, None);
        assert_eq!(evs[1].time, Some(T + 1_000_000));
        assert_eq!(evs[1].line, 3);
        assert_eq!((stats.rows, stats.events, stats.errors), (2, 2, 0));
        assert_eq!(stats.by_type.get("sinkhole-events"), Some(&2));
    }

    #[test]
    fn columns_found_by_name_not_position() {
        // The 2023 layout (a `severity` column before dst_ip) and a
        // reordered header read the same row the same way.
        let row = |cols: &str| {
            let names: Vec<&str> = cols.split(',').map(|c| c.trim_matches('"')).collect();
            let vals: Vec<String> = names
                .iter()
                .map(|n| match *n {
                    "timestamp" => "2021-03-04 00:00:00".to_string(),
                    "src_ip" => "198.51.100.2".into(),
                    "src_port" => "1234".into(),
                    "dst_ip" => "203.0.113.9".into(),
                    "dst_port" => "80".into(),
                    "family" => "Necurs".into(),
                    "severity" => "critical".into(),
                    _ => String::new(),
                })
                .collect();
            format!("{cols}\n{}\n", vals.join(","))
        };
        let mut reordered: Vec<&str> = SINKHOLE_EVENTS.split(',').collect();
        reordered.reverse();
        let reordered = reordered.join(",");
        let mut seen = Vec::new();
        for cols in [SINKHOLE_EVENTS, SINKHOLE_EVENTS_2023, reordered.as_str()] {
            let (evs, errs, _) = ok("x.csv", &row(cols));
            assert!(errs.is_empty(), "{errs:?}");
            assert_eq!(evs.len(), 1);
            seen.push(evs[0].clone());
        }
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[0], seen[2]);
        assert_eq!(seen[0].family.as_deref(), Some("necurs"));
        assert_eq!(seen[0].port, Some(1234));
    }

    #[test]
    fn sinkhole_http_ipv6_and_quoted_fields() {
        // A quoted URL with commas, doubled quotes and a line break; the
        // event is on the line the record starts on.
        let text = format!(
            "{SINKHOLE_HTTP}\n\
             \"2022-03-02 09:14:19\",\"tcp\",\"2001:0db8:1082:4d9b:7491:bf9e:3d5f:a634\",49431,64500,\"ID\",\"JAKARTA RAYA\",\"JAKARTA\",,,,,,,\"2001:db8:1:332::fe\",80,64501,\"US\",\"CALIFORNIA\",\"FREMONT\",,518210,\"Communications, Service Provider, and Hosting Service\",,\"boaxxe\",\"Boaxxe\",\"3ve\",,,,\"GET /a,b?\"\"q\"\"=1\nHTTP/1.1\",\"devps.example\",\"Mozilla/4.0 (compatible; MSIE 8.0, \"\"x\"\")\",,,\n\
             \"2022-03-02 09:15:10\",\"tcp\",\"192.0.2.77\",1,,,,,,,,,,,\"203.0.113.5\",8080,,,,,,,,,\"andromeda\",,\"avalanche-andromeda\",,,,\"/\",,,,,\n"
        );
        let (evs, errs, stats) = ok("2022-03-02-event6_sinkhole_http.csv", &text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].ip, ip("2001:db8:1082:4d9b:7491:bf9e:3d5f:a634"));
        assert_eq!(evs[0].family.as_deref(), Some("boaxxe"));
        assert_eq!(evs[0].destination.as_deref(), Some("devps.example"));
        assert_eq!(evs[0].report_type, "sinkhole-http");
        assert_eq!(evs[0].line, 2);
        // The quoted line break puts the next record on line 4; no host:
        // the sinkhole's address; no family: the infection.
        assert_eq!(evs[1].line, 4);
        assert_eq!(evs[1].family.as_deref(), Some("andromeda"));
        assert_eq!(evs[1].destination.as_deref(), Some("203.0.113.5:8080"));
        assert_eq!(stats.by_type.get("sinkhole-http"), Some(&2));
    }

    #[test]
    fn sinkhole_dns_current_and_old() {
        let text = format!(
            "{SINKHOLE_DNS}\n\
             \"2022-01-06 00:00:02\",\"udp\",\"198.51.100.0\",29614,64496,\"DE\",\"HESSEN\",\"FRANKFURT AM MAIN\",,518210,,,,,\"calypso\",\"calypso\",\"msexchange\",\"A\",\"YolkIsh.example\",1\n"
        );
        let (evs, errs, _) = ok("event4_sinkhole_dns.csv", &text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs[0].report_type, "sinkhole-dns");
        assert_eq!(evs[0].family.as_deref(), Some("calypso"));
        assert_eq!(evs[0].destination.as_deref(), Some("YolkIsh.example"));
        assert_eq!(evs[0].port, Some(29614));
        // The first DNS report: `type` is the query type (never the
        // family), `tag` the infection.
        let text = format!(
            "{SINKHOLE_DNS_OLD}\n\
             \"2020-12-21 00:00:00\",\"198.51.100.1\",40159,,64496,\"CZ\",\"A\",1,\"4.wiNsrw.example\",,\"boaxxe\",0,\"PRAHA\",\n"
        );
        let (evs, errs, _) = ok("sinkhole_dns.csv", &text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs[0].report_type, "sinkhole-dns");
        assert_eq!(evs[0].family.as_deref(), Some("boaxxe"));
        assert_eq!(evs[0].destination.as_deref(), Some("4.wiNsrw.example"));
        assert_eq!(evs[0].country.as_deref(), Some("CZ"));
    }

    #[test]
    fn drone_and_old_http_sinkhole_reports() {
        let row = "\"2011-04-23 00:00:05\",\"198.51.100.130\",3218,0,\"AU\",\"VICTORIA\",\"MELBOURNE\",,\"tcp\",\"Dorkbot\",,,\"203.0.113.166\",80,64500,\"US\",,1,,,\"Windows\",\"2000 SP4, XP SP1+\",,,541690,874899,0,0,,,,\"dorkbot-x\",\"sinkhole\",\"AnubisNetworks\"";
        let text = format!("{BOTNET_DRONE}\n{row}\n");
        let (evs, errs, _) = ok("2011-04-23-botnet_drone-au.csv", &text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs[0].report_type, "botnet-drone");
        // The infection first, as Shadowserver maps this report.
        assert_eq!(evs[0].family.as_deref(), Some("dorkbot"));
        assert_eq!(evs[0].port, Some(3218));
        assert_eq!(evs[0].destination.as_deref(), Some("203.0.113.166:80"));
        // The file name can tell the older "drone" name, and nothing else.
        let (evs, _, _) = ok("2011-04-23-drone-au.csv", &text);
        assert_eq!(evs[0].report_type, "drone");
        let (evs, _, _) = ok("report.csv", &text);
        assert_eq!(evs[0].report_type, "botnet-drone");
        // The recipient's part of the name is not the report's.
        let (evs, _, _) = ok("2011-04-23-botnet_drone-antispam_cert-asn.csv", &text);
        assert_eq!(evs[0].report_type, "botnet-drone");

        let text = format!(
            "{SINKHOLE_HTTP_DRONE}\n\
             \"2018-03-21 00:00:07\",\"198.51.100.6\",64497,\"AT\",\"GET /search?q=0 HTTP/1.0\",\"downadup\",\"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1)\",,49121,,,\"198-51-100-6.example.net\",80,\"c2.example\",,,,,\"203.0.113.182\",64499,\"US\",518210,737415,,,,,,\n"
        );
        let (evs, errs, _) = ok("sinkhole_http_drone.csv", &text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs[0].report_type, "sinkhole-http");
        assert_eq!(evs[0].family.as_deref(), Some("downadup"));
        assert_eq!(evs[0].port, Some(49121));
        assert_eq!(evs[0].destination.as_deref(), Some("c2.example"));

        let text = format!(
            "{SINKHOLE6_HTTP}\n\
             \"2018-04-08 09:17:36\",\"2001:0db8:abcd:0012:0000:0000:0000:0000\",64511,\"AT\",,36738,\"2001:db8:1034::2\",64511,\"NL\",,80,,\"ghost-push\",,,,\"POST /okla/api/1 HTTP/1.1\",,,,,,,,,\n"
        );
        let (evs, errs, _) = ok("sinkhole6_http.csv", &text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs[0].report_type, "sinkhole-http");
        assert_eq!(evs[0].family.as_deref(), Some("ghost-push"));
        assert_eq!(evs[0].ip, ip("2001:db8:abcd:12::"));
        assert_eq!(evs[0].destination.as_deref(), Some("[2001:db8:1034::2]:80"));
    }

    #[test]
    fn wrong_and_missing_headers_name_the_file() {
        for (file, text, words) in [
            ("a.csv", "ip,port\n1,2\n".to_string(), "timestamp"),
            (
                "b.csv",
                "<html><body>Not found</body></html>\n".to_string(),
                "header",
            ),
            ("c.csv", format!("{HONEYPOT_DARKNET}\n"), "darknet"),
            (
                "event4_honeypot_darknet.csv",
                format!("{SINKHOLE_EVENTS}\n"),
                "honeypot",
            ),
            ("d.csv", format!("{HTTP_REFERER}\n"), "referring web sites"),
            ("e.csv", format!("{SCAN_SMB}\n"), "scan report"),
            ("f.csv", "timestamp,src_ip,src_port\n".to_string(), "dst_ip"),
            ("g.csv", String::new(), "empty"),
            ("h.csv", "\n\n  \n".to_string(), "empty"),
        ] {
            let (evs, errs, res) = run(file, text.as_bytes());
            let err = res.expect_err(file).to_string();
            assert!(err.starts_with(&format!("{file}: ")), "{err}");
            assert!(err.contains(words), "{file}: {err}");
            assert!(evs.is_empty() && errs.is_empty());
        }
    }

    #[test]
    fn bad_rows_are_reported_with_file_and_line() {
        let text = format!(
            "{SINKHOLE_EVENTS}\n\
             \"2021-03-04 00:00:00\",\"tcp\",\"999.1.1.1\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n\
             \"2021-03-04 00:00:00\",\"tcp\",,1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n\
             \"yesterday\",\"tcp\",\"192.0.2.1\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n\
             ,\"tcp\",\"192.0.2.1\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n\
             \"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.1\",\"http\",,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n\
             \"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.1\",1,,,\n\
             \"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.1\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,,,\n\
             \"2021-03-04 00:00:00\",\"tcp\",\"10.1.2.3\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n\
             \"2021-03-04 00:00:00\",\"tcp\",\"::\",,,,,,,,,,,,,,,,,,,,,,,,,,,\n"
        );
        let (evs, errs, stats) = ok("r.csv", &text);
        let got: Vec<(u64, &str)> = errs.iter().map(|e| (e.line, e.reason.as_str())).collect();
        assert_eq!(
            got,
            [
                (2, "invalid source address"),
                (3, "no source address"),
                (4, "invalid timestamp"),
                (5, "no timestamp"),
                (6, "invalid source port"),
                (7, "7 fields where the header has 30"),
                (8, "32 fields where the header has 30"),
            ]
        );
        assert_eq!(errs[0].to_string(), "r.csv:2: invalid source address");
        // Private and unspecified sources are read (and never notified).
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].ip, ip("10.1.2.3"));
        assert_eq!(evs[0].line, 9);
        assert!(!crate::report::is_notifiable(evs[0].ip.unwrap()));
        assert_eq!(evs[1].ip, ip("::"));
        assert_eq!(evs[1].family, None);
        assert_eq!(evs[1].port, None);
        assert_eq!((stats.rows, stats.events, stats.errors), (9, 2, 7));
    }

    #[test]
    fn invalid_utf8() {
        // In a column not read: the row is read. In the family: replaced,
        // not dropped. In the address: the row is an error.
        let mut text = format!("{SINKHOLE_EVENTS}\n").into_bytes();
        text.extend_from_slice(b"\"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.1\",1,,,\"K\xf6ln\",,,,,,,,,,,,,,,,,,\"x\",\"b\xe4d\",,,,\n");
        text.extend_from_slice(
            b"\"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.\xff\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n",
        );
        let (evs, errs, res) = run("u.csv", &text);
        res.unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].family.as_deref(), Some("b\u{fffd}d"));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 3);
        assert_eq!(errs[0].reason, "invalid source address");
    }

    #[test]
    fn crlf_blank_lines_and_a_bom() {
        let text = format!(
            "\u{feff}{SINKHOLE_EVENTS}\r\n\r\n\
             \"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.1\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\r\n\
             \r\n   \r\n\
             \"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.2\",2,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,"
        );
        let (evs, errs, stats) = ok("c.csv", &text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 6]);
        assert_eq!(stats.rows, 2);
    }

    #[test]
    fn a_3_mib_row_is_skipped_and_the_rest_read() {
        let good =
            "\"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.1\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n";
        // A quoted field of 3 MiB holding line breaks, then an unquoted one.
        let big: String = "ab\n,\"\"".repeat((3 << 20) / 6);
        let text = format!(
            "{SINKHOLE_EVENTS}\n{good}\"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.9\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,\"{big}\",\n{good}{}\n{good}",
            "y".repeat(3 << 20)
        );
        let newlines_in_big = big.matches('\n').count() as u64;
        let mut recs = Records::new();
        let mut r: &[u8] = text.as_bytes();
        let mut lines = Vec::new();
        while let Some(rec) = recs.next(&mut r).unwrap() {
            lines.push((rec.line, rec.too_long));
            assert!(recs.buffer_len() <= MAX_ROW);
        }
        assert_eq!(
            lines,
            [
                (1, false),
                (2, false),
                (3, true),
                (4 + newlines_in_big, false),
                (5 + newlines_in_big, true),
                (6 + newlines_in_big, false),
            ]
        );
        let (evs, errs, stats) = ok("big.csv", &text);
        assert_eq!(evs.len(), 3);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].line, 3);
        assert_eq!(errs[0].reason, "row longer than 1048576 bytes, skipped");
        assert_eq!(evs[1].line, 4 + newlines_in_big);
        assert_eq!(stats.errors, 2);
    }

    #[test]
    fn many_fields_are_capped() {
        let text = format!(
            "{SINKHOLE_EVENTS}\n{}\n\"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.1\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n",
            ",".repeat(100_000)
        );
        let (evs, errs, _) = ok("m.csv", &text);
        assert_eq!(evs.len(), 1);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].reason, "more than 4096 fields, skipped");
    }

    /// An endless report: the header, then the same row again and again,
    /// with a 5 MiB row now and then.
    struct Endless {
        chunk: Vec<u8>,
        pos: usize,
        left: u64,
    }

    impl io::Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Ok(0);
            }
            let avail = &self.chunk[self.pos..];
            let n = avail.len().min(buf.len()).min(self.left as usize);
            buf[..n].copy_from_slice(&avail[..n]);
            self.pos = (self.pos + n) % self.chunk.len();
            self.left -= n as u64;
            Ok(n)
        }
    }

    /// Peak resident memory of this process (Linux), in bytes.
    fn peak_rss() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb << 10)
    }

    #[test]
    fn a_2_gib_report_streams_in_bounded_memory() {
        // 2 GiB of report, generated as it is read: rows, a 5 MiB row and a
        // 2 MiB quoted field full of line breaks, over and over. Every row
        // passes through the same capped buffers.
        let row =
            "\"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.1\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,,\n";
        let mut chunk = row.repeat(2000).into_bytes();
        chunk.extend_from_slice(format!("{}\n", "z".repeat(5 << 20)).as_bytes());
        chunk.extend_from_slice(
            format!(
                "\"2021-03-04 00:00:00\",\"tcp\",\"192.0.2.1\",1,,,,,,,,,,,,,,,,,,,,,,\"x\",,,\"{}\",\n",
                "a,\"\"\n".repeat((2 << 20) / 5)
            )
            .as_bytes(),
        );
        let header = format!("{SINKHOLE_EVENTS}\n");
        // Whole chunks, so that the last row is not cut.
        let chunks = (2u64 << 30).div_ceil(chunk.len() as u64);
        let body = Endless {
            chunk: chunk.clone(),
            pos: 0,
            left: chunks * chunk.len() as u64,
        };
        let input = io::BufReader::new(io::Read::chain(header.as_bytes(), body));
        let (mut events, mut too_long) = (0u64, 0u64);
        let stats = read(input, "2gib.csv", &mut |_: &Event| events += 1, &mut |e| {
            assert!(e.reason.starts_with("row longer than"), "{e}");
            too_long += 1
        })
        .unwrap();
        assert_eq!(events, chunks * 2000);
        assert_eq!(too_long, chunks * 2);
        assert_eq!(stats.rows, events + too_long);
        // Nothing near the size of the report was ever held (the other
        // tests of this binary hold a few MiB at most).
        if let Some(peak) = peak_rss() {
            assert!(peak < 256 << 20, "peak RSS {peak}");
        }
    }

    #[test]
    fn sniffs_the_report_type_from_the_header() {
        for (h, want) in [
            (SINKHOLE_EVENTS, Some("sinkhole-events")),
            (SINKHOLE_EVENTS_2023, Some("sinkhole-events")),
            (SINKHOLE_HTTP, Some("sinkhole-http")),
            (SINKHOLE_DNS, Some("sinkhole-dns")),
            (BOTNET_DRONE, Some("botnet-drone")),
            (SINKHOLE_HTTP_DRONE, Some("sinkhole-http")),
            (SINKHOLE6_HTTP, Some("sinkhole-http")),
            (SINKHOLE_DNS_OLD, Some("sinkhole-dns")),
            (HONEYPOT_DARKNET, None),
            (HTTP_REFERER, None),
            (SCAN_SMB, None),
        ] {
            assert_eq!(sniff(format!("{h}\r\n\"2021").as_bytes()), want, "{h}");
        }
        assert_eq!(
            file_stem("/r/2016-11-30-botnet_drone-de-geo.csv.gz"),
            "botnet_drone-de-geo"
        );
        assert_eq!(file_stem("drone.csv"), "drone");
        assert_eq!(
            file_stem("2016-11-30\u{e9}t\u{e9}.csv"),
            "2016-11-30\u{e9}t\u{e9}"
        );
        assert_eq!(file_stem("C:\\r\\2016-11-30_drone.csv"), "drone");
    }
}
