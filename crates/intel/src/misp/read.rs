//! MISP events read into indicators.
//!
//! # What is accepted
//! * one event, `{"Event": {...}}`, or a bare event object (one that has
//!   `Attribute`, `Object`, `uuid` or `info`);
//! * a JSON list of either;
//! * a REST search answer, `{"response": [{"Event": ...}, ...]}`, or the
//!   answer of an attribute search, `{"response": {"Attribute": [...]}}`
//!   (each attribute then carries its event's `uuid` and `info` in its own
//!   `Event` member, when MISP includes it).
//!
//! Attributes are read from `Event.Attribute[]` and from
//! `Event.Object[].Attribute[]`.
//!
//! # Attribute types
//! | MISP type | indicators |
//! |---|---|
//! | `md5`, `sha1`, `sha256` | the hash |
//! | `filename\|md5`, `filename\|sha1`, `filename\|sha256` | the hash and the file name |
//! | `filename` | [`Kind::FileName`]: the name as an anchored, escaped regex `(^\|[/\\])<name>$` |
//! | `domain`, `hostname`, `hostname\|port` | the domain |
//! | `domain\|ip` | the domain and the IP |
//! | `ip-dst`, `ip-src`, `ip-dst\|port`, `ip-src\|port` | the IP or CIDR (IPv4 or IPv6 by its form) |
//! | `url` | the URL; one without a scheme, which MISP accepts, is read as `http://` |
//! | `email`, `email-src`, `email-dst` | the address |
//! | `yara` | [`Kind::Yara`], the rule text |
//!
//! The file name of a `filename|<hash>` attribute is an indicator too:
//! `to_ids` covers both halves, as in MISP's own exports. Any other type
//! (`ssdeep`, `imphash`, `uri` (a path is not a URL), `link`, `comment`,
//! `text`, `regkey`, `mutex`, `AS`, ...) is skipped as
//! [`SkipClass::Unsupported`] with the attribute's uuid and type. A
//! composite value is read whole or not at all: one bad half skips the
//! attribute.
//!
//! # What is skipped, and how it is counted
//! Checked in this order, one [`Skipped`] per attribute:
//! 1. `deleted: true` on the attribute or its object: [`SkipClass::Revoked`];
//! 2. a type not in the table: [`SkipClass::Unsupported`];
//! 3. `to_ids: false`: [`SkipClass::NotForDetection`] (context, not a
//!    detection; MISP's default for every type read here is `true`, so a
//!    missing flag means `true`);
//! 4. a wrong type anywhere (an attribute that is not an object, a value
//!    that is not a string, a flag that is not a boolean, `0`/`1` or
//!    `"0"`/`"1"`), or a value that is not valid for its kind:
//!    [`SkipClass::Invalid`], naming the attribute and the reason.
//!
//! An event whose own fields have wrong types (`Attribute` or `Object` not
//! a list, `Tag` not a list of named tags, `uuid` not a string, ...) is
//! reported as one [`SkipClass::Invalid`] entry naming the event and the
//! field. A broken tag list skips the event or attribute that carries it
//! rather than reading it without its tags: a `tlp:red` lost that way
//! would let an indicator travel further than its producer allowed.
//!
//! # What is kept on each indicator
//! * `tlp`: from `tlp:clear|white|green|amber|amber+strict|red` tags; an
//!   attribute's tag wins over its event's; several on one level: the most
//!   restrictive.
//! * `family`: from a galaxy tag `misp-galaxy:<galaxy>="<Family>"` or a
//!   `Galaxy[].GalaxyCluster[].value`, for the galaxies that name malware
//!   ([`MALWARE_GALAXIES`]); the attribute's first, then the event's.
//! * `name`: the attribute's `comment` if not empty, else its object's
//!   `comment`, else the event's `info`.
//! * `score`: [`DEFAULT_SCORE`] (100); 75 ([`LOW_THREAT_SCORE`]) when the
//!   event's `threat_level_id` is 3 ("low"): still malicious on takedown's
//!   scale (75+), but ranked below the events their producer rated higher.
//! * provenance: `object_id` = the attribute's `uuid` (else its `id`),
//!   `producer` = `Event.Orgc.name` (else `Event.Org.name`), `container` =
//!   the event's `uuid`, `source` = [`ReadOptions::source`].
//!
//! MISP's timestamps (`timestamp`, `first_seen`, `last_seen`) are not read:
//! they say when the attribute was edited or observed, not until when it
//! is valid, so none of them can expire an indicator.

use crate::ReadOptions;
use crate::model::{DEFAULT_SCORE, Indicator, Kind, Loaded, SkipClass, Skipped, Tlp};
use serde_json::{Map, Value};

/// Galaxies whose clusters name a malware family (MISP galaxy `type`s).
/// Tags of the other galaxies (threat actors, sectors, ATT&CK techniques,
/// tools) say nothing about what a file is.
pub const MALWARE_GALAXIES: &[&str] = &[
    "malpedia",
    "mitre-malware",
    "mitre-enterprise-attack-malware",
    "mitre-mobile-attack-malware",
    "banker",
    "ransomware",
    "botnet",
    "rat",
    "stealer",
    "backdoor",
    "android",
    "exploit-kit",
];

/// Score of the indicators of an event rated `threat_level_id` 3 ("low").
pub const LOW_THREAT_SCORE: u32 = 75;

/// Longest family name kept from a tag or galaxy (a longer one is not a
/// name but garbage, and it would end up in every detection line).
const MAX_FAMILY: usize = 256;

/// Reads MISP JSON already parsed (see the module doc for what is
/// accepted) and adds its indicators and skips to `out`. Never fails:
/// whatever is not an event is one [`SkipClass::Invalid`] entry naming
/// where it is.
pub fn read_value(value: &Value, opts: &ReadOptions, out: &mut Loaded) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                read_entry(item, &format!("[{i}]"), opts, out);
            }
        }
        Value::Object(map) => match map.get("response") {
            Some(resp) => read_response(resp, opts, out),
            None => read_entry(value, "top level", opts, out),
        },
        _ => invalid(
            out,
            &opts.source,
            format!(
                "not a MISP event, list of events or REST response (a JSON {})",
                json_type(value)
            ),
        ),
    }
}

/// The `response` member of a REST search answer.
fn read_response(resp: &Value, opts: &ReadOptions, out: &mut Loaded) {
    match resp {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                read_entry(item, &format!("response[{i}]"), opts, out);
            }
        }
        Value::Object(map) => match map.get("Attribute") {
            Some(Value::Array(attrs)) => {
                for (i, a) in attrs.iter().enumerate() {
                    let place = format!("response.Attribute[{i}]");
                    // An attribute search names each attribute's event in
                    // its own `Event` member, when it names it at all.
                    let ev = match a.get("Event") {
                        Some(Value::Object(e)) => EventCtx::from_event(e, &place),
                        Some(Value::Null) | None => Ok(EventCtx::empty(&place)),
                        Some(v) => Err(format!("Event is a JSON {}, not an object", json_type(v))),
                    };
                    match ev {
                        Ok(ev) => read_attribute(a, &place, &ev, None, opts, out),
                        Err(reason) => invalid(out, &attr_id(a, &place), reason),
                    }
                }
            }
            Some(v) => invalid(
                out,
                "response.Attribute",
                format!("a JSON {}, not a list", json_type(v)),
            ),
            None => read_entry(resp, "response", opts, out),
        },
        v => invalid(
            out,
            "response",
            format!("a JSON {}, not a list of events", json_type(v)),
        ),
    }
}

/// One element that should be an event, wrapped or bare.
fn read_entry(v: &Value, place: &str, opts: &ReadOptions, out: &mut Loaded) {
    let Value::Object(map) = v else {
        return invalid(
            out,
            place,
            format!("a JSON {}, not a MISP event", json_type(v)),
        );
    };
    match map.get("Event") {
        Some(Value::Object(ev)) => read_event(ev, place, opts, out),
        Some(other) => invalid(
            out,
            place,
            format!("Event is a JSON {}, not an object", json_type(other)),
        ),
        None if ["Attribute", "Object", "uuid", "info"]
            .iter()
            .any(|k| map.contains_key(*k)) =>
        {
            read_event(map, place, opts, out)
        }
        None => invalid(
            out,
            place,
            "not a MISP event (no Event, Attribute, Object, uuid or info)".into(),
        ),
    }
}

/// What an event gives each of its attributes.
struct EventCtx {
    /// The event's uuid, when it has one.
    uuid: Option<String>,
    /// How the event is named in messages: its uuid, else where it is.
    label: String,
    info: Option<String>,
    producer: Option<String>,
    tags: TagInfo,
    score: u32,
}

impl EventCtx {
    fn empty(place: &str) -> EventCtx {
        EventCtx {
            uuid: None,
            label: place.to_string(),
            info: None,
            producer: None,
            tags: TagInfo::default(),
            score: DEFAULT_SCORE,
        }
    }

    /// The event's own fields; an error names the field.
    fn from_event(ev: &Map<String, Value>, place: &str) -> Result<EventCtx, String> {
        let uuid = opt_str(ev, "uuid")?.map(str::to_string);
        let info = opt_str(ev, "info")?
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let org_name = |key: &str| -> Result<Option<String>, String> {
            match ev.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(o)) => Ok(opt_str(o, "name")
                    .map_err(|e| format!("{key}.{e}"))?
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)),
                Some(v) => Err(format!("{key} is a JSON {}, not an object", json_type(v))),
            }
        };
        let producer = match org_name("Orgc")? {
            Some(p) => Some(p),
            None => org_name("Org")?,
        };
        let tags = TagInfo::of(ev)?;
        let score = match ev.get("threat_level_id") {
            Some(Value::String(s)) if s.trim() == "3" => LOW_THREAT_SCORE,
            Some(Value::Number(n)) if n.as_u64() == Some(3) => LOW_THREAT_SCORE,
            _ => DEFAULT_SCORE,
        };
        Ok(EventCtx {
            label: match &uuid {
                Some(u) => format!("event {u}"),
                None => place.to_string(),
            },
            uuid,
            info,
            producer,
            tags,
            score,
        })
    }
}

/// What an object gives its attributes.
struct ObjectCtx {
    deleted: bool,
    comment: Option<String>,
}

fn read_event(ev: &Map<String, Value>, place: &str, opts: &ReadOptions, out: &mut Loaded) {
    let ctx = match EventCtx::from_event(ev, place) {
        Ok(c) => c,
        Err(reason) => {
            let id = match ev.get("uuid").and_then(Value::as_str) {
                Some(u) => format!("event {u}"),
                None => place.to_string(),
            };
            return invalid(out, &id, reason);
        }
    };
    match ev.get("Attribute") {
        None | Some(Value::Null) => {}
        Some(Value::Array(attrs)) => {
            for (i, a) in attrs.iter().enumerate() {
                let place = format!("{}/Attribute[{i}]", ctx.label);
                read_attribute(a, &place, &ctx, None, opts, out);
            }
        }
        Some(v) => invalid(
            out,
            &format!("{}/Attribute", ctx.label),
            format!("a JSON {}, not a list", json_type(v)),
        ),
    }
    match ev.get("Object") {
        None | Some(Value::Null) => {}
        Some(Value::Array(objects)) => {
            for (j, o) in objects.iter().enumerate() {
                read_object(o, &format!("{}/Object[{j}]", ctx.label), &ctx, opts, out);
            }
        }
        Some(v) => invalid(
            out,
            &format!("{}/Object", ctx.label),
            format!("a JSON {}, not a list", json_type(v)),
        ),
    }
}

fn read_object(o: &Value, place: &str, ev: &EventCtx, opts: &ReadOptions, out: &mut Loaded) {
    let Value::Object(obj) = o else {
        return invalid(
            out,
            place,
            format!("a JSON {}, not an object", json_type(o)),
        );
    };
    let label = match obj.get("uuid").and_then(Value::as_str) {
        Some(u) => format!("{}/object {u}", ev.label),
        None => place.to_string(),
    };
    let ctx = (|| -> Result<ObjectCtx, String> {
        Ok(ObjectCtx {
            deleted: opt_flag(obj, "deleted")?.unwrap_or(false),
            comment: opt_str(obj, "comment")?
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    })();
    let ctx = match ctx {
        Ok(c) => c,
        Err(reason) => return invalid(out, &label, reason),
    };
    match obj.get("Attribute") {
        None | Some(Value::Null) => {}
        Some(Value::Array(attrs)) => {
            for (i, a) in attrs.iter().enumerate() {
                let place = format!("{label}/Attribute[{i}]");
                read_attribute(a, &place, ev, Some(&ctx), opts, out);
            }
        }
        Some(v) => invalid(
            out,
            &format!("{label}/Attribute"),
            format!("a JSON {}, not a list", json_type(v)),
        ),
    }
}

/// The id an attribute is reported under: its uuid, else its id, else
/// where it is.
fn attr_id(a: &Value, place: &str) -> String {
    match (a.get("uuid"), a.get("id")) {
        (Some(Value::String(u)), _) if !u.is_empty() => u.clone(),
        (_, Some(Value::String(id))) if !id.is_empty() => id.clone(),
        (_, Some(Value::Number(n))) => n.to_string(),
        _ => place.to_string(),
    }
}

/// How one MISP type becomes indicators.
#[derive(Clone, Copy)]
enum Shape {
    /// The whole value, of this kind.
    Plain(Kind),
    /// A file name.
    FileName,
    /// `filename|<hash>`.
    FileNameHash(Kind),
    /// An IP or CIDR, v4 or v6 by its form.
    Ip,
    /// `<ip>|<port>`.
    IpPort,
    /// `<host>|<port>`.
    HostPort,
    /// `<domain>|<ip>`.
    DomainIp,
    /// A URL.
    Url,
}

fn shape(misp_type: &str) -> Option<Shape> {
    Some(match misp_type {
        "md5" => Shape::Plain(Kind::Md5),
        "sha1" => Shape::Plain(Kind::Sha1),
        "sha256" => Shape::Plain(Kind::Sha256),
        "filename|md5" => Shape::FileNameHash(Kind::Md5),
        "filename|sha1" => Shape::FileNameHash(Kind::Sha1),
        "filename|sha256" => Shape::FileNameHash(Kind::Sha256),
        "filename" => Shape::FileName,
        "domain" | "hostname" => Shape::Plain(Kind::Domain),
        "hostname|port" => Shape::HostPort,
        "domain|ip" => Shape::DomainIp,
        "ip-dst" | "ip-src" => Shape::Ip,
        "ip-dst|port" | "ip-src|port" => Shape::IpPort,
        "url" => Shape::Url,
        "email" | "email-src" | "email-dst" => Shape::Plain(Kind::Email),
        "yara" => Shape::Plain(Kind::Yara),
        _ => return None,
    })
}

/// The (kind, normalised value) pairs of one attribute value.
fn values(shape: Shape, value: &str) -> Result<Vec<(Kind, String)>, String> {
    let one = |kind: Kind, v: &str| -> Result<(Kind, String), String> {
        crate::model::normalise(kind, v)
            .map(|n| (kind, n))
            .map_err(|e| e.to_string())
    };
    let ip = |v: &str| {
        let kind = if v.contains(':') {
            Kind::Ipv6
        } else {
            Kind::Ipv4
        };
        one(kind, v)
    };
    let split = |v: &str, what: &str| -> Result<(String, String), String> {
        // The right half (hash, port, IP) never holds a '|'; a file name
        // may.
        v.rsplit_once('|')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .ok_or_else(|| format!("expected '{what}'"))
    };
    Ok(match shape {
        Shape::Plain(kind) => vec![one(kind, value)?],
        Shape::FileName => vec![(Kind::FileName, file_name_regex(value)?)],
        Shape::FileNameHash(kind) => {
            let (name, hash) = split(value, "filename|hash")?;
            vec![one(kind, &hash)?, (Kind::FileName, file_name_regex(&name)?)]
        }
        Shape::Ip => vec![ip(value)?],
        Shape::IpPort => {
            let (addr, port) = split(value, "ip|port")?;
            check_port(&port)?;
            vec![ip(&addr)?]
        }
        Shape::HostPort => {
            let (host, port) = split(value, "hostname|port")?;
            check_port(&port)?;
            vec![one(Kind::Domain, &host)?]
        }
        Shape::DomainIp => {
            let (domain, addr) = split(value, "domain|ip")?;
            vec![one(Kind::Domain, &domain)?, ip(&addr)?]
        }
        Shape::Url => {
            let v = value.trim();
            if v.contains("://") {
                vec![one(Kind::Url, v)?]
            } else {
                vec![one(Kind::Url, &format!("http://{v}"))?]
            }
        }
    })
}

fn check_port(port: &str) -> Result<(), String> {
    port.trim()
        .parse::<u16>()
        .map(|_| ())
        .map_err(|_| format!("'{port}' is not a port number"))
}

/// An exact file name as the anchored, escaped regex that
/// [`Kind::FileName`] holds: it matches the name as the last component of
/// a path, whichever separator the path uses.
pub fn file_name_regex(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("empty file name".into());
    }
    if name.len() > crate::model::MAX_VALUE {
        return Err("file name longer than 1 MiB".into());
    }
    let mut re = String::with_capacity(name.len() + 16);
    re.push_str(r"(^|[/\\])");
    for c in name.chars() {
        if r"\.+*?()|[]{}^$#&-~".contains(c) {
            re.push('\\');
        }
        re.push(c);
    }
    re.push('$');
    Ok(re)
}

fn read_attribute(
    a: &Value,
    place: &str,
    ev: &EventCtx,
    obj: Option<&ObjectCtx>,
    opts: &ReadOptions,
    out: &mut Loaded,
) {
    let id = attr_id(a, place);
    let Value::Object(attr) = a else {
        return invalid(
            out,
            &id,
            format!("attribute is a JSON {}, not an object", json_type(a)),
        );
    };
    let deleted = match opt_flag(attr, "deleted") {
        Ok(d) => d.unwrap_or(false),
        Err(reason) => return invalid(out, &id, reason),
    };
    if deleted || obj.is_some_and(|o| o.deleted) {
        let what = if deleted { "attribute" } else { "its object" };
        return skip(out, &id, SkipClass::Revoked, format!("{what} is deleted"));
    }
    let misp_type = match attr.get("type") {
        Some(Value::String(t)) => t.as_str(),
        None | Some(Value::Null) => return invalid(out, &id, "no type".into()),
        Some(v) => {
            return invalid(
                out,
                &id,
                format!("type is a JSON {}, not a string", json_type(v)),
            );
        }
    };
    let Some(shape) = shape(misp_type) else {
        return skip(
            out,
            &id,
            SkipClass::Unsupported,
            format!("MISP type '{}' is not read", clip(misp_type)),
        );
    };
    match opt_flag(attr, "to_ids") {
        Ok(Some(false)) => {
            return skip(
                out,
                &id,
                SkipClass::NotForDetection,
                format!("to_ids is false ({misp_type})"),
            );
        }
        Ok(_) => {}
        Err(reason) => return invalid(out, &id, reason),
    }
    let value = match attr.get("value") {
        Some(Value::String(v)) => v.as_str(),
        None | Some(Value::Null) => return invalid(out, &id, "no value".into()),
        Some(v) => {
            return invalid(
                out,
                &id,
                format!("value is a JSON {}, not a string", json_type(v)),
            );
        }
    };
    let tags = match TagInfo::of(attr) {
        Ok(t) => t,
        Err(reason) => return invalid(out, &id, reason),
    };
    let comment = match opt_str(attr, "comment") {
        Ok(c) => c.map(str::trim).filter(|s| !s.is_empty()),
        Err(reason) => return invalid(out, &id, reason),
    };
    let pairs = match values(shape, value) {
        Ok(p) => p,
        Err(reason) => return invalid(out, &id, format!("{misp_type}: {reason}")),
    };
    let name = comment
        .map(str::to_string)
        .or_else(|| obj.and_then(|o| o.comment.clone()))
        .or_else(|| ev.info.clone());
    let object_id = match (attr.get("uuid"), attr.get("id")) {
        (Some(Value::String(u)), _) if !u.is_empty() => Some(u.clone()),
        (_, Some(Value::String(i))) if !i.is_empty() => Some(i.clone()),
        (_, Some(Value::Number(n))) => Some(n.to_string()),
        _ => None,
    };
    for (kind, value) in pairs {
        let mut ind = match Indicator::new(kind, &value, &opts.source) {
            Ok(i) => i,
            // Already normalised above; a second refusal would be a bug,
            // reported rather than hidden.
            Err(e) => return invalid(out, &id, e.to_string()),
        };
        ind.name = name.clone();
        ind.family = tags.family.clone().or_else(|| ev.tags.family.clone());
        ind.tlp = tags.tlp.or(ev.tags.tlp);
        ind.score = ev.score;
        ind.provenance.object_id = object_id.clone();
        ind.provenance.producer = ev.producer.clone();
        ind.provenance.container = ev.uuid.clone();
        out.indicators.push(ind);
    }
}

/// What the tags and galaxies of an event or attribute say.
#[derive(Default)]
struct TagInfo {
    tlp: Option<Tlp>,
    family: Option<String>,
}

impl TagInfo {
    /// Reads `Tag[].name` and `Galaxy[].GalaxyCluster[].value` of `m`.
    fn of(m: &Map<String, Value>) -> Result<TagInfo, String> {
        let mut info = TagInfo::default();
        match m.get("Tag") {
            None | Some(Value::Null) => {}
            Some(Value::Array(tags)) => {
                for (i, t) in tags.iter().enumerate() {
                    // MISP writes tags as objects; some exporters as plain
                    // names.
                    let name = match t {
                        Value::String(s) => s.as_str(),
                        Value::Object(o) => match o.get("name") {
                            Some(Value::String(s)) => s.as_str(),
                            _ => return Err(format!("Tag[{i}] has no name")),
                        },
                        v => {
                            return Err(format!("Tag[{i}] is a JSON {}", json_type(v)));
                        }
                    };
                    info.add_tag(name);
                }
            }
            Some(v) => return Err(format!("Tag is a JSON {}, not a list", json_type(v))),
        }
        match m.get("Galaxy") {
            None | Some(Value::Null) => {}
            Some(Value::Array(galaxies)) => {
                for (i, g) in galaxies.iter().enumerate() {
                    let Value::Object(g) = g else {
                        return Err(format!("Galaxy[{i}] is a JSON {}", json_type(g)));
                    };
                    let gtype = opt_str(g, "type").map_err(|e| format!("Galaxy[{i}].{e}"))?;
                    let clusters = match g.get("GalaxyCluster") {
                        None | Some(Value::Null) => continue,
                        Some(Value::Array(c)) => c,
                        Some(v) => {
                            return Err(format!(
                                "Galaxy[{i}].GalaxyCluster is a JSON {}",
                                json_type(v)
                            ));
                        }
                    };
                    for (j, c) in clusters.iter().enumerate() {
                        let Value::Object(c) = c else {
                            return Err(format!(
                                "Galaxy[{i}].GalaxyCluster[{j}] is a JSON {}",
                                json_type(c)
                            ));
                        };
                        let ctype = opt_str(c, "type")
                            .map_err(|e| format!("Galaxy[{i}].GalaxyCluster[{j}].{e}"))?;
                        let value = opt_str(c, "value")
                            .map_err(|e| format!("Galaxy[{i}].GalaxyCluster[{j}].{e}"))?;
                        let is_malware = ctype
                            .or(gtype)
                            .is_some_and(|t| MALWARE_GALAXIES.contains(&t));
                        if let (true, Some(v), None) = (is_malware, value, &info.family) {
                            info.family = family_name(v);
                        }
                    }
                }
            }
            Some(v) => return Err(format!("Galaxy is a JSON {}, not a list", json_type(v))),
        }
        Ok(info)
    }

    fn add_tag(&mut self, name: &str) {
        let lower = name.trim().to_ascii_lowercase();
        if lower.starts_with("tlp:") {
            if let Some(t) = Tlp::parse(&lower) {
                // Two TLP tags on one level: the stricter one holds.
                self.tlp = Some(self.tlp.map_or(t, |old| old.max(t)));
            }
            return;
        }
        if self.family.is_some() {
            return;
        }
        let Some(rest) = name.trim().strip_prefix("misp-galaxy:") else {
            return;
        };
        let Some((galaxy, value)) = rest.split_once('=') else {
            return;
        };
        if MALWARE_GALAXIES.contains(&galaxy.trim()) {
            self.family = family_name(value.trim().trim_matches('"'));
        }
    }
}

fn family_name(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v.len() <= MAX_FAMILY).then(|| v.to_string())
}

/// A string member: `Ok(None)` when absent or null, an error naming the
/// key when of another type.
fn opt_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!("{key} is a JSON {}, not a string", json_type(v))),
    }
}

/// A MISP boolean: `true`/`false`, `1`/`0`, or those as strings (older
/// exports write `"1"`).
fn opt_flag(m: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    let bad = |v: &Value| format!("{key} is {}, not a boolean", clip(&v.to_string()));
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v @ Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => Err(bad(v)),
        },
        Some(v @ Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "0" | "false" => Ok(Some(false)),
            "1" | "true" => Ok(Some(true)),
            _ => Err(bad(v)),
        },
        Some(v) => Err(bad(v)),
    }
}

/// At most 80 characters of an attacker-given string, for a message.
fn clip(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(MAX).collect();
        c.push_str("...");
        c
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn skip(out: &mut Loaded, id: &str, class: SkipClass, reason: String) {
    out.skipped.push(Skipped {
        id: id.to_string(),
        class,
        reason,
    });
}

fn invalid(out: &mut Loaded, id: &str, reason: String) {
    skip(out, id, SkipClass::Invalid, reason);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Loaded {
        let mut out = Loaded::default();
        read_value(&v, &ReadOptions::new("t.json"), &mut out);
        out
    }

    #[test]
    fn file_name_regex_is_escaped_and_anchored() {
        assert_eq!(
            file_name_regex("a.b(1)+$.exe").unwrap(),
            r"(^|[/\\])a\.b\(1\)\+\$\.exe$"
        );
        assert!(file_name_regex("  ").is_err());
    }

    #[test]
    fn composite_values_split_from_the_right() {
        let v = values(
            Shape::FileNameHash(Kind::Md5),
            "a|b.exe|D41D8CD98F00B204E9800998ECF8427E",
        )
        .unwrap();
        assert_eq!(v[0], (Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e".into()));
        assert_eq!(v[1].1, r"(^|[/\\])a\|b\.exe$");
        let v = values(Shape::IpPort, "2001:db8::1|443").unwrap();
        assert_eq!(v, vec![(Kind::Ipv6, "2001:db8::1".into())]);
        assert!(values(Shape::IpPort, "192.0.2.1|http").is_err());
        assert!(values(Shape::DomainIp, "evil.example").is_err());
        assert_eq!(
            values(Shape::Url, "evil.example/x").unwrap(),
            vec![(Kind::Url, "http://evil.example/x".into())]
        );
    }

    #[test]
    fn flags_accept_misp_spellings_only() {
        let m = json!({"a": "1", "b": 0, "c": "yes", "d": 2, "e": true});
        let m = m.as_object().unwrap();
        assert_eq!(opt_flag(m, "a"), Ok(Some(true)));
        assert_eq!(opt_flag(m, "b"), Ok(Some(false)));
        assert!(opt_flag(m, "c").is_err());
        assert!(opt_flag(m, "d").is_err());
        assert_eq!(opt_flag(m, "e"), Ok(Some(true)));
        assert_eq!(opt_flag(m, "z"), Ok(None));
    }

    #[test]
    fn tlp_most_restrictive_and_attribute_wins() {
        let out = read(json!({"Event": {
            "uuid": "e1", "info": "ev", "threat_level_id": "3",
            "Tag": [{"name": "tlp:green"}, {"name": "TLP:AMBER"}, {"name": "misp-galaxy:malpedia=\"Nymaim\""}],
            "Attribute": [
                {"uuid": "a1", "type": "domain", "value": "Evil.Example", "to_ids": true},
                {"uuid": "a2", "type": "domain", "value": "b.example", "Tag": ["tlp:clear", "misp-galaxy:banker=\"Dridex\""], "comment": "c2"}
            ]
        }}));
        assert_eq!(out.indicators.len(), 2, "{:?}", out.skipped);
        let a = &out.indicators[0];
        assert_eq!(a.tlp, Some(Tlp::Amber));
        assert_eq!(a.family.as_deref(), Some("Nymaim"));
        assert_eq!(a.name.as_deref(), Some("ev"));
        assert_eq!(a.score, LOW_THREAT_SCORE);
        let b = &out.indicators[1];
        assert_eq!(b.tlp, Some(Tlp::Clear));
        assert_eq!(b.family.as_deref(), Some("Dridex"));
        assert_eq!(b.name.as_deref(), Some("c2"));
    }

    #[test]
    fn broken_tag_list_skips_rather_than_drops_the_marking() {
        let out = read(json!({"Event": {"uuid": "e1", "Tag": [{"nom": "tlp:red"}],
            "Attribute": [{"uuid": "a1", "type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"}]}}));
        assert!(out.indicators.is_empty());
        assert_eq!(out.skipped.len(), 1);
        assert_eq!(out.skipped[0].id, "event e1");
        assert!(
            out.skipped[0].reason.contains("Tag[0]"),
            "{:?}",
            out.skipped
        );
    }

    #[test]
    fn non_events_are_reported_not_panicked_on() {
        for v in [
            json!(3),
            json!("x"),
            json!(null),
            json!({"foo": 1}),
            json!({"response": 5}),
            json!([[1]]),
        ] {
            let out = read(v.clone());
            assert!(out.indicators.is_empty());
            assert_eq!(
                out.skipped_count(SkipClass::Invalid),
                1,
                "{v}: {:?}",
                out.skipped
            );
        }
    }
}
