//! `takedown hunt` through the real binary: a planted set of infected
//! clients across mixed logs (every log format, a capture, compressed
//! and plain, a DGA domain of every family, a subdomain of an indicator,
//! an address in a CIDR block, a URL, clean look-alikes) found exactly;
//! hostile input; the outputs; following a growing log.
//!
//! The real resolvers' logs and real captures are checked against the
//! tools in crates/netlog/tests (dnsmasq, unbound, tcpdump, tshark).

mod util;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::Output;
use util::*;

const DAY: &str = "2016-11-30";

/// The first generated domain of every family with a known seed, for
/// DAY, as `takedown dga gen` prints them.
fn dga_domains(t: &Tree) -> BTreeMap<String, String> {
    let o = t.run(&[
        "dga", "gen", "--family", "all", "--from", DAY, "--to", DAY, "--format", "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut first = BTreeMap::new();
    for l in stdout(&o).lines() {
        let r: Value = serde_json::from_str(l).unwrap();
        let fam = r["family"].as_str().unwrap().to_string();
        first
            .entry(fam)
            .or_insert_with(|| r["domain"].as_str().unwrap().to_string());
    }
    first
}

fn hunt(t: &Tree, args: &[&str]) -> Output {
    let mut all = vec!["hunt"];
    all.extend_from_slice(args);
    t.run(&all)
}

fn records(o: &Output, kind: &str) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == kind)
        .collect()
}

fn summary_of(o: &Output) -> Value {
    let s = records(o, "hunt-summary");
    assert_eq!(s.len(), 1, "one summary: {}", stdout(o));
    s.into_iter().next().unwrap()
}

/// (client, indicator type, value or DGA family) of each sighting.
fn keys(o: &Output) -> BTreeSet<(String, String, String)> {
    records(o, "sighting")
        .iter()
        .map(|r| {
            let client = r["client"].as_str().unwrap_or("-").to_string();
            let kind = r["indicator"]["type"].as_str().unwrap().to_string();
            let value = if kind == "dga" {
                r["dga"]["family"].as_str().unwrap().to_string()
            } else {
                r["indicator"]["value"].as_str().unwrap().to_string()
            };
            (client, kind, value)
        })
        .collect()
}

/// A DNS query for `name` from `client` to 10.0.0.53, as an Ethernet
/// frame.
fn dns_query_frame(client: [u8; 4], name: &str, id: u16) -> Vec<u8> {
    let mut dns = Vec::new();
    dns.extend_from_slice(&id.to_be_bytes());
    dns.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        dns.push(label.len() as u8);
        dns.extend_from_slice(label.as_bytes());
    }
    dns.extend_from_slice(&[0, 0, 1, 0, 1]);
    let udp_len = 8 + dns.len();
    let mut udp = Vec::new();
    udp.extend_from_slice(&53000u16.to_be_bytes());
    udp.extend_from_slice(&53u16.to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&dns);
    let total = 20 + udp.len();
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&client);
    ip.extend_from_slice(&[10, 0, 0, 53]);
    let mut sum: u32 = 0;
    for c in ip.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    ip.extend_from_slice(&udp);
    let mut frame = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    frame.extend_from_slice(&ip);
    frame
}

/// A pcap file (microseconds, little-endian, Ethernet) of `frames`.
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(1_480_507_200u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const ZEEK_DNS_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#open\t2016-11-30-00-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n";

fn zeek_dns(ts: u32, client: &str, query: &str, answers: &str) -> String {
    format!(
        "{ts}.123456\tCabc{ts}\t{client}\t53123\t10.0.0.53\t53\tudp\t4711\t0.001\t{query}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t{answers}\t300.000000\tF\n"
    )
}

/// Writes the planted logs; returns their paths (as arguments) and the
/// sightings a correct hunt reports.
fn planted(t: &Tree) -> (Vec<String>, BTreeSet<(String, String, String)>) {
    let dga = dga_domains(t);
    for fam in [
        "nymaim",
        "shiotob",
        "tinba",
        "vawtrak",
        "qakbot",
        "ranbyus",
        "corebot",
        "gozi",
        "newgoz",
        "pandabanker",
    ] {
        assert!(dga.contains_key(fam), "no {fam} domain: {dga:?}");
    }
    let d = |f: &str| dga[f].clone();
    t.write(
        "iocs.txt",
        "# campaign one\nevil-one.example\n198.51.100.0/24\n203.0.113.7\nhttp://bad.example/gate.php\n",
    );
    let mut expected = BTreeSet::new();
    let mut e = |c: &str, k: &str, v: &str| {
        expected.insert((c.to_string(), k.to_string(), v.to_string()));
    };

    // Zeek TSV dns.log: the indicator, a subdomain, an answer in the CIDR
    // block, Gozi's name; look-alikes and a client inside the block.
    let mut z = String::from(ZEEK_DNS_HEADER);
    z += &zeek_dns(1480507200, "10.1.0.1", "evil-one.example", "192.0.2.1");
    z += &zeek_dns(1480507201, "10.1.0.2", "www.EVIL-ONE.example.", "192.0.2.1");
    z += &zeek_dns(
        1480507202,
        "10.1.0.3",
        "benign.example",
        "192.0.2.9,198.51.100.77",
    );
    z += &zeek_dns(1480507203, "10.2.0.8", &d("gozi"), "-");
    z += &zeek_dns(1480507204, "10.9.0.1", "notevil-one.example", "192.0.2.1");
    z += &zeek_dns(1480507205, "10.9.0.2", "evil-one.example.net", "192.0.2.1");
    z += &zeek_dns(1480507206, "10.9.0.3", "evil-one.exampl", "192.0.2.1");
    z += &zeek_dns(1480507207, "10.9.0.5", "benign.example", "198.51.101.1");
    z += &zeek_dns(1480507208, "198.51.100.5", "benign.example", "192.0.2.1");
    z += "#close\t2016-11-30-23-59-59\n";
    t.write("zeek/dns.log", &z);
    e("10.1.0.1", "domain", "evil-one.example");
    e("10.1.0.2", "domain", "evil-one.example");
    e("10.1.0.3", "ipv4", "198.51.100.0/24");
    e("10.2.0.8", "dga", "gozi");

    // Zeek JSON: http (the URL with a query), conn (the address), ssl (a
    // subdomain in the SNI), dns (newGOZ); a conn next to the address.
    let zj = format!(
        concat!(
            r#"{{"ts":1480507210.5,"uid":"C1","id.orig_h":"10.1.0.5","id.orig_p":50000,"id.resp_h":"192.0.2.80","id.resp_p":80,"trans_depth":1,"method":"GET","host":"bad.example","uri":"/gate.php?id=7","version":"1.1","status_code":200}}"#,
            "\n",
            r#"{{"ts":1480507211.5,"uid":"C2","id.orig_h":"10.1.0.4","id.orig_p":50001,"id.resp_h":"203.0.113.7","id.resp_p":443,"proto":"tcp","service":"ssl","duration":1.2,"conn_state":"SF"}}"#,
            "\n",
            r#"{{"ts":1480507212.5,"uid":"C3","id.orig_h":"10.1.0.6","id.orig_p":50002,"id.resp_h":"192.0.2.44","id.resp_p":443,"version":"TLSv12","cipher":"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256","server_name":"cdn.evil-one.example","established":true}}"#,
            "\n",
            r#"{{"ts":"2016-11-30T12:00:13.000000Z","uid":"C4","id.orig_h":"10.2.0.9","id.orig_p":50003,"id.resp_h":"10.0.0.53","id.resp_p":53,"proto":"udp","trans_id":1,"query":"{}","qtype":1,"qtype_name":"A","rcode":3,"rcode_name":"NXDOMAIN"}}"#,
            "\n",
            r#"{{"ts":1480507214.5,"uid":"C5","id.orig_h":"10.9.0.4","id.orig_p":50004,"id.resp_h":"203.0.113.8","id.resp_p":443,"proto":"tcp","duration":0.2,"conn_state":"SF"}}"#,
            "\n",
        ),
        d("newgoz")
    );
    t.write("zeek/mixed.json", zj);
    e("10.1.0.5", "url", "http://bad.example/gate.php");
    e("10.1.0.4", "ipv4", "203.0.113.7");
    e("10.1.0.6", "domain", "evil-one.example");
    e("10.2.0.9", "dga", "newgoz");

    // Suricata EVE: dns v2 answer (Nymaim), v3 request (Shiotob); an
    // alert and stats record (ignored). Gzip-compressed.
    let eve = format!(
        concat!(
            r#"{{"timestamp":"2016-11-30T12:00:20.000100+0000","flow_id":1,"event_type":"dns","src_ip":"10.0.0.53","src_port":53,"dest_ip":"10.2.0.1","dest_port":40000,"proto":"UDP","dns":{{"version":2,"type":"answer","id":1,"flags":"8183","qr":true,"rd":true,"ra":true,"rrname":"{}","rrtype":"A","rcode":"NXDOMAIN"}}}}"#,
            "\n",
            r#"{{"timestamp":"2016-11-30T12:00:21.000000+0000","flow_id":2,"event_type":"dns","src_ip":"10.2.0.2","src_port":40001,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{{"version":3,"type":"request","tx_id":0,"id":2,"flags":"0100","rd":true,"opcode":0,"rcode":"NOERROR","queries":[{{"rrname":"{}","rrtype":"A"}}]}}}}"#,
            "\n",
            r#"{{"timestamp":"2016-11-30T12:00:22.000000+0000","event_type":"alert","src_ip":"10.9.0.9","dest_ip":"192.0.2.1","alert":{{"signature":"x"}}}}"#,
            "\n",
            r#"{{"timestamp":"2016-11-30T12:00:23.000000+0000","event_type":"stats","stats":{{"uptime":1}}}}"#,
            "\n",
        ),
        d("nymaim"),
        d("shiotob")
    );
    t.write("eve/eve.json.gz", gzip(eve.as_bytes()));
    e("10.2.0.1", "dga", "nymaim");
    e("10.2.0.2", "dga", "shiotob");

    // Resolvers' query logs.
    t.write(
        "bind/query.log",
        format!(
            "30-Nov-2016 12:00:30.123 queries: info: client @0x7f3b2c0a8d68 10.2.0.3#53123 ({0}): query: {0} IN A +E(0)K (10.0.0.53)\n",
            d("tinba")
        ),
    );
    e("10.2.0.3", "dga", "tinba");
    t.write(
        "dnsmasq/dnsmasq.log",
        format!(
            "Nov 30 12:00:31 dnsmasq[123]: query[A] {0} from 10.2.0.4\nNov 30 12:00:31 dnsmasq[123]: forwarded {0} to 192.0.2.53\n",
            d("vawtrak")
        ),
    );
    e("10.2.0.4", "dga", "vawtrak");
    t.write(
        "unbound/unbound.log",
        format!(
            "[1480507232] unbound[1234:0] info: 10.2.0.5 {}. A IN\n",
            d("qakbot")
        ),
    );
    e("10.2.0.5", "dga", "qakbot");
    let wire: String = d("ranbyus")
        .split('.')
        .map(|l| format!("({}){l}", l.len()))
        .collect::<String>()
        + "(0)";
    t.write(
        "windns/dns.log",
        format!(
            "11/30/2016 12:00:33 PM 0E1C PACKET  000000D1 UDP Rcv 10.2.0.6        d7a1   Q [0001   D   NOERROR] A      {wire}\n"
        ),
    );
    e("10.2.0.6", "dga", "ranbyus");

    // Squid: the URL again (same client: one sighting), Panda Banker's
    // host, and a clean path on the same host.
    t.write(
        "squid/access.log",
        format!(
            "1480507240.123     45 10.1.0.5 TCP_MISS/200 1234 GET http://bad.example/gate.php?id=1 - HIER_DIRECT/192.0.2.80 text/html\n\
             1480507241.123     45 10.2.0.10 TCP_MISS/200 1234 GET http://{}/x.php - HIER_DIRECT/192.0.2.81 text/html\n\
             1480507242.123     45 10.9.0.6 TCP_MISS/200 1234 GET http://bad.example/other.php - HIER_DIRECT/192.0.2.80 text/html\n",
            d("pandabanker")
        ),
    );
    e("10.2.0.10", "dga", "pandabanker");

    // Passive DNS (COF): an answer in the block, no client.
    t.write(
        "pdns/cof.json",
        r#"{"rrname":"fluxy.example","rrtype":"A","rdata":"198.51.100.9","time_first":1480507200,"time_last":1480507300,"count":3}
"#,
    );
    e("-", "ipv4", "198.51.100.0/24");

    // A capture: Corebot's name asked by 10.2.0.7.
    t.write(
        "pcap/dns.pcap",
        pcap(&[dns_query_frame([10, 2, 0, 7], &d("corebot"), 77)]),
    );
    e("10.2.0.7", "dga", "corebot");

    let logs = [
        "zeek/dns.log",
        "zeek/mixed.json",
        "eve/eve.json.gz",
        "bind/query.log",
        "dnsmasq/dnsmasq.log",
        "unbound/unbound.log",
        "windns/dns.log",
        "squid/access.log",
        "pdns/cof.json",
        "pcap/dns.pcap",
    ]
    .iter()
    .map(|l| t.arg(l))
    .collect();
    (logs, expected)
}

#[test]
fn planted_infected_clients_are_found_exactly() {
    let t = Tree::new();
    let (logs, expected) = planted(&t);
    let mut args = vec![
        "-s".to_string(),
        t.arg("iocs.txt"),
        "--dga".into(),
        "all".into(),
        "--from".into(),
        DAY.into(),
        "--to".into(),
        DAY.into(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(logs.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = hunt(&t, &args);
    assert_eq!(code(&o), 1, "sightings found: exit 1\n{}", stderr(&o));
    let got = keys(&o);
    let missed: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed {missed:?}\nreported but clean {extra:?}\nstderr:\n{}",
        stderr(&o)
    );
    // The URL seen in Zeek's http log and in Squid's: one sighting of
    // two events, with both places as samples.
    let url = records(&o, "sighting")
        .into_iter()
        .find(|r| r["indicator"]["type"] == "url")
        .unwrap();
    assert_eq!(url["count"], 2, "{url}");
    let files: Vec<&str> = url["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    assert!(files.iter().any(|f| f.ends_with("mixed.json")), "{url}");
    assert!(files.iter().any(|f| f.ends_with("access.log")), "{url}");
    // The list indicator names its source and line; the DGA names its
    // family, seed and date.
    let dom = records(&o, "sighting")
        .into_iter()
        .find(|r| r["client"] == "10.1.0.1")
        .unwrap();
    assert!(
        dom["indicator"]["source"]
            .as_str()
            .unwrap()
            .ends_with("iocs.txt")
    );
    assert_eq!(dom["indicator"]["line"], 2);
    assert_eq!(dom["first_seen"], "2016-11-30T12:00:00.123456Z", "{dom}");
    let g = records(&o, "sighting")
        .into_iter()
        .find(|r| r["client"] == "10.2.0.8")
        .unwrap();
    assert_eq!(g["dga"]["family"], "gozi");
    assert!(!g["dga"]["seed"].as_str().unwrap().is_empty(), "{g}");
    assert!(g["dga"]["first_date"].as_str().unwrap() <= DAY, "{g}");
    assert!(g["dga"]["last_date"].as_str().unwrap() >= DAY, "{g}");
    // Every format counted, nothing unreadable.
    let s = summary_of(&o);
    assert_eq!(s["unreadable"], 0, "{s}");
    for f in [
        "zeek-tsv",
        "zeek-json",
        "eve",
        "bind",
        "dnsmasq",
        "unbound",
        "windns",
        "squid",
        "cof",
        "pcap",
    ] {
        assert!(
            s["events_by_format"][f].as_u64().unwrap_or(0) > 0,
            "no {f} events: {s}"
        );
    }
    let clients: BTreeSet<&String> = expected.iter().map(|k| &k.0).collect();
    assert_eq!(s["clients"], clients.len(), "{s}");
}

#[test]
fn text_and_csv_outputs() {
    let t = Tree::new();
    let (logs, _) = planted(&t);
    let mut base = vec!["-s".to_string(), t.arg("iocs.txt")];
    base.extend(logs);
    let mut text = vec![];
    text.extend(base.iter().map(String::as_str));
    let o = hunt(&t, &text);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("10.1.0.1"), "{out}");
    assert!(out.contains("evil-one.example"), "{out}");
    assert!(!out.contains("10.9.0."), "clean clients listed:\n{out}");
    let err = stderr(&o);
    assert!(err.contains("events"), "{err}");
    let mut csv = vec!["--format", "csv"];
    csv.extend(base.iter().map(String::as_str));
    let o = hunt(&t, &csv);
    let out = stdout(&o);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("client,"), "{header}");
    assert!(
        lines.any(|l| l.starts_with("10.1.0.5,") && l.contains("gate.php")),
        "{out}"
    );
}

#[test]
fn hostile_input_is_counted_and_the_hunt_finishes() {
    let t = Tree::new();
    t.write("iocs.txt", "evil-one.example\n");
    let mut z = String::from(ZEEK_DNS_HEADER);
    z += &zeek_dns(1480507200, "10.1.0.1", "evil-one.example", "-");
    z += "1480507201.0\tshort\tline\n";
    let mut bytes = z.into_bytes();
    // A line of 3 MiB, binary junk, invalid UTF-8, then a good line.
    bytes.extend(std::iter::repeat_n(b'A', 3 << 20));
    bytes.push(b'\n');
    bytes.extend_from_slice(b"\x00\x01\x02\xff\xfe junk \x1b[31m\n");
    bytes
        .extend_from_slice(&zeek_dns(1480507202, "10.1.0.2", "evil-one.example", "-").into_bytes());
    // The log changes format half-way: EVE lines follow.
    bytes.extend_from_slice(br#"{"timestamp":"2016-11-30T12:00:20.000000+0000","event_type":"dns","src_ip":"10.1.0.3","src_port":40001,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","id":2,"queries":[{"rrname":"a.evil-one.example","rrtype":"A"}]}}"#);
    bytes.push(b'\n');
    t.write("mixed.log", &bytes);
    // A truncated capture: the second packet cut short.
    let mut cap = pcap(&[
        dns_query_frame([10, 1, 0, 4], "evil-one.example", 1),
        dns_query_frame([10, 1, 0, 5], "evil-one.example", 2),
    ]);
    cap.truncate(cap.len() - 10);
    t.write("cut.pcap", &cap);
    t.write("junk.bin", [0xffu8; 4096]);
    let o = hunt(
        &t,
        &[
            "-s",
            &t.arg("iocs.txt"),
            "--format",
            "json",
            "--max-line",
            "1048576",
            &t.arg("mixed.log"),
            &t.arg("cut.pcap"),
            &t.arg("junk.bin"),
            &t.arg("missing.log"),
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let clients: BTreeSet<String> = keys(&o).into_iter().map(|k| k.0).collect();
    let want: BTreeSet<String> = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"]
        .map(String::from)
        .into();
    assert_eq!(clients, want, "{}", stderr(&o));
    let s = summary_of(&o);
    let bad = s["bad"].as_array().unwrap();
    let reasons: Vec<&str> = bad.iter().map(|t| t["reason"].as_str().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("longer than")), "{s}");
    assert!(reasons.iter().any(|r| r.contains("truncated")), "{s}");
    assert!(s["unreadable"].as_u64().unwrap() >= 4, "{s}");
    let inputs = s["inputs"].as_array().unwrap();
    let missing = inputs
        .iter()
        .find(|i| i["name"].as_str().unwrap().ends_with("missing.log"))
        .unwrap();
    assert!(missing["error"].as_str().is_some(), "{s}");
    // Each reason is on stderr with an example file:line.
    let err = stderr(&o);
    assert!(err.contains("mixed.log:"), "{err}");
}

#[test]
fn standard_input_and_compressed_input() {
    let t = Tree::new();
    t.write("iocs.txt", "evil-one.example\n");
    let line = "Nov 30 12:00:31 dnsmasq[123]: query[A] x.evil-one.example from 10.3.0.1\n";
    let mut c = t.cmd();
    c.args(["hunt", "-s", &t.arg("iocs.txt"), "--format", "json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&gzip(line.as_bytes()))
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(keys(&o).contains(&(
        "10.3.0.1".into(),
        "domain".into(),
        "evil-one.example".into()
    )));
}

#[test]
fn nothing_found_is_exit_zero_and_errors_are_two() {
    let t = Tree::new();
    t.write("iocs.txt", "evil-one.example\n");
    t.write(
        "dnsmasq.log",
        "Nov 30 12:00:31 dnsmasq[123]: query[A] clean.example from 10.3.0.1\n",
    );
    let o = hunt(&t, &["-s", &t.arg("iocs.txt"), &t.arg("dnsmasq.log")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = hunt(&t, &["-s", &t.arg("iocs.txt"), &t.arg("nope.log")]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = hunt(&t, &[&t.arg("dnsmasq.log")]);
    assert_eq!(code(&o), 2, "no indicators: {}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn follow_reads_a_growing_log_across_rotation() {
    use std::time::{Duration, Instant};
    let t = Tree::new();
    t.write("iocs.txt", "evil-one.example\n");
    let log = t.write(
        "dnsmasq.log",
        "Nov 30 12:00:31 dnsmasq[123]: query[A] a.evil-one.example from 10.4.0.1\n",
    );
    let mut c = t.cmd();
    c.args([
        "hunt",
        "-s",
        &t.arg("iocs.txt"),
        "--format",
        "json",
        "--follow",
        "--poll-ms",
        "20",
        &t.arg("dnsmasq.log"),
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    let append = |s: &str| {
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(s.as_bytes()).unwrap();
    };
    std::thread::sleep(Duration::from_millis(500));
    append("Nov 30 12:00:32 dnsmasq[123]: query[A] b.evil-one.example from 10.4.0.2\n");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::rename(&log, t.path("dnsmasq.log.1")).unwrap();
    std::fs::write(
        &log,
        "Nov 30 12:00:33 dnsmasq[123]: query[A] c.evil-one.example from 10.4.0.3\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id() as i32;
    let start = Instant::now();
    // SIGINT, as Ctrl-C: the way a follow ends.
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    let clients: BTreeSet<String> = keys(&o).into_iter().map(|k| k.0).collect();
    assert_eq!(
        clients,
        ["10.4.0.1", "10.4.0.2", "10.4.0.3"]
            .map(String::from)
            .into(),
        "{}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert_eq!(err.matches("new sighting").count(), 3, "{err}");
    assert_eq!(code(&o), 1, "{err}");
}

#[test]
fn json_output_matches_the_schema() {
    let schema: Value =
        serde_json::from_str(include_str!("../../../docs/finding.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let t = Tree::new();
    let (mut logs, _) = planted(&t);
    // A fast-flux name: ten addresses in ten /16s, TTL 60, asked by
    // several clients; and generated-looking names nobody lists.
    let answers: Vec<String> = (0..10)
        .map(|i| format!("{}.{}.7.9", 20 + i * 7, i * 3))
        .collect();
    let ttls = ["60.000000"; 10].join(",");
    let mut z = String::from(ZEEK_DNS_HEADER);
    for (i, c) in ["10.5.0.1", "10.5.0.2", "10.5.0.3"].iter().enumerate() {
        let line = zeek_dns(1480507300 + i as u32, c, "flux.example", &answers.join(","));
        z += &line.replace("\t300.000000\t", &format!("\t{ttls}\t"));
    }
    for (i, n) in ["xjw3kq9vz7tpl.com", "qzkx8vbn2rtw.net", "vbq7xkzj3wfp.org"]
        .iter()
        .enumerate()
    {
        z += &zeek_dns(1480507400 + i as u32, "10.5.0.9", n, "-");
    }
    t.write("zeek/flux.log", z);
    logs.push(t.arg("zeek/flux.log"));
    let mut args = vec![
        "-s".to_string(),
        t.arg("iocs.txt"),
        "--dga".into(),
        "all".into(),
        "--from".into(),
        DAY.into(),
        "--to".into(),
        DAY.into(),
        "--flux".into(),
        "--suspect-dga".into(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(logs);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = hunt(&t, &args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let mut types = BTreeSet::new();
    for line in stdout(&o).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}\n{errors:#?}");
        types.insert(v["type"].as_str().unwrap().to_string());
    }
    for ty in ["sighting", "flux", "dga-suspect", "hunt-summary"] {
        assert!(types.contains(ty), "no {ty} record:\n{}", stdout(&o));
    }
    let flux = records(&o, "flux");
    assert_eq!(flux.len(), 1, "{flux:?}");
    assert_eq!(flux[0]["domain"], "flux.example");
    assert_eq!(flux[0]["fast_flux"], true);
    let suspects: BTreeSet<String> = records(&o, "dga-suspect")
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert!(suspects.contains("xjw3kq9vz7tpl.com"), "{suspects:?}");
    assert!(!suspects.contains("evil-one.example"), "{suspects:?}");
    // The export reads the whole file back: the leads are not errors.
    t.write("hunt.ndjson", stdout(&o));
    let x = t.run(&[
        "intel",
        "export",
        "--format",
        "stix",
        "-o",
        &t.arg("hunt.stix.json"),
        &t.arg("hunt.ndjson"),
    ]);
    assert_eq!(code(&x), 0, "{}", stderr(&x));
}

/// Logs that mix formats line by line (one syslog of three resolvers; a
/// JSON file of Zeek, EVE and passive DNS records; Zeek TSV around an
/// EVE line), shuffled: every client is found whatever the order.
#[test]
fn mixed_formats_are_followed_line_by_line() {
    let t = Tree::new();
    t.write("iocs.txt", "evil-one.example\n");
    let syslog = [
        "Nov 30 12:00:01 gw dnsmasq[123]: query[A] a.evil-one.example from 10.6.0.1",
        "Nov 30 12:00:01 gw dnsmasq[123]: forwarded a.evil-one.example to 192.0.2.53",
        "Nov 30 12:00:02 gw unbound: [99:0] info: 10.6.0.2 b.evil-one.example. A IN",
        "Nov 30 12:00:03 gw named[77]: client @0x7f3b2c0a8d68 10.6.0.3#53123 (c.evil-one.example): query: c.evil-one.example IN A +E(0)K (10.0.0.53)",
        "Nov 30 12:00:04 gw dnsmasq[123]: query[A] clean.example from 10.6.0.9",
        "Nov 30 12:00:05 gw kernel: [1234.5] eth0: link up",
    ];
    let json = [
        r#"{"ts":1480507200.5,"uid":"C1","id.orig_h":"10.6.0.4","id.orig_p":50000,"id.resp_h":"10.0.0.53","id.resp_p":53,"proto":"udp","query":"d.evil-one.example","qtype":1,"qtype_name":"A"}"#,
        r#"{"timestamp":"2016-11-30T12:00:21.000000+0000","event_type":"dns","src_ip":"10.6.0.5","src_port":40001,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","id":2,"queries":[{"rrname":"e.evil-one.example","rrtype":"A"}]}}"#,
        r#"{"timestamp":"2016-11-30T12:00:22.000000+0000","event_type":"stats","stats":{"uptime":1}}"#,
        r#"{"rrname":"f.evil-one.example","rrtype":"A","rdata":"192.0.2.7","time_first":1480507200,"time_last":1480507300,"count":3}"#,
    ];
    // Every rotation of each file: the first line decides the format the
    // reader starts with, the rest must follow.
    for shift in 0..syslog.len() {
        let mut lines: Vec<&str> = syslog.to_vec();
        lines.rotate_left(shift);
        t.write("syslog", lines.join("\n") + "\n");
        let mut j: Vec<&str> = json.to_vec();
        j.rotate_left(shift % json.len());
        t.write("mixed.json", j.join("\n") + "\n");
        let o = hunt(
            &t,
            &[
                "-s",
                &t.arg("iocs.txt"),
                "--format",
                "json",
                &t.arg("syslog"),
                &t.arg("mixed.json"),
            ],
        );
        let clients: BTreeSet<String> = keys(&o).into_iter().map(|k| k.0).collect();
        let want: BTreeSet<String> = [
            "10.6.0.1", "10.6.0.2", "10.6.0.3", "10.6.0.4", "10.6.0.5", "-",
        ]
        .map(String::from)
        .into();
        assert_eq!(clients, want, "rotation {shift}:\n{}", stderr(&o));
    }
    // Zeek TSV, an EVE line in the middle, TSV again.
    let mut z = String::from(ZEEK_DNS_HEADER);
    z += &zeek_dns(1480507200, "10.6.1.1", "g.evil-one.example", "-");
    z += json[1];
    z += "\n";
    z += &zeek_dns(1480507202, "10.6.1.2", "h.evil-one.example", "-");
    t.write("z.log", z);
    let o = hunt(
        &t,
        &[
            "-s",
            &t.arg("iocs.txt"),
            "--format",
            "json",
            &t.arg("z.log"),
        ],
    );
    let clients: BTreeSet<String> = keys(&o).into_iter().map(|k| k.0).collect();
    assert_eq!(
        clients,
        ["10.6.0.5", "10.6.1.1", "10.6.1.2"]
            .map(String::from)
            .into(),
        "{}",
        stderr(&o)
    );
    assert_eq!(summary_of(&o)["unreadable"], 0);
}

/// A reverse lookup whose answer is under an indicator is not a sighting
/// of the asker; a Windows DNS log with day-first dates loses no query; a
/// truncated compressed log gives what it holds before the cut.
#[test]
fn reverse_lookups_day_first_dates_and_truncated_logs() {
    let t = Tree::new();
    t.write("iocs.txt", "evil-one.example\n");
    let mut z = String::from(ZEEK_DNS_HEADER);
    z += &zeek_dns(
        1480507200,
        "10.7.0.1",
        "7.100.51.198.in-addr.arpa",
        "mail.evil-one.example",
    )
    .replace("\t1\tA\t0\tNOERROR", "\t12\tPTR\t0\tNOERROR");
    t.write("ptr.log", &z);
    t.write(
        "win.log",
        "25/11/2016 14:00:33 0E1C PACKET  000000D1 UDP Rcv 10.7.0.2        d7a1   Q [0001   D   NOERROR] A      (1)a(8)evil-one(7)example(0)\n",
    );
    // 40,000 lines, the indicator at the end, the gzip stream cut short.
    let mut big = String::from(ZEEK_DNS_HEADER);
    for i in 0..40_000u32 {
        let (c, q) = if i == 20_000 {
            ("10.7.0.3", "i.evil-one.example")
        } else {
            ("10.7.9.9", "clean.example")
        };
        big += &zeek_dns(1480507200 + i, c, q, "-");
    }
    big += &zeek_dns(1480600000, "10.7.0.4", "j.evil-one.example", "-");
    let mut gz = gzip(big.as_bytes());
    gz.truncate(gz.len() - 200);
    t.write("cut.log.gz", gz);
    let o = hunt(
        &t,
        &[
            "-s",
            &t.arg("iocs.txt"),
            "--format",
            "json",
            &t.arg("ptr.log"),
            &t.arg("win.log"),
            &t.arg("cut.log.gz"),
        ],
    );
    let clients: BTreeSet<String> = keys(&o).into_iter().map(|k| k.0).collect();
    assert_eq!(
        clients,
        ["10.7.0.2", "10.7.0.3"].map(String::from).into(),
        "{}",
        stderr(&o)
    );
    let s = summary_of(&o);
    let cut = s["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str().unwrap().ends_with("cut.log.gz"))
        .unwrap()
        .clone();
    assert!(cut["error"].as_str().is_some(), "{cut}");
    assert!(cut["events"].as_u64().unwrap() > 20_000, "{cut}");
}
