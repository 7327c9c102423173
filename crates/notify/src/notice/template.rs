//! The notice text: a Jinja template per language (the syntax IntelMQ's
//! mailgen notifications use, so a CERT's staff know it), rendered with
//! `minijinja`.
//!
//! A template is a file a CERT edits, `<lang>.txt`: built-in ones for
//! English, Japanese and German (`crates/notify/templates/`), each
//! replaceable by a file of the same name in the directory
//! [`super::RenderOptions::templates`] names, which may also add other
//! languages. Its output starts with a `Subject: ...` line, then a blank
//! line, then the body (leading blank lines and `{# ... #}` comments
//! before the subject are allowed).
//!
//! Every template is compiled and rendered on two sample notices when
//! the renderer is built, so that a syntax error, an unknown filter or
//! variable, or a missing subject is an error naming the file and line
//! before any notice is written, not halfway through a run.
//!
//! Strings from reports (family names, destinations) are hostile: every
//! control character (CR and LF above all), bidirectional override and
//! line or paragraph separator is written as `<U+XXXX>` before a template
//! sees it, so no value can start a header, end the subject early or
//! reorder the text shown. Long values are cut.

use super::{Notice, Row, day_text, iso_time};
use crate::contacts::Rule;
use minijinja::{Environment, UndefinedBehavior, Value, syntax::SyntaxConfig};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

/// The built-in templates.
const BUILT_IN: [(&str, &str); 3] = [
    ("en", include_str!("../../templates/en.txt")),
    ("ja", include_str!("../../templates/ja.txt")),
    ("de", include_str!("../../templates/de.txt")),
];

/// Largest template file read: a notice template is a few kilobytes; a
/// larger file is not one.
const MAX_TEMPLATE: u64 = 1 << 20;

/// Longest subject kept (characters): a subject beyond this is cut.
const MAX_SUBJECT: usize = 250;

/// Longest family name or destination shown (characters).
const MAX_VALUE: usize = 200;

/// A notice template that cannot be used, or options that cannot be.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A template that does not compile, fails to render (an unknown
    /// filter, an undefined variable) or does not start with a subject.
    #[error("{file}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Template {
        /// The template file (`<built-in en.txt>` for a built-in one).
        file: String,
        /// The line, when known.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A template file or directory that cannot be read.
    #[error("{file}: {source}")]
    Io {
        /// The file or directory.
        file: String,
        /// The error.
        source: std::io::Error,
    },
    /// A rendering option that cannot be used (a `From` address that is
    /// not one, a language without a template).
    #[error("{option}: {reason}")]
    Option {
        /// The option (`from`, `lang`, ...).
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl TemplateError {
    fn from_jinja(file: &str, e: &minijinja::Error) -> TemplateError {
        let mut reason = e.kind().to_string();
        if let Some(d) = e.detail() {
            let _ = write!(reason, ": {d}");
        }
        TemplateError::Template {
            file: file.to_string(),
            line: e.line(),
            reason,
        }
    }
}

/// The compiled templates, by language.
pub(crate) struct Templates {
    env: Environment<'static>,
    /// Language to template (file) name, which is also its name in the
    /// environment, so that errors name the file.
    files: Vec<(String, String)>,
}

/// The values a template sees besides the notice.
pub(crate) struct Sender<'a> {
    pub org: &'a str,
    pub scan_url: Option<&'a str>,
    pub check_url: Option<&'a str>,
}

impl Templates {
    /// The built-in templates, replaced (and extended) by the `<lang>.txt`
    /// files of `dir`.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut sources: Vec<(String, String, String)> = BUILT_IN
            .iter()
            .map(|(lang, src)| {
                (
                    lang.to_string(),
                    format!("<built-in {lang}.txt>"),
                    src.to_string(),
                )
            })
            .collect();
        if let Some(dir) = dir {
            for (lang, file, src) in read_dir(dir)? {
                match sources.iter_mut().find(|(l, _, _)| *l == lang) {
                    Some(slot) => *slot = (lang, file, src),
                    None => sources.push((lang, file, src)),
                }
            }
        }
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| TemplateError::from_jinja("syntax", &e))?;
        env.set_syntax(syntax);
        // A misspelt variable is an error (caught on the samples below),
        // not an empty string in thousands of notices.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // `none` (an absent port, ASN or URL) prints as nothing.
        env.set_formatter(|out, state, value| {
            if value.is_none() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        let mut files = Vec::new();
        for (lang, file, src) in sources {
            env.add_template_owned(file.clone(), src)
                .map_err(|e| TemplateError::from_jinja(&file, &e))?;
            files.push((lang, file));
        }
        let t = Templates { env, files };
        for (full, sample) in [true, false].into_iter().zip(samples()) {
            let sender = if full {
                Sender {
                    org: "Example CERT",
                    scan_url: Some("https://scan.example/"),
                    check_url: Some("https://check.example/"),
                }
            } else {
                Sender {
                    org: "Example CERT",
                    scan_url: None,
                    check_url: None,
                }
            };
            for (lang, _) in &t.files {
                t.render(lang, &sample, &sender)?;
            }
        }
        Ok(t)
    }

    /// Whether there is a template for the language.
    pub fn has(&self, lang: &str) -> bool {
        self.files.iter().any(|(l, _)| l == lang)
    }

    /// The languages, in order.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(l, _)| l.as_str())
    }

    /// The subject (one line, cleaned) and the body of a notice.
    pub fn render(
        &self,
        lang: &str,
        n: &Notice,
        sender: &Sender<'_>,
    ) -> Result<(String, String), TemplateError> {
        let Some((_, file)) = self.files.iter().find(|(l, _)| l == lang) else {
            return Err(TemplateError::Option {
                option: "lang",
                reason: format!("no template for language {lang:?}"),
            });
        };
        let tmpl = self
            .env
            .get_template(file)
            .map_err(|e| TemplateError::from_jinja(file, &e))?;
        let out = tmpl
            .render(context(n, sender))
            .map_err(|e| TemplateError::from_jinja(file, &e))?;
        split(&out).ok_or_else(|| TemplateError::Template {
            file: file.clone(),
            line: Some(1),
            reason: "the output does not start with a 'Subject: ...' line".into(),
        })
    }
}

/// The `<lang>.txt` files of a directory.
fn read_dir(dir: &Path) -> Result<Vec<(String, String, String)>, TemplateError> {
    let io = |file: &Path, source| TemplateError::Io {
        file: file.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        let Some(lang) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".txt"))
        else {
            continue;
        };
        // A language tag (`en`, `pt-BR`): anything else is not a notice
        // template (a README.txt, an editor's backup).
        let is_tag = (2..=16).contains(&lang.len())
            && lang.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && lang.bytes().take(2).all(|b| b.is_ascii_lowercase());
        if is_tag {
            names.insert((lang.to_string(), path));
        }
    }
    for (lang, path) in names {
        let file = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_TEMPLATE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io(&path, e))?;
        let name = path.display().to_string();
        if bytes.len() as u64 > MAX_TEMPLATE {
            return Err(TemplateError::Template {
                file: name,
                line: None,
                reason: format!("larger than {MAX_TEMPLATE} bytes"),
            });
        }
        let src = String::from_utf8(bytes).map_err(|e| {
            let before = e.as_bytes().get(..e.utf8_error().valid_up_to());
            TemplateError::Template {
                file: name.clone(),
                line: Some(before.map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count()) + 1),
                reason: "not UTF-8".into(),
            }
        })?;
        out.push((lang, name, src));
    }
    Ok(out)
}

/// Splits a rendered template into its subject and body.
fn split(out: &str) -> Option<(String, String)> {
    let mut rest = out.trim_start_matches(['\n', '\r', ' ', '\t']);
    let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
    let subject = line
        .strip_prefix("Subject:")
        .or_else(|| line.strip_prefix("subject:"))?;
    rest = after;
    // The blank line after the subject.
    if let Some((first, tail)) = rest.split_once('\n')
        && first.trim().is_empty()
    {
        rest = tail;
    }
    Some((clean_subject(subject), rest.replace("\r\n", "\n")))
}

/// One line: control characters become spaces, runs of white space one
/// space, and the whole is cut to [`MAX_SUBJECT`] characters.
pub(crate) fn clean_subject(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SUBJECT * 4));
    let mut space = false;
    for c in s.chars() {
        let c = if c.is_control() || is_hidden(c) || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if !out.is_empty() {
                space = true;
            }
            continue;
        }
        if out.chars().count() >= MAX_SUBJECT {
            break;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// Characters that change how text around them is shown: bidirectional
/// controls, line and paragraph separators, zero-width characters.
fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}' | '\u{061C}')
}

/// A report value as a template shows it: control and hidden characters
/// as `<U+XXXX>`, at most [`MAX_VALUE`] characters (then `...`).
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_VALUE * 4));
    for (n, c) in s.chars().enumerate() {
        if n >= MAX_VALUE {
            out.push_str("...");
            break;
        }
        if c.is_control() || is_hidden(c) {
            let _ = write!(out, "<U+{:04X}>", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Serialize)]
struct RowContext {
    ip: String,
    family: String,
    day: String,
    first: String,
    last: String,
    count: u64,
    port: Option<u16>,
    destination: Option<String>,
    asn: Option<u32>,
    country: Option<String>,
    report_type: String,
}

#[derive(Serialize)]
struct Counts {
    rows: usize,
    events: u64,
    addresses: usize,
    families: usize,
}

#[derive(Serialize)]
struct Context<'a> {
    id: &'a str,
    period: &'a str,
    contact: String,
    rule: String,
    rows: Vec<RowContext>,
    families: Vec<String>,
    counts: Counts,
    org: String,
    scan_url: Option<String>,
    check_url: Option<String>,
}

fn context(n: &Notice, s: &Sender<'_>) -> Value {
    let rows: Vec<RowContext> = n.rows.iter().map(row_context).collect();
    let families: BTreeSet<&str> = n.rows.iter().map(|r| r.family.as_str()).collect();
    let addresses: BTreeSet<_> = n.rows.iter().map(|r| r.ip).collect();
    let ctx = Context {
        id: &n.id,
        period: &n.period,
        contact: clean(&n.to),
        rule: clean(&n.rule_text()),
        counts: Counts {
            rows: rows.len(),
            events: n.events(),
            addresses: addresses.len(),
            families: families.len(),
        },
        rows,
        families: families.into_iter().map(clean).collect(),
        org: clean(s.org),
        scan_url: s.scan_url.map(clean),
        check_url: s.check_url.map(clean),
    };
    Value::from(minijinja::value::Serde(&ctx))
}

fn row_context(r: &Row) -> RowContext {
    RowContext {
        ip: r.ip.to_string(),
        family: clean(&r.family),
        day: day_text(r.day),
        first: iso_time(r.first, true),
        last: iso_time(r.last, true),
        count: r.count,
        port: r.port,
        destination: r.destination.as_deref().map(clean),
        asn: r.asn,
        country: r.country.as_deref().map(clean),
        report_type: clean(&r.report_type),
    }
}

/// Two sample notices the templates are tried on: one with every value,
/// one with none of the optional ones.
fn samples() -> [Notice; 2] {
    let full = Row {
        ip: "192.0.2.1"
            .parse()
            .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
        family: "mirai".into(),
        day: 20_000,
        first: 20_000 * 86_400_000_000,
        last: 20_000 * 86_400_000_000 + 3_600_000_000,
        count: 3,
        port: Some(4444),
        asn: Some(64_500),
        country: Some("DE".into()),
        destination: Some("198.51.100.1:80".into()),
        report_type: "sinkhole-events".into(),
        rule: 0,
    };
    let bare = Row {
        family: "unknown".into(),
        count: 1,
        port: None,
        asn: None,
        country: None,
        destination: None,
        ..full.clone()
    };
    let notice = |rows: Vec<Row>| Notice {
        id: "0".repeat(32),
        to: "abuse@example.net".into(),
        rules: vec![Rule::OverrideAsn { asn: 64_500 }],
        period: "2024-10-04".into(),
        rows,
    };
    [notice(vec![full, bare.clone()]), notice(vec![bare])]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_break_lines() {
        assert_eq!(clean("a\r\nb"), "a<U+000D><U+000A>b");
        assert_eq!(clean("x\u{202E}y"), "x<U+202E>y");
        assert_eq!(clean("ok ünïcode 日本"), "ok ünïcode 日本");
        assert_eq!(clean(&"a".repeat(500)).len(), MAX_VALUE + 3);
        assert_eq!(clean_subject("  a\r\n\tb\u{2028}c  "), "a b c");
        assert_eq!(clean_subject(&"é".repeat(400)).chars().count(), MAX_SUBJECT);
    }

    #[test]
    fn subject_and_body_are_split() {
        let (s, b) = split("\n\nSubject: Hello\n\nBody\nline\n").unwrap();
        assert_eq!((s.as_str(), b.as_str()), ("Hello", "Body\nline\n"));
        assert!(split("Hello\n\nBody").is_none());
        assert!(split("").is_none());
    }

    #[test]
    fn built_in_templates_load() {
        let t = Templates::load(None).unwrap();
        assert_eq!(t.languages().collect::<Vec<_>>(), ["en", "ja", "de"]);
    }

    fn load_one(src: &str) -> TemplateError {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("en.txt"), src).unwrap();
        match Templates::load(Some(dir.path())) {
            Ok(_) => panic!("{src:?} loaded"),
            Err(e) => e,
        }
    }

    #[test]
    fn broken_templates_name_file_and_line() {
        for (src, line, what) in [
            (
                "Subject: x\n\nline 3\n{% for r in rows %}\n",
                4,
                "syntax error",
            ),
            (
                "Subject: x\n\nok\n{{ rows | nosuchfilter }}\n",
                4,
                "unknown filter",
            ),
            ("Subject: x\n\n\n\n{{ scna_url }}\n", 5, "undefined"),
            ("Subject: {{ id }\n", 1, "syntax error"),
        ] {
            let e = load_one(src);
            let TemplateError::Template {
                file,
                line: l,
                reason,
            } = &e
            else {
                panic!("{e}");
            };
            assert!(file.ends_with("en.txt"), "{e}");
            assert_eq!(*l, Some(line), "{e}");
            assert!(reason.contains(what), "{e}");
            assert!(e.to_string().contains(&format!("en.txt:{line}: ")), "{e}");
        }
        let e = load_one("Dear customer,\n");
        assert!(e.to_string().contains("Subject:"), "{e}");
        // The branch without a scan URL is tried too.
        let e = load_one("Subject: x\n\n{% if not scan_url %}{{ 1 | bogus }}{% endif %}\n");
        assert!(e.to_string().contains("unknown filter"), "{e}");
    }

    #[test]
    fn a_directory_replaces_and_adds_languages() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("en.txt"), "Subject: S {{ period }}\n\nB\n").unwrap();
        std::fs::write(dir.path().join("fr.txt"), "Subject: F\n\nB\n").unwrap();
        std::fs::write(dir.path().join("README.txt"), "{{ not a template").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert!(t.has("fr") && t.has("ja") && !t.has("README"));
        let s = Sender {
            org: "o",
            scan_url: None,
            check_url: None,
        };
        let (subject, body) = t.render("en", &samples()[0], &s).unwrap();
        assert_eq!((subject.as_str(), body.as_str()), ("S 2024-10-04", "B\n"));
        std::fs::write(dir.path().join("de.txt"), b"Subject: \xff\n").unwrap();
        let e = Templates::load(Some(dir.path())).err().unwrap();
        assert!(e.to_string().contains("de.txt:1: not UTF-8"), "{e}");
        let e = Templates::load(Some(&dir.path().join("missing")))
            .err()
            .unwrap();
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
