//! IntelMQ events: one JSON object per line, with IntelMQ's flat keys,
//! as its file output bot writes them (`intelmq.bots.outputs.file`, the
//! default `hierarchical_output: false`; keys from IntelMQ's data format,
//! <https://docs.intelmq.org/latest/dev/data-format/>):
//!
//! ```json
//! {"feed.name": "Sinkhole-Events IPv4", "time.source": "2021-03-04T00:00:00+00:00",
//!  "source.ip": "198.51.100.2", "source.port": 17409, "source.asn": 64496,
//!  "source.geolocation.cc": "PE", "malware.name": "victorygate.b",
//!  "classification.taxonomy": "malicious-code", "destination.ip": "203.0.113.9",
//!  "destination.port": 4455, "extra.tag": "x", "raw": "..."}
//! ```
//!
//! The event's family is `malware.name`, else `classification.identifier`
//! when the event is a malware infection (taxonomy `malicious-code` or
//! type `infected-system`: IntelMQ's experts set the identifier to the
//! harmonised malware name there). Its destination is
//! `destination.fqdn`, else `destination.ip` and `destination.port`,
//! else `destination.url`. An event without `source.ip` names nobody to
//! notify: it is a row error.

use super::fields::{
    family_value, parse_asn, parse_ip, parse_port, parse_time, push_country, push_endpoint,
    push_lower, push_text,
};
use super::{Filled, ReportError, Sink, Slots, Stats, read_json_lines};
use crate::Event;
use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;

/// The keys of an event read here; the others are skipped unparsed.
#[derive(Deserialize)]
struct Flat<'a> {
    #[serde(rename = "time.source", borrow, default)]
    time_source: Option<Cow<'a, str>>,
    #[serde(rename = "source.ip", borrow, default)]
    source_ip: Option<Cow<'a, str>>,
    #[serde(rename = "source.port", borrow, default)]
    source_port: Option<Scalar<'a>>,
    #[serde(rename = "source.asn", borrow, default)]
    source_asn: Option<Scalar<'a>>,
    #[serde(rename = "source.geolocation.cc", borrow, default)]
    source_cc: Option<Cow<'a, str>>,
    #[serde(rename = "malware.name", borrow, default)]
    malware_name: Option<Cow<'a, str>>,
    #[serde(rename = "classification.identifier", borrow, default)]
    identifier: Option<Cow<'a, str>>,
    #[serde(rename = "classification.taxonomy", borrow, default)]
    taxonomy: Option<Cow<'a, str>>,
    #[serde(rename = "classification.type", borrow, default)]
    class_type: Option<Cow<'a, str>>,
    #[serde(rename = "destination.fqdn", borrow, default)]
    destination_fqdn: Option<Cow<'a, str>>,
    #[serde(rename = "destination.ip", borrow, default)]
    destination_ip: Option<Cow<'a, str>>,
    #[serde(rename = "destination.port", borrow, default)]
    destination_port: Option<Scalar<'a>>,
    #[serde(rename = "destination.url", borrow, default)]
    destination_url: Option<Cow<'a, str>>,
    /// Present in hierarchical output (`{"source": {"ip": ...}}`).
    #[serde(default)]
    source: Option<IgnoredAny>,
}

/// A JSON scalar as IntelMQ may write a number: a number or a string.
enum Scalar<'a> {
    Int(i128),
    Str(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Int(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Int(v.into()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl Scalar<'_> {
    fn port(&self) -> Result<u16, ()> {
        match self {
            Scalar::Int(v) => u16::try_from(*v).map_err(|_| ()),
            Scalar::Str(s) => parse_port(s.as_bytes())?.ok_or(()),
            Scalar::Other => Err(()),
        }
    }

    fn asn(&self) -> Option<u32> {
        match self {
            Scalar::Int(v) => u32::try_from(*v).ok().filter(|&v| v != 0),
            Scalar::Str(s) => parse_asn(s.as_bytes()),
            Scalar::Other => None,
        }
    }
}

/// The report type of IntelMQ events.
pub const REPORT_TYPE: &str = "intelmq";

/// Reads IntelMQ events, one per line.
pub(crate) fn read(
    r: &mut dyn BufRead,
    file: &str,
    sink: &mut Sink<'_>,
    stats: &mut Stats,
) -> Result<(), ReportError> {
    read_json_lines(r, file, REPORT_TYPE, sink, stats, |line, ev, slots| {
        fill(line, ev, slots).map(|()| Filled::Event)
    })
}

fn fill(line: &[u8], ev: &mut Event, slots: &mut Slots) -> Result<(), &'static str> {
    let e: Flat =
        serde_json::from_slice(line).map_err(|_| "not an IntelMQ event (invalid JSON)")?;
    let Some(ip) = e.source_ip.as_deref() else {
        return Err(if e.source.is_some() {
            "a hierarchical IntelMQ event: read with flat keys (hierarchical_output: false)"
        } else {
            "no source.ip"
        });
    };
    ev.ip = Some(parse_ip(ip.as_bytes()).ok_or("invalid source.ip")?);
    if let Some(t) = e.time_source.as_deref() {
        ev.time = Some(parse_time(t.as_bytes()).ok_or("invalid time.source")?);
    }
    if let Some(p) = &e.source_port {
        ev.port = Some(p.port().map_err(|()| "invalid source.port")?);
    }
    ev.asn = e.source_asn.as_ref().and_then(Scalar::asn);
    if let Some(cc) = e.source_cc.as_deref() {
        push_country(cc.as_bytes(), &mut slots.country);
    }
    let infection = e
        .taxonomy
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("malicious-code"))
        || e.class_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("infected-system"));
    let family = e
        .malware_name
        .as_deref()
        .and_then(|m| family_value(m.as_bytes()))
        .or_else(|| {
            e.identifier
                .as_deref()
                .filter(|_| infection)
                .and_then(|i| family_value(i.as_bytes()))
        });
    if let Some(f) = family {
        push_lower(f, &mut slots.family);
    }
    let fqdn = e.destination_fqdn.as_deref().map(str::trim).unwrap_or("");
    if !fqdn.is_empty() {
        push_text(fqdn.as_bytes(), &mut slots.destination);
    } else if let Some(dip) = e
        .destination_ip
        .as_deref()
        .and_then(|d| parse_ip(d.as_bytes()))
    {
        let dport = e.destination_port.as_ref().and_then(|p| p.port().ok());
        push_endpoint(dip, dport, &mut slots.destination);
    } else if let Some(url) = e.destination_url.as_deref().map(str::trim) {
        push_text(url.as_bytes(), &mut slots.destination);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Event;
    use crate::report::testing::collect;
    use crate::report::{RowError, Stats};

    fn run(text: &str) -> (Vec<Event>, Vec<RowError>, Stats) {
        let (evs, errs, stats) = collect("events.json", text.as_bytes());
        (evs, errs, stats.unwrap())
    }

    #[test]
    fn events_as_the_file_output_writes_them() {
        // As IntelMQ 3.5's file output writes a Shadowserver sinkhole
        // event (keys sorted, "raw" base64).
        let text = concat!(
            r#"{"classification.identifier": "victorygate.b", "classification.taxonomy": "malicious-code", "classification.type": "infected-system", "destination.asn": 64511, "destination.geolocation.cc": "DE", "destination.ip": "203.0.113.9", "destination.port": 4455, "extra.family": "victorygate.b", "feed.name": "Sinkhole-Events IPv4", "malware.name": "victorygate.b", "protocol.transport": "tcp", "raw": "InRpbWVzdGFtcCI=", "source.asn": 64496, "source.geolocation.cc": "PE", "source.ip": "198.51.100.2", "source.port": 17409, "time.observation": "2021-03-05T00:00:00+00:00", "time.source": "2021-03-04T00:00:00+00:00"}"#,
            "\n\n",
            // Numbers as strings; an identifier standing for the family; a
            // host name as destination; an IPv6 source.
            r#"{"classification.taxonomy":"malicious-code","classification.identifier":"Conficker","source.ip":"2001:db8::7","source.port":"443","source.asn":"AS64500","destination.fqdn":"c2.example","destination.ip":"203.0.113.1","time.source":"2021-03-04T00:00:00.250000+00:00"}"#,
            "\r\n",
            // A scan event: its identifier is not a family.
            r#"{"classification.taxonomy":"vulnerable","classification.identifier":"open-redis","source.ip":"192.0.2.5","destination.url":"http://x.example/"}"#,
            "\n"
        );
        let (evs, errs, stats) = run(text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(evs.len(), 3);
        let e = &evs[0];
        assert_eq!(e.ip, Some("198.51.100.2".parse().unwrap()));
        assert_eq!(e.port, Some(17409));
        assert_eq!(e.asn, Some(64496));
        assert_eq!(e.country.as_deref(), Some("PE"));
        assert_eq!(e.family.as_deref(), Some("victorygate.b"));
        assert_eq!(e.destination.as_deref(), Some("203.0.113.9:4455"));
        assert_eq!(e.time, Some(1_614_816_000_000_000));
        assert_eq!(e.report_type, "intelmq");
        assert_eq!((e.line, evs[1].line, evs[2].line), (1, 3, 4));
        assert_eq!(evs[1].family.as_deref(), Some("conficker"));
        assert_eq!(evs[1].port, Some(443));
        assert_eq!(evs[1].asn, Some(64500));
        assert_eq!(evs[1].destination.as_deref(), Some("c2.example"));
        assert_eq!(evs[1].time, Some(1_614_816_000_250_000));
        assert_eq!(evs[2].family, None);
        assert_eq!(evs[2].country, None);
        assert_eq!(evs[2].destination.as_deref(), Some("http://x.example/"));
        assert_eq!(stats.by_type.get("intelmq"), Some(&3));
        assert_eq!(stats.rows, 3);
    }

    #[test]
    fn bad_events() {
        let text = concat!(
            r#"{"feed.name":"x","source.ip":"192.0.2.1"}"#,
            "\n",
            r#"{"feed.name":"x","source.fqdn":"a.example"}"#,
            "\n",
            r#"{"feed.name":"x","source.ip":"192.0.2.300"}"#,
            "\n",
            r#"{"feed.name":"x","source.ip":"192.0.2.1","source.port":70000}"#,
            "\n",
            r#"{"feed.name":"x","source.ip":"192.0.2.1","time.source":"soon"}"#,
            "\n",
            r#"{"feed.name":"x","source": {"ip": "192.0.2.1"}}"#,
            "\n",
            "not json\n",
            r#"{"feed.name":"x","source.ip":["192.0.2.1"]}"#,
            "\n",
            r#"{"feed.name":"x","source.ip":"192.0.2.9","malware.name":"Mirai","time.source":"2021-03-04T00:00:00+00:00"}"#,
        );
        let (evs, errs, stats) = run(text);
        let got: Vec<(u64, &str)> = errs.iter().map(|e| (e.line, e.reason.as_str())).collect();
        assert_eq!(
            got,
            [
                (2, "no source.ip"),
                (3, "invalid source.ip"),
                (4, "invalid source.port"),
                (5, "invalid time.source"),
                (
                    6,
                    "a hierarchical IntelMQ event: read with flat keys (hierarchical_output: false)"
                ),
                (7, "not an IntelMQ event (invalid JSON)"),
                (8, "not an IntelMQ event (invalid JSON)"),
            ]
        );
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].time, None);
        assert_eq!(evs[1].family.as_deref(), Some("mirai"));
        assert_eq!(evs[1].line, 9);
        assert_eq!((stats.rows, stats.events, stats.errors), (9, 2, 7));
    }
}
