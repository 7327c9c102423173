//! takedown's own hunt output (`takedown hunt --format json`): its
//! `"type":"sighting"` lines ([`SightingRecord`]), one event per sighting
//! with a client: the client as the address, `first_seen` as the time,
//! the DGA's family or else the indicator's as the family, the
//! indicator's value as the destination, report type `hunt`.
//!
//! The hunt's other lines (`hunt-summary`, `flux`, `dga-suspect`, and a
//! scan's `finding` and `summary` when outputs are concatenated) are
//! skipped silently, and so is a sighting without a client (passive DNS:
//! nobody to notify); both are counted in [`Stats::skipped`].

use super::fields::{parse_ip, push_lower, push_text};
use super::{Filled, ReportError, Sink, Slots, Stats, read_json_lines};
use crate::Event;
use serde::Deserialize;
use std::borrow::Cow;
use std::io::BufRead;
use takedown_intel::records::SightingRecord;

/// The report type of hunt sightings.
pub const REPORT_TYPE: &str = "hunt";

/// A line's record type (the rest of the line is skipped unparsed).
#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
}

/// Reads a hunt NDJSON stream.
pub(crate) fn read(
    r: &mut dyn BufRead,
    file: &str,
    sink: &mut Sink<'_>,
    stats: &mut Stats,
) -> Result<(), ReportError> {
    read_json_lines(r, file, REPORT_TYPE, sink, stats, fill)
}

fn fill(line: &[u8], ev: &mut Event, slots: &mut Slots) -> Result<Filled, &'static str> {
    let typed: Typed = serde_json::from_slice(line).map_err(|_| "invalid JSON")?;
    match typed.kind.as_deref() {
        Some("sighting") => {}
        Some(_) => return Ok(Filled::Skipped),
        None => return Err("not a takedown record (no \"type\")"),
    }
    let s: SightingRecord = serde_json::from_slice(line).map_err(|_| "not a sighting record")?;
    let Some(client) = s.client.as_deref() else {
        return Ok(Filled::Skipped);
    };
    ev.ip = Some(parse_ip(client.as_bytes()).ok_or("invalid client address")?);
    if s.first_seen.is_some() {
        let t = s.first_seen_time().ok_or("invalid first_seen")?;
        let micros = t.unix_timestamp_nanos() / 1_000;
        ev.time = Some(i64::try_from(micros).map_err(|_| "invalid first_seen")?);
    }
    if let Some(f) = s.family() {
        push_lower(f.trim().as_bytes(), &mut slots.family);
    }
    push_text(s.indicator.value.trim().as_bytes(), &mut slots.destination);
    Ok(Filled::Event)
}

#[cfg(test)]
mod tests {
    use crate::Event;
    use crate::report::testing::collect;
    use crate::report::{RowError, Stats};

    fn run(text: &str) -> (Vec<Event>, Vec<RowError>, Stats) {
        let (evs, errs, stats) = collect("hunt.ndjson", text.as_bytes());
        (evs, errs, stats.unwrap())
    }

    #[test]
    fn sightings_with_a_client_become_events() {
        // Lines as `takedown hunt --format json` writes them (the shapes of
        // crates/intel/src/records.rs and docs/finding.schema.json).
        let text = concat!(
            r#"{"type":"sighting","version":1,"client":"192.0.2.10","indicator":{"type":"domain","value":"evil.example","source":"feed.json","family":"Nymaim"},"matched":["a.evil.example","evil.example"],"matched_count":2,"first_seen":"2026-12-01T08:00:00Z","last_seen":"2026-12-01T09:30:00.5Z","count":7,"kinds":["dns"],"samples":[{"file":"dns.log","line":3,"kind":"dns","value":"a.evil.example"}]}"#,
            "\n",
            r#"{"type":"flux","version":1,"name":"x.example"}"#,
            "\n",
            r#"{"type":"sighting","version":1,"client":null,"indicator":{"type":"dga","value":"nymaim:3"},"dga":{"family":"nymaim","seed":"3"},"count":40}"#,
            "\n",
            r#"{"type":"sighting","version":1,"client":"2001:db8::5","indicator":{"type":"dga","value":"Necurs"},"dga":{"family":"Necurs","variant":"","seed":""},"first_seen":"2026-12-01T08:00:00.123456789+01:00","count":3}"#,
            "\n",
            r#"{"type":"sighting","version":1,"client":"192.0.2.11","indicator":{"type":"url","value":"http://x.example/"},"count":1}"#,
            "\n",
            r#"{"type":"hunt-summary","version":1,"host":"h"}"#,
            "\n",
        );
        let (evs, errs, stats) = run(text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs.len(), 3);
        let e = &evs[0];
        assert_eq!(e.ip, Some("192.0.2.10".parse().unwrap()));
        // 2026-12-01T08:00:00Z
        assert_eq!(e.time, Some(1_796_112_000_000_000));
        assert_eq!(e.family.as_deref(), Some("nymaim"));
        assert_eq!(e.destination.as_deref(), Some("evil.example"));
        assert_eq!((e.port, e.asn, e.country.as_deref()), (None, None, None));
        assert_eq!(e.report_type, "hunt");
        assert_eq!(e.line, 1);
        assert_eq!(evs[1].family.as_deref(), Some("necurs"));
        assert_eq!(evs[1].time, Some(1_796_108_400_123_456));
        assert_eq!(evs[1].line, 4);
        assert_eq!(evs[2].family, None);
        assert_eq!(evs[2].time, None);
        assert_eq!(stats.skipped, 3);
        assert_eq!(stats.rows, 6);
        assert_eq!(stats.by_type.get("hunt"), Some(&3));
    }

    #[test]
    fn bad_lines() {
        let text = concat!(
            r#"{"type":"sighting","client":"192.0.2.1","indicator":{"type":"domain","value":"a.example"},"count":1}"#,
            "\n",
            r#"{"type":"sighting","client":"not an address","indicator":{"type":"domain","value":"a.example"},"count":1}"#,
            "\n",
            r#"{"type":"sighting","client":"192.0.2.1","count":"many"}"#,
            "\n",
            r#"{"type":"sighting","client":"192.0.2.1","indicator":{"type":"domain","value":"a.example"},"first_seen":"yesterday","count":1}"#,
            "\n",
            "{\"no\":\"type\"}\n",
            "{broken\n",
        );
        let (evs, errs, _) = run(text);
        assert_eq!(evs.len(), 1);
        let got: Vec<(u64, &str)> = errs.iter().map(|e| (e.line, e.reason.as_str())).collect();
        assert_eq!(
            got,
            [
                (2, "invalid client address"),
                (3, "not a sighting record"),
                (4, "invalid first_seen"),
                (5, "not a takedown record (no \"type\")"),
                (6, "invalid JSON"),
            ]
        );
    }
}
