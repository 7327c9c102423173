//! The bundle file: header, manifest, signature, then the files.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "TKDNSIGS"
//! 8       2     format version, u16 little-endian (1)
//! 10      2     flags, u16 little-endian: bit 0 = signed; others must be 0
//! 12      4     manifest length M, u32 little-endian, 2..=MAX_MANIFEST_LEN
//! 16      M     manifest: JSON (see Manifest)
//! 16+M    64    Ed25519 signature, only when signed
//! ...           the files' bytes, back to back, in manifest order
//! ```
//!
//! The signature covers a domain string, the 16 header bytes and the
//! manifest; the manifest holds the size and SHA-256 of every file, so it
//! covers every byte of the bundle. The file must end exactly after the
//! last file: a shorter one is truncated, a longer one extended, and both
//! are refused.
//!
//! Reading streams: the header and manifest (bounded) are read and the
//! signature checked before a single file byte is accepted; each file is
//! then hashed as it passes to its sink and compared with the manifest at
//! its end. Nothing trusts a length before checking it against a limit.

use crate::{Error, Result};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The first 8 bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"TKDNSIGS";
/// The layout this code writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// File name extension of bundles (`--from DIR` looks for these).
pub const EXTENSION: &str = "tdsb";
const FLAG_SIGNED: u16 = 1;
const HEADER_LEN: usize = 16;
const SIGNATURE_LEN: usize = 64;
/// Signatures are over this prefix plus header and manifest, so a bundle
/// signature can never be replayed as a signature of anything else made
/// with the same key.
const DOMAIN: &[u8] = b"takedown signature bundle v1\0";

/// The manifest is read into memory before it is verified: a header
/// claiming gigabytes must not make us allocate them.
pub const MAX_MANIFEST_LEN: u32 = 8 << 20;
/// Files in a bundle: a manifest of millions of tiny entries would turn
/// an install into an inode bomb. (signature-base is under 1,000 files.)
pub const MAX_FILES: usize = 50_000;
/// Bytes of all files together: a bundle is unpacked to disk, so this
/// bounds the disk an update can fill. (ClamAV's full databases, unpacked,
/// are about 400 MB.)
pub const MAX_TOTAL_SIZE: u64 = 2 << 30;
/// Length of one path in bytes, and its number of components: deep or
/// long names can exceed PATH_MAX when unpacked and break tools.
pub const MAX_PATH_LEN: usize = 512;
/// See [`MAX_PATH_LEN`].
pub const MAX_PATH_DEPTH: usize = 16;
const MAX_COMPONENT_LEN: usize = 255;

/// What a bundle says about itself. Signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Monotonically increasing; an update never installs a version not
    /// newer than the installed ones.
    pub version: u64,
    /// When the bundle was made, Unix seconds.
    pub created: u64,
    /// The signing key's id ([`crate::key::key_id`]); `None` when unsigned.
    pub key_id: Option<String>,
    /// Every file, sorted by path (byte order), no duplicates.
    pub files: Vec<FileEntry>,
}

/// One file of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative path with `/` separators; see [`check_path`].
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

impl Manifest {
    /// Bytes of all files.
    pub fn total_size(&self) -> u64 {
        // Checked against MAX_TOTAL_SIZE by `validate`, so no overflow on a
        // validated manifest; saturating for any other.
        self.files
            .iter()
            .fold(0u64, |acc, f| acc.saturating_add(f.size))
    }

    /// Every rule of the format a manifest must keep.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Invalid(format!("bad manifest: {why}")));
        if self.version == 0 {
            return bad("version 0 (versions start at 1)".into());
        }
        if let Some(id) = &self.key_id
            && !(id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        {
            return bad("the key id is not 16 lowercase hex digits".into());
        }
        if self.files.is_empty() {
            return bad("no files".into());
        }
        if self.files.len() > MAX_FILES {
            return bad(format!("{} files (at most {MAX_FILES})", self.files.len()));
        }
        let mut total: u64 = 0;
        let mut dirs: HashSet<&str> = HashSet::new();
        let mut files: HashSet<&str> = HashSet::new();
        let mut last: Option<&str> = None;
        for f in &self.files {
            check_path(&f.path).map_err(|why| {
                Error::Invalid(format!("bad manifest: path {:?}: {why}", shorten(&f.path)))
            })?;
            if last.is_some_and(|l| l >= f.path.as_str()) {
                return bad(format!(
                    "path {:?} is a duplicate or out of order (paths are sorted, each once)",
                    shorten(&f.path)
                ));
            }
            last = Some(&f.path);
            if !(f.sha256.len() == 64
                && f.sha256
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            {
                return bad(format!(
                    "the SHA-256 of {:?} is not 64 lowercase hex digits",
                    shorten(&f.path)
                ));
            }
            total = match total.checked_add(f.size) {
                Some(t) if t <= MAX_TOTAL_SIZE => t,
                _ => {
                    return bad(format!(
                        "the files add up to more than {MAX_TOTAL_SIZE} bytes"
                    ));
                }
            };
            // A name that is a file and a directory (`a` and `a/b`) cannot
            // be unpacked; refuse it here rather than half-way.
            let mut end = 0;
            for part in f.path.split('/') {
                end += part.len();
                let prefix = &f.path[..end];
                end += 1;
                if prefix.len() == f.path.len() {
                    break;
                }
                if files.contains(prefix) {
                    return bad(format!(
                        "{:?} is both a file and a directory",
                        shorten(prefix)
                    ));
                }
                dirs.insert(prefix);
            }
            if dirs.contains(f.path.as_str()) {
                return bad(format!(
                    "{:?} is both a file and a directory",
                    shorten(&f.path)
                ));
            }
            files.insert(&f.path);
        }
        Ok(())
    }
}

/// A path is relative, `/`-separated, of plain names: no empty, `.` or
/// `..` component, no hidden names (the loader skips them, so they would
/// travel unseen), no backslash or control characters, bounded in length
/// and depth. Unpacking such a path can only create files below the
/// target directory.
pub fn check_path(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() {
        return Err("empty".into());
    }
    if path.len() > MAX_PATH_LEN {
        return Err(format!("longer than {MAX_PATH_LEN} bytes"));
    }
    if path.starts_with('/') {
        return Err("absolute".into());
    }
    let mut depth = 0;
    for part in path.split('/') {
        depth += 1;
        if depth > MAX_PATH_DEPTH {
            return Err(format!("more than {MAX_PATH_DEPTH} levels deep"));
        }
        match part {
            "" => return Err("an empty component (`//` or a trailing `/`)".into()),
            "." | ".." => return Err(format!("a `{part}` component")),
            _ if part.starts_with('.') => return Err("a hidden (dot) name".into()),
            _ if part.len() > MAX_COMPONENT_LEN => {
                return Err(format!("a name longer than {MAX_COMPONENT_LEN} bytes"));
            }
            _ if part.chars().any(|c| c.is_control() || c == '\\') => {
                return Err("a control character or backslash".into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// A path for a message: at most 100 characters, escaped by `{:?}`.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 100 {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(100).collect();
        t.push_str("...");
        t
    }
}

/// Which keys are trusted, and whether an unsigned bundle is acceptable.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// The trusted public keys.
    pub keys: Vec<VerifyingKey>,
    /// Accept a bundle with no signature (the user said so).
    pub allow_unsigned: bool,
    /// Where the keys came from, for messages ("--trusted-key k.pub",
    /// "/etc/takedown/keys").
    pub origin: String,
}

/// Who vouches for an opened bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// A trusted key, by id; the signature was checked.
    Key(String),
    /// Nobody: unsigned, accepted because [`Trust::allow_unsigned`].
    Unsigned,
}

/// A bundle whose header and manifest are read and whose signature is
/// checked; its files are still to be read (and checked) from `reader`.
#[derive(Debug)]
pub struct Opened<R> {
    reader: R,
    manifest: Manifest,
    signer: Signer,
}

/// Where [`Opened::read_files`] puts each file.
pub trait FileSink {
    /// A file starts.
    fn start(&mut self, entry: &FileEntry) -> Result<()>;
    /// The next bytes of the current file.
    fn data(&mut self, bytes: &[u8]) -> Result<()>;
    /// The current file ended and its size and SHA-256 matched.
    fn finish(&mut self, entry: &FileEntry) -> Result<()>;
}

/// Header and manifest read, nothing verified.
struct Head {
    signed_bytes: Vec<u8>,
    signed: bool,
    manifest: Manifest,
}

fn read_exact_or(r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::Invalid(format!("truncated: the bundle ends inside the {what}"))
        } else {
            Error::io(format!("cannot read the {what}"), e)
        }
    })
}

fn read_head(r: &mut impl Read) -> Result<Head> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    // The magic first, alone, so that a file that is not a bundle at all
    // says so instead of "truncated".
    while got < HEADER_LEN {
        match r.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(Error::Invalid(format!(
                    "truncated: the bundle ends inside the header ({e})"
                )));
            }
            Err(e) => return Err(Error::io("cannot read the header", e)),
        }
    }
    if got < MAGIC.len() || &header[..MAGIC.len()] != MAGIC {
        if MAGIC.starts_with(&header[..got]) && got > 0 {
            return Err(Error::Invalid(
                "truncated: the bundle ends inside the header".into(),
            ));
        }
        return Err(Error::Invalid(
            "not a takedown signature bundle (no TKDNSIGS magic)".into(),
        ));
    }
    if got < HEADER_LEN {
        return Err(Error::Invalid(
            "truncated: the bundle ends inside the header".into(),
        ));
    }
    let format = u16::from_le_bytes([header[8], header[9]]);
    if format != FORMAT_VERSION {
        return Err(Error::Invalid(format!(
            "bundle format {format}, this takedown reads format {FORMAT_VERSION}"
        )));
    }
    let flags = u16::from_le_bytes([header[10], header[11]]);
    if flags & !FLAG_SIGNED != 0 {
        return Err(Error::Invalid(format!("unknown header flags {flags:#06x}")));
    }
    let len = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    if !(2..=MAX_MANIFEST_LEN).contains(&len) {
        return Err(Error::Invalid(format!(
            "the manifest length {len} is outside 2..={MAX_MANIFEST_LEN}"
        )));
    }
    let mut signed_bytes = Vec::with_capacity(HEADER_LEN);
    signed_bytes.extend_from_slice(&header);
    // read_to_end on a Take grows the buffer as bytes arrive, so a short
    // file claiming a long manifest costs only what it holds.
    r.take(u64::from(len))
        .read_to_end(&mut signed_bytes)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                // A download cut short.
                Error::Invalid(format!(
                    "truncated: the bundle ends inside the manifest ({e})"
                ))
            } else {
                Error::io("cannot read the manifest", e)
            }
        })?;
    if signed_bytes.len() != HEADER_LEN + len as usize {
        return Err(Error::Invalid(format!(
            "truncated: the bundle ends inside the manifest ({} of {len} bytes)",
            signed_bytes.len() - HEADER_LEN
        )));
    }
    let manifest: Manifest = serde_json::from_slice(&signed_bytes[HEADER_LEN..])
        .map_err(|e| Error::Invalid(format!("bad manifest: {e}")))?;
    Ok(Head {
        signed_bytes,
        signed: flags & FLAG_SIGNED != 0,
        manifest,
    })
}

/// The manifest of a bundle, with no signature check at all: only to pick
/// which of several bundles to open properly.
pub fn peek(r: &mut impl Read) -> Result<Manifest> {
    let head = read_head(r)?;
    head.manifest.validate()?;
    Ok(head.manifest)
}

/// Reads and checks the header, the manifest and the signature.
pub fn open<R: Read>(mut reader: R, trust: &Trust) -> Result<Opened<R>> {
    let head = read_head(&mut reader)?;
    let manifest = head.manifest;
    let signer = if head.signed {
        let mut sig = [0u8; SIGNATURE_LEN];
        read_exact_or(&mut reader, &mut sig, "signature")?;
        let Some(id) = &manifest.key_id else {
            return Err(Error::Invalid(
                "bad manifest: the bundle is signed but names no key id".into(),
            ));
        };
        let Some(key) = trust.keys.iter().find(|k| crate::key::key_id(k) == *id) else {
            return Err(Error::Untrusted(if trust.keys.is_empty() {
                format!(
                    "the bundle is signed by key {id}, and no key is trusted (looked in {})",
                    trust.origin
                )
            } else {
                format!(
                    "the bundle is signed by key {id}, which is not trusted (trusted: {} from {})",
                    trust
                        .keys
                        .iter()
                        .map(crate::key::key_id)
                        .collect::<Vec<_>>()
                        .join(", "),
                    trust.origin
                )
            }));
        };
        let mut message = Vec::with_capacity(DOMAIN.len() + head.signed_bytes.len());
        message.extend_from_slice(DOMAIN);
        message.extend_from_slice(&head.signed_bytes);
        key.verify_strict(&message, &Signature::from_bytes(&sig))
            .map_err(|_| {
                Error::Untrusted(format!(
                    "bad signature: the header or manifest was altered after key {id} signed it"
                ))
            })?;
        Signer::Key(id.clone())
    } else {
        if let Some(id) = &manifest.key_id {
            return Err(Error::Untrusted(format!(
                "the manifest names signing key {id} but the bundle carries no signature (stripped?)"
            )));
        }
        if !trust.allow_unsigned {
            return Err(Error::Untrusted(
                "the bundle is not signed (--allow-unsigned accepts it)".into(),
            ));
        }
        Signer::Unsigned
    };
    // Validated after the signature: a signed manifest can still break the
    // rules (a buggy or hostile publisher), an unsigned one all the more.
    manifest.validate()?;
    Ok(Opened {
        reader,
        manifest,
        signer,
    })
}

impl<R: Read> Opened<R> {
    /// The checked manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Who signed it.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Reads every file into `sink`, checking each one's size and SHA-256
    /// at its end, then that the bundle ends there.
    pub fn read_files(mut self, sink: &mut dyn FileSink) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        for entry in &self.manifest.files {
            sink.start(entry)?;
            let mut hasher = sha2::Sha256::new();
            let mut left = entry.size;
            while left > 0 {
                let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
                let n = match self.reader.read(&mut buf[..want]) {
                    Ok(0) => {
                        return Err(Error::Invalid(format!(
                            "truncated: the bundle ends inside {:?} ({} of {} bytes)",
                            shorten(&entry.path),
                            entry.size - left,
                            entry.size
                        )));
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    // A download cut short (fewer bytes than Content-Length).
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        return Err(Error::Invalid(format!(
                            "truncated: the bundle ends inside {:?} ({} of {} bytes): {e}",
                            shorten(&entry.path),
                            entry.size - left,
                            entry.size
                        )));
                    }
                    Err(e) => {
                        return Err(Error::io(
                            format!("cannot read {:?} from the bundle", shorten(&entry.path)),
                            e,
                        ));
                    }
                };
                let chunk = buf.get(..n).unwrap_or(&[]);
                hasher.update(chunk);
                sink.data(chunk)?;
                left = left.saturating_sub(n as u64);
            }
            if hex::encode(hasher.finalize()) != entry.sha256 {
                return Err(Error::Invalid(format!(
                    "{:?} does not match its SHA-256 in the manifest (altered)",
                    shorten(&entry.path)
                )));
            }
            sink.finish(entry)?;
        }
        let mut extra = [0u8; 1];
        loop {
            match self.reader.read(&mut extra) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    return Err(Error::Invalid(
                        "extended: bytes follow the last file of the manifest".into(),
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("cannot read the end of the bundle", e)),
            }
        }
    }

    /// Reads and checks every file, keeping nothing.
    pub fn verify_files(self) -> Result<()> {
        struct Discard;
        impl FileSink for Discard {
            fn start(&mut self, _: &FileEntry) -> Result<()> {
                Ok(())
            }
            fn data(&mut self, _: &[u8]) -> Result<()> {
                Ok(())
            }
            fn finish(&mut self, _: &FileEntry) -> Result<()> {
                Ok(())
            }
        }
        self.read_files(&mut Discard)
    }
}

/// The files of a signature directory, as bundle paths and where to read
/// them. Hidden names are skipped (the loader skips them too); symbolic
/// links and anything else that is not a plain file or directory are
/// refused, since a bundle carries files only.
pub fn collect_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    walk(dir, "", 0, &mut out)?;
    out.sort();
    if out.is_empty() {
        return Err(Error::Invalid(format!(
            "{} holds no files to bundle",
            dir.display()
        )));
    }
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(Error::Invalid(format!(
                "{}: a name that is not UTF-8 cannot go into a bundle",
                path.display()
            )));
        };
        if name.starts_with('.') {
            continue;
        }
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry
            .file_type()
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        if kind.is_dir() {
            if depth + 1 >= MAX_PATH_DEPTH {
                return Err(Error::Invalid(format!(
                    "{}: more than {MAX_PATH_DEPTH} levels deep",
                    path.display()
                )));
            }
            walk(&path, &rel, depth + 1, out)?;
        } else if kind.is_file() {
            check_path(&rel).map_err(|why| Error::Invalid(format!("{}: {why}", path.display())))?;
            out.push((rel, path));
            if out.len() > MAX_FILES {
                return Err(Error::Invalid(format!(
                    "more than {MAX_FILES} files to bundle"
                )));
            }
        } else {
            return Err(Error::Invalid(format!(
                "{}: not a regular file or directory (a bundle carries files only; symbolic links are refused)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Writes a bundle of `files` (from [`collect_dir`]) to `out`, signed when
/// `key` is given. Written to a temporary name, synced and renamed, so a
/// half-written bundle never has the final name; an existing `out` is
/// never replaced. Returns the manifest written.
pub fn write(
    out: &Path,
    files: &[(String, PathBuf)],
    version: u64,
    created: u64,
    key: Option<&SigningKey>,
) -> Result<Manifest> {
    let mut entries = Vec::with_capacity(files.len());
    for (rel, path) in files {
        let (size, sha256) = hash_file(path)?;
        entries.push(FileEntry {
            path: rel.clone(),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        version,
        created,
        key_id: key.map(|k| crate::key::key_id(&k.verifying_key())),
        files: entries,
    };
    // What is written must be readable: the same rules as the reader.
    manifest.validate()?;
    let json = serde_json::to_vec(&manifest)
        .map_err(|e| Error::Invalid(format!("cannot encode the manifest: {e}")))?;
    let len = u32::try_from(json.len())
        .ok()
        .filter(|l| *l <= MAX_MANIFEST_LEN)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "the manifest would be {} bytes, over the {MAX_MANIFEST_LEN} limit",
                json.len()
            ))
        })?;
    let mut head = Vec::with_capacity(HEADER_LEN + json.len());
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let flags = if key.is_some() { FLAG_SIGNED } else { 0 };
    head.extend_from_slice(&flags.to_le_bytes());
    head.extend_from_slice(&len.to_le_bytes());
    head.extend_from_slice(&json);

    if out.exists() {
        return Err(Error::Invalid(format!(
            "{} exists; a bundle is never overwritten",
            out.display()
        )));
    }
    let file_name = out
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} is not a file name", out.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    let result = (|| {
        let ctx = || format!("cannot write {}", tmp.display());
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(ctx(), e))?;
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, f);
        w.write_all(&head).map_err(|e| Error::io(ctx(), e))?;
        if let Some(k) = key {
            let mut message = Vec::with_capacity(DOMAIN.len() + head.len());
            message.extend_from_slice(DOMAIN);
            message.extend_from_slice(&head);
            w.write_all(&k.sign(&message).to_bytes())
                .map_err(|e| Error::io(ctx(), e))?;
        }
        for (entry, (_, path)) in manifest.files.iter().zip(files) {
            copy_checked(path, entry, &mut w)?;
        }
        let f = w
            .into_inner()
            .map_err(|e| Error::io(ctx(), e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(ctx(), e))?;
        std::fs::rename(&tmp, out)
            .map_err(|e| Error::io(format!("cannot rename into {}", out.display()), e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| manifest)
}

fn hash_file(path: &Path) -> Result<(u64, String)> {
    let ctx = || format!("cannot read {}", path.display());
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(ctx(), e))?;
    let mut hasher = sha2::Sha256::new();
    let size = std::io::copy(&mut f, &mut hasher).map_err(|e| Error::io(ctx(), e))?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Copies a file into the bundle, checking it is still what was hashed
/// (a file changed between the two reads would make a bundle that fails
/// its own verification).
fn copy_checked(path: &Path, entry: &FileEntry, w: &mut impl Write) -> Result<()> {
    let ctx = || format!("cannot read {}", path.display());
    let f = std::fs::File::open(path).map_err(|e| Error::io(ctx(), e))?;
    let mut hasher = sha2::Sha256::new();
    let mut reader = f.take(entry.size.saturating_add(1));
    let mut buf = vec![0u8; 64 * 1024];
    let mut copied: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(ctx(), e)),
        };
        let chunk = buf.get(..n).unwrap_or(&[]);
        copied = copied.saturating_add(n as u64);
        if copied > entry.size {
            break;
        }
        hasher.update(chunk);
        w.write_all(chunk)
            .map_err(|e| Error::io("cannot write the bundle", e))?;
    }
    if copied != entry.size || hex::encode(hasher.finalize()) != entry.sha256 {
        return Err(Error::Invalid(format!(
            "{} changed while it was being bundled; try again",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<(String, Vec<u8>)>);
    impl FileSink for Collect {
        fn start(&mut self, e: &FileEntry) -> Result<()> {
            self.0.push((e.path.clone(), Vec::new()));
            Ok(())
        }
        fn data(&mut self, b: &[u8]) -> Result<()> {
            self.0.last_mut().unwrap().1.extend_from_slice(b);
            Ok(())
        }
        fn finish(&mut self, _: &FileEntry) -> Result<()> {
            Ok(())
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[42u8; 32])
    }

    fn trust() -> Trust {
        Trust {
            keys: vec![key().verifying_key()],
            allow_unsigned: false,
            origin: "test".into(),
        }
    }

    /// A signed bundle of a small tree, as bytes, and the tree's files.
    fn sample(signed: bool) -> (Vec<u8>, Files) {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            ("a.yar".to_string(), b"rule a { condition: true }".to_vec()),
            ("iocs/hash-iocs.txt".to_string(), b"0123;x\n".to_vec()),
            ("iocs/z/empty.txt".to_string(), Vec::new()),
        ];
        for (rel, data) in &files {
            let p = dir.path().join("src").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        std::fs::write(dir.path().join("src/.hidden"), "skipped").unwrap();
        let list = collect_dir(&dir.path().join("src")).unwrap();
        let out = dir.path().join("b.tdsb");
        let k = key();
        write(&out, &list, 7, 1_700_000_000, signed.then_some(&k)).unwrap();
        (std::fs::read(out).unwrap(), files)
    }

    type Files = Vec<(String, Vec<u8>)>;

    fn read_all(bytes: &[u8], trust: &Trust) -> Result<(Manifest, Files)> {
        let opened = open(bytes, trust)?;
        let m = opened.manifest().clone();
        let mut c = Collect(Vec::new());
        opened.read_files(&mut c)?;
        Ok((m, c.0))
    }

    #[test]
    fn round_trip() {
        let (bytes, files) = sample(true);
        let (m, got) = read_all(&bytes, &trust()).unwrap();
        assert_eq!(m.version, 7);
        assert_eq!(m.created, 1_700_000_000);
        assert_eq!(m.key_id, Some(crate::key::key_id(&key().verifying_key())));
        assert_eq!(got, files);
        let opened = open(bytes.as_slice(), &trust()).unwrap();
        assert_eq!(
            opened.signer(),
            &Signer::Key(crate::key::key_id(&key().verifying_key()))
        );
        assert_eq!(peek(&mut bytes.as_slice()).unwrap(), m);
    }

    #[test]
    fn every_byte_is_covered() {
        // Flipping any single byte of the bundle is refused: header and
        // manifest by the signature (or parsing), content by the hashes.
        let (bytes, _) = sample(true);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(
                read_all(&b, &trust()).is_err(),
                "a flip at byte {i} of {} went unnoticed",
                bytes.len()
            );
        }
    }

    #[test]
    fn tampered_regions_say_why() {
        let (bytes, _) = sample(true);
        let msg = |b: &[u8]| read_all(b, &trust()).unwrap_err().to_string();
        let mut b = bytes.clone();
        b[0] = b'X';
        assert!(msg(&b).contains("not a takedown signature bundle"));
        let mut b = bytes.clone();
        b[8] = 2;
        assert!(msg(&b).contains("bundle format 2"));
        let mut b = bytes.clone();
        b[11] = 0x80;
        assert!(msg(&b).contains("unknown header flags"));
        let mut b = bytes.clone();
        b[15] = 0x7f;
        assert!(msg(&b).contains("manifest length"));
        // The version inside the manifest: "version":7 -> 8.
        let at = bytes
            .windows(10)
            .position(|w| w == b"\"version\":")
            .unwrap()
            + 10;
        let mut b = bytes.clone();
        b[at] = b'8';
        assert!(msg(&b).contains("bad signature"), "{}", msg(&b));
        // The signature itself.
        let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let mut b = bytes.clone();
        b[HEADER_LEN + len + 3] ^= 0xff;
        assert!(msg(&b).contains("bad signature"));
        // The content.
        let last = bytes.len() - 1;
        let mut b = bytes.clone();
        b[last] ^= 0xff;
        assert!(
            msg(&b).contains("does not match its SHA-256"),
            "{}",
            msg(&b)
        );
    }

    #[test]
    fn truncated_at_every_offset_and_extended_are_refused() {
        let (bytes, _) = sample(true);
        for cut in 0..bytes.len() {
            let e = read_all(&bytes[..cut], &trust()).unwrap_err().to_string();
            assert!(
                e.contains("truncated") || (cut < MAGIC.len() && e.contains("not a takedown")),
                "cut at {cut}: {e}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let e = read_all(&longer, &trust()).unwrap_err().to_string();
        assert!(e.contains("extended"), "{e}");
    }

    #[test]
    fn wrong_key_and_unsigned() {
        let (signed, _) = sample(true);
        let other = Trust {
            keys: vec![SigningKey::from_bytes(&[1u8; 32]).verifying_key()],
            ..trust()
        };
        let e = read_all(&signed, &other).unwrap_err();
        assert!(e.to_string().contains("not trusted"), "{e}");
        assert!(e.is_refusal());
        let e = read_all(&signed, &Trust::default()).unwrap_err();
        assert!(e.to_string().contains("no key is trusted"), "{e}");

        let (unsigned, files) = sample(false);
        let e = read_all(&unsigned, &trust()).unwrap_err();
        assert!(e.to_string().contains("--allow-unsigned"), "{e}");
        let allow = Trust {
            allow_unsigned: true,
            ..trust()
        };
        let (m, got) = read_all(&unsigned, &allow).unwrap();
        assert_eq!(m.key_id, None);
        assert_eq!(got, files);

        // Stripping the signature off a signed bundle (clearing the flag
        // and cutting the 64 bytes) leaves a manifest that names a key.
        let len = u32::from_le_bytes(signed[12..16].try_into().unwrap()) as usize;
        let mut stripped = signed[..HEADER_LEN + len].to_vec();
        stripped[10] = 0;
        stripped.extend_from_slice(&signed[HEADER_LEN + len + SIGNATURE_LEN..]);
        let e = read_all(&stripped, &allow).unwrap_err();
        assert!(e.to_string().contains("stripped"), "{e}");
    }

    /// A bundle with a hand-made manifest (unsigned), to test the rules.
    fn with_manifest(m: &Manifest, payload: &[u8]) -> Vec<u8> {
        let json = serde_json::to_vec(m).unwrap();
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&(json.len() as u32).to_le_bytes());
        b.extend_from_slice(&json);
        b.extend_from_slice(payload);
        b
    }

    fn entry(path: &str, data: &[u8]) -> FileEntry {
        FileEntry {
            path: path.into(),
            size: data.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(data)),
        }
    }

    fn refused(files: Vec<FileEntry>) -> String {
        let m = Manifest {
            version: 1,
            created: 0,
            key_id: None,
            files,
        };
        let allow = Trust {
            allow_unsigned: true,
            ..Trust::default()
        };
        read_all(&with_manifest(&m, b""), &allow)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn hostile_manifests_are_refused() {
        for bad in [
            "../x.yar",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/",
            "./a",
            ".hidden",
            "a\\b",
            "a\nb",
            "",
        ] {
            let e = refused(vec![entry(bad, b"")]);
            assert!(e.contains("bad manifest: path"), "{bad:?}: {e}");
        }
        let deep = vec!["d"; MAX_PATH_DEPTH + 1].join("/");
        assert!(refused(vec![entry(&deep, b"")]).contains("levels deep"));
        let long = "x".repeat(MAX_PATH_LEN + 1);
        assert!(refused(vec![entry(&long, b"")]).contains("longer than"));

        let e = refused(vec![entry("a", b""), entry("a", b"")]);
        assert!(e.contains("duplicate or out of order"), "{e}");
        let e = refused(vec![entry("b", b""), entry("a", b"")]);
        assert!(e.contains("duplicate or out of order"), "{e}");
        let e = refused(vec![entry("a", b""), entry("a/b", b"")]);
        assert!(e.contains("both a file and a directory"), "{e}");
        let e = refused(vec![entry("a/b", b""), entry("a/b/c", b"")]);
        assert!(e.contains("both a file and a directory"), "{e}");
        assert!(refused(vec![]).contains("no files"));
        let many: Vec<FileEntry> = (0..=MAX_FILES)
            .map(|i| entry(&format!("{i:06}"), b""))
            .collect();
        assert!(refused(many).contains("files (at most"));
        let mut big = entry("a", b"");
        big.size = MAX_TOTAL_SIZE + 1;
        assert!(refused(vec![big]).contains("add up to more than"));
        let mut two = vec![entry("a", b""), entry("b", b"")];
        two[0].size = u64::MAX;
        two[1].size = u64::MAX;
        assert!(refused(two).contains("add up to more than"));
        let mut bad_hash = entry("a", b"");
        bad_hash.sha256 = "XYZ".into();
        assert!(refused(vec![bad_hash]).contains("64 lowercase hex"));

        // Unknown fields and a huge claimed manifest length.
        let allow = Trust {
            allow_unsigned: true,
            ..Trust::default()
        };
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        let json = br#"{"version":1,"created":0,"key_id":null,"files":[],"extra":1}"#;
        b.extend_from_slice(&(json.len() as u32).to_le_bytes());
        b.extend_from_slice(json);
        assert!(
            read_all(&b, &allow)
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&MAX_MANIFEST_LEN.to_le_bytes());
        b.extend_from_slice(b"{}");
        let e = read_all(&b, &allow).unwrap_err().to_string();
        assert!(e.contains("truncated") && e.contains("manifest"), "{e}");
    }

    #[test]
    #[cfg(unix)] // Mode bits and symbolic links made by the test.
    fn bundling_refuses_links_and_existing_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("a.yar"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("b.yar")).unwrap();
        let e = collect_dir(&src).unwrap_err().to_string();
        assert!(e.contains("symbolic links are refused"), "{e}");
        std::fs::remove_file(src.join("b.yar")).unwrap();
        let list = collect_dir(&src).unwrap();
        let out = dir.path().join("o.tdsb");
        write(&out, &list, 1, 0, None).unwrap();
        let e = write(&out, &list, 2, 0, None).unwrap_err().to_string();
        assert!(e.contains("never overwritten"), "{e}");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(
            collect_dir(&empty)
                .unwrap_err()
                .to_string()
                .contains("no files")
        );
    }
}
