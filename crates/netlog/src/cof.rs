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
