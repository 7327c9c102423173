//! Integration tests of signed bundles and `takedown update`: the real
//! binary, bundles made by it at test time, served by a small HTTP server
//! inside the test (which can also lie about Content-Length).

mod util;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use util::*;

/// A static file server over HTTP/1.1, one connection at a time.
struct Http {
    addr: SocketAddr,
    /// Path -> bytes actually sent, while Content-Length announces all.
    cut: Arc<Mutex<HashMap<String, usize>>>,
}

impl Http {
    fn serve(root: PathBuf) -> Http {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cut: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let cuts = cut.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &root, &cuts);
            }
        });
        Http { addr, cut }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }
}

fn answer(
    mut stream: TcpStream,
    root: &Path,
    cut: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    let file = root.join(&path);
    let data = if path.contains("..") {
        None
    } else {
        std::fs::read(&file).ok()
    };
    match data {
        None => stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?,
        Some(data) => {
            let send = cut
                .lock()
                .unwrap()
                .get(&path)
                .copied()
                .unwrap_or(data.len());
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                data.len()
            )?;
            stream.write_all(&data[..send.min(data.len())])?;
        }
    }
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Both)
}

/// A tree with a signing key, its public key trusted, an EICAR to scan
/// and a directory the HTTP server publishes.
struct Setup {
    t: Tree,
    http: Http,
}

impl Setup {
    fn new() -> Setup {
        let t = Tree::new();
        let out = t.run(&["sigs", "keygen", "-o", &t.arg("key")]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(stdout(&out).contains("key id"), "{}", stdout(&out));
        std::fs::create_dir_all(t.path("keys")).unwrap();
        std::fs::copy(t.path("key.pub"), t.path("keys/publisher.pub")).unwrap();
        t.write("target/eicar.txt", eicar());
        std::fs::create_dir_all(t.path("pub")).unwrap();
        let http = Http::serve(t.path("pub"));
        Setup { t, http }
    }

    /// Writes a signature directory whose one rule, `rule`, detects EICAR
    /// (plus a README, which travels along and does not load).
    fn sources(&self, name: &str, rule: &str) -> String {
        let dir = format!("src/{name}");
        self.t.write(
            &format!("{dir}/yara/eicar.yar"),
            format!(
                "rule {rule} {{ strings: $a = \"EICAR-STANDARD-ANTIVIRUS-TEST\" condition: $a }}\n"
            ),
        );
        self.t.write(&format!("{dir}/README"), "test rules\n");
        self.t.arg(&dir)
    }

    /// `takedown sigs bundle` of a set with `rule`, as pub/NAME.
    fn bundle(&self, version: u64, rule: &str, extra: &[&str]) -> PathBuf {
        let src = self.sources(&format!("v{version}-{rule}"), rule);
        let file = self.t.path(&format!("pub/s-{version}-{rule}.tdsb"));
        let v = version.to_string();
        let mut args = vec![
            "sigs",
            "bundle",
            &src,
            "-o",
            file.to_str().unwrap(),
            "--bundle-version",
            &v,
        ];
        args.extend_from_slice(extra);
        let out = self.t.run(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        file
    }

    fn signed(&self, version: u64, rule: &str) -> PathBuf {
        let key = self.t.arg("key");
        self.bundle(version, rule, &["--key", &key])
    }

    /// Names `file` in pub/latest.
    fn publish(&self, file: &Path) {
        let name = file.file_name().unwrap().to_str().unwrap();
        std::fs::write(self.t.path("pub/latest"), format!("{name}\n")).unwrap();
    }

    fn update(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["update"];
        all.extend_from_slice(args);
        self.t.run(&all)
    }

    /// The detections of a scan of the EICAR with the installed set only.
    fn detections(&self) -> Vec<String> {
        let out = self
            .t
            .json(&["--no-builtin", "--no-summary", &self.t.arg("target")]);
        assert!(
            code(&out) <= 1,
            "scan failed: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        detection_names(&out)
    }

    fn current(&self) -> Option<PathBuf> {
        std::fs::read_link(self.t.path("sigs/current")).ok()
    }

    /// Every file of the installed sets, with content, to compare before
    /// and after a refused update.
    fn snapshot(&self) -> Vec<(PathBuf, Option<Vec<u8>>)> {
        let mut v = Vec::new();
        snap(&self.t.path("sigs"), &mut v);
        v.retain(|(p, _)| !p.ends_with("lock"));
        v.sort();
        v
    }
}

fn snap(dir: &Path, out: &mut Vec<(PathBuf, Option<Vec<u8>>)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let ty = e.file_type().unwrap();
        if ty.is_symlink() {
            out.push((
                p.clone(),
                Some(
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                ),
            ));
        } else if ty.is_dir() {
            out.push((p.clone(), None));
            snap(&p, out);
        } else {
            out.push((p.clone(), Some(std::fs::read(&p).unwrap())));
        }
    }
}

#[test]
fn update_over_http_installs_switches_and_rolls_back() {
    let s = Setup::new();
    let out = s.update(&["--status"]);
    assert!(
        stdout(&out).contains("current: none installed"),
        "{}",
        stdout(&out)
    );

    let v1 = s.signed(1, "Bundle_V1");
    let out = s.t.run(&["sigs", "verify", v1.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("version 1,") && text.contains("2 files") && text.contains("signed by key"),
        "{text}"
    );
    assert!(text.trim_end().ends_with(": OK"), "{text}");

    s.publish(&v1);
    let out = s.update(&["--from", &s.http.url("")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("installed version 1"),
        "{}",
        stdout(&out)
    );
    assert_eq!(s.detections(), vec!["Bundle_V1"]);
    // The built-in pack still loads beside the installed set.
    let out = s.t.json(&["--no-summary", &s.t.arg("target")]);
    let names = detection_names(&out);
    assert!(
        names.contains(&"Bundle_V1".to_string()) && names.len() > 1,
        "{names:?}"
    );
    // -s replaces the installed set; so does --no-installed.
    let other = s.sources("other", "Other_Rule");
    let out =
        s.t.json(&["--no-builtin", "-s", &other, &s.t.arg("target")]);
    assert_eq!(detection_names(&out), vec!["Other_Rule"]);
    let out = s.t.json(&["--no-installed", &s.t.arg("target")]);
    assert!(!detection_names(&out).contains(&"Bundle_V1".to_string()));

    // Same version again: nothing to do.
    let out = s.update(&["--from", &s.http.url("")]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("already up to date: version 1"),
        "{}",
        stdout(&out)
    );

    // A direct bundle URL.
    let v2 = s.signed(2, "Bundle_V2");
    let name = v2.file_name().unwrap().to_str().unwrap().to_string();
    let out = s.update(&["--from", &s.http.url(&name)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("kept version 1"), "{}", stdout(&out));
    assert_eq!(s.detections(), vec!["Bundle_V2"]);
    let out = s.update(&["--status"]);
    let text = stdout(&out);
    assert!(
        text.contains("current: version 2") && text.contains("previous: version 1"),
        "{text}"
    );

    let out = s.update(&["--rollback"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("from version 2 to version 1"),
        "{}",
        stdout(&out)
    );
    assert_eq!(s.detections(), vec!["Bundle_V1"]);
    // The rolled-back version is not reinstalled by the next update...
    s.publish(&v2);
    let out = s.update(&["--from", &s.http.url("")]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("--rollback"), "{}", stderr(&out));
    assert_eq!(s.detections(), vec!["Bundle_V1"]);
    // ...and a second rollback switches forward again.
    let out = s.update(&["--rollback"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.detections(), vec!["Bundle_V2"]);

    // A third set: the oldest is no longer kept.
    let v3 = s.signed(3, "Bundle_V3");
    s.publish(&v3);
    let out = s.update(&["--from", &s.http.url("")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.detections(), vec!["Bundle_V3"]);
    assert!(!s.t.path("sigs/bundles/1").exists());
    assert!(s.t.path("sigs/bundles/2").is_dir());
}

/// Each refusal: exit 1 (2 for a failed download), the reason on stderr,
/// and the installed set byte for byte as it was, still scanning.
fn assert_refused(s: &Setup, args: &[&str], code_wanted: i32, reason: &str) {
    let before = s.snapshot();
    let out = s.update(args);
    let err = stderr(&out);
    assert_eq!(code(&out), code_wanted, "{args:?}: {err}");
    assert!(
        err.contains(reason),
        "{args:?}: wanted {reason:?} in: {err}"
    );
    assert!(
        err.contains("the installed set (version 1) is unchanged"),
        "{args:?}: {err}"
    );
    assert_eq!(s.snapshot(), before, "{args:?} changed the installed set");
    assert_eq!(s.current(), Some(PathBuf::from("bundles/1")));
    assert_eq!(s.detections(), vec!["Bundle_V1"]);
}

#[test]
fn bad_bundles_are_refused_and_the_installed_set_stays() {
    let s = Setup::new();
    let v1 = s.signed(1, "Bundle_V1");
    s.publish(&v1);
    let base = s.http.url("");
    assert_eq!(code(&s.update(&["--from", &base])), 0);

    // Tampered: one byte of a rule changed after signing.
    let tampered = s.signed(2, "Bundle_V2");
    let mut bytes = std::fs::read(&tampered).unwrap();
    let at = bytes.windows(9).rposition(|w| w == b"Bundle_V2").unwrap();
    bytes[at + 8] = b'X';
    std::fs::write(&tampered, bytes).unwrap();
    s.publish(&tampered);
    assert_refused(&s, &["--from", &base], 1, "does not match its SHA-256");

    // Tampered manifest: the version raised after signing.
    let raised = s.signed(3, "Bundle_V3");
    let mut bytes = std::fs::read(&raised).unwrap();
    let at = bytes
        .windows(11)
        .position(|w| w == b"\"version\":3")
        .unwrap();
    bytes[at + 10] = b'9';
    std::fs::write(&raised, bytes).unwrap();
    s.publish(&raised);
    assert_refused(&s, &["--from", &base], 1, "bad signature");

    // Truncated download: the server announces every byte and closes
    // half-way.
    let v4 = s.signed(4, "Bundle_V4");
    s.publish(&v4);
    let name = v4.file_name().unwrap().to_str().unwrap().to_string();
    let len = std::fs::metadata(&v4).unwrap().len() as usize;
    s.http.cut.lock().unwrap().insert(name.clone(), len - 20);
    assert_refused(&s, &["--from", &base], 1, "truncated");
    // ... or cuts inside the manifest.
    s.http.cut.lock().unwrap().insert(name.clone(), 40);
    assert_refused(
        &s,
        &["--from", &base],
        1,
        "truncated: the bundle ends inside the manifest",
    );
    let out = s.update(&["--from", &base]);
    assert!(
        stderr(&out).contains(&format!(
            "download of {} failed after 40 bytes",
            s.http.url(&name)
        )),
        "{}",
        stderr(&out)
    );
    s.http.cut.lock().unwrap().clear();

    // A truncated file, served honestly.
    let short = s.t.path("pub/short.tdsb");
    std::fs::write(&short, &std::fs::read(&v4).unwrap()[..len - 1]).unwrap();
    s.publish(&short);
    assert_refused(
        &s,
        &["--from", &base],
        1,
        "truncated: the bundle ends inside \"yara/eicar.yar\"",
    );
    // An extended one.
    let mut longer = std::fs::read(&v4).unwrap();
    longer.extend_from_slice(b"more");
    std::fs::write(s.t.path("pub/long.tdsb"), longer).unwrap();
    s.publish(&s.t.path("pub/long.tdsb"));
    assert_refused(&s, &["--from", &base], 1, "extended");

    // Unsigned: refused, unless --allow-unsigned (tested last, since it
    // installs).
    let unsigned = s.bundle(5, "Bundle_V5", &[]);
    s.publish(&unsigned);
    assert_refused(
        &s,
        &["--from", &base],
        1,
        "not signed (--allow-unsigned accepts it)",
    );

    // Signed by a key that is not trusted.
    let out = s.t.run(&["sigs", "keygen", "-o", &s.t.arg("stranger")]);
    assert_eq!(code(&out), 0);
    let src = s.sources("stranger", "Stranger");
    let stranger = s.t.path("pub/stranger.tdsb");
    let out = s.t.run(&[
        "sigs",
        "bundle",
        &src,
        "-o",
        stranger.to_str().unwrap(),
        "--key",
        &s.t.arg("stranger"),
        "--bundle-version",
        "6",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    s.publish(&stranger);
    assert_refused(&s, &["--from", &base], 1, "which is not trusted");

    // Rules that do not compile (bundled with --allow-problems).
    let src = s.t.path("src/broken");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("bad.yar"),
        "rule Broken { condition: nonsense( }\n",
    )
    .unwrap();
    std::fs::write(src.join("good.yar"), "rule Good { condition: false }\n").unwrap();
    let broken = s.t.path("pub/broken.tdsb");
    let out = s.t.run(&[
        "sigs",
        "bundle",
        src.to_str().unwrap(),
        "-o",
        broken.to_str().unwrap(),
        "--key",
        &s.t.arg("key"),
        "--bundle-version",
        "7",
    ]);
    assert_eq!(code(&out), 2, "bundling a broken set is refused by default");
    assert!(stderr(&out).contains("do not load"), "{}", stderr(&out));
    let out = s.t.run(&[
        "sigs",
        "bundle",
        src.to_str().unwrap(),
        "-o",
        broken.to_str().unwrap(),
        "--key",
        &s.t.arg("key"),
        "--bundle-version",
        "7",
        "--allow-problems",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    s.publish(&broken);
    assert_refused(
        &s,
        &["--from", &base],
        1,
        "the signatures in the bundle do not load",
    );

    // A downgrade.
    let v10 = s.signed(10, "Bundle_V10");
    s.publish(&v10);
    assert_eq!(code(&s.update(&["--from", &base])), 0);
    assert_eq!(s.detections(), vec!["Bundle_V10"]);
    let v9 = s.signed(9, "Bundle_V9");
    s.publish(&v9);
    let out = s.update(&["--from", &base]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out)
            .contains("refusing a downgrade: the bundle is version 9, and version 10 is installed"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("the installed set (version 10) is unchanged"));
    assert_eq!(s.detections(), vec!["Bundle_V10"]);

    // Unsigned with --allow-unsigned installs.
    let v11 = s.bundle(11, "Bundle_V11", &[]);
    s.publish(&v11);
    let out = s.update(&["--from", &base, "--allow-unsigned"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("unsigned"), "{}", stdout(&out));
    assert_eq!(s.detections(), vec!["Bundle_V11"]);
}

#[test]
fn update_from_a_directory_takes_the_newest() {
    let s = Setup::new();
    let dir = s.t.path("pub");
    s.signed(3, "Bundle_V3");
    s.signed(12, "Bundle_V12");
    s.signed(7, "Bundle_V7");
    std::fs::write(dir.join("junk.tdsb"), "not a bundle").unwrap();
    let out = s.update(&["--from", dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("installed version 12"),
        "{}",
        stdout(&out)
    );
    assert_eq!(s.detections(), vec!["Bundle_V12"]);
    // A bundle file directly; older: refused.
    let v3 = dir.join("s-3-Bundle_V3.tdsb");
    let out = s.update(&["--from", v3.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("refusing a downgrade"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn verify_reports_and_exit_codes() {
    let s = Setup::new();
    let v1 = s.signed(1, "Bundle_V1");
    let p = v1.to_str().unwrap();
    let out = s.t.run(&["sigs", "verify", p, "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["version"], 1);
    assert_eq!(v["files"], 2);

    // Another trust: refused, with the bundle's claims still shown.
    let out = s.t.run(&["sigs", "keygen", "-o", &s.t.arg("other")]);
    assert_eq!(code(&out), 0);
    let out =
        s.t.run(&["sigs", "verify", p, "--trusted-key", &s.t.arg("other.pub")]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(
        text.contains("version 1,") && text.contains("REFUSED") && text.contains("not trusted"),
        "{text}"
    );

    let mut bytes = std::fs::read(&v1).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&v1, bytes).unwrap();
    let out = s.t.run(&["sigs", "verify", p]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("REFUSED: \"yara/eicar.yar\" does not match its SHA-256"),
        "{}",
        stdout(&out)
    );

    let out = s.t.run(&["sigs", "verify", &s.t.arg("missing.tdsb")]);
    assert_eq!(code(&out), 2);
    std::fs::write(s.t.path("x.tdsb"), "hello").unwrap();
    let out = s.t.run(&["sigs", "verify", &s.t.arg("x.tdsb")]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("not a takedown signature bundle"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn one_update_at_a_time() {
    let s = Setup::new();
    std::fs::create_dir_all(s.t.path("sigs")).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(s.t.path("sigs/lock"))
        .unwrap();
    lock.lock().unwrap();
    let v1 = s.signed(1, "Bundle_V1");
    let out = s.update(&["--from", v1.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("another update or rollback is running"),
        "{}",
        stderr(&out)
    );
    drop(lock);
    assert_eq!(code(&s.update(&["--from", v1.to_str().unwrap()])), 0);
}

/// `serve` loads the installed set, through the `current` link, so a
/// reload after an update serves the new one.
#[test]
fn serve_loads_the_installed_set_and_reloads_into_an_update() {
    let s = Setup::new();
    let v1 = s.signed(1, "Bundle_V1");
    assert_eq!(code(&s.update(&["--from", v1.to_str().unwrap()])), 0);

    let ready = s.t.path("ready.json");
    let log = s.t.path("serve.log");
    let mut c = s.t.cmd();
    c.args([
        "serve",
        "--no-builtin",
        "--http",
        "127.0.0.1:0",
        "--no-clamd",
        "--ready-file",
    ])
    .arg(&ready)
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap());
    let mut child = c.spawn().unwrap();
    let started = Instant::now();
    let addr: SocketAddr = loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            break v["http"][0].as_str().unwrap().parse().unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "serve exited with {status}: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let scan = || {
        let mut conn = TcpStream::connect(addr).unwrap();
        let body = eicar();
        write!(
            conn,
            "POST /v1/scan HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        conn.write_all(&body).unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        answer
    };
    let first = scan();
    assert!(first.contains("Bundle_V1"), "{first}");

    let v2 = s.signed(2, "Bundle_V2");
    assert_eq!(code(&s.update(&["--from", v2.to_str().unwrap()])), 0);
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let started = Instant::now();
    loop {
        let answer = scan();
        if answer.contains("Bundle_V2") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no reload into version 2: {answer}\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

/// A `current` link not made by `takedown update` stops a scan that would
/// load it, rather than scanning silently without it.
#[test]
fn a_foreign_current_link_is_an_error() {
    let t = Tree::new();
    std::fs::create_dir_all(t.path("sigs")).unwrap();
    std::os::unix::fs::symlink("/etc", t.path("sigs/current")).unwrap();
    t.write("x.txt", "clean");
    let out = t.json(&[&t.arg("x.txt")]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not to a set this takedown installed")
            && stderr(&out).contains("--no-installed"),
        "{}",
        stderr(&out)
    );
    let out = t.json(&["--no-installed", &t.arg("x.txt")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
