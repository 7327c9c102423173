//! TAXII 2.1 paging load for `bench/intel.sh` (std only, blocking sockets,
//! one thread per client, keep-alive connections).
//!
//! ```text
//! taxii --addr HOST:PORT --path /taxii2/api/collections/ID/objects/
//!       --limit N --concurrency C --seconds S [--auth 'Bearer TOKEN']
//!       [--expect OBJECTS] [--pid PID]
//!     one JSON line: requests, errors, unfinished, passes, short_passes,
//!     objects, rps, p50_ms, p99_ms, max_ms, peak_rss_kb
//! ```
//!
//! Each client walks the whole collection again and again: `GET
//! PATH?limit=N`, then `GET PATH?limit=N&next=X` while the envelope says
//! `"more": true`. Only requests answered within the S seconds count;
//! those still waiting at the end are `unfinished` (a server that needs
//! longer than the run for one page answers nothing). Any answer but a 200
//! is an error. A pass that ends with another number of objects than
//! `--expect` is a `short_pass` (objects are counted by their
//! `"spec_version"` key: the bench's objects have exactly one each).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let num = |name: &str, default: u64| -> u64 {
        opt(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| fail(&format!("{name}: not a number")))
        })
    };
    let addr: SocketAddr = opt("--addr")
        .unwrap_or_else(|| fail("--addr is required"))
        .parse()
        .unwrap_or_else(|_| fail("--addr: not HOST:PORT"));
    let cfg = Arc::new(Cfg {
        addr,
        path: opt("--path").unwrap_or_else(|| fail("--path is required")),
        limit: num("--limit", 1000),
        auth: opt("--auth"),
        expect: opt("--expect").map(|_| num("--expect", 0)),
    });
    let concurrency = num("--concurrency", 8) as usize;
    let run_for = Duration::from_secs(num("--seconds", 20));
    let pid = opt("--pid").and_then(|p| p.parse::<u32>().ok());

    let stop = Arc::new(AtomicBool::new(false));
    let rss = sample_rss(pid, stop.clone());
    let totals = Arc::new(Mutex::new(Totals::default()));
    let start = Instant::now();
    let deadline = start + run_for;
    let clients: Vec<_> = (0..concurrency)
        .map(|_| {
            let cfg = cfg.clone();
            let totals = totals.clone();
            std::thread::spawn(move || {
                let t = client(&cfg, deadline);
                let mut all = totals.lock().unwrap_or_else(|e| e.into_inner());
                all.merge(t);
            })
        })
        .collect();
    for c in clients {
        let _ = c.join();
    }
    let elapsed = start.elapsed().as_secs_f64().max(run_for.as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    let peak = rss.join().unwrap_or(0);
    let mut t = std::mem::take(&mut *totals.lock().unwrap_or_else(|e| e.into_inner()));
    t.latencies.sort_by(f64::total_cmp);
    let requests = t.latencies.len();
    println!(
        "{{\"requests\":{requests},\"errors\":{},\"unfinished\":{},\"passes\":{},\"short_passes\":{},\"objects\":{},\"rps\":{:.1},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2},\"peak_rss_kb\":{peak},\"first_error\":{}}}",
        t.errors,
        t.unfinished,
        t.passes,
        t.short_passes,
        t.objects,
        requests as f64 / elapsed,
        percentile(&t.latencies, 0.50),
        percentile(&t.latencies, 0.99),
        t.latencies.last().copied().unwrap_or(0.0),
        json_string(t.first_error.as_deref().unwrap_or("")),
    );
}

struct Cfg {
    addr: SocketAddr,
    path: String,
    limit: u64,
    auth: Option<String>,
    expect: Option<u64>,
}

#[derive(Default)]
struct Totals {
    /// Milliseconds of every answered request (errors included).
    latencies: Vec<f64>,
    errors: u64,
    unfinished: u64,
    passes: u64,
    short_passes: u64,
    objects: u64,
    first_error: Option<String>,
}

impl Totals {
    fn merge(&mut self, o: Totals) {
        self.latencies.extend(o.latencies);
        self.errors += o.errors;
        self.unfinished += o.unfinished;
        self.passes += o.passes;
        self.short_passes += o.short_passes;
        self.objects += o.objects;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }

    fn error(&mut self, e: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e);
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("taxii: {msg}");
    std::process::exit(2)
}

/// One client: whole passes over the collection until the deadline.
fn client(cfg: &Cfg, deadline: Instant) -> Totals {
    let mut t = Totals::default();
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(1 << 20);
    'passes: while Instant::now() < deadline {
        let mut next: Option<String> = None;
        let mut seen = 0u64;
        loop {
            let mut target = format!("{}?limit={}", cfg.path, cfg.limit);
            if let Some(n) = &next {
                target.push_str("&next=");
                target.push_str(&percent_encode(n));
            }
            let began = Instant::now();
            if began >= deadline {
                break 'passes;
            }
            let answer = get(&mut conn, cfg, &target, deadline, &mut buf);
            let ms = began.elapsed().as_secs_f64() * 1000.0;
            match answer {
                Err(e) if Instant::now() >= deadline => {
                    // Still waiting when the run ended.
                    let _ = e;
                    t.unfinished += 1;
                    break 'passes;
                }
                Err(e) => {
                    conn = None;
                    t.latencies.push(ms);
                    t.error(format!("{target}: {e}"));
                    continue 'passes;
                }
                Ok((status, body)) => {
                    t.latencies.push(ms);
                    if status != 200 {
                        t.error(format!(
                            "{target}: HTTP {status}: {}",
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        ));
                        continue 'passes;
                    }
                    let n = count(&body, b"\"spec_version\"");
                    seen += n;
                    t.objects += n;
                    if json_bool(&body, b"\"more\"") == Some(true) {
                        match json_str(&body, b"\"next\"") {
                            Some(n) => next = Some(n),
                            None => {
                                t.error(format!("{target}: more is true but no next"));
                                continue 'passes;
                            }
                        }
                    } else {
                        t.passes += 1;
                        if cfg.expect.is_some_and(|e| e != seen) {
                            t.short_passes += 1;
                            if t.first_error.is_none() {
                                t.first_error = Some(format!(
                                    "a pass saw {seen} objects, not {:?}",
                                    cfg.expect
                                ));
                            }
                        }
                        continue 'passes;
                    }
                }
            }
        }
    }
    t
}

/// GET `target` on the kept-alive connection (opened if needed); the
/// reads give up at `deadline`.
fn get(
    conn: &mut Option<TcpStream>,
    cfg: &Cfg,
    target: &str,
    deadline: Instant,
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, Vec<u8>)> {
    if conn.is_none() {
        let s = TcpStream::connect_timeout(&cfg.addr, Duration::from_secs(5))?;
        s.set_nodelay(true)?;
        *conn = Some(s);
    }
    let Some(s) = conn.as_mut() else {
        return Err(std::io::Error::other("no connection"));
    };
    let mut req = format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\nAccept: application/taxii+json;version=2.1\r\n",
        cfg.addr
    );
    if let Some(a) = &cfg.auth {
        req.push_str("Authorization: ");
        req.push_str(a);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(req.as_bytes())?;
    let r = read_answer(s, deadline, buf);
    match r {
        Ok((status, body, close)) => {
            if close {
                *conn = None;
            }
            Ok((status, body))
        }
        Err(e) => {
            *conn = None;
            Err(e)
        }
    }
}

fn read_more(s: &mut TcpStream, deadline: Instant, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "run over",
        ));
    }
    s.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
    let mut tmp = [0u8; 64 << 10];
    let n = s.read(&mut tmp)?;
    buf.extend_from_slice(&tmp[..n]);
    Ok(n)
}

/// One HTTP/1.x answer: status, body (Content-Length, chunked, or up to
/// the close), and whether the connection must be closed after it.
fn read_answer(
    s: &mut TcpStream,
    deadline: Instant,
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, Vec<u8>, bool)> {
    buf.clear();
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if read_more(s, deadline, buf)? == 0 {
            return Err(std::io::Error::other("closed before the answer"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let http10 = head.starts_with("http/1.0");
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let close = match header("connection:").as_deref() {
        Some("close") => true,
        Some("keep-alive") => false,
        _ => http10,
    };
    if let Some(len) = header("content-length:").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < head_end + len {
            if read_more(s, deadline, buf)? == 0 {
                return Err(std::io::Error::other("closed inside the answer"));
            }
        }
        return Ok((status, buf[head_end..head_end + len].to_vec(), close));
    }
    if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        let mut at = head_end;
        loop {
            let line_end = loop {
                if let Some(i) = find(&buf[at..], b"\r\n") {
                    break at + i;
                }
                if read_more(s, deadline, buf)? == 0 {
                    return Err(std::io::Error::other("closed inside a chunk size"));
                }
            };
            let size_text = String::from_utf8_lossy(&buf[at..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            let data = line_end + 2;
            // The chunk and its CRLF (or the final CRLF after size 0).
            while buf.len() < data + size + 2 {
                if read_more(s, deadline, buf)? == 0 {
                    return Err(std::io::Error::other("closed inside a chunk"));
                }
            }
            if size == 0 {
                return Ok((status, body, close));
            }
            body.extend_from_slice(&buf[data..data + size]);
            at = data + size + 2;
        }
    }
    // Neither: the body runs to the close.
    while read_more(s, deadline, buf)? > 0 {}
    Ok((status, buf[head_end..].to_vec(), true))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn count(hay: &[u8], needle: &[u8]) -> u64 {
    let mut n = 0;
    let mut at = 0;
    while let Some(i) = find(&hay[at..], needle) {
        n += 1;
        at += i + needle.len();
    }
    n
}

/// The value after `key` and a colon (whitespace allowed), at the first
/// occurrence of `key`.
fn after_key<'a>(body: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let i = find(body, key)? + key.len();
    let rest = body.get(i..)?;
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let rest = rest.strip_prefix(b":")?;
    Some(&rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..])
}

fn json_bool(body: &[u8], key: &[u8]) -> Option<bool> {
    let v = after_key(body, key)?;
    if v.starts_with(b"true") {
        Some(true)
    } else if v.starts_with(b"false") {
        Some(false)
    } else {
        None
    }
}

/// A string value without escapes (server cursors are plain tokens).
fn json_str(body: &[u8], key: &[u8]) -> Option<String> {
    let v = after_key(body, key)?.strip_prefix(b"\"")?;
    let end = v.iter().position(|&b| b == b'"' || b == b'\\')?;
    (v.get(end) == Some(&b'"')).then(|| String::from_utf8_lossy(&v[..end]).into_owned())
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Peak VmRSS of `pid`, sampled every 50 ms until `stop`.
fn sample_rss(pid: Option<u32>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let Some(pid) = pid else { return 0 };
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                for l in s.lines() {
                    if let Some(v) = l.strip_prefix("VmRSS:") {
                        let kb: u64 = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                        peak = peak.max(kb);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        peak
    })
}
