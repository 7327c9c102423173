//! The STIX 2.1 patterning language (specification section 9): parsed into
//! an AST ([`parse`]), then turned into indicators or a reason why not
//! ([`convert`], [`indicators`]).
//!
//! # Parsing
//!
//! The whole grammar is read: observation expressions in `[...]` joined by
//! `AND`, `OR` and `FOLLOWEDBY` (precedence: `AND` binds tighter than `OR`,
//! which binds tighter than `FOLLOWEDBY`), parentheses, the qualifiers
//! `WITHIN n SECONDS`, `REPEATS n TIMES` and `START t'..' STOP t'..'`;
//! inside brackets, comparisons joined by `AND`/`OR` with parentheses, the
//! operators `=` (`==`), `!=` (`<>`), `>`, `<`, `>=`, `<=`, `IN`, `LIKE`,
//! `MATCHES`, `ISSUBSET`, `ISSUPERSET`, each optionally preceded by `NOT`,
//! and `EXISTS`; object paths such as `file:hashes.'SHA-256'` or
//! `network-traffic:dst_ref.value`, with list indexes `[*]` and `[0]`;
//! literals: strings (`\'` and `\\` are the only escapes), integers,
//! floats, booleans, `t'...'` timestamps (RFC 3339), `h'...'` hex and
//! `b'...'` base64, and `(...)` sets for `IN`. Keywords are upper case, as
//! the specification writes them.
//!
//! Patterns come from strangers: a pattern longer than
//! [`MAX_PATTERN_LEN`] or nested deeper than [`MAX_DEPTH`] is refused
//! before it can cost memory or stack, and a comparison whose `AND`s of
//! `OR`s would expand into more than [`MAX_EXPANSION`] comparisons is
//! not expanded.
//!
//! # What becomes an indicator
//!
//! A comparison expression is put in disjunctive normal form (an `OR` of
//! `AND`s; `IN (a, b)` counts as `= a OR = b`), and every `AND` group
//! (every *alternative*) must be understood; each gives indicators:
//!
//! * `file:hashes.MD5`, `'SHA-1'`, `'SHA-256'` (also spelled `SHA1`,
//!   `SHA256`, `'SHA_256'`, any case) `= '<hex>'`: an MD5, SHA-1 or
//!   SHA-256 indicator. Other algorithms (SHA-512, SSDEEP, TLSH, ...) are
//!   unsupported.
//! * `file:name = 'x'`: a file-name indicator whose regex matches `x` as
//!   the last component of a path: `(^|[/\\])x$` with `x` regex-escaped
//!   (the consumer may compile it case-insensitively);
//!   `file:name LIKE 'a%b_'`: the same, `%` becoming `[^/\\]*` and `_`
//!   `[^/\\]`; `file:name MATCHES 're'`: `re` as given, searched in the
//!   path (so a `^` in it anchors at the start of the path).
//! * `file:size = n` sets the size of the hash indicators of the same
//!   alternative.
//! * `domain-name:value`, `url:value`, `email-addr:value` `= '...'`, and
//!   `ipv4-addr:value`/`ipv6-addr:value` `=` an address or a CIDR, or
//!   `ISSUBSET` a CIDR: a network indicator.
//!
//! An `OR` (inside brackets, or between observations) gives the indicators
//! of every branch, since each branch alone matches. It is used only when
//! *every* branch is understood: otherwise the whole pattern is skipped
//! with the reason of the first branch that is not, so that nothing is
//! half-used silently.
//!
//! An `AND` inside one observation on one `file`: the hashes (each alone
//! identifies the content), with the size kept on them; a `file:name`
//! next to a hash is not required by the indicator, since the hash
//! already identifies the content whatever the file is called. Without a
//! hash, one name alone is a name indicator, but a name together with a
//! size or another name is unsupported (the name alone would match more
//! than the pattern says), as is a size alone. Two different values of the
//! same hash algorithm, or of a network object (`domain-name:value = 'a'
//! AND domain-name:value = 'b'`), cannot both hold: unsupported. An `AND`
//! across different object types, and `AND` or `FOLLOWEDBY` between
//! observations, describe more than one object: not a single-file
//! indicator, unsupported.
//!
//! Unsupported as well (class [`SkipClass::Unsupported`], the reason
//! naming the operator or path): the other operators, `NOT`, `EXISTS`,
//! qualifiers, and every other object path (`process:name`,
//! `windows-registry-key:key`, `network-traffic:dst_ref.value`, ...).
//! Invalid (class [`SkipClass::Invalid`]): a syntax error, or a value that
//! cannot be what its path says (an MD5 of 31 digits, `ipv4-addr:value =
//! 'x'`, `file:size = 'big'`).

use crate::model::{self, Kind, SkipClass};
use std::collections::HashSet;
use std::fmt;

/// Longest pattern parsed, in bytes. Stops a hostile pattern from costing
/// unbounded time and memory; the longest real patterns are `IN` lists of
/// a few thousand hashes, well under this (and it equals the longest
/// indicator value the model accepts).
pub const MAX_PATTERN_LEN: usize = model::MAX_VALUE;

/// Deepest nesting of parentheses, brackets and qualifiers. The parser is
/// recursive: this bound keeps `((((...` from overflowing the stack. Real
/// patterns nest a few levels.
pub const MAX_DEPTH: usize = 64;

/// Most comparisons the disjunctive normal form of one comparison
/// expression may hold (`(a OR b) AND (c OR d)` holds 4 alternatives of 2,
/// so 8). Stops an exponential blow-up from a short pattern, while a flat
/// `OR` or `IN` list as long as [`MAX_PATTERN_LEN`] allows still fits.
pub const MAX_EXPANSION: usize = 1 << 18;

/// Longest reason kept, in characters: reasons quote paths and values from
/// the pattern, which may be as long as the pattern itself, and end up in
/// listings and logs.
pub const MAX_REASON: usize = 400;

fn clip_reason(mut reason: String) -> String {
    if let Some((cut, _)) = reason.char_indices().nth(MAX_REASON) {
        reason.truncate(cut);
        reason.push_str("...");
    }
    reason
}

/// A syntax error, with the byte offset where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at offset {offset}: {reason}")]
pub struct PatternError {
    /// Byte offset in the pattern.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

/// An observation expression: the whole of a pattern.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// `[ comparison ]`.
    Compare(Comparison),
    /// `obs AND obs AND ...` (two or more).
    And(Vec<Observation>),
    /// `obs OR obs OR ...` (two or more).
    Or(Vec<Observation>),
    /// `obs FOLLOWEDBY obs ...` (two or more).
    FollowedBy(Vec<Observation>),
    /// An observation with a qualifier.
    Qualified(Box<Observation>, Qualifier),
}

/// A qualifier of an observation expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS` (n an integer or a float, as written).
    Within(String),
    /// `REPEATS n TIMES`.
    Repeats(u64),
    /// `START t'..' STOP t'..'`.
    StartStop(String, String),
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within(n) => write!(f, "WITHIN {n} SECONDS"),
            Qualifier::Repeats(n) => write!(f, "REPEATS {n} TIMES"),
            Qualifier::StartStop(a, b) => write!(f, "START t'{a}' STOP t'{b}'"),
        }
    }
}

/// A comparison expression (inside brackets).
#[derive(Clone, Debug, PartialEq)]
pub enum Comparison {
    /// `c AND c AND ...` (two or more).
    And(Vec<Comparison>),
    /// `c OR c OR ...` (two or more).
    Or(Vec<Comparison>),
    /// `path [NOT] op value`.
    Test(Test),
    /// `EXISTS path`.
    Exists(ObjectPath),
}

/// One comparison of an object path with a literal.
#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    /// The left side.
    pub path: ObjectPath,
    /// `NOT` before the operator.
    pub negated: bool,
    /// The operator.
    pub op: Op,
    /// The right side (a [`Literal::Set`] for `IN`).
    pub value: Literal,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `IN`
    In,
    /// `LIKE`
    Like,
    /// `MATCHES`
    Matches,
    /// `ISSUBSET`
    IsSubset,
    /// `ISSUPERSET`
    IsSuperset,
}

impl Op {
    /// The operator as written in a pattern.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::In => "IN",
            Op::Like => "LIKE",
            Op::Matches => "MATCHES",
            Op::IsSubset => "ISSUBSET",
            Op::IsSuperset => "ISSUPERSET",
        }
    }
}

/// An object path: `type:step.step[0]...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectPath {
    /// The object type (`file`, `domain-name`, `x-custom`).
    pub object_type: String,
    /// The steps, the first always a property.
    pub steps: Vec<Step>,
}

/// One step of an object path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A property (`name`, or quoted: `'SHA-256'`).
    Property(String),
    /// `[*]`: any element of a list.
    AnyIndex,
    /// `[n]`: one element of a list.
    Index(u64),
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                Step::Property(p) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let plain = p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                        && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if plain {
                        f.write_str(p)?;
                    } else {
                        write!(f, "'{}'", escape_string(p))?;
                    }
                }
                Step::AnyIndex => f.write_str("[*]")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A literal on the right of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `'text'`, escapes resolved.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `t'2020-01-01T00:00:00Z'` (the text inside the quotes).
    Timestamp(String),
    /// `h'00ff'` (the hex digits).
    Hex(String),
    /// `b'AAEC'` (the base64 text).
    Binary(String),
    /// `('a', 'b')`, for `IN`.
    Set(Vec<Literal>),
}

impl Literal {
    fn type_name(&self) -> &'static str {
        match self {
            Literal::Str(_) => "a string",
            Literal::Int(_) => "an integer",
            Literal::Float(_) => "a float",
            Literal::Bool(_) => "a boolean",
            Literal::Timestamp(_) => "a timestamp",
            Literal::Hex(_) => "a hex literal",
            Literal::Binary(_) => "a binary literal",
            Literal::Set(_) => "a set",
        }
    }
}

fn escape_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

// ---------------------------------------------------------------- lexer

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(String),
    Timestamp(String),
    Hex(String),
    Binary(String),
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    Star,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, PatternError> {
    let b = src.as_bytes();
    let mut out: Vec<(usize, Tok)> = Vec::new();
    let mut i = 0;
    let err = |offset: usize, reason: String| PatternError { offset, reason };
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // Typed literals: a single letter glued to a quote.
        if matches!(c, b't' | b'h' | b'b') && b.get(i + 1) == Some(&b'\'') {
            let (text, next) = lex_string(src, i + 1)?;
            i = next;
            let tok = match c {
                b't' => {
                    // STIX timestamps are UTC, written with a `Z`.
                    if !text.ends_with('Z')
                        || time::OffsetDateTime::parse(
                            &text,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .is_err()
                    {
                        return Err(err(start, format!("invalid timestamp t'{text}'")));
                    }
                    Tok::Timestamp(text)
                }
                b'h' => {
                    if text.len() % 2 != 0 || !text.bytes().all(|x| x.is_ascii_hexdigit()) {
                        return Err(err(start, format!("invalid hex literal h'{text}'")));
                    }
                    Tok::Hex(text)
                }
                _ => {
                    let ok = text.len() % 4 == 0
                        && text
                            .trim_end_matches('=')
                            .bytes()
                            .all(|x| x.is_ascii_alphanumeric() || x == b'+' || x == b'/')
                        && text.len() - text.trim_end_matches('=').len() <= 2;
                    if !ok {
                        return Err(err(start, format!("invalid binary literal b'{text}'")));
                    }
                    Tok::Binary(text)
                }
            };
            out.push((start, tok));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
                i += 1;
            }
            out.push((start, Tok::Ident(src[start..i].to_string())));
            continue;
        }
        // `.5` is a float only where a value may stand; elsewhere a dot
        // separates the steps of an object path.
        let value_may_follow = matches!(
            out.last(),
            Some((
                _,
                Tok::Eq
                    | Tok::Ne
                    | Tok::Gt
                    | Tok::Lt
                    | Tok::Ge
                    | Tok::Le
                    | Tok::Comma
                    | Tok::LParen
            ))
        ) || matches!(out.last(), Some((_, Tok::Ident(s))) if s == "WITHIN");
        let starts_number = c.is_ascii_digit()
            || ((c == b'-' || c == b'+')
                && b.get(i + 1)
                    .is_some_and(|x| x.is_ascii_digit() || *x == b'.'))
            || (c == b'.' && value_may_follow && b.get(i + 1).is_some_and(|x| x.is_ascii_digit()));
        if starts_number {
            if c == b'-' || c == b'+' {
                i += 1;
            }
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let mut float = false;
            if i < b.len() && b[i] == b'.' && b.get(i + 1).is_some_and(|x| x.is_ascii_digit()) {
                float = true;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let text = &src[start..i];
            if float {
                if text.parse::<f64>().is_err() {
                    return Err(err(start, format!("invalid number {text}")));
                }
                out.push((start, Tok::Float(text.to_string())));
            } else {
                let n = text
                    .parse::<i64>()
                    .map_err(|_| err(start, format!("integer {text} out of range")))?;
                out.push((start, Tok::Int(n)));
            }
            continue;
        }
        let two = b.get(i + 1).copied();
        let (tok, len) = match (c, two) {
            (b'\'', _) => {
                let (text, next) = lex_string(src, i)?;
                out.push((start, Tok::Str(text)));
                i = next;
                continue;
            }
            (b'!', Some(b'=')) => (Tok::Ne, 2),
            (b'<', Some(b'>')) => (Tok::Ne, 2),
            (b'>', Some(b'=')) => (Tok::Ge, 2),
            (b'<', Some(b'=')) => (Tok::Le, 2),
            // `==` is in the reference grammar too.
            (b'=', Some(b'=')) => (Tok::Eq, 2),
            (b'=', _) => (Tok::Eq, 1),
            (b'>', _) => (Tok::Gt, 1),
            (b'<', _) => (Tok::Lt, 1),
            (b'[', _) => (Tok::LBracket, 1),
            (b']', _) => (Tok::RBracket, 1),
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b',', _) => (Tok::Comma, 1),
            (b':', _) => (Tok::Colon, 1),
            (b'.', _) => (Tok::Dot, 1),
            (b'*', _) => (Tok::Star, 1),
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(start, format!("unexpected character {ch:?}")));
            }
        };
        out.push((start, tok));
        i += len;
    }
    Ok(out)
}

/// Reads a quoted string starting at `open` (the quote); returns its text
/// and the offset after the closing quote.
fn lex_string(src: &str, open: usize) -> Result<(String, usize), PatternError> {
    let mut text = String::new();
    let mut chars = src[open + 1..].char_indices();
    while let Some((k, ch)) = chars.next() {
        match ch {
            '\'' => return Ok((text, open + 1 + k + 1)),
            '\\' => match chars.next() {
                Some((_, '\'')) => text.push('\''),
                Some((_, '\\')) => text.push('\\'),
                Some((j, other)) => {
                    return Err(PatternError {
                        offset: open + 1 + j,
                        reason: format!(
                            "invalid escape \\{other} in a string (only \\' and \\\\ are allowed)"
                        ),
                    });
                }
                None => break,
            },
            c => text.push(c),
        }
    }
    Err(PatternError {
        offset: open,
        reason: "unterminated string".into(),
    })
}

// --------------------------------------------------------------- parser

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUBSET",
    "ISSUPERSET",
    "IN",
    "EXISTS",
    "WITHIN",
    "SECONDS",
    "REPEATS",
    "TIMES",
    "START",
    "STOP",
];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(o, _)| *o)
    }

    fn err<T>(&self, reason: impl Into<String>) -> Result<T, PatternError> {
        Err(PatternError {
            offset: self.offset(),
            reason: reason.into(),
        })
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of pattern".into(),
            Some(Tok::Ident(s)) => format!("'{s}'"),
            Some(Tok::Str(s)) => format!("string '{}'", escape_string(s)),
            Some(t) => format!("{t:?}"),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), PatternError> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(format!("expected {what}, found {}", self.describe()))
        }
    }

    fn deeper(&self, depth: usize) -> Result<usize, PatternError> {
        if depth >= MAX_DEPTH {
            return self.err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(depth + 1)
    }

    fn obs_followed(&mut self, depth: usize) -> Result<Observation, PatternError> {
        let mut list = vec![self.obs_or(depth)?];
        while self.eat_kw("FOLLOWEDBY") {
            list.push(self.obs_or(depth)?);
        }
        Ok(one_or(list, Observation::FollowedBy))
    }

    fn obs_or(&mut self, depth: usize) -> Result<Observation, PatternError> {
        let mut list = vec![self.obs_and(depth)?];
        while self.eat_kw("OR") {
            list.push(self.obs_and(depth)?);
        }
        Ok(one_or(list, Observation::Or))
    }

    fn obs_and(&mut self, depth: usize) -> Result<Observation, PatternError> {
        let mut list = vec![self.obs_qualified(depth)?];
        while self.eat_kw("AND") {
            list.push(self.obs_qualified(depth)?);
        }
        Ok(one_or(list, Observation::And))
    }

    fn obs_qualified(&mut self, depth: usize) -> Result<Observation, PatternError> {
        let mut obs = self.obs_primary(depth)?;
        let mut depth = depth;
        loop {
            let q = if self.eat_kw("WITHIN") {
                let n = match self.peek() {
                    Some(Tok::Int(n)) if *n >= 0 => n.to_string(),
                    Some(Tok::Float(f)) if f.parse::<f64>().is_ok_and(|v| v >= 0.0) => f.clone(),
                    _ => return self.err("expected a number of seconds after WITHIN"),
                };
                self.pos += 1;
                if !self.eat_kw("SECONDS") {
                    return self.err("expected SECONDS");
                }
                Qualifier::Within(n)
            } else if self.eat_kw("REPEATS") {
                let n = match self.peek() {
                    Some(Tok::Int(n)) if *n >= 0 => *n as u64,
                    _ => return self.err("expected a count after REPEATS"),
                };
                self.pos += 1;
                if !self.eat_kw("TIMES") {
                    return self.err("expected TIMES");
                }
                Qualifier::Repeats(n)
            } else if self.eat_kw("START") {
                let Some(Tok::Timestamp(a)) = self.peek().cloned() else {
                    return self.err("expected a timestamp t'...' after START");
                };
                self.pos += 1;
                if !self.eat_kw("STOP") {
                    return self.err("expected STOP");
                }
                let Some(Tok::Timestamp(b)) = self.peek().cloned() else {
                    return self.err("expected a timestamp t'...' after STOP");
                };
                self.pos += 1;
                Qualifier::StartStop(a, b)
            } else {
                return Ok(obs);
            };
            depth = self.deeper(depth)?;
            obs = Observation::Qualified(Box::new(obs), q);
        }
    }

    fn obs_primary(&mut self, depth: usize) -> Result<Observation, PatternError> {
        match self.peek() {
            Some(Tok::LBracket) => {
                let inner = self.deeper(depth)?;
                self.pos += 1;
                let c = self.comp_or(inner)?;
                self.expect(Tok::RBracket, "']'")?;
                Ok(Observation::Compare(c))
            }
            Some(Tok::LParen) => {
                let inner = self.deeper(depth)?;
                self.pos += 1;
                let o = self.obs_followed(inner)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(o)
            }
            _ => self.err(format!(
                "expected '[' or '(' (an observation expression), found {}",
                self.describe()
            )),
        }
    }

    fn comp_or(&mut self, depth: usize) -> Result<Comparison, PatternError> {
        let mut list = vec![self.comp_and(depth)?];
        while self.eat_kw("OR") {
            list.push(self.comp_and(depth)?);
        }
        Ok(one_or(list, Comparison::Or))
    }

    fn comp_and(&mut self, depth: usize) -> Result<Comparison, PatternError> {
        let mut list = vec![self.comp_test(depth)?];
        while self.eat_kw("AND") {
            list.push(self.comp_test(depth)?);
        }
        Ok(one_or(list, Comparison::And))
    }

    fn comp_test(&mut self, depth: usize) -> Result<Comparison, PatternError> {
        if self.peek() == Some(&Tok::LParen) {
            let inner = self.deeper(depth)?;
            self.pos += 1;
            let c = self.comp_or(inner)?;
            self.expect(Tok::RParen, "')'")?;
            return Ok(c);
        }
        if self.eat_kw("EXISTS") {
            return Ok(Comparison::Exists(self.path()?));
        }
        let path = self.path()?;
        let negated = self.eat_kw("NOT");
        let op = match self.peek() {
            Some(Tok::Eq) => Op::Eq,
            Some(Tok::Ne) => Op::Ne,
            Some(Tok::Gt) => Op::Gt,
            Some(Tok::Lt) => Op::Lt,
            Some(Tok::Ge) => Op::Ge,
            Some(Tok::Le) => Op::Le,
            Some(Tok::Ident(s)) => match s.as_str() {
                "IN" => Op::In,
                "LIKE" => Op::Like,
                "MATCHES" => Op::Matches,
                "ISSUBSET" => Op::IsSubset,
                "ISSUPERSET" => Op::IsSuperset,
                _ => return self.err(format!("expected an operator, found {}", self.describe())),
            },
            _ => return self.err(format!("expected an operator, found {}", self.describe())),
        };
        self.pos += 1;
        let value = match op {
            Op::In => self.set()?,
            Op::Like | Op::Matches | Op::IsSubset | Op::IsSuperset => match self.peek() {
                Some(Tok::Str(s)) => {
                    let v = Literal::Str(s.clone());
                    self.pos += 1;
                    v
                }
                _ => {
                    return self.err(format!(
                        "{} takes a string, found {}",
                        op.as_str(),
                        self.describe()
                    ));
                }
            },
            Op::Gt | Op::Lt | Op::Ge | Op::Le => {
                let v = self.literal()?;
                if matches!(v, Literal::Bool(_)) {
                    return self.err(format!("{} cannot compare a boolean", op.as_str()));
                }
                v
            }
            Op::Eq | Op::Ne => self.literal()?,
        };
        Ok(Comparison::Test(Test {
            path,
            negated,
            op,
            value,
        }))
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        let v = match self.peek() {
            Some(Tok::Str(s)) => Literal::Str(s.clone()),
            Some(Tok::Int(n)) => Literal::Int(*n),
            Some(Tok::Float(f)) => Literal::Float(f.parse().unwrap_or(0.0)),
            Some(Tok::Timestamp(t)) => Literal::Timestamp(t.clone()),
            Some(Tok::Hex(h)) => Literal::Hex(h.clone()),
            Some(Tok::Binary(b)) => Literal::Binary(b.clone()),
            Some(Tok::Ident(s)) if s == "true" => Literal::Bool(true),
            Some(Tok::Ident(s)) if s == "false" => Literal::Bool(false),
            _ => return self.err(format!("expected a literal, found {}", self.describe())),
        };
        self.pos += 1;
        Ok(v)
    }

    fn set(&mut self) -> Result<Literal, PatternError> {
        self.expect(Tok::LParen, "'(' (a set after IN)")?;
        let mut items = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            self.pos += 1;
            return Ok(Literal::Set(items));
        }
        loop {
            items.push(self.literal()?);
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RParen) => {
                    self.pos += 1;
                    return Ok(Literal::Set(items));
                }
                _ => return self.err(format!("expected ',' or ')', found {}", self.describe())),
            }
        }
    }

    fn path(&mut self) -> Result<ObjectPath, PatternError> {
        let object_type = match self.peek() {
            Some(Tok::Ident(s)) if !KEYWORDS.contains(&s.as_str()) => s.clone(),
            _ => {
                return self.err(format!(
                    "expected an object path (type:property), found {}",
                    self.describe()
                ));
            }
        };
        self.pos += 1;
        self.expect(Tok::Colon, "':' after the object type")?;
        let mut steps = vec![self.property()?];
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    steps.push(self.property()?);
                }
                Some(Tok::LBracket) => {
                    self.pos += 1;
                    let step = match self.peek() {
                        Some(Tok::Star) => Step::AnyIndex,
                        Some(Tok::Int(n)) if *n >= 0 => Step::Index(*n as u64),
                        _ => return self.err("expected '*' or an index in '[...]'"),
                    };
                    self.pos += 1;
                    self.expect(Tok::RBracket, "']'")?;
                    steps.push(step);
                }
                _ => return Ok(ObjectPath { object_type, steps }),
            }
        }
    }

    fn property(&mut self) -> Result<Step, PatternError> {
        let p = match self.peek() {
            Some(Tok::Str(s)) => s.clone(),
            Some(Tok::Ident(s)) => {
                if s.contains('-') {
                    return self.err(format!(
                        "property '{s}' has a '-': it must be quoted ('{s}')"
                    ));
                }
                s.clone()
            }
            _ => {
                return self.err(format!(
                    "expected a property name, found {}",
                    self.describe()
                ));
            }
        };
        self.pos += 1;
        Ok(Step::Property(p))
    }
}

fn one_or<T>(mut list: Vec<T>, many: impl FnOnce(Vec<T>) -> T) -> T {
    if list.len() == 1
        && let Some(x) = list.pop()
    {
        return x;
    }
    many(list)
}

/// Parses a STIX 2.1 pattern.
pub fn parse(pattern: &str) -> Result<Observation, PatternError> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(PatternError {
            offset: 0,
            reason: format!(
                "pattern of {} bytes, longer than the {MAX_PATTERN_LEN} accepted",
                pattern.len()
            ),
        });
    }
    let toks = lex(pattern)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: pattern.len(),
    };
    let obs = p.obs_followed(0)?;
    if p.peek().is_some() {
        return p.err(format!("unexpected {} after the pattern", p.describe()));
    }
    Ok(obs)
}

// ----------------------------------------------------------- conversion

/// One indicator drawn from a pattern: the caller adds the metadata of the
/// STIX object around it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Extracted {
    /// What it names.
    pub kind: Kind,
    /// The normalised value.
    pub value: String,
    /// The file size tied to a hash (`file:size` in the same observation).
    pub size: Option<u64>,
}

/// Why a pattern gives no indicator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unusable {
    /// [`SkipClass::Unsupported`] or [`SkipClass::Invalid`].
    pub class: SkipClass,
    /// In words, naming the operator, path or value.
    pub reason: String,
}

fn unsupported<T>(reason: impl Into<String>) -> Result<T, Unusable> {
    Err(Unusable {
        class: SkipClass::Unsupported,
        reason: reason.into(),
    })
}

fn invalid<T>(reason: impl Into<String>) -> Result<T, Unusable> {
    Err(Unusable {
        class: SkipClass::Invalid,
        reason: reason.into(),
    })
}

/// Parses `pattern` and converts it ([`parse`], then [`convert`]); a
/// syntax error is [`SkipClass::Invalid`].
pub fn indicators(pattern: &str) -> Result<Vec<Extracted>, Unusable> {
    let ast = parse(pattern).map_err(|e| Unusable {
        class: SkipClass::Invalid,
        reason: clip_reason(format!("invalid pattern: {e}")),
    })?;
    convert(&ast)
}

/// The indicators a parsed pattern stands for, duplicates removed, or why
/// it stands for none we can use (see the module documentation).
pub fn convert(obs: &Observation) -> Result<Vec<Extracted>, Unusable> {
    let mut out = Vec::new();
    convert_obs(obs, &mut out).map_err(|u| Unusable {
        class: u.class,
        reason: clip_reason(u.reason),
    })?;
    let mut seen = HashSet::with_capacity(out.len());
    out.retain(|e: &Extracted| seen.insert(e.clone()));
    Ok(out)
}

fn convert_obs(obs: &Observation, out: &mut Vec<Extracted>) -> Result<(), Unusable> {
    match obs {
        Observation::Compare(c) => convert_comparison(c, out),
        Observation::Or(list) => {
            for o in list {
                convert_obs(o, out)?;
            }
            Ok(())
        }
        Observation::And(_) => unsupported(
            "AND between observations: several objects together, not a single-file indicator",
        ),
        Observation::FollowedBy(_) => unsupported(
            "FOLLOWEDBY between observations: several objects in sequence, not a single-file indicator",
        ),
        Observation::Qualified(_, q) => {
            let name = match q {
                Qualifier::Within(_) => "WITHIN",
                Qualifier::Repeats(_) => "REPEATS",
                Qualifier::StartStop(..) => "START/STOP",
            };
            unsupported(format!("qualifier {name} ({q}) is not supported"))
        }
    }
}

/// One test of an alternative after `IN` is expanded.
#[derive(Clone, Copy)]
enum Atom<'a> {
    Test {
        path: &'a ObjectPath,
        negated: bool,
        op: Op,
        value: &'a Literal,
    },
    Exists(&'a ObjectPath),
}

impl Atom<'_> {
    fn path(&self) -> &ObjectPath {
        match self {
            Atom::Test { path, .. } | Atom::Exists(path) => path,
        }
    }
}

fn too_many<T>() -> Result<T, Unusable> {
    unsupported(format!(
        "the comparison expands into more than {MAX_EXPANSION} comparisons"
    ))
}

/// Disjunctive normal form: alternatives, each a list of atoms that must
/// all hold, and the number of atoms in all (bounded by
/// [`MAX_EXPANSION`]).
type Dnf<'a> = (Vec<Vec<Atom<'a>>>, usize);

fn dnf(c: &Comparison) -> Result<Dnf<'_>, Unusable> {
    match c {
        Comparison::Exists(p) => Ok((vec![vec![Atom::Exists(p)]], 1)),
        Comparison::Test(t) => match (&t.value, t.op, t.negated) {
            (Literal::Set(items), Op::In, false) => {
                if items.is_empty() {
                    return invalid(format!("{} IN (): an empty set matches nothing", t.path));
                }
                let alts: Vec<_> = items
                    .iter()
                    .map(|v| {
                        vec![Atom::Test {
                            path: &t.path,
                            negated: false,
                            op: Op::Eq,
                            value: v,
                        }]
                    })
                    .collect();
                let n = alts.len();
                Ok((alts, n))
            }
            _ => Ok((
                vec![vec![Atom::Test {
                    path: &t.path,
                    negated: t.negated,
                    op: t.op,
                    value: &t.value,
                }]],
                1,
            )),
        },
        Comparison::Or(list) => {
            let (mut all, mut total) = (Vec::new(), 0usize);
            for c in list {
                let (alts, n) = dnf(c)?;
                total += n;
                if total > MAX_EXPANSION {
                    return too_many();
                }
                all.extend(alts);
            }
            Ok((all, total))
        }
        Comparison::And(list) => {
            let (mut acc, mut total): Dnf<'_> = (vec![Vec::new()], 0);
            for c in list {
                let (alts, n) = dnf(c)?;
                // Every pair (a, b) holds |a| + |b| atoms.
                let next_total = alts
                    .len()
                    .saturating_mul(total)
                    .saturating_add(acc.len().saturating_mul(n));
                if next_total > MAX_EXPANSION {
                    return too_many();
                }
                let mut next = Vec::with_capacity(acc.len() * alts.len());
                for a in &acc {
                    for b in &alts {
                        let mut both = a.clone();
                        both.extend(b.iter().copied());
                        next.push(both);
                    }
                }
                acc = next;
                total = next_total;
            }
            Ok((acc, total))
        }
    }
}

fn convert_comparison(c: &Comparison, out: &mut Vec<Extracted>) -> Result<(), Unusable> {
    for alt in dnf(c)?.0 {
        convert_alternative(&alt, out)?;
    }
    Ok(())
}

/// What one atom says, once understood.
enum Item {
    Hash(Kind, String),
    Name(String),
    Size(u64),
    Net(Kind, String),
}

fn convert_alternative(atoms: &[Atom<'_>], out: &mut Vec<Extracted>) -> Result<(), Unusable> {
    if let Some(first) = atoms.first() {
        let ty = &first.path().object_type;
        if let Some(other) = atoms.iter().find(|a| &a.path().object_type != ty) {
            return unsupported(format!(
                "AND across different objects ({} and {}) is not a single-file indicator",
                ty,
                other.path().object_type
            ));
        }
    }
    let items = atoms.iter().map(item).collect::<Result<Vec<_>, _>>()?;
    let (mut hashes, mut names, mut sizes, mut nets) = (vec![], vec![], vec![], vec![]);
    for it in items {
        match it {
            Item::Hash(k, v) => {
                if let Some((_, other)) = hashes.iter().find(|(k2, v2)| *k2 == k && *v2 != v) {
                    return unsupported(format!(
                        "AND of two different {k} values ({other}, {v}) cannot both hold"
                    ));
                }
                if !hashes.contains(&(k, v.clone())) {
                    hashes.push((k, v));
                }
            }
            Item::Name(r) => {
                if !names.contains(&r) {
                    names.push(r);
                }
            }
            Item::Size(n) => {
                if !sizes.contains(&n) {
                    sizes.push(n);
                }
            }
            Item::Net(k, v) => {
                if !nets.contains(&(k, v.clone())) {
                    nets.push((k, v));
                }
            }
        }
    }
    if sizes.len() > 1 {
        return unsupported(format!(
            "AND of two different file:size values ({}, {}) cannot both hold",
            sizes[0], sizes[1]
        ));
    }
    let size = sizes.first().copied();
    if !hashes.is_empty() {
        // The hash identifies the content: a name next to it is not needed
        // (see the module documentation).
        out.extend(
            hashes
                .into_iter()
                .map(|(kind, value)| Extracted { kind, value, size }),
        );
        return Ok(());
    }
    if let Some(first) = nets.first() {
        if nets.len() > 1 {
            return unsupported(format!(
                "AND of two different {} values ({}, {}) cannot both hold",
                atoms.first().map_or("", |a| a.path().object_type.as_str()),
                first.1,
                nets[1].1
            ));
        }
        let (kind, value) = first.clone();
        out.push(Extracted {
            kind,
            value,
            size: None,
        });
        return Ok(());
    }
    match (names.as_slice(), size) {
        ([name], None) => {
            out.push(Extracted {
                kind: Kind::FileName,
                value: name.clone(),
                size: None,
            });
            Ok(())
        }
        ([], Some(_)) => unsupported("file:size alone does not identify a file"),
        ([_], Some(_)) => unsupported(
            "file:name AND file:size without a hash: a name indicator would match more than the pattern says",
        ),
        _ => unsupported(
            "AND of several file:name tests without a hash: a name indicator would match more than the pattern says",
        ),
    }
}

/// What an object path designates, for the paths we understand.
enum Target {
    Hash(Kind),
    Name,
    Size,
    Net(Kind),
}

fn target(path: &ObjectPath) -> Result<Target, Unusable> {
    let props: Option<Vec<&str>> = path
        .steps
        .iter()
        .map(|s| match s {
            Step::Property(p) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    let t = match (path.object_type.as_str(), props.as_deref()) {
        ("file", Some(["hashes", alg])) => {
            let norm: String = alg
                .chars()
                .filter(|c| *c != '-' && *c != '_')
                .collect::<String>()
                .to_ascii_uppercase();
            match norm.as_str() {
                "MD5" => Target::Hash(Kind::Md5),
                "SHA1" => Target::Hash(Kind::Sha1),
                "SHA256" => Target::Hash(Kind::Sha256),
                _ => return unsupported(format!("hash algorithm in {path} is not supported")),
            }
        }
        ("file", Some(["name"])) => Target::Name,
        ("file", Some(["size"])) => Target::Size,
        ("domain-name", Some(["value"])) => Target::Net(Kind::Domain),
        ("ipv4-addr", Some(["value"])) => Target::Net(Kind::Ipv4),
        ("ipv6-addr", Some(["value"])) => Target::Net(Kind::Ipv6),
        ("url", Some(["value"])) => Target::Net(Kind::Url),
        ("email-addr", Some(["value"])) => Target::Net(Kind::Email),
        _ => return unsupported(format!("object path {path} is not supported")),
    };
    Ok(t)
}

fn item(atom: &Atom<'_>) -> Result<Item, Unusable> {
    let (path, negated, op, value) = match *atom {
        Atom::Exists(p) => return unsupported(format!("EXISTS {p} is not supported")),
        Atom::Test {
            path,
            negated,
            op,
            value,
        } => (path, negated, op, value),
    };
    let target = target(path)?;
    if negated {
        return unsupported(format!("NOT {} on {path} is not supported", op.as_str()));
    }
    let bad_op = || {
        unsupported(format!(
            "operator {} on {path} is not supported",
            op.as_str()
        ))
    };
    let string = |value: &Literal| -> Result<String, Unusable> {
        match value {
            Literal::Str(s) => Ok(s.clone()),
            other => invalid(format!(
                "{path} {} {}: expected a string",
                op.as_str(),
                other.type_name()
            )),
        }
    };
    let norm = |kind: Kind, v: &str| {
        model::normalise(kind, v).map_err(|e| Unusable {
            class: SkipClass::Invalid,
            reason: format!("{path}: {e}"),
        })
    };
    match target {
        Target::Hash(kind) => match op {
            Op::Eq => Ok(Item::Hash(kind, norm(kind, &string(value)?)?)),
            _ => bad_op(),
        },
        Target::Name => {
            let s = string(value)?;
            if matches!(op, Op::Eq | Op::Like | Op::Matches) && s.is_empty() {
                return invalid(format!("{path}: empty"));
            }
            match op {
                Op::Eq => Ok(Item::Name(format!(r"(^|[/\\]){}$", regex_escape(&s)))),
                Op::Like => Ok(Item::Name(like_to_regex(&s))),
                Op::Matches => Ok(Item::Name(norm(Kind::FileName, &s)?)),
                _ => bad_op(),
            }
        }
        Target::Size => match (op, value) {
            (Op::Eq, Literal::Int(n)) => match u64::try_from(*n) {
                Ok(n) => Ok(Item::Size(n)),
                Err(_) => invalid(format!("{path} = {n}: a size cannot be negative")),
            },
            (Op::Eq, other) => invalid(format!(
                "{path} = {}: expected an integer",
                other.type_name()
            )),
            _ => bad_op(),
        },
        Target::Net(kind) => match op {
            Op::Eq => Ok(Item::Net(kind, norm(kind, &string(value)?)?)),
            Op::IsSubset if matches!(kind, Kind::Ipv4 | Kind::Ipv6) => {
                Ok(Item::Net(kind, norm(kind, &string(value)?)?))
            }
            _ => bad_op(),
        },
    }
}

/// Escapes every character the `regex` crate gives a meaning to.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '.'
                | '+'
                | '*'
                | '?'
                | '('
                | ')'
                | '|'
                | '['
                | ']'
                | '{'
                | '}'
                | '^'
                | '$'
                | '#'
                | '&'
                | '-'
                | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `LIKE` on a file name: `%` is any run of characters within the name,
/// `_` one character; anchored as an exact name is.
fn like_to_regex(s: &str) -> String {
    let mut out = String::from(r"(^|[/\\])");
    for c in s.chars() {
        match c {
            '%' => out.push_str(r"[^/\\]*"),
            '_' => out.push_str(r"[^/\\]"),
            c => out.push_str(&regex_escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
    const SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    const SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn ok(p: &str) -> Vec<(Kind, String, Option<u64>)> {
        match indicators(p) {
            Ok(v) => v.into_iter().map(|e| (e.kind, e.value, e.size)).collect(),
            Err(e) => panic!("{p}: {e:?}"),
        }
    }

    fn skip(p: &str) -> Unusable {
        match indicators(p) {
            Ok(v) => panic!("{p}: expected a skip, got {v:?}"),
            Err(e) => e,
        }
    }

    fn unsup(p: &str, words: &str) {
        let e = skip(p);
        assert_eq!(e.class, SkipClass::Unsupported, "{p}: {e:?}");
        assert!(
            e.reason.contains(words),
            "{p}: {:?} lacks {words:?}",
            e.reason
        );
    }

    fn inval(p: &str, words: &str) {
        let e = skip(p);
        assert_eq!(e.class, SkipClass::Invalid, "{p}: {e:?}");
        assert!(
            e.reason.contains(words),
            "{p}: {:?} lacks {words:?}",
            e.reason
        );
    }

    #[test]
    fn hashes_in_every_spelling() {
        for (path, kind, v) in [
            ("file:hashes.MD5", Kind::Md5, MD5),
            ("file:hashes.md5", Kind::Md5, MD5),
            ("file:hashes.'MD5'", Kind::Md5, MD5),
            ("file:hashes.'SHA-1'", Kind::Sha1, SHA1),
            ("file:hashes.SHA1", Kind::Sha1, SHA1),
            ("file:hashes.'SHA-256'", Kind::Sha256, SHA256),
            ("file:hashes.SHA256", Kind::Sha256, SHA256),
            ("file:hashes.SHA_256", Kind::Sha256, SHA256),
        ] {
            let p = format!("[{path} = '{}']", v.to_uppercase());
            assert_eq!(ok(&p), vec![(kind, v.to_string(), None)], "{p}");
        }
    }

    #[test]
    fn names_become_anchored_escaped_regexes() {
        assert_eq!(
            ok("[file:name = 'evil (1).exe']"),
            vec![(Kind::FileName, r"(^|[/\\])evil \(1\)\.exe$".into(), None)]
        );
        assert_eq!(
            ok(r"[file:name = 'it\'s\\x']"),
            vec![(Kind::FileName, r"(^|[/\\])it's\\x$".into(), None)]
        );
        assert_eq!(
            ok("[file:name LIKE 'inv_%.js']"),
            vec![(
                Kind::FileName,
                r"(^|[/\\])inv[^/\\][^/\\]*\.js$".into(),
                None
            )]
        );
        assert_eq!(
            ok(r"[file:name MATCHES '^[a-z]{8}\\.exe$']"),
            vec![(Kind::FileName, r"^[a-z]{8}\.exe$".into(), None)]
        );
    }

    #[test]
    fn network_values() {
        assert_eq!(
            ok("[domain-name:value = 'Evil.Example.']"),
            vec![(Kind::Domain, "evil.example".into(), None)]
        );
        assert_eq!(
            ok("[ipv4-addr:value = '198.51.100.7']"),
            vec![(Kind::Ipv4, "198.51.100.7".into(), None)]
        );
        assert_eq!(
            ok("[ipv4-addr:value = '198.51.100.7/24']"),
            vec![(Kind::Ipv4, "198.51.100.0/24".into(), None)]
        );
        assert_eq!(
            ok("[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
            vec![(Kind::Ipv4, "198.51.100.0/24".into(), None)]
        );
        assert_eq!(
            ok("[ipv6-addr:value ISSUBSET '2001:DB8::/32']"),
            vec![(Kind::Ipv6, "2001:db8::/32".into(), None)]
        );
        assert_eq!(
            ok("[url:value = 'http://evil.example/x']"),
            vec![(Kind::Url, "http://evil.example/x".into(), None)]
        );
        assert_eq!(
            ok("[email-addr:value = 'Boss@Evil.Example']"),
            vec![(Kind::Email, "boss@evil.example".into(), None)]
        );
    }

    #[test]
    fn in_gives_one_per_element_and_or_every_branch() {
        assert_eq!(
            ok("[domain-name:value IN ('a.example', 'b.example', 'a.example')]").len(),
            2
        );
        let v = ok(&format!(
            "[file:hashes.MD5 = '{MD5}' OR domain-name:value = 'c.example'] OR [url:value = 'https://x.example/']"
        ));
        assert_eq!(
            v.iter().map(|x| x.0).collect::<Vec<_>>(),
            [Kind::Md5, Kind::Domain, Kind::Url]
        );
    }

    #[test]
    fn and_on_one_file_keeps_hashes_with_size() {
        let v = ok(&format!(
            "[file:hashes.'SHA-256' = '{SHA256}' AND file:hashes.MD5 = '{MD5}' AND file:size = 42 AND file:name = 'a.exe']"
        ));
        assert_eq!(
            v,
            vec![
                (Kind::Sha256, SHA256.into(), Some(42)),
                (Kind::Md5, MD5.into(), Some(42))
            ]
        );
        // Distributed over an OR: one per alternative, duplicates removed.
        let v = ok(&format!(
            "[file:hashes.MD5 IN ('{MD5}', '{}') AND (file:size = 1 OR file:size = 1)]",
            "0".repeat(32)
        ));
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|x| x.2 == Some(1)));
    }

    #[test]
    fn unsupported_forms_name_what() {
        unsup(
            &format!("[file:hashes.MD5 = '{MD5}'] AND [domain-name:value = 'a.example']"),
            "AND between observations",
        );
        unsup(
            &format!("[file:hashes.MD5 = '{MD5}'] FOLLOWEDBY [file:name = 'x']"),
            "FOLLOWEDBY",
        );
        unsup(
            &format!("[file:hashes.MD5 = '{MD5}' AND domain-name:value = 'a.example']"),
            "AND across different objects",
        );
        unsup(
            "[domain-name:value = 'a.example' AND domain-name:value = 'b.example']",
            "cannot both hold",
        );
        unsup(
            &format!(
                "[file:hashes.MD5 = '{MD5}' AND file:hashes.MD5 = '{}']",
                "1".repeat(32)
            ),
            "cannot both hold",
        );
        unsup("[process:name = 'evil.exe']", "process:name");
        unsup(
            "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\x']",
            "windows-registry-key:key",
        );
        unsup(
            "[network-traffic:dst_ref.value = '198.51.100.1']",
            "network-traffic:dst_ref.value",
        );
        unsup("[file:hashes.'SHA-512' = 'aa']", "hash algorithm");
        unsup("[file:name != 'x']", "operator !=");
        unsup("[file:size > 10]", "operator >");
        unsup("[domain-name:value LIKE '%.example']", "operator LIKE");
        unsup("[domain-name:value ISSUPERSET 'a.example']", "ISSUPERSET");
        unsup("[domain-name:value NOT = 'a.example']", "NOT");
        unsup("[EXISTS file:name]", "EXISTS");
        unsup(
            &format!("[file:hashes.MD5 = '{MD5}'] WITHIN 300 SECONDS"),
            "WITHIN",
        );
        unsup(
            &format!("[file:hashes.MD5 = '{MD5}'] REPEATS 2 TIMES"),
            "REPEATS",
        );
        unsup(
            &format!(
                "[file:hashes.MD5 = '{MD5}'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'"
            ),
            "START",
        );
        unsup("[file:size = 12]", "file:size alone");
        unsup("[file:name = 'a' AND file:size = 12]", "without a hash");
        // An OR is used only whole: the unsupported branch skips it all.
        unsup(
            &format!("[file:hashes.MD5 = '{MD5}'] OR [process:name = 'x']"),
            "process:name",
        );
        unsup(
            &format!("[file:hashes.MD5 = '{MD5}' OR process:name = 'x']"),
            "process:name",
        );
    }

    #[test]
    fn invalid_values_and_syntax() {
        inval(
            &format!("[file:hashes.MD5 = '{}']", &MD5[..31]),
            "32 hex digits",
        );
        inval("[ipv4-addr:value = 'x']", "not an IP address");
        inval("[ipv4-addr:value = '2001:db8::1']", "address family");
        inval("[file:hashes.MD5 = 5]", "expected a string");
        inval("[file:size = 'big']", "expected an integer");
        inval("[file:size = -1]", "negative");
        inval("[domain-name:value IN ()]", "empty set");
        for bad in [
            "",
            "file:name = 'x'",
            "[file:name = 'x'",
            "[file:name = 'x']]",
            "[file:name = 'x] ",
            "[file:name =< 'x']",
            "[file:name = 'a\\d']",
            "[file:hashes.SHA-256 = 'x']",
            "[file:name = 'x'] AND",
            "[file:name LIKE 5]",
            "[file:name = 'x'] WITHIN -1 SECONDS",
            "[file:created = t'yesterday']",
            "[file:x = h'abc']",
            "[file:x = b'!!!!']",
            "[file:name = 'x' and file:size = 1]",
            "[AND:name = 'x']",
        ] {
            inval(bad, "invalid pattern");
        }
    }

    #[test]
    fn full_grammar_parses() {
        for p in [
            "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.5]",
            "[network-traffic:dst_ref.value = '198.51.100.1' AND network-traffic:dst_port = 443]",
            "[x-custom:list[0] = true] OR [x-custom:f <= -1.25] OR [x-custom:g >= .5]",
            "[file:created > t'2020-01-01T00:00:00.123Z']",
            "[artifact:payload_bin = b'AAEC' OR artifact:x = h'00ff']",
            "([file:name = 'a'] AND [file:name = 'b']) FOLLOWEDBY [file:name = 'c'] WITHIN 1.5 SECONDS",
            "[process:pid IN (1, 2, 3)] REPEATS 5 TIMES",
            "[file:name <> 'x' AND ((file:size < 10) OR file:size NOT = 3)]",
            "[EXISTS windows-registry-key:values[*].name]",
        ] {
            if let Err(e) = parse(p) {
                panic!("{p}: {e}");
            }
        }
        let ast = parse("[a:b = 1] OR [a:b = 2] AND [a:b = 3] FOLLOWEDBY [a:b = 4]").unwrap();
        let Observation::FollowedBy(parts) = ast else {
            panic!("FOLLOWEDBY binds loosest")
        };
        assert!(matches!(&parts[0], Observation::Or(o) if matches!(o[1], Observation::And(_))));
    }

    #[test]
    fn hostile_patterns_are_errors_not_crashes() {
        let deep = format!(
            "{}[file:name = 'x']{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        inval(&deep, "nested deeper");
        let deep = format!(
            "[{}file:name = 'x'{}]",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        inval(&deep, "nested deeper");
        let quals = format!("[file:name = 'x']{}", " REPEATS 2 TIMES".repeat(10_000));
        inval(&quals, "nested deeper");
        let long = format!("[file:name = '{}']", "a".repeat(MAX_PATTERN_LEN));
        inval(&long, "longer than");
        // Reasons quoting a long value are clipped.
        let long = format!("[x:'{}' = 1]", "p".repeat(100_000));
        assert!(skip(&long).reason.chars().count() <= MAX_REASON + 3);
        let long = format!("[file:name = 'x' {}]", "y".repeat(100_000));
        assert!(skip(&long).reason.chars().count() <= MAX_REASON + 3);
        // 2^20 alternatives from 20 ORs under one AND.
        let blow = format!(
            "[{}]",
            vec!["(file:size = 1 OR file:size = 2)"; 20].join(" AND ")
        );
        unsup(&blow, "expands into more than");
        // Long flat chains are not recursion.
        let flat = format!(
            "[{}]",
            vec!["domain-name:value = 'a.example'"; 20_000].join(" OR ")
        );
        assert_eq!(ok(&flat).len(), 1);
        assert!(parse("[file:name = '\u{1F600}\u{0}']").is_ok());
        inval("[file:name = 'x'] \u{1F600}", "unexpected character");
        inval("[file:size = 99999999999999999999999]", "out of range");
    }
}
