//! `.ldb` logical expressions: `(0&1)|2`, `0>2`, `(0|1|2)=2,1`, ...
//!
//! Parsed into an AST with a depth limit and evaluated on per-subsignature
//! match counts. `&` binds tighter than `|` when the two are mixed without
//! parentheses (ClamAV's signatures always parenthesise them).

use std::fmt;

/// Deepest nesting accepted; stops stack exhaustion on `((((...`.
pub const MAX_DEPTH: usize = 64;
/// Highest subsignature index (ClamAV allows 64 subsignatures).
pub const MAX_SUBSIGS: usize = 64;

/// A count comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `>`
    Gt,
    /// `<`
    Lt,
}

/// A logical expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Subsignature `n` matched at least once.
    Sub(usize),
    /// All hold.
    And(Vec<Expr>),
    /// One holds.
    Or(Vec<Expr>),
    /// The matches of the subsignatures in `inner` number `op x`, and (with
    /// `y`) at least `y` different ones of them matched.
    Count {
        /// The block counted.
        inner: Box<Expr>,
        /// The comparison.
        op: Cmp,
        /// The count compared to.
        x: u32,
        /// Fewest distinct subsignatures.
        y: Option<u32>,
    },
}

impl Expr {
    /// Parses `s`.
    pub fn parse(s: &str) -> Result<Expr, String> {
        let mut p = P {
            s: s.as_bytes(),
            i: 0,
        };
        let e = p.or(0)?;
        if p.i != p.s.len() {
            return Err(format!(
                "unexpected '{}' at {} in logical expression",
                p.s[p.i] as char, p.i
            ));
        }
        Ok(e)
    }

    /// Largest subsignature index used.
    pub fn max_sub(&self) -> usize {
        match self {
            Expr::Sub(n) => *n,
            Expr::And(v) | Expr::Or(v) => v.iter().map(Expr::max_sub).max().unwrap_or(0),
            Expr::Count { inner, .. } => inner.max_sub(),
        }
    }

    fn leaves(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Sub(n) => {
                if !out.contains(n) {
                    out.push(*n);
                }
            }
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.leaves(out)),
            Expr::Count { inner, .. } => inner.leaves(out),
        }
    }

    /// Evaluates with `count(n)` = matches of subsignature `n`.
    pub fn eval(&self, count: &dyn Fn(usize) -> u32) -> bool {
        match self {
            Expr::Sub(n) => count(*n) > 0,
            Expr::And(v) => v.iter().all(|e| e.eval(count)),
            Expr::Or(v) => v.iter().any(|e| e.eval(count)),
            Expr::Count { inner, op, x, y } => {
                let mut leaves = Vec::new();
                inner.leaves(&mut leaves);
                let total: u64 = leaves.iter().map(|n| u64::from(count(*n))).sum();
                let distinct = leaves.iter().filter(|n| count(**n) > 0).count() as u64;
                let x = u64::from(*x);
                let ok = match op {
                    Cmp::Eq => total == x,
                    Cmp::Gt => total > x,
                    Cmp::Lt => total < x,
                };
                ok && y.is_none_or(|y| distinct >= u64::from(y))
            }
        }
    }

    /// Highest count any comparison needs to tell apart (counts beyond it
    /// need not be tracked).
    pub fn count_cap(&self) -> u32 {
        match self {
            Expr::Sub(_) => 1,
            Expr::And(v) | Expr::Or(v) => v.iter().map(Expr::count_cap).max().unwrap_or(1),
            Expr::Count { inner, x, .. } => x.saturating_add(1).max(inner.count_cap()),
        }
    }
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn or(&mut self, depth: usize) -> Result<Expr, String> {
        let mut v = vec![self.and(depth)?];
        while self.peek() == Some(b'|') {
            self.i += 1;
            v.push(self.and(depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::Or(v)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, String> {
        let mut v = vec![self.counted(depth)?];
        while self.peek() == Some(b'&') {
            self.i += 1;
            v.push(self.counted(depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::And(v)
        })
    }

    fn number(&mut self) -> Result<u32, String> {
        let start = self.i;
        let mut v: u32 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u32::from(c - b'0')))
                .ok_or_else(|| format!("number too large at {start} in logical expression"))?;
            self.i += 1;
        }
        if self.i == start {
            return Err(format!("number expected at {start} in logical expression"));
        }
        Ok(v)
    }

    fn counted(&mut self, depth: usize) -> Result<Expr, String> {
        let inner = self.primary(depth)?;
        let op = match self.peek() {
            Some(b'=') => Cmp::Eq,
            Some(b'>') => Cmp::Gt,
            Some(b'<') => Cmp::Lt,
            _ => return Ok(inner),
        };
        self.i += 1;
        let x = self.number()?;
        let y = if self.peek() == Some(b',') {
            self.i += 1;
            Some(self.number()?)
        } else {
            None
        };
        Ok(Expr::Count {
            inner: Box::new(inner),
            op,
            x,
            y,
        })
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, String> {
        if depth >= MAX_DEPTH {
            return Err(format!("logical expression nested deeper than {MAX_DEPTH}"));
        }
        if self.peek() == Some(b'(') {
            self.i += 1;
            let e = self.or(depth + 1)?;
            if self.peek() != Some(b')') {
                return Err(format!("')' expected at {} in logical expression", self.i));
            }
            self.i += 1;
            return Ok(e);
        }
        let n = self.number()? as usize;
        if n >= MAX_SUBSIGS {
            return Err(format!(
                "subsignature {n} out of range (at most {MAX_SUBSIGS})"
            ));
        }
        Ok(Expr::Sub(n))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, v: &[Expr], sep: &str| -> fmt::Result {
            write!(f, "(")?;
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    write!(f, "{sep}")?;
                }
                write!(f, "{e}")?;
            }
            write!(f, ")")
        };
        match self {
            Expr::Sub(n) => write!(f, "{n}"),
            Expr::And(v) => list(f, v, "&"),
            Expr::Or(v) => list(f, v, "|"),
            Expr::Count { inner, op, x, y } => {
                let op = match op {
                    Cmp::Eq => "=",
                    Cmp::Gt => ">",
                    Cmp::Lt => "<",
                };
                write!(f, "[{inner}]{op}{x}")?;
                if let Some(y) = y {
                    write!(f, ",{y}")?;
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
    fn parse_and_eval() {
        let e = Expr::parse("((0|1|2)>5,2)&(3|1)").unwrap();
        assert_eq!(e.to_string(), "([(0|1|2)]>5,2&(3|1))");
        let counts = [3u32, 3, 0, 0];
        assert!(e.eval(&|n| counts.get(n).copied().unwrap_or(0)));
        let counts = [6u32, 0, 0, 1];
        assert!(
            !e.eval(&|n| counts.get(n).copied().unwrap_or(0)),
            "needs two distinct"
        );
        let e = Expr::parse("0=0&1").unwrap();
        assert!(e.eval(&|n| u32::from(n == 1)));
        assert!(!e.eval(&|_| 1));
        assert_eq!(Expr::parse("0&1|2").unwrap().to_string(), "((0&1)|2)");
        assert_eq!(Expr::parse("0<2").unwrap().count_cap(), 3);
    }

    #[test]
    fn broken() {
        let deep = "(".repeat(100) + "0" + &")".repeat(100);
        for s in [
            "",
            "(",
            "0&",
            "0>",
            "0>1,",
            "a",
            "99",
            "0)",
            "(0",
            "0=99999999999",
            &deep,
        ] {
            assert!(Expr::parse(s).is_err(), "{s}");
        }
    }
}
