//! Integration tests of the victim self-check of `takedown serve`
//! (docs/selfcheck.md): the real binary, a generated Shadowserver report,
//! raw HTTP and a real headless Chromium.
//!
//! The report lists public addresses only: the loader keeps notifiable
//! addresses, so loopback (where every test client is) can never be in
//! the data, and neither can the documentation ranges. The tests therefore
//! go through the trusted-proxy path, the server trusting loopback
//! (`--trusted-proxy 127.0.0.1/32 --trusted-proxy ::1/128`) and the
//! requests carrying the visitor's public address in `X-Forwarded-For`,
//! as a reverse proxy in front of the service would. The direct path (the
//! connection's own address) is tested by the unit tests of
//! `crates/serve/src/selfcheck.rs`, which give the handler a synthetic
//! public peer address.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use util::serve::*;
use util::*;

/// Infected with Mirai (2026-03-01 to 2026-03-05) and Qbot (2026-02-20).
const A: &str = "81.2.69.142";
/// Infected with Emotet (2026-01-11 to 2026-01-12).
const B: &str = "2a02:c7f:1234::5";
/// Not in the report.
const C: &str = "81.2.69.160";

/// The header of Shadowserver's sinkhole events report (current layout).
const HEADER: &str = "timestamp,protocol,src_ip,src_port,src_asn,src_geo,src_region,src_city,src_hostname,src_naics,src_sector,device_vendor,device_type,device_model,dst_ip,dst_port,dst_asn,dst_geo,dst_region,dst_city,dst_hostname,dst_naics,dst_sector,public_source,infection,family,tag,application,version,event_id";

/// One row of that report: every column by name, quoted as Shadowserver
/// quotes them.
fn row(time: &str, ip: &str, family: &str) -> String {
    HEADER
        .split(',')
        .map(|col| {
            let v = match col {
                "timestamp" => time,
                "protocol" => "tcp",
                "src_ip" => ip,
                "src_port" => "51000",
                "src_asn" => "20712",
                "src_geo" => "GB",
                "dst_ip" => "198.51.100.9",
                "dst_port" => "80",
                "dst_asn" => "64496",
                "public_source" => "CISA",
                "infection" | "family" => family,
                _ => "",
            };
            if v.is_empty() {
                String::new()
            } else {
                format!("\"{v}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A Shadowserver sinkhole report over A and B, with a private and a
/// loopback address (not loaded) and one broken row (line 9).
fn report() -> String {
    let header = HEADER
        .split(',')
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(",");
    [
        header,
        row("2026-03-01 10:00:00", A, "mirai"),
        row("2026-03-05 11:00:00", A, "mirai"),
        row("2026-02-20 09:00:00", A, "qbot"),
        row("2026-01-11 08:00:00", B, "emotet"),
        row("2026-01-12 08:00:00", B, "emotet"),
        row("2026-03-03 08:00:00", "10.1.2.3", "mirai"),
        row("2026-03-03 08:00:00", "127.0.0.1", "mirai"),
        row("yesterday", C, "mirai"),
    ]
    .join("\n")
        + "\n"
}

/// Words of A's answer that must never reach anyone else, and of B's.
const A_ONLY: &[&str] = &[
    "mirai",
    "qbot",
    "Qakbot",
    "2026-03-01",
    "2026-03-05",
    "2026-02-20",
    A,
];
const B_ONLY: &[&str] = &["emotet", "Emotet", "2026-01-11", "2026-01-12", B];

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    http_raw(addr, &request("GET", path, headers, b""))
}

/// A server on loopback with the report, trusting loopback as a proxy.
fn server(t: &Tree, extra: &[&str]) -> Server {
    let report = t.write("event4_sinkhole.csv", report());
    let mut args = vec![
        "--self-check",
        report.to_str().unwrap(),
        "--trusted-proxy",
        "127.0.0.1/32",
        "--trusted-proxy",
        "::1/128",
    ];
    args.extend_from_slice(extra);
    Server::on_loopback(t, &args)
}

fn check_as(srv: &Server, visitor: &str, path: &str) -> Answer {
    get(srv.http, path, &[("X-Forwarded-For", visitor)])
}

fn assert_absent(text: &str, words: &[&str]) {
    for w in words {
        assert!(!text.contains(w), "{w:?} leaked into: {text}");
    }
}

#[test]
fn each_visitor_sees_only_their_own_address() {
    let t = Tree::new();
    let srv = server(&t, &["--self-check-rate", "1000/min"]);

    let a = check_as(&srv, A, "/v1/check");
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.header("cache-control").as_deref(), Some("no-store"));
    assert!(a.header("vary").unwrap().contains("Accept-Language"));
    let v = a.json();
    assert_eq!(v["address"], A);
    assert_eq!(v["listed"], true);
    let fams = v["families"].as_array().unwrap();
    assert_eq!(fams.len(), 2, "{v}");
    assert_eq!(fams[0]["family"], "mirai");
    assert_eq!(fams[0]["first_seen"], "2026-03-01");
    assert_eq!(fams[0]["last_seen"], "2026-03-05");
    assert_eq!(fams[1]["family"], "qbot");
    assert_eq!(fams[1]["first_seen"], "2026-02-20");
    assert!(fams[0]["cleanup"][0].as_str().unwrap().contains("Mirai"));
    assert_absent(&a.text(), B_ONLY);

    let b = check_as(&srv, B, "/v1/check");
    let v = b.json();
    assert_eq!(v["address"], B);
    assert_eq!(v["families"][0]["family"], "emotet");
    assert_eq!(v["families"][0]["last_seen"], "2026-01-12");
    assert_absent(&b.text(), A_ONLY);

    // Not in the data: that, and nothing else.
    let not_listed =
        serde_json::json!({"address": C, "listed": false, "lang": "en", "scan_url": "/"});
    let c = check_as(&srv, C, "/v1/check");
    assert_eq!(c.status, 200);
    assert_eq!(c.json(), not_listed);
    let page = check_as(&srv, C, "/check");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("data-listed=\"false\""), "{html}");
    assert!(html.contains("is not in the sinkhole data"), "{html}");
    assert_absent(&html, A_ONLY);
    assert_absent(&html, B_ONLY);
    assert!(!html.contains("2026"), "no date of the data: {html}");

    // Naming another address in the query, the body or other headers
    // changes nothing.
    for path in [
        format!("/v1/check?ip={A}"),
        format!("/v1/check?address={A}&addr={A}&client={A}&for={A}"),
    ] {
        let c = check_as(&srv, C, &path);
        assert_eq!(c.json(), not_listed, "{path}");
    }
    let body = format!("ip={A}");
    let c = http_raw(
        srv.http,
        &request(
            "GET",
            "/v1/check",
            &[
                ("X-Forwarded-For", C),
                ("X-Real-IP", A),
                ("Forwarded", &format!("for={A}")),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        ),
    );
    assert_eq!(c.json(), not_listed);
    let page = check_as(&srv, C, &format!("/check?ip={A}"));
    assert_absent(&page.text(), A_ONLY);
    // An address the client wrote to the left of what the proxy appended.
    let c = get(
        srv.http,
        "/v1/check",
        &[("X-Forwarded-For", &format!("{A}, {C}"))],
    );
    assert_eq!(c.json(), not_listed);

    // Listed, as a page.
    let page = check_as(&srv, A, "/check");
    let html = page.text();
    assert!(html.contains("data-listed=\"true\""), "{html}");
    assert!(
        html.contains("<time datetime=\"2026-03-01\">2026-03-01</time>"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/\""),
        "no link to the online scan: {html}"
    );
    assert_absent(&html, B_ONLY);

    // The proxy's own request (no forwarded header): loopback, not listed.
    let a = get(srv.http, "/v1/check", &[]);
    assert_eq!(a.json()["address"], "127.0.0.1");
    assert_eq!(a.json()["listed"], false);

    // The log names the unreadable row by file and line.
    let log = srv.log();
    assert!(
        log.contains("event4_sinkhole.csv") && log.contains("line=9"),
        "{log}"
    );
}

#[test]
fn an_untrusted_peer_cannot_name_an_address() {
    let t = Tree::new();
    let report = t.write("event4_sinkhole.csv", report());
    let srv = Server::on_loopback(&t, &["--self-check", report.to_str().unwrap()]);
    let a = get(
        srv.http,
        "/v1/check",
        &[("X-Forwarded-For", A), ("Forwarded", &format!("for={A}"))],
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["address"], "127.0.0.1");
    assert_eq!(a.json()["listed"], false);
    assert_absent(&a.text(), A_ONLY);
}

#[test]
fn checks_past_the_rate_get_429_with_retry_after() {
    let t = Tree::new();
    let srv = server(&t, &["--self-check-rate", "3/min"]);
    for path in ["/v1/check", "/check", "/v1/check"] {
        assert_eq!(check_as(&srv, A, path).status, 200);
    }
    let a = check_as(&srv, A, "/v1/check");
    assert_eq!(a.status, 429, "{}", a.text());
    let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "Retry-After: {retry}");
    assert!(a.json()["error"].as_str().unwrap().contains("Too many"));
    assert_absent(&a.text(), A_ONLY);
    let page = check_as(&srv, A, "/check");
    assert_eq!(page.status, 429);
    assert_absent(&page.text(), &["mirai", "qbot"]);
    // Another visitor behind the same proxy has their own bucket.
    assert_eq!(check_as(&srv, C, "/v1/check").status, 200);
    // The scan page is not limited by the self-check.
    assert_eq!(get(srv.http, "/", &[]).status, 200);
}

#[test]
fn pages_speak_japanese_and_german() {
    let t = Tree::new();
    t.write(
        "i18n/ja.toml",
        "[check]\nheading = \"回線の感染チェック(試験)\"\n",
    );
    let lang_dir = t.arg("i18n");
    let srv = server(
        &t,
        &["--self-check-rate", "1000/min", "--lang-dir", &lang_dir],
    );
    let page = |path: &str, headers: &[(&str, &str)]| {
        let mut h = vec![("X-Forwarded-For", A)];
        h.extend_from_slice(headers);
        get(srv.http, path, &h)
    };

    let ja = page("/check", &[("Accept-Language", "ja-JP,ja;q=0.9,en;q=0.8")]);
    let html = ja.text();
    assert_eq!(ja.header("content-language").as_deref(), Some("ja"));
    for want in [
        "<html lang=\"ja\">",
        "回線の感染チェック(試験)",
        "このアドレスはシンクホールのデータに含まれています",
        "初回観測日",
        "2026年3月1日",
        "駆除の手順",
        "Mirai は",
    ] {
        assert!(html.contains(want), "{want} not in {html}");
    }
    assert!(!html.contains("First seen"), "{html}");

    let de = page(
        "/check",
        &[("Accept-Language", "en;q=0.3, de-DE;q=0.8, ja;q=0.5")],
    );
    let html = de.text();
    for want in [
        "<html lang=\"de\">",
        "Zuerst gesehen",
        "01.03.2026",
        "So bereinigen Sie",
    ] {
        assert!(html.contains(want), "{want} not in {html}");
    }

    // The switch over the header, and its cookie over the header.
    let switched = page("/check?lang=ja", &[("Accept-Language", "de")]);
    assert!(switched.text().contains("<html lang=\"ja\">"));
    let cookie = switched.header("set-cookie").unwrap();
    assert!(cookie.starts_with("lang=ja;"), "{cookie}");
    let kept = page(
        "/check",
        &[("Accept-Language", "de"), ("Cookie", "lang=ja")],
    );
    assert!(kept.text().contains("<html lang=\"ja\">"));
    assert!(kept.header("vary").unwrap().contains("Cookie"));
    // The switch's links.
    assert!(kept.text().contains("href=\"/check?lang=de\""));
    // Nothing usable: English.
    let en = page("/check", &[("Accept-Language", "fr-CH, fr;q=0.9")]);
    assert!(en.text().contains("<html lang=\"en\">") && en.text().contains("First seen"));

    // The JSON answer's cleanup steps follow the language too.
    let v = page("/v1/check", &[("Accept-Language", "de")]).json();
    assert_eq!(v["lang"], "de");
    assert!(
        v["families"][0]["cleanup"][0]
            .as_str()
            .unwrap()
            .contains("Mirai befällt")
    );

    // The scan page.
    let scan = page("/", &[("Accept-Language", "ja")]);
    let html = scan.text();
    for want in [
        "<html lang=\"ja\">",
        "ファイルを選択",
        "data-msg-no-file=\"先にファイルを選択してください。\"",
        "href=\"/check\"",
    ] {
        assert!(html.contains(want), "{want} not in {html}");
    }
    let scan = page("/?lang=de", &[]);
    assert!(scan.text().contains("Dateien auswählen"));
    assert!(scan.text().contains("action=\"/?lang=de\""));
}

#[test]
fn reports_are_checked_at_start_and_reloaded() {
    let t = Tree::new();
    // A report that cannot be read stops the start, named.
    let o = t.run(&[
        "serve",
        "--http",
        "127.0.0.1:0",
        "--no-clamd",
        "--self-check",
        &t.arg("missing-report.csv"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("missing-report.csv"), "{}", stderr(&o));
    let junk = t.write("junk.csv", "just,some\ncsv,text\n");
    let o = t.run(&[
        "serve",
        "--http",
        "127.0.0.1:0",
        "--no-clamd",
        "--self-check",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("junk.csv"), "{}", stderr(&o));

    let srv = server(&t, &["--self-check-rate", "1000/min"]);
    assert_eq!(check_as(&srv, C, "/v1/check").json()["listed"], false);
    // C appears in the report: SIGHUP reads it again.
    let mut text = report();
    text.push_str(&row("2026-03-09 10:00:00", C, "conficker"));
    text.push('\n');
    t.write("event4_sinkhole.csv", text);
    srv.signal(libc::SIGHUP);
    let started = Instant::now();
    loop {
        let v = check_as(&srv, C, "/v1/check").json();
        if v["listed"] == true {
            assert_eq!(v["families"][0]["family"], "conficker");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not reloaded: {}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // And /v1/reload does too; a report gone refuses it, the data stays.
    let a = http_raw(srv.http, &request("POST", "/v1/reload", &[], b""));
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["self_check"]["addresses"], 3);
    std::fs::remove_file(t.path("event4_sinkhole.csv")).unwrap();
    let a = http_raw(srv.http, &request("POST", "/v1/reload", &[], b""));
    assert_eq!(a.status, 422, "{}", a.text());
    assert!(a.text().contains("event4_sinkhole.csv"), "{}", a.text());
    assert_eq!(check_as(&srv, C, "/v1/check").json()["listed"], true);
}

#[test]
fn openapi_documents_the_self_check() {
    let t = Tree::new();
    let srv = server(&t, &[]);
    let v = get(srv.http, "/v1/openapi.json", &[]).json();
    for path in ["/v1/check", "/check"] {
        assert!(v["paths"][path]["get"].is_object(), "{path} not documented");
        assert_eq!(get(srv.http, path, &[]).status, 200, "{path}");
    }
    let schema = &v["paths"]["/v1/check"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let answer = check_as(&srv, A, "/v1/check").json();
    for key in schema["required"].as_array().unwrap() {
        assert!(
            answer.get(key.as_str().unwrap()).is_some(),
            "{key} missing: {answer}"
        );
    }
    for key in answer.as_object().unwrap().keys() {
        assert!(
            schema["properties"].get(key).is_some(),
            "{key} undocumented"
        );
    }
}

#[test]
fn off_by_default() {
    let t = Tree::new();
    let srv = Server::on_loopback(&t, &[]);
    assert_eq!(get(srv.http, "/v1/check", &[]).status, 404);
    assert_eq!(get(srv.http, "/check", &[]).status, 404);
    assert!(!get(srv.http, "/", &[]).text().contains("href=\"/check"));
}

/// A chromium binary, or `None` (skip) when missing, except under CI.
fn chromium() -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join("chromium");
        if p.exists() {
            return Some(p);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install chromium (Debian package chromium)"
    );
    eprintln!("\n\n*** SKIPPED: chromium is not installed (apt-get install chromium) ***\n");
    None
}

/// How long one headless Chromium run may take.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

/// The DOM headless Chromium builds for `url`.
fn dump_dom(chromium: &Path, profile: &Path, extra: &[&str], url: &str) -> String {
    let out = profile.with_extension("dom");
    let err = profile.with_extension("err");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "chromium failed ({status}): {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    std::fs::read_to_string(&out).unwrap()
}

/// A minimal reverse proxy standing in for the internet and the site's
/// own proxy: it listens on 127.0.0.1 and ::1, names each client by the
/// public address its source stands for (127.0.0.1 is A, ::1 is B) in an
/// appended `X-Forwarded-For`, and forwards the request over the same
/// address family to the server, which trusts loopback as a proxy. One
/// request per connection (`Connection: close` both ways).
struct Proxy {
    v4: SocketAddr,
    v6: SocketAddr,
    /// Every client source address seen, with the visitor it stood for.
    seen: Arc<Mutex<Vec<(IpAddr, &'static str)>>>,
}

impl Proxy {
    fn start(upstream_v4: SocketAddr, upstream_v6: SocketAddr) -> Proxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut bound = Vec::new();
        for (listen, upstream, visitor) in
            [("127.0.0.1:0", upstream_v4, A), ("[::1]:0", upstream_v6, B)]
        {
            let l = TcpListener::bind(listen).unwrap();
            bound.push(l.local_addr().unwrap());
            let seen = seen.clone();
            std::thread::spawn(move || {
                for s in l.incoming().map_while(Result::ok) {
                    let seen = seen.clone();
                    std::thread::spawn(move || {
                        let source = s.peer_addr().unwrap().ip();
                        seen.lock().unwrap().push((source, visitor));
                        let _ = forward(s, upstream, visitor);
                    });
                }
            });
        }
        Proxy {
            v4: bound[0],
            v6: bound[1],
            seen,
        }
    }
}

fn forward(client: TcpStream, upstream: SocketAddr, visitor: &str) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || head.len() > 64 << 10 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name == "content-length" {
            length = line[15..].trim().parse().unwrap_or(0);
        }
        if !["connection", "keep-alive", "proxy-connection"].contains(&name.as_str()) {
            head.push_str(&line);
        }
    }
    head.push_str(&format!(
        "X-Forwarded-For: {visitor}\r\nConnection: close\r\n\r\n"
    ));
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(head.as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    let mut client = client;
    client.write_all(&answer)?;
    client.shutdown(std::net::Shutdown::Both)
}

#[test]
fn two_loopback_clients_in_headless_chromium_each_see_only_themselves() {
    let Some(chromium) = chromium() else { return };
    let t = Tree::new();
    let report = t.write("event4_sinkhole.csv", report());
    let srv = Server::start(
        &t,
        &[
            "--http",
            "127.0.0.1:0",
            "--http",
            "[::1]:0",
            "--no-clamd",
            "--self-check",
            report.to_str().unwrap(),
            "--trusted-proxy",
            "127.0.0.1/32",
            "--trusted-proxy",
            "::1/128",
        ],
    );
    let ready: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path("ready.json")).unwrap()).unwrap();
    let v6: SocketAddr = ready["http"][1].as_str().unwrap().parse().unwrap();
    assert!(v6.is_ipv6(), "{ready}");
    let proxy = Proxy::start(srv.http, v6);

    // The IPv4 loopback client, in English.
    let dom4 = dump_dom(
        &chromium,
        &t.path("profile-v4"),
        &[],
        &format!("http://{}/check", proxy.v4),
    );
    assert!(dom4.contains("data-listed=\"true\""), "{dom4}");
    for want in ["mirai", "qbot", "2026-03-01", "2026-03-05", "2026-02-20", A] {
        assert!(dom4.contains(want), "{want} not in {dom4}");
    }
    assert_absent(&dom4, B_ONLY);

    // The IPv6 loopback client, whose browser asks for German.
    let dom6 = dump_dom(
        &chromium,
        &t.path("profile-v6"),
        &["--accept-lang=de"],
        &format!("http://{}/check", proxy.v6),
    );
    assert!(dom6.contains("data-listed=\"true\""), "{dom6}");
    for want in ["emotet", "11.01.2026", "12.01.2026", B, "Zuerst gesehen"] {
        assert!(dom6.contains(want), "{want} not in {dom6}");
    }
    assert_absent(&dom6, A_ONLY);
    assert_absent(&dom6, &["01.03.2026", "05.03.2026", "20.02.2026"]);

    // Each visitor came from the loopback address it stands for.
    let seen = proxy.seen.lock().unwrap().clone();
    let v4_loop: IpAddr = "127.0.0.1".parse().unwrap();
    let v6_loop: IpAddr = "::1".parse().unwrap();
    assert!(
        seen.contains(&(v4_loop, A)) && seen.contains(&(v6_loop, B)),
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|(ip, v)| (*ip == v4_loop) == (*v == A)),
        "{seen:?}"
    );
}
