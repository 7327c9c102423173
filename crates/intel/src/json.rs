//! A `.json` signature file recognised by its content and read: a STIX 2.1
//! bundle (or TAXII envelope) or MISP JSON (an event, a bare event, a
//! list of events, or a REST `{"response": ...}`).
//!
//! The decision ([`sniff`]) looks only at the first [`SNIFF_LEN`] bytes:
//! the top-level keys of the object (or of the first element of a list),
//! whatever their order and the white space or byte-order mark before
//! them. STIX is then streamed ([`crate::stix::read`]); MISP is parsed
//! whole (an event is bounded by the file size limit, [`MAX_JSON_FILE`]
//! for [`read_path`]) and handed to [`crate::misp::read`].

use crate::ReadOptions;
use crate::model::{Loaded, ReadError};
use std::io::{Cursor, Read};
use std::path::Path;

/// Bytes looked at to recognise a file. The keys that decide come first
/// in every producer's output we know, but a MISP event may start with a
/// long `Attribute` list, so a whole buffer's worth is scanned.
pub const SNIFF_LEN: usize = 64 * 1024;

/// Largest `.json` file [`read_path`] opens. A STIX bundle is streamed,
/// but a MISP event is parsed whole into memory (several times its size):
/// this bounds what one hostile file can cost.
pub const MAX_JSON_FILE: u64 = 1 << 30;

/// The formats a `.json` file can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A STIX 2.1 bundle or TAXII 2.1 envelope.
    Stix,
    /// MISP JSON.
    Misp,
}

impl Format {
    /// The name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Stix => "STIX 2.1",
            Format::Misp => "MISP",
        }
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Keys of a bare MISP event object (without the `{"Event": ...}`
/// wrapper); none of them is a top-level key of a STIX bundle.
const MISP_EVENT_KEYS: &[&str] = &[
    "Attribute",
    "Object",
    "Orgc",
    "Org",
    "info",
    "threat_level_id",
    "analysis",
    "Tag",
    "Galaxy",
    "EventTag",
];

/// Decides from the first bytes of a file whether it is STIX or MISP JSON;
/// `None` when it is neither (or not JSON). Only `prefix[..SNIFF_LEN]` is
/// looked at.
pub fn sniff(prefix: &[u8]) -> Option<Format> {
    let p = &prefix[..prefix.len().min(SNIFF_LEN)];
    let p = p.strip_prefix(BOM).unwrap_or(p);
    let start = p.iter().position(|b| !b.is_ascii_whitespace())?;
    match p.get(start)? {
        b'{' => decide(&object_keys(p, start), true),
        b'[' => {
            let first = start
                + 1
                + p.get(start + 1..)?
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())?;
            if p.get(first) != Some(&b'{') {
                return None;
            }
            decide(&object_keys(p, first), false)
        }
        _ => None,
    }
}

fn decide(keys: &[(Vec<u8>, Option<Vec<u8>>)], top: bool) -> Option<Format> {
    let has = |k: &str| keys.iter().any(|(key, _)| key == k.as_bytes());
    if top
        && (has("objects")
            || keys
                .iter()
                .any(|(k, v)| k == b"type" && v.as_deref() == Some(b"bundle")))
    {
        return Some(Format::Stix);
    }
    if has("Event") || (top && has("response")) || MISP_EVENT_KEYS.iter().any(|k| has(k)) {
        return Some(Format::Misp);
    }
    None
}

/// Longest key or string value kept by [`object_keys`]: only short ones
/// are compared.
const MAX_SNIFF_KEY: usize = 64;

/// The keys of the object opening at `p[open]`, each with its value when
/// that is a string, as far as `p` goes (escapes left as written).
fn object_keys(p: &[u8], open: usize) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut keys = Vec::new();
    let mut i = open + 1;
    let mut depth = 1usize;
    let mut expect_key = true;
    let mut pending: Option<Vec<u8>> = None;
    while let Some(&c) = p.get(i) {
        match c {
            b'"' => {
                let Some((s, end)) = string_at(p, i) else {
                    break;
                };
                if depth == 1 && expect_key {
                    pending = Some(s);
                    expect_key = false;
                } else if depth == 1
                    && let Some(k) = pending.take()
                {
                    keys.push((k, Some(s)));
                }
                i = end;
                continue;
            }
            b'{' | b'[' => {
                if depth == 1
                    && let Some(k) = pending.take()
                {
                    keys.push((k, None));
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => {
                if let Some(k) = pending.take() {
                    keys.push((k, None));
                }
                expect_key = true;
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(k) = pending {
        keys.push((k, None));
    }
    keys
}

/// The string opening at `p[open]` (clipped to [`MAX_SNIFF_KEY`] bytes)
/// and the offset after its closing quote; `None` if `p` ends first.
fn string_at(p: &[u8], open: usize) -> Option<(Vec<u8>, usize)> {
    let mut i = open + 1;
    let mut s = Vec::new();
    loop {
        match *p.get(i)? {
            b'"' => return Some((s, i + 1)),
            b'\\' => {
                if s.len() < MAX_SNIFF_KEY {
                    s.push(b'\\');
                }
                i += 1;
                p.get(i)?;
            }
            c => {
                if s.len() < MAX_SNIFF_KEY {
                    s.push(c);
                }
            }
        }
        i += 1;
    }
}

/// Reads a `.json` signature file from `reader`: recognised by
/// [`sniff`], then read as STIX (streamed) or MISP.
pub fn read(mut reader: impl Read, opts: &ReadOptions) -> Result<(Format, Loaded), ReadError> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut reader)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)?;
    let Some(format) = sniff(&head) else {
        return Err(ReadError::Format(format!(
            "{}: neither a STIX 2.1 bundle (an object with \"objects\") nor MISP JSON \
             (an \"Event\", a list of events, a \"response\")",
            opts.source
        )));
    };
    // serde_json does not take a byte-order mark.
    let skip = if head.starts_with(BOM) { BOM.len() } else { 0 };
    let mut cursor = Cursor::new(head);
    cursor.set_position(skip as u64);
    let whole = cursor.chain(reader);
    match format {
        Format::Stix => Ok((format, crate::stix::read::read(whole, opts)?)),
        Format::Misp => {
            let v: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(whole))
                .map_err(|e| {
                    if e.is_io() {
                        ReadError::Io(e.into())
                    } else {
                        ReadError::Format(format!("{}: not readable MISP JSON: {e}", opts.source))
                    }
                })?;
            let mut out = Loaded::default();
            crate::misp::read::read_value(&v, opts, &mut out);
            Ok((format, out))
        }
    }
}

/// [`read`] of the file at `path`, refused when larger than
/// [`MAX_JSON_FILE`].
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<(Format, Loaded), ReadError> {
    let named =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(named)?;
    let len = f.metadata().map_err(named)?.len();
    if len > MAX_JSON_FILE {
        return Err(ReadError::Format(format!(
            "{}: {len} bytes, larger than the {MAX_JSON_FILE} accepted",
            path.display()
        )));
    }
    // The file may grow while read: never past the limit.
    read(f.take(MAX_JSON_FILE), opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_top_level_keys() {
        let stix = [
            &b"{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[]}"[..],
            b"\xEF\xBB\xBF \n {\"id\":\"bundle--1\",\"spec_version\":\"2.1\",\"type\":\"bundle\"}",
            b"{\"more\":false,\"objects\":[{\"type\":\"indicator\",\"Event\":1}]}",
            b"{\"x\":{\"Event\":{}},\"objects\":[]}",
        ];
        for s in stix {
            assert_eq!(
                sniff(s),
                Some(Format::Stix),
                "{}",
                String::from_utf8_lossy(s)
            );
        }
        let misp = [
            &b"{\"Event\":{\"info\":\"x\"}}"[..],
            b"[{\"Event\":{}}]",
            b"  [ {\"info\":\"x\",\"Attribute\":[]} ]",
            b"{\"response\":[{\"Event\":{}}]}",
            b"{\"uuid\":\"u\",\"info\":\"evt\",\"Attribute\":[{\"type\":\"md5\"}]}",
            b"{\"Attribute\":[{\"objects\":1,\"type\":\"bundle\"}]}",
        ];
        for s in misp {
            assert_eq!(
                sniff(s),
                Some(Format::Misp),
                "{}",
                String::from_utf8_lossy(s)
            );
        }
        for s in [
            &b""[..],
            b"   ",
            b"[]",
            b"[1,{\"Event\":1}]",
            b"{\"type\":\"indicator\",\"id\":\"indicator--1\"}",
            b"rule x { condition: true }",
            b"{\"a\":\"\\\"objects\\\"\"}",
            b"{\"ty",
        ] {
            assert_eq!(sniff(s), None, "{}", String::from_utf8_lossy(s));
        }
        // Past the sniffed prefix nothing counts.
        let mut late = b"{\"pad\":\"".to_vec();
        late.extend(std::iter::repeat_n(b'a', SNIFF_LEN));
        late.extend(b"\",\"objects\":[]}");
        assert_eq!(sniff(&late), None);
        // Deep nesting in the prefix costs nothing.
        let deep = format!("{{\"a\":{}", "[".repeat(SNIFF_LEN));
        assert_eq!(sniff(deep.as_bytes()), None);
    }
}
