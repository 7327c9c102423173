//! `takedown intel push` and `takedown intel pull` through the real binary
//! against the reference TAXII 2.1 server `medallion` (memory backend),
//! which `.ci/run` installs into `.venv`: exit codes, credentials from a
//! file, and a pull killed at every step of its protocol
//! (`TAKEDOWN_FAULT`), whose rerun must leave every object in exactly one
//! page file.

mod util;

use serde_json::{Value, json};
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use util::*;

const USER: &str = "partner";
const PASSWORD: &str = "s3cret pass";

/// A fresh UUID-shaped id (version 4 bits set), unique per run.
fn fresh_uuid() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let seed = format!(
        "{:?}-{}-{}",
        std::time::SystemTime::now(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let mut b: [u8; 16] = sha2::Sha256::digest(seed.as_bytes())[..16]
        .try_into()
        .unwrap();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn indicators(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let id = fresh_uuid();
            let hash = hex::encode(sha2::Sha256::digest(id.as_bytes()));
            json!({
                "type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--{id}"),
                "created": "2024-03-01T10:00:00.000Z",
                "modified": "2024-03-01T10:00:00.000Z",
                "name": format!("cli test indicator {i}"),
                "pattern": format!("[file:hashes.'SHA-256' = '{hash}']"),
                "pattern_type": "stix",
                "valid_from": "2024-03-01T10:00:00Z"
            })
        })
        .collect()
}

fn ids(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

fn bundle(objects: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "bundle", "id": format!("bundle--{}", fresh_uuid()), "objects": objects
    }))
    .unwrap()
}

/// medallion on a free loopback port with one writable collection; killed
/// when dropped.
struct Medallion {
    child: Child,
    port: u16,
    collection: String,
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
        let bin = venv_tool(&reference_python()?, "medallion");
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let root = format!("http://127.0.0.1:{port}/api1/");
        let collection = fresh_uuid();
        let data = json!({
            "/discovery": {"title": "test", "default": root, "api_roots": [root]},
            "api1": {
                "information": {"title": "root", "versions": ["application/taxii+json;version=2.1"],
                                "max_content_length": 1_000_000},
                "status": [],
                "collections": [{"id": collection, "title": "Sightings", "can_read": true,
                                 "can_write": true, "media_types": ["application/stix+json;version=2.1"],
                                 "objects": [], "manifest": []}]
            }
        });
        let data_path = dir.path().join("data.json");
        std::fs::write(&data_path, serde_json::to_vec(&data).unwrap()).unwrap();
        let config = json!({
            "backend": {"module": "medallion.backends.memory_backend",
                        "module_class": "MemoryBackend", "filename": data_path},
            "users": {USER: PASSWORD},
            "taxii": {"max_page_size": 100}
        });
        let config_path = dir.path().join("config.json");
        std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
        let child = Command::new(bin)
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
            _dir: dir,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "medallion did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    fn discovery(&self) -> String {
        format!("http://127.0.0.1:{}/taxii2/", self.port)
    }
}

/// Object ids in the page files of DIR, with their counts.
fn pulled(dir: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
        if name.starts_with('.') {
            continue;
        }
        let b: Value = serde_json::from_slice(&std::fs::read(dir.join(&name)).unwrap()).unwrap();
        assert_eq!(b["type"], "bundle");
        for o in b["objects"].as_array().unwrap() {
            *counts
                .entry(o["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    counts
}

fn assert_exactly_once(dir: &Path, expected: &BTreeSet<String>, what: &str) {
    let counts = pulled(dir);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{what}: written twice: {twice:?}");
    let got: BTreeSet<String> = counts.into_keys().collect();
    assert_eq!(&got, expected, "{what}");
}

#[test]
fn push_then_pull_through_the_binary_with_a_kill_at_every_step() {
    let Some(server) = Medallion::start() else {
        return;
    };
    let t = Tree::new();
    let password_file = t.write("password", format!("{PASSWORD}\n"));
    let auth = [
        "--user",
        USER,
        "--password-file",
        password_file.to_str().unwrap(),
    ];
    let mut all = BTreeSet::new();
    for round in 0..3 {
        let objects = indicators(16);
        all.extend(ids(&objects));
        let file = t.write(&format!("b{round}.json"), bundle(&objects));
        let mut args = vec![
            "intel",
            "push",
            &server.discovery(),
            "--collection",
            "Sightings",
            "--max-objects",
            "16",
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
        args.extend(auth.iter().map(|s| s.to_string()));
        args.push(file.to_str().unwrap().to_string());
        let out = t.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(
            stdout(&out).contains("16 added, 0 failed"),
            "{}",
            stdout(&out)
        );
    }

    // Pushing the same bundle again: medallion refuses objects already
    // there, each named, exit 1.
    let out = t.run(&[
        "intel",
        "push",
        &server.discovery(),
        "--collection",
        &server.collection,
        "--user",
        USER,
        "--password",
        PASSWORD,
        t.path("b0.json").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stdout(&out).contains("failed: "), "{}", stdout(&out));

    let pull = |dir: &Path, fault: Option<&str>| {
        let mut c = t.cmd();
        c.args([
            "intel",
            "pull",
            &server.discovery(),
            "--collection",
            &server.collection,
        ])
        .args(["-o", dir.to_str().unwrap(), "--limit", "10"])
        .args(auth);
        if let Some(f) = fault {
            c.env("TAKEDOWN_FAULT", f);
        }
        run_with_timeout(c, 120)
    };

    // Uninterrupted.
    let dir = t.path("plain");
    let out = pull(&dir, None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("pulled 48 objects"),
        "{}",
        stdout(&out)
    );
    assert_exactly_once(&dir, &all, "plain");

    for fault in [
        "taxii-before-rename#2",
        "taxii-after-page#1",
        "taxii-after-page#3",
        "taxii-after-state#2",
        "taxii-after-state#4",
    ] {
        let dir = t.path(&fault.replace('#', "-"));
        let out = pull(&dir, Some(fault));
        assert!(
            out.status.code().is_none(),
            "{fault}: not killed: {}",
            stderr(&out)
        );
        let out = pull(&dir, None);
        assert_eq!(code(&out), 0, "{fault}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("48 objects there in all"),
            "{fault}: {}",
            stdout(&out)
        );
        assert_exactly_once(&dir, &all, fault);
    }

    // Wrong password: a clear error, exit 2.
    let out = t.run(&[
        "intel",
        "pull",
        &server.discovery(),
        "--collection",
        &server.collection,
        "-o",
        t.path("denied").to_str().unwrap(),
        "--user",
        USER,
        "--password",
        "wrong",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("HTTP 401") && stderr(&out).contains("credentials"),
        "{}",
        stderr(&out)
    );
}
