//! The scan workers and the uploads they scan.
//!
//! Uploads arrive on the async side ([`Spool`]): up to `memory_buffer`
//! bytes stay in memory, the rest goes to an unlinked temporary file, so a
//! request never holds more than a bounded buffer whatever its size. Only a
//! complete upload becomes a [`Job`]: a slow client ties up a connection,
//! never a worker.
//!
//! Workers are plain threads, one [`ObjectScanner`] each (a yara-x scanner
//! cannot move between threads and is costly to build, so it is kept from
//! job to job). A job carries the signature [`Generation`] its request
//! started with; a worker that meets a job of another generation rebuilds
//! its scanner for it. So a reload never changes the rules under a request
//! in flight, and no request fails because of one.
//!
//! The queue to the workers is unbounded by type but bounded in fact: only
//! admitted requests (a semaphore of `max_requests` permits, taken before
//! any body is read) make jobs.

use crate::metrics::Metrics;
use crate::state::Generation;
use sha2::Digest;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use takedown_engine::finding::Finding;
use takedown_engine::scan::{ObjectScanner, Outcome, ScanOptions, Status};
use tokio::sync::oneshot;

/// A complete upload.
pub enum Upload {
    /// Small enough to stay in memory.
    Memory(Vec<u8>),
    /// Spooled to an unlinked temporary file.
    File(std::fs::File),
}

/// Why an upload was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Over the upload limit.
    #[error("upload is larger than the limit of {0} bytes")]
    TooLarge(u64),
    /// The spool file could not be written.
    #[error("cannot spool the upload: {0}")]
    Io(#[from] std::io::Error),
}

/// Receives an upload chunk by chunk, within a size limit.
pub struct Spool {
    buf: Vec<u8>,
    file: Option<std::fs::File>,
    len: u64,
    limit: u64,
    memory: usize,
    dir: PathBuf,
}

impl Spool {
    /// An empty spool: at most `limit` bytes, `memory` of them in memory.
    pub fn new(limit: u64, memory: usize, dir: PathBuf) -> Spool {
        Spool {
            buf: Vec::new(),
            file: None,
            len: 0,
            limit,
            memory,
            dir,
        }
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True before the first byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a chunk. Writing to the spool file is a page-cache copy of at
    /// most `memory` bytes at a time, so callers on the async runtime may
    /// call this directly.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), SpoolError> {
        let len = self
            .len
            .checked_add(chunk.len() as u64)
            .filter(|&l| l <= self.limit)
            .ok_or(SpoolError::TooLarge(self.limit))?;
        self.len = len;
        if self.buf.len() + chunk.len() <= self.memory {
            self.buf.extend_from_slice(chunk);
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(tempfile::tempfile_in(&self.dir)?),
        };
        if !self.buf.is_empty() {
            file.write_all(&self.buf)?;
            self.buf.clear();
        }
        if chunk.len() >= self.memory {
            file.write_all(chunk)?;
        } else {
            self.buf.extend_from_slice(chunk);
        }
        Ok(())
    }

    /// The complete upload.
    pub fn finish(mut self) -> Result<Upload, SpoolError> {
        match self.file.take() {
            None => Ok(Upload::Memory(std::mem::take(&mut self.buf))),
            Some(mut f) => {
                f.write_all(&self.buf)?;
                Ok(Upload::File(f))
            }
        }
    }
}

/// What a worker found.
pub struct Scanned {
    /// The engine's outcome.
    pub outcome: Outcome,
    /// SHA-256 of the whole upload.
    pub sha256: String,
    /// Size of the upload.
    pub size: u64,
    /// Generation of the signatures used.
    pub generation: u64,
}

impl Scanned {
    /// Every notable finding: the upload's own, then those inside it.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        std::iter::once(&self.outcome.finding)
            .filter(|f| f.is_notable())
            .chain(&self.outcome.inner)
    }

    /// True when anything matched, on the upload or inside it.
    pub fn detected(&self) -> bool {
        self.findings().any(|f| !f.detections.is_empty())
    }

    /// True when the upload could not be scanned.
    pub fn failed(&self) -> bool {
        matches!(self.outcome.status, Status::Failed)
    }
}

/// One scan to do.
pub struct Job {
    name: String,
    upload: Upload,
    generation: Arc<Generation>,
    reply: oneshot::Sender<Result<Scanned, String>>,
}

/// The workers.
#[derive(Clone)]
pub struct Pool {
    tx: crossbeam_channel::Sender<Job>,
    metrics: Arc<Metrics>,
}

impl Pool {
    /// Starts `workers` threads scanning with `opts`.
    pub fn start(
        workers: usize,
        opts: ScanOptions,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Pool> {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        for i in 0..workers {
            let rx = rx.clone();
            let opts = opts.clone();
            let metrics = metrics.clone();
            std::thread::Builder::new()
                .name(format!("scan-{i}"))
                .spawn(move || worker(rx, opts, metrics))?;
        }
        Ok(Pool { tx, metrics })
    }

    /// Scans `upload` with `generation`; the name is only a label.
    pub async fn scan(
        &self,
        generation: Arc<Generation>,
        name: String,
        upload: Upload,
    ) -> Result<Scanned, String> {
        let (reply, answer) = oneshot::channel();
        self.metrics.queue_depth.inc();
        let job = Job {
            name,
            upload,
            generation,
            reply,
        };
        if self.tx.send(job).is_err() {
            self.metrics.queue_depth.dec();
            return Err("the scan workers have stopped".into());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the scan worker stopped".into()))
    }
}

fn worker(rx: crossbeam_channel::Receiver<Job>, opts: ScanOptions, metrics: Arc<Metrics>) {
    let mut next = match rx.recv() {
        Ok(job) => job,
        Err(_) => return,
    };
    loop {
        let generation = next.generation.clone();
        match serve_generation(&generation, next, &rx, &opts, &metrics) {
            Some(job) => next = job,
            None => return,
        }
    }
}

/// Scans jobs with one scanner over `generation` until a job of another
/// generation arrives (returned) or the queue closes (`None`).
fn serve_generation(
    generation: &Arc<Generation>,
    first: Job,
    rx: &crossbeam_channel::Receiver<Job>,
    opts: &ScanOptions,
    metrics: &Metrics,
) -> Option<Job> {
    let mut scanner = ObjectScanner::new(&generation.sigs, opts.clone());
    let mut job = first;
    loop {
        metrics.queue_depth.dec();
        let Job {
            name,
            upload,
            reply,
            ..
        } = job;
        // The client is gone: nobody will read the result.
        if !reply.is_closed() {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                scan_one(&mut scanner, &name, upload, generation.id)
            }));
            let result = match result {
                Ok(r) => r,
                Err(_) => {
                    // The engine must not panic on input; if it ever does,
                    // fail this request only and start a fresh scanner.
                    tracing::error!(
                        "scan of {} panicked",
                        takedown_engine::sanitize::for_terminal(&name)
                    );
                    let _ = reply.send(Err("internal error while scanning".into()));
                    scanner = ObjectScanner::new(&generation.sigs, opts.clone());
                    job = rx.recv().ok()?;
                    if !Arc::ptr_eq(&job.generation, generation) {
                        return Some(job);
                    }
                    continue;
                }
            };
            let _ = reply.send(result);
        }
        job = rx.recv().ok()?;
        if !Arc::ptr_eq(&job.generation, generation) {
            return Some(job);
        }
    }
}

fn scan_one(
    scanner: &mut ObjectScanner<'_>,
    name: &str,
    upload: Upload,
    generation: u64,
) -> Result<Scanned, String> {
    match upload {
        Upload::Memory(data) => {
            let outcome = scanner.scan_bytes(name, &data);
            let sha256 = outcome
                .finding
                .sha256
                .clone()
                .unwrap_or_else(|| hex(&sha2::Sha256::digest(&data)));
            Ok(Scanned {
                outcome,
                sha256,
                size: data.len() as u64,
                generation,
            })
        }
        Upload::File(mut file) => {
            let size = file.metadata().map_err(|e| e.to_string())?.len();
            let dup = file.try_clone().map_err(|e| e.to_string())?;
            let outcome = scanner.scan_file(name, dup);
            let sha256 = match outcome.finding.sha256.clone() {
                Some(s) => s,
                None => sha256_of(&mut file).map_err(|e| format!("cannot hash upload: {e}"))?,
            };
            Ok(Scanned {
                outcome,
                sha256,
                size,
                generation,
            })
        }
    }
}

fn sha256_of(file: &mut std::fs::File) -> std::io::Result<String> {
    file.rewind()?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Elapsed seconds since `start`, for metrics and answers.
pub fn seconds_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// Waits for `fut` at most `limit`.
pub async fn within<T>(limit: Duration, fut: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(limit, fut).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_keeps_small_uploads_in_memory_and_spills_large_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::new(100, 8, dir.path().to_path_buf());
        s.push(b"abcd").unwrap();
        assert!(matches!(s.finish().unwrap(), Upload::Memory(v) if v == b"abcd"));

        let mut s = Spool::new(100, 8, dir.path().to_path_buf());
        for chunk in [&b"0123"[..], b"4567", b"89", b"abcdefghijkl", b"z"] {
            s.push(chunk).unwrap();
        }
        assert_eq!(s.len(), 23);
        let Upload::File(mut f) = s.finish().unwrap() else {
            panic!("expected a spool file")
        };
        // Unlinked: nothing left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut back = String::new();
        f.rewind().unwrap();
        f.read_to_string(&mut back).unwrap();
        assert_eq!(back, "0123456789abcdefghijklz");

        let mut s = Spool::new(10, 8, dir.path().to_path_buf());
        s.push(b"0123456789").unwrap();
        assert!(matches!(s.push(b"x"), Err(SpoolError::TooLarge(10))));
    }
}
