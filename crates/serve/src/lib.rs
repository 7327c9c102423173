//! `takedown serve`: the scan engine as a service.
//!
//! One process serves the HTTP API and web page ([`http`], [`web`]) and the
//! clamd protocol ([`clamd`]) over the same [`service::Service`]: one
//! signature generation at a time ([`state`]), one pool of scan workers
//! ([`pool`]), one set of limits and metrics ([`metrics`]). Configuration
//! is a TOML file whose defaults need no set-up ([`config`]). The same
//! HTTP listeners can also serve TAXII 2.1 ([`taxii`], off by default)
//! and the victim self-check ([`selfcheck`], off by default); the web
//! pages speak the visitor's language ([`i18n`]).
//!
//! [`start`] binds every listener and returns their addresses; [`run`]
//! also waits for SIGTERM/SIGINT (graceful shutdown: stop accepting,
//! finish in-flight requests within the grace period) and SIGHUP (reload).
#![deny(missing_docs)]

pub mod clamd;
pub mod config;
#[cfg(unix)]
pub mod fdpass;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod pool;
pub mod selfcheck;
pub mod service;
pub mod state;
pub mod taxii;
pub mod web;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use service::Service;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Tunes glibc's allocator for a long-running server with many threads
/// and uploads of every size. By default glibc raises its mmap threshold
/// each time a large block is freed (up to 32 MiB), after which upload
/// buffers come from the heap and stay resident after they are freed, and
/// it keeps up to 8 arenas per core. A fixed threshold returns every large
/// buffer to the system when freed, and two arenas bound fragmentation;
/// measured (bench/serve.sh) this roughly halves peak RSS under load at no
/// throughput cost. Call it before any thread starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other
    // threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
    }
}

/// The addresses actually bound (port 0 resolved), for logs and for the
/// `--ready-file`.
#[derive(Clone, Debug, Serialize)]
pub struct Bound {
    /// HTTP listeners.
    pub http: Vec<SocketAddr>,
    /// clamd TCP listeners.
    pub clamd_tcp: Vec<SocketAddr>,
    /// clamd Unix socket.
    pub clamd_unix: Option<PathBuf>,
}

/// Binds every listener and starts serving on them.
pub async fn start(app: Arc<Service>) -> anyhow::Result<Bound> {
    let s = &app.settings;
    let mut bound = Bound {
        http: Vec::new(),
        clamd_tcp: Vec::new(),
        clamd_unix: None,
    };
    let router = http::router(app.clone());
    app.start_publishing();
    for addr in &s.http {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for HTTP on {addr}: {e}"))?;
        bound.http.push(l.local_addr()?);
        app.tasks.spawn(http_accept(app.clone(), l, router.clone()));
    }
    for addr in &s.clamd_tcp {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for clamd on {addr}: {e}"))?;
        bound.clamd_tcp.push(l.local_addr()?);
        app.tasks.spawn(clamd_accept(app.clone(), l));
    }
    if let Some(path) = &s.clamd_unix {
        os::listen_clamd_unix(&app, path)?;
        bound.clamd_unix = Some(path.clone());
    }
    Ok(bound)
}

/// Waits after a failed `accept` (out of file descriptors, ...) instead of
/// spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

async fn http_accept(app: Arc<Service>, listener: TcpListener, router: axum::Router) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = app.shutdown.cancelled() => return,
        };
        let Some(slot) = app.connect() else {
            // Too many open connections: close at once, costs nothing.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // The peer's address, for handlers that need it (sightings name it
        // only when configured to).
        let service =
            hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                router.clone(),
                move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    req
                },
            ));
        let shutdown = app.shutdown.clone();
        let header_timeout = app.settings.idle_timeout;
        app.tasks.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            // Slow clients: the request head must arrive within the idle
            // timeout (bodies have their own timeouts in the handlers).
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(64 << 10);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "HTTP connection ended");
                    }
                }
                _ = shutdown.cancelled() => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

/// A listener of clamd connections: TCP or a Unix socket.
trait ClamdListener: Send + 'static {
    type Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    /// A connection, the client's IP address when it has one, and the
    /// inbox of descriptors it passes when it can pass them.
    fn accept(
        &self,
    ) -> impl std::future::Future<
        Output = std::io::Result<(Self::Stream, Option<IpAddr>, clamd::Passed)>,
    > + Send;
}

impl ClamdListener for TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept(&self) -> std::io::Result<(Self::Stream, Option<IpAddr>, clamd::Passed)> {
        let (s, peer) = TcpListener::accept(self).await?;
        // Replies are small and a client waits for each one.
        let _ = s.set_nodelay(true);
        Ok((s, Some(peer.ip()), None))
    }
}

async fn clamd_accept<L: ClamdListener>(app: Arc<Service>, listener: L) {
    loop {
        let (stream, peer, passed) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "clamd accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = app.shutdown.cancelled() => return,
        };
        let Some(slot) = app.connect() else {
            drop(stream);
            continue;
        };
        let app2 = app.clone();
        app.tasks.spawn(async move {
            let _slot = slot;
            clamd::serve_connection(app2, stream, peer, passed).await;
        });
    }
}

/// What a signal from the system asks of the server.
enum Signal {
    /// Shut down gracefully; the name of the signal, for the log.
    Stop(&'static str),
    /// Reload signatures and self-check reports; the name of the signal.
    #[cfg_attr(
        not(unix),
        expect(dead_code, reason = "Windows has no reload signal (SIGHUP)")
    )]
    Reload(&'static str),
}

/// Serves until SIGTERM or SIGINT (or clamd `SHUTDOWN`), reloading on
/// SIGHUP; calls `ready` once every listener is bound.
pub async fn run(app: Arc<Service>, ready: impl FnOnce(&Bound)) -> anyhow::Result<()> {
    let mut signals = os::Signals::new()?;
    let bound = start(app.clone()).await?;
    tracing::info!(
        http = ?bound.http,
        clamd_tcp = ?bound.clamd_tcp,
        clamd_unix = ?bound.clamd_unix,
        signatures = %app.generation().sigs.describe(),
        workers = app.settings.workers,
        "takedown serve ready"
    );
    ready(&bound);
    loop {
        tokio::select! {
            event = signals.next() => match event {
                Signal::Stop(name) => { tracing::info!("{name}: shutting down"); break; }
                Signal::Reload(name) => {
                    tracing::info!("{name}: reloading signatures");
                    let _ = app.reload().await;
                    if app.selfcheck.is_some() {
                        tracing::info!("{name}: reloading the self-check reports");
                        let _ = app.reload_selfcheck().await;
                    }
                }
            },
            _ = app.shutdown.cancelled() => break,
        }
    }
    shutdown(&app, &bound).await;
    Ok(())
}

/// Stops accepting, lets in-flight requests finish within the grace
/// period, and removes the Unix socket.
pub async fn shutdown(app: &Service, bound: &Bound) {
    app.shutdown.cancel();
    app.tasks.close();
    let grace = app.settings.shutdown_grace;
    if tokio::time::timeout(grace, app.tasks.wait()).await.is_err() {
        tracing::warn!(
            "{} connection(s) still open after the {}s grace period; closing them",
            app.tasks.len(),
            grace.as_secs_f64()
        );
    }
    if let Some(path) = &bound.clamd_unix {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("takedown serve stopped");
}
