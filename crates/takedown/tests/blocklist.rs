//! `takedown blocklist` through the real binary: every format checked by
//! the tool that loads it (`named-checkzone`, `unbound-checkconf`, a real
//! `unbound` on loopback answering from the RPZ, `dnsmasq --test`),
//! hostile input (invalid names, 300-byte labels, control characters,
//! homographs, a million lines), the collision guard, DGA windows.
//!
//! Tools come from Debian's bind9-utils, unbound and dnsmasq-base, which
//! `.ci/run` installs; without them a test skips with a message, except
//! under CI, where it fails. Suricata and Zeek have no Debian package
//! here: their formats are checked by the crate's unit tests.

mod util;

use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use util::*;

/// The tool's path, looked up in PATH and the sbin directories (unbound
/// and dnsmasq live in /usr/sbin, not in every user's PATH). Under CI a
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

fn bl(t: &Tree, args: &[&str]) -> Output {
    let mut all = vec!["blocklist"];
    all.extend_from_slice(args);
    t.run(&all)
}

fn ok(o: &Output) {
    assert!(
        o.status.code() == Some(0),
        "exit {:?}\nstderr:\n{}",
        o.status.code(),
        stderr(o)
    );
}

/// Runs a checker and insists it accepts.
fn accepts(mut c: Command, what: &str) -> String {
    let o = c.output().unwrap();
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "{what} refused:\n{text}");
    text
}

/// Names with underscores (real malware names carry them) and one
/// without, for the sinkhole checks.
const UNDERSCORE_NAMES: &str = "_dmarc.mail.example\nmail_srv.example\nclean-sink.example\n";

/// The small fixed input of the format checks.
const INDICATORS: &str = "\
# Campaign A (Loki C2 IOC format)
evil.example;90
www.evil.example
B\u{fc}cher.example.
198.51.100.7
198.51.100.0/24
2001:db8::1
2001:db8:1::/48
http://evil.example/gate.php
# hosts-file lines
127.0.0.1 localhost
0.0.0.0 hosts.example
";

fn fixed(t: &Tree) -> (String, String) {
    t.write("c2-iocs.txt", INDICATORS);
    t.write("top.csv", "1,ok.evil.example\n2,google.com\n");
    (t.arg("c2-iocs.txt"), t.arg("top.csv"))
}

fn body(s: &str, comment: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.starts_with(comment))
        .map(str::to_string)
        .collect()
}

#[test]
fn rpz_is_exact_and_named_checkzone_accepts_it() {
    let t = Tree::new();
    let (c2, top) = fixed(&t);
    let o = bl(&t, &["-s", &c2, "--allow", &top, "--serial", "2024010101"]);
    ok(&o);
    let zone = stdout(&o);
    assert_eq!(
        body(&zone, ";"),
        vec![
            "$ORIGIN rpz.takedown.",
            "$TTL 300",
            "@ SOA localhost. hostmaster.localhost. 2024010101 3600 600 864000 300",
            "@ NS localhost.",
            "evil.example CNAME .",
            "*.evil.example CNAME .",
            "ok.evil.example CNAME rpz-passthru.",
            "*.ok.evil.example CNAME rpz-passthru.",
            "hosts.example CNAME .",
            "*.hosts.example CNAME .",
            "xn--bcher-kva.example CNAME .",
            "*.xn--bcher-kva.example CNAME .",
            "24.0.100.51.198.rpz-ip CNAME .",
            "32.7.100.51.198.rpz-ip CNAME .",
            "128.1.zz.db8.2001.rpz-ip CNAME .",
            "48.zz.1.db8.2001.rpz-ip CNAME .",
        ]
    );
    let err = stderr(&o);
    assert!(err.contains("1 URLs cannot be expressed in rpz"), "{err}");
    assert!(err.contains("1 names covered by a blocked parent"), "{err}");
    let Some(checkzone) = tool("named-checkzone") else {
        return;
    };
    let path = t.write("zone.rpz", &zone);
    let mut c = Command::new(&checkzone);
    c.args(["-k", "fail", "-n", "fail", "rpz.takedown"])
        .arg(&path);
    let out = accepts(c, "named-checkzone");
    assert!(out.contains("loaded serial 2024010101"), "{out}");

    // A sinkhole, written atomically to -o: checked too.
    let o = bl(
        &t,
        &[
            "-s",
            &c2,
            "--sinkhole",
            "192.0.2.53",
            "--zone",
            "Policy.Example.",
            "-o",
            &t.arg("out/sink.rpz"),
        ],
    );
    // The directory does not exist: nothing is written, an error says so.
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    std::fs::create_dir(t.path("out")).unwrap();
    // Names with `_` too: BIND refuses them as owners of address records
    // (check-names), so they answer NXDOMAIN, said once with the count.
    let under = t.write("under.txt", UNDERSCORE_NAMES);
    let o = bl(
        &t,
        &[
            "-s",
            &c2,
            "-s",
            under.to_str().unwrap(),
            "--sinkhole",
            "192.0.2.53",
            "--zone",
            "Policy.Example.",
            "-o",
            &t.arg("out/sink.rpz"),
        ],
    );
    ok(&o);
    assert!(stdout(&o).is_empty());
    let sink = std::fs::read_to_string(t.path("out/sink.rpz")).unwrap();
    assert!(sink.contains("\n*.evil.example A 192.0.2.53\n"), "{sink}");
    assert!(sink.contains("\n$ORIGIN policy.example.\n"), "{sink}");
    for l in [
        "_dmarc.mail.example CNAME .",
        "*._dmarc.mail.example CNAME .",
        "mail_srv.example CNAME .",
        "*.mail_srv.example CNAME .",
        "clean-sink.example A 192.0.2.53",
    ] {
        assert!(sink.lines().any(|x| x == l), "{l}:\n{sink}");
    }
    let err = stderr(&o);
    assert_eq!(
        err.matches("names hold '_'").count(),
        1,
        "warned once:\n{err}"
    );
    assert!(
        err.contains("warning: 2 names hold '_'"),
        "with the count:\n{err}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(t.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    let mut c = Command::new(&checkzone);
    c.args(["-k", "fail", "policy.example"])
        .arg(t.path("out/sink.rpz"));
    accepts(c, "named-checkzone");
}

#[test]
fn a_100k_name_rpz_loads_in_named_checkzone() {
    let t = Tree::new();
    let mut list = String::with_capacity(3_000_000);
    for i in 0..100_000u32 {
        // Deterministic, varied names, with some parents of others.
        list.push_str(&format!(
            "h{:x}.z{}.example\n",
            i.wrapping_mul(2_654_435_761),
            i % 97
        ));
    }
    t.write("big.txt", &list);
    let o = bl(&t, &["-s", &t.arg("big.txt"), "-o", &t.arg("big.rpz")]);
    ok(&o);
    let zone = std::fs::read_to_string(t.path("big.rpz")).unwrap();
    assert_eq!(
        zone.lines().filter(|l| l.ends_with(" CNAME .")).count(),
        200_000
    );
    let Some(checkzone) = tool("named-checkzone") else {
        return;
    };
    let mut c = Command::new(checkzone);
    c.args(["-k", "fail", "rpz.takedown"])
        .arg(t.path("big.rpz"));
    accepts(c, "named-checkzone");
}

#[test]
fn unbound_and_dnsmasq_files_are_accepted_by_their_checkers() {
    let t = Tree::new();
    let (c2, top) = fixed(&t);
    let o = bl(&t, &["-s", &c2, "--allow", &top, "--format", "unbound"]);
    ok(&o);
    let conf = stdout(&o);
    assert_eq!(
        body(&conf, "#"),
        vec![
            "server:",
            "    local-zone: \"evil.example.\" always_nxdomain",
            "    local-zone: \"hosts.example.\" always_nxdomain",
            "    local-zone: \"xn--bcher-kva.example.\" always_nxdomain",
            "    local-zone: \"ok.evil.example.\" always_transparent",
        ]
    );
    assert!(
        stderr(&o).contains("4 addresses and CIDR blocks cannot be expressed in unbound"),
        "{}",
        stderr(&o)
    );
    let under = t.write("under.txt", UNDERSCORE_NAMES);
    let under = under.to_str().unwrap();
    let o2 = bl(
        &t,
        &[
            "-s",
            &c2,
            "-s",
            under,
            "--format",
            "unbound",
            "--sinkhole",
            "192.0.2.53",
        ],
    );
    ok(&o2);
    // Unbound takes `_` in local data: the sinkhole stays.
    assert!(
        stdout(&o2).contains("    local-data: \"mail_srv.example. A 192.0.2.53\"\n"),
        "{}",
        stdout(&o2)
    );
    assert!(!stderr(&o2).contains("hold '_'"));
    if let Some(check) = tool("unbound-checkconf") {
        for (name, text) in [("u.conf", conf.clone()), ("u2.conf", stdout(&o2))] {
            // The file is a whole configuration (it opens `server:`); the
            // checker also wants the directories it would use.
            let full = format!(
                "server:\n    chroot: \"\"\n    username: \"\"\n    directory: \"{}\"\n    pidfile: \"\"\n{text}",
                t.root().display()
            );
            let p = t.write(name, full);
            let mut c = Command::new(&check);
            c.arg(p);
            accepts(c, "unbound-checkconf");
        }
    }

    let o = bl(&t, &["-s", &c2, "--allow", &top, "--format", "dnsmasq"]);
    ok(&o);
    let conf = stdout(&o);
    assert_eq!(
        body(&conf, "#"),
        vec![
            "address=/evil.example/",
            "address=/hosts.example/",
            "address=/xn--bcher-kva.example/",
            "server=/ok.evil.example/#",
            "bogus-nxdomain=198.51.100.0/24",
            "bogus-nxdomain=198.51.100.7",
        ]
    );
    let o2 = bl(
        &t,
        &[
            "-s",
            &c2,
            "-s",
            under,
            "--format",
            "dnsmasq",
            "--sinkhole",
            "2001:db8::53",
        ],
    );
    ok(&o2);
    assert!(stdout(&o2).contains("\naddress=/evil.example/2001:db8::53\n"));
    assert!(stdout(&o2).contains("\naddress=/_dmarc.mail.example/2001:db8::53\n"));
    if let Some(dnsmasq) = tool("dnsmasq") {
        for (name, text) in [("d.conf", conf), ("d2.conf", stdout(&o2))] {
            let p = t.write(name, text);
            let mut c = Command::new(&dnsmasq);
            c.arg("--test").arg(format!("--conf-file={}", p.display()));
            let out = accepts(c, "dnsmasq --test");
            assert!(out.contains("syntax check OK"), "{out}");
        }
    }
}

#[test]
fn hosts_suricata_and_zeek_outputs() {
    let t = Tree::new();
    let (c2, top) = fixed(&t);
    let o = bl(&t, &["-s", &c2, "--allow", &top, "--format", "hosts"]);
    ok(&o);
    let hosts = stdout(&o);
    assert!(hosts.contains("cannot block subdomains"));
    assert_eq!(
        body(&hosts, "#"),
        vec![
            "0.0.0.0 evil.example",
            "0.0.0.0 www.evil.example",
            "0.0.0.0 hosts.example",
            "0.0.0.0 xn--bcher-kva.example",
        ]
    );

    let o = bl(
        &t,
        &[
            "-s",
            &c2,
            "--allow",
            &top,
            "--format",
            "suricata",
            "--sid-base",
            "1000000",
        ],
    );
    ok(&o);
    let rules: Vec<String> = body(&stdout(&o), "#");
    assert_eq!(rules.len(), 5, "{rules:?}");
    assert_eq!(
        rules[0],
        "alert dns any any -> any any (msg:\"takedown blocklist: DNS query of evil.example ("
            .to_string()
            + &c2
            + ":2: Campaign A (Loki C2 IOC format))\"; dns.query; dotprefix; content:\".evil.example\"; nocase; endswith; classtype:trojan-activity; metadata:takedown_origin list; sid:1000000; rev:1;)"
    );
    assert!(rules[3].starts_with(
        "pass dns any any -> any any (msg:\"takedown blocklist: allowed name ok.evil.example\";"
    ));
    assert!(rules[4].starts_with(
        "alert ip any any -> [198.51.100.0/24,198.51.100.7,2001:db8::1,2001:db8:1::/48] any ("
    ));
    assert!(rules[4].ends_with("sid:1000004; rev:1;)"));

    let o = bl(
        &t,
        &[
            "-s",
            &c2,
            "--format",
            "suricata-dataset",
            "-o",
            &t.arg("bl.lst"),
        ],
    );
    ok(&o);
    let lst = std::fs::read_to_string(t.path("bl.lst")).unwrap();
    assert_eq!(
        lst.lines().next(),
        Some("ZXZpbC5leGFtcGxl"),
        "base64 of evil.example"
    );
    assert_eq!(lst.lines().count(), 4);
    assert!(
        stderr(&o).contains("dataset:isset,takedown-blocklist,type string,load bl.lst;"),
        "{}",
        stderr(&o)
    );

    let o = bl(&t, &["-s", &c2, "--format", "zeek-intel"]);
    ok(&o);
    let zeek = stdout(&o);
    let lines: Vec<&str> = zeek.lines().collect();
    assert_eq!(
        lines[0],
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
    );
    let mut types: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    types.dedup();
    assert_eq!(
        types,
        vec![
            "Intel::DOMAIN",
            "Intel::SUBNET",
            "Intel::ADDR",
            "Intel::SUBNET",
            "Intel::URL"
        ]
    );
    assert!(
        zeek.contains(&format!("\nevil.example/gate.php\tIntel::URL\ttakedown:c2-iocs.txt\t{c2}:9: Campaign A (Loki C2 IOC format)\n")),
        "{zeek}"
    );
}

#[test]
fn stix_sources_give_network_indicators_and_ignore_file_ones() {
    let t = Tree::new();
    let ind = |n: u32, pattern: &str| {
        serde_json::json!({
            "type": "indicator", "spec_version": "2.1",
            "id": format!("indicator--{n:08x}-2222-4222-8222-222222222222"),
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
            "name": format!("ind {n}"), "pattern": pattern, "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"
        })
    };
    let bundle = serde_json::json!({
        "type": "bundle", "id": "bundle--2f0d1c52-8c2a-4ad4-9a4b-3a3c3b0e7f10",
        "objects": [
            ind(1, "[domain-name:value = 'stix-evil.example']"),
            ind(2, "[ipv4-addr:value = '203.0.113.9']"),
            ind(3, "[url:value = 'http://stix-evil.example/a']"),
            ind(4, &format!("[file:hashes.'SHA-256' = '{}']", "a".repeat(64))),
            ind(5, "[domain-name:value = 'a..b.example']"),
        ]
    });
    t.write("bundle.data", serde_json::to_vec(&bundle).unwrap());
    let o = bl(&t, &["-s", &t.arg("bundle.data"), "--format", "zeek-intel"]);
    let err = stderr(&o);
    let zeek = stdout(&o);
    assert!(
        zeek.contains("\nstix-evil.example\tIntel::DOMAIN\ttakedown:bundle.data\t"),
        "{zeek}\n{err}"
    );
    assert!(zeek.contains("\n203.0.113.9\tIntel::ADDR\t"), "{zeek}");
    assert!(
        zeek.contains("\nstix-evil.example/a\tIntel::URL\t"),
        "{zeek}"
    );
    assert!(err.contains("1 ignored (not network indicators)"), "{err}");
}

/// A minimal DNS client: one A query over UDP, the response code and the
/// IPv4 answers.
fn query(port: u16, name: &str) -> Option<(u8, Vec<Ipv4Addr>)> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let id: u16 = 0x5a17;
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, one question
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    sock.send_to(&q, ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    let r = &buf[..n];
    if n < 12 || r[0..2] != id.to_be_bytes() {
        return None;
    }
    let rcode = r[3] & 0x0f;
    let an = u16::from_be_bytes([r[6], r[7]]);
    // Skips a possibly compressed name.
    let skip_name = |mut i: usize| -> usize {
        loop {
            let l = r[i] as usize;
            if l == 0 {
                return i + 1;
            }
            if l & 0xc0 == 0xc0 {
                return i + 2;
            }
            i += 1 + l;
        }
    };
    let mut i = skip_name(12) + 4;
    let mut addrs = Vec::new();
    for _ in 0..an {
        i = skip_name(i);
        let typ = u16::from_be_bytes([r[i], r[i + 1]]);
        let len = u16::from_be_bytes([r[i + 8], r[i + 9]]) as usize;
        i += 10;
        if typ == 1 && len == 4 {
            addrs.push(Ipv4Addr::new(r[i], r[i + 1], r[i + 2], r[i + 3]));
        }
        i += len;
    }
    Some((rcode, addrs))
}

const NOERROR: u8 = 0;
const NXDOMAIN: u8 = 3;

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

/// An unbound process, killed when dropped.
struct Unbound(Child, PathBuf);

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts unbound on 127.0.0.1:`port` with `extra` server options and
/// clauses; waits until it answers.
fn unbound(bin: &Path, dir: &Path, tag: &str, port: u16, server: &str, clauses: &str) -> Unbound {
    let conf = format!(
        "server:\n    interface: 127.0.0.1\n    port: {port}\n    do-ip6: no\n    do-daemonize: no\n    chroot: \"\"\n    username: \"\"\n    directory: \"{d}\"\n    pidfile: \"\"\n    use-syslog: no\n    logfile: \"{d}/{tag}.log\"\n    verbosity: 1\n    access-control: 127.0.0.0/8 allow\n    do-not-query-localhost: no\n    qname-minimisation: no\n{server}\nremote-control:\n    control-enable: no\n{clauses}",
        d = dir.display()
    );
    let path = dir.join(format!("{tag}.conf"));
    std::fs::write(&path, conf).unwrap();
    let child = Command::new(bin)
        .arg("-d")
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut u = Unbound(child, dir.join(format!("{tag}.log")));
    let start = Instant::now();
    while query(port, "probe.invalid").is_none() {
        if let Ok(Some(status)) = u.0.try_wait() {
            let log = std::fs::read_to_string(&u.1).unwrap_or_default();
            let mut err = String::new();
            if let Some(mut e) = u.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("unbound {tag} exited ({status}):\n{err}\n{log}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "unbound {tag} does not answer on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    u
}

#[test]
fn a_real_unbound_answers_from_the_rpz_and_the_local_zones() {
    let Some(bin) = tool("unbound") else {
        return;
    };
    let t = Tree::new();
    let (c2, top) = fixed(&t);
    t.write("more.txt", "dga-like-qwkxzv.example\n");
    let rpz = t.arg("zone.rpz");
    ok(&bl(
        &t,
        &[
            "-s",
            &c2,
            "-s",
            &t.arg("more.txt"),
            "--allow",
            &top,
            "-o",
            &rpz,
            "--serial",
            "5",
        ],
    ));
    let local = t.arg("takedown-local-zones.conf");
    ok(&bl(
        &t,
        &[
            "-s",
            &c2,
            "-s",
            &t.arg("more.txt"),
            "--allow",
            &top,
            "--format",
            "unbound",
            "-o",
            &local,
        ],
    ));
    // The upstream: the real answers of the names (no internet needed).
    let up_port = free_port();
    let _up = unbound(
        &bin,
        t.root(),
        "upstream",
        up_port,
        "    local-zone: \"example.\" static\n    local-data: \"ok.evil.example. A 192.0.2.80\"\n    local-data: \"www.evil.example. A 192.0.2.81\"\n    local-data: \"clean.example. A 192.0.2.82\"\n    local-data: \"via-bad-ip.example. A 198.51.100.7\"\n    local-data: \"in-bad-net.example. A 198.51.100.99\"\n",
        "",
    );
    assert_eq!(
        query(up_port, "ok.evil.example"),
        Some((NOERROR, vec![Ipv4Addr::new(192, 0, 2, 80)]))
    );
    let forward =
        format!("forward-zone:\n    name: \".\"\n    forward-addr: 127.0.0.1@{up_port}\n");

    // The RPZ, as unbound's rpz: clause loads it.
    let port = free_port();
    let _rpz = unbound(
        &bin,
        t.root(),
        "rpz",
        port,
        "    module-config: \"respip validator iterator\"\n",
        &format!("{forward}rpz:\n    name: rpz.takedown.\n    zonefile: \"{rpz}\"\n"),
    );
    let a = |ip: [u8; 4]| Some((NOERROR, vec![Ipv4Addr::from(ip)]));
    assert_eq!(query(port, "evil.example").map(|r| r.0), Some(NXDOMAIN));
    assert_eq!(
        query(port, "www.evil.example").map(|r| r.0),
        Some(NXDOMAIN),
        "a subdomain"
    );
    assert_eq!(
        query(port, "deep.sub.evil.example").map(|r| r.0),
        Some(NXDOMAIN)
    );
    assert_eq!(
        query(port, "dga-like-qwkxzv.example").map(|r| r.0),
        Some(NXDOMAIN)
    );
    assert_eq!(
        query(port, "xn--bcher-kva.example").map(|r| r.0),
        Some(NXDOMAIN)
    );
    assert_eq!(
        query(port, "ok.evil.example"),
        a([192, 0, 2, 80]),
        "allowed: passthru"
    );
    assert_eq!(
        query(port, "clean.example"),
        a([192, 0, 2, 82]),
        "not listed"
    );
    // Response-IP triggers: an answer holding a listed address or one of
    // a listed block.
    assert_eq!(
        query(port, "via-bad-ip.example").map(|r| r.0),
        Some(NXDOMAIN)
    );
    assert_eq!(
        query(port, "in-bad-net.example").map(|r| r.0),
        Some(NXDOMAIN)
    );

    // The Unbound format, included as local zones.
    let port = free_port();
    let _local = unbound(
        &bin,
        t.root(),
        "local",
        port,
        &format!("    module-config: \"iterator\"\ninclude: \"{local}\"\n"),
        &forward,
    );
    assert_eq!(query(port, "evil.example").map(|r| r.0), Some(NXDOMAIN));
    assert_eq!(query(port, "www.evil.example").map(|r| r.0), Some(NXDOMAIN));
    assert_eq!(
        query(port, "ok.evil.example"),
        a([192, 0, 2, 80]),
        "always_transparent"
    );
    assert_eq!(query(port, "clean.example"), a([192, 0, 2, 82]));
}

#[test]
fn hostile_input_is_rejected_line_by_line_and_the_rest_goes_on() {
    let t = Tree::new();
    let mut text = String::new();
    text.push_str("good-one.example\n");
    text.push_str(&format!("{}.example\n", "a".repeat(300))); // 2: 300-byte label
    text.push_str(&format!("{}.example\n", "b".repeat(64))); // 3: label of 64
    text.push_str("evil\u{7}bell.example\n"); // 4: control character
    text.push_str("evil.example\u{1b}[2J\n"); // 5: terminal escape
    text.push_str("p\u{430}ypal.com\n"); // 6: homograph (Cyrillic a)
    text.push_str("*.wild.example\n"); // 7: wildcard
    text.push_str("a..b.example\n"); // 8: empty label
    text.push_str("999.1.2.3\n"); // 9: not an IP
    text.push_str("0.0.0.0/0\n"); // 10: everything
    text.push_str("com\n"); // 11: a TLD
    text.push_str("two.example three.example\n"); // 12: two values
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"\xff\xfe.example\n"); // 13: not UTF-8
    bytes.extend(std::iter::repeat_n(b'x', 20_000)); // 14: a huge line
    bytes.extend_from_slice(b"\ngood-two.example\n");
    t.write("hostile.txt", &bytes);
    let o = bl(&t, &["-s", &t.arg("hostile.txt"), "--format", "hosts"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let src = t.arg("hostile.txt");
    for (line, why) in [
        (2, "longer than 253"),
        (3, "longer than 63"),
        (4, "control character U+0007"),
        (5, "control character U+001B"),
        (7, "wildcard"),
        (8, "empty label"),
        (9, "not an IP address"),
        (10, "too wide"),
        (11, "single label"),
        (12, "2 values on one line"),
        (13, "not UTF-8"),
        (14, "line of 20000 bytes"),
    ] {
        let needle = format!("takedown: error: {src}:{line}: ");
        let l = err
            .lines()
            .find(|l| l.starts_with(&needle))
            .unwrap_or_else(|| panic!("no error for line {line}:\n{err}"));
        assert!(l.contains(why), "line {line}: {l}");
    }
    assert!(
        err.contains(&format!(
            "takedown: warning: {src}:6: label 'p\u{430}ypal' mixes Latin and Cyrillic letters"
        )),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no raw escape reaches the terminal"
    );
    assert!(
        err.contains(": 15 read: 3 names, 0 addresses, 0 URLs; 12 rejected"),
        "{err}"
    );
    assert_eq!(
        body(&stdout(&o), "#"),
        vec![
            "0.0.0.0 xn--pypal-4ve.com",
            "0.0.0.0 good-one.example",
            "0.0.0.0 good-two.example"
        ]
    );
}

#[test]
fn a_million_lines_stream_with_errors_per_line() {
    let t = Tree::new();
    let path = t.path("million.txt");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..1_000_000u32 {
            if i % 100_000 == 7 {
                writeln!(f, "bad..{i}.example").unwrap();
            } else {
                writeln!(f, "n{i}.example;75").unwrap();
            }
        }
    }
    let o = bl(
        &t,
        &[
            "-s",
            path.to_str().unwrap(),
            "-o",
            &t.arg("m.rpz"),
            "--serial",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.matches("takedown: error: ").count(), 10, "{err}");
    assert!(err.contains(":100008: empty label"), "{err}");
    assert!(err.contains(": 1000000 read: 999990 names"), "{err}");
    let zone = std::fs::read_to_string(t.path("m.rpz")).unwrap();
    assert_eq!(
        zone.lines().filter(|l| l.ends_with("CNAME .")).count(),
        2 * 999_990
    );
    if let Some(checkzone) = tool("named-checkzone") {
        let mut c = Command::new(checkzone);
        c.args(["-k", "fail", "rpz.takedown"]).arg(t.path("m.rpz"));
        accepts(c, "named-checkzone");
    }
}

#[test]
fn the_collision_guard_removes_dga_names_of_the_allow_list_and_reports_them() {
    let t = Tree::new();
    let day = "2016-11-30";
    let gens = takedown_dga::select("all", None, None).expect("`--dga all` selects");
    assert!(!gens.is_empty(), "every family has a generator");
    let date = takedown_dga::parse_date(day).unwrap();
    let mut expected = std::collections::BTreeSet::new();
    let mut first = None;
    for g in gens {
        takedown_dga::window(g.as_ref(), date, date, |_, _, names| {
            for n in names {
                if first.is_none() {
                    first = Some((n.clone(), g.family(), g.seed()));
                }
                expected.insert(n.to_ascii_lowercase());
            }
        });
    }
    let (collide, family, seed) = first.unwrap();
    t.write("top.csv", format!("1,google.com\n2,{collide}\n"));
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--dga", "all", "--from", day, "--to", day, "--format", "hosts",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // No allow list: said once, every name blocked.
    let a = args(&[]);
    let o = bl(&t, &a.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&o);
    assert_eq!(stderr(&o).matches("not checked for collisions").count(), 1);
    let got: std::collections::BTreeSet<String> = body(&stdout(&o), "#")
        .iter()
        .map(|l| l.strip_prefix("0.0.0.0 ").unwrap().to_string())
        .collect();
    assert_eq!(got, expected);

    // With it: removed, reported on stderr and in the JSON report.
    let report = t.arg("collisions.jsonl");
    let top = t.arg("top.csv");
    let a = args(&["--allow", &top, "--report", &report]);
    let o = bl(&t, &a.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&o);
    assert!(!stdout(&o).contains(&format!(" {collide}\n")));
    assert!(
        stderr(&o).contains(&format!("collision: {collide} (dga {family}")),
        "{}",
        stderr(&o)
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["name"], collide.as_str());
    assert_eq!(lines[0]["action"], "removed");
    assert_eq!(lines[0]["allow_list"], top.as_str());
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(lines[0]["origin"]["family"], family);
    assert_eq!(lines[0]["origin"]["seed"], seed.as_str());

    // Accepted: blocked all the same, still reported.
    let a = args(&["--allow", &top, "--accept-collisions"]);
    let o = bl(&t, &a.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&o);
    assert!(stdout(&o).contains(&format!("0.0.0.0 {collide}\n")));
    assert!(stderr(&o).contains("kept (--accept-collisions)"));
}

#[test]
fn bad_arguments_are_refused() {
    let t = Tree::new();
    let (c2, _) = fixed(&t);
    for args in [
        vec!["--dga", "all"],
        vec!["-s", &c2, "--from", "2016-01-01", "--to", "2016-01-02"],
        vec!["--dga", "all", "--from", "2016-01-02", "--to", "2016-01-01"],
        vec!["--dga", "all", "--from", "2010-01-01", "--to", "2016-01-01"],
        vec![
            "--dga",
            "no-such-family",
            "--from",
            "2016-01-01",
            "--to",
            "2016-01-01",
        ],
        vec!["-s", &c2, "--zone", "bad..zone"],
        vec![
            "-s",
            &c2,
            "--zone",
            "rpz_x.example",
            "--sinkhole",
            "192.0.2.1",
        ],
        vec![],
    ] {
        let o = bl(&t, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

/// A dnsmasq process, killed when dropped.
struct Dnsmasq(Child);

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_hosts_file_with_a_sinkhole_and_underscore_names_is_served_by_dnsmasq() {
    let t = Tree::new();
    let under = t.write("under.txt", UNDERSCORE_NAMES);
    let hosts = t.arg("sink.hosts");
    let o = bl(
        &t,
        &[
            "-s",
            under.to_str().unwrap(),
            "--format",
            "hosts",
            "--sinkhole",
            "192.0.2.53",
            "-o",
            &hosts,
        ],
    );
    ok(&o);
    let text = std::fs::read_to_string(&hosts).unwrap();
    assert_eq!(
        body(&text, "#"),
        vec![
            "192.0.2.53 clean-sink.example",
            "192.0.2.53 _dmarc.mail.example",
            "192.0.2.53 mail_srv.example",
        ]
    );
    assert!(!stderr(&o).contains("hold '_'"));
    let Some(bin) = tool("dnsmasq") else {
        return;
    };
    // dnsmasq reads the file as an extra hosts file and answers from it:
    // proof that it takes the `_` names (nothing upstream, no other file).
    let port = free_port();
    let child = Command::new(bin)
        .args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--conf-file=/dev/null",
            "--pid-file",
            "--log-facility=-",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--addn-hosts={hosts}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _d = Dnsmasq(child);
    let start = Instant::now();
    while query(port, "clean-sink.example").is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "dnsmasq does not answer on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sink = Some((NOERROR, vec![Ipv4Addr::new(192, 0, 2, 53)]));
    assert_eq!(query(port, "mail_srv.example"), sink);
    assert_eq!(query(port, "_dmarc.mail.example"), sink);
    assert_eq!(query(port, "clean-sink.example"), sink);
}

#[test]
fn rpz_trigger_labels_are_refused_from_every_source_and_allow_list() {
    let t = Tree::new();
    // Each of these, as an RPZ owner, would be a policy trigger: an
    // address trigger for 10.0.0.0/8, a client trigger blocking every
    // query from localhost, a name-server trigger for every .com name.
    let list = t.write(
        "iocs.txt",
        "ok.example\n\
         8.0.0.0.10.rpz-ip\n\
         32.1.0.0.127.rpz-client-ip;90\n\
         com.rpz-nsdname\n\
         0.0.0.0 hosts-ok.example ns1.rpz-nsip\n\
         EVIL.RPZ-IP.\n\
         198.51.100.0/24\n\
         x.rpz-passthru\n",
    );
    let ind = |n: u32, value: &str| {
        serde_json::json!({
            "type": "indicator", "spec_version": "2.1",
            "id": format!("indicator--{n:08x}-2222-4222-8222-222222222222"),
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
            "name": format!("ind {n}"), "pattern_type": "stix",
            "pattern": format!("[domain-name:value = '{value}']"),
            "valid_from": "2026-01-01T00:00:00Z"
        })
    };
    let bundle = serde_json::json!({
        "type": "bundle", "id": "bundle--2f0d1c52-8c2a-4ad4-9a4b-3a3c3b0e7f10",
        "objects": [ind(1, "stix-ok.example"), ind(2, "24.0.2.0.192.rpz-ip")]
    });
    let stix = t.write("bundle.json", serde_json::to_vec(&bundle).unwrap());
    let event = serde_json::json!({"Event": {
        "uuid": "5b7c1c52-8c2a-4ad4-9a4b-3a3c3b0e7f10", "info": "ev", "threat_level_id": "1",
        "Attribute": [
            {"uuid": "6b7c1c52-8c2a-4ad4-9a4b-3a3c3b0e7f11", "type": "domain",
             "value": "example.rpz-nsdname", "to_ids": true},
            {"uuid": "6b7c1c52-8c2a-4ad4-9a4b-3a3c3b0e7f12", "type": "domain",
             "value": "misp-ok.example", "to_ids": true}
        ]
    }});
    let misp = t.write("event.json", serde_json::to_vec(&event).unwrap());
    // An allowed name under a blocked parent becomes a passthru owner.
    let allow = t.write(
        "allow.csv",
        "1,www.ok.example\n2,ok.example.rpz-nsdname\n3,32.1.0.0.127.rpz-client-ip\n",
    );
    let (list, stix, misp, allow) = (
        list.to_str().unwrap(),
        stix.to_str().unwrap(),
        misp.to_str().unwrap(),
        allow.to_str().unwrap(),
    );
    let o = bl(
        &t,
        &[
            "-s", list, "-s", stix, "-s", misp, "--allow", allow, "--serial", "7",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    for (loc, label) in [
        (format!("{list}:2"), "rpz-ip"),
        (format!("{list}:3"), "rpz-client-ip"),
        (format!("{list}:4"), "rpz-nsdname"),
        (format!("{list}:5"), "rpz-nsip"),
        (format!("{list}:6"), "rpz-ip"),
        (format!("{list}:8"), "rpz-passthru"),
        (
            format!("{stix} (indicator--00000002-2222-4222-8222-222222222222)"),
            "rpz-ip",
        ),
        (format!("{misp} ("), "rpz-nsdname"),
        (format!("{allow}:2"), "rpz-nsdname"),
        (format!("{allow}:3"), "rpz-client-ip"),
    ] {
        let needle = format!("takedown: error: {loc}");
        let want = format!("label '{label}' begins with 'rpz-'");
        assert!(
            err.lines()
                .any(|l| l.starts_with(&needle) && l.contains(&want) && l.contains("trigger")),
            "no error at {loc} for {label}:\n{err}"
        );
    }
    assert_eq!(err.matches("begins with 'rpz-'").count(), 10, "{err}");
    let zone = stdout(&o);
    assert_eq!(
        body(&zone, ";")[4..],
        [
            "hosts-ok.example CNAME .",
            "*.hosts-ok.example CNAME .",
            "misp-ok.example CNAME .",
            "*.misp-ok.example CNAME .",
            "ok.example CNAME .",
            "*.ok.example CNAME .",
            "www.ok.example CNAME rpz-passthru.",
            "*.www.ok.example CNAME rpz-passthru.",
            "stix-ok.example CNAME .",
            "*.stix-ok.example CNAME .",
            // The one trigger: from the address block of line 7.
            "24.0.100.51.198.rpz-ip CNAME .",
        ]
    );
    if let Some(checkzone) = tool("named-checkzone") {
        let p = t.write("zone.rpz", &zone);
        let mut c = Command::new(checkzone);
        c.args(["-k", "fail", "rpz.takedown"]).arg(p);
        accepts(c, "named-checkzone");
    }
}
