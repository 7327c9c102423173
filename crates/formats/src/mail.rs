//! MIME mail (RFC 5322 / 2045 / 2046), mbox mailboxes and uuencoded files.
//!
//! An own parser rather than a mail crate: it keeps 7bit/8bit/binary parts
//! as slices of the input, and it decides itself how to read the malformed
//! mail that real mail is (bare LF, missing closing boundary, padding after
//! a boundary, broken base64, headers without a body and bodies without
//! headers). Every leaf part of the MIME tree is one entry; a
//! `message/rfc822` part is one entry holding the whole inner message,
//! which the engine then opens as mail again.
//!
//! The decoders here (base64, quoted-printable, uuencode, RFC 2047 / 2231
//! words) are shared with the BinHex, HTML and TNEF unpackers.

use std::borrow::Cow;

use memchr::{memchr, memmem};

use crate::{Ctx, Entry, Flow, Issue, Sink};

/// Multipart nesting deeper than this is handed out unsplit.
const MAX_MULTIPART_DEPTH: usize = 32;
/// Header fields kept per header block; further ones are skipped.
const MAX_HEADERS: usize = 1000;
/// Parameters kept per header field value.
const MAX_PARAMS: usize = 64;
/// RFC 2231 continuation sections joined per parameter.
const MAX_SECTIONS: u32 = 64;
/// Bytes looked at by [`detect_mail`].
const DETECT_WINDOW: usize = 16 << 10;
/// Bytes looked at by [`detect_uuencode`] for a `begin` line.
const UU_DETECT_WINDOW: usize = 4 << 10;

// ---------------------------------------------------------------- lines

/// The line starting at `pos`: `(start, end without the line break, start
/// of the next line)`.
fn line_at(data: &[u8], pos: usize) -> Option<(usize, usize, usize)> {
    let rest = data.get(pos..).filter(|r| !r.is_empty())?;
    let (mut end, next) = match memchr(b'\n', rest) {
        Some(i) => (pos + i, pos + i + 1),
        None => (data.len(), data.len()),
    };
    if end > pos && data.get(end - 1) == Some(&b'\r') {
        end -= 1;
    }
    Some((pos, end, next))
}

/// Iterates the lines of `data` as `(start, end, next)`, see [`line_at`].
fn lines(data: &[u8]) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let l = line_at(data, pos)?;
        pos = l.2;
        Some(l)
    })
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------- headers

/// How far into a line the colon of a header field is looked for.
const MAX_NAME_SCAN: usize = 200;

/// `v` with its RFC 5322 comments (`(...)`, nested, `\` escapes) taken
/// out, outside quoted strings. An unclosed comment runs to the end.
/// Each comment becomes one space where `space` is set (a comment is
/// white space between tokens), nothing otherwise.
fn strip_comments(v: &[u8], space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for &b in v {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(b);
            }
            continue;
        }
        match b {
            b'\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(b);
                }
            }
            b'"' if depth == 0 => {
                quoted = !quoted;
                out.push(b);
            }
            b'(' if !quoted => {
                if depth == 0 && space {
                    out.push(b' ');
                }
                depth += 1;
            }
            b')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(b),
        }
    }
    out
}

/// If `line` is `Name: value`, its name and value. White space before
/// the colon is tolerated, and so are RFC 5322 comments in or around the
/// name (`Content-Type (x):`, `Content-(x)Type:`), which no RFC allows
/// there but which mail clients read past: the name comes without them.
fn header_line(line: &[u8]) -> Option<(Cow<'_, [u8]>, &[u8])> {
    let head = line.get(..line.len().min(MAX_NAME_SCAN))?;
    let mut depth = 0usize;
    let mut commented = false;
    let mut colon = None;
    for (i, &b) in head.iter().enumerate() {
        match b {
            b'(' => {
                depth += 1;
                commented = true;
            }
            b')' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon = colon?;
    let raw = line.get(..colon)?;
    let value = line.get(colon + 1..)?;
    let name: Cow<'_, [u8]> = if commented {
        Cow::Owned(trim_ws(&strip_comments(raw, false)).to_vec())
    } else {
        let mut name = raw;
        while let [rest @ .., b' ' | b'\t'] = name {
            name = rest;
        }
        Cow::Borrowed(name)
    };
    if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
        return None;
    }
    Some((name, value))
}

/// A parsed header block: fields with unfolded values, and where the body
/// starts.
struct Headers<'a> {
    fields: Vec<(Cow<'a, [u8]>, Vec<u8>)>,
    body: usize,
}

impl Headers<'_> {
    /// Values of every field called `name`, in order.
    fn all<'h>(&'h self, name: &'h str) -> impl Iterator<Item = &'h [u8]> + 'h {
        let name = name.as_bytes();
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Reads the header block at the start of `data`. A first line that is
/// no header field means there are no headers (the whole is body); a
/// later line that is neither a field nor a continuation ends the headers
/// without the blank line.
fn parse_headers(data: &[u8]) -> Headers<'_> {
    let mut fields: Vec<(Cow<'_, [u8]>, Vec<u8>)> = Vec::new();
    let mut seen = 0usize;
    for (start, end, next) in lines(data) {
        let line = &data[start..end];
        if line.is_empty() {
            return Headers { fields, body: next };
        }
        if matches!(line.first(), Some(b' ' | b'\t')) && seen > 0 {
            if seen <= MAX_HEADERS
                && let Some((_, v)) = fields.last_mut()
            {
                v.extend_from_slice(line);
            }
            continue;
        }
        match header_line(line) {
            Some((name, value)) => {
                seen += 1;
                if seen <= MAX_HEADERS {
                    fields.push((name, value.to_vec()));
                }
            }
            None => {
                return Headers {
                    fields,
                    body: start,
                };
            }
        }
    }
    Headers {
        fields,
        body: data.len(),
    }
}

/// Splits a structured field value (`text/plain; charset="x"; name=y`)
/// into its lowercased leading value and its parameters (lowercased
/// names, unquoted values, in order, repeated ones kept). Read leniently:
/// white space inside the leading value goes (`multipart / mixed`), a
/// parameter without the semicolon before it (`multipart/mixed
/// boundary=x`) still counts, and so do empty parameters (`;;`) and white
/// space around the `=`.
fn parse_params(v: &[u8]) -> (String, Vec<(String, Vec<u8>)>) {
    let semi = memchr(b';', v).unwrap_or(v.len());
    let mut main_end = semi;
    if let Some(eq) = memchr(b'=', &v[..semi]) {
        // `type/sub name=value`: the leading value ends at the white
        // space before the name.
        let name_start = v[..eq]
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .and_then(|last| v[..last].iter().rposition(|b| b.is_ascii_whitespace()));
        main_end = name_start.unwrap_or(0);
    }
    let main: Vec<u8> = v[..main_end]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let mut main = lossy(&main).to_ascii_lowercase();
    let mut params = Vec::new();
    let mut i = main_end;
    while i < v.len() && params.len() < MAX_PARAMS {
        while i < v.len() && (v[i] == b';' || v[i].is_ascii_whitespace()) {
            i += 1;
        }
        let name_start = i;
        while i < v.len() && v[i] != b'=' && v[i] != b';' && !v[i].is_ascii_whitespace() {
            i += 1;
        }
        let name = lossy(&v[name_start..i]).to_ascii_lowercase();
        while i < v.len() && v[i].is_ascii_whitespace() {
            i += 1;
        }
        if v.get(i) != Some(&b'=') {
            // A token without a value; the leading value, when a
            // semicolon came before it (`;multipart/mixed`).
            if main.is_empty() && name.contains('/') {
                main = name.chars().filter(|c| !c.is_whitespace()).collect();
            }
            if i == name_start && i < v.len() && v[i] != b';' {
                i += 1;
            }
            continue;
        }
        i += 1; // '='
        while i < v.len() && v[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if v.get(i) == Some(&b'"') {
            i += 1;
            while i < v.len() && v[i] != b'"' {
                if v[i] == b'\\' && i + 1 < v.len() {
                    i += 1;
                }
                value.push(v[i]);
                i += 1;
            }
            i += 1; // closing quote (or past the end)
        } else {
            let s = i;
            while i < v.len() && v[i] != b';' {
                i += 1;
            }
            value.extend_from_slice(trim_ws(&v[s..i]));
        }
        if !name.is_empty() {
            params.push((name, value));
        }
    }
    (main, params)
}

/// Bytes in `charset` as text. UTF-8, ASCII, Latin-1 (and its Windows and
/// -15 relatives, approximately) and UTF-16 are converted; any other
/// charset is read as UTF-8, lossily.
pub(crate) fn charset_decode(charset: &str, bytes: &[u8]) -> String {
    let cs = charset.trim().to_ascii_lowercase();
    match cs.as_str() {
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1" | "windows-1252" | "cp1252"
        | "iso-8859-15" => bytes.iter().map(|&b| char::from(b)).collect(),
        "utf-16le" | "utf-16" => utf16(bytes, false),
        "utf-16be" => utf16(bytes, true),
        _ => lossy(bytes),
    }
}

pub(crate) fn utf16(bytes: &[u8], big: bool) -> String {
    let units = bytes.chunks_exact(2).map(|c| {
        if big {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?B?...?=`) in `v`; the rest is
/// read as UTF-8, lossily. White space between two encoded words goes.
fn decode_2047(v: &[u8]) -> String {
    if memmem::find(v, b"=?").is_none() {
        return lossy(v);
    }
    // Every `?=`, to find a word's end without rescanning.
    let closes: Vec<usize> = memmem::find_iter(v, b"?=").collect();
    let mut out = String::new();
    let mut plain = 0;
    let mut after_word = false;
    let mut i = 0;
    while let Some(off) = v.get(i..).and_then(|r| memmem::find(r, b"=?")) {
        let at = i + off;
        match encoded_word(v, at, &closes) {
            Some((text, end)) => {
                let between = &v[plain..at];
                if !(after_word && between.iter().all(|b| b.is_ascii_whitespace())) {
                    out.push_str(&String::from_utf8_lossy(between));
                }
                out.push_str(&text);
                after_word = true;
                plain = end;
                i = end;
            }
            None => i = at + 2,
        }
    }
    out.push_str(&String::from_utf8_lossy(&v[plain..]));
    out
}

/// The encoded word at `at` (`=?charset?enc?text?=`): its text and its end.
fn encoded_word(v: &[u8], at: usize, closes: &[usize]) -> Option<(String, usize)> {
    let cs_start = at + 2;
    let cs_len = memchr(b'?', v.get(cs_start..(cs_start + 64).min(v.len()))?)?;
    let charset = lossy(&v[cs_start..cs_start + cs_len]);
    let charset = charset.split('*').next().unwrap_or("");
    let enc = *v.get(cs_start + cs_len + 1)?;
    if v.get(cs_start + cs_len + 2) != Some(&b'?') {
        return None;
    }
    let text_start = cs_start + cs_len + 3;
    let k = closes.partition_point(|&c| c < text_start);
    let close = *closes.get(k)?;
    let text = &v[text_start..close];
    let bytes = match enc {
        b'B' | b'b' => base64_decode(text),
        b'Q' | b'q' => qp_decode(text, true),
        _ => return None,
    };
    Some((charset_decode(charset, &bytes), close + 2))
}

fn percent_decode_into(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && let (Some(h), Some(l)) = (
                s.get(i + 1).and_then(|&c| hex(c)),
                s.get(i + 2).and_then(|&c| hex(c)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// `%XX` escapes decoded; a `%` not followed by two hex digits stays.
pub(crate) fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    percent_decode_into(s, &mut out);
    out
}

/// The value of parameter `key`: RFC 2231 extended (`key*=utf-8''a%20b`)
/// and continued (`key*0*=`, `key*1=`) forms first, then the plain one
/// with RFC 2047 words decoded (which mailers put there against the RFC).
fn param_value(params: &[(String, Vec<u8>)], key: &str) -> Option<String> {
    let star = format!("{key}*");
    if let Some((_, v)) = params.iter().find(|(n, _)| *n == star) {
        return Some(ext_value(v, true));
    }
    let mut sections: Vec<(u32, bool, &[u8])> = params
        .iter()
        .filter_map(|(n, v)| {
            let rest = n.strip_prefix(star.as_str())?;
            let (num, ext) = match rest.strip_suffix('*') {
                Some(num) => (num, true),
                None => (rest, false),
            };
            let num: u32 = num.parse().ok()?;
            (num < MAX_SECTIONS).then_some((num, ext, v.as_slice()))
        })
        .collect();
    if sections.iter().any(|s| s.0 == 0) {
        sections.sort_by_key(|s| s.0);
        sections.dedup_by_key(|s| s.0);
        let mut charset = String::new();
        let mut bytes = Vec::new();
        for (num, ext, v) in sections {
            let mut v = v;
            if ext && num == 0 {
                let (cs, rest) = split_charset(v);
                charset = cs;
                v = rest;
            }
            if ext {
                percent_decode_into(v, &mut bytes);
            } else {
                bytes.extend_from_slice(v);
            }
        }
        return Some(charset_decode(&charset, &bytes));
    }
    params
        .iter()
        .find(|(n, _)| n == key)
        .map(|(_, v)| decode_2047(v))
}

/// `charset'language'rest` -> (charset, rest); without the two quotes, the
/// whole is the rest.
fn split_charset(v: &[u8]) -> (String, &[u8]) {
    if let Some(q1) = memchr(b'\'', v)
        && let Some(q2) = memchr(b'\'', &v[q1 + 1..])
    {
        return (lossy(&v[..q1]), &v[q1 + 1 + q2 + 1..]);
    }
    (String::new(), v)
}

fn ext_value(v: &[u8], with_charset: bool) -> String {
    let (charset, rest) = if with_charset {
        split_charset(v)
    } else {
        (String::new(), v)
    };
    charset_decode(&charset, &percent_decode(rest))
}

// ---------------------------------------------------------------- decoders

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lenient base64: characters outside the alphabet (standard or URL-safe)
/// are skipped; `=` ends the current quantum, and decoding goes on after it
/// (concatenated base64 blocks). Never longer than its input.
pub(crate) fn base64_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut n = 0u8;
    let flush = |acc: u32, n: u8, out: &mut Vec<u8>| match n {
        2 => out.push((acc >> 4) as u8),
        3 => {
            out.push((acc >> 10) as u8);
            out.push((acc >> 2) as u8);
        }
        _ => {}
    };
    for &b in input {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                flush(acc, n, &mut out);
                acc = 0;
                n = 0;
                continue;
            }
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    flush(acc, n, &mut out);
    out
}

/// Quoted-printable (RFC 2045 6.7): `=XX` escapes, soft line breaks
/// (`=` at the end of a line, white space after it tolerated); a stray `=`
/// stays as is. `underscore_space` is the RFC 2047 "Q" variant.
pub(crate) fn qp_decode(input: &[u8], underscore_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'=' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).and_then(|&c| hex(c)),
                input.get(i + 2).and_then(|&c| hex(c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            // Soft line break: '=' [spaces] (CR)? LF
            let mut j = i + 1;
            while matches!(input.get(j), Some(b' ' | b'\t')) {
                j += 1;
            }
            if input.get(j) == Some(&b'\r') {
                j += 1;
            }
            if input.get(j) == Some(&b'\n') {
                i = j + 1;
                continue;
            }
            if j >= input.len() {
                break;
            }
        } else if b == b'_' && underscore_space {
            out.push(b' ');
            i += 1;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// One uuencoded block found in a text.
struct UuBlock {
    name: String,
    data: Vec<u8>,
    /// The `end` (or `====`) line was found.
    complete: bool,
}

/// If `line` is `begin <octal mode> <name>` (or `begin-base64 ...`): the
/// name, and whether the block is base64.
fn uu_begin(line: &[u8]) -> Option<(&[u8], bool)> {
    let (rest, b64) = if let Some(r) = line.strip_prefix(b"begin-base64 ") {
        (r, true)
    } else {
        (line.strip_prefix(b"begin ")?, false)
    };
    let sp = memchr(b' ', rest)?;
    let mode = &rest[..sp];
    if !(1..=6).contains(&mode.len()) || !mode.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    let name = rest.get(sp + 1..)?;
    let mut name = name;
    while let [rest @ .., b' ' | b'\t'] = name {
        name = rest;
    }
    (!name.is_empty()).then_some((name, b64))
}

/// If `line` is a uuencoded data line, the bytes it holds. Lines whose
/// trailing spaces were stripped in transit decode as if padded, by at
/// most one group.
fn uu_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    let Some((&len_char, chars)) = line.split_first() else {
        return false;
    };
    if !(32..=96).contains(&len_char) || !chars.iter().all(|c| (32..=96).contains(c)) {
        return false;
    }
    let n = usize::from((len_char - 32) & 63);
    let n = n.min(chars.len().div_ceil(4) * 3 + 3);
    let val = |i: usize| u32::from(chars.get(i).map_or(0, |c| (c - 32) & 63));
    let mut produced = 0;
    let mut g = 0;
    while produced < n {
        let v = (val(g) << 18) | (val(g + 1) << 12) | (val(g + 2) << 6) | val(g + 3);
        for shift in [16, 8, 0] {
            if produced < n {
                out.push((v >> shift) as u8);
                produced += 1;
            }
        }
        g += 4;
    }
    true
}

/// Every uuencoded (or `begin-base64`) block in `text`, in order.
fn uu_blocks(
    text: &[u8],
    ctx: &mut Ctx,
    mut each: impl FnMut(&mut Ctx, UuBlock) -> Flow,
) -> Result<Flow, Issue> {
    let mut it = lines(text);
    while let Some((s, e, _)) = it.next() {
        let Some((name, b64)) = uu_begin(&text[s..e]) else {
            continue;
        };
        ctx.check_time()?;
        let name = lossy(name);
        let mut data = Vec::new();
        let mut complete = false;
        if b64 {
            for (s, e, _) in it.by_ref() {
                let line = &text[s..e];
                if trim_ws(line) == b"====" {
                    complete = true;
                    break;
                }
                data.extend_from_slice(line);
            }
            data = base64_decode(&data);
        } else {
            for (s, e, _) in it.by_ref() {
                let line = &text[s..e];
                if trim_ws(line) == b"end" {
                    complete = true;
                    break;
                }
                if line.is_empty() {
                    continue;
                }
                if !uu_line(line, &mut data) {
                    break;
                }
            }
        }
        if each(
            ctx,
            UuBlock {
                name,
                data,
                complete,
            },
        ) == Flow::Stop
        {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::Continue)
}

fn uu_entry(b: UuBlock, format: &str) -> Entry<'static> {
    let issue = (!b.complete).then(|| {
        Issue::corrupt(format!(
            "{format}: uuencoded block {:?} ends without its end line (truncated?)",
            b.name
        ))
    });
    Entry {
        name: b.name,
        data: Cow::Owned(b.data),
        issue,
    }
}

// ---------------------------------------------------------------- mail

/// Header fields that (nearly) only mail has.
const MAIL_FIELDS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "received",
    "return-path",
    "message-id",
    "mime-version",
    "content-transfer-encoding",
    "delivered-to",
    "reply-to",
    "in-reply-to",
    "references",
    "sender",
    "x-mailer",
    "dkim-signature",
    "authentication-results",
    "thread-topic",
    "x-original-to",
    "envelope-to",
];

/// A mail message: a header block at offset 0 with at least two fields
/// only mail has (From, To, Subject, Received, Message-ID, MIME-Version,
/// ...), ended by a blank line (or by the end of the looked-at window). A first line that is no header field (an HTTP
/// status line, a YAML document start) rules it out.
pub(crate) fn detect_mail(data: &[u8]) -> bool {
    let window = &data[..data.len().min(DETECT_WINDOW)];
    let mut fields = 0;
    let mut mail = 0;
    for (s, e, _) in lines(window) {
        let line = &window[s..e];
        if line.is_empty() {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if fields == 0 {
                return false;
            }
            continue;
        }
        let Some((name, _)) = header_line(line) else {
            // Only a window cut in mid-line may end the block like this.
            if e == window.len() && window.len() == DETECT_WINDOW {
                break;
            }
            return false;
        };
        fields += 1;
        if MAIL_FIELDS
            .iter()
            .any(|f| f.as_bytes().eq_ignore_ascii_case(&name))
        {
            mail += 1;
        }
    }
    mail >= 2
}

/// How far the walk of one message went.
#[derive(Default)]
struct MailState {
    /// Leaf parts seen so far (they are numbered from 1).
    leaf: u32,
    /// A multipart nested too deep was handed out unsplit.
    too_deep: bool,
    /// A multipart had no closing delimiter.
    unclosed: bool,
    /// Readings of a part at a boundary other than the first that split
    /// it, over the whole message.
    readings: u32,
    /// More readings were possible than [`MAX_READINGS`].
    readings_cut: bool,
}

/// Boundary values tried per part (after variants are added).
const MAX_BOUNDARIES: usize = 16;
/// Readings at a second, third, ... boundary of a part, per message: each
/// hands the bytes of the part out again, so they are bounded.
const MAX_READINGS: u32 = 16;
/// Longest boundary taken (RFC 2046 allows 70 characters; mailers
/// write longer ones, a line is at most 998).
const MAX_BOUNDARY_LEN: usize = 998;
/// Delimiter-like lines looked at when a multipart declares no boundary
/// that occurs in its body.
const MAX_GUESSES: usize = 4;

/// What the headers of a part say about its type.
struct PartType {
    /// The leading value of the first Content-Type field (comments out,
    /// lowercased); empty without one.
    mime: String,
    /// The parameters of that field, as written (for the part's name).
    params: Vec<(String, Vec<u8>)>,
    /// The first Content-Type field is a multipart one.
    multipart_first: bool,
    /// Some Content-Type field is a multipart one.
    multipart_any: bool,
    /// Every boundary the headers give, in the order they are tried.
    boundaries: Vec<Vec<u8>>,
}

/// Adds `v` and the readings of it other mail software may take to
/// `out`: as written, trimmed, without any white space, its first word.
fn push_boundary(out: &mut Vec<Vec<u8>>, v: &[u8]) {
    let trimmed = trim_ws(v);
    let squeezed: Vec<u8> = v
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let word = trimmed
        .split(|b| b.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    for c in [v, trimmed, &squeezed, word] {
        if out.len() >= MAX_BOUNDARIES {
            return;
        }
        if !c.is_empty() && c.len() <= MAX_BOUNDARY_LEN && !out.iter().any(|o| o == c) {
            out.push(c.to_vec());
        }
    }
}

/// Every `boundary` parameter of a field value, read with its comments
/// taken out and as written (a `(` in an unquoted boundary is either).
fn boundaries_of(v: &[u8], out: &mut Vec<Vec<u8>>) {
    for value in [strip_comments(v, true), v.to_vec()] {
        let (_, params) = parse_params(&value);
        for (n, b) in &params {
            if n == "boundary" {
                push_boundary(out, b);
            }
        }
        // RFC 2231 forms (`boundary*=''x`, `boundary*0=`).
        if params.iter().any(|(n, _)| n.starts_with("boundary*"))
            && let Some(b) = param_value(&params, "boundary")
        {
            push_boundary(out, b.as_bytes());
        }
    }
}

/// The type of a part. Mail software disagrees on which of several
/// Content-Type fields or `boundary` parameters counts (the first, the
/// last), so every boundary is kept: first those of multipart
/// Content-Type fields, then those of other Content-Type fields, then
/// those of Content-Disposition fields, where some mailers put them.
fn part_type(h: &Headers<'_>) -> PartType {
    let mut t = PartType {
        mime: String::new(),
        params: Vec::new(),
        multipart_first: false,
        multipart_any: false,
        boundaries: Vec::new(),
    };
    let mut others = Vec::new();
    for (i, v) in h.all("content-type").enumerate() {
        let (mime, _) = parse_params(&strip_comments(v, true));
        let multipart = mime.starts_with("multipart/");
        if i == 0 {
            t.multipart_first = multipart;
            t.params = parse_params(v).1;
            t.mime = mime;
        }
        t.multipart_any |= multipart;
        if multipart {
            boundaries_of(v, &mut t.boundaries);
        } else {
            others.push(v);
        }
    }
    for v in others {
        boundaries_of(v, &mut t.boundaries);
    }
    for v in h.all("content-disposition") {
        boundaries_of(v, &mut t.boundaries);
    }
    t
}

/// The Content-Transfer-Encoding of a part: the first field's first
/// word, comments out, lowercased.
fn transfer_encoding(h: &Headers<'_>) -> String {
    let Some(v) = h.all("content-transfer-encoding").next() else {
        return String::new();
    };
    let v = strip_comments(v, true);
    let word = trim_ws(&v)
        .split(|b| b.is_ascii_whitespace() || *b == b';')
        .next()
        .unwrap_or_default();
    lossy(word).to_ascii_lowercase()
}

/// If `line` is a delimiter of `boundary` (`--boundary`, transport
/// padding after it tolerated): whether it is the closing one.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    rest.iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then_some(close)
}

/// The body parts of a multipart body, and whether the closing delimiter
/// was there. No delimiter at all gives no parts.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> (Vec<&'a [u8]>, bool) {
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    let finder = memmem::Finder::new(boundary);
    for (s, e, next) in lines(body) {
        let line = &body[s..e];
        if !line.starts_with(b"--") || finder.find(line).is_none() {
            continue;
        }
        let Some(close) = delimiter(line, boundary) else {
            continue;
        };
        if let Some(o) = open {
            // The line break before a delimiter belongs to it.
            let mut end = s;
            if end > o && body.get(end - 1) == Some(&b'\n') {
                end -= 1;
                if end > o && body.get(end - 1) == Some(&b'\r') {
                    end -= 1;
                }
            }
            parts.push(&body[o..end.max(o)]);
        }
        if close {
            return (parts, true);
        }
        open = Some(next);
    }
    if let Some(o) = open {
        parts.push(&body[o.min(body.len())..]);
    }
    (parts, false)
}

/// Boundaries guessed from a multipart body none of whose declared
/// boundaries occur in it: the first few distinct `--x` lines, `x`
/// without a closing `--`.
fn guess_boundaries(body: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut at = 0;
    while out.len() < MAX_GUESSES {
        let Some((s, e, next)) = line_at(body, at) else {
            break;
        };
        at = next;
        let Some(rest) = body[s..e].strip_prefix(b"--") else {
            continue;
        };
        let mut b = trim_ws(rest);
        if let Some(open) = b.strip_suffix(b"--") {
            b = open;
        }
        if b.is_empty() || b.len() > MAX_BOUNDARY_LEN || b.iter().all(|&c| c == b'-') {
            continue;
        }
        if !out.iter().any(|o| o == b) {
            out.push(b.to_vec());
        }
    }
    out
}

/// The name an attachment gives itself: the Content-Disposition filename,
/// else the Content-Type name; each as written, else with comments out.
fn part_name(h: &Headers<'_>, ct_params: &[(String, Vec<u8>)]) -> Option<String> {
    let from_disp = h.all("content-disposition").find_map(|v| {
        param_value(&parse_params(v).1, "filename")
            .filter(|n| !n.is_empty())
            .or_else(|| param_value(&parse_params(&strip_comments(v, true)).1, "filename"))
    });
    from_disp
        .or_else(|| param_value(ct_params, "name"))
        .filter(|n| !n.is_empty())
}

fn walk_part(
    data: &[u8],
    depth: usize,
    st: &mut MailState,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<Flow, Issue> {
    ctx.check_time()?;
    let h = parse_headers(data);
    let body = data.get(h.body..).unwrap_or_default();
    let t = part_type(&h);
    let mut split = false;
    if !t.boundaries.is_empty() || t.multipart_any {
        if depth >= MAX_MULTIPART_DEPTH {
            st.too_deep |= t.multipart_any;
        } else {
            let mut candidates = t.boundaries;
            let mut guessed = false;
            let mut k = 0;
            loop {
                if k == candidates.len() {
                    // A multipart none of whose boundaries split it: the
                    // body's own delimiter lines tell.
                    if split || guessed || !t.multipart_any {
                        break;
                    }
                    guessed = true;
                    candidates.extend(guess_boundaries(body));
                }
                let Some(boundary) = candidates.get(k) else {
                    break;
                };
                k += 1;
                ctx.check_time()?;
                let (parts, closed) = split_multipart(body, boundary);
                if parts.is_empty() {
                    continue;
                }
                if split {
                    if st.readings >= MAX_READINGS {
                        st.readings_cut = true;
                        break;
                    }
                    st.readings += 1;
                }
                split = true;
                st.unclosed |= !closed;
                for p in parts {
                    if walk_part(p, depth + 1, st, ctx, sink)? == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
                if guessed {
                    break;
                }
            }
        }
    }
    // A part split as multipart is also one leaf when its first
    // Content-Type says it is not a multipart (either reading may be the
    // one a mail client shows).
    if split && t.multipart_first {
        return Ok(Flow::Continue);
    }
    st.leaf += 1;
    let n = st.leaf;
    let cte = transfer_encoding(&h);
    let named = part_name(&h, &t.params);
    let mime = t.mime;
    let is_text = mime.is_empty() || mime.starts_with("text/");
    let mut uu_named: Option<String> = None;
    let content: Cow<'_, [u8]> = match cte.as_str() {
        "base64" => Cow::Owned(base64_decode(body)),
        "quoted-printable" => Cow::Owned(qp_decode(body, false)),
        "x-uuencode" | "uuencode" | "x-uue" | "uue" => {
            let mut first = None;
            uu_blocks(body, ctx, |_, b| {
                first = Some(b);
                Flow::Stop
            })?;
            match first {
                Some(b) => {
                    uu_named = Some(b.name);
                    Cow::Owned(b.data)
                }
                None => Cow::Borrowed(body),
            }
        }
        _ => Cow::Borrowed(body),
    };
    let name = named.or(uu_named).unwrap_or_else(|| format!("part-{n}"));
    // A text that is a uuencoded file as a whole is opened by the engine
    // (detect_uuencode); blocks after other text are handed out here.
    let scan_uu =
        is_text && memmem::find(&content, b"begin").is_some() && !detect_uuencode(&content);
    let uu_source = if scan_uu { Some(content.clone()) } else { None };
    if sink(ctx, Entry::new(name, content)) == Flow::Stop {
        return Ok(Flow::Stop);
    }
    match uu_source {
        Some(text) => uu_blocks(&text, ctx, |ctx, b| sink(ctx, uu_entry(b, "mail"))),
        None => Ok(Flow::Continue),
    }
}

/// Unpacks one message: each leaf part in document order.
pub(crate) fn extract_mail(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut st = MailState::default();
    if walk_part(data, 0, &mut st, ctx, sink)? == Flow::Stop {
        return Ok(());
    }
    if st.too_deep {
        return Err(Issue::corrupt(format!(
            "mail: multipart parts nested deeper than {MAX_MULTIPART_DEPTH} levels; the deeper ones were handed out unsplit"
        )));
    }
    if st.unclosed {
        return Err(Issue::corrupt(
            "mail: a multipart body ends without its closing boundary (truncated?)",
        ));
    }
    if st.readings_cut {
        return Err(Issue::corrupt(format!(
            "mail: parts split at more than {MAX_READINGS} conflicting boundaries; the further readings were not tried"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- mbox

/// A `From ` separator line whose next line is a header field.
fn mbox_separator(data: &[u8], start: usize, end: usize, next: usize) -> bool {
    data.get(start..end)
        .is_some_and(|l| l.starts_with(b"From "))
        && line_at(data, next).is_some_and(|(s, e, _)| header_line(&data[s..e]).is_some())
}

/// An mbox: a `From ` line at offset 0 followed by a header field.
pub(crate) fn detect_mbox(data: &[u8]) -> bool {
    if !data.starts_with(b"From ") {
        return false;
    }
    let window = &data[..data.len().min(4096)];
    match line_at(window, 0) {
        Some((s, e, next)) => next < window.len() && mbox_separator(window, s, e, next),
        None => false,
    }
}

/// Unpacks an mbox: each message (without its `From ` line) is an entry
/// `message-N`. A `From ` line counts as a separator only when a header
/// field follows it; `>From ` quoting is left as is.
pub(crate) fn extract_mbox(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut n = 0u32;
    let mut open: Option<usize> = None;
    let mut emit = |ctx: &mut Ctx, a: usize, b: usize, n: &mut u32| -> Result<Flow, Issue> {
        ctx.check_time()?;
        *n += 1;
        let msg = data.get(a..b.max(a)).unwrap_or_default();
        Ok(sink(ctx, Entry::new(format!("message-{n}"), msg)))
    };
    for (s, e, next) in lines(data) {
        if !mbox_separator(data, s, e, next) {
            continue;
        }
        if let Some(o) = open {
            let mut end = s;
            if end > o && data.get(end - 1) == Some(&b'\n') {
                end -= 1;
                if end > o && data.get(end - 1) == Some(&b'\r') {
                    end -= 1;
                }
            }
            if emit(ctx, o, end, &mut n)? == Flow::Stop {
                return Ok(());
            }
        }
        open = Some(next);
    }
    match open {
        Some(o) => {
            emit(ctx, o, data.len(), &mut n)?;
            Ok(())
        }
        None => Err(Issue::corrupt("mbox: no message found")),
    }
}

// ---------------------------------------------------------------- uuencode

/// A uuencoded file: a `begin <mode> <name>` (or `begin-base64`) line as
/// the first line that is not blank (within the first 4 KiB), followed by
/// a data line. A `begin` line after other text is left to the format
/// that holds the text (mail opens them in text bodies).
pub(crate) fn detect_uuencode(data: &[u8]) -> bool {
    let window = &data[..data.len().min(UU_DETECT_WINDOW)];
    let mut it = lines(window);
    while let Some((s, e, _)) = it.next() {
        let line = &window[s..e];
        if trim_ws(line).is_empty() {
            continue;
        }
        if let Some((_, b64)) = uu_begin(line) {
            return match it.next() {
                Some((s, e, _)) => {
                    let line = &window[s..e];
                    if b64 {
                        !line.is_empty()
                            && line
                                .iter()
                                .all(|&c| c.is_ascii_alphanumeric() || b"+/=".contains(&c))
                    } else {
                        line.len() > 1 && uu_line(line, &mut Vec::new())
                    }
                }
                None => false,
            };
        }
        return false;
    }
    false
}

/// Unpacks every uuencoded block of a text, each named by its `begin` line.
pub(crate) fn extract_uuencode(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut any = false;
    uu_blocks(data, ctx, |ctx, b| {
        any = true;
        sink(ctx, uu_entry(b, "uuencode"))
    })?;
    if !any {
        return Err(Issue::corrupt("uuencode: no begin line found"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testutil::{EICAR, each_byte_flipped, random_bytes, walk, walk_with};
    use crate::{Format, IssueKind, Limits, identify};

    /// Standard base64 with line breaks every 76 characters.
    pub(crate) fn b64(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for (i, c) in data.chunks(3).enumerate() {
            if i > 0 && i % 19 == 0 {
                out.push('\n');
            }
            let v = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for k in 0..4 {
                if k <= c.len() {
                    out.push(A[(v >> (18 - 6 * k) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    pub(crate) fn uuencode(name: &str, data: &[u8]) -> String {
        let enc = |v: u32| (if v == 0 { b'`' } else { v as u8 + 32 }) as char;
        let mut out = format!("begin 644 {name}\n");
        for line in data.chunks(45) {
            out.push((line.len() as u8 + 32) as char);
            for c in line.chunks(3) {
                let v = (u32::from(c[0]) << 16)
                    | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*c.get(2).unwrap_or(&0));
                for k in 0..4 {
                    out.push(enc(v >> (18 - 6 * k) & 63));
                }
            }
            out.push('\n');
        }
        out.push_str("`\nend\n");
        out
    }

    fn crlf(s: &str) -> Vec<u8> {
        s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
    }

    fn eicar_mail(boundary_pad: &str, close: bool) -> String {
        let mut m = format!(
            "From: a@example.com\nTo: b@example.com\nSubject: test\nMIME-Version: 1.0\n\
             Content-Type: multipart/mixed; boundary=\"XYZ\"\n\n\
             This is a multi-part message.\n--XYZ{boundary_pad}\n\
             Content-Type: text/plain; charset=us-ascii\n\nHello.\n\
             --XYZ{boundary_pad}\nContent-Type: application/octet-stream; name=\"other.bin\"\n\
             Content-Disposition: attachment; filename=\"eicar.com\"\n\
             Content-Transfer-Encoding: base64\n\n{}\n",
            b64(EICAR)
        );
        if close {
            m.push_str("--XYZ--\nepilogue\n");
        }
        m
    }

    #[test]
    fn base64_attachment() {
        let m = eicar_mail("", true);
        assert!(detect_mail(m.as_bytes()));
        assert_eq!(identify(m.as_bytes()), Some(Format::Mail));
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.chains(), ["part-1", "eicar.com"]);
        assert_eq!(w.containing(EICAR).unwrap().data, EICAR);
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.found[0].data, b"Hello.");
        // CRLF line endings give the same.
        let w = walk(&crlf(&m), "m.eml");
        assert_eq!(w.chains(), ["part-1", "eicar.com"]);
        assert_eq!(w.containing(EICAR).unwrap().data, EICAR);
        assert_eq!(w.found[0].data, b"Hello.");
    }

    #[test]
    fn quoted_printable_part() {
        // '!' escaped, a soft line break in the middle.
        let e = std::str::from_utf8(EICAR).unwrap().replace('!', "=21");
        let (a, b) = e.split_at(20);
        let m = format!(
            "From: a@example.com\nSubject: qp\nContent-Type: text/plain\n\
             Content-Transfer-Encoding: quoted-printable\n\n{a}=\n{b}\n"
        );
        let w = walk(m.as_bytes(), "m.eml");
        let f = w.containing(EICAR).unwrap();
        assert_eq!(f.chain, "part-1");
        assert_eq!(f.data, [EICAR, b"\n"].concat());
    }

    #[test]
    fn uuencoded_block_in_text_body() {
        let m = format!(
            "From: a@example.com\nSubject: uu\n\nSee attached.\n\n{}\nBye.\n",
            uuencode("eicar.com", EICAR)
        );
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.chains(), ["part-1", "eicar.com"]);
        assert_eq!(w.found[1].data, EICAR);
        assert!(w.found[1].issue.is_none());
        // Same as an x-uuencode part.
        let m = format!(
            "From: a@example.com\nContent-Type: application/octet-stream\n\
             Content-Transfer-Encoding: x-uuencode\n\n{}",
            uuencode("eicar.com", EICAR)
        );
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.chains(), ["eicar.com"]);
        assert_eq!(w.found[0].data, EICAR);
    }

    #[test]
    fn nested_message_rfc822() {
        let inner = eicar_mail("", true);
        let m = format!(
            "From: c@example.com\nSubject: Fwd\nMIME-Version: 1.0\n\
             Content-Type: multipart/mixed; boundary=outer\n\n--outer\n\
             Content-Type: text/plain\n\nsee below\n--outer\n\
             Content-Type: message/rfc822\n\
             Content-Disposition: attachment; filename=forwarded.eml\n\n{inner}--outer--\n"
        );
        let w = walk(m.as_bytes(), "outer.eml");
        assert_eq!(
            w.containing(EICAR).unwrap().chain,
            "forwarded.eml!eicar.com"
        );
        assert_eq!(
            w.chains(),
            [
                "part-1",
                "forwarded.eml",
                "forwarded.eml!part-1",
                "forwarded.eml!eicar.com"
            ]
        );
        // And the whole again inside an mbox, as its second message.
        let mbox = format!(
            "From a@example.com Mon Jan  1 00:00:00 2024\nFrom: a@example.com\nSubject: one\n\n\
             first\nFrom here on, a body line that is no separator.\n\n\
             From c@example.com Mon Jan  1 00:00:01 2024\n{m}"
        );
        assert_eq!(identify(mbox.as_bytes()), Some(Format::Mbox));
        let w = walk(mbox.as_bytes(), "box");
        assert_eq!(
            w.containing(EICAR).unwrap().chain,
            "message-2!forwarded.eml!eicar.com"
        );
        assert_eq!(w.found.iter().filter(|f| !f.chain.contains('!')).count(), 2);
        assert_eq!(
            w.found[0].data,
            b"From: a@example.com\nSubject: one\n\nfirst\nFrom here on, a body line that is no separator.\n"
        );
    }

    #[test]
    fn names_encoded_and_hostile() {
        let esc = "\x1b[31m../evil.exe";
        let m = format!(
            "From: a@example.com\nTo: b@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
             Content-Type: application/octet-stream;\n name=\"=?utf-8?B?{}?=\"\n\
             Content-Transfer-Encoding: base64\n\n{}\n--b\n\
             Content-Disposition: attachment;\n\tfilename*0*=utf-8''%E2%82%AC;\n filename*1=\".exe\"\n\nx\n--b\n\
             Content-Disposition: attachment; filename=\"=?iso-8859-1?Q?caf=E9?= =?x-unknown?q?_doc?=.txt\"\n\ny\n--b\n\
             Content-Type: text/plain; name*=''plain%20name.txt\n\nz\n--b--\n",
            b64(esc.as_bytes()),
            b64(EICAR)
        );
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(
            w.chains(),
            [esc, "\u{20ac}.exe", "caf\u{e9} doc.txt", "plain name.txt"]
        );
        assert_eq!(w.containing(EICAR).unwrap().chain, esc);
        // Invalid UTF-8 in a raw name comes through lossily.
        let mut m = b"From: a@example.com\nTo: b@example.com\nContent-Type: application/x; name=\"a\xff.exe\"\n\n".to_vec();
        m.extend_from_slice(EICAR);
        let w = walk(&m, "m.eml");
        assert_eq!(w.containing(EICAR).unwrap().chain, "a\u{fffd}.exe");
    }

    #[test]
    fn missing_final_boundary() {
        let m = eicar_mail("", false);
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.chains(), ["part-1", "eicar.com"]);
        assert_eq!(w.containing(EICAR).unwrap().data, EICAR);
        assert_eq!(w.issues.len(), 1);
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
    }

    #[test]
    fn boundary_with_trailing_whitespace() {
        let m = eicar_mail(" \t ", true);
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.chains(), ["part-1", "eicar.com"]);
        assert!(w.issues.is_empty());
        let w = walk(&crlf(&m), "m.eml");
        assert_eq!(w.containing(EICAR).unwrap().data, EICAR);
    }

    #[test]
    fn bad_base64_skips_junk() {
        let enc = b64(EICAR);
        let (a, b) = enc.split_at(10);
        let m = format!(
            "From: a@example.com\nContent-Type: application/octet-stream\n\
             Content-Transfer-Encoding: BASE64\n\n  {a}!!*\n\t{b}\n.. trailing junk ~~\n"
        );
        let w = walk(m.as_bytes(), "m.eml");
        assert!(w.containing(EICAR).is_some());
        assert_eq!(w.chains(), ["part-1"]);
    }

    #[test]
    fn missing_headers_folding_duplicates() {
        // A part without headers, a folded Content-Type and boundary on the
        // continuation line, and a duplicate Content-Type (text first: the
        // whole body is one text leaf too, after the parts).
        let m = format!(
            "Subject: dup\nFrom: a@example.com\nContent-Type: text/plain\nContent-Type: multipart/mixed;\n\
             \tboundary=\"=_fold\"\n\n--=_fold\n\nno headers here\n--=_fold\n\
             Content-Transfer-Encoding: base64\nContent-Disposition: attachment;\n   filename=\n  \"eicar.com\"\n\n{}\n--=_fold--\n",
            b64(EICAR)
        );
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.chains(), ["part-1", "eicar.com", "part-3"]);
        assert_eq!(w.found[0].data, b"no headers here");
        assert_eq!(w.found[1].data, EICAR);
        assert!(w.found[2].data.starts_with(b"--=_fold\n"));
        // A body without any header block at all is one part.
        let limits = Limits::default();
        let mut ctx = Ctx::new(&limits, None);
        let mut names = Vec::new();
        extract_mail(b"just text\n", "x", &mut ctx, &mut |_, e| {
            names.push((e.name, e.data.into_owned()));
            Flow::Continue
        })
        .unwrap();
        assert_eq!(names, [("part-1".to_string(), b"just text\n".to_vec())]);
        // Headers without a body.
        let w = walk(b"From: a@example.com\nSubject: x\n", "m.eml");
        assert_eq!(w.chains(), ["part-1"]);
        assert!(w.found[0].data.is_empty());
    }

    /// The attachment part of [`malformed`], as mailers write it.
    const ATTACHMENT: &str = "Content-Type: application/octet-stream\n\
         Content-Disposition: attachment; filename=\"eicar.com\"\n\
         Content-Transfer-Encoding: base64";

    /// A mail with the top-level header fields `top`, whose body is
    /// delimited by `--{boundary}`: a text part, then EICAR in base64 with
    /// the header fields `attachment`; closed or not.
    fn malformed(top: &str, boundary: &str, attachment: &str, close: bool) -> String {
        let mut m = format!(
            "From: a@example.com\nTo: b@example.com\nSubject: malformed\n{top}\n\n\
             preamble\n--{boundary}\nContent-Type: text/plain\n\nHello.\n\
             --{boundary}\n{attachment}\n\n{}\n",
            b64(EICAR)
        );
        if close {
            m.push_str(&format!("--{boundary}--\nepilogue\n"));
        }
        m
    }

    /// EICAR in the mail [`malformed`] builds must come out whole as
    /// `eicar.com`: with LF and CRLF line ends, closed and not.
    fn assert_hidden_found(top: &str, boundary: &str, attachment: &str) {
        for close in [true, false] {
            let m = malformed(top, boundary, attachment, close);
            for bytes in [m.clone().into_bytes(), crlf(&m)] {
                assert_eq!(identify(&bytes), Some(Format::Mail), "{m}");
                let w = walk(&bytes, "m.eml");
                let f = w
                    .found
                    .iter()
                    .find(|f| f.data == EICAR)
                    .unwrap_or_else(|| panic!("EICAR not found in {m}: {:?}", w.chains()));
                assert_eq!(f.chain, "eicar.com", "{m}");
                assert!(f.issue.is_none());
                assert!(w.chains().contains(&"part-1"), "{m}: {:?}", w.chains());
                // Only a missing closing delimiter is a problem.
                if close {
                    assert!(w.issues.is_empty(), "{m}: {:?}", w.issues);
                } else {
                    assert!(
                        w.issues.iter().all(|(_, i)| i.kind == IssueKind::Corrupt),
                        "{m}: {:?}",
                        w.issues
                    );
                }
            }
        }
    }

    #[test]
    fn several_content_type_fields() {
        for top in [
            "Content-Type: multipart/mixed; boundary=\"decoy\"\nContent-Type: multipart/mixed; boundary=\"real\"",
            "Content-Type: multipart/mixed; boundary=\"real\"\nContent-Type: multipart/mixed; boundary=\"decoy\"",
            "Content-Type: text/plain\nContent-Type: multipart/mixed; boundary=real",
            "Content-Type: multipart/mixed; boundary=real\nContent-Type: text/plain",
            "Content-Type: multipart/mixed\nContent-Type: multipart/related; boundary=real",
        ] {
            assert_hidden_found(top, "real", ATTACHMENT);
        }
        // Several Content-Type fields in the attachment: the one that is
        // not base64-safe first.
        assert_hidden_found(
            "Content-Type: multipart/mixed; boundary=real",
            "real",
            &format!("Content-Type: text/plain\n{ATTACHMENT}"),
        );
    }

    #[test]
    fn several_boundary_parameters() {
        for top in [
            "Content-Type: multipart/mixed; boundary=\"decoy\"; boundary=\"real\"",
            "Content-Type: multipart/mixed; boundary=\"real\"; boundary=\"decoy\"",
            "Content-Type: multipart/mixed; boundary=decoy; BOUNDARY=real; boundary=other",
        ] {
            assert_hidden_found(top, "real", ATTACHMENT);
        }
        // Both boundaries occur: the decoy's single text part holds the
        // other's delimiters, behind which the attachment hides. Each
        // reading is handed out.
        for order in [
            "\"decoy\"; boundary=\"real\"",
            "\"real\"; boundary=\"decoy\"",
        ] {
            let m = format!(
                "From: a@example.com\nSubject: x\nContent-Type: multipart/mixed; boundary={order}\n\n\
                 --decoy\nContent-Type: text/plain\n\nHello.\n--real\n{ATTACHMENT}\n\n{}\n--real--\n--decoy--\n",
                b64(EICAR)
            );
            let w = walk(m.as_bytes(), "m.eml");
            let f = w.found.iter().find(|f| f.data == EICAR).unwrap();
            assert_eq!(f.chain, "eicar.com");
            assert!(w.issues.is_empty(), "{:?}", w.issues);
            assert_eq!(w.found.len(), 2, "{:?}", w.chains());
        }
    }

    #[test]
    fn comments_in_header_names() {
        for top in [
            "Content-Type (the type): multipart/mixed; boundary=real",
            "Content-(x)Type: multipart/mixed; boundary=real",
            "(x)Content-Type(y: z) : multipart/mixed; boundary=real",
            "Content-Type(a (nested) comment):multipart/mixed; boundary=real",
        ] {
            assert_hidden_found(top, "real", ATTACHMENT);
        }
        assert_hidden_found(
            "Content-Type: multipart/mixed; boundary=real",
            "real",
            "Content-Type: application/octet-stream\nContent-Disposition (x): attachment; filename=eicar.com\n\
             Content-Transfer-(enc)Encoding (how): base64",
        );
        // A line with white space in its name outside comments is no field.
        assert!(header_line(b"Dear John (hi): x").is_none());
        assert!(header_line(b"Content (x) -Type: x").is_none());
        assert_eq!(
            header_line(b"Content-(x)Type: y").map(|(n, _)| n.into_owned()),
            Some(b"Content-Type".to_vec())
        );
    }

    #[test]
    fn comments_in_parameter_values() {
        for top in [
            "Content-Type: multipart/mixed (comment); boundary=(c)\"real\"(d)",
            "Content-Type: multi(c)part/mixed; boundary (c) = real (d)",
            "Content-Type: (c) multipart/mixed ; (c) boundary=real",
            "Content-Type: multipart/mixed; boundary=\"real\" (a \"quoted\" comment \\) still)",
        ] {
            assert_hidden_found(top, "real", ATTACHMENT);
        }
        // Parentheses inside quotes are the boundary's own; unquoted, they
        // may be either.
        assert_hidden_found(
            "Content-Type: multipart/mixed; boundary=\"re(al)\"",
            "re(al)",
            ATTACHMENT,
        );
        assert_hidden_found(
            "Content-Type: multipart/mixed; boundary=re(al)",
            "re(al)",
            ATTACHMENT,
        );
        assert_hidden_found(
            "Content-Type: multipart/mixed; boundary=re(al)",
            "re",
            ATTACHMENT,
        );
        // A comment in the transfer encoding.
        assert_hidden_found(
            "Content-Type: multipart/mixed; boundary=real",
            "real",
            "Content-Type: application/octet-stream; name=\"eicar.com\"\nContent-Transfer-Encoding: (x) base64 (encoded)",
        );
    }

    #[test]
    fn semicolon_or_space_before_the_boundary() {
        for top in [
            "Content-Type: multipart/mixed;; boundary=real",
            "Content-Type: multipart/mixed; ;boundary=real",
            "Content-Type: multipart/mixed;boundary=real",
            "Content-Type: multipart/mixed boundary=real",
            "Content-Type: multipart/mixed\tboundary=\"real\";",
            "Content-Type: multipart/mixed; boundary = \"real\"",
            "Content-Type: multipart/mixed; boundary= real ",
            "Content-Type: ;multipart/mixed; boundary=real",
            "Content-Type: multipart/mixed;\n\n boundary=real",
        ] {
            assert_hidden_found(top, "real", ATTACHMENT);
        }
    }

    #[test]
    fn boundary_in_content_disposition() {
        for top in [
            "Content-Type: multipart/mixed\nContent-Disposition: inline; boundary=\"real\"",
            "Content-Disposition: inline; boundary=real\nContent-Type: multipart/mixed",
            "Content-Type: multipart/mixed; boundary=decoy\nContent-Disposition: inline; boundary=real",
        ] {
            assert_hidden_found(top, "real", ATTACHMENT);
        }
        // Without any Content-Type, the body is one text part and split.
        let m = malformed(
            "Content-Disposition: inline; boundary=real",
            "real",
            ATTACHMENT,
            true,
        );
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.chains(), ["part-1", "eicar.com", "part-3"]);
    }

    #[test]
    fn odd_unquoted_boundaries() {
        for (top, boundary) in [
            (
                "Content-Type: multipart/mixed; boundary=----=_NextPart_000_0001_01D2.A'?/:+,=",
                "----=_NextPart_000_0001_01D2.A'?/:+,=",
            ),
            ("Content-Type: multipart/mixed; boundary=\"real", "real"),
            ("Content-Type: multipart/mixed; boundary=a b c", "a b c"),
            ("Content-Type: multipart/mixed; boundary=a b c", "a"),
            (
                "Content-Type: multipart/mixed; boundary=\"re\nal\"",
                "re al",
            ),
            ("Content-Type: multipart/mixed; boundary=\"re\nal\"", "real"),
            ("Content-Type: multipart/mixed; boundary*=''real", "real"),
            (
                "Content-Type: multipart/mixed; boundary*0=re; boundary*1=al",
                "real",
            ),
        ] {
            let top = top.replace("\n", "\n ");
            assert_hidden_found(&top, boundary, ATTACHMENT);
        }
    }

    #[test]
    fn boundary_missing_or_wrong_is_guessed() {
        for top in [
            "Content-Type: multipart/mixed",
            "Content-Type: multipart/mixed; boundary=wrong",
            "Content-Type: multipart/mixed; boundary=",
            "Content-Type: multipart/mixed; boundary=ab;cd",
        ] {
            assert_hidden_found(top, "ab;cd", ATTACHMENT);
        }
        // Dashes alone are no boundary: the text stays one leaf.
        let m = "From: a@example.com\nSubject: x\nContent-Type: multipart/mixed\n\n-----\nhello\n-----\n";
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.chains(), ["part-1"]);
    }

    #[test]
    fn folded_headers() {
        for top in [
            "Content-Type:\n multipart/mixed;\n\tboundary=\n \"real\"",
            "Content-Type: multipart/mixed;\n boundary=\"real\";\n charset=us-ascii",
        ] {
            assert_hidden_found(top, "real", ATTACHMENT);
        }
    }

    #[test]
    fn conflicting_readings_are_bounded() {
        // Two parts, each split at 10 boundaries that all occur: 18 more
        // readings than one, over the cap of 16.
        let many = |tag: &str| {
            let params: String = (0..10).map(|i| format!("; boundary={tag}{i}")).collect();
            let body: String = (0..10).map(|i| format!("--{tag}{i}\n\nx\n")).collect();
            let close: String = (0..10).map(|i| format!("--{tag}{i}--\n")).collect();
            format!("Content-Type: multipart/mixed{params}\n\n{body}{close}")
        };
        let m = format!(
            "From: a@example.com\nSubject: x\nContent-Type: multipart/mixed; boundary=o\n\n--o\n{}\n--o\n{}\n--o--\n",
            many("p"),
            many("q")
        );
        let w = walk(m.as_bytes(), "m.eml");
        assert!(
            w.issues
                .iter()
                .any(|(_, i)| i.message.contains("conflicting boundaries")),
            "{:?}",
            w.issues
        );
        // One leaf per reading: the first reading of each part, and 16
        // more.
        assert_eq!(w.found.len(), 2 + 16);
    }

    #[test]
    fn malformed_truncated_and_flipped_never_panic() {
        let m = malformed(
            "Content-(c)Type: multipart/mixed;; boundary=\"decoy\"; boundary=re(al)\n\
             Content-Type: text/plain\nContent-Disposition: inline; boundary=x",
            "re(al)",
            ATTACHMENT,
            true,
        );
        let m = m.as_bytes();
        for cut in 0..m.len() {
            let _ = walk(&m[..cut], "m.eml");
        }
        each_byte_flipped(m, &[0x01, 0x08, 0x80], |v| {
            let _ = walk(v, "m.eml");
        });
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let depth = 5000;
        let mut m = String::from("From: a@example.com\nSubject: deep\n");
        for i in 0..depth {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n"
            ));
        }
        m.push_str(&format!(
            "Content-Transfer-Encoding: base64\n\n{}\n",
            b64(EICAR)
        ));
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.found.len(), 1);
        assert_eq!(w.issues.len(), 1);
        assert_eq!(w.issues[0].1.kind, IssueKind::Corrupt);
        assert!(w.issues[0].1.message.contains("nested deeper"));
    }

    #[test]
    fn many_parts_hit_max_entries() {
        let mut m = String::from(
            "From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n",
        );
        for _ in 0..50 {
            m.push_str("--b\n\nx\n");
        }
        let limits = Limits {
            max_entries: 10,
            ..Limits::default()
        };
        let w = walk_with(m.as_bytes(), "m.eml", &limits);
        assert_eq!(w.found.len(), 10);
        assert_eq!(w.issues[0].1.kind, IssueKind::Limit("max-entries"));
    }

    #[test]
    fn truncated_and_flipped_never_panic() {
        let inner = eicar_mail("", true);
        let m = format!(
            "From: c@example.com\nSubject: t\nContent-Type: multipart/mixed; boundary=o\n\n--o\n\
             Content-Type: message/rfc822; name=f.eml\n\n{inner}\n--o\nContent-Transfer-Encoding: quoted-printable\n\n=41=\n=4\n--o\n\ntext\n{}\n--o--\n",
            uuencode("u.bin", EICAR)
        );
        let m = m.as_bytes();
        for cut in 0..m.len() {
            let _ = walk(&m[..cut], "m.eml");
        }
        each_byte_flipped(m, &[0x01, 0x20, 0x80], |v| {
            let _ = walk(v, "m.eml");
        });
        // A cut inside the uuencoded block: the block is handed out, flagged.
        let at = memmem::find(m, b"begin 644").unwrap() + 40;
        let w = walk(&m[..at], "m.eml");
        let uu = w.found.iter().find(|f| f.chain == "u.bin").unwrap();
        assert_eq!(uu.issue.as_ref().unwrap().kind, IssueKind::Corrupt);
    }

    #[test]
    fn detect_mail_false_positives() {
        let not_mail: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nDate: Mon, 01 Jan 2024\r\n\r\n<html>",
            b"Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nMaintainer: Someone <a@b.c>\nDescription: example\n greeting\n",
            b"Format: 1.8\nDate: Sat, 01 Jan 2024 00:00:00 +0000\nSource: hello\nBinary: hello\n",
            b"---\nname: CI\non:\n  push:\n    branches: [main]\n",
            b"name: CI\non:\n  push:\nfrom: here\n  to: there\njobs:\n  - x\n",
            b"Dear John,\nSubject: nothing. From: me\n",
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
            b"",
            b"Subject: only one field\n\nbody",
            b"key: value\nother: value\n\nbody",
        ];
        for d in not_mail {
            assert!(!detect_mail(d), "{:?}", String::from_utf8_lossy(d));
            assert!(!detect_mbox(d));
            assert!(!detect_uuencode(d));
        }
        let random = random_bytes(4096, 0x1234_5678);
        assert!(!detect_mail(&random) && !detect_mbox(&random) && !detect_uuencode(&random));
        assert!(detect_mail(b"Received: from x\n\tby y\nFrom: a@b\n\nhi"));
        assert!(!detect_mbox(b"From here to there\nwe go\n"));
        assert!(!detect_uuencode(b"some text\nbegin 644 x\nM86)C\n"));
    }

    #[test]
    fn standalone_uuencode() {
        let t = format!("\n\n{}trailer\n", uuencode("../eicar.com", EICAR));
        assert_eq!(identify(t.as_bytes()), Some(Format::Uuencode));
        let w = walk(t.as_bytes(), "x.uue");
        assert_eq!(w.chains(), ["../eicar.com"]);
        assert_eq!(w.found[0].data, EICAR);
        // Trailing spaces stripped in transit still decode.
        let stripped: String = uuencode("e", EICAR)
            .lines()
            .map(|l| format!("{}\n", l.trim_end_matches(' ')))
            .collect();
        assert_eq!(walk(stripped.as_bytes(), "x").found[0].data, EICAR);
        // begin-base64
        let t = format!("begin-base64 600 b.com\n{}\n====\n", b64(EICAR));
        assert!(detect_uuencode(t.as_bytes()));
        let w = walk(t.as_bytes(), "x");
        assert_eq!(w.chains(), ["b.com"]);
        assert_eq!(w.found[0].data, EICAR);
        // Truncated: handed out, flagged.
        let t = uuencode("eicar.com", EICAR);
        let w = walk(&t.as_bytes()[..60], "x");
        assert_eq!(w.found.len(), 1);
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert!(EICAR.starts_with(&w.found[0].data[..27]));
    }

    #[test]
    fn decoders() {
        assert_eq!(base64_decode(b"QUJD"), b"ABC");
        assert_eq!(base64_decode(b"QQ==QkM="), b"ABC");
        assert_eq!(base64_decode(b"Q\n\rU*J#D"), b"ABC");
        assert_eq!(qp_decode(b"a=3Db=\r\nc= \nd=zz=", false), b"a=bcd=zz");
        assert_eq!(decode_2047(b"=?utf-8?q?a_b?= =?UTF-8?B?Yw==?= d"), "a bc d");
        assert_eq!(decode_2047(b"=?=?=?x?="), "=?=?=?x?=");
        assert_eq!(decode_2047(b"=?utf-8?B?Yw==?"), "=?utf-8?B?Yw==?");
    }
}
