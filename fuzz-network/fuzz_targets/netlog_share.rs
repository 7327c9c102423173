//! Shared log hunting reads batches and partial states from a NATS
//! server any worker or publisher credential can write to: a batch a
//! worker takes (with its lines or by path) and a part the publisher
//! merges are refused with a reason or read, never a panic, and a batch
//! read never names more than it may.
//!
//! The first byte chooses: even, the rest is a batch message; odd, the
//! rest is a part message for a job that published batch `b1`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use takedown_blocklist::Builder;
use takedown_netlog::hunt::Options;
use takedown_netlog::matcher::Matcher;
use takedown_netlog::share::{Aggregator, Batch, Job};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(mut b) = Batch::decode(rest) {
            // A worker with no directory to read from: a batch by path
            // is never read, whatever it names.
            if b.by_path() {
                assert!(b.load(&[]).is_err());
            }
            let _ = b.len();
        }
    } else {
        let m = Matcher::build(Builder::new().into_parts());
        let opts = Options::default();
        let Ok(job) = Job::new("job1", &m, &opts, (1, 2)) else {
            return;
        };
        let mut agg = Aggregator::new(&job, &m, &opts, 2);
        agg.expect("b1");
        let _ = agg.add(rest);
        let _ = agg.add(rest);
    }
});
