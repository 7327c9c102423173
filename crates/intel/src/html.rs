//! The report a person reads: one self-contained HTML5 file.
//!
//! Made for an incident responder or a police examiner who opens it in a
//! browser and prints it: a summary per run (host), the detections grouped
//! by file with their container chains, the actions taken, the problems met,
//! the signature sets used and the families seen; for the runs of
//! `takedown hunt`, the sightings: which client was seen using which
//! indicator (or DGA), how often, first and last.
//!
//! Everything in it that came from a scan is hostile: file names, rule
//! names, metadata, error messages. The file loads nothing (inline CSS, no
//! script, no image, no font, a Content-Security-Policy that forbids all
//! but inline style), every value is HTML-escaped, none is ever put in an
//! attribute, and characters that hide or reorder text (controls, bidi
//! overrides, zero-width characters) are shown as boxed `\u{..}` codes, so a
//! name cannot pass for another one. Values are also drawn with the bidi
//! algorithm overridden (left to right, in stored order), so right-to-left
//! letters cannot move the `.exe` of a name either.
//!
//! The report is written as it is produced, straight to the output: a
//! hundred thousand findings cost their sorting indexes, not a copy of the
//! page in memory.

use crate::Tlp;
use crate::records::{DetectionRecord, FindingRecord, ProblemRecord, Run, SightingRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

/// Score from which a detection is shown as malicious (Loki's scale, as
/// the indicator model uses it).
pub const SCORE_MALICIOUS: u32 = 75;
/// Score from which a detection is shown as suspicious.
pub const SCORE_SUSPICIOUS: u32 = 60;
/// Score from which a detection is shown as notable.
pub const SCORE_NOTABLE: u32 = 40;

/// Longest value (bytes of UTF-8) shown in full. A rule's metadata or an
/// error message of megabytes would otherwise make the report unreadable
/// and unprintable; the rest is cut and the cut says how much is missing.
/// Longer than any real path (PATH_MAX is 4096).
pub const MAX_VALUE_BYTES: usize = 8192;

/// What the report says besides the runs.
#[derive(Clone, Debug)]
pub struct HtmlOptions {
    /// Title; `takedown scan report` when `None`.
    pub title: Option<String>,
    /// The TLP marking, shown as a banner on top and on every printed page.
    pub tlp: Option<Tlp>,
    /// When the report was generated.
    pub now: time::OffsetDateTime,
}

/// Writes the report on `runs` to `out`.
///
/// Nothing is read from anywhere else: the same runs and options give the
/// same bytes. Only an error of `out` fails it.
pub fn write_report(runs: &[Run], opts: &HtmlOptions, out: &mut impl Write) -> io::Result<()> {
    // Many small writes (cells, escapes): one buffer in front of whatever
    // `out` is, so a file or a socket sees large writes.
    let mut w = io::BufWriter::with_capacity(64 * 1024, out);
    Report::new(runs, opts).write(&mut w)?;
    w.flush()
}

/// HTML-escapes `s` for text content: `& < > " '` as character references,
/// and each character that hides or reorders text as a boxed `\u{..}` code
/// (`<span class="c">`). Values longer than [`MAX_VALUE_BYTES`] are cut,
/// saying how much.
pub fn escape_text(s: &str) -> String {
    let mut v = Vec::with_capacity(s.len() + 16);
    // Writing to a Vec cannot fail.
    let _ = write_escaped(&mut v, s, Ctx::Markup);
    String::from_utf8_lossy(&v).into_owned()
}

/// HTML-escapes `s` where markup cannot go (an attribute value, the
/// `<title>`): as [`escape_text`], with the `\u{..}` codes as plain text.
pub fn escape_attr(s: &str) -> String {
    let mut v = Vec::with_capacity(s.len() + 16);
    let _ = write_escaped(&mut v, s, Ctx::Plain);
    String::from_utf8_lossy(&v).into_owned()
}

/// Where escaped text goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Element content: invisible characters become styled spans.
    Markup,
    /// Attribute values and `<title>`: no markup possible, codes as text.
    Plain,
}

/// Characters that are invisible, reorder the text around them, or break
/// the line: each is shown as its code point instead.
fn is_hidden(c: char) -> bool {
    c.is_control() // C0, DEL, C1
        || matches!(c,
            '\u{00A0}' // no-break space: looks like a space, is not one
            | '\u{00AD}' // soft hyphen
            | '\u{034F}' // combining grapheme joiner
            | '\u{061C}' // Arabic letter mark (bidi)
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{1680}' // Ogham space mark
            | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels (invisible)
            | '\u{180B}'..='\u{180F}' // Mongolian selectors and separator
            | '\u{2000}'..='\u{200A}' // spaces of other widths
            | '\u{200B}'..='\u{200F}' // zero width space/joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{202F}' | '\u{205F}' | '\u{3000}' // narrow, math, ideographic spaces
            | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, isolates, deprecated format
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{FEFF}' // zero width no-break space (BOM)
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
            | '\u{FFFD}' // replacement character: the name was not valid UTF-8
            | '\u{E0000}'..='\u{E007F}' // tag characters
            | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
        )
}

/// Writes the visible form of a hidden character: `\n`, `\r`, `\t`, else
/// `\u{..}` (as Rust writes it, lowercase hex).
fn write_code(out: &mut impl Write, c: char) -> io::Result<()> {
    match c {
        '\n' => out.write_all(b"\\n"),
        '\r' => out.write_all(b"\\r"),
        '\t' => out.write_all(b"\\t"),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    }
}

/// The escaper. Runs of ordinary characters are written as they are, in
/// one write each.
fn write_escaped(out: &mut impl Write, s: &str, ctx: Ctx) -> io::Result<()> {
    let (s, cut) = if s.len() > MAX_VALUE_BYTES {
        let mut end = MAX_VALUE_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        (s.get(..end).unwrap_or_default(), s.len() - end)
    } else {
        (s, 0)
    };
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let entity = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            c if is_hidden(c) => "",
            _ => continue,
        };
        out.write_all(s.get(start..i).unwrap_or_default().as_bytes())?;
        start = i + c.len_utf8();
        if !entity.is_empty() {
            out.write_all(entity.as_bytes())?;
            continue;
        }
        match ctx {
            Ctx::Markup => {
                out.write_all(b"<span class=\"c\">")?;
                write_code(out, c)?;
                out.write_all(b"</span>")?;
            }
            Ctx::Plain => write_code(out, c)?,
        }
    }
    out.write_all(s.get(start..).unwrap_or_default().as_bytes())?;
    if cut > 0 {
        match ctx {
            Ctx::Markup => write!(
                out,
                "<span class=\"cut\">\u{2026} {} more bytes not shown</span>",
                thousands(cut as u64)
            )?,
            Ctx::Plain => write!(out, "\u{2026} ({} more bytes)", thousands(cut as u64))?,
        }
    }
    Ok(())
}

/// A hostile value as element content, in a span that shows it in stored
/// order whatever its letters' direction.
fn val(out: &mut impl Write, s: &str) -> io::Result<()> {
    out.write_all(b"<span class=\"v\">")?;
    write_escaped(out, s, Ctx::Markup)?;
    out.write_all(b"</span>")
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut s = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            s.push(',');
        }
        s.push(d);
    }
    s
}

/// `1 file`, `2 files`.
fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{} {word}s", thousands(n))
    }
}

/// Bytes in binary units (`1.5 MiB`), for reading; the exact count is shown
/// beside it where it matters.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in UNITS.iter().skip(1) {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// Wall time as `12.3 s`, `4 min 05 s`, `2 h 03 min`.
fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "\u{2014}".into();
    }
    if secs < 60.0 {
        return format!("{secs:.1} s");
    }
    let whole = secs.min(1e12) as u64;
    if whole < 3600 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        format!("{} h {:02} min", whole / 3600, whole % 3600 / 60)
    }
}

/// A moment as `2026-12-06 10:00:00 UTC`.
fn stamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The severity class and word of a score.
fn severity(score: u32) -> (&'static str, &'static str) {
    if score >= SCORE_MALICIOUS {
        ("sev-malicious", "malicious")
    } else if score >= SCORE_SUSPICIOUS {
        ("sev-suspicious", "suspicious")
    } else if score >= SCORE_NOTABLE {
        ("sev-notable", "notable")
    } else {
        ("sev-low", "low")
    }
}

/// Banner class, label and the TLP 2.0 definition's first words.
fn tlp_banner(tlp: Tlp) -> (&'static str, &'static str, &'static str) {
    match tlp {
        Tlp::Clear => (
            "tlp-clear",
            "TLP:CLEAR",
            "Recipients can spread this to the world; there is no limit on disclosure.",
        ),
        Tlp::Green => (
            "tlp-green",
            "TLP:GREEN",
            "Limited disclosure: recipients can spread this within their community.",
        ),
        Tlp::Amber => (
            "tlp-amber",
            "TLP:AMBER",
            "Limited disclosure: recipients can only spread this on a need-to-know basis within their organization and its clients.",
        ),
        Tlp::AmberStrict => (
            "tlp-amber",
            "TLP:AMBER+STRICT",
            "Limited disclosure: recipients can only spread this on a need-to-know basis within their organization.",
        ),
        Tlp::Red => (
            "tlp-red",
            "TLP:RED",
            "For the eyes and ears of individual recipients only; no further disclosure.",
        ),
    }
}

/// The colour of a TLP label (TLP 2.0: on black).
fn tlp_colour(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "#FFFFFF",
        Tlp::Green => "#33FF00",
        Tlp::Amber | Tlp::AmberStrict => "#FFC000",
        Tlp::Red => "#FF2B2B",
    }
}

/// Problem kinds in the order the report lists them, with their heading.
const PROBLEM_KINDS: [(&str, &str); 5] = [
    ("error", "Errors"),
    ("timeout", "Timeouts"),
    ("limit", "Limits reached"),
    ("encrypted", "Encrypted"),
    ("skipped", "Skipped"),
];

/// The highest score of a finding's detections.
fn max_score(f: &FindingRecord) -> u32 {
    f.detections.iter().map(|d| d.score).max().unwrap_or(0)
}

/// A family seen: files, detections, sightings, hosts.
#[derive(Default)]
struct FamilySeen<'a> {
    files: u64,
    detections: u64,
    sightings: u64,
    hosts: BTreeSet<&'a str>,
}

/// Matched values shown per sighting (the record holds up to
/// [`crate::records::MAX_SIGHTING_VALUES`]).
const MATCHED_SHOWN: usize = 5;

/// Runs side by side in one summary table: more columns would not fit
/// an A4 page.
const RUNS_PER_TABLE: usize = 4;
/// Share of the page (%) of the summary's label column and of each run.
const SUMMARY_LABEL_WIDTH: f64 = 24.0;
/// See [`SUMMARY_LABEL_WIDTH`].
const SUMMARY_COLUMN_WIDTH: f64 = 19.0;

/// A column of the summary.
enum Column<'a> {
    /// One run.
    Run(&'a Run),
    /// All of them.
    Total,
}

/// How a summary row shows a column's counts.
type Cell = fn(&Totals) -> String;

/// A problem with where it was met: the run's index and the finding.
type ProblemAt<'a> = (usize, &'a FindingRecord, &'a ProblemRecord);

/// A count that is bad news when not zero.
fn flagged(n: u64) -> String {
    if n > 0 {
        format!("<span class=\"flag\">{}</span>", thousands(n))
    } else {
        "0".into()
    }
}

/// Counts of a summary, or totals over the runs' summaries.
#[derive(Clone, Default)]
struct Totals {
    files_scanned: u64,
    bytes_scanned: u64,
    members_scanned: u64,
    files_detected: u64,
    detections: u64,
    errors: u64,
    skipped: u64,
    elapsed: f64,
    quarantined: u64,
    deleted: u64,
    refused: u64,
    failed: u64,
    interrupted: usize,
    without_summary: usize,
}

/// The report being written: the runs and what is derived from them once.
struct Report<'a> {
    runs: &'a [Run],
    opts: &'a HtmlOptions,
    totals: Totals,
    /// Per run, indexes of its findings with detections or an action,
    /// most severe first, then by path.
    detected: Vec<Vec<usize>>,
    /// Findings with at least one detection of each severity.
    malicious_files: u64,
    hosts: BTreeSet<&'a str>,
    /// Sightings of all runs.
    sightings: u64,
}

impl Totals {
    fn of(s: &crate::records::SummaryRecord) -> Totals {
        Totals {
            files_scanned: s.files_scanned,
            bytes_scanned: s.bytes_scanned,
            members_scanned: s.members_scanned,
            files_detected: s.files_detected,
            detections: s.detections,
            errors: s.errors,
            skipped: s.skipped,
            elapsed: s.elapsed_seconds,
            quarantined: s.quarantined,
            deleted: s.deleted,
            refused: s.refused,
            failed: s.failed,
            interrupted: usize::from(s.interrupted),
            without_summary: 0,
        }
    }
}

impl<'a> Report<'a> {
    fn new(runs: &'a [Run], opts: &'a HtmlOptions) -> Report<'a> {
        let mut totals = Totals::default();
        for r in runs {
            let Some(s) = r.summary.as_ref() else {
                // A hunt's file ends with its own summary line.
                totals.without_summary += usize::from(!r.has_summary());
                continue;
            };
            totals.files_scanned = totals.files_scanned.saturating_add(s.files_scanned);
            totals.bytes_scanned = totals.bytes_scanned.saturating_add(s.bytes_scanned);
            totals.members_scanned = totals.members_scanned.saturating_add(s.members_scanned);
            totals.files_detected = totals.files_detected.saturating_add(s.files_detected);
            totals.detections = totals.detections.saturating_add(s.detections);
            totals.errors = totals.errors.saturating_add(s.errors);
            totals.skipped = totals.skipped.saturating_add(s.skipped);
            if s.elapsed_seconds.is_finite() && s.elapsed_seconds > 0.0 {
                totals.elapsed += s.elapsed_seconds;
            }
            totals.quarantined = totals.quarantined.saturating_add(s.quarantined);
            totals.deleted = totals.deleted.saturating_add(s.deleted);
            totals.refused = totals.refused.saturating_add(s.refused);
            totals.failed = totals.failed.saturating_add(s.failed);
            totals.interrupted += usize::from(s.interrupted);
        }
        let mut malicious_files = 0;
        let detected = runs
            .iter()
            .map(|run| {
                let mut idx: Vec<(u32, usize)> = run
                    .findings
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| !f.detections.is_empty() || f.action.is_some())
                    .map(|(i, f)| (max_score(f), i))
                    .collect();
                malicious_files += idx.iter().filter(|(s, _)| *s >= SCORE_MALICIOUS).count() as u64;
                idx.sort_by(|a, b| {
                    b.0.cmp(&a.0).then_with(|| {
                        match (run.findings.get(a.1), run.findings.get(b.1)) {
                            (Some(x), Some(y)) => {
                                x.path.cmp(&y.path).then_with(|| x.chain.cmp(&y.chain))
                            }
                            _ => std::cmp::Ordering::Equal,
                        }
                    })
                });
                idx.into_iter().map(|(_, i)| i).collect()
            })
            .collect();
        Report {
            runs,
            opts,
            totals,
            detected,
            malicious_files,
            hosts: runs.iter().map(|r| r.host()).collect(),
            sightings: runs.iter().map(|r| r.sightings.len() as u64).sum(),
        }
    }

    fn several(&self) -> bool {
        self.runs.len() > 1
    }

    fn write(&self, w: &mut impl Write) -> io::Result<()> {
        self.head(w)?;
        self.header(w)?;
        self.glance(w)?;
        self.summary(w)?;
        self.detections(w)?;
        self.sightings(w)?;
        self.problems(w)?;
        self.families(w)?;
        self.signatures(w)?;
        write!(
            w,
            "<footer><p>Produced by takedown {} on {}. Values from the scanned machines are shown as they were recorded; \
             characters that are invisible or reorder text are shown as boxed codes such as <span class=\"c\">\\u{{202e}}</span>.</p></footer>\n\
             </body>\n</html>\n",
            env!("CARGO_PKG_VERSION"),
            stamp(self.opts.now)
        )
    }

    fn title(&self) -> &str {
        let default = if self.sightings > 0 && self.runs.iter().all(|r| r.findings.is_empty()) {
            "takedown hunt report"
        } else {
            "takedown scan report"
        };
        self.opts.title.as_deref().unwrap_or(default)
    }

    fn head(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(
            b"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
              <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
              <meta name=\"referrer\" content=\"no-referrer\">\n\
              <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        )?;
        write!(
            w,
            "<meta name=\"generator\" content=\"takedown {}\">\n<title>",
            env!("CARGO_PKG_VERSION")
        )?;
        write_escaped(w, self.title(), Ctx::Plain)?;
        w.write_all(b"</title>\n<style>\n")?;
        w.write_all(CSS.as_bytes())?;
        // The page furniture of print: the TLP label on every page (TLP 2.0
        // asks for it in the header of each page) and page numbers. Only
        // our own constant text goes into CSS strings.
        w.write_all(b"@page {\n")?;
        if let Some(tlp) = self.opts.tlp {
            let (_, label, _) = tlp_banner(tlp);
            writeln!(
                w,
                "  @top-right {{ content: \"{label}\"; color: {}; background: #000; font: 700 9pt/1 sans-serif; \
                 letter-spacing: .06em; padding: 1.5mm 3mm; margin: 5mm 0 3mm; text-align: center; width: auto; height: auto; }}",
                tlp_colour(tlp)
            )?;
        }
        write!(
            w,
            "  @bottom-left {{ content: \"takedown report \u{00B7} generated {}\"; font: 7.5pt sans-serif; color: #555; }}\n\
             }}\n</style>\n</head>\n<body>\n",
            stamp(self.opts.now)
        )
    }

    fn header(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(b"<header class=\"top\">\n")?;
        if let Some(tlp) = self.opts.tlp {
            let (class, label, desc) = tlp_banner(tlp);
            writeln!(
                w,
                "<div class=\"tlp {class}\"><span class=\"tlp-label\">{label}</span> <span class=\"tlp-desc\">{desc}</span></div>"
            )?;
        }
        w.write_all(b"<h1>")?;
        val(w, self.title())?;
        w.write_all(b"</h1>\n<dl class=\"meta\">\n<dt>Generated</dt><dd>")?;
        w.write_all(stamp(self.opts.now).as_bytes())?;
        w.write_all(b"</dd>\n")?;
        let starts = self.runs.iter().filter_map(|r| r.started()).min();
        let ends = self.runs.iter().filter_map(|r| r.finished()).max();
        if let (Some(a), Some(b)) = (starts, ends) {
            writeln!(
                w,
                "<dt>Scanned</dt><dd>{} \u{2013} {}</dd>",
                stamp(a),
                stamp(b)
            )?;
        }
        write!(
            w,
            "<dt>{}</dt><dd>",
            if self.hosts.len() == 1 {
                "Host"
            } else {
                "Hosts"
            }
        )?;
        if self.hosts.is_empty() {
            w.write_all(b"none")?;
        }
        for (i, h) in self.hosts.iter().enumerate() {
            if i > 0 {
                w.write_all(b", ")?;
            }
            val(w, h)?;
        }
        write!(
            w,
            "</dd>\n<dt>Runs</dt><dd>{}</dd>\n</dl>\n</header>\n",
            thousands(self.runs.len() as u64)
        )
    }

    /// The few numbers read first.
    fn glance(&self, w: &mut impl Write) -> io::Result<()> {
        let t = &self.totals;
        let detected: u64 = self.detected.iter().map(|d| d.len() as u64).sum();
        let problems: u64 = self
            .runs
            .iter()
            .flat_map(|r| &r.findings)
            .map(|f| f.problems.len() as u64)
            .sum();
        let acted = t.quarantined.saturating_add(t.deleted);
        w.write_all(b"<section class=\"glance\">\n")?;
        let tiles: [(&str, u64, &str); 5] = [
            ("Files scanned", t.files_scanned, ""),
            (
                "Files with detections",
                detected,
                if detected > 0 { " warn" } else { "" },
            ),
            (
                "Malicious (score 75+)",
                self.malicious_files,
                if self.malicious_files > 0 { " bad" } else { "" },
            ),
            ("Quarantined or deleted", acted, ""),
            ("Problems", problems, ""),
        ];
        let sightings = self.runs.iter().flat_map(|r| &r.sightings);
        let clients = sightings
            .clone()
            .filter_map(|s| s.client.as_deref())
            .collect::<BTreeSet<_>>()
            .len() as u64;
        let sighted = sightings
            .map(|s| (s.indicator.kind.as_str(), s.indicator.value.as_str()))
            .collect::<BTreeSet<_>>()
            .len() as u64;
        let hunt_tiles: [(&str, u64, &str); 3] = [
            ("Sightings (client and indicator)", self.sightings, " bad"),
            ("Clients seen", clients, " warn"),
            ("Indicators and DGAs sighted", sighted, ""),
        ];
        // A hunt alone has no files to count; a scan alone no sightings.
        let hunt_only = self
            .runs
            .iter()
            .all(|r| r.findings.is_empty() && r.summary.is_none());
        let mut shown: Vec<(&str, u64, &str)> = Vec::new();
        if self.sightings == 0 || !hunt_only {
            shown.extend(tiles);
        }
        if self.sightings > 0 {
            shown.extend(&hunt_tiles[..if hunt_only { 3 } else { 1 }]);
        }
        for &(label, n, class) in &shown {
            writeln!(
                w,
                "<div class=\"tile{class}\"><div class=\"num\">{}</div><div class=\"lbl\">{label}</div></div>",
                thousands(n)
            )?;
        }
        w.write_all(b"</section>\n")?;
        if t.interrupted > 0 || t.without_summary > 0 {
            w.write_all(b"<p class=\"warning\">")?;
            if t.interrupted > 0 {
                write!(
                    w,
                    "{} run(s) interrupted: what they did not reach was not scanned. ",
                    t.interrupted
                )?;
            }
            if t.without_summary > 0 {
                write!(
                    w,
                    "{} run(s) without a summary line (the findings file was cut short): their counts are missing below, their findings and sightings are listed.",
                    t.without_summary
                )?;
            }
            w.write_all(b"</p>\n")?;
        }
        Ok(())
    }

    /// The counts of each run as columns, the counts as rows: a row per
    /// run would need a dozen columns, more than an A4 page holds.
    fn summary(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(b"<section>\n<h2>Summary</h2>\n")?;
        if self.runs.is_empty() {
            w.write_all(b"<p class=\"none\">No runs.</p>\n</section>\n")?;
            return Ok(());
        }
        let mut cols: Vec<Column> = self.runs.iter().map(Column::Run).collect();
        if self.several() {
            cols.push(Column::Total);
        }
        for chunk in cols.chunks(RUNS_PER_TABLE) {
            let counts: Vec<Option<Totals>> = chunk
                .iter()
                .map(|c| match c {
                    Column::Run(r) => r.summary.as_ref().map(Totals::of),
                    Column::Total => Some(self.totals.clone()),
                })
                .collect();
            // Narrow tables for few columns, so one run does not stretch
            // its numbers across the page.
            let width = SUMMARY_LABEL_WIDTH + SUMMARY_COLUMN_WIDTH * chunk.len() as f64;
            write!(
                w,
                "<table class=\"summary\" style=\"width:{width:.0}%\">\n<colgroup><col style=\"width:{:.1}%\">",
                100.0 * SUMMARY_LABEL_WIDTH / width
            )?;
            for _ in chunk {
                write!(
                    w,
                    "<col style=\"width:{:.1}%\">",
                    100.0 * SUMMARY_COLUMN_WIDTH / width
                )?;
            }
            w.write_all(b"</colgroup>\n<thead><tr><th></th>")?;
            for c in chunk {
                self.column_head(w, c)?;
            }
            w.write_all(b"</tr></thead>\n<tbody>\n")?;
            let rows: [(&str, Cell); 12] = [
                ("Files scanned", |t| thousands(t.files_scanned)),
                ("Data scanned", |t| {
                    format!(
                        "{}<br><small>{} B</small>",
                        human_bytes(t.bytes_scanned),
                        thousands(t.bytes_scanned)
                    )
                }),
                ("Objects inside containers", |t| {
                    thousands(t.members_scanned)
                }),
                ("Files detected", |t| thousands(t.files_detected)),
                ("Detections", |t| thousands(t.detections)),
                ("Errors", |t| thousands(t.errors)),
                ("Skipped", |t| thousands(t.skipped)),
                ("Quarantined", |t| thousands(t.quarantined)),
                ("Deleted", |t| thousands(t.deleted)),
                ("Refused", |t| flagged(t.refused)),
                ("Failed", |t| flagged(t.failed)),
                ("Elapsed", |t| duration(t.elapsed)),
            ];
            for (label, cell) in rows {
                write!(w, "<tr><th scope=\"row\">{label}</th>")?;
                for (c, t) in chunk.iter().zip(&counts) {
                    let class = if matches!(c, Column::Total) {
                        "n total"
                    } else {
                        "n"
                    };
                    match t {
                        Some(t) => write!(w, "<td class=\"{class}\">{}</td>", cell(t))?,
                        None => write!(w, "<td class=\"{class} none\">\u{2014}</td>")?,
                    }
                }
                w.write_all(b"</tr>\n")?;
            }
            if self.sightings > 0 {
                w.write_all(b"<tr><th scope=\"row\">Sightings</th>")?;
                for c in chunk {
                    let (class, n) = match c {
                        Column::Run(r) => ("n", r.sightings.len() as u64),
                        Column::Total => ("n total", self.sightings),
                    };
                    write!(w, "<td class=\"{class}\">{}</td>", thousands(n))?;
                }
                w.write_all(b"</tr>\n")?;
            }
            w.write_all(b"</tbody>\n</table>\n")?;
        }
        w.write_all(b"</section>\n")
    }

    /// The head of a summary column: the run's host, file, start and state.
    fn column_head(&self, w: &mut impl Write, c: &Column) -> io::Result<()> {
        let run = match c {
            Column::Total => {
                return write!(
                    w,
                    "<th class=\"n total\">Total<br><small>{}, {}</small></th>",
                    plural(self.runs.len() as u64, "run"),
                    plural(self.hosts.len() as u64, "host")
                );
            }
            Column::Run(run) => run,
        };
        w.write_all(b"<th class=\"n\">")?;
        val(w, run.host())?;
        w.write_all(b"<br><small>")?;
        val(w, &run.origin)?;
        w.write_all(b"</small>")?;
        let started = run
            .summary
            .as_ref()
            .and_then(|s| s.started.as_deref())
            .or_else(|| run.hunt.as_ref().and_then(|h| h.started.as_deref()));
        if let Some(s) = started {
            w.write_all(b"<br><small>")?;
            match run.started() {
                Some(t) => w.write_all(stamp(t).as_bytes())?,
                None => val(w, s)?,
            }
            w.write_all(b"</small>")?;
        }
        match &run.summary {
            None if run.hunt.is_some() => w.write_all(b"<br><span class=\"badge\">hunt</span>")?,
            None => w.write_all(b"<br><span class=\"badge bad\">no summary: cut short</span>")?,
            Some(s) if s.interrupted => {
                w.write_all(b"<br><span class=\"badge bad\">interrupted</span>")?
            }
            Some(_) => {}
        }
        w.write_all(b"</th>")
    }

    fn detections(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(b"<section>\n<h2>Detections</h2>\n")?;
        let total: usize = self.detected.iter().map(|d| d.len()).sum();
        if total == 0 {
            w.write_all(b"<p class=\"none\">No detections.</p>\n</section>\n")?;
            return Ok(());
        }
        w.write_all(
            "<p class=\"note\">Grouped by file, most severe first. Severity: \
              <span class=\"sev sev-malicious\">75+ malicious</span> <span class=\"sev sev-suspicious\">60+ suspicious</span> \
              <span class=\"sev sev-notable\">40+ notable</span> <span class=\"sev sev-low\">low</span>. \
              Objects inside containers are shown as <em>container \u{25B8} member</em>.</p>\n"
                .as_bytes(),
        )?;
        let mut number = 0u64;
        for (run, idx) in self.runs.iter().zip(&self.detected) {
            if idx.is_empty() {
                continue;
            }
            if self.several() {
                w.write_all(b"<h3>")?;
                val(w, run.host())?;
                write!(w, " <small>({}, from ", plural(idx.len() as u64, "file"))?;
                val(w, &run.origin)?;
                w.write_all(b")</small></h3>\n")?;
            }
            w.write_all(
                b"<table class=\"det\">\n<colgroup><col style=\"width:13%\"><col style=\"width:31%\"><col style=\"width:9%\"><col style=\"width:19%\"><col style=\"width:28%\"></colgroup>\n\
                  <thead><tr><th>Score</th><th>Detection</th><th>Engine</th><th>Family / tags</th><th>Source</th></tr></thead>\n",
            )?;
            for f in idx.iter().filter_map(|&i| run.findings.get(i)) {
                number += 1;
                self.finding(w, number, f)?;
            }
            w.write_all(b"</table>\n")?;
        }
        w.write_all(b"</section>\n")
    }

    /// One file: its row, then one row per detection.
    fn finding(&self, w: &mut impl Write, number: u64, f: &FindingRecord) -> io::Result<()> {
        write!(
            w,
            "<tbody class=\"file\"><tr class=\"file\"><td colspan=\"5\"><div class=\"path\"><span class=\"no\">#{number}</span> "
        )?;
        chain_path(w, f)?;
        w.write_all(b"</div>")?;
        if let Some(b64) = &f.path_base64 {
            w.write_all(b"<div class=\"kv\"><span class=\"k\">Path bytes (not UTF-8), base64</span> <span class=\"h\">")?;
            val(w, b64)?;
            w.write_all(b"</span></div>")?;
        }
        w.write_all(b"<div class=\"kv\">")?;
        if let Some(size) = f.size {
            write!(w, "<span class=\"k\">Size</span> {} B", thousands(size))?;
            if size >= 1024 {
                write!(w, " ({})", human_bytes(size))?;
            }
            w.write_all(b" ")?;
        }
        if let Some(h) = &f.sha256 {
            w.write_all(b"<span class=\"k\">SHA-256</span> <span class=\"h\">")?;
            val(w, h)?;
            w.write_all(b"</span>")?;
        }
        w.write_all(b"</div>")?;
        if let Some(a) = &f.action {
            let class = match a.status.as_str() {
                "done" => "ok",
                "refused" | "failed" => "bad",
                _ => "",
            };
            write!(
                w,
                "<div class=\"kv\"><span class=\"k\">Action</span> <span class=\"badge {class}\">"
            )?;
            val(w, &a.action)?;
            w.write_all(b": ")?;
            val(w, &a.status)?;
            w.write_all(b"</span>")?;
            if let Some(v) = &a.vault_id {
                w.write_all(b" <span class=\"k\">vault item</span> <span class=\"h\">")?;
                val(w, v)?;
                w.write_all(b"</span>")?;
            }
            if !a.target.is_empty() && a.target != f.path {
                w.write_all(b" <span class=\"k\">target</span> ")?;
                val(w, &a.target)?;
            }
            if let Some(r) = &a.reason {
                w.write_all(b" <span class=\"k\">reason</span> ")?;
                val(w, r)?;
            }
            w.write_all(b"</div>")?;
        }
        for p in &f.problems {
            w.write_all(b"<div class=\"kv\"><span class=\"k\">Problem</span> ")?;
            problem_text(w, p)?;
            w.write_all(b"</div>")?;
        }
        w.write_all(b"</td></tr>\n")?;
        if f.detections.is_empty() {
            w.write_all(
                b"<tr><td colspan=\"5\" class=\"none\">No detection recorded.</td></tr>\n",
            )?;
        }
        for d in &f.detections {
            detection(w, d)?;
        }
        w.write_all(b"</tbody>\n")
    }

    /// The sightings of the hunts: one row per client and indicator, most
    /// events first. No section at all for runs without sightings (a scan).
    fn sightings(&self, w: &mut impl Write) -> io::Result<()> {
        if self.sightings == 0 {
            return Ok(());
        }
        w.write_all(
            b"<section>\n<h2>Sightings</h2>\n<p class=\"note\">Clients seen using an indicator, or the names of a DGA, \
              in network logs and captures (<em>takedown hunt</em>); most events first. \
              Times are those of the logs.</p>\n",
        )?;
        for run in self.runs {
            if run.sightings.is_empty() {
                continue;
            }
            if self.several() {
                w.write_all(b"<h3>")?;
                val(w, run.host())?;
                write!(
                    w,
                    " <small>({}, from ",
                    plural(run.sightings.len() as u64, "sighting")
                )?;
                val(w, &run.origin)?;
                w.write_all(b")</small></h3>\n")?;
            }
            let mut order: Vec<&SightingRecord> = run.sightings.iter().collect();
            order.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| a.indicator.kind.cmp(&b.indicator.kind))
                    .then_with(|| a.indicator.value.cmp(&b.indicator.value))
                    .then_with(|| a.client.cmp(&b.client))
            });
            w.write_all(
                b"<table class=\"sight\">\n<colgroup><col style=\"width:15%\"><col style=\"width:35%\"><col style=\"width:14%\"><col style=\"width:8%\"><col style=\"width:14%\"><col style=\"width:14%\"></colgroup>\n\
                  <thead><tr><th>Client</th><th>Indicator</th><th>Family</th><th class=\"n\">Events</th><th>First seen</th><th>Last seen</th></tr></thead>\n<tbody>\n",
            )?;
            for s in order {
                sighting_row(w, s)?;
            }
            w.write_all(b"</tbody>\n</table>\n")?;
        }
        w.write_all(b"</section>\n")
    }

    fn problems(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(b"<section>\n<h2>Problems</h2>\n")?;
        // kind -> (run index, finding, problem), in reading order.
        let mut by_kind: BTreeMap<(usize, &str), Vec<ProblemAt>> = BTreeMap::new();
        for (ri, run) in self.runs.iter().enumerate() {
            for f in &run.findings {
                for p in &f.problems {
                    let order = PROBLEM_KINDS
                        .iter()
                        .position(|(k, _)| *k == p.kind)
                        .unwrap_or(PROBLEM_KINDS.len());
                    by_kind
                        .entry((order, p.kind.as_str()))
                        .or_default()
                        .push((ri, f, p));
                }
            }
        }
        if by_kind.is_empty() {
            w.write_all(b"<p class=\"none\">No problems recorded.</p>\n</section>\n")?;
            return Ok(());
        }
        w.write_all(b"<table class=\"counts\"><thead><tr><th>Kind</th><th class=\"n\">Count</th></tr></thead><tbody>\n")?;
        for ((order, kind), list) in &by_kind {
            w.write_all(b"<tr><td>")?;
            problem_heading(w, *order, kind)?;
            writeln!(
                w,
                "</td><td class=\"n\">{}</td></tr>",
                thousands(list.len() as u64)
            )?;
        }
        w.write_all(b"</tbody></table>\n")?;
        for ((order, kind), list) in &mut by_kind {
            list.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| a.1.path.cmp(&b.1.path))
                    .then_with(|| a.1.chain.cmp(&b.1.chain))
            });
            w.write_all(b"<h3>")?;
            problem_heading(w, *order, kind)?;
            writeln!(w, " <small>({})</small></h3>", thousands(list.len() as u64))?;
            w.write_all(b"<table class=\"prob\">\n")?;
            if self.several() {
                w.write_all(
                    b"<colgroup><col style=\"width:14%\"><col style=\"width:43%\"><col style=\"width:43%\"></colgroup>\n\
                      <thead><tr><th>Host</th><th>Path</th><th>Detail</th></tr></thead>\n<tbody>\n",
                )?;
            } else {
                w.write_all(
                    b"<colgroup><col style=\"width:50%\"><col style=\"width:50%\"></colgroup>\n\
                      <thead><tr><th>Path</th><th>Detail</th></tr></thead>\n<tbody>\n",
                )?;
            }
            for (ri, f, p) in list.iter() {
                w.write_all(b"<tr>")?;
                if self.several() {
                    w.write_all(b"<td>")?;
                    if let Some(run) = self.runs.get(*ri) {
                        val(w, run.host())?;
                    }
                    w.write_all(b"</td>")?;
                }
                w.write_all(b"<td>")?;
                chain_path(w, f)?;
                w.write_all(b"</td><td>")?;
                problem_text(w, p)?;
                w.write_all(b"</td></tr>\n")?;
            }
            w.write_all(b"</tbody>\n</table>\n")?;
        }
        w.write_all(b"</section>\n")
    }

    fn families(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(b"<section>\n<h2>Families seen</h2>\n")?;
        let mut seen: BTreeMap<&str, FamilySeen> = BTreeMap::new();
        for run in self.runs {
            for s in &run.sightings {
                if let Some(fam) = s.family() {
                    let e = seen.entry(fam).or_default();
                    e.sightings += 1;
                    e.hosts.insert(run.host());
                }
            }
            for f in &run.findings {
                let mut in_file: BTreeSet<&str> = BTreeSet::new();
                for fam in f.detections.iter().filter_map(|d| d.family()) {
                    let e = seen.entry(fam).or_default();
                    e.detections += 1;
                    e.hosts.insert(run.host());
                    if in_file.insert(fam) {
                        e.files += 1;
                    }
                }
            }
        }
        if seen.is_empty() {
            w.write_all(
                b"<p class=\"none\">No detection or sighting named a malware family.</p>\n</section>\n",
            )?;
            return Ok(());
        }
        let mut list: Vec<(&str, FamilySeen)> = seen.into_iter().collect();
        list.sort_by(|a, b| {
            b.1.files
                .cmp(&a.1.files)
                .then_with(|| b.1.sightings.cmp(&a.1.sightings))
                .then_with(|| a.0.cmp(b.0))
        });
        let with_sightings = self.sightings > 0;
        if with_sightings {
            w.write_all(
                b"<table class=\"fam\">\n<colgroup><col style=\"width:30%\"><col style=\"width:10%\"><col style=\"width:13%\"><col style=\"width:13%\"><col style=\"width:34%\"></colgroup>\n\
                  <thead><tr><th>Family</th><th class=\"n\">Files</th><th class=\"n\">Detections</th><th class=\"n\">Sightings</th><th>Hosts</th></tr></thead>\n<tbody>\n",
            )?;
        } else {
            w.write_all(
                b"<table class=\"fam\">\n<colgroup><col style=\"width:36%\"><col style=\"width:11%\"><col style=\"width:14%\"><col style=\"width:39%\"></colgroup>\n\
                  <thead><tr><th>Family</th><th class=\"n\">Files</th><th class=\"n\">Detections</th><th>Hosts</th></tr></thead>\n<tbody>\n",
            )?;
        }
        for (fam, s) in &list {
            w.write_all(b"<tr><td><strong>")?;
            val(w, fam)?;
            write!(
                w,
                "</strong></td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
                thousands(s.files),
                thousands(s.detections)
            )?;
            if with_sightings {
                write!(w, "<td class=\"n\">{}</td>", thousands(s.sightings))?;
            }
            w.write_all(b"<td>")?;
            for (i, h) in s.hosts.iter().enumerate() {
                if i > 0 {
                    w.write_all(b", ")?;
                }
                val(w, h)?;
            }
            w.write_all(b"</td></tr>\n")?;
        }
        w.write_all(b"</tbody>\n</table>\n</section>\n")
    }

    fn signatures(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(b"<section>\n<h2>Signature sets used</h2>\n")?;
        // (path, kind, entries) -> the runs that loaded it.
        let mut sets: BTreeMap<(&str, &str, u64), BTreeSet<&str>> = BTreeMap::new();
        for run in self.runs {
            for s in run.summary.iter().flat_map(|s| &s.signatures) {
                sets.entry((s.path.as_str(), s.kind.as_str(), s.entries))
                    .or_default()
                    .insert(run.host());
            }
        }
        if sets.is_empty() {
            w.write_all(b"<p class=\"none\">The runs did not record their signature sets.</p>\n</section>\n")?;
            return Ok(());
        }
        let several = self.several();
        if several {
            w.write_all(
                b"<table class=\"sigs\">\n<colgroup><col style=\"width:50%\"><col style=\"width:12%\"><col style=\"width:12%\"><col style=\"width:26%\"></colgroup>\n\
                  <thead><tr><th>Path</th><th>Kind</th><th class=\"n\">Entries</th><th>Used on</th></tr></thead>\n<tbody>\n",
            )?;
        } else {
            w.write_all(
                b"<table class=\"sigs\">\n<colgroup><col style=\"width:68%\"><col style=\"width:16%\"><col style=\"width:16%\"></colgroup>\n\
                  <thead><tr><th>Path</th><th>Kind</th><th class=\"n\">Entries</th></tr></thead>\n<tbody>\n",
            )?;
        }
        for ((path, kind, entries), hosts) in &sets {
            w.write_all(b"<tr><td>")?;
            val(w, path)?;
            w.write_all(b"</td><td>")?;
            val(w, kind)?;
            write!(w, "</td><td class=\"n\">{}</td>", thousands(*entries))?;
            if several {
                w.write_all(b"<td>")?;
                if hosts.len() == self.hosts.len() {
                    w.write_all(b"all hosts")?;
                } else {
                    for (i, h) in hosts.iter().enumerate() {
                        if i > 0 {
                            w.write_all(b", ")?;
                        }
                        val(w, h)?;
                    }
                }
                w.write_all(b"</td>")?;
            }
            w.write_all(b"</tr>\n")?;
        }
        w.write_all(b"</tbody>\n</table>\n</section>\n")
    }
}

/// A finding's path with its container chain: `outer.zip ▸ inner.exe`.
fn chain_path(w: &mut impl Write, f: &FindingRecord) -> io::Result<()> {
    val(w, &f.path)?;
    for c in &f.chain {
        w.write_all("<span class=\"sep\"> \u{25B8} </span>".as_bytes())?;
        val(w, c)?;
    }
    Ok(())
}

/// The heading of a problem kind.
fn problem_heading(w: &mut impl Write, order: usize, kind: &str) -> io::Result<()> {
    match PROBLEM_KINDS.get(order) {
        Some((_, heading)) => w.write_all(heading.as_bytes()),
        None => {
            w.write_all(b"Other: ")?;
            val(w, kind)
        }
    }
}

/// A problem's limit and message.
fn problem_text(w: &mut impl Write, p: &ProblemRecord) -> io::Result<()> {
    if let Some(l) = &p.limit {
        w.write_all(b"<span class=\"badge\">")?;
        val(w, l)?;
        w.write_all(b"</span> ")?;
    }
    if PROBLEM_KINDS.iter().all(|(k, _)| *k != p.kind) || p.message.is_empty() {
        w.write_all(b"<span class=\"k\">")?;
        val(w, &p.kind)?;
        w.write_all(b"</span> ")?;
    }
    val(w, &p.message)
}

/// A sighting's time: as a stamp when it parses, else as recorded.
fn sighting_time(
    w: &mut impl Write,
    raw: Option<&str>,
    t: Option<time::OffsetDateTime>,
) -> io::Result<()> {
    match (t, raw) {
        (Some(t), _) => w.write_all(stamp(t).as_bytes()),
        (None, Some(r)) => val(w, r),
        (None, None) => w.write_all("\u{2014}".as_bytes()),
    }
}

/// One sighting row.
fn sighting_row(w: &mut impl Write, s: &SightingRecord) -> io::Result<()> {
    w.write_all(b"<tr><td>")?;
    match s.client.as_deref() {
        Some(c) => {
            w.write_all(b"<span class=\"h\">")?;
            val(w, c)?;
            w.write_all(b"</span>")?;
        }
        None => w.write_all(b"<span class=\"none\">not in the logs</span>")?,
    }
    w.write_all(b"</td><td><span class=\"k\">")?;
    val(w, &s.indicator.kind)?;
    w.write_all(b"</span> <strong>")?;
    match &s.dga {
        Some(d) => {
            val(w, &d.family)?;
            for (k, v) in [("variant", &d.variant), ("seed", &d.seed)] {
                if !v.is_empty() {
                    write!(w, " <span class=\"k\">{k}</span> ")?;
                    val(w, v)?;
                }
            }
        }
        None => val(w, &s.indicator.value)?,
    }
    w.write_all(b"</strong>")?;
    if let Some(l) = &s.indicator.label {
        w.write_all(b"<br><small>")?;
        val(w, l)?;
        w.write_all(b"</small>")?;
    }
    if !s.matched.is_empty() {
        w.write_all(b"<br><small><span class=\"k\">matched</span> ")?;
        for (i, m) in s.matched.iter().take(MATCHED_SHOWN).enumerate() {
            if i > 0 {
                w.write_all(b", ")?;
            }
            val(w, m)?;
        }
        let total = s.matched_count.max(s.matched.len() as u64);
        let shown = s.matched.len().min(MATCHED_SHOWN) as u64;
        if total > shown {
            write!(w, " and {} more", thousands(total - shown))?;
        }
        w.write_all(b"</small>")?;
    }
    if !s.indicator.source.is_empty() {
        w.write_all(b"<br><small><span class=\"k\">source</span> ")?;
        val(w, &s.indicator.source)?;
        if let Some(line) = s.indicator.line {
            write!(w, ":{line}")?;
        }
        w.write_all(b"</small>")?;
    }
    if let Some(id) = &s.indicator.object_id {
        w.write_all(b"<br><small><span class=\"k\">indicator</span> <span class=\"h\">")?;
        val(w, id)?;
        w.write_all(b"</span></small>")?;
    }
    w.write_all(b"</td><td>")?;
    if let Some(f) = s.family() {
        w.write_all(b"<strong>")?;
        val(w, f)?;
        w.write_all(b"</strong>")?;
    }
    write!(w, "</td><td class=\"n\">{}</td><td>", thousands(s.count))?;
    sighting_time(w, s.first_seen.as_deref(), s.first_seen_time())?;
    w.write_all(b"</td><td>")?;
    sighting_time(w, s.last_seen.as_deref(), s.last_seen_time())?;
    w.write_all(b"</td></tr>\n")
}

/// One detection row.
fn detection(w: &mut impl Write, d: &DetectionRecord) -> io::Result<()> {
    let (class, word) = severity(d.score);
    write!(
        w,
        "<tr><td><span class=\"sev {class}\">{}</span> <span class=\"sevw\">{word}</span></td><td><strong>",
        d.score
    )?;
    val(w, &d.name)?;
    w.write_all(b"</strong></td><td>")?;
    val(w, &d.engine)?;
    w.write_all(b"</td><td>")?;
    if let Some(fam) = d.family() {
        w.write_all(b"<strong>")?;
        val(w, fam)?;
        w.write_all(b"</strong>")?;
    }
    for t in &d.tags {
        w.write_all(b" <span class=\"tag\">")?;
        val(w, t)?;
        w.write_all(b"</span>")?;
    }
    w.write_all(b"</td><td>")?;
    val(w, &d.source)?;
    if let Some(id) = d.indicator_id() {
        w.write_all(b"<br><small><span class=\"k\">indicator</span> <span class=\"h\">")?;
        val(w, id)?;
        w.write_all(b"</span></small>")?;
    }
    if let Some(p) = d.meta_str("producer") {
        w.write_all(b"<br><small><span class=\"k\">producer</span> ")?;
        val(w, p)?;
        w.write_all(b"</small>")?;
    }
    w.write_all(b"</td></tr>\n")
}

/// The style sheet: screen and print. No `url()`, no `@import`, no
/// `@font-face`: the page loads nothing (and the CSP would refuse it).
const CSS: &str = r#":root { --ink: #1b1f24; --muted: #5b6470; --line: #d3d8de; --head: #eef1f4; --accent: #1f3a5f; --mono: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
html { font: 10pt/1.45 system-ui, "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink); background: #fff; }
body { margin: 0 auto; max-width: 1120px; padding: 20px 28px 32px; }
header.top { border-bottom: 3px solid var(--accent); padding-bottom: 10px; margin-bottom: 14px; }
h1 { font-size: 19pt; line-height: 1.2; margin: 10px 0 8px; color: var(--accent); }
h2 { font-size: 13.5pt; margin: 24px 0 8px; padding-bottom: 3px; border-bottom: 1px solid var(--line); color: var(--accent); break-after: avoid; page-break-after: avoid; }
h3 { font-size: 11pt; margin: 16px 0 6px; break-after: avoid; page-break-after: avoid; }
h3 small { font-weight: 400; color: var(--muted); }
small { font-size: 8.5pt; color: var(--muted); }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 1px 14px; margin: 0; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
.tlp { background: #000; padding: 6px 12px; border-radius: 2px; }
.tlp-label { font-weight: 700; font-size: 12pt; letter-spacing: .06em; }
.tlp-desc { color: #fff; font-size: 9pt; margin-left: .8em; }
.tlp-clear .tlp-label { color: #FFFFFF; }
.tlp-green .tlp-label { color: #33FF00; }
.tlp-amber .tlp-label { color: #FFC000; }
.tlp-red .tlp-label { color: #FF2B2B; }
.glance { display: flex; gap: 10px; margin: 14px 0 4px; break-inside: avoid; }
.tile { flex: 1; border: 1px solid var(--line); border-top: 4px solid var(--accent); padding: 7px 10px; background: #fafbfc; }
.tile.warn { border-top-color: #d97706; }
.tile.bad { border-top-color: #b91c1c; }
.tile .num { font-size: 17pt; font-weight: 700; font-variant-numeric: tabular-nums; }
.tile .lbl { font-size: 8.5pt; color: var(--muted); }
.warning { border-left: 4px solid #b91c1c; background: #fdf0f0; padding: 6px 10px; }
.note { color: var(--muted); font-size: 9pt; }
.none { color: var(--muted); font-style: italic; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; margin: 6px 0 14px; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; overflow-wrap: anywhere; word-break: normal; }
th { background: var(--head); font-size: 8.5pt; font-weight: 600; color: #2b323b; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
table.counts { width: auto; min-width: 40%; }
table.summary tbody th { background: #fff; font-size: 9pt; font-weight: 400; color: var(--muted); }
table.summary thead th { font-size: 9.5pt; color: var(--ink); }
table.summary thead th small { font-weight: 400; }
.total { background: #f5f7f9; font-weight: 600; }
table.summary td.n { white-space: nowrap; }
.flag { color: #b91c1c; font-weight: 700; }
table.counts td, table.counts th { padding: 3px 10px; }
tbody.file { break-inside: avoid-page; }
tr.file td { background: #f3f5f8; border-top: 2px solid #8a94a0; }
.path { font-weight: 600; }
.no { display: inline-block; min-width: 2.6em; color: var(--muted); font-weight: 400; }
.kv { font-size: 9pt; margin-top: 2px; }
.k { color: var(--muted); font-size: 8.5pt; text-transform: uppercase; letter-spacing: .03em; margin-right: .2em; }
.h { font-family: var(--mono); font-size: 8.5pt; word-break: break-all; }
.v { unicode-bidi: bidi-override; unicode-bidi: isolate-override; direction: ltr; white-space: pre-wrap; overflow-wrap: anywhere; }
.c { font-family: var(--mono); font-size: .85em; font-weight: 400; color: #8a1c00; background: #fff1e6; border: 1px dashed #c2410c; border-radius: 2px; padding: 0 1px; margin: 0 1px; white-space: nowrap; }
.cut { color: var(--muted); font-style: italic; }
.sep { color: var(--muted); font-weight: 700; }
.sev { display: inline-block; min-width: 2.6em; text-align: center; font-weight: 700; border-radius: 3px; padding: 0 5px; font-variant-numeric: tabular-nums; }
.sev-malicious { background: #b91c1c; color: #fff; }
.sev-suspicious { background: #ea580c; color: #fff; }
.sev-notable { background: #facc15; color: #1b1f24; }
.sev-low { background: #e5e7eb; color: #1b1f24; }
.sevw { font-size: 8.5pt; color: var(--muted); }
.tag { display: inline-block; font-size: 8pt; border: 1px solid var(--line); border-radius: 8px; padding: 0 6px; background: #f4f6f8; }
.badge { display: inline-block; font-size: 8.5pt; border: 1px solid var(--line); border-radius: 3px; padding: 0 5px; background: #f4f6f8; }
.badge.ok { border-color: #15803d; color: #14532d; background: #ecfdf3; }
.badge.bad { border-color: #b91c1c; color: #7f1d1d; background: #fdf0f0; }
footer { margin-top: 28px; padding-top: 6px; border-top: 1px solid var(--line); font-size: 8.5pt; color: var(--muted); }
@page { size: A4 portrait; margin: 16mm 12mm 16mm 12mm; @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 7.5pt sans-serif; color: #555; } }
@media print {
  html { font-size: 8.5pt; }
  body { max-width: none; padding: 0; }
  h1 { font-size: 16pt; }
  h2 { font-size: 12pt; }
  .tile .num { font-size: 14pt; }
  section { break-inside: auto; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_metacharacters_in_text_and_attributes() {
        let s = r#"<img src=x onerror=alert(1)> & "q" 'a'"#;
        let want = "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;a&#39;";
        assert_eq!(escape_text(s), want);
        assert_eq!(escape_attr(s), want);
        assert_eq!(
            escape_text("</title><script>"),
            "&lt;/title&gt;&lt;script&gt;"
        );
        assert_eq!(escape_text("&amp;"), "&amp;amp;");
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for s in [
            "",
            "C:\\Users\\a\\invoice.pdf",
            "Überweisung ärger.exe",
            "日本語.doc",
            "مرحبا",
        ] {
            assert_eq!(escape_text(s), s);
            assert_eq!(escape_attr(s), s);
        }
    }

    #[test]
    fn hidden_characters_are_shown_as_codes() {
        let cases = [
            ('\u{202E}', "\\u{202e}"),
            ('\u{202D}', "\\u{202d}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{200B}', "\\u{200b}"),
            ('\u{200D}', "\\u{200d}"),
            ('\u{200F}', "\\u{200f}"),
            ('\u{061C}', "\\u{61c}"),
            ('\u{FEFF}', "\\u{feff}"),
            ('\u{00AD}', "\\u{ad}"),
            ('\u{00A0}', "\\u{a0}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{FFFD}', "\\u{fffd}"),
            ('\u{E0041}', "\\u{e0041}"),
            ('\u{0}', "\\u{0}"),
            ('\u{1b}', "\\u{1b}"),
            ('\u{7f}', "\\u{7f}"),
            ('\u{85}', "\\u{85}"),
            ('\u{9b}', "\\u{9b}"),
            ('\n', "\\n"),
            ('\r', "\\r"),
            ('\t', "\\t"),
        ];
        for (c, code) in cases {
            let s = format!("a{c}b");
            assert_eq!(
                escape_text(&s),
                format!("a<span class=\"c\">{code}</span>b"),
                "{:?}",
                c
            );
            assert_eq!(escape_attr(&s), format!("a{code}b"), "{:?}", c);
        }
        let out = escape_text("invoice\u{202E}fdp.exe");
        assert!(!out.contains('\u{202E}'));
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        // A two-byte character straddles the limit.
        let s = format!("{}é{}", "a".repeat(MAX_VALUE_BYTES - 1), "b".repeat(100));
        let out = escape_text(&s);
        assert!(out.starts_with(&"a".repeat(MAX_VALUE_BYTES - 1)));
        assert!(!out.contains('é'));
        assert!(
            out.contains("102 more bytes not shown"),
            "{}",
            &out[MAX_VALUE_BYTES - 1..]
        );
        let plain = escape_attr(&s);
        assert!(plain.ends_with("\u{2026} (102 more bytes)"));
    }

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
        assert_eq!(duration(1.25), "1.2 s");
        assert_eq!(duration(125.0), "2 min 05 s");
        assert_eq!(duration(7380.0), "2 h 03 min");
        assert_eq!(duration(f64::NAN), "\u{2014}");
        assert_eq!(duration(-1.0), "\u{2014}");
    }

    #[test]
    fn severity_thresholds() {
        assert_eq!(severity(100).1, "malicious");
        assert_eq!(severity(75).1, "malicious");
        assert_eq!(severity(74).1, "suspicious");
        assert_eq!(severity(60).1, "suspicious");
        assert_eq!(severity(59).1, "notable");
        assert_eq!(severity(40).1, "notable");
        assert_eq!(severity(39).1, "low");
    }

    fn report_of(runs: &[Run]) -> String {
        let opts = HtmlOptions {
            title: None,
            tlp: None,
            now: time::OffsetDateTime::UNIX_EPOCH,
        };
        let mut out = Vec::new();
        write_report(runs, &opts, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn sightings_are_listed_escaped_most_events_first() {
        let s = |client: Option<&str>, value: &str, count: u64| SightingRecord {
            client: client.map(str::to_string),
            indicator: crate::records::SightedIndicator {
                kind: "domain".into(),
                value: value.into(),
                family: Some("Nym<aim>".into()),
                ..Default::default()
            },
            first_seen: Some("2026-12-01T08:00:00Z".into()),
            last_seen: Some("not a time".into()),
            count,
            ..Default::default()
        };
        let run = Run {
            origin: "hunt.ndjson".into(),
            sightings: vec![
                s(Some("<b>10.0.0.1</b>"), "few.example", 1),
                s(None, "many\u{202e}.example", 9),
            ],
            hunt: Some(crate::records::HuntContext {
                host: Some("resolver".into()),
                started: None,
            }),
            ..Default::default()
        };
        let html = report_of(&[run]);
        assert!(html.contains("<title>takedown hunt report</title>"));
        assert!(
            html.contains("&lt;b&gt;10.0.0.1&lt;/b&gt;"),
            "client escaped"
        );
        assert!(!html.contains("<b>10.0.0.1"));
        assert!(html.contains("not in the logs"));
        assert!(html.contains("Nym&lt;aim&gt;"));
        assert!(html.contains("<span class=\"c\">\\u{202e}</span>"));
        assert!(html.contains("2026-12-01 08:00:00 UTC"));
        assert!(
            html.contains(">not a time<"),
            "an unreadable time shown as recorded"
        );
        assert!(!html.contains("cut short"), "a hunt-summary is a summary");
        let many = html.find("many").unwrap();
        let few = html.find("few.example").unwrap();
        assert!(many < few, "most events first");
        // A scan's report has no sightings section.
        let scan = report_of(&[Run {
            origin: "scan".into(),
            ..Default::default()
        }]);
        assert!(!scan.contains("<h2>Sightings"));
        assert!(scan.contains("<title>takedown scan report</title>"));
    }

    #[test]
    fn findings_sorted_by_max_score_then_path() {
        let f = |path: &str, score: u32| FindingRecord {
            path: path.into(),
            detections: vec![DetectionRecord {
                engine: "yara".into(),
                name: format!("R{score}"),
                score,
                ..Default::default()
            }],
            ..Default::default()
        };
        let run = Run {
            origin: "o".into(),
            findings: vec![
                f("/b", 50),
                f("/a", 50),
                f("/z", 100),
                FindingRecord {
                    path: "/only-problem".into(),
                    problems: vec![ProblemRecord {
                        kind: "error".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            summary: None,
            ..Default::default()
        };
        let runs = [run];
        let opts = HtmlOptions {
            title: None,
            tlp: None,
            now: time::OffsetDateTime::UNIX_EPOCH,
        };
        let r = Report::new(&runs, &opts);
        assert_eq!(r.detected, vec![vec![2, 1, 0]]);
        assert_eq!(r.malicious_files, 1);
    }
}
