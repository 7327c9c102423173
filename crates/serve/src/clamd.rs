//! The clamd protocol, so that `clamdscan` and the many libraries that
//! speak to clamd work with takedown unchanged.
//!
//! Replies follow clamd 1.4 byte for byte (checked against a running
//! clamd): a command prefixed with `z` ends with NUL and is answered with
//! NUL, `n` or no prefix with newline. Outside `IDSESSION` one command is
//! answered and the connection closed; inside, replies carry the request
//! number (`1: PONG`). `INSTREAM` data is spooled like an HTTP upload and
//! scanned by the same workers; `StreamMaxLength` is `limits.max_upload`,
//! checked on every chunk header before its data is read.
//!
//! `FILDES` (on Unix only, [`crate::fdpass`]) scans a file descriptor
//! passed over the Unix socket, as `clamdscan --fdpass` sends it: the
//! command, then one byte carrying the descriptor. It is read within the
//! same limits as `INSTREAM` and answered `fd[N]: ...` as clamd does; on a
//! TCP connection it is refused.
//!
//! Path commands (`SCAN`, `CONTSCAN`, `MULTISCAN`, `ALLMATCHSCAN`) read
//! this machine's disk for the client, so they are refused unless
//! `clamd.allow_path_scan` is set; `SHUTDOWN` likewise needs
//! `clamd.allow_shutdown`.

use crate::pool::{Scanned, SpoolError};
use crate::service::{Admitted, Service};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime};
use takedown_engine::finding::{Detection, EngineKind, Finding};
use takedown_engine::run::{Progress, RunOptions, Target};
use takedown_engine::sigs::builtin;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Longest command line, argument included (a path for the SCAN family).
const MAX_COMMAND: u64 = 8192;
/// Bytes of stream data read at a time.
const READ_CHUNK: usize = 64 << 10;
/// Requests in one IDSESSION: bounds a session's lifetime.
const MAX_SESSION_REQUESTS: u64 = 1_000_000;

/// The commands `VERSIONCOMMANDS` lists: those implemented here.
#[cfg(unix)]
const COMMANDS: &str = "SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END SHUTDOWN MULTISCAN STATS IDSESSION INSTREAM ALLMATCHSCAN FILDES";
#[cfg(not(unix))]
const COMMANDS: &str = "SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END SHUTDOWN MULTISCAN STATS IDSESSION INSTREAM ALLMATCHSCAN";

/// The descriptors passed on a connection, for `FILDES`: a Unix socket's
/// inbox; none on TCP (and nothing at all where there is no Unix socket).
#[cfg(unix)]
pub type Passed = Option<crate::fdpass::SharedInbox>;
/// The descriptors passed on a connection: never, without Unix sockets.
#[cfg(not(unix))]
pub type Passed = Option<std::convert::Infallible>;

/// How a command was terminated, and so how its reply is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delim {
    /// `zCOMMAND\0`.
    Nul,
    /// `nCOMMAND\n`.
    Newline,
    /// `COMMAND\n`, the deprecated unprefixed form.
    Legacy,
}

impl Delim {
    fn byte(self) -> u8 {
        match self {
            Delim::Nul => 0,
            Delim::Newline | Delim::Legacy => b'\n',
        }
    }
}

/// What reading a command gave.
enum Read {
    Command(Delim, String),
    /// The client closed the connection (or sent half a command).
    Closed,
    /// Silence past the idle timeout.
    TimedOut,
    /// Longer than [`MAX_COMMAND`]: garbage, or an attack.
    TooLong(Delim),
}

/// The name clamd users expect for a detection. ClamAV's own name for the
/// EICAR test file is `Eicar-Test-Signature`; the built-in YARA rule
/// calls it `EICAR_Test_File`. Every other name is passed through, with
/// control characters replaced so that a name cannot break the framing.
pub fn clamd_name(d: &Detection) -> String {
    if d.engine == EngineKind::Yara
        && d.name == "EICAR_Test_File"
        && d.source == builtin::YARA_ORIGIN
    {
        return "Eicar-Test-Signature".into();
    }
    d.name
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect()
}

/// Serves one connection until its command (or session) is done.
/// `client` is the peer's address (none on a Unix socket); `passed`, the
/// descriptors the client passes (a Unix socket's, for `FILDES`).
pub async fn serve_connection<S>(
    app: Arc<Service>,
    stream: S,
    client: Option<IpAddr>,
    passed: Passed,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (r, mut w) = tokio::io::split(stream);
    let mut r = BufReader::with_capacity(READ_CHUNK, r);
    let mut conn = Conn {
        app,
        session: None,
        client,
        passed,
    };
    if let Err(e) = conn.run(&mut r, &mut w).await {
        tracing::debug!(error = %e, "clamd connection ended");
    }
    let _ = w.shutdown().await;
    // Lingering close: a client may still be sending (a stream refused on
    // its size, garbage after an unknown command). Closing with unread
    // data makes the kernel send a reset, which can destroy the reply the
    // client has not read yet; drain a little first, boundedly.
    let _ = tokio::time::timeout(LINGER, async {
        let mut sink = [0u8; 16 << 10];
        let mut drained = 0usize;
        while drained < LINGER_BYTES {
            match r.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

/// How long, and how much, a closing connection is drained.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 4 << 20;

struct Conn {
    app: Arc<Service>,
    /// The next request number inside IDSESSION.
    session: Option<u64>,
    /// The peer's address, for published sightings.
    client: Option<IpAddr>,
    /// Descriptors passed by the client (Unix socket only).
    #[cfg_attr(
        not(unix),
        expect(dead_code, reason = "no descriptors are passed without Unix sockets")
    )]
    passed: Passed,
}

/// What to do after a reply.
#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

impl Conn {
    async fn run<R, W>(&mut self, r: &mut BufReader<R>, w: &mut W) -> std::io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        loop {
            let read = tokio::select! {
                read = read_command(r, self.app.settings.idle_timeout) => read?,
                // Between commands, shutdown ends the connection; a command
                // being served is finished first.
                _ = self.app.shutdown.cancelled() => return Ok(()),
            };
            let (delim, line) = match read {
                Read::Command(d, l) => (d, l),
                Read::Closed => return Ok(()),
                Read::TimedOut => {
                    self.app.metrics.request("clamd", "timeout", "error");
                    return Ok(());
                }
                Read::TooLong(d) => {
                    self.app.metrics.request("clamd", "unknown", "error");
                    return self.reply(w, d, "UNKNOWN COMMAND").await;
                }
            };
            let next = self.command(r, w, delim, &line).await?;
            // Descriptors that came with this command's bytes and were not
            // taken by FILDES are closed now.
            #[cfg(unix)]
            if let Some(inbox) = &self.passed {
                drop(claim_read(inbox, r));
            }
            if next == Next::Close || self.session.is_none() {
                return Ok(());
            }
        }
    }

    async fn reply<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        delim: Delim,
        text: &str,
    ) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(text.len() + 16);
        if let Some(id) = self.session {
            out.extend_from_slice(format!("{id}: ").as_bytes());
        }
        out.extend_from_slice(text.as_bytes());
        out.push(delim.byte());
        w.write_all(&out).await?;
        w.flush().await
    }

    async fn command<R, W>(
        &mut self,
        r: &mut BufReader<R>,
        w: &mut W,
        delim: Delim,
        line: &str,
    ) -> std::io::Result<Next>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let (name, arg) = match line.split_once(' ') {
            Some((n, a)) => (n, Some(a)),
            None => (line, None),
        };
        let in_session = self.session.is_some();
        if in_session && delim == Delim::Legacy {
            // Inside a session every command must be prefixed; this one has
            // no request number.
            self.app.metrics.request("clamd", "unknown", "error");
            self.session = None;
            self.reply(w, Delim::Newline, "UNKNOWN COMMAND").await?;
            return Ok(Next::Close);
        }
        if let Some(id) = &mut self.session {
            *id += 1;
            if *id > MAX_SESSION_REQUESTS {
                return Ok(Next::Close);
            }
        }
        let prefixed = delim != Delim::Legacy;
        let label = known(name).unwrap_or("unknown");
        let session_forbidden = matches!(
            name,
            "CONTSCAN"
                | "MULTISCAN"
                | "ALLMATCHSCAN"
                | "RELOAD"
                | "SHUTDOWN"
                | "QUIT"
                | "IDSESSION"
        );
        if in_session && session_forbidden {
            self.app.metrics.request("clamd", label, "error");
            self.reply(w, delim, "Command invalid inside IDSESSION. ERROR")
                .await?;
            return Ok(Next::Close);
        }
        let mut status = "ok";
        let next = match (name, arg) {
            ("PING", None) => {
                self.reply(w, delim, "PONG").await?;
                Next::Continue
            }
            ("VERSION", None) => {
                let v = self.version();
                self.reply(w, delim, &v).await?;
                Next::Continue
            }
            ("VERSIONCOMMANDS", None) if prefixed => {
                let v = format!("{}| COMMANDS: {COMMANDS}", self.version());
                self.reply(w, delim, &v).await?;
                Next::Continue
            }
            ("STATS", None) => {
                let s = self.stats();
                self.reply(w, delim, &s).await?;
                Next::Continue
            }
            ("RELOAD", None) => {
                self.reply(w, delim, "RELOADING").await?;
                let app = self.app.clone();
                // The reply does not wait for the new set, as with clamd.
                tokio::spawn(async move {
                    let _ = app.reload().await;
                });
                Next::Close
            }
            ("SHUTDOWN" | "QUIT", None) => {
                if self.app.settings.clamd.allow_shutdown {
                    tracing::info!("shutdown requested over the clamd protocol");
                    self.app.shutdown.cancel();
                } else {
                    status = "refused";
                    self.reply(
                        w,
                        delim,
                        "SHUTDOWN is disabled (clamd.allow_shutdown). ERROR",
                    )
                    .await?;
                }
                Next::Close
            }
            ("IDSESSION", None) if prefixed => {
                self.session = Some(0);
                Next::Continue
            }
            ("END", None) if prefixed && in_session => Next::Close,
            ("INSTREAM", None) if prefixed => {
                let (next, st) = self.instream(r, w, delim).await?;
                status = st;
                next
            }
            ("FILDES", None) if prefixed => {
                let (next, st) = self.fildes(r, w, delim).await?;
                status = st;
                next
            }
            ("SCAN" | "CONTSCAN" | "MULTISCAN", Some(path)) | ("ALLMATCHSCAN", Some(path))
                if prefixed || name != "ALLMATCHSCAN" =>
            {
                status = self.path_scan(w, delim, name, path).await?;
                Next::Continue
            }
            _ => {
                status = "error";
                self.reply(w, delim, "UNKNOWN COMMAND").await?;
                Next::Close
            }
        };
        self.app.metrics.request("clamd", label, status);
        Ok(next)
    }

    fn version(&self) -> String {
        let g = self.app.generation();
        format!(
            "takedown {}/{}/{}",
            env!("CARGO_PKG_VERSION"),
            g.id,
            humantime::format_rfc3339_seconds(g.loaded_at)
        )
    }

    fn stats(&self) -> String {
        let m = &self.app.metrics;
        let workers = self.app.settings.workers;
        let queued = m.queue_depth.get().max(0);
        let busy = (m.in_flight.get().max(0) as usize).min(workers);
        format!(
            "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live {busy}  idle {} max {workers} idle-timeout {}\nQUEUE: {queued} items\n\nMEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used N/A pools_total N/A\nEND",
            workers - busy,
            self.app.settings.idle_timeout.as_secs()
        )
    }

    async fn instream<R, W>(
        &mut self,
        r: &mut BufReader<R>,
        w: &mut W,
        delim: Delim,
    ) -> std::io::Result<(Next, &'static str)>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let started = Instant::now();
        let idle = self.app.settings.idle_timeout;
        // clamd queues rather than refuses: wait for a slot, boundedly.
        let Some(admitted) = self.admit_within(idle).await else {
            self.reply(w, delim, "INSTREAM: too many scans in progress. ERROR")
                .await?;
            return Ok((Next::Close, "busy"));
        };
        match self.receive(r, started).await {
            Ok(upload) => {
                let status = self
                    .scan_upload(w, delim, "stream", upload, admitted, started)
                    .await?;
                Ok((Next::Continue, status))
            }
            Err(StreamError::TooLarge) => {
                self.reply(w, delim, "INSTREAM size limit exceeded. ERROR")
                    .await?;
                Ok((Next::Close, "too-large"))
            }
            Err(StreamError::TimedOut) => Ok((Next::Close, "timeout")),
            Err(StreamError::Closed) => Ok((Next::Close, "closed")),
            Err(StreamError::Spool(e)) => {
                tracing::error!(error = %e, "cannot spool a clamd stream");
                self.reply(w, delim, &format!("stream: {e} ERROR")).await?;
                Ok((Next::Close, "error"))
            }
        }
    }

    /// Scans a received upload (the admission is held until done) and
    /// replies `LABEL: ...` as clamd does.
    async fn scan_upload<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        delim: Delim,
        label: &str,
        upload: crate::pool::Upload,
        admitted: Admitted,
        started: Instant,
    ) -> std::io::Result<&'static str> {
        let (scan_clock, scan_started) = (SystemTime::now(), Instant::now());
        let scanned = self
            .app
            .pool
            .scan(self.app.generation(), label.into(), upload)
            .await;
        drop(admitted);
        match scanned {
            Ok(s) => {
                self.app
                    .record("clamd", &s, started.elapsed().as_secs_f64());
                self.app.publish(
                    s.findings(),
                    self.client,
                    scan_clock,
                    scan_started.elapsed(),
                );
                let (text, status) = stream_reply(&s, label);
                self.reply(w, delim, &text).await?;
                Ok(status)
            }
            Err(e) => {
                self.reply(w, delim, &format!("{label}: {e} ERROR")).await?;
                Ok("error")
            }
        }
    }

    /// `FILDES`: the command is followed by one byte (clamdscan sends a
    /// NUL) that carries the descriptor; a descriptor that came with the
    /// command's own bytes is taken too.
    #[cfg(unix)]
    async fn fildes<R, W>(
        &mut self,
        r: &mut BufReader<R>,
        w: &mut W,
        delim: Delim,
    ) -> std::io::Result<(Next, &'static str)>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        use crate::fdpass::{self, FdError};
        use std::os::fd::AsRawFd;
        let Some(inbox) = self.passed.clone() else {
            return self.fildes_refused(w, delim).await;
        };
        let started = Instant::now();
        let idle = self.app.settings.idle_timeout;
        let mut carrier = [0u8; 1];
        match tokio::time::timeout(idle, r.read_exact(&mut carrier)).await {
            Ok(Ok(_)) => {}
            Err(_) => return Ok((Next::Close, "timeout")),
            Ok(Err(_)) => return Ok((Next::Close, "closed")),
        }
        let claimed = claim_read(&inbox, r);
        let mut fds = claimed.fds;
        if claimed.lost || fds.len() > 1 {
            let n = if claimed.lost {
                "too many".to_string()
            } else {
                fds.len().to_string()
            };
            // Every one of them is closed: guessing which one was meant
            // could scan a file the client did not ask for.
            drop(fds);
            self.reply(
                w,
                delim,
                &format!("FILDES: received {n} file descriptors, expected one. ERROR"),
            )
            .await?;
            return Ok((Next::Continue, "error"));
        }
        let Some(fd) = fds.pop() else {
            self.reply(w, delim, "FILDES: didn't receive file descriptor. ERROR")
                .await?;
            return Ok((Next::Continue, "error"));
        };
        let label = format!("fd[{}]", fd.as_raw_fd());
        let Some(admitted) = self.admit_within(idle).await else {
            drop(fd);
            self.reply(
                w,
                delim,
                &format!("{label}: too many scans in progress. ERROR"),
            )
            .await?;
            return Ok((Next::Close, "busy"));
        };
        let deadline = started + self.app.settings.request_timeout;
        let spool = self.app.spool(self.app.settings.max_upload);
        // The admission goes with the read: a read stuck on a hung file
        // system keeps its slot, so such reads cannot pile up unbounded.
        let read = tokio::task::spawn_blocking(move || {
            (admitted, fdpass::read_regular(fd, spool, deadline))
        });
        let grace = Duration::from_secs(1);
        let (admitted, read) = match tokio::time::timeout_at((deadline + grace).into(), read).await
        {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                self.reply(w, delim, &format!("{label}: {e}. ERROR"))
                    .await?;
                return Ok((Next::Close, "error"));
            }
            Err(_) => {
                let e = FdError::TimedOut;
                self.reply(w, delim, &format!("{label}: {e}. ERROR"))
                    .await?;
                return Ok((Next::Close, "timeout"));
            }
        };
        match read {
            Ok(upload) => {
                let status = self
                    .scan_upload(w, delim, &label, upload, admitted, started)
                    .await?;
                Ok((Next::Continue, status))
            }
            Err(e) => {
                drop(admitted);
                let status = match e {
                    FdError::TooLarge => "too-large",
                    FdError::TimedOut => "timeout",
                    _ => "error",
                };
                let text = match e {
                    // clamd's words for a stream over StreamMaxLength.
                    FdError::TooLarge => format!("{label}: size limit exceeded. ERROR"),
                    e => format!("{label}: {}. ERROR", printable(&e.to_string())),
                };
                self.reply(w, delim, &text).await?;
                Ok((Next::Continue, status))
            }
        }
    }

    #[cfg(not(unix))]
    async fn fildes<R, W>(
        &mut self,
        _r: &mut BufReader<R>,
        w: &mut W,
        delim: Delim,
    ) -> std::io::Result<(Next, &'static str)>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        self.fildes_refused(w, delim).await
    }

    /// `FILDES` where no descriptor can come: on TCP.
    async fn fildes_refused<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        delim: Delim,
    ) -> std::io::Result<(Next, &'static str)> {
        self.reply(
            w,
            delim,
            "FILDES: file descriptors can only be passed over the clamd Unix socket. ERROR",
        )
        .await?;
        Ok((Next::Close, "refused"))
    }

    async fn admit_within(&self, limit: Duration) -> Option<Admitted> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(a) = self.app.admit() {
                return Some(a);
            }
            if Instant::now() >= deadline || self.app.shutdown.is_cancelled() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn receive<R: AsyncRead + Unpin>(
        &self,
        r: &mut BufReader<R>,
        started: Instant,
    ) -> Result<crate::pool::Upload, StreamError> {
        let limit = self.app.settings.max_upload;
        let idle = self.app.settings.idle_timeout;
        let deadline = started + self.app.settings.request_timeout;
        let mut spool = self.app.spool(limit);
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let mut len = [0u8; 4];
            timed(deadline, idle, r.read_exact(&mut len)).await?;
            let mut left = u64::from(u32::from_be_bytes(len));
            if left == 0 {
                break;
            }
            // Refuse on the header, before reading the data, as clamd does.
            if spool.len().saturating_add(left) > limit {
                return Err(StreamError::TooLarge);
            }
            while left > 0 {
                let want = left.min(READ_CHUNK as u64) as usize;
                let n = timed(deadline, idle, r.read(&mut buf[..want])).await?;
                if n == 0 {
                    return Err(StreamError::Closed);
                }
                spool.push(&buf[..n]).map_err(|e| match e {
                    SpoolError::TooLarge(_) => StreamError::TooLarge,
                    e => StreamError::Spool(e),
                })?;
                left -= n as u64;
            }
        }
        spool.finish().map_err(StreamError::Spool)
    }

    async fn path_scan<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        delim: Delim,
        command: &str,
        path: &str,
    ) -> std::io::Result<&'static str> {
        if !self.app.settings.clamd.allow_path_scan {
            self.reply(
                w,
                delim,
                &format!(
                    "{}: path scanning is disabled on this server (clamd.allow_path_scan); use INSTREAM. ERROR",
                    printable(path)
                ),
            )
            .await?;
            return Ok("refused");
        }
        let p = PathBuf::from(path);
        if !p.is_absolute() {
            self.reply(
                w,
                delim,
                &format!("{}: a full path is required. ERROR", printable(path)),
            )
            .await?;
            return Ok("error");
        }
        let Some(admitted) = self.admit_within(self.app.settings.idle_timeout).await else {
            self.reply(
                w,
                delim,
                &format!("{}: too many scans in progress. ERROR", printable(path)),
            )
            .await?;
            return Ok("busy");
        };
        let generation = self.app.generation();
        let mut opts = RunOptions {
            threads: 1,
            scan: self.app.settings.scan.clone(),
            ..RunOptions::default()
        };
        if command == "MULTISCAN" {
            opts.threads = self.app.settings.workers;
        }
        let stop_first = command == "SCAN";
        // Detected findings for the sightings publisher, when on (capped
        // as it caps them).
        let publishing = self.app.publisher.is_some();
        let (scan_clock, scan_started) = (SystemTime::now(), Instant::now());
        let shown_root = printable(path);
        let all = command == "ALLMATCHSCAN";
        let lines = tokio::task::spawn_blocking(move || {
            let stop = AtomicBool::new(false);
            let progress = Progress::default();
            let mut lines: Vec<String> = Vec::new();
            let mut found = false;
            let mut detected: Vec<Finding> = Vec::new();
            let mut on_finding = |f: &Finding| {
                let shown = printable(&f.path);
                let names: Vec<String> = f.detections.iter().map(clamd_name).collect();
                if names.is_empty() {
                    if let Some(problem) = f
                        .problems
                        .iter()
                        .find(|p| p.kind == takedown_engine::finding::ProblemKind::Error)
                        && f.chain.is_empty()
                    {
                        lines.push(format!("{shown}: {}. ERROR", printable(&problem.message)));
                    }
                    return true;
                }
                found = true;
                if publishing && detected.len() < crate::taxii::publish::MAX_FINDINGS_PER_SCAN {
                    detected.push(f.clone());
                }
                let take = if all { names.len() } else { 1 };
                for n in names.into_iter().take(take) {
                    let line = format!("{shown}: {n} FOUND");
                    if lines.last() != Some(&line) {
                        lines.push(line);
                    }
                }
                !stop_first
            };
            let result = takedown_engine::run::run(
                &generation.sigs,
                &[Target::Path(p)],
                &opts,
                &stop,
                &progress,
                // Every notable finding of the object, in order; `false`
                // (stop at the first detection) ends the run.
                |report| report.notable().all(&mut on_finding),
            );
            if let Err(e) = result {
                lines.push(format!("{shown_root}: {}. ERROR", printable(&e)));
            }
            (lines, found, detected)
        })
        .await;
        drop(admitted);
        let (lines, found, detected) = lines.unwrap_or_else(|e| {
            (
                vec![format!("{}: {e}. ERROR", printable(path))],
                false,
                Vec::new(),
            )
        });
        self.app
            .publish(&detected, self.client, scan_clock, scan_started.elapsed());
        if lines.is_empty() {
            self.reply(w, delim, &format!("{}: OK", printable(path)))
                .await?;
        }
        for l in &lines {
            self.reply(w, delim, l).await?;
        }
        Ok(if found { "found" } else { "ok" })
    }
}

enum StreamError {
    TooLarge,
    TimedOut,
    Closed,
    Spool(SpoolError),
}

async fn timed<T>(
    deadline: Instant,
    idle: Duration,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, StreamError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(StreamError::TimedOut);
    }
    match tokio::time::timeout(left.min(idle), fut).await {
        Err(_) => Err(StreamError::TimedOut),
        Ok(Err(_)) => Err(StreamError::Closed),
        Ok(Ok(v)) => Ok(v),
    }
}

/// The reply to a scanned stream or descriptor (`label` is `stream` or
/// `fd[N]`), and its metrics status.
fn stream_reply(s: &Scanned, label: &str) -> (String, &'static str) {
    if let Some(d) = s.findings().flat_map(|f| f.detections.first()).next() {
        return (format!("{label}: {} FOUND", clamd_name(d)), "found");
    }
    if s.failed() {
        let why = s
            .outcome
            .finding
            .problems
            .first()
            .map_or("cannot scan".to_string(), |p| printable(&p.message));
        return (format!("{label}: {why} ERROR"), "error");
    }
    (format!("{label}: OK"), "ok")
}

/// Takes the descriptors that came with the bytes the command loop has
/// read: everything the socket gave up to what is still buffered.
#[cfg(unix)]
fn claim_read<R: AsyncRead>(
    inbox: &crate::fdpass::SharedInbox,
    r: &BufReader<R>,
) -> crate::fdpass::Claimed {
    let buffered = r.buffer().len() as u64;
    let mut inbox = crate::fdpass::lock(inbox);
    let upto = inbox.received().saturating_sub(buffered);
    inbox.claim(upto)
}

/// A string made safe for a reply line: no NUL, newline or other control.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn known(name: &str) -> Option<&'static str> {
    Some(match name {
        "PING" => "PING",
        "VERSION" => "VERSION",
        "VERSIONCOMMANDS" => "VERSIONCOMMANDS",
        "STATS" => "STATS",
        "RELOAD" => "RELOAD",
        "SHUTDOWN" => "SHUTDOWN",
        "QUIT" => "QUIT",
        "IDSESSION" => "IDSESSION",
        "END" => "END",
        "INSTREAM" => "INSTREAM",
        "FILDES" => "FILDES",
        "SCAN" => "SCAN",
        "CONTSCAN" => "CONTSCAN",
        "MULTISCAN" => "MULTISCAN",
        "ALLMATCHSCAN" => "ALLMATCHSCAN",
        _ => return None,
    })
}

/// Reads one command: `z...\0`, `n...\n` or (deprecated) `...\n`.
async fn read_command<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    idle: Duration,
) -> std::io::Result<Read> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(idle, r.read(&mut first)).await {
        Err(_) => return Ok(Read::TimedOut),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(0)) => return Ok(Read::Closed),
        Ok(Ok(_)) => {}
    }
    let (delim, mut line) = match first[0] {
        b'z' => (Delim::Nul, Vec::new()),
        b'n' => (Delim::Newline, Vec::new()),
        b => (Delim::Legacy, vec![b]),
    };
    if delim == Delim::Legacy && !first[0].is_ascii_uppercase() {
        // Every command is a word in capitals: this is not one (binary
        // garbage, an HTTP client with a wrong port...). Answer at once,
        // as clamd does, instead of waiting for a newline.
        return Ok(Read::Command(Delim::Legacy, String::new()));
    }
    let end = delim.byte();
    let mut limited = (&mut *r).take(MAX_COMMAND);
    match tokio::time::timeout(idle, limited.read_until(end, &mut line)).await {
        Err(_) => return Ok(Read::TimedOut),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(_)) => {}
    }
    if line.last() != Some(&end) {
        if line.len() as u64 >= MAX_COMMAND {
            return Ok(Read::TooLong(delim));
        }
        return Ok(Read::Closed);
    }
    line.pop();
    if delim != Delim::Nul && line.last() == Some(&b'\r') {
        line.pop();
    }
    // Commands are ASCII; a path argument that is not UTF-8 is kept lossy
    // (it is refused or scanned as what it names, never executed).
    Ok(Read::Command(
        delim,
        String::from_utf8_lossy(&line).into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_are_framed_by_their_prefix() {
        let input: &[u8] = b"zPING\0nVERSION\nPING\r\n";
        let mut r = BufReader::new(input);
        let d = Duration::from_secs(1);
        let mut got = Vec::new();
        loop {
            match read_command(&mut r, d).await.unwrap() {
                Read::Command(delim, l) => got.push((delim, l)),
                Read::Closed => break,
                _ => panic!("unexpected"),
            }
        }
        assert_eq!(
            got,
            vec![
                (Delim::Nul, "PING".to_string()),
                (Delim::Newline, "VERSION".to_string()),
                (Delim::Legacy, "PING".to_string()),
            ]
        );
        let long = vec![b'z'; MAX_COMMAND as usize + 10];
        let mut r = BufReader::new(long.as_slice());
        assert!(matches!(
            read_command(&mut r, d).await.unwrap(),
            Read::TooLong(Delim::Nul)
        ));
        // Half a command, then the client went away.
        let mut r = BufReader::new(&b"zPING"[..]);
        assert!(matches!(
            read_command(&mut r, d).await.unwrap(),
            Read::Closed
        ));
    }

    #[test]
    fn eicar_gets_clamavs_name_and_names_cannot_break_framing() {
        let d = |name: &str, source: &str| Detection {
            engine: EngineKind::Yara,
            name: name.into(),
            score: 100,
            tags: vec![],
            metadata: Default::default(),
            source: source.into(),
        };
        assert_eq!(
            clamd_name(&d("EICAR_Test_File", builtin::YARA_ORIGIN)),
            "Eicar-Test-Signature"
        );
        assert_eq!(
            clamd_name(&d("EICAR_Test_File", "/x/rules.yar")),
            "EICAR_Test_File"
        );
        assert_eq!(clamd_name(&d("a\nb\0c", "x")), "a_b_c");
    }
}
