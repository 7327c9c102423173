//! MISP feed directories, read and written.
//!
//! A feed is what a MISP instance subscribes to: a directory (served over
//! HTTP or read locally) holding `manifest.json`, an object mapping each
//! event uuid to a summary of the event, one `<uuid>.json` per event
//! (`{"Event": {...}}`), and `hashes.csv`, the MD5 of every attribute
//! value with its event uuid, which MISP uses to correlate without
//! fetching the events.
//!
//! Reading ([`read_feed`]) trusts only what the manifest lists: an event
//! file it names but that is missing, unreadable, too large, not JSON or
//! holding another event is one [`SkipClass::Invalid`] entry naming the
//! uuid and the reason, and the others are read; a `*.json` file it does
//! not name is reported the same way and not loaded (it is not part of
//! the feed MISP would see). A manifest key that is not a uuid is never
//! turned into a path (it could be `../../x`).
//!
//! Writing ([`write_feed`]) produces what `pymisp.tools.feed`'s
//! `feed_meta_generator` makes of the same event files, so that MISP and
//! PyMISP users see the feed they expect: the manifest entry of an event
//! is its `Orgc` (`name`, `uuid`), its exportable tags (`colour`, `local`,
//! `name`, `relationship_type`, with PyMISP's defaults `#ffffff`, `false`,
//! `""`), `info`, `date`, `analysis` (default 2), `threat_level_id`
//! (default 4) and `timestamp` (default now); `hashes.csv` has one line
//! `<md5 of value>,<event uuid>` per attribute value (both halves of a
//! composite `a|b` value), event attributes first, then object ones, files
//! in name order. Like the generator, the manifest and `hashes.csv` cover
//! every event file of the directory, so a feed grows export after
//! export, and re-exporting an event replaces its file. Every file is
//! written to a temporary name and renamed into place, so a kill leaves
//! either the old file or the new one, never half of one; event files are
//! written before the manifest that names them.

use crate::model::{Loaded, SkipClass, Skipped};
use crate::{ReadError, ReadOptions};
use md5::{Digest, Md5};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Largest `manifest.json` read: a manifest entry is a few hundred bytes,
/// so this is over 100,000 events; a larger one is hostile (memory).
pub const MAX_MANIFEST: u64 = 64 << 20;

/// Largest event file read. Parsed JSON takes several times its size in
/// memory, so this bounds one event's cost to a few GiB at worst; the
/// largest public MISP events are tens of MiB.
pub const MAX_EVENT_FILE: u64 = 256 << 20;

/// Most directory entries looked at for files the manifest does not name
/// (a directory with millions of entries is not a feed, and listing it
/// would take the run's time).
pub const MAX_DIR_ENTRIES: usize = 1_000_000;

const MANIFEST: &str = "manifest.json";
const HASHES: &str = "hashes.csv";

/// True when `dir` looks like a MISP feed: it holds a `manifest.json`
/// whose content is a JSON object keyed by uuids (an empty object is an
/// empty feed).
pub fn is_feed_dir(dir: &Path) -> bool {
    let path = dir.join(MANIFEST);
    if !path.is_file() {
        return false;
    }
    match read_limited(&path, MAX_MANIFEST)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    {
        Some(Value::Object(m)) => m.keys().all(|k| is_uuid(k)),
        _ => false,
    }
}

/// Reads the MISP feed in `dir`: the events its `manifest.json` lists.
/// Fails only when the manifest itself cannot be read or is not a JSON
/// object; a bad event is a [`Skipped`] entry and the rest are read.
pub fn read_feed(dir: &Path, opts: &ReadOptions) -> Result<Loaded, ReadError> {
    let manifest_path = dir.join(MANIFEST);
    let bytes = read_limited(&manifest_path, MAX_MANIFEST).map_err(|e| {
        ReadError::Io(io::Error::new(
            e.kind(),
            format!("{}: {e}", manifest_path.display()),
        ))
    })?;
    let manifest: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ReadError::Format(format!("{}: not JSON: {e}", manifest_path.display())))?;
    let Value::Object(manifest) = manifest else {
        return Err(ReadError::Format(format!(
            "{}: not a MISP feed manifest (not a JSON object of event uuids)",
            manifest_path.display()
        )));
    };
    let mut out = Loaded::default();
    let invalid = |out: &mut Loaded, id: &str, reason: String| {
        out.skipped.push(Skipped {
            id: id.to_string(),
            class: SkipClass::Invalid,
            reason,
        })
    };
    for uuid in manifest.keys() {
        if !is_uuid(uuid) {
            invalid(
                &mut out,
                &clip(uuid),
                format!("{}: manifest key is not a uuid", manifest_path.display()),
            );
            continue;
        }
        let path = dir.join(format!("{uuid}.json"));
        let event = match read_limited(&path, MAX_EVENT_FILE) {
            Ok(b) => b,
            Err(e) => {
                invalid(&mut out, uuid, format!("{}: {e}", path.display()));
                continue;
            }
        };
        let event: Value = match serde_json::from_slice(&event) {
            Ok(v) => v,
            Err(e) => {
                invalid(&mut out, uuid, format!("{}: not JSON: {e}", path.display()));
                continue;
            }
        };
        let inner = event.get("Event").unwrap_or(&event);
        match inner.get("uuid") {
            Some(Value::String(u)) if u.eq_ignore_ascii_case(uuid) => {}
            Some(Value::String(u)) => {
                invalid(
                    &mut out,
                    uuid,
                    format!("{}: holds event {}, not {uuid}", path.display(), clip(u)),
                );
                continue;
            }
            _ => {
                invalid(
                    &mut out,
                    uuid,
                    format!("{}: not a MISP event with a uuid", path.display()),
                );
                continue;
            }
        }
        crate::misp::read::read_value(&event, opts, &mut out);
    }
    // Files the manifest does not name: reported, not loaded.
    let mut extra = Vec::new();
    let listing = std::fs::read_dir(dir)
        .map_err(|e| ReadError::Io(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))))?;
    for (n, entry) in listing.enumerate() {
        if n >= MAX_DIR_ENTRIES {
            invalid(
                &mut out,
                &dir.display().to_string(),
                format!("more than {MAX_DIR_ENTRIES} entries; the rest not checked"),
            );
            break;
        }
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == MANIFEST {
            continue;
        }
        if let Some(stem) = name.strip_suffix(".json")
            && !manifest.contains_key(stem)
        {
            extra.push(stem.to_string());
        }
    }
    extra.sort();
    for stem in extra {
        let path = dir.join(format!("{stem}.json"));
        invalid(
            &mut out,
            &clip(&stem),
            format!("{}: not in manifest (not loaded)", path.display()),
        );
    }
    Ok(out)
}

/// Writes `events` (each `{"Event": {...}}` or a bare event) into the feed
/// directory `dir` as `<uuid>.json`, then `manifest.json` and `hashes.csv`
/// over every event file of the directory (see the module doc). Every
/// event is checked before anything is written: one without a uuid,
/// `info` or `Orgc` (`name`, `uuid`), or one PyMISP would refuse, is an
/// `InvalidInput` error and the directory is left as it was.
pub fn write_feed(dir: &Path, events: &[Value]) -> io::Result<()> {
    let bad = |i: usize, why: String| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("events[{i}]: {why}"))
    };
    let now = time::OffsetDateTime::now_utc();
    let mut seen = BTreeSet::new();
    let mut files = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        let inner = match ev.get("Event") {
            Some(Value::Object(m)) => m,
            Some(_) => return Err(bad(i, "Event is not an object".into())),
            None => match ev {
                Value::Object(m) => m,
                _ => return Err(bad(i, "not a MISP event".into())),
            },
        };
        let uuid = match inner.get("uuid") {
            Some(Value::String(u)) if is_uuid(u) => u.clone(),
            _ => return Err(bad(i, "no uuid, or not a uuid".into())),
        };
        if !seen.insert(uuid.clone()) {
            return Err(bad(i, format!("event {uuid} given twice")));
        }
        manifest_entry(inner, now).map_err(|e| bad(i, format!("event {uuid}: {e}")))?;
        hash_lines(inner, &uuid).map_err(|e| bad(i, format!("event {uuid}: {e}")))?;
        let mut wrapped = Map::new();
        wrapped.insert("Event".into(), Value::Object(inner.clone()));
        files.push((uuid, Value::Object(wrapped)));
    }
    std::fs::create_dir_all(dir)?;
    for (uuid, ev) in &files {
        let bytes = serde_json::to_vec_pretty(ev).map_err(io::Error::other)?;
        write_atomic(&dir.join(format!("{uuid}.json")), &bytes)?;
    }
    // Manifest and hashes over all the event files, as the generator does.
    let mut names = Vec::new();
    for (n, entry) in std::fs::read_dir(dir)?.enumerate() {
        if n >= MAX_DIR_ENTRIES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: more than {MAX_DIR_ENTRIES} entries", dir.display()),
            ));
        }
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".json") && name != MANIFEST && entry.file_type()?.is_file() {
            names.push(name.to_string());
        }
    }
    names.sort();
    let mut manifest = Map::new();
    let mut hashes = String::new();
    for name in names {
        let path = dir.join(&name);
        let invalid = |why: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {why}", path.display()),
            )
        };
        let bytes = read_limited(&path, MAX_EVENT_FILE).map_err(|e| invalid(e.to_string()))?;
        let ev: Value =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let inner = match ev.get("Event") {
            Some(Value::Object(m)) => m,
            _ => match &ev {
                Value::Object(m) => m,
                _ => return Err(invalid("not a MISP event".into())),
            },
        };
        let (uuid, entry) = manifest_entry(inner, now).map_err(invalid)?;
        for line in hash_lines(inner, &uuid).map_err(invalid)? {
            hashes.push_str(&line);
            hashes.push('\n');
        }
        manifest.insert(uuid, entry);
    }
    let manifest = serde_json::to_vec(&Value::Object(manifest)).map_err(io::Error::other)?;
    write_atomic(&dir.join(MANIFEST), &manifest)?;
    write_atomic(&dir.join(HASHES), hashes.as_bytes())
}

/// The manifest entry of one event, as PyMISP's `MISPEvent.manifest`
/// builds it: `(uuid, {Orgc, Tag, info, date, analysis, threat_level_id,
/// timestamp})`.
fn manifest_entry(
    ev: &Map<String, Value>,
    now: time::OffsetDateTime,
) -> Result<(String, Value), String> {
    let uuid = match ev.get("uuid") {
        Some(Value::String(u)) => u.clone(),
        _ => return Err("no uuid".into()),
    };
    let info = match ev.get("info") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err("no info (a string)".into()),
    };
    let orgc = match ev.get("Orgc") {
        Some(Value::Object(o)) => {
            let o = o
                .get("Organisation")
                .and_then(Value::as_object)
                .unwrap_or(o);
            let mut m = Map::new();
            for key in ["name", "uuid"] {
                match o.get(key) {
                    None | Some(Value::Null) => return Err(format!("no Orgc.{key}")),
                    Some(v) => m.insert(key.into(), int_to_str(v)),
                };
            }
            m
        }
        _ => return Err("no Orgc".into()),
    };
    if let Some(d) = ev.get("distribution").filter(|v| !v.is_null()) {
        let d = py_int(d).ok_or("distribution is not a number")?;
        if !(0..=4).contains(&d) {
            return Err(format!("distribution {d} not in 0..4"));
        }
    }
    let ranged = |key: &str, range: std::ops::RangeInclusive<i64>, default: i64| match ev
        .get(key)
        .filter(|v| !v.is_null())
    {
        None => Ok(default),
        Some(v) => match py_int(v) {
            Some(n) if range.contains(&n) => Ok(n),
            _ => Err(format!("{key} is not in {range:?}")),
        },
    };
    let threat = ranged("threat_level_id", 1..=4, 4)?;
    let analysis = ranged("analysis", 0..=2, 2)?;
    let timestamp = match ev.get("timestamp").filter(|v| py_truthy(v)) {
        None => now.unix_timestamp(),
        Some(v) => py_int(v).ok_or("timestamp is not a number")?,
    };
    let date = match ev.get("date").filter(|v| py_truthy(v)) {
        // PyMISP takes today's date; its local time, our UTC.
        None => now.date(),
        Some(Value::String(s)) => time::Date::parse(
            s.trim(),
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| format!("date '{}' is not YYYY-MM-DD", clip(s)))?,
        Some(_) => return Err("date is not a YYYY-MM-DD string".into()),
    };
    let date = date
        .format(time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|e| e.to_string())?;
    let mut tags: Vec<Map<String, Value>> = Vec::new();
    let mut seen: Vec<Value> = Vec::new();
    match ev.get("Tag") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, t) in list.iter().enumerate() {
                // What PyMISP keeps of the tag's dict (no nulls), which it
                // compares to drop duplicates.
                let given: Map<String, Value> = match t {
                    Value::String(s) => [("name".to_string(), Value::String(s.clone()))]
                        .into_iter()
                        .collect(),
                    Value::Object(o) => o
                        .iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    _ => return Err(format!("Tag[{i}] is not a tag")),
                };
                let key = Value::Object(given.clone());
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                if given.get("exportable").is_some_and(|v| !py_truthy(v)) {
                    continue;
                }
                let mut m = Map::new();
                for (field, default) in [
                    ("colour", Value::String("#ffffff".into())),
                    ("local", Value::Bool(false)),
                    ("name", Value::Null),
                    ("relationship_type", Value::String(String::new())),
                ] {
                    let v = match given.get(field) {
                        Some(v) => int_to_str(v),
                        None if default.is_null() => {
                            return Err(format!("Tag[{i}] has no {field}"));
                        }
                        None => default,
                    };
                    m.insert(field.into(), v);
                }
                tags.push(m);
            }
        }
        Some(_) => return Err("Tag is not a list".into()),
    }
    let mut entry = Map::new();
    entry.insert("Orgc".into(), Value::Object(orgc));
    entry.insert(
        "Tag".into(),
        Value::Array(tags.into_iter().map(Value::Object).collect()),
    );
    entry.insert("info".into(), Value::String(info));
    entry.insert("date".into(), Value::String(date));
    entry.insert("analysis".into(), analysis.into());
    entry.insert("threat_level_id".into(), threat.into());
    entry.insert("timestamp".into(), timestamp.into());
    Ok((uuid, Value::Object(entry)))
}

/// The `hashes.csv` lines of one event: `<md5>,<uuid>` per value.
fn hash_lines(ev: &Map<String, Value>, uuid: &str) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut add = |a: &Value, in_object: bool, place: &str| -> Result<(), String> {
        let Value::Object(a) = a else {
            return Err(format!("{place} is not an object"));
        };
        let Some(Value::String(t)) = a.get("type") else {
            return Err(format!("{place} has no type"));
        };
        let value = match a.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            Some(Value::Bool(b)) => if *b { "True" } else { "False" }.to_string(),
            // PyMISP drops an object attribute without a value.
            None | Some(Value::Null) if in_object => return Ok(()),
            _ => return Err(format!("{place} has no usable value")),
        };
        let value = if in_object {
            // PyMISP strips object attribute values, and drops empty ones.
            let v = value
                .trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
                .trim_matches('\0');
            if v.is_empty() {
                return Ok(());
            }
            v.to_string()
        } else {
            value
        };
        if t.contains('|') || t == "malware-sample" {
            for part in value.split('|') {
                lines.push(format!(
                    "{},{uuid}",
                    hex::encode(Md5::digest(part.as_bytes()))
                ));
            }
        } else {
            lines.push(format!(
                "{},{uuid}",
                hex::encode(Md5::digest(value.as_bytes()))
            ));
        }
        Ok(())
    };
    if let Some(Value::Array(attrs)) = ev.get("Attribute") {
        for (i, a) in attrs.iter().enumerate() {
            add(a, false, &format!("Attribute[{i}]"))?;
        }
    }
    if let Some(Value::Array(objects)) = ev.get("Object") {
        for (j, o) in objects.iter().enumerate() {
            if let Some(Value::Array(attrs)) = o.get("Attribute") {
                for (i, a) in attrs.iter().enumerate() {
                    add(a, true, &format!("Object[{j}].Attribute[{i}]"))?;
                }
            }
        }
    }
    Ok(lines)
}

/// PyMISP turns integers (not booleans) into strings in feed output.
fn int_to_str(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Value::String(n.to_string()),
        other => other.clone(),
    }
}

/// Python's `int(v)` on a JSON value, for the integers PyMISP parses.
fn py_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Python's truth value of a JSON value.
fn py_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

pub use crate::model::is_uuid;

/// Reads a whole file, refusing one over `max` bytes (checked on the
/// length read, not only the metadata, which a FIFO or /proc file lies
/// about).
fn read_limited(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(buf)
}

/// Writes `bytes` to `path` through a temporary file in the same
/// directory, synced, then renamed over `path`: a reader or a crash sees
/// the old content or the new, never a part. The temporary name does not
/// end in `.json`, so one left by a kill is never taken for an event.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp: PathBuf = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable only once the directory is synced;
        // not every platform lets a directory be opened for that.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uuids_are_checked_before_becoming_paths() {
        assert!(is_uuid("5f1c2f5e-0a4b-4c3d-9e8f-0123456789ab"));
        assert!(!is_uuid("../../../../etc/passwd-0000000000000"));
        assert!(!is_uuid("5f1c2f5e0a4b4c3d9e8f0123456789ab"));
    }

    #[test]
    fn manifest_entry_takes_pymisp_defaults() {
        let now = time::macros::datetime!(2026-12-06 10:00 UTC);
        let ev = json!({"uuid": "u", "info": "i", "Orgc": {"name": "O", "uuid": "x", "id": 3},
            "Tag": ["tlp:red", {"name": "x", "exportable": false}, "tlp:red", {"name": "y", "local": 1}]});
        let (uuid, e) = manifest_entry(ev.as_object().unwrap(), now).unwrap();
        assert_eq!(uuid, "u");
        assert_eq!(
            e,
            json!({"Orgc": {"name": "O", "uuid": "x"},
                "Tag": [{"colour": "#ffffff", "local": false, "name": "tlp:red", "relationship_type": ""},
                        {"colour": "#ffffff", "local": "1", "name": "y", "relationship_type": ""}],
                "info": "i", "date": "2026-12-06", "analysis": 2, "threat_level_id": 4,
                "timestamp": now.unix_timestamp()})
        );
        let bad = json!({"uuid": "u", "info": "i", "Orgc": {"name": "O"}});
        assert!(manifest_entry(bad.as_object().unwrap(), now).is_err());
    }

    #[test]
    fn hash_lines_split_composites_and_strip_object_values() {
        let ev = json!({"Attribute": [{"type": "domain|ip", "value": "a.example|192.0.2.1"}],
            "Object": [{"Attribute": [{"type": "text", "value": " x "}, {"type": "text", "value": "  "}]}]});
        let lines = hash_lines(ev.as_object().unwrap(), "u").unwrap();
        let md5 = |s: &str| hex::encode(Md5::digest(s.as_bytes()));
        assert_eq!(
            lines,
            vec![
                format!("{},u", md5("a.example")),
                format!("{},u", md5("192.0.2.1")),
                format!("{},u", md5("x")),
            ]
        );
    }
}
