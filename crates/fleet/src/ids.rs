//! Names: the subjects, streams and buckets of the protocol, the rules for
//! the tokens that go into them, and the deterministic message ids that
//! make a redelivered hunt publish nothing twice.
//!
//! Every token put into a subject (host id, label, hunt id) is checked
//! here: a `.` would add a level, `*` or `>` would turn a publish into a
//! wildcard the permissions never meant, and white space ends a subject.

use crate::{Error, Result};
use sha2::Digest;

/// The stream holding hunts (subjects [`HUNT_SUBJECTS`]).
pub const HUNTS_STREAM: &str = "TAKEDOWN_HUNTS";
/// The stream holding findings, states and issued hunts' copies.
pub const RESULTS_STREAM: &str = "TAKEDOWN_RESULTS";
/// The stream holding each agent's last announcement.
pub const AGENTS_STREAM: &str = "TAKEDOWN_AGENTS";
/// The object store bucket holding bundles, named by their SHA-256.
pub const BUNDLE_BUCKET: &str = "takedown-bundles";

/// Every hunt subject.
pub const HUNT_SUBJECTS: &str = "takedown.hunt.>";
/// Every results subject.
pub const RESULT_SUBJECTS: [&str; 3] =
    ["takedown.found.>", "takedown.state.>", "takedown.issued.*"];
/// Every agent subject.
pub const AGENT_SUBJECTS: &str = "takedown.agent.*";

/// Longest host id, label key or value, and hunt id. Subjects are
/// written into every message header and every consumer name; short
/// tokens keep them small.
pub const MAX_TOKEN_LEN: usize = 64;

/// Checks a token that goes into a subject or a consumer name: 1 to
/// [`MAX_TOKEN_LEN`] ASCII letters, digits, `-` or `_`.
pub fn check_token(what: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::Invalid(format!("{what} is empty")));
    }
    if s.len() > MAX_TOKEN_LEN {
        return Err(Error::Invalid(format!(
            "{what} is {} bytes long (at most {MAX_TOKEN_LEN})",
            s.len()
        )));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(Error::Invalid(format!(
            "{what} {:?} holds {c:?}: only ASCII letters, digits, '-' and '_' are allowed (it becomes part of NATS subjects)",
            shorten(s)
        )));
    }
    Ok(())
}

/// Checks a host id: a token, and not `all` (which `--to` reads as every
/// agent).
pub fn check_host(host: &str) -> Result<()> {
    check_token("the host id", host)?;
    if host.eq_ignore_ascii_case("all") {
        return Err(Error::Invalid(
            "the host id \"all\" is reserved (`--to all` names every agent)".into(),
        ));
    }
    Ok(())
}

/// At most 100 characters of a value shown in a message.
pub(crate) fn shorten(s: &str) -> String {
    if s.chars().count() <= 100 {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(100).collect();
        t.push_str("...");
        t
    }
}

/// The subject a hunt for every agent is published on.
pub fn hunt_subject_all() -> String {
    "takedown.hunt.all".into()
}

/// The subject of hunts for the agents labelled `key=value`.
pub fn hunt_subject_label(key: &str, value: &str) -> String {
    format!("takedown.hunt.label.{key}.{value}")
}

/// The subject of hunts for one host.
pub fn hunt_subject_host(host: &str) -> String {
    format!("takedown.hunt.host.{host}")
}

/// The subject of a host's findings for a hunt.
pub fn found_subject(hunt: &str, host: &str) -> String {
    format!("takedown.found.{hunt}.{host}")
}

/// The subject of a host's state records for a hunt (`started`, `done`).
pub fn state_subject(hunt: &str, host: &str, what: &str) -> String {
    format!("takedown.state.{hunt}.{host}.{what}")
}

/// The subject of the copy of an issued hunt that `status` reads.
pub fn issued_subject(hunt: &str) -> String {
    format!("takedown.issued.{hunt}")
}

/// The subject an agent announces itself on.
pub fn agent_subject(host: &str) -> String {
    format!("takedown.agent.{host}")
}

/// The durable consumer of one agent on one hunt subject:
/// `agent=HOST=all`, `agent=HOST=host=HOST`, `agent=HOST=label=KEY=VALUE`.
/// Readable, so that an operator can write each agent's permissions (NATS
/// wildcards match whole tokens only, so every consumer is named there),
/// and unambiguous: `=` is in no token.
pub fn consumer_name(host: &str, subject: &str) -> String {
    let rest = subject.strip_prefix("takedown.hunt.").unwrap_or(subject);
    format!("agent={host}={}", rest.replace('.', "="))
}

/// A new hunt id: the UTC time (sorts and reads as a date) and 64 random
/// bits (two analysts issuing in the same second never collide).
pub fn new_hunt_id(now_unix: u64) -> Result<String> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random)
        .map_err(|e| Error::Invalid(format!("no random numbers for a hunt id: {e}")))?;
    let stamp = i64::try_from(now_unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|d| {
            let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
            d.format(&f).ok()
        })
        .unwrap_or_else(|| now_unix.to_string());
    Ok(format!("{stamp}-{}", hex::encode(random)))
}

/// The message id of a hunt (its publish is de-duplicated too: an
/// analyst retrying a timed-out `fleet hunt` issues it once).
pub fn hunt_msg_id(hunt: &str) -> String {
    format!("hunt:{hunt}")
}

/// An agent's secret for its message ids ([`IdKey::load_or_create`]).
///
/// JetStream drops a message as a duplicate when its `Nats-Msg-Id` was
/// seen on the same stream, whatever its subject; the permissions check
/// the subject only. An id another agent could compute (`done:HUNT:HOST`)
/// would let it publish that id first on its own subject and have the
/// real record dropped. So each id carries an HMAC-SHA256 of its fields
/// under this key: the same for the same agent on every delivery (a
/// redelivery is still de-duplicated), out of reach for every other.
#[derive(Clone)]
pub struct IdKey([u8; 32]);

impl std::fmt::Debug for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdKey(..)")
    }
}

/// The file of the key in an agent's state directory.
pub const ID_KEY_FILE: &str = "msg-id.key";

impl IdKey {
    /// A key of these bytes (tests, and callers keeping it elsewhere).
    pub fn from_bytes(bytes: [u8; 32]) -> IdKey {
        IdKey(bytes)
    }

    /// The key kept in `dir` ([`ID_KEY_FILE`], 64 hex digits), made from
    /// random bytes on first use: the directory created private (0700),
    /// the file 0600, written whole before it appears under its name. A
    /// file that others can read or write is refused: its key would be
    /// no secret.
    pub fn load_or_create(dir: &std::path::Path) -> Result<IdKey> {
        let path = dir.join(ID_KEY_FILE);
        if !dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir).map_err(|e| {
                Error::io(
                    format!("cannot create the state directory {}", dir.display()),
                    e,
                )
            })?;
        }
        if std::fs::symlink_metadata(&path).is_err() {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key)
                .map_err(|e| Error::Invalid(format!("no random numbers for the id key: {e}")))?;
            let mut tmp_name = [0u8; 8];
            getrandom::fill(&mut tmp_name)
                .map_err(|e| Error::Invalid(format!("no random numbers for the id key: {e}")))?;
            let tmp = dir.join(format!(".{ID_KEY_FILE}.{}", hex::encode(tmp_name)));
            let written = (|| {
                use std::io::Write;
                let mut o = std::fs::OpenOptions::new();
                o.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
                let mut f = o.open(&tmp)?;
                f.write_all(hex::encode(key).as_bytes())?;
                f.sync_all()?;
                // A link fails if the name exists: of two agents
                // starting at once, one key wins and both read it.
                match std::fs::hard_link(&tmp, &path) {
                    Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
                    _ => Ok(()),
                }
            })();
            let _ = std::fs::remove_file(&tmp);
            written
                .map_err(|e| Error::io(format!("cannot write the id key {}", path.display()), e))?;
        }
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| Error::io(format!("cannot read the id key {}", path.display()), e))?;
        if !meta.is_file() {
            return Err(Error::Invalid(format!(
                "the id key {} is not a regular file",
                path.display()
            )));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if meta.mode() & 0o077 != 0 {
                return Err(Error::Invalid(format!(
                    "the id key {} is open to other users (mode {:o}); make it 0600",
                    path.display(),
                    meta.mode() & 0o7777
                )));
            }
        }
        let text = std::fs::read(&path)
            .map_err(|e| Error::io(format!("cannot read the id key {}", path.display()), e))?;
        let mut key = [0u8; 32];
        match hex::decode(text.trim_ascii()) {
            Ok(b) if b.len() == 32 => key.copy_from_slice(&b),
            _ => {
                return Err(Error::Invalid(format!(
                    "the id key {} is not 64 hex digits",
                    path.display()
                )));
            }
        }
        Ok(IdKey(key))
    }

    /// 128 bits of HMAC-SHA256 of `fields`, hex: enough that no one
    /// without the key finds one.
    fn tag(&self, fields: &str) -> String {
        let mac = hmac_sha256(&self.0, fields.as_bytes());
        hex::encode(mac.get(..16).unwrap_or(&[]))
    }
}

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    // A 32-byte key is always accepted (any length is).
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// The message id of a host's completion record for a hunt: one per host
/// and hunt, whatever the number of deliveries, and keyed.
pub fn completion_msg_id(key: &IdKey, hunt: &str, host: &str) -> String {
    let fields = format!("done:{hunt}:{host}");
    let tag = key.tag(&fields);
    format!("{fields}:{tag}")
}

/// The message id of the `started` record of one delivery, keyed.
pub fn started_msg_id(key: &IdKey, hunt: &str, host: &str, delivery: i64) -> String {
    let fields = format!("start:{hunt}:{host}:{delivery}");
    let tag = key.tag(&fields);
    format!("{fields}:{tag}")
}

/// The identity of a finding: what it names (path, container chain,
/// process and memory region), not what was found in it. Two runs of the
/// same hunt on the same host name the same objects, so they give the same
/// identities; the detections may differ only if the files changed.
pub fn finding_identity(finding: &serde_json::Value) -> String {
    let get = |k: &str| finding.get(k).cloned().unwrap_or(serde_json::Value::Null);
    let process = finding.get("process");
    let pget = |k: &str| {
        process
            .and_then(|p| p.get(k))
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    let key = serde_json::json!([
        get("type"),
        get("path"),
        get("path_base64"),
        get("chain"),
        pget("pid"),
        pget("region"),
        pget("address"),
    ]);
    let digest = sha2::Sha256::digest(key.to_string().as_bytes());
    // 128 bits: collisions between two objects of one host are out of reach.
    hex::encode(digest.get(..16).unwrap_or(&[]))
}

/// The message id of a finding: hunt, host, and the keyed digest of its
/// identity and its rank among the findings of the run with that identity
/// (0 for the first), so that two records about one object stay two.
pub fn finding_msg_id(key: &IdKey, hunt: &str, host: &str, identity: &str, rank: u64) -> String {
    let tag = key.tag(&format!("f:{hunt}:{host}:{identity}:{rank}"));
    format!("f:{hunt}:{host}:{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(check_token("x", "host-1_A").is_ok());
        for bad in ["", "a.b", "a*", ">", "a b", "é", &"x".repeat(65)] {
            assert!(check_token("x", bad).is_err(), "{bad:?}");
        }
        assert!(check_host("ALL").is_err());
        assert!(check_host("web1").is_ok());
    }

    #[test]
    fn hunt_ids_are_tokens_and_differ() {
        let a = new_hunt_id(1_735_787_045).unwrap();
        let b = new_hunt_id(1_735_787_045).unwrap();
        assert!(a.starts_with("20250102T030405Z-"), "{a}");
        assert_ne!(a, b);
        check_token("hunt id", &a).unwrap();
    }

    #[test]
    fn identity_ignores_detections_but_not_paths() {
        let a =
            serde_json::json!({"type": "finding", "path": "/a", "chain": [], "detections": [1]});
        let b =
            serde_json::json!({"type": "finding", "path": "/a", "chain": [], "detections": [2]});
        let c = serde_json::json!({"type": "finding", "path": "/a", "chain": ["x.zip"]});
        assert_eq!(finding_identity(&a), finding_identity(&b));
        assert_ne!(finding_identity(&a), finding_identity(&c));
        assert_eq!(finding_identity(&a).len(), 32);
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: key "Jefe" (HMAC pads a short key with zeros, so
        // it is the same key as these 32 bytes).
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac_sha256(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // And a full 32-byte key, as `openssl dgst -sha256 -mac HMAC
        // -macopt hexkey:0b0b...` computes it.
        let mac = hmac_sha256(&[0x0b; 32], b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "c3f2649c34ea24e4d62a2c7e868bbea0233c9d4c2cc300794db76aa18d6822d8"
        );
    }

    #[test]
    fn keyed_ids_are_stable_per_key_and_differ_between_keys() {
        let a = IdKey::from_bytes([1; 32]);
        let b = IdKey::from_bytes([2; 32]);
        assert_eq!(
            completion_msg_id(&a, "H", "web2"),
            completion_msg_id(&a, "H", "web2")
        );
        assert_ne!(
            completion_msg_id(&a, "H", "web2"),
            completion_msg_id(&b, "H", "web2")
        );
        assert_ne!(completion_msg_id(&a, "H", "web2"), "done:H:web2");
        assert!(completion_msg_id(&a, "H", "web2").starts_with("done:H:web2:"));
        let f = finding_msg_id(&a, "H", "web2", "00ff", 0);
        assert!(f.starts_with("f:H:web2:"), "{f}");
        assert_ne!(f, finding_msg_id(&a, "H", "web2", "00ff", 1));
        assert_ne!(f, finding_msg_id(&b, "H", "web2", "00ff", 0));
        assert_ne!(
            started_msg_id(&a, "H", "web2", 1),
            started_msg_id(&a, "H", "web2", 2)
        );
    }

    #[test]
    fn the_key_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/agent");
        let k1 = IdKey::load_or_create(&state).unwrap();
        let k2 = IdKey::load_or_create(&state).unwrap();
        assert_eq!(k1.0, k2.0);
        assert_ne!(k1.0, [0; 32]);
        assert_eq!(format!("{k1:?}"), "IdKey(..)");
        let file = state.join(ID_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dmode = std::fs::metadata(&state).unwrap().permissions().mode();
            assert_eq!(dmode & 0o777, 0o700);
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = IdKey::load_or_create(&state).unwrap_err();
            assert!(err.to_string().contains("other users"), "{err}");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&file, "short").unwrap();
        assert!(IdKey::load_or_create(&state).is_err());
    }

    #[test]
    fn consumer_names_differ_per_subject() {
        let a = consumer_name("h", &hunt_subject_label("a-b", "c"));
        let b = consumer_name("h", &hunt_subject_label("a", "b-c"));
        assert_ne!(a, b);
        assert_eq!(consumer_name("web1", &hunt_subject_all()), "agent=web1=all");
        assert_eq!(
            consumer_name("web1", &hunt_subject_host("web1")),
            "agent=web1=host=web1"
        );
        assert_eq!(
            consumer_name("x-label-a", &hunt_subject_all()),
            "agent=x-label-a=all"
        );
        assert_ne!(
            consumer_name("x-label-a", &hunt_subject_all()),
            consumer_name("x", &hunt_subject_label("a", "all"))
        );
        assert!(!a.contains(['.', '*', '>', ' ']));
    }
}
