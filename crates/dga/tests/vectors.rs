//! Every family against the vectors its reference implementation printed.
//!
//! `tests/vectors/<family>.txt` (and `<family>-observed.txt` for domains
//! observed from real samples and published) hold, after `#` comment lines
//! that name the command that made them:
//!
//! ```text
//! <variant> TAB <seed or JSON configuration> TAB <YYYY-MM-DD or -> TAB <domain>
//! ```
//!
//! one domain per line, in the order the oracle printed them. The lines of
//! one (variant, seed, date) are the complete output of that run unless the
//! file's header says `# partial` (then they must appear, in order, within
//! what takedown generates: a published observation lists what was seen,
//! not every name tried).

use std::collections::BTreeMap;
use std::path::Path;
use takedown_dga::{Spec, family};
use time::Date;
use time::macros::format_description;

type Runs = BTreeMap<(String, String, String), Vec<String>>;

fn read(path: &Path) -> (bool, Runs) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut partial = false;
    let mut runs: Runs = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(c) = line.strip_prefix('#') {
            if c.trim() == "partial" {
                partial = true;
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            f.len(),
            4,
            "{}:{}: expected 4 tab-separated fields",
            path.display(),
            n + 1
        );
        runs.entry((f[0].into(), f[1].into(), f[2].into()))
            .or_default()
            .push(f[3].to_string());
    }
    (partial, runs)
}

#[test]
fn every_family_matches_its_reference_vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut per_family: BTreeMap<String, usize> = BTreeMap::new();
    let mut checked = 0usize;
    let ymd = format_description!("[year]-[month]-[day]");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let name = stem.strip_suffix("-observed").unwrap_or(stem);
        let fam = family(name).unwrap_or_else(|| panic!("{}: no family '{name}'", path.display()));
        let (partial, runs) = read(&path);
        assert!(!runs.is_empty(), "{}: no vectors", path.display());
        for ((variant, seed, day), want) in &runs {
            let v = fam.variant(variant).unwrap();
            let config: Option<serde_json::Value> = seed
                .starts_with('{')
                .then(|| serde_json::from_str(seed).unwrap());
            let spec = Spec {
                seed: if config.is_some() { None } else { Some(seed) },
                config: config.as_ref(),
            };
            let dga = (v.build)(&spec)
                .unwrap_or_else(|e| panic!("{}: {variant} {seed}: {e}", path.display()));
            let date = if day == "-" {
                Date::from_calendar_date(2016, time::Month::December, 1).unwrap()
            } else {
                Date::parse(day, &ymd).unwrap()
            };
            if day == "-" {
                assert_eq!(
                    dga.period(date),
                    None,
                    "{}: '-' date for a dated DGA",
                    path.display()
                );
            }
            let mut got = Vec::new();
            dga.generate(date, &mut got);
            if partial {
                let mut it = got.iter();
                for w in want {
                    assert!(
                        it.any(|g| g == w),
                        "{}: {variant} {seed} {day}: observed {w} not generated (in order)",
                        path.display()
                    );
                }
            } else {
                assert_eq!(&got, want, "{}: {variant} {seed} {day}", path.display());
            }
            if !partial {
                *per_family.entry(fam.name.to_string()).or_default() += 1;
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no vectors found in {}", dir.display());
    // Every implemented family has at least 30 runs (dates x seeds) from
    // its oracle.
    for f in takedown_dga::families() {
        if f.variants.is_empty() {
            continue;
        }
        let n = per_family.get(f.name).copied().unwrap_or(0);
        assert!(
            n >= 30,
            "family {} has {n} oracle runs, fewer than 30",
            f.name
        );
    }
}
