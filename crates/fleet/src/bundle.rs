//! Getting a hunt's bundle and deciding whether to run it.
//!
//! The bundle is fetched (object store or URL) into a private temporary
//! file, never more than the size the hunt names; its SHA-256 must be the
//! hunt's; then it is opened with the existing signed-bundle verification
//! against the agent's own trusted keys (`takedown_bundle::format::open`)
//! and every file is checked and unpacked into a per-hunt directory. Only
//! that directory is ever given to the scan. The SHA-256 ties the hunt to
//! one file (a swapped object is refused even if signed); the signature
//! ties the file to a publisher the agent trusts, which the analyst's
//! message alone never could.

use crate::model::BundleRef;
use sha2::Digest;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use takedown_bundle::format::{self, FileEntry, FileSink, Signer, Trust};

/// Why a bundle is not run.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle is bad: another hash or size, malformed, altered,
    /// unsigned or signed by a key the agent does not trust. Final.
    #[error("bundle refused: {0}")]
    Refused(String),
    /// It could not be fetched or stored (network, disk): worth another
    /// try later.
    #[error("bundle unavailable: {0}")]
    Unavailable(String),
}

/// A bundle verified and unpacked.
#[derive(Debug)]
pub struct Verified {
    /// The directory of signature files (inside `_tmp`).
    pub dir: PathBuf,
    /// The bundle's version.
    pub version: u64,
    /// The trusted key that signed it; `None` only when the agent accepts
    /// unsigned bundles.
    pub key_id: Option<String>,
    /// SHA-256 of the bundle file.
    pub sha256: String,
    /// Removes everything when dropped.
    _tmp: tempfile::TempDir,
}

/// Fetches the bundle into `work_dir`, checks it and unpacks it. A
/// download from a URL still going at `deadline` is given up
/// (unavailable); the caller bounds the whole call with the same deadline
/// (the object store's reads are async, and cancelled with it).
pub async fn fetch_and_verify(
    js: &async_nats::jetstream::Context,
    bundle: &BundleRef,
    trust: &Trust,
    work_dir: &Path,
    deadline: std::time::Instant,
) -> Result<Verified, BundleError> {
    let tmp = tempfile::Builder::new()
        .prefix("hunt-")
        .tempdir_in(work_dir)
        .map_err(|e| {
            BundleError::Unavailable(format!(
                "cannot create a directory in {}: {e}",
                work_dir.display()
            ))
        })?;
    let file_path = tmp.path().join("bundle.tdsb");
    let (size, sha256) = match (&bundle.object, &bundle.url) {
        (Some(object), _) => fetch_object(js, object, bundle.size, &file_path).await?,
        (None, Some(url)) => {
            let url = url.clone();
            let path = file_path.clone();
            let limit = bundle.size;
            tokio::task::spawn_blocking(move || fetch_url(&url, limit, &path, deadline))
                .await
                .map_err(|e| BundleError::Unavailable(format!("the download stopped: {e}")))??
        }
        (None, None) => {
            return Err(BundleError::Refused(
                "the hunt names no place to get its bundle".into(),
            ));
        }
    };
    if size != bundle.size {
        return Err(BundleError::Refused(format!(
            "the bundle is {size} bytes, the hunt says {}",
            bundle.size
        )));
    }
    if sha256 != bundle.sha256 {
        return Err(BundleError::Refused(format!(
            "the bundle's SHA-256 is {sha256}, the hunt says {} (altered or swapped)",
            bundle.sha256
        )));
    }
    let trust = trust.clone();
    let root = tmp.path().join("signatures");
    let unpack_root = root.clone();
    let (version, signer) =
        tokio::task::spawn_blocking(move || open_and_unpack(&file_path, &trust, &unpack_root))
            .await
            .map_err(|e| BundleError::Unavailable(format!("the check stopped: {e}")))??;
    Ok(Verified {
        dir: root,
        version,
        key_id: match signer {
            Signer::Key(id) => Some(id),
            Signer::Unsigned => None,
        },
        sha256,
        _tmp: tmp,
    })
}

async fn fetch_object(
    js: &async_nats::jetstream::Context,
    object: &str,
    limit: u64,
    path: &Path,
) -> Result<(u64, String), BundleError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let store = crate::conn::bundle_store(js, false)
        .await
        .map_err(|e| BundleError::Unavailable(e.to_string()))?;
    let mut obj = store.get(object).await.map_err(|e| {
        BundleError::Unavailable(format!(
            "cannot get the object {object} of the bundle store: {e}"
        ))
    })?;
    if obj.info().size as u64 > limit {
        return Err(BundleError::Refused(format!(
            "the object {object} is {} bytes, the hunt says {limit}",
            obj.info().size
        )));
    }
    let mut out = tokio::fs::File::create(path)
        .await
        .map_err(|e| BundleError::Unavailable(format!("cannot create {}: {e}", path.display())))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = obj.read(&mut buf).await.map_err(|e| {
            BundleError::Unavailable(format!("cannot read the object {object}: {e}"))
        })?;
        if n == 0 {
            break;
        }
        total = total.saturating_add(n as u64);
        if total > limit {
            return Err(BundleError::Refused(format!(
                "the object {object} is longer than the {limit} bytes the hunt says"
            )));
        }
        let chunk = buf.get(..n).unwrap_or(&[]);
        hasher.update(chunk);
        out.write_all(chunk).await.map_err(|e| {
            BundleError::Unavailable(format!("cannot write {}: {e}", path.display()))
        })?;
    }
    out.flush()
        .await
        .map_err(|e| BundleError::Unavailable(format!("cannot write {}: {e}", path.display())))?;
    Ok((total, hex::encode(hasher.finalize())))
}

fn fetch_url(
    url: &str,
    limit: u64,
    path: &Path,
    deadline: std::time::Instant,
) -> Result<(u64, String), BundleError> {
    let fetched =
        takedown_bundle::source::fetch(&takedown_bundle::source::Source::Url(url.to_string()))
            .map_err(|e| BundleError::Unavailable(e.to_string()))?;
    let mut out = std::fs::File::create(path)
        .map_err(|e| BundleError::Unavailable(format!("cannot create {}: {e}", path.display())))?;
    let mut reader = fetched.reader.take(limit.saturating_add(1));
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        // The client bounds each read; a server trickling bytes is bounded
        // here, so no download thread outlives its hunt for long.
        if std::time::Instant::now() > deadline {
            return Err(BundleError::Unavailable(format!(
                "the download of {url} did not finish in time"
            )));
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BundleError::Unavailable(format!("cannot read {url}: {e}"))),
        };
        total = total.saturating_add(n as u64);
        if total > limit {
            return Err(BundleError::Refused(format!(
                "{url} is longer than the {limit} bytes the hunt says"
            )));
        }
        let chunk = buf.get(..n).unwrap_or(&[]);
        hasher.update(chunk);
        out.write_all(chunk).map_err(|e| {
            BundleError::Unavailable(format!("cannot write {}: {e}", path.display()))
        })?;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// Verifies the signature against `trust`, then unpacks and checks every
/// file under `root`.
fn open_and_unpack(file: &Path, trust: &Trust, root: &Path) -> Result<(u64, Signer), BundleError> {
    let f = std::fs::File::open(file)
        .map_err(|e| BundleError::Unavailable(format!("cannot open {}: {e}", file.display())))?;
    let reader = std::io::BufReader::with_capacity(256 * 1024, f);
    let classify = |e: takedown_bundle::Error| {
        if e.is_refusal() {
            BundleError::Refused(e.to_string())
        } else {
            BundleError::Unavailable(e.to_string())
        }
    };
    let opened = format::open(reader, trust).map_err(classify)?;
    let version = opened.manifest().version;
    let signer = opened.signer().clone();
    std::fs::create_dir(root)
        .map_err(|e| BundleError::Unavailable(format!("cannot create {}: {e}", root.display())))?;
    let mut sink = Unpack {
        root: root.to_path_buf(),
        file: None,
    };
    opened.read_files(&mut sink).map_err(classify)?;
    Ok((version, signer))
}

/// Writes a bundle's files under a fresh directory. The paths were checked
/// by the manifest's validation (relative, no `.` or `..`, bounded), and
/// every file is created new, so nothing outside `root` is touched.
struct Unpack {
    root: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl FileSink for Unpack {
    fn start(&mut self, entry: &FileEntry) -> takedown_bundle::Result<()> {
        let mut path = self.root.clone();
        for part in entry.path.split('/') {
            if part.is_empty() || part == "." || part == ".." {
                return Err(takedown_bundle::Error::Invalid(format!(
                    "bad path {:?} in the manifest",
                    crate::ids::shorten(&entry.path)
                )));
            }
            path.push(part);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        self.file = Some(std::io::BufWriter::with_capacity(64 * 1024, f));
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> takedown_bundle::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(bytes).map_err(|e| io_err(&self.root, e)),
            None => Err(takedown_bundle::Error::Invalid(
                "data outside a file".into(),
            )),
        }
    }

    fn finish(&mut self, _: &FileEntry) -> takedown_bundle::Result<()> {
        match self.file.take() {
            Some(mut f) => f.flush().map_err(|e| io_err(&self.root, e)),
            None => Ok(()),
        }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> takedown_bundle::Error {
    // A bundle that cannot be unpacked on this disk is not the bundle's
    // fault: Io is not a refusal, so the hunt is tried again.
    takedown_bundle::Error::Io {
        context: format!("cannot write {}", path.display()),
        source: e,
    }
}
