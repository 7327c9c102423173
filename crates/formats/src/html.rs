//! HTML documents: the payloads of their `data:` URIs (RFC 2397).
//!
//! One linear pass looks for `data:` (any case) wherever it appears: in
//! `src`/`href` attributes, CSS `url()`, scripts, text. Each payload is
//! decoded (percent escapes, then base64 when the URI says `;base64`)
//! into its own entry `data-N`. Decoded payloads are never longer than
//! their text.

use memchr::memchr_iter;

use crate::mail::{base64_decode, percent_decode};
use crate::{Ctx, Entry, Flow, Issue, Sink};

/// White space (and a BOM) skipped before the first tag.
const MAX_LEAD: usize = 1024;
/// Bytes searched for `<html` / `<!doctype html` after a comment or an
/// XML declaration.
const PROLOG_WINDOW: usize = 1024;
/// Longest media type and parameters part (`image/png;charset=x;base64`).
const MAX_MEDIATYPE: usize = 256;

const TAGS: &[&[u8]] = &[b"<!doctype html", b"<html", b"<head", b"<body", b"<script"];

fn starts_with_ci(data: &[u8], prefix: &[u8]) -> bool {
    data.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// `data` starts with one of [`TAGS`], the tag name ended by white
/// space, `>` or `/`.
fn tag_at(data: &[u8]) -> bool {
    TAGS.iter().any(|t| {
        starts_with_ci(data, t)
            && data
                .get(t.len())
                .is_none_or(|&c| c.is_ascii_whitespace() || c == b'>' || c == b'/')
    })
}

/// HTML: after an optional BOM and white space, a doctype or an `html`,
/// `head`, `body` or `script` tag; or a comment / XML declaration followed
/// within 1 KiB by a doctype or `html` tag.
/// How far into a tag-led fragment a base64 `data:` URI makes it HTML.
const FRAGMENT_WINDOW: usize = 4096;

pub(crate) fn detect(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let lead = data
        .iter()
        .take(MAX_LEAD)
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    let Some(rest) = data.get(lead..) else {
        return false;
    };
    if tag_at(rest) {
        return true;
    }
    // An HTML fragment (a mail body, a saved snippet) that starts with any
    // tag and carries a base64 `data:` URI early on: the payload is what
    // matters, whatever the document around it.
    if rest.first() == Some(&b'<') && rest.get(1).is_some_and(u8::is_ascii_alphabetic) {
        let window = &rest[..rest.len().min(FRAGMENT_WINDOW)];
        if memchr::memmem::find_iter(window, b"data:").any(|i| {
            let uri = &window[i..window.len().min(i + 256)];
            memchr::memmem::find(uri, b";base64,").is_some()
        }) {
            return true;
        }
    }
    if rest.starts_with(b"<!--") || rest.starts_with(b"<?xml") {
        let window = &rest[..rest.len().min(PROLOG_WINDOW)];
        return memchr_iter(b'<', window).any(|i| {
            let t = &window[i..];
            (starts_with_ci(t, b"<!doctype html") || starts_with_ci(t, b"<html")) && tag_at(t)
        });
    }
    false
}

fn is_b64_text(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'%') || c.is_ascii_whitespace()
}

/// Unpacks the payload of every `data:` URI, in order, as `data-N`
/// (numbered from 1, empty payloads left out).
pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let mut n = 0u32;
    let mut next = 0usize;
    for colon in memchr_iter(b':', data) {
        if colon < next || colon < 4 {
            continue;
        }
        let start = colon - 4;
        if !data[start..colon].eq_ignore_ascii_case(b"data") {
            continue;
        }
        let before = start.checked_sub(1).and_then(|i| data.get(i)).copied();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
            continue; // metadata:, x-data:
        }
        // Media type and parameters, up to the comma.
        let head_start = colon + 1;
        let head_window = &data[head_start..data.len().min(head_start + MAX_MEDIATYPE)];
        let Some(comma) = head_window.iter().position(|&c| {
            c == b','
                || c == b'"'
                || c == b'\''
                || c == b'<'
                || c == b'>'
                || c.is_ascii_whitespace()
        }) else {
            continue;
        };
        if head_window[comma] != b',' {
            continue;
        }
        let head = &head_window[..comma];
        let is_b64 = head
            .rsplit(|&c| c == b';')
            .next()
            .is_some_and(|p| p.eq_ignore_ascii_case(b"base64"));
        let body_start = head_start + comma + 1;
        let rest = &data[body_start..];
        let len = if is_b64 {
            rest.iter().position(|&c| !is_b64_text(c))
        } else {
            match before {
                Some(q @ (b'"' | b'\'')) => memchr::memchr(q, rest),
                _ => rest.iter().position(|&c| {
                    c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b')' | b'<' | b'>')
                }),
            }
        }
        .unwrap_or(rest.len());
        let payload = &rest[..len];
        next = body_start + len;
        ctx.check_time()?;
        let decoded = if is_b64 {
            if payload.contains(&b'%') {
                base64_decode(&percent_decode(payload))
            } else {
                base64_decode(payload)
            }
        } else {
            percent_decode(payload)
        };
        if decoded.is_empty() {
            continue;
        }
        n += 1;
        if sink(ctx, Entry::new(format!("data-{n}"), decoded)) == Flow::Stop {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::tests::b64;
    use crate::testutil::{EICAR, walk};
    use crate::{Format, identify};

    #[test]
    fn eicar_in_data_uris() {
        let inner = format!(
            "<html><body><a href=\"data:application/octet-stream;base64,{}\">x</a></body></html>",
            b64(EICAR).replace('\n', "\r\n")
        );
        let html = format!(
            "\u{feff}\n  <!DOCTYPE HTML>\n<html><head><style>body {{ background: url(data:image/gif;base64,R0lGODlhAQABAAAAACw=) }}</style></head>\n\
             <body><img src='data:,Hello%2C%20World%21'>\n\
             <iframe src=\"data:text/html;base64,{}\"></iframe>\n\
             <p>metadata:,nothing data:nothing</p>\n\
             <script>var u = \"data:text/plain;charset=utf-8;base64,\" + x; var e = 'data:;base64,';</script>\n\
             </body></html>",
            b64(inner.as_bytes())
        );
        assert_eq!(identify(html.as_bytes()), Some(Format::Html));
        let w = walk(html.as_bytes(), "page.html");
        assert_eq!(w.chains(), ["data-1", "data-2", "data-3", "data-3!data-1"]);
        assert_eq!(w.found[1].data, b"Hello, World!");
        assert_eq!(w.containing(EICAR).unwrap().chain, "data-3!data-1");
        assert_eq!(w.containing(EICAR).unwrap().data, EICAR);
        assert!(w.found[0].data.starts_with(b"GIF89a"));
    }

    #[test]
    fn html_part_of_a_mail() {
        let html = format!(
            "<html><img src=\"data:image/png;base64,{}\"></html>",
            b64(EICAR)
        );
        let m = format!(
            "From: a@example.com\nSubject: h\nContent-Type: multipart/alternative; boundary=q\n\n--q\n\
             Content-Type: text/plain\n\nplain\n--q\nContent-Type: text/html\n\
             Content-Transfer-Encoding: base64\n\n{}\n--q--\n",
            b64(html.as_bytes())
        );
        let w = walk(m.as_bytes(), "m.eml");
        assert_eq!(w.containing(EICAR).unwrap().chain, "part-2!data-1");
    }

    #[test]
    fn percent_encoded_base64_and_hostile_input() {
        let enc = b64(EICAR).replace('+', "%2B").replace('/', "%2F");
        let html = format!("<script>location='data:application/x;base64,{enc}'</script>");
        let w = walk(html.as_bytes(), "p.html");
        assert_eq!(w.found[0].data, EICAR);
        // Each quote ends one URI's payload; many URIs stay linear.
        let mut big = String::from("<html>");
        for _ in 0..20_000 {
            big.push_str("\"data:,a");
        }
        let w = walk(big.as_bytes(), "p.html");
        assert_eq!(w.found.len(), 10_000);
        // An unterminated quote swallows the rest.
        let w = walk(b"<html><a href=\"data:,abc data:;base64,QUJD", "p.html");
        assert_eq!(w.chains(), ["data-1"]);
        assert_eq!(w.found[0].data, b"abc data:;base64,QUJD");
        let h = html.as_bytes();
        for cut in 0..h.len() {
            let _ = walk(&h[..cut], "p.html");
        }
    }

    #[test]
    fn detection() {
        assert!(detect(b"<html>"));
        assert!(detect(b"\xef\xbb\xbf\r\n<!doctype html>"));
        assert!(detect(b"<SCRIPT src=x>"));
        assert!(detect(b"<!-- saved from url -->\n<HTML lang=en>"));
        assert!(detect(b"<?xml version=\"1.0\"?>\n<!DOCTYPE html PUBLIC>"));
        for d in [
            &b"hello <html> world"[..],
            b"<htmlx>",
            b"<?xml version=\"1.0\"?><svg/>",
            b"<!-- just a comment -->",
            b"\x7fELF\x02\x01\x01",
            b"",
            b"data:text/plain;base64,QUJD",
        ] {
            assert!(!detect(d), "{:?}", String::from_utf8_lossy(d));
        }
    }

    #[test]
    fn tag_led_fragment_with_a_base64_data_uri_is_html() {
        let frag = b"<a href=\"data:application/octet-stream;base64,WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo=\">x</a>";
        assert!(detect(frag));
        let w = walk(frag, "x.html");
        assert_eq!(w.containing(EICAR).unwrap().chain, "data-1");
        // Tag-led text without a data: URI, or XML that merely mentions
        // one without base64, is not HTML.
        assert!(!detect(b"<note>data: none here</note>"));
        assert!(!detect(
            b"<config><item>data:text/plain,hello</item></config>"
        ));
    }
}
