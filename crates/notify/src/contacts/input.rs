//! Reading the contact sources: files opened whether gzip-compressed or
//! not, lines of bytes of bounded length, and the bad lines and objects
//! they hold, counted and reported by file and line.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Longest line read whole: RPSL attribute lines, CSV rows and statistics
/// lines are far shorter; a longer line is garbage or hostile (a file
/// without newlines would otherwise be read into memory whole) and is
/// skipped to its end.
pub const MAX_LINE: usize = 16 * 1024;

/// Most problems kept one by one; the rest are only counted.
pub const MAX_PROBLEMS: usize = 50;

/// Why a source could not be read at all (bad lines and objects are not
/// errors: they are [`Problems`]).
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct LoadError {
    /// The file, as given.
    pub file: String,
    /// Why.
    pub reason: String,
}

impl LoadError {
    pub(crate) fn new(file: &str, reason: impl Into<String>) -> LoadError {
        LoadError {
            file: file.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(file: &str, e: &io::Error) -> LoadError {
        LoadError::new(file, format!("cannot read: {e}"))
    }
}

/// A line or object that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, as given.
    pub file: String,
    /// Its line (1-based; for an RPSL object, the line it starts on).
    pub line: u64,
    /// Why, in a few fixed words.
    pub reason: &'static str,
}

impl fmt::Display for Problem {
    /// `FILE:LINE: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// The problems met while reading: the first [`MAX_PROBLEMS`] kept, all
/// counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    /// The first problems, in the order met.
    pub first: Vec<Problem>,
    /// How many there were in all.
    pub count: u64,
}

impl Problems {
    pub(crate) fn push(&mut self, file: &str, line: u64, reason: &'static str) {
        self.count += 1;
        if self.first.len() < MAX_PROBLEMS {
            self.first.push(Problem {
                file: file.to_string(),
                line,
                reason,
            });
        }
    }

    /// True when nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// One message per kept problem, then `N more` when some were only
    /// counted.
    pub fn messages(&self) -> Vec<String> {
        let mut out: Vec<String> = self.first.iter().map(|p| p.to_string()).collect();
        let more = self.count.saturating_sub(self.first.len() as u64);
        if more > 0 {
            out.push(format!("{more} more bad lines or objects"));
        }
        out
    }
}

/// Opens `path` for reading, through a gzip decoder when the file starts
/// with gzip's magic bytes (the name does not matter: RIPE publishes
/// `.gz` dumps, CERTs often keep them unpacked).
pub(crate) fn open(path: &Path) -> Result<Box<dyn BufRead>, LoadError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| LoadError::io(&name, &e))?;
    let mut r = BufReader::with_capacity(256 * 1024, file);
    let gzip = r
        .fill_buf()
        .map_err(|e| LoadError::io(&name, &e))?
        .starts_with(&[0x1f, 0x8b]);
    if gzip {
        // Multi-member: concatenated dumps (`cat a.gz b.gz`) read whole.
        Ok(Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(r),
        )))
    } else {
        Ok(Box::new(r))
    }
}

/// A line of bytes, or its length when it was too long to keep.
pub(crate) enum Line<'a> {
    /// The line without its end (`\n` or `\r\n`).
    Bytes(&'a [u8]),
    /// Longer than [`MAX_LINE`]; skipped.
    TooLong,
}

/// Lines of at most [`MAX_LINE`] bytes from a reader, into one reused
/// buffer (no allocation per line). Bytes, not text: RIPE's dumps are
/// ISO-8859-1, and only ASCII fields are used.
pub(crate) struct Lines<R> {
    r: R,
    buf: Vec<u8>,
    number: u64,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(r: R) -> Lines<R> {
        Lines {
            r,
            buf: Vec::with_capacity(256),
            number: 0,
        }
    }

    /// The next line and its number (1-based), `None` at the end.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.buf.clear();
        let mut len = 0usize;
        let mut any = false;
        loop {
            let avail = match self.r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (chunk, used, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (&avail[..i], i + 1, true),
                None => (avail, avail.len(), false),
            };
            len = len.saturating_add(chunk.len());
            if len <= MAX_LINE {
                self.buf.extend_from_slice(chunk);
            }
            self.r.consume(used);
            if done {
                break;
            }
        }
        self.number += 1;
        if len > MAX_LINE {
            return Ok(Some((self.number, Line::TooLong)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((self.number, Line::Bytes(&self.buf))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn lines(data: &[u8]) -> Vec<Option<Vec<u8>>> {
        let mut l = Lines::new(data);
        let mut out = Vec::new();
        while let Some((_, line)) = l.next_line().unwrap() {
            out.push(match line {
                Line::Bytes(b) => Some(b.to_vec()),
                Line::TooLong => None,
            });
        }
        out
    }

    #[test]
    fn splits_lines_and_skips_long_ones() {
        let mut data = b"a\r\nb\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
        data.extend_from_slice(b"\nlast");
        let got = lines(&data);
        assert_eq!(
            got,
            vec![
                Some(b"a".to_vec()),
                Some(b"b".to_vec()),
                None,
                Some(b"last".to_vec())
            ]
        );
    }

    #[test]
    fn gzip_recognised_by_magic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plain-name.txt");
        let f = std::fs::File::create(&p).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        gz.write_all(b"one\ntwo\n").unwrap();
        gz.finish().unwrap();
        let mut r = open(&p).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "one\ntwo\n");
    }

    #[test]
    fn problems_are_capped_but_counted() {
        let mut p = Problems::default();
        for i in 0..(MAX_PROBLEMS as u64 + 5) {
            p.push("f", i + 1, "bad");
        }
        assert_eq!(p.count, MAX_PROBLEMS as u64 + 5);
        let m = p.messages();
        assert_eq!(m.len(), MAX_PROBLEMS + 1);
        assert_eq!(m[0], "f:1: bad");
        assert_eq!(m[MAX_PROBLEMS], "5 more bad lines or objects");
    }
}
