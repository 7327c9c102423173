//! Closing removed files off the acting thread.
//!
//! An unlinked file is freed when its last descriptor is closed, and that
//! descriptor is ours: the file was read through it. Freeing can wait for
//! the device. On ext4 mounted with `discard`, each freed file's blocks
//! are discarded, and without a journal that discard is synchronous inside
//! `close`. Other file systems wait on their own locks and writes. On the
//! acting thread these waits came one after another and were most of a
//! large quarantine: `close` took ~60% of its wall time for 10,000 small
//! files. On the same machine, `rm -rf` of those files took 0.71 s serially
//! and 0.18 s as ten parallel `rm`s, because the device overlaps the
//! requests.
//!
//! So each removed file's descriptor goes to a small pool of threads that
//! only close descriptors, and the acting thread goes on with the next
//! unlink or the next batch. The queue is bounded, by the caller's
//! open-files budget ([`crate::Vault::set_close_queue`]): the pool holds
//! at most `queue + THREADS` descriptors. A queue as deep as a batch lets
//! the closes of one batch go on while the next is read and written. When
//! the pool is dropped it waits for every close, so a command never ends
//! with frees pending.
//!
//! Nothing here is needed for safety: the file's name is already gone
//! (durably, once the batch's `syncfs` is done) and its content is in the
//! vault. A crash before a close only leaves the freeing to the kernel.

use crossbeam_channel::{Sender, bounded};
use std::fs::File;
use std::thread::JoinHandle;

/// Closing threads. They spend their time blocked in the kernel, not on a
/// CPU, so there can be more of them than cores; past about eight, the
/// device's queue, not the pool, is the limit.
const THREADS: usize = 8;
/// Descriptors waiting for a closing thread, unless the caller says.
pub const DEFAULT_QUEUE: usize = 64;

/// Descriptors a pool with a queue of `queue` may hold at once (queued or
/// being closed).
pub fn held(queue: usize) -> usize {
    queue + THREADS
}

/// A pool that closes files.
pub(crate) struct Reaper {
    tx: Option<Sender<File>>,
    threads: Vec<JoinHandle<()>>,
}

impl Reaper {
    /// Starts the pool. If no thread can be started, files are closed by
    /// the caller as before.
    pub(crate) fn new(queue: usize) -> Reaper {
        let (tx, rx) = bounded::<File>(queue.max(1));
        let mut threads = Vec::with_capacity(THREADS);
        for i in 0..THREADS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("vault-close-{i}"))
                // A loop around `close`: the default 2 MiB stack is waste.
                .stack_size(64 << 10)
                .spawn(move || {
                    for f in rx {
                        drop(f);
                    }
                });
            match spawned {
                Ok(h) => threads.push(h),
                Err(e) => {
                    tracing::debug!("cannot start a closing thread: {e}");
                    break;
                }
            }
        }
        Reaper {
            tx: (!threads.is_empty()).then_some(tx),
            threads,
        }
    }

    /// Closes `f`, on a pool thread when there is one.
    pub(crate) fn close(&self, f: File) {
        match &self.tx {
            // A send fails only when every thread is gone; then the file
            // comes back in the error and is closed here.
            Some(tx) => drop(tx.send(f)),
            None => drop(f),
        }
    }

    /// Waits until every file handed over is closed.
    pub(crate) fn finish(&mut self) {
        self.tx = None;
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.finish();
    }
}

// Unix: the tests close pipe ends made with pipe2.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};

    /// A pipe: reading its read end gives end-of-file only once the write
    /// end is closed, which is what the tests check (descriptor numbers
    /// are reused by tests running alongside, so they prove nothing).
    fn pipe() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills both descriptors, which we then own.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: fresh descriptors owned by nobody else.
        unsafe {
            (
                File::from(OwnedFd::from_raw_fd(fds[0])),
                File::from(OwnedFd::from_raw_fd(fds[1])),
            )
        }
    }

    fn closed(mut read_end: &File) -> bool {
        let mut b = [0u8; 1];
        // The write end is gone iff read returns 0 (it would block, never
        // return, if a writer were left: nothing is ever written).
        read_end.read(&mut b).unwrap() == 0
    }

    #[test]
    fn every_file_handed_over_is_closed_by_finish() {
        let mut reaper = Reaper::new(DEFAULT_QUEUE);
        let mut readers = Vec::new();
        // More than the queue and the threads hold: close() must block and
        // go on, not drop anything.
        for _ in 0..(4 * held(DEFAULT_QUEUE)) {
            let (r, w) = pipe();
            readers.push(r);
            reaper.close(w);
        }
        reaper.finish();
        assert!(readers.iter().all(closed));
    }

    #[test]
    fn close_after_finish_closes_on_the_caller() {
        let mut reaper = Reaper::new(1);
        reaper.finish();
        let (r, w) = pipe();
        reaper.close(w);
        assert!(closed(&r));
    }
}
