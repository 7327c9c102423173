//! The hex body of a body signature (`.ndb` bodies, `.ldb` subsignatures):
//! parsed into a flat list of [`Elem`]s that the matcher walks.
//!
//! Every construct of ClamAV's "Body-based Signature Content Format" that
//! can be matched on raw bytes is parsed here; the character classes `(B)`
//! and `(L)` (zero-width boundaries) are refused as unsupported.

use std::fmt;

/// Longest hex body accepted, in characters. Real bodies stay under a few
/// KiB; this stops a hostile line from building a huge element list.
pub const MAX_BODY_CHARS: usize = 256 * 1024;
/// Largest `{n}` / `{n-m}` bound accepted (ClamAV's own limit is lower);
/// keeps offset arithmetic far from overflow.
pub const MAX_GAP: u32 = 1 << 30;
/// Most alternatives in one `( | )` group.
pub const MAX_ALTERNATIVES: usize = 4096;

/// One element of a body pattern.
#[derive(Clone, PartialEq, Eq)]
pub enum Elem {
    /// An exact byte.
    Byte(u8),
    /// Two or more exact bytes (consecutive bytes are merged into one).
    Lit(Box<[u8]>),
    /// A byte compared under a mask: `??` (mask 0), `a?` (mask 0xf0), `?a` (mask 0x0f).
    Mask {
        /// Expected bits.
        value: u8,
        /// Which bits are compared.
        mask: u8,
    },
    /// A set of bytes: `(aa|bb)`, `!(aa|bb)`, `(W)`.
    Set(Box<ByteSet>),
    /// `!(aabb|ccdd)`: any `n` bytes except the listed sequences (all of length `n`).
    NotSeq(Box<Vec<Vec<u8>>>),
    /// Generic alternatives, possibly of different lengths.
    Alt(Box<Vec<Vec<Elem>>>),
    /// `{n}`, `{-n}`, `{n-}`, `{n-m}`, `*` (max `None` = unbounded).
    Gap {
        /// Fewest bytes skipped.
        min: u32,
        /// Most bytes skipped; `None` for no bound.
        max: Option<u32>,
    },
}

/// 256-bit byte set.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ByteSet(pub [u64; 4]);

impl ByteSet {
    /// Adds `b`.
    pub fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1u64 << (b & 63);
    }
    /// Whether `b` is in the set.
    pub fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1u64 << (b & 63)) != 0
    }
    /// The complement.
    pub fn negate(&mut self) {
        for w in &mut self.0 {
            *w = !*w;
        }
    }
    fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

impl Elem {
    /// Width in bytes when fixed (`None` for gaps and variable alternatives).
    pub fn width(&self) -> Option<usize> {
        match self {
            Elem::Byte(_) | Elem::Mask { .. } | Elem::Set(_) => Some(1),
            Elem::Lit(l) => Some(l.len()),
            Elem::NotSeq(seqs) => seqs.first().map(Vec::len),
            Elem::Gap { min, max } if Some(*min) == *max => Some(*min as usize),
            Elem::Gap { .. } => None,
            Elem::Alt(alts) => {
                let mut w = None;
                for a in alts.iter() {
                    let mut sum = 0usize;
                    for e in a {
                        sum = sum.checked_add(e.width()?)?;
                    }
                    match w {
                        None => w = Some(sum),
                        Some(x) if x == sum => {}
                        Some(_) => return None,
                    }
                }
                w
            }
        }
    }
}

/// Why a body was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not a valid body.
    Malformed(String),
    /// Valid ClamAV syntax this crate does not match (see docs).
    Unsupported(String),
}

fn bad<T>(msg: impl Into<String>) -> Result<T, BodyError> {
    Err(BodyError::Malformed(msg.into()))
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses a hex body.
pub fn parse_body(text: &str) -> Result<Vec<Elem>, BodyError> {
    if text.is_empty() {
        return bad("empty body");
    }
    if text.len() > MAX_BODY_CHARS {
        return bad(format!("body longer than {MAX_BODY_CHARS} characters"));
    }
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let elems = p.seq(false)?;
    if p.i != p.s.len() {
        return bad(format!("unexpected '{}' at {}", p.s[p.i] as char, p.i));
    }
    if elems.iter().all(|e| matches!(e, Elem::Gap { .. })) {
        return bad("body has no bytes to match");
    }
    // A bounded range at either end (`5068{4}`, found in ClamAV's own
    // databases) only asks for that many bytes; an unbounded one is
    // meaningless there.
    let unbounded = |e: Option<&Elem>| matches!(e, Some(Elem::Gap { max: None, .. }));
    if unbounded(elems.first()) || unbounded(elems.last()) {
        return bad("body starts or ends with an unbounded wildcard");
    }
    Ok(elems)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// A sequence of elements; inside alternatives it stops at `|` or `)`.
    fn seq(&mut self, in_alt: bool) -> Result<Vec<Elem>, BodyError> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                b'|' | b')' if in_alt => break,
                b'*' => {
                    if in_alt {
                        return bad("'*' inside alternatives");
                    }
                    self.i += 1;
                    out.push(Elem::Gap { min: 0, max: None });
                }
                b'{' => {
                    let g = self.gap()?;
                    if in_alt && !matches!(g, Elem::Gap { max: Some(m), .. } if m < 128) {
                        return bad("alternatives allow only ranges below 128");
                    }
                    out.push(g);
                }
                b'[' => out.push(self.anchored_range()?),
                b'!' => {
                    if in_alt {
                        return bad("negation inside alternatives");
                    }
                    self.i += 1;
                    if self.peek() != Some(b'(') {
                        return bad("'!' not followed by '('");
                    }
                    out.push(self.group(true)?);
                }
                b'(' => {
                    if in_alt {
                        return bad("nested alternatives");
                    }
                    out.push(self.group(false)?);
                }
                _ => out.push(self.byte()?),
            }
        }
        Ok(merge(out))
    }

    fn byte(&mut self) -> Result<Elem, BodyError> {
        let (Some(&a), Some(&b)) = (self.s.get(self.i), self.s.get(self.i + 1)) else {
            return bad(format!("odd number of hex digits at {}", self.i));
        };
        let at = self.i;
        self.i += 2;
        match (a, b) {
            (b'?', b'?') => Ok(Elem::Mask { value: 0, mask: 0 }),
            (b'?', _) => match hexval(b) {
                Some(v) => Ok(Elem::Mask {
                    value: v,
                    mask: 0x0f,
                }),
                None => bad(format!("bad hex digit at {}", at + 1)),
            },
            (_, b'?') => match hexval(a) {
                Some(v) => Ok(Elem::Mask {
                    value: v << 4,
                    mask: 0xf0,
                }),
                None => bad(format!("bad hex digit at {at}")),
            },
            _ => match (hexval(a), hexval(b)) {
                (Some(h), Some(l)) => Ok(Elem::Byte(h << 4 | l)),
                _ => bad(format!("bad hex digit at {at}")),
            },
        }
    }

    fn number(&mut self) -> Result<Option<u32>, BodyError> {
        let start = self.i;
        let mut v: u32 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u32::from(c - b'0')))
                .filter(|v| *v <= MAX_GAP)
                .ok_or_else(|| BodyError::Malformed(format!("range bound too large at {start}")))?;
            self.i += 1;
        }
        Ok((self.i > start).then_some(v))
    }

    /// `{n}`, `{-n}`, `{n-}`, `{n-m}`.
    fn gap(&mut self) -> Result<Elem, BodyError> {
        let at = self.i;
        self.i += 1;
        let lo = self.number()?;
        let (min, max) = if self.peek() == Some(b'-') {
            self.i += 1;
            let hi = self.number()?;
            match (lo, hi) {
                (None, Some(h)) => (0, Some(h)),
                (Some(l), None) => (l, None),
                (Some(l), Some(h)) if l <= h => (l, Some(h)),
                (Some(_), Some(_)) => return bad(format!("range {{n-m}} with n > m at {at}")),
                (None, None) => return bad(format!("empty range at {at}")),
            }
        } else {
            match lo {
                Some(n) => (n, Some(n)),
                None => return bad(format!("empty range at {at}")),
            }
        };
        if self.peek() != Some(b'}') {
            return bad(format!("unterminated range at {at}"));
        }
        self.i += 1;
        Ok(Elem::Gap { min, max })
    }

    /// `[x-y]`: the next (or previous) byte is anchored within x..y bytes;
    /// equivalent to a `{x-y}` range on raw bytes.
    fn anchored_range(&mut self) -> Result<Elem, BodyError> {
        let at = self.i;
        self.i += 1;
        let lo = self.number()?;
        if self.peek() != Some(b'-') {
            return bad(format!("bad [x-y] at {at}"));
        }
        self.i += 1;
        let hi = self.number()?;
        if self.peek() != Some(b']') {
            return bad(format!("unterminated [x-y] at {at}"));
        }
        self.i += 1;
        match (lo, hi) {
            (Some(l), Some(h)) if l <= h && h < 32 => Ok(Elem::Gap {
                min: l,
                max: Some(h),
            }),
            _ => bad(format!("bad [x-y] bounds at {at}")),
        }
    }

    /// `( ... | ... )`, `!( ... )`, `(B)`, `(L)`, `(W)`.
    fn group(&mut self, negated: bool) -> Result<Elem, BodyError> {
        let at = self.i;
        self.i += 1;
        if let (Some(&c), Some(b')')) = (self.s.get(self.i), self.s.get(self.i + 1)) {
            match c {
                b'B' | b'L' => {
                    return Err(BodyError::Unsupported(format!(
                        "character class ({}) (a zero-width boundary)",
                        c as char
                    )));
                }
                b'W' => {
                    self.i += 2;
                    let mut set = ByteSet::default();
                    for b in 0..=255u8 {
                        if !b.is_ascii_alphanumeric() {
                            set.insert(b);
                        }
                    }
                    if negated {
                        set.negate();
                    }
                    return Ok(Elem::Set(Box::new(set)));
                }
                _ => {}
            }
        }
        let mut alts = Vec::new();
        loop {
            if alts.len() >= MAX_ALTERNATIVES {
                return bad(format!("more than {MAX_ALTERNATIVES} alternatives at {at}"));
            }
            let alt = self.seq(true)?;
            if alt.is_empty() {
                return bad(format!("empty alternative at {at}"));
            }
            alts.push(alt);
            match self.peek() {
                Some(b'|') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    break;
                }
                _ => return bad(format!("unterminated alternatives at {at}")),
            }
        }
        // A group of one alternative is that alternative: ClamAV accepts
        // `(aa)`, and generated or hand-edited feeds contain it.
        let exact: Option<Vec<Vec<u8>>> = alts.iter().map(|a| bytes_of(a)).collect();
        match exact {
            Some(seqs) if seqs.iter().all(|s| s.len() == 1) => {
                let mut set = ByteSet::default();
                for s in &seqs {
                    set.insert(s[0]);
                }
                if negated {
                    set.negate();
                }
                Ok(Elem::Set(Box::new(set)))
            }
            Some(seqs) if negated => {
                let n = seqs[0].len();
                if seqs.iter().any(|s| s.len() != n) {
                    return bad(format!("negated alternatives of different lengths at {at}"));
                }
                Ok(Elem::NotSeq(Box::new(seqs)))
            }
            _ if negated => bad(format!("negated alternatives may hold only bytes at {at}")),
            _ => Ok(Elem::Alt(Box::new(alts))),
        }
    }
}

/// The bytes of a sequence made only of exact bytes.
fn bytes_of(elems: &[Elem]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for e in elems {
        match e {
            Elem::Byte(b) => out.push(*b),
            Elem::Lit(l) => out.extend_from_slice(l),
            _ => return None,
        }
    }
    Some(out)
}

/// An exact-bytes element for `bytes`: `Byte` for one, `Lit` for more.
pub fn lit(bytes: &[u8]) -> Option<Elem> {
    match bytes {
        [] => None,
        [b] => Some(Elem::Byte(*b)),
        _ => Some(Elem::Lit(bytes.into())),
    }
}

/// Merges runs of exact bytes into `Lit` elements (less memory, and the
/// matcher compares them as slices).
pub fn merge(elems: Vec<Elem>) -> Vec<Elem> {
    let mut out = Vec::with_capacity(elems.len());
    let mut run: Vec<u8> = Vec::new();
    for e in elems {
        match e {
            Elem::Byte(b) => run.push(b),
            Elem::Lit(l) => run.extend_from_slice(&l),
            other => {
                out.extend(lit(&run));
                run.clear();
                out.push(other);
            }
        }
    }
    out.extend(lit(&run));
    // Sized for the elements before merging: give the slack back.
    out.shrink_to_fit();
    out
}

/// Applies the `w` (wide) modifier: every fixed byte is followed by 0x00;
/// wildcards stay as they are (as ClamAV documents).
pub fn widen(elems: &[Elem]) -> Vec<Elem> {
    let mut out = Vec::with_capacity(elems.len() * 2);
    for e in elems {
        match e {
            Elem::Byte(_) | Elem::Set(_) => {
                out.push(e.clone());
                out.push(Elem::Byte(0));
            }
            Elem::Lit(l) => out.push(Elem::Lit(l.iter().flat_map(|b| [*b, 0]).collect())),
            Elem::NotSeq(seqs) => out.push(Elem::NotSeq(Box::new(
                seqs.iter()
                    .map(|s| s.iter().flat_map(|b| [*b, 0]).collect())
                    .collect(),
            ))),
            Elem::Alt(alts) => {
                out.push(Elem::Alt(Box::new(alts.iter().map(|a| widen(a)).collect())))
            }
            Elem::Mask { .. } | Elem::Gap { .. } => out.push(e.clone()),
        }
    }
    merge(out)
}

/// Canonical text form, used by the golden tests and in messages.
pub struct Display<'a>(pub &'a [Elem]);

impl fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.0 {
            write!(f, "{e:?}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Elem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Elem::Byte(b) => write!(f, "{b:02x}"),
            Elem::Lit(l) => write!(f, "{}", hex::encode(l)),
            Elem::Mask { mask: 0, .. } => write!(f, "??"),
            Elem::Mask { value, mask: 0xf0 } => write!(f, "{:x}?", value >> 4),
            Elem::Mask { value, .. } => write!(f, "?{:x}", value & 0x0f),
            Elem::Set(set) => {
                let n = set.count();
                let (neg, show) = if n > 128 {
                    let mut s = (**set).clone();
                    s.negate();
                    ("!", s)
                } else {
                    ("", (**set).clone())
                };
                write!(f, "{neg}[")?;
                let mut first = true;
                for b in 0..=255u8 {
                    if show.contains(b) {
                        if !first {
                            write!(f, "|")?;
                        }
                        first = false;
                        write!(f, "{b:02x}")?;
                    }
                }
                write!(f, "]")
            }
            Elem::NotSeq(seqs) => {
                write!(f, "!(")?;
                for (i, s) in seqs.iter().enumerate() {
                    if i > 0 {
                        write!(f, "|")?;
                    }
                    write!(f, "{}", hex::encode(s))?;
                }
                write!(f, ")")
            }
            Elem::Alt(alts) => {
                write!(f, "(")?;
                for (i, a) in alts.iter().enumerate() {
                    if i > 0 {
                        write!(f, "|")?;
                    }
                    write!(f, "{}", Display(a))?;
                }
                write!(f, ")")
            }
            Elem::Gap { min: 0, max: None } => write!(f, "*"),
            Elem::Gap { min, max: None } => write!(f, "{{{min}-}}"),
            Elem::Gap { min, max: Some(m) } if min == m => write!(f, "{{{min}}}"),
            Elem::Gap { min, max: Some(m) } => write!(f, "{{{min}-{m}}}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(s: &str) -> String {
        match parse_body(s) {
            Ok(e) => Display(&e).to_string(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn constructs() {
        assert_eq!(show("4142"), "4142");
        assert_eq!(show("41??4??2"), "41??4??2");
        assert_eq!(show("41(42|43)44"), "41[42|43]44");
        assert_eq!(show("41!(42|43)44"), "41![42|43]44");
        assert_eq!(show("41(4242|4343)44"), "41(4242|4343)44");
        assert_eq!(show("41!(4242|4343)44"), "41!(4242|4343)44");
        assert_eq!(
            show("41{2}42{-3}43{4-}44{5-6}45*46"),
            "41{2}42{0-3}43{4-}44{5-6}45*46"
        );
        assert_eq!(
            show("4142(W)43"),
            "4142![30|31|32|33|34|35|36|37|38|39|41|42|43|44|45|46|47|48|49|4a|4b|4c|4d|4e|4f|50|51|52|53|54|55|56|57|58|59|5a|61|62|63|64|65|66|67|68|69|6a|6b|6c|6d|6e|6f|70|71|72|73|74|75|76|77|78|79|7a]43"
        );
    }

    #[test]
    fn broken() {
        for s in [
            "",
            "4",
            "41g1",
            "41{",
            "41{5-2}42",
            "41(42",
            "*4142",
            "4142*",
            "41((42|43)|44)",
            "41!(4?|43)",
            "41(B)42",
            "41{99999999999}42",
            "41{2-}",
            "41()42",
        ] {
            assert!(parse_body(s).is_err(), "{s} accepted");
        }
    }
}
