//! Fault injection for the crash tests: end the agent abruptly at a named
//! step of the protocol, as a crash or `kill -9` would.
//!
//! `TAKEDOWN_FLEET_FAULT=STEP` or `STEP#N` (the Nth time the step is
//! reached, from 1) kills the process there: SIGKILL on Unix (as `kill
//! -9`, and no core file), an abort elsewhere. Neither runs a destructor
//! or flushes anything, and the NATS connection simply drops. Unset, a
//! point costs one read of a value computed once.
//!
//! Steps: `after-finding` (a finding was published and acknowledged by the
//! server), `before-completion`, `before-ack` (the completion is stored,
//! the hunt not yet acknowledged).

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
