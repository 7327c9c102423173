//! Make attacker-controlled strings safe to print.
//!
//! File names, rule metadata and IOC descriptions all come from hostile
//! sources. Printed raw, a name can carry terminal escape sequences (rewrite
//! the screen, set the window title, on some terminals run commands), bidi
//! overrides that make `exe.txt` read as `txt.exe`, or zero-width characters
//! that hide a difference. Everything shown to a person passes through
//! [`for_terminal`].

use std::fmt::Write;

/// Escapes control characters (C0, DEL, C1), bidi controls and zero-width
/// characters as `\u{..}` (and `\t`, `\n`, `\r`, `\\` as usual), so the result
/// is one visible line that says exactly what the bytes were.
pub fn for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_dangerous(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes a byte string that may not be UTF-8: invalid bytes become `\xNN`,
/// the rest goes through [`for_terminal`].
pub fn bytes_for_terminal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&for_terminal(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Escapes a path for display, keeping invalid UTF-8 visible as `\xNN`.
pub fn path_for_terminal(path: &std::path::Path) -> String {
    bytes_for_terminal(path.as_os_str().as_encoded_bytes())
}

fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' // zero width space/joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}' // zero width no-break space
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_sequences() {
        assert_eq!(for_terminal("a\x1b[31mred\x07"), "a\\u{1b}[31mred\\u{7}");
        assert_eq!(for_terminal("line\nbreak\ttab"), "line\\nbreak\\ttab");
        assert_eq!(for_terminal("\u{9b}31m"), "\\u{9b}31m");
    }

    #[test]
    fn escapes_bidi_and_zero_width() {
        assert_eq!(
            for_terminal("invoice\u{202E}fdp.exe"),
            "invoice\\u{202e}fdp.exe"
        );
        assert_eq!(for_terminal("a\u{200B}b\u{FEFF}"), "a\\u{200b}b\\u{feff}");
    }

    #[test]
    fn keeps_ordinary_text() {
        assert_eq!(
            for_terminal("/home/ünïcødé/файл.txt"),
            "/home/ünïcødé/файл.txt"
        );
    }

    #[test]
    fn invalid_bytes_become_hex() {
        assert_eq!(bytes_for_terminal(b"a\xffb\x1b"), "a\\xffb\\u{1b}");
    }

    #[test]
    fn backslash_is_escaped_so_output_is_unambiguous() {
        assert_eq!(for_terminal("a\\u{1b}"), "a\\\\u{1b}");
    }
}
