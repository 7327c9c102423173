//! The resolver log readers against the real resolvers: dnsmasq, Unbound
//! and BIND's `named` started on loopback, asked with `dig` (A, AAAA, a
//! subdomain, a CNAME, a reverse lookup, TXT over TCP), stopped, and their
//! log files read back line by line with the library. Every `dig` query
//! must come back as an event with its name, type and client 127.0.0.1;
//! every other line must read (an answer event or a line ignored for a
//! reason), never as a bad line; the other formats' sniffers must not
//! claim the lines.
//!
//! Tools come from Debian's dnsmasq-base, unbound, bind9 and
//! bind9-dnsutils (`dig`); without one a test skips with a message,
//! except under CI, where it fails.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use takedown_netlog::event::parse_line;
use takedown_netlog::{AnswerData, Event, EventKind, Format, LineCtx, Outcome};

/// The tool's path, looked up in PATH and the sbin directories (the
/// daemons live in /usr/sbin, not in every user's PATH). Under CI a
/// missing tool fails the test.
fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    let found = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file());
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "{name} is required under CI (.ci/run installs it)"
    );
    if found.is_none() {
        eprintln!("skipped: {name} is not installed");
    }
    found
}

/// A free loopback port (UDP and TCP), high and random.
fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if port > 10_000 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A daemon, killed when dropped if [`Daemon::stop`] was not called.
struct Daemon {
    child: Child,
    what: &'static str,
    stderr: PathBuf,
}

impl Daemon {
    fn start(what: &'static str, mut cmd: Command, dir: &Path) -> Daemon {
        let stderr = dir.join(format!("{what}.stderr"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        Daemon {
            child,
            what,
            stderr,
        }
    }

    /// Waits until the daemon answers `probe` on `port`.
    fn wait_ready(&mut self, dig: &Path, port: u16, probe: &str) {
        let start = Instant::now();
        while !ask(dig, port, &[probe, "A"]) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                panic!("{} exited ({status}):\n{err}", self.what);
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{} does not answer on port {port}",
                self.what
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the daemon with SIGTERM (so that it flushes its log) and
    /// waits for it.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let termed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        if termed {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Asks 127.0.0.1:`port` with dig; true when an answer came back (any
/// status).
fn ask(dig: &Path, port: u16, args: &[&str]) -> bool {
    Command::new(dig)
        .arg("@127.0.0.1")
        .args(["-p", &port.to_string(), "+tries=1", "+time=2", "+short"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One query the tests make, and the name and type the log must show.
struct Query {
    dig: &'static [&'static str],
    name: &'static str,
    qtype: u16,
}

const QUERIES: [Query; 8] = [
    Query {
        dig: &["evil.example", "A"],
        name: "evil.example",
        qtype: 1,
    },
    Query {
        dig: &["sub.evil.example", "A"],
        name: "sub.evil.example",
        qtype: 1,
    },
    Query {
        dig: &["evil.example", "AAAA"],
        name: "evil.example",
        qtype: 28,
    },
    Query {
        dig: &["alias.example", "A"],
        name: "alias.example",
        qtype: 1,
    },
    Query {
        dig: &["host.example", "AAAA"],
        name: "host.example",
        qtype: 28,
    },
    Query {
        dig: &["-x", "192.0.2.7"],
        name: "7.2.0.192.in-addr.arpa",
        qtype: 12,
    },
    Query {
        dig: &["+tcp", "evil.example", "TXT"],
        name: "evil.example",
        qtype: 16,
    },
    Query {
        dig: &["nothing-here.example", "MX"],
        name: "nothing-here.example",
        qtype: 15,
    },
];

const PROBE: &str = "probe.example";

fn ask_all(dig: &Path, port: u16) {
    for q in &QUERIES {
        assert!(ask(dig, port, q.dig), "dig {:?} got no answer", q.dig);
    }
}

/// The year for syslog-style time stamps, and now, in microseconds.
fn now() -> (i32, i64) {
    let t = time::OffsetDateTime::now_utc();
    (t.year(), (t.unix_timestamp_nanos() / 1000) as i64)
}

/// One log line read back.
struct Read {
    line: String,
    outcome: Outcome,
    event: Event,
}

/// Reads `path` line by line in `format`; no line may be bad, every
/// event is DNS with a time near now, and the other formats' sniffers
/// claim none of the lines.
fn read_log(path: &Path, format: Format) -> Vec<Read> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (year, now) = now();
    let ctx = LineCtx::new(year);
    let mut out = Vec::new();
    for line in text.lines() {
        let mut ev = Event::default();
        let o = parse_line(format, &ctx, line.as_bytes(), &mut ev);
        assert!(
            !matches!(o, Outcome::Bad(_)),
            "{}: {o:?} for {line:?}",
            format.as_str()
        );
        if o == Outcome::Event {
            assert_eq!(ev.kind, EventKind::Dns, "{line}");
            let t = ev.time.unwrap_or_else(|| panic!("no time in {line}"));
            // Local time read as UTC: within a day (and a margin).
            assert!((t - now).abs() < 2 * 86_400_000_000, "{line}: {t} vs {now}");
            assert!(own_sniff(format)(line.as_bytes()), "not sniffed: {line}");
        }
        for (f, sniff) in SNIFFERS {
            if f != format {
                assert!(!sniff(line.as_bytes()), "{} claims {line:?}", f.as_str());
            }
        }
        out.push(Read {
            line: line.to_string(),
            outcome: o,
            event: ev,
        });
    }
    assert!(!out.is_empty(), "{} is empty", path.display());
    out
}

type Sniff = fn(&[u8]) -> bool;

const SNIFFERS: [(Format, Sniff); 5] = [
    (Format::Bind, takedown_netlog::bind::sniff),
    (Format::Dnsmasq, takedown_netlog::dnsmasq::sniff),
    (Format::Unbound, takedown_netlog::unbound::sniff),
    (Format::WinDns, takedown_netlog::windns::sniff),
    (Format::Squid, takedown_netlog::squid::sniff),
];

fn own_sniff(f: Format) -> Sniff {
    SNIFFERS.iter().find(|(g, _)| *g == f).unwrap().1
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Every query of [`QUERIES`] is `per_query` events (name with `suffix`,
/// type, client 127.0.0.1, no answers, not a reply line), and every event
/// names a query, the probe, or (answers) a name the queries led to.
fn check_queries(reads: &[Read], suffix: &str, per_query: usize, also: &[&str]) {
    for q in &QUERIES {
        let name = format!("{}{suffix}", q.name);
        let asked = QUERIES
            .iter()
            .filter(|o| o.name == q.name && o.qtype == q.qtype)
            .count();
        let found = reads
            .iter()
            .filter(|r| {
                r.event.name == name
                    && r.event.qtype == q.qtype
                    && r.event.client == Some(LOOPBACK)
                    && r.event.answers.is_empty()
                    && !r.event.reply
            })
            .count();
        assert_eq!(
            found,
            asked * per_query,
            "{name} type {}: {found} events",
            q.qtype
        );
    }
    let mut known: BTreeSet<String> = QUERIES
        .iter()
        .map(|q| format!("{}{suffix}", q.name))
        .collect();
    known.insert(format!("{PROBE}{suffix}"));
    known.extend(also.iter().map(|n| format!("{n}{suffix}")));
    for r in reads {
        if r.outcome == Outcome::Event {
            assert!(
                known.contains(&r.event.name),
                "unexpected event: {}",
                r.line
            );
        }
    }
}

/// The events that carry an answer `data` for `name`.
fn answered<'a>(reads: &'a [Read], name: &str, data: &AnswerData) -> Vec<&'a Read> {
    reads
        .iter()
        .filter(|r| r.event.name == name && r.event.answers.iter().any(|a| &a.data == data))
        .collect()
}

fn addr(s: &str) -> AnswerData {
    AnswerData::Addr(s.parse().unwrap())
}

#[test]
fn dnsmasq_log_queries_plain_and_extra() {
    let (Some(dnsmasq), Some(dig)) = (tool("dnsmasq"), tool("dig")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (run, extra) in [("plain", false), ("extra", true)] {
        let log = dir.path().join(format!("dnsmasq-{run}.log"));
        let port = free_port();
        let mut cmd = Command::new(&dnsmasq);
        cmd.args([
            "-k",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--no-resolv",
            "--no-hosts",
            "--address=/evil.example/192.0.2.66",
            "--address=/evil.example/2001:db8::66",
            "--address=/probe.example/192.0.2.99",
            "--host-record=host.example,192.0.2.7,2001:db8::7",
            "--cname=alias.example,host.example",
        ])
        .arg(format!("--port={port}"))
        .arg(if extra {
            "--log-queries=extra"
        } else {
            "--log-queries"
        })
        .arg(format!("--log-facility={}", log.display()));
        let mut d = Daemon::start("dnsmasq", cmd, dir.path());
        d.wait_ready(&dig, port, PROBE);
        ask_all(&dig, port);
        d.stop();

        let reads = read_log(&log, Format::Dnsmasq);
        check_queries(&reads, "", 1, &[]);
        // One event per lookup: the query lines. The answer lines are
        // reply lines, with the client in the extra form only.
        for r in &reads {
            if r.outcome == Outcome::Event {
                assert_eq!(r.event.reply, !r.line.contains(" query["), "{}", r.line);
            }
        }
        let client = extra.then_some(LOOPBACK);
        for (name, data) in [
            ("evil.example", addr("192.0.2.66")),
            ("sub.evil.example", addr("192.0.2.66")),
            ("evil.example", addr("2001:db8::66")),
            ("host.example", addr("2001:db8::7")),
            // The CNAME's target, on its own line.
            ("host.example", addr("192.0.2.7")),
            (
                "7.2.0.192.in-addr.arpa",
                AnswerData::Name("host.example".into()),
            ),
        ] {
            let found = answered(&reads, name, &data);
            assert!(!found.is_empty(), "{run}: no answer {data:?} for {name}");
            for r in found {
                assert_eq!(r.event.client, client, "{}", r.line);
            }
        }
        let cname = reads
            .iter()
            .find(|r| r.line.contains(" alias.example is <CNAME>"))
            .expect("the CNAME line");
        assert_eq!((cname.outcome, cname.event.reply), (Outcome::Event, true));
        assert_eq!(cname.event.name, "alias.example");
        assert!(cname.event.answers.is_empty());
        // The start-up and forwarding lines are there, and ignored.
        let ignored = reads
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Ignored(_)))
            .count();
        assert!(ignored >= 3, "{run}: {ignored} ignored lines");
        assert!(
            reads
                .iter()
                .any(|r| r.line.contains("started, version") && r.outcome != Outcome::Event)
        );
    }
}

fn unbound_conf(dir: &Path, port: u16, log: &Path, extra: &str) -> PathBuf {
    let conf = format!(
        "server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    chroot: \"\"
    username: \"\"
    directory: \"{d}\"
    pidfile: \"\"
    use-syslog: no
    logfile: \"{log}\"
    verbosity: 1
    log-queries: yes
    log-replies: yes
{extra}    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: yes
    module-config: \"iterator\"
    local-zone: \"example.\" static
    local-data: \"evil.example. A 192.0.2.66\"
    local-data: \"evil.example. AAAA 2001:db8::66\"
    local-data: \"evil.example. TXT hello\"
    local-data: \"sub.evil.example. A 192.0.2.67\"
    local-data: \"alias.example. CNAME host.example.\"
    local-data: \"host.example. A 192.0.2.7\"
    local-data: \"host.example. AAAA 2001:db8::7\"
    local-data: \"probe.example. A 192.0.2.99\"
    local-zone: \"2.0.192.in-addr.arpa.\" static
    local-data-ptr: \"192.0.2.7 host.example.\"
remote-control:
    control-enable: no
",
        d = dir.display(),
        log = log.display()
    );
    let path = dir.join(format!("unbound-{port}.conf"));
    std::fs::write(&path, conf).unwrap();
    path
}

#[test]
fn unbound_log_queries_and_replies() {
    let (Some(unbound), Some(dig)) = (tool("unbound"), tool("dig")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (run, extra) in [
        ("epoch", ""),
        (
            "ascii",
            "    log-time-ascii: yes\n    log-tag-queryreply: yes\n",
        ),
    ] {
        let log = dir.path().join(format!("unbound-{run}.log"));
        let port = free_port();
        let conf = unbound_conf(dir.path(), port, &log, extra);
        let mut cmd = Command::new(&unbound);
        cmd.arg("-d").arg("-c").arg(&conf);
        let mut d = Daemon::start("unbound", cmd, dir.path());
        d.wait_ready(&dig, port, PROBE);
        ask_all(&dig, port);
        d.stop();

        let reads = read_log(&log, Format::Unbound);
        // One event per query: its query line; its reply line (there is
        // one per query, log-replies being on) is ignored.
        check_queries(&reads, ".", 1, &[]);
        let replies = reads
            .iter()
            .filter(|r| {
                r.outcome == Outcome::Ignored("Unbound reply line (the query line is the event)")
            })
            .count();
        assert!(replies >= QUERIES.len(), "{run}: {replies} reply lines");
        assert!(
            reads
                .iter()
                .any(|r| r.line.contains("start of service") && r.outcome != Outcome::Event),
            "{run}"
        );
        if run == "ascii" {
            assert!(reads.iter().any(|r| r.line.contains("] reply: ")), "{run}");
        }
    }
}

#[test]
fn bind_query_log_in_four_layouts() {
    let (Some(named), Some(dig)) = (tool("named"), tool("dig")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let port = free_port();
    std::fs::write(
        dir.path().join("example.zone"),
        "$TTL 300
@ SOA ns.example. host.example. 1 3600 600 86400 300
@ NS ns.example.
ns A 127.0.0.1
evil A 192.0.2.66
evil AAAA 2001:db8::66
evil TXT hello
sub.evil A 192.0.2.67
alias CNAME host
host A 192.0.2.7
host AAAA 2001:db8::7
probe A 192.0.2.99
",
    )
    .unwrap();
    // The same queries in four channels: BIND's time with category and
    // severity, ISO 8601 UTC, ISO 8601 local with the category, none.
    let conf = format!(
        "options {{
    directory \"{d}\";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    pid-file none;
    session-keyfile none;
    recursion no;
    querylog yes;
    dnssec-validation no;
}};
controls {{ }};
logging {{
    channel q1 {{ file \"{d}/q1.log\"; print-time yes; print-category yes; print-severity yes; severity info; }};
    channel q2 {{ file \"{d}/q2.log\"; print-time iso8601-utc; severity info; }};
    channel q3 {{ file \"{d}/q3.log\"; print-time iso8601; print-category yes; severity info; }};
    channel q4 {{ file \"{d}/q4.log\"; print-time no; severity info; }};
    category queries {{ q1; q2; q3; q4; }};
}};
zone \"example\" {{ type primary; file \"{d}/example.zone\"; }};
"
    );
    let conf_path = dir.path().join("named.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new(&named);
    // -f: foreground with the configured logging (-g would send every
    // message to standard error instead of the channels).
    cmd.args(["-f", "-n", "1", "-c"]).arg(&conf_path);
    let mut daemon = Daemon::start("named", cmd, dir.path());
    daemon.wait_ready(&dig, port, PROBE);
    ask_all(&dig, port);
    daemon.stop();

    for log in ["q1.log", "q2.log", "q3.log", "q4.log"] {
        let path = dir.path().join(log);
        if log == "q4.log" {
            // No time stamps: read without the time check of read_log.
            let text = std::fs::read_to_string(&path).unwrap();
            let ctx = LineCtx::new(now().0);
            let reads: Vec<Read> = text
                .lines()
                .map(|line| {
                    let mut ev = Event::default();
                    let o = parse_line(Format::Bind, &ctx, line.as_bytes(), &mut ev);
                    assert_eq!(o, Outcome::Event, "{line}");
                    assert_eq!(ev.time, None);
                    assert_eq!(ev.server, Some(LOOPBACK));
                    assert!(takedown_netlog::bind::sniff(line.as_bytes()));
                    Read {
                        line: line.to_string(),
                        outcome: o,
                        event: ev,
                    }
                })
                .collect();
            check_queries(&reads, "", 1, &[]);
            continue;
        }
        let reads = read_log(&path, Format::Bind);
        check_queries(&reads, "", 1, &[]);
        for r in &reads {
            assert_eq!(r.outcome, Outcome::Event, "{}", r.line);
            assert_eq!(r.event.server, Some(LOOPBACK), "{}", r.line);
        }
    }
}
