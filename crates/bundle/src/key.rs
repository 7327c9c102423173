//! Ed25519 key files and the trusted-keys directory.
//!
//! Keys are small text files, so they can be pasted, mailed and checked by
//! eye: a header line naming the format, then the 32 key bytes in base64
//! (standard alphabet, padded). Lines starting with `#` are comments.
//!
//! ```text
//! takedown ed25519 public key v1
//! # key id 3f2a9c0d11e4b7a8
//! nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=
//! ```
//!
//! A secret key file holds the 32-byte seed the same way, under
//! `takedown ed25519 secret key v1`, and must be readable by its owner
//! only. The key id is the first 8 bytes of the SHA-256 of the public key,
//! in hex: bundles name their signer by it.

use crate::{Error, Result};
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::Digest;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// First line of a secret key file.
pub const SECRET_HEADER: &str = "takedown ed25519 secret key v1";
/// First line of a public key file.
pub const PUBLIC_HEADER: &str = "takedown ed25519 public key v1";
/// Trusted keys of root.
pub const SYSTEM_TRUSTED_DIR: &str = "/etc/takedown/keys";
/// A key file is a few lines; anything longer is not one (and is not read
/// into memory whole).
const MAX_KEY_FILE: u64 = 4096;
/// Public keys read from a trusted-keys directory.
const MAX_TRUSTED_KEYS: usize = 256;

/// A new random signing key (from the operating system's generator).
pub fn generate() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| Error::Key(format!("the system's random number generator failed: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The id bundles name a key by: 16 hex digits of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = sha2::Sha256::digest(key.as_bytes());
    hex::encode(&digest[..8])
}

/// Writes a secret key, readable by its owner only; never overwrites.
pub fn write_secret(path: &Path, key: &SigningKey) -> Result<()> {
    let text = format!(
        "{SECRET_HEADER}\n# key id {}\n{}\n",
        key_id(&key.verifying_key()),
        base64::engine::general_purpose::STANDARD.encode(key.to_bytes())
    );
    write_new(path, text.as_bytes(), false)
}

/// Writes a public key; never overwrites.
pub fn write_public(path: &Path, key: &VerifyingKey) -> Result<()> {
    let text = format!(
        "{PUBLIC_HEADER}\n# key id {}\n{}\n",
        key_id(key),
        base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
    );
    write_new(path, text.as_bytes(), true)
}

fn write_new(path: &Path, data: &[u8], public: bool) -> Result<()> {
    let ctx = || format!("cannot write key file {}", path.display());
    let mut f = crate::os::create_options(public, false)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(ctx(), e))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(ctx(), e))
}

/// Reads a secret key, refusing one that others can read.
pub fn read_secret(path: &Path) -> Result<SigningKey> {
    let (text, meta) = read_small(path)?;
    crate::os::check_private(path, &meta)?;
    let seed = parse(&text, SECRET_HEADER)
        .map_err(|why| Error::Key(format!("{}: not a secret key file: {why}", path.display())))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key.
pub fn read_public(path: &Path) -> Result<VerifyingKey> {
    let (text, _) = read_small(path)?;
    let bytes = parse(&text, PUBLIC_HEADER)
        .map_err(|why| Error::Key(format!("{}: not a public key file: {why}", path.display())))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| {
        Error::Key(format!(
            "{}: not a valid Ed25519 public key",
            path.display()
        ))
    })
}

fn read_small(path: &Path) -> Result<(String, std::fs::Metadata)> {
    let ctx = || format!("cannot read key file {}", path.display());
    let f = std::fs::File::open(path).map_err(|e| Error::io(ctx(), e))?;
    let meta = f.metadata().map_err(|e| Error::io(ctx(), e))?;
    let mut bytes = Vec::new();
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(ctx(), e))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(Error::Key(format!(
            "{}: not a key file (longer than {MAX_KEY_FILE} bytes)",
            path.display()
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Key(format!("{}: not a key file (not UTF-8)", path.display())))?;
    Ok((text, meta))
}

/// The 32 key bytes of a key file's text with the given header.
fn parse(text: &str, header: &str) -> std::result::Result<[u8; 32], String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some(h) if h == header => {}
        Some(h) if h.starts_with("takedown ed25519 ") => {
            return Err(format!("its first line is `{h}`, expected `{header}`"));
        }
        _ => return Err(format!("its first line is not `{header}`")),
    }
    let b64 = lines.next().ok_or("it has no key line")?;
    if lines.next().is_some() {
        return Err("more than one key line".into());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("the key line is not base64: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("the key is {} bytes, expected 32", bytes.len()))
}

/// The default trusted-keys directory: [`SYSTEM_TRUSTED_DIR`] for root,
/// else `$XDG_CONFIG_HOME/takedown/keys` or `~/.config/takedown/keys`
/// (on Windows `%APPDATA%\takedown\keys`).
pub fn default_trusted_dir() -> Option<PathBuf> {
    if crate::os::is_admin() {
        return Some(PathBuf::from(SYSTEM_TRUSTED_DIR));
    }
    let base = crate::os::user_config_dir()?;
    Some(base.join("takedown").join("keys"))
}

/// Every `*.pub` key in a trusted-keys directory, with the key files that
/// could not be used (each with the reason). A directory that does not
/// exist holds no keys; one that others can write is refused whole.
pub fn read_trusted_dir(dir: &Path) -> Result<(Vec<VerifyingKey>, Vec<String>)> {
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => {
            return Err(Error::io(
                format!("cannot read trusted keys {}", dir.display()),
                e,
            ));
        }
    };
    crate::os::check_not_writable_by_others(dir, &meta)?;
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("cannot read trusted keys {}", dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pub"))
        .collect();
    names.sort();
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    for path in names.into_iter().take(MAX_TRUSTED_KEYS) {
        let usable = std::fs::metadata(&path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
            .and_then(|m| crate::os::check_not_writable_by_others(&path, &m))
            .and_then(|()| read_public(&path));
        match usable {
            Ok(k) => keys.push(k),
            Err(e) => problems.push(e.to_string()),
        }
    }
    Ok((keys, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)] // Mode bits and symbolic links made by the test.
    fn key_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let k = generate().unwrap();
        write_secret(&dir.path().join("k"), &k).unwrap();
        write_public(&dir.path().join("k.pub"), &k.verifying_key()).unwrap();
        let back = read_secret(&dir.path().join("k")).unwrap();
        assert_eq!(back.to_bytes(), k.to_bytes());
        let public = read_public(&dir.path().join("k.pub")).unwrap();
        assert_eq!(public, k.verifying_key());
        assert_eq!(key_id(&public).len(), 16);
        // Never overwritten.
        assert!(write_secret(&dir.path().join("k"), &k).is_err());
        // A public key is not a secret key, and the message says why.
        std::fs::set_permissions(
            dir.path().join("k.pub"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let e = read_secret(&dir.path().join("k.pub"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected `takedown ed25519 secret key v1`"),
            "{e}"
        );
    }

    #[test]
    #[cfg(unix)] // Mode bits and symbolic links made by the test.
    fn a_secret_key_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_secret(&p, &generate().unwrap()).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let e = read_secret(&p).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn malformed_key_text_is_refused_with_the_reason() {
        assert!(parse("", PUBLIC_HEADER).unwrap_err().contains("first line"));
        assert!(
            parse(&format!("{PUBLIC_HEADER}\n"), PUBLIC_HEADER)
                .unwrap_err()
                .contains("no key line")
        );
        assert!(
            parse(&format!("{PUBLIC_HEADER}\n!!!\n"), PUBLIC_HEADER)
                .unwrap_err()
                .contains("not base64")
        );
        assert!(
            parse(&format!("{PUBLIC_HEADER}\nAAAA\n"), PUBLIC_HEADER)
                .unwrap_err()
                .contains("3 bytes, expected 32")
        );
        let ok = format!(
            "# comment\n{PUBLIC_HEADER}\n# id\n{}\n",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        );
        assert_eq!(parse(&ok, PUBLIC_HEADER).unwrap(), [7u8; 32]);
        assert!(
            parse(&format!("{ok}AAAA\n"), PUBLIC_HEADER)
                .unwrap_err()
                .contains("more than one")
        );
    }

    #[test]
    #[cfg(unix)] // Mode bits and symbolic links made by the test.
    fn trusted_dir_reads_pub_files_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let k = generate().unwrap();
        write_public(&dir.path().join("a.pub"), &k.verifying_key()).unwrap();
        std::fs::write(dir.path().join("b.pub"), "junk").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let (keys, problems) = read_trusted_dir(dir.path()).unwrap();
        assert_eq!(keys, vec![k.verifying_key()]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("b.pub"), "{problems:?}");
        let (none, _) = read_trusted_dir(&dir.path().join("missing")).unwrap();
        assert!(none.is_empty());
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let e = read_trusted_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("writable by other users"), "{e}");
    }
}
