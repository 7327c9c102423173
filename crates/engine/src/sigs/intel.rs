//! Indicators from STIX 2.1 bundles, MISP events and MISP feeds, read by
//! `takedown-intel` into the one indicator model and put where the engine
//! uses them:
//!
//! * hashes into the hash index, file names into the name index, YARA
//!   indicators compiled as YARA (each its own source, named
//!   `bundle.json#indicator--...`, so that one bad rule costs only itself
//!   and two partners' rules of the same name do not collide);
//! * network indicators (domains, IPs and CIDRs, URLs, e-mail addresses)
//!   kept in [`IntelIndex::network`] for hunting, blocklists and notices,
//!   and listed by `takedown sigs check`;
//! * what the detections need to say where they came from (indicator id,
//!   family, TLP, producer) in a side table keyed by source and value, so
//!   that the hash and name indexes stay as compact as they are.
//!
//! Every indicator not used is a [`SigIssue`] with its id and reason.
//! Revoked, expired and not-for-detection ones are *notices*: listed by
//! `sigs check`, counted by `scan`, never fatal under `--strict` (a feed
//! always holds some, and they are not errors of the feed).

use super::{SigIssue, SourceId};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use takedown_intel::{Indicator, Kind, Loaded, SkipClass, Tlp};

/// What a detection from an indicator adds to its metadata.
#[derive(Clone, Debug)]
pub struct IntelMeta {
    /// The STIX indicator id or MISP attribute uuid.
    pub object_id: Option<Box<str>>,
    /// Malware family.
    pub family: Option<Arc<str>>,
    /// TLP of the indicator.
    pub tlp: Option<Tlp>,
    /// Producer (identity, organisation).
    pub producer: Option<Arc<str>>,
    /// The MISP event or STIX report.
    pub container: Option<Arc<str>>,
}

impl IntelMeta {
    /// Adds `indicator`, `malware_family`, `tlp`, `producer` and `event`
    /// to a detection's metadata.
    pub fn annotate(&self, metadata: &mut serde_json::Map<String, serde_json::Value>) {
        if let Some(id) = &self.object_id {
            metadata.insert("indicator".into(), id.to_string().into());
        }
        if let Some(f) = &self.family {
            metadata.insert("malware_family".into(), f.to_string().into());
        }
        if let Some(t) = self.tlp {
            metadata.insert("tlp".into(), t.as_str().into());
        }
        if let Some(p) = &self.producer {
            metadata.insert("producer".into(), p.to_string().into());
        }
        if let Some(c) = &self.container {
            metadata.insert("event".into(), c.to_string().into());
        }
    }
}

/// Indicator counts of one STIX or MISP source, for `sigs check`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IntelCounts {
    /// Indicators loaded, per kind (`sha256`, `domain`, ...).
    pub loaded: BTreeMap<&'static str, usize>,
    /// Indicators not used, per class (`revoked`, `expired`,
    /// `unsupported`, `not-for-detection`, `invalid`).
    pub skipped: BTreeMap<&'static str, usize>,
    /// Objects of types that hold no indicator, per type, kept out.
    pub ignored_objects: BTreeMap<String, u64>,
}

/// The indicators of all STIX and MISP sources of a set.
#[derive(Debug, Default)]
pub struct IntelIndex {
    /// Network-side indicators, in load order.
    pub network: Vec<Indicator>,
    /// Side table: source -> value -> what a detection says about the
    /// indicator (by source first, so that a look-up needs no key built).
    /// Values are the lowercase digest for hashes, the regex for names,
    /// "" for a YARA indicator (its own source).
    meta: FxHashMap<u32, FxHashMap<Box<str>, IntelMeta>>,
    /// Interned families and producers: a feed of a million indicators
    /// names a handful of each.
    strings: FxHashMap<Arc<str>, ()>,
}

impl IntelIndex {
    /// True when no indicator source was loaded.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty() && self.network.is_empty()
    }

    /// What to add to a detection of `source` matching `value`.
    pub fn meta(&self, source: SourceId, value: &str) -> Option<&IntelMeta> {
        self.meta.get(&source.0)?.get(value)
    }

    fn intern(&mut self, s: Option<&str>) -> Option<Arc<str>> {
        let s = s?;
        if let Some((k, _)) = self.strings.get_key_value(s) {
            return Some(k.clone());
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(a.clone(), ());
        Some(a)
    }

    fn remember(&mut self, source: SourceId, value: &str, ind: &Indicator) {
        if self
            .meta
            .get(&source.0)
            .is_some_and(|m| m.contains_key(value))
        {
            // The first indicator of a value in a source names it.
            return;
        }
        let meta = IntelMeta {
            object_id: ind.provenance.object_id.as_deref().map(Box::from),
            family: self.intern(ind.family.as_deref()),
            tlp: ind.tlp,
            producer: self.intern(ind.provenance.producer.as_deref()),
            container: self.intern(ind.provenance.container.as_deref()),
        };
        self.meta
            .entry(source.0)
            .or_default()
            .insert(Box::from(value), meta);
    }
}

/// Where the indicators of one source go; implemented by the set being
/// loaded.
pub(super) trait Sink {
    /// Adds a hash IOC.
    fn hash(&mut self, ind: &Indicator, source: SourceId) -> Result<(), String>;
    /// Adds a name regex.
    fn name(&mut self, ind: &Indicator, source: SourceId) -> Result<(), String>;
    /// Adds a YARA indicator as a source of its own; returns its id.
    fn yara(&mut self, ind: &Indicator, origin: String) -> SourceId;
}

/// Puts the indicators of one source where they belong; returns the
/// counts for `sigs check` and the number loaded.
pub(super) fn place(
    loaded: Loaded,
    origin: &str,
    source: SourceId,
    index: &mut IntelIndex,
    sink: &mut dyn Sink,
    issues: &mut Vec<SigIssue>,
) -> (IntelCounts, usize) {
    let mut counts = IntelCounts {
        ignored_objects: loaded.ignored_types,
        ..Default::default()
    };
    let mut used = 0;
    for ind in loaded.indicators {
        let kind = ind.kind;
        // On failure: why, and the indicator's id.
        let failed = |reason: String| (reason, ind.provenance.object_id.clone());
        let placed = match kind {
            Kind::Md5 | Kind::Sha1 | Kind::Sha256 => sink
                .hash(&ind, source)
                .map(|()| index.remember(source, &ind.value, &ind))
                .map_err(failed),
            Kind::FileName => sink
                .name(&ind, source)
                .map(|()| index.remember(source, &ind.value, &ind))
                .map_err(failed),
            Kind::Yara => {
                let id = ind
                    .provenance
                    .object_id
                    .clone()
                    .unwrap_or_else(|| format!("#{}", used + 1));
                let yara_source = sink.yara(&ind, format!("{origin}#{id}"));
                index.remember(yara_source, "", &ind);
                Ok(())
            }
            Kind::Domain | Kind::Ipv4 | Kind::Ipv6 | Kind::Url | Kind::Email => {
                index.network.push(ind);
                Ok(())
            }
        };
        match placed {
            Ok(()) => {
                used += 1;
                *counts.loaded.entry(kind.as_str()).or_default() += 1;
            }
            Err((reason, object_id)) => {
                *counts
                    .skipped
                    .entry(SkipClass::Invalid.as_str())
                    .or_default() += 1;
                issues.push(SigIssue {
                    file: origin.to_string(),
                    line: None,
                    rule: object_id,
                    message: format!("invalid: {reason}"),
                    ..Default::default()
                });
            }
        }
    }
    for s in loaded.skipped {
        *counts.skipped.entry(s.class.as_str()).or_default() += 1;
        issues.push(SigIssue {
            file: origin.to_string(),
            line: None,
            rule: Some(s.id),
            message: format!("{}: {}", s.class.as_str(), s.reason),
            unsupported: s.class == SkipClass::Unsupported,
            notice: matches!(
                s.class,
                SkipClass::Revoked | SkipClass::Expired | SkipClass::NotForDetection
            ),
            ..Default::default()
        });
    }
    (counts, used)
}
