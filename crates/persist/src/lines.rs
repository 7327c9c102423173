//! Disabling an entry of a line-oriented file by commenting its line out:
//! cron and anacron tables, `authorized_keys`, `/etc/ld.so.preload`, udev
//! rules. `#` starts a comment in each of them: cron(5) and anacrontab(5)
//! ("lines whose first non-space character is a hash-sign are
//! comments"), sshd(8) ("lines starting with `#` ... are ignored as
//! comments"), glibc's `rtld.c` (in `ld.so.preload` a `#` blanks the
//! rest of its line), udev(7) ("lines starting with `#` are ignored"),
//! and sh.
//!
//! The line stays in the file behind [`MARKER`], so whoever reads the file
//! sees what it was; every other byte is kept (line endings, a last line
//! without a newline, bytes that are not UTF-8). The original file is
//! what restores (the vault keeps it); this edit never has to be undone.
//!
//! **Continued lines.** udev joins a line ending with `\` to the next
//! one, skipping comment lines in between. Commenting out only the first
//! physical line of such a rule would leave its tail a rule of its own
//! (`RUN+="..."` alone runs on every event), so for udev rules
//! (`continued`) the whole logical line is commented out, whichever of
//! its physical lines was named. cron, sshd and ld.so know no
//! continuation (crontab(5): "There is no way to split a single command
//! line onto multiple lines, like the shell's trailing `\`"): a crontab
//! line ending with `\` is a whole entry and the line after it another
//! one, which commenting out too would disable a clean job. So there
//! exactly the named line is commented out. anacron is edited the same
//! way: the original one knows no continuation, and cronie's joins a line
//! ending with `\` to the next before it looks for `#`, so a commented-out
//! first line hides the lines it continues onto by itself.
//!
//! **Line ends.** Lines end at `\n` (`\r\n` kept as it is), as the
//! listing counts them. systemd's line reader (udev) also ends a line at
//! a lone `\r` or a NUL byte, so a `#` in front would hide only the part
//! before it: for udev rules such bytes near an edited line refuse the
//! edit. The other readers end a line, and so a comment, at `\n` only
//! (vixie cron and cronie read a comment up to `\n` in `skip_comments`,
//! anacron and sshd read lines with `getc`/`getline`, glibc's `rtld.c`
//! blanks from `#` up to `\n`), so there those bytes are hidden with the
//! rest of the line and need no refusal.
//!
//! Shell start-up files and `rc.local` are not edited line by line:
//! quotes, here-documents and compound commands span lines in ways only a
//! shell parser knows, so they are listed (and disabled) as whole files.

/// What a commented-out line starts with: `#` for the program reading the
/// file, the rest for people. The original line follows unchanged.
pub const MARKER: &str = "# takedown: disabled: ";

/// One physical line of a file: its bytes without the line ending, and
/// where the next line starts.
struct Phys<'a> {
    text: &'a [u8],
    start: usize,
    next: usize,
}

/// The physical lines of `content`, split at `\n`; a `\r` just before
/// the `\n` belongs to the ending. No empty line after a final `\n`, as
/// `str::lines` counts them.
fn physical(content: &[u8]) -> impl Iterator<Item = Phys<'_>> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let rest = content.get(pos..).filter(|r| !r.is_empty())?;
        let start = pos;
        let (body, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => {
                let body = rest.get(..nl).unwrap_or_default();
                let body = body.strip_suffix(b"\r").unwrap_or(body);
                (body, start + nl + 1)
            }
            None => (rest, content.len()),
        };
        pos = next;
        Some(Phys {
            text: body,
            start,
            next,
        })
    })
}

/// Whether the first byte after blanks is `#`: a comment for every
/// reader here. A comment never continues onto the next line (udev and
/// systemd skip it before looking for `\`), and inside a continued line
/// udev skips it without ending the continuation.
fn is_comment(text: &[u8]) -> bool {
    text.iter().find(|b| !matches!(b, b' ' | b'\t')) == Some(&b'#')
}

/// Whether the line holds a byte some reader takes for a line end: a `\r`
/// not part of a `\r\n` ending, or a NUL (systemd's `read_line`, used
/// by udev, ends a line at both).
fn has_hidden_end(text: &[u8]) -> bool {
    text.iter().any(|&b| b == b'\r' || b == 0)
}

/// A logical line to comment out: byte range of its physical lines.
struct Range {
    start: usize,
    end: usize,
}

/// `content` with each `(line, text)` commented out: `line` is 1-based,
/// `text` the line as read (without its ending; compared with the line's
/// bytes read as UTF-8 with invalid bytes replaced, as the listing reads
/// them). With `continued` (udev rules), every physical line of the
/// logical line it belongs to is commented out; without it, that line
/// alone (see the module doc). Lines already comments are left as they
/// are.
///
/// Refused, naming the line and the reason, when a line does not exist,
/// is no longer `text`, or (with `continued`) has a lone `\r` or a NUL
/// near it. Linear in the size of `content` plus the number of lines
/// asked for.
pub fn comment_out(
    content: &[u8],
    lines: &[(u64, String)],
    continued: bool,
) -> Result<Vec<u8>, String> {
    let mut wanted: Vec<&(u64, String)> = lines.iter().collect();
    wanted.sort();
    wanted.dedup();
    if wanted.first().is_some_and(|(n, _)| *n == 0) {
        return Err("line 0: lines are counted from 1".into());
    }
    let ranges = find_ranges(content, &wanted, continued)?;
    let mut out = Vec::with_capacity(content.len().saturating_add(ranges.len() * MARKER.len()));
    let mut pos = 0usize;
    for r in &ranges {
        out.extend_from_slice(content.get(pos..r.start).unwrap_or_default());
        let part = content.get(r.start..r.end).unwrap_or_default();
        for l in physical(part) {
            if !is_comment(l.text) {
                out.extend_from_slice(if l.text.is_empty() {
                    MARKER.trim_end().as_bytes()
                } else {
                    MARKER.as_bytes()
                });
            }
            out.extend_from_slice(part.get(l.start..l.next).unwrap_or_default());
        }
        pos = r.end;
    }
    out.extend_from_slice(content.get(pos..).unwrap_or_default());
    Ok(out)
}

/// The byte ranges of the logical lines holding the `wanted` lines
/// (sorted, deduplicated), in file order, each once; or why not.
/// Without `continued`, every physical line is a logical line of its own
/// and no byte is refused.
///
/// One pass. A logical line starts at a line when the last non-comment
/// line before it did not end with `\`; it ends at the first non-comment
/// line that does not end with `\` (comment lines inside it do not end
/// it, as in udev). The lone-`\r`/NUL check covers the logical line and
/// the lines back to the last non-comment line before it: with none of
/// those bytes there, every reader sees the same lines as this pass, so
/// the line before really ended its rule, and the edited one really ends
/// where this pass says.
fn find_ranges(
    content: &[u8],
    wanted: &[&(u64, String)],
    continued: bool,
) -> Result<Vec<Range>, String> {
    let mut ranges = Vec::new();
    let mut next_wanted = wanted.iter().peekable();
    // Whether the last non-comment line ended with `\`, and its number.
    let mut open = false;
    let mut last_code: Option<u64> = None;
    let mut last_hidden_end: Option<u64> = None;
    let mut group: Option<Group> = None;
    let mut count = 0u64;
    for (i, l) in physical(content).enumerate() {
        let n = i as u64 + 1;
        count = n;
        let g = group.get_or_insert(Group {
            first: n,
            start: l.start,
            check_from: last_code.unwrap_or(1),
            wanted: false,
        });
        if continued && has_hidden_end(l.text) {
            last_hidden_end = Some(n);
        }
        while let Some((w, text)) = next_wanted.peek().map(|w| (w.0, &w.1)) {
            if w != n {
                break;
            }
            if String::from_utf8_lossy(l.text) != text.as_str() {
                return Err(format!("line {n}: changed since it was read"));
            }
            g.wanted = true;
            next_wanted.next();
        }
        if !is_comment(l.text) {
            open = continued && l.text.ends_with(b"\\");
            last_code = Some(n);
        }
        if !open && let Some(g) = group.take() {
            g.close(l.next, last_hidden_end, &mut ranges)?;
        }
    }
    // A file ending inside a continued line: the rule ends there.
    if let Some(g) = group.take() {
        g.close(content.len(), last_hidden_end, &mut ranges)?;
    }
    if let Some((n, _)) = next_wanted.next() {
        return Err(format!(
            "line {n}: no such line (the file has {count} lines)"
        ));
    }
    Ok(ranges)
}

/// A logical line being read.
struct Group {
    /// Its first line.
    first: u64,
    /// Where that line starts.
    start: usize,
    /// The first line of the lone-`\r`/NUL check: the last non-comment
    /// line before it (1 when none).
    check_from: u64,
    /// Whether a wanted line is in it.
    wanted: bool,
}

impl Group {
    /// Ends the logical line before byte `end`: kept when a wanted line is
    /// in it, refused when a lone `\r` or NUL is in it or just before it
    /// (`last_hidden_end`: the last line that has one, so far).
    fn close(
        self,
        end: usize,
        last_hidden_end: Option<u64>,
        ranges: &mut Vec<Range>,
    ) -> Result<(), String> {
        if !self.wanted {
            return Ok(());
        }
        if let Some(h) = last_hidden_end.filter(|h| *h >= self.check_from) {
            return Err(format!(
                "line {}: line {h} holds a carriage return or NUL byte that some \
                 readers (udev) take for a line end, so a comment could leave part of \
                 the rule active",
                self.first
            ));
        }
        ranges.push(Range {
            start: self.start,
            end,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(n: u64, t: &str) -> Vec<(u64, String)> {
        vec![(n, t.to_string())]
    }

    /// Both modes: what does not involve a continuation or a lone `\r`
    /// is the same in each.
    const MODES: [bool; 2] = [false, true];

    #[test]
    fn lf() {
        let c = b"SHELL=/bin/sh\n* * * * * root /opt/x\n@reboot root /opt/y\n";
        for m in MODES {
            let out = comment_out(c, &one(2, "* * * * * root /opt/x"), m).unwrap();
            assert_eq!(
                out,
                b"SHELL=/bin/sh\n# takedown: disabled: * * * * * root /opt/x\n@reboot root /opt/y\n"
            );
        }
    }

    #[test]
    fn crlf_kept() {
        let c = b"a\r\nb\r\nc\r\n";
        for m in MODES {
            let out = comment_out(c, &one(2, "b"), m).unwrap();
            assert_eq!(out, b"a\r\n# takedown: disabled: b\r\nc\r\n");
        }
    }

    #[test]
    fn last_line_without_newline() {
        let c = b"a\nb";
        for m in MODES {
            assert_eq!(
                comment_out(c, &one(2, "b"), m).unwrap(),
                b"a\n# takedown: disabled: b"
            );
            assert_eq!(
                comment_out(c, &one(1, "a"), m).unwrap(),
                b"# takedown: disabled: a\nb"
            );
            // A final newline makes no extra line.
            let e = comment_out(b"a\n", &one(2, ""), m).unwrap_err();
            assert!(e.contains("line 2") && e.contains("no such line"), "{e}");
        }
    }

    #[test]
    fn not_utf8_kept_and_matched_as_read() {
        let c = b"\xff\xfe x\n/opt/\xe9vil.so\n\x80\n";
        let read = String::from_utf8_lossy(c).into_owned();
        let line2 = read.lines().nth(1).unwrap().to_string();
        for m in MODES {
            let out = comment_out(c, &[(2, line2.clone())], m).unwrap();
            assert_eq!(
                out,
                b"\xff\xfe x\n# takedown: disabled: /opt/\xe9vil.so\n\x80\n"
            );
        }
    }

    #[test]
    fn changed_text_refused() {
        let c = b"a\n* * * * * root /opt/x\n";
        for m in MODES {
            let e = comment_out(c, &one(2, "* * * * * root /opt/y"), m).unwrap_err();
            assert!(e.starts_with("line 2:") && e.contains("changed"), "{e}");
            // Blanks count: the text is compared exactly.
            let e = comment_out(c, &one(2, "* * * * * root /opt/x "), m).unwrap_err();
            assert!(e.contains("changed"), "{e}");
        }
    }

    #[test]
    fn out_of_range_refused() {
        let c = b"a\nb\n";
        for m in MODES {
            let e = comment_out(c, &one(3, "c"), m).unwrap_err();
            assert!(e.contains("line 3") && e.contains("2 lines"), "{e}");
            let e = comment_out(c, &one(0, "a"), m).unwrap_err();
            assert!(e.contains("line 0"), "{e}");
            let e = comment_out(b"", &one(1, ""), m).unwrap_err();
            assert!(e.contains("0 lines"), "{e}");
            let e = comment_out(c, &one(u64::MAX, ""), m).unwrap_err();
            assert!(e.contains("no such line"), "{e}");
        }
    }

    #[test]
    fn several_lines_at_once_and_duplicates() {
        let c = b"a\nb\nc\nd\n";
        for m in MODES {
            let req = vec![
                (4, "d".to_string()),
                (2, "b".to_string()),
                (4, "d".to_string()),
            ];
            let out = comment_out(c, &req, m).unwrap();
            assert_eq!(
                out,
                b"a\n# takedown: disabled: b\nc\n# takedown: disabled: d\n"
            );
            // One wrong line refuses the whole edit.
            let req = vec![(1, "a".to_string()), (3, "x".to_string())];
            assert!(comment_out(c, &req, m).is_err());
            // Nothing asked: nothing changed.
            assert_eq!(comment_out(c, &[], m).unwrap(), c);
        }
    }

    #[test]
    fn continued_line_commented_whole() {
        let c =
            b"# c\nACTION==\"add\", \\\n  KERNEL==\"sd*\", \\\n  RUN+=\"/opt/x\"\nRUN+=\"/ok\"\n";
        let want = b"# c\n# takedown: disabled: ACTION==\"add\", \\\n# takedown: disabled:   KERNEL==\"sd*\", \\\n# takedown: disabled:   RUN+=\"/opt/x\"\nRUN+=\"/ok\"\n";
        // Named by its first line, or by any line of it.
        assert_eq!(
            comment_out(c, &one(2, "ACTION==\"add\", \\"), true).unwrap(),
            want
        );
        assert_eq!(
            comment_out(c, &one(4, "  RUN+=\"/opt/x\""), true).unwrap(),
            want
        );
        // The line after it is its own.
        assert_eq!(
            comment_out(c, &one(5, "RUN+=\"/ok\""), true).unwrap(),
            b"# c\nACTION==\"add\", \\\n  KERNEL==\"sd*\", \\\n  RUN+=\"/opt/x\"\n# takedown: disabled: RUN+=\"/ok\"\n"
        );
    }

    /// cron has no continuation: a line ending with `\` is an entry of
    /// its own, and so is the next one; each is commented out alone.
    #[test]
    fn without_continuation_only_the_named_line() {
        let c = b"0 3 * * * root /opt/backup --dir /var/www\\\n*/5 * * * * root /opt/cron-job\n";
        assert_eq!(
            comment_out(c, &one(2, "*/5 * * * * root /opt/cron-job"), false).unwrap(),
            b"0 3 * * * root /opt/backup --dir /var/www\\\n# takedown: disabled: */5 * * * * root /opt/cron-job\n"
        );
        assert_eq!(
            comment_out(c, &one(1, "0 3 * * * root /opt/backup --dir /var/www\\"), false)
                .unwrap(),
            b"# takedown: disabled: 0 3 * * * root /opt/backup --dir /var/www\\\n*/5 * * * * root /opt/cron-job\n"
        );
        // Both, and a file ending on a `\`.
        let c = b"A \\\nB \\\nC \\";
        let req = vec![(3, "C \\".to_string()), (1, "A \\".to_string())];
        assert_eq!(
            comment_out(c, &req, false).unwrap(),
            b"# takedown: disabled: A \\\nB \\\n# takedown: disabled: C \\"
        );
        // The same file as udev reads it: one rule, commented out whole.
        assert_eq!(
            comment_out(c, &one(3, "C \\"), true).unwrap(),
            b"# takedown: disabled: A \\\n# takedown: disabled: B \\\n# takedown: disabled: C \\"
        );
    }

    #[test]
    fn continuation_across_comments_blank_and_eof() {
        // A comment inside a continued line does not end it (udev skips
        // it) and is left as it is; a comment ending with `\` does not
        // continue.
        let c = b"A \\\n# c \\\nB\n# d \\\nC\n";
        assert_eq!(
            comment_out(c, &one(1, "A \\"), true).unwrap(),
            b"# takedown: disabled: A \\\n# c \\\n# takedown: disabled: B\n# d \\\nC\n"
        );
        assert_eq!(
            comment_out(c, &one(5, "C"), true).unwrap(),
            b"A \\\n# c \\\nB\n# d \\\n# takedown: disabled: C\n"
        );
        // A blank line ends it.
        let c = b"A \\\n\nB\n";
        assert_eq!(
            comment_out(c, &one(1, "A \\"), true).unwrap(),
            b"# takedown: disabled: A \\\n# takedown: disabled:\nB\n"
        );
        // The file ends inside it.
        let c = b"x\nA \\\r\nB \\";
        assert_eq!(
            comment_out(c, &one(2, "A \\"), true).unwrap(),
            b"x\n# takedown: disabled: A \\\r\n# takedown: disabled: B \\"
        );
        // `\ ` (a blank after it) does not continue.
        let c = b"A \\ \nB\n";
        assert_eq!(
            comment_out(c, &one(1, "A \\ "), true).unwrap(),
            b"# takedown: disabled: A \\ \nB\n"
        );
    }

    #[test]
    fn lone_cr_or_nul_near_the_line() {
        for c in [
            &b"a\nRUN+=\"/x\"\rRUN+=\"/evil\"\n"[..],
            b"a\nRUN+=\"/x\"\0RUN+=\"/evil\"\n",
            // In the line before: udev would read `B \` as continuing.
            b"# c\rB \\\nRUN+=\"/x\"\n",
            // In a continuation line.
            b"RUN+=\"/x\" \\\n\rC\n",
            // A last line ending with a lone `\r`.
            b"RUN+=\"/x\"\r",
        ] {
            let read = String::from_utf8_lossy(c).into_owned();
            let (n, text) = read
                .split('\n')
                .enumerate()
                .find(|(_, l)| l.starts_with("RUN+=\"/x\""))
                .unwrap();
            let req = [(n as u64 + 1, text.to_string())];
            // udev ends a line there: refused.
            let e = comment_out(c, &req, true).unwrap_err();
            assert!(e.contains("carriage return or NUL"), "{e}");
            // The other readers end a line (and a comment) at `\n`
            // only: the named line is commented out, bytes and all.
            let out = comment_out(c, &req, false).unwrap();
            let start = read.split('\n').take(n).map(|l| l.len() + 1).sum::<usize>();
            let mut want = c.to_vec();
            want.splice(start..start, MARKER.bytes());
            assert_eq!(out, want);
        }
        // Far from the edited line they do not matter.
        let c = b"x\ry\nz\nRUN+=\"/x\"\n";
        for m in MODES {
            assert_eq!(
                comment_out(c, &one(3, "RUN+=\"/x\""), m).unwrap(),
                b"x\ry\nz\n# takedown: disabled: RUN+=\"/x\"\n"
            );
        }
    }

    #[test]
    fn comment_line_left_as_is() {
        let c = b"# x\n";
        for m in MODES {
            assert_eq!(comment_out(c, &one(1, "# x"), m).unwrap(), c);
        }
    }

    /// A few MB of lines, every other one commented out: linear.
    #[test]
    fn large_file_is_linear() {
        let line = "* * * * * root /opt/x \\\n";
        let c = line.repeat(200_000);
        let req: Vec<(u64, String)> = (1..=200_000u64)
            .step_by(2)
            .map(|n| (n, line.trim_end().to_string()))
            .collect();
        for (m, edited) in [(true, 200_000), (false, 100_000)] {
            let t = std::time::Instant::now();
            let out = comment_out(c.as_bytes(), &req, m).unwrap();
            assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());
            // Continued: one logical line, every physical one commented
            // out; else the lines asked for only.
            assert_eq!(out.len(), c.len() + edited * MARKER.len());
        }
    }
}
