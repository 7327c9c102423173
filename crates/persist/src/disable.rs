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
    /// Lines of a text file to comment out.
    Lines {
        /// (line, text as read), sorted, each once.
        lines: Vec<(u64, String)>,
        /// The file kind continues a line ending in `\` (udev rules):
        /// the whole logical line of each is commented out
        /// ([`crate::lines::comment_out`]).
        continued: bool,
    },
}

/// The changes that disable `disables`, one per file, in a stable order
/// (by path); a file both removed and edited is removed. Duplicate
/// edits are made once.
///
/// The lines of one file are edited as continued when any of its
/// [`Disable::Line`]s says so: one file is one kind, so they agree
/// unless a caller mixed them up, and then commenting out more lines is
/// the side that leaves nothing of an entry running (the original is
/// kept either way).
pub fn plan<'a>(disables: impl IntoIterator<Item = &'a Disable>) -> Vec<Change> {
    let mut removed: BTreeMap<PathBuf, ()> = BTreeMap::new();
    let mut hives: BTreeMap<PathBuf, Vec<HiveEdit>> = BTreeMap::new();
    let mut lines: BTreeMap<PathBuf, (Vec<(u64, String)>, bool)> = BTreeMap::new();
    let mut stack: Vec<&Disable> = disables.into_iter().collect();
    while let Some(d) = stack.pop() {
        match d {
            Disable::RegistryValue { hive, key, value } => hives
                .entry(hive.clone())
                .or_default()
                .push(HiveEdit::DeleteValue {
                    key: key.clone(),
                    value: value.clone(),
                }),
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
            Disable::Line {
                path,
                line,
                text,
                continued,
            } => {
                let (l, c) = lines.entry(path.clone()).or_default();
                l.push((*line, text.clone()));
                *c |= *continued;
            }
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
    for (path, (mut l, continued)) in lines {
        l.sort();
        l.dedup();
        out.insert(
            path.clone(),
            Change::Edit {
                path,
                edits: Edits::Lines {
                    lines: l,
                    continued,
                },
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
        Edits::Lines { lines, continued } => crate::lines::comment_out(content, lines, *continued),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(path: &str, n: u64, text: &str, continued: bool) -> Disable {
        Disable::Line {
            path: PathBuf::from(path),
            line: n,
            text: text.into(),
            continued,
        }
    }

    /// The lines of one file become one edit, continued when any of
    /// them says so; `apply` comments out what that mode says.
    #[test]
    fn lines_of_a_file_are_one_edit_in_its_mode() {
        let content = b"A \\\nB\nC\n";
        let cron = [line("/f", 1, "A \\", false), line("/f", 1, "A \\", false)];
        let plan_of = |d: &[Disable]| match plan(d).as_slice() {
            [Change::Edit { path, edits }] if path == Path::new("/f") => edits.clone(),
            other => panic!("{other:?}"),
        };
        let edits = plan_of(&cron);
        assert_eq!(
            edits,
            Edits::Lines {
                lines: vec![(1, "A \\".into())],
                continued: false
            }
        );
        assert_eq!(
            apply(&edits, content).unwrap(),
            b"# takedown: disabled: A \\\nB\nC\n"
        );
        let mixed = [line("/f", 3, "C", false), line("/f", 1, "A \\", true)];
        let edits = plan_of(&mixed);
        assert_eq!(
            edits,
            Edits::Lines {
                lines: vec![(1, "A \\".into()), (3, "C".into())],
                continued: true
            }
        );
        assert_eq!(
            apply(&edits, content).unwrap(),
            b"# takedown: disabled: A \\\n# takedown: disabled: B\n# takedown: disabled: C\n"
        );
    }
}
