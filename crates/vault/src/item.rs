//! What the vault keeps about each quarantined file.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

/// Ends every item file: the metadata's length (u64 LE), then this.
const FOOTER_MAGIC: &[u8; 8] = b"TDMETA01";
/// Metadata larger than this is not believed (a damaged footer).
const MAX_META: u64 = 64 << 20;

/// Format version of `<id>.json`.
pub const META_FORMAT: u32 = 1;

/// A point in time as the file system keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: i64,
}

/// A restore of an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRecord {
    /// Where it was put back.
    pub to: String,
    /// When (RFC 3339).
    pub at: String,
}

/// `items/<id>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// [`META_FORMAT`].
    pub format: u32,
    /// The vault ID.
    pub id: String,
    /// Where the file was (lossy UTF-8, for people).
    pub original_path: String,
    /// The exact path bytes, base64 (what restore uses).
    pub original_path_base64: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Permission bits (including set-uid, set-gid, sticky).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// The owner's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The group's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Last access.
    pub atime: Timestamp,
    /// Last modification.
    pub mtime: Timestamp,
    /// Last status change (kept for the record; cannot be restored).
    pub ctime: Timestamp,
    /// Device and inode it had.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// The detections that led to it, as the scan reported them.
    pub detections: serde_json::Value,
    /// When it was quarantined (RFC 3339, UTC).
    pub quarantined_at: String,
    /// By which program and version.
    pub by: String,
    /// The run that quarantined it (`logs/<run>.jsonl`).
    pub run: String,
    /// Restores done so far.
    #[serde(default)]
    pub restores: Vec<RestoreRecord>,
}

/// The current time in RFC 3339, UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// A new vault ID: sortable by time, unique by randomness
/// (`20261126-101500-3fa9c2d14b7e9a01`). 64 random bits: thousands of IDs
/// made within one second must not collide (32 bits did, about once in a
/// hundred batches of 10,000).
pub fn new_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let mut r = [0u8; 8];
    let _ = getrandom::fill(&mut r);
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        hex::encode(r)
    )
}

/// True when `id` has the shape of a vault ID (so that a user-given ID
/// can never name a path outside `items/`).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Appends the metadata and the footer after the encrypted content.
pub fn write_meta(w: &mut dyn Write, meta: &Meta) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
    w.write_all(&json)?;
    w.write_all(&(json.len() as u64).to_le_bytes())?;
    w.write_all(FOOTER_MAGIC)
}

/// Reads an item file's metadata; returns it and the length of the
/// encrypted content before it.
pub fn read_meta(file: &File) -> Result<(Meta, u64), String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut footer = [0u8; 16];
    if len < 16 || file.read_exact_at(&mut footer, len - 16).is_err() {
        return Err("not a vault item (no metadata footer)".into());
    }
    let (start, meta_len) = footer_bounds(len, &footer)?;
    let mut json = vec![0u8; meta_len as usize];
    file.read_exact_at(&mut json, start)
        .map_err(|e| e.to_string())?;
    let meta = serde_json::from_slice(&json).map_err(|e| format!("unreadable metadata: {e}"))?;
    Ok((meta, start))
}

/// [`read_meta`] over the bytes of a whole item file.
pub fn meta_from_bytes(bytes: &[u8]) -> Result<(Meta, u64), String> {
    let len = bytes.len() as u64;
    let footer = bytes
        .len()
        .checked_sub(16)
        .map(|i| &bytes[i..])
        .ok_or("not a vault item (no metadata footer)")?;
    let (start, meta_len) = footer_bounds(len, footer)?;
    let json = &bytes[start as usize..(start + meta_len) as usize];
    let meta = serde_json::from_slice(json).map_err(|e| format!("unreadable metadata: {e}"))?;
    Ok((meta, start))
}

/// Where the metadata starts and how long it is, from the footer of a
/// file of `len` bytes; checked against the file's length.
fn footer_bounds(len: u64, footer: &[u8]) -> Result<(u64, u64), String> {
    if footer.len() != 16 || &footer[8..] != FOOTER_MAGIC {
        return Err("not a vault item (no metadata footer)".into());
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&footer[..8]);
    let meta_len = u64::from_le_bytes(n);
    if meta_len > MAX_META || meta_len > len - 16 {
        return Err("damaged metadata footer".into());
    }
    Ok((len - 16 - meta_len, meta_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        let t = Timestamp { sec: 1, nsec: 2 };
        Meta {
            format: META_FORMAT,
            id: new_id(),
            original_path: "/x".into(),
            original_path_base64: "L3g=".into(),
            size: 3,
            sha256: "00".into(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            owner: None,
            group: None,
            atime: t,
            mtime: t,
            ctime: t,
            dev: 1,
            ino: 2,
            detections: serde_json::json!([]),
            quarantined_at: now_rfc3339(),
            by: "takedown".into(),
            run: "r".into(),
            restores: Vec::new(),
        }
    }

    #[test]
    fn footer_round_trips_and_damage_is_an_error() {
        let m = meta();
        let mut file = b"encrypted-content".to_vec();
        write_meta(&mut file, &m).unwrap();
        let (back, start) = meta_from_bytes(&file).unwrap();
        assert_eq!(back, m);
        assert_eq!(start, 17);
        for cut in 0..file.len() {
            assert!(meta_from_bytes(&file[..cut]).is_err(), "truncated at {cut}");
        }
        let mut bad = file.clone();
        let n = bad.len();
        bad[n - 16..n - 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(meta_from_bytes(&bad).is_err());
        // The file reader agrees with the byte reader.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.item");
        std::fs::write(&p, &file).unwrap();
        assert_eq!(read_meta(&File::open(&p).unwrap()).unwrap(), (m, 17));
    }
}
