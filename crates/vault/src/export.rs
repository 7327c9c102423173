//! Export an item the way samples are shared with analysts: a zip with
//! the password `infected`, holding the sample and its metadata.
//!
//! ZipCrypto by default because every unzip tool opens it (the point of
//! the convention is that the recipient can), AES-256 on request. The
//! encryption only keeps the sample from being run or caught by a scanner
//! on the way; the password is public.

use crate::fsops::{self, reason};
use crate::recover::COMMANDS_LOG;
use crate::{Error, LogEntry, Vault};
use std::io::{BufWriter, Write};
use std::path::Path;
use zip::unstable::write::FileOptionsExt;
use zip::write::SimpleFileOptions;

/// The conventional password.
pub const PASSWORD: &str = "infected";

/// How to encrypt an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// Legacy PKWARE encryption: opened by every unzip.
    ZipCrypto,
    /// WinZip AES-256: stronger, needs 7-Zip or a recent unzip.
    Aes256,
}

impl Vault {
    /// Writes item `id` to a new zip file `to` (never overwrites). Members:
    /// `<sha256>.bin` (the sample, verified on the way) and
    /// `<sha256>.json` (its metadata).
    pub fn export(&self, id: &str, to: &Path, enc: Encryption) -> Result<(), Error> {
        let meta = self.meta(id)?;
        let shown = to.display().to_string();
        let loc = fsops::locate(to).map_err(|e| Error::io(format!("cannot write {shown}"), &e))?;
        let file = fsops::create_excl(&loc.dir, &loc.name).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Refused(format!("{shown} already exists; not overwritten"))
            } else {
                Error::io(format!("cannot write {shown}"), &e)
            }
        })?;
        let result = (|| -> Result<(), Error> {
            let zip_err = |e: zip::result::ZipError| Error::Io {
                what: format!("cannot write {shown}"),
                reason: e.to_string(),
            };
            let mut zip = zip::ZipWriter::new(BufWriter::new(file));
            let base = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(0o600);
            let opts = match enc {
                Encryption::ZipCrypto => base
                    .with_deprecated_encryption(PASSWORD.as_bytes())
                    .map_err(zip_err)?,
                Encryption::Aes256 => base.with_aes_encryption(zip::AesMode::Aes256, PASSWORD),
            };
            zip.start_file(format!("{}.bin", meta.sha256), opts)
                .map_err(zip_err)?;
            self.read_item(id, &mut zip)?;
            zip.start_file(format!("{}.json", meta.sha256), opts)
                .map_err(zip_err)?;
            let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::Io {
                what: "metadata".into(),
                reason: e.to_string(),
            })?;
            zip.write_all(&json)
                .map_err(|e| Error::io(format!("cannot write {shown}"), &e))?;
            let w = zip.finish().map_err(zip_err)?;
            let f = w
                .into_inner()
                .map_err(|e| Error::io(format!("cannot write {shown}"), e.error()))?;
            f.sync_all()
                .map_err(|e| Error::io(format!("cannot write {shown}"), &e))
        })();
        if let Err(e) = result {
            // Never leave a partial export behind.
            if let Err(u) = fsops::unlink_at(&loc.dir, &loc.name) {
                tracing::warn!("cannot remove the partial {shown}: {}", reason(&u));
            }
            return Err(e);
        }
        let mut entry = LogEntry::new("export", "done");
        entry.path = Some(loc.path().to_string_lossy().into_owned());
        entry.vault_id = Some(id.to_string());
        entry.sha256 = Some(meta.sha256);
        let _ = self.append_log(COMMANDS_LOG, &[entry]);
        Ok(())
    }
}
