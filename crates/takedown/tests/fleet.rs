//! Fleet hunts end to end: a real `nats-server -js` on loopback (started
//! here on a free port with a private store, stopped at the end), real
//! `takedown agent` processes, the analyst's `takedown fleet` commands.
//! Without nats-server these tests fail (Debian: `apt-get install
//! nats-server`); they never skip.

#[path = "util/nats.rs"]
mod nats;
mod util;

use nats::Nats;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use util::{Tree, eicar, run_with_timeout, stderr, stdout};

/// An agent process, killed when dropped.
struct Agent {
    child: Child,
    log: PathBuf,
}

impl Agent {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test's world: server, analyst's tree with keys and bundles.
struct Fleet {
    nats: Nats,
    t: Tree,
    /// The CA agents and the analyst trust for the server's certificate.
    ca: Option<PathBuf>,
}

impl Fleet {
    fn new() -> Fleet {
        Fleet::with(Nats::start())
    }

    fn with(nats: Nats) -> Fleet {
        let t = Tree::new();
        let out = t.run(&["sigs", "keygen", "-o", &t.arg("key")]);
        assert!(out.status.success(), "{}", stderr(&out));
        Fleet { nats, t, ca: None }
    }

    /// A bundle of one YARA rule detecting the marker, signed with `key`
    /// (None: unsigned).
    fn bundle(&self, name: &str, key: Option<&str>) -> PathBuf {
        let dir = format!("src-{name}");
        self.t.write(
            &format!("{dir}/marker.yar"),
            "rule Fleet_Marker { meta: score = 80 strings: $m = \"TAKEDOWN-FLEET-MARKER\" condition: $m }\n",
        );
        let file = self.t.path(&format!("{name}.tdsb"));
        let src = self.t.arg(&dir);
        let mut args = vec![
            "sigs",
            "bundle",
            src.as_str(),
            "-o",
            file.to_str().unwrap(),
            "--bundle-version",
            "1",
        ];
        let key_arg;
        if let Some(k) = key {
            key_arg = self.t.arg(k);
            args.push("--key");
            args.push(&key_arg);
        }
        let out = self.t.run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        file
    }

    /// Starts `takedown agent` for `host` over `root`, with extra flags
    /// and environment.
    fn agent(&self, host: &str, root: &Path, extra: &[&str], env: &[(&str, &str)]) -> Agent {
        let log = self.t.path(&format!("agent-{host}-{}.log", rand_suffix()));
        let mut c = self.t.cmd();
        c.args([
            "agent",
            "--nats",
            &self.nats.url_for(host),
            "--host-id",
            host,
            "--label",
            "os=linux",
            "--trusted-key",
            &self.t.arg("key.pub"),
            "--root",
            root.to_str().unwrap(),
            "--work-dir",
            self.t.root().to_str().unwrap(),
            "--ack-wait",
            "2",
            "--poll-ms",
            "200",
            "--vault",
            &self.t.arg(&format!("vault-{host}")),
            // Kept across a restart of the same host: its message ids.
            "--state-dir",
            &self.t.arg(&format!("state-{host}")),
        ])
        .args(extra)
        .env("TAKEDOWN_LOG", "info")
        .envs(self.ca.iter().map(|ca| ("TAKEDOWN_NATS_CA", ca)))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            c.env(k, v);
        }
        Agent {
            child: c.spawn().unwrap(),
            log,
        }
    }

    /// `takedown fleet ARGS --nats URL`.
    fn fleet(&self, args: &[&str]) -> std::process::Output {
        let mut c = self.t.cmd();
        c.arg("fleet").args(args).args(["--nats", &self.nats.url]);
        if let Some(ca) = &self.ca {
            c.env("TAKEDOWN_NATS_CA", ca);
        }
        run_with_timeout(c, 60)
    }

    /// Issues a hunt and returns its id.
    fn hunt(&self, bundle: &Path, extra: &[&str]) -> String {
        let mut args = vec!["hunt", "--bundle", bundle.to_str().unwrap()];
        if !extra.contains(&"--expires") {
            args.extend_from_slice(&["--expires", "10m"]);
        }
        args.extend_from_slice(extra);
        let out = self.fleet(&args);
        assert!(out.status.success(), "fleet hunt: {}", stderr(&out));
        let id = stdout(&out).trim().to_string();
        assert!(
            !id.is_empty() && !id.contains(char::is_whitespace),
            "{id:?}"
        );
        id
    }

    /// `fleet status --format json`, by host.
    fn status(&self, hunt: &str) -> BTreeMap<String, serde_json::Value> {
        let out = self.fleet(&["status", hunt, "--format", "json"]);
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{}",
            stderr(&out)
        );
        stdout(&out)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["host"].as_str().unwrap().to_string(), v)
            })
            .collect()
    }

    /// Waits until `hosts` have all finished the hunt.
    fn wait_finished(
        &self,
        hunt: &str,
        hosts: &[&str],
        agents: &[&Agent],
    ) -> BTreeMap<String, serde_json::Value> {
        let started = Instant::now();
        loop {
            let st = self.status(hunt);
            if hosts.iter().all(|h| {
                st.get(*h).is_some_and(|v| {
                    !matches!(v["state"].as_str(), Some("running" | "not-yet-seen"))
                })
            }) {
                return st;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let logs: Vec<String> = agents.iter().map(|a| a.log()).collect();
                panic!(
                    "hunt {hunt} not finished by {hosts:?}: {st:#?}\nagent logs:\n{}",
                    logs.join("\n---\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A host's tree below `root`: `eicars` EICAR files and `markers` marker
/// files under srv/, and clean files. Returns the expected finding paths.
fn victim(root: &Path, eicars: usize, markers: usize) -> BTreeSet<String> {
    let mut expected = BTreeSet::new();
    let srv = root.join("srv");
    std::fs::create_dir_all(srv.join("deep/er")).unwrap();
    for i in 0..eicars {
        let p = srv.join(format!("deep/eicar-{i}.com"));
        std::fs::write(&p, eicar()).unwrap();
        expected.insert(p.to_str().unwrap().to_string());
    }
    for i in 0..markers {
        let p = srv.join(format!("deep/er/drop-{i}.bin"));
        std::fs::write(&p, format!("junk TAKEDOWN-FLEET-MARKER {i} junk")).unwrap();
        expected.insert(p.to_str().unwrap().to_string());
    }
    for i in 0..5 {
        std::fs::write(srv.join(format!("clean-{i}.txt")), "nothing here").unwrap();
    }
    expected
}

#[test]
fn five_agents_one_killed_one_late_every_finding_once() {
    let f = Fleet::new();
    let bundle = f.bundle("good", Some("key"));
    let hosts = ["h1", "h2", "h3", "h4", "h5"];
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let root = f.t.path(&format!("root-{h}"));
        // h3, the one killed, has many findings so that it dies in the
        // middle of publishing them.
        let (e, m) = if *h == "h3" { (6, 4) } else { (i + 1, 1) };
        expected.insert(h.to_string(), victim(&root, e, m));
        roots.push(root);
    }
    let a1 = f.agent("h1", &roots[0], &[], &[]);
    let a2 = f.agent("h2", &roots[1], &[], &[]);
    // h3 aborts right after the server stored its third finding.
    let mut a3 = f.agent(
        "h3",
        &roots[2],
        &[],
        &[("TAKEDOWN_FLEET_FAULT", "after-finding#3")],
    );
    let a4 = f.agent("h4", &roots[3], &[], &[]);
    // Every agent bound its consumers before the hunt (h5 comes later).
    let started = Instant::now();
    let four = [&a1, &a2, &a3, &a4];
    while !four.iter().all(|a| a.log().contains("listening on")) {
        if started.elapsed() > Duration::from_secs(30) {
            let logs: Vec<String> = four.iter().map(|a| a.log()).collect();
            panic!("agents did not start:\n{}", logs.join("\n---\n"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let hunt = f.hunt(&bundle, &["--to", "os=linux", "/srv"]);

    // h3 dies mid-hunt; then it comes back.
    let died = Instant::now();
    let status = loop {
        if let Some(s) = a3.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            died.elapsed() < Duration::from_secs(30),
            "h3 did not reach its fault point: {}",
            a3.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "h3 was to be killed: {}", a3.log());
    assert!(
        a3.log().contains("fault point after-finding"),
        "{}",
        a3.log()
    );
    let a3 = f.agent("h3", &roots[2], &[], &[]);
    // h5 starts only now, after the hunt was issued.
    let a5 = f.agent("h5", &roots[4], &[], &[]);

    let st = f.wait_finished(&hunt, &hosts, &[&a1, &a2, &a3, &a4, &a5]);
    assert_eq!(st.len(), 5, "{st:#?}");
    for h in hosts {
        let s = &st[h];
        assert_eq!(s["state"], "done", "{h}: {s:#}");
        assert_eq!(
            s["completions"], 1,
            "{h}: exactly one completion stored: {s:#}"
        );
        let c = &s["completion"];
        assert_eq!(c["exit_code"], 1, "{h}: the scan found something: {c:#}");
        assert_eq!(c["summary"]["host"], h);
        let n = expected[h].len() as u64;
        assert_eq!(
            c["findings"].as_u64().unwrap() + c["duplicates"].as_u64().unwrap(),
            n,
            "{h}: {c:#}"
        );
        assert!(c["bundle"]["key_id"].is_string(), "{c:#}");
    }
    // The killed host's hunt was delivered again, and its second run found
    // at least the three findings stored before the kill already there.
    let c3 = &st["h3"]["completion"];
    assert!(c3["delivery"].as_i64().unwrap() >= 2, "{c3:#}");
    assert!(c3["duplicates"].as_u64().unwrap() >= 3, "{c3:#}");
    for h in ["h1", "h2", "h4", "h5"] {
        assert_eq!(st[h]["completion"]["delivery"], 1, "{h}");
    }

    let text = f.fleet(&["status", &hunt]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert!(
        stdout(&text).contains("5 hosts: 5 done"),
        "{}",
        stdout(&text)
    );

    // Every finding once, on the right host.
    let out = f.fleet(&["results", &hunt, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("dropped"), "{}", stderr(&out));
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut pending: Vec<String> = Vec::new();
    for line in stdout(&out).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str() {
            Some("finding") => pending.push(v["path"].as_str().unwrap().to_string()),
            Some("summary") => {
                let host = v["host"].as_str().unwrap().to_string();
                assert!(got.insert(host, std::mem::take(&mut pending)).is_none());
            }
            other => panic!("unexpected record {other:?}"),
        }
    }
    assert!(pending.is_empty());
    // Every line is a record of the finding model.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/finding.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for line in stdout(&out).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}: {errors:?}");
    }
    for h in hosts {
        let paths = &got[h];
        let unique: BTreeSet<String> = paths.iter().cloned().collect();
        assert_eq!(unique.len(), paths.len(), "{h}: duplicates in {paths:?}");
        assert_eq!(unique, expected[h], "{h}");
    }

    // The text and STIX sinks read the same results.
    let text = f.fleet(&["results", &hunt]);
    let text_out = stdout(&text);
    assert!(
        text_out.contains("h3: ") && text_out.contains("Fleet_Marker FOUND"),
        "{text_out}"
    );
    let stix = f.fleet(&["results", &hunt, "--format", "stix"]);
    assert_eq!(stix.status.code(), Some(1), "{}", stderr(&stix));
    let bundle_json: serde_json::Value = serde_json::from_slice(&stix.stdout).unwrap();
    assert_eq!(bundle_json["type"], "bundle");
}

#[test]
fn unsigned_tampered_and_untrusted_bundles_are_refused_by_every_agent() {
    let f = Fleet::new();
    let hosts = ["r1", "r2", "r3"];
    let mut agents = Vec::new();
    for h in hosts {
        let root = f.t.path(&format!("root-{h}"));
        victim(&root, 1, 1);
        agents.push(f.agent(h, &root, &[], &[]));
    }
    let unsigned = f.bundle("unsigned", None);
    // A signed bundle with one byte of its rule changed after signing.
    let good = f.bundle("tampered", Some("key"));
    let mut bytes = std::fs::read(&good).unwrap();
    let pos = bytes
        .windows(8)
        .rposition(|w| w == b"TAKEDOWN")
        .expect("the rule is in the bundle");
    bytes[pos] = b'X';
    let tampered = f.t.write("tampered-after.tdsb", &bytes);
    // Signed, but by a key the agents do not trust.
    let out = f.t.run(&["sigs", "keygen", "-o", &f.t.arg("stranger")]);
    assert!(out.status.success());
    let untrusted = f.bundle("untrusted", Some("stranger"));

    let refs: Vec<&Agent> = agents.iter().collect();
    for (bundle, why) in [
        (&unsigned, "not signed"),
        (&tampered, "altered"),
        (&untrusted, "not trusted"),
    ] {
        let hunt = f.hunt(bundle, &["/srv"]);
        let st = f.wait_finished(&hunt, &hosts, &refs);
        for h in hosts {
            let s = &st[h];
            assert_eq!(s["state"], "refused", "{h}: {s:#}");
            let reason = s["completion"]["reason"].as_str().unwrap();
            assert!(
                reason.contains("bundle refused") && reason.contains(why),
                "{h}: {reason}"
            );
            assert_eq!(s["completion"]["findings"], 0);
            assert!(s["completion"]["summary"].is_null());
        }
        let out = f.fleet(&["results", &hunt, "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), "", "nothing ran");
    }
}

#[test]
fn expired_hunts_are_not_run_and_no_actions_agents_only_report() {
    let f = Fleet::new();
    let bundle = f.bundle("good", Some("key"));
    let quiet_root = f.t.path("root-quiet");
    let acting_root = f.t.path("root-acting");
    let late_root = f.t.path("root-late");
    victim(&quiet_root, 1, 1);
    victim(&acting_root, 1, 1);
    victim(&late_root, 1, 1);

    // Issued for one second, received later.
    let expired = f.hunt(&bundle, &["--to", "late", "--expires", "1s", "/srv"]);
    std::thread::sleep(Duration::from_millis(2100));
    let late = f.agent("late", &late_root, &["--no-actions"], &[]);
    let st = f.wait_finished(&expired, &["late"], &[&late]);
    assert_eq!(st["late"]["state"], "expired", "{:#}", st["late"]);
    assert!(st["late"]["completion"]["exit_code"].is_null());

    // Quarantine needs --yes at the analyst's.
    let out = f.fleet(&[
        "hunt",
        "--bundle",
        bundle.to_str().unwrap(),
        "--action",
        "quarantine",
        "/srv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));

    let quiet = f.agent("quiet", &quiet_root, &["--no-actions"], &[]);
    let acting = f.agent("acting", &acting_root, &[], &[]);
    let hunt = f.hunt(
        &bundle,
        &[
            "--to",
            "os=linux",
            "--action",
            "quarantine",
            "--yes",
            "/srv",
        ],
    );
    let st = f.wait_finished(
        &hunt,
        &["quiet", "acting", "late"],
        &[&quiet, &acting, &late],
    );
    for h in ["quiet", "acting", "late"] {
        assert_eq!(st[h]["state"], "done", "{h}: {:#}", st[h]);
    }
    let reason = st["quiet"]["completion"]["reason"].as_str().unwrap();
    assert!(reason.contains("--no-actions"), "{reason}");
    assert!(
        quiet_root.join("srv/deep/eicar-0.com").exists(),
        "--no-actions left it"
    );
    assert!(
        !acting_root.join("srv/deep/eicar-0.com").exists(),
        "quarantined"
    );
    assert_eq!(st["acting"]["completion"]["summary"]["quarantined"], 2);
}

/// The permissions of one agent, as docs/fleet.md gives them: its own
/// result subjects, its own consumers on its own hunt subjects, reading
/// bundles.
fn agent_user(host: &str, labels: &[(&str, &str)]) -> String {
    let mut allow = vec![
        format!("takedown.found.*.{host}"),
        format!("takedown.state.*.{host}.*"),
        format!("takedown.agent.{host}"),
        "$JS.API.INFO".into(),
        "$JS.API.STREAM.INFO.TAKEDOWN_HUNTS".into(),
        "$JS.API.STREAM.INFO.TAKEDOWN_RESULTS".into(),
        "$JS.API.STREAM.INFO.TAKEDOWN_AGENTS".into(),
        "$JS.API.STREAM.INFO.OBJ_takedown-bundles".into(),
        "$JS.API.CONSUMER.CREATE.OBJ_takedown-bundles".into(),
        "$JS.API.CONSUMER.CREATE.OBJ_takedown-bundles.>".into(),
        "$JS.API.CONSUMER.DELETE.OBJ_takedown-bundles.>".into(),
        "$JS.API.STREAM.MSG.GET.OBJ_takedown-bundles".into(),
        "$JS.API.DIRECT.GET.OBJ_takedown-bundles.>".into(),
        "$JS.FC.OBJ_takedown-bundles.>".into(),
        format!("$JS.API.DIRECT.GET.TAKEDOWN_RESULTS.takedown.state.*.{host}.done"),
    ];
    // Each consumer by its name: a wildcard matches whole tokens only,
    // and `*` there would let an agent pull another's hunts.
    let mut subjects = vec![
        ("all".to_string(), "takedown.hunt.all".to_string()),
        (format!("host={host}"), format!("takedown.hunt.host.{host}")),
    ];
    for (k, v) in labels {
        subjects.push((
            format!("label={k}={v}"),
            format!("takedown.hunt.label.{k}.{v}"),
        ));
    }
    for (name, subject) in subjects {
        let c = format!("agent={host}={name}");
        allow.push(format!(
            "$JS.API.CONSUMER.CREATE.TAKEDOWN_HUNTS.{c}.{subject}"
        ));
        allow.push(format!("$JS.API.CONSUMER.INFO.TAKEDOWN_HUNTS.{c}"));
        allow.push(format!("$JS.API.CONSUMER.MSG.NEXT.TAKEDOWN_HUNTS.{c}"));
        allow.push(format!("$JS.ACK.TAKEDOWN_HUNTS.{c}.>"));
    }
    let quoted: Vec<String> = allow.iter().map(|a| format!("\"{a}\"")).collect();
    // Its own inbox prefix only: what the server sends it (hunts, bundle
    // chunks, acknowledgements) no other user may subscribe to.
    format!(
        "{{ user: {host}, password: \"{host}-pw\", permissions: {{ publish = {{ allow = [{}] }}, subscribe = [\"_INBOX_{host}.>\"] }} }}",
        quoted.join(", ")
    )
}

/// docs/fleet.md's server authorization: the analyst and one agent per
/// host, each labelled os=linux.
fn authorization(hosts: &[&str]) -> String {
    let agents: Vec<String> = hosts
        .iter()
        .map(|h| agent_user(h, &[("os", "linux")]))
        .collect();
    format!(
        "authorization {{\n  ANALYST = {{ publish = [\"takedown.hunt.>\", \"takedown.issued.*\", \"$JS.API.>\", \"$O.takedown-bundles.>\"], subscribe = [\"_INBOX_analyst.>\"] }}\n  users = [\n    {{ user: analyst, password: \"analyst-pw\", permissions: $ANALYST }}\n    {}\n  ]\n}}",
        agents.join("\n    ")
    )
}

#[test]
fn agents_with_their_own_permissions_run_hunts_and_cannot_speak_for_others() {
    let f = Fleet::with(Nats::start_with(Some(&authorization(&["p1", "p2"]))));
    let bundle = f.bundle("good", Some("key"));
    let r1 = f.t.path("root-p1");
    let r2 = f.t.path("root-p2");
    let e1 = victim(&r1, 1, 1);
    let e2 = victim(&r2, 2, 1);
    // The analyst creates the streams; agents may not.
    let hunt = f.hunt(&bundle, &["--to", "os=linux", "/srv"]);

    // p1 tries to speak for p2: a finding and, before p2 has run, a
    // completion that would have taken the place of p2's own. A finding
    // on its own subject, alike in all but the host, is the control.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use takedown_fleet::async_nats;
        let js = takedown_fleet::conn::connect_with_inbox(
            &takedown_fleet::conn::ConnectConfig {
                url: f.nats.url_for("p1"),
                name: "forger".into(),
                ..Default::default()
            },
            Some(&takedown_fleet::conn::agent_inbox_prefix("p1")),
        )
        .await
        .unwrap();
        let forged = |host: &str| {
            serde_json::json!({"type": "finding", "version": 1, "path": format!("/forged/{host}"), "chain": [], "detections": [], "problems": []})
                .to_string()
        };
        let client = js.client();
        for (subject, id, body) in [
            (format!("takedown.found.{hunt}.p2"), format!("f:{hunt}:p2:forged:0"), forged("p2")),
            (
                format!("takedown.state.{hunt}.p2.done"),
                format!("done:{hunt}:p2"),
                serde_json::json!({"type": "completion"}).to_string(),
            ),
        ] {
            let mut h = async_nats::HeaderMap::new();
            h.insert("Nats-Msg-Id", id.as_str());
            client.publish_with_headers(subject, h, body.into()).await.unwrap();
        }
        client.flush().await.unwrap();
        let ack = js
            .send_publish(
                format!("takedown.found.{hunt}.p1"),
                async_nats::jetstream::message::PublishMessage::build()
                    .message_id(format!("f:{hunt}:p1:forged:0"))
                    .payload(forged("p1").into()),
            )
            .await
            .unwrap()
            .await;
        assert!(ack.is_ok(), "the control is stored: {ack:?}");

        // p1 on its own subjects (which it may publish on) with the
        // message ids p2 would have used if they could be guessed: its
        // completion and each of its findings. JetStream drops duplicates
        // by id per stream, whatever the subject, so these would have
        // made the server drop p2's real records.
        let mut guessed = vec![(
            format!("takedown.state.{hunt}.p1.done"),
            format!("done:{hunt}:p2"),
        )];
        for path in &e2 {
            let identity = takedown_fleet::ids::finding_identity(
                &serde_json::json!({"type": "finding", "path": path, "chain": []}),
            );
            guessed.push((
                format!("takedown.found.{hunt}.p1"),
                format!("f:{hunt}:p2:{identity}:0"),
            ));
        }
        for (subject, id) in guessed {
            let ack = js
                .send_publish(
                    subject,
                    async_nats::jetstream::message::PublishMessage::build()
                        .message_id(id.clone())
                        .payload("{}".into()),
                )
                .await
                .unwrap()
                .await;
            assert!(ack.is_ok(), "{id} is on p1's own subject: {ack:?}");
        }
    });

    let a1 = f.agent("p1", &r1, &[], &[]);
    let a2 = f.agent("p2", &r2, &[], &[]);
    let st = f.wait_finished(&hunt, &["p1", "p2"], &[&a1, &a2]);
    for (h, n) in [("p1", e1.len()), ("p2", e2.len())] {
        assert_eq!(st[h]["state"], "done", "{h}: {:#}", st[h]);
        assert_eq!(st[h]["completions"], 1, "{h}: {:#}", st[h]);
        assert_eq!(
            st[h]["completion"]["findings"], n as u64,
            "{h}: {:#}",
            st[h]
        );
    }
    let out = f.fleet(&["results", &hunt, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let paths: BTreeSet<String> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "finding")
        .map(|v| v["path"].as_str().unwrap().to_string())
        .collect();
    let mut expected: BTreeSet<String> = e1.union(&e2).cloned().collect();
    expected.insert("/forged/p1".into());
    assert_eq!(paths, expected);

    // An agent cannot issue hunts.
    let mut c = f.t.cmd();
    c.args(["fleet", "hunt", "--nats", &f.nats.url_for("p1"), "--bundle"])
        .arg(&bundle)
        .args(["--to", "p2", "/etc"]);
    let out = run_with_timeout(c, 60);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// A rogue client speaking the NATS text protocol (as `nats sub` would)
/// with `user`'s credentials: subscribes to `subjects` and collects every
/// line the server sends until `stop` is set.
fn snoop(
    port: u16,
    user: &str,
    subjects: &[&str],
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<String>> {
    use std::io::{BufRead, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut hello = format!(
        "CONNECT {{\"user\":\"{user}\",\"pass\":\"{user}-pw\",\"verbose\":false,\"pedantic\":false}}\r\n"
    );
    for (i, s) in subjects.iter().enumerate() {
        hello.push_str(&format!("SUB {s} {}\r\n", i + 1));
    }
    hello.push_str("PING\r\n");
    stream.write_all(hello.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.starts_with("PING") {
                        let _ = stream.write_all(b"PONG\r\n");
                    }
                    lines.push(line.trim_end().to_string());
                }
                Err(_) => {}
            }
        }
        lines
    })
}

#[test]
fn an_agent_cannot_read_what_the_server_sends_another_host_or_the_analyst() {
    let f = Fleet::with(Nats::start_with(Some(&authorization(&["web1", "web2"]))));
    let bundle = f.bundle("good", Some("key"));
    let r1 = f.t.path("root-web1");
    let r2 = f.t.path("root-web2");
    let e1 = victim(&r1, 1, 1);
    let e2 = victim(&r2, 2, 1);
    // web1's credentials in a rogue client, listening where web2's hunts,
    // bundle chunks and acknowledgements, and the analyst's results, come
    // back (and on NATS's default inbox prefix).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spy = snoop(
        f.nats.port,
        "web1",
        &["_INBOX_web2.>", "_INBOX_analyst.>", "_INBOX.>"],
        stop.clone(),
    );
    let hunt = f.hunt(&bundle, &["--to", "os=linux", "/srv"]);
    let a1 = f.agent("web1", &r1, &[], &[]);
    let a2 = f.agent("web2", &r2, &[], &[]);
    let st = f.wait_finished(&hunt, &["web1", "web2"], &[&a1, &a2]);
    for (h, n) in [("web1", e1.len()), ("web2", e2.len())] {
        assert_eq!(st[h]["state"], "done", "{h}: {:#}", st[h]);
        assert_eq!(st[h]["completion"]["findings"], n as u64, "{h}");
    }
    let out = f.fleet(&["results", &hunt, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let lines = spy.join().unwrap();
    assert!(
        !lines.iter().any(|l| l.starts_with("MSG")),
        "the rogue client received messages: {lines:#?}"
    );
    for s in ["_INBOX_web2.>", "_INBOX_analyst.>", "_INBOX.>"] {
        assert!(
            lines.iter().any(|l| l.starts_with("-ERR")
                && l.contains("Permissions Violation for Subscription")
                && l.contains(&format!("\"{s}\""))),
            "no permissions violation for {s}: {lines:#?}"
        );
    }
}

#[test]
fn a_kill_at_any_step_costs_time_only_and_an_offline_agent_catches_up() {
    let f = Fleet::new();
    let bundle = f.bundle("good", Some("key"));
    let steps = [
        ("c1", "after-finding#1"),
        ("c2", "before-completion"),
        ("c3", "before-ack"),
    ];
    let mut expected = BTreeMap::new();
    let mut roots = BTreeMap::new();
    for h in ["c1", "c2", "c3", "off"] {
        let root = f.t.path(&format!("root-{h}"));
        expected.insert(h, victim(&root, 2, 2));
        roots.insert(h, root);
    }
    let mut doomed: Vec<(&str, Agent)> = steps
        .iter()
        .map(|(h, step)| {
            (
                *h,
                f.agent(h, &roots[h], &[], &[("TAKEDOWN_FLEET_FAULT", step)]),
            )
        })
        .collect();
    // A laptop that announced itself, then went offline.
    let off = f.agent("off", &roots["off"], &[], &[]);
    let started = Instant::now();
    while !(off.log().contains("listening on")
        && doomed.iter().all(|(_, a)| a.log().contains("listening on")))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "agents did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(off);
    let hunt = f.hunt(&bundle, &["/srv"]);
    let st = f.status(&hunt);
    assert_eq!(st["off"]["state"], "not-yet-seen", "{:#}", st["off"]);

    // Each doomed agent dies at its step, then comes back.
    let mut back = Vec::new();
    for (h, a) in doomed.iter_mut() {
        let t = Instant::now();
        while a.child.try_wait().unwrap().is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{h} did not die: {}",
                a.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(a.log().contains("fault point"), "{h}: {}", a.log());
        back.push(f.agent(h, &roots[h], &[], &[]));
    }
    let off = f.agent("off", &roots["off"], &[], &[]);
    let mut all: Vec<&Agent> = back.iter().collect();
    all.push(&off);
    let st = f.wait_finished(&hunt, &["c1", "c2", "c3", "off"], &all);
    for h in ["c1", "c2", "c3", "off"] {
        let s = &st[h];
        assert_eq!(s["state"], "done", "{h}: {s:#}");
        assert_eq!(s["completions"], 1, "{h}: {s:#}");
        let c = &s["completion"];
        let n = expected[h].len() as u64;
        assert_eq!(
            c["findings"].as_u64().unwrap() + c["duplicates"].as_u64().unwrap(),
            n,
            "{h}: {c:#}"
        );
    }
    // Killed before its completion: the second delivery completed it.
    for h in ["c1", "c2"] {
        assert!(
            st[h]["completion"]["delivery"].as_i64().unwrap() >= 2,
            "{h}"
        );
    }
    // Killed after its completion was stored, before the ack: delivered
    // again, and the second completion was a duplicate of the first.
    assert_eq!(st["c3"]["completion"]["delivery"], 1);
    let t = Instant::now();
    while !back[2].log().contains("already recorded") {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "c3 was not delivered again: {}",
            back[2].log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = f.fleet(&["results", &hunt, "--format", "json"]);
    let mut by_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut pending = Vec::new();
    for line in stdout(&out).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "finding" {
            pending.push(v["path"].as_str().unwrap().to_string());
        } else {
            by_host.insert(
                v["host"].as_str().unwrap().into(),
                std::mem::take(&mut pending),
            );
        }
    }
    assert_eq!(by_host.len(), 4, "{by_host:?}");
    for (h, paths) in by_host {
        let unique: BTreeSet<String> = paths.iter().cloned().collect();
        assert_eq!(unique.len(), paths.len(), "{h}: {paths:?}");
        assert_eq!(&unique, &expected[h.as_str()], "{h}");
    }
}

/// Serves `files` (URL path -> content) over HTTP on loopback, one
/// request per connection, until the test ends.
fn serve_http(files: BTreeMap<String, Vec<u8>>) -> String {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut reader = std::io::BufReader::new(&stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut out = &stream;
            let _ = match files.get(&path) {
                Some(body) => out
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| out.write_all(body)),
                None => out.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    format!("http://{addr}")
}

#[test]
fn bundles_from_a_url_run_and_a_swapped_one_is_refused_by_its_hash() {
    let f = Fleet::new();
    let good = f.bundle("good", Some("key"));
    // Not the file the hunt names: one of the same size (a byte of the
    // rule changed), and a larger one signed by the same trusted key.
    let mut swapped = std::fs::read(&good).unwrap();
    let last = swapped.len() - 2;
    swapped[last] ^= 0x20;
    f.t.write(
        "src-other/more.yar",
        "rule Fleet_More { strings: $m = \"TAKEDOWN-FLEET-MORE\" condition: $m }\n",
    );
    let other = f.bundle("other", Some("key"));
    let base = serve_http(BTreeMap::from([
        ("/good.tdsb".to_string(), std::fs::read(&good).unwrap()),
        ("/swapped.tdsb".to_string(), swapped),
        ("/larger.tdsb".to_string(), std::fs::read(&other).unwrap()),
    ]));
    let root = f.t.path("root-u1");
    let expected = victim(&root, 1, 2);
    let agent = f.agent("u1", &root, &[], &[]);

    let url = format!("{base}/good.tdsb");
    let hunt = f.hunt(&good, &["--bundle-url", &url, "/srv"]);
    let st = f.wait_finished(&hunt, &["u1"], &[&agent]);
    assert_eq!(st["u1"]["state"], "done", "{:#}", st["u1"]);
    assert_eq!(st["u1"]["completion"]["findings"], expected.len() as u64);

    for (name, why) in [("swapped", "SHA-256"), ("larger", "longer than")] {
        let url = format!("{base}/{name}.tdsb");
        let hunt = f.hunt(&good, &["--bundle-url", &url, "/srv"]);
        let st = f.wait_finished(&hunt, &["u1"], &[&agent]);
        assert_eq!(st["u1"]["state"], "refused", "{name}: {:#}", st["u1"]);
        let reason = st["u1"]["completion"]["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{name}: {reason}");
    }
}

#[test]
fn agents_ride_out_a_server_restart() {
    let mut f = Fleet::new();
    let bundle = f.bundle("good", Some("key"));
    let root = f.t.path("root-s1");
    let expected = victim(&root, 1, 1);
    let agent = f.agent("s1", &root, &[], &[]);
    let first = f.hunt(&bundle, &["/srv"]);
    f.wait_finished(&first, &["s1"], &[&agent]);

    // The server goes away and comes back (hunts, consumers and results
    // are on its disk); the agent reconnects and takes the next hunt.
    f.nats.restart();
    let second = f.hunt(&bundle, &["/srv"]);
    let st = f.wait_finished(&second, &["s1"], &[&agent]);
    assert_eq!(st["s1"]["state"], "done", "{:#}", st["s1"]);
    assert_eq!(st["s1"]["completion"]["findings"], expected.len() as u64);
    let st = f.status(&first);
    assert_eq!(
        st["s1"]["state"], "done",
        "the first hunt's results survived"
    );
}

#[test]
fn bad_input_is_refused_before_the_network_is_tried() {
    let t = Tree::new();
    t.write("b.tdsb", "not a bundle");
    let bundle = t.arg("b.tdsb");
    // Nothing listens there: each refusal below comes first.
    let url = "nats://127.0.0.1:9";
    for (args, why) in [
        (
            vec!["hunt", "--bundle", "/nonexistent", "/srv"],
            "cannot read the bundle",
        ),
        (
            vec!["hunt", "--bundle", &bundle, "--to", "a.b", "/srv"],
            "--to",
        ),
        (
            vec!["hunt", "--bundle", &bundle, "relative"],
            "not absolute",
        ),
        (vec!["hunt", "--bundle", &bundle, "/srv/../etc"], "'..'"),
        (
            vec!["hunt", "--bundle", &bundle, "--expires", "3w", "/srv"],
            "--expires",
        ),
        (vec!["status", "x>"], "hunt id"),
        (vec!["results", "a b"], "hunt id"),
    ] {
        let mut c = t.cmd();
        c.arg("fleet").args(&args).args(["--nats", url]);
        let out = run_with_timeout(c, 60);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("connect"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let mut c = t.cmd();
    c.args(["agent", "--nats", url, "--host-id", "a.b"]);
    let out = run_with_timeout(c, 60);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("host id"), "{}", stderr(&out));
}

/// Runs openssl with `args` in `dir`, failing the test if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("openssl is needed for the TLS test (Debian: openssl): {e}"));
    assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
}

#[test]
fn tls_is_used_and_the_servers_certificate_checked() {
    // A CA and a server certificate for 127.0.0.1, made here.
    let certs = tempfile::Builder::new()
        .prefix("takedown-tls")
        .tempdir()
        .unwrap();
    let d = certs.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=takedown test CA",
        ],
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let tls = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
        d.join("server.pem").display(),
        d.join("server.key").display()
    );
    let mut nats = Nats::start_with(Some(&tls));
    nats.scheme = "tls";
    nats.url = nats.url_for("analyst");
    let mut f = Fleet::with(nats);

    // Without the CA the server's certificate is not trusted: no hunt.
    let bundle = f.bundle("good", Some("key"));
    let out = f.fleet(&["hunt", "--bundle", bundle.to_str().unwrap(), "/srv"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));

    f.ca = Some(d.join("ca.pem"));
    let root = f.t.path("root-t1");
    let expected = victim(&root, 1, 1);
    let agent = f.agent("t1", &root, &[], &[]);
    let hunt = f.hunt(&bundle, &["/srv"]);
    let st = f.wait_finished(&hunt, &["t1"], &[&agent]);
    assert_eq!(st["t1"]["state"], "done", "{:#}", st["t1"]);
    assert_eq!(st["t1"]["completion"]["findings"], expected.len() as u64);
}

/// Waits for an agent to end (killed at a fault point).
fn wait_dead(a: &mut Agent, what: &str) {
    let started = Instant::now();
    loop {
        if a.child.try_wait().unwrap().is_some() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: the agent did not die: {}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The findings `fleet results --format json` gives for `host`.
fn finding_paths(f: &Fleet, hunt: &str, host: &str) -> Vec<String> {
    let out = f.fleet(&["results", hunt, "--format", "json"]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&out)
    );
    let mut paths = Vec::new();
    let mut pending = Vec::new();
    for line in stdout(&out).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str() {
            Some("finding") => pending.push(v["path"].as_str().unwrap().to_string()),
            Some("summary") if v["host"] == host => paths.append(&mut pending),
            _ => pending.clear(),
        }
    }
    paths.sort();
    paths
}

#[test]
fn a_quarantine_cut_short_still_reports_every_file_it_moved() {
    let f = Fleet::new();
    let bundle = f.bundle("good", Some("key"));
    let root = f.t.path("root-q");
    let expected = victim(&root, 3, 2);
    // Killed as it reads the first finding of the files it quarantined:
    // they are in the vault, gone from their places, and none is
    // published yet.
    let mut a = f.agent(
        "q1",
        &root,
        &[],
        &[("TAKEDOWN_FLEET_FAULT", "acted-finding-read#1")],
    );
    let hunt = f.hunt(
        &bundle,
        &["--to", "q1", "--action", "quarantine", "--yes", "/srv"],
    );
    wait_dead(&mut a, "q1");
    assert!(
        a.log().contains("fault point acted-finding-read"),
        "{}",
        a.log()
    );
    for p in &expected {
        assert!(
            !Path::new(p).exists(),
            "{p} was quarantined before the kill"
        );
    }
    let a = f.agent("q1", &root, &[], &[]);
    let st = f.wait_finished(&hunt, &["q1"], &[&a]);
    let c = &st["q1"]["completion"];
    assert_eq!(st["q1"]["state"], "done", "{c:#}");
    assert!(c["delivery"].as_i64().unwrap() >= 2, "{c:#}");
    assert_eq!(
        c["findings"].as_u64().unwrap() + c["duplicates"].as_u64().unwrap(),
        expected.len() as u64,
        "{c:#}"
    );
    let got = finding_paths(&f, &hunt, "q1");
    let want: Vec<String> = expected.iter().cloned().collect();
    assert_eq!(got, want, "every file moved is reported, once");
    // And they are in the vault, restorable.
    let out = f.t.run(&[
        "quarantine",
        "--vault",
        &f.t.arg("vault-q1"),
        "--format",
        "json",
        "list",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().count(),
        expected.len(),
        "{}",
        stdout(&out)
    );
    // Nothing of the hunt's journal is left once it is acknowledged.
    let state = f.t.path("state-q1");
    let left: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".journal"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A stand-in for the scan (`TAKEDOWN_FLEET_SCAN_EXE`): a shell script.
fn fake_scan(f: &Fleet, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = f.t.write(name, format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_hunt_past_the_agents_time_limit_is_stopped_and_recorded_as_failed() {
    let f = Fleet::new();
    let bundle = f.bundle("good", Some("key"));
    let root = f.t.path("root-slow");
    victim(&root, 1, 0);
    let pidfile = f.t.path("slow.pid");
    let scan = fake_scan(
        &f,
        "hang.sh",
        &format!("echo $$ > {}\nexec sleep 600", pidfile.display()),
    );
    let a = f.agent(
        "slow",
        &root,
        &["--max-hunt-time", "3s"],
        &[("TAKEDOWN_FLEET_SCAN_EXE", scan.as_str())],
    );
    let hunt = f.hunt(&bundle, &["--to", "slow", "/srv"]);
    let st = f.wait_finished(&hunt, &["slow"], &[&a]);
    let c = &st["slow"]["completion"];
    assert_eq!(st["slow"]["state"], "failed", "{c:#}");
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason.contains("timed out") && reason.contains("--max-hunt-time"),
        "{reason}"
    );
    assert_eq!(c["delivery"], 1, "not delivered again: {c:#}");
    // The hanging scan was killed.
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let started = Instant::now();
    while Path::new(&format!("/proc/{}", pid.trim())).exists()
        && std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
            .is_ok_and(|s| !s.contains(") Z "))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the scan still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn oversized_completions_are_cut_and_oversized_lines_counted() {
    let f = Fleet::new();
    let bundle = f.bundle("good", Some("key"));
    let root = f.t.path("root-big");
    victim(&root, 1, 0);
    // What the stand-in scan prints: a finding line over the 4 MiB line
    // limit, a plain finding, and a summary of 1.5 MiB (20,000 signature
    // files), more than a results message may hold.
    let mut out = String::new();
    out.push_str(&format!(
        "{{\"type\":\"finding\",\"path\":\"/{}\"}}\n",
        "x".repeat(5 << 20)
    ));
    out.push_str("{\"type\":\"finding\",\"path\":\"/srv/a\",\"detections\":[{\"name\":\"X\",\"engine\":\"yara\",\"score\":80,\"source\":\"s\"}]}\n");
    let sigs: Vec<String> = (0..20_000)
        .map(|i| format!("{{\"path\":\"/var/lib/takedown/sigs/some/long/dir/rule-{i:06}.yar\",\"kind\":\"yara\",\"entries\":1}}"))
        .collect();
    out.push_str(&format!(
        "{{\"type\":\"summary\",\"version\":1,\"files_scanned\":3,\"signatures\":[{}]}}\n",
        sigs.join(",")
    ));
    assert!(out.len() > (5 << 20) + (1 << 20));
    let lines = f.t.write("big.ndjson", &out);
    let scan = fake_scan(&f, "big.sh", &format!("cat {}\nexit 1", lines.display()));
    let a = f.agent(
        "big",
        &root,
        &[],
        &[("TAKEDOWN_FLEET_SCAN_EXE", scan.as_str())],
    );
    let hunt = f.hunt(&bundle, &["--to", "big", "/srv"]);
    let st = f.wait_finished(&hunt, &["big"], &[&a]);
    let c = &st["big"]["completion"];
    assert_eq!(st["big"]["state"], "done", "{c:#}");
    assert_eq!(c["findings"], 1, "{c:#}");
    assert_eq!(c["dropped"], 1, "the 5 MiB line is counted: {c:#}");
    let kept = c["summary"]["signatures"].as_array().unwrap().len() as u64;
    let left = c["omitted"]["summary.signatures"].as_u64().unwrap();
    assert!(kept > 0 && left > 0, "{kept} {left}");
    assert_eq!(kept + left, 20_000);
    assert_eq!(c["summary"]["files_scanned"], 3);
}

#[test]
fn a_hunt_that_ends_the_agent_every_time_is_given_up_after_max_deliveries() {
    let f = Fleet::new();
    let bundle = f.bundle("good", Some("key"));
    let root = f.t.path("root-poison");
    victim(&root, 1, 0);
    // The scan takes the agent down with it, as a poison file would.
    let scan = fake_scan(&f, "poison.sh", "kill -9 $PPID\nsleep 5");
    let env = [("TAKEDOWN_FLEET_SCAN_EXE", scan.as_str())];
    let args = ["--max-deliveries", "2"];
    let hunt = f.hunt(&bundle, &["--to", "poison", "/srv"]);
    for round in 1..=2 {
        let mut a = f.agent("poison", &root, &args, &env);
        wait_dead(&mut a, &format!("run {round}"));
    }
    let a = f.agent("poison", &root, &args, &env);
    let st = f.wait_finished(&hunt, &["poison"], &[&a]);
    let c = &st["poison"]["completion"];
    assert_eq!(st["poison"]["state"], "failed", "{c:#}");
    assert_eq!(c["delivery"], 3, "{c:#}");
    let reason = c["reason"].as_str().unwrap();
    assert!(reason.contains("delivered 3 times"), "{reason}");
    assert!(
        a.child.id() > 0 && a.log().contains("not run again"),
        "{}",
        a.log()
    );
}

#[test]
fn a_symbolic_link_does_not_lead_a_hunt_outside_the_agents_root() {
    let f = Fleet::new();
    let bundle = f.bundle("good", Some("key"));
    // Outside the agent's root: a tree with an EICAR file.
    let outside = f.t.path("outside");
    victim(&outside, 1, 0);
    let root = f.t.path("root-links");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/eicar.com"), eicar()).unwrap();
    // The examined disk's /srv is a link to a directory of the agent's own
    // machine.
    std::os::unix::fs::symlink(outside.join("srv"), root.join("srv")).unwrap();
    let a = f.agent("linked", &root, &[], &[]);
    let hunt = f.hunt(&bundle, &["--to", "linked", "-L", "/srv/deep", "/data"]);
    let st = f.wait_finished(&hunt, &["linked"], &[&a]);
    let c = &st["linked"]["completion"];
    assert_eq!(st["linked"]["state"], "done", "{c:#}");
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason.contains("/srv/deep") && reason.contains("outside --root"),
        "{reason}"
    );
    assert!(reason.contains("-L ignored"), "{reason}");
    let got = finding_paths(&f, &hunt, "linked");
    assert_eq!(
        got,
        vec![root.join("data/eicar.com").to_str().unwrap().to_string()]
    );
    // Every path outside: refused, nothing scanned.
    let hunt = f.hunt(&bundle, &["--to", "linked", "/srv/deep"]);
    let st = f.wait_finished(&hunt, &["linked"], &[&a]);
    assert_eq!(st["linked"]["state"], "refused", "{:#}", st["linked"]);
    assert!(finding_paths(&f, &hunt, "linked").is_empty());
}
