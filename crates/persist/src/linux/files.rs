//! The file-based mechanisms: SysV init links, `rc.local`,
//! `/etc/ld.so.preload`, shell start-up files, `authorized_keys`
//! commands, udev `RUN`, XDG autostart.

use super::{Cx, New};
use std::path::{Path, PathBuf};

/// Shell start-up files read by every login or interactive shell.
const SYSTEM_SHELL_FILES: &[&str] = &[
    "/etc/profile",
    "/etc/bash.bashrc",
    "/etc/bashrc",
    "/etc/zshenv",
    "/etc/zprofile",
    "/etc/zshrc",
    "/etc/zlogin",
    "/etc/zlogout",
    "/etc/environment",
];
/// Directories whose every file a shell reads at start-up.
const SYSTEM_SHELL_DIRS: &[&str] = &["/etc/profile.d", "/etc/zsh"];
/// A user's start-up files, from the home.
const USER_SHELL_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".zlogout",
];
const UDEV_DIRS: &[&str] = &[
    "/etc/udev/rules.d",
    "/run/udev/rules.d",
    "/lib/udev/rules.d",
    "/usr/lib/udev/rules.d",
];
/// Where udev looks up a `RUN` program given without a path.
const UDEV_PROGRAM_DIRS: &[&str] = &["/usr/lib/udev", "/lib/udev"];

pub(super) fn collect(cx: &mut Cx) {
    sysv(cx);
    for f in ["/etc/rc.local", "/etc/rc.d/rc.local"] {
        whole_file(cx, "rc-local", Path::new(f), Some("root"));
    }
    ld_preload(cx);
    shell(cx);
    authorized_keys(cx);
    udev(cx);
    xdg(cx);
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A file that is itself the entry (a script run as a whole), disabled
/// by moving it into the vault: a shell reads a start-up file only when
/// it is there (bash, zsh and dash test for it), and systemd's
/// `rc-local.service` runs only when `/etc/rc.local` exists and is
/// executable. A shell file is never edited line by line: quotes,
/// here-documents and compound commands span lines, and commenting one
/// out could change what the rest does.
fn whole_file(cx: &mut Cx, mechanism: &'static str, path: &Path, user: Option<&str>) {
    let Some(target) = cx.host_file(path) else {
        return;
    };
    let disable = cx.disable_file(path);
    cx.add(New {
        mechanism,
        location: path,
        name: file_name(path),
        user: user.map(str::to_string),
        command: None,
        target: Some(target),
        line: None,
        disable,
    });
}

/// `/etc/rc?.d/S*`: each start link is an entry naming its script.
fn sysv(cx: &mut Cx) {
    let mut seen: Vec<PathBuf> = Vec::new();
    for rc in ["/etc", "/etc/rc.d"] {
        for level in ["0", "1", "2", "3", "4", "5", "6", "S"] {
            let dir = Path::new(rc).join(format!("rc{level}.d"));
            // `/etc/rcN.d` may be a link to `/etc/rc.d/rcN.d`.
            match cx.root.resolve(&dir) {
                Ok(r) if !seen.contains(&r.host) => seen.push(r.host),
                _ => continue,
            }
            for n in cx.list(&dir) {
                let name = n.to_string_lossy().into_owned();
                let Some(script) = name.strip_prefix('S') else {
                    continue;
                };
                let link = dir.join(&n);
                let target = cx.host_file(&link);
                if target.is_none() {
                    continue;
                }
                let script = script.trim_start_matches(|c: char| c.is_ascii_digit());
                // The init script itself, not the link: every runlevel's
                // link to it stops at once (each is an entry; the same
                // file is moved once), and systemd's sysv generator makes
                // no unit of a script that is gone.
                let disable = cx.disable_file(&link);
                cx.add(New {
                    mechanism: "sysv-init",
                    location: &link,
                    name: script.to_string(),
                    user: Some("root".into()),
                    command: None,
                    target,
                    line: None,
                    disable,
                });
            }
        }
    }
}

/// `/etc/ld.so.preload`: every library (separated by blanks or colons)
/// is loaded into every dynamically linked program.
fn ld_preload(cx: &mut Cx) {
    let path = Path::new("/etc/ld.so.preload");
    let Some(text) = cx.text(path) else { return };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        for lib in line.split(|c: char| c.is_whitespace() || c == ':') {
            if lib.is_empty() {
                continue;
            }
            let target = cx.find_program(lib, &[]);
            // ld.so blanks from a `#` to the end of its line (glibc's
            // rtld.c): the whole line goes, with every library on it.
            let disable = cx.disable_line(path, i as u64 + 1, raw, false);
            cx.add(New {
                mechanism: "ld-preload",
                location: path,
                name: file_name(Path::new(lib)),
                user: None,
                command: Some(lib.to_string()),
                target,
                line: Some(i as u64 + 1),
                disable,
            });
        }
    }
}

/// Shell start-up files: one entry per file, the file its own target
/// (what runs is the whole script).
fn shell(cx: &mut Cx) {
    for f in SYSTEM_SHELL_FILES {
        whole_file(cx, "shell-startup", Path::new(f), None);
    }
    for d in SYSTEM_SHELL_DIRS {
        for f in cx.files_in(Path::new(d)) {
            whole_file(cx, "shell-startup", &f, None);
        }
    }
    for u in cx.users.clone() {
        for f in USER_SHELL_FILES {
            whole_file(cx, "shell-startup", &u.home.join(f), Some(&u.name));
        }
    }
}

/// Each home's `authorized_keys`: keys with a `command="..."` option run
/// that command on every login with the key.
fn authorized_keys(cx: &mut Cx) {
    for u in cx.users.clone() {
        for f in ["authorized_keys", "authorized_keys2"] {
            let path = u.home.join(".ssh").join(f);
            let Some(text) = cx.text(&path) else { continue };
            for (i, line) in text.lines().enumerate() {
                let Some((cmd, comment)) = key_command(line) else {
                    continue;
                };
                let target = cx.target_of(&cmd, &[]);
                // sshd ignores lines starting with `#` (sshd(8)): the key
                // no longer logs in, and its command no longer runs.
                let disable = cx.disable_line(&path, i as u64 + 1, line, false);
                cx.add(New {
                    mechanism: "authorized-keys",
                    location: &path,
                    name: comment,
                    user: Some(u.name.clone()),
                    command: Some(cmd),
                    target,
                    line: Some(i as u64 + 1),
                    disable,
                });
            }
        }
    }
}

/// Whether a word is a key type (the options, if any, come before it).
fn is_key_type(w: &str) -> bool {
    w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-")
}

/// `(command, key comment)` of an `authorized_keys` line with a
/// `command=` option.
fn key_command(line: &str) -> Option<(String, String)> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') || is_key_type(t.split_whitespace().next()?) {
        return None;
    }
    // Options: comma-separated, values in double quotes with `\"`.
    let mut cmd = None;
    let mut opt = String::new();
    let mut quoted = false;
    let mut end = t.len();
    let mut it = t.char_indices().peekable();
    let finish = |opt: &mut String, cmd: &mut Option<String>| {
        // OpenSSH matches option names in any case (`Command="..."`).
        if let Some(v) = opt
            .get(..8)
            .filter(|n| n.eq_ignore_ascii_case("command="))
            .and_then(|_| opt.get(8..))
        {
            cmd.get_or_insert_with(|| v.to_string());
        }
        opt.clear();
    };
    while let Some((i, c)) = it.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted && it.peek().is_some_and(|(_, n)| *n == '"') => {
                opt.push('"');
                it.next();
            }
            ',' if !quoted => finish(&mut opt, &mut cmd),
            c if c.is_whitespace() && !quoted => {
                end = i;
                break;
            }
            c => opt.push(c),
        }
    }
    finish(&mut opt, &mut cmd);
    let cmd = cmd?;
    // The key's comment, after type and key.
    let rest: Vec<&str> = t.get(end..).unwrap_or("").split_whitespace().collect();
    let comment = rest
        .get(2..)
        .map(|r| r.join(" "))
        .filter(|c| !c.is_empty())
        .or_else(|| rest.first().map(|s| s.to_string()))
        .unwrap_or_default();
    Some((cmd, comment))
}

/// udev rules: `RUN` (not `RUN{builtin}`), `PROGRAM` and
/// `IMPORT{program}` run programs on device events.
fn udev(cx: &mut Cx) {
    let mut names: Vec<String> = Vec::new();
    for d in UDEV_DIRS {
        for f in cx.files_in(Path::new(d)) {
            let name = file_name(&f);
            // A rules file in /etc hides the one of the same name below.
            if !name.ends_with(".rules") || names.contains(&name) {
                continue;
            }
            names.push(name);
            let Some(text) = cx.text(&f) else { continue };
            for rule in udev_rules(&text) {
                for (key, value) in udev_runs(&rule.rule) {
                    let target = cx.target_of(&value, UDEV_PROGRAM_DIRS);
                    // The rule's first physical line as read; commenting
                    // it out comments out the lines it continues onto too
                    // (udev would run a tail left alone as a rule).
                    let disable = cx.disable_line(&f, rule.line, rule.first, true);
                    cx.add(New {
                        mechanism: "udev-rule",
                        location: &f,
                        name: key,
                        user: Some("root".into()),
                        command: Some(value),
                        target,
                        line: Some(rule.line),
                        disable,
                    });
                }
            }
        }
    }
}

/// One rule of a udev rules file.
#[derive(Debug, PartialEq)]
struct UdevRule<'a> {
    /// The line it starts on, counted at `\n` as the listing (and
    /// [`crate::lines::comment_out`]) counts lines.
    line: u64,
    /// That line as read: without its `\n` or `\r\n` ending.
    first: &'a str,
    /// The rule as udev parses it: its lines joined.
    rule: String,
}

/// The rules of a rules file, split and joined as systemd's udev does
/// (`udev_rules_parse_file` in `udev-rules.c`, reading with
/// [`udev_lines`]): blanks at the start of a line are dropped; a line
/// whose first other character is `#` is skipped, whether or not a rule
/// is being continued, and never continues itself; a rule ending with
/// `\` (after the joining) continues with the next line not skipped; an
/// empty line ends it. So `# x \` does not swallow the line after it,
/// and a comment inside a continued rule is not part of it.
///
/// A file that ends inside a continued rule: udev drops that rule
/// ("Unexpected EOF after line continuation"), but it is listed anyway,
/// as are rules that udev refuses as too long (16 KiB) or never reaches
/// because an earlier line is too long: listing more than udev runs
/// costs a look, listing less would hide a program. Linear in the size
/// of `text`.
fn udev_rules(text: &str) -> Vec<UdevRule<'_>> {
    let mut rules = Vec::new();
    let mut at = LineAt::new(text);
    // The rule being continued: where it starts, and its lines so far,
    // its final `\` removed.
    let mut open: Option<(usize, String)> = None;
    for (start, raw) in udev_lines(text) {
        // systemd's `skip_leading_chars` drops its WHITESPACE, " \t\n\r";
        // the line ends never reach here.
        let line = raw.trim_start_matches([' ', '\t']);
        if line.starts_with('#') {
            continue;
        }
        let (begin, mut joined) = match open.take() {
            Some((begin, mut joined)) => {
                joined.push_str(line);
                (begin, joined)
            }
            None => (start, line.to_string()),
        };
        // udev looks at the end of the joined rule, not of the line: after
        // a rule ending with `\\`, an empty line continues it too.
        if joined.ends_with('\\') {
            joined.pop();
            open = Some((begin, joined));
            continue;
        }
        if !joined.is_empty() {
            rules.push(at.rule(begin, joined));
        }
    }
    if let Some((begin, joined)) = open.filter(|(_, j)| !j.is_empty()) {
        rules.push(at.rule(begin, joined));
    }
    rules
}

/// The lines of `text` as systemd's `read_line` (which udev reads rules
/// files with) splits them, each with the byte offset it starts at: a
/// line ends at `\n`, `\r` or a NUL byte; `\r\n` and `\n\r` are one ending,
/// a NUL is always one of its own (`read_line_full` in `fileio.c`). No
/// empty line after a final ending.
fn udev_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    const LF: u8 = 1;
    const CR: u8 = 2;
    const NUL: u8 = 4;
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        let mut end = None;
        // The kinds of ending seen so far in this line's ending.
        let mut seen = 0u8;
        while let Some(&b) = bytes.get(pos) {
            let kind = match b {
                b'\n' => LF,
                b'\r' => CR,
                0 => NUL,
                _ => 0,
            };
            if seen & NUL != 0 || (kind == 0 && seen != 0) || seen & kind != 0 {
                break;
            }
            if kind != 0 {
                end.get_or_insert(pos);
                seen |= kind;
            }
            pos += 1;
        }
        // The endings are ASCII: `start` and `end` are character boundaries.
        let line = text.get(start..end.unwrap_or(pos)).unwrap_or_default();
        Some((start, line))
    })
}

/// The `\n`-counted line (number and text) holding a byte offset, for
/// offsets asked in increasing order: one pass over the text in all.
struct LineAt<'a> {
    text: &'a str,
    /// The line holding `scanned`, and where it starts.
    number: u64,
    start: usize,
    scanned: usize,
    /// The text of line `number` once found (several rules may start
    /// on one line, after a lone `\r` or a NUL).
    found: Option<&'a str>,
}

impl<'a> LineAt<'a> {
    fn new(text: &'a str) -> Self {
        LineAt {
            text,
            number: 1,
            start: 0,
            scanned: 0,
            found: None,
        }
    }

    /// A rule starting at byte `begin` (not before the last one asked).
    fn rule(&mut self, begin: usize, rule: String) -> UdevRule<'a> {
        let bytes = self.text.as_bytes();
        let upto = bytes.get(self.scanned..begin).unwrap_or_default();
        for (i, b) in upto.iter().enumerate() {
            if *b == b'\n' {
                self.number = self.number.saturating_add(1);
                self.start = self.scanned + i + 1;
                self.found = None;
            }
        }
        self.scanned = self.scanned.max(begin);
        let text = self.text;
        let start = self.start;
        let first = *self.found.get_or_insert_with(|| {
            let rest = text.get(start..).unwrap_or_default();
            // As `comment_out` reads a line: a `\r` before the `\n` is
            // part of the ending, a last line keeps all it has.
            match rest.split_once('\n') {
                Some((l, _)) => l.strip_suffix('\r').unwrap_or(l),
                None => rest,
            }
        });
        UdevRule {
            line: self.number,
            first,
            rule,
        }
    }
}

/// The `(key, command)` pairs of one rule line that run a program.
fn udev_runs(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(q) = rest.find('"') {
        let (head, tail) = rest.split_at(q);
        let tail = &tail[1..];
        let Some(close) = tail.find('"') else { break };
        let value = &tail[..close];
        rest = &tail[close + 1..];
        // `KEY{attr}+=` / `KEY=` just before the quote.
        let key = head
            .trim_end()
            .trim_end_matches(['=', '+', ':', '!', '-'])
            .rsplit([',', ' ', '\t'])
            .next()
            .unwrap_or("")
            .trim();
        let op_is_assign = !head.trim_end().ends_with("==") && !head.trim_end().ends_with("!=");
        // `PROGRAM=="x"` runs x to match its output: any operator.
        let runs = key == "PROGRAM"
            || (op_is_assign && matches!(key, "RUN" | "RUN{program}" | "IMPORT{program}"));
        if runs && !value.trim().is_empty() {
            out.push((key.to_string(), value.to_string()));
        }
    }
    out
}

/// XDG autostart: `Exec=` of each `.desktop` file, system-wide and per
/// user; `Hidden=true` (the entry is disabled) is said in the name.
fn xdg(cx: &mut Cx) {
    let mut dirs: Vec<(PathBuf, Option<String>)> =
        vec![(PathBuf::from("/etc/xdg/autostart"), None)];
    for u in &cx.users {
        dirs.push((u.home.join(".config/autostart"), Some(u.name.clone())));
    }
    for (dir, user) in dirs {
        for f in cx.files_in(&dir) {
            let name = file_name(&f);
            if !name.ends_with(".desktop") {
                continue;
            }
            let Some(text) = cx.text(&f) else { continue };
            let mut in_entry = false;
            let mut exec: Option<(u64, String)> = None;
            let mut hidden = false;
            for (i, l) in text.lines().enumerate() {
                let t = l.trim();
                if t.starts_with('[') {
                    in_entry = t == "[Desktop Entry]";
                    continue;
                }
                if !in_entry {
                    continue;
                }
                if let Some((k, v)) = t.split_once('=') {
                    match k.trim() {
                        "Exec" => exec = Some((i as u64 + 1, v.trim().to_string())),
                        "Hidden" => hidden = v.trim().eq_ignore_ascii_case("true"),
                        _ => {}
                    }
                }
            }
            let (line, cmd) = match exec {
                Some((l, c)) => (Some(l), Some(c)),
                None => (None, None),
            };
            let target = cmd.as_deref().and_then(|c| cx.target_of(c, &[]));
            // The session manager starts what the directory holds.
            let disable = cx.disable_file(&f);
            cx.add(New {
                mechanism: "xdg-autostart",
                location: &f,
                name: if hidden {
                    format!("{name} (hidden)")
                } else {
                    name
                },
                user: user.clone(),
                command: cmd,
                target,
                line,
                disable,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            key_command(
                r#"no-pty,command="/usr/bin/x \"a\"",from="1.2.3.4" ssh-ed25519 AAAA me@host"#
            ),
            Some((r#"/usr/bin/x "a""#.into(), "me@host".into()))
        );
        assert_eq!(key_command("ssh-rsa AAAA x"), None);
        assert_eq!(key_command("restrict ssh-rsa AAAA x"), None);
        // Option names are matched in any case, as OpenSSH does.
        for opt in ["Command", "CoMmAnD", "COMMAND"] {
            assert_eq!(
                key_command(&format!(r#"{opt}="/opt/e" ssh-ed25519 AAAA k"#)),
                Some(("/opt/e".into(), "k".into())),
                "{opt}"
            );
        }
        assert_eq!(key_command("commandé=x ssh-rsa AAAA x"), None);
    }

    /// `(line, first line, rule)` of each rule of `text`.
    fn rules(text: &str) -> Vec<(u64, &str, String)> {
        udev_rules(text)
            .into_iter()
            .map(|r| (r.line, r.first, r.rule))
            .collect()
    }

    #[test]
    fn read_line_endings() {
        let split = |t: &'static str| super::udev_lines(t).collect::<Vec<_>>();
        assert_eq!(split("a\nb"), [(0, "a"), (2, "b")]);
        assert_eq!(split("a\r\nb\n"), [(0, "a"), (3, "b")]);
        // `\n\r` is one ending too; `\r\n\r` is one and the start of an
        // empty line.
        assert_eq!(split("a\n\rb"), [(0, "a"), (3, "b")]);
        assert_eq!(split("a\r\n\rb"), [(0, "a"), (3, ""), (4, "b")]);
        // A lone `\r` or a NUL ends a line; a NUL is an ending of its own.
        assert_eq!(split("a\rb\0c"), [(0, "a"), (2, "b"), (4, "c")]);
        assert_eq!(split("a\0\nb"), [(0, "a"), (2, ""), (3, "b")]);
        assert_eq!(split("a\n\nb"), [(0, "a"), (2, ""), (3, "b")]);
        assert_eq!(split("a\n"), [(0, "a")]);
        assert_eq!(split(""), []);
    }

    #[test]
    fn continued_comment_does_not_swallow_the_next_line() {
        assert_eq!(
            rules("# x \\\nRUN+=\"/opt/evil\"\n"),
            [(2, "RUN+=\"/opt/evil\"", "RUN+=\"/opt/evil\"".into())]
        );
    }

    #[test]
    fn comment_inside_a_continued_rule_is_skipped() {
        let t = "A=\"1\", \\\n  # RUN+=\"/opt/no\" \\\n\t# c\n  RUN+=\"/opt/x\"\nB=\"2\"\n";
        assert_eq!(
            rules(t),
            [
                (1, "A=\"1\", \\", "A=\"1\", RUN+=\"/opt/x\"".into()),
                (5, "B=\"2\"", "B=\"2\"".into()),
            ]
        );
    }

    #[test]
    fn continuation_as_udev_joins() {
        // Leading blanks of each line dropped; `\ ` does not continue; an
        // empty or blank line ends the rule.
        assert_eq!(
            rules("RUN+=\"/opt/a \\\n     b\"\nC \\ \nD \\\n \t\nE\n"),
            [
                (1, "RUN+=\"/opt/a \\", "RUN+=\"/opt/a b\"".into()),
                (3, "C \\ ", "C \\ ".into()),
                (4, "D \\", "D ".into()),
                (6, "E", "E".into()),
            ]
        );
        // The joined rule's end decides: `\\` then an empty line goes on.
        assert_eq!(
            rules("RUN+=\"/opt/a\" \\\\\n\nRUN+=\"/opt/b\"\n"),
            [(
                1,
                "RUN+=\"/opt/a\" \\\\",
                "RUN+=\"/opt/a\" RUN+=\"/opt/b\"".into()
            )]
        );
        // A rule starting with a lone `\`; a file ending inside a rule.
        assert_eq!(rules("  \\\nA \\\r\nB \\"), [(1, "  \\", "A B ".into())]);
        assert_eq!(rules("\\\n\n# c \\\n\n"), []);
    }

    #[test]
    fn rules_after_a_lone_cr_or_nul() {
        // udev reads three rules where the listing counts one line, 2.
        let t = "x\nRUN+=\"/opt/a\"\rRUN+=\"/opt/b\"\0RUN+=\"/opt/c\"\r\nD\n";
        let first = "RUN+=\"/opt/a\"\rRUN+=\"/opt/b\"\0RUN+=\"/opt/c\"";
        assert_eq!(
            rules(t),
            [
                (1, "x", "x".into()),
                (2, first, "RUN+=\"/opt/a\"".into()),
                (2, first, "RUN+=\"/opt/b\"".into()),
                (2, first, "RUN+=\"/opt/c\"".into()),
                (3, "D", "D".into()),
            ]
        );
        // `\n\r` ends one line: the `\r` does not end the rule.
        assert_eq!(rules("A \\\n\rB\n"), [(1, "A \\", "A B".into())]);
        // A lone `\r` after a `\`: the rule goes on after it.
        assert_eq!(rules("# c\rA \\\nB\n"), [(1, "# c\rA \\", "A B".into())]);
    }

    /// Many rules on one line (lone `\r`s) and a long continued rule: one
    /// pass each.
    #[test]
    fn large_files_linear() {
        let t = "RUN+=\"/x\"\r".repeat(100_000);
        let start = std::time::Instant::now();
        let r = udev_rules(&t);
        assert_eq!(r.len(), 100_000);
        assert!(r.iter().all(|r| r.line == 1));
        let t = "A \\\n".repeat(200_000);
        let r = udev_rules(&t);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].rule.len(), 400_000);
        assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
    }

    #[test]
    fn udev_lines() {
        assert_eq!(
            udev_runs(
                r#"ACTION=="add", KERNEL=="sd*", RUN+="/opt/x %k", RUN{builtin}+="kmod load""#
            ),
            vec![("RUN".into(), "/opt/x %k".into())]
        );
        assert_eq!(
            udev_runs(r#"PROGRAM=="/bin/p %k", IMPORT{program}="ata_id", RUN=="x""#),
            vec![
                ("PROGRAM".into(), "/bin/p %k".into()),
                ("IMPORT{program}".into(), "ata_id".into())
            ]
        );
    }
}
