//! Shared log hunting end to end (`takedown hunt --nats URL --publish`
//! and `--worker`): a real `nats-server -js` on loopback (started here on
//! a free port with a private store), real worker processes, some killed
//! with SIGKILL in the middle of a batch, and the publisher's output
//! compared with a single `takedown hunt` over the same logs. Without
//! nats-server these tests fail (Debian: `apt-get install nats-server`);
//! they never skip.

#[path = "util/nats.rs"]
mod nats;
mod util;

use nats::Nats;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};
use util::{Tree, code, stderr, stdout};

/// A `takedown hunt` process (publisher or worker) with its output in
/// files, killed when dropped.
struct Proc {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    fn spawn(t: &Tree, name: &str, args: &[String], fault: Option<&str>) -> Proc {
        let out = t.path(&format!("{name}.out"));
        let err = t.path(&format!("{name}.err"));
        let mut c = t.cmd();
        c.arg("hunt").args(args);
        match fault {
            Some(f) => c.env("TAKEDOWN_FLEET_FAULT", f),
            None => c.env_remove("TAKEDOWN_FLEET_FAULT"),
        };
        let child = c
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Proc { child, out, err }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits for the process to end by itself.
    fn wait(&mut self, secs: u64, what: &str) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if started.elapsed() > Duration::from_secs(secs) {
                let _ = self.child.kill();
                panic!("{what} did not end within {secs}s: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C, then waits for a clean end.
    fn interrupt(&mut self, what: &str) -> ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.wait(30, what)
    }

    /// Waits until its stderr holds `needle`; returns that line.
    fn wait_for_line(&mut self, needle: &str, secs: u64) -> String {
        let started = Instant::now();
        loop {
            if let Some(l) = self.stderr().lines().find(|l| l.contains(needle)) {
                return l.to_string();
            }
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!("ended ({s}) before saying {needle:?}: {}", self.stderr());
            }
            assert!(
                started.elapsed() < Duration::from_secs(secs),
                "no {needle:?} within {secs}s: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ZEEK_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#open\t2016-11-30-00-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n";

/// The same log after a rotation, its columns in another order (the
/// lines after it are read only with this header).
const ZEEK_HEADER_2: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#open\t2016-11-30-12-00-00\n#fields\tts\tquery\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tanswers\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tvector[string]\n";

fn zeek_dns(ts: u64, client: &str, query: &str, answers: &str) -> String {
    format!(
        "{ts}.123456\tCabc{ts}\t{client}\t53123\t10.0.0.53\t53\tudp\t4711\t0.001\t{query}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t{answers}\t300.000000\tF\n"
    )
}

fn zeek_dns_2(ts: u64, client: &str, query: &str, answers: &str) -> String {
    format!("{ts}.5\t{query}\t{client}\t53124\t10.0.0.53\t53\tudp\t{answers}\n")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Logs of several formats, long enough for dozens of small batches:
/// indicators, a subdomain of one asked with hundreds of distinct names
/// (its distinct count is merged from many batches), an address in a
/// CIDR block, a URL, DGA names, a Zeek header that changes half-way
/// (the batches after it carry the new one), syslog-style lines without
/// a year, unreadable lines. Returns the indicator arguments and the
/// logs.
fn logs(t: &Tree) -> (Vec<String>, Vec<String>) {
    let o = t.run(&[
        "dga",
        "gen",
        "--family",
        "tinba",
        "--from",
        "2016-11-30",
        "--to",
        "2016-11-30",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let dga: Vec<String> = stdout(&o)
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .take(20)
        .collect();
    assert!(dga.len() >= 10, "tinba names: {}", stdout(&o));
    t.write(
        "iocs.txt",
        "evil-one.example\n198.51.100.0/24\n203.0.113.7\nhttp://bad.example/gate.php\n",
    );
    let mut z = String::from(ZEEK_HEADER);
    let mut ts = 1_480_507_200u64;
    for i in 0..6000u64 {
        ts += 1;
        let client = format!("10.{}.{}.{}", 1 + i % 3, (i / 250) % 250, i % 250 + 1);
        let line = match i % 97 {
            3 => zeek_dns(ts, &client, "evil-one.example", "192.0.2.1"),
            11 => zeek_dns(ts, "10.5.0.1", &format!("x{i}.evil-one.example"), "-"),
            19 => zeek_dns(ts, &client, "benign.example", "192.0.2.9,198.51.100.77"),
            29 => zeek_dns(ts, &client, &dga[(i as usize) % dga.len()], "-"),
            41 => "garbage\tline\n".to_string(),
            _ => zeek_dns(ts, &client, &format!("host{i}.benign.example"), "192.0.2.4"),
        };
        z += &line;
        if i == 3000 {
            z += ZEEK_HEADER_2;
            // The old layout is gone: these lines are read with the new
            // header only.
            for j in 0..3000u64 {
                ts += 1;
                let client = format!("10.7.{}.{}", j / 250, j % 250 + 1);
                z += &match j % 89 {
                    5 => zeek_dns_2(ts, &client, "cdn.evil-one.example", "192.0.2.1"),
                    17 => zeek_dns_2(ts, "10.5.0.1", &format!("y{j}.evil-one.example"), "-"),
                    _ => zeek_dns_2(ts, &client, &format!("n{j}.benign.example"), "192.0.2.5"),
                };
            }
            z += ZEEK_HEADER;
        }
    }
    t.write("zeek/dns.log", &z);
    let mut dm = String::new();
    for i in 0..4000u64 {
        let client = format!("10.3.{}.{}", i / 250, i % 250 + 1);
        let name = match i % 83 {
            7 => "www.evil-one.example".to_string(),
            13 => dga[(i as usize) % dga.len()].clone(),
            _ => format!("d{i}.benign.example"),
        };
        dm += &format!(
            "Nov 30 12:{:02}:{:02} dnsmasq[123]: query[A] {name} from {client}\n",
            (i / 60) % 60,
            i % 60
        );
    }
    t.write("dnsmasq/dnsmasq.log", &dm);
    let mut sq = String::new();
    for i in 0..4000u64 {
        let client = format!("10.4.{}.{}", i / 250, i % 250 + 1);
        let url = match i % 71 {
            9 => format!("http://bad.example/gate.php?id={i}"),
            23 => "http://203.0.113.7/x".to_string(),
            _ => format!("http://site{i}.benign.example/page"),
        };
        sq += &format!(
            "{}.123     45 {client} TCP_MISS/200 1234 GET {url} - HIER_DIRECT/192.0.2.80 text/html\n",
            1_480_507_200 + i
        );
    }
    t.write("squid/access.log.gz", gzip(sq.as_bytes()));
    let indicators = vec![
        "-s".to_string(),
        t.arg("iocs.txt"),
        "--dga".to_string(),
        "tinba".to_string(),
        "--from".to_string(),
        "2016-11-30".to_string(),
        "--to".to_string(),
        "2016-11-30".to_string(),
    ];
    let logs = vec![
        t.arg("zeek/dns.log"),
        t.arg("dnsmasq/dnsmasq.log"),
        t.arg("squid/access.log.gz"),
    ];
    (indicators, logs)
}

/// NDJSON output without what differs between any two runs (the
/// summary's start time, duration and host).
fn comparable(json: &str) -> Vec<serde_json::Value> {
    json.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["type"] == "hunt-summary" {
                let o = v.as_object_mut().unwrap();
                for k in ["started", "elapsed_seconds", "host"] {
                    o.remove(k);
                }
            }
            v
        })
        .collect()
}

/// The numbers a worker says when it stops.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    done: u64,
    again: u64,
    by_path: u64,
    stored_before: u64,
    refused: u64,
    unread: u64,
}

fn worker_counts(err: &str) -> Counts {
    let l = err
        .lines()
        .find(|l| l.contains("worker stopped:"))
        .unwrap_or_else(|| panic!("no summary: {err}"));
    let nums: Vec<u64> = l
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 6, "{l}");
    Counts {
        done: nums[0],
        again: nums[1],
        by_path: nums[2],
        stored_before: nums[3],
        refused: nums[4],
        unread: nums[5],
    }
}

fn killed(s: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    s.signal() == Some(libc::SIGKILL)
}

#[test]
fn three_workers_one_killed_mid_batch_find_what_one_hunt_finds() {
    let nats = Nats::start();
    let t = Tree::new();
    let (ind, logs) = logs(&t);
    let mut single = vec!["hunt".to_string(), "--format".into(), "json".into()];
    single.extend(ind.iter().cloned());
    single.extend(logs.iter().cloned());
    let single: Vec<&str> = single.iter().map(String::as_str).collect();
    let alone = t.run(&single);
    assert_eq!(code(&alone), 1, "{}", stderr(&alone));
    let alone_out = stdout(&alone);
    assert!(alone_out.lines().count() > 20, "{alone_out}");

    let mut args = vec![
        "--nats".to_string(),
        nats.url.clone(),
        "--publish".into(),
        "--ack-wait".into(),
        "2".into(),
        "--batch-bytes".into(),
        "16384".into(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(ind.iter().cloned());
    args.extend(logs.iter().cloned());
    let mut publisher = Proc::spawn(&t, "publisher", &args, None);
    publisher.wait_for_line("shared hunt", 60);
    let mut wargs = vec!["--nats".to_string(), nats.url.clone(), "--worker".into()];
    wargs.extend(ind.iter().cloned());
    // The workers to be killed start one at a time, each alone on the
    // queue, so that each surely reaches the batch it dies in (started
    // together, a fast worker could take every batch first).
    // Killed (SIGKILL) with its 3rd batch's part stored and the batch not
    // acknowledged: that batch is read again, its part published twice.
    let mut w1 = Proc::spawn(&t, "w1", &wargs, Some("log-before-ack#3"));
    let s1 = w1.wait(120, "worker 1");
    assert!(killed(s1), "worker 1: {s1}: {}", w1.stderr());
    // Killed in the middle of its 2nd batch, nothing published: not
    // restarted.
    let mut w2 = Proc::spawn(&t, "w2", &wargs, Some("log-before-part#2"));
    let s2 = w2.wait(120, "worker 2");
    assert!(killed(s2), "worker 2: {s2}: {}", w2.stderr());
    let mut w3 = Proc::spawn(&t, "w3", &wargs, None);
    // Worker 1 comes back.
    let mut w1b = Proc::spawn(&t, "w1b", &wargs, None);

    let st = publisher.wait(180, "the publisher");
    assert_eq!(st.code(), Some(1), "{}", publisher.stderr());
    let shared_out = publisher.stdout();
    // Byte for byte but the summary's run-dependent fields.
    assert_eq!(
        comparable(&shared_out),
        comparable(&alone_out),
        "shared:\n{shared_out}\nalone:\n{alone_out}\n{}",
        publisher.stderr()
    );
    let sightings = |s: &str| {
        s.lines()
            .filter(|l| l.contains("\"type\":\"sighting\""))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(sightings(&shared_out), sightings(&alone_out));
    let many = comparable(&shared_out)
        .into_iter()
        .find(|v| v["client"] == "10.5.0.1")
        .expect("the client of many subdomains");
    // 62 x-names (one Zeek line in 97 of 6,000) and 34 y-names (one in
    // 89 of 3,000, under the second header): counted by hash past the 20
    // values listed, over dozens of batches.
    assert_eq!(
        many["matched_count"].as_u64(),
        Some(96),
        "distinct values merged across batches: {many}"
    );

    let mut total = (0, 0, 0, 0);
    for (w, name) in [(&mut w3, "worker 3"), (&mut w1b, "worker 1 again")] {
        let s = w.interrupt(name);
        assert_eq!(s.code(), Some(0), "{name}: {}", w.stderr());
        let c = worker_counts(&w.stderr());
        assert_eq!((c.by_path, c.unread), (0, 0), "{c:?}");
        total = (
            total.0 + c.done,
            total.1 + c.again,
            total.2 + c.stored_before,
            total.3 + c.refused,
        );
    }
    let merged: u64 = publisher
        .stderr()
        .lines()
        .find_map(|l| l.split_once(" batches merged;"))
        .and_then(|(head, _)| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", publisher.stderr()));
    assert!(merged > 50, "dozens of batches: {}", publisher.stderr());
    // Both killed batches were delivered again, and the one whose part
    // was stored before the kill published it a second time (dropped by
    // the server, merged once).
    assert!(total.1 >= 2, "redeliveries: {total:?}");
    assert!(total.2 >= 1, "a part published twice: {total:?}");
    assert_eq!(total.3, 0);
    // Workers 1 and 2 finished 2 and 1 batches before their deaths.
    assert_eq!(total.0 + 3, merged, "{total:?}");
}

/// Publishes raw bytes on a subject of the server (what a hostile or
/// broken client could put there).
fn inject(url: &str, subject: &str, payloads: Vec<Vec<u8>>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = takedown_fleet::async_nats::connect(url).await.unwrap();
        let js = takedown_fleet::async_nats::jetstream::new(client);
        for p in payloads {
            js.publish(subject.to_string(), p.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });
}

#[test]
fn garbage_batches_and_parts_are_refused_and_the_hunt_goes_on() {
    let nats = Nats::start();
    let t = Tree::new();
    let (ind, logs) = logs(&t);
    let mut single = vec!["hunt".to_string()];
    single.extend(ind.iter().cloned());
    single.extend(logs.iter().cloned());
    let single: Vec<&str> = single.iter().map(String::as_str).collect();
    let alone = t.run(&single);
    assert_eq!(code(&alone), 1, "{}", stderr(&alone));

    let mut args = vec!["--nats".to_string(), nats.url.clone(), "--publish".into()];
    args.extend(ind.iter().cloned());
    args.extend(logs.iter().cloned());
    let mut publisher = Proc::spawn(&t, "publisher", &args, None);
    let line = publisher.wait_for_line("shared hunt", 60);
    let job = line
        .split("shared hunt ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .unwrap()
        .to_string();
    let mut bad_head = b"TDLB1\n".to_vec();
    bad_head.extend_from_slice(&(u32::MAX).to_le_bytes());
    let mut unknown_field = b"TDLB1\n".to_vec();
    let json = br#"{"v":1,"job":"x","evil":true}"#;
    unknown_field.extend_from_slice(&(json.len() as u32).to_le_bytes());
    unknown_field.extend_from_slice(json);
    inject(
        &nats.url,
        &format!("takedown.logs.batch.{job}"),
        vec![b"\x00\xffnot a batch".to_vec(), bad_head, unknown_field],
    );
    inject(
        &nats.url,
        &format!("takedown.logs.part.{job}"),
        vec![
            b"{\"v\":1".to_vec(),
            format!(r#"{{"v":1,"job":"{job}","batch":"nope","part":0,"parts":1,"state":{{}}}}"#)
                .into_bytes(),
        ],
    );
    let mut wargs = vec!["--nats".to_string(), nats.url.clone(), "--worker".into()];
    wargs.extend(ind.iter().cloned());
    let mut w = Proc::spawn(&t, "w", &wargs, None);
    let st = publisher.wait(120, "the publisher");
    assert_eq!(st.code(), Some(1), "{}", publisher.stderr());
    // The text report, byte for byte.
    assert_eq!(publisher.stdout(), stdout(&alone));
    let perr = publisher.stderr();
    assert_eq!(perr.matches("a partial state refused").count(), 2, "{perr}");
    let s = w.interrupt("the worker");
    assert_eq!(s.code(), Some(0), "{}", w.stderr());
    let werr = w.stderr();
    assert_eq!(werr.matches("refused: ").count(), 3, "{werr}");
    assert!(werr.contains("not a takedown log batch"), "{werr}");
    assert!(werr.contains("unknown field"), "{werr}");
    assert_eq!(worker_counts(&werr).refused, 3);
}

/// The number before `what` in the line of `text` that holds it.
fn number_before(text: &str, what: &str) -> u64 {
    text.lines()
        .find_map(|l| l.split_once(what))
        .and_then(|(head, _)| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {what:?} in {text}"))
}

/// `--by-path`: a worker below a `--read-root` reads the plain logs'
/// ranges itself; one without reads none of them and sends them back,
/// and the publisher sends their lines; the compressed log travels with
/// its lines. The report is the hunt's alone, whoever read what.
#[test]
fn batches_sent_by_path_are_read_where_allowed_and_sent_again_elsewhere() {
    let nats = Nats::start();
    let t = Tree::new();
    let (ind, logs) = logs(&t);
    let mut single = vec!["hunt".to_string(), "--format".into(), "json".into()];
    single.extend(ind.iter().cloned());
    single.extend(logs.iter().cloned());
    let single: Vec<&str> = single.iter().map(String::as_str).collect();
    let alone = t.run(&single);
    assert_eq!(code(&alone), 1, "{}", stderr(&alone));

    let mut args = vec![
        "--nats".to_string(),
        nats.url.clone(),
        "--publish".into(),
        "--by-path".into(),
        "--batch-bytes".into(),
        "16384".into(),
        "--range-bytes".into(),
        "16384".into(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(ind.iter().cloned());
    args.extend(logs.iter().cloned());
    let mut publisher = Proc::spawn(&t, "publisher", &args, None);
    publisher.wait_for_line("shared hunt", 60);
    let mut wargs = vec!["--nats".to_string(), nats.url.clone(), "--worker".into()];
    wargs.extend(ind.iter().cloned());
    // First alone on the queue: a worker that may read nothing by path
    // (its root is another directory), surely handed batches sent by path.
    let mut blind_args = wargs.clone();
    blind_args.extend(["--read-root".to_string(), t.arg("squid")]);
    let mut blind = Proc::spawn(&t, "blind", &blind_args, None);
    blind.wait_for_line("not read here", 60);
    let mut seeing_args = wargs.clone();
    seeing_args.extend(["--read-root".to_string(), t.arg("")]);
    let mut seeing = Proc::spawn(&t, "seeing", &seeing_args, None);

    let st = publisher.wait(180, "the publisher");
    assert_eq!(st.code(), Some(1), "{}", publisher.stderr());
    assert_eq!(
        comparable(&publisher.stdout()),
        comparable(&stdout(&alone)),
        "{}",
        publisher.stderr()
    );
    let perr = publisher.stderr();
    let b = blind.interrupt("the blind worker");
    assert_eq!(b.code(), Some(0), "{}", blind.stderr());
    let s = seeing.interrupt("the seeing worker");
    assert_eq!(s.code(), Some(0), "{}", seeing.stderr());
    let (cb, cs) = (
        worker_counts(&blind.stderr()),
        worker_counts(&seeing.stderr()),
    );
    assert_eq!(cb.by_path, 0, "{cb:?}");
    assert!(cb.unread >= 1, "{cb:?}");
    assert!(cs.by_path >= 10, "{cs:?}");
    // The blind worker's root holds the compressed log only, which goes
    // with its lines anyway: nothing it read was by path.
    let by_path = number_before(&perr, " batches sent by path");
    let resent = number_before(&perr, " of them sent again with their lines");
    assert_eq!(resent, cb.unread + cs.unread, "{perr}");
    assert_eq!(cs.unread, 0, "{cs:?}");
    assert_eq!(by_path, cs.by_path + resent, "{perr}\n{cb:?} {cs:?}");
    assert_eq!(
        cb.done + cs.done,
        number_before(&perr, " batches merged;"),
        "{perr}"
    );
    assert!(perr.contains("0 given up"), "{perr}");
}

/// A log changed after the publisher read it: a worker finds the range
/// is not what was read and sends it back; the publisher finds the same,
/// gives those batches up and says so in the report (the input's error),
/// and everything else is hunted.
#[test]
fn a_log_changed_under_a_shared_hunt_is_reported_not_hunted_as_it_is_now() {
    let nats = Nats::start();
    let t = Tree::new();
    t.write(
        "iocs.txt",
        "evil-one.example
",
    );
    let mut log = String::new();
    for i in 0..4000u64 {
        let name = if i % 100 == 7 {
            "evil-one.example".to_string()
        } else {
            format!("d{i}.benign.example")
        };
        log += &format!(
            "Nov 30 12:{:02}:{:02} dnsmasq[123]: query[A] {name} from 10.3.0.{}\n",
            (i / 60) % 60,
            i % 60,
            i % 250 + 1
        );
    }
    t.write("logs/dnsmasq.log", &log);
    let args = vec![
        "--nats".to_string(),
        nats.url.clone(),
        "--publish".into(),
        "--by-path".into(),
        "--batch-bytes".into(),
        "16384".into(),
        "--range-bytes".into(),
        "16384".into(),
        "--format".into(),
        "json".into(),
        "-s".into(),
        t.arg("iocs.txt"),
        t.arg("logs/dnsmasq.log"),
    ];
    let mut publisher = Proc::spawn(&t, "publisher", &args, None);
    publisher.wait_for_line("shared hunt", 60);
    // The publisher reads 280 KB and puts its batches on the queue
    // without waiting for workers; then the first line changes length.
    std::thread::sleep(Duration::from_secs(2));
    let changed = log.replacen("d0.benign.example", "d0.benign.example.changed", 1);
    t.write("logs/dnsmasq.log", &changed);
    let wargs = vec![
        "--nats".to_string(),
        nats.url.clone(),
        "--worker".into(),
        "-s".into(),
        t.arg("iocs.txt"),
        "--read-root".into(),
        t.arg("logs"),
    ];
    let mut w = Proc::spawn(&t, "w", &wargs, None);
    let st = publisher.wait(120, "the publisher");
    let perr = publisher.stderr();
    let out = publisher.stdout();
    let s = w.interrupt("the worker");
    assert_eq!(s.code(), Some(0), "{}", w.stderr());
    let c = worker_counts(&w.stderr());
    // Every range moved (the first line grew): none read as it is now.
    assert_eq!(c.by_path, 0, "{c:?}");
    assert!(c.unread >= 10, "{c:?}");
    assert!(perr.contains("not those the publisher read"), "{perr}");
    let given_up = number_before(&perr, " given up");
    assert_eq!(given_up, c.unread, "{perr}");
    assert!(perr.contains("not hunted"), "{perr}");
    // The input's error says which bytes were not hunted.
    let summary = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["type"] == "hunt-summary")
        .unwrap_or_else(|| panic!("{out}\n{perr}"));
    let err = summary.to_string();
    assert!(err.contains("not hunted"), "{summary}");
    // Nothing found, an input not read whole: an error.
    assert_eq!(st.code(), Some(2), "{perr}");
}

/// Bad command lines are refused before the network is tried.
#[test]
fn shared_hunts_refuse_what_they_cannot_share() {
    let t = Tree::new();
    t.write("iocs.txt", "evil-one.example\n");
    t.write("a.log", "x\n");
    let ioc = t.arg("iocs.txt");
    let log = t.arg("a.log");
    // Port 9 (discard): nothing listens; the refusal comes first.
    let url = "nats://127.0.0.1:9";
    for (args, why) in [
        (
            vec![
                "hunt",
                "--nats",
                url,
                "--publish",
                "--flux",
                "-s",
                &ioc,
                &log,
            ],
            "not shared",
        ),
        (vec!["hunt", "--nats", url, "-s", &ioc, &log], "--publish"),
        (vec!["hunt", "--worker", "-s", &ioc], "--nats"),
    ] {
        let o = t.run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
    }
}
