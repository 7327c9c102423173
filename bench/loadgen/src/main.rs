//! Load generator for `bench/serve.sh` (std only, blocking sockets, one
//! thread per client so that the client costs little CPU next to the
//! servers it measures).
//!
//! ```text
//! loadgen race --proto http|clamd --addr HOST:PORT --size BYTES
//!              --concurrency N --seconds S [--pid PID]
//!     one JSON line: requests, errors, rps, p50_ms, p99_ms, peak_rss_kb
//! loadgen load --http HOST:PORT --clamd HOST:PORT --clients N --rounds R
//!              --max-upload BYTES [--pid PID] [--max-rss-mb MB]
//!     mixed good and bad traffic; exit 1 on any wrong answer
//! ```
//!
//! Every race request carries different bytes (a counter at the start), so
//! no server can answer from a cache of earlier results.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    let addr = |name: &str| -> SocketAddr {
        opt(name)
            .unwrap_or_else(|| fail(&format!("{name} is required")))
            .parse()
            .unwrap_or_else(|_| fail(&format!("{name}: not HOST:PORT")))
    };
    let pid = opt("--pid").and_then(|p| p.parse::<u32>().ok());
    match args.first().map(String::as_str) {
        Some("race") => {
            let proto = opt("--proto").unwrap_or_else(|| "http".into());
            race(
                &proto,
                addr("--addr"),
                num("--size", 4096) as usize,
                num("--concurrency", 8) as usize,
                Duration::from_secs(num("--seconds", 10)),
                pid,
            )
        }
        Some("load") => load(
            addr("--http"),
            addr("--clamd"),
            num("--clients", 200) as usize,
            num("--rounds", 10) as usize,
            num("--max-upload", 16 << 20),
            pid,
            num("--max-rss-mb", 0),
        ),
        _ => fail("usage: loadgen race|load ... (see the source)"),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("loadgen: {msg}");
    std::process::exit(2)
}

/// Seeded pseudo-random bytes (xorshift): incompressible, never a
/// container, identical from run to run.
fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn eicar() -> Vec<u8> {
    [
        r"X5O!P%@AP[4\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-",
        "TEST-FILE!$H+H*",
    ]
    .concat()
    .into_bytes()
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

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    s.set_write_timeout(Some(Duration::from_secs(120)))?;
    Ok(s)
}

/// One HTTP answer: status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 answer with a Content-Length (all of ours have one).
fn read_http(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Answer> {
    buf.clear();
    let mut tmp = [0u8; 16 << 10];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut tmp)?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the answer"));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no content-length"))?;
    while buf.len() < head_end + len {
        let n = s.read(&mut tmp)?;
        if n == 0 {
            return Err(std::io::Error::other("closed inside the answer"));
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    Ok(Answer {
        status,
        body: buf[head_end..head_end + len].to_vec(),
    })
}

fn http_head(path: &str, len: usize, extra: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len}\r\n{extra}\r\n")
        .into_bytes()
}

/// A clamd INSTREAM request for `data`, in 64 KiB chunks.
fn instream(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8192 + 32);
    out.extend_from_slice(b"zINSTREAM\0");
    for c in data.chunks(64 << 10) {
        out.extend_from_slice(&(c.len() as u32).to_be_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&0u32.to_be_bytes());
    out
}

/// Sends a clamd request on a new connection; returns the reply up to
/// the first NUL (or newline for `n`/legacy commands, or close).
fn clamd_call(addr: SocketAddr, request: &[u8]) -> std::io::Result<String> {
    let mut s = connect(addr)?;
    // Read while writing: a server may answer (size limit) and close before
    // taking everything.
    let mut reader = s.try_clone()?;
    let req = request.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = s.write_all(&req);
    });
    let mut out = Vec::new();
    let _ = reader.read_to_end(&mut out);
    let _ = writer.join();
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn race(
    proto: &str,
    addr: SocketAddr,
    size: usize,
    concurrency: usize,
    duration: Duration,
    pid: Option<u32>,
) {
    let base = random_bytes(size, 0x5eed_0000 + size as u64);
    let stop = Arc::new(AtomicBool::new(false));
    let rss = sample_rss(pid, stop.clone());
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + duration;
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let base = base.clone();
            let errors = errors.clone();
            let first_error = first_error.clone();
            let counter = counter.clone();
            let proto = proto.to_string();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut conn: Option<TcpStream> = None;
                let mut buf = Vec::new();
                // The request, built once; only the counter bytes change.
                let (mut req, at) = if proto == "http" {
                    let mut r = http_head("/v1/scan", base.len(), "");
                    let at = r.len();
                    r.extend_from_slice(&base);
                    (r, at)
                } else {
                    (instream(&base), 14)
                };
                while Instant::now() < end {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let k = 8.min(base.len());
                    req[at..at + k].copy_from_slice(&n.to_le_bytes()[..k]);
                    let t0 = Instant::now();
                    let result = if proto == "http" {
                        (|| -> std::io::Result<()> {
                            if conn.is_none() {
                                conn = Some(connect(addr)?);
                            }
                            let s = conn.as_mut().unwrap();
                            s.write_all(&req)?;
                            let a = read_http(s, &mut buf)?;
                            let body = String::from_utf8_lossy(&a.body);
                            if a.status != 200 || !body.contains("\"verdict\":\"clean\"") {
                                return Err(std::io::Error::other(format!(
                                    "HTTP {}: {}",
                                    a.status,
                                    &body[..body.len().min(200)]
                                )));
                            }
                            Ok(())
                        })()
                    } else {
                        (|| -> std::io::Result<()> {
                            let mut s = connect(addr)?;
                            s.write_all(&req)?;
                            let mut out = Vec::new();
                            s.read_to_end(&mut out)?;
                            if out != b"stream: OK\0" {
                                return Err(std::io::Error::other(format!(
                                    "clamd: {:?}",
                                    String::from_utf8_lossy(&out)
                                )));
                            }
                            Ok(())
                        })()
                    };
                    match result {
                        Ok(()) => lat.push(t0.elapsed().as_secs_f64() * 1000.0),
                        Err(e) => {
                            conn = None;
                            errors.fetch_add(1, Ordering::Relaxed);
                            first_error.lock().unwrap().get_or_insert(e.to_string());
                        }
                    }
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<f64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let wall = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak = rss.join().unwrap();
    lat.sort_by(|a, b| a.total_cmp(b));
    let err = first_error.lock().unwrap().clone().unwrap_or_default();
    println!(
        "{{\"requests\":{},\"errors\":{},\"rps\":{:.1},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"peak_rss_kb\":{},\"first_error\":{:?}}}",
        lat.len(),
        errors.load(Ordering::Relaxed),
        lat.len() as f64 / wall,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        peak,
        err
    );
}

/// The kinds of traffic of the load test, and the answer each must get.
const KINDS: &[&str] = &[
    "http-small-clean",
    "http-eicar",
    "http-large-clean",
    "http-slow-upload",
    "http-oversized-declared",
    "http-oversized-chunked",
    "http-malformed-multipart",
    "http-multipart-two-files",
    "clamd-eicar",
    "clamd-1mib-clean",
    "clamd-malformed-command",
    "clamd-oversized-stream",
    "clamd-idsession",
];

fn one(
    kind: &str,
    http: SocketAddr,
    clamd: SocketAddr,
    max_upload: u64,
    seed: u64,
) -> Result<(), String> {
    let e = |x: std::io::Error| x.to_string();
    let post = |req: &[u8]| -> Result<Answer, String> {
        let mut s = connect(http).map_err(e)?;
        s.write_all(req).map_err(e)?;
        read_http(&mut s, &mut Vec::new()).map_err(e)
    };
    let expect = |a: Answer, status: u16, needle: &str| -> Result<(), String> {
        let body = String::from_utf8_lossy(&a.body);
        if a.status == status && body.contains(needle) {
            Ok(())
        } else {
            Err(format!(
                "want {status} with {needle:?}, got {} {}",
                a.status,
                &body[..body.len().min(200)]
            ))
        }
    };
    let raw = |data: &[u8]| {
        let mut r = http_head("/v1/scan", data.len(), "");
        r.extend_from_slice(data);
        r
    };
    match kind {
        "http-small-clean" => expect(
            post(&raw(&random_bytes(4096, seed)))?,
            200,
            "\"verdict\":\"clean\"",
        ),
        "http-eicar" => expect(post(&raw(&eicar()))?, 200, "\"verdict\":\"infected\""),
        "http-large-clean" => expect(
            post(&raw(&random_bytes(8 << 20, seed)))?,
            200,
            "\"verdict\":\"clean\"",
        ),
        "http-slow-upload" => {
            let data = random_bytes(64 << 10, seed);
            let mut s = connect(http).map_err(e)?;
            s.write_all(&http_head("/v1/scan", data.len(), ""))
                .map_err(e)?;
            for c in data.chunks(4096) {
                s.write_all(c).map_err(e)?;
                std::thread::sleep(Duration::from_millis(60));
            }
            expect(
                read_http(&mut s, &mut Vec::new()).map_err(e)?,
                200,
                "\"verdict\":\"clean\"",
            )
        }
        "http-oversized-declared" => {
            let mut s = connect(http).map_err(e)?;
            s.write_all(&http_head("/v1/scan", (max_upload + 1) as usize, ""))
                .map_err(e)?;
            let _ = s.write_all(&[0u8; 1024]);
            expect(
                read_http(&mut s, &mut Vec::new()).map_err(e)?,
                413,
                "upload limit",
            )
        }
        "http-oversized-chunked" => {
            let s = connect(http).map_err(e)?;
            let mut w = s.try_clone().map_err(e)?;
            let total = max_upload as usize + (1 << 20);
            let writer = std::thread::spawn(move || {
                let _ = w.write_all(
                    b"POST /v1/scan HTTP/1.1\r\nHost: bench\r\nTransfer-Encoding: chunked\r\n\r\n",
                );
                let chunk = vec![b'x'; 64 << 10];
                let mut sent = 0;
                while sent < total {
                    let ok = w
                        .write_all(b"10000\r\n")
                        .and_then(|_| w.write_all(&chunk))
                        .and_then(|_| w.write_all(b"\r\n"));
                    if ok.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
                let _ = w.write_all(b"0\r\n\r\n");
            });
            let mut r = s;
            let a = read_http(&mut r, &mut Vec::new()).map_err(e);
            let _ = r.shutdown(std::net::Shutdown::Both);
            let _ = writer.join();
            expect(a?, 413, "limit")
        }
        "http-malformed-multipart" => {
            let body = b"--bench\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nunterminated";
            let mut r = http_head(
                "/v1/scan",
                body.len(),
                "Content-Type: multipart/form-data; boundary=bench\r\n",
            );
            r.extend_from_slice(body);
            expect(post(&r)?, 400, "multipart")
        }
        "http-multipart-two-files" => {
            let mut body = Vec::new();
            for (name, data) in [("a.bin", random_bytes(10_000, seed)), ("e.com", eicar())] {
                body.extend_from_slice(format!("--bench\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n").as_bytes());
                body.extend_from_slice(&data);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"--bench--\r\n");
            let mut r = http_head(
                "/v1/scan",
                body.len(),
                "Content-Type: multipart/form-data; boundary=bench\r\n",
            );
            r.extend_from_slice(&body);
            expect(post(&r)?, 200, "\"verdict\":\"infected\"")
        }
        "clamd-eicar" => want(
            clamd_call(clamd, &instream(&eicar())).map_err(e)?,
            "stream: Eicar-Test-Signature FOUND\0",
        ),
        "clamd-1mib-clean" => want(
            clamd_call(clamd, &instream(&random_bytes(1 << 20, seed))).map_err(e)?,
            "stream: OK\0",
        ),
        "clamd-malformed-command" => {
            let junk = [
                &b"\x00\xff\x13garbage\n"[..],
                b"zNOSUCHCOMMAND\0",
                b"nINSTREAM extra args\n",
                b"INSTREAM\n",
            ];
            let pick = junk[(seed as usize) % junk.len()];
            let r = clamd_call(clamd, pick).map_err(e)?;
            if r.starts_with("UNKNOWN COMMAND") {
                Ok(())
            } else {
                Err(format!("got {r:?} for {pick:?}"))
            }
        }
        "clamd-oversized-stream" => {
            let mut req = b"zINSTREAM\0".to_vec();
            req.extend_from_slice(&((max_upload + 1) as u32).to_be_bytes());
            req.extend_from_slice(&[0u8; 4096]);
            want(
                clamd_call(clamd, &req).map_err(e)?,
                "INSTREAM size limit exceeded. ERROR\0",
            )
        }
        "clamd-idsession" => {
            let mut req = b"zIDSESSION\0zPING\0".to_vec();
            req.extend_from_slice(&instream(&eicar()));
            req.extend_from_slice(&instream(&random_bytes(5000, seed)));
            req.extend_from_slice(b"zEND\0");
            want(
                clamd_call(clamd, &req).map_err(e)?,
                "1: PONG\x002: stream: Eicar-Test-Signature FOUND\x003: stream: OK\0",
            )
        }
        _ => unreachable!(),
    }
}

fn want(got: String, expected: &str) -> Result<(), String> {
    if got == expected {
        Ok(())
    } else {
        Err(format!("want {expected:?}, got {got:?}"))
    }
}

/// One request of the load test: its kind, whether the answer was right,
/// and how long it took.
type Outcome = (usize, Result<(), String>, f64);

fn load(
    http: SocketAddr,
    clamd: SocketAddr,
    clients: usize,
    rounds: usize,
    max_upload: u64,
    pid: Option<u32>,
    max_rss_mb: u64,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let rss = sample_rss(pid, stop.clone());
    let started = Instant::now();
    let results: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let results = results.clone();
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || {
                    for r in 0..rounds {
                        let k = (i + r) % KINDS.len();
                        let t0 = Instant::now();
                        let res = one(KINDS[k], http, clamd, max_upload, (i * 1000 + r) as u64);
                        results
                            .lock()
                            .unwrap()
                            .push((k, res, t0.elapsed().as_secs_f64()));
                    }
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let wall = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak = rss.join().unwrap();
    let results = results.lock().unwrap();
    let mut bad = 0;
    println!("{:<28} {:>6} {:>6} {:>9}", "kind", "ok", "wrong", "max s");
    for (k, name) in KINDS.iter().enumerate() {
        let of: Vec<_> = results.iter().filter(|r| r.0 == k).collect();
        let wrong: Vec<_> = of.iter().filter(|r| r.1.is_err()).collect();
        let max = of.iter().map(|r| r.2).fold(0.0, f64::max);
        println!(
            "{name:<28} {:>6} {:>6} {max:>9.2}",
            of.len() - wrong.len(),
            wrong.len()
        );
        for w in wrong.iter().take(3) {
            println!("    {}", w.1.as_ref().unwrap_err());
        }
        bad += wrong.len();
    }
    // Still alive and well?
    let health = (|| -> std::io::Result<u16> {
        let mut s = connect(http)?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")?;
        Ok(read_http(&mut s, &mut Vec::new())?.status)
    })();
    let alive = matches!(health, Ok(200));
    println!(
        "{} requests from {clients} clients in {wall:.1} s; wrong answers: {bad}; server peak RSS {:.1} MB; healthz after: {}",
        results.len(),
        peak as f64 / 1024.0,
        if alive { "200" } else { "FAILED" }
    );
    let rss_ok = max_rss_mb == 0 || peak / 1024 <= max_rss_mb;
    if !rss_ok {
        println!("peak RSS over the bound of {max_rss_mb} MB");
    }
    if bad > 0 || !alive || !rss_ok {
        std::process::exit(1);
    }
}
