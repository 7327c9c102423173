//! Where updates come from, and how the newest bundle is found.
//!
//! * A bundle file: that bundle.
//! * A directory: every `*.tdsb` in it is peeked at (header and manifest,
//!   no signature yet) and the one claiming the highest version is opened;
//!   if it then fails verification the update is refused rather than
//!   falling back to an older one, so that a broken publication is seen.
//! * An `http://` or `https://` URL ending in `.tdsb`: that bundle.
//! * Any other URL is a base: `BASE/latest` is a small text file holding
//!   the file name of the newest bundle, fetched as `BASE/NAME`.

use crate::format::{self, EXTENSION};
use crate::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The file a base URL names its newest bundle in.
pub const LATEST: &str = "latest";
/// A `latest` file is one name; more is not one.
pub const MAX_LATEST_LEN: u64 = 1024;

/// An update source, as given to `--from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A local bundle file or a directory of them.
    Path(PathBuf),
    /// An HTTP(S) URL: a bundle or a base.
    Url(String),
}

impl Source {
    /// `http://` and `https://` are URLs; anything else is a path.
    pub fn parse(s: &str) -> Source {
        let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Source::Url(s.to_string())
        } else {
            Source::Path(PathBuf::from(s))
        }
    }
}

/// A bundle being read from its source.
pub struct Fetched {
    /// Where it comes from (a path or a URL), for messages and the
    /// installed set's info.
    pub origin: String,
    /// Its bytes, from the start.
    pub reader: Box<dyn Read>,
}

/// Opens the newest bundle of a source.
pub fn fetch(source: &Source) -> Result<Fetched> {
    match source {
        Source::Path(p) => fetch_path(p),
        #[cfg(feature = "http")]
        Source::Url(url) => crate::http::fetch(url),
        #[cfg(not(feature = "http"))]
        Source::Url(url) => Err(Error::Fetch(format!(
            "{url}: this build of takedown has no HTTP support"
        ))),
    }
}

fn open_file(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| Error::io(format!("cannot open {}", path.display()), e))
}

fn fetch_path(path: &Path) -> Result<Fetched> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let chosen = if meta.is_dir() {
        newest_in(path)?
    } else {
        path.to_path_buf()
    };
    let reader = std::io::BufReader::with_capacity(256 * 1024, open_file(&chosen)?);
    Ok(Fetched {
        origin: chosen.display().to_string(),
        reader: Box::new(reader),
    })
}

/// The bundle of a directory that claims the highest version.
fn newest_in(dir: &Path) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
    let mut best: Option<(u64, PathBuf)> = None;
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == EXTENSION) && p.is_file())
        .collect();
    names.sort();
    for path in names {
        let peeked = open_file(&path).and_then(|f| format::peek(&mut std::io::BufReader::new(f)));
        match peeked {
            Ok(m) => {
                if best.as_ref().is_none_or(|(v, _)| m.version > *v) {
                    best = Some((m.version, path));
                }
            }
            Err(e) => tracing::warn!("{}: skipped: {e}", path.display()),
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| {
        Error::Fetch(format!(
            "{} holds no readable bundle (*.{EXTENSION})",
            dir.display()
        ))
    })
}

/// A `latest` file's content: one plain file name of a bundle, so that a
/// hostile server cannot point the update anywhere but next to itself.
pub fn parse_latest(text: &str) -> std::result::Result<&str, String> {
    let name = text.trim();
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > 255
        || name.starts_with('.')
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(format!(
            "it does not hold a plain file name (letters, digits, '.', '_', '-'): {:?}",
            name.chars().take(80).collect::<String>()
        ));
    }
    if !name.ends_with(&format!(".{EXTENSION}")) {
        return Err(format!("{name:?} does not end in .{EXTENSION}"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!(
            Source::parse("https://x/y"),
            Source::Url("https://x/y".into())
        );
        assert_eq!(Source::parse("HTTP://x"), Source::Url("HTTP://x".into()));
        assert_eq!(Source::parse("./http"), Source::Path("./http".into()));
        assert_eq!(Source::parse("/srv/b"), Source::Path("/srv/b".into()));
    }

    #[test]
    fn latest_names_one_plain_file() {
        assert_eq!(parse_latest("sigs-5.tdsb\n"), Ok("sigs-5.tdsb"));
        for bad in [
            "",
            "../x.tdsb",
            "a/b.tdsb",
            "x.zip",
            ".x.tdsb",
            "http://e/x.tdsb",
            "a b.tdsb",
        ] {
            assert!(parse_latest(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_directory_offers_its_newest_bundle() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("a.yar"), "x").unwrap();
        let list = format::collect_dir(&src).unwrap();
        let out = t.path().join("out");
        std::fs::create_dir(&out).unwrap();
        for v in [3, 10, 7] {
            format::write(&out.join(format!("s-{v}.tdsb")), &list, v, 0, None).unwrap();
        }
        std::fs::write(out.join("junk.tdsb"), "not a bundle").unwrap();
        std::fs::write(out.join("notes.txt"), "ignored").unwrap();
        let f = fetch(&Source::Path(out.clone())).unwrap();
        assert!(f.origin.ends_with("s-10.tdsb"), "{}", f.origin);
        let m = format::peek(&mut f.reader.take(1 << 20)).unwrap();
        assert_eq!(m.version, 10);
        let empty = t.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let e = fetch(&Source::Path(empty)).err().unwrap().to_string();
        assert!(e.contains("holds no readable bundle"), "{e}");
    }
}
