//! Integration tests of the TAXII 2.1 server inside `takedown serve`: the
//! real binary on an ephemeral port, spoken to by the reference client
//! (`taxii2-client`, with objects built by `stix2`) and over raw HTTP for
//! the error cases; a kill -9 in the middle of a large POST.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use util::serve::*;
use util::*;

const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789abc";
/// Read: alice and bob; write: alice.
const SHARED: &str = "1f0e3b7a-5c1d-4e8a-9b2f-000000000001";
/// Read and write: everyone.
const PUBLIC: &str = "1f0e3b7a-5c1d-4e8a-9b2f-000000000002";
/// Alice only.
const PRIVATE: &str = "1f0e3b7a-5c1d-4e8a-9b2f-000000000003";
const TAXII: &str = "application/taxii+json;version=2.1";

fn config(t: &Tree, max_content_length: &str) -> PathBuf {
    config_with(t, max_content_length, "")
}

/// [`config`] with more keys of `[taxii]`.
fn config_with(t: &Tree, max_content_length: &str, taxii_keys: &str) -> PathBuf {
    t.write(
        "serve.toml",
        format!(
            r#"
[listen]
http = ["127.0.0.1:0"]
clamd_tcp = []
[taxii]
enabled = true
db = "taxii.sqlite3"
title = "test TAXII"
max_content_length = "{max_content_length}"
max_page_size = 1000
{taxii_keys}
[taxii.tokens]
alice = "{ALICE}"
bob = "{BOB}"
[[taxii.collections]]
id = "{SHARED}"
title = "shared"
description = "alice writes, bob reads"
read = ["alice", "bob"]
write = ["alice"]
[[taxii.collections]]
id = "{PUBLIC}"
title = "public"
read = ["*"]
write = ["*"]
[[taxii.collections]]
id = "{PRIVATE}"
title = "private"
read = ["alice"]
write = ["alice"]
"#
        ),
    )
}

/// The TAXII side of the shared test server.
impl Server {
    fn url(&self) -> String {
        format!("http://{}/taxii2/", self.http)
    }
}

impl Answer {
    /// Asserts a TAXII error message with this status.
    fn taxii_error(&self, status: u16) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type").as_deref(), Some(TAXII));
        let v = self.json();
        assert!(
            v["title"].is_string() && v["description"].is_string(),
            "{v}"
        );
        assert_eq!(v["http_status"], status.to_string());
    }
}

fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    http_raw(addr, &request(method, path, headers, body))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn get_as(srv: &Server, path: &str, token: Option<&str>) -> Answer {
    let auth = token.map(bearer);
    let mut h = vec![("Accept", TAXII)];
    if let Some(a) = &auth {
        h.push(("Authorization", a));
    }
    http(srv.http, "GET", path, &h, b"")
}

fn post_as(srv: &Server, collection: &str, token: Option<&str>, body: &[u8]) -> Answer {
    let auth = token.map(bearer);
    let mut h = vec![("Accept", TAXII), ("Content-Type", TAXII)];
    if let Some(a) = &auth {
        h.push(("Authorization", a));
    }
    http(
        srv.http,
        "POST",
        &format!("/taxii2/api/collections/{collection}/objects/"),
        &h,
        body,
    )
}

/// An envelope of `n` objects of type `kind` (a custom type is fine for
/// the store), ids numbered from `from`.
fn envelope(kind: &str, from: usize, n: usize) -> Vec<u8> {
    let objects: Vec<serde_json::Value> = (from..from + n)
        .map(|i| {
            serde_json::json!({
                "type": kind,
                "spec_version": "2.1",
                "id": format!("{kind}--00000000-0000-4000-8000-{i:012}"),
                "created": "2024-01-01T00:00:00.000Z",
                "modified": "2024-01-01T00:00:00.000Z",
                "x_padding": "p".repeat(150),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "objects": objects })).unwrap()
}

/// Every object of `kind` in a collection, paging with `next`.
fn count_type(srv: &Server, collection: &str, kind: &str) -> usize {
    let mut next: Option<String> = None;
    let mut n = 0;
    loop {
        let mut path =
            format!("/taxii2/api/collections/{collection}/manifest/?match[type]={kind}&limit=1000");
        if let Some(c) = &next {
            path.push_str(&format!("&next={c}"));
        }
        let a = get_as(srv, &path, Some(ALICE));
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let v = a.json();
        n += v["objects"].as_array().map_or(0, |o| o.len());
        if v["more"] != true {
            return n;
        }
        next = Some(v["next"].as_str().unwrap().to_string());
    }
}

const CLIENT_SCRIPT: &str = r#"
import json, sys
import requests, stix2
from taxii2client.common import TokenAuth
from taxii2client.v21 import Server, Collection, Status, as_pages

url, alice, bob, shared, public, private = sys.argv[1:7]

class Bearer(requests.auth.AuthBase):
    def __init__(self, key):
        self.key = key
    def __call__(self, r):
        r.headers["Authorization"] = "Bearer " + self.key
        return r

# taxii2-client's TokenAuth sends "Token KEY"; both schemes are accepted.
A, B = TokenAuth(alice), Bearer(bob)
out = {}

# Discovery and API root.
server = Server(url, auth=A)
assert server.title == "test TAXII", server.title
assert len(server.api_roots) == 1 and server.default is not None
root = server.api_roots[0]
assert root.max_content_length == 1 << 20, root.max_content_length
assert "application/taxii+json;version=2.1" in root.versions

def rights(auth):
    r = Server(url, auth=auth).api_roots[0]
    return {c.id: (c.can_read, c.can_write) for c in r.collections}

assert rights(A) == {shared: (True, True), public: (True, True), private: (True, True)}, rights(A)
assert rights(B) == {shared: (True, False), public: (True, True)}, rights(B)
assert rights(None) == {public: (True, True)}, rights(None)

col = Collection(url + "api/collections/" + shared + "/", auth=A)
assert col.title == "shared" and col.description == "alice writes, bob reads"

# 250 indicators and 10 malware built with stix2, 3 invalid objects.
inds = [stix2.Indicator(name="i%d" % i, pattern="[file:hashes.'SHA-256' = '%064x']" % i,
                        pattern_type="stix", valid_from="2024-01-01T00:00:00Z")
        for i in range(250)]
mals = [stix2.Malware(name="m%d" % i, is_family=True) for i in range(10)]
objs = [json.loads(o.serialize()) for o in inds + mals]
bad = [
    {"type": "indicator", "id": "malware--2f1b6a43-5c6e-4a0b-9d7c-0f8a1c2b3d4e"},
    {"type": "indicator", "id": "indicator--2f1b6a43-5c6e-4a0b-9d7c-0f8a1c2b3d4e", "spec_version": "2.0"},
    {"id": "nothing"},
]
st = col.add_objects({"objects": objs + bad})
assert st.status == "complete", st.status
assert (st.total_count, st.success_count, st.failure_count, st.pending_count) == (263, 260, 3, 0), \
    (st.total_count, st.success_count, st.failure_count)
assert all(s["message"] == "added" for s in st.successes)
assert sorted(f["id"] for f in st.failures)[0].startswith("indicator--") or True
msgs = " | ".join(f["message"] for f in st.failures)
assert "2.0" in msgs and "'type' is missing" in msgs, msgs

# The status resource, through its own endpoint.
st2 = Status(url + "api/status/" + st.id + "/", auth=A)
assert (st2.total_count, st2.success_count, st2.failure_count) == (263, 260, 3)

# Re-adding identical objects: successes, no duplicates.
st = col.add_objects({"objects": objs[:250]})
assert (st.success_count, st.failure_count) == (250, 0)
assert all("already present" in s["message"] for s in st.successes)

# Paging: every object exactly once, 50 per request.
seen = []
pages = 0
for env in as_pages(col.get_objects, per_request=50):
    seen += [o["id"] for o in env.get("objects", [])]
    pages += 1
assert len(seen) == 260 and len(set(seen)) == 260, (len(seen), len(set(seen)))
assert set(seen) == {o["id"] for o in objs}
assert pages == 6, pages

# Filters.
env = col.get_objects(type="malware")
assert sorted(o["id"] for o in env["objects"]) == sorted(o["id"] for o in objs[250:])
two = [objs[3]["id"], objs[7]["id"]]
env = col.get_objects(id=two)
assert sorted(o["id"] for o in env["objects"]) == sorted(two)
env = col.get_objects(type=["malware", "indicator"], limit=1000)
assert len(env["objects"]) == 260 and env["more"] is False

# Manifest, paged; added_after from a manifest entry.
man = []
for env in as_pages(col.get_manifest, per_request=100):
    man += env.get("objects", [])
assert len(man) == 260
assert all(m["media_type"] == "application/stix+json;version=2.1" for m in man)
cut = man[99]["date_added"]
env = col.get_objects(added_after=cut, limit=1000)
assert len(env["objects"]) == 160, len(env["objects"])
assert env["objects"][0]["id"] == man[100]["id"]

# Versions: a new modified is a new version.
newer = inds[0].new_version(name="i0 v2")
st = col.add_objects({"objects": [json.loads(newer.serialize())]})
assert st.successes[0]["message"] == "added"
oid = inds[0].id
vers = col.object_versions(oid)["versions"]
assert len(vers) == 2, vers
assert col.get_object(oid)["objects"][0]["name"] == "i0 v2"
assert len(col.get_object(oid, version="all")["objects"]) == 2
assert col.get_object(oid, version="first")["objects"][0]["name"] == "i0"
env = col.get_objects(limit=1000)
assert len(env["objects"]) == 260  # the last version of each

# Delete one object; it is gone.
col.delete_object(objs[5]["id"])
try:
    col.get_object(objs[5]["id"])
    raise SystemExit("deleted object still served")
except requests.exceptions.HTTPError as e:
    assert e.response.status_code == 404

# bob reads but may not write.
colb = Collection(url + "api/collections/" + shared + "/", auth=B)
assert len(colb.get_objects(limit=10)["objects"]) == 10
r = requests.post(url + "api/collections/" + shared + "/objects/", auth=B,
                  headers={"Accept": "application/taxii+json;version=2.1",
                           "Content-Type": "application/taxii+json;version=2.1"},
                  data=json.dumps({"objects": objs[:1]}))
assert r.status_code == 403, r.status_code
assert r.json()["http_status"] == "403"

print(json.dumps({"ok": True, "oid": oid}))
"#;

#[test]
fn taxii2_client_against_takedown_serve() {
    let Some(py) = reference_python() else { return };
    let t = Tree::new();
    let conf = config(&t, "1M");
    let srv = Server::with_config(&t, &conf);
    let out = Command::new(&py)
        .arg("-c")
        .arg(CLIENT_SCRIPT)
        .args([&srv.url(), ALICE, BOB, SHARED, PUBLIC, PRIVATE])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "taxii2-client script failed:\nstdout:\n{}\nstderr:\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        srv.log()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let oid = v["oid"].as_str().unwrap().to_string();
    // A restart keeps every object and version.
    srv.stop();
    let srv = Server::with_config(&t, &conf);
    let path = format!("/taxii2/api/collections/{SHARED}/objects/{oid}/versions/");
    let a = get_as(&srv, &path, Some(BOB));
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["versions"].as_array().unwrap().len(), 2);
    assert_eq!(count_type(&srv, SHARED, "indicator"), 249);
    assert_eq!(count_type(&srv, SHARED, "malware"), 10);
}

#[test]
fn errors_are_taxii_messages_and_permissions_hold_on_loopback() {
    let t = Tree::new();
    let conf = config(&t, "1M");
    let srv = Server::with_config(&t, &conf);
    let shared = format!("/taxii2/api/collections/{SHARED}/objects/");

    // Discovery, with the TAXII media type.
    let a = get_as(&srv, "/taxii2/", None);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type").as_deref(), Some(TAXII));
    assert_eq!(a.json()["api_roots"][0], "/taxii2/api/");
    let a = get_as(&srv, "/taxii2/api/", None);
    assert_eq!(a.json()["max_content_length"], 1 << 20);

    // 406: an Accept that does not allow TAXII.
    let a = http(
        srv.http,
        "GET",
        "/taxii2/",
        &[("Accept", "application/json")],
        b"",
    );
    a.taxii_error(406);
    let a = http(
        srv.http,
        "GET",
        "/taxii2/",
        &[("Accept", "application/taxii+json;version=2.0")],
        b"",
    );
    a.taxii_error(406);

    // 401 without a token, 401 with a wrong one, 403 with a token not granted.
    get_as(&srv, &shared, None).taxii_error(401);
    get_as(&srv, &shared, Some("wrong-token-0123456789")).taxii_error(401);
    let body = envelope("x-test", 0, 3);
    post_as(&srv, SHARED, Some(BOB), &body).taxii_error(403);
    get_as(
        &srv,
        &format!("/taxii2/api/collections/{PRIVATE}/"),
        Some(BOB),
    )
    .taxii_error(403);
    // The public collection: anyone on loopback (tokens are not required).
    let a = post_as(&srv, PUBLIC, None, &body);
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["success_count"], 3);
    // 404: unknown collection, object, status, path.
    get_as(
        &srv,
        "/taxii2/api/collections/1f0e3b7a-5c1d-4e8a-9b2f-00000000ffff/",
        Some(ALICE),
    )
    .taxii_error(404);
    get_as(
        &srv,
        &format!("{shared}x-test--00000000-0000-4000-8000-000000000000/"),
        Some(ALICE),
    )
    .taxii_error(404);
    get_as(
        &srv,
        "/taxii2/api/status/00000000-0000-4000-8000-000000000000/",
        Some(ALICE),
    )
    .taxii_error(404);
    get_as(&srv, "/taxii2/nope/", Some(ALICE)).taxii_error(404);

    // 415: a POST that is not a TAXII envelope by its type.
    let a = http(
        srv.http,
        "POST",
        &shared,
        &[
            ("Accept", TAXII),
            ("Content-Type", "application/json"),
            ("Authorization", &bearer(ALICE)),
        ],
        &body,
    );
    a.taxii_error(415);
    // 413: over max_content_length (1 MiB), refused before the body.
    let big = envelope("x-test", 100, 8000);
    assert!(big.len() > 1 << 20);
    post_as(&srv, SHARED, Some(ALICE), &big).taxii_error(413);
    // 400: not an envelope; bad filters named.
    post_as(&srv, SHARED, Some(ALICE), b"[1,2]").taxii_error(400);
    for q in [
        "next=zzz",
        "added_after=yesterday",
        "match[color]=red",
        "limit=0",
        "match[version]=soon",
    ] {
        let a = get_as(&srv, &format!("{shared}?{q}"), Some(ALICE));
        a.taxii_error(400);
        let d = a.json()["description"].as_str().unwrap().to_string();
        let key = q.split('=').next().unwrap();
        assert!(d.contains(key), "{q}: {d}");
    }
    // 405.
    let a = http(srv.http, "PUT", "/taxii2/", &[("Accept", TAXII)], b"");
    a.taxii_error(405);

    // Paging headers and the opaque cursor.
    let a = post_as(&srv, SHARED, Some(ALICE), &envelope("x-page", 0, 5));
    assert_eq!(a.status, 202);
    let a = get_as(&srv, &format!("{shared}?limit=2"), Some(BOB));
    assert_eq!(a.status, 200);
    let first = a.header("x-taxii-date-added-first").unwrap();
    let last = a.header("x-taxii-date-added-last").unwrap();
    assert!(first < last, "{first} {last}");
    let v = a.json();
    assert_eq!(v["more"], true);
    assert_eq!(v["objects"].as_array().unwrap().len(), 2);
    let next = v["next"].as_str().unwrap();
    let a = get_as(&srv, &format!("{shared}?limit=2&next={next}"), Some(BOB));
    let first2 = a.header("x-taxii-date-added-first").unwrap();
    assert!(first2 > last);
    // Every TAXII path of the OpenAPI document is served (with its ids
    // filled in, a missing object is a TAXII 404, never a 405 or the
    // service's own 404).
    let doc = http(srv.http, "GET", "/v1/openapi.json", &[], b"").json();
    let mut taxii_paths = 0;
    for (p, ops) in doc["paths"].as_object().unwrap() {
        if !p.starts_with("/taxii2/") {
            continue;
        }
        taxii_paths += 1;
        let path = p
            .replace("{id}", SHARED)
            .replace(
                "{object_id}",
                "x-page--00000000-0000-4000-8000-000000000000",
            )
            .replace("{status_id}", "00000000-0000-4000-8000-000000000000");
        for method in ops.as_object().unwrap().keys() {
            let a = http(
                srv.http,
                &method.to_ascii_uppercase(),
                &path,
                &[
                    ("Accept", TAXII),
                    ("Content-Type", TAXII),
                    ("Authorization", &bearer(ALICE)),
                ],
                b"{}",
            );
            assert!(
                [200, 202].contains(&a.status)
                    || (a.status == 404 && a.header("content-type").as_deref() == Some(TAXII)),
                "{method} {path}: {}",
                a.status
            );
        }
    }
    assert_eq!(taxii_paths, 9);
    // An empty result is an envelope without objects.
    let a = get_as(
        &srv,
        &format!("{shared}?match[type]=nothing-here"),
        Some(BOB),
    );
    assert_eq!(a.json(), serde_json::json!({"more": false}));
    assert!(a.header("x-taxii-date-added-first").is_none());
}

#[test]
fn tokens_required_close_the_public_collection_to_anonymous_callers() {
    let t = Tree::new();
    let conf = config(&t, "1M");
    t.write("scan-tokens", "scan-token-0123456789abcdef\n");
    let srv = Server::start(
        &t,
        &[
            "--config",
            conf.to_str().unwrap(),
            "--token-file",
            &t.arg("scan-tokens"),
        ],
    );
    get_as(&srv, "/taxii2/", None).taxii_error(401);
    get_as(
        &srv,
        &format!("/taxii2/api/collections/{PUBLIC}/objects/"),
        None,
    )
    .taxii_error(401);
    // A service token is "any valid token": the public collection only.
    let scan = "scan-token-0123456789abcdef";
    let a = get_as(&srv, "/taxii2/api/collections/", Some(scan));
    let ids: Vec<_> = a.json()["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [PUBLIC]);
    assert_eq!(get_as(&srv, "/taxii2/", Some(ALICE)).status, 200);
}

/// A kill -9 at a random moment of a large POST leaves all of its objects
/// or none, and everything posted before.
#[test]
fn sigkill_during_a_large_post_leaves_all_or_nothing() {
    const N: usize = 20_000;
    let t = Tree::new();
    let conf = config(&t, "64M");
    let srv = Server::with_config(&t, &conf);
    let a = post_as(&srv, SHARED, Some(ALICE), &envelope("x-before", 0, 100));
    assert_eq!(a.status, 202);
    // How long a large POST takes here, to aim the kills inside it.
    let body = envelope("x-timing", 0, N);
    let started = Instant::now();
    let a = post_as(&srv, PUBLIC, Some(ALICE), &body);
    assert_eq!(a.status, 202);
    assert_eq!(a.json()["success_count"], N);
    let span = started.elapsed();
    let mut srv = Some(srv);
    let mut outcomes = Vec::new();
    for round in 0..4u32 {
        let s = srv.take().unwrap();
        let kind = format!("x-round-{round}");
        let body = envelope(&kind, 0, N);
        let addr = s.http;
        let poster = std::thread::spawn(move || {
            let auth = bearer(ALICE);
            // The answer (or the broken connection) does not matter.
            let mut req = format!(
                "POST /taxii2/api/collections/{SHARED}/objects/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAccept: {TAXII}\r\nContent-Type: {TAXII}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(&body);
            if let Ok(mut c) = TcpStream::connect(addr) {
                let _ = c.write_all(&req);
                let mut sink = Vec::new();
                let _ = c.read_to_end(&mut sink);
            }
        });
        // A pseudo-random moment in a quarter of the measured span, the
        // quarters spread from 35% to 110% so that kills land while the
        // body arrives, while it is stored, and after the answer.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
        let span_us = span.as_micros() as u64;
        let quarter = (span_us / 4).max(1);
        let jitter = (nanos.wrapping_mul(2_654_435_761) >> 7) % quarter;
        let delay = Duration::from_micros(span_us * 35 / 100 + u64::from(round) * quarter + jitter);
        std::thread::sleep(delay);
        s.kill9();
        poster.join().unwrap();
        let s = Server::with_config(&t, &conf);
        let n = count_type(&s, SHARED, &kind);
        assert!(
            n == 0 || n == N,
            "round {round}: {n} of the {N} objects of a killed POST are stored (kill after {delay:?})"
        );
        outcomes.push(n == N);
        // Earlier rounds are as they were left.
        for (r, complete) in outcomes.iter().enumerate() {
            let expected = if *complete { N } else { 0 };
            assert_eq!(count_type(&s, SHARED, &format!("x-round-{r}")), expected);
        }
        assert_eq!(count_type(&s, SHARED, "x-before"), 100, "round {round}");
        assert_eq!(count_type(&s, PUBLIC, "x-timing"), N, "round {round}");
        srv = Some(s);
    }
    eprintln!("complete posts among the killed ones: {outcomes:?} (span {span:?})");
}

/// A clamd `zINSTREAM` of `data`; the reply without its NUL.
fn clamd_instream(addr: SocketAddr, data: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = b"zINSTREAM\0".to_vec();
    req.extend_from_slice(&(data.len() as u32).to_be_bytes());
    req.extend_from_slice(data);
    req.extend_from_slice(&0u32.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply)
        .trim_end_matches('\0')
        .to_string()
}

/// `POST /v1/scan` of `data` named `name`; the verdict.
fn scan_http(srv: &Server, name: &str, data: &[u8]) -> String {
    let a = http(
        srv.http,
        "POST",
        &format!("/v1/scan?name={name}"),
        &[],
        data,
    );
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    a.json()["verdict"].as_str().unwrap().to_string()
}

/// The `takedown_taxii_publish_total` counters: (stored, dropped, failed).
fn published(srv: &Server) -> (u64, u64, u64) {
    let text = String::from_utf8(http(srv.http, "GET", "/metrics", &[], b"").body).unwrap();
    let get = |result: &str| {
        let key = format!("takedown_taxii_publish_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    (get("stored"), get("dropped"), get("failed"))
}

/// Polls the publishing counters until `done` holds (30 s at most).
fn wait_published(srv: &Server, done: impl Fn((u64, u64, u64)) -> bool) -> (u64, u64, u64) {
    let started = Instant::now();
    loop {
        let p = published(srv);
        if done(p) {
            return p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "publishing counters stuck at {p:?}; log:\n{}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every object of a collection through the TAXII API, with
/// `match[version]` (`all` or `last`), paging with `next`.
fn collection_objects(srv: &Server, collection: &str, version: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = format!(
            "/taxii2/api/collections/{collection}/objects/?match[version]={version}&limit=100"
        );
        if let Some(c) = &next {
            path.push_str(&format!("&next={c}"));
        }
        let a = get_as(srv, &path, Some(ALICE));
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let v = a.json();
        out.extend(v["objects"].as_array().cloned().unwrap_or_default());
        if v["more"] != true {
            return out;
        }
        next = Some(v["next"].as_str().unwrap().to_string());
    }
}

fn of_type<'a>(objs: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    objs.iter().filter(|o| o["type"] == kind).collect()
}

fn ids(objs: &[serde_json::Value]) -> std::collections::BTreeSet<String> {
    objs.iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn scan_sightings_are_published_into_a_collection_only_when_configured() {
    let t = Tree::new();
    let sample = eicar();

    // Off by default: a detection adds nothing, and no counter exists.
    let srv = Server::with_config(&t, &config(&t, "1M"));
    assert_eq!(scan_http(&srv, "eicar.com", &sample), "infected");
    std::thread::sleep(Duration::from_millis(300));
    assert!(collection_objects(&srv, SHARED, "all").is_empty());
    let metrics = String::from_utf8(http(srv.http, "GET", "/metrics", &[], b"").body).unwrap();
    assert!(
        !metrics.contains("takedown_taxii_publish_total{"),
        "{metrics}"
    );
    srv.stop();

    // On, into the shared collection (which only alice may write).
    let conf = config_with(&t, "1M", &format!("publish_sightings = \"{SHARED}\""));
    // With the clamd protocol too.
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replace("clamd_tcp = []", "clamd_tcp = [\"127.0.0.1:0\"]"),
    )
    .unwrap();
    let srv = Server::with_config(&t, &conf);
    let clamd = srv.clamd();
    assert_eq!(scan_http(&srv, "invoice_jane_doe.com", &sample), "infected");
    wait_published(&srv, |(stored, _, _)| stored == 1);
    let first = collection_objects(&srv, SHARED, "all");
    assert_eq!(
        scan_http(&srv, "notes.txt", b"nothing to see here\n"),
        "clean"
    );
    assert_eq!(scan_http(&srv, "other.com", &sample), "infected");
    // Scans are published in order: had the clean scan been published,
    // the second count would be reached without the second EICAR.
    wait_published(&srv, |(stored, _, _)| stored == 2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(published(&srv), (2, 0, 0));
    let all = collection_objects(&srv, SHARED, "all");
    let latest = collection_objects(&srv, SHARED, "last");

    // The file, once, named by its hash only; the indicator of its hash;
    // a sighting of that indicator where "takedown serve" saw it.
    let files = of_type(&all, "file");
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["hashes"]["SHA-256"], EICAR_SHA256);
    assert!(files[0].get("name").is_none(), "{}", files[0]);
    let indicators = of_type(&latest, "indicator");
    assert_eq!(indicators.len(), 1);
    assert_eq!(
        indicators[0]["pattern"],
        format!("[file:hashes.'SHA-256' = '{EICAR_SHA256}']")
    );
    let sightings = of_type(&latest, "sighting");
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0]["sighting_of_ref"], indicators[0]["id"]);
    let host_id = sightings[0]["where_sighted_refs"][0].as_str().unwrap();
    let host = latest.iter().find(|o| o["id"] == host_id).unwrap();
    assert_eq!(host["name"], "takedown serve");
    assert!(!of_type(&latest, "observed-data").is_empty());
    assert!(of_type(&all, "report").is_empty());
    // The second scan: a new version of the sighting, no new object, no
    // duplicate version.
    assert_eq!(of_type(&all, "sighting").len(), 2);
    assert_eq!(ids(&first), ids(&latest));
    assert_eq!(ids(&latest).len(), latest.len());
    let versions: std::collections::BTreeSet<(String, String)> = all
        .iter()
        .map(|o| {
            let v = o.get("modified").or(o.get("created"));
            (
                o["id"].to_string(),
                v.map(|v| v.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(versions.len(), all.len());
    // A scan over the clamd protocol is published the same way.
    assert_eq!(
        clamd_instream(clamd, &sample),
        "stream: Eicar-Test-Signature FOUND"
    );
    wait_published(&srv, |(stored, _, _)| stored == 3);
    let all = collection_objects(&srv, SHARED, "all");
    let sightings = of_type(&all, "sighting");
    assert_eq!(sightings.len(), 3);
    // Versions of one object keep its first `created` (STIX 2.1).
    assert!(
        sightings
            .iter()
            .all(|s| s["created"] == sightings[0]["created"])
    );
    assert_eq!(of_type(&all, "file").len(), 1);
    assert_eq!(ids(&collection_objects(&srv, SHARED, "last")), ids(&first));
    // Clients' file names and addresses stay out.
    let text = serde_json::to_string(&all).unwrap();
    for private in ["jane", "other.com", "notes.txt", "127.0.0.1"] {
        assert!(!text.contains(private), "{private} was published");
    }

    // The same ids as `takedown intel export --format stix` gives for the
    // same content (the export also names the file, which makes another
    // file id; without a name it is stix2's id of the hash alone).
    t.write("sample/eicar.com", &sample);
    let o = t.json(&[&t.arg("sample/eicar.com")]);
    t.write("findings.ndjson", &o.stdout);
    let o = t.run(&[
        "intel",
        "export",
        "--format",
        "stix",
        "-o",
        &t.arg("export.json"),
        &t.arg("findings.ndjson"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let export: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path("export.json")).unwrap()).unwrap();
    let exported = export["objects"].as_array().unwrap();
    for kind in ["indicator", "sighting"] {
        assert_eq!(
            of_type(exported, kind)[0]["id"],
            of_type(&latest, kind)[0]["id"],
            "{kind}"
        );
    }
    if let Some(py) = reference_python() {
        let id = run_python(
            &py,
            "import stix2, sys; print(stix2.File(hashes={'SHA-256': sys.argv[1]}).id)",
            &[EICAR_SHA256],
        );
        assert_eq!(id.trim(), files[0]["id"]);
        // What a partner pulls is valid STIX 2.1.
        let bundle = serde_json::json!({
            "type": "bundle",
            "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
            "objects": collection_objects(&srv, SHARED, "last"),
        });
        t.write("pulled.json", serde_json::to_vec(&bundle).unwrap());
        stix2_validate(&py, &["--strict"], &t.path("pulled.json"));
    }
    srv.stop();
}

/// Holds SQLite's write lock on the database until stdin closes.
const LOCK_SCRIPT: &str = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
c.execute("ROLLBACK")
"#;

#[test]
fn a_full_publishing_queue_drops_and_counts_without_delaying_scans() {
    let Some(py) = reference_python() else { return };
    let t = Tree::new();
    let conf = config_with(
        &t,
        "1M",
        &format!("publish_sightings = \"{SHARED}\"\npublish_queue = 1"),
    );
    let srv = Server::with_config(&t, &conf);
    // With the store's write lock held from outside, the publishing task
    // waits on its first scan (SQLite's busy timeout is 10 s), one more
    // fills the queue of 1, and the others must be dropped.
    let mut lock = Command::new(&py)
        .arg("-c")
        .arg(LOCK_SCRIPT)
        .arg(t.path("taxii.sqlite3"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = [0u8; 6];
    lock.stdout.as_mut().unwrap().read_exact(&mut line).unwrap();
    assert_eq!(&line, b"locked");
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(scan_http(&srv, "eicar.com", &eicar()), "infected");
    }
    // Not one scan waited for the store.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let (_, dropped, _) = published(&srv);
    assert!(dropped >= 3, "dropped {dropped}; log:\n{}", srv.log());
    drop(lock.stdin.take());
    assert!(lock.wait().unwrap().success());
    let (stored, dropped, failed) = wait_published(&srv, |(s, d, f)| s + d + f == 5);
    assert_eq!((stored + dropped, failed), (5, 0));
    assert!(stored >= 1);
    // One sighting version per stored scan (two scans in the same
    // millisecond would make one version).
    let sightings = of_type(&collection_objects(&srv, SHARED, "all"), "sighting").len() as u64;
    assert!((1..=stored).contains(&sightings), "{sightings} of {stored}");
    assert!(
        srv.log().contains("scan sightings not published"),
        "{}",
        srv.log()
    );
    srv.stop();
}
