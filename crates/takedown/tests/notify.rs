//! `takedown notify` end to end: Shadowserver reports to notices, one
//! per contact and period, delivered to an outbox or a real SMTP server
//! (aiosmtpd on loopback) exactly once, also across a
//! kill at every step of the protocol; messages read back with Python's
//! `email` package.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use util::{Tree, code, run_with_timeout, stderr, stdout};

/// The current Shadowserver sinkhole event report's header (the
/// `event4_sinkhole` layout).
const HEADER: &str = "\"timestamp\",\"protocol\",\"src_ip\",\"src_port\",\"src_asn\",\"src_geo\",\"src_region\",\"src_city\",\"src_hostname\",\"src_naics\",\"src_sector\",\"device_vendor\",\"device_type\",\"device_model\",\"dst_ip\",\"dst_port\",\"dst_asn\",\"dst_geo\",\"dst_region\",\"dst_city\",\"dst_hostname\",\"dst_naics\",\"dst_sector\",\"public_source\",\"infection\",\"family\",\"tag\",\"application\",\"version\",\"event_id\"";

/// One report row: `time` as Shadowserver writes it (`2026-12-05
/// 10:00:00`), the infected address, its port and family.
fn row(time: &str, ip: &str, port: u16, family: &str) -> String {
    format!(
        "\"{time}\",\"tcp\",\"{ip}\",{port},,,,,,,,,,,\"185.220.0.80\",80,,,,,,,,\"sinkhole\",\"{family}\",\"{family}\",,,,\n"
    )
}

fn report(rows: &[String]) -> String {
    let mut s = format!("{HEADER}\n");
    for r in rows {
        s.push_str(r);
    }
    s
}

/// Three networks, three contacts; a fourth network has none. The
/// addresses are public ones (those of MaxMind's test databases): the
/// documentation ranges are special-purpose addresses, never notified.
const OVERRIDES: &str = "network,address,comment\n\
81.2.69.0/24,abuse@isp-a.example,ISP A\n\
89.160.20.0/25,abuse@isp-b.example,ISP B\n\
2a02:cf40:1::/48,noc@isp-c.example,ISP C\n";

/// The events of the tests: two contacts on one day, one on another,
/// a repeated (address, family, day), a private address, and an address
/// with no contact.
fn rows() -> Vec<String> {
    vec![
        row("2026-12-05 10:00:00", "81.2.69.142", 49152, "nymaim"),
        row("2026-12-05 11:00:00", "81.2.69.142", 49153, "nymaim"),
        row("2026-12-05 12:00:00", "81.2.69.160", 50000, "tinba"),
        row("2026-12-05 12:30:00", "89.160.20.112", 50001, "dridex"),
        row("2026-12-06 01:00:00", "2a02:cf40:1::42", 50002, "gozi"),
        row("2026-12-05 13:00:00", "10.1.2.3", 50003, "nymaim"),
        row("2026-12-05 14:00:00", "175.16.199.7", 50004, "nymaim"),
    ]
}

struct Setup {
    tree: Tree,
}

impl Setup {
    fn new() -> Setup {
        let tree = Tree::new();
        tree.write("overrides.csv", OVERRIDES);
        tree.write("report.csv", report(&rows()));
        Setup { tree }
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = [
            "notify",
            "--contacts",
            &self.tree.arg("overrides.csv"),
            "--no-national-certs",
            "--journal",
            &self.tree.arg("journal.sqlite3"),
            "--from",
            "CERT Example <cert@cert.example>",
            "--org",
            "CERT Example",
            "--scan-url",
            "https://scan.example/",
            "--format",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    fn cmd(&self, extra: &[&str]) -> Command {
        let mut c = self.tree.cmd();
        c.args(self.args(extra));
        c
    }

    fn run(&self, extra: &[&str]) -> Output {
        run_with_timeout(self.cmd(extra), 120)
    }

    /// `takedown notify status --journal J ARGS`.
    fn status(&self, args: &[&str]) -> Output {
        let journal = self.tree.arg("journal.sqlite3");
        let mut all = vec!["notify", "status", "--journal", &journal];
        all.extend_from_slice(args);
        self.tree.run(&all)
    }

    fn outbox(&self) -> BTreeMap<String, Vec<u8>> {
        read_dir_eml(&self.tree.path("outbox"))
    }
}

fn read_dir_eml(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "eml") {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            out.insert(name, std::fs::read(&p).unwrap());
        }
    }
    out
}

fn summary(o: &Output) -> serde_json::Value {
    let s = stdout(o);
    let line = s
        .lines()
        .rev()
        .find(|l| l.contains("notify-summary"))
        .unwrap_or_else(|| panic!("no summary:\n{s}\n{}", stderr(o)));
    serde_json::from_str(line).unwrap()
}

/// Reads messages back with Python's `email` package: per message the
/// To and Subject headers, the X-Takedown-Notice id, the CSV
/// attachment's rows and the number of X-ARF parts.
const PARSE: &str = r#"
import csv, email, email.policy, io, json, sys
out = []
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    assert m.defects == [], (path, m.defects)
    rows, xarf, body = [], 0, None
    for part in m.walk():
        if part.is_multipart():
            continue
        ct = part.get_content_type()
        name = part.get_filename()
        if ct == 'text/csv':
            rows = list(csv.DictReader(io.StringIO(part.get_content())))
        elif ct == 'application/json':
            json.loads(part.get_content() if isinstance(part.get_content(), str) else part.get_content().decode())
            xarf += 1
        elif ct == 'text/plain' and body is None:
            body = part.get_content()
    out.append({'path': path, 'to': str(m['To']), 'subject': str(m['Subject']),
                'id': str(m['X-Takedown-Notice']), 'message_id': str(m['Message-ID']),
                'rows': rows, 'xarf': xarf, 'body': body})
print(json.dumps(out))
"#;

fn parse_messages(paths: &[PathBuf]) -> Option<Vec<serde_json::Value>> {
    let python = util::reference_python()?;
    let args: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    let out = util::run_python(&python, PARSE, &args);
    Some(serde_json::from_str(&out).unwrap())
}

#[test]
fn reports_become_one_notice_per_contact_and_day_read_back_by_python() {
    let s = Setup::new();
    let o = s.run(&["--outbox", &s.tree.arg("outbox"), &s.tree.arg("report.csv")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let sum = summary(&o);
    assert_eq!(sum["events"], 7, "{sum}");
    assert_eq!(sum["not_notifiable"], 1, "{sum}");
    assert_eq!(sum["no_contact"], 1, "{sum}");
    assert_eq!(sum["duplicates"], 1, "{sum}");
    // ISP A on the 5th (two addresses), ISP B on the 5th, ISP C on the
    // 6th.
    assert_eq!(sum["notices"], 3, "{sum}");
    assert_eq!(sum["notice_rows"], 4, "{sum}");
    assert_eq!(sum["delivered"], 3, "{sum}");
    let outbox = s.outbox();
    assert_eq!(outbox.len(), 3);
    let err = stderr(&o);
    assert!(
        !err.contains("10.1.2.3") || err.contains("not notifiable"),
        "{err}"
    );

    let paths: Vec<PathBuf> = outbox
        .keys()
        .map(|id| s.tree.path(&format!("outbox/{id}.eml")))
        .collect();
    let Some(msgs) = parse_messages(&paths) else {
        return;
    };
    let mut by_to: BTreeMap<String, &serde_json::Value> = BTreeMap::new();
    for m in &msgs {
        let id = m["id"].as_str().unwrap();
        assert!(
            m["path"].as_str().unwrap().ends_with(&format!("{id}.eml")),
            "{m}"
        );
        assert!(m["message_id"].as_str().unwrap().contains(id), "{m}");
        by_to.insert(m["to"].as_str().unwrap().to_string(), m);
    }
    assert_eq!(
        by_to.keys().cloned().collect::<Vec<_>>(),
        [
            "abuse@isp-a.example",
            "abuse@isp-b.example",
            "noc@isp-c.example"
        ]
    );
    let a = by_to["abuse@isp-a.example"];
    let ips: BTreeSet<&str> = a["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ip"].as_str().or(r["address"].as_str()).unwrap())
        .collect();
    assert_eq!(ips, BTreeSet::from(["81.2.69.142", "81.2.69.160"]), "{a}");
    assert_eq!(a["xarf"], 2, "one X-ARF report per row: {a}");
    let body = a["body"].as_str().unwrap();
    assert!(body.contains("81.2.69.142"), "{body}");
    assert!(body.contains("https://scan.example/"), "{body}");
    assert!(body.contains("81.2.69.0/24"), "the rule is named: {body}");
    assert!(
        !body.contains("89.160.20.112"),
        "another contact's address: {body}"
    );
}

#[test]
fn a_rerun_notifies_nothing_twice_and_new_events_make_new_notices() {
    let s = Setup::new();
    let outbox = s.tree.arg("outbox");
    let first = s.run(&["--outbox", &outbox, &s.tree.arg("report.csv")]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let before = s.outbox();
    let again = s.run(&["--outbox", &outbox, &s.tree.arg("report.csv")]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    let sum = summary(&again);
    assert_eq!(sum["notices"], 0, "{sum}");
    assert_eq!(sum["already_notified"], 5, "{sum}");
    assert_eq!(s.outbox(), before, "nothing rewritten, nothing added");

    // A second report repeats one event of the first (another port,
    // another hour, same address, family and day) and adds one.
    s.tree.write(
        "report2.csv",
        report(&[
            row("2026-12-05 23:59:59", "81.2.69.142", 40000, "nymaim"),
            row("2026-12-05 09:00:00", "81.2.69.142", 40001, "tinba"),
        ]),
    );
    let third = s.run(&["--outbox", &outbox, &s.tree.arg("report2.csv")]);
    assert_eq!(code(&third), 0, "{}", stderr(&third));
    let sum = summary(&third);
    assert_eq!(sum["already_notified"], 1, "{sum}");
    assert_eq!(sum["notices"], 1, "{sum}");
    let after = s.outbox();
    assert_eq!(after.len(), before.len() + 1);

    let st = s.status(&["--format", "json"]);
    assert_eq!(code(&st), 0, "{}", stderr(&st));
    let entries: Vec<serde_json::Value> = stdout(&st)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 4);
    assert!(entries.iter().all(|e| e["state"] == "sent"), "{entries:?}");
    let text = s.status(&[]);
    assert!(
        stdout(&text).contains("4 notices: 4 sent"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn same_input_same_notices_whatever_the_order_of_the_rows() {
    let a = Setup::new();
    let b = Setup::new();
    let mut reversed = rows();
    reversed.reverse();
    b.tree.write("report.csv", report(&reversed));
    for s in [&a, &b] {
        let o = s.run(&["--outbox", &s.tree.arg("outbox"), &s.tree.arg("report.csv")]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let ids = |s: &Setup| s.outbox().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        ids(&a),
        ids(&b),
        "notice ids depend on the events, not their order"
    );
}

#[test]
fn bad_inputs_are_named_and_the_rest_is_notified() {
    let s = Setup::new();
    s.tree.write("junk.csv", "this is not a report\n");
    s.tree.write(
        "broken.csv",
        format!("{HEADER}\n\"2026-12-05 10:00:00\",\"tcp\",\"999.1.1.1\"\n"),
    );
    let o = s.run(&[
        "--outbox",
        &s.tree.arg("outbox"),
        &s.tree.arg("junk.csv"),
        &s.tree.arg("broken.csv"),
        &s.tree.arg("report.csv"),
    ]);
    assert_eq!(code(&o), 2, "an unreadable report is an error");
    let err = stderr(&o);
    assert!(err.contains("junk.csv"), "{err}");
    assert!(err.contains("broken.csv:2"), "{err}");
    assert_eq!(s.outbox().len(), 3, "the good report is still notified");

    // A journal that is not one is refused, naming it; nothing sent.
    s.tree.write("not-a-journal", "hello");
    let mut args = s.args(&[
        "--outbox",
        &s.tree.arg("outbox2"),
        &s.tree.arg("report.csv"),
    ]);
    let at = args.iter().position(|a| a == "--journal").unwrap();
    args[at + 1] = s.tree.arg("not-a-journal");
    let mut c = s.tree.cmd();
    c.args(&args);
    let o = run_with_timeout(c, 60);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("not-a-journal"), "{}", stderr(&o));
    assert!(read_dir_eml(&s.tree.path("outbox2")).is_empty());

    // A template with a syntax error is refused before anything is read.
    s.tree.write("tpl/en.txt", "Subject: x\n\n{% for %}\n");
    let o = s.run(&[
        "--templates",
        &s.tree.arg("tpl"),
        "--outbox",
        &s.tree.arg("outbox3"),
        &s.tree.arg("report.csv"),
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("en.txt"), "{}", stderr(&o));
    assert!(read_dir_eml(&s.tree.path("outbox3")).is_empty());
}

/// The fault points a clean run reaches, with how often (learnt from the
/// binary, not listed here).
fn fault_points(s: &Setup, extra: &[&str]) -> BTreeMap<String, u64> {
    let mut c = s.cmd(extra);
    c.env("TAKEDOWN_FAULT_TRACE", "1");
    let o = run_with_timeout(c, 120);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut seen = BTreeMap::new();
    for l in stderr(&o).lines() {
        if let Some(step) = l.strip_prefix("fault-point: ") {
            *seen.entry(step.to_string()).or_insert(0) += 1;
        }
    }
    seen
}

#[test]
fn a_kill_at_any_step_then_a_rerun_writes_each_notice_once() {
    // The reference: a clean run's notices.
    let clean = Setup::new();
    let o = clean.run(&[
        "--outbox",
        &clean.tree.arg("outbox"),
        &clean.tree.arg("report.csv"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want = clean.outbox();

    let probe = Setup::new();
    let points = fault_points(
        &probe,
        &[
            "--outbox",
            &probe.tree.arg("outbox"),
            &probe.tree.arg("report.csv"),
        ],
    );
    for step in [
        "notify-prepared",
        "notify-before-send",
        "notify-sending-marked",
        "notify-sent-unrecorded",
        "notify-recorded",
    ] {
        assert!(points.contains_key(step), "{step} not reached: {points:?}");
    }
    let mut killed = 0;
    for (step, hits) in &points {
        for nth in 1..=*hits {
            let s = Setup::new();
            let args = ["--outbox", &s.tree.arg("outbox"), &s.tree.arg("report.csv")];
            let mut c = s.cmd(&args);
            c.env("TAKEDOWN_FAULT", format!("{step}#{nth}"));
            let o = run_with_timeout(c, 120);
            assert_eq!(
                o.status.signal(),
                Some(libc::SIGKILL),
                "{step}#{nth}: {}",
                stderr(&o)
            );
            killed += 1;
            let o = s.run(&args);
            assert_eq!(code(&o), 0, "rerun after {step}#{nth}: {}", stderr(&o));
            let got = s.outbox();
            // Same notices; the Date header is the preparing run's.
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "after {step}#{nth}"
            );
            let st = s.status(&[]);
            assert!(
                stdout(&st).contains("3 notices: 3 sent"),
                "after {step}#{nth}: {}",
                stdout(&st)
            );
            // No temporary file left behind in the outbox.
            let stray: Vec<_> = std::fs::read_dir(s.tree.path("outbox"))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| !n.to_string_lossy().ends_with(".eml") && n != ".delivered")
                .collect();
            assert!(stray.is_empty(), "after {step}#{nth}: {stray:?}");
        }
    }
    assert!(killed >= 10, "{killed} kills");
}

/// The loopback SMTP server of the notify crate's tests (aiosmtpd).
const SINK: &str = include_str!("../../notify/tests/data/smtp_sink.py");

struct Sink {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Sink {
    /// Starts the sink; `rules`: recipient -> (reply, times; -1 always).
    fn start(dir: PathBuf, rules: &[(&str, &str, i64)]) -> Option<Sink> {
        let python = util::reference_python()?;
        let ok = Command::new(&python)
            .args(["-c", "import aiosmtpd.smtp"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "aiosmtpd missing from the reference Python: .ci/run installs it"
            );
            eprintln!("skipped: aiosmtpd not installed in {}", python.display());
            return None;
        }
        std::fs::create_dir_all(&dir).unwrap();
        let rules: serde_json::Map<String, serde_json::Value> = rules
            .iter()
            .map(|(to, reply, times)| {
                (
                    to.to_string(),
                    serde_json::json!({"reply": reply, "times": times}),
                )
            })
            .collect();
        let cfg = serde_json::json!({"dir": dir, "rules": rules});
        let mut child = Command::new(&python)
            .args(["-c", SINK, &cfg.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the sink did not start: {line:?}"));
        Some(Sink { child, dir, port })
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Notice id -> number of times received.
    fn received(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for (_, bytes) in read_dir_eml(&self.dir) {
            let text = String::from_utf8_lossy(&bytes);
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix("X-Takedown-Notice: "))
                .expect("the notice id header")
                .trim()
                .to_string();
            *out.entry(id).or_insert(0) += 1;
        }
        out
    }

    /// The recipients of every message received.
    fn recipients(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for e in std::fs::read_dir(&self.dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                let v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
                for to in v["to"].as_array().unwrap() {
                    out.insert(to.as_str().unwrap().to_string());
                }
            }
        }
        out
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn smtp_delivers_once_per_contact_across_a_kill_between_sends() {
    let s = Setup::new();
    let Some(sink) = Sink::start(s.tree.path("sink"), &[]) else {
        return;
    };
    let url = sink.url();
    let args = [
        "--smtp",
        url.as_str(),
        "--backoff",
        "0.1",
        &s.tree.arg("report.csv"),
    ];
    let mut c = s.cmd(&args);
    c.env("TAKEDOWN_FAULT", "notify-recorded#1");
    let o = run_with_timeout(c, 120);
    assert_eq!(o.status.signal(), Some(libc::SIGKILL), "{}", stderr(&o));
    assert_eq!(sink.received().len(), 1, "one notice sent before the kill");
    let o = s.run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got = sink.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.values().all(|&n| n == 1), "each exactly once: {got:?}");
    // Each to its own contact.
    assert_eq!(
        sink.recipients(),
        BTreeSet::from([
            "abuse@isp-a.example".to_string(),
            "abuse@isp-b.example".to_string(),
            "noc@isp-c.example".to_string()
        ])
    );
    let paths: Vec<PathBuf> = std::fs::read_dir(&sink.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    if let Some(msgs) = parse_messages(&paths) {
        assert_eq!(msgs.len(), 3);
    }
}

#[test]
fn smtp_failures_are_retried_reported_and_never_doubled() {
    let s = Setup::new();
    // ISP B's server refuses twice, then accepts; ISP C's rejects.
    let Some(sink) = Sink::start(
        s.tree.path("sink"),
        &[
            ("abuse@isp-b.example", "451 4.3.0 try again later", 2),
            ("noc@isp-c.example", "550 5.1.1 no such mailbox", -1),
        ],
    ) else {
        return;
    };
    let url = sink.url();
    let args = [
        "--smtp",
        url.as_str(),
        "--backoff",
        "0.05",
        "--retries",
        "3",
        &s.tree.arg("report.csv"),
    ];
    let o = s.run(&args);
    assert_eq!(code(&o), 1, "a failed notice: {}", stderr(&o));
    let sum = summary(&o);
    assert_eq!(sum["delivered"], 2, "{sum}");
    assert_eq!(sum["failed"], 1, "{sum}");
    assert!(stderr(&o).contains("550"), "{}", stderr(&o));
    let got = sink.received();
    assert_eq!(got.len(), 2);
    assert!(got.values().all(|&n| n == 1), "{got:?}");

    // A later run sends nothing again; the failure stays in the journal.
    let o = s.run(&args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(summary(&o)["failed_before"], 1);
    assert!(stderr(&o).contains("--state failed"), "{}", stderr(&o));
    assert_eq!(sink.received(), got);
    let st = s.status(&["--state", "failed"]);
    assert_eq!(code(&st), 1);
    let text = stdout(&st);
    assert!(
        text.contains("noc@isp-c.example") && text.contains("550"),
        "{text}"
    );
    assert!(!text.contains("isp-a.example"), "only failed ones: {text}");
}

#[test]
fn smtp_unconfirmed_after_a_kill_is_reported_not_resent() {
    let s = Setup::new();
    let Some(sink) = Sink::start(s.tree.path("sink"), &[]) else {
        return;
    };
    let url = sink.url();
    let args = ["--smtp", url.as_str(), &s.tree.arg("report.csv")];
    let mut c = s.cmd(&args);
    // The server has accepted the first notice; the journal does not know.
    c.env("TAKEDOWN_FAULT", "notify-sent-unrecorded#1");
    let o = run_with_timeout(c, 120);
    assert_eq!(o.status.signal(), Some(libc::SIGKILL));
    let o = s.run(&args);
    assert_eq!(code(&o), 1, "an unconfirmed notice: {}", stderr(&o));
    assert_eq!(summary(&o)["unconfirmed"], 1);
    let got = sink.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.values().all(|&n| n == 1), "none doubled: {got:?}");
    let st = s.status(&[]);
    assert!(stdout(&st).contains("unconfirmed"), "{}", stdout(&st));
}

#[test]
fn a_refused_notice_put_back_by_retry_goes_with_the_next_run() {
    let s = Setup::new();
    // ISP C's server refuses once (a 5xx: the notice fails for good).
    let Some(sink) = Sink::start(
        s.tree.path("sink"),
        &[("noc@isp-c.example", "550 5.7.1 relaying denied", 1)],
    ) else {
        return;
    };
    let url = sink.url();
    let o = s.run(&["--smtp", url.as_str(), &s.tree.arg("report.csv")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(sink.received().len(), 2);
    let journal = s.tree.arg("journal.sqlite3");
    let r = s
        .tree
        .run(&["notify", "retry", "--journal", &journal, "no-such-id"]);
    assert_eq!(code(&r), 2, "an unknown id: {}", stderr(&r));
    let r = s.tree.run(&["notify", "retry", "--journal", &journal]);
    assert_eq!(code(&r), 0, "{}", stderr(&r));
    assert!(stderr(&r).contains("1 notices put back"), "{}", stderr(&r));
    // No report: the run delivers what the journal holds.
    let o = s.run(&["--smtp", url.as_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got = sink.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.values().all(|&n| n == 1), "{got:?}");
    assert!(sink.recipients().contains("noc@isp-c.example"));
}

/// The addresses of an IntelMQ events file.
fn intelmq_addresses(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let e: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(e["classification.type"], "infected-system", "{l}");
            e["source.ip"].as_str().unwrap().to_string()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn intelmq_events_of_a_killed_run_are_written_by_the_rerun() {
    let clean = Setup::new();
    let out = clean.tree.arg("events.ndjson");
    let o = clean.run(&[
        "--outbox",
        &clean.tree.arg("outbox"),
        "--intelmq",
        &out,
        &clean.tree.arg("report.csv"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want = intelmq_addresses(Path::new(&out));
    assert_eq!(want.len(), 4, "{want:?}");

    let s = Setup::new();
    let out = s.tree.arg("events.ndjson");
    let args = [
        "--outbox",
        &s.tree.arg("outbox"),
        "--intelmq",
        &out,
        &s.tree.arg("report.csv"),
    ];
    let mut c = s.cmd(&args);
    c.env("TAKEDOWN_FAULT", "notify-prepared#2");
    let o = run_with_timeout(c, 120);
    assert_eq!(o.status.signal(), Some(libc::SIGKILL));
    let o = s.run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(intelmq_addresses(Path::new(&out)), want);
    // Written once: the next run has nothing new to write.
    let o = s.run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(intelmq_addresses(Path::new(&out)).is_empty());
}

#[test]
fn two_runs_at_once_notify_each_event_once() {
    let s = Setup::new();
    let all = rows();
    // Two reports sharing three events, run at the same time on one
    // journal.
    s.tree.write("a.csv", report(&all[..5]));
    s.tree.write("b.csv", report(&all[2..]));
    let outbox = s.tree.arg("outbox");
    let children: Vec<Child> = ["a.csv", "b.csv"]
        .iter()
        .map(|r| {
            s.cmd(&["--outbox", &outbox, &s.tree.arg(r)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let st = s.status(&["--format", "json"]);
    let rows: u64 = stdout(&st)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["rows"]
                .as_u64()
                .unwrap()
        })
        .sum();
    // Four (address, family, day) keys with a contact in all.
    assert_eq!(rows, 4, "{}", stdout(&st));
}
