//! RTF documents: embedded OLE objects.
//!
//! The hex payload of every `\objdata` destination (with `\binN` binary
//! runs) is decoded and its OLE1 wrapper (MS-OLEDS 2.2.4: version,
//! format, class, topic and item names, native data) removed. A `Package`
//! object yields the file it wraps, named by its label (else the last
//! element of its path); any other embedded object yields its native data
//! (often an OLE2 file) as `object-N`, N counting `\objdata` destinations
//! from 1. A payload without a readable OLE1 wrapper (a linked object, a
//! damaged header) is handed out whole as `object-N`. `\*\datastore`
//! payloads are handed out as `datastore-N`. Pictures are not extracted.
//!
//! The scan is a single pass without recursion: nesting is a counter, so
//! any depth of braces is harmless.

use crate::ole::parse_package;
use crate::{Ctx, Entry, Flow, Issue, Sink};

pub(crate) fn detect(data: &[u8]) -> bool {
    // Word itself only checks `{\rt`.
    data.starts_with(b"{\\rt")
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Object,
    DataStore,
}

struct Dest {
    kind: Kind,
    depth: usize,
    buf: Vec<u8>,
    hi: Option<u8>,
}

impl Dest {
    fn hex(&mut self, b: u8) {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return,
        };
        match self.hi.take() {
            Some(h) => self.buf.push(h << 4 | v),
            None => self.hi = Some(v),
        }
    }
}

fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    let b = d.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The parts of an OLE1 embedded object: class name and the native data
/// range, and whether the data is shorter than declared.
fn ole1(b: &[u8]) -> Option<(Vec<u8>, usize, usize, bool)> {
    let format = u32_at(b, 4)?;
    if format != 2 {
        return None;
    }
    let mut pos = 8;
    let mut class = Vec::new();
    for i in 0..3 {
        let len = u32_at(b, pos)? as usize;
        pos += 4;
        let s = b.get(pos..pos.checked_add(len)?)?;
        if i == 0 {
            class = s.split(|&c| c == 0).next().unwrap_or(&[]).to_vec();
        }
        pos += len;
    }
    let size = u32_at(b, pos)? as usize;
    pos += 4;
    let avail = b.len().checked_sub(pos)?;
    Some((class, pos, size.min(avail), size > avail))
}

fn range(mut v: Vec<u8>, off: usize, len: usize) -> Vec<u8> {
    v.truncate(off.saturating_add(len));
    v.drain(..off.min(v.len()));
    v
}

/// The entry for one finished destination.
fn finish<'a>(d: Dest, n: usize, truncated: bool) -> Entry<'a> {
    let cut = |what: &str| Issue::corrupt(format!("rtf: {what} of object {n} is truncated"));
    let mut entry = match d.kind {
        Kind::DataStore => Entry::new(format!("datastore-{n}"), d.buf),
        Kind::Object => match ole1(&d.buf) {
            Some((class, off, len, short)) => {
                let native = range(d.buf, off, len);
                let package = class
                    .eq_ignore_ascii_case(b"Package")
                    .then(|| parse_package(&native))
                    .flatten();
                let mut e = match package {
                    Some(p) => {
                        let name = p.name();
                        let short = p.truncated;
                        let mut e = Entry::new(name, range(native, p.data.0, p.data.1));
                        if short {
                            e.issue = Some(cut("the packaged file"));
                        }
                        e
                    }
                    None => Entry::new(format!("object-{n}"), native),
                };
                if short && e.issue.is_none() {
                    e.issue = Some(cut("the native data"));
                }
                e
            }
            None => Entry::new(format!("object-{n}"), d.buf),
        },
    };
    if truncated && entry.issue.is_none() {
        entry.issue = Some(cut("the hex data"));
    }
    entry
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut depth = 0usize;
    let mut cur: Option<Dest> = None;
    let (mut objects, mut stores) = (0usize, 0usize);
    let mut i = 0usize;
    let mut tick = 0u32;
    while i < data.len() {
        tick = tick.wrapping_add(1);
        if tick.is_multiple_of(1 << 16) {
            ctx.check_time()?;
        }
        match data[i] {
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                if cur.as_ref().is_some_and(|d| depth <= d.depth)
                    && let Some(d) = cur.take()
                {
                    let n = if d.kind == Kind::Object {
                        objects
                    } else {
                        stores
                    };
                    if sink(ctx, finish(d, n, false)) == Flow::Stop {
                        return Ok(());
                    }
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'\\' => {
                i += 1;
                let Some(&c) = data.get(i) else { break };
                if !c.is_ascii_alphabetic() {
                    // A control symbol; `\'hh` takes two more.
                    i += if c == b'\'' { 3 } else { 1 };
                    continue;
                }
                let start = i;
                while data.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    i += 1;
                }
                let word = &data[start..i];
                let pstart = i;
                if data.get(i) == Some(&b'-') {
                    i += 1;
                }
                while data.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let param_digits = &data[pstart..i];
                let param: Option<i64> = std::str::from_utf8(param_digits)
                    .ok()
                    .and_then(|s| s.get(..s.len().min(12)))
                    .and_then(|s| s.parse().ok());
                if data.get(i) == Some(&b' ') {
                    i += 1;
                }
                match word {
                    b"objdata" | b"datastore" if cur.is_none() => {
                        let kind = if word == b"objdata" {
                            objects += 1;
                            Kind::Object
                        } else {
                            stores += 1;
                            Kind::DataStore
                        };
                        let mut d = Dest {
                            kind,
                            depth,
                            buf: Vec::new(),
                            hi: None,
                        };
                        // `\objdata0105...`: digits run into the data.
                        param_digits.iter().for_each(|&b| d.hex(b));
                        cur = Some(d);
                    }
                    b"bin" => {
                        let n = usize::try_from(param.unwrap_or(0).max(0))
                            .unwrap_or(usize::MAX)
                            .min(data.len() - i);
                        if let Some(d) = cur.as_mut() {
                            d.buf.extend_from_slice(&data[i..i + n]);
                        }
                        i += n;
                    }
                    _ => {}
                }
            }
            b => {
                if let Some(d) = cur.as_mut() {
                    d.hex(b);
                }
                i += 1;
            }
        }
    }
    if let Some(d) = cur.take() {
        let n = if d.kind == Kind::Object {
            objects
        } else {
            stores
        };
        if sink(ctx, finish(d, n, true)) == Flow::Stop {
            return Ok(());
        }
    }
    if depth > 0 {
        return Err(Issue::corrupt(format!(
            "rtf: {depth} groups are left open at the end of the file"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IssueKind;
    use crate::ole::tests::build;
    use crate::testutil::{EICAR, walk};

    fn lpstr(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u32 + 1).to_le_bytes());
        out.extend_from_slice(s);
        out.push(0);
    }

    fn ole1(class: &[u8], native: &[u8]) -> Vec<u8> {
        let mut o = vec![0x01, 0x05, 0, 0, 2, 0, 0, 0];
        lpstr(&mut o, class);
        lpstr(&mut o, b"");
        lpstr(&mut o, b"");
        o.extend_from_slice(&(native.len() as u32).to_le_bytes());
        o.extend_from_slice(native);
        o
    }

    fn package(label: &[u8], content: &[u8]) -> Vec<u8> {
        let mut p = vec![2, 0];
        p.extend_from_slice(label);
        p.push(0);
        p.extend_from_slice(b"C:\\Users\\x\\Desktop\\eicar.com\0");
        p.extend_from_slice(&[0, 0, 3, 0]);
        let tmp = b"C:\\Temp\\eicar.com\0";
        p.extend_from_slice(&(tmp.len() as u32).to_le_bytes());
        p.extend_from_slice(tmp);
        p.extend_from_slice(&(content.len() as u32).to_le_bytes());
        p.extend_from_slice(content);
        p
    }

    fn hex_lines(d: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, b) in d.iter().enumerate() {
            out.extend_from_slice(format!("{b:02x}").as_bytes());
            if i % 32 == 31 {
                out.extend_from_slice(b"\r\n");
            }
        }
        out
    }

    fn rtf(objdata: &[u8]) -> Vec<u8> {
        let mut r = b"{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\pard Hello\\par{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata ".to_vec();
        r.extend_from_slice(objdata);
        r.extend_from_slice(b"}{\\result {\\pict\\wmetafile8 0102}}}\\par}");
        r
    }

    #[test]
    fn package_object() {
        let payload = ole1(b"Package", &package(b"eicar.com", EICAR));
        let file = rtf(&hex_lines(&payload));
        assert!(detect(&file));
        let w = walk(&file, "x.rtf");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        let f = w.containing(EICAR).unwrap();
        assert_eq!(f.chain, "eicar.com");
        assert_eq!(f.data, EICAR);
        assert!(f.issue.is_none());
    }

    #[test]
    fn ole2_object_is_recursed() {
        let inner = build(&[("Dir/eicar.com", EICAR)]);
        let payload = ole1(b"Word.Document.8", &inner);
        // Obfuscated: digits glued to the control word, junk groups and
        // control words inside the hex, and a \bin run.
        let h = hex_lines(&payload);
        let (a, b) = h.split_at(9);
        let mut body = a.to_vec();
        body.extend_from_slice(b"{\\*\\junk}\\par\n ");
        body.extend_from_slice(b);
        let mut file = b"{\\rtf1{\\object{\\*\\objdata".to_vec();
        file.extend_from_slice(&body);
        file.extend_from_slice(b"}}}");
        let w = walk(&file, "x.rtf");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert!(
            w.chains().contains(&"object-1!Dir/eicar.com"),
            "{:?}",
            w.chains()
        );

        let mut bin =
            format!("{{\\rtf1{{\\object{{\\*\\objdata \\bin{} ", payload.len()).into_bytes();
        bin.extend_from_slice(&payload);
        bin.extend_from_slice(b"}}}");
        let w = walk(&bin, "x.rtf");
        assert!(
            w.chains().contains(&"object-1!Dir/eicar.com"),
            "{:?}",
            w.chains()
        );
    }

    #[test]
    fn datastore_and_raw_payloads() {
        let file = b"{\\rtf1{\\*\\datastore 414243}{\\object{\\*\\objdata 4142434}}}";
        let w = walk(file, "x.rtf");
        assert_eq!(w.chains(), ["datastore-1", "object-1"]);
        assert_eq!(w.found[0].data, b"ABC");
        assert_eq!(w.found[1].data, b"ABC");
    }

    #[test]
    fn hostile_inputs() {
        // A million nested braces around an object.
        let mut deep = b"{\\rtf1".to_vec();
        deep.extend(std::iter::repeat_n(b'{', 1_000_000));
        deep.extend_from_slice(b"\\objdata 4142");
        let w = walk(&deep, "x.rtf");
        assert_eq!(w.found[0].data, b"AB");
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
        // A huge \bin, unbalanced closing braces.
        let w = walk(
            b"{\\rtf1}}}}{\\objdata \\bin99999999999999999999 ABC",
            "x.rtf",
        );
        assert_eq!(w.found[0].data, b"ABC");
        let w = walk(b"{\\rtf1{\\objdata \\bin-5 41}}", "x.rtf");
        assert_eq!(w.found[0].data, b"A");
        // Truncations and flips.
        let payload = ole1(b"Package", &package(b"../\x1b[2J\xff.com", EICAR));
        let file = rtf(&hex_lines(&payload));
        let w = walk(&file, "x.rtf");
        assert_eq!(w.found[0].chain, "../\u{1b}[2J\u{fffd}.com");
        for len in 0..file.len() {
            let _ = walk(&file[..len], "t");
        }
        for i in 0..file.len() {
            let mut m = file.clone();
            m[i] ^= 0x21;
            let _ = walk(&m, "t");
        }
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"just some text"));
        assert!(!detect(b"\x7fELF\x02\x01\x01\0"));
        assert!(!detect(b"{\"json\": true}"));
    }
}
