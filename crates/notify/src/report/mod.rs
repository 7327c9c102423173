//! The reports, read into one normalised [`Event`] per row.
//!
//! Three kinds, recognised by their content (the file name is a hint at
//! most, never required):
//!
//! * Shadowserver's CSV reports (the sinkhole, sinkhole-HTTP,
//!   sinkhole-DNS, drone and botnet-drone reports, IPv4 and IPv6, current
//!   and older column names), by their header row ([`shadowserver`]);
//! * IntelMQ events, one JSON object per line as IntelMQ's file output
//!   writes them ([`intelmq`]);
//! * takedown's own hunt output, its `"type":"sighting"` lines
//!   ([`sightings`]).
//!
//! Any of them may be gzipped. Every report is read as a stream, in
//! bounded memory whatever its size. A row that cannot be read is a
//! [`RowError`] naming the file, the line and the reason, and the rest is
//! read; a file that is not a report at all is a [`ReportError`].
//!
//! Events are handed to the caller one at a time, by reference, in one
//! [`Event`] whose strings are reused from row to row: reading allocates
//! nothing per row (the caller clones what it keeps).

mod fields;
pub mod intelmq;
pub mod shadowserver;
pub mod sightings;

pub use fields::is_notifiable;

use crate::Event;
use flate2::bufread::MultiGzDecoder;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::Path;

/// A row (or line) of a report that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct RowError {
    /// The report file.
    pub file: String,
    /// The line the row starts on (1-based).
    pub line: u64,
    /// Why it was not read (a short fixed text).
    pub reason: String,
}

/// A file that could not be read as a report at all.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// It could not be opened or read (a truncated or corrupt gzip stream
    /// is one): what was read before is already delivered.
    #[error("{file}: line {line}: {source}")]
    Io {
        /// The report file.
        file: String,
        /// The line reached.
        line: u64,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Not one of the report kinds read here.
    #[error("{file}: {reason}")]
    Unrecognised {
        /// The report file.
        file: String,
        /// What it looks like instead.
        reason: String,
    },
    /// A CSV whose header is not that of a report read here (wrong or
    /// missing columns, another Shadowserver report).
    #[error("{file}: {reason}")]
    Header {
        /// The report file.
        file: String,
        /// What is wrong with the header.
        reason: String,
    },
}

/// What a report is, judged by its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ReportKind {
    /// A Shadowserver CSV report, with its report type
    /// (`sinkhole-events`, `sinkhole-http`, `sinkhole-dns`,
    /// `botnet-drone`).
    Shadowserver(String),
    /// IntelMQ events (NDJSON).
    IntelMq,
    /// takedown's hunt output (NDJSON with `"type":"sighting"` lines).
    Hunt,
}

/// What reading reports found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Rows (CSV records, NDJSON lines) read, header and blank lines not
    /// counted.
    pub rows: u64,
    /// Events delivered.
    pub events: u64,
    /// Rows that could not be read (each one delivered as a [`RowError`]).
    pub errors: u64,
    /// Rows read that are deliberately not events: hunt lines of other
    /// types, sightings without a client.
    pub skipped: u64,
    /// Events per report type.
    pub by_type: BTreeMap<String, u64>,
}

impl Stats {
    /// Adds the counts of another read (of another file).
    pub fn merge(&mut self, other: &Stats) {
        self.rows += other.rows;
        self.events += other.events;
        self.errors += other.errors;
        self.skipped += other.skipped;
        for (t, n) in &other.by_type {
            *self.by_type.entry(t.clone()).or_default() += n;
        }
    }

    fn add_events(&mut self, report_type: &str, n: u64) {
        self.events += n;
        if n > 0 {
            *self.by_type.entry(report_type.to_string()).or_default() += n;
        }
    }
}

/// The caller's two callbacks.
pub(crate) struct Sink<'a> {
    on_event: &'a mut dyn FnMut(&Event),
    on_error: &'a mut dyn FnMut(RowError),
}

/// The strings of the reused [`Event`], kept while the event does not
/// hold them so that their capacity survives from row to row.
#[derive(Default)]
pub(crate) struct Slots {
    country: String,
    family: String,
    destination: String,
}

impl Slots {
    /// Takes the event's strings back (emptied) and clears its values.
    fn reclaim(&mut self, ev: &mut Event) {
        fn back(opt: &mut Option<String>, slot: &mut String) {
            if let Some(s) = opt.take() {
                *slot = s;
            }
            slot.clear();
        }
        back(&mut ev.country, &mut self.country);
        back(&mut ev.family, &mut self.family);
        back(&mut ev.destination, &mut self.destination);
        ev.time = None;
        ev.ip = None;
        ev.port = None;
        ev.asn = None;
    }

    /// Gives the filled strings to the event (an empty one is `None`).
    fn put(&mut self, ev: &mut Event) {
        fn give(slot: &mut String, opt: &mut Option<String>) {
            if !slot.is_empty() {
                *opt = Some(std::mem::take(slot));
            }
        }
        give(&mut self.country, &mut ev.country);
        give(&mut self.family, &mut ev.family);
        give(&mut self.destination, &mut ev.destination);
    }
}

/// How much of a report is looked at to tell its kind: up to its first
/// line break, at most this many bytes.
const HEAD: usize = 64 << 10;

/// Tells a report's kind from its first bytes (decompressed): a
/// Shadowserver CSV by its header row, IntelMQ events by their keys
/// (`source.ip`, `classification.taxonomy`, `feed.name`, ...), takedown's
/// hunt output by its record types (`"type":"sighting"`). `None` for
/// anything else, including Shadowserver reports of kinds not read here
/// ([`read`] says why).
pub fn sniff(head: &[u8]) -> Option<ReportKind> {
    let t = strip_bom(head).trim_ascii_start();
    if t.first() == Some(&b'{') {
        let line = t.split(|&c| c == b'\n').next().unwrap_or(t);
        json_kind(line)
    } else if t.is_empty() {
        None
    } else {
        shadowserver::sniff(t).map(|t| ReportKind::Shadowserver(t.to_string()))
    }
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b)
}

/// The record types of takedown's scan and hunt NDJSON.
const TAKEDOWN_TYPES: &[&[u8]] = &[
    b"sighting",
    b"hunt-summary",
    b"flux",
    b"dga-suspect",
    b"finding",
    b"summary",
];

/// Keys only IntelMQ events have.
const INTELMQ_KEYS: &[&[u8]] = &[
    b"\"source.ip\"",
    b"\"classification.taxonomy\"",
    b"\"classification.type\"",
    b"\"classification.identifier\"",
    b"\"feed.name\"",
    b"\"time.observation\"",
    b"\"time.source\"",
    b"\"malware.name\"",
    b"\"source.fqdn\"",
];

fn json_kind(line: &[u8]) -> Option<ReportKind> {
    if let Some(v) = top_type(line)
        && TAKEDOWN_TYPES.contains(&v)
    {
        return Some(ReportKind::Hunt);
    }
    if INTELMQ_KEYS
        .iter()
        .any(|k| memchr::memmem::find(line, k).is_some())
    {
        return Some(ReportKind::IntelMq);
    }
    None
}

/// The string value of a `"type"` key in a JSON line (a quick look for
/// telling the kind; the line is parsed properly later).
fn top_type(line: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(line.get(from..)?, b"\"type\"") {
        let after = line.get(from + i + 6..)?;
        let rest = after.trim_ascii_start();
        if let Some(rest) = rest.strip_prefix(b":") {
            let rest = rest.trim_ascii_start();
            if let Some(rest) = rest.strip_prefix(b"\"") {
                let end = memchr::memchr(b'"', rest)?;
                return rest.get(..end);
            }
        }
        from += i + 6;
    }
    None
}

/// Reads one report, whatever its kind (told by its content; gzip by
/// its magic number): each row is an event for `on_event` or an error
/// for `on_error`. `file` names the report in events and errors (its file
/// name is also a hint for the report type, never required). Fails only
/// when the file is not a report read here, or cannot be read; what was
/// read before a read error is already delivered.
pub fn read(
    r: impl BufRead,
    file: &str,
    on_event: &mut dyn FnMut(&Event),
    on_error: &mut dyn FnMut(RowError),
) -> Result<Stats, ReportError> {
    let mut r = r;
    let mut sink = Sink { on_event, on_error };
    let mut stats = Stats::default();
    read_any(&mut r, file, &mut sink, &mut stats, true)?;
    Ok(stats)
}

/// [`read`] of a file.
pub fn read_path(
    path: &Path,
    on_event: &mut dyn FnMut(&Event),
    on_error: &mut dyn FnMut(RowError),
) -> Result<Stats, ReportError> {
    let file = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| ReportError::Io {
        file: file.clone(),
        line: 0,
        source: e,
    })?;
    read(
        BufReader::with_capacity(256 << 10, f),
        &file,
        on_event,
        on_error,
    )
}

fn read_any(
    r: &mut dyn BufRead,
    file: &str,
    sink: &mut Sink<'_>,
    stats: &mut Stats,
    may_unzip: bool,
) -> Result<(), ReportError> {
    let head = read_head(r).map_err(|e| ReportError::Io {
        file: file.to_string(),
        line: 1,
        source: e,
    })?;
    let unrecognised = |reason: &str| ReportError::Unrecognised {
        file: file.to_string(),
        reason: reason.to_string(),
    };
    if head.starts_with(&[0x1f, 0x8b]) {
        if !may_unzip {
            return Err(unrecognised("gzip inside gzip: not a report"));
        }
        let inner = Cursor::new(head).chain(r);
        let mut gz = BufReader::with_capacity(256 << 10, MultiGzDecoder::new(inner));
        return read_any(&mut gz, file, sink, stats, false);
    }
    for (magic, what) in [
        (&b"PK\x03\x04"[..], "a ZIP archive: unpack it first"),
        (b"\xfd7zXZ\x00", "xz-compressed: decompress it first"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it first"),
        (b"BZh", "bzip2-compressed: decompress it first"),
    ] {
        if head.starts_with(magic) {
            return Err(unrecognised(what));
        }
    }
    let t = strip_bom(&head).trim_ascii_start();
    if t.is_empty() {
        return Err(unrecognised("empty file"));
    }
    let json = t.first() == Some(&b'{');
    let kind = if json { json_kind(t) } else { None };
    let bom = head.len() - strip_bom(&head).len();
    let mut start = Cursor::new(head);
    if json {
        // Past the byte-order mark `sniff` looked past, or the first
        // line would not parse as JSON (csv-core skips it by itself).
        start.set_position(bom as u64);
    }
    let mut all = start.chain(r);
    if json {
        match kind {
            Some(ReportKind::Hunt) => sightings::read(&mut all, file, sink, stats),
            Some(ReportKind::IntelMq) => intelmq::read(&mut all, file, sink, stats),
            _ => Err(unrecognised(
                "JSON, but neither IntelMQ events nor takedown hunt records",
            )),
        }
    } else {
        shadowserver::read(&mut all, file, sink, stats)
    }
}

/// The start of a report: up to its first line break, at most [`HEAD`]
/// bytes (consumed from `r`; the caller chains them back).
fn read_head(r: &mut dyn BufRead) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        let room = HEAD - head.len();
        let take = buf.len().min(room);
        let (n, done) = match memchr::memchr(b'\n', &buf[..take]) {
            Some(i) => (i + 1, true),
            None => (take, take == room),
        };
        head.extend_from_slice(&buf[..n]);
        r.consume(n);
        // A blank first line (after a byte-order mark) says nothing yet.
        if done && (head.len() >= HEAD || !strip_bom(&head).trim_ascii().is_empty()) {
            break;
        }
    }
    Ok(head)
}

/// Lines of an NDJSON stream, each at most `max` bytes (a longer one is
/// What one line of a JSON-lines report gave.
pub(crate) enum Filled {
    /// The event was filled.
    Event,
    /// A valid line that is not an event to notify (counted as skipped).
    Skipped,
}

/// Reads a report of one JSON object per line (IntelMQ events, hunt
/// sightings): `fill` reads each non-blank line into the reused event;
/// an event goes to the sink with its line number, a line `fill`
/// refuses (or one longer than [`MAX_LINE`]) is a [`RowError`], and the
/// rest is read.
pub(crate) fn read_json_lines(
    r: &mut dyn BufRead,
    file: &str,
    report_type: &str,
    sink: &mut Sink<'_>,
    stats: &mut Stats,
    mut fill: impl FnMut(&[u8], &mut Event, &mut Slots) -> Result<Filled, &'static str>,
) -> Result<(), ReportError> {
    let mut lines = Lines::new(MAX_LINE);
    let mut ev = Event {
        report_type: report_type.to_string(),
        file: file.to_string(),
        ..Event::default()
    };
    let mut slots = Slots::default();
    let mut events = 0u64;
    loop {
        let n = lines.number() + 1;
        let line = match lines.next(r) {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                return Err(ReportError::Io {
                    file: file.to_string(),
                    line: n,
                    source: e,
                });
            }
        };
        let res = match line {
            Line::TooLong => Err(format!("line longer than {MAX_LINE} bytes, skipped")),
            Line::Text(t) if t.trim_ascii().is_empty() => continue,
            Line::Text(t) => {
                slots.reclaim(&mut ev);
                fill(t, &mut ev, &mut slots).map_err(str::to_string)
            }
        };
        stats.rows += 1;
        match res {
            Ok(Filled::Event) => {
                slots.put(&mut ev);
                ev.line = n;
                events += 1;
                (sink.on_event)(&ev);
            }
            Ok(Filled::Skipped) => stats.skipped += 1,
            Err(reason) => {
                stats.errors += 1;
                (sink.on_error)(RowError {
                    file: file.to_string(),
                    line: n,
                    reason,
                });
            }
        }
    }
    stats.add_events(report_type, events);
    Ok(())
}

/// skipped to its end and reported), in one reused buffer.
pub(crate) struct Lines {
    buf: Vec<u8>,
    line: u64,
    max: usize,
}

/// One line from [`Lines::next`].
pub(crate) enum Line<'a> {
    /// Its text, without the line break.
    Text(&'a [u8]),
    /// It was longer than the limit.
    TooLong,
}

impl Lines {
    pub(crate) fn new(max: usize) -> Lines {
        Lines {
            buf: Vec::new(),
            line: 0,
            max,
        }
    }

    /// The number of the line last returned (1-based).
    pub(crate) fn number(&self) -> u64 {
        self.line
    }

    /// The next line, `None` at the end.
    pub(crate) fn next(&mut self, r: &mut dyn BufRead) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut any = false;
        let mut too_long = false;
        loop {
            let chunk = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (part, used, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (&chunk[..i], i + 1, true),
                None => (chunk, chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + part.len() > self.max {
                    too_long = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(part);
                }
            }
            r.consume(used);
            if done {
                break;
            }
        }
        self.line += 1;
        if too_long {
            return Ok(Some(Line::TooLong));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line::Text(&self.buf)))
    }
}

/// Longest NDJSON line read (an IntelMQ event carries its raw input,
/// base64; a hunt sighting is a few kB).
pub const MAX_LINE: usize = 4 << 20;

/// The readers' unit tests' one way to read a report.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Reads `data` as the report `file`: its events, its row errors and
    /// the result.
    pub(crate) fn collect(
        file: &str,
        data: &[u8],
    ) -> (Vec<Event>, Vec<RowError>, Result<Stats, ReportError>) {
        let mut evs = Vec::new();
        let mut errs = Vec::new();
        let res = read(data, file, &mut |e: &Event| evs.push(e.clone()), &mut |e| {
            errs.push(e)
        });
        (evs, errs, res)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::collect;
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    const CSV: &str = concat!(
        "\"timestamp\",\"protocol\",\"src_ip\",\"src_port\",\"src_asn\",\"src_geo\",\"dst_ip\",\"dst_port\",\"infection\",\"family\",\"tag\"\n",
        "\"2021-03-04 00:00:00\",\"tcp\",\"198.51.100.2\",17409,64496,\"PE\",\"203.0.113.9\",4455,\"eset\",\"victorygate.b\",\n",
    );

    #[test]
    fn sniffs_each_kind() {
        assert_eq!(
            sniff(CSV.as_bytes()),
            Some(ReportKind::Shadowserver("sinkhole-events".into()))
        );
        assert_eq!(
            sniff(b"\xef\xbb\xbf\n{\"feed.name\": \"x\", \"source.ip\": \"192.0.2.1\"}\n"),
            Some(ReportKind::IntelMq)
        );
        assert_eq!(
            sniff(br#"{"type": "sighting","version":1,"client":"192.0.2.1"}"#),
            Some(ReportKind::Hunt)
        );
        assert_eq!(sniff(br#"{"type":"flux"}"#), Some(ReportKind::Hunt));
        // A "type" inside a string or under another name is not the key.
        assert_eq!(
            sniff(br#"{"classification.type":"infected-system","raw":"\"type\":\"sighting\""}"#),
            Some(ReportKind::IntelMq)
        );
        assert_eq!(sniff(br#"{"a":1}"#), None);
        assert_eq!(sniff(b"a,b,c\n1,2,3\n"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn a_byte_order_mark_before_ndjson_is_not_a_bad_first_line() {
        // Recognised by `sniff` past the mark, so read past it too: the
        // first event is an event, on line 1 (and for hunt output too).
        for (text, kind) in [
            (
                "\u{feff}{\"feed.name\": \"x\", \"source.ip\": \"192.0.2.1\"}\n",
                "intelmq",
            ),
            ("\u{feff}{\"type\":\"flux\"}\n{\"type\":\"flux\"}\n", "hunt"),
        ] {
            let (evs, errs, res) = collect("bom.json", text.as_bytes());
            let stats = res.unwrap();
            assert!(errs.is_empty(), "{kind}: {errs:?}");
            assert_eq!(stats.errors, 0, "{kind}");
            if kind == "intelmq" {
                assert_eq!(evs.len(), 1);
                assert_eq!(evs[0].line, 1);
            } else {
                assert_eq!(stats.skipped, 2);
            }
        }
    }

    #[test]
    fn a_byte_order_mark_then_a_blank_line_is_not_an_empty_file() {
        // As a spreadsheet on Windows may save it: the mark, an empty
        // line, then the report (rows on lines 3 and 4).
        let text = format!("\u{feff}\r\n{}", CSV.replace('\n', "\r\n"));
        let text = format!("{text}{}", &text[text.rfind("\"2021").unwrap()..]);
        let (evs, errs, res) = collect("bom.csv", text.as_bytes());
        res.unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn gzip_by_magic_and_read_path() {
        let dir = tempfile::tempdir().unwrap();
        let gz = gzip(CSV.as_bytes());
        // Two members, as `cat a.gz b.gz` makes.
        let mut two = gz.clone();
        two.extend_from_slice(&gzip(&CSV.as_bytes()[CSV.find('\n').unwrap() + 1..]));
        let p = dir.path().join("report-without-extension");
        std::fs::write(&p, &two).unwrap();
        let mut evs = Vec::new();
        let stats = read_path(&p, &mut |e: &Event| evs.push(e.clone()), &mut |e| {
            panic!("{e}")
        })
        .unwrap();
        assert_eq!(stats.events, 2);
        assert_eq!(evs[1].line, 3);
        assert_eq!(evs[0].file, p.display().to_string());
        assert_eq!(evs[0].family.as_deref(), Some("victorygate.b"));

        // Truncated: what came before the cut is delivered, then an error.
        let (evs, _, res) = collect("cut.csv.gz", &gz[..gz.len() - 12]);
        let err = res.unwrap_err();
        assert!(matches!(err, ReportError::Io { .. }), "{err}");
        assert!(err.to_string().starts_with("cut.csv.gz: "));
        assert!(evs.len() <= 1);
        // Gzip inside gzip is not a report.
        let (_, _, res) = collect("x.gz", &gzip(&gz));
        assert!(res.unwrap_err().to_string().contains("gzip inside gzip"));
        let missing = read_path(&dir.path().join("nope"), &mut |_| {}, &mut |_| {});
        assert!(matches!(missing, Err(ReportError::Io { .. })));
    }

    #[test]
    fn not_reports() {
        for (data, words) in [
            (&b""[..], "empty file"),
            (b"\n \n", "empty file"),
            (b"PK\x03\x04rest", "ZIP"),
            (b"{\"a\":1}\n", "neither IntelMQ"),
        ] {
            let (_, _, res) = collect("n", data);
            let e = res.unwrap_err().to_string();
            assert!(e.starts_with("n: ") && e.contains(words), "{e}");
        }
    }

    #[test]
    fn a_long_first_line_and_a_slow_reader() {
        // A reader handing out one byte at a time still gets its header
        // and rows read (the head is gathered across reads).
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match (self.0.split_first(), buf.first_mut()) {
                    (Some((b, rest)), Some(out)) => {
                        *out = *b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let r = BufReader::with_capacity(1, OneByte(CSV.as_bytes()));
        let mut n = 0;
        read(r, "slow.csv", &mut |_| n += 1, &mut |e| panic!("{e}")).unwrap();
        assert_eq!(n, 1);
        let mut lines = Lines::new(8);
        let mut r: &[u8] = b"short\r\nthis one is too long\nok";
        assert!(matches!(
            lines.next(&mut r).unwrap(),
            Some(Line::Text(b"short"))
        ));
        assert!(matches!(lines.next(&mut r).unwrap(), Some(Line::TooLong)));
        assert!(matches!(
            lines.next(&mut r).unwrap(),
            Some(Line::Text(b"ok"))
        ));
        assert_eq!(lines.number(), 3);
        assert!(lines.next(&mut r).unwrap().is_none());
    }

    #[test]
    fn garbage_never_panics() {
        // Seeded mutations of each kind of report: whatever comes in, every
        // row is an event, a row error or a skip, or the file is refused.
        let seeds: [&[u8]; 3] = [
            CSV.as_bytes(),
            br#"{"feed.name":"x","source.ip":"192.0.2.1","source.port":1,"time.source":"2021-03-04T00:00:00+00:00","malware.name":"m"}"#,
            br#"{"type":"sighting","client":"192.0.2.1","indicator":{"type":"domain","value":"a.example"},"first_seen":"2026-12-01T08:00:00Z","count":1}"#,
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            let seed = seeds[round % seeds.len()];
            let mut data = seed.repeat(1 + (next() % 3) as usize);
            for _ in 0..(next() % 12) {
                let i = (next() as usize) % data.len();
                match next() % 4 {
                    0 => data[i] = next() as u8,
                    1 => data.insert(i, b"\",\n\r{}:\xff"[(next() % 8) as usize]),
                    2 => {
                        data.remove(i);
                    }
                    _ => data.truncate(i.max(1)),
                }
                if data.is_empty() {
                    data.push(b'x');
                }
            }
            let (evs, errs, res) = collect("g", &data);
            if let Ok(s) = res {
                assert_eq!(s.events as usize, evs.len());
                assert_eq!(s.errors as usize, errs.len());
                assert_eq!(s.rows, s.events + s.errors + s.skipped);
            }
        }
    }

    #[test]
    fn stats_merge() {
        let mut a = Stats::default();
        a.add_events("hunt", 2);
        a.rows = 3;
        let mut b = Stats::default();
        b.add_events("hunt", 1);
        b.add_events("intelmq", 4);
        b.errors = 1;
        a.merge(&b);
        assert_eq!(a.events, 7);
        assert_eq!(a.errors, 1);
        assert_eq!(a.by_type.get("hunt"), Some(&3));
        assert_eq!(a.by_type.get("intelmq"), Some(&4));
    }
}
