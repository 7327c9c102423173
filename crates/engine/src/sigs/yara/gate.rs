//! Rules that need content beginning with `MZ`.
//!
//! Public sets are mostly about Windows executables, and most of their
//! rules say so first:
//!
//! ```yara
//! condition: uint16(0) == 0x5a4d and filesize < 2MB and 2 of them
//! ```
//!
//! Such a rule cannot match content that does not begin with `MZ`, yet
//! yara-x searches for its patterns in every file: the pattern search runs
//! once for all the rules, before any condition is known. On a victim's
//! disk most bytes are not Windows executables (libraries, documents,
//! mail, media), so the set is also compiled without these rules, and
//! content that does not begin with `MZ` is scanned with that smaller set.
//! Its results are the same by construction: a rule left out is false on
//! such content, and every other rule is in the smaller set as it is.
//!
//! A rule is left out when its condition is a conjunction (`and`, at any
//! depth of parentheses) with one operand that requires `MZ` at offset 0:
//! an equality between `uint16(0)` (or `uint32(0)`, `int16(0)`, the
//! big-endian forms, either side) and a literal whose bytes begin with
//! `MZ`, or `pe.is_pe` (the `pe` module parses only what begins with
//! `MZ`). A conjunction is true only when each operand is. Rules used by
//! rules that stay, global rules and files that borrowed rules of other
//! files stay as they are; the caller checks the compiled set against the
//! whole set.

use super::Outline;
use std::collections::HashSet;
use yara_x_parser::ast::{AST, Expr, RuleFlags};

/// The bytes content must begin with for `expr` to be true, when `expr`
/// is one of the tests of a prefix this module knows; else `None`.
fn required_prefix(expr: &Expr) -> Option<Vec<u8>> {
    match expr {
        Expr::Eq(eq) => int_at_zero(&eq.lhs, &eq.rhs).or_else(|| int_at_zero(&eq.rhs, &eq.lhs)),
        Expr::FieldAccess(access) => {
            let names: Vec<&str> = access
                .operands()
                .map(|o| match o {
                    Expr::Ident(i) => Some(i.name),
                    _ => None,
                })
                .collect::<Option<_>>()?;
            (names == ["pe", "is_pe"]).then(|| b"MZ".to_vec())
        }
        _ => None,
    }
}

/// `call == literal`, where `call` reads an integer at offset 0: the bytes
/// that literal is made of, in the order the function reads them.
fn int_at_zero(call: &Expr, literal: &Expr) -> Option<Vec<u8>> {
    let (Expr::FuncCall(call), Expr::LiteralInteger(literal)) = (call, literal) else {
        return None;
    };
    if call.object.is_some() || literal.is_unsigned {
        return None;
    }
    let [Expr::LiteralInteger(offset)] = call.args.as_slice() else {
        return None;
    };
    if offset.value != 0 || offset.is_unsigned {
        return None;
    }
    let (bits, signed, big) = match call.identifier.name {
        "uint16" => (16, false, false),
        "uint32" => (32, false, false),
        "uint16be" => (16, false, true),
        "uint32be" => (32, false, true),
        "int16" => (16, true, false),
        "int32" => (32, true, false),
        "int16be" => (16, true, true),
        "int32be" => (32, true, true),
        _ => return None,
    };
    let v = i128::from(literal.value);
    let range = if signed {
        -(1i128 << (bits - 1))..(1i128 << (bits - 1))
    } else {
        0..(1i128 << bits)
    };
    // Out of range, the equality is never true: not a prefix test.
    if !range.contains(&v) {
        return None;
    }
    let raw = (v as u64) & ((1u64 << bits) - 1);
    let n = bits / 8;
    let le = raw.to_le_bytes();
    let mut bytes = le[..n].to_vec();
    if big {
        bytes.reverse();
    }
    Some(bytes)
}

/// The operands of `expr` taken as a conjunction (nested `and`s flattened;
/// anything else is one operand).
fn conjuncts<'a, 'src>(expr: &'a Expr<'src>, out: &mut Vec<&'a Expr<'src>>) {
    match expr {
        Expr::And(and) => {
            for operand in and.operands() {
                conjuncts(operand, out);
            }
        }
        other => out.push(other),
    }
}

/// True when `condition` can be true only for content beginning with `MZ`.
pub fn needs_mz(condition: &Expr) -> bool {
    let mut operands = Vec::new();
    conjuncts(condition, &mut operands);
    operands
        .iter()
        .filter_map(|o| required_prefix(o))
        .any(|p| p.starts_with(b"MZ"))
}

/// The text of the rule file `code` without its rules that need `MZ`
/// (those used by rules that stay are kept), with the names of the rules
/// left out. `None` when none is left out, or when the file must stay
/// whole: it does not parse cleanly or has a global rule.
pub fn without_mz(code: &[u8]) -> Option<(String, Vec<String>)> {
    use std::sync::LazyLock;
    static IDENT: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").expect("valid regex"));
    let text = std::str::from_utf8(code).ok()?;
    let ast = AST::from(text);
    if !ast.errors().is_empty() {
        return None;
    }
    let outline = Outline::of(text);
    if outline.rules.iter().any(|r| r.has_error) || outline.rules.len() != ast.rules().count() {
        return None;
    }
    let mut out = vec![false; outline.rules.len()];
    for (k, (rule, decl)) in ast.rules().zip(&outline.rules).enumerate() {
        if rule.identifier.name != decl.name {
            return None;
        }
        // A global rule gates the whole file; not worth the care.
        if rule.flags.contains(RuleFlags::Global) {
            return None;
        }
        out[k] = needs_mz(&rule.condition);
    }
    if !out.contains(&true) {
        return None;
    }
    // A rule left out must not be named by one that stays (through any
    // number of steps). Names are looked for as words in the conditions:
    // a word that only looks like a rule name keeps a rule, which is safe.
    let conditions: Vec<&str> = outline
        .rules
        .iter()
        .map(|r| {
            text.get(r.condition_kw.unwrap_or(r.start)..r.end)
                .unwrap_or_default()
        })
        .collect();
    let index: std::collections::HashMap<&str, usize> = outline
        .rules
        .iter()
        .enumerate()
        .map(|(k, r)| (r.name.as_str(), k))
        .collect();
    let mut stack: Vec<usize> = (0..out.len()).filter(|&k| !out[k]).collect();
    let mut visited: HashSet<usize> = stack.iter().copied().collect();
    while let Some(k) = stack.pop() {
        for word in IDENT.find_iter(conditions[k]) {
            if let Some(&j) = index.get(word.as_str())
                && j != k
                && visited.insert(j)
            {
                out[j] = false;
                stack.push(j);
            }
        }
    }
    if !out.contains(&true) {
        return None;
    }
    let mut part: Vec<&str> = outline
        .imports
        .iter()
        .map(|&(s, e)| text.get(s..e).unwrap_or_default())
        .collect();
    let mut left_out = Vec::new();
    for (decl, &o) in outline.rules.iter().zip(&out) {
        if o {
            left_out.push(decl.name.clone());
        } else {
            part.push(text.get(decl.start..decl.end)?);
        }
    }
    Some((part.join("\n"), left_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(condition: &str) -> bool {
        let text =
            format!("import \"pe\"\nrule r {{ strings: $a = \"a\" condition: {condition} }}");
        let ast = AST::from(text.as_str());
        assert!(ast.errors().is_empty(), "{condition}");
        let rule = ast.rules().next().expect("one rule");
        needs_mz(&rule.condition)
    }

    #[test]
    fn knows_the_usual_ways_of_requiring_mz() {
        for yes in [
            "uint16(0) == 0x5a4d and $a",
            "uint16(0) == 0x5A4D and $a",
            "uint16(0) == 23117 and $a",
            "$a and 0x5a4d == uint16(0)",
            "uint16be(0) == 0x4d5a and $a",
            "uint32(0) == 0x00905a4d and $a",
            "int16(0) == 0x5a4d and $a",
            "filesize < 1MB and (uint16(0) == 0x5a4d and $a)",
            "(filesize < 1MB and uint16(0) == 0x5a4d) and $a",
            "pe.is_pe and $a",
            "uint16(0) == 0x5a4d",
        ] {
            assert!(needs(yes), "{yes}");
        }
        for no in [
            "$a",
            "uint16(0) == 0x5a4d or $a",
            "not uint16(0) == 0x5a4d and $a",
            "uint16(0) != 0x5a4d and $a",
            "uint16(2) == 0x5a4d and $a",
            "uint16(0) == 0x4d5a and $a",
            "uint16be(0) == 0x5a4d and $a",
            "uint32(0) == 0x464c457f and $a",
            "uint8(0) == 0x4d and $a",
            "uint16(0) == 0x15a4d and $a",
            "(uint16(0) == 0x5a4d and $a) or filesize < 10",
            "pe.is_dll() and $a",
            "for any i in (0..1) : (uint16(i) == 0x5a4d) and $a",
        ] {
            assert!(!needs(no), "{no}");
        }
    }

    #[test]
    fn leaves_out_rules_needing_mz_but_not_those_still_used() {
        let code = br#"import "pe"
rule Pe_only { strings: $a = "x" condition: uint16(0) == 0x5a4d and $a }
private rule Pe_helper { strings: $b = "y" condition: uint16(0) == 0x5a4d and $b }
rule Uses_helper { condition: Pe_helper or filesize == 3 }
rule Any { strings: $c = "z" condition: $c }
"#;
        let (text, out) = without_mz(code).expect("a rule left out");
        assert_eq!(out, vec!["Pe_only".to_string()]);
        assert!(text.starts_with("import \"pe\""));
        assert!(!text.contains("rule Pe_only"));
        for kept in ["Pe_helper", "Uses_helper", "Any"] {
            assert!(text.contains(&format!("rule {kept}")), "{kept}");
        }
        // Nothing to leave out, a global rule, a syntax error: whole.
        assert!(without_mz(b"rule A { condition: filesize > 0 }").is_none());
        assert!(
            without_mz(
                b"global rule G { condition: uint16(0) == 0x5a4d }\nrule B { condition: true }"
            )
            .is_none()
        );
        assert!(without_mz(b"rule A { condition: uint16(0) == 0x5a4d and }").is_none());
    }

    /// What the module claims of yara-x: these tests are false on content
    /// that does not begin with `MZ`, short content included.
    #[test]
    fn yara_x_agrees_that_these_need_mz() {
        let mut compiler = yara_x::Compiler::new();
        compiler
            .add_source(
                r#"import "pe"
rule a { condition: uint16(0) == 0x5a4d }
rule b { condition: uint32(0) == 0x00905a4d }
rule c { condition: pe.is_pe }
rule d { condition: uint16be(0) == 0x4d5a }
"#,
            )
            .unwrap();
        let rules = compiler.build();
        let mut pe = vec![0u8; 1024];
        pe[..4].copy_from_slice(b"MZ\x90\x00");
        // A minimal PE header at 0x80, so that pe.is_pe is true.
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0x14cu16.to_le_bytes());
        pe[0x94..0x96].copy_from_slice(&0xe0u16.to_le_bytes());
        pe[0x98..0x9a].copy_from_slice(&0x10bu16.to_le_bytes());
        let mut scanner = yara_x::Scanner::new(&rules);
        let hits =
            |s: &mut yara_x::Scanner, data: &[u8]| s.scan(data).unwrap().matching_rules().count();
        assert!(
            hits(&mut scanner, &pe) >= 3,
            "the MZ tests hold on MZ content"
        );
        let mut elf = pe.clone();
        elf[..4].copy_from_slice(b"\x7fELF");
        for data in [&elf[..], b"M", b"", b"ZM\x90\x00"] {
            assert_eq!(
                hits(&mut scanner, data),
                0,
                "{:?}",
                &data[..data.len().min(4)]
            );
        }
    }
}
