//! Autostart entries: everything that starts a program without the user
//! asking, on a live system or on a disk mounted from another one.
//!
//! * [`windows`]: an offline Windows volume (found by its
//!   `Windows/System32/config`): Run keys, Winlogon, AppInit_DLLs, Image
//!   File Execution Options, services, BootExecute (from the registry
//!   hives), scheduled tasks (the XML store and the TaskCache keys),
//!   Startup folders (`.lnk` targets).
//! * [`linux`]: cron and anacron, systemd units and timers, SysV init and
//!   `rc.local`, `/etc/ld.so.preload`, shell start-up files,
//!   `authorized_keys` commands, udev `RUN`, XDG autostart.
//!
//! Every entry is one [`Entry`] whatever the mechanism; whatever cannot
//! be read is a [`Problem`] naming the place and the reason, and the rest
//! is read. Every input is hostile (the disk is a victim's): readers are
//! bounded in time and memory.
#![deny(missing_docs)]

pub mod disable;
pub mod lines;
pub mod linux;
pub mod open;
pub mod process;
#[cfg(feature = "testing")]
pub mod testing;
pub mod windows;

use serde::Serialize;
use std::path::{Path, PathBuf};

/// The system an entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// A Windows volume.
    Windows,
    /// A Linux root.
    Linux,
}

/// One autostart entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The system.
    pub os: Os,
    /// How it starts, one of a fixed set of kebab-case names: `run-key`,
    /// `winlogon`, `appinit-dlls`, `ifeo-debugger`, `service`,
    /// `boot-execute`, `scheduled-task`, `startup-folder`, `cron`,
    /// `anacron`, `systemd-unit`, `systemd-timer`, `sysv-init`,
    /// `rc-local`, `ld-preload`, `shell-startup`, `authorized-keys`,
    /// `udev-rule`, `xdg-autostart`.
    pub mechanism: &'static str,
    /// Where it is written: a registry key (`HKLM\SOFTWARE\Microsoft\
    /// Windows\CurrentVersion\Run`, `HKU\<user>\...`) or a file under the
    /// root, as a path from the root (`/etc/crontab`).
    pub location: String,
    /// Its name there: the value name, the service or task name, the
    /// unit, the file name; empty when the place has no names (a cron
    /// line).
    pub name: String,
    /// The user it runs as or belongs to, when known.
    pub user: Option<String>,
    /// The command line as written (environment variables unexpanded).
    pub command: Option<String>,
    /// The program or script it starts, resolved on the root (a path on
    /// this machine), when it could be.
    pub target: Option<PathBuf>,
    /// The line of `location` (1-based) for entries in text files.
    pub line: Option<u64>,
    /// How to disable it restorably, when takedown can: what to remove
    /// from which hive or file. None when it cannot be disabled without
    /// breaking the system or when the place is not understood well
    /// enough to edit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable: Option<Disable>,
}

/// What disabling an entry changes. Hive and file paths are paths on
/// this machine (under the root); registry keys are paths inside the
/// hive file, without the `HKLM\SOFTWARE` or `HKU\<user>` prefix
/// (`Microsoft\Windows\CurrentVersion\Run`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Disable {
    /// Delete one value of a key (a Run value, an IFEO `Debugger`).
    RegistryValue {
        /// The hive file.
        hive: PathBuf,
        /// The key inside the hive.
        key: String,
        /// The value name (empty: the default value).
        value: String,
    },
    /// Delete a key and everything under it (a service, a TaskCache
    /// entry).
    RegistryKey {
        /// The hive file.
        hive: PathBuf,
        /// The key inside the hive.
        key: String,
    },
    /// Remove one item from a list-valued string: a comma-separated
    /// Winlogon `Shell`/`Userinit`, the space- or comma-separated
    /// `AppInit_DLLs`, one string of the `BootExecute` multi-string.
    /// The other items stay.
    RegistryListItem {
        /// The hive file.
        hive: PathBuf,
        /// The key inside the hive.
        key: String,
        /// The value name.
        value: String,
        /// The item, exactly as it stands in the value.
        item: String,
    },
    /// Move a whole file into the vault (a unit, a `.desktop` file, a
    /// Startup shortcut, a task's XML, an init script).
    File {
        /// The file.
        path: PathBuf,
    },
    /// Comment out one line of a text file (a cron line, a line of a
    /// shell start-up file, an `authorized_keys` key, an `rc.local`
    /// command, an `ld.so.preload` entry, a udev rule).
    Line {
        /// The file.
        path: PathBuf,
        /// The line, 1-based.
        line: u64,
        /// The line's text as read (without the newline): the edit is
        /// refused when the file no longer has it there.
        text: String,
        /// The file kind continues a line ending in `\` (udev rules):
        /// every physical line of the logical line is commented out.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        continued: bool,
    },
    /// Several changes that make one entry (a scheduled task's TaskCache
    /// keys). In JSON: `{"kind": "all", "changes": [...]}`.
    #[serde(serialize_with = "all_changes")]
    All(Vec<Disable>),
}

/// An internally tagged enum cannot hold a bare sequence: the parts go
/// under a `changes` key beside the tag.
fn all_changes<S: serde::Serializer>(parts: &[Disable], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry("changes", parts)?;
    m.end()
}

/// Something that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file or key.
    pub location: String,
    /// Why (a short sentence).
    pub reason: String,
}

/// What a collection found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// The entries, in the order found.
    pub entries: Vec<Entry>,
    /// What could not be read.
    pub problems: Vec<Problem>,
}

impl Inventory {
    /// Adds a problem.
    pub fn problem(&mut self, location: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Problem {
            location: location.into(),
            reason: reason.into(),
        });
    }

    /// Adds another inventory's entries and problems.
    pub fn extend(&mut self, other: Inventory) {
        self.entries.extend(other.entries);
        self.problems.extend(other.problems);
    }
}

/// Every autostart entry under `root`: a Windows volume's when `root`
/// holds `Windows/System32/config` (any case), a Linux root's when it
/// holds `etc`; both when both.
pub fn collect(root: &Path) -> Inventory {
    let mut inv = Inventory::default();
    if windows::is_windows_root(root) {
        inv.extend(windows::collect(root));
    }
    if root.join("etc").is_dir() {
        inv.extend(linux::collect(root));
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disable_of_several_parts_serializes_with_its_tag() {
        let d = Disable::All(vec![Disable::File {
            path: PathBuf::from("/x"),
        }]);
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"kind": "all", "changes": [{"kind": "file", "path": "/x"}]})
        );
    }

    /// `continued` is written only when true (udev rules), so the lines
    /// of every other file kind read as before.
    #[test]
    fn a_line_says_continued_only_when_it_is() {
        let line = |continued| Disable::Line {
            path: PathBuf::from("/x"),
            line: 2,
            text: "a".into(),
            continued,
        };
        assert_eq!(
            serde_json::to_value(line(false)).unwrap(),
            serde_json::json!({"kind": "line", "path": "/x", "line": 2, "text": "a"})
        );
        assert_eq!(
            serde_json::to_value(line(true)).unwrap(),
            serde_json::json!({"kind": "line", "path": "/x", "line": 2, "text": "a", "continued": true})
        );
    }
}
