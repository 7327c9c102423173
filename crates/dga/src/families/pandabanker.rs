//! Panda Banker: a DGA keyed by each sample's configuration.
//!
//! Arbor ASERT described it in "Panda Banker's Future DGA" (D. Schwarz,
//! September 2016) and published a proof of concept (`panda_banker/dga.py`
//! of github.com/tildedennis/malware), followed by a version for samples
//! 2.2.9 and later (`dga_version_2.2.9.py`, November 2016). For a date:
//!
//! 1. The base configuration's RSA public key (base64 in the config, the
//!    DER blob decoded) keys an RC4 key schedule; the 256-byte permutation
//!    it leaves, followed by two zero bytes, is a 258-byte buffer.
//! 2. Its first four bytes, read as a little-endian 32-bit number, are
//!    XORed with the Unix time of a UTC midnight: that of the date itself
//!    (variant `daily`), or, from version 2.2.9 on, that of the date minus
//!    `day of month % 3` days (variant `v2.2.9`). The names then change on
//!    the 3rd, 6th, ... 30th of a month (the 27th in February), and the 1st
//!    and 2nd hash the previous month's last day: after a 30-day month
//!    that day hashes itself, so the 30th, 1st and 2nd share names; after
//!    a 31-day month or February the last day hashes an earlier one, so
//!    the 1st and 2nd get names of their own, which no day of the previous
//!    month uses.
//! 3. The SHA-256 of the buffer; its first five bytes in lowercase hex
//!    (ten characters) are the start of every name of that date.
//! 4. Each entry of the configuration's `dgaconfigs` list (such as
//!    `d4.com/rcnfig.dat`) is appended: the result is a URL without scheme,
//!    `944ff45890d4.com/rcnfig.dat`, which the bot fetches for its
//!    configuration.
//!
//! [`Dga::generate`] gives the domain of each URL (the part before the
//! first `/`), one per `dgaconfigs` entry, as a blocklist needs; [`urls`]
//! gives the whole URLs.
//!
//! The printed seed is the sample's MD5 for a published configuration;
//! any other configuration is printed as its label (`--seed`, or
//! `key-<4 bytes of the key's SHA-256>`) followed by a hash of the whole
//! configuration (`my-sample/cfg-1a2b3c4d`), so that two generators never
//! print the same label.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::Date;

use crate::{Dga, Error, Family, Known, Spec, Variant, check_config_keys, config_str, day_number};

const FAMILY_NAME: &str = "pandabanker";

/// Keys `--config` takes: those of the configurations in ASERT's scripts.
const CONFIG_KEYS: &[&str] = &["key", "dgaconfigs"];

/// Longest base64 key text accepted (an RSA-2048 public key is about 400
/// characters; this leaves room for any key size without letting a
/// hostile file make us decode megabytes).
const MAX_KEY_B64_LEN: usize = 64 * 1024;
/// Most `dgaconfigs` entries (samples carry four).
const MAX_DGACONFIGS: usize = 256;
/// Longest `dgaconfigs` entry (domain suffix and path).
const MAX_DGACONFIG_LEN: usize = 2048;
/// Longest label given with `--seed` next to a configuration.
const MAX_LABEL_LEN: usize = 64;

/// Hex characters of the SHA-256 that start every name (five bytes).
const HEX_PREFIX_LEN: usize = 10;
/// A DNS name is at most this long.
const MAX_NAME_LEN: usize = 253;
/// A DNS label is at most this long.
const MAX_LABEL_BYTES: usize = 63;
/// Seconds per day: the bot XORs a Unix time of midnight.
const SECS_PER_DAY: i64 = 86_400;
/// Version 2.2.9 keeps its names for this many days of a month.
const V229_DAYS: i64 = 3;
/// What the printed seed carries after the label when the configuration
/// is not a published one, before 8 hex digits of its hash.
const CFG_TAG: &str = "/cfg-";
/// Bytes of the configuration's SHA-256 printed in the label.
const CFG_HASH_BYTES: usize = 4;

const CONFIG_SYNTAX: &str = "JSON object as in the sample's base configuration: \
     \"key\": the RSA public key, base64 (whitespace ignored; the DER blob it decodes to \
     keys the RC4 schedule); \"dgaconfigs\": list of strings, each a domain suffix \
     (e.g. \"d4.com\") optionally followed by a URL path (\"/rcnfig.dat\"), appended to the \
     10 hex characters of the date";

const SEED_SYNTAX: &str = "a label for the configuration: with --config, any short name \
     (letters, digits, '.', '_', ':', '-'; the sample's MD5 is a good one); without \
     --config, the MD5 of a known sample selects its published configuration. A \
     configuration other than a published one is printed as `<label>/cfg-<8 hex digits of \
     its hash>` (`key-<8 hex>/cfg-...` without a label), which --seed also takes (the hash \
     must then match the configuration)";

const REFERENCE: &str = "Arbor Networks ASERT, D. Schwarz, \"Panda Banker's Future DGA\" \
     (https://www.arbornetworks.com/blog/asert/panda-bankers-future-dga/, September 2016)";

const ORACLE_DAILY: &str = "github.com/tildedennis/malware panda_banker/dga.py \
     (ASERT's proof of concept, September 2016), run with python2";
const ORACLE_V229: &str = "github.com/tildedennis/malware panda_banker/dga_version_2.2.9.py \
     (ASERT, November 2016), run with python2";

const KNOWN_DAILY: &[Known] = &[Known {
    seed: "eb414d3972889504ab18cc1e2df391f9",
    config: r#"{"key":"MIIBITANBgkqhkiG9w0BAQEFAAOCAQ4AMIIBCQKCAQB79idKmV3y/YxvbrOw7gB0zLXCl3f0x1BI3GCeSs6Jand9Iyxs4PHILJhrXlwbwHq5hA+6EuE2ulM/hbsPj04yBSojWuV4hZJP3hHygaaP5SsaMeDm+d7X+MtvA9q+QXUUO4TsoVXy6MRqF/2uVex0YTiRtzHOdDqfHFWlfO8mxq3kM6JQ42c37a/5pfpsLPNWE3QzkDKJfLqNUc3MG7yOfEuH3ivfqANAdMWA6kTBJCgFmWKkH07O/UH02aQJAfnxLCCXHbspy9bl24EIQmT8lb00LpMq0VTWpKXUt7WF7tcQARl3QDLn1fzc5C1UwZrGIG5ppCWvzVXR/t/Evs1RAgMBAAE=","dgaconfigs":["d4.com/rcnfig.dat","78.net/ronfig.dat","11.net/rcng.dat","19.net/vgt.dat"]}"#,
    source: "sample MD5 eb414d3972889504ab18cc1e2df391f9, configuration published in \
             github.com/tildedennis/malware panda_banker/dga.py (Arbor ASERT, September 2016)",
}];

const KNOWN_V229: &[Known] = &[Known {
    seed: "81876f471f75a690abbde4de029ba7ab",
    config: r#"{"key":"MIIBITANBgkqhkiG9w0BAQEFAAOCAQ4AMIIBCQKCAQB0ctFSn+grpxsXN2eUDbmHtOhlfafrh/dFLWN9Qrq7biqsZJfCuLIdgDAHaGEigCT5mUtvKo8er98nDVsS+Pg0VPwOoipQrwP67bbY5CTSLoOH56oNkDJPl0mn+M53hINqFMS99tSXL+yYae7lWMWhDWHUbQnwRMejXqT5uRpYJCY/cGTItgbR/015FEc7IKplOytGAb5vAcnRkQ1VExs7EUPoGdHVgTZJ/4/W4gPt/bWoMn4Yuqg39yg55BPWI0R9uLMC+zKPOcCyaO1jGgvQx0oagAZC7UFb8SwtFTIdVGdWMyo5ww535+GO0aZLM9a+Us80OHjt0QHrZ3yTjIJDAgMBAAE=","dgaconfigs":["47.com/rcfig.dat","98.net/rcfig.dat","10.net/rcong.dat","98.net/vgt.dat"]}"#,
    source: "Panda Banker 2.2.9 sample MD5 81876f471f75a690abbde4de029ba7ab, configuration \
             published in github.com/tildedennis/malware panda_banker/dga_version_2.2.9.py \
             (Arbor ASERT, November 2016)",
}];

const PARAMS_DAILY: &[(&str, &str)] = &[
    (
        "configuration",
        "the sample's RSA public key (base64) and its dgaconfigs list",
    ),
    (
        "name",
        "first 5 bytes (hex) of SHA-256(RC4 KSA(key) + 00 00, first DWORD XOR midnight \
         Unix time) + the dgaconfigs entry's domain suffix",
    ),
    (
        "TLDs",
        "those of the dgaconfigs entries (.com, .net in the known sample)",
    ),
    (
        "domains per period",
        "one per dgaconfigs entry (4 in the known sample)",
    ),
    ("period", "1 day (UTC midnight)"),
];

const PARAMS_V229: &[(&str, &str)] = &[
    (
        "configuration",
        "the sample's RSA public key (base64) and its dgaconfigs list",
    ),
    (
        "name",
        "first 5 bytes (hex) of SHA-256(RC4 KSA(key) + 00 00, first DWORD XOR the Unix time \
         of midnight minus (day of month % 3) days) + the dgaconfigs entry's domain suffix",
    ),
    (
        "TLDs",
        "those of the dgaconfigs entries (.com, .net in the known sample)",
    ),
    (
        "domains per period",
        "one per dgaconfigs entry (4 in the known sample)",
    ),
    (
        "period",
        "mostly 3 days: days 3-5, 6-8, ... 27-29 of a month share names, and 30-31 \
         (February: 27 to its end). The 1st and 2nd hash the previous month's last \
         day: after a 30-day month they share the 30th's names (a 3-day span, 30th \
         to 2nd); after a 31-day month or February, whose last day hashes an earlier \
         day, the 1st and 2nd have names of their own",
    ),
];

/// Panda Banker, two schedules.
pub static FAMILY: Family = Family {
    name: FAMILY_NAME,
    aliases: &["panda", "panda-banker"],
    title: "Panda Banker: SHA-256 of the RSA key's RC4 schedule and the date, per-sample config",
    variants: &[
        Variant {
            name: "daily",
            summary: "Names change every UTC day. Each name is 10 hex characters of a \
                      SHA-256 over the sample's RC4-scheduled public key and the day, then a \
                      suffix from the sample's dgaconfigs (e.g. 944ff45890d4.com); the bot \
                      fetches its configuration from the suffix's URL path \
                      (944ff45890d4.com/rcnfig.dat) when its hard-coded servers fail.",
            parameters: PARAMS_DAILY,
            seed_syntax: SEED_SYNTAX,
            config_syntax: Some(CONFIG_SYNTAX),
            known: KNOWN_DAILY,
            reference: REFERENCE,
            oracle: ORACLE_DAILY,
            build: build_daily,
        },
        Variant {
            name: "v2.2.9",
            summary: "Version 2.2.9 and later: as `daily`, but the time hashed is that of \
                      the day minus (day of month % 3) days, so names mostly last three days \
                      (restarting each month; the 1st and 2nd take the previous month's last \
                      day, shared with the 30th only after a 30-day month).",
            parameters: PARAMS_V229,
            seed_syntax: SEED_SYNTAX,
            config_syntax: Some(CONFIG_SYNTAX),
            known: KNOWN_V229,
            reference: "Arbor Networks ASERT, D. Schwarz, panda_banker/dga_version_2.2.9.py \
                        (November 2016), after \"Panda Banker's Future DGA\"",
            oracle: ORACLE_V229,
            build: build_v229,
        },
    ],
};

/// Which day's time the bot hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Schedule {
    /// The date's own midnight.
    Daily,
    /// Midnight `day of month % 3` days earlier (version 2.2.9 on).
    ThreeDay,
}

impl Schedule {
    fn variant(self) -> &'static str {
        match self {
            Schedule::Daily => "daily",
            Schedule::ThreeDay => "v2.2.9",
        }
    }

    fn known(self) -> &'static [Known] {
        match self {
            Schedule::Daily => KNOWN_DAILY,
            Schedule::ThreeDay => KNOWN_V229,
        }
    }

    /// The day (days since 1970-01-01) whose midnight is hashed.
    fn hashed_day(self, date: Date) -> i64 {
        match self {
            Schedule::Daily => day_number(date),
            Schedule::ThreeDay => day_number(date) - i64::from(date.day()) % V229_DAYS,
        }
    }
}

fn build_daily(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    Ok(Box::new(PandaBanker::build(Schedule::Daily, spec)?))
}

fn build_v229(spec: &Spec<'_>) -> Result<Box<dyn Dga>, Error> {
    Ok(Box::new(PandaBanker::build(Schedule::ThreeDay, spec)?))
}

/// The URLs (`<10 hex><dgaconfigs entry>`, e.g. `944ff45890d4.com/rcnfig.dat`)
/// a sample fetches on `date`, in its `dgaconfigs` order: what
/// [`Dga::generate`] gives with each URL's path kept. `variant` is `daily`,
/// `v2.2.9` or `""` (the first).
pub fn urls(variant: &str, spec: &Spec<'_>, date: Date) -> Result<Vec<String>, Error> {
    let v = FAMILY.variant(variant)?;
    let schedule = if v.name == "daily" {
        Schedule::Daily
    } else {
        Schedule::ThreeDay
    };
    let dga = PandaBanker::build(schedule, spec)?;
    let prefix = dga.prefix(date);
    Ok(dga
        .entries
        .iter()
        .map(|e| format!("{prefix}{}{}", e.suffix, e.path))
        .collect())
}

/// One `dgaconfigs` entry, split at its first `/`.
struct Entry {
    /// Appended to the hex prefix to make the domain (lowercase).
    suffix: String,
    /// The URL path, with its leading `/`, or empty.
    path: String,
}

/// A Panda Banker generator with its sample configuration fixed.
struct PandaBanker {
    schedule: Schedule,
    label: String,
    /// The RC4 permutation of the key, then two zero bytes.
    state: [u8; 258],
    entries: Vec<Entry>,
}

fn bad_config(schedule: Schedule, reason: impl Into<String>) -> Error {
    Error::BadConfig {
        family: format!("{FAMILY_NAME}/{}", schedule.variant()),
        reason: reason.into(),
    }
}

impl PandaBanker {
    fn build(schedule: Schedule, spec: &Spec<'_>) -> Result<Self, Error> {
        let family = format!("{FAMILY_NAME}/{}", schedule.variant());
        // `--seed` is a label, optionally with the configuration hash a
        // run printed after it.
        let (label, label_hash) = match spec.seed {
            Some(s) => {
                let (l, h) = parse_label(&family, s)?;
                (Some(l), h)
            }
            None => (None, None),
        };
        let known_config;
        let config = match (spec.config, &label) {
            (Some(c), _) => c,
            (None, Some(label)) => {
                // A seed alone names a known sample.
                let k = schedule
                    .known()
                    .iter()
                    .find(|k| k.seed.eq_ignore_ascii_case(label))
                    .ok_or_else(|| Error::BadSeed {
                        family: family.clone(),
                        seed: label.clone(),
                        reason: "not the MD5 of a sample whose configuration is known; give \
                                 the sample's configuration with --config"
                            .into(),
                    })?;
                known_config = serde_json::from_str::<Value>(k.config)
                    .map_err(|e| bad_config(schedule, format!("known configuration: {e}")))?;
                &known_config
            }
            (None, None) => return Err(Error::NeedsSeed(family)),
        };
        let (key, entries) = parse_config(schedule, config)?;
        let canon = canonical(&key, &entries);
        // A published configuration prints as its sample's MD5 (or the
        // same MD5 as the user typed it); anything else carries its hash,
        // so that a label (even a known MD5) given to another
        // configuration never prints like it.
        let published = schedule.known().iter().find(|k| {
            known_canonical(schedule, k).as_deref() == Some(canon.as_str())
                && label
                    .as_deref()
                    .is_none_or(|l| k.seed.eq_ignore_ascii_case(l))
        });
        let printed = match (published, label) {
            (Some(k), label) => label.unwrap_or_else(|| k.seed.to_string()),
            (None, label) => {
                let base = label.unwrap_or_else(|| {
                    // No label given: name the configuration by its key.
                    format!("key-{}", hex::encode(&Sha256::digest(&key)[..4]))
                });
                format!(
                    "{base}{CFG_TAG}{}",
                    hex::encode(&Sha256::digest(canon.as_bytes())[..CFG_HASH_BYTES])
                )
            }
        };
        if let Some(h) = label_hash {
            let ours = printed.split_once(CFG_TAG).map(|(_, h)| h);
            if ours.is_none_or(|ours| !h.eq_ignore_ascii_case(ours)) {
                return Err(Error::BadSeed {
                    family,
                    seed: spec.seed.unwrap_or_default().chars().take(80).collect(),
                    reason: match ours {
                        None => format!(
                            "the label's configuration hash {h:?} does not match: this is a \
                             published configuration (give --config with the file the label \
                             was printed for, or the plain label)"
                        ),
                        Some(ours) => format!(
                            "the label's configuration hash {h:?} does not match this \
                             configuration's, {ours} (the label was printed for another \
                             --config)"
                        ),
                    },
                });
            }
        }
        Ok(PandaBanker {
            schedule,
            label: printed,
            state: rc4_schedule(&key),
            entries,
        })
    }

    /// The 10 hex characters every name of `date` starts with.
    fn prefix(&self, date: Date) -> String {
        // The bot works with a 32-bit time; the reference script only runs
        // from 1970 to 2106, where the time fits. Outside, it is truncated
        // to 32 bits as the bot's DWORD arithmetic would.
        let secs = self.schedule.hashed_day(date).wrapping_mul(SECS_PER_DAY) as u32;
        let mut buf = self.state;
        let first = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) ^ secs;
        buf[..4].copy_from_slice(&first.to_le_bytes());
        let digest = Sha256::digest(buf);
        hex::encode(&digest[..HEX_PREFIX_LEN / 2])
    }
}

/// The RC4 key schedule of `key` (non-empty), followed by two zero bytes.
fn rc4_schedule(key: &[u8]) -> [u8; 258] {
    let mut s = [0u8; 258];
    for (i, b) in s.iter_mut().take(256).enumerate() {
        *b = i as u8;
    }
    let mut j: u8 = 0;
    for i in 0..256 {
        j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
        s.swap(i, usize::from(j));
    }
    s
}

/// The key and the `dgaconfigs` entries of a configuration.
fn parse_config(schedule: Schedule, config: &Value) -> Result<(Vec<u8>, Vec<Entry>), Error> {
    let family = format!("{FAMILY_NAME}/{}", schedule.variant());
    check_config_keys(&family, config, CONFIG_KEYS)?;
    let key_text = config_str(&family, config, "key")?
        .ok_or_else(|| bad_config(schedule, "'key' (the base64 RSA public key) is missing"))?;
    let key = decode_key(schedule, key_text)?;
    let entries = parse_dgaconfigs(schedule, config.get("dgaconfigs"))?;
    Ok((key, entries))
}

/// A configuration in a canonical form, for its hash and for comparing it
/// with the published ones: the decoded key (so that line breaks or
/// padding in its base64 do not count) and every entry as the bot uses it
/// (the suffix lowercased, the path kept). No entry holds a newline.
fn canonical(key: &[u8], entries: &[Entry]) -> String {
    let mut c = format!("pandabanker-config-v1\nkey={}\n", hex::encode(key));
    for e in entries {
        c.push_str("dgaconfig=");
        c.push_str(&e.suffix);
        c.push_str(&e.path);
        c.push('\n');
    }
    c
}

/// The canonical form of a published configuration (`None` if the table
/// entry does not parse, which a test rules out).
fn known_canonical(schedule: Schedule, k: &Known) -> Option<String> {
    let config: Value = serde_json::from_str(k.config).ok()?;
    let (key, entries) = parse_config(schedule, &config).ok()?;
    Some(canonical(&key, &entries))
}

/// Decodes the base64 key (standard alphabet, padding optional, ASCII
/// whitespace such as PEM line breaks ignored).
fn decode_key(schedule: Schedule, text: &str) -> Result<Vec<u8>, Error> {
    if text.len() > MAX_KEY_B64_LEN {
        return Err(bad_config(
            schedule,
            format!(
                "'key' is {} characters, more than {MAX_KEY_B64_LEN}",
                text.len()
            ),
        ));
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let key = engine
        .decode(compact.as_bytes())
        .map_err(|e| bad_config(schedule, format!("'key' is not base64: {e}")))?;
    if key.is_empty() {
        return Err(bad_config(schedule, "'key' is empty"));
    }
    Ok(key)
}

/// The `dgaconfigs` list: each entry's domain suffix must make a DNS name
/// once appended to the 10 hex characters.
fn parse_dgaconfigs(schedule: Schedule, v: Option<&Value>) -> Result<Vec<Entry>, Error> {
    let Some(items) = v.filter(|v| !v.is_null()) else {
        return Err(bad_config(
            schedule,
            "'dgaconfigs' (the list of suffixes) is missing",
        ));
    };
    let Some(items) = items.as_array() else {
        return Err(bad_config(
            schedule,
            "'dgaconfigs' must be a list of strings",
        ));
    };
    if items.is_empty() {
        return Err(bad_config(schedule, "'dgaconfigs' is empty"));
    }
    if items.len() > MAX_DGACONFIGS {
        return Err(bad_config(
            schedule,
            format!(
                "'dgaconfigs' has {} entries, more than {MAX_DGACONFIGS}",
                items.len()
            ),
        ));
    }
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(s) = item.as_str() else {
            return Err(bad_config(
                schedule,
                format!("'dgaconfigs'[{i}] is not a string"),
            ));
        };
        let shown: String = s.chars().take(80).collect();
        let bad = |why: &str| bad_config(schedule, format!("'dgaconfigs'[{i}] {shown:?}: {why}"));
        if s.len() > MAX_DGACONFIG_LEN {
            return Err(bad(&format!("longer than {MAX_DGACONFIG_LEN} characters")));
        }
        let (suffix, path) = match s.find('/') {
            Some(at) => s.split_at(at),
            None => (s, ""),
        };
        if !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "the URL path has spaces, control or non-ASCII characters",
            ));
        }
        let domain_len = HEX_PREFIX_LEN + suffix.len();
        // The hex prefix and the suffix's first label form one label.
        let first_label = HEX_PREFIX_LEN + suffix.find('.').unwrap_or(suffix.len());
        let labels_ok = suffix
            .split('.')
            .skip(1)
            .all(|l| !l.is_empty() && l.len() <= MAX_LABEL_BYTES);
        if !suffix.contains('.')
            || !suffix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            || domain_len > MAX_NAME_LEN
            || first_label > MAX_LABEL_BYTES
            || !labels_ok
        {
            return Err(bad(
                "the part before '/' does not make a DNS name after the 10 hex characters \
                 (a suffix such as d4.com: letters, digits, '-', non-empty labels)",
            ));
        }
        entries.push(Entry {
            suffix: suffix.to_ascii_lowercase(),
            path: path.to_string(),
        });
    }
    Ok(entries)
}

/// A `--seed` label: the label, and the configuration hash after it when
/// the seed is a label a run printed (`my-sample/cfg-1a2b3c4d`).
fn parse_label(family: &str, s: &str) -> Result<(String, Option<String>), Error> {
    let t = s.trim();
    let (t, hash) = match t.split_once(CFG_TAG) {
        Some((l, h)) => (l, Some(h.to_string())),
        None => (t, None),
    };
    if t.is_empty()
        || t.len() > MAX_LABEL_LEN
        || !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
    {
        return Err(Error::BadSeed {
            family: family.to_string(),
            seed: s.chars().take(MAX_LABEL_LEN).collect(),
            reason: format!(
                "a label is 1-{MAX_LABEL_LEN} letters, digits, '.', '_', ':' or '-' (optionally \
                 followed by the /cfg-<hash> a run printed)"
            ),
        });
    }
    Ok((t.to_string(), hash))
}

impl Dga for PandaBanker {
    fn family(&self) -> &'static str {
        FAMILY_NAME
    }

    fn variant(&self) -> &'static str {
        self.schedule.variant()
    }

    fn seed(&self) -> String {
        self.label.clone()
    }

    fn period(&self, date: Date) -> Option<i64> {
        Some(self.schedule.hashed_day(date))
    }

    fn generate(&self, date: Date, out: &mut Vec<String>) {
        let prefix = self.prefix(date);
        out.extend(self.entries.iter().map(|e| format!("{prefix}{}", e.suffix)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn gen_for(dga: &dyn Dga, d: Date) -> Vec<String> {
        let mut v = Vec::new();
        dga.generate(d, &mut v);
        v
    }

    fn known(variant: &str) -> Box<dyn Dga> {
        FAMILY
            .variant(variant)
            .unwrap()
            .known_generators()
            .unwrap()
            .pop()
            .unwrap()
    }

    #[test]
    fn rc4_schedule_matches_the_rfc_6229_key_0102030405() {
        // RC4 with key 01 02 03 04 05: the first keystream bytes are
        // b2 39 63 05 f0 3d c0 27 (RFC 6229, offset 0). Run the PRGA over
        // our schedule to check it.
        let s = rc4_schedule(&[1, 2, 3, 4, 5]);
        assert_eq!(&s[256..], &[0, 0]);
        let mut s: Vec<u8> = s[..256].to_vec();
        let (mut i, mut j) = (0u8, 0u8);
        let mut ks = Vec::new();
        for _ in 0..8 {
            i = i.wrapping_add(1);
            j = j.wrapping_add(s[usize::from(i)]);
            s.swap(usize::from(i), usize::from(j));
            ks.push(s[usize::from(s[usize::from(i)].wrapping_add(s[usize::from(j)]))]);
        }
        assert_eq!(ks, [0xb2, 0x39, 0x63, 0x05, 0xf0, 0x3d, 0xc0, 0x27]);
    }

    #[test]
    fn seed_alone_selects_the_known_sample() {
        let v = FAMILY.variant("daily").unwrap();
        let dga = (v.build)(&Spec {
            seed: Some("EB414D3972889504AB18CC1E2DF391F9"),
            config: None,
        })
        .unwrap();
        assert_eq!(dga.seed(), "EB414D3972889504AB18CC1E2DF391F9");
        assert_eq!(
            gen_for(&*dga, date!(2016 - 09 - 15)),
            gen_for(&*known("daily"), date!(2016 - 09 - 15))
        );
        // The 2.2.9 sample is not a daily one.
        assert!(matches!(
            (v.build)(&Spec {
                seed: Some("81876f471f75a690abbde4de029ba7ab"),
                config: None
            }),
            Err(Error::BadSeed { .. })
        ));
    }

    #[test]
    fn urls_keep_the_path_and_generate_gives_the_domain() {
        let k = &KNOWN_DAILY[0];
        let cfg: Value = serde_json::from_str(k.config).unwrap();
        let spec = Spec {
            seed: None,
            config: Some(&cfg),
        };
        let d = date!(2016 - 09 - 15);
        let u = urls("daily", &spec, d).unwrap();
        let dga = (FAMILY.variant("daily").unwrap().build)(&spec).unwrap();
        let names = gen_for(&*dga, d);
        assert_eq!(u.len(), 4);
        for (url, name) in u.iter().zip(&names) {
            assert_eq!(url.split('/').next().unwrap(), name);
            assert!(url.len() > name.len() + 1);
        }
        // The published configuration, without a label: its sample's MD5.
        assert_eq!(dga.seed(), k.seed);
        assert!(urls("nope", &spec, d).is_err());
    }

    #[test]
    fn period_is_exact_over_years() {
        for variant in ["daily", "v2.2.9"] {
            let dga = known(variant);
            crate::testing::check_periods(
                &*dga,
                date!(2014 - 12 - 01),
                date!(2021 - 03 - 31),
                false,
            );
            assert_eq!(gen_for(&*dga, date!(2016 - 11 - 30)).len(), 4);
        }
    }

    #[test]
    fn v229_month_ends_group_as_the_oracle_does() {
        // dga_version_2.2.9.py with the 2.2.9 sample's key and
        // "47.com/rcfig.dat" (run with python2 over these dates) changes
        // names exactly between the groups below: after 31-day months and
        // February the 1st and 2nd stand alone, after a 30-day month they
        // share the 30th's names.
        let dga = known("v2.2.9");
        let groups: &[&[Date]] = &[
            &[date!(2017 - 01 - 28), date!(2017 - 01 - 29)],
            &[date!(2017 - 01 - 30), date!(2017 - 01 - 31)],
            &[date!(2017 - 02 - 01), date!(2017 - 02 - 02)],
            &[date!(2017 - 02 - 27), date!(2017 - 02 - 28)],
            &[date!(2017 - 03 - 01), date!(2017 - 03 - 02)],
            &[
                date!(2016 - 02 - 27),
                date!(2016 - 02 - 28),
                date!(2016 - 02 - 29),
            ],
            &[date!(2016 - 03 - 01), date!(2016 - 03 - 02)],
            &[date!(2017 - 04 - 28), date!(2017 - 04 - 29)],
            &[
                date!(2017 - 04 - 30),
                date!(2017 - 05 - 01),
                date!(2017 - 05 - 02),
            ],
            &[date!(2017 - 05 - 03), date!(2017 - 05 - 04)],
        ];
        let oracle_first = [
            "2a2f6d426347.com",
            "5900c95fc547.com",
            "4f09abf9cc47.com",
            "16ad33e1c347.com",
            "d928bf549f47.com",
            "53db9eab2b47.com",
            "5a8ce7dd0b47.com",
            "29991066e847.com",
            "a57fa78db047.com",
            "50a709d38547.com",
        ];
        let mut keys = std::collections::BTreeSet::new();
        for (group, want) in groups.iter().zip(oracle_first) {
            let key = dga.period(group[0]).unwrap();
            assert!(keys.insert(key), "{}: a period of its own", group[0]);
            for &d in *group {
                assert_eq!(dga.period(d), Some(key), "{d}");
                assert_eq!(gen_for(&*dga, d)[0], want, "{d}");
            }
        }
    }

    #[test]
    fn labels_tell_configurations_apart() {
        let label = |variant: &str, seed: Option<&str>, cfg: Option<&Value>| {
            (FAMILY.variant(variant).unwrap().build)(&Spec { seed, config: cfg }).map(|d| d.seed())
        };
        let daily: Value = serde_json::from_str(KNOWN_DAILY[0].config).unwrap();
        let md5 = KNOWN_DAILY[0].seed;
        // The published configuration: its MD5, however it is selected.
        assert_eq!(label("daily", Some(md5), None).unwrap(), md5);
        assert_eq!(label("daily", None, Some(&daily)).unwrap(), md5);
        assert_eq!(label("daily", Some(md5), Some(&daily)).unwrap(), md5);
        // Its key with line breaks and without padding is the same key.
        let mut wrapped = daily.clone();
        let key = daily["key"].as_str().unwrap();
        wrapped["key"] = json!(format!(
            "{}\n{}",
            &key[..64],
            key[64..].trim_end_matches('=')
        ));
        assert_eq!(label("daily", None, Some(&wrapped)).unwrap(), md5);

        let mut other_entries = daily.clone();
        other_entries["dgaconfigs"] = json!(["d4.com/rcnfig.dat"]);
        let mut other_path = daily.clone();
        other_path["dgaconfigs"][0] = json!("d4.com/other.dat");
        let mut seen = std::collections::BTreeSet::from([md5.to_string()]);
        for (seed, cfg) in [
            // A known MD5 given to another configuration is not that MD5.
            (Some(md5), &other_entries),
            (Some("EB414D3972889504AB18CC1E2DF391F9"), &other_path),
            // Another sample's MD5 with this configuration either.
            (Some(KNOWN_V229[0].seed), &daily),
            (Some("my-sample"), &daily),
            (Some("my-sample"), &other_entries),
            // Without a label, the same key with other dgaconfigs differs.
            (None, &other_entries),
            (None, &other_path),
        ] {
            let l = label("daily", seed, Some(cfg)).unwrap();
            let (base, hash) = l.split_once(CFG_TAG).unwrap_or_else(|| panic!("{l}"));
            assert_eq!(hash.len(), 2 * CFG_HASH_BYTES, "{l}");
            assert_eq!(base, seed.unwrap_or(&l[..12]), "{l}");
            assert!(seen.insert(l.to_ascii_lowercase()), "{l} printed twice");
            // The printed label is accepted back with its configuration
            // and refused with another, or none.
            assert_eq!(label("daily", Some(&l), Some(cfg)).unwrap(), l);
            let another = if cfg == &daily { &other_path } else { &daily };
            assert!(matches!(
                label("daily", Some(&l), Some(another)),
                Err(Error::BadSeed { .. })
            ));
            assert!(matches!(
                label("daily", Some(&l), None),
                Err(Error::BadSeed { .. })
            ));
        }
        // The same configuration under v2.2.9 is not its published one.
        let l = label("v2.2.9", Some(md5), Some(&daily)).unwrap();
        assert!(l.starts_with(&format!("{md5}{CFG_TAG}")), "{l}");
    }

    #[test]
    fn v229_periods_follow_the_day_of_month() {
        let dga = known("v2.2.9");
        let p = |d| dga.period(d).unwrap();
        // The 1st and 2nd take the previous month's last day.
        assert_eq!(p(date!(2016 - 03 - 01)), day_number(date!(2016 - 02 - 29)));
        assert_eq!(p(date!(2016 - 03 - 02)), day_number(date!(2016 - 02 - 29)));
        assert_eq!(p(date!(2016 - 03 - 03)), day_number(date!(2016 - 03 - 03)));
        assert_eq!(p(date!(2016 - 03 - 05)), day_number(date!(2016 - 03 - 03)));
        assert_eq!(p(date!(2016 - 12 - 31)), day_number(date!(2016 - 12 - 30)));
        assert_eq!(p(date!(2017 - 01 - 01)), day_number(date!(2016 - 12 - 31)));
        assert_ne!(p(date!(2016 - 12 - 31)), p(date!(2017 - 01 - 01)));
    }

    #[test]
    fn dates_outside_the_32_bit_time_do_not_panic() {
        for variant in ["daily", "v2.2.9"] {
            let dga = known(variant);
            for d in [
                date!(-9999 - 01 - 01),
                date!(1970 - 01 - 01),
                date!(9999 - 12 - 31),
            ] {
                assert_eq!(gen_for(&*dga, d).len(), 4);
            }
        }
    }

    #[test]
    fn suffixes_are_lowercased() {
        let cfg = json!({"key": "AQID", "dgaconfigs": ["AB.Example.COM/Path.DAT"]});
        let spec = Spec {
            seed: Some("my-sample"),
            config: Some(&cfg),
        };
        let dga = (FAMILY.variant("daily").unwrap().build)(&spec).unwrap();
        assert!(dga.seed().starts_with("my-sample/cfg-"), "{}", dga.seed());
        let n = gen_for(&*dga, date!(2020 - 02 - 29));
        assert_eq!(n.len(), 1);
        assert!(n[0].ends_with("ab.example.com"), "{}", n[0]);
        let u = urls("daily", &spec, date!(2020 - 02 - 29)).unwrap();
        assert!(u[0].ends_with("ab.example.com/Path.DAT"), "{}", u[0]);
    }

    #[test]
    fn bad_seeds_and_configs_are_rejected() {
        let v = FAMILY.variant("daily").unwrap();
        assert!(matches!(
            (v.build)(&Spec::default()),
            Err(Error::NeedsSeed(_))
        ));
        let good = json!({"key": "AQID", "dgaconfigs": ["d4.com"]});
        for s in ["", "deadbeef", "a b", &"x".repeat(100_000)] {
            let alone = (v.build)(&Spec {
                seed: Some(s),
                config: None,
            });
            assert!(matches!(alone, Err(Error::BadSeed { .. })), "{s:.20}");
        }
        for s in ["", "a b", "é", &"x".repeat(65)] {
            let with = (v.build)(&Spec {
                seed: Some(s),
                config: Some(&good),
            });
            assert!(matches!(with, Err(Error::BadSeed { .. })), "{s:.20}");
        }
        for cfg in [
            json!("key"),
            json!({}),
            json!({"key": "AQID"}),
            json!({"key": "AQID", "dgaconfigs": []}),
            json!({"key": "AQID", "dgaconfigs": "d4.com"}),
            json!({"key": "AQID", "dgaconfigs": [4]}),
            json!({"key": "AQID", "dgaconfigs": [""]}),
            json!({"key": "AQID", "dgaconfigs": ["/x.dat"]}),
            json!({"key": "AQID", "dgaconfigs": ["d4..com"]}),
            json!({"key": "AQID", "dgaconfigs": ["d4.com."]}),
            json!({"key": "AQID", "dgaconfigs": ["d4 .com"]}),
            json!({"key": "AQID", "dgaconfigs": ["d4.com/a b"]}),
            json!({"key": "AQID", "dgaconfigs": [format!("{}.com", "a".repeat(60))]}),
            json!({"key": "AQID", "dgaconfigs": [format!("a{}", ".b".repeat(130))]}),
            json!({"key": "AQID", "dgaconfigs": ["com"]}),
            json!({"key": "AQID", "dgaconfigs": vec!["d4.com"; 257]}),
            json!({"key": "", "dgaconfigs": ["d4.com"]}),
            json!({"key": "!!!!", "dgaconfigs": ["d4.com"]}),
            json!({"key": 5, "dgaconfigs": ["d4.com"]}),
            json!({"key": "A".repeat(MAX_KEY_B64_LEN + 1), "dgaconfigs": ["d4.com"]}),
            json!({"key": "AQID", "dgaconfigs": ["d4.com"], "extra": 1}),
        ] {
            let r = (v.build)(&Spec {
                seed: None,
                config: Some(&cfg),
            });
            assert!(matches!(r, Err(Error::BadConfig { .. })), "{cfg:.100}");
        }
        // The entry "d4.com" alone (no path) and a key with PEM line
        // breaks and no padding are fine.
        let ok = json!({"key": "AQIDBA\n", "dgaconfigs": ["d4.com"]});
        assert!(
            (v.build)(&Spec {
                seed: None,
                config: Some(&ok)
            })
            .is_ok()
        );
    }
}
