//! clamd's `FILDES`: a client on the Unix socket passes an open file
//! descriptor (`SCM_RIGHTS`) instead of the file's bytes or its path, so
//! that a file the server could not open itself (other user, other mount
//! namespace) can be scanned without copying it through the socket.
//!
//! Descriptors arrive as ancillary data on whatever read of the socket
//! returns the bytes they were sent with. Every read of a clamd Unix
//! connection therefore goes through `recvmsg` ([`FdStream`]): a plain
//! `read` would make the kernel close them unseen. Each batch received is
//! kept with the stream offset it arrived at, so that the command reading
//! the bytes up to that offset claims it ([`Inbox::claim`]); a descriptor
//! sent with any other command, or never claimed, is closed when that
//! command is done or the connection ends. Received descriptors are
//! `OwnedFd`s from the first instant: whatever path the code takes, they
//! are closed.
//!
//! The descriptor is then checked to be a regular file (`fstat`) and read
//! with `pread` from offset 0 into the same spool as an `INSTREAM` upload,
//! within the same size limit: no path is looked up or reopened, the
//! client's file offset is left alone, and a client that truncates the
//! file while it is scanned cannot fault a memory map of it.

use crate::pool::{Spool, SpoolError, Upload};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags};
use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::UnixStream;

/// Descriptors taken from one `recvmsg`: clamd clients send one. Room for
/// a few more so that a client sending several is told so (they are all
/// closed); beyond this the kernel closes the rest and reports the
/// control data truncated.
const FDS_PER_MESSAGE: usize = 4;
/// Descriptors a connection may hold unclaimed. A client sending
/// descriptors without commands cannot make the server run out of them:
/// past this, new ones are closed on arrival and the next `FILDES` is
/// refused.
const MAX_HELD: usize = 16;

/// Descriptors received on one connection and not yet claimed by a
/// command.
#[derive(Default)]
pub struct Inbox {
    /// Bytes received so far: the stream offset of the next read.
    received: u64,
    /// Each batch with the stream offset of the end of the read that
    /// brought it.
    batches: VecDeque<(u64, Vec<OwnedFd>)>,
    held: usize,
    /// Offset up to which descriptors were lost (control data truncated by
    /// the kernel, or over [`MAX_HELD`]).
    lost_until: Option<u64>,
}

/// What a command found in the inbox.
#[derive(Default)]
pub struct Claimed {
    /// The descriptors received with the command's bytes.
    pub fds: Vec<OwnedFd>,
    /// Some were closed on arrival (too many, or truncated control data).
    pub lost: bool,
}

impl Inbox {
    /// The stream offset of the next byte not yet read from the socket.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Takes every descriptor that arrived with the bytes before stream
    /// offset `upto`.
    pub fn claim(&mut self, upto: u64) -> Claimed {
        let mut c = Claimed::default();
        while let Some((at, _)) = self.batches.front()
            && *at <= upto
        {
            if let Some((_, fds)) = self.batches.pop_front() {
                self.held = self.held.saturating_sub(fds.len());
                c.fds.extend(fds);
            }
        }
        if let Some(lost) = self.lost_until
            && lost <= upto
        {
            c.lost = true;
            self.lost_until = None;
        }
        c
    }

    fn arrived(&mut self, bytes: usize, fds: Vec<OwnedFd>, truncated: bool) {
        self.received = self.received.saturating_add(bytes as u64);
        let at = self.received;
        if truncated || self.held.saturating_add(fds.len()) > MAX_HELD {
            // Dropping them closes them.
            self.lost_until = Some(at);
            return;
        }
        if !fds.is_empty() {
            self.held += fds.len();
            self.batches.push_back((at, fds));
        }
    }
}

/// The shared inbox of one connection: the reading half fills it, the
/// command loop claims from it.
pub type SharedInbox = Arc<Mutex<Inbox>>;

/// Locks an inbox; a poisoned lock (a panic elsewhere) still holds valid
/// descriptors.
pub fn lock(inbox: &SharedInbox) -> std::sync::MutexGuard<'_, Inbox> {
    inbox.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A clamd Unix connection whose reads keep passed descriptors.
pub struct FdStream {
    stream: UnixStream,
    inbox: SharedInbox,
}

impl FdStream {
    /// Wraps an accepted connection; returns it with its inbox.
    pub fn new(stream: UnixStream) -> (FdStream, SharedInbox) {
        let inbox = SharedInbox::default();
        (
            FdStream {
                stream,
                inbox: inbox.clone(),
            },
            inbox,
        )
    }

    /// One `recvmsg` into `buf`, without waiting.
    fn receive(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FDS_PER_MESSAGE))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = rustix::net::recvmsg(&self.stream, &mut iov, &mut control, recv_flags())?;
        let mut fds = Vec::new();
        for m in control.drain() {
            // Anything other than SCM_RIGHTS is dropped by `drain`.
            if let RecvAncillaryMessage::ScmRights(received) = m {
                fds.extend(received);
            }
        }
        let truncated = msg.flags.contains(ReturnFlags::CTRUNC);
        lock(&self.inbox).arrived(msg.bytes, fds, truncated);
        Ok(msg.bytes)
    }
}

/// Received descriptors are close-on-exec from the start where the system
/// can do it atomically.
fn recv_flags() -> RecvFlags {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        RecvFlags::CMSG_CLOEXEC
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        RecvFlags::empty()
    }
}

impl AsyncRead for FdStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.stream.poll_read_ready(cx))?;
            // Zeroed once per buffer: tokio's BufReader hands over an
            // initialised buffer, so this costs nothing after the first read.
            let unfilled = buf.initialize_unfilled();
            match this
                .stream
                .try_io(Interest::READABLE, || this.receive(unfilled))
            {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for FdStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Why a passed descriptor was not scanned.
#[derive(Debug, thiserror::Error)]
pub enum FdError {
    /// Not a regular file: what it is instead.
    #[error("not a regular file ({0}); only regular files can be passed")]
    NotRegular(&'static str),
    /// Larger than the stream limit.
    #[error("size limit exceeded")]
    TooLarge,
    /// Reading took longer than the request timeout.
    #[error("reading the file took too long")]
    TimedOut,
    /// `fstat` or `pread` failed (opened write-only, `O_PATH`, I/O error).
    #[error("cannot read the file: {0}")]
    Read(std::io::Error),
    /// The spool could not take it.
    #[error("{0}")]
    Spool(SpoolError),
}

/// Reads the regular file behind `fd` from offset 0 into `spool`, which
/// bounds it; `fd` is closed before this returns, whatever happens.
/// Blocking: call it off the async runtime.
pub fn read_regular(fd: OwnedFd, mut spool: Spool, deadline: Instant) -> Result<Upload, FdError> {
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(FdError::Read)?;
    let t = meta.file_type();
    if !t.is_file() {
        return Err(FdError::NotRegular(if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a pipe"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_char_device() {
            "a character device"
        } else if t.is_block_device() {
            "a block device"
        } else {
            "not a file"
        }));
    }
    let mut buf = vec![0u8; 256 << 10];
    let mut offset = 0u64;
    loop {
        if Instant::now() >= deadline {
            return Err(FdError::TimedOut);
        }
        let n = match file.read_at(&mut buf, offset) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FdError::Read(e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        // The file may have grown since fstat: the spool refuses past the
        // limit whatever the size said.
        spool.push(chunk).map_err(|e| match e {
            SpoolError::TooLarge(_) => FdError::TooLarge,
            e => FdError::Spool(e),
        })?;
        offset += n as u64;
    }
    spool.finish().map_err(FdError::Spool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    use std::io::IoSlice;
    use std::os::fd::{AsFd, BorrowedFd};
    use tokio::io::AsyncReadExt;

    fn send(s: &std::os::unix::net::UnixStream, data: &[u8], fds: &[BorrowedFd<'_>]) {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(16))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() {
            assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
        }
        rustix::net::sendmsg(s, &[IoSlice::new(data)], &mut control, SendFlags::empty()).unwrap();
    }

    /// Descriptors of this process open on `path` (other tests run in
    /// parallel, so only these are counted).
    fn open_on(path: &std::path::Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target == path)
            .count()
    }

    #[tokio::test]
    async fn descriptors_are_claimed_by_the_bytes_they_came_with_and_closed_otherwise() {
        let (client, server) = std::os::unix::net::UnixStream::pair().unwrap();
        server.set_nonblocking(true).unwrap();
        let server = UnixStream::from_std(server).unwrap();
        let (mut stream, inbox) = FdStream::new(server);
        let named = tempfile::NamedTempFile::new().unwrap();
        let path = named.path().canonicalize().unwrap();
        let file = named.reopen().unwrap();
        drop(named.into_temp_path().keep().unwrap());
        assert_eq!(open_on(&path), 1);

        send(&client, b"zPING\0", &[]);
        send(&client, b"\0", &[file.as_fd()]);
        send(&client, b"ab", &[file.as_fd(), file.as_fd()]);
        let mut got = [0u8; 9];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"zPING\0\0ab");
        assert_eq!(lock(&inbox).received(), 9);
        // Nothing arrived before offset 6.
        assert!(lock(&inbox).claim(6).fds.is_empty());
        let one = lock(&inbox).claim(7);
        assert_eq!(one.fds.len(), 1);
        assert!(!one.lost);
        let two = lock(&inbox).claim(9);
        assert_eq!(two.fds.len(), 2);
        drop((one, two));

        // More than the control buffer holds: the kernel closes the rest,
        // and what did arrive is closed and reported as lost.
        let many: Vec<BorrowedFd<'_>> = (0..12).map(|_| file.as_fd()).collect();
        send(&client, b"x", &many);
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await.unwrap();
        let c = lock(&inbox).claim(10);
        assert!(c.lost && c.fds.is_empty(), "{} descriptors", c.fds.len());
        assert_eq!(open_on(&path), 1);
        // More than a connection may hold unclaimed: the same.
        let four: Vec<BorrowedFd<'_>> = (0..FDS_PER_MESSAGE).map(|_| file.as_fd()).collect();
        for _ in 0..(MAX_HELD / FDS_PER_MESSAGE + 1) {
            send(&client, b"z", &four);
            stream.read_exact(&mut b).await.unwrap();
        }
        assert_eq!(open_on(&path), 1 + MAX_HELD);
        let upto = lock(&inbox).received();
        let c = lock(&inbox).claim(upto);
        assert!(c.lost);
        assert_eq!(c.fds.len(), MAX_HELD);
        drop(c);
        // Unclaimed descriptors go with the connection.
        send(&client, b"y", &[file.as_fd()]);
        stream.read_exact(&mut b).await.unwrap();
        assert_eq!(open_on(&path), 2, "the unclaimed one is held");
        drop(stream);
        drop(inbox);
        assert_eq!(open_on(&path), 1, "every received descriptor closed");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn only_regular_files_are_read_and_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let spool = |limit| Spool::new(limit, 1024, dir.path().to_path_buf());
        let later = Instant::now() + std::time::Duration::from_secs(60);
        let d = OwnedFd::from(std::fs::File::open(dir.path()).unwrap());
        assert!(matches!(
            read_regular(d, spool(100), later),
            Err(FdError::NotRegular("a directory"))
        ));
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        // The client's offset is not moved.
        use std::io::{Read, Seek};
        let mut mine = f.try_clone().unwrap();
        let mut first = [0u8; 3];
        mine.read_exact(&mut first).unwrap();
        match read_regular(OwnedFd::from(f), spool(100), later).unwrap() {
            Upload::Memory(v) => assert_eq!(v, b"0123456789"),
            Upload::File(_) => panic!("small upload spooled to disk"),
        }
        assert_eq!(mine.stream_position().unwrap(), 3);
        let f = std::fs::File::open(&p).unwrap();
        assert!(matches!(
            read_regular(OwnedFd::from(f), spool(9), later),
            Err(FdError::TooLarge)
        ));
        // Write-only: fstat works, the read fails, clearly.
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        assert!(matches!(
            read_regular(OwnedFd::from(f), spool(100), later),
            Err(FdError::Read(_))
        ));
    }
}
