//! The Unix side of the server: the clamd Unix socket (with `FILDES`) and
//! the signals (SIGTERM and SIGINT stop, SIGHUP reloads).

use crate::service::Service;
use crate::{ClamdListener, Signal, clamd, clamd_accept, fdpass};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};

/// Listens for clamd connections on the Unix socket `path`.
pub(crate) fn listen_clamd_unix(app: &Arc<Service>, path: &Path) -> anyhow::Result<()> {
    remove_stale_socket(path)?;
    let l = UnixListener::bind(path)
        .map_err(|e| anyhow::anyhow!("cannot listen for clamd on {}: {e}", path.display()))?;
    app.tasks.spawn(clamd_accept(app.clone(), l));
    Ok(())
}

/// A socket file left by an earlier run is removed; anything else at that
/// path is an error (never delete a regular file because of a config typo).
fn remove_stale_socket(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)
            .map_err(|e| anyhow::anyhow!("cannot remove stale socket {}: {e}", path.display())),
        Ok(_) => anyhow::bail!(
            "{} exists and is not a socket; refusing to replace it",
            path.display()
        ),
        Err(_) => Ok(()),
    }
}

impl ClamdListener for UnixListener {
    /// Read with `recvmsg`, keeping the descriptors `FILDES` needs.
    type Stream = fdpass::FdStream;
    async fn accept(&self) -> std::io::Result<(Self::Stream, Option<IpAddr>, clamd::Passed)> {
        let (s, _) = UnixListener::accept(self).await?;
        let (s, inbox) = fdpass::FdStream::new(s);
        Ok((s, None, Some(inbox)))
    }
}

/// The signals the server acts on.
pub(crate) struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (before anything is bound, so that a signal
    /// during start-up is not lost).
    pub(crate) fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal (cancel-safe).
    pub(crate) async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::Stop("SIGTERM"),
            _ = self.int.recv() => Signal::Stop("SIGINT"),
            _ = self.hup.recv() => Signal::Reload("SIGHUP"),
        }
    }
}
