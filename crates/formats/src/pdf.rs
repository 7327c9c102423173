//! PDF documents: every stream, decoded.
//!
//! The cross-reference table is not used at all (it is often broken,
//! missing, or lies after incremental updates): objects are found by a
//! linear scan for `N G obj`. A stream's data ends at `/Length` when that
//! is a direct integer followed by `endstream`, else at the next
//! `endstream`. Streams are decoded through their filter chain
//! (FlateDecode, ASCIIHexDecode, ASCII85Decode, LZWDecode,
//! RunLengthDecode); image filters end the chain and hand out the image
//! data as it is. Streams are named `obj-N`; embedded files (`/Type
//! /EmbeddedFile`) are handed out after every other stream, named by the
//! `/UF` or `/F` of the file specification that points at them (also
//! inside object streams), else `embedded-N`.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use memchr::memmem;

use crate::{Counted, Ctx, Entry, Flow, Issue, Sink};

pub(crate) fn detect(data: &[u8]) -> bool {
    let head = &data[..data.len().min(1024)];
    memmem::find_iter(head, b"%PDF-").any(|i| head.get(i + 5).is_some_and(u8::is_ascii_digit))
}

/// Elements kept per array or dictionary; the rest are parsed and dropped.
const MAX_ELEMENTS: usize = 10_000;
/// Nesting kept; deeper structures are skipped without being parsed.
const MAX_NESTING: u32 = 32;

#[derive(Debug, Clone, PartialEq)]
enum Obj {
    Int(i64),
    Ref(u32),
    Name(Vec<u8>),
    Str(Vec<u8>),
    Array(Vec<Obj>),
    Dict(Vec<(Vec<u8>, Obj)>),
    Keyword(Vec<u8>),
    Other,
}

impl Obj {
    fn get(&self, key: &[u8]) -> Option<&Obj> {
        match self {
            Obj::Dict(d) => d.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn is_name(&self, name: &[u8]) -> bool {
        matches!(self, Obj::Name(n) if n == name)
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, 0 | 9 | 10 | 12 | 13 | 32)
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_ws(b) && !is_delim(b)
}

struct Lexer<'a> {
    d: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<u8> {
        self.d.get(self.pos).copied()
    }

    fn at(&self, s: &[u8]) -> bool {
        self.d.get(self.pos..).is_some_and(|r| r.starts_with(s))
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if is_ws(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn regular_run(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_regular) {
            self.pos += 1;
        }
        &self.d[start..self.pos]
    }

    /// Parses one object; always consumes at least one byte unless at the
    /// end of input.
    fn parse(&mut self, depth: u32) -> Obj {
        self.skip_ws();
        let Some(b) = self.peek() else {
            return Obj::Other;
        };
        match b {
            b'<' if self.at(b"<<") => {
                if depth >= MAX_NESTING {
                    self.skip_balanced();
                    return Obj::Other;
                }
                self.pos += 2;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek().is_none() {
                        break;
                    }
                    if self.at(b">>") {
                        self.pos += 2;
                        break;
                    }
                    let key = self.parse(depth + 1);
                    let Obj::Name(key) = key else {
                        continue;
                    };
                    self.skip_ws();
                    if self.at(b">>") {
                        break;
                    }
                    let value = self.parse(depth + 1);
                    if items.len() < MAX_ELEMENTS {
                        items.push((key, value));
                    }
                }
                Obj::Dict(items)
            }
            b'<' => {
                self.pos += 1;
                let mut out = Vec::new();
                let mut hi: Option<u8> = None;
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    if c == b'>' {
                        break;
                    }
                    if let Some(v) = hex_val(c) {
                        match hi.take() {
                            Some(h) => out.push(h << 4 | v),
                            None => hi = Some(v),
                        }
                    }
                }
                if let Some(h) = hi {
                    out.push(h << 4);
                }
                Obj::Str(out)
            }
            b'(' => {
                self.pos += 1;
                Obj::Str(self.literal())
            }
            b'[' => {
                if depth >= MAX_NESTING {
                    self.skip_balanced();
                    return Obj::Other;
                }
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        None => break,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        Some(b'>') if self.at(b">>") => break,
                        _ => {}
                    }
                    let v = self.parse(depth + 1);
                    if items.len() < MAX_ELEMENTS {
                        items.push(v);
                    }
                }
                Obj::Array(items)
            }
            b'/' => {
                self.pos += 1;
                Obj::Name(decode_name(self.regular_run()))
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                let tok = self.regular_run();
                let Some(n) = std::str::from_utf8(tok)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                else {
                    return Obj::Other;
                };
                // `N G R`?
                let save = self.pos;
                self.skip_ws();
                let gen_tok = self.regular_run();
                if !gen_tok.is_empty() && gen_tok.iter().all(u8::is_ascii_digit) {
                    self.skip_ws();
                    if self.regular_run() == b"R"
                        && let Ok(n) = u32::try_from(n)
                    {
                        return Obj::Ref(n);
                    }
                }
                self.pos = save;
                Obj::Int(n)
            }
            _ if is_regular(b) => Obj::Keyword(self.regular_run().to_vec()),
            _ => {
                // A stray delimiter.
                self.pos += 1;
                Obj::Other
            }
        }
    }

    /// A literal string after its `(`.
    fn literal(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut nest = 1usize;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'(' => {
                    nest += 1;
                    out.push(c);
                }
                b')' => {
                    nest -= 1;
                    if nest == 0 {
                        break;
                    }
                    out.push(c);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { break };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// Skips one balanced `[...]` or `<<...>>` without recursion.
    fn skip_balanced(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            if c == b'(' {
                self.pos += 1;
                self.literal();
                continue;
            }
            if self.at(b"<<") {
                depth += 1;
                self.pos += 2;
            } else if self.at(b">>") {
                depth = depth.saturating_sub(1);
                self.pos += 2;
            } else {
                if c == b'[' {
                    depth += 1;
                } else if c == b']' {
                    depth = depth.saturating_sub(1);
                }
                self.pos += 1;
            }
            if depth == 0 {
                break;
            }
        }
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A name with its `#xx` escapes resolved.
fn decode_name(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'#'
            && let (Some(h), Some(l)) = (
                raw.get(i + 1).copied().and_then(hex_val),
                raw.get(i + 2).copied().and_then(hex_val),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// A PDF text string (UTF-16 with a byte order mark, UTF-8, else
/// PDFDocEncoding read as Latin-1) as a String.
fn text_string(s: &[u8]) -> String {
    let utf16 = |be: bool| {
        let units: Vec<u16> = s[2..]
            .chunks_exact(2)
            .map(|c| {
                if be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    if s.starts_with(&[0xFE, 0xFF]) {
        utf16(true)
    } else if s.starts_with(&[0xFF, 0xFE]) {
        utf16(false)
    } else if let Ok(t) = std::str::from_utf8(s.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(s)) {
        t.to_string()
    } else {
        s.iter().map(|&b| b as char).collect()
    }
}

/// Records the names of embedded files from every file specification
/// (a dictionary with `/EF`) inside `obj`: target object -> name.
fn filespecs(obj: &Obj, names: &mut HashMap<u32, String>) {
    match obj {
        Obj::Dict(items) => {
            if let Some(ef) = obj.get(b"EF") {
                let name = [b"UF".as_slice(), b"F", b"DOS", b"Unix", b"Mac"]
                    .iter()
                    .find_map(|k| match obj.get(k) {
                        Some(Obj::Str(s)) if !s.is_empty() => Some(text_string(s)),
                        _ => None,
                    });
                if let (Some(name), Obj::Dict(refs)) = (name, ef) {
                    for (_, v) in refs {
                        if let Obj::Ref(n) = v {
                            names.entry(*n).or_insert_with(|| name.clone());
                        }
                    }
                }
            }
            for (_, v) in items {
                filespecs(v, names);
            }
        }
        Obj::Array(items) => items.iter().for_each(|v| filespecs(v, names)),
        _ => {}
    }
}

/// A stream found by the scan.
struct Stream {
    num: u32,
    dict: Obj,
    start: usize,
    end: usize,
    /// No `endstream`: the data runs to the end of the file.
    truncated: bool,
}

/// Finds `N G obj` at `p` (the position of `obj`): the object number.
fn object_number(d: &[u8], p: usize) -> Option<u32> {
    if d.get(p + 3).is_some_and(|&b| is_regular(b)) {
        return None;
    }
    let mut i = p;
    let digits_back = |i: &mut usize| {
        let end = *i;
        while *i > 0 && d[*i - 1].is_ascii_digit() && end - *i < 10 {
            *i -= 1;
        }
        (*i < end).then_some(*i..end)
    };
    while i > 0 && is_ws(d[i - 1]) && p - i < 64 {
        i -= 1;
    }
    digits_back(&mut i)?;
    let ws_end = i;
    while i > 0 && is_ws(d[i - 1]) && ws_end - i < 64 {
        i -= 1;
    }
    if i == ws_end {
        return None;
    }
    let num = digits_back(&mut i)?;
    if i > 0 && is_regular(d[i - 1]) {
        return None;
    }
    std::str::from_utf8(&d[num]).ok()?.parse().ok()
}

/// Filters of a stream, names normalized; and the LZW early change flag.
fn filters(dict: &Obj) -> (Vec<Vec<u8>>, Vec<Option<&Obj>>) {
    let names = match dict.get(b"Filter") {
        Some(Obj::Name(n)) => vec![n.clone()],
        Some(Obj::Array(a)) => a
            .iter()
            .filter_map(|o| match o {
                Obj::Name(n) => Some(n.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let parms = match dict.get(b"DecodeParms") {
        Some(Obj::Array(a)) => (0..names.len()).map(|i| a.get(i)).collect(),
        Some(p @ Obj::Dict(_)) => vec![Some(p); names.len()],
        _ => vec![None; names.len()],
    };
    (names, parms)
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut streams: Vec<Stream> = Vec::new();
    let mut encrypted = false;
    let mut truncated_at_end = false;

    // Objects, linearly.
    let finder = memmem::Finder::new(b"obj");
    let endstream = memmem::Finder::new(b"endstream");
    let mut pos = 0usize;
    let mut steps = 0u32;
    while let Some(rel) = finder.find(data.get(pos..).unwrap_or(&[])) {
        let p = pos + rel;
        pos = p + 3;
        steps = steps.wrapping_add(1);
        if steps.is_multiple_of(256) {
            ctx.check_time()?;
        }
        let Some(num) = object_number(data, p) else {
            continue;
        };
        let mut lx = Lexer { d: data, pos };
        let body = lx.parse(0);
        pos = lx.pos.max(pos);
        lx.skip_ws();
        if !matches!(body, Obj::Dict(_)) || !lx.at(b"stream") {
            filespecs(&body, &mut names);
            continue;
        }
        if body.get(b"Type").is_some_and(|t| t.is_name(b"XRef")) && body.get(b"Encrypt").is_some() {
            encrypted = true;
        }
        let mut start = lx.pos + 6;
        if data.get(start..start + 2) == Some(b"\r\n") {
            start += 2;
        } else if matches!(data.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        // Trust /Length only when `endstream` follows it.
        let by_length = match body.get(b"Length") {
            Some(&Obj::Int(n)) if n >= 0 => usize::try_from(n).ok().and_then(|n| {
                let end = start.checked_add(n)?;
                let mut after = end;
                while data.get(after).is_some_and(|&b| is_ws(b)) && after - end < 4 {
                    after += 1;
                }
                data.get(after..)?
                    .starts_with(b"endstream")
                    .then_some((end, after + 9))
            }),
            _ => None,
        };
        let (end, next, truncated) = match by_length {
            Some((end, next)) => (end, next, false),
            None => match endstream.find(data.get(start..).unwrap_or(&[])) {
                Some(r) => {
                    let found = start + r;
                    let mut end = found;
                    if end > start && data[end - 1] == b'\n' {
                        end -= 1;
                    }
                    if end > start && data[end - 1] == b'\r' {
                        end -= 1;
                    }
                    (end, found + 9, false)
                }
                None => (data.len(), data.len(), true),
            },
        };
        truncated_at_end |= truncated;
        streams.push(Stream {
            num,
            dict: body,
            start: start.min(end),
            end,
            truncated,
        });
        pos = next;
    }

    // Trailers outside stream data: only /Encrypt matters.
    let mut pos = 0;
    while let Some(rel) = memmem::find(data.get(pos..).unwrap_or(&[]), b"trailer") {
        let p = pos + rel;
        pos = p + 7;
        let i = streams.partition_point(|s| s.start <= p);
        if i > 0 && p < streams[i - 1].end {
            pos = pos.max(streams[i - 1].end);
            continue;
        }
        let mut lx = Lexer { d: data, pos };
        lx.skip_ws();
        if !lx.at(b"<<") {
            continue;
        }
        if lx.parse(0).get(b"Encrypt").is_some() {
            encrypted = true;
        }
        // Never parse the same bytes twice.
        pos = pos.max(lx.pos);
    }
    if encrypted {
        return Err(Issue::encrypted(
            "pdf: the document is encrypted (/Encrypt in its trailer); its streams were not decrypted",
        ));
    }

    // Every stream but embedded files, in file order.
    let mut embedded = Vec::new();
    for (i, s) in streams.iter().enumerate() {
        ctx.check_time()?;
        if s.dict
            .get(b"Type")
            .is_some_and(|t| t.is_name(b"EmbeddedFile"))
        {
            embedded.push(i);
            continue;
        }
        let entry = decode(data, s, format!("obj-{}", s.num), ctx);
        if s.dict.get(b"Type").is_some_and(|t| t.is_name(b"ObjStm")) {
            let first = match s.dict.get(b"First") {
                Some(&Obj::Int(n)) => usize::try_from(n).unwrap_or(0),
                _ => 0,
            };
            let mut lx = Lexer {
                d: &entry.data,
                pos: first.min(entry.data.len()),
            };
            let mut count = 0u32;
            while lx.pos < lx.d.len() {
                count = count.wrapping_add(1);
                if count.is_multiple_of(256) {
                    ctx.check_time()?;
                }
                let before = lx.pos;
                let o = lx.parse(0);
                filespecs(&o, &mut names);
                if lx.pos == before {
                    lx.pos += 1;
                }
            }
        }
        if sink(ctx, entry) == Flow::Stop {
            return Ok(());
        }
    }
    for i in embedded {
        ctx.check_time()?;
        let s = &streams[i];
        let name = names
            .get(&s.num)
            .cloned()
            .unwrap_or_else(|| format!("embedded-{}", s.num));
        let entry = decode(data, s, name, ctx);
        if sink(ctx, entry) == Flow::Stop {
            return Ok(());
        }
    }
    if truncated_at_end {
        return Err(Issue::corrupt(
            "pdf: the last stream has no endstream (truncated file?)",
        ));
    }
    Ok(())
}

/// Decodes one stream through its filters.
fn decode<'a>(data: &'a [u8], s: &Stream, name: String, ctx: &mut Ctx) -> Entry<'a> {
    let raw = data.get(s.start..s.end).unwrap_or(&[]);
    let (names, parms) = filters(&s.dict);
    let packed = Cell::new(0);
    let mut reader: Box<dyn Read + '_> = Box::new(Counted::new(raw, &packed));
    let mut decoding = 0usize;
    let mut issue = None;
    for (f, p) in names.iter().zip(parms) {
        reader = match f.as_slice() {
            b"FlateDecode" | b"Fl" => flate(reader),
            b"ASCIIHexDecode" | b"AHx" => Box::new(ByteFilter::new(reader, Hex::default())),
            b"ASCII85Decode" | b"A85" => Box::new(ByteFilter::new(reader, A85::default())),
            b"RunLengthDecode" | b"RL" => Box::new(ByteFilter::new(reader, RunLength::default())),
            b"LZWDecode" | b"LZW" => {
                let early = !matches!(p.and_then(|p| p.get(b"EarlyChange")), Some(Obj::Int(0)));
                Box::new(Lzw::new(reader, early))
            }
            b"Crypt" => reader,
            b"DCTDecode" | b"DCT" | b"JPXDecode" | b"JBIG2Decode" | b"CCITTFaxDecode" | b"CCF" => {
                break;
            }
            other => {
                issue = Some(Issue::unsupported(format!(
                    "pdf: object {} uses the filter /{}, not decoded",
                    s.num,
                    String::from_utf8_lossy(other)
                )));
                break;
            }
        };
        decoding += 1;
    }
    if s.truncated && issue.is_none() {
        issue = Some(Issue::corrupt(format!(
            "pdf: the stream of object {} has no endstream",
            s.num
        )));
    }
    if decoding == 0 {
        let mut e = Entry::new(name, raw);
        e.issue = issue;
        return e;
    }
    let e = ctx.expand(&mut reader, &packed);
    let mut entry = Entry::expanded(name, e);
    if entry.issue.is_none() {
        entry.issue = issue;
    }
    entry
}

/// A reader that ends quietly at an error once it has produced output:
/// PDF writers leave bad checksums and trailing garbage behind.
struct Lenient<R> {
    inner: R,
    produced: bool,
}

impl<R: Read> Read for Lenient<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.produced |= n > 0;
                Ok(n)
            }
            Err(_) if self.produced => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// zlib, or raw deflate when the zlib header is missing.
fn flate<'a>(inner: Box<dyn Read + 'a>) -> Box<dyn Read + 'a> {
    let mut br = BufReader::new(inner);
    let zlib = match br.fill_buf() {
        Ok([a, b, ..]) => a & 0x0F == 8 && (u16::from(*a) << 8 | u16::from(*b)) % 31 == 0,
        _ => true,
    };
    if zlib {
        Box::new(Lenient {
            inner: flate2::bufread::ZlibDecoder::new(br),
            produced: false,
        })
    } else {
        Box::new(Lenient {
            inner: flate2::bufread::DeflateDecoder::new(br),
            produced: false,
        })
    }
}

/// A byte-at-a-time decoder.
trait Codec {
    /// Decodes one byte; true at the end-of-data marker.
    fn push(&mut self, b: u8, out: &mut Vec<u8>) -> bool;
    /// Flushes a partial group at the end.
    fn finish(&mut self, out: &mut Vec<u8>);
}

struct ByteFilter<R, C> {
    inner: R,
    codec: C,
    out: Vec<u8>,
    pos: usize,
    ended: bool,
    buf: Vec<u8>,
}

impl<R: Read, C: Codec> ByteFilter<R, C> {
    fn new(inner: R, codec: C) -> Self {
        ByteFilter {
            inner,
            codec,
            out: Vec::new(),
            pos: 0,
            ended: false,
            buf: vec![0; 8192],
        }
    }
}

impl<R: Read, C: Codec> Read for ByteFilter<R, C> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.ended {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            let n = self.inner.read(&mut self.buf)?;
            if n == 0 {
                self.codec.finish(&mut self.out);
                self.ended = true;
                continue;
            }
            for &b in &self.buf[..n] {
                if self.codec.push(b, &mut self.out) {
                    self.codec.finish(&mut self.out);
                    self.ended = true;
                    break;
                }
            }
        }
    }
}

#[derive(Default)]
struct Hex {
    hi: Option<u8>,
}

impl Codec for Hex {
    fn push(&mut self, b: u8, out: &mut Vec<u8>) -> bool {
        if b == b'>' {
            return true;
        }
        if let Some(v) = hex_val(b) {
            match self.hi.take() {
                Some(h) => out.push(h << 4 | v),
                None => self.hi = Some(v),
            }
        }
        false
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if let Some(h) = self.hi.take() {
            out.push(h << 4);
        }
    }
}

#[derive(Default)]
struct A85 {
    acc: u32,
    count: u8,
    /// Nothing but whitespace and a `<` seen yet: `<~` may open the data.
    seen: bool,
    lt: bool,
}

impl Codec for A85 {
    fn push(&mut self, b: u8, out: &mut Vec<u8>) -> bool {
        if is_ws(b) {
            return false;
        }
        if !self.seen && b == b'<' {
            self.lt = true;
            return false;
        }
        if self.lt && b == b'~' && !self.seen {
            self.lt = false;
            self.seen = true;
            return false;
        }
        self.seen = true;
        match b {
            b'~' => true,
            b'z' if self.count == 0 => {
                out.extend_from_slice(&[0; 4]);
                false
            }
            b'!'..=b'u' => {
                self.acc = self.acc.wrapping_mul(85).wrapping_add(u32::from(b - b'!'));
                self.count += 1;
                if self.count == 5 {
                    out.extend_from_slice(&self.acc.to_be_bytes());
                    self.acc = 0;
                    self.count = 0;
                }
                false
            }
            _ => false,
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.count > 1 {
            let n = self.count as usize - 1;
            for _ in self.count..5 {
                self.acc = self.acc.wrapping_mul(85).wrapping_add(84);
            }
            out.extend_from_slice(&self.acc.to_be_bytes()[..n]);
        }
        self.count = 0;
    }
}

#[derive(Default)]
enum RunLength {
    #[default]
    Length,
    Copy(u8),
    Repeat(u8),
}

impl Codec for RunLength {
    fn push(&mut self, b: u8, out: &mut Vec<u8>) -> bool {
        *self = match *self {
            RunLength::Length => match b {
                128 => return true,
                0..=127 => RunLength::Copy(b + 1),
                _ => RunLength::Repeat((257 - u16::from(b)) as u8),
            },
            RunLength::Copy(n) => {
                out.push(b);
                if n > 1 {
                    RunLength::Copy(n - 1)
                } else {
                    RunLength::Length
                }
            }
            RunLength::Repeat(n) => {
                out.extend(std::iter::repeat_n(b, n as usize));
                RunLength::Length
            }
        };
        false
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

/// LZWDecode through weezl (MSB first, 8-bit codes, early change unless
/// `/EarlyChange 0`).
struct Lzw<R> {
    inner: R,
    dec: weezl::decode::Decoder,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    done: bool,
}

impl<R: Read> Lzw<R> {
    fn new(inner: R, early: bool) -> Lzw<R> {
        let dec = if early {
            weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
        } else {
            weezl::decode::Decoder::new(weezl::BitOrder::Msb, 8)
        };
        Lzw {
            inner,
            dec,
            buf: vec![0; 8192],
            start: 0,
            end: 0,
            eof: false,
            done: false,
        }
    }
}

impl<R: Read> Read for Lzw<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.done {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                self.end = self.inner.read(&mut self.buf)?;
                self.start = 0;
                self.eof = self.end == 0;
            }
            let r = self.dec.decode_bytes(&self.buf[self.start..self.end], out);
            self.start += r.consumed_in;
            match r.status {
                Ok(weezl::LzwStatus::Done) => self.done = true,
                Ok(weezl::LzwStatus::NoProgress) if self.eof => self.done = true,
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    if r.consumed_out == 0 {
                        return Err(std::io::Error::other(format!("LZW: {e}")));
                    }
                }
            }
            if r.consumed_out > 0 {
                return Ok(r.consumed_out);
            }
            if self.eof && r.consumed_in == 0 {
                self.done = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, walk, walk_with};
    use crate::{IssueKind, Limits, RATIO_FLOOR};
    use std::io::Write;

    fn zlib(d: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    fn hex(d: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, b) in d.iter().enumerate() {
            out.extend_from_slice(format!("{b:02x}").as_bytes());
            if i % 16 == 15 {
                out.extend_from_slice(b"\r\n ");
            }
        }
        out.push(b'>');
        out
    }

    fn a85(d: &[u8]) -> Vec<u8> {
        let mut out = b"<~".to_vec();
        for chunk in d.chunks(4) {
            let mut b = [0u8; 4];
            b[..chunk.len()].copy_from_slice(chunk);
            let mut v = u32::from_be_bytes(b);
            if v == 0 && chunk.len() == 4 {
                out.push(b'z');
                continue;
            }
            let mut c = [0u8; 5];
            for i in (0..5).rev() {
                c[i] = (v % 85) as u8 + b'!';
                v /= 85;
            }
            out.extend_from_slice(&c[..chunk.len() + 1]);
        }
        out.extend_from_slice(b"~>");
        out
    }

    fn runlength(d: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in d.chunks(100) {
            out.push(c.len() as u8 - 1);
            out.extend_from_slice(c);
        }
        // A repeat run too.
        out.extend_from_slice(&[254, b'!', 128]);
        out
    }

    fn lzw(d: &[u8]) -> Vec<u8> {
        weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(d)
            .unwrap()
    }

    /// Assembles a PDF: (number, dictionary or body, stream data).
    type Object<'a> = (u32, &'a [u8], Option<&'a [u8]>);

    fn pdf(objs: &[Object<'_>], trailer: &[u8]) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        for (n, dict, stream) in objs {
            out.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
            out.extend_from_slice(dict);
            if let Some(s) = stream {
                out.extend_from_slice(b"\nstream\r\n");
                out.extend_from_slice(s);
                out.extend_from_slice(b"\r\nendstream");
            }
            out.extend_from_slice(b"\nendobj\n");
        }
        out.extend_from_slice(b"xref\n0 1\n0000000000 65535 f \ntrailer\n");
        out.extend_from_slice(trailer);
        out.extend_from_slice(b"\nstartxref\n0\n%%EOF\n");
        out
    }

    fn dict(filter: &str, data: &[u8]) -> Vec<u8> {
        format!("<< /Length {} /Filter {filter} >>", data.len()).into_bytes()
    }

    #[test]
    fn filters_decode() {
        let payload = [b"%JS app.alert(1);".as_slice(), EICAR].concat();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("/FlateDecode", zlib(&payload)),
            ("/Fl#61teDecode", zlib(&payload)),
            ("/ASCIIHexDecode", hex(&payload)),
            ("/ASCII85Decode", a85(&payload)),
            ("[/ASCII85Decode /FlateDecode]", a85(&zlib(&payload))),
            ("[/AHx /LZW]", hex(&lzw(&payload))),
            ("/RunLengthDecode", runlength(&payload)),
            ("[/FlateDecode /RL /A85]", zlib(&runlength(&a85(&payload)))),
        ];
        for (filter, data) in cases {
            let d = dict(filter, &data);
            let file = pdf(&[(7, &d, Some(&data))], b"<< /Root 1 0 R >>");
            assert!(detect(&file));
            let w = walk(&file, "x.pdf");
            assert!(w.issues.is_empty(), "{filter}: {:?}", w.issues);
            let f = w
                .containing(EICAR)
                .unwrap_or_else(|| panic!("{filter}: {:?}", w.found));
            assert_eq!(f.chain, "obj-7");
            assert!(f.issue.is_none(), "{filter}: {:?}", f.issue);
            if filter == "/RunLengthDecode" {
                assert_eq!(f.data, [payload.as_slice(), b"!!!"].concat());
            } else {
                assert_eq!(f.data, payload, "{filter}");
            }
        }
    }

    #[test]
    fn embedded_files_are_named_by_their_filespec() {
        let inner_data = zlib(EICAR);
        let inner = pdf(
            &[(1, &dict("/FlateDecode", &inner_data), Some(&inner_data))],
            b"<< >>",
        );
        let packed = zlib(&inner);
        let ef = format!(
            "<< /Type /EmbeddedFile /Length {} /Filter /FlateDecode >>",
            packed.len()
        );
        // A second file, its filespec inside an object stream, named in UTF-16.
        let objstm_body = b"9 0 << /Type /Filespec /F (old.bin) /UF <FEFF0061002E006500780065> /EF << /F 10 0 R >> >>";
        let objstm = zlib(objstm_body);
        let objstm_dict = format!(
            "<< /Type /ObjStm /N 1 /First 4 /Length {} /Filter /FlateDecode >>",
            objstm.len()
        );
        let file = pdf(
            &[
                (3, ef.as_bytes(), Some(&packed)),
                (
                    2,
                    b"<< /Type /Filespec /F (inner.pdf) /EF << /F 3 0 R >> >>",
                    None,
                ),
                (10, b"<< /Type /EmbeddedFile /Length 5 >>", Some(b"hello")),
                (11, objstm_dict.as_bytes(), Some(&objstm)),
                (12, b"<< /Type /EmbeddedFile /Length 3 >>", Some(b"abc")),
            ],
            b"<< /Root 1 0 R >>",
        );
        let w = walk(&file, "x.pdf");
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(
            w.chains(),
            [
                "obj-11",
                "inner.pdf",
                "inner.pdf!obj-1",
                "a.exe",
                "embedded-12"
            ]
        );
        assert!(
            w.found
                .iter()
                .any(|f| f.chain == "inner.pdf!obj-1" && f.data == EICAR)
        );
    }

    #[test]
    fn lying_lengths() {
        let data = zlib(EICAR);
        for len in ["999999", "-5", "3", "4 0 R", "0"] {
            let d = format!("<< /Length {len} /Filter /FlateDecode >>");
            let file = pdf(
                &[(1, d.as_bytes(), Some(&data)), (4, b"12", None)],
                b"<< >>",
            );
            let w = walk(&file, "x.pdf");
            let f = w.containing(EICAR).unwrap_or_else(|| panic!("{len}"));
            assert_eq!(f.chain, "obj-1");
        }
        // A stream without endstream runs to the end of the file.
        let mut file = b"%PDF-1.4\n1 0 obj << /Length 999 >> stream\n".to_vec();
        file.extend_from_slice(EICAR);
        let w = walk(&file, "x.pdf");
        assert_eq!(w.containing(EICAR).unwrap().chain, "obj-1");
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
    }

    #[test]
    fn flate_bomb_stops_at_limit() {
        let zeros = vec![0u8; 40 << 20];
        let bomb = zlib(&zeros);
        drop(zeros);
        let file = pdf(&[(1, &dict("/FlateDecode", &bomb), Some(&bomb))], b"<< >>");
        let w = walk(&file, "bomb.pdf");
        let f = &w.found[0];
        assert_eq!(
            f.issue.as_ref().unwrap().kind,
            IssueKind::Limit("max-ratio")
        );
        assert!(f.data.len() as u64 <= RATIO_FLOOR + (64 << 10));
        // And at the member size.
        let limits = Limits {
            max_member_size: 1 << 20,
            ..Limits::default()
        };
        let w = walk_with(&file, "bomb.pdf", &limits);
        assert_eq!(w.found[0].data.len(), 1 << 20);
    }

    #[test]
    fn encrypted_is_reported() {
        let data = zlib(EICAR);
        let d = dict("/FlateDecode", &data);
        let file = pdf(
            &[(1, &d, Some(&data))],
            b"<< /Encrypt 5 0 R /ID [<00><00>] >>",
        );
        let w = walk(&file, "x.pdf");
        assert!(w.found.is_empty());
        assert_eq!(w.issues[0].1.kind, IssueKind::Encrypted);
        // A trailer inside stream data does not count.
        let fake = b"trailer << /Encrypt 5 0 R >>";
        let d = format!("<< /Length {} >>", fake.len());
        let file = pdf(&[(1, d.as_bytes(), Some(fake))], b"<< >>");
        let w = walk(&file, "x.pdf");
        assert!(w.issues.is_empty());
        assert_eq!(w.found.len(), 1);
    }

    #[test]
    fn names_come_through() {
        let file = pdf(
            &[
                (1, b"<< /Type /EmbeddedFile /Length 3 >>", Some(b"abc")),
                (2, b"<< /F (../\\033[2J\\377x) /EF << /F 1 0 R >> >>", None),
            ],
            b"<< >>",
        );
        let w = walk(&file, "x.pdf");
        assert_eq!(w.chains(), ["../\u{1b}[2J\u{ff}x"]);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let data = zlib(EICAR);
        let file = pdf(
            &[
                (1, &dict("[/A85 /Fl]", &a85(&data)), Some(&a85(&data))),
                (2, b"<< /F (a) /EF << /F 3 0 R >> >>", None),
                (3, &dict("/LZW", &lzw(EICAR)), Some(&lzw(EICAR))),
                (4, &dict("/RL", &runlength(EICAR)), Some(&runlength(EICAR))),
            ],
            b"<< >>",
        );
        for len in 0..file.len() {
            let _ = walk(&file[..len], "t");
        }
        for i in 0..file.len() {
            let mut m = file.clone();
            m[i] ^= 0x55;
            let _ = walk(&m, "t");
        }
        // Deep nesting, unclosed everything, many trailers.
        let mut deep = b"%PDF-1.4\n1 0 obj ".to_vec();
        deep.extend(std::iter::repeat_n(b'[', 1_000_000));
        deep.extend(std::iter::repeat_n(b"<<", 100_000).flatten());
        deep.extend(std::iter::repeat_n(b"trailer<<(".as_slice(), 100_000).flatten());
        let w = walk(&deep, "t");
        assert!(w.found.is_empty());
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"just some text about %PDF files"));
        assert!(!detect(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"));
        let mut late = vec![b' '; 2000];
        late.extend_from_slice(b"%PDF-1.4");
        assert!(!detect(&late));
        assert!(detect(b"junk%PDF-1.4\n"));
    }
}
