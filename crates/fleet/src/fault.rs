//! Hooks for the crash tests, compiled in only with the
//! `fault-injection` feature (takedown's tests enable it through a
//! dev-dependency; a release build of the agent has none of it, so no
//! environment variable can make a production agent kill itself or run
//! another program).
//!
//! `TAKEDOWN_FLEET_FAULT=STEP` or `STEP#N` (the Nth time the step is
//! reached, from 1) kills the process there: SIGKILL on Unix (as `kill
//! -9`, and no core file), an abort elsewhere. Neither runs a destructor
//! or flushes anything, and the NATS connection simply drops. Unset, a
//! point costs one read of a value computed once.
//!
//! Steps: `after-finding` (a finding was published and acknowledged by the
//! server), `after-report` (a quarantine hunt's findings are stored, nothing
//! acted on yet), `acted-finding-read` (a finding of the acting scan was
//! read, its file already in the vault, not yet published),
//! `before-completion`, `before-ack` (the completion is
//! stored, the hunt not yet acknowledged).
//!
//! `TAKEDOWN_FLEET_SCAN_EXE=PATH` runs PATH instead of the agent's own
//! executable for the scans: a test's stand-in that hangs, prints
//! oversized lines or a huge summary.

#[cfg(feature = "fault-injection")]
mod enabled {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Plan {
        step: Option<(String, u64)>,
        hits: AtomicU64,
    }

    fn plan() -> &'static Plan {
        static PLAN: OnceLock<Plan> = OnceLock::new();
        PLAN.get_or_init(|| {
            let spec = std::env::var("TAKEDOWN_FLEET_FAULT").unwrap_or_default();
            let step = (!spec.is_empty()).then(|| match spec.split_once('#') {
                Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
                None => (spec, 1),
            });
            Plan {
                step,
                hits: AtomicU64::new(0),
            }
        })
    }

    /// A step of the protocol has been reached.
    pub(crate) fn point(step: &str) {
        let plan = plan();
        if let Some((name, nth)) = &plan.step
            && name == step
            && plan.hits.fetch_add(1, Ordering::SeqCst) + 1 == *nth
        {
            eprintln!("takedown agent: fault point {step} reached, killed");
            kill_self();
        }
    }

    /// The scan executable a test puts in place of the agent's own.
    pub(crate) fn scan_exe() -> Option<std::path::PathBuf> {
        std::env::var_os("TAKEDOWN_FLEET_SCAN_EXE")
            .filter(|v| !v.is_empty())
            .map(Into::into)
    }

    #[cfg(unix)]
    fn kill_self() {
        // SAFETY: raising a signal on ourselves.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
        std::process::abort();
    }

    #[cfg(not(unix))]
    fn kill_self() {
        std::process::abort();
    }
}

#[cfg(feature = "fault-injection")]
pub(crate) use enabled::{point, scan_exe};

/// Without the feature: nothing.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn point(_step: &str) {}

/// Without the feature: the agent's own executable, always.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn scan_exe() -> Option<std::path::PathBuf> {
    None
}
