//! The custody log: who did what to the evidence, when, on which host and
//! with which tool, as a hash chain of entries each signed by the examiner
//! who held the case at that point.
//!
//! One entry a file, `custody/<seq>.json` (one line of compact JSON and a
//! newline; `seq` from `000001`), beside `custody/<seq>.json.sig`, an
//! armored SSHSIG signature over the exact bytes of the `.json` file
//! (namespace [`crate::SIG_NAMESPACE`], SHA-512). Each entry names the
//! SHA-256 of the previous entry file's bytes (`prev`; 64 zeros for the
//! first), so no entry can be edited, removed from the middle or moved
//! without breaking the chain. `custody/allowed_signers` lists every key
//! the log authorised, so that OpenSSH checks any entry on its own:
//!
//! ```text
//! ssh-keygen -Y verify -f custody/allowed_signers -I PRINCIPAL \
//!     -n takedown-custody@takedown -s custody/000002.json.sig < custody/000002.json
//! ```
//!
//! **Holders.** The init entry's key is the first holder's. A transfer
//! entry's `what` is `{"to": NAME, "to_key": KEY}` (`to_key` optional, an
//! OpenSSH Ed25519 public key): after it, only `to_key` signs; without
//! `to_key` the giver's key goes on signing for the new holder. Every
//! entry, a transfer included, is signed by the key that held the case
//! just before it.
//!
//! **Principals.** `allowed_signers` has one line per key, in the order
//! the log introduced them: `PRINCIPALS namespaces="takedown-custody@takedown"
//! ssh-ed25519 AAAA...`, where PRINCIPALS are the names the key was given
//! (the init's `actor`, a transfer's `to`) each mapped by [`principal`]:
//! every character other than an ASCII letter, digit or one of `.-_@+`
//! becomes `_`, the result is cut to [`MAX_PRINCIPAL_LEN`] characters and
//! an empty name becomes `examiner` (so a name can neither break the line
//! nor act as an OpenSSH pattern). [`principal_of_key`] gives the one to
//! pass to `ssh-keygen -I` for an entry.
//!
//! **Crash safety.** [`append`] writes the signature first and the entry
//! last, each through a temporary file that is synced and renamed, so an
//! entry never exists without its signature; the rename of the `.json` is
//! the commit point. [`recover`] removes what an interrupted append left.
//! The caller holds the case lock: two appenders at once are refused, not
//! serialised, here.
//!
//! **What the log alone cannot show.** An entry removed from the *end*
//! leaves a shorter log that is intact in itself: every remaining entry
//! verifies and chains. [`check`] cannot catch that, and neither can the
//! tag manifests (rewritten by whoever removed it) or the older
//! timestamps (which never listed it): only what lies outside the package
//! can, such as the archive's SHA-256 that `seal` prints.

use crate::contents::BagContents;
use crate::keys::{self, Signer};
use crate::{CUSTODY_DIR, Error, Problem, seq_name};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// The value of every entry's `format`.
pub const FORMAT: &str = "takedown-custody/1";

/// The file (in [`CUSTODY_DIR`]) listing the keys for `ssh-keygen`.
pub const ALLOWED_SIGNERS: &str = "allowed_signers";

/// `prev` of the first entry.
pub const ZERO_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The longest principal written to `allowed_signers`; a longer name is
/// cut, so that a hostile or careless name cannot make a huge line.
pub const MAX_PRINCIPAL_LEN: usize = 64;

/// The largest entry file read from a case directory. takedown writes
/// entries of a few KiB (the `what` of an add lists counts, not items); a
/// planted huge file is refused instead of read into memory.
const MAX_ENTRY_BYTES: u64 = 1024 * 1024;

/// Names of the steps of [`append`], as fault points for the kill tests
/// (`TAKEDOWN_FAULT=custody:signed` and so on).
const FAULT_SIGNED: &str = "custody:signed";
const FAULT_COMMITTED: &str = "custody:committed";
const FAULT_SIGNERS: &str = "custody:signers";

/// What happened, one kind a custody entry.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// The case was opened.
    Init,
    /// Items were acquired.
    Add,
    /// The case was verified.
    Verify,
    /// The case was handed over to another examiner.
    Transfer,
    /// Something was exported from the case.
    Export,
    /// The case was sealed into a package.
    Seal,
}

impl Event {
    /// The name as it appears in entries (`init`, `add`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Event::Init => "init",
            Event::Add => "add",
            Event::Verify => "verify",
            Event::Transfer => "transfer",
            Event::Export => "export",
            Event::Seal => "seal",
        }
    }
}

/// One custody entry, as stored in `custody/<seq>.json` (fields in this
/// order, one line of compact JSON).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Entry {
    /// Always [`FORMAT`].
    pub format: String,
    /// Its number, from 1, equal to its file name.
    pub seq: u64,
    /// What happened.
    pub event: Event,
    /// When, RFC 3339 in UTC.
    pub time: String,
    /// The case.
    pub case_id: String,
    /// Who did it.
    pub actor: String,
    /// The OpenSSH public key (`ssh-ed25519 AAAA...`) that signed it.
    pub key: String,
    /// The host it was done on.
    pub host: String,
    /// The tool and its version.
    pub tool: String,
    /// What was done (event-specific; for a transfer `{"to": NAME,
    /// "to_key": KEY}`).
    pub what: serde_json::Value,
    /// Why, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// SHA-256 (hex) of the previous entry file's bytes; [`ZERO_PREV`] for
    /// the first.
    pub prev: String,
}

/// What a caller wants logged; [`append`] adds the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// What happened.
    pub event: Event,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub what: serde_json::Value,
    /// Why, when given.
    pub why: Option<String>,
}

/// Who holds a case: the examiner's name and the key that signs for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The holder's name (the init's `actor`, then each transfer's `to`).
    pub name: String,
    /// The OpenSSH public key that signs the next entry.
    pub key: String,
}

/// A key the log authorised, as `allowed_signers` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorised {
    /// The names it was given, in order, each as [`principal`] maps it.
    pub principals: Vec<String>,
    /// The OpenSSH public key.
    pub key: String,
    /// The entry that introduced it.
    pub since: u64,
}

/// The principal a name gets in `allowed_signers` (see the module doc).
pub fn principal(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '+') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_PRINCIPAL_LEN)
        .collect();
    if mapped.is_empty() {
        "examiner".to_string()
    } else {
        mapped
    }
}

/// The recipient of a transfer entry's `what`: the name and, when given,
/// the new key (as written, not yet checked).
fn transfer_target(what: &serde_json::Value) -> Result<(String, Option<String>), String> {
    let to = what
        .get("to")
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or("a transfer that names no recipient (`what.to`)")?;
    let key = match what.get("to_key") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("a transfer whose `what.to_key` is not a string".into()),
    };
    Ok((to.to_string(), key))
}

/// The holder after `entries` (a log read in order), or `None` for a log
/// that does not begin with an init.
pub fn holder(entries: &[Entry]) -> Option<Holder> {
    let first = entries.first().filter(|e| e.event == Event::Init)?;
    let mut h = Holder {
        name: first.actor.clone(),
        key: first.key.clone(),
    };
    for e in entries.iter().skip(1) {
        if e.event == Event::Transfer
            && let Ok((to, key)) = transfer_target(&e.what)
        {
            h.name = to;
            if let Some(k) = key {
                h.key = k;
            }
        }
    }
    Some(h)
}

/// Every key `entries` authorise, in the order they were introduced (the
/// init's key, then each transfer's `to_key`), one per key.
pub fn authorised(entries: &[Entry]) -> Vec<Authorised> {
    let mut out: Vec<Authorised> = Vec::new();
    let mut add = |name: &str, key: &str, since: u64| {
        let p = principal(name);
        match out.iter_mut().find(|a| keys::same_key(&a.key, key)) {
            Some(a) => {
                if !a.principals.contains(&p) {
                    a.principals.push(p);
                }
            }
            None => out.push(Authorised {
                principals: vec![p],
                key: key.to_string(),
                since,
            }),
        }
    };
    for e in entries {
        match e.event {
            Event::Init => add(&e.actor, &e.key, e.seq),
            Event::Transfer => {
                if let Ok((to, Some(key))) = transfer_target(&e.what) {
                    add(&to, &key, e.seq);
                }
            }
            _ => {}
        }
    }
    out
}

/// The principal to give `ssh-keygen -Y verify -I` for an entry signed by
/// `key` (the first name the key was given), or `None` if no entry
/// authorised it.
pub fn principal_of_key(entries: &[Entry], key: &str) -> Option<String> {
    authorised(entries)
        .into_iter()
        .find(|a| keys::same_key(&a.key, key))
        .and_then(|a| a.principals.into_iter().next())
}

/// The text of `custody/allowed_signers` for `entries`.
pub fn allowed_signers_text(entries: &[Entry]) -> String {
    let mut text = String::from(
        "# Keys authorised by this case's custody log (its init and transfer entries),\n\
         # for `ssh-keygen -Y verify -f custody/allowed_signers -I PRINCIPAL \
         -n takedown-custody@takedown`.\n",
    );
    for a in authorised(entries) {
        text.push_str(&format!(
            "{} namespaces=\"{}\" {}\n",
            a.principals.join(","),
            crate::SIG_NAMESPACE,
            a.key
        ));
    }
    text
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bag path of entry `seq` (`custody/000003.json`).
pub fn entry_path(seq: u64) -> String {
    format!("{CUSTODY_DIR}/{}.json", seq_name(seq))
}

/// The bag path of entry `seq`'s signature (`custody/000003.json.sig`).
pub fn sig_path(seq: u64) -> String {
    format!("{}.sig", entry_path(seq))
}

/// A name in `custody/`, classified.
#[derive(Debug, PartialEq, Eq)]
enum Name {
    Entry(u64),
    Sig(u64),
    Signers,
    Tmp,
    Other,
}

/// The seq of a canonical entry file stem (`000003`), if it is one.
fn parse_seq(stem: &str) -> Option<u64> {
    if !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: u64 = stem.parse().ok()?;
    // Only the name takedown writes counts: `3.json` or `0000003.json`
    // would be a second file for the same entry.
    (seq >= 1 && seq_name(seq) == stem).then_some(seq)
}

fn classify(name: &str) -> Name {
    if name == ALLOWED_SIGNERS {
        Name::Signers
    } else if name.ends_with(".tmp") {
        Name::Tmp
    } else if let Some(seq) = name.strip_suffix(".json.sig").and_then(parse_seq) {
        Name::Sig(seq)
    } else if let Some(seq) = name.strip_suffix(".json").and_then(parse_seq) {
        Name::Entry(seq)
    } else {
        Name::Other
    }
}

/// What is in a case directory's `custody/`.
#[derive(Default)]
struct Listing {
    entries: BTreeSet<u64>,
    sigs: BTreeSet<u64>,
    tmps: Vec<String>,
    signers: bool,
}

fn list(case_dir: &Path) -> Result<Listing, Error> {
    let dir = case_dir.join(CUSTODY_DIR);
    let mut out = Listing::default();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(format!("listing {}", dir.display()), &e)),
    };
    for item in rd {
        let item = item.map_err(|e| Error::io(format!("listing {}", dir.display()), &e))?;
        let name = item.file_name();
        // A name that is not UTF-8 is none of ours; check reports it in a
        // bag, and here it is simply not part of the log.
        let Some(name) = name.to_str() else { continue };
        match classify(name) {
            Name::Entry(seq) => {
                out.entries.insert(seq);
            }
            Name::Sig(seq) => {
                out.sigs.insert(seq);
            }
            Name::Signers => out.signers = true,
            Name::Tmp => out.tmps.push(name.to_string()),
            Name::Other => {}
        }
    }
    Ok(out)
}

/// Reads one entry file of a case directory, bounded.
fn read_entry_file(case_dir: &Path, seq: u64) -> Result<(Entry, Vec<u8>), Error> {
    let rel = entry_path(seq);
    let path = case_dir.join(&rel);
    let file = std::fs::File::open(&path).map_err(|e| Error::io(format!("opening {rel}"), &e))?;
    let mut bytes = Vec::new();
    file.take(MAX_ENTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("reading {rel}"), &e))?;
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return Err(Error::Invalid(format!(
            "{rel}: larger than {MAX_ENTRY_BYTES} bytes, not a custody entry"
        )));
    }
    let entry: Entry = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Invalid(format!("{rel}: not a custody entry: {e}")))?;
    if entry.seq != seq {
        return Err(Error::Invalid(format!(
            "{rel}: says it is entry {}, but is stored as {}",
            entry.seq,
            seq_name(seq)
        )));
    }
    Ok((entry, bytes))
}

/// The log with each entry's file hash, checked to be numbered 1..n.
fn read_chain(case_dir: &Path) -> Result<Vec<(Entry, String)>, Error> {
    let listing = list(case_dir)?;
    let mut out = Vec::with_capacity(listing.entries.len());
    for (i, &seq) in listing.entries.iter().enumerate() {
        let expected = i as u64 + 1;
        if seq != expected {
            let before = if expected == 1 {
                "the log has no first entry".to_string()
            } else {
                format!("the log stops at {}", seq_name(expected - 1))
            };
            return Err(Error::Invalid(format!(
                "{} is missing: {before} but {} exists (run `takedown evidence verify`)",
                entry_path(expected),
                seq_name(seq)
            )));
        }
        let (entry, bytes) = read_entry_file(case_dir, seq)?;
        out.push((entry, sha256_hex(&bytes)));
    }
    Ok(out)
}

/// The custody log of a case directory, in order. Fails, naming the file,
/// on a gap, an unreadable entry or one stored under another number; it
/// does not check signatures (that is [`check`]'s work).
pub fn read_log(case_dir: &Path) -> Result<Vec<Entry>, Error> {
    Ok(read_chain(case_dir)?.into_iter().map(|(e, _)| e).collect())
}

/// The last entry of a case directory's log and the SHA-256 of its file,
/// or `None` for an empty log.
pub fn last(case_dir: &Path) -> Result<Option<(Entry, String)>, Error> {
    let listing = list(case_dir)?;
    let Some(&seq) = listing.entries.last() else {
        return Ok(None);
    };
    let (entry, bytes) = read_entry_file(case_dir, seq)?;
    Ok(Some((entry, sha256_hex(&bytes))))
}

/// Writes `bytes` to `dir/name` atomically ([`crate::write_atomic`]: its
/// temporary file ends in `.tmp`, which [`recover`] removes), so that after
/// a crash `name` is either absent (or as it was) or whole and durable.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    crate::write_atomic(&dir.join(name), bytes)
}

/// Checks `draft` against the log it is to extend and returns the `what`
/// to store (a transfer's `to_key` normalised to the bare key).
fn checked_what(log: &[(Entry, String)], draft: &Draft) -> Result<serde_json::Value, Error> {
    match (log.is_empty(), draft.event) {
        (true, Event::Init) => {
            if draft.actor.trim().is_empty() {
                return Err(Error::Refused(
                    "the init entry needs the examiner's name".into(),
                ));
            }
        }
        (true, other) => {
            return Err(Error::Refused(format!(
                "the custody log is empty: its first entry must be an init, not an {}",
                other.as_str()
            )));
        }
        (false, Event::Init) => {
            return Err(Error::Refused(format!(
                "the custody log already begins with {}: a case has one init",
                entry_path(1)
            )));
        }
        (false, _) => {}
    }
    let mut what = draft.what.clone();
    if draft.event == Event::Transfer {
        let (_, key) = transfer_target(&what).map_err(Error::Refused)?;
        if let Some(key) = key {
            let bare = keys::normalize_ed25519(&key)
                .map_err(|e| Error::Refused(format!("the recipient's key is {e}")))?;
            if let Some(obj) = what.as_object_mut() {
                obj.insert("to_key".into(), serde_json::Value::String(bare));
            }
        }
    }
    Ok(what)
}

/// Appends an entry for `draft`, signed by `signer`, to the log of
/// `case_dir` (created with the init entry) and returns it.
///
/// Refused, with nothing written, when `signer` is not the holder's key,
/// when the first entry is not an init (or a second init is asked for),
/// or when a transfer names no recipient or an unusable key. Writes the
/// signature, then the entry (the commit point), then, when an init or a
/// transfer introduces a key, `allowed_signers`.
pub fn append(
    case_dir: &Path,
    signer: &Signer,
    case_id: &str,
    draft: Draft,
) -> Result<Entry, Error> {
    let log = read_chain(case_dir)?;
    let what = checked_what(&log, &draft)?;
    let entries: Vec<Entry> = log.iter().map(|(e, _)| e.clone()).collect();
    let key = signer.public_openssh();
    if let Some(h) = holder(&entries)
        && !keys::same_key(&h.key, &key)
    {
        return Err(Error::Refused(format!(
            "this case is held by {} with the key {}; the key given ({}) is not \
             theirs: only the holder signs custody entries, and a hand-over is \
             recorded by the holder (`takedown evidence transfer --to NAME --to-key KEY`)",
            h.name,
            keys::fingerprint_of(&h.key).unwrap_or_else(|_| h.key.clone()),
            signer.fingerprint()
        )));
    }
    let (seq, prev) = match log.last() {
        Some((e, hash)) => (e.seq + 1, hash.clone()),
        None => (1, ZERO_PREV.to_string()),
    };
    let introduces_key = draft.event == Event::Init
        || (draft.event == Event::Transfer && what.get("to_key").is_some_and(|k| k.is_string()));
    let entry = Entry {
        format: FORMAT.to_string(),
        seq,
        event: draft.event,
        time: crate::now_rfc3339(),
        case_id: case_id.to_string(),
        actor: draft.actor,
        key,
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        tool: crate::tool_version(),
        what,
        why: draft.why,
        prev,
    };
    let mut bytes = serde_json::to_vec(&entry)
        .map_err(|e| Error::Invalid(format!("encoding {}: {e}", entry_path(seq))))?;
    bytes.push(b'\n');
    let sig = signer.sign(&bytes)?;

    let dir = case_dir.join(CUSTODY_DIR);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), &e))?;
    let name = format!("{}.json", seq_name(seq));
    if std::fs::symlink_metadata(dir.join(&name)).is_ok() {
        return Err(Error::Refused(format!(
            "{} appeared while this entry was being written: another takedown is \
             writing this case",
            entry_path(seq)
        )));
    }
    write_atomic(&dir, &format!("{name}.sig"), sig.as_bytes())?;
    takedown_vault::fault::point(FAULT_SIGNED);
    write_atomic(&dir, &name, &bytes)?;
    takedown_vault::fault::point(FAULT_COMMITTED);
    if introduces_key {
        let mut all = entries;
        all.push(entry.clone());
        write_atomic(&dir, ALLOWED_SIGNERS, allowed_signers_text(&all).as_bytes())?;
        takedown_vault::fault::point(FAULT_SIGNERS);
    }
    Ok(entry)
}

/// Finishes or undoes what an interrupted [`append`] left in `case_dir`,
/// and says what it did: removes temporary files, removes the signature of
/// the entry that was never committed (the one after the last entry), and
/// writes `allowed_signers` again if it lacks a key the log authorises (a
/// crash between an entry and that file). Nothing else is touched: a
/// signature or entry out of place is evidence for `verify`, not debris.
pub fn recover(case_dir: &Path) -> Result<Vec<String>, Error> {
    let dir = case_dir.join(CUSTODY_DIR);
    let listing = list(case_dir)?;
    let mut done = Vec::new();
    for tmp in &listing.tmps {
        let path = dir.join(tmp);
        // Only files: a directory named *.tmp is not ours to remove.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            std::fs::remove_file(&path)
                .map_err(|e| Error::io(format!("removing {CUSTODY_DIR}/{tmp}"), &e))?;
            done.push(format!(
                "removed {CUSTODY_DIR}/{tmp}, left by an interrupted custody entry"
            ));
        }
    }
    let next = listing.entries.last().map_or(1, |s| s + 1);
    if listing.sigs.contains(&next) {
        let rel = sig_path(next);
        std::fs::remove_file(case_dir.join(&rel))
            .map_err(|e| Error::io(format!("removing {rel}"), &e))?;
        done.push(format!(
            "removed {rel}: the signature of an entry that was never written \
             (an interrupted custody entry)"
        ));
    }
    if !done.is_empty() {
        crate::sync_dir(&dir).map_err(|e| Error::io(format!("syncing {CUSTODY_DIR}/"), &e))?;
    }
    if listing.entries.is_empty() {
        return Ok(done);
    }
    // A broken log (a gap, an unreadable entry) is for `verify` to report;
    // nothing is derived from it here.
    let Ok(entries) = read_log(case_dir) else {
        return Ok(done);
    };
    let listed = if listing.signers {
        let path = dir.join(ALLOWED_SIGNERS);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading {CUSTODY_DIR}/{ALLOWED_SIGNERS}"), &e))?;
        parse_allowed_signers(&text).0
    } else {
        Vec::new()
    };
    let lacking = authorised(&entries)
        .iter()
        .any(|a| !listed.iter().any(|(_, k)| keys::same_key(k, &a.key)));
    if lacking {
        write_atomic(
            &dir,
            ALLOWED_SIGNERS,
            allowed_signers_text(&entries).as_bytes(),
        )?;
        done.push(format!(
            "wrote {CUSTODY_DIR}/{ALLOWED_SIGNERS} again: it lacked a key that the \
             custody log authorises (an interrupted custody entry)"
        ));
    }
    Ok(done)
}

/// The lines of an `allowed_signers` file as (principals, key), and the
/// numbers of the lines that could not be read.
fn parse_allowed_signers(text: &str) -> (Vec<(Vec<String>, String)>, Vec<usize>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        // principals [options] keytype base64 [comment]: the key type is
        // the first token after the principals that names one.
        let at = tokens
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, t)| t.starts_with("ssh-") || t.starts_with("sk-") || t.starts_with("ecdsa-"))
            .map(|(i, _)| i);
        match (at, tokens.first()) {
            (Some(k), Some(principals)) if k + 1 < tokens.len() => {
                let key = format!("{} {}", tokens[k], tokens[k + 1]);
                let principals = principals
                    .trim_matches('"')
                    .split(',')
                    .map(str::to_string)
                    .collect();
                out.push((principals, key));
            }
            _ => bad.push(i + 1),
        }
    }
    (out, bad)
}

/// A key for messages: its fingerprint, or the text if it is not a key.
fn fp(key: &str) -> String {
    keys::fingerprint_of(key).unwrap_or_else(|_| format!("{key:?} (not a key)"))
}

/// Checks the custody log in `contents` (its `custody/` tag files) and
/// returns what is wrong and the entries that could be read, in order.
///
/// Checked: entries numbered 1..n without gaps, each with its signature;
/// each parses, is of [`FORMAT`] and carries its own number; the `prev`
/// chain; every signature verifies with the entry's `key`; that key is
/// the holder's at that point; the first entry is an init (and the only
/// one); one case id throughout; times never going backwards (an
/// [`Severity::Error`](crate::Severity::Error): clocks of two hosts may
/// disagree, so it shows no alteration, but the order is then not shown
/// either); `allowed_signers` lists every authorised key under its
/// principal and no other key. With `pinned_key`, the init must be signed
/// by that key. Broken chains, signatures and holders are
/// [`Severity::Altered`](crate::Severity::Altered); what cannot be read is
/// an error.
///
/// Not caught here: entries removed from the end (see the module doc).
pub fn check(contents: &BagContents, pinned_key: Option<&str>) -> (Vec<Problem>, Vec<Entry>) {
    let mut problems = Vec::new();
    let mut files: BTreeMap<u64, &[u8]> = BTreeMap::new();
    let mut sigs: BTreeMap<u64, &[u8]> = BTreeMap::new();
    let mut signers: Option<&[u8]> = None;
    let prefix = format!("{CUSTODY_DIR}/");
    for (path, bytes) in &contents.tags {
        let Some(name) = path.strip_prefix(&prefix) else {
            continue;
        };
        match classify(name) {
            Name::Entry(seq) => {
                files.insert(seq, bytes);
            }
            Name::Sig(seq) => {
                sigs.insert(seq, bytes);
            }
            Name::Signers => signers = Some(bytes),
            Name::Tmp => problems.push(Problem::error(
                path,
                "a temporary file of an interrupted custody entry (a takedown \
                 command on the case removes it)",
            )),
            Name::Other => problems.push(Problem::altered(
                path,
                "is not part of the custody log (added to custody/)",
            )),
        }
    }
    if files.is_empty() {
        problems.push(Problem::altered(
            entry_path(1),
            "missing: the bag has no custody log",
        ));
        return (problems, Vec::new());
    }

    // Gaps, reported as ranges so that a planted `custody/999999999.json`
    // makes one problem, not a billion.
    let mut expected = 1u64;
    for &seq in files.keys() {
        if seq > expected {
            let before = if expected == 1 {
                "the log has no first entry".to_string()
            } else {
                format!("the log stops at {}", seq_name(expected - 1))
            };
            // The subject names the first missing entry; the message says
            // how many more are gone.
            let missing = if seq - 1 == expected {
                "missing".to_string()
            } else {
                format!(
                    "missing, and so is every entry up to {}",
                    entry_path(seq - 1)
                )
            };
            problems.push(Problem::altered(
                entry_path(expected),
                format!("{missing}: {before} but {} exists", seq_name(seq)),
            ));
        }
        expected = seq.saturating_add(1);
        if !sigs.contains_key(&seq) {
            problems.push(Problem::altered(
                sig_path(seq),
                format!("missing: entry {} is not signed", seq_name(seq)),
            ));
        }
    }
    for &seq in sigs.keys() {
        if !files.contains_key(&seq) && seq >= expected {
            problems.push(Problem::altered(
                sig_path(seq),
                format!(
                    "a signature without its entry ({} is missing)",
                    entry_path(seq)
                ),
            ));
        }
    }

    let mut entries = Vec::new();
    let mut holder_now: Option<Holder> = None;
    let mut case_id: Option<(String, u64)> = None;
    let mut last_time: Option<(time::OffsetDateTime, u64)> = None;
    let mut prev_seq = 0u64;
    for (&seq, &bytes) in &files {
        let subject = entry_path(seq);
        let contiguous = seq == prev_seq + 1;
        prev_seq = seq;
        if !contiguous {
            // An entry before this one is missing and may have been a
            // transfer: the holder here is unknown, not wrong.
            holder_now = None;
        }
        let entry: Entry = match serde_json::from_slice(bytes) {
            Ok(e) => e,
            Err(e) => {
                // takedown never writes an entry that does not parse: one
                // that has its signature beside it was altered after.
                let signed = contents.tags.contains_key(&sig_path(seq));
                problems.push(if signed {
                    Problem::altered(
                        &subject,
                        format!("not a custody entry any more (its signature is beside it): {e}"),
                    )
                } else {
                    Problem::error(&subject, format!("not a custody entry: {e}"))
                });
                holder_now = None;
                continue;
            }
        };
        if entry.format != FORMAT {
            problems.push(Problem::error(
                &subject,
                format!("format is {:?}, not {FORMAT:?}", entry.format),
            ));
        }
        if entry.seq != seq {
            problems.push(Problem::altered(
                &subject,
                format!(
                    "says it is entry {}, but is stored as {} (entries moved or renamed)",
                    seq_name(entry.seq),
                    seq_name(seq)
                ),
            ));
        }
        // The chain.
        if seq == 1 {
            if entry.prev != ZERO_PREV {
                problems.push(Problem::altered(
                    &subject,
                    format!(
                        "prev is {}, but the first entry's prev is 64 zeros \
                         (entries before it removed?)",
                        entry.prev
                    ),
                ));
            }
        } else if let Some(before) = files.get(&(seq - 1)) {
            let hash = sha256_hex(before);
            if entry.prev != hash {
                problems.push(Problem::altered(
                    &subject,
                    format!(
                        "prev is {}, but {} hashes to {hash}",
                        entry.prev,
                        entry_path(seq - 1)
                    ),
                ));
            }
        }
        // The signature.
        if let Some(sig) = sigs.get(&seq) {
            let verdict = match std::str::from_utf8(sig) {
                Ok(armored) => keys::verify_signature(&entry.key, bytes, armored),
                Err(_) => Err("the signature file is not text".to_string()),
            };
            if let Err(why) = verdict {
                problems.push(Problem::altered(
                    &subject,
                    format!("signature does not verify: {why}"),
                ));
            }
        }
        // Init and holders.
        if seq == 1 {
            if entry.event == Event::Init {
                holder_now = Some(Holder {
                    name: entry.actor.clone(),
                    key: entry.key.clone(),
                });
                if let Some(pinned) = pinned_key
                    && !keys::same_key(pinned, &entry.key)
                {
                    problems.push(Problem::altered(
                        &subject,
                        format!(
                            "the case was opened with the key {}, not the expected {}",
                            fp(&entry.key),
                            fp(pinned)
                        ),
                    ));
                }
            } else {
                problems.push(Problem::altered(
                    &subject,
                    format!(
                        "the first entry is an {}, not an init: the log's beginning \
                         was replaced",
                        entry.event.as_str()
                    ),
                ));
            }
        } else if entry.event == Event::Init {
            problems.push(Problem::altered(
                &subject,
                "a second init: a case has one, in its first entry",
            ));
        }
        match &holder_now {
            Some(h) if !keys::same_key(&h.key, &entry.key) => {
                problems.push(Problem::altered(
                    &subject,
                    format!(
                        "signed by {}, which is not the holder's key {} ({})",
                        fp(&entry.key),
                        fp(&h.key),
                        h.name
                    ),
                ));
            }
            Some(_) => {}
            None => {
                // Unknown after a gap: take this entry's key as the
                // holder's, so that later entries are still checked against
                // something (the gap itself is reported).
                holder_now = Some(Holder {
                    name: entry.actor.clone(),
                    key: entry.key.clone(),
                });
            }
        }
        if entry.event == Event::Transfer {
            match transfer_target(&entry.what) {
                Ok((to, key)) => {
                    let key = match key.map(|k| keys::normalize_ed25519(&k)) {
                        Some(Ok(k)) => Some(k),
                        Some(Err(e)) => {
                            problems.push(Problem::error(
                                &subject,
                                format!("the transfer's to_key is {e}"),
                            ));
                            None
                        }
                        None => None,
                    };
                    if let Some(h) = &mut holder_now {
                        h.name = to;
                        if let Some(k) = key {
                            h.key = k;
                        }
                    }
                }
                Err(e) => problems.push(Problem::error(&subject, e)),
            }
        }
        // Case id and time.
        match &case_id {
            None => case_id = Some((entry.case_id.clone(), seq)),
            Some((id, first)) if *id != entry.case_id => problems.push(Problem::altered(
                &subject,
                format!(
                    "case id is {:?}, but {} says {id:?}",
                    entry.case_id,
                    entry_path(*first)
                ),
            )),
            Some(_) => {}
        }
        match time::OffsetDateTime::parse(
            &entry.time,
            &time::format_description::well_known::Rfc3339,
        ) {
            Ok(t) => {
                if let Some((before, at)) = last_time
                    && t < before
                {
                    problems.push(Problem::error(
                        &subject,
                        format!(
                            "its time {} is before that of {} (clocks of two hosts \
                             differing, or entries out of order)",
                            entry.time,
                            entry_path(at)
                        ),
                    ));
                }
                last_time = Some((t, seq));
            }
            Err(e) => problems.push(Problem::error(
                &subject,
                format!("time {:?} is not RFC 3339: {e}", entry.time),
            )),
        }
        entries.push(entry);
    }

    check_allowed_signers(signers, &entries, &mut problems);
    (problems, entries)
}

/// `allowed_signers` must list every key the log authorises, under its
/// principals, and no other key.
fn check_allowed_signers(signers: Option<&[u8]>, entries: &[Entry], problems: &mut Vec<Problem>) {
    let subject = format!("{CUSTODY_DIR}/{ALLOWED_SIGNERS}");
    let Some(bytes) = signers else {
        problems.push(Problem::altered(
            subject,
            "missing: `ssh-keygen -Y verify` has no keys to check the log with",
        ));
        return;
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        problems.push(Problem::altered(subject, "not text"));
        return;
    };
    let (listed, bad) = parse_allowed_signers(text);
    for line in bad {
        problems.push(Problem::altered(
            &subject,
            format!("line {line} is not an allowed signer (PRINCIPALS [OPTIONS] KEY)"),
        ));
    }
    let wanted = authorised(entries);
    for a in &wanted {
        let lines: Vec<_> = listed
            .iter()
            .filter(|(_, k)| keys::same_key(k, &a.key))
            .collect();
        if lines.is_empty() {
            problems.push(Problem::altered(
                &subject,
                format!(
                    "does not list {}, the key {} authorised: `ssh-keygen -Y verify` \
                     will reject the entries it signed",
                    fp(&a.key),
                    entry_path(a.since)
                ),
            ));
            continue;
        }
        for p in &a.principals {
            if !lines.iter().any(|(ps, _)| ps.contains(p)) {
                problems.push(Problem::altered(
                    &subject,
                    format!("lists {} but not for the principal {p}", fp(&a.key)),
                ));
            }
        }
    }
    for (_, key) in &listed {
        if !wanted.iter().any(|a| keys::same_key(&a.key, key)) {
            problems.push(Problem::altered(
                &subject,
                format!("lists {}, a key no custody entry authorises", fp(key)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Case {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        signer: Signer,
    }

    fn signer(dir: &Path, name: &str) -> Signer {
        Signer::load_or_generate(&dir.join(name)).expect("key").0
    }

    fn case() -> Case {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("case");
        let signer = signer(dir.path(), "k");
        append(
            &path,
            &signer,
            "C-1",
            Draft {
                event: Event::Init,
                actor: "Ann Example".into(),
                what: json!({}),
                why: None,
            },
        )
        .expect("init");
        Case {
            _dir: dir,
            path,
            signer,
        }
    }

    fn add(case: &Case, signer: &Signer) -> Result<Entry, Error> {
        append(
            &case.path,
            signer,
            "C-1",
            Draft {
                event: Event::Add,
                actor: "Ann Example".into(),
                what: json!({"items": 1}),
                why: Some("because".into()),
            },
        )
    }

    fn contents(case_dir: &Path) -> BagContents {
        let mut c = BagContents::default();
        for e in std::fs::read_dir(case_dir.join(CUSTODY_DIR)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            c.tags
                .insert(format!("custody/{name}"), std::fs::read(e.path()).unwrap());
        }
        c
    }

    #[test]
    fn principal_mapping() {
        assert_eq!(principal("Ann Example"), "Ann_Example");
        assert_eq!(principal("a,b*c!\"d#"), "a_b_c__d_");
        assert_eq!(principal(""), "examiner");
        assert_eq!(principal("ann@police.example"), "ann@police.example");
        assert_eq!(principal(&"x".repeat(200)).len(), MAX_PRINCIPAL_LEN);
    }

    #[test]
    fn a_fresh_log_checks_clean_and_chains() {
        let case = case();
        add(&case, &case.signer).unwrap();
        let e3 = add(&case, &case.signer).unwrap();
        assert_eq!(e3.seq, 3);
        let log = read_log(&case.path).unwrap();
        assert_eq!(log.len(), 3);
        let bytes2 = std::fs::read(case.path.join(entry_path(2))).unwrap();
        assert_eq!(log[2].prev, sha256_hex(&bytes2));
        assert_eq!(log[0].prev, ZERO_PREV);
        // One line of JSON.
        assert_eq!(bytes2.iter().filter(|&&b| b == b'\n').count(), 1);
        let (last, hash) = last(&case.path).unwrap().unwrap();
        assert_eq!(last, log[2]);
        assert_eq!(
            hash,
            sha256_hex(&std::fs::read(case.path.join(entry_path(3))).unwrap())
        );
        let (problems, entries) = check(&contents(&case.path), Some(&case.signer.public_openssh()));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(entries, log);
    }

    #[test]
    fn order_rules() {
        let dir = tempfile::tempdir().unwrap();
        let s = signer(dir.path(), "k");
        let err = append(
            &dir.path().join("c"),
            &s,
            "C",
            Draft {
                event: Event::Add,
                actor: "A".into(),
                what: json!({}),
                why: None,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("must be an init"), "{err}");
        let case = case();
        let err = append(
            &case.path,
            &case.signer,
            "C-1",
            Draft {
                event: Event::Init,
                actor: "A".into(),
                what: json!({}),
                why: None,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("one init"), "{err}");
    }

    #[test]
    fn pinned_key_mismatch_is_caught() {
        let case = case();
        let other = signer(case._dir.path(), "other");
        let (problems, _) = check(&contents(&case.path), Some(&other.public_openssh()));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("not the expected"));
    }

    #[test]
    fn transfer_moves_the_holder() {
        let case = case();
        let bob = signer(case._dir.path(), "bob");
        let transfer = |to_key: Option<String>| Draft {
            event: Event::Transfer,
            actor: "Ann Example".into(),
            what: json!({"to": "Bob", "to_key": to_key}),
            why: None,
        };
        // Bob cannot sign before the hand-over.
        let err = add(&case, &bob).unwrap_err().to_string();
        assert!(err.contains("held by Ann Example"), "{err}");
        // A hand-over without a key: Ann's key goes on signing.
        append(&case.path, &case.signer, "C-1", transfer(None)).unwrap();
        add(&case, &case.signer).unwrap();
        assert!(add(&case, &bob).is_err());
        // With Bob's key (comment given, stored bare).
        let with_comment = format!("{} bob@laptop", bob.public_openssh());
        let e = append(
            &case.path,
            &case.signer,
            "C-1",
            transfer(Some(with_comment)),
        )
        .unwrap();
        assert_eq!(e.what["to_key"], json!(bob.public_openssh()));
        let err = add(&case, &case.signer).unwrap_err().to_string();
        assert!(err.contains("held by Bob"), "{err}");
        add(&case, &bob).unwrap();
        let log = read_log(&case.path).unwrap();
        assert_eq!(
            holder(&log),
            Some(Holder {
                name: "Bob".into(),
                key: bob.public_openssh()
            })
        );
        assert_eq!(
            principal_of_key(&log, &bob.public_openssh()).as_deref(),
            Some("Bob")
        );
        let text = std::fs::read_to_string(case.path.join("custody/allowed_signers")).unwrap();
        assert_eq!(text, allowed_signers_text(&log));
        assert!(text.contains(&format!(
            "Ann_Example namespaces=\"takedown-custody@takedown\" {}\n",
            case.signer.public_openssh()
        )));
        let (problems, _) = check(&contents(&case.path), None);
        assert!(problems.is_empty(), "{problems:?}");
        // A bad recipient key is refused.
        let err = append(
            &case.path,
            &bob,
            "C-1",
            transfer(Some("ssh-ed25519 nope".into())),
        )
        .unwrap_err();
        assert!(err.to_string().contains("recipient's key"), "{err}");
    }

    #[test]
    fn gaps_are_reported_as_ranges() {
        let case = case();
        for _ in 0..4 {
            add(&case, &case.signer).unwrap();
        }
        let mut c = contents(&case.path);
        c.tags.remove("custody/000003.json");
        c.tags.remove("custody/000004.json");
        let (problems, _) = check(&c, None);
        assert!(
            problems.iter().any(|p| p.subject == "custody/000003.json"
                && p.message
                    == "missing, and so is every entry up to custody/000004.json: the \
                        log stops at 000002 but 000005 exists"),
            "{problems:?}"
        );
        // A far-away planted entry is one problem, not millions.
        let mut c = contents(&case.path);
        c.tags
            .insert("custody/999999999.json".into(), b"{}".to_vec());
        let (problems, _) = check(&c, None);
        assert!(problems.len() < 10, "{problems:?}");
    }

    #[test]
    fn recover_removes_leftovers_only() {
        let case = case();
        add(&case, &case.signer).unwrap();
        let custody = case.path.join(CUSTODY_DIR);
        std::fs::write(custody.join("000003.json.sig"), "sig").unwrap();
        std::fs::write(custody.join("000003.json.tmp"), "half").unwrap();
        let done = recover(&case.path).unwrap();
        assert_eq!(done.len(), 2, "{done:?}");
        assert!(!custody.join("000003.json.sig").exists());
        assert!(!custody.join("000003.json.tmp").exists());
        assert!(custody.join("000002.json.sig").exists());
        assert!(recover(&case.path).unwrap().is_empty());
        // allowed_signers lost after a commit: written again.
        std::fs::remove_file(custody.join(ALLOWED_SIGNERS)).unwrap();
        let done = recover(&case.path).unwrap();
        assert_eq!(done.len(), 1, "{done:?}");
        let (problems, _) = check(&contents(&case.path), None);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
