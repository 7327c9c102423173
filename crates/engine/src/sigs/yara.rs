//! YARA rules through yara-x, compiled once, cached on disk.
//!
//! Each rule file gets its own namespace, so two public feeds that reuse a
//! rule name both load. Compilation is tolerant, rule by rule: yara-x skips
//! a rule that fails (restoring its state to before the rule) and keeps the
//! others, and its parser recovers after a syntax error at the next rule.
//! Each skipped rule becomes one issue naming file, line, rule and reason
//! (`--strict` makes any of them fatal upstream); yara-x's own parser gives
//! the outline of a file (where each rule starts, which ones hold a syntax
//! error) to name the rule an error belongs to.
//!
//! Public sets were written for libyara, so the compiler is set up to mean
//! what their authors meant: relaxed regular-expression syntax (`\R`,
//! `{,n}`, unescaped `{`), the externals Loki and THOR define, rules using a
//! module yara-x does not have (`androguard`, `magic` here) skipped as
//! unsupported rather than failing their file, invalid UTF-8 (Latin-1 in
//! comments and strings) escaped as `\xHH`, which is what libyara reads
//! there. `include` is never followed by yara-x: the loader blanks include
//! statements out and loads each included file as a signature file of its
//! own (see [`prepare`]), so no rule file makes us read a device, a FIFO or
//! a non-rule file.
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
use rustc_hash::FxHashSet;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

#[cfg(unix)]
mod cache_unix;
mod depth;
#[cfg(unix)]
use cache_unix as cache_os;
#[cfg(windows)]
mod cache_windows;
#[cfg(windows)]
use cache_windows as cache_os;
mod gate;
mod split;
pub use depth::{MAX_NESTING, too_deep};
pub use split::SplitRule;

/// The yara-x version compiled in; part of the cache key. Pinned with `=`
/// in Cargo.toml; a unit test checks it against Cargo.lock.
pub const YARA_X_VERSION: &str = "1.22.1";

/// Externals defined for every scanned file, as Loki and THOR define them,
/// so that rule sets written for those tools compile and mean the same.
pub const EXTERNALS: [&str; 5] = ["filename", "filepath", "extension", "filetype", "owner"];

/// Format tag of cache files; bump when the layout below or the way
/// sources are compiled changes.
const CACHE_MAGIC: &[u8; 16] = b"takedown-yarac/5";

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
    /// By namespace index: true when the file's rules may read more than
    /// content (see [`reads_more_than_content`]).
    pub reads_path: Vec<bool>,
    /// By namespace index: true when rules of the file were compiled with
    /// copies of rules of other files (see [`CrossFile`]).
    pub borrowed: Vec<bool>,
    /// The rules to run on a copy of content already scanned, when
    /// [`YaraRules::prepare_copies`] built them.
    pub copies: Option<CopyRules>,
    /// The set without the rules that need content beginning with `MZ`,
    /// for content that does not (see [`gate`]), when
    /// [`YaraRules::prepare_without_mz`] built it and some rule needs `MZ`.
    pub without_mz: Option<yara_x::Rules>,
}

impl YaraRules {
    /// The source a namespace name belongs to.
    pub fn source_of(&self, namespace: &str) -> Option<SourceId> {
        namespace_index(namespace).and_then(|i| self.namespaces.get(i).copied())
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
    let cache_file = cache_os::cache_file(cache_dir, format!("yara-{key}.bin"));
    if let Some(file) = &cache_file {
        match read_cache(file) {
            Ok(Some((rules, meta)))
                if meta.reads_path.len() == sources.len()
                    && meta.borrowed.len() == sources.len() =>
            {
                issues.extend(meta.issues);
                return Some(YaraRules {
                    rules,
                    namespaces: sources.iter().map(|s| s.id).collect(),
                    rule_counts: meta.rule_counts,
                    from_cache: true,
                    reads_path: meta.reads_path,
                    borrowed: meta.borrowed,
                    copies: None,
                    without_mz: None,
                });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("ignoring the compiled-rules cache {}: {e}", file.display()),
        }
    }
    let built = build(sources, None);
    if let Some(file) = &cache_file {
        let meta = CacheMeta {
            issues: built.issues.clone(),
            rule_counts: built.rule_counts.clone(),
            reads_path: built.reads_path.clone(),
            borrowed: built.borrowed.clone(),
            whole: Vec::new(),
            splits: Vec::new(),
            left_out: Vec::new(),
        };
        if let Err(e) = write_cache(file, &built.rules, &meta) {
            tracing::warn!(
                "could not write the compiled-rules cache {}: {e}",
                file.display()
            );
        }
    }
    issues.extend(built.issues);
    Some(YaraRules {
        rules: built.rules,
        namespaces: sources.iter().map(|s| s.id).collect(),
        rule_counts: built.rule_counts,
        from_cache: false,
        reads_path: built.reads_path,
        borrowed: built.borrowed,
        copies: None,
        without_mz: None,
    })
}

/// What one compilation produced.
struct Built {
    rules: yara_x::Rules,
    issues: Vec<SigIssue>,
    rule_counts: Vec<usize>,
    reads_path: Vec<bool>,
    borrowed: Vec<bool>,
    /// With `only`: the marked files compiled whole (not cut down).
    whole: Vec<bool>,
}

/// For the rules of copies: which sources, the text to compile instead of
/// a source (its part for copies, see [`path_part`]; `None`: the whole
/// source), and the boolean externals to define.
struct Only<'a> {
    mask: &'a [bool],
    texts: &'a [Option<String>],
    globals: &'a [String],
}

/// Compiles every source or, with `only`, the sources it marks, each still
/// in namespace `n{index}`; a marked source is compiled from the text
/// `only` gives for it, or else whole and still able to borrow rules of
/// every other source, so that its rules compile exactly as in the whole
/// set.
fn build(sources: &[YaraSource], only: Option<Only<'_>>) -> Built {
    let wanted = |i: usize| {
        only.as_ref()
            .is_none_or(|o| o.mask.get(i).copied().unwrap_or(false))
    };
    let mut compiler = new_compiler();
    for g in only.as_ref().map(|o| o.globals).unwrap_or_default() {
        // A name clash fails the compilation of the rules using it, which
        // the caller's checks then refuse.
        let _ = compiler.define_global(g, false);
    }
    let mut new_issues = Vec::new();
    let mut rule_counts = vec![0usize; sources.len()];
    let mut reads_path: Vec<bool> = sources
        .iter()
        .map(|s| reads_more_than_content(&s.code))
        .collect();
    let mut borrowed = vec![false; sources.len()];
    let mut whole: Vec<bool> = (0..sources.len()).map(wanted).collect();
    let mut unresolved = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        if !wanted(i) {
            continue;
        }
        compiler.new_namespace(&format!("n{i}"));
        for module in unknown_imports(&src.code) {
            compiler.ignore_module(module);
        }
        if let Some(text) = only
            .as_ref()
            .and_then(|o| o.texts.get(i))
            .and_then(Option::as_ref)
        {
            let _ = compiler.add_source(text.as_str());
            whole[i] = false;
            continue;
        }
        let errors_before = compiler.errors().len();
        let ignored_before = compiler.ignored_rules().len();
        let code = yara_x::SourceCode::from(src.code.as_slice()).with_origin(src.origin.as_str());
        // The error returned is the first of those in `errors()`.
        let _ = compiler.add_source(code);
        let errors = &compiler.errors()[errors_before..];
        let ignored: Vec<_> = compiler.ignored_rules().skip(ignored_before).collect();
        if !errors.is_empty() || !ignored.is_empty() {
            let found = explain(src, errors, &ignored, &mut new_issues);
            if !found.is_empty() {
                unresolved.push((i, found));
            }
        }
    }
    let mut helpers = vec![0usize; sources.len()];
    if !unresolved.is_empty() {
        let mut cross = CrossFile::new(sources);
        for (i, found) in unresolved {
            let loaded = cross.retry(
                &mut compiler,
                i,
                &found,
                &mut helpers[i],
                (&mut reads_path[i], &mut borrowed[i]),
            );
            for f in found.iter().filter(|f| loaded.contains(&f.rule)) {
                new_issues[f.issue].message.clear();
            }
        }
        new_issues.retain(|issue| !issue.message.is_empty());
    }
    let rules = compiler.build();
    for rule in rules.iter() {
        if let Some(c) = namespace_index(rule.namespace()).and_then(|i| rule_counts.get_mut(i)) {
            *c += 1;
        }
    }
    for (c, h) in rule_counts.iter_mut().zip(helpers) {
        *c = c.saturating_sub(h);
    }
    Built {
        rules,
        issues: new_issues,
        rule_counts,
        reads_path,
        borrowed,
        whole,
    }
}

/// The rules of a rule file whose results may depend on more than content,
/// with what they need to compile, as source text: its imports, then, in
/// file order, the rules that read a path external, the rules using those
/// (by name, through any number of steps), and the rules any of these use.
/// `None` when the file must be taken whole: it has a global rule (which
/// gates every rule of the file), imports `time`, has a syntax error, or
/// the part does not compile on its own to exactly the rules chosen.
/// With the part, the names of its rules that read more than content
/// (those pulled in only because they are used are not named).
fn path_part(code: &[u8]) -> Option<(String, Vec<String>)> {
    use std::collections::HashMap;
    use std::sync::LazyLock;
    static GLOBAL: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^(?:private\s+)?global\b").expect("valid regex"));
    static IDENT: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").expect("valid regex"));
    let text = std::str::from_utf8(code).ok()?;
    let outline = Outline::of(text);
    if outline.rules.iter().any(|r| r.has_error) {
        return None;
    }
    let bodies: Vec<&str> = outline
        .rules
        .iter()
        .map(|r| text.get(r.start..r.end).unwrap_or_default())
        .collect();
    if bodies.iter().any(|b| GLOBAL.is_match(b))
        || outline
            .imports
            .iter()
            .any(|&(s, e)| reads_more_than_content(text.get(s..e).unwrap_or_default().as_bytes()))
    {
        return None;
    }
    let index: HashMap<&str, usize> = outline
        .rules
        .iter()
        .enumerate()
        .map(|(k, r)| (r.name.as_str(), k))
        .collect();
    // Only a condition can name an external or a rule (patterns and
    // metadata are literals): reading only conditions spares the rules
    // that merely carry such a word in a string, which are many.
    let conditions: Vec<&str> = outline
        .rules
        .iter()
        .map(|r| {
            text.get(r.condition_kw.unwrap_or(r.start)..r.end)
                .unwrap_or_default()
        })
        .collect();
    // uses[k]: the rules rule k names.
    let uses: Vec<Vec<usize>> = conditions
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let mut u: Vec<usize> = IDENT
                .find_iter(b)
                .filter_map(|m| index.get(m.as_str()).copied())
                .filter(|&j| j != k)
                .collect();
            u.sort_unstable();
            u.dedup();
            u
        })
        .collect();
    let mut rerun: Vec<bool> = conditions
        .iter()
        .map(|c| reads_more_than_content(c.as_bytes()))
        .collect();
    // Upwards: a rule using one that reads a path reads it too.
    loop {
        let mut changed = false;
        for k in 0..rerun.len() {
            if !rerun[k] && uses[k].iter().any(|&j| rerun[j]) {
                rerun[k] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // Downwards: what they use must be there to compile.
    let mut keep = rerun.clone();
    let mut stack: Vec<usize> = (0..keep.len()).filter(|&k| keep[k]).collect();
    while let Some(k) = stack.pop() {
        for &j in &uses[k] {
            if !keep[j] {
                keep[j] = true;
                stack.push(j);
            }
        }
    }
    let mut part: Vec<&str> = outline
        .imports
        .iter()
        .map(|&(s, e)| text.get(s..e).unwrap_or_default())
        .collect();
    part.extend(
        bodies
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(b, _)| *b),
    );
    let part = part.join("\n");
    // The part must compile alone, free of skipped rules, to exactly the
    // rules kept.
    let mut trial = new_compiler();
    for module in unknown_imports(part.as_bytes()) {
        trial.ignore_module(module);
    }
    if trial.add_source(part.as_str()).is_err()
        || !trial.errors().is_empty()
        || trial.ignored_rules().next().is_some()
    {
        return None;
    }
    // Accepted whole, so its rules are those the parser sees; building
    // them would only add machine-code generation, the costly part.
    let ast = yara_x_parser::ast::AST::from(part.as_str());
    let mut got: Vec<&str> = ast.rules().map(|r| r.identifier.name).collect();
    got.sort_unstable();
    let mut want: Vec<&str> = outline
        .rules
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(r, _)| r.name.as_str())
        .collect();
    want.sort_unstable();
    let reading: Vec<String> = outline
        .rules
        .iter()
        .zip(&rerun)
        .filter(|(_, r)| **r)
        .map(|(r, _)| r.name.clone())
        .collect();
    (got == want).then_some((part, reading))
}

/// The index `i` of namespace `n{i}`.
pub fn namespace_index(namespace: &str) -> Option<usize> {
    namespace.strip_prefix('n').and_then(|n| n.parse().ok())
}

/// True when rules in `code` may give different results for the same
/// content: they name a path external (`filename`, `filepath`,
/// `extension`, `owner`; `filetype` is taken from the content) or import
/// `time`. A plain word search, so a mention in a comment or a string
/// counts too: a false hit only costs speed, a miss would cost
/// correctness, and an identifier cannot be used without being written.
fn reads_more_than_content(code: &[u8]) -> bool {
    use std::sync::LazyLock;
    static WORDS: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r#"\b(?:filename|filepath|extension|owner)\b|\bimport\s*"time""#)
            .expect("valid regex")
    });
    WORDS.is_match(code)
}

/// The rules of a set that read more than content, compiled apart: a copy
/// of content already scanned in a run needs only these run again, with
/// its own path; every other rule gives what it gave the first copy (see
/// [`crate::copies`]). Where such a rule tests content and path side by
/// side, the content part is run once more on the second occurrence only
/// (see [`split`]).
pub struct CopyRules {
    /// For the second occurrence of some content: the rules reading more
    /// than content, with the private content rules of [`SplitRule`]s.
    pub rules: yara_x::Rules,
    /// For later occurrences: the same rules, the split ones reduced to
    /// their path part gated by an external; `None` when nothing split.
    pub lite: Option<yara_x::Rules>,
    /// The rules run on copies, as (namespace index, identifier): their
    /// results are never reused. Every other rule's are.
    pub rerun: FxHashSet<(usize, String)>,
    /// The split rules; the index of one is its number in
    /// [`crate::copies::Seen::content`].
    pub splits: Vec<SplitRule>,
    /// (namespace index, content rule) -> index in `splits`.
    pub content_rules: rustc_hash::FxHashMap<(usize, String), u32>,
    /// The results remembered so far.
    pub seen: crate::copies::Copies,
}

impl YaraRules {
    /// Builds (or loads from `cache_dir`) the [`CopyRules`] of this set,
    /// compiled from the same `sources`. Leaves `copies` empty, with a
    /// warning, if the rules do not come out exactly as in the whole set:
    /// reusing results is then not safe.
    pub fn prepare_copies(&mut self, sources: &[YaraSource], cache_dir: Option<&Path>) {
        self.copies = self.copy_rules(sources, cache_dir);
    }

    /// Builds what [`YaraRules::prepare`] asks for, the two sets side by
    /// side (they are independent, and each takes a second or two to
    /// compile when not cached).
    pub fn prepare(&mut self, sources: &[YaraSource], cache_dir: Option<&Path>, copies: bool) {
        let (without_mz, copy_rules) = std::thread::scope(|scope| {
            let copy_rules = copies.then(|| scope.spawn(|| self.copy_rules(sources, cache_dir)));
            let without_mz = self.without_mz_rules(sources, cache_dir);
            let copy_rules =
                copy_rules.and_then(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            (without_mz, copy_rules)
        });
        self.without_mz = without_mz;
        self.copies = copy_rules;
    }

    fn copy_rules(&self, sources: &[YaraSource], cache_dir: Option<&Path>) -> Option<CopyRules> {
        let mask = self.reads_path.clone();
        if mask.len() != sources.len() || self.borrowed.len() != sources.len() {
            return None;
        }
        let key = cache_key(sources);
        let cache_file = cache_os::cache_file(cache_dir, format!("yara-{key}-copies.bin"));
        let lite_file = cache_os::cache_file(cache_dir, format!("yara-{key}-lite.bin"));
        let load = |file: &Option<PathBuf>| match file.as_deref().map(read_cache) {
            Some(Ok(Some((r, meta)))) if meta.whole.len() == sources.len() => Some((r, meta)),
            Some(Err(e)) => {
                tracing::warn!(
                    "ignoring the compiled-rules cache {}: {e}",
                    file.as_deref().unwrap_or(Path::new("")).display()
                );
                None
            }
            _ => None,
        };
        let mut cached = load(&cache_file).map(|(rules, meta)| (rules, meta.whole, meta.splits));
        let mut lite = None;
        if let Some((_, _, splits)) = &cached
            && !splits.is_empty()
        {
            lite = load(&lite_file).map(|(r, meta)| (r, meta.whole));
            if lite.is_none() {
                cached = None;
            }
        }
        let (rules, whole, splits) = match cached {
            Some(c) => c,
            None => {
                let (copy, lite_built, splits) = self.build_copies(sources, &mask);
                let write = |file: &Option<PathBuf>, built: &Built, splits: Vec<SplitRule>| {
                    let Some(file) = file else { return };
                    let meta = CacheMeta {
                        issues: Vec::new(),
                        rule_counts: built.rule_counts.clone(),
                        reads_path: mask.clone(),
                        borrowed: Vec::new(),
                        whole: built.whole.clone(),
                        splits,
                        left_out: Vec::new(),
                    };
                    if let Err(e) = write_cache(file, &built.rules, &meta) {
                        tracing::warn!(
                            "could not write the compiled-rules cache {}: {e}",
                            file.display()
                        );
                    }
                };
                if let Some(l) = &lite_built {
                    write(&lite_file, l, Vec::new());
                }
                write(&cache_file, &copy, splits.clone());
                lite = lite_built.map(|l| (l.rules, l.whole));
                (copy.rules, copy.whole, splits)
            }
        };
        match check_copies(&self.rules, &rules, lite.as_ref(), &mask, &whole, &splits) {
            Ok((rerun, content_rules)) => {
                tracing::info!(
                    "{} YARA rules in {} files read more than content, {} of them split; copies are scanned with those alone",
                    rerun.len(),
                    mask.iter().filter(|m| **m).count(),
                    splits.len(),
                );
                Some(CopyRules {
                    rules,
                    lite: lite.map(|(l, _)| l),
                    rerun,
                    splits,
                    content_rules,
                    seen: Default::default(),
                })
            }
            Err(why) => {
                tracing::warn!(
                    "copies of content will be scanned with every rule: the rules that read paths did not compile apart as in the whole set ({why})"
                );
                None
            }
        }
    }

    /// Compiles the copy rules of the files `mask` marks and, when some
    /// rule splits, their lite form.
    fn build_copies(
        &self,
        sources: &[YaraSource],
        mask: &[bool],
    ) -> (Built, Option<Built>, Vec<SplitRule>) {
        // Each file is cut and trial-compiled on its own, which is most of
        // the cold start-up these sets add: the files are shared out among
        // the cores. The externals are named per file, so the results do
        // not depend on the order the work is done in.
        let todo: Vec<usize> = (0..sources.len())
            // A file that borrowed rules of other files is compiled whole,
            // borrowing again, as in the whole set.
            .filter(|&i| mask[i] && !self.borrowed[i])
            .collect();
        let cut = |i: usize| {
            let (part, reading) = path_part(&sources[i].code)?;
            Some(match split::split(&part, &reading, i) {
                Some(s) => (s.copy, s.lite, s.rules),
                None => (part.clone(), part, Vec::new()),
            })
        };
        let done = par_map(&todo, cut);
        let mut copy_texts: Vec<Option<String>> = vec![None; sources.len()];
        let mut lite_texts: Vec<Option<String>> = vec![None; sources.len()];
        let mut splits = Vec::new();
        for (i, texts) in done {
            if let Some((copy, lite, rules)) = texts {
                copy_texts[i] = Some(copy);
                lite_texts[i] = Some(lite);
                splits.extend(rules);
            }
        }
        // The two sets are independent: compiling them side by side halves
        // the cold start-up they add on two cores.
        let globals: Vec<String> = splits.iter().map(|s| s.global.clone()).collect();
        let (copy, lite) = std::thread::scope(|scope| {
            let lite = (!splits.is_empty()).then(|| {
                scope.spawn(|| {
                    build(
                        sources,
                        Some(Only {
                            mask,
                            texts: &lite_texts,
                            globals: &globals,
                        }),
                    )
                })
            });
            let copy = build(
                sources,
                Some(Only {
                    mask,
                    texts: &copy_texts,
                    globals: &[],
                }),
            );
            // A panic in the compiler is not caught here either when the
            // copy set is built on this thread: pass it on.
            let lite = lite.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            (copy, lite)
        });
        (copy, lite, splits)
    }
}

/// `f` of each of `items`, shared out among the cores, in the order of
/// `items`.
fn par_map<T: Send>(items: &[usize], f: impl Fn(usize) -> T + Sync) -> Vec<(usize, T)> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len())
        .max(1);
    let taken = std::sync::atomic::AtomicUsize::new(0);
    let mut done = std::thread::scope(|scope| {
        let work = || {
            let mut out = Vec::new();
            loop {
                let k = taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = items.get(k) else { break out };
                out.push((k, i, f(i)));
            }
        };
        let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for h in helpers {
            all.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        all
    });
    done.sort_unstable_by_key(|(k, ..)| *k);
    done.into_iter().map(|(_, i, t)| (i, t)).collect()
}

impl YaraRules {
    /// The set without the rules that need content beginning with `MZ`
    /// (see [`gate`]), built or loaded from `cache_dir`, and checked
    /// against the whole set; `None` when no rule needs `MZ` or the check
    /// fails (then with a warning: all content gets the whole set).
    fn without_mz_rules(
        &self,
        sources: &[YaraSource],
        cache_dir: Option<&Path>,
    ) -> Option<yara_x::Rules> {
        if self.borrowed.len() != sources.len() {
            return None;
        }
        let key = cache_key(sources);
        let file = cache_os::cache_file(cache_dir, format!("yara-{key}-nomz.bin"));
        let cached = match file.as_deref().map(read_cache) {
            Some(Ok(Some((rules, meta)))) if meta.whole.len() == sources.len() => {
                Some((rules, meta.whole, meta.left_out))
            }
            Some(Err(e)) => {
                tracing::warn!(
                    "ignoring the compiled-rules cache {}: {e}",
                    file.as_deref().unwrap_or(Path::new("")).display()
                );
                None
            }
            _ => None,
        };
        let (rules, whole, left_out) = match cached {
            Some(c) => c,
            None => {
                let (built, left_out) = self.build_without_mz(sources);
                if let Some(file) = &file {
                    let meta = CacheMeta {
                        issues: Vec::new(),
                        rule_counts: built.rule_counts.clone(),
                        reads_path: Vec::new(),
                        borrowed: Vec::new(),
                        whole: built.whole.clone(),
                        splits: Vec::new(),
                        left_out: left_out.clone(),
                    };
                    // Written even when no rule needs MZ, so that the next
                    // start need not read every file again to know it.
                    if let Err(e) = write_cache(file, &built.rules, &meta) {
                        tracing::warn!(
                            "could not write the compiled-rules cache {}: {e}",
                            file.display()
                        );
                    }
                }
                (built.rules, built.whole, left_out)
            }
        };
        if left_out.is_empty() {
            return None;
        }
        let wrong = mz_mismatch(&self.rules, &rules, &whole, &left_out);
        if !wrong.is_empty() {
            tracing::warn!(
                "all content will be scanned with every YARA rule: the set without the rules needing MZ differs from the whole set in {} files",
                wrong.len()
            );
            return None;
        }
        tracing::info!(
            "{} YARA rules need content beginning with MZ; other content is scanned without them",
            left_out.len()
        );
        Some(rules)
    }

    /// Compiles the set without the rules needing `MZ`, with those rules as
    /// (namespace index, identifier). A file whose part does not compile to
    /// the rules expected is compiled whole in a second build.
    fn build_without_mz(&self, sources: &[YaraSource]) -> (Built, Vec<(usize, String)>) {
        let todo: Vec<usize> = (0..sources.len())
            // As in the whole set, a file that borrowed rules of other
            // files is compiled whole, borrowing again.
            .filter(|&i| !self.borrowed[i])
            .collect();
        let mut texts: Vec<Option<String>> = vec![None; sources.len()];
        let mut left_out = Vec::new();
        for (i, part) in par_map(&todo, |i| gate::without_mz(&sources[i].code)) {
            if let Some((text, names)) = part {
                texts[i] = Some(text);
                left_out.extend(names.into_iter().map(|n| (i, n)));
            }
        }
        let mask = vec![true; sources.len()];
        let compile = |texts: &[Option<String>]| {
            build(
                sources,
                Some(Only {
                    mask: &mask,
                    texts,
                    globals: &[],
                }),
            )
        };
        if left_out.is_empty() {
            // Nothing to build; an empty set records that in the cache.
            let empty = Built {
                rules: new_compiler().build(),
                issues: Vec::new(),
                rule_counts: Vec::new(),
                reads_path: Vec::new(),
                borrowed: Vec::new(),
                whole: vec![true; sources.len()],
            };
            return (empty, left_out);
        }
        let built = compile(&texts);
        let wrong = mz_mismatch(&self.rules, &built.rules, &built.whole, &left_out);
        if wrong.is_empty() {
            return (built, left_out);
        }
        for &i in &wrong {
            if let Some(t) = texts.get_mut(i) {
                *t = None;
            }
        }
        left_out.retain(|(i, _)| !wrong.contains(i));
        (compile(&texts), left_out)
    }
}

/// The namespaces in which `part` does not hold exactly the rules of the
/// whole set short of those `left_out`, in the same order, with the same
/// flags, tags and metadata (`usize::MAX` for rules of no namespace). A
/// namespace compiled `whole` must have left nothing out.
fn mz_mismatch(
    whole_set: &yara_x::Rules,
    part: &yara_x::Rules,
    whole: &[bool],
    left_out: &[(usize, String)],
) -> Vec<usize> {
    use std::collections::BTreeMap;
    let out: FxHashSet<(usize, &str)> = left_out.iter().map(|(i, n)| (*i, n.as_str())).collect();
    let list = |rules: &yara_x::Rules, skip: bool| {
        let mut by_ns: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
        for rule in rules.iter() {
            let i = namespace_index(rule.namespace()).unwrap_or(usize::MAX);
            if skip && out.contains(&(i, rule.identifier())) {
                continue;
            }
            by_ns
                .entry(i)
                .or_default()
                .push((rule.identifier().to_string(), rule_face(&rule)));
        }
        by_ns
    };
    let (w, p) = (list(whole_set, true), list(part, false));
    let mut wrong: Vec<usize> = w
        .keys()
        .chain(p.keys())
        .copied()
        .filter(|i| w.get(i) != p.get(i))
        .collect();
    wrong.extend(
        left_out
            .iter()
            .map(|(i, _)| *i)
            .filter(|&i| whole.get(i).copied().unwrap_or(true)),
    );
    // Every rule left out must be one of the whole set.
    let all: FxHashSet<(usize, &str)> = whole_set
        .iter()
        .filter_map(|r| Some((namespace_index(r.namespace())?, r.identifier())))
        .collect();
    wrong.extend(out.iter().filter(|k| !all.contains(*k)).map(|(i, _)| *i));
    wrong.sort_unstable();
    wrong.dedup();
    wrong
}

/// Checks the rules for copies against the whole set and returns the rules
/// run on copies, and the content rules by index in `splits`. The copy set
/// must hold, besides the content rules, only rules of the whole set, in
/// files `mask` marks, with the same metadata and tags; a file compiled
/// `whole` must hold exactly its rules in the whole set, in the same order.
/// The lite set, when there is one, must hold the same, short of content
/// rules and of rules only those used, and every split rule.
type Checked = (
    FxHashSet<(usize, String)>,
    rustc_hash::FxHashMap<(usize, String), u32>,
);
fn check_copies(
    whole_set: &yara_x::Rules,
    copy: &yara_x::Rules,
    lite: Option<&(yara_x::Rules, Vec<bool>)>,
    mask: &[bool],
    whole: &[bool],
    splits: &[SplitRule],
) -> Result<Checked, String> {
    let content_rules: rustc_hash::FxHashMap<(usize, String), u32> = splits
        .iter()
        .enumerate()
        .map(|(k, s)| ((s.ns, s.content_rule.clone()), k as u32))
        .collect();
    if content_rules.len() != splits.len() {
        return Err("content rules named twice".into());
    }
    let copy_rerun = rerun_set(whole_set, copy, mask, whole, &content_rules)?;
    let in_copy: FxHashSet<(usize, String)> = copy
        .iter()
        .filter(|r| r.is_private())
        .filter_map(|r| Some((namespace_index(r.namespace())?, r.identifier().to_string())))
        .collect();
    if let Some(missing) = content_rules.keys().find(|k| !in_copy.contains(*k)) {
        return Err(format!(
            "content rule {} of n{} is missing",
            missing.1, missing.0
        ));
    }
    let Some((lite, lite_whole)) = lite else {
        if !splits.is_empty() {
            return Err("rules were split but their lite form is missing".into());
        }
        return Ok((copy_rerun, content_rules));
    };
    if lite_whole.as_slice() != whole {
        return Err("the copy and lite forms differ in the files taken whole".into());
    }
    let rerun = rerun_set(whole_set, lite, mask, whole, &Default::default())?;
    if let Some(extra) = rerun.iter().find(|r| !copy_rerun.contains(*r)) {
        return Err(format!(
            "lite rule {} of n{} is not a copy rule",
            extra.1, extra.0
        ));
    }
    if let Some(s) = splits
        .iter()
        .find(|s| !rerun.contains(&(s.ns, s.rule.clone())))
    {
        return Err(format!("split rule {} of n{} is missing", s.rule, s.ns));
    }
    Ok((rerun, content_rules))
}

/// What a detection reports of a rule beside its name: flags, tags and
/// metadata.
fn rule_face(rule: &yara_x::Rule<'_, '_>) -> String {
    let tags: Vec<&str> = rule.tags().map(|t| t.identifier()).collect();
    let meta: Vec<String> = rule.metadata().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}|{tags:?}|{meta:?}", rule.is_private())
}

/// Checks the rules `part` compiled for copies against the whole set and
/// returns them as (namespace index, identifier), leaving out those in
/// `extra` (rules of their own, not of the whole set): each must be a rule
/// of the whole set in a namespace `mask` marks, with the same flags, tags
/// and metadata, and a namespace taken `whole` must hold exactly the rules
/// it holds in the whole set, in the same order.
fn rerun_set(
    whole_set: &yara_x::Rules,
    part: &yara_x::Rules,
    mask: &[bool],
    whole: &[bool],
    extra: &rustc_hash::FxHashMap<(usize, String), u32>,
) -> Result<FxHashSet<(usize, String)>, String> {
    let marked = |i: usize| mask.get(i).copied().unwrap_or(false);
    let list = |rules: &yara_x::Rules, skip_extra: bool| {
        let mut by_ns: std::collections::BTreeMap<usize, Vec<(String, String)>> =
            Default::default();
        for rule in rules.iter() {
            if let Some(i) = namespace_index(rule.namespace()).filter(|&i| marked(i)) {
                let id = rule.identifier().to_string();
                if skip_extra && extra.contains_key(&(i, id.clone())) {
                    continue;
                }
                by_ns.entry(i).or_default().push((id, rule_face(&rule)));
            }
        }
        by_ns
    };
    let outside = part
        .iter()
        .filter(|r| !namespace_index(r.namespace()).is_some_and(marked))
        .count();
    if outside > 0 {
        return Err(format!("{outside} rules outside the marked files"));
    }
    let (w, p) = (list(whole_set, false), list(part, true));
    for (i, rules) in &p {
        let all = w.get(i).map(Vec::as_slice).unwrap_or_default();
        if whole.get(*i).copied().unwrap_or(true) {
            if all != rules.as_slice() {
                return Err(format!("namespace n{i} differs"));
            }
        } else if let Some((r, _)) = rules.iter().find(|r| !all.contains(r)) {
            return Err(format!("rule {r} of n{i} is not in the whole set as it is"));
        }
    }
    for (i, rules) in &w {
        if whole.get(*i).copied().unwrap_or(true) && p.get(i) != Some(rules) {
            return Err(format!("namespace n{i} is missing rules"));
        }
    }
    Ok(p.into_iter()
        .flat_map(|(i, rules)| rules.into_iter().map(move |(r, _)| (i, r)))
        .collect())
}

/// Turns a yara-x error into a line number (1-based, in the failing source)
/// and a one-line reason.
fn describe(err: &yara_x::errors::CompileError, code: &[u8]) -> (Option<usize>, String) {
    let title = err.title().to_string();
    let label = err.labels().next();
    let line = label
        .as_ref()
        .map(|l| line_at(code, l.span().0.start as usize));
    let reason = match label.map(|l| l.text().to_string()) {
        Some(text) if !text.is_empty() && text != title => format!("{title}: {text}"),
        _ => title,
    };
    (line, crate::sanitize::for_terminal(&reason))
}

/// Rules that use a rule of another file. libyara users compile a whole
/// set into one namespace (Loki does; Yara-Rules' `index.yar` does), so a
/// set may declare shared rules once (`is__elf` in a common file) and use
/// them everywhere; with one namespace per file those uses fail. Such a
/// rule is compiled again, in a fresh namespace of its own file, after
/// private copies of the rules it uses (private: a copy never reports a
/// match of its own), found by name in the other files of the set.
struct CrossFile<'a> {
    sources: &'a [YaraSource],
    outlines: std::collections::HashMap<usize, Outline>,
}

/// Rounds of "add the rule still missing" before giving up: each round
/// follows one more level of rules using rules.
const CROSS_FILE_ROUNDS: usize = 8;

impl<'a> CrossFile<'a> {
    fn new(sources: &'a [YaraSource]) -> CrossFile<'a> {
        CrossFile {
            sources,
            outlines: std::collections::HashMap::new(),
        }
    }

    fn outline(&mut self, i: usize) -> &Outline {
        let code = &self.sources[i].code;
        self.outlines
            .entry(i)
            .or_insert_with(|| Outline::of(&String::from_utf8_lossy(code)))
    }

    fn text(&self, i: usize, start: usize, end: usize) -> &str {
        std::str::from_utf8(self.sources[i].code.get(start..end).unwrap_or_default())
            .unwrap_or_default()
    }

    /// The declaration of rule `name`, as private rule text, with its
    /// file's imports: from the other files first (in load order), then
    /// from `own`, the file being retried (its rules that compiled are not
    /// visible in the fresh namespace), never one of the rules retried.
    fn find(
        &mut self,
        name: &str,
        own: usize,
        retried: &[Unresolved],
    ) -> Option<(String, Vec<String>)> {
        if retried.iter().any(|r| r.rule == name) {
            return None;
        }
        let others = (0..self.sources.len()).filter(|&j| j != own);
        for j in others.chain(std::iter::once(own)) {
            if memchr::memmem::find(&self.sources[j].code, name.as_bytes()).is_none() {
                continue;
            }
            let outline = self.outline(j);
            let Some(decl) = outline
                .rules
                .iter()
                .find(|r| r.name == name && !r.has_error)
            else {
                continue;
            };
            let (start, end) = (decl.start, decl.end);
            let imports: Vec<(usize, usize)> = outline.imports.clone();
            let text = self.text(j, start, end);
            let text = if text.starts_with("rule") {
                format!("private {text}")
            } else {
                text.to_string()
            };
            let imports = imports
                .into_iter()
                .map(|(s, e)| self.text(j, s, e).to_string())
                .collect();
            return Some((text, imports));
        }
        None
    }

    /// Compiles the rules of source `i` listed in `found` again with copies
    /// of the rules they use; returns the names of those that now compiled,
    /// and adds the copies that compiled to `helpers`.
    fn retry(
        &mut self,
        compiler: &mut yara_x::Compiler<'_>,
        i: usize,
        found: &[Unresolved],
        helpers: &mut usize,
        (reads_path, borrowed): (&mut bool, &mut bool),
    ) -> Vec<String> {
        let outline = self.outline(i);
        let failed: Vec<(usize, usize)> = found
            .iter()
            .filter_map(|f| outline.rule(&f.rule))
            .map(|r| (r.start, r.end))
            .collect();
        let own_imports = outline.imports.clone();
        let mut imports: Vec<String> = own_imports
            .iter()
            .map(|&(s, e)| self.text(i, s, e).to_string())
            .collect();
        let rules: Vec<String> = failed
            .iter()
            .map(|&(s, e)| self.text(i, s, e).to_string())
            .collect();
        let mut copies: Vec<(String, String)> = Vec::new();
        let mut wanted: Vec<String> = found.iter().map(|f| f.identifier.clone()).collect();
        let compose = |imports: &[String], copies: &[(String, String)]| {
            let mut code = imports.join("\n");
            for (_, text) in copies {
                code.push('\n');
                code.push_str(text);
            }
            for text in &rules {
                code.push('\n');
                code.push_str(text);
            }
            code
        };
        // Find the rules needed in a throwaway compiler, so that the real
        // one gets one source, complete.
        for _ in 0..CROSS_FILE_ROUNDS {
            let mut added = false;
            for name in std::mem::take(&mut wanted) {
                if copies.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                if let Some((text, more)) = self.find(&name, i, found) {
                    imports.extend(more);
                    copies.push((name, text));
                    added = true;
                }
            }
            if !added {
                break;
            }
            imports.sort();
            imports.dedup();
            let mut trial = new_compiler();
            for module in unknown_imports(compose(&imports, &copies).as_bytes()) {
                trial.ignore_module(module);
            }
            let _ = trial.add_source(compose(&imports, &copies).as_str());
            wanted = trial
                .errors()
                .iter()
                .filter_map(|e| match e {
                    yara_x::errors::CompileError::UnknownIdentifier(u) => {
                        Some(u.identifier().to_string())
                    }
                    _ => None,
                })
                .collect();
            if wanted.is_empty() {
                break;
            }
        }
        if copies.is_empty() {
            return Vec::new();
        }
        let code = compose(&imports, &copies);
        // A copy from a file reading paths reads them here too.
        *reads_path |= reads_more_than_content(code.as_bytes());
        *borrowed = true;
        compiler.new_namespace(&format!("n{i}"));
        for module in unknown_imports(code.as_bytes()) {
            compiler.ignore_module(module);
        }
        let ignored_before = compiler.ignored_rules().len();
        let _ = compiler.add_source(code.as_str());
        let still: Vec<String> = compiler
            .ignored_rules()
            .skip(ignored_before)
            .map(|(name, _)| name.to_string())
            .collect();
        *helpers += copies.iter().filter(|(n, _)| !still.contains(n)).count();
        found
            .iter()
            .map(|f| f.rule.clone())
            .filter(|r| !still.contains(r))
            .collect()
    }
}

/// A compiler set up for public rule sets (see the module documentation).
fn new_compiler() -> yara_x::Compiler<'static> {
    let mut compiler = yara_x::Compiler::new();
    compiler
        .relaxed_re_syntax(true)
        .enable_includes(false)
        // Slow patterns and loops are warnings (the default, said here
        // because public sets have many); warnings are not collected at all:
        // nothing reads them and a large set produces thousands.
        .error_on_slow_pattern(false)
        .error_on_slow_loop(false)
        .switch_all_warnings(false);
    for name in EXTERNALS {
        compiler
            .define_global(name, "")
            .expect("fresh compiler accepts new globals");
    }
    compiler
}

/// Modules a source imports that this yara-x build does not have. A false
/// hit (an `import` in a comment) is harmless: ignoring a module nothing
/// uses changes nothing.
fn unknown_imports(code: &[u8]) -> Vec<String> {
    use std::sync::LazyLock;
    static IMPORT: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r#"\bimport\s*"([A-Za-z0-9_]{1,64})""#).expect("valid regex")
    });
    static KNOWN: LazyLock<std::collections::HashSet<&'static str>> =
        LazyLock::new(|| yara_x::mods::module_names().collect());
    if memchr::memmem::find(code, b"import").is_none() {
        return Vec::new();
    }
    let mut out: Vec<String> = IMPORT
        .captures_iter(code)
        .filter_map(|c| c.get(1))
        .filter_map(|m| std::str::from_utf8(m.as_bytes()).ok())
        .filter(|m| !KNOWN.contains(m))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Turns what yara-x reports for one source into issues: one per skipped
/// rule (naming it), one per problem outside any rule.
/// Returns the rules that failed only for naming an identifier declared
/// nowhere before them in their file (candidates for [`CrossFile`]), with
/// the index of their issue in `out`.
fn explain(
    src: &YaraSource,
    errors: &[yara_x::errors::CompileError],
    ignored: &[(&str, yara_x::IgnoredRuleReason<'_>)],
    out: &mut Vec<SigIssue>,
) -> Vec<Unresolved> {
    use yara_x::IgnoredRuleReason;
    use yara_x::errors::CompileError;
    let text = String::from_utf8_lossy(&src.code);
    let outline = Outline::of(&text);
    let line_of = |offset: usize| line_at(&src.code, offset);
    let issue = |line, rule: Option<&str>, message: String, unsupported| SigIssue {
        file: src.origin.clone(),
        line,
        rule: rule.map(str::to_string),
        message,
        unsupported,
        ..Default::default()
    };
    // Rules that a syntax error removed: the parser drops them whole.
    let mut skipped: Vec<&str> = outline
        .rules
        .iter()
        .filter(|r| r.has_error)
        .map(|r| r.name.as_str())
        .collect();
    let mut reported: Vec<&str> = Vec::new();
    let mut unresolved = Vec::new();
    let mut used = vec![false; errors.len()];
    for (name, reason) in ignored {
        let decl_line = outline.rule(name).map(|r| line_of(r.start));
        let new = match reason {
            IgnoredRuleReason::IgnoredModule(module) => issue(
                decl_line,
                Some(name),
                format!("uses module `{module}`, which yara-x does not have"),
                true,
            ),
            IgnoredRuleReason::IgnoredRule(dep) => issue(
                decl_line,
                Some(name),
                format!("depends on rule `{dep}`, which uses a module yara-x does not have"),
                true,
            ),
            IgnoredRuleReason::CompileError(err) => {
                if let Some(k) = errors.iter().position(|e| std::ptr::eq(e, *err)) {
                    used[k] = true;
                }
                let (line, reason) = describe(err, &src.code);
                match err {
                    CompileError::UnknownIdentifier(u) if skipped.contains(&u.identifier()) => {
                        // Retried too: the rule it uses may load on retry.
                        unresolved.push(Unresolved {
                            rule: name.to_string(),
                            identifier: u.identifier().to_string(),
                            issue: out.len(),
                        });
                        issue(
                            line,
                            Some(name),
                            format!("depends on rule `{}`, which was skipped", u.identifier()),
                            false,
                        )
                    }
                    CompileError::UnknownIdentifier(u) => {
                        unresolved.push(Unresolved {
                            rule: name.to_string(),
                            identifier: u.identifier().to_string(),
                            issue: out.len(),
                        });
                        issue(line, Some(name), reason, false)
                    }
                    _ => issue(line, Some(name), reason, false),
                }
            }
        };
        out.push(new);
        skipped.push(name);
        reported.push(name);
    }
    for (err, _) in errors.iter().zip(&used).filter(|(_, used)| !**used) {
        let (line, reason) = describe(err, &src.code);
        let offset = error_offset(err);
        let rule = match (err, offset) {
            (CompileError::SyntaxError(_), Some(at)) => outline.broken_rule_before(at),
            (_, Some(at)) => outline.rule_at(at),
            _ => None,
        };
        if let Some(rule) = rule {
            // One issue per rule: a second error in a rule already
            // reported adds nothing the user can act on.
            if reported.contains(&rule) {
                continue;
            }
            reported.push(rule);
        }
        out.push(issue(line, rule, reason, false));
    }
    unresolved
}

/// A rule that failed on an unknown identifier.
struct Unresolved {
    rule: String,
    identifier: String,
    /// Its issue, in the list of issues of this compilation.
    issue: usize,
}

fn error_offset(err: &yara_x::errors::CompileError) -> Option<usize> {
    err.labels().next().map(|l| l.span().0.start as usize)
}

/// 1-based line of a byte offset.
fn line_at(code: &[u8], offset: usize) -> usize {
    let end = offset.min(code.len());
    memchr::memchr_iter(b'\n', &code[..end]).count() + 1
}

/// The top-level items of a rule file, from yara-x's own parser.
#[derive(Debug, Default)]
struct Outline {
    rules: Vec<RuleDecl>,
    includes: Vec<IncludeStmt>,
    /// Byte ranges of the import statements.
    imports: Vec<(usize, usize)>,
}

#[derive(Debug)]
struct RuleDecl {
    name: String,
    /// Byte range of the declaration.
    start: usize,
    end: usize,
    /// The parser found a syntax error in it (and dropped it).
    has_error: bool,
    /// Offsets of its `strings` and `condition` keywords.
    strings_kw: Option<usize>,
    condition_kw: Option<usize>,
    /// Offset of its closing brace, when that is its last token.
    close_brace: Option<usize>,
}

#[derive(Debug)]
struct IncludeStmt {
    start: usize,
    end: usize,
    /// The file named, quotes removed.
    target: String,
}

impl Outline {
    fn of(text: &str) -> Outline {
        use yara_x_parser::cst::{Event, SyntaxKind};
        let mut outline = Outline::default();
        // Nesting depth: the source file is 1, top-level items 2.
        let mut depth = 0usize;
        let mut item: Option<(SyntaxKind, Option<usize>, usize, String)> = None;
        let mut item_error = false;
        let mut keywords: (Option<usize>, Option<usize>) = (None, None);
        let mut close_brace = None;
        // The parser is bounded (it runs on fuel) and recovers after errors.
        for event in yara_x_parser::Parser::new(text.as_bytes()) {
            match event {
                Event::Begin { kind, .. } => {
                    depth += 1;
                    if depth == 2 {
                        item = Some((kind, None, 0, String::new()));
                        item_error = false;
                        keywords = (None, None);
                        close_brace = None;
                    } else if kind == SyntaxKind::ERROR {
                        item_error = true;
                    }
                }
                Event::End { .. } => {
                    if depth == 2
                        && let Some((kind, Some(start), end, word)) = item.take()
                    {
                        match kind {
                            SyntaxKind::RULE_DECL => outline.rules.push(RuleDecl {
                                name: word,
                                start,
                                end,
                                has_error: item_error,
                                strings_kw: keywords.0,
                                condition_kw: keywords.1,
                                close_brace,
                            }),
                            SyntaxKind::INCLUDE_STMT => outline.includes.push(IncludeStmt {
                                start,
                                end,
                                target: word,
                            }),
                            SyntaxKind::IMPORT_STMT => outline.imports.push((start, end)),
                            _ => {}
                        }
                    }
                    depth = depth.saturating_sub(1);
                }
                Event::Token { kind, span } => {
                    if kind == SyntaxKind::ERROR {
                        item_error = true;
                    }
                    let Some((item_kind, start, end, word)) = item.as_mut() else {
                        continue;
                    };
                    if matches!(
                        kind,
                        SyntaxKind::WHITESPACE | SyntaxKind::NEWLINE | SyntaxKind::COMMENT
                    ) {
                        continue;
                    }
                    start.get_or_insert(span.start());
                    *end = span.end();
                    close_brace = (kind == SyntaxKind::R_BRACE).then(|| span.start());
                    match kind {
                        SyntaxKind::STRINGS_KW => {
                            keywords.0.get_or_insert(span.start());
                        }
                        SyntaxKind::CONDITION_KW => {
                            keywords.1.get_or_insert(span.start());
                        }
                        _ => {}
                    }
                    let token = text.get(span.range()).unwrap_or_default();
                    match (*item_kind, kind) {
                        (SyntaxKind::RULE_DECL, SyntaxKind::IDENT)
                            if depth == 2 && word.is_empty() =>
                        {
                            *word = token.to_string();
                        }
                        (SyntaxKind::INCLUDE_STMT, SyntaxKind::STRING_LIT) if word.is_empty() => {
                            *word = unquote(token);
                        }
                        _ => {}
                    }
                }
                // Errors are emitted after the item they belong to.
                Event::Error { .. } => match outline.rules.last_mut() {
                    Some(rule) if item.is_none() => rule.has_error = true,
                    _ => item_error = true,
                },
            }
        }
        outline
    }

    fn rule(&self, name: &str) -> Option<&RuleDecl> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The rule whose declaration holds `offset`.
    fn rule_at(&self, offset: usize) -> Option<&str> {
        self.rules
            .iter()
            .find(|r| r.start <= offset && offset < r.end)
            .map(|r| r.name.as_str())
    }

    /// The rule a syntax error at `offset` removed: the parser may notice
    /// the error only at the next rule's first token, so the last broken
    /// rule starting at or before `offset`.
    fn broken_rule_before(&self, offset: usize) -> Option<&str> {
        self.rules
            .iter()
            .rfind(|r| r.has_error && r.start <= offset)
            .map(|r| r.name.as_str())
    }
}

/// A string literal's text without its quotes, `\\"` and `\\\\` unescaped.
fn unquote(literal: &str) -> String {
    let inner = literal
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(literal);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An `include` statement found by [`prepare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// 1-based line of the statement.
    pub line: usize,
    /// The file it names, as written.
    pub target: String,
}

/// Readies a rule file's bytes for compilation: invalid UTF-8 is escaped as
/// `\xHH` (yara-x rejects a whole file that is not UTF-8; libyara reads the
/// raw byte, which `\xHH` means in a text string or regular expression, and
/// in a comment it means nothing), and `include` statements are blanked out
/// (spaces, newlines kept, so lines stay true) and returned, for the loader
/// to load the included files as files of their own.
pub fn prepare(code: Vec<u8>) -> (Vec<u8>, Vec<Include>) {
    let mut code = escape_invalid_utf8(code);
    if memchr::memmem::find(&code, b"include").is_none() {
        return (code, Vec::new());
    }
    let outline = match std::str::from_utf8(&code) {
        Ok(text) => Outline::of(text),
        Err(_) => return (code, Vec::new()),
    };
    let mut includes = Vec::new();
    for inc in &outline.includes {
        includes.push(Include {
            line: line_at(&code, inc.start),
            target: inc.target.clone(),
        });
        if let Some(bytes) = code.get_mut(inc.start..inc.end) {
            for b in bytes.iter_mut().filter(|b| **b != b'\n') {
                *b = b' ';
            }
        }
    }
    (code, includes)
}

fn escape_invalid_utf8(code: Vec<u8>) -> Vec<u8> {
    if std::str::from_utf8(&code).is_ok() {
        return code;
    }
    let mut out = Vec::with_capacity(code.len() + 64);
    let mut rest = code.as_slice();
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.extend_from_slice(valid.as_bytes());
                return out;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.extend_from_slice(valid);
                let bad = e.error_len().unwrap_or(after.len()).min(after.len());
                for b in &after[..bad] {
                    out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
                }
                rest = &after[bad..];
            }
        }
    }
}

/// Where an `include` of the rule file `from` leads: a `.yar`/`.yara`
/// regular file, named relative to the including file's directory (as
/// libyara resolves it), canonical. Anything else is refused with a reason.
pub fn resolve_include(from: &Path, target: &str) -> Result<PathBuf, String> {
    let dir = from.parent().unwrap_or(Path::new("."));
    let path = dir.join(target);
    if super::SourceKind::classify(&path) != Some(super::SourceKind::Yara) {
        return Err("only .yar and .yara files are followed".to_string());
    }
    let canonical = path.canonicalize().map_err(|e| e.to_string())?;
    let meta = std::fs::metadata(&canonical).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    Ok(canonical)
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
    #[serde(default)]
    reads_path: Vec<bool>,
    #[serde(default)]
    borrowed: Vec<bool>,
    /// Rules for copies only: by namespace index, true when the file was
    /// compiled whole.
    #[serde(default)]
    whole: Vec<bool>,
    /// Rules for copies only: the rules split (see [`split`]).
    #[serde(default)]
    splits: Vec<SplitRule>,
    /// The set without the rules needing `MZ` only: those rules, as
    /// (namespace index, identifier).
    #[serde(default)]
    left_out: Vec<(usize, String)>,
}

/// Layout: magic, u64 meta length, meta JSON, u64 rules length, SHA-256 of
/// the rules bytes, the serialized rules. The digest guards yara-x's
/// deserializer against a truncated or corrupted file.
fn write_cache(file: &Path, rules: &yara_x::Rules, meta: &CacheMeta) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    cache_os::create_private_dir(dir)?;
    let bytes = rules.serialize().map_err(std::io::Error::other)?;
    let meta = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp{}",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("cache"),
        std::process::id()
    ));
    let mut f = cache_os::create_private_file(&tmp)?;
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

fn read_cache(file: &Path) -> Result<Option<Cached>, String> {
    let Some(mut f) = cache_os::open_private(file)? else {
        return Ok(None);
    };
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
    fn the_part_for_copies_holds_the_rules_reading_paths_and_what_they_need() {
        let code = "import \"pe\"\n\
            private rule Helper { strings: $a = \"x\" condition: $a }\n\
            rule Named { condition: Helper and filename == \"a.exe\" }\n\
            rule User { condition: Named or pe.is_pe }\n\
            rule Content { strings: $b = \"Named\" condition: $b }\n\
            // owner, in a comment, between rules\n\
            rule Other { condition: filesize > 10 }\n";
        let (part, reading) = path_part(code.as_bytes()).unwrap();
        assert_eq!(reading, ["Named", "User"]);
        assert!(part.starts_with("import \"pe\""), "{part}");
        for kept in ["rule Helper", "rule Named", "rule User"] {
            assert!(part.contains(kept), "{kept} missing: {part}");
        }
        // Content names `Named` only in a pattern, where no rule or
        // external can be read: not kept.
        assert!(!part.contains("rule Content"), "{part}");
        assert!(!part.contains("rule Other"), "{part}");
        // A global rule gates every rule of its file: taken whole.
        let global =
            "global rule G { condition: extension != \".txt\" }\nrule R { condition: true }\n";
        assert_eq!(path_part(global.as_bytes()), None);
        // The time module: taken whole.
        let time = "import \"time\"\nrule T { condition: time.now() > 0 and filename == \"x\" }\n";
        assert_eq!(path_part(time.as_bytes()), None);
        assert!(reads_more_than_content(time.as_bytes()));
        assert!(!reads_more_than_content(
            b"rule C { condition: filesize > 0 and filetype == \"\" }"
        ));
    }

    #[test]
    fn rules_for_copies_are_those_reading_paths_and_checked_against_the_whole_set() {
        let sources = [
            src(0, "rule Plain { strings: $a = \"abc\" condition: $a }"),
            src(
                1,
                "rule ByName { condition: filename == \"x\" }\nrule Content2 { condition: filesize == 3 }",
            ),
        ];
        let mut issues = Vec::new();
        let mut rules = compile(&sources, None, &mut issues).unwrap();
        assert_eq!(rules.reads_path, [false, true]);
        rules.prepare_copies(&sources, None);
        let copies = rules.copies.as_ref().expect("rules for copies");
        let rerun: Vec<_> = copies.rerun.iter().cloned().collect();
        assert_eq!(rerun, [(1, "ByName".to_string())]);
        // A set for copies with a rule the whole set lacks is refused.
        let other = build(&[src(0, "rule Other { condition: true }")], None).rules;
        let none = Default::default();
        assert!(rerun_set(&rules.rules, &other, &[true, true], &[false, false], &none).is_err());
        // So is one whose rule has other metadata than in the whole set.
        let other = build(
            &[
                src(0, ""),
                src(
                    1,
                    "rule ByName { meta: score = 1 condition: filename == \"x\" }",
                ),
            ],
            None,
        )
        .rules;
        let err = rerun_set(&rules.rules, &other, &[false, true], &[false, false], &none);
        assert!(err.unwrap_err().contains("ByName"));
    }

    #[test]
    fn the_set_without_mz_rules_is_checked_against_the_whole_set_and_cached() {
        let sources = [
            src(0, "rule Plain { strings: $a = \"abc\" condition: $a }"),
            src(
                1,
                "rule Pe { meta: score = 9 strings: $p = \"p\" condition: uint16(0) == 0x5a4d and $p }\n\
                 rule After { condition: filesize == 3 }",
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        for pass in ["built", "cached"] {
            let mut issues = Vec::new();
            let mut rules = compile(&sources, Some(dir.path()), &mut issues).unwrap();
            rules.prepare(&sources, Some(dir.path()), false);
            let without = rules.without_mz.as_ref().expect(pass);
            let names: Vec<(&str, &str)> = without
                .iter()
                .map(|r| (r.namespace(), r.identifier()))
                .collect();
            assert_eq!(names, [("n0", "Plain"), ("n1", "After")], "{pass}");
            assert!(rules.copies.is_none());
        }
        let whole = compile(&sources, None, &mut Vec::new()).unwrap().rules;
        let left_out = [(1, "Pe".to_string())];
        let part = |n1: &str| {
            build(
                &[
                    src(0, "rule Plain { strings: $a = \"abc\" condition: $a }"),
                    src(1, n1),
                ],
                None,
            )
            .rules
        };
        assert!(
            mz_mismatch(
                &whole,
                &part("rule After { condition: filesize == 3 }"),
                &[true, false],
                &left_out
            )
            .is_empty()
        );
        // A rule missing that was not left out, a rule with other metadata,
        // rules out of order, a rule left out of a file compiled whole, a
        // rule left out that the whole set does not have: refused.
        assert_eq!(
            mz_mismatch(&whole, &part(""), &[true, false], &left_out),
            [1]
        );
        assert_eq!(
            mz_mismatch(
                &whole,
                &part("rule After { meta: x = 1 condition: filesize == 3 }"),
                &[true, false],
                &left_out
            ),
            [1]
        );
        let two = [(1, "Pe".to_string()), (1, "After".to_string())];
        let reordered = build(&[src(0, ""), src(1, "rule After { condition: filesize == 3 }\nrule Pe { meta: score = 9 strings: $p = \"p\" condition: uint16(0) == 0x5a4d and $p }")], None).rules;
        assert_eq!(
            mz_mismatch(&whole, &reordered, &[true, false], &two),
            [0, 1]
        );
        assert_eq!(
            mz_mismatch(
                &whole,
                &part("rule After { condition: filesize == 3 }"),
                &[true, true],
                &left_out
            ),
            [1]
        );
        let ghost = [(1, "Pe".to_string()), (0, "Ghost".to_string())];
        assert_eq!(
            mz_mismatch(
                &whole,
                &part("rule After { condition: filesize == 3 }"),
                &[false, false],
                &ghost
            ),
            [0]
        );
    }

    #[test]
    fn rules_testing_content_and_path_are_split_for_later_copies() {
        let sources = [
            src(0, "rule Plain { strings: $a = \"abc\" condition: $a }"),
            src(
                1,
                "rule Renamed { meta: score = 70 strings: $d = \"driver\" \
                 condition: $d and not filename matches /cpuz/ }\n\
                 rule Whole { strings: $c = \"c\" condition: $c or filename == \"c\" }",
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        for round in 0..2 {
            let mut issues = Vec::new();
            let mut rules = compile(&sources, Some(dir.path()), &mut issues).unwrap();
            rules.prepare_copies(&sources, Some(dir.path()));
            let c = rules.copies.as_ref().expect("rules for copies");
            assert!(c.lite.is_some(), "round {round}");
            assert_eq!(c.splits.len(), 1);
            assert_eq!(c.splits[0].rule, "Renamed");
            assert_eq!(
                c.content_rules.get(&(1, "Renamed__content".to_string())),
                Some(&0)
            );
            let mut rerun: Vec<_> = c.rerun.iter().map(|(_, r)| r.as_str()).collect();
            rerun.sort_unstable();
            assert_eq!(rerun, ["Renamed", "Whole"], "round {round}");
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with("-lite.bin")
        }));
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

    /// One file holding every way a rule can fail, among good ones.
    const MIXED: &str = r#"import "pe"
import "androguard"
rule good1 { condition: true }
rule broken {
  strings: $a = "x"
  condition: $a and (
}
rule good2 { condition: filesize > 1 }
rule uses_andro { condition: androguard.package_name(/x/) }
rule dep_andro { condition: uses_andro }
rule bad_ident { condition: nosuch }
rule dep_bad { condition: bad_ident }
rule dep_broken { condition: broken }
rule dup { condition: true }
rule dup { condition: false }
rule good3 { strings: $r = /a\Rb{,3}c{/ condition: $r and pe.is_pe or true }
"#;

    fn summary(issues: &[SigIssue]) -> Vec<(Option<usize>, Option<&str>, bool)> {
        issues
            .iter()
            .map(|i| (i.line, i.rule.as_deref(), i.unsupported))
            .collect()
    }

    #[test]
    fn only_failing_rules_are_skipped_each_named_with_line_and_reason() {
        let mut issues = Vec::new();
        let rules = compile(&[src(0, MIXED)], None, &mut issues).unwrap();
        assert_eq!(
            rules.rule_counts,
            vec![4],
            "good1, good2, dup, good3: {issues:#?}"
        );
        let mut got = summary(&issues);
        got.sort();
        let mut want = vec![
            (Some(7), Some("broken"), false),
            (Some(9), Some("uses_andro"), true),
            (Some(10), Some("dep_andro"), true),
            (Some(11), Some("bad_ident"), false),
            (Some(12), Some("dep_bad"), false),
            (Some(13), Some("dep_broken"), false),
            (Some(15), Some("dup"), false),
        ];
        want.sort();
        assert_eq!(got, want, "{issues:#?}");
        let message = |rule: &str| {
            issues
                .iter()
                .find(|i| i.rule.as_deref() == Some(rule))
                .unwrap()
                .message
                .clone()
        };
        assert!(message("broken").contains("syntax error"), "{issues:#?}");
        assert!(message("uses_andro").contains("`androguard`"));
        assert!(message("dep_bad").contains("depends on rule `bad_ident`"));
        assert!(message("dep_broken").contains("depends on rule `broken`"));
        assert!(message("bad_ident").contains("nosuch"));
        assert!(message("dup").contains("duplicate"));
        assert!(issues.iter().all(|i| i.file == "r0.yar"));
    }

    #[test]
    fn a_module_missing_in_one_file_does_not_touch_another() {
        let sources = [
            src(
                0,
                "import \"androguard\"\nrule a { condition: androguard.x }",
            ),
            src(1, "import \"pe\"\nrule b { condition: pe.is_pe }"),
        ];
        let mut issues = Vec::new();
        let rules = compile(&sources, None, &mut issues).unwrap();
        assert_eq!(rules.rule_counts, vec![0, 1]);
        assert_eq!(summary(&issues), vec![(Some(2), Some("a"), true)]);
    }

    #[test]
    fn syntax_error_outside_rules_is_reported_once_and_later_rules_load() {
        let sources = [src(
            0,
            "rule a { condition: true }\n}}} garbage\nrule b { condition: true }\n",
        )];
        let mut issues = Vec::new();
        let rules = compile(&sources, None, &mut issues).unwrap();
        assert!(!issues.is_empty());
        assert_eq!(issues[0].line, Some(2), "{issues:#?}");
        assert!(rules.rule_counts[0] >= 1, "{issues:#?}");
    }

    #[test]
    fn rules_using_rules_of_other_files_load_as_in_one_namespace() {
        let sources = [
            src(
                0,
                "private rule is__elf { condition: uint32(0) == 0x464c457f }\nrule Elf_Small { condition: is__elf and filesize < 10 }",
            ),
            src(
                1,
                "import \"pe\"\nrule Fine { condition: false }\nrule Uses { condition: is__elf and filesize > 0 and not Fine }\nrule Uses_Transitive { condition: Elf_Small }\nrule Bad { condition: nosuch }\nrule Uses_Uses { condition: Uses }\nrule Dep_Bad { condition: Bad }",
            ),
        ];
        let mut issues = Vec::new();
        let rules = compile(&sources, None, &mut issues).unwrap();
        assert_eq!(
            summary(&issues),
            vec![
                (Some(5), Some("Bad"), false),
                (Some(7), Some("Dep_Bad"), false)
            ],
            "{issues:#?}"
        );
        assert_eq!(rules.rule_counts, vec![2, 4], "copies are not counted");
        let mut scanner = yara_x::Scanner::new(&rules.rules);
        for name in EXTERNALS {
            scanner.set_global(name, "").unwrap();
        }
        let results = scanner.scan(b"\x7fELF").unwrap();
        let mut hits: Vec<(String, Option<SourceId>)> = results
            .matching_rules()
            .map(|r| (r.identifier().to_string(), rules.source_of(r.namespace())))
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            hits,
            vec![
                ("Elf_Small".to_string(), Some(SourceId(0))),
                ("Uses".to_string(), Some(SourceId(1))),
                ("Uses_Transitive".to_string(), Some(SourceId(1))),
                ("Uses_Uses".to_string(), Some(SourceId(1))),
            ],
            "each rule reported once, from its own file"
        );
    }

    #[test]
    fn prepare_blanks_includes_keeping_lines_and_escapes_invalid_utf8() {
        let code = b"include \"a.yar\"\n/* caf\xe9 */\ninclude \"sub/b.yar\" rule x { strings: $s = \"\xff\" condition: $s }\n".to_vec();
        let (out, includes) = prepare(code);
        assert_eq!(
            includes,
            vec![
                Include {
                    line: 1,
                    target: "a.yar".into()
                },
                Include {
                    line: 3,
                    target: "sub/b.yar".into()
                }
            ]
        );
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(!text.contains("include"), "{text}");
        assert!(text.contains("caf\\xe9"), "{text}");
        let mut issues = Vec::new();
        let rules = compile(&[src(0, &text)], None, &mut issues).unwrap();
        assert_eq!(rules.rule_counts, vec![1], "{issues:?}");
        let mut scanner = yara_x::Scanner::new(&rules.rules);
        for name in EXTERNALS {
            scanner.set_global(name, "").unwrap();
        }
        let hits = scanner.scan(b"..\xff..").unwrap().matching_rules().len();
        assert_eq!(
            hits, 1,
            "\\xff in a string means the byte, as libyara reads it"
        );
    }

    #[test]
    fn includes_are_never_followed_by_yara_x() {
        let mut issues = Vec::new();
        let rules = compile(
            &[src(
                0,
                "include \"/etc/passwd\"\nrule a { condition: true }",
            )],
            None,
            &mut issues,
        )
        .unwrap();
        assert_eq!(rules.rule_counts, vec![1]);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].line, Some(1));
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
