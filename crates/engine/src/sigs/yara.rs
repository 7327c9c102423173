//! YARA rules through yara-x, compiled once, cached on disk.
//!
//! Each rule file gets its own namespace, so two public feeds that reuse a
//! rule name both load. Compilation is tolerant: yara-x keeps every rule
//! that compiled and reports the others, which we turn into issues naming
//! file, line and reason (`--strict` makes any of them fatal upstream).
//!
//! Compiling a large public set takes seconds; the compiled form is cached
//! under a key made of the engine and yara-x versions, the compile options
//! and the content of every source, so any change to any of them misses.
//!
//! The cached form holds native code that is run as is, so the cache is
//! treated as a security boundary: the directory is created private (0700),
//! and a cache file is used only if it and its directory belong to the
//! current user and are writable by no one else, and its SHA-256 checks
//! out. Anything else is ignored (and rebuilt) with a warning.

use super::{SigIssue, SourceId};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The yara-x version compiled in; part of the cache key. Pinned with `=`
/// in Cargo.toml; a unit test checks it against Cargo.lock.
pub const YARA_X_VERSION: &str = "1.22.1";

/// Externals defined for every scanned file, as Loki and THOR define them,
/// so that rule sets written for those tools compile and mean the same.
pub const EXTERNALS: [&str; 5] = ["filename", "filepath", "extension", "filetype", "owner"];

/// Format tag of cache files; bump when the layout below changes.
const CACHE_MAGIC: &[u8; 16] = b"takedown-yarac/1";

/// A YARA source to compile.
pub struct YaraSource {
    /// Which signature file it is.
    pub id: SourceId,
    /// Display name (path, or `builtin:...`).
    pub origin: String,
    /// Raw bytes of the file.
    pub code: Vec<u8>,
}

/// Compiled rules and what it takes to map a match back to its file.
pub struct YaraRules {
    /// The compiled rules, shared read-only by every scanning thread.
    pub rules: yara_x::Rules,
    /// Namespace index -> source (namespaces are `n0`, `n1`, ...).
    pub namespaces: Vec<SourceId>,
    /// Rules per source, in the order of `namespaces`.
    pub rule_counts: Vec<usize>,
    /// True when the rules came from the on-disk cache.
    pub from_cache: bool,
}

impl YaraRules {
    /// The source a namespace name belongs to.
    pub fn source_of(&self, namespace: &str) -> Option<SourceId> {
        namespace
            .strip_prefix('n')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|i| self.namespaces.get(i).copied())
    }
}

/// Compiles `sources`, or loads them from `cache_dir` when an identical set
/// was compiled before. Issues are appended to `issues`.
pub fn compile(
    sources: &[YaraSource],
    cache_dir: Option<&Path>,
    issues: &mut Vec<SigIssue>,
) -> Option<YaraRules> {
    if sources.is_empty() {
        return None;
    }
    let key = cache_key(sources);
    let cache_file = cache_dir.map(|d| d.join(format!("yara-{key}.bin")));
    if let Some(file) = &cache_file {
        match read_cache(file) {
            Ok(Some((rules, meta))) => {
                issues.extend(meta.issues);
                return Some(YaraRules {
                    rules,
                    namespaces: sources.iter().map(|s| s.id).collect(),
                    rule_counts: meta.rule_counts,
                    from_cache: true,
                });
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("ignoring the compiled-rules cache {}: {e}", file.display()),
        }
    }

    let mut compiler = yara_x::Compiler::new();
    // Public rules were written for libyara's regex dialect (`\R`, `{,n}`,
    // unescaped `{`): relaxed syntax accepts what their authors meant.
    compiler.relaxed_re_syntax(true);
    for name in EXTERNALS {
        compiler
            .define_global(name, "")
            .expect("fresh compiler accepts new globals");
    }
    let mut new_issues = Vec::new();
    let mut rule_counts = Vec::with_capacity(sources.len());
    for (i, src) in sources.iter().enumerate() {
        compiler.new_namespace(&format!("n{i}"));
        let errors_before = compiler.errors().len();
        let code = yara_x::SourceCode::from(src.code.as_slice()).with_origin(src.origin.as_str());
        let _ = compiler.add_source(code);
        for err in &compiler.errors()[errors_before..] {
            let (line, reason) = describe(err, &src.code);
            new_issues.push(SigIssue {
                file: src.origin.clone(),
                line,
                message: reason,
            });
        }
        rule_counts.push(0);
    }
    let rules = compiler.build();
    for rule in rules.iter() {
        if let Some(i) = rule
            .namespace()
            .strip_prefix('n')
            .and_then(|n| n.parse::<usize>().ok())
            && let Some(c) = rule_counts.get_mut(i)
        {
            *c += 1;
        }
    }
    if let Some(file) = &cache_file {
        let meta = CacheMeta {
            issues: new_issues.clone(),
            rule_counts: rule_counts.clone(),
        };
        if let Err(e) = write_cache(file, &rules, &meta) {
            tracing::warn!(
                "could not write the compiled-rules cache {}: {e}",
                file.display()
            );
        }
    }
    issues.extend(new_issues);
    Some(YaraRules {
        rules,
        namespaces: sources.iter().map(|s| s.id).collect(),
        rule_counts,
        from_cache: false,
    })
}

/// Turns a yara-x error into a line number (1-based, in the failing source)
/// and a one-line reason.
fn describe(err: &yara_x::errors::CompileError, code: &[u8]) -> (Option<usize>, String) {
    let title = err.title().to_string();
    let label = err.labels().next();
    let line = label.as_ref().map(|l| {
        let start = (l.span().0.start as usize).min(code.len());
        code[..start].iter().filter(|&&b| b == b'\n').count() + 1
    });
    let reason = match label.map(|l| l.text().to_string()) {
        Some(text) if !text.is_empty() && text != title => format!("{title}: {text}"),
        _ => title,
    };
    (line, crate::sanitize::for_terminal(&reason))
}

fn cache_key(sources: &[YaraSource]) -> String {
    let mut h = Sha256::new();
    h.update(CACHE_MAGIC);
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\0yara-x ");
    h.update(YARA_X_VERSION.as_bytes());
    h.update(b"\0relaxed-re\0");
    for e in EXTERNALS {
        h.update(e.as_bytes());
        h.update(b"\0");
    }
    for s in sources {
        h.update((s.origin.len() as u64).to_le_bytes());
        h.update(s.origin.as_bytes());
        h.update((s.code.len() as u64).to_le_bytes());
        h.update(&s.code);
    }
    hex::encode(h.finalize())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CacheMeta {
    issues: Vec<SigIssue>,
    rule_counts: Vec<usize>,
}

/// Layout: magic, u64 meta length, meta JSON, u64 rules length, SHA-256 of
/// the rules bytes, the serialized rules. The digest guards yara-x's
/// deserializer against a truncated or corrupted file.
fn write_cache(file: &Path, rules: &yara_x::Rules, meta: &CacheMeta) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    check_private(dir).map_err(std::io::Error::other)?;
    let bytes = rules.serialize().map_err(std::io::Error::other)?;
    let meta = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp{}",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("cache"),
        std::process::id()
    ));
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?
    };
    f.write_all(CACHE_MAGIC)?;
    f.write_all(&(meta.len() as u64).to_le_bytes())?;
    f.write_all(&meta)?;
    f.write_all(&(bytes.len() as u64).to_le_bytes())?;
    f.write_all(&Sha256::digest(&bytes))?;
    f.write_all(&bytes)?;
    drop(f);
    // Rename is atomic: a concurrent run sees the old file or the new one.
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

type Cached = (yara_x::Rules, CacheMeta);

/// Refuses a path that another user owns or could write: the cache holds
/// native code.
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "{} is owned by uid {}, not by the current user ({me})",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by group or others (mode {:o})",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

fn read_cache(file: &Path) -> Result<Option<Cached>, String> {
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    check_private(file.parent().unwrap_or(Path::new(".")))?;
    check_private(file)?;
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut data).map_err(|e| e.to_string())?;
    let bad = || "corrupt cache file".to_string();
    let rest = data.strip_prefix(CACHE_MAGIC.as_slice()).ok_or_else(bad)?;
    let (meta_len, rest) = split_u64(rest).ok_or_else(bad)?;
    let meta_len = usize::try_from(meta_len).map_err(|_| bad())?;
    if rest.len() < meta_len {
        return Err(bad());
    }
    let (meta, rest) = rest.split_at(meta_len);
    let meta: CacheMeta = serde_json::from_slice(meta).map_err(|_| bad())?;
    let (rules_len, rest) = split_u64(rest).ok_or_else(bad)?;
    if rest.len() < 32 || (rest.len() - 32) as u64 != rules_len {
        return Err(bad());
    }
    let (digest, bytes) = rest.split_at(32);
    if Sha256::digest(bytes).as_slice() != digest {
        return Err(bad());
    }
    let started = std::time::Instant::now();
    let rules = yara_x::Rules::deserialize(bytes).map_err(|e| e.to_string())?;
    tracing::info!(
        "deserialized {} bytes of compiled rules in {:.3}s",
        bytes.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(Some((rules, meta)))
}

fn split_u64(b: &[u8]) -> Option<(u64, &[u8])> {
    let (n, rest) = b.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*n), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(i: u32, code: &str) -> YaraSource {
        YaraSource {
            id: SourceId(i),
            origin: format!("r{i}.yar"),
            code: code.as_bytes().to_vec(),
        }
    }

    #[test]
    fn yara_x_version_matches_lockfile() {
        let lock = include_str!("../../../../Cargo.lock");
        let want = format!("name = \"yara-x\"\nversion = \"{YARA_X_VERSION}\"");
        assert!(
            lock.contains(&want),
            "YARA_X_VERSION is stale: update it with the yara-x pin"
        );
    }

    #[test]
    fn bad_file_is_reported_with_line_and_others_load() {
        let sources = [
            src(0, "rule good { condition: true }"),
            src(
                1,
                "rule ok2 { condition: filesize > 0 }\n\nrule broken {\n condition: nosuchthing\n}",
            ),
            src(
                2,
                "rule uses_externals { condition: filename == \"x\" and filepath != \"\" and extension == \"\" and filetype == \"\" and owner == \"\" }",
            ),
        ];
        let mut issues = Vec::new();
        let rules = compile(&sources, None, &mut issues).unwrap();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].file, "r1.yar");
        assert_eq!(issues[0].line, Some(4));
        assert!(
            issues[0].message.contains("nosuchthing") || issues[0].message.contains("unknown"),
            "{}",
            issues[0].message
        );
        assert_eq!(rules.rule_counts[0], 1);
        assert_eq!(rules.rule_counts[2], 1);
        assert_eq!(rules.source_of("n2"), Some(SourceId(2)));
    }

    #[test]
    fn cache_round_trip_and_invalidation() {
        let dir = tempfile::tempdir().unwrap();
        let sources = [
            src(0, "rule a { condition: true }"),
            src(1, "rule b { condition: syntax error"),
        ];
        let mut issues = Vec::new();
        let first = compile(&sources, Some(dir.path()), &mut issues).unwrap();
        assert!(!first.from_cache);
        let mut issues2 = Vec::new();
        let second = compile(&sources, Some(dir.path()), &mut issues2).unwrap();
        assert!(second.from_cache);
        assert_eq!(issues, issues2, "cached issues are replayed");
        // A change in any source is a different key.
        let changed = [
            src(0, "rule a { condition: false }"),
            src(1, "rule b { condition: true }"),
        ];
        let third = compile(&changed, Some(dir.path()), &mut Vec::new()).unwrap();
        assert!(!third.from_cache);
    }

    #[test]
    fn cache_writable_by_others_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let sources = [src(0, "rule a { condition: true }")];
        compile(&sources, Some(&cache), &mut Vec::new()).unwrap();
        assert_eq!(
            std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let file = std::fs::read_dir(&cache)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            compile(&sources, Some(&cache), &mut Vec::new())
                .unwrap()
                .from_cache
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(
            !compile(&sources, Some(&cache), &mut Vec::new())
                .unwrap()
                .from_cache,
            "world-writable file refused"
        );
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut issues = Vec::new();
        let rules = compile(&sources, Some(&cache), &mut issues).unwrap();
        assert!(!rules.from_cache, "world-writable directory refused");
        assert!(
            issues.is_empty(),
            "a refused cache is a warning, not a signature issue"
        );
    }

    #[test]
    fn corrupt_cache_is_ignored_and_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let sources = [src(0, "rule a { condition: true }")];
        compile(&sources, Some(dir.path()), &mut Vec::new()).unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut data = std::fs::read(&file).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        std::fs::write(&file, &data).unwrap();
        let again = compile(&sources, Some(dir.path()), &mut Vec::new()).unwrap();
        assert!(!again.from_cache);
        std::fs::write(&file, b"short").unwrap();
        assert!(
            !compile(&sources, Some(dir.path()), &mut Vec::new())
                .unwrap()
                .from_cache
        );
    }
}
