//! Rules that read paths, split for copies.
//!
//! Most rules of public sets that read a path external are a test of
//! content with a test of the path beside it, joined by `and`:
//!
//! ```yara
//! rule Renamed_Driver {
//!     strings: $a = { ... } $b = { ... }
//!     condition: uint16(0) == 0x5a4d and all of them and not filename matches /x/
//! }
//! ```
//!
//! On a copy, only the path part can change; the content part (here the
//! pattern search, the costly part) gives what it gave before. So for the
//! copies such a rule is written twice, from its own source text:
//!
//! - the **copy** form, run on the second occurrence of some content: a
//!   private rule `<name>__content` with the patterns and the content
//!   conditions, and the rule itself reduced to `<name>__content and
//!   <path conditions>`;
//! - the **lite** form, run on every later occurrence: the rule with no
//!   patterns, `takedown_copy_<ns>_<n> and <path conditions>`, where the
//!   external `takedown_copy_<ns>_<n>` (file `ns`, its `n`th split rule) is
//!   set to what `<name>__content` gave on the second
//!   occurrence.
//!
//! Both keep the rule's name, flags, tags and metadata, which is all a
//! detection reports (matched offsets are not). A conjunction is true when
//! each operand is (an undefined operand is false either way), so the split
//! rule means exactly what the original meant. A rule is split only when
//! its condition is a top-level `and`, it has patterns, every operand that
//! reads a path (or names a rule that does) refers to no pattern at all,
//! and some operand does not read a path; anything else is kept whole. The
//! texts must compile on their own to exactly the rules expected, and the
//! caller checks the compiled sets against the whole set again.

use super::{Outline, new_compiler, reads_more_than_content, unknown_imports};
use std::collections::HashSet;
use yara_x_parser::ast::{AST, Expr, RuleFlags};

/// One rule split in two.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitRule {
    /// Namespace index of its file.
    pub ns: usize,
    /// The rule.
    pub rule: String,
    /// The private rule of the copy form holding its content part.
    pub content_rule: String,
    /// The external standing for the content part in the lite form.
    pub global: String,
}

/// The copy and lite forms of a file's part for copies.
pub struct Split {
    pub copy: String,
    pub lite: String,
    pub rules: Vec<SplitRule>,
}

/// The name of the external for the `n`th split rule of namespace `ns`:
/// unique in the set without a counter shared between files, so files are
/// split independently (in parallel).
pub fn global_name(ns: usize, n: usize) -> String {
    format!("takedown_copy_{ns}_{n}")
}

/// Splits the rules of `part` (the part of namespace `ns` that copies run,
/// see `path_part`) named in `reading` (those reading more than content).
/// `None` when no
/// rule could be split or a form does not compile as expected.
pub fn split(part: &str, reading: &[String], ns: usize) -> Option<Split> {
    use std::sync::LazyLock;
    static IDENT: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").expect("valid regex"));
    let ast = AST::from(part);
    if !ast.errors().is_empty() {
        return None;
    }
    let outline = Outline::of(part);
    if outline.rules.iter().any(|r| r.has_error) || outline.rules.len() != ast.rules().count() {
        return None;
    }
    let names: HashSet<&str> = outline.rules.iter().map(|r| r.name.as_str()).collect();
    let reading: HashSet<&str> = reading.iter().map(String::as_str).collect();
    let names_reading = |text: &str| IDENT.find_iter(text).any(|m| reading.contains(m.as_str()));
    let tokens = Tokens::of(part);
    let mut rules = Vec::new();
    // (name, copy form, lite form) of every rule, in file order.
    let mut pieces: Vec<(&str, String, String)> = Vec::new();
    for (rule, decl) in ast.rules().zip(&outline.rules) {
        let name = decl.name.as_str();
        if rule.identifier.name != name {
            return None;
        }
        let body = part.get(decl.start..decl.end)?;
        let halves = (reading.contains(name)
            && !rule.flags.contains(RuleFlags::Global)
            && rule.patterns.as_ref().is_some_and(|p| !p.is_empty()))
        .then(|| match &rule.condition {
            Expr::And(and) => halves(
                part,
                and.operands().len(),
                decl.condition_kw?,
                decl.close_brace?,
                &tokens,
                |t| reads_more_than_content(t.as_bytes()) || names_reading(t),
            ),
            _ => None,
        })
        .flatten();
        let content_rule = format!("{name}__content");
        let (Some((content, path)), Some(strings), Some(condition)) =
            (halves, decl.strings_kw, decl.condition_kw)
        else {
            pieces.push((name, body.to_string(), body.to_string()));
            continue;
        };
        if names.contains(content_rule.as_str())
            || !(decl.start < strings && strings < condition && condition < decl.end)
        {
            pieces.push((name, body.to_string(), body.to_string()));
            continue;
        }
        let head = part.get(decl.start..strings)?;
        let patterns = part.get(strings..condition)?;
        let global = global_name(ns, rules.len());
        pieces.push((
            name,
            format!(
                "private rule {content_rule} {{\n  {patterns}\n  condition:\n    {content}\n}}\n\
                 {head}condition:\n    {content_rule} and {path}\n}}"
            ),
            format!("{head}condition:\n    {global} and {path}\n}}"),
        ));
        rules.push(SplitRule {
            ns,
            rule: name.to_string(),
            content_rule,
            global,
        });
    }
    if rules.is_empty() {
        return None;
    }
    // The lite form keeps the rules reading paths and what they still use:
    // a rule used only by content parts is left out.
    let mut keep: Vec<bool> = pieces.iter().map(|(n, ..)| reading.contains(n)).collect();
    loop {
        let used: HashSet<&str> = pieces
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .flat_map(|((n, _, lite), _)| {
                IDENT
                    .find_iter(lite)
                    .map(|m| m.as_str())
                    .filter(move |m| m != n)
            })
            .filter(|m| names.contains(m))
            .collect();
        let mut changed = false;
        for ((n, ..), k) in pieces.iter().zip(keep.iter_mut()) {
            if !*k && used.contains(n) {
                *k = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let imports: Vec<&str> = outline
        .imports
        .iter()
        .filter_map(|&(s, e)| part.get(s..e))
        .collect();
    let join = |items: Vec<&str>| {
        let mut text = imports.join("\n");
        for item in items {
            text.push('\n');
            text.push_str(item);
        }
        text
    };
    let copy = join(pieces.iter().map(|(_, c, _)| c.as_str()).collect());
    let lite = join(
        pieces
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|((_, _, l), _)| l.as_str())
            .collect(),
    );
    let mut want_copy: Vec<&str> = names.iter().copied().collect();
    want_copy.extend(rules.iter().map(|r| r.content_rule.as_str()));
    let want_lite: Vec<&str> = pieces
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|((n, ..), _)| *n)
        .collect();
    let globals: Vec<&str> = rules.iter().map(|r| r.global.as_str()).collect();
    if compiles_to(&copy, &[], want_copy) && compiles_to(&lite, &globals, want_lite) {
        Some(Split { copy, lite, rules })
    } else {
        None
    }
}

/// The `count` operands of the top-level `and` that is the condition of a
/// rule, its keyword at `condition` and its closing brace at `end`, as
/// (content part, path part) source texts joined with `and`, each operand
/// in parentheses. `None` when a path operand refers to a pattern, either
/// part would be empty, or the tokens do not show `count` operands.
///
/// Operands are cut at the `and` tokens outside any parenthesis or bracket
/// (`or` binds looser, so there is none at that level in an `and`): the
/// parser's spans leave out the parentheses around an operand. Comments
/// come along, so a newline closes each operand.
fn halves(
    text: &str,
    count: usize,
    condition: usize,
    end: usize,
    tokens: &Tokens,
    reads_path: impl Fn(&str) -> bool,
) -> Option<(String, String)> {
    let inside = tokens
        .marks
        .iter()
        .filter(|(o, _)| *o > condition && *o < end);
    let mut depth = 0i64;
    let mut start = None;
    let mut cuts = Vec::new();
    for &(offset, mark) in inside {
        match mark {
            Mark::Colon if start.is_none() => start = Some(offset + 1),
            Mark::Open => depth += 1,
            Mark::Close => depth -= 1,
            Mark::And if depth == 0 && start.is_some() => cuts.push(offset),
            _ => {}
        }
    }
    let start = start?;
    if cuts.len() + 1 != count || depth != 0 {
        return None;
    }
    let mut bounds = vec![start];
    for &c in &cuts {
        bounds.push(c);
        bounds.push(c + "and".len());
    }
    bounds.push(end);
    let (mut content, mut path) = (Vec::new(), Vec::new());
    for pair in bounds.chunks(2) {
        let (from, to) = (pair[0], pair[1]);
        let t = text.get(from..to)?.trim();
        if t.is_empty() {
            return None;
        }
        let t = format!("({t}\n    )");
        if reads_path(&t) {
            if tokens.refers_to_patterns(from, to) {
                return None;
            }
            path.push(t);
        } else {
            content.push(t);
        }
    }
    (!content.is_empty() && !path.is_empty())
        .then(|| (content.join("\n    and "), path.join("\n    and ")))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Open,
    Close,
    And,
    Colon,
}

/// Offsets, in order, of the tokens of a text that matter here.
struct Tokens {
    /// Those referring to patterns: `$a`, `#a`, `@a`, `!a`, `them`.
    /// Tokens, not characters: a `$` ending a regular expression is none.
    patterns: Vec<usize>,
    /// Parentheses and brackets, `and` keywords, colons.
    marks: Vec<(usize, Mark)>,
}

impl Tokens {
    fn of(text: &str) -> Tokens {
        use yara_x_parser::cst::{Event, SyntaxKind};
        let mut tokens = Tokens {
            patterns: Vec::new(),
            marks: Vec::new(),
        };
        for event in yara_x_parser::Parser::new(text.as_bytes()) {
            if let Event::Token { kind, span } = event {
                let at = span.start();
                match kind {
                    SyntaxKind::PATTERN_IDENT
                    | SyntaxKind::PATTERN_COUNT
                    | SyntaxKind::PATTERN_OFFSET
                    | SyntaxKind::PATTERN_LENGTH
                    | SyntaxKind::THEM_KW => tokens.patterns.push(at),
                    SyntaxKind::AND_KW => tokens.marks.push((at, Mark::And)),
                    SyntaxKind::COLON => tokens.marks.push((at, Mark::Colon)),
                    SyntaxKind::L_PAREN | SyntaxKind::L_BRACKET => {
                        tokens.marks.push((at, Mark::Open))
                    }
                    SyntaxKind::R_PAREN | SyntaxKind::R_BRACKET => {
                        tokens.marks.push((at, Mark::Close))
                    }
                    _ => {}
                }
            }
        }
        tokens
    }

    /// True when a token referring to a pattern lies in `start..end`.
    fn refers_to_patterns(&self, start: usize, end: usize) -> bool {
        let first = self.patterns.partition_point(|&o| o < start);
        self.patterns.get(first).is_some_and(|&o| o < end)
    }
}

/// True when `text` compiles alone, with the boolean externals `globals`,
/// without errors or skipped rules, to exactly the rules `want`.
fn compiles_to(text: &str, globals: &[&str], mut want: Vec<&str>) -> bool {
    let mut compiler = new_compiler();
    for g in globals {
        if compiler.define_global(g, false).is_err() {
            return false;
        }
    }
    for module in unknown_imports(text.as_bytes()) {
        compiler.ignore_module(module);
    }
    if compiler.add_source(text).is_err()
        || !compiler.errors().is_empty()
        || compiler.ignored_rules().next().is_some()
    {
        return false;
    }
    // The compiler accepted every rule, so the rules are those the parser
    // sees. Building them would only add the machine-code generation,
    // which is most of the time (the caller compiles all parts together).
    let ast = AST::from(text);
    let mut got: Vec<&str> = ast.rules().map(|r| r.identifier.name).collect();
    got.sort_unstable();
    want.sort_unstable();
    got == want
}

#[cfg(test)]
mod tests {
    use super::*;

    const PART: &str = r#"import "pe"
rule Helper { strings: $h = "helper" condition: $h }
rule Renamed : pua {
    meta:
        score = 70
    strings:
        $a = "driver"
        $b = { 41 42 43 }
    condition:
        uint16(0) == 0x5a4d and filesize < 100KB and all of them and Helper
        and not filename matches /cpuz/i
}
rule Uses_path_and_patterns {
    strings: $c = "cloak"
    condition: $c and (filename matches /\.txt$/ or #c > 2)
}
rule Only_path { condition: filename == "x.exe" }
rule Not_and {
    strings: $d = "d"
    condition: $d or filename == "y"
}
"#;

    fn reading() -> Vec<String> {
        ["Renamed", "Uses_path_and_patterns", "Only_path", "Not_and"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn splits_content_from_path_where_it_can() {
        let s = split(PART, &reading(), 3).expect("one rule splits");
        assert_eq!(
            s.rules,
            vec![SplitRule {
                ns: 3,
                rule: "Renamed".into(),
                content_rule: "Renamed__content".into(),
                global: "takedown_copy_3_0".into(),
            }]
        );
        // The copy form has every rule and the private content rule, which
        // holds the patterns and the content operands.
        assert!(s.copy.contains("private rule Renamed__content"));
        assert!(
            s.copy
                .contains("Renamed__content and (not filename matches /cpuz/i\n    )")
        );
        // The lite form: the split rule without patterns, gated by its
        // external; the helper used only by the content part is left out;
        // the rules that could not be split stay whole.
        assert!(
            s.lite
                .contains("takedown_copy_3_0 and (not filename matches /cpuz/i\n    )")
        );
        assert!(!s.lite.contains("rule Helper"));
        assert!(!s.lite.contains("\"driver\""));
        assert!(s.lite.contains("score = 70"), "metadata kept: {}", s.lite);
        assert!(s.lite.contains("rule Renamed : pua"));
        for whole in ["Uses_path_and_patterns", "Only_path", "Not_and"] {
            assert!(s.lite.contains(&format!("rule {whole}")), "{whole}");
        }
    }

    #[test]
    fn split_rule_gives_the_results_of_the_original() {
        let s = split(PART, &reading(), 0).unwrap();
        let compile = |text: &str, globals: &[&str]| {
            let mut c = new_compiler();
            for g in globals {
                c.define_global(g, false).unwrap();
            }
            c.add_source(text).unwrap();
            c.build()
        };
        let original = compile(PART, &[]);
        let copy = compile(&s.copy, &[]);
        let lite = compile(&s.lite, &["takedown_copy_0_0"]);
        let mut pe = vec![0u8; 512];
        pe[0] = b'M';
        pe[1] = b'Z';
        pe.extend_from_slice(b"driver ABC helper");
        let not_pe = b"driver ABC helper".to_vec();
        for data in [pe, not_pe] {
            for name in ["a.exe", "cpuz.sys"] {
                let run = |rules: &yara_x::Rules, content: Option<bool>| {
                    let mut s = yara_x::Scanner::new(rules);
                    s.set_global("filename", name).unwrap();
                    if let Some(c) = content {
                        s.set_global("takedown_copy_0_0", c).unwrap();
                    }
                    let r = s.scan(&data).unwrap();
                    let mut private = false;
                    let names: Vec<String> = r
                        .matching_rules()
                        .include_private(true)
                        .filter_map(|m| {
                            if m.identifier() == "Renamed__content" {
                                private = true;
                            }
                            (!m.is_private()).then(|| m.identifier().to_string())
                        })
                        .collect();
                    (names.contains(&"Renamed".to_string()), private)
                };
                let (want, _) = run(&original, None);
                let (got, content) = run(&copy, None);
                assert_eq!(got, want, "copy form, {name}");
                let (lite_got, _) = run(&lite, Some(content));
                assert_eq!(lite_got, want, "lite form, {name}");
            }
        }
    }

    #[test]
    fn nothing_to_split_gives_none() {
        let part = "rule P { strings: $a = \"a\" condition: $a and (filename == \"p\" or #a > 1) }";
        assert!(split(part, &["P".into()], 0).is_none());
        let part = "rule Q { condition: filename == \"q\" }";
        assert!(split(part, &["Q".into()], 0).is_none());
        let refs = |t: &str| Tokens::of(t).patterns.len();
        assert_eq!(
            refs("rule A { strings: $a = \"a\" condition: #a > 2 and !a[1] == 3 }"),
            3
        );
        assert_eq!(
            refs("rule B { strings: $b = \"b\" condition: @b[1] == 0 or any of them }"),
            3
        );
        assert_eq!(
            refs("rule C { condition: filename != \"$x\" and filename matches /x$/ }"),
            0
        );
    }
}
