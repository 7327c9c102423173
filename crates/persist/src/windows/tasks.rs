//! Scheduled tasks from the XML store, `Windows/System32/Tasks`: one file
//! per task, its path under the store the task's name (`\Folder\Name`),
//! written by Windows in UTF-16 LE with a BOM.
//!
//! The files are the victim's: each is read only to [`MAX_TASK_BYTES`]
//! (a larger one is reported, not parsed), parsed with quick-xml without
//! a DTD (declared entities are never expanded: `&lol9;` stays as
//! written, so a billion-laughs file costs its own size), with the
//! element depth, text length and action count capped. The walk of the
//! store never follows a symbolic link.

use super::paths::{self, Vars};
use crate::open::open_regular;
use crate::{Disable, Entry, Inventory, Os};
use quick_xml::Reader;
use quick_xml::events::Event;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bytes read from one task file: real ones are a few KiB (Windows caps
/// a task's XML far below this); a bigger file is planted.
pub const MAX_TASK_BYTES: u64 = 1 << 20;
/// Task files read from the store: a store stuffed with millions of files
/// stops here (reported).
const MAX_TASK_FILES: usize = 100_000;
/// Folder depth of the store walked.
const MAX_FOLDER_DEPTH: usize = 32;
/// Element nesting in one task: the schema is 5 deep; a deep file is
/// hostile.
const MAX_XML_DEPTH: usize = 64;
/// Bytes kept of one element's text (four times Windows' command-line
/// limit of 32,767 characters).
const MAX_TEXT: usize = 4 * 32_767;
/// Actions kept of one task: Windows allows 32.
const MAX_ACTIONS: usize = 32;

/// One scheduled task as its XML says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Task {
    /// `RegistrationInfo/URI` (the name it claims; the file path is the
    /// name the scheduler uses).
    pub uri: Option<String>,
    /// `Settings/Enabled` (true when absent, as in the schema).
    pub enabled: bool,
    /// `Settings/Hidden`.
    pub hidden: bool,
    /// `Principals/Principal/UserId` (a SID or a name), or `GroupId`.
    pub user: Option<String>,
    /// Its actions, in order (at most [`MAX_ACTIONS`]).
    pub actions: Vec<Action>,
    /// Whether actions past [`MAX_ACTIONS`] were left out.
    pub more_actions: bool,
}

/// What a task does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Starts a program.
    Exec {
        /// `Command`, as written (variables unexpanded).
        command: String,
        /// `Arguments`.
        arguments: Option<String>,
        /// `WorkingDirectory`.
        working_directory: Option<String>,
    },
    /// Loads a COM object (its DLL is found through the registry's CLSID).
    ComHandler {
        /// `ClassId` (`{...}`).
        class_id: String,
        /// `Data` passed to it.
        data: Option<String>,
    },
}

/// Every task of the store under `root`, an entry per action
/// (`scheduled-task`); a task that cannot be read is a problem.
pub fn collect(root: &Path, vars: &Vars) -> Inventory {
    let mut inv = Inventory::default();
    let Some(store) = paths::resolve(root, r"Windows\System32\Tasks") else {
        return inv;
    };
    let mut files = 0usize;
    // (directory on this machine, task path so far, depth): an explicit
    // stack, so a deep store cannot exhaust ours.
    let mut todo: Vec<(PathBuf, String, usize)> = vec![(store, String::new(), 0)];
    while let Some((dir, prefix, depth)) = todo.pop() {
        let mut names: Vec<_> = match fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .take(MAX_TASK_FILES + 1)
                .collect(),
            Err(e) => {
                inv.problem(shown(root, &dir), format!("cannot list: {e}"));
                continue;
            }
        };
        names.sort();
        // Folders are pushed in reverse so they come out in name order.
        let mut subdirs = Vec::new();
        for n in names {
            let path = dir.join(&n);
            let task = format!(r"{prefix}\{}", n.to_string_lossy());
            let Ok(m) = fs::symlink_metadata(&path) else {
                continue;
            };
            if m.file_type().is_symlink() {
                inv.problem(shown(root, &path), "a symbolic link: not followed");
            } else if m.is_dir() {
                if depth + 1 >= MAX_FOLDER_DEPTH {
                    inv.problem(
                        shown(root, &path),
                        format!("folders deeper than {MAX_FOLDER_DEPTH}: not read"),
                    );
                } else {
                    subdirs.push((path, task, depth + 1));
                }
            } else if m.is_file() {
                files += 1;
                if files > MAX_TASK_FILES {
                    inv.problem(
                        shown(root, &dir),
                        format!("more than {MAX_TASK_FILES} task files; the rest is not read"),
                    );
                    return inv;
                }
                task_file(root, &path, &task, vars, &mut inv);
            }
        }
        todo.extend(subdirs.into_iter().rev());
    }
    inv
}

/// The entries of one task file.
fn task_file(root: &Path, path: &Path, name: &str, vars: &Vars, inv: &mut Inventory) {
    let location = shown(root, path);
    let bytes = match read_capped(path, MAX_TASK_BYTES) {
        Ok(b) => b,
        Err(reason) => {
            inv.problem(location, reason);
            return;
        }
    };
    let task = match parse_task(&bytes) {
        Ok(t) => t,
        Err(reason) => {
            inv.problem(location, reason);
            return;
        }
    };
    if task.more_actions {
        inv.problem(
            location.clone(),
            format!("more than {MAX_ACTIONS} actions; the rest is not listed"),
        );
    }
    let mut label = name.to_string();
    if !task.enabled {
        label.push_str(" (disabled)");
    }
    if task.hidden {
        label.push_str(" (hidden)");
    }
    for a in &task.actions {
        let (command, target) = match a {
            Action::Exec {
                command, arguments, ..
            } => {
                let args = arguments.as_deref().unwrap_or("").trim();
                let written = if args.is_empty() {
                    command.clone()
                } else {
                    format!("{command} {args}")
                };
                // The command is one path even with spaces in it.
                let quoted = format!("\"{}\" {args}", command.trim().trim_matches('"'));
                (written, paths::target(root, &quoted, vars))
            }
            Action::ComHandler { class_id, data } => {
                let mut c = format!("ComHandler {class_id}");
                if let Some(d) = data {
                    c.push(' ');
                    c.push_str(d);
                }
                (c, None)
            }
        };
        inv.entries.push(Entry {
            os: Os::Windows,
            mechanism: "scheduled-task",
            location: location.clone(),
            name: label.clone(),
            user: task.user.clone(),
            command: Some(command),
            target,
            line: None,
            // The task's file goes into the vault: the scheduler no longer
            // finds the task in its store.
            disable: Some(Disable::File {
                path: path.to_path_buf(),
            }),
        });
    }
}

/// The text of task XML bytes: UTF-16 LE or BE by its BOM (or by the
/// zero bytes of `<` without one), else UTF-8 (BOM dropped); invalid
/// sequences become U+FFFD.
pub fn decode_text(bytes: &[u8]) -> String {
    let utf16 = |b: &[u8], le: bool| {
        let units = b.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [b'<', 0, ..] => utf16(bytes, true),
        [0, b'<', ..] => utf16(bytes, false),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Parses one task file's bytes (any of the encodings of
/// [`decode_text`]). Bounded: no entity expansion, depth, text and
/// actions capped. The entry point for fuzzing.
pub fn parse_task(bytes: &[u8]) -> Result<Task, String> {
    let text = decode_text(bytes);
    let mut reader = Reader::from_str(&text);
    // Text is not trimmed piece by piece (that would eat the blanks
    // around `&amp;`); each value is trimmed whole.
    reader.config_mut().trim_text(false);
    let mut task = Task {
        enabled: true,
        ..Task::default()
    };
    let mut stack: Vec<String> = Vec::new();
    let mut buf = String::new();
    let mut exec: Option<(String, Option<String>, Option<String>)> = None;
    let mut com: Option<(String, Option<String>)> = None;
    let mut seen_task = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        match ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if stack.is_empty() {
                    if name != "Task" {
                        return Err(format!("not a task: the root element is <{name}>"));
                    }
                    seen_task = true;
                }
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_XML_DEPTH}"));
                }
                match (path_is(&stack, &["Task", "Actions"]), name.as_str()) {
                    (true, "Exec") => exec = Some((String::new(), None, None)),
                    (true, "ComHandler") => com = Some((String::new(), None)),
                    _ => {}
                }
                stack.push(name);
                buf.clear();
            }
            Event::Empty(_) if stack.is_empty() => {
                return Err("not a task: an empty document element".into());
            }
            Event::Text(t) => push_text(&mut buf, &t.xml10_content()),
            Event::CData(t) => push_text(&mut buf, &t.into_inner()),
            Event::GeneralRef(r) => {
                // Only XML's own entities and character references: a
                // DTD's entities are never expanded.
                let name = r.xml10_content();
                let s = match name.as_ref() {
                    "amp" => "&".to_string(),
                    "lt" => "<".into(),
                    "gt" => ">".into(),
                    "quot" => "\"".into(),
                    "apos" => "'".into(),
                    _ => match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => format!("&{name};"),
                    },
                };
                push_text(&mut buf, &s);
            }
            Event::End(_) => {
                let value = std::mem::take(&mut buf).trim().to_string();
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                match path.as_slice() {
                    ["Task", "RegistrationInfo", "URI"] => task.uri = Some(value),
                    ["Task", "Settings", "Enabled"] => task.enabled = value.trim() != "false",
                    ["Task", "Settings", "Hidden"] => task.hidden = value.trim() == "true",
                    ["Task", "Principals", "Principal", "UserId"] => task.user = Some(value),
                    ["Task", "Principals", "Principal", "GroupId"] => {
                        task.user.get_or_insert(value);
                    }
                    ["Task", "Actions", "Exec", field] => {
                        if let Some(x) = exec.as_mut() {
                            match *field {
                                "Command" => x.0 = value,
                                "Arguments" => x.1 = Some(value),
                                "WorkingDirectory" => x.2 = Some(value),
                                _ => {}
                            }
                        }
                    }
                    ["Task", "Actions", "ComHandler", field] => {
                        if let Some(x) = com.as_mut() {
                            match *field {
                                "ClassId" => x.0 = value,
                                "Data" => x.1 = Some(value),
                                _ => {}
                            }
                        }
                    }
                    ["Task", "Actions", "Exec"] => {
                        if let Some((command, arguments, working_directory)) = exec.take() {
                            add_action(
                                &mut task,
                                Action::Exec {
                                    command,
                                    arguments,
                                    working_directory,
                                },
                            );
                        }
                    }
                    ["Task", "Actions", "ComHandler"] => {
                        if let Some((class_id, data)) = com.take() {
                            add_action(&mut task, Action::ComHandler { class_id, data });
                        }
                    }
                    _ => {}
                }
                stack.pop();
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions, DOCTYPE
            // (its entities are not used).
            _ => {}
        }
    }
    if !seen_task {
        return Err("not a task: no <Task> element".into());
    }
    Ok(task)
}

fn add_action(task: &mut Task, a: Action) {
    if task.actions.len() < MAX_ACTIONS {
        task.actions.push(a);
    } else {
        task.more_actions = true;
    }
}

fn path_is(stack: &[String], want: &[&str]) -> bool {
    stack.len() == want.len() && stack.iter().zip(want).all(|(a, b)| a == b)
}

/// Appends to an element's text up to [`MAX_TEXT`] bytes (constant time
/// once full: a text of a million references stays linear).
fn push_text(buf: &mut String, s: &str) {
    for c in s.chars() {
        if buf.len() + c.len_utf8() > MAX_TEXT {
            return;
        }
        buf.push(c);
    }
}

/// The first `cap` bytes of a regular file (not a link, device or
/// FIFO); a larger file is an error (a truncated XML would not parse).
pub(crate) fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    // Checked on the handle too, not a link, never blocking: see
    // `open_regular`.
    let f = open_regular(path)?.ok_or_else(|| "no such file".to_string())?;
    let m = f.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if m.len() > cap {
        return Err(format!("larger than {cap} bytes: not read"));
    }
    let mut buf = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read: {e}"))?;
    if buf.len() as u64 > cap {
        return Err(format!("larger than {cap} bytes: not read"));
    }
    Ok(buf)
}

/// A path on the volume as shown in entries: from the root, `/`-separated
/// (`/Windows/System32/Tasks/Updater`).
pub(crate) fn shown(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut s = String::new();
    for c in rel.components() {
        if let std::path::Component::Normal(n) = c {
            s.push('/');
            s.push_str(&n.to_string_lossy());
        }
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exec_and_com() {
        let x = r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo><URI>\A\B</URI></RegistrationInfo>
  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals>
  <Settings><Enabled>false</Enabled><Hidden>true</Hidden></Settings>
  <Actions Context="Author">
    <Exec><Command>%windir%\system32\cmd.exe</Command><Arguments>/c "a &amp; b" &#x41;</Arguments></Exec>
    <ComHandler><ClassId>{1234}</ClassId></ComHandler>
  </Actions>
</Task>"#;
        let t = parse_task(x.as_bytes()).unwrap();
        assert_eq!(t.uri.as_deref(), Some(r"\A\B"));
        assert!(!t.enabled && t.hidden);
        assert_eq!(t.user.as_deref(), Some("S-1-5-18"));
        assert_eq!(
            t.actions[0],
            Action::Exec {
                command: r"%windir%\system32\cmd.exe".into(),
                arguments: Some(r#"/c "a & b" A"#.into()),
                working_directory: None
            }
        );
        assert_eq!(
            t.actions[1],
            Action::ComHandler {
                class_id: "{1234}".into(),
                data: None
            }
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_task(b"").is_err());
        assert!(parse_task(b"<Other/>").is_err());
        assert!(parse_task(b"<Task><a></b></Task>").is_err());
        assert!(parse_task(&[0xFF, 0xFE, 0x3C]).is_err());
        let deep = "<Task>".to_string() + &"<a>".repeat(100_000);
        assert!(parse_task(deep.as_bytes()).is_err());
    }
}
