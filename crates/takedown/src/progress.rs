//! The progress bar on stderr: files, throughput, current path. Drawn from
//! the engine's atomic counters by a ticker thread, so workers never wait
//! on the terminal. Absent when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use takedown_engine::run::Progress;

pub struct Bar {
    bar: Option<ProgressBar>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Bar {
    /// Starts drawing when `enabled`.
    pub fn start(enabled: bool, progress: Arc<Progress>) -> Bar {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if !enabled {
            return Bar {
                bar: None,
                done,
                ticker: None,
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .expect("static template"),
        );
        let (b, d) = (bar.clone(), done.clone());
        let ticker = std::thread::spawn(move || {
            let started = Instant::now();
            while !d.load(Ordering::Relaxed) {
                let files = progress.files.load(Ordering::Relaxed);
                let bytes = progress.bytes.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let current = progress
                    .current
                    .lock()
                    .map(|c| c.clone())
                    .unwrap_or_default();
                let current: String = if current.chars().count() > 60 {
                    format!(
                        "…{}",
                        current
                            .chars()
                            .rev()
                            .take(59)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect::<String>()
                    )
                } else {
                    current
                };
                b.set_message(format!(
                    "{files} files, {:.1} MB/s  {current}",
                    bytes as f64 / 1e6 / secs
                ));
                b.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Bar {
            bar: Some(bar),
            done,
            ticker: Some(ticker),
        }
    }

    /// Runs `f` with the bar hidden, so output lines are not torn.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
