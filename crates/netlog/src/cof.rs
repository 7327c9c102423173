//! Passive DNS in the common output format (COF,
//! draft-dulaunoy-dnsop-passive-dns-cof; its repository
//! adulau/pdns-qof): one JSON object per line (NDJSON) per unique
//! (`rrname`, `rrtype`, `rdata`) with `time_first`, `time_last` (epoch
//! seconds), and optionally `count`, `bailiwick`, `sensor_id`,
//! `zone_time_first`/`zone_time_last`, `time_first_ms`/`time_last_ms`,
//! `origin`.
//!
//! Also read, as pDNS servers return them: `rdata` as a string or an
//! array (the draft allows both); `rrtype` as a mnemonic or a number;
//! numbers quoted as strings (CIRCL's early server), its `rrdata` key;
//! keys in any order (CIRCL's output is sorted, `rdata` before
//! `rrtype`); Farsight DNSDB's streaming form, each record wrapped in
//! `{"obj": {...}}` between `{"cond": ...}` lines (those are
//! [`Outcome::Ignored`]).
//!
//! Event: a DNS event without a client or server: `rrname` is the name,
//! `rrtype` the query type, the `rdata` values the answers (addresses of
//! A/AAAA, target names of CNAME, NS, PTR, DNAME, MX, SRV, SVCB, HTTPS;
//! other types give none). Its time is `time_last`, the most recent
//! observation (else `time_last_ms`, else `zone_time_last`), so that a
//! sighting is dated by when the name last resolved that way.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::eve::{
    KeySeed, MAX_ANSWERS, MAX_NAME, Num, RdataStyle, Str, answer_of, contains, push_answer,
    rrtype_code, set_name,
};
use crate::event::{Answer, AnswerData, Event, EventKind, Outcome};

const KEYS: &[&str] = &[
    "rrname",
    "rrtype",
    "rdata",
    "rrdata",
    "time_last",
    "time_last_ms",
    "zone_time_last",
    "obj",
    "cond",
];
const K_RRNAME: usize = 0;
const K_RRTYPE: usize = 1;
const K_RDATA: usize = 2;
const K_RRDATA: usize = 3;
const K_TIME_LAST: usize = 4;
const K_TIME_LAST_MS: usize = 5;
const K_ZONE_TIME_LAST: usize = 6;
const K_OBJ: usize = 7;
const K_COND: usize = 8;

/// Longest rdata kept while its type is not known yet (a master-file
/// right-hand side of an MX, SRV or HTTPS record fits easily).
const MAX_PENDING_RDATA: usize = 4 * MAX_NAME;

/// What a record gave, before it is checked.
#[derive(Default)]
struct Cof<'de> {
    rrname: Option<Cow<'de, str>>,
    /// `Some(None)`: an `rrtype` number out of range.
    rrtype: Option<Option<u16>>,
    time_last: Option<Num>,
    time_last_ms: Option<Num>,
    zone_time_last: Option<Num>,
    /// Data read before `rrtype`: kept in `ev.answers` as names, typed
    /// once the type is known.
    pending: bool,
    /// A DNSDB stream control line (`{"cond": "begin"}`).
    control: bool,
    bad: Option<&'static str>,
}

/// Reads one COF line into `ev`.
pub fn parse(line: &[u8], ev: &mut Event) -> Outcome {
    let mut c = Cof::default();
    let mut de = serde_json::Deserializer::from_slice(line);
    let read = CofSeed {
        ev: &mut *ev,
        c: &mut c,
        nested: false,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if read.is_err() {
        return Outcome::Bad("invalid JSON");
    }
    match fill(&c, ev) {
        Ok(o) => o,
        Err(reason) => Outcome::Bad(reason),
    }
}

fn fill(c: &Cof, ev: &mut Event) -> Result<Outcome, &'static str> {
    let Some(rrname) = c.rrname.as_deref() else {
        if c.control {
            return Ok(Outcome::Ignored("pDNS stream control line"));
        }
        return Err("missing rrname");
    };
    if let Some(reason) = c.bad {
        return Err(reason);
    }
    let rrtype = match c.rrtype {
        Some(Some(t)) => t,
        Some(None) => return Err("invalid rrtype"),
        None => return Err("missing rrtype"),
    };
    if c.pending {
        let mut bad = None;
        ev.answers.retain_mut(|a| {
            let AnswerData::Name(data) = &a.data else {
                return true;
            };
            match answer_of(rrtype, data, None, RdataStyle::MasterFile) {
                Ok(Some(typed)) => {
                    *a = typed;
                    true
                }
                Ok(None) => false,
                Err(reason) => {
                    bad.get_or_insert(reason);
                    false
                }
            }
        });
        if let Some(reason) = bad {
            return Err(reason);
        }
    }
    ev.kind = EventKind::Dns;
    set_name(&mut ev.name, rrname)?;
    ev.qtype = rrtype;
    let time = if let Some(t) = c.time_last {
        Some(t.secs_to_micros())
    } else if let Some(t) = c.time_last_ms {
        Some(
            t.to_u64()
                .filter(|ms| ms / 1000 <= crate::eve::MAX_EPOCH_SECS)
                .map(|ms| ms as i64 * 1000),
        )
    } else {
        c.zone_time_last.map(Num::secs_to_micros)
    };
    if let Some(t) = time {
        ev.time = Some(t.ok_or("invalid time")?);
    }
    Ok(Outcome::Event)
}

/// True when `line` looks like a COF record: an object with `"rrname"`,
/// `"rdata"` and `"time_first"` or `"time_last"` keys.
pub fn sniff(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    t.first() == Some(&b'{')
        && t.last() == Some(&b'}')
        && contains(t, b"\"rrname\"")
        && (contains(t, b"\"rdata\"") || contains(t, b"\"rrdata\""))
        && (contains(t, b"\"time_first\"") || contains(t, b"\"time_last\""))
}

/// A record (or DNSDB's `obj` wrapper around one).
struct CofSeed<'a, 'de> {
    ev: &'a mut Event,
    c: &'a mut Cof<'de>,
    nested: bool,
}

impl<'de> DeserializeSeed<'de> for CofSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CofSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a passive DNS record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let CofSeed { ev, c, nested } = self;
        while let Some(k) = map.next_key_seed(KeySeed(KEYS))? {
            match k {
                K_RRNAME => c.rrname = Some(map.next_value::<Str>()?.0),
                K_RRTYPE => c.rrtype = Some(map.next_value::<RrType>()?.0),
                K_RDATA | K_RRDATA => map.next_value_seed(RdataSeed {
                    ev: &mut *ev,
                    c: &mut *c,
                })?,
                K_TIME_LAST => c.time_last = Some(map.next_value()?),
                K_TIME_LAST_MS => c.time_last_ms = Some(map.next_value()?),
                K_ZONE_TIME_LAST => c.zone_time_last = Some(map.next_value()?),
                K_OBJ if !nested => map.next_value_seed(CofSeed {
                    ev: &mut *ev,
                    c: &mut *c,
                    nested: true,
                })?,
                K_COND if !nested => {
                    c.control = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An `rrtype`: a mnemonic or a number (`None` when out of range).
struct RrType(Option<u16>);

impl<'de> serde::Deserialize<'de> for RrType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RrType, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RrType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RR type")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RrType, E> {
                Ok(RrType(u16::try_from(v).ok()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RrType, E> {
                Ok(RrType(u16::try_from(v).ok()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RrType, E> {
                Ok(RrType(None))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RrType, E> {
                Ok(RrType(Some(rrtype_code(v))))
            }
        }
        d.deserialize_any(V)
    }
}

/// `rdata`: one string or an array of strings.
struct RdataSeed<'a, 'de> {
    ev: &'a mut Event,
    c: &'a mut Cof<'de>,
}

impl RdataSeed<'_, '_> {
    fn one(&mut self, data: &str) {
        match self.c.rrtype {
            Some(Some(t)) => {
                if let Err(reason) =
                    push_answer(&mut self.ev.answers, t, data, None, RdataStyle::MasterFile)
                {
                    self.c.bad.get_or_insert(reason);
                }
            }
            // A bad type: reported as such, the data does not matter.
            Some(None) => {}
            None => {
                if self.ev.answers.len() < MAX_ANSWERS && data.len() <= MAX_PENDING_RDATA {
                    self.c.pending = true;
                    self.ev.answers.push(Answer {
                        data: AnswerData::Name(data.to_owned()),
                        rrtype: 0,
                        ttl: None,
                    });
                }
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for RdataSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RdataSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("rdata: a string or an array of strings")
    }
    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        self.one(v);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(s) = seq.next_element::<Str>()? {
            self.one(&s.0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn read(line: &str) -> (Outcome, Event) {
        let mut ev = Event::default();
        let o = parse(line.as_bytes(), &mut ev);
        (o, ev)
    }

    fn addr(a: &str, rrtype: u16) -> Answer {
        Answer {
            data: AnswerData::Addr(a.parse::<IpAddr>().unwrap()),
            rrtype,
            ttl: None,
        }
    }

    fn name(n: &str, rrtype: u16) -> Answer {
        Answer {
            data: AnswerData::Name(n.into()),
            rrtype,
            ttl: None,
        }
    }

    #[test]
    fn draft_examples() {
        // draft-dulaunoy-dnsop-passive-dns-cof, Appendix A, figures 2 and
        // 3, each object on one line.
        let (o, ev) = read(
            r#"{"count": 102, "time_first": 1298412391, "rrtype": "AAAA", "rrname": "www.ietf.org", "rdata": "2001:1890:1112:1::20", "time_last": 1302506851}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.kind, EventKind::Dns);
        assert_eq!(ev.name, "www.ietf.org");
        assert_eq!(ev.qtype, 28);
        assert_eq!(ev.answers, [addr("2001:1890:1112:1::20", 28)]);
        assert_eq!(ev.time, Some(1_302_506_851_000_000), "time_last");
        assert_eq!((ev.client, ev.server, ev.server_port), (None, None, None));

        let (o, ev) = read(
            r#"{"count": 109877, "time_first": 1298398002, "rrtype": "NS", "rrname": "ietf.org", "rdata": "ns1.yyz1.afilias-nst.info", "time_last": 1389095375}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.qtype, 2);
        assert_eq!(ev.answers, [name("ns1.yyz1.afilias-nst.info", 2)]);
    }

    #[test]
    fn server_outputs() {
        // adulau/pdns-qof example_code/testdata/data.json (CIRCL): rdata
        // as an array, keys sorted (rdata before rrtype).
        let (o, ev) = read(
            r#"{"count":1909,"rdata":["cpa.circl.lu"],"rrname":"www.circl.lu","rrtype":"CNAME","time_first":1315586409,"time_last":1449566799}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.qtype, 5);
        assert_eq!(ev.answers, [name("cpa.circl.lu", 5)]);
        assert_eq!(ev.time, Some(1_449_566_799_000_000));
        // adulau/pdns-qof-server README: quoted numbers, `rrdata`.
        let (o, ev) = read(
            r#"{"count": "112", "time_first": "1298398002", "rrtype": "A", "rrname": "infosports.dhnet.be", "rrdata": "212.35.116.234", "time_last": "1354530214"}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.answers, [addr("212.35.116.234", 1)]);
        assert_eq!(ev.time, Some(1_354_530_214_000_000));
        // Farsight DNSDB API v2, its streaming format.
        assert_eq!(
            read(r#"{"cond":"begin"}"#).0,
            Outcome::Ignored("pDNS stream control line")
        );
        let (o, ev) = read(
            r#"{"obj":{"count":2,"time_first":1594197706,"time_last":1594197706,"rrname":"google.com.","rrtype":"A","bailiwick":".","rdata":["64.233.161.100","64.233.161.101"]}}"#,
        );
        assert_eq!(o, Outcome::Event);
        assert_eq!(ev.name, "google.com.");
        assert_eq!(
            ev.answers,
            [addr("64.233.161.100", 1), addr("64.233.161.101", 1)]
        );
        assert_eq!(
            read(r#"{"cond":"limited","msg":"Result limit reached"}"#).0,
            Outcome::Ignored("pDNS stream control line")
        );
    }

    #[test]
    fn record_types_and_times() {
        let rec = |rrtype: &str, rdata: &str| {
            read(&format!(
                r#"{{"rrname":"example.com","rrtype":{rrtype},"rdata":{rdata},"time_first":1,"time_last":2}}"#
            ))
        };
        // Master-file data: MX, SRV and HTTPS targets; TXT and SOA give
        // no answer; a number for an unknown type.
        let (_, ev) = rec(
            r#""MX""#,
            r#"["10 mx1.example.com.", "20 mx2.example.com."]"#,
        );
        assert_eq!(
            ev.answers,
            [name("mx1.example.com.", 15), name("mx2.example.com.", 15)]
        );
        let (_, ev) = rec(r#""SRV""#, r#""0 5 5060 sip.example.com.""#);
        assert_eq!(ev.answers, [name("sip.example.com.", 33)]);
        let (_, ev) = rec(
            r#""HTTPS""#,
            r#"["1 . alpn=h2", "2 cdn.example.net. alpn=h3"]"#,
        );
        assert_eq!(ev.answers, [name("cdn.example.net.", 65)]);
        let (o, ev) = rec(r#""TXT""#, r#""v=spf1 -all""#);
        assert_eq!((o, ev.answers.len()), (Outcome::Event, 0));
        let (o, ev) = rec("65280", r#""\\# 0""#);
        assert_eq!((o, ev.qtype, ev.answers.len()), (Outcome::Event, 65280, 0));
        // rdata before rrtype, with a type that gives no answer.
        let (o, ev) =
            read(r#"{"rdata":["x","y"],"rrname":"a.example","rrtype":"TXT","time_last":5}"#);
        assert_eq!((o, ev.answers.len()), (Outcome::Event, 0));
        // Times: milliseconds, zone times, fractions, none.
        let t = |fields: &str| {
            read(&format!(
                r#"{{"rrname":"a.example","rrtype":"A","rdata":[],{fields}}}"#
            ))
        };
        assert_eq!(
            t(r#""time_last_ms":1302506851123"#).1.time,
            Some(1_302_506_851_123_000)
        );
        assert_eq!(
            t(r#""zone_time_first":1,"zone_time_last":1302506851"#)
                .1
                .time,
            Some(1_302_506_851_000_000)
        );
        assert_eq!(
            t(r#""time_last":1302506851.5"#).1.time,
            Some(1_302_506_851_500_000)
        );
        assert_eq!(
            t(r#""count":1"#),
            (
                Outcome::Event,
                Event {
                    name: "a.example".into(),
                    qtype: 1,
                    ..Event::default()
                }
            )
        );
    }

    #[test]
    fn bad_records() {
        let bad = |l: &str| read(l).0;
        assert_eq!(bad("not json"), Outcome::Bad("invalid JSON"));
        assert_eq!(bad(r#"{"rrname":"x"#), Outcome::Bad("invalid JSON"));
        assert_eq!(
            bad(r#"{"rdata":"1.2.3.4","rrtype":"A","time_last":1}"#),
            Outcome::Bad("missing rrname")
        );
        assert_eq!(
            bad(r#"{"rrname":"x","rdata":"1.2.3.4","time_last":1}"#),
            Outcome::Bad("missing rrtype")
        );
        assert_eq!(
            bad(r#"{"rrname":"x","rrtype":70000,"rdata":"1.2.3.4"}"#),
            Outcome::Bad("invalid rrtype")
        );
        assert_eq!(
            bad(r#"{"rrname":"x","rrtype":"A","rdata":"mail.example"}"#),
            Outcome::Bad("invalid answer address")
        );
        assert_eq!(
            bad(r#"{"rdata":["mail.example"],"rrname":"x","rrtype":"AAAA"}"#),
            Outcome::Bad("invalid answer address")
        );
        assert_eq!(
            bad(r#"{"rrname":"x","rrtype":"A","rdata":[1]}"#),
            Outcome::Bad("invalid JSON")
        );
        assert_eq!(
            bad(r#"{"rrname":"x","rrtype":"A","rdata":{"a":1}}"#),
            Outcome::Bad("invalid JSON")
        );
        assert_eq!(
            bad(r#"{"rrname":"x","rrtype":"A","time_last":-1}"#),
            Outcome::Bad("invalid time")
        );
        assert_eq!(
            bad(r#"{"rrname":"x","rrtype":"A","time_last":1e300}"#),
            Outcome::Bad("invalid time")
        );
        assert_eq!(
            bad(r#"{"rrname":"x","rrtype":"A","time_last":"soon"}"#),
            Outcome::Bad("invalid JSON")
        );
        assert_eq!(
            bad(&format!(
                r#"{{"rrname":"{}","rrtype":"A"}}"#,
                "a".repeat(1 << 20)
            )),
            Outcome::Bad("name too long")
        );
        // A wrapper in a wrapper is not read as a record.
        assert_eq!(
            bad(r#"{"obj":{"obj":{"rrname":"x","rrtype":"A"}}}"#),
            Outcome::Bad("missing rrname")
        );
        // Many data: capped.
        let many: Vec<String> = (0..1000)
            .map(|i| format!("\"10.0.{}.{}\"", i / 256, i % 256))
            .collect();
        let (o, ev) = read(&format!(
            r#"{{"rdata":[{}],"rrname":"x","rrtype":"A"}}"#,
            many.join(",")
        ));
        assert_eq!((o, ev.answers.len()), (Outcome::Event, MAX_ANSWERS));
    }

    #[test]
    fn sniffing() {
        assert!(sniff(br#"{"count": 102, "time_first": 1298412391, "rrtype": "AAAA", "rrname": "www.ietf.org", "rdata": "2001:1890:1112:1::20", "time_last": 1302506851}"#));
        assert!(sniff(br#"{"obj":{"time_first":1,"time_last":1,"rrname":"a.","rrtype":"A","rdata":["192.0.2.1"]}}"#));
        // An EVE v1 answer has rrname and rdata but no times.
        assert!(!sniff(br#"{"timestamp":"2026-12-06T20:41:45+0000","event_type":"dns","dns":{"type":"answer","rrname":"a","rdata":"192.0.2.1"}}"#));
        assert!(!sniff(br#"{"rrname":"a","rdata":"b","zone_time_first":1}"#));
        assert!(!sniff(b"rrname rdata time_first"));
    }
}
