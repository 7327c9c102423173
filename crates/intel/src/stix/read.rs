//! STIX 2.1 bundles read into indicators, streamed.
//!
//! A bundle (`{"type":"bundle","id":..,"objects":[...]}`, keys in any
//! order) or a TAXII envelope (`{"objects":[...],"more":..}`) is read with
//! serde_json's streaming deserializer: the `objects` array is visited one
//! element at a time, and of each element only the properties this reader
//! uses are kept (every other property, such as a report's long
//! `object_refs`, is skipped without being stored). Memory is bounded by
//! the largest object and by what is kept, not by the bundle.
//!
//! Per object:
//! * `indicator`: `pattern_type` `stix` goes through
//!   [`pattern`](super::pattern); `yara` gives one YARA indicator whose
//!   value is the pattern text; any other pattern language is unsupported.
//!   Revoked ones and those whose `valid_until` is before
//!   [`ReadOptions::now`] are skipped as such. `name`, `confidence` (also
//!   the score; [`DEFAULT_SCORE`] when absent), `valid_from`/`valid_until`
//!   are kept; the TLP comes from `object_marking_refs` (the well-known
//!   TLP 1.0 and 2.0 ids, or a marking-definition of the bundle: TLP 1.0
//!   `definition_type: "tlp"`, or a TLP 2.0 `name` like `TLP:AMBER+STRICT`;
//!   with several, the most restrictive), the producer from
//!   `created_by_ref`'s identity.
//! * `malware`, `identity`, `marking-definition`, and `relationship`s of
//!   type `indicates` from an indicator to a malware: remembered, and
//!   resolved when the stream ends (objects may come in any order): an
//!   indicator's family is the name of the first malware it indicates.
//! * Every other type (reports, attack patterns, sightings, cyber
//!   observables, custom types, other relationships) is counted in
//!   [`Loaded::ignored_types`].
//!
//! An element that is not an object, or has no string `type`, and an
//! indicator with a property of the wrong type, are skipped as invalid,
//! named by their id or position (`objects[17]`). What breaks the whole
//! file (not JSON, no `objects` array, nesting deeper than serde_json's
//! recursion limit of 128) is a [`ReadError::Format`] with the line and
//! column.

use super::pattern::{self, Extracted};
use crate::ReadOptions;
use crate::model::{DEFAULT_SCORE, Indicator, Kind, Loaded, ReadError, SkipClass, Skipped, Tlp};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Most malware, identity, marking-definition and `indicates` objects
/// remembered (each kind counted apart) for resolution at the end. They
/// are small, but a hostile bundle of nothing else must not grow memory
/// without end; real bundles hold at most one relationship per indicator,
/// and the benchmark's million fits.
pub const MAX_REMEMBERED: usize = 4_000_000;

/// Most distinct type names counted in [`Loaded::ignored_types`]; past it
/// they are counted under [`OTHER_TYPES`]. Stops a bundle of a million
/// invented types from making a million-entry map.
pub const MAX_IGNORED_TYPE_NAMES: usize = 1_000;

/// The key of [`Loaded::ignored_types`] under which types past
/// [`MAX_IGNORED_TYPE_NAMES`] are counted.
pub const OTHER_TYPES: &str = "(other types)";

/// Longest type name kept as is (STIX 2.1 limits type names to 250
/// characters); longer ones are counted as [`OTHER_TYPES`].
pub const MAX_TYPE_NAME: usize = 250;

/// Reads a STIX 2.1 bundle or TAXII envelope from `reader`, streamed.
pub fn read(reader: impl std::io::Read, opts: &ReadOptions) -> Result<Loaded, ReadError> {
    let reader = std::io::BufReader::with_capacity(1 << 16, reader);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = State::new(opts);
    let top = Top { state: &mut state };
    top.deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| json_error(e, &opts.source))?;
    Ok(state.finish())
}

/// Reads an already parsed value into `out`: a bundle or envelope (an
/// object with an `objects` array), or one STIX object. References
/// (families, producers, markings) are resolved within `v` only.
pub fn read_value(v: &Value, opts: &ReadOptions, out: &mut Loaded) {
    let mut state = State::new(opts);
    match v {
        Value::Object(m)
            if m.get("objects").is_some()
                || m.get("type").and_then(Value::as_str) == Some("bundle") =>
        {
            match m.get("objects") {
                Some(Value::Array(objects)) => {
                    for (i, o) in objects.iter().enumerate() {
                        state.element(Element::from_value(o), i);
                    }
                }
                None => {}
                Some(_) => state.out.skipped.push(Skipped {
                    id: "objects".into(),
                    class: SkipClass::Invalid,
                    reason: "'objects' is not an array".into(),
                }),
            }
        }
        other => state.element(Element::from_value(other), 0),
    }
    let got = state.finish();
    out.indicators.extend(got.indicators);
    out.skipped.extend(got.skipped);
    for (k, n) in got.ignored_types {
        *out.ignored_types.entry(k).or_default() += n;
    }
}

fn json_error(e: serde_json::Error, source: &str) -> ReadError {
    if e.is_io() {
        return ReadError::Io(e.into());
    }
    ReadError::Format(format!("{source}: not a readable STIX bundle: {e}"))
}

// ------------------------------------------------------ streaming input

/// The top level: only `objects` (streamed) and `type` are looked at.
struct Top<'s, 'o> {
    state: &'s mut State<'o>,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX bundle or TAXII envelope (an object with an \"objects\" array)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut objects, mut bundle) = (false, false);
        while let Some(key) = map.next_key::<TopKey>()? {
            match key {
                TopKey::Objects => {
                    if objects {
                        return Err(de::Error::custom("two \"objects\" arrays"));
                    }
                    objects = true;
                    map.next_value_seed(Objects {
                        state: &mut *self.state,
                    })?;
                }
                TopKey::Type => match map.next_value::<Value>()? {
                    Value::String(s) if s == "bundle" => bundle = true,
                    Value::String(s) => {
                        return Err(de::Error::custom(format!(
                            "top-level \"type\" is \"{}\", not \"bundle\"",
                            s.chars().take(64).collect::<String>()
                        )));
                    }
                    _ => return Err(de::Error::custom("top-level \"type\" is not a string")),
                },
                TopKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !objects && !bundle {
            return Err(de::Error::custom(
                "no \"objects\" array: not a STIX bundle or TAXII envelope",
            ));
        }
        Ok(())
    }
}

enum TopKey {
    Objects,
    Type,
    Other,
}

impl<'de> serde::Deserialize<'de> for TopKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TopKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TopKey, E> {
                Ok(match s {
                    "objects" => TopKey::Objects,
                    "type" => TopKey::Type,
                    _ => TopKey::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// The `objects` array, visited element by element.
struct Objects<'s, 'o> {
    state: &'s mut State<'o>,
}

impl<'de> DeserializeSeed<'de> for Objects<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Objects<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"objects\" to be an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while let Some(element) = seq.next_element::<Element>()? {
            self.state.element(element, index);
            index += 1;
        }
        Ok(())
    }
}

/// The properties of an object this reader uses, each as found (its type
/// is checked when used, so that a wrong type skips one object instead of
/// failing the stream).
#[derive(Default)]
struct Raw {
    ty: Option<Value>,
    id: Option<Value>,
    pattern: Option<Value>,
    pattern_type: Option<Value>,
    name: Option<Value>,
    confidence: Option<Value>,
    revoked: Option<Value>,
    valid_from: Option<Value>,
    valid_until: Option<Value>,
    object_marking_refs: Option<Value>,
    created_by_ref: Option<Value>,
    relationship_type: Option<Value>,
    source_ref: Option<Value>,
    target_ref: Option<Value>,
    definition_type: Option<Value>,
    definition: Option<Value>,
}

impl Raw {
    fn slot(&mut self, key: &str) -> Option<&mut Option<Value>> {
        Some(match key {
            "type" => &mut self.ty,
            "id" => &mut self.id,
            "pattern" => &mut self.pattern,
            "pattern_type" => &mut self.pattern_type,
            "name" => &mut self.name,
            "confidence" => &mut self.confidence,
            "revoked" => &mut self.revoked,
            "valid_from" => &mut self.valid_from,
            "valid_until" => &mut self.valid_until,
            "object_marking_refs" => &mut self.object_marking_refs,
            "created_by_ref" => &mut self.created_by_ref,
            "relationship_type" => &mut self.relationship_type,
            "source_ref" => &mut self.source_ref,
            "target_ref" => &mut self.target_ref,
            "definition_type" => &mut self.definition_type,
            "definition" => &mut self.definition,
            _ => return None,
        })
    }
}

/// One element of `objects`.
enum Element {
    Object(Box<Raw>),
    /// Not an object: what it is instead.
    NotObject(&'static str),
}

impl Element {
    fn from_value(v: &Value) -> Element {
        match v {
            Value::Object(m) => {
                let mut raw = Raw::default();
                for (k, v) in m {
                    if let Some(slot) = raw.slot(k) {
                        *slot = Some(v.clone());
                    }
                }
                Element::Object(Box::new(raw))
            }
            other => Element::NotObject(value_kind(other)),
        }
    }
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'de> serde::Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

/// A key of an element, matched without allocating.
struct Key(Option<&'static str>);

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                const KNOWN: &[&str] = &[
                    "type",
                    "id",
                    "pattern",
                    "pattern_type",
                    "name",
                    "confidence",
                    "revoked",
                    "valid_from",
                    "valid_until",
                    "object_marking_refs",
                    "created_by_ref",
                    "relationship_type",
                    "source_ref",
                    "target_ref",
                    "definition_type",
                    "definition",
                ];
                Ok(Key(KNOWN.iter().find(|k| **k == s).copied()))
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Element, A::Error> {
        let mut raw = Box::<Raw>::default();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            match key.and_then(|k| raw.slot(k)) {
                Some(slot) => *slot = Some(map.next_value::<Value>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Element::Object(raw))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Element::NotObject("an array"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Element, E> {
        Ok(Element::NotObject("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Element, E> {
        Ok(Element::NotObject("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Element, E> {
        Ok(Element::NotObject("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Element, E> {
        Ok(Element::NotObject("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Element, E> {
        Ok(Element::NotObject("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Element, E> {
        Ok(Element::NotObject("null"))
    }
}

// ------------------------------------------------------------ the state

/// What an indicator's references need resolved at the end: its
/// producer and the markings that are not well-known TLP ids. Interned:
/// most indicators of a bundle share them.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Refs {
    created_by: Option<String>,
    markings: Vec<String>,
}

struct State<'o> {
    opts: &'o ReadOptions,
    out: Loaded,
    /// malware id -> index in `malware_names`: interned, since a million
    /// relationships may point at one malware.
    malware_index: HashMap<String, u32>,
    /// The name of each malware (`None` until its object is seen, or when
    /// it has none).
    malware_names: Vec<Option<String>>,
    identities: HashMap<String, String>,
    markings: HashMap<String, Tlp>,
    /// indicator id -> malware index (the first `indicates` seen).
    indicates: HashMap<String, u32>,
    refs: HashMap<Refs, u32>,
    refs_list: Vec<Refs>,
    /// Runs of `out.indicators` (start, end) and their references.
    pending: Vec<(usize, usize, u32)>,
}

/// Why one indicator object is not used.
type Skip = (SkipClass, String);

fn inval<T>(reason: String) -> Result<T, Skip> {
    Err((SkipClass::Invalid, reason))
}

fn opt_string(v: Option<Value>, field: &str) -> Result<Option<String>, Skip> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => inval(format!("'{field}' is {}, not a string", value_kind(&other))),
    }
}

fn opt_time(v: Option<Value>, field: &str) -> Result<Option<OffsetDateTime>, Skip> {
    match opt_string(v, field)? {
        None => Ok(None),
        Some(s) => match OffsetDateTime::parse(&s, &Rfc3339) {
            Ok(t) => Ok(Some(t.to_offset(time::UtcOffset::UTC))),
            Err(e) => inval(format!(
                "'{field}' is not an RFC 3339 timestamp ({}): {e}",
                clip(&s)
            )),
        },
    }
}

fn clip(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    }
}

impl<'o> State<'o> {
    fn new(opts: &'o ReadOptions) -> State<'o> {
        State {
            opts,
            out: Loaded::default(),
            malware_index: HashMap::new(),
            malware_names: Vec::new(),
            identities: HashMap::new(),
            markings: HashMap::new(),
            indicates: HashMap::new(),
            refs: HashMap::new(),
            refs_list: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn skip(&mut self, id: String, class: SkipClass, reason: String) {
        self.out.skipped.push(Skipped { id, class, reason });
    }

    fn ignore(&mut self, ty: &str) {
        let n = self.out.ignored_types.len();
        let key = if ty.len() > MAX_TYPE_NAME
            || (n >= MAX_IGNORED_TYPE_NAMES && !self.out.ignored_types.contains_key(ty))
        {
            OTHER_TYPES
        } else {
            ty
        };
        match self.out.ignored_types.get_mut(key) {
            Some(c) => *c += 1,
            None => {
                self.out.ignored_types.insert(key.to_string(), 1);
            }
        }
    }

    fn element(&mut self, e: Element, index: usize) {
        let raw = match e {
            Element::Object(raw) => raw,
            Element::NotObject(what) => {
                return self.skip(
                    format!("objects[{index}]"),
                    SkipClass::Invalid,
                    format!("{what}, not a STIX object"),
                );
            }
        };
        let mut raw = *raw;
        let ty = match raw.ty.take() {
            Some(Value::String(s)) => s,
            Some(other) => {
                return self.skip(
                    format!("objects[{index}]"),
                    SkipClass::Invalid,
                    format!("'type' is {}, not a string", value_kind(&other)),
                );
            }
            None => {
                return self.skip(
                    format!("objects[{index}]"),
                    SkipClass::Invalid,
                    "no 'type'".into(),
                );
            }
        };
        if !matches!(
            ty.as_str(),
            "indicator" | "malware" | "identity" | "marking-definition" | "relationship"
        ) {
            return self.ignore(&ty);
        }
        let id = match raw.id.take() {
            Some(Value::String(s)) => s,
            Some(other) => {
                return self.skip(
                    format!("objects[{index}]"),
                    SkipClass::Invalid,
                    format!("{ty}: 'id' is {}, not a string", value_kind(&other)),
                );
            }
            None => {
                return self.skip(
                    format!("objects[{index}]"),
                    SkipClass::Invalid,
                    format!("{ty} without an 'id'"),
                );
            }
        };
        let result = match ty.as_str() {
            "indicator" => self.indicator(raw, &id),
            "malware" => self.named(raw, &id, Named::Malware),
            "identity" => self.named(raw, &id, Named::Identity),
            "marking-definition" => self.marking(raw, &id),
            _ => self.relationship(raw, &id),
        };
        if let Err((class, reason)) = result {
            self.skip(id, class, reason);
        }
    }

    fn remember<V>(map: &mut HashMap<String, V>, what: &str, k: String, v: V) -> Result<(), Skip> {
        if map.len() >= MAX_REMEMBERED && !map.contains_key(&k) {
            return Err((
                SkipClass::Unsupported,
                format!("more than {MAX_REMEMBERED} {what} objects in one source"),
            ));
        }
        map.entry(k).or_insert(v);
        Ok(())
    }

    fn named(&mut self, mut raw: Raw, id: &str, which: Named) -> Result<(), Skip> {
        let Some(name) = opt_string(raw.name.take(), "name")? else {
            return Ok(());
        };
        match which {
            Named::Malware => {
                let k = self.malware_slot(id)?;
                if let Some(slot @ None) = self.malware_names.get_mut(k as usize) {
                    *slot = Some(name);
                }
                Ok(())
            }
            Named::Identity => {
                Self::remember(&mut self.identities, "identity", id.to_string(), name)
            }
        }
    }

    /// The index of malware `id`, made on first sight (by the malware
    /// object or by a relationship to it).
    fn malware_slot(&mut self, id: &str) -> Result<u32, Skip> {
        if let Some(k) = self.malware_index.get(id) {
            return Ok(*k);
        }
        let k = self.malware_names.len() as u32;
        Self::remember(&mut self.malware_index, "malware", id.to_string(), k)?;
        self.malware_names.push(None);
        Ok(k)
    }

    fn marking(&mut self, mut raw: Raw, id: &str) -> Result<(), Skip> {
        let definition_type = opt_string(raw.definition_type.take(), "definition_type")?;
        let name = opt_string(raw.name.take(), "name")?;
        let mut tlp = None;
        if definition_type.as_deref() == Some("tlp") {
            match raw.definition.as_ref().and_then(|d| d.get("tlp")) {
                Some(Value::String(s)) => match Tlp::parse(s) {
                    Some(t) => tlp = Some(t),
                    None => return inval(format!("unknown TLP level '{}'", clip(s))),
                },
                _ => return inval("TLP marking without a string 'definition.tlp'".into()),
            }
        } else if let Some(n) = &name
            && n.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tlp:"))
        {
            tlp = Tlp::parse(n);
        }
        match tlp.or_else(|| Tlp::from_stix_id(id)) {
            Some(t) => Self::remember(&mut self.markings, "marking-definition", id.to_string(), t),
            None => Ok(()),
        }
    }

    fn relationship(&mut self, mut raw: Raw, _id: &str) -> Result<(), Skip> {
        let ty = opt_string(raw.relationship_type.take(), "relationship_type")?;
        let source = opt_string(raw.source_ref.take(), "source_ref")?;
        let target = opt_string(raw.target_ref.take(), "target_ref")?;
        match (ty.as_deref(), source, target) {
            (Some("indicates"), Some(s), Some(t))
                if s.starts_with("indicator--") && t.starts_with("malware--") =>
            {
                let k = self.malware_slot(&t)?;
                Self::remember(&mut self.indicates, "indicates relationship", s, k)
            }
            _ => {
                self.ignore("relationship");
                Ok(())
            }
        }
    }

    fn indicator(&mut self, mut raw: Raw, id: &str) -> Result<(), Skip> {
        // Types first: a broken object is reported as broken whatever
        // else it says.
        let revoked = match raw.revoked.take() {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return inval(format!(
                    "'revoked' is {}, not a boolean",
                    value_kind(&other)
                ));
            }
        };
        let name = opt_string(raw.name.take(), "name")?;
        let valid_from = opt_time(raw.valid_from.take(), "valid_from")?;
        let valid_until = opt_time(raw.valid_until.take(), "valid_until")?;
        let confidence = match raw.confidence.take() {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(c) if c <= 100 => Some(c as u8),
                _ => return inval(format!("'confidence' is {n}, not an integer from 0 to 100")),
            },
            Some(other) => {
                return inval(format!(
                    "'confidence' is {}, not an integer",
                    value_kind(&other)
                ));
            }
        };
        let created_by = opt_string(raw.created_by_ref.take(), "created_by_ref")?;
        let marking_refs = match raw.object_marking_refs.take() {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => {
                let mut refs = Vec::with_capacity(a.len());
                for v in a {
                    match v {
                        Value::String(s) => refs.push(s),
                        other => {
                            return inval(format!(
                                "'object_marking_refs' holds {}, not a string",
                                value_kind(&other)
                            ));
                        }
                    }
                }
                refs
            }
            Some(other) => {
                return inval(format!(
                    "'object_marking_refs' is {}, not an array",
                    value_kind(&other)
                ));
            }
        };
        let pattern_type = opt_string(raw.pattern_type.take(), "pattern_type")?;
        let Some(pattern) = opt_string(raw.pattern.take(), "pattern")? else {
            return inval("no 'pattern'".into());
        };
        let Some(pattern_type) = pattern_type else {
            return inval("no 'pattern_type'".into());
        };
        if revoked {
            return Err((SkipClass::Revoked, "revoked".into()));
        }
        if let Some(until) = valid_until
            && until < self.opts.now
        {
            let when = until.format(&Rfc3339).unwrap_or_default();
            return Err((SkipClass::Expired, format!("valid_until {when} is past")));
        }
        let extracted = match pattern_type.as_str() {
            "stix" => pattern::indicators(&pattern).map_err(|u| (u.class, u.reason))?,
            "yara" => vec![Extracted {
                kind: Kind::Yara,
                value: pattern,
                size: None,
            }],
            other => {
                return Err((
                    SkipClass::Unsupported,
                    format!(
                        "pattern_type '{}' is not supported (only stix and yara)",
                        clip(other)
                    ),
                ));
            }
        };

        // Markings: the well-known TLP ids now, the others at the end.
        let mut tlp = None;
        let mut unresolved = Vec::new();
        for m in marking_refs {
            match Tlp::from_stix_id(&m) {
                Some(t) => tlp = tlp.max(Some(t)),
                None => unresolved.push(m),
            }
        }
        let mut made = Vec::with_capacity(extracted.len());
        for e in extracted {
            let mut ind = Indicator::new(e.kind, &e.value, &self.opts.source)
                .map_err(|err| (SkipClass::Invalid, err.to_string()))?;
            ind.name = name.clone();
            ind.confidence = confidence;
            ind.score = confidence.map_or(DEFAULT_SCORE, u32::from);
            ind.valid_from = valid_from;
            ind.valid_until = valid_until;
            ind.tlp = tlp;
            ind.size = e.size;
            ind.provenance.object_id = Some(id.to_string());
            made.push(ind);
        }
        let start = self.out.indicators.len();
        self.out.indicators.append(&mut made);
        let end = self.out.indicators.len();
        if created_by.is_some() || !unresolved.is_empty() {
            let refs = Refs {
                created_by,
                markings: unresolved,
            };
            let k = match self.refs.get(&refs) {
                Some(k) => *k,
                None => {
                    let k = self.refs_list.len() as u32;
                    self.refs_list.push(refs.clone());
                    self.refs.insert(refs, k);
                    k
                }
            };
            match self.pending.last_mut() {
                Some((_, e, last)) if *e == start && *last == k => *e = end,
                _ => self.pending.push((start, end, k)),
            }
        }
        Ok(())
    }

    /// Resolves what refers to objects that may have come later.
    fn finish(mut self) -> Loaded {
        let resolved: Vec<(Option<String>, Option<Tlp>)> = self
            .refs_list
            .iter()
            .map(|r| {
                let producer = r
                    .created_by
                    .as_ref()
                    .and_then(|c| self.identities.get(c).cloned());
                let tlp = r
                    .markings
                    .iter()
                    .filter_map(|m| self.markings.get(m))
                    .max()
                    .copied();
                (producer, tlp)
            })
            .collect();
        for (start, end, k) in &self.pending {
            let Some((producer, tlp)) = resolved.get(*k as usize) else {
                continue;
            };
            for ind in self
                .out
                .indicators
                .get_mut(*start..*end)
                .unwrap_or_default()
            {
                if producer.is_some() {
                    ind.provenance.producer.clone_from(producer);
                }
                ind.tlp = ind.tlp.max(*tlp);
            }
        }
        if !self.indicates.is_empty() {
            for ind in &mut self.out.indicators {
                let family = ind
                    .provenance
                    .object_id
                    .as_ref()
                    .and_then(|id| self.indicates.get(id))
                    .and_then(|k| self.malware_names.get(*k as usize))
                    .and_then(Option::as_ref);
                if let Some(f) = family {
                    ind.family = Some(f.clone());
                }
            }
        }
        self.out
    }
}

#[derive(Clone, Copy)]
enum Named {
    Malware,
    Identity,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ReadOptions {
        ReadOptions {
            source: "t.json".into(),
            now: time::macros::datetime!(2024-06-01 00:00 UTC),
        }
    }

    fn read_str(s: &str) -> Result<Loaded, ReadError> {
        read(s.as_bytes(), &opts())
    }

    const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

    #[test]
    fn references_resolve_in_any_order() {
        let s = format!(
            r#"{{"objects":[
              {{"type":"relationship","id":"relationship--1","relationship_type":"indicates",
                "source_ref":"indicator--1","target_ref":"malware--1"}},
              {{"type":"indicator","id":"indicator--1","pattern_type":"stix","name":"n",
                "pattern":"[file:hashes.MD5 = '{MD5}']","confidence":60,
                "created_by_ref":"identity--1","object_marking_refs":["marking-definition--x"],
                "valid_from":"2020-01-01T00:00:00Z"}},
              {{"type":"malware","id":"malware--1","name":"Emotet","is_family":true}},
              {{"type":"marking-definition","id":"marking-definition--x","definition_type":"tlp",
                "definition":{{"tlp":"red"}}}},
              {{"type":"identity","id":"identity--1","name":"CERT-X"}}
            ],"type":"bundle","id":"bundle--1"}}"#
        );
        let l = read_str(&s).unwrap();
        assert_eq!(l.skipped, vec![]);
        let [i] = l.indicators.as_slice() else {
            panic!("{l:?}")
        };
        assert_eq!(i.family.as_deref(), Some("Emotet"));
        assert_eq!(i.provenance.producer.as_deref(), Some("CERT-X"));
        assert_eq!(i.provenance.object_id.as_deref(), Some("indicator--1"));
        assert_eq!(i.tlp, Some(Tlp::Red));
        assert_eq!((i.confidence, i.score), (Some(60), 60));
        assert_eq!(i.name.as_deref(), Some("n"));
        assert!(i.valid_from.is_some());
    }

    #[test]
    fn whole_file_errors_say_where() {
        for (s, words) in [
            ("", "EOF"),
            ("[1,2]", "expected a STIX bundle"),
            ("{\"objects\": 5}", "array"),
            ("{\"type\":\"indicator\"}", "not \"bundle\""),
            ("{\"foo\":1}", "no \"objects\""),
            ("{\"objects\":[{]}", "line 1 column"),
            ("{\"objects\":[]} x", "trailing"),
        ] {
            match read_str(s) {
                Err(ReadError::Format(m)) => {
                    assert!(m.contains(words), "{s}: {m}");
                    assert!(m.starts_with("t.json: "), "{m}");
                }
                other => panic!("{s}: {other:?}"),
            }
        }
        // Deep nesting in a property kept: serde_json's recursion limit.
        let deep = format!(
            "{{\"objects\":[{{\"type\":\"indicator\",\"pattern\":{}{}}}]}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        match read_str(&deep) {
            Err(ReadError::Format(m)) if m.contains("recursion limit") => {}
            other => panic!("{other:?}"),
        }
        // In what is skipped unread, serde_json needs no stack: the element
        // is one invalid entry and the rest goes on.
        let deep = format!(
            "{{\"objects\":[{}{}, {{\"type\":\"x-deep\",\"x\":{}1{}}}]}}",
            "[".repeat(100_000),
            "]".repeat(100_000),
            "{\"a\":".repeat(100_000),
            "}".repeat(100_000)
        );
        let l = read_str(&deep).unwrap();
        assert_eq!(l.skipped.len(), 1);
        assert_eq!(l.ignored_types.get("x-deep"), Some(&1));
        assert!(
            read_str("{\"type\":\"bundle\",\"id\":\"bundle--1\"}")
                .unwrap()
                .indicators
                .is_empty()
        );
    }

    #[test]
    fn read_value_takes_a_bundle_or_one_object() {
        let v: Value = serde_json::json!({
            "type": "indicator", "id": "indicator--2", "pattern_type": "stix",
            "pattern": "[domain-name:value = 'evil.example']"
        });
        let mut out = Loaded::default();
        read_value(&v, &opts(), &mut out);
        read_value(&serde_json::json!({"objects": [v, 7]}), &opts(), &mut out);
        assert_eq!(out.indicators.len(), 2);
        assert_eq!(out.skipped.len(), 1);
        assert_eq!(out.skipped[0].id, "objects[1]");
    }
}
