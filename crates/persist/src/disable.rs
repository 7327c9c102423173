//! Disabling entries restorably: which files change and how. The
//! changes are computed here, on bytes; the caller (the vault) keeps each
//! original and replaces or removes the file atomically.

use crate::Disable;
use crate::windows::edit::HiveEdit;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What happens to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The whole file goes into the vault.
    Remove {
        /// The file.
        path: PathBuf,
    },
    /// The file's content is replaced by an edited copy; the original
    /// goes into the vault.
    Edit {
        /// The file.
        path: PathBuf,
        /// What to change in it.
        edits: Edits,
    },
}

impl Change {
    /// The file changed.
    pub fn path(&self) -> &Path {
        match self {
            Change::Remove { path } | Change::Edit { path, .. } => path,
        }
    }
}

/// The edits of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edits {
    /// A registry hive.
    Hive(Vec<HiveEdit>),
    /// Lines of a text file to comment out: (line, text as read).
    Lines(Vec<(u64, String)>),
}

/// The changes that disable `disables`, one per file, in a stable order
/// (by path); a file both removed and edited is removed. Duplicate
/// edits are made once.
pub fn plan<'a>(disables: impl IntoIterator<Item = &'a Disable>) -> Vec<Change> {
    let mut removed: BTreeMap<PathBuf, ()> = BTreeMap::new();
    let mut hives: BTreeMap<PathBuf, Vec<HiveEdit>> = BTreeMap::new();
    let mut lines: BTreeMap<PathBuf, Vec<(u64, String)>> = BTreeMap::new();
    let mut stack: Vec<&Disable> = disables.into_iter().collect();
    while let Some(d) = stack.pop() {
        match d {
            Disable::RegistryValue { hive, key, value } => {
                hives.entry(hive.clone()).or_default().push(HiveEdit::DeleteValue {
                    key: key.clone(),
                    value: value.clone(),
                })
            }
            Disable::RegistryKey { hive, key } => hives
                .entry(hive.clone())
                .or_default()
                .push(HiveEdit::DeleteKey { key: key.clone() }),
            Disable::RegistryListItem {
                hive,
                key,
                value,
                item,
            } => hives
                .entry(hive.clone())
                .or_default()
                .push(HiveEdit::RemoveListItem {
                    key: key.clone(),
                    value: value.clone(),
                    item: item.clone(),
                }),
            Disable::File { path } => {
                removed.insert(path.clone(), ());
            }
            Disable::Line { path, line, text } => lines
                .entry(path.clone())
                .or_default()
                .push((*line, text.clone())),
            Disable::All(parts) => stack.extend(parts.iter()),
        }
    }
    let mut out: BTreeMap<PathBuf, Change> = BTreeMap::new();
    for (path, mut edits) in hives {
        edits.sort();
        edits.dedup();
        out.insert(
            path.clone(),
            Change::Edit {
                path,
                edits: Edits::Hive(edits),
            },
        );
    }
    for (path, mut edits) in lines {
        edits.sort();
        edits.dedup();
        out.insert(
            path.clone(),
            Change::Edit {
                path,
                edits: Edits::Lines(edits),
            },
        );
    }
    for path in removed.into_keys() {
        out.insert(path.clone(), Change::Remove { path });
    }
    out.into_values().collect()
}

/// The edited content of a file whose current content is `content`. A
/// dirty hive (changes only in its transaction logs) or one that does not
/// read is never edited.
pub fn apply(edits: &Edits, content: &[u8]) -> Result<Vec<u8>, String> {
    match edits {
        Edits::Hive(e) => crate::windows::edit::apply(content, e),
        Edits::Lines(l) => crate::lines::comment_out(content, l),
    }
}
