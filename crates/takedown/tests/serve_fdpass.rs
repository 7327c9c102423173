//! clamd's `FILDES` on `takedown serve`'s Unix socket: the real
//! `clamdscan --fdpass` against it, and raw clients passing what
//! clamdscan never would (no descriptor, two, a directory, a pipe).

mod util;

use nix::sys::socket::{ControlMessage, MsgFlags, UnixAddr, sendmsg};
use std::io::{IoSlice, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use util::serve::*;
use util::*;

/// `clamdscan`, or `None` (and a loud message) when not installed; under
/// CI a missing client fails the test.
fn clamdscan() -> Option<PathBuf> {
    let p = Path::new("/usr/bin/clamdscan");
    if p.exists() {
        return Some(p.to_path_buf());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install clamdscan (Debian package clamdscan)"
    );
    eprintln!("\n\n*** SKIPPED: clamdscan is not installed (apt-get install clamdscan) ***\n");
    None
}

/// Sends `data` with `fds` as SCM_RIGHTS on one message.
fn send(s: &UnixStream, data: &[u8], fds: &[RawFd]) {
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<UnixAddr>(
        s.as_raw_fd(),
        &[IoSlice::new(data)],
        cmsgs,
        MsgFlags::empty(),
        None,
    )
    .unwrap();
}

fn connect(sock: &Path) -> UnixStream {
    let s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

/// `zFILDES\0` then the carrier byte with `fds`, as clamdscan sends it;
/// the reply up to the server's close.
fn fildes(sock: &Path, fds: &[RawFd]) -> String {
    let mut s = connect(sock);
    send(&s, b"zFILDES\0", &[]);
    send(&s, b"\0", fds);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// What the server holds open below the test's tree (its log aside):
/// the descriptors it was passed, if any were left open.
fn held_below(srv: &Server, t: &Tree) -> Vec<PathBuf> {
    let root = t.root().canonicalize().unwrap();
    let log = root.join("serve.log");
    std::fs::read_dir(format!("/proc/{}/fd", srv.pid()))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.starts_with(&root) && *p != log)
        .collect()
}

/// Waits (boundedly) until the server holds nothing below the tree.
fn released(srv: &Server, t: &Tree) -> Vec<PathBuf> {
    let started = Instant::now();
    loop {
        let held = held_below(srv, t);
        if held.is_empty() || started.elapsed() > Duration::from_secs(20) {
            return held;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn real_clamdscan_fdpass_scans_the_passed_descriptor() {
    let Some(clamdscan) = clamdscan() else {
        return;
    };
    let t = Tree::new();
    let sock = t.path("clamd.sock");
    let srv = Server::on_loopback(&t, &["--clamd-socket", sock.to_str().unwrap()]);
    t.write("unix.conf", format!("LocalSocket {}\n", sock.display()));
    let eicar_path = t.write("files/eicar.com", eicar());
    let clean_path = t.write("files/clean.txt", "hello");
    let run = |files: &[&Path]| {
        let mut c = Command::new(&clamdscan);
        c.arg(format!("--config-file={}", t.arg("unix.conf")))
            .args(["--fdpass", "--no-summary"])
            .args(files);
        run_with_timeout(c, 60)
    };
    let o = run(&[&eicar_path]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{}: Eicar-Test-Signature FOUND\n", eicar_path.display())
    );
    let o = run(&[&clean_path]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), format!("{}: OK\n", clean_path.display()));
    // Several files, each its own descriptor.
    let o = run(&[&clean_path, &eicar_path]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("{}: OK", clean_path.display()))
            && stdout(&o).contains(&format!(
                "{}: Eicar-Test-Signature FOUND",
                eicar_path.display()
            )),
        "{}",
        stdout(&o)
    );
    // A directory with --multiscan: one IDSESSION, the FILDES commands
    // pipelined, each reply matched to its file.
    for i in 0..5 {
        t.write(&format!("many/clean{i}.txt"), format!("clean {i}"));
    }
    t.write("many/e1.com", eicar());
    t.write("many/e2.com", eicar());
    let mut c = Command::new(&clamdscan);
    c.arg(format!("--config-file={}", t.arg("unix.conf")))
        .args(["--fdpass", "--multiscan", "--no-summary"])
        .arg(t.path("many"));
    let o = run_with_timeout(c, 60);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    let many = t.path("many");
    assert_eq!(
        lines,
        vec![
            format!("{}/e1.com: Eicar-Test-Signature FOUND", many.display()),
            format!("{}/e2.com: Eicar-Test-Signature FOUND", many.display()),
        ],
        "{}",
        stdout(&o)
    );
    drop(srv);
}

#[test]
fn fildes_refuses_what_is_not_one_regular_file_and_keeps_serving() {
    let t = Tree::new();
    let sock = t.path("clamd.sock");
    let srv = Server::on_loopback(
        &t,
        &[
            "--clamd-socket",
            sock.to_str().unwrap(),
            "--max-upload",
            "1K",
        ],
    );
    let eicar_file = std::fs::File::open(t.write("eicar.com", eicar())).unwrap();
    let clean_file = std::fs::File::open(t.write("clean.txt", "hello")).unwrap();
    let big = std::fs::File::open(t.write("big.bin", vec![b'a'; 2048])).unwrap();
    std::fs::create_dir(t.path("dir")).unwrap();
    let dir = std::fs::File::open(t.path("dir")).unwrap();
    let fifo = t.path("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Read-write so that opening does not wait for a writer.
    let pipe = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let write_only = std::fs::OpenOptions::new()
        .write(true)
        .open(t.path("clean.txt"))
        .unwrap();

    // A detection and a clean file, named by the server's descriptor.
    let r = fildes(&sock, &[eicar_file.as_raw_fd()]);
    assert!(
        r.starts_with("fd[") && r.ends_with("]: Eicar-Test-Signature FOUND\0"),
        "{r:?}"
    );
    let r = fildes(&sock, &[clean_file.as_raw_fd()]);
    assert!(r.starts_with("fd[") && r.ends_with("]: OK\0"), "{r:?}");
    // What is read is the descriptor, never the path: the file's name
    // now holds something clean, the descriptor still EICAR.
    let swapped = t.write("swapped.com", eicar());
    let swapped_file = std::fs::File::open(&swapped).unwrap();
    std::fs::remove_file(&swapped).unwrap();
    t.write("swapped.com", "clean now");
    let r = fildes(&sock, &[swapped_file.as_raw_fd()]);
    assert!(r.ends_with("]: Eicar-Test-Signature FOUND\0"), "{r:?}");

    // Not a regular file: refused, clearly.
    let r = fildes(&sock, &[dir.as_raw_fd()]);
    assert!(
        r.ends_with(
            "]: not a regular file (a directory); only regular files can be passed. ERROR\0"
        ),
        "{r:?}"
    );
    let r = fildes(&sock, &[pipe.as_raw_fd()]);
    assert!(
        r.ends_with("]: not a regular file (a pipe); only regular files can be passed. ERROR\0"),
        "{r:?}"
    );
    // Opened for writing only: cannot be read.
    let r = fildes(&sock, &[write_only.as_raw_fd()]);
    assert!(r.contains("]: cannot read the file: "), "{r:?}");
    assert!(r.ends_with(". ERROR\0"), "{r:?}");
    // Over the stream limit (--max-upload), as INSTREAM.
    let r = fildes(&sock, &[big.as_raw_fd()]);
    assert!(r.ends_with("]: size limit exceeded. ERROR\0"), "{r:?}");

    // No descriptor at all, and two at once (both closed).
    assert_eq!(
        fildes(&sock, &[]),
        "FILDES: didn't receive file descriptor. ERROR\0"
    );
    assert_eq!(
        fildes(&sock, &[eicar_file.as_raw_fd(), clean_file.as_raw_fd()]),
        "FILDES: received 2 file descriptors, expected one. ERROR\0"
    );
    // A descriptor sent with another command is not kept for later.
    let mut s = connect(&sock);
    send(&s, b"zPING\0", &[eicar_file.as_raw_fd()]);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert_eq!(out, b"PONG\0");

    // In a session, each FILDES gets the descriptor sent with it,
    // pipelined as clamdscan's multiscan sends them.
    let mut s = connect(&sock);
    send(&s, b"zIDSESSION\0", &[]);
    send(&s, b"zFILDES\0", &[]);
    send(&s, b"\0", &[eicar_file.as_raw_fd()]);
    send(&s, b"zFILDES\0", &[]);
    send(&s, b"\0", &[clean_file.as_raw_fd()]);
    send(&s, b"zFILDES\0\0", &[]);
    send(&s, b"zPING\0", &[]);
    send(&s, b"zEND\0", &[]);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let replies: Vec<String> = String::from_utf8(out)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_string)
        .collect();
    assert_eq!(replies.len(), 4, "{replies:?}");
    assert!(
        replies[0].starts_with("1: fd[") && replies[0].ends_with("]: Eicar-Test-Signature FOUND"),
        "{replies:?}"
    );
    assert!(
        replies[1].starts_with("2: fd[") && replies[1].ends_with("]: OK"),
        "{replies:?}"
    );
    assert_eq!(
        replies[2],
        "3: FILDES: didn't receive file descriptor. ERROR"
    );
    assert_eq!(replies[3], "4: PONG");

    // TCP cannot carry a descriptor: refused as such.
    let mut s = std::net::TcpStream::connect(srv.clamd()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"zFILDES\0").unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "FILDES: file descriptors can only be passed over the clamd Unix socket. ERROR\0"
    );
    // VERSIONCOMMANDS lists it.
    let mut s = connect(&sock);
    send(&s, b"zVERSIONCOMMANDS\0", &[]);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(String::from_utf8_lossy(&out).contains(" FILDES"), "{out:?}");

    // Every descriptor received was closed, whatever the reply.
    assert_eq!(released(&srv, &t), Vec::<PathBuf>::new(), "{}", srv.log());
    // And the server still serves.
    let mut s = connect(&sock);
    send(&s, b"zPING\0", &[]);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert_eq!(out, b"PONG\0");
}
