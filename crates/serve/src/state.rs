//! The loaded signature set and its reloads.
//!
//! Each load makes a [`Generation`]: an immutable set with a number and a
//! time. The current one sits behind an [`ArcSwap`]: a request takes an
//! `Arc` of the generation current when it arrives and scans with it to the
//! end, so a reload never changes the rules under a request in flight, and
//! an old generation is freed when its last request finishes. Reloads are
//! serialized; a new set that fails to load, or that has signature problems
//! the running set did not have, is refused and the running set stays.

use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use takedown_engine::sigs::{LoadOptions, SigIssue, SignatureSet, SourceInfo};

/// One loaded signature set.
pub struct Generation {
    /// 1 for the set loaded at start, then one more per reload.
    pub id: u64,
    /// The signatures.
    pub sigs: SignatureSet,
    /// When loading finished.
    pub loaded_at: SystemTime,
}

/// What `GET /v1/signatures` says about a generation.
#[derive(Serialize)]
pub struct Description<'a> {
    /// Generation number (the version of the loaded set).
    pub generation: u64,
    /// RFC 3339 time the set finished loading.
    pub loaded_at: String,
    /// Seconds since then.
    pub age_seconds: f64,
    /// How long loading took.
    pub load_seconds: f64,
    /// takedown's version.
    pub engine_version: &'static str,
    /// Counts.
    pub yara_rules: usize,
    /// Hash IOCs.
    pub hash_iocs: usize,
    /// Name IOCs.
    pub name_iocs: usize,
    /// Allow-listed digests.
    pub allow_listed: usize,
    /// Every loaded file.
    pub sources: Vec<SourceDescription<'a>>,
    /// What did not load.
    pub issues: &'a [SigIssue],
}

/// One source in [`Description`].
#[derive(Serialize)]
pub struct SourceDescription<'a> {
    /// The file (or `builtin:...`).
    #[serde(flatten)]
    pub info: &'a SourceInfo,
    /// RFC 3339 modification time of the file, when on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
}

impl Generation {
    /// Seconds since the set was loaded.
    pub fn age(&self) -> Duration {
        self.loaded_at.elapsed().unwrap_or_default()
    }

    /// The JSON description of this generation.
    pub fn describe(&self) -> Description<'_> {
        let sigs = &self.sigs;
        Description {
            generation: self.id,
            loaded_at: humantime::format_rfc3339_seconds(self.loaded_at).to_string(),
            age_seconds: self.age().as_secs_f64(),
            load_seconds: sigs.load_time.as_secs_f64(),
            engine_version: env!("CARGO_PKG_VERSION"),
            yara_rules: sigs.yara_rule_count(),
            hash_iocs: sigs.hashes.len(),
            name_iocs: sigs.names.len(),
            allow_listed: sigs.allow.len(),
            sources: sigs
                .sources
                .iter()
                .map(|info| SourceDescription {
                    info,
                    modified: (!info.path.starts_with("builtin:"))
                        .then(|| {
                            std::fs::metadata(&info.path)
                                .and_then(|m| m.modified())
                                .ok()
                        })
                        .flatten()
                        .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                })
                .collect(),
            issues: &sigs.issues,
        }
    }
}

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new set did not load.
    #[error("{0}")]
    Load(#[from] takedown_engine::sigs::LoadError),
    /// The new set loaded with new problems.
    #[error("the new signature set has {} problem(s) the running set does not have; first: {}", .0.len(), .0[0])]
    NewIssues(Vec<SigIssue>),
}

/// The current generation and how to make the next one.
pub struct Signatures {
    current: ArcSwap<Generation>,
    load: LoadOptions,
    next: AtomicU64,
    reloading: Mutex<()>,
}

impl Signatures {
    /// Loads the first generation.
    pub fn load(opts: &LoadOptions) -> Result<Signatures, takedown_engine::sigs::LoadError> {
        let sigs = SignatureSet::load(opts)?;
        Ok(Signatures {
            current: ArcSwap::from_pointee(Generation {
                id: 1,
                sigs,
                loaded_at: SystemTime::now(),
            }),
            load: opts.clone(),
            next: AtomicU64::new(2),
            reloading: Mutex::new(()),
        })
    }

    /// The generation requests arriving now scan with.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Builds a new set from the same sources and swaps it in. Blocking
    /// (seconds for large YARA sets): call it off the async runtime.
    pub fn reload(&self) -> Result<Arc<Generation>, ReloadError> {
        // A poisoned lock only means an earlier reload panicked; the
        // current set is untouched, so go on.
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let sigs = SignatureSet::load(&self.load)?;
        let old = self.current();
        let known: HashSet<String> = old.sigs.issues.iter().map(|i| i.to_string()).collect();
        // Notices (an indicator revoked or expired since the last load)
        // are no reason to keep serving the old set: expiring is what
        // indicators do.
        let new: Vec<SigIssue> = sigs
            .problems()
            .filter(|i| !known.contains(&i.to_string()))
            .cloned()
            .collect();
        if !new.is_empty() {
            return Err(ReloadError::NewIssues(new));
        }
        let generation = Arc::new(Generation {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            sigs,
            loaded_at: SystemTime::now(),
        });
        self.current.store(generation.clone());
        Ok(generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &std::path::Path) -> LoadOptions {
        LoadOptions {
            paths: vec![dir.to_path_buf()],
            builtin: true,
            strict: false,
            cache_dir: None,
            rescan_copies: false,
        }
    }

    #[test]
    fn reload_swaps_and_a_broken_set_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yar"),
            "rule a { strings: $a = \"aaaa\" condition: $a }",
        )
        .unwrap();
        let s = Signatures::load(&opts(dir.path())).unwrap();
        let first = s.current();
        assert_eq!(first.id, 1);
        assert_eq!(first.sigs.yara_rule_count(), 2);

        std::fs::write(
            dir.path().join("b.yar"),
            "rule b { strings: $b = \"bbbb\" condition: $b }",
        )
        .unwrap();
        let second = s.reload().unwrap();
        assert_eq!(second.id, 2);
        assert_eq!(second.sigs.yara_rule_count(), 3);
        // The old generation is still whole for whoever holds it.
        assert_eq!(first.sigs.yara_rule_count(), 2);

        std::fs::write(dir.path().join("c.yar"), "rule c { condition: ").unwrap();
        let err = s.reload().err().expect("a broken set is refused");
        assert!(err.to_string().contains("c.yar"), "{err}");
        assert_eq!(s.current().id, 2);

        let d = s.current();
        let json = serde_json::to_value(d.describe()).unwrap();
        assert_eq!(json["generation"], 2);
        assert_eq!(json["yara_rules"], 3);
        assert!(json["sources"][0]["modified"].is_null(), "{json}");
        assert!(json["sources"][2]["modified"].is_string(), "{json}");
    }

    #[test]
    fn an_indicator_revoked_or_expired_since_does_not_block_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = |extra: &str| {
            format!(
                r#"{{"type":"bundle","id":"bundle--0e2a3b4c-1d2e-4f3a-8b9c-0d1e2f3a4b5c","objects":[
                {{"type":"indicator","spec_version":"2.1","id":"indicator--11111111-1111-4111-8111-111111111111",
                  "created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","valid_from":"2026-01-01T00:00:00Z",
                  "pattern_type":"stix","pattern":"[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"}}{extra}]}}"#
            )
        };
        std::fs::write(dir.path().join("feed.json"), bundle("")).unwrap();
        let s = Signatures::load(&opts(dir.path())).unwrap();
        assert!(s.current().sigs.issues.is_empty());
        std::fs::write(
            dir.path().join("feed.json"),
            bundle(
                r#",{"type":"indicator","spec_version":"2.1","id":"indicator--21111111-1111-4111-8111-111111111111",
                  "created":"2020-01-01T00:00:00Z","modified":"2020-01-01T00:00:00Z","valid_from":"2020-01-01T00:00:00Z",
                  "valid_until":"2021-01-01T00:00:00Z","pattern_type":"stix","pattern":"[domain-name:value = 'old.example']"}"#,
            ),
        )
        .unwrap();
        let next = s.reload().expect("an expired indicator is a notice");
        assert_eq!(next.sigs.notices(), 1);
        assert_eq!(next.id, 2);
    }
}
