//! Which program a command line starts.
//!
//! Autostart commands are shell lines (`test -x /usr/sbin/x && /usr/sbin/x
//! -q`, `sh -c '/opt/y'`, `env A=1 nice -n 5 z`). What should be scanned
//! is the program that does the work, so this reads the line the way a
//! shell splits it, skips assignments, wrappers (`env`, `nice`, `nohup`)
//! and guards (`test`, `cd`), follows `sh -c` into its string, and for a
//! shell or script interpreter also names the script it runs. It is a
//! reading aid, not a shell: anything it does not understand leaves the
//! first word as the program.

/// Words read from one line: a line of thousands of words is a planted
/// one; its first ones are enough to find the program.
const MAX_WORDS: usize = 1_000;
/// Depth of `sh -c '... sh -c ...'` followed.
const MAX_NESTING: usize = 4;

/// The program a command starts, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Program {
    /// The program word (`/usr/bin/python3`, `run-parts`).
    pub program: String,
    /// For a shell or interpreter: its first operand, the script it runs
    /// when that is a file.
    pub script: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// `;`, `&`, `|`, `&&`, `||`, `(`, `)`, newline: ends a simple command.
    Sep,
}

/// Splits `s` like a POSIX shell (quotes, backslashes, operators,
/// comments); no expansion.
fn tokens(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    // Whether the current word has quotes or backslashes in it: only an
    // unquoted number before `<`/`>` is a file descriptor.
    let mut quoted = false;
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if out.len() >= MAX_WORDS {
            break;
        }
        match c {
            '\'' => {
                in_word = true;
                quoted = true;
                for c in it.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                quoted = true;
                while let Some(c) = it.next() {
                    match c {
                        '"' => break,
                        '\\' => match it.peek() {
                            Some(&n @ ('"' | '\\' | '$' | '`')) => {
                                cur.push(n);
                                it.next();
                            }
                            _ => cur.push('\\'),
                        },
                        _ => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                quoted = true;
                match it.next() {
                    Some('\n') | None => {}
                    Some(n) => cur.push(n),
                }
            }
            '#' if !in_word => {
                // A comment runs to the end of the line.
                for c in it.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                out.push(Tok::Sep);
            }
            ';' | '&' | '|' | '(' | ')' | '\n' | '<' | '>' => {
                if in_word {
                    let word = std::mem::take(&mut cur);
                    // `2>/dev/null`: the 2 is the redirected descriptor,
                    // not a word of the command.
                    let fd = matches!(c, '<' | '>')
                        && !quoted
                        && !word.is_empty()
                        && word.bytes().all(|b| b.is_ascii_digit());
                    if !fd {
                        out.push(Tok::Word(word));
                    }
                    in_word = false;
                    quoted = false;
                }
                if matches!(c, '<' | '>') {
                    // A redirection: its operand is not a word of the
                    // command. Skip the rest of the operator (`>>`, `>&`,
                    // `>|`, `<<`, `<&`, `<>`), then its one operand (a
                    // file, or the descriptor of `>&2`, attached or not).
                    while matches!(it.peek(), Some('>' | '<' | '&' | '|')) {
                        it.next();
                    }
                    while matches!(it.peek(), Some(' ' | '\t')) {
                        it.next();
                    }
                    while matches!(it.peek(), Some(c) if !c.is_whitespace() && !";&|()".contains(*c))
                    {
                        it.next();
                    }
                } else {
                    out.push(Tok::Sep);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(Tok::Word(std::mem::take(&mut cur)));
                    in_word = false;
                    quoted = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word && out.len() < MAX_WORDS {
        out.push(Tok::Word(cur));
    }
    out
}

/// Words that run nothing worth scanning (or are shell syntax): the
/// command after them is the one that matters.
const GUARDS: &[&str] = &[
    "test", "[", "[[", "cd", "true", "false", ":", "export", "umask", "set", "if", "then", "else",
    "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "sleep", "echo", "printf",
    "ulimit", "trap", "local", "return", "exit", "wait",
];
/// Shells: `-c` runs its string, an operand is a script.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "busybox"];
/// Interpreters whose first operand is the script they run.
const INTERPRETERS: &[&str] = &[
    "python", "python2", "python3", "perl", "ruby", "php", "node", "nodejs", "lua", "tclsh",
];

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// `NAME=value` (a shell assignment before the command).
fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((n, _)) => {
            !n.is_empty()
                && !n.starts_with(|c: char| c.is_ascii_digit())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// The program `cmd` starts (see the module doc); `None` for a line with
/// no command.
pub(crate) fn program(cmd: &str) -> Option<Program> {
    program_at(cmd, 0)
}

fn program_at(cmd: &str, depth: usize) -> Option<Program> {
    let toks = tokens(cmd);
    let mut first: Option<Program> = None;
    for simple in toks.split(|t| *t == Tok::Sep) {
        let words: Vec<&str> = simple
            .iter()
            .filter_map(|t| match t {
                Tok::Word(w) => Some(w.as_str()),
                Tok::Sep => None,
            })
            .collect();
        let Some(p) = simple_program(&words, depth) else {
            continue;
        };
        if GUARDS.contains(&base(&p.program)) {
            // Kept in case nothing better follows (`echo hi` alone).
            first.get_or_insert(p);
            continue;
        }
        return Some(p);
    }
    first
}

/// The program of one simple command (words without operators).
fn simple_program(words: &[&str], depth: usize) -> Option<Program> {
    let mut i = 0;
    while i < words.len() && is_assignment(words[i]) {
        i += 1;
    }
    // Wrappers that run their operand.
    loop {
        let w = *words.get(i)?;
        match base(w) {
            "exec" | "nohup" | "setsid" | "command" | "builtin" | "chronic" => i += 1,
            "env" => {
                i += 1;
                while let Some(w) = words.get(i) {
                    if *w == "-u" || *w == "-C" || *w == "-S" {
                        i += 2;
                    } else if w.starts_with('-') || is_assignment(w) {
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
            "nice" | "ionice" | "sudo" | "timeout" | "flock" | "chrt" | "taskset" => {
                let name = base(w);
                i += 1;
                while let Some(w) = words.get(i) {
                    if !w.starts_with('-') {
                        break;
                    }
                    // Options with a separate value.
                    let takes = matches!(
                        (name, *w),
                        ("nice", "-n")
                            | ("ionice", "-c" | "-n" | "-p")
                            | ("sudo", "-u" | "-g" | "-C" | "-h" | "-p")
                            | ("timeout", "-s" | "-k")
                    );
                    i += if takes { 2 } else { 1 };
                }
                // The positional argument before the command.
                if matches!(name, "timeout" | "flock" | "taskset" | "chrt") {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    let prog = *words.get(i)?;
    let rest = words.get(i + 1..).unwrap_or(&[]);
    let b = base(prog);
    let is_shell = SHELLS.contains(&b);
    let is_interp = INTERPRETERS.contains(&b)
        || b.strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if !is_shell && !is_interp {
        return Some(Program {
            program: prog.to_string(),
            script: None,
        });
    }
    let mut j = 0;
    while let Some(w) = rest.get(j) {
        if is_shell && (*w == "-c" || (w.starts_with('-') && w.ends_with('c') && w.len() > 2)) {
            if let Some(s) = rest.get(j + 1)
                && depth < MAX_NESTING
                && let Some(p) = program_at(s, depth + 1)
            {
                return Some(p);
            }
            break;
        }
        if is_interp && (*w == "-c" || *w == "-m" || *w == "-e" || *w == "-E" || *w == "-r") {
            // The code is inline: no script file.
            break;
        }
        if *w == "--" {
            j += 1;
            continue;
        }
        if !w.starts_with('-') {
            return Some(Program {
                program: prog.to_string(),
                script: Some(w.to_string()),
            });
        }
        j += 1;
    }
    Some(Program {
        program: prog.to_string(),
        script: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, Option<String>) {
        let p = program(s).unwrap();
        (p.program, p.script)
    }

    #[test]
    fn plain_and_wrapped() {
        assert_eq!(p("/usr/bin/x -q").0, "/usr/bin/x");
        assert_eq!(p("A=1 B='2 3' env -i C=4 nice -n 5 nohup y arg").0, "y");
        assert_eq!(p("timeout 10 /opt/z").0, "/opt/z");
    }

    #[test]
    fn guards_skipped() {
        assert_eq!(
            p("test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )").0,
            "run-parts"
        );
        assert_eq!(p("[ -x /a ] && /a >/dev/null 2>&1").0, "/a");
        assert_eq!(p("echo hi").0, "echo");
    }

    /// A descriptor number before a redirection is not the program.
    #[test]
    fn redirected_descriptors_skipped() {
        assert_eq!(p("2>/dev/null /opt/x").0, "/opt/x");
        assert_eq!(p("A=1 2> /tmp/log 1>&2 /opt/x -q").0, "/opt/x");
        assert_eq!(p("0</dev/null /opt/x").0, "/opt/x");
        assert_eq!(p("/opt/y 2>&1").0, "/opt/y");
        // Quoted, it is a word (a program named 2).
        assert_eq!(p("'2'>/dev/null x").0, "2");
        assert_eq!(p("a2>/dev/null").0, "a2");
        assert_eq!(p("2>&- >>/var/log/x /opt/x").0, "/opt/x");
        assert_eq!(p("/opt/y >/dev/null 2>&1 &").0, "/opt/y");
    }

    #[test]
    fn shells_followed() {
        assert_eq!(p("/bin/sh -c '/opt/evil --x; true'").0, "/opt/evil");
        assert_eq!(p("bash -lc \"exec /opt/e\"").0, "/opt/e");
        assert_eq!(
            p("/bin/bash /root/run.sh a b"),
            ("/bin/bash".into(), Some("/root/run.sh".into()))
        );
        assert_eq!(
            p("python3 -u /srv/a.py"),
            ("python3".into(), Some("/srv/a.py".into()))
        );
        assert_eq!(p("python3 -c 'import os'").1, None);
        assert!(program("   # only a comment").is_none());
    }

    #[test]
    fn hostile_lines_bounded() {
        let deep = "sh -c ".repeat(1000) + "x";
        assert!(program(&deep).is_some());
        let long = "a ".repeat(1_000_000);
        assert_eq!(p(&long).0, "a");
        assert!(program("'unterminated").is_some());
    }
}
