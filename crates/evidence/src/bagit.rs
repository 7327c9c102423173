//! The BagIt side of a case (RFC 8493, version 1.0, UTF-8): writing
//! `bagit.txt`, `bag-info.txt`, the payload manifests, `hashdeep.txt` and
//! the tag manifests, and checking a bag ([`check`]) the way `bagit.py
//! --validate` and `hashdeep -a -k` would, on a [`BagContents`] so that a
//! case directory and a sealed package are checked alike.
//!
//! Every file is written atomically (a temporary file in the case's
//! private `.takedown/` directory, fsynced, renamed over the old one): a
//! crash never leaves half a manifest.
//!
//! **File names the reference tools cannot carry.** RFC 8493 requires CR,
//! LF and `%` in manifest paths to be percent-encoded, and this module does
//! so. Two reference tools fall short of that, and [`tool_safe_path`] says
//! which names avoid their gaps:
//! - `bagit.py` 1.8.1 decodes `%0A` and `%0D` but not `%25`
//!   (LibraryOfCongress/bagit-python#157), strips trailing white space
//!   from manifest paths, expands `$VAR` and `~` in them (and then calls the
//!   path unsafe), so it rejects a correct bag holding such a name;
//! - `hashdeep` has no way to write a name with CR or LF in its known-file
//!   list: `hashdeep.txt` carries such a name percent-encoded as in the
//!   manifests, and `hashdeep -a` reports the file as moved (audit fails).

use crate::contents::{BagContents, Hasher};
use crate::{Digests, Error, Problem};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The BagIt version this module writes and reads.
pub const BAGIT_VERSION: &str = "1.0";
/// The exact contents of `bagit.txt`.
pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
/// The digest algorithms of every manifest, in the names BagIt uses.
pub const ALGORITHMS: [&str; 3] = ["md5", "sha1", "sha256"];
/// The hashdeep known-file list in the bag root.
pub const HASHDEEP_TXT: &str = "hashdeep.txt";

/// The command that checks `hashdeep.txt` independently, run from the bag
/// root. `-a` audits (every file found must match an entry and every entry
/// must be found), `-k` names the known-file list, `-l` keeps the paths
/// relative (`data/...`, as the list has them) and `-r` recurses.
pub const HASHDEEP_COMMAND: &str = "hashdeep -a -k hashdeep.txt -l -r data";

/// The labels of `bag-info.txt` that [`write_bag_info`] writes itself; an
/// extra label may not repeat one of them (a second `Payload-Oxum` would
/// make the bag ambiguous).
const RESERVED_LABELS: [&str; 8] = [
    "External-Identifier",
    "Contact-Name",
    "Source-Organization",
    "External-Description",
    "Bagging-Date",
    "Payload-Oxum",
    "Bag-Size",
    "Bag-Software-Agent",
];

/// The metadata of `bag-info.txt`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BagInfo {
    /// The case id (`External-Identifier`).
    pub case_id: String,
    /// The examiner (`Contact-Name`).
    pub examiner: String,
    /// The examiner's organisation (`Source-Organization`).
    pub organisation: Option<String>,
    /// What the case is about (`External-Description`).
    pub description: Option<String>,
    /// When the case was created, RFC 3339 (`Case-Created`).
    pub created: String,
    /// More labels and values, written in this order after the others.
    pub extra: Vec<(String, String)>,
}

/// Writes `bagit.txt` ([`BAGIT_TXT`]) in the bag root `dir`.
pub fn write_bagit_txt(dir: &Path) -> Result<(), Error> {
    crate::write_atomic(&dir.join("bagit.txt"), BAGIT_TXT.as_bytes())
}

/// Writes `bag-info.txt` in the bag root `dir`: `External-Identifier`
/// (case id), `Contact-Name` (examiner), `Source-Organization`,
/// `External-Description`, `Case-Created`, `Bagging-Date` (today, UTC,
/// `YYYY-MM-DD`), `Payload-Oxum` (`bytes.files`), `Bag-Size` (the payload's
/// size for people), `Bag-Software-Agent` ([`crate::tool_version`]), then
/// `info.extra`.
///
/// Values are folded as RFC 8493 allows (a line break in a value becomes a
/// continuation line, indented), so no value can start a label of its own;
/// other control characters become U+FFFD. An extra label that is empty,
/// holds a colon, white space or a control character, or repeats a label
/// written here is refused. Durable once [`write_tag_manifests`], which
/// always follows, has run.
pub fn write_bag_info(
    dir: &Path,
    info: &BagInfo,
    payload_bytes: u64,
    payload_files: u64,
) -> Result<(), Error> {
    let today = {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::OffsetDateTime::now_utc()
            .format(&fmt)
            .map_err(|e| Error::Invalid(format!("bag-info.txt: today's date: {e}")))?
    };
    let mut labels: Vec<(&str, String)> = vec![
        ("External-Identifier", info.case_id.clone()),
        ("Contact-Name", info.examiner.clone()),
    ];
    if let Some(o) = &info.organisation {
        labels.push(("Source-Organization", o.clone()));
    }
    if let Some(d) = &info.description {
        labels.push(("External-Description", d.clone()));
    }
    labels.push(("Case-Created", info.created.clone()));
    labels.push(("Bagging-Date", today));
    labels.push(("Payload-Oxum", format!("{payload_bytes}.{payload_files}")));
    labels.push(("Bag-Size", human_size(payload_bytes)));
    labels.push(("Bag-Software-Agent", crate::tool_version()));
    for (label, _) in &info.extra {
        check_label(label)?;
    }
    let mut text = String::new();
    for (label, value) in labels
        .iter()
        .map(|(l, v)| (*l, v.as_str()))
        .chain(info.extra.iter().map(|(l, v)| (l.as_str(), v.as_str())))
    {
        text.push_str(label);
        text.push_str(": ");
        text.push_str(&fold_value(value));
        text.push('\n');
    }
    crate::write_derived(&dir.join("bag-info.txt"), text.as_bytes())
}

/// Refuses a label that would not parse back as itself.
fn check_label(label: &str) -> Result<(), Error> {
    let bad = label.is_empty()
        || label.contains(':')
        || label.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err(Error::Invalid(format!(
            "bag-info.txt: the label {label:?} is empty or holds a colon, white space or a control character"
        )));
    }
    if RESERVED_LABELS
        .iter()
        .chain(["Case-Created"].iter())
        .any(|r| r.eq_ignore_ascii_case(label))
    {
        return Err(Error::Invalid(format!(
            "bag-info.txt: the label {label} is written by takedown itself"
        )));
    }
    Ok(())
}

/// A tag value made safe for one metadata element: every line break (CR,
/// LF, CRLF, NEL, U+2028, U+2029) becomes a fold (a line break followed by
/// two spaces, so the next line is a continuation), other control
/// characters (tab aside) become U+FFFD.
pub fn fold_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\n  ");
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.push_str("\n  "),
            '\t' => out.push('\t'),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Parses a tag file (`bag-info.txt`, `bagit.txt`): labels and values in
/// order, continuation lines unfolded (joined with a line break, their
/// leading white space dropped). A line that is neither a continuation nor
/// `Label: value` is an error naming `name` and the line.
pub fn parse_tag_file(name: &str, bytes: &[u8]) -> Result<Vec<(String, String)>, Problem> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| Problem::error(name, format!("not UTF-8 ({e})")))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, line) in split_lines(text).enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match out.last_mut() {
                Some((_, v)) => {
                    v.push('\n');
                    v.push_str(line.trim_start());
                }
                None => {
                    return Err(Problem::error(
                        name,
                        format!("line {}: a continuation line before any label", i + 1),
                    ));
                }
            }
            continue;
        }
        match line.split_once(':') {
            Some((label, value)) if !label.trim().is_empty() => {
                out.push((label.trim().to_string(), value.trim().to_string()));
            }
            _ => {
                return Err(Problem::error(
                    name,
                    format!("line {}: not \"Label: value\"", i + 1),
                ));
            }
        }
    }
    Ok(out)
}

/// Lines as RFC 8493 ends them (LF, CR or CRLF), without the ending.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\r', '\n']) {
            Some(i) => {
                let line = rest.get(..i).unwrap_or_default();
                let skip = if rest.get(i..i + 2) == Some("\r\n") {
                    2
                } else {
                    1
                };
                rest = rest.get(i + skip..).unwrap_or_default();
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

/// A size for people (`Bag-Size`): `512 B`, `1.5 KB`, `260.0 GB`
/// (decimal units, as the RFC's example).
fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = UNITS[0];
    for u in UNITS.iter().skip(1) {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// Percent-encodes a file path for a manifest line, as RFC 8493 §2.1.3
/// requires: `%` becomes `%25`, CR `%0D` and LF `%0A`; nothing else
/// changes.
pub fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes a manifest path: `%25`, `%0D` and `%0A` (either case) become
/// `%`, CR and LF. Any other `%` is left as it is, so a manifest written by
/// a tool that does not encode `%` (most of them, see the module's notes)
/// still reads back its own names unless they hold one of these three
/// sequences.
pub fn percent_decode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find('%') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let code = rest.get(i + 1..i + 3).map(str::to_ascii_uppercase);
        match code.as_deref() {
            Some("25") => out.push('%'),
            Some("0D") => out.push('\r'),
            Some("0A") => out.push('\n'),
            _ => {
                out.push('%');
                rest = rest.get(i + 1..).unwrap_or_default();
                continue;
            }
        }
        rest = rest.get(i + 3..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Whether a bag path is carried correctly by every reference tool
/// (`bagit.py` 1.8.1 and `hashdeep`, see the module's notes): no control
/// character, no `%`, `$` or `~`, and no white space at the end. A path
/// that fails this is still written and checked correctly by takedown;
/// an acquirer may rather store such a file under a safe name (the
/// source's name is kept in the item record anyway).
pub fn tool_safe_path(bag_path: &str) -> bool {
    !bag_path.is_empty()
        && !bag_path
            .chars()
            .any(|c| c.is_control() || matches!(c, '%' | '$' | '~'))
        && !bag_path.ends_with(char::is_whitespace)
}

/// Whether `path` is a well-formed bag path: relative, `/`-separated, no
/// empty, `.` or `..` component, no backslash (which Windows would take as
/// a separator) and no NUL.
pub fn is_safe_bag_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\\', '\0'])
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Writes `manifest-md5.txt`, `manifest-sha1.txt`, `manifest-sha256.txt`
/// (`<hex>  <path>`, paths percent-encoded, sorted) and `hashdeep.txt` in
/// the bag root `dir`, for the payload files `items` (bag path
/// `data/...`, digests).
///
/// `hashdeep.txt` is hashdeep's known-file format, as `hashdeep -c
/// md5,sha1,sha256 -l -r data` run from the bag root writes it, so
/// [`HASHDEEP_COMMAND`] (`hashdeep -a -k hashdeep.txt -l -r data`, from the
/// bag root) audits the payload against it. hashdeep writes names raw, so
/// they are raw here too (a `%` stays `%`), except a name holding CR or LF,
/// which hashdeep cannot represent and which is percent-encoded as in the
/// manifests. Durable once [`write_tag_manifests`], which always follows,
/// has run.
pub fn write_payload_manifests(dir: &Path, items: &[(String, Digests)]) -> Result<(), Error> {
    let mut sorted: Vec<&(String, Digests)> = items.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in sorted.windows(2) {
        if let [a, b] = pair
            && a.0 == b.0
        {
            return Err(Error::Invalid(format!(
                "payload manifests: {} is listed twice",
                a.0
            )));
        }
    }
    for (path, d) in &sorted {
        if !path.starts_with("data/") || !is_safe_bag_path(path) {
            return Err(Error::Invalid(format!(
                "payload manifests: {path:?} is not a payload path (data/...)"
            )));
        }
        if !is_digest(&d.md5, "md5")
            || !is_digest(&d.sha1, "sha1")
            || !is_digest(&d.sha256, "sha256")
        {
            return Err(Error::Invalid(format!(
                "payload manifests: {path}: a digest is not lowercase hex of the right length"
            )));
        }
    }
    // The four texts side by side (each a pass over every item), then
    // written in turn.
    let texts = crate::par_map(
        &[Some("md5"), Some("sha1"), Some("sha256"), None],
        |alg| match alg {
            Some(alg) => manifest_text(&sorted, alg),
            None => hashdeep_text(&sorted),
        },
    );
    for (alg, text) in ALGORITHMS.iter().zip(&texts) {
        crate::write_derived(&dir.join(format!("manifest-{alg}.txt")), text.as_bytes())?;
    }
    let hashdeep = texts.get(ALGORITHMS.len()).map_or("", String::as_str);
    crate::write_derived(&dir.join(HASHDEEP_TXT), hashdeep.as_bytes())
}

/// A payload manifest's text: `<hex>  <path>` lines, paths percent-encoded.
fn manifest_text(sorted: &[&(String, Digests)], alg: &str) -> String {
    let mut text = String::new();
    for (path, d) in sorted {
        text.push_str(digest_of(d, alg));
        text.push_str("  ");
        text.push_str(&percent_encode(path));
        text.push('\n');
    }
    text
}

/// `hashdeep.txt`'s text (see [`write_payload_manifests`]).
fn hashdeep_text(sorted: &[&(String, Digests)]) -> String {
    let mut text = String::from("%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,sha256,filename\n");
    // hashdeep's own comment lines: where it ran and how. The directory is
    // the bag root, written as the case's own name would mislead once the
    // case is moved; the command line is the one these lines reproduce.
    text.push_str("## Invoked from: the bag root\n");
    text.push_str("## $ hashdeep -c md5,sha1,sha256 -l -r data\n");
    text.push_str("##\n");
    for (path, d) in sorted {
        let name = if path.contains(['\r', '\n']) {
            percent_encode(path)
        } else {
            path.to_string()
        };
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            d.size, d.md5, d.sha1, d.sha256, name
        ));
    }
    text
}

/// The digest of `d` for a BagIt algorithm name.
fn digest_of<'a>(d: &'a Digests, alg: &str) -> &'a str {
    match alg {
        "md5" => &d.md5,
        "sha1" => &d.sha1,
        _ => &d.sha256,
    }
}

/// Whether `s` is a lowercase hex digest of `alg`'s length.
fn is_digest(s: &str, alg: &str) -> bool {
    let len = match alg {
        "md5" => 32,
        "sha1" => 40,
        "sha256" => 64,
        _ => return false,
    };
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The tag files of the bag root `dir`, sorted, as `/`-separated bag
/// paths: every file outside `data/`, `.takedown/` and the root's
/// `tagmanifest-*.txt`, tag directories (`custody/`, `items/`,
/// `timestamps/`) included. A symbolic link, a special file or a name
/// that is not UTF-8 is refused: a tag manifest never vouches for those.
pub fn tag_files(dir: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    tag_walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

fn tag_walk(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), Error> {
    let what = || format!("tag files: reading {}", dir.display());
    let entries = fs::read_dir(dir).map_err(|e| Error::io(what(), &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(what(), &e))?;
        let name = entry.file_name().into_string().map_err(|n| {
            Error::Invalid(format!(
                "tag files: {} holds a name that is not UTF-8 ({})",
                dir.display(),
                n.to_string_lossy()
            ))
        })?;
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if rel.is_empty()
            && (name == crate::DATA_DIR
                || name == crate::STATE_DIR
                || (name.starts_with("tagmanifest-") && name.ends_with(".txt")))
        {
            continue;
        }
        let ft = entry
            .file_type()
            .map_err(|e| Error::io(format!("tag files: {path}"), &e))?;
        if ft.is_dir() {
            tag_walk(&entry.path(), &path, out)?;
        } else if ft.is_file() {
            out.push(path);
        } else {
            return Err(Error::Invalid(format!(
                "tag files: {path} is a symbolic link or a special file; a bag holds only files"
            )));
        }
    }
    Ok(())
}

/// Writes `tagmanifest-md5.txt`, `tagmanifest-sha1.txt` and
/// `tagmanifest-sha256.txt` in the bag root `dir`, over every file
/// [`tag_files`] lists, read as it is on disk now.
pub fn write_tag_manifests(dir: &Path) -> Result<(), Error> {
    let files = tag_files(dir)?;
    // Side by side: the item records of a large acquisition and the
    // payload manifests are megabytes each.
    let digests = crate::par_map(&files, |f| {
        let full = bag_path_on_disk(dir, f);
        let file = crate::contents::open_nofollow(&full)
            .map_err(|e| Error::io(format!("tag manifests: reading {f}"), &e))?;
        crate::contents::hash_reader(file)
            .map_err(|e| Error::io(format!("tag manifests: reading {f}"), &e))
    })
    .into_iter()
    .collect::<Result<Vec<_>, Error>>()?;
    for alg in ALGORITHMS {
        let mut text = String::new();
        for (f, d) in files.iter().zip(&digests) {
            text.push_str(digest_of(d, alg));
            text.push_str("  ");
            text.push_str(&percent_encode(f));
            text.push('\n');
        }
        crate::write_derived(&dir.join(format!("tagmanifest-{alg}.txt")), text.as_bytes())?;
    }
    // The one sync of the derived files: the tag manifests are always
    // written last, after the payload manifests and bag-info.txt.
    crate::sync_case(dir)
}

/// The file a `/`-separated bag path names under `dir`.
pub fn bag_path_on_disk(dir: &Path, bag_path: &str) -> PathBuf {
    let mut p = dir.to_path_buf();
    for c in bag_path.split('/') {
        p.push(c);
    }
    p
}

/// One line of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestLine {
    /// Its line number, from 1.
    pub line: usize,
    /// The digest, lowercase hex.
    pub digest: String,
    /// The bag path, decoded.
    pub path: String,
}

/// Parses the manifest or tag manifest `name` for `alg`: each line is a
/// digest, white space, and a percent-encoded path. A malformed line (no
/// path, a digest that is not hex of `alg`'s length, an unsafe path, a
/// path listed twice) is an Error problem naming the file and the line,
/// and is left out.
pub fn parse_manifest(name: &str, alg: &str, bytes: &[u8]) -> (Vec<ManifestLine>, Vec<Problem>) {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem::error(name, format!("not UTF-8 ({e})")));
            return (lines, problems);
        }
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in split_lines(text).enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Some((digest, path)) = line.split_once([' ', '\t']) else {
            problems.push(Problem::error(name, format!("line {n}: no file path")));
            continue;
        };
        let path = path.trim_start_matches([' ', '\t']);
        let digest = digest.to_ascii_lowercase();
        if !is_digest(&digest, alg) {
            problems.push(Problem::error(
                name,
                format!("line {n}: {digest:?} is not a {alg} digest"),
            ));
            continue;
        }
        let path = percent_decode(path);
        if !is_safe_bag_path(&path) {
            problems.push(Problem::error(
                name,
                format!("line {n}: {path:?} is not a safe path inside the bag"),
            ));
            continue;
        }
        if let Some(first) = seen.get(&path) {
            problems.push(Problem::error(
                name,
                format!("line {n}: {path} is listed twice (also line {first})"),
            ));
            continue;
        }
        seen.insert(path.clone(), n);
        lines.push(ManifestLine {
            line: n,
            digest,
            path,
        });
    }
    (lines, problems)
}

/// The name of an algorithm as people read it.
fn alg_title(alg: &str) -> &str {
    match alg {
        "md5" => "MD5",
        "sha1" => "SHA-1",
        "sha256" => "SHA-256",
        other => other,
    }
}

/// Checks a bag as RFC 8493 and takedown's layout require, on its
/// contents: `bagit.txt`; every `manifest-<alg>.txt` line against the
/// payload (a changed digest, a missing file) and every payload file
/// against every manifest (an added file); `Payload-Oxum`; every
/// `tagmanifest-<alg>.txt` line against the tag files' bytes, and every
/// tag file against the tag manifests; `hashdeep.txt` against the
/// manifests. The manifests and tag manifests for md5, sha1 and sha256,
/// `bagit.txt`, `bag-info.txt` and `hashdeep.txt` must all be there.
///
/// Problems met while gathering `contents` (`contents.problems`) are not
/// repeated here; a file named in one of them is not also called missing.
pub fn check(contents: &BagContents) -> Vec<Problem> {
    let mut c = Checker {
        contents,
        problems: Vec::new(),
        missing: BTreeSet::new(),
        troubled: contents
            .problems
            .iter()
            .map(|p| p.subject.clone())
            .collect(),
        tag_digests: BTreeMap::new(),
    };
    c.run();
    c.problems
}

struct Checker<'a> {
    contents: &'a BagContents,
    problems: Vec<Problem>,
    /// Paths already reported missing (once each, whichever list says so).
    missing: BTreeSet<String>,
    /// Subjects of the gathering problems.
    troubled: BTreeSet<String>,
    /// Tag files' digests, computed once.
    tag_digests: BTreeMap<String, Digests>,
}

impl Checker<'_> {
    fn run(&mut self) {
        self.check_bagit_txt();
        let manifests = self.check_payload_manifests();
        self.check_oxum();
        self.check_tag_manifests();
        self.check_hashdeep(&manifests);
    }

    fn missing(&mut self, path: &str) {
        if !self.troubled.contains(path) && self.missing.insert(path.to_string()) {
            self.problems.push(Problem::altered(path, "is missing"));
        }
    }

    fn check_bagit_txt(&mut self) {
        let Some(bytes) = self.contents.tags.get("bagit.txt") else {
            self.missing("bagit.txt");
            return;
        };
        if bytes.starts_with(b"\xef\xbb\xbf") {
            self.problems.push(Problem::error(
                "bagit.txt",
                "starts with a byte-order mark, which RFC 8493 forbids",
            ));
            return;
        }
        match parse_tag_file("bagit.txt", bytes) {
            Err(p) => self.problems.push(p),
            Ok(tags) => {
                let get = |l: &str| tags.iter().find(|(k, _)| k == l).map(|(_, v)| v.as_str());
                match get("BagIt-Version") {
                    Some(BAGIT_VERSION) => {}
                    Some(v) => self.problems.push(Problem::error(
                        "bagit.txt",
                        format!("BagIt-Version is {v}; takedown checks version {BAGIT_VERSION}"),
                    )),
                    None => self
                        .problems
                        .push(Problem::error("bagit.txt", "has no BagIt-Version")),
                }
                match get("Tag-File-Character-Encoding") {
                    Some(e) if e.eq_ignore_ascii_case("UTF-8") => {}
                    Some(e) => self.problems.push(Problem::error(
                        "bagit.txt",
                        format!("Tag-File-Character-Encoding is {e}; takedown reads UTF-8 only"),
                    )),
                    None => self.problems.push(Problem::error(
                        "bagit.txt",
                        "has no Tag-File-Character-Encoding",
                    )),
                }
            }
        }
    }

    /// The manifest files of one kind (`manifest-` or `tagmanifest-`) in
    /// the root, by algorithm.
    fn manifest_names(&self, prefix: &str) -> Vec<(String, String)> {
        self.contents
            .tags
            .keys()
            .filter(|k| !k.contains('/'))
            .filter_map(|k| {
                let alg = k.strip_prefix(prefix)?.strip_suffix(".txt")?;
                Some((alg.to_string(), k.clone()))
            })
            .collect()
    }

    /// The manifests `<prefix><alg>.txt` that can be checked, parsed (their
    /// malformed lines reported): one of md5, sha1 and sha256 that is
    /// missing is reported missing, one of another algorithm as not
    /// checkable.
    fn parse_manifests(&mut self, prefix: &str) -> Vec<(String, String, Vec<ManifestLine>)> {
        for alg in ALGORITHMS {
            let name = format!("{prefix}{alg}.txt");
            if !self.contents.tags.contains_key(&name) {
                self.missing(&name);
            }
        }
        let mut out = Vec::new();
        for (alg, name) in self.manifest_names(prefix) {
            if !ALGORITHMS.contains(&alg.as_str()) {
                self.problems.push(Problem::error(
                    &name,
                    format!("cannot check: takedown computes md5, sha1 and sha256, not {alg}"),
                ));
                continue;
            }
            let Some(bytes) = self.contents.tags.get(&name) else {
                continue;
            };
            let (lines, problems) = parse_manifest(&name, &alg, bytes);
            self.problems.extend(problems);
            out.push((alg, name, lines));
        }
        out
    }

    /// Checks the payload manifests; returns the parsed ones by algorithm.
    fn check_payload_manifests(&mut self) -> BTreeMap<String, BTreeMap<String, ManifestLine>> {
        let mut parsed: BTreeMap<String, BTreeMap<String, ManifestLine>> = BTreeMap::new();
        for (alg, name, lines) in self.parse_manifests("manifest-") {
            for l in &lines {
                if !l.path.starts_with("data/") {
                    self.problems.push(Problem::error(
                        &name,
                        format!(
                            "line {}: {} is not a payload path (data/...)",
                            l.line, l.path
                        ),
                    ));
                    continue;
                }
                match self.contents.payload.get(&l.path) {
                    None => {
                        let p = l.path.clone();
                        self.missing(&p);
                    }
                    Some(d) => {
                        let actual = digest_of(d, &alg);
                        // A digest the contents do not carry (verify's
                        // SHA-256-only reading) is checked by verify
                        // against the signed records instead.
                        if !actual.is_empty() && actual != l.digest {
                            self.problems.push(Problem::altered(
                                &l.path,
                                format!(
                                    "{} is {actual}, {name} says {}",
                                    alg_title(&alg),
                                    l.digest
                                ),
                            ));
                        }
                    }
                }
            }
            parsed.insert(
                alg.clone(),
                lines.into_iter().map(|l| (l.path.clone(), l)).collect(),
            );
        }
        // Added files: once each, naming the manifests that leave them out.
        for path in self.contents.payload.keys() {
            let absent: Vec<String> = parsed
                .iter()
                .filter(|(_, lines)| !lines.contains_key(path))
                .map(|(alg, _)| format!("manifest-{alg}.txt"))
                .collect();
            if absent.is_empty() {
                continue;
            }
            let msg = if absent.len() == parsed.len() {
                "not in the manifests (added)".to_string()
            } else {
                format!("not in {} (added)", absent.join(", "))
            };
            self.problems.push(Problem::altered(path, msg));
        }
        parsed
    }

    fn check_oxum(&mut self) {
        let Some(bytes) = self.contents.tags.get("bag-info.txt") else {
            self.missing("bag-info.txt");
            return;
        };
        let tags = match parse_tag_file("bag-info.txt", bytes) {
            Ok(t) => t,
            Err(p) => {
                self.problems.push(p);
                return;
            }
        };
        let oxums: Vec<&str> = tags
            .iter()
            .filter(|(k, _)| k == "Payload-Oxum")
            .map(|(_, v)| v.as_str())
            .collect();
        let oxum = match oxums.as_slice() {
            [one] => *one,
            [] => {
                self.problems
                    .push(Problem::error("bag-info.txt", "has no Payload-Oxum"));
                return;
            }
            _ => {
                self.problems.push(Problem::error(
                    "bag-info.txt",
                    "has more than one Payload-Oxum",
                ));
                return;
            }
        };
        let parsed = oxum
            .split_once('.')
            .and_then(|(b, f)| Some((b.parse::<u64>().ok()?, f.parse::<u64>().ok()?)));
        let Some((bytes_said, files_said)) = parsed else {
            self.problems.push(Problem::error(
                "bag-info.txt",
                format!("Payload-Oxum {oxum:?} is not BYTES.FILES"),
            ));
            return;
        };
        let files = self.contents.payload.len() as u64;
        let bytes: u64 = self
            .contents
            .payload
            .values()
            .fold(0u64, |a, d| a.saturating_add(d.size));
        if (bytes, files) != (bytes_said, files_said) {
            self.problems.push(Problem::altered(
                "bag-info.txt",
                format!(
                    "Payload-Oxum says {bytes_said} bytes in {files_said} files; the payload has {bytes} bytes in {files} files"
                ),
            ));
        }
    }

    fn tag_digest(&mut self, path: &str) -> Option<&Digests> {
        if !self.tag_digests.contains_key(path) {
            let bytes = self.contents.tags.get(path)?;
            let mut h = Hasher::new();
            h.update(bytes);
            self.tag_digests.insert(path.to_string(), h.finish());
        }
        self.tag_digests.get(path)
    }

    fn check_tag_manifests(&mut self) {
        let mut listed_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut checked = Vec::new();
        for (alg, name, lines) in self.parse_manifests("tagmanifest-") {
            checked.push(name.clone());
            for l in lines {
                listed_by
                    .entry(l.path.clone())
                    .or_default()
                    .insert(name.clone());
                if l.path.starts_with("data/") {
                    self.problems.push(Problem::error(
                        &name,
                        format!(
                            "line {}: {} is a payload path, not a tag file",
                            l.line, l.path
                        ),
                    ));
                    continue;
                }
                let Some(d) = self.tag_digest(&l.path) else {
                    self.missing(&l.path);
                    continue;
                };
                let actual = digest_of(d, &alg).to_string();
                if actual != l.digest {
                    self.problems.push(Problem::altered(
                        &l.path,
                        format!(
                            "{} is {actual}, {name} says {} (changed)",
                            alg_title(&alg),
                            l.digest
                        ),
                    ));
                }
            }
        }
        if checked.is_empty() {
            return;
        }
        // Every tag file must be vouched for: one that no tag manifest
        // lists was put in afterwards.
        let unlisted: Vec<(String, Vec<String>)> = self
            .contents
            .tags
            .keys()
            .filter(|k| k.contains('/') || !k.starts_with("tagmanifest-"))
            .filter_map(|k| {
                let by = listed_by.get(k);
                let absent: Vec<String> = checked
                    .iter()
                    .filter(|n| !by.is_some_and(|s| s.contains(*n)))
                    .cloned()
                    .collect();
                (!absent.is_empty()).then(|| (k.clone(), absent))
            })
            .collect();
        for (k, absent) in unlisted {
            let msg = if absent.len() == checked.len() {
                "not in the tag manifests (added)".to_string()
            } else {
                format!("not in {} (added)", absent.join(", "))
            };
            self.problems.push(Problem::altered(k, msg));
        }
    }

    fn check_hashdeep(&mut self, manifests: &BTreeMap<String, BTreeMap<String, ManifestLine>>) {
        let Some(bytes) = self.contents.tags.get(HASHDEEP_TXT) else {
            self.missing(HASHDEEP_TXT);
            return;
        };
        let (entries, problems) = parse_hashdeep(bytes);
        self.problems.extend(problems);
        let by_path: BTreeMap<&str, &HashdeepLine> =
            entries.iter().map(|e| (e.path.as_str(), e)).collect();
        for (alg, lines) in manifests {
            for l in lines.values() {
                let Some(e) = by_path.get(l.path.as_str()) else {
                    self.problems.push(Problem::altered(
                        HASHDEEP_TXT,
                        format!(
                            "{} is in manifest-{alg}.txt but not in hashdeep.txt",
                            l.path
                        ),
                    ));
                    continue;
                };
                if digest_of(&e.digests, alg) != l.digest {
                    self.problems.push(Problem::altered(
                        HASHDEEP_TXT,
                        format!(
                            "line {}: {}: the {} differs from manifest-{alg}.txt",
                            e.line,
                            l.path,
                            alg_title(alg)
                        ),
                    ));
                }
            }
        }
        for e in &entries {
            if let Some(d) = self.contents.payload.get(&e.path)
                && d.size != e.digests.size
            {
                self.problems.push(Problem::altered(
                    &e.path,
                    format!("{} bytes, hashdeep.txt says {}", d.size, e.digests.size),
                ));
            }
            if manifests
                .get("sha256")
                .is_some_and(|ls| !ls.contains_key(&e.path))
            {
                self.problems.push(Problem::altered(
                    HASHDEEP_TXT,
                    format!("line {}: {} is not in manifest-sha256.txt", e.line, e.path),
                ));
            }
        }
    }
}

/// One file of `hashdeep.txt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashdeepLine {
    /// Its line number, from 1.
    pub line: usize,
    /// Size and digests.
    pub digests: Digests,
    /// The bag path (percent-decoded only when it holds an encoded CR or
    /// LF, see [`write_payload_manifests`]).
    pub path: String,
}

/// Parses a hashdeep known-file list of the `size,md5,sha1,sha256,filename`
/// kind (the file name is everything after the fourth comma, so it may
/// hold commas). Header (`%%%%`) and comment (`#`) lines are skipped; a
/// malformed line is an Error problem naming the line.
pub fn parse_hashdeep(bytes: &[u8]) -> (Vec<HashdeepLine>, Vec<Problem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem::error(HASHDEEP_TXT, format!("not UTF-8 ({e})")));
            return (out, problems);
        }
    };
    let mut header_ok = false;
    let mut seen = BTreeSet::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(h) = line.strip_prefix("%%%% ") {
            if h.starts_with("size,") {
                header_ok = h == "size,md5,sha1,sha256,filename";
                if !header_ok {
                    problems.push(Problem::error(
                        HASHDEEP_TXT,
                        format!("line {n}: columns {h:?}, expected size,md5,sha1,sha256,filename"),
                    ));
                    return (out, problems);
                }
            }
            continue;
        }
        let mut parts = line.splitn(5, ',');
        let (Some(size), Some(md5), Some(sha1), Some(sha256), Some(name)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            problems.push(Problem::error(
                HASHDEEP_TXT,
                format!("line {n}: not size,md5,sha1,sha256,filename"),
            ));
            continue;
        };
        let (md5, sha1, sha256) = (
            md5.to_ascii_lowercase(),
            sha1.to_ascii_lowercase(),
            sha256.to_ascii_lowercase(),
        );
        let Ok(size) = size.parse::<u64>() else {
            problems.push(Problem::error(
                HASHDEEP_TXT,
                format!("line {n}: the size {size:?} is not a number"),
            ));
            continue;
        };
        if !is_digest(&md5, "md5") || !is_digest(&sha1, "sha1") || !is_digest(&sha256, "sha256") {
            problems.push(Problem::error(
                HASHDEEP_TXT,
                format!("line {n}: a digest is not hex of the right length"),
            ));
            continue;
        }
        let path = if name.contains("%0A")
            || name.contains("%0a")
            || name.contains("%0D")
            || name.contains("%0d")
        {
            percent_decode(name)
        } else {
            name.to_string()
        };
        if !is_safe_bag_path(&path) {
            problems.push(Problem::error(
                HASHDEEP_TXT,
                format!("line {n}: {path:?} is not a safe path inside the bag"),
            ));
            continue;
        }
        if !seen.insert(path.clone()) {
            problems.push(Problem::error(
                HASHDEEP_TXT,
                format!("line {n}: {path} is listed twice"),
            ));
            continue;
        }
        out.push(HashdeepLine {
            line: n,
            digests: Digests {
                size,
                md5,
                sha1,
                sha256,
            },
            path,
        });
    }
    if !header_ok {
        problems.push(Problem::error(
            HASHDEEP_TXT,
            "no \"%%%% size,md5,sha1,sha256,filename\" header",
        ));
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_round_trip() {
        for s in [
            "data/plain.txt",
            "data/100%.txt",
            "data/a\nb\rc\r\nd",
            "data/%0A literal",
            "data/%25",
            "data/ünï €",
        ] {
            assert_eq!(percent_decode(&percent_encode(s)), s, "{s:?}");
        }
        assert_eq!(percent_encode("a%b\nc\rd"), "a%25b%0Ac%0Dd");
        // Lowercase escapes decode; other escapes and lone % stay.
        assert_eq!(percent_decode("a%0ab%0dc%25d"), "a\nb\rc%d");
        assert_eq!(percent_decode("100%.txt %41 %"), "100%.txt %41 %");
        assert_eq!(percent_decode("%2"), "%2");
    }

    #[test]
    fn fold_stops_label_injection() {
        let v = fold_value("case\nPayload-Oxum: 1.1\r\nx\ry\u{2028}z\u{7}");
        assert!(!v.lines().skip(1).any(|l| !l.starts_with(' ')), "{v:?}");
        assert!(v.contains('\u{fffd}'));
        let text = format!("External-Identifier: {v}\n");
        let tags = parse_tag_file("bag-info.txt", text.as_bytes()).unwrap();
        assert_eq!(tags.len(), 1, "{tags:?}");
        assert_eq!(tags[0].0, "External-Identifier");
        assert!(tags[0].1.starts_with("case\nPayload-Oxum: 1.1\nx\ny"));
    }

    #[test]
    fn bad_labels_refused() {
        for l in ["", "a:b", "a b", "Payload-Oxum", "payload-oxum", "a\nb"] {
            assert!(check_label(l).is_err(), "{l:?}");
        }
        assert!(check_label("Case-Reference").is_ok());
    }

    #[test]
    fn manifest_parsing() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let text = format!(
            "{md5}  data/a b.txt\n\
             {md5}\tdata/x%0Ay%25\r\n\
             \n\
             {md5}\n\
             zzzz  data/bad-digest\n\
             {}  data/short\n\
             {md5}  data/../etc/passwd\n\
             {md5}  /abs\n\
             {md5}  data/a b.txt\n\
             {}  data/UPPER\n",
            &md5[..31],
            md5.to_uppercase()
        );
        let (lines, problems) = parse_manifest("manifest-md5.txt", "md5", text.as_bytes());
        let paths: Vec<&str> = lines.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(paths, ["data/a b.txt", "data/x\ny%", "data/UPPER"]);
        assert_eq!(lines[2].digest, md5);
        assert_eq!(lines[1].line, 2);
        let msgs: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs.len(), 6, "{msgs:#?}");
        for (m, line) in msgs.iter().zip([4, 5, 6, 7, 8, 9]) {
            assert!(
                m.starts_with(&format!("manifest-md5.txt: line {line}:")),
                "{m}"
            );
        }
        assert!(msgs[5].contains("listed twice (also line 1)"));
        let (_, p) = parse_manifest("manifest-md5.txt", "md5", b"\xff\xfe  data/x\n");
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn hashdeep_parsing() {
        let d = "0,d41d8cd98f00b204e9800998ecf8427e,da39a3ee5e6b4b0d3255bfef95601890afd80709,e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let text = format!(
            "%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,sha256,filename\n## Invoked from: x\n{d},data/a,b.txt\n{d},data/n%0Al\nx,1,2,3,data/y\n{d}\n"
        );
        let (lines, problems) = parse_hashdeep(text.as_bytes());
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].path, "data/a,b.txt");
        assert_eq!(lines[1].path, "data/n\nl");
        assert_eq!(problems.len(), 2, "{problems:?}");
        let (_, problems) = parse_hashdeep(format!("{d},data/a\n").as_bytes());
        assert_eq!(problems.len(), 1, "a list without its header: {problems:?}");
    }

    #[test]
    fn safe_paths() {
        assert!(is_safe_bag_path("data/a/b c"));
        for p in ["", "/a", "data//x", "data/./x", "data/../x", "a\\b", "x\0"] {
            assert!(!is_safe_bag_path(p), "{p:?}");
        }
        assert!(tool_safe_path("data/000001/ünï b,c.txt"));
        for p in ["data/a%", "data/a\nb", "data/$HOME", "data/x "] {
            assert!(!tool_safe_path(p), "{p:?}");
        }
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1500), "1.5 KB");
        assert_eq!(human_size(260_000_000_000), "260.0 GB");
    }
}
