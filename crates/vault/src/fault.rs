//! Fault injection for the crash-safety tests: kill the process at a named
//! step of the protocol, exactly as `kill -9` would.
//!
//! `TAKEDOWN_FAULT=STEP` or `STEP#N` (the Nth time the step is reached,
//! from 1) makes [`point`] raise SIGKILL there; with `@stop` appended
//! (`STEP#N@stop`) it raises SIGSTOP instead, so that a test can change
//! the world at that very point (swap a file for a link) and let the
//! process continue with SIGCONT. `TAKEDOWN_FAULT_TRACE=1`
//! prints every step reached on stderr (`fault-point: STEP`), which is how
//! the tests learn the steps instead of keeping a list of their own.
//! `TAKEDOWN_LANES=N` works a batch on N lanes whatever its size and the
//! number of cores, so that the tests cover a batch spread over several
//! packs on any machine.
//! Unset, each point costs one relaxed atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

struct Plan {
    step: Option<(String, u64)>,
    /// `@stop`: stop (SIGSTOP) instead of being killed.
    stop: bool,
    trace: bool,
    hits: AtomicU64,
}

fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let spec = std::env::var("TAKEDOWN_FAULT").unwrap_or_default();
        let (spec, stop) = match spec.strip_suffix("@stop") {
            Some(s) => (s.to_string(), true),
            None => (spec, false),
        };
        let step = (!spec.is_empty()).then(|| match spec.split_once('#') {
            Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
            None => (spec, 1),
        });
        Plan {
            step,
            stop,
            trace: std::env::var_os("TAKEDOWN_FAULT_TRACE").is_some(),
            hits: AtomicU64::new(0),
        }
    })
}

/// A step of the protocol has been reached.
pub fn point(step: &str) {
    let plan = plan();
    if plan.trace {
        eprintln!("fault-point: {step}");
    }
    if let Some((name, nth)) = &plan.step
        && name == step
        && plan.hits.fetch_add(1, Ordering::SeqCst) + 1 == *nth
    {
        crate::fsops::die_here(plan.stop);
    }
}

/// The lanes a test asks for (`TAKEDOWN_LANES`), if any.
pub(crate) fn lanes() -> Option<usize> {
    static LANES: OnceLock<Option<usize>> = OnceLock::new();
    *LANES.get_or_init(|| {
        std::env::var("TAKEDOWN_LANES")
            .ok()?
            .parse()
            .ok()
            .filter(|&n| n >= 1)
    })
}
