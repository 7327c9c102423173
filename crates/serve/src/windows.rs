//! The Windows side of the server: no clamd Unix socket (so no `FILDES`),
//! and the console's Ctrl+C, Ctrl+Break, close and shutdown events stop the
//! server (Windows has no reload signal).

use crate::Signal;
use crate::service::Service;
use std::path::Path;
use std::sync::Arc;
use tokio::signal::windows::{CtrlBreak, CtrlC, CtrlClose, CtrlShutdown};

/// Refused: a clamd Unix socket is not available on Windows.
pub(crate) fn listen_clamd_unix(_app: &Arc<Service>, path: &Path) -> anyhow::Result<()> {
    anyhow::bail!(
        "cannot listen for clamd on {}: a clamd Unix socket (listen.clamd_unix) is not \
         available on Windows; use a TCP listener (listen.clamd_tcp)",
        path.display()
    )
}

/// The console events the server acts on.
pub(crate) struct Signals {
    c: CtrlC,
    brk: CtrlBreak,
    close: CtrlClose,
    shutdown: CtrlShutdown,
}

impl Signals {
    /// Installs the handlers.
    pub(crate) fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            c: tokio::signal::windows::ctrl_c()?,
            brk: tokio::signal::windows::ctrl_break()?,
            close: tokio::signal::windows::ctrl_close()?,
            shutdown: tokio::signal::windows::ctrl_shutdown()?,
        })
    }

    /// The next event (cancel-safe).
    pub(crate) async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.c.recv() => Signal::Stop("Ctrl+C"),
            _ = self.brk.recv() => Signal::Stop("Ctrl+Break"),
            _ = self.close.recv() => Signal::Stop("console closed"),
            _ = self.shutdown.recv() => Signal::Stop("system shutdown"),
        }
    }
}
