//! The `events.csv` attachment: one line per row, RFC 4180.
//!
//! A CERT's customers open it in a spreadsheet, and its cells come from
//! reports: a cell that starts with `=`, `+`, `-`, `@`, a tab or a
//! carriage return would be taken for a formula (OWASP's CSV injection),
//! so it gets a leading `'`, which spreadsheets show as text.

use super::{Notice, Row, day_text, iso_time};

/// The header row.
pub(crate) const HEADER: [&str; 12] = [
    "ip",
    "family",
    "day",
    "first_seen",
    "last_seen",
    "count",
    "port",
    "asn",
    "country",
    "destination",
    "report_type",
    "rule",
];

/// The CSV of a notice's rows, with a header row, CRLF line ends.
pub(crate) fn write(n: &Notice) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + n.rows.len() * 96);
    header(&mut out);
    for r in &n.rows {
        row(&mut out, n, r);
    }
    out
}

/// The header line.
pub(crate) fn header(out: &mut Vec<u8>) {
    line(out, HEADER.iter().map(|s| s.to_string()));
}

/// One row's line.
pub(crate) fn row(out: &mut Vec<u8>, n: &Notice, r: &Row) {
    line(
        out,
        [
            r.ip.to_string(),
            r.family.clone(),
            day_text(r.day),
            iso_time(r.first, true),
            iso_time(r.last, true),
            r.count.to_string(),
            r.port.map(|p| p.to_string()).unwrap_or_default(),
            r.asn.map(|a| a.to_string()).unwrap_or_default(),
            r.country.clone().unwrap_or_default(),
            r.destination.clone().unwrap_or_default(),
            r.report_type.clone(),
            n.rule_of(r),
        ]
        .into_iter(),
    );
}

fn line(out: &mut Vec<u8>, cells: impl Iterator<Item = String>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        cell_into(out, &cell);
    }
    out.extend_from_slice(b"\r\n");
}

/// One cell: formula-safe, quoted when it holds a comma, a quote or a
/// line break (quotes doubled). NUL, which some readers refuse, becomes
/// U+FFFD.
fn cell_into(out: &mut Vec<u8>, cell: &str) {
    let formula = matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    let quote = cell
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if quote {
        out.push(b'"');
    }
    if formula {
        out.push(b'\'');
    }
    for c in cell.chars() {
        match c {
            '"' => out.extend_from_slice(b"\"\""),
            '\0' => out.extend_from_slice("\u{FFFD}".as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    if quote {
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(s: &str) -> String {
        let mut v = Vec::new();
        cell_into(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn cells_are_quoted_and_formula_safe() {
        assert_eq!(cell("mirai"), "mirai");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("a\r\nb"), "\"a\r\nb\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\ttab"), "'\ttab");
        assert_eq!(cell("a\0b"), "a\u{FFFD}b");
        assert_eq!(cell("日本"), "日本");
        assert_eq!(cell(""), "");
    }
}
