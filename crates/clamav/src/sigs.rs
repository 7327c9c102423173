//! Line parsers for `.ndb`, `.ldb`, `.mdb`/`.msb` and `.ign2`/`.ign`.
//!
//! Each parser turns one line into a parsed signature or a [`LineError`]:
//! `Malformed` (not valid ClamAV syntax) or `Unsupported` (valid, but a
//! construct this crate does not match; see `docs/clamav-signatures.md`).
//! Both cost only that line.

use crate::expr::Expr;
use crate::hexsig::{self, BodyError, Elem};
use crate::offset::{Offset, OffsetError};
use crate::target::TargetType;
use std::fmt;

/// Longest line accepted, in bytes.
pub const MAX_LINE: usize = 1024 * 1024;
/// Longest signature name accepted.
pub const MAX_NAME: usize = 512;

/// Why a line was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not valid ClamAV syntax.
    Malformed(String),
    /// Valid ClamAV syntax this crate does not match.
    Unsupported(String),
}

impl From<BodyError> for LineError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Malformed(m) => LineError::Malformed(m),
            BodyError::Unsupported(m) => LineError::Unsupported(m),
        }
    }
}

impl From<OffsetError> for LineError {
    fn from(e: OffsetError) -> Self {
        match e {
            OffsetError::Malformed(m) => LineError::Malformed(m),
            OffsetError::Unsupported(m) => LineError::Unsupported(m),
        }
    }
}

fn bad<T>(m: impl Into<String>) -> Result<T, LineError> {
    Err(LineError::Malformed(m.into()))
}

fn name(s: &str) -> Result<String, LineError> {
    if s.is_empty() {
        return bad("empty signature name");
    }
    if s.len() > MAX_NAME {
        return bad(format!("signature name longer than {MAX_NAME} bytes"));
    }
    if s.bytes().any(|b| b.is_ascii_control()) {
        return bad("control character in signature name");
    }
    Ok(s.to_string())
}

fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, LineError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return bad(format!("bad {what} '{s}'"));
    }
    s.parse()
        .map_err(|_| LineError::Malformed(format!("{what} '{s}' out of range")))
}

fn target(s: &str) -> Result<TargetType, LineError> {
    let n: u32 = number(s, "target type")?;
    TargetType::from_number(n).ok_or_else(|| LineError::Unsupported(format!("target type {n}")))
}

/// A body pattern with its offset and modifiers: an `.ndb` body or a
/// non-PCRE `.ldb` subsignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Where it must start.
    pub offset: Offset,
    /// The pattern.
    pub elems: Vec<Elem>,
    /// `::i`
    pub nocase: bool,
    /// `::w` (wide form searched)
    pub wide: bool,
    /// `::a` (ASCII form searched too when `wide`)
    pub ascii: bool,
    /// `::f`
    pub fullword: bool,
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.offset, hexsig::Display(&self.elems))?;
        let mut m = String::new();
        for (on, c) in [
            (self.nocase, 'i'),
            (self.wide, 'w'),
            (self.fullword, 'f'),
            (self.ascii, 'a'),
        ] {
            if on {
                m.push(c);
            }
        }
        if !m.is_empty() {
            write!(f, "::{m}")?;
        }
        Ok(())
    }
}

/// One `.ndb` signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ndb {
    /// Signature name.
    pub name: String,
    /// Target type.
    pub target: TargetType,
    /// Offset and pattern.
    pub body: Body,
}

impl fmt::Display for Ndb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ndb name={} target={} body={}",
            self.name, self.target, self.body
        )
    }
}

/// Parses one `.ndb` line: `Name:Target:Offset:Hex[:MinFL[:MaxFL]]`.
pub fn parse_ndb(line: &str) -> Result<Ndb, LineError> {
    let f: Vec<&str> = line.splitn(7, ':').collect();
    if f.len() < 4 {
        return bad("expected Name:TargetType:Offset:HexSignature");
    }
    if f.len() > 6 {
        return bad("too many fields");
    }
    for fl in f.iter().skip(4) {
        if !fl.is_empty() {
            number::<u32>(fl, "functionality level")?;
        }
    }
    let name = name(f[0])?;
    let target = target(f[1])?;
    let offset = Offset::parse(f[2])?;
    let elems = hexsig::parse_body(f[3])?;
    Ok(Ndb {
        name,
        target,
        body: Body {
            offset,
            elems,
            nocase: false,
            wide: false,
            ascii: false,
            fullword: false,
        },
    })
}

/// PCRE subsignature flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcreFlags {
    /// `g`: count every match.
    pub global: bool,
    /// `r`: search from the offset on instead of only at it.
    pub rolling: bool,
    /// `e`: the match must lie within offset..offset+maxshift.
    pub encompass: bool,
    /// `i`
    pub caseless: bool,
    /// `s`
    pub dotall: bool,
    /// `m`
    pub multiline: bool,
    /// `x`
    pub extended: bool,
    /// `A`
    pub anchored: bool,
    /// `E`
    pub dollar_endonly: bool,
    /// `U`
    pub ungreedy: bool,
}

impl fmt::Display for PcreFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (on, c) in [
            (self.global, 'g'),
            (self.rolling, 'r'),
            (self.encompass, 'e'),
            (self.caseless, 'i'),
            (self.dotall, 's'),
            (self.multiline, 'm'),
            (self.extended, 'x'),
            (self.anchored, 'A'),
            (self.dollar_endonly, 'E'),
            (self.ungreedy, 'U'),
        ] {
            if on {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A PCRE subsignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcre {
    /// Offset, when given.
    pub offset: Option<Offset>,
    /// When it runs: an expression over earlier subsignatures.
    pub trigger: Expr,
    /// The expression between the slashes, as written.
    pub pattern: String,
    /// Flags after the last slash.
    pub flags: PcreFlags,
}

/// One `.ldb` subsignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubSig {
    /// Hex body.
    Body(Body),
    /// PCRE.
    Pcre(Pcre),
}

/// The target description block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tdb {
    /// `Target:X`
    pub target: Option<TargetType>,
    /// `Engine:X-Y` (functionality levels; kept, not enforced)
    pub engine: Option<(u32, u32)>,
    /// `FileSize:X-Y`
    pub file_size: Option<(u64, u64)>,
    /// `EntryPoint:X-Y`
    pub entry_point: Option<(u64, u64)>,
    /// `NumberOfSections:X-Y`
    pub sections: Option<(u64, u64)>,
}

/// One `.ldb` signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ldb {
    /// Signature name.
    pub name: String,
    /// Target description block.
    pub tdb: Tdb,
    /// Logical expression.
    pub expr: Expr,
    /// Subsignatures, in order.
    pub subsigs: Vec<SubSig>,
}

impl fmt::Display for Ldb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ldb name={} tdb=[", self.name)?;
        let t = &self.tdb;
        let mut parts = Vec::new();
        if let Some(x) = t.target {
            parts.push(format!("Target:{x}"));
        }
        if let Some((a, b)) = t.engine {
            parts.push(format!("Engine:{a}-{b}"));
        }
        if let Some((a, b)) = t.file_size {
            parts.push(format!("FileSize:{a}-{b}"));
        }
        if let Some((a, b)) = t.entry_point {
            parts.push(format!("EntryPoint:{a}-{b}"));
        }
        if let Some((a, b)) = t.sections {
            parts.push(format!("NumberOfSections:{a}-{b}"));
        }
        write!(f, "{}] expr={}", parts.join(","), self.expr)?;
        for (i, s) in self.subsigs.iter().enumerate() {
            match s {
                SubSig::Body(b) => write!(f, " sub{i}={b}")?,
                SubSig::Pcre(p) => {
                    let o = p.offset.map(|o| format!("{o}:")).unwrap_or_default();
                    write!(
                        f,
                        " sub{i}=pcre[{o}{} /{}/{}]",
                        p.trigger, p.pattern, p.flags
                    )?
                }
            }
        }
        Ok(())
    }
}

fn range<T: std::str::FromStr + PartialOrd + Copy>(
    s: &str,
    what: &str,
) -> Result<(T, T), LineError> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (number(a, what)?, number(b, what)?),
        None => {
            let v = number(s, what)?;
            (v, v)
        }
    };
    if a > b {
        return bad(format!("{what} range '{s}' is empty"));
    }
    Ok((a, b))
}

fn parse_tdb(s: &str) -> Result<Tdb, LineError> {
    let mut t = Tdb::default();
    for kv in s.split(',') {
        let Some((k, v)) = kv.split_once(':') else {
            return bad(format!("target description '{kv}' is not Key:Value"));
        };
        match k {
            "Target" => t.target = Some(target(v)?),
            "Engine" => t.engine = Some(range(v, "engine level")?),
            "FileSize" => t.file_size = Some(range(v, "file size")?),
            "EntryPoint" => t.entry_point = Some(range(v, "entry point")?),
            "NumberOfSections" => t.sections = Some(range(v, "number of sections")?),
            "Container" | "Intermediates" | "IconGroup1" | "IconGroup2" | "HandlerType" => {
                return Err(LineError::Unsupported(format!("target description {k}")));
            }
            _ => return bad(format!("unknown target description key '{k}'")),
        }
    }
    // ClamAV refuses the attributes newer than Target without an Engine
    // level of at least 51 (its backward-compatibility rule).
    let newer = t.file_size.is_some() || t.entry_point.is_some() || t.sections.is_some();
    if newer && t.engine.is_none_or(|(lo, _)| lo < 51) {
        return bad("FileSize, EntryPoint and NumberOfSections need Engine:51 or higher");
    }
    Ok(t)
}

fn parse_flags(s: &str) -> Result<PcreFlags, LineError> {
    let mut f = PcreFlags::default();
    for c in s.chars() {
        match c {
            'g' => f.global = true,
            'r' => f.rolling = true,
            'e' => f.encompass = true,
            'i' => f.caseless = true,
            's' => f.dotall = true,
            'm' => f.multiline = true,
            'x' => f.extended = true,
            'A' => f.anchored = true,
            'E' => f.dollar_endonly = true,
            'U' => f.ungreedy = true,
            _ => return bad(format!("unknown PCRE flag '{c}'")),
        }
    }
    Ok(f)
}

fn parse_subsig(s: &str, index: usize) -> Result<SubSig, LineError> {
    if s.starts_with('$') {
        return Err(LineError::Unsupported("macro subsignature".into()));
    }
    if s.starts_with("fuzzy_img#") {
        return Err(LineError::Unsupported(
            "fuzzy image hash subsignature".into(),
        ));
    }
    if s.contains("(>>") || s.contains("(<<") {
        return Err(LineError::Unsupported("byte compare subsignature".into()));
    }
    if let Some(first) = s.find('/') {
        let last = s.rfind('/').unwrap_or(first);
        if last == first {
            return bad("PCRE subsignature without closing '/'");
        }
        let (head, pattern, flags) = (&s[..first], &s[first + 1..last], &s[last + 1..]);
        if pattern.is_empty() {
            return bad("empty PCRE");
        }
        let (offset, trigger) = match head.split_once(':') {
            Some((o, t)) => (Some(Offset::parse(o)?), t),
            None => (None, head),
        };
        let trigger = Expr::parse(trigger).map_err(LineError::Malformed)?;
        if trigger.max_sub() >= index {
            return bad("PCRE trigger refers to itself or a later subsignature");
        }
        return Ok(SubSig::Pcre(Pcre {
            offset,
            trigger,
            pattern: pattern.to_string(),
            flags: parse_flags(flags)?,
        }));
    }
    let (main, mods) = match s.split_once("::") {
        Some((m, x)) => (m, x),
        None => (s, ""),
    };
    let (offset, hex) = match main.rsplit_once(':') {
        Some((o, h)) => (Offset::parse(o)?, h),
        None => (Offset::Any, main),
    };
    let mut body = Body {
        offset,
        elems: hexsig::parse_body(hex)?,
        nocase: false,
        wide: false,
        ascii: false,
        fullword: false,
    };
    for c in mods.chars() {
        match c {
            'i' => body.nocase = true,
            'w' => body.wide = true,
            'a' => body.ascii = true,
            'f' => body.fullword = true,
            _ => return bad(format!("unknown subsignature modifier '{c}'")),
        }
    }
    Ok(SubSig::Body(body))
}

/// Parses one `.ldb` line:
/// `Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1;...`.
pub fn parse_ldb(line: &str) -> Result<Ldb, LineError> {
    let f: Vec<&str> = line.split(';').collect();
    if f.len() < 4 {
        return bad("expected Name;TargetDescriptionBlock;LogicalExpression;Subsig0[;...]");
    }
    let subs = &f[3..];
    if subs.len() > crate::expr::MAX_SUBSIGS {
        return bad(format!(
            "more than {} subsignatures",
            crate::expr::MAX_SUBSIGS
        ));
    }
    let name = name(f[0])?;
    let tdb = parse_tdb(f[1])?;
    let expr = Expr::parse(f[2]).map_err(LineError::Malformed)?;
    // As ClamAV: the expression's highest subsignature is the last one.
    if expr.max_sub() + 1 != subs.len() {
        return bad(format!(
            "logical expression uses subsignatures up to {} but {} are given",
            expr.max_sub(),
            subs.len()
        ));
    }
    let subsigs = subs
        .iter()
        .enumerate()
        .map(|(i, s)| parse_subsig(s, i))
        .collect::<Result<Vec<_>, _>>()?;
    if !subsigs.iter().any(|s| matches!(s, SubSig::Body(_))) {
        return bad("no hex subsignature");
    }
    Ok(Ldb {
        name,
        tdb,
        expr,
        subsigs,
    })
}

/// A digest algorithm, told apart by the length of the hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algo {
    /// 32 hex digits.
    Md5,
    /// 40 hex digits.
    Sha1,
    /// 64 hex digits.
    Sha256,
}

/// One `.mdb`/`.msb` PE section hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionHash {
    /// Section size; `None` for `*`.
    pub size: Option<u64>,
    /// Algorithm.
    pub algo: Algo,
    /// Digest bytes.
    pub digest: Vec<u8>,
    /// Signature name.
    pub name: String,
}

impl fmt::Display for SectionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = self.size.map_or("*".to_string(), |s| s.to_string());
        write!(
            f,
            "section size={size} {:?}={} name={}",
            self.algo,
            hex::encode(&self.digest),
            self.name
        )
    }
}

/// Parses one `.mdb`/`.msb` line: `Size:Hash:Name[:MinFL[:MaxFL]]`.
pub fn parse_section_hash(line: &str) -> Result<SectionHash, LineError> {
    let f: Vec<&str> = line.splitn(6, ':').collect();
    if f.len() < 3 {
        return bad("expected PESectionSize:PESectionHash:MalwareName");
    }
    if f.len() > 5 {
        return bad("too many fields");
    }
    for fl in f.iter().skip(3) {
        if !fl.is_empty() {
            number::<u32>(fl, "functionality level")?;
        }
    }
    let size = if f[0] == "*" {
        None
    } else {
        Some(number(f[0], "section size")?)
    };
    let algo = match f[1].len() {
        32 => Algo::Md5,
        40 => Algo::Sha1,
        64 => Algo::Sha256,
        n => return bad(format!("hash of {n} hex digits (expected 32, 40 or 64)")),
    };
    let digest = hex::decode(f[1]).map_err(|_| LineError::Malformed("hash is not hex".into()))?;
    Ok(SectionHash {
        size,
        algo,
        digest,
        name: name(f[2])?,
    })
}

/// One `.ign2` entry: a signature name, optionally with the MD5 of the
/// database line it must have to be ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// Signature name.
    pub name: String,
    /// MD5 of the signature's database line, when given.
    pub md5: Option<[u8; 16]>,
}

/// Parses one `.ign2` line (`Name[:md5]`) or, with `old`, one `.ign` line
/// (`db:line:Name`, of which only the name is used).
pub fn parse_ignore(line: &str, old: bool) -> Result<Ignore, LineError> {
    if old {
        let n = line.rsplit(':').next().unwrap_or("");
        return Ok(Ignore {
            name: name(n)?,
            md5: None,
        });
    }
    let (n, md5) = match line.split_once(':') {
        Some((n, m)) => {
            let mut d = [0u8; 16];
            hex::decode_to_slice(m, &mut d)
                .map_err(|_| LineError::Malformed(format!("bad MD5 '{m}'")))?;
            (n, Some(d))
        }
        None => (line, None),
    };
    Ok(Ignore {
        name: name(n)?,
        md5,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndb() {
        let s = parse_ndb("Test.Sig:1:EP+4,2:4142{2-3}43:51:255").unwrap();
        assert_eq!(
            s.to_string(),
            "ndb name=Test.Sig target=1 body=EP+4,2:4142{2-3}43"
        );
        assert!(matches!(
            parse_ndb("X:8:*:4142"),
            Err(LineError::Unsupported(_))
        ));
        assert!(matches!(
            parse_ndb("X:0:VI:4142"),
            Err(LineError::Unsupported(_))
        ));
        assert!(matches!(
            parse_ndb("X:0:*:41(B)42"),
            Err(LineError::Unsupported(_))
        ));
        for b in [
            "X",
            "X:0:*",
            ":0:*:4142",
            "X:a:*:4142",
            "X:0:*:4",
            "X:0:*:4142:x",
            "X:0:*:4142:1:2:3",
        ] {
            assert!(matches!(parse_ndb(b), Err(LineError::Malformed(_))), "{b}");
        }
    }

    #[test]
    fn ldb() {
        let l = parse_ldb("S;Engine:81-255,Target:0;0&1;EP+0:4142::iw;0/ab+c/gi").unwrap();
        assert_eq!(l.subsigs.len(), 2);
        assert!(matches!(
            parse_ldb("S;Target:0,Container:CL_TYPE_ZIP;0;4142"),
            Err(LineError::Unsupported(_))
        ));
        assert!(matches!(
            parse_ldb("S;Target:0;0&1;4142;${6-7}12$"),
            Err(LineError::Unsupported(_))
        ));
        for b in [
            "S;Target:0;0",
            "S;Target:0;0&1;4142",
            "S;Foo:1;0;4142",
            "S;Target:0;0;4142::z",
            "S;Target:0;1;4142;1/x/",
        ] {
            assert!(matches!(parse_ldb(b), Err(LineError::Malformed(_))), "{b}");
        }
    }

    #[test]
    fn section_and_ignore() {
        let h = parse_section_hash("45056:3ea7d00dedd30bcdf46191358c36ffa4:Test.Section").unwrap();
        assert_eq!(h.algo, Algo::Md5);
        assert_eq!(
            parse_section_hash("*:da39a3ee5e6b4b0d3255bfef95601890afd80709:X:73")
                .unwrap()
                .size,
            None
        );
        assert!(parse_section_hash("1:abc:X").is_err());
        assert!(parse_section_hash("x:3ea7d00dedd30bcdf46191358c36ffa4:X").is_err());
        assert_eq!(
            parse_ignore("Eicar-Test-Signature", false).unwrap().md5,
            None
        );
        assert!(parse_ignore("E:zz", false).is_err());
        assert_eq!(
            parse_ignore("daily.ndb:12:Foo.Bar", true).unwrap().name,
            "Foo.Bar"
        );
    }
}
