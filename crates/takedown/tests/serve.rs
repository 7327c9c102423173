//! Integration tests of `takedown serve`: the real binary on ephemeral
//! ports, spoken to over raw HTTP and clamd sockets, by the real
//! `clamdscan` and by a real headless Chromium.

mod util;

use sha2::Digest;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use util::serve::*;
use util::*;

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    http_raw(addr, r.as_bytes())
}

fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    http_raw(addr, &request("POST", path, headers, body))
}

const BOUNDARY: &str = "takedownTestBoundary7MA4YWxkTrZu0gW";

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, file, data) in parts {
        b.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => b.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => b.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// A zip holding `inner/eicar.com`.
fn zipped_eicar() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    z.start_file("inner/eicar.com", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(&eicar()).unwrap();
    z.finish().unwrap();
    buf.into_inner()
}

#[test]
fn http_api_scans_raw_and_multipart_uploads_with_the_cli_findings() {
    let t = Tree::new();
    let srv = Server::on_loopback(&t, &["--max-upload", "64K", "--memory-buffer", "1K"]);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/finding.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();

    // Raw body.
    let a = post(srv.http, "/v1/scan?name=eicar.com", &[], &eicar());
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["verdict"], "infected");
    assert_eq!(v["files"][0]["name"], "eicar.com");
    assert_eq!(v["files"][0]["sha256"], EICAR_SHA256);
    let finding = &v["files"][0]["findings"][0];
    assert_eq!(finding["path"], "eicar.com");
    assert_eq!(finding["detections"][0]["name"], "EICAR_Test_File");
    validator.validate(finding).unwrap();

    // The same finding as the CLI's, field for field.
    t.write("eicar.com", eicar());
    let mut c = t.cmd();
    c.args(["scan", "--format", "json", "-"])
        .stdin(std::fs::File::open(t.path("eicar.com")).unwrap());
    let cli = run_with_timeout(c, 60);
    let cli_finding = findings(&cli)[0].clone();
    assert_eq!(cli_finding["detections"], finding["detections"]);
    assert_eq!(cli_finding["sha256"], finding["sha256"]);

    // Multipart: several files, one clean, one a zip over the in-memory
    // buffer (spooled) with EICAR inside.
    let pad = vec![b'A'; 8 << 10];
    let big_zip = {
        // A clean 8 KiB member too, so the zip is larger than 1K.
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("pad.txt", stored).unwrap();
        z.write_all(&pad).unwrap();
        z.start_file("inner/eicar.com", stored).unwrap();
        z.write_all(&eicar()).unwrap();
        z.finish().unwrap();
        buf.into_inner()
    };
    let body = multipart(&[
        ("file", Some("clean.txt"), b"hello world"),
        ("file", Some("nest.zip"), &big_zip),
        ("note", None, b"ignored form field"),
    ]);
    let a = post(
        srv.http,
        "/v1/scan",
        &[("Content-Type", &multipart_type())],
        &body,
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["verdict"], "infected");
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["verdict"], "clean");
    assert_eq!(files[0]["findings"].as_array().unwrap().len(), 0);
    assert_eq!(files[0]["size"], 11);
    assert_eq!(files[1]["verdict"], "infected");
    assert_eq!(files[1]["size"], big_zip.len());
    let inner = &files[1]["findings"][0];
    assert_eq!(inner["path"], "nest.zip");
    assert_eq!(inner["chain"], serde_json::json!(["inner/eicar.com"]));
    assert_eq!(inner["sha256"], EICAR_SHA256);
    validator.validate(inner).unwrap();

    // Declared too large: 413 before the body is read.
    let a = http_raw(
        srv.http,
        b"POST /v1/scan HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\npartial",
    );
    assert_eq!(a.status, 413, "{}", a.text());
    // Chunked, no declared length: cut when it passes the limit.
    let mut chunked =
        b"POST /v1/scan HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n", 8192).as_bytes());
        chunked.extend_from_slice(&[b'x'; 8192]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let a = http_raw(srv.http, &chunked);
    assert_eq!(a.status, 413, "{}", a.text());
    // Multipart totals count too.
    let body = multipart(&[
        ("file", Some("a"), &[b'a'; 40 << 10]),
        ("file", Some("b"), &[b'b'; 40 << 10]),
    ]);
    let a = post(
        srv.http,
        "/v1/scan",
        &[("Content-Type", &multipart_type())],
        &body,
    );
    assert_eq!(a.status, 413, "{}", a.text());

    // Malformed multipart: 400 with a reason.
    let a = post(
        srv.http,
        "/v1/scan",
        &[("Content-Type", &multipart_type())],
        b"--nope\r\ngarbage",
    );
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(a.json()["error"].as_str().unwrap().contains("multipart"));
    let a = post(
        srv.http,
        "/v1/scan",
        &[("Content-Type", &multipart_type())],
        &multipart(&[("note", None, b"no file")]),
    );
    assert_eq!(a.status, 400, "{}", a.text());

    // The other endpoints.
    let a = get(srv.http, "/healthz", &[]);
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["status"], "ok");
    let a = get(srv.http, "/v1/signatures", &[]);
    let v = a.json();
    assert_eq!(v["generation"], 1);
    assert_eq!(v["yara_rules"], 1);
    assert_eq!(v["sources"][0]["path"], "builtin:test-files.yar");
    let a = get(srv.http, "/metrics", &[]);
    let m = a.text();
    assert!(
        m.contains("takedown_detections_total{name=\"EICAR_Test_File\"} 2"),
        "{m}"
    );
    assert!(
        m.contains(
            "takedown_requests_total{interface=\"http\",endpoint=\"scan\",status=\"413\"} 3"
        ),
        "{m}"
    );
    assert!(m.contains("takedown_signatures_age_seconds"), "{m}");
    assert!(m.contains("takedown_queue_depth 0"), "{m}");
    let a = get(srv.http, "/nope", &[]);
    assert_eq!(a.status, 404);
}

#[test]
fn openapi_document_parses_and_lists_every_route() {
    let t = Tree::new();
    let srv = Server::on_loopback(&t, &[]);
    let a = get(srv.http, "/v1/openapi.json", &[]);
    assert_eq!(a.status, 200);
    let v = a.json();
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    let paths = v["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/scan", "post"),
        ("/v1/signatures", "get"),
        ("/v1/reload", "post"),
        ("/v1/openapi.json", "get"),
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/", "get"),
        ("/", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from openapi.json"
        );
        // And the route really exists: anything but 404/405.
        let a = if method == "get" {
            get(srv.http, path, &[])
        } else {
            post(srv.http, path, &[], b"")
        };
        assert!(
            a.status != 404 && a.status != 405,
            "{method} {path}: {}",
            a.status
        );
    }
    // No route the document does not describe (the server answers 404 for
    // unknown ones): every documented path is served, checked above.
    // TAXII paths (off by default) are checked in tests/taxii_server.rs,
    // the self-check's (off by default) in tests/selfcheck.rs.
    assert_eq!(
        paths
            .keys()
            .filter(|p| !p.starts_with("/taxii2/") && !p.ends_with("check"))
            .count(),
        7
    );
}

#[test]
fn reload_swaps_the_set_and_refuses_a_broken_one() {
    let t = Tree::new();
    t.write(
        "sigs/a.yar",
        "rule Marker_A { strings: $a = \"marker-aaaa\" condition: $a }",
    );
    let srv = Server::on_loopback(&t, &["-s", &t.arg("sigs")]);
    let scan = |data: &[u8]| post(srv.http, "/v1/scan", &[], data).json();
    assert_eq!(scan(b"xx marker-aaaa")["verdict"], "infected");
    assert_eq!(scan(b"xx marker-bbbb")["verdict"], "clean");

    t.write(
        "sigs/b.yar",
        "rule Marker_B { strings: $b = \"marker-bbbb\" condition: $b }",
    );
    let a = post(srv.http, "/v1/reload", &[], b"");
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["generation"], 2);
    let v = scan(b"xx marker-bbbb");
    assert_eq!(v["verdict"], "infected");
    assert_eq!(v["signatures_generation"], 2);

    // A broken file: refused, generation 2 stays and still works.
    t.write("sigs/c.yar", "rule Broken { condition: ");
    let a = post(srv.http, "/v1/reload", &[], b"");
    assert_eq!(a.status, 422, "{}", a.text());
    let msg = a.json()["error"].as_str().unwrap().to_string();
    assert!(
        msg.contains("c.yar") && msg.contains("generation 2 stays"),
        "{msg}"
    );
    let v = scan(b"xx marker-bbbb");
    assert_eq!(v["verdict"], "infected");
    assert_eq!(v["signatures_generation"], 2);

    // SIGHUP reloads too (once the file is fixed).
    std::fs::remove_file(t.path("sigs/c.yar")).unwrap();
    srv.signal(libc::SIGHUP);
    let started = Instant::now();
    while get(srv.http, "/v1/signatures", &[]).json()["generation"] != 3 {
        assert!(started.elapsed() < Duration::from_secs(30), "{}", srv.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reload_under_load_fails_no_request() {
    let t = Tree::new();
    t.write(
        "sigs/a.yar",
        "rule Marker_A { strings: $a = \"marker-aaaa\" condition: $a }",
    );
    let srv = Server::on_loopback(&t, &["-s", &t.arg("sigs")]);
    let addr = srv.http;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let data = if i % 2 == 0 {
                        eicar()
                    } else {
                        b"xx marker-aaaa".to_vec()
                    };
                    let a = post(addr, "/v1/scan", &[], &data);
                    assert_eq!(a.status, 200, "{}", a.text());
                    assert_eq!(a.json()["verdict"], "infected");
                    n += 1;
                }
                n
            })
        })
        .collect();
    for _ in 0..5 {
        let a = post(addr, "/v1/reload", &[], b"");
        assert_eq!(a.status, 200, "{}", a.text());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(total > 0);
    assert_eq!(get(addr, "/v1/signatures", &[]).json()["generation"], 6);
}

#[test]
fn tokens_are_enforced_when_configured_and_required_beyond_loopback() {
    let t = Tree::new();
    let scan_token = "scan-token-0123456789abcdef";
    let admin_token = "admin-token-0123456789abcdef";
    t.write("tokens", format!("# scanners\n{scan_token}\n"));
    t.write("admin", format!("{admin_token}\n"));
    let srv = Server::on_loopback(
        &t,
        &[
            "--token-file",
            &t.arg("tokens"),
            "--admin-token-file",
            &t.arg("admin"),
        ],
    );
    let bearer = |tok: &str| format!("Bearer {tok}");
    let a = post(srv.http, "/v1/scan", &[], &eicar());
    assert_eq!(a.status, 401);
    assert!(
        a.headers
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer")
    );
    let a = post(
        srv.http,
        "/v1/scan",
        &[("Authorization", &bearer("wrong-token-0123456789"))],
        &eicar(),
    );
    assert_eq!(a.status, 401);
    let a = post(
        srv.http,
        "/v1/scan",
        &[("Authorization", &bearer(scan_token))],
        &eicar(),
    );
    assert_eq!(a.status, 200);
    assert_eq!(get(srv.http, "/v1/signatures", &[]).status, 401);
    assert_eq!(get(srv.http, "/metrics", &[]).status, 401);
    assert_eq!(get(srv.http, "/healthz", &[]).status, 200);
    let a = post(
        srv.http,
        "/v1/reload",
        &[("Authorization", &bearer(scan_token))],
        b"",
    );
    assert_eq!(a.status, 403);
    let a = post(
        srv.http,
        "/v1/reload",
        &[("Authorization", &bearer(admin_token))],
        b"",
    );
    assert_eq!(a.status, 200, "{}", a.text());
    // The web form's token field stands in for the header.
    let body = multipart(&[
        ("token", None, scan_token.as_bytes()),
        ("file", Some("e.com"), &eicar()),
    ]);
    let a = post(srv.http, "/", &[("Content-Type", &multipart_type())], &body);
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.text().contains("data-verdict=\"infected\""));
    let body = multipart(&[("file", Some("e.com"), &eicar())]);
    let a = post(srv.http, "/", &[("Content-Type", &multipart_type())], &body);
    assert_eq!(a.status, 401);

    // Beyond loopback without tokens: refused at start.
    let o = t.run(&["serve", "--http", "0.0.0.0:0", "--no-clamd"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("auth.tokens"), "{}", stderr(&o));
}

/// Talks the clamd protocol: sends `data`, reads until the server closes.
fn clamd(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(data);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn instream(data: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = b"zINSTREAM\0".to_vec();
    for c in data.chunks(chunk.max(1)) {
        out.extend_from_slice(&(c.len() as u32).to_be_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&0u32.to_be_bytes());
    out
}

#[test]
fn clamd_protocol_replies_like_clamd() {
    let t = Tree::new();
    let srv = Server::on_loopback(&t, &["--max-upload", "1K", "--idle-timeout", "2"]);
    let a = srv.clamd();
    assert_eq!(clamd(a, b"zPING\0"), b"PONG\0");
    assert_eq!(clamd(a, b"nPING\n"), b"PONG\n");
    assert_eq!(clamd(a, b"PING\n"), b"PONG\n");
    let v = clamd(a, b"nVERSION\n");
    assert!(v.starts_with(b"takedown ") && v.ends_with(b"\n"), "{v:?}");
    let v = String::from_utf8(clamd(a, b"nVERSIONCOMMANDS\n")).unwrap();
    assert!(v.contains("| COMMANDS: ") && v.contains(" INSTREAM"), "{v}");
    assert_eq!(
        clamd(a, &instream(&eicar(), 7)),
        b"stream: Eicar-Test-Signature FOUND\0"
    );
    assert_eq!(clamd(a, &instream(b"hello", 4096)), b"stream: OK\0");
    assert_eq!(
        clamd(a, &instream(&zipped_eicar(), 64)),
        b"stream: Eicar-Test-Signature FOUND\0"
    );
    // StreamMaxLength: refused on the chunk header, connection closed.
    assert_eq!(
        clamd(a, &instream(&vec![0u8; 2048], 2048)),
        b"INSTREAM size limit exceeded. ERROR\0"
    );
    assert_eq!(
        clamd(a, &instream(&vec![0u8; 2048], 100)),
        b"INSTREAM size limit exceeded. ERROR\0"
    );
    // ClamAV's own test file is found under ClamAV's name.
    if let Some(clam) = clamav_testfile("clam.exe") {
        let data = std::fs::read(clam).unwrap();
        assert_eq!(
            clamd(a, &instream(&data, 4096)),
            b"stream: Clamav.Test.File-6 FOUND\0"
        );
    }
    // Sessions: numbered replies, each with its command's delimiter.
    let mut s = b"zIDSESSION\0zPING\0nVERSION\n".to_vec();
    s.extend_from_slice(&instream(&eicar(), 68));
    s.extend_from_slice(b"zEND\0");
    let r = clamd(a, &s);
    let r = String::from_utf8(r).unwrap();
    assert!(r.starts_with("1: PONG\x002: takedown "), "{r:?}");
    assert!(
        r.ends_with("\n3: stream: Eicar-Test-Signature FOUND\0"),
        "{r:?}"
    );
    assert_eq!(
        clamd(a, b"zIDSESSION\0zCONTSCAN /tmp\0"),
        b"1: Command invalid inside IDSESSION. ERROR\0"
    );
    // Malformed and unknown commands.
    assert_eq!(clamd(a, b"zFOO\0"), b"UNKNOWN COMMAND\0");
    assert_eq!(clamd(a, b"nFOO\n"), b"UNKNOWN COMMAND\n");
    assert_eq!(clamd(a, b"INSTREAM\n"), b"UNKNOWN COMMAND\n");
    assert_eq!(clamd(a, b"\0\x01\x02binary"), b"UNKNOWN COMMAND\n");
    assert_eq!(clamd(a, &[b'z'; 20000]), b"UNKNOWN COMMAND\0");
    assert_eq!(clamd(a, b"zPING"), b"");
    // Truncated stream: no reply, no crash.
    let mut cut = instream(&eicar(), 68);
    cut.truncate(30);
    assert_eq!(clamd(a, &cut), b"");
    // Paths and SHUTDOWN are off by default.
    t.write("dir/eicar.com", eicar());
    let r = String::from_utf8(clamd(a, format!("zSCAN {}\0", t.arg("dir")).as_bytes())).unwrap();
    assert!(r.ends_with("path scanning is disabled on this server (clamd.allow_path_scan); use INSTREAM. ERROR\0"), "{r}");
    let r = String::from_utf8(clamd(a, b"zSHUTDOWN\0")).unwrap();
    assert!(r.ends_with("ERROR\0"), "{r}");
    assert_eq!(clamd(a, b"zPING\0"), b"PONG\0");
    let r = String::from_utf8(clamd(a, b"zSTATS\0")).unwrap();
    assert!(r.contains("QUEUE: 0 items") && r.ends_with("END\0"), "{r}");
    let r = clamd(a, b"zRELOAD\0");
    assert_eq!(r, b"RELOADING\0");
}

#[test]
fn clamav_body_signatures_are_served_over_clamd_and_http() {
    let t = Tree::new();
    let marker = b"served by the takedown engine";
    t.write(
        "sigs/local.ndb",
        format!("Test.Served.Body:0:*:{}\n", hex::encode(marker)),
    );
    let srv = Server::on_loopback(&t, &["--no-builtin", "-s", &t.arg("sigs")]);
    let mut sample = b"prefix: ".to_vec();
    sample.extend_from_slice(marker);
    assert_eq!(
        clamd(srv.clamd(), &instream(&sample, 5)),
        b"stream: Test.Served.Body FOUND\0"
    );
    assert_eq!(clamd(srv.clamd(), &instream(b"clean", 64)), b"stream: OK\0");
    let a = post(srv.http, "/v1/scan?name=sample.bin", &[], &sample);
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["verdict"], "infected");
    let d = &v["files"][0]["findings"][0]["detections"][0];
    assert_eq!(d["engine"], "clamav");
    assert_eq!(d["name"], "Test.Served.Body");
    // The source listing names the database and what it held.
    let s = get(srv.http, "/v1/signatures", &[]).json();
    let src = &s["sources"][0];
    assert!(src["path"].as_str().unwrap().ends_with("local.ndb"), "{s}");
    assert_eq!(src["kind"], "clamav-ndb");
    assert_eq!(src["entries"], 1);
    assert_eq!(src["unsupported"], 0);
}

#[test]
fn clamd_path_scan_and_shutdown_when_enabled() {
    let t = Tree::new();
    t.write("dir/a/eicar.com", eicar());
    t.write("dir/b/eicar2.com", eicar());
    t.write("dir/clean.txt", "hello");
    let mut srv = Server::on_loopback(&t, &["--allow-path-scan", "--allow-shutdown"]);
    let a = srv.clamd();
    let dir = t.arg("dir");
    let r = String::from_utf8(clamd(a, format!("zCONTSCAN {dir}\0").as_bytes())).unwrap();
    let mut lines: Vec<&str> = r.split('\0').filter(|l| !l.is_empty()).collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            format!("{dir}/a/eicar.com: Eicar-Test-Signature FOUND"),
            format!("{dir}/b/eicar2.com: Eicar-Test-Signature FOUND"),
        ],
        "{r:?}"
    );
    let r = String::from_utf8(clamd(a, format!("nSCAN {dir}/clean.txt\n").as_bytes())).unwrap();
    assert_eq!(r, format!("{dir}/clean.txt: OK\n"));
    let r = String::from_utf8(clamd(a, b"zSCAN relative/path\0")).unwrap();
    assert_eq!(r, "relative/path: a full path is required. ERROR\0");
    assert_eq!(clamd(a, b"zSHUTDOWN\0"), b"");
    assert_eq!(srv.wait(), 0, "{}", srv.log());
}

/// `clamdscan`, or `None` (and a loud message) when not installed; under
/// CI a missing client fails the test.
fn tool(name: &str, package: &str) -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install {name} (Debian package {package})"
    );
    eprintln!("\n\n*** SKIPPED: {name} is not installed (apt-get install {package}) ***\n");
    None
}

#[test]
fn real_clamdscan_speaks_to_takedown() {
    let Some(clamdscan) = tool("clamdscan", "clamdscan") else {
        return;
    };
    let t = Tree::new();
    let sock = t.path("clamd.sock");
    let srv = Server::on_loopback(&t, &["--clamd-socket", sock.to_str().unwrap()]);
    assert_eq!(srv.unix.as_deref(), Some(sock.as_path()));
    t.write(
        "tcp.conf",
        format!("TCPSocket {}\nTCPAddr 127.0.0.1\n", srv.clamd().port()),
    );
    t.write("unix.conf", format!("LocalSocket {}\n", sock.display()));
    let eicar_path = t.write("files/eicar.com", eicar());
    let clean_path = t.write("files/clean.txt", "hello");
    t.write("files/nest.zip", zipped_eicar());
    for conf in ["tcp.conf", "unix.conf"] {
        let mut c = Command::new(&clamdscan);
        c.arg(format!("--config-file={}", t.arg(conf)))
            .args(["--stream", "--no-summary"])
            .arg(&eicar_path)
            .arg(&clean_path)
            .arg(t.path("files/nest.zip"));
        let o = run_with_timeout(c, 60);
        let out = stdout(&o);
        assert_eq!(code(&o), 1, "{conf}: {out}{}", stderr(&o));
        assert!(
            out.contains(&format!(
                "{}: Eicar-Test-Signature FOUND",
                eicar_path.display()
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("{}: OK", clean_path.display())),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "{}: Eicar-Test-Signature FOUND",
                t.path("files/nest.zip").display()
            )),
            "{out}"
        );
        // A clean file alone: exit 0.
        let mut c = Command::new(&clamdscan);
        c.arg(format!("--config-file={}", t.arg(conf)))
            .args(["--stream", "--no-summary"])
            .arg(&clean_path);
        assert_eq!(code(&run_with_timeout(c, 60)), 0);
    }
    // Without --stream clamdscan asks for the path: refused, exit 2.
    let mut c = Command::new(&clamdscan);
    c.arg(format!("--config-file={}", t.arg("tcp.conf")))
        .arg("--no-summary")
        .arg(&eicar_path);
    let o = run_with_timeout(c, 60);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("path scanning is disabled"),
        "{}",
        stdout(&o)
    );
    // --version asks the server.
    let mut c = Command::new(&clamdscan);
    c.arg(format!("--config-file={}", t.arg("tcp.conf")))
        .arg("--version");
    let o = run_with_timeout(c, 60);
    assert!(stdout(&o).starts_with("takedown "), "{}", stdout(&o));
}

#[test]
fn sigterm_finishes_the_scan_in_flight() {
    let t = Tree::new();
    let mut srv = Server::on_loopback(&t, &[]);
    // Send half a request, then SIGTERM, then the rest: the answer comes.
    let body = eicar();
    let head = format!(
        "POST /v1/scan HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut s = TcpStream::connect(srv.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..20]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    srv.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    // New connections are no longer accepted...
    assert!(
        TcpStream::connect(srv.http)
            .and_then(|mut c| {
                c.set_read_timeout(Some(Duration::from_secs(5)))?;
                c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")?;
                let mut b = [0u8; 16];
                c.read(&mut b)
            })
            .map_or(true, |n| n == 0),
        "a new connection was served after SIGTERM"
    );
    // ...but the one in flight finishes.
    s.write_all(&body[20..]).unwrap();
    let a = read_answer(&mut s);
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["verdict"], "infected");
    assert_eq!(srv.wait(), 0);
    assert!(
        srv.log().contains("takedown serve stopped"),
        "{}",
        srv.log()
    );
}

#[test]
fn slow_clients_time_out_and_saturation_answers_503() {
    let t = Tree::new();
    let srv = Server::on_loopback(&t, &["--idle-timeout", "1", "--max-requests", "1"]);
    // A body that stalls: 408 after the idle timeout.
    let mut s = TcpStream::connect(srv.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"POST /v1/scan HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    // While it holds the only admission, another scan is refused at once.
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let busy = post(srv.http, "/v1/scan", &[], b"hello");
    assert_eq!(busy.status, 503, "{}", busy.text());
    assert!(busy.headers.to_ascii_lowercase().contains("retry-after: 1"));
    assert!(started.elapsed() < Duration::from_millis(900));
    let a = read_answer(&mut s);
    assert_eq!(a.status, 408, "{}", a.text());
    // Then the slot is free again.
    assert_eq!(post(srv.http, "/v1/scan", &[], b"hello").status, 200);
    // A request head that never ends is dropped too.
    let mut s = TcpStream::connect(srv.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"POST /v1/scan HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(10));
    // A silent clamd connection is closed too.
    let mut c = TcpStream::connect(srv.clamd()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(b"zINSTREAM\0\0\0\0\x10abc").unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A minimal Chrome DevTools protocol client over one page session.
struct Cdp {
    ws: tungstenite::WebSocket<TcpStream>,
    next: u64,
    session: Option<String>,
}

impl Cdp {
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    fn try_call(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        self.next += 1;
        let id = self.next;
        let mut msg = serde_json::json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = s.clone().into();
        }
        self.ws
            .send(tungstenite::Message::Text(msg.to_string().into()))
            .unwrap();
        loop {
            let m = self.ws.read().unwrap();
            let tungstenite::Message::Text(text) = m else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    return Err(e.clone());
                }
                return Ok(v["result"].clone());
            }
        }
    }

    fn eval(&mut self, expr: &str) -> serde_json::Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        r["result"]["value"].clone()
    }

    /// The node matching `selector` in the current document, if any.
    fn query(&mut self, selector: &str) -> Option<i64> {
        // The document may be replaced between the two calls (a page is
        // loading): that is "not there yet".
        let doc = self
            .try_call("DOM.getDocument", serde_json::json!({}))
            .ok()?;
        let root = doc["root"]["nodeId"].as_i64()?;
        let r = self
            .try_call(
                "DOM.querySelector",
                serde_json::json!({"nodeId": root, "selector": selector}),
            )
            .ok()?;
        r["nodeId"].as_i64().filter(|&n| n != 0)
    }

    fn outer_html(&mut self, node: i64) -> Option<String> {
        let r = self
            .try_call("DOM.getOuterHTML", serde_json::json!({"nodeId": node}))
            .ok()?;
        r["outerHTML"].as_str().map(str::to_string)
    }

    /// Waits for the verdict element and returns the result section's HTML
    /// (read through the DOM, so it works with scripts disabled).
    fn wait_result(&mut self) -> String {
        let started = Instant::now();
        loop {
            if let Some(html) = self.query("#result").and_then(|n| self.outer_html(n)) {
                return html;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let body = self.query("body").and_then(|n| self.outer_html(n));
                panic!("no verdict appeared; page: {body:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", serde_json::json!({"url": url}));
        self.wait_for("#submit");
    }

    fn wait_for(&mut self, selector: &str) {
        let started = Instant::now();
        while self.query(selector).is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{selector} did not appear"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A real mouse click in the middle of the element.
    fn click(&mut self, selector: &str) {
        let node = self.query(selector).unwrap();
        let b = self.call("DOM.getBoxModel", serde_json::json!({"nodeId": node}));
        let q = b["model"]["content"].as_array().unwrap();
        let x = (q[0].as_f64().unwrap() + q[4].as_f64().unwrap()) / 2.0;
        let y = (q[1].as_f64().unwrap() + q[5].as_f64().unwrap()) / 2.0;
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                serde_json::json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    fn set_file(&mut self, path: &Path) {
        let node = self.query("#file").unwrap();
        self.call(
            "DOM.setFileInputFiles",
            serde_json::json!({"nodeId": node, "files": [path.to_str().unwrap()]}),
        );
    }
}

struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn launch_chromium(bin: &Path) -> (Browser, Cdp) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let browser = Browser {
        child,
        _profile: profile,
    };
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("chromium did not print its DevTools address");
    let hostport = url
        .strip_prefix("ws://")
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    let stream = TcpStream::connect(&hostport).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let (ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
    let mut cdp = Cdp {
        ws,
        next: 0,
        session: None,
    };
    let target = cdp.call(
        "Target.createTarget",
        serde_json::json!({"url": "about:blank"}),
    );
    let attached = cdp.call(
        "Target.attachToTarget",
        serde_json::json!({"targetId": target["targetId"], "flatten": true}),
    );
    cdp.session = Some(attached["sessionId"].as_str().unwrap().to_string());
    cdp.call("Page.enable", serde_json::json!({}));
    cdp.call("DOM.enable", serde_json::json!({}));
    (browser, cdp)
}

#[test]
fn web_page_in_headless_chromium() {
    let Some(bin) = tool("chromium", "chromium") else {
        return;
    };
    let t = Tree::new();
    let srv = Server::on_loopback(&t, &[]);
    let page = format!("http://{}/", srv.http);
    let eicar_path = t.write("upload/eicar.com", eicar());
    let zip_path = t.write("upload/nest.zip", zipped_eicar());
    let (_browser, mut cdp) = launch_chromium(&bin);

    // With JavaScript: the button, answer shown in place from /v1/scan.
    cdp.navigate(&page);
    cdp.wait_for("html[data-enhanced]");
    cdp.set_file(&zip_path);
    cdp.click("#submit");
    let result = cdp.wait_result();
    assert!(result.contains("data-verdict=\"infected\""), "{result}");
    assert!(result.contains("EICAR_Test_File"), "{result}");
    assert!(result.contains("nest.zip ! inner/eicar.com"), "{result}");
    // The SHA-256 of the upload and of the detected object inside it.
    let zip_sha = hex::encode(sha2::Sha256::digest(std::fs::read(&zip_path).unwrap()));
    assert!(result.contains(&zip_sha), "{result}");
    assert!(result.contains(EICAR_SHA256), "{result}");
    let via: String = cdp
        .eval("performance.getEntriesByType('resource').map(e => e.name).join(' ')")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        via.contains("/v1/scan"),
        "the script did not use the API: {via}"
    );

    // Drag and drop onto the drop zone.
    cdp.navigate(&page);
    cdp.wait_for("html[data-enhanced]");
    let dropped = cdp.eval(
        r#"(() => {
            const dt = new DataTransfer();
            dt.items.add(new File(["just text"], "notes.txt", {type: "text/plain"}));
            const zone = document.getElementById("drop");
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
            return true;
        })()"#,
    );
    assert_eq!(dropped, true);
    let result = cdp.wait_result();
    assert!(result.contains("data-verdict=\"clean\""), "{result}");
    assert!(result.contains("notes.txt"), "{result}");

    // Without JavaScript: the plain form post, rendered by the server.
    cdp.call(
        "Emulation.setScriptExecutionDisabled",
        serde_json::json!({"value": true}),
    );
    cdp.navigate(&page);
    cdp.set_file(&eicar_path);
    cdp.click("#submit");
    let result = cdp.wait_result();
    assert!(result.contains("data-verdict=\"infected\""), "{result}");
    assert!(result.contains("eicar.com"), "{result}");
    assert!(result.contains("EICAR_Test_File"), "{result}");
    assert!(result.contains(EICAR_SHA256), "{result}");
}
