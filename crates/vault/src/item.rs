//! What the vault keeps about each item: a quarantined file, or the
//! original content of a file whose content was replaced.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io;

/// Format version of an item's metadata.
pub const META_FORMAT: u32 = 1;

/// A point in time as the file system keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: i64,
}

impl Timestamp {
    /// From seconds and nanoseconds.
    pub fn of((sec, nsec): crate::fsops::Time) -> Timestamp {
        Timestamp { sec, nsec }
    }

    /// As seconds and nanoseconds.
    pub fn time(&self) -> crate::fsops::Time {
        (self.sec, self.nsec)
    }
}

/// A restore of an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRecord {
    /// Where it was put back.
    pub to: String,
    /// When (RFC 3339).
    pub at: String,
}

/// What an item holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A quarantined file: it was removed from its place (items written
    /// before kinds existed have no `kind` and are files).
    #[default]
    File,
    /// The original content of a file whose content takedown replaced
    /// (an autostart entry disabled in place); the file stays, holding
    /// the content whose SHA-256 is [`Meta::replaced_sha256`].
    Replaced,
}

/// What is kept about an item (JSON, in its pack record).
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
    /// Permission bits (including set-uid, set-gid, sticky); absent on
    /// Windows, which has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Owner; absent on Windows (no uid there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Group; absent on Windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
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
    /// Creation time (Windows; restored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btime: Option<Timestamp>,
    /// File attributes (Windows: read-only, hidden, system, ...;
    /// restored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<u32>,
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
    /// What the item holds.
    #[serde(default)]
    pub kind: Kind,
    /// For [`Kind::Replaced`]: SHA-256 of the content written in place of
    /// the original (restore puts the original back only over that
    /// content, unless told to overwrite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_sha256: Option<String>,
    /// The vault ID of the item this one goes with (the detected program
    /// whose autostart entry this was), if any: restoring that item
    /// restores this one with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked: Option<String>,
    /// Set when the file was in use and could not be removed then: its
    /// removal was scheduled for the next boot (Windows). Not in the
    /// pack record (written before the removal) but beside it,
    /// `items/<id>.reboot`; [`crate::Vault::meta`] fills it in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_at_reboot: Option<RebootRemoval>,
}

/// A removal scheduled for the next boot because the file was in use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootRemoval {
    /// The path the removal was scheduled for.
    pub path: String,
    /// When it was scheduled (RFC 3339).
    pub at: String,
}

/// Records beside item `id` that its file's removal waits for the next
/// boot (`items/<id>.reboot`, durably).
pub(crate) fn record_reboot_removal(
    items: &crate::fsops::Dir,
    id: &str,
    path: &std::path::Path,
) -> io::Result<()> {
    let rec = RebootRemoval {
        path: path.to_string_lossy().into_owned(),
        at: now_rfc3339(),
    };
    let json = serde_json::to_vec(&rec).map_err(io::Error::other)?;
    crate::write_durably(items, &format!("{id}.reboot"), &json)
}

/// Bounds what is read of a `.reboot` record (it is one short JSON line;
/// anything longer is not ours).
const MAX_REBOOT_RECORD: u64 = 64 << 10;

/// The reboot-time removal recorded beside item `id`, if any.
pub(crate) fn read_reboot_removal(items: &crate::fsops::Dir, id: &str) -> Option<RebootRemoval> {
    use std::io::Read;
    let f = crate::fsops::open_at(
        items,
        std::ffi::OsStr::new(&format!("{id}.reboot")),
        crate::fsops::OpenHow::READ,
    )
    .ok()?;
    let mut b = Vec::new();
    f.take(MAX_REBOOT_RECORD).read_to_end(&mut b).ok()?;
    serde_json::from_slice(&b).ok()
}

/// The current time in RFC 3339, UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// A time written by [`now_rfc3339`], as nanoseconds since the epoch;
/// `None` when it does not read.
pub fn parse_rfc3339(s: &str) -> Option<i128> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos())
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

/// Starts every pack file.
pub const PACK_MAGIC: &[u8; 8] = b"TDPACK01";
/// Starts every record in a pack.
const RECORD_MAGIC: &[u8; 8] = b"TDITEM01";
/// Metadata larger than this is not believed (a damaged header).
const MAX_META: u64 = 64 << 20;
/// The longest a record header can be: magic, state, ID length, ID (at
/// most 64 bytes, see [`valid_id`]), content and metadata lengths.
pub const MAX_HEADER: usize = 8 + 1 + 1 + 64 + 8 + 8;
/// Offset of the state byte in a record.
pub const STATE_OFFSET: u64 = 8;
/// State byte of a record that holds an item.
pub const LIVE: u8 = 0;
/// State byte of a record whose item was removed (its bytes are zeroed).
pub const PURGED: u8 = 1;

/// One record of a pack, as its header describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The item ID.
    pub id: String,
    /// [`LIVE`] or [`PURGED`].
    pub state: u8,
    /// Where the record starts in the pack.
    pub offset: u64,
    /// Where the encrypted content starts, and its length.
    pub content: (u64, u64),
    /// Where the metadata (JSON) starts, and its length.
    pub meta: (u64, u64),
}

impl Record {
    /// Where the next record starts.
    pub fn end(&self) -> u64 {
        self.meta.0 + self.meta.1
    }
}

/// The header of a record holding item `id`, whose encrypted content and
/// metadata have these lengths.
pub fn record_header(id: &str, content_len: u64, meta_len: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(MAX_HEADER);
    h.extend_from_slice(RECORD_MAGIC);
    h.push(LIVE);
    h.push(id.len() as u8);
    h.extend_from_slice(id.as_bytes());
    h.extend_from_slice(&content_len.to_le_bytes());
    h.extend_from_slice(&meta_len.to_le_bytes());
    h
}

/// The metadata as stored in a record.
pub fn meta_bytes(meta: &Meta) -> io::Result<Vec<u8>> {
    serde_json::to_vec(meta).map_err(io::Error::other)
}

/// Parses the record header in `head` (which holds the bytes from
/// `offset` on, up to [`MAX_HEADER`] of them) of a pack `len` bytes long.
/// Every length is checked against the pack's length before it is
/// believed.
pub fn parse_header(head: &[u8], offset: u64, len: u64) -> Result<Record, String> {
    let damaged = |why: &str| format!("damaged record at offset {offset}: {why}");
    if head.len() < 10 || &head[..8] != RECORD_MAGIC {
        return Err(damaged("no record header"));
    }
    let state = head[8];
    if state != LIVE && state != PURGED {
        return Err(damaged("unknown state"));
    }
    let id_len = usize::from(head[9]);
    let id_end = 10 + id_len;
    let Some(lens) = head.get(id_end..id_end + 16) else {
        return Err(damaged("truncated header"));
    };
    let id = std::str::from_utf8(&head[10..id_end])
        .ok()
        .filter(|id| valid_id(id))
        .ok_or_else(|| damaged("invalid item ID"))?;
    let mut n = [0u8; 8];
    n.copy_from_slice(&lens[..8]);
    let content_len = u64::from_le_bytes(n);
    n.copy_from_slice(&lens[8..]);
    let meta_len = u64::from_le_bytes(n);
    let content_start = offset + (id_end as u64) + 16;
    let meta_start = content_start
        .checked_add(content_len)
        .filter(|&m| m <= len)
        .ok_or_else(|| damaged("content longer than the pack"))?;
    if meta_len > MAX_META || meta_len > len - meta_start {
        return Err(damaged("metadata longer than the pack"));
    }
    Ok(Record {
        id: id.to_string(),
        state,
        offset,
        content: (content_start, content_len),
        meta: (meta_start, meta_len),
    })
}

/// The records of a pack file, in order. A damaged record ends the list
/// with an error (what follows it cannot be located).
pub fn read_records(file: &File) -> Result<Vec<Result<Record, String>>, String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut magic = [0u8; 8];
    if len < 8 || crate::fsops::read_exact_at(file, &mut magic, 0).is_err() || &magic != PACK_MAGIC
    {
        return Err("not a vault pack".into());
    }
    let mut out = Vec::new();
    let mut offset = PACK_MAGIC.len() as u64;
    let mut head = [0u8; MAX_HEADER];
    while offset < len {
        let n = usize::try_from((len - offset).min(MAX_HEADER as u64)).unwrap_or(MAX_HEADER);
        if let Err(e) = crate::fsops::read_exact_at(file, &mut head[..n], offset) {
            out.push(Err(e.to_string()));
            break;
        }
        match parse_header(&head[..n], offset, len) {
            Ok(r) => {
                offset = r.end();
                out.push(Ok(r));
            }
            Err(e) => {
                out.push(Err(e));
                break;
            }
        }
    }
    Ok(out)
}

/// A record and its metadata, or why it could not be read.
pub type ParsedRecord = Result<(Record, Meta), String>;

/// [`read_records`] and each live record's metadata over the bytes of a
/// whole pack (for tests and fuzzing).
pub fn parse_pack(bytes: &[u8]) -> Result<Vec<ParsedRecord>, String> {
    if bytes.len() < 8 || &bytes[..8] != PACK_MAGIC {
        return Err("not a vault pack".into());
    }
    let len = bytes.len() as u64;
    let mut out = Vec::new();
    let mut offset = 8u64;
    while offset < len {
        let at = offset as usize;
        let head = &bytes[at..bytes.len().min(at + MAX_HEADER)];
        match parse_header(head, offset, len) {
            Ok(r) => {
                offset = r.end();
                let json = &bytes[r.meta.0 as usize..r.end() as usize];
                out.push(
                    serde_json::from_slice(json)
                        .map(|m| (r, m))
                        .map_err(|e| format!("unreadable metadata: {e}")),
                );
            }
            Err(e) => {
                out.push(Err(e));
                break;
            }
        }
    }
    Ok(out)
}

/// Reads a record's metadata.
pub fn read_meta(file: &File, r: &Record) -> Result<Meta, String> {
    let mut json = vec![0u8; usize::try_from(r.meta.1).map_err(|e| e.to_string())?];
    crate::fsops::read_exact_at(file, &mut json, r.meta.0).map_err(|e| e.to_string())?;
    serde_json::from_slice(&json).map_err(|e| format!("unreadable metadata: {e}"))
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
            mode: Some(0o644),
            uid: Some(0),
            gid: Some(0),
            owner: None,
            group: None,
            atime: t,
            mtime: t,
            ctime: t,
            btime: None,
            attributes: None,
            dev: 1,
            ino: 2,
            detections: serde_json::json!([]),
            quarantined_at: now_rfc3339(),
            by: "takedown".into(),
            run: "r".into(),
            restores: Vec::new(),
            kind: Kind::File,
            replaced_sha256: None,
            linked: None,
            removal_at_reboot: None,
        }
    }

    #[test]
    fn metadata_of_older_items_reads_as_a_file_without_link() {
        // An item written before kinds and links existed.
        let mut v = serde_json::to_value(meta()).unwrap();
        let obj = v.as_object_mut().unwrap();
        for k in ["kind", "replaced_sha256", "linked"] {
            obj.remove(k);
        }
        let old: Meta = serde_json::from_value(v).unwrap();
        assert_eq!(old.kind, Kind::File);
        assert_eq!((old.replaced_sha256, old.linked), (None, None));
        // A replaced item says so, with the content written and its link.
        let m = Meta {
            kind: Kind::Replaced,
            replaced_sha256: Some("ab".into()),
            linked: Some(new_id()),
            ..meta()
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["kind"], "replaced");
        assert_eq!(serde_json::from_value::<Meta>(v).unwrap(), m);
        assert_eq!(serde_json::to_value(meta()).unwrap()["kind"], "file");
        // A kind this version does not know is an error, not a file.
        let mut v = serde_json::to_value(meta()).unwrap();
        v["kind"] = "directory".into();
        assert!(serde_json::from_value::<Meta>(v).is_err());
    }

    #[test]
    fn records_round_trip_and_damage_is_an_error() {
        let (m1, m2) = (meta(), meta());
        let mut pack = PACK_MAGIC.to_vec();
        for (m, content) in [(&m1, &b"encrypted-content"[..]), (&m2, &b""[..])] {
            let json = meta_bytes(m).unwrap();
            pack.extend(record_header(
                &m.id,
                content.len() as u64,
                json.len() as u64,
            ));
            pack.extend_from_slice(content);
            pack.extend(json);
        }
        let back = parse_pack(&pack).unwrap();
        assert_eq!(back.len(), 2);
        let (r1, b1) = back[0].as_ref().unwrap();
        assert_eq!((&r1.id, b1), (&m1.id, &m1));
        assert_eq!(r1.content.1, 17);
        assert_eq!(&pack[r1.content.0 as usize..][..17], b"encrypted-content");
        assert_eq!(back[1].as_ref().unwrap().1, m2);
        // Any cut inside a record makes that record an error, and the ones
        // before it still read.
        let first_end = r1.end() as usize;
        for cut in 9..pack.len() {
            let got = parse_pack(&pack[..cut]).unwrap();
            assert!(
                got.last().unwrap().is_err() || cut == first_end,
                "cut {cut}"
            );
            if cut > first_end {
                assert!(got[0].is_ok());
            }
        }
        assert!(parse_pack(&pack[..7]).is_err());
        // A length pointing past the end is refused, not believed.
        let mut bad = pack.clone();
        let at = 8 + 10 + m1.id.len();
        bad[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse_pack(&bad).unwrap()[0].is_err());
        // The file reader agrees with the byte reader.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pack");
        std::fs::write(&p, &pack).unwrap();
        let f = File::open(&p).unwrap();
        let recs = read_records(&f).unwrap();
        assert_eq!(recs.len(), 2);
        let r = recs[1].as_ref().unwrap();
        assert_eq!(read_meta(&f, r).unwrap(), m2);
    }
}
