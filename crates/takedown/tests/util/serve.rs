//! A real `takedown serve` on free loopback ports for the tests that speak
//! to it (serve.rs, taxii_server.rs), and the raw HTTP they speak: one
//! request a connection, the answer read until the server closes.

use super::Tree;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How long `serve` may take to write its ready file: signatures compile
/// slowly on a loaded machine, but a server that never listens must fail
/// the test rather than hang it.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// How long a stopped server may take to exit before the test says so.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// How long a dropped server gets after SIGTERM before SIGKILL, so that a
/// failing test does not leave it running.
const DROP_WITHIN: Duration = Duration::from_secs(10);

/// How long [`http_raw`] waits for an answer: a large POST is slow under
/// load, a server that never answers must fail the test.
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

/// A running `takedown serve`, stopped with SIGTERM when dropped.
pub struct Server {
    child: Option<Child>,
    /// The first HTTP listener.
    pub http: SocketAddr,
    /// The first clamd TCP listener, if the server has one.
    clamd: Option<SocketAddr>,
    /// The clamd Unix socket, if the server has one.
    pub unix: Option<PathBuf>,
    log: PathBuf,
}

impl Server {
    /// `takedown serve --ready-file FILE ARGS` in the tree, its stderr in
    /// `serve.log`; returns once the ready file names the bound listeners,
    /// and panics (with the log) if the server exits first.
    pub fn start(t: &Tree, args: &[&str]) -> Server {
        let ready = t.path("ready.json");
        let _ = std::fs::remove_file(&ready);
        let log = t.path("serve.log");
        let mut c = t.cmd();
        c.arg("serve")
            .arg("--ready-file")
            .arg(&ready)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = c.spawn().unwrap();
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                return Server {
                    child: Some(child),
                    http: v["http"][0].as_str().unwrap().parse().unwrap(),
                    clamd: v["clamd_tcp"][0].as_str().map(|a| a.parse().unwrap()),
                    unix: v["clamd_unix"].as_str().map(PathBuf::from),
                    log,
                };
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "takedown serve exited with {status}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "takedown serve did not get ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`Server::start`] with HTTP and clamd on free loopback ports.
    pub fn on_loopback(t: &Tree, args: &[&str]) -> Server {
        let mut all = vec!["--http", "127.0.0.1:0", "--clamd", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Server::start(t, &all)
    }

    /// [`Server::start`] with a configuration file (which names its own
    /// listeners).
    pub fn with_config(t: &Tree, config: &Path) -> Server {
        Server::start(t, &["--config", config.to_str().unwrap()])
    }

    /// The first clamd TCP listener; panics if the server has none.
    pub fn clamd(&self) -> SocketAddr {
        self.clamd.expect("takedown serve listens for clamd on TCP")
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits for the server to exit (after a signal or a shutdown
    /// command) and returns its exit code, -1 for a signal.
    pub fn wait(&mut self) -> i32 {
        let mut child = self.child.take().unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if started.elapsed() > STOP_WITHIN {
                let _ = child.kill();
                panic!("takedown serve did not stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill9(mut self) {
        let mut c = self.child.take().unwrap();
        let _ = c.kill();
        let _ = c.wait();
    }

    /// SIGTERM; asserts a clean exit.
    pub fn stop(mut self) {
        let mut c = self.child.take().unwrap();
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let status = c.wait().unwrap();
        assert!(
            status.success(),
            "serve exited with {status}: {}",
            self.log()
        );
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let started = Instant::now();
            while c.try_wait().ok().flatten().is_none() {
                if started.elapsed() > DROP_WITHIN {
                    let _ = c.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    /// The status line and the headers, as sent.
    pub headers: String,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// A request with `Connection: close` and a `Content-Length`.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = r.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Sends raw request bytes and reads the whole answer (the request asks
/// the server to close).
pub fn http_raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(ANSWER_WITHIN)).unwrap();
    // The server may answer (413) and close before taking the whole body.
    let _ = s.write_all(request);
    read_answer(&mut s)
}

/// Reads an answer until the server closes the connection.
pub fn read_answer(s: &mut TcpStream) -> Answer {
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&all)));
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let mut body = all[split + 4..].to_vec();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers: head,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 4 + n..];
    }
}
