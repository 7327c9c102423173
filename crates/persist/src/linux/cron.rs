//! cron and anacron: `/etc/crontab` and `/etc/cron.d/*` (with a user
//! column), the users' crontabs in the spool (the user is the file name),
//! the `run-parts` directories `/etc/cron.{hourly,daily,weekly,monthly}`
//! (each script an entry), and `/etc/anacrontab`.

use super::{Cx, New};
use std::path::{Path, PathBuf};

/// Spool directories of user crontabs: Debian, Red Hat, SUSE.
const SPOOLS: &[&str] = &[
    "/var/spool/cron/crontabs",
    "/var/spool/cron",
    "/var/spool/cron/tabs",
];
const PARTS: &[&str] = &[
    "/etc/cron.hourly",
    "/etc/cron.daily",
    "/etc/cron.weekly",
    "/etc/cron.monthly",
];

pub(super) fn collect(cx: &mut Cx) {
    let crontab = PathBuf::from("/etc/crontab");
    crontab_file(cx, &crontab, None);
    for f in cx.files_in(Path::new("/etc/cron.d")) {
        crontab_file(cx, &f, None);
    }
    for spool in SPOOLS {
        for f in cx.files_in(Path::new(spool)) {
            let user = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            crontab_file(cx, &f, Some(user));
        }
    }
    for dir in PARTS {
        for f in cx.files_in(Path::new(dir)) {
            let target = cx.host_file(&f);
            // run-parts runs what the directory holds: a script gone is a
            // job gone, nothing else changes.
            let disable = cx.disable_file(&f);
            cx.add(New {
                mechanism: "cron",
                location: &f,
                name: f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                user: Some("root".into()),
                command: None,
                target,
                line: None,
                disable,
            });
        }
    }
    anacrontab(cx);
}

/// Lines of a crontab joined with nothing: cron has no continuation
/// lines. `owner` is the user of a spool crontab (no user column).
fn crontab_file(cx: &mut Cx, path: &Path, owner: Option<String>) {
    let Some(text) = cx.text(path) else {
        return;
    };
    for (i, line) in text.lines().enumerate() {
        let Some((user, cmd)) = cron_line(line, owner.is_none()) else {
            continue;
        };
        let user = owner.clone().or(user);
        let target = cx.target_of(&cron_command(&cmd), &[]);
        // cron skips a line whose first non-blank is `#` (cron(5)).
        let disable = cx.disable_line(path, i as u64 + 1, line, false);
        cx.add(New {
            mechanism: "cron",
            location: path,
            name: String::new(),
            user,
            command: Some(cmd),
            target,
            line: Some(i as u64 + 1),
            disable,
        });
    }
}

/// `(user, command)` of a crontab line; `None` for comments, blank lines
/// and `NAME=value` settings. `with_user`: the system format, whose
/// sixth field (second after `@reboot`) is the user.
fn cron_line(line: &str, with_user: bool) -> Option<(Option<String>, String)> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let fields = if t.starts_with('@') { 1 } else { 5 };
    // A setting: `NAME = value` before any schedule.
    let first = t.split_whitespace().next()?;
    if !t.starts_with('@')
        && (first.contains('=')
            || t.split_once('=').is_some_and(|(n, _)| {
                n.trim()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            }))
    {
        return None;
    }
    let mut rest = t;
    for _ in 0..fields {
        rest = skip_field(rest)?;
    }
    let user = if with_user {
        let u = rest.split_whitespace().next()?.to_string();
        rest = skip_field(rest)?;
        Some(u)
    } else {
        None
    };
    let cmd = rest.trim();
    if cmd.is_empty() {
        return None;
    }
    Some((user, cmd.to_string()))
}

/// `s` after its first whitespace-separated field.
fn skip_field(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace)?;
    Some(s[end..].trim_start())
}

/// The part of a cron command the shell runs: an unescaped `%` starts
/// the command's standard input.
fn cron_command(cmd: &str) -> String {
    let mut out = String::new();
    let mut it = cmd.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some('%') => out.push('%'),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '%' => break,
            c => out.push(c),
        }
    }
    out
}

/// `/etc/anacrontab`: `period delay job-id command`; settings skipped.
fn anacrontab(cx: &mut Cx) {
    let path = Path::new("/etc/anacrontab");
    let Some(text) = cx.text(path) else {
        return;
    };
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let first = t.split_whitespace().next().unwrap_or("");
        if first.contains('=') {
            continue;
        }
        let Some(after_delay) = skip_field(t).and_then(skip_field) else {
            continue;
        };
        let Some(job) = after_delay.split_whitespace().next() else {
            continue;
        };
        let Some(cmd) = skip_field(after_delay).map(str::trim) else {
            continue;
        };
        if cmd.is_empty() {
            continue;
        }
        let target = cx.target_of(cmd, &[]);
        // anacron skips a line whose first non-blank is `#` (anacrontab(5)).
        let disable = cx.disable_line(path, i as u64 + 1, line, false);
        cx.add(New {
            mechanism: "anacron",
            location: path,
            name: job.to_string(),
            user: Some("root".into()),
            command: Some(cmd.to_string()),
            target,
            line: Some(i as u64 + 1),
            disable,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            cron_line(
                "17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly",
                true
            ),
            Some((
                Some("root".into()),
                "cd / && run-parts --report /etc/cron.hourly".into()
            ))
        );
        assert_eq!(
            cron_line("@reboot /opt/x -d", false),
            Some((None, "/opt/x -d".into()))
        );
        assert_eq!(cron_line("SHELL=/bin/sh", true), None);
        assert_eq!(cron_line("MAILTO = \"\"", true), None);
        assert_eq!(cron_line("# 1 2 3 4 5 root x", true), None);
        assert_eq!(cron_line("1 2 3", true), None);
        assert_eq!(cron_command("date +\\%s % input"), "date +%s ");
    }
}
