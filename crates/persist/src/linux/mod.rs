//! Linux autostarts of a root: the live system (`/`) or a disk mounted
//! from another one.
//!
//! Each mechanism has its module; they share [`Cx`], which reads files
//! only through [`fsroot::Root`] (symbolic links resolved under the root,
//! never out of it; sizes and counts capped) and turns every failure
//! into a [`Problem`](crate::Problem) so the rest is still read.

mod command;
mod cron;
mod files;
pub(crate) mod fsroot;
mod systemd;

use crate::{Disable, Entry, Inventory, Os};
use fsroot::{Kind, Root};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Entries kept from one root: a disk made to produce millions of entries
/// (a crontab of a million lines is within the file cap) stops here.
const MAX_ENTRIES: usize = 200_000;
/// Users read from `etc/passwd`.
const MAX_USERS: usize = 10_000;
/// Where a bare program name is looked up (root's `PATH` for services).
const PATH_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Every Linux autostart entry under `root` (`/` for the live system).
pub fn collect(root: &Path) -> Inventory {
    let mut cx = Cx::new(root);
    cx.users = read_users(&mut cx);
    cron::collect(&mut cx);
    systemd::collect(&mut cx);
    files::collect(&mut cx);
    cx.inv
}

/// A user with a home directory on the root.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub name: String,
    /// The home, a path from the root.
    pub home: PathBuf,
}

/// What the collectors share: the root, the users and the inventory.
pub(crate) struct Cx {
    pub root: Root,
    pub users: Vec<User>,
    pub inv: Inventory,
    full: bool,
}

/// One entry before it is added.
pub(crate) struct New<'a> {
    pub mechanism: &'static str,
    pub location: &'a Path,
    pub name: String,
    pub user: Option<String>,
    pub command: Option<String>,
    pub target: Option<PathBuf>,
    pub line: Option<u64>,
    /// How to disable it (see [`Cx::disable_file`], [`Cx::disable_line`]).
    pub disable: Option<Disable>,
}

impl Cx {
    fn new(root: &Path) -> Cx {
        Cx {
            root: Root::new(root),
            users: Vec::new(),
            inv: Inventory::default(),
            full: false,
        }
    }

    /// Adds an entry (until [`MAX_ENTRIES`]).
    pub(crate) fn add(&mut self, e: New<'_>) {
        if self.inv.entries.len() >= MAX_ENTRIES {
            if !self.full {
                self.full = true;
                self.inv.problem(
                    fsroot::show(e.location),
                    format!("more than {MAX_ENTRIES} entries; the rest is not listed"),
                );
            }
            return;
        }
        self.inv.entries.push(Entry {
            os: Os::Linux,
            mechanism: e.mechanism,
            location: fsroot::show(e.location),
            name: e.name,
            user: e.user,
            command: e.command,
            target: e.target,
            line: e.line,
            disable: e.disable,
        });
    }

    /// A problem at `logical`.
    pub(crate) fn problem(&mut self, logical: &Path, reason: impl Into<String>) {
        self.inv.problem(fsroot::show(logical), reason);
    }

    /// The text of `logical` (lossy UTF-8), `None` when missing; a
    /// failure or a cut is reported.
    pub(crate) fn text(&mut self, logical: &Path) -> Option<String> {
        match self.root.read(logical) {
            Ok(Some((bytes, cut))) => {
                if cut {
                    self.problem(
                        logical,
                        format!(
                            "larger than {} bytes; only the start was read",
                            fsroot::MAX_FILE_BYTES
                        ),
                    );
                }
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            Ok(None) => None,
            Err(reason) => {
                self.problem(logical, reason);
                None
            }
        }
    }

    /// The names in directory `logical`, sorted; empty when it is
    /// missing; a failure or a cut is reported.
    pub(crate) fn list(&mut self, logical: &Path) -> Vec<OsString> {
        match self.root.list(logical) {
            Ok(Some((names, cut))) => {
                if cut {
                    self.problem(
                        logical,
                        format!(
                            "more than {} entries; the rest is not read",
                            fsroot::MAX_DIR_ENTRIES
                        ),
                    );
                }
                names
            }
            Ok(None) => Vec::new(),
            Err(reason) => {
                self.problem(logical, reason);
                Vec::new()
            }
        }
    }

    /// The regular files in directory `logical` (links resolved), as
    /// paths from the root, sorted by name.
    pub(crate) fn files_in(&mut self, logical: &Path) -> Vec<PathBuf> {
        self.list(logical)
            .into_iter()
            .map(|n| logical.join(n))
            .filter(|p| self.is_file(p))
            .collect()
    }

    /// Whether `logical` is a regular file (links resolved under root).
    pub(crate) fn is_file(&self, logical: &Path) -> bool {
        matches!(self.root.kind(logical), Some((Kind::File, _)))
    }

    /// `logical` on this machine, when it is a regular file.
    pub(crate) fn host_file(&self, logical: &Path) -> Option<PathBuf> {
        match self.root.kind(logical) {
            Some((Kind::File, r)) => Some(r.host),
            _ => None,
        }
    }

    /// The file a program word names: an absolute path under the root, or
    /// a bare name looked up in [`PATH_DIRS`] (then in `extra_dirs`). A
    /// relative path with a slash depends on a working directory nobody
    /// knows: `None`.
    pub(crate) fn find_program(&self, word: &str, extra_dirs: &[&str]) -> Option<PathBuf> {
        if word.starts_with('/') {
            return self.host_file(Path::new(word));
        }
        if word.is_empty() || word.contains('/') {
            return None;
        }
        PATH_DIRS
            .iter()
            .chain(extra_dirs)
            .find_map(|d| self.host_file(&Path::new(d).join(word)))
    }

    /// The file a command line starts (see [`command`]): the script of a
    /// shell or interpreter when it is a file, else the program.
    pub(crate) fn target_of(&self, cmd: &str, extra_dirs: &[&str]) -> Option<PathBuf> {
        let p = command::program(cmd)?;
        if let Some(s) = &p.script
            && let Some(t) = self.find_program(s, &[])
        {
            return Some(t);
        }
        self.find_program(&p.program, extra_dirs)
    }

    /// Disabling by moving the regular file `logical` into the vault: the
    /// file named on this machine with its links resolved under the root
    /// (a link's target is what the program reading it reads; the vault
    /// must never follow a link of the disk itself).
    pub(crate) fn disable_file(&self, logical: &Path) -> Option<Disable> {
        self.host_file(logical).map(|path| Disable::File { path })
    }

    /// Disabling by commenting out line `line` (1-based) of `logical`,
    /// `text` being that line as read (without its ending): the physical
    /// line itself, never lines joined by a reader, so the edit can check
    /// it is still there ([`crate::lines::comment_out`]). `continued`:
    /// the reader of this kind of file joins a line ending in `\` to the
    /// next (udev rules only), so the edit comments out the whole
    /// logical line.
    pub(crate) fn disable_line(
        &self,
        logical: &Path,
        line: u64,
        text: &str,
        continued: bool,
    ) -> Option<Disable> {
        self.host_file(logical).map(|path| Disable::Line {
            path,
            line,
            text: text.to_string(),
            continued,
        })
    }

    /// Whether `logical` is a directory (links resolved under root).
    pub(crate) fn is_dir(&self, logical: &Path) -> bool {
        matches!(self.root.kind(logical), Some((Kind::Dir, _)))
    }
}

/// The users with a home on the root: `etc/passwd`, then directories
/// of `/home` and `/root` it does not name (a disk whose passwd was
/// tampered with still has its homes read). A home shared by several
/// users is read once.
fn read_users(cx: &mut Cx) -> Vec<User> {
    let mut users: Vec<User> = Vec::new();
    let passwd = Path::new("/etc/passwd");
    let text = cx.text(passwd).unwrap_or_default();
    for line in text.lines() {
        if users.len() >= MAX_USERS {
            cx.problem(
                passwd,
                format!("more than {MAX_USERS} users; the rest is not read"),
            );
            break;
        }
        let f: Vec<&str> = line.split(':').collect();
        let (Some(name), Some(home)) = (f.first(), f.get(5)) else {
            continue;
        };
        if name.is_empty() || name.starts_with('#') || !home.starts_with('/') {
            continue;
        }
        let home = PathBuf::from(home);
        if users.iter().any(|u| u.home == home) || !cx.is_dir(&home) {
            continue;
        }
        users.push(User {
            name: name.to_string(),
            home,
        });
    }
    let mut extra: Vec<(String, PathBuf)> = cx
        .list(Path::new("/home"))
        .into_iter()
        .map(|n| (n.to_string_lossy().into_owned(), Path::new("/home").join(n)))
        .collect();
    extra.push(("root".into(), PathBuf::from("/root")));
    for (name, home) in extra {
        if users.len() < MAX_USERS && !users.iter().any(|u| u.home == home) && cx.is_dir(&home) {
            users.push(User { name, home });
        }
    }
    users
}
