//! The TAXII 2.1 client against the reference server `medallion` (push,
//! paged pull, resume, a kill at every step of a pull, wrong credentials),
//! and against a fake server in the test for the error paths (garbage,
//! wrong shapes, huge answers, 429 with Retry-After, 5xx, 413 splitting,
//! slow answers, nobody listening).

mod common;

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use takedown_intel::taxii::{
    self, Auth, Client, ClientOptions, Error, PullOptions, PullSummary, PushOptions, PushReport,
};

const USER: &str = "partner";
const PASSWORD: &str = "correct horse";

// ---------------------------------------------------------------------
// Test data.

/// A fresh UUID (v5 over the time and a counter: unique per run).
fn fresh_uuid() -> uuid::Uuid {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{nanos}-{n}-{}", std::process::id()).as_bytes(),
    )
}

/// `n` valid STIX 2.1 indicators with fresh ids.
fn indicators(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let id = fresh_uuid();
            let hash = format!("{:064x}", (id.as_u128() ^ i as u128));
            json!({
                "type": "indicator",
                "spec_version": "2.1",
                "id": format!("indicator--{id}"),
                "created": "2024-03-01T10:00:00.000Z",
                "modified": "2024-03-01T10:00:00.000Z",
                "name": format!("test indicator {i}"),
                "indicator_types": ["malicious-activity"],
                "pattern": format!("[file:hashes.'SHA-256' = '{hash}']"),
                "pattern_type": "stix",
                "valid_from": "2024-03-01T10:00:00Z"
            })
        })
        .collect()
}

fn write_bundle(dir: &Path, name: &str, objects: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let bundle = json!({
        "type": "bundle",
        "id": format!("bundle--{}", fresh_uuid()),
        "objects": objects,
    });
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    path
}

fn ids(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every object id in the page files of a pull directory, with how many
/// times it occurs; checks each file is a STIX bundle and no temporary
/// file is left.
fn pulled(dir: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
        if name == taxii::STATE_FILE {
            continue;
        }
        let bundle: Value =
            serde_json::from_slice(&std::fs::read(dir.join(&name)).unwrap()).unwrap();
        assert_eq!(bundle["type"], "bundle", "{name}");
        assert!(
            bundle["id"].as_str().unwrap().starts_with("bundle--"),
            "{name}"
        );
        let objects = bundle["objects"].as_array().unwrap();
        assert!(!objects.is_empty(), "{name}: an empty page file");
        for o in objects {
            *counts
                .entry(o["id"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    counts
}

fn assert_exactly_once(dir: &Path, expected: &BTreeSet<String>) {
    let counts = pulled(dir);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "written more than once: {twice:?}");
    let got: BTreeSet<String> = counts.into_keys().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, unexpected {extra:?}"
    );
}

fn page_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != taxii::STATE_FILE)
        .collect();
    names.sort();
    names
}

/// Page files are numbered from 1 without a gap.
fn assert_contiguous(dir: &Path) {
    let files = page_files(dir);
    let expected: Vec<String> = (1..=files.len() as u64)
        .map(taxii::page_file_name)
        .collect();
    assert_eq!(files, expected);
}

fn client(auth: Auth) -> Client {
    Client::new(ClientOptions {
        auth,
        timeout: Duration::from_secs(20),
        retries: 2,
        ..ClientOptions::default()
    })
    .unwrap()
}

fn basic() -> Auth {
    Auth::Basic {
        user: USER.to_string(),
        password: PASSWORD.to_string(),
    }
}

// ---------------------------------------------------------------------
// medallion.

/// A medallion server (memory backend) on a free loopback port, with a
/// writable collection and a read-only one; killed when dropped.
struct Medallion {
    child: Child,
    port: u16,
    collection: String,
    read_only: String,
    _dir: tempfile::TempDir,
}

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Medallion {
    fn start() -> Option<Medallion> {
        let py = common::python()?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let collection = fresh_uuid().to_string();
        let read_only = fresh_uuid().to_string();
        let collection_entry = |id: &str, title: &str, write: bool| {
            json!({
                "id": id, "title": title, "description": "takedown test",
                "can_read": true, "can_write": write,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": [], "manifest": []
            })
        };
        let data = json!({
            "/discovery": {
                "title": "takedown test server",
                "default": format!("{base}/api1/"),
                "api_roots": [format!("{base}/api1/")]
            },
            "api1": {
                "information": {
                    "title": "test root",
                    "versions": ["application/taxii+json;version=2.1"],
                    "max_content_length": 2_000_000
                },
                "status": [],
                "collections": [
                    collection_entry(&collection, "Takedown Sightings", true),
                    collection_entry(&read_only, "Read Only", false)
                ]
            }
        });
        let data_path = dir.path().join("data.json");
        std::fs::write(&data_path, serde_json::to_vec(&data).unwrap()).unwrap();
        let config = json!({
            "backend": {
                "module": "medallion.backends.memory_backend",
                "module_class": "MemoryBackend",
                "filename": data_path,
            },
            "users": { USER: PASSWORD },
            "taxii": { "max_page_size": 100 }
        });
        let config_path = dir.path().join("config.json");
        std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
        let child = Command::new(common::venv_tool(&py, "medallion"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start medallion");
        let server = Medallion {
            child,
            port,
            collection,
            read_only,
            _dir: dir,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "medallion did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    fn discovery(&self) -> String {
        format!("http://127.0.0.1:{}/taxii2/", self.port)
    }

    fn api_root(&self) -> String {
        format!("http://127.0.0.1:{}/api1/", self.port)
    }

    fn push(&self, dir: &Path, objects: &[Value], envelope: usize) -> PushReport {
        let file = write_bundle(dir, &format!("push-{}.json", fresh_uuid()), objects);
        let mut opts = PushOptions::new(self.api_root(), self.collection.clone(), vec![file]);
        opts.max_objects = envelope;
        let mut envelopes = 0;
        let report = taxii::push(&client(basic()), &opts, |_| envelopes += 1).unwrap();
        assert_eq!(report.envelopes, envelopes);
        report
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn pull_opts(url: String, collection: &str, dir: &Path, limit: u32) -> PullOptions {
    PullOptions {
        url,
        collection: collection.to_string(),
        dir: dir.to_path_buf(),
        added_after: None,
        limit: Some(limit),
    }
}

fn pull(opts: &PullOptions) -> PullSummary {
    let mut pages = 0;
    let summary = taxii::pull(&client(basic()), opts, |p| {
        pages += 1;
        assert!(p.file.exists());
        assert!(p.objects > 0);
    })
    .unwrap();
    assert_eq!(summary.files.len(), pages);
    summary
}

#[test]
fn push_then_pull_in_pages_then_resume_with_only_the_new_objects() {
    let Some(server) = Medallion::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let first = indicators(120);
    let report = server.push(work.path(), &first, 25);
    assert!(report.all_succeeded(), "{report:?}");
    assert_eq!((report.objects, report.succeeded), (120, 120));
    assert_eq!(report.envelopes, 5, "envelopes of at most 25 objects");

    // By title, through the discovery URL, 30 a page: each envelope's
    // objects share a date_added, so pages end inside such groups.
    let out = work.path().join("pulled");
    let opts = pull_opts(server.discovery(), "Takedown Sightings", &out, 30);
    let summary = pull(&opts);
    assert!(!summary.resumed);
    assert_eq!(summary.objects, 120);
    assert_eq!(summary.files.len(), 4, "{summary:?}");
    assert!(summary.collection_url.contains(&server.collection));
    assert_exactly_once(&out, &ids(&first));
    assert_eq!(
        page_files(&out),
        ["000001.json", "000002.json", "000003.json", "000004.json"]
    );

    // The same objects pushed again add nothing new (medallion counts
    // them as failures: id and version already present).
    let again = server.push(work.path(), &first[..10], 25);
    assert_eq!(again.failed, 10, "{again:?}");

    // Nothing new: nothing written.
    let summary = pull(&opts);
    assert!(summary.resumed);
    assert_eq!(summary.objects, 0, "{summary:?}");
    assert!(summary.files.is_empty());

    // New objects: only they come, into the next page files. By id,
    // through the API root URL this time.
    let second = indicators(45);
    assert!(server.push(work.path(), &second, 20).all_succeeded());
    let opts = pull_opts(server.api_root(), &server.collection, &out, 30);
    let summary = pull(&opts);
    assert_eq!(summary.objects, 45, "{summary:?}");
    assert_eq!(summary.total_objects, 165);
    // The last group of the first push comes back with the new objects
    // (added_after is just before its date) and is dropped.
    assert!(summary.duplicates > 0, "{summary:?}");
    let all: BTreeSet<String> = ids(&first).into_iter().chain(ids(&second)).collect();
    assert_exactly_once(&out, &all);
    // New page files follow the old ones (how many depends on where the
    // dropped duplicates fall).
    assert_contiguous(&out);
    assert_eq!(page_files(&out).len(), 4 + summary.files.len());

    // The pages pass the reference parser.
    if let Some(py) = common::python() {
        let out_dir = out.to_str().unwrap();
        let n = common::run_python(
            &py,
            "import sys, os, stix2\n\
             n = 0\n\
             for f in sorted(os.listdir(sys.argv[1])):\n\
             \x20   if f.endswith('.json') and not f.startswith('.'):\n\
             \x20       b = stix2.parse(open(os.path.join(sys.argv[1], f)).read(), allow_custom=False)\n\
             \x20       n += len(b.objects)\n\
             print(n)",
            &[out_dir],
        );
        assert_eq!(n.trim(), "165");
    }

    // Another collection into the same directory: refused.
    let err = taxii::pull(
        &client(basic()),
        &pull_opts(server.api_root(), &server.read_only, &out, 30),
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, Error::State { .. }), "{err}");
    assert!(err.to_string().contains("another directory"), "{err}");
}

#[test]
fn wrong_password_unknown_collection_and_read_only_are_clear_errors() {
    let Some(server) = Medallion::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let wrong = client(Auth::Basic {
        user: USER.to_string(),
        password: "wrong".to_string(),
    });
    let err = taxii::pull(
        &wrong,
        &pull_opts(server.discovery(), &server.collection, work.path(), 10),
        |_| {},
    )
    .unwrap_err();
    assert_eq!(err.http_status(), Some(401), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&server.discovery()) && text.contains("credentials"),
        "{text}"
    );

    let err = client(basic())
        .find_collection(&server.api_root(), "no such thing")
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no such thing") && text.contains("Takedown Sightings"),
        "{text}"
    );

    let file = write_bundle(work.path(), "b.json", &indicators(2));
    let opts = PushOptions::new(server.api_root(), "Read Only", vec![file]);
    let err = taxii::push(&client(basic()), &opts, |_| {}).unwrap_err();
    assert!(err.to_string().contains("can_write is false"), "{err}");
}

#[test]
fn push_reports_bad_files_and_goes_on() {
    let Some(server) = Medallion::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let good = write_bundle(work.path(), "good.json", &indicators(7));
    let not_json = work.path().join("garbage.json");
    std::fs::write(&not_json, b"\x00\x01 not json").unwrap();
    let not_bundle = work.path().join("object.json");
    std::fs::write(&not_bundle, br#"{"type":"indicator","id":"x"}"#).unwrap();
    let missing = work.path().join("missing.json");
    let opts = PushOptions::new(
        server.api_root(),
        server.collection.clone(),
        vec![not_json.clone(), good, not_bundle.clone(), missing.clone()],
    );
    let report = taxii::push(&client(basic()), &opts, |_| {}).unwrap();
    assert_eq!(report.succeeded, 7, "{report:?}");
    assert_eq!(report.failed, 3, "{report:?}");
    let files: Vec<&PathBuf> = report.failures.iter().map(|f| &f.file).collect();
    assert_eq!(files, [&not_json, &not_bundle, &missing]);
    assert!(report.failures[0].reason.contains("not JSON"));
    assert!(report.failures[1].reason.contains("not a STIX bundle"));
    assert!(!report.all_succeeded());
}

// ---------------------------------------------------------------------
// A kill at each step of a pull. The pull runs in a child process (this
// test binary again, running the ignored `pull_child` test), which aborts
// at the fault point; a second run must complete the directory with every
// object exactly once.

#[test]
#[ignore = "run as a child process by pull_survives_a_kill_at_every_step"]
fn pull_child() {
    let get = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"));
    let opts = pull_opts(
        get("TAXII_CHILD_URL"),
        &get("TAXII_CHILD_COLLECTION"),
        Path::new(&get("TAXII_CHILD_DIR")),
        get("TAXII_CHILD_LIMIT").parse().unwrap(),
    );
    let summary = taxii::pull(&client(basic()), &opts, |_| {}).unwrap();
    println!("child pulled {} objects", summary.objects);
}

fn run_child(server: &Medallion, dir: &Path, fault: Option<&str>) -> std::process::ExitStatus {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "pull_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("TAXII_CHILD_URL", server.api_root())
    .env("TAXII_CHILD_COLLECTION", &server.collection)
    .env("TAXII_CHILD_DIR", dir)
    .env("TAXII_CHILD_LIMIT", "12")
    .env_remove("TAKEDOWN_FAULT")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Some(f) = fault {
        cmd.env("TAKEDOWN_FAULT", f);
    }
    cmd.status().unwrap()
}

#[test]
fn pull_survives_a_kill_at_every_step() {
    let Some(server) = Medallion::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    // Three pushes (three date_added groups of 20) read 12 a page: kills
    // fall inside groups and at their edges.
    let mut all = BTreeSet::new();
    for _ in 0..3 {
        let objects = indicators(20);
        all.extend(ids(&objects));
        assert!(server.push(work.path(), &objects, 20).all_succeeded());
    }
    for fault in [
        "taxii-before-rename#1",
        "taxii-before-rename#3",
        "taxii-after-page#1",
        "taxii-after-page#2",
        "taxii-after-page#5",
        "taxii-after-state#2",
        "taxii-after-state#5",
    ] {
        let dir = work.path().join(fault.replace('#', "-"));
        let status = run_child(&server, &dir, Some(fault));
        assert!(!status.success(), "{fault}: the child was not killed");
        let before = page_files(&dir)
            .into_iter()
            .filter(|n| !n.ends_with(".tmp"))
            .count();
        let status = run_child(&server, &dir, None);
        assert!(status.success(), "{fault}: the rerun failed");
        assert_exactly_once(&dir, &all);
        assert_contiguous(&dir);
        let files = page_files(&dir);
        assert!(files.len() >= before, "{fault}: {files:?}");
        // A third run: nothing more.
        assert!(run_child(&server, &dir, None).success());
        assert_eq!(page_files(&dir), files, "{fault}");
        assert_exactly_once(&dir, &all);
    }
}

// ---------------------------------------------------------------------
// A fake server for the error paths.

#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    delay: Duration,
}

fn reply(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response {
        status,
        headers: vec![("Content-Type", taxii::MEDIA_TYPE.to_string())],
        body: body.into(),
        delay: Duration::ZERO,
    }
}

type Handler = dyn Fn(&Request, usize) -> Response + Send + Sync;

/// Answers each request with `handler(request, index)`, one connection
/// per request; every request is kept for the assertions.
struct FakeServer {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeServer {
    fn start(handler: impl Fn(&Request, usize) -> Response + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = handler.clone();
                let seen = seen.clone();
                std::thread::spawn(move || serve_one(stream, &*handler, &seen));
            }
        });
        FakeServer { base, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve_one(stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let request = Request {
        method,
        path,
        headers,
        body,
    };
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(request.clone());
        seen.len() - 1
    };
    let response = handler(&request, index);
    std::thread::sleep(response.delay);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.body.len()
    );
    for (k, v) in &response.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&response.body);
    let _ = out.flush();
}

fn fast_client(retries: u32) -> Client {
    Client::new(ClientOptions {
        auth: Auth::Bearer("t0ken".to_string()),
        timeout: Duration::from_secs(1),
        retries,
        max_response_bytes: 4096,
        ..ClientOptions::default()
    })
    .unwrap()
}

const API_ROOT: &str = r#"{"title":"fake","versions":["application/taxii+json;version=2.1"],"max_content_length":100000}"#;

/// An API root with one collection `c1`, and `objects` answered by
/// `objects(request, index)`.
fn taxii_server(
    objects: impl Fn(&Request, usize) -> Response + Send + Sync + 'static,
) -> FakeServer {
    FakeServer::start(move |req, i| {
        let path = req.path.split('?').next().unwrap_or_default();
        match path {
            "/api/" => reply(200, API_ROOT),
            "/api/collections/" => reply(
                200,
                r#"{"collections":[{"id":"c1","title":"One","can_read":true,"can_write":true}]}"#,
            ),
            _ => objects(req, i),
        }
    })
}

#[test]
fn every_request_carries_the_taxii_media_type_and_the_credentials() {
    let server = taxii_server(|_, _| reply(200, r#"{"objects":[]}"#));
    let page = fast_client(0)
        .get_objects(
            &format!("{}/api/collections/c1/", server.base),
            Some("2024-01-01T00:00:00Z"),
            Some("a b&c"),
            Some(7),
            &[("match[type]", "indicator")],
        )
        .unwrap();
    assert!(page.objects.is_empty() && !page.more);
    let req = &server.requests()[0];
    assert_eq!(req.method, "GET");
    assert_eq!(req.header("accept"), Some(taxii::MEDIA_TYPE));
    assert_eq!(req.header("authorization"), Some("Bearer t0ken"));
    let path = &req.path;
    assert!(path.starts_with("/api/collections/c1/objects/?"), "{path}");
    assert!(path.contains("limit=7") && path.contains("added_after=2024-01-01T00%3A00%3A00Z"));
    assert!(
        path.contains("next=a+b%26c") || path.contains("next=a%20b%26c"),
        "{path}"
    );

    let server = taxii_server(|_, _| reply(202, r#"{"id":"s1","status":"complete"}"#));
    let basic = Client::new(ClientOptions {
        auth: Auth::Basic {
            user: "u".into(),
            password: "p".into(),
        },
        ..ClientOptions::default()
    })
    .unwrap();
    let status = basic
        .add_objects(
            &format!("{}/api/collections/c1/", server.base),
            b"{\"objects\":[]}",
        )
        .unwrap();
    assert_eq!(status.id, "s1");
    let req = &server.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some(taxii::MEDIA_TYPE));
    assert_eq!(req.header("authorization"), Some("Basic dTpw"));
}

#[test]
fn garbage_wrong_shapes_and_huge_answers_are_clear_errors() {
    let cases: [(&str, &[u8], &str); 5] = [
        ("html", b"<html>maintenance</html>", "not JSON"),
        (
            "objects",
            br#"{"objects":"lots"}"#,
            "`objects` is not a list",
        ),
        (
            "more",
            br#"{"objects":[],"more":"yes"}"#,
            "`more` is not true or false",
        ),
        ("array", b"[1,2,3]", "not a JSON object"),
        ("deep", &[b'['; 3000], "not JSON"),
    ];
    for (name, body, expected) in cases {
        let body = body.to_vec();
        let server = taxii_server(move |_, _| reply(200, body.clone()));
        let url = format!("{}/api/collections/c1/", server.base);
        let err = fast_client(2)
            .get_objects(&url, None, None, None, &[])
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::BadResponse { .. }), "{name}: {text}");
        assert!(text.contains(expected), "{name}: {text}");
        assert!(text.contains(&format!("{url}objects/")), "{name}: {text}");
        assert_eq!(
            server.requests().len(),
            1,
            "{name}: a bad answer is not retried"
        );
    }

    let huge = format!(r#"{{"objects":[{{"id":"{}"}}]}}"#, "x".repeat(10_000));
    let server = taxii_server(move |_, _| reply(200, huge.clone()));
    let err = fast_client(0)
        .get_objects(
            &format!("{}/api/collections/c1/", server.base),
            None,
            None,
            None,
            &[],
        )
        .unwrap_err();
    assert!(err.to_string().contains("larger than 4096 bytes"), "{err}");

    let server = FakeServer::start(|_, _| reply(200, r#"{"title":"who knows"}"#));
    let err = fast_client(0).resolve_api_root(&server.base).unwrap_err();
    assert!(
        err.to_string()
            .contains("neither a TAXII 2.1 discovery resource nor an API root"),
        "{err}"
    );
}

#[test]
fn too_many_requests_waits_as_told_then_succeeds() {
    let server = taxii_server(|_, i| {
        if i == 0 {
            let mut r = reply(429, r#"{"title":"slow down"}"#);
            r.headers.push(("Retry-After", "1".to_string()));
            r
        } else {
            let mut r = reply(200, r#"{"objects":[{"id":"indicator--1"}],"more":false}"#);
            r.headers.push((
                "X-TAXII-Date-Added-Last",
                "2024-05-01T10:00:00.123456Z".to_string(),
            ));
            r
        }
    });
    let started = Instant::now();
    let page = fast_client(3)
        .get_objects(
            &format!("{}/api/collections/c1/", server.base),
            None,
            None,
            None,
            &[],
        )
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After ignored"
    );
    assert_eq!(page.objects.len(), 1);
    assert_eq!(
        page.date_added_last.as_deref(),
        Some("2024-05-01T10:00:00.123456Z")
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn server_errors_are_retried_client_errors_are_not() {
    let server = taxii_server(|_, i| {
        if i < 2 {
            reply(503, "busy")
        } else {
            reply(200, r#"{"objects":[]}"#)
        }
    });
    let url = format!("{}/api/collections/c1/", server.base);
    fast_client(2)
        .get_objects(&url, None, None, None, &[])
        .unwrap();
    assert_eq!(server.requests().len(), 3);

    let server =
        taxii_server(|_, _| reply(500, r#"{"title":"InternalError","description":"boom"}"#));
    let url = format!("{}/api/collections/c1/", server.base);
    let err = fast_client(1)
        .get_objects(&url, None, None, None, &[])
        .unwrap_err();
    assert_eq!(err.http_status(), Some(500));
    assert!(err.to_string().contains("\"boom\""), "{err}");
    assert_eq!(server.requests().len(), 2, "one try and one retry");

    for status in [400, 401, 403, 404, 406] {
        let server = taxii_server(move |_, _| reply(status, "no"));
        let url = format!("{}/api/collections/c1/", server.base);
        let err = fast_client(3)
            .get_objects(&url, None, None, None, &[])
            .unwrap_err();
        assert_eq!(err.http_status(), Some(status));
        assert_eq!(server.requests().len(), 1, "{status} retried");
    }
}

#[test]
fn a_redirect_is_named_not_followed() {
    // Following it would drop the credentials and end in a puzzling 401.
    let server = FakeServer::start(|_, _| {
        let mut r = reply(301, "");
        r.headers
            .push(("Location", "https://elsewhere.example/taxii2/".to_string()));
        r
    });
    let err = fast_client(2).resolve_api_root(&server.base).unwrap_err();
    assert_eq!(err.http_status(), Some(301));
    assert!(
        err.to_string()
            .contains("redirected to \"https://elsewhere.example/taxii2/\""),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn slow_server_times_out_with_the_url() {
    let server = taxii_server(|_, _| {
        let mut r = reply(200, r#"{"objects":[]}"#);
        r.delay = Duration::from_secs(4);
        r
    });
    let url = format!("{}/api/collections/c1/", server.base);
    let started = Instant::now();
    let err = fast_client(0)
        .get_objects(&url, None, None, None, &[])
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(matches!(err, Error::Transport { .. }), "{text}");
    assert!(text.contains("timed out") && text.contains(&url), "{text}");
}

#[test]
fn nobody_listening_is_a_connection_error_after_the_retries() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/taxii2/");
    let err = fast_client(1).resolve_api_root(&url).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Transport { .. }), "{text}");
    assert!(text.contains(&url) && text.contains("connection"), "{text}");
}

/// Objects in a POSTed envelope.
fn envelope_ids(req: &Request) -> Vec<String> {
    let v: Value = serde_json::from_slice(&req.body).unwrap();
    v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn push_splits_on_413_and_polls_pending_statuses() {
    // More than 3 objects, or the one marked huge: 413. Statuses are
    // pending until asked once.
    let server = taxii_server(|req, _| {
        if req.method == "POST" {
            let ids = envelope_ids(req);
            if ids.len() > 3 || ids.iter().any(|i| i.ends_with("-huge")) {
                return reply(413, r#"{"title":"too large"}"#);
            }
            return reply(
                202,
                json!({"id": format!("s-{}", ids.join(",")), "status": "pending",
                       "total_count": ids.len(), "pending_count": ids.len()})
                .to_string(),
            );
        }
        if let Some(id) = req.path.strip_prefix("/api/status/") {
            let id = id.trim_end_matches('/');
            let n = id.matches("indicator").count();
            return reply(
                200,
                json!({"id": id, "status": "complete", "total_count": n, "success_count": n})
                    .to_string(),
            );
        }
        reply(404, "")
    });
    let work = tempfile::tempdir().unwrap();
    let mut objects = indicators(10);
    objects[6]["id"] = json!("indicator--6-huge");
    let file = write_bundle(work.path(), "b.json", &objects);
    let mut opts = PushOptions::new(format!("{}/api/", server.base), "One", vec![file.clone()]);
    opts.max_objects = 8;
    let report = taxii::push(&fast_client(0), &opts, |_| {}).unwrap();
    assert_eq!(report.objects, 10);
    assert_eq!(report.succeeded, 9, "{report:?}");
    assert_eq!(report.failed, 1);
    assert_eq!(report.failures[0].id.as_deref(), Some("indicator--6-huge"));
    assert!(
        report.failures[0].reason.contains("too large"),
        "{report:?}"
    );
    assert_eq!(report.failures[0].file, file);
    assert!(report.splits >= 3, "{report:?}");
    // Every object but the huge one reached the server exactly once.
    let sent: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .filter(|r| {
            !envelope_ids(r).iter().any(|i| i.ends_with("-huge")) && envelope_ids(r).len() <= 3
        })
        .flat_map(envelope_ids)
        .collect();
    let unique: BTreeSet<&String> = sent.iter().collect();
    assert_eq!(sent.len(), 9);
    assert_eq!(unique.len(), 9);
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/api/status/")),
        "pending statuses were not polled"
    );

    // The API root's max_content_length bounds envelopes: an object
    // larger alone is not sent.
    let mut big = indicators(1);
    big[0]["description"] = json!("x".repeat(200_000));
    let file = write_bundle(work.path(), "big.json", &big);
    let before = server.requests().len();
    let opts = PushOptions::new(format!("{}/api/", server.base), "c1", vec![file]);
    let report = taxii::push(&fast_client(0), &opts, |_| {}).unwrap();
    assert_eq!(report.failed, 1);
    assert!(report.failures[0].reason.contains("100000"), "{report:?}");
    assert!(
        server.requests()[before..]
            .iter()
            .all(|r| r.method == "GET"),
        "the oversized object was sent"
    );
}

#[test]
fn pull_from_a_server_that_pages_without_next_tokens() {
    // `more` with no `next`: the client asks again from the last date.
    let objects = indicators(5);
    let dates = [
        "2024-01-01T00:00:01.000000Z",
        "2024-01-01T00:00:02.000000Z",
        "2024-01-01T00:00:02.000000Z",
        "2024-01-01T00:00:03.000000Z",
        "2024-01-01T00:00:04.000000Z",
    ];
    let served = objects.clone();
    let server = taxii_server(move |req, _| {
        // added_after filter, two a page, in date order.
        let after = req
            .path
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("added_after="))
            .map(|a| a.replace("%3A", ":"));
        let rest: Vec<usize> = (0..5)
            .filter(|&i| after.as_deref().is_none_or(|a| dates[i] > a))
            .collect();
        let page: Vec<usize> = rest.iter().copied().take(2).collect();
        let mut r = reply(
            200,
            json!({"more": rest.len() > 2,
                   "objects": page.iter().map(|&i| served[i].clone()).collect::<Vec<_>>()})
            .to_string(),
        );
        if let Some(&last) = page.last() {
            r.headers
                .push(("X-TAXII-Date-Added-Last", dates[last].to_string()));
        }
        r
    });
    let work = tempfile::tempdir().unwrap();
    let opts = pull_opts(format!("{}/api/", server.base), "c1", work.path(), 2);
    let summary = taxii::pull(&fast_client(0), &opts, |_| {}).unwrap();
    assert_eq!(summary.objects, 5, "{summary:?}");
    assert_exactly_once(work.path(), &ids(&objects));
}

#[test]
fn a_ca_file_without_certificates_is_refused_up_front() {
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let err = Client::new(ClientOptions {
        ca_file: Some(ca.clone()),
        ..ClientOptions::default()
    })
    .err()
    .expect("a CA file without certificates accepted");
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(
        err.to_string().contains(ca.to_str().unwrap())
            && err.to_string().contains("no PEM certificate"),
        "{err}"
    );
}
