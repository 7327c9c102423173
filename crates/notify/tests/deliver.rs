//! Delivery end to end: the journal, the outbox and SMTP against a real
//! SMTP server on loopback (aiosmtpd, started by each test on an
//! ephemeral port, writing every message it accepts to a directory, and
//! told to answer 451 or 550 to given recipients).
//!
//! What is proved: one message per notice, byte for byte the prepared
//! one (dot-stuffed lines included), which Python's `email` package
//! parses back without a defect; a 451 retried then delivered; a 550
//! marked failed with the server's reply and never resent; the rate limit
//! per recipient domain; STARTTLS required by default (refused by a
//! server that does not offer it, used with a private CA when it does);
//! outbox idempotence, also when a mail system took a written file away;
//! a foreign file refused as a journal; the journal read back by
//! Python's sqlite3; two concurrent runs on one journal sending no
//! notice twice, and two runs that lock the journal first never
//! journaling the same events twice; a server silent after the end of
//! the message leaving it unconfirmed (it did get it) and never resent
//! unless asked, while a server silent before or a connection refused
//! is a temporary failure; AUTH over STARTTLS with the user from the URL
//! and the password from the options, or both from the options; failed
//! notices requeued and sent.
//!
//! Needs the reference Python with aiosmtpd (`.ci/run` builds `.venv`;
//! or set `TAKEDOWN_PYTHON`) and, for the TLS test, the `openssl`
//! command; skipped with a message without them, except under `CI`,
//! where that fails.

mod util;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use takedown_notify::deliver::{
    self, DeliverOptions, DeliverReport, Entry, Journal, Outbox, PreparedNotice, SendError, Smtp,
    SmtpOptions, State, Transport,
};

/// The SMTP sink: `argv[1]` is a JSON object with `dir` (where each
/// accepted message goes, as `NNNNNN.eml` with `NNNNNN.json` beside it:
/// envelope and time of receipt), `rules` (recipient to `{"reply":
/// "451 ...", "times": n}`, n < 0 for always) and optional `cert`/`key`
/// (then STARTTLS is offered and required), `slow_data` (recipient to
/// `{"seconds": s, "times": n}`: the reply to the final "." is late) and
/// `auth` (user to password, AUTH required). Prints `PORT n` once
/// listening.
const SINK: &str = include_str!("data/smtp_sink.py");

/// Parses each file named on the command line with Python's `email`
/// package (the modern policy) and prints, per file, its Subject, its
/// defects (the message's and every part's), and its parts' types and
/// decoded payloads.
const PARSE: &str = r#"
import email, email.policy, json, sys
out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    defects = [str(d) for part in msg.walk() for d in part.defects]
    parts = [[p.get_content_type(), p.get_content()] for p in msg.walk() if not p.is_multipart()]
    out.append({"subject": msg["Subject"], "to": msg["To"], "defects": defects, "parts": parts})
print(json.dumps(out))
"#;

/// Reads the journal with Python's sqlite3 (SQLite's own library) and
/// prints its integrity check, application id, version, journal mode and
/// every notice's id, state and key blob length.
const READ_JOURNAL: &str = r#"
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
out = {
    "integrity": c.execute("PRAGMA integrity_check").fetchone()[0],
    "application_id": c.execute("PRAGMA application_id").fetchone()[0],
    "user_version": c.execute("PRAGMA user_version").fetchone()[0],
    "journal_mode": c.execute("PRAGMA journal_mode").fetchone()[0],
    "notices": c.execute(
        "SELECT n.id, n.state, length(k.keys) FROM notices n JOIN notice_keys k USING (id) ORDER BY n.id"
    ).fetchall(),
    "intelmq": c.execute(
        "SELECT id, hex(substr(intelmq, 1, 4)), intelmq_exported FROM notices ORDER BY id"
    ).fetchall(),
}
print(json.dumps(out))
"#;

/// The reference Python with aiosmtpd, or `None` (skipped) when there is
/// none; under CI a missing one fails.
fn python() -> Option<PathBuf> {
    util::python_with("aiosmtpd.smtp", "pip install aiosmtpd", &[])
}

/// A running sink; killed when dropped.
struct Sink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sink {
    fn start(
        python: &Path,
        dir: &Path,
        rules: &[(&str, &str, i32)],
        tls: Option<(&Path, &Path)>,
    ) -> Sink {
        Sink::start_with(python, dir, rules, tls, serde_json::json!({}))
    }

    /// With more settings (`slow_data`, `auth`).
    fn start_with(
        python: &Path,
        dir: &Path,
        rules: &[(&str, &str, i32)],
        tls: Option<(&Path, &Path)>,
        extra: serde_json::Value,
    ) -> Sink {
        let out = dir.join("received");
        std::fs::create_dir_all(&out).unwrap();
        let rules: serde_json::Map<String, serde_json::Value> = rules
            .iter()
            .map(|(to, reply, times)| {
                (
                    (*to).to_string(),
                    serde_json::json!({"reply": reply, "times": times}),
                )
            })
            .collect();
        let mut cfg = serde_json::json!({"dir": out, "rules": rules});
        if let Some((cert, key)) = tls {
            cfg["cert"] = serde_json::json!(cert);
            cfg["key"] = serde_json::json!(key);
        }
        if let serde_json::Value::Object(extra) = extra {
            for (k, v) in extra {
                cfg[k] = v;
            }
        }
        let mut child = Command::new(python)
            .args(["-c", SINK, &cfg.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the sink did not start: {line:?}"));
        Sink {
            child,
            port,
            dir: out,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Every message received: (envelope recipients, receipt time, bytes,
    /// file), in order of receipt.
    fn received(&self) -> Vec<Received> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|meta| {
                let m: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
                let eml = meta.with_extension("eml");
                Received {
                    from: m["from"].as_str().unwrap().to_string(),
                    to: m["to"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect(),
                    time: m["time"].as_f64().unwrap(),
                    tls: m["tls"].as_bool().unwrap(),
                    auth: m["auth"].as_str().map(str::to_string),
                    bytes: std::fs::read(&eml).unwrap(),
                    file: eml,
                }
            })
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Received {
    from: String,
    to: Vec<String>,
    time: f64,
    tls: bool,
    auth: Option<String>,
    bytes: Vec<u8>,
    file: PathBuf,
}

/// A MIME message as a notice looks: a text part with lines that start
/// with a dot (SMTP's end-of-data marker, which must be escaped on the
/// wire and unescaped by the server) and a CSV attachment.
fn message(id: &str, to: &str) -> Vec<u8> {
    format!(
        "From: CERT Example <cert@example.org>\r\n\
         To: {to}\r\n\
         Subject: Infected machines in your network ({id})\r\n\
         Message-ID: <{id}@example.org>\r\n\
         Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b-{id}\"\r\n\
         \r\n\
         --b-{id}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 7bit\r\n\
         \r\n\
         Hello,\r\n\
         .\r\n\
         ..two dots\r\n\
         .one dot\r\n\
         notice {id}\r\n\
         \r\n\
         --b-{id}\r\n\
         Content-Type: text/csv; charset=utf-8\r\n\
         Content-Disposition: attachment; filename=\"events.csv\"\r\n\
         \r\n\
         ip,family,day\r\n\
         192.0.2.1,conficker,2026-12-05\r\n\
         \r\n\
         --b-{id}--\r\n"
    )
    .into_bytes()
}

fn notice(id: &str, to: &str) -> PreparedNotice {
    let mut key = [0u8; 16];
    for (k, b) in key.iter_mut().zip(id.bytes()) {
        *k = b;
    }
    PreparedNotice {
        id: id.to_string(),
        to: to.to_string(),
        period: "2026-12-05".into(),
        rule: "override 192.0.2.0/24".into(),
        rows: 1,
        events: 3,
        keys: vec![key],
        subject: format!("Infected machines in your network ({id})"),
        message: message(id, to),
        created: 1_796_464_800,
        intelmq: None,
    }
}

fn journal(dir: &Path, notices: &[(&str, &str)]) -> (Journal, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("journal.sqlite");
    let mut j = Journal::open(&path).unwrap();
    for (id, to) in notices {
        assert!(j.prepare(&notice(id, to)).unwrap());
    }
    (j, path)
}

fn smtp(url: &str) -> Smtp {
    Smtp::new(
        url,
        SmtpOptions {
            from: "cert@example.org".into(),
            timeout: Duration::from_secs(20),
            ..SmtpOptions::default()
        },
    )
    .unwrap()
}

fn quick(retries: u32) -> DeliverOptions {
    DeliverOptions {
        retries,
        backoff: Duration::from_millis(20),
        resend_unconfirmed: false,
    }
}

fn run(j: &mut Journal, t: &mut dyn Transport, o: &DeliverOptions) -> (DeliverReport, Vec<Entry>) {
    let mut seen = Vec::new();
    let r = deliver::deliver(j, t, o, &mut |e| seen.push(e.clone())).unwrap();
    (r, seen)
}

fn entry(j: &Journal, id: &str) -> Entry {
    j.entries()
        .unwrap()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap()
}

fn python_json(python: &Path, script: &str, args: &[&Path]) -> serde_json::Value {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn smtp_sends_each_notice_once_byte_for_byte() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&py, dir.path(), &[], None);
    let notices = [
        ("0a", "abuse@example.net"),
        ("1b", "noc@example.com"),
        ("2c", "abuse@example.net"),
        ("3d", "cert@example.de"),
    ];
    let (mut j, _) = journal(dir.path(), &notices);
    let mut t = smtp(&sink.url());
    let (r, seen) = run(&mut j, &mut t, &quick(0));
    assert_eq!(
        r,
        DeliverReport {
            sent: 4,
            ..DeliverReport::default()
        }
    );
    assert_eq!(
        seen.iter().map(|e| e.state).collect::<Vec<_>>(),
        [State::Sent; 4]
    );

    let got = sink.received();
    assert_eq!(got.len(), 4);
    for ((id, to), r) in notices.iter().zip(&got) {
        assert_eq!(r.from, "cert@example.org");
        assert_eq!(r.to, [to.to_string()]);
        assert!(
            r.bytes == message(id, to),
            "{id}: received\n{}\nprepared\n{}",
            String::from_utf8_lossy(&r.bytes),
            String::from_utf8_lossy(&message(id, to))
        );
        let e = entry(&j, id);
        assert_eq!((e.state, e.attempts), (State::Sent, 1));
        let via = e.via.unwrap();
        assert!(
            via.starts_with(&format!("smtp://127.0.0.1:{}: 250", sink.port)),
            "{via}"
        );
        assert!(via.contains("queued as Q"), "{via}");
    }
    let files: Vec<&Path> = got.iter().map(|r| r.file.as_path()).collect();
    let parsed = python_json(&py, PARSE, &files);
    for ((id, to), p) in notices.iter().zip(parsed.as_array().unwrap()) {
        assert_eq!(p["defects"], serde_json::json!([]), "{id}");
        assert_eq!(
            p["subject"],
            format!("Infected machines in your network ({id})")
        );
        assert_eq!(p["to"], *to);
        let parts = p["parts"].as_array().unwrap();
        assert_eq!(parts[0][0], "text/plain");
        assert_eq!(
            parts[0][1],
            format!("Hello,\r\n.\r\n..two dots\r\n.one dot\r\nnotice {id}\r\n")
        );
        assert_eq!(parts[1][0], "text/csv");
        assert_eq!(
            parts[1][1],
            "ip,family,day\r\n192.0.2.1,conficker,2026-12-05\r\n"
        );
    }

    // A later run, even one told to resend what is in doubt, sends nothing.
    let o = DeliverOptions {
        resend_unconfirmed: true,
        ..quick(0)
    };
    let (r, seen) = run(&mut j, &mut t, &o);
    assert_eq!((r, seen.len()), (DeliverReport::default(), 0));
    assert_eq!(sink.received().len(), 4);
}

#[test]
fn smtp_retries_a_451_then_delivers_once() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(
        &py,
        dir.path(),
        &[("busy@example.net", "451 4.3.0 Mailbox busy, try later", 2)],
        None,
    );
    let (mut j, _) = journal(
        dir.path(),
        &[("0a", "busy@example.net"), ("1b", "ok@example.com")],
    );
    let mut t = smtp(&sink.url());
    let start = Instant::now();
    let (r, _) = run(&mut j, &mut t, &quick(3));
    assert_eq!(
        r,
        DeliverReport {
            sent: 2,
            ..DeliverReport::default()
        }
    );
    // Backed off 20 ms, then 40 ms.
    assert!(start.elapsed() >= Duration::from_millis(60));
    let e = entry(&j, "0a");
    assert_eq!((e.state, e.attempts), (State::Sent, 3));
    assert!(e.last_error.unwrap().contains("451"));
    let got = sink.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].to, ["busy@example.net"]);
    assert_eq!(got[0].bytes, message("0a", "busy@example.net"));

    // Retries exhausted: left TempFailed for a later run, which sends it.
    let dir2 = tempfile::tempdir().unwrap();
    let sink = Sink::start(
        &py,
        dir2.path(),
        &[("busy@example.net", "421 4.7.0 Too busy", 3)],
        None,
    );
    let (mut j, _) = journal(dir2.path(), &[("0a", "busy@example.net")]);
    let mut t = smtp(&sink.url());
    let (r, seen) = run(&mut j, &mut t, &quick(1));
    assert_eq!(
        r,
        DeliverReport {
            temp_failed: 1,
            ..DeliverReport::default()
        }
    );
    assert_eq!(seen[0].state, State::TempFailed);
    assert_eq!(seen[0].attempts, 2);
    assert!(sink.received().is_empty());
    let (r, _) = run(&mut j, &mut t, &quick(1));
    assert_eq!(
        r,
        DeliverReport {
            sent: 1,
            ..DeliverReport::default()
        }
    );
    assert_eq!(sink.received().len(), 1);
    assert_eq!(entry(&j, "0a").attempts, 4);
}

#[test]
fn smtp_550_is_failed_and_never_resent() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(
        &py,
        dir.path(),
        &[("gone@example.net", "550 5.1.1 No such user here", -1)],
        None,
    );
    let (mut j, path) = journal(
        dir.path(),
        &[("0a", "gone@example.net"), ("1b", "ok@example.com")],
    );
    let mut t = smtp(&sink.url());
    let (r, seen) = run(&mut j, &mut t, &quick(3));
    assert_eq!(
        r,
        DeliverReport {
            sent: 1,
            failed: 1,
            ..DeliverReport::default()
        }
    );
    assert_eq!(seen[0].state, State::Failed);
    let e = entry(&j, "0a");
    assert_eq!((e.state, e.attempts), (State::Failed, 1));
    let why = e.last_error.unwrap();
    assert!(
        why.contains("550") && why.contains("No such user here"),
        "{why}"
    );
    drop(j);

    // A later run, in another journal handle, resends nothing.
    let mut j = Journal::open(&path).unwrap();
    let o = DeliverOptions {
        resend_unconfirmed: true,
        ..quick(3)
    };
    let (r, _) = run(&mut j, &mut t, &o);
    assert_eq!(r, DeliverReport::default());
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["ok@example.com"]);
    assert_eq!(entry(&j, "0a").state, State::Failed);
}

#[test]
fn smtp_rate_limit_per_recipient_domain() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&py, dir.path(), &[], None);
    let notices = [
        ("0a", "a@one.example"),
        ("0b", "b@ONE.example"),
        ("0c", "c@one.example"),
        ("1a", "a@two.example"),
        ("1b", "b@two.example"),
    ];
    let (mut j, _) = journal(dir.path(), &notices);
    // 150 a minute: 400 ms apart per domain.
    let mut t = Smtp::new(
        &sink.url(),
        SmtpOptions {
            from: "cert@example.org".into(),
            per_domain_per_minute: 150,
            timeout: Duration::from_secs(20),
            ..SmtpOptions::default()
        },
    )
    .unwrap();
    let (r, _) = run(&mut j, &mut t, &quick(0));
    assert_eq!(r.sent, 5);
    let got = sink.received();
    let t: Vec<f64> = got.iter().map(|r| r.time).collect();
    // Same domain: at least the gap (less a little for the clocks).
    for (a, b) in [(0, 1), (1, 2), (3, 4)] {
        assert!(t[b] - t[a] >= 0.35, "{a}->{b}: {:?}", t);
    }
    // Another domain does not wait for the first one's gap.
    assert!(t[3] - t[2] < 0.3, "{t:?}");
}

#[test]
fn smtp_requires_starttls_by_default_and_takes_a_private_ca() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = certificates(dir.path()) else {
        return;
    };

    // A server without STARTTLS: nothing is sent in clear.
    let plain = Sink::start(&py, &dir.path().join("plain"), &[], None);
    let (mut j, _) = journal(&dir.path().join("plain"), &[("0a", "abuse@example.net")]);
    let mut t = Smtp::new(
        &format!("smtp://127.0.0.1:{}", plain.port),
        SmtpOptions {
            from: "cert@example.org".into(),
            timeout: Duration::from_secs(20),
            tls_ca: Some(ca.clone()),
            ..SmtpOptions::default()
        },
    )
    .unwrap();
    let (r, _) = run(&mut j, &mut t, &quick(0));
    assert_eq!(r.temp_failed, 1);
    assert!(plain.received().is_empty());
    let why = entry(&j, "0a").last_error.unwrap();
    assert!(why.to_lowercase().contains("starttls"), "{why}");

    // STARTTLS with the private CA: sent, encrypted.
    let tls = Sink::start(&py, &dir.path().join("tls"), &[], Some((&cert, &key)));
    let (mut j, _) = journal(&dir.path().join("tls"), &[("0a", "abuse@example.net")]);
    let mut t = Smtp::new(
        &format!("smtp://127.0.0.1:{}", tls.port),
        SmtpOptions {
            from: "cert@example.org".into(),
            timeout: Duration::from_secs(20),
            tls_ca: Some(ca),
            ..SmtpOptions::default()
        },
    )
    .unwrap();
    let (r, _) = run(&mut j, &mut t, &quick(0));
    assert_eq!(r.sent, 1, "{:?}", entry(&j, "0a").last_error);
    let got = tls.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    assert_eq!(got[0].bytes, message("0a", "abuse@example.net"));

    // The same server, trusted through Mozilla's roots only: refused.
    let (mut j, _) = journal(&dir.path().join("tls2"), &[("0a", "abuse@example.net")]);
    let mut t = smtp(&format!("smtp://127.0.0.1:{}", tls.port));
    let (r, _) = run(&mut j, &mut t, &quick(0));
    assert_eq!(r.temp_failed, 1);
    assert_eq!(tls.received().len(), 1);
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with
/// the `openssl` command: (CA file, certificate, key). `None` (skipped)
/// without the command; under CI that fails.
fn certificates(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map(|o| {
                assert!(
                    o.status.success(),
                    "openssl {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            })
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let ca = [
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Test CA",
        ],
    ]
    .concat();
    if let Err(e) = openssl(&ca) {
        let why = format!("no openssl command: {e}");
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "req.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ])
    .unwrap();
    Some((
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    ))
}

#[test]
fn two_runs_on_one_journal_never_send_a_notice_twice() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&py, dir.path(), &[], None);
    let ids: Vec<String> = (0..24).map(|i| format!("{i:04x}")).collect();
    let notices: Vec<(&str, &str)> = ids
        .iter()
        .map(|i| (i.as_str(), "abuse@example.net"))
        .collect();
    let (j, path) = journal(dir.path(), &notices);
    drop(j);
    let url = sink.url();
    let runs: Vec<DeliverReport> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut j = Journal::open(&path).unwrap();
                    let mut t = smtp(&url);
                    // Told to resend what is in doubt: another run's
                    // notice in Sending must still not be taken.
                    let o = DeliverOptions {
                        resend_unconfirmed: true,
                        ..quick(0)
                    };
                    deliver::deliver(&mut j, &mut t, &o, &mut |_| {}).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(runs.iter().map(|r| r.sent).sum::<u64>(), 24, "{runs:?}");
    assert_eq!(
        runs.iter().map(|r| r.unconfirmed).sum::<u64>(),
        0,
        "{runs:?}"
    );
    let got = sink.received();
    let mut count = BTreeMap::new();
    for r in &got {
        let text = String::from_utf8_lossy(&r.bytes).into_owned();
        let id = text
            .split("Message-ID: <")
            .nth(1)
            .and_then(|s| s.split('@').next())
            .unwrap()
            .to_string();
        *count.entry(id).or_insert(0) += 1;
    }
    assert_eq!(count.len(), 24);
    assert!(count.values().all(|&n| n == 1), "{count:?}");
}

#[test]
fn outbox_writes_once_and_redoes_harmlessly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("outbox");
    let (mut j, path) = journal(
        dir.path(),
        &[("0a", "abuse@example.net"), ("1b", "noc@example.com")],
    );
    let mut o = Outbox::new(&out).unwrap();
    let (r, _) = run(&mut j, &mut o, &quick(0));
    assert_eq!(r.sent, 2);
    let first = std::fs::read(out.join("0a.eml")).unwrap();
    assert_eq!(first, message("0a", "abuse@example.net"));
    let via = entry(&j, "0a").via.unwrap();
    assert!(
        via.starts_with("outbox:/") && via.ends_with("outbox"),
        "{via}"
    );

    // A run killed after the journal said Sending, and after the file was
    // written: redone, the same file counts as done.
    let (mut j2, _) = journal(&dir.path().join("again"), &[("0a", "abuse@example.net")]);
    assert_eq!(run(&mut j2, &mut o, &quick(0)).0.sent, 1);
    assert_eq!(std::fs::read(out.join("0a.eml")).unwrap(), first);

    // Another notice's bytes under that name: never overwritten.
    let dir3 = tempfile::tempdir().unwrap();
    let mut j3 = Journal::open(&dir3.path().join("j")).unwrap();
    let mut other = notice("0a", "abuse@example.net");
    other.message = b"Subject: other\r\n\r\nother\r\n".to_vec();
    j3.prepare(&other).unwrap();
    let (r, _) = run(&mut j3, &mut o, &quick(1));
    assert_eq!(r.temp_failed, 1);
    let why = entry(&j3, "0a").last_error.unwrap();
    assert!(
        why.contains("0a.eml") && why.contains("not overwritten"),
        "{why}"
    );
    assert_eq!(std::fs::read(out.join("0a.eml")).unwrap(), first);

    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [".delivered", "0a.eml", "1b.eml"]);
    drop(j);
    assert_eq!(Journal::open(&path).unwrap().entries().unwrap().len(), 2);

    // A run killed after writing 0a (the journal still says Sending),
    // and a mail system that took the file away before the rerun: the
    // rerun counts it as done and does not write it again.
    std::fs::remove_file(out.join("0a.eml")).unwrap();
    std::fs::remove_file(out.join("1b.eml")).unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute("UPDATE notices SET state = 'sending' WHERE id = '0a'", [])
        .unwrap();
    drop(db);
    let mut j = Journal::open(&path).unwrap();
    let (r, seen) = run(&mut j, &mut o, &quick(0));
    assert_eq!((r.sent, r.unconfirmed, seen.len()), (1, 0, 1));
    let e = entry(&j, "0a");
    assert_eq!((e.state, e.attempts), (State::Sent, 2));
    assert!(e.via.unwrap().contains("picked up"));
    assert!(!out.join("0a.eml").exists());
}

/// Two runs as the command makes them: lock the journal, read the keys
/// already notified, journal a notice for the events not notified yet
/// (each run grouping them into a notice of its own id), deliver. The
/// lock makes each run see the other's notice: the events are journaled
/// and sent once. And `deliver` under a lock the journal already holds
/// does not wait for itself.
#[test]
fn runs_that_lock_first_never_notify_the_same_events_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let out = dir.path().join("outbox");
    drop(Journal::open(&path).unwrap());
    let key = [7u8; 16];
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let (done, finished) = std::sync::mpsc::channel();
    // Detached threads: a run stuck on its own lock must fail the test,
    // not hang it.
    for run_id in ["0a", "1b"] {
        let (path, out, barrier, done) = (path.clone(), out.clone(), barrier.clone(), done.clone());
        std::thread::spawn(move || {
            let mut j = Journal::open(&path).unwrap();
            barrier.wait();
            j.lock().unwrap();
            let known = j.notified_keys().unwrap();
            // Both runs' reports hold the event: let the other run read
            // the keys too, if it could.
            std::thread::sleep(Duration::from_millis(200));
            if !known.contains(&key) {
                let mut n = notice(run_id, "abuse@example.net");
                n.keys = vec![key];
                assert!(j.prepare(&n).unwrap());
            }
            let mut o = Outbox::new(&out).unwrap();
            deliver::deliver(&mut j, &mut o, &quick(0), &mut |_| {}).unwrap();
            done.send(()).unwrap();
        });
    }
    // Without the lock held by the journal itself, deliver would wait
    // for it forever (a second flock from this process).
    for _ in 0..2 {
        finished
            .recv_timeout(Duration::from_secs(30))
            .expect("a run did not finish: deliver waited for its own lock?");
    }
    let j = Journal::open(&path).unwrap();
    let entries = j.entries().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].state, State::Sent);
    let emls = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "eml")
        })
        .count();
    assert_eq!(emls, 1);
}

/// A server that takes the message, then answers the final "." after
/// the timeout: the notice stays Sending (unconfirmed), is reported, is
/// not retried, and a later run resends it only when told to.
#[test]
fn smtp_silent_after_the_message_leaves_it_unconfirmed() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start_with(
        &py,
        dir.path(),
        &[],
        None,
        serde_json::json!({"slow_data": {"slow@example.net": {"seconds": 4, "times": 1}}}),
    );
    let (mut j, _) = journal(
        dir.path(),
        &[("0a", "slow@example.net"), ("1b", "ok@example.com")],
    );
    let mut t = Smtp::new(
        &sink.url(),
        SmtpOptions {
            from: "cert@example.org".into(),
            timeout: Duration::from_secs(1),
            ..SmtpOptions::default()
        },
    )
    .unwrap();
    let (r, seen) = run(&mut j, &mut t, &quick(3));
    assert_eq!(
        r,
        DeliverReport {
            sent: 1,
            unconfirmed: 1,
            ..DeliverReport::default()
        }
    );
    assert_eq!(seen[0].state, State::Sending);
    let e = entry(&j, "0a");
    assert_eq!((e.state, e.attempts), (State::Sending, 1));
    let why = e.last_error.unwrap();
    assert!(why.contains("may have accepted"), "{why}");
    // The server did get it, once: a retry would have been a copy.
    let got = sink.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].to, ["slow@example.net"]);
    assert_eq!(got[0].bytes, message("0a", "slow@example.net"));

    let (r, _) = run(&mut j, &mut t, &quick(3));
    assert_eq!((r.sent, r.unconfirmed), (0, 1));
    assert_eq!(sink.received().len(), 2);
    let o = DeliverOptions {
        resend_unconfirmed: true,
        ..quick(0)
    };
    let (r, _) = run(&mut j, &mut t, &o);
    assert_eq!((r.sent, r.unconfirmed), (1, 0));
    assert_eq!(sink.received().len(), 3);
    assert_eq!(entry(&j, "0a").state, State::Sent);
}

/// Before the message went, nothing can have been delivered: a server
/// silent from the start (past the timeout) and a port nobody listens on
/// are temporary failures, retried, never unconfirmed.
#[test]
fn smtp_failures_before_the_message_are_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    for (name, port) in [
        ("silent", silent.local_addr().unwrap().port()),
        ("closed", closed_port),
    ] {
        let (mut j, _) = journal(&dir.path().join(name), &[("0a", "abuse@example.net")]);
        let mut t = Smtp::new(
            &format!("smtp://127.0.0.1:{port}?tls=none"),
            SmtpOptions {
                from: "cert@example.org".into(),
                timeout: Duration::from_millis(500),
                ..SmtpOptions::default()
            },
        )
        .unwrap();
        let (r, _) = run(&mut j, &mut t, &quick(1));
        assert_eq!(
            r,
            DeliverReport {
                temp_failed: 1,
                ..DeliverReport::default()
            },
            "{name}"
        );
        let e = entry(&j, "0a");
        assert_eq!((e.state, e.attempts), (State::TempFailed, 2), "{name}");
    }
}

/// AUTH over STARTTLS (never in clear), the user from the URL and the
/// password from the options, or both from the options; a wrong password
/// is a temporary failure (our configuration, not the recipient's).
#[test]
fn smtp_logs_in_with_the_url_user_and_the_options_password() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = certificates(dir.path()) else {
        return;
    };
    let sink = Sink::start_with(
        &py,
        &dir.path().join("sink"),
        &[],
        Some((&cert, &key)),
        serde_json::json!({"auth": {"cert": "s3cret p@ss"}}),
    );
    let with = |url: String, credentials: Option<(&str, &str)>| {
        Smtp::new(
            &url,
            SmtpOptions {
                from: "cert@example.org".into(),
                timeout: Duration::from_secs(20),
                tls_ca: Some(ca.clone()),
                credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
                ..SmtpOptions::default()
            },
        )
        .unwrap()
    };
    let port = sink.port;
    for (n, url, credentials) in [
        (
            1,
            format!("smtp://cert@127.0.0.1:{port}"),
            Some(("", "s3cret p@ss")),
        ),
        (
            2,
            format!("smtp://127.0.0.1:{port}"),
            Some(("cert", "s3cret p@ss")),
        ),
        (
            3,
            format!("smtp://cert:s3cret%20p%40ss@127.0.0.1:{port}"),
            None,
        ),
    ] {
        let (mut j, _) = journal(
            &dir.path().join(format!("j{n}")),
            &[("0a", "abuse@example.net")],
        );
        let (r, _) = run(&mut j, &mut with(url, credentials), &quick(0));
        assert_eq!(r.sent, 1, "{n}: {:?}", entry(&j, "0a").last_error);
        let got = sink.received();
        assert_eq!(got.len(), n);
        assert_eq!(got[n - 1].auth.as_deref(), Some("cert"));
        assert!(got[n - 1].tls);
    }
    let (mut j, _) = journal(&dir.path().join("wrong"), &[("0a", "abuse@example.net")]);
    let url = format!("smtp://cert@127.0.0.1:{port}");
    let (r, _) = run(&mut j, &mut with(url, Some(("", "wrong"))), &quick(0));
    assert_eq!(r.temp_failed, 1);
    let why = entry(&j, "0a").last_error.unwrap();
    assert!(why.contains("535"), "{why}");
    assert_eq!(sink.received().len(), 3);
}

/// A notice refused for good, requeued once the cause is fixed, goes
/// out on the next run.
#[test]
fn smtp_requeued_failures_are_sent() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(
        &py,
        dir.path(),
        &[("gone@example.net", "550 5.1.1 No such user here", 1)],
        None,
    );
    let (mut j, _) = journal(dir.path(), &[("0a", "gone@example.net")]);
    let mut t = smtp(&sink.url());
    assert_eq!(run(&mut j, &mut t, &quick(0)).0.failed, 1);
    assert_eq!(run(&mut j, &mut t, &quick(0)).0, DeliverReport::default());
    assert_eq!(j.requeue(&[State::Failed], &["0a".into()]).unwrap(), 1);
    let e = entry(&j, "0a");
    assert_eq!((e.state, e.attempts), (State::Prepared, 1));
    assert!(e.last_error.unwrap().contains("550"));
    let (r, _) = run(&mut j, &mut t, &quick(0));
    assert_eq!(r.sent, 1);
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bytes, message("0a", "gone@example.net"));
}

#[test]
fn foreign_files_are_not_journals() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("picture.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let err = Journal::open(&png).unwrap_err().to_string();
    assert!(
        err.contains("picture.png") && err.contains("not a takedown notify journal"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&png).unwrap(),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
    );
    // No side files were made beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_journal_reads_back_with_python_sqlite3() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut j, path) = journal(
        dir.path(),
        &[("0a", "abuse@example.net"), ("1b", "noc@example.com")],
    );
    let mut many = notice("2c", "x@example.org");
    many.keys = (0..1000u32)
        .map(|i| {
            let mut k = [0u8; 16];
            k[..4].copy_from_slice(&i.to_be_bytes());
            k
        })
        .collect();
    many.intelmq = Some(b"{\"source.ip\": \"192.0.2.1\"}\n".to_vec());
    j.prepare(&many).unwrap();
    let mut o = Outbox::new(&dir.path().join("out")).unwrap();
    let mut failing = Failing;
    run(&mut j, &mut o, &quick(0));
    j.prepare(&notice("3d", "y@example.org")).unwrap();
    run(&mut j, &mut failing, &quick(0));
    let v = python_json(&py, READ_JOURNAL, &[&path]);
    assert_eq!(v["integrity"], "ok");
    assert_eq!(v["application_id"], 0x544b_4e4a);
    assert_eq!(v["user_version"], 1);
    assert_eq!(v["journal_mode"], "wal");
    assert_eq!(
        v["notices"],
        serde_json::json!([
            ["0a", "sent", 16],
            ["1b", "sent", 16],
            ["2c", "sent", 16000],
            ["3d", "failed", 16]
        ])
    );
    assert_eq!(j.notified_keys().unwrap().len(), 1003);
    assert_eq!(
        v["intelmq"],
        serde_json::json!([
            ["0a", "", 0],
            ["1b", "", 0],
            // Kept as a zstd frame (its magic number), read back whole.
            ["2c", "28B52FFD", 0],
            ["3d", "", 0]
        ])
    );
    assert_eq!(
        j.unexported_intelmq().unwrap(),
        [(
            "2c".to_string(),
            b"{\"source.ip\": \"192.0.2.1\"}\n".to_vec()
        )]
    );
    j.mark_intelmq_exported(&["2c".into()]).unwrap();
    let v = python_json(&py, READ_JOURNAL, &[&path]);
    assert_eq!(v["intelmq"][2][2], 1);
}

/// Refuses everything for good.
struct Failing;

impl Transport for Failing {
    fn name(&self) -> String {
        "failing".into()
    }
    fn send(&mut self, _: &str, _: &str, _: &[u8]) -> Result<String, SendError> {
        Err(SendError::Permanent("554 no".into()))
    }
}

/// Ten million keys load in a few seconds (a thousand notices of ten
/// thousand keys each; about 160 MB of journal).
#[test]
#[ignore = "writes 160 MB; run with --ignored (and --release) to measure"]
fn ten_million_keys_load_fast() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.sqlite");
    let mut j = Journal::open(&path).unwrap();
    let mut n = notice("x", "a@example.net");
    for i in 0..1000u32 {
        n.id = format!("{i:08x}");
        n.keys = (0..10_000u32)
            .map(|k| {
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&i.to_be_bytes());
                key[4..8].copy_from_slice(&k.to_be_bytes());
                key[8..].copy_from_slice(&(i ^ k).to_le_bytes().repeat(2));
                key
            })
            .collect();
        j.prepare(&n).unwrap();
    }
    drop(j);
    let start = Instant::now();
    let keys = Journal::open(&path).unwrap().notified_keys().unwrap();
    let took = start.elapsed();
    eprintln!("10,000,000 keys loaded in {took:?}");
    assert_eq!(keys.len(), 10_000_000);
    assert!(took < Duration::from_secs(10), "{took:?}");
}
