//! The Zeek, EVE and COF readers through the crate's public API, as the
//! hunt uses them: detection by content, `#` lines to a Zeek header,
//! `parse_line` per line. And their speed (`--ignored`, in release:
//! `cargo test -p takedown-netlog --release --test json_logs -- --ignored
//! --nocapture --test-threads=1 speed`).

use std::sync::Arc;
use std::time::Instant;

use takedown_netlog::event::parse_line;
use takedown_netlog::zeek::Header;
use takedown_netlog::{AnswerData, Event, EventKind, Format, LineCtx, Outcome, detect};

/// Reads a whole log the way the hunt does: `#` lines go to the Zeek
/// header (a new one is shared after each), the others to `parse_line`.
/// Returns each line's outcome and the events.
fn read_log(format: Format, text: &[u8]) -> (Vec<Outcome>, Vec<Event>) {
    let mut header = Header::default();
    let mut ctx = LineCtx::new(2026);
    let mut outcomes = Vec::new();
    let mut events = Vec::new();
    let mut ev = Event::default();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let o = if format == Format::ZeekTsv && line.starts_with(b"#") {
            let o = header.apply(line);
            ctx.zeek = Some(Arc::new(header.clone()));
            o
        } else {
            parse_line(format, &ctx, line, &mut ev)
        };
        if o == Outcome::Event {
            events.push(ev.clone());
        }
        outcomes.push(o);
    }
    (outcomes, events)
}

/// Tabs for the runs of spaces of a line written for reading.
fn tabs(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join("\t"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A dns.log and an http.log concatenated (zeek-docs log-formats.rst),
/// as `cat dns.log http.log` or a rotation gives.
fn zeek_tsv() -> Vec<u8> {
    let dns = tabs(
        "#set_separator ,
         #empty_field (empty)
         #unset_field -
         #path dns
         #open 2020-06-05-14-48-32
         #fields ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass qclass_name qtype qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected
         #types time string addr port addr port enum count interval string count string count string count string bool bool bool bool count vector[string] vector[interval] bool
         1591367999.306059 CazOhH2qDUiJTWMCY 192.168.4.76 36844 192.168.4.1 53 udp 8555 - testmyids.com 1 C_INTERNET 28 AAAA 0 NOERROR F F T F 0 - - F
         1591367999.305988 CazOhH2qDUiJTWMCY 192.168.4.76 36844 192.168.4.1 53 udp 19671 0.066852 testmyids.com 1 C_INTERNET 1 A 0 NOERROR F F T T 0 31.3.245.133 3600.000000 F
         #close 2020-06-05-14-48-32",
    );
    let http = tabs(
        "#set_separator ,
         #empty_field (empty)
         #unset_field -
         #path http
         #open 2020-06-05-14-48-32
         #fields ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri referrer version user_agent origin request_body_len response_body_len status_code status_msg info_code info_msg tags username password proxied orig_fuids orig_filenames orig_mime_types resp_fuids resp_filenames resp_mime_types
         1591367999.512593 CLqEx41jYPOdfHF586 192.168.4.76 46378 31.3.245.133 80 1 GET testmyids.com / - 1.1 curl/7.47.0 - 0 39 200 OK - - (empty) - - - - - - FEEsZS1w0Z0VJIb5x4 - text/plain
         #close 2020-06-05-14-48-32",
    );
    format!("#separator \\x09\n{dns}\n#separator \\x09\n{http}\n").into_bytes()
}

#[test]
fn zeek_tsv_files() {
    let log = zeek_tsv();
    assert_eq!(detect::detect(&log), Some(Format::ZeekTsv));
    let (outcomes, events) = read_log(Format::ZeekTsv, &log);
    let headers = log
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"#"))
        .count();
    let taken = outcomes
        .iter()
        .filter(|o| **o == Outcome::Ignored("Zeek header"))
        .count();
    assert_eq!(taken, headers, "every header line taken");
    assert_eq!(outcomes.len(), headers + 3);
    assert_eq!(events.len(), 3);
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::Dns, EventKind::Dns, EventKind::Http]
    );
    assert_eq!(events[1].answers.len(), 1);
    assert_eq!(events[2].url, "http://testmyids.com/");
    // A data line before any header.
    let mut ev = Event::default();
    assert_eq!(
        parse_line(Format::ZeekTsv, &LineCtx::new(2026), b"1\t2", &mut ev),
        Outcome::Bad("Zeek TSV line before any #fields header")
    );
}

/// Lines of Suricata's docs (eve-json-format.rst, 8.0-dns-logging-
/// changes.rst) with a stats record between them.
fn eve_json() -> Vec<u8> {
    [
        r#"{"timestamp":"2023-09-18T06:13:21.216460+0000","flow_id":1676750115612680,"event_type":"stats","stats":{"uptime":10,"capture":{"kernel_packets":100,"kernel_drops":0},"decoder":{"pkts":100,"bytes":1500}}}"#,
        r#"{"timestamp":"2023-09-18T06:13:33.903924+0000","flow_id":1676750115612680,"event_type":"dns","src_ip":"192.168.100.237","src_port":49175,"dest_ip":"192.168.100.1","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","tx_id":0,"id":0,"flags":"100","rd":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"www.suricata.io","rrtype":"A"}]}}"#,
        r#"{"timestamp":"2023-09-18T06:13:33.913924+0000","flow_id":1676750115612680,"event_type":"dns","src_ip":"192.168.100.1","src_port":53,"dest_ip":"192.168.100.237","dest_port":49175,"proto":"UDP","dns":{"version":3,"type":"response","tx_id":1,"id":0,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"www.suricata.io","rrtype":"A"}],"answers":[{"rrname":"www.suricata.io","rrtype":"CNAME","ttl":3597,"rdata":"suricata.io"},{"rrname":"suricata.io","rrtype":"A","ttl":597,"rdata":"35.212.0.44"}]}}"#,
        r#"{"timestamp":"2023-09-18T06:13:58.882971+0000","flow_id":1676750115612680,"pcap_cnt":2878,"event_type":"anomaly","src_ip":"192.168.100.237","src_port":49175,"dest_ip":"142.11.240.191","dest_port":35361,"proto":"TCP","tx_id":3,"anomaly":{"app_proto":"http","type":"applayer","event":"UNABLE_TO_MATCH_RESPONSE_TO_REQUEST","layer":"proto_parser"}}"#,
        r#"{"timestamp":"2023-09-18T06:13:33.903924+0000","flow_id":1676750115612680,"event_type":"http","src_ip":"192.168.100.237","src_port":49175,"dest_ip":"142.11.240.191","dest_port":35361,"proto":"TCP","tx_id":0,"http":{"hostname":"142.11.240.191","http_port":35361,"url":"/","http_method":"POST","protocol":"HTTP/1.1","status":200,"length":212}}"#,
        r#"{"timestamp":"2023-09-18T06:13:33.903924+0000","flow_id":1676750115612680,"event_type":"dns","src_ip":"192.168.100.237","src_port":49175,"dest_ip":"192.168.100.1","dest_port":53,"dns":{"version":3,"type":"request","queries":"#,
    ]
    .join("\n")
    .into_bytes()
}

#[test]
fn eve_files() {
    let log = eve_json();
    assert_eq!(detect::detect(&log), Some(Format::Eve));
    let (outcomes, events) = read_log(Format::Eve, &log);
    assert_eq!(
        outcomes,
        [
            Outcome::Ignored("EVE event type not hunted"),
            Outcome::Event,
            Outcome::Event,
            Outcome::Ignored("EVE event type not hunted"),
            Outcome::Event,
            // A line cut short (a log being written).
            Outcome::Bad("invalid JSON"),
        ]
    );
    // The request and the response name the same client and server.
    assert_eq!(events[0].client, events[1].client);
    assert_eq!(events[0].server, events[1].server);
    assert!(matches!(events[1].answers[1].data, AnswerData::Addr(_)));
    assert_eq!(events[2].url, "http://142.11.240.191:35361/");
}

#[test]
fn json_formats_claim_only_their_lines() {
    let zeek = br#"{"ts":1591367999.305988,"uid":"CMdzit1AMNsmfAIiQc","id.orig_h":"192.168.4.76","id.orig_p":36844,"id.resp_h":"192.168.4.1","id.resp_p":53,"proto":"udp","trans_id":19671,"query":"testmyids.com","qtype":1,"answers":["31.3.245.133"],"TTLs":[3600.0],"rejected":false}"#;
    let cof = br#"{"count": 102, "time_first": 1298412391, "rrtype": "AAAA", "rrname": "www.ietf.org", "rdata": "2001:1890:1112:1::20", "time_last": 1302506851}"#;
    let eve = eve_json();
    let eve_line = eve.split(|&b| b == b'\n').nth(2).unwrap();
    let tsv = zeek_tsv();
    let tsv_line = tsv.split(|&b| b == b'\n').next().unwrap();
    assert_eq!(detect::line(zeek), Some(Format::ZeekJson));
    assert_eq!(detect::line(cof), Some(Format::Cof));
    assert_eq!(detect::line(eve_line), Some(Format::Eve));
    assert_eq!(detect::line(b"#separator \\x09"), Some(Format::ZeekTsv));
    for (line, own) in [
        (&zeek[..], Format::ZeekJson),
        (cof, Format::Cof),
        (eve_line, Format::Eve),
        (tsv_line, Format::ZeekTsv),
    ] {
        assert_eq!(
            takedown_netlog::zeek::sniff_json(line),
            own == Format::ZeekJson
        );
        assert_eq!(takedown_netlog::eve::sniff(line), own == Format::Eve);
        assert_eq!(takedown_netlog::cof::sniff(line), own == Format::Cof);
        assert_eq!(
            takedown_netlog::zeek::sniff_tsv(line),
            own == Format::ZeekTsv
        );
    }
    // Each reader refuses the others' lines rather than misreading them.
    let mut ev = Event::default();
    let ctx = LineCtx::new(2026);
    assert_eq!(
        parse_line(Format::Eve, &ctx, zeek, &mut ev),
        Outcome::Bad("EVE record without event_type")
    );
    assert_eq!(
        parse_line(Format::Cof, &ctx, eve_line, &mut ev),
        Outcome::Bad("missing rrname")
    );
    assert_eq!(
        parse_line(Format::ZeekJson, &ctx, cof, &mut ev),
        Outcome::Ignored("Zeek log of another kind")
    );
}

#[test]
fn hostile_lines_never_panic() {
    // Every prefix and a few byte flips of real lines, in every reader.
    let mut header = Header::default();
    let tsv = zeek_tsv();
    for l in tsv
        .split(|&b| b == b'\n')
        .take_while(|l| l.starts_with(b"#"))
    {
        header.apply(l);
    }
    let mut ctx = LineCtx::new(2026);
    ctx.zeek = Some(Arc::new(header));
    let eve = eve_json();
    let lines: Vec<&[u8]> = eve
        .split(|&b| b == b'\n')
        .chain(tsv.split(|&b| b == b'\n'))
        .collect();
    let mut ev = Event::default();
    for line in lines {
        for end in 0..=line.len() {
            let cut = &line[..end];
            for f in [Format::ZeekTsv, Format::ZeekJson, Format::Eve, Format::Cof] {
                parse_line(f, &ctx, cut, &mut ev);
                let mut flipped = cut.to_vec();
                if let Some(b) = flipped.get_mut(end / 2) {
                    *b ^= 0x80;
                }
                parse_line(f, &ctx, &flipped, &mut ev);
            }
        }
    }
}

#[test]
fn random_lines_never_panic() {
    // Seeded noise: random bytes, and random sequences of JSON and Zeek
    // tokens, to every reader and to the Zeek header.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let tokens: [&[u8]; 24] = [
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"",
        b"\\",
        b"\\u00",
        b"-1e999",
        b"0.5",
        b"\"event_type\"",
        b"\"dns\"",
        b"\"answers\"",
        b"\"grouped\"",
        b"\"rdata\"",
        b"\"ts\"",
        b"\"query\"",
        b"\"rrname\"",
        b"\"obj\"",
        b"\t",
        b"\\x",
        b"-",
        b"\xff",
    ];
    let mut header = Header::default();
    let mut ev = Event::default();
    for round in 0..20_000 {
        let mut line = Vec::new();
        let len = (next() % 200) as usize;
        if round % 2 == 0 {
            line.extend((0..len).map(|_| next() as u8));
        } else {
            for _ in 0..len / 4 {
                line.extend_from_slice(tokens[(next() % tokens.len() as u64) as usize]);
            }
        }
        let mut h = b"#fields\t".to_vec();
        h.extend_from_slice(&line);
        header.apply(&h);
        header.apply(&line);
        let mut ctx = LineCtx::new(2026);
        ctx.zeek = Some(Arc::new(header.clone()));
        for f in [Format::ZeekTsv, Format::ZeekJson, Format::Eve, Format::Cof] {
            parse_line(f, &ctx, &line, &mut ev);
        }
        detect::line(&line);
    }
}

/// `n` Zeek dns.log lines with varied names and answers.
fn zeek_dns_lines(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(
            format!(
                "1591367999.{:06}\tCazOhH2qDUiJTWMCY\t192.168.{}.{}\t{}\t192.168.4.1\t53\tudp\t{}\t0.066852\thost{}.example{}.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tcdn{}.example.net,31.3.{}.{}\t300.000000,3600.000000\tF\n",
                i % 1_000_000,
                i % 200,
                i % 250,
                1024 + i % 60000,
                i % 65536,
                i,
                i % 97,
                i % 13,
                i % 256,
                (i / 256) % 256,
            )
            .as_bytes(),
        );
    }
    out
}

/// `n` EVE v3 DNS records, requests and responses alternating.
fn eve_dns_lines(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let line = if i % 2 == 0 {
            format!(
                r#"{{"timestamp":"2023-09-18T06:13:33.{:06}+0000","flow_id":{},"in_iface":"eth0","event_type":"dns","src_ip":"192.168.{}.{}","src_port":{},"dest_ip":"192.168.100.1","dest_port":53,"proto":"UDP","pkt_src":"wire/pcap","dns":{{"version":3,"type":"request","tx_id":0,"id":{},"flags":"100","rd":true,"opcode":0,"rcode":"NOERROR","queries":[{{"rrname":"host{}.example{}.com","rrtype":"A"}}]}}}}"#,
                i % 1_000_000,
                1_676_750_115_612_680u64 + i as u64,
                i % 200,
                i % 250,
                1024 + i % 60000,
                i % 65536,
                i,
                i % 97
            )
        } else {
            format!(
                r#"{{"timestamp":"2023-09-18T06:13:33.{:06}+0000","flow_id":{},"in_iface":"eth0","event_type":"dns","src_ip":"192.168.100.1","src_port":53,"dest_ip":"192.168.{}.{}","dest_port":{},"proto":"UDP","pkt_src":"wire/pcap","dns":{{"version":3,"type":"response","tx_id":1,"id":{},"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rcode":"NOERROR","queries":[{{"rrname":"host{}.example{}.com","rrtype":"A"}}],"answers":[{{"rrname":"host{}.example{}.com","rrtype":"CNAME","ttl":300,"rdata":"cdn{}.example.net"}},{{"rrname":"cdn{}.example.net","rrtype":"A","ttl":60,"rdata":"35.212.{}.{}"}}]}}}}"#,
                i % 1_000_000,
                1_676_750_115_612_680u64 + i as u64,
                i % 200,
                i % 250,
                1024 + i % 60000,
                i % 65536,
                i,
                i % 97,
                i,
                i % 97,
                i % 13,
                i % 13,
                i % 256,
                (i / 256) % 256
            )
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Reads `text` line by line `rounds` times on one thread; the lines per
/// second of the fastest round (the machine may be shared: the fastest
/// round is the least disturbed).
fn lines_per_second(format: Format, ctx: &LineCtx, text: &[u8], rounds: usize) -> f64 {
    let mut ev = Event::default();
    let mut best = 0f64;
    for _ in 0..rounds {
        let mut n = 0u64;
        let start = Instant::now();
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let o = parse_line(format, ctx, line, &mut ev);
            assert_eq!(o, Outcome::Event, "{}", String::from_utf8_lossy(line));
            n += 1;
        }
        best = best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    best
}

#[test]
#[ignore = "timing: run in release with --ignored --nocapture --test-threads=1"]
fn zeek_speed() {
    let mut header = Header::default();
    let tsv = zeek_tsv();
    for l in tsv.split(|&b| b == b'\n').take(8) {
        header.apply(l);
    }
    let mut ctx = LineCtx::new(2026);
    ctx.zeek = Some(Arc::new(header));
    let text = zeek_dns_lines(200_000);
    let rate = lines_per_second(Format::ZeekTsv, &ctx, &text, 5);
    println!(
        "Zeek TSV dns: {:.2} M lines/s, {:.0} MB/s on one core",
        rate / 1e6,
        rate * text.len() as f64 / 200_000.0 / 1e6
    );
}

#[test]
#[ignore = "timing: run in release with --ignored --nocapture --test-threads=1"]
fn eve_speed() {
    let text = eve_dns_lines(200_000);
    let rate = lines_per_second(Format::Eve, &LineCtx::new(2026), &text, 5);
    println!(
        "EVE dns v3: {:.2} M lines/s, {:.0} MB/s on one core",
        rate / 1e6,
        rate * text.len() as f64 / 200_000.0 / 1e6
    );
}
