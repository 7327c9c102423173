//! The collision guard's allow lists: names that must not be blocked.
//!
//! Real DGAs collide with real, registered sites: a DGA name that is also
//! in a popularity list (Tranco's `top-1m.csv`: `RANK,NAME` lines, or the
//! same from Cisco Umbrella) or in a list of the responder's own names is
//! taken out of the blocklist with a report, unless the caller accepts the
//! collisions. Allowed names a blocked parent would cover get a passthru
//! rule where the format has one.
//!
//! Accepted lines: `RANK,NAME` (the rank all digits), `NAME`, blank lines,
//! `# comments`. Names are normalised as blocked ones are; an address, a
//! wildcard or an invalid name is an error naming the line.

use crate::input::{Line, Lines, MAX_LINE, shown};
use crate::name;
use crate::{Diagnostic, Error, Level};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Most names all allow lists together hold (Tranco and Umbrella lists
/// have one million; this leaves room for several and bounds memory).
pub const MAX_ALLOWED: usize = 20_000_000;

/// Where an allowed name was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// Index of the file in [`AllowList::files`].
    pub file: u32,
    /// Its line.
    pub line: u64,
}

/// Names not to block, from one or more files.
#[derive(Debug, Default)]
pub struct AllowList {
    /// The files read, in order.
    pub files: Vec<String>,
    /// Sort key ([`name::sort_key`]) of each name -> where it was first
    /// found.
    pub(crate) names: HashMap<Box<[u8]>, Found, ahash::RandomState>,
}

/// What one allow-list file gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowStats {
    /// Lines read.
    pub read: u64,
    /// Names taken (duplicates included).
    pub names: u64,
    /// Lines rejected (each a [`Diagnostic`]).
    pub rejected: u64,
}

impl AllowList {
    /// An empty list.
    pub fn new() -> AllowList {
        AllowList::default()
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no name was read (no `--allow`, or empty files).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Where a name (as a sort key) is allowed.
    pub fn find_key(&self, key: &[u8]) -> Option<Found> {
        self.names.get(key).copied()
    }

    /// Where a normalised name is allowed.
    pub fn find(&self, name: &str) -> Option<Found> {
        self.find_key(&name::sort_key(name))
    }

    /// Reads an allow-list file.
    pub fn read_path(
        &mut self,
        path: &Path,
        diag: &mut dyn FnMut(Diagnostic),
    ) -> Result<AllowStats, Error> {
        let source = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|e| Error::Source {
            source_name: source.clone(),
            reason: format!("cannot read: {e}"),
        })?;
        self.read(BufReader::new(f), &source, diag)
    }

    /// Reads allow-list lines from `r`, named `source` in messages.
    pub fn read(
        &mut self,
        r: impl BufRead,
        source: &str,
        diag: &mut dyn FnMut(Diagnostic),
    ) -> Result<AllowStats, Error> {
        let file = self.files.len() as u32;
        self.files.push(source.to_string());
        let mut st = AllowStats::default();
        let mut lines = Lines::new(r);
        while let Some((number, line)) = lines.next_line().map_err(|e| Error::Source {
            source_name: source.to_string(),
            reason: format!("cannot read: {e}"),
        })? {
            st.read += 1;
            let result = match line {
                Line::TooLong(n) => Err(format!("line of {n} bytes, longer than {MAX_LINE}")),
                Line::NotUtf8 => Err("not UTF-8 text".to_string()),
                Line::Text(t) => parse(t),
            };
            match result {
                Ok(None) => {}
                Ok(Some(n)) => {
                    st.names += 1;
                    if self.names.len() >= MAX_ALLOWED {
                        return Err(Error::Source {
                            source_name: source.to_string(),
                            reason: format!("more than {MAX_ALLOWED} allowed names"),
                        });
                    }
                    self.names
                        .entry(name::sort_key(&n).into_boxed_slice())
                        .or_insert(Found { file, line: number });
                }
                Err(m) => {
                    st.rejected += 1;
                    diag(Diagnostic {
                        level: Level::Error,
                        location: format!("{source}:{number}"),
                        message: m,
                    });
                }
            }
        }
        Ok(st)
    }
}

/// One allow-list line: a name, nothing (blank, comment), or why not.
fn parse(line: &str) -> Result<Option<String>, String> {
    if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(format!("control character {}", crate::name::code_point(c)));
    }
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let value = match t.split_once(',') {
        Some((rank, n)) if !rank.is_empty() && rank.trim().bytes().all(|b| b.is_ascii_digit()) => {
            n.trim()
        }
        Some(_) => return Err(format!("'{}': expected RANK,NAME or NAME", shown(t))),
        None => t,
    };
    if value.parse::<std::net::IpAddr>().is_ok() || value.contains('/') && value.contains(':') {
        return Err(format!(
            "'{}' is an address: an allow list holds names",
            shown(value)
        ));
    }
    // `normalise_listed`: an allowed name becomes a passthru owner in the
    // RPZ, where an `rpz-` label would be a trigger.
    name::normalise_listed(value)
        .map(|n| Some(n.name))
        .map_err(|e| format!("'{}': {e}", shown(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tranco_and_plain_lines() {
        let text = "1,google.com\n2,Facebook.COM.\n# mine\nintranet.example\n\nx,bad\n3,a..b\n4,198.51.100.1\n1,google.com\n";
        let mut a = AllowList::new();
        let mut d = Vec::new();
        let st = a
            .read(text.as_bytes(), "top.csv", &mut |x| d.push(x))
            .unwrap();
        assert_eq!(
            st,
            AllowStats {
                read: 9,
                names: 4,
                rejected: 3
            }
        );
        assert_eq!(a.len(), 3);
        assert_eq!(a.find("facebook.com"), Some(Found { file: 0, line: 2 }));
        assert_eq!(a.find("google.com"), Some(Found { file: 0, line: 1 }));
        assert_eq!(a.find("intranet.example").unwrap().line, 4);
        assert_eq!(a.find("evil.example"), None);
        let locs: Vec<_> = d.iter().map(|x| x.location.as_str()).collect();
        assert_eq!(locs, vec!["top.csv:6", "top.csv:7", "top.csv:8"]);
        assert!(d[2].message.contains("an allow list holds names"));
    }

    #[test]
    fn rpz_labels_cannot_be_allowed() {
        // An allowed name becomes a passthru owner: `x.rpz-nsdname` would
        // let every name served by x through.
        let mut a = AllowList::new();
        let mut d = Vec::new();
        let st = a
            .read(
                "1,ok.example\n2,ns.evil.rpz-nsdname\n3,32.1.0.0.127.rpz-client-ip\n".as_bytes(),
                "top.csv",
                &mut |x| d.push(x),
            )
            .unwrap();
        assert_eq!((st.names, st.rejected), (1, 2));
        assert_eq!(d[0].location, "top.csv:2");
        assert!(
            d[0].message
                .contains("label 'rpz-nsdname' begins with 'rpz-'")
        );
        assert_eq!(d[1].location, "top.csv:3");
        assert_eq!(a.len(), 1);
    }
}
