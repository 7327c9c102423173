//! How deeply a rule file nests, estimated before yara-x ever sees it.
//!
//! yara-x parses and compiles recursively, with no depth limit of its own:
//! a condition of 50,000 nested `not`s or parentheses (a few hundred KB of
//! text) overflows the stack and aborts the process, which no
//! `catch_unwind` can stop. Past about 1,500 parentheses it also drops the
//! rule without a word. Real rules nest a few dozen levels at most, so a
//! file whose estimate passes [`MAX_NESTING`] is refused with an issue
//! naming the line, before it is compiled.
//!
//! The estimate is lexical: brackets `(`, `[`, `{` open a level and their
//! closers end one, and a run of prefix operators (`not`, `defined`, `-`,
//! `~`) adds a level each, since each is one more recursion of the parser.
//! Comments and quoted strings are skipped. Regular expressions are not
//! told apart from division, so an unbalanced bracket inside one (`/[(]/`)
//! may make the estimate high; the count restarts at each `rule` keyword
//! that heads a line (after `private` or `global`, if any), where the
//! parser starts afresh, so such drift never spans rules. Erring high only
//! matters past a thousand levels, which no real rule comes near.

/// Deepest nesting a rule file may reach: the compile threads run on the
/// default 2 MiB stacks, and yara-x handles this much on them.
pub const MAX_NESTING: usize = 1_000;

/// The line (1-based) where the estimated nesting of `code` first passes
/// [`MAX_NESTING`], and that depth; `None` when it never does.
pub fn too_deep(code: &[u8]) -> Option<(usize, usize)> {
    let mut depth: usize = 0;
    let mut prefix: usize = 0;
    let mut line = 1;
    let mut at_line_start = true;
    let mut i = 0;
    while i < code.len() {
        let b = code[i];
        if b == b'\n' {
            line += 1;
            at_line_start = true;
            i += 1;
            continue;
        }
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let starts_line = std::mem::replace(&mut at_line_start, false);
        match b {
            b'/' if code.get(i + 1) == Some(&b'/') => {
                while i < code.len() && code[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if code.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < code.len() && !(code[i] == b'*' && code.get(i + 1) == Some(&b'/')) {
                    if code[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'"' => {
                i += 1;
                while i < code.len() && code[i] != b'"' && code[i] != b'\n' {
                    i += if code[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                prefix = 0;
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1 + prefix;
                prefix = 0;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                prefix = 0;
            }
            b'-' | b'~' => prefix += 1,
            _ if b.is_ascii_alphanumeric() || b == b'_' => {
                let end = code[i..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map_or(code.len(), |n| i + n);
                match &code[i..end] {
                    b"not" | b"defined" => prefix += 1,
                    b"rule" if starts_line => {
                        depth = 0;
                        prefix = 0;
                    }
                    // `private rule`, `global private rule`: still a head.
                    b"private" | b"global" if starts_line => at_line_start = true,
                    _ => prefix = 0,
                }
                i = end;
                if depth + prefix > MAX_NESTING {
                    return Some((line, depth + prefix));
                }
                continue;
            }
            _ => prefix = 0,
        }
        if depth + prefix > MAX_NESTING {
            return Some((line, depth + prefix));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!(
            "rule a {{ condition: true }}\nrule d {{\n condition: {}true{}\n}}\n",
            open.repeat(n),
            close.repeat(n)
        )
    }

    #[test]
    fn deep_nesting_is_found_with_its_line() {
        for (open, close) in [
            ("(", ")"),
            ("not ", ""),
            ("-", ""),
            ("defined ", ""),
            ("~", ""),
        ] {
            let deep = nested(open, close, MAX_NESTING + 5);
            assert_eq!(too_deep(deep.as_bytes()).map(|(l, _)| l), Some(3), "{open}");
            let fine = nested(open, close, MAX_NESTING - 5);
            assert_eq!(too_deep(fine.as_bytes()), None, "{open}");
        }
        // Mixed: parentheses and prefix operators add up.
        let mixed = format!(
            "rule m {{ condition: {}true{} }}",
            "not (".repeat(600),
            ")".repeat(600)
        );
        assert!(too_deep(mixed.as_bytes()).is_some());
    }

    #[test]
    fn strings_comments_and_rules_do_not_count() {
        let opens = "(".repeat(5000);
        let code = format!(
            "// {opens}\n/* {opens}\n{opens} */\nrule s {{ strings: $a = \"{opens}\\\"{opens}\" condition: $a }}\n"
        );
        assert_eq!(too_deep(code.as_bytes()), None);
        // Drift from unbalanced brackets in regexes stops at the next rule.
        let drift = "rule r { strings: $a = /[(]/ condition: $a }\n".repeat(3000);
        assert_eq!(too_deep(drift.as_bytes()), None);
        let private = "private global rule r { strings: $a = /[(]/ condition: $a }\n".repeat(3000);
        assert_eq!(too_deep(private.as_bytes()), None);
        // Only a rule heading its line restarts the count.
        let inside = format!(
            "rule x {{ condition: {} rule {} }}",
            "(".repeat(600),
            "(".repeat(600)
        );
        assert!(too_deep(inside.as_bytes()).is_some());
        // Words that merely contain `not` are operands, not operators.
        let words = format!(
            "rule w {{ condition: {}true }}",
            "notable and ".repeat(3000)
        );
        assert_eq!(too_deep(words.as_bytes()), None);
    }

    #[test]
    fn hostile_bytes_end() {
        for code in [&b"\"\\"[..], b"/*", b"rule", b"\xff\xfe((((", b"-"] {
            assert_eq!(too_deep(code), None);
        }
    }
}
