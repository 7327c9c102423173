//! Signature offsets (`*`, `n`, `EOF-n`, `EP+n`, `EP-n`, `Sx+n`, `SEx`,
//! `SL+n`, each optionally `,maxshift`) and their resolution against one
//! scanned object.

use crate::exe::ExeInfo;
use std::fmt;

/// Where an offset is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// Start of the file.
    Start,
    /// End of the file (the value is subtracted).
    Eof,
    /// Entry point (file offset), plus a signed delta.
    EntryPoint,
    /// Start of section `x`'s raw data.
    Section(u16),
    /// Start of the last section's raw data.
    LastSection,
}

/// A parsed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// `*`: anywhere.
    Any,
    /// A position relative to a base, with an optional float.
    At {
        /// What the delta is added to.
        base: Base,
        /// Signed delta (negative only for `EP-n`; `EOF-n` stores `-n`).
        delta: i64,
        /// `,maxshift`: also every position up to `delta + shift`.
        shift: u32,
    },
    /// `SEx`: anywhere inside section `x`.
    WholeSection(u16),
}

/// Largest number accepted in an offset; far below overflow of `i64` sums.
const MAX_OFFSET: u64 = 1 << 40;

fn num(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad number '{s}' in offset"));
    }
    s.parse::<u64>()
        .ok()
        .filter(|v| *v <= MAX_OFFSET)
        .ok_or_else(|| format!("offset number '{s}' too large"))
}

impl Offset {
    /// Parses an offset field. `Err` carries the reason; the caller
    /// decides whether the construct is unsupported or malformed.
    pub fn parse(s: &str) -> Result<Offset, OffsetError> {
        if s == "*" {
            return Ok(Offset::Any);
        }
        if s == "VI" || s.starts_with("VI") {
            return Err(OffsetError::Unsupported(
                "VI (version information) offset".into(),
            ));
        }
        if let Some(x) = s.strip_prefix("SE") {
            let idx = num(x).map_err(OffsetError::Malformed)?;
            let idx = u16::try_from(idx)
                .map_err(|_| OffsetError::Malformed("section index too large".into()))?;
            return Ok(Offset::WholeSection(idx));
        }
        let (main, shift) = match s.split_once(',') {
            Some((m, sh)) => {
                let v = num(sh).map_err(OffsetError::Malformed)?;
                (
                    m,
                    u32::try_from(v)
                        .map_err(|_| OffsetError::Malformed("maxshift too large".into()))?,
                )
            }
            None => (s, 0),
        };
        let signed = |rest: &str| -> Result<i64, OffsetError> {
            if let Some(n) = rest.strip_prefix('+') {
                Ok(num(n).map_err(OffsetError::Malformed)? as i64)
            } else if let Some(n) = rest.strip_prefix('-') {
                Ok(-(num(n).map_err(OffsetError::Malformed)? as i64))
            } else {
                Err(OffsetError::Malformed(format!("bad offset '{s}'")))
            }
        };
        let (base, delta) = if let Some(rest) = main.strip_prefix("EOF") {
            let d = signed(rest)?;
            if d > 0 {
                return Err(OffsetError::Malformed(format!("EOF+n in offset '{s}'")));
            }
            (Base::Eof, d)
        } else if let Some(rest) = main.strip_prefix("EP") {
            (Base::EntryPoint, signed(rest)?)
        } else if let Some(rest) = main.strip_prefix("SL") {
            let d = signed(rest)?;
            if d < 0 {
                return Err(OffsetError::Malformed(format!("SL-n in offset '{s}'")));
            }
            (Base::LastSection, d)
        } else if let Some(rest) = main.strip_prefix('S') {
            let cut = rest
                .find(['+', '-'])
                .ok_or_else(|| OffsetError::Malformed(format!("bad offset '{s}'")))?;
            let idx = num(&rest[..cut]).map_err(OffsetError::Malformed)?;
            let idx = u16::try_from(idx)
                .map_err(|_| OffsetError::Malformed("section index too large".into()))?;
            let d = signed(&rest[cut..])?;
            if d < 0 {
                return Err(OffsetError::Malformed(format!("Sx-n in offset '{s}'")));
            }
            (Base::Section(idx), d)
        } else {
            (
                Base::Start,
                num(main).map_err(OffsetError::Malformed)? as i64,
            )
        };
        Ok(Offset::At { base, delta, shift })
    }

    /// Whether resolving needs the executable's entry point or sections.
    pub fn needs_exe(&self) -> bool {
        matches!(
            self,
            Offset::WholeSection(_)
                | Offset::At {
                    base: Base::EntryPoint | Base::Section(_) | Base::LastSection,
                    ..
                }
        )
    }

    /// The inclusive range of start positions this offset allows in a
    /// file of `len` bytes, or `None` when it cannot apply (no entry point,
    /// no such section, out of the file).
    pub fn resolve(&self, len: usize, exe: Option<&ExeInfo>) -> Option<(usize, usize)> {
        let len64 = len as i64;
        let (base, delta, shift) = match *self {
            Offset::Any => return Some((0, len)),
            Offset::WholeSection(x) => {
                let s = exe?.sections.get(usize::from(x))?;
                let lo = usize::try_from(s.raw_offset).ok()?;
                let end = s.raw_offset.checked_add(s.raw_size)?;
                let hi = usize::try_from(end).ok()?.checked_sub(1)?;
                return (lo < len && lo <= hi).then_some((lo, hi.min(len)));
            }
            Offset::At { base, delta, shift } => (base, delta, shift),
        };
        let origin: i64 = match base {
            Base::Start => 0,
            Base::Eof => len64,
            Base::EntryPoint => i64::try_from(exe?.entry?).ok()?,
            Base::Section(x) => {
                i64::try_from(exe?.sections.get(usize::from(x))?.raw_offset).ok()?
            }
            Base::LastSection => i64::try_from(exe?.sections.last()?.raw_offset).ok()?,
        };
        let lo = origin.checked_add(delta)?;
        let hi = lo.checked_add(i64::from(shift))?;
        if hi < 0 || lo > len64 {
            return None;
        }
        Some((
            usize::try_from(lo.max(0)).ok()?,
            usize::try_from(hi.min(len64)).ok()?,
        ))
    }
}

/// Why an offset was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetError {
    /// Not valid.
    Malformed(String),
    /// Valid but not supported here.
    Unsupported(String),
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offset::Any => write!(f, "*"),
            Offset::WholeSection(x) => write!(f, "SE{x}"),
            Offset::At { base, delta, shift } => {
                match base {
                    Base::Start => write!(f, "{delta}")?,
                    Base::Eof => write!(f, "EOF{delta:+}")?,
                    Base::EntryPoint => write!(f, "EP{delta:+}")?,
                    Base::Section(x) => write!(f, "S{x}{delta:+}")?,
                    Base::LastSection => write!(f, "SL{delta:+}")?,
                }
                if *shift > 0 {
                    write!(f, ",{shift}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_show() {
        for (i, o) in [
            ("*", "*"),
            ("10", "10"),
            ("10,5", "10,5"),
            ("EOF-20", "EOF-20"),
            ("EP+0", "EP+0"),
            ("EP-3,4", "EP-3,4"),
            ("S2+78", "S2+78"),
            ("SL+550", "SL+550"),
            ("SE1", "SE1"),
        ] {
            assert_eq!(Offset::parse(i).unwrap().to_string(), o);
        }
        for bad in [
            "",
            "x",
            "EOF+1",
            "EP",
            "EP+",
            "S+1",
            "10,",
            "-1",
            "SL-1",
            "99999999999999999999",
        ] {
            assert!(Offset::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            Offset::parse("VI"),
            Err(OffsetError::Unsupported(_))
        ));
    }

    #[test]
    fn resolve() {
        assert_eq!(
            Offset::parse("EOF-4").unwrap().resolve(10, None),
            Some((6, 6))
        );
        assert_eq!(
            Offset::parse("3,2").unwrap().resolve(10, None),
            Some((3, 5))
        );
        assert_eq!(Offset::parse("30").unwrap().resolve(10, None), None);
        assert_eq!(Offset::parse("EP+0").unwrap().resolve(10, None), None);
    }
}
