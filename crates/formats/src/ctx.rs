//! Limits, the budget of one top-level object, and what unpackers hand out.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Read;
use std::time::Instant;

/// Default recursion depth (ClamAV's `MaxRecursion` is 17).
pub const DEFAULT_MAX_DEPTH: u32 = 16;
/// Default entries per container (ClamAV's `MaxFiles`).
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000;
/// Default bytes expanded per top-level object (ClamAV's `MaxScanSize`).
pub const DEFAULT_MAX_EXPANDED: u64 = 400 << 20;
/// Default largest expanded-to-packed ratio of one member.
///
/// Text compresses about 4:1, logs and XML up to 50:1; deflate cannot go
/// past about 1032:1, and every bomb sits near that ceiling. 200:1 stops
/// bombs within the first [`RATIO_FLOOR`] bytes while leaving real data
/// alone.
pub const DEFAULT_MAX_RATIO: u64 = 200;
/// The ratio is checked only once a member has expanded past this many
/// bytes: small members of any ratio are cheap and common (a file of
/// spaces, an empty database).
pub const RATIO_FLOOR: u64 = 16 << 20;

/// The limits that bound the unpacking of one top-level object.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Containers nested deeper than this are not opened (the engine
    /// enforces it; the top-level object is depth 0).
    pub max_depth: u32,
    /// Entries handed out per container; the rest are not extracted.
    pub max_entries: u64,
    /// Bytes expanded in all, over every level of one top-level object.
    pub max_expanded: u64,
    /// Largest single expanded member; larger ones are cut here.
    pub max_member_size: u64,
    /// Largest expanded-to-packed ratio of one member (checked past
    /// [`RATIO_FLOOR`]); 0 turns the check off.
    pub max_ratio: u64,
    /// Passwords to try on encrypted members, in order.
    pub passwords: Vec<Vec<u8>>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_entries: DEFAULT_MAX_ENTRIES,
            max_expanded: DEFAULT_MAX_EXPANDED,
            max_member_size: 256 << 20,
            max_ratio: DEFAULT_MAX_RATIO,
            passwords: Vec::new(),
        }
    }
}

/// The class of an [`Issue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueKind {
    /// A limit was reached; names the limit as the CLI flag does
    /// (`max-depth`, `max-entries`, `max-scansize`, `max-filesize`,
    /// `max-ratio`, `time`).
    Limit(&'static str),
    /// The member (or the whole container) is encrypted and no password
    /// given opened it.
    Encrypted,
    /// The container is corrupt or truncated.
    Corrupt,
    /// The container uses a feature takedown does not unpack (a compression
    /// method, a multi-volume set).
    Unsupported,
}

/// Why a container or one of its members was not fully unpacked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// The class.
    pub kind: IssueKind,
    /// What happened, for people: names the format and the reason.
    pub message: String,
}

impl Issue {
    /// A limit named `limit` was reached.
    pub fn limit(limit: &'static str, message: impl Into<String>) -> Issue {
        Issue {
            kind: IssueKind::Limit(limit),
            message: message.into(),
        }
    }

    /// Encrypted content that could not be opened.
    pub fn encrypted(message: impl Into<String>) -> Issue {
        Issue {
            kind: IssueKind::Encrypted,
            message: message.into(),
        }
    }

    /// Corrupt or truncated input.
    pub fn corrupt(message: impl Into<String>) -> Issue {
        Issue {
            kind: IssueKind::Corrupt,
            message: message.into(),
        }
    }

    /// A feature takedown does not unpack.
    pub fn unsupported(message: impl Into<String>) -> Issue {
        Issue {
            kind: IssueKind::Unsupported,
            message: message.into(),
        }
    }

    /// True for a limit that ends the whole top-level object, not just one
    /// member: the expansion budget and the deadline.
    pub fn is_global(&self) -> bool {
        matches!(
            self.kind,
            IssueKind::Limit("max-scansize") | IssueKind::Limit("time")
        )
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One object found inside a container.
#[derive(Debug)]
pub struct Entry<'a> {
    /// Its name inside the container: a member path, an attachment's file
    /// name, or a made-up name (`part-2`, `stream-14`) where the format has
    /// none. Lossy UTF-8; may hold anything else an attacker chose (`../`,
    /// control characters): front ends escape it, nothing here uses it as
    /// a path.
    pub name: String,
    /// Its content: borrowed from the container where stored as is, owned
    /// when expanded. Empty when nothing could be extracted (`issue` says
    /// why).
    pub data: Cow<'a, [u8]>,
    /// Why the content is incomplete or missing (a member cut at a limit,
    /// an encrypted member), if it is.
    pub issue: Option<Issue>,
}

impl<'a> Entry<'a> {
    /// A complete member.
    pub fn new(name: impl Into<String>, data: impl Into<Cow<'a, [u8]>>) -> Entry<'a> {
        Entry {
            name: name.into(),
            data: data.into(),
            issue: None,
        }
    }

    /// A member whose content could not be had (encrypted, corrupt).
    pub fn failed(name: impl Into<String>, issue: Issue) -> Entry<'a> {
        Entry {
            name: name.into(),
            data: Cow::Borrowed(&[]),
            issue: Some(issue),
        }
    }

    /// A member from [`Ctx::expand`]: content plus the limit that cut it.
    pub fn expanded(name: impl Into<String>, expanded: Expanded) -> Entry<'a> {
        Entry {
            name: name.into(),
            data: Cow::Owned(expanded.data),
            issue: expanded.cut,
        }
    }
}

/// What the consumer of entries wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Hand out the next entry.
    Continue,
    /// Stop extracting this container (and, by returning it up, every
    /// enclosing one): a global limit or an interrupted run.
    Stop,
}

/// The result of [`Ctx::expand`]: what was expanded, and the limit that
/// cut it short, if one did. A cut member is still worth scanning: the
/// payload of a bomb usually sits at its start.
#[derive(Debug, Default)]
pub struct Expanded {
    /// The bytes expanded.
    pub data: Vec<u8>,
    /// The limit that stopped the expansion early.
    pub cut: Option<Issue>,
}

/// The budget of one top-level object, threaded through every level of
/// unpacking.
#[derive(Debug)]
pub struct Ctx<'l> {
    limits: &'l Limits,
    expanded: u64,
    deadline: Option<Instant>,
    /// Depth of the container being unpacked (its members are one deeper).
    pub depth: u32,
}

impl<'l> Ctx<'l> {
    /// A budget for one top-level object, ending at `deadline`.
    pub fn new(limits: &'l Limits, deadline: Option<Instant>) -> Ctx<'l> {
        Ctx {
            limits,
            expanded: 0,
            deadline,
            depth: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &'l Limits {
        self.limits
    }

    /// Bytes expanded so far.
    pub fn expanded(&self) -> u64 {
        self.expanded
    }

    /// Time left before the deadline (`None`: no deadline).
    pub fn time_left(&self) -> Option<std::time::Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Fails once the deadline has passed.
    pub fn check_time(&self) -> Result<(), Issue> {
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(Issue::limit(
                "time",
                "the time limit for this file was reached; the rest of it was not unpacked",
            )),
            _ => Ok(()),
        }
    }

    /// Fails once the expansion budget is spent.
    pub fn check_budget(&self) -> Result<(), Issue> {
        if self.expanded >= self.limits.max_expanded {
            return Err(scansize_issue(self.limits.max_expanded));
        }
        Ok(())
    }

    /// Bytes left in the expansion budget.
    pub fn budget_left(&self) -> u64 {
        self.limits.max_expanded.saturating_sub(self.expanded)
    }

    /// Counts up to `n` bytes against the expansion budget and returns how
    /// many fit. [`crate::extract`] charges every entry it hands out,
    /// borrowed or expanded: scanning costs the same either way.
    pub(crate) fn charge(&mut self, n: u64) -> u64 {
        let fits = n.min(self.budget_left());
        self.expanded += fits;
        fits
    }

    /// Reads a decoder to its end, within the limits: at most
    /// `max_member_size` bytes, what is left of the expansion budget (the
    /// bytes are charged when the entry is handed out), and
    /// (past [`RATIO_FLOOR`]) at most `max_ratio` times the packed bytes
    /// consumed so far, as counted by `packed` (see [`Counted`]); the
    /// deadline is checked as it goes.
    ///
    /// A decoding error after some output ends the member with a
    /// [`IssueKind::Corrupt`] cut; the output so far is kept.
    pub fn expand(&mut self, decoder: &mut dyn Read, packed: &Cell<u64>) -> Expanded {
        let limits = self.limits;
        let budget = self.budget_left();
        let cap = limits.max_member_size.min(budget);
        let mut out = Vec::new();
        let mut chunk = vec![0u8; 64 << 10];
        let mut cut = None;
        loop {
            if let Err(e) = self.check_time() {
                cut = Some(e);
                break;
            }
            let n = match decoder.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    cut = Some(Issue::corrupt(format!("cannot decompress: {e}")));
                    break;
                }
            };
            let room = cap - out.len() as u64;
            if n as u64 > room {
                out.extend_from_slice(&chunk[..room as usize]);
                cut = Some(if cap == budget && budget < limits.max_member_size {
                    scansize_issue(limits.max_expanded)
                } else {
                    Issue::limit(
                        "max-filesize",
                        format!(
                            "expands past the --max-filesize limit of {} bytes; only the first {} bytes were scanned",
                            limits.max_member_size, cap
                        ),
                    )
                });
                break;
            }
            out.extend_from_slice(&chunk[..n]);
            let len = out.len() as u64;
            if limits.max_ratio > 0 && len > RATIO_FLOOR {
                let ratio = len / packed.get().max(1);
                if ratio > limits.max_ratio {
                    cut = Some(Issue::limit(
                        "max-ratio",
                        format!(
                            "expands {ratio}:1, over the --max-ratio limit of {}:1 (a compression bomb?); only the first {len} bytes were scanned",
                            limits.max_ratio
                        ),
                    ));
                    break;
                }
            }
        }
        Expanded { data: out, cut }
    }
}

pub(crate) fn scansize_issue(max: u64) -> Issue {
    Issue::limit(
        "max-scansize",
        format!(
            "the --max-scansize budget of {max} bytes expanded for this file is spent; the rest of it was not unpacked"
        ),
    )
}

/// A reader that counts the bytes read through it into a [`Cell`], so that
/// [`Ctx::expand`] can see how much packed input a decoder has consumed
/// while the decoder owns the reader.
pub struct Counted<'c, R> {
    inner: R,
    count: &'c Cell<u64>,
}

impl<'c, R: Read> Counted<'c, R> {
    /// Wraps `inner`, counting into `count`.
    pub fn new(inner: R, count: &'c Cell<u64>) -> Counted<'c, R> {
        Counted { inner, count }
    }
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoder that produces `n` zero bytes from nothing.
    struct Zeros(u64);
    impl Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (buf.len() as u64).min(self.0) as usize;
            buf[..n].fill(0);
            self.0 -= n as u64;
            Ok(n)
        }
    }

    #[test]
    fn expand_cuts_at_member_size() {
        let limits = Limits {
            max_member_size: 1000,
            max_ratio: 0,
            ..Limits::default()
        };
        let mut ctx = Ctx::new(&limits, None);
        let packed = Cell::new(10);
        let e = ctx.expand(&mut Zeros(5000), &packed);
        assert_eq!(e.data.len(), 1000);
        assert_eq!(e.cut.unwrap().kind, IssueKind::Limit("max-filesize"));
    }

    #[test]
    fn expand_cuts_at_budget_then_budget_fails() {
        let limits = Limits {
            max_expanded: 1500,
            max_member_size: 1000,
            max_ratio: 0,
            ..Limits::default()
        };
        let mut ctx = Ctx::new(&limits, None);
        let packed = Cell::new(10);
        let e = ctx.expand(&mut Zeros(800), &packed);
        assert!(e.cut.is_none());
        assert_eq!(ctx.charge(e.data.len() as u64), 800);
        let e = ctx.expand(&mut Zeros(800), &packed);
        assert_eq!(e.data.len(), 700);
        assert_eq!(e.cut.unwrap().kind, IssueKind::Limit("max-scansize"));
        assert_eq!(ctx.charge(800), 700);
        assert!(ctx.check_budget().is_err());
        assert_eq!(ctx.charge(1), 0);
    }

    #[test]
    fn expand_cuts_at_ratio_past_floor_only() {
        let limits = Limits::default();
        let mut ctx = Ctx::new(&limits, None);
        // Small members of any ratio pass.
        let packed = Cell::new(1);
        assert!(ctx.expand(&mut Zeros(1 << 20), &packed).cut.is_none());
        // A bomb is cut just past the floor.
        let packed = Cell::new(1000);
        let e = ctx.expand(&mut Zeros(1 << 34), &packed);
        assert_eq!(e.cut.unwrap().kind, IssueKind::Limit("max-ratio"));
        assert!(e.data.len() as u64 <= RATIO_FLOOR + (64 << 10));
    }

    #[test]
    fn expand_stops_at_deadline() {
        let limits = Limits::default();
        let mut ctx = Ctx::new(&limits, Some(Instant::now()));
        let packed = Cell::new(1 << 30);
        let e = ctx.expand(&mut Zeros(1 << 20), &packed);
        assert!(e.data.is_empty());
        assert_eq!(e.cut.unwrap().kind, IssueKind::Limit("time"));
    }

    #[test]
    fn counted_counts() {
        let count = Cell::new(0);
        let mut r = Counted::new(&b"hello"[..], &count);
        let mut s = Vec::new();
        r.read_to_end(&mut s).unwrap();
        assert_eq!(count.get(), 5);
    }
}
